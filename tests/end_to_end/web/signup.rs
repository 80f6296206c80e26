//! `POST /api/signup`: the web page creates an account with the same rules
//! and texts as the terminal's sign-up at the door, and logs it in.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::TestServer;

/// Posts a form; returns the status and the body.
fn post(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let body = body.join("&");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn signup(server: &TestServer, name: &str, password: &str, repeat: &str) -> (u16, String) {
    let fields = [("name", name), ("password", password), ("repeat", repeat)];
    post(server.web_addr, "/api/signup", &fields)
}

#[test]
fn a_browser_creates_an_account_and_is_logged_in() {
    let server = TestServer::with_config("password_iterations = 1000");
    let (status, token) = signup(&server, "webby", "correct-horse", "correct-horse");
    assert_eq!(status, 200, "{token}");
    assert_eq!(token.trim().len(), 32, "{token}");
    // The account holds: a terminal cannot take the name without it.
    let terminal = server.connect();
    terminal.line();
    terminal.send("webby");
    terminal.expect("* webby is registered; enter your password:");
}

#[test]
fn sign_up_refusals_use_the_terminals_words() {
    let server = TestServer::with_config("password_iterations = 1000");
    assert_eq!(
        signup(&server, "webby", "short", "short"),
        (
            400,
            "! password must be at least 8 characters\n".to_string()
        )
    );
    assert_eq!(
        signup(&server, "webby", "correct-horse", "correct-hose"),
        (400, "! the passwords do not match\n".to_string())
    );
    assert_eq!(
        signup(&server, "webby", "correct-horse", "correct-horse").0,
        200
    );
    assert_eq!(
        signup(&server, "WEBBY", "correct-horse", "correct-horse"),
        (409, "! webby is already registered\n".to_string())
    );
}

#[test]
fn sign_up_is_refused_when_registration_is_closed() {
    let server = TestServer::with_config("open_registration = false");
    assert_eq!(
        signup(&server, "webby", "correct-horse", "correct-horse"),
        (403, "! registration is closed\n".to_string())
    );
}

#[test]
fn three_accounts_an_hour_from_one_address() {
    let server = TestServer::with_config("password_iterations = 1000\nmax_clients_per_ip = 0");
    for name in ["one", "two", "three"] {
        assert_eq!(
            signup(&server, name, "correct-horse", "correct-horse").0,
            200,
            "{name}"
        );
    }
    assert_eq!(
        signup(&server, "four", "correct-horse", "correct-horse"),
        (
            429,
            "! too many new accounts from your address; try later\n".to_string()
        )
    );
}

#[test]
fn sign_up_cannot_take_the_name_of_a_guest_online() {
    let server = TestServer::with_config("password_iterations = 1000");
    let bob = server.login("bob");
    assert_eq!(
        signup(&server, "bob", "correct-horse", "correct-horse"),
        (409, "! the name bob is taken\n".to_string())
    );
    // Bob is still there, and was told nothing.
    bob.send("/users");
    bob.expect("* online: bob");
}

#[test]
fn a_banned_name_gets_no_account() {
    let mut server = TestServer::with_config("password_iterations = 1000");
    server.console("/ban webby 60");
    server.console_reply();
    let (status, body) = signup(&server, "Webby", "correct-horse", "correct-horse");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.starts_with("! you are banned from this server (until "),
        "{body}"
    );
    server.console("/accounts");
    assert_eq!(server.console_reply(), "* accounts: none");
}
