//! `expect` assertions and the `hybridsim check` gate as CI meets them: exit codes 0/1/2, the
//! table, failure messages that name scenario, assertion and both numbers, names checked before
//! anything runs, JUnit XML, and the bundled scenarios meeting their own bounds.

use std::path::Path;
use std::process::{Command, Output};

/// A tiny scenario (half an hour, one service, one job, one incident) whose assertions all hold
/// at seed 3: p99 120 ms, attainment 1.0, cost 4 USD, recovery 30 s, goodput 0.71, 1 job, no
/// failed request.
const TINY: &str = r#"#![enable(implicit_some)]
(
    name: "tiny",
    horizon: "30m",
    seed: 3,
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [
        (name: "users", kind: edge, jurisdiction: "eu/de"),
        (name: "fra", kind: cloud, jurisdiction: "eu/de"),
    ],
    pools: [(site: "fra", accelerator: "H100", reserved: (count: 4, price: "2 USD/h"),
             on_demand: (limit: 8, price: "4 USD/h"))],
    links: [(a: "users", b: "fra", bandwidth: "10Gbps", latency: "10ms")],
    services: [(name: "chat", model: (memory: "1GB", slots_per_replica: 4),
        service_time: deterministic(time: "100ms"), timeout: "30s",
        replicas: [(pool: "fra/H100", tier: reserved, count: 2)],
        slo: (percentile: 99.0, latency: "1s"),
        demand: [(origin: "users", arrivals: poisson(rate: "20/s"))])],
    jobs: [(name: "train", class: training, gpus: 2, work: 0.5, tiers: [reserved, on_demand],
            checkpoint: (interval: "5m", write: "10s", restore: "30s"))],
    incidents: [(name: "node dies", start: "5m", kind: gpu_failure(pool: "fra/H100", job: "train"))],
    expect: [
        latency(service: "chat", percentile: 99.0, below: "500ms"),
        slo_attainment(service: "chat", above: 0.9),
        cost(category: compute, below: "100 USD"),
        time_to_recover(incident: "node dies", below: "10m"),
        goodput(class: training, above: 0.5),
        jobs_completed(class: training, at_least: 1),
        requests_failed(at_most: 0),
    ],
)
"#;

/// The same estate without assertions.
fn without_expect(text: &str) -> String {
    let start = text.find("    expect: [").expect("an expect block");
    let end = text[start..].find("    ],\n").expect("its end") + start + "    ],\n".len();
    format!("{}{}", &text[..start], &text[end..])
}

fn hybridsim(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = walk(dir);
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path.display().to_string()]
            }
        })
        .collect()
}

#[test]
fn assertions_that_hold_exit_0_with_a_table_and_write_nothing() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "tiny.ron", TINY);
    let before = listing(root.path());
    let out = hybridsim(&["check", "tiny.ron"], root.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(" pass")).count(),
        7,
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("tiny ") && l.contains(" latency(chat p99) ")),
        "{stdout}"
    );
    assert!(
        stdout.contains("120 ms") && stdout.contains("< 500 ms"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("7 assertions in 1 scenario: 7 passed, 0 failed\n"),
        "{stdout}"
    );
    assert_eq!(listing(root.path()), before, "check only reports");
    let quiet = hybridsim(&["check", "--quiet", "tiny.ron"], root.path());
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
}

#[test]
fn a_regression_fails_with_scenario_assertion_and_both_numbers() {
    // The regression workflow: a configuration change (one slot per replica instead of four)
    // overloads the service, and its p99 breaks the scenario's bound.
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "gate/tiny.ron",
        &TINY.replace("slots_per_replica: 4", "slots_per_replica: 1"),
    );
    let out = hybridsim(&["check", "gate"], root.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("FAIL tiny: latency(chat p99) measured "))
        .unwrap_or_else(|| panic!("no failure line:\n{stderr}"));
    let measured: f64 = line["FAIL tiny: latency(chat p99) measured ".len()..]
        .split(" ms, bound < 500 ms")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(measured > 500.0, "{line}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(
        stderr.contains("check failed:") && stderr.contains("assertions failed"),
        "{stderr}"
    );
}

