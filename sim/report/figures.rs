//! The charts of a run (or of a comparison), built from its figures and written as SVG and
//! PNG: `latency`, `cost`, `utilization` per run, `recovery` per run and side by side per
//! policy in a comparison; and the comparison charts of several labelled runs (of any
//! scenarios, policies or seeds), overlaid on the same axes one colour per run: p99
//! latency per service, cumulative cost in total and per category, GPUs in use per pool, with
//! `recovery` beside them.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use crate::infra::ledger::CostCategory;
use crate::metrics::Summary;
use crate::metrics::archive::{CHART_POINTS, Span, points_per_series, stride};
use crate::metrics::record::{RunOutcome, RunRecord};
use crate::metrics::recovery::IncidentSummary;
use crate::metrics::stats::mean_confidence_interval;
use crate::metrics::timeseries::{CostRow, window_end_s};
use crate::scenario::Scenario;
use crate::vocab::Tier;

use super::ComparedRun;
use super::charts::{
    BAND_LEVEL, Chart, ChartError, CostChart, CostPoint, CostRunsChart, IncidentRecovery, IncidentWindow,
    LatencyChart, LatencyPoint, LatencyRunsChart, PolicyRecovery, PoolUtilization, RecoveryChart,
    RequestPoint, RequestRateChart, RunGroup, RunSeries, RunsPanel, ServiceLatency, ServiceRequests,
    SpilledUtilization, UtilizationChart, UtilizationPoint, UtilizationRunsChart, select_panels,
};
use crate::output::OutputDir;
use crate::output::OutputError;

/// The incidents as shaded windows; one without an end lasts to the horizon.
pub fn incident_windows(summary: &Summary) -> Vec<IncidentWindow> {
    summary
        .incidents
        .iter()
        .map(|i| IncidentWindow {
            label: i.name.clone(),
            start_s: i.start_s,
            end_s: i.end_s.unwrap_or(summary.horizon_s),
            services: Some(i.affected_services.clone()),
        })
        .collect()
}

/// Calls `visit` with the run's windows merged into spans so that each series of a chart of
/// `panels` panels has at most [`points_per_series`] points (each window its own span when
/// they fit), and the time in seconds at the end of the span's last window and of its last
/// closed window.
fn chart_spans(
    outcome: &RunOutcome,
    panels: usize,
    mut visit: impl FnMut(SpanTimes, &Span),
) -> io::Result<()> {
    let record = &outcome.record;
    let window_ns = record.window.as_nanos();
    let stride = stride(record.windows.len(), points_per_series(panels));
    record.windows.spans(stride, |span| {
        // The windows the run did not close come last, so the closed ones end the span early.
        let last_closed = span.last.saturating_sub(span.windows - span.closed);
        let times = SpanTimes {
            end_s: window_end_s(window_ns, span.last as usize),
            closed_end_s: window_end_s(window_ns, last_closed as usize),
        };
        visit(times, span)
    })
}

/// When a span ends, and when its last closed window ends.
#[derive(Debug, Clone, Copy)]
struct SpanTimes {
    end_s: f64,
    closed_end_s: f64,
}

/// p50, p95 and p99 end-to-end latency of every service per metrics window (the worst window
/// of each span on long runs), with its SLO.
pub fn latency_chart(outcome: &RunOutcome) -> io::Result<LatencyChart> {
    let record = &outcome.record;
    // The services with the highest p99 over the run, when there are too many to draw.
    let p99 = |name: &str| {
        let service = outcome.summary.services.get(name);
        let e2e = service.and_then(|s| s.latency_ms.get("e2e"));
        e2e.and_then(|l| l.p99).unwrap_or(f64::NEG_INFINITY)
    };
    let ranks: Vec<f64> = record.services.iter().map(|s| p99(&s.name)).collect();
    let (shown, omitted) = select_panels(&ranks);
    let mut services: Vec<ServiceLatency> = shown
        .iter()
        .map(|&s| ServiceLatency {
            service: record.services[s].name.clone(),
            slo_ms: record.services[s].slo.map(|(_, bound)| bound.as_secs_f64() * 1e3),
            points: Vec::new(),
        })
        .collect();
    let ms = |ns: Option<u64>| ns.map(|v| v as f64 / 1e6);
    chart_spans(outcome, services.len(), |at, span| {
        for (panel, &s) in services.iter_mut().zip(&shown) {
            let [p50, p95, p99] = span.row.services[s].latency_ns;
            panel.points.push(LatencyPoint {
                t_s: at.end_s,
                p50_ms: ms(p50),
                p95_ms: ms(p95),
                p99_ms: ms(p99),
            });
        }
    })?;
    Ok(LatencyChart {
        services,
        incidents: incident_windows(&outcome.summary),
        omitted,
    })
}

