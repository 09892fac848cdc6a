//! What policies see of services and may do to them (through the world's workload view and
//! the actions it carries out).

use crate::vocab::ServiceId;
use crate::vocab::ids::SiteId;

use super::*;

/// What policies see of services and may do to them.
impl Serving {
    /// The deployment of `service` at `site`, if it has one.
    pub(super) fn deployment_at(&self, service: ServiceId, site: SiteId) -> Option<u32> {
        let state = self.services.get(service.index())?;
        state
            .deployments
            .iter()
            .position(|d| d.site == site)
            .map(|d| d as u32)
    }

    /// Sites where `service` is deployed, in deployment order.
    pub fn sites_of(&self, service: ServiceId) -> Vec<SiteId> {
        self.services
            .get(service.index())
            .map(|s| s.deployments.iter().map(|d| d.site).collect())
            .unwrap_or_default()
    }

    /// Replicas (ready or starting) of `service` at `site`.
    pub fn replicas_at(&self, service: ServiceId, site: SiteId) -> u32 {
        self.deployment_at(service, site).map_or(0, |d| {
            self.services[service.index()].deployments[d as usize]
                .replicas
                .len() as u32
        })
    }

    /// Replicas of `service` at `site` ready to serve.
    pub fn ready_replicas_at(&self, service: ServiceId, site: SiteId) -> u32 {
        self.deployment_at(service, site).map_or(0, |d| {
            self.services[service.index()].deployments[d as usize].ready_replicas() as u32
        })
    }

    /// Requests of `service` queued at `site`.
    pub fn queued_at(&self, service: ServiceId, site: SiteId) -> u32 {
        self.deployment_at(service, site).map_or(0, |d| {
            self.services[service.index()].deployments[d as usize].queue.len() as u32
        })
    }

    /// Whether `service` has a fallback, and whether a policy sends its requests there now.
    pub fn fallback_state(&self, service: ServiceId) -> (bool, bool) {
        self.services
            .get(service.index())
            .map_or((false, false), |s| (s.fallback.is_some(), s.degraded_by_policy))
    }

    /// Sends `service`'s requests to its fallback, or back. Whether it has a fallback.
    pub fn set_degraded(&mut self, service: ServiceId, active: bool) -> bool {
        match self.services.get_mut(service.index()) {
            Some(state) if state.fallback.is_some() => {
                state.degraded_by_policy = active;
                true
            }
            _ => false,
        }
    }
}
