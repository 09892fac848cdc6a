//! The charts as the report shows them: the chart renderer's SVG, inline in the page.
//!
//! A chart's SVG grows with its points, so for the page each series is thinned to at most
//! [`MAX_POINTS`] points (more would not show at the page's width), and fewer when a chart has
//! many panels, so that a chart has about [`CHART_POINTS`] in all: consecutive windows are
//! merged, keeping the worst latency, the most GPUs in use and the least capacity of each
//! group, and the cost at the group's end. A comparison chart's series (one per run and
//! panel) share the chart's budget the same way. An SVG still larger than [`MAX_SVG_BYTES`]
//! (hundreds of pools) is left out with a pointer to the chart's own file. The `.svg` and
//! `.png` files beside the report always have every point.

use std::fmt::Write as _;

use super::markup::{count, escape};
use crate::report::charts::{
    Chart, ChartError, CostChart, CostRunsChart, LatencyChart, LatencyPoint, LatencyRunsChart, RequestPoint,
    RequestRateChart, RunsChart, UtilizationChart, UtilizationPoint, UtilizationRunsChart,
};

/// The most points per series drawn in the page.
pub(super) const MAX_POINTS: usize = 1_000;

/// The fewest points a series is thinned to, however many panels its chart has.
pub(super) const MIN_POINTS: usize = 150;

/// About how many points per series, summed over a chart's panels, the page draws.
pub(super) const CHART_POINTS: usize = 4_000;

/// The largest SVG put into the page, in bytes.
pub(super) const MAX_SVG_BYTES: usize = 1_000_000;

/// Writes `chart` as a figure with `caption` (markup) and links to its `.svg` and `.png` files
/// beside the report.
pub(super) fn figure<C: Chart>(out: &mut String, chart: &C, caption: &str) -> Result<(), ChartError> {
    let svg = chart.svg()?;
    let name = C::NAME;
    let _ = writeln!(out, "<figure class=\"chart\" id=\"chart-{name}\">");
    match svg.find("<svg") {
        Some(start) if svg.len() - start <= MAX_SVG_BYTES => {
            let label = format!("<svg role=\"img\" aria-label=\"{}\"", escape(C::TITLE));
            out.push_str(&label);
            out.push_str(svg[start + 4..].trim_end());
            out.push('\n');
        }
        _ => {
            let _ = writeln!(
                out,
                "<p class=\"note\">This chart is too large to show in the page ({} bytes); open \
                 <a href=\"{name}.svg\">{name}.svg</a> or <a href=\"{name}.png\">{name}.png</a>.</p>",
                count(svg.len() as u64)
            );
        }
    }
    let _ = writeln!(
        out,
        "<figcaption>{caption} Files: <a href=\"{name}.svg\">{name}.svg</a>, \
         <a href=\"{name}.png\">{name}.png</a>.</figcaption>\n</figure>"
    );
    Ok(())
}

/// The most points per series when a chart has `panels` of them.
fn budget(panels: usize) -> usize {
    (CHART_POINTS / panels.max(1)).clamp(MIN_POINTS, MAX_POINTS)
}

/// How many consecutive points make one when `n` must fit in `budget`.
fn group_size(n: usize, budget: usize) -> usize {
    n.div_ceil(budget.max(1)).max(1)
}

fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `points` merged `k` at a time by `merge` (left as they are when `k` is 1).
fn merged_in_groups<T>(points: &mut Vec<T>, k: usize, merge: impl Fn(&[T]) -> Option<T>) {
    if k > 1 {
        *points = points.chunks(k).filter_map(merge).collect();
    }
}

/// The latency chart with each service's windows merged in groups, keeping each group's
/// highest quantiles at the group's end.
pub(super) fn thin_latency(chart: &LatencyChart) -> LatencyChart {
    let mut thin = chart.clone();
    let budget = budget(chart.services.len());
    for service in &mut thin.services {
        let k = group_size(service.points.len(), budget);
        merged_in_groups(&mut service.points, k, |group| {
            let last = group.last()?;
            Some(group.iter().fold(
                LatencyPoint {
                    t_s: last.t_s,
                    p50_ms: None,
                    p95_ms: None,
                    p99_ms: None,
                },
                |acc, p| LatencyPoint {
                    t_s: acc.t_s,
                    p50_ms: max_option(acc.p50_ms, p.p50_ms),
                    p95_ms: max_option(acc.p95_ms, p.p95_ms),
                    p99_ms: max_option(acc.p99_ms, p.p99_ms),
                },
            ))
        });
    }
    thin
}

