//! Progress on the GPUs: restore, compute segments, checkpoint writes and their replication
//! to other sites.

use crate::infra::estate::{Estate, TransferPurpose, TransferTag};
use crate::infra::network::FlowSpec;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::policy::Decider;
use crate::vocab::JobId;
use crate::vocab::ids::SiteId;

use super::placement::could_use;
use super::*;

impl Jobs {
    pub(super) fn set_timer<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: JobId,
        delay_ns: u64,
    ) -> Result<(), KernelError> {
        let state = &mut self.jobs[job.index()];
        state.timer = state.timer.wrapping_add(1);
        // A very slow accelerator or write can put the end past the end of time: it then never
        // comes, and the run goes on.
        ctx.schedule_at(
            ctx.now().saturating_add(SimDuration::from_nanos(delay_ns)),
            JobEvent::Timer {
                job,
                timer: state.timer,
            }
            .into(),
        )
    }

    pub(super) fn start_segment<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: JobId,
    ) -> Result<(), KernelError> {
        let state = &mut self.jobs[job.index()];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        if let Some(i) = state.open_interruption.take() {
            self.interruptions[i].resumed = Some((ctx.now(), holding.site));
        }
        state.needs_restore = false;
        let remaining = state.def.work_ns.saturating_sub(state.progress_ns);
        let (segment, wall) = match state.def.checkpoint {
            Some(c) if (c.interval_ns as f64 * holding.speed) < remaining as f64 => (
                (c.interval_ns as f64 * holding.speed).round().max(1.0) as u64,
                c.interval_ns,
            ),
            _ => (remaining, (remaining as f64 / holding.speed).ceil() as u64),
        };
        state.segment_ns = segment;
        state.enter_phase(Phase::Running, ctx.now());
        self.set_timer(ctx, job, wall)
    }

    /// A job's timer fires: the end of a restore, a compute segment or a checkpoint write.
    pub(super) fn timer<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
        timer: u32,
    ) -> Result<(), KernelError> {
        // A job that ended and left memory has no timer.
        let Some(state) = self.jobs.get(job.index()) else {
            return Ok(());
        };
        if state.timer != timer {
            return Ok(());
        }
        match state.phase {
            Phase::Restoring => self.start_segment(ctx, job),
            Phase::Running => self.segment_done(ctx, estate, decider, job),
            Phase::Checkpointing => self.checkpoint_done(ctx, estate, decider, job),
            _ => Ok(()),
        }
    }

    fn segment_done<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job.index()];
        state.at_risk_ns += now.saturating_since(state.phase_since).as_nanos();
        match state.def.checkpoint {
            Some(c) => {
                state.enter_phase(Phase::Checkpointing, now);
                self.set_timer(ctx, job, c.write_ns)
            }
            None => {
                state.progress_ns += state.segment_ns;
                state.record.useful_gpu_ns += state.gpus() * u128::from(state.at_risk_ns);
                state.at_risk_ns = 0;
                self.complete(ctx, estate, decider, job)
            }
        }
    }

    fn checkpoint_done<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job.index()];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        state.record.checkpoint_gpu_ns +=
            state.gpus() * u128::from(now.saturating_since(state.phase_since).as_nanos());
        state.record.useful_gpu_ns += state.gpus() * u128::from(state.at_risk_ns);
        state.record.checkpoints += 1;
        state.at_risk_ns = 0;
        state.phase_since = now;
        state.progress_ns = (state.progress_ns + state.segment_ns).min(state.def.work_ns);
        state.segment_ns = 0;
        let progress = state.progress_ns;
        match state.copies.iter_mut().find(|(at, _)| *at == holding.site) {
            Some(copy) => copy.1 = progress,
            None => state.copies.push((holding.site, progress)),
        }
        self.replicate(now, estate, job, holding.site);
        let state = &mut self.jobs[job.index()];
        if progress >= state.def.work_ns {
            return self.complete(ctx, estate, decider, job);
        }
        if let Some(cause) = state.leaving.take() {
            return self.interrupt(ctx, estate, decider, job, cause);
        }
        self.start_segment(ctx, job)
    }

    fn replicate(&mut self, now: SimTime, estate: &mut Estate, job: JobId, from: SiteId) {
        let state = &self.jobs[job.index()];
        let Some(checkpoint) = state.def.checkpoint else {
            return;
        };
        if checkpoint.replicate_to.is_none() || state.replica_flow.is_some() || checkpoint.size_bytes == 0 {
            return;
        }
        // No site to copy to now (every one is down or cut off): this checkpoint stays
        // unreplicated; the next one tries again.
        let Some((to, route)) = replica_target(estate, state, from) else {
            return;
        };
        let spec = FlowSpec {
            from,
            to,
            bytes: checkpoint.size_bytes,
            streams: TRANSFER_STREAMS,
            route: Some(route),
            tag: TransferTag {
                payer: Some(state.payer(job)),
                dataset: None,
                purpose: TransferPurpose::CheckpointReplica {
                    job,
                    progress_ns: state.progress_ns,
                },
            },
        };
        let flow = estate.network.start_flow(now, spec).ok();
        self.jobs[job.index()].replica_flow = flow;
    }

    /// A checkpoint copy reached `site`.
    pub fn replica_done(&mut self, job: JobId, site: SiteId, progress_ns: u64) {
        let Some(state) = self.jobs.get_mut(job.index()) else {
            return;
        };
        state.replica_flow = None;
        match state.copies.iter_mut().find(|(at, _)| *at == site) {
            Some(copy) => copy.1 = copy.1.max(progress_ns),
            None => state.copies.push((site, progress_ns)),
        }
    }
}

/// Where a checkpoint written at `from` is copied: the job's `replicate_to` when it runs
/// elsewhere and a route reaches it. Otherwise, if that site is down or cut off, or the job
/// failed over to it (it runs there and holds copies elsewhere), the nearest other site where it
/// could run (a pool it could use, where its dataset may be), by route latency from `from`, then
/// site order: so replication goes on after a failover, and a second loss still finds a copy. A
/// job that has only ever run at its `replicate_to` site keeps its copies there, as asked.
fn replica_target(estate: &Estate, state: &JobState, from: SiteId) -> Option<(SiteId, Route)> {
    let def = &state.def;
    let named = def.checkpoint.and_then(|c| c.replicate_to)?;
    let route_to = |to: SiteId| checkpoint_route(estate, def.dataset, from, to).map(|r| (to, r));
    if named != from {
        if let Some(found) = route_to(named) {
            return Some(found);
        }
    } else if state.copies.iter().all(|&(site, _)| site == from) {
        return None;
    }
    let mut sites: Vec<SiteId> = estate
        .pools
        .iter()
        .filter(|pool| pool.site != from && pool.site != named && could_use(def, pool))
        .map(|pool| pool.site)
        .collect();
    sites.sort_unstable();
    sites.dedup();
    sites
        .into_iter()
        .filter_map(route_to)
        .min_by_key(|(site, route)| (route.one_way_latency, *site))
}
