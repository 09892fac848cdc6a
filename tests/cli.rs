//! The command line as a user meets it: exit codes, output folders, determinism, and error
//! messages that name file, line, column and the fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hybridsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_into(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    hybridsim(&args)
}

#[test]
fn run_without_arguments_writes_summary_and_run_json() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("qs");
    let result = run_into(&out, &[]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema_version"], 1);
    assert_eq!(summary["scenario"], "quickstart");
    assert_eq!(summary["seed"], 42);
    assert_eq!(summary["horizon_s"], 86_400.0);
    assert!(
        summary["kernel"]["events_processed"].as_u64().unwrap() >= 24,
        "hourly billing ran"
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert!(run["wall_clock_s"].as_f64().unwrap() >= 0.0);
    assert!(
        summary.get("wall_clock_s").is_none(),
        "wall clock stays out of summary.json"
    );
}

#[test]
fn the_same_seed_gives_identical_summary_bytes() {
    let root = tempfile::tempdir().unwrap();
    let [a, b, c] = ["a", "b", "c"].map(|n| root.path().join(n));
    for (dir, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let result = run_into(dir, &["scenarios/quickstart.ron", "--seed", seed]);
        assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    }
    let read = |dir: &PathBuf| std::fs::read(dir.join("summary.json")).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
}

#[test]
fn tables_and_charts_are_byte_identical_for_a_seed() {
    let root = tempfile::tempdir().unwrap();
    for scenario in [
        "scenarios/validation/checkpoint.ron",
        "scenarios/drills/eu-outage-dual.ron",
    ] {
        let [a, b, c] = ["a", "b", "c"].map(|n| root.path().join(n));
        for (dir, seed) in [(&a, "3"), (&b, "3"), (&c, "4")] {
            let result = run_into(dir, &[scenario, "--seed", seed, "--policy", "lowest_latency"]);
            assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
        }
        for file in [
            "summary.json",
            "jobs.csv",
            "incidents.csv",
            "decisions.csv",
            "timeseries.csv",
            "cost.csv",
            "latency.svg",
            "latency.png",
            "requests.svg",
            "requests.png",
            "cost.svg",
            "cost.png",
            "recovery.svg",
            "recovery.png",
            "utilization.svg",
            "utilization.png",
        ] {
            let read = |dir: &PathBuf| std::fs::read(dir.join(file)).unwrap();
            assert_eq!(read(&a), read(&b), "{scenario}: {file}");
        }
        let decisions = |dir: &PathBuf| std::fs::read(dir.join("decisions.csv")).unwrap();
        assert_ne!(
            decisions(&a),
            decisions(&c),
            "{scenario}: another seed, another story"
        );
        let header = String::from_utf8(decisions(&a)).unwrap();
        assert!(
            header.starts_with("time_s,kind,subject,choice,alternatives,reason\n"),
            "{header}"
        );
    }
}

#[test]
fn a_rerun_replaces_the_output_folder_whole() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("qs");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("stale.txt"), "old").unwrap();
    assert_eq!(run_into(&out, &[]).status.code(), Some(0));
    assert!(!out.join("stale.txt").exists());
    assert!(out.join("summary.json").exists());
    let mut left: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [".qs.lock", "qs"],
        "no staging folder left behind, the lock file stays"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(hybridsim(&["run", "--seed", "minus-one"]).status.code(), Some(2));
    assert_eq!(hybridsim(&["frobnicate"]).status.code(), Some(2));
    let help = hybridsim(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("Exit codes"));
}