/// Requests per second that arrived, were answered by the fallback and failed, per service
/// and metrics window (or span of windows): the demand, and what the run did to it.
pub fn request_rate_chart(outcome: &RunOutcome) -> io::Result<RequestRateChart> {
    let record = &outcome.record;
    let window_s = record.window.as_nanos() as f64 / 1e9;
    // The busiest services, when there are too many to draw.
    let arrived = |name: &str| {
        outcome
            .summary
            .services
            .get(name)
            .map_or(0, |s| s.requests.arrived)
    };
    let ranks: Vec<f64> = record.services.iter().map(|s| arrived(&s.name) as f64).collect();
    let (shown, omitted) = select_panels(&ranks);
    let mut services: Vec<ServiceRequests> = shown
        .iter()
        .map(|&s| ServiceRequests {
            service: record.services[s].name.clone(),
            points: Vec::new(),
        })
        .collect();
    chart_spans(outcome, services.len(), |at, span| {
        let seconds = span.windows as f64 * window_s;
        for (panel, &s) in services.iter_mut().zip(&shown) {
            let stats = &span.row.services[s];
            panel.points.push(RequestPoint {
                t_s: at.end_s,
                arrived_per_s: stats.arrived as f64 / seconds,
                degraded_per_s: stats.degraded as f64 / seconds,
                failed_per_s: stats.failed as f64 / seconds,
            });
        }
    })?;
    Ok(RequestRateChart {
        services,
        incidents: incident_windows(&outcome.summary),
        omitted,
    })
}

/// Cumulative cost by category and by tier at the end of each metrics window (of each span's
/// last window on long runs: the curves are cumulative, so nothing is lost but detail).
pub fn cost_chart(outcome: &RunOutcome) -> io::Result<CostChart> {
    let record = &outcome.record;
    let window_ns = record.window.as_nanos();
    let mut points = Vec::new();
    thinned_costs(record, |w, cost| {
        points.push(CostPoint {
            t_s: window_end_s(window_ns, w),
            by_category: cost.by_category,
            by_tier: cost.by_tier,
        })
    })?;
    Ok(CostChart {
        points,
        incidents: incident_windows(&outcome.summary),
    })
}

/// Calls `visit` with the cumulative cost at the last window of each span when the closed
/// windows are drawn with at most [`CHART_POINTS`] points, read from the curves' spill file.
fn thinned_costs(record: &RunRecord, mut visit: impl FnMut(usize, &CostRow)) -> io::Result<()> {
    let windows = record.windows_closed();
    let stride = stride(windows as u64, CHART_POINTS) as usize;
    record.cost.for_each(|w, cost| {
        let w = w as usize;
        if w < windows && ((w + 1).is_multiple_of(stride) || w + 1 == windows) {
            visit(w, cost);
        }
    })
}

/// GPUs in use against capacity per pool and tier, from the window samples (their mean over
/// each span on long runs); the last sample is repeated at the horizon so that the final step
/// shows.
pub fn utilization_chart(outcome: &RunOutcome) -> io::Result<UtilizationChart> {
    let (shown, omitted) = shown_pools(outcome)?;
    let record = &outcome.record;
    let mut pools: Vec<PoolUtilization> = shown
        .iter()
        .map(|&p| PoolUtilization {
            pool: record.estate.pools[p].name.clone(),
            points: Vec::new(),
        })
        .collect();
    chart_spans(outcome, pools.len(), |at, span| {
        if span.closed == 0 {
            return;
        }
        let n = span.closed as f64;
        for (panel, &p) in pools.iter_mut().zip(&shown) {
            let at_tier = |t: Tier| span.row.capacity_of(p, t);
            panel.points.push(UtilizationPoint {
                t_s: at.closed_end_s,
                in_use: Tier::ALL.map(|t| f64::from(at_tier(t).0) / n),
                capacity: Tier::ALL.map(|t| f64::from(at_tier(t).1) / n),
            });
        }
    })?;
    for panel in &mut pools {
        if let Some(last) = panel.points.last() {
            let at_horizon = UtilizationPoint {
                t_s: outcome.summary.horizon_s,
                ..last.clone()
            };
            panel.points.push(at_horizon);
        }
    }
    Ok(UtilizationChart {
        pools,
        incidents: incident_windows(&outcome.summary),
        omitted,
    })
}

