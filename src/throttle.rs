//! One throttle for password guessing, whatever the way in.
//!
//! Checking a password is slow on purpose (see [`crypto`](crate::crypto)),
//! so guessing costs the guesser time; but it costs the server a core for
//! the same time, and a guesser with many connections could guess fast and
//! keep the cores busy. Three rules, for the terminal and the web page
//! (and any later protocol) alike:
//!
//! - **Failures are counted per address, and per account and address**,
//!   and each counts *before* the slow hash (a success gives it back), so
//!   parallel attempts cannot all slip through before the first failure is
//!   known. Past a few failures the wait grows: 2 s, 4 s, 8 s … up to 5
//!   minutes. Someone else's failures never lock an account's owner out:
//!   the owner coming from another address is not held back.
//! - **A bounded hashing queue.** At most [`QUEUE`] attempts wait for or run
//!   a hash, and at most [`PER_ADDRESS`] of them from one address; past that,
//!   `server busy` at once, rather than a wait behind an attacker.
//! - Every password check counts: logging in, `/password`, `/unregister`.
//!
//! A simplification, said plainly: records live in memory and are forgotten
//! at a restart, or after 15 quiet minutes.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lock::lock;
use crate::protocol::name_key;

/// Failures allowed before the waits begin.
const FREE_FAILURES: u32 = 3;
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// A record with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// The most password checks waiting for or running a hash.
pub(crate) const QUEUE: usize = 16;
/// The most of them from one address.
pub(crate) const PER_ADDRESS: usize = 2;

/// Why a password may not be checked now. `Display` is what the client is
/// told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThrottleError {
    /// Too many failures lately; try again in this many seconds.
    TooMany(u64),
    /// The hashing queue (or this address's share of it) is full.
    Busy,
}

impl fmt::Display for ThrottleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThrottleError::TooMany(secs) => write!(f, "too many attempts; try again in {secs} s"),
            ThrottleError::Busy => write!(f, "server busy, try again"),
        }
    }
}

impl std::error::Error for ThrottleError {}

/// Failures of one address, or one account from one address.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

impl Record {
    /// How long from `now` until the next attempt is allowed.
    fn wait(&self, now: Instant) -> Duration {
        if self.failures < FREE_FAILURES {
            return Duration::ZERO;
        }
        let doublings = (self.failures - FREE_FAILURES).min(16);
        let wait = Duration::from_secs(2u64 << doublings).min(MAX_WAIT);
        (self.last + wait).saturating_duration_since(now)
    }
}

#[derive(Default)]
struct State {
    by_address: HashMap<IpAddr, Record>,
    by_account: HashMap<(String, IpAddr), Record>,
    /// Attempts in the hashing queue, in all and per address.
    queued: usize,
    queued_from: HashMap<IpAddr, usize>,
}

/// The password throttle, shared by every listener.
#[derive(Default)]
pub(crate) struct Throttle {
    /// Protects the records and the queue counts; held for a few map
    /// operations, never during a hash.
    state: Mutex<State>,
}

/// A password check in progress: it holds a place in the hashing queue and
/// has counted as a failure already. [`succeeded`](Self::succeeded) takes
/// the failure back; dropping it gives the place back.
pub(crate) struct Attempt<'t> {
    throttle: &'t Throttle,
    ip: IpAddr,
    account: String,
}

