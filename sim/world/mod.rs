//! The assembled model of one run: the estate and everything that happens to it, driven by the
//! kernel. This is where events are dispatched to the subsystem that owns them: services and
//! jobs run from `serving/` and `jobs/` here, incidents from `incidents/`; the estate, specs,
//! policies and figures they use live in `infra`, `workload`, `policy` and `metrics`.

mod incidents;
mod jobs;
mod reactions;
mod record;
mod recovery;
mod serving;

pub use incidents::{EffectEvents, FailureCounts, IncidentEvent, IncidentId, Incidents, Parts};
pub use jobs::{
    Holding, JobEvent, JobState, JobStore, Jobs, JobsError, Phase, RETRY_INTERVAL, SourceId, TRANSFER_STREAMS,
};
pub use serving::{
    DemandId, Deployment, DeploymentId, LostReplica, RequestSlot, ServiceState, Serving, ServingError,
    ServingEvent,
};

pub use crate::metrics::record::RunOutcome;

use crate::infra::estate::{BILLING_PERIOD, Estate, TransferPurpose};
use crate::kernel::{
    Context, EventId, KernelError, Model, RNG_ALGORITHM, RngStreams, RunLimits, SimDuration, SimTime,
    Simulation, StopReason,
};
use crate::metrics::archive::{WindowArchive, WindowLayout, WindowRow};
use crate::metrics::timeseries::{CostCurves, sample_capacity};
use crate::metrics::{
    CostSummary, EstateSummary, InvariantSummary, SCHEMA_VERSION, ServiceSummary, Summary, TokenSummary,
};
use crate::policy::{Decider, Policy, Signal};
use crate::scenario::Resolved;
use crate::scenario::schema::LimitsSpec;
use crate::vocab::units::DataSize;

/// Everything that can happen in a run, by the subsystem that handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Services and their requests.
    Serving(ServingEvent),
    /// Training, fine-tuning and batch jobs.
    Jobs(JobEvent),
    /// Failures, repairs, scripted incidents and the spot market.
    Incident(IncidentEvent),
    /// The run's own clock: its start, billing, metrics windows, transfers and policy ticks.
    Clock(ClockEvent),
}

/// The run's own periodic and bookkeeping events, handled by the [`World`] itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockEvent {
    /// The run starts: first arrivals and autoscaler ticks are scheduled.
    Start,
    /// Reserved and owned GPUs are billed for the hour that ends now.
    BillingTick,
    /// A metrics window ends: replicas and utilization over it are recorded.
    WindowEnd,
    /// The earliest bulk transfer finishes now.
    TransfersDue,
    /// The policy's periodic control tick.
    PolicyTick,
}

impl From<ServingEvent> for Event {
    fn from(event: ServingEvent) -> Self {
        Event::Serving(event)
    }
}

impl From<JobEvent> for Event {
    fn from(event: JobEvent) -> Self {
        Event::Jobs(event)
    }
}

impl From<IncidentEvent> for Event {
    fn from(event: IncidentEvent) -> Self {
        Event::Incident(event)
    }
}

impl From<ClockEvent> for Event {
    fn from(event: ClockEvent) -> Self {
        Event::Clock(event)
    }
}

