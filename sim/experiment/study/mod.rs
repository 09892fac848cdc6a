//! Studies: a base scenario run over a grid of parameter values, variants, policies and seeds,
//! with means and confidence intervals per point and break-even answers.
//!
//! A study file (RON, named `*.study.ron`) names a base scenario and what to vary:
//!
//! ```ron
//! (
//!     name: "own-vs-rent",
//!     scenario: "own-vs-rent.ron",
//!     parameters: [(name: "demand", path: "services[chat].demand[0].arrivals.rate",
//!                   range: (from: "10/s", to: "90/s", step: "10/s"))],
//!     variants: [(name: "own", set: {"pools[\"onprem/H100\"].owned.count": 16}), (name: "rent")],
//!     replications: 5,
//!     break_even: [(metric: "cost_usd", between: ("own", "rent"), along: "demand")],
//! )
//! ```
//!
//! [`load`] reads and checks it (located diagnostics, like a scenario's). The runs are
//! numbered point-major — every parameter combination, each variant, each policy, each seed —
//! so that a run's number, its point and its seed are fixed by the study alone; [`sweep`] runs
//! them (or a shard of them) streaming, and [`results`] turns the rows into per-point statistics,
//! break-even points, Parquet files and the study's charts and page.

pub mod address;
pub mod figures;
pub mod files;
pub mod results;
pub mod sweep;
pub mod values;

mod spec;
#[cfg(test)]
mod tests;

pub use spec::{BreakEvenSpec, ChartSpec, Combine, ParameterSpec, StudySpec, VariantSpec};

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::policy::BUILT_IN;
use crate::scenario::{self, Diagnostics, Scenario, ScenarioError, closest};
use address::{Address, AddressError};
use values::Level;

/// How study files are named, so that `check` and other folder walks tell them from scenarios.
pub const STUDY_SUFFIX: &str = ".study.ron";

/// Whether `path` names a study file (`*.study.ron`).
pub fn is_study_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(STUDY_SUFFIX))
}

/// The most runs a study may have; more is refused before anything runs.
pub const MAX_RUNS: u64 = 1_000_000;

/// The largest study file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What a run of a study is: a point (parameter values and variant), a policy and a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey {
    /// Its number, from 0, in study order.
    pub run: u64,
    /// Its point, from 0: a parameter combination and a variant.
    pub point: u64,
    /// Index into [`Study::policies`].
    pub policy: usize,
    /// Its master seed.
    pub seed: u64,
}

/// A checked study, ready to run.
#[derive(Debug, Clone)]
pub struct Study {
    /// What the file says.
    pub spec: StudySpec,
    /// Where it was read from.
    pub path: PathBuf,
    /// The study file's text (kept in shard outputs so that a merge can check and finish them).
    pub text: String,
    /// The base scenario.
    pub base: Scenario,
    /// The base scenario's text.
    pub base_text: String,
    /// The parameters: name, address and levels.
    pub parameters: Vec<Parameter>,
    /// Parameter combinations: for each, a level index per parameter.
    pub combinations: Combinations,
    /// Variants (at least one: the base scenario as it is when none is given).
    pub variants: Vec<Variant>,
    /// The policies.
    pub policies: Vec<String>,
    /// The seeds.
    pub seeds: Vec<u64>,
}

/// The parameter combinations of a study, numbered from 0 and decoded on demand, so that a
/// study of a million points holds no list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combinations {
    how: Combine,
    sizes: Vec<usize>,
}

impl Combinations {
    /// How many.
    pub fn len(&self) -> u64 {
        match self.how {
            _ if self.sizes.is_empty() => 1,
            Combine::Zip => self.sizes[0] as u64,
            Combine::Grid => self.sizes.iter().fold(1u64, |n, &s| n.saturating_mul(s as u64)),
        }
    }

    /// Whether there are none (never, for a checked study).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Combination `index`: a level index per parameter, the first parameter varying slowest.
    pub fn get(&self, index: u64) -> Vec<usize> {
        match self.how {
            Combine::Zip => vec![index as usize; self.sizes.len()],
            Combine::Grid => {
                let mut rest = index;
                let mut levels = vec![0; self.sizes.len()];
                for (level, &size) in levels.iter_mut().zip(&self.sizes).rev() {
                    *level = (rest % size as u64) as usize;
                    rest /= size as u64;
                }
                levels
            }
        }
    }
}

