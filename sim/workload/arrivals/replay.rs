//! Trace replay: a loaded [`Trace`] mapped to simulated time through an anchor that moves when
//! the rate factor changes, optionally repeating.

use std::sync::Arc;

use super::{Arrival, after};
use crate::kernel::{SimDuration, SimTime};
use crate::workload::trace::Trace;

/// Replays a trace: row `i` of copy `k` is at trace time `k × period + offsets[i]`, mapped to
/// simulated time through an anchor that moves whenever the rate factor changes.
#[derive(Debug, Clone)]
pub(super) struct Replay {
    trace: Arc<Trace>,
    /// The trace time between copies when repeating: span plus one mean gap.
    period: Option<u64>,
    /// The copy and row of the next request.
    copy: u64,
    row: usize,
    /// `(copy, row)` of the request last handed out, restored on withdrawal.
    saved: (u64, usize),
    /// A simulated time and the trace time it corresponds to; set by the first `next`.
    anchor: Option<(SimTime, u64)>,
}

impl Replay {
    /// `None` if `repeat` is asked for a trace that spans no time.
    pub(super) fn new(trace: Arc<Trace>, repeat: bool) -> Option<Self> {
        let offsets = trace.offsets();
        let span = match (offsets.first(), offsets.last()) {
            (Some(first), Some(last)) => last - first,
            _ => 0,
        };
        let period = span.saturating_add(trace.mean_gap().as_nanos());
        if repeat && period == 0 {
            return None;
        }
        Some(Replay {
            trace,
            period: repeat.then_some(period),
            copy: 0,
            row: 0,
            saved: (0, 0),
            anchor: None,
        })
    }

    /// The rows replayed within `horizon_ns` of simulated time at rate factor `factor`: the
    /// whole trace once, or as many copies as start within the horizon when repeating.
    pub(super) fn expected_count(&self, horizon_ns: u64, factor: f64) -> f64 {
        let rows = self.trace.len() as f64;
        match self.period {
            Some(period) if factor > 0.0 => {
                rows * (horizon_ns as f64 * factor / period as f64).ceil().max(1.0)
            }
            _ => rows,
        }
    }

    pub(super) fn next(&mut self, start: SimTime, factor: f64) -> Option<Arrival> {
        let (anchor_sim, anchor_trace) = *self.anchor.get_or_insert((start, 0));
        if self.row >= self.trace.len() {
            self.period?;
            self.copy += 1;
            self.row = 0;
        }
        if factor == 0.0 {
            return None;
        }
        let copy_start = self.copy.checked_mul(self.period.unwrap_or(0))?;
        let trace_time = copy_start.checked_add(self.trace.offsets()[self.row])?;
        let ahead = trace_time.saturating_sub(anchor_trace);
        let ahead = if factor == 1.0 {
            ahead
        } else {
            let scaled = (ahead as f64 / factor).round();
            (scaled < u64::MAX as f64).then_some(scaled as u64)?
        };
        let at = after(anchor_sim, SimDuration::from_nanos(ahead))?.max(start);
        let (context_tokens, generated_tokens) = self.trace.tokens(self.row);
        self.saved = (self.copy, self.row);
        self.row += 1;
        Some(Arrival {
            at,
            context_tokens,
            generated_tokens,
        })
    }

    pub(super) fn withdraw(&mut self) {
        (self.copy, self.row) = self.saved;
    }

    /// Moves the anchor to `now`, at the trace time reached under the `old` factor.
    pub(super) fn reanchor(&mut self, now: SimTime, old: f64) {
        let Some((sim, trace)) = self.anchor else {
            return;
        };
        let elapsed = now.saturating_since(sim).as_nanos();
        let advanced = if old == 1.0 {
            elapsed
        } else {
            // Saturating float-to-integer conversion.
            (elapsed as f64 * old).round() as u64
        };
        self.anchor = Some((now.max(sim), trace.saturating_add(advanced)));
    }
}
