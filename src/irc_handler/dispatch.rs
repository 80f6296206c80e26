//! The commands of a registered IRC client, each mapped onto the shared
//! chat: [`commands::execute`] where a lanchat command says the same
//! (`JOIN`, `PART`, `NICK`, `TOPIC`, so every rule is checked in one
//! place), the registry's queries for IRC's own questions (`WHO`, `WHOIS`,
//! `LIST`, ...), and numerics for the answers and the refusals.

use crate::commands::{self, Outcome, Refusal};
use crate::event::{Frontend, Member, Style};
use crate::irc::message::MAX_LINE;
use crate::irc::message::{line, text_line, Message};
use crate::irc::registration::pong;
use crate::irc::render::{hash, names_reply, relayed_len};
use crate::irc::{lusers, numeric, prefix};
use crate::protocol::{self, Command};
use crate::registry::{ChatError, Session};
use crate::rooms::normalize_room_name;

use super::{moderation, queries, Connection, Flow};

/// Replies to one client: lines to queue, or the end of the session.
pub(super) type Reply = Result<String, Flow>;

/// Carries out one command and sends its reply.
pub(super) fn run(conn: &Connection, msg: &Message, session: &mut Session) -> Flow {
    // The operator may have renamed this session since its last line: the
    // replies below name it as it is now.
    if conn.ctx.registry.refresh(session).is_err() {
        return Flow::Gone;
    }
    let reply = match msg.command.as_str() {
        "PRIVMSG" | "NOTICE" => message(conn, msg, session),
        "JOIN" => join(conn, msg, session),
        "PART" => part(conn, msg, session),
        "NICK" => nick(conn, msg, session),
        "TOPIC" => topic(conn, msg, session),
        "MODE" => moderation::mode(conn, msg, session),
        "KICK" => moderation::kick(conn, msg, session),
        "SILENCE" => moderation::silence(conn, msg, session),
        "QUIT" => return Flow::Quit(quit_reason(msg)),
        "PING" => Ok(pong(msg, conn.server(), session.name())),
        "PONG" => Ok(String::new()),
        other => query(conn, other, msg, session),
    };
    let lines = match reply {
        Ok(lines) => lines,
        Err(flow) => return flow,
    };
    if lines.is_empty() {
        return Flow::Continue;
    }
    match conn.send(&lines) {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Gone,
    }
}

/// The commands that only ask or answer, and change no one else's view.
fn query(conn: &Connection, command: &str, msg: &Message, session: &Session) -> Reply {
    let you = session.name();
    let server = conn.server();
    Ok(match command {
        "NAMES" => names(conn, msg, you),
        "WHO" => queries::who(conn, msg, you),
        "WHOIS" => queries::whois(conn, msg, you),
        "LIST" => queries::list(conn, msg, you),
        "ISON" => queries::ison(conn, msg, you),
        "USERHOST" => queries::userhost(conn, msg, you),
        "AWAY" => away(conn, msg, session)?,
        "LUSERS" => {
            let (online, max, rooms) = conn.ctx.registry.population();
            lusers(server, you, (online, max), rooms)
        }
        "MOTD" => crate::irc::motd(server, you, &conn.ctx.registry.motd()),
        "CAP" => cap(conn, msg, you),
        "USER" | "PASS" => numeric(server, "462", you, &["You may not reregister"]),
        other => numeric(server, "421", you, &[other, "Unknown command"]),
    })
}

/// `QUIT [reason]`: the reason others see.
fn quit_reason(msg: &Message) -> String {
    match msg.param(0) {
        Some(reason) => format!("Quit: {}", protocol::sanitize(reason)),
        None => "Quit".to_string(),
    }
}

/// A command run through the shared rules; a refusal as `Err`.
pub(super) fn execute(
    conn: &Connection,
    command: Command,
    session: &mut Session,
) -> Result<(), Refused> {
    match commands::execute(command, session, conn.ctx) {
        Ok(Outcome::Continue) => Ok(()),
        Ok(_) | Err(Refusal::Chat(ChatError::Gone)) => Err(Refused::Gone),
        Err(Refusal::Chat(e)) => Err(Refused::Chat(e)),
        Err(other) => Err(Refused::Other(other.to_string())),
    }
}

/// Why a command was refused, as far as the numerics care.
pub(super) enum Refused {
    Gone,
    Chat(ChatError),
    Other(String),
}

