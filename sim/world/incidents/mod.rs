//! Applying incidents to the running model: scripted incidents at their start (and their
//! reversal at their end), the random GPU failures of pools and the spot market. What an
//! incident *is* and which primitive effects it has lives in `crate::incident`; this is where
//! those effects meet the estate, the jobs and the services.
//!
//! - `mod.rs`: the events, the incidents' state, the handler, and the start and end of scripted
//!   incidents (their effects applied in order, undone in reverse order);
//! - `effects.rs`: applying one effect and undoing it, whatever the incident kind;
//! - `failures.rs`: GPU failures and repairs;
//! - `spot.rs`: spot reclaims, availability traces and price moves;
//! - `names.rs`: the scenario's names as the run's ids.

mod effects;
mod failures;
mod names;
mod spot;
#[cfg(test)]
mod tests;

pub(super) use names::RunNames;

use crate::incident::IncidentSpec;
use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, RngStreams, SimTime, StreamRng};
use crate::policy::{Decider, DecisionKind};
use crate::scenario::Resolved;
use crate::vocab::Tier;
use crate::vocab::ids::PoolId;

use super::jobs::{JobEvent, Jobs};
use super::serving::{Serving, ServingEvent};
use effects::Undo;
use failures::PoolFailures;
use spot::SpotMarket;

/// A scripted incident, by its position in the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentId(pub u32);

impl IncidentId {
    /// Its position in the scenario's list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What happens to the estate from outside: failures, repairs, scripted incidents and the spot
/// market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentEvent {
    /// A GPU of a pool fails (the pool's failure process).
    GpuFailure {
        /// The pool.
        pool: PoolId,
        /// Which of the pool's GPUs.
        gpu: u32,
    },
    /// A failed GPU is back in service.
    GpuRepaired {
        /// The pool.
        pool: PoolId,
        /// Its tier.
        tier: Tier,
    },
    /// A scripted incident starts.
    Begin {
        /// The incident.
        incident: IncidentId,
    },
    /// A scripted incident ends.
    End {
        /// The incident.
        incident: IncidentId,
    },
    /// The provider reclaims a spot GPU of a pool (the tier's preemption rate).
    SpotReclaim {
        /// The pool.
        pool: PoolId,
        /// Which of the tier's GPUs.
        gpu: u32,
    },
    /// A spot GPU reclaimed at the tier's rate is offered again.
    SpotReturned {
        /// The pool.
        pool: PoolId,
    },
    /// A pool's spot availability trace changes.
    SpotAvailability {
        /// The pool.
        pool: PoolId,
    },
    /// A pool's spot price process moves.
    SpotPrice {
        /// The pool.
        pool: PoolId,
    },
}

/// The events incidents schedule: their own, and those of the services and jobs they act on.
pub trait EffectEvents: From<IncidentEvent> + From<ServingEvent> + From<JobEvent> + Copy {}

impl<E: From<IncidentEvent> + From<ServingEvent> + From<JobEvent> + Copy> EffectEvents for E {}

/// The parts of the model an incident acts on.
pub struct Parts<'a> {
    /// The estate.
    pub estate: &'a mut Estate,
    /// The jobs.
    pub jobs: &'a mut Jobs,
    /// The services.
    pub serving: &'a mut Serving,
    /// The policy and its decision log.
    pub decider: &'a mut Decider,
}

/// What failed GPUs hit, counted over the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Failures of GPUs held by jobs.
    pub on_jobs: u64,
    /// Failures of GPUs held by inference replicas.
    pub on_replicas: u64,
    /// Failures of idle owned or reserved GPUs (they go to repair).
    pub idle: u64,
    /// Failures that hit a GPU already in repair, or an idle cloud GPU (no effect).
    pub void: u64,
}

impl FailureCounts {
    /// Failures that took effect.
    pub fn effective(&self) -> u64 {
        self.on_jobs + self.on_replicas + self.idle
    }
}

struct Scripted {
    spec: IncidentSpec,
    rng: StreamRng,
    /// How to undo what its effects changed, in the order they were applied.
    undo: Vec<Undo>,
}

/// The incidents of a run and the state they changed.
pub struct Incidents {
    scripted: Vec<Scripted>,
    failures: Vec<Option<PoolFailures>>,
    /// What failures hit, per pool.
    pub counts: Vec<FailureCounts>,
    /// Price multipliers in force per pool and tier (products of active price shocks).
    price_factors: Vec<[f64; 4]>,
    spot: Vec<Option<SpotMarket>>,
}

