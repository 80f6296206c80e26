//! What the generator's threads share: one clock, a few atomic counters, and
//! the clients themselves.
//!
//! Nothing here is behind a lock that two busy threads fight over. The
//! counters are atomics, bumped once per `read` (not once per line); each
//! client's tally has a mutex of its own, taken by its reader and, once a
//! step, by the main thread; and a client's socket is read by one thread and
//! written by another without any lock, because `&TcpStream` implements both
//! `Read` and `Write`. The stack size of the worker threads is here too,
//! since connectors, sweepers and senders all use it.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::options::MAX_STEPS;
use super::tally::Tally;

/// Stack for the generator's worker threads (connectors, sweepers, senders):
/// they need little, and the default of 2 MiB each would only reserve
/// address space.
pub(crate) const WORKER_STACK: usize = 256 * 1024;

/// What every thread of the generator shares. The counters are bumped once
/// per `read` (not once per line), and nothing here is locked.
pub(crate) struct Shared {
    /// The clock of the whole run: every time is nanoseconds since this.
    pub(crate) origin: Instant,
    /// Messages delivered so far, per step: the drain watches it to know
    /// when everything has arrived.
    pub(crate) delivered: Vec<AtomicU64>,
    /// `* lgNNNN joined #room` notices received, and when the latest came.
    pub(crate) joins: AtomicU64,
    pub(crate) last_join: AtomicU64,
    /// Connections the server closed (or that failed) while we were reading.
    closed: AtomicUsize,
    /// Set at the end: readers stop.
    pub(crate) stop: AtomicBool,
    /// Set while one latency is measured in sweep mode: sweepers pause less.
    pub(crate) eager: AtomicBool,
    /// Senders in the run: the size of every tally's sequence table.
    pub(crate) senders: usize,
}

impl Shared {
    pub(crate) fn new(senders: usize) -> Shared {
        Shared {
            origin: Instant::now(),
            delivered: (0..=MAX_STEPS).map(|_| AtomicU64::new(0)).collect(),
            joins: AtomicU64::new(0),
            last_join: AtomicU64::new(0),
            closed: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            eager: AtomicBool::new(false),
            senders,
        }
    }

    /// Now, in nanoseconds since the start of the run.
    pub(crate) fn nanos(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    pub(crate) fn delivered(&self, step: usize) -> u64 {
        self.delivered.get(step).map_or(0, |d| d.load(SeqCst))
    }

    /// Called by a reader whose connection ended. Counted only while the run
    /// is on: at the end we close the connections ourselves.
    pub(crate) fn note_closed(&self) {
        if !self.stop.load(SeqCst) {
            self.closed.fetch_add(1, SeqCst);
        }
    }

    pub(crate) fn closed(&self) -> usize {
        self.closed.load(SeqCst)
    }
}

/// One connected, registered client.
pub(crate) struct Client {
    pub(crate) name: String,
    /// Read by this client's reader, written by a sender: `&TcpStream`
    /// implements both `Read` and `Write`, so the two need no lock.
    pub(crate) stream: TcpStream,
    /// What this client received in the current step. Locked by its reader
    /// once per `read` and by the main thread at the end of a step, so the
    /// lock is practically never contended.
    pub(crate) tally: Mutex<Tally>,
}

impl Client {
    pub(crate) fn tally(&self) -> MutexGuard<'_, Tally> {
        // A reader that panicked leaves its counts behind; keep them.
        self.tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Locks a mutex, taking the data back from a thread that panicked while
/// holding it: a connector that panicked leaves a list that is still good.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
