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
//! integer nanoseconds. A file is bounded: at most [`MAX_TRACE_BYTES`](super::trace::MAX_TRACE_BYTES)
//! bytes and [`MAX_JOB_TRACE_ROWS`] rows. Errors are [`TraceError`]s: those about the content name
//! the file, the line and the column, what is wrong and how to fix it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::trace::{
    CSV_COLUMN_FIX, Column, TimeUnit, TraceError, check_time_scale, csv_error, header_column, numeric_time,
    one, open_csv, parse_count, scale_nanos,
};
use crate::kernel::SimDuration;

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
    #[serde(default = "one")]
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
        let hint = match spec.format {
            JobTraceFormat::AlibabaPods => format!(" ({})", ALIBABA_COLUMNS.join(",")),
            JobTraceFormat::Csv { .. } => String::new(),
        };
        let (mut reader, header) = open_csv(path, &format!("write a header line{hint} and one row per job"))?;
        let mut rows = Rows::new(path, Layout::find(path, &spec.format, &header)?);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => rows.add(&record)?,
                Ok(false) => return rows.finish(spec),
                Err(e) => return Err(csv_error(path, e, rows.last_line + 1)),
            }
        }
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

/// The columns of the Alibaba pod list that are read, in the order of [`AlibabaColumns`].
const ALIBABA_COLUMNS: [&str; 9] = [
    "name",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
];

/// Where a format's fields are in the header.
enum Layout {
    Alibaba(AlibabaColumns),
    Csv(CsvColumns),
}

struct AlibabaColumns {
    name: Column,
    num_gpu: Column,
    gpu_milli: Column,
    gpu_spec: Column,
    qos: Column,
    phase: Column,
    creation: Column,
    deletion: Column,
    scheduled: Column,
}

struct CsvColumns {
    submit: Column,
    gpus: Column,
    duration: Column,
    unit: TimeUnit,
    name: Option<Column>,
    priority: Option<Column>,
    preemptible: Option<Column>,
    accelerators: Option<Column>,
}

impl Layout {
    fn find(path: &Path, format: &JobTraceFormat, header: &csv::StringRecord) -> Result<Layout, TraceError> {
        let column = |name: &str| {
            header_column(path, header, name, || match format {
                JobTraceFormat::AlibabaPods => format!(
                    "the Alibaba pod-list format needs the columns {}; rename the header's columns, \
                     or describe the file with format: csv(submit_column: …)",
                    ALIBABA_COLUMNS.join(", ")
                ),
                JobTraceFormat::Csv { .. } => CSV_COLUMN_FIX.to_string(),
            })
        };
        let optional = |name: &Option<String>| name.as_deref().map(column).transpose();
        Ok(match format {
            JobTraceFormat::AlibabaPods => {
                let [
                    name,
                    num_gpu,
                    gpu_milli,
                    gpu_spec,
                    qos,
                    phase,
                    creation,
                    deletion,
                    scheduled,
                ] = ALIBABA_COLUMNS;
                Layout::Alibaba(AlibabaColumns {
                    name: column(name)?,
                    num_gpu: column(num_gpu)?,
                    gpu_milli: column(gpu_milli)?,
                    gpu_spec: column(gpu_spec)?,
                    qos: column(qos)?,
                    phase: column(phase)?,
                    creation: column(creation)?,
                    deletion: column(deletion)?,
                    scheduled: column(scheduled)?,
                })
            }
            JobTraceFormat::Csv {
                submit_column,
                gpus_column,
                duration_column,
                time_unit,
                name_column,
                priority_column,
                preemptible_column,
                accelerator_column,
            } => Layout::Csv(CsvColumns {
                submit: column(submit_column)?,
                gpus: column(gpus_column)?,
                duration: column(duration_column)?,
                unit: *time_unit,
                name: optional(name_column)?,
                priority: optional(priority_column)?,
                preemptible: optional(preemptible_column)?,
                accelerators: optional(accelerator_column)?,
            }),
        })
    }

    fn submit_column(&self) -> &Column {
        match self {
            Layout::Alibaba(c) => &c.creation,
            Layout::Csv(c) => &c.submit,
        }
    }
}

/// What a data row is: a job (with its submission on the trace's clock in `submit_ns`, and
/// whether it asked for a GPU share), or a row left out.
enum Row {
    Job(TraceJob, bool),
    NoGpu,
    NeverScheduled,
    Unfinished,
}

