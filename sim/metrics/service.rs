//! What happened to the requests of one inference service: how they ended, how long they took
//! (streaming histograms, overall, per origin and per time window) and how well the SLO held.
//! Only the open time windows are kept (one, or two when a request ends at the instant a window
//! closes); the run takes each window when it closes ([`ServiceMetrics::take_window`]) and
//! archives it. Memory is bounded by histogram buckets, never by the number of requests or the
//! horizon.

use serde::Serialize;

use super::histogram::LatencyHistogram;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Not finished within the service's timeout.
    Timeout,
    /// The site's queue was full.
    QueueFull,
    /// No site could serve it (none deployed, none allowed by residency, none reachable).
    NoEligibleSite,
    /// The replica serving it was lost (site outage, GPU failure, capacity taken back).
    ReplicaLost,
    /// The policy sent the service's requests to its fallback (the primary was not tried).
    PolicyDegraded,
    /// Its context and output do not fit an empty replica's KV cache (batched services).
    TooLarge,
}

impl FailReason {
    /// Every reason, in a fixed order.
    pub const ALL: [FailReason; 6] = [
        FailReason::Timeout,
        FailReason::QueueFull,
        FailReason::NoEligibleSite,
        FailReason::ReplicaLost,
        FailReason::PolicyDegraded,
        FailReason::TooLarge,
    ];

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::QueueFull => "queue_full",
            FailReason::NoEligibleSite => "no_eligible_site",
            FailReason::ReplicaLost => "replica_lost",
            FailReason::PolicyDegraded => "policy_degraded",
            FailReason::TooLarge => "too_large",
        }
    }
}

/// The latency parts of one finished request, in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyParts {
    /// Arrival at the origin to the last byte of the response back at the origin.
    pub end_to_end: u64,
    /// Arrival at the origin to the first token back at the origin.
    pub first_token: u64,
    /// Waiting for a slot.
    pub queue: u64,
    /// Network round trip plus loss penalty.
    pub network: u64,
    /// Holding a slot.
    pub service: u64,
    /// Time per output token after the first: (end − first token) ÷ (tokens − 1), for
    /// requests with two tokens or more of a service that keeps token metrics.
    pub per_output_token: Option<u64>,
    /// Tokens generated.
    pub generated_tokens: u32,
}

/// Requests whose latencies [`ServiceMetrics`] keeps before adding them to its histograms.
const PENDING_BATCH: usize = 128;

/// A served request's latencies, awaiting [`ServiceMetrics::settle`]. Kept whole, so that
/// holding one writes a single cache line or two.
#[derive(Debug, Clone, Copy)]
struct PendingRecord {
    end_to_end: u64,
    first_token: u64,
    queue: u64,
    network: u64,
    service: u64,
    /// Its demand stream, or `u32::MAX` for a fallback request.
    origin: u32,
}

/// Figures of one time window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    /// Requests that arrived in the window.
    pub arrived: u64,
    /// Requests that ended served in the window.
    pub served: u64,
    /// Requests that ended degraded in the window.
    pub degraded: u64,
    /// Requests that ended failed in the window.
    pub failed: u64,
    /// Of those, requests this service answered as another service's fallback (the other
    /// service counts them too).
    pub failed_standing_in: u64,
    /// End-to-end latency of requests that ended served or degraded in the window.
    pub end_to_end: LatencyHistogram,
    /// Queueing delay of requests served in the window (the batches of batch-means estimates),
    /// recorded only when the run keeps its windows whole ([`ServiceMetrics::keep_window_queues`]):
    /// no output reads it, and it would cost every request a record.
    pub queue: LatencyHistogram,
}

