//! A study chart: one metric against one swept parameter, a line per variant and policy with its
//! 95% band, and the break-even points marked. An axis whose positive values span a factor of 50
//! or more is logarithmic (its values are drawn at their log₁₀ and labelled in plain numbers).

use plotters::element::{Circle, DashedPathElement, PathElement, Polygon};
use plotters::prelude::DrawingBackend;
use plotters::style::Color;

use super::ChartError;
use super::frame::{self, Axes, LegendItem, Swatch};
use super::render::{self, Area};
use super::style::{self, INK, WIDTH};

/// Height of the plot panel.
const PANEL_H: u32 = 520;
/// Rows of break-even labels before they start again at the top.
const MARK_ROWS: usize = 8;

/// One line: the metric's mean at each level, with its 95% interval.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyLine {
    /// Legend text.
    pub label: String,
    /// (x, mean, low, high), in x order.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// Input of a study chart.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyChart {
    /// The title: `cost_usd by demand`.
    pub title: String,
    /// The x axis description, with its unit.
    pub x_desc: String,
    /// The y axis description.
    pub y_desc: String,
    /// The lines.
    pub lines: Vec<StudyLine>,
    /// Break-even points to mark: (x, label).
    pub marks: Vec<(f64, String)>,
}

/// Whether values spanning `lo..hi` read better on a log axis.
fn wants_log(lo: f64, hi: f64) -> bool {
    lo > 0.0 && hi / lo >= 50.0
}

impl StudyChart {
    /// Pixel size.
    pub fn size(&self) -> (u32, u32) {
        (
            WIDTH,
            frame::header_h(&legend(self), WIDTH) + PANEL_H + style::FOOTER_H,
        )
    }

    /// The chart as SVG.
    pub fn svg(&self) -> Result<String, ChartError> {
        render::svg(self.size(), |root| draw(self, root))
    }

    /// The chart as PNG.
    pub fn png(&self) -> Result<Vec<u8>, ChartError> {
        render::png(self.size(), |root| draw(self, root))
    }

    /// Whether the x axis is logarithmic.
    pub fn log_x(&self) -> bool {
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        frame::finite_span(xs).is_some_and(|(lo, hi)| wants_log(lo, hi))
    }

    /// Whether the y axis is logarithmic.
    pub fn log_y(&self) -> bool {
        let ys = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().flat_map(|p| [p.2, p.3]));
        frame::finite_span(ys).is_some_and(|(lo, hi)| wants_log(lo, hi))
    }
}

/// The legend: a line per study line in its colour.
fn legend(chart: &StudyChart) -> Vec<LegendItem> {
    chart
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| LegendItem::new(l.label.clone(), Swatch::Line(style::series_color(i))))
        .collect()
}

fn draw<DB: DrawingBackend>(chart: &StudyChart, root: &Area<DB>) -> Result<(), ChartError> {
    let body = frame::figure(root, &chart.title, &legend(chart))?;
    let area = frame::panel(&body, "mean of the replications, with its 95% interval", &[])?;
    let (log_x, log_y) = (chart.log_x(), chart.log_y());
    let fx = move |x: f64| if log_x { x.log10() } else { x };
    let fy = move |y: f64| {
        if log_y {
            y.max(f64::MIN_POSITIVE).log10()
        } else {
            y
        }
    };
    let xs = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| fx(p.0)));
    let ys = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().flat_map(|p| [fy(p.2), fy(p.3)]));
    let (Some((x0, x1)), Some((y0, y1))) = (frame::finite_span(xs), frame::finite_span(ys)) else {
        return frame::no_data(&area, "no point of the study measured this");
    };
    let x_pad = ((x1 - x0) * 0.03).max(1e-9);
    let x = (x0 - x_pad)..(x1 + x_pad);
    let y = if log_y {
        (y0 - 0.1)..(y1 + 0.1)
    } else if y0 >= 0.0 {
        frame::y_range(y1, 1.08)
    } else {
        let pad = ((y1 - y0) * 0.08).max(1e-9);
        (y0 - pad)..(y1 + pad)
    };
    let plain_x = frame::tick_format(&x);
    let plain_y = frame::tick_format(&y);
    let x_fmt = move |v: &f64| {
        if log_x {
            style::short(10f64.powf(*v))
        } else {
            plain_x(v)
        }
    };
    let y_fmt = move |v: &f64| {
        if log_y {
            style::short(10f64.powf(*v))
        } else {
            plain_y(v)
        }
    };
    let x_desc = if log_x {
        format!("{} (log scale)", chart.x_desc)
    } else {
        chart.x_desc.clone()
    };
    let y_desc = if log_y {
        format!("{} (log scale)", chart.y_desc)
    } else {
        chart.y_desc.clone()
    };
    let plot = frame::plot(
        &area,
        &Axes {
            x: x.clone(),
            y: y.clone(),
            x_desc: &x_desc,
            y_desc: &y_desc,
            x_ticks: 8,
            label_strip: false,
            x_fmt: &x_fmt,
            y_fmt: &y_fmt,
        },
    )?;
    let plotting = plot.plotting_area();
    for (i, line) in chart.lines.iter().enumerate() {
        let color = style::series_color(i);
        let points: Vec<_> = line
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| (fx(p.0), fy(p.1), fy(p.2), fy(p.3)))
            .collect();
        let mut outline: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.2)).collect();
        outline.extend(points.iter().rev().map(|p| (p.0, p.3)));
        if points.len() > 1 {
            plotting.draw(&Polygon::new(outline, color.mix(0.16).filled()))?;
        }
        let path: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
        plotting.draw(&PathElement::new(path.clone(), color.stroke_width(2)))?;
        for p in path {
            plotting.draw(&Circle::new(p, 3, color.filled()))?;
        }
    }
    for (i, (at, label)) in chart.marks.iter().enumerate() {
        let xm = fx(*at);
        if !xm.is_finite() || xm < x.start || xm > x.end {
            continue;
        }
        plotting.draw(&DashedPathElement::new(
            [(xm, y.start), (xm, y.end)],
            6,
            4,
            INK.stroke_width(2),
        ))?;
        // Labels step down the plot so that crossings close together stay readable.
        let row = (i % MARK_ROWS) as i32;
        frame::text_at(
            &plot,
            label,
            (xm, y.end),
            (6, 4 + 17 * row),
            &style::text(12.0, INK),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(xs: &[f64]) -> StudyChart {
        StudyChart {
            title: "cost_usd by demand".into(),
            x_desc: "demand (/s)".into(),
            y_desc: "cost_usd".into(),
            lines: vec![StudyLine {
                label: "own".into(),
                points: xs.iter().map(|&x| (x, 2.0 * x, 1.9 * x, 2.1 * x)).collect(),
            }],
            marks: vec![(xs[1], "break-even".into())],
        }
    }

    #[test]
    fn a_study_chart_renders_the_same_bytes_twice_and_goes_log_for_wide_ranges() {
        let narrow = chart(&[10.0, 20.0, 30.0]);
        assert!(!narrow.log_x());
        let svg = narrow.svg().unwrap();
        assert_eq!(svg, narrow.svg().unwrap());
        assert!(svg.contains("break-even") && svg.contains("own"));
        assert!(!narrow.png().unwrap().is_empty());
        let wide = chart(&[1.0, 10.0, 1000.0]);
        assert!(wide.log_x() && wide.log_y());
        assert!(wide.svg().unwrap().contains("log scale"));
    }
}
