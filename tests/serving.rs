//! Request handling on hand-computed cases: queue limits and fallbacks, timeouts, edge caches,
//! autoscaling with an exact cold start, the decision log, and a stream's kept route following
//! the link under it. Arrivals come from small CSV traces so every timestamp is known.

use approx::assert_relative_eq;
use hybridsim::metrics::ServiceSummary;
use hybridsim::policy::DecisionKind;
use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, simulate};

/// Writes a trace of arrival times (seconds) and returns its path.
fn trace(dir: &std::path::Path, name: &str, times: &[f64]) -> String {
    let mut text = String::from("t\n");
    for t in times {
        text.push_str(&format!("{t}\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn scenario(horizon: &str, services: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "serving", horizon: "{horizon}", seed: 5,
    metrics: (window: "1m"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "ref", reserved: (count: 4, price: "2 USD/h"),
             on_demand: (limit: 4, price: "3.6 USD/h"))],
    services: [{services}],
)"#
    )
}

fn run(text: &str) -> RunOutcome {
    let scenario = load_str(text, "serving.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
}

fn service<'a>(outcome: &'a RunOutcome, name: &str) -> &'a ServiceSummary {
    &outcome.summary.services[name]
}

#[test]
fn a_full_queue_sends_the_request_to_the_fallback_service() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), "a.csv", &[0.0, 0.1, 0.2]);
    let text = scenario(
        "10s",
        &format!(
            r#"(name: "big", model: (memory: "1GB"), service_time: deterministic(time: "1s"),
                replicas: [(pool: "dc/ref", tier: reserved)], queue_limit: 1, timeout: "10s",
                demand: [(origin: "dc", arrivals: trace(path: "{arrivals}", format: csv(time_column: "t")))],
                fallback: service(name: "small")),
               (name: "small", model: (memory: "1GB"), service_time: deterministic(time: "50ms"),
                replicas: [(pool: "dc/ref", tier: reserved)])"#
        ),
    );
    let outcome = run(&text);
    // Request 0 is served over [0, 1] s, request 1 waits and is served over [1, 2] s, request 2
    // finds the one-place queue full at 0.2 s and is answered by "small" at 0.25 s.
    let big = service(&outcome, "big");
    assert_eq!(
        (big.requests.arrived, big.requests.served, big.requests.degraded),
        (3, 2, 1)
    );
    assert_eq!(big.requests.failed, 0);
    assert_eq!(big.latency_ms["queue"].mean, Some(450.0), "waits 0 and 0.9 s");
    // Quantiles come from the histogram, which resolves values to within 1%.
    assert_relative_eq!(big.latency_ms["e2e"].p999.unwrap(), 1_900.0, max_relative = 0.01); // 0.1 → 2.0 s
    assert_relative_eq!(big.latency_ms["e2e"].p50.unwrap(), 1_000.0, max_relative = 0.01);
    assert_eq!(
        big.latency_ms["e2e"].mean,
        Some((1_000.0 + 1_900.0 + 50.0) / 3.0),
        "means are exact"
    );
    let small = service(&outcome, "small");
    assert_eq!((small.requests.arrived, small.requests.served), (1, 1));
    assert_eq!(small.latency_ms["e2e"].mean, Some(50.0));
    let degrade: Vec<_> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DecisionKind::Degrade)
        .collect();
    assert_eq!(degrade.len(), 1);
    assert!(degrade[0].reason.contains("queue_full"), "{:?}", degrade[0]);
}

#[test]
fn waiting_requests_time_out_at_their_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), "a.csv", &[0.0, 0.1, 0.2]);
    let text = scenario(
        "10s",
        &format!(
            r#"(name: "s", model: (memory: "1GB"), service_time: deterministic(time: "1s"),
                replicas: [(pool: "dc/ref", tier: reserved)], timeout: "500ms",
                demand: [(origin: "dc", arrivals: trace(path: "{arrivals}", format: csv(time_column: "t")))])"#
        ),
    );
    let outcome = run(&text);
    let s = service(&outcome, "s");
    assert_eq!((s.requests.served, s.requests.failed), (1, 2));
    assert_eq!(s.failed_by_reason["timeout"], 2);
}

#[test]
fn an_edge_cache_answers_its_hit_ratio_and_the_rest_fail() {
    let dir = tempfile::tempdir().unwrap();
    let times: Vec<f64> = (0..2_000).map(|i| f64::from(i) * 0.001).collect();
    let arrivals = trace(dir.path(), "a.csv", &times);
    let text = scenario(
        "1m",
        &format!(
            r#"(name: "s", model: (memory: "1GB"), service_time: deterministic(time: "10s"),
                replicas: [(pool: "dc/ref", tier: reserved)], queue_limit: 0,
                demand: [(origin: "dc", arrivals: trace(path: "{arrivals}", format: csv(time_column: "t")))],
                fallback: edge_cache(hit_ratio: 0.3, latency: "5ms"))"#
        ),
    );
    let outcome = run(&text);
    let s = service(&outcome, "s");
    assert_eq!(s.requests.served, 1);
    let rest = 1_999.0;
    let hits = s.requests.degraded as f64;
    // Binomial(1999, 0.3): 99.9% of draws lie within 3.29 standard deviations.
    let sd = (rest * 0.3 * 0.7f64).sqrt();
    assert!((hits - 0.3 * rest).abs() < 3.29 * sd, "{hits} hits of {rest}");
    assert_eq!(s.requests.failed as f64 + hits, rest);
    assert_relative_eq!(s.latency_ms["e2e"].p50.unwrap(), 5.0, max_relative = 0.01); // cache answers: 5 ms
}

