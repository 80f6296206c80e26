//! Starts a real `server` binary for one test.
//!
//! Every server runs in its own temporary directory with `port = 0`, so tests
//! run in parallel without fighting over ports or history files. The server
//! says where it listens on its standard output, so a test reads that rather
//! than sleeping, and the server is killed when the [`TestServer`] is
//! dropped, even if the test panics.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Client, READ_TIMEOUT};

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
    /// The IRC listener's address.
    pub irc_addr: SocketAddr,
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
        TestServer::in_dir_with(dir, extra, ("", 0), "")
    }

    /// Starts a server whose `[server]` section also holds `extra` and
    /// whose `[web]` section also holds `web_extra` (not `port`).
    pub fn with_web_config(extra: &str, web_extra: &str) -> TestServer {
        TestServer::in_dir_with(TempDir::new(), extra, (web_extra, 0), "")
    }

    /// Starts a fresh server whose web page listens on `port`: a server
    /// restarted where a browser's page expects it.
    pub fn with_web_port(port: u16) -> TestServer {
        TestServer::in_dir_with(TempDir::new(), "", ("", port), "")
    }

    /// Like [`TestServer::in_dir`], with `irc_extra` in the `[irc]` section.
    pub fn in_dir_with_irc(dir: TempDir, extra: &str, irc_extra: &str) -> TestServer {
        TestServer::in_dir_with(dir, extra, ("", 0), irc_extra)
    }

    fn in_dir_with(
        dir: TempDir,
        extra: &str,
        (web_extra, web_port): (&str, u16),
        irc_extra: &str,
    ) -> TestServer {
        let config = format!(
            "[server]\nhost = \"127.0.0.1\"\nport = 0\nhistory_file = \"{}\"\n{}\n\n[web]\nport = {web_port}\n{}\n\n[irc]\nport = 0\n{}",
            dir.path().join("history.log").display(),
            extra,
            web_extra,
            irc_extra
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
        let rx = lines_of(stdout);
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
        // Then the IRC listener's.
        let third = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the `irc on` line");
        let irc_addr = third
            .strip_prefix("irc on ")
            .unwrap_or_else(|| panic!("unexpected third line: {third:?}"))
            .parse()
            .expect("address after `irc on`");
        TestServer {
            child,
            stdin,
            addr,
            web_addr,
            irc_addr,
            stdout_lines: rx,
            dir,
        }
    }

    /// Connects a client that has not sent its name yet.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr).expect("connect to test server")
    }

    /// Connects and completes the handshake as `name`, checking that the
    /// welcome and hello lines come first, and reads any history replay of
    /// the default room.
    pub fn login(&self, name: &str) -> Client {
        let mut client = self.connect();
        client.name = name.to_string();
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

    /// The next console reply on stdout, skipping the chat the console
    /// shows (room lines, direct messages, join, leave and rename notices,
    /// `* (N lines not shown)`): replies keep forms of their own.
    pub fn console_reply(&self) -> String {
        loop {
            let line = self.stdout_line();
            if !is_echoed_chat(&line) {
                return line;
            }
        }
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
    /// What the server wrote on stderr so far. The server logs from a
    /// thread of its own, a moment after the event: this waits until the
    /// file stops growing (50 ms without change, at most 2 s).
    pub fn stderr(&self) -> String {
        let path = self.dir.path().join("stderr.log");
        let read = || fs::read_to_string(&path).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut text = read();
        loop {
            thread::sleep(Duration::from_millis(50));
            let again = read();
            if again == text || Instant::now() > deadline {
                return again;
            }
            text = again;
        }
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

/// The lines of the server's stderr that report a panic.
pub fn panics(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("panicked")).collect()
}

/// Whether a stdout line is chat shown on the console, not a console reply.
pub fn is_echoed_chat(line: &str) -> bool {
    if line.starts_with("[#") || line.starts_with("[DM] ") {
        return true;
    }
    let Some(notice) = line.strip_prefix("* ") else {
        return false;
    };
    let words: Vec<&str> = notice.split(' ').collect();
    match words.as_slice() {
        [_, "joined", room] | [_, "left", room, ..] => room.starts_with('#'),
        // What room operators (and the server's succession) do.
        [_, "is", "now", "an", "operator", "of", room]
        | [_, "made", _, "an", "operator", "of", room]
        | [_, "removed", _, "from", "the", "operators", "of", room]
        | [_, "was", "kicked", "from", room, "by", ..]
        | [_, "banned", _, "from", room]
        | [_, "lifted", "the", "ban", "on", _, "in", room]
        | [_, "locked" | "unlocked", "the", "topic", "of", room, ..]
        | [_, "moderated", room, ..]
        | [_, "ended", "the", "moderation", "of", room]
        | [_, "gave", _, "a", "voice", "in", room]
        | [_, "took", _, "voice", "in", room] => room.starts_with('#'),
        [_, "is", "now", "known", "as", _] => true,
        ["(1", "line", "not", "shown)"] => true,
        [_, "lines", "not", "shown)"] => notice.starts_with('('),
        _ => false,
    }
}

/// A chat-log line (`time<TAB>#room<TAB>name<TAB>text`, `*name` for an
/// action) as clients receive it: `[#room] name: text`, or
/// `[#room] * name text`. None if it is not a log entry.
pub fn wire_form(log_line: &str) -> Option<String> {
    let fields: Vec<&str> = log_line.split('\t').collect();
    let [_time, room, name, text] = fields[..] else {
        return None;
    };
    Some(match name.strip_prefix('*') {
        Some(name) => format!("[{room}] * {name} {text}"),
        None => format!("[{room}] {name}: {text}"),
    })
}

/// The lines a child process prints, read on a thread of its own and
/// handed over a channel, so a test waits for them with a timeout
/// (`recv_timeout`) instead of blocking on a silent child.
pub fn lines_of(output: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
