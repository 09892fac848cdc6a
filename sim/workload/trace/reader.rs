//! Reading a CSV trace file, whatever its rows mean: opening it within [`MAX_TRACE_BYTES`], its
//! header and the columns a format names ([`Header`]), the data rows one by one within a row
//! limit ([`CsvTrace::next_row`]), and each cell as a typed value ([`Row`]). Every failure is a
//! [`TraceError`] naming the file, the line and, for a cell, the column. The formats
//! ([`requests`](super::requests), [`jobs`](super::jobs)) say which columns they need and what a
//! row means.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::TraceError;
use super::time::{TimeUnit, numeric_time};

/// The largest trace file read: 4 GiB.
pub const MAX_TRACE_BYTES: u64 = 4 << 30;

/// How a format names its columns, for the reader's advice when the header or the file is wrong.
pub(crate) enum Format<'f> {
    /// A published layout with fixed column names, e.g. the Azure LLM trace's.
    Named {
        /// Its name in messages, e.g. "Azure LLM".
        name: &'f str,
        /// Its header, in order.
        header: &'f [&'f str],
        /// The columns it needs, as said in messages, e.g. "A, B and C".
        needs: String,
        /// The first field of the `csv(…)` format that describes other files.
        csv_start: &'f str,
    },
    /// A generic `csv(…)` format, whose spec names the columns.
    Generic,
}

impl Format<'_> {
    /// The advice for a file with no header, where one data row is a `row`.
    fn empty_fix(&self, row: &str) -> String {
        let hint = match self {
            Format::Named { header, .. } => format!(" ({})", header.join(",")),
            Format::Generic => String::new(),
        };
        format!("write a header line{hint} and one row per {row}")
    }

    /// The advice for a header that lacks a column.
    fn missing_column_fix(&self) -> String {
        match self {
            Format::Named {
                name,
                needs,
                csv_start,
                ..
            } => format!(
                "the {name} format needs the columns {needs}; rename the header's columns, or \
                 describe the file with format: csv({csv_start}: …)"
            ),
            Format::Generic => {
                "set the format's column names to names in this header (they are case-sensitive)".into()
            }
        }
    }
}

/// Opens `path` for reading, refusing a file over [`MAX_TRACE_BYTES`].
pub(crate) fn open_bounded(path: &Path) -> Result<File, TraceError> {
    let open_error = |source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(open_error)?;
    // A device such as /dev/zero reports no length and never ends.
    if !metadata.is_file() {
        return Err(TraceError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let bytes = metadata.len();
    if bytes > MAX_TRACE_BYTES {
        return Err(TraceError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    File::open(path).map_err(open_error)
}

/// Refuses contents of a trace named `path` over [`MAX_TRACE_BYTES`], as [`open_bounded`] does a
/// file.
pub(crate) fn check_length(path: &Path, bytes: &[u8]) -> Result<(), TraceError> {
    let length = bytes.len() as u64;
    if length > MAX_TRACE_BYTES {
        return Err(TraceError::TooLarge {
            path: path.to_path_buf(),
            bytes: length,
        });
    }
    Ok(())
}

/// Opens `path` as CSV with a header (fields trimmed) and reads the header; an empty file is
/// refused with `empty_fix` as the advice.
pub(crate) fn open_csv(
    path: &Path,
    empty_fix: &str,
) -> Result<(csv::Reader<File>, csv::StringRecord), TraceError> {
    read_csv(path, open_bounded(path)?, empty_fix)
}

/// Reads `input` as CSV with a header (fields trimmed), named `path` in messages, and reads the
/// header; an empty input is refused with `empty_fix` as the advice.
fn read_csv<R: Read>(
    path: &Path,
    input: R,
    empty_fix: &str,
) -> Result<(csv::Reader<R>, csv::StringRecord), TraceError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
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

/// A CSV trace file open for reading: its header, and how far the data rows have been read.
pub(crate) struct CsvTrace<'p> {
    path: &'p Path,
    reader: csv::Reader<Box<dyn Read + 'p>>,
    header: csv::StringRecord,
    missing_column_fix: String,
    record: csv::StringRecord,
    max_rows: u64,
    rows: u64,
    last_line: u64,
}

impl<'p> CsvTrace<'p> {
    /// Opens `path`, laid out as `format` with one `row` (e.g. "request") a data row, and reads
    /// its header (see [`open_csv`]); at most `max_rows` data rows will be read.
    pub(crate) fn open(
        path: &'p Path,
        format: &Format,
        row: &str,
        max_rows: u64,
    ) -> Result<Self, TraceError> {
        Self::read(path, Box::new(open_bounded(path)?), format, row, max_rows)
    }

    /// Like [`CsvTrace::open`], reading the file's contents from `input`; `path` names it in
    /// messages.
    pub(crate) fn read(
        path: &'p Path,
        input: Box<dyn Read + 'p>,
        format: &Format,
        row: &str,
        max_rows: u64,
    ) -> Result<Self, TraceError> {
        let (reader, header) = read_csv(path, input, &format.empty_fix(row))?;
        Ok(CsvTrace {
            path,
            reader,
            header,
            missing_column_fix: format.missing_column_fix(),
            record: csv::StringRecord::new(),
            max_rows,
            rows: 0,
            last_line: 1,
        })
    }

    /// The column `name`, which the format needs.
    pub(crate) fn column(&self, name: &str) -> Result<Column, TraceError> {
        header_column(self.path, &self.header, name, || self.missing_column_fix.clone())
    }

    /// The column `name` if the format names one.
    pub(crate) fn optional(&self, name: Option<&str>) -> Result<Option<Column>, TraceError> {
        name.map(|name| self.column(name)).transpose()
    }

    /// The next data row, or `None` after the last; a row over the limit is an error.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row<'_>>, TraceError> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(csv_error(self.path, e, self.last_line + 1)),
        }
        let line = self
            .record
            .position()
            .map_or(self.last_line + 1, csv::Position::line);
        self.last_line = line;
        self.rows += 1;
        if self.rows > self.max_rows {
            return Err(TraceError::TooManyRows {
                path: self.path.to_path_buf(),
                line,
                limit: self.max_rows,
            });
        }
        Ok(Some(Row {
            path: self.path,
            record: &self.record,
            line,
            number: self.rows,
        }))
    }

    /// The file, as given.
    pub(crate) fn path(&self) -> &'p Path {
        self.path
    }

    /// The data rows read so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// A [`TraceError::Empty`] at the last line read: nothing usable is in the file.
    pub(crate) fn empty(&self, problem: String, fix: &str) -> TraceError {
        TraceError::Empty {
            path: self.path.to_path_buf(),
            line: self.last_line,
            problem,
            fix: fix.into(),
        }
    }
}

