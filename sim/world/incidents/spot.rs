//! The spot market of a run: a pool's spot tier loses GPUs to reclaims at a rate (each out of the
//! tier's capacity until it returns), follows an availability trace, or changes price; scripted
//! spot preemptions give holders notice.

use std::sync::Arc;

use crate::incident::FailureProcess;
use crate::incident::FailureSpec;
use crate::incident::price::PriceProcess;
use crate::incident::spot::{AvailabilityTrace, SpotPreemptionSpec};
use crate::infra::estate::AllocationId;
use crate::infra::ledger::Payer;
use crate::infra::pool::Pool;
use crate::infra::spec::{DEFAULT_RECLAIMED_FOR, PoolSpec};
use crate::kernel::{Context, KernelError, RngStreams, SimDuration, SimTime, StreamRng};
use crate::policy::Signal;
use crate::scenario::Resolved;
use crate::vocab::ids::PoolId;
use crate::vocab::{JobId, Tier, WorkloadClass};
use crate::workload::job::InterruptCause;

use super::effects::capacity_changed;
use super::failures::schedule_next;
use super::{EffectEvents, IncidentEvent, Incidents, Parts};

/// How a pool's spot tier loses capacity and changes price.
pub(super) struct SpotMarket {
    limit: u32,
    /// Reclaims at a rate per GPU: the failure process of the tier's positions.
    reclaims: Option<FailureProcess>,
    /// How long a GPU reclaimed at the rate stays out of the tier's capacity.
    reclaimed_for: SimDuration,
    availability: Option<Arc<AvailabilityTrace>>,
    price: Option<PriceProcess>,
    /// The price the pending `SpotPrice` event brings.
    next_price: Option<f64>,
    rng: StreamRng,
}

/// The spot market of a pool from its spec and its resolved traces and price process, if it
/// has a spot tier with anything that moves.
pub(super) fn spot_market(
    resolved: &Resolved,
    spec: &PoolSpec,
    pool: &Pool,
    streams: &RngStreams,
) -> Option<SpotMarket> {
    let spot = spec.spot.as_ref()?;
    if spot.preemption.is_none() && spot.price_process.is_none() {
        return None;
    }
    let inputs = resolved.spot(pool.id).cloned().unwrap_or_default();
    let (reclaims, availability) = match &spot.preemption {
        Some(SpotPreemptionSpec::Rate(rate)) => {
            // A reclaim is a failure of a spot position: the same thinned Poisson process.
            let spec = FailureSpec {
                gpu_mtbf: SimDuration::from_secs_f64(1.0 / rate.per_sec()).unwrap_or(SimDuration::MAX),
                repair: SimDuration::ZERO,
                shape: None,
            };
            let mut rng = streams.stream(&format!("spot/{}/reclaims", pool.name));
            (FailureProcess::new(&spec, spot.limit, &mut rng), None)
        }
        Some(SpotPreemptionSpec::Availability(_)) => (None, inputs.availability),
        None => (None, None),
    };
    let price = inputs.price;
    Some(SpotMarket {
        limit: u32::try_from(spot.limit).unwrap_or(u32::MAX),
        reclaimed_for: spot.reclaimed_for.unwrap_or(DEFAULT_RECLAIMED_FOR),
        next_price: price.as_ref().map(PriceProcess::initial_price),
        reclaims,
        availability,
        price,
        rng: streams.stream(&format!("spot/{}", pool.name)),
    })
}

