//! Trace files a scenario replays: request traces of inference services ([`requests`]) and job
//! traces of batch and training work ([`jobs`]). Both are CSV files read by one [`reader`], with
//! one error type ([`TraceError`]) and one exact arithmetic of time ([`TimeUnit`], `time_scale`);
//! the incidents' price and availability traces use the same pieces. A format module holds only
//! what is its own: its spec, its columns, what a row means and the checks on it.

mod error;
pub mod jobs;
mod reader;
pub mod requests;
mod time;

pub use error::TraceError;
pub use jobs::{JobTrace, JobTraceFormat, JobTraceSpec, MAX_JOB_TRACE_ROWS, SkippedRows, TraceJob};
pub use reader::MAX_TRACE_BYTES;
pub(crate) use reader::{Column, check_length, csv_error, header_column, open_bounded, open_csv};
pub use requests::{MAX_TRACE_ROWS, Trace, TraceFormat, TraceSpec};
pub use time::TimeUnit;
pub(crate) use time::numeric_time;
