//! The run's headline figures, serialized as `summary.json`.
//!
//! Everything here is a function of the scenario, the seed and the program version: no wall
//! clock, no host names, no map iteration order. Wall-clock figures go to `run.json` instead.

use serde::Serialize;

use crate::kernel::{KernelStats, StopReason};

/// Version of the `summary.json` layout. Bumped whenever a key is renamed or removed or its
/// meaning changes; adding keys does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Layout version of this document.
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The master seed of the run's random streams.
    pub seed: u64,
    /// The random generator and seed derivation.
    pub rng: &'static str,
    /// The simulated horizon in seconds.
    pub horizon_s: f64,
    /// Simulated time when the run stopped, in seconds.
    pub end_time_s: f64,
    /// Why the run stopped.
    pub stop_reason: StopReason,
    /// The kernel's counters.
    pub kernel: KernelStats,
    /// Model figures.
    pub model: serde_json::Value,
}
