//! The web page from the outside: a tiny HTTP client, written here with std
//! only, logs in, opens the event stream and sends lines, next to terminal
//! clients on the same server (docs/PROTOCOL.md, "The web page").
//!
//! Each request uses a connection of its own, as the server's
//! `Connection: close` says, so a response is read to end of stream. The
//! event stream is the exception: it stays open, and its `data:` events are
//! read one by one as they arrive.

use crate::support::{Client, TempDir, TestServer, READ_TIMEOUT};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cret-pass";
const HELLO_WEBBY: &str = "* Hello webby! You are in #general. Type /help for commands.";

/// One HTTP response, read whole.
struct Response {
    status: u16,
    /// Header names as sent, values trimmed.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// The first header called `name`, ignoring case.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }
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
fn request(addr: SocketAddr, raw: &[u8]) -> Response {
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

fn get(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
}

/// Encodes a form value: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`.
fn percent_encode(value: &str) -> String {
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

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs `body` as a form to `path`.
fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(addr, raw.as_bytes())
}

fn login_request(server: &TestServer, name: &str, password: Option<&str>) -> Response {
    let body = match password {
        Some(password) => form(&[("name", name), ("password", password)]),
        None => form(&[("name", name)]),
    };
    post(server.web_addr, "/api/login", &body)
}

/// Logs in from the web as a guest and returns the session token.
fn web_login(server: &TestServer, name: &str) -> String {
    let response = login_request(server, name, None);
    assert_eq!(response.status, 200, "login as {name}: {}", response.text());
    response.text()
}

/// Sends one chat line from the browser; returns the status.
fn web_send(server: &TestServer, token: &str, line: &str) -> u16 {
    let body = form(&[("token", token), ("line", line)]);
    post(server.web_addr, "/api/send", &body).status
}

/// Sends one chat line from the browser and checks it was taken (204).
fn web_say(server: &TestServer, token: &str, line: &str) {
    assert_eq!(web_send(server, token, line), 204, "send {line:?}");
}

/// An open `GET /api/events` stream, read one event at a time.
struct Events {
    status: u16,
    headers: Vec<(String, String)>,
    /// One reader for the whole stream: a new one would lose buffered bytes.
    reader: BufReader<TcpStream>,
}

impl Events {
    fn open(server: &TestServer, token: &str) -> Events {
        let mut stream = connect(server.web_addr);
        let raw = format!(
            "GET /api/events?token={} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
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
        }
    }

    /// Opens the stream and checks it was accepted.
    fn open_ok(server: &TestServer, token: &str) -> Events {
        let events = Events::open(server, token);
        assert_eq!(events.status, 200, "open the event stream");
        events
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next event's line (after `data: `), skipping comments and blank
    /// separators; None when the server ends the stream. Panics on timeout.
    fn next_event(&mut self) -> Option<String> {
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
            if line.is_empty() || line.starts_with(':') {
                continue;
            }
            let data = line
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not an event line: {line:?}"));
            return Some(data.to_string());
        }
    }

    fn event(&mut self) -> String {
        self.next_event()
            .expect("the stream ended while an event was expected")
    }

    fn expect(&mut self, expected: &str) {
        assert_eq!(self.event(), expected);
    }

    /// Reads events until one equals `expected`, returning those skipped.
    fn wait_for(&mut self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let event = self.event();
            if event == expected {
                return skipped;
            }
            skipped.push(event);
        }
    }

    /// Reads the next event and checks it starts with `prefix`.
    fn expect_prefix(&mut self, prefix: &str) {
        let event = self.event();
        assert!(event.starts_with(prefix), "{event:?}");
    }

    /// Asserts the server ends the stream next.
    fn expect_end(&mut self) {
        assert_eq!(self.next_event(), None, "the stream should have ended");
    }
}

/// Logs in `webby` from the web and opens its event stream, past the hello
/// line. The default room has no history in the tests that use this.
fn webby(server: &TestServer) -> (String, Events) {
    let token = web_login(server, "webby");
    let mut events = Events::open_ok(server, &token);
    events.expect(HELLO_WEBBY);
    (token, events)
}

/// A terminal client `alice`, then a browser `webby`; alice has seen webby
/// arrive.
fn alice_and_webby(server: &TestServer) -> (Client, String, Events) {
    let alice = server.login("alice");
    let (token, events) = webby(server);
    alice.expect("* webby joined #general");
    (alice, token, events)
}

/// Starts a server with accounts (fast hashing, the accounts file in the
/// server's own directory) and registers `carol` from the console.
fn server_with_carol() -> TestServer {
    let dir = TempDir::new();
    let config = format!(
        "password_iterations = 1000\naccounts_file = \"{}\"\n",
        dir.path().join("accounts.txt").display()
    );
    let mut server = TestServer::in_dir(dir, &config);
    server.console(&format!("/register carol {PASSWORD}"));
    assert_eq!(server.stdout_line(), "* carol is now registered");
    server
}

#[test]
fn page_and_assets_are_served_with_type_length_and_safety_headers() {
    let server = TestServer::start();
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
    ] {
        let response = get(server.web_addr, path);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("Content-Type"),
            Some(content_type),
            "{path}"
        );
        assert_eq!(
            response.header("Content-Security-Policy"),
            Some("default-src 'self'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            response.header("X-Content-Type-Options"),
            Some("nosniff"),
            "{path}"
        );
        let length = response.body.len().to_string();
        assert_eq!(
            response.header("Content-Length"),
            Some(length.as_str()),
            "{path}"
        );
        assert!(!response.body.is_empty(), "{path}");
    }
    let html = get(server.web_addr, "/").text();
    assert!(html.contains("app.js"), "the page loads app.js");
    assert!(html.contains("style.css"), "the page loads style.css");
}

