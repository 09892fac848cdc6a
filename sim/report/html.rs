//! `report.html`: one run (or a comparison of policies) as a single page a newcomer can read
//! without the code — what the scenario is, the headline figures, the estate, the incidents
//! and how the run recovered, the story told by the decision log, and the charts.
//!
//! The page is self-contained and opens offline: the style sheet is inline, the charts are
//! the chart renderer's SVG inline, and there is no script, font, image or other resource to
//! fetch (links only point at the files beside the page). It is a pure function of the
//! scenario and the run — no clock, no host, nothing from `run.json` — so the same seed gives
//! the same bytes. All text from the scenario and the run is escaped. Its size stays bounded
//! whatever the run: the timeline is capped (module `timeline`), long series are thinned for
//! the page (module `inline`), and long cells and tables are cut with a pointer to the full
//! file.

mod inline;
pub(super) mod markup;
mod sections;
mod timeline;

use std::fmt::Write as _;

pub use markup::escape;
pub use timeline::{MAX_SHOWN, NEAR_S};

use super::charts::ChartError;
use super::figures;
use super::{ComparedRun, RUN_FILES};
use crate::experiment::compare::{Comparison, decimals_for};
use crate::metrics::Summary;
use crate::metrics::record::RunOutcome;
use crate::scenario::Scenario;
use markup::{Cell, Column, count, escape as esc, table};
use timeline::Span;

/// The page's style sheet.
const STYLE: &str = include_str!("html/report.css");

/// The file name of the report in an output folder.
pub const REPORT_HTML: &str = "report.html";

/// The version written in the footer.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The report of one run of `scenario`; `in_comparison` when it is one policy's run in a
/// comparison, whose report is one folder up.
pub fn run_report(
    scenario: &Scenario,
    outcome: &RunOutcome,
    in_comparison: bool,
) -> Result<String, ChartError> {
    let s = &outcome.summary;
    let mut body = String::new();
    title(&mut body, &format!("{} — {}", s.scenario, s.policy), scenario, s);
    if in_comparison {
        body.push_str(
            "<p class=\"note\">This run is one of several compared: \
             <a href=\"../report.html\">all runs side by side</a>.</p>\n",
        );
    }
    nav(&mut body);
    section(&mut body, "headline", "Headline figures", |out| {
        headline(out, s, "")
    });
    section(&mut body, "estate", "The estate at a glance", |out| {
        sections::estate(out, scenario)
    });
    section(&mut body, "incidents", "Incidents and recovery", |out| {
        incidents_intro(out);
        sections::incidents(out, &s.incidents);
    });
    let mut story = String::new();
    timeline::write(&mut story, &outcome.record.decisions, &spans(scenario, s))?;
    section(
        &mut body,
        "timeline",
        "The story: incidents and decisions",
        |out| out.push_str(&story),
    );
    let mut charts = String::new();
    run_charts(&mut charts, outcome)?;
    section(&mut body, "charts", "Charts", |out| out.push_str(&charts));
    footer(&mut body, &run_files());
    Ok(page(&format!("{} — {} — hybridsim", s.scenario, s.policy), &body))
}

/// The report of compared runs (in the order asked): what was compared, the table with the
/// runs side by side, the means over seeds, the charts with every run on the same axes, and
/// each run's headline figures with a link to its own report.
pub fn comparison_report(runs: &[ComparedRun], comparison: &Comparison) -> Result<String, ChartError> {
    let mut body = String::new();
    let scenarios = distinct_scenarios(runs);
    let heading = match scenarios.as_slice() {
        [one] => format!("{} — {} runs compared", one.spec.name, runs.len()),
        many => format!("{} scenarios compared", many.len()),
    };
    comparison_title(&mut body, &heading, &scenarios, comparison);
    section(&mut body, "comparison", "Runs side by side", |out| {
        comparison_intro(out, comparison, scenarios.len());
        comparison_table(out, comparison);
    });
    if !comparison.replications.is_empty() {
        section(
            &mut body,
            "replications",
            "Means and differences over seeds",
            |out| replications(out, comparison),
        );
    }
    let mut charts = String::new();
    if comparison.runs.len() > runs.len() {
        let _ = writeln!(
            charts,
            "<p class=\"note\">The charts and the run sections below show the first {} of the {} \
             runs; every run is in the table above and has its own folder.</p>",
            runs.len(),
            comparison.runs.len()
        );
    }
    comparison_charts(&mut charts, runs)?;
    section(&mut body, "charts", "Charts", |out| out.push_str(&charts));
    for run in runs {
        let label = run.label;
        section(
            &mut body,
            &format!("run-{label}"),
            &format!("Run {label}"),
            |out| {
                let s = run.summary;
                let _ = writeln!(
                    out,
                    "<p>{} under {}, seed {}. The full report of this run: \
                 <a href=\"{label}/report.html\">{label}/report.html</a>.</p>",
                    esc(&s.scenario),
                    esc(&s.policy),
                    s.seed,
                    label = esc(label)
                );
                headline(out, s, &format!("{label}/"));
            },
        );
    }
    footer(&mut body, &comparison_files(runs, comparison));
    Ok(page(&format!("{heading} — hybridsim"), &body))
}

