//! The hand-over from the model to the outputs: when a run ends, what the outputs need is moved
//! out of the [`World`] into a [`RunRecord`], so no output reads the live model.

use crate::kernel::SimTime;
use crate::metrics::record::{EstateNames, JobRow, PoolNames, RunRecord, ServiceRecord};

use super::World;

/// Moves what the run recorded out of `world`, which ended at `horizon`. The model is left
/// without its ledger, decision log, per-window service figures, window samples, job names and
/// job records: it is only fit to be inspected for what the record does not hold.
pub(super) fn take_record(world: &mut World, horizon: SimTime) -> RunRecord {
    RunRecord {
        horizon,
        window: world.window(),
        backlog: std::mem::take(&mut world.backlog),
        capacity: std::mem::take(&mut world.capacity),
        ledger: std::mem::take(&mut world.estate.ledger),
        decisions: world.decisions.take_entries(),
        services: take_services(world),
        jobs: take_jobs(world, horizon),
        estate: estate_names(world),
    }
}

fn take_services(world: &mut World) -> Vec<ServiceRecord> {
    world
        .serving
        .services
        .iter_mut()
        .map(|service| ServiceRecord {
            name: service.name.clone(),
            slo: service.slo,
            windows: std::mem::take(&mut service.metrics.windows),
            batching: service
                .deployments
                .iter_mut()
                .filter(|d| !d.batching.is_empty())
                .map(|d| (d.pool, std::mem::take(&mut d.batching)))
                .collect(),
        })
        .collect()
}

fn take_jobs(world: &mut World, horizon: SimTime) -> Vec<JobRow> {
    world
        .jobs
        .jobs
        .iter_mut()
        .map(|job| {
            // Read before the record is moved out: the deadline is judged on when the job ended.
            let deadline_missed = job.def.deadline.map(|_| job.deadline_missed(horizon));
            JobRow {
                name: std::mem::take(&mut job.def.name),
                class: job.def.class,
                gpus: job.def.gpus,
                work_gpu_hours: job.def.work_gpu_hours(),
                outcome: job.outcome(),
                placed: job.last_placement,
                deadline_missed,
                record: std::mem::take(&mut job.record),
            }
        })
        .collect()
}

fn estate_names(world: &World) -> EstateNames {
    let estate = &world.estate;
    EstateNames {
        sites: estate.sites.iter().map(|s| s.name.clone()).collect(),
        pools: estate
            .pools
            .iter()
            .map(|p| PoolNames {
                name: p.name.clone(),
                site: p.site,
                tiers: p.tiers().map(|(tier, _)| tier).collect(),
            })
            .collect(),
    }
}
