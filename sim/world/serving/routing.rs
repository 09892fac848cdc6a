//! Routing: a request arrives from its origin's demand stream, the policy picks a deployment
//! among those that may serve it, and the request travels there. Each stream (a service's
//! demand from one origin) has a site, which the `Decider` keeps unless another is better by
//! the route margin or the stream's preferred site is no worse; while that site is full a
//! request may spill over to another without moving the stream. A change of a stream's site is
//! logged, not every request.

use rand::Rng;

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::metrics::service::FailReason;
use crate::policy::{Decider, DecisionKind, RouteCandidate, RouteRequest, RouteWhy, View, lowest_latency};
use crate::vocab::ServiceId;
use crate::vocab::ids::SiteId;

use super::build::eligible_deployments;
use super::*;

/// Where a request goes: a deployment, its site, the round trip there and the chance that a
/// packet is lost on the way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Route {
    deployment: u32,
    site: SiteId,
    round_trip_ns: u64,
    loss: f64,
}

impl Route {
    /// The route from `origin` to `deployment` at `site`, its round trip `round_trip_ns`, with
    /// its loss read from the network's route table (a stream's [`KeptRoute`] keeps it, so a
    /// request routed there reads no table cell).
    fn through(estate: &Estate, origin: SiteId, deployment: u32, site: SiteId, round_trip_ns: u64) -> Self {
        Route {
            deployment,
            site,
            round_trip_ns,
            loss: estate.network.route_loss(origin, site).unwrap_or(0.0),
        }
    }
}