/// One data row being read, and where it is for error messages.
struct Cells<'r> {
    path: &'r Path,
    record: &'r csv::StringRecord,
    line: u64,
}

impl Cells<'_> {
    fn text(&self, column: &Column) -> &str {
        column.get(self.record)
    }

    fn bad(&self, column: &Column, problem: String, fix: impl Into<String>) -> TraceError {
        TraceError::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            column: column.name.clone(),
            problem,
            fix: fix.into(),
        }
    }

    fn count(&self, column: &Column, what: &str) -> Result<u32, TraceError> {
        parse_count(self.text(column), what)
            .map_err(|problem| self.bad(column, problem, "fix or remove the row"))
    }

    /// A time in `unit`, or `None` if the field is empty.
    fn optional_time(&self, column: &Column, unit: TimeUnit) -> Result<Option<u64>, TraceError> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        numeric_time(text, unit)
            .map(Some)
            .map_err(|(problem, fix)| self.bad(column, problem, fix))
    }

    fn time(&self, column: &Column, unit: TimeUnit) -> Result<u64, TraceError> {
        self.optional_time(column, unit)?.ok_or_else(|| {
            let fix = format!(
                "write a non-negative decimal number of {}, or remove the row",
                unit.as_str()
            );
            self.bad(column, "the time is missing".into(), fix)
        })
    }

    /// `later` (its column's time) checked not to be before `earlier`.
    fn not_before(
        &self,
        later: (&Column, u64),
        earlier: (&Column, u64),
        what: &str,
    ) -> Result<(), TraceError> {
        if later.1 >= earlier.1 {
            return Ok(());
        }
        let problem = format!(
            "{} {} is before {} {}: {what}",
            later.0.name,
            self.text(later.0),
            earlier.0.name,
            self.text(earlier.0)
        );
        Err(self.bad(later.0, problem, "correct the times or remove the row"))
    }
}

/// Accepted accelerators from `a|b|…`: blanks and repeats dropped, empty for any.
fn accelerator_list(text: &str) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for model in text.split('|').map(str::trim).filter(|m| !m.is_empty()) {
        if !list.iter().any(|m| m == model) {
            list.push(model.to_string());
        }
    }
    list
}

impl AlibabaColumns {
    /// The row's submission on the trace's clock, and what it is.
    fn read(&self, cells: &Cells) -> Result<(u64, Row), TraceError> {
        let gpus = cells.count(&self.num_gpu, "GPUs")?;
        let milli = cells.count(&self.gpu_milli, "thousandths of a GPU")?;
        let (priority, preemptible) = match cells.text(&self.qos) {
            "LS" => (2, false),
            "Guaranteed" => (1, false),
            "Burstable" => (1, true),
            "BE" => (0, true),
            other => {
                let problem = format!("\"{other}\" is not a QoS class of the Alibaba trace");
                let fix = "write LS (latency-sensitive), Guaranteed, Burstable or BE (best effort)";
                return Err(cells.bad(&self.qos, problem, fix));
            }
        };
        let pending = match cells.text(&self.phase) {
            "Pending" => true,
            "Running" | "Succeeded" | "Failed" => false,
            other => {
                let problem = format!("\"{other}\" is not a pod phase of the Alibaba trace");
                return Err(cells.bad(
                    &self.phase,
                    problem,
                    "write Pending, Running, Succeeded or Failed",
                ));
            }
        };
        let created = cells.time(&self.creation, TimeUnit::S)?;
        let scheduled = cells.optional_time(&self.scheduled, TimeUnit::S)?;
        let deleted = cells.optional_time(&self.deletion, TimeUnit::S)?;
        if let Some(scheduled) = scheduled {
            let what = "a pod cannot be scheduled before it is created";
            cells.not_before((&self.scheduled, scheduled), (&self.creation, created), what)?;
            if let Some(deleted) = deleted {
                let what = "a pod cannot end before it starts";
                cells.not_before((&self.deletion, deleted), (&self.scheduled, scheduled), what)?;
            }
        }
        let (scheduled, deleted) = match (gpus, pending, scheduled, deleted) {
            (0, ..) => return Ok((created, Row::NoGpu)),
            (_, true, ..) | (_, _, None, _) => return Ok((created, Row::NeverScheduled)),
            (_, _, _, None) => return Ok((created, Row::Unfinished)),
            (_, false, Some(scheduled), Some(deleted)) => (scheduled, deleted),
        };
        let spec = cells.text(&self.gpu_spec);
        let job = TraceJob {
            name: cells.text(&self.name).to_string(),
            submit_ns: created,
            gpus,
            duration_ns: deleted - scheduled,
            priority,
            preemptible,
            accelerators: if spec == "nan" {
                Vec::new()
            } else {
                accelerator_list(spec)
            },
        };
        Ok((created, Row::Job(job, gpus == 1 && milli < 1000)))
    }
}

