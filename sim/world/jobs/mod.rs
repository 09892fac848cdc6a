//! Running jobs: submission, placement through the policy, data staging, restore, compute
//! segments and checkpoints, interruptions and restarts, completion.
//!
//! A job's life:
//!
//! ```text
//! submitted → waiting → placed (GPUs held, billed from here) → staging (dataset, checkpoint)
//!   → restoring (after an interruption) → running ⇄ checkpointing → … → completed
//!   ↘ interrupted (failure, preemption, capacity loss, outage, migration): work since the last
//!     durable checkpoint is lost, the GPUs are released, the job waits again
//! ```
//!
//! Compute runs in segments of the checkpoint interval; each ends with a checkpoint write
//! during which nothing is computed, and the work is durable once the write ends. The last
//! segment ends with a final write too (the trained model is saved). Jobs without a checkpoint
//! policy run in one segment and lose everything when interrupted.
//!
//! Waiting jobs are offered GPUs whenever capacity may have changed (a job released GPUs, a GPU
//! came back from repair, a job arrived) and at least once a minute while any job waits, in
//! order of priority, then of how long they have waited. A job that fits is placed even if one
//! ahead of it does not (first fit, no reservations), so a large gang can wait behind a stream
//! of small ones.
//!
//! This folder owns the run-time state of every job ([`Jobs`]), its events ([`JobEvent`]) and
//! their handler ([`Jobs::handle`]). Handlers take a [`Context`] over any event type that job
//! events convert into, so they never name the world's event enum: the folder may import the
//! estate, the kernel, metrics, the policy's decider and the workload specs, never the rest of
//! `world`, `incident` or the serving subsystem. It sits in `world`, not in `workload`, for the
//! same reason as serving: the workload specs are imported by modules this folder imports.

mod access;
mod build;
mod event;
mod lifecycle;
mod placement;
mod progress;
mod store;

pub use event::{JobEvent, SourceId};
pub use store::JobStore;

use std::collections::{BTreeMap, BTreeSet};

use crate::infra::estate::{AllocationId, Estate};
use crate::infra::ledger::{Ledger, Payer, TransferCost};
use crate::infra::network::{FlowId, Route};
use crate::kernel::{Context, KernelError, SimDuration, SimTime, StreamRng};
use crate::metrics::job::{Interruption, JobClassSummary, JobOutcome, JobRecord, JobTotals, JobView};
use crate::metrics::record::{JobRow, JobRows};
use crate::policy::Decider;
use crate::scenario::resolve::ResolvedJobTrace;
use crate::vocab::JobId;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{DatasetId, PoolId, SiteId};
use crate::workload::job::MAX_JOBS;
use crate::workload::job::{DurationDist, InterruptCause, JobDef};

/// Parallel TCP streams of a staging or replication transfer (bulk tools open several).
pub const TRANSFER_STREAMS: u32 = 8;
/// How often waiting jobs are offered GPUs when nothing else prompts it.
pub const RETRY_INTERVAL: SimDuration = SimDuration::from_secs(60);

/// Why the jobs of a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// More jobs than a run may hold.
    #[error(
        "job source {source_name} would create more than {MAX_JOBS} jobs in this run; set `count` (Poisson), `limit` (trace) or shorten the horizon"
    )]
    TooMany {
        /// The source's name.
        source_name: String,
    },
    /// The kernel refused an operation (a bug, not the scenario's fault).
    #[error("simulation kernel: {0}")]
    Kernel(#[from] KernelError),
}

/// Where a job's life stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not submitted yet.
    Pending,
    /// Waiting for GPUs.
    Waiting,
    /// Holding GPUs, moving its dataset or checkpoint to its site.
    Staging,
    /// Holding GPUs, restarting from its checkpoint.
    Restoring,
    /// Computing.
    Running,
    /// Writing a checkpoint.
    Checkpointing,
    /// All work done.
    Completed,
    /// Gave up or was rejected.
    Failed,
}

