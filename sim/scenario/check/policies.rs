//! Checks of the policy list and the policy settings (`policies`), including the failover lists,
//! and the warnings about them: a built-in policy chosen without the settings that make it
//! behave differently from the default, and settings for a policy the scenario never runs.

use super::Names;
use crate::infra::spec::pool_name;
use crate::scenario::diagnostic::{Diagnostics, closest};
use crate::scenario::locate::{Location, locate, locate_written};
use crate::scenario::schema::ScenarioSpec;
use crate::scenario::warning::{Place, Warning, WarningKind};
use crate::vocab::Tier;

/// The fix for `cost_ceiling` without a budget.
const COST_CEILING_EXAMPLE: &str = "add the most to spend per hour on on-demand and spot GPUs: `policies: (cost_ceiling: (budget: \"400 USD/h\"))`";

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
    // A run without a budget would be a run of `cheapest` routed by latency: refused rather
    // than warned about, since nothing else about the policy is left.
    if let Some(i) = names.iter().position(|n| n == "cost_ceiling")
        && settings.cost_ceiling.budget.is_none()
    {
        let path = if several {
            format!("policy[{i}]")
        } else {
            "policy".into()
        };
        diags.at_path(
            &path,
            "policy cost_ceiling needs a budget: without one it never holds a job back or switches a service to its fallback",
            Some(COST_CEILING_EXAMPLE.into()),
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

/// The warnings about policy settings, as `(own, unset)`. `unset` holds, for every built-in
/// policy that would behave like the default without settings this file does not give, the
/// warning to show when that policy runs, at the `policy` entry that names it (at no place when
/// the file does not name it). `own` holds the warnings under the file's own policy list: the
/// `unset` ones of the policies it names, and one for each settings block that none of them
/// reads.
pub(in crate::scenario) fn settings_warnings(
    spec: &ScenarioSpec,
    source: &str,
) -> (Vec<Warning>, Vec<Warning>) {
    let names = spec.policy_names();
    let unset: Vec<Warning> = unset_settings(spec)
        .into_iter()
        .map(|(policy, message, help)| Warning {
            policy: policy.to_string(),
            kind: WarningKind::MissingSettings,
            message,
            help,
            at: names
                .iter()
                .position(|&n| n == policy)
                .map(|i| policy_entry(source, i)),
        })
        .collect();
    let mut own: Vec<Warning> = unset.iter().filter(|w| w.at.is_some()).cloned().collect();
    own.extend(unused_settings(&names, source));
    (own, unset)
}

/// The place of the `i`-th entry of `policy`: the string itself when `policy` is not a list.
fn policy_entry(source: &str, i: usize) -> Place {
    let path = format!("policy[{i}]");
    match locate_written(source, &path) {
        Some(location) => Place::new(source, location, &path),
        None => Place::new(source, locate(source, "policy"), "policy"),
    }
}

/// The built-in policies that would run like the default with this file's settings: the
/// policy, what happens, and the settings to add.
fn unset_settings(spec: &ScenarioSpec) -> Vec<(&'static str, String, String)> {
    let settings = &spec.policies;
    let mut unset = Vec::new();
    if settings.tiered.order == crate::policy::TieredSpec::default().order
        && settings.tiered.classes.is_empty()
        && settings.tiered.spot_ceiling.is_none()
        && spec.jobs.iter().all(|job| in_default_order(&job.tiers))
    {
        unset.push((
            "tiered",
            "policy tiered has no settings, so it runs like the default policy: jobs go to reserved, owned, on-demand, then spot GPUs, and none is ever moved".to_string(),
            "give a spot price ceiling, a tier order per class, or both: `policies: (tiered: (spot_ceiling: \"2.50 USD/h\", classes: {fine_tuning: [spot, on_demand]}))`".to_string(),
        ));
    }
    if settings.cost_ceiling.budget.is_none() {
        unset.push((
            "cost_ceiling",
            "policy cost_ceiling has no budget, so it never holds a job back or switches a service to its fallback: it places jobs by price and routes requests by latency".to_string(),
            COST_CEILING_EXAMPLE.to_string(),
        ));
    }
    let failover = &settings.failover;
    if failover.services.is_empty() && failover.jobs.is_empty() {
        unset.push((
            "failover",
            "policy failover has no site order, so it fails nothing over: requests go by lowest latency, jobs by price, and when a site goes down no other site takes over its replicas or jobs".to_string(),
            format!(
                "list the sites in order, primary first, per service and for jobs: `policies: (failover: {})`",
                failover_example(spec)
            ),
        ));
    }
    unset
}

/// Whether `tiers` (a job's preference; empty is the default one) keeps the order reserved,
/// owned, on-demand, spot: then `tiered`'s default order places the job as the default does.
fn in_default_order(tiers: &[Tier]) -> bool {
    let rank = |tier: &Tier| {
        [Tier::Reserved, Tier::Owned, Tier::OnDemand, Tier::Spot]
            .iter()
            .position(|t| t == tier)
    };
    tiers.windows(2).all(|pair| rank(&pair[0]) < rank(&pair[1]))
}

/// A failover setting written with the scenario's own names: its first service's sites (where
/// it has replicas, then any) and the first two sites for jobs.
fn failover_example(spec: &ScenarioSpec) -> String {
    let site_of = |pool: &str| {
        spec.pools
            .iter()
            .find(|p| pool_name(p) == pool)
            .map(|p| p.site.as_str())
    };
    let list = |sites: Vec<&str>| {
        let mut unique: Vec<&str> = Vec::new();
        for site in sites {
            if !unique.contains(&site) {
                unique.push(site);
            }
        }
        unique.truncate(2);
        let quoted: Vec<String> = unique.iter().map(|s| format!("\"{s}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let all_sites = || spec.sites.iter().map(|s| s.name.as_str());
    let mut parts = Vec::new();
    if let Some(service) = spec.services.first() {
        let sites = service
            .replicas
            .iter()
            .filter_map(|r| site_of(&r.pool))
            .chain(all_sites())
            .collect();
        parts.push(format!("services: {{\"{}\": {}}}", service.name, list(sites)));
    }
    if !spec.jobs.is_empty() || parts.is_empty() {
        parts.push(format!("jobs: {}", list(all_sites().collect())));
    }
    format!("({})", parts.join(", "))
}

/// A warning for each settings block in `source` that none of the policies `names` reads.
fn unused_settings(names: &[&str], source: &str) -> Vec<Warning> {
    let runs = |policy: &str| names.contains(&policy);
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut unused = Vec::new();
    for policy in ["tiered", "cost_ceiling", "failover", "weighted"] {
        let path = format!("policies.{policy}");
        if let Some(location) = locate_written(source, &path).filter(|_| !runs(policy)) {
            let location = key_of(source, location, policy);
            unused.push(Warning {
                policy: policy.to_string(),
                kind: WarningKind::UnusedSettings,
                message: format!("settings for `{policy}`, which this scenario never runs (it runs {list})"),
                help: format!(
                    "add it to the policies to run: `policy: [{list}, \"{policy}\"]`, or remove `{path}`"
                ),
                at: Some(Place::new(source, location, &path)),
            });
        }
    }
    let path = "policies.migration_gain";
    if let Some(location) = locate_written(source, path).filter(|_| !runs("cheapest") && !runs("weighted")) {
        let location = key_of(source, location, "migration_gain");
        unused.push(Warning {
            policy: "cheapest, weighted".to_string(),
            kind: WarningKind::UnusedSettings,
            message: format!(
                "`migration_gain` is read only by `cheapest` and `weighted`, which this scenario never runs (it runs {list})"
            ),
            help: format!("add one of them to the policies to run: `policy: [{list}, \"cheapest\"]`, or remove `{path}`"),
            at: Some(Place::new(source, location, path)),
        });
    }
    unused
}

/// The location of the field name `key` whose value is at `value`, when both are on one line:
/// a warning about a whole settings block points at its name rather than its bracket.
fn key_of(source: &str, value: Location, key: &str) -> Location {
    let line = source
        .lines()
        .nth(value.line.saturating_sub(1))
        .unwrap_or_default();
    let before: String = line.chars().take(value.col.saturating_sub(1)).collect();
    match before.rfind(key) {
        Some(at) => Location {
            line: value.line,
            col: before[..at].chars().count() + 1,
            len: key.chars().count(),
        },
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::{Scenario, WarningKind, load_str};

    /// A small valid scenario with `tail` (policy lines, jobs) added.
    fn scenario(tail: &str) -> Scenario {
        let text = format!(
            r#"(name: "w", horizon: "1h",
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "a", kind: cloud, jurisdiction: "eu"), (name: "b", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "a", accelerator: "H100", on_demand: (limit: 8, price: "6 USD/h"), spot: (limit: 8, price: "2 USD/h"))],
{tail}
)"#
        );
        match load_str(&text, Path::new("w.ron")) {
            Ok(scenario) => scenario,
            Err(error) => panic!("{error}"),
        }
    }

    /// A warning as the tests compare it: its policy, kind, and line and column if located.
    type Seen<'a> = (&'a str, WarningKind, Option<(usize, usize)>);

    fn policies(scenario: &Scenario) -> Vec<Seen<'_>> {
        scenario
            .warnings
            .items()
            .iter()
            .map(|w| {
                let at = w.at.as_ref().map(|p| (p.location.line, p.location.col));
                (w.policy.as_str(), w.kind, at)
            })
            .collect()
    }

    #[test]
    fn a_policy_without_its_settings_is_warned_about_at_its_entry() {
        let s = scenario(r#"    policy: ["cheapest", "failover", "tiered"],"#);
        assert_eq!(
            policies(&s),
            [
                ("failover", WarningKind::MissingSettings, Some((5, 26))),
                ("tiered", WarningKind::MissingSettings, Some((5, 38)))
            ]
        );
        let text = s.warnings.to_string();
        assert!(text.contains("(at policy[1])"), "{text}");
        assert!(
            text.contains(r#"`policies: (failover: (jobs: ["a", "b"]))`"#),
            "{text}"
        );
        let plain = scenario(r#"    policy: "failover","#);
        assert_eq!(policies(&plain)[0].2, Some((5, 13)));
    }

    #[test]
    fn settings_that_change_the_behaviour_silence_the_warning() {
        let s = scenario(
            r#"    policy: ["failover", "tiered", "cost_ceiling", "weighted", "data_local"],
    policies: (failover: (jobs: ["b", "a"]), tiered: (spot_ceiling: "3 USD/h"), cost_ceiling: (budget: "9 USD/h")),"#,
        );
        assert!(s.warnings.is_empty(), "{}", s.warnings);
        // A job that prefers spot is placed otherwise by tiered's default order.
        let spot_first = scenario(
            r#"    policy: "tiered",
    jobs: [(name: "j", class: training, gpus: 1, work: 1, preemptible: true, tiers: [spot, on_demand])],"#,
        );
        assert!(spot_first.warnings.is_empty(), "{}", spot_first.warnings);
    }

    #[test]
    fn settings_for_a_policy_never_run_are_warned_about_at_their_name() {
        let s = scenario(
            r#"    policy: "lowest_latency",
    policies: (weighted: (cost: 2.0), migration_gain: 0.3, route_margin: 0.1),"#,
        );
        assert_eq!(
            policies(&s),
            [
                ("weighted", WarningKind::UnusedSettings, Some((6, 16))),
                ("cheapest, weighted", WarningKind::UnusedSettings, Some((6, 39)))
            ]
        );
        assert!(
            s.warnings
                .to_string()
                .contains("never runs (it runs \"lowest_latency\")"),
            "{}",
            s.warnings
        );
    }

    #[test]
    fn policies_chosen_outside_the_file_get_their_own_warnings() {
        let s = scenario(r#"    policy: "cheapest", policies: (failover: (jobs: ["a"])),"#);
        assert_eq!(s.warnings.items().len(), 1, "failover's settings are unused");
        let chosen = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let warnings = s.warnings_under(&names);
            warnings
                .items()
                .iter()
                .map(|w| (w.policy.clone(), w.at.is_some()))
                .collect::<Vec<_>>()
        };
        assert_eq!(chosen(&["failover"]), [], "it runs, and has its order");
        assert_eq!(
            chosen(&["cost_ceiling", "tiered", "cost_ceiling"]),
            [("cost_ceiling".to_string(), false), ("tiered".to_string(), false)]
        );
        assert_eq!(chosen(&[]).len(), 1, "no list: the file's own");
    }
}