#[test]
fn every_kind_of_assertion_can_fail_the_gate() {
    let root = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            r#"below: "500ms""#,
            r#"below: "110ms""#,
            &["latency(chat p99) measured 120 ms, bound < 110 ms"],
        ),
        (
            r#"below: "100 USD""#,
            r#"below: "1 USD""#,
            &["cost(category compute) measured 3.40 USD, bound < 1 USD"],
        ),
        (
            r#"below: "10m""#,
            r#"below: "20s""#,
            &["time_to_recover(node dies) measured 30s, bound < 20s"],
        ),
        (
            "above: 0.5",
            "above: 0.8",
            &["goodput(training) measured 0.7143, bound > 0.8"],
        ),
        (
            "at_least: 1",
            "at_least: 2",
            &["jobs_completed(training) measured 1, bound ≥ 2"],
        ),
        // An SLO no request can meet: attainment 0, and the service never recovers from the
        // incident, so its time to recover is null and fails with the summary's note.
        (
            r#"latency: "1s""#,
            r#"latency: "110ms""#,
            &[
                "slo_attainment(chat) measured 0.0000, bound > 0.9",
                "time_to_recover(node dies) has no measured value (an affected service does not meet its SLO for 3 windows in a row starting within 1h of the incident settling, or before the end of the run), bound < 10m",
            ],
        ),
    ];
    for (from, to, says) in cases {
        assert!(TINY.contains(from), "{from}");
        write(root.path(), "tiny.ron", &TINY.replacen(from, to, 1));
        let out = hybridsim(&["check", "--quiet", "tiny.ron"], root.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{to}: {stderr}");
        for message in says {
            assert!(
                stderr.contains(&format!("FAIL tiny: {message}\n")),
                "{to}: {stderr}"
            );
        }
        assert_eq!(
            stderr.matches("FAIL ").count(),
            says.len(),
            "{to}: only those fail\n{stderr}"
        );
    }
    // requests_failed: a one-second timeout under overload fails requests.
    let overloaded = TINY
        .replace("slots_per_replica: 4", "slots_per_replica: 1")
        .replace(r#"timeout: "30s""#, r#"timeout: "1s""#);
    write(root.path(), "tiny.ron", &overloaded);
    let stderr = text(&hybridsim(&["check", "-q", "tiny.ron"], root.path()).stderr);
    assert!(
        stderr.contains("FAIL tiny: requests_failed(all services) measured "),
        "{stderr}"
    );
    assert!(stderr.contains(", bound ≤ 0"), "{stderr}");
}

struct NameCase {
    replace: &'static str,
    with: &'static str,
    /// `line:col` of the error in the file.
    at: &'static str,
    says: &'static [&'static str],
}

const NAME_CASES: &[NameCase] = &[
    NameCase {
        replace: r#"latency(service: "chat""#,
        with: r#"latency(service: "chta""#,
        at: "23:26",
        says: &["unknown service \"chta\"", "did you mean \"chat\"?"],
    },
    NameCase {
        replace: r#"time_to_recover(incident: "node dies""#,
        with: r#"time_to_recover(incident: "node died""#,
        at: "26:35",
        says: &["unknown incident \"node died\"", "did you mean \"node dies\"?"],
    },
    NameCase {
        replace: "goodput(class: training",
        with: "goodput(class: trainig",
        at: "27:24",
        says: &["trainig", "did you mean `training`?"],
    },
    NameCase {
        replace: "cost(category: compute",
        with: "cost(category: compte",
        at: "25:24",
        says: &["compte", "did you mean `compute`?"],
    },
    NameCase {
        replace: "goodput(class: training",
        with: "goodput(class: embedding",
        at: "27:24",
        says: &[
            "the scenario has no embedding jobs",
            "classes with jobs here: training",
        ],
    },
    NameCase {
        replace: "percentile: 99.0, below",
        with: "percentile: 0.99, below",
        at: "23:46",
        says: &[
            "percentile 0.99 is not one the summary reports",
            "99 for this one",
        ],
    },
    NameCase {
        replace: "above: 0.9)",
        with: "above: 99)",
        at: "24:48",
        says: &["99 is not a share", "0.99 for 99%"],
    },
    NameCase {
        replace: r#"requests_failed(at_most: 0)"#,
        with: r#"requests_failed(service: "caht", at_most: 0)"#,
        at: "29:34",
        says: &["unknown service \"caht\"", "did you mean \"chat\"?"],
    },
    // An assertion's policy must be one the scenario is run under. Each replacement keeps the
    // line numbers: the policy list goes on the line of `expect: [`.
    NameCase {
        replace: "    expect: [\n        latency(service: \"chat\", percentile: 99.0, below: \"500ms\")",
        with: "    policy: [\"lowest_latency\", \"cheapest\"], expect: [\n        latency(service: \"chat\", percentile: 99.0, below: \"500ms\", policy: \"cheapset\")",
        at: "23:76",
        says: &[
            "unknown policy \"cheapset\"",
            "did you mean \"cheapest\"? The scenario is run under lowest_latency, cheapest",
        ],
    },
    NameCase {
        replace: "    expect: [\n        latency(service: \"chat\", percentile: 99.0, below: \"500ms\")",
        with: "    policy: [\"lowest_latency\", \"cheapest\"], expect: [\n        latency(service: \"chat\", percentile: 99.0, below: \"500ms\", policy: \"failover\")",
        at: "23:76",
        says: &[
            "the scenario is not run under policy \"failover\"",
            "run under lowest_latency, cheapest; add \"failover\" to its `policy` list",
        ],
    },
    NameCase {
        replace: "requests_failed(at_most: 0)",
        with: "requests_failed(at_most: 0, policy: \"cheapest\")",
        at: "29:45",
        says: &[
            "the scenario is not run under policy \"cheapest\"",
            "run under lowest_latency; add \"cheapest\"",
        ],
    },
];

