//! The server console: commands the operator types on the server's standard
//! input, their effect on clients, their replies on standard output, and a
//! graceful `/shutdown` (docs/PROTOCOL.md, "The server console").

use crate::support::{alice_and_bob, TestServer};
use std::time::Duration;

/// Reads stdout lines (at most `limit`) until every word in `words` has been
/// seen; returns the lines read.
fn stdout_mentions(server: &TestServer, words: &[&str], limit: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..limit {
        lines.push(server.stdout_line());
        let text = lines.join("\n");
        if words.iter().all(|word| text.contains(word)) {
            return lines;
        }
    }
    panic!("stdout never mentioned all of {words:?}: {lines:?}");
}

#[test]
fn say_reaches_every_client_as_server() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    // Even a client in no room is online and hears the operator.
    bob.send("/leave");
    bob.expect("* you left #general");
    alice.expect("* bob left #general");
    server.console("/say restart at noon");
    alice.expect("[server] restart at noon");
    bob.expect("[server] restart at noon");
}

#[test]
fn kick_with_reason_tells_the_user_and_closes_the_connection() {
    let mut server = TestServer::start();
    let (_alice, bob) = alice_and_bob(&server);
    server.console("/kick bob too loud");
    bob.expect("* you were kicked by the operator: too loud");
    bob.expect_closed();
}

#[test]
fn kick_without_reason_tells_the_user() {
    let mut server = TestServer::start();
    let (_alice, bob) = alice_and_bob(&server);
    server.console("/kick bob");
    bob.expect("* you were kicked by the operator");
    bob.expect_closed();
}

#[test]
fn kick_tells_the_rooms_of_the_kicked_user() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    bob.send("/join dev");
    bob.expect("* you joined #dev");
    alice.expect("* bob joined #dev");

    server.console("/kick bob spam");
    let mut notices = vec![alice.line(), alice.line()];
    notices.sort();
    assert_eq!(
        notices,
        ["* bob left #dev (kicked)", "* bob left #general (kicked)"]
    );
    alice.send("/users");
    alice.expect("* online: alice");
}

#[test]
fn kick_of_a_name_not_online_is_reported_on_stdout() {
    let mut server = TestServer::start();
    let (alice, _bob) = alice_and_bob(&server);
    server.console("/kick zed");
    let line = server.console_reply();
    assert!(line.contains("not online"), "unexpected reply: {line:?}");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn users_prints_online_users_on_stdout() {
    let mut server = TestServer::start();
    let _clients = alice_and_bob(&server);
    server.console("/users");
    stdout_mentions(&server, &["alice", "bob"], 10);
}

#[test]
fn rooms_prints_rooms_on_stdout() {
    let mut server = TestServer::start();
    let (alice, _bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    server.console("/rooms");
    stdout_mentions(&server, &["#dev", "#general"], 10);
}

#[test]
fn help_lists_the_console_commands_on_stdout() {
    let mut server = TestServer::start();
    server.console("/help");
    stdout_mentions(
        &server,
        &["/say", "/kick", "/users", "/rooms", "/shutdown", "/help"],
        30,
    );
}

#[test]
fn shutdown_tells_every_client_and_closes_them() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    server.console("/shutdown");
    alice.expect("* server is shutting down");
    alice.expect_closed();
    bob.expect("* server is shutting down");
    bob.expect_closed();
}

#[test]
fn shutdown_exits_with_code_0() {
    let mut server = TestServer::start();
    let _clients = alice_and_bob(&server);
    server.console("/shutdown");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn shutdown_does_not_wait_for_a_client_in_the_handshake() {
    let mut server = TestServer::start();
    let _alice = server.login("alice");
    let stranger = server.connect();
    stranger.expect_prefix("* Welcome to ");
    server.console("/shutdown");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    stranger.expect_closed();
}

#[test]
fn shutdown_leaves_every_message_in_the_log() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    for i in 1..=5 {
        alice.send(&format!("m{i}"));
    }
    bob.send("/users");
    bob.wait_for("* online: alice, bob");
    alice.send("/users");
    alice.expect("* online: alice, bob");
    server.console("/shutdown");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let log = server.history();
    let texts: Vec<&str> = log
        .lines()
        .map(|line| line.rsplit('\t').next().unwrap_or_default())
        .collect();
    assert_eq!(texts, ["m1", "m2", "m3", "m4", "m5"], "log: {log:?}");
}

#[test]
fn end_of_console_input_does_not_stop_the_server() {
    let mut server = TestServer::start();
    server.close_console();
    // A server that took end of file for a shutdown would be gone by now.
    assert_eq!(server.wait_exit(Duration::from_millis(500)), None);
    let (alice, bob) = alice_and_bob(&server);
    alice.send("still up");
    bob.expect("[#general] alice: still up");
}