impl CsvColumns {
    /// Data row number `row` (1-based): its submission time, and what it is.
    fn read(&self, cells: &Cells, row: u64) -> Result<(u64, Row), TraceError> {
        let submit_ns = cells.time(&self.submit, self.unit)?;
        let gpus = cells.count(&self.gpus, "GPUs")?;
        let duration_ns = cells.time(&self.duration, self.unit)?;
        let priority = match &self.priority {
            None => 0,
            Some(column) => cells.text(column).parse::<i32>().map_err(|_| {
                let problem = format!("\"{}\" is not a whole-number priority", cells.text(column));
                cells.bad(
                    column,
                    problem,
                    "write a whole number such as 0 or 2, or remove the row",
                )
            })?,
        };
        let preemptible = match &self.preemptible {
            None => false,
            Some(column) => match cells.text(column).to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                other => {
                    let problem = format!("\"{other}\" is not true or false");
                    return Err(cells.bad(column, problem, "write true, false, yes, no, 1 or 0"));
                }
            },
        };
        if gpus == 0 {
            return Ok((submit_ns, Row::NoGpu));
        }
        let job = TraceJob {
            name: self
                .name
                .as_ref()
                .map_or_else(|| format!("job-{row}"), |c| cells.text(c).to_string()),
            submit_ns,
            gpus,
            duration_ns,
            priority,
            preemptible,
            accelerators: self
                .accelerators
                .as_ref()
                .map_or_else(Vec::new, |c| accelerator_list(cells.text(c))),
        };
        Ok((submit_ns, Row::Job(job, false)))
    }
}

/// A usable job before selection: submission on the trace's clock, its line, and whether it
/// asked for a GPU share.
struct Candidate {
    job: TraceJob,
    line: u64,
    fractional: bool,
}

/// Reads data rows one by one, within bounds, collecting usable jobs and counting the others.
struct Rows<'a> {
    path: &'a Path,
    layout: Layout,
    max_rows: u64,
    rows: u64,
    last_line: u64,
    /// The earliest submission of any row: zero of the trace's clock.
    origin: Option<u64>,
    candidates: Vec<Candidate>,
    skipped: SkippedRows,
}

impl<'a> Rows<'a> {
    fn new(path: &'a Path, layout: Layout) -> Self {
        Rows {
            path,
            layout,
            max_rows: MAX_JOB_TRACE_ROWS,
            rows: 0,
            last_line: 1,
            origin: None,
            candidates: Vec::new(),
            skipped: SkippedRows::default(),
        }
    }

    fn add(&mut self, record: &csv::StringRecord) -> Result<(), TraceError> {
        let line = record.position().map_or(self.last_line + 1, csv::Position::line);
        self.last_line = line;
        self.rows += 1;
        if self.rows > self.max_rows {
            return Err(TraceError::TooManyRows {
                path: self.path.to_path_buf(),
                line,
                limit: self.max_rows,
            });
        }
        let cells = Cells {
            path: self.path,
            record,
            line,
        };
        let (submit, row) = match &self.layout {
            Layout::Alibaba(columns) => columns.read(&cells)?,
            Layout::Csv(columns) => columns.read(&cells, self.rows)?,
        };
        self.origin = Some(self.origin.map_or(submit, |origin| origin.min(submit)));
        match row {
            Row::Job(job, fractional) => self.candidates.push(Candidate {
                job,
                line,
                fractional,
            }),
            Row::NoGpu => self.skipped.no_gpu += 1,
            Row::NeverScheduled => self.skipped.never_scheduled += 1,
            Row::Unfinished => self.skipped.unfinished += 1,
        }
        Ok(())
    }

