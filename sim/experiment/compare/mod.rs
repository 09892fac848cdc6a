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

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::policy::built_in;
use crate::scenario::{ResolveError, Resolved, Scenario, TraceCache};
use crate::world::{RunError, RunOutcome, simulate_observed};

mod table;
#[cfg(test)]
mod tests;

pub use table::{Comparison, Figure, ReplicatedFigure, Replication, RunFigures, decimals_for, shown};

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
/// `-3` suffix when the same scenario is named twice. The seeds of one scenario and policy are
/// listed in natural order of their labels (`seed-7` before `seed-10`, see [`natural_cmp`]),
/// whatever order they were given in; scenarios and policies keep the order given, since the
/// first policy is what the others are measured against. More than [`MAX_RUNS`] runs is an error,
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
    // Only within a scenario and policy: their order is the user's, and the first policy is
    // the baseline of the differences over seeds.
    for group in runs.chunk_by_mut(|a, b| a.scenario == b.scenario && a.policy == b.policy) {
        group.sort_by(|a, b| natural_cmp(&a.label, &b.label));
    }
    Ok(runs)
}

/// Orders text as a reader does: runs of digits compare as numbers, so `seed-7` comes before
/// `seed-10` and `a2b` before `a10b`; everything else compares character by character. Equal
/// numbers written with more leading zeros come later, and strings that differ only there are
/// still ordered, so this is a total order consistent with equality.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (m, rest_x) = split_digits(x);
                let (n, rest_y) = split_digits(y);
                let order = compare_numbers(m, n);
                if order != Ordering::Equal {
                    return order;
                }
                (x, y) = (rest_x, rest_y);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                (x, y) = (&x[c.len_utf8()..], &y[d.len_utf8()..]);
            }
        }
    }
}

/// The leading ASCII digits of `s` and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Two runs of digits by their value (any length: no parsing, so no overflow), then the one
/// with fewer leading zeros first.
fn compare_numbers(m: &str, n: &str) -> Ordering {
    let (m_value, n_value) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
    m_value
        .len()
        .cmp(&n_value.len())
        .then_with(|| m_value.cmp(n_value))
        .then_with(|| m.len().cmp(&n.len()))
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
