//! Throughput benchmarks of the simulation kernel, in events delivered per second.
//!
//! Every case drives the real run loop: a [`Simulation`] whose [`Model::handle`] schedules the
//! next event through [`Context::schedule_in`]. One simulation is built (and prefilled) per case
//! outside the measured part and kept across iterations; each iteration calls
//! [`Simulation::run`] with an event budget of [`BATCH`] events, so the queue stays at its steady
//! size and criterion reports `thrpt` in elements (= events) per second.
//!
//! - **`hold/kernel/N`** — the classic priority-queue "hold" benchmark: `N` pending events
//!   (1 000, 100 000, 1 000 000) prefilled at times drawn from Exp with mean 1 ms; each delivered
//!   event schedules one more at `now + Exp(mean 1 ms)`, so the queue length stays exactly `N`.
//! - **`hold/binary_heap/N`** — the baseline: the same hold loop (same stream, same draws, pop
//!   then push) on a bare `BinaryHeap<Reverse<(u64, u64)>>` of `(time, sequence)`: no run loop,
//!   no cancellation bookkeeping, no model dispatch. Kernel figures are best read as a ratio to it.
//! - **`phold/lps=L/p_remote=P`** — Fujimoto's PHOLD: `L` logical processes (64, 1024), each
//!   starting with [`PHOLD_POPULATION`] events. Handling an event at LP `i` sends one new event,
//!   with probability `P` (0.1, 0.5, 0.9) to a uniformly chosen other LP and otherwise to `i`
//!   itself, at `now + lookahead + Exp(mean 1 ms)` with a lookahead of 100 µs. The event carries
//!   its destination LP; each LP counts the events it handled and draws from its own named stream.
//!
//! All randomness comes from named kernel streams ([`RngStreams::stream`]), so every run of the
//! benchmark delivers the same event sequence. Run with `cargo bench --bench kernel`
//! (sample size 20, 1 s warm-up, 3 s measurement per case; the whole file takes about a minute
//! and a half on two cores).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use hybridsim::kernel::{
    Context, KernelError, Model, RngStreams, RunLimits, SimDuration, SimTime, Simulation, StopReason,
    StreamRng,
};
use rand::distr::{Bernoulli, Distribution, Uniform};
use rand_distr::Exp;

/// Master seed of every stream used here.
const MASTER_SEED: u64 = 1;
/// Mean of the exponential delays, in nanoseconds (1 ms): coarse enough that ties are rare.
const MEAN_DELAY_NS: f64 = 1_000_000.0;
/// Events delivered per measured iteration.
const BATCH: u64 = 10_000;
/// Pending-event counts of the hold benchmark.
const HOLD_SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Numbers of logical processes in PHOLD.
const PHOLD_LPS: [usize; 2] = [64, 1024];
/// Initial events per logical process in PHOLD.
const PHOLD_POPULATION: usize = 16;
/// Probabilities that a PHOLD event goes to another LP.
const PHOLD_P_REMOTE: [f64; 3] = [0.1, 0.5, 0.9];
/// PHOLD's minimum delay between an event and the one it causes.
const PHOLD_LOOKAHEAD: SimDuration = SimDuration::from_micros(100);

/// The exponential delay distribution, in nanoseconds.
fn exp_delay() -> Exp<f64> {
    Exp::new(1.0 / MEAN_DELAY_NS).expect("a positive rate")
}

/// One exponential delay in whole nanoseconds.
fn draw_ns(delay: &Exp<f64>, rng: &mut StreamRng) -> u64 {
    delay.sample(rng) as u64
}

/// The limits of one measured iteration.
fn batch_limits() -> RunLimits {
    RunLimits::until(SimTime::MAX).with_event_budget(BATCH)
}

/// Runs one batch and checks that it stopped on the budget, not on an empty queue.
fn run_batch<M: Model<Error = KernelError>>(sim: &mut Simulation<M>, limits: RunLimits) {
    assert_eq!(sim.run(limits), Ok(StopReason::EventBudget));
}

// ---------------------------------------------------------------------------------------------
// Hold

/// The hold model: every event schedules its successor an exponential delay later.
struct Hold {
    rng: StreamRng,
    delay: Exp<f64>,
}

impl Hold {
    fn draw(&mut self) -> SimDuration {
        SimDuration::from_nanos(draw_ns(&self.delay, &mut self.rng))
    }
}

impl Model for Hold {
    type Event = ();
    type Error = KernelError;

    fn handle(&mut self, ctx: &mut Context<'_, ()>, (): ()) -> Result<(), KernelError> {
        let delay = self.draw();
        ctx.schedule_in(delay, ())?;
        Ok(())
    }
}

/// A hold simulation with `pending` events, advanced by `pending` events so that every prefilled
/// event has on average been replaced once.
fn hold_simulation(pending: usize) -> Simulation<Hold> {
    let rng = RngStreams::new(MASTER_SEED).stream("hold");
    let mut sim = Simulation::new(Hold {
        rng,
        delay: exp_delay(),
    });
    for _ in 0..pending {
        let at = SimTime::ZERO.saturating_add(sim.model_mut().draw());
        sim.schedule(at, ()).expect("not in the past");
    }
    let warm = RunLimits::until(SimTime::MAX).with_event_budget(pending as u64);
    run_batch(&mut sim, warm);
    sim
}

/// The same hold loop on a bare binary heap of `(time, sequence)`.
struct HeapHold {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    next_seq: u64,
    now: u64,
    rng: StreamRng,
    delay: Exp<f64>,
}

