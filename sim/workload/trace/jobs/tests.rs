//! Reading job traces: the Alibaba sample against an independent reading, each format's
//! columns, selection by offset and limit, and the messages for bad input.

use super::*;
use crate::workload::trace::reader;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alibaba_pods_sample.csv")
}

fn load_text(text: &str, spec: &JobTraceSpec) -> Result<JobTrace, (String, String)> {
    reader::tests::load_text(text, |path| JobTrace::load(path, spec))
}

fn load_ok(text: &str, spec: &JobTraceSpec) -> JobTrace {
    load_text(text, spec).unwrap_or_else(|(_, e)| panic!("{e}"))
}

/// The error message for `text` read as `spec`, checked to start with the file and line.
fn message(text: &str, spec: &JobTraceSpec, line: u64) -> String {
    reader::tests::refusal(text, |path| JobTrace::load(path, spec), line)
}

fn alibaba() -> JobTraceSpec {
    JobTraceSpec::alibaba("x.csv")
}

const HEADER: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";

/// A pod row with the given GPUs, QoS, phase and times (creation, deletion, scheduled).
fn pod(name: &str, gpus: u32, qos: &str, phase: &str, times: (&str, &str, &str)) -> String {
    let (created, deleted, scheduled) = times;
    format!("{name},4000,8192,{gpus},1000,,{qos},{phase},{created},{deleted},{scheduled}\n")
}

fn csv_spec(time_unit: TimeUnit) -> JobTraceSpec {
    JobTraceSpec {
        format: JobTraceFormat::Csv {
            submit_column: "t".into(),
            gpus_column: "g".into(),
            duration_column: "d".into(),
            time_unit,
            name_column: None,
            priority_column: None,
            preemptible_column: None,
            accelerator_column: None,
        },
        ..JobTraceSpec::alibaba("x.csv")
    }
}

#[test]
fn fixture_matches_an_independent_reading() {
    // Count straight from the file with the csv crate, by the documented rules.
    let mut reader = csv::Reader::from_path(fixture()).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (mut no_gpu, mut never, mut unfinished, mut kept, mut shares) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut gpu_ns: u128 = 0;
    let mut rows = 0;
    for record in reader.records() {
        let r = record.unwrap();
        rows += 1;
        let gpus: u128 = r[at("num_gpu")].parse().unwrap();
        if gpus == 0 {
            no_gpu += 1;
        } else if &r[at("pod_phase")] == "Pending" || r[at("scheduled_time")].is_empty() {
            never += 1;
        } else if r[at("deletion_time")].is_empty() {
            unfinished += 1;
        } else {
            kept += 1;
            let secs = |c: &str| r[at(c)].parse::<u128>().unwrap();
            gpu_ns += gpus * (secs("deletion_time") - secs("scheduled_time")) * 1_000_000_000;
            shares += u64::from(gpus == 1 && r[at("gpu_milli")].parse::<u32>().unwrap() < 1000);
        }
    }
    assert_eq!(
        (rows, no_gpu, never, unfinished, kept, shares),
        (28, 5, 4, 0, 19, 6)
    );

    let trace =
        JobTrace::load(&fixture(), &JobTraceSpec::alibaba("sample")).unwrap_or_else(|e| panic!("{e}"));
    let skipped = *trace.skipped();
    assert_eq!(
        (
            skipped.no_gpu,
            skipped.never_scheduled,
            skipped.unfinished,
            skipped.total()
        ),
        (no_gpu, never, unfinished, rows - kept)
    );
    assert_eq!(trace.jobs().len() as u64, kept);
    assert_eq!(trace.fractional_shares(), shares);
    let total: u128 = trace
        .jobs()
        .iter()
        .map(|j| u128::from(j.gpus) * u128::from(j.duration_ns))
        .sum();
    assert_eq!(total, gpu_ns);

    // openb-pod-0000 is created and scheduled at 0 s: a real time, not "never scheduled".
    let jobs = trace.jobs();
    assert_eq!((jobs[0].name.as_str(), jobs[0].submit_ns), ("openb-pod-0000", 0));
    assert!(jobs.windows(2).all(|w| w[0].submit_ns <= w[1].submit_ns));
    let job = |name: &str| jobs.iter().find(|j| j.name == name).unwrap();
    // Submitted at creation, running from scheduling to deletion.
    let p12 = job("openb-pod-0012");
    assert_eq!(p12.submit_ns, 6_588_193_000_000_000);
    assert_eq!(p12.duration_ns, (10_959_245 - 6_595_531) * 1_000_000_000);
    let p17 = job("openb-pod-0017");
    assert_eq!((p17.gpus, p17.priority, p17.preemptible), (8, 1, true));
    assert_eq!(p17.accelerators, ["G2"]);
    let p129 = job("openb-pod-0129");
    assert_eq!((p129.priority, p129.preemptible), (1, false));
    assert_eq!(p129.accelerators, ["V100M16", "V100M32"]);
    let p22 = job("openb-pod-0022");
    assert_eq!((p22.gpus, p22.priority, p22.preemptible), (1, 0, true));
    assert_eq!(
        (job("openb-pod-0000").priority, job("openb-pod-0000").preemptible),
        (2, false)
    );
    // A repeated alternative in the published file is kept once.
    assert_eq!(job("openb-pod-2308").accelerators, ["V100M16", "V100M32"]);
    assert!(job("openb-pod-0001").accelerators.is_empty());
}

