//! The activity log: one line per event on standard error, with the time.
//!
//! Standard error is unbuffered and each event is written with one call while
//! holding stderr's lock, so lines from many client threads never mix.
//! A production server would use a logging crate with levels and rotation;
//! for a LAN chat, `server 2>> chat.log` is enough.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `time message` to stderr. Use through the [`log!`](macro@crate::log) macro.
pub fn write(args: std::fmt::Arguments) {
    let line = format!("{} {}\n", crate::clock::now_rfc3339(), args);
    // If stderr is gone there is nobody to tell; carry on serving.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
