//! What a policy sees and what it may ask for: the read-only [`View`] of the run, the
//! [`Signal`]s it is told about, and the [`Action`]s it answers with.
//!
//! The view borrows the estate (sites, pools with free capacity and current prices per tier,
//! links, datasets, the ledger) and, when the engine has them at hand, the workloads (running
//! and waiting jobs, replicas and queues per service and site). Routing and placement decisions
//! are taken deep inside the engine, where only the estate part is available: the per-site load a
//! route needs and the per-pool facts a placement needs come in their candidates instead. Signal
//! handlers always get the whole view.

use crate::infra::estate::Estate;
use crate::infra::network::LinkCondition;
use crate::kernel::{SimDuration, SimTime};
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{JobId, LinkId, PoolId, ServiceId, SiteId};

use super::PlacementCandidate;

/// Something that happened that a policy may want to react to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// A site went down (outage).
    SiteDown {
        /// The site.
        site: SiteId,
    },
    /// A site is back.
    SiteUp {
        /// The site.
        site: SiteId,
    },
    /// A tier's price changed (market move or price shock).
    PriceChange {
        /// The pool.
        pool: PoolId,
        /// The tier.
        tier: Tier,
        /// The new price per GPU-hour.
        usd_per_gpu_hour: f64,
    },
    /// A tier's capacity changed (shortage, availability trace, or its end).
    CapacityChange {
        /// The pool.
        pool: PoolId,
        /// The tier.
        tier: Tier,
        /// GPUs in the tier now.
        capacity: u32,
    },
    /// A job on spot capacity was told it loses its GPUs after `notice`.
    PreemptionNotice {
        /// The job.
        job: JobId,
        /// Its pool.
        pool: PoolId,
        /// Time left.
        notice: SimDuration,
    },
    /// A link's condition changed: an incident degraded it or took it down, or its end set it
    /// back to normal. Routes already follow it; a policy hears of it to move what routes
    /// cannot (replicas behind a cut link, jobs whose staging it slows).
    LinkChange {
        /// The link.
        link: LinkId,
        /// Its condition now.
        condition: LinkCondition,
    },
    /// The periodic control tick the policy asked for with [`super::Policy::tick`].
    Tick,
}

/// What a policy asks the engine to do. The engine checks each action against the state of
/// the run; one that does not apply is rejected and logged, and the run goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Move a running job: it writes a checkpoint (if it has them), gives its GPUs back and is
    /// placed again through [`super::Policy::place`].
    Migrate {
        /// The job.
        job: JobId,
        /// Why, for the decision log.
        reason: String,
    },
    /// Set a service's replica count at a site where it is deployed. New replicas go through
    /// the service's cold start, in its autoscaling tier if the pool has one, else in the tier the
    /// deployment started in; removal takes idle replicas only.
    Scale {
        /// The service.
        service: ServiceId,
        /// The site.
        site: SiteId,
        /// Replicas wanted there.
        replicas: u32,
        /// Why.
        reason: String,
    },
    /// Send a service's requests to its fallback (`active: true`) or back to the service.
    Degrade {
        /// The service.
        service: ServiceId,
        /// Whether requests go to the fallback.
        active: bool,
        /// Why.
        reason: String,
    },
    /// Keep a waiting job from being placed until `until` (checked at the next offer of GPUs to
    /// waiting jobs, at least once a minute).
    Defer {
        /// The job.
        job: JobId,
        /// When it may be placed again.
        until: SimTime,
        /// Why.
        reason: String,
    },
    /// Restart a waiting, interrupted job at `site`, from the best checkpoint copy reachable
    /// from there (a replicated copy when its own site is gone). The pin lasts until the job is
    /// placed or a site comes back up, when every choice is open again.
    Restore {
        /// The job.
        job: JobId,
        /// Where it should run.
        site: SiteId,
        /// Why.
        reason: String,
    },
}

/// Where a job is in its life, as a policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for GPUs.
    Waiting,
    /// Holding GPUs (staging, restoring, computing or checkpointing).
    Running,
}

/// A job that is waiting or holds GPUs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    /// The job.
    pub id: JobId,
    /// Its name.
    pub name: String,
    /// Its class.
    pub class: WorkloadClass,
    /// GPUs in its gang.
    pub gpus: u32,
    /// Its priority.
    pub priority: i32,
    /// Whether it may run on spot capacity.
    pub preemptible: bool,
    /// Waiting or running.
    pub status: JobStatus,
    /// Where it runs, as a placement with nothing left to stage, when running.
    pub current: Option<PlacementCandidate>,
    /// Sites holding a checkpoint copy of it.
    pub checkpoint_sites: Vec<SiteId>,
    /// Reference GPU-hours of work left (from its last durable checkpoint).
    pub remaining_gpu_hours: f64,
}

