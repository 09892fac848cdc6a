//! Human units in scenario files: data sizes, bandwidths, money and prices, event rates, power.
//!
//! Each type reads text such as `"200GB"`, `"10Gbps"`, `"2.49 USD/h"` or `"900/s"`: a decimal
//! number (`"1.5"`, `".5"`; no sign, no exponent), optional whitespace, and a unit from the type's
//! table. `Display` writes the shortest form that reads back to exactly the same value (bandwidth
//! in bits, data prices per GB, GiB or TiB, energy prices per kWh), and serde reads and writes
//! that text, so scenario files and reports agree. Money is US dollars only.
//!
//! [`DataSize`] is an exact `u64` byte count read with integer arithmetic (a fraction of a byte
//! rounds down). The other types hold an `f64` in a base unit: the digits, scaled by the unit's
//! power of ten, are rounded correctly (so exact whenever representable), then divided by the
//! unit's other factor if it has one: ×8 for byte rates, 24 hours a day, 730 hours a month
//! (8760 / 12), 8760 hours a year, 2^30 bytes a GiB.
//!
//! ```
//! use hybridsim::vocab::units::{Bandwidth, DataSize, HourlyPrice};
//! let size: DataSize = "1.5TiB".parse().unwrap();
//! assert_eq!(size.bytes(), 1_649_267_441_664);
//! let link: Bandwidth = "1.25GB/s".parse().unwrap();
//! assert_eq!(link.to_string(), "10Gbps");
//! let gpu: HourlyPrice = "60 USD/day".parse().unwrap();
//! assert_eq!(gpu.to_string(), "2.5 USD/h");
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Text that cannot be read as the expected kind of value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read \"{text}\" as a {kind}: {problem}; write e.g. \"{example}\" (units: {accepted})")]
pub struct UnitError {
    /// The text that was given.
    pub text: String,
    /// The kind of value expected, e.g. `"data size"`.
    pub kind: &'static str,
    /// What is wrong with the text.
    pub problem: String,
    /// A valid value of this kind, e.g. `"200GB"`.
    pub example: &'static str,
    /// The accepted units: one of the `ACCEPTED_*_UNITS` constants.
    pub accepted: &'static str,
}

/// What the shared reader and writer know about a unit type: the kind's name, an example and the
/// accepted units for errors, and the unit table (base unit first; the writer prefers the earlier
/// of two equally short forms and uses only the first `WRITTEN` units).
trait Unit {
    /// How a unit scales the number: bytes per unit, or a [`Scale`].
    type Scale: Copy + 'static;
    const KIND: &'static str;
    const EXAMPLE: &'static str;
    const ACCEPTED: &'static str;
    const UNITS: &'static [(&'static str, Self::Scale)];
    const WRITTEN: usize = usize::MAX;
    /// Priced in USD: written with a space before the unit; other currencies get their own error.
    const USD: bool = false;
    /// Zero is refused.
    const POSITIVE: bool = false;

    fn error(text: &str, problem: impl Into<String>) -> UnitError {
        let (kind, example, accepted) = (Self::KIND, Self::EXAMPLE, Self::ACCEPTED);
        UnitError {
            text: text.into(),
            kind,
            problem: problem.into(),
            example,
            accepted,
        }
    }

    /// Splits `text` into the whole and fraction digits of its number and the scale of its unit.
    /// Whitespace around the number and inside the unit is ignored.
    fn split(text: &str) -> Result<(&str, &str, Self::Scale), UnitError> {
        let rest = text.trim();
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'));
        let (number, unit) = rest.split_at(number_len.unwrap_or(rest.len()));
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let unit = unit.trim_start();
        let problem = if rest.is_empty() {
            "it is empty".to_string()
        } else if rest.starts_with('-') {
            "it must not be negative".to_string()
        } else if number.is_empty() {
            format!("expected a number at \"{rest}\"")
        } else if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            format!("\"{number}\" is not a number")
        } else if unit.is_empty() {
            format!("the number {number} has no unit")
        } else {
            let compact: String = unit.split_whitespace().collect();
            if let Some(&(_, scale)) = Self::UNITS.iter().find(|(name, _)| *name == compact) {
                return Ok((whole, fraction, scale));
            }
            let currency = compact.split('/').next().unwrap_or_default();
            let code = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
            if Self::USD && code && currency != "USD" {
                format!("only USD is accepted, not \"{currency}\"; convert to USD first")
            } else {
                format!("unknown unit \"{unit}\"")
            }
        };
        Err(Self::error(text, problem))
    }
}

