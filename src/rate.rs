//! Flood control with a token bucket, one per client, owned by the client's
//! own thread (so it needs no lock).
//!
//! The bucket holds up to `burst` tokens and refills at `per_sec` tokens a
//! second; each line costs one. A person typing never notices it; a script
//! pasting a thousand lines gets `! slow down` and its extra lines dropped.
//! The warning itself is limited to one a second, so that a flood is not
//! answered with a flood.

use std::time::{Duration, Instant};

/// A token bucket. `per_sec == 0` turns it off.
#[derive(Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last_refill: Instant,
    last_warning: Option<Instant>,
}

/// What to do with one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Drop the line and tell the client to slow down.
    DropAndWarn,
    /// Drop the line quietly: the client was warned less than a second ago.
    Drop,
}

impl RateLimiter {
    pub fn new(per_sec: u32, burst: u32, now: Instant) -> RateLimiter {
        RateLimiter {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last_refill: now,
            last_warning: None,
        }
    }

    /// Takes a token for one line arriving at `now`, if there is one.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if self.per_sec == 0.0 {
            return Verdict::Allow;
        }
        let elapsed = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        let warned_recently = self
            .last_warning
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
        if warned_recently {
            Verdict::Drop
        } else {
            self.last_warning = Some(now);
            Verdict::DropAndWarn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_lines_are_dropped_with_one_warning() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(2, 3, t0);
        assert_eq!(limiter.check(t0), Verdict::Allow);
        assert_eq!(limiter.check(t0), Verdict::Allow);
        assert_eq!(limiter.check(t0), Verdict::Allow);
        assert_eq!(limiter.check(t0), Verdict::DropAndWarn);
        assert_eq!(limiter.check(t0), Verdict::Drop);
    }

    #[test]
    fn tokens_refill_at_the_rate() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(2, 1, t0);
        assert_eq!(limiter.check(t0), Verdict::Allow);
        assert_eq!(limiter.check(t0), Verdict::DropAndWarn);
        assert_eq!(
            limiter.check(t0 + Duration::from_millis(250)),
            Verdict::Drop
        );
        assert_eq!(
            limiter.check(t0 + Duration::from_millis(500)),
            Verdict::Allow
        );
        // A second after the first warning, a new one may be sent.
        assert_eq!(
            limiter.check(t0 + Duration::from_millis(1100)),
            Verdict::Allow
        );
        assert_eq!(
            limiter.check(t0 + Duration::from_millis(1100)),
            Verdict::DropAndWarn
        );
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(0, 1, t0);
        for _ in 0..1000 {
            assert_eq!(limiter.check(t0), Verdict::Allow);
        }
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_burst() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(10, 2, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(limiter.check(later), Verdict::Allow);
        assert_eq!(limiter.check(later), Verdict::Allow);
        assert_eq!(limiter.check(later), Verdict::DropAndWarn);
    }
}
