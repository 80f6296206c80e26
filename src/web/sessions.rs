//! The browsers' sessions: a token each, standing for one registry
//! session, and the outbox its event stream reads from.
//!
//! A terminal's session lives exactly as long as its TCP connection. A
//! browser's cannot: its event stream is one HTTP response, which a Wi-Fi
//! hiccup or a phone that sleeps ends without the person meaning to leave.
//! So a session outlives its stream for a grace period
//! (`[web] reconnect_grace_secs`): its lines wait in the outbox, nobody is
//! told it left, and a stream opened with the same token within the grace
//! takes up where the last one ended. A thread of its own (the server's
//! `web janitor`) ends the sessions whose time is up, once a second.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::lock::lock;
use crate::log;
use crate::outbox::Outbox;
use crate::rate::RateLimiter;
use crate::registry::{ConnId, Session};

/// A browser's chat session, as its requests use it.
pub(crate) struct Chat {
    pub(crate) session: Session,
    /// The user's rate limit: the lines they send, as a terminal's.
    pub(crate) limiter: RateLimiter,
    /// The page's own budget, for the lists it asks for by itself (the
    /// members of the room shown, the room directory): what the page does
    /// without being told never costs the user a line.
    pub(crate) page: RateLimiter,
}

/// One browser's session.
pub(crate) struct WebSession {
    pub(crate) token: String,
    /// Its entry in the connection table, held from login to logout.
    pub(crate) id: ConnId,
    pub(crate) addr: SocketAddr,
    /// The registry session and its rate limits. Behind a lock because
    /// `/nick` changes the name, and so that one browser's requests take
    /// turns as a terminal's lines do.
    pub(crate) chat: Mutex<Chat>,
    /// Where the session's events wait for, then go to, the event stream;
    /// resumable (see [`Outbox::resumable`]).
    pub(crate) outbox: Arc<Outbox>,
    /// An event stream is (or was) connected.
    pub(crate) attached: AtomicBool,
    pub(crate) created: Instant,
}

impl WebSession {
    pub(crate) fn chat(&self) -> MutexGuard<'_, Chat> {
        lock(&self.chat, "web session")
    }
}

/// How long a session may go without an event stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// From login to the first stream (`handshake_timeout_secs`).
    pub(crate) first_stream: Duration,
    /// From a stream's end to the next (`[web] reconnect_grace_secs`).
    pub(crate) reconnect: Duration,
}

/// Why a session must end now, if it must: it never opened its stream
/// in time, it did not come back in time, or the registry dropped it (a
/// kick, a queue over `send_queue_bytes`).
fn overdue(
    attached: bool,
    age: Duration,
    away: Option<Duration>,
    closed: bool,
    patience: Patience,
) -> Option<&'static str> {
    if closed {
        Some("was dropped")
    } else if !attached && age > patience.first_stream {
        Some("never opened the event stream; logged out")
    } else if attached && away.is_some_and(|away| away > patience.reconnect) {
        Some("did not come back; logged out")
    } else {
        None
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

    pub(crate) fn get(&self, token: &str) -> Option<Arc<WebSession>> {
        self.lock().get(token).cloned()
    }

    pub(crate) fn insert(&self, web: WebSession) {
        self.lock().insert(web.token.clone(), Arc::new(web));
    }

    /// Ends a session: it leaves the chat like a disconnected client, its
    /// event stream (if any) is closed once its last lines are sent, and it
    /// gives back its place in the connection table.
    pub(crate) fn end(&self, ctx: &Context, token: &str, why: &str) {
        let Some(web) = self.lock().remove(token) else {
            return;
        };
        let name = {
            let chat = web.chat();
            ctx.registry.depart(&chat.session, why);
            chat.session.name().to_string()
        };
        web.outbox.close_after_flush(Shutdown::Both);
        ctx.admission.release(web.id);
        log!("web {} ({name}) {why}", web.addr);
    }

    /// Ends the sessions that are [`overdue`]: the janitor's round.
    pub(crate) fn sweep(&self, ctx: &Context, patience: Patience) {
        // Copied out first: the table's lock is not held while each
        // session's outbox is asked how it is doing.
        let all: Vec<Arc<WebSession>> = self.lock().values().cloned().collect();
        let due: Vec<(String, &str)> = all
            .iter()
            .filter_map(|web| {
                let attached = web.attached.load(Ordering::SeqCst);
                let (away, closed) = (web.outbox.detached_for(), web.outbox.is_closed());
                let why = overdue(attached, web.created.elapsed(), away, closed, patience)?;
                Some((web.token.clone(), why))
            })
            .collect();
        for (token, why) in due {
            self.end(ctx, &token, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Patience = Patience {
        first_stream: Duration::from_secs(10),
        reconnect: Duration::from_secs(30),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_session_without_its_first_stream_waits_the_handshake_timeout() {
        assert_eq!(
            overdue(false, secs(5), Some(secs(5)), false, PATIENCE),
            None
        );
        assert!(overdue(false, secs(11), Some(secs(11)), false, PATIENCE).is_some());
    }

    #[test]
    fn a_dropped_stream_has_the_grace_period_to_come_back() {
        // Connected: never overdue, however old.
        assert_eq!(overdue(true, secs(3600), None, false, PATIENCE), None);
        assert_eq!(
            overdue(true, secs(3600), Some(secs(29)), false, PATIENCE),
            None
        );
        assert_eq!(
            overdue(true, secs(3600), Some(secs(31)), false, PATIENCE),
            Some("did not come back; logged out")
        );
    }

    #[test]
    fn a_session_the_registry_dropped_ends_at_once() {
        assert_eq!(
            overdue(true, secs(1), None, true, PATIENCE),
            Some("was dropped")
        );
    }
}
