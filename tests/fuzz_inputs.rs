//! Mutated bundled inputs fed to every reader of user input: the scenario loader, the unit
//! readers, the request trace reader and the spot availability trace reader. The bundled
//! scenarios, traces and a few unit strings are the seeds; each case applies a few mutations
//! (byte flips, truncations, duplicated, deleted and swapped lines, huge and special numbers,
//! unicode, NUL). The property: no panic, and every refusal renders a message.
//!
//! The same entry points are fuzzed for longer by the targets in `fuzz/` (see `fuzz/README.md`);
//! an input that crashes a reader there is added here as a regression case (none so far).

use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use hybridsim::incident::spot::{AvailabilityTrace, AvailabilityTraceSpec, AvailabilityValues};
use hybridsim::kernel::SimDuration;
use hybridsim::scenario::load_str;
use hybridsim::vocab::units::{Bandwidth, DataPrice, DataSize, EnergyPrice, HourlyPrice, Money, Power, Rate};
use hybridsim::workload::trace::{TimeUnit, Trace, TraceFormat, TraceSpec};
use proptest::prelude::*;

/// Cases per entry point: enough to cover every seed many times, and quick in a debug build.
const CASES: u32 = 4096;

/// Text inserted or put in place of a number: huge, negative, special and non-ASCII values.
const ODD_TEXT: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e300",
    "1e-300",
    "NaN",
    "inf",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "4294967296",
    "0.0000000000000000000001",
    ".",
    "..5",
    "\0",
    "é",
    "\u{202e}",
    "\u{feff}",
    "🦀",
    "ß\u{301}",
    "\"",
    "\\",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\n",
    "\r\n",
    "//",
    "/*",
    "#",
];

/// One change to an input; positions are taken modulo the input's length, so every mutation
/// applies to every input.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a mask.
    FlipByte { at: usize, mask: u8 },
    /// Cut the input at a byte.
    Truncate { at: usize },
    /// Repeat a line.
    DuplicateLine { line: usize },
    /// Remove a line.
    DeleteLine { line: usize },
    /// Swap two lines.
    SwapLines { a: usize, b: usize },
    /// Insert odd text at a byte.
    Insert { at: usize, text: &'static str },
    /// Put odd text in place of the `nth` run of digits.
    ReplaceNumber { nth: usize, text: &'static str },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let odd = prop::sample::select(ODD_TEXT);
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::FlipByte { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), odd.clone()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), odd).prop_map(|(nth, text)| Mutation::ReplaceNumber { nth, text }),
    ]
}

/// The lines of `input`, each with its line break.
fn lines(input: &[u8]) -> Vec<Vec<u8>> {
    input
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn apply(input: &mut Vec<u8>, mutation: &Mutation) {
    let len = input.len();
    match *mutation {
        Mutation::FlipByte { at, mask } => {
            if len > 0 {
                input[at % len] ^= mask;
            }
        }
        Mutation::Truncate { at } => input.truncate(at % (len + 1)),
        Mutation::DuplicateLine { line } | Mutation::DeleteLine { line } => {
            let mut all = lines(input);
            if all.is_empty() {
                return;
            }
            let line = line % all.len();
            if matches!(mutation, Mutation::DeleteLine { .. }) {
                all.remove(line);
            } else {
                all.insert(line, all[line].clone());
            }
            *input = all.concat();
        }
        Mutation::SwapLines { a, b } => {
            let mut all = lines(input);
            if !all.is_empty() {
                let n = all.len();
                all.swap(a % n, b % n);
                *input = all.concat();
            }
        }
        Mutation::Insert { at, text } => {
            let at = at % (len + 1);
            input.splice(at..at, text.bytes());
        }
        Mutation::ReplaceNumber { nth, text } => {
            let mut runs = Vec::new();
            let mut i = 0;
            while i < len {
                if input[i].is_ascii_digit() {
                    let start = i;
                    while i < len && (input[i].is_ascii_digit() || input[i] == b'.') {
                        i += 1;
                    }
                    runs.push(start..i);
                } else {
                    i += 1;
                }
            }
            if !runs.is_empty() {
                let run = runs[nth % runs.len()].clone();
                input.splice(run, text.bytes());
            }
        }
    }
}

/// `seed` with `mutations` applied in order.
fn mutated(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut input = seed.to_vec();
    for mutation in mutations {
        apply(&mut input, mutation);
    }
    input
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files under `dir` whose names end with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a readable folder").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every bundled scenario and study file.
fn scenario_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        files(&root().join("scenarios"), ".ron")
            .iter()
            .map(|p| read(p))
            .collect()
    })
}

