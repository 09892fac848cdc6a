//! Request and response payloads on hand-computed cases: the egress and interconnect they are
//! billed (bytes × price for each boundary crossed), nothing within a site, and the time the
//! bytes take to send over the route's bottleneck.

use approx::assert_relative_eq;
use hybridsim::infra::ledger::CostCategory;
use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, simulate};

/// Users at an edge site reach a cloud region through a hub: two links with their own per-GB
/// prices. Egress: 0.01 USD/GB leaving the edge, 0.09 leaving the cloud, nothing at the hub.
fn scenario(origin: &str, payload: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "payloads", horizon: "2h", seed: 3,
    metrics: (window: "10m"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu", egress_price: "0.01 USD/GB"),
            (name: "hub", kind: colo, jurisdiction: "eu"),
            (name: "cloud", kind: cloud, jurisdiction: "eu", egress_price: "0.09 USD/GB")],
    links: [(a: "users", b: "hub", bandwidth: "1Gbps", latency: "5ms", price: "0.02 USD/GB"),
            (a: "hub", b: "cloud", bandwidth: "10Gbps", latency: "5ms", price: "0.03 USD/GB")],
    pools: [(site: "cloud", accelerator: "ref", on_demand: (limit: 64, price: "2 USD/h"))],
    services: [(name: "chat", model: (memory: "1GB"), service_time: deterministic(time: "100ms"),
                replicas: [(pool: "cloud/ref", tier: on_demand, count: 8)],
                demand: [(origin: "{origin}", arrivals: poisson(rate: "20/s"), {payload})])],
)"#
    )
}

fn run(text: &str) -> RunOutcome {
    let scenario = load_str(text, "payloads.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let resolved = scenario.resolve().expect("nothing to load");
    simulate(&resolved, scenario.spec.seed).expect("run succeeds")
}

fn spent(outcome: &RunOutcome, category: CostCategory) -> f64 {
    outcome
        .record
        .ledger
        .read_all()
        .unwrap()
        .iter()
        .filter(|e| e.category == category)
        .map(|e| e.usd)
        .sum()
}

const PAYLOAD: &str = r#"payload: (request_bytes: "2KB", response_bytes: "1MB")"#;

#[test]
fn payloads_pay_egress_and_every_link_crossed() {
    let outcome = run(&scenario("users", PAYLOAD));
    let chat = &outcome.summary.services["chat"];
    // Every arrival was routed, so sent its request; every served request sent its response.
    let (sent, answered) = (chat.requests.arrived as f64, chat.requests.served as f64);
    assert_eq!(chat.requests.failed, 0);
    assert!(sent > 100_000.0, "{sent} requests");
    let up_gb = sent * 2e3 / 1e9;
    let down_gb = answered * 1e6 / 1e9;
    // Up: the edge's egress; down: the cloud's. Both ways: both links' per-GB prices.
    let egress = up_gb * 0.01 + down_gb * 0.09;
    let interconnect = (up_gb + down_gb) * (0.02 + 0.03);
    assert_relative_eq!(spent(&outcome, CostCategory::Egress), egress, max_relative = 1e-9);
    assert_relative_eq!(
        spent(&outcome, CostCategory::Interconnect),
        interconnect,
        max_relative = 1e-9
    );
    assert_relative_eq!(chat.transfer.egress_usd, egress, max_relative = 1e-9);
    assert_relative_eq!(chat.transfer.interconnect_usd, interconnect, max_relative = 1e-9);
    let compute = spent(&outcome, CostCategory::Compute);
    assert_relative_eq!(
        chat.cost_usd,
        compute + egress + interconnect,
        max_relative = 1e-9
    );
    assert_relative_eq!(
        outcome.summary.cost.transfer_share.expect("money was spent"),
        (egress + interconnect) / (egress + interconnect + compute),
        max_relative = 1e-9
    );
    // Bytes are billed once per billing period and boundary, not once per request: two hours,
    // each with egress at two sites and two links crossed both ways.
    let transfer_entries = outcome
        .record
        .ledger
        .read_all()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.category, CostCategory::Egress | CostCategory::Interconnect))
        .count();
    assert_eq!(transfer_entries, 2 * (2 + 4));
}

#[test]
fn a_request_served_where_it_comes_from_moves_nothing_billable() {
    let outcome = run(&scenario("cloud", PAYLOAD));
    assert!(outcome.summary.services["chat"].requests.served > 100_000);
    assert_eq!(spent(&outcome, CostCategory::Egress), 0.0);
    assert_eq!(spent(&outcome, CostCategory::Interconnect), 0.0);
    assert_eq!(outcome.summary.services["chat"].transfer.egress_usd, 0.0);
}

#[test]
fn serialization_adds_each_way_size_over_the_bottleneck() {
    let timed = r#"payload: (request_bytes: "2KB", response_bytes: "1MB", serialization: true)"#;
    let plain = run(&scenario("users", PAYLOAD));
    let slow = run(&scenario("users", timed));
    // The same arrivals (the payload draws nothing); the bottleneck is the 1 Gbps link:
    // 2 KB takes 16 µs up, 1 MB takes 8 ms down. The queue never forms (8 slots, 2 busy on
    // average), so every latency moves by exactly that.
    let network = |o: &RunOutcome| {
        o.summary.services["chat"].latency_ms["network"]
            .mean
            .expect("served")
    };
    let e2e = |o: &RunOutcome| o.summary.services["chat"].latency_ms["e2e"].mean.expect("served");
    assert_relative_eq!(network(&slow) - network(&plain), 0.016 + 8.0, max_relative = 1e-9);
    assert_relative_eq!(e2e(&slow) - e2e(&plain), 0.016 + 8.0, max_relative = 1e-6);
}
