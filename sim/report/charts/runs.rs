//! The comparison charts (`latency`, `cost`, `utilization` of a comparison folder): several
//! runs overlaid on the same axes, one colour per run. This module owns their input types
//! ([`RunsChart`] and its panels and series) and the one drawing function the three share:
//! every panel has the same time axis (all runs' times), its y axis starts at zero and covers
//! every run's values, and run `i` has colour `i` in every chart and panel, so runs are read
//! against the same scale. A missing or non-finite value breaks a run's line.

use std::marker::PhantomData;
use std::ops::Range;

use plotters::element::{Circle, DashedPathElement, PathElement};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, REFERENCE, TimeAxis, WIDTH};
use super::{Chart, ChartError, IncidentWindow};

/// Height of one panel.
const PANEL_H: u32 = 300;

/// One run's values over time in a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSeries {
    /// The run's label (as in the chart's `runs`).
    pub label: String,
    /// `(t_s, value)`: seconds from the start of the run, and the value then; `None` (or a
    /// non-finite value) breaks the line. In any order: they are drawn in time order.
    pub points: Vec<(f64, Option<f64>)>,
}

/// One panel: one quantity, every run's series of it on the same axes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsPanel {
    /// The caption above the plot.
    pub caption: String,
    /// The unit of the y axis, used as its description (`ms`, `USD`, `GPUs`); values in `USD`
    /// are labelled as dollar amounts.
    pub unit: String,
    /// A dashed reference line across the plot, such as an SLO target: its legend label and
    /// value. Drawn when the value is finite and positive.
    pub reference: Option<(String, f64)>,
    /// One series per run, in the order of the chart's `runs`; a run without this quantity
    /// has an empty series, so that its colour stays the same in every panel and chart.
    pub series: Vec<RunSeries>,
}

/// Input of a comparison chart: runs overlaid panel by panel. `K` says which chart it is
/// ([`LatencyRunsChart`], [`CostRunsChart`] or [`UtilizationRunsChart`]); the data is the same
/// for all three.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsChart<K> {
    /// The runs' labels, in legend and colour order.
    pub runs: Vec<String>,
    /// The panels, top to bottom.
    pub panels: Vec<RunsPanel>,
    /// Incident windows shaded on every panel (only when all runs share them).
    pub incidents: Vec<IncidentWindow>,
    kind: PhantomData<K>,
}

impl<K> RunsChart<K> {
    /// A chart of `runs` with `panels` and shaded `incidents`.
    pub fn new(runs: Vec<String>, panels: Vec<RunsPanel>, incidents: Vec<IncidentWindow>) -> Self {
        RunsChart {
            runs,
            panels,
            incidents,
            kind: PhantomData,
        }
    }
}

/// Marks p99 latency by run: lines through the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyRuns;

/// Marks cumulative cost by run: lines through the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CostRuns;

/// Marks GPUs in use by run: steps, each value holding until the next point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtilizationRuns;

/// p99 end-to-end latency per service, one line per run.
pub type LatencyRunsChart = RunsChart<LatencyRuns>;
/// Cumulative cost, in total and per category, one line per run.
pub type CostRunsChart = RunsChart<CostRuns>;
/// GPUs in use per pool, one step line per run.
pub type UtilizationRunsChart = RunsChart<UtilizationRuns>;

/// What differs between the three comparison charts besides their name and title.
pub(super) trait Kind {
    /// Whether each value holds until the next point (a step line) rather than being joined
    /// to it by a straight line.
    const STEPS: bool;
    /// The note on a panel without values.
    const EMPTY_NOTE: &'static str;
}

impl Kind for LatencyRuns {
    const STEPS: bool = false;
    const EMPTY_NOTE: &'static str = "no latency measured for this service in any run";
}

impl Kind for CostRuns {
    const STEPS: bool = false;
    const EMPTY_NOTE: &'static str = "no cost recorded in any run";
}

impl Kind for UtilizationRuns {
    const STEPS: bool = true;
    const EMPTY_NOTE: &'static str = "no utilization recorded for this pool in any run";
}

