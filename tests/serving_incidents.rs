//! What incidents do to the request path, on hand-computed cases: site outages and recoveries,
//! lost replicas and their replacements, capacity shocks, demand surges, and stale events of
//! requests that ended early. Arrivals come from small CSV traces (or a Poisson stream for the
//! surge), service times are deterministic.
//!
//! The kernel hands a `Context` only to the model it runs, so the tests run the world inside a
//! small model of their own: it passes every event to the world, except the start of an incident, which
//! here triggers the test's action at that instant. After every event it checks that no deployment
//! has more busy slots than ready ones and that no request ended twice.

use approx::assert_relative_eq;
use hybridsim::infra::estate::BILLING_PERIOD;
use hybridsim::kernel::{Context, Model, RunLimits, SimTime, Simulation};
use hybridsim::metrics::RequestCounts;
use hybridsim::metrics::service::ServiceMetrics;
use hybridsim::policy::{DecisionKind, DecisionLog};
use hybridsim::scenario::load_str;
use hybridsim::vocab::Tier;
use hybridsim::vocab::ids::{PoolId, ServiceId, SiteId};
use hybridsim::world::{ClockEvent, Event, IncidentEvent, IncidentId, RunError, World};

type Action = Box<dyn FnOnce(&mut World, &mut Context<'_, Event>)>;

/// The world, plus actions taken at chosen instants.
struct Harness {
    world: World,
    actions: Vec<Option<Action>>,
    /// When requests of the first service arrived, in seconds.
    arrivals: Vec<f64>,
}

impl Model for Harness {
    type Event = Event;
    type Error = RunError;

    fn handle(&mut self, ctx: &mut Context<'_, Event>, event: Event) -> Result<(), RunError> {
        let arrived = self.world.serving.services[0].metrics.arrived;
        // The world is the one handling every event: only the start of an incident is the
        // test's hook, and the world's own exhaustive match sees everything else.
        if let Event::Incident(IncidentEvent::Begin { incident }) = event {
            let action = self.actions[incident.0 as usize]
                .take()
                .expect("each action runs once");
            action(&mut self.world, ctx);
        } else {
            self.world.handle(ctx, event)?;
        }
        let now = ctx.now().as_secs_f64();
        let new = self.world.serving.services[0].metrics.arrived - arrived;
        self.arrivals.extend(std::iter::repeat_n(now, new as usize));
        for service in &self.world.serving.services {
            assert!(
                service.metrics.conserved(),
                "{} ended a request twice",
                service.name
            );
            for d in &service.deployments {
                let ((busy, ready), (busy_ns, ready_ns)) = (d.slots(), d.slot_time());
                assert!(busy <= ready, "{}: {busy} busy of {ready} slots", service.name);
                assert!(
                    busy_ns <= ready_ns,
                    "{}: slot time {busy_ns} > {ready_ns}",
                    service.name
                );
            }
        }
        Ok(())
    }
}

/// Builds the world of `text` and schedules its first events as `world::prepare` does.
fn harness(text: &str) -> Simulation<Harness> {
    let scenario = load_str(text, "incidents.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let world = World::build(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    let mut sim = Simulation::new(Harness {
        world,
        actions: Vec::new(),
        arrivals: Vec::new(),
    });
    sim.schedule(
        SimTime::ZERO.saturating_add(BILLING_PERIOD),
        ClockEvent::BillingTick.into(),
    )
    .unwrap();
    sim.schedule(SimTime::ZERO, ClockEvent::Start.into()).unwrap();
    let window = scenario.spec.metrics.window;
    sim.schedule(SimTime::ZERO.saturating_add(window), ClockEvent::WindowEnd.into())
        .unwrap();
    sim
}

fn secs(s: f64) -> SimTime {
    SimTime::from_nanos((s * 1e9).round() as u64)
}

