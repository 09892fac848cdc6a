//! `expect` assertions as a scenario file writes them: what a scenario promises about its own
//! results, each in the units the rest of the file uses:
//!
//! ```ron
//! expect: [
//!     latency(service: "chat", percentile: 99.0, below: "800ms"),
//!     latency(service: "chat", percentile: 50.0, component: ttft, origin: "users-eu", below: "300ms"),
//!     slo_attainment(service: "chat", above: 0.99),
//!     slo_attainment(service: "chat", above: 0.995, policy: "failover"),
//!     cost(below: "5000 USD"),
//!     cost(category: egress, below: "100 USD"),
//!     time_to_recover(incident: "eu-outage", below: "15m"),
//!     backlog_drain(incident: "eu-outage", below: "5m"),
//!     goodput(class: training, above: 0.9),
//!     jobs_completed(class: training, at_least: 10),
//!     requests_failed(service: "chat", at_most: 100),
//! ]
//! ```
//!
//! Every assertion takes an optional `policy: "failover"`, one of the scenario's `policy` list,
//! to be judged on the run under that policy. The scenario checks resolve every name when the
//! file is loaded; `crate::experiment::expect` judges the assertions against a run's summary.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::infra::ledger::CostCategory;
use crate::kernel::SimDuration;
use crate::vocab::units::Money;
use crate::vocab::{Tier, WorkloadClass};

/// The latency percentiles the summary reports, as written in `percentile:`.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 95.0, 99.0, 99.9];

