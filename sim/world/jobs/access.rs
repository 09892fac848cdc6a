//! What the rest of the run reads of jobs (incidents, reports, the end of the run) and what
//! policies see of them and may ask.

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::metrics::job::JobView;
use crate::policy::{JobInfo, JobStatus, PlacementCandidate};
use crate::vocab::JobId;
use crate::vocab::Tier;
use crate::vocab::ids::{PoolId, SiteId};
use crate::workload::job::InterruptCause;

use super::*;

impl Jobs {
    /// The job written one by one in the scenario as `name`. (Source jobs are not searched:
    /// their generated names may repeat a single job's.)
    pub fn single_named(&self, name: &str) -> Option<JobId> {
        (self.jobs.indexed())
            .take_while(|(job, _)| job.index() < self.singles)
            .find(|(_, j)| j.def.name == name)
            .map(|(job, _)| job)
    }

    /// The tier of `pool` whose GPUs `job` holds, if it holds GPUs there.
    pub fn holding_in(&self, job: JobId, pool: PoolId) -> Option<Tier> {
        self.jobs
            .get(job.index())
            .and_then(|j| j.holding)
            .filter(|h| h.pool == pool)
            .map(|h| h.tier)
    }

    /// Jobs holding GPUs of `tier` in `pool`, lowest priority first.
    pub fn holders(&self, pool: PoolId, tier: Tier) -> Vec<JobId> {
        let mut holders: Vec<JobId> = (self.jobs.indexed())
            .filter(|(_, state)| state.holding.is_some_and(|h| h.pool == pool && h.tier == tier))
            .map(|(j, _)| j)
            .collect();
        holders.sort_by_key(|&j| (self.jobs[j.index()].def.priority, j));
        holders
    }

    /// Releases every job's GPUs at the end of the run so their time is billed and accounted;
    /// compute in progress stays unaccounted as useful or lost (it is in `other`).
    pub fn release_all(&mut self, now: SimTime, estate: &mut Estate) {
        for job in self.ids() {
            let state = &mut self.jobs[job.index()];
            if state.holding.is_some() && state.phase == Phase::Checkpointing {
                let in_phase = now.saturating_since(state.phase_since).as_nanos();
                state.record.checkpoint_gpu_ns += state.gpus() * u128::from(in_phase);
            }
            self.cancel_flows(now, estate, job);
            if let Some(flow) = self.jobs[job.index()].replica_flow.take() {
                cancel_and_bill(now, estate, flow);
            }
            self.release(now, estate, job);
        }
    }

    /// Each job's state for the summary, as of `now` (the end of the run).
    pub fn views(&self, now: SimTime) -> impl Iterator<Item = JobView<'_>> {
        self.jobs.iter().map(move |j| JobView {
            class: j.def.class,
            outcome: j.outcome(),
            deadline_missed: j.deadline_missed(now),
            record: &j.record,
        })
    }

    /// Jobs waiting for GPUs now.
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// Jobs holding GPUs at `site`, in job order.
    pub fn holders_at(&self, site: SiteId) -> Vec<JobId> {
        (self.jobs.indexed())
            .filter(|(_, state)| state.holding.is_some_and(|h| h.site == site))
            .map(|(j, _)| j)
            .collect()
    }
}