/// Failures of a run that are not the user's input: bugs or resource limits.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The kernel refused an operation.
    #[error("simulation kernel: {0}")]
    Kernel(#[from] KernelError),
    /// The services could not be built.
    #[error(transparent)]
    Serving(#[from] ServingError),
    /// The jobs could not be run.
    #[error(transparent)]
    Jobs(JobsError),
    /// A policy name that is not a built-in one.
    #[error("unknown policy \"{0}\"; built-in policies: {list}", list = crate::policy::BUILT_IN.join(", "))]
    UnknownPolicy(String),
    /// The run delivered its whole event budget before its horizon.
    #[error(
        "the run stopped after {limit} events, at {at_s:.0} s of its {horizon_s:.0} s horizon: far more events than its demand explains, as when failures, retries or scaling feed each other; run a shorter horizon and look for the loop in decisions.csv, or raise `limits.events` if the run is sound"
    )]
    EventBudget {
        /// The budget.
        limit: u64,
        /// Simulated seconds reached.
        at_s: f64,
        /// The horizon in seconds.
        horizon_s: f64,
    },
    /// More requests were alive at once than `limits.in_flight` allows.
    #[error(
        "more than {limit} requests were alive at once (travelling, queued or in service) at {at_s:.0} s: they arrive faster than the estate ends them, or the network holds them long; give the services more capacity, a `queue_limit` or a `timeout`, lower the demand, or raise `limits.in_flight` (about {bytes_per_request} bytes each) if you mean it"
    )]
    InFlight {
        /// The limit.
        limit: u64,
        /// Simulated seconds reached.
        at_s: f64,
        /// Memory per request alive.
        bytes_per_request: u64,
    },
    /// What grows with the horizon outgrew `limits.memory`.
    #[error(
        "the run holds {held_text} of open windows, unsettled window costs and spill buffers at {at_s:.0} s, more than `limits.memory` ({limit}); widen `metrics.window`, shorten `horizon`, or raise `limits.memory` if the machine has the room",
        held_text = crate::scenario::memory::human_bytes(*held)
    )]
    Memory {
        /// The limit.
        limit: DataSize,
        /// Bytes held.
        held: u64,
        /// Simulated seconds reached.
        at_s: f64,
    },
    /// An end-of-run invariant does not hold.
    #[error("invariant violated at the end of the run: {0}")]
    Invariant(String),
    /// The spill file of what the run records per charge or per window could not be written or
    /// read back.
    #[error(
        "the run's temporary spill file (cost ledger, per-window figures and cost, decisions, job rows) failed: {0}; free space in the temporary folder ({dir}) or point TMPDIR at a folder with room",
        dir = std::env::temp_dir().display()
    )]
    Spill(#[from] std::io::Error),
}

impl From<JobsError> for RunError {
    /// A kernel refusal met while handling jobs is the simulator's, like any other.
    fn from(error: JobsError) -> Self {
        match error {
            JobsError::Kernel(kernel) => RunError::Kernel(kernel),
            JobsError::TooMany { .. } => RunError::Jobs(error),
        }
    }
}

impl RunError {
    /// Whether the failure is in the user's input (a job source that makes too many jobs, a
    /// policy name) rather than in the simulator.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            RunError::Jobs(_)
                | RunError::UnknownPolicy(_)
                | RunError::EventBudget { .. }
                | RunError::InFlight { .. }
                | RunError::Memory { .. }
        )
    }
}

/// The model of a run.
pub struct World {
    /// The estate and its ledger.
    pub estate: Estate,
    /// Inference services and their requests.
    pub serving: Serving,
    /// Training, fine-tuning and batch jobs.
    pub jobs: Jobs,
    /// Scripted incidents and failure processes.
    pub incidents: Incidents,
    /// The figures of every metrics window closed so far, on disk.
    pub archive: WindowArchive,
    /// The cumulative cost of every metrics window settled so far, on disk.
    pub cost: CostCurves,
    /// The row of the window being closed, kept to reuse its allocations.
    row: WindowRow,
    /// The policy, and every decision taken.
    pub decisions: Decider,
    window: SimDuration,
    memory_limit: DataSize,
    transfers_due: Option<EventId>,
}

impl World {
    /// Builds the model of a resolved scenario with master seed `seed`, under the scenario's
    /// policy (the first, when it lists several).
    pub fn build(resolved: &Resolved, seed: u64) -> Result<Self, RunError> {
        Self::build_with(resolved, seed, scenario_policy(resolved))
    }

    /// Builds the model of a resolved scenario under `policy`. Reads no file: the traces were
    /// loaded when the scenario was resolved.
    pub fn build_with(resolved: &Resolved, seed: u64, policy: Box<dyn Policy>) -> Result<Self, RunError> {
        let mut estate = Estate::build(resolved.spec().estate());
        let streams = RngStreams::new(seed);
        let serving = Serving::build(resolved, &mut estate, &streams)?;
        let jobs = Jobs::build(resolved, &streams);
        let incidents = Incidents::build(resolved, &estate, &streams);
        let layout = WindowLayout {
            batched: serving.window_layout(),
            pools: estate.pools.len(),
        };
        Ok(World {
            estate,
            serving,
            jobs,
            incidents,
            archive: WindowArchive::new(layout.clone()),
            cost: CostCurves::new(resolved.spec().metrics.window),
            row: layout.empty_row(),
            decisions: Decider::new(policy).with_route_margin(resolved.spec().policies.route_margin),
            window: resolved.spec().metrics.window,
            memory_limit: resolved.spec().limits.memory,
            transfers_due: None,
        })
    }

