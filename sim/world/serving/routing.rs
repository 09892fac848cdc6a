//! Routing: a request arrives from its origin's demand stream, the policy picks a deployment
//! among those that may serve it, and the request travels there. Route changes are logged per
//! origin, not per request.

use rand::Rng;

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::metrics::service::FailReason;
use crate::policy::{Decider, DecisionKind, RouteCandidate, RouteRequest, View};
use crate::vocab::ServiceId;
use crate::vocab::ids::SiteId;

use super::build::eligible_deployments;
use super::*;

impl Serving {
    /// A request of `service` arrives from demand `demand` (unless a rate change of a later
    /// `epoch` withdrew it).
    pub(super) fn arrival<E: From<ServingEvent>>(
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
            primary: None,
        };
        self.submit(ctx, estate, decider, request)
    }

    /// Routes a request and sends it on its way to the chosen deployment.
    pub(super) fn submit<E: From<ServingEvent>>(
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
        self.fill_candidates(estate, &request, origin);
        if self.candidates.is_empty() {
            return self.fail(ctx, estate, decider, request, FailReason::NoEligibleSite);
        }
        let route_request = RouteRequest {
            service: request.service,
            origin,
            now: ctx.now(),
        };
        let view = View::of_estate(ctx.now(), estate);
        let subject = &self.services[request.service.index()].name;
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
                    request: id,
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
        self.services[service.index()].demands[index as usize].origin
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
    #[inline]
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
        let demand = &mut self.services[request.service.index()].demands[index as usize];
        // Almost every request goes where the last one went: that check stays on the hot path.
        if demand.last_choice.replace(request.deployment) != Some(request.deployment) {
            self.log_route_change(view, decider, route, request, index, chosen);
        }
    }

    /// The slow part of [`Serving::note_route_change`]: the stream's route moved.
    #[cold]
    fn log_route_change(
        &mut self,
        view: &View<'_>,
        decider: &mut Decider,
        route: &RouteRequest,
        request: &Request,
        index: u32,
        chosen: &RouteCandidate,
    ) {
        let now = view.now();
        let service = &mut self.services[request.service.index()];
        let demand = &mut service.demands[index as usize];
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
    pub(super) fn note_settled_routes(&mut self, now: SimTime, estate: &Estate, decider: &mut Decider) {
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

    /// A demand surge: from now on the arrival rate of `service`'s demand from `origin` (every
    /// origin if `None`) is `factor` times the spec's (1 ends the surge). An arrival already
    /// drawn under the old rate is withdrawn and the next one drawn from now. A factor the
    /// arrival process refuses (negative, not finite, or a rate beyond `f64`; the scenario
    /// checks refuse the first two) leaves the stream as it is.
    pub fn set_demand_factor<E: From<ServingEvent>>(
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
