//! The checks that turn a parsed file into a valid scenario: every name resolves, every value
//! is possible, every size is bounded. All problems are collected, not just the first.

use std::collections::BTreeMap;

use super::diagnostic::{Diagnostics, closest};
use super::schema::ScenarioSpec;
use crate::infra::spec::{
    DatasetSpec, LinkSpec, PoolSpec, SpotTierSpec, in_jurisdiction, link_name, pool_name, within_residency,
};
use crate::kernel::SimDuration;
use crate::vocab::WorkloadClass;

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

/// Names declared in a scenario, by kind, for resolving references.
struct Names<'s> {
    kind: &'static str,
    list: &'static str,
    index: BTreeMap<&'s str, usize>,
}

impl<'s> Names<'s> {
    fn collect(kind: &'static str, list: &'static str, names: impl Iterator<Item = &'s str>) -> Self {
        Names {
            kind,
            list,
            index: names.enumerate().map(|(i, n)| (n, i)).collect(),
        }
    }

    /// Reports `name` at `path` if it is not declared.
    fn resolve(&self, diags: &mut Diagnostics, path: &str, name: &str) -> Option<usize> {
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
fn unique<'s>(diags: &mut Diagnostics, list: &str, kind: &str, names: impl Iterator<Item = &'s str>) {
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

fn bounded_count(diags: &mut Diagnostics, list: &str, count: usize, max: usize) {
    if count > max {
        diags.at_path(
            list,
            format!("{count} entries in `{list}` is more than this tool accepts ({max})"),
            Some("split the study or aggregate entries".into()),
        );
    }
}

/// Checks a parsed scenario; every problem is added to `diags`.
pub fn check(spec: &ScenarioSpec, diags: &mut Diagnostics) {
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
    if spec.metrics.warmup >= spec.horizon && !spec.horizon.is_zero() {
        diags.at_path(
            "metrics.warmup",
            "the warm-up covers the whole horizon",
            Some("shorten it".into()),
        );
    }
}

fn check_accelerators(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    for (i, accelerator) in spec.accelerators.iter().enumerate() {
        if accelerator.memory.bytes() == 0 {
            diags.at_path(
                &format!("accelerators[{i}].memory"),
                "accelerator memory is zero",
                None,
            );
        }
        for (class, factor) in &accelerator.speed {
            if !(factor.is_finite() && *factor > 0.0) {
                diags.at_path(
                    &format!("accelerators[{i}].speed.{}", class.as_str()),
                    format!("speed factor {factor} is not a positive number"),
                    Some("1.0 means as fast as the reference accelerator; 2.0 twice as fast".into()),
                );
            }
        }
    }
}

/// Most GPU failures a pool may be expected to have over the horizon.
pub const MAX_EXPECTED_FAILURES: f64 = 100_000_000.0;

fn check_failures(
    diags: &mut Diagnostics,
    i: usize,
    pool: &PoolSpec,
    failures: &crate::incident::FailureSpec,
    horizon: SimDuration,
) {
    let at = |field: &str| format!("pools[{i}].failures.{field}");
    if failures.gpu_mtbf.is_zero() {
        diags.at_path(
            &at("gpu_mtbf"),
            "a GPU's mean time between failures must be positive",
            Some("e.g. \"50000h\" (Llama 3: 16,384 GPUs, one interruption per 3.1 h)".into()),
        );
        return;
    }
    let gpus: u64 = [
        pool.reserved.as_ref().map(|t| t.count),
        pool.owned.as_ref().map(|t| t.count),
        pool.on_demand.as_ref().map(|t| t.limit),
        pool.spot.as_ref().map(|t| t.limit),
    ]
    .into_iter()
    .flatten()
    .sum();
    let expected = gpus as f64 * horizon.as_secs_f64() / failures.gpu_mtbf.as_secs_f64();
    if expected > MAX_EXPECTED_FAILURES {
        diags.at_path(
            &at("gpu_mtbf"),
            format!("about {expected:.0} GPU failures over the horizon, more than this tool simulates ({MAX_EXPECTED_FAILURES:.0})"),
            Some("check the unit (\"50000h\", not \"50000s\") or shorten the horizon".into()),
        );
    }
    if let Some(shape) = failures
        .shape
        .filter(|k| !(k.is_finite() && (0.1..=20.0).contains(k)))
    {
        diags.at_path(
            &at("shape"),
            format!("Weibull shape {shape} is outside 0.1–20"),
            None,
        );
    }
}

fn check_spot_market(diags: &mut Diagnostics, i: usize, spot: &SpotTierSpec, horizon: SimDuration) {
    use crate::incident::spot::SpotPreemptionSpec;
    let at = |field: &str| format!("pools[{i}].spot.{field}");
    if let Some(preemption) = &spot.preemption {
        if let Some(problem) = preemption.problem() {
            diags.at_path(&at("preemption"), problem, None);
        }
        if let SpotPreemptionSpec::Rate(rate) = preemption {
            let expected = rate.per_sec() * spot.limit as f64 * horizon.as_secs_f64();
            if rate.per_sec().is_nan() || rate.per_sec() <= 0.0 || expected > MAX_EXPECTED_FAILURES {
                diags.at_path(
                    &at("preemption"),
                    format!("a reclaim rate of {rate} per GPU is not positive or gives about {expected:.0} reclaims over the horizon (at most {MAX_EXPECTED_FAILURES:.0})"),
                    Some("e.g. rate(\"0.5/day\")".into()),
                );
            }
        }
    }
    if let Some(problem) = spot
        .price_process
        .as_ref()
        .and_then(crate::incident::price::PriceProcess::problem)
    {
        diags.at_path(&at("price_process"), problem, None);
    }
}

fn check_pool(diags: &mut Diagnostics, i: usize, pool: &PoolSpec, horizon: SimDuration) {
    let at = |field: &str| format!("pools[{i}].{field}");
    if let Some(failures) = pool.failures {
        check_failures(diags, i, pool, &failures, horizon);
    }
    if let Some(spot) = &pool.spot {
        check_spot_market(diags, i, spot, horizon);
    }
    let tiers = [
        ("reserved.count", pool.reserved.as_ref().map(|t| t.count)),
        ("owned.count", pool.owned.as_ref().map(|t| t.count)),
        ("on_demand.limit", pool.on_demand.as_ref().map(|t| t.limit)),
        ("spot.limit", pool.spot.as_ref().map(|t| t.limit)),
    ];
    if tiers.iter().all(|(_, count)| count.is_none()) {
        diags.at_path(
            &format!("pools[{i}]"),
            format!("pool \"{}\" has no capacity tier", pool_name(pool)),
            Some("give it at least one of reserved, owned, on_demand, spot".into()),
        );
    }
    for (field, count) in tiers {
        if let Some(count) = count.filter(|&c| c > MAX_GPUS_PER_TIER) {
            diags.at_path(
                &at(field),
                format!("{count} GPUs in one tier is more than this tool accepts ({MAX_GPUS_PER_TIER})"),
                Some("check for a typo; split very large fleets into several pools".into()),
            );
        }
    }
    if let Some(size) = pool.size {
        let fixed: u64 = tiers[..2].iter().filter_map(|(_, c)| *c).sum();
        if fixed > size {
            diags.at_path(
                &at("size"),
                format!("the pool holds {size} GPUs but {fixed} are reserved or owned"),
                Some("raise `size` or lower the reserved/owned counts".into()),
            );
        }
        for (field, count) in &tiers[2..] {
            if let Some(count) = count.filter(|&c| c > size) {
                diags.at_path(
                    &at(field),
                    format!("limit {count} exceeds the pool's size of {size}"),
                    None,
                );
            }
        }
    }
    if let Some(owned) = &pool.owned {
        if owned.lifetime.is_zero() {
            diags.at_path(
                &at("owned.lifetime"),
                "depreciation lifetime is zero",
                Some("give the depreciation period, e.g. \"4y\"".into()),
            );
        }
        if !(1.0..=3.0).contains(&owned.pue) {
            diags.at_path(
                &at("owned.pue"),
                format!("PUE {} is outside 1.0–3.0", owned.pue),
                Some("typical facilities run at 1.2–1.5".into()),
            );
        }
    }
}

fn check_link(diags: &mut Diagnostics, sites: &Names<'_>, i: usize, link: &LinkSpec) {
    let a = sites.resolve(diags, &format!("links[{i}].a"), &link.a);
    let b = sites.resolve(diags, &format!("links[{i}].b"), &link.b);
    if a.is_some() && a == b {
        diags.at_path(
            &format!("links[{i}].b"),
            format!("link from \"{}\" to itself", link.a),
            Some("a link joins two different sites".into()),
        );
    }
    if !(link.loss.is_finite() && (0.0..1.0).contains(&link.loss)) {
        diags.at_path(
            &format!("links[{i}].loss"),
            format!("loss {} is not a probability below 1", link.loss),
            Some("write e.g. 0.001 for 0.1% packet loss".into()),
        );
    }
}

fn check_dataset(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    sites: &Names<'_>,
    i: usize,
    dataset: &DatasetSpec,
) {
    let Some(home) = sites.resolve(diags, &format!("datasets[{i}].home"), &dataset.home) else {
        return;
    };
    for (j, allowed) in dataset.residency.iter().enumerate() {
        if !spec
            .sites
            .iter()
            .any(|s| in_jurisdiction(&s.jurisdiction, allowed))
        {
            diags.at_path(
                &format!("datasets[{i}].residency[{j}]"),
                format!("no site is in jurisdiction \"{allowed}\""),
                Some("residency entries are jurisdiction prefixes such as \"eu\" or \"eu/de\"".into()),
            );
        }
    }
    let home_site = &spec.sites[home];
    if !within_residency(&home_site.jurisdiction, &dataset.residency) {
        diags.at_path(
            &format!("datasets[{i}].home"),
            format!(
                "dataset \"{}\" lives at \"{}\" ({}), outside its residency {:?}",
                dataset.name, home_site.name, home_site.jurisdiction, dataset.residency
            ),
            Some("move its home to a site inside the allowed jurisdictions".into()),
        );
    }
}

/// Most requests a service may keep waiting at one site.
pub const MAX_QUEUE_LIMIT: u32 = 10_000_000;
/// Most replicas of one service (initial plus autoscaled).
pub const MAX_REPLICAS: u32 = 100_000;
/// Most concurrent requests one replica serves. With [`MAX_REPLICAS`] this keeps a service's
/// slot count within `u32`.
pub const MAX_SLOTS_PER_REPLICA: u32 = 10_000;

/// Checks the inference services: names resolve, models fit their GPUs, replicas fit their
/// pools, demand streams and fallbacks make sense.
pub fn check_services(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use crate::workload::service::FallbackSpec;
    unique(
        diags,
        "services",
        "service",
        spec.services.iter().map(|s| s.name.as_str()),
    );
    let sites = Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str()));
    let pool_names: Vec<String> = spec.pools.iter().map(pool_name).collect();
    let pools = Names::collect("pool", "pools", pool_names.iter().map(String::as_str));
    let services = Names::collect(
        "service",
        "services",
        spec.services.iter().map(|s| s.name.as_str()),
    );
    // GPUs asked of each (pool, tier) by initial replicas, to compare with capacity.
    let mut demanded: BTreeMap<(usize, crate::vocab::Tier), u64> = BTreeMap::new();
    for (i, service) in spec.services.iter().enumerate() {
        let at = |field: &str| format!("services[{i}].{field}");
        let model = &service.model;
        if model.gpus_per_replica == 0 || model.slots_per_replica == 0 {
            diags.at_path(
                &at("model"),
                "a replica needs at least one GPU and one slot",
                None,
            );
        }
        if model.slots_per_replica > MAX_SLOTS_PER_REPLICA {
            diags.at_path(
                &at("model.slots_per_replica"),
                format!("more than {MAX_SLOTS_PER_REPLICA} concurrent requests per replica"),
                Some("a slot is one request in service; model batching with fewer, faster slots".into()),
            );
        }
        let initial: u64 = service.replicas.iter().map(|r| u64::from(r.count)).sum();
        let scaled = service
            .autoscaling
            .as_ref()
            .map_or(0, |a| u64::from(a.max) * service.replicas.len() as u64);
        if initial + scaled > u64::from(MAX_REPLICAS) {
            diags.at_path(
                &at("replicas"),
                format!(
                    "up to {} replicas is more than this tool accepts ({MAX_REPLICAS})",
                    initial + scaled
                ),
                Some("check the counts and autoscaling.max for a typo".into()),
            );
        }
        if service.timeout.is_zero() {
            diags.at_path(
                &at("timeout"),
                "a zero timeout fails every request that has to wait",
                Some("e.g. \"30s\"".into()),
            );
        }
        check_demand_residency(spec, diags, i, service);
        if service.queue_limit > MAX_QUEUE_LIMIT {
            diags.at_path(
                &at("queue_limit"),
                format!("queue limit above {MAX_QUEUE_LIMIT}"),
                None,
            );
        }
        if let Err(error) = crate::workload::service::ServiceTime::new(&service.service_time) {
            diags.at_path(&at("service_time"), error.to_string(), None);
        }
        for (r, replicas) in service.replicas.iter().enumerate() {
            let Some(p) = pools.resolve(diags, &at(&format!("replicas[{r}].pool")), &replicas.pool) else {
                continue;
            };
            if replicas.count > MAX_REPLICAS {
                diags.at_path(
                    &at(&format!("replicas[{r}].count")),
                    format!("more than {MAX_REPLICAS} replicas"),
                    None,
                );
                continue;
            }
            check_model_fits(
                spec,
                diags,
                &at(&format!("replicas[{r}].pool")),
                &spec.pools[p],
                model,
            );
            *demanded.entry((p, replicas.tier)).or_default() +=
                u64::from(replicas.count) * u64::from(model.gpus_per_replica);
        }
        for (d, demand) in service.demand.iter().enumerate() {
            sites.resolve(diags, &at(&format!("demand[{d}].origin")), &demand.origin);
        }
        match &service.fallback {
            Some(FallbackSpec::Service { name }) => {
                let path = at("fallback.name");
                if services.resolve(diags, &path, name).is_some() && name == &service.name {
                    diags.at_path(&path, "a service cannot be its own fallback", None);
                }
            }
            Some(FallbackSpec::EdgeCache { hit_ratio, .. }) if !(0.0..=1.0).contains(hit_ratio) => {
                diags.at_path(
                    &at("fallback.hit_ratio"),
                    format!("hit ratio {hit_ratio} is not between 0 and 1"),
                    None,
                );
            }
            _ => {}
        }
        if let Some(scale) = &service.autoscaling {
            if !(scale.target_utilization > 0.0 && scale.target_utilization <= 1.0) {
                diags.at_path(
                    &at("autoscaling.target_utilization"),
                    "target utilization must be in (0, 1]",
                    None,
                );
            }
            if scale.min > scale.max || scale.max > MAX_REPLICAS {
                diags.at_path(
                    &at("autoscaling.max"),
                    format!("need min ≤ max ≤ {MAX_REPLICAS}"),
                    None,
                );
            }
            if scale.interval.is_zero() {
                diags.at_path(
                    &at("autoscaling.interval"),
                    "the evaluation interval is zero",
                    None,
                );
            }
            for replicas in &service.replicas {
                let pool = spec.pools.iter().find(|p| pool_name(p) == replicas.pool);
                if let Some(pool) = pool.filter(|p| tier_capacity(p, scale.tier) == 0) {
                    diags.at_path(
                        &at("autoscaling.tier"),
                        format!(
                            "pool \"{}\" has no {} capacity to scale into",
                            pool_name(pool),
                            scale.tier.as_str()
                        ),
                        Some("give the pool that tier or choose a tier it has".into()),
                    );
                }
            }
        }
        if let Some(slo) = &service.slo {
            if !(slo.percentile > 0.0 && slo.percentile < 100.0) {
                diags.at_path(
                    &at("slo.percentile"),
                    "the percentile must be between 0 and 100, e.g. 99.0",
                    None,
                );
            }
        }
    }
    for ((p, tier), gpus) in demanded {
        let capacity = tier_capacity(&spec.pools[p], tier);
        if gpus > capacity {
            diags.at_path(
                &format!("pools[{p}]"),
                format!(
                    "initial replicas need {gpus} {} GPUs of pool \"{}\", which has {capacity}",
                    tier.as_str(),
                    pool_name(&spec.pools[p])
                ),
                Some("add capacity to the tier or place fewer replicas there".into()),
            );
        }
    }
}

