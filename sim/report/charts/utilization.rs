//! The utilization chart (`utilization`): one panel per GPU pool with the GPUs in use per
//! tier stacked over time, the idle part of the fixed (reserved and owned) capacity shaded
//! on top of what they use, the fixed capacity as a step line and, apart from it, the burst
//! limit (fixed plus on-demand and spot limits) as a dashed line. The y axis covers what is
//! held and used, not the burst limits: a cloud pool's on-demand limit is often ten times what
//! it holds, and an axis up to it would draw every pool as empty. A limit above the axis is
//! given in the panel's caption instead.

use plotters::element::{DashedPathElement, PathElement, Polygon};
use plotters::prelude::DrawingBackend;
use plotters::style::{Color, RGBColor};

use super::frame::{self, Axes, LegendItem, Plot, Swatch};
use super::render::Area;
use super::style::{self, IDLE, REFERENCE, TimeAxis, WIDTH};
use super::{Chart, ChartError, IncidentWindow, panel_title};
use crate::infra::ledger::IDLE_FIXED_LABEL;
use crate::output::spill::Spill;
use crate::vocab::Tier;

/// Height of one pool's panel.
const PANEL_H: u32 = 300;

/// A pool's state from one instant until the next point: the series are steps.
#[derive(Debug, Clone, PartialEq)]
pub struct UtilizationPoint {
    /// The instant, seconds from the start.
    pub t_s: f64,
    /// GPUs in use per tier, in the order of [`Tier::ALL`] (reserved, owned, on_demand, spot).
    pub in_use: [f64; Tier::ALL.len()],
    /// GPUs that could be allocated per tier, in the same order.
    pub capacity: [f64; Tier::ALL.len()],
}

/// One pool's utilization over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolUtilization {
    /// The pool's name, used in the panel caption.
    pub pool: String,
    /// Its states, in any order (drawn in time order). Each holds until the next one, so end
    /// the series with a point at the horizon to show the last interval. Negative and
    /// non-finite counts are drawn as zero.
    pub points: Vec<UtilizationPoint>,
}

/// Input of the utilization chart: one panel per pool, in the given order, sharing one time
/// axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UtilizationChart {
    /// The pools.
    pub pools: Vec<PoolUtilization>,
    /// Incident windows shaded on every panel.
    pub incidents: Vec<IncidentWindow>,
    /// Pools left out to keep the chart within [`MAX_PANELS`] panels.
    pub omitted: usize,
}

/// The pools of a utilization chart, handed to the drawing one panel at a time: a chart held in
/// memory ([`UtilizationChart`]), or one whose points are read back from disk panel by panel, so
/// that drawing a long run holds one panel's points rather than every panel's.
pub trait UtilizationPanels {
    /// Pools drawn, one panel each.
    fn pool_count(&self) -> usize;
    /// Pools left out to keep the chart within its panels.
    fn omitted(&self) -> usize;
    /// Incident windows shaded on every panel.
    fn incidents(&self) -> &[IncidentWindow];
    /// Calls `visit` with each pool, in panel order.
    fn for_each_pool(
        &self,
        visit: &mut dyn FnMut(&PoolUtilization) -> Result<(), ChartError>,
    ) -> Result<(), ChartError>;
}

impl UtilizationPanels for UtilizationChart {
    fn pool_count(&self) -> usize {
        self.pools.len()
    }

    fn omitted(&self) -> usize {
        self.omitted
    }

    fn incidents(&self) -> &[IncidentWindow] {
        &self.incidents
    }

    fn for_each_pool(
        &self,
        visit: &mut dyn FnMut(&PoolUtilization) -> Result<(), ChartError>,
    ) -> Result<(), ChartError> {
        self.pools.iter().try_for_each(visit)
    }
}

