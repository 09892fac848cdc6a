//! Checks of the `expect` assertions: every name they use resolves and every bound can be met.

use super::{MAX_ITEMS, Names, bounded_count};
use crate::scenario::diagnostic::{Diagnostics, closest};
use crate::scenario::schema::ScenarioSpec;
use crate::vocab::WorkloadClass;

/// Checks the `expect` assertions: every name they use resolves and every bound can be met.
pub(super) fn check_expectations(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use crate::scenario::expect::{Expectation, LatencyComponent, is_reported_percentile};
    bounded_count(diags, "expect", spec.expect.len(), MAX_ITEMS);
    let services = Names::collect(
        "service",
        "services",
        spec.services.iter().map(|s| s.name.as_str()),
    );
    let incidents = Names::collect(
        "incident",
        "incidents",
        spec.incidents.iter().map(|i| i.name.as_str()),
    );
    let sites = Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str()));
    for (i, expectation) in spec.expect.iter().enumerate() {
        let at = |field: &str| format!("expect[{i}].{field}");
        if let Some(policy) = expectation.policy() {
            check_assertion_policy(spec, diags, &at("policy"), policy);
        }
        match expectation {
            Expectation::Latency {
                service,
                percentile,
                component,
                origin,
                below,
                ..
            } => {
                let s = services.resolve(diags, &at("service"), service);
                if !is_reported_percentile(*percentile) {
                    let hint = if is_reported_percentile(percentile * 100.0) {
                        format!(
                            "percentiles are written in percent: {} for this one",
                            percentile * 100.0
                        )
                    } else {
                        "use one of 50, 90, 95, 99, 99.9".to_string()
                    };
                    diags.at_path(
                        &at("percentile"),
                        format!(
                            "percentile {percentile} is not one the summary reports (50, 90, 95, 99, 99.9)"
                        ),
                        Some(hint),
                    );
                }
                if let Some(origin) = origin {
                    if *component != LatencyComponent::E2e {
                        diags.at_path(
                            &at("component"),
                            "latency by origin is measured end to end only",
                            Some("leave out `component`, or `origin`".into()),
                        );
                    }
                    if let Some(s) = s {
                        let origins = Names::collect(
                            "demand origin",
                            "demand",
                            spec.services[s].demand.iter().map(|d| d.origin.as_str()),
                        );
                        origins.resolve(diags, &at("origin"), origin);
                    }
                }
                positive_bound(diags, &at("below"), below.is_zero(), "latency");
            }
            Expectation::SloAttainment { service, above, .. } => {
                let s = services.resolve(diags, &at("service"), service);
                if let Some(s) = s.filter(|&s| spec.services[s].slo.is_none()) {
                    diags.at_path(
                        &at("service"),
                        format!("service \"{}\" has no `slo` to attain", spec.services[s].name),
                        Some("give it one, e.g. slo: (percentile: 99.0, latency: \"8s\"), or assert its latency".into()),
                    );
                }
                check_share(diags, &at("above"), *above);
            }
            Expectation::Cost {
                category,
                tier,
                site,
                class,
                below,
                ..
            } => {
                let parts = [
                    category.is_some(),
                    tier.is_some(),
                    site.is_some(),
                    class.is_some(),
                ];
                if parts.into_iter().filter(|&given| given).count() > 1 {
                    diags.at_path(
                        &format!("expect[{i}]"),
                        "a cost assertion takes at most one of `category`, `tier`, `site`, `class`",
                        Some("the summary breaks cost down by each separately; write one assertion per breakdown".into()),
                    );
                }
                if let Some(site) = site {
                    sites.resolve(diags, &at("site"), site);
                }
                positive_bound(diags, &at("below"), below.usd() <= 0.0, "cost");
            }
            Expectation::TimeToRecover { incident, below, .. } => {
                incidents.resolve(diags, &at("incident"), incident);
                positive_bound(diags, &at("below"), below.is_zero(), "time to recover");
            }
            Expectation::BacklogDrain { incident, below, .. } => {
                let k = incidents.resolve(diags, &at("incident"), incident);
                if let Some(k) = k {
                    let scripted = &spec.incidents[k];
                    if scripted.duration.is_none() && !scripted.kind.is_instant() {
                        diags.at_path(
                            &at("incident"),
                            format!("incident \"{incident}\" lasts until the end of the run: its backlog never drains"),
                            Some("give the incident a `duration`, or assert its time_to_recover".into()),
                        );
                    }
                }
                positive_bound(diags, &at("below"), below.is_zero(), "backlog drain");
            }
            Expectation::Goodput { class, above, .. } => {
                check_job_class(spec, diags, &at("class"), *class);
                check_share(diags, &at("above"), *above);
            }
            Expectation::JobsCompleted { class, at_least, .. } => {
                check_job_class(spec, diags, &at("class"), *class);
                if *at_least == 0 {
                    diags.at_path(
                        &at("at_least"),
                        "at least 0 completed jobs always holds",
                        Some("give the fewest completed jobs that is acceptable".into()),
                    );
                }
            }
            Expectation::RequestsFailed { service, .. } => match service {
                Some(service) => {
                    services.resolve(diags, &at("service"), service);
                }
                None if spec.services.is_empty() => diags.at_path(
                    &format!("expect[{i}]"),
                    "the scenario has no services whose requests could fail",
                    Some("declare services under `services`".into()),
                ),
                None => {}
            },
        }
    }
}

