//! Recovery figures of scripted incidents: how long until someone would notice, how long until
//! service was whole again, how long the backlog took to drain, and what the incident cost.
//!
//! Definitions (all times in seconds from the incident's start unless said otherwise):
//! - **time to detect**: to the end of the first metrics window, from the one the incident
//!   starts in, in which an affected service misses its SLO (the SLO's share of requests within
//!   the bound; failures count as misses). `null` when no affected SLO broke.
//! - **time to recover**: until every affected service meets its SLO again for
//!   `recovery_windows` consecutive windows (measured to the start of the first of them; 0 if
//!   none broke) and every job the incident interrupted computes again. `null` when that does not
//!   happen before the end of the run.
//! - **backlog drain**: from the incident's end (its start, for an instant incident) until the
//!   backlog — requests queued at services plus jobs waiting for GPUs, sampled at each window's
//!   end — is back at or below its level at the last window end before the incident.
//! - **during**: from the start until the end or until recovery, whichever is later (to the end
//!   of the run if neither comes), counted in whole windows for requests and prorated over the
//!   ledger's entries for cost.
//!
//! A figure that cannot be given is `null` with a note saying why, never a made-up number.

use std::collections::BTreeMap;

use serde::Serialize;

use super::job::Interruption;
use super::service::ServiceMetrics;
use crate::infra::ledger::Ledger;
use crate::kernel::{SimDuration, SimTime};
use crate::workload::job::{InterruptCause, NANOS_PER_HOUR};

/// A service as recovery needs it.
pub struct ServiceView<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its record.
    pub metrics: &'a ServiceMetrics,
    /// Its SLO: percentile (e.g. 99.0) and bound.
    pub slo: Option<(f64, SimDuration)>,
}

/// What the run recorded, shared by all incidents.
pub struct RunRecord<'a> {
    /// Width of a metrics window in ns.
    pub window_ns: u64,
    /// Consecutive good windows that count as recovered.
    pub recovery_windows: u32,
    /// The end of the run.
    pub horizon: SimTime,
    /// Backlog at the end of each window.
    pub backlog: &'a [u64],
    /// Every service.
    pub services: Vec<ServiceView<'a>>,
    /// Every job interruption.
    pub interruptions: &'a [Interruption],
    /// The cost ledger.
    pub ledger: &'a Ledger,
}

/// One incident as recovery needs it.
pub struct IncidentView {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// When it started.
    pub start: SimTime,
    /// When it ended (`None`: at the end of the run, or instant — see `instant`).
    pub end: Option<SimTime>,
    /// Whether it happened at an instant.
    pub instant: bool,
    /// Services it affects (indices into [`RunRecord::services`]).
    pub affected: Vec<usize>,
    /// The interruption cause it produces, and for how long after its start.
    pub interrupts: Option<(InterruptCause, SimDuration)>,
}

/// The recovery figures of one incident, as written to `summary.json` and `incidents.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentSummary {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Start, seconds from the start of the run.
    pub start_s: f64,
    /// End, seconds from the start of the run (`null`: instant or until the end).
    pub end_s: Option<f64>,
    /// See the module documentation.
    pub time_to_detect_s: Option<f64>,
    /// See the module documentation.
    pub time_to_recover_s: Option<f64>,
    /// See the module documentation.
    pub backlog_drain_s: Option<f64>,
    /// Requests failed during the incident, over all services.
    pub requests_failed: u64,
    /// Requests degraded during the incident, over all services.
    pub requests_degraded: u64,
    /// Job interruptions it caused.
    pub jobs_interrupted: u64,
    /// Interrupted jobs that computed again at another site.
    pub jobs_failed_over: u64,
    /// GPU-hours of compute its interruptions threw away.
    pub gpu_hours_lost: f64,
    /// Everything spent during it, in USD.
    pub cost_during_usd: f64,
    /// The services it affects.
    pub affected_services: Vec<String>,
    /// Why a figure is `null`, by figure.
    pub notes: BTreeMap<&'static str, String>,
}

impl RunRecord<'_> {
    fn windows(&self) -> u64 {
        self.horizon.as_nanos().div_ceil(self.window_ns.max(1))
    }

    fn window_of(&self, t: SimTime) -> u64 {
        t.as_nanos() / self.window_ns.max(1)
    }

    fn window_start(&self, k: u64) -> SimTime {
        SimTime::from_nanos(k.saturating_mul(self.window_ns))
    }

    /// Whether service `s` met its SLO in window `k` (a window without requests, or a service
    /// without an SLO, does).
    fn good(&self, s: usize, k: u64) -> bool {
        let service = &self.services[s];
        let Some((percentile, bound)) = service.slo else {
            return true;
        };
        service
            .metrics
            .windows
            .get(k as usize)
            .and_then(|w| w.meets_slo(percentile, bound))
            .unwrap_or(true)
    }

    fn all_good(&self, affected: &[usize], k: u64) -> bool {
        affected.iter().all(|&s| self.good(s, k))
    }
}

fn seconds(d: SimDuration) -> f64 {
    d.as_secs_f64()
}

