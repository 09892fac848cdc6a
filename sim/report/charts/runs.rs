//! The comparison charts (`latency`, `cost`, `utilization` of a comparison folder): several
//! runs on the same axes. This module owns their input types ([`RunsChart`], its groups,
//! panels and series) and the one drawing function the three share: every panel has the same
//! time axis (all runs' times), its y axis starts at zero and covers every run's values, and a
//! missing or non-finite value breaks a line.
//!
//! Runs come in groups ([`RunGroup`]): a scenario and policy run under several seeds is one
//! group, drawn as its mean over the seeds at each time with the 95% Student-t interval of that
//! mean as a band ([`mean_band`]); a group of one run is its line. Group `i` has colour `i` in
//! every chart and panel. The palette tells [`style::PALETTE`] groups apart; with more groups,
//! each panel becomes small multiples, one small plot per group on the panel's scale, every
//! group in one colour and named by its caption, so no colour ever stands for two groups.

use std::marker::PhantomData;
use std::ops::Range;

use plotters::element::{Circle, DashedPathElement, PathElement, Polygon};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, PALETTE, REFERENCE, TimeAxis, WIDTH};
use super::{Chart, ChartError, IncidentWindow};
use crate::metrics::stats::mean_confidence_interval;

/// Height of one panel when groups are overlaid.
const PANEL_H: u32 = 300;
/// Small multiples per row.
const SMALL_COLUMNS: usize = 3;
/// Height of one small multiple.
const SMALL_H: u32 = 210;
/// Height of the caption above a panel's small multiples.
const SMALL_CAPTION_H: u32 = 30;
/// The confidence level of the band around a group's mean.
pub const BAND_LEVEL: f64 = 0.95;
/// The one colour of small multiples: the group is named by the caption, not by a colour.
const SMALL_COLOR: RGBColor = RGBColor(78, 121, 167);

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

/// Runs drawn as one: the runs of one scenario and policy under several seeds (their mean
/// and its interval), or a single run (its line).
#[derive(Debug, Clone, PartialEq)]
pub struct RunGroup {
    /// Its name in the legend or over its small multiple.
    pub label: String,
    /// Its runs, as indices into the chart's `runs` (and each panel's `series`); an index
    /// past the end is ignored.
    pub runs: Vec<usize>,
}

impl RunGroup {
    /// Its name in a legend or caption: its label, with how many seeds its mean is over.
    pub fn legend(&self) -> String {
        match self.runs.len() {
            0 | 1 => self.label.clone(),
            n => format!("{} (mean of {n} seeds)", self.label),
        }
    }
}

/// Input of a comparison chart: runs panel by panel. `K` says which chart it is
/// ([`LatencyRunsChart`], [`CostRunsChart`] or [`UtilizationRunsChart`]); the data is the same
/// for all three.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsChart<K> {
    /// The runs' labels, in the order of each panel's `series`.
    pub runs: Vec<String>,
    /// The groups drawn, in legend and colour order.
    pub groups: Vec<RunGroup>,
    /// The panels, top to bottom.
    pub panels: Vec<RunsPanel>,
    /// Incident windows shaded on every panel (only when all runs share them).
    pub incidents: Vec<IncidentWindow>,
    kind: PhantomData<K>,
}

impl<K> RunsChart<K> {
    /// A chart of `runs`, each its own group, with `panels` and shaded `incidents`.
    pub fn new(runs: Vec<String>, panels: Vec<RunsPanel>, incidents: Vec<IncidentWindow>) -> Self {
        let groups = runs
            .iter()
            .enumerate()
            .map(|(i, label)| RunGroup {
                label: label.clone(),
                runs: vec![i],
            })
            .collect();
        Self::grouped(runs, groups, panels, incidents)
    }

    /// A chart of `runs` drawn as `groups`.
    pub fn grouped(
        runs: Vec<String>,
        groups: Vec<RunGroup>,
        panels: Vec<RunsPanel>,
        incidents: Vec<IncidentWindow>,
    ) -> Self {
        RunsChart {
            runs,
            groups,
            panels,
            incidents,
            kind: PhantomData,
        }
    }

    /// The same chart drawn as `groups` (see [`RunsChart::grouped`]).
    pub fn with_groups(mut self, groups: Vec<RunGroup>) -> Self {
        self.groups = groups;
        self
    }

    /// Whether each group gets a small plot of its own rather than a colour: when there are
    /// more groups than the palette tells apart.
    pub fn small_multiples(&self) -> bool {
        self.groups.len() > PALETTE
    }

