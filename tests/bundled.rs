//! Every bundled scenario (the `init` template in `scenarios/templates/` among them) validates,
//! with no warning, and runs; in every one, every service conserves its requests (arrived =
//! served + degraded + failed + in flight). The Azure replay reproduces the trace's own counts
//! and arrival times, and its token counts reach the service-time model.

use std::path::{Path, PathBuf};

use hybridsim::scenario::load;
use hybridsim::world::simulate;

fn bundled_scenarios() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "ron")
                && !path.to_string_lossy().ends_with(".study.ron")
            {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &mut found,
    );
    found
}

#[test]
fn every_bundled_scenario_validates() {
    let scenarios = bundled_scenarios();
    assert!(scenarios.len() >= 5, "found {scenarios:?}");
    for path in scenarios {
        if let Err(error) = load(&path) {
            panic!("{} does not validate:\n{error}", path.display());
        }
    }
}

#[test]
fn no_bundled_scenario_or_study_is_warned_about() {
    for path in bundled_scenarios() {
        let scenario = load(&path).unwrap();
        assert!(
            scenario.warnings.is_empty(),
            "{} is warned about:\n{}",
            path.display(),
            scenario.warnings
        );
    }
    let studies = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/studies");
    let mut found = 0;
    for entry in std::fs::read_dir(studies).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".study.ron") {
            let study = hybridsim::experiment::study::load(&path).unwrap();
            let warnings = study.base.warnings_under(&study.spec.policies);
            assert!(
                warnings.is_empty(),
                "{} is warned about:\n{warnings}",
                path.display()
            );
            found += 1;
        }
    }
    assert!(found >= 4, "found {found} studies");
}

#[test]
fn every_service_in_every_bundled_scenario_conserves_requests() {
    for path in bundled_scenarios() {
        if path.components().any(|c| c.as_os_str() == "bench") {
            continue; // ten million requests: run by the benchmark, not the test suite
        }
        let scenario = load(&path).unwrap();
        let outcome = simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
        for (name, service) in &outcome.summary.services {
            let r = &service.requests;
            assert_eq!(
                r.arrived,
                r.served + r.degraded + r.failed + r.in_flight,
                "{}: service {name}: {r:?}",
                path.display()
            );
            let by_reason: u64 = service.failed_by_reason.values().sum();
            assert_eq!(by_reason, r.failed, "{}: {name}", path.display());
        }
    }
}

#[test]
fn the_azure_replay_reproduces_the_trace() {
    use hybridsim::workload::trace::{Trace, TraceSpec};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/azure-conv.ron");
    let scenario = load(&path).unwrap();
    let trace_path = scenario.resolve_path("traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
    let trace = Trace::load(&trace_path, &TraceSpec::azure(trace_path.display().to_string())).unwrap();
    assert_eq!(trace.len(), 19_366);

    let outcome = simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    let chat = &outcome.record.services[0];
    let chat_windows = outcome.record.windows.service_windows(0).unwrap();
    assert_eq!(
        outcome.summary.services[&chat.name].requests.arrived, 19_366,
        "every trace row arrives once within the hour"
    );

    // Arrival times: the per-minute arrival counts equal the trace's own per-minute counts.
    let window_ns = scenario.spec.metrics.window.as_nanos();
    let mut expected = vec![0u64; chat_windows.len()];
    for offset in trace.offsets() {
        expected[(offset / window_ns) as usize] += 1;
    }
    let simulated: Vec<u64> = chat_windows.iter().map(|w| w.arrived).collect();
    assert_eq!(simulated, expected);

    // Tokens reach the service-time model: with deterministic per-token costs the mean service
    // time is overhead + 0.15 ms × mean context + 20 ms × mean generated (speed 1.0).
    let summary = &outcome.summary.services["chat"];
    assert_eq!(summary.requests.served, 19_366, "{:?}", summary.requests);
    let n = trace.len() as f64;
    let (context, generated) = (0..trace.len()).fold((0.0, 0.0), |(c, g), i| {
        let (tc, tg) = trace.tokens(i);
        (c + f64::from(tc), g + f64::from(tg))
    });
    let expected_ms = 30.0 + 0.15 * context / n + 20.0 * generated / n;
    let measured_ms = summary.latency_ms["service"].mean.unwrap();
    approx::assert_relative_eq!(measured_ms, expected_ms, max_relative = 1e-6);
}

/// The quoted strings that follow `key: "` in `text`.
fn quoted_values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let opening = format!("{key}: \"");
    text.match_indices(&opening)
        .filter_map(|(at, _)| {
            let rest = &text[at + opening.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_file_a_bundled_scenario_reads_is_inside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().unwrap();
    let mut checked = 0;
    for scenario in bundled_scenarios() {
        let text = std::fs::read_to_string(&scenario).unwrap();
        for written in quoted_values(&text, "path") {
            let resolved = scenario.parent().unwrap().join(written);
            let resolved = resolved
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {written}: {e}", scenario.display()));
            assert!(
                resolved.starts_with(&root),
                "{} reads {written}, outside the repository ({})",
                scenario.display(),
                resolved.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "no scenario names a file: the scan is broken");
}

#[test]
fn every_section_of_reference_md_that_a_bundled_scenario_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("REFERENCE.md")).unwrap();
    let headings: Vec<&str> = reference.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    let mut cited = 0;
    for scenario in bundled_scenarios() {
        let text = std::fs::read_to_string(&scenario).unwrap();
        // Citations read `REFERENCE.md ("Prices")` or `(REFERENCE.md,\n// "Prices")`.
        for (at, _) in text.match_indices("REFERENCE.md") {
            let after: String = text[at..].chars().take(40).collect();
            let Some(open) = after.find('"') else {
                continue;
            };
            let section = after[open + 1..].split('"').next().unwrap();
            assert!(
                headings.contains(&section),
                "{} cites REFERENCE.md section \"{section}\", which is not one of {headings:?}",
                scenario.display()
            );
            cited += 1;
        }
    }
    assert!(
        cited >= 9,
        "the drills and the quickstart cite \"Prices\": found {cited}"
    );
}
