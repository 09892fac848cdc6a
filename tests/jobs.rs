//! Jobs against hand-computed timelines and invariants: staging, checkpoints, a failure and a
//! restore with every timestamp and ledger entry exact; data residency; capacity and billing
//! watched event by event; preemption with notice.

use approx::assert_relative_eq;
use hybridsim::infra::ledger::CostCategory;
use hybridsim::kernel::{RunLimits, SimTime, StopReason};
use hybridsim::metrics::job::JobOutcome;
use hybridsim::policy::DecisionKind;
use hybridsim::scenario::{Scenario, load_str};
use hybridsim::vocab::Tier;
use hybridsim::world::{RunOutcome, conclude, prepare, simulate, simulate_with_model};

const HOUR: f64 = 3600.0;

fn load(text: &str) -> Scenario {
    load_str(text, "jobs.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

fn run(text: &str) -> RunOutcome {
    let scenario = load(text);
    simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
}

/// The rows of the run's `jobs.csv`, each as column name → cell.
fn jobs_csv_rows(outcome: &RunOutcome) -> Vec<std::collections::BTreeMap<String, String>> {
    let bytes = hybridsim::report::jobs_csv(&outcome.record).expect("jobs.csv");
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|row| {
            let row = row.expect("row");
            header
                .iter()
                .map(String::from)
                .zip(row.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn at(seconds: u64) -> SimTime {
    SimTime::from_nanos(seconds * 1_000_000_000)
}

/// Two sites 10 Gbps apart; a 100 GB dataset at `data`, 8 on-demand GPUs at `gpu` for
/// 3.6 USD/h (0.001 USD per GPU-second). A fine-tuning job of 3 h × 8 GPUs checkpoints every
/// hour (6 min writes, 5 min restores); a GPU fails 30 min into its third hour.
const TIMELINE: &str = r#"#![enable(implicit_some)]
(
    name: "timeline", horizon: "5h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "data", kind: on_prem, jurisdiction: "eu", egress_price: "0.05 USD/GB"),
            (name: "gpu", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "gpu", accelerator: "H100", on_demand: (limit: 8, price: "3.6 USD/h"))],
    links: [(a: "data", b: "gpu", bandwidth: "10Gbps", latency: "5ms", price: "0.02 USD/GB")],
    datasets: [(name: "corpus", size: "100GB", home: "data")],
    jobs: [(name: "ft", class: fine_tuning, gpus: 8, work: 24, dataset: "corpus",
            checkpoint: (interval: "1h", write: "6m", restore: "5m"))],
    incidents: [(name: "gpu dies", start: "9800s", kind: gpu_failure(pool: "gpu/H100", job: "ft"))],
)"#;

#[test]
fn staging_checkpoints_failure_and_restore_follow_the_hand_computed_timeline() {
    let outcome = run(TIMELINE);
    let job = &outcome.record.jobs.rows().unwrap()[0];
    // 0: placed, staging 100 GB at 10 Gbps = 80 s. 80: running. 3680: first write; 4040:
    // durable. 7640: second write; 8000: durable. 9800: failure, 30 min lost; placed again at
    // once, the data is already there; restore 5 min to 10100. 13700: last hour done; final
    // write to 14060: completed.
    assert_eq!(job.outcome, JobOutcome::Completed);
    assert_eq!(job.record.first_start, Some(at(0)));
    assert_eq!(job.record.ended, Some(at(14_060)));
    assert_eq!(job.record.checkpoints, 3);
    assert_eq!(job.record.placements, 2);
    assert_eq!(job.record.interrupted(), 1);
    let gpu_hours = |gpu_seconds: u64| (gpu_seconds * 8) as u128 * 1_000_000_000;
    assert_eq!(job.record.held_gpu_ns, gpu_hours(14_060));
    assert_eq!(job.record.useful_gpu_ns, gpu_hours(3 * 3600));
    assert_eq!(job.record.checkpoint_gpu_ns, gpu_hours(3 * 360));
    assert_eq!(job.record.lost_gpu_ns, gpu_hours(1800));
    // Wall time by phase: one staging of 80 s (the second placement finds the data there), one
    // restore of 5 min, three checkpoint writes of 6 min.
    assert_eq!(job.record.staging_ns, 80 * 1_000_000_000);
    assert_eq!(job.record.restore_ns, 300 * 1_000_000_000);
    let row = &jobs_csv_rows(&outcome)[0];
    assert_eq!(
        (row["staging_s"].as_str(), row["restore_s"].as_str()),
        ("80", "300")
    );
    assert_eq!(row["checkpoint_s"], "1080");

    let log: Vec<(f64, DecisionKind)> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .map(|d| (d.time.as_secs_f64(), d.kind))
        .collect();
    assert_eq!(
        log,
        [
            (0.0, DecisionKind::Place),
            (9800.0, DecisionKind::Incident),
            (9800.0, DecisionKind::Interrupt),
            (9800.0, DecisionKind::Place),
            (9800.0, DecisionKind::Restore),
        ]
    );

    // Compute is billed per hour and at each release: [0,1h], [1h,2h], [2h,9800], [9800,3h],
    // [3h,14060], 8 GPUs at 0.001 USD per GPU-second. The transfer pays 0.05 egress and
    // 0.02 interconnect per GB, once, when it ends at 80 s.
    let compute: Vec<(f64, f64, f64)> = outcome
        .record
        .ledger
        .read_all()
        .unwrap()
        .iter()
        .filter(|e| e.category == CostCategory::Compute)
        .map(|e| (e.start.as_secs_f64(), e.end.as_secs_f64(), e.usd))
        .collect();
    let spans = [
        (0.0, 3600.0),
        (3600.0, 7200.0),
        (7200.0, 9800.0),
        (9800.0, 10800.0),
        (10800.0, 14060.0),
    ];
    assert_eq!(compute.len(), spans.len(), "{compute:?}");
    for ((start, end, usd), (s, e)) in compute.iter().zip(spans) {
        assert_eq!((*start, *end), (s, e));
        assert_relative_eq!(*usd, (e - s) * 8.0 * 0.001, max_relative = 1e-12);
    }
    let transfer: Vec<(CostCategory, f64, f64)> = outcome
        .record
        .ledger
        .read_all()
        .unwrap()
        .iter()
        .filter(|e| e.category != CostCategory::Compute)
        .map(|e| (e.category, e.end.as_secs_f64(), e.usd))
        .collect();
    assert_eq!(transfer.len(), 2, "{transfer:?}");
    assert_eq!((transfer[0].0, transfer[0].1), (CostCategory::Egress, 80.0));
    assert_relative_eq!(transfer[0].2, 5.0, max_relative = 1e-12);
    assert_eq!((transfer[1].0, transfer[1].1), (CostCategory::Interconnect, 80.0));
    assert_relative_eq!(transfer[1].2, 2.0, max_relative = 1e-12);

    let summary = &outcome.summary.jobs["fine_tuning"];
    assert_eq!(
        (summary.submitted, summary.completed, summary.interrupted),
        (1, 1, 1)
    );
    assert_relative_eq!(
        summary.gpu_hours.held,
        14_060.0 * 8.0 / HOUR,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        summary.gpu_hours.other,
        (80.0 + 300.0) * 8.0 / HOUR,
        max_relative = 1e-9
    );
    assert_relative_eq!(
        summary.goodput.unwrap(),
        24.0 / (14_060.0 * 8.0 / HOUR),
        max_relative = 1e-12
    );
    assert_relative_eq!(
        summary.cost_usd,
        14_060.0 * 8.0 * 0.001 + 7.0,
        max_relative = 1e-12
    );
}

/// An EU-only dataset at `eu-home`. The short way to `eu-gpu` passes through `us-hub`; the
/// direct EU link is slower. `us-gpu` has a big pool, `eu-gpu` a small one.
const RESIDENCY: &str = r#"#![enable(implicit_some)]
(
    name: "residency", horizon: "6h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "eu-home", kind: on_prem, jurisdiction: "eu/de"),
            (name: "eu-gpu", kind: cloud, jurisdiction: "eu/fr"),
            (name: "us-hub", kind: colo, jurisdiction: "us"),
            (name: "us-gpu", kind: cloud, jurisdiction: "us")],
    pools: [(site: "eu-gpu", accelerator: "H100", on_demand: (limit: 4, price: "4 USD/h")),
            (site: "us-gpu", accelerator: "H100", on_demand: (limit: 64, price: "2 USD/h"))],
    links: [(a: "eu-home", b: "us-hub", bandwidth: "100Gbps", latency: "1ms"),
            (a: "us-hub", b: "eu-gpu", bandwidth: "100Gbps", latency: "1ms"),
            (a: "us-hub", b: "us-gpu", bandwidth: "100Gbps", latency: "1ms"),
            (a: "eu-home", b: "eu-gpu", bandwidth: "10Gbps", latency: "20ms")],
    datasets: [(name: "patients", size: "50GB", home: "eu-home", residency: ["eu"])],
    jobs: [(name: "big", class: training, gpus: 8, work: 8, dataset: "patients"),
           (name: "small", class: fine_tuning, gpus: 4, work: 4, dataset: "patients"),
           (name: "free", class: evaluation, gpus: 8, work: 8)],
)"#;

#[test]
fn restricted_data_never_leaves_its_jurisdiction_and_a_job_that_cannot_run_waits() {
    let scenario = load(RESIDENCY);
    let (outcome, world) = simulate_with_model(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    let site = |name: &str| world.estate.sites.iter().position(|s| s.name == name).unwrap();
    let big = &outcome.record.jobs.rows().unwrap()[0];
    let small = &outcome.record.jobs.rows().unwrap()[1];
    let free = &outcome.record.jobs.rows().unwrap()[2];
    assert_eq!(
        big.outcome,
        JobOutcome::Waiting,
        "the 8-GPU job only fits in the US"
    );
    assert!(big.record.note.contains("patients"), "{}", big.record.note);
    assert_eq!(small.outcome, JobOutcome::Completed);
    let pool_site = |job: &hybridsim::metrics::record::JobRow| {
        let (pool, _) = job.placed.unwrap();
        world.estate.pools[pool.index()].site.index()
    };
    assert_eq!(pool_site(small), site("eu-gpu"));
    assert_eq!(
        pool_site(free),
        site("us-gpu"),
        "unrestricted work goes to the cheaper pool"
    );
    // The staging flow took the direct EU link: no byte crossed a US link.
    for (link, name) in world.estate.link_names.iter().enumerate() {
        let (forward, backward) = world
            .estate
            .network
            .bytes_carried(hybridsim::vocab::ids::LinkId(link as u32));
        if name.contains("us-") {
            assert_eq!(forward + backward, 0.0, "{name} carried restricted data");
        } else if name == "eu-home--eu-gpu" {
            assert_relative_eq!(forward + backward, 50e9, max_relative = 1e-9);
        }
    }
    let deferred: Vec<_> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DecisionKind::Defer)
        .collect();
    assert_eq!(deferred.len(), 1, "a waiting job is reported once: {deferred:?}");
    assert_eq!(deferred[0].subject, "big");
    let training = &outcome.summary.jobs["training"];
    assert_eq!(
        (training.submitted, training.waiting_at_end, training.completed),
        (1, 1, 0)
    );
    assert!(training.wait_h.is_none());
}

/// A stream of jobs of random sizes on small pools with failures, repairs and spot capacity.
const BUSY: &str = r#"#![enable(implicit_some)]
(
    name: "busy", horizon: "3d", seed: 11, metrics: (window: "1h"),
    accelerators: [(name: "A100", memory: "80GB"), (name: "H100", memory: "80GB", speed: {training: 2.0})],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu"), (name: "cloud", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "A100",
             owned: (count: 16, capex_per_gpu: "20000 USD", lifetime: "4y", power_per_gpu: "0.7kW", energy_price: "0.2 USD/kWh"),
             failures: (gpu_mtbf: "200h", repair: "6h")),
            (site: "cloud", accelerator: "H100", reserved: (count: 8, price: "2.5 USD/h"),
             on_demand: (limit: 8, price: "6 USD/h"), spot: (limit: 16, price: "1.5 USD/h", notice: "2m"),
             failures: (gpu_mtbf: "400h"))],
    links: [(a: "dc", b: "cloud", bandwidth: "10Gbps", latency: "10ms")],
    jobs: [(name: "train", class: training, preemptible: true, max_interruptions: 20,
            arrivals: poisson(rate: "2/h", gpus: [(1, 0.4), (4, 0.3), (8, 0.2), (16, 0.1)],
                              duration: lognormal(median: "2h", sigma: 1.0)),
            checkpoint: (interval: "30m", write: "1m", restore: "3m"))],
    incidents: [(name: "reclaim 1", start: "10h", kind: spot_preemption(pool: "cloud/H100")),
                (name: "reclaim 2", start: "30h", kind: spot_preemption(pool: "cloud/H100"))],
)"#;

#[test]
fn capacity_is_never_exceeded_and_every_gpu_hour_held_is_billed_once() {
    let scenario = load(BUSY);
    let resolved = scenario.resolve().unwrap();
    let (mut sim, horizon) = prepare(&resolved, scenario.spec.seed).unwrap();
    let mut stop = StopReason::EventBudget;
    while stop == StopReason::EventBudget {
        stop = sim.run(RunLimits::until(horizon).with_event_budget(1)).unwrap();
        for pool in &sim.model().estate.pools {
            for (tier, state) in pool.tiers() {
                assert!(
                    state.in_use <= state.capacity,
                    "{} {} holds {} of {} at {:?}",
                    pool.name,
                    tier.as_str(),
                    state.in_use,
                    state.capacity,
                    sim.now()
                );
            }
        }
    }
    let outcome = conclude(&resolved, scenario.spec.seed, sim, stop).unwrap();
    let record = &outcome.record;
    let training = &outcome.summary.jobs["training"];
    assert!(training.submitted > 100, "{}", training.submitted);
    assert!(
        training.completed > 50 && training.interrupted > 5,
        "{training:?}"
    );
    assert!(training.interruptions["spot_preemption"] > 0 && training.interruptions["failure"] > 0);
    for (j, job) in record.jobs.rows().unwrap().iter().enumerate() {
        let billed_gpu_hours: f64 = record
            .ledger
            .read_all()
            .unwrap()
            .iter()
            .filter(|e| {
                e.category == CostCategory::Compute && e.payer.is_some_and(|p| p.workload == j as u32)
            })
            .map(|e| e.quantity)
            .sum();
        let held = job.record.held_gpu_ns as f64 / 3.6e12;
        assert_relative_eq!(billed_gpu_hours, held, max_relative = 1e-9, epsilon = 1e-12);
        let parts = job.record.useful_gpu_ns + job.record.lost_gpu_ns + job.record.checkpoint_gpu_ns;
        assert!(
            parts <= job.record.held_gpu_ns,
            "{}: parts exceed what was held",
            job.name
        );
    }
    // Fixed tiers: what jobs used plus what stood idle is every GPU-hour paid for.
    let fixed_paid: f64 = record
        .ledger
        .read_all()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.tier, Some(Tier::Owned | Tier::Reserved)))
        .map(|e| e.quantity)
        .sum();
    assert_relative_eq!(fixed_paid, 24.0 * 72.0, max_relative = 1e-9);
}