/// Runs `action` on the world at `t` seconds.
fn at(
    sim: &mut Simulation<Harness>,
    t: f64,
    action: impl FnOnce(&mut World, &mut Context<'_, Event>) + 'static,
) {
    let actions = &mut sim.model_mut().actions;
    actions.push(Some(Box::new(action)));
    let incident = IncidentId((actions.len() - 1) as u32);
    sim.schedule(secs(t), IncidentEvent::Begin { incident }.into())
        .unwrap();
}

/// Runs to `t` and settles the services' metrics, so that they can be read.
fn run_until(sim: &mut Simulation<Harness>, t: f64) -> &World {
    sim.run(RunLimits::until(secs(t))).unwrap();
    let world = &mut sim.model_mut().world;
    world.serving.settle_metrics();
    world
}

fn site(world: &World, name: &str) -> SiteId {
    world.estate.sites.iter().find(|s| s.name == name).unwrap().id
}

/// The site goes down in the estate and the network, then for the services.
fn site_down(world: &mut World, ctx: &mut Context<'_, Event>, name: &str) {
    let id = site(world, name);
    world.estate.sites[id.index()].up = false;
    world.estate.network.set_site_up(ctx.now(), id, false).unwrap();
    let (estate, log) = (&mut world.estate, &mut world.decisions);
    world.serving.site_down(ctx, estate, log, id).unwrap();
}

fn site_up(world: &mut World, ctx: &mut Context<'_, Event>, name: &str) {
    let id = site(world, name);
    world.estate.sites[id.index()].up = true;
    world.estate.network.set_site_up(ctx.now(), id, true).unwrap();
    let (estate, log) = (&mut world.estate, &mut world.decisions);
    world.serving.site_up(ctx, estate, log, id).unwrap();
}

/// Writes a trace of arrival times (seconds) and returns its path.
fn trace(dir: &std::path::Path, times: &[f64]) -> String {
    let text: String = times.iter().map(|t| format!("{t}\n")).collect();
    let path = dir.join("arrivals.csv");
    std::fs::write(&path, format!("t\n{text}")).unwrap();
    path.display().to_string()
}

fn trace_demand(path: &str) -> String {
    format!(r#"[(origin: "users", arrivals: trace(path: "{path}", format: csv(time_column: "t")))]"#)
}

/// Users 50 ms (one way) from "near" and 250 ms from "far", whose accelerator is four times
/// slower: a 1 s request is expected to take 1.1 s at near (plus its queue) and 4.5 s at far, so
/// near is chosen until three requests wait there.
fn two_sites(horizon: &str, service: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "incidents", horizon: "{horizon}", seed: 3,
    metrics: (window: "1m"),
    accelerators: [(name: "fast", memory: "80GB"), (name: "slow", memory: "80GB", speed: {{ inference: 0.25 }})],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"), (name: "near", kind: on_prem, jurisdiction: "eu"),
            (name: "far", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "near", accelerator: "fast", reserved: (count: 2, price: "2 USD/h")),
            (site: "far", accelerator: "slow", reserved: (count: 2, price: "2 USD/h"))],
    links: [(a: "users", b: "near", bandwidth: "10Gbps", latency: "50ms"),
            (a: "users", b: "far", bandwidth: "10Gbps", latency: "250ms")],
    services: [(name: "s", model: (memory: "10GB"), service_time: deterministic(time: "1s"),
                replicas: [(pool: "near/fast", tier: reserved), (pool: "far/slow", tier: reserved)],
                {service})],
)"#
    )
}

/// One site: the users are at the data centre (no network delay).
fn one_site(horizon: &str, pool: &str, service: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "incidents", horizon: "{horizon}", seed: 3,
    metrics: (window: "1m"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "users", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "users", accelerator: "ref", {pool})],
    services: [(name: "s", model: (memory: "10GB"), {service})],
)"#
    )
}

/// 10 GB at 1 Gbps is 80 s, plus 220 s: a cold start of exactly 5 minutes. min = max keeps the
/// autoscaler itself from acting.
const FIVE_MINUTE_COLD_START: &str = r#"autoscaling: (target_utilization: 0.8, min: 1, max: 1, tier: reserved,
    load_bandwidth: "1Gbps", start_overhead: "220s")"#;

fn assert_all_ended(metrics: &ServiceMetrics) {
    let ended = metrics.served + metrics.degraded + metrics.failed_total();
    assert_eq!((metrics.arrived, metrics.in_flight()), (ended, 0));
}

fn mean_ms(histogram: &hybridsim::metrics::histogram::LatencyHistogram) -> f64 {
    histogram.mean().unwrap() / 1e6
}

/// (time in s, choice) of every decision of `kind` the world has logged.
fn decisions(world: &World, kind: DecisionKind) -> Vec<(f64, String)> {
    logged(world.decisions.log(), kind)
}

/// (time in s, choice) of every decision of `kind` in `log`.
fn logged(log: &DecisionLog, kind: DecisionKind) -> Vec<(f64, String)> {
    let entries = log.entries().unwrap().into_iter().filter(|d| d.kind == kind);
    entries.map(|d| (d.time.as_secs_f64(), d.choice)).collect()
}

