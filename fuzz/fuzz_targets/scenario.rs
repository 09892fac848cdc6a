//! The scenario loader on arbitrary text: it never panics, and a refusal always says why.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = hybridsim::scenario::load_str(text, Path::new("fuzz.ron")) {
        assert!(!error.to_string().is_empty(), "an error with no message");
    }
});
