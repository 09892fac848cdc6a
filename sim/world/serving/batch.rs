//! Iteration-level batching on the replicas of a `batched` service (the model is described in
//! [`crate::workload::batched`]): admission from the deployment's queue into a replica's batch,
//! one `StepDone` event per iteration, and the tokens each iteration produces.
//!
//! Bookkeeping is shared with the slot model: a sequence in a batch is a busy slot, and a ready
//! replica has `max_batch` slots, so utilization, the autoscaler and routing read batched
//! deployments the way they read the others. What differs is that a sequence belongs to one
//! replica, so losing a replica loses exactly its sequences.

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
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

/// A replica's batch: its sequences in admission order, and whether an iteration is running.
#[derive(Debug, Clone, Default)]
pub(super) struct Batch {
    pub(super) sequences: Vec<Sequence>,
    pub(super) stepping: bool,
    pub(super) kv_reserved: u64,
}

impl Batch {
    /// Whether nothing runs on the replica.
    pub(super) fn is_idle(&self) -> bool {
        self.sequences.is_empty()
    }
}

impl Deployment {
    /// Closes a metrics window of a batched deployment (integrals already advanced to its end),
    /// with `slots` sequences per replica.
    pub(super) fn close_batching_window(&mut self, slots: u128) {
        let (busy, ready, kv) = self.batching_marks;
        let replica_ns = (self.ready_slot_ns - ready) / slots;
        let batch_mean = (replica_ns > 0).then(|| (self.busy_slot_ns - busy) as f64 / replica_ns as f64);
        let bounded = self.kv_capacity != u64::MAX && replica_ns > 0;
        let kv_occupancy = bounded
            .then(|| (self.kv_reserved_ns - kv) as f64 / (replica_ns as f64 * self.kv_capacity as f64));
        self.batching.push(BatchWindow {
            batch_mean,
            kv_occupancy,
        });
        self.batching_marks = (self.busy_slot_ns, self.ready_slot_ns, self.kv_reserved_ns);
    }
}

/// The KV tokens a request reserves: its whole context and output.
fn kv_need(request: &Request) -> u64 {
    u64::from(request.context) + u64::from(request.generated.max(1))
}

impl Serving {
    /// A request reached a deployment of a batched service: it joins an idle replica at once if
    /// nobody waits before it, fails if it can never fit a replica's cache, and otherwise waits
    /// for the end of an iteration. Returns `false` when it is to be queued.
    pub(super) fn enter_batched<E: From<ServingEvent>>(
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
            .position(|r| r.ready && !r.batch.stepping);
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
    pub(super) fn pump<E: From<ServingEvent>>(
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
            if r.ready && !r.batch.stepping {
                self.admit(ctx, estate, decider, at, replica)?;
                self.start_step(ctx, at, replica)?;
            }
        }
        Ok(())
    }

    /// Moves requests from the head of the queue into replica `replica`'s batch while it has
    /// room and its cache can hold them; stops at the first that does not fit (first come,
    /// first served: nobody overtakes it).
    fn admit<E: From<ServingEvent>>(
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
            let fits = batch.kv_reserved.saturating_add(kv_need(request)) <= d.kv_capacity;
            if batch.sequences.len() >= max_batch as usize || !fits {
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

    /// Starts the next iteration of replica `replica` if it has sequences: hands out the
    /// prefill budget in admission order, and schedules the iteration's end.
    fn start_step<E: From<ServingEvent>>(
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
        for sequence in &mut r.batch.sequences {
            sequence.work = if sequence.prefilled {
                decoding += 1;
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
            if let Work::Prefill(tokens) = sequence.work {
                prefill_tokens += u64::from(tokens);
            }
        }
        r.batch.stepping = true;
        let reference_ns = spec.step_ns(decoding, prefill_tokens);
        let step = if speed == 1.0 {
            reference_ns
        } else {
            // Times are non-negative, so adding ½ and truncating rounds to nearest.
            (reference_ns as f64 / speed + 0.5) as u64
        };
        let done = ServingEvent::StepDone {
            deployment: d.id,
            replica: r.id,
        };
        schedule_after(ctx, SimDuration::from_nanos(step), done)
    }

    /// An iteration of replica `replica_id` of deployment `at` ends: every sequence that
    /// decoded gains a token, prompts that finished give their first token, sequences with all
    /// their tokens end, the batch takes new requests, and the next iteration starts.
    pub(super) fn step_done<E: From<ServingEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        at: Position,
        replica_id: u32,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let d = &mut self.services[at.0.index()].deployments[at.1 as usize];
        // The replica may have been lost during the iteration; its sequences failed with it.
        let Some(replica) = d.replicas.iter().position(|r| r.id == replica_id) else {
            return Ok(());
        };
        let batch = &mut d.replicas[replica].batch;
        batch.stepping = false;
        let mut finished = Vec::new();
        batch.sequences.retain_mut(|sequence| {
            match sequence.work {
                Work::Idle => return true,
                Work::Decode => sequence.emitted += 1,
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
        for (id, _) in finished {
            let request = self.release(id);
            self.complete(now, estate, &request);
        }
        self.admit(ctx, estate, decider, at, replica)?;
        self.start_step(ctx, at, replica)
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
