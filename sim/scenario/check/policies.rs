//! Checks of the policy list and the policy settings (`policies`), including the failover lists.

use super::Names;
use crate::scenario::diagnostic::{Diagnostics, closest};
use crate::scenario::schema::ScenarioSpec;

/// Policy names must be built-in ones, and their settings must name real sites and services.
pub(super) fn check_policy(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use crate::policy::BUILT_IN;
    let names = spec.policy.as_ref().map_or(&[][..], |p| p.names());
    let several = names.len() > 1;
    for (i, name) in names.iter().enumerate() {
        if BUILT_IN.contains(&name.as_str()) {
            if names[..i].contains(name) {
                let path = if several {
                    format!("policy[{i}]")
                } else {
                    "policy".into()
                };
                diags.at_path(&path, format!("policy \"{name}\" is listed twice"), None);
            }
            continue;
        }
        let help = match closest(name, BUILT_IN) {
            Some(near) => format!(
                "did you mean \"{near}\"? Built-in policies: {}",
                BUILT_IN.join(", ")
            ),
            None => format!("built-in policies: {}", BUILT_IN.join(", ")),
        };
        let path = if several {
            format!("policy[{i}]")
        } else {
            "policy".into()
        };
        diags.at_path(&path, format!("unknown policy \"{name}\""), Some(help));
    }
    let settings = &spec.policies;
    if names.iter().any(|n| n == "cost_ceiling") && settings.cost_ceiling.budget.is_none() {
        diags.at_path(
            "policies.cost_ceiling.budget",
            "policy cost_ceiling needs a budget",
            Some("add `policies: (cost_ceiling: (budget: \"400 USD/h\"))`".into()),
        );
    }
    let fraction = |diags: &mut Diagnostics, path: &str, value: f64, what: &str| {
        if !(0.0..1.0).contains(&value) {
            diags.at_path(
                path,
                format!("{what} must be at least 0 and below 1, not {value}"),
                None,
            );
        }
    };
    fraction(
        diags,
        "policies.migration_gain",
        settings.migration_gain,
        "migration_gain",
    );
    fraction(
        diags,
        "policies.route_margin",
        settings.route_margin,
        "route_margin",
    );
    let resume = settings.cost_ceiling.resume_below;
    if !(resume > 0.0 && resume <= 1.0) {
        diags.at_path(
            "policies.cost_ceiling.resume_below",
            format!("resume_below must be above 0 and at most 1, not {resume}"),
            None,
        );
    }
    let weights = &settings.weighted;
    for (field, weight) in [
        ("cost", weights.cost),
        ("latency", weights.latency),
        ("transfer", weights.transfer),
        ("gravity", weights.gravity),
    ] {
        if !(weight.is_finite() && weight >= 0.0) {
            diags.at_path(
                &format!("policies.weighted.{field}"),
                format!("a weight must be a finite number ≥ 0, not {weight}"),
                None,
            );
        }
    }
    for (class, order) in &settings.tiered.classes {
        if order.is_empty() {
            diags.at_path(
                &format!("policies.tiered.classes.{}", class.as_str()),
                "an empty tier order leaves the class nowhere to run",
                Some("list at least one tier, e.g. [reserved, on_demand]".into()),
            );
        }
    }
    check_failover_lists(spec, diags);
}

/// The failover lists must name declared services and sites.
fn check_failover_lists(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    let failover = &spec.policies.failover;
    let sites = Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str()));
    let services = Names::collect(
        "service",
        "services",
        spec.services.iter().map(|s| s.name.as_str()),
    );
    for (service, list) in &failover.services {
        let path = format!("policies.failover.services.{service}");
        services.resolve(diags, &path, service);
        for (i, site) in list.iter().enumerate() {
            sites.resolve(diags, &format!("{path}[{i}]"), site);
        }
    }
    for (i, site) in failover.jobs.iter().enumerate() {
        sites.resolve(diags, &format!("policies.failover.jobs[{i}]"), site);
    }
}
