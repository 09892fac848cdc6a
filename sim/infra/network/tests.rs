//! Tests of the network: reference max-min vectors, property tests of the allocation and of
//! routes against a brute-force search, and scenarios of flows across failures.

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