/// The pools the utilization chart shows (those with the most GPUs, when there are too many to
/// draw) and how many it leaves out.
fn shown_pools(outcome: &RunOutcome) -> io::Result<(Vec<usize>, usize)> {
    let record = &outcome.record;
    let mut ranks = vec![0.0f64; record.estate.pools.len()];
    record.windows.for_each(|_, row| {
        for (p, rank) in ranks.iter_mut().enumerate() {
            let capacity: u32 = Tier::ALL.iter().map(|&t| row.capacity_of(p, t).1).sum();
            *rank = rank.max(f64::from(capacity));
        }
    })?;
    Ok(select_panels(&ranks))
}

/// [`utilization_chart`] with its points on disk until each panel is drawn: what a run's
/// folder draws, so that a long run of many pools holds one panel's points at a time.
pub fn utilization_chart_on_disk(outcome: &RunOutcome) -> io::Result<SpilledUtilization> {
    let (shown, omitted) = shown_pools(outcome)?;
    let record = &outcome.record;
    let names = shown
        .iter()
        .map(|&p| record.estate.pools[p].name.clone())
        .collect();
    let mut chart = SpilledUtilization::new(names, incident_windows(&outcome.summary), omitted);
    let mut states: Vec<UtilizationPoint> = Vec::with_capacity(shown.len());
    chart_spans(outcome, shown.len(), |at, span| {
        if span.closed == 0 {
            return;
        }
        let n = span.closed as f64;
        states.clear();
        for &p in &shown {
            let at_tier = |t: Tier| span.row.capacity_of(p, t);
            states.push(UtilizationPoint {
                t_s: at.closed_end_s,
                in_use: Tier::ALL.map(|t| f64::from(at_tier(t).0) / n),
                capacity: Tier::ALL.map(|t| f64::from(at_tier(t).1) / n),
            });
        }
        chart.push(&states);
    })?;
    // The last states are repeated at the horizon so that the final step shows.
    if !states.is_empty() {
        for state in &mut states {
            state.t_s = outcome.summary.horizon_s;
        }
        chart.push(&states);
    }
    Ok(chart)
}

/// Time to detect, recover and drain per incident, one group of bars per labelled run.
pub fn recovery_chart(runs: &[(&str, &Summary)]) -> RecoveryChart {
    RecoveryChart {
        policies: runs
            .iter()
            .map(|(label, s)| PolicyRecovery {
                policy: label.to_string(),
                incidents: s
                    .incidents
                    .iter()
                    .map(|i| IncidentRecovery {
                        incident: i.name.clone(),
                        time_to_detect_s: i.time_to_detect_s,
                        time_to_recover_s: i.time_to_recover_s,
                        backlog_drain_s: i.backlog_drain_s,
                    })
                    .collect(),
                intervals: Vec::new(),
            })
            .collect(),
    }
}

/// The recovery chart of a comparison drawn as `groups` (see [`run_groups`]): a bar per group
/// and incident, a run's own figure for a group of one, and for a group of several seeds the
/// mean over the runs that measured it with the half-width of its 95% Student-t interval.
pub fn grouped_recovery_chart(runs: &[(&str, &Summary)], groups: &[RunGroup]) -> RecoveryChart {
    let policies = groups
        .iter()
        .map(|group| {
            let members: Vec<&Summary> = group
                .runs
                .iter()
                .filter_map(|&r| runs.get(r))
                .map(|r| r.1)
                .collect();
            group_recovery(group.legend(), &members)
        })
        .collect();
    RecoveryChart { policies }
}

/// The mean of a figure over a group's runs (`None`: no run measured it) and the half-width of
/// its interval (`None` with fewer than two values).
type MeanAndHalf = (Option<f64>, Option<f64>);

