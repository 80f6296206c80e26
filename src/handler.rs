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

use crate::accounts::{AccountError, Accounts};
use crate::config::ServerConfig;
use crate::log;
use crate::login::{self, Name};
use crate::outbox::{Closed, Outbox};
use crate::protocol::{self, read_line_capped, Command, LineRead};
use crate::rate::{RateLimiter, Verdict};
use crate::registry::{ChatError, ConnId, Registry, Session};

/// How long we keep reading (and discarding) after saying goodbye, so the
/// goodbye is not lost to a reset (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);

/// The socket as the reader sees it: reads can be given a deadline.
///
/// A read timeout alone would not stop a client that trickles one byte every
/// few seconds and never finishes its name ("slowloris"): each byte restarts
/// the timeout. So during the handshake every read is given only the time
/// left until one fixed deadline.
pub(crate) struct DeadlineReader {
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
    pub(crate) fn new(stream: Arc<TcpStream>, deadline: Instant) -> DeadlineReader {
        DeadlineReader {
            stream,
            deadline: Some(deadline),
        }
    }

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

/// What a client's thread uses of the server's shared state.
pub struct Context<'a> {
    pub registry: &'a Registry,
    pub accounts: &'a Accounts,
    pub config: &'a ServerConfig,
}

/// The read buffer of a connection. Small, because most clients are idle
/// most of the time and each costs this much memory for as long as it is
/// connected; a longer line is simply read in several pieces.
const READ_BUFFER: usize = 512;

/// Wrong passwords allowed on one connection before it is closed.
const MAX_STRIKES: u32 = 3;

/// One connection, as its thread sees it.
struct Connection<'a> {
    ctx: &'a Context<'a>,
    id: ConnId,
    addr: SocketAddr,
    /// Where this thread queues lines before the client is registered.
    outbox: Arc<Outbox>,
    reader: BufReader<DeadlineReader>,
    /// Scratch space for [`read_line_capped`], reused for every line.
    buf: Vec<u8>,
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
    // The guard first: from here on, every way out unregisters the client.
    let registration = Registration {
        registry: ctx.registry,
        session,
    };
    conn.reader.get_mut().clear_deadline()?;
    log!("client {addr} is {}", registration.session.name());
    conn.chat(registration)
}

