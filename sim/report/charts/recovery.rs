//! The recovery chart (`recovery`): per incident, bars of time to detect, time to recover and
//! time to drain the backlog, one panel each, with one bar per policy side by side so
//! policies can be compared. A figure that could not be measured is drawn as "n/a". A bar that
//! is a mean over seeds carries a whisker for its 95% interval. Each bar has its own colour,
//! from the palette while it holds them all and from evenly spaced hues beyond, so no two
//! policies share one; the legend wraps to as many rows as it needs.

use std::collections::BTreeMap;

use plotters::element::{PathElement, Rectangle};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, INK, MUTED, WIDTH};
use super::{Chart, ChartError};

/// Height of each of the three panels.
const PANEL_H: u32 = 270;
/// Widest bar, in pixels: with few incidents, full-width bars would look like blocks.
const MAX_BAR_PX: f64 = 72.0;
/// Bars per panel above which values are not printed over the bars (they would collide).
const MAX_VALUE_LABELS: usize = 36;

/// One incident's recovery figures under one policy, in seconds; `None` where the figure
/// could not be measured (for instance the SLO never held again before the end).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecovery {
    /// The incident's name; bars of different policies with the same name are grouped.
    pub incident: String,
    /// From the incident's start until it was detected.
    pub time_to_detect_s: Option<f64>,
    /// From the incident's start until service recovered.
    pub time_to_recover_s: Option<f64>,
    /// From the incident's end until the backlog it left was drained.
    pub backlog_drain_s: Option<f64>,
}

/// One policy's recovery figures: of one run, or the means over a group of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecovery {
    /// The policy's name, shown in the legend.
    pub policy: String,
    /// Its incidents, in any order; incidents are shown in order of first appearance over
    /// all policies.
    pub incidents: Vec<IncidentRecovery>,
    /// For means over several runs: the half-widths of their 95% intervals, by incident name
    /// as in `incidents`, drawn as whiskers; empty for a single run.
    pub intervals: Vec<IncidentRecovery>,
}

/// Input of the recovery chart: one policy for a single run, several to compare them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecoveryChart {
    /// The policies, in legend order.
    pub policies: Vec<PolicyRecovery>,
}

/// Reads one recovery figure from an incident.
type Figure = fn(&IncidentRecovery) -> Option<f64>;

/// The three figures: panel caption and how to read each from an incident.
const FIGURES: [(&str, Figure); 3] = [
    ("time to detect", |r| r.time_to_detect_s),
    ("time to recover", |r| r.time_to_recover_s),
    ("time to drain backlog", |r| r.backlog_drain_s),
];

/// The chart's values as a table: `values[policy][incident]` for one figure.
type Table = Vec<Vec<Option<f64>>>;

/// Pixel size of the chart.
pub(super) fn size(chart: &RecoveryChart) -> (u32, u32) {
    (
        WIDTH,
        frame::header_h(&legend(chart), WIDTH) + FIGURES.len() as u32 * PANEL_H + style::FOOTER_H,
    )
}

/// The figure legend: one entry per policy (or run) in its colour, every one of them, whole.
fn legend(chart: &RecoveryChart) -> Vec<LegendItem> {
    chart
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let color = style::distinct_color(i, chart.policies.len());
            LegendItem::new(p.policy.as_str(), Swatch::Fill(color))
        })
        .collect()
}

/// Draws the chart on `root`.
pub(super) fn draw<DB: DrawingBackend>(chart: &RecoveryChart, root: &Area<DB>) -> Result<(), ChartError> {
    let body = frame::figure(root, RecoveryChart::TITLE, &legend(chart))?;
    let incidents = incident_names(chart);
    let panels = body.split_evenly((FIGURES.len(), 1));
    for ((caption, figure), area) in FIGURES.into_iter().zip(&panels) {
        let plot_area = frame::panel(area, caption, &[])?;
        if incidents.is_empty() {
            frame::no_data(&plot_area, "no incidents to show")?;
            continue;
        }
        let values = table(chart, &incidents, figure, |p| &p.incidents);
        let intervals = table(chart, &incidents, figure, |p| &p.intervals);
        draw_panel(&plot_area, caption, &incidents, &values, &intervals)?;
    }
    Ok(())
}