#[test]
fn an_outage_reroutes_waiting_and_travelling_requests_and_fails_those_in_service() {
    for fallback in ["", r#"fallback: edge_cache(hit_ratio: 1.0, latency: "5ms")"#] {
        let dir = tempfile::tempdir().unwrap();
        let arrivals = trace(dir.path(), &[0.0, 0.1, 0.2, 0.3]);
        let text = two_sites("30s", &format!("demand: {}, {fallback}", trace_demand(&arrivals)));
        let mut sim = harness(&text);
        // At 0.32 s request 0 is in service at near (since 0.05 s), 1 and 2 wait there (reached
        // at 0.15 and 0.25 s) and 3 is on its way (due at 0.35 s).
        at(&mut sim, 0.32, |w, ctx| site_down(w, ctx, "near"));
        let world = run_until(&mut sim, 0.32);
        assert_eq!(world.serving.queued(ServiceId(0)), 0, "the queue went elsewhere");
        let near = &world.serving.services[0].deployments[0];
        assert_eq!((near.held_replicas(), near.slots()), (0, (0, 0)));
        assert_eq!(world.estate.pools[0].tier(Tier::Reserved).unwrap().in_use, 0);
        let world = run_until(&mut sim, 30.0);
        let m = &world.serving.services[0].metrics;
        assert_all_ended(m);
        // Routed again at 0.32 s in arrival order, all three reach far at 0.57 s and are served
        // one after the other in 4 s each: done at 4.57, 8.57 and 12.57 s, answered 0.25 s later.
        // With the edge cache, request 0 is answered at 0.32 s + 5 ms.
        assert_eq!(m.served, 3);
        let mut e2e = vec![4_720.0, 8_620.0, 12_520.0];
        if !fallback.is_empty() {
            e2e.push(325.0);
        }
        let mean = e2e.iter().sum::<f64>() / e2e.len() as f64;
        assert_relative_eq!(mean_ms(m.end_to_end()), mean, max_relative = 1e-9);
        assert_relative_eq!(mean_ms(m.queue()), 4_000.0, max_relative = 1e-9);
        assert_relative_eq!(mean_ms(m.network()), 500.0, max_relative = 1e-9);
        let routes = decisions(world, DecisionKind::RouteChange);
        assert_eq!(routes, [(0.0, "near".into()), (0.32, "far".into())]);
        let lost = if fallback.is_empty() { (1, 1, 0) } else { (0, 0, 1) };
        assert_eq!((m.failed_total(), m.failed[3], m.degraded), lost);
    }
}

#[test]
fn a_site_back_up_serves_again_after_the_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), &[0.0, 100.0, 350.0, 365.0]);
    let text = two_sites(
        "10m",
        &format!("demand: {}, {FIVE_MINUTE_COLD_START}", trace_demand(&arrivals)),
    );
    let mut sim = harness(&text);
    at(&mut sim, 10.0, |w, ctx| site_down(w, ctx, "near"));
    at(&mut sim, 60.0, |w, ctx| site_up(w, ctx, "near"));
    let world = run_until(&mut sim, 60.0);
    let near = &world.serving.services[0].deployments[0];
    assert_eq!((near.held_replicas(), near.ready_replicas()), (1, 0));
    assert_eq!(world.estate.pools[0].tier(Tier::Reserved).unwrap().in_use, 1);
    let scale = decisions(world, DecisionKind::Scale);
    assert_eq!(
        scale,
        [(60.0, "+1 replica(s) from reserved (ready in 5m)".into())]
    );
    let just_before = SimTime::from_nanos(secs(360.0).as_nanos() - 1);
    sim.run(RunLimits::until(just_before)).unwrap();
    assert_eq!(
        sim.model().world.serving.services[0].deployments[0].ready_replicas(),
        0
    );
    let world = run_until(&mut sim, 360.0);
    assert_eq!(world.serving.services[0].deployments[0].slots(), (0, 1));
    let world = run_until(&mut sim, 600.0);
    // 100 s and 350 s go to far (near is down, then starting); 365 s comes back to near.
    let routes = decisions(world, DecisionKind::RouteChange);
    let expected = [(0.0, "near"), (100.0, "far"), (365.0, "near")].map(|(t, s)| (t, s.to_string()));
    assert_eq!(routes, expected);
    let m = &world.serving.services[0].metrics;
    assert_all_ended(m);
    assert_eq!(m.served, 4);
    assert_relative_eq!(
        mean_ms(m.end_to_end()),
        (1_100.0 * 2.0 + 4_500.0 * 2.0) / 4.0,
        max_relative = 1e-9
    );
}

