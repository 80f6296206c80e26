//! A small seeded random generator, for tests that pick their actions at
//! random and must be able to replay a run: the seed is printed, and set
//! again from the environment.

use std::time::{SystemTime, UNIX_EPOCH};

/// xorshift64*: tiny, fast, and good enough to pick test actions. Not for
/// anything that needs real randomness.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is not a valid xorshift state, so it is
    /// mapped to another constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi` (`lo` if `hi` is below it).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A generator for one worker, derived from this one's seed, so that
    /// threads do not share state and a run is reproducible per worker.
    pub fn fork(&mut self, worker: u64) -> Rng {
        Rng::new(self.next_u64() ^ worker.wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }
}

/// The seed for a run: the environment variable `var` if it is set (to
/// replay a failure), else one from the clock. Printed, so that a failing
/// run's output says how to replay it.
pub fn seed_from_env(var: &str) -> u64 {
    let seed = match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be an unsigned integer, got {text:?}")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    eprintln!("{var}={seed} (set it to replay this run)");
    seed
}
