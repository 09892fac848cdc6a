//! Every class of scenario error: exit code 2, a message naming file, line and column, what is
//! wrong and how to fix it, and no output folder.

use std::process::Command;

/// A valid base scenario; each case replaces one snippet of it.
const BASE: &str = r#"#![enable(implicit_some)]
(
    name: "errors",
    horizon: "2h",
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [
        (name: "fra-2", kind: on_prem, jurisdiction: "eu/de"),
        (name: "cloud-us", kind: cloud, jurisdiction: "us/va"),
    ],
    pools: [
        (site: "fra-2", accelerator: "H100", size: 16, reserved: (count: 8, price: "2.5 USD/h")),
    ],
    links: [
        (a: "fra-2", b: "cloud-us", bandwidth: "10Gbps", latency: "40ms"),
    ],
    datasets: [(name: "logs", size: "2TB", home: "fra-2", residency: ["eu"])],
)
"#;

struct Case {
    name: &'static str,
    replace: &'static str,
    with: &'static str,
    /// Expected `line:col` of the error.
    at: &'static str,
    /// Fragments the message must contain (the problem and the fix).
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "a name of dots",
        replace: "name: \"errors\",",
        with: "name: \"..\",",
        at: "3:11",
        says: &["starts with a dot", "start the name with a letter or a digit"],
    },
    Case {
        name: "a negative count",
        replace: "count: 8,",
        with: "count: -32,",
        at: "11:75",
        says: &["`-32` is negative", "a whole number such as 16"],
    },
    Case {
        name: "a count in exponent notation",
        replace: "count: 8,",
        with: "count: 1e15,",
        at: "11:74",
        says: &[
            "`1e15` is not a whole number",
            "no sign, decimal point or exponent",
        ],
    },
    Case {
        name: "a fractional count",
        replace: "count: 8,",
        with: "count: 16.5,",
        at: "11:76",
        says: &["`16.5` is not a whole number", "a whole number such as 16"],
    },
    Case {
        name: "unknown site with a suggestion",
        replace: r#"(a: "fra-2", b: "cloud-us""#,
        with: r#"(a: "fra-1", b: "cloud-us""#,
        at: "14:13",
        says: &["unknown site \"fra-1\"", "did you mean \"fra-2\"?"],
    },
    Case {
        name: "unknown accelerator",
        replace: r#"accelerator: "H100", size"#,
        with: r#"accelerator: "B200", size"#,
        at: "11:38",
        says: &["unknown accelerator \"B200\"", "H100"],
    },
    Case {
        name: "negative bandwidth",
        replace: r#""10Gbps""#,
        with: r#""-10Gbps""#,
        at: "14:",
        says: &["negative", "Gbps"],
    },
    Case {
        name: "zero bandwidth",
        replace: r#""10Gbps""#,
        with: r#""0Gbps""#,
        at: "14:",
        says: &["positive", "Gbps"],
    },
    Case {
        name: "unknown bandwidth unit",
        replace: r#""10Gbps""#,
        with: r#""10 parsecs""#,
        at: "14:",
        says: &["parsecs", "Mbps"],
    },
    Case {
        name: "more reserved GPUs than the pool's size",
        replace: "count: 8,",
        with: "count: 24,",
        at: "11:52",
        says: &["holds 16 GPUs but 24 are reserved or owned", "raise `size`"],
    },
    Case {
        name: "link to itself",
        replace: r#"b: "cloud-us""#,
        with: r#"b: "fra-2""#,
        at: "14:25",
        says: &["link from \"fra-2\" to itself", "two different sites"],
    },
    Case {
        name: "zero horizon",
        replace: r#"horizon: "2h""#,
        with: r#"horizon: "0s""#,
        at: "4:14",
        says: &["the horizon is zero", "e.g. \"2h\""],
    },
    Case {
        name: "a typo of 10^18 GPUs",
        replace: "count: 8,",
        with: "count: 1000000000000000000,",
        at: "11:",
        says: &["more than this tool accepts", "typo"],
    },
    Case {
        name: "unknown field",
        replace: "latency:",
        with: "latncy:",
        at: "14:",
        says: &["latncy", "latency"],
    },
    Case {
        name: "missing comma",
        replace: r#"horizon: "2h","#,
        with: r#"horizon: "2h""#,
        at: "5:",
        says: &["comma"],
    },
    Case {
        name: "dataset home outside its residency",
        replace: r#"home: "fra-2""#,
        with: r#"home: "cloud-us""#,
        at: "16:",
        says: &["outside its residency", "move its home"],
    },
    Case {
        name: "duplicate name",
        replace: r#"(name: "cloud-us", kind"#,
        with: r#"(name: "fra-2", kind"#,
        at: "8:",
        says: &["used twice", "unique"],
    },
];

