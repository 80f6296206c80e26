//! Limits that protect the others from one client: the per-client rate limit
//! and the write timeout that drops a client who stops reading
//! (docs/PROTOCOL.md, "Details").

use crate::support::{alice_and_bob, login_and_stall, Client, TestServer};
use std::thread;
use std::time::{Duration, Instant};

/// `count` numbered lines `m1`, `m2`, ... in one buffer, for a single write.
fn numbered_lines(count: usize) -> Vec<u8> {
    (1..=count)
        .map(|i| format!("m{i}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Sends a marker through alice once her flood has been handled, then reads
/// what bob got from her until his own marker: the numbers of her messages.
fn messages_bob_got(alice: &Client, bob: &Client) -> Vec<usize> {
    // alice's lines are handled in order, so her reply to /users means the
    // whole flood has been handled (delivered or dropped).
    alice.send("/users");
    alice.wait_for("* online: alice, bob");
    bob.send("/users");
    bob.wait_for("* online: alice, bob")
        .iter()
        .map(|line| {
            line.strip_prefix("[#general] alice: m")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line for bob: {line:?}"))
        })
        .collect()
}

#[test]
fn flood_beyond_the_rate_limit_gets_slow_down() {
    let server = TestServer::with_config("rate_limit_per_sec = 2\nrate_limit_burst = 3");
    let (alice, _bob) = alice_and_bob(&server);
    alice.send_raw(&numbered_lines(10));
    alice.expect("! slow down");
}

#[test]
fn flood_beyond_the_rate_limit_is_dropped_after_the_burst() {
    let server = TestServer::with_config("rate_limit_per_sec = 2\nrate_limit_burst = 3");
    let (alice, bob) = alice_and_bob(&server);
    // Let the bucket fill up after the login lines (2 per second, burst 3).
    thread::sleep(Duration::from_millis(1600));
    alice.send_raw(&numbered_lines(10));
    alice.expect("! slow down");
    // Wait for the limit to let alice's marker through.
    thread::sleep(Duration::from_millis(1200));
    let got = messages_bob_got(&alice, &bob);
    let first_few: Vec<usize> = (1..=got.len()).collect();
    assert_eq!(got, first_few, "bob should get the first lines, in order");
    assert!(
        (3..=4).contains(&got.len()),
        "a burst of 3 should pass and the rest be dropped; bob got {got:?}"
    );
}

#[test]
fn slow_down_is_sent_at_most_once_a_second() {
    let server = TestServer::with_config("rate_limit_per_sec = 2\nrate_limit_burst = 3");
    let (alice, _bob) = alice_and_bob(&server);
    alice.send_raw(&numbered_lines(30));
    alice.expect("! slow down");
    thread::sleep(Duration::from_millis(1200));
    alice.send("/users");
    let before_reply = alice.wait_for("* online: alice, bob");
    assert!(
        before_reply.is_empty(),
        "one flood within a second got more warnings: {before_reply:?}"
    );
}

#[test]
fn rate_limit_zero_turns_the_limit_off() {
    let server = TestServer::with_config("rate_limit_per_sec = 0");
    let (alice, bob) = alice_and_bob(&server);
    alice.send_raw(&numbered_lines(100));
    let got = messages_bob_got(&alice, &bob);
    assert_eq!(got, (1..=100).collect::<Vec<_>>());
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn default_rate_limit_lets_a_burst_of_20_through() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    // Refill what the login used (10 per second).
    thread::sleep(Duration::from_millis(500));
    // 19 messages and a /users: 20 lines at once.
    alice.send_raw(&numbered_lines(19));
    alice.send("/users");
    // No warning before the reply: all 20 passed.
    alice.expect("* online: alice, bob");
    bob.send("/users");
    let got = bob.wait_for("* online: alice, bob");
    let expected: Vec<String> = (1..=19)
        .map(|i| format!("[#general] alice: m{i}"))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn default_rate_limit_stops_a_flood() {
    let server = TestServer::start();
    let (alice, _bob) = alice_and_bob(&server);
    alice.send_raw(&numbered_lines(60));
    alice.expect("! slow down");
}

#[test]
fn slow_reader_does_not_stall_others() {
    let server = TestServer::with_config("rate_limit_per_sec = 0\nwrite_timeout_ms = 200");
    // `slow` logs in and never reads again.
    let _slow = login_and_stall(server.addr, "slow");
    let bob = server.login("bob");
    let alice = server.login("alice");
    bob.expect("* alice joined #general");
    // If the server stalls on `slow` for good, fail instead of hanging.
    alice
        .stream()
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("set write timeout");

    // bob reads on a thread of his own, so that alice's writes never wait on
    // bob's buffer. He stops at alice's END line (or when a read times out,
    // which panics the thread and fails the test).
    let reader = thread::spawn(move || {
        let mut from_alice = 0usize;
        let mut saw_slow_leave = false;
        for _ in 0..100_000 {
            let line = bob.line();
            if line == "[#general] alice: END" {
                return (from_alice, saw_slow_leave, Instant::now());
            }
            if line == "* slow left #general" {
                saw_slow_leave = true;
            } else if line.starts_with("[#general] alice: ") {
                from_alice += 1;
            }
        }
        panic!("bob never saw alice's END line");
    });

    // About 15 MB in lines of about 1900 bytes: far more than the socket
    // buffers of a client who does not read.
    let filler = "x".repeat(1890);
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < 8000 && start.elapsed() < Duration::from_secs(60) {
        alice.send(&format!("{sent:06} {filler}"));
        sent += 1;
    }
    alice.send("END");
    let last_send = Instant::now();

    let (from_alice, saw_slow_leave, got_end) = reader.join().expect("bob's reader thread");
    let lag = got_end.saturating_duration_since(last_send);
    assert!(saw_slow_leave, "bob never saw `* slow left #general`");
    assert_eq!(from_alice, sent, "bob missed some of alice's lines");
    assert!(
        lag < Duration::from_secs(2),
        "alice's last line took {lag:?} to reach bob"
    );
}
