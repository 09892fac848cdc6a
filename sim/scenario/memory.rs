//! What a run keeps of figures that grow with its horizon, estimated from the scenario before it
//! runs. Everything recorded at a rate that does not fall with the horizon goes to spill files
//! as the run makes it ([`crate::output::spill`]): the per-window figures, the cost ledger, the
//! cumulative cost curves (nine numbers a window, settled once no charge can reach back into
//! the window), the decision log and the rows of jobs that ended. Memory holds the open
//! windows, the cost of the windows a pending bill still spans and the spill files' write
//! buffers, none of which grows with the horizon; the estimate gives that and the bytes the
//! fixed-width spill files take on disk (the decision log and the job rows, of text, depend on
//! what the run does and are not counted). A run whose memory would not fit `limits.memory` is
//! refused at load with the settings that shrink it rather than aborted by the allocator hours
//! in.
//!
//! The run itself measures what it holds at every window's end and stops against the same
//! limit, so an estimate that proves low still ends in a clear message.

use crate::infra::estate::BILLING_PERIOD;
use crate::kernel::SimDuration;
use crate::output::spill::BUFFER;
use crate::scenario::ScenarioSpec;
use crate::workload::arrivals::ArrivalSpec;
use crate::workload::service::ServiceSpec;

/// Bytes a service holds per open metrics window: its counts and two latency histograms (end
/// to end and queueing), whose counts span the latencies seen in the window. Measured on the
/// bundled scenarios: 5 KB (the quickstart, minute windows) to 20 KB (the M/M/10 check, where
/// waits run from zero to a few hundred ms). A run holds one open window per service, two
/// when a request ends at the instant a window closes.
pub const WINDOW_BYTES_PER_SERVICE: u64 = 16 * 1024;

/// Bytes of the cumulative cost curves per window on disk: five categories and four tiers.
pub const COST_CURVE_BYTES: u64 = 9 * 8;

/// Write buffers of the spill files whose records are text (the decision log, the rows of jobs
/// that ended), each up to twice [`BUFFER`].
const TEXT_BUFFERS: u64 = 2 * 2 * BUFFER as u64;

/// Bytes of a window's row on disk per service (counts, quantiles, SLO, replicas, slot use).
const ROW_BYTES_PER_SERVICE: u64 = 88;

/// Bytes of a window's row on disk per pool (GPUs in use and capacity of four tiers).
const ROW_BYTES_PER_POOL: u64 = 32;

/// Bytes of a ledger entry on disk.
const LEDGER_ENTRY_BYTES: u64 = 48;

/// What a run is expected to keep of figures that grow with its horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Metrics windows in the horizon.
    pub windows: u64,
    /// Services, each with a row part per window.
    pub services: u64,
    /// Bytes held in memory: open windows, the cost of the windows a bill still spans and the
    /// spill files' write buffers.
    pub memory_bytes: u64,
    /// Ledger entries: one per allocation or idle tier per billing period.
    pub ledger_entries: u64,
    /// Bytes the window rows, cost curves and ledger entries take on disk, in the temporary
    /// folder.
    pub disk_bytes: u64,
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
        let row_bytes = services
            .saturating_mul(ROW_BYTES_PER_SERVICE)
            .saturating_add((spec.pools.len() as u64).saturating_mul(ROW_BYTES_PER_POOL))
            .saturating_add(16);
        let window_disk = windows.saturating_mul(row_bytes);
        let ledger_disk = ledger_entries.saturating_mul(LEDGER_ENTRY_BYTES);
        let curves_disk = windows.saturating_mul(COST_CURVE_BYTES);
        // A spill file's buffer holds what is not yet written out, up to twice its size.
        let buffers = [window_disk, ledger_disk, curves_disk]
            .into_iter()
            .map(|disk| disk.min(2 * BUFFER as u64))
            .sum::<u64>()
            + TEXT_BUFFERS;
        // A window's cost is settled once every bill that spans it is made: the windows of a
        // billing period and the one being closed stay open (a long transfer holds more).
        let open_cost = (BILLING_PERIOD.as_nanos())
            .div_ceil(spec.metrics.window.as_nanos().max(1))
            .saturating_add(2)
            .min(windows)
            .saturating_mul(COST_CURVE_BYTES);
        let active = spec
            .services
            .iter()
            .filter(|s| expected_requests(s, spec.horizon) != Some(0.0));
        let open_windows = (active.count() as u64).saturating_mul(2 * WINDOW_BYTES_PER_SERVICE);
        MemoryEstimate {
            windows,
            services,
            memory_bytes: open_cost.saturating_add(open_windows).saturating_add(buffers),
            ledger_entries,
            disk_bytes: window_disk
                .saturating_add(ledger_disk)
                .saturating_add(curves_disk),
        }
    }

    /// Bytes held in memory in all.
    pub fn total(&self) -> u64 {
        self.memory_bytes
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
    fn counts_windows_services_and_charges_in_memory_and_on_disk() {
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
        // Two tiers and three replicas, charged each of ten hours.
        assert_eq!(estimate.ledger_entries, 50);
        let rows = 600 * (ROW_BYTES_PER_SERVICE + ROW_BYTES_PER_POOL + 16);
        let curves = 600 * COST_CURVE_BYTES;
        assert_eq!(estimate.disk_bytes, rows + 50 * LEDGER_ENTRY_BYTES + curves);
        // The fixed-width spill files fit their buffers; one service (a fallback: it may see
        // requests) holds up to two open windows; an hour of minute windows and two more may
        // wait for their bills.
        assert_eq!(
            estimate.total(),
            62 * COST_CURVE_BYTES
                + 2 * WINDOW_BYTES_PER_SERVICE
                + rows
                + 50 * LEDGER_ENTRY_BYTES
                + curves
                + TEXT_BUFFERS
        );
    }

    #[test]
    fn memory_does_not_grow_with_the_horizon() {
        let with_horizon = |horizon: &str| {
            MemoryEstimate::of(&spec(&format!(
                r#"(name: "m", horizon: "{horizon}", metrics: (window: "1h"),
                pools: [(site: "a", accelerator: "x", reserved: (count: 2, price: "1 USD/h"))],
                services: [
                    (name: "s", model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 1),
                     service_time: deterministic(time: "1s"), replicas: [(pool: "a/x", tier: reserved, count: 1)],
                     demand: [(origin: "a", arrivals: poisson(rate: "1/s"))]),
                ])"#
            )))
        };
        let (month, years) = (with_horizon("30d"), with_horizon("1460d"));
        assert_eq!(years.disk_bytes, month.disk_bytes * 1460 / 30);
        // Only the spill buffers grow, from what a month writes to their bound of twice their
        // size: three fixed-width files.
        let grown = years.total() - month.total();
        assert!(grown <= 6 * BUFFER as u64, "{grown} bytes grown");
        assert!(years.total() < 2 * month.total(), "{years:?} against {month:?}");
        let more_years = with_horizon("2920d");
        assert_eq!(
            more_years.total(),
            years.total(),
            "once the buffers are full, nothing grows"
        );
    }

    #[test]
    fn writes_bytes_for_a_person() {
        assert_eq!(human_bytes(8_600_000_000), "8.6 GB");
        assert_eq!(human_bytes(340_400_000), "340 MB");
        assert_eq!(human_bytes(12_000), "12 kB");
    }
}
