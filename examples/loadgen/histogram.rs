//! Latencies in a fixed-size histogram, so that a reader can count a million
//! deliveries without keeping a million numbers, and the tallies of a
//! thousand clients add up bucket by bucket at the end of a step.
//!
//! The buckets are those of an HDR histogram in miniature: exact below
//! 64 µs, then 32 buckets per power of two.

/// Latencies in microseconds, counted in buckets: exact below 64 µs, then 32
/// buckets per power of two, so a percentile read from it is within about
/// 1.6 % of the true value. A few kilobytes per tally whatever the number of
/// messages, and two histograms add bucket by bucket.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// Empty until the first value, so idle clients cost nothing.
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

const EXACT_BELOW: u64 = 64;
const SUB_BUCKET_BITS: u32 = 5;
/// Values are capped at 2^40 µs (12 days): plenty.
const TOP_POWER: u32 = 40;
const BUCKETS: usize = EXACT_BELOW as usize + ((TOP_POWER - 6) << SUB_BUCKET_BITS) as usize;

impl Histogram {
    pub(crate) fn record(&mut self, us: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[bucket_of(us)] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    pub(crate) fn absorb(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The value below which a fraction `p` (0 to 1) of the values lie, in
    /// milliseconds; None when empty.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_middle(bucket).min(self.max_us) as f64 / 1000.0);
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }

    pub fn max_ms(&self) -> Option<f64> {
        (self.total > 0).then(|| self.max_us as f64 / 1000.0)
    }
}

fn bucket_of(us: u64) -> usize {
    let us = us.min((1 << TOP_POWER) - 1);
    if us < EXACT_BELOW {
        return us as usize;
    }
    let power = 63 - us.leading_zeros(); // 6 or more
    let sub = (us >> (power - SUB_BUCKET_BITS)) & ((1 << SUB_BUCKET_BITS) - 1);
    EXACT_BELOW as usize + (((power - 6) << SUB_BUCKET_BITS) as usize) + sub as usize
}

fn bucket_middle(bucket: usize) -> u64 {
    if bucket < EXACT_BELOW as usize {
        return bucket as u64;
    }
    let i = (bucket - EXACT_BELOW as usize) as u64;
    let power = (i >> SUB_BUCKET_BITS) as u32 + 6;
    let sub = i & ((1 << SUB_BUCKET_BITS) - 1);
    let width = 1u64 << (power - SUB_BUCKET_BITS);
    ((1 << SUB_BUCKET_BITS) + sub) * width + width / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_two_percent() {
        let mut histogram = Histogram::default();
        for us in 1..=100_000 {
            histogram.record(us);
        }
        for (p, exact) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
            let got = histogram.percentile_ms(p).expect("values were recorded");
            assert!((got - exact).abs() / exact < 0.02, "p{p}: {got} vs {exact}");
        }
        assert_eq!(histogram.max_ms(), Some(100.0));
    }
}
