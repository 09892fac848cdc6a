//! Running a study: all of its runs, or a deterministic shard of them, streamed on every core.
//!
//! Runs go in chunks: a chunk runs in parallel (rayon), and its rows are written to `runs.csv`
//! in run order as soon as the chunk is done, so memory holds one chunk's rows whatever the
//! number of runs, and the file is the same whatever the number of threads. A shard `i/n` runs
//! the runs whose number is `i` modulo `n` and writes `runs.csv` and `shard.json`; `merge`
//! interleaves the shards' rows back into run order and finishes them exactly as a whole sweep
//! does.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::figures::Columns;
use super::files::StudyFiles;
use super::{Study, StudyError, results};
use crate::output::{Notice, OutputDir, OutputError, RunInfo};
use crate::policy::built_in;
use crate::scenario::{Resolved, TraceCache};
use crate::world::{RunError, simulate_with};

/// Runs per chunk and thread: enough to keep every core busy, few enough that a chunk's rows are
/// nothing in memory.
const CHUNK_PER_THREAD: usize = 8;

/// The version of the layout of `shard.json` and of `runs.csv`.
pub const SCHEMA_VERSION: u32 = 1;

/// A share of a study's runs: those whose number is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: u64,
    /// How many shards in all.
    pub count: u64,
}

impl Shard {
    /// Every run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Reads `i/n` (0 ≤ i < n), `slurm` (a Slurm job array's task: `SLURM_ARRAY_TASK_ID` less
    /// `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`) or `k8s/n` (a Kubernetes Indexed
    /// Job's `JOB_COMPLETION_INDEX`, of `n`). `env` reads a variable.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, StudyError> {
        let bad = |why: String| StudyError::Shard(format!("--shard {text}: {why}"));
        let number = |name: &str, value: Option<String>| -> Result<u64, StudyError> {
            let value = value
                .ok_or_else(|| bad(format!("{name} is not set: is this running as a job array task?")))?;
            value
                .trim()
                .parse()
                .map_err(|_| bad(format!("{name} is \"{value}\", not a whole number")))
        };
        let (index, count) = if text == "slurm" {
            let id = number("SLURM_ARRAY_TASK_ID", env("SLURM_ARRAY_TASK_ID"))?;
            let min =
                env("SLURM_ARRAY_TASK_MIN").map_or(Ok(0), |v| number("SLURM_ARRAY_TASK_MIN", Some(v)))?;
            let count = number("SLURM_ARRAY_TASK_COUNT", env("SLURM_ARRAY_TASK_COUNT"))?;
            (
                id.checked_sub(min)
                    .ok_or_else(|| bad("the task id is below the array's first".into()))?,
                count,
            )
        } else if let Some(count) = text.strip_prefix("k8s/") {
            let count = number("the shard count", Some(count.to_string()))?;
            (
                number("JOB_COMPLETION_INDEX", env("JOB_COMPLETION_INDEX"))?,
                count,
            )
        } else {
            let (i, n) = text
                .split_once('/')
                .ok_or_else(|| bad("write `i/n` with 0 ≤ i < n, `slurm` or `k8s/n`".into()))?;
            (
                number("the shard index", Some(i.to_string()))?,
                number("the shard count", Some(n.to_string()))?,
            )
        };
        if count == 0 || index >= count {
            return Err(bad(format!(
                "shard {index} of {count} does not exist: shards run from 0 to count − 1"
            )));
        }
        Ok(Shard { index, count })
    }

    /// The run numbers of this shard, of `total`.
    pub fn runs(self, total: u64) -> impl Iterator<Item = u64> {
        (self.index..total).step_by(self.count as usize)
    }
}

/// How to run a study.
pub struct SweepOptions<'a> {
    /// The share of the runs.
    pub shard: Shard,
    /// Keep the full folder of runs numbered below this, under `runs/<number>/`.
    pub keep_runs: u64,
    /// Stop at the first invalid point instead of recording it and going on.
    pub stop_on_invalid: bool,
    /// Hears (runs done, runs of this shard) after each chunk.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
    /// Writes the kept runs' folders and the study's charts and page.
    pub files: &'a dyn StudyFiles,
    /// Hears of a wait for another writer of the output folder and of leftovers tidied up
    /// ([`OutputDir::create`]).
    pub notify: &'a (dyn Fn(&Notice) + Sync),
}

