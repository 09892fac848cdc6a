//! Tests of the arrival processes: counts and gaps against their distributions, rate factors
//! and withdrawal, determinism, spec parsing, and trace replay.

use super::*;
use crate::kernel::RngStreams;
use std::path::Path;

/// The two-sided 99.9% normal quantile.
const Z: f64 = 3.2905;

fn rate(text: &str) -> Rate {
    text.parse().unwrap()
}

fn secs(s: u64) -> SimTime {
    SimTime::from_nanos(s * 1_000_000_000)
}

fn process(spec: &ArrivalSpec) -> ArrivalProcess {
    ArrivalProcess::new(spec, None).unwrap()
}

fn rng(name: &str) -> StreamRng {
    RngStreams::new(20_240_517).stream(name)
}

/// Arrival times from `from` until `until` (exclusive), asking as each arrives; also returns
/// the first arrival at or after `until`, which stays pending.
fn run(
    p: &mut ArrivalProcess,
    rng: &mut StreamRng,
    from: SimTime,
    until: SimTime,
) -> (Vec<SimTime>, Option<SimTime>) {
    let mut times = Vec::new();
    let mut now = from;
    while let Some(arrival) = p.next(now, rng) {
        assert!(arrival.at >= now, "{} before {}", arrival.at, now);
        if arrival.at >= until {
            return (times, Some(arrival.at));
        }
        times.push(arrival.at);
        now = arrival.at;
    }
    (times, None)
}

fn assert_count_in_ci(count: usize, expected: f64, sd: f64, what: &str) {
    let tolerance = Z * sd;
    assert!(
        (count as f64 - expected).abs() <= tolerance,
        "{what}: {count} arrivals, expected {expected:.1} ± {tolerance:.1}"
    );
}

fn poisson(text: &str) -> ArrivalSpec {
    ArrivalSpec::Poisson { rate: rate(text) }
}

#[test]
fn poisson_count_matches_lambda_t() {
    let mut p = process(&poisson("900/s"));
    let (times, _) = run(&mut p, &mut rng("poisson"), SimTime::ZERO, secs(2_000));
    let expected = 900.0 * 2_000.0;
    assert_count_in_ci(times.len(), expected, expected.sqrt(), "poisson");
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn poisson_gaps_are_exponential_with_mean_one_over_lambda() {
    let mut p = process(&poisson("50/s"));
    let (times, _) = run(&mut p, &mut rng("gaps"), SimTime::ZERO, secs(10_000));
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1].as_nanos() - w[0].as_nanos()) as f64 / 1e9)
        .collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    // The sd of an exponential gap equals its mean, 1/λ.
    let tolerance = Z * (1.0 / 50.0) / n.sqrt();
    assert!(
        (mean - 0.02).abs() <= tolerance,
        "mean gap {mean}, want 0.02 ± {tolerance}"
    );
    // Shape: P(gap > mean) = 1/e, a binomial proportion.
    let p_long = (-1.0f64).exp();
    let long = gaps.iter().filter(|&&g| g > 0.02).count();
    assert_count_in_ci(
        long,
        n * p_long,
        (n * p_long * (1.0 - p_long)).sqrt(),
        "gaps above the mean",
    );
}

fn diurnal() -> ArrivalSpec {
    ArrivalSpec::Diurnal {
        peak: rate("20/s"),
        trough: rate("2/s"),
        period: SimDuration::from_hours(24),
        peak_at: SimDuration::from_hours(15),
    }
}

/// ∫ rate over [a, b) hours for the profile of [`diurnal`].
fn diurnal_integral(a: f64, b: f64) -> f64 {
    let (mean, amplitude, omega) = (11.0, 9.0, std::f64::consts::TAU / 24.0);
    let sin = |h: f64| (omega * (h - 15.0)).sin();
    3600.0 * (mean * (b - a) + amplitude / omega * (sin(b) - sin(a)))
}

