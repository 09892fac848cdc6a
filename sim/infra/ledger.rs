//! The cost ledger: every dollar spent in a run is one entry, and every cost figure is a sum
//! over entries. Running totals by category, tier, site, workload class and workload are kept as
//! entries are added, so the summary never re-scans the ledger; the entries themselves go to a
//! spill file as they are recorded ([`crate::output::spill`]), so the memory a run holds does
//! not grow with its horizon. `cost.csv`, the cost curves and an incident's cost are read back
//! from it.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use crate::kernel::SimTime;
use crate::output::spill::Spill;
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
#[derive(Debug)]
pub struct Ledger {
    entries: Spill,
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
        self.entries.push(&encode(&entry));
    }

    /// Charges recorded.
    pub fn len(&self) -> u64 {
        self.entries.len()
    }

    /// Whether nothing was charged.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes the ledger holds in memory for its entries (a write buffer; the entries are on
    /// disk).
    pub fn memory_bytes(&self) -> u64 {
        self.entries.memory_bytes()
    }

    /// The first error met writing the entries out; the entries after it were lost, so the
    /// run's outputs cannot be written.
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.entries.error()
    }

    /// Calls `visit` with every charge, in the order recorded.
    pub fn for_each(&self, visit: impl FnMut(&LedgerEntry)) -> io::Result<()> {
        self.for_each_from(0, visit)
    }

    /// Calls `visit` with every charge from the `first`-th on (counting from 0), in the order
    /// recorded.
    pub fn for_each_from(&self, first: u64, mut visit: impl FnMut(&LedgerEntry)) -> io::Result<()> {
        if let Some(e) = self.entries.error() {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let mut records = self.entries.records_from(first);
        while let Some(record) = records.next_record() {
            visit(&decode(record?));
        }
        Ok(())
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

    /// Takes one workload's totals out of the ledger once no charge can reach it any more (a
    /// job that ended and released everything it held): returns what it was charged, and the
    /// ledger no longer holds a total for it, so that a long run's ended jobs cost no memory.
    /// The class, category, tier and site totals keep its charges.
    pub fn settle_payer(&mut self, payer: Payer) -> f64 {
        self.transfer_by_payer.remove(&payer);
        self.by_payer.remove(&payer).unwrap_or(0.0)
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

    /// Every charge, in the order recorded, read back into memory: for looking at a run, not
    /// for writing files (it holds every charge at once).
    pub fn read_all(&self) -> io::Result<Vec<LedgerEntry>> {
        let mut all = Vec::new();
        self.for_each(|e| all.push(e.clone()))?;
        Ok(all)
    }

    /// Recomputes the total from the entries; equal to [`Ledger::total`] up to rounding.
    pub fn recomputed_total(&self) -> io::Result<f64> {
        let mut sum = 0.0;
        self.for_each(|e| sum += e.usd)?;
        Ok(sum)
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            entries: Spill::new(ENTRY_BYTES),
            total: 0.0,
            by_category: BTreeMap::new(),
            by_tier: BTreeMap::new(),
            by_site: BTreeMap::new(),
            by_class: BTreeMap::new(),
            by_payer: BTreeMap::new(),
            transfer_by_payer: BTreeMap::new(),
            transfer_by_class: BTreeMap::new(),
        }
    }
}

/// Bytes of an entry on disk: start and end (8 each), site, pool and workload (4 each; all ones
/// for none), tier, class and category (1 each) and a flag byte, quantity and USD (8 each).
const ENTRY_BYTES: usize = 48;

/// Marks a missing id, tier or payer.
const NONE_U32: u32 = u32::MAX;
const NONE_U8: u8 = u8::MAX;

// The enums are written as their declaration index, which is their position in `ALL`.
#[cfg(test)]
impl LedgerEntry {
    /// A compute charge of `usd` over `[start, end]`, with no site, pool, tier or payer.
    pub(crate) fn compute(start: SimTime, end: SimTime, usd: f64) -> Self {
        LedgerEntry {
            start,
            end,
            site: None,
            pool: None,
            tier: None,
            payer: None,
            category: CostCategory::Compute,
            quantity: 1.0,
            usd,
        }
    }
}

fn encode(e: &LedgerEntry) -> [u8; ENTRY_BYTES] {
    let mut out = [0u8; ENTRY_BYTES];
    out[0..8].copy_from_slice(&e.start.as_nanos().to_le_bytes());
    out[8..16].copy_from_slice(&e.end.as_nanos().to_le_bytes());
    out[16..20].copy_from_slice(&e.site.map_or(NONE_U32, |s| s.0).to_le_bytes());
    out[20..24].copy_from_slice(&e.pool.map_or(NONE_U32, |p| p.0).to_le_bytes());
    out[24..28].copy_from_slice(&e.payer.map_or(NONE_U32, |p| p.workload).to_le_bytes());
    out[28] = e.tier.map_or(NONE_U8, |t| t as u8);
    out[29] = e.payer.map_or(NONE_U8, |p| p.class as u8);
    out[30] = e.category as u8;
    out[32..40].copy_from_slice(&e.quantity.to_le_bytes());
    out[40..48].copy_from_slice(&e.usd.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> LedgerEntry {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
    let id = |at: usize| Some(u32_at(at)).filter(|&v| v != NONE_U32);
    LedgerEntry {
        start: SimTime::from_nanos(u64_at(0)),
        end: SimTime::from_nanos(u64_at(8)),
        site: id(16).map(SiteId),
        pool: id(20).map(PoolId),
        tier: Tier::ALL.get(usize::from(bytes[28])).copied(),
        payer: WorkloadClass::ALL
            .get(usize::from(bytes[29]))
            .map(|&class| Payer {
                class,
                workload: u32_at(24),
            }),
        category: CostCategory::ALL
            .get(usize::from(bytes[30]))
            .copied()
            .unwrap_or(CostCategory::Compute),
        quantity: f64::from_bits(u64_at(32)),
        usd: f64::from_bits(u64_at(40)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_comes_back_from_disk_as_recorded() {
        let entries = [
            LedgerEntry {
                start: SimTime::from_nanos(3_600_000_000_000),
                end: SimTime::from_nanos(7_200_000_000_000),
                site: Some(SiteId(7)),
                pool: Some(PoolId(12)),
                tier: Some(Tier::Spot),
                payer: Some(Payer {
                    class: WorkloadClass::Inference,
                    workload: 3,
                }),
                category: CostCategory::Compute,
                quantity: 8.0,
                usd: 0.1 + 0.2,
            },
            LedgerEntry {
                start: SimTime::from_nanos(5),
                end: SimTime::from_nanos(5),
                site: None,
                pool: None,
                tier: None,
                payer: None,
                category: CostCategory::Interconnect,
                quantity: 1e-9,
                usd: 12.5,
            },
        ];
        let mut ledger = Ledger::default();
        for e in &entries {
            ledger.record(e.clone());
        }
        let mut back = Vec::new();
        ledger.for_each(|e| back.push(e.clone())).unwrap();
        assert_eq!(back, entries);
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.recomputed_total().unwrap(), 0.1 + 0.2 + 12.5);
        for category in CostCategory::ALL {
            let e = LedgerEntry {
                category,
                ..entries[1].clone()
            };
            assert_eq!(decode(&encode(&e)).category, category);
        }
    }
}