#[test]
fn a_missing_scenario_file_exits_2_and_names_it() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("never");
    let result = run_into(&out, &["no/such/file.ron"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(text(&result.stderr).contains("no/such/file.ron"));
    assert!(!out.exists());
}

#[test]
fn validate_prints_the_estate() {
    let result = hybridsim(&["validate", "scenarios/quickstart.ron"]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let stdout = text(&result.stdout);
    for expected in [
        "quickstart — valid",
        "onprem-fra",
        "GPUs per tier: reserved 48, owned 104",
        "customer-support-logs",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn validate_shows_jobs_incidents_policies_and_assertions_as_written() {
    let result = hybridsim(&["validate", "scenarios/drills/eu-outage-dual.ron"]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let stdout = text(&result.stdout);
    for expected in [
        "jobs (1):\n  pretrain                 training     submitted at 0s, 32 GPUs\n",
        "incidents (1):\n  eu-1 region down         site_outage        at 10h for 2h\n",
        "policies: lowest_latency, failover, cheapest, cost_ceiling\n",
        "expect (10):\n",
        "  time_to_recover(incident: \"eu-1 region down\", below: \"20m\")\n",
        "  cost(below: \"7200 USD\", policy: \"cheapest\")\n",
        "at most 10000000 requests alive at once (`limits.in_flight`)",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    let quickstart = text(&hybridsim(&["validate", "scenarios/quickstart.ron"]).stdout);
    assert!(
        quickstart.contains("policies: lowest_latency (the default)"),
        "{quickstart}"
    );
}

#[test]
fn policy_overrides_the_scenario_and_unknown_names_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("p");
    let result = run_into(&out, &["--policy", "cheapest"]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["policy"], "cheapest");
    let refused = run_into(&root.path().join("q"), &["--policy", "cheapset"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("cheapest"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn several_policies_write_a_folder_each_and_a_comparison_that_repeats_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    let scenario = "scenarios/drills/eu-outage-dual.ron";
    let policies = "lowest_latency,cheapest,failover";
    let [a, b] = ["a", "b"].map(|n| root.path().join(n));
    for dir in [&a, &b] {
        let result = run_into(dir, &[scenario, "--policy", policies]);
        assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    }
    for policy in policies.split(',') {
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(a.join(policy).join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["policy"], policy);
        for file in ["jobs.csv", "incidents.csv", "decisions.csv", "run.json"] {
            assert!(a.join(policy).join(file).exists(), "{policy}/{file}");
        }
    }
    assert_eq!(
        std::fs::read(a.join("recovery.svg")).unwrap(),
        std::fs::read(b.join("recovery.svg")).unwrap(),
        "the recovery chart puts the policies side by side"
    );
    let comparison = std::fs::read(a.join("comparison.csv")).unwrap();
    assert_eq!(comparison, std::fs::read(b.join("comparison.csv")).unwrap());
    let table = text(&comparison);
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with(
            "run,scenario,policy,seed,cost_usd,service_cost_usd.assistant,\
             cost_per_1k_requests_usd.assistant,p99_ms.assistant,slo_attainment.assistant"
        ),
        "{}",
        rows[0]
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(names, ["lowest_latency", "cheapest", "failover"]);
    // An unknown name is refused before anything runs.
    let result = run_into(
        &root.path().join("c"),
        &[scenario, "--policy", "cheapest,fastest"],
    );
    assert_eq!(result.status.code(), Some(2));
    assert!(!root.path().join("c").exists());
}

fn compare_into(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["compare", "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    hybridsim(&args)
}

/// The `run.json` of each of `runs` in `dir`, with its summary's event count.
fn wall_times(dir: &Path, runs: &[&str]) -> Vec<(f64, f64, f64)> {
    let read = |run: &str, file: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(run).join(file)).unwrap()).unwrap()
    };
    runs.iter()
        .map(|run| {
            let info = read(run, "run.json");
            let events = read(run, "summary.json")["kernel"]["events_processed"]
                .as_f64()
                .unwrap();
            let wall = info["wall_clock_s"].as_f64().unwrap();
            (wall, info["events_per_wall_second"].as_f64().unwrap(), events)
        })
        .collect()
}

#[test]
fn each_compared_run_json_gives_that_runs_own_wall_time() {
    let root = tempfile::tempdir().unwrap();
    let compared = root.path().join("compared");
    let by_policy = root.path().join("by-policy");
    let (small, large) = (
        "scenarios/drills/pattern-a.ron",
        "scenarios/drills/eu-outage-dual.ron",
    );
    let started = std::time::Instant::now();
    let result = compare_into(&compared, &[small, large, "--policy", "lowest_latency"]);
    let compare_wall = started.elapsed().as_secs_f64();
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let started = std::time::Instant::now();
    let result = run_into(&by_policy, &[large, "--policy", "lowest_latency,cheapest"]);
    let run_wall = started.elapsed().as_secs_f64();
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let labels: Vec<String> = comparison_rows(&compared)[1..]
        .iter()
        .map(|r| r[0].clone())
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let runs = [
        (wall_times(&compared, &labels), compare_wall),
        (wall_times(&by_policy, &["lowest_latency", "cheapest"]), run_wall),
    ];
    for (runs, whole) in runs {
        for &(wall, rate, events) in &runs {
            // Each run.json speaks of its own run: its rate is its own events over its own
            // wall time, and no run took longer than the process that ran them all.
            assert!(wall > 0.0 && wall < whole, "{wall} s of a {whole} s process");
            assert!(
                (rate * wall - events).abs() <= 1e-6 * events,
                "{rate} × {wall} ≠ {events}"
            );
        }
        // The batch's wall time written into every run.json would make them all equal.
        assert_ne!(runs[0].0, runs[1].0, "{runs:?}");
    }
}

/// `comparison.csv` as rows of cells, the header first.
fn comparison_rows(dir: &Path) -> Vec<Vec<String>> {
    let table = std::fs::read_to_string(dir.join("comparison.csv")).unwrap();
    table
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn compare_sets_two_scenarios_side_by_side_with_a_folder_each() {
    let root = tempfile::tempdir().unwrap();
    let [a, b] = ["a", "b"].map(|n| root.path().join(n));
    let single = "scenarios/drills/eu-outage-single.ron";
    let dual = "scenarios/drills/eu-outage-dual.ron";
    for dir in [&a, &b] {
        let result = compare_into(dir, &[single, dual, "--policy", "lowest_latency"]);
        assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    }
    for file in ["comparison.csv", "comparison.json", "report.html", "recovery.svg"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file} repeats byte for byte"
        );
    }
    assert!(!a.join("replications.csv").exists(), "one seed per scenario");
    let rows = comparison_rows(&a);
    let runs: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(runs, ["eu-outage-single", "eu-outage-dual"]);
    for run in runs {
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(a.join(run).join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["scenario"], run);
    }
    // The second data centre is what the dual drill adds: far fewer requests fail.
    let failed = rows[0]
        .iter()
        .position(|h| h == "requests_failed.assistant")
        .unwrap();
    let failed: Vec<u64> = rows[1..].iter().map(|r| r[failed].parse().unwrap()).collect();
    assert!(failed[1] * 10 < failed[0], "{failed:?}");
}

#[test]
fn compare_over_seeds_lists_them_in_natural_order_and_charts_each_policy_as_one_mean() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("seeds");
    let scenario = "scenarios/drills/eu-outage-dual.ron";
    let args = [
        scenario,
        "--policy",
        "lowest_latency,cheapest",
        "--seed",
        "10,9,8",
    ];
    let result = compare_into(&out, &args);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let rows = comparison_rows(&out);
    let runs: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        runs,
        [
            "lowest_latency.seed-8",
            "lowest_latency.seed-9",
            "lowest_latency.seed-10",
            "cheapest.seed-8",
            "cheapest.seed-9",
            "cheapest.seed-10"
        ]
    );
    assert!(rows[0].iter().any(|h| h == "cost_per_1k_requests_usd.assistant"));
    let replications = std::fs::read_to_string(out.join("replications.csv")).unwrap();
    assert!(replications.contains(",cost_per_1k_requests_usd.assistant,3,"));
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("cost_per_1k_requests_usd.assistant"));
    for chart in ["latency", "cost", "utilization", "recovery"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        for policy in ["lowest_latency", "cheapest"] {
            let entry = format!("{policy} (mean of 3 seeds)");
            assert_eq!(svg.matches(&entry).count(), 1, "{chart}: {entry}");
        }
        assert!(
            !svg.contains("seed-9"),
            "{chart}: one entry per policy, none per seed"
        );
    }
}

/// Mean and 95% Student-t half-width of three values, computed here from the definitions.
fn mean_and_half_width(values: &[f64]) -> (f64, f64) {
    assert_eq!(values.len(), 3);
    let mean = values.iter().sum::<f64>() / 3.0;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0;
    let t = 4.302_652_729_911_275; // t(0.975, 2 degrees of freedom)
    (mean, t * (variance / 3.0).sqrt())
}

#[test]
fn compare_replications_report_means_and_paired_differences_with_confidence_intervals() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("r");
    let scenario = "scenarios/drills/eu-outage-single.ron";
    let policies = "lowest_latency,failover";
    let result = compare_into(&out, &[scenario, "--policy", policies, "--replications", "3"]);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    let rows = comparison_rows(&out);
    let runs: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        runs,
        [7, 8, 9]
            .map(|s| format!("lowest_latency.seed-{s}"))
            .into_iter()
            .chain([7, 8, 9].map(|s| format!("failover.seed-{s}")))
            .collect::<Vec<_>>()
    );
    // Recompute the means and the paired differences of requests failed from the table.
    let column = rows[0]
        .iter()
        .position(|h| h == "requests_failed.assistant")
        .unwrap();
    let values: Vec<f64> = rows[1..].iter().map(|r| r[column].parse().unwrap()).collect();
    let (baseline, failover) = values.split_at(3);
    let differences: Vec<f64> = failover.iter().zip(baseline).map(|(f, b)| f - b).collect();
    let replications = std::fs::read_to_string(out.join("replications.csv")).unwrap();
    let reported = |policy: &str, minus: &str| -> (f64, f64) {
        let prefix = format!("eu-outage-single,{policy},{minus},7 8 9,requests_failed.assistant,3,");
        let line = replications
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{prefix} in {replications}"));
        let cells: Vec<f64> = line[prefix.len()..]
            .split(',')
            .map(|c| c.parse().unwrap())
            .collect();
        (cells[0], cells[1])
    };
    for (policy, minus, values) in [
        ("lowest_latency", "", baseline),
        ("failover", "lowest_latency", &differences[..]),
    ] {
        let (mean, half) = mean_and_half_width(values);
        let (reported_mean, reported_half) = reported(policy, minus);
        approx::assert_relative_eq!(reported_mean, mean, max_relative = 1e-12);
        approx::assert_relative_eq!(reported_half, half, max_relative = 1e-9);
    }
    // Common random numbers: both policies saw the same arrivals and outage, so the seed-to-seed
    // spread cancels in the pairs.
    let (_, spread) = mean_and_half_width(baseline);
    let (_, paired) = mean_and_half_width(&differences);
    assert!(
        spread > 0.0 && paired < spread / 4.0,
        "paired {paired}, unpaired {spread}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Means and differences over seeds"));
    assert!(html.contains("failover − lowest_latency, paired by seed"));
    assert!(html.contains("href=\"replications.csv\""));
}

