//! The activity log: one line per event on standard error, with the time.
//!
//! Standard error is unbuffered and each event is written with one call while
//! holding stderr's lock, so lines from many client threads never mix.
//! A production server would use a logging crate with levels and rotation;
//! for a LAN chat, `server 2>> chat.log` is enough.

use std::io::Write;

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
