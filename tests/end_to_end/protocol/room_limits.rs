//! Memory stays bounded whatever the room churn: limits on rooms, capped
//! list replies, and replay buffers that are forgotten.

use crate::support::TestServer;

#[test]
fn a_client_may_be_in_only_so_many_rooms() {
    let server = TestServer::with_config("max_rooms_per_client = 3");
    let alice = server.login("alice");
    for room in ["a", "b"] {
        alice.send(&format!("/join {room}"));
        alice.expect(&format!("* you joined #{room}"));
    }
    alice.send("/join c");
    alice.expect("! you are in too many rooms (3)");
    // Leaving one makes room again.
    alice.send("/leave a");
    alice.expect("* you left #a");
    alice.send("/join c");
    alice.expect("* you joined #c");
}

#[test]
fn the_server_holds_only_so_many_rooms() {
    let server = TestServer::with_config("max_rooms = 2");
    let alice = server.login("alice");
    alice.send("/join a");
    alice.expect("* you joined #a");
    let bob = server.login("bob");
    bob.send("/join b");
    bob.expect("! too many rooms on this server");
    // An existing room can always be joined.
    bob.send("/join a");
    bob.expect("* you joined #a");
}

#[test]
fn rooms_lists_the_fifty_biggest_and_counts_the_rest() {
    let server = TestServer::with_config("max_rooms_per_client = 100\nrate_limit_per_sec = 0");
    let alice = server.login("alice");
    for i in 0..59 {
        alice.send(&format!("/join r{i:02}"));
        alice.expect(&format!("* you joined #r{i:02}"));
    }
    // #general has two members, so it is among the biggest.
    let bob = server.login("bob");
    bob.send("/rooms");
    let line = bob.expect_prefix("* rooms: ");
    assert!(line.ends_with(", and 10 more"), "{line}");
    assert!(line.contains("#general (2)"), "{line}");
    assert_eq!(line.matches(" (").count(), 50, "{line}");
}

#[test]
fn users_lists_a_hundred_names_and_counts_the_rest() {
    let server = TestServer::with_config("max_clients_per_ip = 0\nannounce_max_members = 1");
    let clients: Vec<_> = (0..105)
        .map(|i| server.login(&format!("u{i:03}")))
        .collect();
    let last = server.login("zed");
    last.send("/users");
    let line = last.expect_prefix("* online: ");
    assert!(line.starts_with("* online: u000, u001, "), "{line}");
    assert!(line.ends_with(", and 6 more"), "{line}");
    drop(clients);
}