/// Demand whose residency no replica site satisfies can only fail (or fall back): say so.
fn check_demand_residency(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    i: usize,
    service: &crate::workload::service::ServiceSpec,
) {
    if service.fallback.is_some() || service.replicas.is_empty() {
        return;
    }
    let replica_sites: Vec<&str> = service
        .replicas
        .iter()
        .filter_map(|r| {
            spec.pools
                .iter()
                .find(|p| pool_name(p) == r.pool)
                .map(|p| p.site.as_str())
        })
        .collect();
    for (d, demand) in service.demand.iter().enumerate() {
        let served_somewhere = demand.residency.is_empty()
            || replica_sites.iter().any(|site| {
                spec.sites
                    .iter()
                    .find(|s| s.name == *site)
                    .is_some_and(|s| within_residency(&s.jurisdiction, &demand.residency))
            });
        if !served_somewhere {
            diags.at_path(
                &format!("services[{i}].demand[{d}].residency"),
                format!(
                    "no replica of \"{}\" is in {:?}: every request would fail",
                    service.name, demand.residency
                ),
                Some("place replicas inside the allowed jurisdictions or add a fallback".into()),
            );
        }
    }
}

fn tier_capacity(pool: &PoolSpec, tier: crate::vocab::Tier) -> u64 {
    use crate::vocab::Tier;
    match tier {
        Tier::Reserved => pool.reserved.as_ref().map_or(0, |t| t.count),
        Tier::Owned => pool.owned.as_ref().map_or(0, |t| t.count),
        Tier::OnDemand => pool.on_demand.as_ref().map_or(0, |t| t.limit),
        Tier::Spot => pool.spot.as_ref().map_or(0, |t| t.limit),
    }
}