#[test]
fn unfinished_and_never_scheduled_pods_are_counted() {
    let text = format!(
        "{HEADER}{}{}{}{}",
        pod("a", 2, "LS", "Running", ("10", "", "12")),
        pod("b", 1, "BE", "Pending", ("11", "15", "")),
        pod("c", 1, "BE", "Failed", ("13", "20", "")),
        pod("d", 4, "Guaranteed", "Failed", ("14", "18.5", "14")),
    );
    let trace = load_ok(&text, &alibaba());
    let skipped = trace.skipped();
    assert_eq!(
        (skipped.unfinished, skipped.never_scheduled, skipped.no_gpu),
        (1, 2, 0)
    );
    assert_eq!(trace.jobs().len(), 1);
    let d = &trace.jobs()[0];
    assert_eq!(
        (d.name.as_str(), d.submit_ns, d.duration_ns),
        ("d", 0, 4_500_000_000)
    );
    // "nan" (how pandas shows an empty gpu_spec) also means any model.
    let text = format!("{HEADER}p,1,1,1,1000,nan,LS,Running,0,1,0\n");
    assert!(load_ok(&text, &alibaba()).jobs()[0].accelerators.is_empty());
}

#[test]
fn generic_csv_maps_columns_offset_and_scale_exactly() {
    let mut spec = csv_spec(TimeUnit::Ms);
    if let JobTraceFormat::Csv {
        name_column,
        priority_column,
        preemptible_column,
        accelerator_column,
        ..
    } = &mut spec.format
    {
        *name_column = Some("id".into());
        *priority_column = Some("prio".into());
        *preemptible_column = Some("pre".into());
        *accelerator_column = Some("acc".into());
    }
    spec.start_offset = SimDuration::from_millis(280);
    spec.time_scale = 0.5;
    let text = "id,t,g,d,prio,pre,acc\n\
                a,1000.5,2,1500,3,yes,H100|A100\n\
                b,250,1,10.25,0,no,\n\
                c,0,0,5,0,0,\n\
                d,4000.25,4,0.001,-1,TRUE,H100\n\
                e,1000.5,1,2,7,False, | A100 |\n\
                f,300,1,1,0,no,\n";
    let trace = load_ok(text, &spec);
    let names: Vec<&str> = trace.jobs().iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["f", "a", "e", "d"]);
    // The clock starts at the earliest row (c, CPU-only, at 0): b at 250 ms is before 280 ms,
    // f at 300 ms is not.
    assert_eq!(
        *trace.skipped(),
        SkippedRows {
            no_gpu: 1,
            before_offset: 1,
            ..SkippedRows::default()
        }
    );
    // (1000.5 − 300) ms × 0.5 = 350.25 ms and (4000.25 − 300) ms × 0.5 = 1850.125 ms, exactly.
    let submits: Vec<u64> = trace.jobs().iter().map(|j| j.submit_ns).collect();
    assert_eq!(submits, [0, 350_250_000, 350_250_000, 1_850_125_000]);
    let a = &trace.jobs()[1];
    assert_eq!(
        (a.gpus, a.duration_ns, a.priority, a.preemptible),
        (2, 1_500_000_000, 3, true)
    );
    assert_eq!(a.accelerators, ["H100", "A100"]);
    let d = &trace.jobs()[3];
    assert_eq!((d.duration_ns, d.priority, d.preemptible), (1_000, -1, true));
    assert_eq!(trace.jobs()[2].accelerators, ["A100"]);
    assert!(!trace.jobs()[2].preemptible);
    assert_eq!(trace.fractional_shares(), 0);

    spec.limit = Some(2);
    let trace = load_ok(text, &spec);
    assert_eq!(trace.jobs().len(), 2);
    assert_eq!((trace.skipped().over_limit, trace.skipped().total()), (2, 4));
}

