//! The `hybridsim check` gate: find scenario files, run each one that makes `expect` assertions,
//! judge them ([`super::expect`]) and tally the result as an exit code. A scenario runs once per
//! policy its assertions are judged on (the default, and each other one they name), with the
//! same seed.
//!
//! Every scenario is reported, whatever happens to the others: one that fails to load is listed
//! with its diagnostics and the rest still run. A scenario without assertions is validated (like
//! `hybridsim validate`: loaded and its model built, traces read) but not run. Scenarios run in
//! parallel on scoped threads; reports come back in the order the files were found, so the
//! output does not depend on the thread count. Nothing is written here: the caller prints the
//! [`table`] and may write a JUnit report ([`crate::report::junit_xml`]).

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::compare::run_policies;
use super::expect::{Verdict, evaluate_by_policy};
use crate::exit;
use crate::metrics::Summary;
use crate::scenario::{self, ScenarioSpec, Warnings};
use crate::world;

/// A scenario file to check and the label it is reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The file.
    pub path: PathBuf,
    /// Its name in reports: the path without `.ron`, relative to the folder it was found in
    /// (`drills/eu-outage-dual`), or as given for a file named on the command line.
    pub label: String,
}

/// What checking one scenario came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Run with `seed`; one verdict per assertion, in file order.
    Judged {
        /// The master seed of the run.
        seed: u64,
        /// The assertions' verdicts.
        verdicts: Vec<Verdict>,
    },
    /// Valid, but makes no assertions: not run.
    NoAssertions,
    /// The scenario (or a trace it reads) is invalid: its diagnostics.
    Invalid(String),
    /// The run stopped on an internal error (a bug): what it said.
    Crashed(String),
}

/// The report of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioReport {
    /// The scenario file.
    pub path: PathBuf,
    /// Its label, see [`Target::label`].
    pub label: String,
    /// What happened.
    pub outcome: Outcome,
    /// Wall-clock seconds spent loading and running it.
    pub wall_s: f64,
    /// The scenario's warnings (none when it could not be loaded); they change no outcome.
    pub warnings: Warnings,
}

impl ScenarioReport {
    /// One line per failed assertion: `drills/eu-outage-dual: latency(chat p99) measured 1234 ms,
    /// bound < 800 ms`.
    pub fn failures(&self) -> Vec<String> {
        match &self.outcome {
            Outcome::Judged { verdicts, .. } => verdicts
                .iter()
                .filter(|v| !v.passed)
                .map(|v| format!("{}: {}", self.label, v.message))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Why the gate did not pass. [`GateError::exit_code`] is the process's exit code.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A path given to check cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// No scenario file was found under the paths given.
    #[error("no scenario files (*.ron) in {paths}")]
    NoScenarios {
        /// The paths searched.
        paths: String,
    },
    /// Some assertions failed.
    #[error("check failed: {failed} of {total} assertions failed")]
    Failed {
        /// Failed assertions.
        failed: usize,
        /// All assertions judged.
        total: usize,
    },
    /// Some scenarios could not be loaded or run because their input is invalid.
    #[error("check failed: {invalid} of {scenarios} scenarios are invalid")]
    Invalid {
        /// Invalid scenarios.
        invalid: usize,
        /// All scenarios.
        scenarios: usize,
    },
    /// Some runs stopped on an internal error.
    #[error(
        "check failed: {crashed} of {scenarios} scenarios stopped on an internal error; this is a bug, please report it with the scenario"
    )]
    Internal {
        /// Scenarios whose run stopped.
        crashed: usize,
        /// All scenarios.
        scenarios: usize,
    },
}

impl GateError {
    /// The exit code: 1 for failed assertions, 2 for invalid input, 3 for an internal error.
    pub fn exit_code(&self) -> u8 {
        match self {
            GateError::Failed { .. } => exit::EXPECTATION_FAILED,
            GateError::Read { .. } | GateError::NoScenarios { .. } | GateError::Invalid { .. } => {
                exit::INVALID_INPUT
            }
            GateError::Internal { .. } => exit::INTERNAL,
        }
    }
}

