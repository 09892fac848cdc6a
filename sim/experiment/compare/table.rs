//! The table of a comparison: each run's headline figures ([`RunFigures`]), the rows side by
//! side ([`Comparison`]), the means over seeds with their confidence intervals
//! ([`Replication`]) and the CSV and text they are written as.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CONFIDENCE, SCHEMA_VERSION};
use crate::metrics::Summary;
use crate::metrics::stats::mean_confidence_interval;

/// The headline figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunFigures {
    /// The run's label (see [`plan`](super::plan)).
    pub label: String,
    /// The scenario's name.
    pub scenario: String,
    /// The policy.
    pub policy: String,
    /// The master seed.
    pub seed: u64,
    /// Total cost.
    pub cost_usd: f64,
    /// Per service: what it cost (its GPUs and the bytes its requests and responses moved, as
    /// the ledger charged them to it).
    pub service_cost_usd: BTreeMap<String, f64>,
    /// Per service: its cost per thousand requests served or degraded (`None`: none were).
    pub cost_per_1k_requests_usd: BTreeMap<String, Option<f64>>,
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

impl RunFigures {
    /// The figures of one run, under `label`.
    pub fn of(label: &str, summary: &Summary) -> Self {
        let services = &summary.services;
        RunFigures {
            label: label.to_string(),
            scenario: summary.scenario.clone(),
            policy: summary.policy.clone(),
            seed: summary.seed,
            cost_usd: summary.cost.total_usd,
            service_cost_usd: services.iter().map(|(n, s)| (n.clone(), s.cost_usd)).collect(),
            cost_per_1k_requests_usd: services
                .iter()
                .map(|(n, s)| (n.clone(), s.cost_per_1k_requests_usd))
                .collect(),
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

/// One numeric column of the comparison: a figure's name and its value in each run (`None`:
/// the run has no such figure, or it could not be measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// `cost_usd`, `service_cost_usd.<service>`, `cost_per_1k_requests_usd.<service>`,
    /// `p99_ms.<service>`, `slo_attainment.<service>`, `requests_failed.<service>`,
    /// `time_to_recover_s.<incident>`, `goodput.<class>` or `jobs_completed.<class>`.
    pub name: String,
    /// Decimals shown in the table.
    pub decimals: usize,
    /// One value per run, in run order.
    pub values: Vec<Option<f64>>,
}

/// A figure over the replications of one scenario and policy (runs that differ only in seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicatedFigure {
    /// The figure's name, as in the table.
    pub figure: String,
    /// Runs in which it was measured.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Half-width of the Student-t confidence interval of the mean at [`CONFIDENCE`]; `None`
    /// with fewer than two values.
    pub ci_half_width: Option<f64>,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Decimals its values are shown with (the figure's in the table; see [`shown`]).
    #[serde(skip)]
    pub decimals: usize,
}

impl ReplicatedFigure {
    /// `value` as this figure is shown, see [`shown`].
    pub fn show(&self, value: f64) -> String {
        shown(value, self.decimals)
    }
}

/// Decimals to show `value` of a figure shown with `decimals`: as many, except that a count
/// (no decimals) that is not whole, such as a mean over seeds, gets one.
pub fn decimals_for(value: f64, decimals: usize) -> usize {
    if decimals == 0 && (value - value.round()).abs() > 1e-9 {
        1
    } else {
        decimals
    }
}

/// `value` with [`decimals_for`] decimals, never as "-0" (a difference of -1e-17 is 0 as shown).
pub fn shown(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "-".to_string();
    }
    let places = decimals_for(value, decimals);
    let text = format!("{value:.places$}");
    match text.strip_prefix('-') {
        Some(magnitude) if magnitude.bytes().all(|b| b == b'0' || b == b'.') => magnitude.to_string(),
        _ => text,
    }
}

/// One scenario and policy run under several seeds: its figures over the seeds, or, with a
/// `baseline`, the differences of its figures from the baseline policy's, seed by seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replication {
    /// The scenario's name.
    pub scenario: String,
    /// The policy.
    pub policy: String,
    /// For differences: the policy subtracted, the scenario's first, run with the same seeds.
    /// Under common random numbers the pairs share their arrivals and failures, so the
    /// interval of a difference is narrower than the two means' intervals suggest.
    pub baseline: Option<String>,
    /// The seeds, in run order.
    pub seeds: Vec<u64>,
    /// Every figure measured in at least one of the runs (of both runs of a pair, for
    /// differences).
    pub figures: Vec<ReplicatedFigure>,
}

/// Runs side by side: `comparison.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The version of this layout ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// One row per run, in the order asked.
    pub runs: Vec<RunFigures>,
    /// Means and confidence intervals over seeds, for each scenario and policy that ran under
    /// more than one seed; then, for each scenario run under several policies and seeds, each
    /// policy's differences from the first.
    pub replications: Vec<Replication>,
}