/// The scenarios of `runs`, each once, in the order first met.
fn distinct_scenarios<'a>(runs: &[ComparedRun<'a>]) -> Vec<&'a Scenario> {
    let mut scenarios: Vec<&Scenario> = Vec::new();
    for run in runs {
        if !scenarios.iter().any(|s| std::ptr::eq(*s, run.scenario)) {
            scenarios.push(run.scenario);
        }
    }
    scenarios
}

/// The values of one part of the runs (policy, seed), each once, in the order first met.
fn distinct(values: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(", ")
}

/// The comparison's title, what was compared, and the description of its scenario (or of each).
fn comparison_title(out: &mut String, heading: &str, scenarios: &[&Scenario], c: &Comparison) {
    let facts = [
        (
            "scenarios",
            distinct(scenarios.iter().map(|s| s.spec.name.clone())),
        ),
        ("policies", distinct(c.runs.iter().map(|r| r.policy.clone()))),
        ("seeds", distinct(c.runs.iter().map(|r| r.seed.to_string()))),
        ("runs", c.runs.len().to_string()),
    ];
    header_start(out, "hybridsim comparison", heading, &facts);
    for scenario in scenarios {
        if scenarios.len() > 1 {
            let _ = writeln!(
                out,
                "<h2>{}</h2>\n<p class=\"note\">{} — horizon {}, metrics window {}.</p>",
                esc(&scenario.spec.name),
                esc(&scenario.path.display().to_string()),
                esc(&scenario.spec.horizon.to_string()),
                esc(&scenario.spec.metrics.window.to_string())
            );
        }
        sections::description(out, &scenario.spec.description, &scenario.spec.policy_names());
    }
    out.push_str("</header>\n");
}

/// The whole document around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"hybridsim {VERSION}\">\n<title>{}</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        esc(title)
    )
}

/// Writes a section with an anchor `id` and a heading, its content written by `content`.
fn section(out: &mut String, id: &str, heading: &str, content: impl FnOnce(&mut String)) {
    let _ = writeln!(out, "<section id=\"{}\">\n<h2>{}</h2>", esc(id), esc(heading));
    content(out);
    out.push_str("</section>\n");
}

/// The title, the run's facts and the scenario's description.
fn title(out: &mut String, heading: &str, scenario: &Scenario, s: &Summary) {
    let policies = scenario.spec.policy_names();
    let facts = [
        ("scenario", s.scenario.clone()),
        ("seed", s.seed.to_string()),
        ("policy", s.policy.clone()),
        ("horizon", scenario.spec.horizon.to_string()),
        ("metrics window", scenario.spec.metrics.window.to_string()),
    ];
    header_start(out, "hybridsim report", heading, &facts);
    sections::description(out, &scenario.spec.description, &policies);
    out.push_str("</header>\n");
}

/// Opens the page's header: a kicker, the heading and a line of facts.
fn header_start(out: &mut String, kicker: &str, heading: &str, facts: &[(&str, String)]) {
    let _ = writeln!(
        out,
        "<header>\n<p class=\"kicker\">{kicker}</p>\n<h1>{}</h1>",
        esc(heading)
    );
    out.push_str("<dl class=\"facts\">");
    for (key, value) in facts {
        let _ = write!(out, "<div><dt>{key}</dt><dd>{}</dd></div>", esc(value));
    }
    out.push_str("</dl>\n");
}

/// Links to the sections of a run's report.
fn nav(out: &mut String) {
    out.push_str(
        "<nav><a href=\"#headline\">Headline figures</a><a href=\"#estate\">Estate</a>\
         <a href=\"#incidents\">Incidents</a><a href=\"#timeline\">Timeline</a>\
         <a href=\"#charts\">Charts</a><a href=\"#files\">Files</a></nav>\n",
    );
}

