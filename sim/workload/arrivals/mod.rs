//! Request arrival processes: what a scenario says about when requests come ([`ArrivalSpec`]),
//! and the generators that produce the arrival times ([`ArrivalProcess`]).
//!
//! - **Poisson**: exponential gaps at a constant rate.
//! - **Diurnal**: a non-homogeneous Poisson process whose rate follows a cosine between `trough`
//!   and `peak` over `period` (a day by default), highest at `peak_at` (mod `period`, measured
//!   from the start of the run). Sampled exactly by thinning (Lewis & Shedler): candidates come at
//!   the peak rate and each is kept with probability `rate(t) / peak`.
//! - **MMPP** (Markov-modulated Poisson): the rate steps through a cycle of states, each lasting
//!   an exponential time with its mean. When a state ends before the next candidate arrival, the
//!   candidate is dropped and a fresh gap is drawn from the switch time, which is exact because
//!   exponential gaps are memoryless. The first state starts with the first call to `next`. The
//!   state timeline comes from a private generator seeded from the caller's stream, so it is one
//!   fixed path whatever arrivals are drawn or withdrawn and whatever the rate factor.
//! - **Trace**: replays a [`Trace`] from the first call to `next`, optionally looping.
//!
//! Times are integer nanoseconds: a gap drawn in seconds as `f64` is rounded to the nearest
//! nanosecond. Every process draws only from the [`StreamRng`] it is handed, so one named stream
//! per process gives the same arrivals whatever else the run does. `next` does not allocate.
//!
//! This file owns the scenario-facing types ([`ArrivalSpec`], [`ArrivalError`], [`Arrival`]),
//! the running [`ArrivalProcess`] that dispatches to one generator per kind, and the gap
//! helpers they share. Each generator has its own file: `poisson`, `diurnal`, `mmpp` and
//! `replay` (traces).

mod diurnal;
mod mmpp;
mod poisson;
mod replay;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::trace::{Trace, TraceSpec};
use crate::kernel::{SimDuration, SimTime, StreamRng};
use crate::vocab::units::Rate;
use diurnal::Diurnal;
use mmpp::Mmpp;
use poisson::Poisson;
use replay::Replay;

/// How requests arrive, as written in a scenario, e.g. `poisson(rate: "900/s")`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// A constant rate, e.g. `poisson(rate: "900/s")`.
    Poisson {
        /// Mean requests per unit of time.
        rate: Rate,
    },
    /// Non-homogeneous Poisson with a sinusoidal daily profile, sampled by thinning (Lewis &
    /// Shedler), e.g. `diurnal(peak: "1200/s", trough: "150/s", peak_at: "14h")`.
    Diurnal {
        /// The highest rate, reached at `peak_at`.
        peak: Rate,
        /// The lowest rate, reached half a period after `peak_at`.
        trough: Rate,
        /// The length of one cycle; a day by default.
        #[serde(default = "day")]
        period: SimDuration,
        /// When the rate peaks, from the start of the run (taken modulo `period`).
        #[serde(default)]
        peak_at: SimDuration,
    },
    /// Markov-modulated Poisson process: the rate switches between states; each state lasts an
    /// exponential time with the given mean, then the next state in the list (cyclic) follows.
    /// E.g. `mmpp(states: [(rate: "50/s", mean_duration: "10m"), (rate: "800/s", mean_duration: "1m")])`.
    Mmpp {
        /// The states, visited in order and then from the first again.
        states: Vec<MmppState>,
    },
    /// Replay of a trace file (path relative to the scenario file), e.g.
    /// `trace((path: "../data/AzureLLMInferenceTrace_conv.csv", repeat: true))`; with RON's
    /// `unwrap_variant_newtypes` extension, `trace(path: …, repeat: true)`.
    Trace(TraceSpec),
}

fn day() -> SimDuration {
    SimDuration::from_hours(24)
}

/// One state of an MMPP arrival process.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MmppState {
    /// The arrival rate while in this state (may be zero: an "off" state).
    pub rate: Rate,
    /// The mean time spent in this state (exponentially distributed).
    pub mean_duration: SimDuration,
}

