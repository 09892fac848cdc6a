//! Requests at their deployment: the slab of request slots, the queue in front of the slots,
//! service, deadlines, and failure (with the fallback).

use rand::Rng;

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::metrics::service::{FailReason, LatencyParts};
use crate::policy::{Decider, DecisionKind};

use super::*;

impl Serving {
    /// Puts a travelling request in a slot; returns the slot and its generation.
    ///
    /// The request is copied whole and its stage and generation set in the slot afterwards:
    /// fields written into the request just before the copy would be read back by the copy in
    /// wider pieces than they were written in, which the processor cannot forward from its
    /// pending stores, and the copy would wait for them to land.
    #[inline]
    pub(super) fn store(&mut self, request: Request) -> (RequestSlot, u32) {
        let (id, generation) = match self.free_requests.pop() {
            Some(id) => {
                let slot = &mut self.requests[id.index()];
                let generation = slot.generation;
                *slot = request;
                (id, generation)
            }
            None => {
                self.requests.push(request);
                (RequestSlot((self.requests.len() - 1) as u32), 0)
            }
        };
        let slot = &mut self.requests[id.index()];
        slot.stage = Stage::Travelling;
        slot.generation = generation;
        (id, generation)
    }

    /// The limit, when more requests have been alive at once than `limits.in_flight` allows.
    /// The slab grows only when every slot is taken, so its length is the most ever alive.
    #[inline]
    pub fn in_flight_exceeded(&self) -> Option<usize> {
        (self.requests.len() > self.in_flight_limit).then_some(self.in_flight_limit)
    }

    /// Whether slot `id` still holds, at `stage`, the request an event of `generation` was for.
    fn live(&self, id: RequestSlot, generation: u32, stage: Stage) -> bool {
        self.requests
            .get(id.index())
            .is_some_and(|r| r.generation == generation && r.stage == stage)
    }

    /// A request reaches its deployment (unless it ended or was sent elsewhere meanwhile).
    pub(super) fn reach_site<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: RequestSlot,
        generation: u32,
    ) -> Result<(), KernelError> {
        if !self.live(id, generation, Stage::Travelling) {
            return Ok(());
        }
        self.enter(ctx, estate, decider, id)
    }

    /// A request at its deployment starts, waits, or is refused.
    pub(super) fn enter<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: RequestSlot,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let request = &mut self.requests[id.index()];
        request.reached = now;
        let (s, d) = (request.service.index(), request.deployment as usize);
        let service = &mut self.services[s];
        let limit = service.queue_limit as usize;
        let deadline_ns = request.arrived.as_nanos().saturating_add(service.timeout_ns);
        if service.time.batched().is_some() {
            if self.enter_batched(ctx, estate, decider, id)? {
                return Ok(());
            }
        } else if service.deployments[d].busy < service.deployments[d].slots_ready {
            return self.start_service(ctx, id);
        }
        let request = &mut self.requests[id.index()];
        let service = &mut self.services[s];
        let deployment = &mut service.deployments[d];
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
        if deployment.queue.len() == 1 && service.time.batched().is_some() {
            let position = (request.service, d as u32);
            return self.watch_queue_head(ctx, position);
        }
        Ok(())
    }

    /// Frees a request's slot, voiding the events still pending for it; returns the request.
    pub(super) fn release(&mut self, id: RequestSlot) -> Request {
        self.free_requests.push(id);
        let slot = &mut self.requests[id.index()];
        debug_assert!(slot.stage != Stage::Free, "a request ended twice");
        let request = *slot;
        slot.generation = slot.generation.wrapping_add(1);
        slot.stage = Stage::Free;
        request
    }

    fn start_service<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        id: RequestSlot,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let request = &mut self.requests[id.index()];
        let service = &mut self.services[request.service.index()];
        let deployment = &mut service.deployments[request.deployment as usize];
        deployment.integrate_busy(now);
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
                request: id,
                generation,
            },
        )?;
        Ok(())
    }

    /// A request finishes service (unless its replica was lost meanwhile): record it, then give
    /// the slot to the next waiting request.
    pub(super) fn service_done<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: RequestSlot,
        generation: u32,
    ) -> Result<(), KernelError> {
        if !self.live(id, generation, Stage::InService) {
            return Ok(());
        }
        let now = ctx.now();
        // Recorded from its slot, before the slot is freed: a copy of the request would cost
        // more than what is read of it.
        let request = &self.requests[id.index()];
        let (service, deployment) = (request.service, request.deployment);
        let state = &mut self.services[service.index()].deployments[deployment as usize];
        state.integrate_busy(now);
        state.busy -= 1;
        complete(&mut self.services, estate, now, request);
        self.release(id);
        self.next_from_queue(ctx, estate, decider, service, deployment)
    }
}

