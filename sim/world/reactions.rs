//! The policy's reactions: signals queued during an event are delivered after it, with a view
//! of the whole run, and the actions the policy answers with are checked and carried out here.
//! An action that does not apply (a job that is not running, a site where the service is not
//! deployed) is rejected and logged, and the run goes on.

use crate::infra::estate::Estate;
use crate::kernel::{Context, KernelError};
use crate::policy::{Action, DecisionKind, JobInfo, PlacementCandidate, Signal, View, Workloads};
use crate::vocab::ids::SiteId;
use crate::vocab::{JobId, ServiceId};

use super::jobs::Jobs;
use super::serving::Serving;
use super::{Event, World};

/// The workloads of a run, as policies see them.
struct WorkloadView<'a> {
    serving: &'a Serving,
    jobs: &'a Jobs,
}

impl Workloads for WorkloadView<'_> {
    fn jobs(&self, estate: &Estate) -> Vec<JobInfo> {
        self.jobs.infos(estate)
    }
    fn placements(&self, estate: &Estate, job: JobId) -> Vec<PlacementCandidate> {
        self.jobs.placements(estate, job)
    }
    fn service_names(&self) -> Vec<&str> {
        self.serving.services.iter().map(|s| s.name.as_str()).collect()
    }
    fn service_sites(&self, service: ServiceId) -> Vec<SiteId> {
        self.serving.sites_of(service)
    }
    fn replicas(&self, service: ServiceId, site: SiteId) -> u32 {
        self.serving.replicas_at(service, site)
    }
    fn ready_replicas(&self, service: ServiceId, site: SiteId) -> u32 {
        self.serving.ready_replicas_at(service, site)
    }
    fn queued(&self, service: ServiceId, site: SiteId) -> u32 {
        self.serving.queued_at(service, site)
    }
    fn fallback(&self, service: ServiceId) -> (bool, bool) {
        self.serving.fallback_state(service)
    }
}

impl World {
    /// Delivers the signals queued during the last event, and any the reactions raise in turn,
    /// and carries out the actions the policy answers with.
    pub(super) fn deliver_signals(&mut self, ctx: &mut Context<'_, Event>) -> Result<(), KernelError> {
        let mut actions = Vec::new();
        // Reactions can raise signals of their own (a migration frees capacity…); a bound
        // keeps a policy that keeps answering from looping forever within one instant.
        for _ in 0..MAX_ROUNDS {
            let signals = self.decisions.take_signals();
            if signals.is_empty() {
                break;
            }
            for signal in signals {
                self.ask(ctx.now(), &signal, &mut actions);
                for action in actions.drain(..) {
                    self.carry_out(ctx, action)?;
                }
            }
        }
        Ok(())
    }

    fn ask(&mut self, now: crate::kernel::SimTime, signal: &Signal, actions: &mut Vec<Action>) {
        let workloads = WorkloadView {
            serving: &self.serving,
            jobs: &self.jobs,
        };
        let view = View::with_workloads(now, &self.estate, &workloads);
        self.decisions.policy_mut().on_signal(signal, &view, actions);
    }

    /// Carries out one action, or logs why it was rejected.
    fn carry_out(&mut self, ctx: &mut Context<'_, Event>, action: Action) -> Result<(), KernelError> {
        let now = ctx.now();
        let (kind, subject, choice, reason, outcome) = match action {
            Action::Migrate { job, reason } => {
                let subject = self.job_name(job);
                let done = self.jobs.migrate(ctx, job)?;
                (
                    DecisionKind::Migrate,
                    subject,
                    "move".to_string(),
                    reason,
                    done.then_some(())
                        .ok_or("the job holds no GPUs, or is already leaving"),
                )
            }
            Action::Scale {
                service,
                site,
                replicas,
                reason,
            } => {
                let subject = format!("{} at {}", self.service_name(service), self.site_name(site));
                match self.serving.scale_to(
                    ctx,
                    &mut self.estate,
                    &mut self.decisions,
                    service,
                    site,
                    replicas,
                    reason.clone(),
                )? {
                    Ok(()) => return Ok(()), // logged by the scaling itself
                    Err(why) => {
                        self.reject(now, subject, format!("scale to {replicas}"), reason, &why);
                        return Ok(());
                    }
                }
            }
            Action::Degrade {
                service,
                active,
                reason,
            } => {
                let subject = self.service_name(service);
                let done = self.serving.set_degraded(service, active);
                let choice = if active { "fallback" } else { "primary" };
                (
                    DecisionKind::Degrade,
                    subject,
                    choice.to_string(),
                    reason,
                    done.then_some(()).ok_or("the service has no fallback"),
                )
            }
            Action::Defer { job, until, reason } => {
                let subject = self.job_name(job);
                let done = self.jobs.hold(job, until);
                let choice = format!("wait until {:.0} s", until.as_secs_f64());
                (
                    DecisionKind::Defer,
                    subject,
                    choice,
                    reason,
                    done.then_some(()).ok_or("only a waiting job can be deferred"),
                )
            }
            Action::Restore { job, site, reason } => {
                let subject = self.job_name(job);
                let done = self.jobs.pin_restore(&self.estate, job, site);
                let choice = format!("restore at {}", self.site_name(site));
                let why = "the job is not waiting to restart, or no checkpoint copy is reachable there";
                (
                    DecisionKind::Restore,
                    subject,
                    choice,
                    reason,
                    done.then_some(()).ok_or(why),
                )
            }
        };
        match outcome {
            Ok(()) => {
                // Built-in policies start their reasons with their name; others get it added.
                let policy = self.decisions.policy_name();
                let reason = if reason.starts_with(policy) {
                    reason
                } else {
                    format!("{policy}: {reason}")
                };
                self.decisions.record(now, kind, subject, choice, reason);
                if kind != DecisionKind::Migrate {
                    self.jobs
                        .place_waiting(ctx, &mut self.estate, &mut self.decisions)?;
                }
            }
            Err(why) => self.reject(now, subject, choice, reason, why),
        }
        Ok(())
    }

    fn reject(
        &mut self,
        now: crate::kernel::SimTime,
        subject: String,
        choice: String,
        reason: String,
        why: &str,
    ) {
        let policy = self.decisions.policy_name().to_string();
        self.decisions.record(
            now,
            DecisionKind::Rejected,
            subject,
            choice,
            format!("{policy} asked ({reason}), but {why}; ignored"),
        );
    }

    fn job_name(&self, job: JobId) -> String {
        self.jobs
            .jobs
            .get(job.index())
            .map_or_else(|| format!("job #{}", job.0), |j| j.def.name.clone())
    }

    fn service_name(&self, service: ServiceId) -> String {
        self.serving
            .services
            .get(service.index())
            .map_or_else(|| format!("service #{}", service.0), |s| s.name.clone())
    }

    fn site_name(&self, site: SiteId) -> String {
        self.estate
            .sites
            .get(site.index())
            .map_or_else(|| format!("site #{}", site.0), |s| s.name.clone())
    }
}

/// Rounds of signal delivery within one event.
const MAX_ROUNDS: usize = 8;
