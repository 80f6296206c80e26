//! `GET /api/events`: a session's events as a Server-Sent Events stream,
//! and how a stream that dropped is resumed.
//!
//! SSE is one HTTP response that never ends: the server writes an event
//! whenever there is one (`id: 42`, `data: {...}`, a blank line), and the
//! browser reads them as they come. The thread serving the stream only
//! reads its socket: the browser sends nothing, so the read returns when
//! the connection ends. The writes are the writer threads' (see
//! [`outbox`](crate::outbox)), like every other client's.
//!
//! **Resuming.** Each event carries its number in `id:`. A browser whose
//! stream dropped opens a new one with the same token and, in the
//! `Last-Event-ID` header, the number of the last event it got (a
//! browser's `EventSource` sends it by itself). The session's outbox kept
//! a copy of the last bytes it sent, and [`pick`] cuts from that copy (and
//! from what waited meanwhile) the events after that number: a drop loses
//! nothing, and nobody in the chat notices it. A browser that was away for
//! longer than the copy reaches back gets a `gap` event first.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{refuse, respond, session_for, WebContext};
use crate::frontend::EventId;
use crate::log;
use crate::web::http::{self, Request, Status};

/// Quiet time on an event stream before a keepalive comment is written.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The event a browser gets first when some of what it missed is no longer
/// kept: the page says so, and can fetch the rooms' history again.
const GAP: &[u8] = b"data: {\"type\":\"gap\"}\n\n";

/// Serves `GET /api/events?token=T` for as long as the browser listens.
pub(super) fn events(request: &Request, stream: &Arc<TcpStream>, web: &WebContext) {
    let fields = match http::parse_form(request.query.as_bytes()) {
        Ok(fields) => fields,
        Err(e) => return respond(stream, &refuse(Status::BadRequest, e)),
    };
    let web_session = match session_for(&fields, web) {
        Ok(web_session) => web_session,
        Err(response) => return respond(stream, &response),
    };
    let last = match request.header("last-event-id").map(str::parse::<EventId>) {
        None => None,
        Some(Ok(last)) => Some(last),
        Some(Err(_)) => {
            let why = "Last-Event-ID must be an event's number";
            return respond(stream, &refuse(Status::BadRequest, why));
        }
    };
    // The head first, straight to the socket; then the outbox starts
    // sending the events that waited for us.
    let mut writer = &**stream;
    if writer.write_all(&http::event_stream_head()).is_err() {
        return; // gone already; the session's grace runs on
    }
    let again = web_session.attached.swap(true, Ordering::SeqCst);
    let writers = web.chat.registry.writers();
    let pick = |unsure, trimmed| pick(unsure, last, trimmed);
    if !web_session.outbox.resume(writers, Arc::clone(stream), pick) {
        return web
            .sessions
            .end(&web.chat, &web_session.token, "was dropped");
    }
    if again {
        log!("web {} reconnected", web_session.addr);
    }
    let why = listen(stream, web, &web_session.outbox);
    let grace = web.chat.config.web.reconnect_grace_secs;
    if web_session.outbox.is_closed() {
        web.sessions.end(&web.chat, &web_session.token, why);
    } else if web_session.outbox.detach_from(stream) {
        log!(
            "web {}: the event stream {why}; waiting {grace} s for it to come back",
            web_session.addr
        );
    }
}

/// Reads the stream's socket until the browser goes, writing a keepalive
/// comment after each quiet spell: a write to a tab that vanished without
/// a goodbye fails, which is how we notice it. Says how it ended.
fn listen(
    stream: &TcpStream,
    web: &WebContext,
    outbox: &Arc<crate::outbox::Outbox>,
) -> &'static str {
    let _ = stream.set_read_timeout(Some(KEEPALIVE));
    let mut sink = [0u8; 256];
    loop {
        match (&*stream).read(&mut sink) {
            Ok(0) => return "was closed",
            Ok(_) => {} // a browser sends nothing here; ignore it
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let writers = web.chat.registry.writers();
                let keepalive = http::SSE_KEEPALIVE.as_bytes();
                if outbox.send(writers, keepalive).is_err() {
                    return "failed";
                }
            }
            Err(_) => return "failed",
        }
    }
}

