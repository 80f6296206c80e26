//! One client's life, on its own thread: handshake, read loop, dispatch,
//! clean-up.
//!
//! The thread owns the reading half of the connection (one `BufReader` for
//! the connection's whole life, so no buffered byte is ever lost) and blocks
//! in `read` until the client sends something. Blocking is fine here: that is
//! the point of a thread per client. This thread never writes to the socket:
//! every line to the client, its own replies included, is queued in the
//! client's outbox (through the registry once the client is online), so
//! replies and other people's messages keep one order and never interleave
//! mid-line, and the writer threads send them.
//!
//! Clean-up cannot be forgotten: the `Presence` guard takes the client
//! offline in its `Drop`, which runs on every way out of [`run`]: a normal
//! quit, a read error, an early `?` return, even a panic.

use std::io::{self, BufReader, ErrorKind};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::commands::{self, Outcome, Refusal};
use crate::context::Context;
use crate::event::{Event, Frontend};
use crate::log;
use crate::login::{self, Name, MAX_STRIKES};
use crate::net::deadline::DeadlineReader;
use crate::net::linger::linger;
use crate::net::{read_line_capped, LineRead};
use crate::outbox::{Closed, Outbox};
use crate::protocol;
use crate::rate::RateLimiter;
use crate::registry::{ChatError, ConnId, Presence, Session};

/// The read buffer of a connection. Small, because most clients are idle
/// most of the time and each costs this much memory for as long as it is
/// connected; a longer line is simply read in several pieces.
const READ_BUFFER: usize = 512;

/// One connection, as its thread sees it.
struct Connection<'a> {
    ctx: &'a Context<'a>,
    id: ConnId,
    addr: SocketAddr,
    /// Where this thread queues lines before the client is online.
    outbox: Arc<Outbox>,
    reader: BufReader<DeadlineReader>,
    /// Scratch space for [`read_line_capped`], reused for every line.
    buf: Vec<u8>,
}

/// Serves one client until it quits, disconnects, or is removed.
///
/// Errors are this connection's alone; the caller logs them.
pub(crate) fn run(
    stream: Arc<TcpStream>,
    outbox: Arc<Outbox>,
    id: ConnId,
    addr: SocketAddr,
    ctx: &Context,
) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(ctx.config.handshake_timeout_secs);
    let mut conn = Connection {
        ctx,
        id,
        addr,
        outbox,
        reader: BufReader::with_capacity(READ_BUFFER, DeadlineReader::new(stream, deadline)),
        buf: Vec::new(),
    };
    let Some(session) = conn.handshake()? else {
        return Ok(());
    };
    // The guard first: from here on, every way out takes the client offline.
    let presence = Presence::new(ctx.registry, session);
    conn.reader.get_mut().clear_deadline()?;
    log!("client {addr} is {}", presence.session.name());
    conn.chat(presence)
}

