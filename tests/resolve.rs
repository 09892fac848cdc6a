//! Resolving a scenario: traces are read once per distinct file however many scenarios, points,
//! policies and replications use them, and a trace that cannot be read is reported at its file,
//! line and column before anything runs.

use std::path::{Path, PathBuf};

use hybridsim::experiment::compare::{resolve_all, run_policies};
use hybridsim::experiment::study::{self, sweep};
use hybridsim::scenario::{TraceCache, load, load_str};

const TRACE: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
    2023-11-16 18:17:03.9799600,4808,10\n\
    2023-11-16 18:17:04.0319600,3180,8\n\
    2023-11-16 18:17:05.5000000,120,40\n";

/// A small scenario whose one service replays `trace` and whose spot tier follows `prices`.
fn scenario_text(name: &str, trace: &str) -> String {
    format!(
        r#"(
    name: "{name}",
    horizon: "10m",
    seed: 3,
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "a", kind: cloud, jurisdiction: "eu/de")],
    pools: [(site: "a", accelerator: "H100", reserved: (count: 4, price: "3 USD/h"),
             spot: (limit: 4, price: "1 USD/h", price_process: trace(path: "prices.csv")))],
    services: [(name: "s", model: (memory: "1GB"), service_time: deterministic(time: "1s"),
        replicas: [(pool: "a/H100", tier: reserved)],
        demand: [(origin: "a", arrivals: trace(path: "{trace}"))])],
)"#
    )
}

/// A folder with the trace, the prices and two scenarios naming them.
fn folder() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), TRACE).unwrap();
    std::fs::write(
        dir.path().join("prices.csv"),
        "time_s,price_usd_per_hour\n0,1.0\n60,1.5\n",
    )
    .unwrap();
    let a = dir.path().join("a.ron");
    let b = dir.path().join("b.ron");
    std::fs::write(&a, scenario_text("a", "t.csv")).unwrap();
    std::fs::write(&b, scenario_text("b", "./t.csv")).unwrap();
    (dir, a, b)
}

#[test]
fn a_comparison_reads_each_trace_once_and_shares_it_across_policies() {
    let (_dir, a, b) = folder();
    let (a, b) = (load(&a).unwrap(), load(&b).unwrap());
    let mut cache = TraceCache::default();
    let resolved = resolve_all(&[&a, &b, &a], &mut cache).unwrap();
    // Two files (the request trace, the prices), each read once for three scenarios.
    assert_eq!((cache.reads(), cache.hits()), (2, 4));
    let names = vec!["lowest_latency".to_string(), "cheapest".to_string()];
    let runs = run_policies(&resolved[0], 1, &names, &|_, _| {});
    for run in runs {
        assert_eq!(run.unwrap().summary.services["s"].requests.arrived, 3);
    }
}

#[test]
fn a_study_reads_each_trace_once_for_all_its_points_and_runs() {
    let (dir, a, _) = folder();
    let study_path = dir.path().join("s.study.ron");
    std::fs::write(
        &study_path,
        format!(
            r#"(
    name: "traced",
    scenario: "{}",
    parameters: [(name: "horizon", path: "horizon", values: ["5m", "10m", "15m"])],
    replications: 2,
)"#,
            a.display()
        ),
    )
    .unwrap();
    let study = study::load(&study_path).unwrap_or_else(|e| panic!("{e}"));
    let options = sweep::SweepOptions {
        shard: sweep::Shard::WHOLE,
        keep_runs: 0,
        stop_on_invalid: true,
        progress: &|_, _| {},
        files: &hybridsim::report::StudyReport,
        notify: &|_| {},
    };
    let report = sweep::sweep(&study, &dir.path().join("out"), &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.runs, 6);
    assert_eq!(report.trace_reads, 2);
}

/// The error of resolving `scenario` (written beside `files`) as text.
fn resolve_error(files: &[(&str, &str)], scenario: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path: &Path = &dir.path().join("x.ron");
    let scenario = load_str(scenario, path).unwrap_or_else(|e| panic!("{e}"));
    scenario.resolve().unwrap_err().to_string()
}

#[test]
fn resolve_errors_name_the_file_line_and_column() {
    let bad_row = TRACE.replace("3180", "abc");
    let text = resolve_error(
        &[
            ("t.csv", &bad_row),
            ("prices.csv", "time_s,price_usd_per_hour\n0,1.0\n"),
        ],
        &scenario_text("x", "t.csv"),
    );
    assert!(
        text.contains("t.csv") && text.contains("line 3") && text.contains("ContextTokens"),
        "{text}"
    );
    let text = resolve_error(
        &[
            ("t.csv", TRACE),
            ("prices.csv", "time_s,price_usd_per_hour\n0,1.0\n60,cheap\n"),
        ],
        &scenario_text("x", "t.csv"),
    );
    assert!(
        text.contains("prices.csv") && text.contains("line 3") && text.contains("price_usd_per_hour"),
        "{text}"
    );
    let text = resolve_error(
        &[("prices.csv", "time_s,price_usd_per_hour\n0,1.0\n")],
        &scenario_text("x", "missing.csv"),
    );
    assert!(text.contains("missing.csv"), "{text}");
}
