//! What scripted incidents do, as data: a few primitive effects that every incident kind is
//! expressed with ([`IncidentKind::effects`](super::IncidentKind::effects)). Each effect names
//! what it acts on by typed id, says how far it reaches ([`Effect::reach`]: the sites, pools and
//! services whose services and jobs it affects) and whether it interrupts work
//! ([`Effect::interrupts`]). The engine (`world::incidents`) applies one effect at a time and
//! keeps what it needs to undo it; an incident's end undoes its effects in reverse order.
//!
//! Names in a scenario become ids through [`IncidentNames`], which the engine implements from the
//! estate, the services and the jobs of a run. A name that does not resolve yields no effect.

use crate::kernel::SimDuration;
use crate::vocab::ids::{LinkId, PoolId, SiteId};
use crate::vocab::{JobId, ServiceId, SiteKind, Tier};
use crate::workload::job::InterruptCause;

use super::CapacityTarget;

/// Turns the names a scenario uses into the typed ids of a run.
pub trait IncidentNames {
    /// The site of this name.
    fn site(&self, name: &str) -> Option<SiteId>;
    /// The pool of this name.
    fn pool(&self, name: &str) -> Option<PoolId>;
    /// The link of this name.
    fn link(&self, name: &str) -> Option<LinkId>;
    /// The service of this name.
    fn service(&self, name: &str) -> Option<ServiceId>;
    /// The job of this name, among the jobs the scenario lists one by one.
    fn job(&self, name: &str) -> Option<JobId>;
    /// Every pool, in id order: its id, its site and the site's kind.
    fn pools(&self) -> Vec<(PoolId, SiteId, SiteKind)>;
    /// Whether a pool has a tier.
    fn has_tier(&self, pool: PoolId, tier: Tier) -> bool;
    /// The links with `site` at one of their ends, in id order.
    fn links_of(&self, site: SiteId) -> Vec<LinkId>;
    /// The sites at the ends of `link`, in id order.
    fn ends_of(&self, link: LinkId) -> Vec<SiteId>;
    /// The warning a pool gives before a spot preemption.
    fn spot_notice(&self, pool: PoolId) -> SimDuration;
}

/// What happens to a set of links.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkChange {
    /// They slow down.
    Degrade {
        /// Multiplies their bandwidth.
        bandwidth_factor: f64,
        /// Added one-way latency.
        added_latency: SimDuration,
        /// Added loss probability.
        loss: f64,
    },
    /// They are cut.
    Down,
}

/// One primitive, reversible change an incident makes to a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A site goes dark: its links, its jobs (interrupted) and its replicas (lost). Undone by
    /// bringing it back.
    SiteDown {
        /// The site.
        site: SiteId,
    },
    /// A pool tier shrinks to a target; holders above it are interrupted, jobs with the lowest
    /// priority first, then replicas. Undone by giving back what was removed.
    ShrinkTier {
        /// The pool.
        pool: PoolId,
        /// The tier.
        tier: Tier,
        /// What is left.
        to: CapacityTarget,
    },
    /// The prices of pool tiers are multiplied by a factor. Undone by dividing by it.
    ScalePrices {
        /// The pool tiers, in pool order.
        targets: Vec<(PoolId, Tier)>,
        /// The multiplier.
        factor: f64,
    },
    /// Links change condition. Undone by setting them back to normal.
    SetLinks {
        /// The links, in id order.
        links: Vec<LinkId>,
        /// What happens to them.
        change: LinkChange,
        /// The sites whose services it affects.
        sites: Vec<SiteId>,
    },
    /// A service's arrival rate is multiplied by a factor, from one origin or all. Undone by
    /// setting the factor back to 1.
    ScaleDemand {
        /// The service.
        service: ServiceId,
        /// Only demand from this origin site.
        origin: Option<SiteId>,
        /// The multiplier.
        factor: f64,
    },
    /// One GPU of a pool fails: the named job's if it runs there, otherwise one drawn at random.
    /// Instant; the GPU's repair is the pool's own, so there is nothing to undo.
    FailGpu {
        /// The pool.
        pool: PoolId,
        /// The job whose GPU fails, if a particular one.
        job: Option<JobId>,
    },
    /// The provider reclaims spot GPUs of a pool with the pool's notice: the named job's, or
    /// every spot holder's. Instant; nothing to undo.
    PreemptSpot {
        /// The pool.
        pool: PoolId,
        /// The job preempted, if a particular one.
        job: Option<JobId>,
        /// The pool's notice.
        notice: SimDuration,
    },
}

