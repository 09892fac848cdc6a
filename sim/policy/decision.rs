//! The decision log: every placement, scaling and degradation decision, and every change of a
//! routing choice (not every request), with time, subject, choice and a one-line reason.

use crate::kernel::SimTime;

/// What kind of decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DecisionKind {
    /// A service's requests from an origin now go to a different site.
    RouteChange,
    /// Replicas were added or removed.
    Scale,
    /// Requests were sent to a fallback.
    Degrade,
    /// A policy's answer was not eligible and was replaced.
    Rejected,
    /// A job was given GPUs.
    Place,
    /// A job was left waiting.
    Defer,
    /// A job was interrupted.
    Interrupt,
    /// A job restarts from a checkpoint (or from zero).
    Restore,
    /// A job ended failed.
    Fail,
    /// A scripted incident started or ended.
    Incident,
    /// A policy moved a running job.
    Migrate,
}

impl DecisionKind {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::RouteChange => "route_change",
            DecisionKind::Scale => "scale",
            DecisionKind::Degrade => "degrade",
            DecisionKind::Rejected => "rejected",
            DecisionKind::Place => "place",
            DecisionKind::Defer => "defer",
            DecisionKind::Interrupt => "interrupt",
            DecisionKind::Restore => "restore",
            DecisionKind::Fail => "fail",
            DecisionKind::Incident => "incident",
            DecisionKind::Migrate => "migrate",
        }
    }
}

/// One decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When.
    pub time: SimTime,
    /// What kind.
    pub kind: DecisionKind,
    /// What it is about ("chat from edge-munich").
    pub subject: String,
    /// What was chosen.
    pub choice: String,
    /// The best choices not taken, with the policy's scores (lower is better).
    pub alternatives: String,
    /// Why, in one line.
    pub reason: String,
}

/// All decisions of a run, in time order.
#[derive(Debug, Clone, Default)]
pub struct DecisionLog {
    entries: Vec<Decision>,
}

impl DecisionLog {
    /// Records a decision.
    pub(super) fn record(
        &mut self,
        time: SimTime,
        kind: DecisionKind,
        subject: String,
        choice: String,
        alternatives: String,
        reason: String,
    ) {
        self.entries.push(Decision {
            time,
            kind,
            subject,
            choice,
            alternatives,
            reason,
        });
    }

    /// The decisions so far.
    pub fn entries(&self) -> &[Decision] {
        &self.entries
    }

    /// The decisions, owned.
    pub fn into_entries(self) -> Vec<Decision> {
        self.entries
    }
}
