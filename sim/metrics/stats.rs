//! Small streaming statistics for tests, recovery analysis and experiments: running mean and
//! variance ([`RunningStats`]), batch means for one long correlated run ([`BatchMeans`]), and
//! confidence intervals for a mean ([`mean_confidence_interval`]) and for a proportion
//! ([`proportion_confidence_interval`]).
//!
//! Confidence levels are two-sided, in the open interval (0, 1) (e.g. 0.95); any other level
//! gives `None`. Intervals are returned as `(center, half_width)`.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Running count, mean and variance of a stream of numbers (Welford's algorithm), numerically
/// stable in one pass and mergeable (Chan, Golub & LeVeque's pairwise update).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunningStats {
    count: u64,
    mean: f64,
    /// Sum of squared deviations from the mean.
    m2: f64,
}

impl RunningStats {
    /// No observations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one observation: `mean += δ/n`, `M2 += δ·(x − mean')` with `δ = x − mean`.
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean of the observations, or `None` when there are none.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// Sample variance `Σ(x − x̄)² / (n − 1)`, or `None` with fewer than two observations.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 1).then(|| self.m2 / (self.count - 1) as f64)
    }

    /// Sample standard deviation (square root of [`variance`](Self::variance)).
    pub fn std_dev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Adds every observation of `other`, as if pushed here:
    /// `M2 = M2_a + M2_b + δ²·n_a·n_b/n` with `δ = mean_b − mean_a`.
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count += other.count;
    }

    /// The Student-t confidence interval of the mean at `level`, treating the observations as
    /// independent: `x̄ ± t_{(1+level)/2, n−1} · s/√n`. `None` with fewer than two observations,
    /// an invalid level, or non-finite results.
    pub fn confidence_interval(&self, level: f64) -> Option<(f64, f64)> {
        let t = student_t_quantile(level, self.count.checked_sub(1)?)?;
        let half_width = t * self.std_dev()? / (self.count as f64).sqrt();
        let mean = self.mean()?;
        (mean.is_finite() && half_width.is_finite()).then_some((mean, half_width))
    }
}

/// Whether `level` is a usable two-sided confidence level.
fn valid_level(level: f64) -> bool {
    level > 0.0 && level < 1.0
}

/// The `(1 + level)/2` quantile of Student's t with `freedom` degrees of freedom; `None` for
/// zero degrees of freedom or an invalid level.
fn student_t_quantile(level: f64, freedom: u64) -> Option<f64> {
    if !valid_level(level) || freedom == 0 {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, freedom as f64).ok()?;
    Some(t.inverse_cdf(0.5 + level / 2.0))
}

/// The `(1 + level)/2` quantile of the standard normal; `None` for an invalid level.
fn normal_quantile(level: f64) -> Option<f64> {
    valid_level(level).then(|| Normal::standard().inverse_cdf(0.5 + level / 2.0))
}

/// The batch-means method: splits one long (possibly autocorrelated) steady-state run into
/// consecutive batches of `batch_size` observations and treats the batch means as roughly
/// independent, normal observations of the steady-state mean. Only complete batches count; a
/// trailing partial batch is ignored. Batches must be long compared with the run's
/// autocorrelation time for the interval to be honest.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchMeans {
    batch_size: u64,
    /// Sum and count of the batch being filled.
    partial_sum: f64,
    partial_count: u64,
    /// Statistics of the complete batches' means.
    batches: RunningStats,
}

impl BatchMeans {
    /// Batches of `batch_size` observations (a size of 0 is taken as 1).
    pub fn new(batch_size: u64) -> Self {
        Self {
            batch_size: batch_size.max(1),
            partial_sum: 0.0,
            partial_count: 0,
            batches: RunningStats::new(),
        }
    }

    /// Observations per batch.
    pub fn batch_size(&self) -> u64 {
        self.batch_size
    }

