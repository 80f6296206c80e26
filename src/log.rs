//! The activity log: one line per event on standard error, with the time.
//!
//! Writing to stderr can block: when the server runs under a supervisor
//! that stops reading its output, the pipe fills and every `write` waits.
//! A thread that logs would then stop too, and if it was a writer thread or
//! the accept loop, so would the chat. So `log!` never writes: it puts the
//! line in a bounded queue, and one thread of its own (`log`) writes the
//! queue to stderr, whole lines with one call each, so lines never mix. If
//! the queue is full, lines are dropped and counted, and the next line
//! written says how many were lost. [`flush`] waits (a bounded time) for the
//! queue to empty, at shutdown.
//!
//! A production server would use a logging crate with levels and rotation;
//! for a LAN chat, `server 2>> chat.log` is enough.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The most lines waiting for stderr; past that, lines are dropped.
const QUEUE_LINES: usize = 10_000;

/// The queue of lines for stderr and its writer thread's signals.
struct Queue {
    /// Protects the waiting lines and the count of dropped ones. Held for a
    /// push or a swap, never while writing to stderr. (This module cannot
    /// use `crate::lock`, which logs: a poisoned lock is recovered here
    /// directly, with the same policy and no log line.)
    lines: Mutex<Waiting>,
    /// Signalled when lines arrive.
    arrived: Condvar,
    /// Signalled when the writer has written everything it took.
    emptied: Condvar,
}

/// What waits for stderr.
#[derive(Default)]
struct Waiting {
    lines: VecDeque<String>,
    /// Lines dropped because the queue was full.
    dropped: u64,
    /// The writer thread is writing lines it took out.
    writing: bool,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.dropped == 0
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The queue, and whether its writer thread runs (None: it could not start,
/// so lines are written directly).
fn queue() -> Option<&'static Queue> {
    static QUEUE: OnceLock<Option<&'static Queue>> = OnceLock::new();
    *QUEUE.get_or_init(|| {
        let queue: &'static Queue = Box::leak(Box::new(Queue {
            lines: Mutex::new(Waiting::default()),
            arrived: Condvar::new(),
            emptied: Condvar::new(),
        }));
        let started = thread::Builder::new()
            .name("log".into())
            .spawn(move || write_forever(queue));
        started.ok().map(|_| queue)
    })
}

/// The log thread: takes every waiting line and writes it to stderr.
fn write_forever(queue: &Queue) {
    loop {
        let (lines, dropped) = {
            let mut guard = queue.lock();
            guard.writing = false;
            while guard.is_empty() {
                queue.emptied.notify_all();
                guard = queue
                    .arrived
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            guard.writing = true;
            (
                std::mem::take(&mut guard.lines),
                std::mem::take(&mut guard.dropped),
            )
        };
        let mut stderr = std::io::stderr().lock();
        if dropped > 0 {
            let note = format!(
                "{} ({dropped} log lines dropped: stderr was not read)\n",
                now()
            );
            let _ = stderr.write_all(note.as_bytes());
        }
        for line in lines {
            // If stderr is gone there is nobody to tell; carry on serving.
            let _ = stderr.write_all(line.as_bytes());
        }
    }
}

fn now() -> String {
    crate::clock::now_rfc3339()
}

/// Queues `time message` for stderr. Use through the
/// [`log!`](macro@crate::log) macro. Never blocks on stderr.
pub fn write(args: std::fmt::Arguments) {
    let line = format!("{} {}\n", now(), args);
    let Some(queue) = queue() else {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return;
    };
    let mut guard = queue.lock();
    // The writer waits only on an empty queue: wake it once per batch.
    let idle = guard.is_empty();
    if guard.lines.len() < QUEUE_LINES {
        guard.lines.push_back(line);
    } else {
        guard.dropped += 1;
    }
    drop(guard);
    if idle {
        queue.arrived.notify_one();
    }
}

/// Waits until every queued line has been written, or `limit` passes (at
/// shutdown, so the last lines are not lost when the process exits).
pub fn flush(limit: Duration) {
    let Some(queue) = queue() else {
        return;
    };
    let deadline = Instant::now() + limit;
    let mut guard = queue.lock();
    while !guard.is_empty() || guard.writing {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        queue.arrived.notify_one();
        guard = match queue.emptied.wait_timeout(guard, left) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

/// `log!("client {addr} connected")`: formats like `format!`, writes one line.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::write(format_args!($($arg)*))
    };
}

/// A budget for one kind of log line that can come in floods (connections
/// refused during a storm): at most [`Limited::PER_SECOND`] a second are
/// written; the others are counted, and the next line written says how many
/// were left out. Lock-free, so any thread may ask.
pub(crate) struct Limited {
    second: AtomicU64,
    written: AtomicU64,
    hidden: AtomicU64,
}

impl Limited {
    pub(crate) const PER_SECOND: u64 = 10;

    pub(crate) const fn new() -> Limited {
        Limited {
            second: AtomicU64::new(0),
            written: AtomicU64::new(0),
            hidden: AtomicU64::new(0),
        }
    }

    /// Whether to write a line now: `Some(n)` with the number of lines left
    /// out since the last one written, or `None` to leave this one out.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.allow_at(now)
    }

    fn allow_at(&self, second: u64) -> Option<u64> {
        // A new second starts a new budget. (Two threads may both see the
        // change and both reset: a line or two more, which is harmless.)
        if self.second.swap(second, Ordering::Relaxed) != second {
            self.written.store(0, Ordering::Relaxed);
        }
        if self.written.fetch_add(1, Ordering::Relaxed) < Limited::PER_SECOND {
            Some(self.hidden.swap(0, Ordering::Relaxed))
        } else {
            self.hidden.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_lines_is_cut_to_a_budget_and_counted() {
        let limited = Limited::new();
        for _ in 0..Limited::PER_SECOND {
            assert_eq!(limited.allow_at(100), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(limited.allow_at(100), None);
        }
        // The next second: written, and it says five were left out.
        assert_eq!(limited.allow_at(101), Some(5));
        assert_eq!(limited.allow_at(101), Some(0));
    }
}
