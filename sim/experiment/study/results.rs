//! From a study's `runs.csv` to its results: `points.csv` (per point and policy, each metric's
//! n, mean, 95% Student-t half-width, min and max), the break-even answers, `study.json`, the
//! Parquet copies of both tables, the study's charts and its `report.html`.
//!
//! Everything is computed by reading `runs.csv` back as a stream, so a whole sweep and a merge
//! of shards — which both end with the same `runs.csv` — write the same bytes, and memory holds
//! one point's figures (plus, for charts and break-even, a few numbers per point).

use std::collections::BTreeMap;
use std::io::BufWriter;

use serde::Serialize;

use super::files::StudyFiles;
use super::{Study, StudyError};
use crate::metrics::stats::RunningStats;
use crate::output::{OutputDir, OutputError};

/// A row per run.
pub const RUNS_CSV: &str = "runs.csv";
/// A row per point, policy and metric.
pub const POINTS_CSV: &str = "points.csv";
/// What the study was and what it found.
pub const STUDY_JSON: &str = "study.json";

/// The confidence level of intervals.
pub const CONFIDENCE: f64 = 0.95;

/// The version of the layout of `study.json` and `points.csv`.
pub const SCHEMA_VERSION: u32 = 1;

/// A metric's statistics over the seeds of one point and policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    /// Runs in which it was measured.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// Half-width of the Student-t interval of the mean (`None` with fewer than two).
    pub half_width: Option<f64>,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

#[derive(Debug, Clone, Default)]
struct Accumulator {
    stats: RunningStats,
    min: f64,
    max: f64,
}

impl Accumulator {
    fn push(&mut self, x: f64) {
        if self.stats.count() == 0 {
            (self.min, self.max) = (x, x);
        }
        self.stats.push(x);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    fn stat(&self) -> Option<Stat> {
        let mean = self.stats.mean()?;
        Some(Stat {
            n: self.stats.count(),
            mean,
            half_width: self.stats.confidence_interval(CONFIDENCE).map(|(_, h)| h),
            min: self.min,
            max: self.max,
        })
    }
}

/// One line of a chart or break-even curve: a metric's mean (with its interval) at each level of
/// the parameter along which it is drawn, for one variant and policy and one set of the other
/// parameters' levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// What the line is: `own · lowest_latency`, with the other parameters' values.
    pub label: String,
    /// (x, statistic) in parameter order.
    pub points: Vec<(f64, Stat)>,
}

/// A break-even answer for one group (the other parameters' levels, and the policy or variant
/// both sides share).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crossing {
    /// What the two sides share: `policy=lowest_latency`, `other=3`.
    pub group: String,
    /// Where the mean difference (first − second) changes sign, by linear interpolation between
    /// the two levels around it; `None`: it does not change sign in range.
    pub at: Option<f64>,
    /// Where the difference's 95% band crosses zero: the crossing lies in here. An end is
    /// `None` when the band does not cross in range on that side.
    pub interval: (Option<f64>, Option<f64>),
    /// The first side's `express_in` metric at the crossing, and the second's.
    pub expressed: Option<(f64, f64)>,
    /// The sentence for the report.
    pub statement: String,
    /// The paired differences (first − second) along the parameter.
    pub differences: Vec<(f64, Stat)>,
}

/// What `study.json` says.
#[derive(Debug, Clone, Serialize)]
pub struct StudySummary {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The study's name.
    pub name: String,
    /// What it asks.
    pub description: String,
    /// The base scenario's name.
    pub scenario: String,
    /// Parameters: name, address, values.
    pub parameters: Vec<ParameterSummary>,
    /// Variant names.
    pub variants: Vec<String>,
    /// Policies.
    pub policies: Vec<String>,
    /// Seeds of every point.
    pub seeds: Vec<u64>,
    /// Runs made.
    pub runs: u64,
    /// Runs at an invalid point.
    pub invalid_runs: u64,
    /// Each invalid point, once: its label and the scenario's diagnostic.
    pub invalid_points: Vec<(String, String)>,
    /// Break-even answers.
    pub break_even: Vec<BreakEvenSummary>,
}

