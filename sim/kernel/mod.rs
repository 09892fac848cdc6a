//! The simulation kernel: integer time, the future event list, the run loop and named random
//! streams. It is generic over the event type and knows nothing about sites, GPUs or requests.
//!
//! A model implements [`Model`]: it owns its state and reacts to its own typed events through a
//! [`Context`] that reads the clock and schedules or cancels events. [`Simulation`] delivers
//! events in `(time, sequence)` order — ties in scheduling order — until the queue drains, the
//! horizon passes or the event budget is spent.
//!
//! ```
//! use hybridsim::kernel::*;
//!
//! struct Counter(u32);
//! impl Model for Counter {
//!     type Event = ();
//!     type Error = KernelError;
//!     fn handle(&mut self, ctx: &mut Context<'_, ()>, _: ()) -> Result<(), KernelError> {
//!         self.0 += 1;
//!         ctx.schedule_in("1s".parse()?, ())?;
//!         Ok(())
//!     }
//! }
//!
//! let mut sim = Simulation::new(Counter(0));
//! sim.schedule(SimTime::ZERO, ()).unwrap();
//! let horizon = SimTime::ZERO.checked_add("10s".parse().unwrap()).unwrap();
//! assert_eq!(sim.run(RunLimits::until(horizon)).unwrap(), StopReason::Horizon);
//! assert_eq!(sim.model().0, 11);
//! ```

mod queue;
mod rng;
mod run;
pub(crate) mod time;

pub use queue::{EventId, EventQueue};
pub use rng::{RNG_ALGORITHM, RngStreams, StreamRng, stream_seed};
pub use run::{Context, KernelError, KernelStats, Model, RunLimits, Simulation, StopReason};
pub use time::{ACCEPTED_DURATION_UNITS, SimDuration, SimTime, TimeError};
