//! A mutation test over the bundled scenarios: each scenario file (but the benchmarks' and the
//! study files) gets a fixed, seeded set of textual mutations — a number replaced by 0, -1,
//! 1e300, NaN or a huge integer, a line deleted or duplicated, a unit swapped, a referenced name
//! renamed, the file truncated — with its horizon first cut to ten minutes so runs stay short.
//! Each mutant is loaded and, when it loads, resolved and simulated.
//!
//! The property: nothing panics; every refusal renders a message; a scenario refusal points at a
//! line and column of the file and a trace refusal at a line or element; a run either completes
//! or stops with a run-time error that is not a broken invariant. The share of refusals that are
//! located is printed and must stay above a floor.
//!
//! The bundled request traces get the same treatment a line at a time (a field replaced, removed
//! or added, a line cut short, a byte that is not UTF-8): each mutant replays or is refused by
//! a message naming its line.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};

use hybridsim::kernel::RunLimits;
use hybridsim::scenario::{ResolveError, ScenarioError, load_str};
use hybridsim::workload::trace::TraceError;
use hybridsim::world::{RunError, conclude, prepare};

/// Mutations per scenario file.
const MUTATIONS: usize = 20;

/// The master seed of the mutations and of the runs.
const SEED: u64 = 20_240_611;

/// Events a mutant's run may deliver: a mutation that multiplies the load (a rate a million
/// times larger) stops here instead of running for minutes.
const EVENT_BUDGET: u64 = 300_000;

/// The least share of refusals that must point at their place in a file. Measured at 100%.
const LOCATED_FLOOR: f64 = 0.95;

/// The least share of refusals of a one-line change (a number, a unit, a name, a duplicated
/// line) that must point at the changed line; the others point at the item a renamed name left
/// without its reference, or at the first of two duplicated items. Measured at 91%.
const AT_MUTATION_FLOOR: f64 = 0.85;

/// The horizons a scenario is cut to before mutating: the first with which it runs (a scenario
/// whose warm-up or scripted incidents need more keeps a longer one).
const HORIZONS: &[&str] = &["10m", "30m", "1h", "24h"];

/// Numbers put in place of a number.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e300",
    "NaN",
    "18446744073709551616",
    "99999999999",
    "0.000001",
];

/// Units put in place of a unit.
const UNITS: &[&str] = &[
    "ms", "s", "h", "d", "GB", "TiB", "B", "Gbps", "GB/s", "/s", "/h", " USD/h", " USD", " USD/GB", "kW",
    " EUR/h",
];

/// A small deterministic generator (SplitMix64) for choosing mutations.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A mutant: its text, what was done, and the line changed (1-based), when one line was.
struct Mutant {
    text: String,
    what: String,
    line: Option<usize>,
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Byte ranges of runs of digits (with decimal points) that are not part of a name.
fn numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let word =
            i > 0 && (bytes[i - 1].is_ascii_alphabetic() || bytes[i - 1] == b'_' || bytes[i - 1] == b'-');
        if bytes[i].is_ascii_digit() && !word {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            found.push(start..i);
        } else {
            i += 1;
        }
    }
    found
}

/// Byte ranges of the units of quoted quantities such as `"12ms"` or `"2.49 USD/h"`.
fn units(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('"').map(|i| rest + i) {
        let Some(close) = text[open + 1..].find('"').map(|i| open + 1 + i) else {
            break;
        };
        let inner = &text[open + 1..close];
        let digits = inner
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(inner.len());
        if digits > 0 && digits < inner.len() && !inner[digits..].contains('"') {
            found.push(open + 1 + digits..close);
        }
        rest = close + 1;
    }
    found
}

/// Byte ranges of quoted names that occur more than once (an item and a reference to it).
fn references(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut quoted = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('"').map(|i| rest + i) {
        let Some(close) = text[open + 1..].find('"').map(|i| open + 1 + i) else {
            break;
        };
        let inner = &text[open + 1..close];
        if !inner.is_empty() && inner.chars().all(|c| c.is_alphanumeric() || "-_/.".contains(c)) {
            quoted.push(open + 1..close);
        }
        rest = close + 1;
    }
    quoted
        .iter()
        .filter(|r| {
            quoted
                .iter()
                .filter(|o| text[(*o).clone()] == text[(*r).clone()])
                .count()
                > 1
        })
        .cloned()
        .collect()
}

fn replace(text: &str, range: std::ops::Range<usize>, with: &str) -> String {
    format!("{}{with}{}", &text[..range.start], &text[range.end..])
}