/// A utilization chart whose points wait on disk: the states of every pool at each instant
/// are appended together ([`SpilledUtilization::push`]) and each panel's are read back alone
/// when it is drawn, so drawing holds one panel's points however many panels and windows the
/// chart has.
#[derive(Debug)]
pub struct SpilledUtilization {
    names: Vec<String>,
    /// For each instant, a state per pool in panel order.
    points: Spill,
    incidents: Vec<IncidentWindow>,
    omitted: usize,
    scratch: Vec<u8>,
}

/// Bytes of a state on disk: the instant, then GPUs in use and capacity per tier.
const STATE_BYTES: usize = 8 * (1 + 2 * Tier::ALL.len());

impl SpilledUtilization {
    /// A chart of the pools `names` (in panel order) with no state yet.
    pub fn new(names: Vec<String>, incidents: Vec<IncidentWindow>, omitted: usize) -> Self {
        SpilledUtilization {
            names,
            points: Spill::new(STATE_BYTES),
            incidents,
            omitted,
            scratch: Vec::with_capacity(STATE_BYTES),
        }
    }

    /// Appends the state of every pool at one instant, in panel order.
    pub fn push(&mut self, states: &[UtilizationPoint]) {
        debug_assert_eq!(states.len(), self.names.len(), "a state per pool");
        for state in states {
            self.scratch.clear();
            let values = [state.t_s].into_iter().chain(state.in_use).chain(state.capacity);
            for value in values {
                self.scratch.extend_from_slice(&value.to_bits().to_le_bytes());
            }
            self.points.push(&self.scratch);
        }
    }

    /// The states of pool `p`, read back in the order appended.
    fn pool_points(&self, p: usize) -> std::io::Result<Vec<UtilizationPoint>> {
        if let Some(e) = self.points.error() {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        let pools = self.names.len().max(1) as u64;
        let mut out = Vec::new();
        let mut records = self.points.records();
        let mut k = 0u64;
        while let Some(record) = records.next_record() {
            let record = record?;
            if k % pools == p as u64 {
                let mut values = record
                    .chunks_exact(8)
                    .map(|c| f64::from_bits(u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))));
                let mut next = || values.next().unwrap_or(0.0);
                out.push(UtilizationPoint {
                    t_s: next(),
                    in_use: std::array::from_fn(|_| next()),
                    capacity: std::array::from_fn(|_| next()),
                });
            }
            k += 1;
        }
        Ok(out)
    }
}

impl UtilizationPanels for SpilledUtilization {
    fn pool_count(&self) -> usize {
        self.names.len()
    }

    fn omitted(&self) -> usize {
        self.omitted
    }

    fn incidents(&self) -> &[IncidentWindow] {
        &self.incidents
    }

    fn for_each_pool(
        &self,
        visit: &mut dyn FnMut(&PoolUtilization) -> Result<(), ChartError>,
    ) -> Result<(), ChartError> {
        for (p, name) in self.names.iter().enumerate() {
            visit(&PoolUtilization {
                pool: name.clone(),
                points: self.pool_points(p)?,
            })?;
        }
        Ok(())
    }
}

/// What a stacked layer shows.
#[derive(Debug, Clone, Copy)]
enum Layer {
    /// GPUs in use in a tier.
    InUse(Tier),
    /// Reserved and owned GPUs not in use.
    IdleFixed,
}

/// Stack order, bottom up: fixed tiers in use, then their idle part (so its top is the fixed
/// capacity), then the burst tiers.
const LAYERS: [Layer; 5] = [
    Layer::InUse(Tier::Reserved),
    Layer::InUse(Tier::Owned),
    Layer::IdleFixed,
    Layer::InUse(Tier::OnDemand),
    Layer::InUse(Tier::Spot),
];

impl Layer {
    fn value(self, p: &UtilizationPoint) -> f64 {
        match self {
            Layer::InUse(tier) => of_tier(&p.in_use, tier),
            Layer::IdleFixed => fixed_tiers()
                .map(|t| (of_tier(&p.capacity, t) - of_tier(&p.in_use, t)).max(0.0))
                .sum(),
        }
    }

