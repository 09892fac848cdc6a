//! GPU pools and their capacity tiers: how many GPUs each tier can give, how many it gives now,
//! and what a GPU-hour in it costs.

use crate::infra::spec::{OwnedTierSpec, PoolSpec};
use crate::kernel::{SimDuration, SimTime};
use crate::vocab::Tier;
use crate::vocab::ids::{AcceleratorId, PoolId, SiteId};

/// One tier of one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct TierState {
    /// GPUs that can be allocated now (shrinks in a shortage).
    pub capacity: u32,
    /// GPUs the tier was built with (its count or limit), whatever happens to it in the run.
    pub built_capacity: u32,
    /// GPUs allocated now.
    pub in_use: u32,
    /// GPUs billed every hour whatever their use (fixed tiers; 0 otherwise).
    pub billed_count: u32,
    /// Current price per GPU-hour in USD.
    pub price_per_gpu_hour: f64,
    /// Price per GPU-hour at the start of the run.
    pub base_price_per_gpu_hour: f64,
    /// GPU-nanoseconds of use billed since the last fixed-tier billing point.
    pub(crate) used_gpu_ns_since_billing: u128,
    /// End of the period already billed for idle fixed GPUs.
    pub(crate) idle_billed_until: SimTime,
}

impl TierState {
    fn new(count: u64, price: f64, fixed: bool) -> Self {
        // Counts are bounded by the scenario checks (≤ MAX_GPUS_PER_TIER), so they fit in u32.
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        TierState {
            capacity: count,
            built_capacity: count,
            in_use: 0,
            billed_count: if fixed { count } else { 0 },
            price_per_gpu_hour: price,
            base_price_per_gpu_hour: price,
            used_gpu_ns_since_billing: 0,
            idle_billed_until: SimTime::ZERO,
        }
    }

    /// GPUs that could be allocated now.
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.in_use)
    }
}

/// Why GPUs could not be allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The pool has no such tier.
    #[error("pool {pool} has no {tier} tier")]
    NoSuchTier {
        /// The pool's name.
        pool: String,
        /// The tier asked for.
        tier: &'static str,
    },
    /// Not enough free GPUs in the tier.
    #[error("pool {pool} has {free} free {tier} GPUs, {requested} were asked for")]
    Insufficient {
        /// The pool's name.
        pool: String,
        /// The tier asked for.
        tier: &'static str,
        /// GPUs asked for.
        requested: u32,
        /// GPUs free.
        free: u32,
    },
    /// The pool's site is down.
    #[error("pool {pool} is at a site that is down")]
    SiteDown {
        /// The pool's name.
        pool: String,
    },
    /// A gang of zero GPUs.
    #[error("an allocation needs at least one GPU")]
    Empty,
}

/// A pool: one accelerator type at one site.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Its id.
    pub id: PoolId,
    /// Its name.
    pub name: String,
    /// Where it is.
    pub site: SiteId,
    /// What accelerator it has.
    pub accelerator: AcceleratorId,
    /// Its tiers, indexed by [`Tier`]; `None` where the pool lacks the tier.
    tiers: [Option<TierState>; 4],
    /// Warning given before a spot preemption.
    pub spot_notice: SimDuration,
}

/// Hours in the lifetime over which owned hardware is amortized.
fn lifetime_hours(owned: &OwnedTierSpec) -> f64 {
    owned.lifetime.as_secs_f64() / 3_600.0
}

/// Cost of one owned GPU-hour: capex spread over the lifetime, plus power × PUE × energy price.
pub fn owned_price_per_gpu_hour(owned: &OwnedTierSpec) -> f64 {
    let capex = owned.capex_per_gpu.usd() / lifetime_hours(owned);
    let power = owned.power_per_gpu.kilowatts() * owned.pue * owned.energy_price.usd_per_kwh();
    capex + power
}

impl Pool {
    /// A pool from its checked spec.
    pub fn new(id: PoolId, name: String, site: SiteId, accelerator: AcceleratorId, spec: &PoolSpec) -> Self {
        let tiers = [
            spec.reserved
                .as_ref()
                .map(|t| TierState::new(t.count, t.price.usd_per_hour(), true)),
            spec.owned
                .as_ref()
                .map(|t| TierState::new(t.count, owned_price_per_gpu_hour(t), true)),
            spec.on_demand
                .as_ref()
                .map(|t| TierState::new(t.limit, t.price.usd_per_hour(), false)),
            spec.spot
                .as_ref()
                .map(|t| TierState::new(t.limit, t.price.usd_per_hour(), false)),
        ];
        let spot_notice = spec.spot.as_ref().map_or(SimDuration::ZERO, |s| s.notice);
        Pool {
            id,
            name,
            site,
            accelerator,
            tiers,
            spot_notice,
        }
    }

