//! `hybridsim sweep` and `hybridsim merge`: the same bytes on one thread, on two and from merged
//! shards; per-point statistics, break-even answers and Parquet files checked against an
//! independent reading of `runs.csv`; and every refusal an exit 2 that writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use statrs::distribution::{ContinuousCDF, StudentsT};

const BASE: &str = "scenarios/studies/own-vs-rent-base.ron";

fn hybridsim(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn ok(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A small study of the bundled base: 3 demands × 2 variants × 3 seeds, two hours each.
fn write_study(dir: &Path, extra: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join(BASE);
    let text = format!(
        r#"(
    name: "small",
    scenario: "{}",
    parameters: [
        (name: "demand", path: "services[chat].demand[0].arrivals.rate", values: ["2/s", "6/s", "10/s"]),
        (name: "horizon", path: "horizon", values: ["2h"]),
    ],
    variants: [
        (name: "own"),
        (name: "on_demand", set: {{
            "pools[\"onprem/H100\"].owned.count": 0,
            "services[chat].replicas[0].pool": "cloud/H100",
            "services[chat].replicas[0].tier": "on_demand",
            "services[chat].replicas[0].count": 2,
            "services[chat].autoscaling.tier": "on_demand",
            "services[chat].autoscaling.min": 1,
            "services[chat].autoscaling.max": 20,
        }}),
    ],
    replications: 3,
    break_even: [(metric: "cost_usd", between: ("own", "on_demand"), along: "demand", express_in: "utilization.chat")],
    {extra}
)"#,
        base.display()
    );
    let path = dir.join("small.study.ron");
    std::fs::write(&path, text).unwrap();
    path
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn sweep(study: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) {
    let mut args = vec![
        "sweep",
        "--quiet",
        study.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&hybridsim(&args, env));
}

#[test]
fn a_sweep_is_the_same_on_one_thread_on_two_and_from_merged_shards() {
    let root = tempfile::tempdir().unwrap();
    let study = write_study(root.path(), "");
    let one = root.path().join("one");
    let two = root.path().join("two");
    sweep(&study, &one, &[], &[("RAYON_NUM_THREADS", "1")]);
    sweep(&study, &two, &[], &[("RAYON_NUM_THREADS", "2")]);
    let expected = files(&one);
    for name in [
        "runs.csv",
        "runs.parquet",
        "points.csv",
        "points.parquet",
        "study.json",
        "report.html",
        "cost_usd-by-demand.svg",
        "cost_usd-by-demand.png",
    ] {
        assert!(
            expected.contains_key(name),
            "{name} missing: {:?}",
            expected.keys()
        );
    }
    assert_eq!(files(&two), expected, "two threads wrote other bytes than one");

    // Three shards, each from a different source of its index, merged in another order.
    let shard = |i: u64| root.path().join(format!("shard-{i}"));
    sweep(&study, &shard(0), &["--shard", "0/3"], &[]);
    sweep(
        &study,
        &shard(1),
        &["--shard", "slurm"],
        &[
            ("SLURM_ARRAY_TASK_ID", "11"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
    );
    sweep(
        &study,
        &shard(2),
        &["--shard", "k8s/3"],
        &[("JOB_COMPLETION_INDEX", "2")],
    );
    let merged = root.path().join("merged");
    ok(&hybridsim(
        &[
            "merge",
            "--quiet",
            shard(2).to_str().unwrap(),
            shard(0).to_str().unwrap(),
            shard(1).to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        &[],
    ));
    assert_eq!(
        files(&merged),
        expected,
        "the merged shards differ from the whole sweep"
    );
}

/// The rows of a CSV file as maps from column to cell.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Mean and Student-t 95% half-width, computed here from the definition.
fn mean_and_half_width(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0).unwrap().inverse_cdf(0.975);
    (mean, t * (var / n).sqrt())
}

#[test]
fn points_and_break_even_agree_with_an_independent_reading_of_runs_csv() {
    let root = tempfile::tempdir().unwrap();
    let study = write_study(root.path(), "");
    let out = root.path().join("out");
    sweep(&study, &out, &[], &[]);
    let runs = rows(&out.join("runs.csv"));
    assert_eq!(runs.len(), 3 * 2 * 3);
    assert!(runs.iter().all(|r| r["status"] == "ok"));
    // Run numbers are point-major, seeds innermost: run 4 is point 1 (demand 2/s, on_demand).
    assert_eq!(
        (
            runs[4]["point"].as_str(),
            runs[4]["demand"].as_str(),
            runs[4]["variant"].as_str()
        ),
        ("1", "2/s", "on_demand")
    );
    let value = |r: &BTreeMap<String, String>, m: &str| r[m].parse::<f64>().unwrap();

    // Each point's mean and interval of a figure.
    let points = rows(&out.join("points.csv"));
    for point in ["0", "3", "5"] {
        let xs: Vec<f64> = runs
            .iter()
            .filter(|r| r["point"] == point)
            .map(|r| value(r, "p99_ms.chat"))
            .collect();
        let (mean, half) = mean_and_half_width(&xs);
        let row = points
            .iter()
            .find(|r| r["point"] == point && r["metric"] == "p99_ms.chat")
            .unwrap();
        approx::assert_relative_eq!(value(row, "mean"), mean, max_relative = 1e-12);
        approx::assert_relative_eq!(value(row, "ci95_half_width"), half, max_relative = 1e-9);
        assert_eq!(row["n"], "3");
    }

    // The break-even: paired differences own − on_demand per demand, their zero crossing.
    let mut xs = Vec::new();
    let mut means = Vec::new();
    for (i, demand) in [2.0, 6.0, 10.0].iter().enumerate() {
        let of = |variant: &str| -> Vec<f64> {
            runs.iter()
                .filter(|r| r["point"] == (2 * i + usize::from(variant == "on_demand")).to_string())
                .map(|r| value(r, "cost_usd"))
                .collect()
        };
        let differences: Vec<f64> = of("own")
            .iter()
            .zip(of("on_demand"))
            .map(|(a, b)| a - b)
            .collect();
        xs.push(*demand);
        means.push(mean_and_half_width(&differences).0);
    }
    let crossing = (0..2)
        .find(|&i| (means[i] < 0.0) != (means[i + 1] < 0.0))
        .map(|i| xs[i] + (xs[i + 1] - xs[i]) * means[i] / (means[i] - means[i + 1]));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("study.json")).unwrap()).unwrap();
    let answer = &summary["break_even"][0]["crossings"][0];
    let crossing = crossing.expect("own is dearer at 2/s and cheaper at 10/s in this estate");
    approx::assert_relative_eq!(answer["at"].as_f64().unwrap(), crossing, max_relative = 1e-9);
    let (low, high) = (
        answer["interval"][0].as_f64().unwrap(),
        answer["interval"][1].as_f64().unwrap(),
    );
    assert!(low <= crossing && crossing <= high, "{low} ≤ {crossing} ≤ {high}");
    let statement = answer["statement"].as_str().unwrap();
    assert!(
        statement.contains("on_demand is lower below demand") && statement.contains("utilization.chat"),
        "{statement}"
    );
}

#[test]
fn parquet_files_hold_the_rows_of_the_csv_files() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let root = tempfile::tempdir().unwrap();
    let study = write_study(root.path(), "");
    let out = root.path().join("out");
    sweep(&study, &out, &[], &[]);
    for name in ["runs", "points"] {
        let csv_rows = rows(&out.join(format!("{name}.csv")));
        let reader =
            SerializedFileReader::new(std::fs::File::open(out.join(format!("{name}.parquet"))).unwrap())
                .unwrap();
        assert_eq!(
            reader.metadata().file_metadata().num_rows() as usize,
            csv_rows.len()
        );
        for (row, expected) in reader.get_row_iter(None).unwrap().zip(&csv_rows) {
            for (column, field) in row.unwrap().get_column_iter() {
                let cell = &expected[column];
                match field {
                    Field::Null => assert_eq!(cell, "", "{name}.{column}"),
                    Field::Double(x) => assert_eq!(*x, cell.parse::<f64>().unwrap(), "{name}.{column}"),
                    Field::Long(x) => assert_eq!(x.to_string(), *cell, "{name}.{column}"),
                    Field::Str(s) => assert_eq!(s, cell, "{name}.{column}"),
                    other => panic!("{name}.{column}: unexpected {other:?}"),
                }
            }
        }
    }
}

fn refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected «{needle}» in:\n{stderr}");
}

