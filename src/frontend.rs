//! Frontends: one [`Event`], rendered in the wire format of each protocol.
//!
//! Every connection has a frontend, chosen by the listener it came in on.
//! The registry renders an event **once per frontend kind**, not once per
//! recipient: a message to a room of a thousand terminals is formatted once,
//! and delivering it is then one memory copy per recipient (see
//! [`Renderings`]). That is what keeps a broadcast cheap as protocols are
//! added.
//!
//! - [`Frontend::Terminal`]: the line protocol of `docs/PROTOCOL.md`
//!   (rendered by [`protocol::render`]).
//! - [`Frontend::Web`]: one JSON object per event ([`json::render`]),
//!   framed as a Server-Sent Event with its number: `id: 42`, `data: {...}`
//!   and a blank line, for a browser's event stream.
//! - [`Frontend::Irc`]: IRC messages (rendered by [`irc::render()`]).
//!
//! A renderer sees only the event and a [`Recipient`]: the IRC server's
//! name, and the recipient's own name for a reply to one client (IRC puts
//! it in every numeric). Chat traffic for many is rendered with the name
//! `*`, so it must never need it.
//!
//! **Event numbers.** The registry numbers every event it queues, from one
//! counter for the whole server ([`EventId`]), and a browser's events carry
//! that number as the SSE `id:`. A browser whose stream dropped reconnects
//! with the last number it saw (`Last-Event-ID`) and is sent what came
//! after. One counter for everyone, rather than one per browser, keeps the
//! rendering shared: the number belongs to the event, not to the recipient,
//! so a room's browsers still get one rendering between them. A browser
//! sees gaps in its numbers (events for others), which SSE allows: only
//! the order matters.

pub(crate) use crate::event::Frontend;

use crate::event::Event;
use crate::{irc, json, protocol};

/// An event's number on this server: see "Event numbers" above.
pub(crate) type EventId = u64;

/// Who an event is rendered for, as far as a renderer needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recipient<'a> {
    /// The server's name in IRC prefixes and numerics (`[irc] name`).
    pub(crate) server: &'a str,
    /// The recipient's name, or `*` for a rendering shared by many.
    pub(crate) name: &'a str,
}

impl<'a> Recipient<'a> {
    pub(crate) fn new(server: &'a str, name: &'a str) -> Recipient<'a> {
        Recipient { server, name }
    }
}

impl Frontend {
    /// How many kinds there are (the size of a [`Renderings`] cache).
    const KINDS: usize = 3;

    fn index(self) -> usize {
        match self {
            Frontend::Terminal => 0,
            Frontend::Web => 1,
            Frontend::Irc => 2,
        }
    }

    /// Whether a new client of this kind is put in the default room. IRC
    /// clients join the channels they choose (most have an autojoin list),
    /// as on any IRC server; the others start in the default room.
    pub(crate) fn joins_default_room(self) -> bool {
        self != Frontend::Irc
    }

    /// The bytes that carry `event` to a client of this kind: whole lines
    /// (or whole events), so the outbox can send them with one write.
    /// Empty when this kind does not show the event. `id` is the event's
    /// number (only a browser sees it).
    pub(crate) fn render(self, event: &Event, to: Recipient, id: EventId) -> Vec<u8> {
        match self {
            Frontend::Terminal => protocol::render(event).into_bytes(),
            Frontend::Web => server_sent_event(id, &json::render(event)),
            Frontend::Irc => irc::render(event, to.server, to.name).into_bytes(),
        }
    }
}

/// Frames one JSON object as a Server-Sent Event: `id: N`, `data: {...}`
/// and a blank line; nothing for an event the page does not show. JSON
/// text holds no raw newline (the escaper sees to it), the one thing a
/// single `data:` field could not carry.
fn server_sent_event(id: EventId, json: &str) -> Vec<u8> {
    if json.is_empty() {
        return Vec::new();
    }
    format!("id: {id}\ndata: {json}\n\n").into_bytes()
}

