//! Closed-form results that simulated runs are validated against: Erlang B and C for M/M/c
//! queues, Pollaczek–Khinchine for M/G/1 (with M/D/1 and M/M/1), and the optimal checkpoint
//! interval and expected wall time of Young (1974) and Daly (2006).
//!
//! Pure functions of `f64` rates and times in consistent units (seconds for checkpointing).
//! Queueing results that need a stable system (utilization ρ < 1) or valid parameters return
//! `Option`; the checkpointing formulas return NaN for negative or NaN inputs.

/// Erlang B: the blocking probability of an M/M/c/c loss system with `servers` servers and
/// offered load `a = λ/μ` (Erlangs).
///
/// Computed by the numerically stable recursion `B₀ = 1`, `Bₖ = a·Bₖ₋₁ / (k + a·Bₖ₋₁)`, in
/// `servers` steps. Gives 1 for `servers = 0` or an infinite load, 0 for zero load with at least
/// one server, and NaN for a negative or NaN load.
pub fn erlang_b(servers: u32, offered_load: f64) -> f64 {
    if offered_load.is_nan() || offered_load < 0.0 {
        return f64::NAN;
    }
    if offered_load.is_infinite() {
        return 1.0;
    }
    (1..=servers).fold(1.0, |b, k| offered_load * b / (f64::from(k) + offered_load * b))
}

/// Steady-state results of an M/M/c queue (Erlang C), from [`erlang_c`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    /// Probability that an arrival waits: `C = c·B_c / (c − a(1 − B_c))` with `B_c` the
    /// [`erlang_b`] of `c` servers and load `a = λ/μ`.
    pub wait_probability: f64,
    /// Mean time in queue `W_q = C / (cμ − λ)`.
    pub mean_wait: f64,
    /// Mean time in system `T = W_q + 1/μ`.
    pub mean_response: f64,
}

/// Whether `(λ, μ, c)` describes an M/M/c queue: `λ ≥ 0` and `μ > 0` finite, `c ≥ 1`.
fn valid_mmc(lambda: f64, mu: f64, servers: u32) -> bool {
    lambda.is_finite() && lambda >= 0.0 && mu.is_finite() && mu > 0.0 && servers >= 1
}

/// Erlang C for an M/M/c queue with arrival rate `lambda`, service rate `mu` per server and
/// `servers` servers (see [`ErlangC`] for the formulas).
///
/// `None` when the queue is unstable (`ρ = λ/(cμ) ≥ 1`) or the parameters are invalid (`λ < 0`,
/// `μ ≤ 0`, no server, or non-finite). For one server `C = ρ` (M/M/1).
pub fn erlang_c(lambda: f64, mu: f64, servers: u32) -> Option<ErlangC> {
    if !valid_mmc(lambda, mu, servers) {
        return None;
    }
    let c = f64::from(servers);
    let a = lambda / mu;
    if a >= c {
        return None;
    }
    let b = erlang_b(servers, a);
    let wait_probability = c * b / (c - a * (1.0 - b));
    let mean_wait = wait_probability / (c * mu - lambda);
    Some(ErlangC {
        wait_probability,
        mean_wait,
        mean_response: mean_wait + 1.0 / mu,
    })
}

/// M/M/c probability that an arrival waits longer than `t`: `P(W_q > t) = C·e^{−(cμ−λ)t}` for
/// `t ≥ 0` (with `C` from [`erlang_c`]), and 1 for `t < 0`.
///
/// An unstable queue (`ρ ≥ 1`) gives 1 (waits grow without bound); invalid parameters (as in
/// [`erlang_c`]) or a NaN `t` give NaN.
pub fn erlang_c_wait_exceeds(lambda: f64, mu: f64, servers: u32, t: f64) -> f64 {
    if !valid_mmc(lambda, mu, servers) || t.is_nan() {
        return f64::NAN;
    }
    match erlang_c(lambda, mu, servers) {
        None => 1.0,
        Some(_) if t < 0.0 => 1.0,
        Some(e) => e.wait_probability * (-(f64::from(servers) * mu - lambda) * t).exp(),
    }
}