#[test]
fn a_site_back_up_restarts_what_its_tier_still_holds() {
    // Two replicas; while the site is down the tier loses a GPU: one restarts (at once, without
    // an autoscaler) and the refusal of the other is logged.
    let text = one_site(
        "1m",
        r#"reserved: (count: 2, price: "2 USD/h")"#,
        r#"service_time: deterministic(time: "1s"), replicas: [(pool: "users/ref", tier: reserved, count: 2)]"#,
    );
    let mut sim = harness(&text);
    at(&mut sim, 1.0, |w, ctx| site_down(w, ctx, "users"));
    at(&mut sim, 2.0, |w, _| {
        assert_eq!(w.estate.change_capacity(PoolId(0), Tier::Reserved, -1), -1);
    });
    at(&mut sim, 3.0, |w, ctx| site_up(w, ctx, "users"));
    let world = run_until(&mut sim, 3.0);
    assert_eq!(world.serving.services[0].deployments[0].slots(), (0, 1));
    let restart = world.decisions.log().last().unwrap();
    assert_eq!(restart.choice, "+1 replica(s) from reserved (ready at once)");
    assert!(
        restart.reason.contains("wanted +2, capacity refused"),
        "{restart:?}"
    );
}

#[test]
fn a_lost_replica_is_replaced_after_the_cold_start_or_the_refusal_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), &[0.0, 1.0, 20.0, 21.0, 310.0, 310.5]);
    let text = one_site(
        "10m",
        r#"reserved: (count: 2, price: "2 USD/h")"#,
        &format!(
            r#"service_time: deterministic(time: "10s"), replicas: [(pool: "users/ref", tier: reserved, count: 2)],
               demand: {}, {}"#,
            trace_demand(&arrivals),
            FIVE_MINUTE_COLD_START.replace("min: 1, max: 1", "min: 2, max: 2")
        ),
    );
    let mut sim = harness(&text);
    at(&mut sim, 5.0, |w, ctx| {
        let (victim, _) = w.estate.holder_of_gpu(PoolId(0), Tier::Reserved, 0).unwrap();
        let (estate, log) = (&mut w.estate, &mut w.decisions);
        assert!(w.serving.replica_failed(ctx, estate, log, victim).unwrap());
        assert!(
            !w.serving.replica_failed(ctx, estate, log, victim).unwrap(),
            "already gone"
        );
    });
    let world = run_until(&mut sim, 5.0);
    // Requests 0 (since 0 s) and 1 (since 1 s) were in service on two slots; one slot is left,
    // so the one started last fails.
    let m = &world.serving.services[0].metrics;
    assert_eq!(
        (m.failed[3], world.serving.services[0].deployments[0].slots()),
        (1, (1, 1))
    );
    let scale = decisions(world, DecisionKind::Scale);
    assert_eq!(scale, [(5.0, "+1 replica(s) from reserved (ready in 5m)".into())]);
    let world = run_until(&mut sim, 10.5);
    assert_eq!(
        world.serving.services[0].deployments[0].slots(),
        (0, 1),
        "request 0 ended at 10 s"
    );
    let world = run_until(&mut sim, 305.0 - 1e-9);
    assert_eq!(world.serving.services[0].deployments[0].slots().1, 1);
    let world = run_until(&mut sim, 305.0);
    assert_eq!(world.serving.services[0].deployments[0].slots().1, 2);
    // Repair takes the failed GPU out of the pool before a replacement is sought: the tier, full
    // again since the first replacement, now refuses.
    at(&mut sim, 400.0, |w, ctx| {
        let (victim, _) = w.estate.holder_of_gpu(PoolId(0), Tier::Reserved, 0).unwrap();
        let (estate, log) = (&mut w.estate, &mut w.decisions);
        let lost = w.serving.stop_replica(ctx, estate, log, victim).unwrap().unwrap();
        assert_eq!((lost.tier, lost.gpus), (Tier::Reserved, 1));
        assert_eq!(estate.change_capacity(PoolId(0), Tier::Reserved, -1), -1);
        w.serving.replace_replica(ctx, estate, log, lost).unwrap();
    });
    let world = run_until(&mut sim, 600.0);
    let refused = world
        .decisions
        .log()
        .entries()
        .unwrap()
        .into_iter()
        .find(|d| d.time == secs(400.0))
        .unwrap();
    assert_eq!(refused.choice, "+0 replica(s) from reserved (ready in 5m)");
    assert!(refused.reason.contains("capacity refused"), "{refused:?}");
    let m = &world.serving.services[0].metrics;
    assert_all_ended(m);
    // Served: 0 (10 s), 20 s (10 s), 21 s on the one slot left (waits until 30 s: 19 s), and
    // both at 310 s on two slots (10 s each).
    assert_eq!((m.served, m.failed_total()), (5, 1));
    assert_relative_eq!(
        mean_ms(m.end_to_end()),
        (10.0 * 4.0 + 19.0) / 5.0 * 1e3,
        max_relative = 1e-9
    );
}

