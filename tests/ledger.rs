//! The cost ledger against hand computation: idle reserved hours, per-second on-demand billing,
//! price changes, egress and interconnect per GB, and data residency of transfers.

use approx::assert_relative_eq;
use hybridsim::infra::estate::{Estate, TransferTag};
use hybridsim::infra::ledger::{CostCategory, Payer};
use hybridsim::infra::network::FlowSpec;
use hybridsim::kernel::{SimDuration, SimTime};
use hybridsim::scenario::load_str;
use hybridsim::vocab::Tier;
use hybridsim::vocab::WorkloadClass;
use hybridsim::vocab::ids::{DatasetId, PoolId, SiteId};

const ESTATE: &str = r#"#![enable(implicit_some)]
(
    name: "ledger",
    horizon: "10h",
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [
        (name: "fra", kind: on_prem, jurisdiction: "eu/de", egress_price: "0.01 USD/GB"),
        (name: "dub", kind: cloud, jurisdiction: "eu/ie", egress_price: "0.09 USD/GB"),
        (name: "iad", kind: cloud, jurisdiction: "us/va", egress_price: "0.09 USD/GB"),
    ],
    pools: [
        (site: "fra", accelerator: "H100", reserved: (count: 8, price: "2.5 USD/h"),
         on_demand: (limit: 16, price: "3.6 USD/h")),
    ],
    links: [
        (a: "fra", b: "dub", bandwidth: "10Gbps", latency: "30ms", price: "0.02 USD/GB"),
        (a: "fra", b: "iad", bandwidth: "10Gbps", latency: "40ms"),
        (a: "iad", b: "dub", bandwidth: "10Gbps", latency: "1ms"),
    ],
    datasets: [(name: "logs", size: "100GB", home: "fra", residency: ["eu"])],
)
"#;

fn estate() -> Estate {
    Estate::build(load_str(ESTATE, "ledger.ron".as_ref()).unwrap().spec.estate())
}

fn at_secs(secs: u64) -> SimTime {
    SimTime::ZERO.saturating_add(SimDuration::from_secs(secs))
}

fn category(estate: &Estate, category: CostCategory) -> f64 {
    estate.ledger.by_category()[&category]
}

const PAYER: Payer = Payer {
    class: WorkloadClass::Training,
    workload: 0,
};
const POOL: PoolId = PoolId(0);

#[test]
fn an_idle_reserved_pool_bills_count_times_price_times_hours() {
    let scenario = load_str(ESTATE, "ledger.ron".as_ref()).unwrap();
    let outcome = hybridsim::world::simulate(&scenario.resolve().unwrap(), 1).unwrap();
    let ledger = &outcome.record.ledger;
    assert_eq!(
        ledger.by_category()[&CostCategory::IdleReserved],
        8.0 * 2.5 * 10.0
    );
    assert_eq!(ledger.total(), 200.0);
    let mut idle_entries = 0;
    ledger
        .for_each(|e| idle_entries += usize::from(e.category == CostCategory::IdleReserved))
        .unwrap();
    assert_eq!(idle_entries, 10, "one entry per billed hour");
}

#[test]
fn on_demand_bills_per_second_held() {
    let mut estate = estate();
    let id = estate
        .allocate(SimTime::ZERO, POOL, Tier::OnDemand, 4, PAYER)
        .unwrap();
    estate
        .release(at_secs(1_234).saturating_add(SimDuration::from_millis(500)), id)
        .unwrap();
    assert_relative_eq!(
        category(&estate, CostCategory::Compute),
        4.0 * 1_234.5 / 3_600.0 * 3.6,
        max_relative = 1e-12
    );
    assert_eq!(estate.pools[0].tier(Tier::OnDemand).unwrap().in_use, 0);
}

#[test]
fn used_reserved_hours_are_compute_and_the_rest_idle() {
    let mut estate = estate();
    let id = estate
        .allocate(at_secs(3_600), POOL, Tier::Reserved, 3, PAYER)
        .unwrap();
    estate.bill_until(at_secs(7_200));
    estate.release(at_secs(3 * 3_600), id).unwrap();
    estate.bill_until(at_secs(10 * 3_600));
    assert_eq!(category(&estate, CostCategory::Compute), 3.0 * 2.0 * 2.5);
    assert_eq!(category(&estate, CostCategory::IdleReserved), (80.0 - 6.0) * 2.5);
    assert_eq!(
        estate.ledger.total(),
        200.0,
        "reserved GPUs cost the same used or not"
    );
}

#[test]
fn a_price_change_splits_the_bill() {
    let mut estate = estate();
    let id = estate
        .allocate(SimTime::ZERO, POOL, Tier::OnDemand, 2, PAYER)
        .unwrap();
    estate.set_price(at_secs(1_800), POOL, Tier::OnDemand, 7.2);
    estate.release(at_secs(3_600), id).unwrap();
    assert_relative_eq!(
        category(&estate, CostCategory::Compute),
        2.0 * 0.5 * 3.6 + 2.0 * 0.5 * 7.2,
        max_relative = 1e-12
    );
}

#[test]
fn transfers_pay_sender_egress_and_link_price_per_gb() {
    let mut estate = estate();
    let route = estate.dataset_route(DatasetId(0), SiteId(1)).unwrap();
    assert_eq!(route.sites, vec![SiteId(0), SiteId(1)]);
    let spec = FlowSpec {
        from: SiteId(0),
        to: SiteId(1),
        bytes: 100_000_000_000,
        streams: 1,
        route: Some(route),
        tag: TransferTag {
            payer: Some(PAYER),
            dataset: Some(DatasetId(0)),
            purpose: Default::default(),
        },
    };
    estate.network.start_flow(SimTime::ZERO, spec).unwrap();
    let done_at = estate.network.next_completion().unwrap();
    // 100 GB over 10 Gbps = 80 s.
    assert_eq!(done_at, at_secs(80));
    let done = estate.network.take_completed(done_at);
    assert_eq!(done.len(), 1);
    estate.bill_transfer(
        done[0].started,
        done[0].finished,
        &done[0].route,
        done[0].bytes as f64,
        done[0].tag.payer,
    );
    assert_relative_eq!(
        category(&estate, CostCategory::Egress),
        100.0 * 0.01,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        category(&estate, CostCategory::Interconnect),
        100.0 * 0.02,
        max_relative = 1e-12
    );
}

#[test]
fn residency_keeps_data_and_its_route_inside_the_jurisdiction() {
    let mut estate = estate();
    // The EU-only dataset may not go to the US site at all.
    assert!(estate.dataset_route(DatasetId(0), SiteId(2)).is_err());
    // With the direct EU link down, the only path fra → dub crosses the US: refused.
    use hybridsim::infra::network::LinkCondition;
    use hybridsim::vocab::ids::LinkId;
    let down = LinkCondition {
        up: false,
        ..LinkCondition::NORMAL
    };
    estate
        .network
        .set_link_condition(SimTime::ZERO, LinkId(0), down)
        .unwrap();
    assert!(
        estate.network.route(SiteId(0), SiteId(1)).is_some(),
        "other data may route via iad"
    );
    let err = estate.dataset_route(DatasetId(0), SiteId(1)).unwrap_err();
    assert!(err.to_string().contains("stays within"), "{err}");
}
