//! Simulated time: integer nanoseconds since the start of a run.
//!
//! [`SimTime`] is a point on the simulated clock and [`SimDuration`] a span between two points.
//! Both are `u64` nanoseconds, which covers about 584 years. Arithmetic that could leave that
//! range is checked and reports [`TimeError::Overflow`] instead of wrapping, because a wrapped
//! clock would silently reorder events.
//!
//! Durations are written and read in human units: `"250ms"`, `"90s"`, `"1.5h"`, `"3d"`,
//! `"1h 30m"`. Decimal fractions are parsed exactly with integer arithmetic, never through `f64`.
//!
//! ```
//! use hybridsim::kernel::{SimDuration, SimTime};
//! let d: SimDuration = "1h 30m".parse().unwrap();
//! assert_eq!(d, SimDuration::from_secs(5400));
//! assert_eq!(d.to_string(), "1h 30m");
//! let t = SimTime::ZERO.checked_add(d).unwrap();
//! assert_eq!(t.as_nanos(), 5_400_000_000_000);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds per unit, largest first; the formatter relies on this order.
const UNITS: [(&str, u64); 9] = [
    ("y", 365 * 86_400 * NANOS_PER_SEC),
    ("w", 7 * 86_400 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The units accepted by the duration parser, as shown in error messages.
pub const ACCEPTED_DURATION_UNITS: &str = "ns, us (or µs), ms, s, m (or min), h, d, w, y (365 d)";

/// Errors from time arithmetic and duration parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The result does not fit in `u64` nanoseconds (about 584 years).
    #[error("time overflow: the result exceeds the simulated clock's range of about 584 years")]
    Overflow,
    /// Subtracting a later time from an earlier one.
    #[error("time underflow: cannot go before the start of the run")]
    Underflow,
    /// The text is not a duration.
    #[error(
        "cannot read \"{text}\" as a duration: {problem}; write a number with a unit such as \"250ms\", \"90s\", \"2h\" or \"1h 30m\" (units: {ACCEPTED_DURATION_UNITS})"
    )]
    Parse {
        /// The text that was given.
        text: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A span of simulated time in integer nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(u64);

/// A point on the simulated clock: nanoseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

impl SimDuration {
    /// The empty span.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }
    /// A span of `micros` microseconds (saturating at [`SimDuration::MAX`]).
    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros.saturating_mul(1_000))
    }
    /// A span of `millis` milliseconds (saturating at [`SimDuration::MAX`]).
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis.saturating_mul(1_000_000))
    }
    /// A span of `secs` seconds (saturating at [`SimDuration::MAX`]).
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs.saturating_mul(NANOS_PER_SEC))
    }
    /// A span of `hours` hours (saturating at [`SimDuration::MAX`]).
    pub const fn from_hours(hours: u64) -> Self {
        SimDuration(hours.saturating_mul(3_600 * NANOS_PER_SEC))
    }
    /// The span of `secs` seconds, rounded to the nearest nanosecond.
    ///
    /// Used where a model computes a duration from rates (e.g. bytes / bandwidth). Refuses
    /// negative, non-finite and out-of-range values.
    pub fn from_secs_f64(secs: f64) -> Result<Self, TimeError> {
        let nanos = (secs * NANOS_PER_SEC as f64).round();
        if !nanos.is_finite() || nanos < 0.0 {
            return Err(TimeError::Parse {
                text: secs.to_string(),
                problem: "not a finite, non-negative number of seconds".into(),
            });
        }
        if nanos >= u64::MAX as f64 {
            return Err(TimeError::Overflow);
        }
        Ok(SimDuration(nanos as u64))
    }
    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in seconds, as a float for reporting and rate computations.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// Whether the span is empty.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self + other`, or [`TimeError::Overflow`].
    pub fn checked_add(self, other: SimDuration) -> Result<SimDuration, TimeError> {
        self.0
            .checked_add(other.0)
            .map(SimDuration)
            .ok_or(TimeError::Overflow)
    }
    /// `self - other`, or [`TimeError::Underflow`].
    pub fn checked_sub(self, other: SimDuration) -> Result<SimDuration, TimeError> {
        self.0
            .checked_sub(other.0)
            .map(SimDuration)
            .ok_or(TimeError::Underflow)
    }
    /// `self × factor`, or [`TimeError::Overflow`].
    pub fn checked_mul(self, factor: u64) -> Result<SimDuration, TimeError> {
        self.0
            .checked_mul(factor)
            .map(SimDuration)
            .ok_or(TimeError::Overflow)
    }
    /// `self + other`, clamped at [`SimDuration::MAX`].
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
}

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The last representable instant; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds since the start, as a float for reporting.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// The span from the start of the run to this instant.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
    /// `self + d`, or [`TimeError::Overflow`].
    pub fn checked_add(self, d: SimDuration) -> Result<SimTime, TimeError> {
        self.0.checked_add(d.0).map(SimTime).ok_or(TimeError::Overflow)
    }
    /// `self + d`, clamped at [`SimTime::MAX`].
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, or [`TimeError::Underflow`] if `earlier` is later.
    pub fn checked_since(self, earlier: SimTime) -> Result<SimDuration, TimeError> {
        self.0
            .checked_sub(earlier.0)
            .map(SimDuration)
            .ok_or(TimeError::Underflow)
    }
    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for SimDuration {
    /// Writes the span as whole units, largest first: `"1h 30m"`, `"250ms"`, `"0s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        let mut first = true;
        for (unit, nanos) in UNITS {
            let count = rest / nanos;
            if count > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{count}{unit}")?;
                rest -= count * nanos;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Display for SimTime {
    /// Writes the instant as the span since the start, prefixed with `T+`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T+{}", self.since_start())
    }
}

impl FromStr for SimDuration {
    type Err = TimeError;

    /// Reads one or more `<number><unit>` terms, e.g. `"90s"`, `"1.5h"`, `"1h 30m"`, `"2d12h"`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_duration(text)
    }
}