/// An assertion's `policy` must be one the scenario is run under: its `policy` list.
fn check_assertion_policy(spec: &ScenarioSpec, diags: &mut Diagnostics, path: &str, policy: &str) {
    let names = spec.policy_names();
    if names.contains(&policy) {
        return;
    }
    let listing = names.join(", ");
    let built_in = crate::policy::BUILT_IN.contains(&policy);
    let problem = if built_in {
        format!("the scenario is not run under policy \"{policy}\"")
    } else {
        format!("unknown policy \"{policy}\"")
    };
    let help = match closest(policy, names.iter().copied()) {
        Some(near) => format!("did you mean \"{near}\"? The scenario is run under {listing}"),
        None if built_in => format!(
            "the scenario is run under {listing}; add \"{policy}\" to its `policy` list to assert on it"
        ),
        None => format!("the scenario is run under {listing}"),
    };
    diags.at_path(path, problem, Some(help));
}

/// A bound that nothing can be below.
fn positive_bound(diags: &mut Diagnostics, path: &str, zero: bool, what: &str) {
    if zero {
        diags.at_path(
            path,
            format!("no {what} is below zero: the assertion can never hold"),
            Some("give a positive bound".into()),
        );
    }
}

/// A share (SLO attainment, goodput) that a measured value may be above.
fn check_share(diags: &mut Diagnostics, path: &str, share: f64) {
    if !(share.is_finite() && (0.0..1.0).contains(&share)) {
        diags.at_path(
            path,
            format!("{share} is not a share from 0 up to (not including) 1: the assertion could never hold"),
            Some("write a share, e.g. 0.99 for 99%".into()),
        );
    }
}

/// A job class an assertion names must have jobs in the scenario; without one, the scenario
/// must have jobs at all.
fn check_job_class(spec: &ScenarioSpec, diags: &mut Diagnostics, path: &str, class: Option<WorkloadClass>) {
    let mut present: Vec<WorkloadClass> = spec.jobs.iter().map(|j| j.class).collect();
    present.sort_unstable();
    present.dedup();
    let listing = || present.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    match class {
        Some(WorkloadClass::Inference) => diags.at_path(
            path,
            "inference is not a job class",
            Some("for services, assert latency, slo_attainment or requests_failed".into()),
        ),
        Some(class) if !present.contains(&class) => diags.at_path(
            path,
            format!("the scenario has no {} jobs", class.as_str()),
            Some(if present.is_empty() {
                "declare jobs under `jobs` first".into()
            } else {
                format!("classes with jobs here: {}", listing())
            }),
        ),
        None if present.is_empty() => diags.at_path(
            path,
            "the scenario has no jobs",
            Some("declare jobs under `jobs` first".into()),
        ),
        _ => {}
    }
}
