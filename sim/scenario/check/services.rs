//! Checks of the inference services: names resolve, models fit their GPUs, replicas fit their
//! pools, demand streams, fallbacks, autoscaling and SLOs make sense.

use std::collections::BTreeMap;

use super::{Names, pool_name, tier_capacity, unique, within_residency};
use crate::infra::spec::PoolSpec;
use crate::scenario::diagnostic::Diagnostics;
use crate::scenario::schema::ScenarioSpec;

/// Most requests a service may keep waiting at one site.
pub(super) const MAX_QUEUE_LIMIT: u32 = 10_000_000;
/// Most replicas of one service (initial plus autoscaled).
pub(super) const MAX_REPLICAS: u32 = 100_000;
/// Most concurrent requests one replica serves. With [`MAX_REPLICAS`] this keeps a service's
/// slot count within `u32`.
pub(super) const MAX_SLOTS_PER_REPLICA: u32 = 10_000;

/// Checks the inference services: names resolve, models fit their GPUs, replicas fit their
/// pools, demand streams and fallbacks make sense.
pub(super) fn check_services(spec: &ScenarioSpec, diags: &mut Diagnostics) {
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
            if let crate::workload::service::ServiceTimeSpec::Batched(batched) = &service.service_time {
                check_kv_room(
                    spec,
                    diags,
                    &at("service_time.kv_cache"),
                    &spec.pools[p],
                    model,
                    batched,
                );
            }
            *demanded.entry((p, replicas.tier)).or_default() +=
                u64::from(replicas.count) * u64::from(model.gpus_per_replica);
        }
        for (d, demand) in service.demand.iter().enumerate() {
            sites.resolve(diags, &at(&format!("demand[{d}].origin")), &demand.origin);
            check_arrivals(diags, &at(&format!("demand[{d}].arrivals")), &demand.arrivals);
            if let Some(payload) = &demand.payload {
                check_payload(diags, &at(&format!("demand[{d}].payload")), payload);
            }
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
        if let Some(slo) = &service.slo
            && !(slo.percentile > 0.0 && slo.percentile < 100.0)
        {
            diags.at_path(
                &at("slo.percentile"),
                "the percentile must be between 0 and 100, e.g. 99.0",
                None,
            );
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

/// Largest payload part: a request or response of more than this is a bulk transfer, better
/// modelled as a job's dataset. It also keeps any request's bytes, with the token limits, far
/// inside `u64` and its serialization delay inside the clock.
pub(super) const MAX_PAYLOAD_BYTES: u64 = 10_000_000_000;
/// Largest payload per token (text is a few bytes a token; 1 MB covers images and embeddings).
pub(super) const MAX_BYTES_PER_TOKEN: u64 = 1_000_000;

/// What an arrival process's own figures get wrong, found at load so the message points at the
/// line (resolving, which builds the process, knows no position).
fn check_arrivals(diags: &mut Diagnostics, path: &str, arrivals: &crate::workload::arrivals::ArrivalSpec) {
    use crate::workload::arrivals::ArrivalSpec;
    match arrivals {
        ArrivalSpec::Diurnal { peak, trough, .. } if peak.per_sec() < trough.per_sec() => diags.at_path(
            &format!("{path}.peak"),
            format!("the peak rate {peak} is below the trough {trough}"),
            Some("swap them: `peak` is the highest rate of the day, `trough` the lowest".into()),
        ),
        ArrivalSpec::Trace(trace) if !(trace.time_scale.is_finite() && trace.time_scale > 0.0) => diags
            .at_path(
                &format!("{path}.time_scale"),
                format!("time_scale {} is not a positive number", trace.time_scale),
                Some("write e.g. time_scale: 0.5 to replay twice as fast, or 2.0 for half as fast".into()),
            ),
        _ => {}
    }
}

fn check_payload(diags: &mut Diagnostics, path: &str, payload: &crate::workload::service::PayloadSpec) {
    let parts = [
        ("request_bytes", payload.request_bytes, MAX_PAYLOAD_BYTES, "10GB"),
        (
            "response_bytes",
            payload.response_bytes,
            MAX_PAYLOAD_BYTES,
            "10GB",
        ),
        (
            "bytes_per_context_token",
            payload.bytes_per_context_token,
            MAX_BYTES_PER_TOKEN,
            "1MB",
        ),
        (
            "bytes_per_generated_token",
            payload.bytes_per_generated_token,
            MAX_BYTES_PER_TOKEN,
            "1MB",
        ),
    ];
    for (field, size, limit, shown) in parts {
        if size.bytes() > limit {
            diags.at_path(
                &format!("{path}.{field}"),
                format!("{} bytes is more than this tool accepts here ({shown})", size.bytes()),
                Some("payload sizes are per request or per token, e.g. \"2KB\" or \"4B\"; move bulk data as a dataset".into()),
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

/// A batched model's KV cache needs room beside the weights on the replica's GPUs.
fn check_kv_room(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    path: &str,
    pool: &PoolSpec,
    model: &crate::workload::service::ModelSpec,
    batched: &crate::workload::batched::BatchedSpec,
) {
    let (Some(kv), Some(accelerator)) = (
        batched.kv_cache,
        spec.accelerators.iter().find(|a| a.name == pool.accelerator),
    ) else {
        return;
    };
    let memory = accelerator
        .memory
        .bytes()
        .saturating_mul(u64::from(model.gpus_per_replica));
    if kv.problem().is_none() && kv.capacity_tokens(memory, model.memory.bytes()) == 0 {
        diags.at_path(
            path,
            format!(
                "the weights (model.memory, {}) leave no room for the KV cache in {:.0}% of {} × {} ({} each)",
                model.memory,
                kv.memory_utilization * 100.0,
                model.gpus_per_replica,
                accelerator.name,
                accelerator.memory
            ),
            Some("raise gpus_per_replica or memory_utilization, or use an accelerator with more memory".into()),
        );
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
