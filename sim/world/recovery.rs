//! Which services and jobs each scripted incident touches, handed to the recovery figures of
//! `metrics::recovery` together with what the run recorded.

use crate::incident::{IncidentKind, IncidentSpec};
use crate::kernel::{SimDuration, SimTime};
use crate::metrics::recovery::{IncidentSummary, IncidentView, RunRecord, ServiceView, summarize};
use crate::scenario::Scenario;
use crate::vocab::ids::{LinkId, SiteId};
use crate::workload::job::InterruptCause;

use super::World;

/// The recovery figures of every scripted incident of a finished run.
pub(super) fn incident_summaries(
    world: &World,
    scenario: &Scenario,
    horizon: SimTime,
) -> Vec<IncidentSummary> {
    let run = RunRecord {
        window_ns: scenario.spec.metrics.window.as_nanos(),
        recovery_windows: scenario.spec.metrics.recovery_windows,
        horizon,
        backlog: &world.backlog,
        services: world
            .serving
            .services
            .iter()
            .map(|s| ServiceView {
                name: &s.name,
                metrics: &s.metrics,
                slo: s.slo,
            })
            .collect(),
        interruptions: &world.jobs.interruptions,
        ledger: &world.estate.ledger,
    };
    world
        .incidents
        .specs()
        .map(|spec| summarize(&view(world, spec, horizon), &run))
        .collect()
}

fn view(world: &World, spec: &IncidentSpec, horizon: SimTime) -> IncidentView {
    let start = SimTime::ZERO.saturating_add(spec.start);
    let end = spec
        .end()
        .filter(|_| !spec.kind.is_instant())
        .map(|end| SimTime::ZERO.saturating_add(end).min(horizon));
    IncidentView {
        name: spec.name.clone(),
        kind: spec.kind.as_str(),
        start,
        end,
        instant: spec.kind.is_instant(),
        affected: affected_services(world, &spec.kind),
        interrupts: interrupts(world, &spec.kind),
    }
}

fn site(world: &World, name: &str) -> Option<SiteId> {
    world.estate.sites.iter().find(|s| s.name == name).map(|s| s.id)
}

/// Services with a deployment or a demand origin at one of `sites`, or a deployment in `pools`.
fn services_touching(world: &World, sites: &[SiteId], pools: &[String]) -> Vec<usize> {
    let estate = &world.estate;
    (0..world.serving.services.len())
        .filter(|&s| {
            let service = &world.serving.services[s];
            let deployed = service
                .deployments
                .iter()
                .any(|d| sites.contains(&d.site) || pools.contains(&estate.pools[d.pool.index()].name));
            let origins = world.serving.origin_names(service, estate);
            deployed
                || origins
                    .iter()
                    .any(|o| sites.iter().any(|&x| estate.sites[x.index()].name == *o))
        })
        .collect()
}

fn affected_services(world: &World, kind: &IncidentKind) -> Vec<usize> {
    let estate = &world.estate;
    match kind {
        IncidentKind::SiteOutage { site: name } => {
            services_touching(world, &site(world, name).into_iter().collect::<Vec<_>>(), &[])
        }
        IncidentKind::CapacityShock { pool, .. }
        | IncidentKind::GpuFailure { pool, .. }
        | IncidentKind::SpotPreemption { pool, .. } => {
            services_touching(world, &[], std::slice::from_ref(pool))
        }
        IncidentKind::LinkDegradation { link, .. } | IncidentKind::LinkDown { link: Some(link), .. } => {
            let ends: Vec<SiteId> = estate
                .link_names
                .iter()
                .position(|l| l == link)
                .map(|l| {
                    estate
                        .sites
                        .iter()
                        .filter(|s| estate.network.touches(LinkId(l as u32), s.id))
                        .map(|s| s.id)
                        .collect()
                })
                .unwrap_or_default();
            services_touching(world, &ends, &[])
        }
        IncidentKind::LinkDown { site: Some(name), .. } => {
            services_touching(world, &site(world, name).into_iter().collect::<Vec<_>>(), &[])
        }
        IncidentKind::DemandSurge { service, .. } => world
            .serving
            .services
            .iter()
            .position(|s| &s.name == service)
            .into_iter()
            .collect(),
        IncidentKind::PriceShock { .. } | IncidentKind::LinkDown { .. } => Vec::new(),
    }
}

fn interrupts(world: &World, kind: &IncidentKind) -> Option<(InterruptCause, SimDuration)> {
    match kind {
        IncidentKind::SiteOutage { .. } => Some((InterruptCause::SiteOutage, SimDuration::ZERO)),
        IncidentKind::CapacityShock { .. } => Some((InterruptCause::CapacityLoss, SimDuration::ZERO)),
        IncidentKind::GpuFailure { .. } => Some((InterruptCause::Failure, SimDuration::ZERO)),
        IncidentKind::SpotPreemption { pool, .. } => {
            let notice = world
                .estate
                .pools
                .iter()
                .find(|p| &p.name == pool)
                .map_or(SimDuration::ZERO, |p| p.spot_notice);
            Some((InterruptCause::SpotPreemption, notice))
        }
        _ => None,
    }
}
