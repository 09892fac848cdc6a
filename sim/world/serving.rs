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

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::sync::Arc;

use rand::Rng;

use crate::infra::estate::{AllocationId, Estate};
use crate::infra::ledger::Payer;
use crate::infra::spec::within_residency;
use crate::kernel::{Context, KernelError, RngStreams, SimDuration, SimTime, StreamRng};
use crate::metrics::service::{FailReason, LatencyParts, ServiceMetrics};
use crate::policy::{Decider, DecisionKind, RouteCandidate, RouteRequest, View};
use crate::scenario::Scenario;
use crate::vocab::ServiceId;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{PoolId, SiteId};
use crate::workload::arrivals::{Arrival, ArrivalProcess};
use crate::workload::service::{AutoscaleSpec, FallbackSpec, ServiceSpec, ServiceTime, ServiceTimeSpec};
use crate::workload::trace::Trace;

/// A deployment: one service's replicas in one pool, by its position among all services'
/// deployments (services in scenario order, then each service's deployments in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeploymentId(pub u32);

/// A demand stream: one service's requests from one origin, by its position among all
/// services' streams (services in scenario order, then each service's streams in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DemandId(pub u32);

/// A slot of the request slab. Slots are reused; the generation that goes with a slot in every
/// event tells a live request from one that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestSlot(pub u32);

/// What happens to services and their requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingEvent {
    /// A request of a service arrives from one of its demand streams.
    Arrival {
        /// The demand stream.
        demand: DemandId,
        /// The stream's epoch when it was scheduled; an arrival of an earlier epoch was
        /// withdrawn by a rate change and is ignored.
        epoch: u32,
    },
    /// A request reaches the site that will serve it.
    ReachSite {
        /// Request slot.
        request: RequestSlot,
        /// The slot's generation; an event of an earlier one is stale and ignored.
        generation: u32,
    },
    /// A request finishes service.
    ServiceDone {
        /// Request slot.
        request: RequestSlot,
        /// The slot's generation; an event of an earlier one is stale and ignored.
        generation: u32,
    },
    /// The oldest waiting request of a deployment reaches its deadline.
    QueueTimeout {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// A new replica finished its cold start.
    ReplicaReady {
        /// The deployment.
        deployment: DeploymentId,
        /// Replica id within the deployment.
        replica: u32,
    },
    /// A service's autoscaler evaluates.
    Autoscale {
        /// The service.
        service: ServiceId,
    },
}

/// Minimum TCP retransmission timeout: the delay a lost packet adds to a request.
const MIN_RETRANSMIT_TIMEOUT_NS: u64 = 200_000_000;

/// Why the serving model could not be built (a scenario the checks let through by mistake, or
/// a trace that cannot be read).
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// A trace could not be loaded.
    #[error(transparent)]
    Trace(#[from] crate::workload::trace::TraceError),
    /// An arrival process is invalid.
    #[error("service {service}, demand from {origin}: {problem}")]
    Arrivals {
        /// The service.
        service: String,
        /// The origin.
        origin: String,
        /// What is wrong.
        problem: String,
    },
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
    speed: f64,
    replicas: Vec<Replica>,
    next_replica_id: u32,
    slots_ready: u32,
    busy: u32,
    queue: VecDeque<u32>,
    /// When the pending queue-timeout event fires, if one is pending.
    timeout_watch: Option<SimTime>,
    busy_slot_ns: u128,
    ready_slot_ns: u128,
    last_change: SimTime,
    last_scale: SimTime,
    scaled_busy_slot_ns: u128,
    scaled_ready_slot_ns: u128,
    /// The fewest replicas the autoscaler leaves here (`keep_warm`), if not the service's min.
    floor: Option<u32>,
}

impl Deployment {
    /// Advances the time integrals of busy and ready slots to `now`.
    fn integrate(&mut self, now: SimTime) {
        let span = u128::from(now.saturating_since(self.last_change).as_nanos());
        self.busy_slot_ns += span * u128::from(self.busy);
        self.ready_slot_ns += span * u128::from(self.slots_ready);
        self.last_change = now;
    }

    /// Adds a replica holding `allocation`; returns its id.
    fn add_replica(&mut self, allocation: AllocationId, ready: bool) -> u32 {
        let id = self.next_replica_id;
        self.next_replica_id += 1;
        self.replicas.push(Replica {
            id,
            allocation,
            ready,
        });
        id
    }

    /// Ready replicas.
    pub fn ready_replicas(&self) -> usize {
        self.replicas.iter().filter(|r| r.ready).count()
    }

    /// Replicas held, ready or starting.
    pub fn held_replicas(&self) -> usize {
        self.replicas.len()
    }

    /// Busy and ready slots now.
    pub fn slots(&self) -> (u32, u32) {
        (self.busy, self.slots_ready)
    }

    /// Busy and ready slot-nanoseconds so far (as of the last change).
    pub fn slot_time(&self) -> (u128, u128) {
        (self.busy_slot_ns, self.ready_slot_ns)
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
    /// The deployment the last request went to.
    last_choice: Option<u32>,
    /// The route last written to the decision log, when, and the changes since not written.
    logged_choice: Option<u32>,
    logged_at: SimTime,
    unlogged_changes: u32,
    /// Bumped whenever an arrival is scheduled; only the arrival of the current epoch is live.
    epoch: u32,
}

enum Fallback {
    Service(u32),
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
    /// The SLO percentile (e.g. 99.0) and bound, if any.
    pub slo: Option<(f64, SimDuration)>,
    /// Replicas and utilization per metrics window.
    pub usage: Vec<WindowUsage>,
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
}

/// Replicas and slot use of a service over one metrics window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowUsage {
    /// Replicas ready to serve at the end of the window, over all sites.
    pub replicas_ready: u32,
    /// Replicas held (ready or starting) at the end of the window.
    pub replicas_held: u32,
    /// Share of ready slots that were busy during the window, if any were ready.
    pub utilization: Option<f64>,
}

/// Where a request's outcome is counted besides its own service: the primary it stands in for.
#[derive(Debug, Clone, Copy)]
struct Primary {
    service: u32,
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
    service: u32,
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
    primary: Option<Primary>,
}

/// All services of a run.
pub struct Serving {
    /// The services, in scenario order.
    pub services: Vec<ServiceState>,
    requests: Vec<Request>,
    free_requests: Vec<u32>,
    candidates: Vec<RouteCandidate>,
    candidate_deployments: Vec<u32>,
    network_rng: StreamRng,
    window: SimDuration,
    /// (service, deployment within it) of each [`DeploymentId`].
    deployment_ids: Vec<Position>,
    /// (service, stream within it) of each [`DemandId`].
    demand_ids: Vec<Position>,
}

/// Stream names: one per stochastic source, so sources never disturb each other.
fn stream_name(kind: &str, service: &str, detail: &str) -> String {
    format!("{kind}/{service}/{detail}")
}

impl Serving {
    /// Builds the services of `scenario`, placing their initial replicas in `estate`.
    pub fn build(
        scenario: &Scenario,
        estate: &mut Estate,
        streams: &RngStreams,
    ) -> Result<Self, ServingError> {
        let spec = &scenario.spec;
        let mut services = Vec::with_capacity(spec.services.len());
        for (index, service) in spec.services.iter().enumerate() {
            services.push(build_service(scenario, estate, streams, index, service)?);
        }
        for (index, service) in spec.services.iter().enumerate() {
            services[index].fallback = service.fallback.as_ref().map(|f| match f {
                FallbackSpec::Service { name } => Fallback::Service(
                    spec.services
                        .iter()
                        .position(|s| &s.name == name)
                        .unwrap_or(index) as u32,
                ),
                FallbackSpec::EdgeCache { hit_ratio, latency } => Fallback::EdgeCache {
                    hit_ratio: *hit_ratio,
                    latency_ns: latency.as_nanos(),
                },
            });
        }
        let (deployment_ids, demand_ids) = number_streams_and_deployments(&mut services);
        Ok(Serving {
            services,
            requests: Vec::new(),
            free_requests: Vec::new(),
            candidates: Vec::new(),
            candidate_deployments: Vec::new(),
            network_rng: streams.stream("network/loss"),
            window: spec.metrics.window,
            deployment_ids,
            demand_ids,
        })
    }

