//! What incidents do to services: outages, lost replicas, capacity shocks.

use std::cmp::Reverse;

use crate::infra::estate::{AllocationId, Estate};
use crate::kernel::{Context, KernelError, SimTime};
use crate::metrics::service::FailReason;
use crate::policy::{Decider, DecisionKind};
use crate::vocab::Tier;
use crate::vocab::ids::{PoolId, SiteId};

use super::*;

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
    pub fn site_down<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        site: SiteId,
    ) -> Result<(), KernelError> {
        let hit = self.deployments_at(site);
        for &(s, d) in &hit {
            while let Some(last) = self.services[s.index()].deployments[d as usize]
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
    pub fn site_up<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        site: SiteId,
    ) -> Result<(), KernelError> {
        for (s, d) in self.deployments_at(site) {
            let state = &self.services[s.index()];
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
            self.services[s.index()].deployments[d as usize].owed = [0; 4];
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
    pub fn replica_failed<E: From<ServingEvent> + Copy>(
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
    pub fn stop_replica<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        allocation: AllocationId,
    ) -> Result<Option<LostReplica>, KernelError> {
        let Some((service, deployment, index)) = self.find_replica(allocation) else {
            return Ok(None);
        };
        let initial_tier = self.services[service.index()].deployments[deployment as usize].tier;
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
    /// A replacement the tier refuses is owed: [`capacity_returned`](Self::capacity_returned)
    /// starts it.
    pub fn replace_replica<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        lost: LostReplica,
    ) -> Result<(), KernelError> {
        let at = (lost.service, lost.deployment);
        let why = "a replica was lost; replacing it";
        let added = self.restart_replicas(ctx, estate, decider, at, lost.tier, 1, why)?;
        self.deployment_mut(at).owed[lost.tier.index()] += 1 - added;
        Ok(())
    }

    /// GPUs of `tier` in `pool` came back (from repair, at the end of a capacity shock, or
    /// offered again on the spot market): the replicas that failures and shortages took from
    /// the pool's deployments, and that could not be replaced then, restart as far as the tier
    /// has room. Nothing is tried, or logged, while it has no room for one replica.
    pub fn capacity_returned<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        pool: PoolId,
        tier: Tier,
    ) -> Result<(), KernelError> {
        let free = |estate: &Estate| {
            estate.pools[pool.index()]
                .tier(tier)
                .map_or(0, |t| t.capacity.saturating_sub(t.in_use))
        };
        for s in 0..self.services.len() {
            for d in 0..self.services[s].deployments.len() as u32 {
                let deployment = &self.services[s].deployments[d as usize];
                let owed = deployment.owed[tier.index()];
                if deployment.pool != pool || owed == 0 || free(estate) < self.services[s].gpus_per_replica {
                    continue;
                }
                let at = (service_id(s), d);
                let why = "capacity is back: lost replicas restart";
                let added = self.restart_replicas(ctx, estate, decider, at, tier, owed, why)?;
                self.deployment_mut(at).owed[tier.index()] -= added;
            }
        }
        Ok(())
    }

    /// Starts up to `count` replicas of `tier` at `at`, logs a Scale decision saying `why` and
    /// what the tier refused, and settles the deployment. Returns how many started.
    #[allow(clippy::too_many_arguments)] // the handler's three parts, then what to start and why
    fn restart_replicas<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
        tier: Tier,
        count: u32,
        why: &str,
    ) -> Result<u32, KernelError> {
        let state = &self.services[at.0.index()];
        let (subject, cold_start) = (subject(estate, state, at.1), state.replica_start());
        let started = self.start_replicas(ctx, estate, at, tier, count, cold_start)?;
        decider.record(
            ctx.now(),
            DecisionKind::Scale,
            subject,
            started.choice(),
            started.reason(why),
        );
        self.settle(ctx, estate, decider, at)?;
        Ok(started.added())
    }

    fn deployment_mut(&mut self, (service, deployment): Position) -> &mut Deployment {
        &mut self.services[service.index()].deployments[deployment as usize]
    }

    /// A capacity shock: gives back replicas holding GPUs of `tier` in `pool`, newest first,
    /// until `gpus` GPUs are freed or none are left (requests in service on them fail). Starts
    /// no replacement now; the replicas are owed until the tier's capacity comes back
    /// ([`capacity_returned`](Self::capacity_returned)). Returns the GPUs freed, which may
    /// exceed `gpus` by part of a replica.
    pub fn shed_replicas<E: From<ServingEvent> + Copy>(
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
                        held.push((a.since, service_id(s), d as u32, r.id, r.allocation));
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
            let replicas = &self.services[s.index()].deployments[d as usize].replicas;
            if let Some(index) = replicas.iter().position(|r| r.allocation == allocation) {
                freed += self.drop_replica(ctx.now(), estate, (s, d), index);
                self.deployment_mut((s, d)).owed[tier.index()] += 1;
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

    /// The deployments at `site`, as (service, deployment).
    fn deployments_at(&self, site: SiteId) -> Vec<Position> {
        let mut found = Vec::new();
        for (s, state) in self.services.iter().enumerate() {
            for (d, deployment) in state.deployments.iter().enumerate() {
                if deployment.site == site {
                    found.push((service_id(s), d as u32));
                }
            }
        }
        found
    }

    /// The service, deployment and position of the replica holding `allocation`.
    fn find_replica(&self, allocation: AllocationId) -> Option<(ServiceId, u32, usize)> {
        self.services.iter().enumerate().find_map(|(s, state)| {
            state.deployments.iter().enumerate().find_map(|(d, deployment)| {
                let index = deployment
                    .replicas
                    .iter()
                    .position(|r| r.allocation == allocation)?;
                Some((service_id(s), d as u32, index))
            })
        })
    }

    /// Takes replica `index` out of deployment `at` and gives its GPUs back; returns how many.
    pub(super) fn drop_replica(
        &mut self,
        now: SimTime,
        estate: &mut Estate,
        (s, d): Position,
        index: usize,
    ) -> u32 {
        let orphans = self.orphan(now, (s, d), index);
        self.orphans.extend(orphans);
        let state = &mut self.services[s.index()];
        let deployment = &mut state.deployments[d as usize];
        deployment.integrate(now);
        let replica = deployment.replicas.remove(index);
        if replica.ready {
            deployment.slots_ready -= state.slots_per_replica;
            state.ready_version += 1;
        }
        estate.release(now, replica.allocation).map_or(0, |a| a.gpus)
    }

    /// Fails, as [`FailReason::ReplicaLost`], the sequences of the batched replicas just dropped,
    /// then the most recently started requests of deployment `at` while it has fewer ready slots
    /// than requests in service.
    fn cut_excess<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
    ) -> Result<(), KernelError> {
        for id in std::mem::take(&mut self.orphans) {
            let request = self.release(id);
            self.fail(ctx, estate, decider, request, FailReason::ReplicaLost)?;
        }
        let deployment = &mut self.services[at.0.index()].deployments[at.1 as usize];
        let excess = deployment.busy.saturating_sub(deployment.slots_ready);
        if excess == 0 {
            return Ok(());
        }
        deployment.integrate(ctx.now());
        deployment.busy -= excess;
        let mut serving = self.slots_where(Stage::InService, &[at]);
        serving.sort_unstable_by_key(|&id| Reverse((self.requests[id.index()].started, id)));
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
    fn settle<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
    ) -> Result<(), KernelError> {
        if self.services[at.0.index()].deployments[at.1 as usize]
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
    fn evacuate<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        targets: &[Position],
    ) -> Result<(), KernelError> {
        let mut moved = Vec::new();
        for &(s, d) in targets {
            moved.extend(self.services[s.index()].deployments[d as usize].queue.drain(..));
        }
        moved.extend(self.slots_where(Stage::Travelling, targets));
        moved.sort_by_key(|&id| self.requests[id.index()].arrived);
        let requests: Vec<Request> = moved.into_iter().map(|id| self.release(id)).collect();
        for request in requests {
            self.submit(ctx, estate, decider, request)?;
        }
        Ok(())
    }

    /// The slots of the requests at `stage` at any of the deployments `targets`, in slot order.
    fn slots_where(&self, stage: Stage, targets: &[Position]) -> Vec<RequestSlot> {
        let at = |r: &Request| r.stage == stage && targets.contains(&(r.service, r.deployment));
        (0..self.requests.len() as u32)
            .map(RequestSlot)
            .filter(|&id| at(&self.requests[id.index()]))
            .collect()
    }
}