#[test]
fn the_base_scenario_is_valid() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("base.ron");
    std::fs::write(&file, BASE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_error_class_is_reported_at_its_place_with_a_fix_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in CASES {
        assert!(BASE.contains(case.replace), "{}: snippet not in base", case.name);
        let file = root.path().join("bad.ron");
        std::fs::write(&file, BASE.replacen(case.replace, case.with, 1)).unwrap();
        let out_dir = root.path().join("out");
        let output = Command::new(env!("CARGO_BIN_EXE_hybridsim"))
            .args(["run", "--quiet", "--out"])
            .arg(&out_dir)
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let location = format!("bad.ron:{}", case.at);
        let mut problems = Vec::new();
        if output.status.code() != Some(2) {
            problems.push(format!("exit code {:?}", output.status.code()));
        }
        if !stderr.contains(&location) {
            problems.push(format!("no {location}"));
        }
        for fragment in case.says {
            if !stderr.contains(fragment) {
                problems.push(format!("no {fragment:?}"));
            }
        }
        if stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if out_dir.exists() || std::fs::read_dir(root.path()).unwrap().count() != 1 {
            problems.push("something was written".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{stderr}", case.name, problems.join(", ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_bad_trace_row_is_an_input_error_naming_file_line_and_column() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("t.csv"), "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,abc,8\n").unwrap();
    let scenario = BASE.replacen(
        "datasets:",
        r#"services: [(name: "s", model: (memory: "1GB"), service_time: deterministic(time: "1s"),
            replicas: [(pool: "fra-2/H100", tier: reserved)],
            demand: [(origin: "fra-2", arrivals: trace(path: "t.csv"))])],
    datasets:"#,
        1,
    );
    let file = root.path().join("traced.ron");
    std::fs::write(&file, scenario).unwrap();
    for command in ["validate", "run"] {
        let out_dir = root.path().join("out");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hybridsim"));
        cmd.arg(command).arg(&file);
        if command == "run" {
            cmd.arg("--out").arg(&out_dir);
        }
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("t.csv") && stderr.contains("line 3") && stderr.contains("ContextTokens"),
            "{stderr}"
        );
        assert!(!out_dir.exists());
    }
}