impl Refused {
    /// The numeric for a refusal (or the end of the session).
    pub(super) fn numeric(self, conn: &Connection, you: &str, command: &str) -> Reply {
        let server = conn.server();
        let chat = match self {
            Refused::Gone => return Err(Flow::Gone),
            Refused::Other(text) => return Ok(line(server, "NOTICE", &[you, &text])),
            Refused::Chat(e) => e,
        };
        Ok(match chat {
            ChatError::Gone => return Err(Flow::Gone),
            ChatError::Taken(name) => {
                numeric(server, "433", you, &[&name, "Nickname is already in use"])
            }
            ChatError::Registered(name) => {
                let why = "Nickname is registered to someone else";
                numeric(server, "433", you, &[&name, why])
            }
            ChatError::BadName(e) => numeric(server, "432", you, &[command, &e.to_string()]),
            ChatError::NotOnline(name) => {
                numeric(server, "401", you, &[&name, "No such nick/channel"])
            }
            ChatError::NotInRoom(room) if exists(conn, &room) => numeric(
                server,
                "442",
                you,
                &[&hash(&room), "You're not on that channel"],
            ),
            ChatError::NotInRoom(room) | ChatError::NoSuchRoom(room) => {
                numeric(server, "403", you, &[&hash(&room), "No such channel"])
            }
            ChatError::NotOperator(room) => numeric(
                server,
                "482",
                you,
                &[&hash(&room), "You're not channel operator"],
            ),
            ChatError::TargetNotInRoom { name, room } => numeric(
                server,
                "441",
                you,
                &[&name, &hash(&room), "They aren't on that channel"],
            ),
            ChatError::BannedFromRoom(room) => numeric(
                server,
                "474",
                you,
                &[&hash(&room), "Cannot join channel (+b)"],
            ),
            ChatError::TooManyBans(room) => numeric(
                server,
                "478",
                you,
                &[&hash(&room), "b", "Channel ban list is full"],
            ),
            other => line(server, "NOTICE", &[you, &other.to_string()]),
        })
    }
}

/// Whether a room exists (has members).
fn exists(conn: &Connection, room: &str) -> bool {
    conn.ctx.registry.people_in(room).is_ok()
}

/// A channel name as a room: `Err` holds the numeric for a bad one.
pub(super) fn room_of(conn: &Connection, you: &str, channel: &str) -> Result<String, String> {
    let server = conn.server();
    if !channel.starts_with('#') {
        return Err(numeric(server, "403", you, &[channel, "No such channel"]));
    }
    normalize_room_name(channel)
        .map_err(|_| numeric(server, "479", you, &[channel, "Illegal channel name"]))
}

/// 461 for `command`.
pub(super) fn need_more_params(conn: &Connection, you: &str, command: &str) -> String {
    numeric(
        conn.server(),
        "461",
        you,
        &[command, "Not enough parameters"],
    )
}

/// `JOIN #a,#b` (keys are ignored: rooms have none), or `JOIN 0` to leave
/// every room.
fn join(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let Some(targets) = msg.param(0) else {
        return Ok(need_more_params(conn, session.name(), "JOIN"));
    };
    if targets == "0" {
        let rooms = conn.ctx.registry.rooms_of(session).unwrap_or_default();
        let parts = rooms.into_iter().map(|r| Command::Leave(Some(r)));
        return run_each(conn, session, "JOIN", parts.collect());
    }
    for channel in targets.split(',').filter(|c| !c.is_empty()) {
        // One target at a time, each answered before the next, in order.
        let answer = match room_of(conn, session.name(), channel) {
            Ok(room) => run_each(conn, session, "JOIN", vec![Command::Join(room)])?,
            Err(numeric) => numeric,
        };
        send_now(conn, &answer)?;
    }
    Ok(String::new())
}

/// Sends lines now, before the next target of a command is carried out.
pub(super) fn send_now(conn: &Connection, lines: &str) -> Result<(), Flow> {
    if lines.is_empty() {
        return Ok(());
    }
    conn.send(lines).map_err(|_| Flow::Gone)
}

/// Runs commands one after the other; the numerics of the refused ones.
fn run_each(conn: &Connection, session: &mut Session, name: &str, commands: Vec<Command>) -> Reply {
    let mut out = String::new();
    for command in commands {
        if let Err(refused) = execute(conn, command, session) {
            out.push_str(&refused.numeric(conn, session.name(), name)?);
        }
    }
    Ok(out)
}

