//! `cheapest`: the lowest price for every request and job, and running jobs moved when another
//! placement saves enough to pay for the move.

use super::{market_moved, migrate_to_better};
use crate::policy::{
    Action, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, Signal, View,
    argmin,
};

/// Routes to the cheapest site (price per GPU-hour of the replicas there, then lowest expected
/// latency) and places jobs at the lowest price per effective GPU-hour in any allowed tier.
/// When prices or capacity change it moves running jobs to a placement that is cheaper by at
/// least `migration_gain`.
#[derive(Debug, Clone, Copy)]
pub struct Cheapest {
    /// The fraction a move must save.
    pub migration_gain: f64,
}

impl Policy for Cheapest {
    fn name(&self) -> &str {
        "cheapest"
    }

    fn route(&mut self, _: &RouteRequest, candidates: &[RouteCandidate], _: &View<'_>) -> usize {
        argmin(candidates, |c| (c.usd_per_gpu_hour, c.expected_latency_ns()))
    }

    fn route_score(&self, _: &RouteRequest, candidate: &RouteCandidate, _: &View<'_>) -> f64 {
        candidate.usd_per_gpu_hour
    }

    fn place_score(
        &self,
        _: &PlaceRequest<'_>,
        candidate: &PlacementCandidate,
        _: &View<'_>,
    ) -> Option<Score> {
        Some(Score::new(candidate.usd_per_effective_gpu_hour()))
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        if market_moved(signal) {
            migrate_to_better(
                view,
                actions,
                self.migration_gain,
                "USD per effective GPU-hour",
                |c| Some(c.usd_per_effective_gpu_hour()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SimTime;
    use crate::policy::builtin::fixtures::{OneJob, estate, ids, placement};
    use crate::vocab::JobId;
    use crate::vocab::Tier;
    use crate::vocab::ids::PoolId;

    #[test]
    fn cheapest_moves_a_job_only_for_a_large_enough_saving() {
        let estate = estate();
        let mut actions = Vec::new();
        let mut cheapest = Cheapest { migration_gain: 0.25 };
        let price = Signal::PriceChange {
            pool: PoolId(0),
            tier: Tier::Spot,
            usd_per_gpu_hour: 10.0,
        };
        // 4.0 vs 10.0 saves 60%: move. 8.0 vs 10.0 saves 20%: stay.
        for (alternative, moves) in [(4.0, true), (8.0, false)] {
            let jobs = OneJob {
                current: placement(Tier::Spot, 10.0),
                alternatives: vec![placement(Tier::OnDemand, alternative)],
            };
            let view = View::with_workloads(SimTime::ZERO, &estate, &jobs);
            actions.clear();
            cheapest.on_signal(&price, &view, &mut actions);
            assert_eq!(
                ids(&actions),
                if moves { vec![JobId(3)] } else { vec![] },
                "{alternative}"
            );
        }
    }
}