/// GPUs a job holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holding {
    /// The allocation.
    pub allocation: AllocationId,
    /// The pool.
    pub pool: PoolId,
    /// The tier.
    pub tier: Tier,
    /// The pool's site.
    pub site: SiteId,
    /// The accelerator's speed for the job's class.
    pub speed: f64,
    /// When the GPUs were taken.
    pub since: SimTime,
}

/// One job at run time.
#[derive(Debug, Clone)]
pub struct JobState {
    /// What it is.
    pub def: JobDef,
    /// Where its life stands.
    pub phase: Phase,
    /// What happened to it.
    pub record: JobRecord,
    /// Reference work made durable, in ns.
    pub progress_ns: u64,
    /// The GPUs it holds.
    pub holding: Option<Holding>,
    /// Checkpoint copies: site and the progress the copy holds.
    pub copies: Vec<(SiteId, u64)>,
    /// The last pool and tier it ran on, for reports.
    pub last_placement: Option<(PoolId, Tier)>,
    timer: u32,
    placement: u32,
    phase_since: SimTime,
    segment_ns: u64,
    at_risk_ns: u64,
    replica_flow: Option<FlowId>,
    flows: Vec<FlowId>,
    needs_restore: bool,
    leaving: Option<InterruptCause>,
    evicting: Option<InterruptCause>,
    waiting_since: SimTime,
    deferred: bool,
    open_interruption: Option<usize>,
    /// A policy deferred the job: no placement before this.
    hold_until: SimTime,
    /// A policy asked for the job to be restored at this site.
    pinned_site: Option<SiteId>,
}

impl JobState {
    /// Moves the job into `phase` at `now`, closing the time spent in the phase it leaves.
    fn enter_phase(&mut self, phase: Phase, now: SimTime) {
        self.close_setup_time(now);
        self.phase = phase;
        self.phase_since = now;
    }

    /// Adds the time since the phase began to the record's staging or restore time, if the job
    /// is in one of those; GPU time of compute and checkpoint writes is accounted where those
    /// end, because an interruption splits it into useful and lost.
    fn close_setup_time(&mut self, now: SimTime) {
        let spent = now.saturating_since(self.phase_since).as_nanos();
        match self.phase {
            Phase::Staging => self.record.staging_ns += spent,
            Phase::Restoring => self.record.restore_ns += spent,
            _ => return,
        }
        self.phase_since = now;
    }

    fn new(def: JobDef) -> Self {
        JobState {
            def,
            phase: Phase::Pending,
            record: JobRecord::default(),
            progress_ns: 0,
            holding: None,
            copies: Vec::new(),
            last_placement: None,
            timer: 0,
            placement: 0,
            phase_since: SimTime::ZERO,
            segment_ns: 0,
            at_risk_ns: 0,
            replica_flow: None,
            flows: Vec::new(),
            needs_restore: false,
            leaving: None,
            evicting: None,
            waiting_since: SimTime::ZERO,
            deferred: false,
            open_interruption: None,
            hold_until: SimTime::ZERO,
            pinned_site: None,
        }
    }

    /// The job's row of `jobs.csv`, its deadline judged at `horizon` unless it completed, and
    /// its cost settled out of `ledger`: no charge may reach job `job` any more.
    fn into_row(self, job: JobId, horizon: SimTime, ledger: &mut Ledger) -> JobRow {
        // Read before the record is moved out: the deadline is judged on when the job ended.
        let deadline_missed = self.def.deadline.map(|_| self.deadline_missed(horizon));
        JobRow {
            class: self.def.class,
            gpus: self.def.gpus,
            work_gpu_hours: self.def.work_gpu_hours(),
            outcome: self.outcome(),
            placed: self.last_placement,
            deadline_missed,
            cost_usd: ledger.settle_payer(self.payer(job)),
            name: self.def.name,
            record: self.record,
        }
    }