impl Serving {
    /// A request of `service` arrives from demand `demand` (unless a rate change of a later
    /// `epoch` withdrew it).
    pub(super) fn arrival<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        demand: u32,
        epoch: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.services[service.index()];
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
            response_bytes: 0,
            primary: None,
        };
        self.submit(ctx, estate, decider, request)
    }

    /// Routes a request and sends it on its way to the chosen deployment.
    // Inlined where requests are made, so that a new request's fields go from registers into
    // its slot rather than through the stack and a copy that waits for them (see `store`).
    #[inline(always)]
    pub(super) fn submit<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        mut request: Request,
    ) -> Result<(), KernelError> {
        let service = &self.services[request.service.index()];
        if request.primary.is_none() && service.degraded_by_policy && service.fallback.is_some() {
            return self.fail(ctx, estate, decider, request, FailReason::PolicyDegraded);
        }
        let origin = self.origin_of(&request);
        let route = match self.settled_route(estate, decider, &request, origin) {
            Some(route) => route,
            None => {
                let Some(route) = self.choose_route(ctx.now(), estate, decider, &request, origin) else {
                    return self.fail(ctx, estate, decider, request, FailReason::NoEligibleSite);
                };
                route
            }
        };
        let (sent, received) = self.send_payload(estate, &mut request, origin, route.site);
        let one_way_ns = route.round_trip_ns / 2 + sent;
        let network_ns = route.round_trip_ns + self.loss_penalty(route) + sent + received;
        // The route's figures go into the slot after the request is copied there, not into
        // the copy just before: see `store`.
        let (id, generation) = self.store(request);
        let stored = &mut self.requests[id.index()];
        stored.deployment = route.deployment;
        stored.one_way_ns = one_way_ns;
        stored.network_ns = network_ns;
        if one_way_ns == 0 {
            self.enter(ctx, estate, decider, id)
        } else {
            schedule_after(
                ctx,
                SimDuration::from_nanos(one_way_ns),
                ServingEvent::ReachSite {
                    request: id,
                    generation,
                },
            )?;
            Ok(())
        }
    }

    /// The route of a stream's request when the stream's site is where the policy would send it
    /// and the decider would keep it, so neither is consulted and no change is logged:
    ///
    /// - the stream has one deployment that may serve it, and it can serve now: the policy
    ///   would be offered that one candidate and the decider would take it unasked;
    /// - or the policy routes by lowest latency alone and the stream's site holds its idle
    ///   leader with a free slot ([`leader_route`]).
    ///
    /// These are the usual cases (a service deployed in one place; a lightly loaded estate
    /// whose streams stay on their nearest site), and they skip building the candidates'
    /// figures, which only the policy reads.
    #[inline]
    fn settled_route(
        &mut self,
        estate: &Estate,
        decider: &Decider,
        request: &Request,
        origin: SiteId,
    ) -> Option<Route> {
        let (Some(index), None) = (request.origin_index, request.primary) else {
            return None;
        };
        let service = &mut self.services[request.service.index()];
        let demand = &service.demands[index as usize];
        let current = demand.site?;
        let &[only] = demand.eligible.as_slice() else {
            return if decider.routes_by_lowest_latency() {
                leader_route(estate, service, index as usize, request, origin, current)
            } else {
                None
            };
        };
        let route = only_route(estate, service, index as usize, origin, only)?;
        let deployment = &service.deployments[only as usize];
        (route.site == current && deployment.slots_ready > 0).then_some(route)
    }

    /// Asks the policy, through the decider, where a request goes among the deployments that
    /// may serve it now, and moves its stream there unless it spills over; `None` when no
    /// deployment can serve it.
    #[inline(never)] // kept out of line: see `Serving`
    fn choose_route(
        &mut self,
        now: SimTime,
        estate: &Estate,
        decider: &mut Decider,
        request: &Request,
        origin: SiteId,
    ) -> Option<Route> {
        self.fill_candidates(estate, request, origin);
        if self.candidates.is_empty() {
            return None;
        }
        let route_request = RouteRequest {
            service: request.service,
            origin,
            now,
            current: self.current_site(request),
        };
        let view = View::of_estate(now, estate);
        let subject = &self.services[request.service.index()].name;
        let routed = decider.route(&view, &route_request, &self.candidates, subject);
        let chosen = self.candidates[routed.index];
        if !routed.spill {
            self.note_route_change(&view, decider, &route_request, request, &chosen, routed.why);
        }
        let deployment = self.candidate_deployments[routed.index];
        Some(Route::through(
            estate,
            origin,
            deployment,
            chosen.site,
            chosen.round_trip_ns,
        ))
    }

    /// Meters the request's bytes from `origin` to `site` and notes its response's size;
    /// returns the time to send each way (zero unless the payload takes time to send).
    /// Inlined for the test alone: every service has a meter once any demand has a payload, so
    /// without one there are no sizes to count and no time to send them.
    #[inline(always)]
    fn send_payload(
        &self,
        estate: &mut Estate,
        request: &mut Request,
        origin: SiteId,
        site: SiteId,
    ) -> (u64, u64) {
        match self.services[request.service.index()].meter {
            None => (0, 0),
            Some(meter) => self.meter_payload(estate, request, meter, origin, site),
        }
    }

    /// [`send_payload`](Self::send_payload) for a service whose payloads `meter` counts.
    #[inline(never)] // kept out of line: see `Serving`
    fn meter_payload(
        &self,
        estate: &mut Estate,
        request: &mut Request,
        meter: MeterId,
        origin: SiteId,
        site: SiteId,
    ) -> (u64, u64) {
        let payload = &request.demand(&self.services).payload;
        let (request_bytes, response_bytes) = payload.bytes(request.context, request.generated);
        request.response_bytes = response_bytes;
        estate.meter(meter, origin, site, request_bytes);
        if !payload.serialization {
            return (0, 0);
        }
        let send_ns = |from: SiteId, to: SiteId, bytes: u64| {
            estate
                .network
                .route_bottleneck_bps(from, to)
                .map_or(0, |bps| (bytes as f64 * 8.0 / bps * 1e9).ceil() as u64)
        };
        (
            send_ns(origin, site, request_bytes),
            send_ns(site, origin, response_bytes),
        )
    }

    pub(super) fn origin_of(&self, request: &Request) -> SiteId {
        request.demand(&self.services).origin
    }

    /// Refills the candidate buffers with the deployments that may serve `request` now.
    // Inlined: it runs once per request, and as a call it costs more than its body saves.
    #[inline]
    fn fill_candidates(&mut self, estate: &Estate, request: &Request, origin: SiteId) {
        self.candidates.clear();
        self.candidate_deployments.clear();
        let fallback_eligible;
        let eligible: &[u32] = match request.primary {
            None => {
                &self.services[request.service.index()].demands[request.origin_index.unwrap_or(0) as usize]
                    .eligible
            }
            Some(primary) => {
                let residency =
                    &self.services[primary.service.index()].demands[primary.origin_index as usize].residency;
                fallback_eligible = eligible_deployments(
                    estate,
                    &self.services[request.service.index()].deployments,
                    residency,
                );
                &fallback_eligible
            }
        };
        let service = &self.services[request.service.index()];
        let mean_ns = service.time.mean_ns(request.context, request.generated);
        let batched = service.time.batched().is_some();
        for &d in eligible {
            let deployment = &service.deployments[d as usize];
            if let Some(candidate) = route_candidate(estate, deployment, origin, mean_ns, batched) {
                self.candidates.push(candidate);
                self.candidate_deployments.push(d);
            }
        }
    }

    /// A lost packet costs a retransmission timeout; drawn per request on the route's loss.
    fn loss_penalty(&mut self, route: Route) -> u64 {
        if route.loss > 0.0 && self.network_rng.random::<f64>() < route.loss {
            MIN_RETRANSMIT_TIMEOUT_NS.max(route.round_trip_ns)
        } else {
            0
        }
    }

    /// The site of the request's stream; `None` for a fallback request, which is no stream's
    /// own.
    fn current_site(&self, request: &Request) -> Option<SiteId> {
        let (Some(index), None) = (request.origin_index, request.primary) else {
            return None;
        };
        self.services[request.service.index()].demands[index as usize].site
    }

    /// Sets the stream's site to the one a request (not a spilled one) went to, and logs a
    /// change. Routing is sticky (see the `Decider`), so every change is news: the old site can
    /// no longer serve, the new one is clearly better, or the stream is back on its preferred
    /// site.
    fn note_route_change(
        &mut self,
        view: &View<'_>,
        decider: &mut Decider,
        route: &RouteRequest,
        request: &Request,
        chosen: &RouteCandidate,
        why: RouteWhy,
    ) {
        let (Some(index), None) = (request.origin_index, request.primary) else {
            return;
        };
        let service = &mut self.services[request.service.index()];
        let demand = &mut service.demands[index as usize];
        demand.site = Some(chosen.site);
        if route.current == Some(chosen.site) {
            return;
        }
        let why = match (route.current, why) {
            (None, _) => "first request".to_string(),
            (Some(was), RouteWhy::Back) => {
                format!("to its preferred site, no worse than {}", view.site_name(was))
            }
            (Some(was), _) if self.candidates.iter().any(|c| c.site == was) => {
                format!(
                    "better than {} by more than the route margin",
                    view.site_name(was)
                )
            }
            (Some(was), _) => format!("{} can no longer serve", view.site_name(was)),
        };
        let subject = format!("{} from {}", service.name, view.site_name(demand.origin));
        let alternatives = decider.route_alternatives(view, route, &self.candidates, chosen.site);
        let reason = format!(
            "{} score {:.3}; expected {:.1} ms; {why}",
            decider.policy_name(),
            decider.route_score(view, route, chosen),
            chosen.expected_latency_ns() / 1e6,
        );
        let choice = view.site_name(chosen.site).to_string();
        decider.record_with(
            view.now(),
            DecisionKind::RouteChange,
            subject,
            choice,
            alternatives,
            reason,
        );
    }

    /// A demand surge: from now on the arrival rate of `service`'s demand from `origin` (every
    /// origin if `None`) is `factor` times the spec's (1 ends the surge). An arrival already
    /// drawn under the old rate is withdrawn and the next one drawn from now. A factor the
    /// arrival process refuses (negative, not finite, or a rate beyond `f64`; the scenario
    /// checks refuse the first two) leaves the stream as it is.
    pub fn set_demand_factor<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        service: ServiceId,
        origin: Option<SiteId>,
        factor: f64,
    ) -> Result<(), KernelError> {
        let state = &mut self.services[service.index()];
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
}