impl Connection<'_> {
    /// Tells a client that is not online yet (the registry sends
    /// everything after that).
    fn send(&self, event: &Event) -> io::Result<()> {
        let bytes = protocol::render(event).into_bytes();
        self.outbox
            .send(self.ctx.registry.writers(), &bytes)
            .map_err(|Closed| io::Error::new(ErrorKind::BrokenPipe, "the connection is closing"))
    }

    fn read_line(&mut self) -> io::Result<LineRead> {
        read_line_capped(
            &mut self.reader,
            self.ctx.config.max_line_bytes,
            &mut self.buf,
        )
    }

    /// Asks for a name (and a password, for a registered name) until the
    /// client is online. None if it left, ran out of time, or guessed
    /// wrong too often.
    #[inline(never)] // see `chat`
    fn handshake(&mut self) -> io::Result<Option<Session>> {
        let ctx = self.ctx;
        let welcome = Event::Notice(format!(
            "Welcome to {}! Enter your name:",
            ctx.config.server_name
        ));
        self.send(&welcome)?;
        let mut strikes = 0;
        loop {
            let Some(name) = self.read_handshake_line()? else {
                return Ok(None);
            };
            let name = match login::check(ctx, &name) {
                Ok(name) => name,
                Err(refused) => {
                    self.send(&Event::Error(refused.to_string()))?;
                    continue;
                }
            };
            if let Name::Account(account) = &name {
                let prompt = format!("{account} is registered; enter your password:");
                self.send(&Event::Notice(prompt))?;
                let Some(password) = self.read_handshake_line()? else {
                    return Ok(None);
                };
                // Slow on purpose (see `crypto`), and done holding no lock.
                if ctx.accounts.verify(account, &password).is_err() {
                    strikes += 1;
                    log!(
                        "client {}: wrong password for {account} ({strikes} of {MAX_STRIKES})",
                        self.addr
                    );
                    self.send(&Event::Error("wrong password".to_string()))?;
                    if strikes == MAX_STRIKES {
                        log!("client {}: too many wrong passwords; closing", self.addr);
                        self.outbox.close_after_flush(Shutdown::Both);
                        return Ok(None);
                    }
                    self.send(&welcome)?;
                    continue;
                }
            }
            let outbox = Arc::clone(&self.outbox);
            let connection = (Frontend::Terminal, outbox);
            match login::enter(ctx, &name, self.id, self.addr, connection) {
                Ok(session) => return Ok(Some(session)),
                Err(ChatError::Gone) => return Ok(None),
                Err(refusal) => self.send(&Event::Error(refusal.to_string()))?,
            }
        }
    }

    /// The next non-empty line of the handshake, sanitized and trimmed.
    /// None if the client left or the handshake deadline passed.
    fn read_handshake_line(&mut self) -> io::Result<Option<String>> {
        loop {
            let read = match self.read_line() {
                Ok(read) => read,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    log!(
                        "client {} did not log in within {} s; closing",
                        self.addr,
                        self.ctx.config.handshake_timeout_secs
                    );
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let max = self.ctx.config.max_line_bytes;
            match read {
                LineRead::Eof | LineRead::Torn => return Ok(None),
                LineRead::TooLong => self.send(&Event::Error(Refusal::TooLong(max).to_string()))?,
                LineRead::NotUtf8 => self.send(&Event::Error(Refusal::NotUtf8.to_string()))?,
                LineRead::Line(line) => {
                    let line = protocol::sanitize(&line).trim().to_string();
                    if !line.is_empty() {
                        return Ok(Some(line));
                    }
                }
            }
        }
    }

    /// The read loop of an online client: one line, one command, until
    /// it quits, disconnects or is removed.
    // Not inlined into `run`, nor `handshake` either: each then has a stack
    // frame of its own, used one after the other, instead of one frame big
    // enough for both. An idle client's thread touches one page of stack
    // less that way, which is 4 KB per client (see BENCHMARKS.md).
    #[inline(never)]
    fn chat(&mut self, mut presence: Presence) -> io::Result<()> {
        let config = self.ctx.config;
        let mut limiter = RateLimiter::new(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
            Instant::now(),
        );
        loop {
            let read = self.read_line()?;
            if matches!(read, LineRead::Eof | LineRead::Torn) {
                let name = presence.session.name();
                log!("client {} ({name}) disconnected", self.addr);
                return Ok(());
            }
            match commands::handle_line(read, &mut presence.session, &mut limiter, self.ctx) {
                Outcome::Continue => {}
                Outcome::Gone => return Ok(()),
                Outcome::Quit => {
                    let name = presence.session.name();
                    log!("client {} ({name}) quit", self.addr);
                    presence.reason = "Quit".to_string();
                    drop(presence); // tell the rooms before we close
                    self.close_gracefully();
                    return Ok(());
                }
            }
        }
    }

    /// Closes our side once the goodbye is sent, then lingers (see
    /// [`linger`]) so the goodbye is not lost.
    fn close_gracefully(&mut self) {
        self.outbox.close_after_flush(Shutdown::Write);
        linger(self.reader.get_ref().stream());
    }
}
