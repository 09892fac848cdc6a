//! Scenario files: the RON format, human units, and the checks that make a file a valid
//! [`Scenario`].
//!
//! Loading is parse + check. Parsing reports RON syntax and type errors at their line and
//! column; checking resolves every name, rejects impossible values and bounds every size. A
//! file with problems yields [`ScenarioError::Invalid`] listing all of them, rendered like a
//! compiler's errors with a hint for each. A valid file may still say something it probably
//! does not mean (a policy chosen without the settings it needs): [`Scenario::warnings`] says
//! what, located like an error, and loading succeeds.
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
pub mod memory;
mod recover;
pub mod resolve;
pub mod schema;
pub mod starter;
pub mod synthetic;
mod warning;

use std::path::{Path, PathBuf};

pub use check::{MAX_GPUS_PER_TIER, MAX_HORIZON, MAX_ITEMS, MAX_NAME, MAX_SITES, MAX_WINDOWS};
pub use describe::describe;
pub(crate) use diagnostic::closest;
pub use diagnostic::{Diagnostic, Diagnostics};
pub use locate::Location;
pub use resolve::{Names, ResolveError, Resolved, TraceCache};
pub use schema::ScenarioSpec;
pub use warning::{Place, Warning, WarningKind, Warnings};

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
    /// What the file says that it probably does not mean, when it runs under its own policy
    /// list; see [`Scenario::warnings_under`] for another list.
    pub warnings: Warnings,
    /// The missing-settings warning of every built-in policy that would behave like the default
    /// with this file's settings, whether the file names it or not.
    unset: Vec<Warning>,
}

impl Scenario {
    /// The warnings when the scenario runs under `policies` instead of its own list (`--policy`,
    /// a study's `policies`): the missing settings of those policies, in the order given. Settings
    /// for a policy that does not run are not warned about: the list was chosen on purpose. An
    /// empty list means the scenario's own, and gives [`Scenario::warnings`].
    pub fn warnings_under(&self, policies: &[String]) -> Warnings {
        if policies.is_empty() {
            return self.warnings.clone();
        }
        let mut items: Vec<Warning> = Vec::new();
        for policy in policies {
            let unset = self.unset.iter().find(|w| &w.policy == policy);
            if let Some(warning) = unset.filter(|_| !items.iter().any(|w| &w.policy == policy)) {
                items.push(warning.clone());
            }
        }
        Warnings::new(&self.path, items)
    }

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
    let bytes = std::fs::read(path).map_err(read_error)?;
    match String::from_utf8(bytes) {
        Ok(text) => load_str(&text, path),
        Err(error) => Err(not_utf8(path, error)),
    }
}

/// The problem with a file that is not UTF-8 text, at the first byte that is not.
fn not_utf8(path: &Path, error: std::string::FromUtf8Error) -> ScenarioError {
    let valid = error.utf8_error().valid_up_to();
    let bytes = error.into_bytes();
    let text = String::from_utf8_lossy(&bytes);
    // The lossy text equals the file up to the first bad byte, so lines and columns agree.
    let before = &text[..valid];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
    let mut diags = Diagnostics::new(path, &text);
    diags.at_position(
        line,
        col,
        format!(
            "byte 0x{:02X} is not UTF-8 text; scenario files are UTF-8",
            bytes[valid]
        ),
        Some("save the file as UTF-8 (is this the right file?); the character is shown as \u{FFFD}".into()),
    );
    ScenarioError::Invalid(diags)
}

/// Parses and checks scenario `text`, naming it `path` in messages and resolving relative paths
/// against `path`'s folder.
///
/// A parse error inside an item of a top-level list does not end the reading: the item is left
/// out and the rest is read and checked, so that every problem that can be found is listed.
pub fn load_str(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let mut diags = Diagnostics::new(path, text);
    if let Some(what) = nothing_to_read(text) {
        diags.at_position(
            1,
            1,
            format!("the file {what}; a scenario is one `( … )` holding at least `name` and `horizon`"),
            Some("start from scenarios/quickstart.ron, or write `(name: \"demo\", horizon: \"1h\", sites: [ … ])`".into()),
        );
        return Err(ScenarioError::Invalid(diags));
    }
    let mut recovery = recover::Recovery::new(text);
    let spec = loop {
        let readable = recovery.readable();
        match crate::vocab::ron_options().from_str::<ScenarioSpec>(readable) {
            Ok(spec) => break spec,
            Err(error) => {
                let start = error.span.start;
                let (problem, hint) = not_a_whole_number(readable, start.line, start.col, &error.code)
                    .unwrap_or_else(|| (error.code.to_string(), parse_hint(&error.code)));
                diags.at_position(start.line, start.col, problem, hint);
                let at = locate::offset_of(readable, start.line, start.col);
                if !at.is_some_and(|at| recovery.skip_item_at(at)) {
                    diags.set_reading(diagnostic::Reading::Stopped);
                    return Err(ScenarioError::Invalid(diags));
                }
            }
        }
    };
    if recovery.skipped() > 0 {
        let mut found = Diagnostics::new(path, recovery.readable());
        check::check(&spec, &mut found);
        recovery.carry_over(&found, &mut diags);
        diags.set_reading(diagnostic::Reading::Skipped(recovery.skipped()));
        return Err(ScenarioError::Invalid(diags));
    }
    check::check(&spec, &mut diags);
    if diags.is_empty() {
        let (own, unset) = check::settings_warnings(&spec, text);
        Ok(Scenario {
            spec,
            path: path.to_path_buf(),
            warnings: Warnings::new(path, own),
            unset,
        })
    } else {
        Err(ScenarioError::Invalid(diags))
    }
}

/// What is wrong with a file that holds no value at all: empty, blank or only comments.
fn nothing_to_read(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        Some("is empty")
    } else if locate::past_attributes(text) < text.len() {
        None
    } else if text.trim().is_empty() {
        Some("holds only blank lines")
    } else {
        Some("holds only comments")
    }
}

/// The problem and fix when the parser stopped in a number where a whole number belongs: RON
/// reports `-32` as too large, `1e15` as an invalid digit and `16.5` as a missing comma, none
/// of which says what is wrong.
fn not_a_whole_number(
    text: &str,
    line: usize,
    col: usize,
    code: &ron::Error,
) -> Option<(String, Option<String>)> {
    use ron::Error as E;
    if !matches!(
        code,
        E::IntegerOutOfBounds | E::InvalidIntegerDigit { .. } | E::ExpectedComma
    ) {
        return None;
    }
    let row = text.lines().nth(line.checked_sub(1)?)?;
    let at = row
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(row.len(), |(i, _)| i);
    let is_number = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_');
    let start = row[..at].rfind(|c: char| !is_number(c)).map_or(0, |i| i + 1);
    let end = row[at..]
        .find(|c: char| !is_number(c))
        .map_or(row.len(), |i| at + i);
    let token = row.get(start..end)?;
    if !token.starts_with(|c: char| c.is_ascii_digit() || c == '-') || token.parse::<f64>().is_err() {
        return None;
    }
    let fix = Some("write a whole number such as 16: no sign, decimal point or exponent".to_string());
    if token.starts_with('-') {
        Some((
            format!("`{token}` is negative; this field takes a whole number of 0 or more"),
            fix,
        ))
    } else if token.contains(['.', 'e', 'E']) {
        Some((
            format!("`{token}` is not a whole number, which this field needs"),
            fix,
        ))
    } else if matches!(code, E::IntegerOutOfBounds) {
        Some((
            format!("`{token}` is too large for this field"),
            Some("check for a typo: a count this size is beyond what a run can hold".into()),
        ))
    } else {
        None
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