#[test]
fn diurnal_profile_peaks_at_peak_at() {
    let Source::Diurnal(d) = process(&diurnal()).source else {
        unreachable!()
    };
    let at_hour = |h: f64| d.rate_at(SimTime::from_nanos((h * 3600e9) as u64));
    assert_eq!(at_hour(15.0), 20.0);
    assert!((at_hour(3.0) - 2.0).abs() < 1e-12);
    assert!((at_hour(27.0) - 2.0).abs() < 1e-12);
    assert!((at_hour(39.0) - 20.0).abs() < 1e-12);
    assert!((at_hour(9.0) - 11.0).abs() < 1e-12);
    // peak_at beyond one period is taken modulo the period.
    let spec = ArrivalSpec::Diurnal {
        peak: rate("20/s"),
        trough: rate("2/s"),
        period: SimDuration::from_hours(24),
        peak_at: SimDuration::from_hours(39),
    };
    let Source::Diurnal(e) = process(&spec).source else {
        unreachable!()
    };
    assert_eq!(e.rate_at(secs(15 * 3600)), 20.0);
}

#[test]
fn diurnal_counts_match_the_integral_of_the_rate() {
    let days = 5;
    let mut p = process(&diurnal());
    let (times, _) = run(&mut p, &mut rng("diurnal"), SimTime::ZERO, secs(days * 86_400));
    let total = diurnal_integral(0.0, 24.0 * days as f64);
    assert_count_in_ci(times.len(), total, total.sqrt(), "all");
    // Hour-long windows centred on each hour of the day, summed over the days.
    let mut by_hour = [0usize; 24];
    for t in &times {
        let hour = (t.as_nanos() as f64 / 3600e9 + 0.5) as u64 % 24;
        by_hour[hour as usize] += 1;
    }
    for (hour, name) in [(15, "peak hour"), (3, "trough hour")] {
        let h = hour as f64;
        let expected = days as f64 * diurnal_integral(h - 0.5, h + 0.5);
        assert_count_in_ci(by_hour[hour], expected, expected.sqrt(), name);
    }
    let busiest = (0..24).max_by_key(|&h| by_hour[h]);
    assert_eq!(busiest, Some(15), "{by_hour:?}");
}

fn mmpp(states: &[(&str, u64)]) -> ArrivalSpec {
    let states = states
        .iter()
        .map(|&(r, s)| MmppState {
            rate: rate(r),
            mean_duration: SimDuration::from_secs(s),
        })
        .collect();
    ArrivalSpec::Mmpp { states }
}

/// Counts per batch of `batch` seconds over `batches` batches.
fn batch_counts(p: &mut ArrivalProcess, rng: &mut StreamRng, batch: u64, batches: u64) -> Vec<f64> {
    let (times, _) = run(p, rng, SimTime::ZERO, secs(batch * batches));
    let mut counts = vec![0.0; batches as usize];
    for t in times {
        counts[(t.as_nanos() / (batch * 1_000_000_000)) as usize] += 1.0;
    }
    counts
}

#[test]
fn mmpp_long_run_rate_is_the_time_weighted_average() {
    for (states, average) in [
        (
            &[("100/s", 10), ("10/s", 30)][..],
            (100.0 * 10.0 + 10.0 * 30.0) / 40.0,
        ),
        (
            &[("0/s", 5), ("50/s", 5), ("20/s", 10)][..],
            (50.0 * 5.0 + 20.0 * 10.0) / 20.0,
        ),
    ] {
        let mut p = process(&mmpp(states));
        // Batches much longer than a cycle are nearly independent: the CI comes from their spread.
        let counts = batch_counts(&mut p, &mut rng("mmpp"), 1_000, 200);
        let n = counts.len() as f64;
        let mean = counts.iter().sum::<f64>() / n;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let tolerance = Z * (var / n).sqrt();
        let expected = average * 1_000.0;
        assert!(
            (mean - expected).abs() <= tolerance,
            "{states:?}: {mean} per batch, expected {expected} ± {tolerance}"
        );
        // Bursty: far more variable than Poisson with the same mean.
        assert!(var > 3.0 * expected, "{states:?}: variance {var}");
    }
}

#[test]
fn mmpp_with_equal_rates_is_poisson() {
    // Switching must not distort the process: every switch redraws from the switch time.
    let mut p = process(&mmpp(&[("40/s", 1), ("40/s", 2), ("40/s", 1)]));
    let (times, _) = run(&mut p, &mut rng("mmpp-equal"), SimTime::ZERO, secs(20_000));
    let expected = 40.0 * 20_000.0;
    assert_count_in_ci(times.len(), expected, expected.sqrt(), "mmpp of equal rates");
}

