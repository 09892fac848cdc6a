//! Metrics windows and the end of the run: each service's figures, slot use and replicas per
//! window, handed to the run's archive as the window closes, and the release of every replica
//! at the horizon.

use crate::infra::estate::Estate;
use crate::kernel::SimTime;
use crate::metrics::ReplicaSummary;
use crate::metrics::archive::{ServiceWindow, WindowRow};

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

    /// Adds every service's pending latencies to its histograms, at the end of the run.
    pub fn settle_metrics(&mut self) {
        for service in &mut self.services {
            service.metrics.settle();
        }
    }

    /// Closes metrics window `window`, which ends at `now`: fills `row`'s services with each
    /// service's figures over it (taken out of its metrics), replicas and slot use.
    pub fn close_window(&mut self, now: SimTime, window: usize, row: &mut [ServiceWindow]) {
        for (s, (service, out)) in self.services.iter_mut().zip(row).enumerate() {
            let stats = service.metrics.take_window(window, service.slo);
            *out = ServiceWindow::of(&stats, service.slo);
            if let Some(kept) = self.kept_windows.as_mut().and_then(|k| k.get_mut(s)) {
                kept.push(stats);
            }
            service.usage_marks.resize(service.deployments.len(), (0, 0));
            let (mut busy, mut ready) = (0u128, 0u128);
            for (d, mark) in service.deployments.iter_mut().zip(&mut service.usage_marks) {
                d.integrate(now);
                busy += d.busy_slot_ns - mark.0;
                ready += d.ready_slot_ns - mark.1;
                *mark = (d.busy_slot_ns, d.ready_slot_ns);
                out.replicas_ready += d.ready_replicas() as u32;
                out.replicas_held += d.replicas.len() as u32;
            }
            if service.time.batched().is_some() {
                let slots = u128::from(service.slots_per_replica.max(1));
                out.batching = service
                    .deployments
                    .iter_mut()
                    .map(|d| d.close_batching_window(slots))
                    .collect();
            }
            out.utilization = (ready > 0).then(|| busy as f64 / ready as f64);
            service.replicas_held = Some(ReplicaSummary::with(service.replicas_held, out.replicas_held));
        }
    }

    /// Takes the figures of the windows after the last closed one, `closed`, that a horizon
    /// between two window ends left open: one row each, with the services' requests only.
    pub fn take_open_windows(&mut self, closed: usize, empty: &WindowRow) -> Vec<WindowRow> {
        let end = self
            .services
            .iter()
            .map(|s| s.metrics.windows_end())
            .max()
            .unwrap_or(0);
        (closed..end)
            .map(|window| {
                let mut row = empty.clone();
                for (service, out) in self.services.iter_mut().zip(&mut row.services) {
                    let batching = std::mem::take(&mut out.batching);
                    let stats = service.metrics.take_window(window, service.slo);
                    *out = ServiceWindow {
                        batching,
                        ..ServiceWindow::of(&stats, service.slo)
                    };
                }
                row
            })
            .collect()
    }

    /// The layout of the rows the run archives: services with their batched deployments.
    pub fn window_layout(&self) -> Vec<usize> {
        self.services
            .iter()
            .map(|s| {
                if s.time.batched().is_some() {
                    s.deployments.len()
                } else {
                    0
                }
            })
            .collect()
    }

    /// Bytes held by every service's open windows.
    pub fn window_bytes(&self) -> u64 {
        self.services.iter().map(|s| s.metrics.window_bytes()).sum()
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
