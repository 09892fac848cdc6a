//! GPU failures: each pool's random failure process, scripted GPU failures, and repairs.

use crate::incident::{FailureProcess, FailureSpec};
use crate::infra::estate::Estate;
use crate::infra::pool::Pool;
use crate::infra::spec::PoolSpec;
use crate::kernel::{Context, KernelError, RngStreams, SimDuration, StreamRng};
use crate::vocab::ids::PoolId;
use crate::vocab::{JobId, Tier, WorkloadClass};
use crate::workload::job::InterruptCause;

use super::{EffectEvents, IncidentEvent, IncidentId, Incidents, Parts};

/// The failure process of one pool and what it needs.
pub(super) struct PoolFailures {
    process: FailureProcess,
    rng: StreamRng,
    repair: SimDuration,
    /// GPUs per tier at the start, in [`Tier::ALL`] order: the GPUs that can fail.
    nominal: [u32; 4],
}

/// The failure process of a pool from its spec, if it has one that can fail.
pub(super) fn pool_failures(spec: &PoolSpec, pool: &Pool, streams: &RngStreams) -> Option<PoolFailures> {
    let failures: FailureSpec = spec.failures?;
    let nominal = Tier::ALL.map(|t| pool.tier(t).map_or(0, |s| s.capacity));
    let total = nominal.iter().map(|&n| u64::from(n)).sum();
    let mut rng = streams.stream(&format!("failures/{}", pool.name));
    Some(PoolFailures {
        process: FailureProcess::new(&failures, total, &mut rng)?,
        rng,
        repair: failures.repair,
        nominal,
    })
}

/// Schedules the next event of a failure (or reclaim) process, naming the GPU it hits.
pub(super) fn schedule_next<E: EffectEvents>(
    ctx: &mut Context<'_, E>,
    process: &mut FailureProcess,
    rng: &mut StreamRng,
    event: impl FnOnce(u32) -> IncidentEvent,
) -> Result<(), KernelError> {
    match process.next_failure(ctx.now(), rng) {
        Some((at, gpu)) => ctx.schedule_at(at, event(u32::try_from(gpu).unwrap_or(u32::MAX)).into()),
        None => Ok(()),
    }
}

