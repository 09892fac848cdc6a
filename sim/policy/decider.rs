//! The engine's side of a policy: the one policy instance of a run, the decision log it writes
//! to, and the signals waiting to be delivered. Placement and routing answers are checked here;
//! one outside the eligible list is rejected, logged and replaced by the default. Routes are
//! made sticky here, for every policy alike: a stream keeps its site unless another is better
//! by the route margin or its preferred site is no worse, and overflows while its site is full.

use super::decision::{DecisionKind, DecisionLog};
use super::spec::DEFAULT_ROUTE_MARGIN;
use super::{
    PlaceRequest, Placement, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, Signal, View,
    lowest_latency, preferred_then_cheapest,
};
use crate::kernel::{SimDuration, SimTime};
use crate::vocab::ids::SiteId;

/// How many runners-up the decision log shows.
const ALTERNATIVES: usize = 3;

/// What came of a placement request.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceOutcome {
    /// Place on the candidate at `index`.
    Place {
        /// The candidate.
        index: usize,
        /// The runners-up with their scores, for the log.
        alternatives: String,
        /// Why, for the log.
        reason: String,
    },
    /// Leave the job waiting, for this reason.
    Wait(String),
    /// Give up on the job, for this reason.
    Reject(String),
}

/// Where a request goes ([`Decider::route`]) and what that does to its stream's site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    /// The candidate that serves the request.
    pub index: usize,
    /// The request overflows from its stream's site, which is full, to `index`; the stream's
    /// site stays where it is. Otherwise `index`'s site is the stream's site from now on.
    pub spill: bool,
    /// Why the stream is at `index`'s site, when that is a change.
    pub why: RouteWhy,
}

impl Routed {
    fn stream(index: usize, why: RouteWhy) -> Self {
        Routed {
            index,
            spill: false,
            why,
        }
    }
}

/// Why a stream is on the site a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteWhy {
    /// The policy's choice: the stream had no site, its site can no longer serve, it stays,
    /// or the margin is 0.
    Chosen,
    /// Better than the stream's site by more than the route margin.
    Better,
    /// To the stream's preferred site (the best with no queues), which scores no worse than
    /// its current one.
    Back,
}

/// The policy of a run with its decision log and pending signals.
pub struct Decider {
    policy: Box<dyn Policy>,
    log: DecisionLog,
    signals: Vec<Signal>,
    /// When an ineligible route was last logged, and how many came since.
    route_rejections: (Option<SimTime>, u64),
    /// The scenario's route margin, before the policy's say ([`Policy::route_margin`]).
    route_margin: f64,
    /// The policy's [`Policy::routes_by_lowest_latency`], asked once.
    routes_by_lowest_latency: bool,
}

/// Ineligible routes are logged at most once per this interval: a policy that gets every
/// request wrong would otherwise write one entry per request.
const ROUTE_REJECTION_INTERVAL: SimDuration = SimDuration::from_secs(60);

impl Decider {
    /// Decides with `policy`.
    pub fn new(policy: Box<dyn Policy>) -> Self {
        Decider {
            routes_by_lowest_latency: policy.routes_by_lowest_latency(),
            policy,
            log: DecisionLog::default(),
            signals: Vec::new(),
            route_rejections: (None, 0),
            route_margin: DEFAULT_ROUTE_MARGIN,
        }
    }

    /// Keeps streams on their site unless another is better by `margin`, a fraction of the
    /// current site's score (the scenario's `policies.route_margin`).
    pub fn with_route_margin(mut self, margin: f64) -> Self {
        self.route_margin = margin;
        self
    }

    /// Whether the policy routes by lowest latency alone ([`Policy::routes_by_lowest_latency`]).
    pub fn routes_by_lowest_latency(&self) -> bool {
        self.routes_by_lowest_latency
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        self.policy.name()
    }

    /// The policy itself.
    pub fn policy_mut(&mut self) -> &mut dyn Policy {
        self.policy.as_mut()
    }

    /// How often the policy wants a tick.
    pub fn tick(&self) -> Option<SimDuration> {
        self.policy.tick().filter(|t| !t.is_zero())
    }

    /// Records a decision without alternatives.
    pub fn record(
        &mut self,
        time: SimTime,
        kind: DecisionKind,
        subject: String,
        choice: String,
        reason: String,
    ) {
        self.log
            .record(time, kind, subject, choice, String::new(), reason);
    }

