//! How scenarios choose and configure policies: `policy` names one built-in policy or a list of
//! them to compare, and `policies` holds the settings of those that have any.
//!
//! ```ron
//! policy: ["cheapest", "tiered", "failover"],
//! policies: (
//!     tiered: (spot_ceiling: "2.50 USD/h", classes: {training: [reserved, on_demand]}),
//!     cost_ceiling: (budget: "400 USD/h"),
//!     failover: (services: {"chat": ["eu-fra", "eu-par"]}, jobs: ["eu-fra", "eu-par"]),
//!     weighted: (cost: 1.0, latency: 2.0, transfer: 0.5, gravity: 0.5),
//!     route_margin: 0.2,
//! ),
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::kernel::SimDuration;
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::units::HourlyPrice;

/// One policy name or several: `"cheapest"` or `["cheapest", "tiered"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PolicyChoice(pub Vec<String>);

impl PolicyChoice {
    /// The names, in the order given.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for PolicyChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> Visitor<'de> for Names {
            type Value = PolicyChoice;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a policy name such as "cheapest", or a list such as ["cheapest", "tiered"]"#)
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<PolicyChoice, E> {
                Ok(PolicyChoice(vec![name.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PolicyChoice, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                if names.is_empty() {
                    return Err(de::Error::invalid_length(0, &"at least one policy name"));
                }
                Ok(PolicyChoice(names))
            }
        }
        deserializer.deserialize_any(Names)
    }
}

/// Settings of the built-in policies; each policy reads only its own part.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// `tiered`: tier order per class and the spot price ceiling.
    #[serde(default)]
    pub tiered: TieredSpec,
    /// `cost_ceiling`: the budget rate.
    #[serde(default)]
    pub cost_ceiling: CostCeilingSpec,
    /// `failover`: ordered sites per service and for jobs.
    #[serde(default)]
    pub failover: FailoverSpec,
    /// `weighted`: the weights of the score.
    #[serde(default)]
    pub weighted: WeightedSpec,
    /// `cheapest` and `weighted` move a running job when another placement is better by at
    /// least this fraction (0.25 = 25% cheaper), which pays for the checkpoint and restart.
    #[serde(default = "default_migration_gain")]
    pub migration_gain: f64,
    /// Every policy keeps a request stream (a service's demand from one origin) on its site
    /// unless another site's route score is lower by more than this fraction of the site's
    /// (0.2 = 20% better), the site can no longer serve, or the stream's preferred site (best
    /// with no queues) scores no worse; requests overflow to another site while it is full.
    /// Without it, a stream's site flaps between sites whose scores are nearly equal. 0 routes
    /// every request to the policy's best choice, each a change of the stream's site.
    #[serde(default = "default_route_margin")]
    pub route_margin: f64,
}

/// What a scenario without `policies` gets: each field's documented default (a derived
/// `Default` would set the fractions to 0).
impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            tiered: TieredSpec::default(),
            cost_ceiling: CostCeilingSpec::default(),
            failover: FailoverSpec::default(),
            weighted: WeightedSpec::default(),
            migration_gain: default_migration_gain(),
            route_margin: default_route_margin(),
        }
    }
}

fn default_migration_gain() -> f64 {
    0.25
}

/// The default route margin, chosen by measurement on the bundled scenarios when streams did
/// not overflow: 0.1–0.15 left load-driven flapping between near-equal sites, 0.25–0.3 kept
/// streams on a worse site. With overflow and the move to the preferred site it decides when a
/// stream's site changes; with 0.2 the quickstart logs 2 route changes a day (the streams'
/// first requests) instead of about 1,360, and its requests are served where per-request
/// routing served them (README, Policies).
pub const DEFAULT_ROUTE_MARGIN: f64 = 0.2;

fn default_route_margin() -> f64 {
    DEFAULT_ROUTE_MARGIN
}

/// Fixed → burst → opportunistic: the tier order per workload class.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TieredSpec {
    /// Tier order for classes not in `classes`.
    #[serde(default = "default_tier_order")]
    pub order: Vec<Tier>,
    /// Tier order per class; a tier left out is not used for that class.
    #[serde(default)]
    pub classes: BTreeMap<WorkloadClass, Vec<Tier>>,
    /// Spot is used only while its price per GPU-hour is at most this; jobs on spot move off
    /// when it rises above.
    #[serde(default)]
    pub spot_ceiling: Option<HourlyPrice>,
}

fn default_tier_order() -> Vec<Tier> {
    vec![Tier::Reserved, Tier::Owned, Tier::OnDemand, Tier::Spot]
}

impl Default for TieredSpec {
    fn default() -> Self {
        TieredSpec {
            order: default_tier_order(),
            classes: BTreeMap::new(),
            spot_ceiling: None,
        }
    }
}

impl TieredSpec {
    /// The tier order for `class`.
    pub fn order_for(&self, class: WorkloadClass) -> &[Tier] {
        self.classes.get(&class).unwrap_or(&self.order)
    }
}

/// A budget on the spend rate of pay-per-use capacity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostCeilingSpec {
    /// The most the run may spend per hour on on-demand and spot GPUs.
    #[serde(default)]
    pub budget: Option<HourlyPrice>,
    /// Services with a fallback are switched to it while spending is above the budget.
    #[serde(default = "yes")]
    pub degrade: bool,
    /// Switched services come back when spending falls below this fraction of the budget.
    #[serde(default = "default_resume_below")]
    pub resume_below: f64,
    /// How often spending is checked.
    #[serde(default = "default_check_every")]
    pub check_every: SimDuration,
    /// A switched service stays on its fallback at least this long. Switching sheds load, the
    /// autoscaler then removes replicas and spending drops; coming back at once would bring
    /// the load back to too few replicas and switch again minutes later.
    #[serde(default = "default_hold")]
    pub hold: SimDuration,
}

fn default_hold() -> SimDuration {
    SimDuration::from_secs(30 * 60)
}

fn yes() -> bool {
    true
}

fn default_resume_below() -> f64 {
    0.9
}

fn default_check_every() -> SimDuration {
    SimDuration::from_secs(60)
}

impl Default for CostCeilingSpec {
    fn default() -> Self {
        CostCeilingSpec {
            budget: None,
            degrade: true,
            resume_below: default_resume_below(),
            check_every: default_check_every(),
            hold: default_hold(),
        }
    }
}

/// Ordered site lists: the first that is up serves; the next takes over when it goes down.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// Sites per service, primary first.
    #[serde(default)]
    pub services: BTreeMap<String, Vec<String>>,
    /// Sites for jobs, primary first; sites not listed come after, cheapest first.
    #[serde(default)]
    pub jobs: Vec<String>,
}

/// The weights of the `weighted` score (lower is better). Each term has a unit, so a weight
/// says what one unit of it is worth against the others.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedSpec {
    /// Per USD per effective GPU-hour (jobs) or per USD per GPU-hour of the replicas (routes).
    #[serde(default = "one")]
    pub cost: f64,
    /// Per 100 ms of expected request latency (routes).
    #[serde(default = "one")]
    pub latency: f64,
    /// Per hour of estimated staging time before a job can start (jobs).
    #[serde(default = "one")]
    pub transfer: f64,
    /// Per TB of data that has to leave where it lives (jobs).
    #[serde(default = "one")]
    pub gravity: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for WeightedSpec {
    fn default() -> Self {
        WeightedSpec {
            cost: 1.0,
            latency: 1.0,
            transfer: 1.0,
            gravity: 1.0,
        }
    }
}
