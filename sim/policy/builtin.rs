//! The built-in policies, chosen by name in a scenario (`policy: "tiered"`) and configured in
//! its `policies:` section. Each reacts to outages and price shocks the way its name promises,
//! and every reaction goes through the decision log.

use std::collections::BTreeMap;

use super::spec::{CostCeilingSpec, FailoverSpec, PolicySettings, TieredSpec, WeightedSpec};
use super::{
    Action, JobStatus, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score,
    ServiceId, Signal, View, argmin,
};
use crate::infra::ids::SiteId;
use crate::infra::pool::Tier;
use crate::kernel::{SimDuration, SimTime};
use crate::scenario::schema::ScenarioSpec;

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
/// resolved against `scenario`; `None` for an unknown name.
pub fn built_in(name: &str, settings: &PolicySettings, scenario: &ScenarioSpec) -> Option<Box<dyn Policy>> {
    let gain = settings.migration_gain;
    Some(match name {
        "lowest_latency" => Box::new(LowestLatency),
        "cheapest" => Box::new(Cheapest { migration_gain: gain }),
        "data_local" => Box::new(DataLocal),
        "tiered" => Box::new(Tiered::new(settings.tiered.clone())),
        "cost_ceiling" => Box::new(CostCeiling::new(settings.cost_ceiling.clone())),
        "failover" => Box::new(Failover::new(&settings.failover, scenario)),
        "weighted" => Box::new(Weighted {
            weights: settings.weighted.clone(),
            migration_gain: gain,
        }),
        _ => return None,
    })
}

/// Routes each request to the candidate with the lowest expected latency (the network round
/// trip plus the estimated queue wait plus service); places jobs by the trait's default (tier
/// preference, then price). Reacts to nothing beyond what routing sees: a site that is down is
/// no candidate. The default policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct LowestLatency;

impl Policy for LowestLatency {
    fn name(&self) -> &str {
        "lowest_latency"
    }
}

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

/// Moves compute to the data: places a job where no data has to move (by tier preference, then
/// price), and only where none can run locally, where the least has to move. Routes by lowest
/// expected latency. Never moves a running job: moving it would move its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataLocal;

/// The rank of placements that need data moved, after every local one.
const DATA_MOVES: u32 = 100;

impl Policy for DataLocal {
    fn name(&self) -> &str {
        "data_local"
    }

    fn place_score(&self, _: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
        Some(if c.staging_bytes == 0 {
            Score::ranked(c.preference, c.usd_per_effective_gpu_hour())
        } else {
            Score::ranked(DATA_MOVES, c.staging_bytes as f64 / 1e9)
        })
    }
}

/// Fixed → burst → opportunistic: uses tiers in a set order per workload class (by default
/// reserved, owned, on-demand, spot), the cheapest within a tier, and spot only while its price
/// is at most the ceiling. When a spot price rises above the ceiling, the jobs on it move to
/// the next tier that has room.
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

/// Keeps the spend rate on pay-per-use capacity (on-demand and spot) under a budget: a job whose
/// start would take the rate over it waits (reserved and owned capacity, already paid for, is
/// always allowed), and while the rate is over the budget, services with a fallback are
/// switched to it, for at least `hold`. Places by price; routes by latency.
#[derive(Debug, Clone)]
pub struct CostCeiling {
    spec: CostCeilingSpec,
    /// Services it switched to their fallback, and when.
    degraded: BTreeMap<ServiceId, SimTime>,
}

impl CostCeiling {
    /// A cost ceiling with these settings. Without a budget it never defers or degrades.
    pub fn new(spec: CostCeilingSpec) -> Self {
        CostCeiling {
            spec,
            degraded: BTreeMap::new(),
        }
    }

    fn budget(&self) -> f64 {
        self.spec.budget.map_or(f64::INFINITY, |b| b.usd_per_hour())
    }

    fn adds(request: &PlaceRequest<'_>, c: &PlacementCandidate) -> f64 {
        if c.tier.is_fixed() {
            0.0
        } else {
            f64::from(request.gpus) * c.usd_per_gpu_hour
        }
    }
}

impl Policy for CostCeiling {
    fn name(&self) -> &str {
        "cost_ceiling"
    }

    fn place_score(
        &self,
        request: &PlaceRequest<'_>,
        c: &PlacementCandidate,
        view: &View<'_>,
    ) -> Option<Score> {
        let adds = Self::adds(request, c);
        (adds == 0.0 || view.usage_spend_usd_per_hour() + adds <= self.budget())
            .then(|| Score::new(c.usd_per_effective_gpu_hour()))
    }

