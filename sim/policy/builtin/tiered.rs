//! `tiered`: fixed capacity before burst before opportunistic, in a set tier order per
//! workload class, with spot used only under a price ceiling.

use super::lowest_latency;
use crate::policy::spec::TieredSpec;
use crate::policy::{
    Action, JobStatus, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, Signal,
    View,
};
use crate::vocab::Tier;

/// Fixed → burst → opportunistic: uses tiers in a set order per workload class (by default
/// reserved, owned, on-demand, spot), the cheapest within a tier, and spot only while its price
/// is at most the ceiling. When a spot price rises above the ceiling, the jobs on it move to
/// the next tier that has room. Routes by lowest expected latency.
#[derive(Debug, Clone)]
pub struct Tiered {
    spec: TieredSpec,
}

impl Tiered {
    /// A tiered policy with these settings.
    pub fn new(spec: TieredSpec) -> Self {
        Tiered { spec }
    }

    fn above_ceiling(&self, tier: Tier, usd_per_gpu_hour: f64) -> bool {
        tier == Tier::Spot
            && self
                .spec
                .spot_ceiling
                .is_some_and(|ceiling| usd_per_gpu_hour > ceiling.usd_per_hour())
    }
}

impl Policy for Tiered {
    fn name(&self) -> &str {
        "tiered"
    }

    fn route_score(&self, _: &RouteRequest, candidate: &RouteCandidate, _: &View<'_>) -> f64 {
        lowest_latency::route_score(candidate)
    }

    fn place_score(&self, request: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
        let rank = self
            .spec
            .order_for(request.class)
            .iter()
            .position(|&t| t == c.tier)?;
        if self.above_ceiling(c.tier, c.usd_per_gpu_hour) {
            return None;
        }
        Some(Score::ranked(rank as u32, c.usd_per_effective_gpu_hour()))
    }

    fn wait_reason(
        &self,
        request: &PlaceRequest<'_>,
        candidates: &[PlacementCandidate],
        _: &View<'_>,
    ) -> String {
        let order: Vec<&str> = self
            .spec
            .order_for(request.class)
            .iter()
            .map(|t| t.as_str())
            .collect();
        let ceiling = self
            .spec
            .spot_ceiling
            .map_or(String::new(), |c| format!(", spot only up to {c}"));
        format!(
            "tiered: none of the {} eligible placements is in tiers {}{ceiling}",
            candidates.len(),
            order.join(" → ")
        )
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        let Signal::PriceChange {
            pool,
            tier: Tier::Spot,
            usd_per_gpu_hour,
        } = *signal
        else {
            return;
        };
        if !self.above_ceiling(Tier::Spot, usd_per_gpu_hour) {
            return;
        }
        for job in view.jobs() {
            let on_it = job
                .current
                .is_some_and(|c| c.pool == pool && c.tier == Tier::Spot);
            // A job that may only use spot has nowhere to go: moving it would only stop it.
            let elsewhere = || {
                view.placements(job.id)
                    .iter()
                    .any(|c| c.tier != Tier::Spot && self.spec.order_for(job.class).contains(&c.tier))
            };
            if job.status == JobStatus::Running && on_it && elsewhere() {
                actions.push(Action::Migrate {
                    job: job.id,
                    reason: format!(
                        "tiered: spot at {} is {usd_per_gpu_hour:.2} USD/h, above the ceiling",
                        view.pool_name(pool)
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SimTime;
    use crate::policy::builtin::fixtures::{OneJob, estate, ids, place_request, placement};
    use crate::policy::{JobId, Placement};
    use crate::vocab::ids::PoolId;

    #[test]
    fn tiered_takes_burst_before_spot_and_spot_only_under_the_ceiling() {
        let estate = estate();
        let view = View::of_estate(SimTime::ZERO, &estate);
        let spec = TieredSpec {
            spot_ceiling: Some("2 USD/h".parse().expect("price")),
            ..TieredSpec::default()
        };
        let mut tiered = Tiered::new(spec);
        let cheap_spot = [placement(Tier::Spot, 1.0), placement(Tier::OnDemand, 4.0)];
        assert_eq!(
            tiered.place(&place_request(1), &cheap_spot, &view),
            Placement::Place(1)
        );
        let only_spot = [placement(Tier::Spot, 1.5)];
        assert_eq!(
            tiered.place(&place_request(1), &only_spot, &view),
            Placement::Place(0)
        );
        let dear_spot = [placement(Tier::Spot, 2.5)];
        assert_eq!(
            tiered.place(&place_request(1), &dear_spot, &view),
            Placement::Wait
        );
    }

    #[test]
    fn tiered_moves_jobs_off_spot_above_the_ceiling() {
        let estate = estate();
        let jobs = OneJob {
            current: placement(Tier::Spot, 1.0),
            alternatives: vec![placement(Tier::OnDemand, 4.0)],
        };
        let view = View::with_workloads(SimTime::ZERO, &estate, &jobs);
        let mut tiered = Tiered::new(TieredSpec {
            spot_ceiling: Some("2 USD/h".parse().expect("price")),
            ..TieredSpec::default()
        });
        let mut actions = Vec::new();
        let signal = |price| Signal::PriceChange {
            pool: PoolId(0),
            tier: Tier::Spot,
            usd_per_gpu_hour: price,
        };
        tiered.on_signal(&signal(1.9), &view, &mut actions);
        assert!(actions.is_empty());
        tiered.on_signal(&signal(2.1), &view, &mut actions);
        assert_eq!(ids(&actions), vec![JobId(3)]);
    }
}