/// One data row of a [`CsvTrace`], read cell by cell; errors name its line and the column.
pub(crate) struct Row<'t> {
    path: &'t Path,
    record: &'t csv::StringRecord,
    /// The 1-based line of the file the row is on.
    pub(crate) line: u64,
    /// The 1-based number of the row among the data rows.
    pub(crate) number: u64,
}

impl Row<'_> {
    /// The cell in `column`, as written (trimmed).
    pub(crate) fn text(&self, column: &Column) -> &str {
        column.get(self.record)
    }

    /// A [`TraceError::Unsorted`]: the time in `column` is earlier than `previous_time`, the
    /// time on `previous_line`.
    pub(crate) fn out_of_order(
        &self,
        column: &Column,
        previous_line: u64,
        previous_time: &str,
    ) -> TraceError {
        TraceError::Unsorted {
            path: self.path.to_path_buf(),
            line: self.line,
            column: column.name.clone(),
            time: self.text(column).to_string(),
            previous_line,
            previous_time: previous_time.to_string(),
        }
    }

    /// A [`TraceError::BadValue`] for the cell in `column`.
    pub(crate) fn bad(&self, column: &Column, problem: String, fix: impl Into<String>) -> TraceError {
        TraceError::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            column: column.name.clone(),
            problem,
            fix: fix.into(),
        }
    }

    /// The cell in `column` as a whole number of `what` (e.g. "tokens").
    pub(crate) fn count(&self, column: &Column, what: &str) -> Result<u32, TraceError> {
        parse_count(self.text(column), what)
            .map_err(|problem| self.bad(column, problem, "fix or remove the row"))
    }

    /// The cell in `column` as a time in `unit`, in nanoseconds.
    pub(crate) fn time(&self, column: &Column, unit: TimeUnit) -> Result<u64, TraceError> {
        self.optional_time(column, unit)?.ok_or_else(|| {
            let fix = format!(
                "write a non-negative decimal number of {}, or remove the row",
                unit.as_str()
            );
            self.bad(column, "the time is missing".into(), fix)
        })
    }

    /// The cell in `column` as a time in `unit`, in nanoseconds, or `None` if it is empty.
    pub(crate) fn optional_time(&self, column: &Column, unit: TimeUnit) -> Result<Option<u64>, TraceError> {
        let text = self.text(column);
        if text.is_empty() {
            return Ok(None);
        }
        numeric_time(text, unit)
            .map(Some)
            .map_err(|(problem, fix)| self.bad(column, problem, fix))
    }
}

/// A whole number of `what` (e.g. "tokens"), or what is wrong with `text`.
fn parse_count(text: &str, what: &str) -> Result<u32, String> {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fmt::Debug;
    use std::io::Write;

    /// Writes `text` to a temporary `.csv` file.
    pub(crate) fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    /// Reads `text` from a file with `load`; an error gives the file's path and the message.
    pub(crate) fn load_text<T>(
        text: &str,
        load: impl FnOnce(&Path) -> Result<T, TraceError>,
    ) -> Result<T, (String, String)> {
        let file = file(text);
        load(file.path()).map_err(|e| (file.path().display().to_string(), e.to_string()))
    }

    /// The message of `load` refusing `text`, checked to start with the file and `line`.
    pub(crate) fn refusal<T: Debug>(
        text: &str,
        load: impl FnOnce(&Path) -> Result<T, TraceError>,
        line: u64,
    ) -> String {
        let (path, message) = load_text(text, load).expect_err("the trace should be refused");
        assert!(
            message.starts_with(&format!("trace {path}, line {line}")),
            "{message}"
        );
        message
    }

    /// Reads every row of `path`, a count of things in column `b`, at most `max_rows` rows.
    fn read_all(path: &Path, max_rows: u64) -> Result<u64, TraceError> {
        let mut csv = CsvTrace::open(path, &Format::Generic, "thing", max_rows)?;
        let b = csv.column("b")?;
        while let Some(row) = csv.next_row()? {
            row.count(&b, "things")?;
        }
        Ok(csv.rows())
    }

    #[test]
    fn row_limit_is_enforced() {
        assert_eq!(
            load_text("a,b\n1,2\n3,4\n", |path| read_all(path, 2)).ok(),
            Some(2)
        );
        let got = refusal("a,b\n1,2\n3,4\n5,6\n", |path| read_all(path, 2), 4);
        assert!(
            got.ends_with(
                ": more than 2 rows, the most a trace may hold; cut the file to the part the study needs"
            ),
            "{got}"
        );
    }
}
