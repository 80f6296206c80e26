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

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::accounts::{AccountError, Accounts, AccountsOpenError};
use crate::config::ServerConfig;
use crate::handler::Context;
use crate::history::{History, HistoryError};
use crate::outbox::{Outbox, Writers};
use crate::registry::{ChatError, ConnId, Registry};
use crate::web::{self, WebContext};
use crate::{handler, log, protocol};

/// How long `accept` pauses after an error, so a persistent one (no file
/// descriptors left) does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
            ServerError::Threads(e) => write!(f, "cannot start the writer threads: {e}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind { source, .. } => Some(source),
            ServerError::History(e) => Some(e),
            ServerError::Accounts(e) => Some(e),
            ServerError::Threads(e) => Some(e),
        }
    }
}

/// Every open connection and browser session, registered or not, by id.
///
/// Used to hold clients to `max_clients` in all and `max_clients_per_ip`
/// from one address, and to close everything at shutdown. A browser counts
/// twice while its event stream is open: once for its session (from login
/// to logout) and once for the connection carrying the stream.
#[derive(Default)]
pub(crate) struct Connections {
    /// Protects the table. Held only to admit, remove or list.
    table: Mutex<Table>,
}

/// How an entry is closed at shutdown.
#[derive(Clone)]
pub(crate) enum Entry {
    /// A terminal client or a browser session: its last lines are sent
    /// first, then its socket is shut down.
    Outbox(Arc<Outbox>),
    /// An HTTP connection: shut down once the outboxes had their chance
    /// (an event stream's lines go through its session's outbox).
    Socket(Arc<TcpStream>),
}

#[derive(Default)]
struct Table {
    open: HashMap<ConnId, (IpAddr, Entry)>,
    /// How many of `open` come from each address (never 0: removed instead).
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a new client was turned away. `Display` is the text after `! `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turned {
    Full,
    TooManyFromAddress,
}

impl fmt::Display for Turned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Turned::Full => write!(f, "server full"),
            Turned::TooManyFromAddress => write!(f, "too many connections from your address"),
        }
    }
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an entry if the limits allow (0 means no per-address limit).
    pub(crate) fn admit(
        &self,
        id: ConnId,
        ip: IpAddr,
        entry: Entry,
        config: &ServerConfig,
    ) -> Result<(), Turned> {
        let mut table = self.lock();
        if table.open.len() >= config.max_clients {
            return Err(Turned::Full);
        }
        let from_ip = table.per_ip.get(&ip).copied().unwrap_or(0);
        if config.max_clients_per_ip > 0 && from_ip >= config.max_clients_per_ip {
            return Err(Turned::TooManyFromAddress);
        }
        table.open.insert(id, (ip, entry));
        table.per_ip.insert(ip, from_ip + 1);
        Ok(())
    }

    pub(crate) fn remove(&self, id: ConnId) {
        let mut table = self.lock();
        let Some((ip, _)) = table.open.remove(&id) else {
            return;
        };
        match table.per_ip.get_mut(&ip) {
            Some(count) if *count > 1 => *count -= 1,
            _ => {
                table.per_ip.remove(&ip);
            }
        }
    }

    /// Every entry, to close them all.
    fn entries(&self) -> Vec<Entry> {
        self.lock()
            .open
            .values()
            .map(|(_, entry)| entry.clone())
            .collect()
    }
}

/// State shared by the accept loops, the client threads and the console.
struct Shared {
    config: ServerConfig,
    registry: Registry,
    accounts: Accounts,
    connections: Connections,
    /// The browsers logged in through the web page.
    sessions: web::Sessions,
    /// Connection ids are never reused while the server runs.
    next_id: AtomicU64,
    stopping: AtomicBool,
    /// Where to connect to wake our own `accept` calls.
    wake_addrs: Vec<SocketAddr>,
}