/// What to send a browser whose stream (re)opens: from `unsure`, every
/// byte not known to have arrived, the events after the one numbered
/// `last`. With no `last` (a first stream), all of it. `trimmed` says the
/// copy no longer reaches back to the start of the session: if it does
/// not reach back to `last` either, the browser may have missed events
/// that are gone, and gets a `gap` event first.
pub(crate) fn pick(unsure: Vec<u8>, last: Option<EventId>, trimmed: bool) -> Vec<u8> {
    let Some(last) = last else {
        return unsure;
    };
    let (from, first) = after(&unsure, last);
    let mut picked = Vec::with_capacity(unsure.len() - from + GAP.len());
    if trimmed && first.is_none_or(|first| first > last + 1) {
        picked.extend_from_slice(GAP);
    }
    picked.extend_from_slice(&unsure[from..]);
    picked
}

/// Where in `stream` (whole events, as we write them: each a block ending
/// in a blank line) the first event numbered above `last` starts, and the
/// number of the first numbered event at all. Blocks without a number
/// (keepalive comments) before that point are passed over with the rest.
fn after(stream: &[u8], last: EventId) -> (usize, Option<EventId>) {
    let mut first = None;
    let mut at = 0;
    while at < stream.len() {
        let block = &stream[at..];
        let end = block
            .windows(2)
            .position(|pair| pair == b"\n\n")
            .map_or(block.len(), |i| i + 2);
        if let Some(id) = number(&block[..end]) {
            first = first.or(Some(id));
            if id > last {
                break;
            }
        }
        at += end;
    }
    (at, first)
}

/// The number in an event's `id: N` line, if it starts with one.
fn number(event: &[u8]) -> Option<EventId> {
    let rest = event.strip_prefix(b"id: ")?;
    let digits = rest.split(|&b| b == b'\n').next()?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b"id: 3\ndata: {\"n\":3}\n\n: keepalive\n\n\
                            id: 5\ndata: {\"n\":5}\n\nid: 9\ndata: {\"n\":9}\n\n";

    fn picked(last: Option<EventId>, trimmed: bool) -> String {
        String::from_utf8(pick(STREAM.to_vec(), last, trimmed)).expect("utf-8")
    }

    #[test]
    fn a_first_stream_gets_everything_waiting() {
        assert_eq!(picked(None, false).as_bytes(), STREAM);
    }

    #[test]
    fn a_resumed_stream_gets_the_events_after_the_last_one_seen() {
        assert_eq!(
            picked(Some(3), false),
            "id: 5\ndata: {\"n\":5}\n\nid: 9\ndata: {\"n\":9}\n\n"
        );
        // Numbers are the server's, with gaps: 6 means "after 5".
        assert_eq!(picked(Some(6), false), "id: 9\ndata: {\"n\":9}\n\n");
        assert_eq!(picked(Some(9), false), "");
        assert_eq!(picked(Some(100), true), "");
    }

    #[test]
    fn a_browser_further_back_than_the_copy_is_told_of_the_gap() {
        // The copy starts at 3: one that saw 2 missed nothing it keeps...
        assert!(picked(Some(2), true).starts_with("id: 3\n"));
        // ...one that saw 1 may have missed what came between.
        assert!(picked(Some(1), true).starts_with("data: {\"type\":\"gap\"}\n\nid: 3\n"));
        // With nothing dropped from the copy, there can be no gap.
        assert!(picked(Some(1), false).starts_with("id: 3\n"));
    }

    #[test]
    fn numbers_are_read_from_the_id_line_only() {
        assert_eq!(number(b"id: 42\ndata: x\n\n"), Some(42));
        assert_eq!(number(b": keepalive\n\n"), None);
        assert_eq!(number(b"data: {\"id: 7\"}\n\n"), None);
        assert_eq!(number(b"id: x\n\n"), None);
    }
}
