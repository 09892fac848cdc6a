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

use std::cmp::Reverse;
use std::collections::BTreeSet;

use crate::infra::estate::{AllocationId, Estate, TransferPurpose, TransferTag};
use crate::infra::ledger::Payer;
use crate::infra::network::{FlowId, FlowSpec, Route};
use crate::kernel::{Context, KernelError, RngStreams, SimDuration, SimTime, StreamRng};
use crate::metrics::job::{Interruption, JobOutcome, JobRecord, JobView};
use crate::policy::{
    Decider, DecisionKind, JobInfo, JobStatus, PlaceOutcome, PlaceRequest, PlacementCandidate, View,
};
use crate::scenario::Scenario;
use crate::vocab::JobId;
use crate::vocab::Tier;
use crate::vocab::ids::{DatasetId, PoolId, SiteId};
use crate::workload::job::{
    CheckpointUnavailable, Checkpointing, DurationDist, InterruptCause, JobArrivals, JobDef, JobSpec,
    default_tiers, draw_poisson_job, work_ns,
};
use crate::workload::trace::{JobTrace, TraceError};

/// Parallel TCP streams of a staging or replication transfer (bulk tools open several).
pub const TRANSFER_STREAMS: u32 = 8;
/// How often waiting jobs are offered GPUs when nothing else prompts it.
pub const RETRY_INTERVAL: SimDuration = SimDuration::from_secs(60);
/// Most jobs one run may create (memory grows with every job: it keeps a row for `jobs.csv`).
pub const MAX_JOBS: usize = 1_000_000;

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

