//! The `batched` LLM service model against an independent iteration loop written here, its
//! limit (the slot model), throughput against the step formula, and the KV-cache bound.

use std::collections::VecDeque;
use std::io::Write;

use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, World, simulate_with_model};

/// The first 300 requests of the bundled Azure conversation trace (real prompt and output
/// lengths: about 900 and 256 tokens on average, 3.6 requests per second).
fn conversation_trace(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string("scenarios/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv")
        .expect("the bundled trace");
    let path = dir.join("conv300.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    for line in text.lines().take(301) {
        writeln!(file, "{line}").unwrap();
    }
    path
}

/// One replica of one service at the users' own site (no network), fed by `arrivals`.
fn scenario(service_time: &str, replicas: u32, arrivals: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "batched", horizon: "1h", seed: 1, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100", on_demand: (limit: 64, price: "2 USD/h"))],
    services: [(name: "llm", model: (memory: "70GB", slots_per_replica: 64),
        service_time: {service_time},
        replicas: [(pool: "dc/H100", tier: on_demand, count: {replicas})],
        timeout: "1h", queue_limit: 100000,
        demand: [(origin: "dc", arrivals: {arrivals})])],
)"#
    )
}

fn run(text: &str) -> (RunOutcome, World) {
    let scenario = load_str(text, "batched.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate_with_model(&scenario.resolve().unwrap(), 1).unwrap()
}

/// A request of the reference: arrival in ns, prompt and output tokens.
#[derive(Clone, Copy)]
struct Arrival {
    at: u64,
    context: u64,
    generated: u64,
}

/// Reads an Azure trace (`TIMESTAMP,ContextTokens,GeneratedTokens`, all rows on one day) into
/// arrivals in ns from the first row.
fn read_trace(path: &std::path::Path) -> Vec<Arrival> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<(u64, u64, u64)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let clock = fields[0].split(' ').nth(1).unwrap();
            let (hms, fraction) = clock.split_once('.').unwrap();
            let parts: Vec<u64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
            let seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
            let ns = seconds * 1_000_000_000 + fraction.parse::<u64>().unwrap() * 100;
            (ns, fields[1].parse().unwrap(), fields[2].parse().unwrap())
        })
        .collect();
    let first = rows[0].0;
    rows.iter()
        .map(|&(t, context, generated)| Arrival {
            at: t - first,
            context,
            generated,
        })
        .collect()
}

/// The parameters of the iteration loop, in ns and tokens.
struct Model {
    base: u64,
    per_sequence: u64,
    per_prefill_token: u64,
    max_batch: usize,
    chunk: u64,
    kv_capacity: u64,
}

/// What the reference measured: per served request (e2e, ttft, queue) in ns, and requests that
/// could never fit.
#[derive(Default)]
struct Measured {
    e2e: Vec<u64>,
    ttft: Vec<u64>,
    queue: Vec<u64>,
    tpot: Vec<u64>,
    too_large: usize,
    kv_peak: u64,
}

struct Running {
    arrival: Arrival,
    started: u64,
    prefill_left: u64,
    first_token: Option<u64>,
    emitted: u64,
    prefill_now: u64,
    decode_now: bool,
}

