//! The web page's wire format: every [`Event`] as one JSON object.
//!
//! A terminal gets lines meant for people (`* alice joined #dev`), and a
//! program that wants to know what happened must parse them back, guessing
//! at the edges (is `you` a user called "you"?). The web page gets the same
//! events as data instead: `{"type":"joined","room":"dev","name":"alice"}`.
//! It never parses a sentence, and a new kind of event is a new `type` the
//! page can ignore until it knows it. docs/PROTOCOL.md lists every type.
//!
//! JSON text is easy to write and easy to get wrong: the one rule that
//! matters is escaping strings ([`push_string`]), because chat text is
//! typed by strangers. A quote or backslash left as it is would end the
//! string early and let a message forge fields of its own; a raw newline
//! would also end the Server-Sent Event that carries the object (see
//! [`frontend`](crate::frontend)). So every string goes through one
//! function, tested on its own. Everything here is pure: an event in, a
//! `String` out.
//!
//! Like the terminal's rendering, this never depends on who receives the
//! event, so the registry renders it once for every browser in a room.

use std::fmt::Write;

use crate::event::{Actor, Event, Leaving, Member, Message, RoomChange, Style, Topic};
use crate::protocol;

/// The most members a member list names, like `/users`: a list has a bound
/// however big the room. `more` says how many were left out.
pub(crate) const LIST_MEMBERS: usize = 100;

/// Appends `text` to `out` as a JSON string, quotes included: `"`, `\` and
/// the control characters (U+0000 to U+001F) escaped, everything else as
/// it is (JSON text is UTF-8, so `é` and `😀` need no escape).
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // The other control characters have no short escape.
            // (Writing to a String cannot fail.)
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One JSON object, written field by field in the order given.
pub(crate) struct Object {
    out: String,
}

impl Object {
    /// An object whose first field is `"type": kind`, as every event has.
    pub(crate) fn event(kind: &str) -> Object {
        Object::new().string("type", kind)
    }

    /// An empty object.
    pub(crate) fn new() -> Object {
        Object {
            out: String::from("{"),
        }
    }

