//! The network: links between sites, their current condition, lowest-latency routes, and bulk
//! transfers modelled as fluid flows that share link bandwidth max-min fairly.
//!
//! **Links** are full duplex: each direction of a link is a separate resource with the link's
//! effective bandwidth. A link's effective figures are its [`LinkSpec`] modified by its current
//! [`LinkCondition`]; it carries traffic only while its condition is up and both end sites are up.
//! Bandwidths and rates are in bits per second, sizes in bytes.
//!
//! **Routes** are lowest one-way-latency paths over links that carry traffic, cached for every
//! pair of sites and recomputed on every link or site change. Ties are broken by fewer hops, then
//! by the lexicographically smaller sequence of link ids from source to destination, so a route
//! never depends on iteration order. The cache keeps one shortest-path tree per source (O(sites²)
//! memory); [`Network::route`] reads a path off it, [`Network::rtt`] and [`Network::route_loss`]
//! are plain lookups for the request hot path.
//!
//! **Flows** are bulk transfers. Between changes every flow moves at a constant rate: the max-min
//! fair allocation ([`max_min_rates`]) over the (link, direction) resources of the flows' routes,
//! where each flow is also capped by the Mathis et al. TCP bound for its route's loss `p` and round
//! trip: `streams × MSS·8 / RTT × 1.22 / √p` bits per second with MSS = 1460 bytes (no cap when
//! `p = 0` or `RTT = 0`). Rates are recomputed whenever a flow starts, finishes or is cancelled
//! and whenever a link or site changes, after advancing every flow at the old rates. Only the next
//! completion matters to the engine: schedule an event at [`Network::next_completion`] and call
//! [`Network::take_completed`] then. Completion times are rounded up to whole nanoseconds, so a
//! completion can come at most 1 ns late per re-rating, never early. Every call first plays the
//! flows forward completion by completion, so a flow is recorded at its own finishing time even
//! when the call comes later. Propagation delay is not added to a transfer; add the route's
//! one-way latency if it matters.
//!
//! **Failures.** When a link or site on a flow's route stops carrying traffic, a flow that follows
//! the network's routes (started with `route: None`) moves to the current lowest-latency route
//! between its endpoints, keeping the bytes done; when there is none it stalls at rate 0 and
//! resumes once a route returns. A flow started on a caller-given route (e.g. one from
//! [`Network::route_where`] for data residency) is pinned: the network cannot know which detours
//! the caller allows, so it stalls until its own route works again; cancel and restart it to move it.
//!
//! Times earlier than the latest time already seen are treated as that latest time: the network
//! never moves backwards.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::kernel::{SimDuration, SimTime};
use crate::vocab::ids::{LinkId, SiteId};

/// Maximum segment size assumed by the loss cap, in bytes.
const MSS_BYTES: f64 = 1460.0;
/// The constant of the Mathis et al. (1997) formula.
const MATHIS_CONSTANT: f64 = 1.22;
/// Loss probabilities stop just below 1, so even a very lossy route keeps a positive rate cap.
const MAX_LOSS: f64 = 0.999_999;
/// A flow is complete once no more than this many bytes remain.
const DONE_EPSILON_BYTES: f64 = 1e-6;
const NANOS_PER_SEC: f64 = 1e9;

/// A link between two sites as built: full duplex, the same bandwidth in each direction.
///
/// A link whose ends are not both below the network's site count never carries traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    /// One end.
    pub a: SiteId,
    /// The other end.
    pub b: SiteId,
    /// Bandwidth in bits per second, in each direction. Negative or non-finite values count as 0.
    pub bandwidth_bps: f64,
    /// One-way latency.
    pub latency: SimDuration,
    /// Packet loss probability in 0..1; values outside are clamped.
    pub loss: f64,
}

/// The current state of a link, applied on top of its [`LinkSpec`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkCondition {
    /// Whether the link carries traffic.
    pub up: bool,
    /// Multiplies the built bandwidth; negative or non-finite values count as 0.
    pub bandwidth_factor: f64,
    /// Added to the built one-way latency.
    pub added_latency: SimDuration,
    /// Extra loss probability, combined with the built loss as an independent loss:
    /// `1 − (1 − p)(1 − q)`, capped just below 1.
    pub added_loss: f64,
}

impl LinkCondition {
    /// Up, at full bandwidth, with no added latency or loss.
    pub const NORMAL: LinkCondition = LinkCondition {
        up: true,
        bandwidth_factor: 1.0,
        added_latency: SimDuration::ZERO,
        added_loss: 0.0,
    };
}

/// A link's current figures: its spec modified by its condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveLink {
    /// Whether the link carries traffic now: its condition is up and both end sites are up.
    pub up: bool,
    /// Bandwidth in bits per second, in each direction.
    pub bandwidth_bps: f64,
    /// One-way latency.
    pub latency: SimDuration,
    /// Packet loss probability.
    pub loss: f64,
}

/// One link of a route and the direction it is crossed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hop {
    /// The link crossed.
    pub link: LinkId,
    /// `true` when the link is crossed from its `a` end to its `b` end.
    pub forward: bool,
}

/// A path between two sites with its latency and loss at the time it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The sites visited, source and destination included (`hops.len() + 1` sites).
    pub sites: Vec<SiteId>,
    /// The links crossed, in order. Empty for the route from a site to itself.
    pub hops: Vec<Hop>,
    /// Sum of the links' one-way latencies.
    pub one_way_latency: SimDuration,
    /// Probability that a packet is lost somewhere on the route: `1 − ∏(1 − pᵢ)`.
    pub loss: f64,
}

impl Route {
    /// The round trip: twice the one-way latency.
    pub fn rtt(&self) -> SimDuration {
        self.one_way_latency.saturating_add(self.one_way_latency)
    }
}

