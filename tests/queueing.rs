//! Queues against their closed forms: M/M/c against Erlang C at three loads, M/D/1 and M/M/1
//! against Pollaczek–Khinchine. Tolerances are batch-means confidence intervals of the run itself
//! (metric windows are the batches), never hand-tuned constants. Each interval is at 99.9%, so
//! that the ten comparisons here together keep a family-wise error of about 1% (Bonferroni).

use hybridsim::experiment::closed_form::{erlang_c, erlang_c_wait_exceeds, pollaczek_khinchine_wait};
use hybridsim::kernel::RunLimits;
use hybridsim::metrics::service::WindowStats;
use hybridsim::metrics::stats::mean_confidence_interval;
use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, conclude_with_model, prepare, simulate};

/// A single-site queue: Poisson arrivals at `rate`/s, `slots` servers, the given service time.
fn queue_scenario(rate: f64, slots: u32, service_time: &str, horizon: &str, window: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "queue", horizon: "{horizon}", seed: 11,
    metrics: (window: "{window}", warmup: "{window}"),
    accelerators: [(name: "ref", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "ref", reserved: (count: 1, price: "1 USD/h"))],
    services: [(
        name: "q",
        model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: {slots}),
        service_time: {service_time},
        replicas: [(pool: "dc/ref", tier: reserved, count: 1)],
        demand: [(origin: "dc", arrivals: poisson(rate: "{rate}/s"))],
        timeout: "1d", queue_limit: 10000000,
    )],
)"#
    )
}

/// A run of the scenario `text`, with the full figures of each of its windows (histograms
/// included), which the batch means below need.
fn run(text: &str) -> Run {
    let scenario = load_str(text, "queue.ron".as_ref()).expect("valid scenario");
    let resolved = scenario.resolve().unwrap();
    let seed = scenario.spec.seed;
    let (mut sim, horizon) = prepare(&resolved, seed).expect("prepares");
    sim.model_mut().serving.keep_windows();
    let stop = sim.run(RunLimits::until(horizon)).expect("runs");
    let (outcome, world) = conclude_with_model(&resolved, seed, sim, stop).expect("run succeeds");
    let windows = world.serving.kept_windows(0).expect("kept").to_vec();
    Run { outcome, windows }
}

struct Run {
    outcome: RunOutcome,
    windows: Vec<WindowStats>,
}

