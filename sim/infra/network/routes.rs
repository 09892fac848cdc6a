//! Routes: the cache of lowest-latency paths (one shortest-path tree per source), Dijkstra
//! with its deterministic tie-break, caller-given routes, and re-routing flows after a change.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::links::loss_from_survival;
use super::{Flow, FlowState, HeapKey, Hop, Network, NetworkError, Route, RouteTable, Tree};
use crate::kernel::SimDuration;
use crate::vocab::ids::{LinkId, SiteId};

impl<T: Copy> Network<T> {
    /// The current lowest-latency route, read off the cached shortest-path trees; `None` when
    /// either site is down or unknown or nothing connects them. A site's route to itself has no hops.
    pub fn route(&self, from: SiteId, to: SiteId) -> Option<Route> {
        let cell = self.routes.cell(from, to)?;
        self.routes.latency[cell]?;
        let row = cell - to.index();
        let hops = self.hops_back(&self.routes.last_hop[row..row + self.routes.sites], from, to)?;
        Some(self.route_along(from, hops))
    }

    /// The lowest-latency route that visits only sites that are up and for which `allowed` is
    /// true (both ends included), computed on demand with the same tie-break as [`Network::route`].
    pub fn route_where(&self, from: SiteId, to: SiteId, allowed: impl Fn(SiteId) -> bool) -> Option<Route> {
        if to.index() >= self.site_up.len() {
            return None;
        }
        let costs = self.link_costs();
        let tree = self.shortest_tree(from, &costs, &|site| self.site_is_up(site) && allowed(site));
        tree.latency[to.index()]?;
        let hops = self.hops_back(&tree.last_hop, from, to)?;
        Some(self.route_along(from, hops))
    }

    /// A number that changes whenever the routes (and so any [`Network::rtt`]) may have.
    pub fn routes_version(&self) -> u64 {
        self.routes_version
    }

    /// The round trip of the current route, without building it.
    pub fn rtt(&self, from: SiteId, to: SiteId) -> Option<SimDuration> {
        let latency = self.routes.latency[self.routes.cell(from, to)?]?;
        Some(latency.saturating_add(latency))
    }

    /// The loss probability of the current route, without building it.
    pub fn route_loss(&self, from: SiteId, to: SiteId) -> Option<f64> {
        let cell = self.routes.cell(from, to)?;
        self.routes.latency[cell]?;
        Some(loss_from_survival(self.routes.survival[cell]))
    }

    /// Calls `visit` with each link of the current route from `from` to `to`, from the last
    /// hop back to the first, without building the route (the request path calls it per
    /// request); `false`, having visited nothing, when there is no route.
    pub fn for_each_hop(&self, from: SiteId, to: SiteId, mut visit: impl FnMut(Hop)) -> bool {
        let Some(cell) = self.routes.cell(from, to) else {
            return false;
        };
        if self.routes.latency[cell].is_none() {
            return false;
        }
        let row = cell - to.index();
        let last_hop = &self.routes.last_hop[row..row + self.routes.sites];
        // A path visits each site at most once; the bound guards against a broken tree.
        let mut site = to;
        for _ in 0..=self.routes.sites {
            if site == from {
                return true;
            }
            let Some(hop) = last_hop[site.index()] else {
                return false;
            };
            visit(hop);
            site = self.hop_ends(hop).0;
        }
        false
    }

    /// The smallest current bandwidth on the route from `from` to `to`, in bits per second;
    /// `None` when there is no route or it crosses no link.
    pub fn route_bottleneck_bps(&self, from: SiteId, to: SiteId) -> Option<f64> {
        let mut bottleneck: Option<f64> = None;
        self.for_each_hop(from, to, |hop| {
            let bps = self.effective(hop.link).bandwidth_bps;
            bottleneck = Some(bottleneck.map_or(bps, |b| b.min(bps)));
        });
        bottleneck
    }

