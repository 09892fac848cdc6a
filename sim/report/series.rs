//! The figures of a finished run over time, as tidy series: `timeseries.csv` (time_s, metric,
//! key, value; window by window, streamed from the run's window archive) and `cost.csv` (the
//! ledger, one row per charge, streamed from its spill file).

use std::collections::BTreeMap;

use crate::infra::ledger::CostCategory;
use crate::metrics::record::RunOutcome;
use crate::metrics::timeseries::{CostRow, Series, window_end_s};
use crate::output::parquet::ColumnType;
use crate::vocab::Tier;

/// The header of `timeseries.csv`.
pub const TIMESERIES_CSV_HEADER: [&str; 4] = ["time_s", "metric", "key", "value"];

/// The column types of `timeseries.parquet`.
pub const TIMESERIES_PARQUET_TYPES: [ColumnType; 4] = [
    ColumnType::Float,
    ColumnType::Text,
    ColumnType::Text,
    ColumnType::Float,
];

/// The column types of `cost.parquet`.
pub const COST_PARQUET_TYPES: [ColumnType; 10] = [
    ColumnType::Float,
    ColumnType::Float,
    ColumnType::Text,
    ColumnType::Text,
    ColumnType::Text,
    ColumnType::Text,
    ColumnType::Text,
    ColumnType::Text,
    ColumnType::Float,
    ColumnType::Float,
];

/// The header of `cost.csv`.
pub const COST_CSV_HEADER: [&str; 10] = [
    "start_s", "end_s", "category", "site", "pool", "tier", "class", "workload", "quantity", "usd",
];

/// Calls `visit` with every point of every series of a run, window by window in time order:
/// per service its latency quantiles and request counts (and, batched, batch size and KV-cache
/// occupancy per deployment), then GPUs per pool and tier, cumulative cost by category and by
/// tier, and the backlog. The windows are read from the run's archive as they are visited, so
/// memory does not grow with the horizon.
pub fn for_each_point(
    outcome: &RunOutcome,
    mut visit: impl FnMut(f64, &'static str, &str, f64),
) -> std::io::Result<()> {
    let record = &outcome.record;
    let window_ns = record.window.as_nanos();
    let batch_keys: Vec<Vec<String>> = record
        .services
        .iter()
        .map(|s| {
            let pools = s.batched_pools.iter();
            pools
                .map(|&p| format!("{}/{}", s.name, record.estate.pool(p)))
                .collect()
        })
        .collect();
    let tier_keys: Vec<Vec<(Tier, String)>> = record
        .estate
        .pools
        .iter()
        .map(|pool| {
            let tiers = pool.tiers.iter();
            tiers
                .map(|&t| (t, format!("{}/{}", pool.name, t.as_str())))
                .collect()
        })
        .collect();
    // The cost curves have a row per closed window, and closed windows come first: read them
    // in step with the archive.
    let mut costs = record.cost.rows()?;
    let mut cost_error = None;
    record.windows.for_each(|k, row| {
        let at = window_end_s(window_ns, k as usize);
        for ((service, window), keys) in record.services.iter().zip(&row.services).zip(&batch_keys) {
            let name = service.name.as_str();
            for (metric, q) in LATENCY_METRICS.iter().zip(window.latency_ns) {
                if let Some(ns) = q {
                    visit(at, metric, name, ns as f64 / 1e6);
                }
            }
            visit(at, "requests_arrived", name, window.arrived as f64);
            visit(at, "requests_served", name, window.served as f64);
            visit(at, "requests_degraded", name, window.degraded as f64);
            visit(at, "requests_failed", name, window.failed as f64);
            for (key, batch) in keys.iter().zip(&window.batching) {
                if let Some(mean) = batch.batch_mean {
                    visit(at, "batch_size_mean", key, mean);
                }
                if let Some(occupancy) = batch.kv_occupancy {
                    visit(at, "kv_cache_occupancy", key, occupancy);
                }
            }
        }
        if !row.closed {
            return;
        }
        for (p, keys) in tier_keys.iter().enumerate() {
            for (tier, key) in keys {
                let (in_use, capacity) = row.capacity_of(p, *tier);
                visit(at, "gpus_in_use", key, f64::from(in_use));
                visit(at, "gpus_capacity", key, f64::from(capacity));
            }
        }
        let cost = match costs.next_row() {
            Some(Ok(cost)) => cost,
            Some(Err(e)) => {
                cost_error.get_or_insert(e);
                CostRow::default()
            }
            None => CostRow::default(),
        };
        for (category, value) in CostCategory::ALL.iter().zip(cost.by_category) {
            visit(at, "cost_cumulative_usd", category.as_str(), value);
        }
        for (tier, value) in Tier::ALL.iter().zip(cost.by_tier) {
            visit(at, "cost_cumulative_usd_by_tier", tier.as_str(), value);
        }
        visit(at, "backlog", "", row.backlog as f64);
    })?;
    cost_error.map_or(Ok(()), Err)
}

/// The metric names of the latency quantiles a window keeps, in the order of
/// [`crate::metrics::archive::QUANTILES`].
const LATENCY_METRICS: [&str; 3] = ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"];

/// Every series of a run, gathered from [`for_each_point`] in the order each first appears.
/// It holds every point in memory: for looking at small runs, not for writing files.
pub fn collect(outcome: &RunOutcome) -> std::io::Result<Vec<Series>> {
    let mut series: Vec<Series> = Vec::new();
    let mut index: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    for_each_point(outcome, |t, metric, key, value| {
        let at = *index.entry((metric, key.to_string())).or_insert_with(|| {
            series.push(Series {
                metric,
                key: key.to_string(),
                points: Vec::new(),
            });
            series.len() - 1
        });
        series[at].points.push((t, value));
    })?;
    Ok(series)
}

/// Writes `timeseries.csv` to `out`: one row per point, window by window in time order (see
/// [`for_each_point`]).
pub fn write_timeseries_csv(outcome: &RunOutcome, out: impl std::io::Write) -> Result<(), csv::Error> {
    write_csv(out, &TIMESERIES_CSV_HEADER, |emit| {
        for_each_point(outcome, |t, metric, key, value| {
            emit(&[t.to_string().as_str(), metric, key, &value.to_string()]);
        })
    })
}

/// Writes `cost.csv` to `out`: every charge of the ledger, in the order charged, read back from
/// the ledger's spill file as it is written, so the table never sits in memory whole.
pub fn write_cost_csv(outcome: &RunOutcome, out: impl std::io::Write) -> Result<(), csv::Error> {
    let record = &outcome.record;
    write_csv(out, &COST_CSV_HEADER, |emit| {
        record.ledger.for_each(|e| {
            let site = e.site.map_or("", |s| record.estate.site(s));
            let pool = e.pool.map_or("", |p| record.estate.pool(p));
            emit(&[
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
            ]);
        })
    })
}

/// Writes a CSV of `header` and the rows `rows` hands to its `emit` to `out`. The rows come
/// from a visitor that cannot stop early, so after the first write error the rest are dropped
/// and that error is returned.
pub(super) fn write_csv(
    out: impl std::io::Write,
    header: &[&str],
    rows: impl FnOnce(&mut dyn FnMut(&[&str])) -> std::io::Result<()>,
) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(header)?;
    let mut failed = None;
    rows(&mut |row| {
        if failed.is_none() {
            failed = writer.write_record(row).err();
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    writer.flush()?;
    Ok(())
}
