//! Spot preemption sources: how a pool's spot tier loses capacity ([`SpotPreemptionSpec`]). This
//! module owns what a scenario says about them, the random draws of the rate model and reading
//! availability traces; the engine applies them to the tier and the jobs on it.
//!
//! ```ron
//! spot: (limit: 64, price: "1.1 USD/h", preemption: rate("0.5/day"), reclaimed_for: "2h"),
//! spot: (limit: 64, price: "1.1 USD/h",
//!        preemption: availability(path: "traces/us-east-1a.json", gpus_per_instance: 8)),
//! ```
//!
//! - `rate(…)`: every spot GPU in use is reclaimed independently at this rate, so a gang of `g`
//!   GPUs loses one after an exponential time of rate `g × rate` (drawn by the same thinned
//!   process as GPU failures, [`FailureProcess`](super::FailureProcess), over the tier's limit).
//!   The reclaimed GPU is out of the tier's capacity for `reclaimed_for` (default one hour,
//!   [`DEFAULT_RECLAIMED_FOR`](crate::infra::spec::DEFAULT_RECLAIMED_FOR)), so the preempted job
//!   cannot simply take it back.
//! - `availability(…)`: the tier's capacity follows a spot availability trace
//!   ([`AvailabilityTrace`]), replayed from the start of the run.
//!
//! # The availability trace format
//!
//! The layout of the spot traces of "Can't Be Late: Optimizing Spot Instance Savings under
//! Deadlines" (Wu et al., NSDI '24), as the paper's simulator reads them (`sky_spot/trace.py` and
//! `sky_spot/env.py` in `github.com/Michaelvll/skypilot-spot-strategy`; the data files are
//! written by `json.dump`):
//!
//! ```json
//! {"metadata": {"gap_seconds": 600}, "data": [0, 0, 1, 1, 0]}
//! ```
//!
//! `data` holds one element per step of `metadata.gap_seconds` seconds. In that format **1 marks
//! a step in which the spot instance is preempted (unavailable) and 0 a step in which it is
//! available**: the simulator's `spot_available()` is `not data[tick]`. That is the default here
//! ([`AvailabilityValues::PreemptionFlags`]): a step has one instance, or none. Traces that count
//! the instances available in each step are read with `values: available_instances`. Either way a
//! step's GPUs are its instances × `gpus_per_instance`. Other keys (the synthetic traces'
//! `generator`, a `prices` list) and other metadata fields are ignored. A bare JSON list of steps
//! is read too, with the step length given in the spec (`gap: "10m"`).
//!
//! A file is bounded: at most [`MAX_TRACE_BYTES`] bytes and [`MAX_AVAILABILITY_STEPS`] steps.
//! Errors are [`TraceError`]s naming the file, what is wrong and how to fix it: JSON that cannot
//! be read gives its line and column, a bad element of the list its index.
//! [`AvailabilityTrace::from_bytes`] reads a file's contents already in memory, with the same
//! checks.

use std::io::{BufReader, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::kernel::SimDuration;
use crate::vocab::units::Rate;
#[cfg(doc)]
use crate::workload::trace::MAX_TRACE_BYTES;
use crate::workload::trace::{TraceError, check_length, open_bounded};

/// The most steps an availability trace may hold (memory: 4 bytes a step): 10 million, about 190
/// years of one-minute steps.
pub const MAX_AVAILABILITY_STEPS: usize = 10_000_000;

/// How spot GPUs are taken back, written on a pool's spot tier as `preemption: rate("0.5/day")`
/// or `preemption: availability(path: "traces/us-east-1a.json", gpus_per_instance: 8)`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SpotPreemptionSpec {
    /// Each spot GPU in use is reclaimed at this rate (a Poisson process per GPU; a gang is
    /// reclaimed when any of its GPUs is). A reclaimed GPU leaves the tier's capacity for the
    /// tier's `reclaimed_for` (an hour unless given); for spells of unavailability measured in
    /// a market, use an availability trace.
    Rate(Rate),
    /// Replay a spot availability trace: the tier's capacity follows it.
    Availability(AvailabilityTraceSpec),
}

impl SpotPreemptionSpec {
    /// What is wrong with the spec's parameters, and how to fix it, without reading files (for
    /// scenario checks); `None` when they are usable.
    pub fn problem(&self) -> Option<String> {
        match self {
            SpotPreemptionSpec::Rate(_) => None,
            SpotPreemptionSpec::Availability(spec) => {
                spec_problem(spec).map(|(problem, fix)| format!("{problem}; {fix}"))
            }
        }
    }
}

