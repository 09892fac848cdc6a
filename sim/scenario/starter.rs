//! The starter scenario `hybridsim init` writes: one cloud region, one owned data centre, an
//! inference service, a training job with checkpoints, an incident and a policy, each commented
//! so that a newcomer learns the format from it.
//!
//! The text is `scenarios/templates/starter.ron`, compiled in. That file is itself a valid
//! scenario named [`DEFAULT_NAME`], so the tests that load and run every bundled scenario cover
//! it; `init NAME` replaces that name, and nothing else, with `NAME`, which is first checked to
//! be a valid scenario name (letters, digits, `-`, `_`, `.`): it can neither end the string it
//! goes into nor start a new line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::MAX_NAME;

/// The starter scenario as it is in the repository, named [`DEFAULT_NAME`].
pub const TEMPLATE: &str = include_str!("../../scenarios/templates/starter.ron");

/// The name `hybridsim init` gives when none is given: the file is `my-estate.ron`.
pub const DEFAULT_NAME: &str = "my-estate";

/// Why the starter scenario was not written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The file is there already; it is never overwritten.
    #[error(
        "{path} already exists; hybridsim init never overwrites a file: give another name (`hybridsim init NAME` writes NAME.ron) or move the file away first"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The name cannot name a scenario (it names the output folder).
    #[error(
        "\"{name}\" cannot name a scenario: use 1 to {MAX_NAME} letters, digits, '-', '_' and '.', not starting with a dot (the name names the output folder, outputs/<name>/)"
    )]
    BadName {
        /// The name asked for (the file name without `.ron`).
        name: String,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {reason}; check that its folder exists and can be written to")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: std::io::Error,
    },
}

/// A starter scenario to write: where, and under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starter {
    /// The file: `NAME.ron`, or the path as given when it ends in `.ron`.
    pub path: PathBuf,
    /// The scenario's name: the file's name without `.ron`.
    pub name: String,
}

impl Starter {
    /// The starter for `init NAME`: `NAME` is a name (`my-estate`) or a path (`studies/a.ron`,
    /// `studies/a`); `.ron` is added when missing. The name is checked.
    pub fn new(name_or_path: &str) -> Result<Self, InitError> {
        let given = Path::new(name_or_path);
        let path = if given.extension().is_some_and(|e| e == "ron") {
            given.to_path_buf()
        } else {
            let mut file = given.as_os_str().to_owned();
            file.push(".ron");
            PathBuf::from(file)
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !is_scenario_name(&name) {
            return Err(InitError::BadName { name });
        }
        Ok(Starter { path, name })
    }

    /// The scenario's text: the template with its name replaced.
    pub fn text(&self) -> String {
        TEMPLATE.replace(DEFAULT_NAME, &self.name)
    }

    /// Writes the file, refusing to replace one that exists (checked and created in one step,
    /// so a file made meanwhile is not overwritten either).
    pub fn write(&self) -> Result<(), InitError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .map_err(|reason| match reason.kind() {
                std::io::ErrorKind::AlreadyExists => InitError::Exists {
                    path: self.path.clone(),
                },
                _ => InitError::Write {
                    path: self.path.clone(),
                    reason,
                },
            })?;
        file.write_all(self.text().as_bytes())
            .map_err(|reason| InitError::Write {
                path: self.path.clone(),
                reason,
            })
    }
}

/// Whether `name` may name a scenario: what the scenario check accepts, and no leading dot
/// (`..` would name the folder above `outputs/`, `.x` a hidden one).
fn is_scenario_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_give_the_file_and_the_scenario_name() {
        let at = |given: &str| Starter::new(given).map(|s| (s.path, s.name));
        assert_eq!(
            at("my-estate").unwrap(),
            (PathBuf::from("my-estate.ron"), "my-estate".into())
        );
        assert_eq!(
            at("studies/a.ron").unwrap(),
            (PathBuf::from("studies/a.ron"), "a".into())
        );
        assert_eq!(
            at("studies/v1.2").unwrap(),
            (PathBuf::from("studies/v1.2.ron"), "v1.2".into())
        );
        for bad in ["a b", "x\"y", "new\nline", "..", ".ron", ""] {
            assert!(matches!(at(bad), Err(InitError::BadName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn the_name_is_the_only_thing_replaced() {
        assert_eq!(TEMPLATE.matches(&format!("name: \"{DEFAULT_NAME}\"")).count(), 1);
        let text = Starter::new("plant-b").unwrap().text();
        assert!(text.contains("name: \"plant-b\""));
        assert!(!text.contains(DEFAULT_NAME));
        assert_eq!(
            text.len() + DEFAULT_NAME.len() * TEMPLATE.matches(DEFAULT_NAME).count(),
            TEMPLATE.len() + "plant-b".len() * TEMPLATE.matches(DEFAULT_NAME).count()
        );
    }

    #[test]
    fn the_written_scenario_loads_without_warnings() {
        let text = Starter::new("plant-b").unwrap().text();
        let scenario = super::super::load_str(&text, Path::new("plant-b.ron")).unwrap();
        assert_eq!(scenario.spec.name, "plant-b");
        assert!(scenario.warnings.is_empty(), "{}", scenario.warnings);
    }
}
