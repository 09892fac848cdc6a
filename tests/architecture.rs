//! The layering of `sim/`: no import cycle among its top-level modules, and the two leaves —
//! `vocab` (the shared vocabulary) and `kernel` (time, events, random streams) — import nothing
//! from the rest of the crate.
//!
//! Each file under `sim/` belongs to the top-level module named by the first component of its
//! path (`sim/report/charts/cost.rs` is in `report`; `sim/lib.rs` and `sim/main.rs` are the crate
//! roots and in none). An edge `a -> b` is a `crate::b` path in a file of `a` (also inside
//! `crate::{…}` groups and `$crate::` in macros) or a `super::…` path that climbs out of `a` to
//! the crate root and names `b`, found outside comments, strings and character literals.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// Imports that are forbidden even where they would close no cycle: `report` writes every output
/// from what a run recorded (`metrics::record`), never from the live model in `world`.
const FORBIDDEN: &[(&str, &str)] = &[("report", "world")];

/// The modules below every domain module: they may import nothing else from the crate.
const LEAVES: &[&str] = &["vocab", "kernel"];

/// Where an import is: a file relative to the repository root, and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Site {
    file: String,
    line: usize,
}

/// Imports between top-level modules: `from -> to -> where` (every place, in file order).
type Graph = BTreeMap<String, BTreeMap<String, Vec<Site>>>;