    /// The two end sites `(a, b)` of a link.
    pub fn link_ends(&self, link: LinkId) -> Option<(SiteId, SiteId)> {
        self.links.get(link.index()).map(|spec| (spec.a, spec.b))
    }

    fn hop_ends(&self, hop: Hop) -> (SiteId, SiteId) {
        let spec = &self.links[hop.link.index()];
        if hop.forward {
            (spec.a, spec.b)
        } else {
            (spec.b, spec.a)
        }
    }

    pub(super) fn path_usable(&self, hops: &[Hop]) -> bool {
        hops.iter().all(|hop| self.link_usable(hop.link))
    }

    /// Builds a route from `from` along known `hops`, with the links' current latency and loss.
    fn route_along(&self, from: SiteId, hops: Vec<Hop>) -> Route {
        let mut sites = vec![from];
        let (mut latency, mut survival) = (SimDuration::ZERO, 1.0);
        for &hop in &hops {
            let link = self.effective(hop.link);
            latency = latency.saturating_add(link.latency);
            survival *= 1.0 - link.loss;
            sites.push(self.hop_ends(hop).1);
        }
        Route {
            sites,
            hops,
            one_way_latency: latency,
            loss: loss_from_survival(survival),
        }
    }

    /// Checks that caller-given hops exist and chain from `from` to `to`.
    pub(super) fn checked_route(
        &self,
        from: SiteId,
        to: SiteId,
        hops: Vec<Hop>,
    ) -> Result<Route, NetworkError> {
        let mut site = from;
        for hop in &hops {
            if hop.link.index() >= self.links.len() {
                return Err(NetworkError::UnknownLink(hop.link));
            }
            let (start, end) = self.hop_ends(*hop);
            if start != site {
                return Err(NetworkError::InvalidRoute { from, to });
            }
            site = end;
        }
        if site != to {
            return Err(NetworkError::InvalidRoute { from, to });
        }
        Ok(self.route_along(from, hops))
    }

    pub(super) fn topology_changed(&mut self) {
        self.routes = self.all_pairs();
        self.routes_version += 1;
        for index in 0..self.slots.len() {
            let Some(flow) = &self.slots[index].flow else {
                continue;
            };
            if matches!(flow.state, FlowState::Done(_)) {
                continue;
            }
            let (route, state) = self.reroute(flow);
            if let Some(flow) = &mut self.slots[index].flow {
                flow.route = route;
                flow.state = state;
            }
        }
        self.rerate();
    }

    /// The route and state of an unfinished flow after a change: its own route if that still
    /// works, else (unless pinned) the current lowest-latency route, else stalled.
    fn reroute(&self, flow: &Flow<T>) -> (Route, FlowState) {
        if self.path_usable(&flow.route.hops) {
            return (
                self.route_along(flow.from, flow.route.hops.clone()),
                FlowState::Running,
            );
        }
        if let Some(route) = (!flow.pinned).then(|| self.route(flow.from, flow.to)).flatten() {
            return (route, FlowState::Running);
        }
        (
            self.route_along(flow.from, flow.route.hops.clone()),
            FlowState::Stalled,
        )
    }

    pub(super) fn all_pairs(&self) -> RouteTable {
        let sites = self.site_up.len();
        let costs = self.link_costs();
        let mut table = RouteTable {
            sites,
            ..RouteTable::default()
        };
        for source in 0..sites {
            let tree = self.shortest_tree(SiteId(source as u32), &costs, &|site| self.site_is_up(site));
            table.latency.extend(tree.latency);
            table.survival.extend(tree.survival);
            table.last_hop.extend(tree.last_hop);
        }
        table
    }

    /// Per link, its current latency and survival probability `1 − loss`; `None` when down.
    fn link_costs(&self) -> Vec<Option<(SimDuration, f64)>> {
        (0..self.links.len())
            .map(|index| {
                let link = self.effective(LinkId(index as u32));
                link.up.then_some((link.latency, 1.0 - link.loss))
            })
            .collect()
    }

