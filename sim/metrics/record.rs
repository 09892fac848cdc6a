//! What a finished run recorded, as plain owned data: everything the outputs (`jobs.csv`,
//! `decisions.csv`, `timeseries.csv`, `cost.csv`, the charts, `report.html`, the comparison and
//! study figures) are written from, so that none of them reads the live model.
//!
//! A [`RunRecord`] is built once, when the run ends, by moving what the model kept out of it
//! (the ledger and the window archive, both on disk, the decision log, the job records); it is
//! never bigger than what the model already held, and nothing is collected per request.

use crate::infra::ledger::{Ledger, Payer};
use crate::kernel::{SimDuration, SimTime};
use crate::metrics::Summary;
use crate::metrics::archive::WindowArchive;
use crate::metrics::job::{JobOutcome, JobRecord};
use crate::metrics::timeseries::CostCurves;
use crate::policy::Decision;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{PoolId, SiteId};

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
    /// Cumulative cost per window by category and tier, read from the ledger when the run
    /// ended.
    pub cost: CostCurves,
    /// Every decision taken, in time order.
    pub decisions: Vec<Decision>,
    /// The services, in scenario order.
    pub services: Vec<ServiceRecord>,
    /// The jobs, in the order they were created (a job's index is its payer's workload).
    pub jobs: Vec<JobRow>,
    /// The names of the estate's sites and pools.
    pub estate: EstateNames,
}

impl RunRecord {
    /// Metrics windows closed during the run.
    pub fn windows_closed(&self) -> usize {
        self.windows.closed() as usize
    }

    /// What job `index` cost, over every category charged to it.
    pub fn job_cost(&self, index: usize) -> f64 {
        self.jobs.get(index).map_or(0.0, |job| {
            self.ledger.of_payer(Payer {
                class: job.class,
                workload: index as u32,
            })
        })
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
    /// Its timeline, interruptions and GPU time.
    pub record: JobRecord,
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