impl Comparison {
    /// Compares runs of one scenario with one seed, labelled by policy.
    pub fn of(summaries: &[&Summary]) -> Self {
        let labelled: Vec<(&str, &Summary)> = summaries.iter().map(|s| (s.policy.as_str(), *s)).collect();
        Self::labelled(&labelled)
    }

    /// Compares runs under the given labels.
    pub fn labelled(runs: &[(&str, &Summary)]) -> Self {
        Self::of_figures(runs.iter().map(|(label, s)| RunFigures::of(label, s)).collect())
    }

    /// Compares runs by their figures, in the order given.
    pub fn of_figures(runs: Vec<RunFigures>) -> Self {
        let replications = replications(&runs);
        Comparison {
            schema_version: SCHEMA_VERSION,
            runs,
            replications,
        }
    }

    /// Whether every run used the same seed (so runs of one scenario saw the same arrivals,
    /// failures and preemptions).
    pub fn same_seed(&self) -> bool {
        self.runs.windows(2).all(|w| w[0].seed == w[1].seed)
    }

    /// The numeric columns, in table order. Per-service, per-incident and per-class figures
    /// appear in the order first met, run by run.
    pub fn figures(&self) -> Vec<Figure> {
        figures(&self.runs)
    }

    /// The table: a header and one row of cells per run — its label, scenario, policy and
    /// seed, then every figure. Empty cells are figures that do not exist for that run (no
    /// SLO, nothing recovered, another scenario's service).
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let figures = self.figures();
        let mut header: Vec<String> = ["run", "scenario", "policy", "seed"].map(String::from).to_vec();
        header.extend(figures.iter().map(|f| f.name.clone()));
        let rows = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let mut row = vec![
                    run.label.clone(),
                    run.scenario.clone(),
                    run.policy.clone(),
                    run.seed.to_string(),
                ];
                row.extend(figures.iter().map(|f| cell(f.values[i], f.decimals)));
                row
            })
            .collect();
        (header, rows)
    }

    /// The table as CSV (`comparison.csv`).
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let (header, rows) = self.table();
        write_csv(&header, rows)
    }

    /// The replications as CSV (`replications.csv`): a row per scenario, policy and figure;
    /// `minus` names the baseline of a difference and is empty for a mean.
    pub fn replications_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let header = [
            "scenario",
            "policy",
            "minus",
            "seeds",
            "figure",
            "n",
            "mean",
            "ci95_half_width",
            "min",
            "max",
        ]
        .map(String::from);
        let rows = self.replications.iter().flat_map(|r| {
            let seeds = r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
            r.figures.iter().map(move |f| {
                vec![
                    r.scenario.clone(),
                    r.policy.clone(),
                    r.baseline.clone().unwrap_or_default(),
                    seeds.clone(),
                    f.figure.clone(),
                    f.n.to_string(),
                    format!("{}", f.mean),
                    f.ci_half_width.map_or(String::new(), |h| format!("{h}")),
                    format!("{}", f.min),
                    format!("{}", f.max),
                ]
            })
        });
        write_csv(&header, rows.collect())
    }

    /// The table as aligned text, one figure per line and a column per run (readable when
    /// there are many services and incidents), then the means over seeds.
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
        for r in &self.replications {
            out.push_str(&format!(
                "\n{} over {} seeds: mean ± {:.0}% confidence half-width (min … max)\n",
                r.heading(),
                r.seeds.len(),
                CONFIDENCE * 100.0
            ));
            for f in &r.figures {
                let half = f.ci_half_width.map_or("-".to_string(), |h| f.show(h));
                out.push_str(&format!(
                    "  {:<width$}  {} ± {half}  ({} … {})\n",
                    f.figure,
                    f.show(f.mean),
                    f.show(f.min),
                    f.show(f.max)
                ));
            }
        }
        out
    }
}

/// The numeric columns of `runs`, see [`Comparison::figures`].
fn figures(runs: &[RunFigures]) -> Vec<Figure> {
    let mut figures = vec![figure("cost_usd".into(), 2, runs, |f| Some(f.cost_usd))];
    for name in keys(runs, |f| f.service_cost_usd.keys()) {
        figures.push(figure(format!("service_cost_usd.{name}"), 2, runs, |f| {
            f.service_cost_usd.get(&name).copied()
        }));
    }
    for name in keys(runs, |f| f.cost_per_1k_requests_usd.keys()) {
        figures.push(figure(format!("cost_per_1k_requests_usd.{name}"), 4, runs, |f| {
            f.cost_per_1k_requests_usd.get(&name).copied().flatten()
        }));
    }
    for name in keys(runs, |f| f.p99_ms.keys()) {
        figures.push(figure(format!("p99_ms.{name}"), 1, runs, |f| {
            f.p99_ms.get(&name).copied().flatten()
        }));
    }
    for name in keys(runs, |f| f.slo_attainment.keys()) {
        figures.push(figure(format!("slo_attainment.{name}"), 5, runs, |f| {
            f.slo_attainment.get(&name).copied().flatten()
        }));
    }
    for name in keys(runs, |f| f.requests_failed.keys()) {
        figures.push(figure(format!("requests_failed.{name}"), 0, runs, |f| {
            f.requests_failed.get(&name).map(|&n| n as f64)
        }));
    }
    for name in keys(runs, |f| f.time_to_recover_s.keys()) {
        figures.push(figure(format!("time_to_recover_s.{name}"), 0, runs, |f| {
            f.time_to_recover_s.get(&name).copied().flatten()
        }));
    }
    for class in keys(runs, |f| f.goodput.keys()) {
        figures.push(figure(format!("goodput.{class}"), 4, runs, |f| {
            f.goodput.get(&class).copied().flatten()
        }));
        figures.push(figure(format!("jobs_completed.{class}"), 0, runs, |f| {
            f.jobs_completed.get(&class).map(|&n| n as f64)
        }));
    }
    figures
}

