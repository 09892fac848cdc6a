//! Diurnal arrivals: a non-homogeneous Poisson process with a cosine rate profile, sampled
//! exactly by thinning (Lewis & Shedler).
//!
//! Thinning keeps a candidate when a uniform level falls below the rate at its time. Candidates
//! are decided against bounds on the rate instead (a "squeeze"): a level below the lower bound
//! is below the rate, one at or above the upper bound is not. The bounds come in two steps:
//! first the cosine's range over one of [`PHASE_BUCKETS`] slices of the period, read from a
//! table shared by every stream, which decides all but about one candidate in a hundred; then,
//! for those, a short polynomial, which leaves a few candidates in ten million to the rate's
//! cosine itself. The decisions, and so the arrivals, are exactly those of the rate alone.

use std::sync::LazyLock;

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
    /// `1 / period`, for the approximate phase the squeeze uses.
    inverse_period: f64,
    /// How far the squeeze's bounds stand off the table's and the polynomial's values (see
    /// [`Diurnal::keeps`]).
    margin: f64,
    /// The last candidate's time and its [`since_peak`](Diurnal::since_peak): the next
    /// candidate's phase follows from it by adding the gap, sparing a 64-bit division per
    /// candidate. A start elsewhere (the first call, or after a withdrawal) divides.
    cursor: Option<(SimTime, u64)>,
}

/// How far [`cos_turns_approx`] may be from `cos(2π phase)`: its Taylor remainder is below
/// `(π/2)^13 / 13! ≈ 5.7e-8`; the rest covers rounding, a few ulps.
const COS_APPROX_ERROR: f64 = 1e-7;

/// Slices of the period in the coarse squeeze's table: 256 pairs of bounds, 4 KB. Over a slice
/// the cosine moves by at most `2π / 256 ≈ 0.025`, so a level falls between its bounds for about
/// one candidate in a hundred, and the table stays small enough to be read from cache.
pub(super) const PHASE_BUCKETS: usize = 256;

/// How far the table's bounds stand off the cosine at a slice's ends: a phase computed near
/// an edge may land in the next slice (its rounding is a few ulps of 1, under 1e-15, moving the
/// cosine by less than 1e-14), and the library cosine is within an ulp.
const PHASE_TABLE_SLACK: f64 = 1e-12;

/// `(min, max)` of `cos(2π phase)` over each slice `[b / N, (b + 1) / N]` of the period, padded
/// by [`PHASE_TABLE_SLACK`]. With `N` even, the cosine's turning points (phases 0 and ½) are
/// slice ends, so on each slice it is monotonic and its extremes are at the ends.
static PHASE_TABLE: LazyLock<[(f64, f64); PHASE_BUCKETS]> = LazyLock::new(|| {
    let cos_at = |edge: usize| (std::f64::consts::TAU * edge as f64 / PHASE_BUCKETS as f64).cos();
    std::array::from_fn(|b| {
        let (start, end) = (cos_at(b), cos_at(b + 1));
        (
            start.min(end) - PHASE_TABLE_SLACK,
            start.max(end) + PHASE_TABLE_SLACK,
        )
    })
});

/// Bounds on `cos(2π phase)` for a `phase` in `[0, 1]` computed as `since_peak / period`
/// (to within a few ulps), from [`PHASE_TABLE`].
#[inline]
fn cos_turns_bounds(phase: f64) -> (f64, f64) {
    // A phase rounded up to 1 is the period's end, which the last slice includes.
    let bucket = ((phase * PHASE_BUCKETS as f64) as usize).min(PHASE_BUCKETS - 1);
    PHASE_TABLE[bucket]
}