/// What a shard folder says about itself: `shard.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardManifest {
    /// The layout's version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The version of hybridsim that wrote it.
    pub hybridsim_version: String,
    /// The study's name.
    pub study: String,
    /// A hash of the study's and its base scenario's text and of hybridsim's version: shards
    /// of one study and version have the same.
    pub fingerprint: String,
    /// Which shard.
    pub shard: Shard,
    /// Runs in this shard.
    pub runs: u64,
    /// The study file's path and text, and its base scenario's, so a merge needs nothing else.
    pub study_path: String,
    /// The study file's text.
    pub study_text: String,
    /// The base scenario's path.
    pub scenario_path: String,
    /// The base scenario's text.
    pub scenario_text: String,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepReport {
    /// The folder written.
    pub folder: PathBuf,
    /// Runs made.
    pub runs: u64,
    /// Runs whose point made the scenario invalid.
    pub invalid: u64,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// The break-even answers, one sentence each (none for a shard, which computes none).
    pub break_even: Vec<String>,
    /// Trace files read: each distinct trace once, however many points and runs use it (unless
    /// more distinct traces are in use at once than the cache keeps).
    pub trace_reads: u64,
}

/// The identity of a study's text and version, as hex.
pub fn fingerprint(study: &Study) -> String {
    use std::hash::Hasher;
    let mut hasher = siphasher::sip::SipHasher13::new_with_keys(0, 0);
    for part in [
        study.text.as_str(),
        "\0",
        study.base_text.as_str(),
        "\0",
        env!("CARGO_PKG_VERSION"),
    ] {
        hasher.write(part.as_bytes());
    }
    format!("{:016x}", hasher.finish())
}

/// The header of `runs.csv`.
pub fn runs_header(study: &Study) -> Vec<String> {
    let mut header = vec!["run".to_string(), "point".to_string()];
    header.extend(study.parameters.iter().map(|p| p.name.clone()));
    header.extend(["variant", "policy", "seed", "status", "error"].map(String::from));
    header.extend(Columns::of(&study.base.spec).names());
    header
}

/// Runs `study` (or `options.shard` of it) into `target`, replaced atomically.
pub fn sweep(study: &Study, target: &Path, options: &SweepOptions) -> Result<SweepReport, StudyError> {
    let started = Instant::now();
    let out = OutputDir::create(target, options.notify)?;
    let columns = Columns::of(&study.base.spec);
    let runs_path = out.staged(results::RUNS_CSV);
    let mut writer = csv::Writer::from_writer(BufWriter::new(out.create_file(results::RUNS_CSV)?));
    let csv_error = |e: csv::Error| OutputError::Io {
        path: runs_path.clone(),
        source: std::io::Error::other(e),
    };
    writer.write_record(runs_header(study)).map_err(csv_error)?;
    let total = study.runs();
    let mine: Vec<u64> = options.shard.runs(total).collect();
    let chunk = rayon::current_num_threads().max(1) * CHUNK_PER_THREAD;
    let (mut done, mut invalid) = (0u64, 0u64);
    let mut cache = TraceCache::default();
    let mut points: BTreeMap<u64, Result<Resolved, String>> = BTreeMap::new();
    for runs in mine.chunks(chunk) {
        // Each point of the chunk is resolved once, here, and shared by its runs.
        let wanted: std::collections::BTreeSet<u64> = runs.iter().map(|&run| study.key(run).point).collect();
        points.retain(|point, _| wanted.contains(point));
        for &point in &wanted {
            points
                .entry(point)
                .or_insert_with(|| resolve_point(study, point, &mut cache));
        }
        let rows: Vec<Result<Row, StudyError>> = runs
            .par_iter()
            .map(|&run| run_one(study, &points, &columns, run, &out, options))
            .collect();
        for row in rows {
            let row = row?;
            if row.invalid {
                if options.stop_on_invalid {
                    return Err(StudyError::InvalidPoint {
                        point: study.point_label(study.key(row.run).point),
                        message: row.cells[row_error_cell(study)].clone(),
                    });
                }
                invalid += 1;
            }
            writer.write_record(&row.cells).map_err(csv_error)?;
        }
        done += runs.len() as u64;
        (options.progress)(done, mine.len() as u64);
    }
    writer.flush().map_err(|e| OutputError::Io {
        path: runs_path.clone(),
        source: e,
    })?;
    drop(writer);
    let mut break_even = Vec::new();
    if options.shard == Shard::WHOLE {
        let results = results::finish(study, &out, options.files)?;
        break_even = results
            .summary
            .break_even
            .iter()
            .flat_map(|b| b.crossings.iter().map(|c| c.statement.clone()))
            .collect();
    } else {
        let manifest = ShardManifest {
            schema_version: SCHEMA_VERSION,
            hybridsim_version: env!("CARGO_PKG_VERSION").to_string(),
            study: study.spec.name.clone(),
            fingerprint: fingerprint(study),
            shard: options.shard,
            runs: mine.len() as u64,
            study_path: study.path.display().to_string(),
            study_text: study.text.clone(),
            scenario_path: study.base.path.display().to_string(),
            scenario_text: study.base_text.clone(),
        };
        out.write_json(SHARD_JSON, &manifest)?;
    }
    let folder = out.commit()?;
    Ok(SweepReport {
        folder,
        runs: mine.len() as u64,
        invalid,
        wall_s: started.elapsed().as_secs_f64(),
        break_even,
        trace_reads: cache.reads(),
    })
}