/// The recovery figures of `incident`.
pub fn summarize(incident: &IncidentView, run: &RunRecord<'_>) -> IncidentSummary {
    let mut notes = BTreeMap::new();
    let first = run.window_of(incident.start);
    let windows = run.windows();
    let first_bad = (first..windows).find(|&k| !run.all_good(&incident.affected, k));
    let time_to_detect_s = match first_bad {
        Some(k) => Some(seconds(run.window_start(k + 1).saturating_since(incident.start))),
        None => {
            notes.insert(
                "time_to_detect_s",
                "no affected service missed its SLO".to_string(),
            );
            None
        }
    };
    let services_back = match first_bad {
        None => Some(incident.start),
        Some(bad) => {
            let run_length = u64::from(run.recovery_windows.max(1));
            (bad + 1..windows)
                .find(|&k| {
                    k + run_length <= windows
                        && (k..k + run_length).all(|w| run.all_good(&incident.affected, w))
                })
                .map(|k| run.window_start(k))
        }
    };
    let caused: Vec<&Interruption> = match incident.interrupts {
        Some((cause, grace)) => run
            .interruptions
            .iter()
            .filter(|i| {
                i.cause == cause && i.at >= incident.start && i.at <= incident.start.saturating_add(grace)
            })
            .collect(),
        None => Vec::new(),
    };
    let jobs_back = caused.iter().try_fold(incident.start, |latest, i| {
        i.resumed.map(|(at, _)| latest.max(at))
    });
    let recovered = match (services_back, jobs_back) {
        (Some(s), Some(j)) => Some(s.max(j)),
        (None, _) => {
            notes.insert(
                "time_to_recover_s",
                format!(
                    "an affected service does not meet its SLO for {} windows in a row before the end of the run",
                    run.recovery_windows
                ),
            );
            None
        }
        (_, None) => {
            notes.insert(
                "time_to_recover_s",
                "an interrupted job did not compute again before the end of the run".into(),
            );
            None
        }
    };
    let settled = if incident.instant {
        Some(incident.start)
    } else {
        incident.end
    };
    let backlog_drain_s = match settled {
        None => {
            notes.insert(
                "backlog_drain_s",
                "the incident lasts until the end of the run".into(),
            );
            None
        }
        Some(end) => drain(run, incident.start, end).or_else(|| {
            notes.insert(
                "backlog_drain_s",
                "the backlog is still above its level before the incident at the end of the run".into(),
            );
            None
        }),
    };
    let until = match (settled, recovered) {
        (Some(end), Some(back)) => end.max(back),
        _ => run.horizon,
    };
    let (requests_failed, requests_degraded) = requests_between(run, incident.start, until);
    IncidentSummary {
        name: incident.name.clone(),
        kind: incident.kind,
        start_s: incident.start.as_secs_f64(),
        end_s: incident.end.map(SimTime::as_secs_f64),
        time_to_detect_s,
        time_to_recover_s: recovered.map(|at| seconds(at.saturating_since(incident.start))),
        backlog_drain_s,
        requests_failed,
        requests_degraded,
        jobs_interrupted: caused.len() as u64,
        jobs_failed_over: caused
            .iter()
            .filter(|i| i.resumed.is_some_and(|(_, site)| site != i.site))
            .count() as u64,
        gpu_hours_lost: caused.iter().map(|i| i.lost_gpu_ns).sum::<u128>() as f64 / NANOS_PER_HOUR,
        cost_during_usd: cost_between(run.ledger, incident.start, until),
        affected_services: incident
            .affected
            .iter()
            .map(|&s| run.services[s].name.to_string())
            .collect(),
        notes,
    }
}

/// Seconds from `end` until the backlog is back at its level before `start`.
fn drain(run: &RunRecord<'_>, start: SimTime, end: SimTime) -> Option<f64> {
    let window = run.window_ns.max(1);
    // backlog[k] is sampled at the end of window k, at (k + 1) · window; the baseline is the
    // last sample strictly before the start (one at the start instant may already show it).
    let before = start.as_nanos().div_ceil(window).checked_sub(2);
    let baseline = before
        .and_then(|k| run.backlog.get(k as usize))
        .copied()
        .unwrap_or(0);
    run.backlog.iter().enumerate().find_map(|(k, &level)| {
        let at = SimTime::from_nanos((k as u64 + 1).saturating_mul(window));
        (at >= end && level <= baseline).then(|| seconds(at.saturating_since(end)))
    })
}

/// Failed and degraded user requests of every service in the windows overlapping
/// `[start, until)` (a request that failed at its fallback too is counted once).
fn requests_between(run: &RunRecord<'_>, start: SimTime, until: SimTime) -> (u64, u64) {
    let first = run.window_of(start) as usize;
    let last = run.window_of(until.max(start)) as usize;
    run.services
        .iter()
        .flat_map(|s| s.metrics.windows.iter().enumerate())
        .filter(|(k, _)| (first..=last).contains(k))
        .fold((0, 0), |(failed, degraded), (_, w)| {
            (failed + w.failed - w.failed_standing_in, degraded + w.degraded)
        })
}

/// USD of ledger entries falling in `[start, until]`, prorated over each entry's span.
fn cost_between(ledger: &Ledger, start: SimTime, until: SimTime) -> f64 {
    ledger
        .entries()
        .iter()
        .map(|e| {
            if e.end == e.start {
                return if e.start >= start && e.start <= until {
                    e.usd
                } else {
                    0.0
                };
            }
            let overlap = e
                .end
                .min(until)
                .as_nanos()
                .saturating_sub(e.start.max(start).as_nanos());
            e.usd * overlap as f64 / e.end.saturating_since(e.start).as_nanos() as f64
        })
        .sum()
}