impl WindowStats {
    /// Bytes it holds, its histograms' counts included.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.end_to_end.heap_bytes() + self.queue.heap_bytes()
    }

    /// Whether at least `percentile` % of the requests that ended in the window ended within
    /// `bound` (failures never do); `None` when none ended.
    pub fn meets_slo(&self, percentile: f64, bound: crate::kernel::SimDuration) -> Option<bool> {
        let answered = self.served + self.degraded;
        let ended = answered + self.failed;
        (ended > 0).then(|| {
            let within = self.end_to_end.fraction_at_most(bound.as_nanos()) * answered as f64;
            within / ended as f64 >= percentile / 100.0
        })
    }
}

/// The streaming record of one service.
#[derive(Debug, Clone)]
pub struct ServiceMetrics {
    window_ns: u64,
    warmup_ns: u64,
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests served by this service.
    pub served: u64,
    /// Requests answered by a fallback.
    pub degraded: u64,
    /// Failed requests by reason, indexed like [`FailReason::ALL`].
    pub failed: [u64; FailReason::ALL.len()],
    /// End-to-end latency (after warm-up), served and degraded.
    end_to_end: LatencyHistogram,
    /// Time to first token (after warm-up), served only; kept only when it differs from the
    /// end-to-end latency (see [`ServiceMetrics::first_token`]).
    first_token: LatencyHistogram,
    tracks_first_token: bool,
    /// Time per output token after the first (after warm-up), served only; kept for batched
    /// services (see [`ServiceMetrics::with_token_metrics`]).
    pub per_output_token: LatencyHistogram,
    /// Tokens generated by requests served (all, warm-up included), when token metrics are kept.
    pub generated_tokens: Option<u64>,
    /// Queueing delay (after warm-up), served only.
    queue: LatencyHistogram,
    /// Network time (after warm-up), served only.
    network: LatencyHistogram,
    /// Service time (after warm-up), served only.
    service: LatencyHistogram,
    /// Requests served after warm-up whose latencies are not yet in the histograms above: they
    /// go in [`PENDING_BATCH`] at a time (see [`ServiceMetrics::settle`]).
    pending: Vec<PendingRecord>,
    /// End-to-end latency per origin (after warm-up), indexed like the service's demand list;
    /// kept only with two or more origins (see [`ServiceMetrics::origin`]).
    per_origin: Vec<LatencyHistogram>,
    /// The open windows' figures, from window `first_window` on.
    windows: Vec<WindowStats>,
    first_window: usize,
    /// Windows taken in which the SLO held, and windows taken in which it was judged (some
    /// request ended).
    windows_met: u64,
    windows_judged: u64,
    /// Requests after warm-up that ended within the SLO bound (failures never do).
    pub within_slo: u64,
    /// Requests after warm-up that ended (served, degraded or failed).
    pub ended_after_warmup: u64,
    slo_bound_ns: u64,
    current_window_end: u64,
    /// Whether each window records its queueing delays too.
    window_queues: bool,
}

impl ServiceMetrics {
    /// An empty record with `origins` origins, windows of `window_ns`, a warm-up and an SLO bound.
    /// `tracks_first_token` says whether the first token can come before the end (LLM services);
    /// otherwise the two latencies are the same and only one histogram is kept.
    pub fn new(
        origins: usize,
        window_ns: u64,
        warmup_ns: u64,
        slo_bound_ns: u64,
        tracks_first_token: bool,
    ) -> Self {
        ServiceMetrics {
            window_ns: window_ns.max(1),
            warmup_ns,
            arrived: 0,
            served: 0,
            degraded: 0,
            failed: [0; FailReason::ALL.len()],
            end_to_end: LatencyHistogram::new(),
            first_token: LatencyHistogram::new(),
            tracks_first_token,
            per_output_token: LatencyHistogram::new(),
            generated_tokens: None,
            queue: LatencyHistogram::new(),
            network: LatencyHistogram::new(),
            service: LatencyHistogram::new(),
            pending: Vec::with_capacity(PENDING_BATCH),
            // With one origin its histogram would equal the overall one: keep only that.
            per_origin: if origins > 1 {
                vec![LatencyHistogram::new(); origins]
            } else {
                Vec::new()
            },
            windows: Vec::new(),
            first_window: 0,
            windows_met: 0,
            windows_judged: 0,
            within_slo: 0,
            ended_after_warmup: 0,
            slo_bound_ns,
            current_window_end: 0,
            window_queues: false,
        }
    }