/// One group's bars: per incident (in order of first appearance), each figure's mean over the
/// runs that measured it, with intervals when the group has several runs.
fn group_recovery(label: String, members: &[&Summary]) -> PolicyRecovery {
    let names = first_seen(
        members
            .iter()
            .flat_map(|s| s.incidents.iter().map(|i| i.name.as_str())),
    );
    let over = |name: &str, figure: fn(&IncidentSummary) -> Option<f64>| -> MeanAndHalf {
        let values: Vec<f64> = members
            .iter()
            .filter_map(|s| s.incidents.iter().find(|i| i.name == name))
            .filter_map(figure)
            .filter(|v| v.is_finite())
            .collect();
        let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
        (
            mean,
            mean_confidence_interval(&values, BAND_LEVEL).map(|(_, half)| half),
        )
    };
    let row = |name: &str, pick: fn(MeanAndHalf) -> Option<f64>| IncidentRecovery {
        incident: name.to_string(),
        time_to_detect_s: pick(over(name, |i| i.time_to_detect_s)),
        time_to_recover_s: pick(over(name, |i| i.time_to_recover_s)),
        backlog_drain_s: pick(over(name, |i| i.backlog_drain_s)),
    };
    PolicyRecovery {
        policy: label,
        incidents: names.iter().map(|name| row(name, |(mean, _)| mean)).collect(),
        intervals: if members.len() > 1 {
            names.iter().map(|name| row(name, |(_, half)| half)).collect()
        } else {
            Vec::new()
        },
    }
}

/// How a comparison's charts draw its runs: the runs of one scenario (the same file) and
/// policy form a group, in order of first appearance, its runs in the order given (natural
/// order of their seeds). When every group is a single run, each keeps its run's label, so a
/// comparison under one seed looks as before; otherwise groups are named by what varies
/// between them, as runs are: the scenario, the policy, or both (`-2` when a name repeats).
pub fn run_groups(runs: &[ComparedRun]) -> Vec<RunGroup> {
    let mut scenarios: Vec<*const Scenario> = Vec::new();
    let members: Vec<GroupKey> = runs
        .iter()
        .map(|run| {
            // The same file given twice is two scenarios: their runs are not averaged together.
            let id = std::ptr::from_ref(run.scenario);
            let scenario = scenarios.iter().position(|&s| s == id).unwrap_or_else(|| {
                scenarios.push(id);
                scenarios.len() - 1
            });
            GroupKey {
                scenario,
                scenario_name: &run.summary.scenario,
                policy: &run.summary.policy,
                label: run.label,
            }
        })
        .collect();
    group_runs(&members)
}

/// What groups a compared run: its scenario (by position) and policy, with the names that
/// label a group and the run's own label.
struct GroupKey<'a> {
    scenario: usize,
    scenario_name: &'a str,
    policy: &'a str,
    label: &'a str,
}

/// The groups of runs with equal scenario and policy, labelled as [`run_groups`] says.
fn group_runs(runs: &[GroupKey]) -> Vec<RunGroup> {
    let mut firsts: Vec<&GroupKey> = Vec::new();
    let mut groups: Vec<RunGroup> = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        match firsts
            .iter()
            .position(|k| (k.scenario, k.policy) == (run.scenario, run.policy))
        {
            Some(g) => groups[g].runs.push(index),
            None => {
                firsts.push(run);
                groups.push(RunGroup {
                    label: run.label.to_string(),
                    runs: vec![index],
                });
            }
        }
    }
    if groups.iter().all(|g| g.runs.len() == 1) {
        return groups;
    }
    let by_scenario = firsts.iter().any(|k| k.scenario_name != firsts[0].scenario_name);
    let by_policy = firsts.iter().any(|k| k.policy != firsts[0].policy);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (group, first) in groups.iter_mut().zip(&firsts) {
        let mut parts = Vec::new();
        if by_scenario {
            parts.push(first.scenario_name);
        }
        if by_policy || !by_scenario {
            parts.push(first.policy);
        }
        let label = parts.join(".");
        let n = seen.entry(label.clone()).or_insert(0);
        *n += 1;
        group.label = if *n == 1 { label } else { format!("{label}-{n}") };
    }
    groups
}

/// Writes `chart` as `<folder><name>.svg` and `.png`.
pub fn write_chart<C: Chart>(out: &OutputDir, folder: &str, chart: &C) -> Result<(), OutputError> {
    let fail = |e: ChartError| OutputError::Io {
        path: out.target().join(format!("{folder}{}", C::NAME)),
        source: std::io::Error::other(e),
    };
    out.write_bytes(
        &format!("{folder}{}.svg", C::NAME),
        chart.svg().map_err(fail)?.as_bytes(),
    )?;
    out.write_bytes(&format!("{folder}{}.png", C::NAME), &chart.png().map_err(fail)?)
}

