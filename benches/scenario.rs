//! End-to-end throughput of the request path: the M/M/10 benchmark scenario at ρ = 0.9
//! (`scenarios/bench/mmc.ron`) shortened to about one million requests, run through
//! `world::simulate` with all metrics on. Criterion reports requests per second of wall time.
//! The full ten-million-request scenario is run through the CLI (`hybridsim run
//! scenarios/bench/mmc.ron`), which prints its wall time and writes `run.json`.
//!
//! Baseline in the same run: `bare-mmc` is the same M/M/10 queue hand-written as a bare
//! binary-heap loop (no scenario, no routing, no metrics beyond a wait sum), so the simulator's
//! figure can be stated as a ratio to it.
//!
//! `llm-serving/*` runs a day of the quickstart's load (about 0.9 M assistant requests, with its
//! jobs and fallback) twice: `slots` as bundled (16 slots per replica, a load-independent
//! service time), and `batched` with the assistant on continuous batching (16 sequences per
//! replica, a step of 20 ms + 0.1 ms per sequence + 0.15 ms per prefill token). The ratio
//! batched/slots is the cost of iteration-level batching on the same load.

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

/// The quickstart's assistant moved to continuous batching.
const BATCHED_ASSISTANT: &str = r#"service_time: batched(step: (base: "20ms", per_sequence: "0.1ms", per_prefill_token: "0.15ms"), max_batch: 16),"#;
/// The quickstart's assistant as bundled.
const SLOT_ASSISTANT: &str =
    r#"service_time: llm(prefill_per_token: "0.15ms", decode_per_token: "20ms", overhead: "30ms"),"#;

fn quickstart_day_slots_against_batched(c: &mut Criterion) {
    let path = "scenarios/quickstart.ron";
    let slots = include_str!("../scenarios/quickstart.ron");
    assert!(
        slots.contains(SLOT_ASSISTANT),
        "the quickstart's assistant is as this bench expects"
    );
    let batched = slots.replacen(SLOT_ASSISTANT, BATCHED_ASSISTANT, 1);
    let mut group = c.benchmark_group("llm-serving");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(1));
    for (name, text) in [("slots", slots.to_string()), ("batched", batched)] {
        let scenario = load_str(&text, path.as_ref()).expect("the quickstart is valid");
        let resolved = scenario.resolve().expect("the quickstart resolves");
        let requests = simulate(&resolved, 1).expect("runs").summary.services["assistant"]
            .requests
            .arrived;
        group.throughput(Throughput::Elements(requests));
        group.bench_function(format!("{name}/quickstart-day"), |b| {
            b.iter(|| black_box(simulate(&resolved, 1)))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    mmc_one_million_requests,
    quickstart_day_slots_against_batched
);
criterion_main!(benches);
