//! Link and site state: taking sites and links down or up, changing a link's condition, and a
//! link's effective figures (its spec modified by its condition).

use super::{EffectiveLink, LinkCondition, Network, NetworkError};
use crate::kernel::SimTime;
use crate::vocab::ids::{LinkId, SiteId};

/// Loss probabilities stop just below 1, so even a very lossy route keeps a positive rate cap.
const MAX_LOSS: f64 = 0.999_999;

impl<T: Copy> Network<T> {
    /// Takes a site down or brings it back at `now`; its links carry no traffic while it is down.
    /// Recomputes routes, re-routes or stalls affected flows and re-rates all flows.
    pub fn set_site_up(&mut self, now: SimTime, site: SiteId, up: bool) -> Result<(), NetworkError> {
        if site.index() >= self.site_up.len() {
            return Err(NetworkError::UnknownSite(site));
        }
        self.advance_to(now);
        self.site_up[site.index()] = up;
        self.topology_changed();
        Ok(())
    }

    /// Sets a link's condition at `now`. Recomputes routes, re-routes or stalls affected flows
    /// and re-rates all flows.
    pub fn set_link_condition(
        &mut self,
        now: SimTime,
        link: LinkId,
        condition: LinkCondition,
    ) -> Result<(), NetworkError> {
        if link.index() >= self.links.len() {
            return Err(NetworkError::UnknownLink(link));
        }
        self.advance_to(now);
        self.conditions[link.index()] = condition;
        self.topology_changed();
        Ok(())
    }

    /// Whether the link carries traffic now (false for an unknown link).
    pub fn link_up(&self, link: LinkId) -> bool {
        self.link_usable(link)
    }

    /// The link's current bandwidth, latency and loss; `None` for an unknown link.
    pub fn effective_link(&self, link: LinkId) -> Option<EffectiveLink> {
        (link.index() < self.links.len()).then(|| self.effective(link))
    }

    /// Whether `site` has links and none of them carries traffic (they are down, or the sites at
    /// their other ends are), or the site itself is down. A site built without links is not cut
    /// off: it never had a path to lose.
    pub fn cut_off(&self, site: SiteId) -> bool {
        match self.adjacency.get(site.index()) {
            Some(links) if !links.is_empty() => links.iter().all(|&l| !self.link_usable(l)),
            Some(_) => !self.site_is_up(site),
            None => true,
        }
    }

    /// Whether `link` has `site` at one of its ends.
    pub fn touches(&self, link: LinkId, site: SiteId) -> bool {
        self.links
            .get(link.index())
            .is_some_and(|l| l.a == site || l.b == site)
    }

    pub(super) fn site_is_up(&self, site: SiteId) -> bool {
        self.site_up.get(site.index()).copied().unwrap_or(false)
    }

    pub(super) fn link_usable(&self, link: LinkId) -> bool {
        match (self.links.get(link.index()), self.conditions.get(link.index())) {
            (Some(spec), Some(condition)) => {
                condition.up && self.site_is_up(spec.a) && self.site_is_up(spec.b)
            }
            _ => false,
        }
    }

    /// The effective figures of a known link.
    pub(super) fn effective(&self, link: LinkId) -> EffectiveLink {
        let (spec, condition) = (&self.links[link.index()], &self.conditions[link.index()]);
        EffectiveLink {
            up: self.link_usable(link),
            bandwidth_bps: non_negative(spec.bandwidth_bps) * non_negative(condition.bandwidth_factor),
            latency: spec.latency.saturating_add(condition.added_latency),
            loss: loss_from_survival(
                (1.0 - probability(spec.loss)) * (1.0 - probability(condition.added_loss)),
            ),
        }
    }
}

/// `x` if finite and positive, else 0.
fn non_negative(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// `p` clamped to 0..=1, NaN as 0.
fn probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

/// Loss from a survival probability `∏(1 − pᵢ)`, capped just below 1.
pub(super) fn loss_from_survival(survival: f64) -> f64 {
    (1.0 - survival).clamp(0.0, MAX_LOSS)
}