impl Incidents {
    pub(super) fn schedule_failure<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pool: PoolId,
    ) -> Result<(), KernelError> {
        match &mut self.failures[pool.index()] {
            Some(f) => schedule_next(ctx, &mut f.process, &mut f.rng, |gpu| IncidentEvent::GpuFailure {
                pool,
                gpu,
            }),
            None => Ok(()),
        }
    }

    /// A pool's failure process fires: GPU `gpu` of the pool fails.
    pub(super) fn random_failure<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        gpu: u32,
    ) -> Result<(), KernelError> {
        self.fail_gpu_at(ctx, parts, pool, u64::from(gpu))?;
        if let Some(f) = &mut self.failures[pool.index()] {
            let back = ctx.now().saturating_add(f.repair);
            f.process.renew(u64::from(gpu), back, &mut f.rng);
        }
        self.schedule_failure(ctx, pool)
    }

    /// The `victim`-th GPU of the pool fails (counting tiers in order, each over the GPUs it
    /// had at the start; in each, GPUs in use first, then idle ones, then those in repair).
    fn fail_gpu_at<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        victim: u64,
    ) -> Result<(), KernelError> {
        let nominal = self.nominal(parts.estate, pool);
        let renewal = matches!(
            self.failures[pool.index()].as_ref().map(|f| &f.process),
            Some(FailureProcess::Weibull { .. })
        );
        let mut index = victim;
        for (tier, count) in Tier::ALL.into_iter().zip(nominal) {
            let count = u64::from(count);
            if index >= count {
                index -= count;
                continue;
            }
            let Some(state) = parts.estate.pools[pool.index()].tier(tier) else {
                break;
            };
            let (in_use, capacity) = (u64::from(state.in_use), u64::from(state.capacity));
            // Renewal processes already spend the repair time in their clocks; their positions
            // map onto the GPUs in service.
            if renewal && capacity > 0 {
                index %= capacity;
            }
            if index < in_use {
                return self.fail_held_gpu(ctx, parts, pool, tier, index as u32);
            }
            if index < capacity && tier.is_fixed() {
                self.counts[pool.index()].idle += 1;
                return self.start_repair(ctx, parts.estate, pool, tier);
            }
            break;
        }
        self.counts[pool.index()].void += 1;
        Ok(())
    }

    fn fail_held_gpu<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        tier: Tier,
        index: u32,
    ) -> Result<(), KernelError> {
        let Some((allocation, payer)) = parts.estate.holder_of_gpu(pool, tier, index) else {
            return Ok(());
        };
        // The GPU leaves service before its holder restarts, so the restart cannot take it.
        self.start_repair(ctx, parts.estate, pool, tier)?;
        if payer.class == WorkloadClass::Inference {
            self.counts[pool.index()].on_replicas += 1;
            parts
                .serving
                .replica_failed(ctx, parts.estate, parts.decider, allocation)?;
            Ok(())
        } else {
            self.counts[pool.index()].on_jobs += 1;
            parts.jobs.interrupt(
                ctx,
                parts.estate,
                parts.decider,
                JobId(payer.workload),
                InterruptCause::Failure,
            )
        }
    }

    fn nominal(&self, estate: &Estate, pool: PoolId) -> [u32; 4] {
        match &self.failures[pool.index()] {
            Some(f) => f.nominal,
            None => Tier::ALL.map(|t| estate.pools[pool.index()].tier(t).map_or(0, |s| s.capacity)),
        }
    }

    /// Takes a failed owned or reserved GPU out of service for the pool's repair time (cloud
    /// on-demand and spot GPUs are swapped by the provider at once).
    fn start_repair<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        pool: PoolId,
        tier: Tier,
    ) -> Result<(), KernelError> {
        let repair = self.failures[pool.index()]
            .as_ref()
            .map_or(SimDuration::ZERO, |f| f.repair);
        if tier.is_fixed() && !repair.is_zero() && estate.change_capacity(pool, tier, -1) == -1 {
            ctx.schedule_at(
                ctx.now().saturating_add(repair),
                IncidentEvent::GpuRepaired { pool, tier }.into(),
            )?;
        }
        Ok(())
    }

    /// A GPU comes back from repair.
    pub(super) fn repaired<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        tier: Tier,
    ) -> Result<(), KernelError> {
        parts.estate.change_capacity(pool, tier, 1);
        // The replicas it took come back first: they held the GPU before any waiting job.
        parts
            .serving
            .capacity_returned(ctx, parts.estate, parts.decider, pool, tier)?;
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }

    /// A scripted GPU failure in `pool`: a GPU of `job` if it runs there, otherwise one drawn
    /// from the incident's own random stream.
    pub(super) fn scripted_gpu_failure<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        incident: IncidentId,
        pool: PoolId,
        job: Option<JobId>,
    ) -> Result<(), KernelError> {
        let held = job.and_then(|j| parts.jobs.holding_in(j, pool).map(|tier| (j, tier)));
        if let Some((j, tier)) = held {
            self.counts[pool.index()].on_jobs += 1;
            self.start_repair(ctx, parts.estate, pool, tier)?;
            return parts
                .jobs
                .interrupt(ctx, parts.estate, parts.decider, j, InterruptCause::Failure);
        }
        let total: u64 = self
            .nominal(parts.estate, pool)
            .iter()
            .map(|&n| u64::from(n))
            .sum();
        if total == 0 {
            return Ok(());
        }
        let victim = rand::Rng::random_range(&mut self.scripted[incident.index()].rng, 0..total);
        self.fail_gpu_at(ctx, parts, pool, victim)
    }
}
