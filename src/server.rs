//! Bind, accept, spawn a thread per client, and shut down cleanly.
//!
//! The accept loop is the classic shape: block in `accept`, hand the new
//! socket to a thread of its own, go back to `accept`. Three details make it
//! robust:
//!
//! - A failed `accept` (out of file descriptors, say) is logged and retried
//!   after a short pause, never a crash and never a busy loop.
//! - A thread that cannot be spawned costs that one connection, not the
//!   server: `thread::Builder::spawn` returns an error instead of panicking.
//! - Shutdown must wake threads that are blocked. `accept` is woken by
//!   connecting to ourselves (std has no other portable way); client threads
//!   blocked in `read` are woken by `shutdown(Both)` on their sockets, which
//!   we keep in a connection table for exactly that purpose, including
//!   sockets still in the handshake that the registry does not know yet.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::accounts::{Accounts, AccountsOpenError};
use crate::admission::{Admission, AdmissionError, Hangup, Signups};
use crate::bans::{Bans, BansOpenError, Target};
use crate::config::ServerConfig;
use crate::context::Context;
use crate::event::Event;
use crate::feed::{Feed, FEED_LINES};
use crate::history::{History, HistoryError};
use crate::net::accept::{self, Accepted, Acceptor};
use crate::net::linger::{drain_arrived, linger};
use crate::outbox::{Outbox, Writers};
use crate::registry::{ConnId, Limits, Registry};
use crate::throttle::Throttle;
use crate::web::sessions::Patience;
use crate::web::{self, WebContext};
use crate::{clock, handler, irc, irc_handler, log, protocol};

/// Writer threads, which send what is queued in the clients' outboxes. A
/// writer is busy only for the length of a `write` system call, unless a
/// client's socket is full; a few of them let the others go on meanwhile.
const WRITER_THREADS: usize = 4;

/// How long shutdown waits for the last lines to be sent.
const FLUSH_GRACE: Duration = Duration::from_secs(2);

/// How long shutdown waits for client threads to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    Bind { addr: String, source: io::Error },
    History(HistoryError),
    Accounts(AccountsOpenError),
    Bans(BansOpenError),
    Motd { path: PathBuf, source: io::Error },
    Threads(io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot listen on {addr}: the address is already in use (is another server running?)")
            }
            ServerError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServerError::History(e) => e.fmt(f),
            ServerError::Accounts(e) => e.fmt(f),
            ServerError::Bans(e) => e.fmt(f),
            ServerError::Motd { path, source } => {
                write!(f, "cannot read motd_file {}: {source}", path.display())
            }
            ServerError::Threads(e) => write!(f, "cannot start the server's threads: {e}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind { source, .. } => Some(source),
            ServerError::History(e) => Some(e),
            ServerError::Accounts(e) => Some(e),
            ServerError::Bans(e) => Some(e),
            ServerError::Motd { source, .. } => Some(source),
            ServerError::Threads(e) => Some(e),
        }
    }
}

/// State shared by the accept loops, the client threads and the console.
struct Shared {
    config: ServerConfig,
    registry: Registry,
    accounts: Accounts,
    /// The operator's bans of names and addresses.
    bans: Bans,
    admission: Admission,
    throttle: Throttle,
    /// The browsers logged in through the web page.
    sessions: web::Sessions,
    stopping: AtomicBool,
    /// Where to connect to wake our own `accept` calls.
    wake_addrs: Vec<SocketAddr>,
    /// What the console prints: its replies, and the chat if echoed.
    feed: Arc<Feed>,
    /// Accounts created at the door, per address.
    signups: Signups,
    /// When the server started, for `/status`.
    started: Instant,
}

impl Shared {
    fn context(&self) -> Context<'_> {
        Context {
            registry: &self.registry,
            accounts: &self.accounts,
            bans: &self.bans,
            config: &self.config,
            admission: &self.admission,
            throttle: &self.throttle,
            signups: &self.signups,
        }
    }
}