/// An arrival process that cannot be built, or a rate factor that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArrivalError {
    /// An MMPP without states.
    #[error(
        "mmpp arrivals need at least one state; write e.g. mmpp(states: [(rate: \"50/s\", mean_duration: \"10m\"), (rate: \"800/s\", mean_duration: \"1m\")])"
    )]
    NoMmppStates,
    /// An MMPP state whose mean duration is zero.
    #[error("mmpp state {state}: mean_duration must be longer than zero; write e.g. mean_duration: \"5m\"")]
    ZeroStateDuration {
        /// The state's position in the list, from 1.
        state: usize,
    },
    /// A diurnal profile whose peak is below its trough.
    #[error("diurnal arrivals: peak {peak} is below trough {trough}; swap the two values")]
    PeakBelowTrough {
        /// The peak rate given.
        peak: Rate,
        /// The trough rate given.
        trough: Rate,
    },
    /// A diurnal profile with a zero period.
    #[error(
        "diurnal arrivals: period must be longer than zero; leave it out for one day, or write e.g. period: \"1w\""
    )]
    ZeroPeriod,
    /// A trace spec without the loaded trace (a bug in the caller).
    #[error("trace arrivals from {path}: the trace was not loaded; load it with Trace::load and pass it in")]
    TraceMissing {
        /// The trace's path as written in the spec.
        path: String,
    },
    /// `repeat: true` for a trace whose requests all come at the same time.
    #[error(
        "trace {path}: repeat needs requests at two or more different times, but all of this trace's requests come at once; set repeat: false or use a longer trace"
    )]
    CannotRepeat {
        /// The trace's path as written in the spec.
        path: String,
    },
    /// A rate factor that is negative, not finite, or makes a rate infinite.
    #[error(
        "rate factor {factor} is not usable: it must be a finite number of at least 0 that keeps rates finite"
    )]
    BadRateFactor {
        /// The factor given.
        factor: f64,
    },
}

/// One request arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When the request arrives.
    pub at: SimTime,
    /// Context (prompt) tokens; 0 for synthetic processes: the service fills in its defaults.
    pub context_tokens: u32,
    /// Generated (output) tokens; 0 for synthetic processes: the service fills in its defaults.
    pub generated_tokens: u32,
}

impl Arrival {
    fn synthetic(at: SimTime) -> Self {
        Arrival {
            at,
            context_tokens: 0,
            generated_tokens: 0,
        }
    }
}

/// A running arrival process built from an [`ArrivalSpec`].
///
/// The caller asks for one arrival at a time, as each arrives: `next(now)` with `now` the time
/// of the arrival just handled (or the start). Arrivals come in time order, never before `now`.
/// The process starts at the first call: an MMPP enters its first state and a trace's replay
/// clock starts there; a diurnal profile is fixed to the run's clock. Keep at most one arrival
/// pending: only the last one handed out can be withdrawn by
/// [`set_rate_factor`](Self::set_rate_factor).
#[derive(Debug, Clone)]
pub struct ArrivalProcess {
    source: Source,
    /// Multiplies synthetic rates and divides trace gaps; 1 unless changed.
    factor: f64,
    /// The last arrival handed out, if any.
    last: Option<SimTime>,
}

#[derive(Debug, Clone)]
enum Source {
    Poisson(Poisson),
    Diurnal(Diurnal),
    Mmpp(Mmpp),
    Trace(Replay),
}

impl ArrivalProcess {
    /// The arrivals expected over `horizon` at the current rate factor: the mean rate times the
    /// horizon for a synthetic process, the rows replayed for a trace. What a run's budget is
    /// judged by before it starts.
    pub fn expected_count(&self, horizon: SimDuration) -> f64 {
        let seconds = horizon.as_secs_f64() * self.factor;
        match &self.source {
            Source::Poisson(p) => p.rate * seconds,
            Source::Diurnal(d) => d.mean_rate() * seconds,
            Source::Mmpp(m) => m.mean_rate() * seconds,
            Source::Trace(r) => r.expected_count(horizon.as_nanos(), self.factor),
        }
    }

    /// Builds the process `spec` describes. `trace` is the trace of an [`ArrivalSpec::Trace`],
    /// loaded by [`Trace::load`] with the same [`TraceSpec`] (which applied `time_scale` and
    /// `start_offset`; `repeat` is applied here); it is ignored for the other kinds.
    pub fn new(spec: &ArrivalSpec, trace: Option<Arc<Trace>>) -> Result<Self, ArrivalError> {
        let source = match spec {
            ArrivalSpec::Poisson { rate } => Source::Poisson(Poisson::new(rate.per_sec())),
            ArrivalSpec::Diurnal {
                peak,
                trough,
                period,
                peak_at,
            } => Source::Diurnal(Diurnal::new(*peak, *trough, *period, *peak_at)?),
            ArrivalSpec::Mmpp { states } => Source::Mmpp(Mmpp::new(states)?),
            ArrivalSpec::Trace(trace_spec) => {
                let path = || trace_spec.path.clone();
                let trace = trace.ok_or_else(|| ArrivalError::TraceMissing { path: path() })?;
                let replay = Replay::new(trace, trace_spec.repeat);
                Source::Trace(replay.ok_or_else(|| ArrivalError::CannotRepeat { path: path() })?)
            }
        };
        Ok(ArrivalProcess {
            source,
            factor: 1.0,
            last: None,
        })
    }

    /// The next arrival at or after `now` (and after the previous one), or `None` if none will
    /// come unless the rate factor changes: a non-repeating trace is exhausted, every rate is
    /// zero, or the next arrival would lie beyond the clock's range (about 584 years).
    pub fn next(&mut self, now: SimTime, rng: &mut StreamRng) -> Option<Arrival> {
        let start = self.last.map_or(now, |last| last.max(now));
        let arrival = match &mut self.source {
            Source::Poisson(p) => Arrival::synthetic(p.next(start, rng)?),
            Source::Diurnal(d) => Arrival::synthetic(d.next(start, rng)?),
            Source::Mmpp(m) => Arrival::synthetic(m.next(start, rng)?),
            Source::Trace(r) => r.next(start, self.factor)?,
        };
        self.last = Some(arrival.at);
        Some(arrival)
    }

