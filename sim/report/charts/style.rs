//! The look shared by every chart: sizes, colours, text styles and number formats. Colours
//! are fixed per meaning (a tier, a cost category, a percentile) so the same thing has the
//! same colour in every chart of a report.

use plotters::style::{FontDesc, FontFamily, FontStyle, RGBAColor, RGBColor, TextStyle};

use crate::infra::ledger::CostCategory;
use crate::report::html::markup::count;
use crate::vocab::Tier;

/// Width of every chart, in pixels.
pub(super) const WIDTH: u32 = 1200;
/// Height of the figure title and legend rows above the panels.
pub(super) const HEADER_H: u32 = 76;
/// Space left under the last panel.
pub(super) const FOOTER_H: u32 = 8;

/// Main text.
pub(super) const INK: RGBColor = RGBColor(33, 37, 41);
/// Secondary text: notes, tick labels.
pub(super) const MUTED: RGBColor = RGBColor(100, 106, 112);
/// Axis lines.
pub(super) const AXIS: RGBColor = RGBColor(150, 154, 158);
/// Major grid lines.
pub(super) const GRID: RGBColor = RGBColor(222, 225, 228);
/// Incident bands: a light red wash, so lines drawn over them stay readable.
pub(super) const INCIDENT_FILL: RGBAColor = RGBAColor(214, 39, 40, 0.12);
/// Incident band edges and labels.
pub(super) const INCIDENT_INK: RGBColor = RGBColor(165, 29, 31);
/// Reference lines (SLO target, capacity).
pub(super) const REFERENCE: RGBColor = RGBColor(33, 37, 41);

/// Percentile lines: one hue family, darker for the tail.
pub(super) const P50: RGBColor = RGBColor(78, 121, 167);
pub(super) const P95: RGBColor = RGBColor(242, 142, 43);
pub(super) const P99: RGBColor = RGBColor(118, 42, 131);

/// Idle reserved capacity and spend: grey, because it bought nothing.
pub(super) const IDLE: RGBColor = RGBColor(186, 176, 172);

/// Distinct colours for policies, in order (Tableau 10).
const SERIES: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(89, 161, 79),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

/// How many series the palette tells apart: a chart that would need more colours draws small
/// multiples instead, or (bar charts) takes [`distinct_color`].
pub(super) const PALETTE: usize = SERIES.len();

/// The colour of the `i`-th series (policies); repeats after [`PALETTE`], so a chart with more
/// series than that uses [`distinct_color`].
pub(super) fn series_color(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

/// The colour of series `i` of `n`: the palette's while it holds them all, otherwise `n` hues
/// spaced evenly around the colour wheel, alternately darker and lighter so neighbours differ
/// in more than hue. No two of the `n` are the same (for `n` up to 360 hues).
pub(super) fn distinct_color(i: usize, n: usize) -> RGBColor {
    if n <= PALETTE {
        return series_color(i);
    }
    let hue = 360.0 * i as f64 / n as f64;
    let lightness = if i.is_multiple_of(2) { 0.42 } else { 0.60 };
    hsl(hue, 0.62, lightness)
}

/// An HSL colour (hue in degrees, saturation and lightness in 0..=1) as RGB.
fn hsl(hue: f64, saturation: f64, lightness: f64) -> RGBColor {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue.rem_euclid(360.0) / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(byte(r), byte(g), byte(b))
}

/// The colour of a cost category.
pub(super) fn category_color(category: CostCategory) -> RGBColor {
    match category {
        CostCategory::Compute => RGBColor(78, 121, 167),
        CostCategory::IdleReserved => IDLE,
        CostCategory::Egress => RGBColor(242, 142, 43),
        CostCategory::Storage => RGBColor(89, 161, 79),
        CostCategory::Interconnect => RGBColor(176, 122, 161),
    }
}

/// The colour of a capacity tier.
pub(super) fn tier_color(tier: Tier) -> RGBColor {
    match tier {
        Tier::Reserved => RGBColor(78, 121, 167),
        Tier::Owned => RGBColor(118, 183, 178),
        Tier::OnDemand => RGBColor(242, 142, 43),
        Tier::Spot => RGBColor(237, 201, 72),
    }
}

/// A human name for a tier ("on-demand" rather than the file name "on_demand").
pub(super) fn tier_label(tier: Tier) -> &'static str {
    match tier {
        Tier::Reserved => "reserved",
        Tier::Owned => "owned",
        Tier::OnDemand => "on-demand",
        Tier::Spot => "spot",
    }
}

/// A darker shade of `c`, for outlines drawn on top of a fill of `c`.
pub(super) fn darker(c: RGBColor) -> RGBColor {
    let d = |v: u8| (f64::from(v) * 0.7).round() as u8;
    RGBColor(d(c.0), d(c.1), d(c.2))
}

/// Text in the bundled font (registered as the sans-serif family) at `size` pixels.
pub(super) fn text(size: f64, color: RGBColor) -> TextStyle<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal).color(&color)
}

