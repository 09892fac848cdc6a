//! Everything written to the output folder: `summary.json`, `jobs.csv`, `incidents.csv`,
//! `decisions.csv`, `timeseries.csv`, `cost.csv`, the charts and `report.html` (deterministic)
//! and `run.json` (wall-clock facts about this execution), written atomically; for a
//! comparison (scenarios, policies or seeds), one such folder per run and the comparison table,
//! its charts and its `report.html` beside them; the chart renderer (`charts`); the HTML report (`html`); and
//! the JUnit XML report of `hybridsim check`.
//!
//! A run's files are written from its `RunOutcome` alone (the summary and the
//! `metrics::record::RunRecord`): nothing here reads the live model, so the model of a run is
//! gone by the time its files are written.
pub mod charts;
pub mod figures;
pub mod html;
mod junit;
pub mod series;
pub mod study;
mod tables;

use std::path::{Path, PathBuf};

use crate::output::parquet::csv_to_parquet;
use crate::output::{Notice, OutputDir, OutputError, RunInfo};

pub use junit::{junit_xml, write_junit};
pub use tables::{
    DECISIONS_CSV_HEADER, INCIDENTS_CSV_HEADER, JOBS_CSV_HEADER, incidents_csv, jobs_csv,
    write_decisions_csv, write_jobs_csv,
};

use crate::experiment::compare::Comparison;
use crate::experiment::study::Study;
use crate::experiment::study::files::StudyFiles;
use crate::experiment::study::results::StudyResults;
use crate::metrics::Summary;
use crate::metrics::record::RunOutcome;
use crate::scenario::Scenario;

/// The files of one run's folder and what each holds, in the order `report.html` lists them.
pub const RUN_FILES: [(&str, &str); 19] = [
    ("report.html", "this page"),
    ("summary.json", "the headline figures"),
    (
        "incidents.csv",
        "a row per scripted incident with its recovery figures",
    ),
    ("decisions.csv", "the whole decision log"),
    ("jobs.csv", "a row per job"),
    ("timeseries.csv", "the figures per metrics window"),
    ("timeseries.parquet", "timeseries.csv as Parquet"),
    ("cost.csv", "every charge of the cost ledger"),
    ("cost.parquet", "cost.csv as Parquet"),
    ("latency.svg", "latency chart"),
    ("latency.png", "latency chart, as PNG"),
    ("requests.svg", "request-rate chart: the demand per service"),
    ("requests.png", "request-rate chart, as PNG"),
    ("cost.svg", "cost chart"),
    ("cost.png", "cost chart, as PNG"),
    ("utilization.svg", "utilization chart"),
    ("utilization.png", "utilization chart, as PNG"),
    ("recovery.svg", "recovery chart (recovery.png: as PNG)"),
    (
        "run.json",
        "wall-clock facts about this execution (the only file that differs between runs)",
    ),
];

/// Writes the results of a run of `scenario` into `target`, replacing it atomically; `notify`
/// hears of a wait for another writer of the folder and of leftovers tidied up
/// ([`OutputDir::create`]). Returns the folder.
pub fn write_run(
    target: &Path,
    scenario: &Scenario,
    outcome: &RunOutcome,
    info: &RunInfo,
    notify: &dyn Fn(&Notice),
) -> Result<PathBuf, OutputError> {
    let out = OutputDir::create(target, notify)?;
    write_files(&out, "", scenario, outcome, info)?;
    out.commit()
}

/// One run of a comparison as its table, charts and page show it; its own folder is written
/// as soon as it finishes ([`write_compared_run`]), so its model need not be kept.
pub struct ComparedRun<'a> {
    /// Its label: the name of its folder and of its column in the table.
    pub label: &'a str,
    /// The scenario it ran.
    pub scenario: &'a Scenario,
    /// Its figures.
    pub summary: &'a Summary,
    /// What the comparison charts draw of it.
    pub curves: &'a figures::RunCurves,
}

/// Starts the folder of a comparison at `target`: it replaces `target` atomically when
/// [`finish_comparison`] commits it, and is removed if the comparison fails before that.
/// `notify` is as for [`OutputDir::create`].
pub fn begin_comparison(target: &Path, notify: &dyn Fn(&Notice)) -> Result<OutputDir, OutputError> {
    OutputDir::create(target, notify)
}

/// Writes one compared run's full set of files into the folder named by its label.
pub fn write_compared_run(
    out: &OutputDir,
    label: &str,
    scenario: &Scenario,
    outcome: &RunOutcome,
    info: &RunInfo,
) -> Result<(), OutputError> {
    let folder = format!("{label}/");
    out.create_folder(&folder)?;
    write_files(out, &folder, scenario, outcome, info)
}