fn parse_error(text: &str, problem: impl Into<String>) -> TimeError {
    TimeError::Parse {
        text: text.to_string(),
        problem: problem.into(),
    }
}

fn unit_nanos(unit: &str) -> Option<u64> {
    let canonical = match unit {
        "µs" | "μs" => "us",
        "min" | "mins" => "m",
        "sec" | "secs" => "s",
        "hr" | "hrs" => "h",
        other => other,
    };
    UNITS.iter().find(|(name, _)| *name == canonical).map(|(_, n)| *n)
}

fn parse_duration(text: &str) -> Result<SimDuration, TimeError> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(parse_error(text, "it is empty"));
    }
    let mut total = SimDuration::ZERO;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(parse_error(text, format!("expected a number at \"{rest}\"")));
        }
        let (number, after) = rest.split_at(number_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(parse_error(text, format!("the number {number} has no unit")));
        }
        let per_unit =
            unit_nanos(unit).ok_or_else(|| parse_error(text, format!("unknown unit \"{unit}\"")))?;
        let term = scale_decimal(number, per_unit).map_err(|problem| match problem {
            DecimalProblem::Overflow => TimeError::Overflow,
            DecimalProblem::Malformed => parse_error(text, format!("\"{number}\" is not a number")),
        })?;
        total = total.checked_add(SimDuration(term))?;
        rest = after.trim_start();
    }
    Ok(total)
}

/// Why a decimal number could not be scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalProblem {
    /// The result does not fit in `u64`.
    Overflow,
    /// The text is not a non-negative decimal number.
    Malformed,
}

/// `number × scale` for a non-negative decimal `number` such as `"1.25"` or `".5"`, exactly with
/// integer arithmetic; digits below one unit of the result are dropped.
pub(crate) fn scale_decimal(number: &str, scale: u64) -> Result<u64, DecimalProblem> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(DecimalProblem::Malformed);
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| DecimalProblem::Overflow)?
    };
    let mut scaled = whole.checked_mul(scale).ok_or(DecimalProblem::Overflow)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        scaled = scaled
            .checked_add(u64::from(digit - b'0') * place)
            .ok_or(DecimalProblem::Overflow)?;
    }
    Ok(scaled)
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        let cases = [
            ("250ms", 250_000_000),
            ("90s", 90 * NANOS_PER_SEC),
            ("2h", 7_200 * NANOS_PER_SEC),
            ("3d", 3 * 86_400 * NANOS_PER_SEC),
            ("15m", 900 * NANOS_PER_SEC),
            ("15min", 900 * NANOS_PER_SEC),
            ("1.5h", 5_400 * NANOS_PER_SEC),
            ("1h 30m", 5_400 * NANOS_PER_SEC),
            ("2d12h", 216_000 * NANOS_PER_SEC),
            ("0.5s", 500_000_000),
            (".25s", 250_000_000),
            ("1.0000000005s", 1_000_000_000),
            ("7µs", 7_000),
            ("2 h", 7_200 * NANOS_PER_SEC),
            ("1w", 604_800 * NANOS_PER_SEC),
            ("4y", 4 * 365 * 86_400 * NANOS_PER_SEC),
        ];
        for (text, nanos) in cases {
            assert_eq!(text.parse::<SimDuration>(), Ok(SimDuration(nanos)), "{text}");
        }
    }

    #[test]
    fn rejects_bad_text_with_the_accepted_units() {
        for bad in ["", "90", "s", "5 parsecs", "1..5s", "h2"] {
            let err = bad.parse::<SimDuration>().unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, TimeError::Parse { .. }), "{bad}: {message}");
            assert!(message.contains("units: ns"), "{message}");
        }
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        assert!(
            "5 fortnights"
                .parse::<SimDuration>()
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
        assert_eq!("600y".parse::<SimDuration>(), Err(TimeError::Overflow));
        assert_eq!(
            "99999999999999999999999s".parse::<SimDuration>(),
            Err(TimeError::Overflow)
        );
        assert_eq!(
            SimTime::MAX.checked_add(SimDuration::from_nanos(1)),
            Err(TimeError::Overflow)
        );
        assert_eq!(
            SimDuration::MAX.checked_add(SimDuration::from_nanos(1)),
            Err(TimeError::Overflow)
        );
        assert_eq!(SimDuration::MAX.checked_mul(2), Err(TimeError::Overflow));
        assert_eq!(
            SimTime::ZERO.checked_since(SimTime::from_nanos(1)),
            Err(TimeError::Underflow)
        );
    }

    #[test]
    fn formats_as_whole_units() {
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_secs(5_400).to_string(), "1h 30m");
        assert_eq!(SimDuration::from_nanos(1_000_001).to_string(), "1ms 1ns");
        assert_eq!(SimTime::from_nanos(90 * NANOS_PER_SEC).to_string(), "T+1m 30s");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(nanos in any::<u64>()) {
            let d = SimDuration(nanos);
            prop_assert_eq!(d.to_string().parse::<SimDuration>(), Ok(d));
        }
    }
}