/// Writes the five charts of one run into `folder`.
pub fn write_run_charts(out: &OutputDir, folder: &str, outcome: &RunOutcome) -> Result<(), OutputError> {
    let read = |e: io::Error| OutputError::Io {
        path: out.target().join(folder),
        source: e,
    };
    write_chart(out, folder, &latency_chart(outcome).map_err(read)?)?;
    write_chart(out, folder, &request_rate_chart(outcome).map_err(read)?)?;
    write_chart(out, folder, &cost_chart(outcome).map_err(read)?)?;
    write_chart(out, folder, &utilization_chart_on_disk(outcome).map_err(read)?)?;
    let summary = &outcome.summary;
    write_chart(
        out,
        folder,
        &recovery_chart(&[(summary.policy.as_str(), summary)]),
    )
}

/// A run's value per metrics window for one panel of a comparison chart.
type Points = Vec<(f64, Option<f64>)>;

/// What the comparison charts need of one run, kept once the run's model is gone: the p99 per
/// window of each service (with its SLO bound), the cumulative cost per category, the GPUs in
/// use per pool and the incident windows. A few numbers per metrics window.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurves {
    services: Vec<(String, Option<f64>, Points)>,
    categories: Vec<Points>,
    pools: Vec<(String, Points)>,
    incidents: Vec<IncidentWindow>,
}

impl RunCurves {
    /// The curves of a finished run, each with at most [`points_per_series`] points for its panels.
    pub fn of(outcome: &RunOutcome) -> io::Result<Self> {
        let record = &outcome.record;
        let ms = |ns: Option<u64>| ns.map(|v| v as f64 / 1e6);
        let mut services: Vec<(String, Option<f64>, Points)> = record
            .services
            .iter()
            .map(|s| {
                let slo = s.slo.map(|(_, bound)| bound.as_secs_f64() * 1e3);
                (s.name.clone(), slo, Vec::new())
            })
            .collect();
        let mut pools: Vec<(String, Points)> = record
            .estate
            .pools
            .iter()
            .map(|p| (p.name.clone(), Vec::new()))
            .collect();
        chart_spans(outcome, services.len().max(pools.len()), |at, span| {
            for (service, window) in services.iter_mut().zip(&span.row.services) {
                service.2.push((at.end_s, ms(window.latency_ns[2])));
            }
            if span.closed == 0 {
                return;
            }
            for (p, pool) in pools.iter_mut().enumerate() {
                let in_use: u32 = Tier::ALL.iter().map(|&t| span.row.capacity_of(p, t).0).sum();
                pool.1
                    .push((at.closed_end_s, Some(f64::from(in_use) / span.closed as f64)));
            }
        })?;
        // The last sample is repeated at the horizon so that the final step shows.
        for pool in &mut pools {
            if let Some(&(_, last)) = pool.1.last() {
                pool.1.push((outcome.summary.horizon_s, last));
            }
        }
        Ok(RunCurves {
            services,
            categories: category_points(outcome)?,
            pools,
            incidents: incident_windows(&outcome.summary),
        })
    }

    fn service(&self, name: &str) -> Option<&(String, Option<f64>, Points)> {
        self.services.iter().find(|s| s.0 == name)
    }
}

/// p99 end-to-end latency by run: a panel per service (over all runs, in order of first
/// appearance) with each run's p99 per metrics window, the same values as [`latency_chart`]'s
/// p99 line, and the SLO target of the first run that has the service.
pub fn latency_runs_chart(runs: &[(&str, &RunCurves)]) -> LatencyRunsChart {
    let names = first_seen(
        runs.iter()
            .flat_map(|(_, c)| c.services.iter().map(|s| s.0.as_str())),
    );
    let panels = names
        .into_iter()
        .map(|name| RunsPanel {
            caption: format!("{name}: p99 end-to-end latency"),
            unit: "ms".into(),
            reference: runs
                .iter()
                .find_map(|(_, c)| c.service(name))
                .and_then(|s| s.1)
                .map(|bound| ("SLO target".to_string(), bound)),
            series: series(runs, |c| c.service(name).map(|s| s.2.clone())),
        })
        .collect();
    LatencyRunsChart::new(labels(runs), panels, shared_incidents(runs))
}