    /// Bytes held for figures a run records as it goes: the open windows, the cost of the
    /// windows a bill still spans and the spill files' write buffers (window rows, ledger, cost
    /// curves, decisions, rows of ended jobs). None of it grows with the horizon; `limits.memory`
    /// bounds it.
    pub fn growing_bytes(&self) -> u64 {
        let decisions = self.decisions.log().memory_bytes();
        let cost_curves = self.cost.memory_bytes();
        self.serving.window_bytes()
            + cost_curves
            + self.archive.memory_bytes()
            + self.estate.ledger.memory_bytes()
            + decisions
            + self.jobs.rows_memory_bytes()
    }

    /// The width of a metrics window.
    pub fn window(&self) -> SimDuration {
        self.window
    }

    /// Keeps exactly one pending event at the next transfer completion.
    fn reschedule_transfers(&mut self, ctx: &mut Context<'_, Event>) -> Result<(), KernelError> {
        if let Some(id) = self.transfers_due.take() {
            ctx.cancel(id);
        }
        if let Some(at) = self.estate.network.next_completion() {
            self.transfers_due =
                Some(ctx.schedule_cancellable(at.max(ctx.now()), ClockEvent::TransfersDue.into())?);
        }
        Ok(())
    }

    fn finish_transfers(&mut self, ctx: &mut Context<'_, Event>) -> Result<(), KernelError> {
        self.transfers_due = None;
        for done in self.estate.network.take_completed(ctx.now()) {
            self.estate.bill_transfer(
                done.started,
                done.finished,
                &done.route,
                done.bytes as f64,
                done.tag.payer,
            );
            match done.tag.purpose {
                TransferPurpose::Other => {}
                TransferPurpose::JobStaging { job, placement } => {
                    self.jobs
                        .staging_flow_done(ctx, &mut self.estate, job, placement, done.id)?
                }
                TransferPurpose::CheckpointReplica { job, progress_ns } => {
                    self.jobs.replica_done(job, done.to, progress_ns)
                }
            }
        }
        self.jobs.retire_ended(&mut self.estate.ledger);
        self.reschedule_transfers(ctx)
    }

    /// Closes the next metrics window, which ends at `now`, and archives its figures; the cost
    /// curves settle the windows no charge to come can reach.
    fn close_window(&mut self, now: SimTime) -> std::io::Result<()> {
        let window = self.archive.closed() as usize;
        let row = &mut self.row;
        self.serving.close_window(now, window, &mut row.services);
        row.closed = true;
        row.backlog = self.serving.queued_total() + self.jobs.waiting_count() as u64;
        sample_capacity(&self.estate, &mut row.capacity);
        self.archive.push(row);
        let settled_until = self.estate.unbilled_since();
        (self.cost).update(&self.estate.ledger, settled_until, self.archive.closed())
    }

    /// Archives the windows that the horizon left open (requests only: no window end sampled
    /// them), so every request is in some window's figures.
    fn archive_open_windows(&mut self) {
        let empty = self.archive.layout().empty_row();
        let closed = self.archive.closed() as usize;
        for row in self.serving.take_open_windows(closed, &empty) {
            self.archive.push(&row);
        }
    }

    /// The first error met writing the ledger or the window archive to disk.
    fn spill_error(&self) -> Option<std::io::Error> {
        let error = (self.estate.ledger.spill_error())
            .or(self.archive.spill_error())
            .or(self.decisions.log().spill_error())
            .or(self.cost.spill_error())
            .or(self.jobs.spill_error());
        error.map(|e| std::io::Error::new(e.kind(), e.to_string()))
    }

    // The handlers of events other than serving's are kept out of line, as `Serving`'s off the
    // request path are (see there).

    /// Handles a job event, then lets the policy hear what it raised.
    #[inline(never)]
    fn handle_jobs(&mut self, ctx: &mut Context<'_, Event>, event: JobEvent) -> Result<(), RunError> {
        self.jobs
            .handle(ctx, &mut self.estate, &mut self.decisions, event)?;
        self.after_reactive_event(ctx)
    }