/// Writes what sets the compared runs side by side into `out` and commits it: the table as
/// `comparison.csv` and `comparison.json`; `replications.csv` when a scenario and policy ran
/// under several seeds; the charts of `charted` runs on the same axes (latency, cost,
/// utilization, recovery); and `report.html`. Returns the folder.
pub fn finish_comparison(
    out: OutputDir,
    charted: &[ComparedRun],
    comparison: &Comparison,
) -> Result<PathBuf, OutputError> {
    let target = out.target().to_path_buf();
    let table = |name: &str, bytes: Result<Vec<u8>, csv::Error>| {
        bytes.map_err(|e| OutputError::Io {
            path: target.join(name),
            source: std::io::Error::other(e),
        })
    };
    out.write_bytes("comparison.csv", &table("comparison.csv", comparison.csv())?)?;
    out.write_json("comparison.json", comparison)?;
    if !comparison.replications.is_empty() {
        let csv = table("replications.csv", comparison.replications_csv())?;
        out.write_bytes("replications.csv", &csv)?;
    }
    let curves: Vec<(&str, &figures::RunCurves)> = charted.iter().map(|r| (r.label, r.curves)).collect();
    let summaries: Vec<(&str, &Summary)> = charted.iter().map(|r| (r.label, r.summary)).collect();
    figures::write_runs_charts(&out, &curves, &summaries, &figures::run_groups(charted))?;
    let report = html::comparison_report(charted, comparison).map_err(|e| report_error(&out, "", e))?;
    out.write_bytes(html::REPORT_HTML, report.as_bytes())?;
    out.commit()
}

/// A failure to draw the charts of `report.html` in `folder`.
fn report_error(out: &OutputDir, folder: &str, e: charts::ChartError) -> OutputError {
    OutputError::Io {
        path: out.target().join(folder).join(html::REPORT_HTML),
        source: std::io::Error::other(e),
    }
}

/// Writes one run's files into `folder` (`""` or `"name/"`) of `out`.
/// Writes a run's full set of files into `folder` (empty, or ending in `/`) of `out`.
pub(crate) fn write_files(
    out: &OutputDir,
    folder: &str,
    scenario: &Scenario,
    outcome: &RunOutcome,
    info: &RunInfo,
) -> Result<(), OutputError> {
    let table = |name: &str, bytes: Result<Vec<u8>, csv::Error>| {
        bytes.map_err(|e| OutputError::Io {
            path: out.target().join(folder).join(name),
            source: std::io::Error::other(e),
        })
    };
    let file = |name: &str| format!("{folder}{name}");
    out.write_json(&file("summary.json"), &outcome.summary)?;
    out.write_stream(&file("jobs.csv"), |w| write_jobs_csv(&outcome.record, w))?;
    let incidents = table("incidents.csv", incidents_csv(&outcome.summary.incidents))?;
    out.write_bytes(&file("incidents.csv"), &incidents)?;
    out.write_stream(&file("decisions.csv"), |w| {
        write_decisions_csv(&outcome.record.decisions, w)
    })?;
    out.write_stream(&file("timeseries.csv"), |w| {
        series::write_timeseries_csv(outcome, w)
    })?;
    csv_to_parquet(
        &out.staged(&file("timeseries.csv")),
        &out.staged(&file("timeseries.parquet")),
        &series::TIMESERIES_PARQUET_TYPES,
    )?;
    out.write_stream(&file("cost.csv"), |w| series::write_cost_csv(outcome, w))?;
    csv_to_parquet(
        &out.staged(&file("cost.csv")),
        &out.staged(&file("cost.parquet")),
        &series::COST_PARQUET_TYPES,
    )?;
    figures::write_run_charts(out, folder, outcome)?;
    let report =
        html::run_report(scenario, outcome, !folder.is_empty()).map_err(|e| report_error(out, folder, e))?;
    out.write_bytes(&file(html::REPORT_HTML), report.as_bytes())?;
    out.write_json(&file("run.json"), info)
}

/// The report's drawing of a study's files: a kept run's folder as `hybridsim run` writes it, and
/// the study's charts and page.
#[derive(Debug, Clone, Copy, Default)]
pub struct StudyReport;

impl StudyFiles for StudyReport {
    fn run_files(
        &self,
        out: &OutputDir,
        folder: &str,
        scenario: &Scenario,
        outcome: &RunOutcome,
        info: &RunInfo,
    ) -> Result<(), OutputError> {
        write_files(out, folder, scenario, outcome, info)
    }

    fn study_files(&self, out: &OutputDir, study: &Study, results: &StudyResults) -> Result<(), OutputError> {
        study::write_study_outputs(out, study, results)
    }
}
