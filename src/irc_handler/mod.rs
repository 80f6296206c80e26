//! One IRC client's life, on its own thread: registration, the read loop
//! (with fakelag and keep-alive `PING`s), dispatch, clean-up.
//!
//! The shape is the terminal handler's ([`handler`](crate::handler)): a
//! thread per connection that owns the reading half and blocks in `read`,
//! every line out queued in the client's outbox, a [`Presence`] guard that
//! takes the client offline on every way out. What IRC adds:
//!
//! - **Registration** instead of a name prompt: the pure state machine of
//!   [`irc::registration`](crate::irc::registration) decides when `NICK`,
//!   `USER` (and `CAP END`) are in; then the shared login rules
//!   ([`login`]) decide whether the nick may be had.
//! - **Fakelag** instead of dropping: a line over the rate limit waits
//!   ([`RateLimiter::delay`]) and is then carried out, so a client's
//!   burst is answered in order. Meanwhile its further lines wait in the
//!   socket; a client more than [`MAX_LINES_BEHIND`] lines behind is
//!   closed with `Excess Flood`, as IRC servers do.
//! - **Keep-alive**: a client silent for `ping_secs` is sent a `PING`; one
//!   that stays silent as long again is closed (`Ping timeout`). A read
//!   timeout on the socket is the timer: no thread of its own is needed.
//!
//! Commands are carried out in [`dispatch`]; the questions (`WHO`,
//! `WHOIS`, `LIST`, `MODE`...) are answered in [`queries`].

mod dispatch;
mod moderation;
mod queries;

use std::io::{self, BufReader, ErrorKind};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::event::Frontend;
use crate::irc::message::{line, Message, MAX_LINE};
use crate::irc::numeric;
use crate::irc::registration::{Registration, Step};
use crate::irc::render::closing_link;
use crate::log;
use crate::login::{self, LoginError, Name, MAX_STRIKES};
use crate::net::deadline::DeadlineReader;
use crate::net::linger::linger;
use crate::net::{read_line_capped, LineRead};
use crate::outbox::{Closed, Outbox};
use crate::rate::RateLimiter;
use crate::registry::{ChatError, ConnId, Presence, Session};

/// How many lines a client may be behind (sent, not yet carried out)
/// before it is closed for flooding.
pub(crate) const MAX_LINES_BEHIND: usize = 64;

/// The read buffer: one IRC line fits.
const READ_BUFFER: usize = MAX_LINE;

/// One IRC connection, as its thread sees it.
struct Connection<'a> {
    ctx: &'a Context<'a>,
    id: ConnId,
    addr: SocketAddr,
    outbox: Arc<Outbox>,
    reader: BufReader<DeadlineReader>,
    /// Scratch space for [`read_line_capped`], reused for every line.
    buf: Vec<u8>,
}

/// What became of one try to bring the registered nick online.
enum LogIn {
    Online(Session),
    /// The client was told why not, and may send another `NICK`.
    Retry,
    /// The connection was closed.
    Closed,
}

/// What the read loop got from an online client.
enum Next {
    Line(String),
    /// Nothing to carry out (a `PING` was sent, a bad line answered).
    Skip,
    /// The connection ends.
    End,
}

/// What became of one command of an online client.
enum Flow {
    Continue,
    /// The client sent `QUIT`, with this reason.
    Quit(String),
    /// The client is no longer online (kicked, or cut off).
    Gone,
}

/// Serves one IRC client until it quits, disconnects, or is removed.
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
    let Some(session) = conn.register()? else {
        return Ok(());
    };
    let presence = Presence::new(ctx.registry, session);
    conn.reader.get_mut().clear_deadline()?;
    let ping = Duration::from_secs(ctx.config.irc.ping_secs);
    conn.stream().set_read_timeout(Some(ping))?;
    log!("irc {addr} is {}", presence.session.name());
    conn.chat(presence)
}

