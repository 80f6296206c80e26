//! The chat log: one tab-separated line per room message or action, written
//! before delivery, replayed on login and on /join, kept across restarts, and
//! read defensively when a line is torn or garbled (docs/PROTOCOL.md,
//! "History").

use crate::support::{alice_and_bob, Client, TempDir, TestServer};
use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

/// Connects `name` and reads the welcome and hello lines by hand, leaving the
/// replay (if any) as the next lines to read.
fn connect_as(server: &TestServer, name: &str) -> Client {
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client.send(name);
    client.expect(&format!(
        "* Hello {name}! You are in #general. Type /help for commands."
    ));
    client
}

/// Checks that nothing was sent to `client` before the reply to `/rooms`.
fn expect_no_more(client: &Client) {
    client.send("/rooms");
    client.expect_prefix("* rooms: ");
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ`, or None if the
/// text is not exactly of that form.
fn parse_utc(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = stamp.get(from..to)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Writes `contents` as the history file of a server not started yet.
fn dir_with_log(contents: &[u8]) -> TempDir {
    let dir = TempDir::new();
    fs::write(dir.path().join("history.log"), contents).expect("write history.log");
    dir
}

#[test]
fn log_holds_one_tab_separated_line_per_message() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("hi all");
    bob.expect("[#general] alice: hi all");
    // Logged before delivered: bob has it, so the file has it.
    let log = server.history();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "one line for one message: {log:?}");
    assert!(log.ends_with('\n'), "the line is complete: {log:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), 4, "four tab-separated fields: {:?}", lines[0]);
    assert_eq!(&fields[1..], ["#general", "alice", "hi all"]);
}

#[test]
fn log_timestamp_is_rfc3339_utc() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    let before = now_secs();
    alice.send("what time is it");
    bob.expect("[#general] alice: what time is it");
    let after = now_secs();
    let log = server.history();
    let stamp = log.split('\t').next().unwrap_or_default();
    let secs = parse_utc(stamp)
        .unwrap_or_else(|| panic!("not a timestamp like 2026-11-24T13:05:09Z: {stamp:?}"));
    // In UTC, so it matches the system clock (not local time) to the second.
    assert!(
        before - 2 <= secs && secs <= after + 2,
        "timestamp {stamp} is not now ({before}..{after} since the epoch)"
    );
}

#[test]
fn action_is_logged_with_a_star_before_the_name() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/me waves");
    bob.expect("[#general] * alice waves");
    let log = server.history();
    let fields: Vec<&str> = log.trim_end_matches('\n').split('\t').collect();
    assert_eq!(
        &fields[1..],
        ["#general", "*alice", "waves"],
        "log: {log:?}"
    );
}

#[test]
fn message_sent_with_a_room_prefix_is_logged_under_that_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("#general from afar");
    bob.expect("[#general] alice: from afar");
    let log = server.history();
    let fields: Vec<&str> = log.trim_end_matches('\n').split('\t').collect();
    assert_eq!(
        &fields[1..],
        ["#general", "alice", "from afar"],
        "log: {log:?}"
    );
}

#[test]
fn notices_are_not_logged() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    bob.expect("* alice is now known as alicia");
    alice.send("#general last");
    bob.expect("[#general] alicia: last");
    let log = server.history();
    assert_eq!(
        log.lines().count(),
        1,
        "only the message is logged: {log:?}"
    );
}

#[test]
fn login_replays_the_default_room_oldest_first() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("morning");
    bob.expect("[#general] alice: morning");
    bob.send("hi alice");
    alice.expect("[#general] bob: hi alice");
    alice.send("/me waves");
    bob.expect("[#general] * alice waves");

    let carol = connect_as(&server, "carol");
    carol.expect("* last 3 messages in #general:");
    carol.expect("[#general] alice: morning");
    carol.expect("[#general] bob: hi alice");
    carol.expect("[#general] * alice waves");
    expect_no_more(&carol);
}

#[test]
fn join_replays_only_messages_of_that_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("dev one");
    alice.send("#general general one");
    bob.expect("[#general] alice: general one");
    alice.send("dev two");
    alice.send("#general general two");
    bob.expect("[#general] alice: general two");

    bob.send("/join dev");
    bob.expect("* you joined #dev");
    bob.expect("* last 2 messages in #dev:");
    bob.expect("[#dev] alice: dev one");
    bob.expect("[#dev] alice: dev two");
    expect_no_more(&bob);
}

#[test]
fn history_replay_limits_the_replay_to_the_last_messages() {
    let server = TestServer::with_config("history_replay = 3");
    let (alice, bob) = alice_and_bob(&server);
    for i in 1..=5 {
        alice.send(&format!("m{i}"));
        bob.expect(&format!("[#general] alice: m{i}"));
    }
    let carol = connect_as(&server, "carol");
    carol.expect("* last 3 messages in #general:");
    carol.expect("[#general] alice: m3");
    carol.expect("[#general] alice: m4");
    carol.expect("[#general] alice: m5");
    expect_no_more(&carol);
}

#[test]
fn no_replay_on_login_when_the_room_has_no_history() {
    let server = TestServer::start();
    let alice = connect_as(&server, "alice");
    alice.send("/rooms");
    alice.expect("* rooms: #general (1)");
}

#[test]
fn no_replay_on_join_when_the_room_has_no_history() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("busy general");
    bob.expect("[#general] alice: busy general");
    alice.send("/join quiet");
    alice.expect("* you joined #quiet");
    alice.send("/users");
    alice.expect("* online: alice, bob");
}

#[test]
fn history_survives_a_restart() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob(&server);
    alice.send("before the restart");
    bob.expect("[#general] alice: before the restart");
    alice.send("/me leaves soon");
    bob.expect("[#general] * alice leaves soon");
    drop((alice, bob));

    let dir = server.kill();
    let server = TestServer::in_dir(dir, "");
    let carol = connect_as(&server, "carol");
    carol.expect("* last 2 messages in #general:");
    carol.expect("[#general] alice: before the restart");
    carol.expect("[#general] * alice leaves soon");
    expect_no_more(&carol);
}

const GOOD_1: &str = "2026-11-24T13:05:09Z\t#general\talice\tfirst\n";
const GOOD_2: &str = "2026-11-24T13:05:12Z\t#general\t*bob\twaves\n";

#[test]
fn torn_last_line_is_skipped_with_a_warning() {
    let log = format!("{GOOD_1}{GOOD_2}2026-11-24T13:05:15Z\t#gen");
    let server = TestServer::in_dir(dir_with_log(log.as_bytes()), "");
    let carol = connect_as(&server, "carol");
    carol.expect("* last 2 messages in #general:");
    carol.expect("[#general] alice: first");
    carol.expect("[#general] * bob waves");
    expect_no_more(&carol);
    assert!(!server.stderr().trim().is_empty(), "no warning on stderr");
}

#[test]
fn line_with_bad_utf8_is_skipped_with_a_warning() {
    let mut log = GOOD_1.as_bytes().to_vec();
    log.extend_from_slice(b"2026-11-24T13:05:10Z\t#general\tmallory\tbad \xff\xfe\n");
    log.extend_from_slice(GOOD_2.as_bytes());
    let server = TestServer::in_dir(dir_with_log(&log), "");
    let carol = connect_as(&server, "carol");
    carol.expect("* last 2 messages in #general:");
    carol.expect("[#general] alice: first");
    carol.expect("[#general] * bob waves");
    expect_no_more(&carol);
    assert!(!server.stderr().trim().is_empty(), "no warning on stderr");
}

#[test]
fn line_with_wrong_number_of_fields_is_skipped_with_a_warning() {
    let log =
        format!("{GOOD_1}garbage without tabs\n2026-11-24T13:05:10Z\t#general\tmallory\n{GOOD_2}");
    let server = TestServer::in_dir(dir_with_log(log.as_bytes()), "");
    let carol = connect_as(&server, "carol");
    carol.expect("* last 2 messages in #general:");
    carol.expect("[#general] alice: first");
    carol.expect("[#general] * bob waves");
    expect_no_more(&carol);
    assert!(!server.stderr().trim().is_empty(), "no warning on stderr");
}

#[test]
fn new_messages_after_a_torn_last_line_are_kept_whole() {
    let log = format!("{GOOD_1}2026-11-24T13:05:15Z\t#gen");
    let server = TestServer::in_dir(dir_with_log(log.as_bytes()), "");
    let (alice, bob) = alice_and_bob(&server);
    alice.send("after the tear");
    bob.expect("[#general] alice: after the tear");
    bob.send("me too");
    alice.expect("[#general] bob: me too");
    drop((alice, bob));

    let dir = server.kill();
    let server = TestServer::in_dir(dir, "");
    let carol = connect_as(&server, "carol");
    carol.expect("* last 3 messages in #general:");
    carol.expect("[#general] alice: first");
    carol.expect("[#general] alice: after the tear");
    carol.expect("[#general] bob: me too");
    expect_no_more(&carol);
}