/// Why the jobs of a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// A job trace cannot be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// More jobs than a run may hold.
    #[error(
        "job source {source_name} would create more than {MAX_JOBS} jobs in this run; set `count` (Poisson), `limit` (trace) or shorten the horizon"
    )]
    TooMany {
        /// The source's name.
        source_name: String,
    },
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

    fn payer(&self, index: u32) -> Payer {
        Payer {
            class: self.def.class,
            workload: index,
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
        trace: JobTrace,
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

/// Every job of a run and the sources that create them.
pub struct Jobs {
    /// Jobs in order of creation; a job's index is its workload id in the ledger.
    pub jobs: Vec<JobState>,
    /// Every interruption, in time order.
    pub interruptions: Vec<Interruption>,
    /// Jobs written one by one in the scenario come first; source jobs follow.
    singles: usize,
    sources: Vec<Source>,
    waiting: Vec<u32>,
    staged: BTreeSet<(DatasetId, SiteId)>,
    retry_pending: bool,
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

/// The route a checkpoint may take: through sites the job's dataset may be in (a model trained
/// on restricted data is restricted too), or the lowest-latency route.
fn checkpoint_route(estate: &Estate, dataset: Option<DatasetId>, from: SiteId, to: SiteId) -> Option<Route> {
    match dataset {
        Some(d) => estate.network.route_where(from, to, |s| estate.may_hold(d, s)),
        None => estate.network.route(from, to),
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

/// A site or dataset name to its id; the scenario checks resolved every name.
fn find(names: impl Iterator<Item = String>, wanted: &str) -> Option<u32> {
    names.into_iter().position(|n| n == wanted).map(|i| i as u32)
}

fn template(spec: &JobSpec, estate: &Estate) -> JobDef {
    let accelerators = spec
        .accelerators
        .iter()
        .filter_map(|a| find(estate.accelerators.iter().map(|x| x.name.clone()), a))
        .map(crate::vocab::ids::AcceleratorId)
        .collect();
    let checkpoint = spec.checkpoint.as_ref().map(|c| {
        let replica = c
            .replicate_to
            .as_deref()
            .and_then(|s| find(estate.sites.iter().map(|x| x.name.clone()), s))
            .map(SiteId);
        Checkpointing::new(c, replica)
    });
    let submit = SimTime::ZERO.saturating_add(spec.submit);
    JobDef {
        name: spec.name.clone(),
        class: spec.class,
        gpus: spec.gpus.unwrap_or(1),
        accelerators,
        work_ns: work_ns(spec.work.unwrap_or(0.0), spec.gpus.unwrap_or(1)),
        submit,
        priority: spec.priority,
        preemptible: spec.preemptible,
        deadline: spec.deadline.map(|d| submit.saturating_add(d)),
        dataset: spec
            .dataset
            .as_deref()
            .and_then(|d| find(estate.datasets.iter().map(|x| x.name.clone()), d))
            .map(DatasetId),
        checkpoint,
        tiers: if spec.tiers.is_empty() {
            default_tiers(spec.preemptible)
        } else {
            spec.tiers.clone()
        },
        max_interruptions: spec.max_interruptions,
    }
}

impl Jobs {
    /// Builds the jobs and job sources of a checked scenario.
    pub fn build(scenario: &Scenario, estate: &Estate, streams: &RngStreams) -> Result<Self, JobsError> {
        let mut jobs = Vec::new();
        let mut sources = Vec::new();
        for spec in &scenario.spec.jobs {
            let template = template(spec, estate);
            let kind = match &spec.arrivals {
                None => {
                    jobs.push(JobState::new(template));
                    continue;
                }
                Some(JobArrivals::Poisson {
                    rate,
                    gpus,
                    duration,
                    count,
                }) => SourceKind::Poisson {
                    rate_per_sec: rate.per_sec(),
                    gpus: gpus.clone(),
                    duration: *duration,
                    remaining: *count,
                    rng: streams.stream(&format!("jobs/{}", spec.name)),
                },
                Some(JobArrivals::Trace(trace)) => {
                    let trace = JobTrace::load(&scenario.resolve_path(&trace.path), trace)?;
                    if trace.jobs().len() > MAX_JOBS {
                        return Err(JobsError::TooMany {
                            source_name: spec.name.clone(),
                        });
                    }
                    SourceKind::Trace { trace, next: 0 }
                }
            };
            sources.push(Source {
                name: spec.name.clone(),
                template,
                explicit_tiers: !spec.tiers.is_empty(),
                kind,
                made: 0,
            });
        }
        Ok(Jobs {
            singles: jobs.len(),
            jobs,
            interruptions: Vec::new(),
            sources,
            waiting: Vec::new(),
            staged: BTreeSet::new(),
            retry_pending: false,
        })
    }

    /// Handles one job event.
    pub fn handle<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        event: JobEvent,
    ) -> Result<(), super::RunError> {
        match event {
            JobEvent::Submit { job } => self.submit(ctx, estate, decider, job.0)?,
            JobEvent::Source { source } => self.source_arrival(ctx, estate, decider, source.0)?,
            JobEvent::Timer { job, timer } => self.timer(ctx, estate, decider, job.0, timer)?,
            JobEvent::Eviction { job, placement } => self.eviction(ctx, estate, decider, job.0, placement)?,
            JobEvent::Retry => self.retry(ctx, estate, decider)?,
        }
        Ok(())
    }

    /// Schedules every job's submission and every source's first arrival.
    pub fn start<E: From<JobEvent>>(&mut self, ctx: &mut Context<'_, E>) -> Result<(), KernelError> {
        for (j, job) in self.jobs.iter().enumerate() {
            let submit = JobEvent::Submit { job: JobId(j as u32) };
            ctx.schedule_at(job.def.submit.max(ctx.now()), submit.into())?;
        }
        for s in 0..self.sources.len() {
            self.schedule_source(ctx, s, self.sources[s].template.submit)?;
        }
        Ok(())
    }

    fn schedule_source<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        s: usize,
        from: SimTime,
    ) -> Result<(), KernelError> {
        let source = &mut self.sources[s];
        let at = match &mut source.kind {
            SourceKind::Poisson {
                remaining: Some(0), ..
            } => return Ok(()),
            SourceKind::Poisson {
                rate_per_sec,
                gpus,
                duration,
                rng,
                ..
            } => {
                // Draws for the next job are made now so the stream is consumed in one order.
                let (gap, size, runtime) = draw_poisson_job(rng, *rate_per_sec, gpus, duration);
                source.template.gpus = size;
                source.template.work_ns = runtime;
                from.saturating_add(SimDuration::from_nanos(gap))
            }
            SourceKind::Trace { trace, next } => match trace.jobs().get(*next) {
                Some(job) => source
                    .template
                    .submit
                    .saturating_add(SimDuration::from_nanos(job.submit_ns)),
                None => return Ok(()),
            },
        };
        let next = JobEvent::Source {
            source: SourceId(s as u32),
        };
        ctx.schedule_at(at.max(ctx.now()), next.into())
    }

    /// A source's next job arrives now.
    fn source_arrival<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        source: u32,
    ) -> Result<(), super::RunError> {
        let s = source as usize;
        if self.jobs.len() >= MAX_JOBS {
            return Err(JobsError::TooMany {
                source_name: self.sources[s].name.clone(),
            }
            .into());
        }
        let now = ctx.now();
        let src = &mut self.sources[s];
        src.made += 1;
        let mut def = src.template.clone();
        let mut unknown_accelerators = None;
        def.name = format!("{}-{}", src.name, src.made);
        def.submit = now;
        def.deadline = src
            .template
            .deadline
            .map(|d| now.saturating_add(d.saturating_since(src.template.submit)));
        match &mut src.kind {
            SourceKind::Poisson { remaining, .. } => {
                if let Some(left) = remaining {
                    *left -= 1;
                }
            }
            SourceKind::Trace { trace, next } => {
                if let Some(row) = trace.jobs().get(*next) {
                    def.gpus = row.gpus.max(1);
                    def.work_ns = row.duration_ns.max(1);
                    // The trace's priorities are relative to the source's.
                    def.priority = src.template.priority.saturating_add(row.priority);
                    def.preemptible = src.template.preemptible || row.preemptible;
                    if !row.name.is_empty() {
                        def.name = format!("{}-{}", src.name, row.name);
                    }
                    if def.accelerators.is_empty() && !row.accelerators.is_empty() {
                        def.accelerators = row
                            .accelerators
                            .iter()
                            .filter_map(|a| find(estate.accelerators.iter().map(|x| x.name.clone()), a))
                            .map(crate::vocab::ids::AcceleratorId)
                            .collect();
                        if def.accelerators.is_empty() {
                            unknown_accelerators = Some(row.accelerators.join("|"));
                        }
                    }
                    if !src.explicit_tiers && def.preemptible && !def.tiers.contains(&Tier::Spot) {
                        def.tiers.push(Tier::Spot);
                    }
                }
                *next += 1;
            }
        }
        self.jobs.push(JobState::new(def));
        self.schedule_source(ctx, s, now)?;
        let job = (self.jobs.len() - 1) as u32;
        match unknown_accelerators {
            // Running it elsewhere would replay a different workload than the trace's.
            Some(wanted) => {
                self.jobs[job as usize].record.submitted = Some(now);
                let why = format!("accepts only accelerators {wanted}, which the estate does not have");
                self.end_failed(now, job, "reject", why, decider);
            }
            None => self.submit(ctx, estate, decider, job)?,
        }
        Ok(())
    }

    /// Job `job` is submitted now.
    fn submit<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job as usize];
        state.record.submitted = Some(now);
        self.requeue(now, job);
        self.place_waiting(ctx, estate, decider)
    }

    /// Puts `job` in the waiting queue from `now`.
    fn requeue(&mut self, now: SimTime, job: u32) {
        let state = &mut self.jobs[job as usize];
        state.phase = Phase::Waiting;
        state.waiting_since = now;
        self.waiting.push(job);
    }

    /// Offers GPUs to every waiting job, in order of priority and then of waiting time.
    pub fn place_waiting<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
    ) -> Result<(), KernelError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let jobs = &self.jobs;
        self.waiting.sort_by_key(|&j| {
            (
                Reverse(jobs[j as usize].def.priority),
                jobs[j as usize].waiting_since,
                j,
            )
        });
        // A job larger than every free block cannot be placed: skip it without listing
        // candidates (once it has been told why it waits), so a long queue stays cheap.
        let mut largest_free = largest_free_block(estate);
        for j in std::mem::take(&mut self.waiting) {
            let state = &self.jobs[j as usize];
            if state.deferred && state.def.gpus > largest_free {
                self.waiting.push(j);
                continue;
            }
            if self.try_place(ctx, estate, decider, j)? {
                largest_free = largest_free_block(estate);
            } else {
                self.waiting.push(j);
            }
        }
        if !self.waiting.is_empty() && !self.retry_pending {
            self.retry_pending = true;
            ctx.schedule_in(RETRY_INTERVAL, JobEvent::Retry.into())?;
        }
        Ok(())
    }

    /// The periodic offer to waiting jobs.
    fn retry<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
    ) -> Result<(), KernelError> {
        self.retry_pending = false;
        self.place_waiting(ctx, estate, decider)
    }

    /// The best checkpoint copy `job` can restart from at `site`: at a site that is up and
    /// reachable, the most progress, then the copy at `site` itself.
    fn reachable_copy(&self, estate: &Estate, job: usize, site: SiteId) -> Option<(SiteId, u64)> {
        let dataset = self.jobs[job].def.dataset;
        self.jobs[job]
            .copies
            .iter()
            .copied()
            .filter(|&(at, _)| {
                estate.sites[at.index()].up
                    && (at == site || checkpoint_route(estate, dataset, at, site).is_some())
            })
            .max_by_key(|&(at, progress)| (progress, at == site, Reverse(at)))
    }

    /// Where the job's data and checkpoint must come from to run at `site`, how many bytes that
    /// is and about how long it takes; `None` when it cannot run there.
    fn staging_at(
        &self,
        estate: &Estate,
        job: usize,
        site: SiteId,
    ) -> Option<(Staging, Option<(SiteId, u64)>)> {
        let state = &self.jobs[job];
        let mut staging = Staging::default();
        if let Some(dataset) = state.def.dataset {
            let data = &estate.datasets[dataset.index()];
            if !estate.may_hold(dataset, site) {
                return None;
            }
            if data.home != site && !self.staged.contains(&(dataset, site)) {
                let route = estate.dataset_route(dataset, site).ok()?;
                staging.add(estate, &route, data.size_bytes);
            }
        }
        let mut source = None;
        if state.needs_restore && state.progress_ns > 0 {
            match self.reachable_copy(estate, job, site) {
                Some(copy) => {
                    let route = checkpoint_route(estate, state.def.dataset, copy.0, site);
                    if let (true, Some(route)) = (copy.0 != site, route) {
                        staging.add(estate, &route, state.def.checkpoint.map_or(0, |c| c.size_bytes));
                    }
                    source = Some(copy);
                }
                None if self.unavailable_choice(job) == CheckpointUnavailable::Restart => {}
                None => return None,
            }
        }
        Some((staging, source))
    }

    fn unavailable_choice(&self, job: usize) -> CheckpointUnavailable {
        self.jobs[job]
            .def
            .checkpoint
            .map_or(CheckpointUnavailable::Restart, |c| c.if_unavailable)
    }

    /// Every (pool, tier) that can take the job now, with the checkpoint copy to restore from.
    fn candidates(&self, estate: &Estate, job: usize) -> Vec<(PlacementCandidate, Option<(SiteId, u64)>)> {
        let pinned = self.jobs[job].pinned_site;
        let def = &self.jobs[job].def;
        let mut out = Vec::new();
        for (rank, &tier) in def.tiers.iter().enumerate() {
            if tier == Tier::Spot && !def.preemptible {
                continue;
            }
            for pool in &estate.pools {
                let Some(state) = pool.tier(tier) else { continue };
                if state.free() < def.gpus
                    || !estate.sites[pool.site.index()].up
                    || !(def.accelerators.is_empty() || def.accelerators.contains(&pool.accelerator))
                {
                    continue;
                }
                if pinned.is_some_and(|at| at != pool.site) {
                    continue;
                }
                let Some((staging, copy)) = self.staging_at(estate, job, pool.site) else {
                    continue;
                };
                let candidate = PlacementCandidate {
                    pool: pool.id,
                    site: pool.site,
                    tier,
                    preference: rank as u32,
                    free: state.free(),
                    usd_per_gpu_hour: state.price_per_gpu_hour,
                    speed: estate.accelerators[pool.accelerator.index()].speed(def.class),
                    staging_bytes: staging.bytes,
                    staging_s: staging.seconds,
                };
                out.push((candidate, copy));
            }
        }
        out
    }

    /// Why a job with no candidates waits.
    fn why_waiting(&self, estate: &Estate, job: usize) -> String {
        let state = &self.jobs[job];
        let def = &state.def;
        let fits = |pool: &crate::infra::pool::Pool, tier: Tier| {
            pool.tier(tier).is_some_and(|t| t.capacity >= def.gpus)
                && (def.accelerators.is_empty() || def.accelerators.contains(&pool.accelerator))
                && (tier != Tier::Spot || def.preemptible)
        };
        let sized: Vec<&crate::infra::pool::Pool> = estate
            .pools
            .iter()
            .filter(|p| def.tiers.iter().any(|&t| fits(p, t)))
            .collect();
        if sized.is_empty() {
            let tiers: Vec<&str> = def.tiers.iter().map(|t| t.as_str()).collect();
            return format!(
                "no pool has {} GPUs it accepts in tiers {}",
                def.gpus,
                tiers.join("/")
            );
        }
        if let Some(dataset) = def.dataset {
            if !sized.iter().any(|p| estate.may_hold(dataset, p.site)) {
                let data = &estate.datasets[dataset.index()];
                return format!(
                    "dataset {} may only be in {}; no pool large enough is there",
                    data.name,
                    data.residency.join(", ")
                );
            }
        }
        if let Some(dataset) = def.dataset {
            let reachable = |site: SiteId| {
                estate.datasets[dataset.index()].home == site
                    || self.staged.contains(&(dataset, site))
                    || estate.dataset_route(dataset, site).is_ok()
            };
            if !sized
                .iter()
                .any(|p| estate.may_hold(dataset, p.site) && reachable(p.site))
            {
                let data = &estate.datasets[dataset.index()];
                return format!(
                    "dataset {} cannot reach any site large enough (links or sites on the way are down)",
                    data.name
                );
            }
        }
        if state.needs_restore
            && state.progress_ns > 0
            && !sized
                .iter()
                .any(|p| self.reachable_copy(estate, job, p.site).is_some())
        {
            return "its checkpoint is only at sites that are down or unreachable; waiting for one".into();
        }
        format!("waiting for {} free GPUs", def.gpus)
    }

    /// Offers GPUs to one waiting job. Returns whether it left the queue (placed or failed).
    fn try_place<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
    ) -> Result<bool, KernelError> {
        let j = job as usize;
        let now = ctx.now();
        if self.jobs[j].hold_until > now {
            return Ok(false);
        }
        let candidates = self.candidates(estate, j);
        if candidates.is_empty() {
            let reason = self.why_waiting(estate, j);
            self.defer(now, decider, j, reason);
            return Ok(false);
        }
        let offered: Vec<PlacementCandidate> = candidates.iter().map(|c| c.0).collect();
        let request = self.place_request(now, j);
        let view = View::of_estate(now, estate);
        match decider.place(&view, &request, &offered) {
            PlaceOutcome::Place {
                index,
                alternatives,
                reason,
            } => {
                let (candidate, copy) = candidates[index];
                self.place(ctx, estate, decider, job, candidate, copy, (alternatives, reason))
            }
            PlaceOutcome::Wait(reason) => {
                self.defer(now, decider, j, reason);
                Ok(false)
            }
            PlaceOutcome::Reject(reason) => {
                self.end_failed(now, job, "reject", reason, decider);
                Ok(true)
            }
        }
    }

    /// What the policy is told about waiting job `j`.
    fn place_request(&self, now: SimTime, j: usize) -> PlaceRequest<'_> {
        let def = &self.jobs[j].def;
        PlaceRequest {
            id: JobId(j as u32),
            job: &def.name,
            class: def.class,
            gpus: def.gpus,
            priority: def.priority,
            remaining_gpu_hours: def.work_ns.saturating_sub(self.jobs[j].progress_ns) as f64
                * f64::from(def.gpus)
                / crate::workload::job::NANOS_PER_HOUR,
            now,
        }
    }

    /// Logs, once per spell of waiting, why job `j` waits.
    fn defer(&mut self, now: SimTime, decider: &mut Decider, j: usize, reason: String) {
        let state = &mut self.jobs[j];
        if !state.deferred {
            state.deferred = true;
            state.record.note.clone_from(&reason);
            decider.record(
                now,
                DecisionKind::Defer,
                state.def.name.clone(),
                "wait".into(),
                reason,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn place<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
        candidate: PlacementCandidate,
        copy: Option<(SiteId, u64)>,
        (alternatives, reason): (String, String),
    ) -> Result<bool, KernelError> {
        let j = job as usize;
        let now = ctx.now();
        let payer = self.jobs[j].payer(job);
        let gpus = self.jobs[j].def.gpus;
        // The candidate was eligible a moment ago in the same event, so this cannot fail; if it
        // did, the job simply keeps waiting.
        let Ok(allocation) = estate.allocate(now, candidate.pool, candidate.tier, gpus, payer) else {
            return Ok(false);
        };
        let pool_name = estate.pools[candidate.pool.index()].name.clone();
        let state = &mut self.jobs[j];
        state.placement += 1;
        state.deferred = false;
        state.pinned_site = None;
        state.record.note.clear();
        state.record.placements += 1;
        state.record.first_start.get_or_insert(now);
        state.holding = Some(Holding {
            allocation,
            pool: candidate.pool,
            tier: candidate.tier,
            site: candidate.site,
            speed: candidate.speed,
            since: now,
        });
        state.last_placement = Some((candidate.pool, candidate.tier));
        state.phase = Phase::Staging;
        state.phase_since = now;
        decider.record_with(
            now,
            DecisionKind::Place,
            state.def.name.clone(),
            format!("{pool_name}/{}", candidate.tier.as_str()),
            alternatives,
            reason,
        );
        if state.needs_restore {
            let (choice, reason) = match copy {
                Some((at, progress)) => {
                    state.progress_ns = progress;
                    (
                        format!("checkpoint at {}", estate.sites[at.index()].name),
                        format!(
                            "{:.1}% of the work is saved there",
                            progress as f64 / state.def.work_ns as f64 * 100.0
                        ),
                    )
                }
                None if state.progress_ns > 0 => {
                    state.progress_ns = 0;
                    (
                        "from zero".into(),
                        "no checkpoint copy is reachable; the job restarts from zero".into(),
                    )
                }
                None => ("from zero".into(), "no checkpoint had been written".into()),
            };
            decider.record(now, DecisionKind::Restore, state.def.name.clone(), choice, reason);
        }
        self.start_staging(ctx, estate, job, candidate.site, copy)?;
        Ok(true)
    }

    fn start_staging<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        job: u32,
        site: SiteId,
        copy: Option<(SiteId, u64)>,
    ) -> Result<(), KernelError> {
        let j = job as usize;
        let now = ctx.now();
        let state = &self.jobs[j];
        let tag = TransferTag {
            payer: Some(state.payer(job)),
            dataset: None,
            purpose: TransferPurpose::JobStaging {
                job,
                placement: state.placement,
            },
        };
        let mut transfers = Vec::new();
        if let Some(dataset) = state.def.dataset {
            let data = &estate.datasets[dataset.index()];
            if data.home != site && !self.staged.contains(&(dataset, site)) {
                if let Ok(route) = estate.dataset_route(dataset, site) {
                    transfers.push(FlowSpec {
                        from: data.home,
                        to: site,
                        bytes: data.size_bytes,
                        streams: TRANSFER_STREAMS,
                        route: Some(route),
                        tag: TransferTag {
                            dataset: Some(dataset),
                            ..tag
                        },
                    });
                }
            }
        }
        if let (Some((at, _)), Some(checkpoint)) = (copy, state.def.checkpoint) {
            if at != site && checkpoint.size_bytes > 0 {
                transfers.push(FlowSpec {
                    from: at,
                    to: site,
                    bytes: checkpoint.size_bytes,
                    streams: TRANSFER_STREAMS,
                    route: checkpoint_route(estate, state.def.dataset, at, site),
                    tag,
                });
            }
        }
        for spec in transfers {
            match estate.network.start_flow(now, spec) {
                Ok(id) => self.jobs[j].flows.push(id),
                // The route was usable when the candidate was listed; a refusal means the data
                // cannot move, so the job gives the GPUs back and waits.
                Err(_) => {
                    self.cancel_flows(now, estate, job);
                    self.release(now, estate, job);
                    self.requeue(now, job);
                    return Ok(());
                }
            }
        }
        if self.jobs[j].flows.is_empty() {
            self.staged_done(ctx, estate, job)?;
        }
        Ok(())
    }

    /// A staging transfer of `job`'s `placement` finished.
    pub fn staging_flow_done<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        job: u32,
        placement: u32,
        flow: FlowId,
    ) -> Result<(), KernelError> {
        let state = &mut self.jobs[job as usize];
        if state.placement != placement || state.phase != Phase::Staging {
            return Ok(());
        }
        state.flows.retain(|&f| f != flow);
        if state.flows.is_empty() {
            self.staged_done(ctx, estate, job)?;
        }
        Ok(())
    }

    fn staged_done<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &Estate,
        job: u32,
    ) -> Result<(), KernelError> {
        let j = job as usize;
        let state = &mut self.jobs[j];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        if let Some(dataset) = state.def.dataset {
            if estate.datasets[dataset.index()].home != holding.site {
                self.staged.insert((dataset, holding.site));
            }
        }
        let restore = state.def.checkpoint.map_or(0, |c| c.restore_ns);
        if state.needs_restore && restore > 0 {
            state.phase = Phase::Restoring;
            state.phase_since = ctx.now();
            self.set_timer(ctx, job, restore)
        } else {
            state.needs_restore = false;
            self.start_segment(ctx, job)
        }
    }

    fn set_timer<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: u32,
        delay_ns: u64,
    ) -> Result<(), KernelError> {
        let state = &mut self.jobs[job as usize];
        state.timer = state.timer.wrapping_add(1);
        // A very slow accelerator or write can put the end past the end of time: it then never
        // comes, and the run goes on.
        ctx.schedule_at(
            ctx.now().saturating_add(SimDuration::from_nanos(delay_ns)),
            JobEvent::Timer {
                job: JobId(job),
                timer: state.timer,
            }
            .into(),
        )
    }

    fn start_segment<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: u32,
    ) -> Result<(), KernelError> {
        let state = &mut self.jobs[job as usize];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        if let Some(i) = state.open_interruption.take() {
            self.interruptions[i].resumed = Some((ctx.now(), holding.site));
        }
        state.needs_restore = false;
        let remaining = state.def.work_ns.saturating_sub(state.progress_ns);
        let (segment, wall) = match state.def.checkpoint {
            Some(c) if (c.interval_ns as f64 * holding.speed) < remaining as f64 => (
                (c.interval_ns as f64 * holding.speed).round().max(1.0) as u64,
                c.interval_ns,
            ),
            _ => (remaining, (remaining as f64 / holding.speed).ceil() as u64),
        };
        state.segment_ns = segment;
        state.phase = Phase::Running;
        state.phase_since = ctx.now();
        self.set_timer(ctx, job, wall)
    }

    /// A job's timer fires: the end of a restore, a compute segment or a checkpoint write.
    fn timer<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
        timer: u32,
    ) -> Result<(), KernelError> {
        let state = &self.jobs[job as usize];
        if state.timer != timer {
            return Ok(());
        }
        match state.phase {
            Phase::Restoring => self.start_segment(ctx, job),
            Phase::Running => self.segment_done(ctx, estate, decider, job),
            Phase::Checkpointing => self.checkpoint_done(ctx, estate, decider, job),
            _ => Ok(()),
        }
    }

    fn segment_done<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job as usize];
        state.at_risk_ns += now.saturating_since(state.phase_since).as_nanos();
        match state.def.checkpoint {
            Some(c) => {
                state.phase = Phase::Checkpointing;
                state.phase_since = now;
                self.set_timer(ctx, job, c.write_ns)
            }
            None => {
                state.progress_ns += state.segment_ns;
                state.record.useful_gpu_ns += state.gpus() * u128::from(state.at_risk_ns);
                state.at_risk_ns = 0;
                self.complete(ctx, estate, decider, job)
            }
        }
    }

    fn checkpoint_done<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job as usize];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        state.record.checkpoint_gpu_ns +=
            state.gpus() * u128::from(now.saturating_since(state.phase_since).as_nanos());
        state.record.useful_gpu_ns += state.gpus() * u128::from(state.at_risk_ns);
        state.record.checkpoints += 1;
        state.at_risk_ns = 0;
        state.phase_since = now;
        state.progress_ns = (state.progress_ns + state.segment_ns).min(state.def.work_ns);
        state.segment_ns = 0;
        let progress = state.progress_ns;
        match state.copies.iter_mut().find(|(at, _)| *at == holding.site) {
            Some(copy) => copy.1 = progress,
            None => state.copies.push((holding.site, progress)),
        }
        self.replicate(now, estate, job, holding.site);
        let state = &mut self.jobs[job as usize];
        if progress >= state.def.work_ns {
            return self.complete(ctx, estate, decider, job);
        }
        if let Some(cause) = state.leaving.take() {
            return self.interrupt(ctx, estate, decider, job, cause);
        }
        self.start_segment(ctx, job)
    }

    fn replicate(&mut self, now: SimTime, estate: &mut Estate, job: u32, from: SiteId) {
        let state = &mut self.jobs[job as usize];
        let Some(checkpoint) = state.def.checkpoint else {
            return;
        };
        let Some(to) = checkpoint.replicate_to.filter(|&to| to != from) else {
            return;
        };
        if state.replica_flow.is_some() || checkpoint.size_bytes == 0 {
            return;
        }
        let Some(route) = checkpoint_route(estate, state.def.dataset, from, to) else {
            return;
        };
        let spec = FlowSpec {
            from,
            to,
            bytes: checkpoint.size_bytes,
            streams: TRANSFER_STREAMS,
            route: Some(route),
            tag: TransferTag {
                payer: Some(state.payer(job)),
                dataset: None,
                purpose: TransferPurpose::CheckpointReplica {
                    job,
                    progress_ns: state.progress_ns,
                },
            },
        };
        // No route now (a link or the replica site is down): this checkpoint stays unreplicated;
        // the next one tries again.
        state.replica_flow = estate.network.start_flow(now, spec).ok();
    }

    /// A checkpoint copy reached `site`.
    pub fn replica_done(&mut self, job: u32, site: SiteId, progress_ns: u64) {
        let state = &mut self.jobs[job as usize];
        state.replica_flow = None;
        match state.copies.iter_mut().find(|(at, _)| *at == site) {
            Some(copy) => copy.1 = copy.1.max(progress_ns),
            None => state.copies.push((site, progress_ns)),
        }
    }

    fn complete<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        self.release(now, estate, job);
        let state = &mut self.jobs[job as usize];
        state.phase = Phase::Completed;
        state.record.ended = Some(now);
        state.timer = state.timer.wrapping_add(1);
        self.place_waiting(ctx, estate, decider)
    }

    /// Ends `job` failed, noting and logging why.
    fn end_failed(&mut self, now: SimTime, job: u32, choice: &str, why: String, decider: &mut Decider) {
        let state = &mut self.jobs[job as usize];
        state.phase = Phase::Failed;
        state.record.ended = Some(now);
        state.timer = state.timer.wrapping_add(1);
        decider.record(
            now,
            DecisionKind::Fail,
            state.def.name.clone(),
            choice.into(),
            why.clone(),
        );
        state.record.note = why;
    }

    /// Gives the job's GPUs back, accounting the time held.
    fn release(&mut self, now: SimTime, estate: &mut Estate, job: u32) {
        let state = &mut self.jobs[job as usize];
        if let Some(holding) = state.holding.take() {
            estate.release(now, holding.allocation);
            state.record.held_gpu_ns +=
                state.gpus() * u128::from(now.saturating_since(holding.since).as_nanos());
        }
    }

    fn cancel_flows(&mut self, now: SimTime, estate: &mut Estate, job: u32) {
        for flow in std::mem::take(&mut self.jobs[job as usize].flows) {
            cancel_and_bill(now, estate, flow);
        }
    }

    /// Stops `job` now for `cause`: work since its last durable checkpoint is lost, its GPUs
    /// are released, and it waits to be placed again (or fails after too many interruptions).
    pub fn interrupt<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
        cause: InterruptCause,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job as usize];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        let in_phase = now.saturating_since(state.phase_since).as_nanos();
        match state.phase {
            Phase::Running => state.at_risk_ns += in_phase,
            Phase::Checkpointing => state.record.checkpoint_gpu_ns += state.gpus() * u128::from(in_phase),
            _ => {}
        }
        let lost_ns = state.at_risk_ns;
        state.record.lost_gpu_ns += state.gpus() * u128::from(lost_ns);
        state.at_risk_ns = 0;
        state.segment_ns = 0;
        state.leaving = None;
        state.evicting = None;
        state.record.interruptions[cause as usize] += 1;
        state.needs_restore = true;
        state.open_interruption = Some(self.interruptions.len());
        let lost_gpu_ns = state.gpus() * u128::from(lost_ns);
        self.interruptions.push(Interruption {
            job,
            at: now,
            cause,
            site: holding.site,
            lost_gpu_ns,
            resumed: None,
        });
        self.cancel_flows(now, estate, job);
        self.release(now, estate, job);
        let state = &mut self.jobs[job as usize];
        let pool = estate.pools[holding.pool.index()].name.clone();
        decider.record(
            now,
            DecisionKind::Interrupt,
            state.def.name.clone(),
            cause.as_str().into(),
            format!(
                "on {pool}/{}; {:.1} GPU-hours of compute since the last checkpoint lost",
                holding.tier.as_str(),
                state.gpus() as f64 * lost_ns as f64 / crate::workload::job::NANOS_PER_HOUR
            ),
        );
        let gave_up = state
            .def
            .max_interruptions
            .is_some_and(|max| state.record.interrupted() >= max);
        if gave_up {
            let why = format!("gave up after {} interruptions", state.record.interrupted());
            self.end_failed(now, job, "give up", why, decider);
        } else {
            state.timer = state.timer.wrapping_add(1);
            self.requeue(now, job);
        }
        self.place_waiting(ctx, estate, decider)
    }

    /// Warns `job` that it loses its GPUs in `notice`. With time to write a checkpoint it cuts
    /// its segment short and checkpoints, then leaves without losing work; otherwise it keeps
    /// going until the notice runs out and is interrupted then.
    pub fn preempt<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: u32,
        notice: SimDuration,
        cause: InterruptCause,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job as usize];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        let write_ns = state.def.checkpoint.map(|c| c.write_ns);
        match (state.phase, write_ns) {
            (Phase::Running, Some(write)) if write <= notice.as_nanos() => {
                let elapsed = now.saturating_since(state.phase_since).as_nanos();
                state.at_risk_ns += elapsed;
                state.segment_ns = ((elapsed as f64 * holding.speed) as u64).min(state.segment_ns);
                state.phase = Phase::Checkpointing;
                state.phase_since = now;
                state.leaving = Some(cause);
                self.set_timer(ctx, job, write)
            }
            (Phase::Checkpointing, Some(write))
                if now.saturating_since(state.phase_since).as_nanos() + notice.as_nanos() >= write =>
            {
                state.leaving = Some(cause);
                Ok(())
            }
            _ => {
                state.evicting = Some(cause);
                // Staging or restoring, nothing is at risk: the job gives the GPUs back at once
                // rather than start work it could not save.
                let delay = match state.phase {
                    Phase::Staging | Phase::Restoring => SimDuration::ZERO,
                    _ => notice,
                };
                ctx.schedule_at(
                    now.saturating_add(delay),
                    JobEvent::Eviction {
                        job: JobId(job),
                        placement: state.placement,
                    }
                    .into(),
                )
            }
        }
    }

    /// A preemption notice ran out.
    fn eviction<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: u32,
        placement: u32,
    ) -> Result<(), KernelError> {
        let state = &self.jobs[job as usize];
        match state.evicting {
            Some(cause) if state.placement == placement && state.holding.is_some() => {
                self.interrupt(ctx, estate, decider, job, cause)
            }
            _ => Ok(()),
        }
    }

    /// The job written one by one in the scenario as `name`, if it holds GPUs of `pool`.
    /// (Source jobs are not searched: their generated names may repeat a single job's.)
    pub fn holder_in_pool(&self, name: &str, pool: PoolId) -> Option<u32> {
        self.jobs[..self.singles]
            .iter()
            .position(|j| j.def.name == name && j.holding.is_some_and(|h| h.pool == pool))
            .map(|j| j as u32)
    }

    /// Jobs holding GPUs of `tier` in `pool`, lowest priority first.
    pub fn holders(&self, pool: PoolId, tier: Tier) -> Vec<u32> {
        let mut holders: Vec<u32> = (0..self.jobs.len() as u32)
            .filter(|&j| {
                self.jobs[j as usize]
                    .holding
                    .is_some_and(|h| h.pool == pool && h.tier == tier)
            })
            .collect();
        holders.sort_by_key(|&j| (self.jobs[j as usize].def.priority, j));
        holders
    }

    /// Releases every job's GPUs at the end of the run so their time is billed and accounted;
    /// compute in progress stays unaccounted as useful or lost (it is in `other`).
    pub fn release_all(&mut self, now: SimTime, estate: &mut Estate) {
        for job in 0..self.jobs.len() as u32 {
            let state = &mut self.jobs[job as usize];
            if state.holding.is_some() && state.phase == Phase::Checkpointing {
                let in_phase = now.saturating_since(state.phase_since).as_nanos();
                state.record.checkpoint_gpu_ns += state.gpus() * u128::from(in_phase);
            }
            self.cancel_flows(now, estate, job);
            if let Some(flow) = self.jobs[job as usize].replica_flow.take() {
                cancel_and_bill(now, estate, flow);
            }
            self.release(now, estate, job);
        }
    }

    /// Each job's state for the summary, as of `now` (the end of the run).
    pub fn views(&self, now: SimTime) -> impl Iterator<Item = JobView<'_>> {
        self.jobs.iter().map(move |j| JobView {
            class: j.def.class,
            outcome: j.outcome(),
            deadline_missed: j.deadline_missed(now),
            record: &j.record,
        })
    }

    /// Jobs waiting for GPUs now.
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// Jobs holding GPUs at `site`, in job order.
    pub fn holders_at(&self, site: SiteId) -> Vec<u32> {
        (0..self.jobs.len() as u32)
            .filter(|&j| self.jobs[j as usize].holding.is_some_and(|h| h.site == site))
            .collect()
    }
}

