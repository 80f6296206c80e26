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

use crate::accounts::Accounts;
use crate::commands::{self, Outcome, Refusal};
use crate::context::Context;
use crate::event::{Event, Frontend};
use crate::log;
use crate::login::{self, LoginError, Name, MAX_STRIKES};
use crate::net::deadline::DeadlineReader;
use crate::net::linger::linger;
use crate::net::{read_line_capped, LineRead};
use crate::outbox::{Closed, Outbox};
use crate::protocol;
use crate::rate::RateLimiter;
use crate::registry::{ChatError, ConnId, Presence, Session};

/// The first line, and the name prompt again after a refusal.
fn welcome(ctx: &Context) -> Event {
    let server_name = &ctx.config.server_name;
    Event::Notice(format!("Welcome to {server_name}! Enter your name:"))
}

/// How a sign-up at the door ended.
enum SignUp {
    Created,
    /// Back to the name prompt (`/cancel`, or the account was refused).
    Cancelled,
    /// The client left or ran out of time.
    Gone,
}

/// The read buffer of a connection. Small, because most clients are idle
/// most of the time and each costs this much memory for as long as it is
/// connected; a longer line is simply read in several pieces.
const READ_BUFFER: usize = 512;

/// How the password step of the handshake ended.
enum Password {
    Right,
    /// The client sent `/cancel`: start again from the name.
    Cancelled,
    /// The client left, or used up its guesses and is being closed.
    Gone,
}

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
    // On the heap: every frame on this thread's way to coming online
    // counts, since the deepest one stays resident for the connection's
    // life (see `come_online`).
    let mut conn = Box::new(Connection {
        ctx,
        id,
        addr,
        outbox,
        reader: BufReader::with_capacity(READ_BUFFER, DeadlineReader::new(stream, deadline)),
        buf: Vec::new(),
    });
    let Some(session) = conn.come_online()? else {
        return Ok(());
    };
    conn.chat(session)
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

    /// Asks for a name until the client is online: the handshake, then the
    /// registry, which may still refuse the name (someone took it in the
    /// meantime), and then the handshake again. None if the client left,
    /// ran out of time, or guessed wrong too often.
    // The registry's entry is called from here, not from inside the
    // handshake: the two frames are then used one after the other instead
    // of one on top of the other. The deepest stack a connection's thread
    // ever touches stays resident for its whole life, so this is memory
    // for every idle client (see BENCHMARKS.md, "10 000 idle clients").
    #[inline(never)]
    fn come_online(&mut self) -> io::Result<Option<Session>> {
        let mut strikes = 0;
        let mut first = true;
        loop {
            let Some(name) = self.handshake(&mut first, &mut strikes)? else {
                return Ok(None);
            };
            let outbox = Arc::clone(&self.outbox);
            let connection = (Frontend::Terminal, outbox);
            match login::enter(self.ctx, &name, self.id, self.addr, connection) {
                Ok(session) => return Ok(Some(session)),
                Err(ChatError::Gone) => return Ok(None),
                Err(refusal) => self.refuse(&refusal)?,
            }
        }
    }

    /// Tells the client why the registry refused its name.
    #[inline(never)] // rare: its `Event` stays out of `come_online`'s frame
    fn refuse(&self, refusal: &ChatError) -> io::Result<()> {
        self.send(&Event::Error(refusal.to_string()))
    }

    /// Asks for a name (and a password, for a registered name) until one
    /// may come online; the welcome first, on the `first` call. None if
    /// the client left, ran out of time, or guessed wrong too often.
    #[inline(never)] // see `come_online`
    fn handshake(&mut self, first: &mut bool, strikes: &mut u32) -> io::Result<Option<Name>> {
        let ctx = self.ctx;
        let welcome = welcome(ctx);
        if *first {
            self.send(&welcome)?;
        }
        loop {
            let Some(name) = self.read_handshake_line()? else {
                return Ok(None);
            };
            if std::mem::take(first) && protocol::looks_like_http_request(&name) {
                // A browser, sent here by some page: its headers and body
                // must not become a name and messages. Nothing to say to it.
                log!("client {} sent an HTTP request; closing", self.addr);
                self.outbox.close_after_flush(Shutdown::Both);
                return Ok(None);
            }
            let name = match login::check(ctx, &name) {
                Ok(name) => name,
                Err(banned @ LoginError::Banned(_)) => {
                    log!("client {}: {name} refused: {banned}", self.addr);
                    self.send(&Event::Error(banned.to_string()))?;
                    self.close_gracefully();
                    return Ok(None);
                }
                Err(refused) => {
                    self.send(&Event::Error(refused.to_string()))?;
                    continue;
                }
            };
            if let Name::New(new) = &name {
                match self.sign_up(new)? {
                    SignUp::Created => {}
                    SignUp::Cancelled => continue, // it asked for a name again
                    SignUp::Gone => return Ok(None),
                }
            }
            if let Name::Account(account) = &name {
                match self.ask_password(account, strikes)? {
                    Password::Right => {}
                    Password::Cancelled => {
                        self.send(&welcome)?;
                        continue;
                    }
                    Password::Gone => return Ok(None),
                }
            }
            return Ok(Some(name));
        }
    }

    /// Asks for the password of `account` until it is right, the client
    /// sends `/cancel` (back to the name), or its wrong passwords on this
    /// connection reach [`MAX_STRIKES`] (then the connection is closed).
    /// Every check goes through the server's password throttle first.
    #[inline(never)] // a cold path: its frame stays out of the handshake's
    fn ask_password(&mut self, account: &str, strikes: &mut u32) -> io::Result<Password> {
        let prompt = Event::Notice(format!("{account} is registered; enter your password:"));
        loop {
            self.send(&prompt)?;
            let Some(password) = self.read_handshake_line()? else {
                return Ok(Password::Gone);
            };
            if password.eq_ignore_ascii_case("/cancel") {
                return Ok(Password::Cancelled);
            }
            let attempt = match self.ctx.throttle.begin(self.addr.ip(), account) {
                Ok(attempt) => attempt,
                Err(refused) => {
                    log!(
                        "client {}: password for {account} refused: {refused}",
                        self.addr
                    );
                    self.send(&Event::Error(refused.to_string()))?;
                    continue;
                }
            };
            // Slow on purpose (see `crypto`), and done holding no lock.
            if self.ctx.accounts.verify(account, &password).is_ok() {
                attempt.succeeded();
                return Ok(Password::Right);
            }
            drop(attempt);
            *strikes += 1;
            log!(
                "client {}: wrong password for {account} ({strikes} of {MAX_STRIKES})",
                self.addr
            );
            self.send(&Event::Error("wrong password".to_string()))?;
            if *strikes == MAX_STRIKES {
                log!("client {}: too many wrong passwords; closing", self.addr);
                // Gracefully: the client may have typed ahead, and closing on
                // unread bytes would reset the connection, which can destroy
                // the `! wrong password` it has not read yet.
                self.close_gracefully();
                return Ok(Password::Gone);
            }
        }
    }

    /// Creates the account `name` at the door: a password, twice, until
    /// both agree and pass the rules (only `/cancel` goes back to the name
    /// prompt), then the account.
    #[inline(never)] // a cold path: its frame stays out of the handshake's
    fn sign_up(&mut self, name: &str) -> io::Result<SignUp> {
        let ctx = self.ctx;
        let mut prompt = format!(
            "{name} is not registered; send /cancel to pick another name, or choose a password:"
        );
        let password = loop {
            self.send(&Event::Notice(prompt))?;
            prompt = "choose a password:".to_string();
            let Some(first) = self.read_handshake_line()? else {
                return Ok(SignUp::Gone);
            };
            if first.eq_ignore_ascii_case("/cancel") {
                self.send(&welcome(ctx))?;
                return Ok(SignUp::Cancelled);
            }
            if let Err(e) = Accounts::validate_password(&first) {
                self.send(&Event::Error(e.to_string()))?;
                continue;
            }
            self.send(&Event::Notice("repeat the password:".to_string()))?;
            let Some(second) = self.read_handshake_line()? else {
                return Ok(SignUp::Gone);
            };
            if second == first {
                break first;
            }
            self.send(&Event::Error("the passwords do not match".to_string()))?;
        };
        if ctx.registry.is_online(name) {
            // A guest took the name while we asked: it keeps it.
            self.send(&Event::Error(
                ChatError::Taken(name.to_string()).to_string(),
            ))?;
            self.send(&welcome(ctx))?;
            return Ok(SignUp::Cancelled);
        }
        let created = ctx
            .signups
            .take(self.addr.ip(), Instant::now())
            .map_err(|e| e.to_string())
            // Slow (a hash, a file write), holding no lock.
            .and_then(|()| {
                ctx.accounts
                    .register(name, &password)
                    .map_err(|e| e.to_string())
            });
        if let Err(why) = created {
            self.send(&Event::Error(why))?;
            self.send(&welcome(ctx))?;
            return Ok(SignUp::Cancelled);
        }
        log!("client {}: account {name} created at the door", self.addr);
        self.send(&Event::Notice(format!("account {name} created")))?;
        Ok(SignUp::Created)
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
    fn chat(&mut self, session: Session) -> io::Result<()> {
        // The guard first: from here on, every way out takes the client
        // offline.
        let mut presence = Presence::new(self.ctx.registry, session);
        self.reader.get_mut().clear_deadline()?;
        log!("client {} is {}", self.addr, presence.session.name());
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