    /// The `"key":` part, after a comma unless it is the first field.
    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        push_string(&mut self.out, key);
        self.out.push(':');
    }

    pub(crate) fn string(mut self, key: &str, value: &str) -> Object {
        self.key(key);
        push_string(&mut self.out, value);
        self
    }

    /// A string, or `null` for None.
    pub(crate) fn maybe(self, key: &str, value: Option<&str>) -> Object {
        match value {
            Some(value) => self.string(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn number(mut self, key: &str, value: u64) -> Object {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    pub(crate) fn boolean(self, key: &str, value: bool) -> Object {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// `"key":true`, or nothing at all for false: for a flag that is
    /// rarely set on a busy event (an action among messages), whose bytes
    /// every recipient of every message would otherwise carry.
    pub(crate) fn flag(self, key: &str, value: bool) -> Object {
        if value {
            self.boolean(key, true)
        } else {
            self
        }
    }

    /// A value that is JSON text already (an array, an object, `null`).
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Object {
        self.key(key);
        self.out.push_str(json);
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// `[a,b,c]` from values that are JSON text already.
pub(crate) fn array(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    format!("[{}]", items.join(","))
}

/// `["a","b"]` from strings.
fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    array(items.into_iter().map(|item| {
        let mut out = String::new();
        push_string(&mut out, item);
        out
    }))
}

/// The JSON form of `event`, one object on one line; empty when the web
/// page does not show the event (a `Quit`: the page has had a `left` for
/// each room already; an empty replay).
// Over 60 lines on purpose: one arm per kind of event, with no catch-all,
// so a new kind does not compile until it has a JSON form; a table of the
// page's whole wire format that reads best in one piece.
pub(crate) fn render(event: &Event) -> String {
    match event {
        Event::Said { message, .. } => {
            let said = Object::event("said").string("room", &message.room);
            message_object(said, message).finish()
        }
        Event::Direct {
            from,
            to,
            text,
            style,
            ..
        } => Object::event("direct")
            .string("from", from)
            .string("to", to)
            .string("text", text)
            .flag("action", *style == Style::Action)
            .finish(),
        Event::Joined { room, name, .. } => Object::event("joined")
            .string("room", room)
            .string("name", name)
            .finish(),
        Event::Left {
            room,
            name,
            how,
            reason,
            ..
        } => Object::event("left")
            .string("room", room)
            .string("name", name)
            .string("how", leaving(*how))
            .maybe("reason", reason.as_deref())
            .finish(),
        Event::Quit { .. } => String::new(),
        Event::Renamed { old, new, .. } => Object::event("renamed")
            .string("old", old)
            .string("new", new)
            .finish(),
        Event::TopicSet {
            room, name, text, ..
        } => Object::event("topic_set")
            .string("room", room)
            .string("name", name)
            .string("text", text)
            .finish(),
        Event::RoomChanged { room, by, change } => room_changed(room, by.as_ref(), change),
        Event::KickedFrom {
            room,
            name,
            by,
            reason,
        } => Object::event("kicked_from")
            .string("room", room)
            .string("name", name)
            .string("by", &by.name)
            .maybe("reason", reason.as_deref())
            .finish(),
        Event::ServerSaid(text) => Object::event("server").string("text", text).finish(),
        Event::ShuttingDown => Object::event("shutting_down").finish(),
        // The replies to one client.
        Event::Hello {
            name, room, motd, ..
        } => Object::event("hello")
            .string("name", name)
            .maybe("room", room.as_deref())
            .raw("motd", &strings(motd.iter().map(String::as_str)))
            .finish(),
        // As on a terminal, a room with no history has no replay at all.
        Event::Replay { messages, .. } if messages.is_empty() => String::new(),
        Event::Replay { room, messages } => Object::event("replay")
            .string("room", room)
            .raw("messages", &messages_array(messages))
            .finish(),
        Event::YouJoined { room, topic, names } => {
            let object = Object::event("you_joined").string("room", room);
            let object = object.raw("topic", &topic_object(topic.as_ref()));
            members(object, names, 0).finish()
        }
        Event::NowTalkingIn(room) => Object::event("now_talking_in")
            .string("room", room)
            .finish(),
        Event::YouLeft { room, reason } => Object::event("you_left")
            .string("room", room)
            .maybe("reason", reason.as_deref())
            .finish(),
        Event::NowKnownAs { old, new } => Object::event("now_known_as")
            .string("old", old)
            .string("new", new)
            .finish(),
        Event::Topic { room, topic } => Object::event("topic")
            .string("room", room)
            .raw("topic", &topic_object(topic.as_ref()))
            .finish(),
        Event::Rooms { rooms, more } => Object::event("rooms")
            .raw("rooms", &rooms_array(rooms))
            .number("more", *more as u64)
            .finish(),
        Event::Users { room, names, more } => {
            let object = Object::event("users").maybe("room", room.as_deref());
            members(object, names, *more).finish()
        }
        Event::Help => Object::event("help").raw("lines", &help_lines()).finish(),
        Event::Bye(name) => Object::event("bye").string("name", name).finish(),
        Event::Kicked { reason } => Object::event("kicked")
            .maybe("reason", reason.as_deref())
            .finish(),
        Event::Notice(text) => Object::event("notice").string("text", text).finish(),
        Event::Error(text) => Object::event("error").string("text", text).finish(),
        Event::RoomBans { room, names } => Object::event("room_bans")
            .string("room", room)
            .raw("names", &strings(names.iter().map(String::as_str)))
            .finish(),
    }
}

/// A message's own fields: who, what, when, and whether it is an action.
fn message_object(object: Object, message: &Message) -> Object {
    object
        .string("from", &message.from)
        .string("text", &message.text)
        .string("time", &message.time)
        .flag("action", message.action)
}

fn messages_array(messages: &[Message]) -> String {
    array(
        messages
            .iter()
            .map(|m| message_object(Object::new(), m).finish()),
    )
}

/// `"members":[{"name":"alice","op":false}],"more":0`: at most
/// [`LIST_MEMBERS`] names; `more` counts those left out here and those
/// `left_out` before (a `/users` list is capped already). Every member carries `op`, so a page written
/// today shows room operators the day the server marks them.
fn members(object: Object, names: &[Member], left_out: usize) -> Object {
    let shown = names.iter().take(LIST_MEMBERS);
    let list = array(shown.map(|member| {
        Object::new()
            .string("name", &member.name)
            .boolean("op", member.operator)
            .boolean("voice", member.voiced)
            .finish()
    }));
    let more = left_out + names.len().saturating_sub(LIST_MEMBERS);
    object.raw("members", &list).number("more", more as u64)
}

/// `{"type":"room_changed","room":"dev","by":"alice","change":"operator",
/// "name":"bob","on":true}`: what a room operator changed (`by` is `null`
/// when the server made the longest-present member an operator). `change`
/// is `operator`, `voice` or `ban` (with a `name`), `topic_lock` or
/// `moderated`.
fn room_changed(room: &str, by: Option<&Actor>, change: &RoomChange) -> String {
    let object = Object::event("room_changed")
        .string("room", room)
        .maybe("by", by.map(|actor| actor.name.as_str()));
    let (kind, name, on) = match change {
        RoomChange::Operator { name, on } => ("operator", Some(name), on),
        RoomChange::Voice { name, on } => ("voice", Some(name), on),
        RoomChange::Ban { name, on } => ("ban", Some(name), on),
        RoomChange::TopicLock(on) => ("topic_lock", None, on),
        RoomChange::Moderated(on) => ("moderated", None, on),
    };
    let object = object.string("change", kind);
    let object = match name {
        Some(name) => object.string("name", name),
        None => object,
    };
    object.boolean("on", *on).finish()
}

/// `{"text":...,"by":...,"at":seconds}`, or `null` for no topic.
fn topic_object(topic: Option<&Topic>) -> String {
    match topic {
        Some(topic) => Object::new()
            .string("text", &topic.text)
            .string("by", &topic.by)
            .number("at", topic.at)
            .finish(),
        None => "null".to_string(),
    }
}

fn rooms_array(rooms: &[(String, usize)]) -> String {
    array(rooms.iter().map(|(room, members)| {
        Object::new()
            .string("room", room)
            .number("members", *members as u64)
            .finish()
    }))
}

/// The terminal's `/help` lines, without their `* `: one text, two forms.
fn help_lines() -> String {
    let text = protocol::render(&Event::Help);
    strings(
        text.lines()
            .map(|line| line.strip_prefix("* ").unwrap_or(line)),
    )
}

fn leaving(how: Leaving) -> &'static str {
    match how {
        Leaving::Parted => "parted",
        Leaving::Quit => "quit",
        Leaving::Kicked => "kicked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Frontend;

    fn json(text: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, text);
        out
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(json(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(json(r"C:\temp\"), r#""C:\\temp\\""#);
        // A message cannot close its string and add a field of its own.
        assert_eq!(json(r#"","type":"x"#), r#""\",\"type\":\"x""#);
    }

    #[test]
    fn control_characters_are_escaped_so_an_event_stays_one_line() {
        assert_eq!(json("a\nb\rc\td"), r#""a\nb\rc\td""#);
        assert_eq!(json("\u{0}\u{1b}\u{1f}"), r#""\u0000\u001b\u001f""#);
        assert!(!json("x\n\ny").contains('\n'));
    }

    #[test]
    fn non_ascii_text_passes_as_it_is() {
        assert_eq!(json("héllo 😀 日本"), "\"héllo 😀 日本\"");
        // Not control characters: DEL and the line separator U+2028 are
        // valid inside a JSON string.
        assert_eq!(json("\u{7f}\u{2028}"), "\"\u{7f}\u{2028}\"");
        assert_eq!(json(""), "\"\"");
    }

    #[test]
    fn objects_keep_their_fields_in_order() {
        let object = Object::event("x")
            .string("a", "1")
            .number("b", 2)
            .boolean("c", true)
            .maybe("d", None)
            .raw("e", "[]")
            .finish();
        assert_eq!(
            object,
            r#"{"type":"x","a":"1","b":2,"c":true,"d":null,"e":[]}"#
        );
        assert_eq!(Object::new().finish(), "{}");
    }

    fn message(from: &str, text: &str) -> Message {
        Message {
            room: "general".into(),
            from: from.into(),
            text: text.into(),
            action: false,
            time: "2026-11-30T12:00:00Z".into(),
        }
    }

    #[test]
    fn a_room_message_is_a_said_object() {
        let event = Event::Said {
            message: message("alice", "hi \"there\""),
            via: Frontend::Irc,
            notice: false,
        };
        assert_eq!(
            render(&event),
            r#"{"type":"said","room":"general","from":"alice","text":"hi \"there\"","time":"2026-11-30T12:00:00Z"}"#
        );
    }

    #[test]
    fn a_direct_message_says_who_to_and_whether_an_action() {
        let event = Event::Direct {
            from: "alice".into(),
            via: Frontend::Terminal,
            to: "bob".into(),
            text: "waves".into(),
            style: Style::Action,
        };
        assert_eq!(
            render(&event),
            r#"{"type":"direct","from":"alice","to":"bob","text":"waves","action":true}"#
        );
    }

    #[test]
    fn member_lists_mark_operators_and_are_capped() {
        let names: Vec<Member> = (0..LIST_MEMBERS + 5)
            .map(|i| Member::test(&format!("u{i:03}"), i == 1))
            .collect();
        let event = Event::YouJoined {
            room: "dev".into(),
            topic: None,
            names,
        };
        let text = render(&event);
        assert!(
            text.starts_with(
                r#"{"type":"you_joined","room":"dev","topic":null,"members":[{"name":"u000","op":false,"voice":false},{"name":"u001","op":true,"voice":false},"#
            ),
            "{text}"
        );
        assert_eq!(text.matches(r#""op":false"#).count(), LIST_MEMBERS - 1);
        assert!(text.ends_with(r#""more":5}"#), "{text}");
        let users = Event::Users {
            room: None,
            names: vec![Member::test("alice", false)],
            more: 7,
        };
        assert_eq!(
            render(&users),
            r#"{"type":"users","room":null,"members":[{"name":"alice","op":false,"voice":false}],"more":7}"#
        );
    }

    #[test]
    fn replies_have_their_own_types() {
        let cases = [
            (
                Event::Rooms {
                    rooms: vec![("dev".into(), 2)],
                    more: 0,
                },
                r#"{"type":"rooms","rooms":[{"room":"dev","members":2}],"more":0}"#,
            ),
            (
                Event::Left {
                    room: "dev".into(),
                    name: "bob".into(),
                    via: Frontend::Web,
                    how: Leaving::Kicked,
                    reason: None,
                },
                r#"{"type":"left","room":"dev","name":"bob","how":"kicked","reason":null}"#,
            ),
            (
                Event::Topic {
                    room: "dev".into(),
                    topic: Some(Topic {
                        text: "ship it".into(),
                        by: "alice".into(),
                        at: 5,
                    }),
                },
                r#"{"type":"topic","room":"dev","topic":{"text":"ship it","by":"alice","at":5}}"#,
            ),
            (
                Event::Replay {
                    room: "general".into(),
                    messages: vec![message("bob", "old")],
                },
                r#"{"type":"replay","room":"general","messages":[{"from":"bob","text":"old","time":"2026-11-30T12:00:00Z"}]}"#,
            ),
            (
                Event::Error("slow down".into()),
                r#"{"type":"error","text":"slow down"}"#,
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(render(&event), expected);
        }
    }

    #[test]
    fn a_quit_is_not_shown_and_help_has_lines() {
        let quit = Event::Quit {
            name: "bob".into(),
            via: Frontend::Terminal,
            reason: "bye".into(),
        };
        assert_eq!(render(&quit), "");
        let help = render(&Event::Help);
        assert!(
            help.starts_with(r#"{"type":"help","lines":["commands:","#),
            "{help}"
        );
        assert!(!help.contains("* "), "{help}");
    }

    #[test]
    fn room_operators_changes_kicks_and_bans_are_their_own_types() {
        let alice = || Actor {
            name: "alice".into(),
            via: Frontend::Irc,
        };
        let op = Event::RoomChanged {
            room: "dev".into(),
            by: Some(alice()),
            change: RoomChange::Operator {
                name: "bob".into(),
                on: true,
            },
        };
        assert_eq!(
            render(&op),
            r#"{"type":"room_changed","room":"dev","by":"alice","change":"operator","name":"bob","on":true}"#
        );
        let unlocked = Event::RoomChanged {
            room: "dev".into(),
            by: None,
            change: RoomChange::TopicLock(false),
        };
        assert_eq!(
            render(&unlocked),
            r#"{"type":"room_changed","room":"dev","by":null,"change":"topic_lock","on":false}"#
        );
        let kicked = Event::KickedFrom {
            room: "dev".into(),
            name: "bob".into(),
            by: alice(),
            reason: Some("spam \"links\"".into()),
        };
        assert_eq!(
            render(&kicked),
            r#"{"type":"kicked_from","room":"dev","name":"bob","by":"alice","reason":"spam \"links\""}"#
        );
        let bans = Event::RoomBans {
            room: "dev".into(),
            names: vec!["bob".into(), "eve".into()],
        };
        assert_eq!(
            render(&bans),
            r#"{"type":"room_bans","room":"dev","names":["bob","eve"]}"#
        );
    }
}
