//! The report charts: every chart renders to well-formed SVG carrying its title and to a PNG
//! of the stated size whose title was rasterized from the bundled font; equal input gives
//! equal bytes; missing values break lines and show as "n/a"; degenerate input (nothing, one
//! point, all missing, zero capacity, non-finite numbers) renders without panicking.
//!
//! `cargo test --test charts -- --ignored` also writes the sample charts to
//! `$CHARTS_SAMPLE_DIR` (default: the system temp folder) for a look by eye.

use hybridsim::report::charts::{
    Chart, CostChart, CostPoint, IncidentRecovery, IncidentWindow, LatencyChart, LatencyPoint,
    PolicyRecovery, PoolUtilization, RecoveryChart, ServiceLatency, UtilizationChart, UtilizationPoint,
};

const HOUR: f64 = 3600.0;

// ---------------------------------------------------------------------------------------------
// Sample data: a day with a regional outage and a spot price spike.

fn incidents() -> Vec<IncidentWindow> {
    vec![
        IncidentWindow {
            label: "eu-west outage".into(),
            start_s: 6.0 * HOUR,
            end_s: 7.5 * HOUR,
        },
        IncidentWindow {
            label: "spot price spike".into(),
            start_s: 15.0 * HOUR,
            end_s: 16.0 * HOUR,
        },
        IncidentWindow {
            label: "backhaul loss".into(),
            start_s: 16.25 * HOUR,
            end_s: 16.75 * HOUR,
        },
    ]
}

/// A deterministic wobble in [-1, 1], so sample lines look measured rather than drawn.
fn wobble(i: usize) -> f64 {
    let x = (i as f64 * 12.9898).sin() * 43_758.545;
    2.0 * (x - x.floor()) - 1.0
}

fn service(name: &str, base_ms: f64, slo_ms: f64) -> ServiceLatency {
    let points = (0..=288)
        .map(|i| {
            let t_s = i as f64 * 300.0;
            let h = t_s / HOUR;
            let daily = 1.0 + 0.35 * ((h - 8.0) / 24.0 * std::f64::consts::TAU).sin().max(0.0);
            let p50 = base_ms * daily * (1.0 + 0.04 * wobble(i));
            let surge = if (6.0..7.9).contains(&h) {
                1.0 + 3.0 * (1.0 - (h - 6.0) / 1.9)
            } else {
                1.0
            };
            let down = (6.2..6.6).contains(&h);
            let value = |v: f64| (!down).then_some(v);
            LatencyPoint {
                t_s,
                p50_ms: value(p50 * surge.sqrt()),
                p95_ms: value(p50 * 1.9 * surge * (1.0 + 0.06 * wobble(i + 1000))),
                p99_ms: value(p50 * 2.8 * surge * (1.0 + 0.1 * wobble(i + 2000))),
            }
        })
        .collect();
    ServiceLatency {
        service: name.into(),
        slo_ms: Some(slo_ms),
        points,
    }
}

fn latency() -> LatencyChart {
    LatencyChart {
        services: vec![service("chat", 180.0, 900.0), service("embed", 35.0, 150.0)],
        incidents: incidents(),
    }
}

fn cost() -> CostChart {
    let mut totals = ([0.0; 5], [0.0; 4]);
    let points = (0..=96)
        .map(|i| {
            let t_s = i as f64 * 900.0;
            let h = t_s / HOUR;
            let burst = if (6.0..8.0).contains(&h) { 3.0 } else { 1.0 };
            let spot_price = if (15.0..16.0).contains(&h) { 4.0 } else { 1.0 };
            let step_h = if i == 0 { 0.0 } else { 0.25 };
            let (reserved, idle) = (64.0 * 2.1 * 0.7 * step_h, 64.0 * 2.1 * 0.3 * step_h);
            let on_demand = 8.0 * burst * 4.2 * step_h;
            let spot = 16.0 * 1.1 * spot_price * step_h;
            let owned = 32.0 * 1.4 * step_h;
            let add = [
                reserved + on_demand + spot + owned,
                idle,
                3.5 * step_h * burst,
                0.8 * step_h,
                1.2 * step_h,
            ];
            for (t, a) in totals.0.iter_mut().zip(add) {
                *t += a;
            }
            for (t, a) in totals.1.iter_mut().zip([reserved + idle, owned, on_demand, spot]) {
                *t += a;
            }
            CostPoint {
                t_s,
                by_category: totals.0,
                by_tier: totals.1,
            }
        })
        .collect();
    CostChart {
        points,
        incidents: incidents(),
    }
}

