//! Tests of comparisons: plans and their labels, the table of figures and the means over
//! seeds.

use std::path::Path;

use approx::assert_relative_eq;

use super::table::replications;
use super::*;
use crate::scenario;

fn load(path: &str) -> Scenario {
    scenario::load(Path::new(path)).expect("bundled scenario loads")
}

fn labels(runs: &[RunPlan]) -> Vec<&str> {
    runs.iter().map(|r| r.label.as_str()).collect()
}

#[test]
fn labels_name_only_what_varies() {
    let single = load("scenarios/drills/eu-outage-single.ron");
    let dual = load("scenarios/drills/eu-outage-dual.ron");
    let one = ["cheapest".to_string()];
    let two = ["cheapest".to_string(), "failover".to_string()];
    let runs = plan(&[&dual], &two, &Seeds::Own).unwrap();
    assert_eq!(labels(&runs), ["cheapest", "failover"]);
    let runs = plan(&[&single, &dual], &one, &Seeds::Own).unwrap();
    assert_eq!(labels(&runs), ["eu-outage-single", "eu-outage-dual"]);
    let runs = plan(&[&dual], &one, &Seeds::Replications(3)).unwrap();
    assert_eq!(labels(&runs), ["seed-7", "seed-8", "seed-9"]);
    let runs = plan(&[&single, &dual], &two, &Seeds::These(vec![1, 2])).unwrap();
    assert_eq!(runs.len(), 8);
    assert_eq!(runs[0].label, "eu-outage-single.cheapest.seed-1");
    assert_eq!(runs[7].label, "eu-outage-dual.failover.seed-2");
    let runs = plan(&[&dual, &dual], &one, &Seeds::Own).unwrap();
    assert_eq!(labels(&runs), ["cheapest", "cheapest-2"], "one run, named twice");
    assert_eq!(plan(&[&dual], &one, &Seeds::Own).unwrap()[0].label, "cheapest");
}

#[test]
fn numbers_in_labels_sort_by_value() {
    let mut labels = vec![
        "seed-10",
        "seed-7",
        "seed-9",
        "b.seed-1",
        "a2b",
        "a10b",
        "seed-007",
        "seed-07",
        "seed-",
        "seed-99999999999999999999999",
        "seed-100000000000000000000000",
    ];
    labels.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        labels,
        [
            "a2b",
            "a10b",
            "b.seed-1",
            "seed-",
            "seed-7",
            "seed-07",
            "seed-007",
            "seed-9",
            "seed-10",
            "seed-99999999999999999999999",
            "seed-100000000000000000000000",
        ]
    );
    assert_eq!(natural_cmp("seed-7", "seed-7"), Ordering::Equal);
    assert_eq!(natural_cmp("é2", "é10"), Ordering::Less);
}

#[test]
fn seeds_are_listed_in_natural_order_and_policies_as_given() {
    let dual = load("scenarios/drills/eu-outage-dual.ron");
    let policies = ["failover".to_string(), "cheapest".to_string()];
    let runs = plan(&[&dual], &policies, &Seeds::These(vec![10, 7, 9])).unwrap();
    assert_eq!(
        labels(&runs),
        [
            "failover.seed-7",
            "failover.seed-9",
            "failover.seed-10",
            "cheapest.seed-7",
            "cheapest.seed-9",
            "cheapest.seed-10"
        ]
    );
}

#[test]
fn without_policies_each_scenario_runs_its_own_list() {
    let dual = load("scenarios/drills/eu-outage-dual.ron");
    let runs = plan(&[&dual], &[], &Seeds::Own).unwrap();
    let policies: Vec<&str> = runs.iter().map(|r| r.policy.as_str()).collect();
    assert_eq!(policies.first(), Some(&"lowest_latency"));
    assert_eq!(policies.len(), dual.spec.policy_names().len());
    assert!(runs.iter().all(|r| r.seed == dual.spec.seed));
}

#[test]
fn too_many_runs_are_refused_before_any_is_listed() {
    let dual = load("scenarios/drills/eu-outage-dual.ron");
    let refused = plan(&[&dual], &[], &Seeds::Replications(u64::MAX));
    assert!(matches!(
        refused,
        Err(CompareError::TooManyRuns { max: MAX_RUNS, .. })
    ));
    let fits = plan(&[&dual], &["cheapest".to_string()], &Seeds::Replications(200));
    assert_eq!(
        fits.map(|r| r.len()).ok(),
        Some(200),
        "more runs than the old ceiling of 64"
    );
}

