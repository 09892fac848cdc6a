//! A study's charts and page: a chart of each metric the study asks for against its parameter
//! (and of each break-even metric, with the crossing marked), as SVG and PNG, and `report.html`.

use super::charts::{ChartError, StudyChart, StudyLine};
use super::html::{self, StudyFigure};
use crate::experiment::study::Study;
use crate::experiment::study::results::{Curve, StudyResults};
use crate::output::{OutputDir, OutputError};

/// The files of a finished study, for the page's list.
const FILES: [(&str, &str); 6] = [
    (
        "runs.csv",
        "a row per run: its point, policy, seed, status and every figure",
    ),
    ("runs.parquet", "the same rows as Parquet"),
    (
        "points.csv",
        "per point, policy and metric: n, mean, 95% half-width, min, max",
    ),
    ("points.parquet", "the same rows as Parquet"),
    ("study.json", "what was varied and the break-even answers"),
    ("report.html", "this page"),
];

/// Writes the study's charts and `report.html` into `out`.
pub fn write_study_outputs(
    out: &OutputDir,
    study: &Study,
    results: &StudyResults,
) -> Result<(), OutputError> {
    let chart_error = |name: &str, e: ChartError| OutputError::Io {
        path: out.target().join(name),
        source: std::io::Error::other(e.to_string()),
    };
    let mut figures = Vec::new();
    for (metric, along, curves) in &results.charts {
        let name = file_stem(metric, along);
        let marks = marks(results, metric, along);
        let chart = chart(study, metric, along, curves, marks);
        let svg = chart.svg().map_err(|e| chart_error(&name, e))?;
        out.write_bytes(&format!("{name}.svg"), svg.as_bytes())?;
        out.write_bytes(
            &format!("{name}.png"),
            &chart.png().map_err(|e| chart_error(&name, e))?,
        )?;
        let caption = format!(
            "<code>{}</code> against {}: a line per {}, each point the mean over {} seeds with its 95% interval.",
            html::escape(metric),
            html::escape(along),
            if study.variants.len() > 1 {
                "variant and policy"
            } else {
                "policy"
            },
            study.seeds.len()
        );
        figures.push(StudyFigure { name, svg, caption });
    }
    let mut files: Vec<(String, &str)> = FILES.iter().map(|(f, w)| (f.to_string(), *w)).collect();
    for figure in &figures {
        files.push((format!("{}.svg", figure.name), "a chart (also as .png)"));
    }
    let page = html::study_report(&results.summary, &figures, &files);
    out.write_bytes(html::REPORT_HTML, page.as_bytes())
}

/// `cost_usd-by-demand`, with anything but letters, digits, `-`, `_` and `.` made `_`.
fn file_stem(metric: &str, along: &str) -> String {
    format!("{metric}-by-{along}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The break-even crossings of `metric` along `along`, to mark on its chart.
fn marks(results: &StudyResults, metric: &str, along: &str) -> Vec<(f64, String)> {
    results
        .summary
        .break_even
        .iter()
        .filter(|b| b.metric == metric && b.along == along)
        .flat_map(|b| {
            b.crossings.iter().filter_map(move |c| {
                let within = if c.group.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.group)
                };
                c.at.map(|x| (x, format!("{} = {}{within}", b.between.0, b.between.1)))
            })
        })
        .collect()
}

fn chart(
    study: &Study,
    metric: &str,
    along: &str,
    curves: &[Curve],
    marks: Vec<(f64, String)>,
) -> StudyChart {
    let unit = study
        .parameters
        .iter()
        .find(|p| p.name == along)
        .and_then(|p| p.levels.first())
        .and_then(|l| crate::experiment::study::values::split_unit(&l.label))
        .map(|(_, _, unit)| unit.to_string())
        .filter(|u| !u.is_empty());
    StudyChart {
        title: format!("{metric} by {along}"),
        x_desc: unit.map_or(along.to_string(), |u| format!("{along} ({u})")),
        y_desc: metric.to_string(),
        lines: curves
            .iter()
            .map(|c| StudyLine {
                label: c.label.clone(),
                points: c
                    .points
                    .iter()
                    .map(|(x, s)| {
                        let h = s.half_width.unwrap_or(0.0);
                        (*x, s.mean, s.mean - h, s.mean + h)
                    })
                    .collect(),
            })
            .collect(),
        marks,
    }
}
