//! Admission: who may have a connection at all, before any name is asked.
//!
//! Every listener (the terminal protocol, the web page) asks here before it
//! serves a connection: a table of every open connection and browser
//! session, with its address, so the server can hold clients to
//! `max_clients` in all and `max_clients_per_ip` from one address, give
//! each a connection id that is never reused, and close them all at
//! shutdown (including those still in the handshake, which the registry
//! does not know yet).
//!
//! The same table of addresses bounds accounts created at the door
//! ([`Signups`]): three per address per hour, terminal and web together.
//!
//! A browser counts twice while its event stream is open: once for its
//! session (from login to logout) and once for the connection carrying the
//! stream.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::bans::Banned;
use crate::config::ServerConfig;
use crate::lock::lock;
use crate::outbox::Outbox;
use crate::registry::ConnId;

/// How a connection is closed at shutdown.
#[derive(Clone)]
pub(crate) enum Hangup {
    /// A terminal client or a browser session: its last lines are sent
    /// first, then its socket is shut down.
    Outbox(Arc<Outbox>),
    /// An HTTP connection: shut down once the outboxes had their chance
    /// (an event stream's lines go through its session's outbox).
    Socket(Arc<TcpStream>),
}

/// Why a new connection was not admitted. `Display` is the text after `! `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdmissionError {
    Full,
    TooManyFromAddress,
    /// The operator closed the server to newcomers (`/close`).
    Closed,
    /// The operator banned the address (`/ban`).
    Banned(Banned),
}

impl fmt::Display for AdmissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdmissionError::Full => write!(f, "server full"),
            AdmissionError::TooManyFromAddress => {
                write!(f, "too many connections from your address")
            }
            AdmissionError::Closed => write!(f, "the server is closed to new connections"),
            AdmissionError::Banned(banned) => banned.fmt(f),
        }
    }
}

impl std::error::Error for AdmissionError {}

/// The connection table and the source of connection ids.
#[derive(Default)]
pub(crate) struct Admission {
    /// Protects the table. Held only to admit, release or list.
    table: Mutex<Table>,
    /// The last connection id handed out.
    last_id: AtomicU64,
    /// Whether newcomers are refused (the console's `/close`). An atomic,
    /// not under the table's lock: it is read once per new login, and a
    /// login racing with `/close` may go either way.
    closed: AtomicBool,
}

#[derive(Default)]
struct Table {
    open: HashMap<ConnId, (IpAddr, Hangup)>,
    /// How many of `open` come from each address (never 0: removed instead).
    per_ip: HashMap<IpAddr, usize>,
}

impl Admission {
    fn lock(&self) -> MutexGuard<'_, Table> {
        lock(&self.table, "connection table")
    }

    /// Admits a connection from `ip` if the limits allow (0 means no
    /// per-address limit), and gives it a new connection id.
    pub(crate) fn admit(
        &self,
        ip: IpAddr,
        hangup: Hangup,
        config: &ServerConfig,
    ) -> Result<ConnId, AdmissionError> {
        let mut table = self.lock();
        if table.open.len() >= config.max_clients {
            return Err(AdmissionError::Full);
        }
        let from_ip = table.per_ip.get(&ip).copied().unwrap_or(0);
        if config.max_clients_per_ip > 0 && from_ip >= config.max_clients_per_ip {
            return Err(AdmissionError::TooManyFromAddress);
        }
        let id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        table.open.insert(id, (ip, hangup));
        table.per_ip.insert(ip, from_ip + 1);
        Ok(id)
    }

    /// Refuses newcomers (`true`) or accepts them again. Returns whether
    /// that changed anything.
    pub(crate) fn set_closed(&self, closed: bool) -> bool {
        self.closed.swap(closed, Ordering::SeqCst) != closed
    }

    /// Refused if the server is closed to newcomers: asked by a listener
    /// before a new login (a terminal connection, a web login), never for
    /// the requests of someone already online.
    pub(crate) fn check_open(&self) -> Result<(), AdmissionError> {
        match self.closed.load(Ordering::SeqCst) {
            true => Err(AdmissionError::Closed),
            false => Ok(()),
        }
    }

    /// How many connections are open.
    pub(crate) fn open_count(&self) -> usize {
        self.lock().open.len()
    }

    /// Gives back a connection's place.
    pub(crate) fn release(&self, id: ConnId) {
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

    /// Closes every connection from `ip` that has an outbox (the console's
    /// `/ban` of an address), once what is queued for it is sent: those
    /// still in the handshake (without a word), browser sessions, and those
    /// online (already told by the registry). A plain HTTP connection is
    /// left to finish its one request: an event stream's socket is closed
    /// by its session's outbox after the last lines, and shutting it here
    /// would cut them off. (So a web login already under way may still
    /// succeed; a production server would check the ban again at login.)
    pub(crate) fn close_from(&self, ip: IpAddr) {
        let ip = ip.to_canonical();
        let outboxes: Vec<Arc<Outbox>> = self
            .lock()
            .open
            .values()
            .filter(|(from, _)| from.to_canonical() == ip)
            .filter_map(|(_, hangup)| match hangup {
                Hangup::Outbox(outbox) => Some(Arc::clone(outbox)),
                Hangup::Socket(_) => None,
            })
            .collect();
        // Outside the table's lock: each close takes an outbox's lock.
        for outbox in outboxes {
            outbox.close_after_flush(std::net::Shutdown::Both);
        }
    }

    /// How every open connection is closed, to close them all.
    pub(crate) fn hangups(&self) -> Vec<Hangup> {
        self.lock()
            .open
            .values()
            .map(|(_, hangup)| hangup.clone())
            .collect()
    }
}

