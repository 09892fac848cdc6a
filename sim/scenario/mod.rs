//! Scenario files: the RON format, human units, and the checks that make a file a valid
//! [`Scenario`].
//!
//! Loading is parse + check. Parsing reports RON syntax and type errors at their line and
//! column; checking resolves every name, rejects impossible values and bounds every size. A
//! file with problems yields [`ScenarioError::Invalid`] listing all of them, rendered like a
//! compiler's errors with a hint for each.
//!
//! ```
//! let text = r#"(name: "tiny", horizon: "1h",
//!     sites: [(name: "a", kind: cloud, jurisdiction: "eu/de")])"#;
//! let scenario = hybridsim::scenario::load_str(text, "tiny.ron".as_ref()).unwrap();
//! assert_eq!(scenario.spec.sites.len(), 1);
//! ```

mod check;
mod describe;
mod diagnostic;
pub mod expect;
mod locate;
pub mod resolve;
pub mod schema;

use std::path::{Path, PathBuf};

pub use check::{MAX_GPUS_PER_TIER, MAX_HORIZON, MAX_ITEMS, MAX_NAME, MAX_SITES, MAX_WINDOWS};
pub use describe::describe;
pub(crate) use diagnostic::closest;
pub use diagnostic::{Diagnostic, Diagnostics};
pub use locate::Location;
pub use resolve::{Names, ResolveError, Resolved, TraceCache};
pub use schema::ScenarioSpec;

/// Largest scenario file accepted; anything bigger is certainly not hand-written.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read. The reason is part of the message, not a source, so it is
    /// printed once.
    #[error(
        "cannot read scenario file {path}: {reason}; check the path (relative paths start from the current folder)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: std::io::Error,
    },
    /// The path is not a regular file (a folder, a device, a pipe).
    #[error("{path} is not a regular file; give the path of a scenario file (.ron)")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is too large to be a scenario.
    #[error("scenario file {path} is {bytes} bytes; the limit is {MAX_FILE_BYTES} (is this the right file?)")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file has errors.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// A checked scenario: every name resolves and every value is possible.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What the file says.
    pub spec: ScenarioSpec,
    /// Where it was read from (paths inside it are relative to its folder).
    pub path: PathBuf,
}

impl Scenario {
    /// Resolves a path written in the scenario relative to the scenario file's folder.
    pub fn resolve_path(&self, written: &str) -> PathBuf {
        let written = Path::new(written);
        if written.is_absolute() {
            return written.to_path_buf();
        }
        self.path.parent().unwrap_or(Path::new(".")).join(written)
    }
}

/// Reads and checks the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let read_error = |reason| ScenarioError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    // A device such as /dev/zero reports no length and never ends.
    if !metadata.is_file() {
        return Err(ScenarioError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let bytes = metadata.len();
    if bytes > MAX_FILE_BYTES {
        return Err(ScenarioError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    load_str(&text, path)
}

/// Parses and checks scenario `text`, naming it `path` in messages and resolving relative paths
/// against `path`'s folder.
pub fn load_str(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let mut diags = Diagnostics::new(path, text);
    let spec: ScenarioSpec = match crate::vocab::ron_options().from_str(text) {
        Ok(spec) => spec,
        Err(error) => {
            let start = error.span.start;
            diags.at_position(
                start.line,
                start.col,
                error.code.to_string(),
                parse_hint(&error.code),
            );
            return Err(ScenarioError::Invalid(diags));
        }
    };
    check::check(&spec, &mut diags);
    if diags.is_empty() {
        Ok(Scenario {
            spec,
            path: path.to_path_buf(),
        })
    } else {
        Err(ScenarioError::Invalid(diags))
    }
}

fn parse_hint(code: &ron::Error) -> Option<String> {
    use ron::Error as E;
    let hint = match code {
        E::MissingStructField { field, .. } => format!("add `{field}: …` to this item"),
        E::NoSuchStructField { expected, found, .. } => match closest(found, expected.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? Otherwise remove or rename the field"),
            None => "remove or rename the field".into(),
        },
        E::DuplicateStructField { field, .. } => format!("`{field}` is given twice; keep one"),
        E::ExpectedStructLikeEnd | E::ExpectedArrayEnd | E::ExpectedMapEnd => {
            "a bracket is not closed, or a comma is missing before this point".into()
        }
        E::ExpectedComma => "separate items with a comma".into(),
        E::NoSuchEnumVariant { expected, found, .. } => match closest(found, expected.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? Use one of the listed names"),
            None => "use one of the listed names".into(),
        },
        E::IntegerOutOfBounds => "this number is too large for the field; check for a typo".into(),
        E::ExpectedString => "write the value in double quotes, e.g. \"90s\" or \"10Gbps\"".into(),
        _ => return None,
    };
    Some(hint)
}
