//! Iteration-level batching on the replicas of a `batched` service (the model is described in
//! [`crate::workload::batched`]): admission from the deployment's queue into a replica's batch,
//! the iterations, and the tokens each iteration produces.
//!
//! One `StepDone` event ends a *run* of iterations. While every sequence in a batch decodes,
//! consecutive iterations are identical until the first sequence finishes, so they are scheduled
//! as one run that ends there. Skipping the boundaries inside a run is exact as long as nothing
//! could be admitted at them; a batch's room and cache only change at its own run ends, so the
//! one thing that can is a queued request that fits. [`Serving::watch_queue_head`] therefore cuts
//! the run of the replica whose next boundary is the earliest at which the queue's head fits, and
//! the request joins there, exactly as with one event per iteration. A day of steady load then
//! costs a few events per request rather than one per iteration.
//!
//! Bookkeeping is shared with the slot model: a sequence in a batch is a busy slot, and a ready
//! replica has `max_batch` slots, so utilization, the autoscaler and routing read batched
//! deployments the way they read the others. What differs is that a sequence belongs to one
//! replica, so losing a replica loses exactly its sequences.

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimTime};
use crate::metrics::record::BatchWindow;
use crate::metrics::service::FailReason;
use crate::policy::Decider;

use super::*;

/// One request in a replica's batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sequence {
    request: RequestSlot,
    /// Prompt tokens not yet prefilled.
    prefill_left: u32,
    /// Whether its prompt is done (its first token is out).
    prefilled: bool,
    /// Tokens it has produced.
    emitted: u32,
    /// Tokens it produces in all (at least one).
    target: u32,
    /// KV-cache tokens reserved for it.
    kv_tokens: u64,
    /// What it does in the running iteration.
    work: Work,
}

/// A sequence's part in one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Nothing (its prompt waits for prefill budget).
    Idle,
    /// Prefills this many prompt tokens.
    Prefill(u32),
    /// Decodes one token.
    Decode,
}

/// A replica's batch: its sequences in admission order, and the run of iterations in progress.
#[derive(Debug, Clone, Default)]
pub(super) struct Batch {
    pub(super) sequences: Vec<Sequence>,
    run: Option<Run>,
    /// Runs scheduled so far, which numbers them.
    runs: u32,
    pub(super) kv_reserved: u64,
}

/// Identical iterations scheduled as one event.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: SimTime,
    step_ns: u64,
    steps: u32,
}

impl Run {
    fn end_ns(&self) -> u64 {
        self.start.as_nanos() + u64::from(self.steps) * self.step_ns
    }

    /// The iterations done by the first boundary at or after `now` (at least one).
    fn steps_by(&self, now: SimTime) -> u32 {
        let elapsed = now.as_nanos() - self.start.as_nanos();
        (elapsed.div_ceil(self.step_ns.max(1)).max(1)).min(u64::from(self.steps)) as u32
    }
}

