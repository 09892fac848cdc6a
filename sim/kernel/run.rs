//! The run loop: deliver events in `(time, sequence)` order to a [`Model`] until the queue is
//! empty, the horizon is passed or the event budget is spent.

use serde::Serialize;

use super::queue::{EventId, EventQueue};
use super::time::{SimDuration, SimTime, TimeError};

/// Errors the kernel raises on behalf of a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A model asked for an event before the current time.
    #[error("an event was scheduled at {at}, before the current time {now}")]
    ScheduledInPast {
        /// The requested time.
        at: SimTime,
        /// The clock when it was requested.
        now: SimTime,
    },
    /// Time arithmetic left the clock's range.
    #[error(transparent)]
    Time(#[from] TimeError),
}

/// A simulation model: owns its state and reacts to its own events.
///
/// The kernel knows nothing about what the events mean. It hands each one to
/// [`Model::handle`] together with a [`Context`] through which the model reads the clock and
/// schedules or cancels further events.
pub trait Model {
    /// The model's event type, usually an enum of typed variants: a small plain value, which
    /// the future event list copies as it sorts. What an event is about (a request, a job)
    /// lives in the model's state and the event names it by an id.
    type Event: Copy;
    /// The model's error type; kernel errors convert into it.
    type Error: From<KernelError>;

    /// Reacts to one event at `ctx.now()`.
    fn handle(&mut self, ctx: &mut Context<'_, Self::Event>, event: Self::Event) -> Result<(), Self::Error>;
}

/// What a model may do while it handles an event.
pub struct Context<'a, E> {
    now: SimTime,
    queue: &'a mut EventQueue<E>,
}

impl<E: Copy> Context<'_, E> {
    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at the absolute time `at`, which must not be in the past.
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> Result<(), KernelError> {
        self.check_not_past(at)?;
        self.queue.schedule(at, event);
        Ok(())
    }

    /// Schedules `event` after `delay`; overflow of the clock is an error.
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> Result<(), KernelError> {
        let at = self.now.checked_add(delay)?;
        self.queue.schedule(at, event);
        Ok(())
    }

    /// Schedules `event` at `at` (not in the past) and returns a handle that can cancel it.
    pub fn schedule_cancellable(&mut self, at: SimTime, event: E) -> Result<EventId, KernelError> {
        self.check_not_past(at)?;
        Ok(self.queue.schedule_cancellable(at, event))
    }

    fn check_not_past(&self, at: SimTime) -> Result<(), KernelError> {
        if at < self.now {
            return Err(KernelError::ScheduledInPast { at, now: self.now });
        }
        Ok(())
    }

    /// Cancels a pending event; returns whether it had not been delivered yet.
    pub fn cancel(&mut self, id: EventId) -> bool {
        self.queue.cancel(id)
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Events after this instant are not delivered; the clock ends here.
    pub horizon: SimTime,
    /// At most this many events are delivered.
    pub event_budget: u64,
}

impl RunLimits {
    /// Run until `horizon` with no event budget.
    pub fn until(horizon: SimTime) -> Self {
        RunLimits {
            horizon,
            event_budget: u64::MAX,
        }
    }

    /// The same limits with an event budget.
    pub fn with_event_budget(self, event_budget: u64) -> Self {
        RunLimits { event_budget, ..self }
    }
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// No event was left to deliver.
    Drained,
    /// The next event lies after the horizon.
    Horizon,
    /// The event budget was spent.
    EventBudget,
}

/// Counters the kernel keeps about a run. All are deterministic for a given model and seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KernelStats {
    /// Events delivered to the model.
    pub events_processed: u64,
    /// Events ever scheduled, including cancelled ones and those still pending.
    pub events_scheduled: u64,
    /// Events still pending when the run stopped.
    pub events_pending: u64,
    /// The largest number of simultaneously pending events.
    pub peak_queue_len: u64,
}

