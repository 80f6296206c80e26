//! Events as IRC lines: what an IRC client is sent for each
//! [`Event`].
//!
//! Chat traffic is rendered once for every IRC recipient, so it never
//! names one (the `you` argument is then `*`); replies to one client carry
//! the recipient's nick, as every IRC numeric does. A long message becomes
//! several `PRIVMSG`s, split at character boundaries.

use crate::event::{Actor, Event, Frontend, Leaving, Member, Message, RoomChange, Style, Topic};
use crate::protocol;

use super::message::{line, split_text, text_line, MAX_LINE};
use super::{numeric, prefix, welcome, Welcome};

/// The IRC lines for `event`, sent by server `server` to `you`. Empty for
/// an event an IRC client is not shown (a terminal's per-room departure
/// notices become one `QUIT`).
pub(crate) fn render(event: &Event, server: &str, you: &str) -> String {
    match event {
        Event::Said {
            message,
            via,
            notice,
        } => said(message, *via, *notice),
        Event::Joined { room, name, via } => line(&prefix(name, *via), "JOIN", &[&hash(room)]),
        Event::Left {
            room,
            name,
            via,
            how: Leaving::Parted,
            reason,
        } => part(&prefix(name, *via), room, reason.as_deref()),
        Event::Left { .. } => String::new(),
        Event::Quit { name, via, reason } => text_line(&prefix(name, *via), "QUIT", &[reason]),
        Event::Renamed { old, new, via } => line(&prefix(old, *via), "NICK", &[new]),
        Event::TopicSet {
            room,
            name,
            via,
            text,
        } => text_line(&prefix(name, *via), "TOPIC", &[&hash(room), text]),
        Event::RoomChanged { room, by, change } => mode_line(server, room, by.as_ref(), change),
        Event::KickedFrom {
            room,
            name,
            by,
            reason,
        } => {
            // RFC 2812: without a comment, the kicker's nick is the reason.
            let reason = reason.as_deref().unwrap_or(&by.name);
            text_line(
                &prefix(&by.name, by.via),
                "KICK",
                &[&hash(room), name, reason],
            )
        }
        Event::ServerSaid(text) => privmsgs_as(server, "NOTICE", "*", text, false),
        Event::ShuttingDown => {
            let mut out = line(server, "NOTICE", &["*", "server is shutting down"]);
            out.push_str(&closing_link(you, "Server shutting down"));
            out
        }
        reply => render_reply(reply, server, you),
    }
}

/// The replies to one client (`you`).
fn render_reply(event: &Event, server: &str, you: &str) -> String {
    match event {
        Event::Hello {
            name,
            online,
            max_online,
            rooms,
            motd,
            ..
        } => welcome(&Welcome {
            server,
            nick: name,
            online: *online,
            max_online: *max_online,
            rooms: *rooms,
            motd,
        }),
        Event::Replay { room, messages } => replay(server, room, messages),
        Event::YouJoined { room, topic, names } => {
            let mut out = line(&prefix(you, Frontend::Irc), "JOIN", &[&hash(room)]);
            out.push_str(&topic_reply(server, you, room, topic.as_ref(), false));
            out.push_str(&names_reply(server, you, room, names));
            out
        }
        Event::NowTalkingIn(_) => String::new(),
        Event::YouLeft { room, reason } => {
            part(&prefix(you, Frontend::Irc), room, reason.as_deref())
        }
        Event::NowKnownAs { old, new } => line(&prefix(old, Frontend::Irc), "NICK", &[new]),
        Event::Topic { room, topic } => topic_reply(server, you, room, topic.as_ref(), true),
        Event::RoomBans { room, names } => ban_list(server, you, room, names),
        Event::Kicked { reason } => {
            let why = match reason {
                Some(reason) => format!("Kicked by the operator: {reason}"),
                None => "Kicked by the operator".to_string(),
            };
            closing_link(you, &why)
        }
        Event::Bye(name) => closing_link(name, "Quit"),
        Event::Direct {
            from,
            via,
            to,
            text,
            style,
        } => {
            let command = if *style == Style::Notice {
                "NOTICE"
            } else {
                "PRIVMSG"
            };
            let action = *style == Style::Action;
            privmsgs_as(&prefix(from, *via), command, to, text, action)
        }
        // The rest (lists, help, notices, errors) as the terminal says it.
        other => notices(server, you, &protocol::render(other)),
    }
}

