//! Built-in policies on small cases with a known right answer.

use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, simulate};

fn run(text: &str) -> RunOutcome {
    let scenario = load_str(text, "policies.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scenario, scenario.spec.seed).unwrap()
}

/// A 1 TB dataset at the on-prem site (owned GPUs at about 1.1 USD/h each) and a cloud region
/// 10 Gbps away with on-demand GPUs at 4 USD/h and spot at 0.9 USD/h. Two preemptible jobs:
/// one reads the dataset, one does not; the second is submitted after spot has gone to 10 ×.
fn estate(policy: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "policies", horizon: "12h", seed: 1, metrics: (window: "10m"), policy: "{policy}",
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "onprem", kind: on_prem, jurisdiction: "eu"), (name: "cloud", kind: cloud, jurisdiction: "eu")],
    links: [(a: "onprem", b: "cloud", bandwidth: "10Gbps", latency: "10ms")],
    pools: [(site: "onprem", accelerator: "H100",
             owned: (count: 8, capex_per_gpu: "30000 USD", lifetime: "4y", power_per_gpu: "1kW", energy_price: "0.2 USD/kWh")),
            (site: "cloud", accelerator: "H100", on_demand: (limit: 16, price: "4 USD/h"),
             spot: (limit: 16, price: "0.9 USD/h"))],
    datasets: [(name: "corpus", size: "1TB", home: "onprem")],
    jobs: [(name: "reads-data", class: fine_tuning, gpus: 8, work: 16, preemptible: true, dataset: "corpus"),
           (name: "late", class: evaluation, gpus: 8, work: 8, preemptible: true, submit: "3h",
            tiers: [on_demand, spot])],
    incidents: [(name: "spot spike", start: "2h", kind: price_shock(tier: spot, factor: 10.0))],
)"#
    )
}

fn placed(outcome: &RunOutcome, job: usize) -> String {
    let world = &outcome.world;
    let (pool, tier) = world.jobs.jobs[job].last_placement.expect("placed");
    format!("{}/{}", world.estate.pools[pool.index()].name, tier.as_str())
}

/// The decisions about `subject`: (time in s, kind, choice).
fn story(outcome: &RunOutcome, subject: &str) -> Vec<(f64, &'static str, String)> {
    outcome
        .world
        .decisions
        .entries()
        .iter()
        .filter(|d| d.subject == subject)
        .map(|d| (d.time.as_secs_f64(), d.kind.as_str(), d.choice.clone()))
        .collect()
}

#[test]
fn cheapest_takes_spot_until_the_spike_then_moves_to_the_cheapest_left() {
    let outcome = run(&estate("cheapest"));
    assert_eq!(outcome.summary.policy, "cheapest");
    // 0.9 USD/h spot beats the owned GPUs (about 1.1 USD/h). At the spike spot costs 9 USD/h:
    // the running job moves to the owned GPUs, and the late job takes on-demand at 4 USD/h.
    let story = story(&outcome, "reads-data");
    let expected = [
        (0.0, "place", "cloud/H100/spot"),
        (7200.0, "migrate", "move"),
        (7200.0, "place", "onprem/H100/owned"),
    ];
    let got: Vec<(f64, &str, &str)> = story
        .iter()
        .filter(|(_, kind, _)| ["place", "migrate"].contains(kind))
        .map(|(t, k, c)| (*t, *k, c.as_str()))
        .collect();
    assert_eq!(got, expected, "{story:?}");
    assert_eq!(
        placed(&outcome, 1),
        "cloud/H100/on_demand",
        "spot costs 9 USD/h by then"
    );
}

#[test]
fn data_local_keeps_compute_with_the_data_and_moves_nothing() {
    let outcome = run(&estate("data_local"));
    assert_eq!(placed(&outcome, 0), "onprem/H100/owned");
    let moved: f64 = (0..outcome.world.estate.link_names.len() as u32)
        .map(|l| {
            let (a, b) = outcome
                .world
                .estate
                .network
                .bytes_carried(hybridsim::infra::ids::LinkId(l));
            a + b
        })
        .sum();
    assert_eq!(moved, 0.0, "the dataset never moved");
}

#[test]
fn the_default_prefers_fixed_capacity_and_stages_nothing_it_need_not() {
    let outcome = run(&estate("lowest_latency"));
    assert_eq!(placed(&outcome, 0), "onprem/H100/owned", "owned GPUs come first");
    assert_eq!(
        placed(&outcome, 1),
        "cloud/H100/on_demand",
        "its first allowed tier"
    );
}

#[test]
fn an_unknown_policy_is_refused_with_a_suggestion() {
    let error = load_str(&estate("cheapset"), "policies.ron".as_ref())
        .expect_err("unknown")
        .to_string();
    assert!(
        error.contains("unknown policy \"cheapset\"") && error.contains("did you mean \"cheapest\""),
        "{error}"
    );
}

#[test]
fn cheapest_routes_to_the_cheaper_site_even_when_it_is_farther() {
    let text = |policy: &str| {
        format!(
            r#"#![enable(implicit_some)]
(
    name: "routing", horizon: "10m", seed: 1, metrics: (window: "1m"), policy: "{policy}",
    accelerators: [(name: "L4", memory: "24GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"), (name: "near", kind: cloud, jurisdiction: "eu"),
            (name: "far", kind: colo, jurisdiction: "eu")],
    links: [(a: "users", b: "near", bandwidth: "10Gbps", latency: "5ms"),
            (a: "users", b: "far", bandwidth: "10Gbps", latency: "40ms")],
    pools: [(site: "near", accelerator: "L4", on_demand: (limit: 4, price: "1 USD/h")),
            (site: "far", accelerator: "L4", on_demand: (limit: 4, price: "0.5 USD/h"))],
    services: [(name: "chat", model: (memory: "10GB", slots_per_replica: 64),
                service_time: deterministic(time: "50ms"),
                replicas: [(pool: "near/L4", tier: on_demand, count: 1), (pool: "far/L4", tier: on_demand, count: 1)],
                demand: [(origin: "users", arrivals: poisson(rate: "5/s"))], timeout: "10s")],
)"#
        )
    };
    let e2e = |outcome: &RunOutcome| outcome.summary.services["chat"].latency_ms["e2e"].p50.unwrap();
    // Round trips: 10 ms to near, 80 ms to far; service 50 ms.
    assert!((e2e(&run(&text("cheapest"))) - 130.0).abs() < 2.0);
    assert!((e2e(&run(&text("lowest_latency"))) - 60.0).abs() < 2.0);
}
