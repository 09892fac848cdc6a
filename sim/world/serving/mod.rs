//! Serving inference requests: arrival at an origin, routing through the policy, queueing for a
//! slot at the chosen deployment, service, and the response — or a fallback, or a failure. Also
//! replica cold starts and autoscaling, and what incidents do to replicas and requests (site
//! outages, replica losses, capacity shocks, demand surges).
//!
//! Every request ends exactly once: served, degraded (answered by the fallback) or failed with a
//! reason. A request times out if it is still waiting for a slot `timeout` after it arrived; a
//! request already in service finishes (late). Deadlines are watched at the front of each queue
//! and checked whenever a request leaves it; a request queued behind one with a later deadline
//! (origins at different distances reach a site out of deadline order) expires when it reaches
//! the front, late by at most the spread of the origins' one-way delays. Requests live in a slab
//! of reusable slots and queues hold slot numbers, so the steady state allocates nothing per
//! request. Each slot has a generation, bumped when its request ends, and events name the
//! generation they were scheduled for: a request that ended early (its replica was lost) leaves
//! a stale event behind that is ignored even once the slot is reused.
//!
//! This folder owns the run-time state of every service ([`Serving`]), its events
//! ([`ServingEvent`]) and their handler ([`Serving::handle`]). The handler takes a
//! [`Context`] over any event type that serving events convert into, so it never names the
//! world's event enum: it may import the estate, the kernel, metrics, the policy's decider and
//! the workload specs, never the rest of `world` or `incident`. It sits in `world`, not in
//! `workload`, because incident, policy, metrics and scenario import the workload specs: run-time
//! state that imports them back would close import cycles.

mod access;
mod batch;
mod build;
mod disruption;
mod event;
mod replicas;
mod requests;
mod routing;
mod windows;

pub use event::{DemandId, DeploymentId, RequestSlot, ServingEvent};

use std::collections::VecDeque;

use crate::infra::estate::{AllocationId, Estate};
use crate::infra::ledger::Payer;
use crate::infra::metering::MeterId;
use crate::kernel::{Context, KernelError, SimDuration, SimTime, StreamRng};
use crate::metrics::service::{ServiceMetrics, WindowStats};
use crate::policy::{Decider, RouteCandidate};
use crate::vocab::ServiceId;
use crate::vocab::Tier;
use crate::vocab::ids::{PoolId, SiteId};
use crate::workload::arrivals::{Arrival, ArrivalProcess};
use crate::workload::service::{AutoscaleSpec, PayloadSpec, ServiceTime};

/// Minimum TCP retransmission timeout: the delay a lost packet adds to a request.
const MIN_RETRANSMIT_TIMEOUT_NS: u64 = 200_000_000;

/// Why the serving model could not be built (a scenario the checks let through by mistake).
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// Initial replicas do not fit.
    #[error("service {service}: cannot place its initial replicas: {problem}")]
    Placement {
        /// The service.
        service: String,
        /// What is wrong.
        problem: String,
    },
}

/// A replica of a service. Its id is unique within the deployment and never reused, so a
/// cold-start completion cannot be mistaken for a later replica's.
#[derive(Debug, Clone)]
struct Replica {
    id: u32,
    allocation: AllocationId,
    ready: bool,
    /// Being scaled away: a batched replica takes no new sequences and goes once its own are
    /// done (a slot replica is removed only when idle, so it never drains).
    draining: bool,
    /// Its sequences, for a batched service (always empty otherwise).
    batch: batch::Batch,
}

