//! The estate at run time: sites, accelerators, pools, datasets and the network, built from a
//! checked scenario, plus the allocations of GPUs to workloads and the billing that follows
//! from them.
//!
//! Billing rules (all charges go to the [`Ledger`]):
//! - a workload holding GPUs pays the tier's current price per GPU-hour for every nanosecond
//!   held (`compute`); holders are billed up to "now" whenever they release, the tier's price
//!   changes, or the hourly billing point passes;
//! - reserved and owned GPUs bill every hour whether used or not: the part nobody used is
//!   `idle_reserved`;
//! - a transfer pays the sending site's egress price and each link's per-GB price for its bytes;
//!   request and response payloads follow the same rule, metered and billed once per billing
//!   period ([`metering`](crate::infra::metering)).

use crate::infra::ledger::{CostCategory, Ledger, LedgerEntry, Payer};
use crate::infra::metering::{MeterId, Meters};
use crate::infra::network::{LinkSpec as NetLink, Network, Route};
use crate::infra::pool::{AllocError, Pool};
use crate::infra::spec::{EstateSpec, link_name, pool_name, within_residency};
use crate::kernel::{SimDuration, SimTime};
use crate::vocab::ids::{AcceleratorId, DatasetId, LinkId, PoolId, SiteId};
use crate::vocab::{JobId, SiteKind, Tier, WorkloadClass};

const NANOS_PER_HOUR: f64 = 3.6e12;

/// A site at run time.
#[derive(Debug, Clone)]
pub struct Site {
    /// Its id.
    pub id: SiteId,
    /// Its name.
    pub name: String,
    /// Cloud, on-prem, colo or edge.
    pub kind: SiteKind,
    /// Jurisdiction path, e.g. "eu/de".
    pub jurisdiction: String,
    /// USD per GB leaving the site.
    pub egress_usd_per_gb: f64,
    /// Whether the site is up.
    pub up: bool,
}

/// An accelerator type.
#[derive(Debug, Clone)]
pub struct Accelerator {
    /// Its id.
    pub id: AcceleratorId,
    /// Its name.
    pub name: String,
    /// Device memory in bytes.
    pub memory_bytes: u64,
    speed: [f64; WorkloadClass::ALL.len()],
}

impl Accelerator {
    /// Throughput relative to the reference accelerator for `class`.
    pub fn speed(&self, class: WorkloadClass) -> f64 {
        self.speed[class as usize]
    }
}

/// A dataset at run time.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Its id.
    pub id: DatasetId,
    /// Its name.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Where the authoritative copy is.
    pub home: SiteId,
    /// Allowed jurisdictions (prefixes); empty = anywhere.
    pub residency: Vec<String>,
}

/// What a bulk transfer is for, carried by its network flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferTag {
    /// Who pays for it.
    pub payer: Option<Payer>,
    /// The dataset moved, if it is one.
    pub dataset: Option<DatasetId>,
    /// What the transfer is for, so its completion reaches the workload waiting for it.
    pub purpose: TransferPurpose,
}

/// What a bulk transfer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferPurpose {
    /// Nothing waits for it.
    #[default]
    Other,
    /// A job waits for it (dataset staging or a checkpoint fetch) before it can start.
    JobStaging {
        /// The job.
        job: JobId,
        /// The job's placement it belongs to; a transfer of an earlier placement is stale.
        placement: u32,
    },
    /// A copy of a job's checkpoint to its replica site.
    CheckpointReplica {
        /// The job.
        job: JobId,
        /// Reference progress the checkpoint holds, in ns.
        progress_ns: u64,
    },
}

/// A handle to GPUs held by a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllocationId {
    index: u32,
    generation: u32,
}

/// GPUs held by a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// The pool.
    pub pool: PoolId,
    /// The tier.
    pub tier: Tier,
    /// Number of GPUs.
    pub gpus: u32,
    /// Who holds them.
    pub payer: Payer,
    /// When they were taken.
    pub since: SimTime,
    billed_until: SimTime,
}