impl Connection<'_> {
    /// Queues a line for a client that is not registered yet (the registry
    /// queues everything after that).
    fn send(&self, line: &str) -> io::Result<()> {
        self.outbox
            .send(self.ctx.registry.writers(), line.as_bytes())
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
    /// client is registered. None if it left, ran out of time, or guessed
    /// wrong too often.
    #[inline(never)] // see `chat`
    fn handshake(&mut self) -> io::Result<Option<Session>> {
        let ctx = self.ctx;
        let welcome = protocol::notice(&format!(
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
                    self.send(&protocol::error(refused))?;
                    continue;
                }
            };
            if let Name::Account(account) = &name {
                let prompt = format!("{account} is registered; enter your password:");
                self.send(&protocol::notice(&prompt))?;
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
                    self.send(&protocol::error("wrong password"))?;
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
            match login::enter(ctx, &name, self.id, self.addr, outbox) {
                Ok(session) => return Ok(Some(session)),
                Err(ChatError::Gone) => return Ok(None),
                Err(refusal) => self.send(&protocol::error(refusal))?,
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
            match read {
                LineRead::Eof => return Ok(None),
                LineRead::TooLong => self.send(&too_long(self.ctx.config))?,
                LineRead::NotUtf8 => self.send(&not_utf8())?,
                LineRead::Line(line) => {
                    let line = protocol::sanitize(&line).trim().to_string();
                    if !line.is_empty() {
                        return Ok(Some(line));
                    }
                }
            }
        }
    }

    /// The read loop of a registered client: one line, one command, until
    /// it quits, disconnects or is removed.
    // Not inlined into `run`, nor `handshake` either: each then has a stack
    // frame of its own, used one after the other, instead of one frame big
    // enough for both. An idle client's thread touches one page of stack
    // less that way, which is 4 KB per client (see BENCHMARKS.md).
    #[inline(never)]
    fn chat(&mut self, mut registration: Registration) -> io::Result<()> {
        let config = self.ctx.config;
        let mut limiter = RateLimiter::new(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
            Instant::now(),
        );
        loop {
            let read = self.read_line()?;
            if read == LineRead::Eof {
                let name = registration.session.name();
                log!("client {} ({name}) disconnected", self.addr);
                return Ok(());
            }
            match handle_line(read, &mut registration.session, &mut limiter, self.ctx) {
                Outcome::Continue => {}
                Outcome::Gone => return Ok(()),
                Outcome::Quit => {
                    let name = registration.session.name();
                    log!("client {} ({name}) quit", self.addr);
                    drop(registration); // tell the rooms before we close
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
        linger(&self.reader.get_ref().stream);
    }
}

/// Reads and discards whatever the peer still sends, for a moment, before
/// the caller closes the socket (whose write side is shut down, or about to
/// be).
///
/// Closing a socket that has unread input makes the kernel send a reset,
/// and a reset can destroy data we sent but the peer has not read yet, such
/// as a goodbye line or an HTTP answer. Draining for a short, bounded time
/// lets the peer's last bytes arrive, and its end of stream, before we close.
pub(crate) fn linger(stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(LINGER));
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 1024];
    while Instant::now() < until {
        match (&*stream).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// What became of one line from a registered client.
pub(crate) enum Outcome {
    Continue,
    /// The client asked to leave and was told goodbye.
    Quit,
    /// The client is no longer registered (kicked, or cut off).
    Gone,
}

/// Handles one line from a registered client: the rate limit, the checks,
/// then the command. The terminal read loop and the web page's
/// `/api/send` both come here, so a browser obeys every rule a terminal
/// does.
pub(crate) fn handle_line(
    read: LineRead,
    session: &mut Session,
    limiter: &mut RateLimiter,
    ctx: &Context,
) -> Outcome {
    let registry = ctx.registry;
    if matches!(&read, LineRead::Line(line) if line.trim().is_empty()) {
        return Outcome::Continue;
    }
    let reply = match limiter.check(Instant::now()) {
        Verdict::Allow => None,
        Verdict::DropAndWarn => Some(protocol::error("slow down")),
        Verdict::Drop => return Outcome::Continue,
    };
    let line = match (reply, read) {
        (Some(reply), _) => Err(reply),
        (None, LineRead::Line(line)) => Ok(line),
        (None, LineRead::TooLong) => Err(too_long(ctx.config)),
        (None, LineRead::NotUtf8) => Err(not_utf8()),
        (None, LineRead::Eof) => return Outcome::Gone,
    };
    let result = match line {
        Err(reply) => registry
            .reply(session, &reply)
            .map(|()| Flow::Continue)
            .map_err(Refusal::Chat),
        Ok(line) => match Command::parse(&protocol::sanitize(&line)) {
            Ok(command) => dispatch(command, session, ctx),
            Err(e) => Err(Refusal::Parse(e)),
        },
    };
    match result {
        Ok(Flow::Continue) => Outcome::Continue,
        Ok(Flow::Quit) => Outcome::Quit,
        Err(Refusal::Chat(ChatError::Gone)) => Outcome::Gone,
        Err(refusal) => match registry.reply(session, &protocol::error(&refusal)) {
            Ok(()) => Outcome::Continue,
            Err(_) => Outcome::Gone,
        },
    }
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

/// Why a line was refused: it did not parse, the registry said no, or the
/// accounts did.
enum Refusal {
    Parse(protocol::ParseError),
    Chat(ChatError),
    Account(AccountError),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Parse(e) => e.fmt(f),
            Refusal::Chat(e) => e.fmt(f),
            Refusal::Account(e) => e.fmt(f),
        }
    }
}

impl From<ChatError> for Refusal {
    fn from(e: ChatError) -> Refusal {
        Refusal::Chat(e)
    }
}

impl From<AccountError> for Refusal {
    fn from(e: AccountError) -> Refusal {
        Refusal::Account(e)
    }
}

/// Carries out one command. The registry and the accounts do the work;
/// this only routes, and logs what the operator will want to know.
fn dispatch(command: Command, session: &mut Session, ctx: &Context) -> Result<Flow, Refusal> {
    let (registry, accounts) = (ctx.registry, ctx.accounts);
    let reply = |session: &Session, text: &str| registry.reply(session, &protocol::notice(text));
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
            // Someone else's registered name is theirs; checked under the
            // registry lock, like the name being free.
            let allowed = |new: &str| {
                let own = protocol::name_key(new) == protocol::name_key(&old);
                own || !accounts.is_registered(new)
            };
            registry.rename(session, &new, allowed)?;
            log!("{old} is now known as {new}");
            if accounts.is_registered(&old) {
                // The account moves with its owner.
                accounts.rename(&old, &new)?;
            }
        }
        Command::Rooms => registry.reply(session, &registry.rooms_line())?,
        Command::Users(room) => {
            let line = registry.users_line(room.as_deref())?;
            registry.reply(session, &line)?
        }
        Command::Help => registry.reply(session, &protocol::help())?,
        Command::Register(password) => {
            if !ctx.config.open_registration {
                return Err(Refusal::Chat(ChatError::RegistrationClosed));
            }
            accounts.register(session.name(), &password)?;
            log!("{} registered", session.name());
            reply(session, &format!("{} is now registered", session.name()))?;
        }
        Command::Password { old, new } => {
            accounts.change_password(session.name(), &old, &new)?;
            log!("{} changed their password", session.name());
            reply(session, "password changed")?;
        }
        Command::Unregister(password) => {
            accounts.unregister(session.name(), &password)?;
            log!("{} unregistered", session.name());
            reply(
                session,
                &format!("{} is no longer registered", session.name()),
            )?;
        }
        Command::Quit => {
            reply(session, &format!("Bye {}!", session.name()))?;
            return Ok(Flow::Quit);
        }
    }
    Ok(Flow::Continue)
}
