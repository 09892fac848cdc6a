//! `failover`: ordered site lists per service and for jobs; when a site goes down, or is cut off
//! by link loss, the next one takes over its replicas (and, for an outage, its interrupted jobs),
//! and stands down once it serves again.

use std::collections::BTreeMap;

use crate::kernel::SimDuration;
use crate::policy::spec::FailoverSpec;
use crate::policy::{
    Action, JobStatus, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score,
    ServiceId, Signal, View, argmin,
};
use crate::vocab::NameTable;
use crate::vocab::ids::SiteId;

/// Ordered site lists: each listed service is served from the first of its sites that can
/// serve, and jobs run at the first listed site with room. When a site goes down, the next site
/// of each service it served is scaled up to the replicas the failed site had, and interrupted
/// jobs are restored at the next listed site that holds a checkpoint copy. Once the site is
/// back and its replicas are ready again, the standby returns to its size.
#[derive(Debug, Clone)]
pub struct Failover {
    /// Per service (scenario order), the rank of each site (scenario order); unlisted sites
    /// rank after every listed one.
    route_rank: Vec<Vec<u32>>,
    /// Per service, its sites in order.
    service_sites: Vec<Vec<SiteId>>,
    /// The rank of each site for jobs.
    job_rank: Vec<u32>,
    job_sites: Vec<SiteId>,
    /// Replicas per (service, site) at the last tick, so an outage knows what it took away.
    seen: BTreeMap<(ServiceId, SiteId), u32>,
    /// Standbys a failover scaled up: their size before, the site they stand in for, and the
    /// replicas that site had.
    standby: BTreeMap<(ServiceId, SiteId), Standby>,
}

/// A standby that took over from a failed site.
#[derive(Debug, Clone, Copy)]
struct Standby {
    size_before: u32,
    for_site: SiteId,
    replicas_lost: u32,
}

/// How often failover looks at replica counts.
const FAILOVER_TICK: SimDuration = SimDuration::from_secs(60);

impl Failover {
    /// A failover policy with `spec`'s lists, names resolved through a scenario's `sites` and
    /// `services` tables; names it does not know are left out (the scenario check reports them).
    pub fn new(spec: &FailoverSpec, sites: &NameTable<SiteId>, services: &NameTable<ServiceId>) -> Self {
        let ranks = |names: &[String]| {
            let mut rank = vec![names.len() as u32; sites.len()];
            let mut listed = Vec::new();
            for (i, s) in names.iter().filter_map(|name| sites.get(name)).enumerate() {
                rank[s.index()] = rank[s.index()].min(i as u32);
                listed.push(s);
            }
            (rank, listed)
        };
        let (mut route_rank, mut service_sites) = (Vec::new(), Vec::new());
        for service in services.names() {
            let (rank, sites) = ranks(spec.services.get(service).map_or(&[][..], Vec::as_slice));
            route_rank.push(rank);
            service_sites.push(sites);
        }
        let (job_rank, job_sites) = ranks(&spec.jobs);
        Failover {
            route_rank,
            service_sites,
            job_rank,
            job_sites,
            seen: BTreeMap::new(),
            standby: BTreeMap::new(),
        }
    }

    fn rank(&self, service: ServiceId, site: SiteId) -> u32 {
        self.route_rank
            .get(service.0 as usize)
            .and_then(|r| r.get(site.index()))
            .copied()
            .unwrap_or(u32::MAX)
    }

    fn remember_replicas(&mut self, view: &View<'_>) {
        for (s, sites) in self.service_sites.iter().enumerate() {
            for &site in sites {
                let service = ServiceId(s as u32);
                if view.site_reachable(site) {
                    self.seen.insert((service, site), view.replicas(service, site));
                }
            }
        }
    }

    /// `down` went down: its services' next sites take over, and its interrupted jobs are
    /// restored where a checkpoint copy is.
    fn site_down(&mut self, view: &View<'_>, down: SiteId, actions: &mut Vec<Action>) {
        self.take_over(view, down, "is down", actions);
        for job in view.jobs() {
            let lost_here = job.status == JobStatus::Waiting && !job.checkpoint_sites.is_empty();
            let next = self
                .job_sites
                .iter()
                .find(|&&x| x != down && view.site_up(x) && job.checkpoint_sites.contains(&x));
            if let (true, Some(&site)) = (lost_here, next) {
                actions.push(Action::Restore {
                    job: job.id,
                    site,
                    reason: format!(
                        "failover: {} is down; a checkpoint copy is at {}",
                        view.site_name(down),
                        view.site_name(site)
                    ),
                });
            }
        }
    }

