//! Tests of the comparison charts: means and bands, colours per group, small multiples.

use super::*;

#[test]
fn earlier_runs_are_wider_so_coinciding_lines_stay_visible() {
    let widths: Vec<u32> = (0..4).map(|i| super::line_width(i, 4)).collect();
    assert_eq!(widths, [5, 4, 3, 2]);
    assert_eq!(super::line_width(0, 1), 2);
    assert_eq!(super::line_width(0, 40), super::MAX_LINE_WIDTH as u32);
    assert_eq!(super::line_width(39, 40), 2);
}

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

fn y_max_of(panel: &RunsPanel) -> Option<f64> {
    y_max(panel, &[])
}

#[test]
fn the_y_axis_covers_the_largest_run_and_the_reference() {
    let small = series("a", &[(0.0, Some(3.0)), (60.0, Some(4.0))]);
    let large = series(
        "b",
        &[(0.0, Some(40.0)), (60.0, Some(f64::NAN)), (f64::NAN, Some(1e9))],
    );
    assert_eq!(
        y_max_of(&panel(vec![small.clone(), large.clone()], None)),
        Some(40.0)
    );
    assert_eq!(
        y_max_of(&panel(vec![large, small.clone()], Some(f64::NAN))),
        Some(40.0)
    );
    assert_eq!(y_max_of(&panel(vec![small.clone()], Some(100.0))), Some(100.0));
    assert_eq!(y_max_of(&panel(vec![small], Some(-1.0))), Some(4.0));
    let nothing = panel(vec![series("a", &[(0.0, None)]), series("b", &[])], Some(100.0));
    assert_eq!(y_max_of(&nothing), None);
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
            services: None,
        }],
    );
    let labels: Vec<String> = legend(&chart).into_iter().map(|i| i.label).collect();
    assert_eq!(labels, ["a", "b", "SLO target", "incident"]);
}

#[test]
fn a_long_legend_takes_more_rows() {
    let runs = |n: usize| {
        let labels = (0..n)
            .map(|i| format!("eu-outage-dual.lowest_latency.seed-{i}"))
            .collect();
        CostRunsChart::new(labels, vec![], vec![])
    };
    assert_eq!(size(&runs(2)).1, size(&runs(1)).1);
    assert!(size(&runs(8)).1 > size(&runs(2)).1);
    assert_eq!(size(&runs(0)), size(&CostRunsChart::default()));
}

/// `groups` groups of `seeds` runs each, with one panel of `values(run, window)`.
fn grouped(groups: usize, seeds: usize, values: impl Fn(usize, usize) -> Option<f64>) -> LatencyRunsChart {
    let runs: Vec<String> = (0..groups * seeds).map(|r| format!("run-{r}")).collect();
    let series = runs
        .iter()
        .enumerate()
        .map(|(r, label)| RunSeries {
            label: label.clone(),
            points: (0..6).map(|w| (60.0 * w as f64, values(r, w))).collect(),
        })
        .collect();
    let groups = (0..groups)
        .map(|g| RunGroup {
            label: format!("policy-{g}"),
            runs: (g * seeds..(g + 1) * seeds).collect(),
        })
        .collect();
    LatencyRunsChart::grouped(runs, groups, vec![panel(series, None)], vec![])
}

/// Mean and 95% Student-t half-width of `values`, from the definitions and statrs' t
/// quantile.
fn independent_interval(values: &[f64]) -> (f64, Option<f64>) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, None);
    }
    let s = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0).unwrap().inverse_cdf(0.975);
    (mean, Some(t * s / n.sqrt()))
}

#[test]
fn a_groups_band_is_the_mean_and_student_t_interval_at_each_time() {
    let value = |r: usize, w: usize| 10.0 + (r * r) as f64 + 3.0 * w as f64 * ((r % 3) as f64);
    let series: Vec<Vec<(f64, Option<f64>)>> = (0..5)
        .map(|r| {
            // Run 4 has no value in window 2, and gives its points out of order.
            let mut points: Vec<(f64, Option<f64>)> = (0..4)
                .map(|w| (60.0 * w as f64, (r != 4 || w != 2).then(|| value(r, w))))
                .collect();
            points.reverse();
            points
        })
        .collect();
    let slices: Vec<&[(f64, Option<f64>)]> = series.iter().map(Vec::as_slice).collect();
    let band = mean_band(&slices);
    assert_eq!(band.len(), 4);
    for (w, point) in band.iter().enumerate() {
        let values: Vec<f64> = (0..5)
            .filter(|&r| r != 4 || w != 2)
            .map(|r| value(r, w))
            .collect();
        let (mean, half) = independent_interval(&values);
        assert_eq!((point.t_s, point.n), (60.0 * w as f64, values.len()));
        assert!((point.mean - mean).abs() < 1e-9 * mean.abs());
        let (got, want) = (point.half_width.unwrap(), half.unwrap());
        assert!(
            (got - want).abs() < 1e-9 * want,
            "window {w}: {got} against {want}"
        );
    }
    // One run: its own line, no band; nothing at all: no point.
    let one = mean_band(&[&[(0.0, Some(4.0)), (60.0, None), (120.0, Some(f64::NAN))]]);
    assert_eq!(
        one,
        [MeanPoint {
            t_s: 0.0,
            n: 1,
            mean: 4.0,
            half_width: None
        }]
    );
    assert!(mean_band(&[]).is_empty());
}