/// A parameter with its values.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub address: Address,
    /// Its values.
    pub levels: Vec<Level>,
}

/// A variant with its addresses resolved.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name (empty when the study has none).
    pub name: String,
    /// What it sets.
    pub set: Vec<(Address, Level)>,
}

/// Why a study cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The study file cannot be read.
    #[error("cannot read study file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The study file is invalid.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// Its base scenario is invalid.
    #[error("the study's base scenario: {0}")]
    Scenario(#[from] ScenarioError),
    /// A parameter point makes the scenario invalid, and the sweep was told to stop.
    #[error("at {point}: {message}")]
    InvalidPoint {
        /// The point (`demand=20/s, variant=own`).
        point: String,
        /// The scenario's own diagnostic.
        message: String,
    },
    /// The shard asked for does not exist, or the batch engine's variables are missing.
    #[error("{0}")]
    Shard(String),
    /// Shard folders that cannot be merged.
    #[error("{0}")]
    Merge(String),
    /// Results could not be read or written.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// A run failed for a reason other than its input (a bug).
    #[error("run {run} failed: {message}")]
    Run {
        /// The run's number.
        run: u64,
        /// What went wrong.
        message: String,
    },
}

impl StudyError {
    /// Whether the fault is in what the user gave (exit code 2) rather than a bug (3).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, StudyError::Run { .. })
    }
}

/// Reads and checks the study at `path` and its base scenario.
pub fn load(path: &Path) -> Result<Study, StudyError> {
    let read = |source| StudyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(read)?.len();
    if bytes > MAX_FILE_BYTES {
        let source =
            std::io::Error::other(format!("{bytes} bytes; a study file is at most {MAX_FILE_BYTES}"));
        return Err(read(source));
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    load_str(&text, path)
}

/// Parses and checks study `text`, naming it `path` in messages; its base scenario is read from
/// disk, relative to `path`.
pub fn load_str(text: &str, path: &Path) -> Result<Study, StudyError> {
    let mut diags = Diagnostics::new(path, text);
    let spec = parse(text, &mut diags)?;
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&spec.scenario);
    let base_text = std::fs::read_to_string(&base_path).map_err(|source| {
        diags.at_path(
            "scenario",
            format!("cannot read the base scenario {}: {source}", base_path.display()),
            Some("the path is relative to the study file".into()),
        );
        StudyError::Invalid(diags.clone())
    })?;
    load_texts(text, path, &base_text, &base_path)
}

/// Parses and checks a study and its base scenario from their texts, naming them `path` and
/// `base_path` in messages.
pub fn load_texts(text: &str, path: &Path, base_text: &str, base_path: &Path) -> Result<Study, StudyError> {
    let mut diags = Diagnostics::new(path, text);
    let spec = parse(text, &mut diags)?;
    let base = scenario::load_str(base_text, base_path)?;
    match check(&spec, &base, &mut diags) {
        Some((parameters, combinations, variants, policies, seeds)) if diags.is_empty() => Ok(Study {
            spec,
            path: path.to_path_buf(),
            text: text.to_string(),
            base,
            base_text: base_text.to_string(),
            parameters,
            combinations,
            variants,
            policies,
            seeds,
        }),
        _ => Err(StudyError::Invalid(diags)),
    }
}

fn parse(text: &str, diags: &mut Diagnostics) -> Result<StudySpec, StudyError> {
    crate::vocab::ron_options().from_str(text).map_err(|error| {
        let start = error.span.start;
        diags.at_position(start.line, start.col, error.code.to_string(), None);
        StudyError::Invalid(diags.clone())
    })
}

type Checked = (Vec<Parameter>, Combinations, Vec<Variant>, Vec<String>, Vec<u64>);

