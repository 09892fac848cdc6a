//! Which services and jobs each scripted incident touches — the reach and interruptions of its
//! effects, whatever its kind — handed to the recovery figures of `metrics::recovery` together
//! with what the run recorded.

use crate::incident::IncidentSpec;
use crate::incident::effect::{Effect, Reach};
use crate::kernel::SimTime;
use crate::metrics::recovery::{IncidentSummary, IncidentView, RunRecord, ServiceView, summarize_all};
use crate::scenario::Scenario;
use crate::vocab::ServiceId;

use super::incidents::RunNames;
use super::{ServiceState, World};

/// The recovery figures of every scripted incident of a finished run.
pub(super) fn incident_summaries(
    world: &World,
    scenario: &Scenario,
    horizon: SimTime,
) -> std::io::Result<Vec<IncidentSummary>> {
    let run = RunRecord {
        window_ns: scenario.spec.metrics.window.as_nanos(),
        recovery_windows: scenario.spec.metrics.recovery_windows,
        attribution_window: scenario.spec.metrics.attribution_window,
        horizon,
        windows: &world.archive,
        services: world
            .serving
            .services
            .iter()
            .map(|s| ServiceView { name: &s.name })
            .collect(),
        interruptions: &world.jobs.interruptions,
        ledger: &world.estate.ledger,
    };
    let views: Vec<IncidentView> = world
        .incidents
        .specs()
        .map(|spec| view(world, spec, horizon))
        .collect();
    summarize_all(&views, &run)
}

fn view(world: &World, spec: &IncidentSpec, horizon: SimTime) -> IncidentView {
    let start = SimTime::ZERO.saturating_add(spec.start);
    let end = spec
        .end()
        .filter(|_| !spec.kind.is_instant())
        .map(|end| SimTime::ZERO.saturating_add(end).min(horizon));
    let effects = spec
        .kind
        .effects(&RunNames::new(&world.estate, &world.serving, &world.jobs));
    IncidentView {
        name: spec.name.clone(),
        kind: spec.kind.as_str(),
        start,
        end,
        instant: spec.kind.is_instant(),
        affected: affected_services(world, &effects)
            .into_iter()
            .map(ServiceId::index)
            .collect(),
        interrupts: effects
            .iter()
            .find_map(Effect::interrupts)
            .map(|i| (i.cause, i.after)),
    }
}

/// Services an incident's effects reach, in service order: those with a deployment at a
/// reached site or in a reached pool, demand from a reached site, or reached by name.
pub(super) fn affected_services(world: &World, effects: &[Effect]) -> Vec<ServiceId> {
    let reach: Vec<Reach> = effects.iter().map(Effect::reach).collect();
    let reached = |service: ServiceId, state: &ServiceState| {
        let origins = world.serving.origins(service);
        reach.iter().any(|r| {
            r.services.contains(&service)
                || state
                    .deployments
                    .iter()
                    .any(|d| r.sites.contains(&d.site) || r.pools.contains(&d.pool))
                || origins.iter().any(|o| r.sites.contains(o))
        })
    };
    world
        .serving
        .services
        .iter()
        .enumerate()
        .map(|(s, state)| (ServiceId(s as u32), state))
        .filter(|&(s, state)| reached(s, state))
        .map(|(s, _)| s)
        .collect()
}
