//! The figures a study records of each run: the columns of `runs.csv` after the run's identity.
//!
//! The columns follow from the base scenario alone (its services, incidents, job classes, pools
//! and sites), so every shard of a study writes the same header without running anything:
//!
//! | column | what |
//! |---|---|
//! | `cost_usd` | total cost |
//! | `cost_usd.<category>` | compute, idle_reserved, egress, storage, interconnect |
//! | `transfer_share` | share of the total spent moving data (egress and interconnect) |
//! | `cost_usd.tier.<tier>`, `cost_usd.site.<site>`, `cost_usd.class.<class>` | cost by tier, site and workload class |
//! | `requests.<service>`, `requests_failed.<service>` | requests arrived, and failed |
//! | `p50_ms.<service>`, `p95_ms.<service>`, `p99_ms.<service>` | end-to-end latency quantiles |
//! | `slo_attainment.<service>` | share of requests within the SLO |
//! | `cost_per_1k_requests_usd.<service>` | the service's GPU cost per thousand requests answered |
//! | `utilization.<service>` | mean share of ready slots busy |
//! | `cost_per_1k_tokens_usd.<service>`, `tokens_per_s.<service>`, `p99_ttft_ms.<service>`, `p99_tpot_ms.<service>` | batched services only: cost per thousand generated tokens, output throughput, and the p99 time to first token and per output token |
//! | `gpu_utilization.<pool>` | mean share of the pool's GPUs in use |
//! | `goodput.<class>`, `jobs_completed.<class>` | per job class |
//! | `time_to_recover_s.<incident>`, `requests_failed.incident.<incident>`, `cost_usd.incident.<incident>` | per incident: recovery, requests failed and cost while it lasted |

use std::collections::BTreeSet;

use crate::infra::ledger::CostCategory;
use crate::infra::spec::pool_name;
use crate::metrics::record::RunOutcome;
use crate::scenario::ScenarioSpec;
use crate::vocab::Tier;
use crate::workload::service::ServiceTimeSpec;

/// The metric columns of a study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    services: Vec<String>,
    /// The services on the batched model, which have token figures.
    batched: Vec<String>,
    classes: Vec<&'static str>,
    incidents: Vec<String>,
    pools: Vec<String>,
    sites: Vec<String>,
}