/// What the scenario file says about a spot availability trace, e.g.
/// `(path: "traces/us-east-1a.json", gpus_per_instance: 8, repeat: true)`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityTraceSpec {
    /// The trace file, relative to the scenario file.
    pub path: String,
    /// GPUs per instance of the traced instance type (e.g. 8 for `p3.16xlarge`); 1 by default.
    #[serde(default = "one_gpu")]
    pub gpus_per_instance: u32,
    /// Loop the trace: after its last step it starts again from its first.
    #[serde(default)]
    pub repeat: bool,
    /// What the elements of the list mean; the Can't Be Late flags (1 = preempted) by default.
    #[serde(default)]
    pub values: AvailabilityValues,
    /// The step length, for a file that does not give `metadata.gap_seconds` (a bare list). If the
    /// file gives it too, the two must agree.
    #[serde(default)]
    pub gap: Option<SimDuration>,
}

fn one_gpu() -> u32 {
    1
}

impl AvailabilityTraceSpec {
    /// A spec for the Can't Be Late trace at `path`, one GPU per instance, replayed once.
    pub fn new(path: impl Into<String>) -> Self {
        AvailabilityTraceSpec {
            path: path.into(),
            gpus_per_instance: 1,
            repeat: false,
            values: AvailabilityValues::PreemptionFlags,
            gap: None,
        }
    }
}

/// What the elements of an availability trace's list mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityValues {
    /// The Can't Be Late convention: 1 = the spot instance is preempted in this step, 0 = it is
    /// available. A step has one instance or none.
    #[default]
    PreemptionFlags,
    /// Each element counts the spot instances available in this step.
    AvailableInstances,
}

/// A [`TraceError::Spec`] for the trace at `path` if its spec is unusable.
fn check_spec(path: &Path, spec: &AvailabilityTraceSpec) -> Result<(), TraceError> {
    match spec_problem(spec) {
        Some((problem, fix)) => Err(TraceError::Spec {
            path: path.to_path_buf(),
            problem,
            fix,
        }),
        None => Ok(()),
    }
}

/// What is wrong with an availability spec, and the fix.
fn spec_problem(spec: &AvailabilityTraceSpec) -> Option<(String, String)> {
    if spec.gpus_per_instance == 0 {
        return Some((
            "gpus_per_instance is 0".into(),
            "give the GPUs of one traced instance, e.g. gpus_per_instance: 8 for an 8-GPU instance".into(),
        ));
    }
    if spec.gap == Some(SimDuration::ZERO) {
        return Some((
            "gap is 0s".into(),
            "give the length of one step of the trace, e.g. gap: \"10m\"".into(),
        ));
    }
    None
}

/// A loaded availability trace: the GPUs available in each step of `gap`, already multiplied by
/// `gpus_per_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityTrace {
    gap: SimDuration,
    gpus: Vec<u32>,
    repeat: bool,
    /// The steps (in `0..len`) whose count differs from the step before in replay order; step 0
    /// is one when the trace repeats and its first step differs from its last.
    changes: Vec<u64>,
}

/// The advice for a file that is not in the expected layout.
const LAYOUT_FIX: &str = "write the file as {\"metadata\": {\"gap_seconds\": 600}, \"data\": [0, 1, …]} \
    (the Can't Be Late layout), or as a bare list [0, 1, …] with gap given in the spec";

impl AvailabilityTrace {
    /// Reads and checks the availability trace at `path` (already resolved against the scenario's
    /// folder; errors name it as given) as `spec` describes.
    pub fn load(path: &Path, spec: &AvailabilityTraceSpec) -> Result<Self, TraceError> {
        Self::load_at_most(path, spec, MAX_AVAILABILITY_STEPS)
    }

    /// Reads and checks an availability trace's contents, `bytes`, as [`AvailabilityTrace::load`]
    /// does the file; `path` names it in messages.
    pub fn from_bytes(path: &Path, bytes: &[u8], spec: &AvailabilityTraceSpec) -> Result<Self, TraceError> {
        check_spec(path, spec)?;
        check_length(path, bytes)?;
        Self::read(path, bytes, spec, MAX_AVAILABILITY_STEPS)
    }

    fn load_at_most(path: &Path, spec: &AvailabilityTraceSpec, max_steps: usize) -> Result<Self, TraceError> {
        check_spec(path, spec)?;
        let file = open_bounded(path)?;
        Self::read(path, file, spec, max_steps)
    }