/// What policies see of jobs and may do to them.
impl Jobs {
    /// Jobs waiting or holding GPUs, as policies see them.
    pub fn infos(&self, estate: &Estate) -> Vec<JobInfo> {
        let mut out = Vec::new();
        for (j, state) in self.jobs.iter().enumerate() {
            let status = match state.phase {
                Phase::Waiting => JobStatus::Waiting,
                Phase::Staging | Phase::Restoring | Phase::Running | Phase::Checkpointing => {
                    JobStatus::Running
                }
                Phase::Pending | Phase::Completed | Phase::Failed => continue,
            };
            let current = state.holding.map(|h| PlacementCandidate {
                pool: h.pool,
                site: h.site,
                tier: h.tier,
                preference: state.def.tiers.iter().position(|&t| t == h.tier).unwrap_or(0) as u32,
                free: estate.pools[h.pool.index()].tier(h.tier).map_or(0, |t| t.free()),
                usd_per_gpu_hour: estate.pools[h.pool.index()]
                    .tier(h.tier)
                    .map_or(0.0, |t| t.price_per_gpu_hour),
                speed: h.speed,
                staging_bytes: 0,
                staging_s: 0.0,
            });
            let request = self.place_request(SimTime::ZERO, j);
            out.push(JobInfo {
                id: JobId(j as u32),
                name: state.def.name.clone(),
                class: state.def.class,
                gpus: state.def.gpus,
                priority: state.def.priority,
                preemptible: state.def.preemptible,
                status,
                current,
                checkpoint_sites: state.copies.iter().map(|c| c.0).collect(),
                remaining_gpu_hours: request.remaining_gpu_hours,
            });
        }
        out
    }

