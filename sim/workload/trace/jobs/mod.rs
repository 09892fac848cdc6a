//! Job trace files: batch and training job submissions for replay. This module owns what a
//! scenario says about one ([`JobTraceSpec`]), reading and checking it ([`JobTrace::load`]), and
//! the loaded jobs ([`TraceJob`]) with the counts of rows left out ([`SkippedRows`]).
//!
//! Two formats are read:
//!
//! - [`JobTraceFormat::AlibabaPods`], the pod lists of Alibaba's `cluster-trace-gpu-v2023`
//!   (`openb_pod_list_*.csv`, from the USENIX ATC '23 paper "Beware of Fragmentation"):
//!   `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`,
//!   times in seconds. A pod is a job submitted at `creation_time` that holds a gang of `num_gpu`
//!   GPUs for `deletion_time − scheduled_time` (failed pods too: they held their GPUs until they
//!   were deleted). Left out and counted: pods with no GPU, pods never scheduled (`pod_phase`
//!   `Pending` or no `scheduled_time`; a `scheduled_time` of 0 is a real time) and pods without a
//!   `deletion_time`. A GPU-sharing pod (`num_gpu` 1 with `gpu_milli` below 1000) is modelled as
//!   one whole GPU and counted ([`JobTrace::fractional_shares`]). `gpu_spec` lists the accepted
//!   GPU models separated by `|` (empty or `nan`: any). `qos` sets priority and preemption: `LS`
//!   (latency-sensitive) 2 and not preemptible, `Guaranteed` 1 and not preemptible, `Burstable` 1
//!   and preemptible, `BE` (best effort) 0 and preemptible. In the published files many pods end
//!   at the trace's last instant (12902960 s), presumably still running then: replay ends them
//!   there.
//! - [`JobTraceFormat::Csv`], any CSV file with a header: columns of submission times, GPUs and
//!   durations in a [`TimeUnit`], and optionally names, priorities, preemptibility and
//!   accelerators. Rows with 0 GPUs are left out and counted.
//!
//! Every row is checked, including the ones left out. Rows need not be in time order: jobs are
//! sorted stably by submission. Times are read exactly with integer arithmetic and kept as
//! integer nanoseconds. A file is bounded: at most [`MAX_TRACE_BYTES`](super::MAX_TRACE_BYTES)
//! bytes and [`MAX_JOB_TRACE_ROWS`] rows. Errors are [`TraceError`]s: those about the content name
//! the file, the line and the column, what is wrong and how to fix it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::TraceError;
use super::reader::{CsvTrace, Row};
use super::time::{TimeUnit, check_time_scale, own_speed, scale_nanos};
use crate::kernel::SimDuration;
use layout::{Layout, RowKind};

mod layout;

/// The most data rows a job trace may hold: a job in memory is larger than a request (its name
/// and accepted accelerators are strings).
pub const MAX_JOB_TRACE_ROWS: u64 = 5_000_000;

/// What the scenario file says about a job trace, e.g.
/// `(path: "pods.csv", format: alibaba_pods, time_scale: 1.0)`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobTraceSpec {
    /// The trace file, relative to the scenario file.
    pub path: String,
    /// How the file is laid out; Alibaba's GPU pod list by default.
    #[serde(default)]
    pub format: JobTraceFormat,
    /// Multiplies every gap between submissions: 0.5 submits twice as fast, 2 half as fast. Job
    /// durations are not scaled.
    #[serde(default = "own_speed")]
    pub time_scale: f64,
    /// Skip this much of the trace, measured on the trace's own clock (before `time_scale`) from
    /// its earliest row of any kind: jobs submitted earlier are left out.
    #[serde(default)]
    pub start_offset: SimDuration,
    /// Keep at most this many jobs, the earliest after `start_offset`; all by default.
    #[serde(default)]
    pub limit: Option<u64>,
}

impl JobTraceSpec {
    /// A spec for the Alibaba GPU pod list at `path`, replayed whole at its own speed.
    pub fn alibaba(path: impl Into<String>) -> Self {
        JobTraceSpec {
            path: path.into(),
            format: JobTraceFormat::AlibabaPods,
            time_scale: 1.0,
            start_offset: SimDuration::ZERO,
            limit: None,
        }
    }
}

