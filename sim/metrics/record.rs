//! What a finished run recorded, as plain owned data: everything the outputs (`jobs.csv`,
//! `decisions.csv`, `timeseries.csv`, `cost.csv`, the charts, `report.html`, the comparison and
//! study figures) are written from, so that none of them reads the live model.
//!
//! A [`RunRecord`] is built once, when the run ends, by moving what the model kept out of it
//! (the ledger, the window archive, the cost curves, the decision log and the job rows, all on
//! disk); it is
//! never bigger than what the model already held, and nothing is collected per request.

use std::io;

use crate::infra::ledger::Ledger;
use crate::kernel::{SimDuration, SimTime};
use crate::metrics::Summary;
use crate::metrics::archive::WindowArchive;
use crate::metrics::job::{JobOutcome, JobRecord};
use crate::metrics::timeseries::CostCurves;
use crate::output::spill::FrameSpill;
use crate::policy::DecisionLog;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{PoolId, SiteId};
use crate::workload::job::InterruptCause;

/// The outcome of a run: its headline figures and everything else it recorded.
#[derive(Debug)]
pub struct RunOutcome {
    /// The headline figures (`summary.json`).
    pub summary: Summary,
    /// What the run recorded, for the other outputs.
    pub record: RunRecord,
}

/// Everything a finished run recorded beyond its [`Summary`].
#[derive(Debug)]
pub struct RunRecord {
    /// The end of the simulated period.
    pub horizon: SimTime,
    /// The width of a metrics window.
    pub window: SimDuration,
    /// The figures of every metrics window (requests and latency per service, backlog, GPUs per
    /// pool and tier), on disk.
    pub windows: WindowArchive,
    /// Every charge, in the order charged, with its running totals.
    pub ledger: Ledger,
    /// Cumulative cost per closed window by category and tier, built from the ledger as the
    /// run went, on disk.
    pub cost: CostCurves,
    /// Every decision taken, in time order, on disk.
    pub decisions: DecisionLog,
    /// The services, in scenario order.
    pub services: Vec<ServiceRecord>,
    /// The jobs' rows, on disk, read back in the order the jobs were created (a job's index is
    /// its payer's workload).
    pub jobs: JobRows,
    /// The names of the estate's sites and pools.
    pub estate: EstateNames,
}

impl RunRecord {
    /// Metrics windows closed during the run.
    pub fn windows_closed(&self) -> usize {
        self.windows.closed() as usize
    }
}

/// What a service recorded.
#[derive(Debug, Clone)]
pub struct ServiceRecord {
    /// Its name.
    pub name: String,
    /// Its latency SLO: end-to-end percentile and bound.
    pub slo: Option<(f64, SimDuration)>,
    /// For a batched service, the pools of its deployments, in the order of its rows'
    /// batching figures.
    pub batched_pools: Vec<PoolId>,
}

/// A batched deployment over one metrics window, averaged over the time its replicas were ready.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BatchWindow {
    /// Sequences per ready replica; `None` when no replica was ready.
    pub batch_mean: Option<f64>,
    /// Share of the ready replicas' KV cache reserved; `None` when unbounded or none was ready.
    pub kv_occupancy: Option<f64>,
}

/// What a job was and what happened to it (a row of `jobs.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Its name.
    pub name: String,
    /// Its workload class.
    pub class: WorkloadClass,
    /// GPUs it asks for.
    pub gpus: u32,
    /// Its work in reference GPU-hours.
    pub work_gpu_hours: f64,
    /// Where its life stood when the run ended.
    pub outcome: JobOutcome,
    /// The last pool and tier it ran on.
    pub placed: Option<(PoolId, Tier)>,
    /// Whether it missed its deadline (`None`: it has none).
    pub deadline_missed: Option<bool>,
    /// What it cost over every category charged to it, in USD.
    pub cost_usd: f64,
    /// Its timeline, interruptions and GPU time.
    pub record: JobRecord,
}

/// Rows read back per pass when the rows are put in creation order: the memory of a pass.
const ROWS_PER_PASS: u32 = 4_096;