fn check_model_fits(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    path: &str,
    pool: &PoolSpec,
    model: &crate::workload::service::ModelSpec,
) {
    let Some(accelerator) = spec.accelerators.iter().find(|a| a.name == pool.accelerator) else {
        return;
    };
    let available = u128::from(accelerator.memory.bytes()) * u128::from(model.gpus_per_replica);
    if u128::from(model.memory.bytes()) > available {
        diags.at_path(
            path,
            format!(
                "the model needs {} but {} × {} has {}",
                model.memory, model.gpus_per_replica, accelerator.name, accelerator.memory
            ),
            Some("raise gpus_per_replica or place it on an accelerator with more memory".into()),
        );
    }
}

/// Policy names must be built-in ones, and their settings must name real sites and services.
fn check_policy(spec: &ScenarioSpec, diags: &mut Diagnostics) {
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

/// Most jobs a Poisson source may be expected to create over the horizon.
pub const MAX_EXPECTED_JOBS: f64 = 1_000_000.0;
/// Most reference GPU-hours of work one job may have (a 100,000-GPU job running ten years).
pub const MAX_JOB_WORK_GPU_HOURS: f64 = 1e10;

/// Checks the jobs and job sources.
pub fn check_jobs(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use crate::workload::job::JobArrivals;
    unique(diags, "jobs", "job", spec.jobs.iter().map(|j| j.name.as_str()));
    bounded_count(diags, "jobs", spec.jobs.len(), MAX_ITEMS);
    let accelerators = Names::collect(
        "accelerator",
        "accelerators",
        spec.accelerators.iter().map(|a| a.name.as_str()),
    );
    let sites = Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str()));
    let datasets = Names::collect(
        "dataset",
        "datasets",
        spec.datasets.iter().map(|d| d.name.as_str()),
    );
    for (i, job) in spec.jobs.iter().enumerate() {
        let at = |field: &str| format!("jobs[{i}].{field}");
        if job.class == WorkloadClass::Inference {
            diags.at_path(
                &at("class"),
                "a job cannot be of class inference",
                Some("online inference is a service (under `services`); jobs are training, fine_tuning, batch_inference, embedding or evaluation".into()),
            );
        }
        match &job.arrivals {
            None => check_single_job(diags, i, job.gpus, job.work),
            Some(arrivals) => {
                for (field, given) in [("gpus", job.gpus.is_some()), ("work", job.work.is_some())] {
                    if given {
                        diags.at_path(
                            &at(field),
                            format!("`{field}` is set but the jobs come from `arrivals`"),
                            Some("a source gives each job's size itself; remove the field".into()),
                        );
                    }
                }
                if let JobArrivals::Poisson {
                    rate,
                    gpus,
                    duration,
                    count,
                } = arrivals
                {
                    check_poisson_jobs(spec, diags, i, rate.per_sec(), gpus, duration, *count);
                }
            }
        }
        for (a, name) in job.accelerators.iter().enumerate() {
            accelerators.resolve(diags, &at(&format!("accelerators[{a}]")), name);
        }
        if let Some(dataset) = &job.dataset {
            datasets.resolve(diags, &at("dataset"), dataset);
        }
        check_job_tiers(diags, i, job);
        if let Some(checkpoint) = &job.checkpoint {
            check_checkpoint(diags, &sites, i, checkpoint);
            check_replica_residency(spec, diags, i, job);
        }
    }
}