/// Pixel size of the chart.
pub(super) fn size<K>(chart: &RunsChart<K>) -> (u32, u32) {
    let panels = chart.panels.len().max(1) as u32;
    let header = frame::grid_header_h(legend(chart).len());
    (WIDTH, header + PANEL_H * panels + style::FOOTER_H)
}

/// Draws the chart on `root`.
pub(super) fn draw<K: Kind, DB: DrawingBackend>(
    chart: &RunsChart<K>,
    root: &Area<DB>,
) -> Result<(), ChartError>
where
    RunsChart<K>: Chart,
{
    let body = frame::figure_grid(root, <RunsChart<K> as Chart>::TITLE, &legend(chart))?;
    if chart.panels.is_empty() {
        return frame::no_data(&body, "no runs to show");
    }
    let range = frame::time_range(chart.panels.iter().flat_map(|p| values(p).map(|(t, _)| t)));
    let areas = body.split_evenly((chart.panels.len(), 1));
    for (panel, area) in chart.panels.iter().zip(&areas) {
        let plot_area = frame::panel(area, &style::clip_label(&panel.caption, 80), &[])?;
        match (&range, y_max(panel)) {
            (Some((time, x)), Some(max)) => {
                draw_panel::<K, DB>(&plot_area, panel, &chart.incidents, *time, x.clone(), max)?;
            }
            _ => frame::no_data(&plot_area, K::EMPTY_NOTE)?,
        }
    }
    Ok(())
}

/// The legend: a line per run in its colour, each distinct reference label, and incidents
/// when there are any.
fn legend<K>(chart: &RunsChart<K>) -> Vec<LegendItem> {
    let mut items: Vec<LegendItem> = chart
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| LegendItem::new(run.as_str(), Swatch::Line(style::series_color(i))))
        .collect();
    let mut references: Vec<&str> = Vec::new();
    for (label, _) in chart.panels.iter().filter_map(valid_reference) {
        if !references.contains(&label) {
            references.push(label);
        }
    }
    items.extend(
        references
            .into_iter()
            .map(|label| LegendItem::new(label, Swatch::Dashed(REFERENCE))),
    );
    if !chart.incidents.is_empty() {
        items.push(LegendItem::new("incident", Swatch::Incident));
    }
    items
}

/// Draws one panel's plot: bands, reference line, a line per run, then band labels on top.
fn draw_panel<K: Kind, DB: DrawingBackend>(
    area: &Area<DB>,
    panel: &RunsPanel,
    incidents: &[IncidentWindow],
    time: TimeAxis,
    x: Range<f64>,
    max: f64,
) -> Result<(), ChartError> {
    let y = frame::y_range(max, 1.12);
    let x_fmt = frame::tick_format(&x);
    let y_fmt = value_format(&panel.unit, &y);
    let axes = Axes {
        label_strip: frame::has_bands(incidents, time, &x),
        x,
        y,
        x_desc: time.label,
        y_desc: &panel.unit,
        x_ticks: 14,
        x_fmt: &x_fmt,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(area, &axes)?;
    frame::incident_bands(&plot, incidents, time)?;
    if let Some((label, value)) = valid_reference(panel) {
        draw_reference(&plot, label, value, &panel.unit)?;
    }
    let runs = panel.series.len();
    for (i, series) in panel.series.iter().enumerate() {
        let lines = segments(&series.points, time, K::STEPS);
        draw_lines(&plot, &lines, style::series_color(i), line_width(i, runs))?;
    }
    frame::incident_labels(&plot, incidents, time)
}

/// How values in `unit` are written on an axis spanning `range`: dollar amounts for `USD`,
/// plain numbers otherwise.
fn value_format(unit: &str, range: &Range<f64>) -> Box<dyn Fn(&f64) -> String> {
    if unit == "USD" {
        Box::new(|v: &f64| style::usd(*v))
    } else {
        Box::new(frame::tick_format(range))
    }
}

/// The dashed reference line across the plot, labelled with its value at its right end.
fn draw_reference<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    label: &str,
    value: f64,
    unit: &str,
) -> Result<(), ChartError> {
    let x = plot.x_range();
    let line = [(x.start, value), (x.end, value)];
    plot.plotting_area()
        .draw(&DashedPathElement::new(line, 8, 5, REFERENCE.stroke_width(2)))?;
    let amount = if unit == "USD" {
        style::usd(value)
    } else {
        format!("{} {unit}", style::short(value))
    };
    let text = format!("{} {amount}", style::clip_label(label, 40));
    let right = style::text(13.0, REFERENCE).pos(Pos::new(HPos::Right, VPos::Bottom));
    frame::text_at(plot, &text, (x.end, value), (-6, -4), &right)
}