fn recovery() -> RecoveryChart {
    let rec = |incident: &str, d: Option<f64>, r: Option<f64>, b: Option<f64>| IncidentRecovery {
        incident: incident.into(),
        time_to_detect_s: d,
        time_to_recover_s: r,
        backlog_drain_s: b,
    };
    RecoveryChart {
        policies: vec![
            PolicyRecovery {
                policy: "cost-first".into(),
                incidents: vec![
                    rec("eu-west outage", Some(45.0), Some(2460.0), Some(900.0)),
                    rec("spot price spike", Some(120.0), Some(600.0), None),
                    rec("backhaul loss", Some(30.0), None, Some(300.0)),
                ],
            },
            PolicyRecovery {
                policy: "latency-first".into(),
                incidents: vec![
                    rec("eu-west outage", Some(45.0), Some(840.0), Some(420.0)),
                    rec("spot price spike", Some(120.0), Some(240.0), Some(60.0)),
                    rec("backhaul loss", Some(30.0), Some(510.0), Some(180.0)),
                ],
            },
        ],
    }
}

fn pool(name: &str, capacity: [f64; 4], usage: impl Fn(f64) -> [f64; 4]) -> PoolUtilization {
    let points = (0..=96)
        .map(|i| {
            let t_s = i as f64 * 900.0;
            let h = t_s / HOUR;
            let mut cap = capacity;
            if (6.0..7.5).contains(&h) && name.starts_with("fra") {
                cap[0] = 0.0;
            }
            let want = usage(h);
            let in_use = std::array::from_fn(|t| want[t].min(cap[t]).round());
            UtilizationPoint {
                t_s,
                in_use,
                capacity: cap,
            }
        })
        .collect();
    PoolUtilization {
        pool: name.into(),
        points,
    }
}