/// A checkpoint holds a model trained on the job's dataset: its replica site must be one the
/// dataset may be in.
fn check_replica_residency(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    i: usize,
    job: &crate::workload::job::JobSpec,
) {
    let (Some(dataset), Some(replica)) = (
        job.dataset
            .as_ref()
            .and_then(|d| spec.datasets.iter().find(|x| &x.name == d)),
        job.checkpoint.as_ref().and_then(|c| c.replicate_to.as_ref()),
    ) else {
        return;
    };
    let Some(site) = spec.sites.iter().find(|s| &s.name == replica) else {
        return;
    };
    if !within_residency(&site.jurisdiction, &dataset.residency) {
        diags.at_path(
            &format!("jobs[{i}].checkpoint.replicate_to"),
            format!(
                "checkpoints of a model trained on dataset \"{}\" may only be in {}; {} is in {}",
                dataset.name,
                dataset.residency.join(", "),
                site.name,
                site.jurisdiction
            ),
            Some("replicate to a site within the dataset's residency".into()),
        );
    }
}

fn check_single_job(diags: &mut Diagnostics, i: usize, gpus: Option<u32>, work: Option<f64>) {
    let at = |field: &str| format!("jobs[{i}].{field}");
    match gpus {
        None => diags.at_path(
            &format!("jobs[{i}]"),
            "a job needs `gpus` (or `arrivals` for a source of jobs)",
            Some("e.g. gpus: 8".into()),
        ),
        Some(0) => diags.at_path(&at("gpus"), "a job needs at least one GPU", None),
        Some(g) if u64::from(g) > MAX_GPUS_PER_TIER => diags.at_path(
            &at("gpus"),
            format!("{g} GPUs is more than any tier may hold ({MAX_GPUS_PER_TIER})"),
            None,
        ),
        Some(_) => {}
    }
    match work {
        None => diags.at_path(
            &format!("jobs[{i}]"),
            "a job needs `work` in reference GPU-hours",
            Some("e.g. work: 1000 for 1000 GPU-hours on the reference accelerator".into()),
        ),
        Some(w) if !(w.is_finite() && w > 0.0 && w <= MAX_JOB_WORK_GPU_HOURS) => diags.at_path(
            &at("work"),
            format!("work {w} is not between 0 and {MAX_JOB_WORK_GPU_HOURS:e} GPU-hours"),
            Some("work is reference GPU-hours: runtime on the reference accelerator × GPUs".into()),
        ),
        Some(_) => {}
    }
}