    /// Whether some group averages several runs.
    fn has_means(&self) -> bool {
        self.groups.iter().any(|g| g.runs.len() > 1)
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

/// p99 end-to-end latency per service, one line per run or group.
pub type LatencyRunsChart = RunsChart<LatencyRuns>;
/// Cumulative cost, in total and per category, one line per run or group.
pub type CostRunsChart = RunsChart<CostRuns>;
/// GPUs in use per pool, one step line per run or group.
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
    let panels = shown_panels(chart).max(1) as u32;
    let header = frame::header_h(&legend(chart), WIDTH);
    (WIDTH, header + panel_h(chart) * panels + style::FOOTER_H)
}

/// The most small plots one chart draws: small multiples multiply a chart's height by the
/// groups, so past this many plots the last panels are left out (the title says so).
const MAX_SMALL_PLOTS: usize = 144;

/// How many panels are drawn, from the top: all of them, unless small multiples would draw
/// more than [`MAX_SMALL_PLOTS`] plots; at least one.
fn shown_panels<K>(chart: &RunsChart<K>) -> usize {
    if chart.small_multiples() {
        let fit = (MAX_SMALL_PLOTS / chart.groups.len()).max(1);
        chart.panels.len().min(fit)
    } else {
        chart.panels.len()
    }
}

/// Height of one panel: a plot, or a caption over the rows of small multiples.
fn panel_h<K>(chart: &RunsChart<K>) -> u32 {
    if chart.small_multiples() {
        let rows = chart.groups.len().div_ceil(SMALL_COLUMNS) as u32;
        SMALL_CAPTION_H + rows * SMALL_H
    } else {
        PANEL_H
    }
}

/// Draws the chart on `root`.
pub(super) fn draw<K: Kind, DB: DrawingBackend>(
    chart: &RunsChart<K>,
    root: &Area<DB>,
) -> Result<(), ChartError>
where
    RunsChart<K>: Chart,
{
    let shown = shown_panels(chart);
    let title = <RunsChart<K> as Chart>::TITLE;
    let title = if shown < chart.panels.len() {
        let total = chart.panels.len();
        format!("{title}: the first {shown} of {total} panels (each run's are in its timeseries.csv)")
    } else {
        title.to_string()
    };
    let body = frame::figure(root, &title, &legend(chart))?;
    if chart.panels.is_empty() {
        return frame::no_data(&body, "no runs to show");
    }
    let range = frame::time_range(chart.panels.iter().flat_map(|p| values(p).map(|(t, _)| t)));
    let areas = body.split_evenly((shown, 1));
    for (panel, area) in chart.panels.iter().take(shown).zip(&areas) {
        let bands = panel_bands(chart, panel);
        let max = y_max(panel, &bands);
        let caption = style::clip_label(&panel.caption, 80);
        let (Some((time, x)), Some(max)) = (&range, max) else {
            let plot_area = frame::panel(area, &caption, &[])?;
            frame::no_data(&plot_area, K::EMPTY_NOTE)?;
            continue;
        };
        let scale = Scale {
            time: *time,
            x: x.clone(),
            max,
        };
        if chart.small_multiples() {
            draw_small_multiples::<K, DB>(area, chart, panel, &caption, &bands, &scale)?;
        } else {
            let plot_area = frame::panel(area, &caption, &[])?;
            draw_panel::<K, DB>(&plot_area, chart, panel, &bands, &scale)?;
        }
    }
    Ok(())
}

/// The axes every plot of one panel shares.
struct Scale {
    time: TimeAxis,
    x: Range<f64>,
    max: f64,
}

/// The legend: a line per group in its colour (or, for small multiples, what a line and a band
/// are), the band when some group averages several runs, each distinct reference label, and
/// incidents when there are any.
fn legend<K>(chart: &RunsChart<K>) -> Vec<LegendItem> {
    let means = chart.has_means();
    let mut items: Vec<LegendItem> = if chart.small_multiples() {
        let line = if means {
            "mean over seeds (or the one run)"
        } else {
            "run"
        };
        vec![LegendItem::new(line, Swatch::Line(SMALL_COLOR))]
    } else {
        chart
            .groups
            .iter()
            .enumerate()
            .map(|(i, group)| LegendItem::new(group.legend(), Swatch::Line(style::series_color(i))))
            .collect()
    };
    if means {
        let band = format!("{:.0}% interval of the mean", BAND_LEVEL * 100.0);
        items.push(LegendItem::new(band, Swatch::Wash(style::MUTED)));
    }
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

/// One instant of a group's line: the time, how many runs had a value then, their mean, and
/// the half-width of the Student-t interval of the mean at [`BAND_LEVEL`] (`None` with fewer
/// than two values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanPoint {
    /// Seconds from the start of the run.
    pub t_s: f64,
    /// Runs with a finite value at this time.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Half-width of the interval of the mean.
    pub half_width: Option<f64>,
}

/// The mean of `series` at each time any of them has a value, with its interval: runs of one
/// scenario share their metrics windows, so their values are matched by time. A run without a
/// finite value at a time is left out there; a time with no value at all is left out.
pub fn mean_band(series: &[&[(f64, Option<f64>)]]) -> Vec<MeanPoint> {
    let finite = |&(t, v): &(f64, Option<f64>)| Some((t, v?)).filter(|(t, v)| t.is_finite() && v.is_finite());
    let runs: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|points| {
            let mut run: Vec<(f64, f64)> = points.iter().filter_map(finite).collect();
            run.sort_by(|a, b| a.0.total_cmp(&b.0));
            run
        })
        .collect();
    let mut times: Vec<f64> = runs.iter().flatten().map(|&(t, _)| t).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    times
        .into_iter()
        .map(|t| {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|run| {
                    let at = run.partition_point(|p| p.0 < t);
                    run.get(at).filter(|p| p.0 == t).map(|p| p.1)
                })
                .collect();
            MeanPoint {
                t_s: t,
                n: values.len(),
                mean: values.iter().sum::<f64>() / values.len() as f64,
                half_width: mean_confidence_interval(&values, BAND_LEVEL).map(|(_, half)| half),
            }
        })
        .collect()
}

