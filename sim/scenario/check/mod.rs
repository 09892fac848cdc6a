//! The checks that turn a parsed file into a valid scenario: every name resolves, every value
//! is possible, every size is bounded. All problems are collected, not just the first.
//!
//! This file owns the entry point [`check`], the scenario-wide limits, the header checks and
//! the name resolution every part shares. Each part of a scenario is checked in its own file:
//! `estate` (accelerators, sites, pools, links, datasets, residency), `services`, `policies`,
//! `jobs`, `incidents` and `expectations` (the `expect` assertions).

mod estate;
mod expectations;
mod incidents;
mod jobs;
mod policies;
mod services;

use std::collections::BTreeMap;

use super::diagnostic::{Diagnostics, closest};
use super::schema::ScenarioSpec;
use crate::infra::spec::PoolSpec;
use crate::infra::spec::{link_name, pool_name, within_residency};
use crate::kernel::SimDuration;
use estate::{check_accelerators, check_dataset, check_link, check_pool};
use expectations::check_expectations;
use incidents::check_incidents;
use jobs::check_jobs;
use policies::check_policy;
pub(super) use policies::settings_warnings;
use services::check_services;

/// Most sites a scenario may have (routes are kept for every pair of sites).
pub const MAX_SITES: usize = 1_000;
/// Most pools, links or datasets a scenario may have.
pub const MAX_ITEMS: usize = 20_000;
/// Most GPUs in one tier of one pool.
pub const MAX_GPUS_PER_TIER: u64 = 1_000_000;
/// Longest simulated horizon: ten years.
pub const MAX_HORIZON: SimDuration = SimDuration::from_hours(10 * 8_760);
/// Most metric windows a run may cut its horizon into (memory is proportional to it).
pub const MAX_WINDOWS: u64 = 1_000_000;
/// Longest scenario name, in characters: it names the output folder, and the staging and backup
/// folders written beside it add to its length, which file systems cap at 255 bytes.
pub const MAX_NAME: usize = 200;

/// Names declared in a scenario, by kind, for resolving references.
pub(super) struct Names<'s> {
    kind: &'static str,
    list: &'static str,
    index: BTreeMap<&'s str, usize>,
}

impl<'s> Names<'s> {
    pub(super) fn collect(
        kind: &'static str,
        list: &'static str,
        names: impl Iterator<Item = &'s str>,
    ) -> Self {
        Names {
            kind,
            list,
            index: names.enumerate().map(|(i, n)| (n, i)).collect(),
        }
    }

    /// Reports `name` at `path` if it is not declared.
    pub(super) fn resolve(&self, diags: &mut Diagnostics, path: &str, name: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        let help = match closest(name, self.index.keys().copied()) {
            Some(near) => format!(
                "did you mean \"{near}\"? Declared {}s are listed under `{}`",
                self.kind, self.list
            ),
            None if self.index.is_empty() => format!("declare it under `{}` first", self.list),
            None => format!("declared {}s: {}", self.kind, self.listing()),
        };
        diags.at_path(path, format!("unknown {} \"{name}\"", self.kind), Some(help));
        None
    }

    fn listing(&self) -> String {
        let mut names: Vec<&str> = self.index.keys().copied().take(12).collect();
        if self.index.len() > names.len() {
            names.push("…");
        }
        names.join(", ")
    }
}

/// Reports names that occur twice in one list.
pub(super) fn unique<'s>(
    diags: &mut Diagnostics,
    list: &str,
    kind: &str,
    names: impl Iterator<Item = &'s str>,
) {
    let mut seen = BTreeMap::new();
    for (i, name) in names.enumerate() {
        if name.trim().is_empty() {
            diags.at_path(
                &format!("{list}[{i}].name"),
                format!("a {kind} needs a name"),
                None,
            );
        } else if let Some(first) = seen.insert(name, i) {
            diags.at_path(
                &format!("{list}[{i}].name"),
                format!("{kind} name \"{name}\" is used twice"),
                Some(format!("{list}[{first}] has the same name; names must be unique")),
            );
        }
    }
}

pub(super) fn bounded_count(diags: &mut Diagnostics, list: &str, count: usize, max: usize) {
    if count > max {
        diags.at_path(
            list,
            format!("{count} entries in `{list}` is more than this tool accepts ({max})"),
            Some("split the study or aggregate entries".into()),
        );
    }
}