/// A parameter in `study.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ParameterSummary {
    /// Name.
    pub name: String,
    /// Address in the scenario.
    pub path: String,
    /// Values, as written.
    pub values: Vec<String>,
}

/// A break-even question and its answers.
#[derive(Debug, Clone, Serialize)]
pub struct BreakEvenSummary {
    /// The metric.
    pub metric: String,
    /// The two sides.
    pub between: (String, String),
    /// The parameter.
    pub along: String,
    /// The metric the answer is also stated in.
    pub express_in: Option<String>,
    /// One answer per group.
    pub crossings: Vec<Crossing>,
}

/// Everything computed from `runs.csv`, for the files, charts and page.
#[derive(Debug, Clone)]
pub struct StudyResults {
    /// `study.json`.
    pub summary: StudySummary,
    /// Chart metric → along → curves.
    pub charts: Vec<(String, String, Vec<Curve>)>,
}

/// One level of a break-even curve: x (as bits, so levels sort and compare exactly), the paired
/// difference's statistics, and the two sides' mean `express_in` figures.
type Paired = (u64, Stat, Option<(f64, f64)>);

/// Break-even curves by group.
type Groups = BTreeMap<String, Vec<Paired>>;

/// A side of a break-even question: (variant, policy).
type Side = (usize, usize);

/// One parsed row of `runs.csv`.
struct RunRow {
    point: u64,
    policy: usize,
    seed_index: usize,
    invalid: Option<String>,
    values: Vec<Option<f64>>,
}

/// Writes every result file from `runs.csv` in `out`.
pub fn finish(study: &Study, out: &OutputDir, files: &dyn StudyFiles) -> Result<StudyResults, StudyError> {
    let results = compute(study, out)?;
    out.write_json(STUDY_JSON, &results.summary)?;
    crate::output::parquet::csv_to_parquet(
        &out.staged(RUNS_CSV),
        &out.staged("runs.parquet"),
        &runs_types(study),
    )?;
    crate::output::parquet::csv_to_parquet(
        &out.staged(POINTS_CSV),
        &out.staged("points.parquet"),
        &points_types(study),
    )?;
    files.study_files(out, study, &results)?;
    Ok(results)
}

fn runs_types(study: &Study) -> Vec<crate::output::parquet::ColumnType> {
    use crate::output::parquet::ColumnType::{Float, Integer, Text};
    let mut types = vec![Integer, Integer];
    types.extend(study.parameters.iter().map(|_| Text));
    types.extend([Text, Text, Integer, Text, Text]);
    types.extend(
        super::figures::Columns::of(&study.base.spec)
            .names()
            .iter()
            .map(|_| Float),
    );
    types
}

fn points_types(study: &Study) -> Vec<crate::output::parquet::ColumnType> {
    use crate::output::parquet::ColumnType::{Float, Integer, Text};
    let mut types = vec![Integer];
    types.extend(study.parameters.iter().map(|_| Text));
    types.extend([Text, Text, Text, Integer, Float, Float, Float, Float]);
    types
}

