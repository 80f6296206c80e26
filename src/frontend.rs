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
//! - [`Frontend::Web`]: the same lines, each wrapped as a Server-Sent Event
//!   (`data: line` and a blank line), for a browser's event stream.

use crate::event::Event;
use crate::protocol;

/// How a connection's events are put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frontend {
    Terminal,
    Web,
}

impl Frontend {
    /// How many kinds there are (the size of a [`Renderings`] cache).
    const KINDS: usize = 2;

    fn index(self) -> usize {
        match self {
            Frontend::Terminal => 0,
            Frontend::Web => 1,
        }
    }

    /// The bytes that carry `event` to a client of this kind: whole lines
    /// (or whole events), so the outbox can send them with one write.
    pub(crate) fn render(self, event: &Event) -> Vec<u8> {
        let lines = protocol::render(event);
        match self {
            Frontend::Terminal => lines.into_bytes(),
            Frontend::Web => server_sent_events(&lines),
        }
    }
}

/// Wraps each line as one Server-Sent Event: `data: line` and a blank line.
/// Our lines never hold a newline inside (they are sanitized), the one
/// thing a single `data:` field could not carry.
fn server_sent_events(lines: &str) -> Vec<u8> {
    let mut framed = Vec::with_capacity(lines.len() + 16);
    for line in lines.lines() {
        framed.extend_from_slice(b"data: ");
        framed.extend_from_slice(line.as_bytes());
        framed.extend_from_slice(b"\n\n");
    }
    framed
}

/// One event and its renderings so far: each frontend kind's form is made
/// the first time a recipient of that kind needs it, and reused after.
pub(crate) struct Renderings<'e> {
    event: &'e Event,
    forms: [Option<Vec<u8>>; Frontend::KINDS],
}

impl<'e> Renderings<'e> {
    pub(crate) fn new(event: &'e Event) -> Renderings<'e> {
        Renderings {
            event,
            forms: Default::default(),
        }
    }

    /// The event's bytes for `frontend`, rendered now if not yet.
    pub(crate) fn bytes(&mut self, frontend: Frontend) -> &[u8] {
        let event = self.event;
        self.forms[frontend.index()].get_or_insert_with(|| frontend.render(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Message;

    fn said() -> Event {
        Event::Said(Message {
            room: "general".into(),
            from: "alice".into(),
            text: "hi".into(),
            action: false,
        })
    }

    #[test]
    fn a_terminal_gets_the_line() {
        assert_eq!(
            Frontend::Terminal.render(&said()),
            b"[#general] alice: hi\n".to_vec()
        );
    }

    #[test]
    fn a_browser_gets_each_line_as_a_server_sent_event() {
        let event = Event::Hello {
            name: "alice".into(),
            room: "general".into(),
        };
        let replay = Event::Replay {
            room: "general".into(),
            messages: vec![Message {
                room: "general".into(),
                from: "bob".into(),
                text: "hi".into(),
                action: false,
            }],
        };
        let mut bytes = Frontend::Web.render(&event);
        bytes.extend(Frontend::Web.render(&replay));
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            "data: * Hello alice! You are in #general. Type /help for commands.\n\n\
             data: * last 1 message in #general:\n\n\
             data: [#general] bob: hi\n\n"
        );
    }

    #[test]
    fn each_kind_is_rendered_once_and_reused() {
        let event = said();
        let mut renderings = Renderings::new(&event);
        let first = renderings.bytes(Frontend::Web).as_ptr();
        assert_eq!(renderings.bytes(Frontend::Web).as_ptr(), first);
        assert_eq!(
            renderings.bytes(Frontend::Terminal),
            b"[#general] alice: hi\n"
        );
        assert!(renderings.forms.iter().all(Option::is_some));
    }
}
