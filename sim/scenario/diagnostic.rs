//! Errors in scenario files, reported the way a compiler does: file, line, column, the line
//! itself with the bad value underlined, what is wrong and how to fix it. Warnings
//! (`warning.rs`) are shown by the same code, `Shown`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::{Location, locate, location_of, offset_of};

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// Where, in the file.
    pub location: Location,
    /// The path of the value in the scenario (`links[2].a`), when known.
    pub path: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

/// All problems found in one file, with the text needed to show them.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    file: PathBuf,
    source: String,
    items: Vec<Diagnostic>,
    reading: Reading,
}

/// How far the file could be read, which says whether more problems may be hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Reading {
    /// The whole file was read and checked.
    #[default]
    Whole,
    /// Items that could not be read were left out, and the rest was checked without them.
    Skipped(usize),
    /// Reading stopped at an error no item could be left out for; nothing after it was checked.
    Stopped,
}

impl Diagnostics {
    /// An empty list for `file` whose text is `source`.
    pub fn new(file: &Path, source: &str) -> Self {
        Diagnostics {
            file: file.to_path_buf(),
            source: source.to_string(),
            items: Vec::new(),
            reading: Reading::Whole,
        }
    }

    /// Says how far the file could be read, for the closing line.
    pub(super) fn set_reading(&mut self, reading: Reading) {
        self.reading = reading;
    }

    /// Adds a problem found elsewhere (in a copy of the file with unreadable items blanked).
    pub(super) fn push(&mut self, item: Diagnostic) {
        self.items.push(item);
    }

    /// Records a problem with the value at `path` (e.g. `pools[3].reserved.count`).
    pub fn at_path(&mut self, path: &str, message: impl Into<String>, help: Option<String>) {
        let location = locate(&self.source, path);
        self.items.push(Diagnostic {
            message: message.into(),
            location,
            path: Some(path.to_string()),
            help,
        });
    }

    /// Records a problem at a 1-based line and column (from the parser).
    pub fn at_position(&mut self, line: usize, col: usize, message: impl Into<String>, help: Option<String>) {
        let location = offset_of(&self.source, line, col).map_or(Location { line, col, len: 1 }, |offset| {
            let mut loc = location_of(&self.source, offset);
            loc.len = 1;
            loc
        });
        self.items.push(Diagnostic {
            message: message.into(),
            location,
            path: None,
            help,
        });
    }

    /// Whether any problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The problems, in the order found.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The file they are in.
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn render(&self, f: &mut fmt::Formatter<'_>, item: &Diagnostic) -> fmt::Result {
        let shown = Shown {
            severity: "error",
            file: &self.file,
            message: &item.message,
            location: Some(item.location),
            path: item.path.as_deref(),
            line_text: self.source.lines().nth(item.location.line.saturating_sub(1)),
            help: item.help.as_deref(),
        };
        write!(f, "{shown}")
    }
}

/// One problem as a compiler shows it: `error: …` or `warning: …`, the file with the line and
/// column when known, that line with the value underlined, and the help. Errors and warnings
/// share it so that they read the same.
pub(super) struct Shown<'a> {
    /// `error` or `warning`.
    pub(super) severity: &'a str,
    /// The file the problem is in.
    pub(super) file: &'a Path,
    /// What is wrong.
    pub(super) message: &'a str,
    /// Where in the file; `None` for a problem that is about the file but at no place in it.
    pub(super) location: Option<Location>,
    /// The path of the value in the scenario, when known.
    pub(super) path: Option<&'a str>,
    /// The text of the line at `location`.
    pub(super) line_text: Option<&'a str>,
    /// How to fix it.
    pub(super) help: Option<&'a str>,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.severity, self.message)?;
        write!(f, "  --> {}", self.file.display())?;
        let Some(Location { line, col, len }) = self.location else {
            writeln!(f)?;
            return self.write_help(f);
        };
        write!(f, ":{line}:{col}")?;
        match self.path {
            Some(path) => writeln!(f, " (at {path})")?,
            None => writeln!(f)?,
        }
        if let Some(text) = self.line_text {
            let gutter = " ".repeat(line.to_string().len());
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{line} | {text}")?;
            writeln!(
                f,
                "{gutter} | {}{}",
                " ".repeat(col.saturating_sub(1)),
                "^".repeat(len.max(1))
            )?;
        }
        self.write_help(f)
    }
}

impl Shown<'_> {
    fn write_help(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.help {
            Some(help) => writeln!(f, "  = help: {help}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            self.render(f, item)?;
            writeln!(f)?;
        }
        let count = self.items.len();
        write!(
            f,
            "{count} error{} in {}",
            if count == 1 { "" } else { "s" },
            self.file.display()
        )?;
        match self.reading {
            Reading::Whole => Ok(()),
            Reading::Skipped(1) => write!(
                f,
                "\n(1 item that could not be read was left out when checking the rest; problems that depend on it show once it is fixed)"
            ),
            Reading::Skipped(n) => write!(
                f,
                "\n({n} items that could not be read were left out when checking the rest; problems that depend on them show once they are fixed)"
            ),
            Reading::Stopped => write!(
                f,
                "\n(reading stopped at the last error; fix it to see any problems after it)"
            ),
        }
    }
}

/// The existing name closest to `wanted`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|name| (strsim::damerau_levenshtein(wanted, name), name))
        .filter(|(distance, name)| *distance <= (name.len().max(wanted.len()) / 2).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_underline_and_help() {
        let src = "(\n  sites: [(name: \"fra-1\")],\n)\n";
        let mut diags = Diagnostics::new(Path::new("x.ron"), src);
        diags.at_path(
            "sites[0].name",
            "unknown site \"fra-1\"",
            Some("did you mean \"fra-2\"?".into()),
        );
        let text = diags.to_string();
        assert!(text.contains("--> x.ron:2:18 (at sites[0].name)"), "{text}");
        assert!(text.contains("2 |   sites: [(name: \"fra-1\")],"), "{text}");
        assert!(text.contains("  |                  ^^^^^^^\n"), "{text}");
        assert!(text.contains("= help: did you mean \"fra-2\"?"), "{text}");
        assert!(text.ends_with("1 error in x.ron"), "{text}");
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["fra-2", "aws-us-east-1", "edge-munich"];
        assert_eq!(closest("fra-1", names), Some("fra-2"));
        assert_eq!(closest("aws-us-east1", names), Some("aws-us-east-1"));
        assert_eq!(closest("tokyo", names), None);
    }
}