#[test]
fn login_as_a_guest_answers_a_token_of_32_hex_digits() {
    let server = TestServer::start();
    let response = login_request(&server, "webby", None);
    assert_eq!(response.status, 200);
    let token = response.text();
    assert_eq!(token.len(), 32, "token {token:?}");
    assert!(
        token.bytes().all(|b| b.is_ascii_hexdigit()),
        "token {token:?}"
    );
}

#[test]
fn login_with_a_name_taken_by_a_terminal_client_is_409() {
    let server = TestServer::start();
    let _alice = server.login("alice");
    let response = login_request(&server, "alice", None);
    assert_eq!(response.status, 409);
    assert_eq!(response.text(), "! the name alice is taken\n");
}

#[test]
fn login_with_a_bad_name_is_400() {
    let server = TestServer::start();
    let response = login_request(&server, "no spaces!", None);
    assert_eq!(response.status, 400);
    assert_eq!(
        response.text(),
        "! name may only contain letters, digits, _ and -\n"
    );
}

#[test]
fn login_to_a_registered_name_needs_its_password() {
    let server = server_with_carol();

    let response = login_request(&server, "carol", None);
    assert_eq!(response.status, 401);
    assert!(
        response.text().starts_with("! password required"),
        "{:?}",
        response.text()
    );

    let response = login_request(&server, "carol", Some("not-the-password"));
    assert_eq!(response.status, 401);
    assert_eq!(response.text(), "! wrong password\n");

    let response = login_request(&server, "carol", Some(PASSWORD));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text().len(), 32);
}

#[test]
fn login_to_a_registered_name_already_online_takes_it_over() {
    let server = server_with_carol();
    let first = login_request(&server, "carol", Some(PASSWORD));
    assert_eq!(first.status, 200, "{}", first.text());
    let old_token = first.text();
    let mut old = Events::open_ok(&server, &old_token);
    old.expect_prefix("* Hello carol!");

    // The owner, with the right password, gets the name (a laptop that
    // slept comes back); the old session is told, and ended.
    let second = login_request(&server, "carol", Some(PASSWORD));
    assert_eq!(second.status, 200, "{}", second.text());
    assert_ne!(second.text(), old_token);
    old.wait_for("* logged in from elsewhere");
    old.expect_end();
    assert_eq!(web_send(&server, &old_token, "still here?"), 401);
    let mut new = Events::open_ok(&server, &second.text());
    new.expect_prefix("* Hello carol!");
}

#[test]
fn event_stream_starts_with_the_hello_line_and_the_replay() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("good morning");
    // A reply to a later line means the first one was handled (and logged).
    alice.skip_replay();

    let token = web_login(&server, "webby");
    let mut events = Events::open_ok(&server, &token);
    assert_eq!(
        events.header("Content-Type"),
        Some("text/event-stream; charset=utf-8")
    );
    events.expect(HELLO_WEBBY);
    events.expect("* last 1 message in #general:");
    events.expect("[#general] alice: good morning");
}

