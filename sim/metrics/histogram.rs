//! Streaming latency histograms: [`LatencyHistogram`] counts non-negative integer values
//! (nanoseconds) in log-spaced buckets, so percentiles carry a bounded relative error and memory
//! is bounded by the range of values seen, never by how many were recorded.
//!
//! # Buckets
//!
//! HDR-style, with 64 sub-buckets per power of two:
//! - a value `v < 128` has a bucket of its own (index `v`), so small values are exact;
//! - a value `v ≥ 128` with its highest set bit at position `e` (so `2^e ≤ v < 2^(e+1)`) goes to
//!   the bucket named by its top 7 bits (the leading one and 6 more): the bucket spans
//!   `2^(e−6)` consecutive values, all at least `64 · 2^(e−6)`.
//!
//! Reporting a bucket's midpoint is therefore off by at most half a bucket width, which is at
//! most 1/128 ≈ 0.78% of any value in the bucket. The index is computed with `leading_zeros`
//! and shifts only.
//!
//! # Memory
//!
//! Counts are kept for the contiguous range of bucket indices between the lowest and highest
//! bucket recorded so far, and nothing else. The full `u64` range has [`MAX_BUCKETS`] = 3,776
//! buckets (about 30 KB of `u64` counts); values in 1 ms – 10 s span about 13.3 octaves, about
//! 852 buckets (about 6.8 KB).

/// Sub-buckets per power of two, as a power of two: 2^6 = 64.
const SUB_BITS: u32 = 6;

/// Largest number of buckets a histogram can hold: every `u64` value recorded at least once.
///
/// Values below 128 have 128 exact buckets; each of the 57 octaves `[2^e, 2^(e+1))` for
/// `e = 7..=63` has 64 buckets: 128 + 57 × 64 = 3,776.
pub const MAX_BUCKETS: usize = 3_776;

/// Index of the bucket holding `value` (see the module doc). Branch-free.
#[inline]
fn bucket_index(value: u64) -> usize {
    // Position of the highest set bit, floored at 6 so that values below 128 get shift 0.
    let msb = 63 - (value | (1 << SUB_BITS)).leading_zeros();
    let shift = msb - SUB_BITS;
    ((shift as usize) << SUB_BITS) + (value >> shift) as usize
}

/// Smallest and largest value of bucket `index` (inverse of [`bucket_index`]).
fn bucket_bounds(index: usize) -> (u64, u64) {
    if index < (1 << SUB_BITS) {
        return (index as u64, index as u64);
    }
    let shift = (index >> SUB_BITS) as u32 - 1;
    let top = ((index & ((1 << SUB_BITS) - 1)) | (1 << SUB_BITS)) as u64;
    let lower = top << shift;
    (lower, lower + ((1u64 << shift) - 1))
}

/// The value reported for bucket `index`: its midpoint, rounded down.
fn bucket_midpoint(index: usize) -> u64 {
    let (lower, upper) = bucket_bounds(index);
    lower + (upper - lower) / 2
}

/// The nearest rank `ceil(q · count)` (at least 1) of quantile `q`. A product within a few ulps
/// of an integer is taken as that integer, so that `0.07 × 100` is rank 7, not 8.
fn nearest_rank(q: f64, count: u64) -> u64 {
    let exact = q * count as f64;
    let rounded = exact.round();
    let rank = if (exact - rounded).abs() <= 4.0 * f64::EPSILON * exact {
        rounded
    } else {
        exact.ceil()
    };
    (rank as u64).clamp(1, count)
}

/// A streaming histogram of non-negative integer values (nanoseconds) with ≤ 1/128 relative
/// error on quantiles; exact count, sum, mean, minimum and maximum.
///
/// `record` is a handful of integer operations and allocates only when a value falls outside
/// the bucket range seen so far (at most [`MAX_BUCKETS`] buckets in all). Counters are `u64`
/// and never overflow in practice (2^64 values); the sum is an exact `u128`.
///
/// Equality compares the recorded multiset up to bucket resolution, plus the exact count, sum,
/// minimum and maximum: the kept bucket range depends only on the lowest and highest value
/// seen, so histograms of the same values compare equal whatever the recording or merge order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    /// Counts of buckets `offset .. offset + counts.len()`; empty when nothing was recorded.
    counts: Vec<u64>,
    /// Bucket index of `counts[0]`.
    offset: usize,
    /// Number of values recorded.
    count: u64,
    /// Exact sum of values recorded.
    sum: u128,
    /// Bitwise NOT of the smallest value recorded: the derived default 0 stands for "none yet"
    /// (NOT of `u64::MAX`), and recording is a branch-free `max`.
    min_not: u64,
    /// Largest value recorded (0 when empty).
    max: u64,
}