    /// Handles an incident event, then lets the policy hear what it raised.
    #[inline(never)]
    fn handle_incident(
        &mut self,
        ctx: &mut Context<'_, Event>,
        event: IncidentEvent,
    ) -> Result<(), RunError> {
        let mut parts = Parts {
            estate: &mut self.estate,
            jobs: &mut self.jobs,
            serving: &mut self.serving,
            decider: &mut self.decisions,
        };
        self.incidents.handle(ctx, &mut parts, event)?;
        self.after_reactive_event(ctx)
    }

    /// Handles one of the run's own clock events.
    #[inline(never)]
    fn handle_clock(&mut self, ctx: &mut Context<'_, Event>, event: ClockEvent) -> Result<(), RunError> {
        match event {
            ClockEvent::BillingTick => {
                self.estate.bill_until(ctx.now());
                ctx.schedule_in(BILLING_PERIOD, ClockEvent::BillingTick.into())?;
            }
            ClockEvent::Start => {
                self.serving.start(ctx)?;
                self.jobs.start(ctx)?;
                self.incidents.start(ctx)?;
                if let Some(every) = self.decisions.tick() {
                    ctx.schedule_in(every, ClockEvent::PolicyTick.into())?;
                }
            }
            ClockEvent::WindowEnd => {
                self.close_window(ctx.now())?;
                let held = self.growing_bytes();
                if held > self.memory_limit.bytes() {
                    return Err(RunError::Memory {
                        limit: self.memory_limit,
                        held,
                        at_s: ctx.now().as_secs_f64(),
                    });
                }
                ctx.schedule_in(self.window, ClockEvent::WindowEnd.into())?;
            }
            ClockEvent::TransfersDue => self.finish_transfers(ctx)?,
            ClockEvent::PolicyTick => {
                self.decisions.signal(Signal::Tick);
                if let Some(every) = self.decisions.tick() {
                    ctx.schedule_in(every, ClockEvent::PolicyTick.into())?;
                }
                self.after_reactive_event(ctx)?;
            }
        }
        Ok(())
    }

    /// After an event of jobs, incidents or the policy tick: the policy hears the signals it
    /// raised, and the pending transfer completion follows any transfer it started or stopped.
    fn after_reactive_event(&mut self, ctx: &mut Context<'_, Event>) -> Result<(), RunError> {
        self.deliver_signals(ctx)?;
        self.jobs.retire_ended(&mut self.estate.ledger);
        Ok(self.reschedule_transfers(ctx)?)
    }
}

impl Model for World {
    type Event = Event;
    type Error = RunError;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) -> Result<(), RunError> {
        match event {
            Event::Serving(event) => {
                self.serving
                    .handle(ctx, &mut self.estate, &mut self.decisions, event)?
            }
            Event::Jobs(event) => self.handle_jobs(ctx, event)?,
            Event::Incident(event) => self.handle_incident(ctx, event)?,
            Event::Clock(event) => self.handle_clock(ctx, event)?,
        }
        // Requests enter from serving and incident events; one comparison per event bounds
        // them wherever they come from.
        if let Some(limit) = self.serving.in_flight_exceeded() {
            return Err(RunError::InFlight {
                limit: limit as u64,
                at_s: ctx.now().as_secs_f64(),
                bytes_per_request: LimitsSpec::BYTES_PER_REQUEST,
            });
        }
        Ok(())
    }
}

/// Simulates `scenario` with master seed `seed` under its policy.
pub fn simulate(scenario: &Resolved, seed: u64) -> Result<RunOutcome, RunError> {
    simulate_with(scenario, seed, scenario_policy(scenario))
}

/// Simulates `scenario` with master seed `seed` under `policy`, which may be the user's own.
/// The random streams are named by what they drive, not drawn in policy order, so two runs
/// under different policies see the same arrivals, failures and preemptions (common random
/// numbers): differences between them are the policies'.
pub fn simulate_with(
    scenario: &Resolved,
    seed: u64,
    policy: Box<dyn Policy>,
) -> Result<RunOutcome, RunError> {
    let (mut sim, horizon) = prepare_with(scenario, seed, policy)?;
    let stop = sim.run(RunLimits::until(horizon).with_event_budget(scenario.event_budget()))?;
    conclude(scenario, seed, sim, stop)
}