    /// A link changed: every listed site it left cut off (up, but with no link carrying
    /// traffic) is taken over like a site that went down. Its replicas still serve its own
    /// users, and its jobs run on, so only the replicas other sites' users lost are replaced.
    fn link_changed(&mut self, view: &View<'_>, actions: &mut Vec<Action>) {
        let mut cut: Vec<SiteId> = self.service_sites.iter().flatten().copied().collect();
        cut.sort_unstable();
        cut.dedup();
        cut.retain(|&site| view.site_up(site) && !view.site_reachable(site));
        for site in cut {
            self.take_over(
                view,
                site,
                "is cut off (none of its links carries traffic)",
                actions,
            );
        }
    }

    /// The next reachable site of each service `gone` served scales up by the replicas `gone`
    /// had, once per service and site gone.
    fn take_over(&mut self, view: &View<'_>, gone: SiteId, why: &str, actions: &mut Vec<Action>) {
        for (s, sites) in self.service_sites.iter().enumerate() {
            let service = ServiceId(s as u32);
            let Some(at) = sites.iter().position(|&x| x == gone) else {
                continue;
            };
            let lost = self.seen.get(&(service, gone)).copied().unwrap_or(0);
            let Some(&next) = sites[at + 1..].iter().find(|&&x| view.site_reachable(x)) else {
                continue;
            };
            let covered = self
                .standby
                .iter()
                .any(|(&(of, _), standby)| of == service && standby.for_site == gone);
            if lost == 0 || covered || self.standby.contains_key(&(service, next)) {
                continue;
            }
            let now = view.replicas(service, next);
            self.standby.insert(
                (service, next),
                Standby {
                    size_before: now,
                    for_site: gone,
                    replicas_lost: lost,
                },
            );
            actions.push(Action::Scale {
                service,
                site: next,
                replicas: now + lost,
                reason: format!(
                    "failover: {} {why}; {} takes over its {lost} replica(s)",
                    view.site_name(gone),
                    view.site_name(next)
                ),
            });
        }
    }

    /// Returns standbys to their size once the site they stood in for is back with as many
    /// ready replicas as it lost (not when it comes back: its replicas still have to start).
    fn stand_down(&mut self, view: &View<'_>, actions: &mut Vec<Action>) {
        let back: Vec<(ServiceId, SiteId)> = self
            .standby
            .iter()
            .filter(|&(&(service, _), s)| {
                view.site_reachable(s.for_site)
                    && view
                        .workloads()
                        .is_some_and(|w| w.ready_replicas(service, s.for_site) >= s.replicas_lost)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in back {
            let Some(standby) = self.standby.remove(&key) else {
                continue;
            };
            actions.push(Action::Scale {
                service: key.0,
                site: key.1,
                replicas: standby.size_before,
                reason: format!(
                    "failover: {} serves again; the standby returns to {} replica(s)",
                    view.site_name(standby.for_site),
                    standby.size_before
                ),
            });
        }
    }
}

impl Policy for Failover {
    fn name(&self) -> &str {
        "failover"
    }

    fn route(&mut self, request: &RouteRequest, candidates: &[RouteCandidate], _: &View<'_>) -> usize {
        argmin(candidates, |c| {
            (self.rank(request.service, c.site), c.expected_latency_ns())
        })
    }

    fn route_score(&self, request: &RouteRequest, c: &RouteCandidate, _: &View<'_>) -> f64 {
        f64::from(self.rank(request.service, c.site))
    }

    fn place_score(&self, _: &PlaceRequest<'_>, c: &PlacementCandidate, _: &View<'_>) -> Option<Score> {
        let rank = self.job_rank.get(c.site.index()).copied().unwrap_or(u32::MAX);
        Some(Score::ranked(rank, c.usd_per_effective_gpu_hour()))
    }

    fn tick(&self) -> Option<SimDuration> {
        Some(FAILOVER_TICK)
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        match *signal {
            Signal::Tick => {
                self.remember_replicas(view);
                self.stand_down(view, actions);
            }
            Signal::SiteDown { site } => self.site_down(view, site, actions),
            Signal::LinkChange { .. } => self.link_changed(view, actions),
            _ => {}
        }
    }
}
