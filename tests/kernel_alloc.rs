//! Proves that the kernel allocates nothing per event in steady state.
//!
//! A counting global allocator wraps [`System`] and counts every `alloc`, `alloc_zeroed` and
//! `realloc` call in an [`AtomicU64`] — but only calls made by a thread that has switched
//! counting on (a `const` thread-local flag, which needs no allocation to read). The test
//! harness' own threads (the main thread waiting for results, output capture, timers) therefore
//! cannot disturb the count, however they are scheduled.
//!
//! The test builds a "hold" simulation with 10 000 pending events (each delivered event schedules
//! its successor an Exp(mean 1 ms) delay later through the real run loop), runs 100 000 events
//! so the event queue's storage reaches its steady size, then runs 1 000 000 more events with
//! counting on and asserts that not a single allocation happened.
//!
//! The same test then checks the instrument itself: the model is switched to allocate one small
//! `Vec` per event, and 1 000 events must then count at least 1 000 allocations. So a counter that
//! silently counts nothing cannot make the main assertion pass. (The main assertion was also
//! seen to fail when the model allocated during the measured million events.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use hybridsim::kernel::{
    Context, KernelError, Model, RngStreams, RunLimits, SimDuration, SimTime, Simulation, StopReason,
    StreamRng,
};
use rand_distr::{Distribution, Exp};

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) made while counting was on.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread's allocations are counted. `const`-initialised and without a
    /// destructor, so reading it never allocates and never fails.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// [`System`], counting the allocations of threads that switched counting on.
struct CountingAllocator;

impl CountingAllocator {
    fn note(&self) {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`; counting has no effect on memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.note();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.note();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.note();
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` with this thread's allocations counted; returns its result and the count.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    COUNTING.with(|on| on.set(true));
    let result = f();
    COUNTING.with(|on| on.set(false));
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    (result, after - before)
}

const PENDING: usize = 10_000;
const WARM_UP_EVENTS: u64 = 100_000;
const MEASURED_EVENTS: u64 = 1_000_000;
const CONTROL_EVENTS: u64 = 1_000;

/// The hold model: every event schedules its successor an exponential delay later.
struct Hold {
    rng: StreamRng,
    delay: Exp<f64>,
    /// Negative control: allocate a small vector per event.
    allocate_per_event: bool,
}

impl Hold {
    fn draw(&mut self) -> SimDuration {
        SimDuration::from_nanos(self.delay.sample(&mut self.rng) as u64)
    }
}

impl Model for Hold {
    type Event = ();
    type Error = KernelError;

    fn handle(&mut self, ctx: &mut Context<'_, ()>, (): ()) -> Result<(), KernelError> {
        if self.allocate_per_event {
            black_box(Vec::<u64>::with_capacity(1));
        }
        let delay = self.draw();
        ctx.schedule_in(delay, ())?;
        Ok(())
    }
}

fn run(sim: &mut Simulation<Hold>, events: u64) {
    let limits = RunLimits::until(SimTime::MAX).with_event_budget(events);
    assert_eq!(sim.run(limits), Ok(StopReason::EventBudget));
}

#[test]
fn the_run_loop_allocates_nothing_per_event_in_steady_state() {
    let rng = RngStreams::new(1).stream("hold");
    let delay = Exp::new(1.0 / 1_000_000.0).expect("a positive rate");
    let mut sim = Simulation::new(Hold {
        rng,
        delay,
        allocate_per_event: false,
    });
    for _ in 0..PENDING {
        let at = SimTime::ZERO.saturating_add(sim.model_mut().draw());
        sim.schedule(at, ()).expect("not in the past");
    }
    run(&mut sim, WARM_UP_EVENTS);

    let ((), allocations) = count_allocations(|| run(&mut sim, MEASURED_EVENTS));
    let stats = sim.stats();
    assert_eq!(stats.events_processed, WARM_UP_EVENTS + MEASURED_EVENTS);
    assert_eq!(stats.events_pending, PENDING as u64);
    assert_eq!(
        allocations, 0,
        "the kernel allocated {allocations} times while delivering {MEASURED_EVENTS} events with \
         {PENDING} pending; it must not allocate per event in steady state"
    );

    // The instrument must see allocations when there are some.
    sim.model_mut().allocate_per_event = true;
    let ((), allocations) = count_allocations(|| run(&mut sim, CONTROL_EVENTS));
    assert!(
        allocations >= CONTROL_EVENTS,
        "the counting allocator saw only {allocations} allocations in {CONTROL_EVENTS} events that \
         each allocate: it is not counting"
    );
}
