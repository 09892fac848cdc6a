//! The figures of every metrics window of a run, on disk: a [`WindowArchive`] gets one
//! [`WindowRow`] as each window closes (per service: requests, latency quantiles, whether the
//! SLO held, replicas and slot use, batching; per pool and tier: GPUs in use and capacity; the
//! backlog) and writes it to a spill file ([`crate::output::spill`]), so the memory a run holds
//! does not grow with its horizon. `timeseries.csv`, the charts and the recovery figures read
//! the rows back, in order ([`WindowArchive::for_each`]), by index ([`WindowArchive::row`]) or
//! merged into at most a fixed number of spans ([`WindowArchive::spans`]).
//!
//! A row has a fixed length for a run (the layout: its services, their batched deployments
//! and its pools), so row `k` is found without an index.

use std::io;

use crate::kernel::SimDuration;
use crate::metrics::record::BatchWindow;
use crate::metrics::service::WindowStats;
use crate::output::spill::Spill;
use crate::vocab::Tier;

/// Points a chart's series has at most: windows are merged into spans above it. Two days of
/// minute windows fit unmerged.
pub const CHART_POINTS: u64 = 2_880;

/// Points a chart has at most over all its panels: a chart of up to eight panels draws each
/// series with [`CHART_POINTS`], one of more panels with fewer, so that its file stays a few MB
/// however many panels and windows it has.
pub const CHART_BUDGET: u64 = 8 * CHART_POINTS;

/// The most points each series of a chart of `panels` panels has: [`CHART_POINTS`] up to eight
/// panels, then [`CHART_BUDGET`] shared among them, never below a quarter of [`CHART_POINTS`].
pub fn points_per_series(panels: usize) -> u64 {
    (CHART_BUDGET / panels.max(1) as u64).clamp(CHART_POINTS / 4, CHART_POINTS)
}

/// What a row holds, fixed for a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowLayout {
    /// Per service, its batched deployments (none for a service without batching).
    pub batched: Vec<usize>,
    /// Pools; each has a (in use, capacity) pair per tier of [`Tier::ALL`].
    pub pools: usize,
}

impl WindowLayout {
    fn service_bytes(batched: usize) -> usize {
        SERVICE_BYTES + batched * BATCH_BYTES
    }

    /// Bytes of a row.
    pub fn row_bytes(&self) -> usize {
        ROW_HEADER_BYTES
            + self
                .batched
                .iter()
                .map(|&b| Self::service_bytes(b))
                .sum::<usize>()
            + self.pools * Tier::ALL.len() * CAPACITY_BYTES
    }

    /// An empty row of this layout.
    pub fn empty_row(&self) -> WindowRow {
        WindowRow {
            closed: false,
            backlog: 0,
            services: self
                .batched
                .iter()
                .map(|&b| ServiceWindow {
                    batching: vec![BatchWindow::default(); b],
                    ..ServiceWindow::default()
                })
                .collect(),
            capacity: vec![(0, 0); self.pools * Tier::ALL.len()],
        }
    }
}

/// The closed flag and the backlog.
const ROW_HEADER_BYTES: usize = 16;
/// Five counts, three quantiles, the SLO flag (8, padded), two replica counts, utilization.
const SERVICE_BYTES: usize = 5 * 8 + 3 * 8 + 8 + 2 * 4 + 8;
/// Batch mean and KV-cache occupancy.
const BATCH_BYTES: usize = 16;
/// GPUs in use and capacity.
const CAPACITY_BYTES: usize = 8;

