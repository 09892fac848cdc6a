//! Flows: starting, advancing, finishing and cancelling bulk transfers, their slot storage and
//! stale-handle checks, and the bytes each link has carried.

use super::rates::{loss_cap_bps, max_min_rates};
use super::{
    CancelledFlow, CompletedFlow, Flow, FlowId, FlowSpec, FlowState, Hop, Network, NetworkError, Slot,
};
use crate::kernel::{SimDuration, SimTime};
use crate::vocab::ids::LinkId;

/// A flow is complete once no more than this many bytes remain.
const DONE_EPSILON_BYTES: f64 = 1e-6;
const NANOS_PER_SEC: f64 = 1e9;

impl<T: Copy> Network<T> {
    /// Starts a transfer at `now`. A transfer of 0 bytes or from a site to itself finishes at
    /// `now` (collect it with [`Network::take_completed`]). Fails when a site or link is unknown,
    /// when a given route does not connect the sites, or when no usable route exists.
    pub fn start_flow(&mut self, now: SimTime, spec: FlowSpec<T>) -> Result<FlowId, NetworkError> {
        let (from, to) = (spec.from, spec.to);
        for site in [from, to] {
            if site.index() >= self.site_up.len() {
                return Err(NetworkError::UnknownSite(site));
            }
        }
        let pinned = spec.route.is_some();
        let route = match spec.route {
            Some(given) => self.checked_route(from, to, given.hops)?,
            None => self.route(from, to).ok_or(NetworkError::NoRoute { from, to })?,
        };
        if !(self.site_is_up(from) && self.path_usable(&route.hops)) {
            return Err(NetworkError::NoRoute { from, to });
        }
        let now = self.advance_to(now);
        let instant = spec.bytes == 0 || route.hops.is_empty();
        let id = self.insert(Flow {
            tag: spec.tag,
            from,
            to,
            bytes: spec.bytes,
            remaining: if instant { 0.0 } else { spec.bytes as f64 },
            streams: spec.streams.max(1),
            started: now,
            route,
            pinned,
            state: if instant {
                FlowState::Done(now)
            } else {
                FlowState::Running
            },
            rate_bps: 0.0,
        })?;
        self.rerate();
        Ok(id)
    }

    /// Removes a flow at `now`, reporting the bytes it moved, and re-rates the others. `None` for
    /// a stale or unknown id. A flow that finished by `now` but was not yet taken is removed too
    /// (with all its bytes moved) and will not be returned by [`Network::take_completed`].
    pub fn cancel_flow(&mut self, now: SimTime, id: FlowId) -> Option<CancelledFlow<T>> {
        self.flow(id)?;
        self.advance_to(now);
        let flow = self.remove(id)?;
        if flow.state == FlowState::Running {
            self.rerate();
        }
        Some(CancelledFlow {
            id,
            tag: flow.tag,
            from: flow.from,
            to: flow.to,
            bytes: flow.bytes,
            bytes_moved: (flow.bytes as f64 - flow.remaining).max(0.0),
            started: flow.started,
            route: flow.route,
        })
    }

    /// The earliest time at which a flow finishes at the current rates (rounded up to whole
    /// nanoseconds), or the finishing time of a finished flow not yet taken; `None` when no flow
    /// is moving.
    pub fn next_completion(&self) -> Option<SimTime> {
        self.slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .filter_map(|flow| match flow.state {
                FlowState::Done(at) => Some(at),
                FlowState::Running => finish_time(self.clock, flow.remaining, flow.rate_bps),
                FlowState::Stalled => None,
            })
            .min()
    }

    /// Advances to `now` and removes every flow finished by then, in [`FlowId`] order, each with
    /// its own finishing time. The remaining flows are re-rated as each one finishes.
    pub fn take_completed(&mut self, now: SimTime) -> Vec<CompletedFlow<T>> {
        self.advance_to(now);
        let done: Vec<FlowId> = self
            .ids()
            .filter(|&id| matches!(self.flow(id).map(|f| f.state), Some(FlowState::Done(_))))
            .collect();
        done.into_iter()
            .filter_map(|id| self.remove(id).and_then(|flow| completed(id, flow)))
            .collect()
    }

    /// The flow's current rate in bits per second (0 while stalled or once finished).
    pub fn flow_rate_bps(&self, id: FlowId) -> Option<f64> {
        self.flow(id).map(|flow| flow.rate_bps)
    }

    /// Bytes the flow still has to move, as of the latest call that advanced the network.
    pub fn flow_remaining_bytes(&self, id: FlowId) -> Option<f64> {
        self.flow(id).map(|flow| flow.remaining)
    }

    /// When the earliest flow still held started (finished ones not yet taken included): a
    /// transfer is billed over its whole span when it is taken or cancelled.
    pub fn earliest_start(&self) -> Option<SimTime> {
        self.slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .map(|flow| flow.started)
            .min()
    }

    /// Flows started and neither finished nor cancelled, stalled ones included.
    pub fn active_flows(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .filter(|flow| !matches!(flow.state, FlowState::Done(_)))
            .count()
    }

    /// Flows waiting at rate 0 for a route, in [`FlowId`] order.
    pub fn stalled_flows(&self) -> Vec<FlowId> {
        self.ids()
            .filter(|&id| self.flow(id).is_some_and(|f| f.state == FlowState::Stalled))
            .collect()
    }

    /// Bytes carried by the link `(a → b, b → a)` up to the latest call that advanced the network
    /// (`(0, 0)` for an unknown link). Call [`Network::take_completed`] to bring it up to date.
    pub fn bytes_carried(&self, link: LinkId) -> (f64, f64) {
        self.carried
            .get(link.index())
            .map_or((0.0, 0.0), |[a_to_b, b_to_a]| (*a_to_b, *b_to_a))
    }

