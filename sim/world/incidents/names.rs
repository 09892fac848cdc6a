//! The names a scenario gives sites, pools, links, services and jobs, as the typed ids of a run:
//! what [`IncidentKind::effects`](crate::incident::IncidentKind::effects) resolves them with.

use crate::incident::effect::IncidentNames;
use crate::infra::estate::Estate;
use crate::kernel::SimDuration;
use crate::vocab::ids::{LinkId, PoolId, SiteId};
use crate::vocab::{JobId, ServiceId, SiteKind, Tier};

use super::super::jobs::Jobs;
use super::super::serving::Serving;

/// The names of one run's estate, services and jobs.
pub(in crate::world) struct RunNames<'a> {
    estate: &'a Estate,
    serving: &'a Serving,
    jobs: &'a Jobs,
}

impl<'a> RunNames<'a> {
    /// The names of these parts of a run.
    pub(in crate::world) fn new(estate: &'a Estate, serving: &'a Serving, jobs: &'a Jobs) -> Self {
        RunNames {
            estate,
            serving,
            jobs,
        }
    }

    fn links(&self) -> impl Iterator<Item = LinkId> + '_ {
        (0..self.estate.link_names.len() as u32).map(LinkId)
    }
}

impl IncidentNames for RunNames<'_> {
    fn site(&self, name: &str) -> Option<SiteId> {
        self.estate.sites.iter().find(|s| s.name == name).map(|s| s.id)
    }

    fn pool(&self, name: &str) -> Option<PoolId> {
        self.estate.pools.iter().find(|p| p.name == name).map(|p| p.id)
    }

    fn link(&self, name: &str) -> Option<LinkId> {
        self.links().find(|l| self.estate.link_names[l.index()] == name)
    }

    fn service(&self, name: &str) -> Option<ServiceId> {
        self.serving
            .services
            .iter()
            .position(|s| s.name == name)
            .map(|s| ServiceId(s as u32))
    }

    fn job(&self, name: &str) -> Option<JobId> {
        self.jobs.single_named(name)
    }

    fn pools(&self) -> Vec<(PoolId, SiteId, SiteKind)> {
        self.estate
            .pools
            .iter()
            .map(|p| (p.id, p.site, self.estate.sites[p.site.index()].kind))
            .collect()
    }

    fn has_tier(&self, pool: PoolId, tier: Tier) -> bool {
        self.estate.pools[pool.index()].tier(tier).is_some()
    }

    fn links_of(&self, site: SiteId) -> Vec<LinkId> {
        self.links()
            .filter(|&l| self.estate.network.touches(l, site))
            .collect()
    }

    fn ends_of(&self, link: LinkId) -> Vec<SiteId> {
        self.estate
            .sites
            .iter()
            .filter(|s| self.estate.network.touches(link, s.id))
            .map(|s| s.id)
            .collect()
    }

    fn spot_notice(&self, pool: PoolId) -> SimDuration {
        self.estate.pools[pool.index()].spot_notice
    }
}
