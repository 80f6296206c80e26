//! Receivers that come in through the web API (`--receivers sse`), as the
//! browser page does: one HTTP request to log in, then one response that
//! never ends.
//!
//! `POST /api/login` with the form `name=lg0005` answers a session token in
//! its body, and closes (each request has a connection of its own). Then
//! `GET /api/events?token=...` answers with a Server-Sent Events stream: a
//! head, a blank line, and then, for as long as the connection lasts, every
//! line the session receives as an event of its own, `data: <line>` and a
//! blank line. The lines inside are the terminal's, hello line and history
//! replay included, so once the `data: ` is taken off they are parsed and
//! counted exactly as a terminal reader's. Every request names the listener
//! in its `Host` header, or the server answers 421.
//!
//! A simplification: a browser's `EventSource` also accepts `data:` without
//! the space, events of several `data` lines, and `\r` alone as a line end.
//! We read what this server writes: one `data: ` line per event, ending in
//! `\n`.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::handshake::{open, registered, HANDSHAKE_LIMIT};
use super::inbox::{Inbox, Replay};
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
            Some(hello) if hello.starts_with(b"* Hello ") => break,
            Some(error) if error.starts_with(b"! ") => {
                return Err(format!("{name}: the server refused us: {line}"));
            }
            _ => {}
        }
    }
    inbox.way_in = WayIn::Sse(addr);
    inbox.replay = Replay::Maybe;
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

/// The line an event's `data: ` line carries, or None for anything else:
/// the blank line that ends an event, a `: keepalive` comment.
pub(crate) fn data(line: &[u8]) -> Option<&[u8]> {
    line.strip_prefix(b"data: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_data_lines_carry_a_line() {
        assert_eq!(
            data(b"data: * lg0001 joined #general"),
            Some(&b"* lg0001 joined #general"[..])
        );
        assert_eq!(data(b"data: "), Some(&b""[..]));
        assert_eq!(data(b""), None);
        assert_eq!(data(b": keepalive"), None);
    }
}
