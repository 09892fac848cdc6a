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
//!
//! This file owns the public types and the network's state; its behaviour is split by concern:
//! `links` (link and site state, a link's effective figures), `routes` (the route cache,
//! Dijkstra with its tie-break, re-routing after a change), `flows` (starting, advancing,
//! finishing and cancelling flows) and `rates` (max-min fair sharing and the Mathis bound).

mod flows;
mod links;
mod rates;
mod routes;
#[cfg(test)]
mod tests;

use crate::kernel::{SimDuration, SimTime};
use crate::vocab::ids::{LinkId, SiteId};
pub use rates::max_min_rates;

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
    /// Bumped whenever `routes` is rebuilt, so a cache of what routes read knows it is stale.
    routes_version: u64,
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
            routes_version: 0,
            slots: Vec::new(),
            free: Vec::new(),
            clock: SimTime::ZERO,
        };
        network.routes = network.all_pairs();
        network
    }
}