impl Incidents {
    /// Schedules the first availability change and price move of a pool's spot market, now.
    pub(super) fn schedule_market<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        if let Some(market) = &self.spot[pool.index()] {
            if market.availability.is_some() {
                ctx.schedule_at(ctx.now(), IncidentEvent::SpotAvailability { pool }.into())?;
            }
            if market.price.is_some() {
                ctx.schedule_at(ctx.now(), IncidentEvent::SpotPrice { pool }.into())?;
            }
        }
        Ok(())
    }

    pub(super) fn schedule_reclaim<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        match &mut self.spot[pool.index()] {
            Some(SpotMarket {
                reclaims: Some(process),
                rng,
                ..
            }) => schedule_next(ctx, process, rng, |gpu| IncidentEvent::SpotReclaim { pool, gpu }),
            _ => Ok(()),
        }
    }

    /// The spot tier's reclaim process fires on GPU `gpu` of its limit: if it is in use, it
    /// leaves the tier's capacity for the market's `reclaimed_for` and its holder is preempted
    /// with the pool's notice (an inference replica is lost at once). Capacity goes first, so
    /// the holder cannot take the GPU back; until the notice runs out more is held than the tier
    /// has, as with an availability trace.
    pub(super) fn spot_reclaim<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        gpu: u32,
    ) -> Result<(), KernelError> {
        let in_use = parts.estate.pools[pool.index()]
            .tier(Tier::Spot)
            .map_or(0, |s| s.in_use);
        let holder = (gpu < in_use)
            .then(|| parts.estate.holder_of_gpu(pool, Tier::Spot, gpu))
            .flatten();
        if let Some((allocation, payer)) = holder {
            self.take_reclaimed_gpu(ctx, parts, pool)?;
            preempt_holder(ctx, parts, pool, allocation, payer)?;
        }
        self.schedule_reclaim(ctx, pool)
    }

    /// Takes one GPU out of a spot tier's capacity until the market's `reclaimed_for` has passed.
    fn take_reclaimed_gpu<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        let away = self.spot[pool.index()]
            .as_ref()
            .map_or(SimDuration::ZERO, |m| m.reclaimed_for);
        if away.is_zero() || parts.estate.change_capacity(pool, Tier::Spot, -1) != -1 {
            return Ok(());
        }
        capacity_changed(parts, pool, Tier::Spot);
        let back = IncidentEvent::SpotReturned { pool };
        ctx.schedule_at(ctx.now().saturating_add(away), back.into())
    }

    /// A reclaimed spot GPU is offered again: the tier gets it back and waiting jobs may take it.
    pub(super) fn spot_returned<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        parts.estate.change_capacity(pool, Tier::Spot, 1);
        capacity_changed(parts, pool, Tier::Spot);
        parts
            .serving
            .capacity_returned(ctx, parts.estate, parts.decider, pool, Tier::Spot)?;
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }

    /// The spot availability trace of a pool changes now: the tier's capacity follows it, and
    /// holders above it are preempted with the pool's notice, lowest priority first (capacity
    /// is below what is held until their notice runs out).
    pub(super) fn spot_availability<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        let Some((trace, limit)) = self.spot[pool.index()]
            .as_ref()
            .and_then(|m| m.availability.as_ref().map(|t| (t, m.limit)))
        else {
            return Ok(());
        };
        let now = ctx.now().since_start();
        let available = trace.gpus_at(now).min(limit);
        let next = trace.next_change(now);
        let Some((capacity, in_use)) = parts.estate.pools[pool.index()]
            .tier(Tier::Spot)
            .map(|s| (s.capacity, s.in_use))
        else {
            return Ok(());
        };
        parts
            .estate
            .change_capacity(pool, Tier::Spot, i64::from(available) - i64::from(capacity));
        capacity_changed(parts, pool, Tier::Spot);
        let mut over = in_use.saturating_sub(available);
        for job in parts.jobs.holders(pool, Tier::Spot) {
            if over == 0 {
                break;
            }
            over = over.saturating_sub(parts.jobs.jobs[job.index()].def.gpus);
            let notice = parts.estate.pools[pool.index()].spot_notice;
            give_spot_notice(ctx, parts, job, pool, notice)?;
        }
        if over > 0 {
            parts
                .serving
                .shed_replicas(ctx, parts.estate, parts.decider, pool, Tier::Spot, over)?;
        }
        if let Some((at, _)) = next {
            let availability = IncidentEvent::SpotAvailability { pool };
            ctx.schedule_at(SimTime::ZERO.saturating_add(at), availability.into())?;
        }
        parts
            .serving
            .capacity_returned(ctx, parts.estate, parts.decider, pool, Tier::Spot)?;
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }

    /// A pool's spot price moves now (at the start: to its first price).
    pub(super) fn spot_price<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let Some(SpotMarket {
            price: Some(process),
            next_price,
            rng,
            ..
        }) = &mut self.spot[pool.index()]
        else {
            return Ok(());
        };
        let price = next_price.take();
        if let Some((at, upcoming)) = process.next(now, rng) {
            *next_price = Some(upcoming);
            ctx.schedule_at(at, IncidentEvent::SpotPrice { pool }.into())?;
        }
        if let Some(price) = price {
            self.set_market_price(now, parts, pool, Tier::Spot, price);
        }
        Ok(())
    }

    /// A scripted spot preemption in `pool`: `job`, or every spot holder, gets `notice`.
    pub(super) fn preempt_spot<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        job: Option<JobId>,
        notice: SimDuration,
    ) -> Result<(), KernelError> {
        let targets = match job {
            Some(j) => parts.jobs.holding_in(j, pool).map(|_| j).into_iter().collect(),
            None => parts.jobs.holders(pool, Tier::Spot),
        };
        for j in targets {
            if parts.jobs.holding_in(j, pool) == Some(Tier::Spot) {
                give_spot_notice(ctx, parts, j, pool, notice)?;
            }
        }
        Ok(())
    }
}

/// The holder of a reclaimed spot GPU loses it: an inference replica at once, a job after the
/// pool's notice.
fn preempt_holder<E: EffectEvents>(
    ctx: &mut Context<'_, E>,
    parts: &mut Parts<'_>,
    pool: PoolId,
    allocation: AllocationId,
    payer: Payer,
) -> Result<(), KernelError> {
    if payer.class == WorkloadClass::Inference {
        parts
            .serving
            .replica_failed(ctx, parts.estate, parts.decider, allocation)?;
        return Ok(());
    }
    let notice = parts.estate.pools[pool.index()].spot_notice;
    give_spot_notice(ctx, parts, JobId(payer.workload), pool, notice)
}

/// Gives spot job `job` notice that it loses its GPUs in `pool`, and tells the policy.
fn give_spot_notice<E: EffectEvents>(
    ctx: &mut Context<'_, E>,
    parts: &mut Parts<'_>,
    job: JobId,
    pool: PoolId,
    notice: SimDuration,
) -> Result<(), KernelError> {
    parts
        .decider
        .signal(Signal::PreemptionNotice { job, pool, notice });
    parts
        .jobs
        .preempt(ctx, job, notice, InterruptCause::SpotPreemption)
}