#[test]
fn a_capacity_shock_sheds_the_newest_replicas_and_strands_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), &[0.0, 1.0, 2.0, 3.0]);
    let text = one_site(
        "1m",
        r#"reserved: (count: 2, price: "2 USD/h")"#,
        &format!(
            r#"service_time: deterministic(time: "10s"), replicas: [(pool: "users/ref", tier: reserved, count: 2)],
               demand: {}"#,
            trace_demand(&arrivals)
        ),
    );
    let mut sim = harness(&text);
    let reserved = |w: &World, index: u32| {
        let (held, _) = w.estate.holder_of_gpu(PoolId(0), Tier::Reserved, index).unwrap();
        w.estate.allocation(held).unwrap().since
    };
    // A replica replaced at 0.5 s (ready at once, no autoscaler) is the newest; request 0 holds
    // a slot meanwhile.
    at(&mut sim, 0.5, move |w, ctx| {
        let (victim, _) = w.estate.holder_of_gpu(PoolId(0), Tier::Reserved, 0).unwrap();
        let (estate, log) = (&mut w.estate, &mut w.decisions);
        assert!(w.serving.replica_failed(ctx, estate, log, victim).unwrap());
    });
    at(&mut sim, 5.0, |w, ctx| {
        let (estate, log) = (&mut w.estate, &mut w.decisions);
        let freed = w
            .serving
            .shed_replicas(ctx, estate, log, PoolId(0), Tier::Reserved, 1);
        assert_eq!(freed.unwrap(), 1);
        let freed = w
            .serving
            .shed_replicas(ctx, estate, log, PoolId(0), Tier::OnDemand, 1);
        assert_eq!(freed.unwrap(), 0, "no replica in that tier");
    });
    let world = run_until(&mut sim, 5.0);
    let s = &world.serving.services[0];
    // 0 and 1 were in service, 2 and 3 waiting: 1, started last, fails; 2 and 3 still wait.
    assert_eq!((s.metrics.failed[3], s.deployments[0].slots()), (1, (1, 1)));
    assert_eq!(
        (
            world.serving.queued(ServiceId(0)),
            world.estate.pools[0].tier(Tier::Reserved).unwrap().in_use
        ),
        (2, 1)
    );
    assert_eq!(reserved(world, 0), SimTime::ZERO, "the replica of 0.5 s went");
    let world = run_until(&mut sim, 10.5);
    let s = &world.serving.services[0];
    assert_eq!(
        (
            s.metrics.served,
            s.deployments[0].slots(),
            world.serving.queued(ServiceId(0))
        ),
        (1, (1, 1), 1)
    );
    at(&mut sim, 12.0, |w, ctx| {
        let (estate, log) = (&mut w.estate, &mut w.decisions);
        let freed = w
            .serving
            .shed_replicas(ctx, estate, log, PoolId(0), Tier::Reserved, 5);
        assert_eq!(freed.unwrap(), 1, "all that was left");
    });
    let world = run_until(&mut sim, 60.0);
    // Request 2, in service since 10 s, fails; with no replica left at all, 3 is routed again
    // and finds no site.
    let m = &world.serving.services[0].metrics;
    assert_all_ended(m);
    assert_eq!((m.served, m.failed[3], m.failed[2]), (1, 2, 1));
    assert_eq!(
        decisions(world, DecisionKind::Scale).len(),
        1,
        "no replacement for shed replicas"
    );
}

