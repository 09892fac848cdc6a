//! The capacity tiers of a GPU pool and how each is billed.

use serde::{Deserialize, Serialize};

/// A capacity tier of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Committed cloud capacity, billed every hour whether used or not.
    Reserved,
    /// Owned hardware, billed every hour (amortized capex plus power).
    Owned,
    /// Burst capacity, billed per second allocated.
    OnDemand,
    /// Opportunistic capacity at a variable price, preempted with notice.
    Spot,
}

impl Tier {
    /// Every tier, in a fixed order.
    pub const ALL: [Tier; 4] = [Tier::Reserved, Tier::Owned, Tier::OnDemand, Tier::Spot];

    /// The name used in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Reserved => "reserved",
            Tier::Owned => "owned",
            Tier::OnDemand => "on_demand",
            Tier::Spot => "spot",
        }
    }

    /// Whether the tier bills every hour for its whole count (reserved, owned).
    pub fn is_fixed(self) -> bool {
        matches!(self, Tier::Reserved | Tier::Owned)
    }

    /// The position of the tier in [`Tier::ALL`], for arrays indexed by tier.
    pub fn index(self) -> usize {
        self as usize
    }
}
