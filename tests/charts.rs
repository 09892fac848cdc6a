//! The report charts: every chart renders to well-formed SVG carrying its title and to a PNG
//! of the stated size whose title was rasterized from the bundled font; equal input gives
//! equal bytes; missing values break lines and show as "n/a"; degenerate input (nothing, one
//! point, all missing, zero capacity, non-finite numbers) renders without panicking.
//!
//! `cargo test --test charts -- --ignored` also writes the sample charts to
//! `$CHARTS_SAMPLE_DIR` (default: the system temp folder) for a look by eye.

use hybridsim::report::charts::{
    Chart, CostChart, CostPoint, CostRunsChart, IncidentRecovery, IncidentWindow, LatencyChart, LatencyPoint,
    LatencyRunsChart, PolicyRecovery, PoolUtilization, RecoveryChart, RequestPoint, RequestRateChart,
    RunGroup, RunSeries, RunsChart, RunsPanel, ServiceLatency, ServiceRequests, UtilizationChart,
    UtilizationPoint, UtilizationRunsChart,
};
use hybridsim::report::figures::RunCurves;
use hybridsim::world::RunOutcome;

const HOUR: f64 = 3600.0;

// ---------------------------------------------------------------------------------------------
// Sample data: a day with a regional outage and a spot price spike.

