//! Framing: TCP delivers bytes, not messages; this rebuilds lines.
//!
//! A `read` returns whatever bytes have arrived: half a line, three lines, a
//! line and a half. We keep one `BufReader` per connection for its whole
//! life (a new one would lose the bytes the old one buffered) and cut the
//! stream at `\n`.
//!
//! Capping: a client that never sends `\n` must not make us buffer forever.
//! [`read_line_capped`] reads at most `max + 1` raw bytes before decoding,
//! and skips the rest of an over-long line without storing it. (Capping a
//! `read_line` instead can report a UTF-8 character cut at the cap as
//! invalid data, and hide that the line was too long.)
//!
//! The terminal protocol, the chat log and the HTTP head are all read with
//! this one function. Everything takes `impl BufRead`, so tests feed it a
//! `Cursor` of bytes.

use std::io::{self, BufRead, ErrorKind, Read};

/// What one call to [`read_line_capped`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A whole line, without its `\n` or `\r\n`.
    Line(String),
    /// The line was longer than the cap; it was skipped up to its newline.
    TooLong,
    /// The line was not valid UTF-8; it was dropped.
    NotUtf8,
    /// The stream ended in the middle of a line: the bytes after the last
    /// `\n` were dropped. (For a file, a line torn by a crash; for a socket,
    /// a peer that closed mid-line.) The next call reports [`Eof`](Self::Eof).
    Torn,
    /// The end of the stream (for a socket: the peer closed the connection).
    Eof,
}

/// Reads one line of at most `max` bytes (not counting the `\n`).
///
/// Blocks until a whole line, end of stream, or an error from the reader
/// (for a socket with a read timeout: `WouldBlock`/`TimedOut`). `buf` is
/// scratch space, reused between calls so a busy connection does not
/// allocate for every line; it never grows past `max + 1` bytes.
pub fn read_line_capped(
    reader: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
) -> io::Result<LineRead> {
    buf.clear();
    // Cap the raw bytes before decoding: `take` stops `read_until` after
    // max + 1 bytes, whatever the client sends.
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    // (`read_until` retries reads interrupted by a signal by itself.)
    let n = Read::take(&mut *reader, limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() != Some(&b'\n') {
        if buf.len() > max {
            skip_past_newline(reader)?;
            return Ok(LineRead::TooLong);
        }
        // Fewer than max + 1 bytes and no newline: the stream ended.
        return Ok(LineRead::Torn);
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    match std::str::from_utf8(buf) {
        Ok(text) => Ok(LineRead::Line(text.to_string())),
        Err(_) => Ok(LineRead::NotUtf8),
    }
}

/// Discards input up to and including the next `\n`, without storing it.
fn skip_past_newline(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(()); // end of stream: the next read reports it
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn read_all(input: &[u8], max: usize) -> Vec<LineRead> {
        let mut reader = BufReader::with_capacity(8, Cursor::new(input.to_vec()));
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let line = read_line_capped(&mut reader, max, &mut buf).expect("read");
            let done = line == LineRead::Eof;
            out.push(line);
            if done {
                return out;
            }
        }
    }

    fn line(s: &str) -> LineRead {
        LineRead::Line(s.to_string())
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        assert_eq!(
            read_all(b"one\ntwo\r\n\nthree\n", 100),
            vec![
                line("one"),
                line("two"),
                line(""),
                line("three"),
                LineRead::Eof
            ]
        );
    }

    #[test]
    fn line_of_exactly_max_bytes_is_accepted() {
        assert_eq!(
            read_all(b"abcde\nabcdef\nok\n", 5),
            vec![line("abcde"), LineRead::TooLong, line("ok"), LineRead::Eof]
        );
    }

    #[test]
    fn too_long_line_is_skipped_up_to_its_newline() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nnext\n");
        assert_eq!(
            read_all(&input, 100),
            vec![LineRead::TooLong, line("next"), LineRead::Eof]
        );
    }

    #[test]
    fn too_long_line_at_eof_then_eof() {
        assert_eq!(
            read_all(&[b'x'; 50], 10),
            vec![LineRead::TooLong, LineRead::Eof]
        );
    }

    #[test]
    fn cut_utf8_at_the_cap_is_too_long_not_bad_utf8() {
        // "é" is two bytes; the cap falls between them.
        let input = "aaaé\n".as_bytes();
        assert_eq!(read_all(input, 4), vec![LineRead::TooLong, LineRead::Eof]);
    }

    #[test]
    fn invalid_utf8_is_reported_and_the_next_line_read() {
        assert_eq!(
            read_all(b"bad \xff\xfe\nok\n", 100),
            vec![LineRead::NotUtf8, line("ok"), LineRead::Eof]
        );
    }

    #[test]
    fn a_torn_last_line_is_reported_then_eof() {
        assert_eq!(
            read_all(b"whole\npart", 100),
            vec![line("whole"), LineRead::Torn, LineRead::Eof]
        );
    }

    #[test]
    fn multibyte_text_survives() {
        assert_eq!(
            read_all("héllo wörld ✓\n".as_bytes(), 100),
            vec![line("héllo wörld ✓"), LineRead::Eof]
        );
    }
}
