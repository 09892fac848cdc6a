//! Applying incidents to the running model: scripted incidents at their start times and the
//! random GPU failures of pools. What an incident *is* lives in `crate::incident`; this is where
//! it meets the estate and the jobs.

use crate::incident::{FailureProcess, IncidentKind, IncidentSpec};
use crate::infra::estate::Estate;
use crate::infra::ids::PoolId;
use crate::infra::pool::Tier;
use crate::kernel::{Context, KernelError, RngStreams, SimDuration, SimTime, StreamRng};
use crate::policy::DecisionLog;
use crate::scenario::Scenario;
use crate::scenario::schema::WorkloadClass;
use crate::workload::job::InterruptCause;

use super::Event;
use super::jobs::Jobs;

struct PoolFailures {
    process: FailureProcess,
    rng: StreamRng,
    repair: SimDuration,
    /// GPUs per tier at the start, in [`Tier::ALL`] order: the GPUs that can fail.
    nominal: [u32; 4],
}

/// What failed GPUs hit, counted over the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Failures of GPUs held by jobs.
    pub on_jobs: u64,
    /// Failures of idle owned or reserved GPUs (they go to repair).
    pub idle: u64,
    /// Failures of GPUs held by inference replicas, which this model does not interrupt.
    pub on_replicas: u64,
}

/// The incidents of a run.
pub struct Incidents {
    scripted: Vec<(IncidentSpec, StreamRng)>,
    failures: Vec<Option<PoolFailures>>,
    /// What failures hit.
    pub counts: FailureCounts,
}

fn pool_id(estate: &Estate, name: &str) -> Option<PoolId> {
    estate.pools.iter().find(|p| p.name == name).map(|p| p.id)
}

impl Incidents {
    /// Builds the incidents and failure processes of a checked scenario.
    pub fn build(scenario: &Scenario, estate: &Estate, streams: &RngStreams) -> Self {
        let failures = scenario
            .spec
            .pools
            .iter()
            .zip(&estate.pools)
            .map(|(spec, pool)| {
                let failures = spec.failures?;
                let nominal = Tier::ALL.map(|t| pool.tier(t).map_or(0, |s| s.capacity));
                let total = nominal.iter().map(|&n| u64::from(n)).sum();
                Some(PoolFailures {
                    process: FailureProcess::new(&failures, total)?,
                    rng: streams.stream(&format!("failures/{}", pool.name)),
                    repair: failures.repair,
                    nominal,
                })
            })
            .collect();
        let scripted = scenario
            .spec
            .incidents
            .iter()
            .map(|i| (i.clone(), streams.stream(&format!("incident/{}", i.name))))
            .collect();
        Incidents {
            scripted,
            failures,
            counts: FailureCounts::default(),
        }
    }

    /// Schedules each scripted incident and each pool's first failure.
    pub fn start(&mut self, ctx: &mut Context<'_, Event>) -> Result<(), KernelError> {
        for (index, (spec, _)) in self.scripted.iter().enumerate() {
            let at = SimTime::ZERO.saturating_add(spec.start);
            ctx.schedule_at(at.max(ctx.now()), Event::Incident { index: index as u32 })?;
        }
        for pool in 0..self.failures.len() {
            self.schedule_failure(ctx, pool)?;
        }
        Ok(())
    }

    fn schedule_failure(&mut self, ctx: &mut Context<'_, Event>, pool: usize) -> Result<(), KernelError> {
        if let Some(f) = &mut self.failures[pool] {
            let gap = f.process.next_gap(&mut f.rng);
            ctx.schedule_in(gap, Event::GpuFailure { pool: pool as u32 })?;
        }
        Ok(())
    }

    /// A pool's failure process fires: a GPU drawn uniformly fails.
    pub fn random_failure(
        &mut self,
        ctx: &mut Context<'_, Event>,
        estate: &mut Estate,
        jobs: &mut Jobs,
        log: &mut DecisionLog,
        pool: u32,
    ) -> Result<(), KernelError> {
        let Some(f) = &mut self.failures[pool as usize] else {
            return Ok(());
        };
        let victim = f.process.victim(&mut f.rng);
        self.fail_gpu_at(ctx, estate, jobs, log, PoolId(pool), victim)?;
        self.schedule_failure(ctx, pool as usize)
    }