fn incidents() -> Vec<IncidentWindow> {
    vec![
        IncidentWindow {
            label: "eu-west outage".into(),
            start_s: 6.0 * HOUR,
            end_s: 7.5 * HOUR,
            services: None,
        },
        IncidentWindow {
            label: "spot price spike".into(),
            start_s: 15.0 * HOUR,
            end_s: 16.0 * HOUR,
            services: None,
        },
        IncidentWindow {
            label: "backhaul loss".into(),
            start_s: 16.25 * HOUR,
            end_s: 16.75 * HOUR,
            services: None,
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
        omitted: 0,
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
                intervals: Vec::new(),
            },
            PolicyRecovery {
                policy: "latency-first".into(),
                incidents: vec![
                    rec("eu-west outage", Some(45.0), Some(840.0), Some(420.0)),
                    rec("spot price spike", Some(120.0), Some(240.0), Some(60.0)),
                    rec("backhaul loss", Some(30.0), Some(510.0), Some(180.0)),
                ],
                intervals: Vec::new(),
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
        omitted: 0,
    }
}

/// Three runs of the sample day, one panel per service: the second run is twice as slow, the
/// third runs only "chat" (its "embed" series is empty, so its colour stays its own).
fn latency_runs() -> LatencyRunsChart {
    let runs = ["cost-first", "latency-first", "chat only"];
    let panel = |name: &str, base_ms: f64, slo_ms: f64| {
        let p99 = |scale: f64| {
            service(name, base_ms * scale, slo_ms)
                .points
                .iter()
                .map(|p| (p.t_s, p.p99_ms))
                .collect()
        };
        let series = [Some(p99(1.0)), Some(p99(2.0)), (name == "chat").then(|| p99(0.5))];
        RunsPanel {
            caption: format!("{name}: p99 end-to-end latency"),
            unit: "ms".into(),
            reference: Some(("SLO target".into(), slo_ms)),
            series: runs
                .iter()
                .zip(series)
                .map(|(run, points)| RunSeries {
                    label: run.to_string(),
                    points: points.unwrap_or_default(),
                })
                .collect(),
        }
    };
    LatencyRunsChart::new(
        runs.map(String::from).to_vec(),
        vec![panel("chat", 180.0, 900.0), panel("embed", 35.0, 150.0)],
        incidents(),
    )
}

/// One panel of `unit` with a series per run from `values(run, i)` over a day in 15 minutes.
fn runs_panel(caption: &str, unit: &str, runs: &[&str], values: impl Fn(usize, usize) -> f64) -> RunsPanel {
    RunsPanel {
        caption: caption.into(),
        unit: unit.into(),
        reference: None,
        series: runs
            .iter()
            .enumerate()
            .map(|(r, run)| RunSeries {
                label: run.to_string(),
                points: (0..=96).map(|i| (i as f64 * 900.0, Some(values(r, i)))).collect(),
            })
            .collect(),
    }
}

fn cost_runs() -> CostRunsChart {
    let runs = ["cost-first", "latency-first"];
    let rate = [180.0, 260.0];
    CostRunsChart::new(
        runs.map(String::from).to_vec(),
        vec![
            runs_panel("total: cumulative cost", "USD", &runs, |r, i| {
                rate[r] * i as f64 / 4.0
            }),
            runs_panel("egress: cumulative cost", "USD", &runs, |r, i| {
                (r + 1) as f64 * i as f64
            }),
        ],
        incidents(),
    )
}

fn utilization_runs() -> UtilizationRunsChart {
    let runs = ["cost-first", "latency-first"];
    UtilizationRunsChart::new(
        runs.map(String::from).to_vec(),
        vec![
            runs_panel("fra-h100: GPUs in use", "GPUs", &runs, |r, i| {
                (40.0 + 20.0 * wobble(i) + 16.0 * r as f64).round()
            }),
            runs_panel("onprem-a100: GPUs in use", "GPUs", &runs, |r, i| {
                (20.0 + 8.0 * wobble(i + 500) - 8.0 * r as f64).round()
            }),
        ],
        Vec::new(),
    )
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
            "idle owned/reserved",
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
            "fra-h100: GPUs in use; 64 owned/reserved, burst limit 112 (above the axis)",
            "onprem-a100: GPUs in use; 32 owned/reserved",
            "GPUs",
            "idle owned/reserved",
            "owned/reserved capacity",
            "burst limit (+ on-demand, spot)",
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
        omitted: 0,
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

/// Two services over the sample day: "chat" follows the day and loses requests to its
/// fallback and to failures during the outage; "embed" is flat.
fn requests() -> RequestRateChart {
    let day = |h: f64| 40.0 + 30.0 * ((h - 8.0) / 24.0 * std::f64::consts::TAU).sin();
    let service = |name: &str, rate: &dyn Fn(f64) -> f64, lossy: bool| ServiceRequests {
        service: name.into(),
        points: (1..=96)
            .map(|q| {
                let h = q as f64 / 4.0;
                let outage = lossy && (10.0..12.0).contains(&h);
                RequestPoint {
                    t_s: h * HOUR,
                    arrived_per_s: rate(h),
                    degraded_per_s: if outage { rate(h) * 0.3 } else { 0.0 },
                    failed_per_s: if outage { rate(h) * 0.1 } else { 0.0 },
                }
            })
            .collect(),
    };
    RequestRateChart {
        services: vec![service("chat", &day, true), service("embed", &|_| 12.0, false)],
        incidents: incidents(),
        omitted: 0,
    }
}

#[test]
fn request_rate_chart_renders() {
    check(
        &requests(),
        &[
            "chat: requests per second",
            "embed: requests per second",
            "requests/s",
            "arrived",
            "answered by the fallback",
            "failed",
            "eu-west outage",
        ],
    );
}

/// A panel per service shades only the incidents that affect its service; one whose services
/// are not known is shaded on every panel.
#[test]
fn per_service_panels_shade_the_incidents_of_their_service() {
    let labels = |chart_incidents: Vec<IncidentWindow>, label: &str| {
        let latency = LatencyChart {
            incidents: chart_incidents.clone(),
            ..latency()
        };
        let rates = RequestRateChart {
            incidents: chart_incidents,
            ..requests()
        };
        let count = |texts: Vec<String>| texts.iter().filter(|t| *t == label).count();
        (count(renders(&latency)), count(renders(&rates)))
    };
    let outage = |services: Option<Vec<String>>| {
        vec![IncidentWindow {
            services,
            ..incidents()[0].clone()
        }]
    };
    let everywhere = labels(outage(None), "eu-west outage");
    assert_eq!(everywhere, (latency().services.len(), requests().services.len()));
    assert_eq!(
        labels(outage(Some(vec!["chat".into()])), "eu-west outage"),
        (1, 1)
    );
    assert_eq!(labels(outage(Some(vec![])), "eu-west outage"), (0, 0));
}

#[test]
fn degenerate_request_rate_input_does_not_panic() {
    let p = |t_s: f64, v: f64| RequestPoint {
        t_s,
        arrived_per_s: v,
        degraded_per_s: v,
        failed_per_s: -v,
    };
    let svc = |name: &str, points| ServiceRequests {
        service: name.into(),
        points,
    };
    let chart = RequestRateChart {
        services: vec![
            svc("no points", vec![]),
            svc("one point", vec![p(30.0, 2.0)]),
            svc(
                "non-finite",
                vec![p(f64::NAN, 1.0), p(0.0, f64::INFINITY), p(90.0, f64::NAN)],
            ),
        ],
        incidents: incidents(),
        omitted: 0,
    };
    let texts = renders(&chart);
    assert!(says_no_data(&texts));
    assert!(texts.iter().any(|t| t == "one point: requests per second"));
    assert!(says_no_data(&renders(&RequestRateChart::default())));
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
            services: None,
        },
        IncidentWindow {
            label: "far away".into(),
            start_s: 1e9,
            end_s: 2e9,
            services: None,
        },
        IncidentWindow {
            label: "nan".into(),
            start_s: f64::NAN,
            end_s: 1.0,
            services: None,
        },
        IncidentWindow {
            label: "instant".into(),
            start_s: 60.0,
            end_s: 60.0,
            services: None,
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
        omitted: 0,
    };
    let texts = renders(&chart);
    assert!(says_no_data(&texts));
    assert!(texts.iter().any(|t| t == "one point: end-to-end latency"));
    let single = LatencyChart {
        services: vec![svc("x", None, vec![p(0.0, Some(5.0))])],
        incidents: vec![],
        omitted: 0,
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
            intervals: Vec::new(),
        }],
    };
    assert!(renders(&all_missing).iter().filter(|t| *t == "n/a").count() >= 3);
    let no_incidents = RecoveryChart {
        policies: vec![PolicyRecovery {
            policy: "p".into(),
            incidents: vec![],
            intervals: Vec::new(),
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
            intervals: Vec::new(),
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
        omitted: 0,
    };
    assert!(says_no_data(&renders(&chart)));
}

#[test]
fn runs_charts_render() {
    check(
        &latency_runs(),
        &[
            "chat: p99 end-to-end latency",
            "embed: p99 end-to-end latency",
            "cost-first",
            "latency-first",
            "chat only",
            "SLO target",
            "SLO target 900 ms",
            "incident",
            "eu-west outage",
            "ms",
            "time (h)",
        ],
    );
    check(
        &cost_runs(),
        &[
            "total: cumulative cost",
            "egress: cumulative cost",
            "USD",
            "cost-first",
            "spot price spike",
        ],
    );
    check(
        &utilization_runs(),
        &[
            "fra-h100: GPUs in use",
            "onprem-a100: GPUs in use",
            "GPUs",
            "latency-first",
        ],
    );
    assert_eq!(LatencyRunsChart::NAME, "latency");
    assert_eq!(CostRunsChart::NAME, "cost");
    assert_eq!(UtilizationRunsChart::NAME, "utilization");
}

#[test]
fn each_run_keeps_its_colour_when_another_has_no_values() {
    let (first, second) = ("#4E79A7", "#F28E2B");
    let chart = |a: Vec<(f64, Option<f64>)>| {
        let series = |label: &str, points| RunSeries {
            label: label.into(),
            points,
        };
        let b = vec![(0.0, Some(2.0)), (60.0, Some(3.0))];
        LatencyRunsChart::new(
            vec!["a".into(), "b".into()],
            vec![RunsPanel {
                caption: "chat".into(),
                unit: "ms".into(),
                reference: None,
                series: vec![series("a", a), series("b", b)],
            }],
            Vec::new(),
        )
    };
    // Each run has a polyline in its colour in the legend; a run with values has one more.
    let without_a = chart(Vec::new()).svg().unwrap();
    assert_eq!(polylines_in(&without_a, first), 1, "run a: legend only");
    assert_eq!(
        polylines_in(&without_a, second),
        2,
        "run b keeps the second colour"
    );
    let with_a = chart(vec![(0.0, Some(1.0)), (60.0, Some(1.5))]).svg().unwrap();
    assert_eq!(polylines_in(&with_a, first), 2);
}

/// The numbers among an SVG's texts.
fn numbers(texts: &[String]) -> Vec<f64> {
    texts.iter().filter_map(|t| t.parse::<f64>().ok()).collect()
}

#[test]
fn the_y_axis_covers_the_largest_run() {
    // Ten minutes, so the x tick labels stay at 10 or below: larger numbers are y ticks.
    let series = |label: &str, peak: f64| RunSeries {
        label: label.into(),
        points: (0..=10)
            .map(|i| (i as f64 * 60.0, Some(peak * i as f64 / 10.0)))
            .collect(),
    };
    let chart = |series: Vec<RunSeries>| {
        let runs = series.iter().map(|s| s.label.clone()).collect();
        UtilizationRunsChart::new(
            runs,
            vec![RunsPanel {
                caption: "pool".into(),
                unit: "GPUs".into(),
                reference: None,
                series,
            }],
            Vec::new(),
        )
    };
    let small_only = numbers(&renders(&chart(vec![series("small", 40.0)])));
    let top = small_only.iter().copied().fold(0.0, f64::max);
    assert!((40.0..100.0).contains(&top), "ticks {small_only:?}");
    let both = numbers(&renders(&chart(vec![
        series("small", 40.0),
        series("large", 1000.0),
    ])));
    let top = both.iter().copied().fold(0.0, f64::max);
    assert!(
        top >= 1000.0,
        "the large run's peak is on the axis: ticks {both:?}"
    );
}

#[test]
fn empty_runs_charts_say_there_is_no_data() {
    assert!(says_no_data(&renders(&LatencyRunsChart::default())));
    assert!(says_no_data(&renders(&CostRunsChart::default())));
    assert!(says_no_data(&renders(&UtilizationRunsChart::default())));
    let odd = |points: Vec<(f64, Option<f64>)>| RunsPanel {
        caption: "odd".into(),
        unit: "ms".into(),
        reference: Some(("SLO target".into(), f64::NAN)),
        series: vec![RunSeries {
            label: "a".into(),
            points,
        }],
    };
    let chart = LatencyRunsChart::new(
        vec!["a".into(), "b".into()],
        vec![
            odd(Vec::new()),
            odd(vec![
                (0.0, None),
                (f64::NAN, Some(1.0)),
                (60.0, Some(f64::INFINITY)),
            ]),
            odd(vec![(30.0, Some(12.0))]),
        ],
        incidents(),
    );
    let texts = renders(&chart);
    assert_eq!(texts.iter().filter(|t| *t == "no data").count(), 2, "{texts:?}");
    // No runs but a panel, and runs but no panels.
    let no_runs = CostRunsChart::new(Vec::new(), vec![odd(Vec::new())], Vec::new());
    assert!(says_no_data(&renders(&no_runs)));
    let no_panels = CostRunsChart::new(vec!["a".into()], Vec::new(), Vec::new());
    assert!(says_no_data(&renders(&no_panels)));
}

/// Every `<text>` of an SVG document with its y coordinate, and the document's height.
fn texts_with_y(svg: &str) -> (Vec<(String, f64)>, f64) {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let height: f64 = doc.root_element().attribute("height").unwrap().parse().unwrap();
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let y: f64 = n.attribute("y").unwrap().parse().unwrap();
            (n.text().unwrap_or("").trim().to_string(), y)
        })
        .collect();
    (texts, height)
}