fn figures(label: &str, scenario: &str, seed: u64, cost: f64, p99: &[(&str, f64)]) -> RunFigures {
    RunFigures {
        label: label.into(),
        scenario: scenario.into(),
        policy: "cheapest".into(),
        seed,
        cost_usd: cost,
        service_cost_usd: BTreeMap::new(),
        cost_per_1k_requests_usd: BTreeMap::new(),
        p99_ms: p99.iter().map(|(n, v)| (n.to_string(), Some(*v))).collect(),
        slo_attainment: BTreeMap::new(),
        requests_failed: p99.iter().map(|(n, _)| (n.to_string(), 0)).collect(),
        time_to_recover_s: BTreeMap::new(),
        goodput: BTreeMap::new(),
        jobs_completed: BTreeMap::new(),
    }
}

fn comparison(runs: Vec<RunFigures>) -> Comparison {
    let replications = replications(&runs);
    Comparison {
        schema_version: SCHEMA_VERSION,
        runs,
        replications,
    }
}

#[test]
fn the_table_has_every_runs_figures_and_blanks_where_a_run_has_none() {
    let c = comparison(vec![
        figures("a", "a", 1, 10.0, &[("chat", 100.0)]),
        figures("b", "b", 1, 20.0, &[("batch", 50.0), ("chat", 200.0)]),
    ]);
    let (header, rows) = c.table();
    assert_eq!(
        header[..7],
        [
            "run",
            "scenario",
            "policy",
            "seed",
            "cost_usd",
            "p99_ms.chat",
            "p99_ms.batch"
        ]
    );
    assert_eq!(rows[0][4..7], ["10.00", "100.0", ""]);
    assert_eq!(rows[1][4..7], ["20.00", "200.0", "50.0"]);
    assert!(
        c.replications.is_empty(),
        "one seed per scenario: nothing to average"
    );
}

#[test]
fn each_service_has_its_cost_and_cost_per_thousand_requests_in_every_output() {
    let mut chat = figures("a", "s", 1, 30.0, &[("chat", 100.0)]);
    chat.service_cost_usd.insert("chat".into(), 12.5);
    chat.cost_per_1k_requests_usd.insert("chat".into(), Some(0.25));
    let mut idle = figures("b", "s", 2, 40.0, &[("chat", 90.0)]);
    idle.service_cost_usd.insert("chat".into(), 3.0);
    idle.cost_per_1k_requests_usd.insert("chat".into(), None);
    let c = comparison(vec![chat, idle]);
    let (header, rows) = c.table();
    assert_eq!(
        header[4..7],
        [
            "cost_usd",
            "service_cost_usd.chat",
            "cost_per_1k_requests_usd.chat"
        ]
    );
    assert_eq!(rows[0][5..7], ["12.50", "0.2500"]);
    assert_eq!(
        rows[1][5..7],
        ["3.00", ""],
        "no request answered: no cost per request"
    );
    assert!(c.text().contains("cost_per_1k_requests_usd.chat"));
    let [r] = c.replications.as_slice() else {
        panic!("one group over two seeds: {:?}", c.replications)
    };
    let per_1k = r
        .figures
        .iter()
        .find(|f| f.figure == "cost_per_1k_requests_usd.chat")
        .expect("a mean of the cost per 1k requests");
    assert_eq!((per_1k.n, per_1k.mean), (1, 0.25));
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["runs"][0]["service_cost_usd"]["chat"], 12.5);
    assert_eq!(json["runs"][0]["cost_per_1k_requests_usd"]["chat"], 0.25);
    // Every column is named by its path in comparison.json's runs, which readers of both
    // (the notebooks) match on.
    for figure in c.figures() {
        let run = &json["runs"][0];
        let value = match figure.name.split_once('.') {
            Some((field, key)) => &run[field][key],
            None => &run[figure.name.as_str()],
        };
        assert!(
            !value.is_null(),
            "{} is not a path in comparison.json",
            figure.name
        );
    }
}

