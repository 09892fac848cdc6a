//! Request trace files: what a scenario says about one ([`TraceSpec`]), reading and checking it
//! ([`Trace::load`]), and the loaded requests, ready for replay by
//! [`ArrivalProcess`](super::arrivals::ArrivalProcess).
//!
//! Two formats are read:
//!
//! - [`TraceFormat::AzureLlm`], the Azure LLM inference trace (`TIMESTAMP,ContextTokens,GeneratedTokens`,
//!   timestamps like `2023-11-16 18:17:03.9799600`, UTC). A `T` between date and time, a trailing
//!   `Z` and a UTC offset such as `+00:00` are accepted too.
//! - [`TraceFormat::Csv`], any CSV file with a header: a column of relative numeric times in a
//!   [`TimeUnit`] and, optionally, columns of context and generated tokens (missing ones read as 0).
//!
//! Times are read exactly with integer arithmetic (never through `f64`) and kept as integer
//! nanoseconds from the start of replay. Rows must be in non-decreasing time order. A file is
//! bounded: at most [`MAX_TRACE_BYTES`] bytes and [`MAX_TRACE_ROWS`] requests, so a wrong path
//! cannot exhaust memory. Every bad-input error names the file, the line and the column, what is
//! wrong and how to fix it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::kernel::SimDuration;

/// The most requests a trace may hold (memory: 16 bytes a request).
pub const MAX_TRACE_ROWS: u64 = 50_000_000;

/// The largest trace file read: 4 GiB.
pub const MAX_TRACE_BYTES: u64 = 4 << 30;

/// What the scenario file says about a trace, e.g.
/// `(path: "../data/AzureLLMInferenceTrace_conv.csv", time_scale: 0.5, repeat: true)`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// The trace file, relative to the scenario file.
    pub path: String,
    /// How the file is laid out; the Azure LLM format by default.
    #[serde(default)]
    pub format: TraceFormat,
    /// Multiplies every gap between requests: 0.5 replays twice as fast, 2 half as fast.
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Loop the trace: the next copy's first request comes one mean gap after the last request.
    #[serde(default)]
    pub repeat: bool,
    /// Skip this much of the trace, measured on the trace's own clock (before `time_scale`):
    /// replay starts at this point, so a request this long after the first row arrives at once.
    #[serde(default)]
    pub start_offset: SimDuration,
}

pub(crate) fn one() -> f64 {
    1.0
}

impl TraceSpec {
    /// A spec for the Azure LLM trace at `path`, replayed once at its own speed.
    pub fn azure(path: impl Into<String>) -> Self {
        TraceSpec {
            path: path.into(),
            format: TraceFormat::AzureLlm,
            time_scale: 1.0,
            repeat: false,
            start_offset: SimDuration::ZERO,
        }
    }
}

/// How a trace file is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TraceFormat {
    /// The Azure LLM inference trace: `TIMESTAMP,ContextTokens,GeneratedTokens`.
    #[default]
    AzureLlm,
    /// A CSV file with a header, e.g. `csv(time_column: "t", time_unit: ms, context_column: "in")`.
    Csv {
        /// The column of request times: relative, non-negative decimal numbers.
        time_column: String,
        /// The unit of the times; seconds by default.
        #[serde(default)]
        time_unit: TimeUnit,
        /// The column of context (prompt) tokens; without it they are 0.
        #[serde(default)]
        context_column: Option<String>,
        /// The column of generated (output) tokens; without it they are 0.
        #[serde(default)]
        generated_column: Option<String>,
    },
}

/// The unit of numeric times in a CSV trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds.
    #[default]
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl TimeUnit {
    /// Nanoseconds per unit.
    pub const fn nanos(self) -> u64 {
        match self {
            TimeUnit::S => 1_000_000_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::Us => 1_000,
            TimeUnit::Ns => 1,
        }
    }

    /// The name used in files and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }
}