/// What the policy sees of `deployment` for a request from `origin` whose mean service time
/// is `mean_ns` on the reference accelerator; `None` when it cannot serve now (its site is
/// down, no slot is ready, or no route leads there).
#[inline]
fn route_candidate(
    estate: &Estate,
    deployment: &Deployment,
    origin: SiteId,
    mean_ns: f64,
    batched: bool,
) -> Option<RouteCandidate> {
    if !estate.sites[deployment.site.index()].up || deployment.slots_ready == 0 {
        return None;
    }
    let rtt = estate.network.rtt(origin, deployment.site)?;
    Some(RouteCandidate {
        site: deployment.site,
        round_trip_ns: rtt.as_nanos(),
        queued: deployment.queue.len() as u32,
        // A batched deployment can have places its KV cache cannot fill: while requests wait
        // there, nothing new starts, whatever the free places say.
        free_slots: if batched && !deployment.queue.is_empty() {
            0
        } else {
            deployment.slots_ready.saturating_sub(deployment.busy)
        },
        slots: deployment.slots_ready,
        // Dividing by 1 changes nothing; skipping it spares a division per candidate.
        mean_service_ns: if deployment.speed == 1.0 {
            mean_ns
        } else {
            mean_ns / deployment.speed
        },
        usd_per_gpu_hour: estate.pools[deployment.pool.index()]
            .tier(deployment.tier)
            .map_or(0.0, |t| t.price_per_gpu_hour),
    })
}

