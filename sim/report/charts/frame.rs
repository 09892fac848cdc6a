//! Layout pieces every chart is built from: the figure header (title and legend), panel
//! captions, an x-y plot with styled axes, incident bands and their labels, and the
//! "no data" note. Positions outside the plot are computed in pixels, inside it in data
//! coordinates.

use std::ops::Range;

use plotters::chart::{ChartBuilder, ChartContext};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::element::{DashedPathElement, PathElement, Rectangle};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor, WHITE};

use super::render::{Area, text_size};
use super::style::{self, AXIS, GRID, INCIDENT_FILL, INCIDENT_INK, INK, MUTED, TimeAxis};
use super::typeset::text_width;
use super::{ChartError, IncidentWindow};

/// Left and right page margin, in pixels.
const PAD: i32 = 16;
/// Height of a panel's caption row.
const CAPTION_H: u32 = 30;
/// Height of a small multiple's caption row.
const SMALL_CAPTION_H: u32 = 24;
/// Width of a legend swatch.
const SWATCH_W: i32 = 24;
/// Rows of incident labels above a plot; a label overlaps another only when all are taken.
const LABEL_ROWS: usize = 2;
/// Height of one row of incident labels.
const LABEL_ROW_H: i32 = 18;
/// The vertical centre of the first row of a figure legend.
const LEGEND_TOP: i32 = 52;
/// Height of one row of a figure legend.
const LEGEND_ROW_H: i32 = 22;

/// An x-y plot over `f64` axes.
pub(super) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled box.
    Fill(RGBColor),
    /// A translucent box, for an area drawn over others.
    Wash(RGBColor),
    /// An incident band.
    Incident,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(super) struct LegendItem {
    /// The text.
    pub label: String,
    /// The sample drawn before the text.
    pub swatch: Swatch,
}

impl LegendItem {
    /// An entry with `label` and `swatch`.
    pub(super) fn new(label: impl Into<String>, swatch: Swatch) -> Self {
        LegendItem {
            label: label.into(),
            swatch,
        }
    }
}

/// Paints the background, the title and the figure legend; returns the area for panels. The
/// legend wraps to as many rows as it needs ([`legend_layout`]); the header is
/// [`header_h`] tall, so a chart that sizes its canvas with it never cuts an entry.
pub(super) fn figure<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    legend: &[LegendItem],
) -> Result<Area<DB>, ChartError> {
    paint_title(root, title)?;
    let (width, _) = root.dim_in_pixel();
    let label_style = legend_style();
    for (item, placed) in legend.iter().zip(legend_layout(legend, width)) {
        let y = LEGEND_TOP + placed.row as i32 * LEGEND_ROW_H;
        draw_swatch(root, item.swatch, (placed.x, y))?;
        root.draw_text(&placed.label, &label_style, (placed.x + SWATCH_W + 6, y))?;
    }
    Ok(body_below(root, header_h(legend, width)))
}

/// Paints the background and the title.
fn paint_title<DB: DrawingBackend>(root: &Area<DB>, title: &str) -> Result<(), ChartError> {
    root.fill(&WHITE)?;
    root.draw_text(title, &style::bold(24.0, INK), (PAD, 14))?;
    Ok(())
}

/// The area for panels: below a header `header_h` tall, above the footer.
fn body_below<DB: DrawingBackend>(root: &Area<DB>, header_h: u32) -> Area<DB> {
    let (_, body) = root.split_vertically(header_h);
    body.margin(0, style::FOOTER_H, 0, 0)
}

/// Height of the figure header of a chart `width` pixels wide with `legend`: the usual header,
/// one row taller for each legend row after the first.
pub(super) fn header_h(legend: &[LegendItem], width: u32) -> u32 {
    let rows = legend_layout(legend, width)
        .last()
        .map_or(1, |placed| placed.row + 1);
    style::HEADER_H + (rows as u32 - 1) * LEGEND_ROW_H as u32
}

/// Where a legend entry goes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Placed {
    /// The left end of its swatch.
    pub x: i32,
    /// Its row, from 0.
    pub row: usize,
    /// Its text: the whole label, unless that alone is wider than the chart.
    pub label: String,
}

