//! Throughput of the job engine: a week of a Poisson stream of training jobs (40 an hour, 1 to
//! 64 GPUs, log-normal durations, checkpoints, GPU failures) on 256 GPUs in three tiers.
//!
//! Baseline in the same run: the same stream with ample capacity (4,096 GPUs), where no job
//! waits. The ratio of the two is the price of contention: the waiting queue is offered GPUs
//! again whenever capacity may have changed.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hybridsim::scenario::load_str;
use hybridsim::world::simulate;

fn scenario(gpus: u32) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "bench-jobs", horizon: "7d", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu"), (name: "cloud", kind: cloud, jurisdiction: "eu")],
    links: [(a: "dc", b: "cloud", bandwidth: "100Gbps", latency: "5ms")],
    pools: [(site: "dc", accelerator: "H100",
             owned: (count: {owned}, capex_per_gpu: "30000 USD", lifetime: "4y", power_per_gpu: "1kW", energy_price: "0.15 USD/kWh"),
             failures: (gpu_mtbf: "20000h", repair: "4h")),
            (site: "cloud", accelerator: "H100", on_demand: (limit: {burst}, price: "6 USD/h"),
             spot: (limit: {burst}, price: "2 USD/h", preemption: rate("0.02/h")))],
    jobs: [(name: "train", class: training, preemptible: true,
            arrivals: poisson(rate: "40/h", gpus: [(1, 0.3), (4, 0.3), (8, 0.25), (32, 0.1), (64, 0.05)],
                              duration: lognormal(median: "1h", sigma: 1.0)),
            checkpoint: (interval: "30m", write: "1m", restore: "2m"))],
)"#,
        owned = gpus / 2,
        burst = gpus / 4
    )
}

fn job_stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("jobs");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    for (name, gpus) in [("contended-256-gpus", 256), ("ample-4096-gpus", 4096)] {
        let scenario =
            load_str(&scenario(gpus), "bench-jobs.ron".as_ref()).expect("the bench scenario is valid");
        let resolved = scenario.resolve().expect("the traces load");
        let jobs = simulate(&resolved, 1).expect("runs").record.jobs.len() as u64;
        group.throughput(Throughput::Elements(jobs));
        group.bench_function(format!("week-of-jobs/{name}"), |b| {
            b.iter(|| black_box(simulate(&resolved, 1)))
        });
    }
    group.finish();
}

criterion_group!(benches, job_stream);
criterion_main!(benches);