    /// Handles one serving event.
    pub fn handle<E: From<ServingEvent>>(
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
                self.reach_site(ctx, estate, decider, request.0, generation)
            }
            ServingEvent::ServiceDone { request, generation } => {
                self.service_done(ctx, estate, decider, request.0, generation)
            }
            ServingEvent::QueueTimeout { deployment } => {
                let (service, index) = self.deployment_ids[deployment.0 as usize];
                self.queue_timeout(ctx, estate, decider, service, index)
            }
            ServingEvent::ReplicaReady { deployment, replica } => {
                let (service, index) = self.deployment_ids[deployment.0 as usize];
                self.replica_ready(ctx, estate, decider, service, index, replica)
            }
            ServingEvent::Autoscale { service } => self.autoscale(ctx, estate, decider, service.0),
        }
    }

    /// Schedules every stream's first arrival and every autoscaler's first evaluation.
    pub fn start<E: From<ServingEvent>>(&mut self, ctx: &mut Context<'_, E>) -> Result<(), KernelError> {
        for (s, service) in self.services.iter_mut().enumerate() {
            for demand in &mut service.demands {
                schedule_next(ctx, demand)?;
            }
            if let Some(scale) = &service.autoscale {
                let autoscale = ServingEvent::Autoscale {
                    service: ServiceId(s as u32),
                };
                schedule_after(ctx, scale.interval, autoscale)?;
            }
        }
        Ok(())
    }

    /// A request of `service` arrives from demand `demand` (unless a rate change of a later
    /// `epoch` withdrew it).
    fn arrival<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        demand: u32,
        epoch: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.services[service as usize];
        let stream = &mut state.demands[demand as usize];
        if stream.epoch != epoch {
            return Ok(());
        }
        let Some(arrival) = stream.next.take() else {
            return Ok(());
        };
        schedule_next(ctx, stream)?;
        let context = if arrival.context_tokens > 0 {
            arrival.context_tokens
        } else {
            stream.context_tokens
        };
        let generated = if arrival.generated_tokens > 0 {
            arrival.generated_tokens
        } else {
            stream.generated_tokens
        };
        state.metrics.arrival(now.as_nanos());
        let request = Request {
            generation: 0,
            stage: Stage::Free,
            service,
            deployment: 0,
            origin_index: Some(demand),
            arrived: now,
            reached: now,
            started: now,
            first_token_ns: 0,
            one_way_ns: 0,
            network_ns: 0,
            context,
            generated,
            primary: None,
        };
        self.submit(ctx, estate, decider, request)
    }

    /// Routes a request and sends it on its way to the chosen deployment.
    fn submit<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        mut request: Request,
    ) -> Result<(), KernelError> {
        let service = &self.services[request.service as usize];
        if request.primary.is_none() && service.degraded_by_policy && service.fallback.is_some() {
            return self.fail(ctx, estate, decider, request, FailReason::PolicyDegraded);
        }
        let origin = self.origin_of(&request);
        self.fill_candidates(estate, &request, origin);
        if self.candidates.is_empty() {
            return self.fail(ctx, estate, decider, request, FailReason::NoEligibleSite);
        }
        let route_request = RouteRequest {
            service: ServiceId(request.service),
            origin,
            now: ctx.now(),
        };
        let view = View::of_estate(ctx.now(), estate);
        let subject = &self.services[request.service as usize].name;
        let choice = decider.route(&view, &route_request, &self.candidates, subject);
        let chosen = self.candidates[choice];
        request.deployment = self.candidate_deployments[choice];
        self.note_route_change(&view, decider, &route_request, &request, &chosen);
        request.one_way_ns = chosen.round_trip_ns / 2;
        request.network_ns = chosen.round_trip_ns + self.loss_penalty(estate, origin, chosen);
        let (id, generation) = self.store(request);
        if request.one_way_ns == 0 {
            self.enter(ctx, estate, decider, id)
        } else {
            schedule_after(
                ctx,
                SimDuration::from_nanos(request.one_way_ns),
                ServingEvent::ReachSite {
                    request: RequestSlot(id),
                    generation,
                },
            )?;
            Ok(())
        }
    }

    fn origin_of(&self, request: &Request) -> SiteId {
        let (service, index) = match request.primary {
            Some(p) => (p.service, p.origin_index),
            None => (request.service, request.origin_index.unwrap_or(0)),
        };
        self.services[service as usize].demands[index as usize].origin
    }

    /// Refills the candidate buffers with the deployments that may serve `request` now.
    fn fill_candidates(&mut self, estate: &Estate, request: &Request, origin: SiteId) {
        self.candidates.clear();
        self.candidate_deployments.clear();
        let fallback_eligible;
        let eligible: &[u32] = match request.primary {
            None => {
                &self.services[request.service as usize].demands[request.origin_index.unwrap_or(0) as usize]
                    .eligible
            }
            Some(primary) => {
                let residency =
                    &self.services[primary.service as usize].demands[primary.origin_index as usize].residency;
                fallback_eligible = eligible_deployments(
                    estate,
                    &self.services[request.service as usize].deployments,
                    residency,
                );
                &fallback_eligible
            }
        };
        let service = &self.services[request.service as usize];
        let mean_ns = service.time.mean_ns(request.context, request.generated);
        for &d in eligible {
            let deployment = &service.deployments[d as usize];
            if !estate.sites[deployment.site.index()].up || deployment.slots_ready == 0 {
                continue;
            }
            let Some(rtt) = estate.network.rtt(origin, deployment.site) else {
                continue;
            };
            self.candidates.push(RouteCandidate {
                site: deployment.site,
                round_trip_ns: rtt.as_nanos(),
                queued: deployment.queue.len() as u32,
                free_slots: deployment.slots_ready.saturating_sub(deployment.busy),
                slots: deployment.slots_ready,
                mean_service_ns: mean_ns / deployment.speed,
                usd_per_gpu_hour: estate.pools[deployment.pool.index()]
                    .tier(deployment.tier)
                    .map_or(0.0, |t| t.price_per_gpu_hour),
            });
            self.candidate_deployments.push(d);
        }
    }

    /// A lost packet costs a retransmission timeout; drawn per request on the route's loss.
    fn loss_penalty(&mut self, estate: &Estate, origin: SiteId, chosen: RouteCandidate) -> u64 {
        let loss = estate.network.route_loss(origin, chosen.site).unwrap_or(0.0);
        if loss > 0.0 && self.network_rng.random::<f64>() < loss {
            MIN_RETRANSMIT_TIMEOUT_NS.max(chosen.round_trip_ns)
        } else {
            0
        }
    }

    /// Logs when the site serving an origin's requests changes, not every request. A change
    /// away from a site that can no longer serve is logged at once. When routes flip between
    /// sites that can both serve (two about equally good), at most one change per origin is
    /// logged per metrics window; the others are counted, and where routing settled is logged
    /// at the window's end ([`Serving::close_window`]).
    fn note_route_change(
        &mut self,
        view: &View<'_>,
        decider: &mut Decider,
        route: &RouteRequest,
        request: &Request,
        chosen: &RouteCandidate,
    ) {
        let (Some(index), None) = (request.origin_index, request.primary) else {
            return;
        };
        let now = view.now();
        let service = &mut self.services[request.service as usize];
        let demand = &mut service.demands[index as usize];
        if demand.last_choice.replace(request.deployment) == Some(request.deployment) {
            return;
        }
        // A change away from a site that can no longer serve (down, no ready replicas) is news;
        // a change between sites that both still can, within a window of the last entry, is
        // routing spreading load and is only counted.
        let quiet = now.saturating_since(demand.logged_at) >= self.window;
        let logged_site = demand.logged_choice.map(|d| service.deployments[d as usize].site);
        let still_serves = logged_site.is_some_and(|site| self.candidates.iter().any(|c| c.site == site));
        if (still_serves && !quiet) || demand.logged_choice == Some(request.deployment) {
            demand.unlogged_changes += 1;
            return;
        }
        let was = demand.logged_choice.map_or("none".to_string(), |d| {
            view.site_name(service.deployments[d as usize].site).to_string()
        });
        let flips = match std::mem::take(&mut demand.unlogged_changes) {
            0 => String::new(),
            n => format!("; {n} brief changes since the last entry"),
        };
        demand.logged_choice = Some(request.deployment);
        demand.logged_at = now;
        let subject = format!("{} from {}", service.name, view.site_name(demand.origin));
        let alternatives = decider.route_alternatives(view, route, &self.candidates, chosen.site);
        let reason = format!(
            "{} score {:.3}; expected {:.1} ms (was {was}){flips}",
            decider.policy_name(),
            decider.route_score(view, route, chosen),
            chosen.expected_latency_ns() / 1e6,
        );
        let choice = view.site_name(chosen.site).to_string();
        decider.record_with(
            now,
            DecisionKind::RouteChange,
            subject,
            choice,
            alternatives,
            reason,
        );
    }

    /// At the end of a window, logs where each origin's routing settled if that differs from
    /// the last logged route (flips inside the window were not logged one by one).
    fn note_settled_routes(&mut self, now: SimTime, estate: &Estate, decider: &mut Decider) {
        for service in &mut self.services {
            for demand in &mut service.demands {
                let (Some(current), true) = (demand.last_choice, demand.unlogged_changes > 0) else {
                    continue;
                };
                let changes = std::mem::take(&mut demand.unlogged_changes);
                let up = estate.sites[service.deployments[current as usize].site.index()].up;
                if demand.logged_choice == Some(current) || !up {
                    continue;
                }
                let site = |d: u32| {
                    estate.sites[service.deployments[d as usize].site.index()]
                        .name
                        .clone()
                };
                let was = demand.logged_choice.map_or("none".to_string(), site);
                demand.logged_choice = Some(current);
                demand.logged_at = now;
                decider.record(
                    now,
                    DecisionKind::RouteChange,
                    format!(
                        "{} from {}",
                        service.name,
                        estate.sites[demand.origin.index()].name
                    ),
                    site(current),
                    format!("settled after {changes} changes in the window (was {was})"),
                );
            }
        }
    }

    /// Puts a travelling request in a slot; returns the slot and its generation.
    fn store(&mut self, mut request: Request) -> (u32, u32) {
        request.stage = Stage::Travelling;
        match self.free_requests.pop() {
            Some(id) => {
                let slot = &mut self.requests[id as usize];
                request.generation = slot.generation;
                *slot = request;
                (id, request.generation)
            }
            None => {
                request.generation = 0;
                self.requests.push(request);
                ((self.requests.len() - 1) as u32, 0)
            }
        }
    }

    /// Whether slot `id` still holds, at `stage`, the request an event of `generation` was for.
    fn live(&self, id: u32, generation: u32, stage: Stage) -> bool {
        self.requests
            .get(id as usize)
            .is_some_and(|r| r.generation == generation && r.stage == stage)
    }

    /// A request reaches its deployment (unless it ended or was sent elsewhere meanwhile).
    fn reach_site<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: u32,
        generation: u32,
    ) -> Result<(), KernelError> {
        if !self.live(id, generation, Stage::Travelling) {
            return Ok(());
        }
        self.enter(ctx, estate, decider, id)
    }

    /// A request at its deployment starts, waits, or is refused.
    fn enter<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let request = &mut self.requests[id as usize];
        request.reached = now;
        let (s, d) = (request.service as usize, request.deployment as usize);
        let service = &mut self.services[s];
        let limit = service.queue_limit as usize;
        let deadline_ns = request.arrived.as_nanos().saturating_add(service.timeout_ns);
        let deployment = &mut service.deployments[d];
        if deployment.busy < deployment.slots_ready {
            return self.start_service(ctx, id);
        }
        if deployment.queue.len() >= limit {
            let request = self.release(id);
            return self.fail(ctx, estate, decider, request, FailReason::QueueFull);
        }
        deployment.queue.push_back(id);
        request.stage = Stage::Queued;
        // One watch event per deployment, at the earliest deadline known to be waiting. Origins
        // at different distances reach the site out of deadline order, so a newcomer may need an
        // earlier watch than the one pending; the later one then finds nothing due and re-arms.
        let at = SimTime::from_nanos(deadline_ns.max(now.as_nanos()));
        if deployment.timeout_watch.is_none_or(|watch| at < watch) {
            let timeout = ServingEvent::QueueTimeout {
                deployment: deployment.id,
            };
            ctx.schedule_at(at, timeout.into())?;
            deployment.timeout_watch = Some(at);
        }
        Ok(())
    }

    /// Frees a request's slot, voiding the events still pending for it; returns the request.
    fn release(&mut self, id: u32) -> Request {
        self.free_requests.push(id);
        let slot = &mut self.requests[id as usize];
        let request = *slot;
        slot.generation = slot.generation.wrapping_add(1);
        slot.stage = Stage::Free;
        request
    }

    fn start_service<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let request = &mut self.requests[id as usize];
        let service = &mut self.services[request.service as usize];
        let deployment = &mut service.deployments[request.deployment as usize];
        deployment.integrate(now);
        deployment.busy += 1;
        let (first_token, total) = service.time.draw(
            &mut service.time_rng,
            request.context,
            request.generated,
            deployment.speed,
        );
        request.started = now;
        request.first_token_ns = first_token;
        request.stage = Stage::InService;
        let generation = request.generation;
        schedule_after(
            ctx,
            SimDuration::from_nanos(total),
            ServingEvent::ServiceDone {
                request: RequestSlot(id),
                generation,
            },
        )?;
        Ok(())
    }

    /// A request finishes service (unless its replica was lost meanwhile): record it, then give
    /// the slot to the next waiting request.
    fn service_done<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: u32,
        generation: u32,
    ) -> Result<(), KernelError> {
        if !self.live(id, generation, Stage::InService) {
            return Ok(());
        }
        let now = ctx.now();
        let request = self.release(id);
        let service = &mut self.services[request.service as usize];
        let deployment = &mut service.deployments[request.deployment as usize];
        deployment.integrate(now);
        deployment.busy -= 1;
        let waited = request.started.saturating_since(request.reached).as_nanos();
        let served = now.saturating_since(request.started).as_nanos();
        let back = request.network_ns - request.one_way_ns;
        let parts = LatencyParts {
            end_to_end: now.saturating_since(request.arrived).as_nanos() + back,
            first_token: request.started.saturating_since(request.arrived).as_nanos()
                + request.first_token_ns
                + back,
            queue: waited,
            network: request.network_ns,
            service: served,
        };
        service.metrics.served(
            now.as_nanos(),
            request.arrived.as_nanos(),
            request.origin_index,
            &parts,
        );
        if let Some(primary) = request.primary {
            let latency = now.saturating_since(primary.arrived).as_nanos() + back;
            self.services[primary.service as usize].metrics.degraded(
                now.as_nanos(),
                primary.arrived.as_nanos(),
                Some(primary.origin_index),
                latency,
            );
        }
        self.next_from_queue(ctx, estate, decider, request.service, request.deployment)
    }

    /// Starts waiting requests while slots are free, expiring those past their deadline.
    fn next_from_queue<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        deployment: u32,
    ) -> Result<(), KernelError> {
        loop {
            let state = &mut self.services[service as usize];
            let timeout_ns = state.timeout_ns;
            let d = &mut state.deployments[deployment as usize];
            if d.busy >= d.slots_ready {
                return Ok(());
            }
            let Some(id) = d.queue.pop_front() else {
                return Ok(());
            };
            let deadline = self.requests[id as usize]
                .arrived
                .as_nanos()
                .saturating_add(timeout_ns);
            if deadline <= ctx.now().as_nanos() {
                let request = self.release(id);
                self.fail(ctx, estate, decider, request, FailReason::Timeout)?;
            } else {
                self.start_service(ctx, id)?;
            }
        }
    }

    /// The oldest waiting requests of a deployment may have passed their deadline.
    fn queue_timeout<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        deployment: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now().as_nanos();
        let timeout_ns = self.services[service as usize].timeout_ns;
        let watch = &mut self.services[service as usize].deployments[deployment as usize].timeout_watch;
        if *watch != Some(ctx.now()) {
            return Ok(()); // superseded by an earlier watch, which re-armed for what remains
        }
        *watch = None;
        loop {
            let d = &mut self.services[service as usize].deployments[deployment as usize];
            let Some(&front) = d.queue.front() else {
                return Ok(());
            };
            let deadline = self.requests[front as usize]
                .arrived
                .as_nanos()
                .saturating_add(timeout_ns);
            if deadline > now {
                let at = SimTime::from_nanos(deadline);
                let timeout = ServingEvent::QueueTimeout { deployment: d.id };
                ctx.schedule_at(at, timeout.into())?;
                d.timeout_watch = Some(at);
                return Ok(());
            }
            d.queue.pop_front();
            let request = self.release(front);
            self.fail(ctx, estate, decider, request, FailReason::Timeout)?;
        }
    }

    /// A request cannot be served: try the fallback, or count the failure.
    fn fail<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        request: Request,
        reason: FailReason,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let service = &mut self.services[request.service as usize];
        if let Some(primary) = request.primary {
            // The fallback failed too: both services count it, the fallback as a stand-in so
            // that counts over services see the user's request once.
            service
                .metrics
                .failed_standing_in(now.as_nanos(), request.arrived.as_nanos(), reason);
            let primary_metrics = &mut self.services[primary.service as usize].metrics;
            primary_metrics.failed(now.as_nanos(), primary.arrived.as_nanos(), reason);
            return Ok(());
        }
        let Some(index) = request.origin_index else {
            service
                .metrics
                .failed(now.as_nanos(), request.arrived.as_nanos(), reason);
            return Ok(());
        };
        match service.fallback {
            None => service
                .metrics
                .failed(now.as_nanos(), request.arrived.as_nanos(), reason),
            Some(Fallback::EdgeCache {
                hit_ratio,
                latency_ns,
            }) => {
                if service.fallback_rng.random::<f64>() < hit_ratio {
                    let latency = now.saturating_since(request.arrived).as_nanos() + latency_ns;
                    service.metrics.degraded(
                        now.as_nanos(),
                        request.arrived.as_nanos(),
                        Some(index),
                        latency,
                    );
                    self.note_degrade(now, decider, request.service, reason, "edge cache");
                } else {
                    service
                        .metrics
                        .failed(now.as_nanos(), request.arrived.as_nanos(), reason);
                }
            }
            Some(Fallback::Service(target)) => {
                let primary = Primary {
                    service: request.service,
                    origin_index: index,
                    arrived: request.arrived,
                };
                let target_name = self.services[target as usize].name.clone();
                self.note_degrade(now, decider, request.service, reason, &target_name);
                self.services[target as usize].metrics.arrival(now.as_nanos());
                let fallback = Request {
                    service: target,
                    origin_index: None,
                    arrived: now,
                    primary: Some(primary),
                    ..request
                };
                return self.submit(ctx, estate, decider, fallback);
            }
        }
        Ok(())
    }

    /// Logs the start of a spell of degradation (at most once per metrics window).
    fn note_degrade(
        &mut self,
        now: SimTime,
        decider: &mut Decider,
        service: u32,
        reason: FailReason,
        to: &str,
    ) {
        let state = &mut self.services[service as usize];
        let quiet_since = state
            .last_degrade_logged
            .is_none_or(|t| now.saturating_since(t) > self.window);
        if quiet_since {
            decider.record(
                now,
                DecisionKind::Degrade,
                state.name.clone(),
                to.to_string(),
                format!(
                    "primary cannot serve ({}); answering from the fallback",
                    reason.as_str()
                ),
            );
        }
        state.last_degrade_logged = Some(now);
    }

    /// Evaluates the autoscaler of `service` at every deployment.
    fn autoscale<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
    ) -> Result<(), KernelError> {
        let Some(scale) = self.services[service as usize].autoscale.clone() else {
            return Ok(());
        };
        for d in 0..self.services[service as usize].deployments.len() {
            self.scale_deployment(ctx, estate, decider, service, d as u32, &scale)?;
        }
        let autoscale = ServingEvent::Autoscale {
            service: ServiceId(service),
        };
        schedule_after(ctx, scale.interval, autoscale)?;
        Ok(())
    }

    fn scale_deployment<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        deployment: u32,
        scale: &AutoscaleSpec,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.services[service as usize];
        let slots_per_replica = state.slots_per_replica;
        let d = &mut state.deployments[deployment as usize];
        if !estate.sites[d.site.index()].up {
            return Ok(()); // nothing to scale until the site is back
        }
        d.integrate(now);
        let busy = d.busy_slot_ns - d.scaled_busy_slot_ns;
        let ready = d.ready_slot_ns - d.scaled_ready_slot_ns;
        d.scaled_busy_slot_ns = d.busy_slot_ns;
        d.scaled_ready_slot_ns = d.ready_slot_ns;
        let waiting = d.queue.len() as f64 / f64::from(slots_per_replica);
        let utilization = if ready > 0 {
            busy as f64 / ready as f64
        } else {
            1.0
        };
        let current = d.replicas.len() as u32;
        let ready_replicas = d.ready_replicas() as f64;
        let wanted = ((ready_replicas * utilization + waiting) / scale.target_utilization).ceil() as u32;
        let floor = d.floor.unwrap_or(scale.min);
        let desired = wanted.clamp(floor, scale.max.max(floor));
        let cooled = now.saturating_since(d.last_scale) >= scale.cooldown || d.last_scale == SimTime::ZERO;
        // While replicas start, nothing routes to them yet, so the load they are for is not
        // visible: no scale-down until they are ready.
        let starting = d.replicas.len() > d.ready_replicas();
        if desired == current || !cooled || (desired < current && starting) {
            return Ok(());
        }
        let reason = format!(
            "utilization {:.0}% vs target {:.0}%, {} waiting",
            utilization * 100.0,
            scale.target_utilization * 100.0,
            d.queue.len()
        );
        let subject = subject(estate, state, deployment);
        if desired > current {
            self.add_replicas(
                ctx,
                estate,
                decider,
                service,
                deployment,
                desired - current,
                scale,
                subject,
                reason,
            )
        } else {
            self.remove_replicas(
                now,
                estate,
                decider,
                service,
                deployment,
                current - desired,
                subject,
                reason,
            );
            Ok(())
        }
    }
}

