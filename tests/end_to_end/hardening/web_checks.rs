//! The web page answers only its own page, and the other small hardening
//! promises (SECURITY.md): `Host` and `Origin` checks, strict numbers in
//! HTTP, an HTTP request on the terminal port, invisible characters, private
//! files, the last wrong password.
//!
//! Each request uses a connection of its own (the server says
//! `Connection: close`), so a response is read to end of stream.

use super::one_at_a_time;
use crate::support::{Client, Event, TestServer, READ_TIMEOUT};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

/// One HTTP response, read whole.
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    /// The first header called `name` (ignoring case), value trimmed.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `raw` as it is and reads the whole response.
fn request(addr: SocketAddr, raw: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the web listener");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("set read timeout");
    stream.write_all(raw.as_bytes()).expect("write the request");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read the response");
    let text = String::from_utf8(bytes).expect("response is UTF-8");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {text:?}"));
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("malformed status line in {head:?}"));
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// A POST of `body` to `path` with `Host: host` and any `extra` header
/// lines (each ending in `\r\n`).
fn post(server: &TestServer, path: &str, host: &str, extra: &str, body: &str) -> Response {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(server.web_addr, &raw)
}

fn get(server: &TestServer, path: &str, host: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    request(server.web_addr, &raw)
}

/// The `Host` a browser sends for the server's page.
fn own_host(server: &TestServer) -> String {
    server.web_addr.to_string()
}

/// Checks with a terminal client that `alice` is the only one online.
fn only_alice_online(alice: &Client) {
    alice.send("/users");
    alice.expect("* online: alice");
}

// ---------------------------------------------------------------------------
// Host

#[test]
fn a_login_naming_another_host_is_misdirected() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let port = server.web_addr.port();
    let evil = format!("evil.example:{port}");
    let origin = format!("Origin: http://{evil}\r\n");
    let response = post(&server, "/api/login", &evil, &origin, "name=mallory");
    assert_eq!(response.status, 421, "{}", response.body);
    assert!(response.body.starts_with("! "), "{:?}", response.body);
    only_alice_online(&alice);
}

#[test]
fn a_page_fetched_under_a_rebound_name_is_misdirected() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let port = server.web_addr.port();
    assert_eq!(
        get(&server, "/", &format!("evil.example:{port}")).status,
        421
    );
    assert_eq!(
        get(&server, "/", &format!("localhost:{}", port + 1)).status,
        421
    );
}

#[test]
fn a_request_without_a_host_is_a_bad_request() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let response = request(server.web_addr, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(response.status, 400);
}

#[test]
fn the_listener_s_own_names_are_served() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let port = server.web_addr.port();
    for host in [
        own_host(&server),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
    ] {
        assert_eq!(get(&server, "/", &host).status, 200, "{host}");
    }
}

#[test]
fn a_name_listed_in_web_hostnames_is_served() {
    let _turn = one_at_a_time();
    let server = TestServer::with_web_config("", "hostnames = \"chat.lan, other.lan\"");
    let port = server.web_addr.port();
    assert_eq!(get(&server, "/", &format!("chat.lan:{port}")).status, 200);
    assert_eq!(get(&server, "/", &format!("Other.Lan:{port}")).status, 200);
    assert_eq!(get(&server, "/", &format!("third.lan:{port}")).status, 421);
}

// ---------------------------------------------------------------------------
// Origin

#[test]
fn a_post_from_another_site_s_page_is_forbidden() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let host = own_host(&server);
    let origin = "Origin: http://evil.example\r\n";
    let response = post(&server, "/api/login", &host, origin, "name=mallory");
    assert_eq!(response.status, 403, "{}", response.body);
    assert!(response.body.starts_with("! "), "{:?}", response.body);
    only_alice_online(&alice);
}

#[test]
fn a_post_marked_cross_site_is_forbidden() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let host = own_host(&server);
    let site = "Sec-Fetch-Site: cross-site\r\n";
    let response = post(&server, "/api/login", &host, site, "name=mallory");
    assert_eq!(response.status, 403, "{}", response.body);
    only_alice_online(&alice);
}

#[test]
fn a_post_from_our_own_page_is_served() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let host = own_host(&server);
    let origin = format!("Origin: http://{host}\r\nSec-Fetch-Site: same-origin\r\n");
    let response = post(&server, "/api/login", &host, &origin, "name=webby");
    assert_eq!(response.status, 200, "{}", response.body);
}

// ---------------------------------------------------------------------------
// Headers

#[test]
fn no_other_site_may_frame_the_page() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let response = get(&server, "/", &own_host(&server));
    let csp = response.header("Content-Security-Policy").unwrap_or("");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp:?}");
}

#[test]
fn a_405_lists_the_methods_the_path_accepts() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let host = own_host(&server);
    let response = get(&server, "/api/login", &host);
    assert_eq!(response.status, 405);
    assert_eq!(response.header("Allow"), Some("POST"));
    let raw = format!("DELETE / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let response = request(server.web_addr, &raw);
    assert_eq!(response.status, 405);
    assert_eq!(response.header("Allow"), Some("GET"));
}

// ---------------------------------------------------------------------------
// Strict numbers

#[test]
fn a_signed_content_length_is_refused() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let raw = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Length: +10\r\n\r\nname=webby",
        own_host(&server)
    );
    assert_eq!(request(server.web_addr, &raw).status, 400);
}

#[test]
fn a_repeated_content_length_is_refused() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let raw = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Length: 10\r\n\
         Content-Length: 10\r\n\r\nname=webby",
        own_host(&server)
    );
    assert_eq!(request(server.web_addr, &raw).status, 400);
}