impl Throttle {
    /// Starts a password check of `account` from `ip`, or says why not.
    pub(crate) fn begin(&self, ip: IpAddr, account: &str) -> Result<Attempt<'_>, ThrottleError> {
        self.begin_at(ip, account, Instant::now())
    }

    fn begin_at(
        &self,
        ip: IpAddr,
        account: &str,
        now: Instant,
    ) -> Result<Attempt<'_>, ThrottleError> {
        let key = (name_key(account), ip);
        let mut guard = lock(&self.state, "password throttle");
        let state = &mut *guard; // one borrow, so its fields can be borrowed apart
        state.forget_old(now);
        let wait = [state.by_address.get(&ip), state.by_account.get(&key)]
            .into_iter()
            .flatten()
            .map(|record| record.wait(now))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Err(ThrottleError::TooMany(wait.as_secs().max(1)));
        }
        let from_ip = state.queued_from.get(&ip).copied().unwrap_or(0);
        if state.queued >= QUEUE || from_ip >= PER_ADDRESS {
            return Err(ThrottleError::Busy);
        }
        state.queued += 1;
        state.queued_from.insert(ip, from_ip + 1);
        for record in [
            state.by_address.entry(ip).or_insert(Record {
                failures: 0,
                last: now,
            }),
            state.by_account.entry(key).or_insert(Record {
                failures: 0,
                last: now,
            }),
        ] {
            record.failures += 1;
            record.last = now;
        }
        Ok(Attempt {
            throttle: self,
            ip,
            account: name_key(account),
        })
    }
}

impl State {
    fn forget_old(&mut self, now: Instant) {
        let fresh = |record: &mut Record| now.duration_since(record.last) < FORGET_AFTER;
        self.by_address.retain(|_, record| fresh(record));
        self.by_account.retain(|_, record| fresh(record));
    }
}

impl Attempt<'_> {
    /// The password was right: the failure counted in advance is taken back.
    pub(crate) fn succeeded(self) {
        let mut guard = lock(&self.throttle.state, "password throttle");
        let state = &mut *guard;
        let key = (self.account.clone(), self.ip);
        for record in [
            state.by_address.get_mut(&self.ip),
            state.by_account.get_mut(&key),
        ]
        .into_iter()
        .flatten()
        {
            record.failures = record.failures.saturating_sub(1);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.throttle.state, "password throttle");
        state.queued = state.queued.saturating_sub(1);
        match state.queued_from.get_mut(&self.ip) {
            Some(count) if *count > 1 => *count -= 1,
            _ => {
                state.queued_from.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    #[test]
    fn failures_count_before_the_check_and_a_success_gives_one_back() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            drop(
                throttle
                    .begin_at(ip(2), "alice", now)
                    .expect("free attempts"),
            );
        }
        assert_eq!(
            throttle.begin_at(ip(2), "alice", now).err(),
            Some(ThrottleError::TooMany(2))
        );
        // Another address is not held back by these failures...
        let owner = throttle.begin_at(ip(9), "alice", now).expect("the owner");
        owner.succeeded();
        // ...and after the wait, the guesser may try again, once.
        let later = now + Duration::from_secs(2);
        drop(
            throttle
                .begin_at(ip(2), "alice", later)
                .expect("after the wait"),
        );
        assert_eq!(
            throttle.begin_at(ip(2), "alice", later).err(),
            Some(ThrottleError::TooMany(4))
        );
    }

    #[test]
    fn the_waits_grow_to_a_limit() {
        let now = Instant::now();
        let record = |failures| Record {
            failures,
            last: now,
        };
        assert!(record(2).wait(now).is_zero());
        assert!(record(3).wait(now) <= Duration::from_secs(2));
        assert!(record(5).wait(now) > Duration::from_secs(7));
        assert!(record(40).wait(now) <= MAX_WAIT);
    }

    #[test]
    fn the_hashing_queue_is_bounded_in_all_and_per_address() {
        let throttle = Throttle::default();
        let now = Instant::now();
        let first = throttle.begin_at(ip(2), "a", now).expect("first");
        let _second = throttle.begin_at(ip(2), "b", now).expect("second");
        assert_eq!(
            throttle.begin_at(ip(2), "c", now).err(),
            Some(ThrottleError::Busy)
        );
        drop(first);
        let _third = throttle
            .begin_at(ip(2), "c", now)
            .expect("a place came back");
        let others: Vec<_> = (0..QUEUE - PER_ADDRESS)
            .map(|i| {
                throttle
                    .begin_at(ip(10 + i as u8), "x", now)
                    .expect("a place")
            })
            .collect();
        assert_eq!(
            throttle.begin_at(ip(200), "x", now).err(),
            Some(ThrottleError::Busy)
        );
        drop(others);
    }
}