    /// The `victim`-th GPU of the pool fails (counting tiers in order, each over the GPUs it
    /// had at the start; in-use GPUs first, then idle ones, then those in repair).
    fn fail_gpu_at(
        &mut self,
        ctx: &mut Context<'_, Event>,
        estate: &mut Estate,
        jobs: &mut Jobs,
        log: &mut DecisionLog,
        pool: PoolId,
        victim: u64,
    ) -> Result<(), KernelError> {
        let nominal = self.nominal(estate, pool);
        let mut index = victim;
        for (tier, count) in Tier::ALL.into_iter().zip(nominal) {
            let count = u64::from(count);
            if index >= count {
                index -= count;
                continue;
            }
            let Some(state) = estate.pools[pool.index()].tier(tier) else {
                return Ok(());
            };
            let (in_use, capacity) = (u64::from(state.in_use), u64::from(state.capacity));
            if index < in_use {
                return match estate.holder_of_gpu(pool, tier, index as u32) {
                    Some((_, payer)) if payer.class != WorkloadClass::Inference => {
                        self.counts.on_jobs += 1;
                        jobs.interrupt(ctx, estate, log, payer.workload, InterruptCause::Failure)?;
                        self.send_to_repair(ctx, estate, jobs, log, pool, tier)
                    }
                    _ => {
                        self.counts.on_replicas += 1;
                        Ok(())
                    }
                };
            }
            if index < capacity && tier.is_fixed() {
                self.counts.idle += 1;
                return self.send_to_repair(ctx, estate, jobs, log, pool, tier);
            }
            return Ok(());
        }
        Ok(())
    }

    fn nominal(&self, estate: &Estate, pool: PoolId) -> [u32; 4] {
        match &self.failures[pool.index()] {
            Some(f) => f.nominal,
            None => Tier::ALL.map(|t| estate.pools[pool.index()].tier(t).map_or(0, |s| s.capacity)),
        }
    }

    /// Takes a failed owned or reserved GPU out of service for the pool's repair time; cloud
    /// on-demand and spot GPUs are swapped by the provider.
    fn send_to_repair(
        &mut self,
        ctx: &mut Context<'_, Event>,
        estate: &mut Estate,
        jobs: &mut Jobs,
        log: &mut DecisionLog,
        pool: PoolId,
        tier: Tier,
    ) -> Result<(), KernelError> {
        let repair = self.failures[pool.index()]
            .as_ref()
            .map_or(SimDuration::ZERO, |f| f.repair);
        if tier.is_fixed() && !repair.is_zero() && estate.change_capacity(pool, tier, -1) == -1 {
            ctx.schedule_in(repair, Event::GpuRepaired { pool: pool.0, tier })?;
            return Ok(());
        }
        // Nothing left the pool: waiting jobs may take the GPUs the failed job released.
        jobs.place_waiting(ctx, estate, log)
    }

    /// A GPU comes back from repair.
    pub fn repaired(
        &mut self,
        ctx: &mut Context<'_, Event>,
        estate: &mut Estate,
        jobs: &mut Jobs,
        log: &mut DecisionLog,
        pool: u32,
        tier: Tier,
    ) -> Result<(), KernelError> {
        estate.change_capacity(PoolId(pool), tier, 1);
        jobs.place_waiting(ctx, estate, log)
    }

    /// Scripted incident `index` starts.
    pub fn scripted(
        &mut self,
        ctx: &mut Context<'_, Event>,
        estate: &mut Estate,
        jobs: &mut Jobs,
        log: &mut DecisionLog,
        index: u32,
    ) -> Result<(), KernelError> {
        let kind = self.scripted[index as usize].0.kind.clone();
        match kind {
            IncidentKind::GpuFailure { pool, job } => {
                let Some(pool) = pool_id(estate, &pool) else {
                    return Ok(());
                };
                match job.as_deref().and_then(|name| jobs.holder_in_pool(name, pool)) {
                    Some(j) => {
                        let tier = jobs.jobs[j as usize].holding.map_or(Tier::OnDemand, |h| h.tier);
                        self.counts.on_jobs += 1;
                        jobs.interrupt(ctx, estate, log, j, InterruptCause::Failure)?;
                        self.send_to_repair(ctx, estate, jobs, log, pool, tier)
                    }
                    None => {
                        let total: u64 = self.nominal(estate, pool).iter().map(|&n| u64::from(n)).sum();
                        if total == 0 {
                            return Ok(());
                        }
                        let rng = &mut self.scripted[index as usize].1;
                        let victim = rand::Rng::random_range(rng, 0..total);
                        self.fail_gpu_at(ctx, estate, jobs, log, pool, victim)
                    }
                }
            }
            IncidentKind::SpotPreemption { pool, job } => {
                let Some(pool) = pool_id(estate, &pool) else {
                    return Ok(());
                };
                let notice = estate.pools[pool.index()].spot_notice;
                let holders = jobs.holders(pool, Tier::Spot);
                for j in holders {
                    if job
                        .as_deref()
                        .is_none_or(|name| jobs.jobs[j as usize].def.name == name)
                    {
                        jobs.preempt(ctx, j, notice, InterruptCause::SpotPreemption)?;
                    }
                }
                Ok(())
            }
        }
    }
}