impl Incidents {
    /// Builds the incidents, failure processes and spot markets of a resolved scenario, whose
    /// traces and price processes are already loaded.
    pub fn build(resolved: &Resolved, estate: &Estate, streams: &RngStreams) -> Self {
        let scenario = resolved.scenario();
        let failures = scenario
            .spec
            .pools
            .iter()
            .zip(&estate.pools)
            .map(|(spec, pool)| failures::pool_failures(spec, pool, streams))
            .collect();
        let scripted = scenario
            .spec
            .incidents
            .iter()
            .map(|i| Scripted {
                spec: i.clone(),
                rng: streams.stream(&format!("incident/{}", i.name)),
                undo: Vec::new(),
            })
            .collect();
        let spot = scenario
            .spec
            .pools
            .iter()
            .zip(&estate.pools)
            .map(|(spec, pool)| spot::spot_market(resolved, spec, pool, streams))
            .collect();
        Incidents {
            scripted,
            failures,
            counts: vec![FailureCounts::default(); estate.pools.len()],
            price_factors: vec![[1.0; 4]; estate.pools.len()],
            spot,
        }
    }

    /// The scripted incidents, in scenario order.
    pub fn specs(&self) -> impl Iterator<Item = &IncidentSpec> {
        self.scripted.iter().map(|s| &s.spec)
    }

    /// Handles one incident event.
    pub fn handle<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        event: IncidentEvent,
    ) -> Result<(), KernelError> {
        match event {
            IncidentEvent::GpuFailure { pool, gpu } => self.random_failure(ctx, parts, pool, gpu),
            IncidentEvent::GpuRepaired { pool, tier } => self.repaired(ctx, parts, pool, tier),
            IncidentEvent::Begin { incident } => self.begin(ctx, parts, incident),
            IncidentEvent::End { incident } => self.end(ctx, parts, incident),
            IncidentEvent::SpotReclaim { pool, gpu } => self.spot_reclaim(ctx, parts, pool, gpu),
            IncidentEvent::SpotReturned { pool } => self.spot_returned(ctx, parts, pool),
            IncidentEvent::SpotAvailability { pool } => self.spot_availability(ctx, parts, pool),
            IncidentEvent::SpotPrice { pool } => self.spot_price(ctx, parts, pool),
        }
    }

    /// Schedules each scripted incident's start and end and each pool's first failure.
    pub fn start<E: EffectEvents>(&mut self, ctx: &mut Context<'_, E>) -> Result<(), KernelError> {
        for (index, scripted) in self.scripted.iter().enumerate() {
            let at = SimTime::ZERO.saturating_add(scripted.spec.start);
            let incident = IncidentId(index as u32);
            ctx.schedule_at(at.max(ctx.now()), IncidentEvent::Begin { incident }.into())?;
            if let Some(end) = scripted.spec.end().filter(|_| !scripted.spec.kind.is_instant()) {
                let end = SimTime::ZERO.saturating_add(end);
                ctx.schedule_at(end.max(ctx.now()), IncidentEvent::End { incident }.into())?;
            }
        }
        for pool in (0..self.failures.len()).map(|p| PoolId(p as u32)) {
            self.schedule_failure(ctx, pool)?;
            self.schedule_reclaim(ctx, pool)?;
            self.schedule_market(ctx, pool)?;
        }
        Ok(())
    }

    /// Scripted incident `incident` starts: its effects apply, in order.
    fn begin<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        incident: IncidentId,
    ) -> Result<(), KernelError> {
        let spec = &self.scripted[incident.index()].spec;
        parts.decider.record(
            ctx.now(),
            DecisionKind::Incident,
            spec.name.clone(),
            spec.kind.as_str().into(),
            "incident starts".into(),
        );
        let effects = spec
            .kind
            .effects(&RunNames::new(parts.estate, parts.serving, parts.jobs));
        let mut undo = Vec::with_capacity(effects.len());
        for effect in &effects {
            undo.push(self.apply(ctx, parts, incident, effect)?);
        }
        self.scripted[incident.index()].undo = undo;
        Ok(())
    }

    /// Scripted incident `incident` ends: what its effects changed goes back, in reverse order.
    fn end<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        incident: IncidentId,
    ) -> Result<(), KernelError> {
        let undo = std::mem::take(&mut self.scripted[incident.index()].undo);
        for step in undo.into_iter().rev() {
            self.undo(ctx, parts, step)?;
        }
        let spec = &self.scripted[incident.index()].spec;
        parts.decider.record(
            ctx.now(),
            DecisionKind::Incident,
            spec.name.clone(),
            spec.kind.as_str().into(),
            "incident ends; what it changed is restored".into(),
        );
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }
}
