//! Applying incidents to the running model: scripted incidents at their start (and their
//! reversal at their end) and the random GPU failures of pools. What an incident *is* lives in
//! `crate::incident`; this is where it meets the estate, the jobs and the services.

use crate::incident::price::PriceProcess;
use crate::incident::spot::{AvailabilityTrace, SpotPreemptionSpec};
use crate::incident::{CapacityTarget, FailureProcess, IncidentKind, IncidentSpec};
use crate::infra::estate::Estate;
use crate::infra::network::LinkCondition;
use crate::kernel::{Context, KernelError, RngStreams, SimDuration, SimTime, StreamRng};
use crate::policy::{Decider, DecisionKind, Signal};
use crate::scenario::Scenario;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{LinkId, PoolId, SiteId};
use crate::vocab::{JobId, ServiceId};
use crate::workload::job::InterruptCause;
use crate::workload::trace::TraceError;

use super::jobs::{JobEvent, Jobs};
use super::serving::{Serving, ServingEvent};

/// A scripted incident, by its position in the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentId(pub u32);

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
pub trait EffectEvents: From<IncidentEvent> + From<ServingEvent> + From<JobEvent> {}

impl<E: From<IncidentEvent> + From<ServingEvent> + From<JobEvent>> EffectEvents for E {}

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

/// How to undo an incident at its end.
#[derive(Debug, Clone, PartialEq)]
enum Undo {
    Nothing,
    Site(SiteId),
    Capacity {
        pool: PoolId,
        tier: Tier,
        removed: i64,
    },
    Price {
        targets: Vec<(PoolId, Tier)>,
        factor: f64,
    },
    Links(Vec<LinkId>),
    Surge {
        service: ServiceId,
        origin: Option<SiteId>,
    },
}

struct Scripted {
    spec: IncidentSpec,
    rng: StreamRng,
    undo: Undo,
}

