//! Warnings: what a valid scenario says that it probably does not mean. A warning never stops a
//! scenario from loading and never changes an exit code or a byte of an output file; the
//! commands print warnings on stderr as `warning: …`, located and rendered like errors.
//!
//! Today every warning is about policy settings (found in `check/policies.rs`): a built-in
//! policy chosen without the settings that make it differ from the default, or settings given
//! for a policy the scenario never runs. Which policies run can be changed outside the file
//! (`--policy`, a study's `policies`), so a [`super::Scenario`] keeps, beside the warnings under
//! its own policy list, the missing-settings warning of every built-in policy, and
//! [`super::Scenario::warnings_under`] picks those of the policies that really run.

use std::fmt;
use std::path::{Path, PathBuf};

use super::diagnostic::Shown;
use super::locate::Location;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// The policy runs without the settings that make it behave differently from the default.
    MissingSettings,
    /// The file gives settings that none of the policies it runs reads.
    UnusedSettings,
}

/// One warning about a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// The built-in policy (or, for `migration_gain`, the policies) it is about.
    pub policy: String,
    /// What kind of problem it is.
    pub kind: WarningKind,
    /// What is wrong.
    pub message: String,
    /// How to fix it, with a short RON example.
    pub help: String,
    /// Where in the file; `None` when the policy is chosen outside it (`--policy`, a study).
    pub at: Option<Place>,
}

/// Where a warning points: the value, its path and the text of its line (kept, rather than the
/// whole file, so that a loaded scenario does not hold its source).
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Line, column and length of the value.
    pub location: Location,
    /// The path of the value in the scenario (`policy[1]`).
    pub path: String,
    /// The line's text.
    pub line_text: String,
}

impl Place {
    /// The place of `location` (of the value at `path`) in `source`.
    pub(super) fn new(source: &str, location: Location, path: &str) -> Self {
        Place {
            location,
            path: path.to_string(),
            line_text: source
                .lines()
                .nth(location.line.saturating_sub(1))
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// The warnings about one file, in the order of the file (unlocated ones last).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Warnings {
    file: PathBuf,
    items: Vec<Warning>,
}

impl Warnings {
    /// The warnings `items` about `file`, put in file order: by line and column, those at no
    /// place last, ties in the order given.
    pub fn new(file: &Path, mut items: Vec<Warning>) -> Self {
        items.sort_by_key(|w| {
            w.at.as_ref()
                .map_or((usize::MAX, usize::MAX), |p| (p.location.line, p.location.col))
        });
        Warnings {
            file: file.to_path_buf(),
            items,
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The warnings, in file order.
    pub fn items(&self) -> &[Warning] {
        &self.items
    }

    /// The file they are about.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

/// Each warning as a compiler shows it, followed by a blank line; nothing when there is none.
impl fmt::Display for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            let shown = Shown {
                severity: "warning",
                file: &self.file,
                message: &item.message,
                location: item.at.as_ref().map(|p| p.location),
                path: item.at.as_ref().map(|p| p.path.as_str()),
                line_text: item.at.as_ref().map(|p| p.line_text.as_str()),
                help: Some(&item.help),
            };
            writeln!(f, "{shown}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(line: usize, policy: &str) -> Warning {
        Warning {
            policy: policy.into(),
            kind: WarningKind::MissingSettings,
            message: format!("{policy} needs settings"),
            help: "add them".into(),
            at: (line > 0).then(|| Place {
                location: Location {
                    line,
                    col: 13,
                    len: 10,
                },
                path: "policy".into(),
                line_text: "    policy: \"failover\",".into(),
            }),
        }
    }

    #[test]
    fn renders_like_an_error_in_file_order() {
        let warnings = Warnings::new(
            Path::new("x.ron"),
            vec![
                warning(0, "tiered"),
                warning(9, "failover"),
                warning(3, "cost_ceiling"),
            ],
        );
        let order: Vec<&str> = warnings.items().iter().map(|w| w.policy.as_str()).collect();
        assert_eq!(order, ["cost_ceiling", "failover", "tiered"]);
        let text = warnings.to_string();
        assert!(
            text.starts_with("warning: cost_ceiling needs settings\n  --> x.ron:3:13 (at policy)\n"),
            "{text}"
        );
        assert!(
            text.contains("9 |     policy: \"failover\",\n  |             ^^^^^^^^^^\n"),
            "{text}"
        );
        assert!(
            text.contains("warning: tiered needs settings\n  --> x.ron\n  = help: add them\n"),
            "{text}"
        );
        assert!(Warnings::default().to_string().is_empty());
    }
}
