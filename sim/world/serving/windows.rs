//! Metrics windows and the end of the run: slot use and replicas per window, and the release
//! of every replica at the horizon.

use crate::infra::estate::Estate;
use crate::kernel::SimTime;

use super::*;

impl Serving {
    /// Releases every replica's GPUs at the end of the run so their time is billed.
    pub fn release_all(&mut self, now: SimTime, estate: &mut Estate) {
        for service in &mut self.services {
            for d in &mut service.deployments {
                d.integrate(now);
                for replica in d.replicas.drain(..) {
                    estate.release(now, replica.allocation);
                }
            }
        }
    }

    /// Closes a metrics window at `now`: records each service's replicas and slot use over it.
    pub fn close_window(&mut self, now: SimTime) {
        for service in &mut self.services {
            service.usage_marks.resize(service.deployments.len(), (0, 0));
            let (mut busy, mut ready, mut replicas_ready, mut replicas_held) = (0u128, 0u128, 0, 0);
            for (d, mark) in service.deployments.iter_mut().zip(&mut service.usage_marks) {
                d.integrate(now);
                busy += d.busy_slot_ns - mark.0;
                ready += d.ready_slot_ns - mark.1;
                *mark = (d.busy_slot_ns, d.ready_slot_ns);
                replicas_ready += d.ready_replicas() as u32;
                replicas_held += d.replicas.len() as u32;
            }
            if service.time.batched().is_some() {
                let slots = u128::from(service.slots_per_replica.max(1));
                service
                    .deployments
                    .iter_mut()
                    .for_each(|d| d.close_batching_window(slots));
            }
            let utilization = (ready > 0).then(|| busy as f64 / ready as f64);
            service.usage.push(WindowUsage {
                replicas_ready,
                replicas_held,
                utilization,
            });
        }
    }

    /// Bytes held by every service's per-window figures.
    pub fn window_bytes(&self) -> u64 {
        use std::mem::size_of_val;
        self.services
            .iter()
            .map(|s| {
                s.metrics.window_bytes()
                    + size_of_val(s.usage.as_slice()) as u64
                    + s.deployments
                        .iter()
                        .map(|d| size_of_val(d.batching.as_slice()) as u64)
                        .sum::<u64>()
            })
            .sum()
    }

    /// The origin sites of a service's demand streams, in order.
    pub fn origins(&self, service: ServiceId) -> Vec<SiteId> {
        self.services[service.index()]
            .demands
            .iter()
            .map(|d| d.origin)
            .collect()
    }

    /// The factor each of a service's demand streams' arrival rate is multiplied by now, in
    /// order.
    pub fn demand_factors(&self, service: ServiceId) -> Vec<f64> {
        self.services[service.index()]
            .demands
            .iter()
            .map(|d| d.process.rate_factor())
            .collect()
    }

    /// The origin site names of a service's demand streams, in order.
    pub fn origin_names(&self, service: &ServiceState, estate: &Estate) -> Vec<String> {
        service
            .demands
            .iter()
            .map(|d| estate.sites[d.origin.index()].name.clone())
            .collect()
    }

    /// Requests of `service` waiting in its queues now.
    pub fn queued(&self, service: ServiceId) -> u64 {
        let deployments = &self.services[service.index()].deployments;
        deployments.iter().map(|d| d.queue.len() as u64).sum()
    }

    /// Requests waiting in every service's queues now.
    pub fn queued_total(&self) -> u64 {
        let deployments = self.services.iter().flat_map(|s| &s.deployments);
        deployments.map(|d| d.queue.len() as u64).sum()
    }
}