    /// Dijkstra by one-way latency from `source` over links that are up between allowed sites.
    /// Ties: fewer hops, then the lexicographically smaller sequence of link ids.
    fn shortest_tree(
        &self,
        source: SiteId,
        costs: &[Option<(SimDuration, f64)>],
        allowed: &dyn Fn(SiteId) -> bool,
    ) -> Tree {
        let sites = self.site_up.len();
        let mut tree = Tree {
            latency: vec![None; sites],
            hops: vec![0; sites],
            survival: vec![1.0; sites],
            last_hop: vec![None; sites],
        };
        if source.index() >= sites || !allowed(source) {
            return tree;
        }
        tree.latency[source.index()] = Some(SimDuration::ZERO);
        let mut settled = vec![false; sites];
        let mut heap = BinaryHeap::from([Reverse((SimDuration::ZERO, 0u32, source))]);
        while let Some(Reverse((_, _, site))) = heap.pop() {
            if std::mem::replace(&mut settled[site.index()], true) {
                continue;
            }
            for &link in &self.adjacency[site.index()] {
                let Some(cost) = costs[link.index()] else { continue };
                let hop = Hop {
                    link,
                    forward: self.links[link.index()].a == site,
                };
                let next = self.hop_ends(hop).1;
                if settled[next.index()] || !allowed(next) {
                    continue;
                }
                if let Some(key) = self.relax(&mut tree, hop, cost) {
                    heap.push(Reverse(key));
                }
            }
        }
        tree
    }

    /// Relaxes `hop` out of a settled site: if the path through it beats the best known path to
    /// its end, records it in `tree` and returns the end's heap key.
    fn relax(&self, tree: &mut Tree, hop: Hop, (delay, survival): (SimDuration, f64)) -> Option<HeapKey> {
        let (site, next) = self.hop_ends(hop);
        let latency = tree.latency[site.index()]?.saturating_add(delay);
        let hops = tree.hops[site.index()] + 1;
        let better = match tree.latency[next.index()] {
            None => true,
            Some(known) => match (latency, hops).cmp(&(known, tree.hops[next.index()])) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => self.smaller_link_ids(&tree.last_hop, hop, next),
            },
        };
        if !better {
            return None;
        }
        tree.latency[next.index()] = Some(latency);
        tree.hops[next.index()] = hops;
        tree.survival[next.index()] = tree.survival[site.index()] * survival;
        tree.last_hop[next.index()] = Some(hop);
        Some((latency, hops, next))
    }

    /// Whether the tree path to `hop`'s start followed by `hop` has a lexicographically smaller
    /// sequence of link ids than the tree path to `next`, which has the same number of hops.
    /// Walks both paths back in step; the last difference seen is the one nearest the source.
    fn smaller_link_ids(&self, last_hop: &[Option<Hop>], hop: Hop, next: SiteId) -> bool {
        let Some(known) = last_hop[next.index()] else {
            return true;
        };
        let mut verdict = hop.link.cmp(&known.link);
        let (mut ours, mut theirs) = (self.hop_ends(hop).0, self.hop_ends(known).0);
        while ours != theirs {
            let (Some(a), Some(b)) = (last_hop[ours.index()], last_hop[theirs.index()]) else {
                break;
            };
            if a.link != b.link {
                verdict = a.link.cmp(&b.link);
            }
            (ours, theirs) = (self.hop_ends(a).0, self.hop_ends(b).0);
        }
        verdict == Ordering::Less
    }

    /// The hops from `source` to `target` in a shortest-path tree, in travel order.
    fn hops_back(&self, last_hop: &[Option<Hop>], source: SiteId, target: SiteId) -> Option<Vec<Hop>> {
        let mut hops = Vec::new();
        let mut site = target;
        while site != source {
            let hop = (*last_hop.get(site.index())?)?;
            hops.push(hop);
            if hops.len() > last_hop.len() {
                return None;
            }
            site = self.hop_ends(hop).0;
        }
        hops.reverse();
        Some(hops)
    }
}
