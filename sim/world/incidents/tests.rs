//! Incident effects against a small run: each kind's effects apply and are undone to the exact
//! previous state (capacity, prices, links, sites, demand factors), overlapping incidents leave
//! the original state once all have ended, and the services an incident reaches are the ones
//! its effects name.

use std::path::Path;

use crate::incident::effect::Effect;
use crate::kernel::{RunLimits, SimDuration, SimTime, Simulation};
use crate::scenario::{Resolved, Scenario, load_str};
use crate::vocab::ids::{LinkId, PoolId, SiteId};
use crate::vocab::{ServiceId, Tier};

use super::super::{World, prepare, recovery};
use super::RunNames;
use super::effects::Undo;

/// Two cloud sites `a` and `b` with H100 pools, edge sites `users` and `c` where demand comes
/// from; `chat` is served at `a` for `users`, `eval` at `b` for `c`; a job runs on `a`'s spot
/// tier. `INCIDENTS` is replaced by the incidents of each test.
const SCENARIO: &str = r#"#![enable(implicit_some)]
(
    name: "effects",
    horizon: "30h",
    seed: 3,
    metrics: (window: "5m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [
        (name: "users", kind: edge, jurisdiction: "eu/de"),
        (name: "c", kind: edge, jurisdiction: "eu/de"),
        (name: "a", kind: cloud, jurisdiction: "eu/ie"),
        (name: "b", kind: cloud, jurisdiction: "eu/fr"),
    ],
    pools: [
        (site: "a", accelerator: "H100",
         reserved: (count: 8, price: "2 USD/h"),
         on_demand: (limit: 16, price: "4 USD/h"),
         spot: (limit: 8, price: "1 USD/h", notice: "2m")),
        (site: "b", accelerator: "H100", on_demand: (limit: 16, price: "4 USD/h")),
    ],
    links: [
        (a: "users", b: "a", bandwidth: "10Gbps", latency: "5ms"),
        (a: "users", b: "b", bandwidth: "10Gbps", latency: "9ms"),
        (a: "c", b: "b", bandwidth: "10Gbps", latency: "4ms"),
        (a: "a", b: "b", bandwidth: "40Gbps", latency: "8ms"),
    ],
    services: [
        (name: "chat",
         model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 4),
         service_time: deterministic(time: "100ms"),
         replicas: [(pool: "a/H100", tier: on_demand, count: 2)],
         demand: [(origin: "users", arrivals: poisson(rate: "2/s"))]),
        (name: "eval",
         model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 4),
         service_time: deterministic(time: "100ms"),
         replicas: [(pool: "b/H100", tier: on_demand, count: 2)],
         demand: [(origin: "c", arrivals: poisson(rate: "1/s"))]),
    ],
    jobs: [
        (name: "train", class: training, gpus: 4, work: 200, tiers: [spot], preemptible: true,
         checkpoint: (interval: "30m", write: "1m", restore: "5m")),
    ],
    incidents: INCIDENTS,
)"#;

fn scenario(incidents: &str) -> Scenario {
    let text = SCENARIO.replace("INCIDENTS", incidents);
    match load_str(&text, Path::new("effects.ron")) {
        Ok(scenario) => scenario,
        Err(e) => panic!("the test scenario loads: {e}"),
    }
}

fn hours(h: f64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs_f64(h * 3_600.0).unwrap_or(SimDuration::MAX))
}

/// What incidents may change and must give back.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    /// Per pool and tier: capacity and price.
    tiers: Vec<(PoolId, Tier, u32, f64)>,
    /// Per link: up, bandwidth, latency, loss.
    links: Vec<(bool, f64, SimDuration, f64)>,
    /// Per site: up.
    sites: Vec<bool>,
    /// Per service: the demand factor of each stream.
    demand: Vec<Vec<f64>>,
}

fn snapshot(world: &World) -> Snapshot {
    let estate = &world.estate;
    Snapshot {
        tiers: estate
            .pools
            .iter()
            .flat_map(|p| {
                p.tiers()
                    .map(|(t, s)| (p.id, t, s.capacity, s.price_per_gpu_hour))
                    .collect::<Vec<_>>()
            })
            .collect(),
        links: (0..estate.link_names.len() as u32)
            .filter_map(|l| estate.network.effective_link(LinkId(l)))
            .map(|l| (l.up, l.bandwidth_bps, l.latency, l.loss))
            .collect(),
        sites: estate.sites.iter().map(|s| s.up).collect(),
        demand: (0..world.serving.services.len() as u32)
            .map(|s| world.serving.demand_factors(ServiceId(s)))
            .collect(),
    }
}