/// Which protocol a listener speaks.
#[derive(Clone, Copy)]
enum Kind {
    /// The chat protocol, for terminal clients.
    Chat,
    /// HTTP, for the web page.
    Web,
    /// IRC, for IRC clients.
    Irc,
}

/// The web page's accept loop (which hands back its connections' threads
/// when it ends) and its janitor.
type WebThreads = (JoinHandle<Vec<JoinHandle<()>>>, JoinHandle<()>);

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    web_listener: Option<TcpListener>,
    irc_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    writers: Arc<Writers>,
    writer_threads: Vec<JoinHandle<()>>,
}

/// What the console (or a test) can do to a running server.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl Server {
    /// Opens the chat log and the accounts, and binds the listening sockets
    /// (the chat's, the web page's unless `[web]` is disabled, and the IRC
    /// one unless `[irc]` is).
    pub fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let (history, accounts, bans) = open_files(&config)?;
        let (listener, wake_addr) = listen(&config.host, config.port)?;
        let mut wake_addrs = vec![wake_addr];
        let mut optional = |enabled, host: &str, port| match enabled {
            true => {
                let (listener, wake_addr) = listen(host, port)?;
                wake_addrs.push(wake_addr);
                Ok(Some(listener))
            }
            false => Ok::<_, ServerError>(None),
        };
        let web_listener = optional(config.web.enabled, &config.web.host, config.web.port)?;
        let irc_listener = optional(config.irc.enabled, &config.irc.host, config.irc.port)?;
        let (writers, writer_threads) =
            Writers::start(WRITER_THREADS).map_err(ServerError::Threads)?;
        let feed = Arc::new(Feed::new(FEED_LINES));
        let mut registry = Registry::new(
            history,
            Arc::clone(&writers),
            (&config.default_room, &config.irc.name),
            Limits {
                announce_max_members: config.announce_max_members,
                max_rooms_per_client: config.max_rooms_per_client,
                max_rooms: config.max_rooms,
            },
        )
        .with_motd(read_motd(&config)?);
        if config.console_echo {
            registry = registry.with_console(Arc::clone(&feed));
        }
        Ok(Server {
            listener,
            web_listener,
            irc_listener,
            writers,
            writer_threads,
            shared: Arc::new(Shared {
                config,
                registry,
                accounts,
                bans,
                admission: Admission::default(),
                throttle: Throttle::default(),
                sessions: web::Sessions::default(),
                stopping: AtomicBool::new(false),
                wake_addrs,
                feed,
                signups: Signups::default(),
                started: Instant::now(),
            }),
        })
    }

    /// The address we listen on (with the real port when the config said 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The web page's address, if it is enabled.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_listener.as_ref()?.local_addr().ok()
    }

    /// The IRC listener's address, if it is enabled.
    pub fn irc_addr(&self) -> Option<SocketAddr> {
        self.irc_listener.as_ref()?.local_addr().ok()
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Accepts clients until [`ServerHandle::shutdown`] is called, then shuts
    /// down: tells every client, closes every connection, waits (a bounded
    /// time) for the client threads, and flushes the log. The web page, if
    /// enabled, is served by a second accept loop on a thread of its own.
    ///
    /// If the web page's threads cannot be started, nothing is served: the
    /// server shuts down again and says why.
    pub fn run(mut self) -> Result<(), ServerError> {
        let irc = match self.start_irc() {
            Ok(irc) => irc,
            Err(e) => {
                self.shut_down(Vec::new());
                return Err(ServerError::Threads(e));
            }
        };
        let (web, janitor) = match self.start_web() {
            Ok(Some((web, janitor))) => (Some(web), Some(janitor)),
            Ok(None) => (None, None),
            Err(e) => {
                self.handle().shutdown(); // wakes the IRC accept loop, which ends
                if let Some(irc) = irc {
                    let _ = irc.join();
                }
                self.shut_down(Vec::new());
                return Err(ServerError::Threads(e));
            }
        };
        let mut threads = accept_loop(&self.listener, &self.shared, Kind::Chat);
        // The web loop hands back its client threads, to be waited for with
        // ours; the janitor stops by itself within a second.
        for other in [web, irc].into_iter().flatten() {
            if let Ok(their_threads) = other.join() {
                threads.extend(their_threads);
            }
        }
        if let Some(janitor) = janitor {
            let _ = janitor.join();
        }
        self.shut_down(threads);
        Ok(())
    }

    /// Starts the IRC listener's accept loop, if it is enabled.
    fn start_irc(&mut self) -> io::Result<Option<JoinHandle<Vec<JoinHandle<()>>>>> {
        let Some(listener) = self.irc_listener.take() else {
            return Ok(None);
        };
        let shared = Arc::clone(&self.shared);
        let accepting = thread::Builder::new()
            .name("irc accept".into())
            .spawn(move || accept_loop(&listener, &shared, Kind::Irc))?;
        Ok(Some(accepting))
    }

    /// Starts the web page's accept loop and janitor, if it is enabled. If
    /// either cannot start, the other is stopped and the error returned.
    fn start_web(&mut self) -> io::Result<Option<WebThreads>> {
        let Some(listener) = self.web_listener.take() else {
            return Ok(None);
        };
        let shared = Arc::clone(&self.shared);
        let accepting = thread::Builder::new()
            .name("web accept".into())
            .spawn(move || accept_loop(&listener, &shared, Kind::Web))?;
        let shared = Arc::clone(&self.shared);
        let sweeping = thread::Builder::new()
            .name("web janitor".into())
            .spawn(move || end_abandoned_web_sessions(&shared));
        match sweeping {
            Ok(sweeping) => Ok(Some((accepting, sweeping))),
            Err(e) => {
                self.handle().shutdown(); // wakes the web accept loop, which ends
                let _ = accepting.join();
                Err(e)
            }
        }
    }

    fn shut_down(self, threads: Vec<JoinHandle<()>>) {
        log!("shutting down");
        let registry = &self.shared.registry;
        registry.broadcast(&Event::ShuttingDown);
        registry.flush_history();
        // Let the writers send the notice (and anything before it), then
        // close every connection: the client threads' reads return.
        let hangups = self.shared.admission.hangups();
        for hangup in &hangups {
            if let Hangup::Outbox(outbox) = hangup {
                outbox.close_after_flush(Shutdown::Both);
            }
        }
        self.writers.wait_idle(FLUSH_GRACE);
        for hangup in &hangups {
            match hangup {
                Hangup::Outbox(outbox) => outbox.shutdown_now(),
                Hangup::Socket(stream) => {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        for thread in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        self.writers.stop();
        for writer in self.writer_threads {
            let _ = writer.join();
        }
        self.shared.registry.flush_history();
        log!("stopped");
        // The log's own thread writes the last lines before `main` returns.
        log::flush(Duration::from_secs(2));
    }
}

/// The welcome message's lines: `motd`, or the file `motd_file` names.
fn read_motd(config: &ServerConfig) -> Result<Vec<String>, ServerError> {
    let text = match &config.motd_file {
        Some(path) => fs::read_to_string(path).map_err(|source| ServerError::Motd {
            path: path.clone(),
            source,
        })?,
        None => config.motd.clone(),
    };
    Ok(protocol::motd_lines(&text))
}

/// Opens the chat log, the accounts and the bans, logging the lines they
/// skipped (a bans file is never skipped from: see [`bans`](crate::bans)).
fn open_files(config: &ServerConfig) -> Result<(History, Accounts, Bans), ServerError> {
    let (history, warnings) = History::open(
        &config.history_file,
        config.history_replay,
        config.history_max_bytes,
    )
    .map_err(ServerError::History)?;
    for warning in warnings {
        log!("history file {}: {warning}", config.history_file.display());
    }
    let (accounts, warnings) = Accounts::open(&config.accounts_file, config.password_iterations)
        .map_err(ServerError::Accounts)?;
    for warning in warnings {
        let path = config.accounts_file.display();
        log!("accounts file {path}: {warning}");
    }
    let bans = Bans::open(&Bans::path_beside(&config.accounts_file)).map_err(ServerError::Bans)?;
    Ok((history, accounts, bans))
}

/// Binds a listener; returns it with the address that wakes its `accept`.
fn listen(host: &str, port: u16) -> Result<(TcpListener, SocketAddr), ServerError> {
    let addr = format!("{host}:{port}");
    let bind_error = |source| ServerError::Bind {
        addr: addr.clone(),
        source,
    };
    let listener = TcpListener::bind(&addr).map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, accept::wake_address(local)))
}

/// Accepts connections until the server stops; returns the threads of the
/// connections still being served.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, kind: Kind) -> Vec<JoinHandle<()>> {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut acceptor = Acceptor::new(listener);
    loop {
        let accepted = acceptor.next();
        if shared.stopping.load(Ordering::SeqCst) {
            return threads;
        }
        match accepted {
            Accepted::Client(stream, addr) => {
                if let Some(thread) = admit(shared, stream, addr, kind) {
                    threads.push(thread);
                }
                // Forget threads that have finished, so the list stays as
                // long as the number of clients, not of connections.
                threads.retain(|t| !t.is_finished());
            }
            Accepted::TurnAway(stream, addr) => {
                log_refusal(addr, &"out of file descriptors");
                refuse(&stream, kind, &AdmissionError::Full, shared);
            }
            Accepted::Nothing => {}
        }
    }
}

