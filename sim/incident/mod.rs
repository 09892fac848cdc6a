//! Incidents: scripted events at given times (a tabletop timeline) and stochastic failure
//! processes. This module owns what a scenario says about them and the random draws; the
//! engine in `world` applies them to the estate and its workloads.
//!
//! ```ron
//! pools: [(site: "fra", accelerator: "H100", reserved: (count: 512, price: "2 USD/h"),
//!          failures: (gpu_mtbf: "50000h", repair: "4h"))],
//! incidents: [
//!     (name: "node-7 dies", start: "3h", kind: gpu_failure(pool: "fra/H100", job: "pretrain")),
//!     (name: "spot reclaim", start: "5h", kind: spot_preemption(pool: "us/H100")),
//! ]
//! ```

use rand::Rng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use crate::kernel::{SimDuration, StreamRng};

/// A scripted incident.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    /// The name used in reports and the decision log.
    pub name: String,
    /// When it happens, from the start of the run.
    pub start: SimDuration,
    /// What happens.
    pub kind: IncidentKind,
}

/// What a scripted incident does.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IncidentKind {
    /// One GPU of a pool fails: a GPU of the named job if it runs there, otherwise a GPU drawn
    /// at random. The job holding it is interrupted; an owned or reserved GPU goes to repair
    /// for the pool's repair time.
    GpuFailure {
        /// The pool.
        pool: String,
        /// The job whose GPU fails, if a particular one.
        #[serde(default)]
        job: Option<String>,
    },
    /// The provider reclaims spot GPUs of a pool with the pool's notice: the named job's, or
    /// every spot holder's.
    SpotPreemption {
        /// The pool.
        pool: String,
        /// The job preempted, if a particular one.
        #[serde(default)]
        job: Option<String>,
    },
}

/// Random failures of a pool's GPUs: each GPU fails independently with exponentially
/// distributed time between failures.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// Mean time between failures of one GPU (e.g. Llama 3: ≈ 16,384 × 3.1 h ≈ 50,000 h).
    pub gpu_mtbf: SimDuration,
    /// How long a failed owned or reserved GPU is out of service; cloud on-demand and spot
    /// GPUs are swapped by the provider at once.
    #[serde(default)]
    pub repair: SimDuration,
}

/// The failure process of one pool.
///
/// The pool's `gpus` GPUs fail as a superposed Poisson process of rate `gpus / mtbf`; each
/// failure hits a GPU drawn uniformly. A hit on a GPU already in repair is void, which thins the
/// process so that every working GPU fails at exactly `1 / mtbf` (the memoryless property makes
/// this exact, not an approximation).
#[derive(Debug, Clone)]
pub struct FailureProcess {
    gap: Exp<f64>,
    gpus: u64,
}

impl FailureProcess {
    /// The process of a pool with `gpus` GPUs; `None` when it cannot fail (no GPUs or an
    /// unusable MTBF).
    pub fn new(spec: &FailureSpec, gpus: u64) -> Option<Self> {
        let mtbf_s = spec.gpu_mtbf.as_secs_f64();
        if gpus == 0 || mtbf_s <= 0.0 {
            return None;
        }
        let gap = Exp::new(gpus as f64 / mtbf_s).ok()?;
        Some(FailureProcess { gap, gpus })
    }

    /// Time to the next failure in the pool.
    pub fn next_gap(&self, rng: &mut StreamRng) -> SimDuration {
        let seconds = self.gap.sample(rng);
        SimDuration::from_nanos((seconds * 1e9).round().min(1e18) as u64)
    }

    /// Which of the pool's GPUs fails, as an index in `0..gpus`.
    pub fn victim(&self, rng: &mut StreamRng) -> u64 {
        rng.random_range(0..self.gpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::RngStreams;

    #[test]
    fn pool_failures_arrive_at_gpus_over_mtbf() {
        let spec = FailureSpec {
            gpu_mtbf: SimDuration::from_hours(1_000),
            repair: SimDuration::ZERO,
        };
        let process = FailureProcess::new(&spec, 100).expect("a pool that can fail");
        let mut rng = RngStreams::new(7).stream("failures");
        let n = 20_000u32;
        let mean_h = (0..n)
            .map(|_| process.next_gap(&mut rng).as_secs_f64() / 3_600.0)
            .sum::<f64>()
            / f64::from(n);
        // Exponential: standard error of the mean is mean/√n; 4 standard errors.
        let expected = 10.0;
        assert!(
            (mean_h - expected).abs() < 4.0 * expected / f64::from(n).sqrt(),
            "{mean_h}"
        );
        assert!(FailureProcess::new(&spec, 0).is_none());
    }
}