/// The stroke width of run `i` of `runs`: earlier runs are drawn wider, so that where runs
/// coincide (policies that act alike until an incident) each still shows as an edge around
/// the ones drawn over it.
fn line_width(i: usize, runs: usize) -> u32 {
    (2 + runs.saturating_sub(i + 1)).min(MAX_LINE_WIDTH) as u32
}

/// The widest line drawn.
const MAX_LINE_WIDTH: usize = 7;

/// Draws each unbroken stretch as a line; a stretch of one point as a dot, so it is not lost.
fn draw_lines<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    lines: &[Vec<(f64, f64)>],
    color: RGBColor,
    width: u32,
) -> Result<(), ChartError> {
    let area = plot.plotting_area();
    for line in lines {
        match line.as_slice() {
            [only] => area.draw(&Circle::new(*only, width + 1, color.filled()))?,
            points => area.draw(&PathElement::new(points.to_vec(), color.stroke_width(width)))?,
        }
    }
    Ok(())
}

/// The unbroken stretches of a series in time order, in axis units: a missing or non-finite
/// value ends one. With `steps`, each value also holds until the next point's time.
fn segments(points: &[(f64, Option<f64>)], time: TimeAxis, steps: bool) -> Vec<Vec<(f64, f64)>> {
    let mut sorted: Vec<(f64, Option<f64>)> = points.iter().copied().filter(|(t, _)| t.is_finite()).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, &(t, value)) in sorted.iter().enumerate() {
        match value.filter(|v| v.is_finite()) {
            Some(v) => {
                current.push((time.at(t), v));
                if let Some(&(next, _)) = sorted.get(i + 1).filter(|_| steps) {
                    current.push((time.at(next), v));
                }
            }
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Every point of a panel with a finite time and value, over all runs.
fn values(panel: &RunsPanel) -> impl Iterator<Item = (f64, f64)> + '_ {
    panel
        .series
        .iter()
        .flat_map(|s| &s.points)
        .filter_map(|&(t, v)| Some((t, v?)))
        .filter(|(t, v)| t.is_finite() && v.is_finite())
}

/// The reference line if it can be drawn.
fn valid_reference(panel: &RunsPanel) -> Option<(&str, f64)> {
    panel
        .reference
        .as_ref()
        .filter(|(_, v)| v.is_finite() && *v > 0.0)
        .map(|(label, v)| (label.as_str(), *v))
}

/// The largest value the panel's y axis must show: every run's values and the reference
/// line; `None` if no run has a value in it.
fn y_max(panel: &RunsPanel) -> Option<f64> {
    let (_, max) = frame::finite_span(values(panel).map(|(_, v)| v))?;
    Some(valid_reference(panel).map_or(max, |(_, r)| max.max(r)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn earlier_runs_are_wider_so_coinciding_lines_stay_visible() {
        let widths: Vec<u32> = (0..4).map(|i| super::line_width(i, 4)).collect();
        assert_eq!(widths, [5, 4, 3, 2]);
        assert_eq!(super::line_width(0, 1), 2);
        assert_eq!(super::line_width(0, 40), super::MAX_LINE_WIDTH as u32);
        assert_eq!(super::line_width(39, 40), 2);
    }

    use super::*;

    const SECONDS: TimeAxis = TimeAxis {
        per_unit_s: 1.0,
        label: "s",
    };

    fn series(label: &str, points: &[(f64, Option<f64>)]) -> RunSeries {
        RunSeries {
            label: label.into(),
            points: points.to_vec(),
        }
    }

    fn panel(series: Vec<RunSeries>, reference: Option<f64>) -> RunsPanel {
        RunsPanel {
            caption: "p".into(),
            unit: "ms".into(),
            reference: reference.map(|v| ("SLO target".to_string(), v)),
            series,
        }
    }

    #[test]
    fn missing_values_break_the_line() {
        let points = [
            (3.0, Some(3.0)),
            (0.0, Some(1.0)),
            (1.0, Some(2.0)),
            (2.0, None),
            (f64::NAN, Some(9.0)),
            (4.0, Some(f64::INFINITY)),
            (5.0, Some(5.0)),
        ];
        assert_eq!(
            segments(&points, SECONDS, false),
            vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 3.0)], vec![(5.0, 5.0)]]
        );
    }

    #[test]
    fn steps_hold_until_the_next_point() {
        let points = [
            (0.0, Some(1.0)),
            (10.0, Some(2.0)),
            (20.0, None),
            (30.0, Some(4.0)),
        ];
        assert_eq!(
            segments(&points, SECONDS, true),
            vec![
                vec![(0.0, 1.0), (10.0, 1.0), (10.0, 2.0), (20.0, 2.0)],
                vec![(30.0, 4.0)]
            ]
        );
    }

    #[test]
    fn the_y_axis_covers_the_largest_run_and_the_reference() {
        let small = series("a", &[(0.0, Some(3.0)), (60.0, Some(4.0))]);
        let large = series(
            "b",
            &[(0.0, Some(40.0)), (60.0, Some(f64::NAN)), (f64::NAN, Some(1e9))],
        );
        assert_eq!(
            y_max(&panel(vec![small.clone(), large.clone()], None)),
            Some(40.0)
        );
        assert_eq!(
            y_max(&panel(vec![large, small.clone()], Some(f64::NAN))),
            Some(40.0)
        );
        assert_eq!(y_max(&panel(vec![small.clone()], Some(100.0))), Some(100.0));
        assert_eq!(y_max(&panel(vec![small], Some(-1.0))), Some(4.0));
        let nothing = panel(vec![series("a", &[(0.0, None)]), series("b", &[])], Some(100.0));
        assert_eq!(y_max(&nothing), None);
    }

    #[test]
    fn the_legend_names_each_run_then_each_reference_once() {
        let chart = LatencyRunsChart::new(
            vec!["a".into(), "b".into()],
            vec![
                panel(vec![], Some(5.0)),
                panel(vec![], Some(6.0)),
                panel(vec![], None),
            ],
            vec![IncidentWindow {
                label: "outage".into(),
                start_s: 0.0,
                end_s: 1.0,
            }],
        );
        let labels: Vec<String> = legend(&chart).into_iter().map(|i| i.label).collect();
        assert_eq!(labels, ["a", "b", "SLO target", "incident"]);
    }

    #[test]
    fn a_long_legend_takes_more_rows() {
        let runs =
            |n: usize| CostRunsChart::new((0..n).map(|i| format!("run {i}")).collect(), vec![], vec![]);
        assert_eq!(size(&runs(4)).1, size(&runs(1)).1);
        assert!(size(&runs(5)).1 > size(&runs(4)).1);
        assert_eq!(size(&runs(0)), size(&CostRunsChart::default()));
    }

    #[test]
    fn equal_input_gives_equal_bytes_and_empty_input_renders() {
        let chart = UtilizationRunsChart::new(
            vec!["a".into(), "b".into()],
            vec![panel(
                vec![
                    series("a", &[(0.0, Some(1.0)), (60.0, Some(2.0))]),
                    series("b", &[]),
                ],
                None,
            )],
            vec![],
        );
        assert_eq!(chart.svg().unwrap(), chart.clone().svg().unwrap());
        assert!(!chart.svg().unwrap().contains("no data"));
        assert_eq!(chart.png().unwrap(), chart.clone().png().unwrap());
        for empty in [
            UtilizationRunsChart::default(),
            UtilizationRunsChart::new(vec!["a".into()], vec![panel(vec![], None)], vec![]),
        ] {
            assert!(empty.svg().unwrap().contains("no data"));
            assert!(!empty.png().unwrap().is_empty());
        }
    }
}
