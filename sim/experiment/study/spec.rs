//! The study file as written: [`StudySpec`] and its parts (parameters, variants, break-even
//! questions, charts), read from RON and checked by `load`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::values::{LinearRange, LogRange, Written};

/// What a study file says.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// Short name; also the default output folder's.
    pub name: String,
    /// What the study asks, for the report.
    #[serde(default)]
    pub description: String,
    /// The base scenario, relative to the study file.
    pub scenario: String,
    /// What to vary.
    #[serde(default)]
    pub parameters: Vec<ParameterSpec>,
    /// How parameters combine: every combination (`grid`), or the i-th values together (`zip`).
    #[serde(default)]
    pub combine: Combine,
    /// Named alternatives of the estate, each a set of values; every point runs under each.
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
    /// Policies every point runs under; default: the scenario's own list.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Independent replications of every point: the first seed and the next ones.
    #[serde(default = "one")]
    pub replications: u64,
    /// The first seed; default: the scenario's own.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Where two variants' or policies' curves of a metric cross along a parameter.
    #[serde(default)]
    pub break_even: Vec<BreakEvenSpec>,
    /// Charts of a metric against a parameter, a line per variant and policy with its band.
    #[serde(default)]
    pub charts: Vec<ChartSpec>,
    /// The most runs this study may have (at most [`MAX_RUNS`]).
    #[serde(default)]
    pub max_runs: Option<u64>,
}

fn one() -> u64 {
    1
}

/// How parameters combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every combination of values (the first parameter varies slowest).
    #[default]
    Grid,
    /// The first values together, then the second ones, …: every list as long as the others.
    Zip,
}

/// One parameter: an address in the scenario and its values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// Its name in tables and charts; default: the address.
    #[serde(default)]
    pub name: Option<String>,
    /// Where it is in the scenario (see [`address`]).
    pub path: String,
    /// A list of values.
    #[serde(default)]
    pub values: Option<Vec<Written>>,
    /// A range with a step.
    #[serde(default)]
    pub range: Option<LinearRange>,
    /// A logarithmic range.
    #[serde(default)]
    pub log: Option<LogRange>,
}

/// A named alternative: values set at addresses.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Its name.
    pub name: String,
    /// Address → value; empty: the base scenario as it is.
    #[serde(default)]
    pub set: BTreeMap<String, Written>,
}

/// A break-even question.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakEvenSpec {
    /// The metric compared (a column of `runs.csv`, such as `cost_usd`).
    pub metric: String,
    /// Two variants, or two policies.
    pub between: (String, String),
    /// The parameter along which to look for the crossing.
    pub along: String,
    /// A metric to state the answer in as well (such as `utilization.chat`).
    #[serde(default)]
    pub express_in: Option<String>,
}

/// A study chart.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// The metric on the y axis.
    pub metric: String,
    /// The parameter on the x axis.
    pub along: String,
}
