//! What a run measured: latency histograms, per-service request records,
//! streaming statistics, figures over time, and the [`Summary`] written as `summary.json`.
pub mod histogram;
pub mod job;
pub mod recovery;
pub mod service;
pub mod stats;
mod summary;
pub mod timeseries;

pub use summary::{
    CostSummary, EstateSummary, LatencySummary, ReplicaSummary, RequestCounts, SCHEMA_VERSION,
    ServiceSummary, SloSummary, Summary,
};
