//! The terminal's mode, changed and put back with `stty`.
//!
//! A terminal starts in canonical ("cooked") mode: the kernel's terminal
//! driver collects what you type into a line, shows it (echo), handles
//! Backspace, and the program reads nothing until Enter; Ctrl-C is turned
//! into a signal that kills the program. That is why a line arriving from
//! the server cannot simply be printed above what you are typing: the
//! program has not seen what you typed and cannot draw it again.
//!
//! In raw mode (`-icanon -echo`) the driver hands over every byte as it is
//! typed and shows nothing; the program keeps the line and draws it. With
//! `-isig` Ctrl-C is a byte like any other, so the client can quit cleanly.
//!
//! std has no call to change the mode (that is `tcsetattr`, which needs
//! `unsafe` or a crate), so we ask the `stty` program, which acts on the
//! terminal of its standard input: ours, inherited. `stty -g` prints the
//! current settings in a form `stty` takes back; we keep them and put them
//! back on every way out we can see. A kill (`kill -9`, a closed window)
//! cannot be caught with std; `stty sane` mends a terminal left raw.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The settings to put back (`stty -g` output), while ours are in force.
static SAVED: Mutex<Option<String>> = Mutex::new(None);

/// The width last read, and when: reading it starts a process.
static WIDTH: Mutex<Option<(Instant, usize)>> = Mutex::new(None);

/// How long a width read with `stty size` is trusted. std cannot catch
/// `SIGWINCH` (the "window resized" signal), so after a resize the next
/// redraw at most this late uses the new width.
const WIDTH_FRESH: Duration = Duration::from_millis(500);

/// The width assumed when `stty` cannot tell.
const DEFAULT_WIDTH: usize = 80;

/// Runs `stty` on our terminal; its output, or `None` if it failed.
fn stty(args: &[&str]) -> Option<String> {
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Saves the settings, then applies `args`. Does nothing if settings are
/// already saved (ours are in force). Returns whether ours are in force.
fn change(args: &[&str]) -> bool {
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    if saved.is_some() {
        return true;
    }
    let Some(settings) = stty(&["-g"]) else {
        return false;
    };
    if stty(args).is_none() {
        return false;
    }
    *saved = Some(settings);
    true
}

/// Raw mode, until [`restore`]: every key as typed, no echo, Ctrl-C and
/// Ctrl-Z as keys (`-isig`), no Ctrl-V quoting (`-iexten`), no Ctrl-S
/// freezing the output (`-ixon`), and `read` returns as soon as one byte
/// is there (`min 1 time 0`). Enter still arrives as `\n` (`icrnl`), and
/// `\n` we print still starts a new row at column 0 (`opost`).
/// Returns false if `stty` is missing or failed.
pub fn enter_raw_mode() -> bool {
    change(&[
        "-icanon", "-echo", "-isig", "-iexten", "-ixon", "min", "1", "time", "0",
    ])
}

/// Canonical mode without echo, until [`restore`]: for a password typed
/// when the client is not drawing the line itself. Signals are off too:
/// dying from Ctrl-C with echo off would leave the terminal blind.
pub fn hide_input() {
    change(&["-echo", "-isig"]);
}

/// Puts the saved settings back, if any; returns whether there were.
pub fn restore() -> bool {
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    match saved.take() {
        Some(settings) => {
            let _ = stty(&[&settings]);
            true
        }
        None => false,
    }
}

/// The terminal's width in columns, read again at most every
/// [`WIDTH_FRESH`]; 80 if it cannot be read.
pub fn width() -> usize {
    let mut cached = WIDTH.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((read_at, width)) = *cached {
        if read_at.elapsed() < WIDTH_FRESH {
            return width;
        }
    }
    let width = stty(&["size"])
        .and_then(|size| columns(&size))
        .unwrap_or(DEFAULT_WIDTH);
    *cached = Some((Instant::now(), width));
    width
}

/// The columns in `stty size` output (`rows columns`); `None` for 0, which
/// some terminals report when they do not know.
fn columns(size: &str) -> Option<usize> {
    let columns: usize = size.split_whitespace().nth(1)?.parse().ok()?;
    (columns > 0).then_some(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_second_in_stty_size() {
        assert_eq!(columns("24 80"), Some(80));
        assert_eq!(columns("50 132\n"), Some(132));
    }

    #[test]
    fn unknown_sizes_are_none() {
        assert_eq!(columns("0 0"), None);
        assert_eq!(columns(""), None);
        assert_eq!(columns("24"), None);
        assert_eq!(columns("24 wide"), None);
    }
}