/// Checks everything a study says against its base scenario, recording every problem.
fn check(spec: &StudySpec, base: &Scenario, diags: &mut Diagnostics) -> Option<Checked> {
    let limit = spec.max_runs.unwrap_or(MAX_RUNS);
    if limit > MAX_RUNS || limit == 0 {
        diags.at_path(
            "max_runs",
            format!("max_runs must be between 1 and {MAX_RUNS}"),
            Some("split a larger study into several".into()),
        );
    }
    let limit = limit.clamp(1, MAX_RUNS);
    let tree = serde_json::to_value(&base.spec).ok()?;
    let mut parameters = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, p) in spec.parameters.iter().enumerate() {
        let at = |field: &str| format!("parameters[{i}].{field}");
        let name = p.name.clone().unwrap_or_else(|| p.path.clone());
        if names.contains(&name)
            || ["run", "point", "variant", "policy", "seed", "status", "error"].contains(&name.as_str())
        {
            diags.at_path(
                &at("name"),
                format!("the parameter name \"{name}\" is already used"),
                Some("give each parameter its own `name`".into()),
            );
        }
        names.push(name.clone());
        let address = match Address::parse(&p.path) {
            Ok(a) => a,
            Err(e) => {
                diags.at_path(&at("path"), e.message, e.help);
                continue;
            }
        };
        let levels = match (&p.values, &p.range, &p.log) {
            (Some(list), None, None) if !list.is_empty() => Ok(list.iter().map(Level::of).collect()),
            (Some(_), None, None) => Err(values::ValuesError("the list of values is empty".into())),
            (None, Some(range), None) => values::linear(range, limit),
            (None, None, Some(range)) => values::logarithmic(range, limit),
            _ => Err(values::ValuesError(
                "give exactly one of `values: [...]`, `range: (from, to, step)` or `log: (from, to, points)`"
                    .into(),
            )),
        };
        let levels: Vec<Level> = match levels {
            Ok(levels) => levels,
            Err(e) => {
                diags.at_path(&at("path"), e.0, None);
                continue;
            }
        };
        let mut probe = tree.clone();
        if let Err(e) = address.set(&mut probe, levels[0].value.clone()) {
            diags.at_path(&at("path"), e.message, e.help);
            continue;
        }
        // Every value must be of the kind the address holds (a duration, a count, a price …).
        let misfit = levels.iter().find_map(|level| {
            let mut probe = tree.clone();
            address.set(&mut probe, level.value.clone()).ok()?;
            serde_json::from_value::<scenario::ScenarioSpec>(probe)
                .err()
                .map(|e| format!("{} = {}: {e}", p.path, level.label))
        });
        if let Some(message) = misfit {
            diags.at_path(
                &at("path"),
                message,
                Some("write the value as the scenario file would".into()),
            );
            continue;
        }
        parameters.push(Parameter {
            name,
            address,
            levels,
        });
    }
    let combinations = combine(&parameters, spec.combine, limit, diags);
    let variants = variants(spec, &tree, diags);
    let policies = policies(spec, base, diags);
    let replications = spec.replications;
    if replications == 0 {
        diags.at_path("replications", "replications must be at least 1", None);
    }
    let first = spec.seed.unwrap_or(base.spec.seed);
    let runs = combinations
        .len()
        .saturating_mul(variants.len() as u64)
        .saturating_mul(policies.len() as u64)
        .saturating_mul(replications);
    if runs > limit {
        // A grid already over the limit has said so.
        if combinations.len() <= limit {
            diags.at_path(
                "parameters",
                format!(
                    "the study has {runs} runs (points × variants × policies × replications); the limit is {limit}"
                ),
                Some("use fewer values or replications, or raise `max_runs` (at most 1000000)".into()),
            );
        }
        return None;
    }
    let seeds = (0..replications).map(|i| first.wrapping_add(i)).collect();
    check_questions(spec, &parameters, &variants, &policies, base, diags);
    Some((parameters, combinations, variants, policies, seeds))
}

