//! Policies written by users: the example in `examples/` runs, and a policy whose answers are
//! not eligible is overruled, logged, and does not stop the run.

use std::path::Path;

use hybridsim::infra::network::LinkCondition;
use hybridsim::kernel::SimDuration;
use hybridsim::policy::{
    Action, PlaceRequest, Placement, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Signal, View,
};
use hybridsim::vocab::{JobId, ServiceId};
use hybridsim::world::simulate_with;

#[allow(dead_code)]
#[path = "../examples/custom_policy.rs"]
mod custom_policy;

#[test]
fn the_example_policy_runs_and_reacts_to_the_outage() {
    let outcome = custom_policy::run(Path::new("scenarios/drills/eu-outage-dual.ron")).unwrap();
    assert_eq!(outcome.summary.policy, "least_loaded");
    assert!(outcome.summary.services["assistant"].requests.served > 100_000);
    // The region goes down at 10:00; every other site of the assistant doubles then.
    let doubled: Vec<String> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind.as_str() == "scale" && d.reason.contains("doubles"))
        .map(|d| {
            assert_eq!(d.time.as_secs_f64(), 36_000.0, "{d:?}");
            d.subject
        })
        .collect();
    assert_eq!(doubled.len(), 2, "{doubled:?}");
}

/// Answers outside every list it is given, and asks for things that cannot be done.
struct Unruly;

impl Policy for Unruly {
    fn name(&self) -> &str {
        "unruly"
    }
    fn route(&mut self, _: &RouteRequest, candidates: &[RouteCandidate], _: &View<'_>) -> usize {
        candidates.len()
    }
    fn place(&mut self, _: &PlaceRequest<'_>, candidates: &[PlacementCandidate], _: &View<'_>) -> Placement {
        Placement::Place(candidates.len() + 5)
    }
    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        if let Signal::SiteDown { site } = *signal {
            actions.push(Action::Migrate {
                job: JobId(999),
                reason: "no such job".into(),
            });
            actions.push(Action::Scale {
                service: ServiceId(0),
                site,
                replicas: 4,
                reason: "scale where it just went down".into(),
            });
            let users = view.site_named("users").unwrap();
            actions.push(Action::Degrade {
                service: ServiceId(0),
                active: true,
                reason: "the service has no fallback".into(),
            });
            actions.push(Action::Restore {
                job: JobId(0),
                site: users,
                reason: "the job is running, not waiting".into(),
            });
        }
    }
}

const SCENARIO: &str = r#"#![enable(implicit_some)]
(
    name: "unruly", horizon: "2h", seed: 4, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"), (name: "a", kind: cloud, jurisdiction: "eu"),
            (name: "b", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "a", accelerator: "H100", on_demand: (limit: 16, price: "4 USD/h")),
            (site: "b", accelerator: "H100", on_demand: (limit: 16, price: "4 USD/h"))],
    links: [(a: "users", b: "a", bandwidth: "10Gbps", latency: "5ms"),
            (a: "users", b: "b", bandwidth: "10Gbps", latency: "30ms")],
    services: [(name: "chat", model: (memory: "10GB"), service_time: exponential(mean: "200ms"),
                replicas: [(pool: "a/H100", tier: on_demand, count: 1), (pool: "b/H100", tier: on_demand, count: 1)],
                demand: [(origin: "users", arrivals: poisson(rate: "1/s"))])],
    jobs: [(name: "train", class: training, gpus: 4, work: 2, tiers: [on_demand])],
    incidents: [(name: "b down", start: "1h", duration: "30m", kind: site_outage(site: "b"))],
)"#;

#[test]
fn ineligible_answers_are_rejected_and_logged_and_the_run_goes_on() {
    let scenario =
        hybridsim::scenario::load_str(SCENARIO, "unruly.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let outcome = simulate_with(&scenario.resolve().unwrap(), 4, Box::new(Unruly)).unwrap();
    let chat = &outcome.summary.services["chat"];
    assert!(chat.requests.served > 6000, "{:?}", chat.requests);
    assert_eq!(outcome.summary.jobs["training"].completed, 1);
    let rejected: Vec<(f64, String, String)> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind.as_str() == "rejected")
        .map(|d| (d.time.as_secs_f64(), d.subject, d.reason))
        .collect();
    // The placement, replaced by the default; routes, at most once a minute with a count of
    // the others; the four actions at the outage.
    assert!(
        rejected
            .iter()
            .any(|(t, s, r)| *t == 0.0 && *s == "train" && r.contains("default was used"))
    );
    let routes: Vec<f64> = rejected
        .iter()
        .filter(|(_, _, r)| r.contains("eligible sites"))
        .map(|r| r.0)
        .collect();
    assert!(routes.len() >= 60 && routes.len() <= 121, "{}", routes.len());
    assert!(routes.windows(2).all(|w| w[1] - w[0] >= 60.0));
    assert!(
        rejected
            .iter()
            .any(|(_, _, r)| r.contains("more since the last entry"))
    );
    let at_outage: Vec<&str> = rejected
        .iter()
        .filter(|(t, ..)| *t == 3600.0)
        .map(|r| r.2.as_str())
        .collect();
    for why in [
        "holds no GPUs",
        "the site is down",
        "has no fallback",
        "not waiting to restart",
    ] {
        assert!(at_outage.iter().any(|r| r.contains(why)), "{why}: {at_outage:?}");
    }
}

/// Writes down every link signal it hears, with the link's name and the time.
struct LinkListener(std::sync::Arc<std::sync::Mutex<Vec<(f64, String, LinkCondition)>>>);

impl Policy for LinkListener {
    fn name(&self) -> &str {
        "link_listener"
    }
    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, _: &mut Vec<Action>) {
        if let Signal::LinkChange { link, condition } = *signal {
            let heard = (
                view.now().as_secs_f64(),
                view.link_name(link).to_string(),
                condition,
            );
            self.0.lock().unwrap().push(heard);
        }
    }
}

#[test]
fn a_policy_hears_when_a_link_degrades_and_when_it_is_back() {
    let degraded = SCENARIO.replace(
        r#"kind: site_outage(site: "b")"#,
        r#"kind: link_degradation(link: "users--b", bandwidth_factor: 0.5, added_latency: "20ms", loss: 0.01)"#,
    );
    let scenario =
        hybridsim::scenario::load_str(&degraded, "links.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    simulate_with(
        &scenario.resolve().unwrap(),
        4,
        Box::new(LinkListener(heard.clone())),
    )
    .unwrap();
    let expected = vec![
        (
            3600.0,
            "users--b".to_string(),
            LinkCondition {
                up: true,
                bandwidth_factor: 0.5,
                added_latency: SimDuration::from_millis(20),
                added_loss: 0.01,
            },
        ),
        (5400.0, "users--b".to_string(), LinkCondition::NORMAL),
    ];
    assert_eq!(*heard.lock().unwrap(), expected);
}
