//! The operator takes part (docs/PROTOCOL.md, "The server console"): the
//! console shows the chat on stdout, says plain lines, sends and receives
//! direct messages; a welcome message; closing and reopening the server;
//! `/status`; account administration at the console; reading the history
//! back; signing up at the door.

use crate::support::{alice_and_bob, Client, TempDir, TestServer, READ_TIMEOUT};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cret-pass";

/// A server with accounts (fast hashing, the file in its own directory).
fn with_accounts(extra: &str) -> TestServer {
    let dir = TempDir::new();
    let config = format!(
        "password_iterations = 1000\naccounts_file = \"{}\"\n{extra}",
        dir.path().join("accounts.txt").display()
    );
    TestServer::in_dir(dir, &config)
}

/// Logs in alice, then bob, reading what the console shows meanwhile.
fn alice_and_bob_on_the_console(server: &TestServer) -> (Client, Client) {
    let alice = server.login("alice");
    assert_eq!(server.stdout_line(), "* alice joined #general");
    let bob = server.login("bob");
    assert_eq!(server.stdout_line(), "* bob joined #general");
    alice.expect("* bob joined #general");
    (alice, bob)
}

/// Logs in the registered `name` with `password`.
fn login_with_password(server: &TestServer, name: &str, password: &str) -> Client {
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client.send(name);
    client.expect(&format!("* {name} is registered; enter your password:"));
    client.send(password);
    client.expect_prefix(&format!("* Hello {name}!"));
    client
}

/// One HTTP request on a fresh connection: the status code and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the web page");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

// ---- the console shows the chat ----------------------------------------------

#[test]
fn console_shows_messages_actions_joins_and_leaves_of_every_room() {
    let server = TestServer::start();
    let (alice, bob) = alice_and_bob_on_the_console(&server);
    alice.send("hi");
    assert_eq!(server.stdout_line(), "[#general] alice: hi");
    bob.send("/me waves");
    assert_eq!(server.stdout_line(), "[#general] * bob waves");
    // A room nobody else is in, from its first join to its last leave.
    alice.send("/join dev");
    assert_eq!(server.stdout_line(), "* alice joined #dev");
    alice.send("alone here");
    assert_eq!(server.stdout_line(), "[#dev] alice: alone here");
    alice.send("/leave dev");
    assert_eq!(server.stdout_line(), "* alice left #dev");
}

#[test]
fn console_echo_off_shows_only_replies() {
    let mut server = TestServer::with_config("console_echo = false");
    let (alice, bob) = alice_and_bob(&server);
    alice.send("hi");
    bob.expect("[#general] alice: hi");
    bob.send("@server anyone there?");
    server.console("/users");
    assert_eq!(server.stdout_line(), "* online: alice, bob");
}

#[test]
fn a_plain_console_line_is_said_to_everyone() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob_on_the_console(&server);
    server.console("hello from the operator");
    alice.expect("[server] hello from the operator");
    bob.expect("[server] hello from the operator");
    assert_eq!(server.stdout_line(), "* said to everyone");
}

#[test]
fn an_at_line_on_the_console_is_a_direct_message_from_server() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob_on_the_console(&server);
    server.console("@bob are you there?");
    bob.expect("[DM] server: are you there?");
    assert_eq!(server.stdout_line(), "* sent to bob");
    server.console("@zed hello");
    assert_eq!(server.stdout_line(), "! zed is not online");
    // Nobody else heard it.
    alice.send("/rooms");
    alice.expect("* rooms: #general (2)");
}

#[test]
fn a_direct_message_to_server_reaches_the_console_without_error() {
    let server = TestServer::start();
    let (alice, _bob) = alice_and_bob_on_the_console(&server);
    alice.send("@server my password does not work");
    assert_eq!(
        server.stdout_line(),
        "[DM] alice: my password does not work"
    );
    alice.send("@Server case does not matter");
    assert_eq!(server.stdout_line(), "[DM] alice: case does not matter");
    // No error came before the answer to the next command.
    alice.send("/rooms");
    alice.expect("* rooms: #general (2)");
}

#[test]
fn users_does_not_list_server_and_help_mentions_it() {
    let server = TestServer::start();
    let (alice, _bob) = alice_and_bob_on_the_console(&server);
    alice.send("/users");
    alice.expect("* online: alice, bob");
    alice.send("/help");
    let lines = alice.wait_for("*   /quit (or quit, bye) leave the chat");
    assert!(
        lines.iter().any(|l| l.contains("@server text")),
        "{lines:?}"
    );
}

#[test]
fn a_renamed_user_is_shown_on_the_console() {
    let server = TestServer::start();
    let (alice, _bob) = alice_and_bob_on_the_console(&server);
    alice.send("/nick alicia");
    alice.expect("* you are now known as alicia");
    assert_eq!(server.stdout_line(), "* alice is now known as alicia");
}

