//! Figures over time: what is sampled during a run (GPUs in use and capacity per pool and tier
//! at the end of each metrics window, archived with the window's other figures in
//! [`super::archive`]), the cumulative cost curves built from the ledger as the run goes and
//! kept on disk ([`CostCurves`]), and the tidy series shape of `timeseries.csv`.

use std::collections::VecDeque;
use std::io;

use crate::infra::estate::Estate;
use crate::infra::ledger::{CostCategory, Ledger, LedgerEntry};
use crate::kernel::{SimDuration, SimTime};
use crate::output::spill::{Records, Spill};
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

/// Groups of the cost curves: the categories in [`CostCategory::ALL`] order, then the tiers in
/// [`Tier::ALL`] order.
pub const COST_GROUPS: usize = CostCategory::ALL.len() + Tier::ALL.len();

/// Bytes of a window's cost curves on disk: nine numbers.
pub const COST_ROW_BYTES: usize = COST_GROUPS * 8;

/// The cumulative cost at the end of one metrics window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CostRow {
    /// Per category, in [`CostCategory::ALL`] order.
    pub by_category: [f64; CostCategory::ALL.len()],
    /// Per tier, in [`Tier::ALL`] order (charges without a tier count in none).
    pub by_tier: [f64; Tier::ALL.len()],
}

impl CostRow {
    fn from_groups(groups: &[f64; COST_GROUPS]) -> Self {
        let (categories, tiers) = groups.split_at(CostCategory::ALL.len());
        CostRow {
            by_category: std::array::from_fn(|c| categories[c]),
            by_tier: std::array::from_fn(|t| tiers[t]),
        }
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut groups = [0.0; COST_GROUPS];
        for (value, chunk) in groups.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(chunk);
            *value = f64::from_bits(u64::from_le_bytes(raw));
        }
        Self::from_groups(&groups)
    }
}

/// Cumulative cost at the end of each metrics window, by category and by tier: nine numbers a
/// window, on disk.
///
/// Each ledger entry is spread evenly over the period it charges (a one-off charge counts at
/// its instant). Entries are read from the ledger in the order recorded as the run goes
/// ([`CostCurves::update`]), their shares added to the windows still open to charges; a window
/// is settled — its cumulative figures appended to a spill file — once no charge to come can
/// reach back into it (the estate says how far back: [`Estate::unbilled_since`]). So memory
/// holds the windows a pending bill or transfer still spans, not the horizon, and each window's
/// figures are the same sums, added in the same order, as over the whole ledger at the end.
#[derive(Debug)]
pub struct CostCurves {
    window_ns: u64,
    /// Ledger entries spread so far.
    fed: u64,
    /// Cost in each window from the first unsettled one on (not cumulative), per group.
    open: VecDeque<[f64; COST_GROUPS]>,
    /// Cumulative cost through the last settled window.
    running: [f64; COST_GROUPS],
    /// The settled windows' cumulative figures.
    rows: Spill,
    scratch: Vec<u8>,
}

impl CostCurves {
    /// No window yet, for windows of `window`.
    pub fn new(window: SimDuration) -> Self {
        CostCurves {
            window_ns: window.as_nanos().max(1),
            fed: 0,
            open: VecDeque::new(),
            running: [0.0; COST_GROUPS],
            rows: Spill::new(COST_ROW_BYTES),
            scratch: Vec::with_capacity(COST_ROW_BYTES),
        }
    }

    /// Spreads the charges `ledger` recorded since the last call over their windows, then
    /// settles each window that ends by `final_until` (no later charge reaches back before it)
    /// and is among the first `closed`.
    pub fn update(&mut self, ledger: &Ledger, final_until: SimTime, closed: u64) -> io::Result<()> {
        self.feed(ledger)?;
        while self.settled() < closed
            && (self.settled() + 1).saturating_mul(self.window_ns) <= final_until.as_nanos()
        {
            self.settle_next();
        }
        Ok(())
    }

    /// Spreads the last charges and settles every window up to `windows`, the run's closed
    /// windows; the cost of later windows (cut short by the horizon) is dropped.
    pub fn finish(&mut self, ledger: &Ledger, windows: u64) -> io::Result<()> {
        self.feed(ledger)?;
        while self.settled() < windows {
            self.settle_next();
        }
        self.open.clear();
        self.open.shrink_to_fit();
        Ok(())
    }

    /// Windows settled.
    pub fn settled(&self) -> u64 {
        self.rows.len()
    }