    /// Adds one observation; closes the current batch when it is full.
    pub fn push(&mut self, x: f64) {
        self.partial_sum += x;
        self.partial_count += 1;
        if self.partial_count == self.batch_size {
            self.batches.push(self.partial_sum / self.batch_size as f64);
            self.partial_sum = 0.0;
            self.partial_count = 0;
        }
    }

    /// Number of complete batches.
    pub fn batches(&self) -> u64 {
        self.batches.count()
    }

    /// Mean over the complete batches (the grand mean of their observations), or `None` before
    /// the first batch completes.
    pub fn mean(&self) -> Option<f64> {
        self.batches.mean()
    }

    /// Statistics of the complete batches' means.
    pub fn batch_stats(&self) -> &RunningStats {
        &self.batches
    }

    /// Confidence interval `(mean, half_width)` of the steady-state mean at `level`:
    /// `x̄ ± t_{(1+level)/2, b−1} · s_b/√b` over the `b` batch means with sample standard
    /// deviation `s_b`. `None` with fewer than two batches or an invalid level.
    pub fn confidence_interval(&self, level: f64) -> Option<(f64, f64)> {
        self.batches.confidence_interval(level)
    }
}

/// Student-t confidence interval `(mean, half_width)` of the mean of independent samples (e.g.
/// one value per independent replication): `x̄ ± t_{(1+level)/2, n−1} · s/√n`. `None` with
/// fewer than two samples, an invalid level, or a non-finite sample.
pub fn mean_confidence_interval(samples: &[f64], level: f64) -> Option<(f64, f64)> {
    let mut stats = RunningStats::new();
    for &x in samples {
        stats.push(x);
    }
    stats.confidence_interval(level)
}

/// Wilson score interval for a binomial proportion, as `(center, half_width)`.
///
/// With `p̂ = successes/trials`, `n = trials` and `z` the `(1 + level)/2` normal quantile:
/// `center = (p̂ + z²/2n) / (1 + z²/n)` and
/// `half_width = z/(1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²)`.
///
/// The center is pulled from `p̂` toward ½, and the interval stays within [0, 1] and keeps
/// near-nominal coverage even for `p̂` near 0 or 1 and small `n`, unlike the normal
/// approximation `p̂ ± z√(p̂(1 − p̂)/n)`. `None` when `trials` is 0, `successes > trials`, or the
/// level is invalid.
pub fn proportion_confidence_interval(successes: u64, trials: u64, level: f64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    let z = normal_quantile(level)?;
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half_width = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some((center, half_width))
}

#[cfg(test)]
mod tests {
    use approx::assert_relative_eq;
    use rand::SeedableRng;
    use rand_distr::{Binomial as BinomialSampler, Distribution, Exp, Normal as NormalSampler};
    use rand_pcg::Pcg64Mcg;
    use statrs::distribution::{Binomial, DiscreteCDF};

    use super::*;

    const EXPERIMENTS: u64 = 200;

