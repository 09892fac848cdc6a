//! `report.html`: written for every run and for a comparison, byte-identical for a seed,
//! self-contained (inline SVG, no scripts, nothing fetched from the network), with the
//! scenario's own text escaped. `tests/browser.rs` opens it in a real browser.

use std::path::Path;
use std::process::{Command, Output};

const DRILL: &str = "scenarios/drills/eu-outage-dual.ron";

fn hybridsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs `hybridsim run --quiet --out DIR EXTRA…` and expects success.
fn run_into(dir: &Path, extra: &[&str]) {
    let mut args = vec!["run", "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let result = hybridsim(&args);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The same escaping as the report's, written out here so the test does not trust it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Every value of `attribute="…"` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// The page fetches nothing: no script, stylesheet, image or frame, and no `src`, `href` or
/// CSS `url()` pointing anywhere but a file beside it, an anchor or a `data:` URI.
fn assert_self_contained(html: &str, what: &str) {
    for tag in [
        "<script",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "<link rel=\"stylesheet\"",
        "@import",
    ] {
        assert!(!html.contains(tag), "{what}: has {tag}");
    }
    let mut references: Vec<&str> = ["src", "href", "xlink:href"]
        .iter()
        .flat_map(|a| attribute_values(html, a))
        .collect();
    references.extend(
        html.match_indices("url(")
            .map(|(i, _)| &html[i + 4..(i + 60).min(html.len())]),
    );
    for reference in references {
        let lower = reference.trim_start_matches(['"', '\'']).to_ascii_lowercase();
        assert!(
            !lower.starts_with("http:") && !lower.starts_with("https:") && !lower.starts_with("//"),
            "{what}: external reference {reference}"
        );
    }
    assert!(!html.contains("src=\"http"), "{what}");
    assert!(!html.contains("href=\"http"), "{what}");
}

/// Every relative link of the page at `page` names a file that exists.
fn assert_links_resolve(page: &Path) {
    let html = read(page);
    let folder = page.parent().unwrap();
    for href in attribute_values(&html, "href") {
        if href.starts_with('#') || href.starts_with("data:") {
            continue;
        }
        assert!(
            folder.join(href).exists(),
            "{}: broken link {href}",
            page.display()
        );
    }
}

#[test]
fn a_run_writes_a_deterministic_self_contained_report() {
    let root = tempfile::tempdir().unwrap();
    let [a, b, c] = ["a", "b", "c"].map(|n| root.path().join(n));
    for (dir, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        run_into(dir, &[DRILL, "--seed", seed, "--policy", "failover"]);
    }
    let page = a.join("report.html");
    let html = read(&page);
    assert_eq!(html, read(&b.join("report.html")), "same seed, same bytes");
    assert_ne!(html, read(&c.join("report.html")), "another seed, another run");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.len() < 3_000_000, "{} bytes", html.len());

    let summary: serde_json::Value = serde_json::from_str(&read(&a.join("summary.json"))).unwrap();
    assert!(html.contains(&escaped(summary["scenario"].as_str().unwrap())));
    let incidents = summary["incidents"].as_array().unwrap();
    assert!(!incidents.is_empty());
    for incident in incidents {
        assert!(html.contains(&escaped(incident["name"].as_str().unwrap())));
    }
    let decisions = read(&a.join("decisions.csv"));
    let mut reasons = csv::Reader::from_reader(decisions.as_bytes());
    let shown = reasons
        .records()
        .map(|r| r.unwrap()[5].to_string())
        .filter(|reason| !reason.is_empty())
        .filter(|reason| html.contains(&format!(">{}</td>", escaped(reason))))
        .count();
    assert!(shown > 0, "at least one decision reason is in the timeline");
    assert!(html.contains("incident starts") && html.contains("incident ends"));

    assert_eq!(
        html.matches("<svg").count(),
        5,
        "latency, requests, cost, utilization, recovery"
    );
    assert_self_contained(&html, "run report");
    assert_links_resolve(&page);
    let run_json = read(&a.join("run.json"));
    let wall: serde_json::Value = serde_json::from_str(&run_json).unwrap();
    let wall_clock = wall["wall_clock_s"].to_string();
    assert!(!html.contains("wall_clock_s") && !html.contains(&format!(">{wall_clock}<")));
}

#[test]
fn a_comparison_writes_a_report_beside_each_policy_report() {
    let root = tempfile::tempdir().unwrap();
    let [a, b] = ["a", "b"].map(|n| root.path().join(n));
    let policies = ["lowest_latency", "failover"];
    for dir in [&a, &b] {
        run_into(dir, &[DRILL, "--policy", &policies.join(",")]);
    }
    let page = a.join("report.html");
    let html = read(&page);
    assert_eq!(html, read(&b.join("report.html")), "same seed, same bytes");
    for policy in policies {
        assert!(
            html.contains(&format!("href=\"{policy}/report.html\"")),
            "{policy}"
        );
        let own = a.join(policy).join("report.html");
        let own_html = read(&own);
        assert_eq!(own_html, read(&b.join(policy).join("report.html")));
        assert!(own_html.contains("href=\"../report.html\""));
        assert_self_contained(&own_html, policy);
        assert_links_resolve(&own);
    }
    let comparison = read(&a.join("comparison.csv"));
    let header = comparison.lines().next().unwrap();
    for figure in header.split(',').skip(1) {
        assert!(
            html.contains(&format!("<td>{}</td>", escaped(figure))),
            "{figure}"
        );
    }
    assert!(html.contains("eu-1 region down"));
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "latency, cost, utilization and recovery, policies side by side"
    );
    for chart in ["latency", "cost", "utilization", "recovery"] {
        assert!(html.contains(&format!("id=\"chart-{chart}\"")), "{chart}");
        assert!(a.join(format!("{chart}.png")).exists(), "{chart}.png");
    }
    assert_self_contained(&html, "comparison report");
    assert_links_resolve(&page);
}