#[test]
fn unknown_names_and_impossible_bounds_exit_2_at_their_place_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in NAME_CASES {
        assert!(TINY.contains(case.replace), "{}", case.replace);
        write(root.path(), "bad.ron", &TINY.replacen(case.replace, case.with, 1));
        for command in [
            &["check", "bad.ron"][..],
            &["validate", "bad.ron"],
            &["run", "bad.ron", "--out", "out"],
        ] {
            let out = hybridsim(command, root.path());
            let stderr = text(&out.stderr);
            let mut problems = Vec::new();
            if out.status.code() != Some(2) {
                problems.push(format!("exit code {:?}", out.status.code()));
            }
            if !stderr.contains(&format!("bad.ron:{}", case.at)) {
                problems.push(format!("not at bad.ron:{}", case.at));
            }
            problems.extend(
                case.says
                    .iter()
                    .filter(|s| !stderr.contains(**s))
                    .map(|s| format!("no {s:?}")),
            );
            if root.path().join("out").exists() {
                problems.push("the run wrote its output".into());
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} {command:?}: {}\n{stderr}",
                    case.with,
                    problems.join(", ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// TINY run under `tiered` too, which takes on-demand GPUs before reserved ones: its job runs
/// on on-demand GPUs, which the default policy leaves unused. The same bound on on-demand cost
/// is asserted of both runs.
fn tiny_under_two_policies() -> String {
    TINY.replacen(
        "    expect: [\n",
        concat!(
            "    policy: [\"lowest_latency\", \"tiered\"],\n",
            "    policies: (tiered: (order: [on_demand, reserved])),\n",
            "    expect: [\n",
            "        cost(tier: on_demand, below: \"0.01 USD\"),\n",
            "        cost(tier: on_demand, below: \"0.01 USD\", policy: \"tiered\"),\n",
        ),
        1,
    )
}

#[test]
fn an_assertion_on_another_policy_fails_the_gate_naming_the_policy() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "tiny.ron", &tiny_under_two_policies());
    let out = hybridsim(&["check", "tiny.ron", "--junit", "junit.xml"], root.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let failures: Vec<&str> = stderr.lines().filter(|l| l.starts_with("FAIL ")).collect();
    let prefix = "FAIL tiny: cost(tier on_demand) under tiered measured ";
    assert_eq!(failures.len(), 1, "only the tiered run fails:\n{stderr}");
    let measured: f64 = failures[0]
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(" USD, bound < 0.01 USD"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", failures[0]));
    assert!(measured > 1.0, "{}", failures[0]);
    let row = |assertion: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("tiny ") && l.contains(&format!(" {assertion}  ")))
            .unwrap_or_else(|| panic!("no row for {assertion}:\n{stdout}"))
            .to_string()
    };
    assert!(row("cost(tier on_demand)").ends_with(" pass"), "{stdout}");
    assert!(
        row("cost(tier on_demand) under tiered").ends_with(" FAIL"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("9 assertions in 1 scenario: 8 passed, 1 failed\n"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(root.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let failed: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.parent().and_then(|c| c.attribute("name")))
        .collect();
    assert_eq!(failed, ["cost(tier on_demand) under tiered"], "{xml}");
}

#[test]
fn an_invalid_scenario_is_reported_and_the_others_still_run() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "suite/a-good.ron", TINY);
    write(
        root.path(),
        "suite/b-bad.ron",
        &TINY.replacen(r#"(service: "chat""#, r#"(service: "chta""#, 1),
    );
    write(root.path(), "suite/c/plain.ron", &without_expect(TINY));
    write(root.path(), "suite/notes.txt", "not a scenario");
    let out = hybridsim(&["check", "suite"], root.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let order: Vec<&str> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(order.first(), Some(&"a-good"), "{stdout}");
    assert_eq!(order.iter().filter(|l| **l == "a-good").count(), 7, "{stdout}");
    assert!(stdout.contains("b-bad") && stdout.contains("INVALID"), "{stdout}");
    assert!(
        stdout.contains("c/plain") && stdout.contains("no assertions"),
        "{stdout}"
    );
    assert!(
        stderr.contains("b-bad.ron:23:26") && stderr.contains("unknown service"),
        "{stderr}"
    );
    assert!(
        stdout.contains(
            "7 assertions in 3 scenarios: 7 passed, 0 failed; 1 without assertions (not run); 1 invalid"
        ),
        "{stdout}"
    );
}

#[test]
fn exit_codes_for_paths_and_scenarios_without_assertions() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "plain.ron", &without_expect(TINY));
    let out = hybridsim(&["check", "plain.ron"], root.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no assertions"));
    std::fs::create_dir(root.path().join("empty")).unwrap();
    for args in [&["check", "empty"][..], &["check", "missing.ron"], &["check"]] {
        let out = hybridsim(args, root.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    let help = hybridsim(&["check", "--help"], root.path());
    let help = text(&help.stdout);
    assert!(
        help.contains("--junit") && help.contains("no assertions") && help.contains("Exit codes"),
        "{help}"
    );
}

#[test]
fn junit_xml_has_a_suite_per_scenario_a_case_per_assertion_and_the_failure_message() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "ci/pass.ron", TINY);
    write(
        root.path(),
        "ci/fail.ron",
        &TINY.replacen(r#"below: "500ms""#, r#"below: "100ms""#, 1),
    );
    write(
        root.path(),
        "ci/x&y.ron",
        &TINY.replacen(r#"(incident: "node dies""#, r#"(incident: "nod dies""#, 1),
    );
    let out = hybridsim(
        &["check", "ci", "--seed", "3", "--junit", "reports/junit.xml"],
        root.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an invalid scenario outranks a failure"
    );
    let xml = std::fs::read_to_string(root.path().join("reports/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root_element = doc.root_element();
    assert_eq!(root_element.tag_name().name(), "testsuites");
    assert_eq!(root_element.attribute("failures"), Some("1"));
    assert_eq!(root_element.attribute("errors"), Some("1"));
    let suites: Vec<_> = root_element
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<_> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    assert_eq!(names, ["fail", "pass", "x&y"]);
    for suite in &suites[..2] {
        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 7);
        assert_eq!(suite.attribute("tests"), Some("7"));
        assert_eq!(cases[0].attribute("name"), Some("latency(chat p99)"));
        let seed = suite
            .descendants()
            .find(|n| n.attribute("name") == Some("seed"))
            .and_then(|n| n.attribute("value"));
        assert_eq!(seed, Some("3"));
    }
    let failures: Vec<_> = suites[0]
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].attribute("message"),
        Some("fail: latency(chat p99) measured 120 ms, bound < 100 ms")
    );
    assert_eq!(
        failures[0].parent().and_then(|c| c.attribute("name")),
        Some("latency(chat p99)")
    );
    assert!(!suites[1].descendants().any(|n| n.has_tag_name("failure")));
    let error = suites[2]
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("the invalid scenario has an error");
    assert!(
        error
            .attribute("message")
            .is_some_and(|m| m.contains("unknown incident \"nod dies\"")),
        "{xml}"
    );
    assert!(error.text().is_some_and(|t| t.contains("x&y.ron:26:35")), "{xml}");
}

#[test]
fn the_bundled_scenarios_meet_their_expectations() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = hybridsim(&["check", "scenarios"], manifest);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for scenario in [
        "quickstart",
        "drills/eu-outage-dual",
        "drills/gpu-shortage",
        "drills/spot-price-spike",
        "drills/edge-backhaul-loss",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{scenario} ")) && l.ends_with(" pass")),
            "{scenario} makes assertions:\n{stdout}"
        );
    }
}