/// Accounts created at the door per address per [`SIGNUP_WINDOW`].
pub(crate) const SIGNUPS_PER_ADDRESS: usize = 3;
/// The window [`SIGNUPS_PER_ADDRESS`] counts in.
pub(crate) const SIGNUP_WINDOW: Duration = Duration::from_secs(3600);

/// Refused sign-up: `Display` is the text after `! `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManySignups;

impl fmt::Display for TooManySignups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many new accounts from your address; try later")
    }
}

impl std::error::Error for TooManySignups {}

/// When each address last created accounts at the door (terminal or web),
/// so one machine cannot fill the accounts file.
#[derive(Default)]
pub(crate) struct Signups {
    /// Protects the times of recent sign-ups per address. Held for a
    /// lookup and an update, with no other lock.
    recent: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl Signups {
    /// Counts a sign-up from `ip` at `now`, if fewer than
    /// [`SIGNUPS_PER_ADDRESS`] were counted within the window before.
    /// (Counted before the account is made: a failed creation still
    /// costs its place, which errs on the safe side.)
    pub(crate) fn take(&self, ip: IpAddr, now: Instant) -> Result<(), TooManySignups> {
        let mut recent = lock(&self.recent, "sign-ups");
        recent.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < SIGNUP_WINDOW);
            !times.is_empty()
        });
        let times = recent.entry(ip).or_default();
        if times.len() >= SIGNUPS_PER_ADDRESS {
            return Err(TooManySignups);
        }
        times.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    fn hangup() -> Hangup {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let stream = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        Hangup::Socket(Arc::new(stream))
    }

    #[test]
    fn limits_hold_in_all_and_per_address_and_places_come_back() {
        let config = ServerConfig {
            max_clients: 3,
            max_clients_per_ip: 2,
            ..ServerConfig::default()
        };
        let admission = Admission::default();
        let a = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let b = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
        let first = admission.admit(a, hangup(), &config).expect("first");
        let second = admission.admit(a, hangup(), &config).expect("second");
        assert_ne!(first, second);
        assert_eq!(
            admission.admit(a, hangup(), &config),
            Err(AdmissionError::TooManyFromAddress)
        );
        admission
            .admit(b, hangup(), &config)
            .expect("another address");
        assert_eq!(
            admission.admit(b, hangup(), &config),
            Err(AdmissionError::Full)
        );
        admission.release(first);
        let again = admission
            .admit(a, hangup(), &config)
            .expect("a place came back");
        assert!(again > second, "ids are never reused");
        assert_eq!(admission.hangups().len(), 3);
    }

    #[test]
    fn three_sign_ups_per_address_per_hour() {
        let signups = Signups::default();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(signups.take(a, start), Ok(()));
        }
        assert_eq!(signups.take(a, start), Err(TooManySignups));
        assert_eq!(signups.take(b, start), Ok(()), "another address");
        let later = start + SIGNUP_WINDOW;
        assert_eq!(signups.take(a, later), Ok(()), "an hour later");
    }
}
