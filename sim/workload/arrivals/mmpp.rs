//! MMPP arrivals (Markov-modulated Poisson): a cyclic sequence of rate states with exponential
//! durations, on a state timeline drawn from its own generator so that it is one fixed path.

use rand::SeedableRng;
use rand_distr::Exp;

use super::{ArrivalError, MmppState, after, draw, exponential};
use crate::kernel::{SimTime, StreamRng};

#[derive(Debug, Clone)]
pub(super) struct Phase {
    pub(super) rate: f64,
    /// Mean time in the state, in seconds.
    mean_s: f64,
    /// Arrival gaps at rate × factor.
    gap: Option<Exp<f64>>,
    /// State durations.
    duration: Exp<f64>,
}

#[derive(Debug, Clone)]
pub(super) struct Mmpp {
    pub(super) phases: Vec<Phase>,
    current: usize,
    /// When the current state ends; `None` before the process starts.
    ends: Option<SimTime>,
    /// Draws the state durations. Seeded from the caller's stream at the first call, it makes the
    /// state timeline a fixed path, independent of the arrivals drawn and of the rate factor.
    timeline: Option<StreamRng>,
    /// `(current, ends, timeline)` at the state where the last search for an arrival began.
    saved: Option<(usize, Option<SimTime>, StreamRng)>,
    /// Whether any state has a positive rate × factor.
    any_positive: bool,
}

impl Mmpp {
    /// The long-run mean rate per second: each state's rate weighted by its mean duration.
    pub(super) fn mean_rate(&self) -> f64 {
        let time: f64 = self.phases.iter().map(|p| p.mean_s).sum();
        let arrivals: f64 = self.phases.iter().map(|p| p.rate * p.mean_s).sum();
        if time > 0.0 { arrivals / time } else { 0.0 }
    }

    pub(super) fn new(states: &[MmppState]) -> Result<Self, ArrivalError> {
        if states.is_empty() {
            return Err(ArrivalError::NoMmppStates);
        }
        let phase = |(i, state): (usize, &MmppState)| {
            let mean = state.mean_duration.as_secs_f64();
            let duration = Exp::new(1.0 / mean).ok().filter(|_| mean > 0.0);
            Ok(Phase {
                rate: state.rate.per_sec(),
                mean_s: mean,
                gap: exponential(state.rate.per_sec()),
                duration: duration.ok_or(ArrivalError::ZeroStateDuration { state: i + 1 })?,
            })
        };
        let phases = states
            .iter()
            .enumerate()
            .map(phase)
            .collect::<Result<Vec<_>, _>>()?;
        let any_positive = phases.iter().any(|p| p.gap.is_some());
        Ok(Mmpp {
            phases,
            current: 0,
            ends: None,
            timeline: None,
            saved: None,
            any_positive,
        })
    }

    pub(super) fn next(&mut self, start: SimTime, rng: &mut StreamRng) -> Option<SimTime> {
        if !self.any_positive {
            return None;
        }
        if self.timeline.is_none() {
            self.timeline = Some(StreamRng::from_rng(rng));
        }
        self.settle(start)?;
        self.saved = self
            .timeline
            .clone()
            .map(|timeline| (self.current, self.ends, timeline));
        let mut t = start;
        loop {
            let end = self.settle(t)?;
            if let Some(exp) = &self.phases[self.current].gap {
                let at = after(t, draw(exp, rng)?)?;
                if at < end {
                    return Some(at);
                }
            }
            // The state ends first: by memorylessness, draw afresh from the switch.
            t = end;
        }
    }

    /// Moves along the state timeline to the state in force at `t` and returns when it ends.
    /// The first state starts at the first `t` asked about.
    fn settle(&mut self, t: SimTime) -> Option<SimTime> {
        let Mmpp {
            phases,
            current,
            ends,
            timeline,
            ..
        } = self;
        let timeline = timeline.as_mut()?;
        let mut end = match *ends {
            Some(end) => end,
            None => after(t, draw(&phases[0].duration, timeline)?)?,
        };
        while end <= t {
            *current = (*current + 1) % phases.len();
            end = after(end, draw(&phases[*current].duration, timeline)?)?;
        }
        *ends = Some(end);
        Some(end)
    }

    /// Goes back to the state in force at `now` on the same timeline. The search for the
    /// withdrawn arrival may have moved past it; the path up to `now` (no arrival since the
    /// search began) stays as drawn, which keeps the process exact.
    pub(super) fn withdraw(&mut self, now: SimTime) {
        if let Some((current, ends, timeline)) = self.saved.take() {
            (self.current, self.ends, self.timeline) = (current, ends, Some(timeline));
            // `None` only if the clock's range is exceeded: no arrival will come anyway.
            let _ = self.settle(now);
        }
    }

    pub(super) fn set_factor(&mut self, factor: f64) {
        for phase in &mut self.phases {
            phase.gap = exponential(phase.rate * factor);
        }
        self.any_positive = self.phases.iter().any(|p| p.gap.is_some());
    }
}