/// Cumulative cost by run: a panel with the total per metrics window (the sum of
/// [`cost_chart`]'s categories), then a panel per cost category that any run spent on.
pub fn cost_runs_chart(runs: &[(&str, &RunCurves)]) -> CostRunsChart {
    let panel = |caption: String, points: &dyn Fn(&[Points]) -> Points| RunsPanel {
        caption,
        unit: "USD".into(),
        reference: None,
        series: runs
            .iter()
            .map(|(label, c)| RunSeries {
                label: label.to_string(),
                points: points(&c.categories),
            })
            .collect(),
    };
    let mut panels = vec![panel("total: cumulative cost".into(), &|run| sum_points(run))];
    for (c, category) in CostCategory::ALL.iter().enumerate() {
        let of_category = |run: &[Points]| run.get(c).cloned().unwrap_or_default();
        if runs
            .iter()
            .any(|(_, curves)| curves.categories.get(c).is_some_and(spent))
        {
            let caption = format!("{}: cumulative cost", category.label());
            panels.push(panel(caption, &of_category));
        }
    }
    CostRunsChart::new(labels(runs), panels, shared_incidents(runs))
}

/// GPUs in use by run: a panel per pool (over all runs, in order of first appearance) with
/// each run's GPUs in use over all tiers, from the same samples as [`utilization_chart`].
pub fn utilization_runs_chart(runs: &[(&str, &RunCurves)]) -> UtilizationRunsChart {
    let names = first_seen(
        runs.iter()
            .flat_map(|(_, c)| c.pools.iter().map(|p| p.0.as_str())),
    );
    let panels = names
        .into_iter()
        .map(|name| RunsPanel {
            caption: format!("{name}: GPUs in use"),
            unit: "GPUs".into(),
            reference: None,
            series: series(runs, |c| {
                c.pools.iter().find(|p| p.0 == name).map(|p| p.1.clone())
            }),
        })
        .collect();
    UtilizationRunsChart::new(labels(runs), panels, shared_incidents(runs))
}

/// Writes the comparison charts of `runs` drawn as `groups` (`latency`, `cost`, `utilization`)
/// and their recovery chart into the root of `out`, as SVG and PNG.
pub fn write_runs_charts(
    out: &OutputDir,
    runs: &[(&str, &RunCurves)],
    summaries: &[(&str, &Summary)],
    groups: &[RunGroup],
) -> Result<(), OutputError> {
    write_chart(out, "", &latency_runs_chart(runs).with_groups(groups.to_vec()))?;
    write_chart(out, "", &cost_runs_chart(runs).with_groups(groups.to_vec()))?;
    write_chart(
        out,
        "",
        &utilization_runs_chart(runs).with_groups(groups.to_vec()),
    )?;
    write_chart(out, "", &grouped_recovery_chart(summaries, groups))
}

/// The runs' labels, in order.
fn labels(runs: &[(&str, &RunCurves)]) -> Vec<String> {
    runs.iter().map(|(label, _)| label.to_string()).collect()
}

/// Names in order of first appearance, each once.
fn first_seen<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    names.filter(|name| seen.insert(*name)).collect()
}

/// A series per run of what `points` reads from it; empty for a run that does not have it.
fn series(runs: &[(&str, &RunCurves)], points: impl Fn(&RunCurves) -> Option<Points>) -> Vec<RunSeries> {
    runs.iter()
        .map(|(label, c)| RunSeries {
            label: label.to_string(),
            points: points(c).unwrap_or_default(),
        })
        .collect()
}

/// The incident windows to shade on a comparison: the runs' own when every run has the same
/// ones (one scenario under several policies or seeds), none otherwise.
fn shared_incidents(runs: &[(&str, &RunCurves)]) -> Vec<IncidentWindow> {
    same_in_all(runs.iter().map(|(_, c)| c.incidents.clone()))
}

/// The list every one of `lists` is equal to; empty if they differ or there are none.
fn same_in_all(mut lists: impl Iterator<Item = Vec<IncidentWindow>>) -> Vec<IncidentWindow> {
    let Some(first) = lists.next() else {
        return Vec::new();
    };
    if lists.all(|l| l == first) {
        first
    } else {
        Vec::new()
    }
}

/// Cumulative cost per category (in the order of [`CostCategory::ALL`]) per metrics window.
fn category_points(outcome: &RunOutcome) -> io::Result<Vec<Points>> {
    let record = &outcome.record;
    let window_ns = record.window.as_nanos();
    let mut points: Vec<Points> = vec![Vec::new(); CostCategory::ALL.len()];
    thinned_costs(record, |w, cost| {
        for (category, &value) in points.iter_mut().zip(&cost.by_category) {
            category.push((window_end_s(window_ns, w), Some(value)));
        }
    })?;
    Ok(points)
}