/// Mutant `k` of `text`.
fn mutate(text: &str, draw: &mut Draw, k: usize) -> Mutant {
    let lines: Vec<&str> = text.lines().collect();
    let kind = k % 7;
    let pick_range = |draw: &mut Draw, ranges: Vec<std::ops::Range<usize>>| {
        (!ranges.is_empty()).then(|| ranges[draw.below(ranges.len())].clone())
    };
    match kind {
        0 | 1 => {
            if let Some(range) = pick_range(draw, numbers(text)) {
                let with = draw.pick(NUMBERS);
                return Mutant {
                    what: format!(
                        "number {:?} on line {} -> {with}",
                        &text[range.clone()],
                        line_of(text, range.start)
                    ),
                    line: Some(line_of(text, range.start)),
                    text: replace(text, range, with),
                };
            }
        }
        2 => {
            if let Some(range) = pick_range(draw, units(text)) {
                let with = draw.pick(UNITS);
                return Mutant {
                    what: format!(
                        "unit {:?} on line {} -> {with:?}",
                        &text[range.clone()],
                        line_of(text, range.start)
                    ),
                    line: Some(line_of(text, range.start)),
                    text: replace(text, range, with),
                };
            }
        }
        3 => {
            if let Some(range) = pick_range(draw, references(text)) {
                let with = format!("{}-renamed", &text[range.clone()]);
                return Mutant {
                    what: format!(
                        "name {:?} on line {} renamed",
                        &text[range.clone()],
                        line_of(text, range.start)
                    ),
                    line: Some(line_of(text, range.start)),
                    text: replace(text, range, &with),
                };
            }
        }
        4 => {
            let line = draw.below(lines.len());
            let mut out = lines.clone();
            out.insert(line, lines[line]);
            return Mutant {
                text: out.join("\n"),
                what: format!("line {} duplicated", line + 1),
                line: Some(line + 2),
            };
        }
        5 => {
            let cut = draw.below(text.len());
            let cut = (0..=cut).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            return Mutant {
                text: text[..cut].to_string(),
                what: format!("truncated at byte {cut}"),
                line: None,
            };
        }
        _ => {}
    }
    let line = draw.below(lines.len());
    let mut out = lines.clone();
    out.remove(line);
    Mutant {
        text: out.join("\n"),
        what: format!("line {} deleted", line + 1),
        line: None,
    }
}

/// How a mutant ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// It loaded, resolved and ran.
    Ran,
    /// It was refused, pointing at its place; when the mutation changed one line, whether the
    /// refusal points at that line.
    Located { at_mutation: Option<bool> },
    /// It was refused with no place in a file.
    Unlocated,
    /// The run stopped with a run-time error.
    RunError,
}

fn located_trace_error(error: &TraceError) -> bool {
    let text = error.to_string();
    text.contains(", line ") || matches!(error, TraceError::BadElement { .. })
}

fn run(path: &Path, mutant: &Mutant) -> Outcome {
    let scenario = match load_str(&mutant.text, path) {
        Ok(scenario) => scenario,
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.trim().is_empty(),
                "{}: a refusal with no message",
                mutant.what
            );
            return match &error {
                ScenarioError::Invalid(diagnostics) => {
                    let last = mutant.text.lines().count().max(1) + 1;
                    let items = diagnostics.items();
                    let inside =
                        !items.is_empty() && items.iter().all(|d| (1..=last).contains(&d.location.line));
                    let rendered = items.iter().all(|d| {
                        message.contains(&format!(
                            "{}:{}:{}",
                            path.display(),
                            d.location.line,
                            d.location.col
                        ))
                    });
                    if inside && rendered {
                        let at_mutation = mutant.line.map(|l| items.iter().any(|d| d.location.line == l));
                        Outcome::Located { at_mutation }
                    } else {
                        Outcome::Unlocated
                    }
                }
                _ => Outcome::Unlocated,
            };
        }
    };
    let resolved = match scenario.resolve() {
        Ok(resolved) => resolved,
        Err(error) => {
            assert!(
                !error.to_string().trim().is_empty(),
                "{}: a refusal with no message",
                mutant.what
            );
            return match &error {
                ResolveError::Trace(trace) if located_trace_error(trace) => {
                    Outcome::Located { at_mutation: None }
                }
                _ => Outcome::Unlocated,
            };
        }
    };
    let ran = prepare(&resolved, SEED).and_then(|(mut sim, horizon)| {
        let stop = sim.run(RunLimits::until(horizon).with_event_budget(EVENT_BUDGET))?;
        conclude(&resolved, SEED, sim, stop)
    });
    match ran {
        // Sound up to the budget this test sets to keep every run short.
        Ok(_) | Err(RunError::EventBudget { .. }) => Outcome::Ran,
        Err(error) => {
            assert!(
                !error.to_string().trim().is_empty(),
                "{}: a run error with no message",
                mutant.what
            );
            assert!(
                !matches!(error, RunError::Invariant(_)),
                "{} ({}): {error}",
                path.display(),
                mutant.what
            );
            Outcome::RunError
        }
    }
}