impl Replication {
    /// What the figures are of: `eu-outage-dual under failover`, or
    /// `eu-outage-dual: failover − lowest_latency, paired by seed`.
    pub fn heading(&self) -> String {
        match &self.baseline {
            None => format!("{} under {}", self.scenario, self.policy),
            Some(baseline) => format!("{}: {} − {baseline}, paired by seed", self.scenario, self.policy),
        }
    }
}

/// The groups of runs of one scenario and policy under more than one seed, with their
/// figures' means, then the differences from each scenario's first policy.
pub(super) fn replications(runs: &[RunFigures]) -> Vec<Replication> {
    let mut groups: Vec<(&str, &str, Vec<usize>)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|(s, p, _)| *s == run.scenario && *p == run.policy)
        {
            Some((_, _, members)) => members.push(i),
            None => groups.push((&run.scenario, &run.policy, vec![i])),
        }
    }
    let figures = figures(runs);
    let mut replications: Vec<Replication> = groups
        .iter()
        .filter(|(_, _, members)| several_seeds(members.iter().map(|&i| runs[i].seed)))
        .map(|(scenario, policy, members)| Replication {
            scenario: scenario.to_string(),
            policy: policy.to_string(),
            baseline: None,
            seeds: members.iter().map(|&i| runs[i].seed).collect(),
            figures: figures
                .iter()
                .filter_map(|f| over_seeds(f, members.iter().filter_map(|&i| f.values[i]).collect()))
                .collect(),
        })
        .collect();
    for (scenario, policy, members) in &groups {
        let Some((_, baseline, _)) = groups.iter().find(|(s, _, _)| s == scenario) else {
            continue;
        };
        if baseline == policy {
            continue;
        }
        // Each run paired with the baseline's run of the same seed.
        let pairs: Vec<(usize, usize)> = members
            .iter()
            .filter_map(|&i| {
                let twin = |b: &&RunFigures| {
                    b.scenario == *scenario && b.policy == *baseline && b.seed == runs[i].seed
                };
                runs.iter().position(|b| twin(&b)).map(|b| (i, b))
            })
            .collect();
        if !several_seeds(pairs.iter().map(|&(i, _)| runs[i].seed)) {
            continue;
        }
        let difference = |f: &Figure| -> Vec<f64> {
            pairs
                .iter()
                .filter_map(|&(i, b)| Some(f.values[i]? - f.values[b]?))
                .collect()
        };
        replications.push(Replication {
            scenario: scenario.to_string(),
            policy: policy.to_string(),
            baseline: Some(baseline.to_string()),
            seeds: pairs.iter().map(|&(i, _)| runs[i].seed).collect(),
            figures: figures
                .iter()
                .filter_map(|f| over_seeds(f, difference(f)))
                .collect(),
        });
    }
    replications
}

/// Whether `seeds` holds more than one seed.
fn several_seeds(seeds: impl Iterator<Item = u64>) -> bool {
    let mut seeds: Vec<u64> = seeds.collect();
    seeds.sort_unstable();
    seeds.dedup();
    seeds.len() > 1
}

/// The mean, interval and range of `values` of `figure`, when there are any.
fn over_seeds(figure: &Figure, values: Vec<f64>) -> Option<ReplicatedFigure> {
    if values.is_empty() {
        return None;
    }
    Some(ReplicatedFigure {
        figure: figure.name.clone(),
        decimals: figure.decimals,
        n: values.len(),
        mean: values.iter().sum::<f64>() / values.len() as f64,
        ci_half_width: mean_confidence_interval(&values, CONFIDENCE).map(|(_, half)| half),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// The keys of a per-name figure over all runs, in the order first met.
fn keys<'a, I: Iterator<Item = &'a String>>(
    runs: &'a [RunFigures],
    of: impl Fn(&'a RunFigures) -> I,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in runs.iter().flat_map(of) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn figure(
    name: String,
    decimals: usize,
    runs: &[RunFigures],
    value: impl Fn(&RunFigures) -> Option<f64>,
) -> Figure {
    Figure {
        name,
        decimals,
        values: runs.iter().map(value).collect(),
    }
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or(String::new(), |v| shown(v, decimals))
}

fn write_csv(header: &[String], rows: Vec<Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
