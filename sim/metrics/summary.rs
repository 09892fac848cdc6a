//! The run's headline figures, serialized as `summary.json`.
//!
//! Everything here is a function of the scenario, the seed and the program version: no wall
//! clock, no host names, no map iteration order. Wall-clock figures go to `run.json` instead.

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::LatencyHistogram;
use super::service::{FailReason, ServiceMetrics};
use crate::infra::estate::Estate;
use crate::infra::ledger::TransferCost;
use crate::kernel::{KernelStats, SimDuration, StopReason};
use crate::vocab::Tier;

/// Version of the `summary.json` layout. Bumped whenever a key is renamed or removed or its
/// meaning changes; adding keys does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Layout version of this document.
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The master seed of the run's random streams.
    pub seed: u64,
    /// The random generator and seed derivation.
    pub rng: &'static str,
    /// The placement and routing policy.
    pub policy: String,
    /// The simulated horizon in seconds.
    pub horizon_s: f64,
    /// Simulated time when the run stopped, in seconds.
    pub end_time_s: f64,
    /// Why the run stopped.
    pub stop_reason: StopReason,
    /// The kernel's counters.
    pub kernel: KernelStats,
    /// The estate's size.
    pub estate: EstateSummary,
    /// What the run cost.
    pub cost: CostSummary,
    /// Inference services by name.
    pub services: BTreeMap<String, ServiceSummary>,
    /// Jobs by class (classes with submitted jobs only).
    pub jobs: BTreeMap<&'static str, super::job::JobClassSummary>,
    /// Recovery figures of each scripted incident, in scenario order.
    pub incidents: Vec<super::recovery::IncidentSummary>,
    /// The run's own consistency, as checked.
    pub invariants: InvariantSummary,
}

/// Which invariants a run checked, when, and that they held: a run where one fails ends in an
/// error and writes no summary, so each is `true` here.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct InvariantSummary {
    /// When they were checked: at every allocation, release, request end and charge, and at
    /// the end (builds with debug assertions, as the tests run); or at the end of the run only.
    pub checked: &'static str,
    /// The ledger's running total equals the sum of its charges.
    pub ledger_adds_up: bool,
    /// Every service ended no more requests than arrived, each request once.
    pub requests_end_once: bool,
    /// No pool tier held more GPUs than it had.
    pub capacity_holds: bool,
}

impl InvariantSummary {
    /// The invariants of a run that ended without a violation.
    pub fn held() -> Self {
        InvariantSummary {
            checked: if cfg!(debug_assertions) {
                "every_event_and_end"
            } else {
                "end_of_run"
            },
            ledger_adds_up: true,
            requests_end_once: true,
            capacity_holds: true,
        }
    }
}

/// The size of the estate.
#[derive(Debug, Clone, Serialize)]
pub struct EstateSummary {
    /// Number of sites.
    pub sites: usize,
    /// Number of pools.
    pub pools: usize,
    /// Number of links.
    pub links: usize,
    /// Number of datasets.
    pub datasets: usize,
    /// GPUs per capacity tier (reserved, owned, on_demand, spot) at the start.
    pub gpus: BTreeMap<&'static str, u64>,
}

impl EstateSummary {
    /// Counts the estate.
    pub fn of(estate: &Estate) -> Self {
        let per_tier = estate.gpus_per_tier();
        EstateSummary {
            sites: estate.sites.len(),
            pools: estate.pools.len(),
            links: estate.link_names.len(),
            datasets: estate.datasets.len(),
            gpus: Tier::ALL
                .iter()
                .map(|t| (t.as_str(), per_tier[*t as usize]))
                .collect(),
        }
    }
}

/// Cost totals, all in USD, summed from the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct CostSummary {
    /// Everything.
    pub total_usd: f64,
    /// Per category: compute, idle_reserved, egress, storage, interconnect.
    pub by_category: BTreeMap<&'static str, f64>,
    /// Per capacity tier.
    pub by_tier: BTreeMap<&'static str, f64>,
    /// Per site, by name.
    pub by_site: BTreeMap<String, f64>,
    /// Per workload class.
    pub by_class: BTreeMap<&'static str, f64>,
    /// Share of the total spent moving data (egress and interconnect); `null` when nothing
    /// was spent.
    pub transfer_share: Option<f64>,
}

