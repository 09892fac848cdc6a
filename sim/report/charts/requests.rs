//! The request-rate chart (`requests`): one panel per service with the rate at which its
//! requests arrive (the demand), and beneath it, stacked from zero, the rates at which its
//! requests were answered by the fallback and failed. An incident's effect on users is read
//! against the demand of the moment: the same outage costs more at the peak than at night.

use plotters::element::{Circle, PathElement, Polygon};
use plotters::prelude::DrawingBackend;
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, P50, P95, TimeAxis, WIDTH};
use super::{Chart, ChartError, IncidentWindow, panel_title};

/// Height of one service's panel.
const PANEL_H: u32 = 260;

/// Failed requests: red, as failures are everywhere else in a report.
const FAILED: RGBColor = RGBColor(214, 39, 40);

/// A service's request rates over one metrics window.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPoint {
    /// When the window ends, seconds from the start.
    pub t_s: f64,
    /// Requests that arrived in the window, per second.
    pub arrived_per_s: f64,
    /// Requests the fallback answered in the window, per second.
    pub degraded_per_s: f64,
    /// Requests that failed in the window, per second.
    pub failed_per_s: f64,
}

/// One service's request rates over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequests {
    /// The service's name, used in the panel caption.
    pub service: String,
    /// The windows, in any order (they are drawn in time order). Negative and non-finite
    /// rates are drawn as zero.
    pub points: Vec<RequestPoint>,
}

/// Input of the request-rate chart: one panel per service, in the given order, sharing one
/// time axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestRateChart {
    /// The services.
    pub services: Vec<ServiceRequests>,
    /// Incident windows, each shaded on the panels of the services it affects.
    pub incidents: Vec<IncidentWindow>,
    /// Services left out to keep the chart within [`MAX_PANELS`](super::MAX_PANELS) panels.
    pub omitted: usize,
}

/// Pixel size of the chart.
pub(super) fn size(chart: &RequestRateChart) -> (u32, u32) {
    let panels = chart.services.len().max(1) as u32;
    (WIDTH, style::HEADER_H + PANEL_H * panels + style::FOOTER_H)
}

/// Draws the chart on `root`.
pub(super) fn draw<DB: DrawingBackend>(chart: &RequestRateChart, root: &Area<DB>) -> Result<(), ChartError> {
    let title = panel_title(
        RequestRateChart::TITLE,
        chart.services.len(),
        chart.omitted,
        "busiest services",
    );
    let body = frame::figure(root, &title, &legend(chart))?;
    if chart.services.is_empty() {
        return frame::no_data(&body, "no services to show");
    }
    let times = chart.services.iter().flat_map(|s| s.points.iter().map(|p| p.t_s));
    let range = frame::time_range(times);
    let panels = body.split_evenly((chart.services.len(), 1));
    for (service, area) in chart.services.iter().zip(&panels) {
        let caption = format!("{}: requests per second", style::clip_label(&service.service, 60));
        let plot_area = frame::panel(area, &caption, &[])?;
        let points = sorted(&service.points);
        match &range {
            Some((time, x)) if !points.is_empty() => {
                let incidents = IncidentWindow::on_service_panel(&chart.incidents, &service.service);
                draw_service(&plot_area, &points, &incidents, *time, x.clone())?;
            }
            _ => frame::no_data(&plot_area, "no requests for this service")?,
        }
    }
    Ok(())
}

/// The legend: arrivals, what ended badly, and incidents when there are any.
fn legend(chart: &RequestRateChart) -> Vec<LegendItem> {
    let mut items = vec![
        LegendItem::new("arrived", Swatch::Line(P50)),
        LegendItem::new("answered by the fallback", Swatch::Fill(P95)),
        LegendItem::new("failed", Swatch::Fill(FAILED)),
    ];
    if !chart.incidents.is_empty() {
        items.push(LegendItem::new("incident", Swatch::Incident));
    }
    items
}

/// The points with a finite time, in time order.
fn sorted(points: &[RequestPoint]) -> Vec<&RequestPoint> {
    let mut out: Vec<&RequestPoint> = points.iter().filter(|p| p.t_s.is_finite()).collect();
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    out
}

