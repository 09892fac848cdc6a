//! The spot availability trace reader on arbitrary bytes: it never panics, a refusal always says
//! why, and a trace it accepts can be replayed. The first byte picks the reading options, the
//! rest is the file.

#![no_main]

use std::path::Path;

use hybridsim::incident::spot::{AvailabilityTrace, AvailabilityTraceSpec, AvailabilityValues};
use hybridsim::kernel::SimDuration;
use libfuzzer_sys::fuzz_target;

fn spec(options: u8) -> AvailabilityTraceSpec {
    let mut spec = AvailabilityTraceSpec::new("fuzz.json");
    if options & 1 != 0 {
        spec.values = AvailabilityValues::AvailableInstances;
    }
    spec.gpus_per_instance = [1, 8, 0, u32::MAX][usize::from(options >> 1 & 3)];
    spec.gap = [None, Some(SimDuration::from_secs(600))][usize::from(options >> 3 & 1)];
    spec.repeat = options & 16 != 0;
    spec
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, bytes)) = data.split_first() else {
        return;
    };
    match AvailabilityTrace::from_bytes(Path::new("fuzz.json"), bytes, &spec(options)) {
        Ok(trace) => {
            let mut at = SimDuration::ZERO;
            for _ in 0..16 {
                let _ = trace.gpus_at(at);
                match trace.next_change(at) {
                    Some((next, _)) => {
                        assert!(next > at, "a change at {next} is not after {at}");
                        at = next;
                    }
                    None => break,
                }
            }
            let _ = trace.duration();
        }
        Err(error) => assert!(!error.to_string().is_empty(), "an error with no message"),
    }
});