/// Serde as the `Display` text; reading reports a [`UnitError`] through the format's own errors.
macro_rules! text_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Units accepted for a [`DataSize`]: SI powers of 1000 and IEC powers of 1024.
pub const ACCEPTED_DATA_SIZE_UNITS: &str = "B, kB (or KB), MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB";

/// An amount of data in bytes, e.g. `"200GB"`, `"1.5TiB"`, `"512MiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DataSize(u64);

impl Unit for DataSize {
    type Scale = u64;
    const KIND: &'static str = "data size";
    const EXAMPLE: &'static str = "200GB";
    const ACCEPTED: &'static str = ACCEPTED_DATA_SIZE_UNITS;
    #[rustfmt::skip]
    const UNITS: &'static [(&'static str, u64)] = &[
        ("B", 1), ("kB", 1_000), ("KB", 1_000), ("KiB", 1 << 10), ("MB", 1_000_000), ("MiB", 1 << 20),
        ("GB", 1_000_000_000), ("GiB", 1 << 30), ("TB", 1_000_000_000_000), ("TiB", 1 << 40),
        ("PB", 1_000_000_000_000_000), ("PiB", 1 << 50),
    ];
}

impl DataSize {
    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        DataSize(bytes)
    }
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
    /// The size in decimal gigabytes (10^9 bytes), for reports and prices.
    pub fn as_gb_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl FromStr for DataSize {
    type Err = UnitError;

    /// Reads `<number><unit>` exactly; a fraction of a byte rounds down.
    fn from_str(text: &str) -> Result<Self, UnitError> {
        let (whole, fraction, factor) = Self::split(text)?;
        // floor(0.fraction × factor), from the last digit: every step floors exactly, and the
        // carry stays below `factor`, so nothing overflows.
        let digits = fraction.bytes().rev();
        let part = digits.fold(0, |carry, d| (u64::from(d - b'0') * factor + carry) / 10);
        let whole = if whole.is_empty() { "0" } else { whole };
        let bytes = whole
            .parse::<u64>()
            .ok()
            .and_then(|w| w.checked_mul(factor)?.checked_add(part));
        let too_big = "it is larger than the largest data size, 18446744073709551615B (about 18.4 EB)";
        bytes.map(DataSize).ok_or_else(|| Self::error(text, too_big))
    }
}

impl fmt::Display for DataSize {
    /// Writes the shortest exact form with at most three decimals: `"200GB"`, `"1.5TiB"`, `"0B"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut best = format!("{}B", self.0);
        let thousandths = u128::from(self.0) * 1000;
        for &(unit, factor) in Self::UNITS {
            if thousandths % u128::from(factor) == 0 {
                let q = thousandths / u128::from(factor);
                let number = format!("{}.{:03}", q / 1000, q % 1000);
                let text = format!("{}{unit}", number.trim_end_matches('0').trim_end_matches('.'));
                if text.len() < best.len() {
                    best = text;
                }
            }
        }
        f.pad(&best)
    }
}

text_serde!(DataSize);

/// How a unit scales the number to an `f64` base unit: `number × 10^exponent ÷ divisor`.
type Scale = (i32, f64);