/// Whether a cost curve is non-zero anywhere.
fn spent(points: &Points) -> bool {
    points
        .iter()
        .any(|(_, v)| v.is_some_and(|v| v.is_finite() && v != 0.0))
}

/// The point-by-point sum of a run's category curves (which share their times).
fn sum_points(by_category: &[Points]) -> Points {
    let Some(first) = by_category.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(w, &(t_s, _))| {
            let total = by_category.iter().filter_map(|c| c.get(w)?.1).sum();
            (t_s, Some(total))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(label: &str, start_s: f64) -> IncidentWindow {
        IncidentWindow {
            label: label.into(),
            start_s,
            end_s: start_s + 60.0,
            services: None,
        }
    }

    #[test]
    fn incidents_are_shaded_only_when_every_run_has_the_same() {
        let outage = vec![window("outage", 600.0)];
        let same = [outage.clone(), outage.clone(), outage.clone()];
        assert_eq!(same_in_all(same.into_iter()), outage);
        let moved = [outage.clone(), vec![window("outage", 660.0)]];
        assert_eq!(same_in_all(moved.into_iter()), vec![]);
        let fewer = [outage.clone(), vec![]];
        assert_eq!(same_in_all(fewer.into_iter()), vec![]);
        assert_eq!(same_in_all(std::iter::empty()), vec![]);
    }

    fn key<'a>(scenario: usize, name: &'a str, policy: &'a str, label: &'a str) -> GroupKey<'a> {
        GroupKey {
            scenario,
            scenario_name: name,
            policy,
            label,
        }
    }

    fn groups(keys: &[GroupKey]) -> Vec<(String, Vec<usize>)> {
        group_runs(keys).into_iter().map(|g| (g.label, g.runs)).collect()
    }

    #[test]
    fn runs_of_a_scenario_and_policy_over_seeds_are_one_group_named_by_what_varies() {
        let policies = [
            key(0, "dual", "cheapest", "cheapest.seed-7"),
            key(0, "dual", "failover", "failover.seed-7"),
            key(0, "dual", "cheapest", "cheapest.seed-8"),
            key(0, "dual", "failover", "failover.seed-8"),
        ];
        assert_eq!(
            groups(&policies),
            [("cheapest".into(), vec![0, 2]), ("failover".into(), vec![1, 3])]
        );
        let seeds = [
            key(0, "dual", "cheapest", "seed-7"),
            key(0, "dual", "cheapest", "seed-8"),
        ];
        assert_eq!(groups(&seeds), [("cheapest".into(), vec![0, 1])]);
        // The same scenario given twice: two groups, never averaged together.
        let twice = [
            key(0, "dual", "cheapest", "dual.seed-7"),
            key(0, "dual", "cheapest", "dual.seed-8"),
            key(1, "dual", "cheapest", "dual-2.seed-7"),
            key(1, "dual", "cheapest", "dual-2.seed-8"),
            key(2, "single", "cheapest", "single.seed-7"),
            key(2, "single", "cheapest", "single.seed-8"),
        ];
        assert_eq!(
            groups(&twice),
            [
                ("dual".into(), vec![0, 1]),
                ("dual-2".into(), vec![2, 3]),
                ("single".into(), vec![4, 5])
            ]
        );
        // One seed: each run is its own group under its own label, as before.
        let single = [
            key(0, "dual", "cheapest", "cheapest"),
            key(0, "dual", "failover", "failover"),
        ];
        assert_eq!(
            groups(&single),
            [("cheapest".into(), vec![0]), ("failover".into(), vec![1])]
        );
    }

    #[test]
    fn names_are_kept_once_in_order_of_first_appearance() {
        let names = ["b", "a", "b", "c", "a"];
        assert_eq!(first_seen(names.into_iter()), ["b", "a", "c"]);
    }

    #[test]
    fn the_total_adds_up_the_categories_window_by_window() {
        let by_category = vec![
            vec![(60.0, Some(1.0)), (120.0, Some(2.0))],
            vec![(60.0, Some(0.5)), (120.0, None)],
        ];
        assert_eq!(
            sum_points(&by_category),
            vec![(60.0, Some(1.5)), (120.0, Some(2.0))]
        );
        assert_eq!(sum_points(&[]), vec![]);
    }
}
