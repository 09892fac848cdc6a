//! The cost ledger: every dollar spent in a run is one entry, and every cost figure is a sum
//! over entries. Running totals by category, tier, site and workload class are kept as entries
//! are added, so reports never re-scan the ledger.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kernel::SimTime;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{PoolId, SiteId};

/// What money was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostCategory {
    /// GPUs held by a workload.
    Compute,
    /// Reserved or owned GPUs that nobody used.
    IdleReserved,
    /// Data leaving a site.
    Egress,
    /// Data at rest.
    Storage,
    /// Per-GB charges of links (dedicated interconnect, transit).
    Interconnect,
}

impl CostCategory {
    /// Every category, in a fixed order.
    pub const ALL: [CostCategory; 5] = [
        CostCategory::Compute,
        CostCategory::IdleReserved,
        CostCategory::Egress,
        CostCategory::Storage,
        CostCategory::Interconnect,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            CostCategory::Compute => "compute",
            CostCategory::IdleReserved => "idle_reserved",
            CostCategory::Egress => "egress",
            CostCategory::Storage => "storage",
            CostCategory::Interconnect => "interconnect",
        }
    }

    /// The name shown to people, the same in every chart and table: idle capacity is owned as
    /// well as reserved GPUs, which both bill whether used or not.
    pub fn label(self) -> &'static str {
        match self {
            CostCategory::IdleReserved => IDLE_FIXED_LABEL,
            other => other.as_str(),
        }
    }
}

/// What reports call owned and reserved GPUs that nobody used, and what they cost.
pub const IDLE_FIXED_LABEL: &str = "idle owned/reserved";

/// Which workload a cost belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Payer {
    /// The workload's class.
    pub class: WorkloadClass,
    /// The workload's index in the run's workload registry.
    pub workload: u32,
}

/// One charge.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// Start of the period charged.
    pub start: SimTime,
    /// End of the period charged (equal to `start` for one-off charges such as a transfer).
    pub end: SimTime,
    /// Site charged, if any.
    pub site: Option<SiteId>,
    /// Pool charged, if any.
    pub pool: Option<PoolId>,
    /// Tier charged, if any.
    pub tier: Option<Tier>,
    /// Workload that caused it, if any (idle capacity has none).
    pub payer: Option<Payer>,
    /// What it is for.
    pub category: CostCategory,
    /// How much was bought: GPU-hours for compute, GB for data.
    pub quantity: f64,
    /// Amount in USD.
    pub usd: f64,
}

/// All charges of a run, with running totals.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
    total: f64,
    by_category: BTreeMap<CostCategory, f64>,
    by_tier: BTreeMap<Tier, f64>,
    by_site: BTreeMap<SiteId, f64>,
    by_class: BTreeMap<WorkloadClass, f64>,
    by_payer: BTreeMap<Payer, f64>,
    /// Transfer charges (egress, interconnect) per payer and per class.
    transfer_by_payer: BTreeMap<Payer, TransferCost>,
    transfer_by_class: BTreeMap<WorkloadClass, TransferCost>,
}

/// What a workload paid to move data: bulk transfers and request payloads.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TransferCost {
    /// Charged by the sending sites for data leaving them, in USD.
    pub egress_usd: f64,
    /// Charged by the links crossed, per GB, in USD.
    pub interconnect_usd: f64,
}

impl TransferCost {
    fn add(&mut self, category: CostCategory, usd: f64) {
        match category {
            CostCategory::Egress => self.egress_usd += usd,
            CostCategory::Interconnect => self.interconnect_usd += usd,
            CostCategory::Compute | CostCategory::IdleReserved | CostCategory::Storage => {}
        }
    }

    /// Egress plus interconnect.
    pub fn total_usd(&self) -> f64 {
        self.egress_usd + self.interconnect_usd
    }
}

impl Ledger {
    /// Records a charge. Zero charges are dropped; they would only bloat `cost.csv`.
    pub fn record(&mut self, entry: LedgerEntry) {
        if entry.usd == 0.0 {
            return;
        }
        debug_assert!(entry.usd.is_finite(), "a charge of {} USD", entry.usd);
        self.total += entry.usd;
        *self.by_category.entry(entry.category).or_default() += entry.usd;
        if let Some(tier) = entry.tier {
            *self.by_tier.entry(tier).or_default() += entry.usd;
        }
        if let Some(site) = entry.site {
            *self.by_site.entry(site).or_default() += entry.usd;
        }
        if let Some(payer) = entry.payer {
            *self.by_class.entry(payer.class).or_default() += entry.usd;
            *self.by_payer.entry(payer).or_default() += entry.usd;
            if matches!(entry.category, CostCategory::Egress | CostCategory::Interconnect) {
                self.transfer_by_payer
                    .entry(payer)
                    .or_default()
                    .add(entry.category, entry.usd);
                self.transfer_by_class
                    .entry(payer.class)
                    .or_default()
                    .add(entry.category, entry.usd);
            }
        }
        self.entries.push(entry);
    }

    /// Every charge, in the order recorded.
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// Total USD.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// USD per category (every category present, zero if unused).
    pub fn by_category(&self) -> BTreeMap<CostCategory, f64> {
        CostCategory::ALL
            .into_iter()
            .map(|c| (c, self.by_category.get(&c).copied().unwrap_or(0.0)))
            .collect()
    }

    /// USD per tier (compute and idle charges).
    pub fn by_tier(&self) -> &BTreeMap<Tier, f64> {
        &self.by_tier
    }

    /// USD per site.
    pub fn by_site(&self) -> &BTreeMap<SiteId, f64> {
        &self.by_site
    }

    /// USD per workload class.
    pub fn by_class(&self) -> &BTreeMap<WorkloadClass, f64> {
        &self.by_class
    }

    /// USD charged to one workload.
    pub fn of_payer(&self, payer: Payer) -> f64 {
        self.by_payer.get(&payer).copied().unwrap_or(0.0)
    }

    /// What one workload paid for transfers.
    pub fn transfer_of_payer(&self, payer: Payer) -> TransferCost {
        self.transfer_by_payer.get(&payer).copied().unwrap_or_default()
    }

    /// What a workload class paid for transfers.
    pub fn transfer_of_class(&self, class: WorkloadClass) -> TransferCost {
        self.transfer_by_class.get(&class).copied().unwrap_or_default()
    }

    /// Share of all spending that went to moving data (egress and interconnect); `None` when
    /// nothing was spent.
    pub fn transfer_share(&self) -> Option<f64> {
        let spent = |category| self.by_category.get(&category).copied().unwrap_or(0.0);
        let transfer = spent(CostCategory::Egress) + spent(CostCategory::Interconnect);
        (self.total > 0.0).then(|| transfer / self.total)
    }

    /// Recomputes the total from the entries; equal to [`Ledger::total`] up to rounding.
    pub fn recomputed_total(&self) -> f64 {
        self.entries.iter().map(|e| e.usd).sum()
    }
}
