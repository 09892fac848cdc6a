//! A policy written in Rust and plugged into a run.
//!
//! `LeastLoaded` spreads work: it routes each request to the site with the most free serving
//! slots (then the lowest expected latency), places jobs on the pool and tier with the most free
//! GPUs, and, when a site goes down, doubles the replicas of every service at the other sites it
//! is deployed at. It shows the three kinds of hook: scores for routing and placement, and a
//! reaction to signals.
//!
//! Run it on a bundled drill (or any scenario) with:
//!
//! ```text
//! cargo run --release --example custom_policy -- scenarios/drills/eu-outage-dual.ron
//! ```

use std::path::Path;
use std::process::ExitCode;

use hybridsim::policy::{
    Action, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, Signal, View,
};
use hybridsim::world::{RunOutcome, simulate_with};

/// Spreads requests and jobs over the least loaded capacity.
pub struct LeastLoaded;

impl Policy for LeastLoaded {
    fn name(&self) -> &str {
        "least_loaded"
    }

    /// Lower is better: minus the free slots, so the emptiest site wins. The default `route`
    /// takes the lowest score; ties go to the earlier candidate.
    fn route_score(&self, _: &RouteRequest, candidate: &RouteCandidate, _: &View<'_>) -> f64 {
        -f64::from(candidate.free_slots) + candidate.expected_latency_ns() / 1e12
    }

    fn place_score(
        &self,
        _: &PlaceRequest<'_>,
        candidate: &PlacementCandidate,
        _: &View<'_>,
    ) -> Option<Score> {
        Some(Score::new(-f64::from(candidate.free)))
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        let Signal::SiteDown { site: down } = *signal else {
            return;
        };
        let Some(workloads) = view.workloads() else { return };
        for (index, name) in workloads.service_names().iter().enumerate() {
            let service = hybridsim::vocab::ServiceId(index as u32);
            for site in workloads.service_sites(service) {
                if site == down || !view.site_up(site) {
                    continue;
                }
                let replicas = workloads.replicas(service, site);
                actions.push(Action::Scale {
                    service,
                    site,
                    replicas: replicas * 2,
                    reason: format!(
                        "{} is down; {name} doubles at {}",
                        view.site_name(down),
                        view.site_name(site)
                    ),
                });
            }
        }
    }
}

/// Runs the scenario at `path` with its own seed under [`LeastLoaded`].
pub fn run(path: &Path) -> Result<RunOutcome, hybridsim::Error> {
    let scenario = hybridsim::scenario::load(path)?;
    Ok(simulate_with(
        &scenario.resolve()?,
        scenario.spec.seed,
        Box::new(LeastLoaded),
    )?)
}

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/drills/eu-outage-dual.ron".into());
    let outcome = match run(Path::new(&path)) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(error.exit_code());
        }
    };
    let summary = &outcome.summary;
    println!(
        "{} under {}: total cost {:.2} USD",
        summary.scenario, summary.policy, summary.cost.total_usd
    );
    for (name, service) in &summary.services {
        let p99 = service.latency_ms.get("e2e").and_then(|l| l.p99);
        println!("  {name}: p99 {p99:?} ms, {} failed", service.requests.failed);
    }
    // The decision log is on disk; it is read back as a stream.
    let mut shown = 0;
    let read = outcome.record.decisions.for_each(|decision| {
        if decision.kind.as_str() == "scale" && shown < 5 {
            shown += 1;
            println!(
                "  {:>8.0} s  {} → {}: {}",
                decision.time.as_secs_f64(),
                decision.subject,
                decision.choice,
                decision.reason
            );
        }
    });
    if let Err(error) = read {
        eprintln!("reading the decision log back failed: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
