//! Placement and routing policies, their reactions to events, and the decision log.
//!
//! A policy decides; the engine enforces. Before asking, the engine filters the choices down to
//! eligible ones (capacity, accelerator, residency, site and link state) and hands the policy a
//! read-only description of each, with a read-only [`View`] of the run. An answer outside the
//! list is rejected, logged, and replaced by the default choice, and the run goes on.
//!
//! A policy has four hooks, all with defaults (those of scoring are [`LowestLatency`]'s, written
//! once in [`lowest_latency`]):
//! - [`Policy::route`] picks the site that serves a request. It is the hot path — every request
//!   is routed — so it gets a slice the engine refills in a reused buffer and must not allocate.
//! - [`Policy::place`] picks the (pool, tier) a job's gang runs on, or says to wait or reject.
//! - [`Policy::route_score`] and [`Policy::place_score`] score single candidates. The default
//!   `route` and `place` take the best score, and the decision log shows the runners-up with
//!   their scores, so most policies only write the scores.
//! - Routes are sticky: a request stream (a service's demand from one origin) stays on its
//!   current site unless another is better by the route margin, a fraction of the current
//!   site's [`Policy::route_score`] (`policies.route_margin`, default 0.2), or its site can no
//!   longer serve, or its preferred site (best with no queues) scores no worse; while its site
//!   is full, a request may spill over to the policy's choice without moving the stream
//!   ([`Routed`]). The [`Decider`] applies this to whatever `route` answers, so it holds for
//!   every policy; [`Policy::route_margin`] lets a policy change or refuse it, and
//!   [`RouteRequest::current`] shows a policy where the stream is.
//! - [`Policy::on_signal`] hears of outages, price and capacity changes, preemption notices and
//!   a periodic tick, and answers with [`Action`]s: migrate a job, scale a service at a site,
//!   switch a service to its fallback, defer a job, restore a job elsewhere.
//!
//! # Writing a policy
//!
//! ```
//! use hybridsim::policy::{PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, View};
//!
//! /// Places every job on the most free GPUs; routes by the default (lowest latency).
//! struct Roomiest;
//!
//! impl Policy for Roomiest {
//!     fn name(&self) -> &str {
//!         "roomiest"
//!     }
//!     fn place_score(&self, _: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
//!         Some(Score::new(-f64::from(c.free)))
//!     }
//! }
//! ```
//!
//! Plug it in with [`crate::world::simulate_with`]; `examples/custom_policy.rs` is a complete
//! program.

mod builtin;
mod decider;
mod decision;
mod spec;
mod view;

pub use builtin::{
    BUILT_IN, Cheapest, CostCeiling, DataLocal, Failover, LowestLatency, Tiered, Weighted, built_in,
    lowest_latency,
};
pub use decider::{Decider, PlaceOutcome, RouteWhy, Routed};
pub use decision::{Decision, DecisionKind, DecisionLog};
pub use spec::{
    CostCeilingSpec, DEFAULT_ROUTE_MARGIN, FailoverSpec, PolicyChoice, PolicySettings, TieredSpec,
    WeightedSpec,
};
pub use view::{Action, JobInfo, JobStatus, Signal, View, Workloads};

use crate::kernel::{SimDuration, SimTime};
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{JobId, PoolId, ServiceId, SiteId};

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

    /// The same site with no queue and every slot free.
    pub fn idle(&self) -> Self {
        RouteCandidate {
            queued: 0,
            free_slots: self.slots,
            ..*self
        }
    }
}

/// What is being routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRequest {
    /// The service.
    pub service: ServiceId,
    /// Where the request comes from.
    pub origin: SiteId,
    /// When.
    pub now: SimTime,
    /// The site of the request's stream (its service's demand from its origin), where its
    /// requests go unless they spill over to another site while it is full; `None` for a
    /// stream's first request and for fallback requests. It may be among the candidates or not
    /// (down, no ready replicas, not allowed).
    pub current: Option<SiteId>,
}

/// A placement and routing strategy. Every hook has a default; see the module docs. Policies
/// are `Send` so that comparisons can run them on worker threads.
pub trait Policy: Send {
    /// The name shown in outputs.
    fn name(&self) -> &str;

    /// Chooses the index of the candidate that serves `request`. `candidates` is never empty.
    /// The default takes the lowest [`Policy::route_score`]; ties go to the earlier candidate.
    fn route(&mut self, request: &RouteRequest, candidates: &[RouteCandidate], view: &View<'_>) -> usize {
        argmin(candidates, |c| self.route_score(request, c, view))
    }

    /// A candidate site's score for `request`, lower is better. Shown next to the alternatives
    /// when a route changes. The default is [`LowestLatency`]'s, [`lowest_latency::route_score`]:
    /// the expected latency in ms.
    fn route_score(&self, request: &RouteRequest, candidate: &RouteCandidate, view: &View<'_>) -> f64 {
        let _ = (request, view);
        lowest_latency::route_score(candidate)
    }

    /// Whether [`Policy::route`] and [`Policy::route_score`] are [`LowestLatency`]'s: the lowest
    /// [`lowest_latency::route_score`], ties to the earlier candidate, reading and changing
    /// nothing else. A policy that says so lets the engine route a stream's request without
    /// building candidates when the stream's site has a free slot and would still score best
    /// were every other candidate idle: the policy would choose it whatever the queues
    /// elsewhere. The default is `false`; say `true` only for exactly that behaviour.
    fn routes_by_lowest_latency(&self) -> bool {
        false
    }