fn check_poisson_jobs(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    i: usize,
    rate_per_sec: f64,
    gpus: &[(u32, f64)],
    duration: &crate::workload::job::DurationDist,
    count: Option<u64>,
) {
    let at = |field: &str| format!("jobs[{i}].arrivals.{field}");
    if rate_per_sec.is_nan() || rate_per_sec <= 0.0 {
        diags.at_path(&at("rate"), "the arrival rate must be positive", None);
    }
    let weights_ok = gpus.iter().all(|(_, w)| w.is_finite() && *w >= 0.0);
    if gpus.is_empty() || !weights_ok || gpus.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        diags.at_path(
            &at("gpus"),
            "GPU counts need non-negative weights that sum to more than zero",
            Some("e.g. gpus: [(8, 0.7), (16, 0.3)]".into()),
        );
    }
    if let Some((g, _)) = gpus
        .iter()
        .find(|(g, _)| *g == 0 || u64::from(*g) > MAX_GPUS_PER_TIER)
    {
        diags.at_path(&at("gpus"), format!("a job of {g} GPUs cannot run"), None);
    }
    if let Some(problem) = duration.problem() {
        diags.at_path(&at("duration"), problem, None);
    }
    let expected = rate_per_sec * spec.horizon.as_secs_f64();
    let bounded = count.is_some_and(|c| c as f64 <= MAX_EXPECTED_JOBS);
    if !bounded && expected > MAX_EXPECTED_JOBS {
        diags.at_path(
            &at("rate"),
            format!("about {expected:.0} jobs over the horizon, more than this tool accepts ({MAX_EXPECTED_JOBS:.0})"),
            Some("lower the rate, shorten the horizon or set `count`".into()),
        );
    }
}

