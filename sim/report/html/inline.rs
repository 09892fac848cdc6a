//! The charts as the report shows them: the chart renderer's SVG, inline in the page.
//!
//! A chart's SVG grows with its points, so for the page each series is thinned to at most
//! [`MAX_POINTS`] points (more would not show at the page's width), and fewer when a chart has
//! many panels, so that a chart has about [`CHART_POINTS`] in all: consecutive windows are
//! merged, keeping the worst latency, the most GPUs in use and the least capacity of each
//! group, and the cost at the group's end. An SVG still larger than [`MAX_SVG_BYTES`]
//! (hundreds of pools) is left out with a pointer to the chart's own file. The `.svg` and
//! `.png` files beside the report always have every point.

use std::fmt::Write as _;

use super::markup::{count, escape};
use crate::report::charts::{
    Chart, ChartError, CostChart, LatencyChart, LatencyPoint, UtilizationChart, UtilizationPoint,
};

/// The most points per series drawn in the page.
pub const MAX_POINTS: usize = 1_000;

/// The fewest points a series is thinned to, however many panels its chart has.
pub const MIN_POINTS: usize = 150;

/// About how many points per series, summed over a chart's panels, the page draws.
pub const CHART_POINTS: usize = 4_000;

/// The largest SVG put into the page, in bytes.
pub const MAX_SVG_BYTES: usize = 1_000_000;

/// Writes `chart` as a figure with `caption` (markup) and links to its `.svg` and `.png` files
/// beside the report.
pub fn figure<C: Chart>(out: &mut String, chart: &C, caption: &str) -> Result<(), ChartError> {
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

/// The latency chart with each service's windows merged in groups, keeping each group's
/// highest quantiles at the group's end.
pub fn thin_latency(chart: &LatencyChart) -> LatencyChart {
    let mut thin = chart.clone();
    let budget = budget(chart.services.len());
    for service in &mut thin.services {
        let k = group_size(service.points.len(), budget);
        if k == 1 {
            continue;
        }
        service.points = service
            .points
            .chunks(k)
            .filter_map(|group| {
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
            })
            .collect();
    }
    thin
}

/// The cost chart with one point per group of windows: cumulative spend at the group's end.
pub fn thin_cost(chart: &CostChart) -> CostChart {
    let mut thin = chart.clone();
    let k = group_size(chart.points.len(), MAX_POINTS);
    if k > 1 {
        thin.points = chart
            .points
            .chunks(k)
            .filter_map(|group| group.last().cloned())
            .collect();
    }
    thin
}

/// The utilization chart with each pool's states merged in groups: from the group's first
/// instant, the most GPUs in use and the least capacity of any of its states. The last state
/// (at the horizon) is kept as it is, so the final step still shows.
pub fn thin_utilization(chart: &UtilizationChart) -> UtilizationChart {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::{CostPoint, PoolUtilization, ServiceLatency};

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
        };
        let thin = thin_utilization(&chart);
        let points = &thin.pools[0].points;
        assert!(points.len() <= MAX_POINTS + 1);
        assert!(points.iter().any(|p| p.in_use[0] == 7.0 && p.capacity[0] == 2.0));
        assert_eq!(points.last().map(|p| p.t_s), Some(5_000.0));
    }
}