/// Incident names in order of first appearance over all policies.
fn incident_names(chart: &RecoveryChart) -> Vec<&str> {
    let mut seen = BTreeMap::new();
    let mut names = Vec::new();
    for r in chart.policies.iter().flat_map(|p| &p.incidents) {
        if seen.insert(r.incident.as_str(), ()).is_none() {
            names.push(r.incident.as_str());
        }
    }
    names
}

/// One figure per policy and incident, read from the list `of` gives (its values or its
/// intervals): the first entry of that name, `None` if the policy has none or its value is not
/// a finite non-negative number.
fn table(
    chart: &RecoveryChart,
    incidents: &[&str],
    figure: Figure,
    of: fn(&PolicyRecovery) -> &Vec<IncidentRecovery>,
) -> Table {
    chart
        .policies
        .iter()
        .map(|policy| {
            let first: BTreeMap<&str, Option<f64>> = of(policy)
                .iter()
                .rev()
                .map(|r| (r.incident.as_str(), figure(r)))
                .collect();
            incidents
                .iter()
                .map(|name| {
                    first
                        .get(name)
                        .copied()
                        .flatten()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                })
                .collect()
        })
        .collect()
}

/// The unit that keeps the largest value between about 1 and 180: seconds, minutes or hours.
fn unit(max_s: f64) -> (f64, &'static str) {
    if max_s >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if max_s >= 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

/// Draws one figure's grouped bars with incident names under the groups.
fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    caption: &str,
    incidents: &[&str],
    table: &Table,
    intervals: &Table,
) -> Result<(), ChartError> {
    let interval = |p: usize, i: usize| intervals.get(p).and_then(|row| row.get(i)).copied().flatten();
    let tops = table.iter().enumerate().flat_map(|(p, row)| {
        row.iter()
            .enumerate()
            .filter_map(move |(i, v)| Some(v.as_ref()? + interval(p, i).unwrap_or(0.0)))
    });
    let max_s = tops.fold(0.0, f64::max);
    let (per_unit, unit_name) = unit(max_s);
    let y = frame::y_range(max_s / per_unit, 1.18);
    let x = 0.0..incidents.len() as f64;
    let y_desc = format!("{caption} ({unit_name})");
    let y_fmt = frame::tick_format(&y);
    let none = |_: &f64| String::new();
    let axes = Axes {
        x,
        y,
        x_desc: "incident",
        y_desc: &y_desc,
        x_ticks: 0,
        label_strip: false,
        x_fmt: &none,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(area, &axes)?;
    let labelled = table.len() * incidents.len() <= MAX_VALUE_LABELS;
    let slot_px = plot.backend_coord(&(1.0, 0.0)).0 - plot.backend_coord(&(0.0, 0.0)).0;
    let max_width = MAX_BAR_PX / f64::from(slot_px.max(1));
    for (p, row) in table.iter().enumerate() {
        for (i, value) in row.iter().enumerate() {
            let (left, right) = bar_span(i, p, table.len(), max_width);
            let color = style::distinct_color(p, table.len());
            let value = value.map(|v| v / per_unit);
            draw_bar(&plot, (left, right), value, color, labelled)?;
            if let (Some(v), Some(half)) = (value, interval(p, i)) {
                draw_whisker(&plot, (left, right), v, half / per_unit)?;
            }
        }
    }
    draw_group_labels(area, &plot, incidents)
}

/// The x span of policy `p`'s bar in incident group `i`: a group takes at most 80% of its
/// slot, a bar at most `max_width`, and the group is centred in the slot.
fn bar_span(i: usize, p: usize, policies: usize, max_width: f64) -> (f64, f64) {
    let policies = policies.max(1) as f64;
    let width = (0.8 / policies).min(max_width);
    let left = i as f64 + 0.5 - policies * width / 2.0 + p as f64 * width;
    (left, left + width)
}

/// One bar, its value above it (if `labelled`), or "n/a" on the axis where it is missing.
fn draw_bar<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    (left, right): (f64, f64),
    value: Option<f64>,
    color: RGBColor,
    labelled: bool,
) -> Result<(), ChartError> {
    let centre = (left + right) / 2.0;
    let above = Pos::new(HPos::Center, VPos::Bottom);
    let Some(v) = value else {
        return frame::text_at(
            plot,
            "n/a",
            (centre, 0.0),
            (0, -4),
            &style::text(12.0, MUTED).pos(above),
        );
    };
    let area = plot.plotting_area();
    // A small gap between neighbouring bars keeps policies apart.
    let inset = (right - left) * 0.06;
    let bar = [(left + inset, v), (right - inset, 0.0)];
    area.draw(&Rectangle::new(bar, color.filled()))?;
    area.draw(&Rectangle::new(bar, style::darker(color)))?;
    if labelled {
        frame::text_at(
            plot,
            &style::short(v),
            (centre, v),
            (0, -3),
            &style::text(12.0, INK).pos(above),
        )?;
    }
    Ok(())
}