/// Cards, services, jobs and cost of one run whose files are in `folder` (`""` or `"name/"`).
fn headline(out: &mut String, s: &Summary, folder: &str) {
    sections::cards(out, s);
    out.push_str(
        "<h3>Inference services</h3>\n<p class=\"note\">End-to-end latency over the whole run; \
         within SLO counts requests after warm-up, failures as misses.</p>\n",
    );
    sections::services(out, s);
    out.push_str(
        "<h3>Jobs by class</h3>\n<p class=\"note\">Goodput is useful GPU-hours over GPU-hours held.</p>\n",
    );
    sections::jobs(out, s);
    out.push_str("<h3>Cost</h3>\n");
    sections::cost(out, s, folder);
}

fn incidents_intro(out: &mut String) {
    out.push_str(
        "<p class=\"note\">Times since the start of the run. Time to detect: to the end of the first \
         metrics window in which an affected service misses its SLO. Time to recover: until every \
         affected SLO holds again for several windows in a row and every interrupted job computes \
         again. Backlog drain: from the incident's end until queued requests and waiting jobs are back \
         at their level before it. A dash is a figure that cannot be given; the notes say why.</p>\n",
    );
}

/// The spans of the scenario's incidents, for the timeline.
fn spans(scenario: &Scenario, s: &Summary) -> Vec<Span> {
    scenario
        .spec
        .incidents
        .iter()
        .map(|i| {
            let start_s = i.start.as_secs_f64();
            let end_s = match i.duration {
                _ if i.kind.is_instant() => start_s,
                Some(d) => (start_s + d.as_secs_f64()).min(s.horizon_s),
                None => s.horizon_s,
            };
            Span { start_s, end_s }
        })
        .collect()
}

/// The five charts of a run, inline, thinned for the page.
fn run_charts(out: &mut String, outcome: &RunOutcome) -> Result<(), ChartError> {
    out.push_str(
        "<p class=\"note\">Incidents are shaded in red. Times on the axes are since the start of the run.</p>\n",
    );
    inline::figure(
        out,
        &inline::thin_latency(&figures::latency_chart(outcome)?),
        "End-to-end latency per service (p50, p95, p99) in each metrics window, with the SLO bound.",
    )?;
    inline::figure(
        out,
        &inline::thin_requests(&figures::request_rate_chart(outcome)?),
        "Requests per second per service in each metrics window: the demand (arrivals), and \
         beneath it the requests answered by the fallback and those that failed.",
    )?;
    inline::figure(
        out,
        &inline::thin_cost(&figures::cost_chart(outcome)?),
        "Cumulative spend by cost category and by capacity tier.",
    )?;
    inline::figure(
        out,
        &inline::thin_utilization(&figures::utilization_chart(outcome)?),
        "GPUs in use per pool and tier; the line is owned and reserved capacity, the dashed line the burst limit with on-demand and spot; idle owned/reserved GPUs are grey.",
    )?;
    inline::figure(
        out,
        &figures::recovery_chart(&[(outcome.summary.policy.as_str(), &outcome.summary)]),
        "Time to detect, recover and drain the backlog per incident.",
    )
}

fn comparison_intro(out: &mut String, c: &Comparison, scenarios: usize) {
    let how = if scenarios > 1 {
        "Each scenario ran with its own estate and workloads; a figure of a service, incident or \
         job class that a run's scenario lacks is a dash."
            .to_string()
    } else if c.same_seed() {
        format!(
            "Every run used seed {}, so all saw the same arrivals, failures and preemptions (common \
             random numbers): the differences are the policies'.",
            c.runs.first().map_or(0, |r| r.seed)
        )
    } else {
        "The runs differ in seed: the spread between seeds shows how much of a difference is \
         chance; the means over seeds, with confidence intervals, follow the table."
            .to_string()
    };
    let _ = writeln!(
        out,
        "<p>{how} The same table is in <a href=\"comparison.csv\">comparison.csv</a>; times are in \
         seconds.</p>"
    );
}

