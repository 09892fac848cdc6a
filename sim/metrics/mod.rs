//! Run results: the [`Summary`] written as `summary.json`.
mod summary;

pub use summary::{SCHEMA_VERSION, Summary};
