//! Poisson arrivals: exponential gaps at a constant rate.

use rand_distr::Exp;

use super::{after, draw, exponential};
use crate::kernel::{SimTime, StreamRng};

#[derive(Debug, Clone)]
pub(super) struct Poisson {
    pub(super) rate: f64,
    pub(super) gap: Option<Exp<f64>>,
}

impl Poisson {
    pub(super) fn new(rate: f64) -> Self {
        Poisson {
            rate,
            gap: exponential(rate),
        }
    }

    pub(super) fn next(&self, start: SimTime, rng: &mut StreamRng) -> Option<SimTime> {
        after(start, draw(self.gap.as_ref()?, rng)?)
    }
}