/// A service's replicas in one pool, and the queue in front of them.
#[derive(Debug)]
pub struct Deployment {
    /// Its id among all services' deployments, which its events carry.
    id: DeploymentId,
    /// The site.
    pub site: SiteId,
    /// The pool the replicas' GPUs come from.
    pub pool: PoolId,
    /// The tier of the initial replicas.
    pub tier: Tier,
    /// Replicas per tier at the start of the run, restarted when the site comes back.
    initial: Vec<(Tier, u32)>,
    /// Replicas lost to GPU failures or shed by shortages that the pool could not replace at
    /// once, by [`Tier::index`]: they restart as the tier's capacity comes back.
    owed: [u32; 4],
    speed: f64,
    replicas: Vec<Replica>,
    next_replica_id: u32,
    slots_ready: u32,
    busy: u32,
    queue: VecDeque<RequestSlot>,
    /// When the pending queue-timeout event fires, if one is pending.
    timeout_watch: Option<SimTime>,
    busy_slot_ns: u128,
    /// When `busy_slot_ns` was last advanced.
    busy_since: SimTime,
    ready_slot_ns: u128,
    /// When `ready_slot_ns` and `kv_reserved_ns` were last advanced.
    last_change: SimTime,
    last_scale: SimTime,
    scaled_busy_slot_ns: u128,
    scaled_ready_slot_ns: u128,
    /// The fewest replicas the autoscaler leaves here (`keep_warm`), if not the service's min.
    floor: Option<u32>,
    /// KV-cache tokens per replica of a batched service (`u64::MAX`: unbounded or not batched).
    kv_capacity: u64,
    /// KV-cache tokens reserved now, over all replicas.
    kv_reserved: u64,
    kv_reserved_ns: u128,
    /// The most KV-cache tokens one replica had reserved at once.
    kv_peak: u64,
    /// Busy-slot, ready-slot and reserved-KV integrals at the last window's end.
    batching_marks: (u128, u128, u128),
}

impl Deployment {
    /// Advances the time integrals of busy and ready slots and of reserved KV tokens to `now`.
    fn integrate(&mut self, now: SimTime) {
        self.integrate_busy(now);
        let span = u128::from(now.saturating_since(self.last_change).as_nanos());
        self.ready_slot_ns += span * u128::from(self.slots_ready);
        self.kv_reserved_ns += span * u128::from(self.kv_reserved);
        self.last_change = now;
    }

    /// Advances the busy-slot integral alone to `now`: all a change of `busy` alone needs,
    /// which is what a request starting or ending service is. The other integrals catch up at
    /// the next [`integrate`](Self::integrate), to the same totals: they are sums of whole
    /// spans times counts that did not change in between.
    #[inline]
    fn integrate_busy(&mut self, now: SimTime) {
        let span = u128::from(now.saturating_since(self.busy_since).as_nanos());
        self.busy_slot_ns += span * u128::from(self.busy);
        self.busy_since = now;
    }

    /// Adds a replica holding `allocation`; returns its id.
    fn add_replica(&mut self, allocation: AllocationId, ready: bool) -> u32 {
        let id = self.next_replica_id;
        self.next_replica_id += 1;
        self.replicas.push(Replica {
            id,
            allocation,
            ready,
            draining: false,
            batch: batch::Batch::default(),
        });
        id
    }

    /// Ready replicas, not counting those draining.
    pub fn ready_replicas(&self) -> usize {
        self.replicas.iter().filter(|r| r.ready && !r.draining).count()
    }

    /// Replicas held that are not draining, ready or starting.
    fn kept_replicas(&self) -> usize {
        self.replicas.iter().filter(|r| !r.draining).count()
    }

    /// Replicas held, ready or starting.
    pub fn held_replicas(&self) -> usize {
        self.replicas.len()
    }

    /// Busy and ready slots now.
    pub fn slots(&self) -> (u32, u32) {
        (self.busy, self.slots_ready)
    }

    /// The most KV-cache tokens one replica had reserved at once, and a replica's capacity
    /// (`u64::MAX` when unbounded or not batched).
    pub fn kv_tokens(&self) -> (u64, u64) {
        (self.kv_peak, self.kv_capacity)
    }

