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
fn requests_piling_up_past_the_in_flight_bound_stop_the_run_with_the_setting_to_raise() {
    let dir = tempfile::tempdir().unwrap();
    // Twice what ten slots serve: the queue grows by about 100 requests a second.
    let overloaded = |limit: &'static str| {
        move |t: String| {
            t.replace(r#"rate: "80/s""#, r#"rate: "200/s""#).replace(
                "    seed: 1,",
                &format!("    seed: 1,\n    limits: (in_flight: {limit}),"),
            )
        }
    };
    let out = dir.path().join("out");
    let path = mmc_with(dir.path(), overloaded("5000"));
    let output = hybridsim(&["run", &path, "--out", out.to_str().unwrap(), "--quiet"]);
    refused(&output, "`limits.in_flight`", &out);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("more than 5000 requests were alive at once"),
        "{stderr}"
    );
    // 5000 waiting after about 50 s of a 100/s surplus. The count's variance grows as
    // (200 + 100)/s × t, an sd of about 120 requests (1.2 s) at 50 s: ±10 s is over 8 sd.
    let at_s: f64 = stderr
        .split("in service) at ")
        .nth(1)
        .and_then(|rest| rest.split(" s:").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {stderr}"));
    assert!((40.0..60.0).contains(&at_s), "{stderr}");
    // The sound load stays well inside a bound of a hundred.
    let path = mmc_with(dir.path(), |t| {
        t.replace("    seed: 1,", "    seed: 1,\n    limits: (in_flight: 100),")
            .replace(r#"horizon: "2h""#, r#"horizon: "10m""#)
    });
    let output = hybridsim(&["run", &path, "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_memory_limit_below_what_any_horizon_holds_is_refused_at_the_window() {
    let dir = tempfile::tempdir().unwrap();
    // A year of minute windows: 525,600 windows, all on disk. Memory holds the open windows and
    // the spill files' buffers, about 0.7 MB whatever the horizon: more than 500 kB.
    let year = |t: String| {
        t.replace(r#"horizon: "2h""#, r#"horizon: "365d""#)
            .replace(r#"rate: "80/s""#, r#"rate: "8/s""#)
    };
    let limited = |t: String| t.replace("    seed: 1,", "    seed: 1,\n    limits: (memory: \"500kB\"),");
    let path = mmc_with(dir.path(), |t| limited(year(t)));
    let out = dir.path().join("out");
    for args in [
        vec!["validate", path.as_str()],
        vec!["run", path.as_str(), "--out", out.to_str().unwrap(), "--quiet"],
    ] {
        let output = hybridsim(&args);
        refused(&output, "`limits.memory` (500kB)", &out);
        let stderr = text(&output.stderr);
        assert!(stderr.contains("(at metrics.window)"), "{stderr}");
        assert!(stderr.contains("525600 windows of 1 service(s)"), "{stderr}");
        assert!(stderr.contains("widen `metrics.window`"), "{stderr}");
    }
    // The same limit refuses a month as it refuses the year: once the spill files' buffers
    // are full, memory does not grow with the horizon.
    let path = mmc_with(dir.path(), |t| {
        limited(
            t.replace(r#"horizon: "2h""#, r#"horizon: "30d""#)
                .replace(r#"rate: "80/s""#, r#"rate: "8/s""#),
        )
    });
    refused(&hybridsim(&["validate", &path]), "`limits.memory` (500kB)", &out);
    // Under the default limit the same year validates: its figures go to disk as it runs.
    let path = mmc_with(dir.path(), year);
    let output = hybridsim(&["validate", &path]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("held in memory") && stdout.contains("on disk"),
        "{stdout}"
    );
}

#[test]
fn a_run_that_outgrows_the_memory_limit_stops_with_the_setting_to_raise() {
    // Loading refuses a limit below the estimate; set after loading, the limit still stops the
    // run at the first window's end, where what the run holds is measured.
    let mut scenario =
        hybridsim::scenario::load("scenarios/quickstart.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    scenario.spec.limits.memory = "1kB".parse().unwrap();
    let error = hybridsim::world::simulate(&scenario.resolve().unwrap(), 1).unwrap_err();
    assert!(
        matches!(error, hybridsim::world::RunError::Memory { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("of open windows, unsettled window costs and spill buffers at 60 s"),
        "{message}"
    );
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
