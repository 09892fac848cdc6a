//! Jobs: training, fine-tuning and batch work that holds a gang of GPUs in one pool until its
//! work is done. This module owns what a scenario says about jobs ([`JobSpec`]), the synthetic
//! and trace-driven sources of many jobs, and the resolved description of one job
//! ([`JobDef`]) that the engine in `world::jobs` runs.
//!
//! Work is measured in *reference GPU-hours*: the gang's runtime on the reference accelerator
//! (speed 1.0) times its GPU count. On an accelerator with speed `s` for the job's class the
//! same work takes `1/s` as long.
//!
//! ```ron
//! jobs: [
//!     // one job
//!     (name: "pretrain", class: training, gpus: 512, work: 120000,
//!      checkpoint: (interval: "1h", write: "2m", restore: "10m")),
//!     // a Poisson stream of fine-tuning jobs, named "ft-1", "ft-2", …
//!     (name: "ft", class: fine_tuning,
//!      arrivals: poisson(rate: "3/h", gpus: [(8, 0.7), (16, 0.3)],
//!                        duration: lognormal(median: "2h", sigma: 0.8))),
//!     // jobs replayed from Alibaba's GPU pod list
//!     (name: "pod", class: batch_inference, arrivals: trace(path: "openb_pod_list_default.csv")),
//! ]
//! ```

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use super::trace::{JobTraceSpec, TraceJob};
use crate::kernel::{SimDuration, SimTime, StreamRng};
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{AcceleratorId, DatasetId, SiteId};
use crate::vocab::units::{Bandwidth, DataSize, Rate};

/// Nanoseconds in an hour, for converting GPU-hours.
pub const NANOS_PER_HOUR: f64 = 3.6e12;

/// Most jobs one run may create (memory grows with every job: it keeps a row for `jobs.csv`).
pub const MAX_JOBS: usize = 1_000_000;

/// One job, or a source of many, as written in a scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The job's name; a source's jobs are named `"<name>-1"`, `"<name>-2"`, ….
    pub name: String,
    /// Training, fine-tuning, batch inference, embedding or evaluation.
    pub class: WorkloadClass,
    /// GPUs in the gang (one job; sources give their own).
    #[serde(default)]
    pub gpus: Option<u32>,
    /// Work in reference GPU-hours (one job; sources give their own).
    #[serde(default)]
    pub work: Option<f64>,
    /// A source of many jobs instead of one: a Poisson stream or a trace.
    #[serde(default)]
    pub arrivals: Option<JobArrivals>,
    /// When the job is submitted (one job), or when the source starts.
    #[serde(default)]
    pub submit: SimDuration,
    /// Accelerators the job accepts; empty means any.
    #[serde(default)]
    pub accelerators: Vec<String>,
    /// Higher runs first when jobs wait for the same GPUs.
    #[serde(default)]
    pub priority: i32,
    /// Whether the job may run on spot capacity and be preempted.
    #[serde(default)]
    pub preemptible: bool,
    /// Time after submission by which the job should be done.
    #[serde(default)]
    pub deadline: Option<SimDuration>,
    /// The dataset it reads; it is staged to the job's site unless it is there already.
    #[serde(default)]
    pub dataset: Option<String>,
    /// How the job saves its progress.
    #[serde(default)]
    pub checkpoint: Option<CheckpointSpec>,
    /// Capacity tiers the job may use, in order of preference; empty means reserved, owned,
    /// on-demand, and spot if preemptible.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// The job gives up (fails) after this many interruptions.
    #[serde(default)]
    pub max_interruptions: Option<u32>,
}

/// How a job saves its progress. A checkpoint is written every `interval` of compute and once
/// more when the work is done (the final model); the job computes nothing while it writes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// Compute time between checkpoints.
    pub interval: SimDuration,
    /// Time to write one checkpoint; or give `size` and `write_bandwidth`.
    #[serde(default)]
    pub write: Option<SimDuration>,
    /// Size of one checkpoint: a replica or a restart at another site moves this many bytes
    /// over the network (needed for `replicate_to`; without it a restart elsewhere fetches the
    /// checkpoint instantly).
    #[serde(default)]
    pub size: Option<DataSize>,
    /// Speed of writing a checkpoint to storage at the job's site.
    #[serde(default)]
    pub write_bandwidth: Option<Bandwidth>,
    /// Time to restart after an interruption (load the checkpoint, rebuild state).
    #[serde(default)]
    pub restore: SimDuration,
    /// A site each durable checkpoint is copied to, so the job can restart there if its own
    /// site is lost.
    #[serde(default)]
    pub replicate_to: Option<String>,
    /// What to do when every copy of the last checkpoint is at a site that is down.
    #[serde(default)]
    pub if_unavailable: CheckpointUnavailable,
}