    /// Busy and ready slot-nanoseconds so far, both as of the later of their last advances
    /// (the busy-slot integral may be ahead: see [`Deployment::integrate_busy`]).
    pub fn slot_time(&self) -> (u128, u128) {
        let at = self.busy_since.max(self.last_change);
        let since =
            |mark: SimTime, count: u32| u128::from(at.saturating_since(mark).as_nanos()) * u128::from(count);
        (
            self.busy_slot_ns + since(self.busy_since, self.busy),
            self.ready_slot_ns + since(self.last_change, self.slots_ready),
        )
    }
}

/// A request stream from one origin.
#[derive(Debug)]
struct Demand {
    /// Its id among all services' streams, which its arrivals carry.
    id: DemandId,
    origin: SiteId,
    process: ArrivalProcess,
    rng: StreamRng,
    next: Option<Arrival>,
    residency: Vec<String>,
    eligible: Vec<u32>,
    context_tokens: u32,
    generated_tokens: u32,
    /// The bytes its requests and responses carry (zero when not modelled).
    payload: PayloadSpec,
    /// The stream's site: where its requests go unless they spill over while it is full.
    site: Option<SiteId>,
    /// Bumped whenever an arrival is scheduled; only the arrival of the current epoch is live.
    epoch: u32,
    /// The route its requests take when the policy need not be asked, kept between requests.
    kept_route: Option<KeptRoute>,
}

/// The route a stream's requests take without asking the policy, and what it was worked out
/// from: for a stream with one deployment that may serve it, the route there; otherwise its
/// idle leader, the deployment that scores best (the earlier on a tie) for a policy routing by
/// lowest latency with every deployment idle. Only rare changes move it (sites, routes, ready
/// slots, or a request whose mean service time differs), so it is kept per stream and worked
/// out again when one of them changed.
#[derive(Debug, Clone, Copy)]
struct KeptRoute {
    /// [`Estate::routing_version`] and the service's ready-slot version it holds for.
    versions: (u64, u64),
    /// The mean service time (bits of the `f64`) an idle leader was scored with (0 for a
    /// stream's only deployment, which is not scored).
    mean_ns_bits: u64,
    /// The route to the deployment (its site, round trip and loss); `None` when it cannot
    /// serve (its site is down or unreachable) or a score does not compare.
    route: Option<routing::Route>,
}

enum Fallback {
    Service(ServiceId),
    EdgeCache { hit_ratio: f64, latency_ns: u64 },
}

/// One inference service at run time.
pub struct ServiceState {
    /// Its name.
    pub name: String,
    /// What happened to its requests.
    pub metrics: ServiceMetrics,
    /// Its deployments.
    pub deployments: Vec<Deployment>,
    /// Who pays for its GPUs.
    pub payer: Payer,
    /// Where the payloads it sends and receives are metered, when the scenario has payloads.
    meter: Option<MeterId>,
    /// The SLO percentile (e.g. 99.0) and bound, if any.
    pub slo: Option<(f64, SimDuration)>,
    /// Replicas held at the end of each metrics window so far: fewest, most and last.
    pub replicas_held: Option<crate::metrics::ReplicaSummary>,
    usage_marks: Vec<(u128, u128)>,
    time: ServiceTime,
    time_rng: StreamRng,
    demands: Vec<Demand>,
    fallback: Option<Fallback>,
    fallback_rng: StreamRng,
    timeout_ns: u64,
    queue_limit: u32,
    gpus_per_replica: u32,
    slots_per_replica: u32,
    model_bytes: u64,
    autoscale: Option<AutoscaleSpec>,
    last_degrade_logged: Option<SimTime>,
    /// A policy sends the service's requests to its fallback.
    degraded_by_policy: bool,
    /// Bumped whenever a deployment's ready slots change, so a stream's [`KeptRoute`] knows it
    /// is stale.
    ready_version: u64,
}

/// Where a request's outcome is counted besides its own service: the primary it stands in for.
#[derive(Debug, Clone, Copy)]
struct Primary {
    service: ServiceId,
    origin_index: u32,
    arrived: SimTime,
}

