//! The memory a run holds for figures that grow with its horizon — per-window latency
//! histograms and counts, capacity samples, the cost ledger — estimated from the scenario
//! before it runs, so that a run that would not fit is refused at load with the settings that
//! shrink it rather than aborted by the allocator hours in.
//!
//! The run itself measures what it holds at every window's end and stops against the same
//! limit (`limits.memory`), so an estimate that proves low still ends in a clear message.

use crate::infra::estate::BILLING_PERIOD;
use crate::infra::ledger::LedgerEntry;
use crate::scenario::ScenarioSpec;

/// Bytes a service holds per metrics window: its counts and two latency histograms (end to
/// end and queueing), whose counts span the latencies seen in the window. Measured on the
/// bundled scenarios: 5 KB (the quickstart, minute windows) to 20 KB (the M/M/10 check, where
/// waits run from zero to a few hundred ms).
pub const WINDOW_BYTES_PER_SERVICE: u64 = 16 * 1024;

/// Bytes per window besides the services': the backlog and a capacity sample per pool tier.
const SAMPLE_BYTES: u64 = 8;

/// What a run is expected to hold at its end for figures that grow with the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Metrics windows in the horizon.
    pub windows: u64,
    /// Services, each with a series of windows.
    pub services: u64,
    /// Bytes of every per-window figure.
    pub window_bytes: u64,
    /// Ledger entries: one per allocation or idle tier per billing period.
    pub ledger_entries: u64,
    /// Bytes of the ledger.
    pub ledger_bytes: u64,
}

impl MemoryEstimate {
    /// The estimate for `spec`.
    pub fn of(spec: &ScenarioSpec) -> Self {
        let horizon = spec.horizon.as_nanos();
        let windows = horizon.div_ceil(spec.metrics.window.as_nanos().max(1));
        let services = spec.services.len() as u64;
        let tiers: u64 = spec
            .pools
            .iter()
            .map(|p| {
                [
                    p.reserved.is_some(),
                    p.owned.is_some(),
                    p.on_demand.is_some(),
                    p.spot.is_some(),
                ]
                .into_iter()
                .filter(|&t| t)
                .count() as u64
            })
            .sum();
        let per_window = services
            .saturating_mul(WINDOW_BYTES_PER_SERVICE)
            .saturating_add(tiers.saturating_add(1).saturating_mul(SAMPLE_BYTES));
        // Each allocation is charged once per billing period, and each idle tier too.
        let replicas: u64 = spec
            .services
            .iter()
            .map(|s| match &s.autoscaling {
                Some(scaling) => u64::from(scaling.max),
                None => s.replicas.iter().map(|r| u64::from(r.count)).sum(),
            })
            .sum();
        let per_period = tiers
            .saturating_add(replicas)
            .saturating_add(spec.jobs.len() as u64);
        let ledger_entries = horizon
            .div_ceil(BILLING_PERIOD.as_nanos())
            .saturating_mul(per_period);
        MemoryEstimate {
            windows,
            services,
            window_bytes: windows.saturating_mul(per_window),
            ledger_entries,
            ledger_bytes: ledger_entries.saturating_mul(std::mem::size_of::<LedgerEntry>() as u64),
        }
    }

    /// Bytes in all.
    pub fn total(&self) -> u64 {
        self.window_bytes.saturating_add(self.ledger_bytes)
    }
}

/// `bytes` for a person: "1.2 GB", "340 MB".
pub fn human_bytes(bytes: u64) -> String {
    let value = bytes as f64;
    match value {
        v if v >= 1e9 => format!("{:.1} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.0} MB", v / 1e6),
        v => format!("{:.0} kB", v / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ScenarioSpec {
        crate::vocab::ron_options().from_str(text).unwrap()
    }

    #[test]
    fn counts_windows_series_and_charges() {
        let estimate = MemoryEstimate::of(&spec(
            r#"(name: "m", horizon: "10h", metrics: (window: "1m"),
                pools: [(site: "a", accelerator: "x", reserved: (count: 2, price: "1 USD/h"),
                         on_demand: (limit: 4, price: "2 USD/h"))],
                services: [
                    (name: "s", model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 1),
                     service_time: deterministic(time: "1s"), replicas: [(pool: "a/x", tier: reserved, count: 3)]),
                ])"#,
        ));
        assert_eq!((estimate.windows, estimate.services), (600, 1));
        assert_eq!(
            estimate.window_bytes,
            600 * (WINDOW_BYTES_PER_SERVICE + 3 * SAMPLE_BYTES)
        );
        // Two tiers and three replicas, charged each of ten hours.
        assert_eq!(estimate.ledger_entries, 50);
        assert_eq!(
            estimate.total(),
            estimate.window_bytes + 50 * std::mem::size_of::<LedgerEntry>() as u64
        );
    }

    #[test]
    fn writes_bytes_for_a_person() {
        assert_eq!(human_bytes(8_600_000_000), "8.6 GB");
        assert_eq!(human_bytes(340_400_000), "340 MB");
        assert_eq!(human_bytes(12_000), "12 kB");
    }
}