/// A trace that cannot be used. Errors about the file's content name the file, the 1-based line
/// and, where one is at fault, the column.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file cannot be opened or its size read.
    #[error(
        "trace {}: cannot read the file: {source}; check the path (it is relative to the scenario file) and that the file is readable",
        .path.display()
    )]
    Open {
        /// The trace file.
        path: PathBuf,
        /// Why it cannot be read.
        source: io::Error,
    },
    /// The file is larger than [`MAX_TRACE_BYTES`].
    #[error(
        "trace {}: the file is {bytes} bytes, over the limit of 4 GiB ({MAX_TRACE_BYTES} bytes); cut it to the part the study needs",
        .path.display()
    )]
    TooLarge {
        /// The trace file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file holds more data rows than its reader allows ([`MAX_TRACE_ROWS`] for requests).
    #[error(
        "trace {}, line {line}: more than {limit} rows, the most a trace may hold; cut the file to the part the study needs",
        .path.display()
    )]
    TooManyRows {
        /// The trace file.
        path: PathBuf,
        /// The line of the first row over the limit.
        line: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not well-formed CSV at a line (field count, text encoding, a read failure).
    #[error("trace {}, line {line}: {problem}; {fix}", .path.display())]
    Malformed {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// The header lacks a column the format needs.
    #[error(
        "trace {}, line {line}: there is no column {column} in the header \"{header}\"; {fix}",
        .path.display()
    )]
    MissingColumn {
        /// The trace file.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The column that is missing.
        column: String,
        /// The header as found.
        header: String,
        /// How to fix it.
        fix: String,
    },
    /// A field cannot be read.
    #[error("trace {}, line {line}, column {column}: {problem}; {fix}", .path.display())]
    BadValue {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The column.
        column: String,
        /// What is wrong with the value.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// An element of a JSON trace's list cannot be used (e.g. a spot availability trace's `data`).
    #[error(
        "trace {}: element {index} of the list (counting from 0) {problem}; {fix}",
        .path.display()
    )]
    BadElement {
        /// The trace file.
        path: PathBuf,
        /// The element's 0-based position in the list.
        index: u64,
        /// What is wrong with it, e.g. "is -1, a negative number".
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A row's time is earlier than the row before it.
    #[error(
        "trace {}, line {line}, column {column}: {time} is earlier than {previous_time} on line {previous_line}; the rows must be in time order: sort the file by {column}",
        .path.display()
    )]
    Unsorted {
        /// The trace file.
        path: PathBuf,
        /// The line that is out of order.
        line: u64,
        /// The time column.
        column: String,
        /// Its time, as written.
        time: String,
        /// The line before it.
        previous_line: u64,
        /// The earlier row's time, as written.
        previous_time: String,
    },
    /// No requests to replay.
    #[error("trace {}, line {line}: {problem}; {fix}", .path.display())]
    Empty {
        /// The trace file.
        path: PathBuf,
        /// The last line read.
        line: u64,
        /// Why nothing is left.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// The spec cannot be applied to the trace.
    #[error("trace {}: {problem}; {fix}", .path.display())]
    Spec {
        /// The trace file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

/// A loaded trace: request arrival offsets in integer nanoseconds from the start of replay (the
/// first row, or the `start_offset` point), after `time_scale`, in time order, with each
/// request's token counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    offsets: Vec<u64>,
    context: Vec<u32>,
    generated: Vec<u32>,
}

impl Trace {
    /// Reads and checks the trace file at `path` (already resolved against the scenario's
    /// folder; errors name it as given) as `spec` describes, keeping the requests at or after
    /// `spec.start_offset` and scaling their offsets by `spec.time_scale`. `spec.repeat` is
    /// applied at replay.
    pub fn load(path: &Path, spec: &TraceSpec) -> Result<Trace, TraceError> {
        check_time_scale(path, spec.time_scale)?;
        let empty_fix = format!(
            "write a header line{} and one row per request",
            header_hint(&spec.format)
        );
        let (mut reader, header) = open_csv(path, &empty_fix)?;
        let columns = Columns::find(path, &spec.format, &header)?;
        let mut rows = RowReader::new(path, spec, columns);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => rows.add(&record)?,
                Ok(false) => return rows.finish(),
                Err(e) => return Err(csv_error(path, e, rows.last_line + 1)),
            }
        }
    }

    /// The number of requests.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether there are no requests (never true for a loaded trace).
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The span from the start of replay to the last request.
    pub fn duration(&self) -> SimDuration {
        SimDuration::from_nanos(self.offsets.last().copied().unwrap_or(0))
    }

    /// The mean gap between consecutive requests, rounded to the nanosecond; zero for a single
    /// request.
    pub fn mean_gap(&self) -> SimDuration {
        let (Some(&first), Some(&last)) = (self.offsets.first(), self.offsets.last()) else {
            return SimDuration::ZERO;
        };
        let gaps = (self.offsets.len() - 1) as u64;
        if gaps == 0 {
            return SimDuration::ZERO;
        }
        SimDuration::from_nanos((last - first + gaps / 2) / gaps)
    }

    /// Arrival offsets in nanoseconds from the start of replay, non-decreasing.
    pub fn offsets(&self) -> &[u64] {
        &self.offsets
    }

    /// The context and generated tokens of request `i`.
    ///
    /// # Panics
    /// If `i` is not below [`Trace::len`], like slice indexing.
    pub fn tokens(&self, i: usize) -> (u32, u32) {
        (self.context[i], self.generated[i])
    }
}

/// Refuses a `time_scale` that is not a positive finite number.
pub(crate) fn check_time_scale(path: &Path, scale: f64) -> Result<(), TraceError> {
    if scale.is_finite() && scale > 0.0 {
        return Ok(());
    }
    Err(TraceError::Spec {
        path: path.to_path_buf(),
        problem: format!("time_scale {scale} is not a positive number"),
        fix: "write e.g. time_scale: 0.5 to replay twice as fast, or 2.0 for half as fast".into(),
    })
}