/// The rows of a run's jobs, on disk: each is appended, with its job's index, when the job
/// ends (or when the run does), so a run holds only the jobs still alive. Jobs end out of the
/// order they were made; reading in creation order ([`JobRows::for_each`]) takes one pass over
/// the file per [`ROWS_PER_PASS`] jobs, each keeping only the rows of its range.
#[derive(Debug, Default)]
pub struct JobRows {
    frames: FrameSpill,
    /// One past the highest index appended.
    end: u32,
    scratch: Vec<u8>,
}

impl JobRows {
    /// Appends the row of the job at `index`, which has no row yet.
    pub fn push(&mut self, index: u32, row: &JobRow) {
        self.scratch.clear();
        self.scratch.extend_from_slice(&index.to_le_bytes());
        row.encode(&mut self.scratch);
        self.frames.push(&self.scratch);
        self.end = self.end.max(index.saturating_add(1));
    }

    /// Rows appended.
    pub fn len(&self) -> u64 {
        self.frames.len()
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes held in memory (the write buffer).
    pub fn memory_bytes(&self) -> u64 {
        self.frames.memory_bytes() + self.scratch.capacity() as u64
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.frames.disk_bytes()
    }

    /// The first error met writing rows out, after which rows were lost.
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.frames.error()
    }

    /// Calls `visit` with each row and its job's index, in the order appended.
    pub fn for_each_appended(&self, mut visit: impl FnMut(u32, &JobRow)) -> io::Result<()> {
        if let Some(e) = self.frames.error() {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let mut frames = self.frames.frames();
        while let Some(frame) = frames.next_frame() {
            let (index, row) = decode_row(frame?)?;
            visit(index, &row);
        }
        Ok(())
    }

    /// Calls `visit` with each row and its job's index, in index order (the order the jobs
    /// were created).
    pub fn for_each(&self, mut visit: impl FnMut(u32, &JobRow)) -> io::Result<()> {
        let mut from = 0;
        while from < self.end {
            let to = from.saturating_add(ROWS_PER_PASS).min(self.end);
            let mut pass: Vec<Option<JobRow>> = vec![None; (to - from) as usize];
            self.for_each_appended(|index, row| {
                if (from..to).contains(&index) {
                    pass[(index - from) as usize] = Some(row.clone());
                }
            })?;
            for (offset, row) in pass.iter().enumerate() {
                if let Some(row) = row {
                    visit(from + offset as u32, row);
                }
            }
            from = to;
        }
        Ok(())
    }

    /// Every row in index order, read back into memory: for looking at a run, not for writing
    /// files.
    pub fn rows(&self) -> io::Result<Vec<JobRow>> {
        let mut out = Vec::new();
        self.for_each(|_, row| out.push(row.clone()))?;
        Ok(out)
    }
}

impl JobRow {
    /// Appends the row's record: numbers little-endian, an absent time or pool as all ones,
    /// texts as a u32 length and their UTF-8 bytes.
    fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, &self.name);
        out.push(position(&WorkloadClass::ALL, self.class));
        out.extend_from_slice(&self.gpus.to_le_bytes());
        out.extend_from_slice(&self.work_gpu_hours.to_bits().to_le_bytes());
        out.push(position(&JobOutcome::ALL, self.outcome));
        let (pool, tier) = self.placed.map_or((u32::MAX, 0), |(p, t)| (p.0, t.index() as u8));
        out.extend_from_slice(&pool.to_le_bytes());
        out.push(tier);
        out.push(match self.deadline_missed {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        out.extend_from_slice(&self.cost_usd.to_bits().to_le_bytes());
        let r = &self.record;
        for time in [r.submitted, r.first_start, r.ended] {
            out.extend_from_slice(&time.map_or(u64::MAX, SimTime::as_nanos).to_le_bytes());
        }
        for count in r.interruptions.iter().chain([&r.placements, &r.checkpoints]) {
            out.extend_from_slice(&count.to_le_bytes());
        }
        for gpu_ns in [r.held_gpu_ns, r.useful_gpu_ns, r.lost_gpu_ns, r.checkpoint_gpu_ns] {
            out.extend_from_slice(&gpu_ns.to_le_bytes());
        }
        out.extend_from_slice(&r.staging_ns.to_le_bytes());
        out.extend_from_slice(&r.restore_ns.to_le_bytes());
        put_text(out, &r.note);
    }
}

/// Where `value` is in `all`, as a byte (every list here is short).
fn position<T: PartialEq>(all: &[T], value: T) -> u8 {
    all.iter().position(|v| *v == value).unwrap_or(0) as u8
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    // Names and notes are a line; one longer than u32::MAX bytes is cut.
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..len as usize]);
}

