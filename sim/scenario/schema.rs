//! The scenario file format: what a person writes, as serde types.
//!
//! Every struct denies unknown fields, so a typo (`bandwith:`) is an error that lists the
//! fields that exist. Optional fields may be written bare (`price: "2 USD/h"`) because files are
//! read with RON's `implicit_some` extension. Later parts of the format (workloads, incidents,
//! policies, expectations) are further top-level lists with defaults, so older files stay valid.

use serde::{Deserialize, Serialize};

use crate::incident::IncidentSpec;
use crate::infra::spec::{AcceleratorSpec, DatasetSpec, EstateSpec, LinkSpec, PoolSpec, SiteSpec};
use crate::kernel::SimDuration;
use crate::vocab::units::DataSize;
use crate::workload::job::JobSpec;
use crate::workload::service::ServiceSpec;

/// A whole study: the estate, what runs on it, what goes wrong, and how it is judged.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Short name; also the default output folder name.
    pub name: String,
    /// What the study is about, for the report.
    #[serde(default)]
    pub description: String,
    /// How much simulated time to run.
    pub horizon: SimDuration,
    /// Master seed of all random streams (overridden by `--seed`).
    #[serde(default)]
    pub seed: u64,
    /// How time-windowed metrics are cut.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// Accelerator types used by pools.
    #[serde(default)]
    pub accelerators: Vec<AcceleratorSpec>,
    /// Cloud regions, on-prem data centres, colocation and edge sites.
    #[serde(default)]
    pub sites: Vec<SiteSpec>,
    /// GPU pools: one accelerator type at one site, in capacity tiers.
    #[serde(default)]
    pub pools: Vec<PoolSpec>,
    /// Network links between sites.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// Datasets with a home site and residency rules.
    #[serde(default)]
    pub datasets: Vec<DatasetSpec>,
    /// Inference services: models, replicas, demand, SLOs.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Training, fine-tuning and batch jobs, one by one or from sources.
    #[serde(default)]
    pub jobs: Vec<JobSpec>,
    /// Scripted events: failures at given times.
    #[serde(default)]
    pub incidents: Vec<IncidentSpec>,
    /// Assertions on the run's results, judged by `hybridsim check`.
    #[serde(default)]
    pub expect: Vec<super::expect::Expectation>,
    /// The placement and routing policy by name (`lowest_latency` when none is given), or a
    /// list of names to compare under common random numbers.
    #[serde(default)]
    pub policy: Option<crate::policy::PolicyChoice>,
    /// Settings of the built-in policies that have any.
    #[serde(default)]
    pub policies: crate::policy::PolicySettings,
    /// What one run may cost before it is refused or stopped.
    #[serde(default)]
    pub limits: LimitsSpec,
}

/// Budgets that keep a run from running away. Each is judged with a message that names it, so
/// a user who means a large run raises it, e.g. `limits: (requests: 5000000000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most requests the demand may bring over the horizon, estimated from the rates and traces
    /// before the run starts (at a few million requests per second of wall time, the default
    /// is about ten minutes).
    #[serde(default = "LimitsSpec::default_requests")]
    pub requests: u64,
    /// Most events one run may deliver. By default [`LimitsSpec::EVENTS_PER_REQUEST`] per
    /// expected request plus [`LimitsSpec::BASE_EVENTS`]: far above what a sound run needs, so
    /// that only a run caught in a loop of its own making stops.
    #[serde(default)]
    pub events: Option<u64>,
    /// Most requests alive at once: travelling to their site, queued or in service. Each holds
    /// about [`LimitsSpec::BYTES_PER_REQUEST`] bytes, so the default bounds them near 2 GB. A
    /// run reaches it only when requests pile up faster than the estate ends them.
    #[serde(default = "LimitsSpec::default_in_flight")]
    pub in_flight: u64,
    /// Most memory a run may hold for figures that grow with the horizon (the open metrics
    /// windows, the write buffers of the spill files that take the per-window figures and the
    /// cost ledger to disk, the cumulative cost curves and the decision log): estimated at load,
    /// measured at every window's end.
    #[serde(default = "LimitsSpec::default_memory")]
    pub memory: DataSize,
}

impl LimitsSpec {
    /// Default of `requests`.
    pub const DEFAULT_REQUESTS: u64 = 2_000_000_000;
    /// Events allowed per expected request when `events` is not given.
    pub const EVENTS_PER_REQUEST: u64 = 50;
    /// Events allowed whatever the demand, when `events` is not given.
    pub const BASE_EVENTS: u64 = 1_000_000_000;

    /// Default of `in_flight`.
    pub const DEFAULT_IN_FLIGHT: u64 = 10_000_000;
    /// Memory a request alive in a run takes: its slot, its place in a queue and its events.
    pub const BYTES_PER_REQUEST: u64 = 200;

    fn default_requests() -> u64 {
        Self::DEFAULT_REQUESTS
    }

    fn default_in_flight() -> u64 {
        Self::DEFAULT_IN_FLIGHT
    }

    /// Default of `memory`: 8 GB, room on a laptop beside everything else.
    pub const DEFAULT_MEMORY: DataSize = DataSize::from_bytes(8_000_000_000);

    fn default_memory() -> DataSize {
        Self::DEFAULT_MEMORY
    }

    /// The event budget of a run whose demand is expected to bring `expected_requests`.
    pub fn event_budget(&self, expected_requests: f64) -> u64 {
        self.events.unwrap_or_else(|| {
            let per_request = expected_requests.max(0.0) * Self::EVENTS_PER_REQUEST as f64;
            Self::BASE_EVENTS.saturating_add(per_request.min(u64::MAX as f64 / 2.0) as u64)
        })
    }
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            requests: Self::DEFAULT_REQUESTS,
            events: None,
            in_flight: Self::DEFAULT_IN_FLIGHT,
            memory: Self::DEFAULT_MEMORY,
        }
    }
}

impl ScenarioSpec {
    /// The policies the scenario is run under, the default first: its `policy` list, or
    /// `lowest_latency` when it gives none.
    pub fn policy_names(&self) -> Vec<&str> {
        match &self.policy {
            Some(choice) => choice.names().iter().map(String::as_str).collect(),
            None => vec!["lowest_latency"],
        }
    }

    /// The parts of the scenario that describe the estate.
    pub fn estate(&self) -> EstateSpec<'_> {
        EstateSpec {
            accelerators: &self.accelerators,
            sites: &self.sites,
            pools: &self.pools,
            links: &self.links,
            datasets: &self.datasets,
        }
    }
}

/// Time windows for metrics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// Width of a metrics window (latency percentiles, SLO attainment, utilization).
    #[serde(default = "default_window")]
    pub window: SimDuration,
    /// Time at the start excluded from whole-run figures.
    #[serde(default)]
    pub warmup: SimDuration,
    /// Consecutive windows in which every affected SLO holds that count as recovered from an
    /// incident.
    #[serde(default = "default_recovery_windows")]
    pub recovery_windows: u32,
    /// How long after an incident ends (after its start, for an instant one) a missed SLO is
    /// still put down to it: detection and recovery are searched up to then, not to the end of
    /// the run.
    #[serde(default = "default_attribution_window")]
    pub attribution_window: SimDuration,
}

fn default_attribution_window() -> SimDuration {
    SimDuration::from_secs(3_600)
}

fn default_recovery_windows() -> u32 {
    3
}

fn default_window() -> SimDuration {
    SimDuration::from_secs(60)
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            window: default_window(),
            warmup: SimDuration::ZERO,
            recovery_windows: default_recovery_windows(),
            attribution_window: default_attribution_window(),
        }
    }
}
