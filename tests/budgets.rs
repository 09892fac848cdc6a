//! Runs that would run away are refused or stopped with a message naming the setting to change:
//! the demand's expected requests against `limits.requests` before the run, the events against
//! `limits.events` during it; an incident after the horizon and a device given as a scenario or
//! trace are refused at load. Each exits with code 2, says `error:` first, and leaves no output
//! folder.

use std::path::Path;
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

/// The M/M/10 validation scenario with its text changed by `edit`, written into `dir`.
fn mmc_with(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let base = std::fs::read_to_string("scenarios/validation/mmc.ron").expect("bundled");
    let path = dir.join("mmc.ron");
    std::fs::write(&path, edit(base)).unwrap();
    path.to_string_lossy().into_owned()
}

fn refused(output: &Output, naming: &str, out: &Path) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(stderr.contains(naming), "{stderr}");
    assert!(!out.exists(), "no output folder after a refusal");
}

#[test]
fn a_demand_beyond_the_request_budget_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // 10^7 requests/s for two hours: 7.2 × 10^10 requests.
    let path = mmc_with(dir.path(), |t| {
        t.replace(r#"rate: "80/s""#, r#"rate: "10000000/s""#)
    });
    let out = dir.path().join("out");
    for args in [
        vec!["validate", path.as_str()],
        vec!["run", path.as_str(), "--out", out.to_str().unwrap(), "--quiet"],
    ] {
        let output = hybridsim(&args);
        refused(&output, "`limits.requests`", &out);
        assert!(
            text(&output.stderr).contains("7.200e10 requests"),
            "{}",
            text(&output.stderr)
        );
    }
}

#[test]
fn a_raised_request_budget_lets_the_same_demand_validate_and_shows_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let path = mmc_with(dir.path(), |t| {
        t.replace(r#"rate: "80/s""#, r#"rate: "10000000/s""#).replace(
            "    seed: 1,",
            "    seed: 1,\n    limits: (requests: 100000000000),",
        )
    });
    let output = hybridsim(&["validate", &path]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("about 7.200e10 requests expected (limit 100000000000"));
}

#[test]
fn a_run_that_spends_its_event_budget_stops_with_the_setting_to_raise() {
    let dir = tempfile::tempdir().unwrap();
    let path = mmc_with(dir.path(), |t| {
        t.replace("    seed: 1,", "    seed: 1,\n    limits: (events: 10000),")
    });
    let out = dir.path().join("out");
    let output = hybridsim(&["run", &path, "--out", out.to_str().unwrap(), "--quiet"]);
    refused(&output, "`limits.events`", &out);
    assert!(text(&output.stderr).contains("stopped after 10000 events"));
}

#[test]
fn an_incident_after_the_horizon_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = mmc_with(dir.path(), |t| {
        t.replace(
            "    services: [(",
            "    incidents: [(name: \"late\", start: \"3h\", kind: site_outage(site: \"dc\"))],\n    services: [(",
        )
    });
    let output = hybridsim(&["validate", &path]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("starts at 3h, at or after the end of the run (2h)"),
        "{stderr}"
    );
    assert!(stderr.contains("mmc.ron:1"), "located: {stderr}");
}

#[test]
fn a_device_is_refused_as_a_scenario_and_as_a_trace() {
    let output = hybridsim(&["validate", "/dev/zero"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("not a regular file"));
    let dir = tempfile::tempdir().unwrap();
    let path = mmc_with(dir.path(), |t| {
        t.replace(
            r#"arrivals: poisson(rate: "80/s")"#,
            r#"arrivals: trace(path: "/dev/zero")"#,
        )
    });
    let out = dir.path().join("out");
    for args in [
        vec!["validate", path.as_str()],
        vec!["run", path.as_str(), "--out", out.to_str().unwrap(), "--quiet"],
    ] {
        let output = hybridsim(&args);
        refused(&output, "not a regular file", &out);
    }
}

#[test]
fn arrival_figures_are_refused_at_their_line_and_a_missing_file_says_its_reason_once() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"arrivals: diurnal(peak: "10/s", trough: "20/s")"#,
            "the peak rate 10/s is below the trough 20/s",
        ),
        (
            r#"arrivals: trace(path: "trace.csv", time_scale: 0.0)"#,
            "time_scale 0 is not a positive number",
        ),
    ];
    for (arrivals, says) in cases {
        let path = mmc_with(dir.path(), |t| {
            t.replace(r#"arrivals: poisson(rate: "80/s")"#, arrivals)
        });
        let output = hybridsim(&["validate", &path]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with("error:") && stderr.contains(says), "{stderr}");
        assert!(
            stderr.contains("mmc.ron:19:"),
            "located at the demand's line: {stderr}"
        );
    }
    let output = hybridsim(&["validate", "no/such/scenario.ron"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}