    /// The state of `tier`, if the pool has it.
    pub fn tier(&self, tier: Tier) -> Option<&TierState> {
        self.tiers[tier.index()].as_ref()
    }

    pub(crate) fn tier_mut(&mut self, tier: Tier) -> Option<&mut TierState> {
        self.tiers[tier.index()].as_mut()
    }

    /// The tiers the pool has, in [`Tier::ALL`] order.
    pub fn tiers(&self) -> impl Iterator<Item = (Tier, &TierState)> {
        Tier::ALL.into_iter().filter_map(|t| self.tier(t).map(|s| (t, s)))
    }

    /// Takes `gpus` GPUs from `tier`, or says why not. Never exceeds the tier's capacity.
    pub fn allocate(&mut self, tier: Tier, gpus: u32) -> Result<(), AllocError> {
        if gpus == 0 {
            return Err(AllocError::Empty);
        }
        let name = &self.name;
        let state = self.tiers[tier.index()]
            .as_mut()
            .ok_or_else(|| AllocError::NoSuchTier {
                pool: name.clone(),
                tier: tier.as_str(),
            })?;
        if state.free() < gpus {
            return Err(AllocError::Insufficient {
                pool: name.clone(),
                tier: tier.as_str(),
                requested: gpus,
                free: state.free(),
            });
        }
        state.in_use += gpus;
        debug_assert!(state.in_use <= state.capacity.max(state.billed_count));
        Ok(())
    }

    /// Gives `gpus` GPUs back to `tier`.
    pub fn release(&mut self, tier: Tier, gpus: u32) {
        if let Some(state) = self.tiers[tier.index()].as_mut() {
            debug_assert!(
                state.in_use >= gpus,
                "pool {}: {gpus} GPUs released, {} held",
                self.name,
                state.in_use
            );
            state.in_use = state.in_use.saturating_sub(gpus);
        }
    }

    /// Total GPUs the pool can give now, over all tiers.
    pub fn capacity(&self) -> u64 {
        self.tiers().map(|(_, s)| u64::from(s.capacity)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PoolSpec {
        crate::vocab::ron_options().from_str(text).unwrap()
    }

    fn pool(text: &str) -> Pool {
        Pool::new(PoolId(0), "p".into(), SiteId(0), AcceleratorId(0), &spec(text))
    }

    #[test]
    fn allocation_never_exceeds_capacity_and_says_why() {
        let mut p = pool(r#"(site: "s", accelerator: "a", on_demand: (limit: 8, price: "4 USD/h"))"#);
        p.allocate(Tier::OnDemand, 6).unwrap();
        let err = p.allocate(Tier::OnDemand, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pool p has 2 free on_demand GPUs, 3 were asked for"
        );
        assert_eq!(p.tier(Tier::OnDemand).unwrap().in_use, 6);
        assert!(matches!(
            p.allocate(Tier::Spot, 1),
            Err(AllocError::NoSuchTier { .. })
        ));
        assert_eq!(p.allocate(Tier::OnDemand, 0), Err(AllocError::Empty));
        p.release(Tier::OnDemand, 6);
        p.allocate(Tier::OnDemand, 8).unwrap();
    }

    #[test]
    fn owned_price_is_amortized_capex_plus_power() {
        // 40 000 USD over 4 × 8760 h = 1.141553 USD/h; 1.25 kW × 1.3 × 0.10 USD/kWh = 0.1625 USD/h.
        let p = pool(
            r#"(site: "s", accelerator: "a", owned: (count: 8, capex_per_gpu: "40000 USD", lifetime: "4y",
                 power_per_gpu: "1.25kW", pue: 1.3, energy_price: "0.10 USD/kWh"))"#,
        );
        let price = p.tier(Tier::Owned).unwrap().price_per_gpu_hour;
        approx::assert_relative_eq!(price, 40_000.0 / (4.0 * 8_760.0) + 0.1625, max_relative = 1e-12);
        assert_eq!(p.tier(Tier::Owned).unwrap().billed_count, 8);
    }
}