/// Lays legend entries out left to right in their order, starting a new row when the next
/// would pass the right margin. Every label is kept whole; only one wider than a whole row is
/// cut, with an ellipsis, to fit it.
pub(super) fn legend_layout(items: &[LegendItem], width: u32) -> Vec<Placed> {
    let label_style = legend_style();
    let right = width as i32 - PAD;
    let max_label = (right - PAD - SWATCH_W - 6).max(1);
    let (mut x, mut row) = (PAD, 0);
    items
        .iter()
        .map(|item| {
            let label = fit_label(&item.label, &label_style, max_label);
            let entry = SWATCH_W + 6 + measure(&label, &label_style);
            if x > PAD && x + entry > right {
                (x, row) = (PAD, row + 1);
            }
            let placed = Placed { x, row, label };
            x += entry + 22;
            placed
        })
        .collect()
}

/// The text style of figure legend labels.
fn legend_style() -> plotters::style::TextStyle<'static> {
    style::text(14.0, INK).pos(Pos::new(HPos::Left, VPos::Center))
}

/// The width of `text`: measured from the bundled font, or, should it be unavailable (drawing
/// then fails anyway), a generous 9 pixels a character.
fn measure(text: &str, text_style: &plotters::style::TextStyle) -> i32 {
    text_width(text, text_style).map_or(9 * text.chars().count() as i32, |w| w as i32)
}

/// `label`, cut with an ellipsis until it is at most `max_w` pixels wide in `text_style`.
fn fit_label(label: &str, text_style: &plotters::style::TextStyle, max_w: i32) -> String {
    if measure(label, text_style) <= max_w {
        return label.to_string();
    }
    let mut chars = label.chars().count();
    let mut fitted = style::clip_label(label, chars);
    while chars > 1 && measure(&fitted, text_style) > max_w {
        chars -= 1;
        fitted = style::clip_label(label, chars);
    }
    fitted
}

/// Draws `caption` (and a legend after it, if any) at the top of a panel; returns the rest.
pub(super) fn panel<DB: DrawingBackend>(
    area: &Area<DB>,
    caption: &str,
    legend: &[LegendItem],
) -> Result<Area<DB>, ChartError> {
    let caption_style = style::bold(16.0, INK);
    area.draw_text(caption, &caption_style, (PAD, 8))?;
    let (w, _) = text_size(area, caption, &caption_style)?;
    draw_legend(area, legend, (PAD + w as i32 + 28, 16))?;
    Ok(area.split_vertically(CAPTION_H).1)
}

/// Draws a small multiple's `caption` at the top of its cell, cut to the cell's width only if
/// it is wider; returns the rest of the cell.
pub(super) fn small_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    caption: &str,
) -> Result<Area<DB>, ChartError> {
    let caption_style = style::bold(14.0, INK);
    let (width, _) = area.dim_in_pixel();
    let caption = fit_label(caption, &caption_style, width as i32 - 2 * PAD);
    area.draw_text(&caption, &caption_style, (PAD, 6))?;
    Ok(area.split_vertically(SMALL_CAPTION_H).1)
}

/// Draws legend entries left to right from `(x, y_center)`.
fn draw_legend<DB: DrawingBackend>(
    area: &Area<DB>,
    items: &[LegendItem],
    (mut x, y): (i32, i32),
) -> Result<(), ChartError> {
    let label_style = style::text(14.0, INK).pos(Pos::new(HPos::Left, VPos::Center));
    for item in items {
        draw_swatch(area, item.swatch, (x, y))?;
        area.draw_text(&item.label, &label_style, (x + SWATCH_W + 6, y))?;
        let (w, _) = text_size(area, &item.label, &label_style)?;
        x += SWATCH_W + 6 + w as i32 + 22;
    }
    Ok(())
}