/// Per-window batches `(sum, count)` of a per-request quantity, over the full windows after
/// the first (warm-up) one. Windows are batches of equal time, not of equal count, so the
/// estimate is the ratio Σsum / Σcount and its confidence interval comes from the ratio
/// estimator's residuals (delta method), not from the unweighted mean of window means, which is
/// biased when load and waits move together.
fn batches(run: &Run, f: impl Fn(&WindowStats) -> (f64, f64)) -> Vec<(f64, f64)> {
    let windows = &run.windows;
    windows[1..windows.len() - 1]
        .iter()
        .map(f)
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

fn wait_sum_s(w: &WindowStats) -> (f64, f64) {
    (w.queue.sum() as f64 / 1e9, w.queue.count() as f64)
}

/// Confidence level of each comparison.
const CONFIDENCE: f64 = 0.999;

/// Asserts that the confidence interval of the ratio estimate overlaps `[low, high]`.
fn assert_within(name: &str, batches: &[(f64, f64)], low: f64, high: f64) {
    let (sum, count) = batches
        .iter()
        .fold((0.0, 0.0), |(s, n), (bs, bn)| (s + bs, n + bn));
    let ratio = sum / count;
    let residuals: Vec<f64> = batches.iter().map(|(s, n)| s - ratio * n).collect();
    let (_, residual_half) = mean_confidence_interval(&residuals, CONFIDENCE).expect("enough batches");
    let half = residual_half / (count / batches.len() as f64);
    assert!(
        ratio + half >= low && ratio - half <= high,
        "{name}: simulated {ratio:.6} ± {half:.6} ({CONFIDENCE} CI over {} batches) excludes the closed form [{low:.6}, {high:.6}]",
        batches.len()
    );
    // The test must be able to fail: the interval has to be narrow compared with the value.
    assert!(
        half < 0.1 * high.max(0.01),
        "{name}: CI half-width {half} too wide to mean anything"
    );
}

#[test]
fn mmc_mean_wait_and_wait_tail_match_erlang_c_at_three_loads() {
    let (mu, c) = (10.0, 10);
    for (rate, horizon, window) in [(50.0, "2h", "2m"), (80.0, "3h", "3m"), (95.0, "8h", "8m")] {
        let outcome = run(&queue_scenario(
            rate,
            c,
            r#"exponential(mean: "100ms")"#,
            horizon,
            window,
        ));
        let exact = erlang_c(rate, mu, c).expect("stable queue");
        let name = format!("M/M/{c} at rho {}", rate / (mu * f64::from(c)));
        let waits = batches(&outcome, wait_sum_s);
        assert_within(
            &format!("{name} mean wait"),
            &waits,
            exact.mean_wait,
            exact.mean_wait,
        );
        // P(W > t) at t = 50 ms; the histogram resolves t to within 1%, so accept that band.
        let t_ns = 50_000_000;
        let tail = batches(&outcome, |w| {
            let count = w.queue.count() as f64;
            (count - w.queue.fraction_at_most(t_ns) * count, count)
        });
        let (low, high) = (
            erlang_c_wait_exceeds(rate, mu, c, 0.0505),
            erlang_c_wait_exceeds(rate, mu, c, 0.0495),
        );
        assert_within(&format!("{name} P(W > 50ms)"), &tail, low, high);
        // P(W > 0), Erlang C's wait probability: zero waits are counted exactly.
        let waited = batches(&outcome, |w| {
            let count = w.queue.count() as f64;
            (count - w.queue.count_at_most(0) as f64, count)
        });
        let p_wait = exact.wait_probability;
        assert_within(&format!("{name} P(W > 0)"), &waited, p_wait, p_wait);
        // The summary's figure covers the whole run after warm-up: it must agree with the
        // windows' estimate as well.
        let reported = outcome.outcome.summary.services["q"]
            .wait_probability
            .expect("requests served");
        assert_within(&format!("{name} summary P(W > 0)"), &waited, reported, reported);
        let summary = &outcome.outcome.summary.services["q"];
        assert_eq!(
            summary.requests.arrived,
            summary.requests.served + summary.requests.in_flight
        );
    }
}

#[test]
fn md1_and_mm1_mean_waits_match_pollaczek_khinchine() {
    // M/D/1: λ = 9/s, S = 100 ms (ρ = 0.9): W_q = λE[S²]/(2(1−ρ)) = 0.45 s.
    let outcome = run(&queue_scenario(
        9.0,
        1,
        r#"deterministic(time: "100ms")"#,
        "12h",
        "12m",
    ));
    let exact = pollaczek_khinchine_wait(9.0, 0.1, 0.01).expect("stable");
    assert_within("M/D/1 mean wait", &batches(&outcome, wait_sum_s), exact, exact);
    // M/M/1: λ = 5/s, E[S] = 100 ms (ρ = 0.5): E[S²] = 2·0.01, W_q = 0.1 s.
    let outcome = run(&queue_scenario(
        5.0,
        1,
        r#"exponential(mean: "100ms")"#,
        "24h",
        "24m",
    ));
    let exact = pollaczek_khinchine_wait(5.0, 0.1, 0.02).expect("stable");
    assert_within("M/M/1 mean wait", &batches(&outcome, wait_sum_s), exact, exact);
}

#[test]
fn the_same_seed_gives_the_same_summary_and_another_seed_does_not() {
    let text = queue_scenario(80.0, 10, r#"exponential(mean: "100ms")"#, "10m", "1m");
    let scenario = load_str(&text, "queue.ron".as_ref()).unwrap();
    let json =
        |seed| serde_json::to_string(&simulate(&scenario.resolve().unwrap(), seed).unwrap().summary).unwrap();
    assert_eq!(json(3), json(3));
    assert_ne!(json(3), json(4));
}