#[test]
fn merge_refuses_missing_duplicated_and_foreign_shards() {
    let root = tempfile::tempdir().unwrap();
    let study = write_study(root.path(), "");
    let other = root.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let foreign = write_study(&other, "seed: 99,");
    let shard = |study: &Path, spec: &str, name: &str| {
        let dir = root.path().join(name);
        sweep(study, &dir, &["--shard", spec], &[]);
        dir.to_str().unwrap().to_string()
    };
    let (a, b) = (shard(&study, "0/2", "a"), shard(&study, "1/2", "b"));
    let f = shard(&foreign, "1/2", "f");
    let out = root.path().join("merged");
    let merge = |dirs: &[&str]| {
        let mut args = vec!["merge", "--out", out.to_str().unwrap()];
        args.extend_from_slice(dirs);
        hybridsim(&args, &[])
    };
    refused(&merge(&[&a]), "shards 1 of 2 are missing");
    refused(&merge(&[&a, &a, &b]), "shard 0 of 2 is given twice");
    refused(&merge(&[&a, &f]), "is a shard of another study or version");
    refused(&merge(&[root.path().to_str().unwrap()]), "is not a shard folder");
    assert!(!out.exists(), "a refused merge wrote a folder");
}

#[test]
fn bad_studies_are_refused_at_their_place_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let run = |study: &Path| {
        hybridsim(
            &["sweep", study.to_str().unwrap(), "--out", out.to_str().unwrap()],
            &[],
        )
    };
    let typo = write_study(root.path(), "").to_str().unwrap().to_string();
    let text = std::fs::read_to_string(&typo)
        .unwrap()
        .replace("services[chat].demand", "services[chatt].demand");
    std::fs::write(&typo, text).unwrap();
    let output = run(Path::new(&typo));
    refused(&output, "has no item named \"chatt\"");
    refused(&output, "did you mean \"chat\"");
    refused(&output, "small.study.ron:5:");

    let huge = write_study(root.path(), "replications: 1,");
    let text = std::fs::read_to_string(&huge)
        .unwrap()
        .replace(
            r#"values: ["2/s", "6/s", "10/s"]"#,
            r#"range: (from: "1/s", to: "1000000/s", step: "1/s")"#,
        )
        .replace("replications: 3,", "");
    std::fs::write(&huge, text).unwrap();
    refused(&run(&huge), "the limit is 1000000");

    let metric = write_study(
        root.path(),
        "charts: [(metric: \"cost_usdd\", along: \"demand\")],",
    );
    refused(&run(&metric), "did you mean `cost_usd`?");
    assert!(!out.exists(), "a refused study wrote a folder");
}