    /// Reads the trace from `input`, named `path` in messages; the spec has been checked.
    fn read(
        path: &Path,
        input: impl Read,
        spec: &AvailabilityTraceSpec,
        max_steps: usize,
    ) -> Result<Self, TraceError> {
        let spec_error = |(problem, fix): (String, String)| TraceError::Spec {
            path: path.to_path_buf(),
            problem,
            fix,
        };
        let mut fault = None;
        let reader = Reader {
            values: spec.values,
            gpus_per_instance: spec.gpus_per_instance,
            max_steps,
            fault: &mut fault,
        };
        let mut json = serde_json::Deserializer::from_reader(BufReader::new(input));
        let document = reader
            .deserialize(&mut json)
            .and_then(|document| json.end().map(|()| document))
            .map_err(|e| json_error(path, &e, fault.take()))?;
        if !document.data_seen {
            return Err(spec_error((
                "the file has no \"data\" list".into(),
                LAYOUT_FIX.into(),
            )));
        }
        if document.gpus.is_empty() {
            return Err(spec_error((
                "the data list is empty".into(),
                "give one element per step of the trace".into(),
            )));
        }
        let gap = match (&document.gap_seconds, spec.gap) {
            (None, None) => {
                let problem = if document.bare {
                    "a bare list gives no step length"
                } else {
                    "the file gives no metadata.gap_seconds"
                };
                return Err(spec_error((
                    problem.into(),
                    "add \"metadata\": {\"gap_seconds\": 600} to the file, or give the step length in \
                     the spec, e.g. gap: \"10m\""
                        .into(),
                )));
            }
            (None, Some(gap)) => gap,
            (Some(value), spec_gap) => {
                let file_gap = gap_from_json(value).map_err(spec_error)?;
                if spec_gap.is_some_and(|gap| gap != file_gap) {
                    return Err(spec_error((
                        format!(
                            "the spec's gap {} differs from the file's metadata.gap_seconds {value} ({file_gap})",
                            spec_gap.unwrap_or_default()
                        ),
                        "remove gap from the spec (the file's step length is used), or make them agree"
                            .into(),
                    )));
                }
                file_gap
            }
        };
        let steps = document.gpus.len() as u64;
        if steps.checked_mul(gap.as_nanos()).is_none() {
            return Err(spec_error((
                format!(
                    "{steps} steps of {gap} span more than the simulated clock's range (about 584 years)"
                ),
                "check the step length, or cut the file".into(),
            )));
        }
        Ok(Self::from_steps(gap, document.gpus, spec.repeat))
    }

    /// A trace of the given steps; `gap` must be positive and `gpus` not empty.
    fn from_steps(gap: SimDuration, gpus: Vec<u32>, repeat: bool) -> Self {
        let n = gpus.len();
        let wraps = repeat && gpus[0] != gpus[n - 1];
        let changes = (0..n)
            .filter(|&i| if i == 0 { wraps } else { gpus[i] != gpus[i - 1] })
            .map(|i| i as u64)
            .collect();
        AvailabilityTrace {
            gap,
            gpus,
            repeat,
            changes,
        }
    }

    /// The length of one step.
    pub fn gap(&self) -> SimDuration {
        self.gap
    }

    /// The number of steps in the file.
    pub fn steps(&self) -> usize {
        self.gpus.len()
    }

    /// The span of one pass through the trace: steps × gap.
    pub fn duration(&self) -> SimDuration {
        SimDuration::from_nanos(self.gpus.len() as u64 * self.gap.as_nanos())
    }

    /// Whether the trace starts again after its last step.
    pub fn repeats(&self) -> bool {
        self.repeat
    }

    /// Available GPUs (count × gpus_per_instance) during the step that contains `t` (time from
    /// the start of replay); after the end: the last value, or wrapping around when `repeat`.
    pub fn gpus_at(&self, t: SimDuration) -> u32 {
        let n = self.gpus.len() as u64;
        let step = t.as_nanos() / self.gap.as_nanos();
        let index = if step < n {
            step
        } else if self.repeat {
            step % n
        } else {
            n - 1
        };
        self.gpus[index as usize]
    }