fn combine(parameters: &[Parameter], how: Combine, limit: u64, diags: &mut Diagnostics) -> Combinations {
    let sizes: Vec<usize> = parameters.iter().map(|p| p.levels.len()).collect();
    let combinations = Combinations { how, sizes };
    if how == Combine::Zip && combinations.sizes.iter().any(|&n| n != combinations.sizes[0]) {
        let lengths: Vec<String> = parameters
            .iter()
            .map(|p| format!("{} has {}", p.name, p.levels.len()))
            .collect();
        diags.at_path(
            "combine",
            format!("`zip` needs lists of one length: {}", lengths.join(", ")),
            Some("use `grid` for every combination".into()),
        );
    } else if combinations.len() > limit {
        diags.at_path(
            "parameters",
            format!(
                "the grid has {} points; the limit is {limit} runs",
                combinations.len()
            ),
            Some("use fewer values, or `combine: zip`".into()),
        );
    }
    combinations
}

fn variants(spec: &StudySpec, tree: &Value, diags: &mut Diagnostics) -> Vec<Variant> {
    if spec.variants.is_empty() {
        return vec![Variant {
            name: String::new(),
            set: Vec::new(),
        }];
    }
    let mut out: Vec<Variant> = Vec::new();
    for (i, v) in spec.variants.iter().enumerate() {
        if v.name.is_empty() || out.iter().any(|o| o.name == v.name) {
            diags.at_path(
                &format!("variants[{i}].name"),
                format!("variant name \"{}\" is empty or used twice", v.name),
                None,
            );
        }
        let mut set = Vec::new();
        for (path, written) in &v.set {
            let level = Level::of(written);
            let checked = Address::parse(path).and_then(|a| {
                let mut probe = tree.clone();
                a.set(&mut probe, level.value.clone())?;
                serde_json::from_value::<scenario::ScenarioSpec>(probe).map_err(|e| AddressError {
                    message: format!("= {}: {e}", level.label),
                    help: Some("write the value as the scenario file would".into()),
                })?;
                Ok(a)
            });
            match checked {
                Ok(address) => set.push((address, level)),
                Err(e) => diags.at_path(
                    &format!("variants[{i}].set"),
                    format!("{path}: {}", e.message),
                    e.help,
                ),
            }
        }
        out.push(Variant {
            name: v.name.clone(),
            set,
        });
    }
    out
}

fn policies(spec: &StudySpec, base: &Scenario, diags: &mut Diagnostics) -> Vec<String> {
    if spec.policies.is_empty() {
        return base.spec.policy_names().into_iter().map(String::from).collect();
    }
    for (i, name) in spec.policies.iter().enumerate() {
        if !BUILT_IN.contains(&name.as_str()) {
            let help = closest(name, BUILT_IN).map_or_else(
                || format!("the policies: {}", BUILT_IN.join(", ")),
                |near| format!("did you mean \"{near}\"? The policies: {}", BUILT_IN.join(", ")),
            );
            diags.at_path(
                &format!("policies[{i}]"),
                format!("unknown policy \"{name}\""),
                Some(help),
            );
        }
    }
    spec.policies.clone()
}

fn check_questions(
    spec: &StudySpec,
    parameters: &[Parameter],
    variants: &[Variant],
    policies: &[String],
    base: &Scenario,
    diags: &mut Diagnostics,
) {
    let metrics = figures::Columns::of(&base.spec).names();
    let params: Vec<&str> = parameters.iter().map(|p| p.name.as_str()).collect();
    let metric_help = |m: &str| {
        closest(m, metrics.iter().map(String::as_str)).map_or_else(
            || "see the columns of runs.csv in the README".to_string(),
            |near| format!("did you mean `{near}`?"),
        )
    };
    for (i, b) in spec.break_even.iter().enumerate() {
        let at = |f: &str| format!("break_even[{i}].{f}");
        for metric in std::iter::once(&b.metric).chain(&b.express_in) {
            if !metrics.contains(metric) {
                diags.at_path(
                    &at("metric"),
                    format!("unknown metric `{metric}`"),
                    Some(metric_help(metric)),
                );
            }
        }
        if !params.contains(&b.along.as_str()) {
            diags.at_path(
                &at("along"),
                format!("`{}` is not a parameter of this study", b.along),
                Some(format!("the parameters: {}", params.join(", "))),
            );
        }
        let (a, c) = &b.between;
        let is_variant = |n: &str| variants.iter().any(|v| v.name == n);
        let is_policy = |n: &str| policies.iter().any(|p| p == n);
        let both = (is_variant(a) && is_variant(c)) || (is_policy(a) && is_policy(c));
        if !both || a == c {
            diags.at_path(
                &at("between"),
                format!("\"{a}\" and \"{c}\" must be two variants or two policies of this study"),
                None,
            );
        }
    }
    for (i, c) in spec.charts.iter().enumerate() {
        if !metrics.contains(&c.metric) {
            diags.at_path(
                &format!("charts[{i}].metric"),
                format!("unknown metric `{}`", c.metric),
                Some(metric_help(&c.metric)),
            );
        }
        if !params.contains(&c.along.as_str()) {
            diags.at_path(
                &format!("charts[{i}].along"),
                format!("`{}` is not a parameter of this study", c.along),
                Some(format!("the parameters: {}", params.join(", "))),
            );
        }
    }
}