/// `cos(2π phase)` for `phase` in `[0, 1]`, within [`COS_APPROX_ERROR`]: `−sin(w)` at
/// `w = 2π (min(phase, 1 − phase) − ¼)` in `[−π/2, π/2]`, by its Taylor polynomial to `w^11`.
/// No library call.
#[inline]
fn cos_turns_approx(phase: f64) -> f64 {
    let folded = if phase > 0.5 { 1.0 - phase } else { phase };
    let w = std::f64::consts::TAU * (folded - 0.25);
    let w2 = w * w;
    let series = 1.0
        + w2 * (-1.0 / 6.0
            + w2 * (1.0 / 120.0 + w2 * (-1.0 / 5_040.0 + w2 * (1.0 / 362_880.0 - w2 / 39_916_800.0))));
    -w * series
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
            inverse_period: 1.0 / period.as_nanos() as f64,
            // The polynomial's error, scaled by the amplitude, plus a billionth of the peak: far
            // more than the rounding of the exact rate and of the bounds themselves.
            margin: (peak - trough) / 2.0 * COS_APPROX_ERROR + peak * 1e-9,
            cursor: None,
        })
    }

    /// Nanoseconds from the last peak at or before `t` to `t`, in `[0, period)`.
    pub(super) fn since_peak(&self, t: SimTime) -> u64 {
        let into_period = t.as_nanos() % self.period;
        if into_period >= self.peak_at {
            into_period - self.peak_at
        } else {
            into_period + (self.period - self.peak_at)
        }
    }

    /// The base rate `since_peak` nanoseconds after a peak, per second:
    /// `mean + amplitude × cos(2π since_peak / period)`.
    fn rate_since_peak(&self, since_peak: u64) -> f64 {
        let phase = since_peak as f64 / self.period as f64;
        self.mean + self.amplitude * (std::f64::consts::TAU * phase).cos()
    }

    /// The base rate at `t`, per second: `mean + amplitude × cos(2π (t − peak_at) / period)`.
    #[cfg(test)]
    pub(super) fn rate_at(&self, t: SimTime) -> f64 {
        self.rate_since_peak(self.since_peak(t))
    }

    /// Bounds on the rate at `phase` (of the period, since the peak), from the table.
    #[inline]
    fn coarse_rate_bounds(&self, phase: f64) -> (f64, f64) {
        let (low, high) = cos_turns_bounds(phase);
        (
            self.mean + self.amplitude * low - self.margin,
            self.mean + self.amplitude * high + self.margin,
        )
    }

    /// Bounds on the rate at `phase`, from the polynomial: tighter than the table's.
    #[inline]
    fn rate_bounds(&self, phase: f64) -> (f64, f64) {
        let level = self.mean + self.amplitude * cos_turns_approx(phase);
        (level - self.margin, level + self.margin)
    }

    /// The table's and the polynomial's bounds on the rate at `t`.
    #[cfg(test)]
    pub(super) fn rate_bounds_at(&self, t: SimTime) -> [(f64, f64); 2] {
        let phase = self.since_peak(t) as f64 * self.inverse_period;
        [self.coarse_rate_bounds(phase), self.rate_bounds(phase)]
    }

    /// Whether a candidate `since_peak` nanoseconds after a peak is kept at uniform `level`:
    /// whether `level` is below the rate there, asked of the cheapest bounds that can tell.
    #[inline]
    fn keeps(&self, since_peak: u64, level: f64) -> bool {
        let phase = since_peak as f64 * self.inverse_period;
        let (low, high) = self.coarse_rate_bounds(phase);
        if level < low || level >= high {
            return level < low;
        }
        let (low, high) = self.rate_bounds(phase);
        level < low || (level < high && level < self.rate_since_peak(since_peak))
    }

    /// Thinning: candidates at the peak rate, each kept with probability `rate(t) / peak`.
    pub(super) fn next(&mut self, start: SimTime, rng: &mut StreamRng) -> Option<SimTime> {
        let exp = self.gap.as_ref()?;
        let mut t = start;
        let mut since_peak = match self.cursor {
            Some((at, since_peak)) if at == start => since_peak,
            _ => self.since_peak(start),
        };
        loop {
            let gap = draw(exp, rng)?;
            t = after(t, gap)?;
            since_peak = self.advance(since_peak, gap.as_nanos());
            let level = rng.random::<f64>() * self.peak;
            if self.keeps(since_peak, level) {
                self.cursor = Some((t, since_peak));
                return Some(t);
            }
        }
    }

    /// The phase `gap` nanoseconds after phase `since_peak` (both in `[0, period)`): gaps are
    /// nearly always shorter than a period, so one subtraction replaces the division.
    #[inline]
    pub(super) fn advance(&self, since_peak: u64, gap: u64) -> u64 {
        let remaining = self.period - since_peak;
        if gap < remaining {
            since_peak + gap
        } else {
            (gap - remaining) % self.period
        }
    }
}
