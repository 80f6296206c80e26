//! A client of the test server: one TCP connection, whose incoming lines a
//! thread of its own reads all the time.
//!
//! TCP delivers bytes, not lines: the reading thread rebuilds the lines and
//! hands them over a channel, and the test takes them from the channel with
//! a timeout, so a server that does not answer fails the test instead of
//! hanging it. Reading all the time matters to the tests that open hundreds
//! of connections at once: a connection read only when the test gets round
//! to it would fall behind, fill its socket buffers, and be cut off by the
//! server for not reading, which is the server doing its job, not what those
//! tests are about. A test that needs a client that stops reading uses a
//! plain socket instead: [`login_and_stall`].
//!
//! A [`Client`] reads in two styles, for two kinds of test:
//!
//! - Checks that panic, for the tests of the protocol, which read like the
//!   conversation they check: `alice.expect("[#general] bob: hi")`. Each
//!   waits at most [`READ_TIMEOUT`] for a line.
//! - Reads that report, for the hardening tests, which go on when a
//!   connection is closed or slow and count what went wrong: `next`,
//!   `wait_for_line`, `wait_closed`, `try_send`, each with a time limit of
//!   the caller's choosing where it waits.

use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::READ_TIMEOUT;

/// What the reading thread saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line without its `\n`. A line that is not UTF-8 arrives as
    /// `<not UTF-8: ...>`, which matches no line of the protocol.
    Line(String),
    /// The server closed the connection (end of stream or reset).
    Closed,
}

/// One connection to the server. Dropping it closes the connection and
/// ends its reading thread.
pub struct Client {
    /// The name it logged in with; empty if it did not log in.
    pub name: String,
    stream: TcpStream,
    lines: Receiver<Event>,
    /// Tells the reading thread to stop.
    done: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

/// How long a write to the server may block before it fails.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the reading thread's reads wait before it looks at `done`.
const POLL: Duration = Duration::from_millis(200);

impl Client {
    // ---- connecting ------------------------------------------------------

    /// Connects without sending anything.
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        // A short timeout only so the thread can notice `done`; it goes on
        // reading after a timeout without losing the bytes of a partial line.
        stream.set_read_timeout(Some(POLL))?;
        let reading = stream.try_clone()?;
        let (tx, lines) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let reader = thread::Builder::new()
            .name(format!("client reader {}", stream.local_addr()?))
            .spawn(move || read_lines(reading, tx, &stop))?;
        Ok(Client {
            name: String::new(),
            stream,
            lines,
            done,
            reader: Some(reader),
        })
    }

    /// Connects and logs in as `name`; panics (with `context` in the
    /// message) if that does not work within `limit`.
    pub fn login(addr: SocketAddr, name: &str, limit: Duration, context: &str) -> Client {
        Client::try_login(addr, name, limit).unwrap_or_else(|e| panic!("{context}: {e}"))
    }

    /// Connects and logs in as `name`: waits for the welcome, sends the
    /// name, waits for the hello (each within `limit`).
    pub fn try_login(addr: SocketAddr, name: &str, limit: Duration) -> Result<Client, String> {
        let mut client = Client::connect(addr).map_err(|e| format!("connect as {name}: {e}"))?;
        client.name = name.to_string();
        client
            .wait_for_line(limit, |l| l.starts_with("* Welcome to "))
            .map_err(|e| format!("no welcome for {name}: {e}"))?;
        client
            .try_send(name)
            .map_err(|e| format!("send name {name}: {e}"))?;
        let hello = format!("* Hello {name}!");
        client
            .wait_for_line(limit, |l| l.starts_with(&hello))
            .map_err(|e| format!("no hello for {name}: {e}"))?;
        Ok(client)
    }

    // ---- sending -----------------------------------------------------------

    /// Sends `line` and a `\n` in one write; panics if the write fails.
    pub fn send(&self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes exactly as given; panics if the write fails.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.try_send_raw(bytes).expect("write to server");
    }

    /// Sends `line` and a `\n` in one write.
    pub fn try_send(&self, line: &str) -> io::Result<()> {
        self.try_send_raw(format!("{line}\n").as_bytes())
    }