/// Turns a new connection away with one line (an HTTP answer on the web
/// listener; for IRC, a ban is a 465 first). Straight to the socket: it is
/// empty, so this cannot block; then what the client sent at once (an
/// HTTP request, IRC's `NICK`) is read and dropped, so the close is not a
/// reset that could destroy the answer (see [`drain_arrived`]). The
/// connection is closed when the caller drops it.
fn refuse(stream: &TcpStream, kind: Kind, why: &AdmissionError, shared: &Shared) {
    let banned = matches!(why, AdmissionError::Banned(_));
    let text = why.to_string();
    let refusal = match kind {
        Kind::Chat => protocol::error(&text).into_bytes(),
        Kind::Irc if banned => irc::banned(&shared.config.irc.name, "*", &text).into_bytes(),
        Kind::Irc => irc::render::closing_link("*", &text).into_bytes(),
        Kind::Web => {
            use web::http::Status;
            let status = if banned {
                Status::Forbidden
            } else {
                Status::ServiceUnavailable
            };
            web::http::text(status, &protocol::error(&text))
        }
    };
    let mut writer = stream;
    let _ = writer.write_all(&refusal);
    let _ = stream.shutdown(Shutdown::Write);
    drain_arrived(stream);
}

/// Logs a refused connection, at most ten lines a second: a storm of
/// connections must not turn into a storm of log lines.
fn log_refusal(addr: SocketAddr, why: &dyn fmt::Display) {
    static REFUSALS: log::Limited = log::Limited::new();
    match REFUSALS.allow() {
        Some(0) => log!("client {addr} refused: {why}"),
        Some(hidden) => log!("client {addr} refused: {why} (and {hidden} more not shown)"),
        None => {}
    }
}

