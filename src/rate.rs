//! Flood control with a token bucket, one per client, owned by the client's
//! own thread (so it needs no lock).
//!
//! The bucket holds up to `burst` tokens and refills at `per_sec` tokens a
//! second; each line costs one. A person typing never notices it; a script
//! pasting a thousand lines gets `! slow down` and its extra lines dropped.
//! The warning itself is limited to one a second, so that a flood is not
//! answered with a flood.
//!
//! IRC clients expect the other way, "fakelag": every line is answered, in
//! order, and lines over the rate are *delayed* rather than dropped
//! ([`RateLimiter::delay`]). They send bursts on purpose (a `JOIN`, `MODE`
//! and `WHO` per channel at connect), and a dropped line would leave one
//! unanswered.

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

    /// Adds the tokens earned since the last refill.
    fn refill(&mut self, now: Instant) {
        let elapsed = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.last_refill = now;
    }

    /// Takes a token for one line arriving at `now`, if there is one.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if self.per_sec == 0.0 {
            return Verdict::Allow;
        }
        self.refill(now);
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

impl RateLimiter {
    /// Takes a token for one line arriving at `now`, borrowing it if the
    /// bucket is empty, and says how long the line must wait before it is
    /// carried out (zero when a token was there). A caller that waits that
    /// long before reading the next line keeps a client at the rate
    /// exactly, however much it sends.
    pub fn delay(&mut self, now: Instant) -> Duration {
        if self.per_sec == 0.0 {
            return Duration::ZERO;
        }
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_sec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fakelag_delays_lines_over_the_rate_instead_of_dropping_them() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(2, 2, t0);
        assert_eq!(limiter.delay(t0), Duration::ZERO);
        assert_eq!(limiter.delay(t0), Duration::ZERO);
        assert_eq!(limiter.delay(t0), Duration::from_millis(500));
        // The caller waited the 500 ms: the next line waits 500 ms more.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.delay(t1), Duration::from_millis(500));
        // After a pause, the burst is back.
        let later = t1 + Duration::from_secs(10);
        assert_eq!(limiter.delay(later), Duration::ZERO);
        assert_eq!(RateLimiter::new(0, 1, t0).delay(t0), Duration::ZERO);
    }

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