/// Why a dataset cannot go somewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidencyError {
    /// The destination is outside the dataset's jurisdictions.
    #[error("dataset {dataset} may not leave {allowed:?}; {site} is in {jurisdiction}")]
    Forbidden {
        /// The dataset.
        dataset: String,
        /// Its allowed jurisdictions.
        allowed: Vec<String>,
        /// The destination.
        site: String,
        /// The destination's jurisdiction.
        jurisdiction: String,
    },
    /// No route stays within the allowed jurisdictions.
    #[error("no network route from {from} to {to} stays within {allowed:?}")]
    NoRoute {
        /// Origin site.
        from: String,
        /// Destination site.
        to: String,
        /// Allowed jurisdictions.
        allowed: Vec<String>,
    },
}

/// The estate: everything a workload can run on, and what it cost.
#[derive(Debug)]
pub struct Estate {
    /// Sites, indexed by [`SiteId`]. A site goes down or up through [`Estate::set_site_up`].
    pub sites: Vec<Site>,
    /// Accelerators, indexed by [`AcceleratorId`].
    pub accelerators: Vec<Accelerator>,
    /// Pools, indexed by [`PoolId`].
    pub pools: Vec<Pool>,
    /// Datasets, indexed by [`DatasetId`].
    pub datasets: Vec<Dataset>,
    /// Link names, indexed by link id.
    pub link_names: Vec<String>,
    /// Links, routes and transfers.
    pub network: Network<TransferTag>,
    /// Every charge so far.
    pub ledger: Ledger,
    link_prices: Vec<f64>,
    meters: Meters,
    allocations: Vec<(u32, Option<Allocation>)>,
    free_allocations: Vec<u32>,
    /// Bumped whenever a site goes down or up.
    sites_version: u64,
}

fn index_of(names: &[String], wanted: &str) -> u32 {
    // The scenario checks resolved every name; a miss here would be a bug in them, and mapping it
    // to index 0 keeps the run going rather than panicking on user input.
    names.iter().position(|n| n == wanted).unwrap_or(0) as u32
}

impl Estate {
    /// Takes `site` down or brings it back (its links, jobs and replicas are the caller's).
    pub fn set_site_up(&mut self, site: SiteId, up: bool) {
        self.sites[site.index()].up = up;
        self.sites_version += 1;
    }

    /// A number that changes whenever what routing reads of the estate, besides loads, may
    /// have: a site going down or up, or the routes between sites.
    pub fn routing_version(&self) -> u64 {
        self.sites_version.wrapping_add(self.network.routes_version())
    }

    /// Builds the estate of a checked scenario from its estate parts.
    pub fn build(spec: EstateSpec<'_>) -> Self {
        let site_names: Vec<String> = spec.sites.iter().map(|s| s.name.clone()).collect();
        let accelerator_names: Vec<String> = spec.accelerators.iter().map(|a| a.name.clone()).collect();
        let sites = spec
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| Site {
                id: SiteId(i as u32),
                name: s.name.clone(),
                kind: s.kind,
                jurisdiction: s.jurisdiction.clone(),
                egress_usd_per_gb: s.egress_price.map_or(0.0, |p| p.usd_per_gb()),
                up: true,
            })
            .collect();
        let accelerators = spec
            .accelerators
            .iter()
            .enumerate()
            .map(|(i, a)| Accelerator {
                id: AcceleratorId(i as u32),
                name: a.name.clone(),
                memory_bytes: a.memory.bytes(),
                speed: WorkloadClass::ALL.map(|c| a.speed.get(&c).copied().unwrap_or(1.0)),
            })
            .collect();
        let pools = spec
            .pools
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let site = SiteId(index_of(&site_names, &p.site));
                let accelerator = AcceleratorId(index_of(&accelerator_names, &p.accelerator));
                Pool::new(PoolId(i as u32), pool_name(p), site, accelerator, p)
            })
            .collect();
        let datasets = spec
            .datasets
            .iter()
            .enumerate()
            .map(|(i, d)| Dataset {
                id: DatasetId(i as u32),
                name: d.name.clone(),
                size_bytes: d.size.bytes(),
                home: SiteId(index_of(&site_names, &d.home)),
                residency: d.residency.clone(),
            })
            .collect();
        let links = spec
            .links
            .iter()
            .map(|l| NetLink {
                a: SiteId(index_of(&site_names, &l.a)),
                b: SiteId(index_of(&site_names, &l.b)),
                bandwidth_bps: l.bandwidth.bits_per_sec(),
                latency: l.latency,
                loss: l.loss,
            })
            .collect();
        Estate {
            sites,
            accelerators,
            pools,
            datasets,
            link_names: spec.links.iter().map(link_name).collect(),
            network: Network::new(site_names.len(), links),
            link_prices: spec
                .links
                .iter()
                .map(|l| l.price.map_or(0.0, |p| p.usd_per_gb()))
                .collect(),
            ledger: Ledger::default(),
            meters: Meters::default(),
            allocations: Vec::new(),
            free_allocations: Vec::new(),
            sites_version: 0,
        }
    }
}