/// Simulates like [`simulate_with`], in `PROGRESS_STEPS` equal steps of simulated time, and
/// tells `progress` the fraction done after each. Stopping at an instant delivers every event
/// at it, so the run is the same as in one go.
pub fn simulate_observed(
    scenario: &Resolved,
    seed: u64,
    policy: Box<dyn Policy>,
    progress: &mut dyn FnMut(f64),
) -> Result<RunOutcome, RunError> {
    let (mut sim, horizon) = prepare_with(scenario, seed, policy)?;
    let mut stop = StopReason::Horizon;
    for step in 1..=PROGRESS_STEPS {
        let until = if step == PROGRESS_STEPS {
            horizon
        } else {
            SimTime::from_nanos(horizon.as_nanos() / PROGRESS_STEPS * step)
        };
        let spent = sim.stats().events_processed;
        let budget = scenario.event_budget().saturating_sub(spent);
        stop = sim.run(RunLimits::until(until).with_event_budget(budget))?;
        progress(step as f64 / PROGRESS_STEPS as f64);
        if stop != StopReason::Horizon {
            break;
        }
    }
    conclude(scenario, seed, sim, stop)
}

/// Steps of [`simulate_observed`].
pub const PROGRESS_STEPS: u64 = 200;

/// The scenario's policy (the first when it lists several); the scenario check refused
/// unknown names, so an unknown one here falls back to the default.
pub fn scenario_policy(scenario: &Resolved) -> Box<dyn Policy> {
    let spec = scenario.spec();
    let name = spec
        .policy
        .as_ref()
        .and_then(|p| p.names().first())
        .map_or("lowest_latency", String::as_str);
    let names = scenario.names();
    crate::policy::built_in(name, &spec.policies, &names.sites, &names.services)
        .unwrap_or_else(|| Box::new(crate::policy::LowestLatency))
}

/// Builds the model of a run and schedules its first events; returns it with the horizon.
/// [`simulate`] is `prepare`, one `run` to the horizon, then [`conclude`]; driving the
/// simulation in steps between the two lets a caller watch the model as it goes.
pub fn prepare(scenario: &Resolved, seed: u64) -> Result<(Simulation<World>, SimTime), RunError> {
    prepare_with(scenario, seed, scenario_policy(scenario))
}

/// [`prepare`] under `policy`.
pub fn prepare_with(
    scenario: &Resolved,
    seed: u64,
    policy: Box<dyn Policy>,
) -> Result<(Simulation<World>, SimTime), RunError> {
    let horizon = SimTime::ZERO
        .checked_add(scenario.spec().horizon)
        .map_err(KernelError::from)?;
    let mut sim = Simulation::new(World::build_with(scenario, seed, policy)?);
    sim.schedule(
        SimTime::ZERO.saturating_add(BILLING_PERIOD),
        ClockEvent::BillingTick.into(),
    )?;
    sim.schedule(SimTime::ZERO, ClockEvent::Start.into())?;
    sim.schedule(
        SimTime::ZERO.saturating_add(scenario.spec().metrics.window),
        ClockEvent::WindowEnd.into(),
    )?;
    Ok((sim, horizon))
}

/// Ends a run that stopped for `stop`: releases every GPU still held at the horizon, bills up
/// to it, checks the end-of-run invariants, summarises, and records what the outputs need.
pub fn conclude(
    scenario: &Resolved,
    seed: u64,
    sim: Simulation<World>,
    stop: StopReason,
) -> Result<RunOutcome, RunError> {
    conclude_with_model(scenario, seed, sim, stop).map(|(outcome, _)| outcome)
}