impl Serving {
    #[allow(clippy::too_many_arguments)]
    fn add_replicas<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        deployment: u32,
        count: u32,
        scale: &AutoscaleSpec,
        subject: String,
        reason: String,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let cold_start = cold_start(self.services[service as usize].model_bytes, scale);
        let started = self.start_replicas(
            ctx,
            estate,
            (service, deployment),
            scale.tier,
            count,
            Some(cold_start),
        )?;
        self.services[service as usize].deployments[deployment as usize].last_scale = now;
        decider.record(
            now,
            DecisionKind::Scale,
            subject,
            started.choice(),
            started.reason(&reason),
        );
        Ok(())
    }

    /// Starts up to `count` replicas of deployment `at` in `tier`, each ready after `cold_start`
    /// (at once if `None`), until the tier refuses.
    fn start_replicas<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        (service, deployment): (u32, u32),
        tier: Tier,
        count: u32,
        cold_start: Option<SimDuration>,
    ) -> Result<Started, KernelError> {
        let now = ctx.now();
        let state = &mut self.services[service as usize];
        let d = &mut state.deployments[deployment as usize];
        let mut started = Started {
            tier,
            wanted: count,
            added: 0,
            cold_start,
            refusal: None,
        };
        while started.added < count {
            let allocation = match estate.allocate(now, d.pool, tier, state.gpus_per_replica, state.payer) {
                Ok(allocation) => allocation,
                Err(error) => {
                    started.refusal = Some(error.to_string());
                    break;
                }
            };
            let replica = d.add_replica(allocation, cold_start.is_none());
            match cold_start {
                None => {
                    d.integrate(now);
                    d.slots_ready += state.slots_per_replica;
                }
                Some(delay) => {
                    let ready = ServingEvent::ReplicaReady {
                        deployment: d.id,
                        replica,
                    };
                    schedule_after(ctx, delay, ready)?;
                }
            }
            started.added += 1;
        }
        Ok(started)
    }

    #[allow(clippy::too_many_arguments)]
    fn remove_replicas(
        &mut self,
        now: SimTime,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        deployment: u32,
        count: u32,
        subject: String,
        reason: String,
    ) {
        let slots = self.services[service as usize].slots_per_replica;
        let mut removed = 0;
        // Only idle capacity goes, newest replica first; requests in service are never cut off.
        while removed < count {
            let d = &self.services[service as usize].deployments[deployment as usize];
            let (Some(last), true) = (d.replicas.last(), d.replicas.len() > 1) else {
                break;
            };
            if last.ready && d.slots_ready - d.busy < slots {
                break;
            }
            self.drop_replica(now, estate, (service, deployment), d.replicas.len() - 1);
            removed += 1;
        }
        if removed > 0 {
            self.services[service as usize].deployments[deployment as usize].last_scale = now;
            decider.record(
                now,
                DecisionKind::Scale,
                subject,
                format!("-{removed} replica(s)"),
                reason,
            );
        }
    }

    /// A replica finished its cold start and takes requests.
    fn replica_ready<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: u32,
        deployment: u32,
        replica: u32,
    ) -> Result<(), KernelError> {
        let state = &mut self.services[service as usize];
        let slots = state.slots_per_replica;
        let d = &mut state.deployments[deployment as usize];
        // The replica may have been removed while it was starting.
        let Some(r) = d.replicas.iter_mut().find(|r| r.id == replica && !r.ready) else {
            return Ok(());
        };
        r.ready = true;
        d.integrate(ctx.now());
        d.slots_ready += slots;
        self.next_from_queue(ctx, estate, decider, service, deployment)
    }

    /// Releases every replica's GPUs at the end of the run so their time is billed.
    pub fn release_all(&mut self, now: SimTime, estate: &mut Estate) {
        for service in &mut self.services {
            for d in &mut service.deployments {
                d.integrate(now);
                for replica in d.replicas.drain(..) {
                    estate.release(now, replica.allocation);
                }
            }
        }
    }

    /// Closes a metrics window at `now`: records each service's replicas and slot use over it,
    /// and logs where flapping routes settled.
    pub fn close_window(&mut self, now: SimTime, estate: &Estate, decider: &mut Decider) {
        self.note_settled_routes(now, estate, decider);
        for service in &mut self.services {
            service.usage_marks.resize(service.deployments.len(), (0, 0));
            let (mut busy, mut ready, mut replicas_ready, mut replicas_held) = (0u128, 0u128, 0, 0);
            for (d, mark) in service.deployments.iter_mut().zip(&mut service.usage_marks) {
                d.integrate(now);
                busy += d.busy_slot_ns - mark.0;
                ready += d.ready_slot_ns - mark.1;
                *mark = (d.busy_slot_ns, d.ready_slot_ns);
                replicas_ready += d.ready_replicas() as u32;
                replicas_held += d.replicas.len() as u32;
            }
            let utilization = (ready > 0).then(|| busy as f64 / ready as f64);
            service.usage.push(WindowUsage {
                replicas_ready,
                replicas_held,
                utilization,
            });
        }
    }

    /// The origin site names of a service's demand streams, in order.
    pub fn origin_names(&self, service: &ServiceState, estate: &Estate) -> Vec<String> {
        service
            .demands
            .iter()
            .map(|d| estate.sites[d.origin.index()].name.clone())
            .collect()
    }
}

