//! What happened to jobs: one [`JobRecord`] per job (the rows of `jobs.csv`) and the per-class
//! figures of `summary.json` ([`JobClassSummary`]).
//!
//! GPU time is accounted in GPU-nanoseconds while the run goes and reported in GPU-hours:
//! - `held`: every GPU-second a job held, from allocation to release — exactly what the
//!   ledger bills as the job's compute;
//! - `useful`: compute whose progress reached a durable checkpoint or the job's end;
//! - `lost`: compute whose progress was thrown away by an interruption;
//! - `checkpoint`: time spent writing checkpoints (including writes cut short);
//! - `other`: the rest of `held` — staging, restoring, waiting out a preemption notice, and
//!   compute still in progress when the run ended.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::infra::ledger::TransferCost;
use crate::kernel::SimTime;
use crate::vocab::JobId;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::SiteId;
use crate::workload::job::{InterruptCause, NANOS_PER_HOUR};

/// One interruption of a job, kept for recovery figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interruption {
    /// The job.
    pub job: JobId,
    /// When.
    pub at: SimTime,
    /// Why.
    pub cause: InterruptCause,
    /// Where it was running.
    pub site: SiteId,
    /// GPU-ns of compute lost.
    pub lost_gpu_ns: u128,
    /// When and where it computed again, if it did.
    pub resumed: Option<(SimTime, SiteId)>,
}

/// Where a job's life stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// Not yet submitted when the run ended.
    NotSubmitted,
    /// Waiting for GPUs when the run ended.
    Waiting,
    /// Holding GPUs (staging, restoring, running, checkpointing) when the run ended.
    Running,
    /// All work done.
    Completed,
    /// Gave up after too many interruptions, or rejected by the policy.
    Failed,
}

impl JobOutcome {
    /// Every outcome, in a fixed order.
    pub const ALL: [JobOutcome; 5] = [
        JobOutcome::NotSubmitted,
        JobOutcome::Waiting,
        JobOutcome::Running,
        JobOutcome::Completed,
        JobOutcome::Failed,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::NotSubmitted => "not_submitted",
            JobOutcome::Waiting => "waiting",
            JobOutcome::Running => "running",
            JobOutcome::Completed => "completed",
            JobOutcome::Failed => "failed",
        }
    }
}

/// The record of one job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobRecord {
    /// When it was submitted.
    pub submitted: Option<SimTime>,
    /// When it first got GPUs.
    pub first_start: Option<SimTime>,
    /// When it completed or failed.
    pub ended: Option<SimTime>,
    /// Interruptions by cause, in [`InterruptCause::ALL`] order.
    pub interruptions: [u32; InterruptCause::ALL.len()],
    /// Times it was given GPUs.
    pub placements: u32,
    /// GPU-ns held.
    pub held_gpu_ns: u128,
    /// GPU-ns of compute that counted.
    pub useful_gpu_ns: u128,
    /// GPU-ns of compute thrown away.
    pub lost_gpu_ns: u128,
    /// GPU-ns spent writing checkpoints.
    pub checkpoint_gpu_ns: u128,
    /// Checkpoints made durable.
    pub checkpoints: u32,
    /// Wall time spent staging its dataset and checkpoint to where it was placed, in ns.
    pub staging_ns: u64,
    /// Wall time spent restoring from a checkpoint before computing again, in ns.
    pub restore_ns: u64,
    /// Why it is waiting or failed, when there is something to say.
    pub note: String,
}

impl JobRecord {
    /// Interruptions of all causes.
    pub fn interrupted(&self) -> u32 {
        self.interruptions.iter().sum()
    }

    /// Time from submission to first start, if it started.
    pub fn initial_wait_ns(&self) -> Option<u64> {
        Some(self.first_start?.saturating_since(self.submitted?).as_nanos())
    }
}

/// GPU-hours of a class, split by what they were spent on.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct GpuHours {
    /// Compute whose progress counted.
    pub useful: f64,
    /// Compute thrown away by interruptions.
    pub lost: f64,
    /// Writing checkpoints.
    pub checkpoint: f64,
    /// Staging, restoring, notice periods and unfinished compute at the end of the run.
    pub other: f64,
    /// Everything held (the sum of the above; what was billed).
    pub held: f64,
}