    /// Records each window's queueing delays too ([`WindowStats::queue`]), for checks that
    /// need a window's whole distribution.
    pub fn keep_window_queues(&mut self) {
        self.window_queues = true;
    }

    /// Keeps the time per output token and the count of generated tokens too (batched
    /// services, where both depend on the load).
    pub fn with_token_metrics(mut self, keep: bool) -> Self {
        self.generated_tokens = keep.then_some(0);
        self
    }

    fn window(&mut self, now_ns: u64) -> &mut WindowStats {
        // Time only moves forward, so the current window is almost always the last one; the
        // division is needed only when a new window starts.
        let index = if now_ns < self.current_window_end && now_ns + self.window_ns >= self.current_window_end
        {
            self.windows.len() - 1
        } else {
            self.open_window(now_ns)
        };
        &mut self.windows[index]
    }

    #[cold]
    fn open_window(&mut self, now_ns: u64) -> usize {
        let window = (now_ns / self.window_ns) as usize;
        // A window already taken gets no more requests: time only moves forward past a close.
        let index = window.saturating_sub(self.first_window);
        if index >= self.windows.len() {
            self.windows.resize_with(index + 1, WindowStats::default);
        }
        if index + 1 == self.windows.len() {
            self.current_window_end = (window as u64 + 1).saturating_mul(self.window_ns);
        }
        index
    }

    /// Takes window `window`'s figures (empty if nothing happened in it) and drops it and any
    /// window before it; counts whether it met the SLO `slo` (percentile, bound). Windows are
    /// taken in order, each once.
    pub fn take_window(
        &mut self,
        window: usize,
        slo: Option<(f64, crate::kernel::SimDuration)>,
    ) -> WindowStats {
        let index = window.checked_sub(self.first_window);
        let stats = match index {
            Some(i) if i < self.windows.len() => {
                let stats = std::mem::take(&mut self.windows[i]);
                self.windows.drain(..=i);
                stats
            }
            Some(_) => {
                self.windows.clear();
                WindowStats::default()
            }
            None => WindowStats::default(),
        };
        self.first_window = self.first_window.max(window + 1);
        // The fast path of `window` checks the last open window's end; with none open it must
        // fail so that the next request opens one.
        if self.windows.is_empty() {
            self.current_window_end = 0;
        }
        if let Some(met) = slo.and_then(|(percentile, bound)| stats.meets_slo(percentile, bound)) {
            self.windows_judged += 1;
            self.windows_met += u64::from(met);
        }
        stats
    }

    /// The windows after `window` that have figures (requests ended or arrived in them), as the
    /// index of the last one plus one: what is left to take when the run ends.
    pub fn windows_end(&self) -> usize {
        self.first_window + self.windows.len()
    }

    /// The share of windows taken in which the SLO held, of those in which some request ended.
    pub fn windows_met(&self) -> Option<f64> {
        (self.windows_judged > 0).then(|| self.windows_met as f64 / self.windows_judged as f64)
    }

    /// Bytes its open windows hold.
    pub fn window_bytes(&self) -> u64 {
        self.windows.iter().map(|w| w.bytes() as u64).sum()
    }

    /// A request arrived at `now_ns`.
    pub fn arrival(&mut self, now_ns: u64) {
        self.arrived += 1;
        self.window(now_ns).arrived += 1;
    }