#[test]
fn the_y_axis_covers_the_top_of_every_band() {
    let chart = grouped(1, 3, |r, _| Some([1.0, 2.0, 9.0][r]));
    let bands = panel_bands(&chart, &chart.panels[0]);
    let (mean, half) = independent_interval(&[1.0, 2.0, 9.0]);
    let top = y_max(&chart.panels[0], &bands).unwrap();
    assert!((top - (mean + half.unwrap())).abs() < 1e-9 && top > 9.0);
}

#[test]
fn groups_get_distinct_colours_and_small_multiples_past_the_palette() {
    let line_colours = |chart: &LatencyRunsChart| -> Vec<(u8, u8, u8)> {
        legend(chart)
            .iter()
            .filter_map(|item| match item.swatch {
                Swatch::Line(c) => Some((c.0, c.1, c.2)),
                _ => None,
            })
            .collect()
    };
    for groups in 1..=PALETTE {
        let chart = grouped(groups, 3, |r, w| Some((r + w) as f64));
        assert!(!chart.small_multiples());
        let mut colours = line_colours(&chart);
        assert_eq!(colours.len(), groups, "a line per group, not per seed");
        colours.sort_unstable();
        colours.dedup();
        assert_eq!(colours.len(), groups, "{groups} groups, {groups} colours");
    }
    let many = grouped(PALETTE + 1, 2, |r, w| Some((r + w) as f64));
    assert!(many.small_multiples());
    assert_eq!(
        line_colours(&many).len(),
        1,
        "one colour: captions name the groups"
    );
    let svg = many.svg().unwrap();
    for g in 0..=PALETTE {
        assert!(
            svg.contains(&format!("policy-{g} (mean of 2 seeds)")),
            "policy-{g}"
        );
    }
    assert_eq!(size(&many).1, size(&grouped(PALETTE + 2, 2, |_, _| Some(1.0))).1);
    assert!(size(&grouped(PALETTE + 4, 2, |_, _| Some(1.0))).1 > size(&many).1);
}

#[test]
fn small_multiples_leave_out_the_last_panels_past_their_budget() {
    let chart = |groups: usize, panels: usize| {
        let mut chart = grouped(groups, 1, |r, w| Some((r + w) as f64));
        chart.panels = vec![chart.panels[0].clone(); panels];
        chart
    };
    assert_eq!(shown_panels(&chart(PALETTE, 40)), 40, "overlaid: every panel");
    assert_eq!(shown_panels(&chart(64, 40)), MAX_SMALL_PLOTS / 64);
    assert_eq!(shown_panels(&chart(64, 1)), 1);
    assert_eq!(shown_panels(&chart(200, 3)), 1, "at least one");
    let svg = chart(64, 40).svg().unwrap();
    assert!(svg.contains(&format!("the first {} of 40 panels", MAX_SMALL_PLOTS / 64)));
}

#[test]
fn a_group_of_seeds_is_drawn_as_a_band_and_a_mean_line() {
    let chart = grouped(2, 3, |r, w| Some((r * 10 + w) as f64));
    let svg = chart.svg().unwrap();
    assert_eq!(svg, chart.clone().svg().unwrap(), "same input, same bytes");
    assert_eq!(chart.png().unwrap(), chart.clone().png().unwrap());
    assert!(svg.contains("policy-0 (mean of 3 seeds)"));
    assert!(svg.contains("95% interval of the mean"));
    // A band is a filled polygon; single runs have none.
    assert!(svg.matches("<polygon").count() >= 2, "a band per group");
    let single = LatencyRunsChart::new(
        vec!["a".into()],
        vec![panel(
            vec![series("a", &[(0.0, Some(1.0)), (60.0, Some(2.0))])],
            None,
        )],
        vec![],
    );
    let svg = single.svg().unwrap();
    assert!(!svg.contains("interval of the mean") && !svg.contains("<polygon"));
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