/// The scenario files named by `paths`: files as given, folders searched recursively for
/// `*.ron` files in sorted order.
pub fn find(paths: &[PathBuf]) -> Result<Vec<Target>, GateError> {
    let mut targets = Vec::new();
    for path in paths {
        let read_error = |source| GateError::Read {
            path: path.clone(),
            source,
        };
        if std::fs::metadata(path).map_err(read_error)?.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            targets.extend(found.into_iter().map(|file| {
                let relative = file.strip_prefix(path).unwrap_or(&file).to_path_buf();
                Target {
                    label: label(&relative),
                    path: file,
                }
            }));
        } else {
            targets.push(Target {
                label: label(path),
                path: path.clone(),
            });
        }
    }
    if targets.is_empty() {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(GateError::NoScenarios {
            paths: paths.join(", "),
        });
    }
    Ok(targets)
}

/// `drills/eu-outage-dual` for `./drills/eu-outage-dual.ron`.
fn label(path: &Path) -> String {
    let path = path.with_extension("");
    let parts: Vec<String> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::RootDir => String::new(),
            c => c.as_os_str().to_string_lossy().into_owned(),
        })
        .collect();
    parts.join("/")
}

/// Adds the `*.ron` files under `dir` to `found`, depth first in name order. Symbolic links to
/// folders are not followed.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), GateError> {
    let read_error = |source| GateError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_error)?
        .map(|entry| entry.map(|e| (e.path(), e.file_type())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        let kind = kind.map_err(|source| GateError::Read {
            path: path.clone(),
            source,
        })?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "ron") && !super::study::is_study_file(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Loads `target`, runs it with `seed` (default: the scenario's own) under each policy its
/// assertions are judged on, if it makes any, and judges them. A panic in the run is reported
/// as [`Outcome::Crashed`].
pub fn check_scenario(target: &Target, seed: Option<u64>) -> ScenarioReport {
    let started = Instant::now();
    let mut warnings = Warnings::default();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        judge(&target.path, seed, &mut warnings)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Outcome::Crashed(format!("the simulation panicked: {what}"))
    });
    ScenarioReport {
        path: target.path.clone(),
        label: target.label.clone(),
        outcome,
        wall_s: started.elapsed().as_secs_f64(),
        warnings,
    }
}

/// Loads, runs and judges the scenario at `path`, leaving its warnings in `warnings` as soon
/// as it is loaded (so that a later panic does not lose them).
fn judge(path: &Path, seed: Option<u64>, warnings: &mut Warnings) -> Outcome {
    let scenario = match scenario::load(path) {
        Ok(scenario) => scenario,
        Err(error) => return Outcome::Invalid(error.to_string()),
    };
    *warnings = scenario.warnings.clone();
    let seed = seed.unwrap_or(scenario.spec.seed);
    let failed = |error: world::RunError| {
        let text = format!("{}: {error}", path.display());
        if error.is_input_error() {
            Outcome::Invalid(text)
        } else {
            Outcome::Crashed(text)
        }
    };
    // Resolving reads every trace, so a bad row is reported even when nothing runs.
    let resolved = match scenario.resolve() {
        Ok(resolved) => resolved,
        Err(error) => return Outcome::Invalid(format!("{}: {error}", path.display())),
    };
    if scenario.spec.expect.is_empty() {
        return Outcome::NoAssertions;
    }
    let policies = policies_judged(&scenario.spec);
    let mut summaries = Vec::with_capacity(policies.len());
    for outcome in run_policies(&resolved, seed, &policies, &|_, _| {}) {
        match outcome {
            Ok(outcome) => summaries.push(outcome.summary),
            Err(error) => return failed(error),
        }
    }
    let runs: Vec<(&str, &Summary)> = policies.iter().map(String::as_str).zip(&summaries).collect();
    match evaluate_by_policy(&scenario.spec.expect, &runs) {
        Ok(verdicts) => Outcome::Judged { seed, verdicts },
        Err(error) => Outcome::Crashed(format!("{}: {error}", path.display())),
    }
}

/// The policies whose runs the assertions of `spec` are judged on: the default (first-listed),
/// then each other one an assertion names, in the order of the scenario's list.
fn policies_judged(spec: &ScenarioSpec) -> Vec<String> {
    let named = |policy: &str| spec.expect.iter().any(|e| e.policy() == Some(policy));
    spec.policy_names()
        .into_iter()
        .enumerate()
        .filter(|&(i, policy)| i == 0 || named(policy))
        .map(|(_, policy)| policy.to_string())
        .collect()
}

/// Checks every target on up to `threads` threads; the reports are in `targets` order.
pub fn check_all(targets: &[Target], seed: Option<u64>, threads: usize) -> Vec<ScenarioReport> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(targets.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, targets.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(index) else {
                        break;
                    };
                    let report = check_scenario(target, seed);
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((index, report));
                }
            });
        }
    });
    let mut reports = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    reports.sort_by_key(|(index, _)| *index);
    reports.into_iter().map(|(_, report)| report).collect()
}

