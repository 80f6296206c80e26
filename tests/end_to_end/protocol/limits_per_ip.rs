//! Connection limits: `max_clients_per_ip` connections at once from one
//! address, and `max_clients` in all (docs/PROTOCOL.md, "Handshake").

use crate::support::{Client, TestServer};
use std::thread;
use std::time::{Duration, Instant};

const WELCOME: &str = "* Welcome to ";
const TOO_MANY: &str = "! too many connections from your address";

/// Opens `count` connections and reads the welcome line on each.
fn welcomed(server: &TestServer, count: usize) -> Vec<Client> {
    (0..count)
        .map(|_| {
            let client = server.connect();
            client.expect_prefix(WELCOME);
            client
        })
        .collect()
}

/// Checks that a new connection gets `refusal` and is closed.
fn expect_refused(server: &TestServer, refusal: &str) {
    let client = server.connect();
    client.expect(refusal);
    client.expect_closed();
}

#[test]
fn connection_over_the_per_ip_limit_is_refused_and_closed() {
    let server = TestServer::with_config("max_clients_per_ip = 3");
    let _clients = welcomed(&server, 3);
    expect_refused(&server, TOO_MANY);
}

#[test]
fn connections_within_the_per_ip_limit_keep_chatting_after_a_refusal() {
    let server = TestServer::with_config("max_clients_per_ip = 3");
    let alice = server.login("alice");
    let bob = server.login("bob");
    let carol = server.login("carol");
    alice.expect("* bob joined #general");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    expect_refused(&server, TOO_MANY);
    alice.send("still here");
    bob.expect("[#general] alice: still here");
    carol.expect("[#general] alice: still here");
}

#[test]
fn a_slot_freed_by_quitting_is_given_to_a_new_connection() {
    let server = TestServer::with_config("max_clients_per_ip = 3");
    let _alice = server.login("alice");
    let _bob = server.login("bob");
    let carol = server.login("carol");
    expect_refused(&server, TOO_MANY);
    carol.send("/quit");
    carol.expect_closed();
    // The server may close carol's socket a moment before it forgets her
    // connection, so allow a short, bounded wait for the slot.
    let start = Instant::now();
    loop {
        let client = server.connect();
        let line = client.line();
        if line.starts_with(WELCOME) {
            break;
        }
        assert_eq!(line, TOO_MANY);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the slot was not freed"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn per_ip_limit_of_zero_turns_the_limit_off() {
    let server = TestServer::with_config("max_clients_per_ip = 0");
    let clients = welcomed(&server, 20);
    assert_eq!(clients.len(), 20);
}

#[test]
fn default_per_ip_limit_is_16() {
    let server = TestServer::start();
    let _clients = welcomed(&server, 16);
    expect_refused(&server, TOO_MANY);
}

#[test]
fn max_clients_still_refuses_with_server_full_below_the_per_ip_limit() {
    let server = TestServer::with_config("max_clients = 2");
    let _clients = welcomed(&server, 2);
    expect_refused(&server, "! server full");
}