#[test]
fn the_top_level_modules_of_sim_import_each_other_without_a_cycle() {
    let graph = graph_of(&sources());
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles among the modules of sim/:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_vocabulary_and_the_kernel_import_nothing_from_the_domain() {
    let graph = graph_of(&sources());
    for leaf in LEAVES {
        assert!(graph.contains_key(*leaf), "no module sim/{leaf} found");
        let imports: Vec<String> = graph[*leaf]
            .iter()
            .map(|(to, sites)| format!("{leaf} -> {to} ({})", where_(&sites[0])))
            .collect();
        assert!(
            imports.is_empty(),
            "{leaf} must be a leaf but imports:\n{}",
            imports.join("\n")
        );
    }
}

#[test]
fn the_report_reads_what_a_run_recorded_not_the_live_model() {
    let graph = graph_of(&sources());
    for (from, to) in FORBIDDEN {
        let sites = graph.get(*from).and_then(|edges| edges.get(*to));
        assert!(
            sites.is_none(),
            "{from} must not import {to}, but does at:\n{}",
            sites.map_or(String::new(), |s| s
                .iter()
                .map(where_)
                .collect::<Vec<_>>()
                .join("\n"))
        );
    }
}

#[test]
fn a_synthetic_cycle_is_found_and_named_with_its_lines() {
    let files = vec![
        source(
            "sim/scenario/mod.rs",
            "//! crate::policy in a comment is no edge\nuse crate::vocab::Tier;\n",
        ),
        source(
            "sim/scenario/check.rs",
            "fn f() {\n    let _ = crate::policy::names();\n}\n",
        ),
        source(
            "sim/policy/spec.rs",
            "use crate::{kernel::SimTime, scenario::Scenario};\n",
        ),
        source(
            "sim/vocab/ids.rs",
            "const NOT_AN_EDGE: &str = \"crate::world\";\n",
        ),
    ];
    let graph = graph_of(&files);
    assert!(graph["vocab"].is_empty(), "a path in a string is no edge");
    assert_eq!(
        graph["scenario"]["policy"].len(),
        1,
        "a path in a comment is no edge"
    );
    assert_eq!(
        cycles(&graph),
        vec![
            "policy -> scenario -> policy\n  \
             policy -> scenario at sim/policy/spec.rs:1\n  \
             scenario -> policy at sim/scenario/check.rs:2"
                .to_string()
        ]
    );
}

#[test]
fn paths_climbing_out_with_super_are_edges_and_nested_ones_are_not() {
    let files = vec![
        source(
            "sim/report/charts/typeset.rs",
            "mod tests {\n    use super::super::style::INK;\n}\n",
        ),
        source("sim/report/mod.rs", "use super::world::RunOutcome;\n"),
        source(
            "sim/metrics/job.rs",
            "mod tests {\n    use super::super::super::infra::Tier;\n}\n",
        ),
        source(
            "sim/infra/pool.rs",
            "macro_rules! m { () => { $crate::metrics::Ledger::new() } }\n",
        ),
    ];
    let graph = graph_of(&files);
    assert_eq!(
        edges(&graph),
        ["infra -> metrics", "metrics -> infra", "report -> world"]
    );
    assert_eq!(
        graph["metrics"]["infra"][0],
        Site {
            file: "sim/metrics/job.rs".into(),
            line: 2
        }
    );
    assert_eq!(cycles(&graph).len(), 1);
}

#[test]
fn comments_strings_and_characters_hide_paths_but_lifetimes_do_not() {
    let text = "/* crate::a /* nested */ crate::b */ let s = r#\"crate::c\"#; let c = '\"';\n\
                fn f<'a>(x: &'a crate::d::T) {} // crate::e\nlet t = \"\\\" crate::f\";";
    let code = code_only(text);
    let found: Vec<&str> = ["a", "b", "c", "d", "e", "f"]
        .into_iter()
        .filter(|m| code.contains(&format!("crate::{m}")))
        .collect();
    assert_eq!(found, ["d"]);
    assert_eq!(
        code.lines().count(),
        text.lines().count(),
        "line numbers must survive"
    );
}

/// One source file: its path relative to the repository root and its text.
struct Source {
    path: String,
    text: String,
}

fn source(path: &str, text: &str) -> Source {
    Source {
        path: path.into(),
        text: text.into(),
    }
}

/// Every `.rs` file under `sim/`, in path order.
fn sources() -> Vec<Source> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    walk(&root.join("sim"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| Source {
            text: std::fs::read_to_string(&path).unwrap(),
            path: path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/"),
        })
        .collect()
}

/// The module path of a file: `sim/report/charts.rs` is `report::charts`, `sim/report/mod.rs`
/// is `report`, the crate roots are empty.
fn module_path(file: &str) -> Vec<String> {
    let inner = file.strip_prefix("sim/").unwrap_or(file).trim_end_matches(".rs");
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn graph_of(files: &[Source]) -> Graph {
    let mut graph = Graph::new();
    for file in files {
        let module = module_path(&file.path);
        let Some(top) = module.first() else { continue };
        let edges = graph.entry(top.clone()).or_default();
        for (to, line) in imports(&module, &code_only(&file.text)) {
            if to != *top {
                edges.entry(to).or_default().push(Site {
                    file: file.path.clone(),
                    line,
                });
            }
        }
    }
    graph
}

/// The top-level modules that code in `module` names, with the line of each mention.
fn imports(module: &[String], code: &str) -> Vec<(String, usize)> {
    let tokens = tokens(code);
    let mut found = Vec::new();
    // Inline `mod name { … }` blocks deepen the path that `super` climbs from.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    for (i, (token, line)) in tokens.iter().enumerate() {
        let next = |k: usize| tokens.get(i + k).map_or("", |t| t.0.as_str());
        match token.as_str() {
            "{" => {
                if i >= 2 && tokens[i - 2].0 == "mod" {
                    inline_mods.push(depth);
                }
                depth += 1;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                }
            }
            "crate" if next(1) == "::" && (i == 0 || tokens[i - 1].0 != "::") => {
                found.extend(heads(&tokens[i + 2..]).into_iter().map(|m| (m, *line)));
            }
            "super" if i == 0 || tokens[i - 1].0 != "::" => {
                let mut climbed = 0;
                while tokens.get(i + 2 * climbed).is_some_and(|t| t.0 == "super")
                    && tokens.get(i + 2 * climbed + 1).is_some_and(|t| t.0 == "::")
                {
                    climbed += 1;
                }
                if climbed == module.len() + inline_mods.len() {
                    found.extend(heads(&tokens[i + 2 * climbed..]).into_iter().map(|m| (m, *line)));
                }
            }
            _ => {}
        }
    }
    found
}

/// The first segment of the path that starts at `rest`, or of each path in a `{…}` group.
fn heads(rest: &[(String, usize)]) -> Vec<String> {
    let Some((first, _)) = rest.first() else {
        return Vec::new();
    };
    if first != "{" {
        return if is_ident(first) {
            vec![first.clone()]
        } else {
            Vec::new()
        };
    }
    let (mut found, mut depth, mut at_start) = (Vec::new(), 0, true);
    for (token, _) in rest {
        match token.as_str() {
            "{" => {
                depth += 1;
                at_start = depth == 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => at_start = true,
            t if at_start && depth == 1 => {
                if is_ident(t) && t != "self" {
                    found.push(t.to_string());
                }
                at_start = false;
            }
            _ => {}
        }
    }
    found
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation characters, each with its 1-based line.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let (mut tokens, mut line, mut i) = (Vec::new(), 1, 0);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((chars[start..i].iter().collect(), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(("::".to_string(), line));
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push((c.to_string(), line));
            }
            i += 1;
        }
    }
    tokens
}

