//! The web page from the outside: the small HTTP client of
//! `support::web` logs in, opens the event stream and sends lines, next to
//! terminal clients on the same server (docs/PROTOCOL.md, "The web page").

use crate::support::web::{
    alice_and_webby, form, get, login_request, post, request, web_login, web_say, web_send, webby,
    Events, HELLO_WEBBY, OK,
};
use crate::support::{TempDir, TestServer};
use std::thread;
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cret-pass";

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
fn the_whole_page_weighs_under_60_kb() {
    // HTML, script and styles, uncompressed, with no build step and
    // nothing loaded from elsewhere: what a phone on a weak LAN loads.
    let server = TestServer::start();
    let weight: usize = ["/", "/app.js", "/style.css"]
        .iter()
        .map(|path| get(server.web_addr, path).body.len())
        .sum();
    assert!(weight < 60 * 1024, "the page weighs {weight} bytes");
    let html = get(server.web_addr, "/").text();
    for external in ["http://", "https://", "//"] {
        let loads = [format!("src=\"{external}"), format!("href=\"{external}")];
        assert!(
            !loads.iter().any(|l| html.contains(l.as_str())),
            "loads {external}"
        );
    }
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
    old.expect_with(r#"{"type":"hello","name":"carol""#);

    // The owner, with the right password, gets the name (a laptop that
    // slept comes back); the old session is told, and ended.
    let second = login_request(&server, "carol", Some(PASSWORD));
    assert_eq!(second.status, 200, "{}", second.text());
    assert_ne!(second.text(), old_token);
    old.wait_for(r#"{"type":"notice","text":"logged in from elsewhere"}"#);
    old.expect_end();
    assert_eq!(web_send(&server, &old_token, "still here?").status, 401);
    let mut new = Events::open_ok(&server, &second.text());
    new.expect_with(r#"{"type":"hello","name":"carol""#);
}

#[test]
fn event_stream_starts_with_the_hello_and_the_replay_as_json() {
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
    let replay = events.expect_with(
        r#"{"type":"replay","room":"general","messages":[{"from":"alice","text":"good morning","time":""#,
    );
    assert!(replay.ends_with(r#""}]}"#), "{replay}");
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
    events.wait_for(
        r#"{"type":"said","room":"general","from":"alice","text":"hello from the terminal","#,
    );
}

#[test]
fn direct_messages_go_both_ways_between_browser_and_terminal() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);

    web_say(&server, &token, "@alice psst from the web");
    alice.expect("[DM] webby: psst from the web");

    alice.send("@webby psst from the terminal");
    events.wait_for(
        r#"{"type":"direct","from":"alice","to":"webby","text":"psst from the terminal"}"#,
    );
}

#[test]
fn browser_join_works_like_the_terminal() {
    let server = TestServer::start();
    let (token, mut events) = webby(&server);
    web_say(&server, &token, "/join dev");
    events.expect(
        // webby made #dev: its operator.
        r#"{"type":"you_joined","room":"dev","topic":null,"members":[{"name":"webby","op":true,"voice":false}],"more":0}"#,
    );
}

#[test]
fn browser_nick_works_like_the_terminal() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    web_say(&server, &token, "/nick webster");
    events.expect(r#"{"type":"now_known_as","old":"webby","new":"webster"}"#);
    alice.expect("* webby is now known as webster");
}

#[test]
fn browser_quit_says_bye_and_ends_the_stream() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    web_say(&server, &token, "/quit");
    events.expect(r#"{"type":"bye","name":"webby"}"#);
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
    assert_eq!(
        response.text(),
        r#"{"ok":false,"error":"unknown or expired session"}"#
    );
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
fn closing_the_event_stream_makes_the_user_leave_after_the_grace_period() {
    let server = TestServer::with_web_config("", "reconnect_grace_secs = 1");
    let (alice, _token, events) = alice_and_webby(&server);
    let start = Instant::now();
    drop(events);
    alice.expect("* webby left #general");
    let waited = start.elapsed();
    // The janitor looks once a second: gone after 1 to 3 s.
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(3),
        "left after {waited:?}"
    );
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
fn the_rate_limit_applies_to_the_browser_and_the_answer_says_so() {
    let server = TestServer::with_config("rate_limit_per_sec = 1\nrate_limit_burst = 2");
    let (token, _events) = webby(&server);
    let answers: Vec<String> = (0..5)
        .map(|i| web_send(&server, &token, &format!("line {i}")).text())
        .collect();
    assert_eq!(answers[..2], [OK, OK]);
    // Every line over the limit is refused, in its own answer.
    let slow_down = r#"{"ok":false,"error":"slow down"}"#;
    assert_eq!(answers[2..], [slow_down, slow_down, slow_down]);
}

#[test]
fn a_web_session_is_listed_by_users() {
    let server = TestServer::start();
    let (alice, token, mut events) = alice_and_webby(&server);
    alice.send("/users");
    alice.expect("* online: alice, webby");
    web_say(&server, &token, "/users");
    events.expect(
        r#"{"type":"users","room":null,"members":[{"name":"alice","op":false,"voice":false},{"name":"webby","op":false,"voice":false}],"more":0}"#,
    );
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
    assert_eq!(web_send(&server, &token, "still here?").status, 403);
    // alice, on a terminal from the same address, is put out too.
    let kicked = loop {
        let event = events.event();
        if event.contains(r#""type":"kicked""#) {
            break event;
        }
    };
    assert!(
        kicked.contains(r#""reason":"you are banned from this server (until "#),
        "{kicked}"
    );
    events.expect_end();
}
