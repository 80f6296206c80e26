//! A server whose standard error nobody reads (a full pipe) must keep
//! serving: no thread may write a log line while holding the registry's (or
//! an outbox's) lock, or every sender would wait on the pipe for ever.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::Duration;

use super::one_at_a_time;
use crate::support::{Client, TempDir, READ_TIMEOUT};

/// A server whose stderr is a pipe this test never reads; killed on drop.
struct Muffled {
    child: Child,
    addr: SocketAddr,
    /// Kept open: the server still prints its other start-up lines.
    _stdout: BufReader<ChildStdout>,
    _dir: TempDir,
}

impl Drop for Muffled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_muffled(extra: &str) -> Muffled {
    let dir = TempDir::new();
    let config = format!(
        "[server]\nport = 0\nhistory_file = \"{}\"\n{extra}\n\n[web]\nport = 0\n\n[irc]\nport = 0\n",
        dir.path().join("history.log").display()
    );
    let path = dir.path().join("config.toml");
    fs::write(&path, config).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--config", &path.display().to_string(), "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()) // and never read
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a line");
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    Muffled {
        child,
        addr,
        _stdout: stdout,
        _dir: dir,
    }
}

#[test]
#[ignore = "long: run by .ci/run with --ignored"]
fn a_stalled_stderr_does_not_stop_the_chat() {
    let _turn = one_at_a_time();
    let server =
        start_muffled("rate_limit_per_sec = 0\nsend_queue_bytes = 4096\nmax_clients_per_ip = 0");
    // Bob and carol talk in a room of their own.
    let bob = Client::login(server.addr, "bob", READ_TIMEOUT, "log in");
    let carol = Client::login(server.addr, "carol", READ_TIMEOUT, "log in");
    for client in [&bob, &carol] {
        client.send("/join quiet");
        client.wait_for("* you joined #quiet");
        client.send("/leave general");
        client.wait_for("* you left #general");
    }
    // A client in #general that never reads, and alice, who will flood it.
    let mut sink = TcpStream::connect(server.addr).expect("connect");
    sink.write_all(b"sink\n").expect("name");
    let alice = Client::login(server.addr, "alice", READ_TIMEOUT, "log in");
    // Fill the stderr pipe (64 KB) with the log lines of short visits.
    for i in 0..400 {
        // With a timeout: once the accept loop itself waits on the pipe,
        // the kernel's queue fills and a connect would wait for minutes.
        let visit = TcpStream::connect_timeout(&server.addr, Duration::from_millis(200));
        if let Ok(mut visit) = visit {
            let _ = visit.write_all(format!("visitor{i}\n").as_bytes());
        }
    }
    thread::sleep(Duration::from_millis(500));
    // Alice's flood overflows the sink's queue: it is dropped, which is
    // logged. Written under the registry lock, that line would hold the
    // lock for ever.
    // (Through a socket with a write timeout: alice's own thread may stop
    // reading once it is blocked on the pipe, and the test must not hang.)
    let mut flood = alice.stream().try_clone().expect("clone");
    flood
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let line = format!("{}\n", "x".repeat(2000));
    for _ in 0..4000 {
        if flood.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    thread::sleep(Duration::from_millis(500));
    bob.send("#quiet still here?");
    carol.expect("[#quiet] bob: still here?");
    drop(sink);
}
