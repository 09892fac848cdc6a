//! The synthetic estate of the scale benchmark: valid at every size, the same text for the same
//! shape, and bringing the demand it says it does.

use std::path::Path;

use hybridsim::scenario::load_str;
use hybridsim::scenario::synthetic::{EstateShape, estate};
use hybridsim::world::simulate;

#[test]
fn the_synthetic_estate_is_valid_and_unwarned_at_every_size() {
    for sites in [2, 9, 10, 25, 200] {
        let shape = EstateShape::new(sites, 100);
        let text = estate(&shape);
        let scenario =
            load_str(&text, Path::new("estate.ron")).unwrap_or_else(|e| panic!("{sites} sites: {e}"));
        assert_eq!(scenario.spec.sites.len(), sites);
        assert!(
            scenario.warnings.is_empty(),
            "{sites} sites: {:?}",
            scenario.warnings
        );
        // A region's first five sites hold every kind.
        let kinds = ["cloud", "edge", "on_prem", "colo"];
        let present = kinds.iter().filter(|k| text.contains(&format!("kind: {k},")));
        assert_eq!(present.count(), if sites >= 5 { 4 } else { 2 }, "{sites} sites");
    }
}

/// The arrivals over two days are Poisson with the mean the shape states: the count lies within
/// four standard deviations of it (a false alarm about once in 16,000 seeds).
#[test]
fn a_synthetic_estate_brings_the_demand_it_states_and_conserves_it() {
    let shape = EstateShape::new(20, 2);
    let scenario = load_str(&estate(&shape), Path::new("estate.ron")).unwrap();
    let outcome = simulate(&scenario.resolve().unwrap(), shape.seed).unwrap();
    let expected = shape.requests_per_year() * 2.0 / 365.0;
    let mut arrived = 0;
    for service in outcome.summary.services.values() {
        let r = &service.requests;
        assert_eq!(r.arrived, r.served + r.degraded + r.failed + r.in_flight);
        arrived += r.arrived;
    }
    let deviations = (arrived as f64 - expected) / expected.sqrt();
    assert!(
        deviations.abs() < 4.0,
        "{arrived} requests arrived, {expected:.0} expected ({deviations:.1} σ)"
    );
    assert!(outcome.summary.jobs.values().map(|j| j.submitted).sum::<u64>() > 0);
    assert!(!outcome.summary.incidents.is_empty());
}

/// A chart's points stay within its budget however long the run and however many panels: three
/// weeks of ten-minute windows (3,024) on 100 sites draw each of the utilization chart's 24
/// panels with at most 960 points and each of the latency chart's ten with at most 2,304, and
/// the spans cover the whole run.
#[test]
fn charts_of_a_long_run_of_a_large_estate_keep_to_their_budget() {
    use hybridsim::metrics::archive::points_per_series;
    use hybridsim::report::figures::{latency_chart, utilization_chart};

    let shape = EstateShape {
        window_minutes: 10,
        ..EstateShape::new(100, 21)
    };
    // A hundredth of the demand: the windows, not the requests, are what this is about.
    let text = estate(&shape).replace(
        "peak: \"1/s\", trough: \"0.3/s\"",
        "peak: \"0.01/s\", trough: \"0.003/s\"",
    );
    let scenario = load_str(&text, Path::new("estate.ron")).unwrap();
    let outcome = simulate(&scenario.resolve().unwrap(), shape.seed).unwrap();
    assert_eq!(outcome.record.windows.len(), 3_024);

    let utilization = utilization_chart(&outcome).unwrap();
    assert_eq!(utilization.pools.len(), 24);
    assert_eq!(points_per_series(24), 960);
    for pool in &utilization.pools {
        // 756 spans of four windows, and the last sample repeated at the horizon.
        assert_eq!(pool.points.len(), 3_024 / 4 + 1, "{}", pool.pool);
    }
    let latency = latency_chart(&outcome).unwrap();
    assert_eq!(latency.services.len(), 10);
    for service in &latency.services {
        assert_eq!(service.points.len(), 3_024 / 2, "{}", service.service);
        let last = service.points.last().unwrap();
        assert_eq!(last.t_s, 21.0 * 86_400.0);
    }
}