    /// The next time after `after` (exclusive) at which the available count changes, and the new
    /// count — so the engine schedules one event per change, not per step. `None` when it never
    /// changes again (or only past the simulated clock's range).
    pub fn next_change(&self, after: SimDuration) -> Option<(SimDuration, u32)> {
        let gap = self.gap.as_nanos();
        let n = self.gpus.len() as u64;
        // A change at step s happens at s × gap, which is after `after` exactly when s > this.
        let current = after.as_nanos() / gap;
        let (cycle, within) = if self.repeat {
            (current / n, current % n)
        } else if current >= n {
            return None;
        } else {
            (0, current)
        };
        let next = self.changes.partition_point(|&s| s <= within);
        let (cycle, step) = match self.changes.get(next) {
            Some(&step) => (cycle, step),
            None if self.repeat => (cycle.checked_add(1)?, *self.changes.first()?),
            None => return None,
        };
        let at = cycle.checked_mul(n)?.checked_add(step)?.checked_mul(gap)?;
        Some((SimDuration::from_nanos(at), self.gpus[step as usize]))
    }
}

/// The step length written as `metadata.gap_seconds`, or what is wrong with it and the fix.
fn gap_from_json(value: &serde_json::Value) -> Result<SimDuration, (String, String)> {
    let fix =
        || "write the step length in seconds as a positive number, e.g. \"gap_seconds\": 600".to_string();
    let bad = |why: &str| (format!("metadata.gap_seconds is {value}, {why}"), fix());
    let serde_json::Value::Number(number) = value else {
        return Err(bad("not a number of seconds"));
    };
    let gap = if let Some(seconds) = number.as_u64() {
        seconds
            .checked_mul(1_000_000_000)
            .map(SimDuration::from_nanos)
            .ok_or_else(|| bad("longer than the simulated clock's range (about 584 years)"))?
    } else {
        let seconds = number.as_f64().unwrap_or(f64::NAN);
        if seconds.is_nan() || seconds <= 0.0 {
            return Err(bad("not a positive number of seconds"));
        }
        SimDuration::from_secs_f64(seconds)
            .map_err(|_| bad("longer than the simulated clock's range (about 584 years)"))?
    };
    if gap.is_zero() {
        return Err(bad("not a positive number of seconds"));
    }
    Ok(gap)
}

/// The [`TraceError`] for a JSON read that failed: at a refused element, or in the JSON itself.
fn json_error(path: &Path, error: &serde_json::Error, fault: Option<Fault>) -> TraceError {
    // serde_json places an error raised while reading the list after the element, sometimes
    // after the next one too: an element is named by its index alone.
    if let Some(Fault { index, problem, fix }) = fault {
        return TraceError::BadElement {
            path: path.to_path_buf(),
            index,
            problem,
            fix,
        };
    }
    let (line, column) = (error.line() as u64, error.column() as u64);
    let message = error.to_string();
    // serde_json appends " at line L column C", which the error gives separately.
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |end| &message[..end]);
    let (problem, fix) = match error.classify() {
        serde_json::error::Category::Io => (
            format!("cannot read the file: {message}"),
            "check that the file is a readable regular file".to_string(),
        ),
        serde_json::error::Category::Eof if line <= 1 && column == 0 => {
            ("the file is empty".to_string(), LAYOUT_FIX.to_string())
        }
        serde_json::error::Category::Eof => (
            format!("column {column}: the file ends inside the JSON value"),
            "check that the file was copied whole: every [ and { must be closed".to_string(),
        ),
        _ => (
            format!("column {column}: not the expected JSON: {message}"),
            LAYOUT_FIX.to_string(),
        ),
    };
    TraceError::Malformed {
        path: path.to_path_buf(),
        line,
        problem,
        fix,
    }
}

/// Why an element of the list was refused. The reader records it and stops the read with a
/// marker error.
#[derive(Debug)]
struct Fault {
    index: u64,
    problem: String,
    fix: String,
}

/// What reading the JSON document found.
#[derive(Debug, Default)]
struct Document {
    /// `metadata.gap_seconds` as written, if the file gives it.
    gap_seconds: Option<serde_json::Value>,
    /// Whether the file is a bare list.
    bare: bool,
    /// Whether the file has a list of steps.
    data_seen: bool,
    /// GPUs available in each step.
    gpus: Vec<u32>,
}

/// Reads the document, turning each element of the list into GPUs as it comes (never holding
/// the whole file as JSON values).
struct Reader<'a> {
    values: AvailabilityValues,
    gpus_per_instance: u32,
    max_steps: usize,
    fault: &'a mut Option<Fault>,
}

