//! Everything written to the output folder: `summary.json`, `jobs.csv`, `incidents.csv` and
//! `decisions.csv` (deterministic) and `run.json` (wall-clock facts about this execution),
//! written atomically.
mod output;
mod tables;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use output::{OutputDir, OutputError};
pub use tables::{
    DECISIONS_CSV_HEADER, INCIDENTS_CSV_HEADER, JOBS_CSV_HEADER, decisions_csv, incidents_csv, jobs_csv,
};

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
    out.write_json("summary.json", &outcome.summary)?;
    let table = |name: &str, bytes: Result<Vec<u8>, csv::Error>| {
        bytes.map_err(|e| OutputError {
            path: target.join(name),
            source: std::io::Error::other(e),
        })
    };
    out.write_bytes(
        "jobs.csv",
        &table("jobs.csv", jobs_csv(&outcome.world, outcome.horizon))?,
    )?;
    out.write_bytes(
        "incidents.csv",
        &table("incidents.csv", incidents_csv(&outcome.summary.incidents))?,
    )?;
    out.write_bytes(
        "decisions.csv",
        &table("decisions.csv", decisions_csv(&outcome.world.decisions))?,
    )?;
    out.write_json("run.json", info)?;
    out.commit()
}
