//! Spot price processes: how a spot tier's price moves over a run ([`PriceProcessSpec`]). This
//! module owns what a scenario says about them, the random draws and reading price traces; the
//! engine applies each change to the tier's price (per GPU-hour).
//!
//! ```ron
//! spot: (limit: 64, price: "1.1 USD/h",
//!        price_process: random_walk(interval: "1h", volatility: 0.1, min: "0.5 USD/h", max: "4 USD/h")),
//! spot: (limit: 64, price: "1.1 USD/h", price_process: trace(path: "prices.csv")),
//! ```
//!
//! Both start from the start of the run. A [`PriceProcess`] hands out one change at a time
//! ([`PriceProcess::next`]), so the engine schedules one event per change.
//!
//! - `random_walk`: a piecewise-constant geometric random walk from the tier's price. At
//!   `interval`, `2 × interval`, … the price is multiplied by `exp(σZ − σ²/2)` with `Z` standard
//!   normal — so the expected price stays put — and clamped to `[min, max]`. Every step is a
//!   change, even one the clamp leaves at a bound; a walk that cannot move (`volatility` 0 or
//!   `min` = `max`) changes at most once, at its first step, into the bounds. The path depends
//!   only on the random stream: calling [`PriceProcess::next`] less often does not change it.
//! - `trace`: a CSV file `time_s,price_usd_per_hour` with that header (other columns are
//!   ignored): times in seconds from the start of the run, non-decreasing, read exactly; prices
//!   in USD per GPU-hour, non-negative. The price is the tier's until the first row's time and
//!   then each row's from its time on; of rows with the same time the last counts. The price at
//!   the start of the run is [`PriceProcess::initial_price`] (a row at time 0 sets it). A file is
//!   bounded: at most [`MAX_TRACE_BYTES`] bytes and [`MAX_PRICE_ROWS`] rows; bad input errors
//!   name the file, the line and the column, what is wrong and how to fix it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::kernel::{SimDuration, SimTime, StreamRng};
use crate::vocab::units::HourlyPrice;
#[cfg(doc)]
use crate::workload::trace::MAX_TRACE_BYTES;
use crate::workload::trace::{
    Column, TimeUnit, TraceError, csv_error, header_column, numeric_time, open_csv,
};

/// The most rows a price trace may hold (memory: 16 bytes a row).
pub const MAX_PRICE_ROWS: u64 = 10_000_000;

/// The largest `volatility` a random walk accepts: a factor of about e² per step.
pub const MAX_VOLATILITY: f64 = 2.0;

/// How a spot tier's price moves, written on a spot tier as
/// `price_process: random_walk(interval: "1h", volatility: 0.1, min: "0.5 USD/h", max: "4 USD/h")`
/// or `price_process: trace(path: "prices.csv")`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PriceProcessSpec {
    /// Piecewise-constant geometric random walk: every `interval` the price is multiplied by
    /// exp(volatility·Z − volatility²/2), Z standard normal (so the expected price stays put),
    /// then clamped to [min, max].
    RandomWalk {
        /// The time between steps.
        interval: SimDuration,
        /// σ, the standard deviation of the log-price change per step, in [0, 2].
        volatility: f64,
        /// The lowest price per GPU-hour.
        min: HourlyPrice,
        /// The highest price per GPU-hour.
        max: HourlyPrice,
    },
    /// A CSV `time_s,price_usd_per_hour` (header required; times relative, non-decreasing): the
    /// price from each row's time on.
    Trace {
        /// The price file, relative to the scenario file.
        path: String,
    },
}

/// A spot tier's price over a run: the random walk's state or the loaded trace.
#[derive(Debug, Clone)]
pub struct PriceProcess {
    initial: f64,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Walk(Walk),
    Trace(Arc<PriceTrace>),
}

/// A random walk's parameters and state.
#[derive(Debug, Clone)]
struct Walk {
    interval: u64,
    sigma: f64,
    min: f64,
    max: f64,
    /// The price after the last step drawn.
    price: f64,
    /// The number of the next step to draw, from 1; step k is at k × interval.
    step: u64,
    /// The last step drawn, until it has passed.
    pending: Option<(SimTime, f64)>,
    /// No step after the ones drawn changes the price.
    done: bool,
}

/// A loaded price trace: strictly increasing times after 0 in nanoseconds, with their prices.
/// Read once per file and shared, read-only, by every run that replays it.
#[derive(Debug, Clone)]
pub struct PriceTrace {
    times: Vec<u64>,
    prices: Vec<f64>,
}