/// One assertion on a run's results.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// A latency percentile of a service is below a bound:
    /// `services.<service>.latency_ms.<component>.p<percentile>`, or the end-to-end latency of
    /// requests from one origin (`latency_ms_by_origin`).
    Latency {
        /// The service.
        service: String,
        /// One of the reported percentiles: 50, 90, 95, 99 or 99.9.
        percentile: f64,
        /// Which part of the latency: `e2e` (the default), `ttft`, `queue`, `network`, `service`,
        /// or `tpot` (time per output token, batched services).
        #[serde(default)]
        component: LatencyComponent,
        /// Only requests from this demand origin (end-to-end latency only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        /// The measured latency must be below this.
        below: SimDuration,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// The share of a service's requests within its SLO is above a bound
    /// (`services.<service>.slo.attainment`).
    SloAttainment {
        /// The service; it must have an `slo`.
        service: String,
        /// A share between 0 and 1, e.g. 0.99.
        above: f64,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// What the run cost is below a bound: the total, or one category, tier, site or workload
    /// class of the ledger (`cost.total_usd`, `cost.by_<…>`). At most one of them may be given.
    Cost {
        /// Only this category: compute, idle_reserved, egress, storage, interconnect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<CostCategory>,
        /// Only this capacity tier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tier: Option<Tier>,
        /// Only this site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site: Option<String>,
        /// Only this workload class.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<WorkloadClass>,
        /// The cost must be below this.
        below: Money,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// A scripted incident's time to recover is below a bound (`incidents[].time_to_recover_s`);
    /// never recovering fails.
    TimeToRecover {
        /// The incident's name.
        incident: String,
        /// The time to recover must be below this.
        below: SimDuration,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// A scripted incident's backlog drains in less than a bound after it ends
    /// (`incidents[].backlog_drain_s`); a backlog that never drains fails.
    BacklogDrain {
        /// The incident's name; it needs a `duration` (or to be instant).
        incident: String,
        /// The drain time must be below this.
        below: SimDuration,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// Useful GPU-hours over held GPU-hours of a job class (or of all jobs) is above a bound
    /// (`jobs.<class>.goodput`).
    Goodput {
        /// The class; all jobs when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<WorkloadClass>,
        /// A share between 0 and 1, e.g. 0.9.
        above: f64,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// At least this many jobs of a class (or of all classes) completed
    /// (`jobs.<class>.completed`).
    JobsCompleted {
        /// The class; all jobs when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<WorkloadClass>,
        /// The fewest completed jobs that pass.
        at_least: u64,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// At most this many requests of a service (or of all services, summed) failed
    /// (`services.<service>.requests.failed`).
    RequestsFailed {
        /// The service; all services when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// The most failed requests that pass.
        at_most: u64,
        /// Judged on the run under this policy, one of the scenario's `policy` list; on the
        /// default (first-listed) policy's run when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
}

/// A part of a request's latency, as the summary splits it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyComponent {
    /// End to end: network, queue and service.
    #[default]
    E2e,
    /// Time to first token.
    Ttft,
    /// Waiting for a slot.
    Queue,
    /// Network round trip.
    Network,
    /// In service.
    Service,
    /// Time per output token after the first (batched services).
    Tpot,
}

impl LatencyComponent {
    /// The key in `summary.json` (`latency_ms.<key>`).
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyComponent::E2e => "e2e",
            LatencyComponent::Ttft => "ttft",
            LatencyComponent::Queue => "queue",
            LatencyComponent::Network => "network",
            LatencyComponent::Service => "service",
            LatencyComponent::Tpot => "tpot",
        }
    }
}

/// The reported name of a percentile: `p99`, `p99.9`.
pub fn percentile_name(percentile: f64) -> String {
    format!("p{percentile}")
}

/// Whether `percentile` is one of [`PERCENTILES`].
pub fn is_reported_percentile(percentile: f64) -> bool {
    PERCENTILES.iter().any(|p| (p - percentile).abs() < 1e-9)
}

impl Expectation {
    /// What is asserted, short: `latency(chat p99)`, `cost(category egress)`,
    /// `time_to_recover(eu-outage)`.
    pub fn describe(&self) -> String {
        let all_jobs = |class: &Option<WorkloadClass>| class.map_or("all jobs", WorkloadClass::as_str);
        match self {
            Expectation::Latency {
                service,
                percentile,
                component,
                origin,
                ..
            } => {
                let mut text = format!("latency({service} {}", percentile_name(*percentile));
                if *component != LatencyComponent::E2e {
                    let _ = write!(text, " {}", component.as_str());
                }
                if let Some(origin) = origin {
                    let _ = write!(text, " from {origin}");
                }
                text + ")"
            }
            Expectation::SloAttainment { service, .. } => format!("slo_attainment({service})"),
            Expectation::Cost {
                category,
                tier,
                site,
                class,
                ..
            } => {
                let of = if let Some(category) = category {
                    format!("category {}", category.as_str())
                } else if let Some(tier) = tier {
                    format!("tier {}", tier.as_str())
                } else if let Some(site) = site {
                    format!("site {site}")
                } else if let Some(class) = class {
                    format!("class {}", class.as_str())
                } else {
                    "total".into()
                };
                format!("cost({of})")
            }
            Expectation::TimeToRecover { incident, .. } => format!("time_to_recover({incident})"),
            Expectation::BacklogDrain { incident, .. } => format!("backlog_drain({incident})"),
            Expectation::Goodput { class, .. } => format!("goodput({})", all_jobs(class)),
            Expectation::JobsCompleted { class, .. } => format!("jobs_completed({})", all_jobs(class)),
            Expectation::RequestsFailed { service, .. } => {
                format!(
                    "requests_failed({})",
                    service.as_deref().unwrap_or("all services")
                )
            }
        }
    }

    /// The policy whose run this assertion is judged on, when it names one.
    pub fn policy(&self) -> Option<&str> {
        match self {
            Expectation::Latency { policy, .. }
            | Expectation::SloAttainment { policy, .. }
            | Expectation::Cost { policy, .. }
            | Expectation::TimeToRecover { policy, .. }
            | Expectation::BacklogDrain { policy, .. }
            | Expectation::Goodput { policy, .. }
            | Expectation::JobsCompleted { policy, .. }
            | Expectation::RequestsFailed { policy, .. } => policy.as_deref(),
        }
    }
}
