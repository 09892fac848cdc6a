//! The memory a run holds for figures that grow with its horizon — per-window latency
//! histograms and counts, capacity samples, the cost ledger — estimated from the scenario
//! before it runs, so that a run that would not fit is refused at load with the settings that
//! shrink it rather than aborted by the allocator hours in.
//!
//! The run itself measures what it holds at every window's end and stops against the same
//! limit (`limits.memory`), so an estimate that proves low still ends in a clear message.

use crate::infra::estate::BILLING_PERIOD;
use crate::infra::ledger::LedgerEntry;
use crate::kernel::SimDuration;
use crate::scenario::ScenarioSpec;
use crate::workload::arrivals::ArrivalSpec;
use crate::workload::service::ServiceSpec;

/// Bytes a service holds per metrics window: its counts and two latency histograms (end to
/// end and queueing), whose counts span the latencies seen in the window. Measured on the
/// bundled scenarios: 5 KB (the quickstart, minute windows) to 20 KB (the M/M/10 check, where
/// waits run from zero to a few hundred ms).
pub const WINDOW_BYTES_PER_SERVICE: u64 = 16 * 1024;

/// Bytes a service holds per window even when no request ends in it: its counts and usage.
const EMPTY_WINDOW_BYTES: u64 = 256;

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
        // A window in which a service ends no request holds no histogram counts, so a service
        // expected to see fewer requests than windows fills at most one window per request.
        let filled: u64 = spec
            .services
            .iter()
            .map(|s| expected_requests(s, spec.horizon).map_or(windows, |n| windows.min(n.ceil() as u64)))
            .fold(0, u64::saturating_add);
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
            .saturating_mul(EMPTY_WINDOW_BYTES)
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
            window_bytes: windows
                .saturating_mul(per_window)
                .saturating_add(filled.saturating_mul(WINDOW_BYTES_PER_SERVICE)),
            ledger_entries,
            ledger_bytes: ledger_entries.saturating_mul(std::mem::size_of::<LedgerEntry>() as u64),
        }
    }

    /// Bytes in all.
    pub fn total(&self) -> u64 {
        self.window_bytes.saturating_add(self.ledger_bytes)
    }
}

/// The requests `service`'s own demand is expected to bring over `horizon`, from its mean
/// rates; `None` when a trace drives it (its rows are counted only when it is read) or when it
/// has no demand of its own and serves as another's fallback.
fn expected_requests(service: &ServiceSpec, horizon: SimDuration) -> Option<f64> {
    if service.demand.is_empty() {
        return None;
    }
    let mut per_s = 0.0;
    for demand in &service.demand {
        per_s += match &demand.arrivals {
            ArrivalSpec::Poisson { rate } => rate.per_sec(),
            ArrivalSpec::Diurnal { peak, trough, .. } => (peak.per_sec() + trough.per_sec()) / 2.0,
            ArrivalSpec::Mmpp { states } => {
                let time: f64 = states.iter().map(|s| s.mean_duration.as_secs_f64()).sum();
                let weighted: f64 = states
                    .iter()
                    .map(|s| s.rate.per_sec() * s.mean_duration.as_secs_f64())
                    .sum();
                if time > 0.0 { weighted / time } else { 0.0 }
            }
            ArrivalSpec::Trace(_) => return None,
        };
    }
    Some(per_s * horizon.as_secs_f64())
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
        // No demand of its own: every window may hold latencies (as a fallback).
        assert_eq!((estimate.windows, estimate.services), (600, 1));
        assert_eq!(
            estimate.window_bytes,
            600 * (WINDOW_BYTES_PER_SERVICE + EMPTY_WINDOW_BYTES + 3 * SAMPLE_BYTES)
        );
        // Two tiers and three replicas, charged each of ten hours.
        assert_eq!(estimate.ledger_entries, 50);
        assert_eq!(
            estimate.total(),
            estimate.window_bytes + 50 * std::mem::size_of::<LedgerEntry>() as u64
        );
    }

    #[test]
    fn a_service_with_fewer_requests_than_windows_fills_one_window_per_request() {
        let with_rate = |rate: &str| {
            MemoryEstimate::of(&spec(&format!(
                r#"(name: "m", horizon: "10h", metrics: (window: "1m"),
                services: [
                    (name: "s", model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 1),
                     service_time: deterministic(time: "1s"), replicas: [],
                     demand: [(origin: "a", arrivals: poisson(rate: "{rate}"))]),
                ])"#
            )))
            .window_bytes
        };
        let empty = 600 * (EMPTY_WINDOW_BYTES + SAMPLE_BYTES);
        // 10 requests in 600 windows, then 1 per window, then 60 per window.
        assert_eq!(with_rate("1/h"), empty + 10 * WINDOW_BYTES_PER_SERVICE);
        assert_eq!(with_rate("1/min"), empty + 600 * WINDOW_BYTES_PER_SERVICE);
        assert_eq!(with_rate("1/s"), empty + 600 * WINDOW_BYTES_PER_SERVICE);
    }

    #[test]
    fn writes_bytes_for_a_person() {
        assert_eq!(human_bytes(8_600_000_000), "8.6 GB");
        assert_eq!(human_bytes(340_400_000), "340 MB");
        assert_eq!(human_bytes(12_000), "12 kB");
    }
}
