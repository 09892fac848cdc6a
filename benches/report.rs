//! What the outputs cost next to the simulation they describe: the `eu-outage-dual` drill (one
//! day, about 1.5 million events) simulated under its default policy — the baseline — then its
//! whole run folder written (`summary.json`, the CSV set, eight chart files, `report.html`),
//! and the same drill compared under three policies (three runs, three folders and the
//! comparison's charts and page). Each output figure is stated as a ratio to the simulation.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hybridsim::experiment::compare::{Comparison, run_policies};
use hybridsim::output::RunInfo;
use hybridsim::report::figures::RunCurves;
use hybridsim::report::{ComparedRun, begin_comparison, finish_comparison, write_compared_run, write_run};
use hybridsim::scenario::{Scenario, load};
use hybridsim::world::{RunOutcome, simulate};

const DRILL: &str = "scenarios/drills/eu-outage-dual.ron";
const POLICIES: [&str; 3] = ["lowest_latency", "cheapest", "failover"];

fn info(scenario: &Scenario) -> RunInfo {
    RunInfo {
        hybridsim_version: env!("CARGO_PKG_VERSION"),
        scenario_path: scenario.path.display().to_string(),
        wall_clock_s: 1.0,
        events_per_wall_second: 1.0,
    }
}

fn write_compared(scenario: &Scenario, outcomes: &[RunOutcome], target: &std::path::Path) {
    let out = begin_comparison(target, &|_| {}).expect("the folder starts");
    for (label, outcome) in POLICIES.iter().zip(outcomes) {
        write_compared_run(&out, label, scenario, outcome, &info(scenario)).expect("a run's folder");
    }
    let labelled: Vec<_> = POLICIES
        .iter()
        .zip(outcomes)
        .map(|(p, o)| (*p, &o.summary))
        .collect();
    let comparison = Comparison::labelled(&labelled);
    let curves: Vec<RunCurves> = outcomes
        .iter()
        .map(|o| RunCurves::of(o).expect("the curves"))
        .collect();
    let runs: Vec<ComparedRun> = POLICIES
        .iter()
        .zip(outcomes)
        .zip(&curves)
        .map(|((label, outcome), curves)| ComparedRun {
            label,
            scenario,
            summary: &outcome.summary,
            curves,
        })
        .collect();
    finish_comparison(out, &runs, &comparison).expect("the comparison is written");
}

fn outputs(c: &mut Criterion) {
    let scenario = load(DRILL.as_ref()).expect("the drill is valid");
    let resolved = scenario.resolve().expect("the traces load");
    let seed = scenario.spec.seed;
    let outcome = simulate(&resolved, seed).expect("the drill runs");
    let names: Vec<String> = POLICIES.map(String::from).to_vec();
    let outcomes: Vec<RunOutcome> = run_policies(&resolved, seed, &names, &|_, _| {})
        .into_iter()
        .map(|o| o.expect("each policy runs"))
        .collect();
    let folder = tempfile::tempdir().expect("a temp folder");
    let mut group = c.benchmark_group("outputs");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("simulate/eu-outage-dual (baseline)", |b| {
        b.iter(|| black_box(simulate(&resolved, seed)))
    });
    group.bench_function("write_run/eu-outage-dual", |b| {
        b.iter(|| {
            write_run(
                &folder.path().join("run"),
                &scenario,
                &outcome,
                &info(&scenario),
                &|_| {},
            )
        })
    });
    group.bench_function("write_comparison/eu-outage-dual x3 policies", |b| {
        b.iter(|| write_compared(&scenario, &outcomes, &folder.path().join("compared")))
    });
    group.finish();
}

criterion_group!(benches, outputs);
criterion_main!(benches);