/// One service over one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceWindow {
    /// Requests that arrived in the window.
    pub arrived: u64,
    /// Requests that ended served in the window.
    pub served: u64,
    /// Requests that ended degraded in the window.
    pub degraded: u64,
    /// Requests that ended failed in the window.
    pub failed: u64,
    /// Of those, requests answered as another service's fallback.
    pub failed_standing_in: u64,
    /// End-to-end latency quantiles (p50, p95, p99) in ns of requests that ended served or
    /// degraded in the window; `None` when none did.
    pub latency_ns: [Option<u64>; 3],
    /// Whether the SLO held in the window; `None` without an SLO or when no request ended.
    pub slo_met: Option<bool>,
    /// Replicas ready to serve at the window's end.
    pub replicas_ready: u32,
    /// Replicas held (ready or starting) at the window's end.
    pub replicas_held: u32,
    /// Share of ready slots busy during the window, if any were ready.
    pub utilization: Option<f64>,
    /// Per batched deployment, batch size and KV-cache occupancy over the window.
    pub batching: Vec<BatchWindow>,
}

/// The quantiles a window keeps of its latencies, in the order of
/// [`ServiceWindow::latency_ns`].
pub const QUANTILES: [f64; 3] = [0.50, 0.95, 0.99];

impl ServiceWindow {
    /// The figures of a window's `stats` under `slo` (percentile, bound).
    pub fn of(stats: &WindowStats, slo: Option<(f64, SimDuration)>) -> Self {
        ServiceWindow {
            arrived: stats.arrived,
            served: stats.served,
            degraded: stats.degraded,
            failed: stats.failed,
            failed_standing_in: stats.failed_standing_in,
            latency_ns: QUANTILES.map(|q| stats.end_to_end.quantile(q)),
            slo_met: slo.and_then(|(percentile, bound)| stats.meets_slo(percentile, bound)),
            ..ServiceWindow::default()
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for count in [
            self.arrived,
            self.served,
            self.degraded,
            self.failed,
            self.failed_standing_in,
        ] {
            out.extend_from_slice(&count.to_le_bytes());
        }
        for q in self.latency_ns {
            out.extend_from_slice(&q.unwrap_or(u64::MAX).to_le_bytes());
        }
        let slo = match self.slo_met {
            None => 0u64,
            Some(true) => 1,
            Some(false) => 2,
        };
        out.extend_from_slice(&slo.to_le_bytes());
        out.extend_from_slice(&self.replicas_ready.to_le_bytes());
        out.extend_from_slice(&self.replicas_held.to_le_bytes());
        put_optional(out, self.utilization);
        for b in &self.batching {
            put_optional(out, b.batch_mean);
            put_optional(out, b.kv_occupancy);
        }
    }

    fn decode(bytes: &mut Reader<'_>, batched: usize) -> Self {
        let arrived = bytes.u64();
        let served = bytes.u64();
        let degraded = bytes.u64();
        let failed = bytes.u64();
        let failed_standing_in = bytes.u64();
        let latency_ns = [(); 3].map(|()| Some(bytes.u64()).filter(|&v| v != u64::MAX));
        let slo_met = match bytes.u64() {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        };
        ServiceWindow {
            arrived,
            served,
            degraded,
            failed,
            failed_standing_in,
            latency_ns,
            slo_met,
            replicas_ready: bytes.u32(),
            replicas_held: bytes.u32(),
            utilization: bytes.optional(),
            batching: (0..batched)
                .map(|_| BatchWindow {
                    batch_mean: bytes.optional(),
                    kv_occupancy: bytes.optional(),
                })
                .collect(),
        }
    }
}

/// Every figure of one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowRow {
    /// Whether the run closed the window. A last window that the horizon cut short is not
    /// closed: it has its services' requests but no samples (backlog, capacity, replicas).
    pub closed: bool,
    /// Requests queued plus jobs waiting at the window's end.
    pub backlog: u64,
    /// The services, in scenario order.
    pub services: Vec<ServiceWindow>,
    /// GPUs in use and capacity per pool and tier (pool by pool, tiers in [`Tier::ALL`]
    /// order) at the window's end.
    pub capacity: Vec<(u32, u32)>,
}

