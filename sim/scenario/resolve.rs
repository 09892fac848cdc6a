//! Resolving a checked [`Scenario`] once into a [`Resolved`] model: its names turned into typed
//! ids ([`Names`]), its external inputs loaded and checked (request, job, spot availability and
//! price traces) and the starting state of every arrival and price process made. Runs share a
//! `Resolved` read-only: replications, policies and threads build their worlds from it without
//! reading a file or looking a name up again.
//!
//! A [`TraceCache`] lets several scenarios (the points of a study, the scenarios of a
//! comparison) that name the same file with the same reading options read it once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Scenario, ScenarioSpec};
use crate::incident::price::{PriceProcess, PriceTrace};
use crate::incident::spot::{AvailabilityTrace, SpotPreemptionSpec};
use crate::infra::spec::{link_name, pool_name};
use crate::vocab::NameTable;
use crate::vocab::ids::{AcceleratorId, DatasetId, LinkId, PoolId, ServiceId, SiteId};
use crate::workload::arrivals::{ArrivalProcess, ArrivalSpec};
use crate::workload::job::{JobArrivals, MAX_JOBS};
use crate::workload::trace::{JobTrace, Trace, TraceError};

/// Traces a [`TraceCache`] keeps by default.
pub const TRACE_CACHE_ENTRIES: usize = 32;

/// Why a checked scenario cannot be resolved: an input it names cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A trace cannot be read: the file, the line and column, what is wrong and the fix.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// An arrival process cannot be made from its spec and trace.
    #[error("service {service}, demand from {origin}: {problem}")]
    Arrivals {
        /// The service.
        service: String,
        /// The origin.
        origin: String,
        /// What is wrong.
        problem: String,
    },
    /// The demand would bring more requests over the horizon than the scenario allows.
    #[error(
        "the demand would bring about {expected:.3e} requests over the horizon (the most from service {service}, demand from {origin}: {largest:.3e}), more than `limits.requests` allows ({limit}); shorten `horizon`, lower the rates, raise a trace's `time_scale` (a smaller one compresses the trace), or raise `limits.requests` if you mean it: a run handles a few million requests per second of wall time"
    )]
    TooManyRequests {
        /// Requests expected from every stream together.
        expected: f64,
        /// The limit.
        limit: u64,
        /// The service of the largest stream.
        service: String,
        /// The origin of the largest stream.
        origin: String,
        /// Requests expected from the largest stream.
        largest: f64,
    },
    /// A job trace holds more jobs than a run may.
    #[error(
        "job source {source_name} would create more than {MAX_JOBS} jobs in this run; set `count` (Poisson), `limit` (trace) or shorten the horizon"
    )]
    TooManyJobs {
        /// The source's name.
        source_name: String,
    },
}

/// The names of a scenario's items and the ids they resolve to, each in scenario order.
#[derive(Debug, Clone)]
pub struct Names {
    /// Sites.
    pub sites: NameTable<SiteId>,
    /// Links, by their given or derived (`"<a>--<b>"`) names.
    pub links: NameTable<LinkId>,
    /// Pools, by their given or derived (`"<site>/<accelerator>"`) names.
    pub pools: NameTable<PoolId>,
    /// Accelerator types.
    pub accelerators: NameTable<AcceleratorId>,
    /// Datasets.
    pub datasets: NameTable<DatasetId>,
    /// Services.
    pub services: NameTable<ServiceId>,
}

impl Names {
    /// The name tables of `spec`.
    pub fn of(spec: &ScenarioSpec) -> Self {
        let links: Vec<String> = spec.links.iter().map(link_name).collect();
        let pools: Vec<String> = spec.pools.iter().map(pool_name).collect();
        Names {
            sites: NameTable::new(spec.sites.iter().map(|s| s.name.as_str()), SiteId),
            links: NameTable::new(links.iter().map(String::as_str), LinkId),
            pools: NameTable::new(pools.iter().map(String::as_str), PoolId),
            accelerators: NameTable::new(spec.accelerators.iter().map(|a| a.name.as_str()), AcceleratorId),
            datasets: NameTable::new(spec.datasets.iter().map(|d| d.name.as_str()), DatasetId),
            services: NameTable::new(spec.services.iter().map(|s| s.name.as_str()), ServiceId),
        }
    }
}

