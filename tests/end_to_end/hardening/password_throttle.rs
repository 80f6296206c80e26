//! One password throttle for every way in: failures counted per address
//! and per account and address, before the slow check; a bounded hashing
//! queue; and the owner, from another address, never held back.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::one_at_a_time;
use crate::support::TestServer;

/// A server with `alice` registered. 5000 iterations take about as long in
/// a test's debug build as the default 100 000 in a release build (~50 ms),
/// so the hashing queue is as slow as a real server's.
fn server_with_alice() -> TestServer {
    let mut server = TestServer::with_config("password_iterations = 5000");
    server.console("/register alice correct-horse");
    assert_eq!(server.stdout_line(), "* alice is now registered");
    server
}

#[test]
fn after_three_failures_an_address_must_wait() {
    let _turn = one_at_a_time();
    let server = server_with_alice();
    let guesser = server.connect();
    guesser.line(); // the welcome
    guesser.send("alice");
    guesser.expect("* alice is registered; enter your password:");
    for _ in 0..2 {
        guesser.send("wrong-password");
        guesser.expect("! wrong password");
        guesser.expect("* alice is registered; enter your password:");
    }
    guesser.send("wrong-password");
    guesser.expect("! wrong password");
    guesser.expect_closed();
    // A new connection from the same address does not start afresh.
    let again = server.connect();
    again.line();
    again.send("alice");
    again.expect("* alice is registered; enter your password:");
    again.send("correct-horse");
    again.expect_prefix("! too many attempts; try again in ");
    again.expect("* alice is registered; enter your password:");
}

#[test]
fn the_owner_logs_in_while_twelve_guessers_hammer_from_four_addresses() {
    let _turn = one_at_a_time();
    let server = server_with_alice();
    let guessers = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/end_to_end/hardening/guessers.py"
        ))
        .args([
            "127.0.0.1",
            &server.addr.port().to_string(),
            "alice",
            "4",
            "12",
            "4",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the guessers");
    std::thread::sleep(Duration::from_millis(1500));
    let start = Instant::now();
    let owner = server.connect();
    owner.line();
    owner.send("alice");
    owner.expect("* alice is registered; enter your password:");
    owner.send("correct-horse");
    owner.expect_prefix("* Hello alice!");
    let took = start.elapsed();
    let output = guessers.wait_with_output().expect("the guessers end");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("the owner logged in in {took:?} while the guessers made {report}");
    assert!(
        took < Duration::from_secs(1),
        "the owner took {took:?}; guessers: {report}"
    );
    assert!(report.contains("throttled="), "{report}");
}

#[test]
fn a_wrong_password_for_password_counts_as_a_strike() {
    let _turn = one_at_a_time();
    let server = server_with_alice();
    let alice = server.connect();
    alice.line();
    alice.send("alice");
    alice.line();
    alice.send("correct-horse");
    alice.expect_prefix("* Hello alice!");
    alice.skip_replay();
    for _ in 0..3 {
        alice.send("/password wrong-one new-password-1");
        alice.expect("! wrong password");
    }
    alice.send("/password correct-horse new-password-1");
    alice.expect_prefix("! too many attempts; try again in ");
}

#[test]
fn the_owner_takes_over_a_name_held_by_an_old_session() {
    let _turn = one_at_a_time();
    let server = server_with_alice();
    let old = server.connect();
    old.line();
    old.send("alice");
    old.line();
    old.send("correct-horse");
    old.expect_prefix("* Hello alice!");
    let bob = server.login("bob");
    old.expect("* bob joined #general");
    let new = server.connect();
    new.line();
    new.send("alice");
    new.expect("* alice is registered; enter your password:");
    new.send("correct-horse");
    new.expect_prefix("* Hello alice!");
    old.expect("* logged in from elsewhere");
    old.expect_closed();
    bob.expect("* alice left #general");
    // alice made #general; her successor as its operator is bob.
    bob.expect("* bob is now an operator of #general");
    bob.expect("* alice joined #general");
    // A guest's name cannot be taken over.
    let other = server.connect();
    other.line();
    other.send("bob");
    other.expect("! the name bob is taken");
}