/// Waiting time from submission to first start, in hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WaitHours {
    /// Mean over jobs that started.
    pub mean: f64,
    /// 95th percentile over jobs that started (nearest rank).
    pub p95: f64,
}

/// The figures of one job class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobClassSummary {
    /// Jobs submitted.
    pub submitted: u64,
    /// Jobs completed.
    pub completed: u64,
    /// Jobs that gave up or were rejected.
    pub failed: u64,
    /// Jobs that finished after their deadline, or were not done when it passed.
    pub deadline_missed: u64,
    /// Interruptions of all causes.
    pub interrupted: u64,
    /// Interruptions by cause.
    pub interruptions: BTreeMap<&'static str, u64>,
    /// Jobs still waiting for GPUs at the end.
    pub waiting_at_end: u64,
    /// Jobs holding GPUs at the end.
    pub running_at_end: u64,
    /// GPU-hours by use.
    pub gpu_hours: GpuHours,
    /// Useful GPU-hours over held GPU-hours; `null` when nothing was held.
    pub goodput: Option<f64>,
    /// Waiting from submission to first start; `null` when no job started.
    pub wait_h: Option<WaitHours>,
    /// Cost charged to the class's jobs (compute and transfers), in USD.
    pub cost_usd: f64,
    /// The part of it spent moving data: staging, checkpoint copies.
    pub transfer: TransferCost,
}

/// One job's state as the summary needs it.
pub struct JobView<'a> {
    /// Its class.
    pub class: WorkloadClass,
    /// Where it stands.
    pub outcome: JobOutcome,
    /// Whether its deadline was missed.
    pub deadline_missed: bool,
    /// Its record.
    pub record: &'a JobRecord,
}

fn hours(gpu_ns: u128) -> f64 {
    gpu_ns as f64 / NANOS_PER_HOUR
}

/// What the figures of one job class add up as jobs are seen one at a time: counts and
/// GPU-nanoseconds are integers, so the order the jobs come in does not change a figure.
#[derive(Debug, Clone, Default)]
struct ClassTotals {
    submitted: u64,
    /// By outcome, in [`JobOutcome::ALL`] order.
    outcomes: [u64; JobOutcome::ALL.len()],
    deadline_missed: u64,
    interruptions: [u64; InterruptCause::ALL.len()],
    held: u128,
    useful: u128,
    lost: u128,
    checkpoint: u128,
    /// Each started job's wait, for the mean and the nearest-rank percentile.
    waits: Vec<u64>,
}

/// Job figures by class, added up one job at a time, so that jobs read back from disk need not
/// be held together.
#[derive(Debug, Clone, Default)]
pub struct JobTotals {
    by_class: BTreeMap<WorkloadClass, ClassTotals>,
}

impl JobTotals {
    /// Counts one job (a job not submitted counts in no class).
    pub fn add(&mut self, job: JobView<'_>) {
        if job.outcome == JobOutcome::NotSubmitted {
            return;
        }
        let totals = self.by_class.entry(job.class).or_default();
        let r = job.record;
        totals.submitted += 1;
        if let Some(i) = JobOutcome::ALL.iter().position(|&o| o == job.outcome) {
            totals.outcomes[i] += 1;
        }
        totals.deadline_missed += u64::from(job.deadline_missed);
        for (sum, &n) in totals.interruptions.iter_mut().zip(&r.interruptions) {
            *sum += u64::from(n);
        }
        totals.held += r.held_gpu_ns;
        totals.useful += r.useful_gpu_ns;
        totals.lost += r.lost_gpu_ns;
        totals.checkpoint += r.checkpoint_gpu_ns;
        totals.waits.extend(r.initial_wait_ns());
    }

    /// The figures of each class that had a submitted job. `cost_of_class` gives the ledger's
    /// total for a class and the part of it spent on transfers.
    pub fn summaries(
        self,
        cost_of_class: impl Fn(WorkloadClass) -> (f64, TransferCost),
    ) -> BTreeMap<&'static str, JobClassSummary> {
        self.by_class
            .into_iter()
            .map(|(class, totals)| {
                let (cost_usd, transfer) = cost_of_class(class);
                (class.as_str(), JobClassSummary::of(totals, cost_usd, transfer))
            })
            .collect()
    }
}

