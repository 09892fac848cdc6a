//! The charts of a run (or of a comparison), built from its figures and written as SVG and
//! PNG: `latency`, `cost`, `utilization` per run, `recovery` per run and side by side per
//! policy in a comparison.

use crate::infra::pool::Tier;
use crate::metrics::Summary;
use crate::metrics::timeseries::{cost_curves, window_end_s};
use crate::world::RunOutcome;

use super::OutputDir;
use super::charts::{
    Chart, ChartError, CostChart, CostPoint, IncidentRecovery, IncidentWindow, LatencyChart, LatencyPoint,
    PolicyRecovery, PoolUtilization, RecoveryChart, ServiceLatency, UtilizationChart, UtilizationPoint,
};
use super::output::OutputError;

/// The incidents as shaded windows; one without an end lasts to the horizon.
pub fn incident_windows(summary: &Summary) -> Vec<IncidentWindow> {
    summary
        .incidents
        .iter()
        .map(|i| IncidentWindow {
            label: i.name.clone(),
            start_s: i.start_s,
            end_s: i.end_s.unwrap_or(summary.horizon_s),
        })
        .collect()
}

/// p50, p95 and p99 end-to-end latency of every service per metrics window, with its SLO.
pub fn latency_chart(outcome: &RunOutcome) -> LatencyChart {
    let window_ns = outcome.world.window().as_nanos();
    let ms = |ns: Option<u64>| ns.map(|v| v as f64 / 1e6);
    let services = outcome
        .world
        .serving
        .services
        .iter()
        .map(|service| ServiceLatency {
            service: service.name.clone(),
            slo_ms: service.slo.map(|(_, bound)| bound.as_secs_f64() * 1e3),
            points: service
                .metrics
                .windows
                .iter()
                .enumerate()
                .map(|(w, stats)| LatencyPoint {
                    t_s: window_end_s(window_ns, w),
                    p50_ms: ms(stats.end_to_end.quantile(0.50)),
                    p95_ms: ms(stats.end_to_end.quantile(0.95)),
                    p99_ms: ms(stats.end_to_end.quantile(0.99)),
                })
                .collect(),
        })
        .collect();
    LatencyChart {
        services,
        incidents: incident_windows(&outcome.summary),
    }
}

/// Cumulative cost per metrics window, by category and by tier.
pub fn cost_chart(outcome: &RunOutcome) -> CostChart {
    let world = &outcome.world;
    let window_ns = world.window().as_nanos();
    let windows = world.backlog.len();
    let curves = cost_curves(&world.estate.ledger, window_ns, windows);
    let points = (0..windows)
        .map(|w| CostPoint {
            t_s: window_end_s(window_ns, w),
            by_category: std::array::from_fn(|c| curves.by_category[c][w]),
            by_tier: std::array::from_fn(|t| curves.by_tier[t][w]),
        })
        .collect();
    CostChart {
        points,
        incidents: incident_windows(&outcome.summary),
    }
}

/// GPUs in use against capacity per pool and tier, from the window samples; the last sample
/// is repeated at the horizon so that the final step shows.
pub fn utilization_chart(outcome: &RunOutcome) -> UtilizationChart {
    let world = &outcome.world;
    let window_ns = world.window().as_nanos();
    let samples = &world.capacity;
    let pools = world
        .estate
        .pools
        .iter()
        .enumerate()
        .map(|(p, pool)| {
            let point = |w: usize, t_s: f64| {
                let at = |tier: Tier| samples.at(w, p, tier);
                UtilizationPoint {
                    t_s,
                    in_use: Tier::ALL.map(|t| f64::from(at(t).0)),
                    capacity: Tier::ALL.map(|t| f64::from(at(t).1)),
                }
            };
            let mut points: Vec<UtilizationPoint> = (0..samples.windows())
                .map(|w| point(w, window_end_s(window_ns, w)))
                .collect();
            if let Some(last) = samples.windows().checked_sub(1) {
                points.push(point(last, outcome.summary.horizon_s));
            }
            PoolUtilization {
                pool: pool.name.clone(),
                points,
            }
        })
        .collect();
    UtilizationChart {
        pools,
        incidents: incident_windows(&outcome.summary),
    }
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
            })
            .collect(),
    }
}

/// Writes `chart` as `<folder><name>.svg` and `.png`.
pub fn write_chart<C: Chart>(out: &OutputDir, folder: &str, chart: &C) -> Result<(), OutputError> {
    let fail = |e: ChartError| OutputError {
        path: out.target().join(format!("{folder}{}", C::NAME)),
        source: std::io::Error::other(e),
    };
    out.write_bytes(
        &format!("{folder}{}.svg", C::NAME),
        chart.svg().map_err(fail)?.as_bytes(),
    )?;
    out.write_bytes(&format!("{folder}{}.png", C::NAME), &chart.png().map_err(fail)?)
}

/// Writes the four charts of one run into `folder`.
pub fn write_run_charts(out: &OutputDir, folder: &str, outcome: &RunOutcome) -> Result<(), OutputError> {
    write_chart(out, folder, &latency_chart(outcome))?;
    write_chart(out, folder, &cost_chart(outcome))?;
    write_chart(out, folder, &utilization_chart(outcome))?;
    let summary = &outcome.summary;
    write_chart(
        out,
        folder,
        &recovery_chart(&[(summary.policy.as_str(), summary)]),
    )
}