/// The workload half of a [`View`], implemented by the engine.
pub trait Workloads {
    /// Jobs that are waiting or hold GPUs, in job order.
    fn jobs(&self, estate: &Estate) -> Vec<JobInfo>;
    /// Where `job` could be placed now if it moved (its own GPUs not counted as free), as
    /// [`super::Policy::place`] would be offered them.
    fn placements(&self, estate: &Estate, job: JobId) -> Vec<PlacementCandidate>;
    /// The services' names, in scenario order.
    fn service_names(&self) -> Vec<&str>;
    /// Sites where `service` is deployed.
    fn service_sites(&self, service: ServiceId) -> Vec<SiteId>;
    /// Replicas of `service` at `site` (ready or starting).
    fn replicas(&self, service: ServiceId, site: SiteId) -> u32;
    /// Replicas of `service` at `site` that are ready to serve.
    fn ready_replicas(&self, service: ServiceId, site: SiteId) -> u32;
    /// Requests of `service` queued at `site`.
    fn queued(&self, service: ServiceId, site: SiteId) -> u32;
    /// Whether `service` has a fallback and whether its requests are sent there now.
    fn fallback(&self, service: ServiceId) -> (bool, bool);
}

/// The read-only state of the run a policy decides on.
#[derive(Clone, Copy)]
pub struct View<'a> {
    now: SimTime,
    estate: &'a Estate,
    workloads: Option<&'a dyn Workloads>,
}

impl<'a> View<'a> {
    /// A view of the estate alone (routing and placement).
    pub fn of_estate(now: SimTime, estate: &'a Estate) -> Self {
        View {
            now,
            estate,
            workloads: None,
        }
    }

    /// A view of the estate and the workloads (signals).
    pub fn with_workloads(now: SimTime, estate: &'a Estate, workloads: &'a dyn Workloads) -> Self {
        View {
            now,
            estate,
            workloads: Some(workloads),
        }
    }

    /// The simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The estate: sites, pools and tiers, links, datasets and the cost ledger.
    pub fn estate(&self) -> &'a Estate {
        self.estate
    }

    /// Whether `site` is up.
    pub fn site_up(&self, site: SiteId) -> bool {
        self.estate.sites[site.index()].up
    }

    /// Whether `site` can be reached from elsewhere: it is up and at least one of its links
    /// carries traffic. A site with no links at all counts as reachable (it serves its own
    /// users).
    pub fn site_reachable(&self, site: SiteId) -> bool {
        self.site_up(site) && !self.estate.network.cut_off(site)
    }

    /// A link's name.
    pub fn link_name(&self, link: LinkId) -> &'a str {
        self.estate
            .link_names
            .get(link.index())
            .map_or("?", String::as_str)
    }

    /// The site called `name`.
    pub fn site_named(&self, name: &str) -> Option<SiteId> {
        self.estate.sites.iter().find(|s| s.name == name).map(|s| s.id)
    }

    /// A site's name.
    pub fn site_name(&self, site: SiteId) -> &'a str {
        &self.estate.sites[site.index()].name
    }

    /// A pool's name.
    pub fn pool_name(&self, pool: PoolId) -> &'a str {
        &self.estate.pools[pool.index()].name
    }

    /// GPUs free in a pool's tier (0 when the pool has no such tier).
    pub fn free(&self, pool: PoolId, tier: Tier) -> u32 {
        self.estate.pools[pool.index()].tier(tier).map_or(0, |t| t.free())
    }

    /// The current price per GPU-hour of a pool's tier.
    pub fn price(&self, pool: PoolId, tier: Tier) -> Option<f64> {
        self.estate.pools[pool.index()]
            .tier(tier)
            .map(|t| t.price_per_gpu_hour)
    }

    /// The spend rate, in USD per hour, on capacity paid by use: on-demand and spot GPUs in use
    /// times their current price. Reserved and owned capacity is paid whether used or not, so
    /// it is not part of it.
    pub fn usage_spend_usd_per_hour(&self) -> f64 {
        self.estate
            .pools
            .iter()
            .flat_map(|p| p.tiers())
            .filter(|(tier, _)| !tier.is_fixed())
            .map(|(_, t)| f64::from(t.in_use) * t.price_per_gpu_hour)
            .sum()
    }

    /// The workloads, when this view has them (always in signal handlers).
    pub fn workloads(&self) -> Option<&'a dyn Workloads> {
        self.workloads
    }

    /// Jobs waiting or holding GPUs (empty without workloads).
    pub fn jobs(&self) -> Vec<JobInfo> {
        self.workloads.map(|w| w.jobs(self.estate)).unwrap_or_default()
    }

    /// Where `job` could be placed now (empty without workloads).
    pub fn placements(&self, job: JobId) -> Vec<PlacementCandidate> {
        self.workloads
            .map(|w| w.placements(self.estate, job))
            .unwrap_or_default()
    }

    /// The service called `name`.
    pub fn service_named(&self, name: &str) -> Option<ServiceId> {
        let names = self.workloads?.service_names();
        names.iter().position(|n| *n == name).map(|i| ServiceId(i as u32))
    }

    /// Replicas of `service` at `site` (0 without workloads).
    pub fn replicas(&self, service: ServiceId, site: SiteId) -> u32 {
        self.workloads.map_or(0, |w| w.replicas(service, site))
    }
}
