//! Shared helpers for the hardening tests (`tests/hardening_*.rs`): a small
//! seeded random generator, a reader of the server's process figures from
//! `/proc`, and a connection whose lines are read by a thread of its own.
//!
//! The hardening tests open hundreds of connections at once. A connection
//! read only when the test gets round to it would fall behind, fill its
//! socket buffers, and be cut off by the server for not reading, which is
//! the server doing its job, not what these tests are about. So a [`Peer`]
//! reads all the time, on its own thread, into a channel, and the test takes
//! lines from the channel with a timeout.
//!
//! Linux only: process figures come from `/proc/<pid>/status`,
//! `/proc/<pid>/stat` and `/proc/<pid>/fd`.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---- a seeded random generator ---------------------------------------------

/// xorshift64*: tiny, fast, and good enough to pick test actions. Not for
/// anything that needs real randomness.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is not a valid xorshift state, so it is
    /// mapped to another constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi` (`lo` if `hi` is below it).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A generator for one worker, derived from this one's seed, so that
    /// threads do not share state and a run is reproducible per worker.
    pub fn fork(&mut self, worker: u64) -> Rng {
        Rng::new(self.next_u64() ^ worker.wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }
}

/// The seed for a run: the environment variable `var` if it is set (to
/// replay a failure), else one from the clock. Printed, so that a failing
/// run's output says how to replay it.
pub fn seed_from_env(var: &str) -> u64 {
    let seed = match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be an unsigned integer, got {text:?}")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    eprintln!("{var}={seed} (set it to replay this run)");
    seed
}

// ---- the server's process figures -------------------------------------------

/// One number from `/proc/<pid>/status`, such as `Threads` or `VmRSS` (kB).
pub fn status_field(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The number of threads of the process.
pub fn threads(pid: u32) -> u64 {
    status_field(pid, "Threads")
}

/// The resident memory of the process, in kB.
pub fn rss_kb(pid: u32) -> u64 {
    status_field(pid, "VmRSS")
}

/// The number of open file descriptors of the process.
pub fn fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("list /proc/{pid}/fd: {e}"))
        .count()
}

/// CPU time used by the process so far (user + system), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/stat: {e}"));
    // The command name (field 2) is in parentheses and may hold spaces, so
    // count fields from the last `)`: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("`)` in stat") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// Clock ticks per second, for [`cpu_ticks`]. It is 100 on every Linux
/// system we know of; reading the real value (`sysconf(_SC_CLK_TCK)`) needs
/// libc, which these tests do without.
pub const TICKS_PER_SEC: u64 = 100;

/// Threads and open file descriptors of a process at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub threads: u64,
    pub fds: usize,
}

pub fn usage(pid: u32) -> Usage {
    Usage {
        threads: threads(pid),
        fds: fds(pid),
    }
}

/// Threads and descriptors once they have stopped changing: the same for
/// 300 ms (or the last reading after 3 s). A server that has just printed
/// its address may still be starting helper threads, and a baseline taken
/// in that moment would make them look like a leak later.
pub fn steady_usage(pid: u32) -> Usage {
    let start = Instant::now();
    let mut last = usage(pid);
    let mut since = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(50));
        let now = usage(pid);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= Duration::from_millis(300) {
            break;
        }
    }
    last
}

/// Polls until the process has at most `baseline` + `slack` threads and
/// descriptors, or `limit` passes. Client threads end (and close their
/// sockets) a moment after their peer leaves, so a single look right after
/// the clients close would see some of them still there.
pub fn settle(pid: u32, baseline: Usage, slack: usize, limit: Duration) -> Result<Usage, Usage> {
    let start = Instant::now();
    loop {
        let now = usage(pid);
        if now.threads <= baseline.threads + slack as u64 && now.fds <= baseline.fds + slack {
            return Ok(now);
        }
        if start.elapsed() > limit {
            return Err(now);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// ---- a connection read by its own thread ------------------------------------

/// What the reading thread saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line without its `\n`. A line that is not UTF-8 arrives as
    /// `<not UTF-8: ...>`, which matches no line of the protocol.
    Line(String),
    /// The server closed the connection (end of stream or reset).
    Closed,
}

/// A connection whose incoming lines are read all the time by a thread of
/// its own and handed over through a channel.
pub struct Peer {
    pub name: String,
    stream: TcpStream,
    lines: Receiver<Event>,
    done: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

/// How long a write to the server may block before it fails.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Peer {
    /// Connects without sending anything.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Peer> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        // A short timeout only so the thread can notice `done`; it keeps
        // reading after a timeout without losing the bytes of a partial line.
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let reading = stream.try_clone()?;
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let reader = thread::Builder::new()
            .name("peer reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(reading);
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
                            if tx.send(Event::Line(line)).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {} // bytes at the end of the stream: not a line
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            if stop.load(Ordering::SeqCst) {
                                return;
                            }
                        }
                        Err(_) => break, // reset: closed as well
                    }
                }
                let _ = tx.send(Event::Closed);
            })?;
        Ok(Peer {
            name: String::new(),
            stream,
            lines: rx,
            done,
            reader: Some(reader),
        })
    }

    /// Connects and logs in as `name`; panics (with `context` in the
    /// message) if that does not work within `limit`.
    pub fn login(addr: SocketAddr, name: &str, limit: Duration, context: &str) -> Peer {
        Peer::try_login(addr, name, limit).unwrap_or_else(|e| panic!("{context}: {e}"))
    }

    /// Connects and logs in as `name`: waits for the welcome, sends the
    /// name, waits for the hello (each within `limit`).
    pub fn try_login(addr: SocketAddr, name: &str, limit: Duration) -> Result<Peer, String> {
        let mut peer = Peer::connect(addr).map_err(|e| format!("connect as {name}: {e}"))?;
        peer.name = name.to_string();
        peer.wait_for(limit, |l| l.starts_with("* Welcome to "))
            .map_err(|e| format!("no welcome for {name}: {e}"))?;
        peer.send(name)
            .map_err(|e| format!("send name {name}: {e}"))?;
        let hello = format!("* Hello {name}!");
        peer.wait_for(limit, |l| l.starts_with(&hello))
            .map_err(|e| format!("no hello for {name}: {e}"))?;
        Ok(peer)
    }

    /// Sends `line` and a `\n` in one write.
    pub fn send(&self, line: &str) -> std::io::Result<()> {
        self.send_raw(format!("{line}\n").as_bytes())
    }

    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        (&self.stream).write_all(bytes)
    }

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
    /// before it. Err describes what happened instead (timeout or close),
    /// with the last lines seen.
    pub fn wait_for(
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

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The last few of `lines`, for an error message.
pub fn last_few(lines: &[String]) -> &[String] {
    &lines[lines.len().saturating_sub(5)..]
}

/// Asks `peer` for `/users` until the reply is `expected` or `limit`
/// passes (a client that just left is forgotten a moment after its socket
/// closes). Returns the last reply seen.
pub fn users_becomes(peer: &Peer, expected: &str, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < limit {
        peer.send("/users")
            .map_err(|e| format!("send /users: {e}"))?;
        let (line, _) = peer.wait_for(Duration::from_secs(5), |l| l.starts_with("* online: "))?;
        if line == expected {
            return Ok(());
        }
        last = line;
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!("/users still says {last:?}, expected {expected:?}"))
}

/// The lines of the server's stderr that report a panic.
pub fn panics(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("panicked")).collect()
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