impl Shared {
    fn next_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    fn context(&self) -> Context<'_> {
        Context {
            registry: &self.registry,
            accounts: &self.accounts,
            config: &self.config,
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
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    web_listener: Option<TcpListener>,
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
    /// (the chat's, and the web page's unless `[web]` is disabled).
    pub fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let (history, warnings) = History::open(&config.history_file, config.history_replay)
            .map_err(ServerError::History)?;
        for warning in warnings {
            log!("history file {}: {warning}", config.history_file.display());
        }
        let (accounts, warnings) =
            Accounts::open(&config.accounts_file, config.password_iterations)
                .map_err(ServerError::Accounts)?;
        for warning in warnings {
            log!(
                "accounts file {}: {warning}",
                config.accounts_file.display()
            );
        }
        let addr = format!("{}:{}", config.host, config.port);
        let bind_error = |source| ServerError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = TcpListener::bind(&addr).map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let mut wake_addrs = vec![wake_address(local)];
        let web_listener = if config.web.enabled {
            let addr = format!("{}:{}", config.web.host, config.web.port);
            let bind_error = |source| ServerError::Bind {
                addr: addr.clone(),
                source,
            };
            let listener = TcpListener::bind(&addr).map_err(bind_error)?;
            wake_addrs.push(wake_address(listener.local_addr().map_err(bind_error)?));
            Some(listener)
        } else {
            None
        };
        let (writers, writer_threads) =
            Writers::start(WRITER_THREADS).map_err(ServerError::Threads)?;
        let registry = Registry::new(
            history,
            Arc::clone(&writers),
            &config.default_room,
            config.announce_max_members,
        );
        Ok(Server {
            listener,
            web_listener,
            writers,
            writer_threads,
            shared: Arc::new(Shared {
                config,
                registry,
                accounts,
                connections: Connections::default(),
                sessions: web::Sessions::default(),
                next_id: AtomicU64::new(1),
                stopping: AtomicBool::new(false),
                wake_addrs,
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

    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Accepts clients until [`ServerHandle::shutdown`] is called, then shuts
    /// down: tells every client, closes every connection, waits (a bounded
    /// time) for the client threads, and flushes the log. The web page, if
    /// enabled, is served by a second accept loop on a thread of its own.
    pub fn run(mut self) {
        let mut web = None;
        let mut janitor = None;
        if let Some(listener) = self.web_listener.take() {
            let shared = Arc::clone(&self.shared);
            let accepting = thread::Builder::new()
                .name("web accept".into())
                .spawn(move || accept_loop(&listener, &shared, Kind::Web));
            let shared = Arc::clone(&self.shared);
            let sweeping = thread::Builder::new()
                .name("web janitor".into())
                .spawn(move || end_abandoned_web_sessions(&shared));
            match (accepting, sweeping) {
                (Ok(accepting), Ok(sweeping)) => {
                    web = Some(accepting);
                    janitor = Some(sweeping);
                }
                (Err(e), _) | (_, Err(e)) => log!("cannot start the web page's threads: {e}"),
            }
        }
        let mut threads = accept_loop(&self.listener, &self.shared, Kind::Chat);
        // The web loop hands back its client threads, to be waited for with
        // ours; the janitor stops by itself within a second.
        if let Some(Ok(web_threads)) = web.map(JoinHandle::join) {
            threads.extend(web_threads);
        }
        if let Some(janitor) = janitor {
            let _ = janitor.join();
        }
        self.shut_down(threads);
    }

    fn shut_down(self, threads: Vec<JoinHandle<()>>) {
        log!("shutting down");
        let registry = &self.shared.registry;
        registry.broadcast(&protocol::notice("server is shutting down"));
        registry.flush_history();
        // Let the writers send the notice (and anything before it), then
        // close every connection: the client threads' reads return.
        let entries = self.shared.connections.entries();
        for entry in &entries {
            if let Entry::Outbox(outbox) = entry {
                outbox.close_after_flush(Shutdown::Both);
            }
        }
        self.writers.wait_idle(FLUSH_GRACE);
        for entry in &entries {
            match entry {
                Entry::Outbox(outbox) => outbox.shutdown_now(),
                Entry::Socket(stream) => {
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
    }
}

/// Accepts connections until the server stops; returns the threads of the
/// connections still being served.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, kind: Kind) -> Vec<JoinHandle<()>> {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    // A file descriptor kept in reserve. When the process runs out of
    // descriptors, `accept` fails while the kernel keeps completing
    // connections into the listen queue, and those clients would wait with
    // no answer at all. Letting go of the reserve frees one descriptor: we
    // accept one of them, tell it the server is full, close it, and take
    // the reserve back.
    let mut reserve = File::open("/dev/null").ok();
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return threads;
        }
        match accepted {
            Ok((stream, addr)) => {
                if let Some(thread) = admit(shared, stream, addr, kind) {
                    threads.push(thread);
                }
                // Forget threads that have finished, so the list stays as
                // long as the number of clients, not of connections.
                threads.retain(|t| !t.is_finished());
            }
            Err(e) if is_out_of_descriptors(&e) && reserve.is_some() => {
                log!("accept failed: {e}; turning away whoever is waiting");
                drop(reserve.take());
                // Without blocking: Linux fails `accept` with EMFILE before
                // looking at the queue, so there may be nobody waiting; then
                // pause as for any other error, rather than spin.
                match accept_nonblocking(listener) {
                    Some((stream, addr)) => {
                        log!("client {addr} refused: out of file descriptors");
                        refuse(&stream, kind, "server full");
                    }
                    None => thread::sleep(ACCEPT_BACKOFF),
                }
                reserve = File::open("/dev/null").ok();
            }
            Err(e) => {
                log!("accept failed: {e}; retrying");
                thread::sleep(ACCEPT_BACKOFF);
                if reserve.is_none() {
                    reserve = File::open("/dev/null").ok();
                }
            }
        }
    }
}

/// Accepts a connection if one is waiting, without waiting for one.
fn accept_nonblocking(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    listener.set_nonblocking(true).ok()?;
    let accepted = listener.accept();
    // Back to blocking, for the accept loop. (On Linux the accepted socket
    // does not inherit the flag; some systems differ, so clear it anyway.)
    let _ = listener.set_nonblocking(false);
    let (stream, addr) = accepted.ok()?;
    let _ = stream.set_nonblocking(false);
    Some((stream, addr))
}

/// Whether an error means this process (EMFILE) or the whole system
/// (ENFILE) has no file descriptor left. std has no `ErrorKind` for it, so
/// we compare the error numbers, which are 24 and 23 on Linux and the BSDs.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE))
}

/// Turns a new connection away with one line (an HTTP answer on the web
/// listener). Straight to the socket: it is empty, so this cannot block;
/// the connection is closed when the caller drops it.
fn refuse(stream: &TcpStream, kind: Kind, why: &str) {
    let refusal = match kind {
        Kind::Chat => protocol::error(why).into_bytes(),
        Kind::Web => web::http::text(web::http::Status::ServiceUnavailable, &protocol::error(why)),
    };
    let mut writer = stream;
    let _ = writer.write_all(&refusal);
}

/// Sets up one accepted connection and starts its thread.
fn admit(
    shared: &Arc<Shared>,
    stream: TcpStream,
    addr: SocketAddr,
    kind: Kind,
) -> Option<JoinHandle<()>> {
    let config = &shared.config;
    // Chat lines are small and should leave now: without this, Nagle's
    // algorithm holds a small write back until the previous one is
    // acknowledged, and latency sits near 40 ms.
    let setup = stream.set_nodelay(true).and_then(|()| {
        stream.set_write_timeout(Some(Duration::from_millis(config.write_timeout_ms)))
    });
    if let Err(e) = setup {
        log!("client {addr}: cannot set up socket: {e}");
        return None;
    }
    // One socket, shared by the client's thread (reading) and its outbox
    // (writing). `&TcpStream` is both `Read` and `Write`, so an `Arc` is
    // enough; `try_clone` would cost a file descriptor per clone.
    let stream = Arc::new(stream);
    let outbox = match kind {
        Kind::Chat => Some(Outbox::new(Arc::clone(&stream), config.send_queue_bytes)),
        Kind::Web => None, // an HTTP connection answers straight on its socket
    };
    let entry = match &outbox {
        Some(outbox) => Entry::Outbox(Arc::clone(outbox)),
        None => Entry::Socket(Arc::clone(&stream)),
    };
    let id = shared.next_id();
    if let Err(turned) = shared.connections.admit(id, addr.ip(), entry, config) {
        log!("client {addr} refused: {turned}");
        refuse(&stream, kind, &turned.to_string());
        return None;
    }
    // Created before the spawn, so that if the spawn fails the closure,
    // and with it this guard, is dropped and the table entry removed.
    let guard = Forget {
        shared: Arc::clone(shared),
        id,
    };
    let shared = Arc::clone(shared);
    let name = match kind {
        Kind::Chat => {
            log!("client {addr} connected");
            format!("client {addr}")
        }
        Kind::Web => format!("web {addr}"),
    };
    let spawned = thread::Builder::new().name(name).spawn(move || {
        let _guard = guard;
        let ctx = shared.context();
        match outbox {
            Some(outbox) => {
                if let Err(e) = handler::run(stream, outbox, id, addr, &ctx) {
                    log!("client {addr}: {e}");
                }
            }
            None => {
                let next_id = || shared.next_id();
                let web = WebContext {
                    chat: ctx,
                    sessions: &shared.sessions,
                    connections: &shared.connections,
                    next_id: &next_id,
                };
                web::serve(stream, addr, &web);
            }
        }
    });
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            log!("client {addr}: cannot start a thread: {e}");
            None
        }
    }
}

/// Logs out browsers that logged in but never opened their event stream,
/// once a second, until the server stops.
fn end_abandoned_web_sessions(shared: &Shared) {
    let limit = Duration::from_secs(shared.config.handshake_timeout_secs);
    while !shared.stopping.load(Ordering::SeqCst) {
        let ctx = shared.context();
        shared
            .sessions
            .end_abandoned(&ctx, &shared.connections, limit);
        thread::sleep(Duration::from_secs(1));
    }
}

/// Removes a connection from the table when its thread ends.
struct Forget {
    shared: Arc<Shared>,
    id: ConnId,
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.shared.connections.remove(self.id);
    }
}

impl ServerHandle {
    /// Asks the accept loop to stop, and wakes it.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // `accept` blocks until a connection arrives, so make one to each
        // listener. If it fails the listener is gone anyway.
        for addr in &self.shared.wake_addrs {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
    }