impl Reader<'_> {
    /// Reads the elements of a list into `gpus`.
    fn read_list<'de, A: SeqAccess<'de>>(&mut self, mut seq: A, gpus: &mut Vec<u32>) -> Result<(), A::Error> {
        let mut index = 0u64;
        while let Some(value) = seq.next_element::<serde_json::Value>()? {
            if gpus.len() >= self.max_steps {
                let problem = format!(
                    "is one more than the most steps a trace may hold, {}",
                    self.max_steps
                );
                return Err(self.refuse(index, problem, "cut the file to the part the study needs".into()));
            }
            match self.step_gpus(&value) {
                Ok(count) => gpus.push(count),
                Err((problem, fix)) => return Err(self.refuse(index, problem, fix)),
            }
            index += 1;
        }
        Ok(())
    }

    /// The GPUs a step with this element has, or what is wrong with it and the fix.
    fn step_gpus(&self, value: &serde_json::Value) -> Result<u32, (String, String)> {
        let fix = match self.values {
            AvailabilityValues::PreemptionFlags => {
                "write 0 for a step in which the spot instance is available and 1 for one in which it is \
                 preempted"
            }
            AvailabilityValues::AvailableInstances => {
                "write the number of available instances as a whole number such as 0, 1 or 4"
            }
        };
        let mut shown = value.to_string();
        if shown.len() > 40 {
            let end = (0..=37).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
            shown.truncate(end);
            shown.push('…');
        }
        let serde_json::Value::Number(number) = value else {
            return Err((format!("is {shown}, not a number"), fix.into()));
        };
        let Some(n) = number.as_u64() else {
            let why = if number.as_f64().is_some_and(|x| x < 0.0) {
                "a negative number"
            } else {
                "not a whole number"
            };
            return Err((format!("is {shown}, {why}"), fix.into()));
        };
        let instances = match (self.values, n) {
            (AvailabilityValues::PreemptionFlags, 0) => 1,
            (AvailabilityValues::PreemptionFlags, 1) => 0,
            (AvailabilityValues::PreemptionFlags, _) => {
                return Err((
                    format!("is {n}, but values: preemption_flags reads 0 (available) or 1 (preempted)"),
                    "if the file counts the available instances, set values: available_instances in the \
                     spec; otherwise write 0 or 1"
                        .into(),
                ));
            }
            (AvailabilityValues::AvailableInstances, n) => u32::try_from(n).map_err(|_| {
                (
                    format!("is {n}, more than the most instances allowed, {}", u32::MAX),
                    fix.to_string(),
                )
            })?,
        };
        instances.checked_mul(self.gpus_per_instance).ok_or_else(|| {
            (
                format!(
                    "is {n} instances of gpus_per_instance {} GPUs, more than the most GPUs allowed, {}",
                    self.gpus_per_instance,
                    u32::MAX
                ),
                "check the count and gpus_per_instance".into(),
            )
        })
    }

    fn refuse<E: de::Error>(&mut self, index: u64, problem: String, fix: String) -> E {
        *self.fault = Some(Fault { index, problem, fix });
        E::custom("refused element")
    }
}

impl<'de> DeserializeSeed<'de> for Reader<'_> {
    type Value = Document;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Reader<'_> {
    type Value = Document;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object {\"metadata\": {\"gap_seconds\": …}, \"data\": […]} or a list of steps")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<Document, A::Error> {
        let mut document = Document {
            bare: true,
            data_seen: true,
            ..Document::default()
        };
        self.read_list(seq, &mut document.gpus)?;
        Ok(document)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Document, A::Error> {
        let mut document = Document::default();
        let mut metadata_seen = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "metadata" if metadata_seen => return Err(de::Error::duplicate_field("metadata")),
                "metadata" => {
                    let metadata: serde_json::Map<String, serde_json::Value> = map.next_value()?;
                    document.gap_seconds = metadata.get("gap_seconds").cloned();
                    metadata_seen = true;
                }
                "data" if document.data_seen => return Err(de::Error::duplicate_field("data")),
                "data" => {
                    map.next_value_seed(ListSeed {
                        reader: &mut self,
                        gpus: &mut document.gpus,
                    })?;
                    document.data_seen = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(document)
    }
}

/// Reads the `data` list of an object.
struct ListSeed<'r, 'a> {
    reader: &'r mut Reader<'a>,
    gpus: &'r mut Vec<u32>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list with one element per step")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.reader.read_list(seq, self.gpus)
    }
}

#[cfg(test)]
mod tests;