#[test]
fn the_autoscaler_adds_a_replica_that_serves_after_its_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    // 1.5 requests per second against one 1-request-per-second replica: the queue grows.
    let times: Vec<f64> = (0..450).map(|i| f64::from(i) / 1.5).collect();
    let arrivals = trace(dir.path(), "a.csv", &times);
    let text = scenario(
        "5m",
        &format!(
            r#"(name: "s", model: (memory: "10GB"), service_time: deterministic(time: "1s"),
                replicas: [(pool: "dc/ref", tier: reserved)], timeout: "1h",
                demand: [(origin: "dc", arrivals: trace(path: "{arrivals}", format: csv(time_column: "t")))],
                autoscaling: (target_utilization: 0.8, min: 1, max: 2, interval: "1m", cooldown: "10m",
                              tier: on_demand, load_bandwidth: "10Gbps", start_overhead: "52s"))"#
        ),
    );
    let scenario = load_str(&text, "serving.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let outcome = hybridsim::world::simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    // At 60 s the scaler sees 100% utilization and a queue: +1 replica from on-demand. Cold start
    // = 10 GB / 10 Gbps + 52 s = 60 s, so the replica serves from 120 s on.
    let scale: Vec<_> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DecisionKind::Scale)
        .collect();
    assert_eq!(scale.len(), 1, "{scale:?}");
    assert_eq!(scale[0].time.as_nanos(), 60_000_000_000);
    assert!(
        scale[0]
            .choice
            .contains("+1 replica(s) from on_demand (ready in 1m)"),
        "{:?}",
        scale[0]
    );
    let replicas = service(&outcome, "s").replicas;
    assert_eq!((replicas.min, replicas.max, replicas.last), (1, 2, 2));
    let usage = outcome.record.windows.service_windows(0).unwrap();
    assert_eq!(
        usage[1].replicas_ready, 1,
        "the window [60 s, 120 s) closes just before the replica is ready at 120 s"
    );
    assert_eq!(
        usage[2].utilization,
        Some(1.0),
        "both replicas busy throughout [120, 180)"
    );
    let windows = &usage;
    assert_eq!(windows[1].served, 60, "one replica in [60 s, 120 s)");
    assert_eq!(
        windows[2].served, 119,
        "two from 120 s: the second finishes at 121 … 179 s"
    );
    // The on-demand GPU is billed from the scale-up at 60 s to the end at 300 s.
    let on_demand = outcome.summary.cost.by_tier["on_demand"];
    assert_relative_eq!(on_demand, 240.0 / 3_600.0 * 3.6, max_relative = 1e-12);
}

/// A stream with one deployment keeps its route between requests, and a change of the route
/// must reach it: users 50 ms (one way) from the only site, the link 40 ms slower each way from
/// 10 s to 30 s. Requests at 1 and 2 s (before), 11 and 12 s (during) and 31 and 32 s (after)
/// each wait for nothing, so their network times are the round trips of their instant: 100,
/// 100, 180, 180, 100 and 100 ms. A route kept past a change would give 100 ms throughout, or
/// 180 ms after the link is back.
#[test]
fn a_kept_route_follows_the_link_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = trace(dir.path(), "a.csv", &[1.0, 2.0, 11.0, 12.0, 31.0, 32.0]);
    let text = format!(
        r#"#![enable(implicit_some)]
(
    name: "serving", horizon: "40s", seed: 5,
    metrics: (window: "1m"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"), (name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "ref", reserved: (count: 1, price: "2 USD/h"))],
    links: [(a: "users", b: "dc", bandwidth: "10Gbps", latency: "50ms")],
    services: [(name: "s", model: (memory: "1GB"), service_time: deterministic(time: "100ms"),
                replicas: [(pool: "dc/ref", tier: reserved)],
                demand: [(origin: "users", arrivals: trace(path: "{arrivals}", format: csv(time_column: "t")))])],
    incidents: [(name: "slow link", start: "10s", duration: "20s",
                 kind: link_degradation(link: "users--dc", bandwidth_factor: 0.5, added_latency: "40ms"))],
)"#
    );
    let outcome = run(&text);
    let s = service(&outcome, "s");
    assert_eq!(s.requests.served, 6);
    let network = &s.latency_ms["network"];
    assert_relative_eq!(
        network.mean.unwrap(),
        (4.0 * 100.0 + 2.0 * 180.0) / 6.0,
        max_relative = 1e-9
    );
    assert_relative_eq!(network.p50.unwrap(), 100.0, max_relative = 1e-2);
    assert_relative_eq!(network.p99.unwrap(), 180.0, max_relative = 1e-2);
}