/// Opens `path` for reading, refusing a file over [`MAX_TRACE_BYTES`].
pub(crate) fn open_bounded(path: &Path) -> Result<File, TraceError> {
    let open_error = |source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(open_error)?.len();
    if bytes > MAX_TRACE_BYTES {
        return Err(TraceError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    File::open(path).map_err(open_error)
}

/// Opens `path` as CSV with a header (fields trimmed) and reads the header; an empty file is
/// refused with `empty_fix` as the advice.
pub(crate) fn open_csv(
    path: &Path,
    empty_fix: &str,
) -> Result<(csv::Reader<File>, csv::StringRecord), TraceError> {
    let file = open_bounded(path)?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(file);
    let header = reader.headers().map_err(|e| csv_error(path, e, 1))?.clone();
    if header.iter().all(str::is_empty) {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            line: 1,
            problem: "the file is empty".into(),
            fix: empty_fix.into(),
        });
    }
    Ok((reader, header))
}

/// The [`TraceError::Malformed`] for a CSV read failure, at the error's line or else `line`.
pub(crate) fn csv_error(path: &Path, error: csv::Error, line: u64) -> TraceError {
    let line = error.position().map_or(line, csv::Position::line);
    let (problem, fix) = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => (
            format!("the row has {len} fields but the header has {expected_len}"),
            "give every row one field per header column (quote fields that contain commas)",
        ),
        csv::ErrorKind::Utf8 { .. } => (
            "the text is not valid UTF-8".to_string(),
            "save the file as UTF-8",
        ),
        csv::ErrorKind::Io(e) => (
            format!("cannot read the file: {e}"),
            "check that the file is a readable regular file",
        ),
        _ => (error.to_string(), "fix or remove the row"),
    };
    TraceError::Malformed {
        path: path.to_path_buf(),
        line,
        problem,
        fix: fix.into(),
    }
}

/// Where a format's fields are in the header.
#[derive(Debug)]
struct Columns {
    time: Column,
    context: Option<Column>,
    generated: Option<Column>,
    /// Reads the time column.
    clock: Clock,
}

/// A column found in a header: its position and its name.
#[derive(Debug)]
pub(crate) struct Column {
    /// The 0-based position in a row.
    pub(crate) index: usize,
    /// The name, as in the header.
    pub(crate) name: String,
}

impl Column {
    /// The field of this column in `record`; empty if the row is short.
    pub(crate) fn get<'r>(&self, record: &'r csv::StringRecord) -> &'r str {
        record.get(self.index).unwrap_or_default()
    }
}

const AZURE_TIME: &str = "TIMESTAMP";
const AZURE_CONTEXT: &str = "ContextTokens";
const AZURE_GENERATED: &str = "GeneratedTokens";

impl Columns {
    fn find(path: &Path, format: &TraceFormat, header: &csv::StringRecord) -> Result<Columns, TraceError> {
        let column = |name: &str| find_column(path, format, header, name);
        let optional = |name: &Option<String>| name.as_deref().map(column).transpose();
        Ok(match format {
            TraceFormat::AzureLlm => Columns {
                time: column(AZURE_TIME)?,
                context: Some(column(AZURE_CONTEXT)?),
                generated: Some(column(AZURE_GENERATED)?),
                clock: Clock::Timestamp,
            },
            TraceFormat::Csv {
                time_column,
                time_unit,
                context_column,
                generated_column,
            } => Columns {
                time: column(time_column)?,
                context: optional(context_column)?,
                generated: optional(generated_column)?,
                clock: Clock::Numeric(*time_unit),
            },
        })
    }
}

fn header_hint(format: &TraceFormat) -> &'static str {
    match format {
        TraceFormat::AzureLlm => " (TIMESTAMP,ContextTokens,GeneratedTokens)",
        TraceFormat::Csv { .. } => "",
    }
}

fn find_column(
    path: &Path,
    format: &TraceFormat,
    header: &csv::StringRecord,
    name: &str,
) -> Result<Column, TraceError> {
    header_column(path, header, name, || match format {
        TraceFormat::AzureLlm => "the Azure LLM format needs the columns TIMESTAMP, ContextTokens and \
            GeneratedTokens; rename the header's columns, or describe the file with \
            format: csv(time_column: …)"
            .to_string(),
        TraceFormat::Csv { .. } => CSV_COLUMN_FIX.to_string(),
    })
}

/// The fix for a missing column of a generic CSV format.
pub(crate) const CSV_COLUMN_FIX: &str =
    "set the format's column names to names in this header (they are case-sensitive)";