fn parse_decimal<T: Unit<Scale = Scale>>(text: &str) -> Result<f64, UnitError> {
    let (whole, fraction, (exponent, divisor)) = T::split(text)?;
    let exponent = i64::from(exponent) - fraction.len() as i64;
    // Digits with a decimal exponent, which the standard library rounds correctly.
    let digits = format!("{whole}{fraction}e{exponent}");
    let value = digits.parse::<f64>().map_err(|e| T::error(text, e.to_string()))? / divisor;
    if !value.is_finite() {
        return Err(T::error(text, "it is too large"));
    }
    if T::POSITIVE && value == 0.0 {
        return Err(T::error(text, format!("{} must be positive", T::KIND)));
    }
    Ok(value)
}

/// Writes the shortest form, over the written units, that reads back to exactly `value`. The
/// base unit always does: `f64`'s `Display` is the shortest text that rounds back to the value.
fn write_decimal<T: Unit<Scale = Scale>>(f: &mut fmt::Formatter<'_>, value: f64) -> fmt::Result {
    let gap = if T::USD { " " } else { "" };
    let mut best = format!("{value}{gap}{}", T::UNITS[0].0);
    for &(unit, (exponent, divisor)) in T::UNITS.iter().take(T::WRITTEN) {
        // Powers of ten up to 10^22 are exact; dividing by 10^9 is more accurate than × 1e-9.
        let scaled = value * divisor / 10f64.powi(exponent.max(0)) * 10f64.powi((-exponent).max(0));
        let text = format!("{scaled}{gap}{unit}");
        if text.len() < best.len() && parse_decimal::<T>(&text) == Ok(value) {
            best = text;
        }
    }
    f.pad(&best)
}

/// Defines `f64` unit types: the struct, its accepted-units constant, unit table and getter,
/// `FromStr`, `Display` and serde. Optional flags set the [`Unit`] constants of the same name.
macro_rules! decimal_units {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            $kind:literal, e.g. $example:literal $(, $flag:ident: $value:literal)*
        }
        #[$accepted_doc:meta] $accepted:ident = $list:literal;
        $units:expr;
        #[$get_doc:meta] $get:ident
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
        pub struct $name(f64);

        #[$accepted_doc]
        pub const $accepted: &str = $list;

        impl Unit for $name {
            type Scale = Scale;
            const KIND: &'static str = $kind;
            const EXAMPLE: &'static str = $example;
            const ACCEPTED: &'static str = $accepted;
            const UNITS: &'static [(&'static str, Scale)] = $units;
            $(const $flag: decimal_units!(@type $flag) = $value;)*
        }

        impl $name {
            #[$get_doc]
            pub const fn $get(self) -> f64 {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = UnitError;
            fn from_str(text: &str) -> Result<Self, UnitError> {
                parse_decimal::<Self>(text).map($name)
            }
        }

        impl fmt::Display for $name {
            /// Writes the shortest form that reads back to exactly this value.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_decimal::<Self>(f, self.0)
            }
        }

        text_serde!($name);
    )*};
    (@type USD) => { bool };
    (@type POSITIVE) => { bool };
    (@type WRITTEN) => { usize };
}