impl Batch {
    /// Whether nothing runs on the replica.
    pub(super) fn is_idle(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Whether a run of iterations is in progress.
    fn stepping(&self) -> bool {
        self.run.is_some()
    }

    /// Whether a request needing `kv_tokens` of cache could join now.
    fn has_room(&self, max_batch: u32, kv_tokens: u64, kv_capacity: u64) -> bool {
        self.sequences.len() < max_batch as usize && self.kv_reserved.saturating_add(kv_tokens) <= kv_capacity
    }
}

impl Deployment {
    /// Closes a metrics window of a batched deployment (integrals already advanced to its end),
    /// with `slots` sequences per replica: its batch size and KV-cache occupancy over it.
    pub(super) fn close_batching_window(&mut self, slots: u128) -> BatchWindow {
        let (busy, ready, kv) = self.batching_marks;
        let replica_ns = (self.ready_slot_ns - ready) / slots;
        let batch_mean = (replica_ns > 0).then(|| (self.busy_slot_ns - busy) as f64 / replica_ns as f64);
        let bounded = self.kv_capacity != u64::MAX && replica_ns > 0;
        let kv_occupancy = bounded
            .then(|| (self.kv_reserved_ns - kv) as f64 / (replica_ns as f64 * self.kv_capacity as f64));
        self.batching_marks = (self.busy_slot_ns, self.ready_slot_ns, self.kv_reserved_ns);
        BatchWindow {
            batch_mean,
            kv_occupancy,
        }
    }
}

/// Schedules the end of replica `r`'s run at `end_ns`, under a new run number so that an
/// earlier event for the run (before it was cut short) is recognised as stale.
fn schedule_run_end<E: From<ServingEvent> + Copy>(
    ctx: &mut Context<'_, E>,
    deployment: DeploymentId,
    r: &mut Replica,
    end_ns: u64,
) -> Result<(), KernelError> {
    r.batch.runs = r.batch.runs.wrapping_add(1);
    let done = ServingEvent::StepDone {
        deployment,
        replica: r.id,
        run: r.batch.runs,
    };
    ctx.schedule_at(SimTime::from_nanos(end_ns), done.into())
}

/// The KV tokens a request reserves: its whole context and output.
fn kv_need(request: &Request) -> u64 {
    u64::from(request.context) + u64::from(request.generated.max(1))
}

impl Serving {
    /// A request reached a deployment of a batched service: it joins an idle replica at once if
    /// nobody waits before it, fails if it can never fit a replica's cache, and otherwise waits
    /// for the end of an iteration. Returns `false` when it is to be queued.
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn enter_batched<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        id: RequestSlot,
    ) -> Result<bool, KernelError> {
        let request = &self.requests[id.index()];
        let (s, d) = (request.service.index(), request.deployment as usize);
        let deployment = &self.services[s].deployments[d];
        if kv_need(request) > deployment.kv_capacity {
            let request = self.release(id);
            self.fail(ctx, estate, decider, request, FailReason::TooLarge)?;
            return Ok(true);
        }
        if !deployment.queue.is_empty() {
            return Ok(false);
        }
        let idle = deployment
            .replicas
            .iter()
            .position(|r| r.ready && !r.draining && !r.batch.stepping());
        let Some(replica) = idle else {
            return Ok(false);
        };
        let at = (request.service, d as u32);
        self.join(ctx.now(), at, replica, id);
        self.start_step(ctx, at, replica)?;
        Ok(true)
    }