/// M/M/c waiting-time quantile: the smallest `t ≥ 0` with `P(W_q ≤ t) ≥ p`, the inverse of
/// [`erlang_c_wait_exceeds`]: 0 when `p ≤ 1 − C` (that share of arrivals does not wait), else
/// `t = ln(C / (1 − p)) / (cμ − λ)` (infinite for `p = 1`).
///
/// `None` when the queue is unstable or invalid (as in [`erlang_c`]) or `p` is outside [0, 1].
pub fn erlang_c_wait_quantile(lambda: f64, mu: f64, servers: u32, p: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    let c = erlang_c(lambda, mu, servers)?.wait_probability;
    let tail = 1.0 - p;
    if tail >= c {
        return Some(0.0);
    }
    Some((c / tail).ln() / (f64::from(servers) * mu - lambda))
}

/// Pollaczek–Khinchine mean wait in queue of an M/G/1 queue: `W_q = λE[S²] / (2(1 − ρ))` with
/// `ρ = λE[S]`.
///
/// `None` when `ρ ≥ 1`, or for invalid moments or rate: `λ < 0`, `E[S] ≤ 0`,
/// `E[S²] < E[S]²` (beyond rounding), or anything non-finite.
pub fn pollaczek_khinchine_wait(lambda: f64, mean_service: f64, second_moment_service: f64) -> Option<f64> {
    let finite = lambda.is_finite() && mean_service.is_finite() && second_moment_service.is_finite();
    let jensen = second_moment_service >= mean_service * mean_service * (1.0 - 1e-12);
    if !finite || lambda < 0.0 || mean_service <= 0.0 || !jensen {
        return None;
    }
    let rho = lambda * mean_service;
    (rho < 1.0).then(|| lambda * second_moment_service / (2.0 * (1.0 - rho)))
}

/// M/D/1 mean wait in queue (deterministic service time `D`): Pollaczek–Khinchine with
/// `E[S²] = D²`, i.e. `W_q = ρD / (2(1 − ρ))`. `None` as for [`pollaczek_khinchine_wait`].
pub fn md1_wait(lambda: f64, service_time: f64) -> Option<f64> {
    pollaczek_khinchine_wait(lambda, service_time, service_time * service_time)
}

/// M/M/1 mean wait in queue (exponential service at rate `μ`): Pollaczek–Khinchine with
/// `E[S] = 1/μ`, `E[S²] = 2/μ²`, i.e. `W_q = ρ / (μ − λ)`. `None` as for
/// [`pollaczek_khinchine_wait`].
pub fn mm1_wait(lambda: f64, mu: f64) -> Option<f64> {
    pollaczek_khinchine_wait(lambda, 1.0 / mu, 2.0 / (mu * mu))
}

/// Young's (1974) first-order optimal checkpoint interval `T_opt ≈ √(2δM)` for checkpoint cost
/// `δ` and mean time between failures `M` (seconds).
pub fn young_interval(checkpoint_cost: f64, mtbf: f64) -> f64 {
    (2.0 * checkpoint_cost * mtbf).sqrt()
}

/// First-order fraction of time wasted (checkpointing plus rework) at Young's interval:
/// `√(2δ/M)`.
pub fn young_waste_fraction(checkpoint_cost: f64, mtbf: f64) -> f64 {
    (2.0 * checkpoint_cost / mtbf).sqrt()
}

/// Daly's (2006) higher-order optimal checkpoint interval (compute time between checkpoints):
/// `T_opt = √(2δM)·[1 + ⅓√(δ/2M) + ⅑(δ/2M)] − δ` for `δ < 2M`, and `T_opt = M` otherwise.
pub fn daly_interval(checkpoint_cost: f64, mtbf: f64) -> f64 {
    if checkpoint_cost.is_nan() || mtbf.is_nan() || checkpoint_cost < 0.0 || mtbf < 0.0 {
        return f64::NAN;
    }
    if checkpoint_cost >= 2.0 * mtbf {
        return mtbf;
    }
    let x = checkpoint_cost / (2.0 * mtbf);
    young_interval(checkpoint_cost, mtbf) * (1.0 + x.sqrt() / 3.0 + x / 9.0) - checkpoint_cost
}

