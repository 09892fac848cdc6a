//! Placement: the candidates a waiting job may go to (with the checkpoint copy it would restart
//! from), the policy's choice, deferral, and the staging of datasets and checkpoints to the
//! chosen site.

use std::cmp::Reverse;

use crate::infra::estate::{Estate, TransferPurpose, TransferTag};
use crate::infra::network::{FlowId, FlowSpec};
use crate::infra::pool::Pool;
use crate::kernel::{Context, KernelError, SimTime};
use crate::policy::{Decider, DecisionKind, PlaceOutcome, PlaceRequest, PlacementCandidate, View};
use crate::vocab::JobId;
use crate::vocab::Tier;
use crate::vocab::ids::SiteId;
use crate::workload::job::CheckpointUnavailable;

use super::*;

impl Jobs {
    /// The best checkpoint copy `job` can restart from at `site`: at a site that is up and
    /// reachable, the most progress, then the copy at `site` itself.
    pub(super) fn reachable_copy(&self, estate: &Estate, job: usize, site: SiteId) -> Option<(SiteId, u64)> {
        let dataset = self.jobs[job].def.dataset;
        self.jobs[job]
            .copies
            .iter()
            .copied()
            .filter(|&(at, _)| {
                estate.sites[at.index()].up
                    && (at == site || checkpoint_route(estate, dataset, at, site).is_some())
            })
            .max_by_key(|&(at, progress)| (progress, at == site, Reverse(at)))
    }

    /// Where the job's data and checkpoint must come from to run at `site`, how many bytes that
    /// is and about how long it takes; `None` when it cannot run there.
    fn staging_at(
        &self,
        estate: &Estate,
        job: usize,
        site: SiteId,
    ) -> Option<(Staging, Option<(SiteId, u64)>)> {
        let state = &self.jobs[job];
        let mut staging = Staging::default();
        if let Some(dataset) = state.def.dataset {
            let data = &estate.datasets[dataset.index()];
            if !estate.may_hold(dataset, site) {
                return None;
            }
            if data.home != site && !self.staged.contains(&(dataset, site)) {
                let route = estate.dataset_route(dataset, site).ok()?;
                staging.add(estate, &route, data.size_bytes);
            }
        }
        let mut source = None;
        if state.needs_restore && state.progress_ns > 0 {
            match self.reachable_copy(estate, job, site) {
                Some(copy) => {
                    let route = checkpoint_route(estate, state.def.dataset, copy.0, site);
                    if let (true, Some(route)) = (copy.0 != site, route) {
                        staging.add(estate, &route, state.def.checkpoint.map_or(0, |c| c.size_bytes));
                    }
                    source = Some(copy);
                }
                None if self.unavailable_choice(job) == CheckpointUnavailable::Restart => {}
                None => return None,
            }
        }
        Some((staging, source))
    }

    fn unavailable_choice(&self, job: usize) -> CheckpointUnavailable {
        self.jobs[job]
            .def
            .checkpoint
            .map_or(CheckpointUnavailable::Restart, |c| c.if_unavailable)
    }

    /// Every (pool, tier) that can take the job now, with the checkpoint copy to restore from.
    pub(super) fn candidates(
        &self,
        estate: &Estate,
        job: usize,
    ) -> Vec<(PlacementCandidate, Option<(SiteId, u64)>)> {
        let pinned = self.jobs[job].pinned_site;
        let def = &self.jobs[job].def;
        let mut out = Vec::new();
        for (rank, &tier) in def.tiers.iter().enumerate() {
            if tier == Tier::Spot && !def.preemptible {
                continue;
            }
            for pool in &estate.pools {
                let Some(state) = pool.tier(tier) else { continue };
                if state.free() < def.gpus
                    || !estate.sites[pool.site.index()].up
                    || !(def.accelerators.is_empty() || def.accelerators.contains(&pool.accelerator))
                {
                    continue;
                }
                if pinned.is_some_and(|at| at != pool.site) {
                    continue;
                }
                let Some((staging, copy)) = self.staging_at(estate, job, pool.site) else {
                    continue;
                };
                let candidate = PlacementCandidate {
                    pool: pool.id,
                    site: pool.site,
                    tier,
                    preference: rank as u32,
                    free: state.free(),
                    usd_per_gpu_hour: state.price_per_gpu_hour,
                    speed: estate.accelerators[pool.accelerator.index()].speed(def.class),
                    staging_bytes: staging.bytes,
                    staging_s: staging.seconds,
                };
                out.push((candidate, copy));
            }
        }
        out
    }