fn check_job_tiers(diags: &mut Diagnostics, i: usize, job: &crate::workload::job::JobSpec) {
    use crate::vocab::Tier;
    for (t, tier) in job.tiers.iter().enumerate() {
        if job.tiers[..t].contains(tier) {
            diags.at_path(
                &format!("jobs[{i}].tiers[{t}]"),
                format!("tier {} is listed twice", tier.as_str()),
                None,
            );
        }
        if *tier == Tier::Spot && !job.preemptible && job.arrivals.is_none() {
            diags.at_path(
                &format!("jobs[{i}].tiers[{t}]"),
                "a job that is not preemptible cannot run on spot capacity",
                Some("set `preemptible: true` or remove spot".into()),
            );
        }
    }
}

fn check_checkpoint(
    diags: &mut Diagnostics,
    sites: &Names<'_>,
    i: usize,
    checkpoint: &crate::workload::job::CheckpointSpec,
) {
    let at = |field: &str| format!("jobs[{i}].checkpoint.{field}");
    if checkpoint.interval.is_zero() {
        diags.at_path(
            &at("interval"),
            "a checkpoint interval must be positive",
            Some("e.g. \"1h\"".into()),
        );
    }
    let by_size = checkpoint.size.is_some() && checkpoint.write_bandwidth.is_some();
    if checkpoint.write.is_some() == by_size
        || (checkpoint.write_bandwidth.is_some() && checkpoint.size.is_none())
    {
        diags.at_path(
            &format!("jobs[{i}].checkpoint"),
            "say how long a checkpoint write takes: either `write` or `size` with `write_bandwidth`",
            Some("e.g. write: \"2m\", or size: \"2TB\", write_bandwidth: \"100Gbps\"".into()),
        );
    }
    if let Some(site) = &checkpoint.replicate_to {
        sites.resolve(diags, &at("replicate_to"), site);
        if checkpoint.size.is_none() {
            diags.at_path(
                &at("replicate_to"),
                "replicating a checkpoint needs its `size`",
                Some("add e.g. size: \"2TB\"".into()),
            );
        }
    }
}

/// Checks the scripted incidents.
pub fn check_incidents(spec: &ScenarioSpec, diags: &mut Diagnostics) {
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
                if let (Some(s), Some(origin)) = (s, origin) {
                    if !spec.services[s].demand.iter().any(|d| &d.origin == origin) {
                        diags.at_path(
                            &at("kind.origin"),
                            format!("service \"{service}\" has no demand from \"{origin}\""),
                            Some("name one of its demand origins, or leave `origin` out for all".into()),
                        );
                    }
                }
            }
            IncidentKind::GpuFailure { pool, job } | IncidentKind::SpotPreemption { pool, job } => {
                let p = names.pools.resolve(diags, &at("kind.pool"), pool);
                if let Some(job) = job {
                    names.jobs.resolve(diags, &at("kind.job"), job);
                }
                if let (Some(p), IncidentKind::SpotPreemption { .. }) = (p, &incident.kind) {
                    if spec.pools[p].spot.is_none() {
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

/// Checks the `expect` assertions: every name they use resolves and every bound can be met.
pub fn check_expectations(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use super::expect::{Expectation, LatencyComponent, is_reported_percentile};
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
