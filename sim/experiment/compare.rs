//! Comparing runs: several scenarios, one scenario under several policies, or under several
//! seeds — or any product of these — run in parallel and set side by side.
//!
//! [`plan`] lists the runs and labels each by what varies between them (`cheapest`,
//! `eu-outage-dual.cheapest`, `seed-7`); the labels name the runs' folders. Runs of one scenario
//! with one seed see the same arrivals, failures and preemptions whatever the policy (common
//! random numbers), so their differences are the policies'. [`Comparison`] is the table of
//! headline figures, one row per run; when a scenario and policy ran under several seeds,
//! [`Comparison::replications`] gives the mean of each figure with a Student-t confidence
//! interval.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::metrics::Summary;
use crate::metrics::stats::mean_confidence_interval;
use crate::policy::built_in;
use crate::scenario::{ResolveError, Resolved, Scenario, TraceCache};
use crate::world::{RunError, RunOutcome, simulate_observed};

/// The most runs one comparison holds. Runs stream (each run's folder is written as it ends and
/// only its figures are kept), so this bounds the folder, not memory; a study
/// (`hybridsim sweep`) is the tool for more.
pub const MAX_RUNS: usize = 100_000;

/// The runs drawn in a comparison's charts and given a section of its page: the first ones. The
/// table holds every run.
pub const CHARTED_RUNS: usize = 64;

/// The version of the layout of `comparison.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The confidence level of the intervals over replications.
pub const CONFIDENCE: f64 = 0.95;

/// One run of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// What tells this run from the others; also its folder's name.
    pub label: String,
    /// Index of its scenario in the list given to [`plan`].
    pub scenario: usize,
    /// The built-in policy it runs under.
    pub policy: String,
    /// Its master seed.
    pub seed: u64,
}

/// The seeds each scenario runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeds {
    /// Its own `seed`.
    Own,
    /// These, for every scenario (none: as [`Seeds::Own`]).
    These(Vec<u64>),
    /// Its own `seed` and the next ones, this many in all: independent replications.
    Replications(u64),
}

impl Seeds {
    fn of(&self, scenario: &Scenario) -> Vec<u64> {
        let own = scenario.spec.seed;
        match self {
            Seeds::Own => vec![own],
            Seeds::These(seeds) if !seeds.is_empty() => seeds.clone(),
            Seeds::These(_) => vec![own],
            Seeds::Replications(n) => (0..(*n).max(1)).map(|i| own.wrapping_add(i)).collect(),
        }
    }
}

/// Why runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// More runs than [`MAX_RUNS`].
    #[error(
        "{runs} runs asked for (scenarios × policies × seeds); a comparison holds at most {max}, \
         each with its own folder: compare fewer, or write a study (`hybridsim sweep`)"
    )]
    TooManyRuns {
        /// Runs asked for (saturating at `u64::MAX`).
        runs: u64,
        /// The limit.
        max: usize,
    },
    /// A single run: nothing to set beside it.
    #[error(
        "nothing to compare: one scenario under one policy and one seed; give several scenarios, \
         --policy a,b, --seed 1,2 or --replications N (or use `hybridsim run` for one run)"
    )]
    NothingToCompare,
}

/// The runs comparing `scenarios`: each under every policy of `policies` (or, when empty, of its
/// own `policy` list) and every seed of `seeds`, in that order. Labels join what varies across
/// the whole set — scenario name, policy, `seed-N` — with `.`, and are made unique with a `-2`,
/// `-3` suffix when the same scenario is named twice. More than [`MAX_RUNS`] runs is an error,
/// found before anything is allocated for them.
pub fn plan(
    scenarios: &[&Scenario],
    policies: &[String],
    seeds: &Seeds,
) -> Result<Vec<RunPlan>, CompareError> {
    let count = |scenario: &&Scenario| -> u64 {
        let policies = if policies.is_empty() {
            scenario.spec.policy_names().len()
        } else {
            policies.len()
        };
        let seeds = match seeds {
            Seeds::Own => 1,
            Seeds::These(seeds) => seeds.len().max(1) as u64,
            Seeds::Replications(n) => (*n).max(1),
        };
        (policies as u64).saturating_mul(seeds)
    };
    let runs = scenarios.iter().map(count).fold(0u64, u64::saturating_add);
    if runs > MAX_RUNS as u64 {
        return Err(CompareError::TooManyRuns { runs, max: MAX_RUNS });
    }
    let mut runs = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let own_policies: Vec<String> = scenario
            .spec
            .policy_names()
            .into_iter()
            .map(String::from)
            .collect();
        let policies = if policies.is_empty() {
            &own_policies
        } else {
            policies
        };
        let seeds = seeds.of(scenario);
        for policy in policies {
            for &seed in &seeds {
                runs.push(RunPlan {
                    label: String::new(),
                    scenario: index,
                    policy: policy.clone(),
                    seed,
                });
            }
        }
    }
    label(&mut runs, scenarios);
    Ok(runs)
}

