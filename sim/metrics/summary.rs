//! The run's headline figures, serialized as `summary.json`.
//!
//! Everything here is a function of the scenario, the seed and the program version: no wall
//! clock, no host names, no map iteration order. Wall-clock figures go to `run.json` instead.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::infra::estate::Estate;
use crate::infra::pool::Tier;
use crate::kernel::{KernelStats, StopReason};

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
        }
    }
}
