//! Building the services of a scenario: deployments with their initial replicas, demand
//! streams with their arrival processes and random streams, and the run-wide ids of both.

use std::collections::VecDeque;

use crate::infra::estate::Estate;
use crate::infra::ledger::Payer;
use crate::infra::spec::within_residency;
use crate::kernel::{RngStreams, SimTime};
use crate::metrics::service::ServiceMetrics;
use crate::scenario::Resolved;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{PoolId, SiteId};
use crate::workload::service::{FallbackSpec, ServiceSpec, ServiceTime, ServiceTimeSpec};

use super::*;

impl Serving {
    /// Builds the services of a resolved scenario, placing their initial replicas in `estate`.
    pub fn build(
        resolved: &Resolved,
        estate: &mut Estate,
        streams: &RngStreams,
    ) -> Result<Self, ServingError> {
        let spec = resolved.spec();
        let mut services = Vec::with_capacity(spec.services.len());
        for (index, service) in spec.services.iter().enumerate() {
            services.push(build_service(resolved, estate, streams, index, service)?);
        }
        for (index, service) in spec.services.iter().enumerate() {
            services[index].fallback = service.fallback.as_ref().map(|f| match f {
                FallbackSpec::Service { name } => {
                    Fallback::Service(resolved.names().services.get(name).unwrap_or(service_id(index)))
                }
                FallbackSpec::EdgeCache { hit_ratio, latency } => Fallback::EdgeCache {
                    hit_ratio: *hit_ratio,
                    latency_ns: latency.as_nanos(),
                },
            });
        }
        // Payloads are metered per serving service, fallbacks included, once any demand has one.
        if spec
            .services
            .iter()
            .flat_map(|s| &s.demand)
            .any(|d| d.payload.is_some())
        {
            for service in &mut services {
                service.meter = Some(estate.add_meter(service.payer));
            }
        }
        let (deployment_ids, demand_ids) = number_streams_and_deployments(&mut services);
        Ok(Serving {
            services,
            requests: Vec::new(),
            free_requests: Vec::new(),
            in_flight_limit: usize::try_from(spec.limits.in_flight).unwrap_or(usize::MAX),
            candidates: Vec::new(),
            candidate_deployments: Vec::new(),
            network_rng: streams.stream("network/loss"),
            window: spec.metrics.window,
            deployment_ids,
            demand_ids,
            orphans: Vec::new(),
            finished: Vec::new(),
            kept_windows: None,
        })
    }
}

/// Stream names: one per stochastic source, so sources never disturb each other.
fn stream_name(kind: &str, service: &str, detail: &str) -> String {
    format!("{kind}/{service}/{detail}")
}

/// Gives every deployment and demand stream its run-wide id; returns the (service, index
/// within it) of each deployment id and of each stream id.
fn number_streams_and_deployments(services: &mut [ServiceState]) -> (Vec<Position>, Vec<Position>) {
    let (mut deployments, mut demands) = (Vec::new(), Vec::new());
    for (s, service) in services.iter_mut().enumerate() {
        for (d, deployment) in service.deployments.iter_mut().enumerate() {
            deployment.id = DeploymentId(deployments.len() as u32);
            deployments.push((service_id(s), d as u32));
        }
        for (d, demand) in service.demands.iter_mut().enumerate() {
            demand.id = DemandId(demands.len() as u32);
            demands.push((service_id(s), d as u32));
        }
    }
    (deployments, demands)
}

/// The deployments whose site lies within `residency` (all of them when it is empty).
pub(super) fn eligible_deployments(
    estate: &Estate,
    deployments: &[Deployment],
    residency: &[String],
) -> Vec<u32> {
    deployments
        .iter()
        .enumerate()
        .filter(|(_, d)| within_residency(&estate.sites[d.site.index()].jurisdiction, residency))
        .map(|(i, _)| i as u32)
        .collect()
}