impl Estate {
    /// Takes `gpus` GPUs of `tier` in `pool` for `payer`, or says why not.
    pub fn allocate(
        &mut self,
        now: SimTime,
        pool: PoolId,
        tier: Tier,
        gpus: u32,
        payer: Payer,
    ) -> Result<AllocationId, AllocError> {
        let target = &mut self.pools[pool.index()];
        if !self.sites[target.site.index()].up {
            return Err(AllocError::SiteDown {
                pool: target.name.clone(),
            });
        }
        target.allocate(tier, gpus)?;
        let allocation = Allocation {
            pool,
            tier,
            gpus,
            payer,
            since: now,
            billed_until: now,
        };
        let index = match self.free_allocations.pop() {
            Some(index) => {
                let slot = &mut self.allocations[index as usize];
                slot.0 = slot.0.wrapping_add(1);
                slot.1 = Some(allocation);
                index
            }
            None => {
                self.allocations.push((0, Some(allocation)));
                (self.allocations.len() - 1) as u32
            }
        };
        Ok(AllocationId {
            index,
            generation: self.allocations[index as usize].0,
        })
    }

    /// The allocation behind `id`, if it is still held.
    pub fn allocation(&self, id: AllocationId) -> Option<&Allocation> {
        match self.allocations.get(id.index as usize) {
            Some((generation, Some(a))) if *generation == id.generation => Some(a),
            _ => None,
        }
    }

    /// Gives the GPUs back, billing them up to `now`. Returns what was held.
    pub fn release(&mut self, now: SimTime, id: AllocationId) -> Option<Allocation> {
        self.allocation(id)?;
        let slot = &mut self.allocations[id.index as usize];
        let mut allocation = slot.1.take()?;
        self.free_allocations.push(id.index);
        bill_holder(&mut self.ledger, &mut self.pools, &mut allocation, now);
        self.pools[allocation.pool.index()].release(allocation.tier, allocation.gpus);
        Some(allocation)
    }

    /// Who holds the `index`-th GPU in use in `tier` of `pool`, counting holders in allocation
    /// order; `None` when fewer GPUs are in use.
    pub fn holder_of_gpu(&self, pool: PoolId, tier: Tier, index: u32) -> Option<(AllocationId, Payer)> {
        let mut passed = 0u32;
        for (i, (generation, slot)) in self.allocations.iter().enumerate() {
            let Some(a) = slot.as_ref().filter(|a| a.pool == pool && a.tier == tier) else {
                continue;
            };
            passed += a.gpus;
            if index < passed {
                let id = AllocationId {
                    index: i as u32,
                    generation: *generation,
                };
                return Some((id, a.payer));
            }
        }
        None
    }

    /// Adds `delta` GPUs to (or, negative, takes them from) the allocatable capacity of a tier,
    /// never below zero. Returns the change made. Capacity may drop below what is in use: the
    /// caller then takes GPUs back from holders until it fits (nothing new is allocated
    /// meanwhile, as no GPU is free).
    pub fn change_capacity(&mut self, pool: PoolId, tier: Tier, delta: i64) -> i64 {
        let Some(state) = self.pools[pool.index()].tier_mut(tier) else {
            return 0;
        };
        let before = i64::from(state.capacity);
        let after = (before + delta).clamp(0, i64::from(u32::MAX));
        state.capacity = after as u32;
        after - before
    }