impl JobClassSummary {
    /// Summarises jobs by class; classes without submitted jobs are left out. `cost_of_class`
    /// gives the ledger's total for a class and the part of it spent on transfers.
    pub fn by_class<'a>(
        jobs: impl Iterator<Item = JobView<'a>>,
        cost_of_class: impl Fn(WorkloadClass) -> (f64, TransferCost),
    ) -> BTreeMap<&'static str, JobClassSummary> {
        let mut totals = JobTotals::default();
        for job in jobs {
            totals.add(job);
        }
        totals.summaries(cost_of_class)
    }

    fn of(totals: ClassTotals, cost_usd: f64, transfer: TransferCost) -> Self {
        let count = |outcome: JobOutcome| {
            let i = JobOutcome::ALL.iter().position(|&o| o == outcome);
            i.map_or(0, |i| totals.outcomes[i])
        };
        let held = hours(totals.held);
        let useful = hours(totals.useful);
        let lost = hours(totals.lost);
        let checkpoint = hours(totals.checkpoint);
        let mut waits = totals.waits;
        waits.sort_unstable();
        let wait_h = (!waits.is_empty()).then(|| {
            let mean = waits.iter().map(|&w| w as f64).sum::<f64>() / waits.len() as f64;
            let rank = ((0.95 * waits.len() as f64).ceil() as usize).clamp(1, waits.len());
            WaitHours {
                mean: mean / 3.6e12,
                p95: waits[rank - 1] as f64 / 3.6e12,
            }
        });
        JobClassSummary {
            submitted: totals.submitted,
            completed: count(JobOutcome::Completed),
            failed: count(JobOutcome::Failed),
            deadline_missed: totals.deadline_missed,
            interrupted: totals.interruptions.iter().sum(),
            interruptions: (InterruptCause::ALL.iter().zip(totals.interruptions))
                .map(|(c, n)| (c.as_str(), n))
                .collect(),
            waiting_at_end: count(JobOutcome::Waiting),
            running_at_end: count(JobOutcome::Running),
            gpu_hours: GpuHours {
                useful,
                lost,
                checkpoint,
                other: (held - useful - lost - checkpoint).max(0.0),
                held,
            },
            goodput: (held > 0.0).then(|| useful / held),
            wait_h,
            cost_usd,
            transfer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(submitted_h: u64, start_h: Option<u64>, held_h: u128, useful_h: u128) -> JobRecord {
        const H: u128 = 3_600_000_000_000;
        JobRecord {
            submitted: Some(SimTime::from_nanos(submitted_h * 3_600_000_000_000)),
            first_start: start_h.map(|h| SimTime::from_nanos(h * 3_600_000_000_000)),
            held_gpu_ns: held_h * H,
            useful_gpu_ns: useful_h * H,
            ..JobRecord::default()
        }
    }

    #[test]
    fn class_figures_add_up_and_waits_use_nearest_rank() {
        let records: Vec<JobRecord> = (0..20).map(|i| record(0, Some(i), 10, 8)).collect();
        let jobs = records.iter().map(|r| JobView {
            class: WorkloadClass::Training,
            outcome: JobOutcome::Completed,
            deadline_missed: false,
            record: r,
        });
        let summary = JobClassSummary::by_class(jobs, |_| (5.0, TransferCost::default()));
        let training = &summary["training"];
        assert_eq!(training.completed, 20);
        assert_eq!(training.gpu_hours.held, 200.0);
        assert_eq!(training.gpu_hours.other, 40.0);
        assert_eq!(training.goodput, Some(0.8));
        let wait = training.wait_h.expect("jobs started");
        assert_eq!(wait.mean, 9.5);
        assert_eq!(wait.p95, 18.0, "rank ceil(0.95 × 20) = 19 → 18 h");
        assert!(!summary.contains_key("fine_tuning"));
    }
}