#[test]
fn unsorted_rows_are_sorted_stably() {
    let text = "t,g,d\n5,1,1\n1,2,1\n5,3,1\n1,4,1\n3,5,1\n";
    let trace = load_ok(text, &csv_spec(TimeUnit::S));
    let got: Vec<(&str, u64, u32)> = trace
        .jobs()
        .iter()
        .map(|j| (j.name.as_str(), j.submit_ns, j.gpus))
        .collect();
    let s = 1_000_000_000;
    assert_eq!(
        got,
        [
            ("job-2", 0, 2),
            ("job-4", 0, 4),
            ("job-5", 2 * s, 5),
            ("job-1", 4 * s, 1),
            ("job-3", 4 * s, 3)
        ]
    );
    // Enough ties that an unstable sort would reorder some.
    let text = (0..300).fold("t,g,d\n".to_string(), |text, i| {
        text + &format!("{},1,1\n", (300 - i) % 4)
    });
    let trace = load_ok(&text, &csv_spec(TimeUnit::S));
    let order: Vec<(u64, usize)> = trace
        .jobs()
        .iter()
        .map(|j| (j.submit_ns, j.name["job-".len()..].parse().unwrap()))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn bad_values_name_file_line_and_column() {
    let ok = pod("a", 1, "LS", "Running", ("1", "5", "2"));
    let text = format!("{HEADER}{ok}p,1,1,two,1000,,LS,Running,1,5,2\n");
    let got = message(&text, &alibaba(), 3);
    assert!(
        got.ends_with(
            ", line 3, column num_gpu: \"two\" is not a whole number of GPUs; fix or remove the row"
        ),
        "{got}"
    );
    let text = format!(
        "{HEADER}{ok}{ok}{}",
        pod("b", 1, "Gold", "Running", ("1", "5", "2"))
    );
    let got = message(&text, &alibaba(), 4);
    assert!(
        got.ends_with(
            ", line 4, column qos: \"Gold\" is not a QoS class of the Alibaba trace; \
             write LS (latency-sensitive), Guaranteed, Burstable or BE (best effort)"
        ),
        "{got}"
    );
    let text = format!("{HEADER}{}", pod("b", 1, "LS", "Done", ("1", "5", "2")));
    assert!(message(&text, &alibaba(), 2).contains("column pod_phase: \"Done\" is not a pod phase"));
    let text = format!("{HEADER}{ok}{}", pod("b", 1, "LS", "Running", ("8", "5", "9")));
    let got = message(&text, &alibaba(), 3);
    assert!(
        got.ends_with(
            ", line 3, column deletion_time: deletion_time 5 is before scheduled_time 9: \
             a pod cannot end before it starts; correct the times or remove the row"
        ),
        "{got}"
    );
    // Checked on rows that are left out too.
    let text = format!("{HEADER}{}", pod("b", 0, "LS", "Running", ("10", "12", "9")));
    assert!(
        message(&text, &alibaba(), 2)
            .contains("column scheduled_time: scheduled_time 9 is before creation_time 10")
    );
    let text = format!("{HEADER}{}", pod("b", 1, "LS", "Running", ("12:00", "12", "9")));
    let got = message(&text, &alibaba(), 2);
    assert!(
        got.contains("column creation_time: \"12:00\" is not a non-negative decimal number; write a"),
        "{got}"
    );
    let text = format!("{HEADER}{}", pod("b", 1, "LS", "Running", ("", "12", "9")));
    assert!(message(&text, &alibaba(), 2).contains("column creation_time: the time is missing"));

    let mut spec = csv_spec(TimeUnit::Ms);
    if let JobTraceFormat::Csv {
        priority_column,
        preemptible_column,
        ..
    } = &mut spec.format
    {
        *priority_column = Some("p".into());
        *preemptible_column = Some("x".into());
    }
    let got = message("t,g,d,p,x\n1,1,1,high,no\n", &spec, 2);
    assert!(
        got.contains(", line 2, column p: \"high\" is not a whole-number priority"),
        "{got}"
    );
    let got = message("t,g,d,p,x\n1,1,1,0,no\n1,1,1,0,maybe\n", &spec, 3);
    assert!(
        got.contains(", line 3, column x: \"maybe\" is not true or false"),
        "{got}"
    );
    let got = message("t,g,d,p,x\n1,1,,0,no\n", &spec, 2);
    assert!(
        got.contains(", line 2, column d: the time is missing; write a non-negative decimal number of ms")
    );
}

#[test]
fn header_and_shape_errors() {
    let header = HEADER.replace(",qos,", ",class,");
    let got = message(
        &format!("{header}{}", pod("a", 1, "LS", "Running", ("1", "5", "2"))),
        &alibaba(),
        1,
    );
    assert!(
        got.contains("there is no column qos in the header \"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,class,"),
        "{got}"
    );
    assert!(
        got.contains("the Alibaba pod-list format needs the columns name, num_gpu"),
        "{got}"
    );
    let got = message("t,gpus,d\n", &csv_spec(TimeUnit::S), 1);
    assert!(got.contains("there is no column g in the header \"t,gpus,d\"; set the format's column names"));
    assert!(message("", &alibaba(), 1).contains("the file is empty; write a header line (name,num_gpu,"));
    let got = message(&format!("{HEADER}a,1,1,1,1000,,LS,Running,0,5\n"), &alibaba(), 2);
    assert!(
        got.contains("the row has 10 fields but the header has 11"),
        "{got}"
    );
}

#[test]
fn empty_results_say_why() {
    let spec = csv_spec(TimeUnit::S);
    assert!(message("t,g,d\n", &spec, 1).ends_with(
        "there are no jobs after the header; use a trace with GPU jobs that ran, or check the format"
    ));
    let twelve = "t,g,d\n".to_string() + &"1,0,5\n".repeat(12);
    let got = message(&twelve, &spec, 13);
    assert!(got.contains(", line 13: all 12 rows request no GPU; "), "{got}");
    assert!(message("t,g,d\n1,0,5\n", &spec, 2).contains("the only row requests no GPU"));
    let text = format!(
        "{HEADER}{}{}{}{}",
        pod("a", 0, "LS", "Running", ("1", "5", "2")),
        pod("b", 1, "LS", "Pending", ("1", "5", "")),
        pod("c", 1, "LS", "Pending", ("1", "5", "")),
        pod("d", 1, "LS", "Running", ("1", "", "2")),
    );
    let got = message(&text, &alibaba(), 5);
    assert!(
        got.contains(
            "none of the 4 rows is a usable job: 1 requests no GPU, 2 were never scheduled and \
             1 has no deletion_time"
        ),
        "{got}"
    );
    let spec = JobTraceSpec {
        start_offset: SimDuration::from_secs(5),
        ..csv_spec(TimeUnit::S)
    };
    let got = message("t,g,d\n0,0,1\n4,1,1\n", &spec, 3);
    assert!(
        got.ends_with("no job is submitted at or after start_offset 5s (rows read: 2, usable jobs: 1); lower start_offset below the trace's span"),
        "{got}"
    );
}

#[test]
fn spec_and_bound_errors() {
    let missing = Path::new("no/such/pods.csv");
    let got = JobTrace::load(missing, &alibaba()).unwrap_err().to_string();
    assert!(
        got.starts_with("trace no/such/pods.csv: cannot read the file"),
        "{got}"
    );
    let spec = JobTraceSpec {
        time_scale: -1.0,
        ..alibaba()
    };
    let got = JobTrace::load(missing, &spec).unwrap_err().to_string();
    assert!(got.contains("time_scale -1 is not a positive number"), "{got}");
    let spec = JobTraceSpec {
        limit: Some(0),
        ..alibaba()
    };
    let got = JobTrace::load(missing, &spec).unwrap_err().to_string();
    assert_eq!(
        got,
        "trace no/such/pods.csv: limit 0 keeps no job; remove limit to keep every job, or set it to at least 1"
    );

    assert_eq!(MAX_JOB_TRACE_ROWS, 5_000_000);
}

#[test]
fn specs_read_from_ron() {
    let ron = crate::vocab::ron_options();
    let spec: JobTraceSpec = ron
        .from_str("(path: \"p.csv\", format: csv(submit_column: \"t\", gpus_column: \"g\", duration_column: \"d\", time_unit: ms))")
        .unwrap();
    assert_eq!(spec.path, "p.csv");
    assert_eq!(spec.format, csv_spec(TimeUnit::Ms).format);
    assert_eq!(
        (spec.time_scale, spec.start_offset, spec.limit),
        (1.0, SimDuration::ZERO, None)
    );
    let spec: JobTraceSpec = ron
        .from_str(
            "(path: \"pods.csv\", format: alibaba_pods, time_scale: 2.0, start_offset: \"1h\", limit: 100)",
        )
        .unwrap();
    assert_eq!(
        spec,
        JobTraceSpec {
            time_scale: 2.0,
            start_offset: SimDuration::from_hours(1),
            limit: Some(100),
            ..JobTraceSpec::alibaba("pods.csv")
        }
    );
    let spec: JobTraceSpec = ron
        .from_str("(path: \"p.csv\", format: csv(submit_column: \"t\", gpus_column: \"g\", duration_column: \"d\", accelerator_column: \"gpu\"))")
        .unwrap();
    let JobTraceFormat::Csv {
        accelerator_column,
        time_unit,
        ..
    } = &spec.format
    else {
        panic!("{spec:?}")
    };
    assert_eq!(
        (accelerator_column.as_deref(), *time_unit),
        (Some("gpu"), TimeUnit::S)
    );
    assert_eq!(
        ron.from_str::<JobTraceSpec>("(path: \"p.csv\")").unwrap(),
        JobTraceSpec::alibaba("p.csv")
    );
    assert!(
        ron.from_str::<JobTraceSpec>("(path: \"p.csv\", repeat: true)")
            .is_err()
    );
    assert!(
        ron.from_str::<JobTraceSpec>("(path: \"p.csv\", format: csv(submit_column: \"t\"))")
            .is_err()
    );
    let text = ron::to_string(&spec).unwrap();
    assert_eq!(ron.from_str::<JobTraceSpec>(&text).unwrap(), spec);
}