impl PriceProcess {
    /// The process `spec` describes for a tier whose price is `start_price` USD per GPU-hour;
    /// `load` reads (or finds already read) the trace a spec's file path names (relative to the
    /// scenario); it is called only for a trace.
    pub fn new(
        spec: &PriceProcessSpec,
        start_price: f64,
        load: impl FnOnce(&str) -> Result<Arc<PriceTrace>, TraceError>,
    ) -> Result<Self, TraceError> {
        match spec {
            PriceProcessSpec::RandomWalk {
                interval,
                volatility,
                min,
                max,
            } => {
                let refuse = |(problem, fix): (String, String)| TraceError::Spec {
                    path: PathBuf::from("(random_walk price process)"),
                    problem,
                    fix,
                };
                if let Some(problem) = walk_problem(*interval, *volatility, *min, *max) {
                    return Err(refuse(problem));
                }
                if !(start_price.is_finite() && start_price >= 0.0) {
                    return Err(refuse((
                        format!("the starting price {start_price} USD/h is not a non-negative price"),
                        "give the spot tier a price such as \"1.1 USD/h\"".into(),
                    )));
                }
                let (min, max) = (min.usd_per_hour(), max.usd_per_hour());
                Ok(PriceProcess {
                    initial: start_price,
                    kind: Kind::Walk(Walk {
                        interval: interval.as_nanos(),
                        sigma: *volatility,
                        min,
                        max,
                        price: start_price,
                        step: 1,
                        pending: None,
                        done: false,
                    }),
                })
            }
            PriceProcessSpec::Trace { path } => {
                let trace = load(path)?;
                let initial = if trace.times.first() == Some(&0) {
                    trace.prices[0]
                } else {
                    start_price
                };
                Ok(PriceProcess {
                    initial,
                    kind: Kind::Trace(trace),
                })
            }
        }
    }

    /// The price at the start of the run, in USD per GPU-hour: the tier's, or a trace's row at
    /// time 0.
    pub fn initial_price(&self) -> f64 {
        self.initial
    }

    /// The next price change after `now`: when, and the new USD per GPU-hour; None when there are
    /// no more. Calling it again before that time returns the same change.
    pub fn next(&mut self, now: SimTime, rng: &mut StreamRng) -> Option<(SimTime, f64)> {
        match &mut self.kind {
            Kind::Walk(walk) => walk.next(now, rng),
            Kind::Trace(trace) => trace.next(now),
        }
    }

    /// Checks parameters without reading files (for scenario checks): volatility finite in
    /// [0, 2], interval > 0, 0 < min ≤ max. The text says what is wrong and how to fix it.
    pub fn problem(spec: &PriceProcessSpec) -> Option<String> {
        match spec {
            PriceProcessSpec::RandomWalk {
                interval,
                volatility,
                min,
                max,
            } => walk_problem(*interval, *volatility, *min, *max)
                .map(|(problem, fix)| format!("{problem}; {fix}")),
            PriceProcessSpec::Trace { .. } => None,
        }
    }
}

/// What is wrong with a random walk's parameters, and the fix.
fn walk_problem(
    interval: SimDuration,
    volatility: f64,
    min: HourlyPrice,
    max: HourlyPrice,
) -> Option<(String, String)> {
    if !(volatility.is_finite() && (0.0..=MAX_VOLATILITY).contains(&volatility)) {
        return Some((
            format!("volatility {volatility} is not a number in [0, {MAX_VOLATILITY}]"),
            "give the standard deviation of the log-price change per step, e.g. volatility: 0.1 for about \
             10% per step"
                .into(),
        ));
    }
    if interval.is_zero() {
        return Some((
            "interval is 0s".into(),
            "give the time between price steps, e.g. interval: \"1h\"".into(),
        ));
    }
    if min.usd_per_hour() <= 0.0 {
        return Some((
            "min is 0 USD/h".into(),
            "give a positive lowest price, e.g. min: \"0.5 USD/h\"".into(),
        ));
    }
    if min > max {
        return Some((
            format!("min {min} is above max {max}"),
            "swap them, or give min ≤ max".into(),
        ));
    }
    None
}

