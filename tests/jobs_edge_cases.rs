//! Job edge cases found in review, kept as regression tests: repair while a job restarts,
//! notices during restores, unknown accelerators in traces, generated names, trace sources and
//! preemption, extreme speeds, and absurd failure rates.

use hybridsim::metrics::job::JobOutcome;
use hybridsim::policy::DecisionKind;
use hybridsim::scenario::{Scenario, load_str};
use hybridsim::world::{RunOutcome, simulate};

fn load(text: &str) -> Scenario {
    load_str(text, "edge.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

fn run(text: &str) -> RunOutcome {
    let scenario = load(text);
    simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
}

/// 8 owned GPUs with a 6 h repair; an 8-GPU job loses a GPU at 1 h. Only 7 GPUs remain until
/// 7 h, so the job cannot be placed again before then.
#[test]
fn a_failed_owned_gpu_goes_to_repair_even_when_its_job_restarts_at_once() {
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "repair", horizon: "20h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100",
             owned: (count: 8, capex_per_gpu: "20000 USD", lifetime: "4y", power_per_gpu: "0.7kW", energy_price: "0.2 USD/kWh"),
             failures: (gpu_mtbf: "1000000h", repair: "6h"))],
    jobs: [(name: "j", class: training, gpus: 8, work: 16, checkpoint: (interval: "30m", write: "1m"))],
    incidents: [(name: "dies", start: "1h", kind: gpu_failure(pool: "dc/H100", job: "j"))],
)"#);
    let places: Vec<f64> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DecisionKind::Place)
        .map(|d| d.time.as_secs_f64())
        .collect();
    assert_eq!(places, [0.0, 7.0 * 3600.0]);
}

/// A 10 min notice (≥ the 2 min write) reaches the job while it restores after a failure: it
/// leaves at once rather than start compute it would lose; only the failure's 30 min are lost.
#[test]
fn a_notice_during_a_restore_loses_nothing_more() {
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "notice-restore", horizon: "10h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "cloud", kind: cloud, jurisdiction: "us")],
    pools: [(site: "cloud", accelerator: "H100", spot: (limit: 8, price: "1 USD/h", notice: "10m"))],
    jobs: [(name: "j", class: training, gpus: 8, work: 16, preemptible: true,
            checkpoint: (interval: "1h", write: "2m", restore: "4m"))],
    incidents: [(name: "fail", start: "30m", kind: gpu_failure(pool: "cloud/H100", job: "j")),
                (name: "reclaim", start: "31m", kind: spot_preemption(pool: "cloud/H100", job: "j"))],
)"#);
    let job = &outcome.record.jobs.rows().unwrap()[0];
    assert_eq!(job.record.lost_gpu_ns, 8 * 30 * 60 * 1_000_000_000);
    assert_eq!(job.outcome, JobOutcome::Completed);
}

fn trace_scenario(dir: &std::path::Path, rows: &str, source: &str, pools: &str) -> String {
    let csv = dir.join("t.csv");
    std::fs::write(&csv, rows).unwrap();
    format!(
        r#"#![enable(implicit_some)]
(
    name: "trace", horizon: "3h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: cloud, jurisdiction: "us")],
    pools: [{pools}],
    jobs: [(name: "tr", class: batch_inference, {source}
            arrivals: trace(path: "{}", format: csv(submit_column: "t", gpus_column: "g",
                             duration_column: "d", accelerator_column: "gpu")))],
)"#,
        csv.display()
    )
}

#[test]
fn a_trace_job_that_accepts_only_absent_accelerators_fails_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let text = trace_scenario(
        dir.path(),
        "t,g,d,gpu\n0,1,3600,T4\n0,1,3600,\n",
        "",
        r#"(site: "dc", accelerator: "H100", on_demand: (limit: 8, price: "1 USD/h"))"#,
    );
    let outcome = run(&text);
    let jobs = &outcome.record.jobs.rows().unwrap();
    assert_eq!(jobs[0].outcome, JobOutcome::Failed);
    assert!(jobs[0].record.note.contains("T4"), "{}", jobs[0].record.note);
    assert!(jobs[0].record.first_start.is_none());
    assert_eq!(
        jobs[1].outcome,
        JobOutcome::Completed,
        "a row accepting any accelerator runs"
    );
    assert_eq!(outcome.summary.jobs["batch_inference"].failed, 1);
}

#[test]
fn a_preemptible_trace_source_may_use_spot_without_a_preemptible_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = trace_scenario(
        dir.path(),
        "t,g,d,gpu\n0,1,3600,\n",
        "preemptible: true, tiers: [spot],",
        r#"(site: "dc", accelerator: "H100", spot: (limit: 8, price: "1 USD/h", notice: "30s"))"#,
    );
    let outcome = run(&text);
    assert_eq!(
        outcome.record.jobs.rows().unwrap()[0].outcome,
        JobOutcome::Completed
    );
}

/// A source "ft" names its first job "ft-1", like a single job: an incident aimed at the single
/// job must not hit the source's.
#[test]
fn incidents_name_single_jobs_not_generated_ones() {
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "names", horizon: "4h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "cloud", kind: cloud, jurisdiction: "us")],
    pools: [(site: "cloud", accelerator: "H100", spot: (limit: 8, price: "1 USD/h", notice: "0s"))],
    jobs: [(name: "ft-1", class: training, gpus: 1, work: 1, preemptible: true, submit: "3h"),
           (name: "ft", class: fine_tuning, preemptible: true,
            arrivals: poisson(rate: "600/h", gpus: [(1, 1.0)], duration: fixed("3h"), count: 1))],
    incidents: [(name: "reclaim", start: "1h", kind: spot_preemption(pool: "cloud/H100", job: "ft-1"))],
)"#);
    let jobs = &outcome.record.jobs.rows().unwrap();
    assert_eq!(jobs[1].name, "ft-1");
    assert_eq!(jobs[1].record.interrupted(), 0);
}

/// A valid but absurdly slow accelerator puts the end of a segment past the end of time: the
/// run still ends normally, with the job running.
#[test]
fn a_very_slow_accelerator_does_not_abort_the_run() {
    let scenario = load(
        r#"#![enable(implicit_some)]
(
    name: "slow", horizon: "3h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "old", memory: "16GB", speed: {training: 0.000000001})],
    sites: [(name: "dc", kind: cloud, jurisdiction: "us")],
    pools: [(site: "dc", accelerator: "old", on_demand: (limit: 8, price: "1 USD/h"))],
    jobs: [(name: "j", class: training, gpus: 1, work: 10000, submit: "1h")],
)"#,
    );
    let outcome = simulate(&scenario.resolve().unwrap(), 1).unwrap();
    assert_eq!(outcome.summary.jobs["training"].running_at_end, 1);
}

#[test]
fn an_absurd_failure_rate_is_refused_before_the_run() {
    let text = r#"#![enable(implicit_some)]
(
    name: "mtbf", horizon: "1h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100",
             owned: (count: 8, capex_per_gpu: "20000 USD", lifetime: "4y", power_per_gpu: "0.7kW", energy_price: "0.2 USD/kWh"),
             failures: (gpu_mtbf: "1us", repair: "1h"))],
)"#;
    let error = load_str(text, "edge.ron".as_ref())
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("GPU failures over the horizon") && error.contains("edge.ron:"),
        "{error}"
    );
}