/// Sets up one accepted connection, admits it, and starts its thread.
fn admit(
    shared: &Arc<Shared>,
    stream: TcpStream,
    addr: SocketAddr,
    kind: Kind,
) -> Option<JoinHandle<()>> {
    let config = &shared.config;
    if let Err(e) = set_up_socket(&stream, config) {
        log!("client {addr}: cannot set up socket: {e}");
        return None;
    }
    // One socket, shared by the client's thread (reading) and its outbox
    // (writing). `&TcpStream` is both `Read` and `Write`, so an `Arc` is
    // enough; `try_clone` would cost a file descriptor per clone.
    let stream = Arc::new(stream);
    let outbox = match kind {
        Kind::Chat | Kind::Irc => {
            let stall_limit = Duration::from_millis(config.write_timeout_ms);
            let limit = config.send_queue_bytes;
            Some(Outbox::new(Arc::clone(&stream), limit, stall_limit))
        }
        Kind::Web => None, // an HTTP connection answers straight on its socket
    };
    let hangup = match &outbox {
        Some(outbox) => Hangup::Outbox(Arc::clone(outbox)),
        None => Hangup::Socket(Arc::clone(&stream)),
    };
    let id = match take_place(shared, addr, hangup, kind) {
        Ok(id) => id,
        Err(refused) => {
            log_refusal(addr, &refused);
            refuse(&stream, kind, &refused, shared);
            return None;
        }
    };
    // Created before the spawn, so that if the spawn fails the closure,
    // and with it this guard, is dropped and the place given back.
    let place = Place {
        shared: Arc::clone(shared),
        id,
    };
    let name = match kind {
        Kind::Chat => format!("client {addr}"),
        Kind::Web => format!("web {addr}"),
        Kind::Irc => format!("irc {addr}"),
    };
    if !matches!(kind, Kind::Web) {
        log!("{name} connected");
    }
    let spawned = thread::Builder::new()
        .name(name)
        .spawn(move || serve(place, stream, (kind, outbox), addr));
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            log!("client {addr}: cannot start a thread: {e}");
            None
        }
    }
}