/// The scenario at `point`, resolved through `cache`; or why the point is invalid.
fn resolve_point(study: &Study, point: u64, cache: &mut TraceCache) -> Result<Resolved, String> {
    match study.scenario_at(point) {
        Ok(scenario) => Resolved::with_cache(&scenario, cache).map_err(|error| error.to_string()),
        Err(StudyError::InvalidPoint { message, .. }) => Err(message),
        Err(other) => Err(other.to_string()),
    }
}

/// The file that marks a shard's folder.
pub const SHARD_JSON: &str = "shard.json";

/// One row of `runs.csv`.
struct Row {
    run: u64,
    invalid: bool,
    cells: Vec<String>,
}

fn row_error_cell(study: &Study) -> usize {
    2 + study.parameters.len() + 4
}

/// Runs one run of the study and makes its row.
fn run_one(
    study: &Study,
    points: &BTreeMap<u64, Result<Resolved, String>>,
    columns: &Columns,
    run: u64,
    out: &OutputDir,
    options: &SweepOptions,
) -> Result<Row, StudyError> {
    let key = study.key(run);
    let (levels, variant) = study.point_parts(key.point);
    let policy = &study.policies[key.policy];
    let mut cells = vec![run.to_string(), key.point.to_string()];
    cells.extend(
        study
            .parameters
            .iter()
            .zip(&levels)
            .map(|(p, &l)| p.levels[l].label.clone()),
    );
    cells.extend([variant.name.clone(), policy.clone(), key.seed.to_string()]);
    let invalid = |message: String| StudyError::InvalidPoint {
        point: study.point_label(key.point),
        message,
    };
    let resolved = match points.get(&key.point) {
        Some(Ok(resolved)) => Ok(resolved),
        Some(Err(message)) => Err(invalid(message.clone())),
        None => Err(invalid("the point was not resolved".into())),
    };
    let outcome =
        resolved.and_then(|scenario| {
            let names = scenario.names();
            let chosen = built_in(policy, &scenario.spec().policies, &names.sites, &names.services)
                .ok_or_else(|| StudyError::Run {
                    run,
                    message: format!("policy {policy} is not built in"),
                })?;
            let started = Instant::now();
            match simulate_with(scenario, key.seed, chosen) {
                Ok(outcome) => Ok((scenario, outcome, started.elapsed().as_secs_f64())),
                Err(error) if error.is_input_error() => Err(StudyError::InvalidPoint {
                    point: study.point_label(key.point),
                    message: error.to_string(),
                }),
                Err(error) => Err(run_failed(run, &error)),
            }
        });
    let mut row = match outcome {
        Ok((scenario, outcome, wall)) => {
            cells.extend(["ok".to_string(), String::new()]);
            cells.extend(
                columns
                    .row(&outcome)
                    .into_iter()
                    .map(|v| v.map_or(String::new(), |x| x.to_string())),
            );
            if run < options.keep_runs {
                let folder = format!("runs/{run}/");
                out.create_folder(&folder)?;
                let info = RunInfo {
                    hybridsim_version: env!("CARGO_PKG_VERSION"),
                    scenario_path: study.base.path.display().to_string(),
                    wall_clock_s: wall,
                    events_per_wall_second: outcome.summary.kernel.events_processed as f64 / wall.max(1e-9),
                };
                options
                    .files
                    .run_files(out, &folder, scenario.scenario(), &outcome, &info)?;
            }
            Ok(Row {
                run,
                invalid: false,
                cells,
            })
        }
        Err(StudyError::InvalidPoint { message, .. }) => {
            cells.extend(["invalid".to_string(), message]);
            cells.extend(std::iter::repeat_n(String::new(), columns.len()));
            Ok(Row {
                run,
                invalid: true,
                cells,
            })
        }
        Err(other) => Err(other),
    }?;
    // One line per row, so that shards merge line by line.
    for cell in &mut row.cells {
        if cell.contains(['\n', '\r']) {
            *cell = cell
                .split(['\n', '\r'])
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" | ");
        }
    }
    Ok(row)
}

