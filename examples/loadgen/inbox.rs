//! From bytes to lines to tallies: the reading side of one connection.
//!
//! TCP delivers bytes, not lines: one `read` may end in the middle of a
//! line, so the unfinished tail waits in the buffer for the next `read`. One
//! inbox serves a connection for its whole life, the handshake first and the
//! reader after it, so nothing read during the handshake is lost. It also
//! knows where the client is in the history replay that follows its hello
//! line, whose old messages must not count as deliveries.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::ops::Range;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use super::message::{parse_line, replay_count, Line};
use super::net::{is_timeout, send_all};
use super::options::WayIn;
use super::shared::{Client, Shared};
use super::{irc, sse};

/// The reading side of one connection: the bytes read but not yet taken as
/// lines, and where the client is in the history replay.
pub(crate) struct Inbox {
    buf: Box<[u8]>,
    /// `buf[start..end]` holds bytes read but not yet taken as lines.
    start: usize,
    end: usize,
    pub(crate) replay: Replay,
    /// How the lines are framed: terminal lines, IRC lines or SSE events.
    pub(crate) way_in: WayIn,
}

/// Where a client is in the history replay that follows its hello line:
/// `* last N messages in #room:` and N old messages, which must not count as
/// deliveries (after a previous run they look just like ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Still in the handshake.
    NotYet,
    /// The next line may be the replay's header.
    Maybe,
    /// This many replayed lines still to skip.
    Skip(u64),
    Done,
}

impl Replay {
    /// True if `line` is part of the replay and must be skipped. The server
    /// sends the hello and the replay before anyone else can write to us, so
    /// the header, if any, is the very next line.
    fn skips(&mut self, line: &[u8]) -> bool {
        match *self {
            Replay::NotYet | Replay::Done => false,
            Replay::Skip(n) => {
                *self = if n > 1 {
                    Replay::Skip(n - 1)
                } else {
                    Replay::Done
                };
                true
            }
            Replay::Maybe => match replay_count(line) {
                Some(n) => {
                    *self = if n > 0 { Replay::Skip(n) } else { Replay::Done };
                    true
                }
                None => {
                    *self = Replay::Done;
                    false
                }
            },
        }
    }
}

impl Inbox {
    pub(crate) fn new(size: usize) -> Inbox {
        Inbox {
            // Zeroed memory comes from the kernel untouched: the pages cost
            // nothing until data is read into them.
            buf: vec![0; size].into_boxed_slice(),
            start: 0,
            end: 0,
            replay: Replay::NotYet,
            way_in: WayIn::Terminal,
        }
    }

    /// One `read` into the free end of the buffer; `Ok(0)` means the server
    /// closed the connection. Blocks up to the socket's read timeout (or not
    /// at all on a non-blocking socket).
    pub(crate) fn fill(&mut self, mut stream: &TcpStream) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                // One line fills the whole buffer. The server caps its lines
                // far below this, so it cannot happen; should it, drop the
                // bytes rather than grow without limit (the rest of the line
                // then reads as a line of its own, and is ignored).
                self.end = 0;
            } else {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
        }
        let n = stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The next complete line in the buffer (without `\n` or `\r\n`), as a
    /// range of `buf`, or None if only part of a line has arrived.
    fn take_line(&mut self) -> Option<Range<usize>> {
        let length = self.buf[self.start..self.end]
            .iter()
            .position(|&b| b == b'\n')?;
        let mut line = self.start..self.start + length;
        self.start += length + 1;
        if line.end > line.start && self.buf[line.end - 1] == b'\r' {
            line.end -= 1;
        }
        Some(line)
    }

    /// The next line during the handshake, reading as needed until
    /// `deadline`.
    pub(crate) fn handshake_line(
        &mut self,
        stream: &TcpStream,
        deadline: Instant,
    ) -> io::Result<String> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(String::from_utf8_lossy(&self.buf[line]).into_owned());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(ErrorKind::TimedOut, "timed out"));
            }
            match self.fill(stream) {
                Ok(0) => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ))
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes every complete line in the buffer and counts it in the client's
    /// tally. `now` is when the `read` returned: one clock reading for all the
    /// lines it brought, which is when they became visible to us.
    pub(crate) fn process(&mut self, client: &Client, shared: &Shared, now: u64) {
        let mut tally = client.tally();
        let before = tally.delivered;
        let mut joins = 0;
        let mut answers = Vec::new();
        while let Some(range) = self.take_line() {
            let line = &self.buf[range];
            if let WayIn::Irc(_) = self.way_in {
                irc::answer_ping(line, &mut answers);
            }
            // A browser's history replay is one event of its own, which
            // parses as nothing of ours: only the terminal's is skipped
            // line by line.
            if self.way_in == WayIn::Terminal && self.replay.skips(line) {
                continue;
            }
            let parsed = match self.way_in {
                WayIn::Terminal => parse_line(line),
                WayIn::Irc(_) => irc::parse_line(line, &client.name),
                // An event's `data: ` line carries its JSON; its `id:`
                // line, the blank line after it and comments carry nothing.
                WayIn::Sse(_) => match sse::parse_event(line) {
                    Some(parsed) => parsed,
                    None => continue,
                },
            };
            match parsed {
                Line::Bench(message) => tally.record(&message, now),
                Line::Joined => joins += 1,
                Line::Error => tally.note_error(line),
                Line::Other => {}
            }
        }
        let step = tally.step;
        let delivered = tally.delivered - before;
        drop(tally);
        add_to_counters(shared, step, delivered, joins, now);
        if !answers.is_empty() {
            // A failed answer shows soon enough: the server closes us.
            let deadline = Instant::now() + irc::ANSWER_LIMIT;
            let _ = send_all(&client.stream, &answers, deadline);
        }
    }
}

/// Adds what one `read` brought to the counters every thread shares.
fn add_to_counters(shared: &Shared, step: usize, delivered: u64, joins: u64, now: u64) {
    if delivered > 0 {
        if let Some(counter) = shared.delivered.get(step) {
            counter.fetch_add(delivered, SeqCst);
        }
    }
    if joins > 0 {
        shared.last_join.fetch_max(now, SeqCst);
        shared.joins.fetch_add(joins, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_replay_is_skipped() {
        let mut replay = Replay::Maybe;
        assert!(replay.skips(b"* last 2 messages in #general:"));
        assert!(replay.skips(b"[#general] lg0001: b 0 0 0 5 x"));
        assert!(replay.skips(b"[#general] lg0001: b 0 0 1 6 x"));
        assert!(!replay.skips(b"[#general] lg0001: b 0 0 0 7 x"));

        let mut no_replay = Replay::Maybe;
        assert!(!no_replay.skips(b"* lg0002 joined #general"));
        assert_eq!(no_replay, Replay::Done);
    }
}