/// Reads `runs.csv` back and computes the per-point statistics (written to `points.csv` as it
/// goes), the charts' curves and the break-even answers.
fn compute(study: &Study, out: &OutputDir) -> Result<StudyResults, StudyError> {
    let metrics = super::figures::Columns::of(&study.base.spec).names();
    let runs_path = out.staged(RUNS_CSV);
    let read_error = |e: csv::Error| OutputError::Io {
        path: runs_path.clone(),
        source: std::io::Error::other(e),
    };
    let mut reader = csv::Reader::from_path(&runs_path).map_err(read_error)?;
    let points_path = out.staged(POINTS_CSV);
    let write_error = |e: csv::Error| OutputError::Io {
        path: points_path.clone(),
        source: std::io::Error::other(e),
    };
    let mut points = csv::Writer::from_writer(BufWriter::new(out.create_file(POINTS_CSV)?));
    let mut header = vec!["point".to_string()];
    header.extend(study.parameters.iter().map(|p| p.name.clone()));
    header.extend(
        [
            "variant",
            "policy",
            "metric",
            "n",
            "mean",
            "ci95_half_width",
            "min",
            "max",
        ]
        .map(String::from),
    );
    points.write_record(&header).map_err(write_error)?;

    // Metrics that charts and break-even need per point: their index, and the means kept.
    let mut wanted: Vec<usize> = Vec::new();
    let index_of = |m: &str| metrics.iter().position(|x| x == m);
    for m in study.spec.charts.iter().map(|c| c.metric.as_str()).chain(
        study
            .spec
            .break_even
            .iter()
            .flat_map(|b| std::iter::once(b.metric.as_str()).chain(b.express_in.as_deref())),
    ) {
        if let Some(i) = index_of(m)
            && !wanted.contains(&i)
        {
            wanted.push(i);
        }
    }
    // (point, policy) → metric index → stat, for wanted metrics.
    let mut kept: BTreeMap<(u64, usize), BTreeMap<usize, Stat>> = BTreeMap::new();
    // (point, policy, seed index) → wanted metric values, for the current combination only.
    let mut block: BTreeMap<(u64, usize, usize), Vec<Option<f64>>> = BTreeMap::new();
    let mut block_combination: Option<u64> = None;
    let mut pair_metrics: Vec<usize> = Vec::new();
    for b in &study.spec.break_even {
        for m in std::iter::once(&b.metric).chain(&b.express_in) {
            if let Some(i) = index_of(m).filter(|i| !pair_metrics.contains(i)) {
                pair_metrics.push(i);
            }
        }
    }
    let mut pairs: Vec<Groups> = vec![BTreeMap::new(); study.spec.break_even.len()];

    let variants = study.variants.len() as u64;
    let mut current: Option<(u64, usize)> = None;
    let mut accumulators: Vec<Accumulator> = vec![Accumulator::default(); metrics.len()];
    let (mut runs, mut invalid_runs) = (0u64, 0u64);
    let mut invalid_points: Vec<(String, String)> = Vec::new();
    let mut record = csv::StringRecord::new();
    // One pass more than there are rows: the last point and combination end with the file.
    loop {
        let row = if reader.read_record(&mut record).map_err(read_error)? {
            Some(parse_row(study, &record, metrics.len()).ok_or_else(|| {
                StudyError::Merge(format!(
                    "{}: a row that is not the study's: {record:?}",
                    runs_path.display()
                ))
            })?)
        } else {
            None
        };
        let key = row.as_ref().map(|r| (r.point, r.policy));
        if let Some(done) = current.filter(|&done| Some(done) != key) {
            flush_point(
                study,
                &metrics,
                done,
                &mut accumulators,
                &wanted,
                &mut kept,
                &mut points,
            )
            .map_err(write_error)?;
        }
        current = key;
        let combination = row.as_ref().map(|r| r.point / variants);
        if let Some(done) = block_combination.filter(|&done| Some(done) != combination) {
            pair_block(study, &pair_metrics, &metrics, done, &block, &mut pairs);
            block.clear();
        }
        block_combination = combination;
        let Some(row) = row else { break };
        runs += 1;
        if let Some(message) = &row.invalid {
            invalid_runs += 1;
            let label = study.point_label(row.point);
            if invalid_points.last().is_none_or(|(l, _)| *l != label) {
                invalid_points.push((label, message.clone()));
            }
        }
        for (acc, value) in accumulators.iter_mut().zip(&row.values) {
            if let Some(x) = value {
                acc.push(*x);
            }
        }
        if !pair_metrics.is_empty() {
            // Only the figures break-even pairs need, so memory holds a few numbers per run of
            // one combination, not every figure.
            let needed = pair_metrics.iter().map(|&i| row.values[i]).collect();
            block.insert((row.point, row.policy, row.seed_index), needed);
        }
    }
    points.flush().map_err(|e| OutputError::Io {
        path: points_path.clone(),
        source: e,
    })?;
    if runs != study.runs() {
        return Err(StudyError::Merge(format!(
            "{} has {runs} runs; the study has {}",
            runs_path.display(),
            study.runs()
        )));
    }
    let mut asked: Vec<(String, String)> = study
        .spec
        .charts
        .iter()
        .map(|c| (c.metric.clone(), c.along.clone()))
        .collect();
    for b in &study.spec.break_even {
        if !asked.contains(&(b.metric.clone(), b.along.clone())) {
            asked.push((b.metric.clone(), b.along.clone()));
        }
    }
    let charts = asked
        .into_iter()
        .map(|(metric, along)| {
            let index = index_of(&metric).unwrap_or(0);
            let lines = curves(study, index, &along, &kept);
            (metric, along, lines)
        })
        .collect();
    let break_even = study
        .spec
        .break_even
        .iter()
        .zip(pairs)
        .map(|(spec, groups)| BreakEvenSummary {
            metric: spec.metric.clone(),
            between: spec.between.clone(),
            along: spec.along.clone(),
            express_in: spec.express_in.clone(),
            crossings: groups
                .into_iter()
                .map(|(group, series)| crossing(study, spec, group, series))
                .collect(),
        })
        .collect();
    let summary = StudySummary {
        schema_version: SCHEMA_VERSION,
        name: study.spec.name.clone(),
        description: study.spec.description.clone(),
        scenario: study.base.spec.name.clone(),
        parameters: study
            .parameters
            .iter()
            .map(|p| ParameterSummary {
                name: p.name.clone(),
                path: p.address.text.clone(),
                values: p.levels.iter().map(|l| l.label.clone()).collect(),
            })
            .collect(),
        variants: study
            .variants
            .iter()
            .map(|v| v.name.clone())
            .filter(|n| !n.is_empty())
            .collect(),
        policies: study.policies.clone(),
        seeds: study.seeds.clone(),
        runs,
        invalid_runs,
        invalid_points,
        break_even,
    };
    Ok(StudyResults { summary, charts })
}

