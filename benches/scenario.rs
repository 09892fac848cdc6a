//! End-to-end throughput of the request path: the M/M/10 benchmark scenario at ρ = 0.9
//! (`scenarios/bench/mmc.ron`) shortened to about one million requests, run through
//! `world::simulate` with all metrics on. Criterion reports requests per second of wall time.
//! The full ten-million-request scenario is run through the CLI (`hybridsim run
//! scenarios/bench/mmc.ron`), which prints its wall time and writes `run.json`.
//!
//! Baseline in the same run: `bare-mmc` is the same M/M/10 queue hand-written as a bare
//! binary-heap loop (no scenario, no routing, no metrics beyond a wait sum), so the simulator's
//! figure can be stated as a ratio to it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::Duration;

use hybridsim::kernel::RngStreams;
use rand_distr::{Distribution, Exp};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hybridsim::scenario::load_str;
use hybridsim::world::simulate;

fn mmc_one_million_requests(c: &mut Criterion) {
    let text =
        include_str!("../scenarios/bench/mmc.ron").replace("horizon: \"11112s\"", "horizon: \"1111s\"");
    let scenario = load_str(&text, "scenarios/bench/mmc.ron".as_ref()).expect("the bench scenario is valid");
    let resolved = scenario.resolve().expect("the traces load");
    let requests = simulate(&resolved, 1).expect("runs").summary.services["mmc"]
        .requests
        .arrived;
    let mut group = c.benchmark_group("scenario");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(requests));
    group.bench_function("bench-mmc/1M-requests", |b| {
        b.iter(|| black_box(simulate(&resolved, 1)))
    });
    group.bench_function("bare-mmc/1M-requests", |b| {
        b.iter(|| black_box(bare_mmc(requests, 900.0, 100.0, 10)))
    });
    group.finish();
}

/// M/M/c by hand: a heap of `(time ns, sequence, is_departure)`, FIFO waiting arrival times.
/// Returns the mean wait in seconds of `requests` arrivals.
fn bare_mmc(requests: u64, lambda: f64, mu: f64, servers: u32) -> f64 {
    let streams = RngStreams::new(1);
    let (mut arrival_rng, mut service_rng) = (streams.stream("arrivals"), streams.stream("service"));
    let (arrivals, service) = (Exp::new(lambda / 1e9).unwrap(), Exp::new(mu / 1e9).unwrap());
    let mut heap = BinaryHeap::new();
    let mut waiting = VecDeque::new();
    let (mut seq, mut busy, mut arrived, mut wait_ns) = (0u64, 0u32, 0u64, 0f64);
    heap.push(Reverse((arrivals.sample(&mut arrival_rng) as u64, seq, false)));
    while let Some(Reverse((now, _, departure))) = heap.pop() {
        seq += 1;
        if departure {
            busy -= 1;
            if let Some(at) = waiting.pop_front() {
                busy += 1;
                wait_ns += (now - at) as f64;
                heap.push(Reverse((
                    now + service.sample(&mut service_rng) as u64,
                    seq,
                    true,
                )));
            }
        } else if arrived < requests {
            arrived += 1;
            heap.push(Reverse((
                now + arrivals.sample(&mut arrival_rng) as u64,
                seq,
                false,
            )));
            if busy < servers {
                busy += 1;
                seq += 1;
                heap.push(Reverse((
                    now + service.sample(&mut service_rng) as u64,
                    seq,
                    true,
                )));
            } else {
                waiting.push_back(now);
            }
        }
    }
    wait_ns / 1e9 / arrived as f64
}

criterion_group!(benches, mmc_one_million_requests);
criterion_main!(benches);