/// Records a request that ended served at `now`: its response's bytes, its latencies, and the
/// primary it stood in for. A function of the services alone, so that it can read the request
/// in its slot.
pub(super) fn complete(services: &mut [ServiceState], estate: &mut Estate, now: SimTime, request: &Request) {
    let service = &mut services[request.service.index()];
    let site = service.deployments[request.deployment as usize].site;
    if let Some(meter) = service.meter {
        let origin = request.demand(services).origin;
        estate.meter(meter, site, origin, request.response_bytes);
    }
    let service = &mut services[request.service.index()];
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
        // Only services that keep token metrics read it: spare the others the division.
        per_output_token: (request.generated > 1 && service.metrics.generated_tokens.is_some())
            .then(|| (served - request.first_token_ns) / u64::from(request.generated - 1)),
        generated_tokens: request.generated,
    };
    service.metrics.served(
        now.as_nanos(),
        request.arrived.as_nanos(),
        request.origin_index,
        &parts,
    );
    if let Some(primary) = request.primary {
        let latency = now.saturating_since(primary.arrived).as_nanos() + back;
        services[primary.service.index()].metrics.degraded(
            now.as_nanos(),
            primary.arrived.as_nanos(),
            Some(primary.origin_index),
            latency,
        );
    }
}

impl Serving {
    /// Starts waiting requests while slots are free, expiring those past their deadline.
    pub(super) fn next_from_queue<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        deployment: u32,
    ) -> Result<(), KernelError> {
        if self.services[service.index()].time.batched().is_some() {
            return self.pump(ctx, estate, decider, (service, deployment));
        }
        loop {
            let state = &mut self.services[service.index()];
            let timeout_ns = state.timeout_ns;
            let d = &mut state.deployments[deployment as usize];
            if d.busy >= d.slots_ready {
                return Ok(());
            }
            let Some(id) = d.queue.pop_front() else {
                return Ok(());
            };
            let deadline = self.requests[id.index()]
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
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn queue_timeout<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        deployment: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now().as_nanos();
        let timeout_ns = self.services[service.index()].timeout_ns;
        let watch = &mut self.services[service.index()].deployments[deployment as usize].timeout_watch;
        if *watch != Some(ctx.now()) {
            return Ok(()); // superseded by an earlier watch, which re-armed for what remains
        }
        *watch = None;
        loop {
            let d = &mut self.services[service.index()].deployments[deployment as usize];
            let Some(&front) = d.queue.front() else {
                return Ok(());
            };
            let deadline = self.requests[front.index()]
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
            if self.services[service.index()].time.batched().is_some() {
                self.watch_queue_head(ctx, (service, deployment))?;
            }
        }
    }

    /// A request cannot be served: try the fallback, or count the failure.
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn fail<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        request: Request,
        reason: FailReason,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let service = &mut self.services[request.service.index()];
        if let Some(primary) = request.primary {
            // The fallback failed too: both services count it, the fallback as a stand-in so
            // that counts over services see the user's request once.
            service
                .metrics
                .failed_standing_in(now.as_nanos(), request.arrived.as_nanos(), reason);
            let primary_metrics = &mut self.services[primary.service.index()].metrics;
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
                let target_name = self.services[target.index()].name.clone();
                self.note_degrade(now, decider, request.service, reason, &target_name);
                self.services[target.index()].metrics.arrival(now.as_nanos());
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
        service: ServiceId,
        reason: FailReason,
        to: &str,
    ) {
        let state = &mut self.services[service.index()];
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
}
