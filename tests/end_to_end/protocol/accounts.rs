//! Accounts from the outside: registering a name, logging in with its
//! password, changing it, renaming and unregistering, the operator's console
//! commands, the accounts file across restarts and crashes, and the terminal
//! client logging in (docs/PROTOCOL.md, "Accounts"; README, "Accounts").

use crate::support::{alice_and_bob, Client, TempDir, TestServer};
use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cret-pass";
const WELCOME: &str = "* Welcome to ";

/// Longest any one run of the client binary may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(10);

/// The `[server]` keys every test here uses: a fast hash, and the accounts
/// file inside the server's own directory, plus `extra`.
fn accounts_config(dir: &TempDir, extra: &str) -> String {
    format!(
        "password_iterations = 1000\naccounts_file = \"{}\"\n{extra}",
        accounts_path(dir).display()
    )
}

fn accounts_path(dir: &TempDir) -> PathBuf {
    dir.path().join("accounts.txt")
}

/// Starts a server with accounts in a fresh directory.
fn start(extra: &str) -> TestServer {
    let dir = TempDir::new();
    let config = accounts_config(&dir, extra);
    TestServer::in_dir(dir, &config)
}

/// Starts a server again in `dir` (handed back by `TestServer::kill`).
fn restart(dir: TempDir, extra: &str) -> TestServer {
    let config = accounts_config(&dir, extra);
    TestServer::in_dir(dir, &config)
}

/// The accounts file's contents.
fn accounts_file(server: &TestServer) -> String {
    fs::read_to_string(accounts_path(&server.dir)).unwrap_or_default()
}

/// Logs in `name` as a guest and registers it with `password`.
fn register(server: &TestServer, name: &str, password: &str) -> Client {
    let client = server.login(name);
    client.send(&format!("/register {password}"));
    client.expect(&format!("* {name} is now registered"));
    client
}

/// Sends `/quit` and waits until the server has closed the connection.
fn quit(client: Client) {
    client.send("/quit");
    client.expect_closed();
}

/// Registers `name` and leaves again, so that the name is free to log in.
fn register_and_quit(server: &TestServer, name: &str, password: &str) {
    quit(register(server, name, password));
}

/// Sends `typed` as the name of a registered account and checks the prompt
/// names the account `stored` (its registered spelling).
fn send_registered_name(client: &Client, typed: &str, stored: &str) {
    client.send(typed);
    client.expect(&format!("* {stored} is registered; enter your password:"));
}

/// Connects and logs in to the registered account `name` with `password`.
fn login_registered(server: &TestServer, name: &str, password: &str) -> Client {
    let client = server.connect();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, name, name);
    client.send(password);
    client.expect_prefix(&format!("* Hello {name}!"));
    client.skip_replay();
    client
}

/// Connects, gives the registered `name` and `password`, and returns the
/// line that answers the password.
fn answer_to_password(server: &TestServer, name: &str, password: &str) -> (Client, String) {
    let client = server.connect();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, name, name);
    client.send(password);
    let line = client.line();
    (client, line)
}

// ---- /register ------------------------------------------------------------

#[test]
fn register_replies_that_the_name_is_now_registered() {
    let server = start("");
    let alice = server.login("alice");
    alice.send(&format!("/register {PASSWORD}"));
    alice.expect("* alice is now registered");
}

#[test]
fn register_stores_a_salted_hash_and_never_the_password() {
    let server = start("");
    let _alice = register(&server, "alice", PASSWORD);
    let contents = accounts_file(&server);
    assert!(!contents.contains(PASSWORD), "{contents:?}");
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines.len(), 1, "{contents:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), 4, "{contents:?}");
    let is_hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    assert_eq!(fields[0], "alice");
    assert_eq!(fields[1], "1000");
    assert!(
        fields[2].len() == 32 && is_hex(fields[2]),
        "salt: {contents:?}"
    );
    assert!(
        fields[3].len() == 64 && is_hex(fields[3]),
        "hash: {contents:?}"
    );
}

#[test]
fn register_with_a_short_password_is_refused() {
    let server = start("");
    let alice = server.login("alice");
    alice.send("/register short");
    alice.expect("! password must be at least 8 characters");
}

#[test]
fn register_with_a_password_over_128_bytes_is_refused() {
    let server = start("");
    let alice = server.login("alice");
    alice.send(&format!("/register {}", "p".repeat(129)));
    alice.expect("! password must be at most 128 bytes");
}

#[test]
fn register_twice_is_refused() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send("/register another-pass");
    alice.expect("! alice is already registered");
}