/// How a pool's spot tier loses capacity and changes price.
struct SpotMarket {
    limit: u32,
    /// Reclaims at a rate per GPU: the failure process of the tier's positions.
    reclaims: Option<FailureProcess>,
    availability: Option<AvailabilityTrace>,
    price: Option<PriceProcess>,
    /// The price the pending `SpotPrice` event brings.
    next_price: Option<f64>,
    rng: StreamRng,
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

/// The spot market of a pool from its spec, if it has a spot tier with anything that moves.
fn spot_market(
    scenario: &Scenario,
    spec: &crate::infra::spec::PoolSpec,
    pool: &crate::infra::pool::Pool,
    streams: &RngStreams,
) -> Result<Option<SpotMarket>, TraceError> {
    let Some(spot) = &spec.spot else {
        return Ok(None);
    };
    if spot.preemption.is_none() && spot.price_process.is_none() {
        return Ok(None);
    }
    let (reclaims, availability) = match &spot.preemption {
        Some(SpotPreemptionSpec::Rate(rate)) => {
            // A reclaim is a failure of a spot position: the same thinned Poisson process.
            let spec = crate::incident::FailureSpec {
                gpu_mtbf: SimDuration::from_secs_f64(1.0 / rate.per_sec()).unwrap_or(SimDuration::MAX),
                repair: SimDuration::ZERO,
                shape: None,
            };
            let mut rng = streams.stream(&format!("spot/{}/reclaims", pool.name));
            (FailureProcess::new(&spec, spot.limit, &mut rng), None)
        }
        Some(SpotPreemptionSpec::Availability(trace)) => (
            None,
            Some(AvailabilityTrace::load(
                &scenario.resolve_path(&trace.path),
                trace,
            )?),
        ),
        None => (None, None),
    };
    let price = match &spot.price_process {
        Some(process) => Some(PriceProcess::new(process, spot.price.usd_per_hour(), |p| {
            scenario.resolve_path(p)
        })?),
        None => None,
    };
    Ok(Some(SpotMarket {
        limit: u32::try_from(spot.limit).unwrap_or(u32::MAX),
        next_price: price.as_ref().map(PriceProcess::initial_price),
        reclaims,
        availability,
        price,
        rng: streams.stream(&format!("spot/{}", pool.name)),
    }))
}

fn pool_id(estate: &Estate, name: &str) -> Option<PoolId> {
    estate.pools.iter().find(|p| p.name == name).map(|p| p.id)
}

fn site_id(estate: &Estate, name: &str) -> Option<SiteId> {
    estate.sites.iter().find(|s| s.name == name).map(|s| s.id)
}

impl Incidents {
    /// Builds the incidents, failure processes and spot markets of a checked scenario; reads
    /// their trace files.
    pub fn build(scenario: &Scenario, estate: &Estate, streams: &RngStreams) -> Result<Self, TraceError> {
        let failures = scenario
            .spec
            .pools
            .iter()
            .zip(&estate.pools)
            .map(|(spec, pool)| {
                let failures = spec.failures?;
                let nominal = Tier::ALL.map(|t| pool.tier(t).map_or(0, |s| s.capacity));
                let total = nominal.iter().map(|&n| u64::from(n)).sum();
                let mut rng = streams.stream(&format!("failures/{}", pool.name));
                Some(PoolFailures {
                    process: FailureProcess::new(&failures, total, &mut rng)?,
                    rng,
                    repair: failures.repair,
                    nominal,
                })
            })
            .collect();
        let scripted = scenario
            .spec
            .incidents
            .iter()
            .map(|i| Scripted {
                spec: i.clone(),
                rng: streams.stream(&format!("incident/{}", i.name)),
                undo: Undo::Nothing,
            })
            .collect();
        let spot = scenario
            .spec
            .pools
            .iter()
            .zip(&estate.pools)
            .map(|(spec, pool)| spot_market(scenario, spec, pool, streams))
            .collect::<Result<_, _>>()?;
        Ok(Incidents {
            scripted,
            failures,
            counts: vec![FailureCounts::default(); estate.pools.len()],
            price_factors: vec![[1.0; 4]; estate.pools.len()],
            spot,
        })
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
            IncidentEvent::GpuFailure { pool, gpu } => self.random_failure(ctx, parts, pool.0, gpu),
            IncidentEvent::GpuRepaired { pool, tier } => self.repaired(ctx, parts, pool.0, tier),
            IncidentEvent::Begin { incident } => self.begin(ctx, parts, incident.0),
            IncidentEvent::End { incident } => self.end(ctx, parts, incident.0),
            IncidentEvent::SpotReclaim { pool, gpu } => self.spot_reclaim(ctx, parts, pool.0, gpu),
            IncidentEvent::SpotAvailability { pool } => self.spot_availability(ctx, parts, pool.0),
            IncidentEvent::SpotPrice { pool } => self.spot_price(ctx, parts, pool.0),
        }
    }

    /// Schedules each scripted incident's start and end and each pool's first failure.
    pub fn start<E: EffectEvents>(&mut self, ctx: &mut Context<'_, E>) -> Result<(), KernelError> {
        for (index, scripted) in self.scripted.iter().enumerate() {
            let index = index as u32;
            let at = SimTime::ZERO.saturating_add(scripted.spec.start);
            let incident = IncidentId(index);
            ctx.schedule_at(at.max(ctx.now()), IncidentEvent::Begin { incident }.into())?;
            if let Some(end) = scripted.spec.end().filter(|_| !scripted.spec.kind.is_instant()) {
                let end = SimTime::ZERO.saturating_add(end);
                ctx.schedule_at(end.max(ctx.now()), IncidentEvent::End { incident }.into())?;
            }
        }
        for pool in 0..self.failures.len() {
            self.schedule_failure(ctx, pool)?;
            self.schedule_reclaim(ctx, pool)?;
            let pool_id = PoolId(pool as u32);
            if let Some(market) = &self.spot[pool] {
                if market.availability.is_some() {
                    let availability = IncidentEvent::SpotAvailability { pool: pool_id };
                    ctx.schedule_at(ctx.now(), availability.into())?;
                }
                if market.price.is_some() {
                    ctx.schedule_at(ctx.now(), IncidentEvent::SpotPrice { pool: pool_id }.into())?;
                }
            }
        }
        Ok(())
    }