/// The counts of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Scenarios checked.
    pub scenarios: usize,
    /// Scenarios without assertions (validated, not run).
    pub no_assertions: usize,
    /// Invalid scenarios.
    pub invalid: usize,
    /// Runs stopped by an internal error.
    pub crashed: usize,
    /// Assertions judged.
    pub assertions: usize,
    /// Assertions that failed.
    pub failed: usize,
}

impl Tally {
    /// Counts `reports`.
    pub fn of(reports: &[ScenarioReport]) -> Self {
        let mut tally = Tally {
            scenarios: reports.len(),
            ..Tally::default()
        };
        for report in reports {
            match &report.outcome {
                Outcome::Judged { verdicts, .. } => {
                    tally.assertions += verdicts.len();
                    tally.failed += verdicts.iter().filter(|v| !v.passed).count();
                }
                Outcome::NoAssertions => tally.no_assertions += 1,
                Outcome::Invalid(_) => tally.invalid += 1,
                Outcome::Crashed(_) => tally.crashed += 1,
            }
        }
        tally
    }

    /// One line: `12 assertions in 5 scenarios: 11 passed, 1 failed; 2 without assertions`.
    pub fn line(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let mut line = format!(
            "{} in {}: {} passed, {} failed",
            plural(self.assertions, "assertion"),
            plural(self.scenarios, "scenario"),
            self.assertions - self.failed,
            self.failed
        );
        for (count, what) in [
            (self.no_assertions, "without assertions (not run)"),
            (self.invalid, "invalid"),
            (self.crashed, "stopped by an internal error"),
        ] {
            if count > 0 {
                let _ = write!(line, "; {count} {what}");
            }
        }
        line
    }

    /// `Ok` when every assertion passed and every scenario was valid; otherwise the most severe
    /// problem: an internal error, then invalid input, then failed assertions.
    pub fn result(&self) -> Result<(), GateError> {
        let scenarios = self.scenarios;
        if self.crashed > 0 {
            Err(GateError::Internal {
                crashed: self.crashed,
                scenarios,
            })
        } else if self.invalid > 0 {
            Err(GateError::Invalid {
                invalid: self.invalid,
                scenarios,
            })
        } else if self.failed > 0 {
            Err(GateError::Failed {
                failed: self.failed,
                total: self.assertions,
            })
        } else {
            Ok(())
        }
    }
}

