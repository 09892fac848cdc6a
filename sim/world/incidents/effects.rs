//! Applying one primitive [`Effect`] to the estate, the jobs and the services, and undoing it.
//! Nothing here knows incident kinds: a kind is a list of effects (`IncidentKind::effects`), and
//! each effect's application returns the [`Undo`] record its incident's end replays.

use crate::incident::CapacityTarget;
use crate::incident::effect::{Effect, LinkChange};
use crate::infra::estate::Estate;
use crate::infra::network::LinkCondition;
use crate::kernel::{Context, KernelError, SimTime};
use crate::policy::Signal;
use crate::vocab::ids::{LinkId, PoolId, SiteId};
use crate::vocab::{ServiceId, Tier};
use crate::workload::job::InterruptCause;

use super::{EffectEvents, IncidentId, Incidents, Parts};

/// How to undo one applied effect.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Undo {
    /// Nothing to undo (an instant effect, or one that found nothing to change).
    Nothing,
    /// Bring a site back up.
    SiteUp(SiteId),
    /// Give a tier back the GPUs a shrink removed.
    Capacity { pool: PoolId, tier: Tier, removed: i64 },
    /// Divide the prices of these tiers by the factor again.
    Prices {
        targets: Vec<(PoolId, Tier)>,
        factor: f64,
    },
    /// Set these links back to normal.
    Links(Vec<LinkId>),
    /// Set a service's demand factor back to 1.
    Demand {
        service: ServiceId,
        origin: Option<SiteId>,
    },
}

impl Incidents {
    /// Applies one effect of scripted incident `incident`; returns how to undo it.
    pub(super) fn apply<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        incident: IncidentId,
        effect: &Effect,
    ) -> Result<Undo, KernelError> {
        Ok(match effect {
            Effect::SiteDown { site } => {
                set_site(ctx, parts, *site, false)?;
                Undo::SiteUp(*site)
            }
            Effect::ShrinkTier { pool, tier, to } => shrink(ctx, parts, *pool, *tier, *to)?,
            Effect::ScalePrices { targets, factor } => {
                self.scale_prices(ctx.now(), parts, targets, *factor);
                Undo::Prices {
                    targets: targets.clone(),
                    factor: *factor,
                }
            }
            Effect::SetLinks { links, change, .. } => {
                set_links(ctx.now(), parts, links, condition(*change));
                Undo::Links(links.clone())
            }
            Effect::ScaleDemand {
                service,
                origin,
                factor,
            } => {
                parts.serving.set_demand_factor(ctx, *service, *origin, *factor)?;
                Undo::Demand {
                    service: *service,
                    origin: *origin,
                }
            }
            Effect::FailGpu { pool, job } => {
                self.scripted_gpu_failure(ctx, parts, incident, *pool, *job)?;
                Undo::Nothing
            }
            Effect::PreemptSpot { pool, job, notice } => {
                self.preempt_spot(ctx, parts, *pool, *job, *notice)?;
                Undo::Nothing
            }
        })
    }

    /// Undoes one applied effect.
    pub(super) fn undo<E: EffectEvents>(
        &mut self,
        ctx: &mut Context<'_, E>,
        parts: &mut Parts<'_>,
        undo: Undo,
    ) -> Result<(), KernelError> {
        let now = ctx.now();
        match undo {
            Undo::Nothing => {}
            Undo::SiteUp(site) => set_site(ctx, parts, site, true)?,
            Undo::Capacity { pool, tier, removed } => {
                parts.estate.change_capacity(pool, tier, removed);
                capacity_changed(parts, pool, tier);
                parts
                    .serving
                    .capacity_returned(ctx, parts.estate, parts.decider, pool, tier)?;
            }
            Undo::Prices { targets, factor } => self.scale_prices(now, parts, &targets, 1.0 / factor),
            Undo::Links(links) => set_links(now, parts, &links, LinkCondition::NORMAL),
            Undo::Demand { service, origin } => parts.serving.set_demand_factor(ctx, service, origin, 1.0)?,
        }
        Ok(())
    }

    fn scale_prices(&mut self, now: SimTime, parts: &mut Parts<'_>, targets: &[(PoolId, Tier)], factor: f64) {
        for &(pool, tier) in targets {
            let factors = &mut self.price_factors[pool.index()];
            let Some(state) = parts.estate.pools[pool.index()].tier(tier) else {
                continue;
            };
            let market = state.price_per_gpu_hour / factors[tier as usize];
            factors[tier as usize] *= factor;
            set_price(now, parts, pool, tier, market * factors[tier as usize]);
        }
    }

    /// Sets the market price of a tier (a price process), keeping the shocks in force on top.
    pub fn set_market_price(
        &mut self,
        now: SimTime,
        parts: &mut Parts<'_>,
        pool: PoolId,
        tier: Tier,
        usd_per_gpu_hour: f64,
    ) {
        let factor = self.price_factors[pool.index()][tier as usize];
        set_price(now, parts, pool, tier, usd_per_gpu_hour * factor);
    }
}