/// [`conclude`], also returning the model as it ended, less what moved into the outcome's
/// record (ledger, decision log, per-window figures and samples, cost curves, jobs): for
/// looking at final model state that no output shows.
pub fn conclude_with_model(
    scenario: &Resolved,
    seed: u64,
    mut sim: Simulation<World>,
    stop: StopReason,
) -> Result<(RunOutcome, World), RunError> {
    let horizon = SimTime::ZERO.saturating_add(scenario.spec().horizon);
    if stop == StopReason::EventBudget {
        return Err(RunError::EventBudget {
            limit: scenario.event_budget(),
            at_s: sim.now().as_secs_f64(),
            horizon_s: horizon.as_secs_f64(),
        });
    }
    let world = sim.model_mut();
    world.serving.release_all(horizon, &mut world.estate);
    world.serving.settle_metrics();
    world.jobs.release_all(horizon, &mut world.estate);
    world.estate.bill_until(horizon);
    world.archive_open_windows();
    if let Some(e) = world.spill_error() {
        return Err(RunError::Spill(e));
    }
    let stats = sim.stats();
    let end = sim.now();
    let mut world = sim.into_model();
    check_invariants(&world)?;
    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        scenario: scenario.spec().name.clone(),
        seed,
        rng: RNG_ALGORITHM,
        policy: world.decisions.policy_name().to_string(),
        horizon_s: horizon.as_secs_f64(),
        end_time_s: end.as_secs_f64(),
        stop_reason: stop,
        kernel: stats,
        estate: EstateSummary::of(&world.estate),
        cost: CostSummary::of(&world.estate),
        services: service_summaries(&world, end.as_secs_f64()),
        jobs: world.jobs.class_summaries(|class| {
            let ledger = &world.estate.ledger;
            (
                ledger.by_class().get(&class).copied().unwrap_or(0.0),
                ledger.transfer_of_class(class),
            )
        })?,
        incidents: recovery::incident_summaries(&world, scenario.scenario(), horizon)?,
        invariants: InvariantSummary::held(),
    };
    let record = record::take_record(&mut world, horizon)?;
    Ok((RunOutcome { summary, record }, world))
}

/// [`simulate`], also returning the model as it ended (see [`conclude_with_model`]).
pub fn simulate_with_model(scenario: &Resolved, seed: u64) -> Result<(RunOutcome, World), RunError> {
    let (mut sim, horizon) = prepare(scenario, seed)?;
    let stop = sim.run(RunLimits::until(horizon).with_event_budget(scenario.event_budget()))?;
    conclude_with_model(scenario, seed, sim, stop)
}

fn check_invariants(world: &World) -> Result<(), RunError> {
    let ledger = &world.estate.ledger;
    let recomputed = ledger.recomputed_total()?;
    if (recomputed - ledger.total()).abs() > 1e-6 * recomputed.abs().max(1.0) {
        return Err(RunError::Invariant(format!(
            "the ledger does not add up: running total {} vs sum of entries {recomputed}",
            ledger.total()
        )));
    }
    for service in &world.serving.services {
        if !service.metrics.conserved() {
            return Err(RunError::Invariant(format!(
                "service {} ended more requests than arrived",
                service.name
            )));
        }
    }
    for pool in &world.estate.pools {
        for (tier, state) in pool.tiers() {
            if state.in_use > state.capacity.max(state.billed_count) {
                return Err(RunError::Invariant(format!(
                    "pool {} tier {} holds {} GPUs but has {}",
                    pool.name,
                    tier.as_str(),
                    state.in_use,
                    state.capacity
                )));
            }
        }
    }
    Ok(())
}

/// The summaries of every service of a finished run, by name.
fn service_summaries(world: &World, end_s: f64) -> std::collections::BTreeMap<String, ServiceSummary> {
    world
        .serving
        .services
        .iter()
        .map(|service| {
            let origins = world.serving.origin_names(service, &world.estate);
            let cost = world.estate.ledger.of_payer(service.payer);
            let (busy, ready) = service.deployments.iter().fold((0u128, 0u128), |(b, r), d| {
                let (db, dr) = d.slot_time();
                (b + db, r + dr)
            });
            let utilization = (ready > 0).then(|| busy as f64 / ready as f64);
            let mut summary = ServiceSummary::of(&service.metrics, &origins, service.slo, cost, utilization);
            summary.replicas = service.replicas_held.unwrap_or_default();
            summary.transfer = world.estate.ledger.transfer_of_payer(service.payer);
            summary.tokens = service.metrics.generated_tokens.map(|generated| TokenSummary {
                generated,
                per_s: generated as f64 / end_s.max(f64::MIN_POSITIVE),
                cost_per_1k_usd: (generated > 0).then(|| cost / generated as f64 * 1_000.0),
            });
            (service.name.clone(), summary)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Event;

    /// Events live inline in the future event list: a larger event is a larger heap entry on
    /// every push and pop. Sixteen bytes is what the flat enum of bare indices took.
    #[test]
    fn an_event_stays_sixteen_bytes() {
        assert!(
            std::mem::size_of::<Event>() <= 16,
            "{}",
            std::mem::size_of::<Event>()
        );
    }
}
