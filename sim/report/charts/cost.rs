//! The cost chart (`cost`): cumulative spend over time as stacked areas, one panel by cost
//! category and one by capacity tier, with incident windows shaded.

use plotters::element::{PathElement, Polygon, Rectangle};
use plotters::prelude::DrawingBackend;
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, WIDTH};
use super::{Chart, ChartError, IncidentWindow};
use crate::infra::ledger::CostCategory;
use crate::vocab::Tier;

/// Height of each of the two panels.
const PANEL_H: u32 = 330;

/// Cumulative spend at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct CostPoint {
    /// The instant, seconds from the start.
    pub t_s: f64,
    /// Cumulative USD spent up to `t_s` per category, in the order of [`CostCategory::ALL`]
    /// (compute, idle_reserved, egress, storage, interconnect).
    pub by_category: [f64; CostCategory::ALL.len()],
    /// Cumulative USD spent up to `t_s` per capacity tier, in the order of [`Tier::ALL`]
    /// (reserved, owned, on_demand, spot).
    pub by_tier: [f64; Tier::ALL.len()],
}

/// Input of the cost chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostChart {
    /// Cumulative spend, in any order (drawn in time order). Negative and non-finite amounts
    /// count as zero, since a stack cannot show them.
    pub points: Vec<CostPoint>,
    /// Incident windows shaded on both panels.
    pub incidents: Vec<IncidentWindow>,
}

/// One stacked layer: its legend name, colour and value at each point (in time order).
struct Layer {
    name: &'static str,
    color: RGBColor,
    values: Vec<f64>,
}

/// Pixel size of the chart.
pub(super) fn size(chart: &CostChart) -> (u32, u32) {
    (
        WIDTH,
        frame::header_h(&legend(chart), WIDTH) + 2 * PANEL_H + style::FOOTER_H,
    )
}

/// The figure legend: the incident band, when there is one.
fn legend(chart: &CostChart) -> Vec<LegendItem> {
    if chart.incidents.is_empty() {
        Vec::new()
    } else {
        vec![LegendItem::new("incident", Swatch::Incident)]
    }
}

/// Draws the chart on `root`.
pub(super) fn draw<DB: DrawingBackend>(chart: &CostChart, root: &Area<DB>) -> Result<(), ChartError> {
    let body = frame::figure(root, CostChart::TITLE, &legend(chart))?;
    let mut points: Vec<&CostPoint> = chart.points.iter().filter(|p| p.t_s.is_finite()).collect();
    points.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let by_category = CostCategory::ALL
        .iter()
        .enumerate()
        .map(|(i, &c)| layer(c.label(), style::category_color(c), &points, |p| p.by_category[i]));
    let by_tier = Tier::ALL.iter().enumerate().map(|(i, &t)| {
        layer(style::tier_label(t), style::tier_color(t), &points, |p| {
            p.by_tier[i]
        })
    });
    let panels = body.split_evenly((2, 1));
    let times: Vec<f64> = points.iter().map(|p| p.t_s).collect();
    let stacks = [
        ("by category", by_category.collect()),
        ("by capacity tier", by_tier.collect()),
    ];
    for ((caption, layers), area) in stacks.into_iter().zip(&panels) {
        draw_panel(area, caption, &times, layers, &chart.incidents)?;
    }
    Ok(())
}

/// A layer's values over `points`, with amounts a stack cannot show replaced by zero.
fn layer(
    name: &'static str,
    color: RGBColor,
    points: &[&CostPoint],
    value: impl Fn(&CostPoint) -> f64,
) -> Layer {
    let values = points
        .iter()
        .map(|p| value(p))
        .map(|v| if v.is_finite() && v > 0.0 { v } else { 0.0 })
        .collect();
    Layer { name, color, values }
}