impl Columns {
    /// The columns of studies of `spec`.
    pub fn of(spec: &ScenarioSpec) -> Self {
        let classes: BTreeSet<&'static str> = spec.jobs.iter().map(|j| j.class.as_str()).collect();
        Columns {
            services: spec.services.iter().map(|s| s.name.clone()).collect(),
            batched: spec
                .services
                .iter()
                .filter(|s| matches!(s.service_time, ServiceTimeSpec::Batched(_)))
                .map(|s| s.name.clone())
                .collect(),
            classes: classes.into_iter().collect(),
            incidents: spec.incidents.iter().map(|i| i.name.clone()).collect(),
            pools: spec.pools.iter().map(pool_name).collect(),
            sites: spec.sites.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// How many columns.
    pub fn len(&self) -> usize {
        self.names().len()
    }

    /// Whether there are none (never: total cost is always a column).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The column names, in order.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec!["cost_usd".to_string()];
        names.extend(
            CostCategory::ALL
                .iter()
                .map(|c| format!("cost_usd.{}", c.as_str())),
        );
        names.push("transfer_share".to_string());
        names.extend(Tier::ALL.iter().map(|t| format!("cost_usd.tier.{}", t.as_str())));
        names.extend(self.sites.iter().map(|s| format!("cost_usd.site.{s}")));
        names.extend(self.classes.iter().map(|c| format!("cost_usd.class.{c}")));
        for s in &self.services {
            for figure in SERVICE_FIGURES {
                names.push(format!("{figure}.{s}"));
            }
        }
        for s in &self.batched {
            for figure in TOKEN_FIGURES {
                names.push(format!("{figure}.{s}"));
            }
        }
        names.extend(self.pools.iter().map(|p| format!("gpu_utilization.{p}")));
        for c in &self.classes {
            names.push(format!("goodput.{c}"));
            names.push(format!("jobs_completed.{c}"));
        }
        for i in &self.incidents {
            names.push(format!("time_to_recover_s.{i}"));
            names.push(format!("requests_failed.incident.{i}"));
            names.push(format!("cost_usd.incident.{i}"));
        }
        names
    }

    /// The figures of one run, in column order (`None`: not measured, such as the p99 of a
    /// service that served nothing or the recovery of an incident that did not recover).
    pub fn row(&self, outcome: &RunOutcome) -> Vec<Option<f64>> {
        let s = &outcome.summary;
        let cost = &s.cost;
        let mut row = vec![Some(cost.total_usd)];
        let or_zero = |v: Option<&f64>| Some(v.copied().unwrap_or(0.0));
        row.extend(
            CostCategory::ALL
                .iter()
                .map(|c| or_zero(cost.by_category.get(c.as_str()))),
        );
        row.push(cost.transfer_share);
        row.extend(Tier::ALL.iter().map(|t| or_zero(cost.by_tier.get(t.as_str()))));
        row.extend(self.sites.iter().map(|site| or_zero(cost.by_site.get(site))));
        row.extend(self.classes.iter().map(|c| or_zero(cost.by_class.get(c))));
        for name in &self.services {
            match s.services.get(name) {
                Some(service) => {
                    let e2e = service.latency_ms.get("e2e");
                    row.extend([
                        Some(service.requests.arrived as f64),
                        Some(service.requests.failed as f64),
                        e2e.and_then(|l| l.p50),
                        e2e.and_then(|l| l.p95),
                        e2e.and_then(|l| l.p99),
                        service.slo.as_ref().and_then(|slo| slo.attainment),
                        service.cost_per_1k_requests_usd,
                        service.utilization,
                    ]);
                }
                None => row.extend([None; SERVICE_FIGURES.len()]),
            }
        }
        for name in &self.batched {
            let service = s.services.get(name);
            let tokens = service.and_then(|service| service.tokens);
            let p99 = |part: &str| service.and_then(|s| s.latency_ms.get(part)).and_then(|l| l.p99);
            row.extend([
                tokens.and_then(|t| t.cost_per_1k_usd),
                tokens.map(|t| t.per_s),
                p99("ttft"),
                p99("tpot"),
            ]);
        }
        row.extend(pool_utilizations(outcome, self.pools.len()));
        for c in &self.classes {
            let jobs = s.jobs.get(c);
            row.push(jobs.and_then(|j| j.goodput));
            row.push(jobs.map(|j| j.completed as f64));
        }
        for name in &self.incidents {
            let incident = s.incidents.iter().find(|i| &i.name == name);
            row.push(incident.and_then(|i| i.time_to_recover_s));
            row.push(incident.map(|i| i.requests_failed as f64));
            row.push(incident.map(|i| i.cost_during_usd));
        }
        row
    }
}

const SERVICE_FIGURES: [&str; 8] = [
    "requests",
    "requests_failed",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "slo_attainment",
    "cost_per_1k_requests_usd",
    "utilization",
];

const TOKEN_FIGURES: [&str; 4] = [
    "cost_per_1k_tokens_usd",
    "tokens_per_s",
    "p99_ttft_ms",
    "p99_tpot_ms",
];

/// Each of the first `pools` pools' GPUs in use over its capacity, both summed over tiers and
/// over the metrics windows (`None`: the pool never had capacity, or its samples could not be
/// read back).
fn pool_utilizations(outcome: &RunOutcome, pools: usize) -> Vec<Option<f64>> {
    let mut sums = vec![(0u64, 0u64); pools];
    let read = outcome.record.windows.for_each(|_, row| {
        if !row.closed {
            return;
        }
        for (pool, (used, capacity)) in sums.iter_mut().enumerate() {
            for tier in Tier::ALL {
                let (in_use, cap) = row.capacity_of(pool, tier);
                *used += u64::from(in_use);
                *capacity += u64::from(cap);
            }
        }
    });
    sums.into_iter()
        .map(|(used, capacity)| (read.is_ok() && capacity > 0).then(|| used as f64 / capacity as f64))
        .collect()
}