    fn wait_reason(
        &self,
        request: &PlaceRequest<'_>,
        candidates: &[PlacementCandidate],
        view: &View<'_>,
    ) -> String {
        let least = candidates
            .iter()
            .map(|c| Self::adds(request, c))
            .fold(f64::INFINITY, f64::min);
        format!(
            "cost_ceiling: spending {:.2} USD/h; the cheapest start adds {least:.2} USD/h, over the budget of {:.2} USD/h",
            view.usage_spend_usd_per_hour(),
            self.budget()
        )
    }

    fn tick(&self) -> Option<SimDuration> {
        (self.spec.budget.is_some() && self.spec.degrade).then_some(self.spec.check_every)
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        if !matches!(signal, Signal::Tick | Signal::PriceChange { .. }) || !self.spec.degrade {
            return;
        }
        let Some(workloads) = view.workloads() else { return };
        let spend = view.usage_spend_usd_per_hour();
        let budget = self.budget();
        if spend > budget {
            for (index, _) in workloads.service_names().iter().enumerate() {
                let service = ServiceId(index as u32);
                let (has_fallback, active) = workloads.fallback(service);
                if has_fallback && !active && self.degraded.insert(service, view.now()).is_none() {
                    actions.push(Action::Degrade {
                        service,
                        active: true,
                        reason: format!(
                            "cost_ceiling: spending {spend:.2} USD/h, over the budget of {budget:.2} USD/h"
                        ),
                    });
                }
            }
        } else if spend < budget * self.spec.resume_below {
            let (now, hold) = (view.now(), self.spec.hold);
            let due: Vec<ServiceId> = self
                .degraded
                .iter()
                .filter(|&(_, &since)| now.saturating_since(since) >= hold)
                .map(|(&service, _)| service)
                .collect();
            for service in due {
                self.degraded.remove(&service);
                actions.push(Action::Degrade {
                    service,
                    active: false,
                    reason: format!(
                        "cost_ceiling: spending {spend:.2} USD/h, below {:.0}% of the budget",
                        self.spec.resume_below * 100.0
                    ),
                });
            }
        }
    }
}

/// Ordered site lists: each listed service is served from the first of its sites that can
/// serve, and jobs run at the first listed site with room. When a site goes down, the next site
/// of each service it served is scaled up to the replicas the failed site had, and interrupted
/// jobs are restored at the next listed site that holds a checkpoint copy. Once the site is
/// back and its replicas are ready again, the standby returns to its size.
#[derive(Debug, Clone)]
pub struct Failover {
    /// Per service (scenario order), the rank of each site (scenario order); unlisted sites
    /// rank after every listed one.
    route_rank: Vec<Vec<u32>>,
    /// Per service, its sites in order.
    service_sites: Vec<Vec<SiteId>>,
    /// The rank of each site for jobs.
    job_rank: Vec<u32>,
    job_sites: Vec<SiteId>,
    /// Replicas per (service, site) at the last tick, so an outage knows what it took away.
    seen: BTreeMap<(ServiceId, SiteId), u32>,
    /// Standbys a failover scaled up: their size before, the site they stand in for, and the
    /// replicas that site had.
    standby: BTreeMap<(ServiceId, SiteId), Standby>,
}

/// A standby that took over from a failed site.
#[derive(Debug, Clone, Copy)]
struct Standby {
    size_before: u32,
    for_site: SiteId,
    replicas_lost: u32,
}

/// How often failover looks at replica counts.
const FAILOVER_TICK: SimDuration = SimDuration::from_secs(60);

impl Failover {
    /// A failover policy with `spec`'s lists, names resolved against `scenario`; names it does
    /// not know are left out (the scenario check reports them).
    pub fn new(spec: &FailoverSpec, scenario: &ScenarioSpec) -> Self {
        let site = |name: &String| scenario.sites.iter().position(|s| &s.name == name);
        let ranks = |names: &[String]| {
            let mut rank = vec![names.len() as u32; scenario.sites.len()];
            let mut sites = Vec::new();
            for (i, s) in names.iter().filter_map(site).enumerate() {
                rank[s] = rank[s].min(i as u32);
                sites.push(SiteId(s as u32));
            }
            (rank, sites)
        };
        let (mut route_rank, mut service_sites) = (Vec::new(), Vec::new());
        for service in &scenario.services {
            let (rank, sites) = ranks(spec.services.get(&service.name).map_or(&[][..], Vec::as_slice));
            route_rank.push(rank);
            service_sites.push(sites);
        }
        let (job_rank, job_sites) = ranks(&spec.jobs);
        Failover {
            route_rank,
            service_sites,
            job_rank,
            job_sites,
            seen: BTreeMap::new(),
            standby: BTreeMap::new(),
        }
    }