fn build_service(
    resolved: &Resolved,
    estate: &mut Estate,
    streams: &RngStreams,
    index: usize,
    spec: &ServiceSpec,
) -> Result<ServiceState, ServingError> {
    let placement = |problem: String| ServingError::Placement {
        service: spec.name.clone(),
        problem,
    };
    let payer = Payer {
        class: WorkloadClass::Inference,
        workload: index as u32,
    };
    let time = ServiceTime::new(&spec.service_time).map_err(|e| placement(e.to_string()))?;
    // A batched replica takes `max_batch` sequences where a slot model takes its slots.
    let slots_per_replica = time
        .batched()
        .map_or(spec.model.slots_per_replica, |b| b.max_batch);
    let mut deployments: Vec<Deployment> = Vec::new();
    for replicas in &spec.replicas {
        let pool: PoolId = resolved
            .names()
            .pools
            .get(&replicas.pool)
            .ok_or_else(|| placement(format!("no pool {}", replicas.pool)))?;
        let at = match deployments.iter().position(|d| d.pool == pool) {
            Some(at) => at,
            None => {
                let mut deployment = new_deployment(estate, pool, replicas.tier);
                deployment.kv_capacity = kv_capacity(estate, pool, spec, &time).map_err(placement)?;
                deployments.push(deployment);
                deployments.len() - 1
            }
        };
        if replicas.keep_warm.is_some() {
            deployments[at].floor = replicas.keep_warm;
        }
        for _ in 0..replicas.count {
            let allocation = estate
                .allocate(
                    SimTime::ZERO,
                    pool,
                    replicas.tier,
                    spec.model.gpus_per_replica,
                    payer,
                )
                .map_err(|e| placement(e.to_string()))?;
            deployments[at].add_replica(allocation, true);
            deployments[at].slots_ready += slots_per_replica;
        }
        let initial = &mut deployments[at].initial;
        match initial.iter_mut().find(|(tier, _)| *tier == replicas.tier) {
            Some((_, count)) => *count += replicas.count,
            None => initial.push((replicas.tier, replicas.count)),
        }
    }
    let mut demands = Vec::with_capacity(spec.demand.len());
    for (d, demand) in spec.demand.iter().enumerate() {
        let process = resolved
            .arrivals(service_id(index), d)
            .cloned()
            .ok_or_else(|| placement(format!("demand from {} was not resolved", demand.origin)))?;
        let origin = resolved.names().sites.get(&demand.origin).unwrap_or(SiteId(0));
        demands.push(Demand {
            id: DemandId(0),
            origin,
            process,
            rng: streams.stream(&stream_name(
                "arrivals",
                &spec.name,
                &format!("{d}:{}", demand.origin),
            )),
            next: None,
            eligible: eligible_deployments(estate, &deployments, &demand.residency),
            residency: demand.residency.clone(),
            context_tokens: demand.context_tokens,
            generated_tokens: demand.generated_tokens,
            payload: demand.payload.unwrap_or_default(),
            site: None,
            epoch: 0,
            kept_route: None,
        });
    }
    let metrics_spec = &resolved.spec().metrics;
    let slo = spec.slo.as_ref().map(|s| (s.percentile, s.latency));
    Ok(ServiceState {
        name: spec.name.clone(),
        metrics: ServiceMetrics::new(
            demands.len(),
            metrics_spec.window.as_nanos(),
            metrics_spec.warmup.as_nanos(),
            slo.map_or(u64::MAX, |(_, bound)| bound.as_nanos()),
            matches!(
                spec.service_time,
                ServiceTimeSpec::Llm { .. } | ServiceTimeSpec::Batched(_)
            ),
        )
        .with_token_metrics(time.batched().is_some()),
        deployments,
        payer,
        meter: None,
        slo,
        time,
        time_rng: streams.stream(&stream_name("service_time", &spec.name, "")),
        demands,
        fallback: None,
        fallback_rng: streams.stream(&stream_name("fallback", &spec.name, "")),
        timeout_ns: spec.timeout.as_nanos(),
        queue_limit: spec.queue_limit,
        gpus_per_replica: spec.model.gpus_per_replica,
        slots_per_replica,
        model_bytes: spec.model.memory.bytes(),
        autoscale: spec.autoscaling.clone(),
        last_degrade_logged: None,
        degraded_by_policy: false,
        ready_version: 0,
        replicas_held: None,
        usage_marks: Vec::new(),
    })
}

fn new_deployment(estate: &Estate, pool: PoolId, tier: Tier) -> Deployment {
    let p = &estate.pools[pool.index()];
    Deployment {
        id: DeploymentId(0),
        site: p.site,
        pool,
        tier,
        initial: Vec::new(),
        owed: [0; 4],
        speed: estate.accelerators[p.accelerator.index()].speed(WorkloadClass::Inference),
        replicas: Vec::new(),
        next_replica_id: 0,
        slots_ready: 0,
        busy: 0,
        queue: VecDeque::new(),
        timeout_watch: None,
        busy_slot_ns: 0,
        busy_since: SimTime::ZERO,
        ready_slot_ns: 0,
        last_change: SimTime::ZERO,
        last_scale: SimTime::ZERO,
        scaled_busy_slot_ns: 0,
        scaled_ready_slot_ns: 0,
        floor: None,
        kv_capacity: u64::MAX,
        kv_reserved: 0,
        kv_reserved_ns: 0,
        kv_peak: 0,
        batching_marks: (0, 0, 0),
    }
}

/// The KV-cache tokens of one replica of a batched service in `pool`: what its GPUs' usable
/// memory holds beyond the weights (`model.memory`). Unbounded without a `kv_cache` (or for
/// other models); an error when the weights leave no room.
fn kv_capacity(estate: &Estate, pool: PoolId, spec: &ServiceSpec, time: &ServiceTime) -> Result<u64, String> {
    let Some(kv) = time.batched().and_then(|b| b.kv_cache) else {
        return Ok(u64::MAX);
    };
    let accelerator = &estate.accelerators[estate.pools[pool.index()].accelerator.index()];
    let memory = accelerator
        .memory_bytes
        .saturating_mul(u64::from(spec.model.gpus_per_replica));
    match kv.capacity_tokens(memory, spec.model.memory.bytes()) {
        0 => Err(format!(
            "in {}, the weights ({}) leave no room for the KV cache in {:.0}% of {} GPU(s) of {}",
            estate.pools[pool.index()].name,
            spec.model.memory,
            kv.memory_utilization * 100.0,
            spec.model.gpus_per_replica,
            accelerator.name
        )),
        tokens => Ok(tokens),
    }
}