    /// Bills every holder and every idle fixed GPU up to `now`.
    pub fn bill_until(&mut self, now: SimTime) {
        for (_, slot) in &mut self.allocations {
            if let Some(allocation) = slot {
                bill_holder(&mut self.ledger, &mut self.pools, allocation, now);
            }
        }
        for pool in 0..self.pools.len() {
            for tier in [Tier::Reserved, Tier::Owned] {
                self.bill_idle(PoolId(pool as u32), tier, now);
            }
        }
        let (sites, network, link_prices) = (&self.sites, &self.network, &self.link_prices);
        self.meters.bill(
            now,
            &mut self.ledger,
            |site| sites[site.index()].egress_usd_per_gb,
            |link| {
                let (a, b) = network.link_ends(LinkId(link as u32))?;
                Some((link_prices.get(link).copied().unwrap_or(0.0), a, b))
            },
        );
    }

    /// The earliest start any charge recorded from now on can have: the oldest unbilled span
    /// of a holder, an idle fixed tier or the payload meters, or the start of a transfer still
    /// held (billed over its whole span when it ends). Charges before it are final, so the
    /// cost of every metrics window that ends by then is known.
    pub fn unbilled_since(&self) -> SimTime {
        let holders = self.allocations.iter().filter_map(|(_, slot)| slot.as_ref());
        let idle = (self.pools.iter())
            .flat_map(|pool| pool.tiers())
            .filter(|(tier, _)| tier.is_fixed())
            .map(|(_, state)| state.idle_billed_until);
        (holders.map(|a| a.billed_until))
            .chain(idle)
            .chain(self.network.earliest_start())
            .fold(self.meters.since(), SimTime::min)
    }

    /// A meter for the payloads `payer`'s requests and responses carry between sites.
    pub fn add_meter(&mut self, payer: Payer) -> MeterId {
        self.meters.add(payer, self.sites.len(), self.link_prices.len())
    }

    /// Counts `bytes` sent from `from` to `to` over the current route, for the next bill.
    /// Nothing is counted within a site or when no route connects the two.
    pub fn meter(&mut self, meter: MeterId, from: SiteId, to: SiteId, bytes: u64) {
        if from == to || bytes == 0 {
            return;
        }
        let meters = &mut self.meters;
        if self
            .network
            .for_each_hop(from, to, |hop| meters.carry(meter, hop, bytes))
        {
            meters.leave(meter, from, bytes);
        }
    }

    /// Changes the price per GPU-hour of a tier from `now` on; time before `now` is billed at
    /// the old price first.
    pub fn set_price(&mut self, now: SimTime, pool: PoolId, tier: Tier, usd_per_gpu_hour: f64) {
        for (_, slot) in &mut self.allocations {
            if let Some(allocation) = slot.as_mut().filter(|a| a.pool == pool && a.tier == tier) {
                bill_holder(&mut self.ledger, &mut self.pools, allocation, now);
            }
        }
        if tier.is_fixed() {
            self.bill_idle(pool, tier, now);
        }
        if let Some(state) = self.pools[pool.index()].tier_mut(tier) {
            state.price_per_gpu_hour = usd_per_gpu_hour;
        }
    }

    fn bill_idle(&mut self, pool_id: PoolId, tier: Tier, now: SimTime) {
        let pool = &mut self.pools[pool_id.index()];
        let site = pool.site;
        let Some(state) = pool.tier_mut(tier) else {
            return;
        };
        let span = now.saturating_since(state.idle_billed_until);
        let paid_ns = u128::from(state.billed_count) * u128::from(span.as_nanos());
        let idle_ns = paid_ns.saturating_sub(state.used_gpu_ns_since_billing);
        let start = state.idle_billed_until;
        state.idle_billed_until = now;
        state.used_gpu_ns_since_billing = 0;
        let gpu_hours = idle_ns as f64 / NANOS_PER_HOUR;
        self.ledger.record(LedgerEntry {
            start,
            end: now,
            site: Some(site),
            pool: Some(pool_id),
            tier: Some(tier),
            payer: None,
            category: CostCategory::IdleReserved,
            quantity: gpu_hours,
            usd: gpu_hours * state.price_per_gpu_hour,
        });
    }