#[test]
fn a_line_from_the_browser_reaches_a_terminal_client() {
    let server = TestServer::start();
    let (alice, token, _events) = alice_and_webby(&server);
    web_say(&server, &token, "hello from the web");
    alice.expect("[#general] webby: hello from the web");
}

#[test]
fn a_line_from_a_terminal_client_reaches_the_browser() {
    let server = TestServer::start();
    let (alice, _token, mut events) = alice_and_webby(&server);
    alice.send("hello from the terminal");
    events.wait_for("[#general] alice: hello from the terminal");
}

#[test]
fn direct_messages_go_both_ways_between_browser_and_terminal() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);

    web_say(&server, &token, "@alice psst from the web");
    alice.expect("[DM] webby: psst from the web");

    alice.send("@webby psst from the terminal");
    events.wait_for("[DM] alice: psst from the terminal");
}

#[test]
fn browser_join_works_like_the_terminal() {
    let server = TestServer::start();
    let (token, mut events) = webby(&server);
    web_say(&server, &token, "/join dev");
    events.expect("* you joined #dev");
}

#[test]
fn browser_nick_works_like_the_terminal() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    web_say(&server, &token, "/nick webster");
    events.expect("* you are now known as webster");
    alice.expect("* webby is now known as webster");
}

#[test]
fn browser_quit_says_bye_and_ends_the_stream() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    web_say(&server, &token, "/quit");
    events.expect("* Bye webby!");
    events.expect_end();
    alice.expect("* webby left #general");
}

#[test]
fn send_with_an_unknown_token_is_401() {
    let server = TestServer::start();
    let body = form(&[
        ("token", "0123456789abcdef0123456789abcdef"),
        ("line", "hi"),
    ]);
    let response = post(server.web_addr, "/api/send", &body);
    assert_eq!(response.status, 401);
    assert!(response.text().starts_with("! "), "{:?}", response.text());
}

#[test]
fn events_with_an_unknown_token_is_401() {
    let server = TestServer::start();
    let response = get(
        server.web_addr,
        "/api/events?token=0123456789abcdef0123456789abcdef",
    );
    assert_eq!(response.status, 401);
    assert!(response.text().starts_with("! "), "{:?}", response.text());
}

#[test]
fn a_body_over_the_cap_is_413() {
    let server = TestServer::start();
    // The cap fits a whole line (2048 bytes) percent-encoded, and a token.
    let body = "x".repeat(7000);
    let response = post(server.web_addr, "/api/send", &body);
    assert_eq!(response.status, 413);
}

#[test]
fn a_garbage_request_is_400() {
    let server = TestServer::start();
    let response = request(server.web_addr, b"HELLO\r\n\r\n");
    assert_eq!(response.status, 400);
    assert!(response.text().starts_with("! "), "{:?}", response.text());
}

#[test]
fn an_unknown_path_is_404() {
    let server = TestServer::start();
    assert_eq!(get(server.web_addr, "/nowhere").status, 404);
}

#[test]
fn a_wrong_method_is_405() {
    let server = TestServer::start();
    let raw = format!("DELETE / HTTP/1.1\r\nHost: {}\r\n\r\n", server.web_addr);
    let response = request(server.web_addr, raw.as_bytes());
    assert_eq!(response.status, 405);
}

#[test]
fn a_head_over_8_kb_is_431() {
    let server = TestServer::start();
    let mut raw = format!("GET / HTTP/1.1\r\nHost: {}\r\n", server.web_addr);
    raw.push_str(&format!("X-Filler: {}\r\n\r\n", "y".repeat(9000)));
    let response = request(server.web_addr, raw.as_bytes());
    assert_eq!(response.status, 431);
}

#[test]
fn closing_the_event_stream_makes_the_user_leave() {
    let server = TestServer::start();
    let (alice, _token, events) = alice_and_webby(&server);
    drop(events);
    alice.expect("* webby left #general");
    alice.send("/users");
    alice.expect("* online: alice");
}

#[test]
fn a_login_that_never_opens_its_event_stream_is_logged_out() {
    let server = TestServer::with_config("handshake_timeout_secs = 1");
    let alice = server.login("alice");
    let _token = web_login(&server, "webby");
    let start = Instant::now();
    alice.expect("* webby joined #general");
    alice.expect("* webby left #general");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "logged out after {:?}",
        start.elapsed()
    );
}