/// How a job trace file is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum JobTraceFormat {
    /// Alibaba's `cluster-trace-gpu-v2023` pod list (`openb_pod_list_*.csv`).
    #[default]
    AlibabaPods,
    /// A CSV file with a header, e.g.
    /// `csv(submit_column: "t", gpus_column: "g", duration_column: "d", time_unit: ms)`.
    Csv {
        /// The column of submission times: relative, non-negative decimal numbers.
        submit_column: String,
        /// The column of GPUs per job (a gang, all held at once); rows with 0 are left out.
        gpus_column: String,
        /// The column of run times: non-negative decimal numbers.
        duration_column: String,
        /// The unit of submission times and durations; seconds by default.
        #[serde(default)]
        time_unit: TimeUnit,
        /// The column of job names; without it job `n` (1-based, in file order) is `job-n`.
        #[serde(default)]
        name_column: Option<String>,
        /// The column of whole-number priorities; without it they are 0.
        #[serde(default)]
        priority_column: Option<String>,
        /// The column saying whether a job may be preempted (`true`/`false`, `yes`/`no`,
        /// `1`/`0`); without it no job may.
        #[serde(default)]
        preemptible_column: Option<String>,
        /// The column of accepted accelerators: empty for any, alternatives separated by `|`;
        /// without it any.
        #[serde(default)]
        accelerator_column: Option<String>,
    },
}

/// One job of a loaded trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceJob {
    /// The job's name from the file.
    pub name: String,
    /// Submission in nanoseconds after the first kept job's, after `time_scale`.
    pub submit_ns: u64,
    /// GPUs held at once for the whole run (a gang), at least 1.
    pub gpus: u32,
    /// Run time in nanoseconds (not scaled).
    pub duration_ns: u64,
    /// Priority: higher is more important.
    pub priority: i32,
    /// Whether the job may be preempted.
    pub preemptible: bool,
    /// Accepted accelerator models, without repeats; empty for any.
    pub accelerators: Vec<String>,
}

/// How many data rows were left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkippedRows {
    /// Rows requesting no GPU (CPU-only pods).
    pub no_gpu: u64,
    /// Pods never scheduled (`Pending`, or no `scheduled_time`).
    pub never_scheduled: u64,
    /// Pods without a `deletion_time`: still running when the trace ended.
    pub unfinished: u64,
    /// Jobs submitted before `start_offset`.
    pub before_offset: u64,
    /// Jobs after the first `limit`.
    pub over_limit: u64,
}

impl SkippedRows {
    /// All rows left out.
    pub fn total(&self) -> u64 {
        self.no_gpu + self.never_scheduled + self.unfinished + self.before_offset + self.over_limit
    }
}

/// A loaded job trace: jobs in submission order (ties in file order), the first submitted at 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTrace {
    jobs: Vec<TraceJob>,
    skipped: SkippedRows,
    fractional_shares: u64,
}

impl JobTrace {
    /// Reads and checks the job trace at `path` (already resolved against the scenario's folder;
    /// errors name it as given) as `spec` describes: keeps the jobs submitted at or after
    /// `spec.start_offset`, at most `spec.limit` of them, and scales their submission gaps by
    /// `spec.time_scale`.
    pub fn load(path: &Path, spec: &JobTraceSpec) -> Result<JobTrace, TraceError> {
        check_time_scale(path, spec.time_scale)?;
        if spec.limit == Some(0) {
            return Err(TraceError::Spec {
                path: path.to_path_buf(),
                problem: "limit 0 keeps no job".into(),
                fix: "remove limit to keep every job, or set it to at least 1".into(),
            });
        }
        let mut csv = CsvTrace::open(path, &spec.format.help(), "job", MAX_JOB_TRACE_ROWS)?;
        let mut candidates = Candidates::new(Layout::find(&csv, &spec.format)?);
        while let Some(row) = csv.next_row()? {
            candidates.add(&row)?;
        }
        candidates.finish(&csv, spec)
    }

    /// The jobs, in submission order.
    pub fn jobs(&self) -> &[TraceJob] {
        &self.jobs
    }

    /// The rows left out, by reason.
    pub fn skipped(&self) -> &SkippedRows {
        &self.skipped
    }

    /// How many kept jobs asked for a fraction of one GPU and were given a whole one.
    pub fn fractional_shares(&self) -> u64 {
        self.fractional_shares
    }
}

/// A usable job before selection: submission on the trace's clock, its line, and whether it
/// asked for a GPU share.
struct Candidate {
    job: TraceJob,
    line: u64,
    fractional: bool,
}

/// The usable jobs of the rows read so far, and the counts of the others.
struct Candidates {
    layout: Layout,
    /// The earliest submission of any row: zero of the trace's clock.
    origin: Option<u64>,
    candidates: Vec<Candidate>,
    skipped: SkippedRows,
}

