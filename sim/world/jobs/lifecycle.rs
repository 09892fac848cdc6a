//! A job's life from outside its GPUs: sources and submission, the waiting queue and its
//! periodic retry, completion and failure, interruptions, preemption notices and eviction.

use std::cmp::Reverse;

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError, SimDuration, SimTime};
use crate::metrics::job::Interruption;
use crate::policy::{Decider, DecisionKind};
use crate::vocab::JobId;
use crate::vocab::Tier;
use crate::workload::job::{InterruptCause, draw_poisson_job};

use super::*;

impl Jobs {
    pub(super) fn schedule_source<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        s: usize,
        from: SimTime,
    ) -> Result<(), KernelError> {
        let source = &mut self.sources[s];
        let at = match &mut source.kind {
            SourceKind::Poisson {
                remaining: Some(0), ..
            } => return Ok(()),
            SourceKind::Poisson {
                rate_per_sec,
                gpus,
                duration,
                rng,
                ..
            } => {
                // Draws for the next job are made now so the stream is consumed in one order.
                let (gap, size, runtime) = draw_poisson_job(rng, *rate_per_sec, gpus, duration);
                source.template.gpus = size;
                source.template.work_ns = runtime;
                from.saturating_add(SimDuration::from_nanos(gap))
            }
            SourceKind::Trace { trace, next } => match trace.trace.jobs().get(*next) {
                Some(job) => source
                    .template
                    .submit
                    .saturating_add(SimDuration::from_nanos(job.submit_ns)),
                None => return Ok(()),
            },
        };
        let next = JobEvent::Source {
            source: SourceId(s as u32),
        };
        ctx.schedule_at(at.max(ctx.now()), next.into())
    }

    /// A source's next job arrives now.
    pub(super) fn source_arrival<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        source: SourceId,
    ) -> Result<(), JobsError> {
        let s = source.0 as usize;
        if self.jobs.made() >= MAX_JOBS {
            return Err(JobsError::TooMany {
                source_name: self.sources[s].name.clone(),
            });
        }
        let now = ctx.now();
        let src = &mut self.sources[s];
        src.made += 1;
        let mut def = src.template.clone();
        let mut unknown_accelerators = None;
        def.name = format!("{}-{}", src.name, src.made);
        def.submit = now;
        def.deadline = src
            .template
            .deadline
            .map(|d| now.saturating_add(d.saturating_since(src.template.submit)));
        match &mut src.kind {
            SourceKind::Poisson { remaining, .. } => {
                if let Some(left) = remaining {
                    *left -= 1;
                }
            }
            SourceKind::Trace { trace, next } => {
                if let Some(row) = trace.trace.jobs().get(*next) {
                    def.gpus = row.gpus.max(1);
                    def.work_ns = row.duration_ns.max(1);
                    // The trace's priorities are relative to the source's.
                    def.priority = src.template.priority.saturating_add(row.priority);
                    def.preemptible = src.template.preemptible || row.preemptible;
                    if !row.name.is_empty() {
                        def.name = format!("{}-{}", src.name, row.name);
                    }
                    if def.accelerators.is_empty() && !row.accelerators.is_empty() {
                        def.accelerators = trace.accelerators.get(*next).cloned().unwrap_or_default();
                        if def.accelerators.is_empty() {
                            unknown_accelerators = Some(row.accelerators.join("|"));
                        }
                    }
                    if !src.explicit_tiers && def.preemptible && !def.tiers.contains(&Tier::Spot) {
                        def.tiers.push(Tier::Spot);
                    }
                }
                *next += 1;
            }
        }
        let job = self.jobs.push(JobState::new(def));
        self.schedule_source(ctx, s, now)?;
        match unknown_accelerators {
            // Running it elsewhere would replay a different workload than the trace's.
            Some(wanted) => {
                self.jobs[job.index()].record.submitted = Some(now);
                let why = format!("accepts only accelerators {wanted}, which the estate does not have");
                self.end_failed(now, job, "reject", why, decider);
            }
            None => self.submit(ctx, estate, decider, job)?,
        }
        Ok(())
    }

    /// Job `job` is submitted now.
    pub(super) fn submit<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job.index()];
        state.record.submitted = Some(now);
        self.requeue(now, job);
        self.place_waiting(ctx, estate, decider)
    }

    /// Puts `job` in the waiting queue from `now`.
    pub(super) fn requeue(&mut self, now: SimTime, job: JobId) {
        let state = &mut self.jobs[job.index()];
        state.enter_phase(Phase::Waiting, now);
        state.waiting_since = now;
        self.waiting.push(job);
    }

    /// Offers GPUs to every waiting job, in order of priority and then of waiting time.
    pub fn place_waiting<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
    ) -> Result<(), KernelError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let jobs = &self.jobs;
        self.waiting.sort_by_key(|&j| {
            (
                Reverse(jobs[j.index()].def.priority),
                jobs[j.index()].waiting_since,
                j,
            )
        });
        // A job larger than every free block cannot be placed: skip it without listing
        // candidates (once it has been told why it waits), so a long queue stays cheap.
        let mut largest_free = largest_free_block(estate);
        for j in std::mem::take(&mut self.waiting) {
            let state = &self.jobs[j.index()];
            if state.deferred && state.def.gpus > largest_free {
                self.waiting.push(j);
                continue;
            }
            if self.try_place(ctx, estate, decider, j)? {
                largest_free = largest_free_block(estate);
            } else {
                self.waiting.push(j);
            }
        }
        if !self.waiting.is_empty() && !self.retry_pending {
            self.retry_pending = true;
            ctx.schedule_in(RETRY_INTERVAL, JobEvent::Retry.into())?;
        }
        Ok(())
    }

    /// The periodic offer to waiting jobs.
    pub(super) fn retry<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
    ) -> Result<(), KernelError> {
        self.retry_pending = false;
        self.place_waiting(ctx, estate, decider)
    }

    pub(super) fn complete<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        self.release(now, estate, job);
        let state = &mut self.jobs[job.index()];
        state.enter_phase(Phase::Completed, now);
        state.record.ended = Some(now);
        state.timer = state.timer.wrapping_add(1);
        self.note_ended(job);
        self.place_waiting(ctx, estate, decider)
    }

    /// Ends `job` failed, noting and logging why.
    pub(super) fn end_failed(
        &mut self,
        now: SimTime,
        job: JobId,
        choice: &str,
        why: String,
        decider: &mut Decider,
    ) {
        let state = &mut self.jobs[job.index()];
        state.enter_phase(Phase::Failed, now);
        state.record.ended = Some(now);
        state.timer = state.timer.wrapping_add(1);
        decider.record(
            now,
            DecisionKind::Fail,
            state.def.name.clone(),
            choice.into(),
            why.clone(),
        );
        state.record.note = why;
        self.note_ended(job);
    }

    /// Marks a source job that ended to leave memory once nothing of it is in flight
    /// ([`Jobs::retire_ended`]).
    fn note_ended(&mut self, job: JobId) {
        if job.index() >= self.singles {
            self.ended.push(job);
        }
    }

    /// Gives the job's GPUs back, accounting the time held.
    pub(super) fn release(&mut self, now: SimTime, estate: &mut Estate, job: JobId) {
        let state = &mut self.jobs[job.index()];
        state.close_setup_time(now);
        if let Some(holding) = state.holding.take() {
            estate.release(now, holding.allocation);
            state.record.held_gpu_ns +=
                state.gpus() * u128::from(now.saturating_since(holding.since).as_nanos());
        }
    }

    pub(super) fn cancel_flows(&mut self, now: SimTime, estate: &mut Estate, job: JobId) {
        for flow in std::mem::take(&mut self.jobs[job.index()].flows) {
            cancel_and_bill(now, estate, flow);
        }
    }

    /// Stops `job` now for `cause`: work since its last durable checkpoint is lost, its GPUs
    /// are released, and it waits to be placed again (or fails after too many interruptions).
    pub fn interrupt<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
        cause: InterruptCause,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job.index()];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        let in_phase = now.saturating_since(state.phase_since).as_nanos();
        match state.phase {
            Phase::Running => state.at_risk_ns += in_phase,
            Phase::Checkpointing => state.record.checkpoint_gpu_ns += state.gpus() * u128::from(in_phase),
            _ => {}
        }
        let lost_ns = state.at_risk_ns;
        state.record.lost_gpu_ns += state.gpus() * u128::from(lost_ns);
        state.at_risk_ns = 0;
        state.segment_ns = 0;
        state.leaving = None;
        state.evicting = None;
        state.record.interruptions[cause as usize] += 1;
        state.needs_restore = true;
        state.open_interruption = Some(self.interruptions.len());
        let lost_gpu_ns = state.gpus() * u128::from(lost_ns);
        self.interruptions.push(Interruption {
            job,
            at: now,
            cause,
            site: holding.site,
            lost_gpu_ns,
            resumed: None,
        });
        self.cancel_flows(now, estate, job);
        self.release(now, estate, job);
        let state = &mut self.jobs[job.index()];
        let pool = estate.pools[holding.pool.index()].name.clone();
        decider.record(
            now,
            DecisionKind::Interrupt,
            state.def.name.clone(),
            cause.as_str().into(),
            format!(
                "on {pool}/{}; {:.1} GPU-hours of compute since the last checkpoint lost",
                holding.tier.as_str(),
                state.gpus() as f64 * lost_ns as f64 / crate::workload::job::NANOS_PER_HOUR
            ),
        );
        let gave_up = state
            .def
            .max_interruptions
            .is_some_and(|max| state.record.interrupted() >= max);
        if gave_up {
            let why = format!("gave up after {} interruptions", state.record.interrupted());
            self.end_failed(now, job, "give up", why, decider);
        } else {
            state.timer = state.timer.wrapping_add(1);
            self.requeue(now, job);
        }
        self.place_waiting(ctx, estate, decider)
    }

    /// Warns `job` that it loses its GPUs in `notice`. With time to write a checkpoint it cuts
    /// its segment short and checkpoints, then leaves without losing work; otherwise it keeps
    /// going until the notice runs out and is interrupted then.
    pub fn preempt<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        job: JobId,
        notice: SimDuration,
        cause: InterruptCause,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        let state = &mut self.jobs[job.index()];
        let Some(holding) = state.holding else {
            return Ok(());
        };
        let write_ns = state.def.checkpoint.map(|c| c.write_ns);
        match (state.phase, write_ns) {
            (Phase::Running, Some(write)) if write <= notice.as_nanos() => {
                let elapsed = now.saturating_since(state.phase_since).as_nanos();
                state.at_risk_ns += elapsed;
                state.segment_ns = ((elapsed as f64 * holding.speed) as u64).min(state.segment_ns);
                state.enter_phase(Phase::Checkpointing, now);
                state.leaving = Some(cause);
                self.set_timer(ctx, job, write)
            }
            (Phase::Checkpointing, Some(write))
                if now.saturating_since(state.phase_since).as_nanos() + notice.as_nanos() >= write =>
            {
                state.leaving = Some(cause);
                Ok(())
            }
            _ => {
                state.evicting = Some(cause);
                // Staging or restoring, nothing is at risk: the job gives the GPUs back at once
                // rather than start work it could not save.
                let delay = match state.phase {
                    Phase::Staging | Phase::Restoring => SimDuration::ZERO,
                    _ => notice,
                };
                ctx.schedule_at(
                    now.saturating_add(delay),
                    JobEvent::Eviction {
                        job,
                        placement: state.placement,
                    }
                    .into(),
                )
            }
        }
    }

    /// A preemption notice ran out.
    pub(super) fn eviction<E: From<JobEvent> + Copy>(
        &mut self,
        ctx: &mut Context<'_, E>,
        estate: &mut Estate,
        decider: &mut Decider,
        job: JobId,
        placement: u32,
    ) -> Result<(), KernelError> {
        let Some(state) = self.jobs.get(job.index()) else {
            return Ok(());
        };
        match state.evicting {
            Some(cause) if state.placement == placement && state.holding.is_some() => {
                self.interrupt(ctx, estate, decider, job, cause)
            }
            _ => Ok(()),
        }
    }
}
