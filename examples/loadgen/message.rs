//! The lines on the wire, as bytes: the message line a sender writes, and
//! what a reader makes of each line the server sends (one of our messages,
//! a join notice, an error, the header of the history replay, or anything
//! else).
//!
//! A message is one line of about 40 bytes:
//!
//! ```text
//! b <step> <sender> <seq> <due_nanos> xxxxxxxx
//! ```
//!
//! `step` numbers the rounds of `--max-rate`, `sender` is the sending
//! client's index, `seq` counts that sender's messages (so every receiver can
//! check that they arrive in order, once each), and `due_nanos` is the due
//! time in nanoseconds since the generator started.
//!
//! Everything here is a pure function of a byte slice, so it is tested
//! without a socket; and it works on bytes, not `&str`, because a reader
//! handles millions of lines and has no use for UTF-8 checks.

use std::io::Write;

/// Length of a message line, `\n` included.
pub(crate) const LINE_BYTES: usize = 40;
/// Every measured client's name starts with this, followed by its index in
/// four digits or more.
pub(crate) const NAME_PREFIX: &str = "lg";

/// What a line from the server means to the generator.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// One of our messages, in a room.
    Bench(Bench),
    /// `* lgNNNN joined #room`.
    Joined,
    /// `! ...`: the server refused something we sent.
    Error,
    /// Anything else: other notices, other people's messages.
    Other,
}

/// The fields of a message line (see the module doc).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bench {
    pub(crate) step: usize,
    pub(crate) sender: usize,
    pub(crate) seq: u64,
    pub(crate) due: u64,
}

/// Appends one message line, padded with `x` to `LINE_BYTES`.
pub(crate) fn write_bench_line(out: &mut Vec<u8>, step: usize, sender: usize, seq: u64, due: u64) {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "b {step} {sender} {seq} {due} ");
    let pad = (LINE_BYTES - 1).saturating_sub(out.len() - start).max(1);
    out.resize(out.len() + pad, b'x');
    out.push(b'\n');
}

pub(crate) fn parse_line(line: &[u8]) -> Line {
    if let Some(text) = room_text(line) {
        return parse_bench(text).map_or(Line::Other, Line::Bench);
    }
    if is_join_notice(line) {
        return Line::Joined;
    }
    if line.starts_with(b"! ") {
        return Line::Error;
    }
    Line::Other
}

/// The text of a room message, `[#room] name: text`.
fn room_text(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"[#")?;
    let rest = &rest[find(rest, b"] ")? + 2..];
    // Names cannot hold ':' or ' ', so the first ": " ends the name.
    Some(&rest[find(rest, b": ")? + 2..])
}

/// `* lgNNNN joined #room`: a notice that one of the crowd arrived (not a
/// stalled client, `* lgsNNN joined #room`, nor a churning one, `lgcNNNNN`).
fn is_join_notice(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"* ") else {
        return false;
    };
    let Some(space) = rest.iter().position(|&b| b == b' ') else {
        return false;
    };
    is_crowd_name(&rest[..space]) && rest[space..].starts_with(b" joined #")
}

/// `lg` followed by digits only: one of the measured clients.
pub(crate) fn is_crowd_name(name: &[u8]) -> bool {
    name.strip_prefix(NAME_PREFIX.as_bytes())
        .is_some_and(|index| !index.is_empty() && index.iter().all(u8::is_ascii_digit))
}

/// `b <step> <sender> <seq> <due_nanos> ...`.
pub(crate) fn parse_bench(text: &[u8]) -> Option<Bench> {
    let mut fields = text.split(|&b| b == b' ');
    if fields.next()? != b"b" {
        return None;
    }
    Some(Bench {
        step: usize::try_from(parse_u64(fields.next()?)?).ok()?,
        sender: usize::try_from(parse_u64(fields.next()?)?).ok()?,
        seq: parse_u64(fields.next()?)?,
        due: parse_u64(fields.next()?)?,
    })
}

/// The header of a history replay, `* last N messages in #room:`: N.
pub(crate) fn replay_count(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"* last ")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let count = parse_u64(&rest[..space])?;
    rest[space..].starts_with(b" message").then_some(count)
}

/// A decimal number made of ASCII digits only.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_line_is_parsed_back() {
        let mut line = Vec::new();
        write_bench_line(&mut line, 2, 3, 17, 123_456_789);
        assert_eq!(line.len(), LINE_BYTES);
        let received = [b"[#general] lg0003: ".as_slice(), &line[..line.len() - 1]].concat();
        let expected = Bench {
            step: 2,
            sender: 3,
            seq: 17,
            due: 123_456_789,
        };
        assert_eq!(parse_line(&received), Line::Bench(expected));
    }

    #[test]
    fn other_lines_are_told_apart() {
        assert_eq!(parse_line(b"* lg0042 joined #general"), Line::Joined);
        assert_eq!(parse_line(b"* alice joined #general"), Line::Other);
        // Stalled and churning clients are not of the crowd, coming or going.
        assert_eq!(parse_line(b"* lgs001 joined #general"), Line::Other);
        assert_eq!(parse_line(b"* lgs001 left #general"), Line::Other);
        assert_eq!(parse_line(b"* lgc00001 joined #general"), Line::Other);
        assert_eq!(parse_line(b"* lg joined #general"), Line::Other);
        assert_eq!(parse_line(b"! slow down"), Line::Error);
        assert_eq!(parse_line(b"[#general] alice: hi"), Line::Other);
        assert_eq!(parse_line(b"[#general] alice: b 1 x 2 3"), Line::Other);
    }
}