fn label(runs: &mut [RunPlan], scenarios: &[&Scenario]) {
    let name = |run: &RunPlan| scenarios[run.scenario].spec.name.as_str();
    let varies = |part: &dyn Fn(&RunPlan) -> String| {
        runs.first()
            .is_some_and(|first| runs.iter().any(|r| part(r) != part(first)))
    };
    let by_scenario = varies(&|r| name(r).to_string());
    let by_policy = varies(&|r| r.policy.clone());
    let by_seed = varies(&|r| r.seed.to_string());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let labels: Vec<String> = runs
        .iter()
        .map(|run| {
            let mut parts = Vec::new();
            if by_scenario {
                parts.push(name(run).to_string());
            }
            if by_policy || !(by_scenario || by_seed) {
                parts.push(run.policy.clone());
            }
            if by_seed {
                parts.push(format!("seed-{}", run.seed));
            }
            let label = parts.join(".");
            let n = seen.entry(label.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { label } else { format!("{label}-{n}") }
        })
        .collect();
    for (run, label) in runs.iter_mut().zip(labels) {
        run.label = label;
    }
}

/// Resolves each scenario of a comparison once, through `cache`, so a trace that several of
/// them name is read once; the resolved scenarios come back in the order of `scenarios`.
pub fn resolve_all(scenarios: &[&Scenario], cache: &mut TraceCache) -> Result<Vec<Resolved>, ResolveError> {
    scenarios
        .iter()
        .map(|scenario| Resolved::with_cache(scenario, cache))
        .collect()
}

/// Runs every plan in parallel, each scenario resolved once and shared by its runs; the
/// outcomes come back in the order of `runs`. `progress` hears (index in `runs`, fraction of
/// simulated time done) as each run goes. A policy that is not built in is an error of the run.
pub fn run_plans(
    scenarios: &[&Resolved],
    runs: &[RunPlan],
    progress: &(dyn Fn(usize, f64) + Sync),
) -> Vec<Result<RunOutcome, RunError>> {
    runs.par_iter()
        .enumerate()
        .map(|(index, run)| run_plan(scenarios, run, &mut |done| progress(index, done)))
        .collect()
}

/// Runs one plan; `progress` hears the fraction of simulated time done.
pub fn run_plan(
    scenarios: &[&Resolved],
    run: &RunPlan,
    progress: &mut dyn FnMut(f64),
) -> Result<RunOutcome, RunError> {
    let scenario = scenarios[run.scenario];
    let names = scenario.names();
    let policy = built_in(
        &run.policy,
        &scenario.spec().policies,
        &names.sites,
        &names.services,
    )
    .ok_or_else(|| RunError::UnknownPolicy(run.policy.clone()))?;
    simulate_observed(scenario, run.seed, policy, progress)
}

/// Runs `scenario` with `seed` under each built-in policy in `names`, in parallel; the outcomes
/// come back in the order of `names`.
pub fn run_policies(
    scenario: &Resolved,
    seed: u64,
    names: &[String],
    progress: &(dyn Fn(usize, f64) + Sync),
) -> Vec<Result<RunOutcome, RunError>> {
    let runs: Vec<RunPlan> = names
        .iter()
        .map(|name| RunPlan {
            label: name.clone(),
            scenario: 0,
            policy: name.clone(),
            seed,
        })
        .collect();
    run_plans(&[scenario], &runs, progress)
}

/// The headline figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunFigures {
    /// The run's label (see [`plan`]).
    pub label: String,
    /// The scenario's name.
    pub scenario: String,
    /// The policy.
    pub policy: String,
    /// The master seed.
    pub seed: u64,
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
    /// `cost_usd`, `p99_ms.<service>`, `slo_attainment.<service>`, `requests_failed.<service>`,
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
                let half = f.ci_half_width.map_or("-".to_string(), |h| format!("{h:.4}"));
                out.push_str(&format!(
                    "  {:<width$}  {:.4} ± {half}  ({:.4} … {:.4})\n",
                    f.figure, f.mean, f.min, f.max
                ));
            }
        }
        out
    }
}

/// The numeric columns of `runs`, see [`Comparison::figures`].
fn figures(runs: &[RunFigures]) -> Vec<Figure> {
    let mut figures = vec![figure("cost_usd".into(), 2, runs, |f| Some(f.cost_usd))];
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
fn replications(runs: &[RunFigures]) -> Vec<Replication> {
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
                .filter_map(|f| over_seeds(&f.name, members.iter().filter_map(|&i| f.values[i]).collect()))
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
                .filter_map(|f| over_seeds(&f.name, difference(f)))
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

/// The mean, interval and range of `values` of the figure `name`, when there are any.
fn over_seeds(name: &str, values: Vec<f64>) -> Option<ReplicatedFigure> {
    if values.is_empty() {
        return None;
    }
    Some(ReplicatedFigure {
        figure: name.to_string(),
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
    value.map_or(String::new(), |v| format!("{v:.decimals$}"))
}

fn write_csv(header: &[String], rows: Vec<Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use approx::assert_relative_eq;

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
}
