//! What a run measured: latency histograms, per-service request records, streaming statistics,
//! figures over time, the [`Summary`] written as `summary.json`, and the
//! [`record::RunRecord`] of a finished run that every other output is written from.
pub mod archive;
pub mod histogram;
pub mod job;
pub mod record;
pub mod recovery;
pub mod service;
pub mod stats;
mod summary;
pub mod timeseries;

pub use summary::{
    CostSummary, EstateSummary, InvariantSummary, LatencySummary, ReplicaSummary, RequestCounts,
    SCHEMA_VERSION, ServiceSummary, SloSummary, Summary, TokenSummary,
};