/// The column `name` of `header`, or a [`TraceError::MissingColumn`] advising `fix()`.
pub(crate) fn header_column(
    path: &Path,
    header: &csv::StringRecord,
    name: &str,
    fix: impl FnOnce() -> String,
) -> Result<Column, TraceError> {
    match header.iter().position(|h| h == name) {
        Some(index) => Ok(Column {
            index,
            name: name.to_string(),
        }),
        None => Err(TraceError::MissingColumn {
            path: path.to_path_buf(),
            line: 1,
            column: name.to_string(),
            header: header.iter().collect::<Vec<_>>().join(","),
            fix: fix(),
        }),
    }
}

/// How the time column is read into an instant in nanoseconds.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Calendar timestamps, UTC unless an offset is given.
    Timestamp,
    /// Relative decimal numbers in a unit.
    Numeric(TimeUnit),
}

/// Accepted timestamp layouts; `%.f` reads up to nine fractional digits exactly.
const NAIVE_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"];
const OFFSET_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"];

impl Clock {
    /// The instant `text` stands for, in nanoseconds (since the Unix epoch for timestamps), or
    /// what is wrong with it and how to fix it.
    fn instant(self, text: &str) -> Result<i128, (String, String)> {
        match self {
            Clock::Timestamp => parse_timestamp(text).ok_or_else(|| {
                (
                    format!("\"{text}\" is not a timestamp like \"2023-11-16 18:17:03.9799600\""),
                    "write the date and time as YYYY-MM-DD HH:MM:SS.fffffff (UTC), or remove the row".into(),
                )
            }),
            Clock::Numeric(unit) => numeric_time(text, unit).map(i128::from),
        }
    }
}

/// The relative time `text` in `unit`, read exactly into nanoseconds, or what is wrong with it
/// and how to fix it.
pub(crate) fn numeric_time(text: &str, unit: TimeUnit) -> Result<u64, (String, String)> {
    parse_decimal_nanos(text, unit.nanos()).map_err(|problem| {
        (
            format!("\"{text}\" {problem}"),
            format!(
                "write a non-negative decimal number of {} such as \"1500\" or \"12.25\", or remove the row",
                unit.as_str()
            ),
        )
    })
}

fn parse_timestamp(text: &str) -> Option<i128> {
    let naive_text = text.strip_suffix('Z').unwrap_or(text);
    let naive = NAIVE_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(naive_text, f).ok())
        .map(|t| t.and_utc());
    let utc = naive.or_else(|| {
        OFFSET_FORMATS
            .iter()
            .find_map(|f| DateTime::parse_from_str(text, f).ok())
            .map(|t| t.to_utc())
    })?;
    Some(i128::from(utc.timestamp()) * 1_000_000_000 + i128::from(utc.timestamp_subsec_nanos()))
}

/// `text × per_unit` for a non-negative decimal `text` such as `"12.25"`, exactly; digits below
/// one nanosecond are dropped.
fn parse_decimal_nanos(text: &str, per_unit: u64) -> Result<u64, &'static str> {
    use crate::kernel::time::{DecimalProblem, scale_decimal};
    scale_decimal(text, per_unit).map_err(|problem| match problem {
        DecimalProblem::Malformed => "is not a non-negative decimal number",
        DecimalProblem::Overflow => "is too large: times must stay within about 584 years",
    })
}

/// A whole number of `what` (e.g. "tokens"), or what is wrong with `text`.
pub(crate) fn parse_count(text: &str, what: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err(format!("the number of {what} is missing"));
    }
    text.parse::<u32>().map_err(|_| {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            format!("{text} {what} is more than the most allowed, {}", u32::MAX)
        } else {
            format!("\"{text}\" is not a whole number of {what}")
        }
    })
}

/// `round(n × scale)` computed exactly (halves round up), or `None` if it exceeds `u64`.
/// `scale` must be positive and finite.
pub(crate) fn scale_nanos(n: u64, scale: f64) -> Option<u64> {
    if scale == 1.0 {
        return Some(n);
    }
    // scale = mantissa × 2^exponent exactly.
    let bits = scale.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    let product = u128::from(n) * u128::from(mantissa); // < 2^117
    if product == 0 {
        return Some(0);
    }
    let scaled = if exponent >= 0 {
        let shift = exponent.unsigned_abs();
        if product.leading_zeros() <= shift {
            return None;
        }
        product << shift
    } else {
        let shift = exponent.unsigned_abs();
        if shift >= 120 {
            0
        } else {
            (product + (1u128 << (shift - 1))) >> shift
        }
    };
    u64::try_from(scaled).ok()
}

/// Reads data rows one by one, checking order and bounds, and keeps the selected requests.
struct RowReader<'a> {
    path: &'a Path,
    columns: Columns,
    time_scale: f64,
    skip: u64,
    max_rows: u64,
    rows: u64,
    last_line: u64,
    /// The first row's instant, from which offsets are measured.
    first: Option<i128>,
    /// The previous row's instant, line and time text (for ordering errors).
    previous: Option<(i128, u64)>,
    previous_text: String,
    trace: Trace,
}