#[test]
fn withdrawing_keeps_the_mmpp_exact() {
    // Rate changes on a fixed grid, independent of the arrivals, each withdrawing the pending
    // arrival: with the factor kept at 1, the process's law must not change. Restarting the
    // state timeline at a withdrawal, instead of keeping the state in force then, would bias
    // the rate upwards: a gap without arrivals says the low state is more likely.
    let average = (50.0 + 0.5) / 2.0;
    let mut p = process(&mmpp(&[("50/s", 1), ("0.5/s", 1)]));
    let mut rng = rng("withdraw");
    let (batch, batches) = (600u64, 300u64);
    let mut counts = vec![0.0; batches as usize];
    let tick = SimDuration::from_millis(770);
    let mut next_tick = SimTime::ZERO.saturating_add(tick);
    let mut withdrawn = 0;
    let mut pending = p.next(SimTime::ZERO, &mut rng).unwrap();
    loop {
        if pending.at <= next_tick {
            let bucket = (pending.at.as_nanos() / (batch * 1_000_000_000)) as usize;
            let Some(count) = counts.get_mut(bucket) else {
                break;
            };
            *count += 1.0;
            pending = p.next(pending.at, &mut rng).unwrap();
        } else {
            let now = next_tick;
            next_tick = next_tick.saturating_add(tick);
            if p.set_rate_factor(now, 1.0) == Ok(true) {
                withdrawn += 1;
                pending = p.next(now, &mut rng).unwrap();
            }
        }
    }
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<f64>() / n;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let (expected, tolerance) = (average * batch as f64, Z * (var / n).sqrt());
    assert!(withdrawn > 50_000, "{withdrawn}");
    assert!(
        (mean - expected).abs() <= tolerance,
        "{mean} per batch, expected {expected} ± {tolerance}"
    );
}

/// Counts over [0, T) at factor 1 and over [T, 2T) after `set_rate_factor(T, 2)`.
fn counts_before_and_after_doubling(spec: &ArrivalSpec, t: u64) -> (usize, usize) {
    let mut p = process(spec);
    let mut rng = rng("surge");
    let (before, pending) = run(&mut p, &mut rng, SimTime::ZERO, secs(t));
    assert!(pending.is_some_and(|at| at > secs(t)));
    assert_eq!(
        p.set_rate_factor(secs(t), 2.0),
        Ok(true),
        "the pending arrival is withdrawn"
    );
    assert_eq!(
        p.set_rate_factor(secs(t), 2.0),
        Ok(false),
        "nothing left to withdraw"
    );
    let (after, _) = run(&mut p, &mut rng, secs(t), secs(2 * t));
    (before.len(), after.len())
}

#[test]
fn rate_factor_doubles_counts() {
    let (before, after) = counts_before_and_after_doubling(&poisson("300/s"), 1_000);
    assert_count_in_ci(before, 300_000.0, 300_000f64.sqrt(), "poisson before");
    assert_count_in_ci(after, 600_000.0, 600_000f64.sqrt(), "poisson after");

    let day = 86_400;
    let (before, after) = counts_before_and_after_doubling(&diurnal(), day);
    let daily = diurnal_integral(0.0, 24.0);
    assert_count_in_ci(before, daily, daily.sqrt(), "diurnal before");
    assert_count_in_ci(after, 2.0 * daily, (2.0 * daily).sqrt(), "diurnal after");

    let (before, after) = counts_before_and_after_doubling(&mmpp(&[("30/s", 3), ("30/s", 7)]), 5_000);
    assert_count_in_ci(before, 150_000.0, 150_000f64.sqrt(), "mmpp before");
    assert_count_in_ci(after, 300_000.0, 300_000f64.sqrt(), "mmpp after");
}

#[test]
fn rate_factor_zero_pauses_and_bad_factors_are_refused() {
    let mut p = process(&poisson("10/s"));
    let mut rng = rng("pause");
    assert_eq!(p.set_rate_factor(SimTime::ZERO, 0.0), Ok(false));
    assert_eq!(p.next(SimTime::ZERO, &mut rng), None);
    assert_eq!(p.set_rate_factor(secs(5), 1.0), Ok(false));
    assert!(p.next(secs(5), &mut rng).is_some_and(|a| a.at >= secs(5)));
    for factor in [-1.0, f64::NAN, f64::INFINITY, 1e308] {
        let refused = p.set_rate_factor(secs(5), factor);
        assert!(
            matches!(refused, Err(ArrivalError::BadRateFactor { .. })),
            "{factor}"
        );
    }
    assert_eq!(p.rate_factor(), 1.0);
}