impl LatencyHistogram {
    /// Gives back the room its counts grew into but did not fill, once nothing more will be
    /// recorded in it.
    pub fn shrink_to_fit(&mut self) {
        self.counts.shrink_to_fit();
    }

    /// Bytes its counts hold on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }

    /// An empty histogram; allocates nothing until the first value.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records `n` occurrences of `value` (nothing when `n` is 0).
    #[inline]
    pub fn record_n(&mut self, value: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.add_to_bucket(bucket_index(value), n);
        self.count += n;
        self.sum += u128::from(value) * u128::from(n);
        self.min_not = self.min_not.max(!value);
        self.max = self.max.max(value);
    }

    /// Records every value of `values`, as recording them one at a time would, with the count,
    /// sum, minimum and maximum kept in registers across the batch.
    pub fn record_all(&mut self, values: impl IntoIterator<Item = u64>) {
        let (mut count, mut sum) = (0u64, 0u128);
        let (mut min_not, mut max) = (self.min_not, self.max);
        for value in values {
            self.add_to_bucket(bucket_index(value), 1);
            count += 1;
            sum += u128::from(value);
            min_not = min_not.max(!value);
            max = max.max(value);
        }
        self.count += count;
        self.sum += sum;
        self.min_not = min_not;
        self.max = max;
    }

    /// Adds `n` to bucket `index`'s count, widening the kept range first if it is outside it;
    /// the count, sum and extremes are the caller's.
    #[inline(always)]
    fn add_to_bucket(&mut self, index: usize, n: u64) {
        match self.counts.get_mut(index.wrapping_sub(self.offset)) {
            Some(c) => *c += n,
            None => self.grow_and_add(index, n),
        }
    }

    /// Cold path of [`add_to_bucket`](Self::add_to_bucket): widens the kept range to `index`,
    /// then adds.
    #[cold]
    #[inline(never)]
    fn grow_and_add(&mut self, index: usize, n: u64) {
        self.cover(index, index);
        self.counts[index - self.offset] += n;
    }

    /// Widens the kept bucket range to include `low..=high`, exactly (no slack), so that the
    /// range always spans the lowest to the highest bucket recorded.
    fn cover(&mut self, low: usize, high: usize) {
        if self.counts.is_empty() {
            self.offset = low;
            self.counts.resize(high - low + 1, 0);
            return;
        }
        let end = self.offset + self.counts.len();
        if high >= end {
            self.counts.resize(high - self.offset + 1, 0);
        }
        if low < self.offset {
            self.counts
                .splice(0..0, std::iter::repeat_n(0, self.offset - low));
            self.offset = low;
        }
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether no value was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Exact sum of the values recorded.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// Mean of the values recorded (the exact sum over the count, rounded to `f64`), or `None`
    /// when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// Smallest value recorded (exact), or `None` when empty.
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(!self.min_not)
    }