    /// `[server] text` to everyone online.
    pub fn say(&self, text: &str) {
        self.shared
            .registry
            .broadcast(&protocol::server_message(text));
    }

    pub fn kick(&self, name: &str, reason: Option<&str>) -> Result<(), ChatError> {
        self.shared.registry.kick(name, reason)
    }

    pub fn users_line(&self) -> String {
        // Without a room this cannot fail.
        self.shared.registry.users_line(None).unwrap_or_default()
    }

    pub fn rooms_line(&self) -> String {
        self.shared.registry.rooms_line()
    }

    /// Creates an account, even when registration is closed to users.
    pub fn register(&self, name: &str, password: &str) -> Result<(), AccountError> {
        self.shared.accounts.register(name, password)
    }

    /// The registered names, sorted.
    pub fn account_names(&self) -> Vec<String> {
        self.shared.accounts.names()
    }
}

/// The address to connect to in order to reach a listener bound to `local`:
/// the wildcard addresses (0.0.0.0, ::) are not connectable, so use loopback.
fn wake_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_woken_through_loopback() {
        let v4: SocketAddr = "0.0.0.0:7878".parse().unwrap();
        assert_eq!(wake_address(v4), "127.0.0.1:7878".parse().unwrap());
        let v6: SocketAddr = "[::]:7878".parse().unwrap();
        assert_eq!(wake_address(v6), "[::1]:7878".parse().unwrap());
        let lan: SocketAddr = "192.0.2.7:7878".parse().unwrap();
        assert_eq!(wake_address(lan), lan);
    }
}