fn utilization() -> UtilizationChart {
    let daily = |h: f64| 0.6 + 0.3 * ((h - 8.0) / 24.0 * std::f64::consts::TAU).sin();
    UtilizationChart {
        pools: vec![
            pool("fra-h100", [64.0, 0.0, 32.0, 16.0], move |h| {
                let burst = if (6.0..8.0).contains(&h) {
                    24.0
                } else {
                    6.0 * daily(h)
                };
                [
                    64.0 * daily(h),
                    0.0,
                    burst,
                    if (15.0..16.0).contains(&h) { 2.0 } else { 12.0 },
                ]
            }),
            pool("onprem-a100", [0.0, 32.0, 0.0, 0.0], move |h| {
                [0.0, 32.0 * daily(h) + 4.0, 0.0, 0.0]
            }),
        ],
        incidents: incidents(),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// The text of every `<text>` element of an SVG document, which must parse as XML.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("SVG is not well-formed XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// Decodes a PNG into its size and RGB pixels.
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Dark pixels (text ink) in a rectangle of an RGB image.
fn dark_pixels(width: u32, rgb: &[u8], xs: std::ops::Range<u32>, ys: std::ops::Range<u32>) -> usize {
    let mut n = 0;
    for y in ys {
        for x in xs.clone() {
            let i = ((y * width + x) * 3) as usize;
            if rgb[i..i + 3].iter().all(|&c| c < 110) {
                n += 1;
            }
        }
    }
    n
}

/// Every check that applies to any chart: well-formed SVG with the title and `texts`, a PNG
/// of the stated size with the title inked, and the same bytes twice.
fn check<C: Chart>(chart: &C, texts: &[&str]) {
    let svg = chart.svg().expect("SVG renders");
    let found = svg_texts(&svg);
    for want in std::iter::once(&C::TITLE).chain(texts) {
        assert!(
            found.iter().any(|t| t == want),
            "{}: no text {want:?} in {found:?}",
            C::NAME
        );
    }
    let png = chart.png().expect("PNG renders");
    let (width, height, rgb) = decode_png(&png);
    assert_eq!((width, height), chart.size(), "{}", C::NAME);
    // The title sits in the top-left band; its glyphs must have been drawn, which needs the
    // bundled font (there is no fallback: plotters fails on a missing font).
    let ink = dark_pixels(width, &rgb, 0..400, 0..44);
    assert!(
        ink > 200,
        "{}: only {ink} dark pixels where the title should be",
        C::NAME
    );
    assert_eq!(
        chart.svg().expect("SVG renders"),
        svg,
        "{}: SVG differs between runs",
        C::NAME
    );
    assert_eq!(
        chart.png().expect("PNG renders"),
        png,
        "{}: PNG differs between runs",
        C::NAME
    );
}

#[test]
fn latency_chart_renders() {
    check(
        &latency(),
        &[
            "chat: end-to-end latency",
            "embed: end-to-end latency",
            "latency (ms)",
            "time (h)",
            "eu-west outage",
            "SLO 900 ms",
        ],
    );
}

#[test]
fn cost_chart_renders() {
    check(
        &cost(),
        &[
            "cumulative cost (USD)",
            "compute",
            "idle reserved",
            "on-demand",
            "spot price spike",
        ],
    );
}

#[test]
fn recovery_chart_renders() {
    check(
        &recovery(),
        &[
            "time to detect",
            "cost-first",
            "latency-first",
            "eu-west outage",
            "n/a",
        ],
    );
}

#[test]
fn utilization_chart_renders() {
    check(
        &utilization(),
        &[
            "fra-h100: GPUs in use vs capacity",
            "onprem-a100: GPUs in use vs capacity",
            "GPUs",
            "capacity",
            "backhaul loss",
        ],
    );
}

#[test]
fn equal_input_gives_equal_bytes_across_clones() {
    let (a, b) = (latency(), latency().clone());
    assert_eq!(a.svg().unwrap(), b.svg().unwrap());
    assert_eq!(a.png().unwrap(), b.png().unwrap());
    // ...and different input gives different bytes, so the check above is not vacuous.
    let mut c = latency();
    c.incidents.pop();
    assert_ne!(a.svg().unwrap(), c.svg().unwrap());
    assert_ne!(a.png().unwrap(), c.png().unwrap());
}

/// Polylines drawn in a colour (plotters writes paths as `<polyline stroke="#RRGGBB">`).
fn polylines_in(svg: &str, color: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(color))
        .count()
}

#[test]
fn a_missing_window_breaks_the_line() {
    let p = |t_s: f64, v: Option<f64>| LatencyPoint {
        t_s,
        p50_ms: v,
        p95_ms: None,
        p99_ms: None,
    };
    let chart = |points| LatencyChart {
        services: vec![ServiceLatency {
            service: "chat".into(),
            slo_ms: None,
            points,
        }],
        incidents: vec![],
    };
    let p50 = "#4E79A7";
    // The legend's p50 sample is a polyline of the same colour: compare counts, not totals.
    let whole = chart(vec![
        p(0.0, Some(1.0)),
        p(60.0, Some(2.0)),
        p(120.0, Some(3.0)),
        p(180.0, Some(2.0)),
    ]);
    let broken = chart(vec![
        p(0.0, Some(1.0)),
        p(60.0, Some(2.0)),
        p(120.0, None),
        p(180.0, Some(2.0)),
        p(240.0, Some(1.0)),
    ]);
    let (whole, broken) = (
        polylines_in(&whole.svg().unwrap(), p50),
        polylines_in(&broken.svg().unwrap(), p50),
    );
    assert!(whole >= 1, "the p50 line is drawn");
    assert_eq!(broken, whole + 1, "the gap splits the line in two");
}

/// Renders both formats and returns the SVG's texts.
fn renders<C: Chart>(chart: &C) -> Vec<String> {
    let svg = chart.svg().unwrap_or_else(|e| panic!("{}: {e}", C::NAME));
    let png = chart.png().unwrap_or_else(|e| panic!("{}: {e}", C::NAME));
    let (w, h, _) = decode_png(&png);
    assert_eq!((w, h), chart.size());
    svg_texts(&svg)
}

fn says_no_data(texts: &[String]) -> bool {
    texts.iter().any(|t| t == "no data")
}

#[test]
fn empty_charts_say_there_is_no_data() {
    assert!(says_no_data(&renders(&LatencyChart::default())));
    assert!(says_no_data(&renders(&CostChart::default())));
    assert!(says_no_data(&renders(&RecoveryChart::default())));
    assert!(says_no_data(&renders(&UtilizationChart::default())));
}

#[test]
fn degenerate_latency_input_does_not_panic() {
    let p = |t_s: f64, v: Option<f64>| LatencyPoint {
        t_s,
        p50_ms: v,
        p95_ms: v,
        p99_ms: v,
    };
    let svc = |name: &str, slo_ms, points| ServiceLatency {
        service: name.into(),
        slo_ms,
        points,
    };
    let weird = vec![
        IncidentWindow {
            label: "backwards".into(),
            start_s: 500.0,
            end_s: 100.0,
        },
        IncidentWindow {
            label: "far away".into(),
            start_s: 1e9,
            end_s: 2e9,
        },
        IncidentWindow {
            label: "nan".into(),
            start_s: f64::NAN,
            end_s: 1.0,
        },
        IncidentWindow {
            label: "instant".into(),
            start_s: 60.0,
            end_s: 60.0,
        },
    ];
    let chart = LatencyChart {
        services: vec![
            svc("no points", Some(100.0), vec![]),
            svc("all missing", None, vec![p(0.0, None), p(60.0, None)]),
            svc("one point", Some(f64::NAN), vec![p(30.0, Some(12.0))]),
            svc(
                "non-finite",
                Some(-5.0),
                vec![
                    p(f64::NAN, Some(1.0)),
                    p(0.0, Some(f64::INFINITY)),
                    p(90.0, Some(0.0)),
                ],
            ),
        ],
        incidents: weird,
    };
    let texts = renders(&chart);
    assert!(says_no_data(&texts));
    assert!(texts.iter().any(|t| t == "one point: end-to-end latency"));
    let single = LatencyChart {
        services: vec![svc("x", None, vec![p(0.0, Some(5.0))])],
        incidents: vec![],
    };
    assert!(!says_no_data(&renders(&single)));
}

#[test]
fn degenerate_cost_input_does_not_panic() {
    let point = |t_s, v| CostPoint {
        t_s,
        by_category: [v; 5],
        by_tier: [v; 4],
    };
    renders(&CostChart {
        points: vec![point(100.0, 5.0)],
        incidents: incidents(),
    });
    renders(&CostChart {
        points: vec![point(0.0, 0.0), point(60.0, 0.0)],
        incidents: vec![],
    });
    renders(&CostChart {
        points: vec![
            point(f64::NAN, 1.0),
            point(0.0, f64::INFINITY),
            point(60.0, -3.0),
            point(30.0, 1e12),
        ],
        incidents: vec![],
    });
}

#[test]
fn degenerate_recovery_input_does_not_panic() {
    let none = IncidentRecovery {
        incident: "x".into(),
        time_to_detect_s: None,
        time_to_recover_s: None,
        backlog_drain_s: None,
    };
    let all_missing = RecoveryChart {
        policies: vec![PolicyRecovery {
            policy: "p".into(),
            incidents: vec![none.clone()],
        }],
    };
    assert!(renders(&all_missing).iter().filter(|t| *t == "n/a").count() >= 3);
    let no_incidents = RecoveryChart {
        policies: vec![PolicyRecovery {
            policy: "p".into(),
            incidents: vec![],
        }],
    };
    assert!(says_no_data(&renders(&no_incidents)));
    let odd = IncidentRecovery {
        time_to_detect_s: Some(f64::NAN),
        time_to_recover_s: Some(-1.0),
        ..none
    };
    let many_policies = (0..14)
        .map(|i| PolicyRecovery {
            policy: format!("policy {i}"),
            incidents: vec![odd.clone()],
        })
        .collect();
    renders(&RecoveryChart {
        policies: many_policies,
    });
}

#[test]
fn degenerate_utilization_input_does_not_panic() {
    let point = |t_s, in_use, capacity| UtilizationPoint {
        t_s,
        in_use,
        capacity,
    };
    let pool = |name: &str, points| PoolUtilization {
        pool: name.into(),
        points,
    };
    let chart = UtilizationChart {
        pools: vec![
            pool(
                "zero capacity",
                vec![point(0.0, [0.0; 4], [0.0; 4]), point(60.0, [0.0; 4], [0.0; 4])],
            ),
            pool(
                "single",
                vec![point(30.0, [1.0, 0.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0])],
            ),
            pool("empty", vec![]),
            pool(
                "non-finite",
                vec![
                    point(f64::NAN, [1.0; 4], [1.0; 4]),
                    point(10.0, [f64::NAN; 4], [-2.0; 4]),
                ],
            ),
        ],
        incidents: incidents(),
    };
    assert!(says_no_data(&renders(&chart)));
}

#[test]
#[ignore = "writes sample charts for a look by eye"]
fn write_samples() {
    let dir = std::env::var_os("CHARTS_SAMPLE_DIR").map_or_else(std::env::temp_dir, Into::into);
    std::fs::create_dir_all(&dir).expect("sample folder");
    fn write<C: Chart>(dir: &std::path::Path, chart: &C) {
        std::fs::write(dir.join(format!("{}.svg", C::NAME)), chart.svg().expect("SVG")).expect("write SVG");
        std::fs::write(dir.join(format!("{}.png", C::NAME)), chart.png().expect("PNG")).expect("write PNG");
    }
    write(&dir, &latency());
    write(&dir, &cost());
    write(&dir, &recovery());
    write(&dir, &utilization());
}
