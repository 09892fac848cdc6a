//! Tests of spot availability traces: loading, stepping, repeats, errors and the spec.

use super::*;
use std::io::Write;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cant_be_late_1k80_us-east-1c.json")
}

/// The fixture's step length and elements, parsed independently of the loader.
fn fixture_json() -> (u64, Vec<u64>) {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let gap = value["metadata"]["gap_seconds"].as_u64().unwrap();
    let data = value["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    (gap, data)
}

fn load(spec: &AvailabilityTraceSpec) -> AvailabilityTrace {
    AvailabilityTrace::load(&fixture(), spec).unwrap_or_else(|e| panic!("{e}"))
}

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

/// Every change of `gpus_at` at a step boundary over `steps` steps, by scanning.
fn scanned_changes(trace: &AvailabilityTrace, steps: u64) -> Vec<(SimDuration, u32)> {
    let gap = trace.gap().as_nanos();
    (1..steps)
        .map(|s| SimDuration::from_nanos(s * gap))
        .filter(|&t| trace.gpus_at(t) != trace.gpus_at(SimDuration::from_nanos(t.as_nanos() - 1)))
        .map(|t| (t, trace.gpus_at(t)))
        .collect()
}

/// The changes `next_change` visits from the start until `end`.
fn visited_changes(trace: &AvailabilityTrace, end: SimDuration) -> Vec<(SimDuration, u32)> {
    let mut visited = Vec::new();
    let mut at = SimDuration::ZERO;
    while let Some((t, gpus)) = trace.next_change(at) {
        assert!(t > at, "{t} after {at}");
        if t >= end {
            break;
        }
        visited.push((t, gpus));
        at = t;
    }
    visited
}

#[test]
fn the_real_trace_loads_with_the_files_values() {
    let (gap_s, data) = fixture_json();
    // Pinned facts of the file: 321 ten-minute steps, 58 of them preempted, the first at step 30.
    assert_eq!((gap_s, data.len()), (600, 321));
    assert_eq!(data.iter().filter(|&&d| d == 1).count(), 58);
    assert_eq!(data.iter().position(|&d| d == 1), Some(30));
    for gpus_per_instance in [1, 8] {
        let spec = AvailabilityTraceSpec {
            gpus_per_instance,
            ..AvailabilityTraceSpec::new("x")
        };
        let trace = load(&spec);
        assert_eq!((trace.gap(), trace.steps()), (secs(600), 321));
        assert_eq!(trace.duration(), secs(600 * 321));
        for (i, &preempted) in data.iter().enumerate() {
            // 1 marks a preempted step: no instance; 0 an available one.
            let want = (1 - preempted as u32) * gpus_per_instance;
            let start = secs(600 * i as u64);
            let end = SimDuration::from_nanos(secs(600 * (i as u64 + 1)).as_nanos() - 1);
            for t in [start, start.saturating_add(secs(300)), end] {
                assert_eq!(trace.gpus_at(t), want, "step {i} at {t}");
            }
        }
        // After the end: the last value (available).
        let last = (1 - *data.last().unwrap() as u32) * gpus_per_instance;
        assert_eq!(trace.gpus_at(secs(600 * 321)), last);
        assert_eq!(trace.gpus_at(secs(600 * 10_000)), last);
    }
}

#[test]
fn next_change_visits_exactly_the_change_points() {
    let trace = load(&AvailabilityTraceSpec::new("x"));
    let (_, data) = fixture_json();
    let scanned = scanned_changes(&trace, 321);
    let expected: Vec<(SimDuration, u32)> = (1..data.len())
        .filter(|&i| data[i] != data[i - 1])
        .map(|i| (secs(600 * i as u64), 1 - data[i] as u32))
        .collect();
    assert_eq!(scanned, expected);
    assert_eq!(expected.len(), 26);
    assert_eq!(visited_changes(&trace, SimDuration::MAX), expected);
    // From any point: the first change strictly after it.
    for probe in (0..330 * 600).step_by(150).map(secs) {
        let want = expected.iter().copied().find(|&(t, _)| t > probe);
        assert_eq!(trace.next_change(probe), want, "after {probe}");
        if let Some((t, _)) = want {
            let just_before = SimDuration::from_nanos(t.as_nanos() - 1);
            assert_eq!(trace.next_change(just_before).map(|c| c.0), Some(t));
        }
    }
    assert_eq!(trace.next_change(SimDuration::MAX), None);
}

#[test]
fn repeat_wraps_around() {
    let spec = AvailabilityTraceSpec {
        repeat: true,
        gpus_per_instance: 8,
        ..AvailabilityTraceSpec::new("x")
    };
    let trace = load(&spec);
    assert!(trace.repeats());
    let (_, data) = fixture_json();
    for (i, &d) in data.iter().enumerate() {
        for cycle in [1, 2, 7] {
            let t = secs(600 * (cycle * 321 + i as u64) + 1);
            assert_eq!(trace.gpus_at(t), (1 - d as u32) * 8);
        }
    }
    // The file starts and ends available: no change at the wrap itself.
    let three = secs(600 * 321 * 3);
    assert_eq!(visited_changes(&trace, three), scanned_changes(&trace, 3 * 321));
    // A trace whose last step differs from its first changes at the wrap.
    let flip = AvailabilityTrace::from_steps(secs(60), vec![4, 4, 0], true);
    assert_eq!(flip.next_change(secs(60)), Some((secs(120), 0)));
    assert_eq!(flip.next_change(secs(120)), Some((secs(180), 4)));
    assert_eq!(flip.next_change(secs(180)), Some((secs(300), 0)));
    assert_eq!(flip.gpus_at(secs(180)), 4);
    assert_eq!(visited_changes(&flip, secs(60 * 30)), scanned_changes(&flip, 30));
    let once = AvailabilityTrace::from_steps(secs(60), vec![4, 4, 0], false);
    assert_eq!(once.next_change(secs(120)), None);
    assert_eq!(once.gpus_at(secs(6000)), 0);
    let flat = AvailabilityTrace::from_steps(secs(60), vec![2, 2], true);
    assert_eq!(flat.next_change(SimDuration::ZERO), None);
}

/// Writes `text` to a temporary `.json` file.
fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load_text(text: &str, spec: &AvailabilityTraceSpec) -> Result<AvailabilityTrace, (String, String)> {
    let file = file(text);
    AvailabilityTrace::load(file.path(), spec).map_err(|e| (file.path().display().to_string(), e.to_string()))
}

/// The error for `text`, checked to start with `trace <path>`.
fn message(text: &str, spec: &AvailabilityTraceSpec) -> String {
    let (path, message) = load_text(text, spec).expect_err("the trace should be refused");
    assert!(message.starts_with(&format!("trace {path}")), "{message}");
    message
}

const FLAGS_FIX: &str =
    "write 0 for a step in which the spot instance is available and 1 for one in which it is preempted";

#[test]
fn bad_elements_name_their_index_and_the_fix() {
    let spec = AvailabilityTraceSpec::new("x");
    let got = message(
        r#"{"metadata": {"gap_seconds": 60}, "data": [0, 1, -1, 0]}"#,
        &spec,
    );
    assert!(
        got.ends_with(&format!(
            ".json: element 2 of the list (counting from 0) is -1, a negative number; {FLAGS_FIX}"
        )),
        "{got}"
    );
    let got = message(
        "{\"metadata\": {\"gap_seconds\": 60},\n\"data\": [0, 0.5]}",
        &spec,
    );
    assert!(
        got.contains(".json: element 1 of the list (counting from 0) is 0.5, not a whole number"),
        "{got}"
    );
    let got = message(r#"{"metadata": {"gap_seconds": 60}, "data": [0, 1, 2]}"#, &spec);
    assert!(
        got.contains(
            "element 2 of the list (counting from 0) is 2, but values: preemption_flags reads 0 \
             (available) or 1 (preempted); if the file counts the available instances, set values: \
             available_instances"
        ),
        "{got}"
    );
    let got = message(
        r#"[0, "1"]"#,
        &AvailabilityTraceSpec {
            gap: Some(secs(60)),
            ..spec.clone()
        },
    );
    assert!(
        got.contains("element 1 of the list (counting from 0) is \"1\", not a number"),
        "{got}"
    );
    let counts = AvailabilityTraceSpec {
        values: AvailabilityValues::AvailableInstances,
        gpus_per_instance: 4,
        ..spec
    };
    let got = message(
        r#"{"metadata": {"gap_seconds": 60}, "data": [3, 1073741824]}"#,
        &counts,
    );
    assert!(
        got.contains("element 1 of the list (counting from 0) is 1073741824 instances"),
        "{got}"
    );
}

#[test]
fn document_errors_name_the_file_and_the_fix() {
    let spec = AvailabilityTraceSpec::new("x");
    let got = message("time,available\n0,1\n", &spec);
    assert!(
        got.contains(", line 1: column 2: not the expected JSON: "),
        "{got}"
    );
    assert!(got.ends_with(LAYOUT_FIX), "{got}");
    assert!(message("", &spec).contains(", line 1: the file is empty;"));
    let got = message(r#"{"metadata": {"gap_seconds": 60}, "data": [0, 1"#, &spec);
    assert!(
        got.contains("the file ends inside the JSON value; check that the file was copied whole"),
        "{got}"
    );
    let got = message(r#"{"data": [0, 1]}"#, &spec);
    assert!(
        got.ends_with(
            ": the file gives no metadata.gap_seconds; add \"metadata\": {\"gap_seconds\": 600} to the \
             file, or give the step length in the spec, e.g. gap: \"10m\""
        ),
        "{got}"
    );
    assert!(message("[0, 1]", &spec).contains(": a bare list gives no step length; add \"metadata\""));
    let got = message(r#"{"metadata": {"gap_seconds": 60}, "data": []}"#, &spec);
    assert!(
        got.ends_with(": the data list is empty; give one element per step of the trace"),
        "{got}"
    );
    let got = message(r#"{"metadata": {"gap_seconds": 60}, "values": [0]}"#, &spec);
    assert!(
        got.contains("the file has no \"data\" list; write the file as"),
        "{got}"
    );
    for (gap, why) in [
        ("\"600\"", "not a number of seconds"),
        ("0", "not a positive"),
        ("-5", "not a positive"),
    ] {
        let got = message(
            &format!(r#"{{"metadata": {{"gap_seconds": {gap}}}, "data": [0]}}"#),
            &spec,
        );
        assert!(
            got.contains(&format!("metadata.gap_seconds is {gap}, {why}")),
            "{got}"
        );
    }
    let got = message(r#"{"metadata": 600, "data": [0]}"#, &spec);
    assert!(
        got.contains("not the expected JSON: invalid type: integer `600`, expected a map"),
        "{got}"
    );
    let got = message(r#"{"metadata": {"gap_seconds": 60}, "data": [0]} [1]"#, &spec);
    assert!(got.contains("trailing characters"), "{got}");
    let missing = AvailabilityTrace::load(Path::new("no/such/trace.json"), &spec).unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("trace no/such/trace.json: cannot read the file")
    );
    let zero = AvailabilityTraceSpec {
        gpus_per_instance: 0,
        ..spec
    };
    let got = AvailabilityTrace::load(&fixture(), &zero)
        .unwrap_err()
        .to_string();
    assert!(
        got.contains(": gpus_per_instance is 0; give the GPUs of one traced instance"),
        "{got}"
    );
    assert_eq!(
        SpotPreemptionSpec::Availability(zero).problem().as_deref(),
        Some(
            "gpus_per_instance is 0; give the GPUs of one traced instance, e.g. gpus_per_instance: 8 for an 8-GPU instance"
        )
    );
}

#[test]
fn other_layouts_and_limits() {
    // The synthetic traces' layout: extra keys and metadata fields are ignored.
    let text = r#"{"generator": "poisson", "metadata": {"gap_seconds": 1200, "hourly_rate": 0.1}, "data": [0, 1, 1], "prices": [1.0]}"#;
    let trace = load_text(text, &AvailabilityTraceSpec::new("x")).unwrap();
    assert_eq!(trace.gap(), secs(1200));
    assert_eq!(trace.next_change(SimDuration::ZERO), Some((secs(1200), 0)));
    // A bare list with the gap in the spec; counts of instances.
    let spec = AvailabilityTraceSpec {
        gap: Some(secs(90)),
        values: AvailabilityValues::AvailableInstances,
        gpus_per_instance: 8,
        ..AvailabilityTraceSpec::new("x")
    };
    let trace = load_text("[3, 3, 0, 16]", &spec).unwrap();
    assert_eq!(
        (0..4).map(|s| trace.gpus_at(secs(90 * s))).collect::<Vec<_>>(),
        [24, 24, 0, 128]
    );
    // A fractional gap is rounded to the nanosecond; a spec gap must agree with the file's.
    let trace = load_text(
        r#"{"metadata": {"gap_seconds": 0.25}, "data": [0]}"#,
        &AvailabilityTraceSpec::new("x"),
    );
    assert_eq!(trace.unwrap().gap(), SimDuration::from_millis(250));
    let got = message(r#"{"metadata": {"gap_seconds": 60}, "data": [0]}"#, &spec);
    assert!(
        got.contains("the spec's gap 1m 30s differs from the file's metadata.gap_seconds 60 (1m)"),
        "{got}"
    );
    let agreeing = AvailabilityTraceSpec {
        gap: Some(secs(60)),
        ..spec
    };
    assert!(load_text(r#"{"metadata": {"gap_seconds": 60}, "data": [0]}"#, &agreeing).is_ok());
    // The step limit.
    let file = file(r#"{"metadata": {"gap_seconds": 60}, "data": [0, 1, 0]}"#);
    let spec = AvailabilityTraceSpec::new("x");
    assert!(AvailabilityTrace::load_at_most(file.path(), &spec, 3).is_ok());
    let got = AvailabilityTrace::load_at_most(file.path(), &spec, 2)
        .unwrap_err()
        .to_string();
    assert!(
        got.contains(
            "element 2 of the list (counting from 0) is one more than the most steps a trace may hold, \
             2; cut the file"
        ),
        "{got}"
    );
}

#[test]
fn specs_read_from_ron() {
    let options = crate::vocab::ron_options();
    let rate: SpotPreemptionSpec = options.from_str("rate(\"0.5/day\")").unwrap();
    assert_eq!(rate, SpotPreemptionSpec::Rate("0.5/d".parse().unwrap()));
    let SpotPreemptionSpec::Rate(per) = rate else {
        unreachable!()
    };
    assert_eq!(per.per_sec(), 0.5 / 86_400.0);
    let text = "availability(path: \"traces/us-east-1a.json\", gpus_per_instance: 8)";
    let spec: SpotPreemptionSpec = options.from_str(text).unwrap();
    assert_eq!(
        spec,
        SpotPreemptionSpec::Availability(AvailabilityTraceSpec {
            gpus_per_instance: 8,
            ..AvailabilityTraceSpec::new("traces/us-east-1a.json")
        })
    );
    let text = "availability(path: \"a.json\", repeat: true, values: available_instances, gap: \"10m\")";
    let SpotPreemptionSpec::Availability(spec) = options.from_str(text).unwrap() else {
        panic!("not an availability spec")
    };
    assert_eq!(
        (spec.repeat, spec.values, spec.gap),
        (true, AvailabilityValues::AvailableInstances, Some(secs(600)))
    );
    assert_eq!(spec.gpus_per_instance, 1);
    assert!(
        options
            .from_str::<SpotPreemptionSpec>("availability(path: \"a.json\", gpus: 8)")
            .is_err()
    );
    assert!(
        options
            .from_str::<SpotPreemptionSpec>("poisson(\"1/h\")")
            .is_err()
    );
}