/// The request-rate chart with each service's windows merged in groups: each rate is the
/// group's mean (its requests over its windows), at the group's end.
pub(super) fn thin_requests(chart: &RequestRateChart) -> RequestRateChart {
    let mut thin = chart.clone();
    let budget = budget(chart.services.len());
    for service in &mut thin.services {
        let k = group_size(service.points.len(), budget);
        merged_in_groups(&mut service.points, k, |group| {
            let n = group.len() as f64;
            let mean = |rate: fn(&RequestPoint) -> f64| group.iter().map(rate).sum::<f64>() / n;
            Some(RequestPoint {
                t_s: group.last()?.t_s,
                arrived_per_s: mean(|p| p.arrived_per_s),
                degraded_per_s: mean(|p| p.degraded_per_s),
                failed_per_s: mean(|p| p.failed_per_s),
            })
        });
    }
    thin
}

/// The cost chart with one point per group of windows: cumulative spend at the group's end.
pub(super) fn thin_cost(chart: &CostChart) -> CostChart {
    let mut thin = chart.clone();
    let k = group_size(chart.points.len(), MAX_POINTS);
    merged_in_groups(&mut thin.points, k, |group| group.last().cloned());
    thin
}

/// The utilization chart with each pool's states merged in groups: from the group's first
/// instant, the most GPUs in use and the least capacity of any of its states. The last state
/// (at the horizon) is kept as it is, so the final step still shows.
pub(super) fn thin_utilization(chart: &UtilizationChart) -> UtilizationChart {
    let mut thin = chart.clone();
    let budget = budget(chart.pools.len());
    for pool in &mut thin.pools {
        let k = group_size(pool.points.len(), budget);
        let Some((last, body)) = pool.points.split_last().filter(|_| k > 1) else {
            continue;
        };
        let mut points: Vec<UtilizationPoint> = body.chunks(k).filter_map(merge_states).collect();
        points.push(last.clone());
        pool.points = points;
    }
    thin
}

/// One state standing for `group`: its first instant, the most in use and least capacity.
fn merge_states(group: &[UtilizationPoint]) -> Option<UtilizationPoint> {
    let first = group.first()?;
    Some(UtilizationPoint {
        t_s: first.t_s,
        in_use: std::array::from_fn(|t| {
            group
                .iter()
                .map(|p| p.in_use[t])
                .fold(f64::NEG_INFINITY, f64::max)
        }),
        capacity: std::array::from_fn(|t| group.iter().map(|p| p.capacity[t]).fold(f64::INFINITY, f64::min)),
    })
}

/// One point of a comparison chart's series: seconds, and the value then.
type RunPoint = (f64, Option<f64>);

/// The latency comparison with each run's series merged in groups, keeping each group's
/// highest p99 at the group's end.
pub(super) fn thin_latency_runs(chart: &LatencyRunsChart) -> LatencyRunsChart {
    thin_runs(chart, false, |group| {
        let (t_s, _) = group.last()?;
        Some((*t_s, group.iter().fold(None, |acc, p| max_option(acc, p.1))))
    })
}

/// The cost comparison with one point per group of windows: cumulative spend at the group's
/// end.
pub(super) fn thin_cost_runs(chart: &CostRunsChart) -> CostRunsChart {
    thin_runs(chart, false, |group| group.last().copied())
}

/// The utilization comparison with each run's states merged in groups: from the group's first
/// instant, the most GPUs in use of any of its states. The last state (at the horizon) is
/// kept as it is, so the final step still shows.
pub(super) fn thin_utilization_runs(chart: &UtilizationRunsChart) -> UtilizationRunsChart {
    thin_runs(chart, true, |group| {
        let (t_s, _) = group.first()?;
        Some((*t_s, group.iter().fold(None, |acc, p| max_option(acc, p.1))))
    })
}

