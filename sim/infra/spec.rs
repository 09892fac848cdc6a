//! The estate as a scenario file writes it: accelerators, sites, pools with their capacity
//! tiers, links and datasets, as serde types; the names given to unnamed pools and links; and
//! the residency rule that says which sites may hold a dataset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::incident::FailureSpec;
use crate::incident::price::PriceProcessSpec;
use crate::incident::spot::SpotPreemptionSpec;
use crate::kernel::SimDuration;
use crate::vocab::units::{Bandwidth, DataPrice, DataSize, EnergyPrice, HourlyPrice, Money, Power};
use crate::vocab::{SiteKind, WorkloadClass};

/// The parts of a scenario that describe the estate, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct EstateSpec<'a> {
    /// Accelerator types used by pools.
    pub accelerators: &'a [AcceleratorSpec],
    /// Cloud regions, on-prem data centres, colocation and edge sites.
    pub sites: &'a [SiteSpec],
    /// GPU pools: one accelerator type at one site, in capacity tiers.
    pub pools: &'a [PoolSpec],
    /// Network links between sites.
    pub links: &'a [LinkSpec],
    /// Datasets with a home site and residency rules.
    pub datasets: &'a [DatasetSpec],
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
    pub preemption: Option<SpotPreemptionSpec>,
    /// With `preemption: rate(…)`: how long a reclaimed GPU stays out of the tier's capacity
    /// before the provider offers it again ([`DEFAULT_RECLAIMED_FOR`] when not given; `"0s"`
    /// gives it back at once). An availability trace says itself when capacity returns.
    #[serde(default)]
    pub reclaimed_for: Option<SimDuration>,
    /// How its price moves: a random walk or a price trace.
    #[serde(default)]
    pub price_process: Option<PriceProcessSpec>,
}

/// How long a GPU reclaimed at a rate stays out of a spot tier unless the scenario says
/// (`reclaimed_for`): one hour. An assumption, not a measured figure: providers publish how often
/// they reclaim (AWS's interruption-frequency buckets) but not how long capacity stays gone;
/// availability traces (`preemption: availability(…)`) carry the real spells.
pub const DEFAULT_RECLAIMED_FOR: SimDuration = SimDuration::from_secs(3600);

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

/// The pool's name: given, or `"<site>/<accelerator>"`.
pub fn pool_name(pool: &PoolSpec) -> String {
    pool.name
        .clone()
        .unwrap_or_else(|| format!("{}/{}", pool.site, pool.accelerator))
}

/// The link's name: given, or `"<a>--<b>"`.
pub fn link_name(link: &LinkSpec) -> String {
    link.name
        .clone()
        .unwrap_or_else(|| format!("{}--{}", link.a, link.b))
}

/// Whether a site in `jurisdiction` may hold what `residency` restricts: an empty list allows
/// anywhere, otherwise the jurisdiction must lie within one of the listed prefixes.
pub fn within_residency(jurisdiction: &str, residency: &[String]) -> bool {
    residency.is_empty()
        || residency
            .iter()
            .any(|allowed| in_jurisdiction(jurisdiction, allowed))
}

/// Whether a site in `jurisdiction` (e.g. "eu/de") lies within `allowed` (e.g. "eu").
pub fn in_jurisdiction(jurisdiction: &str, allowed: &str) -> bool {
    let allowed = allowed.trim_end_matches('/');
    jurisdiction == allowed
        || jurisdiction
            .strip_prefix(allowed)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::in_jurisdiction;

    #[test]
    fn jurisdictions_match_by_path_prefix() {
        assert!(in_jurisdiction("eu/de", "eu"));
        assert!(in_jurisdiction("eu/de", "eu/de"));
        assert!(in_jurisdiction("eu", "eu/"));
        assert!(!in_jurisdiction("eu/de", "eu/fr"));
        assert!(!in_jurisdiction("europe", "eu"));
        assert!(!in_jurisdiction("eu", "eu/de"));
    }
}
