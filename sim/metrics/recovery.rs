//! Recovery figures of scripted incidents: how long until someone would notice, how long until
//! service was whole again, how long the backlog took to drain, and what the incident cost.
//!
//! Definitions (all times in seconds from the incident's start unless said otherwise):
//! - **time to detect**: to the end of the first metrics window, from the one the incident
//!   starts in, in which an affected service misses its SLO (the SLO's share of requests within
//!   the bound; failures count as misses). Only windows that start before the incident settles
//!   (its end; its start, if instant) plus `attribution_window` (default 1 h) count: a miss
//!   later than that is not this incident's. `null` when no affected SLO broke in that span.
//! - **time to recover**: until every affected service meets its SLO again for
//!   `recovery_windows` consecutive windows (measured to the start of the first of them; 0 if
//!   none broke) and every job the incident interrupted computes again. The good run must start
//!   within the same span or in the window right after it. `null` when that does not happen.
//! - **backlog drain**: from the incident's end (its start, for an instant incident) until the
//!   backlog — requests queued at services plus jobs waiting for GPUs, sampled at each window's
//!   end — is back at or below its level at the last window end before the incident.
//! - **during**: from the start until the end or until recovery, whichever is later; to the end
//!   of the attribution window if it does not recover, and to the end of the run for an incident
//!   that lasts until then; counted in whole windows for requests and prorated over the ledger's
//!   entries for cost.
//!
//! A figure that cannot be given is `null` with a note saying why, never a made-up number.

use std::collections::BTreeMap;

use serde::Serialize;

use super::archive::WindowArchive;
use super::job::Interruption;
use crate::infra::ledger::{Ledger, LedgerEntry};
use crate::kernel::{SimDuration, SimTime};
use crate::workload::job::{InterruptCause, NANOS_PER_HOUR};

/// A service as recovery needs it.
pub struct ServiceView<'a> {
    /// Its name.
    pub name: &'a str,
}

/// What the run recorded, shared by all incidents.
pub struct RunRecord<'a> {
    /// Width of a metrics window in ns.
    pub window_ns: u64,
    /// Consecutive good windows that count as recovered.
    pub recovery_windows: u32,
    /// How long after an incident settles detection and recovery are searched.
    pub attribution_window: SimDuration,
    /// The end of the run.
    pub horizon: SimTime,
    /// The figures of every window: whether each service met its SLO, its requests, the
    /// backlog.
    pub windows: &'a WindowArchive,
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

    /// Whether every service of `affected` met its SLO (or had no request end, or has no SLO),
    /// window by window over `[from, to)`; a window past the last recorded one is good.
    fn good_windows(&self, affected: &[usize], from: u64, to: u64) -> std::io::Result<Vec<bool>> {
        (from..to)
            .map(|k| {
                if k >= self.windows.len() {
                    return Ok(true);
                }
                let row = self.windows.row(k)?;
                Ok(affected
                    .iter()
                    .all(|&s| row.services.get(s).and_then(|w| w.slo_met).unwrap_or(true)))
            })
            .collect()
    }
}

/// The first window that starts at or after the incident settles plus the attribution window:
/// detection and recovery are searched before it. An incident that lasts to the end of the run
/// is searched to the end.
fn attribution_end(incident: &IncidentView, run: &RunRecord<'_>) -> u64 {
    let settles = if incident.instant {
        Some(incident.start)
    } else {
        incident.end
    };
    match settles {
        Some(at) => {
            let bound = at.saturating_add(run.attribution_window).as_nanos();
            bound
                .div_ceil(run.window_ns.max(1))
                .max(run.window_of(incident.start) + 1)
        }
        None => u64::MAX,
    }
}

fn seconds(d: SimDuration) -> f64 {
    d.as_secs_f64()
}

/// The recovery figures of `incident`.
pub fn summarize(incident: &IncidentView, run: &RunRecord<'_>) -> std::io::Result<IncidentSummary> {
    let mut summaries = summarize_all(std::slice::from_ref(incident), run)?;
    Ok(summaries.remove(0))
}

/// The recovery figures of each of `incidents`, in order. The cost during each is read in one
/// pass over the ledger for all of them: a pass per incident would read a long run's ledger
/// from disk once for every incident.
pub fn summarize_all(
    incidents: &[IncidentView],
    run: &RunRecord<'_>,
) -> std::io::Result<Vec<IncidentSummary>> {
    let mut summaries = Vec::with_capacity(incidents.len());
    let mut spans = Vec::with_capacity(incidents.len());
    for incident in incidents {
        let (summary, until) = summarize_but_cost(incident, run)?;
        summaries.push(summary);
        spans.push((incident.start, until));
    }
    for (summary, usd) in summaries.iter_mut().zip(costs_between(run.ledger, &spans)?) {
        summary.cost_during_usd = usd;
    }
    Ok(summaries)
}

