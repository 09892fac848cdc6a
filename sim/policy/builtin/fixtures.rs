//! What the built-in policies' unit tests share: a two-site estate, route and placement
//! candidates, and one running job with its alternatives.

use crate::infra::estate::Estate;
use crate::kernel::SimTime;
use crate::policy::{
    Action, JobId, JobInfo, JobStatus, PlaceRequest, PlacementCandidate, RouteCandidate, RouteRequest,
    ServiceId, Workloads,
};
use crate::vocab::Tier;
use crate::vocab::WorkloadClass;
use crate::vocab::ids::{PoolId, SiteId};

/// The estate parts of a scenario file, read on their own.
#[derive(serde::Deserialize)]
struct Parts {
    accelerators: Vec<crate::infra::spec::AcceleratorSpec>,
    sites: Vec<crate::infra::spec::SiteSpec>,
    pools: Vec<crate::infra::spec::PoolSpec>,
}

const ESTATE: &str = r#"(
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "a", kind: cloud, jurisdiction: "eu"), (name: "b", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "a", accelerator: "H100", on_demand: (limit: 8, price: "4 USD/h"),
             spot: (limit: 8, price: "1 USD/h"))],
)"#;

/// Sites `a` and `b`; at `a`, 8 on-demand GPUs at 4 USD/h and 8 spot at 1 USD/h.
pub(super) fn estate() -> Estate {
    let parts: Parts = match crate::vocab::ron_options().from_str(ESTATE) {
        Ok(parts) => parts,
        Err(e) => panic!("{e}"),
    };
    Estate::build(crate::infra::spec::EstateSpec {
        accelerators: &parts.accelerators,
        sites: &parts.sites,
        pools: &parts.pools,
        links: &[],
        datasets: &[],
    })
}

/// A site with 4 slots of 100 ms service at 1 USD/GPU-h, `rtt_ms` away.
pub(super) fn route(site: u32, rtt_ms: u64, queued: u32, free: u32) -> RouteCandidate {
    RouteCandidate {
        site: SiteId(site),
        round_trip_ns: rtt_ms * 1_000_000,
        queued,
        free_slots: free,
        slots: 4,
        mean_service_ns: 100e6,
        usd_per_gpu_hour: 1.0,
    }
}

/// A request of service 0 from site 0 at time zero.
pub(super) fn request() -> RouteRequest {
    RouteRequest {
        service: ServiceId(0),
        origin: SiteId(0),
        now: SimTime::ZERO,
        current: None,
    }
}

/// A most preferred placement in pool 0 at `price`, with nothing to stage.
pub(super) fn placement(tier: Tier, price: f64) -> PlacementCandidate {
    PlacementCandidate {
        pool: PoolId(0),
        site: SiteId(0),
        tier,
        preference: 0,
        free: 8,
        usd_per_gpu_hour: price,
        speed: 1.0,
        staging_bytes: 0,
        staging_s: 0.0,
    }
}

/// A training job of `gpus` GPUs with 10 GPU-hours left.
pub(super) fn place_request(gpus: u32) -> PlaceRequest<'static> {
    PlaceRequest {
        id: JobId(0),
        job: "j",
        class: WorkloadClass::Training,
        gpus,
        priority: 0,
        remaining_gpu_hours: 10.0,
        now: SimTime::ZERO,
    }
}

/// The jobs that `actions` asks to migrate, in order.
pub(super) fn ids(actions: &[Action]) -> Vec<JobId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Migrate { job, .. } => Some(*job),
            _ => None,
        })
        .collect()
}

/// One running job (id 3) at `current`, its alternatives, one service with a fallback.
pub(super) struct OneJob {
    /// Where the job runs.
    pub current: PlacementCandidate,
    /// Where it could move.
    pub alternatives: Vec<PlacementCandidate>,
}

impl Workloads for OneJob {
    fn jobs(&self, _: &Estate) -> Vec<JobInfo> {
        vec![JobInfo {
            id: JobId(3),
            name: "j".into(),
            class: WorkloadClass::Training,
            gpus: 4,
            priority: 0,
            preemptible: true,
            status: JobStatus::Running,
            current: Some(self.current),
            checkpoint_sites: vec![],
            remaining_gpu_hours: 10.0,
        }]
    }
    fn placements(&self, _: &Estate, _: JobId) -> Vec<PlacementCandidate> {
        self.alternatives.clone()
    }
    fn service_names(&self) -> Vec<&str> {
        vec!["chat"]
    }
    fn service_sites(&self, _: ServiceId) -> Vec<SiteId> {
        vec![SiteId(0)]
    }
    fn replicas(&self, _: ServiceId, _: SiteId) -> u32 {
        2
    }
    fn ready_replicas(&self, _: ServiceId, _: SiteId) -> u32 {
        2
    }
    fn queued(&self, _: ServiceId, _: SiteId) -> u32 {
        0
    }
    fn fallback(&self, _: ServiceId) -> (bool, bool) {
        (true, false)
    }
}
