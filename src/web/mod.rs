//! The web page: a second listener, speaking HTTP, so a browser can chat
//! beside the terminal clients.
//!
//! A browser is just another client. It speaks the same line protocol,
//! carried over HTTP, and its session is one more entry in the registry, so
//! every rule (names, accounts, rooms, rate limit, history) holds for it
//! unchanged:
//!
//! - `POST /api/login` (form: `name`, `password`) runs the same login rules
//!   as the terminal handshake ([`login`](crate::login::check)) and answers a
//!   random session token.
//! - `GET /api/events?token=...` is a Server-Sent Events stream: the lines
//!   the session receives, one event each. Until the browser opens it, lines
//!   wait in the session's outbox, so the hello line and the history replay
//!   are never missed. The thread serving it blocks reading the socket: the
//!   browser never sends anything, so the read returns only when the tab is
//!   closed, and then the session leaves like a disconnected client. Every
//!   15 seconds of quiet we write a comment line; a write to a tab that
//!   vanished without a goodbye fails, and that ends the session too.
//! - `POST /api/send` (form: `token`, `line`) hands one line to the same
//!   code as a terminal's line ([`commands::handle_line`]).
//!
//! Before any of that, a request must be for this page ([`origin`]): its
//! `Host` must name this listener (or 421), and a POST must not come from
//! another site's page (or 403).
//!
//! Every HTTP connection gets a thread of its own, like a terminal client,
//! and counts against `max_clients` and `max_clients_per_ip` while it lasts;
//! so does every session, from login to logout. The parsing
//! is in [`http`], pure and unit-tested; the page itself is three files in
//! `src/web/`, compiled into the binary.

pub(crate) mod http;
pub(crate) mod origin;

use std::collections::HashMap;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::accounts::Accounts;
use crate::admission::Hangup;
use crate::commands::{self, Outcome};
use crate::context::Context;
use crate::crypto;
use crate::frontend::Frontend;
use crate::lock::lock;
use crate::log;
use crate::login::{self, LoginError, Name};
use crate::net::deadline::DeadlineReader;
use crate::net::LineRead;
use crate::outbox::Outbox;
use crate::protocol;
use crate::rate::RateLimiter;
use crate::registry::{ChatError, ConnId, Session};
use crate::throttle::ThrottleError;
use http::{Request, Status};

/// The page, compiled in: no files to find at run time.
const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// How long a client may take to send one whole request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Quiet time on an event stream before a keepalive comment is written.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// One browser's chat session.
struct WebSession {
    token: String,
    /// Its entry in the connection table, held from login to logout.
    id: ConnId,
    addr: SocketAddr,
    /// The registry session and its rate limit. Behind a lock because
    /// `/nick` changes the name, and so that one browser's requests take
    /// turns as a terminal's lines do.
    chat: Mutex<(Session, RateLimiter)>,
    /// Where the session's lines wait for, then go to, the event stream.
    outbox: Arc<Outbox>,
    /// An event stream is (or was) connected.
    attached: AtomicBool,
    created: Instant,
}

impl WebSession {
    fn chat(&self) -> MutexGuard<'_, (Session, RateLimiter)> {
        lock(&self.chat, "web session")
    }
}

/// The logged-in browsers, by token.
#[derive(Default)]
pub(crate) struct Sessions {
    /// Protects the token table; held only to look up, insert or remove.
    by_token: Mutex<HashMap<String, Arc<WebSession>>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<WebSession>>> {
        lock(&self.by_token, "web sessions")
    }

    fn get(&self, token: &str) -> Option<Arc<WebSession>> {
        self.lock().get(token).cloned()
    }

    /// Ends a session: it leaves the chat like a disconnected client, its
    /// event stream (if any) is closed once its last lines are sent, and it
    /// gives back its place in the connection table.
    fn end(&self, ctx: &Context, token: &str, why: &str) {
        let Some(web) = self.lock().remove(token) else {
            return;
        };
        let name = {
            let (session, _) = &*web.chat();
            ctx.registry.depart(session, why);
            session.name().to_string()
        };
        web.outbox.close_after_flush(Shutdown::Both);
        ctx.admission.release(web.id);
        log!("web {} ({name}) {why}", web.addr);
    }

    /// Ends sessions whose browser logged in but never opened the event
    /// stream within `limit` (the handshake timeout of the web).
    pub(crate) fn end_abandoned(&self, ctx: &Context, limit: Duration) {
        let abandoned: Vec<String> = self
            .lock()
            .values()
            .filter(|web| !web.attached.load(Ordering::SeqCst) && web.created.elapsed() > limit)
            .map(|web| web.token.clone())
            .collect();
        for token in abandoned {
            let why = "never opened the event stream; logged out";
            self.end(ctx, &token, why);
        }
    }
}