    fn rank(&self, service: ServiceId, site: SiteId) -> u32 {
        self.route_rank
            .get(service.0 as usize)
            .and_then(|r| r.get(site.index()))
            .copied()
            .unwrap_or(u32::MAX)
    }

    fn remember_replicas(&mut self, view: &View<'_>) {
        for (s, sites) in self.service_sites.iter().enumerate() {
            for &site in sites {
                let service = ServiceId(s as u32);
                if view.site_up(site) {
                    self.seen.insert((service, site), view.replicas(service, site));
                }
            }
        }
    }

    fn site_down(&mut self, view: &View<'_>, down: SiteId, actions: &mut Vec<Action>) {
        for (s, sites) in self.service_sites.iter().enumerate() {
            let service = ServiceId(s as u32);
            let Some(at) = sites.iter().position(|&x| x == down) else {
                continue;
            };
            let lost = self.seen.get(&(service, down)).copied().unwrap_or(0);
            let Some(&next) = sites[at + 1..].iter().find(|&&x| view.site_up(x)) else {
                continue;
            };
            let now = view.replicas(service, next);
            if lost == 0 || self.standby.contains_key(&(service, next)) {
                continue;
            }
            self.standby.insert(
                (service, next),
                Standby {
                    size_before: now,
                    for_site: down,
                    replicas_lost: lost,
                },
            );
            actions.push(Action::Scale {
                service,
                site: next,
                replicas: now + lost,
                reason: format!(
                    "failover: {} is down; {} takes over its {lost} replica(s)",
                    view.site_name(down),
                    view.site_name(next)
                ),
            });
        }
        for job in view.jobs() {
            let lost_here = job.status == JobStatus::Waiting && !job.checkpoint_sites.is_empty();
            let next = self
                .job_sites
                .iter()
                .find(|&&x| x != down && view.site_up(x) && job.checkpoint_sites.contains(&x));
            if let (true, Some(&site)) = (lost_here, next) {
                actions.push(Action::Restore {
                    job: job.id,
                    site,
                    reason: format!(
                        "failover: {} is down; a checkpoint copy is at {}",
                        view.site_name(down),
                        view.site_name(site)
                    ),
                });
            }
        }
    }