#[test]
fn service_errors_are_diagnosed_before_the_run() {
    let service = r#"services: [(name: "s", model: (memory: "1GB", slots_per_replica: 4),
            service_time: deterministic(time: "1s"), timeout: "30s",
            replicas: [(pool: "fra-2/H100", tier: reserved, count: 2)],
            demand: [(origin: "fra-2", arrivals: poisson(rate: "1/s"), residency: ["eu"])])],
    datasets:"#;
    let cases: &[(&str, &str, &str)] = &[
        (
            "slots_per_replica: 4",
            "slots_per_replica: 4294967295",
            "concurrent requests per replica",
        ),
        (
            "count: 2)]",
            "count: 9)]",
            "initial replicas need 9 reserved GPUs",
        ),
        (r#"timeout: "30s""#, r#"timeout: "0s""#, "zero timeout"),
        (
            r#"residency: ["eu"]"#,
            r#"residency: ["us"]"#,
            "every request would fail",
        ),
        (r#"memory: "1GB""#, r#"memory: "200GB""#, "the model needs 200GB"),
        (
            "count: 2)]",
            "count: 2)], autoscaling: (max: 3, load_bandwidth: \"10Gbps\", target_utilization: 0.7)",
            "no on_demand capacity",
        ),
        (
            r#"origin: "fra-2""#,
            r#"origin: "fra-3""#,
            "unknown site \"fra-3\"",
        ),
    ];
    let base = BASE.replacen("datasets:", service, 1);
    hybridsim::scenario::load_str(&base, "s.ron".as_ref()).expect("the base with a service is valid");
    for (from, to, says) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let error = hybridsim::scenario::load_str(&text, "s.ron".as_ref())
            .expect_err(to)
            .to_string();
        assert!(error.contains(says) && error.contains("s.ron:"), "{to}: {error}");
    }
}

#[test]
fn job_and_incident_errors_are_diagnosed_before_the_run() {
    let jobs = r#"jobs: [(name: "ft", class: fine_tuning, gpus: 8, work: 100, dataset: "logs",
             checkpoint: (interval: "1h", write: "2m", replicate_to: "fra-2", size: "1TB")),
           (name: "stream", class: batch_inference,
             arrivals: poisson(rate: "2/h", gpus: [(1, 0.5), (2, 0.5)], duration: exponential(mean: "1h")))],
    incidents: [(name: "boom", start: "1h", kind: gpu_failure(pool: "fra-2/H100", job: "ft"))],
    datasets:"#;
    let cases: &[(&str, &str, &str)] = &[
        (
            "class: fine_tuning",
            "class: inference",
            "a job cannot be of class inference",
        ),
        ("gpus: 8, work: 100,", "work: 100,", "a job needs `gpus`"),
        ("work: 100,", "work: -5,", "work -5 is not between 0"),
        (
            r#"dataset: "logs""#,
            r#"dataset: "log""#,
            "unknown dataset \"log\"",
        ),
        (r#"write: "2m", "#, "", "say how long a checkpoint write takes"),
        (
            r#", size: "1TB""#,
            "",
            "replicating a checkpoint needs its `size`",
        ),
        (
            r#"replicate_to: "fra-2""#,
            r#"replicate_to: "fra-3""#,
            "unknown site \"fra-3\"",
        ),
        (
            r#"replicate_to: "fra-2""#,
            r#"replicate_to: "cloud-us""#,
            "may only be in eu",
        ),
        (
            r#"rate: "2/h""#,
            r#"rate: "2000/s""#,
            "more than this tool accepts",
        ),
        ("(2, 0.5)]", "(0, 0.5)]", "a job of 0 GPUs cannot run"),
        (
            r#"mean: "1h""#,
            r#"mean: "0s""#,
            "a job duration must be positive",
        ),
        (r#"job: "ft""#, r#"job: "fx""#, "unknown job \"fx\""),
        (
            r#"pool: "fra-2/H100""#,
            r#"pool: "fra-2/A100""#,
            "unknown pool \"fra-2/A100\"",
        ),
        ("gpu_failure(", "spot_preemption(", "has no spot tier"),
        (
            "work: 100,",
            "work: 100, tiers: [spot],",
            "not preemptible cannot run on spot",
        ),
    ];
    let base = BASE.replacen("datasets:", jobs, 1);
    hybridsim::scenario::load_str(&base, "j.ron".as_ref()).expect("the base with jobs is valid");
    for (from, to, says) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let error = hybridsim::scenario::load_str(&text, "j.ron".as_ref())
            .expect_err(to)
            .to_string();
        assert!(error.contains(says) && error.contains("j.ron:"), "{to}: {error}");
    }
}