/// What a web request's thread needs: the chat's shared state, and the
/// browsers' sessions.
pub(crate) struct WebContext<'a> {
    pub(crate) chat: Context<'a>,
    pub(crate) sessions: &'a Sessions,
}

/// Serves one HTTP connection: one request, one response (or an event
/// stream for as long as the browser keeps it open).
pub(crate) fn serve(stream: Arc<TcpStream>, addr: SocketAddr, web: &WebContext) {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut reader =
        BufReader::with_capacity(1024, DeadlineReader::new(Arc::clone(&stream), deadline));
    let max_body = http::max_body(web.chat.config.max_line_bytes);
    let request = match http::read_request(&mut reader, max_body) {
        Ok(request) => request,
        Err(e) => {
            if let Some(status) = e.status() {
                log!("web {addr}: {e}");
                respond(&stream, &http::text(status, &protocol::error(&e)));
            }
            return;
        }
    };
    if let Err(response) = check_source(&request, &stream, addr, web) {
        return respond(&stream, &response);
    }
    let response = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/") => http::response(Status::Ok, "text/html", INDEX_HTML.as_bytes()),
        ("GET", "/app.js") => http::response(Status::Ok, "text/javascript", APP_JS.as_bytes()),
        ("GET", "/style.css") => http::response(Status::Ok, "text/css", STYLE_CSS.as_bytes()),
        ("POST", "/api/login") => login(&request, addr, web),
        ("POST", "/api/signup") => signup(&request, addr, web),
        ("POST", "/api/send") => send(&request, web),
        ("GET", "/api/events") => {
            events(&request, &stream, web);
            return;
        }
        (_, "/" | "/app.js" | "/style.css" | "/api/events") => http::method_not_allowed("GET"),
        (_, "/api/login" | "/api/signup" | "/api/send") => http::method_not_allowed("POST"),
        _ => http::text(Status::NotFound, "! not found\n"),
    };
    respond(&stream, &response);
}

/// Refuses a request that is not for this page (see [`origin`]): a `Host`
/// that names another server, or a POST made by another site's page.
fn check_source(
    request: &Request,
    stream: &TcpStream,
    addr: SocketAddr,
    web: &WebContext,
) -> Result<(), Vec<u8>> {
    // The address this connection arrived on: with `host = "0.0.0.0"`
    // that is the one interface the browser used, not "any".
    let local = stream
        .local_addr()
        .map_err(|e| refuse(Status::BadRequest, format!("no local address: {e}")))?;
    let hostnames = &web.chat.config.web.hostnames;
    let host = origin::check_host(request, local, hostnames).map_err(|e| {
        log!("web {addr}: {e}");
        refuse(e.status(), e)
    })?;
    if request.method == "POST" {
        origin::check_origin(request, host).map_err(|e| {
            log!("web {addr}: {e}");
            refuse(Status::Forbidden, e)
        })?;
    }
    Ok(())
}

/// Writes a whole response and ends our side of the connection. (The
/// caller of [`serve`] then lingers, so the answer is not destroyed by a
/// reset when the client is still sending, say the rest of a body we
/// refused as too large.)
fn respond(stream: &TcpStream, response: &[u8]) {
    let mut writer = stream;
    let _ = writer.write_all(response);
    let _ = stream.shutdown(Shutdown::Write);
}

/// A plain-text error answer: one protocol line.
fn refuse(status: Status, why: impl std::fmt::Display) -> Vec<u8> {
    http::text(status, &protocol::error(why))
}

/// The form in a request body, or the answer to give if it is malformed.
fn form(request: &Request) -> Result<Vec<(String, String)>, Vec<u8>> {
    http::parse_form(&request.body).map_err(|e| refuse(Status::BadRequest, e))
}

/// `POST /api/login`: the terminal's handshake, in one request.
fn login(request: &Request, addr: SocketAddr, web: &WebContext) -> Vec<u8> {
    let fields = match form(request) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    // A login is a newcomer; the requests of browsers already online are
    // not, and go on while the server is closed.
    if let Err(closed) = web.chat.admission.check_open() {
        return refuse(Status::ServiceUnavailable, closed);
    }
    let name = protocol::sanitize(http::form_value(&fields, "name").unwrap_or_default());
    // Sanitized like the terminal's password line, so a password set there
    // is the same string here.
    let password = http::form_value(&fields, "password").map(protocol::sanitize);
    let password = password.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let name = match check_name(&web.chat, name.trim(), password, addr) {
        Ok(name) => name,
        Err(response) => return response,
    };
    open_session(web, &name, addr)
}