impl Study {
    /// How many runs the study has.
    pub fn runs(&self) -> u64 {
        self.points() * (self.policies.len() * self.seeds.len()) as u64
    }

    /// How many points: parameter combinations × variants.
    pub fn points(&self) -> u64 {
        self.combinations.len() * self.variants.len() as u64
    }

    /// What run number `run` is.
    pub fn key(&self, run: u64) -> RunKey {
        let seeds = self.seeds.len() as u64;
        let per_point = self.policies.len() as u64 * seeds;
        RunKey {
            run,
            point: run / per_point,
            policy: ((run % per_point) / seeds) as usize,
            seed: self.seeds[(run % seeds) as usize],
        }
    }

    /// The parameter combination and variant of `point`.
    pub fn point_parts(&self, point: u64) -> (Vec<usize>, &Variant) {
        let variants = self.variants.len() as u64;
        (
            self.combinations.get(point / variants),
            &self.variants[(point % variants) as usize],
        )
    }

    /// `demand=20/s, variant=own`: the point as people read it.
    pub fn point_label(&self, point: u64) -> String {
        let (levels, variant) = self.point_parts(point);
        let mut parts: Vec<String> = self
            .parameters
            .iter()
            .zip(&levels)
            .map(|(p, &l)| format!("{}={}", p.name, p.levels[l].label))
            .collect();
        if !variant.name.is_empty() {
            parts.push(format!("variant={}", variant.name));
        }
        if parts.is_empty() {
            "the base scenario".into()
        } else {
            parts.join(", ")
        }
    }

    /// The scenario at `point`: the base with the point's values set, checked like a file.
    /// An invalid combination yields the scenario's own diagnostics.
    pub fn scenario_at(&self, point: u64) -> Result<Scenario, StudyError> {
        let invalid = |message: String| StudyError::InvalidPoint {
            point: self.point_label(point),
            message,
        };
        let (levels, variant) = self.point_parts(point);
        let mut tree = serde_json::to_value(&self.base.spec).map_err(|e| invalid(e.to_string()))?;
        for (parameter, &level) in self.parameters.iter().zip(&levels) {
            let value = parameter.levels[level].value.clone();
            parameter
                .address
                .set(&mut tree, value)
                .map_err(|e| invalid(e.message))?;
        }
        for (address, level) in &variant.set {
            address
                .set(&mut tree, level.value.clone())
                .map_err(|e| invalid(e.message))?;
        }
        let spec: scenario::ScenarioSpec =
            serde_json::from_value(tree).map_err(|e| invalid(e.to_string()))?;
        let config = ron::ser::PrettyConfig::default().extensions(
            ron::extensions::Extensions::IMPLICIT_SOME | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
        );
        let text = ron::ser::to_string_pretty(&spec, config).map_err(|e| invalid(e.to_string()))?;
        let name = format!("{} at {}", self.base.path.display(), self.point_label(point));
        scenario::load_str(&text, &self.base.path)
            .map(|mut s| {
                s.path = self.base.path.clone();
                s
            })
            .map_err(|e| {
                invalid(
                    e.to_string()
                        .replace(&self.base.path.display().to_string(), &name),
                )
            })
    }
}
