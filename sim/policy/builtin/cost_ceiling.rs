//! `cost_ceiling`: the spend rate on pay-per-use capacity kept under a budget, by holding back
//! jobs whose start would break it and degrading services while it is over.

use std::collections::BTreeMap;

use super::lowest_latency;
use crate::kernel::{SimDuration, SimTime};
use crate::policy::spec::CostCeilingSpec;
use crate::policy::{
    Action, PlaceRequest, PlacementCandidate, Policy, RouteCandidate, RouteRequest, Score, ServiceId, Signal,
    View,
};

/// Keeps the spend rate on pay-per-use capacity (on-demand and spot) under a budget: a job whose
/// start would take the rate over it waits (reserved and owned capacity, already paid for, is
/// always allowed), and while the rate is over the budget, services with a fallback are
/// switched to it, for at least `hold`. Places by price; routes by latency.
#[derive(Debug, Clone)]
pub struct CostCeiling {
    spec: CostCeilingSpec,
    /// Services it switched to their fallback, and when.
    degraded: BTreeMap<ServiceId, SimTime>,
}

impl CostCeiling {
    /// A cost ceiling with these settings. Without a budget it never defers or degrades.
    pub fn new(spec: CostCeilingSpec) -> Self {
        CostCeiling {
            spec,
            degraded: BTreeMap::new(),
        }
    }

    fn budget(&self) -> f64 {
        self.spec.budget.map_or(f64::INFINITY, |b| b.usd_per_hour())
    }

    fn adds(request: &PlaceRequest<'_>, c: &PlacementCandidate) -> f64 {
        if c.tier.is_fixed() {
            0.0
        } else {
            f64::from(request.gpus) * c.usd_per_gpu_hour
        }
    }
}

impl Policy for CostCeiling {
    fn name(&self) -> &str {
        "cost_ceiling"
    }

    fn route_score(&self, _: &RouteRequest, candidate: &RouteCandidate, _: &View<'_>) -> f64 {
        lowest_latency::route_score(candidate)
    }

    fn place_score(
        &self,
        request: &PlaceRequest<'_>,
        c: &PlacementCandidate,
        view: &View<'_>,
    ) -> Option<Score> {
        let adds = Self::adds(request, c);
        (adds == 0.0 || view.usage_spend_usd_per_hour() + adds <= self.budget())
            .then(|| Score::new(c.usd_per_effective_gpu_hour()))
    }

    fn wait_reason(
        &self,
        request: &PlaceRequest<'_>,
        candidates: &[PlacementCandidate],
        view: &View<'_>,
    ) -> String {
        let least = candidates
            .iter()
            .map(|c| Self::adds(request, c))
            .fold(f64::INFINITY, f64::min);
        format!(
            "cost_ceiling: spending {:.2} USD/h; the cheapest start adds {least:.2} USD/h, over the budget of {:.2} USD/h",
            view.usage_spend_usd_per_hour(),
            self.budget()
        )
    }

    fn tick(&self) -> Option<SimDuration> {
        (self.spec.budget.is_some() && self.spec.degrade).then_some(self.spec.check_every)
    }

    fn on_signal(&mut self, signal: &Signal, view: &View<'_>, actions: &mut Vec<Action>) {
        if !matches!(signal, Signal::Tick | Signal::PriceChange { .. }) || !self.spec.degrade {
            return;
        }
        let Some(workloads) = view.workloads() else { return };
        let spend = view.usage_spend_usd_per_hour();
        let budget = self.budget();
        if spend > budget {
            for (index, _) in workloads.service_names().iter().enumerate() {
                let service = ServiceId(index as u32);
                let (has_fallback, active) = workloads.fallback(service);
                if has_fallback && !active && self.degraded.insert(service, view.now()).is_none() {
                    actions.push(Action::Degrade {
                        service,
                        active: true,
                        reason: format!(
                            "cost_ceiling: spending {spend:.2} USD/h, over the budget of {budget:.2} USD/h"
                        ),
                    });
                }
            }
        } else if spend < budget * self.spec.resume_below {
            let (now, hold) = (view.now(), self.spec.hold);
            let due: Vec<ServiceId> = self
                .degraded
                .iter()
                .filter(|&(_, &since)| now.saturating_since(since) >= hold)
                .map(|(&service, _)| service)
                .collect();
            for service in due {
                self.degraded.remove(&service);
                actions.push(Action::Degrade {
                    service,
                    active: false,
                    reason: format!(
                        "cost_ceiling: spending {spend:.2} USD/h, below {:.0}% of the budget",
                        self.spec.resume_below * 100.0
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::builtin::fixtures::{estate, place_request, placement};
    use crate::vocab::Tier;

    #[test]
    fn cost_ceiling_defers_pay_per_use_over_the_budget_but_not_reserved() {
        let estate = estate(); // nothing in use: spending 0 USD/h
        let view = View::of_estate(SimTime::ZERO, &estate);
        let policy = CostCeiling::new(CostCeilingSpec {
            budget: Some("10 USD/h".parse().expect("price")),
            ..CostCeilingSpec::default()
        });
        let on_demand = placement(Tier::OnDemand, 4.0);
        assert!(
            policy.place_score(&place_request(2), &on_demand, &view).is_some(),
            "8 ≤ 10"
        );
        assert!(
            policy.place_score(&place_request(3), &on_demand, &view).is_none(),
            "12 > 10"
        );
        let reserved = placement(Tier::Reserved, 4.0);
        assert!(policy.place_score(&place_request(3), &reserved, &view).is_some());
    }
}
