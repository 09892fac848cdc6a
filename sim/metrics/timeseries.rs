//! Figures over time: what is sampled during a run (GPUs in use and capacity per pool and tier
//! at the end of each metrics window, archived with the window's other figures in
//! [`super::archive`]), the cumulative cost curves read from the ledger when the run ends, and
//! the tidy series shape of `timeseries.csv`.

use crate::infra::estate::Estate;
use crate::infra::ledger::{CostCategory, Ledger};
use crate::kernel::SimTime;
use crate::vocab::Tier;

/// GPUs in use and capacity of every (pool, tier) now, into `out`: pool by pool, tiers in
/// [`Tier::ALL`] order, a tier the pool lacks as (0, 0). Sampled at the end of each metrics
/// window.
pub fn sample_capacity(estate: &Estate, out: &mut Vec<(u32, u32)>) {
    out.clear();
    for pool in &estate.pools {
        for tier in Tier::ALL {
            out.push(pool.tier(tier).map_or((0, 0), |t| (t.in_use, t.capacity)));
        }
    }
}

/// One tidy series: a metric for one key (a service, a pool and tier, a cost category) over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// What is measured, with its unit (`latency_p99_ms`, `gpus_in_use`, `cost_cumulative_usd`).
    pub metric: &'static str,
    /// What it is measured for (`chat`, `cloud-eu/H100/spot`, `compute`).
    pub key: String,
    /// (time in seconds at the end of the window, value), in time order.
    pub points: Vec<(f64, f64)>,
}

/// Cumulative cost at the end of each window, by a grouping of ledger entries: each entry is
/// spread evenly over the period it charges (a one-off charge counts at its instant).
pub fn cumulative_cost(
    ledger: &Ledger,
    window_ns: u64,
    windows: usize,
    group: impl Fn(&crate::infra::ledger::LedgerEntry) -> Option<usize>,
    groups: usize,
) -> std::io::Result<Vec<Vec<f64>>> {
    let mut per_window = vec![vec![0.0; windows]; groups];
    let window_ns = window_ns.max(1);
    ledger.for_each(|entry| {
        let Some(g) = group(entry) else { return };
        let (start, end) = (
            entry.start.as_nanos(),
            entry.end.as_nanos().max(entry.start.as_nanos()),
        );
        let first = (start / window_ns) as usize;
        if end == start {
            if let Some(slot) = per_window[g].get_mut(first) {
                *slot += entry.usd;
            }
            return;
        }
        let rate = entry.usd / (end - start) as f64;
        let last = (((end - 1) / window_ns) as usize).min(windows.saturating_sub(1));
        for w in first..=last {
            let from = start.max(w as u64 * window_ns);
            let to = end.min((w as u64 + 1) * window_ns);
            if let (Some(slot), true) = (per_window[g].get_mut(w), to > from) {
                *slot += rate * (to - from) as f64;
            }
        }
    })?;
    for series in &mut per_window {
        let mut sum = 0.0;
        for value in series.iter_mut() {
            sum += *value;
            *value = sum;
        }
    }
    Ok(per_window)
}

/// Cumulative cost at the end of each metrics window, by category (in [`CostCategory::ALL`]
/// order) and by tier (in [`Tier::ALL`] order; charges without a tier count in neither): nine
/// numbers a window, read from the ledger once when the run ends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostCurves {
    /// Per category, per window.
    pub by_category: Vec<Vec<f64>>,
    /// Per tier, per window.
    pub by_tier: Vec<Vec<f64>>,
}

/// The cost curves of `ledger` over `windows` windows of `window_ns`.
pub fn cost_curves(ledger: &Ledger, window_ns: u64, windows: usize) -> std::io::Result<CostCurves> {
    Ok(CostCurves {
        by_category: cumulative_cost(
            ledger,
            window_ns,
            windows,
            |e| Some(category_index(e.category)),
            CostCategory::ALL.len(),
        )?,
        by_tier: cumulative_cost(
            ledger,
            window_ns,
            windows,
            |e| e.tier.map(|t| t as usize),
            Tier::ALL.len(),
        )?,
    })
}

/// The end of window `index` in seconds.
pub fn window_end_s(window_ns: u64, index: usize) -> f64 {
    SimTime::from_nanos(window_ns.saturating_mul(index as u64 + 1)).as_secs_f64()
}

/// The cost categories, in output order, with the group index of each.
pub fn category_index(category: CostCategory) -> usize {
    CostCategory::ALL.iter().position(|&c| c == category).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::ledger::LedgerEntry;

    fn entry(start_s: u64, end_s: u64, usd: f64) -> LedgerEntry {
        let at = |s: u64| SimTime::from_nanos(s * 1_000_000_000);
        LedgerEntry::compute(at(start_s), at(end_s), usd)
    }

    #[test]
    fn cost_is_spread_over_the_period_it_charges_and_accumulated() {
        let mut ledger = Ledger::default();
        ledger.record(entry(0, 120, 12.0)); // 6 per 60 s window, windows 0 and 1
        ledger.record(entry(90, 90, 5.0)); // a one-off in window 1
        ledger.record(entry(150, 210, 3.0)); // half in window 2, half in window 3
        let cost = cumulative_cost(
            &ledger,
            60_000_000_000,
            4,
            |e| Some(category_index(e.category)),
            5,
        )
        .unwrap();
        let compute = &cost[category_index(CostCategory::Compute)];
        for (got, want) in compute.iter().zip([6.0, 17.0, 18.5, 20.0]) {
            assert!((got - want).abs() < 1e-9, "{compute:?}");
        }
        assert_eq!(cost[category_index(CostCategory::Egress)], vec![0.0; 4]);
    }
}