/// Where a request is; outages look requests up by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The slot is free.
    Free,
    /// On its way to its deployment (a `ReachSite` is pending).
    Travelling,
    /// Waiting in its deployment's queue.
    Queued,
    /// Holding a slot (a `ServiceDone` is pending).
    InService,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    generation: u32,
    stage: Stage,
    service: ServiceId,
    deployment: u32,
    origin_index: Option<u32>,
    arrived: SimTime,
    reached: SimTime,
    started: SimTime,
    first_token_ns: u64,
    one_way_ns: u64,
    network_ns: u64,
    context: u32,
    generated: u32,
    /// Bytes of its response, metered when it is sent back.
    response_bytes: u64,
    primary: Option<Primary>,
}

impl Request {
    /// The demand stream it came from among `services` (its primary's, for a fallback
    /// request).
    fn demand<'a>(&self, services: &'a [ServiceState]) -> &'a Demand {
        let (service, index) = match self.primary {
            Some(p) => (p.service, p.origin_index),
            None => (self.service, self.origin_index.unwrap_or(0)),
        };
        &services[service.index()].demands[index as usize]
    }
}

/// All services of a run.
///
/// The handlers off the path of a slot-served request (failures and fallbacks, asking the
/// policy, batching, timeouts, replicas and the autoscaler) are kept out of line
/// (`#[inline(never)]`): inlined into the request path's functions, they made those functions'
/// frames larger and their common case spill registers to the stack.
pub struct Serving {
    /// The services, in scenario order.
    pub services: Vec<ServiceState>,
    requests: Vec<Request>,
    free_requests: Vec<RequestSlot>,
    /// `limits.in_flight`: the slab never needs more slots than requests alive at once.
    in_flight_limit: usize,
    candidates: Vec<RouteCandidate>,
    candidate_deployments: Vec<u32>,
    network_rng: StreamRng,
    window: SimDuration,
    /// (service, deployment within it) of each [`DeploymentId`].
    deployment_ids: Vec<Position>,
    /// (service, stream within it) of each [`DemandId`].
    demand_ids: Vec<Position>,
    /// Requests of lost replicas of batched services, still held, to fail once the replica is
    /// gone.
    orphans: Vec<RequestSlot>,
    /// Scratch space for the sequences that finish at the end of a run, kept to spare an
    /// allocation per run.
    finished: Vec<(RequestSlot, u64)>,
    /// Every closed window's full figures per service, histograms included, when asked for
    /// ([`Serving::keep_windows`]).
    kept_windows: Option<Vec<Vec<WindowStats>>>,
}

impl Serving {
    /// Keeps every closed window's full figures, histograms included, besides archiving its
    /// summary: for checks against closed forms that need a window's whole distribution (batch
    /// means of a tail probability). Memory then grows with the horizon; runs never ask for it.
    pub fn keep_windows(&mut self) {
        self.kept_windows = Some(vec![Vec::new(); self.services.len()]);
        for service in &mut self.services {
            service.metrics.keep_window_queues();
        }
    }

    /// Service `service`'s closed windows' full figures, if [`Serving::keep_windows`] was
    /// called before the run.
    pub fn kept_windows(&self, service: usize) -> Option<&[WindowStats]> {
        Some(self.kept_windows.as_ref()?.get(service)?.as_slice())
    }