    /// Whether `dataset` may be held at `site` under its residency rules.
    pub fn may_hold(&self, dataset: DatasetId, site: SiteId) -> bool {
        within_residency(
            &self.sites[site.index()].jurisdiction,
            &self.datasets[dataset.index()].residency,
        )
    }

    /// The route `dataset` would take to `to`, through allowed jurisdictions only.
    pub fn dataset_route(&self, dataset: DatasetId, to: SiteId) -> Result<Route, ResidencyError> {
        let data = &self.datasets[dataset.index()];
        let site = &self.sites[to.index()];
        if !self.may_hold(dataset, to) {
            return Err(ResidencyError::Forbidden {
                dataset: data.name.clone(),
                allowed: data.residency.clone(),
                site: site.name.clone(),
                jurisdiction: site.jurisdiction.clone(),
            });
        }
        self.network
            .route_where(data.home, to, |s| self.may_hold(dataset, s))
            .ok_or_else(|| ResidencyError::NoRoute {
                from: self.sites[data.home.index()].name.clone(),
                to: site.name.clone(),
                allowed: data.residency.clone(),
            })
    }

    /// Bills a finished (or cancelled) transfer of `bytes` over `route`: the sender's egress
    /// price and every link's per-GB price.
    pub fn bill_transfer(
        &mut self,
        start: SimTime,
        end: SimTime,
        route: &Route,
        bytes: f64,
        payer: Option<Payer>,
    ) {
        let Some(&from) = route.sites.first() else {
            return;
        };
        let gb = bytes / 1e9;
        let mut charge = |site: SiteId, category: CostCategory, usd_per_gb: f64| {
            self.ledger.record(LedgerEntry {
                start,
                end,
                site: Some(site),
                pool: None,
                tier: None,
                payer,
                category,
                quantity: gb,
                usd: gb * usd_per_gb,
            });
        };
        charge(
            from,
            CostCategory::Egress,
            self.sites[from.index()].egress_usd_per_gb,
        );
        for (hop, &site) in route.hops.iter().zip(&route.sites) {
            charge(
                site,
                CostCategory::Interconnect,
                self.link_prices[hop.link.index()],
            );
        }
    }

    /// Total GPUs per tier over all pools, as built (shortages, repairs and reclaims aside).
    pub fn gpus_per_tier(&self) -> [u64; 4] {
        let mut totals = [0u64; 4];
        for pool in &self.pools {
            for (tier, state) in pool.tiers() {
                totals[tier as usize] += u64::from(state.built_capacity);
            }
        }
        totals
    }
}

/// Bills one holder from its last billing point to `now` at its tier's current price.
fn bill_holder(ledger: &mut Ledger, pools: &mut [Pool], allocation: &mut Allocation, now: SimTime) {
    let span = now.saturating_since(allocation.billed_until);
    let start = allocation.billed_until;
    allocation.billed_until = now;
    let pool = &mut pools[allocation.pool.index()];
    let site = pool.site;
    let Some(state) = pool.tier_mut(allocation.tier) else {
        return;
    };
    let gpu_ns = u128::from(allocation.gpus) * u128::from(span.as_nanos());
    if allocation.tier.is_fixed() {
        state.used_gpu_ns_since_billing += gpu_ns;
    }
    let gpu_hours = gpu_ns as f64 / NANOS_PER_HOUR;
    ledger.record(LedgerEntry {
        start,
        end: now,
        site: Some(site),
        pool: Some(allocation.pool),
        tier: Some(allocation.tier),
        payer: Some(allocation.payer),
        category: CostCategory::Compute,
        quantity: gpu_hours,
        usd: gpu_hours * state.price_per_gpu_hour,
    });
}

/// An hour of simulated time: the period of fixed-tier billing.
pub const BILLING_PERIOD: SimDuration = SimDuration::from_hours(1);