#[test]
fn a_demand_surge_multiplies_the_arrival_rate_while_it_lasts() {
    let text = r#"#![enable(implicit_some)]
(
    name: "surge", horizon: "500s", seed: 11,
    metrics: (window: "100s"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "a", kind: on_prem, jurisdiction: "eu"), (name: "b", kind: edge, jurisdiction: "eu")],
    pools: [(site: "a", accelerator: "ref", reserved: (count: 1, price: "2 USD/h"))],
    links: [(a: "a", b: "b", bandwidth: "10Gbps", latency: "1ms")],
    services: [(name: "s", model: (memory: "10GB", slots_per_replica: 64), service_time: deterministic(time: "1ms"),
                replicas: [(pool: "a/ref", tier: reserved)],
                demand: [(origin: "a", arrivals: poisson(rate: "100/s")), (origin: "b", arrivals: poisson(rate: "50/s"))])],
)"#;
    let mut sim = harness(text);
    let surge = |factor: f64| {
        move |w: &mut World, ctx: &mut Context<'_, Event>| {
            let origin = Some(site(w, "a"));
            w.serving
                .set_demand_factor(ctx, ServiceId(0), origin, factor)
                .unwrap();
        }
    };
    at(&mut sim, 100.0, surge(3.0));
    at(&mut sim, 200.0, surge(1.0));
    at(&mut sim, 300.0, surge(0.0));
    at(&mut sim, 400.0, surge(1.0));
    // A factor the process refuses changes nothing (the last window checks it).
    at(&mut sim, 450.0, |w, ctx| {
        w.serving
            .set_demand_factor(ctx, ServiceId(0), None, -1.0)
            .unwrap()
    });
    let world = run_until(&mut sim, 500.0);
    let windows = world.archive.service_windows(0).unwrap();
    let counts: Vec<u64> = windows.iter().map(|w| w.arrived).collect();
    assert_eq!(counts.len(), 5);
    // Only a's 100/s is multiplied; b's 50/s goes on throughout.
    for (count, rate) in counts.iter().zip([150.0, 350.0, 150.0, 50.0, 150.0]) {
        let expected = rate * 100.0;
        let bound = 4.0 * f64::sqrt(expected);
        assert!(
            (*count as f64 - expected).abs() <= bound,
            "{counts:?}: {count} vs {expected} ± {bound}"
        );
    }
}

#[test]
fn a_surge_withdraws_the_arrival_drawn_under_the_old_rate() {
    // A trace replayed twice as fast from 5 s: the arrival due at 10 s comes at 7.5 s, 20 s at
    // 12.5 s and 30 s at 17.5 s; back to normal speed at 15 s, that one comes at 20 s. The
    // arrivals scheduled for 10 s and 17.5 s were withdrawn and must not fire.
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), &[0.0, 10.0, 20.0, 30.0]);
    let text = one_site(
        "1m",
        r#"reserved: (count: 1, price: "2 USD/h")"#,
        &format!(
            r#"service_time: deterministic(time: "1s"), replicas: [(pool: "users/ref", tier: reserved)],
               demand: {}"#,
            trace_demand(&arrivals)
        ),
    );
    let mut sim = harness(&text);
    at(&mut sim, 5.0, |w, ctx| {
        w.serving.set_demand_factor(ctx, ServiceId(0), None, 2.0).unwrap()
    });
    at(&mut sim, 15.0, |w, ctx| {
        w.serving.set_demand_factor(ctx, ServiceId(0), None, 1.0).unwrap()
    });
    sim.run(RunLimits::until(secs(60.0))).unwrap();
    assert_eq!(sim.model().arrivals, [0.0, 7.5, 12.5, 20.0]);
    assert_all_ended(&sim.model().world.serving.services[0].metrics);
}