fn parse_row(study: &Study, record: &csv::StringRecord, metrics: usize) -> Option<RunRow> {
    let params = study.parameters.len();
    let run: u64 = record.get(0)?.parse().ok()?;
    let key = study.key(run);
    let status = record.get(2 + params + 3)?;
    let invalid = (status != "ok").then(|| record.get(2 + params + 4).unwrap_or_default().to_string());
    let first = 2 + params + 5;
    let values = (0..metrics)
        .map(|i| record.get(first + i).and_then(|c| c.parse::<f64>().ok()))
        .collect();
    let seed_index = (run % study.seeds.len() as u64) as usize;
    Some(RunRow {
        point: key.point,
        policy: key.policy,
        seed_index,
        invalid,
        values,
    })
}

#[allow(clippy::too_many_arguments)]
fn flush_point<W: std::io::Write>(
    study: &Study,
    metrics: &[String],
    (point, policy): (u64, usize),
    accumulators: &mut [Accumulator],
    wanted: &[usize],
    kept: &mut BTreeMap<(u64, usize), BTreeMap<usize, Stat>>,
    points: &mut csv::Writer<W>,
) -> Result<(), csv::Error> {
    let (levels, variant) = study.point_parts(point);
    let mut prefix = vec![point.to_string()];
    prefix.extend(
        study
            .parameters
            .iter()
            .zip(&levels)
            .map(|(p, &l)| p.levels[l].label.clone()),
    );
    prefix.extend([variant.name.clone(), study.policies[policy].clone()]);
    for (index, (metric, acc)) in metrics.iter().zip(accumulators.iter_mut()).enumerate() {
        let stat = acc.stat();
        if let (Some(stat), true) = (stat, wanted.contains(&index)) {
            kept.entry((point, policy)).or_default().insert(index, stat);
        }
        let mut row = prefix.clone();
        row.push(metric.clone());
        match stat {
            Some(s) => row.extend([
                s.n.to_string(),
                s.mean.to_string(),
                s.half_width.map_or(String::new(), |h| h.to_string()),
                s.min.to_string(),
                s.max.to_string(),
            ]),
            None => row.extend(["0", "", "", "", ""].map(String::from)),
        }
        points.write_record(&row)?;
        *acc = Accumulator::default();
    }
    Ok(())
}