    /// Returns standbys to their size once the site they stood in for is back with as many
    /// ready replicas as it lost (not when it comes back: its replicas still have to start).
    fn stand_down(&mut self, view: &View<'_>, actions: &mut Vec<Action>) {
        let back: Vec<(ServiceId, SiteId)> = self
            .standby
            .iter()
            .filter(|&(&(service, _), s)| {
                view.site_up(s.for_site)
                    && view
                        .workloads()
                        .is_some_and(|w| w.ready_replicas(service, s.for_site) >= s.replicas_lost)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in back {
            let Some(standby) = self.standby.remove(&key) else {
                continue;
            };
            actions.push(Action::Scale {
                service: key.0,
                site: key.1,
                replicas: standby.size_before,
                reason: format!(
                    "failover: {} serves again; the standby returns to {} replica(s)",
                    view.site_name(standby.for_site),
                    standby.size_before
                ),
            });
        }
    }
}

impl Policy for Failover {
    fn name(&self) -> &str {
        "failover"
    }

    fn route(&mut self, request: &RouteRequest, candidates: &[RouteCandidate], _: &View<'_>) -> usize {
        argmin(candidates, |c| {
            (self.rank(request.service, c.site), c.expected_latency_ns())
        })
    }

    fn route_score(&self, request: &RouteRequest, c: &RouteCandidate, _: &View<'_>) -> f64 {
        f64::from(self.rank(request.service, c.site))
    }

    fn place_score(&self, _: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
        let rank = self.job_rank.get(c.site.index()).copied().unwrap_or(u32::MAX);
        Some(Score::ranked(rank, c.usd_per_effective_gpu_hour()))
    }

    fn tick(&self) -> Option<SimDuration> {
        Some(FAILOVER_TICK)
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        match *signal {
            Signal::Tick => {
                self.remember_replicas(view);
                self.stand_down(view, actions);
            }
            Signal::SiteDown { site } => self.site_down(view, site, actions),
            _ => {}
        }
    }
}

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

/// Whether the signal changes what placements cost or which exist.
fn market_moved(signal: &Signal) -> bool {
    matches!(
        signal,
        Signal::PriceChange { .. } | Signal::CapacityChange { .. } | Signal::SiteUp { .. }
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
        if let Some((there, to)) = best {
            if there < here * (1.0 - gain) {
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
}

#[cfg(test)]
fn ids(actions: &[Action]) -> Vec<crate::policy::JobId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Migrate { job, .. } => Some(*job),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::estate::Estate;
    use crate::kernel::SimTime;
    use crate::policy::JobId;
    use crate::policy::{JobInfo, Placement, Workloads};

    const ESTATE: &str = r#"(
        name: "t", horizon: "1h",
        accelerators: [(name: "H100", memory: "80GB")],
        sites: [(name: "a", kind: cloud, jurisdiction: "eu"), (name: "b", kind: cloud, jurisdiction: "eu")],
        pools: [(site: "a", accelerator: "H100", on_demand: (limit: 8, price: "4 USD/h"),
                 spot: (limit: 8, price: "1 USD/h"))],
    )"#;

    fn estate() -> Estate {
        let scenario = match crate::scenario::load_str(ESTATE, std::path::Path::new("t.ron")) {
            Ok(scenario) => scenario,
            Err(e) => panic!("{e}"),
        };
        Estate::build(&scenario)
    }

    fn route(site: u32, rtt_ms: u64, queued: u32, free: u32) -> RouteCandidate {
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

    fn request() -> RouteRequest {
        RouteRequest {
            service: ServiceId(0),
            origin: SiteId(0),
            now: SimTime::ZERO,
        }
    }

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
    }

    fn placement(tier: Tier, price: f64) -> PlacementCandidate {
        PlacementCandidate {
            pool: crate::infra::ids::PoolId(0),
            site: SiteId(0),
            tier,
            preference: 0,
            free: 8,
            usd_per_gpu_hour: price,
            speed: 1.0,
            staging_bytes: 0,
            staging_s: 0.0,
        }
    }

    fn place_request(gpus: u32) -> PlaceRequest<'static> {
        PlaceRequest {
            id: JobId(0),
            job: "j",
            class: crate::scenario::schema::WorkloadClass::Training,
            gpus,
            priority: 0,
            remaining_gpu_hours: 10.0,
            now: SimTime::ZERO,
        }
    }

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

    /// One running job on spot at a price, its alternatives, one service with a fallback.
    struct OneJob {
        current: PlacementCandidate,
        alternatives: Vec<PlacementCandidate>,
    }

    impl Workloads for OneJob {
        fn jobs(&self, _: &Estate) -> Vec<JobInfo> {
            vec![JobInfo {
                id: JobId(3),
                name: "j".into(),
                class: crate::scenario::schema::WorkloadClass::Training,
                gpus: 4,
                priority: 0,
                preemptible: true,
                status: JobStatus::Running,
                current: Some(self.current),
                checkpoint_sites: vec![],
                remaining_gpu_hours: 10.0,
            }]
        }
        fn placements(&self, _: &Estate, _: JobId) -> Vec<PlacementCandidate> {
            self.alternatives.clone()
        }
        fn service_names(&self) -> Vec<&str> {
            vec!["chat"]
        }
        fn service_sites(&self, _: ServiceId) -> Vec<SiteId> {
            vec![SiteId(0)]
        }
        fn replicas(&self, _: ServiceId, _: SiteId) -> u32 {
            2
        }
        fn ready_replicas(&self, _: ServiceId, _: SiteId) -> u32 {
            2
        }
        fn queued(&self, _: ServiceId, _: SiteId) -> u32 {
            0
        }
        fn fallback(&self, _: ServiceId) -> (bool, bool) {
            (true, false)
        }
    }

    #[test]
    fn cheapest_moves_a_job_only_for_a_large_enough_saving() {
        let estate = estate();
        let mut actions = Vec::new();
        let mut cheapest = Cheapest { migration_gain: 0.25 };
        let price = Signal::PriceChange {
            pool: crate::infra::ids::PoolId(0),
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
            pool: crate::infra::ids::PoolId(0),
            tier: Tier::Spot,
            usd_per_gpu_hour: price,
        };
        tiered.on_signal(&signal(1.9), &view, &mut actions);
        assert!(actions.is_empty());
        tiered.on_signal(&signal(2.1), &view, &mut actions);
        assert_eq!(ids(&actions), vec![JobId(3)]);
    }

    #[test]
    fn cost_ceiling_defers_pay_per_use_over_the_budget_but_not_reserved() {
        let estate = estate(); // nothing in use: spending 0 USD/h
        let view = View::of_estate(SimTime::ZERO, &estate);
        let policy = CostCeiling::new(CostCeilingSpec {
            budget: Some("10 USD/h".parse().expect("price")),
            ..CostCeilingSpec::default()
        });
        let on_demand = placement(Tier::OnDemand, 4.0);
        assert!(
            policy.place_score(&place_request(2), &on_demand, &view).is_some(),
            "8 ≤ 10"
        );
        assert!(
            policy.place_score(&place_request(3), &on_demand, &view).is_none(),
            "12 > 10"
        );
        let reserved = placement(Tier::Reserved, 4.0);
        assert!(policy.place_score(&place_request(3), &reserved, &view).is_some());
    }

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