    /// Bytes held in memory: the open windows and the write buffer.
    pub fn memory_bytes(&self) -> u64 {
        (self.open.capacity() * COST_ROW_BYTES + self.scratch.capacity()) as u64 + self.rows.memory_bytes()
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.rows.disk_bytes()
    }

    /// The first error met writing rows out, after which rows were lost.
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.rows.error()
    }

    /// Calls `visit` with each settled window's index and figures, in order.
    pub fn for_each(&self, mut visit: impl FnMut(u64, &CostRow)) -> io::Result<()> {
        let mut rows = self.rows()?;
        let mut k = 0;
        while let Some(row) = rows.next_row() {
            visit(k, &row?);
            k += 1;
        }
        Ok(())
    }

    /// The settled windows' figures in order, for reading beside the window archive.
    pub fn rows(&self) -> io::Result<CostRows<'_>> {
        if let Some(e) = self.rows.error() {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        Ok(CostRows {
            records: self.rows.records(),
        })
    }

    fn feed(&mut self, ledger: &Ledger) -> io::Result<()> {
        let from = self.fed;
        let mut fed = 0;
        ledger.for_each_from(from, |entry| {
            self.spread(entry);
            fed += 1;
        })?;
        self.fed += fed;
        Ok(())
    }

    /// Adds `entry`'s share to each window it charges.
    fn spread(&mut self, entry: &LedgerEntry) {
        let category = category_index(entry.category);
        let tier = entry.tier.map(|t| CostCategory::ALL.len() + t as usize);
        let (start, end) = (
            entry.start.as_nanos(),
            entry.end.as_nanos().max(entry.start.as_nanos()),
        );
        let w_ns = self.window_ns;
        let first = start / w_ns;
        if end == start {
            self.add(first, category, tier, entry.usd);
            return;
        }
        let rate = entry.usd / (end - start) as f64;
        for w in first..=(end - 1) / w_ns {
            let from = start.max(w * w_ns);
            let to = end.min((w + 1) * w_ns);
            if to > from {
                self.add(w, category, tier, rate * (to - from) as f64);
            }
        }
    }

    fn add(&mut self, window: u64, category: usize, tier: Option<usize>, usd: f64) {
        let Some(at) = window.checked_sub(self.settled()) else {
            debug_assert!(
                false,
                "a charge of {usd} USD reached back into settled window {window}"
            );
            return;
        };
        let at = at as usize;
        if self.open.len() <= at {
            self.open.resize(at + 1, [0.0; COST_GROUPS]);
        }
        let groups = &mut self.open[at];
        groups[category] += usd;
        if let Some(t) = tier {
            groups[t] += usd;
        }
    }

    fn settle_next(&mut self) {
        let window = self.open.pop_front().unwrap_or([0.0; COST_GROUPS]);
        self.scratch.clear();
        for (sum, cost) in self.running.iter_mut().zip(window) {
            *sum += cost;
            self.scratch.extend_from_slice(&sum.to_bits().to_le_bytes());
        }
        self.rows.push(&self.scratch);
    }
}

/// The settled windows' cost figures of [`CostCurves`], in order.
#[derive(Debug)]
pub struct CostRows<'a> {
    records: Records<'a>,
}

