//! Replicas: cold starts, the autoscaler, and scaling asked for by the policy.

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::policy::{Decider, DecisionKind};
use crate::vocab::ServiceId;
use crate::vocab::Tier;
use crate::vocab::ids::SiteId;
use crate::workload::service::AutoscaleSpec;

use super::*;

impl Serving {
    /// Evaluates the autoscaler of `service` at every deployment.
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn autoscale<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
    ) -> Result<(), KernelError> {
        let Some(scale) = self.services[service.index()].autoscale.clone() else {
            return Ok(());
        };
        for d in 0..self.services[service.index()].deployments.len() {
            self.scale_deployment(ctx, estate, decider, service, d as u32, &scale)?;
        }
        let autoscale = ServingEvent::Autoscale { service };
        schedule_after(ctx, scale.interval, autoscale)?;
        Ok(())
    }

    fn scale_deployment<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        deployment: u32,
        scale: &AutoscaleSpec,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.services[service.index()];
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
        let current = d.kept_replicas() as u32;
        let ready_replicas = d.ready_replicas() as f64;
        let wanted = ((ready_replicas * utilization + waiting) / scale.target_utilization).ceil() as u32;
        let floor = d.floor.unwrap_or(scale.min);
        let desired = wanted.clamp(floor, scale.max.max(floor));
        let cooled = now.saturating_since(d.last_scale) >= scale.cooldown || d.last_scale == SimTime::ZERO;
        // While replicas start, nothing routes to them yet, so the load they are for is not
        // visible: no scale-down until they are ready.
        let starting = d.replicas.iter().any(|r| !r.ready);
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

    #[allow(clippy::too_many_arguments)]
    fn add_replicas<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        deployment: u32,
        count: u32,
        scale: &AutoscaleSpec,
        subject: String,
        reason: String,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let cold_start = cold_start(self.services[service.index()].model_bytes, scale);
        let started = self.start_replicas(
            ctx,
            estate,
            (service, deployment),
            scale.tier,
            count,
            Some(cold_start),
        )?;
        self.services[service.index()].deployments[deployment as usize].last_scale = now;
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
    pub(super) fn start_replicas<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        (service, deployment): Position,
        tier: Tier,
        count: u32,
        cold_start: Option<SimDuration>,
    ) -> Result<Started, KernelError> {
        let now = ctx.now();
        let state = &mut self.services[service.index()];
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
                    state.ready_version += 1;
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
        service: ServiceId,
        deployment: u32,
        count: u32,
        subject: String,
        reason: String,
    ) {
        let slots = self.services[service.index()].slots_per_replica;
        let mut removed = 0;
        // Newest replica first; requests in service are never cut off. A slot replica goes only
        // when the deployment has a replica's worth of idle slots; a batched replica whose batch
        // is not empty drains: it takes no new sequences and goes when its own are done.
        while removed < count {
            let d = &mut self.services[service.index()].deployments[deployment as usize];
            let (Some(index), true) = (
                d.replicas.iter().rposition(|r| !r.draining),
                d.kept_replicas() > 1,
            ) else {
                break;
            };
            let last = &mut d.replicas[index];
            if last.ready && !last.batch.is_idle() {
                last.draining = true;
            } else if last.ready && d.slots_ready - d.busy < slots {
                break;
            } else {
                self.drop_replica(now, estate, (service, deployment), index);
            }
            removed += 1;
        }
        if removed > 0 {
            self.services[service.index()].deployments[deployment as usize].last_scale = now;
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
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn replica_ready<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        service: ServiceId,
        deployment: u32,
        replica: u32,
    ) -> Result<(), KernelError> {
        let state = &mut self.services[service.index()];
        let slots = state.slots_per_replica;
        let d = &mut state.deployments[deployment as usize];
        // The replica may have been removed while it was starting.
        let Some(r) = d.replicas.iter_mut().find(|r| r.id == replica && !r.ready) else {
            return Ok(());
        };
        r.ready = true;
        d.integrate(ctx.now());
        d.slots_ready += slots;
        state.ready_version += 1;
        self.next_from_queue(ctx, estate, decider, service, deployment)
    }

    /// Scales `service` at `site` to `replicas`: new ones start with the service's cold start
    /// in its autoscaling tier where the pool has it, else in the deployment's own tier; only
    /// idle ones are removed. Logs the scaling; returns why it cannot be done, if it cannot.
    #[allow(clippy::too_many_arguments)]
    pub fn scale_to<E: From<ServingEvent> + Copy>(
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
        let s = service;
        let state = &self.services[s.index()];
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
            self.services[s.index()].deployments[deployment as usize].last_scale = ctx.now();
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

/// What a start of replicas achieved, for the decision log.
pub(super) struct Started {
    tier: Tier,
    wanted: u32,
    added: u32,
    cold_start: Option<SimDuration>,
    refusal: Option<String>,
}

impl Started {
    /// How many replicas started.
    pub(super) fn added(&self) -> u32 {
        self.added
    }

    pub(super) fn choice(&self) -> String {
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
    pub(super) fn reason(&self, why: &str) -> String {
        match &self.refusal {
            Some(refusal) => format!("{why}; wanted +{}, capacity refused: {refusal}", self.wanted),
            None => why.to_string(),
        }
    }
}
