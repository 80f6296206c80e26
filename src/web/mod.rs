//! The web page: a second listener, speaking HTTP, so a browser can chat
//! beside the terminal clients.
//!
//! A browser is just another client. Its session is one more entry in the
//! registry, and what it types goes through the same code as a terminal's
//! lines ([`commands`](crate::commands)), so every rule (names, accounts, rooms, rate limit,
//! history) holds for it unchanged. What differs is the wire: events come
//! as JSON objects ([`json`](crate::json)) on a Server-Sent Events stream,
//! rather than as lines meant for people, so the page shows each room in a
//! view of its own without parsing sentences.
//!
//! - `POST /api/login` (form: `name`, `password`) runs the same login rules
//!   as the terminal handshake ([`login`](crate::login::check)) and answers a
//!   random session token; `POST /api/signup` creates an account first.
//! - `GET /api/events?token=...` is the event stream ([`stream`]): the
//!   hello, the replay, then everything the session is told. Until the
//!   browser opens it, events wait in the session's outbox, so nothing is
//!   missed; and a stream that drops can be resumed ([`sessions`]).
//! - `POST /api/send`, `/api/members` and `/api/rooms` ([`api`]): a line
//!   the user typed, and the lists the page asks for by itself.
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

mod api;
pub(crate) mod http;
pub(crate) mod origin;
pub(crate) mod sessions;
mod stream;

use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::accounts::Accounts;
use crate::admission::Hangup;
use crate::context::Context;
use crate::crypto;
use crate::frontend::Frontend;
use crate::json::Object;
use crate::log;
use crate::login::{self, LoginError, Name};
use crate::net::deadline::DeadlineReader;
use crate::outbox::Outbox;
use crate::protocol;
use crate::rate::RateLimiter;
use crate::registry::ChatError;
use crate::throttle::ThrottleError;
use http::{Request, Status};
pub(crate) use sessions::Sessions;
use sessions::{Chat, WebSession};

/// The page, compiled in: no files to find at run time.
const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// How long a client may take to send one whole request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of what a browser's stream was sent is kept for a resume: the
/// events a short drop can lose, at the rates a chat has (a browser that
/// was away for longer is told of the gap).
const RESUME_WINDOW: usize = 64 * 1024;

/// The answer to a request with a token the server does not know (it
/// ended, or the server restarted since).
const UNKNOWN_SESSION: &str = "unknown or expired session";

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
        ("POST", "/api/send") => api::send(&request, web),
        ("POST", "/api/members") => api::members(&request, web),
        ("POST", "/api/rooms") => api::rooms(&request, web),
        ("GET", "/api/events") => {
            stream::events(&request, &stream, web);
            return;
        }
        (_, "/" | "/app.js" | "/style.css" | "/api/events") => http::method_not_allowed("GET"),
        (_, "/api/login" | "/api/signup" | "/api/send" | "/api/members" | "/api/rooms") => {
            http::method_not_allowed("POST")
        }
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

/// An API's error answer: `{"ok":false,"error":"..."}`.
fn refuse_json(status: Status, why: impl std::fmt::Display) -> Vec<u8> {
    let body = Object::new()
        .boolean("ok", false)
        .string("error", &why.to_string())
        .finish();
    http::json(status, &body)
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
            web.sessions.insert(web_session);
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
    let keep = RESUME_WINDOW.min(ctx.config.send_queue_bytes);
    let outbox = Outbox::resumable(ctx.config.send_queue_bytes, stall_limit, keep);
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
    let limiter = || {
        let (per_sec, burst) = (config.rate_limit_per_sec, config.rate_limit_burst);
        RateLimiter::new(per_sec, burst, Instant::now())
    };
    let (limiter, page) = (limiter(), limiter());
    Ok(WebSession {
        token: token.to_string(),
        id,
        addr,
        chat: Mutex::new(Chat {
            session,
            limiter,
            page,
        }),
        outbox,
        attached: AtomicBool::new(false),
        created: Instant::now(),
    })
}

/// The session a form or query names with `token`, or the answer to give.
fn session_for(fields: &[(String, String)], web: &WebContext) -> Result<Arc<WebSession>, Vec<u8>> {
    http::form_value(fields, "token")
        .and_then(|token| web.sessions.get(token))
        .ok_or_else(|| refuse(Status::Unauthorized, UNKNOWN_SESSION))
}
