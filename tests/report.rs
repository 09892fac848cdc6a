//! The figures over time agree with the run's own totals: `timeseries.csv` and `cost.csv`.

use hybridsim::report::series::{
    COST_CSV_HEADER, TIMESERIES_CSV_HEADER, collect, write_cost_csv, write_timeseries_csv,
};
use hybridsim::world::{RunOutcome, simulate};

fn run(path: &str) -> RunOutcome {
    let scenario = hybridsim::scenario::load(path.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn series_add_up_to_the_summary() {
    let outcome = run("scenarios/drills/eu-outage-dual.ron");
    let series = collect(&outcome).unwrap();
    let find = |metric: &str, key: &str| {
        series
            .iter()
            .find(|s| s.metric == metric && s.key == key)
            .unwrap_or_else(|| panic!("{metric} {key}"))
    };
    let requests = &outcome.summary.services["assistant"].requests;
    let sum = |metric| find(metric, "assistant").points.iter().map(|p| p.1).sum::<f64>();
    assert_eq!(sum("requests_arrived"), requests.arrived as f64);
    assert_eq!(sum("requests_served"), requests.served as f64);
    // Cumulative cost by category and by tier ends at the ledger's totals.
    let cost = &outcome.summary.cost;
    for (category, total) in &cost.by_category {
        let last = find("cost_cumulative_usd", category).points.last().unwrap().1;
        assert!(close(last, *total), "{category}: {last} vs {total}");
    }
    for (tier, total) in &cost.by_tier {
        let last = find("cost_cumulative_usd_by_tier", tier).points.last().unwrap().1;
        assert!(close(last, *total), "{tier}: {last} vs {total}");
    }
    // GPUs in use never exceed capacity, and the outage empties the Dublin region.
    let in_use = find("gpus_in_use", "cloud-eu-1/H100/on_demand");
    let capacity = find("gpus_capacity", "cloud-eu-1/H100/on_demand");
    for (u, c) in in_use.points.iter().zip(&capacity.points) {
        assert_eq!(u.0, c.0);
        assert!(u.1 <= c.1, "{u:?} > {c:?}");
    }
    let during = in_use
        .points
        .iter()
        .find(|p| p.0 > 36_000.0 && p.0 < 43_200.0)
        .unwrap();
    assert_eq!(during.1, 0.0, "the region is down from 10:00 to 12:00");
    let p99 = find("latency_p99_ms", "assistant");
    assert!(p99.points.iter().all(|p| p.1 > 0.0));
    assert_eq!(find("backlog", "").points.len(), 24 * 60);
}

#[test]
fn tables_have_their_headers_and_a_row_per_point_and_charge() {
    let outcome = run("scenarios/quickstart.ron");
    let series = collect(&outcome).unwrap();
    let mut text = Vec::new();
    write_timeseries_csv(&outcome, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with(&(TIMESERIES_CSV_HEADER.join(",") + "\n")));
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    assert_eq!(text.lines().count(), points + 1);
    let mut cost = Vec::new();
    write_cost_csv(&outcome, &mut cost).unwrap();
    let cost = String::from_utf8(cost).unwrap();
    assert!(cost.starts_with(&(COST_CSV_HEADER.join(",") + "\n")));
    assert_eq!(cost.lines().count() as u64, outcome.record.ledger.len() + 1);
    let total: f64 = cost
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(close(total, outcome.summary.cost.total_usd), "{total}");
}

#[test]
fn a_run_in_steps_for_progress_is_the_same_run() {
    let scenario = hybridsim::scenario::load("scenarios/drills/eu-outage-dual.ron".as_ref()).unwrap();
    let policy = || hybridsim::world::scenario_policy(&scenario.resolve().unwrap());
    let whole = hybridsim::world::simulate_with(&scenario.resolve().unwrap(), 7, policy()).unwrap();
    let mut seen = Vec::new();
    let stepped =
        hybridsim::world::simulate_observed(&scenario.resolve().unwrap(), 7, policy(), &mut |done| {
            seen.push(done)
        })
        .unwrap();
    assert_eq!(
        serde_json::to_string(&whole.summary).unwrap(),
        serde_json::to_string(&stepped.summary).unwrap()
    );
    assert_eq!(
        whole.record.decisions.entries().unwrap(),
        stepped.record.decisions.entries().unwrap()
    );
    assert_eq!(seen.len() as u64, hybridsim::world::PROGRESS_STEPS);
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && seen.last() == Some(&1.0));
}

#[test]
fn the_request_rate_chart_adds_up_to_the_summary_and_shows_the_outage() {
    let outcome = run("scenarios/quickstart.ron");
    let chart = hybridsim::report::figures::request_rate_chart(&outcome).unwrap();
    let window_s = outcome.record.window.as_secs_f64();
    let names: Vec<&str> = chart.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(names, ["assistant", "assistant-small"]);
    for service in &chart.services {
        let requests = &outcome.summary.services[&service.service].requests;
        let total = |rate: fn(&hybridsim::report::charts::RequestPoint) -> f64| {
            (service.points.iter().map(rate).sum::<f64>() * window_s).round()
        };
        assert_eq!(
            total(|p| p.arrived_per_s),
            requests.arrived as f64,
            "{}",
            service.service
        );
        assert_eq!(
            total(|p| p.degraded_per_s),
            requests.degraded as f64,
            "{}",
            service.service
        );
        assert_eq!(
            total(|p| p.failed_per_s),
            requests.failed as f64,
            "{}",
            service.service
        );
    }
    // The fallback answers only while the EU region is down (12:00 to 14:00, and the window
    // that ends as it comes back).
    let fallback = &chart.services[1];
    assert!(
        fallback
            .points
            .iter()
            .all(|p| p.arrived_per_s == 0.0 || (43_200.0..=50_400.0 + window_s).contains(&p.t_s)),
    );
    assert!(fallback.points.iter().any(|p| p.arrived_per_s > 0.0));
    assert_eq!(chart.incidents.len(), 1);
}

#[test]
fn the_comparison_gives_each_service_its_ledger_cost_per_thousand_requests() {
    use hybridsim::experiment::compare::RunFigures;
    use hybridsim::infra::ledger::Payer;
    use hybridsim::vocab::WorkloadClass;
    let outcome = run("scenarios/drills/eu-outage-dual.ron");
    let figures = RunFigures::of("run", &outcome.summary);
    assert!(!outcome.record.services.is_empty());
    for (index, service) in outcome.record.services.iter().enumerate() {
        // Every ledger entry charged to the service, added up here rather than read from the
        // summary.
        let payer = Payer {
            class: WorkloadClass::Inference,
            workload: index as u32,
        };
        let mut charged = 0.0;
        outcome
            .record
            .ledger
            .for_each(|e| {
                if e.payer == Some(payer) {
                    charged += e.usd;
                }
            })
            .unwrap();
        let requests = &outcome.summary.services[&service.name].requests;
        let answered = (requests.served + requests.degraded) as f64;
        assert!(answered > 0.0 && charged > 0.0, "{}", service.name);
        assert!(close(figures.service_cost_usd[&service.name], charged));
        let per_1k = figures.cost_per_1k_requests_usd[&service.name].expect("requests answered");
        assert!(
            close(per_1k, charged / answered * 1_000.0),
            "{}: {per_1k} against {}",
            service.name,
            charged / answered * 1_000.0
        );
    }
}