/// A model together with its clock and future event list.
pub struct Simulation<M: Model> {
    model: M,
    queue: EventQueue<M::Event>,
    now: SimTime,
    events_processed: u64,
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` at time zero with no pending events.
    pub fn new(model: M) -> Self {
        Simulation {
            model,
            queue: EventQueue::new(),
            now: SimTime::ZERO,
            events_processed: 0,
        }
    }

    /// Schedules an initial (or external) event at `at`, which must not be in the past.
    pub fn schedule(&mut self, at: SimTime, event: M::Event) -> Result<(), KernelError> {
        Context {
            now: self.now,
            queue: &mut self.queue,
        }
        .schedule_at(at, event)
    }

    /// Delivers events until the queue drains, the horizon is passed or the budget is spent.
    ///
    /// When the run stops at the horizon (or drains before it), the clock is advanced to the
    /// horizon, so time-weighted statistics cover the whole window.
    pub fn run(&mut self, limits: RunLimits) -> Result<StopReason, M::Error> {
        let mut budget_left = limits.event_budget;
        loop {
            let Some(next) = self.queue.peek_time() else {
                self.now = self.now.max(limits.horizon);
                return Ok(StopReason::Drained);
            };
            if next > limits.horizon {
                self.now = self.now.max(limits.horizon);
                return Ok(StopReason::Horizon);
            }
            if budget_left == 0 {
                return Ok(StopReason::EventBudget);
            }
            // `peek_time` settled the root on a pending event.
            let Some((time, event)) = self.queue.take_root() else {
                continue;
            };
            budget_left -= 1;
            self.now = time;
            self.events_processed += 1;
            let mut ctx = Context {
                now: time,
                queue: &mut self.queue,
            };
            self.model.handle(&mut ctx, event)?;
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The kernel's counters so far.
    pub fn stats(&self) -> KernelStats {
        KernelStats {
            events_processed: self.events_processed,
            events_scheduled: self.queue.scheduled_total(),
            events_pending: self.queue.len() as u64,
            peak_queue_len: self.queue.peak_len() as u64,
        }
    }

    /// The model, read-only.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutable (e.g. to finish its statistics after a run).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Gives the model back.
    pub fn into_model(self) -> M {
        self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each tick records its time and schedules the next one a second later.
    struct Ticker {
        seen: Vec<SimTime>,
    }

    impl Model for Ticker {
        type Event = ();
        type Error = KernelError;
        fn handle(&mut self, ctx: &mut Context<'_, ()>, _: ()) -> Result<(), KernelError> {
            self.seen.push(ctx.now());
            ctx.schedule_in(SimDuration::from_secs(1), ())?;
            Ok(())
        }
    }

    #[test]
    fn horizon_stops_the_run_and_sets_the_clock() {
        let mut sim = Simulation::new(Ticker { seen: vec![] });
        sim.schedule(SimTime::ZERO, ()).unwrap();
        let horizon = SimTime::ZERO
            .checked_add(SimDuration::from_millis(4_500))
            .unwrap();
        assert_eq!(sim.run(RunLimits::until(horizon)), Ok(StopReason::Horizon));
        assert_eq!(sim.model().seen.len(), 5, "ticks at 0,1,2,3,4 s");
        assert_eq!(sim.now(), horizon);
        assert_eq!(sim.stats().events_pending, 1);
    }

    #[test]
    fn an_event_exactly_at_the_horizon_is_delivered() {
        let mut sim = Simulation::new(Ticker { seen: vec![] });
        sim.schedule(SimTime::ZERO, ()).unwrap();
        let horizon = SimTime::ZERO.checked_add(SimDuration::from_secs(3)).unwrap();
        sim.run(RunLimits::until(horizon)).unwrap();
        assert_eq!(sim.model().seen.last(), Some(&horizon));
    }

    #[test]
    fn event_budget_stops_the_run() {
        let mut sim = Simulation::new(Ticker { seen: vec![] });
        sim.schedule(SimTime::ZERO, ()).unwrap();
        let limits = RunLimits::until(SimTime::MAX).with_event_budget(7);
        assert_eq!(sim.run(limits), Ok(StopReason::EventBudget));
        assert_eq!(sim.stats().events_processed, 7);
        // A second run continues where the first stopped.
        assert_eq!(sim.run(limits), Ok(StopReason::EventBudget));
        assert_eq!(sim.model().seen.len(), 14);
        assert_eq!(sim.now(), SimTime::from_nanos(13_000_000_000));
    }

    #[test]
    fn an_empty_queue_drains() {
        let mut sim = Simulation::new(Ticker { seen: vec![] });
        let horizon = SimTime::from_nanos(10);
        assert_eq!(sim.run(RunLimits::until(horizon)), Ok(StopReason::Drained));
        assert_eq!(sim.now(), horizon);
    }

    #[test]
    fn clock_overflow_is_an_error_not_a_wrap() {
        let mut sim = Simulation::new(Ticker { seen: vec![] });
        sim.schedule(SimTime::MAX, ()).unwrap();
        let result = sim.run(RunLimits::until(SimTime::MAX));
        assert_eq!(result, Err(KernelError::Time(TimeError::Overflow)));
    }

    #[test]
    fn scheduling_in_the_past_is_refused() {
        struct Backwards;
        impl Model for Backwards {
            type Event = ();
            type Error = KernelError;
            fn handle(&mut self, ctx: &mut Context<'_, ()>, _: ()) -> Result<(), KernelError> {
                ctx.schedule_at(SimTime::ZERO, ())?;
                Ok(())
            }
        }
        let mut sim = Simulation::new(Backwards);
        sim.schedule(SimTime::from_nanos(5), ()).unwrap();
        let err = sim.run(RunLimits::until(SimTime::MAX)).unwrap_err();
        assert!(matches!(err, KernelError::ScheduledInPast { .. }));
    }
}