    /// The route margin this policy wants: a stream stays on its current site unless another
    /// candidate's [`Policy::route_score`] is lower by more than this fraction of the current
    /// site's (see [`Decider::route`]). `configured` is the scenario's `policies.route_margin`,
    /// which the default returns; return 0 to opt out and have [`Policy::route`]'s answer
    /// used as it is (a policy may then read [`RouteRequest::current`] itself).
    fn route_margin(&self, configured: f64) -> f64 {
        configured
    }

    /// Chooses where `request`'s gang runs among `candidates` (never empty), or to wait or
    /// reject it. The default takes the best [`Policy::place_score`] and waits when no
    /// candidate has one.
    fn place(
        &mut self,
        request: &PlaceRequest<'_>,
        candidates: &[PlacementCandidate],
        view: &View<'_>,
    ) -> Placement {
        best_placement(candidates, |c| self.place_score(request, c, view))
    }

    /// A candidate placement's score, lower is better, or `None` when the policy will not use
    /// it. The default is [`LowestLatency`]'s, [`lowest_latency::place_score`]: the job's tier
    /// preference, then the price per effective GPU-hour.
    fn place_score(
        &self,
        request: &PlaceRequest<'_>,
        candidate: &PlacementCandidate,
        view: &View<'_>,
    ) -> Option<Score> {
        let _ = (request, view);
        Some(lowest_latency::place_score(candidate))
    }

    /// Why the policy leaves a job waiting although there are eligible placements.
    fn wait_reason(
        &self,
        request: &PlaceRequest<'_>,
        candidates: &[PlacementCandidate],
        view: &View<'_>,
    ) -> String {
        let _ = (request, view);
        format!(
            "none of the {} eligible placements is acceptable to {}",
            candidates.len(),
            self.name()
        )
    }

    /// How often the policy wants a [`Signal::Tick`]; `None` (the default) for never.
    fn tick(&self) -> Option<SimDuration> {
        None
    }

    /// Hears of an event and pushes the actions it wants onto `actions`. The default ignores
    /// everything: routing and placement already see outages and prices as they happen.
    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        let _ = (signal, view, actions);
    }
}

/// A placement score: lower is better, compared by `rank` first, then `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// A coarse class (tier order, site order); 0 is best.
    pub rank: u32,
    /// The fine figure within a rank (a price, a weighted sum).
    pub value: f64,
}

impl Score {
    /// A score of rank 0.
    pub fn new(value: f64) -> Self {
        Score { rank: 0, value }
    }

    /// A score of a given rank.
    pub fn ranked(rank: u32, value: f64) -> Self {
        Score { rank, value }
    }

    /// Whether `self` is strictly better (lower) than `other`; values that do not compare
    /// (NaN) are never better.
    pub fn better_than(&self, other: &Score) -> bool {
        (self.rank, self.value).partial_cmp(&(other.rank, other.value)) == Some(std::cmp::Ordering::Less)
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rank == 0 {
            write!(f, "{:.3}", self.value)
        } else {
            write!(f, "{:.3} (rank {})", self.value, self.rank)
        }
    }
}

/// The candidate with the best score, or [`Placement::Wait`] when none has one.
pub fn best_placement(
    candidates: &[PlacementCandidate],
    score: impl Fn(&PlacementCandidate) -> Option<Score>,
) -> Placement {
    let mut best: Option<(usize, Score)> = None;
    for (i, candidate) in candidates.iter().enumerate() {
        if let Some(s) = score(candidate)
            && best.is_none_or(|(_, b)| s.better_than(&b))
        {
            best = Some((i, s));
        }
    }
    best.map_or(Placement::Wait, |(i, _)| Placement::Place(i))
}

/// A job asking for GPUs, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaceRequest<'a> {
    /// The job.
    pub id: JobId,
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
    /// Estimated seconds to move them, at the bottleneck bandwidth of their routes.
    pub staging_s: f64,
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

/// The index of the element with the smallest key; ties (and keys that do not compare) go to
/// the earlier element. `key` is called once per element (0 for an empty slice).
pub fn argmin<T, K: PartialOrd>(items: &[T], key: impl Fn(&T) -> K) -> usize {
    let mut elements = items.iter().map(key).enumerate();
    let Some(mut best) = elements.next() else {
        return 0;
    };
    for (i, k) in elements {
        if k.partial_cmp(&best.1) == Some(std::cmp::Ordering::Less) {
            best = (i, k);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::argmin;
    use std::cell::Cell;

    #[test]
    fn argmin_takes_the_first_smallest_and_skips_keys_that_do_not_compare() {
        assert_eq!(
            argmin(&[3.0, 1.0, 2.0, 1.0], |x| *x),
            1,
            "a tie goes to the earlier"
        );
        assert_eq!(argmin(&[f64::NAN, 2.0, 1.0], |x| *x), 0, "NaN never compares");
        assert_eq!(argmin(&[2.0, f64::NAN, 1.0], |x| *x), 2);
        assert_eq!(
            argmin(&[(1.0, 5.0), (1.0, 4.0)], |x| *x),
            1,
            "keys compare as tuples"
        );
        assert_eq!(argmin::<f64, f64>(&[], |x| *x), 0);
    }

    #[test]
    fn argmin_scores_each_element_once() {
        let calls = Cell::new(0);
        let best = argmin(&[5, 4, 3, 2, 1], |x| {
            calls.set(calls.get() + 1);
            *x
        });
        assert_eq!((best, calls.get()), (4, 5));
    }
}