#[test]
fn register_when_registration_is_closed_is_refused() {
    let server = start("open_registration = false");
    let alice = server.login("alice");
    alice.send(&format!("/register {PASSWORD}"));
    alice.expect("! registration is closed");
}

// ---- logging in -------------------------------------------------------------

#[test]
fn registered_name_logs_in_with_the_right_password() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let (_alice, line) = answer_to_password(&server, "alice", PASSWORD);
    assert!(line.starts_with("* Hello alice!"), "{line:?}");
}

#[test]
fn wrong_password_gets_an_error_then_the_password_prompt_again() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let (client, line) = answer_to_password(&server, "alice", "wrong-pass");
    assert_eq!(line, "! wrong password");
    client.expect("* alice is registered; enter your password:");
}

#[test]
fn right_password_after_a_wrong_one_logs_in_on_the_same_connection() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let (client, line) = answer_to_password(&server, "alice", "wrong-pass");
    assert_eq!(line, "! wrong password");
    client.expect("* alice is registered; enter your password:");
    client.send(PASSWORD);
    client.expect_prefix("* Hello alice!");
}

#[test]
fn cancel_at_the_password_prompt_goes_back_to_the_welcome() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let client = server.connect();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, "alice", "alice");
    client.send("/cancel");
    client.expect_prefix(WELCOME);
    client.send("bob");
    client.expect_prefix("* Hello bob!");
}

#[test]
fn registered_name_is_matched_ignoring_case_and_keeps_its_spelling() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let client = server.connect();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, "ALICE", "alice");
    client.send(PASSWORD);
    client.expect_prefix("* Hello alice!");
}

#[test]
fn three_wrong_passwords_close_the_connection() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let client = server.connect();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, "alice", "alice");
    for attempt in 1..=3 {
        client.send(&format!("wrong-pass-{attempt}"));
        client.expect("! wrong password");
        if attempt < 3 {
            client.expect("* alice is registered; enter your password:");
        }
    }
    client.expect_closed();
}

#[test]
fn failed_logins_are_logged_with_the_address_and_without_the_password() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let client = server.connect();
    let local = client.stream().local_addr().expect("local addr");
    client.expect_prefix(WELCOME);
    send_registered_name(&client, "alice", "alice");
    for attempt in 1..=3 {
        client.send(&format!("guess-number-{attempt}"));
        client.expect("! wrong password");
        if attempt < 3 {
            client.expect("* alice is registered; enter your password:");
        }
    }
    client.expect_closed();
    let stderr = server.stderr();
    let logged = stderr
        .lines()
        .any(|l| l.contains(&local.to_string()) && l.contains("wrong password"));
    assert!(logged, "{stderr}");
    assert!(!stderr.contains("guess-number"), "{stderr}");
}

#[test]
fn registered_name_already_online_is_taken_over_with_the_right_password() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    let bob = server.login("bob");
    alice.expect("* bob joined #general");
    // The password is asked although alice is online...
    let client = server.connect();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, "alice", "alice");
    // ...a wrong one leaves her session alone...
    client.send("wrong-pass");
    client.expect("! wrong password");
    client.expect("* alice is registered; enter your password:");
    alice.send("/users");
    alice.expect("* online: alice, bob");
    // ...and the right one takes the name over: the old session is told
    // and closed, and the room sees alice leave and come back.
    client.send(PASSWORD);
    client.expect_prefix("* Hello alice!");
    alice.expect("* logged in from elsewhere");
    alice.expect_closed();
    bob.expect("* alice left #general");
    // alice made #general; her successor as its operator is bob.
    bob.expect("* bob is now an operator of #general");
    bob.expect("* alice joined #general");
}

#[test]
fn unregistered_name_is_refused_when_guests_are_not_allowed() {
    // With open registration the name would start a sign-up instead.
    let server = start("guests_allowed = false\nopen_registration = false");
    let client = server.connect();
    client.expect_prefix(WELCOME);
    client.send("bob");
    client.expect("! this server requires an account; ask the operator");
}

#[test]
fn handshake_deadline_covers_the_password_prompt() {
    let server = start("handshake_timeout_secs = 1");
    register_and_quit(&server, "alice", PASSWORD);
    let client = server.connect();
    let start = Instant::now();
    client.expect_prefix(WELCOME);
    send_registered_name(&client, "alice", "alice");
    // Never send the password.
    client.expect_closed();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

// ---- /password ------------------------------------------------------------

#[test]
fn password_change_replies_and_the_new_password_logs_in() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send(&format!("/password {PASSWORD} new-secret-9"));
    alice.expect("* password changed");
    quit(alice);
    login_registered(&server, "alice", "new-secret-9");
}