/// The 95% interval of a mean bar spanning `left..right`: a vertical line from `v - half` (not
/// below zero) to `v + half`, capped at both ends.
fn draw_whisker<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    (left, right): (f64, f64),
    v: f64,
    half: f64,
) -> Result<(), ChartError> {
    if !half.is_finite() || half <= 0.0 {
        return Ok(());
    }
    let (low, high) = ((v - half).max(0.0), v + half);
    let area = plot.plotting_area();
    let (centre, cap) = ((left + right) / 2.0, (right - left) * 0.2);
    let ink = INK.stroke_width(2);
    area.draw(&PathElement::new([(centre, low), (centre, high)], ink))?;
    for y in [low, high] {
        area.draw(&PathElement::new([(centre - cap, y), (centre + cap, y)], ink))?;
    }
    Ok(())
}

/// Incident names centred under their groups, cut to the group's width.
fn draw_group_labels<DB: DrawingBackend>(
    area: &Area<DB>,
    plot: &Plot<'_, DB>,
    incidents: &[&str],
) -> Result<(), ChartError> {
    let (base_x, base_y) = area.get_base_pixel();
    let y0 = plot.y_range().start;
    let label_style = style::text(13.0, INK).pos(Pos::new(HPos::Center, VPos::Top));
    let (left, _) = plot.backend_coord(&(0.0, y0));
    let (right, _) = plot.backend_coord(&(1.0, y0));
    // About 7 pixels per character at this size.
    let max_chars = ((right - left) / 7).max(4) as usize;
    for (i, name) in incidents.iter().enumerate() {
        let (px, py) = plot.backend_coord(&(i as f64 + 0.5, y0));
        let label = style::clip_label(name, max_chars);
        area.draw_text(&label, &label_style, (px - base_x, py - base_y + 6))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(incident: &str, detect: Option<f64>) -> IncidentRecovery {
        IncidentRecovery {
            incident: incident.into(),
            time_to_detect_s: detect,
            time_to_recover_s: None,
            backlog_drain_s: None,
        }
    }

    #[test]
    fn incidents_are_matched_by_name_across_policies() {
        let chart = RecoveryChart {
            policies: vec![
                PolicyRecovery {
                    policy: "a".into(),
                    incidents: vec![rec("x", Some(1.0)), rec("y", Some(2.0))],
                    intervals: Vec::new(),
                },
                PolicyRecovery {
                    policy: "b".into(),
                    incidents: vec![
                        rec("z", Some(f64::INFINITY)),
                        rec("y", Some(3.0)),
                        rec("y", Some(9.0)),
                    ],
                    intervals: Vec::new(),
                },
            ],
        };
        let names = incident_names(&chart);
        assert_eq!(names, vec!["x", "y", "z"]);
        let t = table(&chart, &names, |r| r.time_to_detect_s, |p| &p.incidents);
        assert_eq!(
            t,
            vec![vec![Some(1.0), Some(2.0), None], vec![None, Some(3.0), None]]
        );
    }

    #[test]
    fn units_keep_numbers_small() {
        assert_eq!(unit(90.0).1, "s");
        assert_eq!(unit(600.0).1, "min");
        assert_eq!(unit(5.0 * 3600.0).1, "h");
    }

    #[test]
    fn bars_of_a_group_do_not_overlap() {
        let (a0, a1) = bar_span(2, 0, 3, 1.0);
        let (b0, _) = bar_span(2, 1, 3, 1.0);
        let (_, c1) = bar_span(2, 2, 3, 1.0);
        assert!(a1 <= b0 + 1e-12);
        assert!(a0 >= 2.0 && c1 <= 3.0);
        // A narrow cap keeps the group centred.
        let (n0, _) = bar_span(0, 0, 2, 0.1);
        let (_, n1) = bar_span(0, 1, 2, 0.1);
        assert!((n0 - 0.4).abs() < 1e-12 && (n1 - 0.6).abs() < 1e-12);
    }
}