    /// Why a job with no candidates waits.
    fn why_waiting(&self, estate: &Estate, job: usize) -> String {
        let state = &self.jobs[job];
        let def = &state.def;
        let sized: Vec<&crate::infra::pool::Pool> =
            estate.pools.iter().filter(|p| could_use(def, p)).collect();
        if sized.is_empty() {
            let tiers: Vec<&str> = def.tiers.iter().map(|t| t.as_str()).collect();
            return format!(
                "no pool has {} GPUs it accepts in tiers {}",
                def.gpus,
                tiers.join("/")
            );
        }
        if let Some(dataset) = def.dataset
            && !sized.iter().any(|p| estate.may_hold(dataset, p.site))
        {
            let data = &estate.datasets[dataset.index()];
            return format!(
                "dataset {} may only be in {}; no pool large enough is there",
                data.name,
                data.residency.join(", ")
            );
        }
        if let Some(dataset) = def.dataset {
            let reachable = |site: SiteId| {
                estate.datasets[dataset.index()].home == site
                    || self.staged.contains(&(dataset, site))
                    || estate.dataset_route(dataset, site).is_ok()
            };
            if !sized
                .iter()
                .any(|p| estate.may_hold(dataset, p.site) && reachable(p.site))
            {
                let data = &estate.datasets[dataset.index()];
                return format!(
                    "dataset {} cannot reach any site large enough (links or sites on the way are down)",
                    data.name
                );
            }
        }
        if state.needs_restore
            && state.progress_ns > 0
            && !sized
                .iter()
                .any(|p| self.reachable_copy(estate, job, p.site).is_some())
        {
            return "its checkpoint is only at sites that are down or unreachable; waiting for one".into();
        }
        format!("waiting for {} free GPUs", def.gpus)
    }