/// What policies see of jobs and may do to them.
impl Jobs {
    /// Jobs waiting or holding GPUs, as policies see them.
    pub fn infos(&self, estate: &Estate) -> Vec<JobInfo> {
        let mut out = Vec::new();
        for (job, state) in self.jobs.indexed() {
            let j = job.index();
            let status = match state.phase {
                Phase::Waiting => JobStatus::Waiting,
                Phase::Staging | Phase::Restoring | Phase::Running | Phase::Checkpointing => {
                    JobStatus::Running
                }
                Phase::Pending | Phase::Completed | Phase::Failed => continue,
            };
            let current = state.holding.map(|h| PlacementCandidate {
                pool: h.pool,
                site: h.site,
                tier: h.tier,
                preference: state.def.tiers.iter().position(|&t| t == h.tier).unwrap_or(0) as u32,
                free: estate.pools[h.pool.index()].tier(h.tier).map_or(0, |t| t.free()),
                usd_per_gpu_hour: estate.pools[h.pool.index()]
                    .tier(h.tier)
                    .map_or(0.0, |t| t.price_per_gpu_hour),
                speed: h.speed,
                staging_bytes: 0,
                staging_s: 0.0,
            });
            let request = self.place_request(SimTime::ZERO, j);
            out.push(JobInfo {
                id: job,
                name: state.def.name.clone(),
                class: state.def.class,
                gpus: state.def.gpus,
                priority: state.def.priority,
                preemptible: state.def.preemptible,
                status,
                current,
                checkpoint_sites: state.copies.iter().map(|c| c.0).collect(),
                remaining_gpu_hours: request.remaining_gpu_hours,
            });
        }
        out
    }

    /// Where `job` could be placed now if it moved. For a running job, moving to another site
    /// also means fetching the checkpoint it writes before it leaves.
    pub fn placements(&self, estate: &Estate, job: JobId) -> Vec<PlacementCandidate> {
        let Some(state) = self.jobs.get(job.index()) else {
            return Vec::new();
        };
        let checkpoint = state.def.checkpoint.map_or(0, |c| c.size_bytes);
        let mut out: Vec<PlacementCandidate> = self
            .candidates(estate, job.index())
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        if let (Some(holding), true) = (state.holding, checkpoint > 0) {
            for candidate in out.iter_mut().filter(|c| c.site != holding.site) {
                if let Some(route) = checkpoint_route(estate, state.def.dataset, holding.site, candidate.site)
                {
                    let mut staging = Staging {
                        bytes: candidate.staging_bytes,
                        seconds: candidate.staging_s,
                    };
                    staging.add(estate, &route, checkpoint);
                    candidate.staging_bytes = staging.bytes;
                    candidate.staging_s = staging.seconds;
                }
            }
        }
        out
    }

    /// Moves running `job`: it checkpoints (if it has checkpoints and is computing), gives its
    /// GPUs back and waits to be placed again. Whether the job was running.
    pub fn migrate<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: JobId,
    ) -> Result<bool, KernelError> {
        let Some(state) = self.jobs.get(job.index()) else {
            return Ok(false);
        };
        if state.holding.is_none() || state.leaving.is_some() || state.evicting.is_some() {
            return Ok(false);
        }
        let notice = SimDuration::from_nanos(state.def.checkpoint.map_or(0, |c| c.write_ns));
        self.preempt(ctx, job, notice, InterruptCause::Migration)?;
        Ok(true)
    }

    /// Keeps waiting `job` from being placed before `until`. Whether the job was waiting.
    pub fn hold(&mut self, job: JobId, until: SimTime) -> bool {
        match self.jobs.get_mut(job.index()) {
            Some(state) if state.phase == Phase::Waiting => {
                state.hold_until = until;
                true
            }
            _ => false,
        }
    }

    /// Lifts every restore pin: a site came back, so every choice is open again.
    pub fn clear_restore_pins(&mut self) {
        for state in self.jobs.iter_mut() {
            state.pinned_site = None;
        }
    }

    /// Pins waiting, interrupted `job` to `site`, where a checkpoint copy must be reachable.
    /// Whether that holds.
    pub fn pin_restore(&mut self, estate: &Estate, job: JobId, site: SiteId) -> bool {
        let j = job.index();
        let Some(state) = self.jobs.get(j) else {
            return false;
        };
        if state.phase != Phase::Waiting
            || !state.needs_restore
            || self.reachable_copy(estate, j, site).is_none()
        {
            return false;
        }
        self.jobs[j].pinned_site = Some(site);
        true
    }
}