/// One replica's iteration loop, written from the model's description: first come, first
/// served admission at iteration ends while the batch and the KV cache (context + output
/// reserved) allow, chunked prefill in admission order, one token per decoding sequence per
/// iteration, the first token when the prompt is done.
fn reference(arrivals: &[Arrival], m: &Model) -> Measured {
    let mut out = Measured::default();
    let (mut queue, mut batch) = (VecDeque::<Arrival>::new(), Vec::<Running>::new());
    let (mut next, mut kv, mut step_end): (usize, u64, Option<u64>) = (0, 0, None);
    let need = |a: &Arrival| a.context + a.generated.max(1);
    loop {
        // The next thing to happen: an arrival, or the end of the running iteration.
        let arrival_first = match (arrivals.get(next), step_end) {
            (Some(a), Some(end)) => {
                assert_ne!(a.at, end, "a tie would make the comparison depend on event order");
                a.at < end
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        let now;
        if arrival_first {
            let a = arrivals[next];
            next += 1;
            now = a.at;
            if need(&a) > m.kv_capacity {
                out.too_large += 1;
                continue;
            }
            if step_end.is_some() || !queue.is_empty() {
                queue.push_back(a);
                continue;
            }
            queue.push_back(a);
        } else {
            now = step_end.take().unwrap();
            let mut kept = Vec::new();
            for mut r in batch.drain(..) {
                if r.decode_now {
                    r.emitted += 1;
                } else if r.prefill_now > 0 || (r.prefill_left == 0 && r.first_token.is_none()) {
                    r.prefill_left -= r.prefill_now;
                    if r.prefill_left == 0 {
                        r.first_token = Some(now);
                        r.emitted = 1;
                    }
                }
                let done = r.emitted >= r.arrival.generated.max(1);
                if let (Some(first), true) = (r.first_token, done) {
                    kv -= need(&r.arrival);
                    out.e2e.push(now - r.arrival.at);
                    out.ttft.push(first - r.arrival.at);
                    out.queue.push(r.started - r.arrival.at);
                    if r.arrival.generated > 1 {
                        out.tpot.push((now - first) / (r.arrival.generated - 1));
                    }
                } else {
                    kept.push(r);
                }
            }
            batch = kept;
        }
        // Admission, then the next iteration.
        while let Some(a) = queue.front() {
            if batch.len() >= m.max_batch || kv + need(a) > m.kv_capacity {
                break;
            }
            let a = queue.pop_front().unwrap();
            kv += need(&a);
            out.kv_peak = out.kv_peak.max(kv);
            batch.push(Running {
                arrival: a,
                started: now,
                prefill_left: a.context,
                first_token: None,
                emitted: 0,
                prefill_now: 0,
                decode_now: false,
            });
        }
        if batch.is_empty() {
            continue;
        }
        let (mut budget, mut decoding, mut prefill) = (m.chunk, 0u64, 0u64);
        for r in &mut batch {
            r.decode_now = r.first_token.is_some();
            r.prefill_now = 0;
            if r.decode_now {
                decoding += 1;
            } else {
                r.prefill_now = r.prefill_left.min(budget);
                budget -= r.prefill_now;
                prefill += r.prefill_now;
            }
        }
        // A prompt with nothing left to read is finished by an iteration with no budget too.
        step_end = Some(now + m.base + m.per_sequence * decoding + m.per_prefill_token * prefill);
    }
}

fn sum(values: &[u64]) -> u128 {
    values.iter().map(|&v| u128::from(v)).sum()
}

#[test]
fn the_iteration_loop_matches_an_independent_reference_to_the_nanosecond() {
    // 300 real conversation requests on one replica: 8 sequences at most, 512 prompt tokens per
    // iteration, and a cache of (0.9 × 80 GB − 70 GB) ÷ 320 KiB = 6,103 tokens, which holds
    // about five average requests, so the cache, the batch limit and the chunking all bind.
    let dir = tempfile::tempdir().unwrap();
    let trace = conversation_trace(dir.path());
    let text = scenario(
        r#"batched(step: (base: "10ms", per_sequence: "0.5ms", per_prefill_token: "0.05ms"),
                   max_batch: 8, prefill_chunk: 512, kv_cache: (bytes_per_token: "320KiB"))"#,
        1,
        &format!(r#"trace(path: "{}")"#, trace.display()),
    );
    let (outcome, world) = run(&text);
    let capacity = (0.9f64 * 80e9 - 70e9) as u64 / 327_680;
    assert_eq!(capacity, 6103);
    let expected = reference(
        &read_trace(&trace),
        &Model {
            base: 10_000_000,
            per_sequence: 500_000,
            per_prefill_token: 50_000,
            max_batch: 8,
            chunk: 512,
            kv_capacity: capacity,
        },
    );
    let metrics = &world.serving.services[0].metrics;
    let summary = &outcome.summary.services["llm"];
    assert_eq!(summary.requests.served as usize, expected.e2e.len());
    assert_eq!(summary.failed_by_reason["too_large"] as usize, expected.too_large);
    assert!(expected.e2e.len() > 250, "most requests are served");
    assert_eq!(metrics.end_to_end().sum(), sum(&expected.e2e));
    assert_eq!(metrics.first_token().sum(), sum(&expected.ttft));
    assert_eq!(metrics.queue().sum(), sum(&expected.queue));
    assert_eq!(metrics.per_output_token.sum(), sum(&expected.tpot));
    assert_eq!(metrics.end_to_end().max(), expected.e2e.iter().copied().max());
    assert_eq!(metrics.end_to_end().min(), expected.e2e.iter().copied().min());
    assert_eq!(metrics.first_token().max(), expected.ttft.iter().copied().max());
    assert!(
        expected.queue.iter().any(|&q| q > 0),
        "requests waited for the cache"
    );
    let (peak, kv) = world.serving.services[0].deployments[0].kv_tokens();
    assert_eq!((peak, kv), (expected.kv_peak, capacity));
}

#[test]
fn admitted_tokens_never_exceed_the_cache_and_a_request_too_large_for_it_fails() {
    // The same requests on a cache of 2,500 tokens: the peak of reserved tokens stays within it
    // but comes close (the cache is what binds), and the requests that need more than the
    // whole cache fail as too_large, each once.
    let dir = tempfile::tempdir().unwrap();
    let trace = conversation_trace(dir.path());
    let arrivals = read_trace(&trace);
    let text = scenario(
        r#"batched(step: (base: "10ms", per_sequence: "0.5ms"), max_batch: 64,
                   kv_cache: (bytes_per_token: "1MB", memory_utilization: 0.9))"#,
        1,
        &format!(r#"trace(path: "{}")"#, trace.display()),
    );
    let (outcome, world) = run(&text);
    let (peak, capacity) = world.serving.services[0].deployments[0].kv_tokens();
    assert_eq!(capacity, 2000);
    let largest_fitting = arrivals
        .iter()
        .map(|a| a.context + a.generated.max(1))
        .filter(|&n| n <= capacity)
        .max()
        .unwrap();
    assert!(peak <= capacity, "{peak} > {capacity}");
    assert!(
        peak > capacity - largest_fitting,
        "{peak}: the cache never filled"
    );
    let too_large = arrivals
        .iter()
        .filter(|a| a.context + a.generated.max(1) > capacity)
        .count();
    assert!(too_large > 0);
    let summary = &outcome.summary.services["llm"];
    assert_eq!(summary.failed_by_reason["too_large"] as usize, too_large);
    assert_eq!(summary.requests.served as usize, arrivals.len() - too_large);
}

/// A one-token request at 0, then `count` requests of `context` and `generated` tokens all at
/// 1 ms, while the first one's only iteration runs: they are all waiting when it ends.
fn burst(dir: &std::path::Path, count: usize, context: u32, generated: u32) -> std::path::PathBuf {
    let path = dir.join(format!("burst-{count}.csv"));
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "TIMESTAMP,ContextTokens,GeneratedTokens").unwrap();
    writeln!(file, "2023-11-16 00:00:00.0000000,0,1").unwrap();
    for _ in 0..count {
        writeln!(file, "2023-11-16 00:00:00.0010000,{context},{generated}").unwrap();
    }
    path
}

#[test]
fn throughput_against_batch_size_follows_the_step_formula() {
    // 256 identical requests (1,000 prompt tokens, 100 output tokens) waiting together on one
    // replica with an unbounded cache (after a one-token request's iteration of `base`):
    // batches of B run in lockstep, one prefill iteration of base + 1,000·B·per_prefill_token,
    // then 99 decode iterations of base + B·per_sequence. The last request ends 256/B such
    // rounds after the first iteration, and the throughput is B·100 tokens a round.
    let dir = tempfile::tempdir().unwrap();
    let trace = burst(dir.path(), 256, 1000, 100);
    let (base, per_sequence, per_prefill) = (12_000_000u64, 350_000u64, 80_000u64);
    let mut throughputs = Vec::new();
    for batch in [1u64, 4, 16, 64] {
        let text = scenario(
            &format!(
                r#"batched(step: (base: "12ms", per_sequence: "0.35ms", per_prefill_token: "0.08ms"), max_batch: {batch})"#
            ),
            1,
            &format!(r#"trace(path: "{}")"#, trace.display()),
        );
        let (outcome, world) = run(&text);
        let round = base + 1000 * batch * per_prefill + 99 * (base + batch * per_sequence);
        let last = world.serving.services[0].metrics.end_to_end().max().unwrap();
        assert_eq!(last, base + 256 / batch * round - 1_000_000, "batch {batch}");
        let tokens = outcome.summary.services["llm"].tokens.unwrap();
        assert_eq!(tokens.generated, 25_601);
        let per_s = (batch * 100) as f64 / (round as f64 / 1e9);
        throughputs.push(per_s);
    }
    assert!(throughputs.windows(2).all(|w| w[1] > w[0]), "{throughputs:?}");
}

#[test]
fn with_no_per_sequence_cost_and_no_cache_bound_it_is_the_slot_model_up_to_one_step() {
    // per_sequence = 0, no prefill cost, an unbounded cache and 64 sequences (as many as the
    // slot model's slots): every iteration takes `base`, so a request's service is its tokens ×
    // base, as in the slot model with decode_per_token = base. The only difference is waiting
    // for the running iteration to end before joining (less than one step), so each request
    // ends within [slot, slot + base): sums, minimum and maximum are bounded accordingly.
    let arrivals = r#"poisson(rate: "20/s")"#;
    let tokens = "context_tokens: 500, generated_tokens: 40";
    let with_tokens = |text: String| {
        text.replace(
            r#"arrivals: poisson(rate: "20/s"))"#,
            &format!("arrivals: {arrivals}, {tokens})"),
        )
    };
    let (_, batched) = run(&with_tokens(scenario(
        r#"batched(step: (base: "10ms"), max_batch: 64)"#,
        1,
        arrivals,
    )));
    let (_, slots) = run(&with_tokens(scenario(
        r#"llm(prefill_per_token: "0s", decode_per_token: "10ms")"#,
        1,
        arrivals,
    )));
    let (b, s) = (
        &batched.serving.services[0].metrics,
        &slots.serving.services[0].metrics,
    );
    let n = s.end_to_end().count();
    assert!(n > 50_000, "{n}");
    assert_eq!(b.end_to_end().count(), n, "the same arrivals, all served");
    assert_eq!(s.end_to_end().min(), Some(400_000_000));
    assert_eq!(
        s.end_to_end().max(),
        Some(400_000_000),
        "no slot model request waits"
    );
    let step = 10_000_000u128;
    let extra = b.end_to_end().sum() - s.end_to_end().sum();
    assert!(extra < u128::from(n) * step, "{extra}");
    assert!(b.end_to_end().min() >= s.end_to_end().min());
    assert!(u128::from(b.end_to_end().max().unwrap()) < u128::from(s.end_to_end().max().unwrap()) + step);
    // Arrivals fall anywhere within the running step: the mean wait is about half a step.
    let mean_wait = extra as f64 / n as f64 / step as f64;
    assert!((0.3..0.7).contains(&mean_wait), "{mean_wait}");
}

/// The bundled comparison with vLLM's published figures (scenarios/validation/vllm-70b-4xh100.ron:
/// 5000 equal requests at once, at most 256 per batch, no chunked prefill) against the
/// independent iteration loop: the makespan, and with it the output throughput compared in
/// REFERENCE.md, match to the nanosecond.
#[test]
fn the_published_figure_scenario_matches_the_reference_loop() {
    let path = std::path::Path::new("scenarios/validation/vllm-70b-4xh100.ron");
    let scenario = hybridsim::scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let (outcome, world) = simulate_with_model(&scenario.resolve().unwrap(), 1).unwrap();
    let arrivals = read_trace("scenarios/traces/offline-batch/sharegpt-mean-5000.csv".as_ref());
    assert_eq!(arrivals.len(), 5000);
    let kv_capacity = (4.0 * 80e9 * 0.9 - 141e9) as u64 / 327_680;
    let model = Model {
        base: 10_500_000,
        per_sequence: 80_000,
        per_prefill_token: 70_000,
        max_batch: 256,
        chunk: u64::MAX,
        kv_capacity,
    };
    let expected = reference(&arrivals, &model);
    let metrics = &world.serving.services[0].metrics;
    let makespan = *expected.e2e.iter().max().unwrap();
    assert_eq!(metrics.end_to_end().max(), Some(makespan));
    assert_eq!(metrics.end_to_end().sum(), sum(&expected.e2e));
    assert_eq!(metrics.per_output_token.sum(), sum(&expected.tpot));
    let tokens = outcome.summary.services["llama-70b"].tokens.as_ref().unwrap();
    assert_eq!(tokens.generated, 5000 * 196);
    let throughput = tokens.generated as f64 / (makespan as f64 / 1e9);
    // The figure REFERENCE.md compares with vLLM's.
    assert_eq!(throughput.round(), 5133.0, "{throughput} tokens/s");
}

/// Scaling a batched deployment down drains replicas: each takes no new sequences and goes when
/// its own are done, so an over-provisioned fleet shrinks even though requests spread over every
/// replica keep each batch busy, and nothing in service is cut off.
#[test]
fn scale_down_drains_batched_replicas_without_cutting_sequences() {
    let text = r#"#![enable(implicit_some)]
(
    name: "drain", horizon: "1h", seed: 3, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100", on_demand: (limit: 16, price: "2 USD/h"))],
    services: [(name: "llm", model: (memory: "70GB"),
        service_time: batched(step: (base: "10ms", per_sequence: "0.1ms"), max_batch: 16),
        replicas: [(pool: "dc/H100", tier: on_demand, count: 12)],
        timeout: "1h",
        demand: [(origin: "dc", arrivals: poisson(rate: "20/s"), context_tokens: 500, generated_tokens: 150)],
        autoscaling: (target_utilization: 0.6, min: 1, max: 12, tier: on_demand,
            load_bandwidth: "10Gbps", start_overhead: "1m"))],
)"#;
    let (outcome, _) = run(text);
    let summary = &outcome.summary.services["llm"];
    // About 20/s × 1.6 s ≈ 32 sequences in service: 4 replicas at 60% of 16 places each.
    assert_eq!(summary.replicas.max, 12);
    assert!((3..=6).contains(&summary.replicas.last), "{:?}", summary.replicas);
    assert_eq!(summary.failed_by_reason["replica_lost"], 0);
    assert_eq!(summary.requests.failed, 0);
}

/// Routing sees a full KV cache: a batched deployment with free batch places but requests
/// waiting for cache is not offered as free, so traffic spills to a farther site instead of
/// timing out in the nearer one's queue.
#[test]
fn routing_spills_past_a_deployment_whose_cache_is_full() {
    let text = r#"#![enable(implicit_some)]
(
    name: "spill", horizon: "30m", seed: 2, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [
        (name: "users", kind: edge, jurisdiction: "eu"),
        (name: "near", kind: on_prem, jurisdiction: "eu"),
        (name: "far", kind: cloud, jurisdiction: "eu"),
    ],
    pools: [
        (site: "near", accelerator: "H100", on_demand: (limit: 1, price: "2 USD/h")),
        (site: "far", accelerator: "H100", on_demand: (limit: 1, price: "2 USD/h")),
    ],
    links: [
        (a: "users", b: "near", bandwidth: "10Gbps", latency: "2ms"),
        (a: "users", b: "far", bandwidth: "10Gbps", latency: "20ms"),
    ],
    services: [(name: "llm", model: (memory: "70GB"),
        service_time: batched(step: (base: "10ms", per_sequence: "0.5ms"), max_batch: 16,
                              kv_cache: (bytes_per_token: "1MB")),
        replicas: [(pool: "near/H100", tier: on_demand, count: 1), (pool: "far/H100", tier: on_demand, count: 1)],
        timeout: "60s",
        demand: [(origin: "users", arrivals: poisson(rate: "5/s"), context_tokens: 400, generated_tokens: 100)])],
)"#;
    let (outcome, world) = run(text);
    let deployments = &world.serving.services[0].deployments;
    // 2000 tokens of cache hold 4 requests of 500: one replica serves about 3.3 requests/s.
    assert_eq!(deployments[0].kv_tokens().1, 2000);
    assert!(deployments[1].kv_tokens().0 > 0, "the far site served nothing");
    assert_eq!(outcome.summary.services["llm"].requests.failed, 0);
}