#[test]
fn a_job_with_enough_notice_checkpoints_before_it_leaves() {
    let scenario = |notice: &str| {
        format!(
            r#"#![enable(implicit_some)]
(
    name: "notice", horizon: "10h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "cloud", kind: cloud, jurisdiction: "us")],
    pools: [(site: "cloud", accelerator: "H100", spot: (limit: 8, price: "1 USD/h", notice: "{notice}"))],
    jobs: [(name: "sweep", class: training, gpus: 8, work: 16, preemptible: true,
            checkpoint: (interval: "1h", write: "2m", restore: "4m"))],
    incidents: [(name: "reclaim", start: "90m", kind: spot_preemption(pool: "cloud/H100", job: "sweep"))],
)"#
        )
    };
    // The first hour is durable at 62 min. Notice 2 min ≥ the 2 min write: at 90 min the job
    // writes a checkpoint of its 28 min since and leaves at 92 min without losing work; back on
    // spot at once, it restores for 4 min (to 96 min), runs the remaining 32 min and writes:
    // done at 130 min.
    let warned = run(&scenario("2m"));
    let job = &warned.record.jobs.rows().unwrap()[0];
    assert_eq!(job.record.lost_gpu_ns, 0);
    assert_eq!(job.record.ended, Some(at(130 * 60)));
    assert_eq!(job.record.interruptions.iter().sum::<u32>(), 1);
    // Notice 1 min < the write: the job runs on until 91 min and loses the 29 min since 62; it
    // restores from the 1 h checkpoint to 95 min and needs another hour and a write.
    let cut = run(&scenario("1m"));
    let job = &cut.record.jobs.rows().unwrap()[0];
    assert_eq!(job.record.lost_gpu_ns, 8 * 29 * 60 * 1_000_000_000);
    assert_eq!(job.record.ended, Some(at((95 + 60 + 2) * 60)));
}