    /// Records a decision with its runners-up.
    pub fn record_with(
        &mut self,
        time: SimTime,
        kind: DecisionKind,
        subject: String,
        choice: String,
        alternatives: String,
        reason: String,
    ) {
        self.log.record(time, kind, subject, choice, alternatives, reason);
    }

    /// The decision log.
    pub fn log(&self) -> &DecisionLog {
        &self.log
    }

    /// Moves the decisions taken so far out of the log, which is left empty: the end of a run
    /// hands them to its record.
    pub fn take_log(&mut self) -> DecisionLog {
        std::mem::take(&mut self.log)
    }

    /// Queues a signal for delivery after the current event.
    pub fn signal(&mut self, signal: Signal) {
        self.signals.push(signal);
    }

    /// The signals queued so far, in the order they came.
    pub fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.signals)
    }

    /// Asks the policy which candidate serves `request`; an index outside `candidates` is
    /// rejected and logged, and the lowest expected latency is used instead. The answer is then
    /// made sticky for the request's stream; [`Routed`] says what the request does to its
    /// stream's site.
    pub fn route(
        &mut self,
        view: &View<'_>,
        request: &RouteRequest,
        candidates: &[RouteCandidate],
        subject: &str,
    ) -> Routed {
        // With one eligible candidate there is nothing to choose.
        if candidates.len() == 1 {
            return Routed::stream(0, RouteWhy::Chosen);
        }
        let choice = self.policy.route(request, candidates, view);
        if choice < candidates.len() {
            return self.hold(view, request, candidates, choice);
        }
        let (last, unlogged) = &mut self.route_rejections;
        let fastest = Routed::stream(lowest_latency::fastest(candidates), RouteWhy::Chosen);
        if last.is_some_and(|t| request.now.saturating_since(t) < ROUTE_REJECTION_INTERVAL) {
            *unlogged += 1;
            return fastest;
        }
        let since = match std::mem::take(unlogged) {
            0 => String::new(),
            n => format!(" ({n} more since the last entry)"),
        };
        *last = Some(request.now);
        let reason = format!(
            "policy {} chose outside the {} eligible sites; lowest latency used{since}",
            self.policy.name(),
            candidates.len()
        );
        self.record(
            request.now,
            DecisionKind::Rejected,
            subject.to_string(),
            format!("candidate {choice}"),
            reason,
        );
        fastest
    }

    /// Hysteresis around the policy's `choice` for a stream on site `request.current`:
    ///
    /// - no current site, a margin of 0, or the current site no longer a candidate: `choice`;
    /// - the stream moves to `choice` when it scores lower than the current site by more than
    ///   the margin;
    /// - it moves to its preferred site (the best with no queue anywhere,
    ///   [`Decider::preferred`]) as soon as that scores no worse than the current site, so a
    ///   stream that left during a queue does not stay on a worse site once the queue is gone;
    /// - otherwise it stays, but a request that would queue at the current site (no free slot)
    ///   spills to `choice` when that scores lower: the load is spread while the stream's site
    ///   stays where it is.
    ///
    /// Without it, routing flaps between sites whose scores are nearly equal, every request
    /// moving the queues that the next one's scores are read from. Runs per request: it only
    /// scores when the choice is not the current site, and allocates nothing.
    fn hold(
        &self,
        view: &View<'_>,
        request: &RouteRequest,
        candidates: &[RouteCandidate],
        choice: usize,
    ) -> Routed {
        let chosen = Routed::stream(choice, RouteWhy::Chosen);
        let Some(current) = request.current else {
            return chosen;
        };
        if candidates[choice].site == current {
            return chosen;
        }
        let margin = self.policy.route_margin(self.route_margin);
        if margin.is_nan() || margin <= 0.0 {
            return chosen;
        }
        let score = |c: &RouteCandidate| self.policy.route_score(request, c, view);
        let Some((stay, s_here)) = best_at(candidates, current, score) else {
            return chosen;
        };
        let s_choice = score(&candidates[choice]);
        if clears_margin(s_choice, s_here, margin) {
            return Routed::stream(choice, RouteWhy::Better);
        }
        let preferred = self.preferred(view, request, candidates);
        if candidates[preferred].site != current
            && let Some((back, s_back)) = best_at(candidates, candidates[preferred].site, score)
            && s_back <= s_here
        {
            return Routed::stream(back, RouteWhy::Back);
        }
        if candidates[stay].free_slots == 0 && s_choice < s_here {
            return Routed {
                index: choice,
                spill: true,
                why: RouteWhy::Chosen,
            };
        }
        Routed::stream(stay, RouteWhy::Chosen)
    }

    /// The candidate a stream would be on with no queue anywhere: the best
    /// [`Policy::route_score`] of each candidate as if all its slots were free (ties to the
    /// earlier candidate).
    pub fn preferred(&self, view: &View<'_>, request: &RouteRequest, candidates: &[RouteCandidate]) -> usize {
        super::argmin(candidates, |c| self.policy.route_score(request, &c.idle(), view))
    }

    /// The runners-up of a route with their scores: `"us-east 212.400, eu-par 230.100"`.
    pub fn route_alternatives(
        &self,
        view: &View<'_>,
        request: &RouteRequest,
        candidates: &[RouteCandidate],
        chosen: SiteId,
    ) -> String {
        let mut scored: Vec<(f64, SiteId)> = candidates
            .iter()
            .filter(|c| c.site != chosen)
            .map(|c| (self.policy.route_score(request, c, view), c.site))
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        join(
            scored
                .iter()
                .take(ALTERNATIVES)
                .map(|(s, site)| format!("{} {s:.3}", view.site_name(*site))),
        )
    }

    /// The score of the route to `candidate`, as the policy sees it.
    pub fn route_score(&self, view: &View<'_>, request: &RouteRequest, candidate: &RouteCandidate) -> f64 {
        self.policy.route_score(request, candidate, view)
    }

    /// Asks the policy where `request` runs. An index outside `candidates` is rejected and
    /// logged, and the default choice (tier preference, then price) is used instead.
    pub fn place(
        &mut self,
        view: &View<'_>,
        request: &PlaceRequest<'_>,
        candidates: &[PlacementCandidate],
    ) -> PlaceOutcome {
        let index = match self.policy.place(request, candidates, view) {
            Placement::Place(i) if i < candidates.len() => i,
            Placement::Place(i) => {
                let reason = format!(
                    "policy {} chose outside the {} eligible placements; the default was used",
                    self.policy.name(),
                    candidates.len()
                );
                self.record(
                    request.now,
                    DecisionKind::Rejected,
                    request.job.to_string(),
                    format!("candidate {i}"),
                    reason,
                );
                preferred_then_cheapest(candidates)
            }
            Placement::Wait => return PlaceOutcome::Wait(self.policy.wait_reason(request, candidates, view)),
            Placement::Reject => {
                return PlaceOutcome::Reject(format!("rejected by policy {}", self.policy.name()));
            }
        };
        let score = |c: &PlacementCandidate| self.policy.place_score(request, c, view);
        let mut others: Vec<(Score, usize)> = candidates
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index)
            .filter_map(|(i, c)| score(c).map(|s| (s, i)))
            .collect();
        others.sort_by(|a, b| {
            (a.0.rank, a.0.value)
                .partial_cmp(&(b.0.rank, b.0.value))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        let name = |c: &PlacementCandidate| format!("{}/{}", view.pool_name(c.pool), c.tier.as_str());
        let alternatives = join(
            others
                .iter()
                .take(ALTERNATIVES)
                .map(|(s, i)| format!("{} {s}", name(&candidates[*i]))),
        );
        let chosen = &candidates[index];
        let staging = if chosen.staging_bytes > 0 {
            format!("; {:.1} GB to stage", chosen.staging_bytes as f64 / 1e9)
        } else {
            String::new()
        };
        let reason = format!(
            "{} score {}; {} GPUs; {} eligible; {:.2} USD per effective GPU-hour{staging}",
            self.policy.name(),
            score(chosen).map_or("-".to_string(), |s| s.to_string()),
            request.gpus,
            candidates.len(),
            chosen.usd_per_effective_gpu_hour(),
        );
        PlaceOutcome::Place {
            index,
            alternatives,
            reason,
        }
    }
}

/// The best-scoring candidate at `site` with its score, if any is there.
fn best_at(
    candidates: &[RouteCandidate],
    site: SiteId,
    score: impl Fn(&RouteCandidate) -> f64,
) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in candidates.iter().enumerate() {
        if c.site == site {
            let s = score(c);
            if best.is_none_or(|(_, b)| s < b) {
                best = Some((i, s));
            }
        }
    }
    best
}

/// Whether a score of `there` is better (lower) than `here` by more than `margin`, a fraction
/// of `here`'s size. Scores that do not compare (NaN) never clear it: the stream stays.
fn clears_margin(there: f64, here: f64, margin: f64) -> bool {
    there < here - margin * here.abs()
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join("; ")
}
