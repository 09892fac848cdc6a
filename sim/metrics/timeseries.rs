//! Figures over time: what is sampled during a run (GPUs in use and capacity per pool and tier
//! at the end of each metrics window) and the tidy series built from a finished run for
//! `timeseries.csv` and the charts: latency quantiles and request counts per service and window,
//! GPUs per pool and tier, cumulative cost by category and by tier, and the backlog.

use crate::infra::estate::Estate;
use crate::infra::ledger::{CostCategory, Ledger};
use crate::kernel::SimTime;
use crate::vocab::Tier;

/// GPUs in use and capacity of every (pool, tier), sampled at the end of each metrics window.
/// Memory: two numbers per pool and tier per window.
#[derive(Debug, Clone, Default)]
pub struct CapacitySamples {
    pools: usize,
    values: Vec<(u32, u32)>,
}

impl CapacitySamples {
    /// Bytes its samples hold.
    pub fn bytes(&self) -> u64 {
        (self.values.len() * std::mem::size_of::<(u32, u32)>()) as u64
    }

    /// Samples the estate now.
    pub fn record(&mut self, estate: &Estate) {
        self.pools = estate.pools.len();
        for pool in &estate.pools {
            for tier in Tier::ALL {
                let state = pool.tier(tier).map_or((0, 0), |t| (t.in_use, t.capacity));
                self.values.push(state);
            }
        }
    }

    /// Windows sampled.
    pub fn windows(&self) -> usize {
        self.values.len() / (self.pools * Tier::ALL.len()).max(1)
    }

    /// GPUs in use and capacity of `pool`'s `tier` at the end of window `window`.
    pub fn at(&self, window: usize, pool: usize, tier: Tier) -> (u32, u32) {
        let index = (window * self.pools + pool) * Tier::ALL.len() + tier as usize;
        self.values.get(index).copied().unwrap_or((0, 0))
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
) -> Vec<Vec<f64>> {
    let mut per_window = vec![vec![0.0; windows]; groups];
    let window_ns = window_ns.max(1);
    for entry in ledger.entries() {
        let Some(g) = group(entry) else { continue };
        let (start, end) = (
            entry.start.as_nanos(),
            entry.end.as_nanos().max(entry.start.as_nanos()),
        );
        let first = (start / window_ns) as usize;
        if end == start {
            if let Some(slot) = per_window[g].get_mut(first) {
                *slot += entry.usd;
            }
            continue;
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
    }
    for series in &mut per_window {
        let mut sum = 0.0;
        for value in series.iter_mut() {
            sum += *value;
            *value = sum;
        }
    }
    per_window
}

/// Cumulative cost at the end of each metrics window, by category (in [`CostCategory::ALL`]
/// order) and by tier (in [`Tier::ALL`] order; charges without a tier count in neither).
#[derive(Debug, Clone, PartialEq)]
pub struct CostCurves {
    /// Per category, per window.
    pub by_category: Vec<Vec<f64>>,
    /// Per tier, per window.
    pub by_tier: Vec<Vec<f64>>,
}

/// The cost curves of `ledger` over `windows` windows of `window_ns`.
pub fn cost_curves(ledger: &Ledger, window_ns: u64, windows: usize) -> CostCurves {
    CostCurves {
        by_category: cumulative_cost(
            ledger,
            window_ns,
            windows,
            |e| Some(category_index(e.category)),
            CostCategory::ALL.len(),
        ),
        by_tier: cumulative_cost(
            ledger,
            window_ns,
            windows,
            |e| e.tier.map(|t| t as usize),
            Tier::ALL.len(),
        ),
    }
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
        LedgerEntry {
            start: SimTime::from_nanos(start_s * 1_000_000_000),
            end: SimTime::from_nanos(end_s * 1_000_000_000),
            site: None,
            pool: None,
            tier: None,
            payer: None,
            category: CostCategory::Compute,
            quantity: 1.0,
            usd,
        }
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
        );
        let compute = &cost[category_index(CostCategory::Compute)];
        for (got, want) in compute.iter().zip([6.0, 17.0, 18.5, 20.0]) {
            assert!((got - want).abs() < 1e-9, "{compute:?}");
        }
        assert_eq!(cost[category_index(CostCategory::Egress)], vec![0.0; 4]);
    }
}