/// The index of the parameter named `along`.
fn parameter_index(study: &Study, along: &str) -> usize {
    study.parameters.iter().position(|p| p.name == along).unwrap_or(0)
}

/// The other parameters' values of a combination, as `name=value, …`; none when parameters are
/// zipped, since they then move together with the one along the axis.
fn others(study: &Study, combination: &[usize], along: usize) -> Vec<String> {
    if study.spec.combine == super::Combine::Zip {
        return Vec::new();
    }
    study
        .parameters
        .iter()
        .zip(combination)
        .enumerate()
        .filter(|(i, _)| *i != along)
        .map(|(_, (p, &l))| format!("{}={}", p.name, p.levels[l].label))
        .collect()
}

fn x_of(study: &Study, combination: &[usize], along: usize, fallback: usize) -> f64 {
    study.parameters[along].levels[combination[along]]
        .number
        .unwrap_or(fallback as f64)
}

/// The curves of metric `metric` along parameter `along`: a line per variant, policy and set of
/// the other parameters' values.
fn curves(
    study: &Study,
    metric: usize,
    along: &str,
    kept: &BTreeMap<(u64, usize), BTreeMap<usize, Stat>>,
) -> Vec<Curve> {
    let along = parameter_index(study, along);
    // (the other parameters' values, (variant, policy)) → points.
    type Line = Vec<(f64, Stat)>;
    let mut lines: BTreeMap<(Vec<String>, Side), Line> = BTreeMap::new();
    let variants = study.variants.len() as u64;
    for (&(point, policy), stats) in kept {
        let Some(&stat) = stats.get(&metric) else { continue };
        let combination = &study.combinations.get(point / variants);
        let variant = (point % variants) as usize;
        let x = x_of(study, combination, along, combination[along]);
        lines
            .entry((others(study, combination, along), (variant, policy)))
            .or_default()
            .push((x, stat));
    }
    lines
        .into_iter()
        .map(|((others, (variant, policy)), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut parts = Vec::new();
            if !study.variants[variant].name.is_empty() {
                parts.push(study.variants[variant].name.clone());
            }
            if study.policies.len() > 1 || parts.is_empty() {
                parts.push(study.policies[policy].clone());
            }
            parts.extend(others);
            Curve {
                label: parts.join(" · "),
                points,
            }
        })
        .collect()
}