/// The bundled scenario files: not the benchmarks', not studies.
fn scenario_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable folder") {
            let path = entry.expect("a readable folder").path();
            if path.is_dir() {
                if path != root.join("bench") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "ron")
                && !path.to_string_lossy().ends_with(".study.ron")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `text` with its horizon set to `horizon`.
fn with_horizon(text: &str, horizon: &str) -> String {
    let Some(start) = text.find("horizon:") else {
        return text.to_string();
    };
    let open = start + text[start..].find('"').expect("a quoted horizon");
    let close = open + 1 + text[open + 1..].find('"').expect("a quoted horizon");
    replace(text, open + 1..close, horizon)
}

/// The scenario at `path` with the shortest of [`HORIZONS`] with which it runs.
fn short(path: &Path, text: &str) -> String {
    HORIZONS
        .iter()
        .map(|horizon| with_horizon(text, horizon))
        .find(|text| {
            let mutant = Mutant {
                text: text.clone(),
                what: "none".into(),
                line: None,
            };
            run(path, &mutant) == Outcome::Ran
        })
        .unwrap_or_else(|| {
            panic!(
                "{} does not run with any of the horizons {HORIZONS:?}",
                path.display()
            )
        })
}

#[test]
fn mutated_scenarios_are_refused_with_a_location_or_run() {
    let files = scenario_files();
    assert!(files.len() >= 10, "bundled scenarios not found");
    let mut draw = Draw(SEED);
    let (mut ran, mut located, mut unlocated, mut run_errors) = (0, 0, 0, 0);
    let (mut one_line, mut at_mutation) = (0, 0);
    let mut panics = Vec::new();
    let mut unlocated_cases = Vec::new();
    for path in &files {
        let original = std::fs::read_to_string(path).expect("a readable scenario");
        let text = short(path, &original);
        for k in 0..MUTATIONS {
            let mutant = mutate(&text, &mut draw, k);
            match catch_unwind(AssertUnwindSafe(|| run(path, &mutant))) {
                Ok(Outcome::Ran) => ran += 1,
                Ok(Outcome::Located { at_mutation: here }) => {
                    located += 1;
                    one_line += usize::from(here.is_some());
                    at_mutation += usize::from(here == Some(true));
                }
                Ok(Outcome::Unlocated) => {
                    unlocated += 1;
                    unlocated_cases.push(format!("{}: {}", path.display(), mutant.what));
                }
                Ok(Outcome::RunError) => run_errors += 1,
                Err(panic) => panics.push((format!("{}: {}", path.display(), mutant.what), panic)),
            }
        }
    }
    let refused = located + unlocated;
    let share = located as f64 / refused.max(1) as f64;
    let here = at_mutation as f64 / one_line.max(1) as f64;
    println!(
        "{} mutants of {} files: {ran} ran, {run_errors} stopped with a run-time error, {refused} refused, \
         {located} of them located ({:.1}%); of the {one_line} located refusals of a one-line change, \
         {at_mutation} point at that line ({:.1}%)",
        files.len() * MUTATIONS,
        files.len(),
        share * 100.0,
        here * 100.0
    );
    for case in &unlocated_cases {
        println!("  refused without a location: {case}");
    }
    if let Some((what, panic)) = panics.into_iter().next() {
        eprintln!("panicked: {what}");
        resume_unwind(panic);
    }
    assert!(refused > 0, "no mutant was refused");
    assert!(
        here >= AT_MUTATION_FLOOR,
        "{:.1}% of refusals of a one-line change point at that line, below the floor of {:.0}%",
        here * 100.0,
        AT_MUTATION_FLOOR * 100.0
    );
    assert!(
        share >= LOCATED_FLOOR,
        "{:.1}% of refusals located, below the floor of {:.0}%",
        share * 100.0,
        LOCATED_FLOOR * 100.0
    );
}

/// Rows of a bundled trace kept for its mutants: enough for every kind of row, few enough to
/// resolve hundreds of mutants in a second.
const TRACE_ROWS: usize = 300;

/// Mutants per bundled trace.
const TRACE_MUTATIONS: usize = 150;

/// Fields put in place of a field of a trace row.
const FIELDS: &[&str] = &[
    "",
    "-1",
    "NaN",
    "1e300",
    "abc",
    "99999999999999999999",
    "2023-13-45 25:61:00",
    "\"",
    "1.5",
];

