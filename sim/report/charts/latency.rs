//! The latency chart (`latency`): one panel per service with its p50, p95 and p99 end-to-end
//! latency over time, its SLO target, and the incident windows. A window without a value
//! breaks the line instead of bridging the gap.

use plotters::element::{Circle, DashedPathElement, PathElement};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, P50, P95, P99, REFERENCE, TimeAxis, WIDTH};
use super::{Chart, ChartError, IncidentWindow, panel_title};

/// Height of one service's panel.
const PANEL_H: u32 = 300;

/// A service's latency percentiles over one measurement window.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyPoint {
    /// When the window ends (or its middle, as the caller chooses), seconds from the start.
    pub t_s: f64,
    /// Median latency in milliseconds; `None` when the window had no completed request.
    pub p50_ms: Option<f64>,
    /// 95th percentile in milliseconds.
    pub p95_ms: Option<f64>,
    /// 99th percentile in milliseconds.
    pub p99_ms: Option<f64>,
}

/// One service's latency over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLatency {
    /// The service's name, used in the panel caption.
    pub service: String,
    /// The latency SLO target in milliseconds, drawn as a dashed line.
    pub slo_ms: Option<f64>,
    /// The windows, in any order (they are drawn in time order).
    pub points: Vec<LatencyPoint>,
}

/// Input of the latency chart: one panel per service, in the given order, sharing one time
/// axis so panels line up.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LatencyChart {
    /// The services.
    pub services: Vec<ServiceLatency>,
    /// Incident windows, each shaded on the panels of the services it affects.
    pub incidents: Vec<IncidentWindow>,
    /// Services left out to keep the chart within [`MAX_PANELS`] panels.
    pub omitted: usize,
}

/// Reads one percentile from a window.
type Percentile = fn(&LatencyPoint) -> Option<f64>;

/// The three percentiles, how to read each from a point, and its colour.
const PERCENTILES: [(&str, Percentile, RGBColor); 3] = [
    ("p50", |p| p.p50_ms, P50),
    ("p95", |p| p.p95_ms, P95),
    ("p99", |p| p.p99_ms, P99),
];

/// Pixel size of the chart.
pub(super) fn size(chart: &LatencyChart) -> (u32, u32) {
    let panels = chart.services.len().max(1) as u32;
    (
        WIDTH,
        frame::header_h(&legend(chart), WIDTH) + PANEL_H * panels + style::FOOTER_H,
    )
}

/// Draws the chart on `root`.
pub(super) fn draw<DB: DrawingBackend>(chart: &LatencyChart, root: &Area<DB>) -> Result<(), ChartError> {
    let title = panel_title(
        LatencyChart::TITLE,
        chart.services.len(),
        chart.omitted,
        "services with the highest p99",
    );
    let body = frame::figure(root, &title, &legend(chart))?;
    if chart.services.is_empty() {
        return frame::no_data(&body, "no services to show");
    }
    // One time axis for all panels, over the windows that have a value.
    let times = chart
        .services
        .iter()
        .flat_map(|s| s.points.iter().filter(|p| has_value(p)).map(|p| p.t_s));
    let range = frame::time_range(times);
    let panels = body.split_evenly((chart.services.len(), 1));
    for (service, area) in chart.services.iter().zip(&panels) {
        let caption = format!("{}: end-to-end latency", style::clip_label(&service.service, 60));
        let plot_area = frame::panel(area, &caption, &[])?;
        match (&range, max_ms(service)) {
            (Some((time, x)), Some(max)) => {
                let incidents = IncidentWindow::on_service_panel(&chart.incidents, &service.service);
                draw_service(&plot_area, service, &incidents, *time, x.clone(), max)?;
            }
            _ => frame::no_data(&plot_area, "no latency measured for this service")?,
        }
    }
    Ok(())
}

/// The legend: the percentiles, and the SLO and incidents when there are any.
fn legend(chart: &LatencyChart) -> Vec<LegendItem> {
    let mut items: Vec<LegendItem> = PERCENTILES
        .iter()
        .map(|&(name, _, color)| LegendItem::new(name, Swatch::Line(color)))
        .collect();
    if chart.services.iter().any(|s| valid_slo(s).is_some()) {
        items.push(LegendItem::new("SLO target", Swatch::Dashed(REFERENCE)));
    }
    if !chart.incidents.is_empty() {
        items.push(LegendItem::new("incident", Swatch::Incident));
    }
    items
}