    /// A request that arrived at `arrived_ns` from demand `origin` (none for a fallback request)
    /// ended served at `now_ns`.
    pub fn served(&mut self, now_ns: u64, arrived_ns: u64, origin: Option<u32>, parts: &LatencyParts) {
        self.served += 1;
        let window_queues = self.window_queues;
        let window = self.window(now_ns);
        window.served += 1;
        window.end_to_end.record(parts.end_to_end);
        if window_queues {
            window.queue.record(parts.queue);
        }
        if let Some(tokens) = &mut self.generated_tokens {
            *tokens += u64::from(parts.generated_tokens);
            if let (Some(tpot), true) = (parts.per_output_token, arrived_ns >= self.warmup_ns) {
                self.per_output_token.record(tpot);
            }
        }
        if arrived_ns >= self.warmup_ns {
            self.pending.push(PendingRecord {
                end_to_end: parts.end_to_end,
                first_token: parts.first_token,
                queue: parts.queue,
                network: parts.network,
                service: parts.service,
                origin: origin.unwrap_or(u32::MAX),
            });
            if self.pending.len() == PENDING_BATCH {
                self.settle();
            }
            self.count_slo(parts.end_to_end <= self.slo_bound_ns);
        }
    }

    /// Adds the pending requests' latencies to the run's histograms, one histogram at a time:
    /// with many services, a service's histograms leave the processor's nearest cache between
    /// two of its requests, and a batch pays each histogram's way back in once, not once per
    /// request. Called when the batch is full and when the run ends, before anything reads them.
    pub fn settle(&mut self) {
        let pending = &self.pending;
        self.end_to_end.record_all(pending.iter().map(|p| p.end_to_end));
        if self.tracks_first_token {
            self.first_token.record_all(pending.iter().map(|p| p.first_token));
        }
        self.queue.record_all(pending.iter().map(|p| p.queue));
        self.network.record_all(pending.iter().map(|p| p.network));
        self.service.record_all(pending.iter().map(|p| p.service));
        if !self.per_origin.is_empty() {
            for p in pending {
                if let Some(histogram) = self.per_origin.get_mut(p.origin as usize) {
                    histogram.record(p.end_to_end);
                }
            }
        }
        self.pending.clear();
    }

    /// A request ended degraded (answered by a fallback) with end-to-end latency `latency_ns`.
    pub fn degraded(&mut self, now_ns: u64, arrived_ns: u64, origin: Option<u32>, latency_ns: u64) {
        self.degraded += 1;
        let window = self.window(now_ns);
        window.degraded += 1;
        window.end_to_end.record(latency_ns);
        if arrived_ns >= self.warmup_ns {
            self.end_to_end.record(latency_ns);
            if let Some(histogram) = origin.and_then(|o| self.per_origin.get_mut(o as usize)) {
                histogram.record(latency_ns);
            }
            self.count_slo(latency_ns <= self.slo_bound_ns);
        }
    }

    /// A request this service took as another service's fallback ended failed; the primary
    /// counts it too.
    pub fn failed_standing_in(&mut self, now_ns: u64, arrived_ns: u64, reason: FailReason) {
        self.failed(now_ns, arrived_ns, reason);
        self.window(now_ns).failed_standing_in += 1;
    }

    /// A request ended failed.
    pub fn failed(&mut self, now_ns: u64, arrived_ns: u64, reason: FailReason) {
        self.failed[reason as usize] += 1;
        self.window(now_ns).failed += 1;
        if arrived_ns >= self.warmup_ns {
            self.count_slo(false);
        }
    }

    fn count_slo(&mut self, within: bool) {
        self.ended_after_warmup += 1;
        self.within_slo += u64::from(within);
    }

    /// End-to-end latency (after warm-up) of requests served and degraded.
    pub fn end_to_end(&self) -> &LatencyHistogram {
        self.settled(&self.end_to_end)
    }

    /// Time to first token (after warm-up) of served requests.
    pub fn first_token(&self) -> &LatencyHistogram {
        if self.tracks_first_token {
            self.settled(&self.first_token)
        } else {
            self.end_to_end()
        }
    }

    /// Queueing delay (after warm-up) of served requests.
    pub fn queue(&self) -> &LatencyHistogram {
        self.settled(&self.queue)
    }

    /// Network time (after warm-up) of served requests.
    pub fn network(&self) -> &LatencyHistogram {
        self.settled(&self.network)
    }