/// A rate as drawn: negative and non-finite rates are zero.
fn rate(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// The top of the y axis before headroom: the highest arrival rate, or the highest rate of
/// requests ending badly if that is higher (a fallback's failures may outrun its arrivals).
fn max_rate(points: &[&RequestPoint]) -> f64 {
    points
        .iter()
        .map(|p| rate(p.arrived_per_s).max(rate(p.failed_per_s) + rate(p.degraded_per_s)))
        .fold(0.0, f64::max)
}

/// Draws one service's plot: bands, the stacked failed and degraded areas, the arrival line.
fn draw_service<DB: DrawingBackend>(
    area: &Area<DB>,
    points: &[&RequestPoint],
    incidents: &[IncidentWindow],
    time: TimeAxis,
    x: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    let y = frame::y_range(max_rate(points), 1.12);
    let (x_fmt, y_fmt) = (frame::tick_format(&x), frame::tick_format(&y));
    let axes = Axes {
        label_strip: frame::has_bands(incidents, time, &x),
        x,
        y,
        x_desc: time.label,
        y_desc: "requests/s",
        x_ticks: 14,
        x_fmt: &x_fmt,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(area, &axes)?;
    frame::incident_bands(&plot, incidents, time)?;
    let failed = |p: &RequestPoint| rate(p.failed_per_s);
    fill_between(&plot, points, time, |_| 0.0, failed, FAILED)?;
    let bad = |p: &RequestPoint| failed(p) + rate(p.degraded_per_s);
    fill_between(&plot, points, time, failed, bad, P95)?;
    draw_line(&plot, points, time, |p| rate(p.arrived_per_s), P50)?;
    frame::incident_labels(&plot, incidents, time)
}

/// Fills the area between `lower` and `upper` when `upper` is above zero anywhere.
fn fill_between<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    points: &[&RequestPoint],
    time: TimeAxis,
    lower: impl Fn(&RequestPoint) -> f64,
    upper: impl Fn(&RequestPoint) -> f64,
    color: RGBColor,
) -> Result<(), ChartError> {
    if points.iter().all(|p| upper(p) <= lower(p)) {
        return Ok(());
    }
    let mut outline: Vec<(f64, f64)> = points.iter().map(|p| (time.at(p.t_s), upper(p))).collect();
    outline.extend(points.iter().rev().map(|p| (time.at(p.t_s), lower(p))));
    plot.plotting_area()
        .draw(&Polygon::new(outline, color.mix(0.8).filled()))?;
    Ok(())
}

/// Draws a line through the points; a single point as a dot, so it is not lost.
fn draw_line<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    points: &[&RequestPoint],
    time: TimeAxis,
    value: impl Fn(&RequestPoint) -> f64,
    color: RGBColor,
) -> Result<(), ChartError> {
    let line: Vec<(f64, f64)> = points.iter().map(|p| (time.at(p.t_s), value(p))).collect();
    let area = plot.plotting_area();
    match line.as_slice() {
        [only] => area.draw(&Circle::new(*only, 3, color.filled()))?,
        _ => area.draw(&PathElement::new(line, color.stroke_width(2)))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64, arrived: f64, degraded: f64, failed: f64) -> RequestPoint {
        RequestPoint {
            t_s,
            arrived_per_s: arrived,
            degraded_per_s: degraded,
            failed_per_s: failed,
        }
    }

    #[test]
    fn the_axis_covers_arrivals_and_what_ended_badly() {
        let (a, b) = (point(60.0, 10.0, 1.0, 0.5), point(0.0, 4.0, 3.0, 2.0));
        assert_eq!(max_rate(&[&a, &b]), 10.0);
        // A fallback can end more requests badly in a window than arrive in it.
        let c = point(120.0, 1.0, 6.0, f64::NAN);
        assert_eq!(max_rate(&[&a, &c]), 10.0);
        let d = point(180.0, 1.0, 9.0, 3.0);
        assert_eq!(max_rate(&[&d]), 12.0);
        assert_eq!(sorted(&[a.clone(), b.clone()]), vec![&b, &a]);
    }
}