    fn schedule_reclaim<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pool: usize,
    ) -> Result<(), KernelError> {
        match &mut self.spot[pool] {
            Some(SpotMarket {
                reclaims: Some(process),
                rng,
                ..
            }) => schedule_next(ctx, process, rng, |gpu| IncidentEvent::SpotReclaim {
                pool: PoolId(pool as u32),
                gpu,
            }),
            _ => Ok(()),
        }
    }

    /// The spot tier's reclaim process fires on GPU `gpu` of its limit: its holder, if any, is
    /// preempted with the pool's notice (an inference replica is lost at once).
    fn spot_reclaim<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: u32,
        gpu: u32,
    ) -> Result<(), KernelError> {
        let id = PoolId(pool);
        let in_use = parts.estate.pools[id.index()]
            .tier(Tier::Spot)
            .map_or(0, |s| s.in_use);
        if gpu < in_use {
            if let Some((allocation, payer)) = parts.estate.holder_of_gpu(id, Tier::Spot, gpu) {
                self.preempt_holder(ctx, parts, id, allocation, payer)?;
            }
        }
        self.schedule_reclaim(ctx, pool as usize)
    }

    fn preempt_holder<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        allocation: crate::infra::estate::AllocationId,
        payer: crate::infra::ledger::Payer,
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

    /// The spot availability trace of a pool changes now: the tier's capacity follows it, and
    /// holders above it are preempted with the pool's notice, lowest priority first (capacity
    /// is below what is held until their notice runs out).
    fn spot_availability<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: u32,
    ) -> Result<(), KernelError> {
        let id = PoolId(pool);
        let Some((trace, limit)) = self.spot[pool as usize]
            .as_ref()
            .and_then(|m| m.availability.as_ref().map(|t| (t, m.limit)))
        else {
            return Ok(());
        };
        let now = ctx.now().since_start();
        let available = trace.gpus_at(now).min(limit);
        let next = trace.next_change(now);
        let Some((capacity, in_use)) = parts.estate.pools[id.index()]
            .tier(Tier::Spot)
            .map(|s| (s.capacity, s.in_use))
        else {
            return Ok(());
        };
        parts
            .estate
            .change_capacity(id, Tier::Spot, i64::from(available) - i64::from(capacity));
        capacity_changed(parts, id, Tier::Spot);
        let mut over = in_use.saturating_sub(available);
        for job in parts.jobs.holders(id, Tier::Spot) {
            if over == 0 {
                break;
            }
            over = over.saturating_sub(parts.jobs.jobs[job.index()].def.gpus);
            let notice = parts.estate.pools[id.index()].spot_notice;
            give_spot_notice(ctx, parts, job, id, notice)?;
        }
        if over > 0 {
            parts
                .serving
                .shed_replicas(ctx, parts.estate, parts.decider, id, Tier::Spot, over)?;
        }
        if let Some((at, _)) = next {
            let availability = IncidentEvent::SpotAvailability { pool: PoolId(pool) };
            ctx.schedule_at(SimTime::ZERO.saturating_add(at), availability.into())?;
        }
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }

    /// A pool's spot price moves now (at the start: to its first price).
    fn spot_price<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let Some(SpotMarket {
            price: Some(process),
            next_price,
            rng,
            ..
        }) = &mut self.spot[pool as usize]
        else {
            return Ok(());
        };
        let price = next_price.take();
        if let Some((at, upcoming)) = process.next(now, rng) {
            *next_price = Some(upcoming);
            ctx.schedule_at(at, IncidentEvent::SpotPrice { pool: PoolId(pool) }.into())?;
        }
        if let Some(price) = price {
            self.set_market_price(now, parts, PoolId(pool), Tier::Spot, price);
        }
        Ok(())
    }

    fn schedule_failure<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pool: usize,
    ) -> Result<(), KernelError> {
        match &mut self.failures[pool] {
            Some(f) => schedule_next(ctx, &mut f.process, &mut f.rng, |gpu| IncidentEvent::GpuFailure {
                pool: PoolId(pool as u32),
                gpu,
            }),
            None => Ok(()),
        }
    }

    /// A pool's failure process fires: GPU `gpu` of the pool fails.
    fn random_failure<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: u32,
        gpu: u32,
    ) -> Result<(), KernelError> {
        self.fail_gpu_at(ctx, parts, PoolId(pool), u64::from(gpu))?;
        if let Some(f) = &mut self.failures[pool as usize] {
            let back = ctx.now().saturating_add(f.repair);
            f.process.renew(u64::from(gpu), back, &mut f.rng);
        }
        self.schedule_failure(ctx, pool as usize)
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
    fn repaired<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: u32,
        tier: Tier,
    ) -> Result<(), KernelError> {
        parts.estate.change_capacity(PoolId(pool), tier, 1);
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }

    /// Scripted incident `index` starts.
    fn begin<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        index: u32,
    ) -> Result<(), KernelError> {
        let kind = self.scripted[index as usize].spec.kind.clone();
        let name = self.scripted[index as usize].spec.name.clone();
        parts.decider.record(
            ctx.now(),
            DecisionKind::Incident,
            name,
            kind.as_str().into(),
            "incident starts".into(),
        );
        let undo = match kind {
            IncidentKind::SiteOutage { site } => match site_id(parts.estate, &site) {
                Some(site) => {
                    set_site(ctx, parts, site, false)?;
                    Undo::Site(site)
                }
                None => Undo::Nothing,
            },
            IncidentKind::CapacityShock { pool, tier, to } => match pool_id(parts.estate, &pool) {
                Some(pool) => self.shrink(ctx, parts, pool, tier, to)?,
                None => Undo::Nothing,
            },
            IncidentKind::PriceShock {
                tier,
                factor,
                pool,
                site,
                site_kind,
            } => {
                let targets: Vec<(PoolId, Tier)> = parts
                    .estate
                    .pools
                    .iter()
                    .filter(|p| p.tier(tier).is_some())
                    .filter(|p| pool.as_deref().is_none_or(|name| p.name == name))
                    .filter(|p| {
                        site.as_deref()
                            .is_none_or(|name| parts.estate.sites[p.site.index()].name == name)
                    })
                    .filter(|p| site_kind.is_none_or(|kind| parts.estate.sites[p.site.index()].kind == kind))
                    .map(|p| (p.id, tier))
                    .collect();
                self.scale_prices(ctx.now(), parts, &targets, factor);
                Undo::Price { targets, factor }
            }
            IncidentKind::LinkDegradation {
                link,
                bandwidth_factor,
                added_latency,
                loss,
            } => {
                let condition = LinkCondition {
                    up: true,
                    bandwidth_factor,
                    added_latency,
                    added_loss: loss,
                };
                let links = self.links(parts.estate, Some(&link), None);
                set_links(ctx.now(), parts.estate, &links, condition);
                Undo::Links(links)
            }
            IncidentKind::LinkDown { link, site } => {
                let links = self.links(parts.estate, link.as_deref(), site.as_deref());
                let down = LinkCondition {
                    up: false,
                    ..LinkCondition::NORMAL
                };
                set_links(ctx.now(), parts.estate, &links, down);
                Undo::Links(links)
            }
            IncidentKind::DemandSurge {
                service,
                origin,
                factor,
            } => {
                let origin = origin.as_deref().and_then(|o| site_id(parts.estate, o));
                match parts.serving.services.iter().position(|s| s.name == service) {
                    Some(service) => {
                        let service = ServiceId(service as u32);
                        parts.serving.set_demand_factor(ctx, service, origin, factor)?;
                        Undo::Surge { service, origin }
                    }
                    None => Undo::Nothing,
                }
            }
            IncidentKind::GpuFailure { pool, job } => {
                if let Some(pool) = pool_id(parts.estate, &pool) {
                    self.scripted_gpu_failure(ctx, parts, index, pool, job.as_deref())?;
                }
                Undo::Nothing
            }
            IncidentKind::SpotPreemption { pool, job } => {
                if let Some(pool) = pool_id(parts.estate, &pool) {
                    let notice = parts.estate.pools[pool.index()].spot_notice;
                    let targets = match job.as_deref() {
                        Some(name) => parts.jobs.holder_in_pool(name, pool).into_iter().collect(),
                        None => parts.jobs.holders(pool, Tier::Spot),
                    };
                    for j in targets {
                        if parts.jobs.jobs[j.index()]
                            .holding
                            .is_some_and(|h| h.tier == Tier::Spot)
                        {
                            give_spot_notice(ctx, parts, j, pool, notice)?;
                        }
                    }
                }
                Undo::Nothing
            }
        };
        self.scripted[index as usize].undo = undo;
        Ok(())
    }

    /// Scripted incident `index` ends: what it changed goes back.
    fn end<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        index: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let undo = std::mem::replace(&mut self.scripted[index as usize].undo, Undo::Nothing);
        match undo {
            Undo::Nothing => {}
            Undo::Site(site) => set_site(ctx, parts, site, true)?,
            Undo::Capacity { pool, tier, removed } => {
                parts.estate.change_capacity(pool, tier, removed);
                capacity_changed(parts, pool, tier);
            }
            Undo::Price { targets, factor } => self.scale_prices(now, parts, &targets, 1.0 / factor),
            Undo::Links(links) => set_links(now, parts.estate, &links, LinkCondition::NORMAL),
            Undo::Surge { service, origin } => parts.serving.set_demand_factor(ctx, service, origin, 1.0)?,
        }
        parts.decider.record(
            now,
            DecisionKind::Incident,
            self.scripted[index as usize].spec.name.clone(),
            self.scripted[index as usize].spec.kind.as_str().into(),
            "incident ends; what it changed is restored".into(),
        );
        parts.jobs.place_waiting(ctx, parts.estate, parts.decider)
    }

    /// Shrinks a tier to its target, interrupting holders above it; returns how to undo it.
    fn shrink<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        pool: PoolId,
        tier: Tier,
        to: CapacityTarget,
    ) -> Result<Undo, KernelError> {
        let Some(state) = parts.estate.pools[pool.index()].tier(tier) else {
            return Ok(Undo::Nothing);
        };
        let capacity = u64::from(state.capacity);
        let target = match to {
            CapacityTarget::Count(count) => count.min(capacity),
            CapacityTarget::Fraction(share) => {
                ((capacity as f64 * share.clamp(0.0, 1.0)).floor() as u64).min(capacity)
            }
        };
        // Capacity goes first, so holders that are interrupted cannot take it back.
        let removed = -parts
            .estate
            .change_capacity(pool, tier, target as i64 - capacity as i64);
        capacity_changed(parts, pool, tier);
        let over = |estate: &Estate| {
            estate.pools[pool.index()]
                .tier(tier)
                .map_or(0, |s| s.in_use.saturating_sub(s.capacity))
        };
        for job in parts.jobs.holders(pool, tier) {
            if over(parts.estate) == 0 {
                break;
            }
            parts.jobs.interrupt(
                ctx,
                parts.estate,
                parts.decider,
                job,
                InterruptCause::CapacityLoss,
            )?;
        }
        let excess = over(parts.estate);
        if excess > 0 {
            parts
                .serving
                .shed_replicas(ctx, parts.estate, parts.decider, pool, tier, excess)?;
        }
        Ok(Undo::Capacity { pool, tier, removed })
    }

    fn scale_prices(&mut self, now: SimTime, parts: &mut Parts<'_>, targets: &[(PoolId, Tier)], factor: f64) {
        for &(pool, tier) in targets {
            let factors = &mut self.price_factors[pool.index()];
            let Some(state) = parts.estate.pools[pool.index()].tier(tier) else {
                continue;
            };
            let market = state.price_per_gpu_hour / factors[tier as usize];
            factors[tier as usize] *= factor;
            set_price(now, parts, pool, tier, market * factors[tier as usize]);
        }
    }

    /// Sets the market price of a tier (a price process), keeping the shocks in force on top.
    pub fn set_market_price(
        &mut self,
        now: SimTime,
        parts: &mut Parts<'_>,
        pool: PoolId,
        tier: Tier,
        usd_per_gpu_hour: f64,
    ) {
        let factor = self.price_factors[pool.index()][tier as usize];
        set_price(now, parts, pool, tier, usd_per_gpu_hour * factor);
    }

    fn links(&self, estate: &Estate, link: Option<&str>, site: Option<&str>) -> Vec<LinkId> {
        let site = site.and_then(|s| site_id(estate, s));
        (0..estate.link_names.len() as u32)
            .map(LinkId)
            .filter(|&l| {
                link.is_some_and(|name| estate.link_names[l.index()] == name)
                    || site.is_some_and(|s| estate.network.touches(l, s))
            })
            .collect()
    }

    fn scripted_gpu_failure<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        index: u32,
        pool: PoolId,
        job: Option<&str>,
    ) -> Result<(), KernelError> {
        if let Some(j) = job.and_then(|name| parts.jobs.holder_in_pool(name, pool)) {
            let tier = parts.jobs.jobs[j.index()]
                .holding
                .map_or(Tier::OnDemand, |h| h.tier);
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
        let victim = rand::Rng::random_range(&mut self.scripted[index as usize].rng, 0..total);
        self.fail_gpu_at(ctx, parts, pool, victim)
    }
}