/// Bold text in the bundled font.
pub(super) fn bold(size: f64, color: RGBColor) -> TextStyle<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Bold).color(&color)
}

/// How simulated time is shown on an x axis: seconds are divided by `per_unit_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TimeAxis {
    /// Seconds in one axis unit.
    pub per_unit_s: f64,
    /// The axis description, with its unit.
    pub label: &'static str,
}

impl TimeAxis {
    /// Minutes for runs up to three hours, hours up to four days, days beyond: the tick
    /// labels stay short round numbers whatever the horizon.
    pub(super) fn for_span(span_s: f64) -> TimeAxis {
        if span_s <= 3.0 * 3600.0 {
            TimeAxis {
                per_unit_s: 60.0,
                label: "time (min)",
            }
        } else if span_s <= 96.0 * 3600.0 {
            TimeAxis {
                per_unit_s: 3600.0,
                label: "time (h)",
            }
        } else {
            TimeAxis {
                per_unit_s: 86_400.0,
                label: "time (d)",
            }
        }
    }

    /// The axis position of a time in seconds.
    pub(super) fn at(self, t_s: f64) -> f64 {
        t_s / self.per_unit_s
    }
}

/// Decimals needed to tell apart ticks about `span / 8` apart.
pub(super) fn tick_decimals(span: f64) -> usize {
    let step = span / 8.0;
    if !step.is_finite() || step <= 0.0 || step >= 1.0 {
        return 0;
    }
    (-step.log10().floor()).clamp(0.0, 6.0) as usize
}

/// A tick label with at most `decimals` decimals, and thousands written as "k", millions as "M" so
/// labels stay narrow.
pub(super) fn compact(v: f64, decimals: usize) -> String {
    // Rounding noise at zero would otherwise print as "-0".
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6, 1))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3, 1))
    } else {
        trim(v, decimals)
    }
}

/// `v` with at most `decimals` decimals and no trailing zeros.
fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A dollar amount for labels: "$0", "$0.50", "$1,234" under ten thousand, then "$12.3k",
/// "$4.5M".
pub(super) fn usd(v: f64) -> String {
    let a = v.abs();
    let sign = if v < 0.0 { "-" } else { "" };
    if a >= 1e6 {
        format!("{sign}${}M", trim(a / 1e6, 2))
    } else if a >= 1e4 {
        format!("{sign}${}k", trim(a / 1e3, 1))
    } else if a >= 100.0 {
        format!("{sign}${}", count(a.round() as u64))
    } else if a.fract() == 0.0 {
        format!("{sign}${a}")
    } else {
        format!("{sign}${a:.2}")
    }
}

/// A value short enough to label a bar: "12", "4.5", "0.25".
pub(super) fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        compact(v, 0)
    } else if a >= 10.0 {
        trim(v, 1)
    } else {
        trim(v, 2)
    }
}

/// `label`, cut to `max` characters with an ellipsis, so long names cannot push a layout
/// apart.
pub(super) fn clip_label(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_numbers_are_short() {
        assert_eq!(usd(0.5), "$0.50");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(20.0), "$20");
        assert_eq!(usd(1234.4), "$1,234");
        assert_eq!(usd(12_345.0), "$12.3k");
        assert_eq!(usd(2_500_000.0), "$2.5M");
        assert_eq!(compact(250.0, 0), "250");
        assert_eq!(compact(25_000.0, 0), "25k");
        assert_eq!(compact(0.25, 2), "0.25");
        assert_eq!(short(4.5), "4.5");
        assert_eq!(short(12.34), "12.3");
    }

    #[test]
    fn time_unit_follows_the_span() {
        assert_eq!(TimeAxis::for_span(1800.0).label, "time (min)");
        assert_eq!(TimeAxis::for_span(24.0 * 3600.0).label, "time (h)");
        assert_eq!(TimeAxis::for_span(30.0 * 86_400.0).label, "time (d)");
        assert_eq!(TimeAxis::for_span(7200.0).at(3600.0), 60.0);
    }

    #[test]
    fn decimals_follow_the_tick_step() {
        assert_eq!(tick_decimals(24.0), 0);
        assert_eq!(tick_decimals(2.0), 1);
        assert_eq!(tick_decimals(0.2), 2);
        assert_eq!(tick_decimals(f64::NAN), 0);
    }

    #[test]
    fn distinct_colors_never_repeat() {
        for n in [1, 10, 11, 24, 64, 200] {
            let colors: Vec<(u8, u8, u8)> = (0..n)
                .map(|i| {
                    let c = distinct_color(i, n);
                    (c.0, c.1, c.2)
                })
                .collect();
            let mut unique = colors.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), n, "{n} series");
        }
        assert_eq!(distinct_color(3, 10), series_color(3));
    }

    #[test]
    fn long_labels_are_clipped() {
        assert_eq!(clip_label("abc", 5), "abc");
        assert_eq!(clip_label("abcdefgh", 5), "abcd…");
    }
}