impl Candidates {
    fn new(layout: Layout) -> Self {
        Candidates {
            layout,
            origin: None,
            candidates: Vec::new(),
            skipped: SkippedRows::default(),
        }
    }

    fn add(&mut self, row: &Row) -> Result<(), TraceError> {
        let (submit, kind) = self.layout.read(row)?;
        self.origin = Some(self.origin.map_or(submit, |origin| origin.min(submit)));
        match kind {
            RowKind::Job(job, fractional) => self.candidates.push(Candidate {
                job,
                line: row.line,
                fractional,
            }),
            RowKind::NoGpu => self.skipped.no_gpu += 1,
            RowKind::NeverScheduled => self.skipped.never_scheduled += 1,
            RowKind::Unfinished => self.skipped.unfinished += 1,
        }
        Ok(())
    }

    fn finish(mut self, csv: &CsvTrace, spec: &JobTraceSpec) -> Result<JobTrace, TraceError> {
        if self.candidates.is_empty() {
            return Err(csv.empty(
                self.why_none_usable(csv.rows()),
                "use a trace with GPU jobs that ran, or check the format",
            ));
        }
        self.candidates.sort_by_key(|c| c.job.submit_ns); // stable: ties stay in file order
        let usable = self.candidates.len();
        let from = self
            .origin
            .unwrap_or(0)
            .saturating_add(spec.start_offset.as_nanos());
        let before = self.candidates.partition_point(|c| c.job.submit_ns < from);
        self.candidates.drain(..before);
        self.skipped.before_offset = before as u64;
        let Some(base) = self.candidates.first().map(|c| c.job.submit_ns) else {
            let problem = format!(
                "no job is submitted at or after start_offset {} (rows read: {}, usable jobs: {usable})",
                spec.start_offset,
                csv.rows()
            );
            return Err(csv.empty(problem, "lower start_offset below the trace's span"));
        };
        if let Some(limit) = spec.limit.and_then(|l| usize::try_from(l).ok())
            && self.candidates.len() > limit
        {
            self.skipped.over_limit = (self.candidates.len() - limit) as u64;
            self.candidates.truncate(limit);
        }
        let mut jobs = Vec::with_capacity(self.candidates.len());
        let mut fractional_shares = 0;
        for Candidate {
            mut job,
            line,
            fractional,
        } in std::mem::take(&mut self.candidates)
        {
            let gap = job.submit_ns - base;
            job.submit_ns =
                scale_nanos(gap, spec.time_scale).ok_or_else(|| self.too_far(csv, line, gap, spec))?;
            fractional_shares += u64::from(fractional);
            jobs.push(job);
        }
        Ok(JobTrace {
            jobs,
            skipped: self.skipped,
            fractional_shares,
        })
    }

    /// Why no row is a usable job, e.g. "all 12 rows request no GPU".
    fn why_none_usable(&self, rows: u64) -> String {
        if rows == 0 {
            return "there are no jobs after the header".into();
        }
        let s = &self.skipped;
        let reasons: Vec<(u64, &str, &str)> = [
            (s.no_gpu, "requests no GPU", "request no GPU"),
            (s.never_scheduled, "was never scheduled", "were never scheduled"),
            (s.unfinished, "has no deletion_time", "have no deletion_time"),
        ]
        .into_iter()
        .filter(|&(n, ..)| n > 0)
        .collect();
        // Every row is left out for one of these reasons.
        match reasons.as_slice() {
            [(1, one, _)] => format!("the only row {one}"),
            [(n, _, many)] => format!("all {n} rows {many}"),
            _ => {
                let mut parts: Vec<String> = reasons
                    .iter()
                    .map(|&(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
                    .collect();
                let last = parts.pop().unwrap_or_default();
                format!(
                    "none of the {rows} rows is a usable job: {} and {last}",
                    parts.join(", ")
                )
            }
        }
    }

    fn too_far(&self, csv: &CsvTrace, line: u64, gap: u64, spec: &JobTraceSpec) -> TraceError {
        let problem = format!(
            "the job comes {} after the first, which times time_scale {} is past the longest replay \
             (about 584 years)",
            SimDuration::from_nanos(gap),
            spec.time_scale
        );
        TraceError::BadValue {
            path: csv.path().to_path_buf(),
            line,
            column: self.layout.submit_column().name.clone(),
            problem,
            fix: "check the time unit and time_scale, or cut the file".into(),
        }
    }
}

#[cfg(test)]
mod tests;