    /// Where the job stands, for reports.
    pub fn outcome(&self) -> JobOutcome {
        match self.phase {
            Phase::Pending => JobOutcome::NotSubmitted,
            Phase::Waiting => JobOutcome::Waiting,
            Phase::Completed => JobOutcome::Completed,
            Phase::Failed => JobOutcome::Failed,
            _ => JobOutcome::Running,
        }
    }

    /// Whether the deadline passed before the job completed, as of `now`.
    pub fn deadline_missed(&self, now: SimTime) -> bool {
        let Some(deadline) = self.def.deadline else {
            return false;
        };
        match (self.phase, self.record.ended) {
            (Phase::Completed, Some(ended)) => ended > deadline,
            _ => now > deadline,
        }
    }

    fn payer(&self, job: JobId) -> Payer {
        Payer {
            class: self.def.class,
            workload: job.0,
        }
    }

    fn gpus(&self) -> u128 {
        u128::from(self.def.gpus)
    }
}

enum SourceKind {
    Poisson {
        rate_per_sec: f64,
        gpus: Vec<(u32, f64)>,
        duration: DurationDist,
        remaining: Option<u64>,
        rng: StreamRng,
    },
    Trace {
        trace: ResolvedJobTrace,
        next: usize,
    },
}

struct Source {
    name: String,
    template: JobDef,
    /// Whether the scenario lists the tiers (otherwise preemptible trace rows may use spot).
    explicit_tiers: bool,
    kind: SourceKind,
    made: u64,
}

/// The jobs of a run and the sources that create them.
pub struct Jobs {
    /// The jobs alive (and every job written one by one in the scenario), by index: a job's
    /// index is its workload id in the ledger.
    pub jobs: JobStore,
    /// The rows of the jobs that left the store, on disk.
    rows: JobRows,
    /// Source jobs that ended and have not left the store yet.
    ended: Vec<JobId>,
    /// The end of the run, against which a failed job's deadline is judged.
    horizon: SimTime,
    /// Every interruption, in time order.
    pub interruptions: Vec<Interruption>,
    /// Jobs written one by one in the scenario come first; source jobs follow.
    singles: usize,
    sources: Vec<Source>,
    waiting: Vec<JobId>,
    staged: BTreeSet<(DatasetId, SiteId)>,
    retry_pending: bool,
}

impl Jobs {
    /// Every live job's id, in order of creation.
    fn ids(&self) -> Vec<JobId> {
        self.jobs.ids()
    }

    /// Moves out of memory each ended source job that nothing is in flight for (a checkpoint
    /// copy still travelling keeps it until it lands): its row goes to the spill file with its
    /// cost, taken out of `ledger` (an ended job's GPUs were billed as it released them, and
    /// its transfers are done), its state is dropped, and an event that still names it is
    /// ignored. The jobs written one by one in the scenario stay, since incidents may name them.
    pub fn retire_ended(&mut self, ledger: &mut Ledger) {
        let mut k = 0;
        while k < self.ended.len() {
            let job = self.ended[k];
            let busy =
                (self.jobs.get(job.index())).is_some_and(|s| s.replica_flow.is_some() || !s.flows.is_empty());
            if busy {
                k += 1;
                continue;
            }
            self.ended.swap_remove(k);
            if let Some(state) = self.jobs.remove(job) {
                self.rows.push(job.0, &state.into_row(job, self.horizon, ledger));
            }
        }
    }

    /// Every job's row: the rows of the jobs that left, then those of the jobs still in the
    /// store as the run ended, which is left empty; their costs are taken out of `ledger`, which
    /// has billed everything up to the end of the run.
    pub fn take_rows(&mut self, ledger: &mut Ledger) -> JobRows {
        for job in self.ids() {
            if let Some(state) = self.jobs.remove(job) {
                self.rows.push(job.0, &state.into_row(job, self.horizon, ledger));
            }
        }
        self.ended.clear();
        std::mem::take(&mut self.rows)
    }

