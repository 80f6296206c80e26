//! Server-wide bans from the console: `/ban`, `/unban`, `/bans` and
//! `/kick --ban`, as a terminal client meets them (docs/PROTOCOL.md,
//! "Bans"). The web page's and IRC's refusals are tested with the rest of
//! their listeners (`web::http`, `irc`); expiry, with an injected clock, in
//! the unit tests of `src/bans.rs`.
//!
//! Test clients connect from 127.0.0.1, so a ban of that address shuts out
//! the test's own clients: what an address ban is tested with.

use crate::support::{alice_and_bob, TestServer};

/// Sends a console command and returns its reply.
fn console(server: &mut TestServer, line: &str) -> String {
    server.console(line);
    server.console_reply()
}

/// Whether `line` is `prefix` and an `HH:MM UTC` end time, then `suffix`.
fn until(line: &str, prefix: &str, suffix: &str) -> bool {
    let Some(rest) = line.strip_prefix(prefix) else {
        return false;
    };
    let Some(time) = rest.strip_suffix(suffix) else {
        return false;
    };
    let bytes = time.as_bytes();
    time.len() == 9 && bytes[2] == b':' && time.ends_with(" UTC")
}

#[test]
fn console_bans_lists_and_lifts_names_and_addresses() {
    let mut server = TestServer::start();
    assert_eq!(console(&mut server, "/bans"), "* bans: none");
    let reply = console(&mut server, "/ban Bob 10");
    assert!(until(&reply, "* banned bob until ", ""), "{reply}");
    let reply = console(&mut server, "/ban 10.0.0.7");
    assert_eq!(reply, "* banned 10.0.0.7 permanently");
    let reply = console(&mut server, "/ban ::ffff:10.0.0.8 5");
    assert!(until(&reply, "* banned 10.0.0.8 until ", ""), "{reply}");
    let listed = console(&mut server, "/bans");
    let end = &reply["* banned 10.0.0.8 ".len()..];
    assert!(listed.starts_with("* bans: bob until "), "{listed}");
    assert!(
        listed.ends_with(&format!(", 10.0.0.7 permanently, 10.0.0.8 {end}")),
        "{listed}"
    );
    assert_eq!(
        console(&mut server, "/unban BOB"),
        "* bob is no longer banned"
    );
    assert_eq!(console(&mut server, "/unban bob"), "! bob is not banned");
    assert_eq!(
        console(&mut server, "/ban bob never"),
        "! minutes must be a whole number from 1 to 5270400, not never"
    );
    let listed = console(&mut server, "/bans");
    assert!(
        listed.starts_with("* bans: 10.0.0.7 permanently"),
        "{listed}"
    );
}

#[test]
fn a_banned_name_is_refused_at_login_in_any_case_and_closed() {
    let mut server = TestServer::start();
    console(&mut server, "/ban bob");
    let bob = server.connect();
    bob.expect_prefix("* Welcome to ");
    bob.send("BOB");
    bob.expect("! you are banned from this server (permanently)");
    bob.expect_closed();
    // Someone else still gets in.
    let _alice = server.login("alice");
}

#[test]
fn a_timed_ban_says_until_when() {
    let mut server = TestServer::start();
    console(&mut server, "/ban bob 10");
    let bob = server.connect();
    bob.expect_prefix("* Welcome to ");
    bob.send("bob");
    let refusal = bob.line();
    assert!(
        until(&refusal, "! you are banned from this server (until ", ")"),
        "{refusal}"
    );
    bob.expect_closed();
}

/// Starts a server with alice and bob online; the console `command` bans
/// bob, who is told `kicked` and an end time and is disconnected, and alice
/// sees him leave. Returns the server.
fn ban_bob_while_online(command: &str, kicked: &str) -> TestServer {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let reply = console(&mut server, command);
    assert!(
        until(&reply, "* banned bob until ", "; disconnected bob"),
        "{reply}"
    );
    let told = bob.line();
    assert!(until(&told, kicked, ")"), "{told}");
    bob.expect_closed();
    alice.expect("* bob left #general (kicked)");
    server
}

#[test]
fn banning_a_name_online_puts_them_out_and_their_rooms_see_it() {
    ban_bob_while_online(
        "/ban bob 10",
        "* you were kicked by the operator: you are banned from this server (until ",
    );
}

#[test]
fn a_banned_address_is_turned_away_and_everyone_from_it_put_out() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    // One still in the handshake is closed too, without a word.
    let newcomer = server.connect();
    newcomer.expect_prefix("* Welcome to ");
    let reply = console(&mut server, "/ban 127.0.0.1");
    assert_eq!(
        reply,
        "* banned 127.0.0.1 permanently; disconnected alice, bob"
    );
    for client in [&alice, &bob] {
        client.wait_for(
            "* you were kicked by the operator: you are banned from this server (permanently)",
        );
        client.expect_closed();
    }
    newcomer.expect_closed();
    let turned_away = server.connect();
    turned_away.expect("! you are banned from this server (permanently)");
    turned_away.expect_closed();

    assert_eq!(
        console(&mut server, "/unban 127.0.0.1"),
        "* 127.0.0.1 is no longer banned"
    );
    let _alice = server.login("alice");
}

#[test]
fn nick_to_a_banned_name_is_refused() {
    let mut server = TestServer::start();
    let alice = server.login("alice");
    console(&mut server, "/ban bob");
    alice.send("/nick Bob");
    alice.expect("! the name Bob is banned from this server");
    alice.send("/nick carol");
    alice.expect("* you are now known as carol");
}

#[test]
fn kick_with_ban_puts_the_name_out_with_the_reason_and_keeps_it_out() {
    let server = ban_bob_while_online(
        "/kick bob --ban 5 flooding",
        "* you were kicked by the operator: flooding; you are banned from this server (until ",
    );
    let again = server.connect();
    again.expect_prefix("* Welcome to ");
    again.send("bob");
    again.expect_prefix("! you are banned from this server (until ");
}

#[test]
fn bans_survive_a_restart() {
    let mut server = TestServer::start();
    console(&mut server, "/ban bob 30");
    console(&mut server, "/ban 10.0.0.7");
    // Killed, not shut down: each ban was on disk before its reply.
    let dir = server.kill();
    let mut server = TestServer::in_dir(dir, "");
    let listed = console(&mut server, "/bans");
    assert!(listed.starts_with("* bans: bob until "), "{listed}");
    assert!(listed.ends_with(", 10.0.0.7 permanently"), "{listed}");
    let bob = server.connect();
    bob.expect_prefix("* Welcome to ");
    bob.send("bob");
    bob.expect_prefix("! you are banned from this server (until ");
}