impl Walk {
    fn next(&mut self, now: SimTime, rng: &mut StreamRng) -> Option<(SimTime, f64)> {
        if let Some((at, price)) = self.pending
            && at > now
        {
            return Some((at, price));
        }
        if self.done {
            return None;
        }
        // A walk that cannot move settles into the bounds at its first step.
        let still = self.sigma == 0.0 || self.min == self.max;
        loop {
            let Some(at) = self.step.checked_mul(self.interval) else {
                self.done = true;
                return None;
            };
            let factor = if self.sigma == 0.0 {
                1.0
            } else {
                let z: f64 = rng.sample(StandardNormal);
                (self.sigma * z - self.sigma * self.sigma / 2.0).exp()
            };
            let price = (self.price * factor).clamp(self.min, self.max);
            if still {
                self.done = true;
                if price == self.price {
                    return None;
                }
            }
            self.price = price;
            self.step += 1;
            let at = SimTime::from_nanos(at);
            self.pending = Some((at, price));
            if at > now {
                return self.pending;
            }
            if self.done {
                return None;
            }
        }
    }
}

const TIME: &str = "time_s";
const PRICE: &str = "price_usd_per_hour";

impl PriceTrace {
    /// Reads and checks the price file at `path` (already resolved against the scenario's
    /// folder).
    pub fn load(path: &Path) -> Result<PriceTrace, TraceError> {
        Self::load_at_most(path, MAX_PRICE_ROWS)
    }

    fn load_at_most(path: &Path, max_rows: u64) -> Result<PriceTrace, TraceError> {
        let header_fix = || format!("write the header {TIME},{PRICE} and one row per price change");
        let (mut reader, header) = open_csv(path, &header_fix())?;
        let time = header_column(path, &header, TIME, header_fix)?;
        let price = header_column(path, &header, PRICE, header_fix)?;
        let mut trace = PriceTrace {
            times: Vec::new(),
            prices: Vec::new(),
        };
        let mut record = csv::StringRecord::new();
        let (mut rows, mut last_line) = (0u64, 1u64);
        let mut previous: Option<(u64, u64, String)> = None;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, e, last_line + 1)),
            }
            let line = record.position().map_or(last_line + 1, csv::Position::line);
            last_line = line;
            rows += 1;
            if rows > max_rows {
                return Err(TraceError::TooManyRows {
                    path: path.to_path_buf(),
                    line,
                    limit: max_rows,
                });
            }
            let bad = |column: &Column, (problem, fix): (String, String)| TraceError::BadValue {
                path: path.to_path_buf(),
                line,
                column: column.name.clone(),
                problem,
                fix,
            };
            let time_text = time.get(&record);
            let at = numeric_time(time_text, TimeUnit::S).map_err(|e| bad(&time, e))?;
            if let Some((previous_at, previous_line, previous_text)) = &previous
                && at < *previous_at
            {
                return Err(TraceError::Unsorted {
                    path: path.to_path_buf(),
                    line,
                    column: TIME.into(),
                    time: time_text.into(),
                    previous_line: *previous_line,
                    previous_time: previous_text.clone(),
                });
            }
            let usd = parse_price(price.get(&record)).map_err(|e| bad(&price, e))?;
            previous = Some((at, line, time_text.to_string()));
            // Of rows with the same time the last counts.
            match (trace.times.last(), trace.prices.last_mut()) {
                (Some(&last), Some(price)) if last == at => *price = usd,
                _ => {
                    trace.times.push(at);
                    trace.prices.push(usd);
                }
            }
        }
        if trace.times.is_empty() {
            return Err(TraceError::Empty {
                path: path.to_path_buf(),
                line: last_line,
                problem: "there are no prices after the header".into(),
                fix: "add one row per price change".into(),
            });
        }
        Ok(trace)
    }

    fn next(&self, now: SimTime) -> Option<(SimTime, f64)> {
        let i = self.times.partition_point(|&t| t <= now.as_nanos());
        Some((SimTime::from_nanos(*self.times.get(i)?), self.prices[i]))
    }
}