    /// The figures of each job class, over the jobs that left and those alive, as of the end
    /// of the run.
    pub fn class_summaries(
        &self,
        cost_of_class: impl Fn(WorkloadClass) -> (f64, TransferCost),
    ) -> std::io::Result<BTreeMap<&'static str, JobClassSummary>> {
        let mut totals = JobTotals::default();
        self.rows.for_each_appended(|_, row| {
            totals.add(JobView {
                class: row.class,
                outcome: row.outcome,
                deadline_missed: row.deadline_missed == Some(true),
                record: &row.record,
            })
        })?;
        for view in self.views(self.horizon) {
            totals.add(view);
        }
        Ok(totals.summaries(cost_of_class))
    }

    /// Bytes held for the rows of the jobs that left (a write buffer).
    pub fn rows_memory_bytes(&self) -> u64 {
        self.rows.memory_bytes()
    }

    /// The first error met writing the rows of the jobs that left.
    pub fn spill_error(&self) -> Option<&std::io::Error> {
        self.rows.spill_error()
    }
}

/// The most GPUs free in one tier of one pool at a site that is up.
fn largest_free_block(estate: &Estate) -> u32 {
    estate
        .pools
        .iter()
        .filter(|p| estate.sites[p.site.index()].up)
        .flat_map(|p| p.tiers().map(|(_, t)| t.free()))
        .max()
        .unwrap_or(0)
}

/// Stops a transfer, billing the bytes it moved.
fn cancel_and_bill(now: SimTime, estate: &mut Estate, flow: FlowId) {
    if let Some(cancelled) = estate.network.cancel_flow(now, flow) {
        estate.bill_transfer(
            cancelled.started,
            now,
            &cancelled.route,
            cancelled.bytes_moved,
            cancelled.tag.payer,
        );
    }
}

/// What has to move before a job can start somewhere.
#[derive(Debug, Clone, Copy, Default)]
struct Staging {
    bytes: u64,
    /// At each route's bottleneck bandwidth, one transfer after the other, ignoring sharing.
    seconds: f64,
}

impl Staging {
    fn add(&mut self, estate: &Estate, route: &Route, bytes: u64) {
        let bottleneck = route
            .hops
            .iter()
            .filter_map(|hop| estate.network.effective_link(hop.link))
            .map(|link| link.bandwidth_bps)
            .fold(f64::INFINITY, f64::min);
        self.bytes += bytes;
        if bottleneck > 0.0 {
            self.seconds += bytes as f64 * 8.0 / bottleneck;
        }
    }
}

/// The route a checkpoint may take: through sites the job's dataset may be in (a model trained
/// on restricted data is restricted too), or the lowest-latency route.
fn checkpoint_route(estate: &Estate, dataset: Option<DatasetId>, from: SiteId, to: SiteId) -> Option<Route> {
    match dataset {
        Some(d) => estate.network.route_where(from, to, |s| estate.may_hold(d, s)),
        None => estate.network.route(from, to),
    }
}

impl Jobs {
    /// Handles one job event.
    pub fn handle<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        event: JobEvent,
    ) -> Result<(), JobsError> {
        match event {
            JobEvent::Submit { job } => self.submit(ctx, estate, decider, job)?,
            JobEvent::Source { source } => self.source_arrival(ctx, estate, decider, source)?,
            JobEvent::Timer { job, timer } => self.timer(ctx, estate, decider, job, timer)?,
            JobEvent::Eviction { job, placement } => self.eviction(ctx, estate, decider, job, placement)?,
            JobEvent::Retry => self.retry(ctx, estate, decider)?,
        }
        Ok(())
    }

    /// Schedules every job's submission and every source's first arrival.
    pub fn start<E: From<JobEvent> + Copy>(&mut self, ctx: &mut Context<'_, E>) -> Result<(), KernelError> {
        for (job_id, job) in self.jobs.indexed() {
            let submit = JobEvent::Submit { job: job_id };
            ctx.schedule_at(job.def.submit.max(ctx.now()), submit.into())?;
        }
        for s in 0..self.sources.len() {
            self.schedule_source(ctx, s, self.sources[s].template.submit)?;
        }
        Ok(())
    }
}
