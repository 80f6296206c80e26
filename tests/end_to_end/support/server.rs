//! Starts a real `server` binary for one test and talks to it over loopback.
//!
//! Every server runs in its own temporary directory with `port = 0`, so tests
//! run in parallel without fighting over ports or history files. Every socket
//! has a read timeout, so a bug fails a test instead of hanging it, and the
//! server is killed when the `TestServer` is dropped, even if the test panics.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a test waits for any one line before it fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A fresh, empty directory under the system's temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "lanchat-test-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            nanos
        );
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// A running `server` process with its own config and history file.
pub struct TestServer {
    child: Child,
    stdin: Option<ChildStdin>,
    pub addr: SocketAddr,
    /// The web page's address.
    pub web_addr: SocketAddr,
    /// Lines the server printed on stdout after `listening on ...`.
    stdout_lines: Receiver<String>,
    pub dir: TempDir,
}

impl TestServer {
    /// Starts a server with the default test settings.
    pub fn start() -> TestServer {
        TestServer::with_config("")
    }

    /// Starts a server whose `[server]` section also holds `extra` (one
    /// `key = value` per line; later keys are not allowed to repeat earlier
    /// ones, so `extra` must not set `port` or `history_file`).
    pub fn with_config(extra: &str) -> TestServer {
        TestServer::in_dir(TempDir::new(), extra)
    }

    /// Starts a server in an existing directory: used to restart a server on
    /// the same history file.
    pub fn in_dir(dir: TempDir, extra: &str) -> TestServer {
        let config = format!(
            "[server]\nhost = \"127.0.0.1\"\nport = 0\nhistory_file = \"{}\"\n{}\n\n[web]\nport = 0\n",
            dir.path().join("history.log").display(),
            extra
        );
        let config_path = dir.path().join("config.toml");
        fs::write(&config_path, config).expect("write test config");
        let stderr = fs::File::create(dir.path().join("stderr.log")).expect("create stderr log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("start server binary");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("server stdout");

        // Read stdout on a thread of its own, so that a server that never
        // prints cannot hang the test: we wait on a channel with a timeout.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
                panic!("server did not print `listening on`; stderr:\n{log}");
            }
        };
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .parse()
            .expect("address after `listening on`");
        // The web page's address comes next.
        let second = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the `web on` line");
        let web_addr = second
            .strip_prefix("web on http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("unexpected second line: {second:?}"))
            .parse()
            .expect("address after `web on`");
        TestServer {
            child,
            stdin,
            addr,
            web_addr,
            stdout_lines: rx,
            dir,
        }
    }

    /// Connects a raw client that has not sent its name yet.
    pub fn connect(&self) -> TestClient {
        TestClient::connect(self.addr)
    }

    /// Connects and completes the handshake as `name`, reading the welcome
    /// and hello lines and any history replay of the default room.
    pub fn login(&self, name: &str) -> TestClient {
        let mut client = self.connect();
        client.expect_prefix("* Welcome to ");
        client.send(name);
        client.expect_prefix(&format!("* Hello {name}!"));
        client.skip_replay();
        client
    }

    /// Writes one console command to the server's stdin.
    pub fn console(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("server stdin is open");
        writeln!(stdin, "{line}").expect("write to server stdin");
        stdin.flush().expect("flush server stdin");
    }

    /// Closes the server's stdin (end of file on its console).
    pub fn close_console(&mut self) {
        self.stdin = None;
    }

    /// The next line the server printed on stdout, waiting up to READ_TIMEOUT.
    pub fn stdout_line(&self) -> String {
        self.stdout_lines
            .recv_timeout(READ_TIMEOUT)
            .expect("a line on the server's stdout")
    }

    /// Waits for the server to exit by itself and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Everything the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The chat log file's contents.
    pub fn history(&self) -> String {
        fs::read_to_string(self.dir.path().join("history.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server (SIGKILL) and hands back its directory, so a test can
    /// start a new server on the same history file.
    pub fn kill(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Leave an empty path behind: dropping it removes nothing.
        std::mem::replace(&mut self.dir, TempDir(PathBuf::new()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One TCP connection to the server, reading line by line with a timeout.
pub struct TestClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl TestClient {
    pub fn connect(addr: SocketAddr) -> TestClient {
        let stream = TcpStream::connect(addr).expect("connect to test server");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set read timeout");
        let writer = stream.try_clone().expect("clone stream");
        TestClient {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Sends `line` followed by `\n`.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes exactly as given.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to server");
    }

    /// The next line from the server without its `\n`; panics on timeout or
    /// end of stream.
    pub fn line(&mut self) -> String {
        match self.try_line() {
            Some(line) => line,
            None => panic!("connection closed while a line was expected"),
        }
    }

    /// The next line, or None if the server closed the connection. Panics on
    /// timeout.
    pub fn try_line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Some(String::from_utf8(buf).expect("server sent valid UTF-8"))
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("timed out waiting for a line from the server")
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("read from server: {e}"),
        }
    }

    /// Reads the next line and checks it is exactly `expected`.
    pub fn expect(&mut self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected);
    }

    /// Reads the next line and checks it starts with `prefix`; returns it.
    pub fn expect_prefix(&mut self, prefix: &str) -> String {
        let line = self.line();
        assert!(
            line.starts_with(prefix),
            "expected a line starting with {prefix:?}, got {line:?}"
        );
        line
    }

    /// Reads lines until one equals `expected`, returning the ones skipped.
    pub fn wait_for(&mut self, expected: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            let line = self.line();
            if line == expected {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Skips a history replay (`* last N messages in #room:` and its lines)
    /// if one comes next. Uses a marker command to know where it ends.
    pub fn skip_replay(&mut self) {
        self.send("/rooms");
        loop {
            let line = self.line();
            if line.starts_with("* rooms:") {
                return;
            }
        }
    }

    /// Asserts that the server closes the connection (after any lines).
    pub fn expect_closed(&mut self) {
        let start = Instant::now();
        while start.elapsed() < READ_TIMEOUT {
            if self.try_line().is_none() {
                return;
            }
        }
        panic!("the server did not close the connection");
    }

    /// Half-closes the sending side, as a client at end of input does.
    pub fn shutdown_write(&self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }

    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }
}