impl WindowRow {
    /// GPUs in use and capacity of `pool`'s `tier`.
    pub fn capacity_of(&self, pool: usize, tier: Tier) -> (u32, u32) {
        let index = pool * Tier::ALL.len() + tier.index();
        self.capacity.get(index).copied().unwrap_or((0, 0))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&u64::from(self.closed).to_le_bytes());
        out.extend_from_slice(&self.backlog.to_le_bytes());
        for service in &self.services {
            service.encode(out);
        }
        for &(in_use, capacity) in &self.capacity {
            out.extend_from_slice(&in_use.to_le_bytes());
            out.extend_from_slice(&capacity.to_le_bytes());
        }
    }

    fn decode(bytes: &[u8], layout: &WindowLayout) -> Self {
        let mut reader = Reader { bytes, at: 0 };
        let closed = reader.u64() != 0;
        let backlog = reader.u64();
        let services = layout
            .batched
            .iter()
            .map(|&b| ServiceWindow::decode(&mut reader, b))
            .collect();
        let capacity = (0..layout.pools * Tier::ALL.len())
            .map(|_| (reader.u32(), reader.u32()))
            .collect();
        WindowRow {
            closed,
            backlog,
            services,
            capacity,
        }
    }
}

fn put_optional(out: &mut Vec<u8>, value: Option<f64>) {
    // NaN never comes out of the figures (they are ratios of positive counts), so it marks none.
    out.extend_from_slice(&value.unwrap_or(f64::NAN).to_bits().to_le_bytes());
}

/// Reads a row's fields in order. A short row reads as zeros; rows are written by this module
/// with the run's layout, so it does not happen.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(slice) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(slice);
        }
        self.at += N;
        out
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn optional(&mut self) -> Option<f64> {
        Some(f64::from_bits(self.u64())).filter(|v| !v.is_nan())
    }
}

/// Consecutive windows merged into one chart point.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The last window in the span.
    pub last: u64,
    /// Windows merged.
    pub windows: u64,
    /// Of those, windows the run closed (the only ones with samples).
    pub closed: u64,
    /// The merged figures: requests added up; latency quantiles and backlog the largest of
    /// the span's windows (a spike stays visible); capacity, GPUs in use and replicas added
    /// up over the closed windows (divide by `closed` for the mean); batching the mean of
    /// the windows that have it.
    pub row: WindowRow,
}

impl Span {
    fn start(last: u64, row: WindowRow) -> Self {
        Span {
            last,
            windows: 1,
            closed: u64::from(row.closed),
            row,
        }
    }

    fn absorb(&mut self, last: u64, row: &WindowRow) {
        self.last = last;
        self.windows += 1;
        let merged = &mut self.row;
        merged.backlog = merged.backlog.max(row.backlog);
        for (into, from) in merged.services.iter_mut().zip(&row.services) {
            into.arrived += from.arrived;
            into.served += from.served;
            into.degraded += from.degraded;
            into.failed += from.failed;
            into.failed_standing_in += from.failed_standing_in;
            for (q, f) in into.latency_ns.iter_mut().zip(from.latency_ns) {
                *q = (*q).max(f);
            }
            into.slo_met = match (into.slo_met, from.slo_met) {
                (Some(a), Some(b)) => Some(a && b),
                (a, b) => a.or(b),
            };
            if row.closed {
                into.replicas_ready += from.replicas_ready;
                into.replicas_held += from.replicas_held;
            }
            for (b, f) in into.batching.iter_mut().zip(&from.batching) {
                b.batch_mean = mean_of(b.batch_mean, f.batch_mean, self.windows);
                b.kv_occupancy = mean_of(b.kv_occupancy, f.kv_occupancy, self.windows);
            }
        }
        if row.closed {
            self.closed += 1;
            for (into, from) in merged.capacity.iter_mut().zip(&row.capacity) {
                into.0 += from.0;
                into.1 += from.1;
            }
        }
    }
}