/// `PART #a,#b [reason]`: the registry's leave, which (unlike `/leave`)
/// carries the reason to the others.
fn part(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let Some(targets) = msg.param(0) else {
        return Ok(need_more_params(conn, session.name(), "PART"));
    };
    let reason = msg.param(1).map(protocol::sanitize);
    let you = session.name().to_string();
    for channel in targets.split(',').filter(|c| !c.is_empty()) {
        let answer = match room_of(conn, &you, channel) {
            Ok(room) => match conn
                .ctx
                .registry
                .leave(session, Some(&room), reason.as_deref())
            {
                Ok(_) => String::new(),
                Err(e) => Refused::Chat(e).numeric(conn, &you, "PART")?,
            },
            Err(_) => numeric(conn.server(), "403", &you, &[channel, "No such channel"]),
        };
        send_now(conn, &answer)?;
    }
    Ok(String::new())
}

/// `NICK new`: the shared `/nick`, with its account rules.
fn nick(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let you = session.name().to_string();
    let Some(new) = msg.param(0) else {
        return Ok(numeric(conn.server(), "431", &you, &["No nickname given"]));
    };
    if new == you {
        return Ok(String::new());
    }
    if protocol::validate_name(new).is_err() {
        return Ok(numeric(
            conn.server(),
            "432",
            &you,
            &[new, "Erroneous nickname"],
        ));
    }
    match execute(conn, Command::Nick(new.to_string()), session) {
        Ok(()) => Ok(String::new()),
        Err(refused) => refused.numeric(conn, &you, new),
    }
}

/// `TOPIC #room` asks; `TOPIC #room :text` sets (an empty text clears).
fn topic(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let you = session.name().to_string();
    let Some(channel) = msg.param(0) else {
        return Ok(need_more_params(conn, &you, "TOPIC"));
    };
    let room = match room_of(conn, &you, channel) {
        Ok(room) => room,
        Err(numeric) => return Ok(numeric),
    };
    let text = msg
        .params
        .get(1)
        .map(|t| protocol::sanitize(t).trim().to_string());
    let command = Command::Topic {
        room: Some(room),
        text,
    };
    match execute(conn, command, session) {
        Ok(()) => Ok(String::new()),
        Err(refused) => refused.numeric(conn, &you, "TOPIC"),
    }
}

/// `PRIVMSG`/`NOTICE targets :text`, to rooms and to people; a CTCP
/// ACTION is `/me`. A `NOTICE` is never answered with an error (RFC 1459:
/// so that two programs cannot answer each other forever).
fn message(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let you = session.name().to_string();
    let notice = msg.command == "NOTICE";
    let server = conn.server();
    let Some(targets) = msg.param(0) else {
        let why = format!("No recipient given ({})", msg.command);
        return Ok(quiet_if(notice, numeric(server, "411", &you, &[&why])));
    };
    let raw = msg.params.get(1).map_or("", String::as_str);
    let Some((text, action)) = ctcp(raw) else {
        return Ok(String::new()); // a CTCP request we do not answer
    };
    if text.trim().is_empty() {
        let empty = numeric(server, "412", &you, &["No text to send"]);
        return Ok(quiet_if(notice, empty));
    }
    let style = match (notice, action) {
        (_, true) => Style::Action,
        (true, false) => Style::Notice,
        (false, false) => Style::Plain,
    };
    let mut out = String::new();
    for target in targets.split(',').filter(|t| !t.is_empty()).take(4) {
        // Relayed, the line gains our prefix: one that would no longer fit
        // in 512 bytes is refused (417) rather than cut or split, so what
        // an IRC user sends arrives as one line, whole.
        let from = prefix(&you, Frontend::Irc);
        if relayed_len(&from, target, &text, action) > MAX_LINE {
            out.push_str(&conn.too_long(&you));
            continue;
        }
        out.push_str(&deliver(conn, session, target, &text, style)?);
    }
    Ok(out)
}

/// `lines`, unless this is a `NOTICE` (which gets no error replies).
fn quiet_if(notice: bool, lines: String) -> String {
    if notice {
        String::new()
    } else {
        lines
    }
}

