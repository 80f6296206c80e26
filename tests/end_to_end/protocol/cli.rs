//! The two binaries from the outside: their flags, their exit codes (0 fine,
//! 1 runtime failure, 2 bad usage or config), their one-line error messages,
//! and the terminal client driven through a pipe.

use crate::support::{free_port, lines_of, TempDir, TestServer};
use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{self, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Longest any one run of a binary may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(10);

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command.timeout(RUN_LIMIT);
    command
}

fn client() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    command.timeout(RUN_LIMIT);
    command
}

#[test]
fn server_help_exits_0_and_names_the_flags() {
    server()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--config"))
        .stdout(predicate::str::contains("--host"))
        .stdout(predicate::str::contains("--port"));
}

#[test]
fn client_help_exits_0_and_names_the_flags() {
    client()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--host"))
        .stdout(predicate::str::contains("--port"));
}

#[test]
fn server_with_unknown_config_key_exits_2_naming_file_and_line() {
    let dir = TempDir::new();
    fs::write(
        dir.path().join("config.toml"),
        "[server]\nno_such_key = 1\n",
    )
    .expect("write config");
    server()
        .current_dir(dir.path())
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("config.toml:2:"));
}

#[test]
fn server_with_missing_config_file_exits_2() {
    let dir = TempDir::new();
    server()
        .current_dir(dir.path())
        .args(["--config", "missing.toml"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::is_empty().not());
}

#[test]
fn server_with_unknown_flag_exits_2() {
    let dir = TempDir::new();
    server()
        .current_dir(dir.path())
        .arg("--no-such-flag")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::is_empty().not());
}

#[test]
fn client_with_unknown_flag_exits_2() {
    client()
        .arg("--no-such-flag")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::is_empty().not());
}

#[test]
fn server_on_a_port_in_use_exits_1_with_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().expect("local addr").port();
    let dir = TempDir::new();
    fs::write(
        dir.path().join("config.toml"),
        "[server]\nhistory_file = \"history.log\"\n",
    )
    .expect("write config");
    let output = server()
        .current_dir(dir.path())
        .args(["--config", "config.toml", "--host", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .write_stdin("")
        .output()
        .expect("run server");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "expected one line on stderr: {stderr:?}"
    );
    drop(taken);
}

#[test]
fn client_with_nothing_listening_exits_1_and_says_so() {
    let port = free_port();
    client()
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .write_stdin("alice\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "cannot connect to 127.0.0.1:{port}: "
        )))
        .stderr(predicate::str::contains("(is the server running?)"));
}

#[test]
fn client_with_piped_input_chats_and_quits() {
    let server = TestServer::start();
    let bob = server.login("bob");
    let port = server.addr.port().to_string();
    client()
        .args(["--host", "127.0.0.1", "--port", &port])
        .write_stdin("alice\nhi\n/quit\n")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "* Hello alice! You are in #general. Type /help for commands.",
        ));
    bob.expect("* alice joined #general");
    bob.expect("[#general] alice: hi");
    bob.expect("* alice left #general");
}

#[test]
fn client_quits_at_end_of_input() {
    let server = TestServer::start();
    let bob = server.login("bob");
    let port = server.addr.port().to_string();
    client()
        .args(["--host", "127.0.0.1", "--port", &port])
        .write_stdin("alice\nhi\n")
        .assert()
        .code(0);
    bob.expect("* alice joined #general");
    bob.expect("[#general] alice: hi");
    bob.expect("* alice left #general");
}

#[test]
fn client_reports_a_server_that_goes_away_and_exits_1() {
    let server = TestServer::start();
    let mut child = process::Command::new(env!("CARGO_BIN_EXE_client"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &server.addr.port().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start client");
    // Keep stdin open: the client must notice the server, not its input.
    let mut stdin = child.stdin.take().expect("client stdin");
    writeln!(stdin, "alice").expect("write name");
    stdin.flush().expect("flush name");

    let stdout = child.stdout.take().expect("client stdout");
    let rx = lines_of(stdout);
    let mut printed = Vec::new();
    let start = Instant::now();
    while !printed
        .iter()
        .any(|l: &String| l.contains("* Hello alice!"))
    {
        assert!(start.elapsed() < RUN_LIMIT, "no hello: {printed:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            printed.push(line);
        }
    }

    drop(server.kill());

    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll client") {
            break Some(status);
        }
        if start.elapsed() > RUN_LIMIT {
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // The reader thread ends at the client's end of output.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        printed.push(line);
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    drop(stdin);

    let status = status.expect("client did not exit after the server went away");
    let said_it = printed
        .iter()
        .any(|l| l.contains("* disconnected from server"))
        || stderr.contains("* disconnected from server");
    assert!(said_it, "stdout: {printed:?}, stderr: {stderr:?}");
    assert_eq!(status.code(), Some(1));
}

#[test]
fn server_with_a_corrupt_bans_file_exits_1_naming_file_and_line() {
    let dir = TempDir::new();
    fs::write(
        dir.path().join("config.toml"),
        "[server]\nhost = \"127.0.0.1\"\nport = 0\nhistory_file = \"history.log\"\n\
         accounts_file = \"data/accounts.txt\"\n\n[web]\nport = 0\n\n[irc]\nport = 0\n",
    )
    .expect("write config");
    fs::create_dir_all(dir.path().join("data")).expect("mkdir");
    fs::write(
        dir.path().join("data/bans.txt"),
        "name\tbob\t-\naddress\tnot-an-address\t-\n",
    )
    .expect("write bans");
    server()
        .current_dir(dir.path())
        .args(["--config", "config.toml"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::diff(
            "error: bans file data/bans.txt: line 2: \"not-an-address\" is not an IP address \
             (fix or remove that line)\n",
        ));
}