/// `POST /api/signup` (form: `name`, `password`, `repeat`): the terminal's
/// sign-up at the door, in one request, with the same rules and texts.
/// Success logs the new account in, like `/api/login`.
fn signup(request: &Request, addr: SocketAddr, web: &WebContext) -> Vec<u8> {
    let ctx = &web.chat;
    let fields = match form(request) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if let Err(closed) = ctx.admission.check_open() {
        return refuse(Status::ServiceUnavailable, closed);
    }
    let field = |key| protocol::sanitize(http::form_value(&fields, key).unwrap_or_default());
    let (name, password, repeat) = (field("name"), field("password"), field("repeat"));
    let (name, password, repeat) = (name.trim(), password.trim(), repeat.trim());
    if let Err(e) = protocol::validate_name(name) {
        return refuse(Status::BadRequest, e);
    }
    // A banned name gets no account: it could not log into it anyway.
    if let Err(banned) = ctx.bans.check_name(name) {
        return refuse(Status::Forbidden, banned);
    }
    if !ctx.config.open_registration {
        return refuse(Status::Forbidden, ChatError::RegistrationClosed);
    }
    if let Some(account) = ctx.accounts.registered_name(name) {
        return refuse(Status::Conflict, format!("{account} is already registered"));
    }
    // A guest online under the name keeps it: an account is made for a
    // free name only. (One who takes it in the moment before the account
    // exists wins; the account stays, for its creator to log into later.)
    if ctx.registry.is_online(name) {
        return refuse(Status::Conflict, ChatError::Taken(name.to_string()));
    }
    if let Err(e) = Accounts::validate_password(password) {
        return refuse(Status::BadRequest, e);
    }
    if password != repeat {
        return refuse(Status::BadRequest, "the passwords do not match");
    }
    if let Err(e) = ctx.signups.take(addr.ip(), Instant::now()) {
        return refuse(Status::TooManyRequests, e);
    }
    // Slow (a hash, a file write), on this request's own thread.
    if let Err(e) = ctx.accounts.register(name, password) {
        return refuse(Status::Conflict, e);
    }
    log!("web {addr}: account {name} created");
    open_session(web, &Name::New(name.to_string()), addr)
}

/// Starts a browser's session for a name that passed the login rules, and
/// answers its token.
fn open_session(web: &WebContext, name: &Name, addr: SocketAddr) -> Vec<u8> {
    // 128 bits from the operating system: a token nobody can guess.
    let mut bytes = [0u8; 16];
    if let Err(e) = crypto::os_random(&mut bytes) {
        log!("web {addr}: cannot make a session token: {e}");
        return refuse(
            Status::ServiceUnavailable,
            "no secure random source; try later",
        );
    }
    let token = crypto::to_hex(&bytes);
    match start_session(&web.chat, name, addr, &token) {
        Ok(web_session) => {
            web.sessions
                .lock()
                .insert(token.clone(), Arc::new(web_session));
            http::text(Status::Ok, &token)
        }
        Err(response) => response,
    }
}

/// The login rules, and the password for a registered name.
fn check_name(
    ctx: &Context,
    name: &str,
    password: Option<&str>,
    addr: SocketAddr,
) -> Result<Name, Vec<u8>> {
    let name = login::check(ctx, name).map_err(|refused| {
        let status = match refused {
            LoginError::BadName(_) => Status::BadRequest,
            LoginError::AccountsOnly => Status::Unauthorized,
            LoginError::Banned(_) => Status::Forbidden,
        };
        refuse(status, refused)
    })?;
    if let Name::New(new) = &name {
        // Accounts are created with `/api/signup`, never by logging in.
        let why = format!("{new} is not registered; create an account");
        return Err(refuse(Status::Unauthorized, why));
    }
    if let Name::Account(account) = &name {
        let Some(password) = password else {
            let why = format!("password required for {account}");
            return Err(refuse(Status::Unauthorized, why));
        };
        // The same throttle as the terminal's (see `throttle`).
        let attempt = ctx.throttle.begin(addr.ip(), account).map_err(|refused| {
            log!("web {addr}: password for {account} refused: {refused}");
            let status = match refused {
                ThrottleError::TooMany(_) => Status::TooManyRequests,
                ThrottleError::Busy => Status::ServiceUnavailable,
            };
            refuse(status, refused)
        })?;
        // Slow on purpose, and on this request's own thread, holding no lock.
        if ctx.accounts.verify(account, password).is_err() {
            log!("web {addr}: wrong password for {account}");
            return Err(refuse(Status::Unauthorized, "wrong password"));
        }
        attempt.succeeded();
    }
    Ok(name)
}

