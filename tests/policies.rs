//! Built-in policies on small cases with a known right answer.

use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, simulate};

fn run(text: &str) -> RunOutcome {
    let scenario = load_str(text, "policies.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
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
    let (pool, tier) = outcome.record.jobs.rows().unwrap()[job].placed.expect("placed");
    format!("{}/{}", outcome.record.estate.pool(pool), tier.as_str())
}

/// The decisions about `subject`: (time in s, kind, choice).
fn story(outcome: &RunOutcome, subject: &str) -> Vec<(f64, &'static str, String)> {
    outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
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
    let scenario = load_str(&estate("data_local"), "policies.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let (outcome, world) =
        hybridsim::world::simulate_with_model(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    assert_eq!(placed(&outcome, 0), "onprem/H100/owned");
    let moved: f64 = (0..world.estate.link_names.len() as u32)
        .map(|l| {
            let (a, b) = world
                .estate
                .network
                .bytes_carried(hybridsim::vocab::ids::LinkId(l));
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

/// [`estate`] with a `policies:` section.
fn configured(policy: &str, settings: &str) -> String {
    estate(policy).replace(
        "    incidents: [",
        &format!("    policies: ({settings}),\n    incidents: ["),
    )
}

/// The place and migrate decisions about `subject`: (time in s, kind, choice).
fn moves(outcome: &RunOutcome, subject: &str) -> Vec<(f64, &'static str, String)> {
    story(outcome, subject)
        .into_iter()
        .filter(|(_, kind, _)| ["place", "migrate"].contains(kind))
        .collect()
}

fn owned(v: &[(f64, &'static str, &str)]) -> Vec<(f64, &'static str, String)> {
    v.iter().map(|(t, k, c)| (*t, *k, c.to_string())).collect()
}

#[test]
fn tiered_uses_spot_under_the_ceiling_and_moves_off_it_above() {
    // Fine-tunes go spot first, then on-demand; spot only up to 2 USD/h. Spot is 0.9 until
    // the ×10 spike at 2 h: 9 USD/h, so the job moves to on-demand (its data is already
    // staged in the cloud, so it stays there).
    let settings = "tiered: (classes: {fine_tuning: [spot, on_demand]}, spot_ceiling: \"2 USD/h\")";
    let outcome = run(&configured("tiered", settings));
    let expected = [
        (0.0, "place", "cloud/H100/spot"),
        (7200.0, "migrate", "move"),
        (7200.0, "place", "cloud/H100/on_demand"),
    ];
    assert_eq!(moves(&outcome, "reads-data"), owned(&expected));
    let migrate = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .find(|d| d.kind.as_str() == "migrate")
        .unwrap();
    assert!(migrate.reason.contains("above the ceiling"), "{}", migrate.reason);
    // The late evaluation job may use on-demand and spot; tiered's default order puts
    // on-demand (burst) before spot (opportunistic).
    assert_eq!(placed(&outcome, 1), "cloud/H100/on_demand");
}

#[test]
fn cost_ceiling_defers_work_that_would_pass_the_budget() {
    // The late job needs 8 on-demand GPUs at 4 USD/h: 32 USD/h of new spending.
    let tight = run(&configured(
        "cost_ceiling",
        "cost_ceiling: (budget: \"20 USD/h\")",
    ));
    let late = story(&tight, "late");
    assert!(late.iter().all(|(_, kind, _)| *kind != "place"), "{late:?}");
    let deferral = tight
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .find(|d| d.subject == "late" && d.kind.as_str() == "defer")
        .unwrap();
    assert!(
        deferral.reason.contains("over the budget of 20.00 USD/h"),
        "{}",
        deferral.reason
    );
    let roomy = run(&configured(
        "cost_ceiling",
        "cost_ceiling: (budget: \"40 USD/h\")",
    ));
    assert_eq!(placed(&roomy, 1), "cloud/H100/on_demand", "32 ≤ 40 USD/h");
    // Owned capacity is paid for anyway and never deferred; spot at 0.9 × 8 = 7.2 USD/h fits.
    assert_eq!(placed(&tight, 0), "cloud/H100/spot");
}

#[test]
fn weighted_trades_price_against_moving_data() {
    // Owned on-prem: 1.06 USD/h with the data there. Spot in the cloud: 0.90 USD/h, plus
    // 1 TB to move (gravity 1 per TB) in 800 s (transfer 1 per hour): 2.12. Stay.
    let outcome = run(&configured(
        "weighted",
        "weighted: (cost: 1.0, transfer: 1.0, gravity: 1.0)",
    ));
    assert_eq!(moves(&outcome, "reads-data")[0].2, "onprem/H100/owned");
    let place = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .find(|d| d.subject == "reads-data")
        .unwrap();
    assert!(
        place.alternatives.starts_with("cloud/H100/spot 2.1"),
        "{}",
        place.alternatives
    );
    // Data that weighs nothing: price alone decides.
    let free = run(&configured(
        "weighted",
        "weighted: (cost: 1.0, transfer: 0.0, gravity: 0.0)",
    ));
    assert_eq!(moves(&free, "reads-data")[0].2, "cloud/H100/spot");
}

/// Users 5 ms from site `a` and 30 ms from `b`; the service has 1 replica at `a` and 2 at `b`;
/// `b` is down from 1 h to 2 h.
fn two_sites(policy: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "failover", horizon: "3h", seed: 2, metrics: (window: "1m"), policy: "{policy}",
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"), (name: "a", kind: cloud, jurisdiction: "eu"),
            (name: "b", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "a", accelerator: "H100", on_demand: (limit: 16, price: "4 USD/h")),
            (site: "b", accelerator: "H100", on_demand: (limit: 16, price: "4 USD/h"))],
    links: [(a: "users", b: "a", bandwidth: "10Gbps", latency: "5ms"),
            (a: "users", b: "b", bandwidth: "10Gbps", latency: "30ms")],
    services: [(name: "chat", model: (memory: "10GB"), service_time: exponential(mean: "200ms"),
                replicas: [(pool: "a/H100", tier: on_demand, count: 1), (pool: "b/H100", tier: on_demand, count: 2)],
                demand: [(origin: "users", arrivals: poisson(rate: "2/s"))])],
    policies: (failover: (services: {{"chat": ["b", "a"]}})),
    incidents: [(name: "b down", start: "1h", duration: "1h", kind: site_outage(site: "b"))],
)"#
    )
}

#[test]
fn failover_serves_from_the_primary_and_brings_up_the_standby_when_it_fails() {
    let outcome = run(&two_sites("failover"));
    let decisions = outcome.record.decisions.entries().unwrap();
    let routes: Vec<(f64, &str)> = decisions
        .iter()
        .filter(|d| d.kind.as_str() == "route_change")
        .map(|d| (d.time.as_secs_f64(), d.choice.as_str()))
        .collect();
    // The primary `b` though `a` is nearer; `a` while `b` is down; `b` again after.
    assert_eq!(routes.first().map(|r| r.1), Some("b"));
    // Routes are logged when the next request goes (a fraction of a second later).
    assert!(
        routes
            .iter()
            .any(|&(t, s)| (3600.0..3601.0).contains(&t) && s == "a"),
        "{routes:?}"
    );
    assert!(routes.iter().any(|&(t, s)| t >= 7200.0 && s == "b"), "{routes:?}");
    assert!(
        !routes
            .iter()
            .any(|&(t, s)| !(3600.0..=7200.0).contains(&t) && s == "a"),
        "{routes:?}"
    );
    // The standby takes over the primary's two replicas at once, and shrinks back after.
    let scale: Vec<(f64, &str, &str)> = decisions
        .iter()
        .filter(|d| d.kind.as_str() == "scale" && d.subject.contains(" at a"))
        .map(|d| (d.time.as_secs_f64(), d.choice.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(scale.len(), 2, "{scale:?}");
    assert_eq!(
        (scale[0].0, scale[0].1),
        (3600.0, "+2 replica(s) from on_demand (ready at once)"),
        "{scale:?}"
    );
    assert!(scale[0].2.contains("b is down"), "{scale:?}");
    assert_eq!((scale[1].0, scale[1].1), (7200.0, "-2 replica(s)"), "{scale:?}");
    // Lowest latency routes to `a` from the start and has no standby to raise.
    let baseline = run(&two_sites("lowest_latency"));
    let first = baseline
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .find(|d| d.kind.as_str() == "route_change");
    assert_eq!(first.map(|d| d.choice), Some("a".to_string()));
}

#[test]
fn policies_see_the_same_arrivals_and_failures() {
    // A GPU failure process on the region the training job and the replicas use, so failures
    // hit different holders under different policies.
    let text = std::fs::read_to_string("scenarios/drills/eu-outage-dual.ron")
        .unwrap()
        .replace(
            r#"reserved: (count: 32, price: "3.20 USD/h"),"#,
            r#"reserved: (count: 32, price: "3.20 USD/h"), failures: (gpu_mtbf: "100h", repair: "2h"),"#,
        );
    let scenario = load_str(&text, "crn.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let resolved = scenario.resolve().unwrap();
    let timeline = |name: &str| {
        let policy = hybridsim::policy::built_in(
            name,
            &scenario.spec.policies,
            &resolved.names().sites,
            &resolved.names().services,
        )
        .unwrap();
        let (mut sim, horizon) = hybridsim::world::prepare_with(&resolved, 7, policy).unwrap();
        let mut failures = Vec::new();
        let step = 600_000_000_000;
        for t in (step..=horizon.as_nanos()).step_by(step as usize) {
            sim.run(hybridsim::kernel::RunLimits::until(
                hybridsim::kernel::SimTime::from_nanos(t),
            ))
            .unwrap();
            let counts = &sim.model().incidents.counts[0];
            failures.push(counts.on_jobs + counts.on_replicas + counts.idle + counts.void);
        }
        let arrivals: Vec<u64> = sim
            .model()
            .archive
            .service_windows(0)
            .unwrap()
            .iter()
            .map(|w| w.arrived)
            .collect();
        let decisions: Vec<(u64, String)> = sim
            .model()
            .decisions
            .log()
            .entries()
            .unwrap()
            .into_iter()
            .map(|d| {
                (
                    d.time.as_nanos(),
                    format!("{} {} {}", d.kind.as_str(), d.subject, d.choice),
                )
            })
            .collect();
        (arrivals, failures, decisions)
    };
    let (arrivals, failures, decisions) = timeline("lowest_latency");
    assert!(failures.last().copied().unwrap_or(0) > 10, "{failures:?}");
    for other in ["cheapest", "failover"] {
        let (a, f, d) = timeline(other);
        assert!(
            d != decisions,
            "{other} decides differently, or the test shows nothing"
        );
        assert_eq!(a, arrivals, "{other}: arrivals per window");
        assert_eq!(f, failures, "{other}: failures per 10 minutes");
    }
}

#[test]
fn failover_takes_over_from_a_site_cut_off_by_link_loss_and_stands_down_after() {
    // `b` stays up, but its only link goes down from 1 h to 2 h: the users cannot reach it. The
    // policy hears of the link, finds `b` cut off, and `a` takes over its two replicas; once the
    // link is back (and `b`'s replicas never stopped), the next tick returns `a` to its size.
    let cut =
        two_sites("failover").replace(r#"kind: site_outage(site: "b")"#, r#"kind: link_down(site: "b")"#);
    let outcome = run(&cut);
    let scale: Vec<(f64, String, String)> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind.as_str() == "scale" && d.subject.contains(" at a"))
        .map(|d| (d.time.as_secs_f64(), d.choice, d.reason))
        .collect();
    assert_eq!(scale.len(), 2, "{scale:?}");
    assert_eq!(
        (scale[0].0, scale[0].1.as_str()),
        (3600.0, "+2 replica(s) from on_demand (ready at once)"),
        "{scale:?}"
    );
    assert!(scale[0].2.contains("b is cut off"), "{scale:?}");
    assert_eq!(scale[1].1, "-2 replica(s)", "{scale:?}");
    assert!((7200.0..=7260.0).contains(&scale[1].0), "{scale:?}");
    // Lowest latency hears the same signal and has nothing to do: it never scales.
    let baseline = run(&cut.replace(r#"policy: "failover""#, r#"policy: "lowest_latency""#));
    assert!(
        !baseline
            .record
            .decisions
            .entries()
            .unwrap()
            .into_iter()
            .any(|d| d.kind.as_str() == "scale")
    );
}