/// A handle on a flow. Handles of finished or cancelled flows are rejected, even once their
/// storage slot is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId {
    index: u32,
    generation: u32,
}

/// What to transfer, between which sites, along which route.
#[derive(Debug, Clone)]
pub struct FlowSpec<T> {
    /// The sending site.
    pub from: SiteId,
    /// The receiving site.
    pub to: SiteId,
    /// Size of the transfer.
    pub bytes: u64,
    /// Parallel TCP streams; multiplies the loss cap. 0 counts as 1.
    pub streams: u32,
    /// `None` follows the network's lowest-latency route (and its re-routes); `Some` pins the
    /// flow to this route's hops (its sites, latency and loss are recomputed from the hops).
    pub route: Option<Route>,
    /// The caller's tag, returned with the flow.
    pub tag: T,
}

/// A flow that moved all its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedFlow<T> {
    /// The flow's handle, no longer valid.
    pub id: FlowId,
    /// The caller's tag.
    pub tag: T,
    /// The sending site.
    pub from: SiteId,
    /// The receiving site.
    pub to: SiteId,
    /// Size of the transfer.
    pub bytes: u64,
    /// When the flow started.
    pub started: SimTime,
    /// When its last byte was sent.
    pub finished: SimTime,
    /// The route it finished on.
    pub route: Route,
}

/// A flow removed before it finished (or at the instant it finished).
#[derive(Debug, Clone, PartialEq)]
pub struct CancelledFlow<T> {
    /// The flow's handle, no longer valid.
    pub id: FlowId,
    /// The caller's tag.
    pub tag: T,
    /// The sending site.
    pub from: SiteId,
    /// The receiving site.
    pub to: SiteId,
    /// Size of the transfer.
    pub bytes: u64,
    /// Bytes moved before the cancellation.
    pub bytes_moved: f64,
    /// When the flow started.
    pub started: SimTime,
    /// The route it was on when cancelled.
    pub route: Route,
}

/// Why the network refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The site id is not below the network's site count.
    #[error("site {} does not exist in the network", .0.0)]
    UnknownSite(SiteId),
    /// The link id is not one of the network's links.
    #[error("link {} does not exist in the network", .0.0)]
    UnknownLink(LinkId),
    /// No route over links and sites that are up (or the given route is not up).
    #[error("no usable route from site {} to site {}: links or sites on the way are down", .from.0, .to.0)]
    NoRoute {
        /// The sending site.
        from: SiteId,
        /// The receiving site.
        to: SiteId,
    },
    /// The given route's hops do not lead from `from` to `to`, each hop starting where the last ended.
    #[error("the given route does not lead hop by hop from site {} to site {}", .from.0, .to.0)]
    InvalidRoute {
        /// The sending site.
        from: SiteId,
        /// The receiving site.
        to: SiteId,
    },
    /// More than `u32::MAX` flows at once.
    #[error("too many concurrent flows")]
    TooManyFlows,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FlowState {
    Running,
    Stalled,
    Done(SimTime),
}

#[derive(Debug, Clone)]
struct Flow<T> {
    tag: T,
    from: SiteId,
    to: SiteId,
    bytes: u64,
    remaining: f64,
    streams: u32,
    started: SimTime,
    route: Route,
    pinned: bool,
    state: FlowState,
    rate_bps: f64,
}

#[derive(Debug, Clone)]
struct Slot<T> {
    generation: u32,
    flow: Option<Flow<T>>,
}

/// Shortest-path trees from every source, stored row by row (`sites × sites`, row = source).
#[derive(Debug, Clone, Default)]
struct RouteTable {
    sites: usize,
    latency: Vec<Option<SimDuration>>,
    survival: Vec<f64>,
    last_hop: Vec<Option<Hop>>,
}

impl RouteTable {
    fn cell(&self, from: SiteId, to: SiteId) -> Option<usize> {
        (from.index() < self.sites && to.index() < self.sites).then(|| from.index() * self.sites + to.index())
    }
}

/// Dijkstra's heap key: latency, hops, site (the site only makes pops deterministic).
type HeapKey = (SimDuration, u32, SiteId);

/// A shortest-path tree from one source: per site its latency, hop count, survival probability
/// `∏(1 − pᵢ)` and the last hop of its path.
struct Tree {
    latency: Vec<Option<SimDuration>>,
    hops: Vec<u32>,
    survival: Vec<f64>,
    last_hop: Vec<Option<Hop>>,
}

/// Links, sites, cached routes and the flows in progress. `T` is the caller's tag on each flow.
#[derive(Debug, Clone)]
pub struct Network<T> {
    links: Vec<LinkSpec>,
    conditions: Vec<LinkCondition>,
    site_up: Vec<bool>,
    adjacency: Vec<Vec<LinkId>>,
    routes: RouteTable,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    clock: SimTime,
    carried: Vec<[f64; 2]>,
}

impl<T: Copy> Network<T> {
    /// A network of `site_count` sites (ids `0..site_count`, all up) and `links` (ids in order,
    /// all in [`LinkCondition::NORMAL`]). Memory and route computation grow with `site_count²`.
    pub fn new(site_count: usize, links: Vec<LinkSpec>) -> Self {
        let mut adjacency = vec![Vec::new(); site_count];
        for (index, spec) in links.iter().enumerate() {
            let Ok(id) = u32::try_from(index) else { break };
            if spec.a.index() < site_count && spec.b.index() < site_count {
                adjacency[spec.a.index()].push(LinkId(id));
                if spec.b != spec.a {
                    adjacency[spec.b.index()].push(LinkId(id));
                }
            }
        }
        let mut network = Network {
            conditions: vec![LinkCondition::NORMAL; links.len()],
            carried: vec![[0.0; 2]; links.len()],
            links,
            site_up: vec![true; site_count],
            adjacency,
            routes: RouteTable::default(),
            slots: Vec::new(),
            free: Vec::new(),
            clock: SimTime::ZERO,
        };
        network.routes = network.all_pairs();
        network
    }

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

