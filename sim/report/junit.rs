//! The JUnit XML report of `hybridsim check --junit FILE`, for CI systems that show test results.
//!
//! One `<testsuite>` per scenario (named by its label), one `<testcase>` per assertion. A failed
//! assertion has a `<failure>` whose `message` names the scenario, the assertion and both values;
//! an invalid scenario or a run stopped by an internal error has one `<testcase>` with an
//! `<error>`; a scenario without assertions has one skipped `<testcase>`. Text is escaped for XML
//! 1.0, and characters XML cannot carry become U+FFFD.

use std::fmt::Write as _;
use std::path::Path;

use crate::experiment::gate::{Outcome, ScenarioReport, Tally};
use crate::output::OutputError;

/// `text` escaped for XML content and attribute values. Line breaks and tabs are written as
/// character references so attribute values keep them.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// The characters XML 1.0 allows (`Char` production), but for the whitespace handled above.
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// The JUnit XML document for `reports`.
pub fn junit_xml(reports: &[ScenarioReport]) -> String {
    let tally = Tally::of(reports);
    let tests: usize = reports.iter().map(cases).sum();
    let errors = tally.invalid + tally.crashed;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"hybridsim check\" tests=\"{tests}\" failures=\"{}\" errors=\"{errors}\" skipped=\"{}\">",
        tally.failed, tally.no_assertions
    );
    for report in reports {
        suite(&mut xml, report);
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn cases(report: &ScenarioReport) -> usize {
    match &report.outcome {
        Outcome::Judged { verdicts, .. } => verdicts.len(),
        _ => 1,
    }
}

fn suite(xml: &mut String, report: &ScenarioReport) {
    let name = escape(&report.label);
    let (failures, errors, skipped) = match &report.outcome {
        Outcome::Judged { verdicts, .. } => (verdicts.iter().filter(|v| !v.passed).count(), 0, 0),
        Outcome::NoAssertions => (0, 0, 1),
        Outcome::Invalid(_) | Outcome::Crashed(_) => (0, 1, 0),
    };
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        cases(report),
        report.wall_s
    );
    xml.push_str("    <properties>\n");
    let _ = writeln!(
        xml,
        "      <property name=\"file\" value=\"{}\"/>",
        escape(&report.path.display().to_string())
    );
    if let Outcome::Judged { seed, .. } = &report.outcome {
        let _ = writeln!(xml, "      <property name=\"seed\" value=\"{seed}\"/>");
    }
    xml.push_str("    </properties>\n");
    let case = |xml: &mut String, test: &str, body: &str| {
        let open = format!("    <testcase name=\"{}\" classname=\"{name}\"", escape(test));
        if body.is_empty() {
            let _ = writeln!(xml, "{open}/>");
        } else {
            let _ = writeln!(xml, "{open}>\n{body}    </testcase>");
        }
    };
    match &report.outcome {
        Outcome::Judged { verdicts, .. } => {
            for verdict in verdicts {
                let message = escape(&format!("{}: {}", report.label, verdict.message));
                let body = if verdict.passed {
                    format!("      <system-out>{message}</system-out>\n")
                } else {
                    format!("      <failure message=\"{message}\" type=\"expect\">{message}</failure>\n")
                };
                case(xml, &verdict.assertion, &body);
            }
        }
        Outcome::NoAssertions => case(
            xml,
            "no assertions",
            "      <skipped message=\"the scenario makes no expect assertions; validated, not run\"/>\n",
        ),
        Outcome::Invalid(text) | Outcome::Crashed(text) => {
            let (test, kind) = match &report.outcome {
                Outcome::Invalid(_) => ("load", "invalid input"),
                _ => ("run", "internal error"),
            };
            let first = text.lines().next().unwrap_or_default();
            let body = format!(
                "      <error message=\"{}\" type=\"{kind}\">{}</error>\n",
                escape(&format!("{}: {first}", report.label)),
                escape(text)
            );
            case(xml, test, &body);
        }
    }
    xml.push_str("  </testsuite>\n");
}

/// Writes the JUnit report of `reports` to `path`: complete or not at all (a temporary file
/// beside it is renamed onto it).
pub fn write_junit(path: &Path, reports: &[ScenarioReport]) -> Result<(), OutputError> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutputError::Io { path, source }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(at(parent))?;
    }
    let name = path
        .file_name()
        .map_or_else(|| "junit.xml".into(), |n| n.to_string_lossy().into_owned());
    let staging = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    std::fs::write(&staging, junit_xml(reports)).map_err(at(&staging))?;
    std::fs::rename(&staging, path).map_err(|source| {
        let _ = std::fs::remove_file(&staging);
        OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::experiment::expect::Verdict;

    fn verdict(assertion: &str, passed: bool) -> Verdict {
        Verdict {
            assertion: assertion.into(),
            measured: "1234 ms".into(),
            bound: "< 800 ms".into(),
            passed,
            message: format!("{assertion} measured 1234 ms, bound < 800 ms"),
        }
    }

    #[test]
    fn escapes_markup_quotes_and_characters_xml_cannot_carry() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\n\u{1}\u{FFFF}é"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;\u{FFFD}\u{FFFD}é"
        );
        let hostile = "x\"/><injected a='1'>&\u{0}";
        let xml = format!("<r a=\"{}\">{}</r>", escape(hostile), escape(hostile));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        assert_eq!(
            doc.root_element().attribute("a"),
            Some("x\"/><injected a='1'>&\u{FFFD}")
        );
        assert_eq!(
            doc.root_element().children().count(),
            1,
            "no element was injected"
        );
    }

    #[test]
    fn one_suite_per_scenario_one_case_per_assertion() {
        let reports = vec![
            ScenarioReport {
                path: PathBuf::from("s/a <1>.ron"),
                label: "a <1>".into(),
                outcome: Outcome::Judged {
                    seed: 7,
                    verdicts: vec![verdict("latency(chat p99)", false), verdict("cost(total)", true)],
                },
                wall_s: 0.5,
                warnings: Default::default(),
            },
            ScenarioReport {
                path: PathBuf::from("s/b.ron"),
                label: "b".into(),
                outcome: Outcome::Invalid("error: unknown service \"chta\"\n  --> b.ron:3:4".into()),
                wall_s: 0.0,
                warnings: Default::default(),
            },
            ScenarioReport {
                path: PathBuf::from("s/c.ron"),
                label: "c".into(),
                outcome: Outcome::NoAssertions,
                wall_s: 0.0,
                warnings: Default::default(),
            },
        ];
        let xml = junit_xml(&reports);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("4"));
        assert_eq!(root.attribute("failures"), Some("1"));
        assert_eq!(root.attribute("errors"), Some("1"));
        let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
        assert_eq!(suites.len(), 3);
        assert_eq!(suites[0].attribute("name"), Some("a <1>"));
        let cases: Vec<_> = suites[0]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 2);
        let failure = cases[0]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("a failure element");
        assert_eq!(
            failure.attribute("message"),
            Some("a <1>: latency(chat p99) measured 1234 ms, bound < 800 ms")
        );
        assert!(!cases[1].children().any(|n| n.has_tag_name("failure")));
        let error = suites[1]
            .descendants()
            .find(|n| n.has_tag_name("error"))
            .expect("an error element");
        assert_eq!(
            error.attribute("message"),
            Some("b: error: unknown service \"chta\"")
        );
        assert!(error.text().is_some_and(|t| t.contains("b.ron:3:4")));
        assert!(suites[2].descendants().any(|n| n.has_tag_name("skipped")));
    }
}
