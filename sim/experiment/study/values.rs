//! The values a parameter takes: a list, a range with a step, or a logarithmic range, written
//! with their units as in a scenario (`"2.5 USD/h"`, `"30m"`, `"20/s"`) or as bare numbers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One value as written in a study: a number, a text with its unit, or a yes/no.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Written {
    /// A bare number: `16`, `0.5`.
    Number(f64),
    /// A yes/no.
    Flag(bool),
    /// A number with its unit (`"2.5 USD/h"`), or a name.
    Text(String),
}

/// A range `from`, `from + step`, … up to `to` (included when it falls on a step).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinearRange {
    /// The first value.
    pub from: Written,
    /// The last value.
    pub to: Written,
    /// The step, in the same unit.
    pub step: Written,
}

/// `points` values from `from` to `to`, evenly spaced on a logarithmic scale.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogRange {
    /// The first value (positive).
    pub from: Written,
    /// The last value, in the same unit.
    pub to: Written,
    /// How many values, at least 2.
    pub points: u64,
}

/// One value of a parameter, ready to put into a scenario and to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// As shown in tables: `20/s`, `16`, `2.5 USD/h`.
    pub label: String,
    /// Its number, for charts and break-even (`None` for a name or a yes/no).
    pub number: Option<f64>,
    /// As put into the scenario.
    pub value: Value,
}

impl Level {
    /// The level of a written value.
    pub fn of(written: &Written) -> Level {
        match written {
            Written::Number(x) => Level {
                label: number_text(*x),
                number: Some(*x),
                value: json_number(*x),
            },
            Written::Flag(b) => Level {
                label: b.to_string(),
                number: None,
                value: Value::Bool(*b),
            },
            Written::Text(text) => Level {
                label: text.clone(),
                number: split_unit(text).map(|(x, _, _)| x),
                value: Value::String(text.clone()),
            },
        }
    }
}

/// A bare number as JSON: whole numbers as integers, so that counts deserialize.
fn json_number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        if x >= 0.0 {
            Value::from(x as u64)
        } else {
            Value::from(x as i64)
        }
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// Splits `"2.5 USD/h"` into (2.5, " ", "USD/h"); `"30m"` into (30, "", "m"); `"16"` into
/// (16, "", "").
pub fn split_unit(text: &str) -> Option<(f64, &str, &str)> {
    let text = text.trim();
    let end = text
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || ((c == '-' || c == '+') && (i == 0 || text[..i].ends_with(['e', 'E'])))
                || ((c == 'e' || c == 'E')
                    && i > 0
                    && text[i + 1..].starts_with(|n: char| n.is_ascii_digit() || n == '-' || n == '+')))
        })
        .map_or(text.len(), |(i, _)| i);
    let number: f64 = text[..end].parse().ok()?;
    let rest = &text[end..];
    let unit = rest.trim_start();
    let gap = &rest[..rest.len() - unit.len()];
    Some((number, if gap.is_empty() { "" } else { " " }, unit))
}

/// The shortest text that reads back as `x`, after rounding away floating-point dust.
pub fn number_text(x: f64) -> String {
    let rounded: f64 = format!("{x:.12e}").parse().unwrap_or(x);
    let text = format!("{rounded}");
    if text == "-0" { "0".into() } else { text }
}

/// Why values cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesError(pub String);

/// The levels of a range, refusing more than `limit` of them before making any.
pub fn linear(range: &LinearRange, limit: u64) -> Result<Vec<Level>, ValuesError> {
    let (from, to, step, gap, unit) = three(&range.from, &range.to, &range.step)?;
    if step <= 0.0 || !step.is_finite() {
        return Err(ValuesError(format!(
            "the step must be positive, not {}",
            number_text(step)
        )));
    }
    if to < from {
        return Err(ValuesError("`to` is below `from`".into()));
    }
    let count = ((to - from) / step * (1.0 + 1e-12)).floor() + 1.0;
    if count > limit as f64 {
        return Err(ValuesError(format!(
            "the range has {count:.0} values; a study holds at most {limit} runs"
        )));
    }
    Ok((0..count as u64)
        .map(|k| level(from + k as f64 * step, gap, unit))
        .collect())
}

/// The levels of a logarithmic range.
pub fn logarithmic(range: &LogRange, limit: u64) -> Result<Vec<Level>, ValuesError> {
    let (from, to, _, gap, unit) = three(&range.from, &range.to, &range.from)?;
    if from <= 0.0 || to <= 0.0 {
        return Err(ValuesError(
            "a logarithmic range needs positive `from` and `to`".into(),
        ));
    }
    if range.points < 2 {
        return Err(ValuesError(
            "a logarithmic range needs at least 2 `points`".into(),
        ));
    }
    if range.points > limit {
        return Err(ValuesError(format!(
            "the range has {} values; a study holds at most {limit} runs",
            range.points
        )));
    }
    let ratio = (to / from).ln() / (range.points - 1) as f64;
    Ok((0..range.points)
        .map(|k| {
            let x = if k + 1 == range.points {
                to
            } else {
                from * (ratio * k as f64).exp()
            };
            level(significant(x, 4), gap, unit)
        })
        .collect())
}

