//! Time in trace files: the unit of numeric times ([`TimeUnit`]), reading a decimal time exactly
//! into integer nanoseconds (never through `f64`), and scaling gaps by a spec's `time_scale`
//! exactly. Shared by every trace format so that a time reads the same in all of them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::TraceError;

/// The `time_scale` of a spec that does not give one: replay at the trace's own speed.
pub(crate) fn own_speed() -> f64 {
    1.0
}

/// The unit of numeric times in a CSV trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds.
    #[default]
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl TimeUnit {
    /// Nanoseconds per unit.
    pub const fn nanos(self) -> u64 {
        match self {
            TimeUnit::S => 1_000_000_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::Us => 1_000,
            TimeUnit::Ns => 1,
        }
    }

    /// The name used in files and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }
}

/// Refuses a `time_scale` that is not a positive finite number.
pub(crate) fn check_time_scale(path: &Path, scale: f64) -> Result<(), TraceError> {
    if scale.is_finite() && scale > 0.0 {
        return Ok(());
    }
    Err(TraceError::Spec {
        path: path.to_path_buf(),
        problem: format!("time_scale {scale} is not a positive number"),
        fix: "write e.g. time_scale: 0.5 to replay twice as fast, or 2.0 for half as fast".into(),
    })
}

/// The relative time `text` in `unit`, read exactly into nanoseconds, or what is wrong with it
/// and how to fix it.
pub(crate) fn numeric_time(text: &str, unit: TimeUnit) -> Result<u64, (String, String)> {
    parse_decimal_nanos(text, unit.nanos()).map_err(|problem| {
        (
            format!("\"{text}\" {problem}"),
            format!(
                "write a non-negative decimal number of {} such as \"1500\" or \"12.25\", or remove the row",
                unit.as_str()
            ),
        )
    })
}

/// `text × per_unit` for a non-negative decimal `text` such as `"12.25"`, exactly; digits below
/// one nanosecond are dropped.
fn parse_decimal_nanos(text: &str, per_unit: u64) -> Result<u64, &'static str> {
    use crate::kernel::time::{DecimalProblem, scale_decimal};
    scale_decimal(text, per_unit).map_err(|problem| match problem {
        DecimalProblem::Malformed => "is not a non-negative decimal number",
        DecimalProblem::Overflow => "is too large: times must stay within about 584 years",
    })
}

/// `round(n × scale)` computed exactly (halves round up), or `None` if it exceeds `u64`.
/// `scale` must be positive and finite.
pub(crate) fn scale_nanos(n: u64, scale: f64) -> Option<u64> {
    if scale == 1.0 {
        return Some(n);
    }
    // scale = mantissa × 2^exponent exactly.
    let bits = scale.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    let product = u128::from(n) * u128::from(mantissa); // < 2^117
    if product == 0 {
        return Some(0);
    }
    let scaled = if exponent >= 0 {
        let shift = exponent.unsigned_abs();
        if product.leading_zeros() <= shift {
            return None;
        }
        product << shift
    } else {
        let shift = exponent.unsigned_abs();
        if shift >= 120 {
            0
        } else {
            (product + (1u128 << (shift - 1))) >> shift
        }
    };
    u64::try_from(scaled).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_is_exact_and_rounds_half_up() {
        assert_eq!(scale_nanos(u64::MAX, 1.0), Some(u64::MAX));
        assert_eq!(scale_nanos((1 << 60) + 1, 0.5), Some((1 << 59) + 1));
        assert_eq!(scale_nanos((1 << 60) + 3, 2.0), Some((1 << 61) + 6));
        assert_eq!(scale_nanos(3, 0.5), Some(2));
        assert_eq!(scale_nanos(10, 0.25), Some(3));
        assert_eq!(scale_nanos(9, 0.25), Some(2));
        assert_eq!(scale_nanos(1_000_000_000, 1.5), Some(1_500_000_000));
        assert_eq!(scale_nanos(u64::MAX, 2.0), None);
        assert_eq!(scale_nanos(7, f64::MIN_POSITIVE), Some(0));
        assert_eq!(scale_nanos(0, 1e300), Some(0));
        // 0.1 is not exact in binary: the product is of the double nearest 0.1.
        assert_eq!(scale_nanos(10_000_000_000, 0.1), Some(1_000_000_000));
    }

    #[test]
    fn decimals_are_read_exactly() {
        assert_eq!(parse_decimal_nanos("12.25", 1_000_000), Ok(12_250_000));
        assert_eq!(parse_decimal_nanos(".5", 1_000_000_000), Ok(500_000_000));
        assert_eq!(parse_decimal_nanos("3.", 1_000), Ok(3_000));
        assert_eq!(
            parse_decimal_nanos("1.0000000019", 1_000_000_000),
            Ok(1_000_000_001)
        );
        for bad in ["", ".", "-1", "1e3", "1.2.3", "+4", " 1"] {
            assert!(parse_decimal_nanos(bad, 1).is_err(), "{bad}");
        }
        assert!(parse_decimal_nanos("18446744073709551616", 1).is_err());
        assert!(parse_decimal_nanos("18446744074", 1_000_000_000).is_err());
    }
}