/// Pairs, seed by seed, the two sides of every break-even question within one combination's
/// runs, and records the differences' statistics under their group.
fn pair_block(
    study: &Study,
    pair_metrics: &[usize],
    metrics: &[String],
    combination: u64,
    block: &BTreeMap<(u64, usize, usize), Vec<Option<f64>>>,
    pairs: &mut [Groups],
) {
    let variants = study.variants.len() as u64;
    let levels = &study.combinations.get(combination);
    for (spec, groups) in study.spec.break_even.iter().zip(pairs.iter_mut()) {
        // Where each figure sits among the ones kept for pairing.
        let slot = |name: &str| {
            let index = metrics.iter().position(|m| m == name)?;
            pair_metrics.iter().position(|&i| i == index)
        };
        let Some(metric) = slot(&spec.metric) else {
            continue;
        };
        let express = spec.express_in.as_deref().and_then(slot);
        let along = parameter_index(study, &spec.along);
        let variant_of = |name: &str| study.variants.iter().position(|v| v.name == name);
        let policy_of = |name: &str| study.policies.iter().position(|p| p == name);
        // The sides, as (variant, policy) pairs, one pair per group.
        let mut sides: Vec<(String, Side, Side)> = Vec::new();
        match (variant_of(&spec.between.0), variant_of(&spec.between.1)) {
            (Some(a), Some(b)) => {
                for p in 0..study.policies.len() {
                    let group = if study.policies.len() > 1 {
                        format!("policy={}", study.policies[p])
                    } else {
                        String::new()
                    };
                    sides.push((group, (a, p), (b, p)));
                }
            }
            _ => {
                let (Some(a), Some(b)) = (policy_of(&spec.between.0), policy_of(&spec.between.1)) else {
                    continue;
                };
                for (v, variant) in study.variants.iter().enumerate() {
                    let group = if study.variants.len() > 1 {
                        format!("variant={}", variant.name)
                    } else {
                        String::new()
                    };
                    sides.push((group, (v, a), (v, b)));
                }
            }
        }
        for (group, (va, pa), (vb, pb)) in sides {
            let point_a = combination * variants + va as u64;
            let point_b = combination * variants + vb as u64;
            let mut difference = Accumulator::default();
            let (mut express_a, mut express_b) = (Accumulator::default(), Accumulator::default());
            for seed in 0..study.seeds.len() {
                let (Some(a), Some(b)) = (block.get(&(point_a, pa, seed)), block.get(&(point_b, pb, seed)))
                else {
                    continue;
                };
                if let (Some(x), Some(y)) = (a[metric], b[metric]) {
                    difference.push(x - y);
                }
                if let Some(e) = express {
                    if let Some(x) = a[e] {
                        express_a.push(x);
                    }
                    if let Some(y) = b[e] {
                        express_b.push(y);
                    }
                }
            }
            let Some(stat) = difference.stat() else { continue };
            let expressed = express_a
                .stat()
                .zip(express_b.stat())
                .map(|(a, b)| (a.mean, b.mean));
            let mut key: Vec<String> = others(study, levels, along);
            if !group.is_empty() {
                key.insert(0, group);
            }
            let x = x_of(study, levels, along, levels[along]);
            groups
                .entry(key.join(", "))
                .or_default()
                .push((x.to_bits(), stat, expressed));
        }
    }
}

