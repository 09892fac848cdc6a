//! The CSV tables of a run. Empty cells mean "does not apply" or "could not be measured".
//! - `jobs.csv`: one row per job — what it was, where it ran, how it ended, and where its GPU
//!   time and money went;
//! - `incidents.csv`: one row per scripted incident with its recovery figures (defined in
//!   `metrics::recovery`);
//! - `decisions.csv`: the decision log in time order — the story of the run.

use crate::metrics::record::{JobRow, RunRecord};
use crate::metrics::recovery::IncidentSummary;
use crate::policy::DecisionLog;

use super::series::write_csv;
use crate::workload::job::{InterruptCause, NANOS_PER_HOUR};

/// The header of `jobs.csv`.
pub const JOBS_CSV_HEADER: [&str; 29] = [
    "name",
    "class",
    "gpus",
    "work_gpu_h",
    "submit_s",
    "first_start_s",
    "end_s",
    "outcome",
    "pool",
    "tier",
    "wait_s",
    "placements",
    "interruptions",
    "interrupted_failure",
    "interrupted_spot_preemption",
    "interrupted_capacity_loss",
    "interrupted_site_outage",
    "interrupted_migration",
    "checkpoints",
    "held_gpu_h",
    "useful_gpu_h",
    "lost_gpu_h",
    "checkpoint_gpu_h",
    "staging_s",
    "restore_s",
    "checkpoint_s",
    "cost_usd",
    "deadline_missed",
    "note",
];

fn cell<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

fn seconds(ns: u128) -> String {
    (ns as f64 / 1e9).to_string()
}

fn hours(gpu_ns: u128) -> String {
    (gpu_ns as f64 / NANOS_PER_HOUR).to_string()
}

/// The bytes of `jobs.csv` for the jobs of a finished run.
pub fn jobs_csv(record: &RunRecord) -> Result<Vec<u8>, csv::Error> {
    let mut bytes = Vec::new();
    write_jobs_csv(record, &mut bytes)?;
    Ok(bytes)
}

/// Writes `jobs.csv` to `out`: a row per job in the order the jobs were created, read back
/// from the rows' spill file as it is written.
pub fn write_jobs_csv(record: &RunRecord, out: impl std::io::Write) -> Result<(), csv::Error> {
    write_csv(out, &JOBS_CSV_HEADER, |emit| {
        record.jobs.for_each(|_, job| {
            let row = job_row(record, job);
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            emit(&cells);
        })
    })
}

/// The cells of `job`'s row of `jobs.csv`.
fn job_row(record: &RunRecord, job: &JobRow) -> Vec<String> {
    let r = &job.record;
    let placed = job.placed;
    let mut row = vec![
        job.name.clone(),
        job.class.as_str().to_string(),
        job.gpus.to_string(),
        job.work_gpu_hours.to_string(),
        cell(r.submitted.map(|t| t.as_secs_f64())),
        cell(r.first_start.map(|t| t.as_secs_f64())),
        cell(r.ended.map(|t| t.as_secs_f64())),
        job.outcome.as_str().to_string(),
        cell(placed.map(|(pool, _)| record.estate.pool(pool).to_string())),
        cell(placed.map(|(_, tier)| tier.as_str())),
        cell(r.initial_wait_ns().map(|ns| ns as f64 / 1e9)),
        r.placements.to_string(),
        r.interrupted().to_string(),
    ];
    row.extend(
        InterruptCause::ALL
            .iter()
            .map(|&c| r.interruptions[c as usize].to_string()),
    );
    row.extend([
        r.checkpoints.to_string(),
        hours(r.held_gpu_ns),
        hours(r.useful_gpu_ns),
        hours(r.lost_gpu_ns),
        hours(r.checkpoint_gpu_ns),
        seconds(u128::from(r.staging_ns)),
        seconds(u128::from(r.restore_ns)),
        // Every GPU of the gang writes for the same wall time.
        seconds(r.checkpoint_gpu_ns / u128::from(job.gpus.max(1))),
        job.cost_usd.to_string(),
        cell(job.deadline_missed),
        r.note.clone(),
    ]);
    row
}

/// The header of `incidents.csv`.
pub const INCIDENTS_CSV_HEADER: [&str; 15] = [
    "name",
    "kind",
    "start_s",
    "end_s",
    "time_to_detect_s",
    "time_to_recover_s",
    "backlog_drain_s",
    "requests_failed",
    "requests_degraded",
    "jobs_interrupted",
    "jobs_failed_over",
    "gpu_hours_lost",
    "cost_during_usd",
    "affected_services",
    "notes",
];

/// The bytes of `incidents.csv`.
pub fn incidents_csv(incidents: &[IncidentSummary]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(INCIDENTS_CSV_HEADER)?;
    for i in incidents {
        let notes: Vec<String> = i
            .notes
            .iter()
            .map(|(figure, why)| format!("{figure}: {why}"))
            .collect();
        writer.write_record([
            i.name.clone(),
            i.kind.to_string(),
            i.start_s.to_string(),
            cell(i.end_s),
            cell(i.time_to_detect_s),
            cell(i.time_to_recover_s),
            cell(i.backlog_drain_s),
            i.requests_failed.to_string(),
            i.requests_degraded.to_string(),
            i.jobs_interrupted.to_string(),
            i.jobs_failed_over.to_string(),
            i.gpu_hours_lost.to_string(),
            i.cost_during_usd.to_string(),
            i.affected_services.join(";"),
            notes.join("; "),
        ])?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The header of `decisions.csv`.
pub const DECISIONS_CSV_HEADER: [&str; 6] = ["time_s", "kind", "subject", "choice", "alternatives", "reason"];

/// Writes `decisions.csv` to `out`: the log in the order recorded (time order), read back from
/// its spill file as it is written, so the table never sits in memory whole.
pub fn write_decisions_csv(log: &DecisionLog, out: impl std::io::Write) -> Result<(), csv::Error> {
    write_csv(out, &DECISIONS_CSV_HEADER, |emit| {
        log.for_each(|d| {
            emit(&[
                d.time.as_secs_f64().to_string().as_str(),
                d.kind.as_str(),
                &d.subject,
                &d.choice,
                &d.alternatives,
                &d.reason,
            ]);
        })
    })
}