/// `x` rounded to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

fn level(x: f64, gap: &str, unit: &str) -> Level {
    let x: f64 = number_text(x).parse().unwrap_or(x);
    if unit.is_empty() {
        Level::of(&Written::Number(x))
    } else {
        Level::of(&Written::Text(format!("{}{gap}{unit}", number_text(x))))
    }
}

type Parts<'a> = (f64, f64, f64, &'a str, &'a str);

/// Three written values as numbers in one unit.
fn three<'a>(a: &'a Written, b: &'a Written, c: &'a Written) -> Result<Parts<'a>, ValuesError> {
    let read = |w: &'a Written| -> Result<(f64, &'a str, &'a str), ValuesError> {
        match w {
            Written::Number(x) => Ok((*x, "", "")),
            Written::Text(text) => {
                split_unit(text).ok_or_else(|| ValuesError(format!("\"{text}\" is not a number with a unit")))
            }
            Written::Flag(b) => Err(ValuesError(format!("`{b}` is not a number"))),
        }
    };
    let (x, gap, unit) = read(a)?;
    let (y, _, unit_b) = read(b)?;
    let (z, _, unit_c) = read(c)?;
    if unit != unit_b || unit != unit_c {
        return Err(ValuesError(format!(
            "the range mixes units (\"{unit}\", \"{unit_b}\", \"{unit_c}\"): write every bound and the step in one unit"
        )));
    }
    Ok((x, y, z, gap, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Written {
        Written::Text(s.into())
    }

    fn labels(levels: &[Level]) -> Vec<&str> {
        levels.iter().map(|l| l.label.as_str()).collect()
    }

    #[test]
    fn units_split_off_numbers() {
        assert_eq!(split_unit("2.5 USD/h"), Some((2.5, " ", "USD/h")));
        assert_eq!(split_unit("30m"), Some((30.0, "", "m")));
        assert_eq!(split_unit("1e3/s"), Some((1000.0, "", "/s")));
        assert_eq!(split_unit("16"), Some((16.0, "", "")));
        assert_eq!(split_unit("-0.5"), Some((-0.5, "", "")));
        assert_eq!(split_unit("eu"), None);
    }

    #[test]
    fn linear_ranges_keep_their_unit_and_land_on_the_end() {
        let range = LinearRange {
            from: text("0.1 USD/h"),
            to: text("0.5 USD/h"),
            step: text("0.1 USD/h"),
        };
        let levels = linear(&range, 100).unwrap();
        assert_eq!(
            labels(&levels),
            ["0.1 USD/h", "0.2 USD/h", "0.3 USD/h", "0.4 USD/h", "0.5 USD/h"]
        );
        assert_eq!(levels[2].number, Some(0.3));
        let counts = LinearRange {
            from: Written::Number(0.0),
            to: Written::Number(16.0),
            step: Written::Number(4.0),
        };
        let levels = linear(&counts, 100).unwrap();
        assert_eq!(labels(&levels), ["0", "4", "8", "12", "16"]);
        assert_eq!(levels[4].value, serde_json::json!(16));
    }

    #[test]
    fn log_ranges_are_evenly_spaced_in_ratio() {
        let range = LogRange {
            from: text("1/s"),
            to: text("1000/s"),
            points: 4,
        };
        assert_eq!(
            labels(&logarithmic(&range, 100).unwrap()),
            ["1/s", "10/s", "100/s", "1000/s"]
        );
    }

    #[test]
    fn bad_ranges_are_refused_before_anything_is_made() {
        let huge = LinearRange {
            from: Written::Number(0.0),
            to: Written::Number(1e12),
            step: Written::Number(1.0),
        };
        assert!(
            linear(&huge, 1_000_000)
                .unwrap_err()
                .0
                .contains("at most 1000000")
        );
        let mixed = LinearRange {
            from: text("1/s"),
            to: text("1 USD/h"),
            step: text("1/s"),
        };
        assert!(linear(&mixed, 10).unwrap_err().0.contains("mixes units"));
        let backwards = LinearRange {
            from: Written::Number(2.0),
            to: Written::Number(1.0),
            step: Written::Number(1.0),
        };
        assert!(linear(&backwards, 10).is_err());
        let zero = LinearRange {
            from: Written::Number(1.0),
            to: Written::Number(2.0),
            step: Written::Number(0.0),
        };
        assert!(linear(&zero, 10).is_err());
        let negative = LogRange {
            from: Written::Number(0.0),
            to: Written::Number(10.0),
            points: 3,
        };
        assert!(logarithmic(&negative, 10).is_err());
    }
}