/// A place in the connection table for a new connection, if the server is
/// open to it and the limits allow.
fn take_place(
    shared: &Shared,
    addr: SocketAddr,
    hangup: Hangup,
    kind: Kind,
) -> Result<ConnId, AdmissionError> {
    // A banned address is turned away on every listener, the web page
    // included: before a thread is spent on it.
    shared
        .bans
        .check_address(addr.ip())
        .map_err(AdmissionError::Banned)?;
    // A new terminal or IRC connection is a newcomer; a web connection
    // may carry the requests of a browser already online (its login is
    // checked in `web`).
    if let Kind::Chat | Kind::Irc = kind {
        shared.admission.check_open()?;
    }
    shared.admission.admit(addr.ip(), hangup, &shared.config)
}

/// The socket options every accepted connection gets.
fn set_up_socket(stream: &TcpStream, config: &ServerConfig) -> io::Result<()> {
    // Chat lines are small and should leave now: without this, Nagle's
    // algorithm holds a small write back until the previous one is
    // acknowledged, and latency sits near 40 ms.
    stream.set_nodelay(true)?;
    // An HTTP answer is written by the request's own thread, which may wait
    // this long; a chat connection's outbox sets a much shorter timeout of
    // its own (see `outbox::WRITE_ATTEMPT`).
    stream.set_write_timeout(Some(Duration::from_millis(config.write_timeout_ms)))
}

/// One connection's thread: the terminal handler, the IRC handler, or one
/// HTTP request.
fn serve(
    place: Place,
    stream: Arc<TcpStream>,
    (kind, outbox): (Kind, Option<Arc<Outbox>>),
    addr: SocketAddr,
) {
    let shared = &place.shared;
    let ctx = shared.context();
    match (kind, outbox) {
        (Kind::Chat, Some(outbox)) => {
            if let Err(e) = handler::run(stream, outbox, place.id, addr, &ctx) {
                log!("client {addr}: {e}");
            }
        }
        (Kind::Irc, Some(outbox)) => {
            if let Err(e) = irc_handler::run(stream, outbox, place.id, addr, &ctx) {
                log!("irc {addr}: {e}");
            }
        }
        _ => {
            let web = WebContext {
                chat: ctx,
                sessions: &shared.sessions,
            };
            web::serve(Arc::clone(&stream), addr, &web);
            // The request is answered: give the place back before the
            // lingering drain (up to a second), so a browser's next request
            // finds it free.
            drop(place);
            linger(&stream);
        }
    }
}

/// Logs out browsers that logged in but never opened their event stream,
/// or whose stream dropped and did not come back within the grace period,
/// once a second, until the server stops.
fn end_abandoned_web_sessions(shared: &Shared) {
    let patience = Patience {
        first_stream: Duration::from_secs(shared.config.handshake_timeout_secs),
        reconnect: Duration::from_secs(shared.config.web.reconnect_grace_secs),
    };
    while !shared.stopping.load(Ordering::SeqCst) {
        let ctx = shared.context();
        shared.sessions.sweep(&ctx, patience);
        thread::sleep(Duration::from_secs(1));
    }
}