/// The condition a link change puts links in.
fn condition(change: LinkChange) -> LinkCondition {
    match change {
        LinkChange::Degrade {
            bandwidth_factor,
            added_latency,
            loss,
        } => LinkCondition {
            up: true,
            bandwidth_factor,
            added_latency,
            added_loss: loss,
        },
        LinkChange::Down => LinkCondition {
            up: false,
            ..LinkCondition::NORMAL
        },
    }
}

/// Shrinks a tier to its target, interrupting holders above it; returns how to undo it.
fn shrink<E: EffectEvents>(
    ctx: &mut Context<'_, E>,
    parts: &mut Parts<'_>,
    pool: PoolId,
    tier: Tier,
    to: CapacityTarget,
) -> Result<Undo, KernelError> {
    let Some(state) = parts.estate.pools[pool.index()].tier(tier) else {
        return Ok(Undo::Nothing);
    };
    let capacity = u64::from(state.capacity);
    let target = match to {
        CapacityTarget::Count(count) => count.min(capacity),
        CapacityTarget::Fraction(share) => {
            ((capacity as f64 * share.clamp(0.0, 1.0)).floor() as u64).min(capacity)
        }
    };
    // Capacity goes first, so holders that are interrupted cannot take it back.
    let removed = -parts
        .estate
        .change_capacity(pool, tier, target as i64 - capacity as i64);
    capacity_changed(parts, pool, tier);
    let over = |estate: &Estate| {
        estate.pools[pool.index()]
            .tier(tier)
            .map_or(0, |s| s.in_use.saturating_sub(s.capacity))
    };
    for job in parts.jobs.holders(pool, tier) {
        if over(parts.estate) == 0 {
            break;
        }
        parts.jobs.interrupt(
            ctx,
            parts.estate,
            parts.decider,
            job,
            InterruptCause::CapacityLoss,
        )?;
    }
    let excess = over(parts.estate);
    if excess > 0 {
        parts
            .serving
            .shed_replicas(ctx, parts.estate, parts.decider, pool, tier, excess)?;
    }
    Ok(Undo::Capacity { pool, tier, removed })
}

/// Takes a site down (or brings it back): its network links, its jobs and its replicas.
fn set_site<E: EffectEvents>(
    ctx: &mut Context<'_, E>,
    parts: &mut Parts<'_>,
    site: SiteId,
    up: bool,
) -> Result<(), KernelError> {
    let now = ctx.now();
    parts.estate.set_site_up(site, up);
    parts.decider.signal(if up {
        Signal::SiteUp { site }
    } else {
        Signal::SiteDown { site }
    });
    // The site id comes from the estate itself, so the network knows it.
    let _ = parts.estate.network.set_site_up(now, site, up);
    if up {
        parts.jobs.clear_restore_pins();
        parts.serving.site_up(ctx, parts.estate, parts.decider, site)?;
        return parts.jobs.place_waiting(ctx, parts.estate, parts.decider);
    }
    for job in parts.jobs.holders_at(site) {
        parts
            .jobs
            .interrupt(ctx, parts.estate, parts.decider, job, InterruptCause::SiteOutage)?;
    }
    parts.serving.site_down(ctx, parts.estate, parts.decider, site)
}

/// Sets a tier's price and tells the policy.
fn set_price(now: SimTime, parts: &mut Parts<'_>, pool: PoolId, tier: Tier, usd_per_gpu_hour: f64) {
    parts.estate.set_price(now, pool, tier, usd_per_gpu_hour);
    parts.decider.signal(Signal::PriceChange {
        pool,
        tier,
        usd_per_gpu_hour,
    });
}

/// Tells the policy a tier's capacity changed.
pub(super) fn capacity_changed(parts: &mut Parts<'_>, pool: PoolId, tier: Tier) {
    let capacity = parts.estate.pools[pool.index()]
        .tier(tier)
        .map_or(0, |t| t.capacity);
    parts
        .decider
        .signal(Signal::CapacityChange { pool, tier, capacity });
}

/// Sets links to `condition` and tells the policy of each.
fn set_links(now: SimTime, parts: &mut Parts<'_>, links: &[LinkId], condition: LinkCondition) {
    for &link in links {
        // Link ids come from the estate's own list; an unknown one has nothing to tell.
        if parts
            .estate
            .network
            .set_link_condition(now, link, condition)
            .is_ok()
        {
            parts.decider.signal(Signal::LinkChange { link, condition });
        }
    }
}