/// A small scenario whose description and incident carry markup and ampersands (its name is
/// set in the test: a file's name must be able to name a folder).
const HOSTILE: &str = r#"(
    name: "hostile",
    description: "Tom & Jerry's <script>alert(\"description\")</script> estate.\n\nWhat goes wrong: a <b>shock</b> & more.",
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
        (name: "<img src=x onerror=alert(1)> & \"half\"", start: "20m", duration: "10m",
         kind: capacity_shock(pool: "dc/ref", tier: reserved, to: count(1))),
    ],
)
"#;

#[test]
fn scenario_text_is_escaped() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("hostile.ron");
    std::fs::write(&path, HOSTILE).unwrap();
    let mut scenario = hybridsim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    scenario.spec.name = "<script>alert('name')</script> & co".into();
    let outcome = hybridsim::world::simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    let info = hybridsim::output::RunInfo {
        hybridsim_version: env!("CARGO_PKG_VERSION"),
        scenario_path: path.display().to_string(),
        wall_clock_s: 0.0,
        events_per_wall_second: 0.0,
    };
    let out = root.path().join("out");
    hybridsim::report::write_run(&out, &scenario, &outcome, &info, &|_| {}).unwrap();
    let html = read(&out.join("report.html"));
    assert!(
        !html.contains("<script"),
        "no script from the scenario gets through"
    );
    assert!(!html.contains("<img"), "nor an image");
    assert!(!html.contains("<b>shock"), "nor any other markup");
    assert!(html.contains("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt; &amp; co"));
    assert!(html.contains("Tom &amp; Jerry&#39;s &lt;script&gt;"));
    assert!(html.contains("<strong>What goes wrong:</strong> a &lt;b&gt;shock&lt;/b&gt; &amp; more."));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;half&quot;"));
    assert_self_contained(&html, "hostile scenario");
}