/// `chart` with every series of more points than its share of the page's budget merged in
/// groups of consecutive points by `merge`; with `keep_last`, the last point stays as it is.
fn thin_runs<K: Clone>(
    chart: &RunsChart<K>,
    keep_last: bool,
    merge: impl Fn(&[RunPoint]) -> Option<RunPoint>,
) -> RunsChart<K> {
    let mut thin = chart.clone();
    let budget = budget(chart.panels.iter().map(|p| p.series.len()).sum());
    for series in thin.panels.iter_mut().flat_map(|p| &mut p.series) {
        let k = group_size(series.points.len(), budget);
        if k == 1 {
            continue;
        }
        let (body, last) = match series.points.split_last() {
            Some((last, body)) if keep_last => (body, Some(*last)),
            _ => (series.points.as_slice(), None),
        };
        let mut points: Vec<RunPoint> = body.chunks(k).filter_map(&merge).collect();
        points.extend(last);
        series.points = points;
    }
    thin
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::{CostPoint, PoolUtilization, RunSeries, RunsPanel, ServiceLatency};

    fn latency(n: usize) -> LatencyChart {
        LatencyChart {
            services: vec![ServiceLatency {
                service: "s".into(),
                slo_ms: None,
                points: (0..n)
                    .map(|i| LatencyPoint {
                        t_s: i as f64,
                        p50_ms: Some(1.0),
                        p95_ms: (i != 7).then_some(2.0),
                        p99_ms: Some(if i == 1234 { 999.0 } else { 3.0 }),
                    })
                    .collect(),
            }],
            incidents: Vec::new(),
            omitted: 0,
        }
    }

    #[test]
    fn charts_with_many_panels_get_fewer_points_per_panel() {
        assert_eq!(budget(1), MAX_POINTS);
        assert_eq!(budget(8), 500);
        assert_eq!(budget(1_000), MIN_POINTS);
    }

    #[test]
    fn short_series_are_left_alone() {
        let chart = latency(MAX_POINTS);
        assert_eq!(thin_latency(&chart), chart);
    }

    #[test]
    fn long_series_are_thinned_and_keep_their_peaks() {
        let thin = thin_latency(&latency(10 * MAX_POINTS + 3));
        let points = &thin.services[0].points;
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        assert!(points.iter().any(|p| p.p99_ms == Some(999.0)));
        assert!(points.iter().all(|p| p.p95_ms == Some(2.0)));
        assert_eq!(points.last().map(|p| p.t_s), Some((10 * MAX_POINTS + 2) as f64));
    }

    #[test]
    fn cost_keeps_group_ends_and_utilization_keeps_the_horizon() {
        let cost = CostChart {
            points: (0..5_000)
                .map(|i| CostPoint {
                    t_s: i as f64,
                    by_category: [i as f64; 5],
                    by_tier: [0.0; 4],
                })
                .collect(),
            incidents: Vec::new(),
        };
        let thin = thin_cost(&cost);
        assert!(thin.points.len() <= MAX_POINTS);
        assert_eq!(thin.points.last(), cost.points.last());

        let state = |t_s: f64, use_: f64, cap: f64| UtilizationPoint {
            t_s,
            in_use: [use_, 0.0, 0.0, 0.0],
            capacity: [cap, 0.0, 0.0, 0.0],
        };
        let mut points: Vec<UtilizationPoint> = (0..3_000).map(|i| state(i as f64, 1.0, 8.0)).collect();
        points[100] = state(100.0, 7.0, 2.0);
        points.push(state(5_000.0, 1.0, 8.0));
        let chart = UtilizationChart {
            pools: vec![PoolUtilization {
                pool: "p".into(),
                points,
            }],
            incidents: Vec::new(),
            omitted: 0,
        };
        let thin = thin_utilization(&chart);
        let points = &thin.pools[0].points;
        assert!(points.len() <= MAX_POINTS + 1);
        assert!(points.iter().any(|p| p.in_use[0] == 7.0 && p.capacity[0] == 2.0));
        assert_eq!(points.last().map(|p| p.t_s), Some(5_000.0));
    }

    /// A month of 1-minute windows for `runs` runs in each of `panels` panels; run `r` peaks
    /// at window 20,000 with `1000 + r`, and reads `None` at window 7.
    fn month_of_runs(runs: usize, panels: usize) -> (Vec<String>, Vec<RunsPanel>) {
        let labels: Vec<String> = (0..runs).map(|r| format!("run {r}")).collect();
        let series = |r: usize| RunSeries {
            label: format!("run {r}"),
            points: (0..30 * 24 * 60)
                .map(|w| {
                    let v = if w == 20_000 {
                        1000.0 + r as f64
                    } else {
                        1.0 + w as f64 / 1e4
                    };
                    ((w + 1) as f64 * 60.0, (w != 7).then_some(v))
                })
                .collect(),
        };
        let panels = (0..panels)
            .map(|p| RunsPanel {
                caption: format!("panel {p}"),
                unit: "ms".into(),
                reference: None,
                series: (0..runs).map(series).collect(),
            })
            .collect();
        (labels, panels)
    }

    fn points(panels: &[RunsPanel]) -> usize {
        panels
            .iter()
            .flat_map(|p| &p.series)
            .map(|s| s.points.len())
            .sum()
    }

    #[test]
    fn a_month_of_five_runs_fits_the_page() {
        let (runs, panels) = month_of_runs(5, 2);
        let chart = LatencyRunsChart::new(runs, panels, Vec::new());
        let thin = thin_latency_runs(&chart);
        assert!(points(&thin.panels) <= CHART_POINTS, "{}", points(&thin.panels));
        for (r, series) in thin.panels[0].series.iter().enumerate() {
            assert!(series.points.len() <= budget(10));
            assert!(
                series.points.iter().any(|p| p.1 == Some(1000.0 + r as f64)),
                "run {r} keeps its peak"
            );
            assert_eq!(
                series.points.last().map(|p| p.0),
                chart.panels[0].series[r].points.last().map(|p| p.0)
            );
        }
        let svg = thin.svg().unwrap();
        assert!(svg.len() <= MAX_SVG_BYTES, "{} bytes", svg.len());
        let (short_runs, short_panels) = (
            vec!["a".to_string()],
            vec![RunsPanel {
                series: vec![RunSeries {
                    label: "a".into(),
                    points: vec![(0.0, Some(1.0)); MIN_POINTS],
                }],
                ..chart.panels[0].clone()
            }],
        );
        let short = LatencyRunsChart::new(short_runs, short_panels, Vec::new());
        assert_eq!(thin_latency_runs(&short), short, "short series are left alone");
    }

    #[test]
    fn cost_runs_keep_group_ends_and_utilization_runs_keep_peaks_and_the_horizon() {
        let (runs, panels) = month_of_runs(5, 3);
        let cost = CostRunsChart::new(runs.clone(), panels.clone(), Vec::new());
        let thin = thin_cost_runs(&cost);
        assert!(points(&thin.panels) <= CHART_POINTS);
        for (thin, whole) in thin.panels[2].series.iter().zip(&cost.panels[2].series) {
            assert_eq!(thin.points.last(), whole.points.last());
            assert!(
                thin.points.iter().all(|p| whole.points.contains(p)),
                "values at group ends"
            );
        }

        let usage = UtilizationRunsChart::new(runs, panels, Vec::new());
        let thin = thin_utilization_runs(&usage);
        assert!(
            points(&thin.panels) <= CHART_POINTS + 15,
            "one extra point per series"
        );
        for (r, (thin, whole)) in thin.panels[1]
            .series
            .iter()
            .zip(&usage.panels[1].series)
            .enumerate()
        {
            assert_eq!(thin.points.last(), whole.points.last());
            assert_eq!(
                thin.points.first().map(|p| p.0),
                whole.points.first().map(|p| p.0)
            );
            assert!(thin.points.iter().any(|p| p.1 == Some(1000.0 + r as f64)));
        }
    }
}