/// The first 40 lines of every bundled request trace, and a generic CSV trace.
fn request_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds: Vec<Vec<u8>> = files(&root().join("scenarios/traces"), ".csv")
            .iter()
            .map(|path| {
                lines(&read(path))
                    .into_iter()
                    .take(40)
                    .collect::<Vec<_>>()
                    .concat()
            })
            .collect();
        seeds.push(b"t,in,out\n0,10,3\n0.5,20,4\n1.25,5,6\n".to_vec());
        seeds
    })
}

/// The bundled spot availability trace, and a bare list of counts.
fn spot_seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds: Vec<Vec<u8>> = files(&root().join("tests/fixtures"), ".json")
            .iter()
            .map(|p| read(p))
            .collect();
        seeds.push(b"{\"metadata\": {\"gap_seconds\": 600}, \"data\": [0, 1, 1, 0]}".to_vec());
        seeds.push(b"[0, 2, 2, 1, 0, 4]".to_vec());
        seeds
    })
}

const UNIT_SEEDS: &[&str] = &[
    "12ms",
    "1h 30m",
    "2d12h",
    "90s",
    "1.5h",
    "250us",
    "20/s",
    "12/h",
    "0.5/day",
    "80GB",
    "1.5TiB",
    ".5GiB",
    "18446744073709551615B",
    "10Gbps",
    "1.25GB/s",
    "3.20 USD/h",
    "60 USD/day",
    "1000 USD/month",
    "0.08 USD/GB",
    "0.02 USD/GiB",
    "300000 USD",
    "1.2kW",
    "700W",
    "0.15 USD/kWh",
    "120 USD/MWh",
];

/// A seed index and up to `max` mutations.
fn case(seeds: usize, max: usize) -> impl Strategy<Value = (usize, Vec<Mutation>)> {
    (0..seeds, prop::collection::vec(mutation(), 0..=max))
}

fn assert_message(error: &impl Display) {
    assert!(!error.to_string().trim().is_empty(), "a refusal with no message");
}

fn load_scenario(text: &str) {
    if let Err(error) = load_str(text, Path::new("scenarios/mutated.ron")) {
        assert_message(&error);
    }
}

/// Reads `text` as a `T`; what is accepted is written back as text that reads to the same value.
fn read_unit<T>(text: &str)
where
    T: FromStr + Display + Debug + PartialEq,
    T::Err: Display,
{
    match text.parse::<T>() {
        Ok(value) => {
            let written = value.to_string();
            match written.parse::<T>() {
                Ok(again) => assert_eq!(again, value, "{text:?} was written as {written:?}"),
                Err(error) => panic!("{text:?} was written as {written:?}, which reads as: {error}"),
            }
        }
        Err(error) => assert_message(&error),
    }
}

fn read_units(text: &str) {
    read_unit::<SimDuration>(text);
    read_unit::<DataSize>(text);
    read_unit::<Bandwidth>(text);
    read_unit::<Money>(text);
    read_unit::<HourlyPrice>(text);
    read_unit::<DataPrice>(text);
    read_unit::<Rate>(text);
    read_unit::<Power>(text);
    read_unit::<EnergyPrice>(text);
}

/// The request trace options the bits of `options` pick (as the fuzz target does).
fn request_spec(options: u8) -> TraceSpec {
    let mut spec = TraceSpec::azure("mutated.csv");
    if options & 1 != 0 {
        let time_unit =
            [TimeUnit::S, TimeUnit::Ms, TimeUnit::Us, TimeUnit::Ns][usize::from(options >> 1 & 3)];
        spec.format = TraceFormat::Csv {
            time_column: "t".into(),
            time_unit,
            context_column: Some("in".into()),
            generated_column: (options & 8 != 0).then(|| "out".into()),
        };
    }
    spec.time_scale = [1.0, 0.5, 1e-9, 1e12][usize::from(options >> 4 & 3)];
    spec.repeat = options & 64 != 0;
    if options & 128 != 0 {
        spec.start_offset = SimDuration::from_secs(1);
    }
    spec
}

fn read_request_trace(bytes: &[u8], options: u8) {
    match Trace::from_bytes(Path::new("mutated.csv"), bytes, &request_spec(options)) {
        Ok(trace) => {
            let _ = (trace.duration(), trace.mean_gap());
            assert!(
                trace.offsets().windows(2).all(|w| w[0] <= w[1]),
                "offsets out of order"
            );
            for i in 0..trace.len() {
                let _ = trace.tokens(i);
            }
        }
        Err(error) => assert_message(&error),
    }
}

