//! The assembled model of one run: the estate and everything that happens to it, driven by the
//! kernel. This is where events are dispatched to the subsystem that owns them; the subsystems
//! themselves live in `infra`, `workload`, `incident` and `policy`.

use crate::infra::estate::{BILLING_PERIOD, Estate};
use crate::kernel::{Context, EventId, KernelError, Model, RNG_ALGORITHM, RunLimits, SimTime, Simulation};
use crate::metrics::{CostSummary, EstateSummary, SCHEMA_VERSION, Summary};
use crate::scenario::Scenario;

/// Everything that can happen in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Reserved and owned GPUs are billed for the hour that ends now.
    BillingTick,
    /// The earliest bulk transfer finishes now.
    TransfersDue,
}

/// Failures of a run that are not the user's input: bugs or resource limits.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The kernel refused an operation.
    #[error("simulation kernel: {0}")]
    Kernel(#[from] KernelError),
    /// An end-of-run invariant does not hold.
    #[error("invariant violated at the end of the run: {0}")]
    Invariant(String),
}

/// The model of a run.
pub struct World {
    /// The estate and its ledger.
    pub estate: Estate,
    transfers_due: Option<EventId>,
}

impl World {
    /// Builds the model of a checked scenario.
    pub fn build(scenario: &Scenario) -> Self {
        World {
            estate: Estate::build(scenario),
            transfers_due: None,
        }
    }

    /// Keeps exactly one pending event at the next transfer completion.
    fn reschedule_transfers(&mut self, ctx: &mut Context<'_, Event>) -> Result<(), KernelError> {
        if let Some(id) = self.transfers_due.take() {
            ctx.cancel(id);
        }
        if let Some(at) = self.estate.network.next_completion() {
            self.transfers_due = Some(ctx.schedule_at(at.max(ctx.now()), Event::TransfersDue)?);
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
        }
        self.reschedule_transfers(ctx)
    }
}

impl Model for World {
    type Event = Event;
    type Error = RunError;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) -> Result<(), RunError> {
        match event {
            Event::BillingTick => {
                self.estate.bill_until(ctx.now());
                ctx.schedule_in(BILLING_PERIOD, Event::BillingTick)?;
            }
            Event::TransfersDue => self.finish_transfers(ctx)?,
        }
        Ok(())
    }
}

/// The outcome of a run.
pub struct RunOutcome {
    /// The headline figures.
    pub summary: Summary,
    /// The model as it was at the end (ledger, estate state).
    pub world: World,
}

/// Simulates `scenario` with master seed `seed`.
pub fn simulate(scenario: &Scenario, seed: u64) -> Result<RunOutcome, RunError> {
    let horizon = SimTime::ZERO
        .checked_add(scenario.spec.horizon)
        .map_err(KernelError::from)?;
    let mut sim = Simulation::new(World::build(scenario));
    sim.schedule(SimTime::ZERO.saturating_add(BILLING_PERIOD), Event::BillingTick)?;
    let stop = sim.run(RunLimits::until(horizon))?;
    sim.model_mut().estate.bill_until(horizon);
    let stats = sim.stats();
    let end = sim.now();
    let world = sim.into_model();
    check_invariants(&world)?;
    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        scenario: scenario.spec.name.clone(),
        seed,
        rng: RNG_ALGORITHM,
        horizon_s: horizon.as_secs_f64(),
        end_time_s: end.as_secs_f64(),
        stop_reason: stop,
        kernel: stats,
        estate: EstateSummary::of(&world.estate),
        cost: CostSummary::of(&world.estate),
    };
    Ok(RunOutcome { summary, world })
}

fn check_invariants(world: &World) -> Result<(), RunError> {
    let ledger = &world.estate.ledger;
    let recomputed = ledger.recomputed_total();
    if (recomputed - ledger.total()).abs() > 1e-6 * recomputed.abs().max(1.0) {
        return Err(RunError::Invariant(format!(
            "the ledger does not add up: running total {} vs sum of entries {recomputed}",
            ledger.total()
        )));
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