/// A job source's trace, with each row's accelerator names resolved (empty when the row names
/// none, or none the estate has).
#[derive(Debug, Clone)]
pub struct ResolvedJobTrace {
    /// The trace, shared.
    pub trace: Arc<JobTrace>,
    /// Per row of the trace, the accelerators it names that the estate has.
    pub accelerators: Arc<[Vec<AcceleratorId>]>,
}

/// What moves a pool's spot tier, loaded.
#[derive(Debug, Clone, Default)]
pub struct SpotInputs {
    /// The availability trace, when preemption follows one.
    pub availability: Option<Arc<AvailabilityTrace>>,
    /// The price process at the start of a run, when the price moves.
    pub price: Option<PriceProcess>,
}

/// A checked scenario resolved for running: names as ids, traces loaded, processes made.
#[derive(Debug, Clone)]
pub struct Resolved {
    scenario: Scenario,
    names: Names,
    /// Per service, per demand stream: its arrival process at time zero.
    arrivals: Vec<Vec<ArrivalProcess>>,
    /// Per job spec: its trace, when its jobs come from one.
    job_traces: Vec<Option<ResolvedJobTrace>>,
    /// Per pool: what moves its spot tier.
    spot: Vec<SpotInputs>,
}

impl Scenario {
    /// Resolves this checked scenario, reading every trace it names.
    pub fn resolve(&self) -> Result<Resolved, ResolveError> {
        Resolved::new(self)
    }
}

/// Refuses a demand that would bring more requests over the horizon than `limits.requests`.
fn check_request_budget(spec: &ScenarioSpec, arrivals: &[Vec<ArrivalProcess>]) -> Result<(), ResolveError> {
    let streams = spec
        .services
        .iter()
        .zip(arrivals)
        .flat_map(|(service, processes)| {
            service
                .demand
                .iter()
                .zip(processes)
                .map(move |(demand, process)| (service, demand, process.expected_count(spec.horizon)))
        });
    let (mut expected, mut largest) = (0.0, None);
    for (service, demand, count) in streams {
        expected += count;
        if largest.is_none_or(|(_, _, most)| count > most) {
            largest = Some((service, demand, count));
        }
    }
    let limit = spec.limits.requests;
    match largest {
        Some((service, demand, count)) if expected > limit as f64 => Err(ResolveError::TooManyRequests {
            expected,
            limit,
            service: service.name.clone(),
            origin: demand.origin.clone(),
            largest: count,
        }),
        _ => Ok(()),
    }
}

impl Resolved {
    /// The requests the demand is expected to bring over the horizon, from the mean rates and
    /// the traces' rows.
    pub fn expected_requests(&self) -> f64 {
        let horizon = self.scenario.spec.horizon;
        self.arrivals
            .iter()
            .flatten()
            .map(|process| process.expected_count(horizon))
            .sum()
    }

    /// The most events one run may deliver (`limits.events`, or its default from the demand).
    pub fn event_budget(&self) -> u64 {
        self.scenario.spec.limits.event_budget(self.expected_requests())
    }

    /// Resolves `scenario`, reading every trace it names.
    pub fn new(scenario: &Scenario) -> Result<Self, ResolveError> {
        Self::with_cache(scenario, &mut TraceCache::new(TRACE_CACHE_ENTRIES))
    }