/// The means over seeds: a table per scenario and policy.
fn replications(out: &mut String, c: &Comparison) {
    let _ = writeln!(
        out,
        "<p class=\"note\">For each scenario and policy run under several seeds: the mean of each \
         figure over the seeds, the half-width of its {:.0}% Student-t confidence interval, and the \
         range. Where a scenario ran under several policies, each policy's figures minus the first \
         policy's follow, paired by seed: the pairs saw the same arrivals and failures, so a \
         difference whose interval excludes 0 is the policy's, not chance. The same figures are in \
         <a href=\"replications.csv\">replications.csv</a>.</p>",
        crate::experiment::compare::CONFIDENCE * 100.0
    );
    let columns = [
        Column::text("figure"),
        Column::num("runs"),
        Column::num("mean"),
        Column::num("± half-width"),
        Column::num("min"),
        Column::num("max"),
    ];
    for r in &c.replications {
        let _ = writeln!(
            out,
            "<h3>{}, seeds {}</h3>",
            esc(&r.heading()),
            esc(&distinct(r.seeds.iter().map(u64::to_string)))
        );
        let rows: Vec<Vec<Cell>> = r
            .figures
            .iter()
            .map(|f| {
                let n = |v: f64| Cell::text(markup::number(v, decimals_for(v, f.decimals)));
                vec![
                    Cell::text(&f.figure),
                    Cell::text(f.n.to_string()),
                    n(f.mean),
                    f.ci_half_width.map_or(Cell::text(markup::DASH), n),
                    n(f.min),
                    n(f.max),
                ]
            })
            .collect();
        table(out, "figures replications", &columns, &rows);
    }
}

/// The charts of a comparison, inline, thinned for the page: a line per run, each panel on one
/// scale for all of them.
fn comparison_charts(out: &mut String, runs: &[ComparedRun]) -> Result<(), ChartError> {
    let labelled: Vec<(&str, &figures::RunCurves)> = runs.iter().map(|r| (r.label, r.curves)).collect();
    let groups = figures::run_groups(runs);
    out.push_str(
        "<p class=\"note\">One colour per run, or per scenario and policy run under several seeds \
         (drawn as the mean over the seeds with its 95% interval), the same in every chart; with \
         more than the colours tell apart, one small plot each. Every panel has one scale for all \
         runs. Incidents are shaded when every run has the same ones.</p>\n",
    );
    inline::figure(
        out,
        &inline::thin_latency_runs(&figures::latency_runs_chart(&labelled).with_groups(groups.clone())),
        "p99 end-to-end latency per service in each metrics window, with the SLO bound.",
    )?;
    inline::figure(
        out,
        &inline::thin_cost_runs(&figures::cost_runs_chart(&labelled).with_groups(groups.clone())),
        "Cumulative spend in total and per cost category.",
    )?;
    inline::figure(
        out,
        &inline::thin_utilization_runs(
            &figures::utilization_runs_chart(&labelled).with_groups(groups.clone()),
        ),
        "GPUs in use per pool, all tiers together.",
    )?;
    let summaries: Vec<(&str, &Summary)> = runs.iter().map(|r| (r.label, r.summary)).collect();
    inline::figure(
        out,
        &figures::grouped_recovery_chart(&summaries, &groups),
        "Time to detect, recover and drain the backlog per incident, one bar per run (or mean over \
         seeds, with its 95% interval).",
    )
}

/// The comparison table turned on its side: a row per figure, a column per policy.
fn comparison_table(out: &mut String, c: &Comparison) {
    let (header, rows) = c.table();
    let mut columns = vec![Column::text("figure")];
    columns.extend(
        rows.iter()
            .map(|r| Column::num(r.first().cloned().unwrap_or_default())),
    );
    let mut lines: Vec<Vec<Cell>> = vec![
        std::iter::once(Cell::text("report"))
            .chain(rows.iter().map(|r| {
                let policy = esc(r.first().map_or("", String::as_str));
                Cell::html(format!(
                    "<a href=\"{policy}/report.html\">{policy}/report.html</a>"
                ))
            }))
            .collect(),
    ];
    for (i, name) in header.iter().enumerate().skip(1) {
        let mut line = vec![Cell::text(name)];
        line.extend(rows.iter().map(|r| {
            let value = r.get(i).map_or("", String::as_str);
            Cell::text(if value.is_empty() { markup::DASH } else { value })
        }));
        lines.push(line);
    }
    table(out, "figures comparison", &columns, &lines);
}

/// The files of one run's folder, with what each holds.
fn run_files() -> Vec<(String, &'static str)> {
    RUN_FILES
        .iter()
        .map(|(name, what)| (name.to_string(), *what))
        .collect()
}

/// The files of a comparison's folder.
fn comparison_files(runs: &[ComparedRun], c: &Comparison) -> Vec<(String, &'static str)> {
    let mut files = vec![
        (REPORT_HTML.to_string(), "this page"),
        ("comparison.csv".to_string(), "the comparison table"),
        ("comparison.json".to_string(), "the comparison table, as JSON"),
    ];
    if !c.replications.is_empty() {
        files.push(("replications.csv".to_string(), "the means over seeds"));
    }
    files.extend(["latency", "cost", "utilization", "recovery"].map(|chart| {
        (
            format!("{chart}.svg"),
            "chart, every run on the same axes (also .png)",
        )
    }));
    files.extend(runs.iter().map(|r| {
        (
            format!("{}/report.html", r.label),
            "that run: every file of a run",
        )
    }));
    files
}

