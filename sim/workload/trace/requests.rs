//! Request trace files: what a scenario says about one ([`TraceSpec`]), reading and checking it
//! ([`Trace::load`], or [`Trace::from_bytes`] for contents already in memory), and the loaded
//! requests, ready for replay by [`ArrivalProcess`](crate::workload::arrivals::ArrivalProcess).
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
//! bounded: at most [`MAX_TRACE_BYTES`](super::MAX_TRACE_BYTES) bytes and [`MAX_TRACE_ROWS`] requests, so a wrong path
//! cannot exhaust memory. Every bad-input error names the file, the line and the column, what is
//! wrong and how to fix it.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::TraceError;
use super::reader::{Column, CsvTrace, Format, Row, check_length};
use super::time::{TimeUnit, check_time_scale, numeric_time, own_speed, scale_nanos};
use crate::kernel::SimDuration;

/// The most requests a trace may hold (memory: 16 bytes a request).
pub const MAX_TRACE_ROWS: u64 = 50_000_000;

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
    #[serde(default = "own_speed")]
    pub time_scale: f64,
    /// Loop the trace: the next copy's first request comes one mean gap after the last request.
    #[serde(default)]
    pub repeat: bool,
    /// Skip this much of the trace, measured on the trace's own clock (before `time_scale`):
    /// replay starts at this point, so a request this long after the first row arrives at once.
    #[serde(default)]
    pub start_offset: SimDuration,
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
        let csv = CsvTrace::open(path, &spec.format.help(), "request", MAX_TRACE_ROWS)?;
        Self::read(csv, spec)
    }

    /// Reads and checks a trace file's contents, `bytes`, as [`Trace::load`] does the file;
    /// `path` names it in messages. Contents over
    /// [`MAX_TRACE_BYTES`](super::MAX_TRACE_BYTES) are refused.
    pub fn from_bytes(path: &Path, bytes: &[u8], spec: &TraceSpec) -> Result<Trace, TraceError> {
        check_time_scale(path, spec.time_scale)?;
        check_length(path, bytes)?;
        let format = spec.format.help();
        let csv = CsvTrace::read(path, Box::new(bytes), &format, "request", MAX_TRACE_ROWS)?;
        Self::read(csv, spec)
    }

    /// Reads the rows of `csv`, whose header has been read.
    fn read(mut csv: CsvTrace, spec: &TraceSpec) -> Result<Trace, TraceError> {
        let mut requests = Requests::new(spec, Columns::find(&csv, &spec.format)?);
        while let Some(row) = csv.next_row()? {
            requests.add(&row)?;
        }
        requests.finish(&csv)
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

/// Where a format's fields are in the header.
#[derive(Debug)]
struct Columns {
    time: Column,
    context: Option<Column>,
    generated: Option<Column>,
    /// Reads the time column.
    clock: Clock,
}

const AZURE_TIME: &str = "TIMESTAMP";
const AZURE_CONTEXT: &str = "ContextTokens";
const AZURE_GENERATED: &str = "GeneratedTokens";

impl Columns {
    fn find(csv: &CsvTrace, format: &TraceFormat) -> Result<Columns, TraceError> {
        Ok(match format {
            TraceFormat::AzureLlm => Columns {
                time: csv.column(AZURE_TIME)?,
                context: Some(csv.column(AZURE_CONTEXT)?),
                generated: Some(csv.column(AZURE_GENERATED)?),
                clock: Clock::Timestamp,
            },
            TraceFormat::Csv {
                time_column,
                time_unit,
                context_column,
                generated_column,
            } => Columns {
                time: csv.column(time_column)?,
                context: csv.optional(context_column.as_deref())?,
                generated: csv.optional(generated_column.as_deref())?,
                clock: Clock::Numeric(*time_unit),
            },
        })
    }
}

impl TraceFormat {
    /// How the format names its columns, for advice on a wrong header.
    fn help(&self) -> Format<'static> {
        match self {
            TraceFormat::AzureLlm => Format::Named {
                name: "Azure LLM",
                header: &[AZURE_TIME, AZURE_CONTEXT, AZURE_GENERATED],
                needs: format!("{AZURE_TIME}, {AZURE_CONTEXT} and {AZURE_GENERATED}"),
                csv_start: "time_column",
            },
            TraceFormat::Csv { .. } => Format::Generic,
        }
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

/// Checks the order of data rows and keeps the requests the spec selects.
struct Requests {
    columns: Columns,
    time_scale: f64,
    skip: u64,
    /// The first row's instant, from which offsets are measured.
    first: Option<i128>,
    /// The previous row's instant, line and time text (for ordering errors).
    previous: Option<(i128, u64)>,
    previous_text: String,
    trace: Trace,
}

impl Requests {
    fn new(spec: &TraceSpec, columns: Columns) -> Self {
        Requests {
            columns,
            time_scale: spec.time_scale,
            skip: spec.start_offset.as_nanos(),
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

    fn add(&mut self, row: &Row) -> Result<(), TraceError> {
        let time_text = row.text(&self.columns.time);
        let raw = self.raw_offset(row, time_text)?;
        let context = tokens(row, self.columns.context.as_ref())?;
        let generated = tokens(row, self.columns.generated.as_ref())?;
        self.previous_text.clear();
        self.previous_text.push_str(time_text);
        if raw < self.skip {
            return Ok(());
        }
        let offset =
            scale_nanos(raw - self.skip, self.time_scale).ok_or_else(|| self.too_far(row, time_text))?;
        self.trace.offsets.push(offset);
        self.trace.context.push(context);
        self.trace.generated.push(generated);
        Ok(())
    }

    /// The row's time in nanoseconds after the first row, checked to be in order.
    fn raw_offset(&mut self, row: &Row, text: &str) -> Result<u64, TraceError> {
        let time = &self.columns.time;
        let instant = (self.columns.clock)
            .instant(text)
            .map_err(|(problem, fix)| row.bad(time, problem, fix))?;
        if let Some((_, previous_line)) = self.previous.filter(|&(previous, _)| instant < previous) {
            return Err(row.out_of_order(time, previous_line, &self.previous_text));
        }
        self.previous = Some((instant, row.line));
        let first = *self.first.get_or_insert(instant);
        u64::try_from(instant - first).map_err(|_| self.too_far(row, text))
    }

    fn too_far(&self, row: &Row, text: &str) -> TraceError {
        let problem = format!(
            "\"{text}\" is too far after the first row: a replayed trace must span less than about 584 years"
        );
        row.bad(
            &self.columns.time,
            problem,
            "check the time unit and time_scale, or cut the file",
        )
    }

    fn finish(self, csv: &CsvTrace) -> Result<Trace, TraceError> {
        if !self.trace.is_empty() {
            return Ok(self.trace);
        }
        Err(if csv.rows() == 0 {
            csv.empty(
                "there are no requests after the header".to_string(),
                "add one row per request",
            )
        } else {
            let problem = format!(
                "no request is at or after start_offset {} ({} rows read)",
                SimDuration::from_nanos(self.skip),
                csv.rows()
            );
            csv.empty(problem, "lower start_offset below the trace's span")
        })
    }
}

/// The tokens in `column`, or 0 without one.
fn tokens(row: &Row, column: Option<&Column>) -> Result<u32, TraceError> {
    column.map_or(Ok(0), |column| row.count(column, "tokens"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::trace::{MAX_TRACE_BYTES, reader};
    use std::path::PathBuf;

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

    /// Loads `text` as a trace file; an error gives the file's path and the message.
    fn load_text(text: &str, spec: &TraceSpec) -> Result<Trace, (String, String)> {
        reader::tests::load_text(text, |path| Trace::load(path, spec))
    }

    /// The error message for `text` read as `spec`, checked to start with the file and line.
    fn message(text: &str, spec: &TraceSpec, line: u64) -> String {
        reader::tests::refusal(text, |path| Trace::load(path, spec), line)
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
        let bad = reader::tests::file("");
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
