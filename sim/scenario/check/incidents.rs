//! Checks of the scripted incidents: what each kind names resolves and its values are possible.

use super::{MAX_ITEMS, Names, bounded_count, link_name, pool_name, tier_capacity, unique};
use crate::scenario::diagnostic::Diagnostics;
use crate::scenario::schema::ScenarioSpec;

/// Checks the scripted incidents.
pub(super) fn check_incidents(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use crate::incident::IncidentKind;
    unique(
        diags,
        "incidents",
        "incident",
        spec.incidents.iter().map(|i| i.name.as_str()),
    );
    bounded_count(diags, "incidents", spec.incidents.len(), MAX_ITEMS);
    let pool_names: Vec<String> = spec.pools.iter().map(pool_name).collect();
    let link_names: Vec<String> = spec.links.iter().map(link_name).collect();
    let names = IncidentNames {
        pools: Names::collect("pool", "pools", pool_names.iter().map(String::as_str)),
        sites: Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str())),
        links: Names::collect("link", "links", link_names.iter().map(String::as_str)),
        services: Names::collect(
            "service",
            "services",
            spec.services.iter().map(|s| s.name.as_str()),
        ),
        jobs: Names::collect(
            "job",
            "jobs",
            spec.jobs
                .iter()
                .filter(|j| j.arrivals.is_none())
                .map(|j| j.name.as_str()),
        ),
    };
    for (i, incident) in spec.incidents.iter().enumerate() {
        let at = |field: &str| format!("incidents[{i}].{field}");
        if incident.start >= spec.horizon {
            // It would never happen, and a `check` on its recovery would pass on nothing.
            diags.at_path(
                &at("start"),
                format!(
                    "incident \"{}\" starts at {}, at or after the end of the run ({})",
                    incident.name, incident.start, spec.horizon
                ),
                Some("start it before `horizon`, or lengthen `horizon`".into()),
            );
        }
        match incident.duration {
            Some(_) if incident.kind.is_instant() => diags.at_path(
                &at("duration"),
                format!(
                    "a {} happens at an instant and has no duration",
                    incident.kind.as_str()
                ),
                Some("remove `duration`".into()),
            ),
            Some(d) if d.is_zero() => diags.at_path(
                &at("duration"),
                "a zero duration does nothing",
                Some("leave `duration` out for an incident that lasts until the end of the run".into()),
            ),
            _ => {}
        }
        match &incident.kind {
            IncidentKind::SiteOutage { site } => {
                names.sites.resolve(diags, &at("kind.site"), site);
            }
            IncidentKind::CapacityShock { pool, tier, to } => {
                check_capacity_shock(spec, diags, &names, i, pool, *tier, *to)
            }
            IncidentKind::PriceShock {
                tier,
                factor,
                pool,
                site,
                site_kind,
            } => {
                if !(factor.is_finite() && *factor > 0.0) {
                    diags.at_path(
                        &at("kind.factor"),
                        format!("price factor {factor} must be positive"),
                        None,
                    );
                }
                let p = pool
                    .as_ref()
                    .and_then(|p| names.pools.resolve(diags, &at("kind.pool"), p));
                let st = site
                    .as_ref()
                    .and_then(|s| names.sites.resolve(diags, &at("kind.site"), s));
                let matches = spec.pools.iter().enumerate().any(|(index, candidate)| {
                    tier_capacity(candidate, *tier) > 0
                        && p.is_none_or(|p| p == index)
                        && st.is_none_or(|s| spec.sites[s].name == candidate.site)
                        && site_kind.is_none_or(|k| {
                            spec.sites.iter().any(|x| x.name == candidate.site && x.kind == k)
                        })
                });
                if !matches && (pool.is_none() || p.is_some()) && (site.is_none() || st.is_some()) {
                    diags.at_path(
                        &at("kind.tier"),
                        format!("no pool matching the shock has a {} tier", tier.as_str()),
                        None,
                    );
                }
            }
            IncidentKind::LinkDegradation {
                link,
                bandwidth_factor,
                loss,
                ..
            } => {
                names.links.resolve(diags, &at("kind.link"), link);
                if !(bandwidth_factor.is_finite() && *bandwidth_factor > 0.0) {
                    diags.at_path(
                        &at("kind.bandwidth_factor"),
                        format!("bandwidth factor {bandwidth_factor} must be positive"),
                        Some("use link_down to cut a link".into()),
                    );
                }
                if !(loss.is_finite() && (0.0..1.0).contains(loss)) {
                    diags.at_path(
                        &at("kind.loss"),
                        format!("loss {loss} is not a probability below 1"),
                        None,
                    );
                }
            }
            IncidentKind::LinkDown { link, site } => match (link, site) {
                (Some(link), None) => {
                    names.links.resolve(diags, &at("kind.link"), link);
                }
                (None, Some(site)) => {
                    names.sites.resolve(diags, &at("kind.site"), site);
                }
                _ => diags.at_path(
                    &at("kind"),
                    "link_down needs exactly one of `link` (one link) or `site` (every link of a site)",
                    None,
                ),
            },
            IncidentKind::DemandSurge {
                service,
                origin,
                factor,
            } => {
                let s = names.services.resolve(diags, &at("kind.service"), service);
                if !(factor.is_finite() && *factor >= 0.0) {
                    diags.at_path(
                        &at("kind.factor"),
                        format!("demand factor {factor} must be 0 or more"),
                        None,
                    );
                }
                if let (Some(s), Some(origin)) = (s, origin)
                    && !spec.services[s].demand.iter().any(|d| &d.origin == origin)
                {
                    diags.at_path(
                        &at("kind.origin"),
                        format!("service \"{service}\" has no demand from \"{origin}\""),
                        Some("name one of its demand origins, or leave `origin` out for all".into()),
                    );
                }
            }
            IncidentKind::GpuFailure { pool, job } | IncidentKind::SpotPreemption { pool, job } => {
                let p = names.pools.resolve(diags, &at("kind.pool"), pool);
                if let Some(job) = job {
                    names.jobs.resolve(diags, &at("kind.job"), job);
                }
                if let (Some(p), IncidentKind::SpotPreemption { .. }) = (p, &incident.kind)
                    && spec.pools[p].spot.is_none()
                {
                    diags.at_path(
                        &at("kind.pool"),
                        format!("pool \"{pool}\" has no spot tier to preempt"),
                        None,
                    );
                }
            }
        }
    }
}