/// `:alice!alice@terminal MODE #dev +o bob`: a room operator's change as
/// the channel mode it is. The server's own change (a successor to the
/// last operator) comes from the server.
fn mode_line(server: &str, room: &str, by: Option<&Actor>, change: &RoomChange) -> String {
    let from = by.map_or(server.to_string(), |by| prefix(&by.name, by.via));
    let sign = |on: bool| if on { "+" } else { "-" };
    let channel = hash(room);
    match change {
        RoomChange::Operator { name, on } => {
            line(&from, "MODE", &[&channel, &format!("{}o", sign(*on)), name])
        }
        RoomChange::Ban { name, on } => line(
            &from,
            "MODE",
            &[&channel, &format!("{}b", sign(*on)), &ban_mask(name)],
        ),
        RoomChange::Voice { name, on } => {
            line(&from, "MODE", &[&channel, &format!("{}v", sign(*on)), name])
        }
        RoomChange::TopicLock(on) => line(&from, "MODE", &[&channel, &format!("{}t", sign(*on))]),
        RoomChange::Moderated(on) => line(&from, "MODE", &[&channel, &format!("{}m", sign(*on))]),
    }
}

/// A 367 per ban, then 368.
fn ban_list(server: &str, you: &str, room: &str, names: &[String]) -> String {
    let channel = hash(room);
    let mut out = String::new();
    for name in names {
        out.push_str(&numeric(server, "367", you, &[&channel, &ban_mask(name)]));
    }
    let end = "End of channel ban list";
    out.push_str(&numeric(server, "368", you, &[&channel, end]));
    out
}

/// `bob!*@*`: a room ban names a nick, so its mask matches any user and
/// host.
pub(crate) fn ban_mask(name: &str) -> String {
    format!("{name}!*@*")
}

/// `#room`: rooms are stored without their `#`.
pub(crate) fn hash(room: &str) -> String {
    format!("#{room}")
}

/// A room message as one or more `PRIVMSG`s (or `NOTICE`s) from its
/// sender.
fn said(message: &Message, via: Frontend, notice: bool) -> String {
    let from = prefix(&message.from, via);
    let command = if notice { "NOTICE" } else { "PRIVMSG" };
    let room = hash(&message.room);
    privmsgs_as(&from, command, &room, &message.text, message.action)
}

/// `:from PART #room [:reason]`.
fn part(from: &str, room: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => text_line(from, "PART", &[&hash(room), reason]),
        None => line(from, "PART", &[&hash(room)]),
    }
}

/// How long the line carrying `text` from `from` to `target` would be,
/// CRLF included (see [`privmsgs_as`]).
pub(crate) fn relayed_len(from: &str, target: &str, text: &str, action: bool) -> usize {
    // `:from PRIVMSG target :` + `\x01ACTION ` + `\x01` + CRLF
    from.len() + "PRIVMSG".len() + target.len() + 6 + text.len() + if action { 9 } else { 0 }
}

/// `text` from `from` to `target` as `command` lines, split so each fits
/// in 512 bytes; an action is wrapped as a CTCP ACTION in every piece.
pub(crate) fn privmsgs_as(
    from: &str,
    command: &str,
    target: &str,
    text: &str,
    action: bool,
) -> String {
    let overhead = relayed_len(from, target, "", action) - "PRIVMSG".len() + command.len();
    let mut out = String::new();
    for piece in split_text(text, MAX_LINE.saturating_sub(overhead)) {
        let piece = match action {
            true => format!("\x01ACTION {piece}\x01"),
            false => piece.to_string(),
        };
        out.push_str(&text_line(from, command, &[target, &piece]));
    }
    out
}

/// The replay of a room: `NOTICE`s from the server to the channel, each
/// with the time it was said. Not `PRIVMSG`s from the original senders:
/// those would read as live (clients would highlight, log and answer them
/// as new, stamped with the time of arrival), and nobody answers a NOTICE.
fn replay(server: &str, room: &str, messages: &[Message]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    let channel = hash(room);
    let header = format!(
        "last {} in {channel}:",
        protocol::count_of_messages(messages.len())
    );
    let mut out = line(server, "NOTICE", &[&channel, &header]);
    for message in messages {
        let when = short_time(&message.time);
        let text = match message.action {
            true => format!("[{when}] * {} {}", message.from, message.text),
            false => format!("[{when}] <{}> {}", message.from, message.text),
        };
        out.push_str(&privmsgs_as(server, "NOTICE", &channel, &text, false));
    }
    out
}

/// `2026-11-24 13:05` from `2026-11-24T13:05:09Z` (UTC); anything else as
/// it is.
fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) if rfc3339.as_bytes().get(10) == Some(&b'T') => {
            format!("{date} {time}")
        }
        _ => rfc3339.to_string(),
    }
}