/// The report as an aligned table: scenario, assertion, measured, bound, result (`pass`,
/// `FAIL`, `no assertions`, `INVALID`, `ERROR`).
pub fn table(reports: &[ScenarioReport]) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "scenario".into(),
        "assertion".into(),
        "measured".into(),
        "bound".into(),
        "result".into(),
    ]];
    for report in reports {
        let row = |assertion: &str, measured: &str, bound: &str, result: &str| {
            [
                report.label.clone(),
                assertion.to_string(),
                measured.to_string(),
                bound.to_string(),
                result.to_string(),
            ]
        };
        match &report.outcome {
            Outcome::Judged { verdicts, .. } => {
                for v in verdicts {
                    let result = if v.passed { "pass" } else { "FAIL" };
                    rows.push(row(&v.assertion, &v.measured, &v.bound, result));
                }
            }
            Outcome::NoAssertions => rows.push(row("-", "-", "-", "no assertions")),
            Outcome::Invalid(_) => rows.push(row("(load)", "-", "-", "INVALID")),
            Outcome::Crashed(_) => rows.push(row("(run)", "-", "-", "ERROR")),
        }
    }
    let mut widths = [0; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome) -> ScenarioReport {
        ScenarioReport {
            path: PathBuf::from("x.ron"),
            label: "x".into(),
            outcome,
            wall_s: 0.0,
            warnings: Default::default(),
        }
    }

    fn judged(passed: &[bool]) -> Outcome {
        Outcome::Judged {
            seed: 1,
            verdicts: passed
                .iter()
                .map(|&passed| Verdict {
                    assertion: "cost(total)".into(),
                    measured: "2.00 USD".into(),
                    bound: "< 1 USD".into(),
                    passed,
                    message: "cost(total) measured 2.00 USD, bound < 1 USD".into(),
                })
                .collect(),
        }
    }

    fn policies_judged_of(text: &str) -> Vec<String> {
        let spec: ScenarioSpec = crate::vocab::ron_options()
            .from_str(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        policies_judged(&spec)
    }

    #[test]
    fn a_scenario_runs_under_its_default_and_each_policy_its_assertions_name() {
        let named = r#"(name: "p", horizon: "1h", policy: ["cheapest", "failover", "tiered", "weighted"],
            expect: [cost(below: "1 USD", policy: "weighted"), cost(below: "1 USD"),
                     cost(below: "2 USD", policy: "failover"), cost(below: "3 USD", policy: "weighted"),
                     cost(below: "4 USD", policy: "cheapest")])"#;
        assert_eq!(policies_judged_of(named), ["cheapest", "failover", "weighted"]);
        let unnamed =
            r#"(name: "p", horizon: "1h", policy: ["failover", "cheapest"], expect: [cost(below: "1 USD")])"#;
        assert_eq!(policies_judged_of(unnamed), ["failover"]);
        assert_eq!(
            policies_judged_of(r#"(name: "p", horizon: "1h")"#),
            ["lowest_latency"]
        );
    }

    #[test]
    fn labels_are_paths_without_the_extension() {
        assert_eq!(label(Path::new("./drills/eu-outage.ron")), "drills/eu-outage");
        assert_eq!(label(Path::new("/abs/q.ron")), "/abs/q");
        assert_eq!(label(Path::new("plain")), "plain");
    }

    #[test]
    fn folders_are_searched_recursively_in_name_order() {
        let root = tempfile::tempdir().unwrap();
        for file in ["b.ron", "a/z.ron", "a/y.ron", "notes.txt", "c/d/e.ron"] {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found = find(&[root.path().to_path_buf()]).unwrap();
        let labels: Vec<&str> = found.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["a/y", "a/z", "b", "c/d/e"]);
        let empty = tempfile::tempdir().unwrap();
        let error = find(&[empty.path().to_path_buf()]).unwrap_err();
        assert_eq!(error.exit_code(), exit::INVALID_INPUT);
        let missing = find(&[root.path().join("missing.ron")]).unwrap_err();
        assert!(matches!(missing, GateError::Read { .. }), "{missing}");
    }

    #[test]
    fn the_most_severe_outcome_sets_the_exit_code() {
        let code = |reports: &[ScenarioReport]| {
            Tally::of(reports)
                .result()
                .err()
                .map_or(exit::OK, |e| e.exit_code())
        };
        let pass = report(judged(&[true, true]));
        let fail = report(judged(&[true, false]));
        let invalid = report(Outcome::Invalid("bad".into()));
        let crashed = report(Outcome::Crashed("bug".into()));
        let none = report(Outcome::NoAssertions);
        assert_eq!(code(&[pass.clone(), none.clone()]), exit::OK);
        assert_eq!(code(&[pass.clone(), fail.clone()]), exit::EXPECTATION_FAILED);
        assert_eq!(code(&[fail.clone(), invalid.clone()]), exit::INVALID_INPUT);
        assert_eq!(code(&[invalid.clone(), crashed, fail.clone()]), exit::INTERNAL);
        let tally = Tally::of(&[pass, fail, invalid, none]);
        assert_eq!(
            tally.line(),
            "4 assertions in 4 scenarios: 3 passed, 1 failed; 1 without assertions (not run); 1 invalid"
        );
    }

    #[test]
    fn the_table_lines_up_and_says_fail_in_capitals() {
        let text = table(&[report(judged(&[true, false])), report(Outcome::NoAssertions)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("scenario  assertion"), "{text}");
        assert!(lines[1].ends_with("pass") && lines[2].ends_with("FAIL"), "{text}");
        assert!(lines[3].ends_with("no assertions"), "{text}");
        let bound_column = lines[0].find("bound").unwrap();
        assert_eq!(lines[1].find("< 1 USD"), Some(bound_column), "{text}");
    }
}
