//! One client's life, on its own thread: handshake, read loop, dispatch,
//! clean-up.
//!
//! The thread owns the reading half of the connection (one `BufReader` for
//! the connection's whole life, so no buffered byte is ever lost) and blocks
//! in `read` until the client sends something. Blocking is fine here: that is
//! the point of a thread per client. This thread never writes to the socket:
//! every line to the client, its own replies included, is queued in the
//! client's outbox (through the registry once the client is registered), so
//! replies and other people's messages keep one order and never interleave
//! mid-line, and the writer threads send them.
//!
//! Clean-up cannot be forgotten: the `Registration` guard unregisters the
//! client in its `Drop`, which runs on every way out of [`run`]: a normal
//! quit, a read error, an early `?` return, even a panic.

use std::io::{self, BufReader, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::ServerConfig;
use crate::log;
use crate::outbox::{Closed, Outbox};
use crate::protocol::{self, read_line_capped, Command, LineRead};
use crate::rate::{RateLimiter, Verdict};
use crate::registry::{ChatError, ConnId, Registry, Session};

/// How long we keep reading (and discarding) after saying goodbye, so the
/// goodbye is not lost to a reset (see [`close_gracefully`]).
const LINGER: Duration = Duration::from_secs(1);

/// The socket as the reader sees it: reads can be given a deadline.
///
/// A read timeout alone would not stop a client that trickles one byte every
/// few seconds and never finishes its name ("slowloris"): each byte restarts
/// the timeout. So during the handshake every read is given only the time
/// left until one fixed deadline.
struct DeadlineReader {
    stream: Arc<TcpStream>,
    deadline: Option<Instant>,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(ErrorKind::TimedOut, "handshake timed out"));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        (&*self.stream).read(buf)
    }
}

impl DeadlineReader {
    /// Removes the deadline: a registered client may stay silent for as long
    /// as it likes.
    fn clear_deadline(&mut self) -> io::Result<()> {
        self.deadline = None;
        self.stream.set_read_timeout(None)
    }
}

/// Unregisters a client when dropped.
struct Registration<'a> {
    registry: &'a Registry,
    session: Session,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.unregister(&self.session);
    }
}

/// What the read loop does after a command.
enum Flow {
    Continue,
    Quit,
}

