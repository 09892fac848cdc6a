//! The built-in policies, chosen by name in a scenario (`policy: "tiered"`) and configured in
//! its `policies:` section: the registry of names, and what two of them share. Each policy lives
//! in its own file and states its scores there; each reacts to outages and price shocks the way
//! its name promises, and every reaction goes through the decision log.
//!
//! - [`lowest_latency`]: the shortest expected request latency (network, queue, service); jobs
//!   in their most preferred tier, then cheapest. The default, and the trait's default scores.
//! - [`cheapest`]: the lowest price, for requests and jobs; moves running jobs when prices fall
//!   elsewhere.
//! - [`data_local`]: no data moved for jobs, else the least; requests by latency.
//! - [`tiered`]: fixed capacity before burst before spot, spot only under a price ceiling.
//! - [`cost_ceiling`]: pay-per-use spend under a budget; services degrade while it is over.
//! - [`failover`]: ordered site lists, with standbys scaled up and jobs restored when a site
//!   goes down.
//! - [`weighted`]: a weighted sum of cost, latency, staging time and data moved.

pub(super) mod cheapest;
pub(super) mod cost_ceiling;
pub(super) mod data_local;
pub(super) mod failover;
pub mod lowest_latency;
pub(super) mod tiered;
pub(super) mod weighted;

#[cfg(test)]
mod fixtures;

pub use cheapest::Cheapest;
pub use cost_ceiling::CostCeiling;
pub use data_local::DataLocal;
pub use failover::Failover;
pub use lowest_latency::LowestLatency;
pub use tiered::Tiered;
pub use weighted::Weighted;

use super::spec::PolicySettings;
use super::{Action, JobStatus, PlacementCandidate, Policy, Signal, View};
use crate::vocab::NameTable;
use crate::vocab::ids::{ServiceId, SiteId};

/// The names of the built-in policies, as written in scenarios.
pub const BUILT_IN: [&str; 7] = [
    "lowest_latency",
    "cheapest",
    "data_local",
    "tiered",
    "cost_ceiling",
    "failover",
    "weighted",
];

/// The built-in policy called `name`, configured from `settings`, with site and service names
/// resolved through a scenario's `sites` and `services` tables; `None` for an unknown name.
pub fn built_in(
    name: &str,
    settings: &PolicySettings,
    sites: &NameTable<SiteId>,
    services: &NameTable<ServiceId>,
) -> Option<Box<dyn Policy>> {
    let gain = settings.migration_gain;
    Some(match name {
        "lowest_latency" => Box::new(LowestLatency),
        "cheapest" => Box::new(Cheapest { migration_gain: gain }),
        "data_local" => Box::new(DataLocal),
        "tiered" => Box::new(Tiered::new(settings.tiered.clone())),
        "cost_ceiling" => Box::new(CostCeiling::new(settings.cost_ceiling.clone())),
        "failover" => Box::new(Failover::new(&settings.failover, sites, services)),
        "weighted" => Box::new(Weighted {
            weights: settings.weighted.clone(),
            migration_gain: gain,
        }),
        _ => return None,
    })
}

/// Whether the signal changes what placements cost or which exist (a link's condition changes
/// what staging and data moves take).
fn market_moved(signal: &Signal) -> bool {
    matches!(
        signal,
        Signal::PriceChange { .. }
            | Signal::CapacityChange { .. }
            | Signal::SiteUp { .. }
            | Signal::LinkChange { .. }
    )
}

/// Asks to move every running job whose best alternative scores lower than where it runs by
/// at least the fraction `gain` (a placement the score refuses counts as infinitely bad).
fn migrate_to_better(
    view: &View<'_>,
    actions: &mut Vec<Action>,
    gain: f64,
    what: &str,
    score: impl Fn(&PlacementCandidate) -> Option<f64>,
) {
    for job in view.jobs() {
        let (JobStatus::Running, Some(current)) = (job.status, job.current) else {
            continue;
        };
        let here = score(&current).unwrap_or(f64::INFINITY);
        let best = view
            .placements(job.id)
            .iter()
            .filter_map(|c| score(c).map(|s| (s, *c)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((there, to)) = best
            && there < here * (1.0 - gain)
        {
            actions.push(Action::Migrate {
                job: job.id,
                reason: format!(
                    "{what} {there:.2} at {}/{} vs {here:.2} where it runs",
                    view.pool_name(to.pool),
                    to.tier.as_str()
                ),
            });
        }
    }
}