/// Asserts that each of `labels` is the whole text of a `<text>` of `chart`, drawn on the canvas.
fn every_label_whole_on_the_canvas<C: Chart>(chart: &C, labels: &[String]) {
    let (texts, height) = texts_with_y(&chart.svg().unwrap());
    assert_eq!(height, f64::from(chart.size().1));
    for label in labels {
        let (_, y) = texts
            .iter()
            .find(|(text, _)| text == label)
            .unwrap_or_else(|| panic!("{label:?} is not among {texts:?}"));
        assert!(
            *y > 0.0 && *y < height,
            "{label}: y = {y} on a canvas {height} tall"
        );
    }
}

#[test]
fn many_runs_get_a_taller_legend_that_stays_on_the_canvas() {
    let labels: Vec<String> = (0..9)
        .map(|i| format!("quickstart / lowest_latency / seed {i} with a very long label"))
        .collect();
    let chart: RunsChart<_> = CostRunsChart::new(labels.clone(), Vec::new(), Vec::new());
    assert!(chart.size().1 > CostRunsChart::default().size().1);
    every_label_whole_on_the_canvas(&chart, &labels);
}

#[test]
fn fifteen_runs_keep_every_label_whole_on_the_canvas() {
    let labels: Vec<String> = (1..=15)
        .map(|seed| format!("eu-outage-dual.cheapest.seed-{seed}"))
        .collect();
    let runs: Vec<&str> = labels.iter().map(String::as_str).collect();
    // More runs than colours: small multiples, each captioned with its run.
    let latency = LatencyRunsChart::new(
        labels.clone(),
        vec![runs_panel("chat: p99", "ms", &runs, |r, w| (r + w) as f64)],
        incidents(),
    );
    every_label_whole_on_the_canvas(&latency, &labels);
    // The recovery chart's legend: a bar colour per run, every one named.
    let many = RecoveryChart {
        policies: labels
            .iter()
            .map(|label| PolicyRecovery {
                policy: label.clone(),
                incidents: recovery().policies[0].incidents.clone(),
                intervals: Vec::new(),
            })
            .collect(),
    };
    every_label_whole_on_the_canvas(&many, &labels);
    assert!(many.size().1 > recovery().size().1, "the legend takes more rows");
    let svg = many.svg().unwrap();
    let mut fills: Vec<&str> = svg
        .split("fill=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|colour| colour.starts_with('#') && *colour != "#FFFFFF")
        .collect();
    fills.sort_unstable();
    fills.dedup();
    assert!(
        fills.len() >= 15,
        "a colour of its own for each of 15 runs: {fills:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Comparison charts of real runs.

/// `scenarios/quickstart.ron` cut to its first two hours, before its outage, under the built-in
/// policy `policy`.
fn quickstart(policy: &str) -> RunOutcome {
    let mut scenario =
        hybridsim::scenario::load("scenarios/quickstart.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    scenario.spec.horizon = "2h".parse().expect("a duration");
    scenario.spec.incidents.clear();
    let policy = hybridsim::policy::built_in(
        policy,
        &scenario.spec.policies,
        &scenario.resolve().unwrap().names().sites,
        &scenario.resolve().unwrap().names().services,
    )
    .expect("built in");
    hybridsim::world::simulate_with(&scenario.resolve().unwrap(), scenario.spec.seed, policy)
        .expect("the run")
}

/// A one-hour scenario with one service ("svc"), one pool ("dc/ref") and a capacity shock.
const SMALL: &str = r#"(
    name: "small",
    horizon: "1h",
    seed: 3,
    metrics: (window: "1m"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "ref", reserved: (count: 2, price: "1 USD/h"))],
    services: [(
        name: "svc",
        model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 1),
        service_time: deterministic(time: "100ms"),
        replicas: [(pool: "dc/ref", tier: reserved, count: 2)],
        demand: [(origin: "dc", arrivals: poisson(rate: "5/s"))],
        slo: (percentile: 99.0, latency: "1s"),
        timeout: "30s",
        queue_limit: 1000,
    )],
    incidents: [
        (name: "shock", start: "20m", duration: "10m",
         kind: capacity_shock(pool: "dc/ref", tier: reserved, to: count(1))),
    ],
)
"#;

/// A run of [`SMALL`] with `seed`.
fn small(seed: u64) -> RunOutcome {
    let dir = tempfile::tempdir().expect("a temp folder");
    let path = dir.path().join("small.ron");
    std::fs::write(&path, SMALL).expect("the scenario file");
    let scenario = hybridsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    hybridsim::world::simulate(&scenario.resolve().unwrap(), seed).expect("the run")
}

fn captions<K>(chart: &RunsChart<K>) -> Vec<&str> {
    chart.panels.iter().map(|p| p.caption.as_str()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn runs_charts_of_two_real_runs() {
    let (a, b) = (quickstart("lowest_latency"), quickstart("cheapest"));
    let runs = [("lowest_latency", &a), ("cheapest", &b)];
    let (curves_a, curves_b) = (RunCurves::of(&a).unwrap(), RunCurves::of(&b).unwrap());
    let curves = [("lowest_latency", &curves_a), ("cheapest", &curves_b)];
    let windows = 120;

    let latency = hybridsim::report::figures::latency_runs_chart(&curves);
    assert_eq!(latency.runs, ["lowest_latency", "cheapest"]);
    assert_eq!(
        captions(&latency),
        [
            "assistant: p99 end-to-end latency",
            "assistant-small: p99 end-to-end latency"
        ]
    );
    assert_eq!(latency.panels[0].reference, Some(("SLO target".into(), 8000.0)));
    assert_eq!(latency.panels[1].reference, None, "the fallback has no SLO");
    // The same p99 values as the run's own latency chart.
    let own = hybridsim::report::figures::latency_chart(&a).unwrap();
    let own_p99: Vec<(f64, Option<f64>)> = own.services[0].points.iter().map(|p| (p.t_s, p.p99_ms)).collect();
    assert_eq!(latency.panels[0].series[0].points, own_p99);
    for panel in &latency.panels {
        let labels: Vec<&str> = panel.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["lowest_latency", "cheapest"]);
    }
    let lens: Vec<usize> = latency.panels[0].series.iter().map(|s| s.points.len()).collect();
    assert_eq!(lens, [windows, windows], "a p99 per window");
    assert!(
        latency.panels[0]
            .series
            .iter()
            .all(|s| s.points.iter().any(|p| p.1.is_some()))
    );
    assert!(
        latency.incidents.is_empty(),
        "the first two hours have no incident"
    );

    let cost = hybridsim::report::figures::cost_runs_chart(&curves);
    assert_eq!(captions(&cost)[0], "total: cumulative cost");
    assert!(captions(&cost).contains(&"compute: cumulative cost"));
    assert!(captions(&cost).contains(&"idle owned/reserved: cumulative cost"));
    for ((_, outcome), series) in runs.iter().zip(&cost.panels[0].series) {
        let last = series.points.last().and_then(|p| p.1).expect("a total");
        assert!(close(last, outcome.summary.cost.total_usd), "{last}");
    }

    let utilization = hybridsim::report::figures::utilization_runs_chart(&curves);
    let pools: Vec<String> = a
        .record
        .estate
        .pools
        .iter()
        .map(|p| format!("{}: GPUs in use", p.name))
        .collect();
    assert_eq!(captions(&utilization), pools);
    for panel in &utilization.panels {
        assert_eq!(panel.series.len(), 2);
        // A sample per window, and the last repeated at the horizon.
        assert!(panel.series.iter().all(|s| s.points.len() == windows + 1));
    }
    let fra = &utilization.panels[0].series[0].points;
    assert!(
        fra.iter().any(|p| p.1 > Some(0.0)),
        "the assistant runs on Frankfurt's H100s"
    );

    check(
        &latency,
        &[
            "assistant: p99 end-to-end latency",
            "lowest_latency",
            "cheapest",
            "SLO target",
        ],
    );
    check(&cost, &["total: cumulative cost", "cheapest"]);
    check(&utilization, &["onprem-fra/H100: GPUs in use", "lowest_latency"]);

    let root = tempfile::tempdir().expect("a temp folder");
    let target = root.path().join("compare");
    let out = hybridsim::output::OutputDir::create(&target, &|_| {}).expect("the output folder");
    let summaries = [("lowest_latency", &a.summary), ("cheapest", &b.summary)];
    let groups = ["lowest_latency", "cheapest"].map(|label| RunGroup {
        label: label.into(),
        runs: vec![if label == "cheapest" { 1 } else { 0 }],
    });
    hybridsim::report::figures::write_runs_charts(&out, &curves, &summaries, &groups).expect("the charts");
    out.commit().expect("commit");
    for name in ["latency", "cost", "utilization", "recovery"] {
        for ext in ["svg", "png"] {
            let file = target.join(format!("{name}.{ext}"));
            assert!(
                std::fs::metadata(&file).is_ok_and(|m| m.len() > 0),
                "{}",
                file.display()
            );
        }
    }
    let written = std::fs::read_to_string(target.join("latency.svg")).expect("latency.svg");
    assert_eq!(written, latency.svg().expect("SVG"));
}

#[test]
fn runs_of_different_scenarios_share_panels_by_name_and_no_incidents() {
    let (quick, small_a, small_b) = (quickstart("lowest_latency"), small(3), small(4));
    let (quick_curves, a_curves, b_curves) = (
        RunCurves::of(&quick).unwrap(),
        RunCurves::of(&small_a).unwrap(),
        RunCurves::of(&small_b).unwrap(),
    );
    let mixed = [("quickstart", &quick_curves), ("small", &a_curves)];
    let latency = hybridsim::report::figures::latency_runs_chart(&mixed);
    assert_eq!(
        captions(&latency),
        [
            "assistant: p99 end-to-end latency",
            "assistant-small: p99 end-to-end latency",
            "svc: p99 end-to-end latency"
        ]
    );
    // A run without a service has an empty series in its panel, in its own place.
    assert!(latency.panels[0].series[1].points.is_empty());
    assert!(latency.panels[2].series[0].points.is_empty());
    assert!(!latency.panels[2].series[1].points.is_empty());
    assert_eq!(latency.panels[2].reference, Some(("SLO target".into(), 1000.0)));
    assert!(latency.incidents.is_empty(), "the runs' incidents differ");
    let utilization = hybridsim::report::figures::utilization_runs_chart(&mixed);
    assert_eq!(captions(&utilization).last(), Some(&"dc/ref: GPUs in use"));
    assert_eq!(utilization.panels.len(), quick.record.estate.pools.len() + 1);
    renders(&latency);
    renders(&utilization);

    // Two seeds of one scenario have the same incidents: they are shaded.
    let seeds = [("seed 3", &a_curves), ("seed 4", &b_curves)];
    let cost = hybridsim::report::figures::cost_runs_chart(&seeds);
    assert_eq!(cost.incidents.len(), 1);
    assert_eq!(cost.incidents[0].label, "shock");
    assert!(renders(&cost).iter().any(|t| t == "shock"));
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
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).expect("sample folder");
    write(&runs, &latency_runs());
    write(&runs, &cost_runs());
    write(&runs, &utilization_runs());
}

/// An estate with more services or pools than a chart draws keeps the highest-ranked, in their
/// own order, and says how many it left out; the chart's size stays bounded.
#[test]
fn charts_of_many_services_keep_the_highest_ranked_panels() {
    use hybridsim::report::charts::{MAX_PANELS, select_panels};
    let ranks: Vec<f64> = (0..MAX_PANELS + 6).map(|i| ((i * 7) % 30) as f64).collect();
    let (shown, omitted) = select_panels(&ranks);
    assert_eq!((shown.len(), omitted), (MAX_PANELS, 6));
    assert!(shown.windows(2).all(|w| w[0] < w[1]), "original order");
    let lowest_shown = shown.iter().map(|&i| ranks[i]).fold(f64::INFINITY, f64::min);
    let left_out = (0..ranks.len()).filter(|i| !shown.contains(i));
    assert!(left_out.into_iter().all(|i| ranks[i] <= lowest_shown));
    let few = select_panels(&[1.0, 3.0, 2.0]);
    assert_eq!(few, (vec![0, 1, 2], 0));
}

/// A long run's incidents do not grow its charts past a bound: 1,000 one-minute incidents
/// 86.4 s apart over the sample day (gaps far below a pixel, which is about 90 s here) merge
/// into one band per panel and none is labelled, while three are each drawn and labelled.
#[test]
fn many_incidents_merge_into_unlabelled_bands() {
    let shaded = |svg: &str| svg.matches("opacity=\"0.12\"").count();
    let few = utilization().svg().unwrap();
    // The legend's swatch, and a band per incident on each of two panels.
    assert_eq!(shaded(&few), 1 + 3 * 2);
    assert!(svg_texts(&few).iter().any(|t| t == "eu-west outage"));

    let many = UtilizationChart {
        incidents: (0..1_000)
            .map(|i| IncidentWindow {
                label: format!("incident {i}"),
                start_s: f64::from(i) * 86.4,
                end_s: f64::from(i) * 86.4 + 60.0,
                services: None,
            })
            .collect(),
        ..utilization()
    };
    let svg = many.svg().unwrap();
    assert!(!svg_texts(&svg).iter().any(|t| t.starts_with("incident ")));
    // Gaps of 26.4 s are far below a pixel: the day is one band per panel.
    assert_eq!(shaded(&svg), 1 + 2);
    assert!(
        svg.len() < few.len() * 2,
        "{} bytes against {}",
        svg.len(),
        few.len()
    );
}

/// The utilization chart a run's folder draws reads each panel's points back from disk; it must
/// draw exactly what the chart held in memory draws.
#[test]
fn the_utilization_chart_drawn_from_disk_is_the_one_held_in_memory() {
    use hybridsim::report::charts::{Chart, UtilizationPanels};
    let outcome = quickstart("lowest_latency");
    let held = hybridsim::report::figures::utilization_chart(&outcome).unwrap();
    let spilled = hybridsim::report::figures::utilization_chart_on_disk(&outcome).unwrap();
    assert!(held.pools.len() >= 2, "{} pools", held.pools.len());
    assert_eq!(spilled.pool_count(), held.pools.len());
    let mut read_back = Vec::new();
    spilled
        .for_each_pool(&mut |pool| {
            read_back.push(pool.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(read_back, held.pools);
    assert_eq!(spilled.svg().unwrap(), held.svg().unwrap());
    assert_eq!(spilled.png().unwrap(), held.png().unwrap());
}