impl Connection<'_> {
    fn server(&self) -> &str {
        &self.ctx.config.irc.name
    }

    fn stream(&self) -> &TcpStream {
        self.reader.get_ref().stream()
    }

    /// Queues lines for this client (replies; the registry queues the
    /// chat into the same outbox, so one order holds for both).
    fn send(&self, lines: &str) -> io::Result<()> {
        self.outbox
            .send(self.ctx.registry.writers(), lines.as_bytes())
            .map_err(|Closed| io::Error::new(ErrorKind::BrokenPipe, "the connection is closing"))
    }

    /// Sends `ERROR :Closing link: ...` and closes once it is out.
    fn close_with(&self, nick: &str, why: &str) {
        self.close_after(&closing_link(nick, why));
    }

    /// Sends the last `lines` and closes once they are out.
    fn close_after(&self, lines: &str) {
        let _ = self.send(lines);
        self.outbox.close_after_flush(Shutdown::Write);
        linger(self.stream());
    }

    fn read_line(&mut self) -> io::Result<LineRead> {
        // IRC's limit: 512 bytes with the CRLF, so 511 before the `\n`.
        read_line_capped(&mut self.reader, MAX_LINE - 1, &mut self.buf)
    }

    /// Registers the client: messages through the state machine until it
    /// is online. None if it left, ran out of time, or guessed wrong too
    /// often.
    #[inline(never)] // see `handler::Connection::chat`
    fn register(&mut self) -> io::Result<Option<Session>> {
        let mut registration = Registration::default();
        let mut strikes = 0;
        loop {
            let Some(line) = self.read_registration_line(&registration)? else {
                return Ok(None);
            };
            let Some(msg) = Message::parse(&line) else {
                continue;
            };
            match registration.step(&msg, self.server()) {
                Step::Nothing => {}
                Step::Reply(lines) => self.send(&lines)?,
                Step::Quit => {
                    self.close_with(registration.target(), "Quit");
                    return Ok(None);
                }
                Step::Ready => match self.log_in(&mut registration, &mut strikes)? {
                    LogIn::Online(session) => return Ok(Some(session)),
                    LogIn::Closed => return Ok(None),
                    LogIn::Retry => {}
                },
            }
        }
    }

    /// The next line before registration. None if the client left, ran
    /// out of time, or sent something that is not UTF-8.
    fn read_registration_line(&mut self, reg: &Registration) -> io::Result<Option<String>> {
        loop {
            let read = match self.read_line() {
                Ok(read) => read,
                Err(e) if is_timeout(&e) => {
                    log!("irc {} did not register in time; closing", self.addr);
                    self.close_with(reg.target(), "Registration timeout");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            match read {
                LineRead::Eof | LineRead::Torn => return Ok(None),
                LineRead::TooLong => self.send(&self.too_long(reg.target()))?,
                LineRead::NotUtf8 => {
                    // We keep no byte we cannot show to everyone; a client
                    // that does not speak UTF-8 is told so at once.
                    self.close_with(reg.target(), "Messages must be UTF-8");
                    return Ok(None);
                }
                LineRead::Line(line) => return Ok(Some(line)),
            }
        }
    }

    /// 417: the line was over 512 bytes, and was skipped.
    fn too_long(&self, you: &str) -> String {
        numeric(self.server(), "417", you, &["Input line was too long"])
    }

    /// Tries to bring the registered nick online, by the shared login
    /// rules: a name online anywhere is taken, a registered one needs its
    /// password (sent with `PASS`).
    fn log_in(&mut self, reg: &mut Registration, strikes: &mut u32) -> io::Result<LogIn> {
        let ctx = self.ctx;
        let nick = reg.nick().unwrap_or("*").to_string();
        let name = match login::check(ctx, &nick) {
            Ok(name) => name,
            Err(LoginError::AccountsOnly) => {
                self.close_with(&nick, "this server requires an account; ask the operator");
                return Ok(LogIn::Closed);
            }
            Err(LoginError::Banned(banned)) => {
                log!("irc {}: {nick} refused: {banned}", self.addr);
                self.close_after(&crate::irc::banned(
                    self.server(),
                    &nick,
                    &banned.to_string(),
                ));
                return Ok(LogIn::Closed);
            }
            Err(refused) => return self.refuse_nick(reg, &nick, &refused.to_string()),
        };
        if let Name::New(new) = &name {
            // Sign-up at the door is a terminal and web page affair: an IRC
            // client has no prompt to choose a password at.
            let why = format!("{new} is not registered; create an account first");
            self.close_with(&nick, &why);
            return Ok(LogIn::Closed);
        }
        if let Name::Account(account) = &name {
            let Some(password) = reg.password() else {
                let why = format!("{account} is registered; send PASS <password> first");
                return self.refuse_nick(reg, &nick, &why);
            };
            // The same throttle as every other way in (see `throttle`).
            let attempt = match ctx.throttle.begin(self.addr.ip(), account) {
                Ok(attempt) => attempt,
                Err(refused) => return self.throttled(reg, &refused.to_string()),
            };
            // Slow on purpose (see `crypto`), and done holding no lock.
            if ctx.accounts.verify(account, password).is_err() {
                return self.wrong_password(reg, account, strikes);
            }
            attempt.succeeded();
        }
        let connection = (Frontend::Irc, Arc::clone(&self.outbox));
        match login::enter(ctx, &name, self.id, self.addr, connection) {
            Ok(session) => {
                let _ = ctx
                    .registry
                    .set_user(&session, reg.username(), reg.realname());
                Ok(LogIn::Online(session))
            }
            Err(ChatError::Gone) => Ok(LogIn::Closed),
            Err(ChatError::Taken(_)) => self.refuse_nick(reg, &nick, "Nickname is already in use"),
            Err(refused) => self.refuse_nick(reg, &nick, &refused.to_string()),
        }
    }

    /// 433: the nick cannot be had; the client may send another.
    fn refuse_nick(&mut self, reg: &mut Registration, nick: &str, why: &str) -> io::Result<LogIn> {
        reg.refuse_nick();
        self.send(&numeric(self.server(), "433", "*", &[nick, why]))?;
        Ok(LogIn::Retry)
    }

    /// 464 with the throttle's answer (too many attempts, or busy): no
    /// strike, since no password was checked; the client may try again.
    fn throttled(&mut self, reg: &mut Registration, why: &str) -> io::Result<LogIn> {
        reg.forget_password();
        reg.refuse_nick();
        self.send(&numeric(self.server(), "464", "*", &[why]))?;
        Ok(LogIn::Retry)
    }

    /// 464, and a strike; the last strike closes the connection.
    fn wrong_password(
        &mut self,
        reg: &mut Registration,
        account: &str,
        strikes: &mut u32,
    ) -> io::Result<LogIn> {
        *strikes += 1;
        log!(
            "irc {}: wrong password for {account} ({strikes} of {MAX_STRIKES})",
            self.addr
        );
        reg.forget_password();
        reg.refuse_nick();
        self.send(&numeric(self.server(), "464", "*", &["Password incorrect"]))?;
        if *strikes == MAX_STRIKES {
            log!("irc {}: too many wrong passwords; closing", self.addr);
            self.close_with(account, "Too many wrong passwords");
            return Ok(LogIn::Closed);
        }
        Ok(LogIn::Retry)
    }

    /// The read loop of an online client: one line, one command, until it
    /// quits, disconnects, is removed, floods, or stops answering.
    #[inline(never)]
    fn chat(&mut self, mut presence: Presence) -> io::Result<()> {
        let config = self.ctx.config;
        let mut limiter = RateLimiter::new(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
            Instant::now(),
        );
        let mut pinged = false;
        loop {
            let nick = presence.session.name().to_string();
            let line = match self.next_line(&nick, &mut pinged)? {
                Next::Line(line) => line,
                Next::Skip => continue,
                Next::End => return Ok(()),
            };
            let wait = limiter.delay(Instant::now());
            if !wait.is_zero() {
                if self.lines_behind() > MAX_LINES_BEHIND {
                    log!("irc {} ({nick}) closed: excess flood", self.addr);
                    presence.reason = "Excess Flood".to_string();
                    drop(presence);
                    self.close_with(&nick, "Excess Flood");
                    return Ok(());
                }
                thread::sleep(wait);
            }
            let Some(msg) = Message::parse(&line) else {
                continue;
            };
            match dispatch::run(self, &msg, &mut presence.session) {
                Flow::Continue => {}
                Flow::Gone => return Ok(()),
                Flow::Quit(reason) => {
                    log!("irc {} ({nick}) quit", self.addr);
                    let nick = presence.session.name().to_string();
                    presence.reason = reason.clone();
                    drop(presence); // tell the rooms before we close
                    self.close_with(&nick, &reason);
                    return Ok(());
                }
            }
        }
    }

    /// The next line of an online client. Pings a client that has been
    /// silent, and closes one that stayed so.
    fn next_line(&mut self, nick: &str, pinged: &mut bool) -> io::Result<Next> {
        let read = match self.read_line() {
            Ok(read) => read,
            // Silent for `ping_secs`. A client silent in the middle of a
            // line (the scratch buffer holds its start) is as dead as one
            // that does not answer our PING.
            Err(e) if is_timeout(&e) && !*pinged && self.buf.is_empty() => {
                *pinged = true;
                self.send(&line("", "PING", &[self.server()]))?;
                return Ok(Next::Skip);
            }
            Err(e) if is_timeout(&e) => {
                let secs = self.ctx.config.irc.ping_secs;
                log!("irc {} ({nick}) closed: ping timeout", self.addr);
                self.close_with(nick, &format!("Ping timeout: {secs} seconds"));
                return Ok(Next::End);
            }
            Err(e) => return Err(e),
        };
        *pinged = false;
        match read {
            LineRead::Eof | LineRead::Torn => {
                log!("irc {} ({nick}) disconnected", self.addr);
                Ok(Next::End)
            }
            LineRead::TooLong => {
                self.send(&self.too_long(nick))?;
                Ok(Next::Skip)
            }
            LineRead::NotUtf8 => {
                let why = "Your message was not UTF-8 and was dropped";
                self.send(&line(self.server(), "NOTICE", &[nick, why]))?;
                Ok(Next::Skip)
            }
            LineRead::Line(line) => Ok(Next::Line(line)),
        }
    }

    /// How many lines this client has sent that we have not read yet: in
    /// our buffer, and in the socket's (looked at with `peek`, which takes
    /// nothing out). Only asked when the client is over its rate.
    fn lines_behind(&self) -> usize {
        let buffered = self.reader.buffer();
        let mut behind = buffered.iter().filter(|b| **b == b'\n').count();
        let mut socket = [0u8; 8192];
        let stream = self.stream();
        let ping = stream.read_timeout().ok().flatten();
        if stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .is_ok()
        {
            if let Ok(n) = stream.peek(&mut socket) {
                behind += socket[..n].iter().filter(|b| **b == b'\n').count();
            }
            let _ = stream.set_read_timeout(ping);
        }
        behind
    }
}

/// Whether a read failed because its timeout or deadline passed.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}
