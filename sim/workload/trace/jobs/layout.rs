//! The rows of a job trace, format by format: where each format's fields are in the header
//! ([`Layout::find`]) and what a data row is ([`Layout::read`]): a job, or a row left out and
//! why. Every field is checked, on rows left out too.

use super::{JobTraceFormat, TraceJob};
use crate::workload::trace::TraceError;
use crate::workload::trace::reader::{Column, CsvTrace, Format, Row};
use crate::workload::trace::time::TimeUnit;

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

impl JobTraceFormat {
    /// How the format names its columns, for advice on a wrong header.
    pub(super) fn help(&self) -> Format<'static> {
        match self {
            JobTraceFormat::AlibabaPods => Format::Named {
                name: "Alibaba pod-list",
                header: &ALIBABA_COLUMNS,
                needs: ALIBABA_COLUMNS.join(", "),
                csv_start: "submit_column",
            },
            JobTraceFormat::Csv { .. } => Format::Generic,
        }
    }
}

/// Where a format's fields are in the header.
pub(super) enum Layout {
    Alibaba(AlibabaColumns),
    Csv(CsvColumns),
}

pub(super) struct AlibabaColumns {
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

pub(super) struct CsvColumns {
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
    pub(super) fn find(csv: &CsvTrace, format: &JobTraceFormat) -> Result<Layout, TraceError> {
        let column = |name: &str| csv.column(name);
        let optional = |name: &Option<String>| csv.optional(name.as_deref());
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

    /// The row's submission on the trace's clock, and what it is.
    pub(super) fn read(&self, row: &Row) -> Result<(u64, RowKind), TraceError> {
        match self {
            Layout::Alibaba(columns) => columns.read(row),
            Layout::Csv(columns) => columns.read(row),
        }
    }

    /// The column of submission times.
    pub(super) fn submit_column(&self) -> &Column {
        match self {
            Layout::Alibaba(c) => &c.creation,
            Layout::Csv(c) => &c.submit,
        }
    }
}

/// What a data row is: a job (with its submission on the trace's clock in `submit_ns`, and
/// whether it asked for a GPU share), or a row left out.
pub(super) enum RowKind {
    Job(TraceJob, bool),
    NoGpu,
    NeverScheduled,
    Unfinished,
}

/// `later` (its column's time) checked not to be before `earlier` in `row`.
fn not_before(
    row: &Row,
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
        row.text(later.0),
        earlier.0.name,
        row.text(earlier.0)
    );
    Err(row.bad(later.0, problem, "correct the times or remove the row"))
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
    fn read(&self, row: &Row) -> Result<(u64, RowKind), TraceError> {
        let gpus = row.count(&self.num_gpu, "GPUs")?;
        let milli = row.count(&self.gpu_milli, "thousandths of a GPU")?;
        let (priority, preemptible) = match row.text(&self.qos) {
            "LS" => (2, false),
            "Guaranteed" => (1, false),
            "Burstable" => (1, true),
            "BE" => (0, true),
            other => {
                let problem = format!("\"{other}\" is not a QoS class of the Alibaba trace");
                let fix = "write LS (latency-sensitive), Guaranteed, Burstable or BE (best effort)";
                return Err(row.bad(&self.qos, problem, fix));
            }
        };
        let pending = match row.text(&self.phase) {
            "Pending" => true,
            "Running" | "Succeeded" | "Failed" => false,
            other => {
                let problem = format!("\"{other}\" is not a pod phase of the Alibaba trace");
                return Err(row.bad(
                    &self.phase,
                    problem,
                    "write Pending, Running, Succeeded or Failed",
                ));
            }
        };
        let created = row.time(&self.creation, TimeUnit::S)?;
        let scheduled = row.optional_time(&self.scheduled, TimeUnit::S)?;
        let deleted = row.optional_time(&self.deletion, TimeUnit::S)?;
        if let Some(scheduled) = scheduled {
            let what = "a pod cannot be scheduled before it is created";
            not_before(row, (&self.scheduled, scheduled), (&self.creation, created), what)?;
            if let Some(deleted) = deleted {
                let what = "a pod cannot end before it starts";
                not_before(row, (&self.deletion, deleted), (&self.scheduled, scheduled), what)?;
            }
        }
        let (scheduled, deleted) = match (gpus, pending, scheduled, deleted) {
            (0, ..) => return Ok((created, RowKind::NoGpu)),
            (_, true, ..) | (_, _, None, _) => return Ok((created, RowKind::NeverScheduled)),
            (_, _, _, None) => return Ok((created, RowKind::Unfinished)),
            (_, false, Some(scheduled), Some(deleted)) => (scheduled, deleted),
        };
        let spec = row.text(&self.gpu_spec);
        let job = TraceJob {
            name: row.text(&self.name).to_string(),
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
        Ok((created, RowKind::Job(job, gpus == 1 && milli < 1000)))
    }
}

impl CsvColumns {
    /// The row's submission time, and what it is.
    fn read(&self, row: &Row) -> Result<(u64, RowKind), TraceError> {
        let submit_ns = row.time(&self.submit, self.unit)?;
        let gpus = row.count(&self.gpus, "GPUs")?;
        let duration_ns = row.time(&self.duration, self.unit)?;
        let priority = match &self.priority {
            None => 0,
            Some(column) => row.text(column).parse::<i32>().map_err(|_| {
                let problem = format!("\"{}\" is not a whole-number priority", row.text(column));
                row.bad(
                    column,
                    problem,
                    "write a whole number such as 0 or 2, or remove the row",
                )
            })?,
        };
        let preemptible = match &self.preemptible {
            None => false,
            Some(column) => match row.text(column).to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                other => {
                    let problem = format!("\"{other}\" is not true or false");
                    return Err(row.bad(column, problem, "write true, false, yes, no, 1 or 0"));
                }
            },
        };
        if gpus == 0 {
            return Ok((submit_ns, RowKind::NoGpu));
        }
        let job = TraceJob {
            name: self
                .name
                .as_ref()
                .map_or_else(|| format!("job-{}", row.number), |c| row.text(c).to_string()),
            submit_ns,
            gpus,
            duration_ns,
            priority,
            preemptible,
            accelerators: self
                .accelerators
                .as_ref()
                .map_or_else(Vec::new, |c| accelerator_list(row.text(c))),
        };
        Ok((submit_ns, RowKind::Job(job, false)))
    }
}