impl CostRows<'_> {
    /// The next window's figures, or `None` after the last.
    pub fn next_row(&mut self) -> Option<io::Result<CostRow>> {
        Some(self.records.next_record()?.map(CostRow::decode))
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
    use proptest::prelude::*;

    const MINUTE: u64 = 60_000_000_000;

    fn entry(start_s: u64, end_s: u64, usd: f64) -> LedgerEntry {
        let at = |s: u64| SimTime::from_nanos(s * 1_000_000_000);
        LedgerEntry::compute(at(start_s), at(end_s), usd)
    }

    /// How the curves were computed before they were built as the run goes: the whole ledger
    /// spread over every window at the end, then accumulated. Per group, per window.
    fn at_the_end(ledger: &Ledger, window_ns: u64, windows: usize) -> Vec<Vec<f64>> {
        let mut per_window = vec![vec![0.0; windows]; COST_GROUPS];
        ledger
            .for_each(|entry| {
                let groups = [Some(category_index(entry.category))]
                    .into_iter()
                    .chain([entry.tier.map(|t| CostCategory::ALL.len() + t as usize)]);
                for g in groups.flatten() {
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
            })
            .unwrap();
        for series in &mut per_window {
            let mut sum = 0.0;
            for value in series.iter_mut() {
                sum += *value;
                *value = sum;
            }
        }
        per_window
    }

    fn rows(curves: &CostCurves) -> Vec<CostRow> {
        let mut out = Vec::new();
        curves
            .for_each(|k, row| {
                assert_eq!(k as usize, out.len());
                out.push(*row);
            })
            .unwrap();
        out
    }

    #[test]
    fn cost_is_spread_over_the_period_it_charges_and_accumulated() {
        let mut ledger = Ledger::default();
        ledger.record(entry(0, 120, 12.0)); // 6 per 60 s window, windows 0 and 1
        ledger.record(entry(90, 90, 5.0)); // a one-off in window 1
        ledger.record(entry(150, 210, 3.0)); // half in window 2, half in window 3
        let mut curves = CostCurves::new(SimDuration::from_nanos(MINUTE));
        curves.finish(&ledger, 4).unwrap();
        let compute = category_index(CostCategory::Compute);
        let got: Vec<f64> = rows(&curves).iter().map(|r| r.by_category[compute]).collect();
        for (got, want) in got.iter().zip([6.0, 17.0, 18.5, 20.0]) {
            assert!((got - want).abs() < 1e-9, "{got:?}");
        }
        assert_eq!(got.len(), 4);
        let egress = category_index(CostCategory::Egress);
        assert!(rows(&curves).iter().all(|r| r.by_category[egress] == 0.0));
    }

    #[test]
    fn a_window_settles_only_once_no_charge_can_reach_back_into_it() {
        let mut ledger = Ledger::default();
        let mut curves = CostCurves::new(SimDuration::from_nanos(MINUTE));
        ledger.record(entry(0, 60, 1.0));
        // Three windows closed, but a charge from 30 s on is still to come.
        curves
            .update(&ledger, SimTime::from_nanos(MINUTE / 2), 3)
            .unwrap();
        assert_eq!(curves.settled(), 0);
        curves
            .update(&ledger, SimTime::from_nanos(2 * MINUTE + 1), 3)
            .unwrap();
        assert_eq!(curves.settled(), 2);
        // Never past the closed windows, whatever the estate says.
        curves
            .update(&ledger, SimTime::from_nanos(10 * MINUTE), 3)
            .unwrap();
        assert_eq!(curves.settled(), 3);
        ledger.record(entry(180, 400, 5.0));
        curves.finish(&ledger, 5).unwrap();
        assert_eq!(curves.settled(), 5);
        // Held in memory: no open window once finished, and the write buffer.
        assert!(curves.memory_bytes() < 2 * crate::output::spill::BUFFER as u64);
    }

    proptest! {
        /// Charges of a run: each ends at the clock and starts no earlier than what the
        /// estate still has unbilled; windows settle as they close. The curves must be the
        /// same bits as the whole ledger spread at the end.
        #[test]
        fn curves_built_as_the_run_goes_are_the_curves_of_the_whole_ledger(
            steps in proptest::collection::vec(
                (0..200u64, proptest::collection::vec((0..400u64, -5.0..50.0f64, 0..5usize, 0..5usize), 0..6)),
                1..80,
            ),
            extra_windows in 0..3u64,
        ) {
            let window_ns = MINUTE;
            let mut ledger = Ledger::default();
            let mut curves = CostCurves::new(SimDuration::from_nanos(window_ns));
            let mut now_s = 0;
            for (advance, charges) in &steps {
                now_s += advance;
                // The oldest unbilled instant: a little before now.
                let frontier_s = now_s.saturating_sub(300);
                for &(back, usd, category, tier) in charges {
                    let start_s = now_s.saturating_sub(back).max(frontier_s);
                    let mut e = entry(start_s, now_s, usd);
                    e.category = CostCategory::ALL[category];
                    e.tier = Tier::ALL.get(tier).copied();
                    ledger.record(e);
                }
                let closed = now_s * 1_000_000_000 / window_ns;
                curves.update(&ledger, SimTime::from_nanos(frontier_s * 1_000_000_000), closed).unwrap();
            }
            let windows = now_s * 1_000_000_000 / window_ns + extra_windows;
            curves.finish(&ledger, windows).unwrap();
            let want = at_the_end(&ledger, window_ns, windows as usize);
            let got = rows(&curves);
            prop_assert_eq!(got.len() as u64, windows);
            for (w, row) in got.iter().enumerate() {
                let groups = row.by_category.iter().chain(&row.by_tier);
                for (g, value) in groups.enumerate() {
                    prop_assert_eq!(value.to_bits(), want[g][w].to_bits(), "group {} window {}", g, w);
                }
            }
        }
    }
}