#[test]
fn compare_refuses_nothing_to_compare_and_too_many_runs_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let scenario = "scenarios/drills/eu-outage-single.ron";
    let cases: [&[&str]; 3] = [
        &[scenario, "--policy", "cheapest"],
        &[scenario, "--policy", "cheapest", "--replications", "1000000"],
        &[scenario, "--seed", "1,2", "--replications", "3"],
    ];
    let expected = ["nothing to compare", "at most 100000", "cannot be used with"];
    for (i, (args, message)) in cases.iter().zip(expected).enumerate() {
        let out = root.path().join(i.to_string());
        let result = compare_into(&out, args);
        assert_eq!(result.status.code(), Some(2), "{args:?}");
        assert!(text(&result.stderr).contains(message), "{}", text(&result.stderr));
        assert!(!out.exists(), "{args:?} wrote a folder");
    }
}

#[test]
fn a_comparison_of_more_runs_than_it_charts_streams_every_run_into_its_folder_and_the_table() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("many");
    let runs = hybridsim::experiment::compare::CHARTED_RUNS + 2;
    let result = compare_into(
        &out,
        &[
            "scenarios/validation/mmc.ron",
            "--replications",
            &runs.to_string(),
        ],
    );
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let rows = comparison_rows(&out);
    assert_eq!(rows.len(), runs + 1, "a row per run under the header");
    let folders = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(folders, runs, "a folder per run");
    let last = out.join(&rows[runs][0]).join("summary.json");
    assert!(last.exists(), "{} is missing", last.display());
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let note = format!(
        "show the first {} of the {runs}",
        hybridsim::experiment::compare::CHARTED_RUNS
    );
    assert!(page.contains(&note), "the page says which runs it charts");
}