#[test]
fn old_password_no_longer_logs_in_after_a_change() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send(&format!("/password {PASSWORD} new-secret-9"));
    alice.expect("* password changed");
    quit(alice);
    let (_client, line) = answer_to_password(&server, "alice", PASSWORD);
    assert_eq!(line, "! wrong password");
}

#[test]
fn password_change_with_a_wrong_old_password_is_refused() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send("/password not-the-one new-secret-9");
    alice.expect("! wrong password");
}

#[test]
fn password_change_from_a_guest_is_refused() {
    let server = start("");
    let bob = server.login("bob");
    bob.send(&format!("/password {PASSWORD} new-secret-9"));
    bob.expect("! bob is not registered");
}

// ---- /nick ----------------------------------------------------------------

#[test]
fn nick_to_someone_elses_registered_name_is_refused() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let bob = server.login("bob");
    bob.send("/nick alice");
    bob.expect("! alice is registered");
}

/// Registers alice, renames her to ally and leaves.
fn register_then_rename_to_ally(server: &TestServer) {
    let alice = register(server, "alice", PASSWORD);
    alice.send("/nick ally");
    alice.expect("* you are now known as ally");
    quit(alice);
}

#[test]
fn nick_of_a_registered_user_takes_the_password_to_the_new_name() {
    let server = start("");
    register_then_rename_to_ally(&server);
    login_registered(&server, "ally", PASSWORD);
}

#[test]
fn nick_of_a_registered_user_frees_the_old_name_for_guests() {
    let server = start("");
    register_then_rename_to_ally(&server);
    server.login("alice");
}

#[test]
fn nick_of_a_registered_user_moves_the_account_in_the_file() {
    let server = start("");
    register_then_rename_to_ally(&server);
    let contents = accounts_file(&server);
    let names: Vec<&str> = contents
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["ally"], "{contents:?}");
}

// ---- /unregister ------------------------------------------------------------

#[test]
fn unregister_with_a_wrong_password_is_refused() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send("/unregister not-the-one");
    alice.expect("! wrong password");
}

#[test]
fn unregister_frees_the_name_for_guests() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send(&format!("/unregister {PASSWORD}"));
    alice.expect("* alice is no longer registered");
    quit(alice);
    server.login("alice");
}

// ---- the console ------------------------------------------------------------

#[test]
fn console_register_creates_an_account_when_guests_are_not_allowed() {
    let mut server = start("guests_allowed = false");
    server.console(&format!("/register carol {PASSWORD}"));
    let line = server.stdout_line();
    assert!(line.contains("carol is now registered"), "{line:?}");
    login_registered(&server, "carol", PASSWORD);
}

#[test]
fn console_accounts_lists_the_registered_names() {
    let mut server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    register_and_quit(&server, "bob", PASSWORD);
    server.console("/accounts");
    let line = server.console_reply();
    assert!(line.contains("alice") && line.contains("bob"), "{line:?}");
}

// ---- the accounts file ------------------------------------------------------

#[test]
fn accounts_survive_a_restart() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let server = restart(server.kill(), "");
    login_registered(&server, "alice", PASSWORD);
}

#[test]
fn temp_file_left_by_a_crash_does_not_hide_the_accounts() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let dir = server.kill();
    // What a crash between writing the new file and renaming it leaves.
    fs::write(
        dir.path().join("accounts.txt.tmp"),
        "alice\t10\tgarbage-from-a-torn-wr",
    )
    .expect("write temp file");
    let server = restart(dir, "");
    login_registered(&server, "alice", PASSWORD);
}

#[test]
fn malformed_account_line_is_reported_with_its_number_and_skipped() {
    let server = start("");
    register_and_quit(&server, "alice", PASSWORD);
    let dir = server.kill();
    let path = accounts_path(&dir);
    let good = fs::read_to_string(&path).expect("read accounts file");
    fs::write(&path, format!("{good}this line is not an account\n")).expect("write");
    let server = restart(dir, "");
    let stderr = server.stderr();
    let reported = stderr
        .lines()
        .any(|l| l.contains("accounts") && l.contains("line 2"));
    assert!(reported, "{stderr}");
    login_registered(&server, "alice", PASSWORD);
}

#[test]
fn two_registrations_at_once_both_survive_a_restart() {
    let server = start("");
    let (alice, bob) = alice_and_bob(&server);
    // Both before either reply is read: the two rewrites of the file race.
    alice.send(&format!("/register {PASSWORD}"));
    bob.send("/register other-pass-2");
    alice.expect("* alice is now registered");
    bob.expect("* bob is now registered");
    quit(alice);
    quit(bob);
    let server = restart(server.kill(), "");
    login_registered(&server, "alice", PASSWORD);
    login_registered(&server, "bob", "other-pass-2");
}