/// Draws one stacked panel. Layers that are zero throughout are left out of the plot and
/// its legend, so the legend only names what can be seen.
fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    caption: &str,
    times: &[f64],
    layers: Vec<Layer>,
    incidents: &[IncidentWindow],
) -> Result<(), ChartError> {
    let layers: Vec<Layer> = layers
        .into_iter()
        .filter(|l| l.values.iter().any(|&v| v > 0.0))
        .collect();
    let tops = stack_tops(&layers, times.len());
    let total = tops.last().and_then(|top| top.last()).copied().unwrap_or(0.0);
    let legend: Vec<LegendItem> = layers
        .iter()
        .map(|l| LegendItem::new(l.name, Swatch::Fill(l.color)))
        .collect();
    let caption = format!("{caption} — total {}", style::usd(total));
    let plot_area = frame::panel(area, &caption, &legend)?;
    let Some((time, x)) = frame::time_range(times.iter().copied()) else {
        return frame::no_data(&plot_area, "no cost recorded");
    };
    let max = tops
        .last()
        .map_or(0.0, |top| top.iter().copied().fold(0.0, f64::max));
    let y = frame::y_range(max, 1.08);
    let x_fmt = frame::tick_format(&x);
    let y_fmt = |v: &f64| style::usd(*v);
    let axes = Axes {
        label_strip: frame::has_bands(incidents, time, &x),
        x,
        y,
        x_desc: time.label,
        y_desc: "cumulative cost (USD)",
        x_ticks: 14,
        x_fmt: &x_fmt,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(&plot_area, &axes)?;
    let xs: Vec<f64> = times.iter().map(|&t| time.at(t)).collect();
    draw_stack(&plot, &xs, &layers, &tops)?;
    frame::incident_bands(&plot, incidents, time)?;
    frame::incident_labels(&plot, incidents, time)
}

/// The running top of the stack after each layer: `tops[l][i]` is the sum of layers `0..=l`
/// at point `i`.
fn stack_tops(layers: &[Layer], n: usize) -> Vec<Vec<f64>> {
    let mut below = vec![0.0; n];
    layers
        .iter()
        .map(|layer| {
            for (b, v) in below.iter_mut().zip(&layer.values) {
                *b += v;
            }
            below.clone()
        })
        .collect()
}

/// Fills each layer between the top of the one below and its own top, outlining its top.
fn draw_stack<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    xs: &[f64],
    layers: &[Layer],
    tops: &[Vec<f64>],
) -> Result<(), ChartError> {
    let area = plot.plotting_area();
    let zero = vec![0.0; xs.len()];
    for (l, layer) in layers.iter().enumerate() {
        let lower = if l == 0 { &zero } else { &tops[l - 1] };
        let upper = &tops[l];
        if let [x] = xs {
            // A single instant has no area: show it as a stacked bar instead.
            let half = (plot.x_range().end - plot.x_range().start) / 40.0;
            area.draw(&Rectangle::new(
                [(x - half, upper[0]), (x + half, lower[0])],
                layer.color.filled(),
            ))?;
            continue;
        }
        let top_edge: Vec<(f64, f64)> = xs.iter().copied().zip(upper.iter().copied()).collect();
        let mut outline = top_edge.clone();
        outline.extend(xs.iter().copied().zip(lower.iter().copied()).rev());
        area.draw(&Polygon::new(outline, layer.color.mix(0.9).filled()))?;
        area.draw(&PathElement::new(
            top_edge,
            style::darker(layer.color).stroke_width(1),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_stack_and_bad_amounts_count_as_zero() {
        let p = |t_s, a, b| CostPoint {
            t_s,
            by_category: [a, b, 0.0, 0.0, 0.0],
            by_tier: [0.0; 4],
        };
        let points = [p(0.0, 1.0, 2.0), p(1.0, f64::NAN, -3.0)];
        let refs: Vec<&CostPoint> = points.iter().collect();
        let layers = [
            layer("a", style::IDLE, &refs, |p| p.by_category[0]),
            layer("b", style::IDLE, &refs, |p| p.by_category[1]),
        ];
        assert_eq!(layers[1].values, vec![2.0, 0.0]);
        assert_eq!(stack_tops(&layers, 2), vec![vec![1.0, 0.0], vec![3.0, 0.0]]);
    }
}