    /// From `now` on, multiplies the rates of synthetic processes by `factor` (relative to the
    /// spec, not to the previous factor), or for a trace divides the gaps between requests by
    /// `factor`: replay runs `factor` times as fast from `now` (2 = twice the requests per
    /// second; 0 pauses it). Requests before `now` keep their times; no request is dropped or
    /// repeated.
    ///
    /// Returns `Ok(true)` if the arrival last returned by [`next`](Self::next) lies after `now`:
    /// it was drawn under the old rate and is withdrawn, so the caller must cancel it and call
    /// `next(now)` again. That keeps the process exact: thanks to memorylessness, synthetic
    /// arrivals redrawn from `now` follow the new rate exactly, and a trace hands the withdrawn
    /// request out again at its new time.
    pub fn set_rate_factor(&mut self, now: SimTime, factor: f64) -> Result<bool, ArrivalError> {
        let usable = factor.is_finite() && factor >= 0.0 && (self.source.peak_rate() * factor).is_finite();
        if !usable {
            return Err(ArrivalError::BadRateFactor { factor });
        }
        let withdrawn = self.last.is_some_and(|last| last > now);
        if withdrawn {
            self.last = Some(now);
            self.source.withdraw(now);
        }
        self.source.set_factor(now, self.factor, factor);
        self.factor = factor;
        Ok(withdrawn)
    }

    /// The current rate factor (1 unless [`set_rate_factor`](Self::set_rate_factor) changed it).
    pub fn rate_factor(&self) -> f64 {
        self.factor
    }
}

impl Source {
    /// The highest base rate in requests per second (0 for traces).
    fn peak_rate(&self) -> f64 {
        match self {
            Source::Poisson(p) => p.rate,
            Source::Diurnal(d) => d.peak,
            Source::Mmpp(m) => m.phases.iter().map(|p| p.rate).fold(0.0, f64::max),
            Source::Trace(_) => 0.0,
        }
    }

    /// Forgets the arrival last handed out, which lies after `now`.
    fn withdraw(&mut self, now: SimTime) {
        match self {
            Source::Poisson(_) | Source::Diurnal(_) => {}
            Source::Mmpp(m) => m.withdraw(now),
            Source::Trace(r) => r.withdraw(),
        }
    }

    fn set_factor(&mut self, now: SimTime, old: f64, new: f64) {
        match self {
            Source::Poisson(p) => p.gap = exponential(p.rate * new),
            Source::Diurnal(d) => d.gap = exponential(d.peak * new),
            Source::Mmpp(m) => m.set_factor(new),
            Source::Trace(r) => r.reanchor(now, old),
        }
    }
}

/// Exponential gaps (in seconds) at `rate` per second, or `None` for a rate of zero.
fn exponential(rate: f64) -> Option<Exp<f64>> {
    if rate > 0.0 { Exp::new(rate).ok() } else { None }
}

/// A gap drawn from `exp`, rounded to the nanosecond, or `None` if it exceeds the clock.
#[inline]
fn draw(exp: &Exp<f64>, rng: &mut StreamRng) -> Option<SimDuration> {
    let nanos = exp.sample(rng) * 1e9;
    // `u64::MAX as f64` is 2^64; NaN and infinity fail the test. A gap a hair under 2^64 that
    // rounds up to it still fits: `round_half_up` saturates.
    (nanos < u64::MAX as f64).then(|| SimDuration::from_nanos(round_half_up(nanos)))
}

/// `x.round() as u64` for `0 ≤ x < 2^64`, without the library call `f64::round` compiles to
/// on baseline x86-64 (it runs once per arrival). Exact: below 2^53 the integer part converts
/// back without loss, so the fraction is exact too; above, every `f64` is a whole number.
///
/// The half is added without a branch: whether a gap's fraction reaches ½ is a coin toss, and
/// as a branch it is mispredicted about every other arrival. Gaps below 2^62 ns (146 years),
/// all in practice, take a shorter way: doubling is exact, and the whole part of 2x is twice
/// x's whole part plus one when its fraction reaches ½, so adding one and halving rounds. That
/// is one signed conversion (a single instruction on baseline x86-64, where an unsigned one
/// takes a dozen) and no conversion back, on the path to the next arrival's time.
#[inline]
fn round_half_up(x: f64) -> u64 {
    if x < 4_611_686_018_427_387_904.0 {
        (((x + x) as i64 + 1) >> 1) as u64
    } else {
        let whole = x as u64;
        whole.saturating_add(u64::from(x - whole as f64 >= 0.5))
    }
}

fn after(t: SimTime, gap: SimDuration) -> Option<SimTime> {
    t.checked_add(gap).ok()
}