/// What a job does when its checkpoints are out of reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointUnavailable {
    /// Wait until a site holding a copy is back.
    #[default]
    Wait,
    /// Start again from zero elsewhere.
    Restart,
}

/// A source of many jobs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum JobArrivals {
    /// Jobs arrive as a Poisson process with random sizes and durations.
    Poisson {
        /// Mean arrival rate, e.g. "3/h".
        rate: Rate,
        /// GPU counts with their weights, e.g. `[(8, 0.7), (16, 0.3)]`.
        gpus: Vec<(u32, f64)>,
        /// Runtime on the reference accelerator.
        duration: DurationDist,
        /// Stop after this many jobs.
        #[serde(default)]
        count: Option<u64>,
    },
    /// Jobs replayed from a trace file (Alibaba GPU pod list or a CSV with a column mapping).
    Trace(JobTraceSpec),
}

/// A distribution of job durations.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DurationDist {
    /// Always this long.
    Fixed(SimDuration),
    /// Exponential with this mean.
    Exponential {
        /// Mean duration.
        mean: SimDuration,
    },
    /// Log-normal: the median and the standard deviation of the log.
    Lognormal {
        /// Median duration.
        median: SimDuration,
        /// Standard deviation of ln(duration).
        sigma: f64,
    },
    /// Uniform between two durations.
    Uniform {
        /// Shortest.
        min: SimDuration,
        /// Longest.
        max: SimDuration,
    },
}

impl DurationDist {
    /// Draws a duration in nanoseconds (at least 1).
    pub fn draw(&self, rng: &mut StreamRng) -> u64 {
        let ns = match *self {
            DurationDist::Fixed(d) => d.as_nanos() as f64,
            DurationDist::Exponential { mean } => {
                Exp::new(1.0).map_or(0.0, |e| e.sample(rng)) * mean.as_nanos() as f64
            }
            DurationDist::Lognormal { median, sigma } => {
                LogNormal::new((median.as_nanos() as f64).ln(), sigma).map_or(0.0, |d| d.sample(rng))
            }
            DurationDist::Uniform { min, max } => {
                let (lo, hi) = (min.as_nanos(), max.as_nanos().max(min.as_nanos()));
                return rng.random_range(lo..=hi).max(1);
            }
        };
        // Bounded well below u64::MAX: durations are capped by the scenario's horizon checks.
        (ns.round().clamp(1.0, 1e18)) as u64
    }

    /// Checks the parameters; `None` when they are usable.
    pub fn problem(&self) -> Option<String> {
        match *self {
            DurationDist::Fixed(d)
            | DurationDist::Exponential { mean: d }
            | DurationDist::Lognormal { median: d, .. }
                if d.is_zero() =>
            {
                Some("a job duration must be positive".into())
            }
            DurationDist::Lognormal { sigma, .. } if !(sigma.is_finite() && (0.0..=5.0).contains(&sigma)) => {
                Some(format!("sigma {sigma} must be between 0 and 5"))
            }
            DurationDist::Uniform { min, max } if min.is_zero() || max < min => {
                Some("a uniform duration needs 0 < min ≤ max".into())
            }
            _ => None,
        }
    }
}

/// A job's checkpointing, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpointing {
    /// Compute time between checkpoints, in ns.
    pub interval_ns: u64,
    /// Time to write one, in ns.
    pub write_ns: u64,
    /// Size in bytes (0 when only a write time was given).
    pub size_bytes: u64,
    /// Time to restart after an interruption, in ns.
    pub restore_ns: u64,
    /// Where each checkpoint is copied.
    pub replicate_to: Option<SiteId>,
    /// What to do when no copy is reachable.
    pub if_unavailable: CheckpointUnavailable,
}