    fn legend(self) -> LegendItem {
        match self {
            Layer::InUse(tier) => {
                LegendItem::new(style::tier_label(tier), Swatch::Fill(style::tier_color(tier)))
            }
            Layer::IdleFixed => LegendItem::new(IDLE_FIXED_LABEL, Swatch::Wash(IDLE)),
        }
    }

    fn fill(self) -> (RGBColor, f64) {
        match self {
            Layer::InUse(tier) => (style::tier_color(tier), 0.9),
            // Lighter than the rest: capacity paid for, but not used.
            Layer::IdleFixed => (IDLE, 0.55),
        }
    }
}

/// A tier's count from an array in the order of [`Tier::ALL`], as drawn.
fn of_tier(values: &[f64; Tier::ALL.len()], tier: Tier) -> f64 {
    Tier::ALL
        .iter()
        .zip(values)
        .find(|(t, _)| **t == tier)
        .map_or(0.0, |(_, &v)| count(v))
}

/// The tiers billed whether used or not.
fn fixed_tiers() -> impl Iterator<Item = Tier> {
    Tier::ALL.into_iter().filter(|t| t.is_fixed())
}

/// A GPU count as drawn: negative and non-finite counts are zero.
fn count(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// The pool's total capacity at a point: fixed capacity and the burst tiers' limits.
fn total_capacity(p: &UtilizationPoint) -> f64 {
    p.capacity.iter().copied().map(count).sum()
}

/// The reserved and owned GPUs at a point, billed whether used or not.
fn fixed_capacity(p: &UtilizationPoint) -> f64 {
    fixed_tiers().map(|t| of_tier(&p.capacity, t)).sum()
}

/// The most a point's layers stack to: everything in use plus the idle fixed capacity.
fn stacked(p: &UtilizationPoint) -> f64 {
    LAYERS.iter().map(|l| l.value(p)).sum()
}

/// The top of a pool's y axis before headroom: what it holds and uses, never its burst limit.
fn shown_max(points: &[&UtilizationPoint]) -> f64 {
    points
        .iter()
        .map(|p| stacked(p).max(fixed_capacity(p)))
        .fold(0.0, f64::max)
}

/// The largest value of `value` over the points.
fn largest(points: &[&UtilizationPoint], value: impl Fn(&UtilizationPoint) -> f64) -> f64 {
    points.iter().map(|p| value(p)).fold(0.0, f64::max)
}

/// A panel's caption: the pool, what it holds, and its burst limit when it has one, noting
/// when that limit lies above the axis.
fn caption(pool: &str, points: &[&UtilizationPoint]) -> String {
    let fixed = largest(points, fixed_capacity);
    let limit = largest(points, total_capacity);
    let held = format!(
        "{}: GPUs in use; {} owned/reserved",
        style::clip_label(pool, 60),
        style::compact(fixed, 0)
    );
    if limit <= fixed {
        return held;
    }
    let above = if limit > frame::y_range(shown_max(points), HEADROOM).end {
        " (above the axis)"
    } else {
        ""
    };
    format!("{held}, burst limit {}{above}", style::compact(limit, 0))
}

/// Room above the highest value on the y axis.
const HEADROOM: f64 = 1.1;

/// Pixel size of the chart.
pub(super) fn size(chart: &(impl UtilizationPanels + ?Sized)) -> (u32, u32) {
    let panels = chart.pool_count().max(1) as u32;
    (
        WIDTH,
        frame::header_h(&legend(chart), WIDTH) + PANEL_H * panels + style::FOOTER_H,
    )
}

/// The figure legend: the tier layers, capacity, and incidents when there are any.
fn legend(chart: &(impl UtilizationPanels + ?Sized)) -> Vec<LegendItem> {
    let mut legend: Vec<LegendItem> = LAYERS.iter().map(|l| l.legend()).collect();
    legend.push(LegendItem::new(
        "owned/reserved capacity",
        Swatch::Line(REFERENCE),
    ));
    legend.push(LegendItem::new(
        "burst limit (+ on-demand, spot)",
        Swatch::Dashed(REFERENCE),
    ));
    if !chart.incidents().is_empty() {
        legend.push(LegendItem::new("incident", Swatch::Incident));
    }
    legend
}

/// Draws the chart on `root`.
pub(super) fn draw<DB: DrawingBackend>(
    chart: &(impl UtilizationPanels + ?Sized),
    root: &Area<DB>,
) -> Result<(), ChartError> {
    let legend = legend(chart);
    let title = panel_title(
        UtilizationChart::TITLE,
        chart.pool_count(),
        chart.omitted(),
        "largest pools",
    );
    let body = frame::figure(root, &title, &legend)?;
    if chart.pool_count() == 0 {
        return frame::no_data(&body, "no GPU pools to show");
    }
    // The time axis spans every pool's points: a first pass keeps their extremes.
    let mut span: Option<(f64, f64)> = None;
    chart.for_each_pool(&mut |pool| {
        let times = pool.points.iter().map(|q| q.t_s);
        span = frame::finite_span(times.chain(span.into_iter().flat_map(|(lo, hi)| [lo, hi])));
        Ok(())
    })?;
    let range = frame::time_range(span.into_iter().flat_map(|(lo, hi)| [lo, hi]));
    let panels = body.split_evenly((chart.pool_count(), 1));
    let mut areas = panels.iter();
    chart.for_each_pool(&mut |pool| {
        let Some(area) = areas.next() else {
            return Ok(());
        };
        let points = sorted(&pool.points);
        let plot_area = frame::panel(area, &caption(&pool.pool, &points), &[])?;
        match &range {
            Some((time, x)) if !points.is_empty() => {
                draw_pool(&plot_area, &points, chart.incidents(), *time, x.clone())
            }
            _ => frame::no_data(&plot_area, "no utilization recorded for this pool"),
        }
    })
}

/// The points with a finite time, in time order.
fn sorted(points: &[UtilizationPoint]) -> Vec<&UtilizationPoint> {
    let mut out: Vec<&UtilizationPoint> = points.iter().filter(|p| p.t_s.is_finite()).collect();
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    out
}

/// Draws one pool's plot: stacked layers, bands over them, capacity line, band labels.
fn draw_pool<DB: DrawingBackend>(
    area: &Area<DB>,
    points: &[&UtilizationPoint],
    incidents: &[IncidentWindow],
    time: TimeAxis,
    x: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    let y = frame::y_range(shown_max(points), HEADROOM);
    let y_end = y.end;
    let x_fmt = frame::tick_format(&x);
    let y_fmt = frame::tick_format(&y);
    let axes = Axes {
        label_strip: frame::has_bands(incidents, time, &x),
        x,
        y,
        x_desc: time.label,
        y_desc: "GPUs",
        x_ticks: 14,
        x_fmt: &x_fmt,
        y_fmt: &y_fmt,
    };
    let plot = frame::plot(area, &axes)?;
    draw_layers(&plot, points, time)?;
    frame::incident_bands(&plot, incidents, time)?;
    let end = plot.x_range().end;
    let fixed = steps(points, time, end, fixed_capacity);
    plot.plotting_area()
        .draw(&PathElement::new(fixed, REFERENCE.stroke_width(2)))?;
    let limit = largest(points, total_capacity);
    if limit > largest(points, fixed_capacity) && limit <= y_end {
        let burst = steps(points, time, end, total_capacity);
        plot.plotting_area()
            .draw(&DashedPathElement::new(burst, 8, 5, REFERENCE.stroke_width(2)))?;
    }
    frame::incident_labels(&plot, incidents, time)
}

/// Fills each layer between the top of the layers below and its own top, as steps.
fn draw_layers<DB: DrawingBackend>(
    plot: &Plot<'_, DB>,
    points: &[&UtilizationPoint],
    time: TimeAxis,
) -> Result<(), ChartError> {
    let end = plot.x_range().end;
    for (i, layer) in LAYERS.iter().enumerate() {
        if points.iter().all(|p| layer.value(p) == 0.0) {
            continue;
        }
        let below = |p: &UtilizationPoint| LAYERS[..i].iter().map(|l| l.value(p)).sum::<f64>();
        let lower = steps(points, time, end, below);
        let upper = steps(points, time, end, |p| below(p) + layer.value(p));
        let mut outline = upper;
        outline.extend(lower.into_iter().rev());
        let (color, alpha) = layer.fill();
        plot.plotting_area()
            .draw(&Polygon::new(outline, color.mix(alpha).filled()))?;
    }
    Ok(())
}

/// A step line through `value` at each point: each value holds until the next point. A
/// single point holds until `end`, so it is still visible.
fn steps(
    points: &[&UtilizationPoint],
    time: TimeAxis,
    end: f64,
    value: impl Fn(&UtilizationPoint) -> f64,
) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, p) in points.iter().enumerate() {
        let v = value(p);
        out.push((time.at(p.t_s), v));
        let until = match points.get(i + 1) {
            Some(next) => time.at(next.t_s),
            None if points.len() == 1 => end,
            None => continue,
        };
        out.push((until, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64, reserved_use: f64, reserved_cap: f64, spot_use: f64) -> UtilizationPoint {
        UtilizationPoint {
            t_s,
            in_use: [reserved_use, 0.0, 0.0, spot_use],
            capacity: [reserved_cap, 0.0, 0.0, 8.0],
        }
    }

    #[test]
    fn idle_fixed_capacity_is_capacity_less_use() {
        assert_eq!(Layer::IdleFixed.value(&point(0.0, 3.0, 8.0, 2.0)), 5.0);
        // Over-use (which the simulator forbids) must not make idle capacity negative.
        assert_eq!(Layer::IdleFixed.value(&point(0.0, 9.0, 8.0, 2.0)), 0.0);
        assert_eq!(
            Layer::InUse(Tier::Spot).value(&point(0.0, 0.0, 8.0, f64::NAN)),
            0.0
        );
        assert_eq!(total_capacity(&point(0.0, 0.0, 8.0, 0.0)), 16.0);
    }

    #[test]
    fn the_axis_covers_what_is_held_and_used_and_the_caption_gives_the_burst_limit() {
        // 8 reserved GPUs, 2 in use, a spot limit of 8 unused: the axis ends at what is held,
        // and the limit of 16 is above it.
        let quiet = point(0.0, 2.0, 8.0, 0.0);
        assert_eq!(shown_max(&[&quiet]), 8.0);
        assert_eq!(
            caption("p", &[&quiet]),
            "p: GPUs in use; 8 owned/reserved, burst limit 16 (above the axis)"
        );
        // All 8 spot GPUs in use: the stack reaches the limit, which is drawn.
        let busy = point(60.0, 2.0, 8.0, 8.0);
        assert_eq!(shown_max(&[&quiet, &busy]), 16.0);
        assert_eq!(
            caption("p", &[&quiet, &busy]),
            "p: GPUs in use; 8 owned/reserved, burst limit 16"
        );
        // No burst tiers: no limit to give.
        let fixed_only = UtilizationPoint {
            t_s: 0.0,
            in_use: [1.0, 0.0, 0.0, 0.0],
            capacity: [4.0, 0.0, 0.0, 0.0],
        };
        assert_eq!(caption("p", &[&fixed_only]), "p: GPUs in use; 4 owned/reserved");
    }

    #[test]
    fn values_hold_until_the_next_point() {
        let time = TimeAxis {
            per_unit_s: 1.0,
            label: "s",
        };
        let (a, b) = (point(0.0, 1.0, 8.0, 0.0), point(10.0, 2.0, 8.0, 0.0));
        let line = steps(&[&a, &b], time, 20.0, |p| p.in_use[0]);
        assert_eq!(line, vec![(0.0, 1.0), (10.0, 1.0), (10.0, 2.0)]);
        let single = steps(&[&a], time, 20.0, |p| p.in_use[0]);
        assert_eq!(single, vec![(0.0, 1.0), (20.0, 1.0)]);
    }
}