struct IncidentNames<'s> {
    pools: Names<'s>,
    sites: Names<'s>,
    links: Names<'s>,
    services: Names<'s>,
    jobs: Names<'s>,
}

fn check_capacity_shock(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    names: &IncidentNames<'_>,
    i: usize,
    pool: &str,
    tier: crate::vocab::Tier,
    to: crate::incident::CapacityTarget,
) {
    use crate::incident::CapacityTarget;
    let Some(p) = names
        .pools
        .resolve(diags, &format!("incidents[{i}].kind.pool"), pool)
    else {
        return;
    };
    let capacity = tier_capacity(&spec.pools[p], tier);
    let has_tier = match tier {
        crate::vocab::Tier::Reserved => spec.pools[p].reserved.is_some(),
        crate::vocab::Tier::Owned => spec.pools[p].owned.is_some(),
        crate::vocab::Tier::OnDemand => spec.pools[p].on_demand.is_some(),
        crate::vocab::Tier::Spot => spec.pools[p].spot.is_some(),
    };
    if !has_tier {
        diags.at_path(
            &format!("incidents[{i}].kind.tier"),
            format!("pool \"{pool}\" has no {} tier", tier.as_str()),
            None,
        );
    }
    match to {
        CapacityTarget::Fraction(share) if !(share.is_finite() && (0.0..=1.0).contains(&share)) => diags
            .at_path(
                &format!("incidents[{i}].kind.to"),
                format!("fraction {share} is not between 0 and 1"),
                Some("e.g. fraction(0.3) keeps 30% of the capacity".into()),
            ),
        CapacityTarget::Count(count) if count > capacity => diags.at_path(
            &format!("incidents[{i}].kind.to"),
            format!("a shock to {count} GPUs would not shrink a tier of {capacity}"),
            None,
        ),
        _ => {}
    }
}
