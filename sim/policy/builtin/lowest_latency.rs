//! `lowest_latency`, the default policy: requests go where they are expected to be answered
//! soonest, jobs to their most preferred tier at the lowest price. Its two scores are also the
//! [`Policy`] trait's default scores, so a custom policy that leaves a hook out behaves like
//! this one there.

use crate::policy::{
    PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, View, argmin,
};

/// Routes each request to the candidate with the lowest expected latency (the network round
/// trip plus the estimated queue wait plus service, [`route_score`]); places jobs by tier
/// preference, then price ([`place_score`]), through the trait's `place`, which takes the best
/// score: every candidate has one, so a job never waits while one is eligible. Reacts to nothing
/// beyond what routing sees: a site that is down is no candidate. The default policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct LowestLatency;

/// A route's score, lower is better: the candidate's expected latency in ms.
pub fn route_score(candidate: &RouteCandidate) -> f64 {
    candidate.expected_latency_ns() / 1e6
}

/// A placement's score, lower is better: the tier's position in the job's preference list,
/// then the price per effective GPU-hour.
pub fn place_score(candidate: &PlacementCandidate) -> Score {
    Score::ranked(candidate.preference, candidate.usd_per_effective_gpu_hour())
}

/// The index of the candidate with the lowest expected latency; ties go to the earlier
/// candidate. The engine routes there when a policy's answer is not eligible. It compares the
/// latencies in ns, before [`route_score`]'s division into ms can round two of them together.
pub fn fastest(candidates: &[RouteCandidate]) -> usize {
    argmin(candidates, RouteCandidate::expected_latency_ns)
}

impl Policy for LowestLatency {
    fn name(&self) -> &str {
        "lowest_latency"
    }

    fn route(&mut self, _: &RouteRequest, candidates: &[RouteCandidate], _: &View<'_>) -> usize {
        argmin(candidates, route_score)
    }

    fn route_score(&self, _: &RouteRequest, candidate: &RouteCandidate, _: &View<'_>) -> f64 {
        route_score(candidate)
    }

    fn routes_by_lowest_latency(&self) -> bool {
        true
    }