/// A price in USD per GPU-hour as written in a price trace, or what is wrong and the fix.
fn parse_price(text: &str) -> Result<f64, (String, String)> {
    let fix =
        || "write a non-negative number of US dollars per GPU-hour such as 2.49, or remove the row".into();
    if text.is_empty() {
        return Err(("the price is missing".into(), fix()));
    }
    match text.parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err((format!("\"{text}\" is not a price in USD per GPU-hour"), fix())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::RngStreams;
    use std::io::Write;

    fn price(text: &str) -> HourlyPrice {
        text.parse().unwrap()
    }

    fn walk(interval: &str, volatility: f64, min: HourlyPrice, max: HourlyPrice) -> PriceProcessSpec {
        PriceProcessSpec::RandomWalk {
            interval: interval.parse().unwrap(),
            volatility,
            min,
            max,
        }
    }

    fn no_files(_: &str) -> Result<Arc<PriceTrace>, TraceError> {
        panic!("a random walk reads no file")
    }

    /// The walk's first `n` changes from the start, drawn with the stream `seed`.
    fn path(spec: &PriceProcessSpec, start: f64, seed: u64, n: usize) -> Vec<(SimTime, f64)> {
        let mut process = PriceProcess::new(spec, start, no_files).unwrap_or_else(|e| panic!("{e}"));
        let mut rng = RngStreams::new(seed).stream("spot/price");
        let mut now = SimTime::ZERO;
        (0..n)
            .map(|_| {
                let change = process.next(now, &mut rng).expect("a walk keeps moving");
                now = change.0;
                change
            })
            .collect()
    }

    /// Bounds far from any price the tests reach: 1e-200 and 1e200 USD/h.
    fn wide() -> (HourlyPrice, HourlyPrice) {
        let tiny = format!("0.{}1 USD/h", "0".repeat(199));
        let huge = format!("1{} USD/h", "0".repeat(200));
        (price(&tiny), price(&huge))
    }

    #[test]
    fn log_increments_have_the_stated_mean_and_variance() {
        let sigma = 0.2;
        let (min, max) = wide();
        let n = 10_000;
        let steps = path(&walk("1h", sigma, min, max), 1.0, 3, n);
        let mut previous = 1.0;
        let mut increments = Vec::with_capacity(n);
        for (k, &(at, p)) in steps.iter().enumerate() {
            assert_eq!(at, SimTime::from_nanos((k as u64 + 1) * 3_600_000_000_000));
            assert!(
                p > min.usd_per_hour() && p < max.usd_per_hour(),
                "clamped at step {k}: {p}"
            );
            increments.push((p / previous).ln());
            previous = p;
        }
        let count = n as f64;
        let mean = increments.iter().sum::<f64>() / count;
        let variance = increments.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1.0);
        // Normal increments: the mean's standard error is σ/√n and the sample variance's
        // σ²·√(2/(n−1)); 4 standard errors each.
        let (want_mean, want_variance) = (-sigma * sigma / 2.0, sigma * sigma);
        let mean_error = sigma / count.sqrt();
        assert!((mean - want_mean).abs() < 4.0 * mean_error, "mean {mean}");
        let variance_error = want_variance * (2.0 / (count - 1.0)).sqrt();
        assert!(
            (variance - want_variance).abs() < 4.0 * variance_error,
            "variance {variance}"
        );
        // The expected price stays put: the factors exp(increment) average 1, with standard error
        // √(e^σ² − 1)/√n.
        let factor_mean = increments.iter().map(|x| x.exp()).sum::<f64>() / count;
        let factor_error = ((sigma * sigma).exp() - 1.0).sqrt() / count.sqrt();
        assert!(
            (factor_mean - 1.0).abs() < 4.0 * factor_error,
            "factor mean {factor_mean}"
        );
    }

    #[test]
    fn the_walk_stays_within_its_bounds() {
        let (min, max) = (price("0.5 USD/h"), price("4 USD/h"));
        let steps = path(&walk("15m", 1.0, min, max), 1.1, 5, 5_000);
        assert!(steps.iter().all(|&(_, p)| (0.5..=4.0).contains(&p)));
        // With σ = 1 on a range of e^2.1 both bounds are reached.
        assert!(steps.iter().any(|&(_, p)| p == 0.5));
        assert!(steps.iter().any(|&(_, p)| p == 4.0));
        // A start outside the bounds is clamped at the first step.
        let still = walk("1h", 0.0, min, max);
        let mut process = PriceProcess::new(&still, 9.0, no_files).unwrap();
        let mut rng = RngStreams::new(1).stream("spot/price");
        assert_eq!(process.initial_price(), 9.0);
        let first = (SimTime::from_nanos(3_600_000_000_000), 4.0);
        assert_eq!(process.next(SimTime::ZERO, &mut rng), Some(first));
        assert_eq!(process.next(SimTime::from_nanos(1), &mut rng), Some(first));
        assert_eq!(process.next(first.0, &mut rng), None);
        // A walk that cannot move and starts inside its bounds never changes.
        let mut process = PriceProcess::new(&still, 2.0, no_files).unwrap();
        assert_eq!(process.next(SimTime::ZERO, &mut rng), None);
        let pinned = walk("1h", 0.5, price("2 USD/h"), price("2 USD/h"));
        let mut process = PriceProcess::new(&pinned, 2.0, no_files).unwrap();
        assert_eq!(process.next(SimTime::ZERO, &mut rng), None);
    }

    #[test]
    fn the_path_depends_only_on_the_seed() {
        let spec = walk("1h", 0.3, price("0.1 USD/h"), price("10 USD/h"));
        let a = path(&spec, 2.0, 42, 500);
        assert_eq!(a, path(&spec, 2.0, 42, 500));
        assert_ne!(a, path(&spec, 2.0, 43, 500));
        // Asking less often, or twice at the same time, does not change the path.
        let mut process = PriceProcess::new(&spec, 2.0, no_files).unwrap();
        let mut rng = RngStreams::new(42).stream("spot/price");
        let hour = 3_600_000_000_000u64;
        assert_eq!(process.next(SimTime::from_nanos(hour / 2), &mut rng), Some(a[0]));
        assert_eq!(process.next(SimTime::from_nanos(hour / 2), &mut rng), Some(a[0]));
        assert_eq!(
            process.next(SimTime::from_nanos(99 * hour + 1), &mut rng),
            Some(a[99])
        );
        assert_eq!(process.next(a[99].0, &mut rng), Some(a[100]));
    }

    #[test]
    fn walk_parameters_are_checked() {
        let (min, max) = (price("0.5 USD/h"), price("4 USD/h"));
        assert_eq!(PriceProcess::problem(&walk("1h", 0.1, min, max)), None);
        assert_eq!(PriceProcess::problem(&walk("1h", 0.0, min, min)), None);
        assert_eq!(PriceProcess::problem(&walk("1h", 2.0, min, max)), None);
        for bad in [f64::NAN, f64::INFINITY, -0.1, 2.5] {
            let got = PriceProcess::problem(&walk("1h", bad, min, max)).unwrap();
            assert!(
                got.starts_with(&format!("volatility {bad} is not a number in [0, 2]; give")),
                "{got}"
            );
        }
        let zero = PriceProcessSpec::RandomWalk {
            interval: SimDuration::ZERO,
            volatility: 0.1,
            min,
            max,
        };
        assert!(
            PriceProcess::problem(&zero)
                .unwrap()
                .starts_with("interval is 0s; give")
        );
        let got = PriceProcess::problem(&walk("1h", 0.1, price("0 USD/h"), max)).unwrap();
        assert!(got.starts_with("min is 0 USD/h; give a positive"), "{got}");
        let got = PriceProcess::problem(&walk("1h", 0.1, max, min)).unwrap();
        assert_eq!(
            got,
            "min 4 USD/h is above max 0.5 USD/h; swap them, or give min ≤ max"
        );
        let got = PriceProcess::new(&walk("1h", 3.0, min, max), 1.0, no_files)
            .unwrap_err()
            .to_string();
        assert!(got.contains("volatility 3 is not a number in [0, 2]"), "{got}");
        let trace = PriceProcessSpec::Trace { path: "p.csv".into() };
        assert_eq!(PriceProcess::problem(&trace), None);
    }

    /// Writes `text` to a temporary `.csv` file.
    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    /// The trace process for the file `text`, and the file (kept alive).
    fn trace(text: &str, start: f64) -> (Result<PriceProcess, TraceError>, tempfile::NamedTempFile) {
        let file = file(text);
        let path = file.path().to_path_buf();
        let spec = PriceProcessSpec::Trace {
            path: "prices.csv".into(),
        };
        let process = PriceProcess::new(&spec, start, |given| {
            assert_eq!(given, "prices.csv");
            PriceTrace::load(&path).map(Arc::new)
        });
        (process, file)
    }

    fn at(seconds: f64) -> SimTime {
        SimTime::from_nanos((seconds * 1e9).round() as u64)
    }

    #[test]
    fn the_trace_path_follows_the_file() {
        let text = "time_s,price_usd_per_hour\n10,1.5\n10.25,2\n3600,0.75\n3600,0.8\n7200.000000001,3\n";
        let (process, _file) = trace(text, 1.1);
        let mut process = process.unwrap_or_else(|e| panic!("{e}"));
        let mut rng = RngStreams::new(1).stream("unused");
        assert_eq!(process.initial_price(), 1.1);
        let mut now = SimTime::ZERO;
        let mut changes = Vec::new();
        while let Some(change) = process.next(now, &mut rng) {
            assert!(change.0 > now, "{change:?} is not after {now}");
            changes.push(change);
            now = change.0;
        }
        let want = [
            (at(10.0), 1.5),
            (at(10.25), 2.0),
            (at(3600.0), 0.8),
            (SimTime::from_nanos(7_200_000_000_001), 3.0),
        ];
        assert_eq!(changes, want);
        // From any time: the first change strictly after it.
        assert_eq!(process.next(at(10.1), &mut rng), Some(want[1]));
        assert_eq!(process.next(at(3599.0), &mut rng), Some(want[2]));
        assert_eq!(process.next(at(7200.0), &mut rng), Some(want[3]));
        assert_eq!(process.next(want[3].0, &mut rng), None);
        // A row at time 0 sets the price at the start; columns may come in any order.
        let (process, _file) = trace("note,price_usd_per_hour,time_s\na,0.9,0\nb,1.2,60\n", 1.1);
        let mut process = process.unwrap();
        assert_eq!(process.initial_price(), 0.9);
        assert_eq!(process.next(SimTime::ZERO, &mut rng), Some((at(60.0), 1.2)));
    }

    /// The error for the price file `text`, checked to start with the file and `line`.
    fn message(text: &str, line: u64) -> String {
        let (process, file) = trace(text, 1.0);
        let message = process.expect_err("the trace should be refused").to_string();
        let prefix = format!("trace {}, line {line}", file.path().display());
        assert!(message.starts_with(&prefix), "{message}");
        message
    }

    #[test]
    fn bad_price_files_name_the_line() {
        let got = message("time_s,price_usd_per_hour\n0,1\n60,2\n30,3\n", 4);
        assert!(
            got.ends_with(
                ", line 4, column time_s: 30 is earlier than 60 on line 3; the rows must be in time order: \
                 sort the file by time_s"
            ),
            "{got}"
        );
        let got = message("time_s,price_usd_per_hour\n0,1\n60,-2\n", 3);
        assert!(
            got.ends_with(
                ", line 3, column price_usd_per_hour: \"-2\" is not a price in USD per GPU-hour; write a \
                 non-negative number of US dollars per GPU-hour such as 2.49, or remove the row"
            ),
            "{got}"
        );
        let got = message("time_s,price_usd_per_hour\n1h,1\n", 2);
        assert!(
            got.contains("column time_s: \"1h\" is not a non-negative decimal number"),
            "{got}"
        );
        let got = message("time_s,price_usd_per_hour\n5,\n", 2);
        assert!(
            got.contains("column price_usd_per_hour: the price is missing"),
            "{got}"
        );
        let got = message("time,price\n0,1\n", 1);
        assert!(
            got.ends_with(
                "there is no column time_s in the header \"time,price\"; write the header \
                 time_s,price_usd_per_hour and one row per price change"
            ),
            "{got}"
        );
        let got = message("time_s,price_usd_per_hour\n", 1);
        assert!(
            got.ends_with("there are no prices after the header; add one row per price change"),
            "{got}"
        );
        assert!(message("", 1).contains("the file is empty"));
        let file = file("time_s,price_usd_per_hour\n0,1\n1,1\n2,1\n");
        assert!(PriceTrace::load_at_most(file.path(), 3).is_ok());
        let got = PriceTrace::load_at_most(file.path(), 2).unwrap_err().to_string();
        assert!(got.contains(", line 4: more than 2 rows"), "{got}");
    }

    #[test]
    fn specs_read_from_ron() {
        let options = crate::vocab::ron_options();
        let text = "random_walk(interval: \"1h\", volatility: 0.1, min: \"0.5 USD/h\", max: \"4 USD/h\")";
        let spec: PriceProcessSpec = options.from_str(text).unwrap();
        assert_eq!(spec, walk("1h", 0.1, price("0.5 USD/h"), price("4 USD/h")));
        let spec: PriceProcessSpec = options.from_str("trace(path: \"prices.csv\")").unwrap();
        assert_eq!(
            spec,
            PriceProcessSpec::Trace {
                path: "prices.csv".into()
            }
        );
        assert!(
            options
                .from_str::<PriceProcessSpec>("random_walk(interval: \"1h\", volatility: 0.1)")
                .is_err()
        );
        assert!(
            options
                .from_str::<PriceProcessSpec>("trace(path: \"p.csv\", scale: 2.0)")
                .is_err()
        );
    }
}