#[test]
fn the_rate_limit_applies_to_the_browser() {
    let server = TestServer::with_config("rate_limit_per_sec = 1\nrate_limit_burst = 2");
    let (token, mut events) = webby(&server);
    for i in 0..5 {
        web_say(&server, &token, &format!("line {i}"));
    }
    events.wait_for("! slow down");
}

#[test]
fn a_web_session_is_listed_by_users() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    alice.send("/users");
    alice.expect("* online: alice, webby");
    web_say(&server, &token, "/users");
    events.expect("* online: alice, webby");
}

#[test]
fn a_message_from_the_web_is_in_the_history() {
    let server = TestServer::start();
    let (alice, token, _events) = alice_and_webby(&server);
    web_say(&server, &token, "for the record");
    // Logged before it is delivered: once alice has it, the file has it.
    alice.expect("[#general] webby: for the record");
    let history = server.history();
    assert!(
        history
            .lines()
            .any(|line| line.ends_with("\t#general\twebby\tfor the record")),
        "history:\n{history}"
    );
}

#[test]
fn web_sessions_count_against_the_per_address_limit() {
    // Logged-in browsers hold a place each, from login to logout, whether
    // or not their event stream is open: otherwise one address could make
    // sessions without limit. The login request's own connection holds one
    // more while it lasts, so 4 places make room for 3 sessions.
    let server = TestServer::with_config("max_clients_per_ip = 4");
    for name in ["web1", "web2", "web3"] {
        // The previous login's connection gives its place back a moment
        // after the answer, so a 503 here may only mean "not yet": try
        // again for up to a second. Three sessions must fit.
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut response = login_request(&server, name, None);
        while response.status == 503 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            response = login_request(&server, name, None);
        }
        assert_eq!(response.status, 200, "{name}: {}", response.text());
    }
    // A fourth is refused, however long it waits.
    thread::sleep(Duration::from_millis(200));
    let refused = login_request(&server, "web4", None);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.text(), "! too many connections from your address\n");
}

#[test]
fn three_wrong_passwords_shut_an_address_out_of_logging_in_for_a_while() {
    // HTTP has no connection to close after three strikes, as the terminal
    // handshake does; the address must wait instead, even with the right
    // password, so guessing cannot go on at full speed. The password
    // throttle is shared by every way in (docs/PROTOCOL.md, "Accounts").
    let server = server_with_carol();
    for _ in 0..3 {
        let response = login_request(&server, "carol", Some("not-the-password"));
        assert_eq!(response.status, 401);
    }
    let response = login_request(&server, "carol", Some(PASSWORD));
    assert_eq!(response.status, 429);
    // The first wait is 2 s, counted from the last failure, in whole
    // seconds left: "1 s" or "2 s" by the time this request arrives.
    let text = response.text();
    let secs: u64 = text
        .strip_prefix("! too many attempts; try again in ")
        .and_then(|rest| rest.strip_suffix(" s\n"))
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("unexpected answer {text:?}"));
    assert!((1..=2).contains(&secs), "{text:?}");
    // Guests (no password involved) are not held back.
    assert_eq!(login_request(&server, "dave", None).status, 200);
}

#[test]
fn a_banned_name_is_refused_at_web_login_with_403() {
    let mut server = TestServer::start();
    server.console("/ban webby");
    server.console_reply();
    let response = login_request(&server, "WEBBY", None);
    assert_eq!(response.status, 403);
    assert_eq!(
        response.text(),
        "! you are banned from this server (permanently)\n"
    );
    assert_eq!(login_request(&server, "dave", None).status, 200);
}

#[test]
fn a_banned_address_gets_403_for_every_request_and_its_browsers_are_put_out() {
    let mut server = TestServer::start();
    let (_alice, token, mut events) = alice_and_webby(&server);
    server.console("/ban 127.0.0.1 10");
    server.console_reply();
    let refused = get(server.web_addr, "/");
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .text()
            .starts_with("! you are banned from this server (until "),
        "{}",
        refused.text()
    );
    assert_eq!(web_send(&server, &token, "still here?"), 403);
    let kicked = loop {
        let event = events.event();
        if event.starts_with("* you were kicked by the operator: ") {
            break event;
        }
    };
    assert!(
        kicked.ends_with(")") && kicked.contains(": you are banned from this server (until "),
        "{kicked}"
    );
    events.expect_end();
}