    /// Offers GPUs to one waiting job. Returns whether it left the queue (placed or failed).
    pub(super) fn try_place<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
    ) -> Result<bool, KernelError> {
        let j = job.index();
        let now = ctx.now();
        if self.jobs[j].hold_until > now {
            return Ok(false);
        }
        let candidates = self.candidates(estate, j);
        if candidates.is_empty() {
            let reason = self.why_waiting(estate, j);
            self.defer(now, decider, j, reason);
            return Ok(false);
        }
        let offered: Vec<PlacementCandidate> = candidates.iter().map(|c| c.0).collect();
        let request = self.place_request(now, j);
        let view = View::of_estate(now, estate);
        match decider.place(&view, &request, &offered) {
            PlaceOutcome::Place {
                index,
                alternatives,
                reason,
            } => {
                let (candidate, copy) = candidates[index];
                self.place(ctx, estate, decider, job, candidate, copy, (alternatives, reason))
            }
            PlaceOutcome::Wait(reason) => {
                self.defer(now, decider, j, reason);
                Ok(false)
            }
            PlaceOutcome::Reject(reason) => {
                self.end_failed(now, job, "reject", reason, decider);
                Ok(true)
            }
        }
    }

    /// What the policy is told about waiting job `j`.
    pub(super) fn place_request(&self, now: SimTime, j: usize) -> PlaceRequest<'_> {
        let def = &self.jobs[j].def;
        PlaceRequest {
            id: JobId(j as u32),
            job: &def.name,
            class: def.class,
            gpus: def.gpus,
            priority: def.priority,
            remaining_gpu_hours: def.work_ns.saturating_sub(self.jobs[j].progress_ns) as f64
                * f64::from(def.gpus)
                / crate::workload::job::NANOS_PER_HOUR,
            now,
        }
    }

    /// Logs, once per spell of waiting, why job `j` waits.
    fn defer(&mut self, now: SimTime, decider: &mut Decider, j: usize, reason: String) {
        let state = &mut self.jobs[j];
        if !state.deferred {
            state.deferred = true;
            state.record.note.clone_from(&reason);
            decider.record(
                now,
                DecisionKind::Defer,
                state.def.name.clone(),
                "wait".into(),
                reason,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn place<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
        candidate: PlacementCandidate,
        copy: Option<(SiteId, u64)>,
        (alternatives, reason): (String, String),
    ) -> Result<bool, KernelError> {
        let j = job.index();
        let now = ctx.now();
        let payer = self.jobs[j].payer(job);
        let gpus = self.jobs[j].def.gpus;
        // The candidate was eligible a moment ago in the same event, so this cannot fail; if it
        // did, the job simply keeps waiting.
        let Ok(allocation) = estate.allocate(now, candidate.pool, candidate.tier, gpus, payer) else {
            return Ok(false);
        };
        let pool_name = estate.pools[candidate.pool.index()].name.clone();
        let state = &mut self.jobs[j];
        state.placement += 1;
        state.deferred = false;
        state.pinned_site = None;
        state.record.note.clear();
        state.record.placements += 1;
        state.record.first_start.get_or_insert(now);
        state.holding = Some(Holding {
            allocation,
            pool: candidate.pool,
            tier: candidate.tier,
            site: candidate.site,
            speed: candidate.speed,
            since: now,
        });
        state.last_placement = Some((candidate.pool, candidate.tier));
        state.enter_phase(Phase::Staging, now);
        decider.record_with(
            now,
            DecisionKind::Place,
            state.def.name.clone(),
            format!("{pool_name}/{}", candidate.tier.as_str()),
            alternatives,
            reason,
        );
        if state.needs_restore {
            let (choice, reason) = match copy {
                Some((at, progress)) => {
                    state.progress_ns = progress;
                    (
                        format!("checkpoint at {}", estate.sites[at.index()].name),
                        format!(
                            "{:.1}% of the work is saved there",
                            progress as f64 / state.def.work_ns as f64 * 100.0
                        ),
                    )
                }
                None if state.progress_ns > 0 => {
                    state.progress_ns = 0;
                    (
                        "from zero".into(),
                        "no checkpoint copy is reachable; the job restarts from zero".into(),
                    )
                }
                None => ("from zero".into(), "no checkpoint had been written".into()),
            };
            decider.record(now, DecisionKind::Restore, state.def.name.clone(), choice, reason);
        }
        self.start_staging(ctx, estate, job, candidate.site, copy)?;
        Ok(true)
    }

    fn start_staging<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        job: JobId,
        site: SiteId,
        copy: Option<(SiteId, u64)>,
    ) -> Result<(), KernelError> {
        let j = job.index();
        let now = ctx.now();
        let state = &self.jobs[j];
        let tag = TransferTag {
            payer: Some(state.payer(job)),
            dataset: None,
            purpose: TransferPurpose::JobStaging {
                job,
                placement: state.placement,
            },
        };
        let mut transfers = Vec::new();
        if let Some(dataset) = state.def.dataset {
            let data = &estate.datasets[dataset.index()];
            if data.home != site
                && !self.staged.contains(&(dataset, site))
                && let Ok(route) = estate.dataset_route(dataset, site)
            {
                transfers.push(FlowSpec {
                    from: data.home,
                    to: site,
                    bytes: data.size_bytes,
                    streams: TRANSFER_STREAMS,
                    route: Some(route),
                    tag: TransferTag {
                        dataset: Some(dataset),
                        ..tag
                    },
                });
            }
        }
        if let (Some((at, _)), Some(checkpoint)) = (copy, state.def.checkpoint)
            && at != site
            && checkpoint.size_bytes > 0
        {
            transfers.push(FlowSpec {
                from: at,
                to: site,
                bytes: checkpoint.size_bytes,
                streams: TRANSFER_STREAMS,
                route: checkpoint_route(estate, state.def.dataset, at, site),
                tag,
            });
        }
        for spec in transfers {
            match estate.network.start_flow(now, spec) {
                Ok(id) => self.jobs[j].flows.push(id),
                // The route was usable when the candidate was listed; a refusal means the data
                // cannot move, so the job gives the GPUs back and waits.
                Err(_) => {
                    self.cancel_flows(now, estate, job);
                    self.release(now, estate, job);
                    self.requeue(now, job);
                    return Ok(());
                }
            }
        }
        if self.jobs[j].flows.is_empty() {
            self.staged_done(ctx, estate, job)?;
        }
        Ok(())
    }

    /// A staging transfer of `job`'s `placement` finished.
    pub fn staging_flow_done<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        job: JobId,
        placement: u32,
        flow: FlowId,
    ) -> Result<(), KernelError> {
        let Some(state) = self.jobs.get_mut(job.index()) else {
            return Ok(());
        };
        if state.placement != placement || state.phase != Phase::Staging {
            return Ok(());
        }
        state.flows.retain(|&f| f != flow);
        if state.flows.is_empty() {
            self.staged_done(ctx, estate, job)?;
        }
        Ok(())
    }

    fn staged_done<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &Estate,
        job: JobId,
    ) -> Result<(), KernelError> {
        let j = job.index();
        let state = &mut self.jobs[j];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        if let Some(dataset) = state.def.dataset
            && estate.datasets[dataset.index()].home != holding.site
        {
            self.staged.insert((dataset, holding.site));
        }
        let restore = state.def.checkpoint.map_or(0, |c| c.restore_ns);
        if state.needs_restore && restore > 0 {
            state.enter_phase(Phase::Restoring, ctx.now());
            self.set_timer(ctx, job, restore)
        } else {
            state.needs_restore = false;
            self.start_segment(ctx, job)
        }
    }
}

/// Whether the job could ever run on `pool`: a tier it accepts is large enough, with an
/// accelerator it takes (spot only if it is preemptible). Free capacity and outages aside.
pub(super) fn could_use(def: &JobDef, pool: &Pool) -> bool {
    let fits = |tier: Tier| {
        pool.tier(tier).is_some_and(|t| t.capacity >= def.gpus)
            && (def.accelerators.is_empty() || def.accelerators.contains(&pool.accelerator))
            && (tier != Tier::Spot || def.preemptible)
    };
    def.tiers.iter().any(|&t| fits(t))
}