impl Checkpointing {
    /// Resolves a checked spec; `replicate_to` is already a site id.
    pub fn new(spec: &CheckpointSpec, replicate_to: Option<SiteId>) -> Self {
        let size_bytes = spec.size.map_or(0, DataSize::bytes);
        let write_ns = match (spec.write, spec.write_bandwidth) {
            (Some(write), _) => write.as_nanos(),
            (None, Some(bandwidth)) => {
                (size_bytes as f64 * 8.0 / bandwidth.bits_per_sec() * 1e9).ceil() as u64
            }
            (None, None) => 0,
        };
        Checkpointing {
            interval_ns: spec.interval.as_nanos().max(1),
            write_ns,
            size_bytes,
            restore_ns: spec.restore.as_nanos(),
            replicate_to,
            if_unavailable: spec.if_unavailable,
        }
    }
}

/// One job, resolved against the estate, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDef {
    /// Its name.
    pub name: String,
    /// Its class.
    pub class: WorkloadClass,
    /// GPUs in the gang.
    pub gpus: u32,
    /// Accepted accelerators; empty = any.
    pub accelerators: Vec<AcceleratorId>,
    /// The gang's runtime on the reference accelerator, in ns.
    pub work_ns: u64,
    /// When it is submitted.
    pub submit: SimTime,
    /// Higher goes first.
    pub priority: i32,
    /// May run on spot and be preempted.
    pub preemptible: bool,
    /// When it should be done by.
    pub deadline: Option<SimTime>,
    /// The dataset it reads.
    pub dataset: Option<DatasetId>,
    /// How it checkpoints.
    pub checkpoint: Option<Checkpointing>,
    /// Allowed tiers in order of preference.
    pub tiers: Vec<Tier>,
    /// Gives up after this many interruptions.
    pub max_interruptions: Option<u32>,
}

impl JobDef {
    /// Work in reference GPU-hours.
    pub fn work_gpu_hours(&self) -> f64 {
        self.work_ns as f64 * f64::from(self.gpus) / NANOS_PER_HOUR
    }
}

/// The default tier preference: fixed capacity first, then burst, then opportunistic.
pub fn default_tiers(preemptible: bool) -> Vec<Tier> {
    let mut tiers = vec![Tier::Reserved, Tier::Owned, Tier::OnDemand];
    if preemptible {
        tiers.push(Tier::Spot);
    }
    tiers
}

/// The reference runtime of `work` GPU-hours on `gpus` GPUs, in ns.
pub fn work_ns(work_gpu_hours: f64, gpus: u32) -> u64 {
    (work_gpu_hours / f64::from(gpus.max(1)) * NANOS_PER_HOUR)
        .round()
        .clamp(1.0, 1e18) as u64
}

/// Draws the next job of a Poisson source: the gap to its arrival, its GPUs and its runtime.
pub fn draw_poisson_job(
    rng: &mut StreamRng,
    rate_per_sec: f64,
    gpus: &[(u32, f64)],
    duration: &DurationDist,
) -> (u64, u32, u64) {
    let gap_s = Exp::new(rate_per_sec).map_or(f64::INFINITY, |e| e.sample(rng));
    let gap_ns = (gap_s * 1e9).round().min(1e18) as u64;
    let total: f64 = gpus.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random::<f64>() * total;
    let mut size = gpus.last().map_or(1, |(g, _)| *g);
    for &(g, w) in gpus {
        if pick < w {
            size = g;
            break;
        }
        pick -= w;
    }
    (gap_ns, size, duration.draw(rng))
}

/// The reference runtime of a trace job (its recorded duration), at least 1 ns.
pub fn trace_job_work_ns(job: &TraceJob) -> u64 {
    job.duration_ns.max(1)
}

/// Why a job stopped before its work was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterruptCause {
    /// A GPU of the gang failed.
    Failure,
    /// The provider reclaimed spot capacity.
    SpotPreemption,
    /// The tier shrank below what its holders use.
    CapacityLoss,
    /// The job's site went down.
    SiteOutage,
    /// A policy moved the job.
    Migration,
}

impl InterruptCause {
    /// Every cause, in a fixed order.
    pub const ALL: [InterruptCause; 5] = [
        InterruptCause::Failure,
        InterruptCause::SpotPreemption,
        InterruptCause::CapacityLoss,
        InterruptCause::SiteOutage,
        InterruptCause::Migration,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            InterruptCause::Failure => "failure",
            InterruptCause::SpotPreemption => "spot_preemption",
            InterruptCause::CapacityLoss => "capacity_loss",
            InterruptCause::SiteOutage => "site_outage",
            InterruptCause::Migration => "migration",
        }
    }
}
