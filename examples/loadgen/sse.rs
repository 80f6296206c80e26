//! Receivers that come in through the web API (`--receivers sse`), as the
//! browser page does: one HTTP request to log in, then one response that
//! never ends.
//!
//! `POST /api/login` with the form `name=lg0005` answers a session token in
//! its body, and closes (each request has a connection of its own). Then
//! `GET /api/events?token=...` answers with a Server-Sent Events stream: a
//! head, a blank line, and then, for as long as the connection lasts, every
//! event the session receives: its number (`id: 42`), one JSON object
//! (`data: {"type":"said",...}`) and a blank line. A receiver here does
//! what the page does with each: a `said` event's `text` is one of our
//! messages, checked and timed as a terminal reader's line; a `joined` of
//! one of the crowd counts as an arrival; an `error` as an error. The
//! history replay is one `replay` event, passed over whole. Every request
//! names the listener in its `Host` header, or the server answers 421.
//!
//! A simplification: a browser's `EventSource` also accepts `data:` without
//! the space, events of several `data` lines, and `\r` alone as a line end;
//! and a JSON reader would accept the fields in any order. We read what
//! this server writes: one `data: ` line per event, ending in `\n`, with
//! the fields in the order docs/PROTOCOL.md gives, so a few short scans
//! find them, as a reader of the line protocol does: the generator shares
//! the machine with the server, and a slow reader here would make the
//! server look slow.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::handshake::{open, registered, HANDSHAKE_LIMIT};
use super::inbox::Inbox;
use super::message::{is_crowd_name, parse_bench, Line};
use super::net::{is_timeout, send_all};
use super::options::{Options, WayIn};
use super::shared::{Client, Shared};

/// The most a login response may take: a head and a 32-digit token.
const LOGIN_RESPONSE_MAX: usize = 16 * 1024;

/// Logs one receiver in as `name` on the web listener at `addr` and opens
/// its event stream. Returns when the stream has brought the hello line;
/// what came with it (the replay's start) stays in the inbox for the reader.
pub(crate) fn join_sse(
    options: &Options,
    name: &str,
    addr: SocketAddr,
    buffer: usize,
    shared: &Shared,
) -> Result<(Client, Inbox), String> {
    let deadline = Instant::now() + HANDSHAKE_LIMIT;
    let token = log_in(addr, name, deadline)?;
    let stream = open(addr, name)?;
    let request = format!(
        "GET /api/events?token={token} HTTP/1.1\r\nHost: {addr}\r\n\
         Accept: text/event-stream\r\n\r\n"
    );
    send_all(&stream, request.as_bytes(), deadline)
        .map_err(|e| format!("{name}: cannot ask for the event stream: {e}"))?;
    let mut inbox = Inbox::new(buffer);
    read_stream_head(&mut inbox, &stream, name, deadline)?;
    loop {
        let line = inbox
            .handshake_line(&stream, deadline)
            .map_err(|e| format!("{name}: waiting for the hello event: {e}"))?;
        match data(line.as_bytes()) {
            Some(hello) if hello.starts_with(br#"{"type":"hello","#) => break,
            Some(error) if error.starts_with(br#"{"type":"error","#) => {
                return Err(format!("{name}: the server refused us: {line}"));
            }
            _ => {}
        }
    }
    inbox.way_in = WayIn::Sse(addr);
    Ok((registered(options, name, stream, shared)?, inbox))
}

/// `POST /api/login`: the session token, or the server's reason for
/// refusing (a `! ...` line in the body).
fn log_in(addr: SocketAddr, name: &str, deadline: Instant) -> Result<String, String> {
    let stream = open(addr, name)?;
    let body = format!("name={name}");
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    send_all(&stream, request.as_bytes(), deadline)
        .map_err(|e| format!("{name}: cannot send the login: {e}"))?;
    let response = read_to_end(&stream, deadline)
        .map_err(|e| format!("{name}: reading the login's answer: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, token) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("{name}: login refused: {status}: {}", token.trim()));
    }
    Ok(token.trim().to_string())
}

/// A response whose end is the end of the connection (`Connection: close`),
/// read whole, up to `LOGIN_RESPONSE_MAX` bytes and until `deadline`.
fn read_to_end(mut stream: &TcpStream, deadline: Instant) -> std::io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    while response.len() < LOGIN_RESPONSE_MAX && Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(response),
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(ErrorKind::TimedOut, "no end in sight"))
}