/// The text with comments, string literals and character literals blanked out (newlines kept,
/// so lines still count right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, skipped: &[char]| {
        out.extend(skipped.iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
    };
    let mut i = 0;
    while i < chars.len() {
        let end = match (chars[i], chars.get(i + 1).copied()) {
            ('/', Some('/')) => (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len()),
            ('/', Some('*')) => block_comment_end(&chars, i),
            ('"', _) => string_end(&chars, i + 1),
            ('r', Some('"' | '#')) if starts_literal(&chars, i) => raw_string_end(&chars, i),
            ('\'', _) => char_literal_end(&chars, i),
            _ => i,
        };
        if end > i {
            blank(&mut out, &chars[i..end]);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the `r` at `at` begins a raw string (`r"`, `br"`) rather than ends an identifier.
fn starts_literal(chars: &[char], at: usize) -> bool {
    let before = |k: usize| at.checked_sub(k).map(|j| chars[j]);
    match before(1) {
        None => true,
        Some('b') => !before(2).is_some_and(is_ident_char),
        Some(c) => !is_ident_char(c),
    }
}

/// The end of a (nested) block comment that opens at `start`.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut i) = (0, start);
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// The end of an ordinary string whose body starts at `body` (escapes skip a character).
fn string_end(chars: &[char], body: usize) -> usize {
    let mut i = body;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The end of a raw string `r#…"…"#…` at `start`, or `start` if it is no raw string.
fn raw_string_end(chars: &[char], start: usize) -> usize {
    let hashes = chars[start + 1..].iter().take_while(|&&c| c == '#').count();
    if chars.get(start + 1 + hashes) != Some(&'"') {
        return start;
    }
    let body = start + 2 + hashes;
    let mut i = body;
    while i < chars.len() {
        if chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes {
            return i + 1 + hashes;
        }
        i += 1;
    }
    chars.len()
}

/// The end of a character literal at `start`, or `start` for a lifetime or label.
fn char_literal_end(chars: &[char], start: usize) -> usize {
    match (chars.get(start + 1), chars.get(start + 2)) {
        (Some('\\'), _) => (start + 2..chars.len())
            .find(|&j| chars[j] == '\'')
            .map_or(chars.len(), |j| j + 1),
        (Some(_), Some('\'')) => start + 3,
        _ => start,
    }
}

/// Every edge as `from -> to`.
fn edges(graph: &Graph) -> Vec<String> {
    graph
        .iter()
        .flat_map(|(from, tos)| tos.keys().map(move |to| format!("{from} -> {to}")))
        .collect()
}

fn where_(site: &Site) -> String {
    format!("{}:{}", site.file, site.line)
}

/// A shortest path of modules from `from` to `to` (both included), if there is one.
fn path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(at) = queue.pop_front() {
        for next in graph.get(at).into_iter().flat_map(|edges| edges.keys()) {
            if next == to {
                let mut path = vec![to.to_string(), at.to_string()];
                let mut back = at;
                while back != from {
                    back = came_from[back];
                    path.push(back.to_string());
                }
                path.reverse();
                return Some(path);
            }
            if next != from && !came_from.contains_key(next.as_str()) {
                came_from.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Each cycle once, as `a -> b -> a` followed by the first place of each of its edges: for every
/// edge `a -> b` in a cycle, the shortest way back from `b` to `a`, deduplicated by the set of
/// edges it uses.
fn cycles(graph: &Graph) -> Vec<String> {
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut found = Vec::new();
    for (from, tos) in graph {
        for to in tos.keys() {
            let Some(back) = path(graph, to, from) else {
                continue;
            };
            let mut cycle = vec![from.clone()];
            cycle.extend(back);
            let mut key: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("{} -> {}", w[0], w[1]))
                .collect();
            key.sort();
            if !seen.insert(key) {
                continue;
            }
            let places: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("  {} -> {} at {}", w[0], w[1], where_(&graph[&w[0]][&w[1]][0])))
                .collect();
            found.push(format!("{}\n{}", cycle.join(" -> "), places.join("\n")));
        }
    }
    found
}
