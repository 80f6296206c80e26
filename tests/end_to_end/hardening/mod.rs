//! The server under attack and under load. Each file is one attack or one
//! accident, and checks from the outside that the server survives it and
//! that the other clients barely notice.
//!
//! These tests measure the server while they load it: round trips, CPU
//! time, memory, threads and file descriptors, with hundreds of
//! connections at once. Two of them at the same time would disturb each
//! other's figures on a small machine, so each one first takes its turn
//! ([`one_at_a_time`]). The lighter tests of the other parts may still run
//! alongside.
//!
//! `password_throttle` runs `guessers.py`, password guessers spread over
//! several loopback addresses: Python can choose a socket's source address
//! before connecting, std cannot.

use std::sync::{Mutex, MutexGuard, PoisonError};

mod client_output;
mod crash;
mod fds;
mod flood;
mod fuzz;
mod limits;
mod password_throttle;
mod room_churn;
mod slowloris;
mod soak;
mod stalled_readers;
mod stalled_stderr;
mod stalled_writers;
mod storm;
mod web_checks;

/// Waits until no other hardening test runs, and holds that until the
/// returned guard is dropped, at the end of the test.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that fails while it holds the lock poisons it. The lock
    // guards no data, so the next test takes its turn all the same.
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}