    /// Largest value recorded (exact), or `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// The `q`-quantile, for `q` in `[0, 1]`, by the nearest-rank definition: the smallest
    /// recorded value `v` such that at least `ceil(q · count)` values (at least one) are `≤ v`.
    ///
    /// The result is exact for values below 128, for rank 1 (the minimum, so `q = 0`) and for
    /// rank `count` (the maximum, so `q = 1`). Otherwise it is the midpoint of the bucket holding
    /// that value, clamped to `[min, max]`: within 1/128 (< 1%) of the exact value.
    ///
    /// `None` when empty or when `q` is outside `[0, 1]` (or NaN).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = nearest_rank(q, self.count);
        if rank == 1 {
            return self.min();
        }
        if rank == self.count {
            return self.max();
        }
        let index = self.offset + self.slot_of_rank(rank);
        Some(bucket_midpoint(index).clamp(!self.min_not, self.max))
    }

    /// Position in `counts` of the bucket holding the value of rank `rank` (1-based, at most
    /// `count`). Scans from whichever end is nearer.
    fn slot_of_rank(&self, rank: u64) -> usize {
        if rank <= self.count / 2 {
            let mut seen = 0;
            for (slot, &c) in self.counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return slot;
                }
            }
        } else {
            // The value of rank `rank` is in the bucket where the count of values above it
            // (scanning down from the top) first reaches `count - rank + 1`.
            let from_top = self.count - rank + 1;
            let mut seen = 0;
            for (slot, &c) in self.counts.iter().enumerate().rev() {
                seen += c;
                if seen >= from_top {
                    return slot;
                }
            }
        }
        self.counts.len() - 1
    }

    /// Number of values recorded that are `≤ bound`.
    ///
    /// Exact when `bound` is below the minimum, at or above the maximum, below 128, or the
    /// upper edge of a bucket. Otherwise the values in the bucket containing `bound` are all
    /// counted as above it, so the result can only be too low (by at most that bucket's count):
    /// SLO attainment computed from it is conservative.
    pub fn count_at_most(&self, bound: u64) -> u64 {
        if self.count == 0 || bound < !self.min_not {
            return 0;
        }
        if bound >= self.max {
            return self.count;
        }
        let index = bucket_index(bound);
        let (_, upper) = bucket_bounds(index);
        // Buckets wholly ≤ bound: those with index ≤ `index`, or < `index` when `bound` is not
        // its upper edge. `bound < max` puts `index` inside the kept range.
        let last = if upper == bound { index + 1 } else { index };
        let end = last.saturating_sub(self.offset).min(self.counts.len());
        self.counts[..end].iter().sum()
    }

    /// Share of values recorded that are `≤ bound`, e.g. the SLO attainment for a latency
    /// bound; see [`count_at_most`](Self::count_at_most) for when it is exact and how it errs
    /// otherwise (never too high). An empty histogram gives 1.0: no value exceeds the bound.
    pub fn fraction_at_most(&self, bound: u64) -> f64 {
        if self.count == 0 {
            return 1.0;
        }
        self.count_at_most(bound) as f64 / self.count as f64
    }

    /// Adds every value recorded in `other` to `self`, as if they had been recorded here.
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        let other_end = other.offset + other.counts.len() - 1;
        self.cover(other.offset, other_end);
        let start = other.offset - self.offset;
        for (mine, &theirs) in self.counts[start..].iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min_not = self.min_not.max(other.min_not);
        self.max = self.max.max(other.max);
    }

    /// Forgets every value recorded; keeps the allocation for reuse.
    pub fn clear(&mut self) {
        self.counts.clear();
        self.offset = 0;
        self.count = 0;
        self.sum = 0;
        self.min_not = 0;
        self.max = 0;
    }

    /// Number of buckets currently kept (the memory used is 8 bytes each); at most
    /// [`MAX_BUCKETS`].
    pub fn bucket_count(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const QUANTILES_PERMILLE: [u64; 8] = [0, 10, 500, 900, 950, 990, 999, 1000];

    /// Exact nearest-rank quantile of sorted data, `q = permille / 1000`, in integer arithmetic.
    fn exact_quantile(sorted: &[u64], permille: u64) -> u64 {
        let n = sorted.len() as u64;
        let rank = (permille * n).div_ceil(1000).max(1);
        sorted[rank as usize - 1]
    }

    fn histogram_of(values: &[u64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for &v in values {
            h.record(v);
        }
        h
    }

    #[test]
    fn bucket_index_matches_bounds() {
        let mut probes: Vec<u64> = (0..5_000).collect();
        for e in 7..64 {
            let p = 1u64 << e;
            probes.extend([p - 1, p, p + 1, p + p / 3, p | (p - 1)]);
        }
        probes.push(u64::MAX);
        for v in probes {
            let i = bucket_index(v);
            let (lo, hi) = bucket_bounds(i);
            assert!(lo <= v && v <= hi, "{v} not in bucket {i} = [{lo}, {hi}]");
            assert!(i < MAX_BUCKETS);
            if v < 128 {
                assert_eq!((lo, hi), (v, v));
            } else {
                // Half a bucket is at most 1/128 of its lower edge.
                assert!((hi - lo + 1) * 64 <= lo, "bucket {i} too wide");
            }
        }
        assert_eq!(bucket_index(u64::MAX), MAX_BUCKETS - 1);
        // Consecutive buckets tile the value range with no gap.
        for i in 1..MAX_BUCKETS {
            assert_eq!(bucket_bounds(i).0, bucket_bounds(i - 1).1 + 1);
            assert_eq!(bucket_index(bucket_bounds(i).0), i);
        }
    }

    #[test]
    fn empty_histogram() {
        let h = LatencyHistogram::new();
        assert!(h.is_empty());
        assert_eq!(
            (h.count(), h.sum(), h.mean(), h.min(), h.max()),
            (0, 0, None, None, None)
        );
        assert_eq!(h.quantile(0.5), None);
        assert_eq!(h.fraction_at_most(10), 1.0);
        assert_eq!(h.bucket_count(), 0);
    }

    #[test]
    fn quantile_rejects_q_outside_unit_interval() {
        let h = histogram_of(&[5, 6, 7]);
        assert_eq!(h.quantile(-0.1), None);
        assert_eq!(h.quantile(1.1), None);
        assert_eq!(h.quantile(f64::NAN), None);
        assert_eq!(h.quantile(0.0), Some(5));
        assert_eq!(h.quantile(1.0), Some(7));
    }

    #[test]
    fn nearest_rank_snaps_float_noise() {
        assert_eq!(nearest_rank(0.07, 100), 7);
        assert_eq!(nearest_rank(0.071, 100), 8);
        assert_eq!(nearest_rank(0.0, 100), 1);
        assert_eq!(nearest_rank(1.0, 100), 100);
        assert_eq!(nearest_rank(0.999, 1000), 999);
        assert_eq!(nearest_rank(0.5, 3), 2);
    }

    #[test]
    fn small_values_are_exact() {
        let values: Vec<u64> = (0..128).rev().collect();
        let h = histogram_of(&values);
        assert_eq!(h.quantile(0.5), Some(63));
        assert_eq!(h.count_at_most(9), 10);
        assert_eq!(h.bucket_count(), 128);
    }

    #[test]
    fn record_n_counts_repeats_and_ignores_zero() {
        let mut a = LatencyHistogram::new();
        a.record_n(1_000_000, 3);
        a.record_n(7, 0);
        let b = histogram_of(&[1_000_000; 3]);
        assert_eq!(a, b);
        assert_eq!(a.min(), Some(1_000_000));
        assert_eq!(a.sum(), 3_000_000);
    }

    #[test]
    fn extreme_values() {
        let h = histogram_of(&[0, u64::MAX, u64::MAX]);
        assert_eq!(h.sum(), 2 * u128::from(u64::MAX));
        assert_eq!(h.min(), Some(0));
        assert_eq!(h.max(), Some(u64::MAX));
        // Rank 2 is reported as the top bucket's midpoint, within 1/128 of u64::MAX.
        let median = h.quantile(0.5).unwrap_or_default();
        assert!((u64::MAX - median) as f64 <= u64::MAX as f64 / 128.0);
        assert_eq!(h.count_at_most(u64::MAX - 1), 1);
        assert_eq!(h.bucket_count(), MAX_BUCKETS);
    }

    #[test]
    fn fraction_at_most_exact_at_bucket_edges_and_conservative_inside() {
        // 1003 lies in bucket [1000, 1007] (width 8 in the octave [512, 1024)).
        let (lo, hi) = bucket_bounds(bucket_index(1003));
        assert_eq!((lo, hi), (1000, 1007));
        let h = histogram_of(&[100, 1000, 1002, 1005, 2000]);
        assert_eq!(h.count_at_most(1007), 4);
        assert_eq!(h.count_at_most(999), 1);
        // Inside the bucket: its three values count as above the bound (true answer 3).
        assert_eq!(h.count_at_most(1003), 1);
        assert_eq!(h.count_at_most(99), 0);
        assert_eq!(h.count_at_most(2000), 5);
        assert!((h.fraction_at_most(1007) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn clear_resets_to_new() {
        let mut h = histogram_of(&[1, 1_000, 1_000_000]);
        h.clear();
        assert_eq!(h, LatencyHistogram::new());
        h.record(5);
        assert_eq!(h, histogram_of(&[5]));
    }

    #[test]
    fn memory_bound_for_1ms_to_10s() {
        // 10 million values log-spread over 1 ms – 10 s (a deterministic LCG).
        let mut h = LatencyHistogram::new();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let (lo, hi) = (1_000_000f64.ln(), 10_000_000_000f64.ln());
        for _ in 0..10_000_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            h.record((lo + u * (hi - lo)).exp() as u64);
        }
        assert_eq!(h.count(), 10_000_000);
        let octaves = (10_000_000_000f64 / 1_000_000f64).log2().ceil() as usize + 1;
        assert!(h.bucket_count() <= octaves * 64, "{} buckets", h.bucket_count());
        assert!(h.bucket_count() <= MAX_BUCKETS);
    }

    /// Mixed test data: uniform over several orders of magnitude, log-uniform, or repeats.
    fn values_strategy() -> impl Strategy<Value = Vec<u64>> {
        let uniform = (0u32..=9).prop_flat_map(|e| prop::collection::vec(0..10u64.pow(e) * 10, 1..400));
        let log_uniform = prop::collection::vec((0.0f64..40.0).prop_map(|x| x.exp() as u64), 1..400);
        let repeated = (
            prop::collection::vec(any::<u64>(), 1..5),
            prop::collection::vec(0usize..5, 1..400),
        )
            .prop_map(|(pool, picks)| picks.into_iter().map(|i| pool[i % pool.len()]).collect());
        let small = prop::collection::vec(0u64..128, 1..400);
        prop_oneof![uniform, log_uniform, repeated, small]
    }

    proptest! {
        #[test]
        fn recording_a_batch_equals_recording_one_at_a_time(
            before in values_strategy(),
            batch in values_strategy(),
        ) {
            let mut one_at_a_time = histogram_of(&before);
            let mut batched = one_at_a_time.clone();
            for &v in &batch {
                one_at_a_time.record(v);
            }
            batched.record_all(batch.iter().copied());
            prop_assert_eq!(&batched, &one_at_a_time);
            prop_assert_eq!(batched.count(), one_at_a_time.count());
            prop_assert_eq!(batched.min(), one_at_a_time.min());
        }

        #[test]
        fn quantiles_within_one_percent(values in values_strategy()) {
            let h = histogram_of(&values);
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for permille in QUANTILES_PERMILLE {
                let exact = exact_quantile(&sorted, permille);
                let got = h.quantile(permille as f64 / 1000.0);
                prop_assert!(got.is_some());
                let got = got.unwrap_or_default();
                if exact < 128 {
                    prop_assert_eq!(got, exact, "q = {}‰", permille);
                } else {
                    let err = (got as f64 - exact as f64).abs() / exact as f64;
                    prop_assert!(err <= 0.01, "q = {}‰: got {} exact {}", permille, got, exact);
                }
            }
        }

        #[test]
        fn exact_summaries(values in values_strategy()) {
            let h = histogram_of(&values);
            let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
            prop_assert_eq!(h.count(), values.len() as u64);
            prop_assert_eq!(h.sum(), sum);
            prop_assert_eq!(h.min(), values.iter().copied().min());
            prop_assert_eq!(h.max(), values.iter().copied().max());
            prop_assert_eq!(h.mean(), Some(sum as f64 / values.len() as f64));
            prop_assert!(h.bucket_count() <= MAX_BUCKETS);
        }

        #[test]
        fn merge_equals_recording_all(a in values_strategy(), b in values_strategy()) {
            let mut merged = histogram_of(&a);
            merged.merge(&histogram_of(&b));
            let mut all = a.clone();
            all.extend(&b);
            prop_assert_eq!(&merged, &histogram_of(&all));
            // Merging into / from empty is the identity.
            let mut empty = LatencyHistogram::new();
            empty.merge(&merged);
            prop_assert_eq!(&empty, &merged);
            merged.merge(&LatencyHistogram::new());
            prop_assert_eq!(&empty, &merged);
        }

        #[test]
        fn fraction_at_most_never_overestimates(values in values_strategy(), bound in any::<u64>()) {
            let h = histogram_of(&values);
            let exact = values.iter().filter(|&&v| v <= bound).count() as u64;
            let got = h.count_at_most(bound);
            prop_assert!(got <= exact);
            let (_, upper) = bucket_bounds(bucket_index(bound));
            if bound < 128 || upper == bound {
                prop_assert_eq!(got, exact);
            }
        }
    }
}
