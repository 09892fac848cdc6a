//! `data_local`: compute goes to the data. Jobs run where nothing has to be staged when they
//! can, else where the least has to move; requests take the lowest latency.

use super::lowest_latency;
use crate::policy::{PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, View};

/// Moves compute to the data: places a job where no data has to move (by tier preference, then
/// price), and only where none can run locally, where the least has to move. Routes by lowest
/// expected latency. Never moves a running job: moving it would move its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataLocal;

/// The rank of placements that need data moved, after every local one.
const DATA_MOVES: u32 = 100;

impl Policy for DataLocal {
    fn name(&self) -> &str {
        "data_local"
    }

    fn route_score(&self, _: &RouteRequest, candidate: &RouteCandidate, _: &View<'_>) -> f64 {
        lowest_latency::route_score(candidate)
    }

    fn place_score(&self, _: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
        Some(if c.staging_bytes == 0 {
            Score::ranked(c.preference, c.usd_per_effective_gpu_hour())
        } else {
            Score::ranked(DATA_MOVES, c.staging_bytes as f64 / 1e9)
        })
    }
}