    /// Resolves `scenario`, taking traces already read from `cache` and keeping those it reads.
    pub fn with_cache(scenario: &Scenario, cache: &mut TraceCache) -> Result<Self, ResolveError> {
        let spec = &scenario.spec;
        let names = Names::of(spec);
        let mut arrivals = Vec::with_capacity(spec.services.len());
        for service in &spec.services {
            let mut processes = Vec::with_capacity(service.demand.len());
            for demand in &service.demand {
                let trace = match &demand.arrivals {
                    ArrivalSpec::Trace(trace) => Some(cache.get_or_load(
                        &scenario.resolve_path(&trace.path),
                        options(trace, |t| &mut t.path),
                        |path| Trace::load(path, trace),
                    )?),
                    _ => None,
                };
                let process =
                    ArrivalProcess::new(&demand.arrivals, trace).map_err(|e| ResolveError::Arrivals {
                        service: service.name.clone(),
                        origin: demand.origin.clone(),
                        problem: e.to_string(),
                    })?;
                processes.push(process);
            }
            arrivals.push(processes);
        }
        check_request_budget(spec, &arrivals)?;
        let mut job_traces = Vec::with_capacity(spec.jobs.len());
        for job in &spec.jobs {
            let Some(JobArrivals::Trace(trace)) = &job.arrivals else {
                job_traces.push(None);
                continue;
            };
            let trace: Arc<JobTrace> = cache.get_or_load(
                &scenario.resolve_path(&trace.path),
                options(trace, |t| &mut t.path),
                |path| JobTrace::load(path, trace),
            )?;
            if trace.jobs().len() > MAX_JOBS {
                return Err(ResolveError::TooManyJobs {
                    source_name: job.name.clone(),
                });
            }
            let accelerators = trace
                .jobs()
                .iter()
                .map(|row| {
                    row.accelerators
                        .iter()
                        .filter_map(|a| names.accelerators.get(a))
                        .collect()
                })
                .collect();
            job_traces.push(Some(ResolvedJobTrace { trace, accelerators }));
        }
        let mut spot = Vec::with_capacity(spec.pools.len());
        for pool in &spec.pools {
            let Some(tier) = pool.spot.as_ref() else {
                spot.push(SpotInputs::default());
                continue;
            };
            let availability = match &tier.preemption {
                Some(SpotPreemptionSpec::Availability(trace)) => Some(cache.get_or_load(
                    &scenario.resolve_path(&trace.path),
                    options(trace, |t| &mut t.path),
                    |path| AvailabilityTrace::load(path, trace),
                )?),
                _ => None,
            };
            let price = match &tier.price_process {
                Some(process) => Some(PriceProcess::new(process, tier.price.usd_per_hour(), |path| {
                    cache.get_or_load(&scenario.resolve_path(path), String::new(), PriceTrace::load)
                })?),
                None => None,
            };
            spot.push(SpotInputs { availability, price });
        }
        Ok(Resolved {
            scenario: scenario.clone(),
            names,
            arrivals,
            job_traces,
            spot,
        })
    }

    /// The checked scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// What the scenario file says.
    pub fn spec(&self) -> &ScenarioSpec {
        &self.scenario.spec
    }

    /// The names of the scenario's items and their ids.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The arrival process of demand stream `demand` of service `service` at time zero (a run
    /// takes a copy; a trace inside is shared), if both exist.
    pub fn arrivals(&self, service: ServiceId, demand: usize) -> Option<&ArrivalProcess> {
        self.arrivals.get(service.index())?.get(demand)
    }

    /// The trace of job spec `job` (its position in the scenario), if its jobs come from one.
    pub fn job_trace(&self, job: usize) -> Option<&ResolvedJobTrace> {
        self.job_traces.get(job)?.as_ref()
    }

    /// What moves the spot tier of `pool` (nothing for a pool without one).
    pub fn spot(&self, pool: PoolId) -> Option<&SpotInputs> {
        self.spot.get(pool.index())
    }
}

/// The reading options of a trace spec as a cache key: the spec without its path (the path
/// goes into the key canonical, so two spellings of one file share it).
fn options<T: Clone + std::fmt::Debug>(spec: &T, path: impl FnOnce(&mut T) -> &mut String) -> String {
    let mut spec = spec.clone();
    path(&mut spec).clear();
    format!("{spec:?}")
}

