//! Metered transfers: the bytes that requests and responses carry across site boundaries.
//!
//! A bulk transfer (a dataset, a checkpoint) is one ledger charge when it ends. Requests are far
//! too many for that: a charge per request would make the ledger grow with the request count.
//! Instead each payer's bytes are added up per sending site (egress) and per link and direction
//! (interconnect), and billed once per billing period at the prices of the sites and links
//! crossed — the same rule as a bulk transfer, summed.

use crate::infra::ledger::{CostCategory, Ledger, LedgerEntry, Payer};
use crate::infra::network::Hop;
use crate::kernel::SimTime;
use crate::vocab::ids::SiteId;

/// A payer's meter, handed out by [`Meters::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MeterId(u32);

/// Bytes one payer sent since the last bill.
#[derive(Debug, Clone)]
struct MeterRow {
    payer: Payer,
    /// Bytes that left each site, by site index.
    egress: Vec<u64>,
    /// Bytes carried by each link, by `2 × link + direction` (0: from `a` to `b`).
    carried: Vec<u64>,
}

/// The meters of every payer whose requests carry bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meters {
    rows: Vec<MeterRow>,
    since: SimTime,
}

impl Meters {
    /// A meter for `payer` in an estate of `sites` sites and `links` links.
    pub(crate) fn add(&mut self, payer: Payer, sites: usize, links: usize) -> MeterId {
        self.rows.push(MeterRow {
            payer,
            egress: vec![0; sites],
            carried: vec![0; 2 * links],
        });
        MeterId(self.rows.len() as u32 - 1)
    }

    /// Counts `bytes` leaving `site` for another site.
    pub(crate) fn leave(&mut self, meter: MeterId, site: SiteId, bytes: u64) {
        if let Some(egress) = self.row(meter).and_then(|row| row.egress.get_mut(site.index())) {
            *egress = egress.saturating_add(bytes);
        }
    }

    /// Counts `bytes` crossing the link of `hop` in its direction.
    pub(crate) fn carry(&mut self, meter: MeterId, hop: Hop, bytes: u64) {
        let slot = 2 * hop.link.index() + usize::from(!hop.forward);
        if let Some(carried) = self.row(meter).and_then(|row| row.carried.get_mut(slot)) {
            *carried = carried.saturating_add(bytes);
        }
    }

    fn row(&mut self, meter: MeterId) -> Option<&mut MeterRow> {
        self.rows.get_mut(meter.0 as usize)
    }

    /// When the bytes counted now began to be counted: the start of the next bill.
    pub(crate) fn since(&self) -> SimTime {
        self.since
    }

    /// Bills the bytes counted since the last bill, up to `now`, into `ledger`: per payer, a
    /// charge per sending site at its egress price and per link and direction at the link's
    /// price, charged to the sending end.
    pub(crate) fn bill(
        &mut self,
        now: SimTime,
        ledger: &mut Ledger,
        egress_usd_per_gb: impl Fn(SiteId) -> f64,
        link: impl Fn(usize) -> Option<(f64, SiteId, SiteId)>,
    ) {
        let start = std::mem::replace(&mut self.since, now);
        for row in &mut self.rows {
            let payer = row.payer;
            let charge = |site: SiteId, category: CostCategory, bytes: u64, usd_per_gb: f64| {
                let gb = bytes as f64 / 1e9;
                LedgerEntry {
                    start,
                    end: now,
                    site: Some(site),
                    pool: None,
                    tier: None,
                    payer: Some(payer),
                    category,
                    quantity: gb,
                    usd: gb * usd_per_gb,
                }
            };
            for (index, bytes) in row.egress.iter_mut().enumerate() {
                let site = SiteId(index as u32);
                if *bytes > 0 {
                    ledger.record(charge(
                        site,
                        CostCategory::Egress,
                        *bytes,
                        egress_usd_per_gb(site),
                    ));
                    *bytes = 0;
                }
            }
            for (slot, bytes) in row.carried.iter_mut().enumerate() {
                if let (true, Some((usd_per_gb, a, b))) = (*bytes > 0, link(slot / 2)) {
                    let sender = if slot % 2 == 0 { a } else { b };
                    ledger.record(charge(sender, CostCategory::Interconnect, *bytes, usd_per_gb));
                }
                *bytes = 0;
            }
        }
    }
}