    /// Whether the link carries traffic now (false for an unknown link).
    pub fn link_up(&self, link: LinkId) -> bool {
        self.link_usable(link)
    }

    /// The link's current bandwidth, latency and loss; `None` for an unknown link.
    pub fn effective_link(&self, link: LinkId) -> Option<EffectiveLink> {
        (link.index() < self.links.len()).then(|| self.effective(link))
    }

    /// Whether `link` has `site` at one of its ends.
    pub fn touches(&self, link: LinkId, site: SiteId) -> bool {
        self.links
            .get(link.index())
            .is_some_and(|l| l.a == site || l.b == site)
    }

    /// Starts a transfer at `now`. A transfer of 0 bytes or from a site to itself finishes at
    /// `now` (collect it with [`Network::take_completed`]). Fails when a site or link is unknown,
    /// when a given route does not connect the sites, or when no usable route exists.
    pub fn start_flow(&mut self, now: SimTime, spec: FlowSpec<T>) -> Result<FlowId, NetworkError> {
        let (from, to) = (spec.from, spec.to);
        for site in [from, to] {
            if site.index() >= self.site_up.len() {
                return Err(NetworkError::UnknownSite(site));
            }
        }
        let pinned = spec.route.is_some();
        let route = match spec.route {
            Some(given) => self.checked_route(from, to, given.hops)?,
            None => self.route(from, to).ok_or(NetworkError::NoRoute { from, to })?,
        };
        if !(self.site_is_up(from) && self.path_usable(&route.hops)) {
            return Err(NetworkError::NoRoute { from, to });
        }
        let now = self.advance_to(now);
        let instant = spec.bytes == 0 || route.hops.is_empty();
        let id = self.insert(Flow {
            tag: spec.tag,
            from,
            to,
            bytes: spec.bytes,
            remaining: if instant { 0.0 } else { spec.bytes as f64 },
            streams: spec.streams.max(1),
            started: now,
            route,
            pinned,
            state: if instant {
                FlowState::Done(now)
            } else {
                FlowState::Running
            },
            rate_bps: 0.0,
        })?;
        self.rerate();
        Ok(id)
    }

    /// Removes a flow at `now`, reporting the bytes it moved, and re-rates the others. `None` for
    /// a stale or unknown id. A flow that finished by `now` but was not yet taken is removed too
    /// (with all its bytes moved) and will not be returned by [`Network::take_completed`].
    pub fn cancel_flow(&mut self, now: SimTime, id: FlowId) -> Option<CancelledFlow<T>> {
        self.flow(id)?;
        self.advance_to(now);
        let flow = self.remove(id)?;
        if flow.state == FlowState::Running {
            self.rerate();
        }
        Some(CancelledFlow {
            id,
            tag: flow.tag,
            from: flow.from,
            to: flow.to,
            bytes: flow.bytes,
            bytes_moved: (flow.bytes as f64 - flow.remaining).max(0.0),
            started: flow.started,
            route: flow.route,
        })
    }

    /// The earliest time at which a flow finishes at the current rates (rounded up to whole
    /// nanoseconds), or the finishing time of a finished flow not yet taken; `None` when no flow
    /// is moving.
    pub fn next_completion(&self) -> Option<SimTime> {
        self.slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .filter_map(|flow| match flow.state {
                FlowState::Done(at) => Some(at),
                FlowState::Running => finish_time(self.clock, flow.remaining, flow.rate_bps),
                FlowState::Stalled => None,
            })
            .min()
    }

    /// Advances to `now` and removes every flow finished by then, in [`FlowId`] order, each with
    /// its own finishing time. The remaining flows are re-rated as each one finishes.
    pub fn take_completed(&mut self, now: SimTime) -> Vec<CompletedFlow<T>> {
        self.advance_to(now);
        let done: Vec<FlowId> = self
            .ids()
            .filter(|&id| matches!(self.flow(id).map(|f| f.state), Some(FlowState::Done(_))))
            .collect();
        done.into_iter()
            .filter_map(|id| self.remove(id).and_then(|flow| completed(id, flow)))
            .collect()
    }

    /// The flow's current rate in bits per second (0 while stalled or once finished).
    pub fn flow_rate_bps(&self, id: FlowId) -> Option<f64> {
        self.flow(id).map(|flow| flow.rate_bps)
    }

    /// Bytes the flow still has to move, as of the latest call that advanced the network.
    pub fn flow_remaining_bytes(&self, id: FlowId) -> Option<f64> {
        self.flow(id).map(|flow| flow.remaining)
    }

    /// Flows started and neither finished nor cancelled, stalled ones included.
    pub fn active_flows(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .filter(|flow| !matches!(flow.state, FlowState::Done(_)))
            .count()
    }

    /// Flows waiting at rate 0 for a route, in [`FlowId`] order.
    pub fn stalled_flows(&self) -> Vec<FlowId> {
        self.ids()
            .filter(|&id| self.flow(id).is_some_and(|f| f.state == FlowState::Stalled))
            .collect()
    }

    /// Bytes carried by the link `(a → b, b → a)` up to the latest call that advanced the network
    /// (`(0, 0)` for an unknown link). Call [`Network::take_completed`] to bring it up to date.
    pub fn bytes_carried(&self, link: LinkId) -> (f64, f64) {
        self.carried
            .get(link.index())
            .map_or((0.0, 0.0), |[a_to_b, b_to_a]| (*a_to_b, *b_to_a))
    }

    // --- topology ---