decimal_units! {
    /// The speed of a link or a transfer in bits per second, e.g. `"10Gbps"`, `"1.25GB/s"`; never zero.
    Bandwidth { "bandwidth", e.g. "10Gbps", POSITIVE: true, WRITTEN: 5 }
    /// Units accepted for a [`Bandwidth`]: bits per second, or bytes per second (×8).
    ACCEPTED_BANDWIDTH_UNITS = "bps, kbps, Mbps, Gbps, Tbps, B/s, kB/s, MB/s, GB/s";
    &[("bps", (0, 1.0)), ("kbps", (3, 1.0)), ("Mbps", (6, 1.0)), ("Gbps", (9, 1.0)), ("Tbps", (12, 1.0)),
      ("B/s", (0, 0.125)), ("kB/s", (3, 0.125)), ("MB/s", (6, 0.125)), ("GB/s", (9, 0.125))];
    /// Bits per second.
    bits_per_sec

    /// An amount of money in US dollars, e.g. `"300000 USD"`.
    Money { "money amount", e.g. "300000 USD", USD: true }
    /// Units accepted for [`Money`].
    ACCEPTED_MONEY_UNITS = "USD";
    &[("USD", (0, 1.0))];
    /// US dollars.
    usd

    /// A price per hour of use in US dollars, e.g. `"2.49 USD/h"`, `"1000 USD/month"`; a month is
    /// 730 hours (8760 / 12) and a year 8760 hours (365 days).
    HourlyPrice { "hourly price", e.g. "2.49 USD/h", USD: true }
    /// Units accepted for an [`HourlyPrice`].
    ACCEPTED_HOURLY_PRICE_UNITS = "USD/h (or USD/hour), USD/day, USD/month (730 h), USD/year (8760 h)";
    &[("USD/h", (0, 1.0)), ("USD/hour", (0, 1.0)), ("USD/day", (0, 24.0)), ("USD/month", (0, 730.0)),
      ("USD/year", (0, 8760.0))];
    /// US dollars per hour.
    usd_per_hour

    /// A price per decimal gigabyte (10^9 bytes) in US dollars, e.g. `"0.08 USD/GB"`; prices per
    /// GiB or TiB are converted.
    DataPrice { "data price", e.g. "0.08 USD/GB", USD: true, WRITTEN: 3 }
    /// Units accepted for a [`DataPrice`].
    ACCEPTED_DATA_PRICE_UNITS = "USD/MB, USD/GB, USD/TB, USD/PB, USD/GiB, USD/TiB";
    &[("USD/GB", (0, 1.0)), ("USD/GiB", (9, 1_073_741_824.0)), ("USD/TiB", (9, 1_099_511_627_776.0)),
      ("USD/MB", (3, 1.0)), ("USD/TB", (-3, 1.0)), ("USD/PB", (-6, 1.0))];
    /// US dollars per decimal gigabyte.
    usd_per_gb

    /// How often something happens, in events per second, e.g. `"900/s"`, `"12/h"`.
    Rate { "rate", e.g. "900/s" }
    /// Units accepted for a [`Rate`].
    ACCEPTED_RATE_UNITS = "/ms, /s, /min, /h, /d (or /day)";
    &[("/s", (0, 1.0)), ("/ms", (3, 1.0)), ("/min", (0, 60.0)), ("/h", (0, 3600.0)), ("/d", (0, 86400.0)),
      ("/day", (0, 86400.0))];
    /// Events per second.
    per_sec

    /// Electrical power in kilowatts, e.g. `"1.2kW"`, `"700W"`, `"10MW"`.
    Power { "power", e.g. "1.2kW" }
    /// Units accepted for [`Power`].
    ACCEPTED_POWER_UNITS = "W, kW, MW";
    &[("kW", (0, 1.0)), ("W", (-3, 1.0)), ("MW", (3, 1.0))];
    /// Kilowatts.
    kilowatts

    /// A price of electrical energy in US dollars per kWh, e.g. `"0.15 USD/kWh"`, `"120 USD/MWh"`.
    EnergyPrice { "energy price", e.g. "0.15 USD/kWh", USD: true, WRITTEN: 1 }
    /// Units accepted for an [`EnergyPrice`].
    ACCEPTED_ENERGY_PRICE_UNITS = "USD/kWh, USD/MWh";
    &[("USD/kWh", (0, 1.0)), ("USD/MWh", (-3, 1.0))];
    /// US dollars per kilowatt-hour.
    usd_per_kwh
}

impl Bandwidth {
    /// Bytes per second.
    pub fn bytes_per_sec(self) -> f64 {
        self.0 / 8.0
    }
}

