//! Placement and routing policies, and the decision log.
//!
//! A policy decides; the engine enforces. Before asking, the engine filters the choices down to
//! eligible ones (residency, site and link state, serving capacity) and hands the policy a
//! read-only description of each. An answer outside the list is rejected, logged, and replaced by
//! the default choice, and the run goes on.
//!
//! Jobs are placed through [`Policy::place`]: the engine lists every (pool, tier) that can take
//! the gang now, and the policy picks one, or says to wait or to reject the job.
//!
//! Routing is the hot path — every request is routed — so [`Policy::route`] gets a slice of
//! candidates the engine refills in a reused buffer, and must not allocate.

mod decision;

pub use decision::{Decision, DecisionKind, DecisionLog};

use crate::infra::ids::{PoolId, SiteId};
use crate::infra::pool::Tier;
use crate::kernel::SimTime;
use crate::scenario::schema::WorkloadClass;

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

    /// Chooses where `request`'s gang runs among `candidates` (never empty), or to wait or
    /// reject it. The default takes the job's preferred tier first and, within it, the lowest
    /// price per effective GPU-hour ([`preferred_then_cheapest`]).
    fn place(&mut self, request: &PlaceRequest<'_>, candidates: &[PlacementCandidate]) -> Placement {
        let _ = request;
        Placement::Place(preferred_then_cheapest(candidates))
    }
}

/// A job asking for GPUs, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaceRequest<'a> {
    /// The job's name.
    pub job: &'a str,
    /// Its class.
    pub class: WorkloadClass,
    /// GPUs in its gang.
    pub gpus: u32,
    /// Its priority.
    pub priority: i32,
    /// Reference GPU-hours of work left.
    pub remaining_gpu_hours: f64,
    /// When.
    pub now: SimTime,
}

/// A (pool, tier) that can take a job's gang now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacementCandidate {
    /// The pool.
    pub pool: PoolId,
    /// Its site.
    pub site: SiteId,
    /// The tier.
    pub tier: Tier,
    /// The tier's position in the job's preference list (0 = most preferred).
    pub preference: u32,
    /// GPUs free in the tier now.
    pub free: u32,
    /// Current price per GPU-hour.
    pub usd_per_gpu_hour: f64,
    /// The accelerator's speed for the job's class (1.0 = reference).
    pub speed: f64,
    /// Bytes to move before the job can start there (dataset, checkpoint).
    pub staging_bytes: u64,
}

impl PlacementCandidate {
    /// Price per GPU-hour of reference work: the price divided by the speed.
    pub fn usd_per_effective_gpu_hour(&self) -> f64 {
        self.usd_per_gpu_hour / self.speed.max(f64::MIN_POSITIVE)
    }
}

/// A policy's answer to a placement request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Run on the candidate at this index.
    Place(usize),
    /// Leave the job waiting; it is asked again when capacity changes.
    Wait,
    /// Give up on the job: it ends failed.
    Reject,
}

/// The index of the candidate in the job's most preferred tier with the lowest price per
/// effective GPU-hour, then the least data to move; ties go to the earlier candidate.
pub fn preferred_then_cheapest(candidates: &[PlacementCandidate]) -> usize {
    argmin(candidates, |c| {
        (c.preference, c.usd_per_effective_gpu_hour(), c.staging_bytes)
    })
}

/// Routes each request to the candidate with the lowest expected latency (the network round
/// trip plus the estimated queue wait plus service); ties go to the earlier candidate. Places
/// jobs by the trait's default ([`preferred_then_cheapest`]). The default policy.
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

/// Routes to the cheapest site (price per GPU-hour of the replicas there, then lowest expected
/// latency) and places jobs at the lowest price per effective GPU-hour in any allowed tier.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cheapest;

impl Policy for Cheapest {
    fn name(&self) -> &str {
        "cheapest"
    }

    fn route(&mut self, _: &RouteRequest, candidates: &[RouteCandidate]) -> usize {
        argmin(candidates, |c| (c.usd_per_gpu_hour, c.expected_latency_ns()))
    }

    fn place(&mut self, _: &PlaceRequest<'_>, candidates: &[PlacementCandidate]) -> Placement {
        Placement::Place(argmin(candidates, |c| {
            (c.usd_per_effective_gpu_hour(), c.preference as f64)
        }))
    }
}

/// Moves compute to the data: places a job where the least data has to move (then by tier
/// preference and price, as the default); routes by lowest expected latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataLocal;

impl Policy for DataLocal {
    fn name(&self) -> &str {
        "data_local"
    }

    fn route(&mut self, _: &RouteRequest, candidates: &[RouteCandidate]) -> usize {
        lowest_latency(candidates)
    }

    fn place(&mut self, _: &PlaceRequest<'_>, candidates: &[PlacementCandidate]) -> Placement {
        Placement::Place(argmin(candidates, |c| {
            (
                c.staging_bytes as f64,
                c.preference as f64,
                c.usd_per_effective_gpu_hour(),
            )
        }))
    }
}

/// The names of the built-in policies, as written in scenarios.
pub const BUILT_IN: [&str; 3] = ["lowest_latency", "cheapest", "data_local"];

/// The built-in policy called `name`, if there is one.
pub fn built_in(name: &str) -> Option<Box<dyn Policy>> {
    match name {
        "lowest_latency" => Some(Box::new(LowestLatency)),
        "cheapest" => Some(Box::new(Cheapest)),
        "data_local" => Some(Box::new(DataLocal)),
        _ => None,
    }
}

/// The index of the element with the smallest key; ties (and keys that do not compare) go to
/// the earlier element.
fn argmin<T, K: PartialOrd>(items: &[T], key: impl Fn(&T) -> K) -> usize {
    let mut best = 0;
    for (i, item) in items.iter().enumerate().skip(1) {
        if key(item).partial_cmp(&key(&items[best])) == Some(std::cmp::Ordering::Less) {
            best = i;
        }
    }
    best
}

/// The index of the candidate with the lowest expected latency.
pub fn lowest_latency(candidates: &[RouteCandidate]) -> usize {
    argmin(candidates, RouteCandidate::expected_latency_ns)
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