/// Serves one client until it quits, disconnects, or is removed.
///
/// Errors are this connection's alone; the caller logs them.
pub fn run(
    stream: Arc<TcpStream>,
    outbox: Arc<Outbox>,
    id: ConnId,
    addr: SocketAddr,
    registry: &Registry,
    config: &ServerConfig,
) -> io::Result<()> {
    let handshake_deadline = Instant::now() + Duration::from_secs(config.handshake_timeout_secs);
    let mut reader = BufReader::new(DeadlineReader {
        stream,
        deadline: Some(handshake_deadline),
    });
    let welcome = format!("Welcome to {}! Enter your name:", config.server_name);
    send(&outbox, registry, &protocol::notice(&welcome))?;

    let mut buf = Vec::new();
    let Some(session) = handshake(&mut reader, &outbox, &mut buf, id, addr, registry, config)?
    else {
        return Ok(());
    };
    reader.get_mut().clear_deadline()?;
    log!("client {addr} is {}", session.name());
    let mut registration = Registration { registry, session };

    let mut limiter = RateLimiter::new(
        config.rate_limit_per_sec,
        config.rate_limit_burst,
        Instant::now(),
    );
    loop {
        let line = match read_line_capped(&mut reader, config.max_line_bytes, &mut buf)? {
            LineRead::Eof => {
                log!(
                    "client {addr} ({}) disconnected",
                    registration.session.name()
                );
                return Ok(());
            }
            LineRead::Line(line) if line.trim().is_empty() => continue,
            read => read,
        };
        let reply = match limiter.check(Instant::now()) {
            Verdict::Allow => None,
            Verdict::DropAndWarn => Some(protocol::error("slow down")),
            Verdict::Drop => continue,
        };
        let reply = reply.or(match line {
            LineRead::TooLong => Some(too_long(config)),
            LineRead::NotUtf8 => Some(not_utf8()),
            _ => None,
        });
        if let Some(reply) = reply {
            if registry.reply(&registration.session, &reply).is_err() {
                return Ok(()); // removed while we were reading
            }
            continue;
        }
        let LineRead::Line(line) = line else { continue };
        let result = match Command::parse(&protocol::sanitize(&line)) {
            Ok(command) => dispatch(command, &mut registration.session, registry),
            Err(e) => Err(Refusal::Parse(e)),
        };
        match result {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => {
                log!("client {addr} ({}) quit", registration.session.name());
                drop(registration); // tell the rooms before we close
                close_gracefully(&outbox, &mut reader);
                return Ok(());
            }
            Err(Refusal::Chat(ChatError::Gone)) => return Ok(()),
            Err(refusal) => {
                if registry
                    .reply(&registration.session, &protocol::error(&refusal))
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
    }
}

/// Reads names until one is accepted. Returns None if the client left or
/// ran out of time.
fn handshake(
    reader: &mut BufReader<DeadlineReader>,
    outbox: &Arc<Outbox>,
    buf: &mut Vec<u8>,
    id: ConnId,
    addr: SocketAddr,
    registry: &Registry,
    config: &ServerConfig,
) -> io::Result<Option<Session>> {
    loop {
        let read = match read_line_capped(reader, config.max_line_bytes, buf) {
            Ok(read) => read,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                log!(
                    "client {addr} gave no name within {} s; closing",
                    config.handshake_timeout_secs
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let name = match read {
            LineRead::Eof => return Ok(None),
            LineRead::TooLong => {
                send(outbox, registry, &too_long(config))?;
                continue;
            }
            LineRead::NotUtf8 => {
                send(outbox, registry, &not_utf8())?;
                continue;
            }
            LineRead::Line(line) => protocol::sanitize(&line).trim().to_string(),
        };
        if name.is_empty() {
            continue;
        }
        let refusal = match protocol::validate_name(&name) {
            Err(bad) => ChatError::BadName(bad),
            Ok(()) => match registry.register(&name, id, addr, Arc::clone(outbox)) {
                Ok(session) => return Ok(Some(session)),
                Err(ChatError::Gone) => return Ok(None),
                Err(taken) => taken,
            },
        };
        send(outbox, registry, &protocol::error(refusal))?;
    }
}

/// Queues a line for a client that is not registered yet (the registry
/// queues everything after that).
fn send(outbox: &Arc<Outbox>, registry: &Registry, line: &str) -> io::Result<()> {
    outbox
        .send(registry.writers(), line.as_bytes())
        .map_err(|Closed| io::Error::new(ErrorKind::BrokenPipe, "the connection is closing"))
}

fn too_long(config: &ServerConfig) -> String {
    protocol::error(format!(
        "line too long (max {} bytes)",
        config.max_line_bytes
    ))
}

fn not_utf8() -> String {
    protocol::error("message is not valid UTF-8")
}

/// Why a line was refused: it did not parse, or the registry said no.
enum Refusal {
    Parse(protocol::ParseError),
    Chat(ChatError),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Parse(e) => e.fmt(f),
            Refusal::Chat(e) => e.fmt(f),
        }
    }
}

impl From<ChatError> for Refusal {
    fn from(e: ChatError) -> Refusal {
        Refusal::Chat(e)
    }
}

/// Carries out one command. The registry does the work; this only routes.
fn dispatch(command: Command, session: &mut Session, registry: &Registry) -> Result<Flow, Refusal> {
    match command {
        Command::Empty => {}
        Command::Say(text) => registry.say(session, None, &text, false)?,
        Command::SayIn { room, text } => registry.say(session, Some(&room), &text, false)?,
        Command::Me(text) => registry.say(session, None, &text, true)?,
        Command::Direct { to, text } => registry.direct(session, &to, &text)?,
        Command::Join(room) => {
            registry.join(session, &room)?;
            log!("{} joined #{room}", session.name());
        }
        Command::Leave(room) => {
            let room = registry.leave(session, room.as_deref())?;
            log!("{} left #{room}", session.name());
        }
        Command::Nick(new) => {
            let old = session.name().to_string();
            registry.rename(session, &new)?;
            log!("{old} is now known as {new}");
        }
        Command::Rooms => registry.reply(session, &registry.rooms_line())?,
        Command::Users(room) => {
            let line = registry.users_line(room.as_deref())?;
            registry.reply(session, &line)?
        }
        Command::Help => registry.reply(session, &protocol::help())?,
        Command::Quit => {
            let bye = protocol::notice(&format!("Bye {}!", session.name()));
            registry.reply(session, &bye)?;
            return Ok(Flow::Quit);
        }
    }
    Ok(Flow::Continue)
}

/// Closes our side once the goodbye is sent, then reads and discards
/// whatever the client still sends for a moment.
///
/// Closing a socket that has unread input makes the kernel send a reset,
/// and a reset can destroy data we sent but the client has not read yet,
/// such as the goodbye line. Shutting down our side first sends a clean end
/// of stream after the goodbye; draining for a short, bounded time lets the
/// client's last bytes arrive before we close.
fn close_gracefully(outbox: &Outbox, reader: &mut BufReader<DeadlineReader>) {
    outbox.close_after_flush(Shutdown::Write);
    let _ = reader.get_ref().stream.set_read_timeout(Some(LINGER));
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 1024];
    while Instant::now() < until {
        match (&*reader.get_ref().stream).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
