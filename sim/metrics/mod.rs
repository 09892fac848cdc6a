//! What a run measured: the cost ledger and the [`Summary`] written as `summary.json`.
pub mod ledger;
mod summary;

pub use summary::{CostSummary, EstateSummary, SCHEMA_VERSION, Summary};