/// A replica taken out by [`Serving::stop_replica`]: where its replacement would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostReplica {
    /// Service index.
    pub service: u32,
    /// Deployment index within the service.
    pub deployment: u32,
    /// The tier its GPUs came from.
    pub tier: Tier,
    /// The GPUs it gave back.
    pub gpus: u32,
}

/// What a start of replicas achieved, for the decision log.
struct Started {
    tier: Tier,
    wanted: u32,
    added: u32,
    cold_start: Option<SimDuration>,
    refusal: Option<String>,
}

impl Started {
    fn choice(&self) -> String {
        let ready = self
            .cold_start
            .map_or("at once".to_string(), |d| format!("in {d}"));
        format!(
            "+{} replica(s) from {} (ready {ready})",
            self.added,
            self.tier.as_str()
        )
    }

    /// `why`, followed by the tier's refusal if it refused.
    fn reason(&self, why: &str) -> String {
        match &self.refusal {
            Some(refusal) => format!("{why}; wanted +{}, capacity refused: {refusal}", self.wanted),
            None => why.to_string(),
        }
    }
}

/// What incidents do to services: outages, lost replicas, capacity shocks and demand surges.
///
/// A request in service on a replica that is lost fails as [`FailReason::ReplicaLost`] (the
/// fallback applies as for any failure). Requests waiting for or travelling to a deployment
/// left without any replica, ready or starting, go back to their origin and are routed again,
/// keeping their arrival time.
impl Serving {
    /// The site goes down: every replica of every deployment there is lost (its GPUs given
    /// back), requests in service there fail, requests queued there or on their way there are
    /// routed again from their origin. Call it after marking the site down in the estate and the
    /// network, so the new routes avoid it.
    pub fn site_down<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        site: SiteId,
    ) -> Result<(), KernelError> {
        let hit = self.deployments_at(site);
        for &(s, d) in &hit {
            while let Some(last) = self.services[s as usize].deployments[d as usize]
                .replicas
                .len()
                .checked_sub(1)
            {
                self.drop_replica(ctx.now(), estate, (s, d), last);
            }
        }
        self.evacuate(ctx, estate, decider, &hit)?;
        for &at in &hit {
            self.cut_excess(ctx, estate, decider, at)?;
        }
        Ok(())
    }

    /// The site is back: each deployment there starts again the replicas it had at the start of
    /// the run (those it lacks), in their tiers, each ready after the autoscaler's cold start
    /// (at once without an autoscaler); what the tiers refuse is logged. Call it after marking
    /// the site up in the estate (GPUs of a site that is down are refused) and the network.
    pub fn site_up<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        site: SiteId,
    ) -> Result<(), KernelError> {
        for (s, d) in self.deployments_at(site) {
            let state = &self.services[s as usize];
            let subject = subject(estate, state, d);
            let deployment = &state.deployments[d as usize];
            let held = |tier: Tier| {
                let in_tier = |r: &&Replica| estate.allocation(r.allocation).is_some_and(|a| a.tier == tier);
                deployment.replicas.iter().filter(in_tier).count() as u32
            };
            let missing: Vec<(Tier, u32)> = deployment
                .initial
                .iter()
                .map(|&(tier, count)| (tier, count.saturating_sub(held(tier))))
                .filter(|&(_, count)| count > 0)
                .collect();
            let cold_start = state.replica_start();
            for (tier, count) in missing {
                let started = self.start_replicas(ctx, estate, (s, d), tier, count, cold_start)?;
                let reason = started.reason("site back up: the initial replicas restart");
                decider.record(
                    ctx.now(),
                    DecisionKind::Scale,
                    subject.clone(),
                    started.choice(),
                    reason,
                );
            }
            self.settle(ctx, estate, decider, (s, d))?;
        }
        Ok(())
    }

    /// A GPU of the replica holding `allocation` failed: [`stop_replica`](Self::stop_replica)
    /// then [`replace_replica`](Self::replace_replica). Returns false if no replica holds it.
    pub fn replica_failed<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        allocation: AllocationId,
    ) -> Result<bool, KernelError> {
        let Some(lost) = self.stop_replica(ctx, estate, decider, allocation)? else {
            return Ok(false);
        };
        self.replace_replica(ctx, estate, decider, lost)?;
        Ok(true)
    }

    /// Stops the replica holding `allocation` and gives its GPUs back; if its deployment is left
    /// with fewer ready slots than requests in service, the most recently started fail. Returns
    /// where it was, or `None` if no replica holds `allocation`. Between this and
    /// [`replace_replica`](Self::replace_replica) the caller may take the failed GPU out of the
    /// pool (repair), so that the replacement cannot take it.
    pub fn stop_replica<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        allocation: AllocationId,
    ) -> Result<Option<LostReplica>, KernelError> {
        let Some((service, deployment, index)) = self.find_replica(allocation) else {
            return Ok(None);
        };
        let initial_tier = self.services[service as usize].deployments[deployment as usize].tier;
        let tier = estate.allocation(allocation).map_or(initial_tier, |a| a.tier);
        let gpus = self.drop_replica(ctx.now(), estate, (service, deployment), index);
        self.cut_excess(ctx, estate, decider, (service, deployment))?;
        Ok(Some(LostReplica {
            service,
            deployment,
            tier,
            gpus,
        }))
    }

    /// Starts a replacement for a lost replica in its pool and tier, ready after the cold start
    /// (at once without an autoscaler), if the tier has room; logs a Scale decision either way.
    pub fn replace_replica<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        lost: LostReplica,
    ) -> Result<(), KernelError> {
        let at = (lost.service, lost.deployment);
        let state = &self.services[lost.service as usize];
        let (subject, cold_start) = (subject(estate, state, lost.deployment), state.replica_start());
        let started = self.start_replicas(ctx, estate, at, lost.tier, 1, cold_start)?;
        let reason = started.reason("a replica was lost; replacing it");
        decider.record(ctx.now(), DecisionKind::Scale, subject, started.choice(), reason);
        self.settle(ctx, estate, decider, at)
    }

    /// A capacity shock: gives back replicas holding GPUs of `tier` in `pool`, newest first,
    /// until `gpus` GPUs are freed or none are left (requests in service on them fail). Starts
    /// no replacement. Returns the GPUs freed, which may exceed `gpus` by part of a replica.
    pub fn shed_replicas<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        pool: PoolId,
        tier: Tier,
        gpus: u32,
    ) -> Result<u32, KernelError> {
        let mut held = Vec::new();
        for (s, state) in self.services.iter().enumerate() {
            let in_pool = state
                .deployments
                .iter()
                .enumerate()
                .filter(|(_, d)| d.pool == pool);
            for (d, deployment) in in_pool {
                for r in &deployment.replicas {
                    if let Some(a) = estate.allocation(r.allocation).filter(|a| a.tier == tier) {
                        held.push((a.since, s as u32, d as u32, r.id, r.allocation));
                    }
                }
            }
        }
        held.sort_unstable_by_key(|&(since, s, d, id, _)| Reverse((since, s, d, id)));
        let (mut freed, mut hit) = (0, Vec::new());
        for (_, s, d, _, allocation) in held {
            if freed >= gpus {
                break;
            }
            let replicas = &self.services[s as usize].deployments[d as usize].replicas;
            if let Some(index) = replicas.iter().position(|r| r.allocation == allocation) {
                freed += self.drop_replica(ctx.now(), estate, (s, d), index);
            }
            if !hit.contains(&(s, d)) {
                hit.push((s, d));
            }
        }
        hit.sort_unstable();
        for at in hit {
            self.cut_excess(ctx, estate, decider, at)?;
            self.settle(ctx, estate, decider, at)?;
        }
        Ok(freed)
    }

    /// A demand surge: from now on the arrival rate of `service`'s demand from `origin` (every
    /// origin if `None`) is `factor` times the spec's (1 ends the surge). An arrival already
    /// drawn under the old rate is withdrawn and the next one drawn from now. A factor the
    /// arrival process refuses (negative, not finite, or a rate beyond `f64`; the scenario
    /// checks refuse the first two) leaves the stream as it is.
    pub fn set_demand_factor<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        service: u32,
        origin: Option<SiteId>,
        factor: f64,
    ) -> Result<(), KernelError> {
        let state = &mut self.services[service as usize];
        for demand in &mut state.demands {
            if origin.is_some_and(|o| o != demand.origin) {
                continue;
            }
            let Ok(withdrawn) = demand.process.set_rate_factor(ctx.now(), factor) else {
                continue;
            };
            // A paused stream (factor 0) has nothing pending and resumes here too.
            if withdrawn || demand.next.is_none() {
                schedule_next(ctx, demand)?;
            }
        }
        Ok(())
    }

    /// Requests of `service` waiting in its queues now.
    pub fn queued(&self, service: u32) -> u64 {
        let deployments = &self.services[service as usize].deployments;
        deployments.iter().map(|d| d.queue.len() as u64).sum()
    }

    /// The deployments at `site`, as (service, deployment).
    fn deployments_at(&self, site: SiteId) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        for (s, state) in self.services.iter().enumerate() {
            for (d, deployment) in state.deployments.iter().enumerate() {
                if deployment.site == site {
                    found.push((s as u32, d as u32));
                }
            }
        }
        found
    }

    /// The service, deployment and position of the replica holding `allocation`.
    fn find_replica(&self, allocation: AllocationId) -> Option<(u32, u32, usize)> {
        self.services.iter().enumerate().find_map(|(s, state)| {
            state.deployments.iter().enumerate().find_map(|(d, deployment)| {
                let index = deployment
                    .replicas
                    .iter()
                    .position(|r| r.allocation == allocation)?;
                Some((s as u32, d as u32, index))
            })
        })
    }

    /// Takes replica `index` out of deployment `at` and gives its GPUs back; returns how many.
    fn drop_replica(&mut self, now: SimTime, estate: &mut Estate, (s, d): (u32, u32), index: usize) -> u32 {
        let state = &mut self.services[s as usize];
        let deployment = &mut state.deployments[d as usize];
        deployment.integrate(now);
        let replica = deployment.replicas.remove(index);
        if replica.ready {
            deployment.slots_ready -= state.slots_per_replica;
        }
        estate.release(now, replica.allocation).map_or(0, |a| a.gpus)
    }

    /// Fails, as [`FailReason::ReplicaLost`], the most recently started requests of deployment
    /// `at` while it has fewer ready slots than requests in service.
    fn cut_excess<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: (u32, u32),
    ) -> Result<(), KernelError> {
        let deployment = &mut self.services[at.0 as usize].deployments[at.1 as usize];
        let excess = deployment.busy.saturating_sub(deployment.slots_ready);
        if excess == 0 {
            return Ok(());
        }
        deployment.integrate(ctx.now());
        deployment.busy -= excess;
        let mut serving = self.slots_where(Stage::InService, &[at]);
        serving.sort_unstable_by_key(|&id| Reverse((self.requests[id as usize].started, id)));
        let lost: Vec<Request> = serving
            .into_iter()
            .take(excess as usize)
            .map(|id| self.release(id))
            .collect();
        for request in lost {
            self.fail(ctx, estate, decider, request, FailReason::ReplicaLost)?;
        }
        Ok(())
    }

    /// After deployment `at` lost or gained replicas: with none left, ready or starting, its
    /// waiting and travelling requests go elsewhere; otherwise free slots take waiting ones.
    fn settle<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: (u32, u32),
    ) -> Result<(), KernelError> {
        if self.services[at.0 as usize].deployments[at.1 as usize]
            .replicas
            .is_empty()
        {
            self.evacuate(ctx, estate, decider, &[at])
        } else {
            self.next_from_queue(ctx, estate, decider, at.0, at.1)
        }
    }

    /// Sends the requests waiting at or travelling to the deployments `targets` back to their
    /// origin to be routed again, in order of arrival, keeping their arrival times.
    fn evacuate<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        targets: &[(u32, u32)],
    ) -> Result<(), KernelError> {
        let mut moved = Vec::new();
        for &(s, d) in targets {
            moved.extend(self.services[s as usize].deployments[d as usize].queue.drain(..));
        }
        moved.extend(self.slots_where(Stage::Travelling, targets));
        moved.sort_by_key(|&id| self.requests[id as usize].arrived);
        let requests: Vec<Request> = moved.into_iter().map(|id| self.release(id)).collect();
        for request in requests {
            self.submit(ctx, estate, decider, request)?;
        }
        Ok(())
    }

    /// The slots of the requests at `stage` at any of the deployments `targets`, in slot order.
    fn slots_where(&self, stage: Stage, targets: &[(u32, u32)]) -> Vec<u32> {
        let at = |r: &Request| r.stage == stage && targets.contains(&(r.service, r.deployment));
        (0..self.requests.len() as u32)
            .filter(|&id| at(&self.requests[id as usize]))
            .collect()
    }
}