/// The head of the event stream: `HTTP/1.1 200 OK`, headers, a blank line.
fn read_stream_head(
    inbox: &mut Inbox,
    stream: &TcpStream,
    name: &str,
    deadline: Instant,
) -> Result<(), String> {
    let mut read = || {
        inbox
            .handshake_line(stream, deadline)
            .map_err(|e| format!("{name}: reading the event stream's head: {e}"))
    };
    let status = read()?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("{name}: no event stream: {status}"));
    }
    while !read()?.is_empty() {}
    Ok(())
}

/// The JSON an event's `data: ` line carries, or None for anything else:
/// its `id:` line, the blank line that ends it, a `: keepalive` comment.
fn data(line: &[u8]) -> Option<&[u8]> {
    line.strip_prefix(b"data: ")
}

/// What a line of the stream means to the generator; None for the lines
/// that carry no event.
pub(crate) fn parse_event(line: &[u8]) -> Option<Line> {
    let json = data(line)?;
    let line = if json.starts_with(br#"{"type":"said","#) {
        let text = string_field(json, b"text").and_then(parse_bench);
        text.map_or(Line::Other, Line::Bench)
    } else if json.starts_with(br#"{"type":"joined","#) {
        let crowd = string_field(json, b"name").is_some_and(is_crowd_name);
        if crowd {
            Line::Joined
        } else {
            Line::Other
        }
    } else if json.starts_with(br#"{"type":"error","#) {
        Line::Error
    } else {
        Line::Other
    };
    Some(line)
}

/// The value of the string field `key` in a JSON object, read field by
/// field from the start, as the server writes them: each field is passed
/// over with one scan for its closing quote, so a reader pays a few short
/// scans per event rather than a search of the whole object. Only string
/// fields may come before `key`, and a value with an escape in it is not
/// ours (our names, messages and errors have none): both give None, which
/// counts as nothing of ours.
fn string_field<'a>(json: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut rest = json.strip_prefix(b"{")?;
    loop {
        let (name, after) = quoted(rest.strip_prefix(b"\"")?)?;
        let (value, after) = quoted(after.strip_prefix(b":\"")?)?;
        if name == key {
            return Some(value);
        }
        rest = after.strip_prefix(b",")?;
    }
}

/// The text up to the next `"` and what follows that quote; None at a
/// backslash or the end.
fn quoted(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = text.iter().position(|&b| b == b'"' || b == b'\\')?;
    (text[end] == b'"').then(|| (&text[..end], &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_data_lines_carry_an_event() {
        assert_eq!(parse_event(b"id: 42"), None);
        assert_eq!(parse_event(b""), None);
        assert_eq!(parse_event(b": keepalive"), None);
        assert_eq!(
            parse_event(br#"data: {"type":"hello","name":"lg0001"}"#),
            Some(Line::Other)
        );
    }

    #[test]
    fn a_said_event_carries_one_of_our_messages() {
        let line = br#"data: {"type":"said","room":"general","from":"lg0003","text":"b 2 3 41 123456 xxxx","time":"2026-11-30T12:00:00Z"}"#;
        let expected = super::super::message::Bench {
            step: 2,
            sender: 3,
            seq: 41,
            due: 123456,
        };
        assert_eq!(parse_event(line), Some(Line::Bench(expected)));
        let chat =
            br#"data: {"type":"said","room":"general","from":"alice","text":"hi","time":"t"}"#;
        assert_eq!(parse_event(chat), Some(Line::Other));
    }

    #[test]
    fn joins_of_the_crowd_and_errors_are_counted() {
        let join = br#"data: {"type":"joined","room":"general","name":"lg0042"}"#;
        assert_eq!(parse_event(join), Some(Line::Joined));
        let stalled = br#"data: {"type":"joined","room":"general","name":"lgs001"}"#;
        assert_eq!(parse_event(stalled), Some(Line::Other));
        let error = br#"data: {"type":"error","text":"slow down"}"#;
        assert_eq!(parse_event(error), Some(Line::Error));
    }

    #[test]
    fn a_string_field_is_read_up_to_its_closing_quote() {
        let json = br#"{"type":"said","from":"lg0001","text":"b 1 2 3 4 x"}"#;
        assert_eq!(string_field(json, b"from"), Some(&b"lg0001"[..]));
        assert_eq!(string_field(json, b"text"), Some(&b"b 1 2 3 4 x"[..]));
        assert_eq!(string_field(json, b"room"), None);
        // Past a value with an escape, or one that is not a string: not ours.
        let escaped = br#"{"type":"said","from":"a\"b","text":"b 1 2 3 4 x"}"#;
        assert_eq!(string_field(escaped, b"text"), None);
        let flag = br#"{"type":"direct","action":true,"text":"x"}"#;
        assert_eq!(string_field(flag, b"text"), None);
    }
}