fn run_failed(run: u64, error: &RunError) -> StudyError {
    StudyError::Run {
        run,
        message: error.to_string(),
    }
}

/// Merges shard folders into `target`: exactly the files a whole sweep of the study writes.
/// Shards of another study or version, a shard given twice and a missing shard are refused
/// before anything is written. `notify` is as for [`OutputDir::create`].
pub fn merge(
    folders: &[PathBuf],
    target: &Path,
    files: &dyn StudyFiles,
    notify: &dyn Fn(&Notice),
) -> Result<PathBuf, StudyError> {
    let refuse = |why: String| Err(StudyError::Merge(why));
    if folders.is_empty() {
        return refuse("no shard folders given".into());
    }
    let mut manifests: Vec<(PathBuf, ShardManifest)> = Vec::new();
    for folder in folders {
        let path = folder.join(SHARD_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            StudyError::Merge(format!(
                "{} is not a shard folder: cannot read {SHARD_JSON}: {e}",
                folder.display()
            ))
        })?;
        let manifest: ShardManifest =
            serde_json::from_str(&text).map_err(|e| StudyError::Merge(format!("{}: {e}", path.display())))?;
        if manifest.schema_version != SCHEMA_VERSION {
            return refuse(format!(
                "{} was written in layout version {}; this hybridsim reads version {SCHEMA_VERSION}",
                folder.display(),
                manifest.schema_version
            ));
        }
        manifests.push((folder.clone(), manifest));
    }
    let (first_folder, first) = &manifests[0];
    let mut by_index: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for (folder, m) in &manifests {
        if m.fingerprint != first.fingerprint || m.shard.count != first.shard.count {
            return refuse(format!(
                "{} is a shard of another study or version (study \"{}\", fingerprint {}, {} shards) than {} (study \"{}\", fingerprint {}, {} shards)",
                folder.display(),
                m.study,
                m.fingerprint,
                m.shard.count,
                first_folder.display(),
                first.study,
                first.fingerprint,
                first.shard.count
            ));
        }
        if let Some(other) = by_index.insert(m.shard.index, folder) {
            return refuse(format!(
                "shard {} of {} is given twice: {} and {}",
                m.shard.index,
                m.shard.count,
                other.display(),
                folder.display()
            ));
        }
    }
    let missing: Vec<String> = (0..first.shard.count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return refuse(format!(
            "shards {} of {} are missing",
            missing.join(", "),
            first.shard.count
        ));
    }
    let study = super::load_texts(
        &first.study_text,
        Path::new(&first.study_path),
        &first.scenario_text,
        Path::new(&first.scenario_path),
    )?;
    let out = OutputDir::create(target, notify)?;
    let ordered: Vec<&PathBuf> = by_index.values().copied().collect();
    interleave(&study, &ordered, &out)?;
    for folder in &ordered {
        copy_kept_runs(folder, &out)?;
    }
    results::finish(&study, &out, files)?;
    Ok(out.commit()?)
}