/// Daly's (2006) expected wall-clock time of a job needing `solve_time` `T_s` of computation,
/// checkpointed every `interval` `τ` of computation at cost `δ`, restarting at cost `R` after
/// exponentially distributed failures with mean `M`:
/// `T_w = M·e^{R/M}·(e^{(τ+δ)/M} − 1)·T_s/τ`. Needs `τ > 0` and `M > 0`.
pub fn daly_expected_wall_time(
    solve_time: f64,
    interval: f64,
    checkpoint_cost: f64,
    restart_cost: f64,
    mtbf: f64,
) -> f64 {
    let segments = solve_time / interval;
    mtbf * (restart_cost / mtbf).exp() * ((interval + checkpoint_cost) / mtbf).exp_m1() * segments
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `got` agrees with the reference `want`, given to 6 significant digits, within half a unit
    /// of the 6th digit (`want` may carry more digits).
    fn assert_6_digits(got: f64, want: f64) {
        let unit = 10f64.powi(want.abs().log10().floor() as i32 - 5);
        assert!(
            (got - want).abs() <= unit / 2.0,
            "got {got}, want {want} to 6 significant digits"
        );
    }

    fn erlang(lambda: f64, mu: f64, servers: u32) -> ErlangC {
        erlang_c(lambda, mu, servers).unwrap_or_else(|| panic!("M/M/{servers} λ={lambda} μ={mu} unstable"))
    }

    #[test]
    fn erlang_b_known_values() {
        // B(1, a) = a/(1 + a); B(2, 1) = 1/5; B(0, a) = 1.
        assert_eq!(erlang_b(1, 1.0), 0.5);
        assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-15);
        assert_eq!(erlang_b(0, 3.0), 1.0);
        assert_eq!(erlang_b(5, 0.0), 0.0);
        assert_eq!(erlang_b(5, f64::INFINITY), 1.0);
        assert!(erlang_b(5, -1.0).is_nan());
        // Stable for large systems: no overflow where a^c / c! would.
        let b = erlang_b(10_000, 9_500.0);
        assert!(b.is_finite() && b > 0.0 && b < 0.01);
    }

    #[test]
    fn erlang_c_reference_vectors() {
        let e = erlang(8.0, 1.0, 10);
        assert_6_digits(e.wait_probability, 0.409180);
        assert_6_digits(e.mean_wait, 0.204590);
        assert_6_digits(e.mean_response, 1.204590);
        let e = erlang(2.0, 1.0, 3);
        assert_6_digits(e.wait_probability, 0.444444);
        assert_6_digits(e.mean_wait, 0.444444);
    }

    #[test]
    fn erlang_c_one_server_is_rho() {
        for (lambda, mu) in [(0.5, 1.0), (0.9, 1.0), (3.0, 4.0), (1e-3, 2.0)] {
            let e = erlang(lambda, mu, 1);
            assert!((e.wait_probability - lambda / mu).abs() < 1e-12);
            let mm1 = mm1_wait(lambda, mu).unwrap_or(f64::NAN);
            assert!((e.mean_wait - mm1).abs() <= 1e-12 * mm1.max(1.0));
        }
    }

    #[test]
    fn erlang_c_rejects_unstable_and_invalid() {
        assert_eq!(erlang_c(10.0, 1.0, 10), None);
        assert_eq!(erlang_c(11.0, 1.0, 10), None);
        assert_eq!(erlang_c(1.0, 0.0, 10), None);
        assert_eq!(erlang_c(1.0, 1.0, 0), None);
        assert_eq!(erlang_c(-1.0, 1.0, 2), None);
        assert_eq!(erlang_c(f64::NAN, 1.0, 2), None);
        let idle = erlang(0.0, 1.0, 3);
        assert_eq!(
            (idle.wait_probability, idle.mean_wait, idle.mean_response),
            (0.0, 0.0, 1.0)
        );
    }

    #[test]
    fn erlang_c_wait_tail_and_quantile() {
        let c = erlang(8.0, 1.0, 10).wait_probability;
        assert_eq!(erlang_c_wait_exceeds(8.0, 1.0, 10, 0.0), c);
        assert_eq!(erlang_c_wait_exceeds(8.0, 1.0, 10, -1.0), 1.0);
        // cμ − λ = 2: P(W > 1) = C·e^{−2}.
        assert!((erlang_c_wait_exceeds(8.0, 1.0, 10, 1.0) - c * (-2.0f64).exp()).abs() < 1e-15);
        assert_eq!(erlang_c_wait_exceeds(10.0, 1.0, 10, 5.0), 1.0);
        assert!(erlang_c_wait_exceeds(8.0, -1.0, 10, 1.0).is_nan());
        // Below 1 − C the quantile is 0; above, it inverts the tail.
        assert_eq!(erlang_c_wait_quantile(8.0, 1.0, 10, 0.5), Some(0.0));
        assert_eq!(erlang_c_wait_quantile(8.0, 1.0, 10, 1.0 - c - 1e-12), Some(0.0));
        assert!(erlang_c_wait_quantile(8.0, 1.0, 10, 1.0 - c).is_some_and(|t| t.abs() < 1e-12));
        for p in [0.7, 0.9, 0.99, 0.999] {
            let t = erlang_c_wait_quantile(8.0, 1.0, 10, p).unwrap_or(f64::NAN);
            assert!(
                (erlang_c_wait_exceeds(8.0, 1.0, 10, t) - (1.0 - p)).abs() < 1e-12,
                "p = {p}"
            );
        }
        assert_eq!(erlang_c_wait_quantile(8.0, 1.0, 10, 1.0), Some(f64::INFINITY));
        assert_eq!(erlang_c_wait_quantile(8.0, 1.0, 10, 1.5), None);
        assert_eq!(erlang_c_wait_quantile(10.0, 1.0, 10, 0.5), None);
    }

    #[test]
    fn pollaczek_khinchine_reference_vectors() {
        assert_6_digits(md1_wait(0.5, 1.0).unwrap_or(f64::NAN), 0.5);
        assert_6_digits(md1_wait(0.9, 1.0).unwrap_or(f64::NAN), 4.5);
        assert_6_digits(mm1_wait(0.5, 1.0).unwrap_or(f64::NAN), 1.0);
        // M/D/1 waits half as long as M/M/1 at equal load.
        let ratio = md1_wait(0.7, 1.0).unwrap_or(f64::NAN) / mm1_wait(0.7, 1.0).unwrap_or(f64::NAN);
        assert!((ratio - 0.5).abs() < 1e-12);
        assert_eq!(md1_wait(1.0, 1.0), None);
        assert_eq!(pollaczek_khinchine_wait(0.5, 1.0, 0.5), None);
        assert_eq!(pollaczek_khinchine_wait(0.5, 0.0, 1.0), None);
        assert_eq!(pollaczek_khinchine_wait(-0.5, 1.0, 1.0), None);
        assert_eq!(mm1_wait(0.5, 0.0), None);
    }

    #[test]
    fn checkpoint_intervals() {
        // δ = 5, M = 240: √2400 = 48.9898; Daly 48.9898·(1 + √(1/96)/3 + 1/864) − 5.
        assert_6_digits(young_interval(5.0, 240.0), 48.9898);
        assert_6_digits(young_waste_fraction(5.0, 240.0), 0.204124);
        assert_6_digits(daly_interval(5.0, 240.0), 45.7132);
        assert_eq!(daly_interval(500.0, 240.0), 240.0);
        assert!(daly_interval(-1.0, 240.0).is_nan());
        // Daly's interval is below Young's once δ is subtracted, and converges to it as δ/M → 0.
        assert!((daly_interval(1e-6, 1e6) / young_interval(1e-6, 1e6) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn daly_wall_time_reference_vector() {
        assert_6_digits(daly_expected_wall_time(1000.0, 50.0, 5.0, 10.0, 240.0), 1288.846);
        // Without failures (M → ∞) the wall time tends to T_s·(τ + δ)/τ.
        let no_failures = daly_expected_wall_time(1000.0, 50.0, 5.0, 10.0, 1e12);
        assert!((no_failures - 1100.0).abs() < 1e-3);
    }
}
