//! The hand-over from the model to the outputs: when a run ends, what the outputs need is moved
//! out of the [`World`] into a [`RunRecord`], so no output reads the live model.

use crate::kernel::SimTime;
use crate::metrics::archive::{WindowArchive, WindowLayout};
use crate::metrics::record::{EstateNames, PoolNames, RunRecord, ServiceRecord};
use crate::metrics::timeseries::CostCurves;

use super::World;

/// Moves what the run recorded out of `world`, which ended at `horizon`. The model is left
/// without its ledger, decision log, window archive, cost curves and jobs: it is only fit to be
/// inspected for what the record does not hold.
pub(super) fn take_record(world: &mut World, horizon: SimTime) -> std::io::Result<RunRecord> {
    let windows = world.archive.closed();
    world.cost.finish(&world.estate.ledger, windows)?;
    let window = world.window();
    let cost = std::mem::replace(&mut world.cost, CostCurves::new(window));
    let empty = WindowArchive::new(WindowLayout::default());
    // Before the ledger moves out: the jobs still alive settle their costs out of it.
    let jobs = world.jobs.take_rows(&mut world.estate.ledger);
    Ok(RunRecord {
        horizon,
        window: world.window(),
        services: take_services(world),
        windows: std::mem::replace(&mut world.archive, empty),
        ledger: std::mem::take(&mut world.estate.ledger),
        cost,
        decisions: world.decisions.take_log(),
        jobs,
        estate: estate_names(world),
    })
}

fn take_services(world: &World) -> Vec<ServiceRecord> {
    let batched = &world.archive.layout().batched;
    world
        .serving
        .services
        .iter()
        .zip(batched)
        .map(|(service, &batched)| ServiceRecord {
            name: service.name.clone(),
            slo: service.slo,
            batched_pools: if batched > 0 {
                service.deployments.iter().map(|d| d.pool).collect()
            } else {
                Vec::new()
            },
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