#[test]
fn replications_give_the_student_t_interval_of_the_mean() {
    let costs = [10.0, 12.0, 17.0];
    let runs = costs
        .iter()
        .enumerate()
        .map(|(i, &cost)| figures(&format!("seed-{i}"), "s", i as u64, cost, &[("chat", cost)]))
        .collect();
    let c = comparison(runs);
    let [r] = c.replications.as_slice() else {
        panic!("one group: {:?}", c.replications)
    };
    assert_eq!(r.seeds, [0, 1, 2]);
    let cost = &r.figures[0];
    assert_eq!((cost.figure.as_str(), cost.n), ("cost_usd", 3));
    // Mean 13, sample standard deviation √13, t(0.975, 2) = 4.302653 (tables).
    assert_relative_eq!(cost.mean, 13.0);
    let half = cost.ci_half_width.expect("three values");
    assert_relative_eq!(half, 4.302653 * 13f64.sqrt() / 3f64.sqrt(), max_relative = 1e-6);
    assert_eq!((cost.min, cost.max), (10.0, 17.0));
    let csv = String::from_utf8(c.replications_csv().unwrap()).unwrap();
    assert!(csv.starts_with(
        "scenario,policy,minus,seeds,figure,n,mean,ci95_half_width,min,max\ns,cheapest,,0 1 2,cost_usd,3,13,"
    ));
}

#[test]
fn differences_pair_each_policy_with_the_first_by_seed() {
    // Seed noise shared by both policies (common random numbers): 100, 200, 300 USD;
    // the second policy costs 10, 12, 17 USD more.
    let mut runs = Vec::new();
    for (seed, (noise, extra)) in [(100.0, 10.0), (200.0, 12.0), (300.0, 17.0)]
        .into_iter()
        .enumerate()
    {
        let seed = seed as u64;
        runs.push(figures("a", "s", seed, noise, &[]));
        let mut other = figures("b", "s", seed, noise + extra, &[]);
        other.policy = "failover".into();
        runs.push(other);
    }
    let c = comparison(runs);
    let headings: Vec<String> = c.replications.iter().map(Replication::heading).collect();
    assert_eq!(
        headings,
        [
            "s under cheapest",
            "s under failover",
            "s: failover − cheapest, paired by seed"
        ]
    );
    let means = |i: usize| c.replications[i].figures[0].clone();
    let difference = means(2);
    assert_eq!(c.replications[2].baseline.as_deref(), Some("cheapest"));
    assert_relative_eq!(difference.mean, means(1).mean - means(0).mean);
    // The paired interval is that of {10, 12, 17}; each mean's is that of the noise, 20 times wider.
    let half = difference.ci_half_width.expect("three pairs");
    assert_relative_eq!(half, 4.302653 * 13f64.sqrt() / 3f64.sqrt(), max_relative = 1e-6);
    assert!(means(0).ci_half_width.expect("three runs") > 20.0 * half);
    let csv = String::from_utf8(c.replications_csv().unwrap()).unwrap();
    assert!(
        csv.contains("\ns,failover,cheapest,0 1 2,cost_usd,3,13,"),
        "{csv}"
    );
}

#[test]
fn counts_show_without_decimals_and_nothing_shows_as_minus_zero() {
    use super::{decimals_for, shown};
    assert_eq!(shown(1.0, 0), "1");
    assert_eq!(
        shown(29_971.666, 0),
        "29971.7",
        "a mean of counts keeps one decimal"
    );
    assert_eq!(decimals_for(2.0, 0), 0);
    assert_eq!(decimals_for(2.5, 0), 1);
    assert_eq!(decimals_for(2.5, 4), 4);
    assert_eq!(shown(-1e-17, 4), "0.0000");
    assert_eq!(shown(-0.0, 0), "0");
    assert_eq!(shown(-0.00004, 4), "0.0000");
    assert_eq!(shown(-0.0004, 4), "-0.0004");
    assert_eq!(shown(f64::NAN, 2), "-");
    // In the replications' text: jobs completed 1 in every seed is "1 ± 0 (1 … 1)".
    let runs = (0..3)
        .map(|seed| {
            let mut f = figures(&format!("seed-{seed}"), "s", seed, 10.0, &[("chat", 100.0)]);
            f.jobs_completed.insert("training".into(), 1);
            f.goodput.insert("training".into(), Some(0.9));
            f
        })
        .collect();
    let text = comparison(runs).text();
    let line = text
        .lines()
        .rfind(|l| l.trim_start().starts_with("jobs_completed.training"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with("  1 ± 0  (1 … 1)"), "{line}");
    assert!(!text.contains("-0.0"), "{text}");
}