/// Takes a place in the connection table and brings the name online, with
/// an outbox that holds its lines until the event stream connects.
fn start_session(
    ctx: &Context,
    name: &Name,
    addr: SocketAddr,
    token: &str,
) -> Result<WebSession, Vec<u8>> {
    let stall_limit = Duration::from_millis(ctx.config.write_timeout_ms);
    let outbox = Outbox::detached(ctx.config.send_queue_bytes, stall_limit);
    // A session holds a place like a terminal connection, from now until
    // it ends: otherwise one address could log in without limit.
    let hangup = Hangup::Outbox(Arc::clone(&outbox));
    let id = ctx
        .admission
        .admit(addr.ip(), hangup, ctx.config)
        .map_err(|refused| {
            log!("web {addr} refused: {refused}");
            refuse(Status::ServiceUnavailable, refused)
        })?;
    let connection = (Frontend::Web, Arc::clone(&outbox));
    let session = login::enter(ctx, name, id, addr, connection).map_err(|e| {
        ctx.admission.release(id);
        match e {
            ChatError::Taken(_) | ChatError::Registered(_) => refuse(Status::Conflict, e),
            _ => refuse(Status::ServiceUnavailable, e),
        }
    })?;
    log!("web {addr} is {}", session.name());
    let config = ctx.config;
    let limiter = RateLimiter::new(
        config.rate_limit_per_sec,
        config.rate_limit_burst,
        Instant::now(),
    );
    Ok(WebSession {
        token: token.to_string(),
        id,
        addr,
        chat: Mutex::new((session, limiter)),
        outbox,
        attached: AtomicBool::new(false),
        created: Instant::now(),
    })
}

/// The session a form or query names with `token`, or the answer to give.
fn session_for(fields: &[(String, String)], web: &WebContext) -> Result<Arc<WebSession>, Vec<u8>> {
    http::form_value(fields, "token")
        .and_then(|token| web.sessions.get(token))
        .ok_or_else(|| refuse(Status::Unauthorized, "unknown or expired session"))
}

/// `POST /api/send`: one line, exactly as a terminal would send it.
fn send(request: &Request, web: &WebContext) -> Vec<u8> {
    let ctx = &web.chat;
    let fields = match form(request) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let web_session = match session_for(&fields, web) {
        Ok(web_session) => web_session,
        Err(response) => return response,
    };
    let Some(line) = http::form_value(&fields, "line") else {
        return refuse(Status::BadRequest, "no line");
    };
    let read = if line.len() > ctx.config.max_line_bytes {
        LineRead::TooLong
    } else {
        LineRead::Line(line.to_string())
    };
    let outcome = {
        let (session, limiter) = &mut *web_session.chat();
        commands::handle_line(read, session, limiter, ctx)
    };
    match outcome {
        Outcome::Continue => http::response(Status::NoContent, "text/plain", b""),
        Outcome::Quit | Outcome::Gone => {
            web.sessions.end(ctx, &web_session.token, "quit");
            http::response(Status::NoContent, "text/plain", b"")
        }
    }
}

/// `GET /api/events`: the session's lines, as long as the browser listens.
fn events(request: &Request, stream: &Arc<TcpStream>, web: &WebContext) {
    let fields = match http::parse_form(request.query.as_bytes()) {
        Ok(fields) => fields,
        Err(e) => return respond(stream, &refuse(Status::BadRequest, e)),
    };
    let web_session = match session_for(&fields, web) {
        Ok(web_session) => web_session,
        Err(response) => return respond(stream, &response),
    };
    if web_session.attached.swap(true, Ordering::SeqCst) {
        return respond(stream, &refuse(Status::Conflict, "already connected"));
    }
    // The head first, straight to the socket; then the outbox starts
    // sending the lines that waited for us.
    let mut writer = &**stream;
    if writer.write_all(&http::event_stream_head()).is_err() {
        web.sessions.end(&web.chat, &web_session.token, "left");
        return;
    }
    web_session
        .outbox
        .attach(web.chat.registry.writers(), Arc::clone(stream));
    let _ = stream.set_read_timeout(Some(KEEPALIVE));
    let mut sink = [0u8; 256];
    let why = loop {
        match (&**stream).read(&mut sink) {
            Ok(0) => break "closed the page",
            Ok(_) => {} // a browser sends nothing here; ignore it
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let writers = web.chat.registry.writers();
                let keepalive = http::SSE_KEEPALIVE.as_bytes();
                if web_session.outbox.send(writers, keepalive).is_err() {
                    break "left";
                }
            }
            Err(_) => break "left",
        }
    };
    web.sessions.end(&web.chat, &web_session.token, why);
}