/// Schedules the next event of a failure (or reclaim) process, naming the GPU it hits.
fn schedule_next<E: EffectEvents>(
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

/// Takes a site down (or brings it back): its network links, its jobs and its replicas.
fn set_site<E: EffectEvents>(
    ctx: &mut Context<'_, E>,
    parts: &mut Parts<'_>,
    site: SiteId,
    up: bool,
) -> Result<(), KernelError> {
    let now = ctx.now();
    parts.estate.sites[site.index()].up = up;
    parts.decider.signal(if up {
        Signal::SiteUp { site }
    } else {
        Signal::SiteDown { site }
    });
    // The site id comes from the estate itself, so the network knows it.
    let _ = parts.estate.network.set_site_up(now, site, up);
    if up {
        parts.jobs.clear_restore_pins();
        parts.serving.site_up(ctx, parts.estate, parts.decider, site)?;
        return parts.jobs.place_waiting(ctx, parts.estate, parts.decider);
    }
    for job in parts.jobs.holders_at(site) {
        parts
            .jobs
            .interrupt(ctx, parts.estate, parts.decider, job, InterruptCause::SiteOutage)?;
    }
    parts.serving.site_down(ctx, parts.estate, parts.decider, site)
}

/// Sets a tier's price and tells the policy.
fn set_price(now: SimTime, parts: &mut Parts<'_>, pool: PoolId, tier: Tier, usd_per_gpu_hour: f64) {
    parts.estate.set_price(now, pool, tier, usd_per_gpu_hour);
    parts.decider.signal(Signal::PriceChange {
        pool,
        tier,
        usd_per_gpu_hour,
    });
}

/// Tells the policy a tier's capacity changed.
fn capacity_changed(parts: &mut Parts<'_>, pool: PoolId, tier: Tier) {
    let capacity = parts.estate.pools[pool.index()]
        .tier(tier)
        .map_or(0, |t| t.capacity);
    parts
        .decider
        .signal(Signal::CapacityChange { pool, tier, capacity });
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

fn set_links(now: SimTime, estate: &mut Estate, links: &[LinkId], condition: LinkCondition) {
    for &link in links {
        // Link ids come from the estate's own list.
        let _ = estate.network.set_link_condition(now, link, condition);
    }
}