impl CostSummary {
    /// Sums the estate's ledger.
    pub fn of(estate: &Estate) -> Self {
        let ledger = &estate.ledger;
        CostSummary {
            total_usd: ledger.total(),
            by_category: ledger
                .by_category()
                .into_iter()
                .map(|(c, v)| (c.as_str(), v))
                .collect(),
            by_tier: ledger.by_tier().iter().map(|(t, v)| (t.as_str(), *v)).collect(),
            by_site: ledger
                .by_site()
                .iter()
                .map(|(s, v)| (estate.sites[s.index()].name.clone(), *v))
                .collect(),
            by_class: ledger.by_class().iter().map(|(c, v)| (c.as_str(), *v)).collect(),
            transfer_share: ledger.transfer_share(),
        }
    }
}

/// Latency statistics in milliseconds (null when nothing was recorded).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencySummary {
    /// Mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
}

impl LatencySummary {
    /// Reads a histogram of nanoseconds.
    pub fn of(histogram: &LatencyHistogram) -> Self {
        let ms = |q: f64| histogram.quantile(q).map(|ns| ns as f64 / 1e6);
        LatencySummary {
            mean: histogram.mean().map(|ns| ns / 1e6),
            p50: ms(0.5),
            p90: ms(0.9),
            p95: ms(0.95),
            p99: ms(0.99),
            p999: ms(0.999),
        }
    }
}

/// How a service's requests ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RequestCounts {
    /// Arrived.
    pub arrived: u64,
    /// Served by the service.
    pub served: u64,
    /// Answered by the fallback.
    pub degraded: u64,
    /// Failed.
    pub failed: u64,
    /// Still waiting or in service at the end.
    pub in_flight: u64,
}

/// The service's latency objective and how well it held.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloSummary {
    /// The bound in ms.
    pub target_ms: f64,
    /// The percentile it applies to, e.g. 99.0.
    pub percentile: f64,
    /// Share of requests (after warm-up) that ended within the bound; failures count as misses.
    pub attainment: Option<f64>,
    /// The measured latency at the SLO's percentile, in ms.
    pub measured_ms: Option<f64>,
    /// Share of metric windows with requests in which the SLO held.
    pub windows_met: Option<f64>,
}

/// The figures of one inference service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceSummary {
    /// How requests ended.
    pub requests: RequestCounts,
    /// Failed requests by reason.
    pub failed_by_reason: BTreeMap<&'static str, u64>,
    /// Latency components: e2e, ttft, queue, network, service; for batched services also tpot
    /// (time per output token after the first).
    pub latency_ms: BTreeMap<&'static str, LatencySummary>,
    /// End-to-end latency per origin site.
    pub latency_ms_by_origin: BTreeMap<String, LatencySummary>,
    /// The SLO, if the service has one.
    pub slo: Option<SloSummary>,
    /// What the service cost: its GPUs and the bytes its requests and responses moved.
    pub cost_usd: f64,
    /// The part of it spent moving payloads between sites.
    pub transfer: TransferCost,
    /// Cost per thousand requests served or degraded.
    pub cost_per_1k_requests_usd: Option<f64>,
    /// Mean share of ready slots that were busy, over all deployments.
    pub utilization: Option<f64>,
    /// P(wait > 0): the share of requests served after warm-up that found every slot busy and
    /// waited in a queue (Erlang C's wait probability for an M/M/c service). `None` before
    /// any such request was served.
    pub wait_probability: Option<f64>,
    /// Replicas held at the ends of the metrics windows.
    pub replicas: ReplicaSummary,
    /// Tokens generated and the throughput they make, for batched services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSummary>,
}

/// The tokens a batched service generated.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct TokenSummary {
    /// Tokens of the requests it served, over the whole run.
    pub generated: u64,
    /// Generated tokens per second of simulated time.
    pub per_s: f64,
    /// The service's cost per thousand generated tokens (`None`: it generated none).
    pub cost_per_1k_usd: Option<f64>,
}

/// How many replicas a service held over the run, read at the end of each metrics window.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct ReplicaSummary {
    /// Fewest.
    pub min: u32,
    /// Most.
    pub max: u32,
    /// At the end of the last full window.
    pub last: u32,
}

impl ReplicaSummary {
    /// Summarizes per-window replica counts (zeros when there was no full window).
    pub fn of(counts: impl Iterator<Item = u32>) -> Self {
        counts
            .fold(None, |acc: Option<ReplicaSummary>, n| Some(Self::with(acc, n)))
            .unwrap_or_default()
    }

