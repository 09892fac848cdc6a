//! The events of the jobs subsystem and the ids they carry.

use crate::vocab::JobId;

/// A job source (a Poisson stream or a trace of jobs), by its position in the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

/// What happens to jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvent {
    /// A job is submitted.
    Submit {
        /// The job.
        job: JobId,
    },
    /// A job source's next job arrives.
    Source {
        /// The source.
        source: SourceId,
    },
    /// A job's restore, compute segment or checkpoint write ends.
    Timer {
        /// The job.
        job: JobId,
        /// Which of the job's timers; earlier ones are void.
        timer: u32,
    },
    /// A job's preemption notice runs out.
    Eviction {
        /// The job.
        job: JobId,
        /// The placement the notice was given to.
        placement: u32,
    },
    /// Waiting jobs are offered GPUs again.
    Retry,
}