    /// Where `job` could be placed now if it moved. For a running job, moving to another site
    /// also means fetching the checkpoint it writes before it leaves.
    pub fn placements(&self, estate: &Estate, job: JobId) -> Vec<PlacementCandidate> {
        let Some(state) = self.jobs.get(job.0 as usize) else {
            return Vec::new();
        };
        let checkpoint = state.def.checkpoint.map_or(0, |c| c.size_bytes);
        let mut out: Vec<PlacementCandidate> = self
            .candidates(estate, job.0 as usize)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        if let (Some(holding), true) = (state.holding, checkpoint > 0) {
            for candidate in out.iter_mut().filter(|c| c.site != holding.site) {
                if let Some(route) = checkpoint_route(estate, state.def.dataset, holding.site, candidate.site)
                {
                    let mut staging = Staging {
                        bytes: candidate.staging_bytes,
                        seconds: candidate.staging_s,
                    };
                    staging.add(estate, &route, checkpoint);
                    candidate.staging_bytes = staging.bytes;
                    candidate.staging_s = staging.seconds;
                }
            }
        }
        out
    }

    /// Moves running `job`: it checkpoints (if it has checkpoints and is computing), gives its
    /// GPUs back and waits to be placed again. Whether the job was running.
    pub fn migrate<E: From<JobEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: JobId,
    ) -> Result<bool, KernelError> {
        let Some(state) = self.jobs.get(job.0 as usize) else {
            return Ok(false);
        };
        if state.holding.is_none() || state.leaving.is_some() || state.evicting.is_some() {
            return Ok(false);
        }
        let notice = SimDuration::from_nanos(state.def.checkpoint.map_or(0, |c| c.write_ns));
        self.preempt(ctx, job.0, notice, InterruptCause::Migration)?;
        Ok(true)
    }

    /// Keeps waiting `job` from being placed before `until`. Whether the job was waiting.
    pub fn hold(&mut self, job: JobId, until: SimTime) -> bool {
        match self.jobs.get_mut(job.0 as usize) {
            Some(state) if state.phase == Phase::Waiting => {
                state.hold_until = until;
                true
            }
            _ => false,
        }
    }

    /// Lifts every restore pin: a site came back, so every choice is open again.
    pub fn clear_restore_pins(&mut self) {
        for state in &mut self.jobs {
            state.pinned_site = None;
        }
    }

    /// Pins waiting, interrupted `job` to `site`, where a checkpoint copy must be reachable.
    /// Whether that holds.
    pub fn pin_restore(&mut self, estate: &Estate, job: JobId, site: SiteId) -> bool {
        let j = job.0 as usize;
        let Some(state) = self.jobs.get(j) else {
            return false;
        };
        if state.phase != Phase::Waiting
            || !state.needs_restore
            || self.reachable_copy(estate, j, site).is_none()
        {
            return false;
        }
        self.jobs[j].pinned_site = Some(site);
        true
    }
}
