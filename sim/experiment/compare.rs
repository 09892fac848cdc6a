//! Comparing policies: one scenario run under several policies with the same seed, so every run
//! sees the same arrivals, failures and preemptions (common random numbers) and the differences
//! are the policies'. The runs go in parallel; the table lists them in the order asked.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::metrics::Summary;
use crate::policy::built_in;
use crate::scenario::Scenario;
use crate::world::{RunError, RunOutcome, simulate_observed};

/// Runs `scenario` with `seed` under each built-in policy in `names`, in parallel; the outcomes
/// come back in the order of `names`. `progress` hears (index in `names`, fraction of simulated
/// time done) as each run goes. Unknown names are an error of the caller (they were checked
/// with the scenario or on the command line).
pub fn run_policies(
    scenario: &Scenario,
    seed: u64,
    names: &[String],
    progress: &(dyn Fn(usize, f64) + Sync),
) -> Vec<Result<RunOutcome, RunError>> {
    let spec = &scenario.spec;
    names
        .par_iter()
        .enumerate()
        .map(|(index, name)| {
            let policy =
                built_in(name, &spec.policies, spec).ok_or_else(|| RunError::UnknownPolicy(name.clone()))?;
            simulate_observed(scenario, seed, policy, &mut |done| progress(index, done))
        })
        .collect()
}

/// The headline figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyFigures {
    /// The run's label: the policy, or what varies between compared runs.
    pub policy: String,
    /// Total cost.
    pub cost_usd: f64,
    /// Per service: p99 end-to-end latency in ms.
    pub p99_ms: BTreeMap<String, Option<f64>>,
    /// Per service with an SLO: the share of requests within it.
    pub slo_attainment: BTreeMap<String, Option<f64>>,
    /// Per service: requests failed.
    pub requests_failed: BTreeMap<String, u64>,
    /// Per incident: time to recover in seconds (`None`: not recovered, or nothing to recover).
    pub time_to_recover_s: BTreeMap<String, Option<f64>>,
    /// Per job class: goodput.
    pub goodput: BTreeMap<String, Option<f64>>,
    /// Per job class: jobs completed.
    pub jobs_completed: BTreeMap<String, u64>,
}

impl PolicyFigures {
    /// The figures of one run.
    pub fn of(summary: &Summary) -> Self {
        let services = &summary.services;
        PolicyFigures {
            policy: summary.policy.clone(),
            cost_usd: summary.cost.total_usd,
            p99_ms: services
                .iter()
                .map(|(n, s)| (n.clone(), s.latency_ms.get("e2e").and_then(|l| l.p99)))
                .collect(),
            slo_attainment: services
                .iter()
                .filter_map(|(n, s)| s.slo.as_ref().map(|slo| (n.clone(), slo.attainment)))
                .collect(),
            requests_failed: services
                .iter()
                .map(|(n, s)| (n.clone(), s.requests.failed))
                .collect(),
            time_to_recover_s: summary
                .incidents
                .iter()
                .map(|i| (i.name.clone(), i.time_to_recover_s))
                .collect(),
            goodput: summary
                .jobs
                .iter()
                .map(|(c, j)| (c.to_string(), j.goodput))
                .collect(),
            jobs_completed: summary
                .jobs
                .iter()
                .map(|(c, j)| (c.to_string(), j.completed))
                .collect(),
        }
    }
}

/// Policies side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The scenario.
    pub scenario: String,
    /// The seed every run used.
    pub seed: u64,
    /// One row per policy, in the order asked.
    pub policies: Vec<PolicyFigures>,
}

impl Comparison {
    /// Compares the summaries of runs of one scenario with one seed, labelled by policy.
    pub fn of(summaries: &[&Summary]) -> Self {
        let labelled: Vec<(&str, &Summary)> = summaries.iter().map(|s| (s.policy.as_str(), *s)).collect();
        Self::labelled(&labelled)
    }

    /// Compares runs under the given labels (the first run's scenario and seed head the table).
    pub fn labelled(runs: &[(&str, &Summary)]) -> Self {
        Comparison {
            scenario: runs.first().map_or(String::new(), |(_, s)| s.scenario.clone()),
            seed: runs.first().map_or(0, |(_, s)| s.seed),
            policies: runs
                .iter()
                .map(|(label, s)| PolicyFigures {
                    policy: label.to_string(),
                    ..PolicyFigures::of(s)
                })
                .collect(),
        }
    }

    /// The table as columns: a header and one row of cells per policy. Empty cells are figures
    /// that do not exist for that run (no SLO, nothing recovered).
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = vec!["policy".to_string(), "cost_usd".to_string()];
        let mut columns: Vec<Column> = Vec::new();
        columns.push(Box::new(|f| f.policy.clone()));
        columns.push(Box::new(|f| format!("{:.2}", f.cost_usd)));
        let first = self.policies.first();
        let keys = |map: Option<Vec<String>>| map.unwrap_or_default();
        for name in keys(first.map(|f| f.p99_ms.keys().cloned().collect())) {
            header.push(format!("p99_ms.{name}"));
            let key = name.clone();
            columns.push(Box::new(move |f| cell(f.p99_ms.get(&key).copied().flatten(), 1)));
        }
        for name in keys(first.map(|f| f.slo_attainment.keys().cloned().collect())) {
            header.push(format!("slo_attainment.{name}"));
            columns.push(Box::new(move |f| {
                cell(f.slo_attainment.get(&name).copied().flatten(), 5)
            }));
        }
        for name in keys(first.map(|f| f.requests_failed.keys().cloned().collect())) {
            header.push(format!("requests_failed.{name}"));
            columns.push(Box::new(move |f| {
                f.requests_failed.get(&name).map_or(String::new(), u64::to_string)
            }));
        }
        for name in keys(first.map(|f| f.time_to_recover_s.keys().cloned().collect())) {
            header.push(format!("time_to_recover_s.{name}"));
            columns.push(Box::new(move |f| {
                cell(f.time_to_recover_s.get(&name).copied().flatten(), 0)
            }));
        }
        for class in keys(first.map(|f| f.goodput.keys().cloned().collect())) {
            header.push(format!("goodput.{class}"));
            let key = class.clone();
            columns.push(Box::new(move |f| cell(f.goodput.get(&key).copied().flatten(), 4)));
            header.push(format!("jobs_completed.{class}"));
            columns.push(Box::new(move |f| {
                f.jobs_completed.get(&class).map_or(String::new(), u64::to_string)
            }));
        }
        let rows = self
            .policies
            .iter()
            .map(|f| columns.iter().map(|c| c(f)).collect())
            .collect();
        (header, rows)
    }

    /// The table as CSV.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let (header, rows) = self.table();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&header)?;
        for row in rows {
            writer.write_record(&row)?;
        }
        writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// The table as aligned text, one figure per line and a column per policy (readable when
    /// there are many services and incidents).
    pub fn text(&self) -> String {
        let (header, rows) = self.table();
        let width = header.iter().map(String::len).max().unwrap_or(0);
        let cell_width = rows.iter().flatten().map(String::len).max().unwrap_or(0).max(8);
        let mut out = String::new();
        for (i, name) in header.iter().enumerate() {
            out.push_str(&format!("{name:<width$}"));
            for row in &rows {
                let value = if row[i].is_empty() { "-" } else { &row[i] };
                out.push_str(&format!("  {value:>cell_width$}"));
            }
            out.push('\n');
        }
        out
    }
}

/// How one column's cell is read off a policy's figures.
type Column = Box<dyn Fn(&PolicyFigures) -> String>;

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or(String::new(), |v| format!("{v:.decimals$}"))
}
