//! A browser, as far as the tests need one: a tiny HTTP client written
//! with std only, which logs in, sends lines and reads the event stream.
//!
//! Each request uses a connection of its own, as the server's
//! `Connection: close` says, so a response is read to end of stream. The
//! event stream is the exception: it stays open, and its events (`id: N`,
//! `data: {...}`, a blank line) are read one by one as they arrive. The
//! tests compare an event's JSON text with what they expect, or look for a
//! fragment of it (`"type":"said","room":"dev"`): the server writes the
//! fields of each type in one fixed order (docs/PROTOCOL.md), so text is
//! enough, with no JSON parser in the tests.

use super::{Client, TestServer, READ_TIMEOUT};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// The answer to a line, or to a page request, that was carried out.
pub const OK: &str = r#"{"ok":true}"#;

/// The answer to a line that was refused, with the server's reason.
pub fn refused(why: &str) -> String {
    format!(r#"{{"ok":false,"error":"{why}"}}"#)
}

/// One HTTP response, read whole.
pub struct Response {
    pub status: u16,
    /// Header names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name`, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Connects to the web listener with the usual read timeout.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the web listener");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("set read timeout");
    stream
}

/// Splits a head (status line and headers, without the blank line) into
/// the status code and the headers.
fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("malformed status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("malformed header {line:?}"));
            (name.to_string(), value.trim().to_string())
        })
        .collect();
    (status, headers)
}

/// Sends `raw` bytes as they are and reads the whole response.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut stream = connect(addr);
    stream.write_all(raw).expect("write the request");
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("timed out waiting for the response")
            }
            // A server that answers before reading all we sent (a body or a
            // head over its cap) closes with unread bytes, and the kernel
            // then resets the connection: what came before still counts.
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !bytes.is_empty() => break,
            Err(e) => panic!("read the response: {e}"),
        }
    }
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = std::str::from_utf8(&bytes[..end]).expect("head is UTF-8");
    let (status, headers) = parse_head(head);
    Response {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
}

/// Encodes a form value: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs `body` as a form to `path`.
pub fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(addr, raw.as_bytes())
}

/// `POST /api/login`, as a guest or with a password.
pub fn login_request(server: &TestServer, name: &str, password: Option<&str>) -> Response {
    let body = match password {
        Some(password) => form(&[("name", name), ("password", password)]),
        None => form(&[("name", name)]),
    };
    post(server.web_addr, "/api/login", &body)
}

/// Logs in from the web as a guest and returns the session token.
pub fn web_login(server: &TestServer, name: &str) -> String {
    let response = login_request(server, name, None);
    assert_eq!(response.status, 200, "login as {name}: {}", response.text());
    response.text()
}

/// Sends one chat line from the browser, typed in the conversation `to`
/// (`#dev`, `@bob`, or "" for none); returns the answer.
pub fn web_send_to(server: &TestServer, token: &str, to: &str, line: &str) -> Response {
    let body = form(&[("token", token), ("line", line), ("to", to)]);
    post(server.web_addr, "/api/send", &body)
}

/// Sends one chat line from the browser, in no conversation (as a
/// terminal would); returns the answer.
pub fn web_send(server: &TestServer, token: &str, line: &str) -> Response {
    let body = form(&[("token", token), ("line", line)]);
    post(server.web_addr, "/api/send", &body)
}

/// Sends one chat line from the browser and checks it was carried out.
pub fn web_say(server: &TestServer, token: &str, line: &str) {
    let response = web_send(server, token, line);
    assert_eq!(
        (response.status, response.text()),
        (200, OK.to_string()),
        "send {line:?}"
    );
}

/// The `hello` a browser called `webby` gets, in #general.
pub const HELLO_WEBBY: &str = r#"{"type":"hello","name":"webby","room":"general","motd":[]}"#;

/// Logs in `webby` from the web and opens its event stream, past the
/// hello (the servers of these tests have no welcome message).
pub fn webby(server: &TestServer) -> (String, Events) {
    let token = web_login(server, "webby");
    let mut events = Events::open_ok(server, &token);
    events.expect(HELLO_WEBBY);
    (token, events)
}

/// A terminal client `alice`, then a browser `webby`; alice has seen webby
/// arrive.
pub fn alice_and_webby(server: &TestServer) -> (Client, String, Events) {
    let alice = server.login("alice");
    let (token, events) = webby(server);
    alice.expect("* webby joined #general");
    (alice, token, events)
}

/// An open `GET /api/events` stream, read one event at a time.
pub struct Events {
    pub status: u16,
    headers: Vec<(String, String)>,
    /// One reader for the whole stream: a new one would lose buffered bytes.
    reader: BufReader<TcpStream>,
    /// The number of the last event read (its `id:`).
    pub last_id: Option<u64>,
}

impl Events {
    /// Opens the stream; with `last`, as a reconnect that saw every event
    /// up to that number (`Last-Event-ID`).
    pub fn open_after(server: &TestServer, token: &str, last: Option<u64>) -> Events {
        let mut stream = connect(server.web_addr);
        let last = last.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        let raw = format!(
            "GET /api/events?token={} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{last}\r\n",
            percent_encode(token),
            server.web_addr
        );
        stream.write_all(raw.as_bytes()).expect("write the request");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read the head");
            assert!(n > 0, "connection closed in the head: {head:?}");
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let (status, headers) = parse_head(head.trim_end_matches("\r\n"));
        Events {
            status,
            headers,
            reader,
            last_id: None,
        }
    }

    pub fn open(server: &TestServer, token: &str) -> Events {
        Events::open_after(server, token, None)
    }

    /// Opens the stream and checks it was accepted.
    pub fn open_ok(server: &TestServer, token: &str) -> Events {
        let events = Events::open(server, token);
        assert_eq!(events.status, 200, "open the event stream");
        events
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The next event's data (its JSON), noting its number; comments are
    /// skipped. None when the server ends the stream. Panics on timeout.
    pub fn next_event(&mut self) -> Option<String> {
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("timed out waiting for an event")
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read an event: {e}"),
            }
            let line = line.strip_suffix('\n').unwrap_or(&line);
            if let Some(id) = line.strip_prefix("id: ") {
                self.last_id = Some(id.parse().expect("an event's id is a number"));
                continue;
            }
            if line.is_empty() || line.starts_with(':') {
                continue;
            }
            let data = line
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not an event line: {line:?}"));
            return Some(data.to_string());
        }
    }

    pub fn event(&mut self) -> String {
        self.next_event()
            .expect("the stream ended while an event was expected")
    }

    /// Reads the next event and checks it is exactly `expected`.
    pub fn expect(&mut self, expected: &str) {
        assert_eq!(self.event(), expected);
    }

    /// Reads the next event and checks it holds `fragment`; returns it.
    pub fn expect_with(&mut self, fragment: &str) -> String {
        let event = self.event();
        assert!(event.contains(fragment), "expected {fragment:?} in {event}");
        event
    }

    /// Reads events until one holds `fragment`; returns the ones skipped.
    pub fn wait_for(&mut self, fragment: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let event = self.event();
            if event.contains(fragment) {
                return skipped;
            }
            skipped.push(event);
        }
    }

    /// Asserts the server ends the stream next.
    pub fn expect_end(&mut self) {
        assert_eq!(self.next_event(), None, "the stream should have ended");
    }
}