/// Checks a parsed scenario; every problem is added to `diags`.
pub(super) fn check(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    check_header(spec, diags);
    unique(
        diags,
        "accelerators",
        "accelerator",
        spec.accelerators.iter().map(|a| a.name.as_str()),
    );
    unique(diags, "sites", "site", spec.sites.iter().map(|s| s.name.as_str()));
    unique(
        diags,
        "datasets",
        "dataset",
        spec.datasets.iter().map(|d| d.name.as_str()),
    );
    bounded_count(diags, "sites", spec.sites.len(), MAX_SITES);
    bounded_count(diags, "pools", spec.pools.len(), MAX_ITEMS);
    bounded_count(diags, "links", spec.links.len(), MAX_ITEMS);
    bounded_count(diags, "datasets", spec.datasets.len(), MAX_ITEMS);

    let sites = Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str()));
    let accelerators = Names::collect(
        "accelerator",
        "accelerators",
        spec.accelerators.iter().map(|a| a.name.as_str()),
    );
    check_accelerators(spec, diags);
    for (i, site) in spec.sites.iter().enumerate() {
        if site.jurisdiction.trim().is_empty() {
            diags.at_path(
                &format!("sites[{i}].jurisdiction"),
                "empty jurisdiction",
                Some("write it broad to narrow, e.g. \"eu/de\" or \"us/va\"".into()),
            );
        }
    }
    let mut pool_names = Vec::new();
    for (i, pool) in spec.pools.iter().enumerate() {
        sites.resolve(diags, &format!("pools[{i}].site"), &pool.site);
        accelerators.resolve(diags, &format!("pools[{i}].accelerator"), &pool.accelerator);
        check_pool(diags, i, pool, spec.horizon);
        pool_names.push(pool_name(pool));
    }
    unique_names(diags, "pools", "pool", &pool_names);
    let mut link_names = Vec::new();
    for (i, link) in spec.links.iter().enumerate() {
        check_link(diags, &sites, i, link);
        link_names.push(link_name(link));
    }
    unique_names(diags, "links", "link", &link_names);
    for (i, dataset) in spec.datasets.iter().enumerate() {
        check_dataset(spec, diags, &sites, i, dataset);
    }
    check_services(spec, diags);
    check_policy(spec, diags);
    check_jobs(spec, diags);
    check_incidents(spec, diags);
    check_expectations(spec, diags);
}

fn unique_names(diags: &mut Diagnostics, list: &str, kind: &str, names: &[String]) {
    unique(diags, list, kind, names.iter().map(String::as_str));
}

fn check_header(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    if spec.name.trim().is_empty() {
        diags.at_path(
            "name",
            "the scenario needs a name",
            Some("it names the output folder".into()),
        );
    } else if spec.name.chars().count() > MAX_NAME {
        diags.at_path(
            "name",
            format!(
                "the scenario name is {} characters long; at most {MAX_NAME} fit in an output folder's name",
                spec.name.chars().count()
            ),
            Some(format!(
                "shorten `name` to {MAX_NAME} characters or fewer: it names the output folder, outputs/<name>/"
            )),
        );
    } else if !spec
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        diags.at_path(
            "name",
            format!("scenario name \"{}\" cannot name a folder", spec.name),
            Some("use letters, digits, '-', '_' and '.'".into()),
        );
    } else if spec.name.starts_with('.') {
        // "." and ".." are the output folder's parent or outputs/ itself; ".x" a hidden folder.
        diags.at_path(
            "name",
            format!(
                "scenario name \"{}\" starts with a dot: outputs/{} would not be a folder of its own",
                spec.name, spec.name
            ),
            Some("start the name with a letter or a digit".into()),
        );
    }
    if spec.horizon.is_zero() {
        diags.at_path(
            "horizon",
            "the horizon is zero",
            Some("give the simulated time to cover, e.g. \"2h\"".into()),
        );
    } else if spec.horizon > MAX_HORIZON {
        diags.at_path(
            "horizon",
            format!(
                "a horizon of {} is longer than this tool accepts ({MAX_HORIZON})",
                spec.horizon
            ),
            None,
        );
    }
    let window = spec.metrics.window;
    if window.is_zero() {
        diags.at_path(
            "metrics.window",
            "the metrics window is zero",
            Some("e.g. \"1m\"".into()),
        );
    } else if spec.horizon.as_nanos() / window.as_nanos() > MAX_WINDOWS {
        diags.at_path(
            "metrics.window",
            format!(
                "a {window} window cuts the {} horizon into more than {MAX_WINDOWS} windows",
                spec.horizon
            ),
            Some("use a wider window".into()),
        );
    }
    check_memory(spec, diags);
    if spec.metrics.warmup >= spec.horizon && !spec.horizon.is_zero() {
        diags.at_path(
            "metrics.warmup",
            "the warm-up covers the whole horizon",
            Some("shorten it".into()),
        );
    }
}

pub(super) fn tier_capacity(pool: &PoolSpec, tier: crate::vocab::Tier) -> u64 {
    use crate::vocab::Tier;
    match tier {
        Tier::Reserved => pool.reserved.as_ref().map_or(0, |t| t.count),
        Tier::Owned => pool.owned.as_ref().map_or(0, |t| t.count),
        Tier::OnDemand => pool.on_demand.as_ref().map_or(0, |t| t.limit),
        Tier::Spot => pool.spot.as_ref().map_or(0, |t| t.limit),
    }
}

/// Refuses a run whose figures would not fit in `limits.memory`: with the ledger and the
/// per-window figures on disk, what grows in memory is the cost curves, nine numbers a window.
fn check_memory(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use super::memory::{MemoryEstimate, human_bytes};
    if spec.metrics.window.is_zero() || spec.horizon.as_nanos() / spec.metrics.window.as_nanos() > MAX_WINDOWS
    {
        return;
    }
    let estimate = MemoryEstimate::of(spec);
    let limit = spec.limits.memory;
    if estimate.total() <= limit.bytes() {
        return;
    }
    let problem = format!(
        "this run would hold about {} for {} windows of {} service(s), more than `limits.memory` ({limit})",
        human_bytes(estimate.total()),
        estimate.windows,
        estimate.services,
    );
    diags.at_path(
        "metrics.window",
        problem,
        Some(format!(
            "widen `metrics.window` (e.g. \"1h\"), shorten `horizon`, or raise `limits.memory` (e.g. limits: (memory: \"{}GB\")) if the machine has the room",
            estimate.total().div_ceil(1_000_000_000) + 1
        )),
    );
}
