//! The synthetic estate of the scale benchmark: valid at every size, the same text for the same
//! shape, and bringing the demand it says it does.

use std::path::Path;

use hybridsim::scenario::load_str;
use hybridsim::scenario::synthetic::{EstateShape, estate};
use hybridsim::world::simulate;

#[test]
fn the_synthetic_estate_is_valid_and_unwarned_at_every_size() {
    for sites in [2, 9, 10, 25, 200] {
        let shape = EstateShape::new(sites, 100);
        let text = estate(&shape);
        let scenario =
            load_str(&text, Path::new("estate.ron")).unwrap_or_else(|e| panic!("{sites} sites: {e}"));
        assert_eq!(scenario.spec.sites.len(), sites);
        assert!(
            scenario.warnings.is_empty(),
            "{sites} sites: {:?}",
            scenario.warnings
        );
        // A region's first five sites hold every kind.
        let kinds = ["cloud", "edge", "on_prem", "colo"];
        let present = kinds.iter().filter(|k| text.contains(&format!("kind: {k},")));
        assert_eq!(present.count(), if sites >= 5 { 4 } else { 2 }, "{sites} sites");
    }
}

/// The arrivals over two days are Poisson with the mean the shape states: the count lies within
/// four standard deviations of it (a false alarm about once in 16,000 seeds).
#[test]
fn a_synthetic_estate_brings_the_demand_it_states_and_conserves_it() {
    let shape = EstateShape::new(20, 2);
    let scenario = load_str(&estate(&shape), Path::new("estate.ron")).unwrap();
    let outcome = simulate(&scenario.resolve().unwrap(), shape.seed).unwrap();
    let expected = shape.requests_per_year() * 2.0 / 365.0;
    let mut arrived = 0;
    for service in outcome.summary.services.values() {
        let r = &service.requests;
        assert_eq!(r.arrived, r.served + r.degraded + r.failed + r.in_flight);
        arrived += r.arrived;
    }
    let deviations = (arrived as f64 - expected) / expected.sqrt();
    assert!(
        deviations.abs() < 4.0,
        "{arrived} requests arrived, {expected:.0} expected ({deviations:.1} σ)"
    );
    assert!(outcome.summary.jobs.values().map(|j| j.submitted).sum::<u64>() > 0);
    assert!(!outcome.summary.incidents.is_empty());
}
