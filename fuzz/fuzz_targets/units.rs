//! The unit readers (durations, sizes, bandwidths, prices, rates, power) on arbitrary text: they
//! never panic, a refusal always says why, and what they accept is written back as text that
//! reads to exactly the same value.

#![no_main]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use hybridsim::kernel::SimDuration;
use hybridsim::vocab::units::{Bandwidth, DataPrice, DataSize, EnergyPrice, HourlyPrice, Money, Power, Rate};
use libfuzzer_sys::fuzz_target;

fn read<T>(text: &str)
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
        Err(error) => assert!(!error.to_string().is_empty(), "an error with no message"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    read::<SimDuration>(text);
    read::<DataSize>(text);
    read::<Bandwidth>(text);
    read::<Money>(text);
    read::<HourlyPrice>(text);
    read::<DataPrice>(text);
    read::<Rate>(text);
    read::<Power>(text);
    read::<EnergyPrice>(text);
});