    fn finish(mut self, spec: &JobTraceSpec) -> Result<JobTrace, TraceError> {
        if self.candidates.is_empty() {
            return Err(self.empty(
                self.why_none_usable(),
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
                spec.start_offset, self.rows
            );
            return Err(self.empty(problem, "lower start_offset below the trace's span"));
        };
        if let Some(limit) = spec.limit.and_then(|l| usize::try_from(l).ok()) {
            if self.candidates.len() > limit {
                self.skipped.over_limit = (self.candidates.len() - limit) as u64;
                self.candidates.truncate(limit);
            }
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
            job.submit_ns = scale_nanos(gap, spec.time_scale).ok_or_else(|| self.too_far(line, gap, spec))?;
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
    fn why_none_usable(&self) -> String {
        if self.rows == 0 {
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
                    "none of the {} rows is a usable job: {} and {last}",
                    self.rows,
                    parts.join(", ")
                )
            }
        }
    }

    fn empty(&self, problem: String, fix: &str) -> TraceError {
        TraceError::Empty {
            path: self.path.to_path_buf(),
            line: self.last_line,
            problem,
            fix: fix.into(),
        }
    }

    fn too_far(&self, line: u64, gap: u64, spec: &JobTraceSpec) -> TraceError {
        TraceError::BadValue {
            path: self.path.to_path_buf(),
            line,
            column: self.layout.submit_column().name.clone(),
            problem: format!(
                "the job comes {} after the first, which times time_scale {} is past the longest replay \
                 (about 584 years)",
                SimDuration::from_nanos(gap),
                spec.time_scale
            ),
            fix: "check the time unit and time_scale, or cut the file".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alibaba_pods_sample.csv")
    }

    /// Writes `text` to a temporary `.csv` file.
    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn load_text(text: &str, spec: &JobTraceSpec) -> Result<JobTrace, (String, String)> {
        let file = file(text);
        JobTrace::load(file.path(), spec).map_err(|e| (file.path().display().to_string(), e.to_string()))
    }

    fn load_ok(text: &str, spec: &JobTraceSpec) -> JobTrace {
        load_text(text, spec).unwrap_or_else(|(_, e)| panic!("{e}"))
    }

    /// The error message for `text` read as `spec`, checked to start with the file and line.
    fn message(text: &str, spec: &JobTraceSpec, line: u64) -> String {
        let (path, message) = load_text(text, spec).expect_err("the trace should be refused");
        assert!(
            message.starts_with(&format!("trace {path}, line {line}")),
            "{message}"
        );
        message
    }

    fn alibaba() -> JobTraceSpec {
        JobTraceSpec::alibaba("x.csv")
    }

    const HEADER: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";

    /// A pod row with the given GPUs, QoS, phase and times (creation, deletion, scheduled).
    fn pod(name: &str, gpus: u32, qos: &str, phase: &str, times: (&str, &str, &str)) -> String {
        let (created, deleted, scheduled) = times;
        format!("{name},4000,8192,{gpus},1000,,{qos},{phase},{created},{deleted},{scheduled}\n")
    }

    fn csv_spec(time_unit: TimeUnit) -> JobTraceSpec {
        JobTraceSpec {
            format: JobTraceFormat::Csv {
                submit_column: "t".into(),
                gpus_column: "g".into(),
                duration_column: "d".into(),
                time_unit,
                name_column: None,
                priority_column: None,
                preemptible_column: None,
                accelerator_column: None,
            },
            ..JobTraceSpec::alibaba("x.csv")
        }
    }

    #[test]
    fn fixture_matches_an_independent_reading() {
        // Count straight from the file with the csv crate, by the documented rules.
        let mut reader = csv::Reader::from_path(fixture()).unwrap();
        let header = reader.headers().unwrap().clone();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (mut no_gpu, mut never, mut unfinished, mut kept, mut shares) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut gpu_ns: u128 = 0;
        let mut rows = 0;
        for record in reader.records() {
            let r = record.unwrap();
            rows += 1;
            let gpus: u128 = r[at("num_gpu")].parse().unwrap();
            if gpus == 0 {
                no_gpu += 1;
            } else if &r[at("pod_phase")] == "Pending" || r[at("scheduled_time")].is_empty() {
                never += 1;
            } else if r[at("deletion_time")].is_empty() {
                unfinished += 1;
            } else {
                kept += 1;
                let secs = |c: &str| r[at(c)].parse::<u128>().unwrap();
                gpu_ns += gpus * (secs("deletion_time") - secs("scheduled_time")) * 1_000_000_000;
                shares += u64::from(gpus == 1 && r[at("gpu_milli")].parse::<u32>().unwrap() < 1000);
            }
        }
        assert_eq!(
            (rows, no_gpu, never, unfinished, kept, shares),
            (28, 5, 4, 0, 19, 6)
        );

        let trace =
            JobTrace::load(&fixture(), &JobTraceSpec::alibaba("sample")).unwrap_or_else(|e| panic!("{e}"));
        let skipped = *trace.skipped();
        assert_eq!(
            (
                skipped.no_gpu,
                skipped.never_scheduled,
                skipped.unfinished,
                skipped.total()
            ),
            (no_gpu, never, unfinished, rows - kept)
        );
        assert_eq!(trace.jobs().len() as u64, kept);
        assert_eq!(trace.fractional_shares(), shares);
        let total: u128 = trace
            .jobs()
            .iter()
            .map(|j| u128::from(j.gpus) * u128::from(j.duration_ns))
            .sum();
        assert_eq!(total, gpu_ns);

        // openb-pod-0000 is created and scheduled at 0 s: a real time, not "never scheduled".
        let jobs = trace.jobs();
        assert_eq!((jobs[0].name.as_str(), jobs[0].submit_ns), ("openb-pod-0000", 0));
        assert!(jobs.windows(2).all(|w| w[0].submit_ns <= w[1].submit_ns));
        let job = |name: &str| jobs.iter().find(|j| j.name == name).unwrap();
        // Submitted at creation, running from scheduling to deletion.
        let p12 = job("openb-pod-0012");
        assert_eq!(p12.submit_ns, 6_588_193_000_000_000);
        assert_eq!(p12.duration_ns, (10_959_245 - 6_595_531) * 1_000_000_000);
        let p17 = job("openb-pod-0017");
        assert_eq!((p17.gpus, p17.priority, p17.preemptible), (8, 1, true));
        assert_eq!(p17.accelerators, ["G2"]);
        let p129 = job("openb-pod-0129");
        assert_eq!((p129.priority, p129.preemptible), (1, false));
        assert_eq!(p129.accelerators, ["V100M16", "V100M32"]);
        let p22 = job("openb-pod-0022");
        assert_eq!((p22.gpus, p22.priority, p22.preemptible), (1, 0, true));
        assert_eq!(
            (job("openb-pod-0000").priority, job("openb-pod-0000").preemptible),
            (2, false)
        );
        // A repeated alternative in the published file is kept once.
        assert_eq!(job("openb-pod-2308").accelerators, ["V100M16", "V100M32"]);
        assert!(job("openb-pod-0001").accelerators.is_empty());
    }

    #[test]
    fn unfinished_and_never_scheduled_pods_are_counted() {
        let text = format!(
            "{HEADER}{}{}{}{}",
            pod("a", 2, "LS", "Running", ("10", "", "12")),
            pod("b", 1, "BE", "Pending", ("11", "15", "")),
            pod("c", 1, "BE", "Failed", ("13", "20", "")),
            pod("d", 4, "Guaranteed", "Failed", ("14", "18.5", "14")),
        );
        let trace = load_ok(&text, &alibaba());
        let skipped = trace.skipped();
        assert_eq!(
            (skipped.unfinished, skipped.never_scheduled, skipped.no_gpu),
            (1, 2, 0)
        );
        assert_eq!(trace.jobs().len(), 1);
        let d = &trace.jobs()[0];
        assert_eq!(
            (d.name.as_str(), d.submit_ns, d.duration_ns),
            ("d", 0, 4_500_000_000)
        );
        // "nan" (how pandas shows an empty gpu_spec) also means any model.
        let text = format!("{HEADER}p,1,1,1,1000,nan,LS,Running,0,1,0\n");
        assert!(load_ok(&text, &alibaba()).jobs()[0].accelerators.is_empty());
    }

    #[test]
    fn generic_csv_maps_columns_offset_and_scale_exactly() {
        let mut spec = csv_spec(TimeUnit::Ms);
        if let JobTraceFormat::Csv {
            name_column,
            priority_column,
            preemptible_column,
            accelerator_column,
            ..
        } = &mut spec.format
        {
            *name_column = Some("id".into());
            *priority_column = Some("prio".into());
            *preemptible_column = Some("pre".into());
            *accelerator_column = Some("acc".into());
        }
        spec.start_offset = SimDuration::from_millis(280);
        spec.time_scale = 0.5;
        let text = "id,t,g,d,prio,pre,acc\n\
                    a,1000.5,2,1500,3,yes,H100|A100\n\
                    b,250,1,10.25,0,no,\n\
                    c,0,0,5,0,0,\n\
                    d,4000.25,4,0.001,-1,TRUE,H100\n\
                    e,1000.5,1,2,7,False, | A100 |\n\
                    f,300,1,1,0,no,\n";
        let trace = load_ok(text, &spec);
        let names: Vec<&str> = trace.jobs().iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["f", "a", "e", "d"]);
        // The clock starts at the earliest row (c, CPU-only, at 0): b at 250 ms is before 280 ms,
        // f at 300 ms is not.
        assert_eq!(
            *trace.skipped(),
            SkippedRows {
                no_gpu: 1,
                before_offset: 1,
                ..SkippedRows::default()
            }
        );
        // (1000.5 − 300) ms × 0.5 = 350.25 ms and (4000.25 − 300) ms × 0.5 = 1850.125 ms, exactly.
        let submits: Vec<u64> = trace.jobs().iter().map(|j| j.submit_ns).collect();
        assert_eq!(submits, [0, 350_250_000, 350_250_000, 1_850_125_000]);
        let a = &trace.jobs()[1];
        assert_eq!(
            (a.gpus, a.duration_ns, a.priority, a.preemptible),
            (2, 1_500_000_000, 3, true)
        );
        assert_eq!(a.accelerators, ["H100", "A100"]);
        let d = &trace.jobs()[3];
        assert_eq!((d.duration_ns, d.priority, d.preemptible), (1_000, -1, true));
        assert_eq!(trace.jobs()[2].accelerators, ["A100"]);
        assert!(!trace.jobs()[2].preemptible);
        assert_eq!(trace.fractional_shares(), 0);

        spec.limit = Some(2);
        let trace = load_ok(text, &spec);
        assert_eq!(trace.jobs().len(), 2);
        assert_eq!((trace.skipped().over_limit, trace.skipped().total()), (2, 4));
    }

    #[test]
    fn unsorted_rows_are_sorted_stably() {
        let text = "t,g,d\n5,1,1\n1,2,1\n5,3,1\n1,4,1\n3,5,1\n";
        let trace = load_ok(text, &csv_spec(TimeUnit::S));
        let got: Vec<(&str, u64, u32)> = trace
            .jobs()
            .iter()
            .map(|j| (j.name.as_str(), j.submit_ns, j.gpus))
            .collect();
        let s = 1_000_000_000;
        assert_eq!(
            got,
            [
                ("job-2", 0, 2),
                ("job-4", 0, 4),
                ("job-5", 2 * s, 5),
                ("job-1", 4 * s, 1),
                ("job-3", 4 * s, 3)
            ]
        );
        // Enough ties that an unstable sort would reorder some.
        let text = (0..300).fold("t,g,d\n".to_string(), |text, i| {
            text + &format!("{},1,1\n", (300 - i) % 4)
        });
        let trace = load_ok(&text, &csv_spec(TimeUnit::S));
        let order: Vec<(u64, usize)> = trace
            .jobs()
            .iter()
            .map(|j| (j.submit_ns, j.name["job-".len()..].parse().unwrap()))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }

    #[test]
    fn bad_values_name_file_line_and_column() {
        let ok = pod("a", 1, "LS", "Running", ("1", "5", "2"));
        let text = format!("{HEADER}{ok}p,1,1,two,1000,,LS,Running,1,5,2\n");
        let got = message(&text, &alibaba(), 3);
        assert!(
            got.ends_with(
                ", line 3, column num_gpu: \"two\" is not a whole number of GPUs; fix or remove the row"
            ),
            "{got}"
        );
        let text = format!(
            "{HEADER}{ok}{ok}{}",
            pod("b", 1, "Gold", "Running", ("1", "5", "2"))
        );
        let got = message(&text, &alibaba(), 4);
        assert!(
            got.ends_with(
                ", line 4, column qos: \"Gold\" is not a QoS class of the Alibaba trace; \
                 write LS (latency-sensitive), Guaranteed, Burstable or BE (best effort)"
            ),
            "{got}"
        );
        let text = format!("{HEADER}{}", pod("b", 1, "LS", "Done", ("1", "5", "2")));
        assert!(message(&text, &alibaba(), 2).contains("column pod_phase: \"Done\" is not a pod phase"));
        let text = format!("{HEADER}{ok}{}", pod("b", 1, "LS", "Running", ("8", "5", "9")));
        let got = message(&text, &alibaba(), 3);
        assert!(
            got.ends_with(
                ", line 3, column deletion_time: deletion_time 5 is before scheduled_time 9: \
                 a pod cannot end before it starts; correct the times or remove the row"
            ),
            "{got}"
        );
        // Checked on rows that are left out too.
        let text = format!("{HEADER}{}", pod("b", 0, "LS", "Running", ("10", "12", "9")));
        assert!(
            message(&text, &alibaba(), 2)
                .contains("column scheduled_time: scheduled_time 9 is before creation_time 10")
        );
        let text = format!("{HEADER}{}", pod("b", 1, "LS", "Running", ("12:00", "12", "9")));
        let got = message(&text, &alibaba(), 2);
        assert!(
            got.contains("column creation_time: \"12:00\" is not a non-negative decimal number; write a"),
            "{got}"
        );
        let text = format!("{HEADER}{}", pod("b", 1, "LS", "Running", ("", "12", "9")));
        assert!(message(&text, &alibaba(), 2).contains("column creation_time: the time is missing"));

        let mut spec = csv_spec(TimeUnit::Ms);
        if let JobTraceFormat::Csv {
            priority_column,
            preemptible_column,
            ..
        } = &mut spec.format
        {
            *priority_column = Some("p".into());
            *preemptible_column = Some("x".into());
        }
        let got = message("t,g,d,p,x\n1,1,1,high,no\n", &spec, 2);
        assert!(
            got.contains(", line 2, column p: \"high\" is not a whole-number priority"),
            "{got}"
        );
        let got = message("t,g,d,p,x\n1,1,1,0,no\n1,1,1,0,maybe\n", &spec, 3);
        assert!(
            got.contains(", line 3, column x: \"maybe\" is not true or false"),
            "{got}"
        );
        let got = message("t,g,d,p,x\n1,1,,0,no\n", &spec, 2);
        assert!(
            got.contains(
                ", line 2, column d: the time is missing; write a non-negative decimal number of ms"
            )
        );
    }

    #[test]
    fn header_and_shape_errors() {
        let header = HEADER.replace(",qos,", ",class,");
        let got = message(
            &format!("{header}{}", pod("a", 1, "LS", "Running", ("1", "5", "2"))),
            &alibaba(),
            1,
        );
        assert!(
            got.contains("there is no column qos in the header \"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,class,"),
            "{got}"
        );
        assert!(
            got.contains("the Alibaba pod-list format needs the columns name, num_gpu"),
            "{got}"
        );
        let got = message("t,gpus,d\n", &csv_spec(TimeUnit::S), 1);
        assert!(
            got.contains("there is no column g in the header \"t,gpus,d\"; set the format's column names")
        );
        assert!(message("", &alibaba(), 1).contains("the file is empty; write a header line (name,num_gpu,"));
        let got = message(&format!("{HEADER}a,1,1,1,1000,,LS,Running,0,5\n"), &alibaba(), 2);
        assert!(
            got.contains("the row has 10 fields but the header has 11"),
            "{got}"
        );
    }

    #[test]
    fn empty_results_say_why() {
        let spec = csv_spec(TimeUnit::S);
        assert!(message("t,g,d\n", &spec, 1).ends_with(
            "there are no jobs after the header; use a trace with GPU jobs that ran, or check the format"
        ));
        let twelve = "t,g,d\n".to_string() + &"1,0,5\n".repeat(12);
        let got = message(&twelve, &spec, 13);
        assert!(got.contains(", line 13: all 12 rows request no GPU; "), "{got}");
        assert!(message("t,g,d\n1,0,5\n", &spec, 2).contains("the only row requests no GPU"));
        let text = format!(
            "{HEADER}{}{}{}{}",
            pod("a", 0, "LS", "Running", ("1", "5", "2")),
            pod("b", 1, "LS", "Pending", ("1", "5", "")),
            pod("c", 1, "LS", "Pending", ("1", "5", "")),
            pod("d", 1, "LS", "Running", ("1", "", "2")),
        );
        let got = message(&text, &alibaba(), 5);
        assert!(
            got.contains(
                "none of the 4 rows is a usable job: 1 requests no GPU, 2 were never scheduled and \
                 1 has no deletion_time"
            ),
            "{got}"
        );
        let spec = JobTraceSpec {
            start_offset: SimDuration::from_secs(5),
            ..csv_spec(TimeUnit::S)
        };
        let got = message("t,g,d\n0,0,1\n4,1,1\n", &spec, 3);
        assert!(
            got.ends_with("no job is submitted at or after start_offset 5s (rows read: 2, usable jobs: 1); lower start_offset below the trace's span"),
            "{got}"
        );
    }

    #[test]
    fn spec_and_bound_errors() {
        let missing = Path::new("no/such/pods.csv");
        let got = JobTrace::load(missing, &alibaba()).unwrap_err().to_string();
        assert!(
            got.starts_with("trace no/such/pods.csv: cannot read the file"),
            "{got}"
        );
        let spec = JobTraceSpec {
            time_scale: -1.0,
            ..alibaba()
        };
        let got = JobTrace::load(missing, &spec).unwrap_err().to_string();
        assert!(got.contains("time_scale -1 is not a positive number"), "{got}");
        let spec = JobTraceSpec {
            limit: Some(0),
            ..alibaba()
        };
        let got = JobTrace::load(missing, &spec).unwrap_err().to_string();
        assert_eq!(
            got,
            "trace no/such/pods.csv: limit 0 keeps no job; remove limit to keep every job, or set it to at least 1"
        );

        let path = Path::new("x.csv");
        let header = csv::StringRecord::from(vec!["t", "g", "d"]);
        let mut rows = Rows::new(
            path,
            Layout::find(path, &csv_spec(TimeUnit::S).format, &header).unwrap(),
        );
        rows.max_rows = 2;
        let record = csv::StringRecord::from(vec!["1", "1", "1"]);
        rows.add(&record).unwrap();
        rows.add(&record).unwrap();
        assert_eq!(
            rows.add(&record).unwrap_err().to_string(),
            "trace x.csv, line 4: more than 2 rows, the most a trace may hold; cut the file to the part the study needs"
        );
        assert_eq!(MAX_JOB_TRACE_ROWS, 5_000_000);
    }

    #[test]
    fn specs_read_from_ron() {
        let ron = crate::scenario::ron_options();
        let spec: JobTraceSpec = ron
            .from_str("(path: \"p.csv\", format: csv(submit_column: \"t\", gpus_column: \"g\", duration_column: \"d\", time_unit: ms))")
            .unwrap();
        assert_eq!(spec.path, "p.csv");
        assert_eq!(spec.format, csv_spec(TimeUnit::Ms).format);
        assert_eq!(
            (spec.time_scale, spec.start_offset, spec.limit),
            (1.0, SimDuration::ZERO, None)
        );
        let spec: JobTraceSpec = ron
            .from_str("(path: \"pods.csv\", format: alibaba_pods, time_scale: 2.0, start_offset: \"1h\", limit: 100)")
            .unwrap();
        assert_eq!(
            spec,
            JobTraceSpec {
                time_scale: 2.0,
                start_offset: SimDuration::from_hours(1),
                limit: Some(100),
                ..JobTraceSpec::alibaba("pods.csv")
            }
        );
        let spec: JobTraceSpec = ron
            .from_str("(path: \"p.csv\", format: csv(submit_column: \"t\", gpus_column: \"g\", duration_column: \"d\", accelerator_column: \"gpu\"))")
            .unwrap();
        let JobTraceFormat::Csv {
            accelerator_column,
            time_unit,
            ..
        } = &spec.format
        else {
            panic!("{spec:?}")
        };
        assert_eq!(
            (accelerator_column.as_deref(), *time_unit),
            (Some("gpu"), TimeUnit::S)
        );
        assert_eq!(
            ron.from_str::<JobTraceSpec>("(path: \"p.csv\")").unwrap(),
            JobTraceSpec::alibaba("p.csv")
        );
        assert!(
            ron.from_str::<JobTraceSpec>("(path: \"p.csv\", repeat: true)")
                .is_err()
        );
        assert!(
            ron.from_str::<JobTraceSpec>("(path: \"p.csv\", format: csv(submit_column: \"t\"))")
                .is_err()
        );
        let text = ron::to_string(&spec).unwrap();
        assert_eq!(ron.from_str::<JobTraceSpec>(&text).unwrap(), spec);
    }
}