/// The running mean of a series with one more value, over `n` values in all; values that are
/// missing do not count.
fn mean_of(mean: Option<f64>, value: Option<f64>, n: u64) -> Option<f64> {
    match (mean, value) {
        (Some(m), Some(v)) => Some(m + (v - m) / n as f64),
        (m, v) => m.or(v),
    }
}

/// How many windows one chart point spans when `windows` are drawn with at most `budget`
/// points.
pub fn stride(windows: u64, budget: u64) -> u64 {
    windows.div_ceil(budget.max(1)).max(1)
}

/// The rows of every metrics window of a run, on disk.
#[derive(Debug)]
pub struct WindowArchive {
    layout: WindowLayout,
    rows: Spill,
    closed: u64,
    scratch: Vec<u8>,
}

impl WindowArchive {
    /// An empty archive of rows of `layout`.
    pub fn new(layout: WindowLayout) -> Self {
        WindowArchive {
            rows: Spill::new(layout.row_bytes()),
            layout,
            closed: 0,
            scratch: Vec::new(),
        }
    }

    /// The layout of its rows.
    pub fn layout(&self) -> &WindowLayout {
        &self.layout
    }

    /// Appends the row of the next window.
    pub fn push(&mut self, row: &WindowRow) {
        row.encode(&mut self.scratch);
        self.rows.push(&self.scratch);
        self.closed += u64::from(row.closed);
    }

    /// Rows, closed or not.
    pub fn len(&self) -> u64 {
        self.rows.len()
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Windows the run closed (they come first).
    pub fn closed(&self) -> u64 {
        self.closed
    }

    /// Bytes held in memory (a write buffer).
    pub fn memory_bytes(&self) -> u64 {
        self.rows.memory_bytes() + self.scratch.capacity() as u64
    }

    /// The first error met writing rows out, after which rows were lost.
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.rows.error()
    }