/// One event and its renderings so far: each frontend kind's form is made
/// the first time a recipient of that kind needs it, and reused after.
pub(crate) struct Renderings<'e> {
    event: &'e Event,
    id: EventId,
    server: &'e str,
    forms: [Option<Vec<u8>>; Frontend::KINDS],
}

impl<'e> Renderings<'e> {
    /// `server` is the IRC server name (see [`Recipient`]), `id` the
    /// event's number.
    pub(crate) fn new(event: &'e Event, id: EventId, server: &'e str) -> Renderings<'e> {
        Renderings {
            event,
            id,
            server,
            forms: Default::default(),
        }
    }

    /// The event's bytes for `frontend`, rendered now if not yet.
    pub(crate) fn bytes(&mut self, frontend: Frontend) -> &[u8] {
        let (event, id, server) = (self.event, self.id, self.server);
        let to = Recipient { server, name: "*" };
        self.forms[frontend.index()].get_or_insert_with(|| frontend.render(event, to, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Message;

    const TO: Recipient = Recipient {
        server: "lanchat.local",
        name: "bob",
    };

    fn said() -> Event {
        Event::Said {
            message: Message {
                room: "general".into(),
                from: "alice".into(),
                text: "hi".into(),
                action: false,
                time: "2026-11-24T13:05:09Z".into(),
            },
            via: Frontend::Terminal,
            notice: false,
        }
    }

    #[test]
    fn a_terminal_gets_the_line() {
        assert_eq!(
            Frontend::Terminal.render(&said(), TO, 1),
            b"[#general] alice: hi\n".to_vec()
        );
    }

    #[test]
    fn an_irc_client_gets_a_privmsg_with_the_senders_way_in() {
        assert_eq!(
            Frontend::Irc.render(&said(), TO, 1),
            b":alice!alice@terminal PRIVMSG #general :hi\r\n".to_vec()
        );
    }

    #[test]
    fn a_browser_gets_each_event_as_numbered_json() {
        let event = Event::Hello {
            name: "alice".into(),
            room: Some("general".into()),
            online: 1,
            max_online: 1,
            rooms: 1,
            motd: vec![],
        };
        let replay = Event::Replay {
            room: "general".into(),
            messages: vec![Message {
                room: "general".into(),
                from: "bob".into(),
                text: "hi".into(),
                action: false,
                time: "2026-11-24T13:05:09Z".into(),
            }],
        };
        let mut bytes = Frontend::Web.render(&event, TO, 7);
        bytes.extend(Frontend::Web.render(&replay, TO, 8));
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            "id: 7\ndata: {\"type\":\"hello\",\"name\":\"alice\",\"room\":\"general\",\"motd\":[]}\n\n\
             id: 8\ndata: {\"type\":\"replay\",\"room\":\"general\",\"messages\":\
             [{\"from\":\"bob\",\"text\":\"hi\",\"time\":\"2026-11-24T13:05:09Z\"}]}\n\n"
        );
    }

    #[test]
    fn an_event_the_page_does_not_show_is_no_bytes_at_all() {
        let quit = Event::Quit {
            name: "bob".into(),
            via: Frontend::Terminal,
            reason: "bye".into(),
        };
        assert!(Frontend::Web.render(&quit, TO, 3).is_empty());
    }

    #[test]
    fn each_kind_is_rendered_once_and_reused() {
        let event = said();
        let mut renderings = Renderings::new(&event, 1, "lanchat.local");
        let first = renderings.bytes(Frontend::Web).as_ptr();
        assert_eq!(renderings.bytes(Frontend::Web).as_ptr(), first);
        assert_eq!(
            renderings.bytes(Frontend::Terminal),
            b"[#general] alice: hi\n"
        );
        renderings.bytes(Frontend::Irc);
        assert!(renderings.forms.iter().all(Option::is_some));
    }
}