    /// Service time (after warm-up) of served requests.
    pub fn service(&self) -> &LatencyHistogram {
        self.settled(&self.service)
    }

    /// End-to-end latency (after warm-up) of requests from demand stream `origin`.
    pub fn origin(&self, origin: usize) -> &LatencyHistogram {
        self.settled(self.per_origin.get(origin).unwrap_or(&self.end_to_end))
    }

    /// `histogram`, which holds every request ended so far once [`settle`](Self::settle) has
    /// run since the last one.
    fn settled<'a>(&self, histogram: &'a LatencyHistogram) -> &'a LatencyHistogram {
        debug_assert!(
            self.pending.is_empty(),
            "read before `settle`: {} requests pending",
            self.pending.len()
        );
        histogram
    }

    /// All failed requests.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Requests that arrived and have not ended.
    pub fn in_flight(&self) -> u64 {
        self.arrived - self.served - self.degraded - self.failed_total()
    }

    /// Whether arrived = served + degraded + failed + in flight holds (no request ended twice).
    pub fn conserved(&self) -> bool {
        self.served + self.degraded + self.failed_total() <= self.arrived
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random latency in 1 µs – 10 s (a fixed LCG: the test needs spread, not quality).
    fn latency(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        1_000 + (*state >> 33) % 10_000_000_000
    }

    /// Latencies recorded in batches end up in the histograms exactly as if recorded one by one,
    /// across several batches and a partial one, with warm-up, degraded requests and fallback
    /// requests (no origin) mixed in.
    #[test]
    fn settled_histograms_hold_every_request_after_warm_up() {
        let warmup_ns = 1_000;
        let mut metrics = ServiceMetrics::new(2, 1_000_000, warmup_ns, 5_000_000, true);
        let [
            mut e2e,
            mut ttft,
            mut queue,
            mut network,
            mut service,
            mut origin_0,
            mut origin_1,
        ] = std::array::from_fn(|_| LatencyHistogram::new());
        let mut state = 7;
        for i in 0..(5 * PENDING_BATCH as u64 + 17) {
            let arrived_ns = i * 10;
            let origin = (i % 5 != 0).then_some((i % 2) as u32);
            metrics.arrival(arrived_ns);
            if i % 7 == 0 {
                let latency_ns = latency(&mut state);
                metrics.degraded(arrived_ns + latency_ns, arrived_ns, origin, latency_ns);
                if arrived_ns >= warmup_ns {
                    e2e.record(latency_ns);
                    match origin {
                        Some(0) => origin_0.record(latency_ns),
                        Some(_) => origin_1.record(latency_ns),
                        None => {}
                    }
                }
                continue;
            }
            let parts = LatencyParts {
                end_to_end: latency(&mut state),
                first_token: latency(&mut state),
                queue: latency(&mut state),
                network: latency(&mut state),
                service: latency(&mut state),
                ..LatencyParts::default()
            };
            metrics.served(arrived_ns + parts.end_to_end, arrived_ns, origin, &parts);
            if arrived_ns >= warmup_ns {
                e2e.record(parts.end_to_end);
                ttft.record(parts.first_token);
                queue.record(parts.queue);
                network.record(parts.network);
                service.record(parts.service);
                match origin {
                    Some(0) => origin_0.record(parts.end_to_end),
                    Some(_) => origin_1.record(parts.end_to_end),
                    None => {}
                }
            }
        }
        metrics.settle();
        assert!(
            e2e.count() > 3 * PENDING_BATCH as u64,
            "several batches were settled"
        );
        assert_eq!(metrics.end_to_end(), &e2e);
        assert_eq!(metrics.first_token(), &ttft);
        assert_eq!(metrics.queue(), &queue);
        assert_eq!(metrics.network(), &network);
        assert_eq!(metrics.service(), &service);
        assert_eq!(metrics.origin(0), &origin_0);
        assert_eq!(metrics.origin(1), &origin_1);
    }
}