/// Every charge to a job reaches its row of `jobs.csv`, though a job's total leaves the ledger
/// when the job does (so a long run's ended jobs cost no memory): over a week of ten sites,
/// where jobs end and retire all along, each class's job rows add up to what the ledger charged
/// the class, and the ledger keeps no total for any job.
#[test]
fn every_charge_to_a_job_reaches_its_row_though_its_total_leaves_the_ledger() {
    use std::collections::BTreeMap;

    use hybridsim::infra::ledger::Payer;

    let shape = EstateShape::new(10, 7);
    let scenario = load_str(&estate(&shape), Path::new("estate.ron")).unwrap();
    let record = simulate(&scenario.resolve().unwrap(), shape.seed).unwrap().record;
    let mut by_class = BTreeMap::new();
    let (mut jobs, mut ended) = (0, 0);
    record
        .jobs
        .for_each(|index, row| {
            *by_class.entry(row.class).or_insert(0.0) += row.cost_usd;
            let payer = Payer {
                class: row.class,
                workload: index,
            };
            assert_eq!(record.ledger.of_payer(payer), 0.0, "{} settled", row.name);
            jobs += 1;
            ended += usize::from(row.record.ended.is_some());
        })
        .unwrap();
    assert!(ended >= 10, "{ended} of {jobs} jobs ended during the week");
    assert!(by_class.len() >= 2, "{by_class:?}");
    // The rows and the class total add the same charges in different orders: only rounding
    // may part them, a few ulps over a few hundred charges.
    for (class, rows_usd) in by_class {
        let charged = record.ledger.by_class()[&class];
        assert!(charged > 0.0, "{class:?}");
        assert!(
            (rows_usd - charged).abs() <= 1e-9 * charged,
            "{class:?}: rows {rows_usd} USD, ledger {charged} USD"
        );
    }
}

/// One stream whose idle leader moves: the link to the nearest site slows (its round trip
/// grows and another site leads), the site goes down and comes back, and its one GPU fails and
/// is repaired while the site stays up. Two other sites tie for second place, so while the
/// link is slow the leader is the earlier of two. The nearest site wins by more than the route
/// margin (a 4 ms round trip against 40 ms, on about 57 ms of service), so a stream that moved
/// away comes back as soon as the policy is asked: a leader kept past a change would hold it
/// where it is. Its GPU fails once on cue (8h): while it is in repair, another site's outage
/// has the leader worked out again without it, and the repair alone must bring it back.
const MOVING_LEADER: &str = r#"#![enable(implicit_some)]
(
    name: "moving-leader", horizon: "10h", seed: 3, metrics: (window: "10m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "edge", kind: edge, jurisdiction: "eu"), (name: "near", kind: cloud, jurisdiction: "eu"),
            (name: "far", kind: cloud, jurisdiction: "eu"), (name: "alt", kind: cloud, jurisdiction: "eu")],
    links: [(a: "edge", b: "near", bandwidth: "10Gbps", latency: "2ms"),
            (a: "edge", b: "far", bandwidth: "10Gbps", latency: "20ms"),
            (a: "edge", b: "alt", bandwidth: "10Gbps", latency: "20ms")],
    pools: [(site: "near", accelerator: "H100", size: 1, failures: (gpu_mtbf: "2h", repair: "20m"),
             owned: (count: 1, capex_per_gpu: "30000 USD", lifetime: "4y", power_per_gpu: "1kW", energy_price: "0.2 USD/kWh")),
            (site: "far", accelerator: "H100", reserved: (count: 4, price: "2 USD/h")),
            (site: "alt", accelerator: "H100", reserved: (count: 4, price: "2 USD/h"))],
    services: [(
        name: "chat",
        model: (memory: "40GB", gpus_per_replica: 1, slots_per_replica: 4),
        service_time: lognormal(median: "50ms", sigma: 0.5),
        replicas: [(pool: "near/H100", tier: owned, count: 1), (pool: "far/H100", tier: reserved, count: 2),
                   (pool: "alt/H100", tier: reserved, count: 2)],
        demand: [(origin: "edge", arrivals: poisson(rate: "5/s"))],
        timeout: "30s",
    )],
    incidents: [
        (name: "slow link", start: "2h", duration: "2h", kind: link_degradation(link: "edge--near", bandwidth_factor: 0.5, added_latency: "50ms")),
        (name: "near down", start: "6h", duration: "1h", kind: site_outage(site: "near")),
        (name: "near GPU dies", start: "8h", kind: gpu_failure(pool: "near/H100")),
        (name: "alt down", start: "8h10m", duration: "5m", kind: site_outage(site: "alt")),
    ],
)"#;

