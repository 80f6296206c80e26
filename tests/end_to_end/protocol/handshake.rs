//! The handshake: the welcome line, the rules for names and the replies to a
//! refused one, the hello line, the join notice, the handshake deadline and
//! the `max_clients` cap (docs/PROTOCOL.md, "Handshake").

use crate::support::{alice_and_bob, Client, TestServer};
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

const HELLO_ALICE: &str = "* Hello alice! You are in #general. Type /help for commands.";

/// Connects and reads the welcome line, leaving the client at the name prompt.
fn at_prompt(server: &TestServer) -> Client {
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client
}

#[test]
fn welcome_line_names_lanchat_by_default() {
    let server = TestServer::start();
    let client = server.connect();
    client.expect("* Welcome to lanchat! Enter your name:");
}

#[test]
fn welcome_line_uses_configured_server_name() {
    let server = TestServer::with_config("server_name = \"Testhall\"");
    let client = server.connect();
    client.expect("* Welcome to Testhall! Enter your name:");
}

#[test]
fn good_name_gets_the_hello_line() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    client.send("alice");
    client.expect(HELLO_ALICE);
}

#[test]
fn name_of_24_characters_is_accepted() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    let name = "a".repeat(24);
    client.send(&name);
    client.expect(&format!(
        "* Hello {name}! You are in #general. Type /help for commands."
    ));
}

#[test]
fn name_may_use_letters_digits_underscore_and_dash() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    client.send("Al_ice-42");
    client.expect("* Hello Al_ice-42! You are in #general. Type /help for commands.");
}

#[test]
fn name_of_25_characters_is_refused_and_another_is_awaited() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    client.send(&"a".repeat(25));
    client.expect("! name must be 1 to 24 characters");
    client.send("alice");
    client.expect(HELLO_ALICE);
}

#[test]
fn name_with_other_characters_is_refused_and_another_is_awaited() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    for bad in ["al!ce", "al ice", "al.ice", "élise"] {
        client.send(bad);
        client.expect("! name may only contain letters, digits, _ and -");
    }
    client.send("alice");
    client.expect(HELLO_ALICE);
}

#[test]
fn name_server_is_reserved_in_any_case() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    for reserved in ["server", "Server", "SERVER"] {
        client.send(reserved);
        client.expect("! the name server is reserved");
    }
    client.send("alice");
    client.expect(HELLO_ALICE);
}

#[test]
fn name_already_online_is_refused() {
    let server = TestServer::start();
    let _alice = server.login("alice");
    let client = at_prompt(&server);
    client.send("alice");
    client.expect("! the name alice is taken");
    client.send("bob");
    client.expect("* Hello bob! You are in #general. Type /help for commands.");
}

#[test]
fn name_taken_is_checked_ignoring_case() {
    let server = TestServer::start();
    let _alice = server.login("alice");
    let client = at_prompt(&server);
    client.send("ALICE");
    // The contract writes the reply with the name; either spelling of it is
    // the same name, so accept both.
    let line = client.line();
    assert!(
        line == "! the name ALICE is taken" || line == "! the name alice is taken",
        "unexpected reply to a taken name: {line:?}"
    );
    client.send("bob");
    client.expect("* Hello bob! You are in #general. Type /help for commands.");
}

#[test]
fn empty_line_during_handshake_is_ignored() {
    let server = TestServer::start();
    let client = at_prompt(&server);
    client.send("");
    client.send("alice");
    // No reply to the empty line: the very next line is the hello.
    client.expect(HELLO_ALICE);
}

#[test]
fn members_of_general_see_the_newcomer_join() {
    let server = TestServer::start();
    let alice = server.login("alice");
    let _bob = server.login("bob");
    alice.expect("* bob joined #general");
}

#[test]
fn silent_connection_is_closed_after_handshake_timeout() {
    let server = TestServer::with_config("handshake_timeout_secs = 1");
    let client = at_prompt(&server);
    let start = Instant::now();
    client.expect_closed();
    let waited = start.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "closed only after {waited:?}"
    );
}

#[test]
fn trickling_bytes_does_not_extend_the_handshake_deadline() {
    let server = TestServer::with_config("handshake_timeout_secs = 1");
    let client = at_prompt(&server);
    let start = Instant::now();

    // One byte every 200 ms and never a newline, for at most 5 s; stop as
    // soon as a write fails because the server has closed the connection.
    let mut writer = client.stream().try_clone().expect("clone stream");
    let trickler = thread::spawn(move || {
        let begun = Instant::now();
        while begun.elapsed() < Duration::from_secs(5) {
            if writer.write_all(b"a").is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });

    client.expect_closed();
    let waited = start.elapsed();
    trickler.join().expect("trickler thread");
    assert!(
        waited < Duration::from_secs(3),
        "closed only after {waited:?}"
    );
}

#[test]
fn handshake_deadline_does_not_apply_after_login() {
    let server = TestServer::with_config("handshake_timeout_secs = 1");
    let alice = server.login("alice");
    // Wait past the deadline; nothing to await here, the promise is about time.
    thread::sleep(Duration::from_millis(1500));
    alice.send("/users");
    alice.expect("* online: alice");
}

#[test]
fn connection_beyond_max_clients_is_refused_and_closed() {
    let server = TestServer::with_config("max_clients = 2");
    let _alice = server.login("alice");
    let _bob = server.login("bob");
    let third = server.connect();
    third.expect("! server full");
    third.expect_closed();
}

#[test]
fn clients_within_max_clients_keep_working_after_a_refusal() {
    let server = TestServer::with_config("max_clients = 2");
    let (alice, bob) = alice_and_bob(&server);
    let third = server.connect();
    third.expect("! server full");
    third.expect_closed();

    alice.send("still here");
    bob.expect("[#general] alice: still here");
    bob.send("/users");
    bob.expect("* online: alice, bob");
}

#[test]
fn connections_in_the_handshake_count_toward_max_clients() {
    let server = TestServer::with_config("max_clients = 2");
    let _first = at_prompt(&server);
    let _second = at_prompt(&server);
    let third = server.connect();
    third.expect("! server full");
    third.expect_closed();
}

#[test]
fn a_freed_place_can_be_taken_again() {
    let server = TestServer::with_config("max_clients = 2");
    let (alice, _bob) = alice_and_bob(&server);
    alice.send("/quit");
    alice.expect("* Bye alice!");
    alice.expect_closed();

    // The server may count alice's connection for a moment after closing
    // it, so try a few times before calling it a failure.
    let start = Instant::now();
    for _ in 0..20 {
        let carol = server.connect();
        let first = carol.line();
        if first.starts_with("* Welcome to ") {
            carol.send("carol");
            carol.expect("* Hello carol! You are in #general. Type /help for commands.");
            return;
        }
        assert_eq!(first, "! server full");
        assert!(start.elapsed() < Duration::from_secs(5), "no place freed");
        thread::sleep(Duration::from_millis(100));
    }
    panic!("the place of a client that quit was never freed");
}
