//! `weighted`: one score over cost, latency, staging time and data moved, each with its own
//! weight, for requests and jobs; running jobs move when another placement scores enough better
//! to pay for the move.

use super::{market_moved, migrate_to_better};
use crate::policy::spec::WeightedSpec;
use crate::policy::{
    Action, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, Signal, View,
};

/// A weighted score over cost, latency, transfer time and data gravity, lower is better:
/// routes by `cost × USD/GPU-h + latency × (expected ms / 100)`, places by `cost × USD per
/// effective GPU-h + transfer × staging hours + gravity × TB moved`. Moves running jobs when
/// another placement scores better by at least `migration_gain`.
#[derive(Debug, Clone)]
pub struct Weighted {
    /// The weights.
    pub weights: WeightedSpec,
    /// The fraction a move must gain.
    pub migration_gain: f64,
}

impl Weighted {
    fn placement_value(&self, c: &PlacementCandidate) -> f64 {
        let w = &self.weights;
        w.cost * c.usd_per_effective_gpu_hour()
            + w.transfer * c.staging_s / 3600.0
            + w.gravity * c.staging_bytes as f64 / 1e12
    }
}

impl Policy for Weighted {
    fn name(&self) -> &str {
        "weighted"
    }

    fn route_score(&self, _: &RouteRequest, c: &RouteCandidate, _: &View<'_>) -> f64 {
        self.weights.cost * c.usd_per_gpu_hour + self.weights.latency * c.expected_latency_ns() / 1e8
    }

    fn place_score(&self, _: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
        Some(Score::new(self.placement_value(c)))
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        if market_moved(signal) {
            let this = self.clone();
            migrate_to_better(view, actions, self.migration_gain, "weighted score", move |c| {
                Some(this.placement_value(c))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SimTime;
    use crate::policy::Placement;
    use crate::policy::builtin::fixtures::{estate, place_request, placement};
    use crate::vocab::Tier;

    #[test]
    fn weighted_trades_price_against_staging_time() {
        let estate = estate();
        let view = View::of_estate(SimTime::ZERO, &estate);
        let local = placement(Tier::OnDemand, 4.0);
        let far = PlacementCandidate {
            staging_s: 7200.0,
            staging_bytes: 2_000_000_000_000,
            ..placement(Tier::OnDemand, 2.0)
        };
        // 4.0 vs 2.0 + 1 × 2 h + 1 × 2 TB = 6.0: stay local.
        let mut weighted = Weighted {
            weights: WeightedSpec::default(),
            migration_gain: 0.25,
        };
        assert_eq!(
            weighted.place(&place_request(1), &[local, far], &view),
            Placement::Place(0)
        );
        // With transfer and gravity free, price decides.
        weighted.weights.transfer = 0.0;
        weighted.weights.gravity = 0.0;
        assert_eq!(
            weighted.place(&place_request(1), &[local, far], &view),
            Placement::Place(1)
        );
    }
}