/// The text of a message, sanitized, and whether it is a CTCP ACTION;
/// None for any other CTCP (`VERSION`, `PING`...), which we do not answer.
fn ctcp(raw: &str) -> Option<(String, bool)> {
    let Some(inner) = raw.strip_prefix('\x01') else {
        return Some((protocol::sanitize(raw), false));
    };
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let action = inner.strip_prefix("ACTION ")?;
    Some((protocol::sanitize(action), true))
}

/// One message to one target: a room or a person.
fn deliver(
    conn: &Connection,
    session: &mut Session,
    target: &str,
    text: &str,
    style: Style,
) -> Reply {
    let notice = style == Style::Notice;
    let registry = conn.ctx.registry;
    let you = session.name().to_string();
    let server = conn.server();
    if target.starts_with('#') {
        let room = match room_of(conn, &you, target) {
            Ok(room) => room,
            Err(numeric) => return Ok(quiet_if(notice, numeric)),
        };
        return match registry.say(session, Some(&room), text, style) {
            Ok(()) => Ok(String::new()),
            Err(ChatError::Muted(_)) => Ok(quiet_if(
                notice,
                numeric(
                    server,
                    "404",
                    &you,
                    &[target, "Cannot send to channel (+m)"],
                ),
            )),
            Err(ChatError::NotInRoom(room)) if exists(conn, &room) => Ok(quiet_if(
                notice,
                numeric(server, "404", &you, &[target, "Cannot send to channel"]),
            )),
            Err(e) => Ok(quiet_if(
                notice,
                Refused::Chat(e).numeric(conn, &you, target)?,
            )),
        };
    }
    match registry.direct(session, target, text, style) {
        Ok(Some(away)) if !notice => Ok(numeric(server, "301", &you, &[target, &away])),
        Ok(_) => Ok(String::new()),
        Err(e) => Ok(quiet_if(
            notice,
            Refused::Chat(e).numeric(conn, &you, target)?,
        )),
    }
}

/// `NAMES #room`: 353s and 366 (only the 366 for a room that does not
/// exist, or with no room given).
fn names(conn: &Connection, msg: &Message, you: &str) -> String {
    let server = conn.server();
    let Some(channel) = msg.param(0).and_then(|c| c.split(',').next()) else {
        return numeric(server, "366", you, &["*", "End of /NAMES list"]);
    };
    let people = normalize_room_name(channel)
        .ok()
        .filter(|_| channel.starts_with('#'))
        .and_then(|room| Some((conn.ctx.registry.people_in(&room).ok()?, room)));
    match people {
        Some((people, room)) => {
            let names: Vec<Member> = (people.into_iter())
                .map(|p| Member {
                    operator: p.operator_of.contains(&room),
                    voiced: p.voiced_in.contains(&room),
                    name: p.name,
                })
                .collect();
            names_reply(server, you, &room, &names)
        }
        None => numeric(server, "366", you, &[channel, "End of /NAMES list"]),
    }
}

/// `AWAY :text` marks the client away (306); `AWAY` alone, back (305).
fn away(conn: &Connection, msg: &Message, session: &Session) -> Reply {
    let you = session.name();
    let text = msg.param(0).map(protocol::sanitize);
    let text = text.filter(|t| !t.trim().is_empty());
    if conn
        .ctx
        .registry
        .set_away(session, text.as_deref())
        .is_err()
    {
        return Err(Flow::Gone);
    }
    Ok(match text {
        Some(_) => numeric(
            conn.server(),
            "306",
            you,
            &["You have been marked as being away"],
        ),
        None => numeric(
            conn.server(),
            "305",
            you,
            &["You are no longer marked as being away"],
        ),
    })
}

/// `CAP` after registration: we still offer nothing.
fn cap(conn: &Connection, msg: &Message, you: &str) -> String {
    let server = conn.server();
    match msg.param(0).map(str::to_ascii_uppercase).as_deref() {
        Some("LS") => text_line(server, "CAP", &[you, "LS", ""]),
        Some("LIST") => text_line(server, "CAP", &[you, "LIST", ""]),
        Some("REQ") => {
            let asked = msg.params.get(1).map_or("", String::as_str);
            text_line(server, "CAP", &[you, "NAK", asked])
        }
        Some("END") => String::new(),
        Some(other) => numeric(server, "410", you, &[other, "Invalid CAP command"]),
        None => need_more_params(conn, you, "CAP"),
    }
}
