//! Framing: TCP delivers bytes, and the server must rebuild lines from them
//! whatever way they arrive, cap their length in bytes, refuse bad UTF-8, and
//! strip control characters (docs/PROTOCOL.md, "Framing").

use crate::support::{alice_and_bob, Client, TestServer};
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

/// Writes `parts` as separate TCP segments: Nagle off, and a pause between
/// them so the server's reads see them one by one.
fn send_in_pieces(client: &Client, parts: &[&[u8]]) {
    let mut stream = client.stream();
    stream.set_nodelay(true).expect("set nodelay");
    for part in parts {
        stream.write_all(part).expect("write piece");
        stream.flush().expect("flush piece");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn crlf_line_ending_is_accepted_in_the_handshake() {
    let server = TestServer::start();
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client.send_raw(b"alice\r\n");
    client.expect("* Hello alice! You are in #general. Type /help for commands.");
}

#[test]
fn crlf_line_ending_is_dropped_from_messages() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"hi there\r\n");
    bob.expect("[#general] alice: hi there");
    alice.send_raw(b"/users\r\n");
    alice.expect("* online: alice, bob");
}

#[test]
fn line_of_exactly_max_line_bytes_is_accepted() {
    let server = TestServer::with_config("max_line_bytes = 100");
    let (alice, bob) = alice_and_bob(&server);
    let text = "x".repeat(100);
    alice.send(&text);
    bob.expect(&format!("[#general] alice: {text}"));
}

#[test]
fn line_over_max_line_bytes_is_refused_and_the_next_line_is_read() {
    let server = TestServer::with_config("max_line_bytes = 100");
    let (alice, bob) = alice_and_bob(&server);
    // The long line and the next one arrive in the same write.
    let mut bytes = "y".repeat(101).into_bytes();
    bytes.extend_from_slice(b"\nafter the long one\n");
    alice.send_raw(&bytes);
    alice.expect("! line too long (max 100 bytes)");
    // Nothing of the long line reached bob; the next line did, whole.
    bob.expect("[#general] alice: after the long one");
}

#[test]
fn very_long_line_is_skipped_up_to_its_newline() {
    let server = TestServer::with_config("max_line_bytes = 100");
    let (alice, bob) = alice_and_bob(&server);
    let mut bytes = "z".repeat(200_000).into_bytes();
    bytes.extend_from_slice(b"\nstill here\n");
    alice.send_raw(&bytes);
    alice.expect("! line too long (max 100 bytes)");
    bob.expect("[#general] alice: still here");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn line_length_is_counted_in_bytes_not_characters() {
    let server = TestServer::with_config("max_line_bytes = 100");
    let (alice, bob) = alice_and_bob(&server);
    // 50 two-byte characters: 100 bytes, allowed.
    let fits = "é".repeat(50);
    alice.send(&fits);
    bob.expect(&format!("[#general] alice: {fits}"));
    // 99 bytes and a two-byte character: 101 bytes. A cap that cuts the
    // character in half must still report "too long", not bad UTF-8.
    alice.send(&format!("{}é", "x".repeat(99)));
    alice.expect("! line too long (max 100 bytes)");
}

#[test]
fn default_max_line_is_2048_bytes() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let fits = "x".repeat(2048);
    alice.send(&fits);
    bob.expect(&format!("[#general] alice: {fits}"));
    alice.send(&"x".repeat(2049));
    alice.expect("! line too long (max 2048 bytes)");
}

#[test]
fn too_long_line_in_the_handshake_is_refused() {
    let server = TestServer::with_config("max_line_bytes = 100");
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client.send(&"n".repeat(150));
    client.expect("! line too long (max 100 bytes)");
    client.send("alice");
    client.expect("* Hello alice! You are in #general. Type /help for commands.");
}

#[test]
fn invalid_utf8_is_refused_and_the_connection_kept() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"bad \xff\xfe bytes\n");
    alice.expect("! message is not valid UTF-8");
    alice.send("good bytes");
    // The bad line was dropped: bob's next line is the good one.
    bob.expect("[#general] alice: good bytes");
}

#[test]
fn control_characters_are_removed_and_tabs_become_spaces() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"hi\x1b[31mred\x07\tend\n");
    bob.expect("[#general] alice: hi[31mred end");
}

#[test]
fn control_characters_are_removed_from_direct_messages() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"@bob \x1b[2Jclear\x08ed\n");
    bob.expect("[DM] alice: [2Jcleared");
}

#[test]
fn line_empty_after_cleaning_is_ignored() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"\n\x07\x1b\x00\n\r\n");
    // No reply to alice...
    alice.send("/users");
    alice.expect("* online: alice, bob");
    // ...and nothing to bob before the next real line.
    alice.send("real line");
    bob.expect("[#general] alice: real line");
}

#[test]
fn several_lines_in_one_write_are_all_handled() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"one\ntwo\n/users\nthree\n");
    bob.expect("[#general] alice: one");
    bob.expect("[#general] alice: two");
    bob.expect("[#general] alice: three");
    alice.expect("* online: alice, bob");
}

#[test]
fn line_split_across_writes_is_reassembled() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    send_in_pieces(&alice, &[b"hel", b"lo wo", b"rld\nsec", b"ond\n"]);
    bob.expect("[#general] alice: hello world");
    bob.expect("[#general] alice: second");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn utf8_character_split_across_writes_is_reassembled() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    // "café": the two bytes of é arrive in different writes.
    send_in_pieces(&alice, &[b"caf\xc3", b"\xa9\n"]);
    bob.expect("[#general] alice: café");
}

#[test]
fn fragment_without_newline_before_close_is_dropped() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(b"complete\npartial");
    bob.expect("[#general] alice: complete");
    alice.shutdown_write();

    // Ask until alice is gone (the server has seen her end of file), bounded
    // in count and time, and check that the fragment never arrived.
    let start = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..50 {
        bob.send("/users");
        let (skipped, reply) = wait_for_prefix(&bob, "* online: ");
        seen.extend(skipped);
        if reply == "* online: bob" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "alice never left");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !seen.iter().any(|line| line.contains("partial")),
        "the fragment was delivered: {seen:?}"
    );
    bob.send("/users");
    bob.expect("* online: bob");
}

/// Reads lines until one starts with `prefix`: (the lines skipped, that line).
fn wait_for_prefix(client: &Client, prefix: &str) -> (Vec<String>, String) {
    let mut skipped = Vec::new();
    loop {
        let line = client.line();
        if line.starts_with(prefix) {
            return (skipped, line);
        }
        skipped.push(line);
    }
}