/// Runs the binary in `dir`.
fn hybridsim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The starter scenario as the repository holds it.
fn starter_template() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/templates/starter.ron"))
        .unwrap()
}

/// The 1-based line and column where `needle` starts in `text`.
fn line_col(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
    (line, col)
}

#[test]
fn init_writes_a_starter_that_validates_without_warnings_and_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let written = hybridsim_in(dir, &["init"]);
    assert_eq!(written.status.code(), Some(0), "{}", text(&written.stderr));
    let stdout = text(&written.stdout);
    for expected in [
        "wrote my-estate.ron",
        "hybridsim validate my-estate.ron",
        "hybridsim run my-estate.ron",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    let file = std::fs::read_to_string(dir.join("my-estate.ron")).unwrap();
    assert_eq!(file, starter_template(), "the default name is the template's own");

    let validated = hybridsim_in(dir, &["validate", "my-estate.ron"]);
    assert_eq!(validated.status.code(), Some(0), "{}", text(&validated.stderr));
    assert!(validated.stderr.is_empty(), "{}", text(&validated.stderr));
    assert!(text(&validated.stdout).contains("my-estate — valid"));

    let ran = hybridsim_in(dir, &["run", "my-estate.ron"]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    assert!(!text(&ran.stderr).contains("warning"), "{}", text(&ran.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("outputs/my-estate/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenario"], "my-estate");
    assert_eq!(
        summary["jobs"]["training"]["completed"], 1,
        "the training job finishes"
    );

    std::fs::create_dir(dir.join("plants")).unwrap();
    let named = hybridsim_in(dir, &["init", "plants/plant-b"]);
    assert_eq!(named.status.code(), Some(0), "{}", text(&named.stderr));
    assert!(text(&named.stdout).contains("wrote plants/plant-b.ron"));
    let validated = hybridsim_in(dir, &["validate", "plants/plant-b.ron"]);
    assert_eq!(validated.status.code(), Some(0), "{}", text(&validated.stderr));
    assert!(text(&validated.stdout).contains("plant-b — valid"));
}

#[test]
fn init_refuses_an_existing_file_and_a_bad_name_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    std::fs::write(dir.join("my-estate.ron"), "mine").unwrap();
    let refused = hybridsim_in(dir, &["init", "my-estate.ron"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("my-estate.ron already exists") && stderr.contains("another name"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("my-estate.ron")).unwrap(),
        "mine"
    );
    assert_eq!(hybridsim_in(dir, &["init"]).status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("my-estate.ron")).unwrap(),
        "mine"
    );

    let bad = hybridsim_in(dir, &["init", "my estate"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("cannot name a scenario"),
        "{}",
        text(&bad.stderr)
    );
    let no_folder = hybridsim_in(dir, &["init", "no/such/folder/x"]);
    assert_eq!(no_folder.status.code(), Some(2));
    assert!(
        text(&no_folder.stderr).contains("no/such/folder/x.ron"),
        "{}",
        text(&no_folder.stderr)
    );
    let mut left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["my-estate.ron"]);
}

#[test]
fn failover_without_a_site_order_warns_at_its_line_and_still_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let scenario = starter_template().replace(
        "        failover: (services: {\"assistant\": [\"cloud-eu\", \"onprem-fra\"]}, jobs: [\"cloud-eu\", \"onprem-fra\"]),\n",
        "",
    );
    let path = dir.join("no-order.ron");
    std::fs::write(&path, &scenario).unwrap();
    let (line, col) = line_col(&scenario, "\"failover\",");
    let validated = hybridsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(validated.status.code(), Some(0), "{}", text(&validated.stderr));
    let stderr = text(&validated.stderr);
    for expected in [
        "warning: policy failover has no site order".to_string(),
        format!("no-order.ron:{line}:{col} (at policy)"),
        "= help: list the sites in order".to_string(),
        "`policies: (failover: (services: {\"assistant\": [\"cloud-eu\", \"onprem-fra\"]}, jobs: [\"cloud-eu\", \"onprem-fra\"]))`".to_string(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }

    let [loud, quiet] = ["loud", "quiet"].map(|n| dir.join(n));
    let ran = hybridsim(&["run", path.to_str().unwrap(), "--out", loud.to_str().unwrap()]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    assert!(text(&ran.stderr).contains("warning: policy failover has no site order"));
    let ran_quietly = run_into(&quiet, &[path.to_str().unwrap()]);
    assert_eq!(ran_quietly.status.code(), Some(0));
    assert!(ran_quietly.stderr.is_empty(), "{}", text(&ran_quietly.stderr));
    let read = |dir: &PathBuf| std::fs::read(dir.join("summary.json")).unwrap();
    assert_eq!(read(&loud), read(&quiet), "a warning changes no output");

    let checked = hybridsim(&["check", path.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert!(text(&checked.stderr).contains("warning: policy failover has no site order"));
    let compared = hybridsim(&[
        "compare",
        path.to_str().unwrap(),
        "--policy",
        "lowest_latency,failover",
        "--quiet",
        "--out",
        dir.join("cmp").to_str().unwrap(),
    ]);
    assert_eq!(compared.status.code(), Some(0), "{}", text(&compared.stderr));
    assert!(compared.stderr.is_empty(), "--quiet: {}", text(&compared.stderr));
    let compared = hybridsim(&[
        "compare",
        path.to_str().unwrap(),
        "--policy",
        "lowest_latency,failover",
        "--out",
        dir.join("cmp").to_str().unwrap(),
    ]);
    assert_eq!(compared.status.code(), Some(0), "{}", text(&compared.stderr));
    assert!(text(&compared.stderr).contains(&format!("no-order.ron:{line}:{col}")));
}

#[test]
fn cost_ceiling_without_a_budget_is_refused_in_the_file_and_warned_about_on_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let template = starter_template();
    let in_file = template.replace("policy: \"failover\",", "policy: \"cost_ceiling\",");
    let path = dir.join("no-budget.ron");
    std::fs::write(&path, &in_file).unwrap();
    let (line, col) = line_col(&in_file, "\"cost_ceiling\",");
    let refused = hybridsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    for expected in [
        "error: policy cost_ceiling needs a budget".to_string(),
        format!("no-budget.ron:{line}:{col} (at policy)"),
        "`policies: (cost_ceiling: (budget: \"400 USD/h\"))`".to_string(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }

    let path = dir.join("starter.ron");
    std::fs::write(&path, &template).unwrap();
    let out = dir.join("out");
    let ran = hybridsim(&[
        "run",
        path.to_str().unwrap(),
        "--policy",
        "cost_ceiling",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    let stderr = text(&ran.stderr);
    assert!(
        stderr.contains("warning: policy cost_ceiling has no budget")
            && stderr.contains("starter.ron\n  = help: add the most to spend per hour")
            && stderr.contains("(cost_ceiling: (budget: \"400 USD/h\"))"),
        "{stderr}"
    );
    assert!(out.join("summary.json").exists());
}

#[test]
fn sweep_warns_about_the_policies_its_study_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    std::fs::write(dir.join("base.ron"), starter_template()).unwrap();
    let study = dir.join("budget.study.ron");
    std::fs::write(
        &study,
        "(name: \"budget\", scenario: \"base.ron\", policies: [\"failover\", \"cost_ceiling\"])",
    )
    .unwrap();
    let swept = |quiet: bool, out: &str| {
        let out = dir.join(out);
        let mut args = vec!["sweep", study.to_str().unwrap(), "--out", out.to_str().unwrap()];
        if quiet {
            args.push("--quiet");
        }
        hybridsim(&args)
    };
    let loud = swept(false, "loud");
    assert_eq!(loud.status.code(), Some(0), "{}", text(&loud.stderr));
    let stderr = text(&loud.stderr);
    assert!(
        stderr.contains("warning: policy cost_ceiling has no budget")
            && stderr.contains("base.ron\n  = help: ")
            && !stderr.contains("failover"),
        "only the policy that lacks its settings: {stderr}"
    );
    let quiet = swept(true, "quiet");
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    let read = |out: &str| std::fs::read(dir.join(out).join("runs.csv")).unwrap();
    assert_eq!(read("loud"), read("quiet"));
}