impl HeapHold {
    fn new(pending: usize) -> Self {
        let mut hold = HeapHold {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: 0,
            rng: RngStreams::new(MASTER_SEED).stream("hold"),
            delay: exp_delay(),
        };
        for _ in 0..pending {
            let at = draw_ns(&hold.delay, &mut hold.rng);
            hold.push(at);
        }
        hold.step(pending as u64);
        hold
    }

    fn push(&mut self, at: u64) {
        self.heap.push(Reverse((at, self.next_seq)));
        self.next_seq += 1;
    }

    /// Delivers `events` events: pop the earliest, advance the clock, push its successor.
    fn step(&mut self, events: u64) {
        for _ in 0..events {
            let Reverse((time, _seq)) = self.heap.pop().expect("the hold queue never drains");
            self.now = time;
            let at = time + draw_ns(&self.delay, &mut self.rng);
            self.push(at);
        }
    }
}

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(BATCH));
    for pending in HOLD_SIZES {
        // A batch at 1M pending takes ~15 ms: linear sampling (1+2+…+20 batches) would overrun
        // the 3 s measurement, so large queues use flat sampling (20 equal samples).
        let mode = if pending >= 1_000_000 {
            SamplingMode::Flat
        } else {
            SamplingMode::Auto
        };
        group.sampling_mode(mode);
        let mut sim = hold_simulation(pending);
        let limits = batch_limits();
        group.bench_function(BenchmarkId::new("kernel", pending), |b| {
            b.iter(|| run_batch(black_box(&mut sim), limits));
        });
        assert_eq!(sim.stats().events_pending, pending as u64);
        drop(sim);

        let mut heap = HeapHold::new(pending);
        group.bench_function(BenchmarkId::new("binary_heap", pending), |b| {
            b.iter(|| black_box(&mut heap).step(BATCH));
        });
        assert_eq!(heap.heap.len(), pending);
        black_box(heap.now);
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// PHOLD

/// A PHOLD event, addressed to one logical process.
#[derive(Debug, Clone, Copy)]
struct PholdEvent {
    dst: u32,
}

/// One logical process: its own random stream and how many events it handled.
struct Lp {
    rng: StreamRng,
    handled: u64,
}

/// The PHOLD model.
struct Phold {
    lps: Vec<Lp>,
    remote: Bernoulli,
    /// Uniform over the `lps.len() - 1` other LPs (shifted past the sender).
    other: Uniform<u32>,
    delay: Exp<f64>,
}

impl Phold {
    fn new(lps: usize, p_remote: f64) -> Self {
        assert!(lps >= 2, "PHOLD needs another LP to send to");
        let streams = RngStreams::new(MASTER_SEED);
        let other = u32::try_from(lps - 1).expect("few LPs");
        Phold {
            lps: (0..lps)
                .map(|i| Lp {
                    rng: streams.stream(&format!("phold/lp/{i}")),
                    handled: 0,
                })
                .collect(),
            remote: Bernoulli::new(p_remote).expect("a probability"),
            other: Uniform::new(0, other).expect("a non-empty range"),
            delay: exp_delay(),
        }
    }

    /// The delay before the event LP `lp` sends next: lookahead plus an exponential draw.
    fn draw_delay(&mut self, lp: usize) -> SimDuration {
        let extra = draw_ns(&self.delay, &mut self.lps[lp].rng);
        PHOLD_LOOKAHEAD.saturating_add(SimDuration::from_nanos(extra))
    }
}

impl Model for Phold {
    type Event = PholdEvent;
    type Error = KernelError;

    fn handle(&mut self, ctx: &mut Context<'_, PholdEvent>, event: PholdEvent) -> Result<(), KernelError> {
        let here = event.dst;
        let lp = &mut self.lps[here as usize];
        lp.handled += 1;
        let dst = if self.remote.sample(&mut lp.rng) {
            let other = self.other.sample(&mut lp.rng);
            if other >= here { other + 1 } else { other }
        } else {
            here
        };
        let delay = self.draw_delay(here as usize);
        ctx.schedule_in(delay, PholdEvent { dst })?;
        Ok(())
    }
}

/// A PHOLD simulation with its initial population, advanced by one event per pending event.
fn phold_simulation(lps: usize, p_remote: f64) -> Simulation<Phold> {
    let mut sim = Simulation::new(Phold::new(lps, p_remote));
    for lp in 0..lps {
        let dst = u32::try_from(lp).expect("few LPs");
        for _ in 0..PHOLD_POPULATION {
            let at = SimTime::ZERO.saturating_add(sim.model_mut().draw_delay(lp));
            sim.schedule(at, PholdEvent { dst }).expect("not in the past");
        }
    }
    let warm = RunLimits::until(SimTime::MAX).with_event_budget((lps * PHOLD_POPULATION) as u64);
    run_batch(&mut sim, warm);
    sim
}

fn phold(c: &mut Criterion) {
    let mut group = c.benchmark_group("phold");
    group.throughput(Throughput::Elements(BATCH));
    for lps in PHOLD_LPS {
        for p_remote in PHOLD_P_REMOTE {
            let mut sim = phold_simulation(lps, p_remote);
            let limits = batch_limits();
            let id = BenchmarkId::new(format!("lps={lps}"), format!("p_remote={p_remote}"));
            group.bench_function(id, |b| {
                b.iter(|| run_batch(black_box(&mut sim), limits));
            });
            let stats = sim.stats();
            let handled: u64 = sim.model().lps.iter().map(|lp| lp.handled).sum();
            assert_eq!(
                handled, stats.events_processed,
                "every delivered event is counted once"
            );
            assert_eq!(stats.events_pending, (lps * PHOLD_POPULATION) as u64);
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hold, phold
}
criterion_main!(benches);