/// Writes the shards' rows into `runs.csv` in run order: shard `i` holds runs `i`, `i + n`, …,
/// so row `k` of the merged file is the next row of shard `k mod n`.
fn interleave(study: &Study, shards: &[&PathBuf], out: &OutputDir) -> Result<(), StudyError> {
    let merge_error = |why: String| StudyError::Merge(why);
    let header = runs_header(study);
    let mut readers = Vec::new();
    for folder in shards {
        let path = folder.join(results::RUNS_CSV);
        let file = std::fs::File::open(&path)
            .map_err(|e| merge_error(format!("cannot read {}: {e}", path.display())))?;
        let mut lines = BufReader::new(file).lines();
        let first = lines
            .next()
            .transpose()
            .map_err(|e| merge_error(format!("{}: {e}", path.display())))?;
        let expected = csv_line(&header);
        if first.as_deref() != Some(expected.trim_end()) {
            return Err(merge_error(format!(
                "{} does not start with the study's header",
                path.display()
            )));
        }
        readers.push((path, lines));
    }
    let target = out.staged(results::RUNS_CSV);
    let io = |e: std::io::Error| OutputError::Io {
        path: target.clone(),
        source: e,
    };
    let mut writer = BufWriter::new(out.create_file(results::RUNS_CSV)?);
    writer.write_all(csv_line(&header).as_bytes()).map_err(io)?;
    let count = shards.len() as u64;
    for run in 0..study.runs() {
        let (path, lines) = &mut readers[(run % count) as usize];
        let line = lines
            .next()
            .transpose()
            .map_err(|e| merge_error(format!("{}: {e}", path.display())))?
            .ok_or_else(|| {
                merge_error(format!(
                    "{} ends before run {run}: the shard did not finish",
                    path.display()
                ))
            })?;
        let number = line.split(',').next().unwrap_or_default();
        if number != run.to_string() {
            return Err(merge_error(format!(
                "{}: expected run {run}, found \"{number}\"",
                path.display()
            )));
        }
        writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.write_all(b"\n"))
            .map_err(io)?;
    }
    for (path, lines) in &mut readers {
        if lines.next().is_some() {
            return Err(merge_error(format!(
                "{} has more rows than its share of the study",
                path.display()
            )));
        }
    }
    writer.flush().map_err(io)?;
    Ok(())
}

/// A header as the csv writer writes it.
fn csv_line(cells: &[String]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(cells);
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn copy_kept_runs(folder: &Path, out: &OutputDir) -> Result<(), StudyError> {
    let runs = folder.join("runs");
    let Ok(entries) = std::fs::read_dir(&runs) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        out.create_folder(&format!("runs/{name}"))?;
        for file in std::fs::read_dir(entry.path()).into_iter().flatten().flatten() {
            let bytes = std::fs::read(file.path()).map_err(|e| OutputError::Io {
                path: file.path(),
                source: e,
            })?;
            out.write_bytes(
                &format!("runs/{name}/{}", file.file_name().to_string_lossy()),
                &bytes,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn shards_are_read_from_the_flag_slurm_and_kubernetes() {
        let none = env(&[]);
        assert_eq!(Shard::parse("2/4", &none).unwrap(), Shard { index: 2, count: 4 });
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::parse("slurm", &slurm).unwrap(),
            Shard { index: 1, count: 4 }
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(Shard::parse("k8s/8", &k8s).unwrap(), Shard { index: 3, count: 8 });
        for bad in ["4/4", "1/0", "x/2", "3", "slurm", "k8s/2"] {
            assert!(Shard::parse(bad, &none).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_cover_every_run_once() {
        let mut seen: Vec<u64> = (0..5)
            .flat_map(|i| Shard { index: i, count: 5 }.runs(23))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
    }
}