    fn flow(&self, id: FlowId) -> Option<&Flow<T>> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.flow.as_ref()
    }

    fn ids(&self) -> impl Iterator<Item = FlowId> + '_ {
        self.slots
            .iter()
            .zip(0u32..)
            .filter(|(slot, _)| slot.flow.is_some())
            .map(|(slot, index)| FlowId {
                index,
                generation: slot.generation,
            })
    }

    fn insert(&mut self, flow: Flow<T>) -> Result<FlowId, NetworkError> {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.flow = Some(flow);
            return Ok(FlowId {
                index,
                generation: slot.generation,
            });
        }
        let index = u32::try_from(self.slots.len()).map_err(|_| NetworkError::TooManyFlows)?;
        self.slots.push(Slot {
            generation: 0,
            flow: Some(flow),
        });
        Ok(FlowId { index, generation: 0 })
    }

    fn remove(&mut self, id: FlowId) -> Option<Flow<T>> {
        self.flow(id)?;
        let slot = &mut self.slots[id.index as usize];
        let flow = slot.flow.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        Some(flow)
    }

    /// Plays the flows forward to `now` (or to the latest time seen, if later), finishing flows
    /// at their own completion times and re-rating after each. Returns the time reached.
    pub(super) fn advance_to(&mut self, now: SimTime) -> SimTime {
        let now = now.max(self.clock);
        while let Some(next) = self.next_running_completion().filter(|&at| at <= now) {
            self.progress(next);
            self.rerate();
        }
        self.progress(now);
        now
    }

    fn next_running_completion(&self) -> Option<SimTime> {
        let running = self.slots.iter().filter_map(|slot| slot.flow.as_ref());
        running
            .filter(|flow| flow.state == FlowState::Running)
            .filter_map(|flow| finish_time(self.clock, flow.remaining, flow.rate_bps))
            .min()
    }

    /// Moves every running flow at its current rate from the clock to `to`; flows due by `to`
    /// finish exactly then.
    fn progress(&mut self, to: SimTime) {
        let seconds = to.saturating_since(self.clock).as_secs_f64();
        for slot in &mut self.slots {
            let Some(flow) = slot.flow.as_mut().filter(|f| f.state == FlowState::Running) else {
                continue;
            };
            let due = finish_time(self.clock, flow.remaining, flow.rate_bps).is_some_and(|at| at <= to);
            let moved = if due {
                flow.remaining
            } else {
                (flow.rate_bps / 8.0 * seconds).min(flow.remaining)
            };
            flow.remaining -= moved;
            for hop in &flow.route.hops {
                if let Some(counts) = self.carried.get_mut(hop.link.index()) {
                    counts[usize::from(!hop.forward)] += moved;
                }
            }
            if due || flow.remaining <= DONE_EPSILON_BYTES {
                flow.remaining = 0.0;
                flow.rate_bps = 0.0;
                flow.state = FlowState::Done(to);
            }
        }
        self.clock = self.clock.max(to);
    }

    /// Sets every running flow's rate to its max-min fair share; other flows get 0.
    pub(super) fn rerate(&mut self) {
        let capacities: Vec<f64> = (0..self.links.len())
            .flat_map(|index| {
                let link = self.effective(LinkId(index as u32));
                let bandwidth = if link.up { link.bandwidth_bps } else { 0.0 };
                [bandwidth, bandwidth]
            })
            .collect();
        let running: Vec<&Flow<T>> = self
            .slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .filter(|flow| flow.state == FlowState::Running)
            .collect();
        let paths: Vec<Vec<usize>> = running.iter().map(|flow| resources(&flow.route.hops)).collect();
        let caps: Vec<f64> = running
            .iter()
            .map(|flow| loss_cap_bps(flow.streams, flow.route.rtt(), flow.route.loss))
            .collect();
        let mut rates = max_min_rates(&capacities, &paths, &caps).into_iter();
        for flow in self.slots.iter_mut().filter_map(|slot| slot.flow.as_mut()) {
            flow.rate_bps = match flow.state {
                FlowState::Running => rates.next().unwrap_or(0.0),
                _ => 0.0,
            };
        }
    }
}

/// The (link, direction) resource indices of a route: `2·link` for a → b, `2·link + 1` for b → a.
fn resources(hops: &[Hop]) -> Vec<usize> {
    hops.iter()
        .map(|hop| 2 * hop.link.index() + usize::from(!hop.forward))
        .collect()
}

/// When `remaining` bytes are done at `rate_bps` from `clock`, rounded up to whole nanoseconds;
/// `None` when never (no rate, or beyond the clock's range). The last [`DONE_EPSILON_BYTES`]
/// count as done, which keeps floating-point crumbs from adding a nanosecond.
fn finish_time(clock: SimTime, remaining: f64, rate_bps: f64) -> Option<SimTime> {
    if rate_bps.is_nan() || rate_bps <= 0.0 {
        return None;
    }
    let bytes = (remaining - DONE_EPSILON_BYTES).max(0.0);
    let nanos = (bytes * 8.0 / rate_bps * NANOS_PER_SEC).ceil();
    if nanos < u64::MAX as f64 {
        clock.checked_add(SimDuration::from_nanos(nanos as u64)).ok()
    } else {
        None
    }
}

fn completed<T>(id: FlowId, flow: Flow<T>) -> Option<CompletedFlow<T>> {
    let FlowState::Done(finished) = flow.state else {
        return None;
    };
    Some(CompletedFlow {
        id,
        tag: flow.tag,
        from: flow.from,
        to: flow.to,
        bytes: flow.bytes,
        started: flow.started,
        finished,
        route: flow.route,
    })
}