/// The route of stream `stream` to `only`, its one deployment that may serve it, whatever its
/// load: the [`KeptRoute`], worked out again when the sites, routes or ready slots changed.
/// `None` when the deployment's site is down or unreachable from `origin`.
fn only_route(
    estate: &Estate,
    service: &mut ServiceState,
    stream: usize,
    origin: SiteId,
    only: u32,
) -> Option<Route> {
    let versions = (estate.routing_version(), service.ready_version);
    let demand = &mut service.demands[stream];
    if let Some(kept) = demand.kept_route.filter(|k| k.versions == versions) {
        return kept.route;
    }
    let site = service.deployments[only as usize].site;
    let route = estate.sites[site.index()]
        .up
        .then(|| estate.network.rtt(origin, site))
        .flatten()
        .map(|rtt| Route::through(estate, origin, only, site, rtt.as_nanos()));
    demand.kept_route = Some(KeptRoute {
        versions,
        mean_ns_bits: 0,
        route,
    });
    route
}

/// The route to a stream's `current` site when it leads for a policy that routes by lowest
/// latency: its idle leader ([`KeptRoute`]) is there and has a free slot. A free slot means it
/// scores as if idle; every deployment before it among the candidates scores worse even as if
/// idle, and every one after it no better, since waiting only adds to a score (the sum and the
/// division are monotone in each term, also in rounding). So the policy's `argmin`, which keeps
/// the earlier of equal scores, picks that deployment whatever the queues elsewhere, and the
/// decider keeps a stream on the site the policy picks. `None` otherwise: the policy decides.
fn leader_route(
    estate: &Estate,
    service: &mut ServiceState,
    stream: usize,
    request: &Request,
    origin: SiteId,
    current: SiteId,
) -> Option<Route> {
    let mean_ns = service.time.mean_ns(request.context, request.generated);
    let batched = service.time.batched().is_some();
    let versions = (estate.routing_version(), service.ready_version);
    let demand = &mut service.demands[stream];
    let cached = demand
        .kept_route
        .filter(|c| c.versions == versions && c.mean_ns_bits == mean_ns.to_bits());
    let kept = match cached {
        Some(cached) => cached,
        None => {
            let fresh = KeptRoute {
                versions,
                mean_ns_bits: mean_ns.to_bits(),
                route: idle_leader(estate, &service.deployments, &demand.eligible, origin, mean_ns),
            };
            demand.kept_route = Some(fresh);
            fresh
        }
    };
    let leader = kept.route?;
    let d = &service.deployments[leader.deployment as usize];
    let free_slots = if batched && !d.queue.is_empty() {
        0
    } else {
        d.slots_ready.saturating_sub(d.busy)
    };
    (leader.site == current && free_slots > 0).then_some(leader)
}

/// Among the `eligible` deployments that can serve a request from `origin` now, the one whose
/// [`lowest_latency::route_score`] as if idle is the lowest, the earlier on a tie as the
/// policy's `argmin` breaks it, with its site and round trip; `None` when a score does not
/// compare.
fn idle_leader(
    estate: &Estate,
    deployments: &[Deployment],
    eligible: &[u32],
    origin: SiteId,
    mean_ns: f64,
) -> Option<Route> {
    let mut leader: Option<((u32, SiteId, u64), f64)> = None;
    for &d in eligible {
        let Some(candidate) = route_candidate(estate, &deployments[d as usize], origin, mean_ns, false)
        else {
            continue;
        };
        let idle_score = lowest_latency::route_score(&candidate.idle());
        if idle_score.is_nan() {
            return None;
        }
        if leader.is_none_or(|(_, best)| idle_score < best) {
            leader = Some(((d, candidate.site, candidate.round_trip_ns), idle_score));
        }
    }
    leader.map(|((deployment, site, round_trip_ns), _)| {
        Route::through(estate, origin, deployment, site, round_trip_ns)
    })
}