    #[test]
    fn running_stats_hand_computed() {
        let mut s = RunningStats::new();
        assert_eq!((s.mean(), s.variance(), s.std_dev()), (None, None, None));
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            s.push(x);
        }
        assert_eq!(s.count(), 8);
        assert_relative_eq!(s.mean().unwrap_or(f64::NAN), 5.0);
        assert_relative_eq!(s.variance().unwrap_or(f64::NAN), 32.0 / 7.0, max_relative = 1e-14);
        let mut one = RunningStats::new();
        one.push(3.0);
        assert_eq!((one.mean(), one.variance()), (Some(3.0), None));
    }

    #[test]
    fn running_stats_stable_with_large_offset() {
        let mut s = RunningStats::new();
        for x in [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0] {
            s.push(x);
        }
        assert_relative_eq!(s.variance().unwrap_or(f64::NAN), 30.0, max_relative = 1e-9);
    }

    #[test]
    fn running_stats_merge_equals_pushing_all() {
        let data: Vec<f64> = (0..100)
            .map(|i| (i as f64 * 0.37).sin() * 10.0 + i as f64)
            .collect();
        let mut all = RunningStats::new();
        data.iter().for_each(|&x| all.push(x));
        for split in [0, 1, 37, 99, 100] {
            let (mut a, mut b) = (RunningStats::new(), RunningStats::new());
            data[..split].iter().for_each(|&x| a.push(x));
            data[split..].iter().for_each(|&x| b.push(x));
            a.merge(&b);
            assert_eq!(a.count(), all.count());
            assert_relative_eq!(
                a.mean().unwrap_or(f64::NAN),
                all.mean().unwrap_or(0.0),
                max_relative = 1e-12
            );
            assert_relative_eq!(
                a.variance().unwrap_or(f64::NAN),
                all.variance().unwrap_or(0.0),
                max_relative = 1e-12
            );
        }
    }

    #[test]
    fn student_t_quantiles_match_tables() {
        assert_relative_eq!(
            student_t_quantile(0.95, 9).unwrap_or(0.0),
            2.262157,
            max_relative = 1e-6
        );
        assert_relative_eq!(
            student_t_quantile(0.95, 1).unwrap_or(0.0),
            12.706205,
            max_relative = 1e-6
        );
        assert_relative_eq!(
            student_t_quantile(0.99, 29).unwrap_or(0.0),
            2.756386,
            max_relative = 1e-6
        );
        assert_relative_eq!(
            normal_quantile(0.95).unwrap_or(0.0),
            1.959964,
            max_relative = 1e-6
        );
        assert_eq!(student_t_quantile(0.95, 0), None);
        for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert_eq!(student_t_quantile(bad, 9), None);
            assert_eq!(normal_quantile(bad), None);
        }
    }

    #[test]
    fn mean_confidence_interval_hand_computed() {
        let samples: Vec<f64> = (1..=10).map(f64::from).collect();
        let (mean, half) = mean_confidence_interval(&samples, 0.95).unwrap_or_default();
        assert_relative_eq!(mean, 5.5);
        // s = 3.0276504, t(0.975, 9) = 2.2621572: 2.2621572 × 3.0276504 / √10.
        assert_relative_eq!(half, 2.165851, max_relative = 1e-6);
        assert_eq!(mean_confidence_interval(&[1.0], 0.95), None);
        assert_eq!(mean_confidence_interval(&[1.0, 2.0], 1.0), None);
        assert_eq!(mean_confidence_interval(&[1.0, f64::NAN], 0.95), None);
    }

    #[test]
    fn batch_means_counts_only_complete_batches() {
        let mut b = BatchMeans::new(4);
        assert_eq!(
            (b.batches(), b.mean(), b.confidence_interval(0.95)),
            (0, None, None)
        );
        (1..=4).for_each(|i| b.push(f64::from(i)));
        assert_eq!((b.batches(), b.mean()), (1, Some(2.5)));
        assert_eq!(b.confidence_interval(0.95), None);
        (5..=11).for_each(|i| b.push(f64::from(i)));
        // Batches {1..4}, {5..8}; 9, 10, 11 are a partial batch.
        assert_eq!((b.batches(), b.mean()), (2, Some(4.5)));
        // Batch means 2.5 and 6.5: s = 2√2, t(0.975, 1) = 12.706205, half = 12.706205 × 2.
        let (mean, half) = b.confidence_interval(0.95).unwrap_or_default();
        assert_relative_eq!(mean, 4.5);
        assert_relative_eq!(half, 25.41241, max_relative = 1e-6);
        assert_eq!(BatchMeans::new(0).batch_size(), 1);
    }

    #[test]
    fn wilson_interval_hand_computed() {
        // 8 of 10 at 95%: Wilson interval [0.490162, 0.943318].
        let (center, half) = proportion_confidence_interval(8, 10, 0.95).unwrap_or_default();
        assert_relative_eq!(center - half, 0.490162, max_relative = 1e-5);
        assert_relative_eq!(center + half, 0.943318, max_relative = 1e-5);
        // 0 of 20 at 95%: Wilson interval [0, 0.161125].
        let (center, half) = proportion_confidence_interval(0, 20, 0.95).unwrap_or_default();
        assert_relative_eq!(center - half, 0.0, epsilon = 1e-12);
        assert_relative_eq!(center + half, 0.161125, max_relative = 1e-5);
        assert_eq!(proportion_confidence_interval(0, 0, 0.95), None);
        assert_eq!(proportion_confidence_interval(3, 2, 0.95), None);
        assert_eq!(proportion_confidence_interval(1, 2, 0.0), None);
    }

    /// The binomial 99.9% band (0.05% and 99.95% quantiles) of how many of `EXPERIMENTS`
    /// nominal-95% intervals cover the truth.
    fn coverage_band() -> (u64, u64) {
        let b = Binomial::new(0.95, EXPERIMENTS).unwrap_or_else(|e| panic!("{e}"));
        (b.inverse_cdf(0.0005), b.inverse_cdf(0.9995))
    }

    fn assert_coverage(name: &str, covered: u64) {
        let (lo, hi) = coverage_band();
        assert!(
            (lo..=hi).contains(&covered),
            "{name}: {covered}/{EXPERIMENTS} covered, band [{lo}, {hi}]"
        );
    }

    fn covers(interval: Option<(f64, f64)>, truth: f64) -> bool {
        interval.is_some_and(|(m, h)| (m - truth).abs() <= h)
    }

    #[test]
    fn t_interval_coverage_normal_and_exponential() {
        let normal = NormalSampler::new(3.0, 2.0).unwrap_or_else(|e| panic!("{e}"));
        let exp = Exp::new(0.5).unwrap_or_else(|e| panic!("{e}"));
        let (mut normal_covered, mut exp_covered) = (0, 0);
        for seed in 0..EXPERIMENTS {
            let mut rng = Pcg64Mcg::seed_from_u64(seed);
            let xs: Vec<f64> = (0..30).map(|_| normal.sample(&mut rng)).collect();
            normal_covered += u64::from(covers(mean_confidence_interval(&xs, 0.95), 3.0));
            let ys: Vec<f64> = (0..100).map(|_| exp.sample(&mut rng)).collect();
            exp_covered += u64::from(covers(mean_confidence_interval(&ys, 0.95), 2.0));
        }
        assert_coverage("normal", normal_covered);
        assert_coverage("exponential", exp_covered);
    }

    #[test]
    fn batch_means_coverage_on_autocorrelated_run() {
        // AR(1) x' = φx + ε with φ = 0.5, ε ~ N(0, 1), shifted to mean 10; batches of 200 are
        // long against the correlation time 1/(1 − φ) = 2.
        let noise = NormalSampler::new(0.0, 1.0).unwrap_or_else(|e| panic!("{e}"));
        let mut covered = 0;
        for seed in 0..EXPERIMENTS {
            let mut rng = Pcg64Mcg::seed_from_u64(1_000 + seed);
            let mut bm = BatchMeans::new(200);
            let mut x = noise.sample(&mut rng) / (1.0f64 - 0.25).sqrt();
            for _ in 0..20 * 200 {
                bm.push(10.0 + x);
                x = 0.5 * x + noise.sample(&mut rng);
            }
            assert_eq!(bm.batches(), 20);
            covered += u64::from(covers(bm.confidence_interval(0.95), 10.0));
        }
        assert_coverage("batch means AR(1)", covered);
    }

    #[test]
    fn wilson_coverage() {
        let trials = 50;
        let sampler = BinomialSampler::new(trials, 0.3).unwrap_or_else(|e| panic!("{e}"));
        let mut covered = 0;
        for seed in 0..EXPERIMENTS {
            let mut rng = Pcg64Mcg::seed_from_u64(2_000 + seed);
            let successes = sampler.sample(&mut rng);
            covered += u64::from(covers(
                proportion_confidence_interval(successes, trials, 0.95),
                0.3,
            ));
        }
        assert_coverage("wilson", covered);
    }
}