/// The recovery figures of `incident` with its cost left at zero, and the end of the span its
/// cost is counted over.
fn summarize_but_cost(
    incident: &IncidentView,
    run: &RunRecord<'_>,
) -> std::io::Result<(IncidentSummary, SimTime)> {
    let mut notes = BTreeMap::new();
    let first = run.window_of(incident.start);
    let windows = run.windows();
    // Windows starting before this one can still be put down to the incident.
    let attributed = attribution_end(incident, run);
    let run_length = u64::from(run.recovery_windows.max(1));
    // Detection looks at windows before `attributed`; a good run may start one window later.
    let searched = attributed.saturating_add(run_length).min(windows).max(first);
    let good = run.good_windows(&incident.affected, first, searched)?;
    let all_good = |k: u64| good.get((k - first) as usize).copied().unwrap_or(true);
    let first_bad = (first..attributed.min(windows)).find(|&k| !all_good(k));
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
            // The good run may start in the window right after the last attributable one.
            (bad + 1..attributed.saturating_add(1).min(windows))
                .find(|&k| k + run_length <= windows && (k..k + run_length).all(all_good))
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
                    "an affected service does not meet its SLO for {} windows in a row starting within {} of the incident settling, or before the end of the run",
                    run.recovery_windows, run.attribution_window
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
        Some(end) => drain(run, incident.start, end)?.or_else(|| {
            notes.insert(
                "backlog_drain_s",
                "the backlog is still above its level before the incident at the end of the run".into(),
            );
            None
        }),
    };
    let until = match (settled, recovered) {
        (Some(end), Some(back)) => end.max(back),
        (Some(end), None) => end.saturating_add(run.attribution_window).min(run.horizon),
        (None, _) => run.horizon,
    };
    let (requests_failed, requests_degraded) = requests_between(run, incident.start, until)?;
    let summary = IncidentSummary {
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
        cost_during_usd: 0.0,
        affected_services: incident
            .affected
            .iter()
            .map(|&s| run.services[s].name.to_string())
            .collect(),
        notes,
    };
    Ok((summary, until))
}

/// Seconds from `end` until the backlog is back at its level before `start`.
fn drain(run: &RunRecord<'_>, start: SimTime, end: SimTime) -> std::io::Result<Option<f64>> {
    let window = run.window_ns.max(1);
    let sampled = run.windows.closed();
    // Window k's backlog is sampled at its end, at (k + 1) · window; the baseline is the last
    // sample strictly before the start (one at the start instant may already show it).
    let baseline = match start.as_nanos().div_ceil(window).checked_sub(2) {
        Some(k) if k < sampled => run.windows.row(k)?.backlog,
        _ => 0,
    };
    // The first sample at or after the end.
    let from = end.as_nanos().div_ceil(window).saturating_sub(1);
    for k in from..sampled {
        let at = SimTime::from_nanos((k + 1).saturating_mul(window));
        if at >= end && run.windows.row(k)?.backlog <= baseline {
            return Ok(Some(seconds(at.saturating_since(end))));
        }
    }
    Ok(None)
}

/// Failed and degraded user requests of every service in the windows overlapping
/// `[start, until)` (a request that failed at its fallback too is counted once).
fn requests_between(run: &RunRecord<'_>, start: SimTime, until: SimTime) -> std::io::Result<(u64, u64)> {
    let first = run.window_of(start);
    let last = run
        .window_of(until.max(start))
        .min(run.windows.len().saturating_sub(1));
    let (mut failed, mut degraded) = (0, 0);
    for k in first..=last {
        if k >= run.windows.len() {
            break;
        }
        for w in run.windows.row(k)?.services {
            failed += w.failed - w.failed_standing_in;
            degraded += w.degraded;
        }
    }
    Ok((failed, degraded))
}

/// USD of ledger entries falling in each `[start, until]` of `spans`, prorated over each entry's
/// span, in one pass over the ledger. Each sum adds its entries in ledger order, as a pass of
/// its own would: an entry only meets the spans that start no earlier than the longest span
/// before it and no later than its end.
fn costs_between(ledger: &Ledger, spans: &[(SimTime, SimTime)]) -> std::io::Result<Vec<f64>> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| spans[i].0);
    let starts: Vec<u64> = order.iter().map(|&i| spans[i].0.as_nanos()).collect();
    let longest = spans
        .iter()
        .map(|(start, until)| until.saturating_since(*start).as_nanos())
        .max()
        .unwrap_or(0);
    let mut sums = vec![0.0; spans.len()];
    ledger.for_each(|e| {
        let from = starts.partition_point(|&s| s.saturating_add(longest) < e.start.as_nanos());
        let to = starts.partition_point(|&s| s <= e.end.as_nanos());
        for &i in &order[from..to.max(from)] {
            sums[i] += share_between(e, spans[i].0, spans[i].1);
        }
    })?;
    Ok(sums)
}