/// A connection's place in the admission table, given back when its
/// thread ends (however it ends).
struct Place {
    shared: Arc<Shared>,
    id: ConnId,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.shared.admission.release(self.id);
    }
}

impl ServerHandle {
    /// Asks the accept loop to stop, and wakes it.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // `accept` blocks until a connection arrives, so make one to each
        // listener. If it fails the listener is gone anyway.
        for addr in &self.shared.wake_addrs {
            accept::wake(*addr);
        }
    }

    /// `[server] text` to everyone online.
    pub(crate) fn say(&self, text: &str) {
        let said = Event::ServerSaid(text.to_string());
        self.shared.registry.broadcast(&said);
    }

    /// `[DM] server: text` to `to`.
    pub(crate) fn direct(&self, to: &str, text: &str) -> Result<String, String> {
        let registry = &self.shared.registry;
        registry
            .direct_from_operator(to, text)
            .map_err(|e| e.to_string())?;
        Ok(format!("sent to {to}"))
    }

    pub(crate) fn kick(&self, name: &str, reason: Option<&str>) -> Result<String, String> {
        self.shared
            .registry
            .kick(name, reason)
            .map_err(|e| e.to_string())?;
        log!("console: kicked {name}");
        Ok(format!("kicked {name}"))
    }

    /// Bans `target` for `minutes` (None: for good), saved to the bans
    /// file first; then everyone online it matches is disconnected, told
    /// the ban (after `reason`, for `/kick --ban`), and for an address
    /// every other connection from it is closed too (those still in the
    /// handshake are closed without a word).
    pub(crate) fn ban(
        &self,
        target: &Target,
        minutes: Option<u32>,
        reason: Option<&str>,
    ) -> Result<String, String> {
        let shared = &self.shared;
        let banned = shared
            .bans
            .ban(target.clone(), minutes)
            .map_err(|e| format!("cannot save the bans file: {e}"))?;
        let told = match reason {
            Some(reason) => format!("{reason}; {banned}"),
            None => banned.to_string(),
        };
        let kicked = Event::Kicked { reason: Some(told) };
        let matches = |name: &str, ip| target.matches(Some(name), Some(ip));
        let gone = (shared.registry).kick_where(matches, &kicked, "Banned by the operator");
        if let Target::Address(ip) = target {
            shared.admission.close_from(*ip);
        }
        let how_long = banned.how_long();
        log!("console: banned {target} {how_long}");
        Ok(match gone.is_empty() {
            true => format!("banned {target} {how_long}"),
            false => format!(
                "banned {target} {how_long}; disconnected {}",
                gone.join(", ")
            ),
        })
    }

    /// Lifts the ban of `target`.
    pub(crate) fn unban(&self, target: &Target) -> Result<String, String> {
        let lifted = self.shared.bans.unban(target);
        match lifted.map_err(|e| format!("cannot save the bans file: {e}"))? {
            true => {
                log!("console: lifted the ban of {target}");
                Ok(format!("{target} is no longer banned"))
            }
            false => Err(format!("{target} is not banned")),
        }
    }

    /// `bans: bob until 14:05 UTC, 10.0.0.7 permanently`, or `bans: none`.
    pub(crate) fn bans_line(&self) -> String {
        let bans = self.shared.bans.list();
        if bans.is_empty() {
            return "bans: none".to_string();
        }
        let each: Vec<String> = bans
            .iter()
            .map(|(target, banned)| format!("{target} {}", banned.how_long()))
            .collect();
        format!("bans: {}", each.join(", "))
    }

    /// Where the console's replies, and the echoed chat, wait for stdout.
    pub(crate) fn feed(&self) -> Arc<Feed> {
        Arc::clone(&self.shared.feed)
    }

    /// `* online: alice, bob`, as a terminal would see it.
    pub(crate) fn users_line(&self) -> String {
        match self.shared.registry.users(None) {
            Ok(users) => protocol::render(&users),
            Err(e) => protocol::error(e), // without a room this cannot happen
        }
    }

    /// `* rooms: #dev (1), #general (3)`, as a terminal would see it.
    pub(crate) fn rooms_line(&self) -> String {
        protocol::render(&self.shared.registry.rooms())
    }

    /// Creates an account, even when registration is closed to users; but
    /// not for a name a guest is using now: that guest would hold an
    /// account without knowing its password. Checked just before, not
    /// under the registry lock: a guest who takes the name in between is
    /// simply the next `/kick`.
    pub(crate) fn register(&self, name: &str, password: &str) -> Result<String, String> {
        protocol::validate_name(name).map_err(|e| e.to_string())?;
        if self.shared.registry.is_online(name) {
            return Err(format!("{name} is online as a guest; /kick them first"));
        }
        let accounts = &self.shared.accounts;
        accounts
            .register(name, password)
            .map_err(|e| e.to_string())?;
        log!("console: registered {name}");
        Ok(format!("{name} is now registered"))
    }

    /// Sets a new password for an account (a forgotten one).
    pub(crate) fn reset_password(&self, name: &str, password: &str) -> Result<String, String> {
        let accounts = &self.shared.accounts;
        accounts
            .reset_password(name, password)
            .map_err(|e| e.to_string())?;
        log!("console: set a new password for {name}");
        Ok(format!("new password set for {name}"))
    }

    /// Deletes an account; its owner, if online, stays online as a guest.
    pub(crate) fn unregister(&self, name: &str) -> Result<String, String> {
        let removed = self
            .shared
            .accounts
            .remove(name)
            .map_err(|e| e.to_string())?;
        log!("console: unregistered {removed}");
        Ok(format!("{removed} is no longer registered"))
    }

    /// Renames an account and, if online, its user (or a guest who is
    /// online: a squatted name is freed that way too).
    pub(crate) fn rename(&self, old: &str, new: &str) -> Result<String, String> {
        let (registry, accounts) = (&self.shared.registry, &self.shared.accounts);
        protocol::validate_name(new).map_err(|e| e.to_string())?;
        let registered = accounts.is_registered(old);
        // Someone else's registered name stays theirs, as with `/nick`.
        let allowed = |new: &str| {
            let own = protocol::name_key(new) == protocol::name_key(old);
            own || !accounts.is_registered(new)
        };
        let online = registry
            .rename_online(old, new, allowed)
            .map_err(|e| e.to_string())?;
        if registered {
            accounts.rename(old, new).map_err(|e| e.to_string())?;
        } else if !online {
            return Err(format!("{old} is neither registered nor online"));
        }
        log!("console: renamed {old} to {new}");
        let what = match (registered, online) {
            (true, true) => "account and user",
            (true, false) => "account",
            _ => "user",
        };
        Ok(format!("{what} {old} renamed to {new}"))
    }

    /// Refuses newcomers (`true`) or lets them in again; the reply.
    pub(crate) fn set_closed(&self, closed: bool) -> String {
        let changed = self.shared.admission.set_closed(closed);
        let state = if closed { "closed to" } else { "open to" };
        if changed {
            log!("console: the server is now {state} new connections");
        }
        let already = if changed { "" } else { "already " };
        format!("the server is {already}{state} new connections")
    }

    /// One line for `/status`.
    pub(crate) fn status(&self) -> String {
        let shared = &self.shared;
        let counts = shared.registry.counts();
        let open = match shared.admission.check_open() {
            Ok(()) => "open",
            Err(_) => "closed",
        };
        format!(
            "status: {open}; up {}; online: {} terminal, {} web, {} irc; connections: {}; \
             accounts: {}; rooms: {}; messages since start: {}",
            clock::span(shared.started.elapsed().as_secs()),
            counts.terminals,
            counts.browsers,
            counts.irc,
            shared.admission.open_count(),
            shared.accounts.names().len(),
            counts.rooms,
            counts.messages,
        )
    }

    /// The registered names, sorted.
    pub(crate) fn account_names(&self) -> Vec<String> {
        self.shared.accounts.names()
    }
}