/// The footer: the files beside the page and the version that wrote it.
fn footer(out: &mut String, files: &[(String, &str)]) {
    out.push_str("<footer id=\"files\">\n<h2>Files</h2>\n<ul class=\"files\">\n");
    for (name, what) in files {
        let name = esc(name);
        let _ = writeln!(
            out,
            "<li><a href=\"{name}\"><code>{name}</code></a> — {}</li>",
            esc(what)
        );
    }
    let _ = writeln!(
        out,
        "</ul>\n<p class=\"note\">Written by hybridsim {VERSION}. The same scenario and seed give the same \
         page, byte for byte; wall-clock facts about the execution are in <code>run.json</code> only.</p>\n</footer>"
    );
}

/// One study chart as the page shows it: its file stem, its SVG and its caption (markup).
pub struct StudyFigure {
    /// `cost_usd-by-demand`: the `.svg` and `.png` beside the page.
    pub name: String,
    /// The chart's SVG document.
    pub svg: String,
    /// What it shows.
    pub caption: String,
}

/// The page of a study: what was varied, the break-even answers, the charts and the files.
pub fn study_report(
    summary: &crate::experiment::study::results::StudySummary,
    figures: &[StudyFigure],
    files: &[(String, &str)],
) -> String {
    let mut body = String::new();
    let heading = format!("{} — study of {}", summary.name, summary.scenario);
    let mut facts = vec![("base scenario", summary.scenario.clone())];
    if !summary.variants.is_empty() {
        facts.push(("variants", summary.variants.join(", ")));
    }
    facts.extend([
        ("policies", summary.policies.join(", ")),
        ("seeds per point", summary.seeds.len().to_string()),
        ("runs", summary.runs.to_string()),
    ]);
    header_start(&mut body, "hybridsim study", &heading, &facts);
    sections::description(&mut body, &summary.description, &[]);
    body.push_str("</header>\n");
    section(&mut body, "parameters", "What was varied", |out| {
        let columns = [
            Column::text("parameter"),
            Column::text("address in the scenario"),
            Column::text("values"),
        ];
        let rows: Vec<Vec<Cell>> = summary
            .parameters
            .iter()
            .map(|p| {
                vec![
                    Cell::text(&p.name),
                    Cell::html(format!("<code>{}</code>", esc(&p.path))),
                    Cell::text(markup::clip(&p.values.join(", "), 400)),
                ]
            })
            .collect();
        table(out, "figures", &columns, &rows);
        if summary.invalid_runs > 0 {
            let _ = writeln!(
                out,
                "<p class=\"note\">{} runs were at points that make the scenario invalid; they are \
                 recorded in <code>runs.csv</code> with status <code>invalid</code> and the \
                 scenario's own diagnostic. The first:</p>",
                count(summary.invalid_runs)
            );
            for (point, message) in summary.invalid_points.iter().take(5) {
                let _ = writeln!(
                    out,
                    "<p class=\"note\"><b>{}</b>: {}</p>",
                    esc(point),
                    esc(&markup::clip(message, 600))
                );
            }
        }
    });
    if !summary.break_even.is_empty() {
        section(&mut body, "break-even", "Break-even", |out| {
            out.push_str(
                "<p class=\"note\">Where the first side's mean minus the second's, paired seed by \
                 seed (common random numbers), changes sign along the parameter: linear \
                 interpolation between the two levels around it, and the interval where the \
                 difference's 95% band crosses zero.</p>\n<ul>\n",
            );
            for question in &summary.break_even {
                for crossing in &question.crossings {
                    let _ = writeln!(out, "<li>{}</li>", esc(&crossing.statement));
                }
            }
            out.push_str("</ul>\n");
        });
    }
    section(&mut body, "charts", "Charts", |out| {
        if figures.is_empty() {
            out.push_str(
                "<p class=\"note\">The study names no charts and asks no break-even question.</p>\n",
            );
        }
        for figure in figures {
            let name = esc(&figure.name);
            let _ = writeln!(out, "<figure class=\"chart\" id=\"chart-{name}\">");
            if let Some(start) = figure.svg.find("<svg") {
                out.push_str(figure.svg[start..].trim_end());
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "<figcaption>{} Files: <a href=\"{name}.svg\">{name}.svg</a>, <a href=\"{name}.png\">{name}.png</a>.</figcaption>\n</figure>",
                figure.caption
            );
        }
    });
    footer(&mut body, files);
    page(&format!("{heading} — hybridsim"), &body)
}
