//! The figures of a finished run over time, as tidy series: `timeseries.csv` (time_s, metric,
//! key, value) and the data behind the charts. `cost.csv` is the ledger, one row per charge.

use crate::infra::ledger::CostCategory;
use crate::metrics::record::{BatchWindow, RunOutcome};
use crate::metrics::timeseries::{Series, cost_curves, window_end_s};
use crate::vocab::Tier;

/// The header of `timeseries.csv`.
pub const TIMESERIES_CSV_HEADER: [&str; 4] = ["time_s", "metric", "key", "value"];

/// The header of `cost.csv`.
pub const COST_CSV_HEADER: [&str; 10] = [
    "start_s", "end_s", "category", "site", "pool", "tier", "class", "workload", "quantity", "usd",
];

/// Every series of a run, services first (latency quantiles and request counts per window),
/// then GPUs per pool and tier, cumulative cost by category and by tier, and the backlog.
pub fn collect(outcome: &RunOutcome) -> Vec<Series> {
    let record = &outcome.record;
    let window_ns = record.window.as_nanos();
    let windows = record.windows();
    let at = |w: usize| window_end_s(window_ns, w);
    let mut out = Vec::new();
    for service in &record.services {
        let stats = &service.windows;
        let quantile = |metric, q| Series {
            metric,
            key: service.name.clone(),
            points: stats
                .iter()
                .enumerate()
                .filter_map(|(w, s)| s.end_to_end.quantile(q).map(|ns| (at(w), ns as f64 / 1e6)))
                .collect(),
        };
        out.push(quantile("latency_p50_ms", 0.50));
        out.push(quantile("latency_p95_ms", 0.95));
        out.push(quantile("latency_p99_ms", 0.99));
        let count = |metric, read: fn(&crate::metrics::service::WindowStats) -> u64| Series {
            metric,
            key: service.name.clone(),
            points: stats
                .iter()
                .enumerate()
                .map(|(w, s)| (at(w), read(s) as f64))
                .collect(),
        };
        out.push(count("requests_arrived", |s| s.arrived));
        out.push(count("requests_served", |s| s.served));
        out.push(count("requests_degraded", |s| s.degraded));
        out.push(count("requests_failed", |s| s.failed));
        for (pool, windows) in &service.batching {
            let key = format!("{}/{}", service.name, record.estate.pool(*pool));
            let per_window = |metric, read: fn(&BatchWindow) -> Option<f64>| Series {
                metric,
                key: key.clone(),
                points: windows
                    .iter()
                    .enumerate()
                    .filter_map(|(w, b)| read(b).map(|v| (at(w), v)))
                    .collect(),
            };
            out.push(per_window("batch_size_mean", |b| b.batch_mean));
            out.push(per_window("kv_cache_occupancy", |b| b.kv_occupancy));
        }
    }
    let samples = &record.capacity;
    for (p, pool) in record.estate.pools.iter().enumerate() {
        for &tier in &pool.tiers {
            let key = format!("{}/{}", pool.name, tier.as_str());
            let series = |metric, read: fn((u32, u32)) -> u32| Series {
                metric,
                key: key.clone(),
                points: (0..samples.windows())
                    .map(|w| (at(w), f64::from(read(samples.at(w, p, tier)))))
                    .collect(),
            };
            out.push(series("gpus_in_use", |(in_use, _)| in_use));
            out.push(series("gpus_capacity", |(_, capacity)| capacity));
        }
    }
    let curves = cost_curves(&record.ledger, window_ns, windows);
    for (category, values) in CostCategory::ALL.iter().zip(curves.by_category) {
        out.push(cost_series(
            "cost_cumulative_usd",
            category.as_str().to_string(),
            values,
            at,
        ));
    }
    for (tier, values) in Tier::ALL.iter().zip(curves.by_tier) {
        out.push(cost_series(
            "cost_cumulative_usd_by_tier",
            tier.as_str().to_string(),
            values,
            at,
        ));
    }
    out.push(Series {
        metric: "backlog",
        key: String::new(),
        points: record
            .backlog
            .iter()
            .enumerate()
            .map(|(w, &b)| (at(w), b as f64))
            .collect(),
    });
    out
}

fn cost_series(metric: &'static str, key: String, values: Vec<f64>, at: impl Fn(usize) -> f64) -> Series {
    Series {
        metric,
        key,
        points: values.into_iter().enumerate().map(|(w, v)| (at(w), v)).collect(),
    }
}

/// The bytes of `timeseries.csv`: one row per (series, point), series after series.
pub fn timeseries_csv(series: &[Series]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(TIMESERIES_CSV_HEADER)?;
    for s in series {
        for (t, value) in &s.points {
            writer.write_record([t.to_string().as_str(), s.metric, &s.key, &value.to_string()])?;
        }
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The bytes of `cost.csv`: every charge of the ledger, in the order charged.
pub fn cost_csv(outcome: &RunOutcome) -> Result<Vec<u8>, csv::Error> {
    let record = &outcome.record;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COST_CSV_HEADER)?;
    for e in record.ledger.entries() {
        let site = e.site.map_or("", |s| record.estate.site(s));
        let pool = e.pool.map_or("", |p| record.estate.pool(p));
        writer.write_record([
            e.start.as_secs_f64().to_string().as_str(),
            &e.end.as_secs_f64().to_string(),
            e.category.as_str(),
            site,
            pool,
            e.tier.map_or("", Tier::as_str),
            e.payer.map_or("", |p| p.class.as_str()),
            &e.payer.map_or(String::new(), |p| p.workload.to_string()),
            &e.quantity.to_string(),
            &e.usd.to_string(),
        ])?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
