//! End-to-end throughput of the request path: the M/M/10 benchmark scenario at ρ = 0.9
//! (`scenarios/bench/mmc.ron`) shortened to about one million requests, run through
//! `world::simulate` with all metrics on. Criterion reports requests per second of wall time.
//! The full ten-million-request scenario is run through the CLI (`hybridsim run
//! scenarios/bench/mmc.ron`), which prints its wall time and writes `run.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hybridsim::scenario::load_str;
use hybridsim::world::simulate;

fn mmc_one_million_requests(c: &mut Criterion) {
    let text =
        include_str!("../scenarios/bench/mmc.ron").replace("horizon: \"11112s\"", "horizon: \"1111s\"");
    let scenario = load_str(&text, "scenarios/bench/mmc.ron".as_ref()).expect("the bench scenario is valid");
    let requests = simulate(&scenario, 1).expect("runs").summary.services["mmc"]
        .requests
        .arrived;
    let mut group = c.benchmark_group("scenario");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(requests));
    group.bench_function("bench-mmc/1M-requests", |b| {
        b.iter(|| black_box(simulate(&scenario, 1)))
    });
    group.finish();
}

criterion_group!(benches, mmc_one_million_requests);
criterion_main!(benches);