    /// Sends bytes exactly as given.
    pub fn try_send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        (&self.stream).write_all(bytes)
    }

    /// Half-closes the sending side, as a client at end of input does.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// The socket, for what the methods here do not cover: its local
    /// address, a clone to write from another thread.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    // ---- checks that panic -------------------------------------------------

    /// The next line from the server, without its `\n`; panics if none
    /// comes within [`READ_TIMEOUT`] or the server closes the connection.
    pub fn line(&self) -> String {
        match self.next(READ_TIMEOUT) {
            Some(Event::Line(line)) => line,
            Some(Event::Closed) => panic!("connection closed while a line was expected"),
            None => panic!("timed out waiting for a line from the server"),
        }
    }

    /// Reads the next line and checks it is exactly `expected`.
    pub fn expect(&self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected);
    }

    /// Reads the next line and checks it starts with `prefix`; returns it.
    pub fn expect_prefix(&self, prefix: &str) -> String {
        let line = self.line();
        assert!(
            line.starts_with(prefix),
            "expected a line starting with {prefix:?}, got {line:?}"
        );
        line
    }

    /// Reads lines until one equals `expected`, returning the ones skipped.
    pub fn wait_for(&self, expected: &str) -> Vec<String> {
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
    pub fn skip_replay(&self) {
        self.send("/rooms");
        loop {
            let line = self.line();
            if line.starts_with("* rooms:") {
                return;
            }
        }
    }

    /// Asserts that the server closes the connection (after any lines)
    /// within [`READ_TIMEOUT`].
    pub fn expect_closed(&self) {
        if let Err(e) = self.wait_closed(READ_TIMEOUT) {
            panic!("the server did not close the connection: {e}");
        }
    }

    // ---- reads that report -------------------------------------------------

    /// The next event, or None if nothing came within `limit`.
    pub fn next(&self, limit: Duration) -> Option<Event> {
        match self.lines.recv_timeout(limit) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Event::Closed),
        }
    }

    /// Every event already received, without waiting.
    pub fn take_ready(&self) -> Vec<Event> {
        self.lines.try_iter().collect()
    }

    /// Reads lines until one matches `wanted`; returns it and the lines
    /// before it. Err describes what happened instead (`limit` passed, or
    /// the connection closed), with the last lines seen.
    pub fn wait_for_line(
        &self,
        limit: Duration,
        mut wanted: impl FnMut(&str) -> bool,
    ) -> Result<(String, Vec<String>), String> {
        let deadline = Instant::now() + limit;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(Event::Line(line)) if wanted(&line) => return Ok((line, skipped)),
                Some(Event::Line(line)) => skipped.push(line),
                Some(Event::Closed) => {
                    return Err(format!(
                        "connection closed; last lines: {:?}",
                        last_few(&skipped)
                    ))
                }
                None => {
                    return Err(format!(
                        "nothing matching within {limit:?}; last lines: {:?}",
                        last_few(&skipped)
                    ))
                }
            }
        }
    }

    /// Waits until the server closes the connection; returns the lines that
    /// came before. Err if it stays open for `limit`.
    pub fn wait_closed(&self, limit: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(Event::Line(line)) => lines.push(line),
                Some(Event::Closed) => return Ok(lines),
                None => {
                    return Err(format!(
                        "still open after {limit:?}; last lines: {:?}",
                        last_few(&lines)
                    ))
                }
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The reading thread: turns the bytes from `stream` into lines and sends
/// each one down `lines`, until the server closes the connection, the
/// client is dropped (`done`), or nobody listens any more.
fn read_lines(stream: TcpStream, lines: Sender<Event>, done: &AtomicBool) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) if buf.last() == Some(&b'\n') => {
                buf.pop();
                let line = match String::from_utf8(std::mem::take(&mut buf)) {
                    Ok(line) => line,
                    Err(e) => format!("<not UTF-8: {:?}>", e.as_bytes()),
                };
                if lines.send(Event::Line(line)).is_err() {
                    return;
                }
            }
            Ok(_) => {} // bytes at the end of the stream: not a line
            // A timeout leaves the bytes read so far in `buf`, and the next
            // read goes on from there.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if done.load(Ordering::SeqCst) {
                    return;
                }
            }
            Err(_) => break, // reset: closed as well
        }
    }
    let _ = lines.send(Event::Closed);
}

/// The last few of `lines`, for an error message.
fn last_few(lines: &[String]) -> &[String] {
    &lines[lines.len().saturating_sub(5)..]
}

/// Asks `client` for `/users` until the reply is `expected` or `limit`
/// passes (a client that just left is forgotten a moment after its socket
/// closes). Err says what the last reply was.
pub fn users_becomes(client: &Client, expected: &str, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < limit {
        client
            .try_send("/users")
            .map_err(|e| format!("send /users: {e}"))?;
        let (line, _) =
            client.wait_for_line(Duration::from_secs(5), |l| l.starts_with("* online: "))?;
        if line == expected {
            return Ok(());
        }
        last = line;
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!("/users still says {last:?}, expected {expected:?}"))
}

/// Logs in as `name` on a plain socket and returns it, for a test about a
/// client that stops reading: the caller never reads from it again, so
/// whatever the server sends it piles up in the socket's buffers.
pub fn login_and_stall(addr: SocketAddr, name: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect a stalled client");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).expect("welcome");
    (&stream).write_all(format!("{name}\n").as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).expect("hello");
    assert!(line.starts_with(&format!("* Hello {name}!")), "{line:?}");
    stream
}
