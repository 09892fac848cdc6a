//! The request trace reader (the Azure LLM layout and generic CSV) on arbitrary bytes: it never
//! panics, a refusal always says why, and a trace it accepts can be replayed. The first byte
//! picks the reading options, the rest is the file.

#![no_main]

use std::path::Path;

use hybridsim::kernel::SimDuration;
use hybridsim::workload::trace::{TimeUnit, Trace, TraceFormat, TraceSpec};
use libfuzzer_sys::fuzz_target;

fn spec(options: u8) -> TraceSpec {
    let mut spec = TraceSpec::azure("fuzz.csv");
    if options & 1 != 0 {
        let time_unit =
            [TimeUnit::S, TimeUnit::Ms, TimeUnit::Us, TimeUnit::Ns][usize::from(options >> 1 & 3)];
        spec.format = TraceFormat::Csv {
            time_column: "t".into(),
            time_unit,
            context_column: Some("in".into()),
            generated_column: (options & 8 != 0).then(|| "out".into()),
        };
    }
    spec.time_scale = [1.0, 0.5, 1e-9, 1e12][usize::from(options >> 4 & 3)];
    spec.repeat = options & 64 != 0;
    if options & 128 != 0 {
        spec.start_offset = SimDuration::from_secs(1);
    }
    spec
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, bytes)) = data.split_first() else {
        return;
    };
    match Trace::from_bytes(Path::new("fuzz.csv"), bytes, &spec(options)) {
        Ok(trace) => {
            let _ = (trace.duration(), trace.mean_gap());
            assert!(
                trace.offsets().windows(2).all(|w| w[0] <= w[1]),
                "offsets out of order"
            );
            for i in 0..trace.len() {
                let _ = trace.tokens(i);
            }
        }
        Err(error) => assert!(!error.to_string().is_empty(), "an error with no message"),
    }
});