/// What an effect reaches: a service is affected if it has a deployment at one of `sites` or in
/// one of `pools`, demand from one of `sites`, or is one of `services`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Sites.
    pub sites: Vec<SiteId>,
    /// Pools.
    pub pools: Vec<PoolId>,
    /// Services.
    pub services: Vec<ServiceId>,
}

/// How an effect interrupts work: the cause its interruptions carry, and how long after it
/// they come (a spot preemption's notice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interruption {
    /// The cause.
    pub cause: InterruptCause,
    /// The delay.
    pub after: SimDuration,
}

impl Effect {
    /// The sites, pools and services it reaches.
    pub fn reach(&self) -> Reach {
        match self {
            Effect::SiteDown { site } => Reach {
                sites: vec![*site],
                ..Reach::default()
            },
            Effect::ShrinkTier { pool, .. }
            | Effect::FailGpu { pool, .. }
            | Effect::PreemptSpot { pool, .. } => Reach {
                pools: vec![*pool],
                ..Reach::default()
            },
            Effect::SetLinks { sites, .. } => Reach {
                sites: sites.clone(),
                ..Reach::default()
            },
            Effect::ScaleDemand { service, .. } => Reach {
                services: vec![*service],
                ..Reach::default()
            },
            Effect::ScalePrices { .. } => Reach::default(),
        }
    }

    /// Whether it interrupts jobs, with which cause and after what delay.
    pub fn interrupts(&self) -> Option<Interruption> {
        let (cause, after) = match self {
            Effect::SiteDown { .. } => (InterruptCause::SiteOutage, SimDuration::ZERO),
            Effect::ShrinkTier { .. } => (InterruptCause::CapacityLoss, SimDuration::ZERO),
            Effect::FailGpu { .. } => (InterruptCause::Failure, SimDuration::ZERO),
            Effect::PreemptSpot { notice, .. } => (InterruptCause::SpotPreemption, *notice),
            Effect::ScalePrices { .. } | Effect::SetLinks { .. } | Effect::ScaleDemand { .. } => return None,
        };
        Some(Interruption { cause, after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_and_interruptions_follow_the_effect() {
        let site = Effect::SiteDown { site: SiteId(2) };
        assert_eq!(site.reach().sites, vec![SiteId(2)]);
        assert_eq!(
            site.interrupts().map(|i| i.cause),
            Some(InterruptCause::SiteOutage)
        );
        let spot = Effect::PreemptSpot {
            pool: PoolId(1),
            job: None,
            notice: SimDuration::from_secs(120),
        };
        assert_eq!(spot.reach().pools, vec![PoolId(1)]);
        assert_eq!(
            spot.interrupts(),
            Some(Interruption {
                cause: InterruptCause::SpotPreemption,
                after: SimDuration::from_secs(120)
            })
        );
        let prices = Effect::ScalePrices {
            targets: vec![(PoolId(0), Tier::Spot)],
            factor: 4.0,
        };
        assert_eq!(prices.reach(), Reach::default());
        assert_eq!(prices.interrupts(), None);
        let demand = Effect::ScaleDemand {
            service: ServiceId(3),
            origin: None,
            factor: 2.0,
        };
        assert_eq!(demand.reach().services, vec![ServiceId(3)]);
    }
}