fn validate(name: &str, contents: &[u8]) -> (Option<i32>, String) {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join(name);
    std::fs::write(&file, contents).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_file_with_nothing_to_read_says_so() {
    for (contents, says) in [
        ("", "the file is empty"),
        ("\n  \n", "holds only blank lines"),
        ("// a scenario\n/* to come */\n", "holds only comments"),
        ("#![enable(implicit_some)]\n", "holds only comments"),
    ] {
        let (code, stderr) = validate("nothing.ron", contents.as_bytes());
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("nothing.ron:1:1"), "{stderr}");
        assert!(stderr.contains(says), "{contents:?}: {stderr}");
        assert!(
            stderr.contains("holding at least `name` and `horizon`"),
            "{stderr}"
        );
        assert!(!stderr.contains("Expected opening"), "{stderr}");
    }
}

#[test]
fn invalid_utf8_is_reported_once_at_its_line_and_column() {
    let mut contents = BASE
        .replacen("fra-2\", kind", "fra-\u{e9}2\", kind", 1)
        .into_bytes();
    // Cut the two-byte é after its first byte: a lone 0xC3 followed by '2'.
    let at = contents.iter().position(|&b| b == 0xC3).unwrap();
    contents.remove(at + 1);
    let (code, stderr) = validate("latin.ron", &contents);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("latin.ron:7:21"), "{stderr}");
    assert!(stderr.contains("byte 0xC3 is not UTF-8 text"), "{stderr}");
    assert!(stderr.contains("save the file as UTF-8"), "{stderr}");
    assert_eq!(
        stderr.matches("UTF-8").count(),
        3,
        "the reason is given once: {stderr}"
    );
}

#[test]
fn problems_after_an_unreadable_item_are_still_listed() {
    let text = BASE
        // An unknown field in the first site: the site is left out and reading goes on.
        .replacen(
            r#"jurisdiction: "eu/de")"#,
            r#"jurisdiction: "eu/de", extra: 1)"#,
            1,
        )
        // An unknown field in the only pool.
        .replacen("size: 16,", "size: 16, colour: 1,", 1)
        // A bad unit in the first link, and a second link to a site that does not exist.
        .replacen(
            r#"latency: "40ms"),"#,
            r#"latency: "-40ms"),
        (a: "cloud-us", b: "fra-9", bandwidth: "1Gbps", latency: "9ms"),"#,
            1,
        );
    let (code, stderr) = validate("many.ron", text.as_bytes());
    assert_eq!(code, Some(2), "{stderr}");
    for expected in [
        "many.ron:7:63",
        "`extra`",
        "many.ron:11:56",
        "`colour`",
        "many.ron:14:68",
        "\"-40ms\"",
        // Checked without the items left out, and shown at its index as written.
        "many.ron:15:28 (at links[1].b)",
        "unknown site \"fra-9\"",
        "4 errors in",
        "3 items that could not be read were left out",
    ] {
        assert!(stderr.contains(expected), "no {expected:?} in:\n{stderr}");
    }
    // The dataset's home is "fra-2", the site left out: no error for that, it goes with the fix.
    assert!(!stderr.contains("unknown site \"fra-2\""), "{stderr}");
}

#[test]
fn an_error_outside_any_list_item_stops_reading_and_says_so() {
    let text = BASE
        .replacen(r#"horizon: "2h""#, r#"horizon: "2 fortnights""#, 1)
        .replacen(r#"home: "fra-2""#, r#"home: "fra-3""#, 1);
    let (code, stderr) = validate("stop.ron", text.as_bytes());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("stop.ron:4:"), "{stderr}");
    assert!(stderr.contains("\n1 error in "), "{stderr}");
    assert!(
        !stderr.contains("fra-3"),
        "nothing after the stop is checked: {stderr}"
    );
    assert!(stderr.contains("reading stopped at the last error"), "{stderr}");
}