/// The spot trace options the bits of `options` pick (as the fuzz target does).
fn spot_spec(options: u8) -> AvailabilityTraceSpec {
    let mut spec = AvailabilityTraceSpec::new("mutated.json");
    if options & 1 != 0 {
        spec.values = AvailabilityValues::AvailableInstances;
    }
    spec.gpus_per_instance = [1, 8, 0, u32::MAX][usize::from(options >> 1 & 3)];
    spec.gap = [None, Some(SimDuration::from_secs(600))][usize::from(options >> 3 & 1)];
    spec.repeat = options & 16 != 0;
    spec
}

fn read_spot_trace(bytes: &[u8], options: u8) {
    match AvailabilityTrace::from_bytes(Path::new("mutated.json"), bytes, &spot_spec(options)) {
        Ok(trace) => {
            let mut at = SimDuration::ZERO;
            for _ in 0..16 {
                let _ = trace.gpus_at(at);
                match trace.next_change(at) {
                    Some((next, _)) => {
                        assert!(next > at, "a change at {next} is not after {at}");
                        at = next;
                    }
                    None => break,
                }
            }
            let _ = trace.duration();
        }
        Err(error) => assert_message(&error),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scenario_loader_survives_mutated_scenarios((seed, mutations) in case(scenario_seeds().len(), 6)) {
        let input = mutated(&scenario_seeds()[seed], &mutations);
        load_scenario(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn unit_readers_survive_mutated_units((seed, mutations) in case(UNIT_SEEDS.len(), 4)) {
        let input = mutated(UNIT_SEEDS[seed].as_bytes(), &mutations);
        read_units(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn unit_readers_survive_any_text(text in "\\PC{0,24}") {
        read_units(&text);
    }

    #[test]
    fn request_trace_reader_survives_mutated_traces(
        (seed, mutations) in case(request_seeds().len(), 6),
        options in any::<u8>(),
    ) {
        read_request_trace(&mutated(&request_seeds()[seed], &mutations), options);
    }

    #[test]
    fn spot_trace_reader_survives_mutated_traces(
        (seed, mutations) in case(spot_seeds().len(), 6),
        options in any::<u8>(),
    ) {
        read_spot_trace(&mutated(&spot_seeds()[seed], &mutations), options);
    }
}

/// Every seed as it is: the readers accept the bundled inputs (a seed that is refused would
/// make the mutations above test only the refusal).
#[test]
fn bundled_seeds_are_read() {
    for path in files(&root().join("scenarios"), ".ron") {
        if !path.to_string_lossy().ends_with(".study.ron") {
            let text = String::from_utf8(read(&path)).expect("UTF-8 scenario");
            load_str(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    for text in UNIT_SEEDS {
        let readable = [
            text.parse::<SimDuration>().is_ok(),
            text.parse::<DataSize>().is_ok(),
            text.parse::<Bandwidth>().is_ok(),
            text.parse::<Money>().is_ok(),
            text.parse::<HourlyPrice>().is_ok(),
            text.parse::<DataPrice>().is_ok(),
            text.parse::<Rate>().is_ok(),
            text.parse::<Power>().is_ok(),
            text.parse::<EnergyPrice>().is_ok(),
        ];
        assert!(readable.contains(&true), "{text} is not a unit");
    }
    let requests = request_seeds();
    for (i, seed) in requests.iter().enumerate() {
        let options = if i + 1 == requests.len() { 1 | 8 } else { 0 };
        Trace::from_bytes(Path::new("seed.csv"), seed, &request_spec(options))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let spots = spot_seeds();
    for (i, seed) in spots.iter().enumerate() {
        let options = if i + 1 == spots.len() { 1 | 8 } else { 0 };
        AvailabilityTrace::from_bytes(Path::new("seed.json"), seed, &spot_spec(options))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The in-memory readers give the same result as reading the file.
#[test]
fn reading_bytes_is_reading_the_file() {
    let path = root().join("scenarios/traces/offline-batch/sharegpt-mean-5000.csv");
    let spec = TraceSpec::azure("sharegpt-mean-5000.csv");
    assert_eq!(
        Trace::from_bytes(&path, &read(&path), &spec).ok(),
        Trace::load(&path, &spec).ok()
    );
    let path = root().join("tests/fixtures/cant_be_late_1k80_us-east-1c.json");
    let spec = AvailabilityTraceSpec::new("cant_be_late_1k80_us-east-1c.json");
    assert_eq!(
        AvailabilityTrace::from_bytes(&path, &read(&path), &spec).ok(),
        AvailabilityTrace::load(&path, &spec).ok()
    );
    let broken = b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374\n";
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), broken).expect("written");
    assert_eq!(
        Trace::from_bytes(file.path(), broken, &spec_azure()).map_err(|e| e.to_string()),
        Trace::load(file.path(), &spec_azure()).map_err(|e| e.to_string())
    );
}

fn spec_azure() -> TraceSpec {
    TraceSpec::azure("broken.csv")
}
