//! The output formats, pinned: `summary.json` of the quickstart and the header of every table.
//! A change to a format shows as a snapshot diff to review (`tests/snapshots/`), not as a
//! silent change downstream users discover.

use hybridsim::experiment::compare::Comparison;
use hybridsim::report::series::{COST_CSV_HEADER, TIMESERIES_CSV_HEADER};
use hybridsim::report::{DECISIONS_CSV_HEADER, INCIDENTS_CSV_HEADER, JOBS_CSV_HEADER};

#[test]
fn quickstart_summary_json() {
    let scenario = hybridsim::scenario::load("scenarios/quickstart.ron".as_ref()).unwrap();
    let outcome = hybridsim::world::simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&outcome.summary).unwrap());
}

#[test]
fn table_headers() {
    let headers = [
        ("jobs.csv", JOBS_CSV_HEADER.join(",")),
        ("incidents.csv", INCIDENTS_CSV_HEADER.join(",")),
        ("decisions.csv", DECISIONS_CSV_HEADER.join(",")),
        ("timeseries.csv", TIMESERIES_CSV_HEADER.join(",")),
        ("cost.csv", COST_CSV_HEADER.join(",")),
    ];
    let text: Vec<String> = headers
        .iter()
        .map(|(file, header)| format!("{file}: {header}"))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn comparison_header() {
    let scenario = hybridsim::scenario::load("scenarios/drills/eu-outage-dual.ron".as_ref()).unwrap();
    let names = ["lowest_latency".to_string(), "cheapest".to_string()];
    let runs =
        hybridsim::experiment::compare::run_policies(&scenario.resolve().unwrap(), 7, &names, &|_, _| {});
    let outcomes: Vec<_> = runs.into_iter().map(Result::unwrap).collect();
    let summaries: Vec<_> = outcomes.iter().map(|o| &o.summary).collect();
    let (header, _) = Comparison::of(&summaries).table();
    insta::assert_snapshot!(header.join(","));
}