/// The part of `entry`'s USD that falls in `[start, until]`: all of a one-off charge inside it,
/// and a period's charge in proportion to its overlap.
fn share_between(e: &LedgerEntry, start: SimTime, until: SimTime) -> f64 {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::archive::{ServiceWindow, WindowLayout};
    use crate::metrics::service::{FailReason, ServiceMetrics};

    const MINUTE: u64 = 60_000_000_000;

    /// The archived windows of a service with an SLO of 1 s at p99 whose only misses are
    /// failed requests in `bad` windows, over `windows` one-minute windows.
    fn service(windows: u64, bad: &[u64]) -> WindowArchive {
        let slo = Some((99.0, SimDuration::from_secs(1)));
        let mut metrics = ServiceMetrics::new(1, MINUTE, 0, 1_000_000_000, false);
        let layout = WindowLayout {
            batched: vec![0],
            pools: 0,
        };
        let mut archive = WindowArchive::new(layout.clone());
        for k in 0..windows {
            let at = k * MINUTE + 1;
            metrics.arrival(at);
            if bad.contains(&k) {
                metrics.failed(at, at, FailReason::Timeout);
            } else {
                metrics.served(at, at, Some(0), &Default::default());
            }
            let mut row = layout.empty_row();
            row.closed = true;
            row.services[0] = ServiceWindow::of(&metrics.take_window(k as usize, slo), slo);
            archive.push(&row);
        }
        archive
    }

    fn figures(
        windows_archive: &WindowArchive,
        windows: u64,
        attribution_window: SimDuration,
    ) -> IncidentSummary {
        let ledger = Ledger::default();
        let run = RunRecord {
            window_ns: MINUTE,
            recovery_windows: 3,
            attribution_window,
            horizon: SimTime::from_nanos(windows * MINUTE),
            windows: windows_archive,
            services: vec![ServiceView { name: "s" }],
            interruptions: &[],
            ledger: &ledger,
        };
        // Down from 0:10 to 1:10: it settles in window 1.
        let incident = IncidentView {
            name: "i".into(),
            kind: "site_outage",
            start: SimTime::from_nanos(10_000_000_000),
            end: Some(SimTime::from_nanos(MINUTE + 10_000_000_000)),
            instant: false,
            affected: vec![0],
            interrupts: None,
        };
        summarize(&incident, &run).unwrap()
    }

    #[test]
    fn a_miss_after_the_attribution_window_is_not_the_incidents() {
        let hour = SimDuration::from_secs(3_600);
        // Windows 0..=61 start before 1:10 + 60 min = 61:10; window 62 starts after it.
        let late = service(200, &[62]);
        let summary = figures(&late, 200, hour);
        assert_eq!(summary.time_to_detect_s, None);
        assert_eq!(summary.time_to_recover_s, Some(0.0));
        let inside = service(200, &[61]);
        let summary = figures(&inside, 200, hour);
        assert_eq!(summary.time_to_detect_s, Some((62 * 60 - 10) as f64));
        assert_eq!(summary.time_to_recover_s, Some((62 * 60 - 10) as f64));
        // Missing from window 3 on, with no good run of three starting by window 61: never
        // recovered within the span, although the service is fine from window 100.
        let long: Vec<u64> = (3..100).collect();
        let summary = figures(&service(200, &long), 200, hour);
        assert_eq!(summary.time_to_detect_s, Some((4 * 60 - 10) as f64));
        assert_eq!(summary.time_to_recover_s, None);
        assert!(
            summary.notes["time_to_recover_s"].contains("1h"),
            "{:?}",
            summary.notes
        );
        // With a longer window the same run recovers at window 100.
        let summary = figures(&service(200, &long), 200, SimDuration::from_secs(3 * 3_600));
        assert_eq!(summary.time_to_recover_s, Some((100 * 60 - 10) as f64));
    }

    proptest::proptest! {
        /// One pass for all spans gives, bit for bit, what a pass per span gives.
        #[test]
        fn one_pass_costs_every_span_as_a_pass_of_its_own(
            entries in proptest::collection::vec((0u64..100, 0u64..20, -5.0f64..50.0), 0..200),
            spans in proptest::collection::vec((0u64..100, 0u64..30), 0..20),
        ) {
            let at = |minutes: u64| SimTime::from_nanos(minutes * MINUTE);
            let mut ledger = Ledger::default();
            for &(start, length, usd) in &entries {
                ledger.record(LedgerEntry::compute(at(start), at(start + length), usd));
            }
            let spans: Vec<(SimTime, SimTime)> =
                spans.iter().map(|&(start, length)| (at(start), at(start + length))).collect();
            let each: Vec<f64> = spans
                .iter()
                .map(|&(start, until)| {
                    let mut sum = 0.0;
                    ledger.for_each(|e| sum += share_between(e, start, until)).unwrap();
                    sum
                })
                .collect();
            let all = costs_between(&ledger, &spans).unwrap();
            proptest::prop_assert_eq!(
                all.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                each.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