    fn place_score(
        &self,
        _: &PlaceRequest<'_>,
        candidate: &PlacementCandidate,
        _: &View<'_>,
    ) -> Option<Score> {
        Some(place_score(candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SimTime;
    use crate::policy::builtin::fixtures::{estate, place_request, placement, request, route};
    use crate::policy::{Decider, Placement, RouteWhy, Routed};
    use crate::vocab::Tier;
    use crate::vocab::ids::SiteId;

    #[test]
    fn lowest_latency_weighs_network_against_queueing() {
        let estate = estate();
        let view = View::of_estate(SimTime::ZERO, &estate);
        let near_busy = route(0, 10, 8, 0); // 10 ms + 9 × 100 / 4 ms wait + 100 ms = 335 ms
        let far_idle = route(1, 80, 0, 2); // 80 ms + 0 + 100 ms = 180 ms
        assert_eq!(LowestLatency.route(&request(), &[near_busy, far_idle], &view), 1);
        let near_idle = route(0, 10, 0, 1);
        assert_eq!(LowestLatency.route(&request(), &[near_idle, far_idle], &view), 0);
        assert_eq!(
            LowestLatency.route(&request(), &[far_idle, far_idle], &view),
            0,
            "ties go to the first"
        );
        assert_eq!(fastest(&[near_busy, far_idle]), 1);
    }

    /// A policy that writes no hook but its name.
    struct Bare;

    impl Policy for Bare {
        fn name(&self) -> &str {
            "bare"
        }
    }

    #[test]
    fn a_policy_without_scores_scores_like_lowest_latency() {
        let estate = estate();
        let view = View::of_estate(SimTime::ZERO, &estate);
        let (mut bare, mut lowest) = (Bare, LowestLatency);
        let routes = [route(0, 10, 8, 0), route(1, 80, 0, 2), route(1, 30, 1, 0)];
        for c in &routes {
            assert_eq!(
                bare.route_score(&request(), c, &view),
                lowest.route_score(&request(), c, &view)
            );
        }
        assert_eq!(
            bare.route(&request(), &routes, &view),
            lowest.route(&request(), &routes, &view)
        );
        let placements = [placement(Tier::Spot, 1.0), placement(Tier::OnDemand, 4.0)];
        for c in &placements {
            assert_eq!(
                bare.place_score(&place_request(1), c, &view),
                lowest.place_score(&place_request(1), c, &view)
            );
        }
        assert_eq!(
            bare.place(&place_request(1), &placements, &view),
            lowest.place(&place_request(1), &placements, &view)
        );
    }

    /// Routes like lowest latency but wants no route margin.
    struct Jumpy;

    impl Policy for Jumpy {
        fn name(&self) -> &str {
            "jumpy"
        }
        fn route_margin(&self, _: f64) -> f64 {
            0.0
        }
    }

    #[test]
    fn a_stream_stays_unless_another_site_is_better_by_the_margin() {
        let estate = estate();
        let view = View::of_estate(SimTime::ZERO, &estate);
        let mut decider = Decider::new(Box::new(LowestLatency)).with_route_margin(0.2);
        let on = |site| RouteRequest {
            current: Some(SiteId(site)),
            ..request()
        };
        let stays = |index| Routed {
            index,
            spill: false,
            why: RouteWhy::Chosen,
        };
        let a = route(0, 0, 0, 1); // 100 ms: the preferred site
        let b = route(1, 10, 0, 1); // 110 ms
        let full_a = route(0, 0, 0, 0); // 100 + 1 × 100 / 4 = 125 ms: b is 12% better
        let busy_a = route(0, 0, 3, 0); // 100 + 4 × 100 / 4 = 200 ms: b is 45% better
        assert_eq!(
            decider.route(&view, &request(), &[a, b], "s"),
            stays(0),
            "a new stream takes the best"
        );
        assert_eq!(decider.route(&view, &on(0), &[a, b], "s"), stays(0));
        assert_eq!(
            decider.route(&view, &on(0), &[full_a, b], "s"),
            Routed {
                index: 1,
                spill: true,
                why: RouteWhy::Chosen
            },
            "a is full: the request spills to b, the stream stays on a"
        );
        assert_eq!(
            decider.route(&view, &on(0), &[busy_a, b], "s"),
            Routed {
                index: 1,
                spill: false,
                why: RouteWhy::Better
            },
            "b is better by more than the margin: the stream moves"
        );
        assert_eq!(
            decider.route(&view, &on(1), &[full_a, b], "s"),
            stays(1),
            "a is still worse than b: the stream stays on b"
        );
        assert_eq!(
            decider.route(&view, &on(1), &[a, b], "s"),
            Routed {
                index: 0,
                spill: false,
                why: RouteWhy::Back
            },
            "a is no worse than b again: back to a, without the margin"
        );
        // Site a can no longer serve: the stream moves at once, even to a worse site.
        let far_b = route(1, 200, 0, 1);
        let far_c = route(2, 300, 0, 1);
        assert_eq!(
            decider.route(&view, &on(0), &[far_c, far_b], "s"),
            stays(1),
            "a is gone"
        );
        let mut jumpy = Decider::new(Box::new(Jumpy)).with_route_margin(0.2);
        assert_eq!(
            jumpy.route(&view, &on(0), &[full_a, b], "s"),
            stays(1),
            "a policy may opt out"
        );
        let mut unset = Decider::new(Box::new(LowestLatency)).with_route_margin(0.0);
        assert_eq!(
            unset.route(&view, &on(0), &[full_a, b], "s"),
            stays(1),
            "margin 0: the best"
        );
    }

    #[test]
    fn lowest_latency_places_in_the_preferred_tier_then_cheapest() {
        let estate = estate();
        let view = View::of_estate(SimTime::ZERO, &estate);
        let preferred = placement(Tier::OnDemand, 4.0);
        let cheaper_but_second = PlacementCandidate {
            preference: 1,
            ..placement(Tier::Spot, 1.0)
        };
        let cheapest_preferred = placement(Tier::OnDemand, 3.0);
        let candidates = [cheaper_but_second, preferred, cheapest_preferred];
        assert_eq!(
            LowestLatency.place(&place_request(1), &candidates, &view),
            Placement::Place(2)
        );
    }
}