/// 332 and 333, or 331 when there is no topic (only when asked: on a join
/// no topic means no line).
pub(crate) fn topic_reply(
    server: &str,
    you: &str,
    room: &str,
    topic: Option<&Topic>,
    asked: bool,
) -> String {
    let channel = hash(room);
    match topic {
        Some(topic) => {
            let mut out = numeric(server, "332", you, &[&channel, &topic.text]);
            let at = topic.at.to_string();
            out.push_str(&numeric(server, "333", you, &[&channel, &topic.by, &at]));
            out
        }
        None if asked => numeric(server, "331", you, &[&channel, "No topic is set"]),
        None => String::new(),
    }
}

/// 353 (as many as the names need) and 366.
pub(crate) fn names_reply(server: &str, you: &str, room: &str, names: &[Member]) -> String {
    let channel = hash(room);
    // `:server 353 you = #room :` and CRLF
    let overhead = server.len() + you.len() + channel.len() + 14;
    let mut out = String::new();
    let mut batch = String::new();
    for member in names {
        let name = format!("{}{}", member.mark(), member.name);
        if !batch.is_empty() && overhead + batch.len() + 1 + name.len() > MAX_LINE {
            out.push_str(&numeric(server, "353", you, &["=", &channel, &batch]));
            batch.clear();
        }
        if !batch.is_empty() {
            batch.push(' ');
        }
        batch.push_str(&name);
    }
    if !batch.is_empty() {
        out.push_str(&numeric(server, "353", you, &["=", &channel, &batch]));
    }
    out.push_str(&numeric(
        server,
        "366",
        you,
        &[&channel, "End of /NAMES list"],
    ));
    out
}

/// `ERROR :Closing link: nick[cloak] (why)`: the last line before the
/// server closes an IRC connection.
pub(crate) fn closing_link(you: &str, why: &str) -> String {
    let text = format!("Closing link: {you}[{}] ({why})", Frontend::Irc.cloak());
    text_line("", "ERROR", &[&text])
}

