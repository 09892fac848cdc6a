//! Checks of the estate: accelerators, sites, pools (with their failure and spot-market
//! models), links and datasets, and the jurisdiction rules that residency is judged by.

use super::{MAX_GPUS_PER_TIER, Names, pool_name};
use crate::infra::spec::{DatasetSpec, LinkSpec, PoolSpec, SpotTierSpec, in_jurisdiction, within_residency};
use crate::kernel::SimDuration;
use crate::scenario::diagnostic::Diagnostics;
use crate::scenario::schema::ScenarioSpec;

pub(super) fn check_accelerators(spec: &ScenarioSpec, diags: &mut Diagnostics) {
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
pub(super) const MAX_EXPECTED_FAILURES: f64 = 100_000_000.0;

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
    let by_trace = matches!(spot.preemption, Some(SpotPreemptionSpec::Availability(_)) | None);
    if spot.reclaimed_for.is_some() && by_trace {
        diags.at_path(
            &at("reclaimed_for"),
            "reclaimed_for applies to reclaims at a rate; this tier has no `preemption: rate(…)`",
            Some("remove reclaimed_for, or give the tier preemption: rate(\"0.5/day\")".into()),
        );
    }
    if let Some(problem) = spot
        .price_process
        .as_ref()
        .and_then(crate::incident::price::PriceProcess::problem)
    {
        diags.at_path(&at("price_process"), problem, None);
    }
}

pub(super) fn check_pool(diags: &mut Diagnostics, i: usize, pool: &PoolSpec, horizon: SimDuration) {
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

pub(super) fn check_link(diags: &mut Diagnostics, sites: &Names<'_>, i: usize, link: &LinkSpec) {
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

pub(super) fn check_dataset(
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