    /// The summary `so_far` (none before the first window) with one more window's count.
    pub fn with(so_far: Option<ReplicaSummary>, n: u32) -> Self {
        match so_far {
            None => ReplicaSummary {
                min: n,
                max: n,
                last: n,
            },
            Some(r) => ReplicaSummary {
                min: r.min.min(n),
                max: r.max.max(n),
                last: n,
            },
        }
    }
}

impl ServiceSummary {
    /// Summarizes a service's metrics; `origins` names its demand streams' origins in order.
    pub fn of(
        metrics: &ServiceMetrics,
        origins: &[String],
        slo: Option<(f64, SimDuration)>,
        cost_usd: f64,
        utilization: Option<f64>,
    ) -> Self {
        let answered = metrics.served + metrics.degraded;
        ServiceSummary {
            requests: RequestCounts {
                arrived: metrics.arrived,
                served: metrics.served,
                degraded: metrics.degraded,
                failed: metrics.failed_total(),
                in_flight: metrics.in_flight(),
            },
            failed_by_reason: FailReason::ALL
                .iter()
                .map(|r| (r.as_str(), metrics.failed[*r as usize]))
                .collect(),
            latency_ms: [
                ("e2e", metrics.end_to_end()),
                ("ttft", metrics.first_token()),
                ("queue", metrics.queue()),
                ("network", metrics.network()),
                ("service", metrics.service()),
            ]
            .into_iter()
            .chain(
                metrics
                    .generated_tokens
                    .map(|_| ("tpot", &metrics.per_output_token)),
            )
            .map(|(k, h)| (k, LatencySummary::of(h)))
            .collect(),
            latency_ms_by_origin: origins
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), LatencySummary::of(metrics.origin(i))))
                .collect(),
            slo: slo.map(|(percentile, bound)| slo_summary(metrics, percentile, bound)),
            cost_usd,
            transfer: TransferCost::default(),
            cost_per_1k_requests_usd: (answered > 0).then(|| cost_usd / answered as f64 * 1_000.0),
            utilization,
            wait_probability: wait_probability(metrics.queue()),
            replicas: ReplicaSummary::default(),
            tokens: None,
        }
    }
}

/// The share of queueing delays above zero. Exact: the histogram keeps values below 128 ns in
/// buckets of their own, so zero is counted apart from every positive wait.
fn wait_probability(queue: &LatencyHistogram) -> Option<f64> {
    (!queue.is_empty()).then(|| 1.0 - queue.fraction_at_most(0))
}

fn slo_summary(metrics: &ServiceMetrics, percentile: f64, bound: SimDuration) -> SloSummary {
    let share = percentile / 100.0;
    SloSummary {
        target_ms: bound.as_nanos() as f64 / 1e6,
        percentile,
        attainment: (metrics.ended_after_warmup > 0)
            .then(|| metrics.within_slo as f64 / metrics.ended_after_warmup as f64),
        measured_ms: metrics.end_to_end().quantile(share).map(|ns| ns as f64 / 1e6),
        windows_met: metrics.windows_met(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::service::LatencyParts;

    #[test]
    fn wait_probability_counts_every_positive_wait_and_only_after_warm_up() {
        let mut metrics = ServiceMetrics::new(1, 1_000, 100, u64::MAX, false);
        let waits = [0, 1, 0, 127, 128, 5_000_000, 0, 0];
        for (i, &queue) in waits.iter().enumerate() {
            let parts = LatencyParts {
                queue,
                ..LatencyParts::default()
            };
            metrics.arrival(100 + i as u64);
            metrics.served(200 + i as u64, 100 + i as u64, None, &parts);
        }
        // Before warm-up: a wait that must not count.
        let early = LatencyParts {
            queue: 9,
            ..LatencyParts::default()
        };
        metrics.arrival(0);
        metrics.served(50, 0, None, &early);
        metrics.settle();
        let summary = ServiceSummary::of(&metrics, &[], None, 0.0, None);
        assert_eq!(summary.wait_probability, Some(4.0 / 8.0));
        let empty = ServiceMetrics::new(1, 1_000, 0, u64::MAX, false);
        assert_eq!(
            ServiceSummary::of(&empty, &[], None, 0.0, None).wait_probability,
            None
        );
    }
}