    fn site_is_up(&self, site: SiteId) -> bool {
        self.site_up.get(site.index()).copied().unwrap_or(false)
    }

    fn link_usable(&self, link: LinkId) -> bool {
        match (self.links.get(link.index()), self.conditions.get(link.index())) {
            (Some(spec), Some(condition)) => {
                condition.up && self.site_is_up(spec.a) && self.site_is_up(spec.b)
            }
            _ => false,
        }
    }

    /// The effective figures of a known link.
    fn effective(&self, link: LinkId) -> EffectiveLink {
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

    fn hop_ends(&self, hop: Hop) -> (SiteId, SiteId) {
        let spec = &self.links[hop.link.index()];
        if hop.forward {
            (spec.a, spec.b)
        } else {
            (spec.b, spec.a)
        }
    }

    fn path_usable(&self, hops: &[Hop]) -> bool {
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
    fn checked_route(&self, from: SiteId, to: SiteId, hops: Vec<Hop>) -> Result<Route, NetworkError> {
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

    fn topology_changed(&mut self) {
        self.routes = self.all_pairs();
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

    // --- routing ---

    fn all_pairs(&self) -> RouteTable {
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

    // --- flows ---

    fn flow(&self, id: FlowId) -> Option<&Flow<T>> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.flow.as_ref()
    }

    fn ids(&self) -> impl Iterator<Item = FlowId> + '_ {
        self.slots
            .iter()
            .zip(0u32..)
            .filter(|(slot, _)| slot.flow.is_some())
            .map(|(slot, index)| FlowId {
                index,
                generation: slot.generation,
            })
    }

    fn insert(&mut self, flow: Flow<T>) -> Result<FlowId, NetworkError> {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.flow = Some(flow);
            return Ok(FlowId {
                index,
                generation: slot.generation,
            });
        }
        let index = u32::try_from(self.slots.len()).map_err(|_| NetworkError::TooManyFlows)?;
        self.slots.push(Slot {
            generation: 0,
            flow: Some(flow),
        });
        Ok(FlowId { index, generation: 0 })
    }

    fn remove(&mut self, id: FlowId) -> Option<Flow<T>> {
        self.flow(id)?;
        let slot = &mut self.slots[id.index as usize];
        let flow = slot.flow.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        Some(flow)
    }

    /// Plays the flows forward to `now` (or to the latest time seen, if later), finishing flows
    /// at their own completion times and re-rating after each. Returns the time reached.
    fn advance_to(&mut self, now: SimTime) -> SimTime {
        let now = now.max(self.clock);
        while let Some(next) = self.next_running_completion().filter(|&at| at <= now) {
            self.progress(next);
            self.rerate();
        }
        self.progress(now);
        now
    }

    fn next_running_completion(&self) -> Option<SimTime> {
        let running = self.slots.iter().filter_map(|slot| slot.flow.as_ref());
        running
            .filter(|flow| flow.state == FlowState::Running)
            .filter_map(|flow| finish_time(self.clock, flow.remaining, flow.rate_bps))
            .min()
    }

    /// Moves every running flow at its current rate from the clock to `to`; flows due by `to`
    /// finish exactly then.
    fn progress(&mut self, to: SimTime) {
        let seconds = to.saturating_since(self.clock).as_secs_f64();
        for slot in &mut self.slots {
            let Some(flow) = slot.flow.as_mut().filter(|f| f.state == FlowState::Running) else {
                continue;
            };
            let due = finish_time(self.clock, flow.remaining, flow.rate_bps).is_some_and(|at| at <= to);
            let moved = if due {
                flow.remaining
            } else {
                (flow.rate_bps / 8.0 * seconds).min(flow.remaining)
            };
            flow.remaining -= moved;
            for hop in &flow.route.hops {
                if let Some(counts) = self.carried.get_mut(hop.link.index()) {
                    counts[usize::from(!hop.forward)] += moved;
                }
            }
            if due || flow.remaining <= DONE_EPSILON_BYTES {
                flow.remaining = 0.0;
                flow.rate_bps = 0.0;
                flow.state = FlowState::Done(to);
            }
        }
        self.clock = self.clock.max(to);
    }

    /// Sets every running flow's rate to its max-min fair share; other flows get 0.
    fn rerate(&mut self) {
        let capacities: Vec<f64> = (0..self.links.len())
            .flat_map(|index| {
                let link = self.effective(LinkId(index as u32));
                let bandwidth = if link.up { link.bandwidth_bps } else { 0.0 };
                [bandwidth, bandwidth]
            })
            .collect();
        let running: Vec<&Flow<T>> = self
            .slots
            .iter()
            .filter_map(|slot| slot.flow.as_ref())
            .filter(|flow| flow.state == FlowState::Running)
            .collect();
        let paths: Vec<Vec<usize>> = running.iter().map(|flow| resources(&flow.route.hops)).collect();
        let caps: Vec<f64> = running
            .iter()
            .map(|flow| loss_cap_bps(flow.streams, flow.route.rtt(), flow.route.loss))
            .collect();
        let mut rates = max_min_rates(&capacities, &paths, &caps).into_iter();
        for flow in self.slots.iter_mut().filter_map(|slot| slot.flow.as_mut()) {
            flow.rate_bps = match flow.state {
                FlowState::Running => rates.next().unwrap_or(0.0),
                _ => 0.0,
            };
        }
    }
}

/// Max-min fair rates by progressive filling.
///
/// `capacities[r]` is resource `r`'s capacity, `flow_paths[f]` the resources flow `f` uses (a
/// resource listed twice carries the flow twice), `flow_caps[f]` flow `f`'s own limit (missing
/// caps are unlimited). All unfrozen flows rise together; a flow freezes when it reaches its cap
/// or when a resource on its path fills up. A flow with an empty path gets its cap (possibly
/// `f64::INFINITY`); a flow naming a resource beyond `capacities` gets 0. Negative or NaN
/// capacities and caps count as 0.
pub fn max_min_rates(capacities: &[f64], flow_paths: &[Vec<usize>], flow_caps: &[f64]) -> Vec<f64> {
    let caps: Vec<f64> = (0..flow_paths.len())
        .map(|f| {
            flow_caps
                .get(f)
                .map_or(f64::INFINITY, |&c| non_negative_or_inf(c))
        })
        .collect();
    let mut left: Vec<f64> = capacities.iter().map(|&c| non_negative_or_inf(c)).collect();
    let mut rates = vec![0.0; flow_paths.len()];
    let mut frozen: Vec<bool> = flow_paths
        .iter()
        .map(|path| path.iter().any(|&r| r >= left.len()))
        .collect();
    for (f, path) in flow_paths.iter().enumerate() {
        if path.is_empty() {
            rates[f] = caps[f];
            frozen[f] = true;
        }
    }
    while frozen.contains(&false) {
        let users = count_users(left.len(), flow_paths, &frozen);
        let step = fill_step(&left, &users, &caps, &rates, &frozen);
        let saturated: Vec<bool> = left
            .iter()
            .zip(&users)
            .map(|(&l, &u)| u > 0 && l / u as f64 <= step)
            .collect();
        for ((l, &u), &full) in left.iter_mut().zip(&users).zip(&saturated) {
            *l = if full {
                0.0
            } else {
                (*l - step * u as f64).max(0.0)
            };
        }
        for (f, path) in flow_paths.iter().enumerate() {
            if frozen[f] {
                continue;
            }
            let at_cap = caps[f] - rates[f] <= step;
            rates[f] = if at_cap { caps[f] } else { rates[f] + step };
            frozen[f] = at_cap || path.iter().any(|&r| saturated[r]);
        }
    }
    rates
}

/// How many times unfrozen flows use each resource.
fn count_users(resources: usize, flow_paths: &[Vec<usize>], frozen: &[bool]) -> Vec<usize> {
    let mut users = vec![0; resources];
    for (path, _) in flow_paths.iter().zip(frozen).filter(|(_, frozen)| !**frozen) {
        for &r in path {
            users[r] += 1;
        }
    }
    users
}

/// The largest common raise of all unfrozen flows: until a resource fills or a flow hits its cap.
fn fill_step(left: &[f64], users: &[usize], caps: &[f64], rates: &[f64], frozen: &[bool]) -> f64 {
    let by_resource = left
        .iter()
        .zip(users)
        .filter(|(_, u)| **u > 0)
        .map(|(&l, &u)| l / u as f64);
    let by_cap = caps
        .iter()
        .zip(rates)
        .zip(frozen)
        .filter(|(_, frozen)| !**frozen)
        .map(|((c, r), _)| c - r);
    by_resource.chain(by_cap).fold(f64::INFINITY, f64::min)
}

/// The (link, direction) resource indices of a route: `2·link` for a → b, `2·link + 1` for b → a.
fn resources(hops: &[Hop]) -> Vec<usize> {
    hops.iter()
        .map(|hop| 2 * hop.link.index() + usize::from(!hop.forward))
        .collect()
}

/// The Mathis et al. bound in bits per second: `streams × MSS·8 / RTT × 1.22 / √p`; unlimited
/// when `p = 0` or `RTT = 0`.
fn loss_cap_bps(streams: u32, rtt: SimDuration, loss: f64) -> f64 {
    let rtt_seconds = rtt.as_secs_f64();
    if loss <= 0.0 || rtt_seconds <= 0.0 {
        return f64::INFINITY;
    }
    f64::from(streams.max(1)) * MSS_BYTES * 8.0 / rtt_seconds * MATHIS_CONSTANT / loss.sqrt()
}

/// When `remaining` bytes are done at `rate_bps` from `clock`, rounded up to whole nanoseconds;
/// `None` when never (no rate, or beyond the clock's range). The last [`DONE_EPSILON_BYTES`]
/// count as done, which keeps floating-point crumbs from adding a nanosecond.
fn finish_time(clock: SimTime, remaining: f64, rate_bps: f64) -> Option<SimTime> {
    if rate_bps.is_nan() || rate_bps <= 0.0 {
        return None;
    }
    let bytes = (remaining - DONE_EPSILON_BYTES).max(0.0);
    let nanos = (bytes * 8.0 / rate_bps * NANOS_PER_SEC).ceil();
    if nanos < u64::MAX as f64 {
        clock.checked_add(SimDuration::from_nanos(nanos as u64)).ok()
    } else {
        None
    }
}

fn completed<T>(id: FlowId, flow: Flow<T>) -> Option<CompletedFlow<T>> {
    let FlowState::Done(finished) = flow.state else {
        return None;
    };
    Some(CompletedFlow {
        id,
        tag: flow.tag,
        from: flow.from,
        to: flow.to,
        bytes: flow.bytes,
        started: flow.started,
        finished,
        route: flow.route,
    })
}

/// `x` if finite and positive, else 0.
fn non_negative(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// `x` if non-negative (infinity included), else 0 (NaN included).
fn non_negative_or_inf(x: f64) -> f64 {
    if x >= 0.0 { x } else { 0.0 }
}

/// `p` clamped to 0..=1, NaN as 0.
fn probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

/// Loss from a survival probability `∏(1 − pᵢ)`, capped just below 1.
fn loss_from_survival(survival: f64) -> f64 {
    (1.0 - survival).clamp(0.0, MAX_LOSS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    const GB: u64 = 1_000_000_000;

    fn secs(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    fn link(a: u32, b: u32, gbps: f64, latency_ms: u64, loss: f64) -> LinkSpec {
        LinkSpec {
            a: SiteId(a),
            b: SiteId(b),
            bandwidth_bps: gbps * 1e9,
            latency: SimDuration::from_millis(latency_ms),
            loss,
        }
    }

    fn transfer(from: u32, to: u32, bytes: u64) -> FlowSpec<u32> {
        FlowSpec {
            from: SiteId(from),
            to: SiteId(to),
            bytes,
            streams: 1,
            route: None,
            tag: from * 10 + to,
        }
    }

    fn down() -> LinkCondition {
        LinkCondition {
            up: false,
            ..LinkCondition::NORMAL
        }
    }

    fn hop(link: u32, forward: bool) -> Hop {
        Hop {
            link: LinkId(link),
            forward,
        }
    }

    /// 0 —L0 50 ms— 1 directly, or 0 —L1 10 ms— 2 —L2 10 ms— 1; all 1 Gbps.
    fn triangle() -> Network<u32> {
        Network::new(
            3,
            vec![
                link(0, 1, 1.0, 50, 0.0),
                link(0, 2, 1.0, 10, 0.0),
                link(2, 1, 1.0, 10, 0.0),
            ],
        )
    }

    #[test]
    fn reference_vectors() {
        let inf = f64::INFINITY;
        assert_eq!(
            max_min_rates(&[10.0], &[vec![0], vec![0], vec![0]], &[2.0, 4.0, 10.0]),
            [2.0, 4.0, 4.0]
        );
        assert_eq!(
            max_min_rates(&[1.0, 2.0], &[vec![0, 1], vec![0], vec![1]], &[inf; 3]),
            [0.5, 0.5, 1.5]
        );
        assert_eq!(
            max_min_rates(&[1.0], &[vec![], vec![], vec![7]], &[3.0]),
            [3.0, inf, 0.0]
        );
    }

    fn allocation_problem() -> impl Strategy<Value = (Vec<f64>, Vec<Vec<usize>>, Vec<f64>)> {
        prop::collection::vec(0.0..100.0f64, 1..6)
            .prop_flat_map(|capacities| {
                let resources = capacities.len();
                let cap = prop_oneof![Just(f64::INFINITY), 0.0..50.0f64];
                let flow = (prop::collection::vec(0..resources, 0..4), cap);
                (Just(capacities), prop::collection::vec(flow, 1..10))
            })
            .prop_map(|(capacities, flows)| {
                let (paths, caps) = flows.into_iter().unzip();
                (capacities, paths, caps)
            })
    }

    proptest! {
        #[test]
        fn max_min_is_feasible_and_every_flow_is_capped_or_bottlenecked(
            (capacities, paths, caps) in allocation_problem()
        ) {
            let rates = max_min_rates(&capacities, &paths, &caps);
            let mut load = vec![0.0; capacities.len()];
            let mut top = vec![0.0f64; capacities.len()];
            for (path, &rate) in paths.iter().zip(&rates) {
                for &r in path {
                    load[r] += rate;
                    top[r] = top[r].max(rate);
                }
            }
            for (&l, &c) in load.iter().zip(&capacities) {
                prop_assert!(l <= c * (1.0 + 1e-9), "load {l} over capacity {c}");
            }
            for ((path, &rate), &cap) in paths.iter().zip(&rates).zip(&caps) {
                prop_assert!(rate <= cap * (1.0 + 1e-9));
                let at_cap = rate >= cap * (1.0 - 1e-9);
                let bottleneck = path.iter().any(|&r| {
                    load[r] >= capacities[r] * (1.0 - 1e-9) && rate >= top[r] * (1.0 - 1e-9)
                });
                prop_assert!(at_cap || bottleneck, "rate {rate} on {path:?} is neither capped nor bottlenecked");
            }
        }
    }

    #[test]
    fn two_transfers_share_a_link_then_the_survivor_speeds_up() {
        // One 10 Gbps link = 1.25 GB/s. A = 10 GB from 0 s, B = 2.5 GB from 4 s.
        // 0–4 s: A alone moves 4 × 1.25 = 5 GB; 5 GB left.
        // From 4 s: 5 Gbps = 0.625 GB/s each. B: 2.5 / 0.625 = 4 s → done at 8 s; A moves 2.5 GB.
        // From 8 s: A alone, 2.5 GB / 1.25 GB/s = 2 s → done at 10 s.
        let mut net = Network::new(2, vec![link(0, 1, 10.0, 5, 0.0)]);
        let a = net.start_flow(SimTime::ZERO, transfer(0, 1, 10 * GB)).unwrap();
        assert_eq!(net.next_completion(), Some(secs(8)));
        let b = net.start_flow(secs(4), transfer(0, 1, 5 * GB / 2)).unwrap();
        assert_eq!(
            (net.flow_rate_bps(a), net.flow_rate_bps(b)),
            (Some(5e9), Some(5e9))
        );
        assert_eq!(net.flow_remaining_bytes(a), Some(5e9));
        let mut late = net.clone();
        assert_eq!(net.next_completion(), Some(secs(8)));

        let done = net.take_completed(secs(8));
        assert_eq!(done.len(), 1);
        assert_eq!(
            (done[0].id, done[0].started, done[0].finished),
            (b, secs(4), secs(8))
        );
        assert_eq!(net.flow_rate_bps(a), Some(1e10));
        assert_eq!(net.next_completion(), Some(secs(10)));
        let done = net.take_completed(secs(10));
        assert_eq!((done[0].id, done[0].tag, done[0].finished), (a, 1, secs(10)));
        assert_eq!(net.active_flows(), 0);
        assert_eq!(net.bytes_carried(LinkId(0)), (12.5e9, 0.0));

        // Asking only at 20 s still records each completion at its own time.
        let finished: Vec<_> = late
            .take_completed(secs(20))
            .iter()
            .map(|f| (f.id, f.finished))
            .collect();
        assert_eq!(finished, [(a, secs(10)), (b, secs(8))]);
    }

    #[test]
    fn routes_prefer_latency_and_avoid_what_is_down() {
        let mut net = triangle();
        let route = net.route(SiteId(0), SiteId(1)).unwrap();
        assert_eq!(route.sites, [SiteId(0), SiteId(2), SiteId(1)]);
        assert_eq!(route.hops, [hop(1, true), hop(2, true)]);
        assert_eq!(route.rtt(), SimDuration::from_millis(40));
        assert_eq!(
            net.route(SiteId(1), SiteId(0)).unwrap().hops,
            [hop(2, false), hop(1, false)]
        );
        let home = net.route(SiteId(0), SiteId(0)).unwrap();
        assert_eq!(
            (home.sites, home.hops, home.one_way_latency),
            (vec![SiteId(0)], vec![], SimDuration::ZERO)
        );
        let direct = net
            .route_where(SiteId(0), SiteId(1), |site| site != SiteId(2))
            .unwrap();
        assert_eq!(direct.hops, [hop(0, true)]);
        assert_eq!(
            net.route_where(SiteId(0), SiteId(1), |_| true),
            net.route(SiteId(0), SiteId(1))
        );

        net.set_link_condition(SimTime::ZERO, LinkId(1), down()).unwrap();
        assert_eq!(net.route(SiteId(0), SiteId(1)).unwrap().hops, [hop(0, true)]);
        assert_eq!(net.rtt(SiteId(0), SiteId(1)), Some(SimDuration::from_millis(100)));
        net.set_link_condition(SimTime::ZERO, LinkId(1), LinkCondition::NORMAL)
            .unwrap();
        net.set_site_up(SimTime::ZERO, SiteId(2), false).unwrap();
        assert_eq!(net.route(SiteId(0), SiteId(1)).unwrap().hops, [hop(0, true)]);
        assert_eq!(
            (net.route(SiteId(0), SiteId(2)), net.rtt(SiteId(0), SiteId(2))),
            (None, None)
        );
        net.set_link_condition(SimTime::ZERO, LinkId(0), down()).unwrap();
        assert_eq!(net.route(SiteId(0), SiteId(1)), None);
        assert_eq!(
            net.set_site_up(SimTime::ZERO, SiteId(3), true),
            Err(NetworkError::UnknownSite(SiteId(3)))
        );
    }

    #[test]
    fn route_ties_break_by_hops_then_link_id_sequence() {
        // Equal latency (20 ms): L0 direct beats 0–2–1 (L1, L2) by hops; L3 parallel to L0 loses on id.
        let mut net = Network::<u32>::new(
            3,
            vec![
                link(0, 1, 1.0, 20, 0.0),
                link(0, 2, 1.0, 10, 0.0),
                link(2, 1, 1.0, 10, 0.0),
                link(0, 1, 1.0, 20, 0.0),
            ],
        );
        assert_eq!(net.route(SiteId(0), SiteId(1)).unwrap().hops, [hop(0, true)]);
        net.set_link_condition(SimTime::ZERO, LinkId(0), down()).unwrap();
        assert_eq!(net.route(SiteId(0), SiteId(1)).unwrap().hops, [hop(3, true)]);
        // Two 2-hop paths of 20 ms: via 2 = [L0, L3], via 3 = [L2, L1]; [L0, L3] is smaller.
        let net = Network::<u32>::new(
            4,
            vec![
                link(0, 2, 1.0, 10, 0.0),
                link(3, 1, 1.0, 10, 0.0),
                link(0, 3, 1.0, 10, 0.0),
                link(2, 1, 1.0, 10, 0.0),
            ],
        );
        assert_eq!(
            net.route(SiteId(0), SiteId(1)).unwrap().hops,
            [hop(0, true), hop(3, true)]
        );
    }

    /// Every simple path from `site` to `to` over links that are up, as (latency, hops, link ids).
    fn all_paths(
        net: &Network<u32>,
        site: SiteId,
        to: SiteId,
        seen: &mut Vec<SiteId>,
    ) -> Vec<(u64, usize, Vec<u32>)> {
        if site == to {
            return vec![(0, 0, vec![])];
        }
        seen.push(site);
        let mut paths = Vec::new();
        for (index, spec) in net.links.iter().enumerate() {
            let next = if spec.a == site {
                spec.b
            } else if spec.b == site {
                spec.a
            } else {
                continue;
            };
            if !net.link_up(LinkId(index as u32)) || seen.contains(&next) {
                continue;
            }
            for (latency, hops, mut ids) in all_paths(net, next, to, seen) {
                ids.insert(0, index as u32);
                paths.push((latency + spec.latency.as_nanos(), hops + 1, ids));
            }
        }
        seen.pop();
        paths
    }

    proptest! {
        #[test]
        fn routes_match_a_brute_force_search(
            ends in prop::collection::vec((0..5u32, 0..5u32, 1..4u64, any::<bool>()), 1..9)
        ) {
            let links = ends.iter().map(|&(a, b, ms, _)| link(a, b, 1.0, ms, 0.0)).collect();
            let mut net = Network::<u32>::new(5, links);
            for (index, &(_, _, _, up)) in ends.iter().enumerate() {
                if !up {
                    net.set_link_condition(SimTime::ZERO, LinkId(index as u32), down()).unwrap();
                }
            }
            for (from, to) in (0..5).flat_map(|a| (0..5).map(move |b| (SiteId(a), SiteId(b)))) {
                let best = all_paths(&net, from, to, &mut Vec::new()).into_iter().min();
                let found = net.route(from, to).map(|route| {
                    let ids = route.hops.iter().map(|hop| hop.link.0).collect::<Vec<_>>();
                    (route.one_way_latency.as_nanos(), route.hops.len(), ids)
                });
                prop_assert_eq!(found, best);
            }
        }
    }

    #[test]
    fn a_flow_stalls_while_its_only_link_is_down_and_then_finishes() {
        // 1 Gbps = 125 MB/s; 1 GB. 0–2 s: 250 MB moved. Down 2–5 s. 750 MB / 125 MB/s = 6 s → 11 s.
        let mut net = Network::new(2, vec![link(0, 1, 1.0, 5, 0.0)]);
        let id = net.start_flow(SimTime::ZERO, transfer(0, 1, GB)).unwrap();
        net.set_link_condition(secs(2), LinkId(0), down()).unwrap();
        assert_eq!(net.stalled_flows(), [id]);
        assert_eq!(
            (net.flow_rate_bps(id), net.flow_remaining_bytes(id)),
            (Some(0.0), Some(7.5e8))
        );
        assert_eq!(net.next_completion(), None);
        assert_eq!(
            net.start_flow(secs(3), transfer(0, 1, GB)),
            Err(NetworkError::NoRoute {
                from: SiteId(0),
                to: SiteId(1)
            })
        );
        net.set_link_condition(secs(5), LinkId(0), LinkCondition::NORMAL)
            .unwrap();
        assert!(net.stalled_flows().is_empty());
        assert_eq!(net.next_completion(), Some(secs(11)));
        assert_eq!(net.take_completed(secs(11))[0].finished, secs(11));
    }

    #[test]
    fn flows_move_to_a_new_route_but_pinned_flows_stall() {
        // Both 1 GB flows take 0–2–1 at 0.5 Gbps each: 125 MB each by 2 s. L2 fails at 2 s: the
        // free flow moves to L0 at 1 Gbps, 875 MB / 125 MB/s = 7 s → done at 9 s.
        let mut net = triangle();
        let free = net.start_flow(SimTime::ZERO, transfer(0, 1, GB)).unwrap();
        let pinned_route = net.route(SiteId(0), SiteId(1));
        let pinned = net
            .start_flow(
                SimTime::ZERO,
                FlowSpec {
                    route: pinned_route,
                    ..transfer(0, 1, GB)
                },
            )
            .unwrap();
        assert_eq!(net.flow_rate_bps(free), Some(5e8));
        net.set_link_condition(secs(2), LinkId(2), down()).unwrap();
        assert_eq!(net.stalled_flows(), [pinned]);
        assert_eq!(net.flow_rate_bps(free), Some(1e9));
        let done = net.take_completed(secs(9));
        assert_eq!((done[0].id, done[0].finished), (free, secs(9)));
        assert_eq!(done[0].route.hops, [hop(0, true)]);
        assert_eq!(net.bytes_carried(LinkId(1)), (2.5e8, 0.0));
        assert_eq!(net.bytes_carried(LinkId(0)), (8.75e8, 0.0));
        assert_eq!(net.flow_remaining_bytes(pinned), Some(8.75e8));
    }

    #[test]
    fn loss_caps_a_flow_by_the_mathis_formula() {
        // RTT 20 ms, p = 1%: 1460·8 / 0.02 × 1.22 / √0.01 = 584 000 × 12.2 = 7 124 800 bit/s per stream.
        let mut net = Network::new(2, vec![link(0, 1, 1.0, 10, 0.01)]);
        let one = net.start_flow(SimTime::ZERO, transfer(0, 1, GB)).unwrap();
        let four = net
            .start_flow(
                SimTime::ZERO,
                FlowSpec {
                    streams: 4,
                    ..transfer(0, 1, GB)
                },
            )
            .unwrap();
        assert_relative_eq!(net.flow_rate_bps(one).unwrap(), 7_124_800.0, max_relative = 1e-12);
        assert_relative_eq!(
            net.flow_rate_bps(four).unwrap(),
            4.0 * 7_124_800.0,
            max_relative = 1e-12
        );
        assert_relative_eq!(net.route_loss(SiteId(0), SiteId(1)).unwrap(), 0.01);
        // Added loss combines as independent loss: 1 − 0.99 × 0.99 = 0.0199.
        let lossier = LinkCondition {
            added_loss: 0.01,
            ..LinkCondition::NORMAL
        };
        net.set_link_condition(SimTime::ZERO, LinkId(0), lossier).unwrap();
        assert_relative_eq!(
            net.effective_link(LinkId(0)).unwrap().loss,
            0.0199,
            max_relative = 1e-12
        );
        let expected = 7_124_800.0 * (0.01f64 / 0.0199).sqrt();
        assert_relative_eq!(net.flow_rate_bps(one).unwrap(), expected, max_relative = 1e-12);
    }

    #[test]
    fn stale_ids_are_rejected_and_local_transfers_are_instant() {
        let mut net = Network::new(2, vec![link(0, 1, 1.0, 5, 0.0)]);
        let local = net.start_flow(secs(1), transfer(0, 0, GB)).unwrap();
        assert_eq!(net.next_completion(), Some(secs(1)));
        assert_eq!(net.take_completed(secs(1))[0].id, local);
        assert_eq!(net.cancel_flow(secs(1), local), None);

        let again = net.start_flow(secs(1), transfer(0, 1, GB)).unwrap();
        assert_ne!(again, local);
        assert_eq!(net.cancel_flow(secs(2), local), None);
        assert_eq!(net.flow_rate_bps(local), None);
        let cancelled = net.cancel_flow(secs(2), again).unwrap();
        assert_eq!(cancelled.bytes_moved, 1.25e8);
        assert_eq!(net.active_flows(), 0);
        assert_eq!(
            net.start_flow(secs(2), transfer(0, 5, GB)),
            Err(NetworkError::UnknownSite(SiteId(5)))
        );
    }
}
