//! Everything written to the output folder: `summary.json`, `jobs.csv`, `incidents.csv`,
//! `decisions.csv`, `timeseries.csv` and `cost.csv` (deterministic) and `run.json` (wall-clock
//! facts about this execution), written atomically; for a comparison of policies, one such
//! folder per policy and the comparison table beside them; the chart renderer (`charts`); and
//! the JUnit XML report of `hybridsim check`.
pub mod charts;
pub mod figures;
mod junit;
mod output;
pub mod series;
mod tables;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use junit::{junit_xml, write_junit};
pub use output::{OutputDir, OutputError};
pub use tables::{
    DECISIONS_CSV_HEADER, INCIDENTS_CSV_HEADER, JOBS_CSV_HEADER, decisions_csv, incidents_csv, jobs_csv,
};

use crate::experiment::compare::Comparison;
use crate::world::RunOutcome;

/// Facts about one execution that are not part of the simulated result: they differ between
/// two runs of the same scenario and seed, so they are kept out of `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Version of hybridsim that ran.
    pub hybridsim_version: &'static str,
    /// The scenario file.
    pub scenario_path: String,
    /// Wall-clock seconds spent simulating.
    pub wall_clock_s: f64,
    /// Events delivered per wall-clock second.
    pub events_per_wall_second: f64,
}

/// Writes a run's results into `target`, replacing it atomically. Returns the folder.
pub fn write_run(target: &Path, outcome: &RunOutcome, info: &RunInfo) -> Result<PathBuf, OutputError> {
    let out = OutputDir::create(target)?;
    write_files(&out, "", outcome, info)?;
    out.commit()
}

/// Writes compared runs into `target`, replacing it atomically: one folder per run, named by its
/// row of `comparison` (in the same order), with the run's full set of files, and the
/// comparison table as `comparison.csv` and `comparison.json`. Returns the folder.
pub fn write_comparison(
    target: &Path,
    runs: &[(&RunOutcome, RunInfo)],
    comparison: &Comparison,
) -> Result<PathBuf, OutputError> {
    let out = OutputDir::create(target)?;
    for ((outcome, info), row) in runs.iter().zip(&comparison.policies) {
        let folder = format!("{}/", row.policy);
        out.create_folder(&folder)?;
        write_files(&out, &folder, outcome, info)?;
    }
    let csv = comparison.csv().map_err(|e| OutputError {
        path: target.join("comparison.csv"),
        source: std::io::Error::other(e),
    })?;
    out.write_bytes("comparison.csv", &csv)?;
    out.write_json("comparison.json", comparison)?;
    let labelled: Vec<(&str, &crate::metrics::Summary)> = comparison
        .policies
        .iter()
        .zip(runs)
        .map(|(row, (o, _))| (row.policy.as_str(), &o.summary))
        .collect();
    figures::write_chart(&out, "", &figures::recovery_chart(&labelled))?;
    out.commit()
}

/// Writes one run's files into `folder` (`""` or `"name/"`) of `out`.
fn write_files(
    out: &OutputDir,
    folder: &str,
    outcome: &RunOutcome,
    info: &RunInfo,
) -> Result<(), OutputError> {
    let table = |name: &str, bytes: Result<Vec<u8>, csv::Error>| {
        bytes.map_err(|e| OutputError {
            path: out.target().join(folder).join(name),
            source: std::io::Error::other(e),
        })
    };
    let file = |name: &str| format!("{folder}{name}");
    out.write_json(&file("summary.json"), &outcome.summary)?;
    let jobs = table("jobs.csv", jobs_csv(&outcome.world, outcome.horizon))?;
    out.write_bytes(&file("jobs.csv"), &jobs)?;
    let incidents = table("incidents.csv", incidents_csv(&outcome.summary.incidents))?;
    out.write_bytes(&file("incidents.csv"), &incidents)?;
    let decisions = table("decisions.csv", decisions_csv(outcome.world.decisions.log()))?;
    out.write_bytes(&file("decisions.csv"), &decisions)?;
    let timeseries = table(
        "timeseries.csv",
        series::timeseries_csv(&series::collect(outcome)),
    )?;
    out.write_bytes(&file("timeseries.csv"), &timeseries)?;
    out.write_bytes(&file("cost.csv"), &table("cost.csv", series::cost_csv(outcome))?)?;
    figures::write_run_charts(out, folder, outcome)?;
    out.write_json(&file("run.json"), info)
}