    fn check(&self) -> io::Result<()> {
        match self.rows.error() {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Row `k`.
    pub fn row(&self, k: u64) -> io::Result<WindowRow> {
        self.check()?;
        let mut bytes = vec![0u8; self.rows.record_len()];
        self.rows.read(k, &mut bytes)?;
        Ok(WindowRow::decode(&bytes, &self.layout))
    }

    /// Calls `visit` with each row's index and the row, in order.
    pub fn for_each(&self, mut visit: impl FnMut(u64, &WindowRow)) -> io::Result<()> {
        self.check()?;
        let mut records = self.rows.records();
        let mut k = 0;
        while let Some(bytes) = records.next_record() {
            visit(k, &WindowRow::decode(bytes?, &self.layout));
            k += 1;
        }
        Ok(())
    }

    /// Service `service`'s figures in every row, read back into memory: for looking at a run,
    /// not for writing files.
    pub fn service_windows(&self, service: usize) -> io::Result<Vec<ServiceWindow>> {
        let mut out = Vec::new();
        self.for_each(|_, row| out.extend(row.services.get(service).cloned()))?;
        Ok(out)
    }

    /// The backlog at the end of every closed window, read back into memory.
    pub fn backlog(&self) -> io::Result<Vec<u64>> {
        let mut out = Vec::new();
        self.for_each(|_, row| {
            if row.closed {
                out.push(row.backlog);
            }
        })?;
        Ok(out)
    }

    /// Calls `visit` with the rows merged `stride` windows at a time (the last span may be
    /// shorter), in order.
    pub fn spans(&self, stride: u64, mut visit: impl FnMut(&Span)) -> io::Result<()> {
        let stride = stride.max(1);
        let mut open: Option<Span> = None;
        self.for_each(|k, row| {
            match &mut open {
                Some(span) => span.absorb(k, row),
                None => open = Some(Span::start(k, row.clone())),
            }
            if (k + 1).is_multiple_of(stride)
                && let Some(span) = open.take()
            {
                visit(&span);
            }
        })?;
        if let Some(span) = open {
            visit(&span);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> WindowLayout {
        WindowLayout {
            batched: vec![0, 2],
            pools: 3,
        }
    }

    fn row(k: u64) -> WindowRow {
        let mut row = layout().empty_row();
        row.closed = k < 9;
        row.backlog = k * 3;
        for (s, service) in row.services.iter_mut().enumerate() {
            service.arrived = k + s as u64;
            service.served = k;
            service.failed = 1;
            service.latency_ns = [Some(k), None, Some(1_000 * k + 1)];
            service.slo_met = [None, Some(true), Some(false)][(k % 3) as usize];
            service.replicas_ready = 2;
            service.replicas_held = 3;
            service.utilization = k.is_multiple_of(2).then_some(0.25 * k as f64);
            for b in &mut service.batching {
                b.batch_mean = Some(k as f64);
            }
        }
        row.capacity[5] = (k as u32, 8);
        row
    }

    #[test]
    fn rows_come_back_as_written_in_order_and_by_index() {
        let mut archive = WindowArchive::new(layout());
        for k in 0..10 {
            archive.push(&row(k));
        }
        assert_eq!((archive.len(), archive.closed()), (10, 9));
        let mut seen = Vec::new();
        archive.for_each(|k, r| seen.push((k, r.clone()))).unwrap();
        assert_eq!(seen.len(), 10);
        for (k, r) in seen {
            assert_eq!(r, row(k));
            assert_eq!(archive.row(k).unwrap(), row(k));
        }
        assert!(archive.row(10).is_err());
    }

    #[test]
    fn spans_add_up_counts_keep_the_worst_latency_and_sum_samples_of_closed_windows() {
        let mut archive = WindowArchive::new(layout());
        for k in 0..10 {
            archive.push(&row(k));
        }
        let mut spans = Vec::new();
        archive.spans(4, |s| spans.push(s.clone())).unwrap();
        assert_eq!(
            spans
                .iter()
                .map(|s| (s.last, s.windows, s.closed))
                .collect::<Vec<_>>(),
            [(3, 4, 4), (7, 4, 4), (9, 2, 1)]
        );
        let first = &spans[0].row.services[1];
        assert_eq!(first.arrived, 1 + 2 + 3 + 4);
        assert_eq!(first.latency_ns, [Some(3), None, Some(3_001)]);
        assert_eq!(first.slo_met, Some(false));
        assert_eq!(first.replicas_held, 12);
        assert_eq!(first.batching[0].batch_mean, Some(1.5));
        // Window 9 is not closed: its capacity does not count.
        assert_eq!(spans[2].row.capacity[5], (8, 8));
        assert_eq!(spans[2].row.backlog, 27);
        // A stride of one hands out the rows themselves.
        let mut ones = Vec::new();
        archive.spans(1, |s| ones.push(s.row.clone())).unwrap();
        assert_eq!(ones, (0..10).map(row).collect::<Vec<_>>());
    }

    #[test]
    fn the_stride_keeps_a_series_within_its_budget() {
        assert_eq!(stride(1_440, CHART_POINTS), 1);
        assert_eq!(stride(CHART_POINTS, CHART_POINTS), 1);
        assert_eq!(stride(CHART_POINTS + 1, CHART_POINTS), 2);
        assert_eq!(stride(35_064, CHART_POINTS), 13);
        assert_eq!(stride(0, CHART_POINTS), 1);
    }

    #[test]
    fn a_chart_of_many_panels_shares_its_budget() {
        assert_eq!(points_per_series(0), CHART_POINTS);
        assert_eq!(points_per_series(8), CHART_POINTS);
        assert_eq!(points_per_series(9), CHART_BUDGET / 9);
        assert_eq!(points_per_series(24), 960);
        assert_eq!(points_per_series(1_000), CHART_POINTS / 4);
    }
}