#[test]
fn stale_events_of_ended_requests_do_not_touch_reused_slots() {
    // Request 0 is in service until 10 s when its replica fails at 1 s; the replacement is ready
    // at once (no autoscaler). Request 1 arrives at 2 s and takes request 0's slot: the stale
    // completion at 10 s must not end it. It is served 2 → 12 s.
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), &[0.0, 2.0]);
    let text = one_site(
        "1m",
        r#"reserved: (count: 2, price: "2 USD/h")"#,
        &format!(
            r#"service_time: deterministic(time: "10s"), replicas: [(pool: "users/ref", tier: reserved)],
               demand: {}"#,
            trace_demand(&arrivals)
        ),
    );
    let mut sim = harness(&text);
    at(&mut sim, 1.0, |w, ctx| {
        let (victim, _) = w.estate.holder_of_gpu(PoolId(0), Tier::Reserved, 0).unwrap();
        let (estate, log) = (&mut w.estate, &mut w.decisions);
        assert!(w.serving.replica_failed(ctx, estate, log, victim).unwrap());
    });
    let world = run_until(&mut sim, 1.0);
    let choice = &world.decisions.log().last().unwrap().choice;
    assert_eq!(choice, "+1 replica(s) from reserved (ready at once)");
    let world = run_until(&mut sim, 11.0);
    let s = &world.serving.services[0];
    assert_eq!(
        (s.metrics.served, s.metrics.failed[3], s.deployments[0].slots()),
        (0, 1, (1, 1))
    );
    let world = run_until(&mut sim, 60.0);
    let m = &world.serving.services[0].metrics;
    assert_all_ended(m);
    assert_eq!(m.served, 1);
    assert_eq!(mean_ms(m.end_to_end()), 10_000.0);
}

/// One site `dc` with the pool `pool`, serving `s` from `replicas` to Poisson requests at 1/s
/// for two hours, under `incidents`: the Scale decisions (time in s, choice) and the request
/// counts.
fn serve_through(pool: &str, replicas: &str, incidents: &str) -> (Vec<(f64, String)>, RequestCounts) {
    let text = format!(
        r#"#![enable(implicit_some)]
(
    name: "owed", horizon: "2h", seed: 3, metrics: (window: "1m"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "ref", {pool})],
    services: [(
        name: "s",
        model: (memory: "10GB", gpus_per_replica: 1, slots_per_replica: 4),
        service_time: exponential(mean: "100ms"),
        replicas: [{replicas}],
        demand: [(origin: "dc", arrivals: poisson(rate: "1/s"))],
        timeout: "30s",
    )],
    incidents: [{incidents}],
)"#
    );
    let scenario = load_str(&text, "owed.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let outcome = hybridsim::world::simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    let scale = logged(&outcome.record.decisions, DecisionKind::Scale);
    (scale, outcome.summary.services["s"].requests.clone())
}

/// A replica that a GPU failure took, in a pool with no spare GPU to replace it, restarts when
/// the GPU comes back from repair, and the service serves again from then on.
#[test]
fn a_replica_lost_to_a_gpu_failure_restarts_when_the_gpu_is_repaired() {
    let (scale, requests) = serve_through(
        r#"size: 1, failures: (gpu_mtbf: "1000000h", repair: "20m"),
           owned: (count: 1, capex_per_gpu: "30000 USD", lifetime: "4y", power_per_gpu: "1kW", energy_price: "0.2 USD/kWh")"#,
        r#"(pool: "dc/ref", tier: owned, count: 1)"#,
        r#"(name: "gpu dies", start: "1h", kind: gpu_failure(pool: "dc/ref"))"#,
    );
    let expected = [
        (3_600.0, "+0 replica(s) from owned (ready at once)"),
        (4_800.0, "+1 replica(s) from owned (ready at once)"),
    ]
    .map(|(t, choice)| (t, choice.to_string()));
    assert_eq!(scale, expected);
    // Only the requests of the 1,200 s in repair fail: Poisson at 1/s, 1,200 ± 5σ (σ ≈ 35).
    assert!((1_027..=1_373).contains(&requests.failed), "{requests:?}");
    assert_eq!(requests.arrived, requests.served + requests.failed);
}

/// Replicas that a capacity shock sheds restart when the shock ends and the capacity is back.
#[test]
fn replicas_shed_by_a_capacity_shock_restart_when_it_ends() {
    let (scale, requests) = serve_through(
        r#"reserved: (count: 2, price: "2 USD/h")"#,
        r#"(pool: "dc/ref", tier: reserved, count: 2)"#,
        r#"(name: "shortage", start: "1h", duration: "30m",
            kind: capacity_shock(pool: "dc/ref", tier: reserved, to: count(0)))"#,
    );
    assert_eq!(
        scale,
        [(5_400.0, "+2 replica(s) from reserved (ready at once)".to_string())]
    );
    // Only the requests of the 1,800 s without capacity fail: 1,800 ± 5σ (σ ≈ 42).
    assert!((1_588..=2_012).contains(&requests.failed), "{requests:?}");
    assert_eq!(requests.arrived, requests.served + requests.failed);
}