    /// Fills every ready replica that is between iterations from the queue, and starts its next
    /// iteration; requests past their deadline at the head of the queue fail on the way.
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn pump<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
    ) -> Result<(), KernelError> {
        let count = self.services[at.0.index()].deployments[at.1 as usize]
            .replicas
            .len();
        for replica in 0..count {
            let r = &self.services[at.0.index()].deployments[at.1 as usize].replicas[replica];
            if r.ready && !r.draining && !r.batch.stepping() {
                self.admit(ctx, estate, decider, at, replica)?;
                self.start_step(ctx, at, replica)?;
            }
        }
        self.watch_queue_head(ctx, at)
    }

    /// Moves requests from the head of the queue into replica `replica`'s batch while it has
    /// room and its cache can hold them; stops at the first that does not fit (first come,
    /// first served: nobody overtakes it).
    fn admit<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
        replica: usize,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        loop {
            let state = &mut self.services[at.0.index()];
            let (max_batch, timeout_ns) = (state.slots_per_replica, state.timeout_ns);
            let d = &mut state.deployments[at.1 as usize];
            let Some(&head) = d.queue.front() else {
                return Ok(());
            };
            let request = &self.requests[head.index()];
            let batch = &d.replicas[replica].batch;
            if request.arrived.as_nanos().saturating_add(timeout_ns) <= now.as_nanos() {
                d.queue.pop_front();
                let request = self.release(head);
                self.fail(ctx, estate, decider, request, FailReason::Timeout)?;
                continue;
            }
            if !batch.has_room(max_batch, kv_need(request), d.kv_capacity) {
                return Ok(());
            }
            d.queue.pop_front();
            self.join(now, at, replica, head);
        }
    }

    /// Puts request `id` into replica `replica`'s batch.
    fn join(&mut self, now: SimTime, at: Position, replica: usize, id: RequestSlot) {
        let request = &mut self.requests[id.index()];
        request.started = now;
        request.stage = Stage::InService;
        let sequence = Sequence {
            request: id,
            prefill_left: request.context,
            prefilled: false,
            emitted: 0,
            target: request.generated.max(1),
            kv_tokens: kv_need(request),
            work: Work::Idle,
        };
        let d = &mut self.services[at.0.index()].deployments[at.1 as usize];
        d.integrate(now);
        d.busy += 1;
        d.kv_reserved += sequence.kv_tokens;
        let batch = &mut d.replicas[replica].batch;
        batch.kv_reserved += sequence.kv_tokens;
        batch.sequences.push(sequence);
        d.kv_peak = d.kv_peak.max(batch.kv_reserved);
    }

    /// Starts the next iterations of replica `replica` if it has sequences: hands out the
    /// prefill budget in admission order, and schedules the end of the run. A run is one
    /// iteration, or, while every sequence decodes, all of them until the first sequence is done.
    fn start_step<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        at: Position,
        replica: usize,
    ) -> Result<(), KernelError> {
        let state = &mut self.services[at.0.index()];
        let Some(spec) = state.time.batched().copied() else {
            return Ok(());
        };
        let d = &mut state.deployments[at.1 as usize];
        let speed = d.speed;
        let r = &mut d.replicas[replica];
        if r.batch.sequences.is_empty() {
            return Ok(());
        }
        let mut budget = spec.prefill_chunk.unwrap_or(u32::MAX);
        let (mut decoding, mut prefill_tokens) = (0u32, 0u64);
        let mut steps = u32::MAX;
        for sequence in &mut r.batch.sequences {
            sequence.work = if sequence.prefilled {
                decoding += 1;
                steps = steps.min(sequence.target - sequence.emitted);
                Work::Decode
            } else if sequence.prefill_left <= budget {
                budget -= sequence.prefill_left;
                Work::Prefill(sequence.prefill_left)
            } else if budget > 0 {
                let chunk = budget;
                budget = 0;
                Work::Prefill(chunk)
            } else {
                Work::Idle
            };
            if !matches!(sequence.work, Work::Decode) {
                steps = 1;
            }
            if let Work::Prefill(tokens) = sequence.work {
                prefill_tokens += u64::from(tokens);
            }
        }
        let reference_ns = spec.step_ns(decoding, prefill_tokens);
        let step_ns = if speed == 1.0 {
            reference_ns
        } else {
            // Times are non-negative, so adding ½ and truncating rounds to nearest.
            (reference_ns as f64 / speed + 0.5) as u64
        };
        let start = ctx.now();
        r.batch.run = Some(Run {
            start,
            step_ns,
            steps,
        });
        let end_ns = start
            .as_nanos()
            .saturating_add(u64::from(steps).saturating_mul(step_ns));
        schedule_run_end(ctx, d.id, r, end_ns)
    }

    /// Makes sure the request at the head of a batched deployment's queue joins at the first
    /// iteration boundary where it fits: if that boundary lies inside some replica's run, the
    /// run is cut there. Boundaries that end a run need nothing: the run's end admits.
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn watch_queue_head<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        at: Position,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.services[at.0.index()];
        let max_batch = state.slots_per_replica;
        let d = &mut state.deployments[at.1 as usize];
        let Some(&head) = d.queue.front() else {
            return Ok(());
        };
        let need = kv_need(&self.requests[head.index()]);
        let mut earliest: Option<(u64, bool, usize)> = None;
        for (index, r) in d.replicas.iter().enumerate() {
            let Some(run) = r.batch.run else { continue };
            if !r.ready || r.draining || !r.batch.has_room(max_batch, need, d.kv_capacity) {
                continue;
            }
            let steps = run.steps_by(now);
            let boundary = run.start.as_nanos() + u64::from(steps) * run.step_ns;
            let cut = steps < run.steps;
            if earliest.is_none_or(|(best, _, _)| boundary < best) {
                earliest = Some((boundary, cut, index));
            }
        }
        let Some((boundary, true, index)) = earliest else {
            return Ok(());
        };
        let r = &mut d.replicas[index];
        let Some(run) = r.batch.run.as_mut() else {
            return Ok(());
        };
        run.steps = run.steps_by(now);
        debug_assert_eq!(run.end_ns(), boundary);
        schedule_run_end(ctx, d.id, r, boundary)
    }

    /// A run of iterations of replica `replica_id` of deployment `at` ends: every sequence that
    /// decoded gains a token per iteration, prompts that finished give their first token,
    /// sequences with all their tokens end, the batch takes new requests, and the next run
    /// starts.
    #[inline(never)] // kept out of line: see `Serving`
    pub(super) fn step_done<E: From<ServingEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
        replica_id: u32,
        run_number: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let d = &mut self.services[at.0.index()].deployments[at.1 as usize];
        // The replica may have been lost during the iteration; its sequences failed with it.
        let Some(replica) = d.replicas.iter().position(|r| r.id == replica_id) else {
            return Ok(());
        };
        let batch = &mut d.replicas[replica].batch;
        if batch.runs != run_number {
            return Ok(()); // the run was cut short, and a later event ends it
        }
        let Some(run) = batch.run.take() else {
            return Ok(());
        };
        let mut finished = std::mem::take(&mut self.finished);
        batch.sequences.retain_mut(|sequence| {
            match sequence.work {
                Work::Idle => return true,
                Work::Decode => sequence.emitted += run.steps,
                Work::Prefill(tokens) => {
                    sequence.prefill_left -= tokens;
                    if sequence.prefill_left > 0 {
                        return true;
                    }
                    sequence.prefilled = true;
                    sequence.emitted = 1;
                    let request = &mut self.requests[sequence.request.index()];
                    request.first_token_ns = now.saturating_since(request.started).as_nanos();
                }
            }
            if sequence.emitted < sequence.target {
                return true;
            }
            finished.push((sequence.request, sequence.kv_tokens));
            false
        });
        let freed: u64 = finished.iter().map(|&(_, kv)| kv).sum();
        batch.kv_reserved -= freed;
        d.integrate(now);
        d.busy -= finished.len() as u32;
        d.kv_reserved -= freed;
        for &(id, _) in &finished {
            let request = self.release(id);
            requests::complete(&mut self.services, estate, now, &request);
        }
        finished.clear();
        self.finished = finished;
        let r = &self.services[at.0.index()].deployments[at.1 as usize].replicas[replica];
        if r.draining {
            if r.batch.is_idle() {
                self.drop_replica(now, estate, at, replica);
                return Ok(());
            }
            return self.start_step(ctx, at, replica);
        }
        self.admit(ctx, estate, decider, at, replica)?;
        self.start_step(ctx, at, replica)?;
        self.watch_queue_head(ctx, at)
    }

    /// Takes the sequences out of a replica that is being dropped, freeing their slots and cache;
    /// returns their requests, still held, for the caller to fail.
    pub(super) fn orphan(&mut self, now: SimTime, at: Position, replica: usize) -> Vec<RequestSlot> {
        let d = &mut self.services[at.0.index()].deployments[at.1 as usize];
        let batch = std::mem::take(&mut d.replicas[replica].batch);
        d.integrate(now);
        d.busy -= batch.sequences.len() as u32;
        d.kv_reserved -= batch.kv_reserved;
        batch.sequences.iter().map(|s| s.request).collect()
    }
}