impl HourlyPrice {
    /// US dollars per second.
    pub fn usd_per_second(self) -> f64 {
        self.0 / 3600.0
    }
}

impl DataPrice {
    /// The price in US dollars of `bytes` bytes.
    pub fn usd_for_bytes(self, bytes: u64) -> f64 {
        self.0 * bytes as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    trait Text: FromStr<Err = UnitError> + fmt::Display + fmt::Debug + PartialEq + Copy {}
    impl<T: FromStr<Err = UnitError> + fmt::Display + fmt::Debug + PartialEq + Copy> Text for T {}

    fn read<T: Text>(text: &str) -> Result<T, UnitError> {
        text.parse()
    }

    /// Reads each text, checking the value and the canonical form written back.
    fn check<T: Text>(get: fn(T) -> f64, cases: &[(&str, f64, &str)]) {
        for &(text, want, canonical) in cases {
            let value = read::<T>(text).unwrap_or_else(|e| panic!("{e}"));
            let (got, written) = (get(value), value.to_string());
            assert_eq!((got, written.as_str()), (want, canonical), "{text}");
        }
    }

    /// Every type's error for `text`.
    #[rustfmt::skip]
    fn errors(text: &str) -> Vec<UnitError> {
        [read::<DataSize>(text).err(), read::<Bandwidth>(text).err(), read::<Money>(text).err(),
         read::<HourlyPrice>(text).err(), read::<DataPrice>(text).err(), read::<Rate>(text).err(),
         read::<Power>(text).err(), read::<EnergyPrice>(text).err()].into_iter().flatten().collect()
    }

    #[test]
    #[rustfmt::skip]
    fn data_sizes_are_exact_in_every_unit() {
        for (text, bytes, canonical) in [
            ("10B", 10, "10B"), ("0 B", 0, "0B"), ("3kB", 3_000, "3kB"), ("3KB", 3_000, "3kB"),
            ("1.5KiB", 1_536, "1536B"), ("512MiB", 512 << 20, "512MiB"), ("2.5 MB", 2_500_000, "2.5MB"),
            ("200GB", 200_000_000_000, "200GB"), (".5GiB", 1 << 29, "512MiB"),
            ("2TB", 2 * 10u64.pow(12), "2TB"), ("1.5TiB", 1_649_267_441_664, "1.5TiB"),
            ("3PB", 3 * 10u64.pow(15), "3PB"),
            ("16PiB", 1 << 54, "16PiB"), ("0.0009765625KiB", 1, "1B"), ("1.0009KB", 1_000, "1kB"),
            ("18446744073709551615B", u64::MAX, "18446744073709551615B"),
        ] {
            let size = read::<DataSize>(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((size.bytes(), size.to_string().as_str()), (bytes, canonical), "{text}");
        }
        assert_eq!(DataSize::from_bytes(2_500_000_000).as_gb_f64(), 2.5);
    }

    #[test]
    #[rustfmt::skip]
    fn decimal_types_read_every_unit() {
        check(Bandwidth::bits_per_sec, &[
            ("9600bps", 9600.0, "9600bps"), ("100kbps", 1e5, "100kbps"), ("400Mbps", 4e8, "400Mbps"),
            ("10 Gbps", 1e10, "10Gbps"), ("1.5Tbps", 1.5e12, "1.5Tbps"), ("3B/s", 24.0, "24bps"),
            ("2kB/s", 16e3, "16kbps"), ("500MB/s", 4e9, "4Gbps"), ("1.25GB/s", 1e10, "10Gbps"),
        ]);
        check(Money::usd, &[("300000 USD", 3e5, "300000 USD"), ("2.5USD", 2.5, "2.5 USD")]);
        check(HourlyPrice::usd_per_hour, &[
            ("2.49 USD/h", 2.49, "2.49 USD/h"), ("2.49 USD / hour", 2.49, "2.49 USD/h"),
            ("60 USD/day", 2.5, "2.5 USD/h"), ("1000 USD/month", 1000.0 / 730.0, "1000 USD/month"),
            ("8760 USD/year", 1.0, "1 USD/h"),
        ]);
        check(DataPrice::usd_per_gb, &[
            ("0.08 USD/GB", 0.08, "0.08 USD/GB"), ("1 USD/MB", 1e3, "1000 USD/GB"),
            ("20 USD/TB", 0.02, "0.02 USD/GB"), ("5 USD/PB", 5e-6, "0.000005 USD/GB"),
            ("0.09 USD/GiB", 9e7 / 1_073_741_824.0, "0.09 USD/GiB"),
            ("1024 USD/TiB", 1024e9 / 1_099_511_627_776.0, "1 USD/GiB"),
        ]);
        check(Rate::per_sec, &[
            ("900/s", 900.0, "900/s"), ("5/ms", 5000.0, "5/ms"), ("3000/min", 50.0, "50/s"),
            ("12/h", 12.0 / 3600.0, "12/h"), ("1/d", 1.0 / 86400.0, "1/d"), ("0.5/day", 0.5 / 86400.0, "0.5/d"),
        ]);
        check(Power::kilowatts, &[("1.2kW", 1.2, "1.2kW"), ("700W", 0.7, "700W"), ("10MW", 1e4, "10MW")]);
        check(EnergyPrice::usd_per_kwh, &[
            ("0.15 USD/kWh", 0.15, "0.15 USD/kWh"), ("120 USD/MWh", 0.12, "0.12 USD/kWh"),
        ]);
        assert_eq!(read::<Bandwidth>("1Gbps").map(Bandwidth::bytes_per_sec), Ok(1.25e8));
        assert_eq!(read::<HourlyPrice>("36 USD/h").map(HourlyPrice::usd_per_second), Ok(0.01));
        assert_eq!(read::<DataPrice>("0.08 USD/GB").map(|p| p.usd_for_bytes(50_000_000_000)), Ok(4.0));
    }

    #[test]
    fn errors_name_the_text_problem_and_units() {
        let message = read::<Bandwidth>("5 parsecs").unwrap_err().to_string();
        let want = "cannot read \"5 parsecs\" as a bandwidth: unknown unit \"parsecs\"; write e.g. \
                    \"10Gbps\" (units: bps, kbps, Mbps, Gbps, Tbps, B/s, kB/s, MB/s, GB/s)";
        assert_eq!(message, want);
        #[rustfmt::skip]
        let cases = [
            ("5 parsecs", "unknown unit \"parsecs\""), ("1e9", "unknown unit \"e9\""),
            ("-5", "it must not be negative"), ("  ", "it is empty"), ("42", "the number 42 has no unit"),
            ("x5", "expected a number at \"x5\""), ("+5", "expected a number at \"+5\""),
            ("NaN", "expected a number at \"NaN\""), ("1..5", "\"1..5\" is not a number"),
            (".", "\".\" is not a number"),
        ];
        for (text, want) in cases {
            let errors = errors(text);
            assert_eq!(errors.len(), 8, "{text}");
            for e in errors {
                assert_eq!((e.text.as_str(), e.problem.as_str()), (text, want));
                let units = format!(" (units: {})", e.accepted);
                assert!(e.to_string().ends_with(&units), "{e}");
            }
        }
        let only_usd = |e: &UnitError| e.problem.starts_with("only USD is accepted, not");
        for text in ["5 EUR", "2 EUR/h", "0.1 GBP/GB", "0.2 CHF/kWh"] {
            // DataSize, Bandwidth, Money, HourlyPrice, DataPrice, Rate, Power, EnergyPrice.
            let usd: Vec<bool> = errors(text).iter().map(only_usd).collect();
            assert_eq!(
                usd,
                [false, false, true, true, true, false, false, true],
                "{text}"
            );
        }
        let problem = |text: &str| read::<Bandwidth>(text).unwrap_err().problem;
        assert_eq!(problem("0.000Gbps"), "bandwidth must be positive");
        assert_eq!(problem(&format!("1{}bps", "0".repeat(400))), "it is too large");
        for text in ["99999999999PB", "18446744073709551616B", "16384PiB"] {
            let problem = read::<DataSize>(text).unwrap_err().problem;
            assert!(problem.starts_with("it is larger than the largest"), "{text}");
        }
    }

    #[test]
    fn serde_uses_the_text() {
        let size: DataSize = serde_json::from_str("\"1.5TiB\"").unwrap();
        assert_eq!(size, DataSize(1_536 << 30));
        assert_eq!(serde_json::to_string(&size).unwrap(), "\"1.5TiB\"");
        let price: HourlyPrice = serde_json::from_str("\"2.49 USD/hour\"").unwrap();
        assert_eq!(serde_json::to_string(&price).unwrap(), "\"2.49 USD/h\"");
        let err = serde_json::from_str::<Vec<Bandwidth>>("[\"10Gbps\",\n  \"5 parsecs\"]").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("cannot read \"5 parsecs\" as a bandwidth"),
            "{message}"
        );
        assert_eq!((err.line(), err.column()), (2, 14));
    }

    /// `m / 10^places` written with exactly `places` decimals.
    fn decimal(m: u64, places: u32) -> String {
        let p = 10u64.pow(places);
        if places == 0 {
            m.to_string()
        } else {
            format!("{}.{:0w$}", m / p, m % p, w = places as usize)
        }
    }

    /// Reads `number` in `T`'s `pick`th unit and checks that the value's text reads back the same.
    fn round_trips<T: Text + Unit<Scale = Scale>>(number: &str, pick: usize) -> Result<(), TestCaseError> {
        let (unit, _) = T::UNITS[pick % T::UNITS.len()];
        match read::<T>(&format!("{number} {unit}")) {
            Ok(value) => prop_assert_eq!(read::<T>(&value.to_string()), Ok(value)),
            Err(e) => prop_assert!(T::POSITIVE || !pick.is_multiple_of(T::UNITS.len()), "{e}"),
        }
        Ok(())
    }

    fn all_round_trip(number: &str, pick: usize) -> Result<(), TestCaseError> {
        round_trips::<Bandwidth>(number, pick)?;
        round_trips::<Money>(number, pick)?;
        round_trips::<HourlyPrice>(number, pick)?;
        round_trips::<DataPrice>(number, pick)?;
        round_trips::<Rate>(number, pick)?;
        round_trips::<Power>(number, pick)?;
        round_trips::<EnergyPrice>(number, pick)
    }

    proptest! {
        #[test]
        fn data_size_round_trips(bytes in any::<u64>()) {
            prop_assert_eq!(read::<DataSize>(&DataSize(bytes).to_string()), Ok(DataSize(bytes)));
        }

        #[test]
        fn data_size_fractions_are_exact(m in 0..10_000_000_000u64, places in 0..8u32, pick in 0..12usize) {
            let (unit, factor) = DataSize::UNITS[pick];
            let want = u128::from(m) * u128::from(factor) / 10u128.pow(places);
            let got = read::<DataSize>(&format!("{}{unit}", decimal(m, places))).map(|d| u128::from(d.0));
            prop_assert_eq!(got.ok(), Some(want).filter(|&w| w <= u128::from(u64::MAX)));
        }

        #[test]
        fn decimal_text_round_trips(m in 0..10_000_000u64, places in 0..5u32, pick in any::<usize>()) {
            all_round_trip(&decimal(m, places), pick)?;
        }

        #[test]
        fn any_value_round_trips(x in prop::num::f64::POSITIVE | prop::num::f64::ZERO, pick: usize) {
            prop_assume!(x.is_finite());
            all_round_trip(&x.to_string(), pick)?;
        }
    }
}