/// Routing by lowest latency without asking the policy, when a stream's site holds its idle
/// leader, changes nothing: the same estate under the same policy, once announced as routing by
/// lowest latency (so the engine may skip asking) and once not (so every request is routed
/// through the policy), gives the same summary and the same decisions. Three days of 20 sites,
/// with outages, link degradation, backhaul cuts and GPU failures moving the leaders, at the
/// estate's own load and at one that fills the sites so that requests queue, spill over and
/// move their streams.
#[test]
fn skipping_the_policy_for_idle_leaders_routes_every_request_as_asking_it_does() {
    use hybridsim::policy::{
        DecisionKind, LowestLatency, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest,
        Score, View,
    };
    use hybridsim::world::simulate_with;

    /// Lowest latency, without saying so.
    struct Unannounced;
    impl Policy for Unannounced {
        fn name(&self) -> &str {
            LowestLatency.name()
        }
        fn route(&mut self, request: &RouteRequest, candidates: &[RouteCandidate], view: &View<'_>) -> usize {
            LowestLatency.route(request, candidates, view)
        }
        fn route_score(&self, request: &RouteRequest, candidate: &RouteCandidate, view: &View<'_>) -> f64 {
            LowestLatency.route_score(request, candidate, view)
        }
        fn place_score(
            &self,
            request: &PlaceRequest<'_>,
            candidate: &PlacementCandidate,
            view: &View<'_>,
        ) -> Option<Score> {
            LowestLatency.place_score(request, candidate, view)
        }
    }
    assert!(LowestLatency.routes_by_lowest_latency() && !Unannounced.routes_by_lowest_latency());

    let shape = EstateShape::new(20, 3);
    let light = estate(&shape);
    // Two slots per replica instead of 16: the nearest site fills at the daily peak.
    let heavy = light.replace("slots_per_replica: 16", "slots_per_replica: 2");
    assert_ne!(light, heavy);
    for text in [light, heavy, MOVING_LEADER.to_string()] {
        let resolved = load_str(&text, Path::new("estate.ron"))
            .unwrap()
            .resolve()
            .unwrap();
        let announced = simulate_with(&resolved, shape.seed, Box::new(LowestLatency)).unwrap();
        let asked = simulate_with(&resolved, shape.seed, Box::new(Unannounced)).unwrap();
        assert_eq!(format!("{:?}", announced.summary), format!("{:?}", asked.summary));
        let decisions = announced.record.decisions.entries().unwrap();
        assert_eq!(decisions, asked.record.decisions.entries().unwrap());
        let moves = decisions
            .iter()
            .filter(|d| d.kind == DecisionKind::RouteChange)
            .count();
        // Besides each stream's first route, incidents (and, under the heavy load, queues)
        // moved streams.
        let streams: usize = resolved.spec().services.iter().map(|s| s.demand.len()).sum();
        assert!(moves > streams, "{moves} route changes for {streams} streams");
        assert!(!announced.summary.incidents.is_empty());
    }
}
