//! [`TraceError`], the one error of every trace reader: request and job traces, and the price
//! and availability traces of incidents. Errors about a file's content name the file, the 1-based
//! line and, where one is at fault, the column, then say what is wrong and how to fix it.

use std::io;
use std::path::PathBuf;

use super::reader::MAX_TRACE_BYTES;
#[cfg(doc)]
use super::requests::MAX_TRACE_ROWS;

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
    /// The path is not a regular file (a folder, a device, a pipe).
    #[error(
        "trace {}: not a regular file; give the path of a CSV file (relative to the scenario)",
        .path.display()
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
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