/// Draws one legend sample with its left end at `(x, y_center)`.
fn draw_swatch<DB: DrawingBackend>(
    area: &Area<DB>,
    swatch: Swatch,
    (x, y): (i32, i32),
) -> Result<(), ChartError> {
    let line = [(x, y), (x + SWATCH_W, y)];
    let r#box = [(x, y - 6), (x + SWATCH_W, y + 6)];
    match swatch {
        Swatch::Line(c) => area.draw(&PathElement::new(line, c.stroke_width(3)))?,
        Swatch::Dashed(c) => area.draw(&DashedPathElement::new(line, 5, 3, c.stroke_width(2)))?,
        Swatch::Fill(c) => {
            area.draw(&Rectangle::new(r#box, c.filled()))?;
            area.draw(&Rectangle::new(r#box, style::darker(c)))?;
        }
        Swatch::Wash(c) => {
            area.draw(&Rectangle::new(r#box, c.mix(0.55).filled()))?;
            area.draw(&Rectangle::new(r#box, style::darker(c)))?;
        }
        Swatch::Incident => {
            area.draw(&Rectangle::new(r#box, INCIDENT_FILL.filled()))?;
            area.draw(&Rectangle::new(r#box, INCIDENT_INK.mix(0.6)))?;
        }
    }
    Ok(())
}

/// Axes of an x-y plot.
pub(super) struct Axes<'f> {
    /// The x range, in axis units.
    pub x: Range<f64>,
    /// The y range.
    pub y: Range<f64>,
    /// The x axis description, with its unit.
    pub x_desc: &'f str,
    /// The y axis description, with its unit.
    pub y_desc: &'f str,
    /// How many x tick labels to aim for (0: none, the caller labels the axis itself).
    pub x_ticks: usize,
    /// Whether to leave room above the plot for incident labels.
    pub label_strip: bool,
    /// Formats an x tick label.
    pub x_fmt: &'f dyn Fn(&f64) -> String,
    /// Formats a y tick label.
    pub y_fmt: &'f dyn Fn(&f64) -> String,
}

/// Builds an x-y plot on `area` and draws its grid, ticks and axis descriptions.
pub(super) fn plot<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    axes: &Axes,
) -> Result<Plot<'a, DB>, ChartError> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(PAD)
        .margin_right(28)
        .margin_top(if axes.label_strip {
            6 + LABEL_ROWS as i32 * LABEL_ROW_H
        } else {
            6
        })
        .margin_bottom(6)
        .x_label_area_size(42)
        .y_label_area_size(74)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_labels(axes.x_ticks)
        .y_labels(6)
        .x_label_formatter(axes.x_fmt)
        .y_label_formatter(axes.y_fmt)
        .bold_line_style(GRID.stroke_width(1))
        // Minor grid lines add clutter without helping to read values at this size.
        .max_light_lines(0)
        .axis_style(AXIS.stroke_width(1))
        .label_style(style::text(13.0, MUTED))
        .axis_desc_style(style::text(14.0, INK));
    if axes.x_ticks == 0 {
        mesh.disable_x_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// A time axis and x range covering `times` (seconds), or `None` if none is finite. A single
/// instant is widened so the axis still has a span.
pub(super) fn time_range(times: impl Iterator<Item = f64>) -> Option<(TimeAxis, Range<f64>)> {
    let (lo, hi) = finite_span(times)?;
    let time = TimeAxis::for_span(hi - lo);
    let (a, b) = (time.at(lo), time.at(hi));
    if b - a > 1e-9 {
        Some((time, a..b))
    } else {
        let start = if a >= 0.0 { (a - 0.5).max(0.0) } else { a - 0.5 };
        Some((time, start..a + 0.5))
    }
}

/// The smallest and largest finite values, if any.
pub(super) fn finite_span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    })
}

/// A y range from zero to a little above `max`, so the highest value does not touch the
/// frame. A maximum of zero still gives a visible axis.
pub(super) fn y_range(max: f64, headroom: f64) -> Range<f64> {
    if max.is_finite() && max > 0.0 {
        0.0..max * headroom
    } else {
        0.0..1.0
    }
}

/// A tick formatter for an axis spanning `range`: enough decimals to tell ticks apart, and
/// no trailing zeros.
pub(super) fn tick_format(range: &Range<f64>) -> impl Fn(&f64) -> String + use<> {
    let decimals = style::tick_decimals(range.end - range.start) + 1;
    move |v: &f64| style::compact(*v, decimals)
}

/// An incident window in axis units, cut to `x`; `None` if it lies outside or is not finite.
fn band(incident: &IncidentWindow, time: TimeAxis, x: &Range<f64>) -> Option<(f64, f64)> {
    let (a, b) = (time.at(incident.start_s), time.at(incident.end_s));
    if !a.is_finite() || !b.is_finite() {
        return None;
    }
    let (a, b) = (a.min(b), a.max(b));
    if b < x.start || a > x.end {
        return None;
    }
    Some((a.max(x.start), b.min(x.end)))
}

/// Incident windows a panel draws one by one, each with its label. Beyond it, bands less than
/// a pixel apart merge and the labels are left to `incidents.csv` and the page's table, so a
/// long run's charts do not grow with its incidents.
const MAX_LABELLED_BANDS: usize = 64;

/// Whether incident windows fall on the x range `x` and are few enough to label, so labels
/// need room.
pub(super) fn has_bands(incidents: &[IncidentWindow], time: TimeAxis, x: &Range<f64>) -> bool {
    let on_axis = incidents.iter().filter(|i| band(i, time, x).is_some());
    (1..=MAX_LABELLED_BANDS).contains(&on_axis.count())
}

/// The bands to shade on `x`: one per incident window, or, beyond [`MAX_LABELLED_BANDS`],
/// windows less than `pixel` apart merged, left to right.
fn bands(incidents: &[IncidentWindow], time: TimeAxis, x: &Range<f64>, pixel: f64) -> Vec<(f64, f64)> {
    let mut bands: Vec<(f64, f64)> = incidents.iter().filter_map(|i| band(i, time, x)).collect();
    if bands.len() <= MAX_LABELLED_BANDS {
        return bands;
    }
    bands.sort_by(|l, r| l.0.total_cmp(&r.0).then(l.1.total_cmp(&r.1)));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(bands.len());
    for (a, b) in bands {
        match merged.last_mut() {
            Some(last) if a <= last.1 + pixel => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Shades each incident window over the full height of the plot. Line charts draw it first
/// so lines stay on top; area charts draw it last, translucent, so it shows over the areas.
pub(super) fn incident_bands<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    incidents: &[IncidentWindow],
    time: TimeAxis,
) -> Result<(), ChartError> {
    let (x, y) = (plot.x_range(), plot.y_range());
    let (width, _) = plot.plotting_area().dim_in_pixel();
    let pixel = (x.end - x.start) / f64::from(width.max(1));
    for (a, b) in bands(incidents, time, &x, pixel) {
        let area = plot.plotting_area();
        area.draw(&Rectangle::new(
            [(a, y.end), (b, y.start)],
            INCIDENT_FILL.filled(),
        ))?;
        let edge = INCIDENT_INK.mix(0.45).stroke_width(1);
        area.draw(&PathElement::new([(a, y.start), (a, y.end)], edge))?;
        area.draw(&PathElement::new([(b, y.start), (b, y.end)], edge))?;
    }
    Ok(())
}

/// Labels each incident band in the strip above the plot, with a tick down to the band's
/// start. A label that would overlap its neighbour goes up a row; labels stay off the data.
pub(super) fn incident_labels<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    incidents: &[IncidentWindow],
    time: TimeAxis,
) -> Result<(), ChartError> {
    let (x, y) = (plot.x_range(), plot.y_range());
    if !has_bands(incidents, time, &x) {
        return Ok(());
    }
    let area = plot.plotting_area().strip_coord_spec();
    let (base_x, _) = area.get_base_pixel();
    let (width, _) = area.dim_in_pixel();
    let label_style = style::text(13.0, INCIDENT_INK);
    let mut starts: Vec<(f64, &IncidentWindow)> = incidents
        .iter()
        .filter_map(|i| band(i, time, &x).map(|(a, _)| (a, i)))
        .collect();
    // Left to right, so the row search below sees labels in reading order.
    starts.sort_by(|l, r| l.0.total_cmp(&r.0));
    let mut row_ends = [i32::MIN; LABEL_ROWS];
    let mut labels = Vec::with_capacity(starts.len());
    for (a, incident) in starts {
        let label = style::clip_label(&incident.label, 40);
        let (w, _) = text_size(&area, &label, &label_style)?;
        let tick_x = plot.backend_coord(&(a, y.end)).0 - base_x;
        let left = (tick_x + 3).min(width as i32 - w as i32 - 2).max(0);
        let row = pick_row(&row_ends, left);
        row_ends[row] = left + w as i32;
        let top = -((row as i32 + 1) * LABEL_ROW_H);
        let tick = INCIDENT_INK.mix(0.45).stroke_width(1);
        area.draw(&PathElement::new([(tick_x, top + 8), (tick_x, 0)], tick))?;
        labels.push((label, left, top, w as i32));
    }
    // Labels after all ticks, on white, so a tick from an upper row cannot cross a label.
    for (label, left, top, w) in labels {
        area.draw(&Rectangle::new(
            [(left - 2, top + 1), (left + w + 2, top + LABEL_ROW_H - 2)],
            WHITE.filled(),
        ))?;
        area.draw_text(&label, &label_style, (left, top + 2))?;
    }
    Ok(())
}

/// The first row where a label starting at `left` clears the previous one, else the row
/// whose last label ends first.
fn pick_row(row_ends: &[i32; LABEL_ROWS], left: i32) -> usize {
    row_ends
        .iter()
        .position(|&end| end == i32::MIN || left >= end + 10)
        .unwrap_or_else(|| (0..LABEL_ROWS).min_by_key(|&r| row_ends[r]).unwrap_or(0))
}

/// A light frame with `note` in its middle, for a panel with nothing to plot.
pub(super) fn no_data<DB: DrawingBackend>(area: &Area<DB>, note: &str) -> Result<(), ChartError> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw(&Rectangle::new([(PAD, 6), (w - 28, h - 6)], GRID.stroke_width(1)))?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    area.draw_text(
        "no data",
        &style::bold(16.0, MUTED).pos(centre),
        (w / 2, h / 2 - 10),
    )?;
    area.draw_text(note, &style::text(13.0, MUTED).pos(centre), (w / 2, h / 2 + 14))?;
    Ok(())
}

/// Draws `text` at data point `at`, shifted by `offset` pixels, in `style`.
pub(super) fn text_at<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    text: &str,
    at: (f64, f64),
    offset: (i32, i32),
    text_style: &plotters::style::TextStyle,
) -> Result<(), ChartError> {
    let area = plot.plotting_area().strip_coord_spec();
    let (base_x, base_y) = area.get_base_pixel();
    let (px, py) = plot.backend_coord(&at);
    area.draw_text(text, text_style, (px - base_x + offset.0, py - base_y + offset.1))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_instant_still_has_a_span() {
        let (time, x) = time_range([7200.0].into_iter()).unwrap();
        assert_eq!(time.label, "time (min)");
        assert!(x.end > x.start);
        assert!(x.start >= 0.0);
        assert!(time_range([f64::NAN].into_iter()).is_none());
    }

    #[test]
    fn bands_are_cut_to_the_axis() {
        let time = TimeAxis {
            per_unit_s: 1.0,
            label: "s",
        };
        let inc = |s, e| IncidentWindow {
            label: "x".into(),
            start_s: s,
            end_s: e,
            services: None,
        };
        assert_eq!(band(&inc(-5.0, 5.0), time, &(0.0..10.0)), Some((0.0, 5.0)));
        assert_eq!(band(&inc(8.0, 3.0), time, &(0.0..10.0)), Some((3.0, 8.0)));
        assert_eq!(band(&inc(11.0, 12.0), time, &(0.0..10.0)), None);
        assert_eq!(band(&inc(f64::NAN, 1.0), time, &(0.0..10.0)), None);
    }

    #[test]
    fn labels_move_down_only_when_they_would_overlap() {
        let mut ends = [i32::MIN; LABEL_ROWS];
        assert_eq!(pick_row(&ends, 10), 0);
        ends[0] = 100;
        assert_eq!(pick_row(&ends, 50), 1);
        assert_eq!(pick_row(&ends, 200), 0);
        ends = [300, 200];
        assert_eq!(pick_row(&ends, 50), 1);
    }
}