#[test]
fn an_alibaba_pod_trace_replays_its_own_submissions_sizes_and_durations() {
    let text = r#"#![enable(implicit_some)]
(
    name: "alibaba", horizon: "160d", seed: 1, metrics: (window: "1d"),
    accelerators: [(name: "V100M16", memory: "16GB"), (name: "V100M32", memory: "32GB"), (name: "T4", memory: "16GB"),
                   (name: "P100", memory: "16GB"), (name: "A10", memory: "24GB"), (name: "G2", memory: "32GB"),
                   (name: "G3", memory: "32GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "cn")],
    pools: [(site: "dc", accelerator: "V100M16", reserved: (count: 64, price: "0.79 USD/h")),
            (site: "dc", accelerator: "V100M32", reserved: (count: 64, price: "0.79 USD/h")),
            (site: "dc", accelerator: "T4", reserved: (count: 64, price: "0.35 USD/h")),
            (site: "dc", accelerator: "P100", reserved: (count: 64, price: "0.5 USD/h")),
            (site: "dc", accelerator: "A10", reserved: (count: 64, price: "0.6 USD/h")),
            (site: "dc", accelerator: "G2", reserved: (count: 64, price: "1 USD/h")),
            (site: "dc", accelerator: "G3", reserved: (count: 64, price: "1 USD/h"))],
    jobs: [(name: "pod", class: batch_inference,
            arrivals: trace(path: "tests/fixtures/alibaba_pods_sample.csv"))],
)"#;
    let outcome = run(text);
    let spec = hybridsim::workload::trace::JobTraceSpec::alibaba("tests/fixtures/alibaba_pods_sample.csv");
    let trace = hybridsim::workload::trace::JobTrace::load(spec.path.as_ref(), &spec).unwrap();
    let jobs = &outcome.record.jobs.rows().unwrap();
    assert_eq!(jobs.len(), trace.jobs().len());
    assert_eq!(
        outcome.summary.jobs["batch_inference"].submitted,
        trace.jobs().len() as u64
    );
    for (job, row) in jobs.iter().zip(trace.jobs()) {
        assert_eq!(job.gpus, row.gpus, "{}", row.name);
        assert_eq!(
            job.record.submitted,
            Some(SimTime::from_nanos(row.submit_ns)),
            "{}",
            row.name
        );
        assert_eq!(
            job.record.first_start, job.record.submitted,
            "{}: capacity is ample",
            row.name
        );
        let ran = job
            .record
            .ended
            .unwrap()
            .saturating_since(job.record.first_start.unwrap());
        assert_eq!(ran.as_nanos(), row.duration_ns, "{}", row.name);
        assert!(job.name.ends_with(&row.name));
    }
    // Without G3 GPUs, the job that accepts only G3 cannot be replayed faithfully: it fails at
    // submission and says why; the others run as before.
    let without_g3 = text
        .replace(
            r#",
            (site: "dc", accelerator: "G3", reserved: (count: 64, price: "1 USD/h"))"#,
            "",
        )
        .replace(
            r#",
                   (name: "G3", memory: "32GB")"#,
            "",
        );
    assert!(!without_g3.contains("G3\""));
    let outcome = run(&without_g3);
    let rows = outcome.record.jobs.rows().unwrap();
    let failed: Vec<_> = rows.iter().filter(|j| j.outcome == JobOutcome::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].name.ends_with("openb-pod-8046"), "{}", failed[0].name);
    assert!(failed[0].record.note.contains("G3"), "{}", failed[0].record.note);
}

/// A stream of short jobs on an ample pool over a month, with checkpoints copied to a second
/// site (a job that ends while its last copy travels stays until the copy lands).
const LONG_STREAM: &str = r#"#![enable(implicit_some)]
(
    name: "long-stream", horizon: "30d", seed: 3, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "a", kind: cloud, jurisdiction: "eu"), (name: "b", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "a", accelerator: "H100", reserved: (count: 64, price: "2 USD/h")),
            (site: "b", accelerator: "H100", reserved: (count: 8, price: "2 USD/h"))],
    links: [(a: "a", b: "b", bandwidth: "1Gbps", latency: "10ms")],
    jobs: [(name: "stream", class: fine_tuning, tiers: [reserved],
            arrivals: poisson(rate: "6/h", gpus: [(1, 0.5), (2, 0.5)],
                              duration: lognormal(median: "20m", sigma: 0.5)),
            checkpoint: (interval: "10m", write: "30s", restore: "1m", size: "20GB", replicate_to: "b"))],
)"#;