// ---- the client binary --------------------------------------------------------

/// A server where alice is registered from the console, and bob online.
fn server_with_alice_registered_and_bob() -> (TestServer, Client) {
    let mut server = start("");
    server.console(&format!("/register alice {PASSWORD}"));
    let line = server.stdout_line();
    assert!(line.contains("alice is now registered"), "{line:?}");
    let bob = server.login("bob");
    (server, bob)
}

fn client(server: &TestServer) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command
        .timeout(RUN_LIMIT)
        .env_remove("CHAT_PASSWORD")
        .args(["--host", "127.0.0.1"])
        .args(["--port", &server.addr.port().to_string()]);
    command
}

#[test]
fn client_logs_in_with_chat_password_from_the_environment() {
    let (server, bob) = server_with_alice_registered_and_bob();
    client(&server)
        .args(["--name", "alice"])
        .env("CHAT_PASSWORD", PASSWORD)
        .write_stdin("hi\n/quit\n")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("* Hello alice!"));
    bob.expect("* alice joined #general");
    bob.expect("[#general] alice: hi");
}

#[test]
fn client_logs_in_with_name_and_password_from_piped_input() {
    let (server, bob) = server_with_alice_registered_and_bob();
    client(&server)
        .write_stdin(format!("alice\n{PASSWORD}\nhi\n/quit\n"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("* Hello alice!"));
    bob.expect("* alice joined #general");
    bob.expect("[#general] alice: hi");
}

// ---- the ignore list kept with the account ---------------------------------

/// Logs alice in (registered) and bob and carol (guests), alice's list
/// as restored; returns them with nothing left to read.
fn alice_bob_and_carol(server: &TestServer) -> (Client, Client, Client) {
    let alice = login_registered(server, "alice", PASSWORD);
    let bob = server.login("bob");
    let carol = server.login("carol");
    alice.expect("* bob joined #general");
    alice.expect("* carol joined #general");
    bob.expect("* carol joined #general");
    (alice, bob, carol)
}

/// Checks that alice gets carol's line but not bob's, said just before.
fn bob_is_ignored_by(alice: &Client, bob: &Client, carol: &Client) {
    bob.send("do you hear me?");
    carol.expect("[#general] bob: do you hear me?");
    carol.send("marker");
    alice.expect("[#general] carol: marker");
}

#[test]
fn a_registered_users_ignore_list_is_back_at_the_next_login() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send("/ignore Bob");
    alice.expect("* ignoring Bob");
    alice.send("/ignore dave");
    alice.expect("* ignoring dave");
    alice.send("/unignore dave");
    alice.expect("* no longer ignoring dave");
    quit(alice);
    assert!(
        accounts_file(&server).contains("\tBob\n"),
        "{}",
        accounts_file(&server)
    );

    let (alice, bob, carol) = alice_bob_and_carol(&server);
    alice.send("/ignore");
    alice.expect("* ignoring: Bob");
    bob_is_ignored_by(&alice, &bob, &carol);
}

#[test]
fn a_registered_users_ignore_list_survives_a_restart() {
    let server = start("");
    let alice = register(&server, "alice", PASSWORD);
    alice.send("/ignore bob");
    alice.expect("* ignoring bob");
    // Killed, not shut down: the list was written before alice's next
    // command was read.
    alice.send("/ignore");
    alice.expect("* ignoring: bob");
    let server = restart(server.kill(), "");
    let (alice, bob, carol) = alice_bob_and_carol(&server);
    bob_is_ignored_by(&alice, &bob, &carol);
}

#[test]
fn a_guest_registering_keeps_whom_it_ignored() {
    let server = start("");
    let alice = server.login("alice");
    alice.send("/ignore bob");
    alice.expect("* ignoring bob");
    alice.send(&format!("/register {PASSWORD}"));
    alice.expect("* alice is now registered");
    quit(alice);
    let alice = login_registered(&server, "alice", PASSWORD);
    alice.send("/ignore");
    alice.expect("* ignoring: bob");
}

#[test]
fn a_guests_ignore_list_lasts_for_the_session_only() {
    let server = start("");
    let alice = server.login("alice");
    alice.send("/ignore bob");
    alice.expect("* ignoring bob");
    quit(alice);
    let alice = server.login("alice");
    alice.send("/ignore");
    alice.expect("* ignoring nobody");
    assert_eq!(accounts_file(&server), "");
}