/// Where the differences along the parameter cross zero.
fn crossing(study: &Study, spec: &super::BreakEvenSpec, group: String, mut series: Vec<Paired>) -> Crossing {
    series.sort_by(|a, b| f64::from_bits(a.0).total_cmp(&f64::from_bits(b.0)));
    let xs: Vec<f64> = series.iter().map(|s| f64::from_bits(s.0)).collect();
    let mean: Vec<f64> = series.iter().map(|s| s.1.mean).collect();
    let half = |s: &Stat| s.half_width.unwrap_or(0.0);
    let low: Vec<f64> = series.iter().map(|s| s.1.mean - half(&s.1)).collect();
    let high: Vec<f64> = series.iter().map(|s| s.1.mean + half(&s.1)).collect();
    let at = zero_crossing(&xs, &mean);
    let (a, b) = zero_crossing(&xs, &low)
        .zip(zero_crossing(&xs, &high))
        .map_or((zero_crossing(&xs, &low), zero_crossing(&xs, &high)), |(l, h)| {
            (Some(l.min(h)), Some(l.max(h)))
        });
    let expressed = at.and_then(|x| {
        let i = xs.iter().rposition(|&v| v <= x)?;
        let j = (i + 1).min(xs.len() - 1);
        let (ea, eb) = (series[i].2?, series[j].2?);
        let t = if xs[j] > xs[i] {
            (x - xs[i]) / (xs[j] - xs[i])
        } else {
            0.0
        };
        Some((ea.0 + t * (eb.0 - ea.0), ea.1 + t * (eb.1 - ea.1)))
    });
    let unit = study.parameters[parameter_index(study, &spec.along)]
        .levels
        .first()
        .and_then(|l| super::values::split_unit(&l.label))
        .map_or(String::new(), |(_, gap, unit)| format!("{gap}{unit}"));
    let show = |x: f64| format!("{}{unit}", super::values::number_text(significant(x)));
    let (first, second) = (&spec.between.0, &spec.between.1);
    let within = if group.is_empty() {
        String::new()
    } else {
        format!(" ({group})")
    };
    let statement = match at {
        Some(x) => {
            let (below, above) = if mean.first().is_some_and(|&d| d > 0.0) {
                (second, first)
            } else {
                (first, second)
            };
            let interval = match (a, b) {
                (Some(l), Some(h)) => format!("95% interval {} to {}", show(l), show(h)),
                (Some(l), None) => format!("95% interval from {} to beyond the range", show(l)),
                (None, Some(h)) => format!("95% interval from below the range to {}", show(h)),
                (None, None) => "the interval reaches beyond the range on both sides".into(),
            };
            let expressed = match (expressed, &spec.express_in) {
                (Some((ea, eb)), Some(name)) => format!(
                    "; there {name} is {} for {first} and {} for {second}",
                    super::values::number_text(significant(ea)),
                    super::values::number_text(significant(eb))
                ),
                _ => String::new(),
            };
            format!(
                "{}: {below} is lower below {} = {} and {above} above it{within} ({interval}){expressed}",
                spec.metric,
                spec.along,
                show(x)
            )
        }
        None => {
            let lower = if mean.iter().all(|&d| d < 0.0) {
                first
            } else {
                second
            };
            format!(
                "{}: no crossing between {} = {} and {}{within}: {lower} is lower throughout",
                spec.metric,
                spec.along,
                xs.first().map_or("-".into(), |&x| show(x)),
                xs.last().map_or("-".into(), |&x| show(x)),
            )
        }
    };
    Crossing {
        group,
        at,
        interval: (a, b),
        expressed,
        statement,
        differences: xs.into_iter().zip(series.into_iter().map(|s| s.1)).collect(),
    }
}

fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// The first x where the piecewise-linear curve through (xs, ys) reaches zero from one sign to
/// the other.
pub fn zero_crossing(xs: &[f64], ys: &[f64]) -> Option<f64> {
    for i in 0..xs.len().saturating_sub(1) {
        let (y0, y1) = (ys[i], ys[i + 1]);
        if y0 == 0.0 {
            return Some(xs[i]);
        }
        if (y0 < 0.0) != (y1 < 0.0) || y1 == 0.0 {
            return Some(xs[i] + (xs[i + 1] - xs[i]) * y0 / (y0 - y1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_crossings_interpolate_between_levels() {
        assert_eq!(zero_crossing(&[10.0, 20.0, 30.0], &[-3.0, -1.0, 1.0]), Some(25.0));
        assert_eq!(zero_crossing(&[10.0, 20.0], &[2.0, -2.0]), Some(15.0));
        assert_eq!(zero_crossing(&[10.0, 20.0, 30.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(zero_crossing(&[10.0, 20.0], &[0.0, 2.0]), Some(10.0));
    }

    #[test]
    fn accumulators_give_student_t_intervals() {
        let mut acc = Accumulator::default();
        for x in [10.0, 12.0, 17.0] {
            acc.push(x);
        }
        let stat = acc.stat().unwrap();
        assert_eq!((stat.n, stat.mean, stat.min, stat.max), (3, 13.0, 10.0, 17.0));
        // t(0.975, 2) = 4.302653; s = √13.
        approx::assert_relative_eq!(
            stat.half_width.unwrap(),
            4.302653 * 13f64.sqrt() / 3f64.sqrt(),
            max_relative = 1e-6
        );
    }
}