    /// Handles one serving event.
    pub fn handle<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        event: ServingEvent,
    ) -> Result<(), KernelError> {
        match event {
            ServingEvent::Arrival { demand, epoch } => {
                let (service, index) = self.demand_ids[demand.0 as usize];
                self.arrival(ctx, estate, decider, service, index, epoch)
            }
            ServingEvent::ReachSite { request, generation } => {
                self.reach_site(ctx, estate, decider, request, generation)
            }
            ServingEvent::ServiceDone { request, generation } => {
                self.service_done(ctx, estate, decider, request, generation)
            }
            ServingEvent::StepDone {
                deployment,
                replica,
                run,
            } => {
                let at = self.deployment_ids[deployment.0 as usize];
                self.step_done(ctx, estate, decider, at, replica, run)
            }
            ServingEvent::QueueTimeout { deployment } => {
                let (service, index) = self.deployment_ids[deployment.0 as usize];
                self.queue_timeout(ctx, estate, decider, service, index)
            }
            ServingEvent::ReplicaReady { deployment, replica } => {
                let (service, index) = self.deployment_ids[deployment.0 as usize];
                self.replica_ready(ctx, estate, decider, service, index, replica)
            }
            ServingEvent::Autoscale { service } => self.autoscale(ctx, estate, decider, service),
        }
    }

    /// Schedules every stream's first arrival and every autoscaler's first evaluation.
    pub fn start<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
    ) -> Result<(), KernelError> {
        for (s, service) in self.services.iter_mut().enumerate() {
            for demand in &mut service.demands {
                schedule_next(ctx, demand)?;
            }
            if let Some(scale) = &service.autoscale {
                let autoscale = ServingEvent::Autoscale {
                    service: service_id(s),
                };
                schedule_after(ctx, scale.interval, autoscale)?;
            }
        }
        Ok(())
    }
}

/// A replica taken out by [`Serving::stop_replica`]: where its replacement would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostReplica {
    /// Service index.
    pub service: ServiceId,
    /// Deployment index within the service.
    pub deployment: u32,
    /// The tier its GPUs came from.
    pub tier: Tier,
    /// The GPUs it gave back.
    pub gpus: u32,
}

/// The id of the service at `index` of the scenario's list (bounded by the checks' item limit).
fn service_id(index: usize) -> ServiceId {
    ServiceId(index as u32)
}

/// A deployment or demand stream by (service, index within the service).
type Position = (ServiceId, u32);

/// Schedules `event` after `delay`, which comes from the user's figures (service times, cold
/// starts) and may be absurdly long: past the end of the clock it is parked at the end of time,
/// beyond any horizon, so the run goes on and the request simply never finishes.
fn schedule_after<E: From<ServingEvent> + Copy>(
    ctx: &mut Context<'_, E>,
    delay: SimDuration,
    event: ServingEvent,
) -> Result<(), KernelError> {
    ctx.schedule_at(ctx.now().saturating_add(delay), event.into())
}

/// Draws a demand stream's next arrival from now and schedules it under a new epoch, so an
/// arrival scheduled before is void.
fn schedule_next<E: From<ServingEvent> + Copy>(
    ctx: &mut Context<'_, E>,
    demand: &mut Demand,
) -> Result<(), KernelError> {
    demand.epoch = demand.epoch.wrapping_add(1);
    demand.next = demand.process.next(ctx.now(), &mut demand.rng);
    let Some(next) = demand.next else {
        return Ok(());
    };
    let arrival = ServingEvent::Arrival {
        demand: demand.id,
        epoch: demand.epoch,
    };
    ctx.schedule_at(next.at.max(ctx.now()), arrival.into())
}

impl ServiceState {
    /// How long a new replica takes to start: the autoscaler's cold start, or `None` (ready at
    /// once) without an autoscaler.
    pub(super) fn replica_start(&self) -> Option<SimDuration> {
        let scale = self.autoscale.as_ref()?;
        Some(cold_start(self.model_bytes, scale))
    }
}

/// "service at site", the subject of scaling decisions.
fn subject(estate: &Estate, service: &ServiceState, deployment: u32) -> String {
    let site = service.deployments[deployment as usize].site;
    format!("{} at {}", service.name, estate.sites[site.index()].name)
}

/// Time for a new replica to load the model and start.
fn cold_start(model_bytes: u64, scale: &AutoscaleSpec) -> SimDuration {
    let load = model_bytes as f64 / scale.load_bandwidth.bytes_per_sec();
    SimDuration::from_secs_f64(load)
        .unwrap_or(SimDuration::MAX)
        .saturating_add(scale.start_overhead)
}