#[test]
fn same_stream_and_seed_give_the_same_times() {
    for spec in [poisson("100/s"), diurnal(), mmpp(&[("5/s", 2), ("200/s", 1)])] {
        let draw = |seed: u64, name: &str| {
            let mut p = process(&spec);
            run(
                &mut p,
                &mut RngStreams::new(seed).stream(name),
                SimTime::ZERO,
                secs(200),
            )
            .0
        };
        let a = draw(7, "arrivals/chat/eu");
        assert!(a.len() > 100);
        assert_eq!(a, draw(7, "arrivals/chat/eu"));
        assert_ne!(a, draw(8, "arrivals/chat/eu"));
        assert_ne!(a, draw(7, "arrivals/chat/us"));
    }
}

#[test]
fn arrivals_never_come_before_now() {
    let mut p = process(&mmpp(&[("1000/s", 1), ("0/s", 1)]));
    let mut rng = rng("late");
    let first = p.next(SimTime::ZERO, &mut rng).map(|a| a.at);
    // Asking late: the next arrival comes after the later time.
    let late = secs(100);
    let next = p.next(late, &mut rng).map(|a| a.at);
    assert!(first.is_some_and(|f| f < late) && next.is_some_and(|n| n >= late));
    // Synthetic arrivals carry no tokens.
    let arrival = p.next(late, &mut rng).unwrap();
    assert_eq!((arrival.context_tokens, arrival.generated_tokens), (0, 0));
}

#[test]
fn bad_specs_are_refused() {
    let error = |spec: &ArrivalSpec| ArrivalProcess::new(spec, None).unwrap_err();
    assert_eq!(
        error(&ArrivalSpec::Mmpp { states: vec![] }),
        ArrivalError::NoMmppStates
    );
    assert_eq!(
        error(&mmpp(&[("1/s", 1), ("2/s", 0)])),
        ArrivalError::ZeroStateDuration { state: 2 }
    );
    let inverted = ArrivalSpec::Diurnal {
        peak: rate("1/s"),
        trough: rate("2/s"),
        period: SimDuration::from_hours(24),
        peak_at: SimDuration::ZERO,
    };
    let message = error(&inverted).to_string();
    assert_eq!(
        message,
        "diurnal arrivals: peak 1/s is below trough 2/s; swap the two values"
    );
    let flat = ArrivalSpec::Diurnal {
        peak: rate("1/s"),
        trough: rate("1/s"),
        period: SimDuration::ZERO,
        peak_at: SimDuration::ZERO,
    };
    assert_eq!(error(&flat), ArrivalError::ZeroPeriod);
    let trace = ArrivalSpec::Trace(TraceSpec::azure("t.csv"));
    assert_eq!(error(&trace), ArrivalError::TraceMissing { path: "t.csv".into() });
    // Rates of zero give no arrivals rather than an endless loop.
    let mut rng = rng("zero");
    assert_eq!(process(&poisson("0/s")).next(SimTime::ZERO, &mut rng), None);
    assert_eq!(
        process(&mmpp(&[("0/s", 1), ("0/h", 3)])).next(SimTime::ZERO, &mut rng),
        None
    );
}