/// The index and row `JobRows::push` wrote into `bytes`.
fn decode_row(bytes: &[u8]) -> io::Result<(u32, JobRow)> {
    let mut r = Reader { bytes };
    let index = u32::from_le_bytes(r.take()?);
    let name = r.text()?;
    let class = *WorkloadClass::ALL
        .get(usize::from(r.byte()?))
        .ok_or_else(|| corrupt("an unknown class"))?;
    let gpus = u32::from_le_bytes(r.take()?);
    let work_gpu_hours = f64::from_bits(u64::from_le_bytes(r.take()?));
    let outcome = *JobOutcome::ALL
        .get(usize::from(r.byte()?))
        .ok_or_else(|| corrupt("an unknown outcome"))?;
    let pool = u32::from_le_bytes(r.take()?);
    let tier = *Tier::ALL
        .get(usize::from(r.byte()?))
        .ok_or_else(|| corrupt("an unknown tier"))?;
    let placed = (pool != u32::MAX).then_some((PoolId(pool), tier));
    let deadline_missed = match r.byte()? {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    };
    let cost_usd = f64::from_bits(u64::from_le_bytes(r.take()?));
    let mut time = || -> io::Result<Option<SimTime>> {
        let ns = u64::from_le_bytes(r.take()?);
        Ok((ns != u64::MAX).then_some(SimTime::from_nanos(ns)))
    };
    let (submitted, first_start, ended) = (time()?, time()?, time()?);
    let mut interruptions = [0u32; InterruptCause::ALL.len()];
    for count in &mut interruptions {
        *count = u32::from_le_bytes(r.take()?);
    }
    let placements = u32::from_le_bytes(r.take()?);
    let checkpoints = u32::from_le_bytes(r.take()?);
    let mut gpu_ns = [0u128; 4];
    for value in &mut gpu_ns {
        *value = u128::from_le_bytes(r.take()?);
    }
    let [held_gpu_ns, useful_gpu_ns, lost_gpu_ns, checkpoint_gpu_ns] = gpu_ns;
    let staging_ns = u64::from_le_bytes(r.take()?);
    let restore_ns = u64::from_le_bytes(r.take()?);
    let note = r.text()?;
    let record = JobRecord {
        submitted,
        first_start,
        ended,
        interruptions,
        placements,
        held_gpu_ns,
        useful_gpu_ns,
        lost_gpu_ns,
        checkpoint_gpu_ns,
        checkpoints,
        staging_ns,
        restore_ns,
        note,
    };
    let row = JobRow {
        name,
        class,
        gpus,
        work_gpu_hours,
        outcome,
        placed,
        deadline_missed,
        cost_usd,
        record,
    };
    Ok((index, row))
}

/// Reads a row's fields in order.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| corrupt("a job row ended early"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn byte(&mut self) -> io::Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    fn text(&mut self) -> io::Result<String> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        if len > self.bytes.len() {
            return Err(corrupt("a job row ended early"));
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| corrupt("a job's text is not UTF-8"))
    }
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("job rows: {what}"))
}

/// The names of the estate's sites and pools, by index.
#[derive(Debug, Clone, Default)]
pub struct EstateNames {
    /// Site names.
    pub sites: Vec<String>,
    /// Pools with their site and the tiers they have.
    pub pools: Vec<PoolNames>,
}

impl EstateNames {
    /// The name of `site`.
    pub fn site(&self, site: SiteId) -> &str {
        self.sites.get(site.index()).map_or("", String::as_str)
    }

    /// The name of `pool`.
    pub fn pool(&self, pool: PoolId) -> &str {
        self.pools.get(pool.index()).map_or("", |p| p.name.as_str())
    }
}

/// A pool as the outputs name it.
#[derive(Debug, Clone)]
pub struct PoolNames {
    /// Its name (`site/accelerator`).
    pub name: String,
    /// Its site.
    pub site: SiteId,
    /// The tiers it has, in [`Tier::ALL`] order.
    pub tiers: Vec<Tier>,
}