/// Draws one service's plot: bands, SLO line, percentile lines, then band labels on top.
fn draw_service<DB: DrawingBackend>(
    area: &Area<DB>,
    service: &ServiceLatency,
    incidents: &[IncidentWindow],
    time: TimeAxis,
    x: std::ops::Range<f64>,
    max: f64,
) -> Result<(), ChartError> {
    let y = frame::y_range(max, 1.12);
    let (x_fmt, y_fmt) = (frame::tick_format(&x), frame::tick_format(&y));
    let axes = Axes {
        label_strip: frame::has_bands(incidents, time, &x),
        x,
        y,
        x_desc: time.label,
        y_desc: "latency (ms)",
        x_ticks: 14,
        x_fmt: &x_fmt,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(area, &axes)?;
    frame::incident_bands(&plot, incidents, time)?;
    if let Some(slo) = valid_slo(service) {
        draw_slo(&plot, slo)?;
    }
    for (_, value, color) in PERCENTILES {
        draw_runs(&plot, &runs(&service.points, value, time), color)?;
    }
    frame::incident_labels(&plot, incidents, time)
}

/// The dashed SLO line across the plot, labelled at its right end.
fn draw_slo<DB: DrawingBackend>(plot: &Plot<'_, DB>, slo: f64) -> Result<(), ChartError> {
    let x = plot.x_range();
    let line = [(x.start, slo), (x.end, slo)];
    plot.plotting_area()
        .draw(&DashedPathElement::new(line, 8, 5, REFERENCE.stroke_width(2)))?;
    let label = format!("SLO {} ms", style::short(slo));
    let right = style::text(13.0, REFERENCE).pos(Pos::new(HPos::Right, VPos::Bottom));
    frame::text_at(plot, &label, (x.end, slo), (-6, -4), &right)
}

/// Draws each unbroken run as a line; a run of one window as a dot, so it is not lost.
fn draw_runs<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    runs: &[Vec<(f64, f64)>],
    color: RGBColor,
) -> Result<(), ChartError> {
    let area = plot.plotting_area();
    for run in runs {
        match run.as_slice() {
            [only] => area.draw(&Circle::new(*only, 3, color.filled()))?,
            points => area.draw(&PathElement::new(points.to_vec(), color.stroke_width(2)))?,
        }
    }
    Ok(())
}

/// The runs of consecutive windows (in time order) that have a finite value, in axis units.
fn runs(points: &[LatencyPoint], value: Percentile, time: TimeAxis) -> Vec<Vec<(f64, f64)>> {
    let mut sorted: Vec<&LatencyPoint> = points.iter().filter(|p| p.t_s.is_finite()).collect();
    sorted.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for p in sorted {
        match value(p).filter(|v| v.is_finite()) {
            Some(v) => current.push((time.at(p.t_s), v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether a window has a finite time and at least one finite percentile.
fn has_value(p: &LatencyPoint) -> bool {
    p.t_s.is_finite()
        && PERCENTILES
            .iter()
            .any(|(_, value, _)| value(p).is_some_and(f64::is_finite))
}

/// The SLO target if it can be drawn.
fn valid_slo(service: &ServiceLatency) -> Option<f64> {
    service.slo_ms.filter(|v| v.is_finite() && *v > 0.0)
}

/// The largest value to fit on the y axis (percentiles and SLO), or `None` if the service
/// has no measured window.
fn max_ms(service: &ServiceLatency) -> Option<f64> {
    let measured = service
        .points
        .iter()
        .filter(|p| p.t_s.is_finite())
        .flat_map(|p| PERCENTILES.iter().filter_map(move |(_, value, _)| value(p)));
    let (_, max) = frame::finite_span(measured)?;
    Some(valid_slo(service).map_or(max, |slo| max.max(slo)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64, p99: Option<f64>) -> LatencyPoint {
        LatencyPoint {
            t_s,
            p50_ms: None,
            p95_ms: None,
            p99_ms: p99,
        }
    }

    #[test]
    fn missing_windows_break_the_line() {
        let time = TimeAxis {
            per_unit_s: 1.0,
            label: "s",
        };
        let points = vec![
            point(3.0, Some(3.0)),
            point(0.0, Some(1.0)),
            point(1.0, Some(2.0)),
            point(2.0, None),
            point(4.0, Some(f64::NAN)),
            point(5.0, Some(5.0)),
        ];
        let runs = runs(&points, |p| p.p99_ms, time);
        assert_eq!(
            runs,
            vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 3.0)], vec![(5.0, 5.0)]]
        );
    }

    #[test]
    fn the_slo_is_kept_in_view() {
        let service = ServiceLatency {
            service: "chat".into(),
            slo_ms: Some(500.0),
            points: vec![point(0.0, Some(120.0))],
        };
        assert_eq!(max_ms(&service), Some(500.0));
        let empty = ServiceLatency {
            points: vec![point(0.0, None)],
            ..service
        };
        assert_eq!(max_ms(&empty), None);
    }
}