#[test]
fn specs_read_from_ron() {
    let read = |text: &str| ron::from_str::<ArrivalSpec>(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(read("poisson(rate: \"900/s\")"), poisson("900/s"));
    assert_eq!(
        read("diurnal(peak: \"20/s\", trough: \"2/s\", peak_at: \"15h\")"),
        diurnal()
    );
    assert_eq!(
        read(
            "mmpp(states: [(rate: \"100/s\", mean_duration: \"10s\"), (rate: \"10/s\", mean_duration: \"30s\")])"
        ),
        mmpp(&[("100/s", 10), ("10/s", 30)])
    );
    let spec = read("trace((path: \"../data/t.csv\", repeat: true))");
    let ArrivalSpec::Trace(trace) = &spec else {
        unreachable!()
    };
    assert_eq!(
        (trace.path.as_str(), trace.repeat, trace.time_scale),
        ("../data/t.csv", true, 1.0)
    );
    // With RON's unwrap_variant_newtypes extension the inner parentheses may be left out.
    let unwrapped = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES)
        .from_str::<ArrivalSpec>("trace(path: \"../data/t.csv\", repeat: true)");
    assert_eq!(unwrapped.ok(), Some(spec.clone()));
    for bad in [
        "poisson(rate: \"900/s\", burst: 2)",
        "poisson(rate: \"fast\")",
        "weibull(shape: 2)",
    ] {
        assert!(ron::from_str::<ArrivalSpec>(bad).is_err(), "{bad}");
    }
    for spec in [poisson("900/s"), diurnal(), mmpp(&[("1/s", 1)]), spec] {
        let text = ron::to_string(&spec).unwrap();
        assert_eq!(read(&text), spec, "{text}");
    }
}

// Trace replay.

fn conv() -> (Arc<Trace>, TraceSpec) {
    let name = "AzureLLMInferenceTrace_conv.csv";
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/traces/azure-llm-2023")
        .join(name);
    let spec = TraceSpec::azure(name);
    (
        Arc::new(Trace::load(&path, &spec).unwrap_or_else(|e| panic!("{e}"))),
        spec,
    )
}

fn replay(trace: &Arc<Trace>, spec: TraceSpec) -> ArrivalProcess {
    ArrivalProcess::new(&ArrivalSpec::Trace(spec), Some(trace.clone())).unwrap()
}

/// Every arrival, asking as each arrives, up to `limit` of them.
fn replay_all(p: &mut ArrivalProcess, start: SimTime, limit: usize) -> Vec<Arrival> {
    let mut rng = rng("unused");
    let mut now = start;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(arrival) = p.next(now, &mut rng) else {
            break;
        };
        now = arrival.at;
        out.push(arrival);
    }
    out
}

#[test]
fn trace_replay_reproduces_the_offsets_exactly() {
    let (trace, spec) = conv();
    let arrivals = replay_all(&mut replay(&trace, spec.clone()), SimTime::ZERO, usize::MAX);
    let times: Vec<u64> = arrivals.iter().map(|a| a.at.as_nanos()).collect();
    assert_eq!(times, trace.offsets());
    let tokens: Vec<(u32, u32)> = arrivals
        .iter()
        .map(|a| (a.context_tokens, a.generated_tokens))
        .collect();
    assert_eq!(
        tokens,
        (0..trace.len()).map(|i| trace.tokens(i)).collect::<Vec<_>>()
    );
    // Replay starts at the first call.
    let start = secs(3_600);
    let later = replay_all(&mut replay(&trace, spec), start, 3);
    let later: Vec<u64> = later.iter().map(|a| a.at.as_nanos() - start.as_nanos()).collect();
    assert_eq!(later, &trace.offsets()[..3]);
}

#[test]
fn trace_repeat_wraps_around_one_mean_gap_after_the_last_request() {
    let (trace, spec) = conv();
    let n = trace.len();
    let spec = TraceSpec { repeat: true, ..spec };
    let arrivals = replay_all(&mut replay(&trace, spec), SimTime::ZERO, 2 * n + 1);
    assert_eq!(arrivals.len(), 2 * n + 1);
    let period = trace.duration().as_nanos() + trace.mean_gap().as_nanos();
    assert_eq!(
        trace.mean_gap().as_nanos(),
        (trace.duration().as_nanos() + (n as u64 - 1) / 2) / (n as u64 - 1)
    );
    for (i, arrival) in arrivals.iter().enumerate() {
        let copy = (i / n) as u64;
        assert_eq!(
            arrival.at.as_nanos(),
            copy * period + trace.offsets()[i % n],
            "arrival {i}"
        );
        assert_eq!(
            (arrival.context_tokens, arrival.generated_tokens),
            trace.tokens(i % n)
        );
    }
    assert_eq!(
        arrivals[n].at.as_nanos() - arrivals[n - 1].at.as_nanos(),
        trace.mean_gap().as_nanos()
    );
}