impl ServiceState {
    /// How long a new replica takes to start: the autoscaler's cold start, or `None` (ready at
    /// once) without an autoscaler.
    fn replica_start(&self) -> Option<SimDuration> {
        let scale = self.autoscale.as_ref()?;
        Some(cold_start(self.model_bytes, scale))
    }
}

/// Schedules `event` after `delay`, which comes from the user's figures (service times, cold
/// starts) and may be absurdly long: past the end of the clock it is parked at the end of time,
/// beyond any horizon, so the run goes on and the request simply never finishes.
fn schedule_after<E: From<ServingEvent>>(
    ctx: &mut Context<'_, E>,
    delay: SimDuration,
    event: ServingEvent,
) -> Result<(), KernelError> {
    ctx.schedule_at(ctx.now().saturating_add(delay), event.into())
}

/// "service at site", the subject of scaling decisions.
fn subject(estate: &Estate, service: &ServiceState, deployment: u32) -> String {
    let site = service.deployments[deployment as usize].site;
    format!("{} at {}", service.name, estate.sites[site.index()].name)
}

/// Draws a demand stream's next arrival from now and schedules it under a new epoch, so an
/// arrival scheduled before is void.
fn schedule_next<E: From<ServingEvent>>(
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

/// A deployment or demand stream by (service, index within the service).
type Position = (u32, u32);

/// Gives every deployment and demand stream its run-wide id; returns the (service, index
/// within it) of each deployment id and of each stream id.
fn number_streams_and_deployments(services: &mut [ServiceState]) -> (Vec<Position>, Vec<Position>) {
    let (mut deployments, mut demands) = (Vec::new(), Vec::new());
    for (s, service) in services.iter_mut().enumerate() {
        for (d, deployment) in service.deployments.iter_mut().enumerate() {
            deployment.id = DeploymentId(deployments.len() as u32);
            deployments.push((s as u32, d as u32));
        }
        for (d, demand) in service.demands.iter_mut().enumerate() {
            demand.id = DemandId(demands.len() as u32);
            demands.push((s as u32, d as u32));
        }
    }
    (deployments, demands)
}

/// Time for a new replica to load the model and start.
fn cold_start(model_bytes: u64, scale: &AutoscaleSpec) -> SimDuration {
    let load = model_bytes as f64 / scale.load_bandwidth.bytes_per_sec();
    SimDuration::from_secs_f64(load)
        .unwrap_or(SimDuration::MAX)
        .saturating_add(scale.start_overhead)
}

/// The deployments whose site lies within `residency` (all of them when it is empty).
fn eligible_deployments(estate: &Estate, deployments: &[Deployment], residency: &[String]) -> Vec<u32> {
    deployments
        .iter()
        .enumerate()
        .filter(|(_, d)| within_residency(&estate.sites[d.site.index()].jurisdiction, residency))
        .map(|(i, _)| i as u32)
        .collect()
}

fn build_service(
    scenario: &Scenario,
    estate: &mut Estate,
    streams: &RngStreams,
    index: usize,
    spec: &ServiceSpec,
) -> Result<ServiceState, ServingError> {
    let placement = |problem: String| ServingError::Placement {
        service: spec.name.clone(),
        problem,
    };
    let payer = Payer {
        class: WorkloadClass::Inference,
        workload: index as u32,
    };
    let mut deployments: Vec<Deployment> = Vec::new();
    for replicas in &spec.replicas {
        let pool = estate
            .pools
            .iter()
            .position(|p| p.name == replicas.pool)
            .map(|p| PoolId(p as u32))
            .ok_or_else(|| placement(format!("no pool {}", replicas.pool)))?;
        let at = match deployments.iter().position(|d| d.pool == pool) {
            Some(at) => at,
            None => {
                deployments.push(new_deployment(estate, pool, replicas.tier));
                deployments.len() - 1
            }
        };
        if replicas.keep_warm.is_some() {
            deployments[at].floor = replicas.keep_warm;
        }
        for _ in 0..replicas.count {
            let allocation = estate
                .allocate(
                    SimTime::ZERO,
                    pool,
                    replicas.tier,
                    spec.model.gpus_per_replica,
                    payer,
                )
                .map_err(|e| placement(e.to_string()))?;
            deployments[at].add_replica(allocation, true);
            deployments[at].slots_ready += spec.model.slots_per_replica;
        }
        let initial = &mut deployments[at].initial;
        match initial.iter_mut().find(|(tier, _)| *tier == replicas.tier) {
            Some((_, count)) => *count += replicas.count,
            None => initial.push((replicas.tier, replicas.count)),
        }
    }
    let mut demands = Vec::with_capacity(spec.demand.len());
    for (d, demand) in spec.demand.iter().enumerate() {
        let arrivals_error = |problem: String| ServingError::Arrivals {
            service: spec.name.clone(),
            origin: demand.origin.clone(),
            problem,
        };
        let trace = match &demand.arrivals {
            crate::workload::arrivals::ArrivalSpec::Trace(trace) => {
                Some(Arc::new(Trace::load(&scenario.resolve_path(&trace.path), trace)?))
            }
            _ => None,
        };
        let process =
            ArrivalProcess::new(&demand.arrivals, trace).map_err(|e| arrivals_error(e.to_string()))?;
        let origin = estate
            .sites
            .iter()
            .position(|s| s.name == demand.origin)
            .unwrap_or(0);
        demands.push(Demand {
            id: DemandId(0),
            origin: SiteId(origin as u32),
            process,
            rng: streams.stream(&stream_name(
                "arrivals",
                &spec.name,
                &format!("{d}:{}", demand.origin),
            )),
            next: None,
            eligible: eligible_deployments(estate, &deployments, &demand.residency),
            residency: demand.residency.clone(),
            context_tokens: demand.context_tokens,
            generated_tokens: demand.generated_tokens,
            last_choice: None,
            logged_choice: None,
            logged_at: SimTime::ZERO,
            unlogged_changes: 0,
            epoch: 0,
        });
    }
    let metrics_spec = &scenario.spec.metrics;
    let slo = spec.slo.as_ref().map(|s| (s.percentile, s.latency));
    Ok(ServiceState {
        name: spec.name.clone(),
        metrics: ServiceMetrics::new(
            demands.len(),
            metrics_spec.window.as_nanos(),
            metrics_spec.warmup.as_nanos(),
            slo.map_or(u64::MAX, |(_, bound)| bound.as_nanos()),
            matches!(spec.service_time, ServiceTimeSpec::Llm { .. }),
        ),
        deployments,
        payer,
        slo,
        time: ServiceTime::new(&spec.service_time).map_err(|e| placement(e.to_string()))?,
        time_rng: streams.stream(&stream_name("service_time", &spec.name, "")),
        demands,
        fallback: None,
        fallback_rng: streams.stream(&stream_name("fallback", &spec.name, "")),
        timeout_ns: spec.timeout.as_nanos(),
        queue_limit: spec.queue_limit,
        gpus_per_replica: spec.model.gpus_per_replica,
        slots_per_replica: spec.model.slots_per_replica,
        model_bytes: spec.model.memory.bytes(),
        autoscale: spec.autoscaling.clone(),
        last_degrade_logged: None,
        degraded_by_policy: false,
        usage: Vec::new(),
        usage_marks: Vec::new(),
    })
}

fn new_deployment(estate: &Estate, pool: PoolId, tier: Tier) -> Deployment {
    let p = &estate.pools[pool.index()];
    Deployment {
        id: DeploymentId(0),
        site: p.site,
        pool,
        tier,
        initial: Vec::new(),
        speed: estate.accelerators[p.accelerator.index()].speed(WorkloadClass::Inference),
        replicas: Vec::new(),
        next_replica_id: 0,
        slots_ready: 0,
        busy: 0,
        queue: VecDeque::new(),
        timeout_watch: None,
        busy_slot_ns: 0,
        ready_slot_ns: 0,
        last_change: SimTime::ZERO,
        last_scale: SimTime::ZERO,
        scaled_busy_slot_ns: 0,
        scaled_ready_slot_ns: 0,
        floor: None,
    }
}

/// What policies see of services and may do to them.
impl Serving {
    /// The deployment of `service` at `site`, if it has one.
    fn deployment_at(&self, service: ServiceId, site: SiteId) -> Option<u32> {
        let state = self.services.get(service.0 as usize)?;
        state
            .deployments
            .iter()
            .position(|d| d.site == site)
            .map(|d| d as u32)
    }

    /// Sites where `service` is deployed, in deployment order.
    pub fn sites_of(&self, service: ServiceId) -> Vec<SiteId> {
        self.services
            .get(service.0 as usize)
            .map(|s| s.deployments.iter().map(|d| d.site).collect())
            .unwrap_or_default()
    }

    /// Replicas (ready or starting) of `service` at `site`.
    pub fn replicas_at(&self, service: ServiceId, site: SiteId) -> u32 {
        self.deployment_at(service, site).map_or(0, |d| {
            self.services[service.0 as usize].deployments[d as usize]
                .replicas
                .len() as u32
        })
    }

    /// Replicas of `service` at `site` ready to serve.
    pub fn ready_replicas_at(&self, service: ServiceId, site: SiteId) -> u32 {
        self.deployment_at(service, site).map_or(0, |d| {
            self.services[service.0 as usize].deployments[d as usize].ready_replicas() as u32
        })
    }

    /// Requests of `service` queued at `site`.
    pub fn queued_at(&self, service: ServiceId, site: SiteId) -> u32 {
        self.deployment_at(service, site).map_or(0, |d| {
            self.services[service.0 as usize].deployments[d as usize]
                .queue
                .len() as u32
        })
    }

    /// Whether `service` has a fallback, and whether a policy sends its requests there now.
    pub fn fallback_state(&self, service: ServiceId) -> (bool, bool) {
        self.services
            .get(service.0 as usize)
            .map_or((false, false), |s| (s.fallback.is_some(), s.degraded_by_policy))
    }

    /// Sends `service`'s requests to its fallback, or back. Whether it has a fallback.
    pub fn set_degraded(&mut self, service: ServiceId, active: bool) -> bool {
        match self.services.get_mut(service.0 as usize) {
            Some(state) if state.fallback.is_some() => {
                state.degraded_by_policy = active;
                true
            }
            _ => false,
        }
    }

    /// Scales `service` at `site` to `replicas`: new ones start with the service's cold start
    /// in its autoscaling tier where the pool has it, else in the deployment's own tier; only
    /// idle ones are removed. Logs the scaling; returns why it cannot be done, if it cannot.
    #[allow(clippy::too_many_arguments)]
    pub fn scale_to<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        site: SiteId,
        replicas: u32,
        reason: String,
    ) -> Result<Result<(), String>, KernelError> {
        let Some(deployment) = self.deployment_at(service, site) else {
            return Ok(Err("the service is not deployed there".into()));
        };
        if !estate.sites[site.index()].up {
            return Ok(Err("the site is down".into()));
        }
        let s = service.0;
        let state = &self.services[s as usize];
        let current = state.deployments[deployment as usize].replicas.len() as u32;
        let subject = subject(estate, state, deployment);
        if replicas > current {
            // The autoscaler's tier where the pool has it, else the tier the deployment started in
            // (a data centre has owned GPUs, not on-demand ones).
            let deployed = &state.deployments[deployment as usize];
            let pool = &estate.pools[deployed.pool.index()];
            let tier = state
                .autoscale
                .as_ref()
                .map(|a| a.tier)
                .filter(|&t| pool.tier(t).is_some())
                .unwrap_or(deployed.tier);
            let cold_start = state.replica_start();
            let started =
                self.start_replicas(ctx, estate, (s, deployment), tier, replicas - current, cold_start)?;
            self.services[s as usize].deployments[deployment as usize].last_scale = ctx.now();
            decider.record(
                ctx.now(),
                DecisionKind::Scale,
                subject,
                started.choice(),
                started.reason(&reason),
            );
        } else if replicas < current {
            self.remove_replicas(
                ctx.now(),
                estate,
                decider,
                s,
                deployment,
                current - replicas,
                subject,
                reason,
            );
        }
        Ok(Ok(()))
    }
}