/// A server whose stdout nobody reads until `resume`: the chat must go on.
struct UnreadServer {
    child: std::process::Child,
    stdout: BufReader<std::process::ChildStdout>,
    addr: SocketAddr,
    _dir: TempDir,
}

impl UnreadServer {
    fn start(extra: &str) -> UnreadServer {
        let dir = TempDir::new();
        let config = format!(
            "[server]\nhost = \"127.0.0.1\"\nport = 0\nhistory_file = \"{}\"\n{extra}\n\n[web]\nenabled = false\n\n[irc]\nport = 0\n",
            dir.path().join("history.log").display()
        );
        let path = dir.path().join("config.toml");
        fs::write(&path, config).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("listening line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .expect("listening on")
            .parse()
            .expect("address");
        UnreadServer {
            child,
            stdout,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for UnreadServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_unread_stdout_never_stalls_the_chat_and_the_loss_is_counted() {
    let mut server = UnreadServer::start("rate_limit_per_sec = 0\nmax_line_bytes = 4096");
    let alice = Client::connect(server.addr).expect("connect");
    alice.expect_prefix("* Welcome to ");
    alice.send("alice");
    alice.expect_prefix("* Hello alice!");
    let bob = Client::connect(server.addr).expect("connect");
    bob.expect_prefix("* Welcome to ");
    bob.send("bob");
    bob.expect_prefix("* Hello bob!");
    alice.expect("* bob joined #general");
    // Far more than a pipe (64 KiB) and the console's queue hold.
    let text = "x".repeat(200);
    let started = Instant::now();
    for i in 0..3000 {
        alice.send(&format!("m{i} {text}"));
        bob.expect(&format!("[#general] alice: m{i} {text}"));
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the chat slowed down"
    );
    // Reading again: the lines kept, then the count of those lost.
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        line.clear();
        server.stdout.read_line(&mut line).expect("stdout");
        if line.starts_with("* (") {
            break;
        }
        assert!(Instant::now() < deadline, "no `lines not shown` notice");
    }
    assert!(line.ends_with(" lines not shown)\n"), "{line:?}");
    let stdin = server.child.stdin.as_mut().expect("stdin");
    writeln!(stdin, "/users").expect("console");
    loop {
        line.clear();
        server.stdout.read_line(&mut line).expect("stdout");
        if line == "* online: alice, bob\n" {
            break;
        }
        assert!(Instant::now() < deadline, "the console stopped answering");
    }
}

// ---- the welcome message -------------------------------------------------------

#[test]
fn motd_lines_follow_the_hello() {
    let server = TestServer::with_config("motd = \"Welcome to the LAN!\\nBe nice.\"");
    let alice = server.connect();
    alice.expect_prefix("* Welcome to ");
    alice.send("alice");
    alice.expect_prefix("* Hello alice!");
    alice.expect("* Welcome to the LAN!");
    alice.expect("* Be nice.");
}

#[test]
fn motd_file_is_read_at_start() {
    let dir = TempDir::new();
    let motd = dir.path().join("motd.txt");
    fs::write(&motd, "From a file.\nSecond line.\n").expect("write motd");
    let server = TestServer::in_dir(dir, &format!("motd_file = \"{}\"", motd.display()));
    let alice = server.connect();
    alice.expect_prefix("* Welcome to ");
    alice.send("alice");
    alice.expect_prefix("* Hello alice!");
    alice.expect("* From a file.");
    alice.expect("* Second line.");
    alice.send("/rooms");
    alice.expect("* rooms: #general (1)");
}

#[test]
fn motd_comes_before_the_replay() {
    let server = TestServer::with_config("motd = \"rules: be nice\"");
    let alice = server.login("alice");
    alice.send("earlier");
    alice.send("/quit");
    alice.expect_closed();
    let bob = server.connect();
    bob.expect_prefix("* Welcome to ");
    bob.send("bob");
    bob.expect_prefix("* Hello bob!");
    bob.expect("* rules: be nice");
    bob.expect("* last 1 message in #general:");
    bob.expect("[#general] alice: earlier");
}

// ---- close, open, status -------------------------------------------------------

#[test]
fn close_refuses_newcomers_and_keeps_everyone_online() {
    let mut server = TestServer::start();
    let (alice, bob) = alice_and_bob_on_the_console(&server);
    server.console("/close");
    assert_eq!(
        server.console_reply(),
        "* the server is closed to new connections"
    );
    let newcomer = server.connect();
    newcomer.expect("! the server is closed to new connections");
    newcomer.expect_closed();
    let (status, body) = http(server.web_addr, "POST", "/api/login", "name=webby");
    assert_eq!(status, 503);
    assert_eq!(body, "! the server is closed to new connections\n");
    alice.send("still chatting");
    bob.expect("[#general] alice: still chatting");

    server.console("/open");
    assert_eq!(
        server.console_reply(),
        "* the server is open to new connections"
    );
    server.login("carol");
}

#[test]
fn a_browser_online_keeps_chatting_while_the_server_is_closed() {
    let mut server = TestServer::start();
    let alice = server.login("alice");
    let (status, token) = http(server.web_addr, "POST", "/api/login", "name=webby");
    assert_eq!(status, 200, "{token}");
    alice.expect("* webby joined #general");
    server.console("/close");
    assert_eq!(
        server.console_reply(),
        "* the server is closed to new connections"
    );
    let body = format!("token={}&line=hello+from+the+web", token.trim());
    let (status, answer) = http(server.web_addr, "POST", "/api/send", &body);
    assert_eq!((status, answer.as_str()), (200, r#"{"ok":true}"#));
    alice.expect("[#general] webby: hello from the web");
}

#[test]
fn status_tells_uptime_connections_accounts_rooms_messages_and_state() {
    let mut server = with_accounts("");
    let (alice, bob) = alice_and_bob_on_the_console(&server);
    alice.send("one");
    bob.expect("[#general] alice: one");
    bob.send("two");
    alice.expect("[#general] bob: two");
    server.console(&format!("/register carol {PASSWORD}"));
    assert_eq!(server.console_reply(), "* carol is now registered");
    server.console("/status");
    let line = server.console_reply();
    assert!(line.starts_with("* status: open; up "), "{line}");
    for part in [
        "online: 2 terminal, 0 web, 0 irc",
        "connections: 2",
        "accounts: 1",
        "rooms: 1",
        "messages since start: 2",
    ] {
        assert!(line.contains(part), "{part:?} missing in {line:?}");
    }
    server.console("/close");
    server.console_reply();
    server.console("/status");
    assert!(server.console_reply().starts_with("* status: closed;"));
}

// ---- account administration ------------------------------------------------------

#[test]
fn console_password_sets_a_new_password_without_the_old_one() {
    let mut server = with_accounts("");
    server.console(&format!("/register alice {PASSWORD}"));
    assert_eq!(server.console_reply(), "* alice is now registered");
    server.console("/password alice brand-new-pw");
    assert_eq!(server.console_reply(), "* new password set for alice");
    login_with_password(&server, "alice", "brand-new-pw");
    server.console("/password zed whatever-pw");
    assert_eq!(server.console_reply(), "! zed is not registered");
    server.console("/password alice short");
    assert!(server.console_reply().starts_with("! password must be"));
}

#[test]
fn console_unregister_frees_the_name() {
    let mut server = with_accounts("");
    server.console(&format!("/register alice {PASSWORD}"));
    assert_eq!(server.console_reply(), "* alice is now registered");
    server.console("/unregister alice");
    assert_eq!(server.console_reply(), "* alice is no longer registered");
    server.login("alice");
    server.console("/unregister alice");
    assert_eq!(server.console_reply(), "! alice is not registered");
}

#[test]
fn console_rename_moves_the_account_and_the_user_online() {
    let mut server = with_accounts("");
    server.console(&format!("/register alice {PASSWORD}"));
    assert_eq!(server.console_reply(), "* alice is now registered");
    let alice = login_with_password(&server, "alice", PASSWORD);
    alice.skip_replay();
    let bob = server.login("bob");
    alice.expect("* bob joined #general");
    server.console("/rename alice alicia");
    assert_eq!(
        server.console_reply(),
        "* account and user alice renamed to alicia"
    );
    alice.expect("* you are now known as alicia");
    bob.expect("* alice is now known as alicia");
    // The renamed user goes on under the new name, and the account with it.
    alice.send("hi");
    bob.expect("[#general] alicia: hi");
    alice.send("/password s3cret-pass other-pass-2");
    alice.expect("* password changed");
    alice.send("/quit");
    alice.expect("* Bye alicia!");
    alice.expect_closed();
    login_with_password(&server, "alicia", "other-pass-2");
}

#[test]
fn console_rename_frees_a_squatted_name_and_refuses_unknown_ones() {
    let mut server = TestServer::start();
    let (_alice, bob) = alice_and_bob_on_the_console(&server);
    server.console("/rename alice not-alice");
    assert_eq!(server.console_reply(), "* user alice renamed to not-alice");
    bob.expect("* alice is now known as not-alice");
    server.console("/rename zed zedd");
    assert_eq!(
        server.console_reply(),
        "! zed is neither registered nor online"
    );
    server.console("/rename bob not-alice");
    assert_eq!(server.console_reply(), "! the name not-alice is taken");
}

// ---- reading the history back ------------------------------------------------------

#[test]
fn history_reads_back_more_than_the_replay_from_the_log() {
    let server = TestServer::with_config("history_replay = 2");
    let alice = server.login("alice");
    for i in 1..=5 {
        alice.send(&format!("m{i}"));
    }
    alice.send("/history 4");
    alice.expect("* last 4 messages in #general:");
    for i in 2..=5 {
        alice.expect(&format!("[#general] alice: m{i}"));
    }
}

#[test]
fn history_survives_a_restart_and_reads_the_rotated_log_first() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("before the restart");
    alice.send("/rooms");
    alice.expect("* rooms: #general (1)");
    let dir = server.kill();
    fs::write(
        dir.path().join("history.log.1"),
        "2026-01-01T00:00:00Z\t#general\tzoe\tfrom last year\n",
    )
    .expect("write the rotated log");
    let server = TestServer::in_dir(dir, "history_replay = 0");
    let bob = server.login("bob");
    bob.send("/history");
    bob.expect("* last 2 messages in #general:");
    bob.expect("[#general] zoe: from last year");
    bob.expect("[#general] alice: before the restart");
}

#[test]
fn history_of_one_message_says_message() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join dev");
    alice.expect("* you joined #dev");
    alice.send("/me waves");
    alice.send("/history dev");
    alice.expect("* last 1 message in #dev:");
    alice.expect("[#dev] * alice waves");
}

#[test]
fn history_needs_the_room_and_says_when_there_is_none() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/history dev");
    alice.expect("! you are not in #dev");
    alice.send("/history");
    alice.expect("! no history for #general");
    alice.send("/history 0");
    alice.expect("! usage: /history [room] [N]");
}

#[test]
fn history_of_an_all_digit_room_is_written_with_its_hash() {
    let server = TestServer::start();
    let alice = server.login("alice");
    alice.send("/join 2024");
    alice.expect("* you joined #2024");
    for i in 1..=3 {
        alice.send(&format!("y{i}"));
    }
    alice.send("/history #2024 2");
    alice.expect("* last 2 messages in #2024:");
    alice.expect("[#2024] alice: y2");
    alice.expect("[#2024] alice: y3");
}

// ---- sign-up at the door ------------------------------------------------------------

const SIGNUP_PROMPT: &str =
    "is not registered; send /cancel to pick another name, or choose a password:";

/// Connects and sends `name` on a server without guests.
fn at_the_door(server: &TestServer, name: &str) -> Client {
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client.send(name);
    client.expect(&format!("* {name} {SIGNUP_PROMPT}"));
    client
}

/// Answers both password prompts with `password`.
fn choose_password(client: &Client, password: &str) {
    client.send(password);
    client.expect("* repeat the password:");
    client.send(password);
}

#[test]
fn a_new_name_signs_up_at_the_door_and_logs_in() {
    let server = with_accounts("guests_allowed = false");
    let alice = at_the_door(&server, "alice");
    alice.send("short");
    assert!(alice.line().starts_with("! password must be at least"));
    alice.expect("* choose a password:");
    alice.send(PASSWORD);
    alice.expect("* repeat the password:");
    alice.send("something-else");
    alice.expect("! the passwords do not match");
    alice.expect("* choose a password:");
    choose_password(&alice, PASSWORD);
    alice.expect("* account alice created");
    alice.expect_prefix("* Hello alice!");
    alice.send("/quit");
    alice.expect("* Bye alice!");
    alice.expect_closed();
    login_with_password(&server, "alice", PASSWORD);
}

#[test]
fn cancel_goes_back_to_the_name_prompt() {
    let server = with_accounts("guests_allowed = false");
    let client = at_the_door(&server, "alice");
    client.send("/cancel");
    client.expect_prefix("* Welcome to ");
    client.send("bob");
    client.expect(&format!("* bob {SIGNUP_PROMPT}"));
}

#[test]
fn at_most_three_accounts_per_address_per_hour() {
    let server = with_accounts("guests_allowed = false");
    for name in ["one", "two", "three"] {
        let client = at_the_door(&server, name);
        choose_password(&client, PASSWORD);
        client.expect(&format!("* account {name} created"));
    }
    let fourth = at_the_door(&server, "four");
    choose_password(&fourth, PASSWORD);
    fourth.expect("! too many new accounts from your address; try later");
    fourth.expect_prefix("* Welcome to ");
}

#[test]
fn without_open_registration_the_door_stays_shut() {
    let server = with_accounts("guests_allowed = false\nopen_registration = false");
    let client = server.connect();
    client.expect_prefix("* Welcome to ");
    client.send("alice");
    client.expect("! this server requires an account; ask the operator");
}

#[test]
fn a_web_login_does_not_create_an_account() {
    let server = with_accounts("guests_allowed = false");
    let (status, body) = http(server.web_addr, "POST", "/api/login", "name=webby");
    assert_eq!(status, 401);
    assert_eq!(body, "! webby is not registered; create an account\n");
}