/// Each group's mean and band in `panel`, in group order.
fn panel_bands<K>(chart: &RunsChart<K>, panel: &RunsPanel) -> Vec<Vec<MeanPoint>> {
    chart
        .groups
        .iter()
        .map(|group| {
            let members: Vec<&[(f64, Option<f64>)]> = group
                .runs
                .iter()
                .filter_map(|&r| panel.series.get(r))
                .map(|s| s.points.as_slice())
                .collect();
            mean_band(&members)
        })
        .collect()
}

/// Draws one panel's plot with every group overlaid: incident bands, the reference line, each
/// group's interval band and line in its colour, then incident labels on top.
fn draw_panel<K: Kind, DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &RunsChart<K>,
    panel: &RunsPanel,
    bands: &[Vec<MeanPoint>],
    scale: &Scale,
) -> Result<(), ChartError> {
    let plot = build_plot(area, panel, &chart.incidents, scale, 14, true)?;
    let groups = bands.len();
    for (g, band) in bands.iter().enumerate() {
        draw_band::<K, DB>(&plot, band, scale.time, style::series_color(g))?;
    }
    for (g, band) in bands.iter().enumerate() {
        let width = line_width(g, groups);
        draw_mean::<K, DB>(&plot, band, scale.time, style::series_color(g), width)?;
    }
    frame::incident_labels(&plot, &chart.incidents, scale.time)
}

/// Draws one panel as small multiples: its caption, then one small plot per group on the
/// panel's scale, [`SMALL_COLUMNS`] to a row, each captioned with its group.
fn draw_small_multiples<K: Kind, DB: DrawingBackend>(
    area: &Area<DB>,
    chart: &RunsChart<K>,
    panel: &RunsPanel,
    caption: &str,
    bands: &[Vec<MeanPoint>],
    scale: &Scale,
) -> Result<(), ChartError> {
    let grid = frame::panel(area, caption, &[])?;
    let rows = chart.groups.len().div_ceil(SMALL_COLUMNS);
    let cells = grid.split_evenly((rows, SMALL_COLUMNS));
    for ((group, band), cell) in chart.groups.iter().zip(bands).zip(&cells) {
        let plot_area = frame::small_panel(cell, &group.legend())?;
        let plot = build_plot(&plot_area, panel, &chart.incidents, scale, 5, false)?;
        draw_band::<K, DB>(&plot, band, scale.time, SMALL_COLOR)?;
        draw_mean::<K, DB>(&plot, band, scale.time, SMALL_COLOR, 2)?;
    }
    Ok(())
}