/// A terminal reply as server `NOTICE`s, one per line, without the `* ` or
/// `! ` in front.
fn notices(server: &str, you: &str, lines: &str) -> String {
    lines
        .lines()
        .map(|l| l.strip_prefix("* ").or(l.strip_prefix("! ")).unwrap_or(l))
        .map(|l| line(server, "NOTICE", &[you, l]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "lanchat.local";

    fn message(text: &str, action: bool) -> Message {
        Message {
            room: "general".into(),
            from: "alice".into(),
            text: text.into(),
            action,
            time: "2026-11-24T13:05:09Z".into(),
        }
    }

    fn shared(event: &Event) -> String {
        render(event, SERVER, "*")
    }

    #[test]
    fn chat_traffic_names_the_sender_and_its_way_in() {
        let said = Event::Said {
            message: message("waves", true),
            via: Frontend::Web,
            notice: false,
        };
        assert_eq!(
            shared(&said),
            ":alice!alice@web PRIVMSG #general :\x01ACTION waves\x01\r\n"
        );
        let joined = Event::Joined {
            room: "dev".into(),
            name: "bob".into(),
            via: Frontend::Irc,
        };
        assert_eq!(shared(&joined), ":bob!bob@irc JOIN #dev\r\n");
        let renamed = Event::Renamed {
            old: "bob".into(),
            new: "rob".into(),
            via: Frontend::Terminal,
        };
        assert_eq!(shared(&renamed), ":bob!bob@terminal NICK rob\r\n");
        let topic = Event::TopicSet {
            room: "dev".into(),
            name: "bob".into(),
            via: Frontend::Terminal,
            text: "release day".into(),
        };
        assert_eq!(
            shared(&topic),
            ":bob!bob@terminal TOPIC #dev :release day\r\n"
        );
    }

    #[test]
    fn a_departure_is_a_part_or_one_quit() {
        let left = |how| Event::Left {
            room: "dev".into(),
            name: "bob".into(),
            via: Frontend::Terminal,
            how,
            reason: None,
        };
        assert_eq!(
            shared(&left(Leaving::Parted)),
            ":bob!bob@terminal PART #dev\r\n"
        );
        assert_eq!(shared(&left(Leaving::Quit)), "");
        assert_eq!(shared(&left(Leaving::Kicked)), "");
        let quit = Event::Quit {
            name: "bob".into(),
            via: Frontend::Terminal,
            reason: "Connection closed".into(),
        };
        assert_eq!(
            shared(&quit),
            ":bob!bob@terminal QUIT :Connection closed\r\n"
        );
    }

    #[test]
    fn a_long_message_is_split_never_cut() {
        let text = "é".repeat(1000); // 2000 bytes
        let said = Event::Said {
            message: message(&text, false),
            via: Frontend::Terminal,
            notice: false,
        };
        let out = shared(&said);
        let mut joined = String::new();
        for l in out.split_inclusive("\r\n") {
            assert!(l.len() <= MAX_LINE, "{}", l.len());
            let m = super::super::message::Message::parse(l.trim_end()).expect("line");
            joined.push_str(&m.params[1]);
        }
        assert!(out.split_inclusive("\r\n").count() >= 4);
        assert_eq!(joined, text);
    }

    #[test]
    fn room_operators_changes_are_modes_and_kicks() {
        let alice = || {
            Some(Actor {
                name: "alice".into(),
                via: Frontend::Terminal,
            })
        };
        let changed = |by, change| Event::RoomChanged {
            room: "dev".into(),
            by,
            change,
        };
        let op = RoomChange::Operator {
            name: "bob".into(),
            on: true,
        };
        let cases = [
            (
                changed(alice(), op.clone()),
                ":alice!alice@terminal MODE #dev +o bob\r\n",
            ),
            (changed(None, op), ":lanchat.local MODE #dev +o bob\r\n"),
            (
                changed(
                    alice(),
                    RoomChange::Ban {
                        name: "Bob".into(),
                        on: false,
                    },
                ),
                ":alice!alice@terminal MODE #dev -b Bob!*@*\r\n",
            ),
            (
                changed(alice(), RoomChange::TopicLock(true)),
                ":alice!alice@terminal MODE #dev +t\r\n",
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(render(&event, SERVER, "*"), expected);
        }
        let kick = |reason: Option<&str>| Event::KickedFrom {
            room: "dev".into(),
            name: "bob".into(),
            by: alice().expect("an actor"),
            reason: reason.map(str::to_string),
        };
        assert_eq!(
            render(&kick(Some("spam")), SERVER, "*"),
            ":alice!alice@terminal KICK #dev bob :spam\r\n"
        );
        assert_eq!(
            render(&kick(None), SERVER, "*"),
            ":alice!alice@terminal KICK #dev bob :alice\r\n"
        );
        let bans = Event::RoomBans {
            room: "dev".into(),
            names: vec!["bob".into()],
        };
        assert_eq!(
            render(&bans, SERVER, "al"),
            ":lanchat.local 367 al #dev bob!*@*\r\n\
             :lanchat.local 368 al #dev :End of channel ban list\r\n"
        );
    }

    #[test]
    fn a_reply_names_its_recipient() {
        let joined = Event::YouJoined {
            room: "dev".into(),
            topic: Some(Topic {
                text: "release day".into(),
                by: "bob".into(),
                at: 1700000000,
            }),
            names: vec![Member::test("al", true), Member::test("bob", false)],
        };
        assert_eq!(
            render(&joined, SERVER, "al"),
            ":al!al@irc JOIN #dev\r\n\
             :lanchat.local 332 al #dev :release day\r\n\
             :lanchat.local 333 al #dev bob 1700000000\r\n\
             :lanchat.local 353 al = #dev :@al bob\r\n\
             :lanchat.local 366 al #dev :End of /NAMES list\r\n"
        );
        let direct = Event::Direct {
            from: "bob".into(),
            via: Frontend::Terminal,
            to: "al".into(),
            text: "psst".into(),
            style: Style::Plain,
        };
        assert_eq!(
            render(&direct, SERVER, "al"),
            ":bob!bob@terminal PRIVMSG al :psst\r\n"
        );
        let kicked = Event::Kicked {
            reason: Some("spam".into()),
        };
        assert_eq!(
            render(&kicked, SERVER, "al"),
            "ERROR :Closing link: al[irc] (Kicked by the operator: spam)\r\n"
        );
    }

    #[test]
    fn a_replay_is_notices_from_the_server_with_the_time() {
        let replay = Event::Replay {
            room: "general".into(),
            messages: vec![message("hi", false), message("waves", true)],
        };
        assert_eq!(
            render(&replay, SERVER, "al"),
            ":lanchat.local NOTICE #general :last 2 messages in #general:\r\n\
             :lanchat.local NOTICE #general :[2026-11-24 13:05] <alice> hi\r\n\
             :lanchat.local NOTICE #general :[2026-11-24 13:05] * alice waves\r\n"
        );
        let empty = Event::Replay {
            room: "general".into(),
            messages: vec![],
        };
        assert_eq!(render(&empty, SERVER, "al"), "");
    }

    #[test]
    fn many_names_take_several_353s() {
        let names: Vec<Member> = (0..100)
            .map(|i| Member::test(&format!("someone-{i:03}"), i % 2 == 0))
            .collect();
        let out = names_reply(SERVER, "al", "big", &names);
        let lines: Vec<&str> = out.split_inclusive("\r\n").collect();
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE));
        assert!(lines[lines.len() - 1].contains(" 366 "));
    }
}
