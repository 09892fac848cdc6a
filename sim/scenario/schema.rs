//! The scenario file format: what a person writes, as serde types.
//!
//! Every struct denies unknown fields, so a typo (`bandwith:`) is an error that lists the
//! fields that exist. Optional fields may be written bare (`price: "2 USD/h"`) because files are
//! read with RON's `implicit_some` extension. Later parts of the format (workloads, incidents,
//! policies, expectations) are further top-level lists with defaults, so older files stay valid.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::incident::{FailureSpec, IncidentSpec};
use crate::kernel::SimDuration;
use crate::vocab::units::{Bandwidth, DataPrice, DataSize, EnergyPrice, HourlyPrice, Money, Power};
use crate::vocab::{SiteKind, WorkloadClass};
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
    pub expect: Vec<crate::experiment::expect::Expectation>,
    /// The placement and routing policy by name (`lowest_latency` when none is given), or a
    /// list of names to compare under common random numbers.
    #[serde(default)]
    pub policy: Option<crate::policy::PolicyChoice>,
    /// Settings of the built-in policies that have any.
    #[serde(default)]
    pub policies: crate::policy::PolicySettings,
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
        }
    }
}

/// An accelerator type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AcceleratorSpec {
    /// e.g. "H100".
    pub name: String,
    /// Device memory, e.g. "80GB".
    pub memory: DataSize,
    /// Throughput relative to the reference accelerator, per workload class (missing = 1.0).
    #[serde(default)]
    pub speed: BTreeMap<WorkloadClass, f64>,
}

/// A site.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    /// Unique name, e.g. "aws-eu-central-1".
    pub name: String,
    /// Cloud, on-prem, colo or edge.
    pub kind: SiteKind,
    /// Legal jurisdiction as a path, broad to narrow: "eu/de", "us/va". Residency rules match
    /// any prefix: a dataset restricted to "eu" may live at "eu/de" and "eu/fr".
    pub jurisdiction: String,
    /// Price of data leaving the site, per GB.
    #[serde(default)]
    pub egress_price: Option<DataPrice>,
}

/// A GPU pool: one accelerator type at one site, with up to four capacity tiers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Unique name; defaults to `"<site>/<accelerator>"`.
    #[serde(default)]
    pub name: Option<String>,
    /// The site the pool is at.
    pub site: String,
    /// The accelerator type.
    pub accelerator: String,
    /// Physical ceiling of GPUs in the pool across all tiers, if there is one.
    #[serde(default)]
    pub size: Option<u64>,
    /// Committed cloud capacity billed every hour.
    #[serde(default)]
    pub reserved: Option<ReservedTierSpec>,
    /// Owned hardware: amortized capex plus power, billed every hour.
    #[serde(default)]
    pub owned: Option<OwnedTierSpec>,
    /// Burst capacity billed per second allocated, up to a limit.
    #[serde(default)]
    pub on_demand: Option<OnDemandTierSpec>,
    /// Opportunistic capacity at a variable price, preempted with notice.
    #[serde(default)]
    pub spot: Option<SpotTierSpec>,
    /// Random GPU failures, each GPU independently.
    #[serde(default)]
    pub failures: Option<FailureSpec>,
}

/// Reserved (committed) capacity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReservedTierSpec {
    /// GPUs committed.
    pub count: u64,
    /// Price per GPU-hour.
    pub price: HourlyPrice,
}

/// Owned capacity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedTierSpec {
    /// GPUs owned.
    pub count: u64,
    /// Purchase price per GPU, including its share of the server.
    pub capex_per_gpu: Money,
    /// Depreciation period.
    pub lifetime: SimDuration,
    /// Electrical power per GPU including its share of the server.
    pub power_per_gpu: Power,
    /// Power usage effectiveness of the facility (≥ 1).
    #[serde(default = "default_pue")]
    pub pue: f64,
    /// Price of electricity.
    pub energy_price: EnergyPrice,
}

fn default_pue() -> f64 {
    1.3
}

/// On-demand capacity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OnDemandTierSpec {
    /// Most GPUs that can be had at once.
    pub limit: u64,
    /// Price per GPU-hour, billed per second.
    pub price: HourlyPrice,
}

/// Spot capacity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpotTierSpec {
    /// Most GPUs that can be had at once.
    pub limit: u64,
    /// Starting price per GPU-hour, billed per second.
    pub price: HourlyPrice,
    /// Warning given before a preemption.
    #[serde(default = "default_spot_notice")]
    pub notice: SimDuration,
    /// How the tier loses capacity: a reclaim rate per GPU, or an availability trace.
    #[serde(default)]
    pub preemption: Option<crate::incident::spot::SpotPreemptionSpec>,
    /// How its price moves: a random walk or a price trace.
    #[serde(default)]
    pub price_process: Option<crate::incident::price::PriceProcessSpec>,
}

fn default_spot_notice() -> SimDuration {
    SimDuration::from_secs(120)
}

/// A network link between two sites (full duplex: the bandwidth is per direction).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Unique name; defaults to `"<a>--<b>"`.
    #[serde(default)]
    pub name: Option<String>,
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// Capacity in each direction.
    pub bandwidth: Bandwidth,
    /// One-way propagation latency.
    pub latency: SimDuration,
    /// Packet loss probability, 0 ≤ loss < 1.
    #[serde(default)]
    pub loss: f64,
    /// Price per GB carried (interconnect or transit), on top of the sender's egress price.
    #[serde(default)]
    pub price: Option<DataPrice>,
}

/// A dataset.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Unique name.
    pub name: String,
    /// Size.
    pub size: DataSize,
    /// The site that holds the authoritative copy.
    pub home: String,
    /// Jurisdictions the data may be in (prefix match, see [`SiteSpec::jurisdiction`]); empty
    /// means anywhere.
    #[serde(default)]
    pub residency: Vec<String>,
}