/// Runs to `at` (every event at or before it delivered) and returns the state then.
fn at(sim: &mut Simulation<World>, time: SimTime) -> Snapshot {
    if let Err(e) = sim.run(RunLimits::until(time)) {
        panic!("the run reaches {time:?}: {e}");
    }
    snapshot(sim.model())
}

fn resolved(scenario: &Scenario) -> Resolved {
    match scenario.resolve() {
        Ok(resolved) => resolved,
        Err(e) => panic!("the test scenario resolves: {e}"),
    }
}

fn start(scenario: &Scenario) -> Simulation<World> {
    match prepare(&resolved(scenario), 3) {
        Ok((sim, _)) => sim,
        Err(e) => panic!("the test run builds: {e}"),
    }
}

/// One incident of each lasting kind, each in its own two-hour slot: `(incident, what it must
/// change while it lasts)`.
const LASTING: &[(&str, &str)] = &[
    (r#"kind: site_outage(site: "a")"#, "sites"),
    (
        r#"kind: capacity_shock(pool: "a/H100", tier: on_demand, to: fraction(0.25))"#,
        "tiers",
    ),
    (
        r#"kind: capacity_shock(pool: "a/H100", tier: spot, to: count(2))"#,
        "tiers",
    ),
    (r#"kind: price_shock(tier: on_demand, factor: 4.0)"#, "tiers"),
    (
        r#"kind: price_shock(tier: spot, factor: 2.5, site: "a")"#,
        "tiers",
    ),
    (
        r#"kind: link_degradation(link: "a--b", bandwidth_factor: 0.25, added_latency: "20ms", loss: 0.01)"#,
        "links",
    ),
    (r#"kind: link_down(site: "users")"#, "links"),
    (r#"kind: link_down(link: "c--b")"#, "links"),
    (r#"kind: demand_surge(service: "chat", factor: 3.0)"#, "demand"),
    (
        r#"kind: demand_surge(service: "eval", origin: "c", factor: 0.5)"#,
        "demand",
    ),
];

#[test]
fn every_lasting_kind_changes_the_run_and_its_end_restores_the_state_before_it() {
    let incidents: Vec<String> = LASTING
        .iter()
        .enumerate()
        .map(|(i, (kind, _))| {
            format!(
                r#"(name: "i{i}", start: "{}h", duration: "1h", {kind})"#,
                2 * i + 1
            )
        })
        .collect();
    let scenario = scenario(&format!("[{}]", incidents.join(",\n")));
    let mut sim = start(&scenario);
    for (i, (kind, field)) in LASTING.iter().enumerate() {
        let begin = (2 * i + 1) as f64;
        let before = at(&mut sim, hours(begin - 0.01));
        let during = at(&mut sim, hours(begin + 0.5));
        let changed = match *field {
            "sites" => before.sites != during.sites,
            "tiers" => before.tiers != during.tiers,
            "links" => before.links != during.links,
            _ => before.demand != during.demand,
        };
        assert!(changed, "{kind} changes the {field}: {before:?} vs {during:?}");
        let after = at(&mut sim, hours(begin + 1.5));
        assert_eq!(after, before, "{kind} is undone at its end");
    }
}

#[test]
fn instant_kinds_have_nothing_to_undo_and_leave_capacity_prices_and_links_alone() {
    let scenario = scenario(
        r#"[
        (name: "gpu", start: "2h", kind: gpu_failure(pool: "a/H100", job: "train")),
        (name: "random gpu", start: "3h", kind: gpu_failure(pool: "b/H100")),
        (name: "reclaim", start: "4h", kind: spot_preemption(pool: "a/H100")),
    ]"#,
    );
    let mut sim = start(&scenario);
    let before = at(&mut sim, hours(1.0));
    let after = at(&mut sim, hours(5.0));
    assert_eq!(after, before);
    let interrupted: Vec<_> = sim.model().jobs.interruptions.iter().map(|i| i.cause).collect();
    assert!(
        !interrupted.is_empty(),
        "the GPU failure and the reclaim interrupt the spot job"
    );
    for scripted in &sim.model().incidents.scripted {
        assert_eq!(scripted.undo, vec![Undo::Nothing], "{}", scripted.spec.name);
    }
}

#[test]
fn overlapping_incidents_give_back_the_original_state_whatever_order_they_end_in() {
    // Same pools, tiers, links and service, nested and interleaved.
    let scenario = scenario(
        r#"[
        (name: "shrink half", start: "1h", duration: "4h",
         kind: capacity_shock(pool: "a/H100", tier: on_demand, to: fraction(0.5))),
        (name: "shrink to 2", start: "2h", duration: "1h",
         kind: capacity_shock(pool: "a/H100", tier: on_demand, to: count(2))),
        (name: "price x2", start: "1h", duration: "2h", kind: price_shock(tier: on_demand, factor: 2.0)),
        (name: "price x4", start: "2h", duration: "3h", kind: price_shock(tier: on_demand, pool: "a/H100", factor: 4.0)),
        (name: "slow", start: "1h", duration: "2h",
         kind: link_degradation(link: "a--b", bandwidth_factor: 0.5, added_latency: "10ms")),
        (name: "cut", start: "2h", duration: "2h", kind: link_down(link: "a--b")),
        (name: "surge", start: "1h", duration: "3h", kind: demand_surge(service: "chat", factor: 2.0)),
        (name: "surge users", start: "2h", duration: "1h",
         kind: demand_surge(service: "chat", origin: "users", factor: 4.0)),
        (name: "a down", start: "1h30m", duration: "1h", kind: site_outage(site: "a")),
        (name: "shrink spot", start: "2h", duration: "2h30m",
         kind: capacity_shock(pool: "a/H100", tier: spot, to: count(0))),
    ]"#,
    );
    let mut sim = start(&scenario);
    let before = at(&mut sim, hours(0.5));
    let during = at(&mut sim, hours(2.5));
    assert_ne!(during, before);
    let after = at(&mut sim, hours(6.0));
    assert_eq!(after, before);
}

#[test]
fn recovery_reach_is_the_services_the_effects_reach() {
    let kinds: &[(&str, &[&str])] = &[
        (r#"site_outage(site: "a")"#, &["chat"]),
        (r#"site_outage(site: "c")"#, &["eval"]),
        (
            r#"capacity_shock(pool: "b/H100", tier: on_demand, to: count(1))"#,
            &["eval"],
        ),
        (r#"price_shock(tier: on_demand, factor: 2.0)"#, &[]),
        (
            r#"link_degradation(link: "c--b", bandwidth_factor: 0.5)"#,
            &["eval"],
        ),
        (
            r#"link_degradation(link: "a--b", bandwidth_factor: 0.5)"#,
            &["chat", "eval"],
        ),
        (r#"link_down(site: "users")"#, &["chat"]),
        (r#"link_down(link: "users--a")"#, &["chat"]),
        (r#"demand_surge(service: "eval", factor: 2.0)"#, &["eval"]),
        (r#"gpu_failure(pool: "b/H100")"#, &["eval"]),
        (r#"spot_preemption(pool: "a/H100")"#, &["chat"]),
    ];
    let incidents: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, (kind, _))| {
            let duration = if kind.starts_with("gpu_failure") || kind.starts_with("spot_preemption") {
                String::new()
            } else {
                r#"duration: "1h", "#.to_string()
            };
            format!(r#"(name: "i{i}", start: "1h", {duration}kind: {kind})"#)
        })
        .collect();
    let scenario = scenario(&format!("[{}]", incidents.join(",\n")));
    let world = match World::build(&resolved(&scenario), 3) {
        Ok(world) => world,
        Err(e) => panic!("the test run builds: {e}"),
    };
    let names = RunNames::new(&world.estate, &world.serving, &world.jobs);
    for (spec, (kind, expected)) in world.incidents.specs().zip(kinds) {
        let effects: Vec<Effect> = spec.kind.effects(&names);
        assert!(!effects.is_empty(), "{kind} has effects");
        let affected: Vec<&str> = recovery::affected_services(&world, &effects)
            .into_iter()
            .map(|s| world.serving.services[s.index()].name.as_str())
            .collect();
        assert_eq!(&affected, expected, "{kind}");
    }
}

#[test]
fn names_resolve_to_the_runs_ids() {
    use crate::incident::effect::IncidentNames;
    let scenario = scenario("[]");
    let world = match World::build(&resolved(&scenario), 3) {
        Ok(world) => world,
        Err(e) => panic!("the test run builds: {e}"),
    };
    let names = RunNames::new(&world.estate, &world.serving, &world.jobs);
    assert_eq!(names.site("a"), Some(SiteId(2)));
    assert_eq!(names.pool("b/H100"), Some(PoolId(1)));
    assert_eq!(names.link("c--b"), Some(LinkId(2)));
    assert_eq!(names.links_of(SiteId(0)), vec![LinkId(0), LinkId(1)]);
    assert_eq!(names.ends_of(LinkId(3)), vec![SiteId(2), SiteId(3)]);
    assert_eq!(names.service("eval"), Some(ServiceId(1)));
    assert_eq!(names.job("train").map(|j| j.index()), Some(0));
    assert_eq!(names.spot_notice(PoolId(0)), SimDuration::from_secs(120));
    assert_eq!(names.site("nowhere"), None);
}
