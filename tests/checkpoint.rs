//! Checkpointing against Young (1974) and Daly (2006) on the bundled validation scenario: one
//! 480-hour job, interrupted every M = 10 h on average, δ = 6 min writes, R = 10 min restarts.
//!
//! For each interval τ the job is run with several seeds; the mean wall time must contain
//! Daly's expected wall time T_w = M·e^{R/M}·(e^{(τ+δ)/M} − 1)·T_s/τ in its confidence
//! interval, and the measured waste must be smallest at the interval nearest √(2δM).

use hybridsim::experiment::closed_form::daly_expected_wall_time;
use hybridsim::metrics::job::JobOutcome;
use hybridsim::metrics::stats::mean_confidence_interval;
use hybridsim::scenario::{Scenario, load};
use hybridsim::world::simulate;

const T_S: f64 = 480.0;
const DELTA: f64 = 0.1;
const RESTART: f64 = 1.0 / 6.0;
const MTBF: f64 = 10.0;
const REPLICATIONS: u64 = 24;
/// Five intervals compared at once: a family-wise level of 99% (Bonferroni).
const LEVEL: f64 = 1.0 - 0.01 / 5.0;

fn scenario() -> Scenario {
    load("scenarios/validation/checkpoint.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

/// Wall time in hours from start to completion, one per seed.
fn wall_times(base: &Scenario, interval_h: f64) -> Vec<f64> {
    let mut scenario = base.clone();
    let checkpoint = scenario.spec.jobs[0].checkpoint.as_mut().unwrap();
    checkpoint.interval = hybridsim::kernel::SimDuration::from_secs((interval_h * 3600.0) as u64);
    (1..=REPLICATIONS)
        .map(|seed| {
            let outcome = simulate(&scenario.resolve().unwrap(), seed).unwrap();
            let job = &outcome.record.jobs.rows().unwrap()[0];
            assert_eq!(
                job.outcome,
                JobOutcome::Completed,
                "τ = {interval_h} h, seed {seed}"
            );
            job.record.ended.unwrap().as_secs_f64() / 3600.0
        })
        .collect()
}

#[test]
fn measured_wall_time_matches_daly_and_waste_is_least_near_young() {
    let base = scenario();
    let young = (2.0 * DELTA * MTBF).sqrt();
    // Intervals that divide T_s, so the job is exactly T_s/τ segments as Daly's formula counts.
    let intervals = [0.375, 0.75, 1.5, 3.0, 6.0];
    let mut waste = Vec::new();
    for &tau in &intervals {
        let walls = wall_times(&base, tau);
        let expected = daly_expected_wall_time(T_S, tau, DELTA, RESTART, MTBF);
        let (mean, half_width) = mean_confidence_interval(&walls, LEVEL).unwrap();
        assert!(
            (expected - mean).abs() <= half_width,
            "τ = {tau} h: Daly expects {expected:.2} h, the runs give {mean:.2} ± {half_width:.2} h"
        );
        eprintln!(
            "τ = {tau:5.3} h: wall {mean:7.2} ± {half_width:4.2} h, Daly {expected:7.2} h, waste {:.4}",
            1.0 - T_S / mean
        );
        waste.push(1.0 - T_S / mean);
    }
    let best = (0..intervals.len())
        .min_by(|&a, &b| waste[a].total_cmp(&waste[b]))
        .unwrap();
    let nearest = (0..intervals.len())
        .min_by(|&a, &b| {
            (intervals[a] - young)
                .abs()
                .total_cmp(&(intervals[b] - young).abs())
        })
        .unwrap();
    assert_eq!(
        best, nearest,
        "waste {waste:?} over intervals {intervals:?}; Young's interval is {young:.2} h"
    );
}

#[test]
fn the_llama3_like_run_loses_what_daly_predicts() {
    // The gang fails at 16,384 / 50,790 per hour; spares make every restart immediate.
    let scenario = load("scenarios/llama3-reliability.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let mtbf = 50_790.0 / 16_384.0;
    let expected = daly_expected_wall_time(1_166.25, 0.25, 30.0 / 3600.0, 5.0 / 60.0, mtbf);
    let walls: Vec<f64> = (1..=16)
        .map(|seed| {
            let outcome = simulate(&scenario.resolve().unwrap(), seed).unwrap();
            let training = &outcome.summary.jobs["training"];
            assert_eq!(training.completed, 1, "seed {seed}");
            let goodput = training.goodput.unwrap();
            let job = &outcome.record.jobs.rows().unwrap()[0];
            let wall = job.record.ended.unwrap().as_secs_f64() / 3600.0;
            // The gang is held without a gap, so goodput is the effective training time T_s/T_w.
            approx::assert_relative_eq!(goodput, 1_166.25 / wall, max_relative = 1e-9);
            wall
        })
        .collect();
    let (mean, half_width) = mean_confidence_interval(&walls, 0.99).unwrap();
    eprintln!(
        "Llama-3-like: wall {mean:.1} ± {half_width:.1} h, Daly {expected:.1} h, goodput {:.4}",
        1_166.25 / mean
    );
    assert!(
        (expected - mean).abs() <= half_width,
        "Daly {expected:.1} h, runs {mean:.1} ± {half_width:.1} h"
    );
    assert!(
        1_166.25 / mean > 0.9,
        "Meta reported over 90% effective training time"
    );
}