#[test]
fn a_percent_escape_with_a_sign_is_refused() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let response = post(&server, "/api/login", &own_host(&server), "", "name=bob%+f");
    assert_eq!(response.status, 400, "{}", response.body);
    only_alice_online(&alice);
}

#[test]
fn a_whole_line_of_escaped_bytes_fits_the_body_cap() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let host = own_host(&server);
    let token = post(&server, "/api/login", &host, "", "name=webby").body;
    alice.expect("* webby joined #general");
    // 2048 bytes (the default max_line_bytes), each sent as `%XX`.
    let line = "é".repeat(1024);
    let encoded: String = line.bytes().map(|b| format!("%{b:02X}")).collect();
    let body = format!("token={token}&line={encoded}");
    let response = post(&server, "/api/send", &host, "", &body);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body, r#"{"ok":true}"#);
    alice.expect(&format!("[#general] webby: {line}"));
}

// ---------------------------------------------------------------------------
// The terminal port

#[test]
fn an_http_request_on_the_terminal_port_is_closed_without_a_word() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let browser = server.connect();
    // What a cross-site form POST to the terminal port would deliver.
    browser.send_raw(
        b"POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: text/plain\r\nContent-Length: 19\r\n\r\nmallory\nhello all\n",
    );
    browser.expect_prefix("* Welcome to ");
    // No `! ...` for any of its lines, and no name: just the end.
    assert_eq!(browser.next(READ_TIMEOUT), Some(Event::Closed));
    only_alice_online(&alice);
}

// ---------------------------------------------------------------------------
// Invisible characters

#[test]
fn bidi_and_invisible_characters_are_removed_from_messages() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    let bob = server.login("bob");
    alice.expect("* bob joined #general");
    bob.send("a\u{202E}b\u{2066}c\u{200B}d\u{FEFF}e\u{00AD}f");
    alice.expect("[#general] bob: abcdef");
}

#[test]
fn invisible_characters_are_removed_from_web_names() {
    let _turn = one_at_a_time();
    let server = TestServer::start();
    let alice = server.login("alice");
    // `web` + ZERO WIDTH SPACE + `by`: shown as `webby`, so it is `webby`.
    let body = "name=web%E2%80%8Bby";
    let response = post(&server, "/api/login", &own_host(&server), "", body);
    assert_eq!(response.status, 200, "{}", response.body);
    alice.expect("* webby joined #general");
}

// ---------------------------------------------------------------------------
// Files and passwords

#[cfg(unix)]
#[test]
fn the_chat_log_and_the_data_directory_are_private() {
    let _turn = one_at_a_time();
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("hello");
    alice.send("/register password1");
    alice.expect_prefix("* ");
    let mode = |path: &std::path::Path| {
        let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        metadata.permissions().mode() & 0o777
    };
    assert_eq!(mode(&server.dir.path().join("history.log")), 0o600);
    assert_eq!(mode(&server.dir.path().join("data")), 0o700);
}

#[test]
fn the_third_wrong_password_closes_with_a_linger_not_a_reset() {
    let _turn = one_at_a_time();
    let server = TestServer::with_config("password_iterations = 1");
    let alice = server.login("alice");
    alice.send("/register password1");
    alice.expect_prefix("* ");
    alice.send("/quit");
    alice.expect_closed();

    // A plain socket, read here and nowhere else: the test tells a clean
    // end of stream from a reset, which `Client` reports alike.
    let mut guesser = TcpStream::connect(server.addr).expect("connect");
    guesser
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("set read timeout");
    let mut reader = BufReader::new(guesser.try_clone().expect("clone"));
    let mut line = || {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a line");
        line
    };
    assert!(line().starts_with("* Welcome to "));
    guesser.write_all(b"alice\n").expect("send the name");
    let prompt = "* alice is registered; enter your password:\n";
    assert_eq!(line(), prompt);
    // A wrong password is answered with the prompt again, twice...
    for _ in 0..2 {
        guesser.write_all(b"wrong\n").expect("send a password");
        assert_eq!(line(), "! wrong password\n");
        assert_eq!(line(), prompt);
    }
    // ...and the third ends the connection.
    guesser.write_all(b"wrong\n").expect("send a password");
    assert_eq!(line(), "! wrong password\n");
    // Bytes the server never reads as a password. A server that closed at
    // once would answer them with a reset (RST), and a reset can destroy an
    // answer the client has not read yet (on some systems, all of it). A
    // lingering server reads and discards them until we are done.
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(100));
        let sent = guesser.write_all(b"more bytes\n");
        assert!(sent.is_ok(), "the server reset the connection: {sent:?}");
    }
    guesser.shutdown(Shutdown::Write).expect("half-close");
    let mut rest = [0u8; 64];
    let read = reader.read(&mut rest);
    assert!(matches!(read, Ok(0)), "expected a clean end, got {read:?}");
}

// ---------------------------------------------------------------------------
// The console

#[test]
fn the_console_does_not_register_a_name_a_guest_is_using() {
    let _turn = one_at_a_time();
    let mut server = TestServer::with_config("password_iterations = 1");
    let _alice = server.login("alice");
    server.console("/register alice password1");
    assert_eq!(
        server.console_reply(),
        "! alice is online as a guest; /kick them first"
    );
    server.console("/accounts");
    assert_eq!(server.console_reply(), "* accounts: none");
    // A name nobody uses is registered as before.
    server.console("/register bob password1");
    assert_eq!(server.console_reply(), "* bob is now registered");
}