/// Builds a plot on `area` with the panel's axes, its incident bands and reference line.
fn build_plot<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    panel: &RunsPanel,
    incidents: &[IncidentWindow],
    scale: &Scale,
    x_ticks: usize,
    label_strip: bool,
) -> Result<Plot<'a, DB>, ChartError> {
    let y = frame::y_range(scale.max, 1.12);
    let x_fmt = frame::tick_format(&scale.x);
    let y_fmt = value_format(&panel.unit, &y);
    let axes = Axes {
        label_strip: label_strip && frame::has_bands(incidents, scale.time, &scale.x),
        x: scale.x.clone(),
        y,
        x_desc: scale.time.label,
        y_desc: &panel.unit,
        x_ticks,
        x_fmt: &x_fmt,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(area, &axes)?;
    frame::incident_bands(&plot, incidents, scale.time)?;
    if let Some((label, value)) = valid_reference(panel) {
        draw_reference(&plot, label, value, &panel.unit, label_strip)?;
    }
    Ok(plot)
}

/// A group's interval band, translucent, where it has one: each unbroken stretch as a polygon
/// from the upper bound out and the lower bound back. The quantities drawn cannot be negative,
/// so the lower bound stops at zero.
fn draw_band<K: Kind, DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    band: &[MeanPoint],
    time: TimeAxis,
    color: RGBColor,
) -> Result<(), ChartError> {
    let bound = |sign: f64| -> Vec<(f64, Option<f64>)> {
        band.iter()
            .map(|p| (p.t_s, p.half_width.map(|h| (p.mean + sign * h).max(0.0))))
            .collect()
    };
    let upper = segments(&bound(1.0), time, K::STEPS);
    let lower = segments(&bound(-1.0), time, K::STEPS);
    for (up, down) in upper.iter().zip(&lower) {
        if up.len() < 2 {
            continue;
        }
        let outline: Vec<(f64, f64)> = up.iter().chain(down.iter().rev()).copied().collect();
        plot.plotting_area()
            .draw(&Polygon::new(outline, color.mix(0.2).filled()))?;
    }
    Ok(())
}

/// A group's mean line (the run's own line for a group of one).
fn draw_mean<K: Kind, DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    band: &[MeanPoint],
    time: TimeAxis,
    color: RGBColor,
    width: u32,
) -> Result<(), ChartError> {
    let mean: Vec<(f64, Option<f64>)> = band.iter().map(|p| (p.t_s, Some(p.mean))).collect();
    draw_lines(plot, &segments(&mean, time, K::STEPS), color, width)
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

/// The dashed reference line across the plot, labelled (when `labelled`) with its value at its
/// right end.
fn draw_reference<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    label: &str,
    value: f64,
    unit: &str,
    labelled: bool,
) -> Result<(), ChartError> {
    let x = plot.x_range();
    let line = [(x.start, value), (x.end, value)];
    plot.plotting_area()
        .draw(&DashedPathElement::new(line, 8, 5, REFERENCE.stroke_width(2)))?;
    if !labelled {
        return Ok(());
    }
    let amount = if unit == "USD" {
        style::usd(value)
    } else {
        format!("{} {unit}", style::short(value))
    };
    let text = format!("{} {amount}", style::clip_label(label, 40));
    let right = style::text(13.0, REFERENCE).pos(Pos::new(HPos::Right, VPos::Bottom));
    frame::text_at(plot, &text, (x.end, value), (-6, -4), &right)
}

/// The stroke width of group `i` of `groups`: earlier groups are drawn wider, so that where
/// lines coincide (policies that act alike until an incident) each still shows as an edge
/// around the ones drawn over it.
fn line_width(i: usize, groups: usize) -> u32 {
    (2 + groups.saturating_sub(i + 1)).min(MAX_LINE_WIDTH) as u32
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

/// The largest value the panel's y axis must show: every run's values, the upper ends of the
/// groups' bands and the reference line; `None` if no run has a value in it.
fn y_max(panel: &RunsPanel, bands: &[Vec<MeanPoint>]) -> Option<f64> {
    let (_, max) = frame::finite_span(values(panel).map(|(_, v)| v))?;
    let upper = bands
        .iter()
        .flatten()
        .map(|p| p.mean + p.half_width.unwrap_or(0.0))
        .filter(|v| v.is_finite())
        .fold(max, f64::max);
    Some(valid_reference(panel).map_or(upper, |(_, r)| upper.max(r)))
}

#[cfg(test)]
mod tests;