impl<'a> RowReader<'a> {
    fn new(path: &'a Path, spec: &TraceSpec, columns: Columns) -> Self {
        RowReader {
            path,
            columns,
            time_scale: spec.time_scale,
            skip: spec.start_offset.as_nanos(),
            max_rows: MAX_TRACE_ROWS,
            rows: 0,
            last_line: 1,
            first: None,
            previous: None,
            previous_text: String::new(),
            trace: Trace {
                offsets: Vec::new(),
                context: Vec::new(),
                generated: Vec::new(),
            },
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
        let time_text = self.columns.time.get(record);
        let raw = self.raw_offset(line, time_text)?;
        let context = self.tokens(record, &self.columns.context, line)?;
        let generated = self.tokens(record, &self.columns.generated, line)?;
        self.previous_text.clear();
        self.previous_text.push_str(time_text);
        if raw < self.skip {
            return Ok(());
        }
        let offset =
            scale_nanos(raw - self.skip, self.time_scale).ok_or_else(|| self.too_far(line, time_text))?;
        self.trace.offsets.push(offset);
        self.trace.context.push(context);
        self.trace.generated.push(generated);
        Ok(())
    }

    /// The row's time in nanoseconds after the first row, checked to be in order.
    fn raw_offset(&mut self, line: u64, text: &str) -> Result<u64, TraceError> {
        let instant = self
            .columns
            .clock
            .instant(text)
            .map_err(|(problem, fix)| self.bad_value(line, &self.columns.time, problem, fix))?;
        if let Some((_, previous_line)) = self.previous.filter(|&(previous, _)| instant < previous) {
            return Err(TraceError::Unsorted {
                path: self.path.to_path_buf(),
                line,
                column: self.columns.time.name.clone(),
                time: text.to_string(),
                previous_line,
                previous_time: self.previous_text.clone(),
            });
        }
        self.previous = Some((instant, line));
        let first = *self.first.get_or_insert(instant);
        u64::try_from(instant - first).map_err(|_| self.too_far(line, text))
    }

    fn tokens(
        &self,
        record: &csv::StringRecord,
        column: &Option<Column>,
        line: u64,
    ) -> Result<u32, TraceError> {
        let Some(column) = column else {
            return Ok(0);
        };
        let text = column.get(record);
        parse_count(text, "tokens")
            .map_err(|problem| self.bad_value(line, column, problem, "fix or remove the row".into()))
    }

    fn bad_value(&self, line: u64, column: &Column, problem: String, fix: String) -> TraceError {
        TraceError::BadValue {
            path: self.path.to_path_buf(),
            line,
            column: column.name.clone(),
            problem,
            fix,
        }
    }

    fn too_far(&self, line: u64, text: &str) -> TraceError {
        let problem = format!(
            "\"{text}\" is too far after the first row: a replayed trace must span less than about 584 years"
        );
        let fix = "check the time unit and time_scale, or cut the file".to_string();
        self.bad_value(line, &self.columns.time, problem, fix)
    }

    fn finish(self) -> Result<Trace, TraceError> {
        if !self.trace.is_empty() {
            return Ok(self.trace);
        }
        let (problem, fix) = if self.rows == 0 {
            (
                "there are no requests after the header".to_string(),
                "add one row per request".to_string(),
            )
        } else {
            (
                format!(
                    "no request is at or after start_offset {} ({} rows read)",
                    SimDuration::from_nanos(self.skip),
                    self.rows
                ),
                "lower start_offset below the trace's span".to_string(),
            )
        };
        Err(TraceError::Empty {
            path: self.path.to_path_buf(),
            line: self.last_line,
            problem,
            fix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn azure_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces/azure-llm-2023")
    }

    fn load_azure(name: &str, spec: &TraceSpec) -> Trace {
        let path = azure_dir().join(name);
        Trace::load(&path, spec).unwrap_or_else(|e| panic!("{e}"))
    }

    const CONV: &str = "AzureLLMInferenceTrace_conv.csv";
    const CODE: &str = "AzureLLMInferenceTrace_code.csv";

    fn mean_tokens(trace: &Trace) -> (f64, f64) {
        let n = trace.len();
        let (context, generated) = (0..n)
            .map(|i| trace.tokens(i))
            .fold((0u64, 0u64), |(c, g), (x, y)| {
                (c + u64::from(x), g + u64::from(y))
            });
        (context as f64 / n as f64, generated as f64 / n as f64)
    }

    fn one_decimal(x: f64) -> String {
        format!("{x:.1}")
    }

    #[test]
    fn conv_trace_matches_the_readme() {
        let trace = load_azure(CONV, &TraceSpec::azure(CONV));
        assert_eq!(trace.len(), 19_366);
        assert_eq!(one_decimal(trace.duration().as_secs_f64()), "3501.7");
        // 19:14:08.4025270 − 18:15:46.6805900, by hand.
        assert_eq!(trace.duration(), SimDuration::from_nanos(3_501_721_937_000));
        let (context, generated) = mean_tokens(&trace);
        assert_eq!(
            (one_decimal(context), one_decimal(generated)),
            ("1154.7".into(), "211.1".into())
        );
        // 18:15:46.6805900, :50.9951690, :51.2224670, :51.3910170, :52.5732450.
        let first = [0, 4_314_579_000, 4_541_877_000, 4_710_427_000, 5_892_655_000];
        assert_eq!(&trace.offsets()[..5], &first);
        assert_eq!((trace.tokens(0), trace.tokens(1)), ((374, 44), (396, 109)));
        assert!(trace.offsets().windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn code_trace_matches_the_readme() {
        let trace = load_azure(CODE, &TraceSpec::azure(CODE));
        assert_eq!(trace.len(), 8_819);
        assert_eq!(one_decimal(trace.duration().as_secs_f64()), "3435.9");
        assert_eq!(trace.duration(), SimDuration::from_nanos(3_435_948_056_000));
        let (context, generated) = mean_tokens(&trace);
        assert_eq!(
            (one_decimal(context), one_decimal(generated)),
            ("2047.8".into(), "27.9".into())
        );
        assert_eq!(&trace.offsets()[..4], &[0, 52_000_000, 98_189_000, 140_684_000]);
    }

    #[test]
    fn time_scale_halves_the_span_exactly() {
        let full = load_azure(CONV, &TraceSpec::azure(CONV));
        let spec = TraceSpec {
            time_scale: 0.5,
            ..TraceSpec::azure(CONV)
        };
        let half = load_azure(CONV, &spec);
        assert_eq!(half.duration().as_nanos() * 2, full.duration().as_nanos());
        let halved: Vec<u64> = full.offsets().iter().map(|o| o / 2).collect();
        assert_eq!(half.offsets(), halved.as_slice());
        assert!(full.offsets().iter().all(|o| o % 2 == 0));
    }

    #[test]
    fn start_offset_skips_on_the_traces_own_clock() {
        let full = load_azure(CONV, &TraceSpec::azure(CONV));
        let skip = SimDuration::from_secs(600);
        let spec = TraceSpec {
            start_offset: skip,
            time_scale: 2.0,
            ..TraceSpec::azure(CONV)
        };
        let rest = load_azure(CONV, &spec);
        let kept: Vec<u64> = full
            .offsets()
            .iter()
            .filter(|&&o| o >= skip.as_nanos())
            .map(|o| (o - skip.as_nanos()) * 2)
            .collect();
        assert_eq!(rest.offsets(), kept.as_slice());
        assert_eq!(rest.tokens(0), full.tokens(full.len() - rest.len()));
    }

    #[test]
    fn scaling_is_exact_and_rounds_half_up() {
        assert_eq!(scale_nanos(u64::MAX, 1.0), Some(u64::MAX));
        assert_eq!(scale_nanos((1 << 60) + 1, 0.5), Some((1 << 59) + 1));
        assert_eq!(scale_nanos((1 << 60) + 3, 2.0), Some((1 << 61) + 6));
        assert_eq!(scale_nanos(3, 0.5), Some(2));
        assert_eq!(scale_nanos(10, 0.25), Some(3));
        assert_eq!(scale_nanos(9, 0.25), Some(2));
        assert_eq!(scale_nanos(1_000_000_000, 1.5), Some(1_500_000_000));
        assert_eq!(scale_nanos(u64::MAX, 2.0), None);
        assert_eq!(scale_nanos(7, f64::MIN_POSITIVE), Some(0));
        assert_eq!(scale_nanos(0, 1e300), Some(0));
        // 0.1 is not exact in binary: the product is of the double nearest 0.1.
        assert_eq!(scale_nanos(10_000_000_000, 0.1), Some(1_000_000_000));
    }

    #[test]
    fn decimals_are_read_exactly() {
        assert_eq!(parse_decimal_nanos("12.25", 1_000_000), Ok(12_250_000));
        assert_eq!(parse_decimal_nanos(".5", 1_000_000_000), Ok(500_000_000));
        assert_eq!(parse_decimal_nanos("3.", 1_000), Ok(3_000));
        assert_eq!(
            parse_decimal_nanos("1.0000000019", 1_000_000_000),
            Ok(1_000_000_001)
        );
        for bad in ["", ".", "-1", "1e3", "1.2.3", "+4", " 1"] {
            assert!(parse_decimal_nanos(bad, 1).is_err(), "{bad}");
        }
        assert!(parse_decimal_nanos("18446744073709551616", 1).is_err());
        assert!(parse_decimal_nanos("18446744074", 1_000_000_000).is_err());
    }

    #[test]
    fn timestamps_are_read_exactly_in_several_forms() {
        let base = parse_timestamp("2023-11-16 18:17:03.9799600").unwrap();
        for (text, nanos) in [
            ("2023-11-16 18:17:03.97996", 0),
            ("2023-11-16T18:17:03.979960001", 1),
            ("2023-11-16 18:17:04", 20_040_000),
            ("2023-11-16 18:17:04.0000000Z", 20_040_000),
            ("2023-11-16 18:17:04.000000+00:00", 20_040_000),
            ("2023-11-16 19:17:04+01:00", 20_040_000),
            ("2023-11-17 18:17:03.9799600", 86_400_000_000_000),
        ] {
            assert_eq!(parse_timestamp(text).map(|t| t - base), Some(nanos), "{text}");
        }
        for bad in [
            "",
            "2023-11-16",
            "2023-13-16 18:17:03",
            "2023-02-30 00:00:00",
            "18:17:03.97",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    /// Writes `text` to a temporary `.csv` file.
    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    /// Loads `text` as a trace file; an error gives the file's path and the message.
    fn load_text(text: &str, spec: &TraceSpec) -> Result<Trace, (String, String)> {
        let file = file(text);
        Trace::load(file.path(), spec).map_err(|e| (file.path().display().to_string(), e.to_string()))
    }

    /// The error message for `text` read as `spec`, checked to start with the file and line.
    fn message(text: &str, spec: &TraceSpec, line: u64) -> String {
        let (path, message) = load_text(text, spec).expect_err("the trace should be refused");
        assert!(
            message.starts_with(&format!("trace {path}, line {line}")),
            "{message}"
        );
        message
    }

    const HEADER: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
    const ROW: &str = "2023-11-16 18:17:03.9799600,4808,10\n";

    fn azure() -> TraceSpec {
        TraceSpec::azure("x.csv")
    }

    #[test]
    fn bad_tokens_name_line_and_column() {
        let text = format!("{HEADER}{ROW}{ROW}2023-11-16 18:17:04.0,abc,8\n");
        let got = message(&text, &azure(), 4);
        assert!(
            got.ends_with(
                ", line 4, column ContextTokens: \"abc\" is not a whole number of tokens; fix or remove the row"
            ),
            "{got}"
        );
        let text = format!("{HEADER}{ROW}2023-11-16 18:17:04.0,5,-3\n");
        assert!(message(&text, &azure(), 3).contains("column GeneratedTokens: \"-3\" is not a whole"));
        let text = format!("{HEADER}2023-11-16 18:17:04.0,5,\n");
        assert!(
            message(&text, &azure(), 2).contains("column GeneratedTokens: the number of tokens is missing")
        );
        let text = format!("{HEADER}2023-11-16 18:17:04.0,5000000000,1\n");
        assert!(message(&text, &azure(), 2).contains("5000000000 tokens is more than the most allowed"));
    }

    #[test]
    fn bad_timestamps_name_line_and_column() {
        let text = format!("{HEADER}{ROW}2023-11-16 25:17:03.9,1,1\n");
        let got = message(&text, &azure(), 3);
        assert!(
            got.contains(", line 3, column TIMESTAMP: \"2023-11-16 25:17:03.9\" is not a timestamp like"),
            "{got}"
        );
        assert!(got.contains("YYYY-MM-DD HH:MM:SS.fffffff"), "{got}");
    }

    #[test]
    fn unsorted_rows_name_both_lines() {
        let text = format!("{HEADER}{ROW}2023-11-16 18:17:05.0,1,1\n2023-11-16 18:17:04.5,1,1\n");
        let got = message(&text, &azure(), 4);
        assert!(
            got.ends_with(
                ", line 4, column TIMESTAMP: 2023-11-16 18:17:04.5 is earlier than 2023-11-16 18:17:05.0 \
                 on line 3; the rows must be in time order: sort the file by TIMESTAMP"
            ),
            "{got}"
        );
        // A byte-order mark before the header is ignored.
        assert!(load_text(&format!("\u{feff}{HEADER}{ROW}"), &azure()).is_ok());
        // Equal times are in order.
        assert_eq!(
            load_text(&format!("{HEADER}{ROW}{ROW}"), &azure())
                .map(|t| t.len())
                .ok(),
            Some(2)
        );
    }

    #[test]
    fn header_and_shape_errors() {
        let got = message("TIMESTAMP,Context,GeneratedTokens\n", &azure(), 1);
        assert!(
            got.contains(
                "there is no column ContextTokens in the header \"TIMESTAMP,Context,GeneratedTokens\"; \
                 the Azure LLM format needs"
            ),
            "{got}"
        );
        assert!(
            message(HEADER, &azure(), 1)
                .ends_with("there are no requests after the header; add one row per request")
        );
        assert!(message("", &azure(), 1).contains("the file is empty"));
        let got = message(&format!("{HEADER}{ROW}2023-11-16 18:17:04.0,1\n"), &azure(), 3);
        assert!(got.contains("the row has 2 fields but the header has 3"), "{got}");
        let mut bytes = format!("{HEADER}{ROW}").into_bytes();
        bytes.extend_from_slice(b"2023-11-16 18:17:04.0,1,\xff1\n");
        let bad = file("");
        std::fs::write(bad.path(), bytes).unwrap();
        let got = Trace::load(bad.path(), &azure()).unwrap_err().to_string();
        assert!(
            got.contains(", line 3: the text is not valid UTF-8; save the file as UTF-8"),
            "{got}"
        );
        let spec = TraceSpec {
            start_offset: SimDuration::from_secs(5),
            ..azure()
        };
        let got = message(&format!("{HEADER}{ROW}{ROW}"), &spec, 3);
        assert!(
            got.contains("no request is at or after start_offset 5s (2 rows read)"),
            "{got}"
        );
    }

    #[test]
    fn file_level_errors_name_the_file() {
        let missing = Path::new("no/such/trace.csv");
        let got = Trace::load(missing, &azure()).unwrap_err().to_string();
        assert!(
            got.starts_with("trace no/such/trace.csv: cannot read the file"),
            "{got}"
        );
        let spec = TraceSpec {
            time_scale: 0.0,
            ..azure()
        };
        let got = Trace::load(missing, &spec).unwrap_err().to_string();
        assert!(got.contains("time_scale 0 is not a positive number"), "{got}");
        // A sparse file over the size limit is refused before it is read.
        let big = tempfile::NamedTempFile::new().unwrap();
        big.as_file().set_len(MAX_TRACE_BYTES + 1).unwrap();
        let got = Trace::load(big.path(), &azure()).unwrap_err().to_string();
        assert!(got.contains("over the limit of 4 GiB"), "{got}");
    }

    #[test]
    fn row_limit_is_enforced() {
        let path = Path::new("x.csv");
        let header = csv::StringRecord::from(vec![AZURE_TIME, AZURE_CONTEXT, AZURE_GENERATED]);
        let columns = Columns::find(path, &TraceFormat::AzureLlm, &header).unwrap();
        let mut rows = RowReader::new(path, &azure(), columns);
        rows.max_rows = 2;
        let record = csv::StringRecord::from(vec!["2023-11-16 18:17:03.9799600", "1", "1"]);
        rows.add(&record).unwrap();
        rows.add(&record).unwrap();
        let got = rows.add(&record).unwrap_err().to_string();
        assert_eq!(
            got,
            "trace x.csv, line 4: more than 2 rows, the most a trace may hold; cut the file to the part \
             the study needs"
        );
    }

    #[test]
    fn generic_csv_maps_columns_and_units() {
        let spec = TraceSpec {
            format: TraceFormat::Csv {
                time_column: "t_ms".into(),
                time_unit: TimeUnit::Ms,
                context_column: Some("prompt".into()),
                generated_column: None,
            },
            ..TraceSpec::azure("x.csv")
        };
        let text = "id, t_ms ,prompt\na,1000.5,7\nb, 1000.5,8\nc,2500.25,9\n";
        let trace = load_text(text, &spec).unwrap_or_else(|(_, e)| panic!("{e}"));
        assert_eq!(trace.offsets(), &[0, 0, 1_499_750_000]);
        assert_eq!(trace.tokens(2), (9, 0));
        assert_eq!(trace.mean_gap(), SimDuration::from_nanos(749_875_000));
        let got = message("id,t_ms,prompt\na,1e3,7\n", &spec, 2);
        assert!(
            got.contains("column t_ms: \"1e3\" is not a non-negative decimal number; write a non-negative decimal number of ms"),
            "{got}"
        );
        let got = message("id,time,prompt\n", &spec, 1);
        assert!(
            got.contains("no column t_ms in the header \"id,time,prompt\"; set the format's column names"),
            "{got}"
        );
    }

    #[test]
    fn specs_read_from_ron() {
        let spec: TraceSpec = ron::from_str(
            "(path: \"t.csv\", format: csv(time_column: \"t\", time_unit: us, generated_column: Some(\"out\")), \
             time_scale: 0.5, repeat: true, start_offset: \"10m\")",
        )
        .unwrap();
        assert_eq!(
            spec.format,
            TraceFormat::Csv {
                time_column: "t".into(),
                time_unit: TimeUnit::Us,
                context_column: None,
                generated_column: Some("out".into()),
            }
        );
        assert_eq!((spec.time_scale, spec.repeat), (0.5, true));
        assert_eq!(spec.start_offset, SimDuration::from_secs(600));
        let spec: TraceSpec = ron::from_str("(path: \"t.csv\")").unwrap();
        assert_eq!(spec, TraceSpec::azure("t.csv"));
        assert!(ron::from_str::<TraceSpec>("(path: \"t.csv\", speed: 2.0)").is_err());
        assert!(
            ron::from_str::<TraceSpec>("(path: \"t.csv\", format: csv(time_column: \"t\", unit: s))")
                .is_err()
        );
        let text = ron::to_string(&spec).unwrap();
        assert_eq!(ron::from_str::<TraceSpec>(&text).unwrap(), spec);
    }
}