#[test]
fn a_long_job_stream_holds_its_live_jobs_not_every_job_it_made() {
    let scenario = load(LONG_STREAM);
    let resolved = scenario.resolve().unwrap();
    let (mut sim, horizon) = prepare(&resolved, scenario.spec.seed).unwrap();
    let (mut most_alive, mut most_log_bytes) = (0, 0);
    let day = hybridsim::kernel::SimDuration::from_hours(24);
    let mut until = SimTime::ZERO;
    let stop = loop {
        until = until.saturating_add(day).min(horizon);
        let stop = sim.run(RunLimits::until(until)).unwrap();
        let model = sim.model();
        most_alive = most_alive.max(model.jobs.jobs.len());
        most_log_bytes = most_log_bytes.max(model.decisions.log().memory_bytes());
        if until >= horizon {
            break stop;
        }
    };
    let (made, logged) = (sim.model().jobs.jobs.made(), sim.model().decisions.log().len());
    // About 4,300 jobs, a few alive at once: the model holds those, not every one made.
    assert!(made > 4_000, "{made} jobs made");
    assert!(most_alive < 60, "{most_alive} jobs held at once");
    // Every placement is logged, yet the log holds a write buffer and one decision.
    assert!(logged as usize >= made, "{logged} decisions");
    assert!(
        most_log_bytes < 3 * 64 * 1024,
        "{most_log_bytes} bytes of decisions held"
    );
    let outcome = conclude(&resolved, scenario.spec.seed, sim, stop).unwrap();
    // Every job has its row, in the order the jobs were made, and the summary counts them all.
    let rows = outcome.record.jobs.rows().unwrap();
    assert_eq!(rows.len(), made);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.name, format!("stream-{}", i + 1));
    }
    let summary = &outcome.summary.jobs["fine_tuning"];
    assert_eq!(summary.submitted as usize, made);
    let completed = rows.iter().filter(|r| r.outcome == JobOutcome::Completed).count();
    assert_eq!(summary.completed as usize, completed);
    assert!(completed + 60 > made, "{completed} of {made} completed");
}