#[test]
fn trace_start_offset_skips() {
    let (full, spec) = conv();
    let skip = SimDuration::from_secs(1_800);
    let spec = TraceSpec {
        start_offset: skip,
        ..spec
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/traces/azure-llm-2023")
        .join(&spec.path);
    let rest = Arc::new(Trace::load(&path, &spec).unwrap());
    let arrivals = replay_all(&mut replay(&rest, spec), SimTime::ZERO, usize::MAX);
    let want: Vec<u64> = full
        .offsets()
        .iter()
        .filter(|&&o| o >= skip.as_nanos())
        .map(|o| o - skip.as_nanos())
        .collect();
    let got: Vec<u64> = arrivals.iter().map(|a| a.at.as_nanos()).collect();
    assert!(!want.is_empty() && want.len() < full.len());
    assert_eq!(got, want);
}

fn small_trace(times_ms: &[u64]) -> (tempfile::NamedTempFile, Arc<Trace>, TraceSpec) {
    use std::io::Write;
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(file, "t,ctx").unwrap();
    for (i, t) in times_ms.iter().enumerate() {
        writeln!(file, "{t},{i}").unwrap();
    }
    let spec = TraceSpec {
        format: crate::workload::trace::TraceFormat::Csv {
            time_column: "t".into(),
            time_unit: crate::workload::trace::TimeUnit::Ms,
            context_column: Some("ctx".into()),
            generated_column: None,
        },
        ..TraceSpec::azure(file.path().display().to_string())
    };
    let trace = Arc::new(Trace::load(file.path(), &spec).unwrap());
    (file, trace, spec)
}

fn ms(t: u64) -> SimTime {
    SimTime::from_nanos(t * 1_000_000)
}

#[test]
fn trace_rate_factor_compresses_gaps_from_now_on() {
    let (_file, trace, spec) = small_trace(&[0, 1_000, 3_000, 7_000, 7_000, 15_000]);
    let mut p = replay(&trace, spec);
    let mut rng = rng("unused");
    assert_eq!(p.next(SimTime::ZERO, &mut rng).map(|a| a.at), Some(ms(0)));
    assert_eq!(p.next(ms(0), &mut rng).map(|a| a.at), Some(ms(1_000)));
    let pending = p.next(ms(1_000), &mut rng).unwrap();
    assert_eq!((pending.at, pending.context_tokens), (ms(3_000), 2));
    // At 2 s the trace runs twice as fast: the request due at 3 s (1 s of trace time away)
    // is withdrawn and comes back 0.5 s later.
    assert_eq!(p.set_rate_factor(ms(2_000), 2.0), Ok(true));
    let again = p.next(ms(2_000), &mut rng).unwrap();
    assert_eq!((again.at, again.context_tokens), (ms(2_500), 2));
    let rest = replay_all(&mut p, again.at, 2);
    let rest: Vec<(SimTime, u32)> = rest.iter().map(|a| (a.at, a.context_tokens)).collect();
    assert_eq!(rest, [(ms(4_500), 3), (ms(4_500), 4)]);
    // Back to normal speed at 5 s (trace time 8 s): the rest follows at the trace's pace.
    assert_eq!(p.set_rate_factor(ms(5_000), 1.0), Ok(false));
    let rest = replay_all(&mut p, ms(5_000), usize::MAX);
    let rest: Vec<(SimTime, u32)> = rest.iter().map(|a| (a.at, a.context_tokens)).collect();
    assert_eq!(rest, [(ms(12_000), 5)]);
    assert_eq!(p.next(ms(12_000), &mut rng), None);
}

#[test]
fn trace_pauses_catches_up_and_repeat_needs_a_span() {
    let (_file, trace, spec) = small_trace(&[0, 1_000, 2_000]);
    let mut p = replay(&trace, spec.clone());
    let mut rng = rng("unused");
    assert_eq!(p.next(SimTime::ZERO, &mut rng).map(|a| a.at), Some(ms(0)));
    assert_eq!(p.next(ms(0), &mut rng).map(|a| a.at), Some(ms(1_000)));
    // Paused at 0.5 s, resumed at 10 s: the rest of the trace comes 9.5 s late.
    assert_eq!(p.set_rate_factor(ms(500), 0.0), Ok(true));
    assert_eq!(p.next(ms(500), &mut rng), None);
    assert_eq!(p.set_rate_factor(ms(10_000), 1.0), Ok(false));
    let rest: Vec<SimTime> = replay_all(&mut p, ms(10_000), 5).iter().map(|a| a.at).collect();
    assert_eq!(rest, [ms(10_500), ms(11_500)]);

    // Asked late, the requests already due arrive at once: none is dropped.
    let mut p = replay(&trace, spec);
    assert_eq!(p.next(SimTime::ZERO, &mut rng).map(|a| a.at), Some(ms(0)));
    let late: Vec<SimTime> = replay_all(&mut p, ms(1_500), 5).iter().map(|a| a.at).collect();
    assert_eq!(late, [ms(1_500), ms(2_000)]);

    let (_file, single, spec) = small_trace(&[5]);
    let repeat = TraceSpec { repeat: true, ..spec };
    let error = ArrivalProcess::new(&ArrivalSpec::Trace(repeat.clone()), Some(single)).unwrap_err();
    assert_eq!(error, ArrivalError::CannotRepeat { path: repeat.path });
}

proptest::proptest! {
    /// The rounding of gaps to nanoseconds is `f64::round`'s, bit for bit, over the whole range
    /// a gap can take: fractions of every size, and whole numbers past 2^53.
    #[test]
    fn gaps_round_as_f64_round_does(bits in 0u64..0x43F0_0000_0000_0000) {
        let x = f64::from_bits(bits);
        proptest::prop_assert_eq!(round_half_up(x), x.round() as u64, "{}", x);
    }

    /// The phase carried from one candidate to the next is the phase of the candidate's time,
    /// whatever the gap (shorter or longer than a period) and wherever the peak falls.
    #[test]
    fn diurnal_phase_advances_as_time_does(
        period_ns in 1u64..=u64::MAX / 2,
        peak_at_ns in 0u64..=u64::MAX,
        at_ns in 0u64..=u64::MAX / 2,
        gap_ns in 0u64..=u64::MAX / 2,
    ) {
        let spec = ArrivalSpec::Diurnal {
            peak: rate("20/s"),
            trough: rate("2/s"),
            period: SimDuration::from_nanos(period_ns),
            peak_at: SimDuration::from_nanos(peak_at_ns),
        };
        let Source::Diurnal(d) = process(&spec).source else { unreachable!() };
        for gap in [gap_ns, gap_ns % period_ns, period_ns - 1, period_ns] {
            let (from, to) = (SimTime::from_nanos(at_ns), SimTime::from_nanos(at_ns + gap));
            proptest::prop_assert_eq!(d.advance(d.since_peak(from), gap), d.since_peak(to));
        }
    }

    /// Thinning's squeeze is exact: at any time, under any profile, the rate lies within the
    /// bounds checked before it, so a candidate is kept or dropped as the rate alone decides.
    #[test]
    fn diurnal_rate_lies_within_its_squeeze_bounds(
        trough in 0.0f64..1e6,
        swing in 0.0f64..1e6,
        period_ns in 1u64..=u64::MAX,
        peak_at_ns in 0u64..=u64::MAX,
        at_ns in 0u64..=u64::MAX,
    ) {
        let spec = ArrivalSpec::Diurnal {
            peak: rate(&format!("{}/s", trough + swing)),
            trough: rate(&format!("{trough}/s")),
            period: SimDuration::from_nanos(period_ns),
            peak_at: SimDuration::from_nanos(peak_at_ns),
        };
        let Source::Diurnal(d) = process(&spec).source else { unreachable!() };
        for t in [at_ns, at_ns / period_ns * period_ns, at_ns.saturating_add(1)] {
            let t = SimTime::from_nanos(t);
            let rate = d.rate_at(t);
            for (low, high) in d.rate_bounds_at(t) {
                proptest::prop_assert!(low <= rate && rate <= high, "{} <= {} <= {}", low, rate, high);
            }
        }
    }
}

/// The squeeze changes no decision: arrivals are those of plain thinning against the rate, from
/// the same stream, one for one.
#[test]
fn diurnal_thinning_keeps_what_the_rate_alone_keeps() {
    use rand::Rng;
    let Source::Diurnal(mut d) = process(&diurnal()).source else {
        unreachable!()
    };
    let exp = d.gap.unwrap();
    let (mut squeezed, mut plain) = (rng("squeeze"), rng("squeeze"));
    let (mut t_squeezed, mut t_plain) = (SimTime::ZERO, SimTime::ZERO);
    for _ in 0..200_000 {
        t_squeezed = d.next(t_squeezed, &mut squeezed).unwrap();
        t_plain = loop {
            t_plain = after(t_plain, draw(&exp, &mut plain).unwrap()).unwrap();
            if plain.random::<f64>() * d.peak < d.rate_at(t_plain) {
                break t_plain;
            }
        };
        assert_eq!(t_squeezed, t_plain);
    }
}

/// Around the profile's turning points and where the polynomial's folding switches (peak,
/// trough, quarter periods), and just before a period ends, the rate lies within its bounds,
/// and the bounds are tight.
#[test]
fn diurnal_rate_lies_within_its_bounds_where_the_approximation_folds() {
    let spec = ArrivalSpec::Diurnal {
        peak: rate("20/s"),
        trough: rate("0/s"),
        period: SimDuration::from_nanos(86_400_000_000_007),
        peak_at: SimDuration::from_hours(15),
    };
    let Source::Diurnal(d) = process(&spec).source else {
        unreachable!()
    };
    let period = 86_400_000_000_007u128;
    let peak_at = 15 * 3_600_000_000_000u128;
    for quarter in 0..=4u128 {
        let edge = peak_at + quarter * period / 4;
        for t in edge.saturating_sub(3)..=edge + 3 {
            let t = SimTime::from_nanos(t as u64);
            let [_, (low, high)] = d.rate_bounds_at(t);
            let rate = d.rate_at(t);
            assert!(
                low <= rate && rate <= high,
                "quarter {quarter}: {low} <= {rate} <= {high}"
            );
            assert!(
                high - low < 20.0 * 1e-6,
                "quarter {quarter}: bounds {low}..{high} are tight"
            );
        }
    }
}

/// At every slice edge of the table, a few nanoseconds either side of it, and in the middle of
/// every slice, the rate lies within the table's bounds: a phase that rounds into the
/// neighbouring slice is still covered, and a phase read against the wrong slice is not (in a
/// slice's middle the neighbours' ranges miss the rate but where the cosine turns).
#[test]
fn diurnal_rate_lies_within_the_table_bounds_at_slice_edges() {
    let period = 86_400_000_000_007u64;
    let spec = ArrivalSpec::Diurnal {
        peak: rate("20/s"),
        trough: rate("0/s"),
        period: SimDuration::from_nanos(period),
        peak_at: SimDuration::ZERO,
    };
    let Source::Diurnal(d) = process(&spec).source else {
        unreachable!()
    };
    let buckets = diurnal::PHASE_BUCKETS as u128;
    for edge in 0..=buckets {
        let at = (u128::from(period) * edge / buckets) as u64;
        let middle = (u128::from(period) * (2 * edge + 1) / (2 * buckets)).min(u128::from(period) - 1) as u64;
        let near_edge = at.saturating_sub(3)..=at.saturating_add(3).min(period - 1);
        for t in near_edge.chain([middle]) {
            let t = SimTime::from_nanos(t);
            let [(low, high), _] = d.rate_bounds_at(t);
            let rate = d.rate_at(t);
            assert!(
                low <= rate && rate <= high,
                "edge {edge}: {low} <= {rate} <= {high}"
            );
            assert!(
                high - low < 20.0 * 0.03,
                "edge {edge}: bounds {low}..{high} are a slice's"
            );
        }
    }
}

#[test]
fn gaps_round_half_up_at_the_edges() {
    let below_half = 0.5f64.next_down();
    let edges = [
        0.0,
        below_half,
        0.5,
        1.5,
        2.5,
        4_503_599_627_370_495.5,
        9_007_199_254_740_994.0,
        // Either side of 2^62, where the rounding changes from doubling to the fraction, of
        // 2^63, and the largest gap below 2^64.
        4_611_686_018_427_387_904f64.next_down(),
        4_611_686_018_427_387_904.0,
        9_223_372_036_854_775_808f64.next_down(),
        9_223_372_036_854_775_808.0,
        18_446_744_073_709_551_616f64.next_down(),
    ];
    for x in edges {
        assert_eq!(round_half_up(x), x.round() as u64, "{x}");
    }
    assert_eq!(round_half_up(below_half), 0, "the trick of adding ½ would give 1");
}