/// A trace mutant: the text with one line changed, and that line (1-based).
fn mutate_trace(text: &str, draw: &mut Draw) -> (Vec<u8>, String, usize) {
    let lines: Vec<&str> = text.lines().collect();
    // The header now and then, a row otherwise.
    let at = if draw.below(10) == 0 {
        0
    } else {
        1 + draw.below(lines.len() - 1)
    };
    let fields: Vec<&str> = lines[at].split(',').collect();
    let field = draw.below(fields.len());
    let (changed, what): (Vec<u8>, String) = match draw.below(6) {
        0 | 1 => {
            let with = draw.pick(FIELDS);
            let mut f = fields.clone();
            f[field] = with;
            (f.join(",").into_bytes(), format!("field {field} = {with:?}"))
        }
        2 => {
            let mut f = fields.clone();
            f.remove(field);
            (f.join(",").into_bytes(), format!("field {field} removed"))
        }
        3 => (format!("{},7", lines[at]).into_bytes(), "a field added".into()),
        4 => {
            let cut = draw.below(lines[at].len().max(1));
            (lines[at].as_bytes()[..cut].to_vec(), format!("cut at byte {cut}"))
        }
        _ => {
            let mut bytes = lines[at].as_bytes().to_vec();
            bytes.insert(draw.below(bytes.len() + 1), 0xFF);
            (bytes, "a byte that is not UTF-8".into())
        }
    };
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(if i == at { &changed } else { line.as_bytes() });
        out.push(b'\n');
    }
    (out, what, at + 1)
}

/// Every bundled request trace, cut to [`TRACE_ROWS`] rows, mutated one line at a time and
/// replayed through a scenario: each mutant resolves, or is refused by a message that names the
/// trace's line; the share that names the changed line is printed and must stay above a floor.
#[test]
fn mutated_traces_are_refused_at_their_line_or_replayed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces");
    let traces = [
        root.join("azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
        root.join("azure-llm-2023/AzureLLMInferenceTrace_code.csv"),
        root.join("offline-batch/sharegpt-mean-5000.csv"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("trace.csv");
    let scenario_path = dir.path().join("replay.ron");
    let scenario = r#"#![enable(implicit_some)]
(
    name: "replay", horizon: "1h",
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100", reserved: (count: 8, price: "2 USD/h"))],
    services: [(
        name: "chat",
        model: (memory: "20GB", gpus_per_replica: 1, slots_per_replica: 8),
        service_time: llm(prefill_per_token: "0.2ms", decode_per_token: "20ms"),
        replicas: [(pool: "dc/H100", tier: reserved, count: 8)],
        demand: [(origin: "dc", arrivals: trace(path: "trace.csv"))],
    )],
)"#;
    std::fs::write(&scenario_path, scenario).unwrap();
    let mut draw = Draw(SEED);
    let (mut replayed, mut refused, mut located, mut at_line) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for trace in &traces {
        let full = std::fs::read_to_string(trace).expect("a bundled trace");
        let cut: String = full
            .lines()
            .take(TRACE_ROWS + 1)
            .map(|l| format!("{l}\n"))
            .collect();
        for _ in 0..TRACE_MUTATIONS {
            let (bytes, what, line) = mutate_trace(&cut, &mut draw);
            std::fs::write(&trace_path, &bytes).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                hybridsim::scenario::load(&scenario_path)
                    .expect("the scenario itself is sound")
                    .resolve()
                    .map(|_| ())
            }));
            match outcome {
                Ok(Ok(())) => replayed += 1,
                Ok(Err(error)) => {
                    refused += 1;
                    let message = error.to_string();
                    let names_line = |l: usize| {
                        message.contains(&format!("line {l}:")) || message.contains(&format!("line {l},"))
                    };
                    match &error {
                        ResolveError::Trace(trace) if located_trace_error(trace) => {
                            located += 1;
                            at_line += usize::from(names_line(line));
                        }
                        _ => failures.push(format!("{}: {what}: not located: {message}", trace.display())),
                    }
                }
                Err(panic) => {
                    eprintln!("{} ({what}) panicked", trace.display());
                    resume_unwind(panic);
                }
            }
        }
    }
    let share = |part: usize, whole: usize| part as f64 / whole.max(1) as f64;
    eprintln!(
        "{} trace mutants: {replayed} replayed, {refused} refused, {located} of them located ({:.1}%), {at_line} at the changed line ({:.1}%)",
        replayed + refused,
        100.0 * share(located, refused),
        100.0 * share(at_line, refused),
    );
    assert!(refused > 100, "too few refusals to judge: {refused}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        share(at_line, located) >= AT_MUTATION_FLOOR,
        "only {at_line} of {located} refusals name the changed line"
    );
}
