//! Diurnal arrivals: a non-homogeneous Poisson process with a cosine rate profile, sampled
//! exactly by thinning (Lewis & Shedler).

use rand::Rng;
use rand_distr::Exp;

use super::{ArrivalError, after, draw, exponential};
use crate::kernel::{SimDuration, SimTime, StreamRng};
use crate::vocab::units::Rate;

#[derive(Debug, Clone)]
pub(super) struct Diurnal {
    mean: f64,
    amplitude: f64,
    pub(super) peak: f64,
    period: u64,
    /// When the rate peaks, reduced modulo `period`.
    peak_at: u64,
    /// Candidate gaps at the peak rate × factor.
    pub(super) gap: Option<Exp<f64>>,
}

impl Diurnal {
    /// The mean rate per second over whole periods.
    pub(super) fn mean_rate(&self) -> f64 {
        self.mean
    }

    pub(super) fn new(
        peak: Rate,
        trough: Rate,
        period: SimDuration,
        peak_at: SimDuration,
    ) -> Result<Self, ArrivalError> {
        if peak.per_sec() < trough.per_sec() {
            return Err(ArrivalError::PeakBelowTrough { peak, trough });
        }
        if period.is_zero() {
            return Err(ArrivalError::ZeroPeriod);
        }
        let (peak, trough) = (peak.per_sec(), trough.per_sec());
        Ok(Diurnal {
            mean: (peak + trough) / 2.0,
            amplitude: (peak - trough) / 2.0,
            peak,
            period: period.as_nanos(),
            peak_at: peak_at.as_nanos() % period.as_nanos(),
            gap: exponential(peak),
        })
    }

    /// The base rate at `t`, per second: `mean + amplitude × cos(2π (t − peak_at) / period)`.
    pub(super) fn rate_at(&self, t: SimTime) -> f64 {
        let period = u128::from(self.period);
        let since_peak = (u128::from(t.as_nanos()) + period - u128::from(self.peak_at)) % period;
        let phase = since_peak as f64 / self.period as f64;
        self.mean + self.amplitude * (std::f64::consts::TAU * phase).cos()
    }

    /// Thinning: candidates at the peak rate, each kept with probability `rate(t) / peak`.
    pub(super) fn next(&self, start: SimTime, rng: &mut StreamRng) -> Option<SimTime> {
        let exp = self.gap.as_ref()?;
        let mut t = start;
        loop {
            t = after(t, draw(exp, rng)?)?;
            if rng.random::<f64>() * self.peak < self.rate_at(t) {
                return Some(t);
            }
        }
    }
}
