//! Placement and routing policies, and the decision log.
//!
//! A policy decides; the engine enforces. Before asking, the engine filters the choices down to
//! eligible ones (residency, site and link state, serving capacity) and hands the policy a
//! read-only description of each. An answer outside the list is rejected, logged, and replaced by
//! the default choice, and the run goes on.
//!
//! Routing is the hot path — every request is routed — so [`Policy::route`] gets a slice of
//! candidates the engine refills in a reused buffer, and must not allocate.

mod decision;

pub use decision::{Decision, DecisionKind, DecisionLog};

use crate::infra::ids::SiteId;
use crate::kernel::SimTime;

/// A site that could serve a request, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteCandidate {
    /// The serving site.
    pub site: SiteId,
    /// Round trip from the request's origin to the site, in ns.
    pub round_trip_ns: u64,
    /// Requests waiting there for this service.
    pub queued: u32,
    /// Slots free there now.
    pub free_slots: u32,
    /// Slots ready there in total.
    pub slots: u32,
    /// Mean service time there in ns (accelerator speed included).
    pub mean_service_ns: f64,
    /// Price per GPU-hour of the replicas there.
    pub usd_per_gpu_hour: f64,
}

impl RouteCandidate {
    /// Expected queueing delay in ns: zero with a free slot, otherwise the time for the queue
    /// ahead (plus this request) to drain through all slots.
    pub fn expected_wait_ns(&self) -> f64 {
        if self.free_slots > 0 {
            0.0
        } else {
            f64::from(self.queued + 1) * self.mean_service_ns / f64::from(self.slots.max(1))
        }
    }

    /// Expected end-to-end latency in ns: network round trip, queueing and service.
    pub fn expected_latency_ns(&self) -> f64 {
        self.round_trip_ns as f64 + self.expected_wait_ns() + self.mean_service_ns
    }
}

/// What is being routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRequest {
    /// The service's index.
    pub service: u32,
    /// Where the request comes from.
    pub origin: SiteId,
    /// When.
    pub now: SimTime,
}

/// A placement and routing strategy.
pub trait Policy {
    /// The name shown in outputs.
    fn name(&self) -> &str;

    /// Chooses the index of the candidate that serves `request`. `candidates` is never empty.
    fn route(&mut self, request: &RouteRequest, candidates: &[RouteCandidate]) -> usize;
}

/// Routes each request to the candidate with the lowest expected latency (network round trip
/// + estimated queue wait + service); ties go to the earlier candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct LowestLatency;

impl Policy for LowestLatency {
    fn name(&self) -> &str {
        "lowest_latency"
    }

    fn route(&mut self, _: &RouteRequest, candidates: &[RouteCandidate]) -> usize {
        lowest_latency(candidates)
    }
}

/// The index of the candidate with the lowest expected latency.
pub fn lowest_latency(candidates: &[RouteCandidate]) -> usize {
    let mut best = 0;
    for (i, c) in candidates.iter().enumerate().skip(1) {
        if c.expected_latency_ns() < candidates[best].expected_latency_ns() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(site: u32, rtt_ms: u64, queued: u32, free: u32) -> RouteCandidate {
        RouteCandidate {
            site: SiteId(site),
            round_trip_ns: rtt_ms * 1_000_000,
            queued,
            free_slots: free,
            slots: 4,
            mean_service_ns: 100e6,
            usd_per_gpu_hour: 1.0,
        }
    }

    #[test]
    fn lowest_latency_weighs_network_against_queueing() {
        let near_busy = candidate(0, 10, 8, 0); // 10 ms + 9 × 100 / 4 ms wait + 100 ms = 335 ms
        let far_idle = candidate(1, 80, 0, 2); // 80 ms + 0 + 100 ms = 180 ms
        let request = RouteRequest {
            service: 0,
            origin: SiteId(0),
            now: SimTime::ZERO,
        };
        assert_eq!(LowestLatency.route(&request, &[near_busy, far_idle]), 1);
        let near_idle = candidate(0, 10, 0, 1);
        assert_eq!(LowestLatency.route(&request, &[near_idle, far_idle]), 0);
        assert_eq!(
            LowestLatency.route(&request, &[far_idle, far_idle]),
            0,
            "ties go to the first"
        );
    }
}