/// Where a trace came from and how it was read: two uses with the same key share one load.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TraceKey {
    path: PathBuf,
    kind: &'static str,
    options: String,
}

/// A trace in the cache, by its kind.
#[derive(Debug, Clone)]
enum Cached {
    Requests(Arc<Trace>),
    Jobs(Arc<JobTrace>),
    Availability(Arc<AvailabilityTrace>),
    Prices(Arc<PriceTrace>),
}

/// A trace type the cache keeps.
trait Cacheable: Sized {
    const KIND: &'static str;
    fn wrap(trace: Arc<Self>) -> Cached;
    fn unwrap(cached: &Cached) -> Option<Arc<Self>>;
}

macro_rules! cacheable {
    ($type:ty, $variant:ident) => {
        impl Cacheable for $type {
            const KIND: &'static str = stringify!($variant);
            fn wrap(trace: Arc<Self>) -> Cached {
                Cached::$variant(trace)
            }
            fn unwrap(cached: &Cached) -> Option<Arc<Self>> {
                match cached {
                    Cached::$variant(trace) => Some(Arc::clone(trace)),
                    _ => None,
                }
            }
        }
    };
}

cacheable!(Trace, Requests);
cacheable!(JobTrace, Jobs);
cacheable!(AvailabilityTrace, Availability);
cacheable!(PriceTrace, Prices);

/// The traces read most recently, keyed by canonical path, kind and reading options: a small
/// bounded LRU so the points of a study or the scenarios of a comparison that share a trace read
/// it once. Only traces read without error are kept.
#[derive(Debug)]
pub struct TraceCache {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<(TraceKey, Cached)>,
    reads: u64,
    hits: u64,
}

impl Default for TraceCache {
    fn default() -> Self {
        TraceCache::new(TRACE_CACHE_ENTRIES)
    }
}

impl TraceCache {
    /// A cache that keeps at most `capacity` traces (at least one).
    pub fn new(capacity: usize) -> Self {
        TraceCache {
            capacity: capacity.max(1),
            entries: Vec::new(),
            reads: 0,
            hits: 0,
        }
    }

    /// Trace files read so far through this cache.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Traces found already read.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// The trace at `path` read with `options`, from the cache or by `load` (which errors name
    /// the path as given).
    fn get_or_load<T: Cacheable>(
        &mut self,
        path: &Path,
        options: String,
        load: impl FnOnce(&Path) -> Result<T, TraceError>,
    ) -> Result<Arc<T>, TraceError> {
        let key = TraceKey {
            path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            kind: T::KIND,
            options,
        };
        if let Some(at) = self.entries.iter().position(|(k, _)| *k == key) {
            let entry = self.entries.remove(at);
            let found = T::unwrap(&entry.1);
            self.entries.push(entry);
            if let Some(trace) = found {
                self.hits += 1;
                return Ok(trace);
            }
        }
        let trace = Arc::new(load(path)?);
        self.reads += 1;
        if self.entries.len() >= self.capacity {
            self.entries.remove(0);
        }
        self.entries.push((key, T::wrap(Arc::clone(&trace))));
        Ok(trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_reads_a_file_once_and_forgets_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let a = write("a.csv", "time_s,price_usd_per_hour\n10,2.0\n");
        let b = write("b.csv", "time_s,price_usd_per_hour\n20,3.0\n");
        let mut cache = TraceCache::new(1);
        cache.get_or_load(&a, String::new(), PriceTrace::load).unwrap();
        cache.get_or_load(&a, String::new(), PriceTrace::load).unwrap();
        assert_eq!((cache.reads(), cache.hits()), (1, 1));
        cache.get_or_load(&b, String::new(), PriceTrace::load).unwrap();
        cache.get_or_load(&a, String::new(), PriceTrace::load).unwrap();
        assert_eq!((cache.reads(), cache.hits()), (3, 1));
    }
}