#[test]
fn an_invalid_point_is_recorded_and_the_sweep_goes_on_unless_told_to_stop() {
    let root = tempfile::tempdir().unwrap();
    let study = write_study(root.path(), "");
    // 12 replicas need 24 owned GPUs; the pool has 16.
    let text = std::fs::read_to_string(&study)
        .unwrap()
        .replace(r#"(name: "horizon", path: "horizon", values: ["2h"]),"#, r#"(name: "horizon", path: "horizon", values: ["2h"]), (name: "replicas", path: "services[chat].replicas[0].count", values: [8, 12]),"#);
    std::fs::write(&study, text).unwrap();
    let out = root.path().join("out");
    sweep(&study, &out, &[], &[]);
    let runs = rows(&out.join("runs.csv"));
    let invalid: Vec<_> = runs.iter().filter(|r| r["status"] == "invalid").collect();
    // replicas=12 under "own" is invalid (3 demands × 3 seeds); under on_demand the variant sets 2.
    assert_eq!(
        invalid.len(),
        9,
        "{:?}",
        runs.iter().map(|r| &r["status"]).collect::<Vec<_>>()
    );
    assert!(
        invalid
            .iter()
            .all(|r| r["replicas"] == "12" && r["variant"] == "own" && !r["error"].is_empty())
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("study.json")).unwrap()).unwrap();
    assert_eq!(summary["invalid_runs"], 9);

    let stopped = root.path().join("stopped");
    let output = hybridsim(
        &[
            "sweep",
            study.to_str().unwrap(),
            "--stop-on-invalid",
            "--out",
            stopped.to_str().unwrap(),
        ],
        &[],
    );
    refused(&output, "replicas=12");
    assert!(!stopped.exists(), "a stopped sweep left a folder");
}

#[test]
fn the_bundled_own_vs_rent_study_loads_and_its_point_scenarios_validate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/studies/own-vs-rent.study.ron");
    let study = hybridsim::experiment::study::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(study.runs(), 14 * 3 * 3 * 3);
    for point in 0..study.points() {
        study.scenario_at(point).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn keep_warm_holds_a_floor_of_replicas_that_the_autoscaler_would_remove() {
    // The base service on autoscaled on-demand GPUs at 1 request/s, far below one replica's
    // load: the autoscaler keeps its `min` of 1 replica, or `keep_warm` 2 when set.
    let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(BASE)).unwrap();
    let on_demand = base
        .replace(r#"owned: (count: 16,"#, r#"owned: (count: 0,"#)
        .replace(
            r#"replicas: [(pool: "onprem/H100", tier: owned, count: 8)]"#,
            r#"replicas: [(pool: "cloud/H100", tier: on_demand, count: 2)]"#,
        )
        .replace(
            r#"min: 8, max: 8, tier: owned"#,
            r#"min: 1, max: 20, tier: on_demand"#,
        )
        .replace(r#"poisson(rate: "15/s")"#, r#"poisson(rate: "1/s")"#);
    let cloud_cost = |text: &str| {
        let scenario = hybridsim::scenario::load_str(text, Path::new(BASE)).unwrap_or_else(|e| panic!("{e}"));
        let outcome = hybridsim::world::simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
        outcome.summary.cost.by_site["cloud"]
    };
    let warm = on_demand.replace(
        "tier: on_demand, count: 2)]",
        "tier: on_demand, count: 2, keep_warm: 2)]",
    );
    assert_ne!(warm, on_demand);
    // Two replicas of 2 GPUs at 6.98 USD/GPU-h for 6 hours, held throughout.
    approx::assert_relative_eq!(cloud_cost(&warm), 4.0 * 6.98 * 6.0, max_relative = 1e-6);
    let scaled_down = cloud_cost(&on_demand);
    assert!(
        scaled_down < 0.6 * 4.0 * 6.98 * 6.0,
        "without keep_warm one replica goes: {scaled_down}"
    );
}
