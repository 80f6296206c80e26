//! The terminal protocol: a line of text in, a [`Command`] out; an
//! [`Event`] in, the lines a terminal shows out.
//!
//! **Parse, then act.** [`Command::parse`] is a pure function from text to
//! a value, unit-tested below; the [`commands`](crate::commands) module only
//! dispatches on the value. The other protocols (the web page sends the same
//! lines; an IRC frontend would map its own commands) meet on the same
//! [`Command`], so every rule is checked in one place.
//!
//! **Render, do not format in place.** [`render`] is the terminal's wire
//! format for every [`Event`], and the only place that knows it. The lines
//! start with `* ` (notice), `! ` (error), `[#room]`, `[DM]` or `[server]`;
//! docs/PROTOCOL.md is the contract.
//!
//! Framing the byte stream into lines is a socket technique and lives in
//! [`net::lines`](crate::net::lines).

use std::fmt;

use crate::event::{Actor, Event, Leaving, Member, Message, RoomChange, Style, Topic};
use crate::rooms::{normalize_room_name, BadRoomName};

/// The longest name, in bytes (all allowed characters are ASCII).
pub const MAX_NAME: usize = 24;

/// Removes control characters (escape sequences, bells, NULs, C1 codes)
/// and invisible format characters, and turns tabs into spaces, so nothing
/// a client sends can drive another user's terminal, hide in a name or
/// reorder the text around it, and tabs can separate fields in the chat
/// log.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() || is_format(c) => None,
            c => Some(c),
        })
        .collect()
}

/// Whether `c` is an invisible format character (Unicode category Cf).
/// Among them the bidirectional controls (U+202A–U+202E, U+2066–U+2069),
/// which make `gpj.exe` read as `exe.jpg` ("Trojan Source"), and the zero
/// widths (U+200B–U+200F, U+2060–U+2064, U+FEFF) and the soft hyphen
/// (U+00AD), which make two different strings look the same.
///
/// std has no Unicode categories, so this is the Cf list of Unicode 15.1,
/// written out; a production server would use a crate that tracks Unicode.
/// The price: the zero width joiner (U+200D) goes too, so an emoji built
/// with it (a family) shows as its separate people, and the tag characters
/// (U+E0020–U+E007F) of a subdivision flag go, leaving a plain black flag.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadName {
    Length,
    Characters,
    Reserved,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadName::Length => write!(f, "name must be 1 to {MAX_NAME} characters"),
            BadName::Characters => write!(f, "name may only contain letters, digits, _ and -"),
            BadName::Reserved => write!(f, "the name server is reserved"),
        }
    }
}

impl std::error::Error for BadName {}

/// Checks a name against the rules: 1 to 24 of `A-Z a-z 0-9 _ -`, and not
/// `server` in any case (that prefix is the operator's).
pub fn validate_name(name: &str) -> Result<(), BadName> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(BadName::Length);
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(BadName::Characters);
    }
    if name.eq_ignore_ascii_case("server") {
        return Err(BadName::Reserved);
    }
    Ok(())
}

/// The key a name is stored under: names are unique ignoring case.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// One line from a client, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An empty line: ignored.
    Empty,
    /// Plain text for the current room.
    Say(String),
    /// `#room text`
    SayIn { room: String, text: String },
    /// `@name text`
    Direct { to: String, text: String },
    /// `/join room`
    Join(String),
    /// `/leave [room]`
    Leave(Option<String>),
    /// `/rooms`
    Rooms,
    /// `/users [room]`
    Users(Option<String>),
    /// `/nick name`
    Nick(String),
    /// `/me action`
    Me(String),
    /// `/topic [text]`: show, or set, the topic of a room (the current
    /// room when `room` is None; a terminal always means that one). An
    /// empty text clears it (IRC `TOPIC #room :`).
    Topic {
        room: Option<String>,
        text: Option<String>,
    },
    /// `/help`
    Help,
    /// `/register password`: protect the current name with a password.
    Register(String),
    /// `/password old new`
    Password { old: String, new: String },
    /// `/unregister password`
    Unregister(String),
    /// `/history [room] [N]`: the last `count` messages of a room (default:
    /// the current one), read from the log.
    History { room: Option<String>, count: usize },
    /// `/ignore name` (or `/ignore`: the list): stop getting someone's
    /// messages, actions and direct messages.
    Ignore(Option<String>),
    /// `/unignore name`
    Unignore(String),
    /// A room operator's command (`/op`, `/kick`, `/ban`, `/lock`...) for
    /// `room`, or the current room when None. Boxed: it is the biggest
    /// command, and every `Command` is as big as its biggest variant, in
    /// the stack frame of every connection's read loop.
    Moderate {
        room: Option<String>,
        action: Box<Moderation>,
    },
    /// `/quit`, `quit` or `bye`
    Quit,
}

/// What a room operator asks for: IRC's `MODE #room +o/+b/+t` and `KICK`,
/// as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// `/op name` (`on`), `/deop name`.
    Operator { name: String, on: bool },
    /// `/kick name [reason]`: out of the room, not off the server.
    Kick {
        name: String,
        reason: Option<String>,
    },
    /// `/ban name` (`on`), `/unban name`: a banned name cannot join.
    Ban { name: String, on: bool },
    /// `/ban` alone: the room's ban list (anyone in the room may see it).
    Bans,
    /// `/lock` (`true`), `/unlock`: whether only operators set the topic.
    TopicLock(bool),
    /// `/voice name` (`on`), `/devoice name`: may speak when moderated.
    Voice { name: String, on: bool },
    /// `/moderate` (`true`), `/unmoderate`: whether only operators and
    /// voiced members may speak.
    Moderated(bool),
}

/// The most people one client may ignore (`/ignore`, IRC's `SILENCE`):
/// the list is kept in memory for as long as the client is online, so it
/// has a bound like everything else.
pub const MAX_IGNORED: usize = 100;

/// How many messages `/history` shows when not told.
pub const HISTORY_DEFAULT: usize = 20;
/// The most messages one `/history` shows.
pub const HISTORY_MAX: usize = 200;

/// Why a line could not be turned into a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Unknown(String),
    /// The usage text, e.g. `/join <room>`.
    Usage(&'static str),
    BadRoom(BadRoomName),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(cmd) => write!(f, "unknown command /{cmd} (try /help)"),
            ParseError::Usage(usage) => write!(f, "usage: {usage}"),
            ParseError::BadRoom(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<BadRoomName> for ParseError {
    fn from(e: BadRoomName) -> ParseError {
        ParseError::BadRoom(e)
    }
}

impl Command {
    /// Parses one line (already sanitized) into a command.
    pub fn parse(line: &str) -> Result<Command, ParseError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Command::Empty);
        }
        if is_quit(line) {
            return Ok(Command::Quit);
        }
        if let Some(rest) = line.strip_prefix('/') {
            return parse_slash(rest);
        }
        if let Some(rest) = line.strip_prefix('#') {
            let (room, text) = split_word(rest);
            if room.is_empty() || text.is_empty() {
                return Err(ParseError::Usage("#room message"));
            }
            let room = normalize_room_name(room)?;
            return Ok(Command::SayIn {
                room,
                text: text.to_string(),
            });
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (to, text) = split_word(rest);
            if to.is_empty() || text.is_empty() {
                return Err(ParseError::Usage("@name message"));
            }
            return Ok(Command::Direct {
                to: to.to_string(),
                text: text.to_string(),
            });
        }
        Ok(Command::Say(line.to_string()))
    }
}

/// Parses what follows the `/` of a slash command.
fn parse_slash(rest: &str) -> Result<Command, ParseError> {
    let (name, arg) = split_word(rest);
    let arg = (!arg.is_empty()).then_some(arg);
    let room = |raw: Option<&str>| raw.map(normalize_room_name).transpose();
    let command = match name.to_ascii_lowercase().as_str() {
        "join" => Command::Join(room(arg)?.ok_or(ParseError::Usage("/join <room>"))?),
        "leave" => Command::Leave(room(arg)?),
        "rooms" => Command::Rooms,
        "users" => Command::Users(room(arg)?),
        "nick" => Command::Nick(arg.ok_or(ParseError::Usage("/nick <name>"))?.to_string()),
        "me" => Command::Me(arg.ok_or(ParseError::Usage("/me <action>"))?.to_string()),
        "help" => Command::Help,
        "topic" => Command::Topic {
            room: None,
            text: arg.map(str::to_string),
        },
        "register" => Command::Register(
            arg.ok_or(ParseError::Usage("/register <password>"))?
                .to_string(),
        ),
        "password" => {
            let usage = ParseError::Usage("/password <old> <new>");
            let (old, new) = split_word(arg.ok_or(usage.clone())?);
            if new.is_empty() {
                return Err(usage);
            }
            Command::Password {
                old: old.to_string(),
                new: new.to_string(),
            }
        }
        "unregister" => Command::Unregister(
            arg.ok_or(ParseError::Usage("/unregister <password>"))?
                .to_string(),
        ),
        "history" => parse_history(arg.unwrap_or(""))?,
        "ignore" => Command::Ignore(arg.map(str::to_string)),
        "unignore" => Command::Unignore(
            arg.ok_or(ParseError::Usage("/unignore <name>"))?
                .to_string(),
        ),
        "quit" => Command::Quit,
        "op" | "deop" | "kick" | "ban" | "unban" | "lock" | "unlock" | "voice" | "devoice"
        | "moderate" | "unmoderate" => {
            parse_moderation(&name.to_ascii_lowercase(), arg.unwrap_or(""))?
        }
        _ => return Err(ParseError::Unknown(name.to_string())),
    };
    Ok(command)
}

/// Parses the arguments of `/history [room] [N]`. An all-digit argument
/// is N, so a room whose name is all digits is written with its `#`
/// (`/history #2024 50`). N is at least 1; more than [`HISTORY_MAX`] is
/// taken as the most.
fn parse_history(args: &str) -> Result<Command, ParseError> {
    let usage = ParseError::Usage("/history [room] [N]");
    let words: Vec<&str> = args.split_whitespace().collect();
    let is_count = |word: &str| word.bytes().all(|b| b.is_ascii_digit());
    let (room, count) = match words.as_slice() {
        [] => (None, None),
        [word] if is_count(word) => (None, Some(*word)),
        [room] => (Some(*room), None),
        [room, count] if !is_count(room) && is_count(count) => (Some(*room), Some(*count)),
        _ => return Err(usage),
    };
    let count = match count.map(str::parse::<usize>) {
        None => HISTORY_DEFAULT,
        Some(Ok(0)) => return Err(usage),
        Some(Ok(n)) => n.min(HISTORY_MAX),
        Some(Err(_)) => HISTORY_MAX, // all digits, so only too big to parse
    };
    let room = room.map(normalize_room_name).transpose()?;
    Ok(Command::History { room, count })
}

/// Parses a room operator's command: `/kick [#room] name [reason]` and
/// the like. The room is the current one unless the first word names one
/// (the web page, which shows one room at a time, always names it).
fn parse_moderation(command: &str, args: &str) -> Result<Command, ParseError> {
    let (room, args) = match args.strip_prefix('#') {
        Some(_) => {
            let (room, rest) = split_word(args);
            (Some(normalize_room_name(room)?), rest)
        }
        None => (None, args),
    };
    let (name, rest) = split_word(args);
    let name = (!name.is_empty()).then(|| name.to_string());
    let usage = |text| ParseError::Usage(text);
    let action = match (command, name) {
        ("op", Some(name)) if rest.is_empty() => Moderation::Operator { name, on: true },
        ("deop", Some(name)) if rest.is_empty() => Moderation::Operator { name, on: false },
        ("kick", Some(name)) => Moderation::Kick {
            name,
            reason: (!rest.is_empty()).then(|| rest.to_string()),
        },
        ("ban", Some(name)) if rest.is_empty() => Moderation::Ban { name, on: true },
        ("ban", None) => Moderation::Bans,
        ("unban", Some(name)) if rest.is_empty() => Moderation::Ban { name, on: false },
        ("lock", None) => Moderation::TopicLock(true),
        ("unlock", None) => Moderation::TopicLock(false),
        ("voice", Some(name)) if rest.is_empty() => Moderation::Voice { name, on: true },
        ("devoice", Some(name)) if rest.is_empty() => Moderation::Voice { name, on: false },
        ("moderate", None) => Moderation::Moderated(true),
        ("unmoderate", None) => Moderation::Moderated(false),
        ("voice", _) => return Err(usage("/voice [#room] <name>")),
        ("devoice", _) => return Err(usage("/devoice [#room] <name>")),
        ("moderate", _) => return Err(usage("/moderate [#room]")),
        ("unmoderate", _) => return Err(usage("/unmoderate [#room]")),
        ("op", _) => return Err(usage("/op [#room] <name>")),
        ("deop", _) => return Err(usage("/deop [#room] <name>")),
        ("kick", _) => return Err(usage("/kick [#room] <name> [reason]")),
        ("ban", _) => return Err(usage("/ban [#room] [name]")),
        ("unban", _) => return Err(usage("/unban [#room] <name>")),
        ("lock", _) => return Err(usage("/lock [#room]")),
        _ => return Err(usage("/unlock [#room]")),
    };
    Ok(Command::Moderate {
        room,
        action: Box::new(action),
    })
}

/// Splits `"word rest of line"` into `("word", "rest of line")`.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// Whether a line looks like the request line of HTTP (`GET / HTTP/1.1`,
/// `POST /chat HTTP/1.0`: any upper-case method, a target, `HTTP/1.x`).
///
/// A browser can be made to send an HTTP request to any port, the terminal
/// port included: a cross-site form POST would arrive as a request line,
/// headers and a body, and each line would become a name or a message. No
/// name holds a space, so treating such a first line as "not a chat client"
/// costs a real client nothing.
pub fn looks_like_http_request(line: &str) -> bool {
    let mut words = line.trim().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let is_method =
        |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'-');
    let is_version = |v: &str| {
        v.strip_prefix("HTTP/1.")
            .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
    };
    is_method(method) && !target.is_empty() && is_version(version)
}

/// Whether a line asks to leave: `/quit`, `quit` or `bye`, in any case. The
/// client binary uses this too, to know that the server closing the
/// connection next is the goodbye and not a failure.
pub fn is_quit(line: &str) -> bool {
    let line = line.trim();
    ["/quit", "quit", "bye"]
        .iter()
        .any(|q| line.eq_ignore_ascii_case(q))
}

// ---------------------------------------------------------------------------
// Outgoing lines. Each event becomes whole lines, each with its `\n`, so the
// outbox sends them with one write and they cannot be interleaved.

/// The lines a terminal shows for `event`.
// Over 60 lines on purpose: one arm per kind of event, a table of the
// terminal's whole wire format that reads best in one piece.
pub(crate) fn render(event: &Event) -> String {
    match event {
        Event::Said { message, .. } => said(message),
        Event::Direct {
            from, text, style, ..
        } => match style {
            Style::Action => format!("[DM] * {from} {text}\n"),
            Style::Plain | Style::Notice => format!("[DM] {from}: {text}\n"),
        },
        Event::Joined { room, name, .. } => notice(&format!("{name} joined #{room}")),
        Event::Left {
            room, name, how, ..
        } => {
            let why = if *how == Leaving::Kicked {
                " (kicked)"
            } else {
                ""
            };
            notice(&format!("{name} left #{room}{why}"))
        }
        // A terminal has already been told per room (`Left`).
        Event::Quit { .. } => String::new(),
        Event::Renamed { old, new, .. } => notice(&format!("{old} is now known as {new}")),
        Event::TopicSet {
            room, name, text, ..
        } if text.is_empty() => notice(&format!("{name} cleared the topic of #{room}")),
        Event::TopicSet {
            room, name, text, ..
        } => notice(&format!("{name} set the topic of #{room}: {text}")),
        Event::ServerSaid(text) => format!("[server] {text}\n"),
        Event::ShuttingDown => notice("server is shutting down"),
        Event::Hello {
            name, room, motd, ..
        } => {
            let lines = motd.iter().map(|line| notice(line));
            hello(name, room.as_deref()) + &lines.collect::<String>()
        }
        Event::Replay { room, messages } => replay(room, messages),
        Event::YouJoined { room, .. } => notice(&format!("you joined #{room}")),
        Event::NowTalkingIn(room) => notice(&format!("you are now talking in #{room}")),
        Event::YouLeft { room, .. } => notice(&format!("you left #{room}")),
        Event::NowKnownAs { new, .. } => notice(&format!("you are now known as {new}")),
        Event::Topic { room, topic } => topic_line(room, topic.as_ref()),
        Event::Rooms { rooms, more } => rooms_line(rooms, *more),
        Event::Users { room, names, more } => {
            let list = member_list(names) + &and_more(*more);
            match room {
                None => notice(&format!("online: {list}")),
                Some(room) => notice(&format!("in #{room}: {list}")),
            }
        }
        Event::RoomChanged { room, by, change } => notice(&room_changed(room, by.as_ref(), change)),
        Event::KickedFrom {
            room,
            name,
            by,
            reason,
        } => {
            let why = reason.as_ref().map_or(String::new(), |r| format!(" ({r})"));
            notice(&format!(
                "{name} was kicked from #{room} by {}{why}",
                by.name
            ))
        }
        Event::RoomBans { room, names } if names.is_empty() => {
            notice(&format!("nobody is banned from #{room}"))
        }
        Event::RoomBans { room, names } => {
            notice(&format!("banned from #{room}: {}", names.join(", ")))
        }
        Event::Help => help(),
        Event::Bye(name) => notice(&format!("Bye {name}!")),
        Event::Kicked { reason: None } => notice("you were kicked by the operator"),
        Event::Kicked {
            reason: Some(reason),
        } => notice(&format!("you were kicked by the operator: {reason}")),
        Event::Notice(text) => notice(text),
        Event::Error(text) => error(text),
    }
}

/// `@alice, bob`: the names of a member list, operators marked.
fn member_list(members: &[Member]) -> String {
    let names: Vec<String> = members
        .iter()
        .map(|m| format!("{}{}", m.mark(), m.name))
        .collect();
    names.join(", ")
}

/// `alice made bob an operator of #dev`, and the like.
fn room_changed(room: &str, by: Option<&Actor>, change: &RoomChange) -> String {
    let Some(by) = by.map(|actor| &actor.name) else {
        // Only the server's succession has no actor.
        return match change {
            RoomChange::Operator { name, .. } => format!("{name} is now an operator of #{room}"),
            _ => format!("#{room} changed"),
        };
    };
    match change {
        RoomChange::Operator { name, on: true } => {
            format!("{by} made {name} an operator of #{room}")
        }
        RoomChange::Operator { name, on: false } => {
            format!("{by} removed {name} from the operators of #{room}")
        }
        RoomChange::Ban { name, on: true } => format!("{by} banned {name} from #{room}"),
        RoomChange::Ban { name, on: false } => format!("{by} lifted the ban on {name} in #{room}"),
        RoomChange::TopicLock(true) => {
            format!("{by} locked the topic of #{room}: only operators may set it")
        }
        RoomChange::TopicLock(false) => format!("{by} unlocked the topic of #{room}"),
        RoomChange::Voice { name, on: true } => {
            format!("{by} gave {name} a voice in #{room}")
        }
        RoomChange::Voice { name, on: false } => {
            format!("{by} took {name}'s voice in #{room}")
        }
        RoomChange::Moderated(true) => {
            format!("{by} moderated #{room}: only operators and voiced members may speak")
        }
        RoomChange::Moderated(false) => format!("{by} ended the moderation of #{room}"),
    }
}

/// `* Hello alice! You are in #general. ...`
fn hello(name: &str, room: Option<&str>) -> String {
    match room {
        Some(room) => notice(&format!(
            "Hello {name}! You are in #{room}. Type /help for commands."
        )),
        None => notice(&format!("Hello {name}! Type /help for commands.")),
    }
}

/// `* topic of #room: text (set by alice)`, or `* #room has no topic`.
fn topic_line(room: &str, topic: Option<&Topic>) -> String {
    match topic {
        Some(topic) => notice(&format!(
            "topic of #{room}: {} (set by {})",
            topic.text, topic.by
        )),
        None => notice(&format!("#{room} has no topic")),
    }
}

/// `[#room] name: text`, or `[#room] * name text` for an action.
fn said(message: &Message) -> String {
    let Message {
        room,
        from,
        text,
        action,
        ..
    } = message;
    if *action {
        format!("[#{room}] * {from} {text}\n")
    } else {
        format!("[#{room}] {from}: {text}\n")
    }
}

/// `1 message`, `2 messages`: the count in a replay's header, for every
/// frontend.
pub(crate) fn count_of_messages(n: usize) -> String {
    match n {
        1 => "1 message".to_string(),
        n => format!("{n} messages"),
    }
}

/// `* last N messages in #room:` and the messages, oldest first; nothing
/// if there are none.
fn replay(room: &str, messages: &[Message]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    let mut out = notice(&format!(
        "last {} in #{room}:",
        count_of_messages(messages.len())
    ));
    for message in messages {
        out.push_str(&said(message));
    }
    out
}

/// `* rooms: #dev (1), #general (3)`, or `* rooms: none`; `, and N more`
/// after the biggest when there are more.
fn rooms_line(rooms: &[(String, usize)], more: usize) -> String {
    if rooms.is_empty() {
        return notice("rooms: none");
    }
    let list: Vec<String> = rooms
        .iter()
        .map(|(name, count)| format!("#{name} ({count})"))
        .collect();
    notice(&format!("rooms: {}{}", list.join(", "), and_more(more)))
}

/// `, and N more` when a list was cut short.
fn and_more(more: usize) -> String {
    match more {
        0 => String::new(),
        n => format!(", and {n} more"),
    }
}

/// The welcome message's lines, each sanitized (a motd file must not
/// drive terminals either); trailing blank lines dropped.
pub(crate) fn motd_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| sanitize(l).trim_end().to_string())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// `* text`: a notice.
pub(crate) fn notice(text: &str) -> String {
    format!("* {text}\n")
}

/// `! text`: an error; the connection stays open.
pub(crate) fn error(text: impl fmt::Display) -> String {
    format!("! {text}\n")
}

/// The reply to `/help`.
fn help() -> String {
    [
        "commands:",
        "  text                 say text in your current room",
        "  #room text           say text in another room you are in",
        "  @name text           send a direct message",
        "  @server text         send a message to the server's operator",
        "  /join room           join a room (or switch to it) and see its history",
        "  /leave [room]        leave a room (default: the current one)",
        "  /rooms               list the rooms",
        "  /users [room]        list who is online, or who is in a room",
        "  /nick name           change your name",
        "  /me action           act in your current room: /me waves",
        "  /topic [text]        show, or set, the topic of your current room",
        "  /register password   protect your name with a password",
        "  /password old new    change your password",
        "  /unregister password give up your registered name",
        "  /history [room] [N]  the last N messages of a room (default 20)",
        "  /ignore [name]       stop seeing someone's messages (alone: the list)",
        "  /unignore name       see them again",
        "room operators (the room's creator, and whom they make one):",
        "  /op name, /deop name make someone an operator of your room, or not",
        "  /kick name [reason]  put someone out of your room",
        "  /ban [name]          keep a name out of your room (alone: the list)",
        "  /unban name          let them in again",
        "  /lock, /unlock       only operators may set the topic, or anyone",
        "  /moderate, /unmoderate  only operators and the voiced may speak, or anyone",
        "  /voice name, /devoice name  let someone speak in a moderated room, or not",
        "  (each takes a #room first for a room other than your current one)",
        "  /help                show this help",
        "  /quit (or quit, bye) leave the chat",
    ]
    .iter()
    .map(|line| notice(line))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Frontend;

    #[test]
    fn http_request_lines_are_recognized() {
        for line in [
            "GET / HTTP/1.1",
            "GET /index.html?x=1 HTTP/1.0",
            "POST /chat HTTP/1.1",
            "PUT * HTTP/1.1",
            "CONNECT example.com:443 HTTP/1.1",
            "M-SEARCH * HTTP/1.1",
            "OPTIONS http://127.0.0.1:7878/ HTTP/1.1",
            " GET / HTTP/1.1 ",
        ] {
            assert!(looks_like_http_request(line), "{line:?}");
        }
    }

    #[test]
    fn chat_lines_are_not_http() {
        for line in [
            "alice",
            "GET",
            "GET /",
            "get / HTTP/1.1",
            "GET / HTTP/2",
            "GET / HTTP/1.",
            "GET / HTTP/1.x",
            "GET  / HTTP/1.1",
            "I GET HTTP/1.1 now",
            "POST this HTTP/1.1 please",
            "/join #http",
        ] {
            assert!(!looks_like_http_request(line), "{line:?}");
        }
    }

    #[test]
    fn sanitize_removes_bidi_controls_and_invisible_characters() {
        // Right-to-left override: would show `evil` reversed.
        assert_eq!(sanitize("a\u{202E}live\u{202C}b"), "aliveb");
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2060}',
            '\u{2061}',
            '\u{2062}',
            '\u{2063}',
            '\u{2064}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{E0001}',
            '\u{E007F}',
        ] {
            assert_eq!(sanitize(&format!("x{c}y")), "xy", "U+{:04X}", u32::from(c));
        }
        // Visible neighbours stay: letters, marks, symbols, emoji.
        let visible = "e\u{0301} \u{2010} \u{2070} \u{FE0F} \u{FFFC} \u{1F600} Ω";
        assert_eq!(sanitize(visible), visible);
    }

    #[test]
    fn sanitize_removes_controls_and_turns_tabs_into_spaces() {
        assert_eq!(sanitize("hi\x1b[31mred\x07\tend"), "hi[31mred end");
        assert_eq!(sanitize("a\0b\u{7f}c\u{9b}d"), "abcd");
        assert_eq!(sanitize("ünïcode ok"), "ünïcode ok");
    }

    #[test]
    fn name_rules() {
        assert_eq!(validate_name("alice"), Ok(()));
        assert_eq!(validate_name("A_b-9"), Ok(()));
        assert_eq!(validate_name(&"a".repeat(24)), Ok(()));
        assert_eq!(validate_name(&"a".repeat(25)), Err(BadName::Length));
        assert_eq!(validate_name(""), Err(BadName::Length));
        assert_eq!(validate_name("al ice"), Err(BadName::Characters));
        assert_eq!(validate_name("élodie"), Err(BadName::Characters));
        assert_eq!(validate_name("Server"), Err(BadName::Reserved));
        assert_eq!(name_key("Alice"), "alice");
    }

    #[test]
    fn motd_lines_are_sanitized_and_trailing_blanks_dropped() {
        assert_eq!(motd_lines(""), Vec::<String>::new());
        assert_eq!(
            motd_lines("Welcome!\r\n\nrules: \x1b[31mbe nice\n\n\n"),
            ["Welcome!", "", "rules: [31mbe nice"]
        );
    }

    #[test]
    fn history_takes_an_optional_room_and_count() {
        let history = |room: Option<&str>, count| Command::History {
            room: room.map(str::to_string),
            count,
        };
        assert_eq!(Command::parse("/history"), Ok(history(None, 20)));
        assert_eq!(Command::parse("/history 50"), Ok(history(None, 50)));
        assert_eq!(Command::parse("/history Dev"), Ok(history(Some("dev"), 20)));
        assert_eq!(
            Command::parse("/history #dev 5"),
            Ok(history(Some("dev"), 5))
        );
        assert_eq!(
            Command::parse("/history #2024 50"),
            Ok(history(Some("2024"), 50))
        );
        assert_eq!(Command::parse("/history 100000"), Ok(history(None, 200)));
        assert_eq!(
            Command::parse("/history 99999999999999999999999"),
            Ok(history(None, 200))
        );
        for bad in [
            "/history 0",
            "/history 5 dev",
            "/history a b",
            "/history dev 5 6",
        ] {
            assert_eq!(
                Command::parse(bad),
                Err(ParseError::Usage("/history [room] [N]")),
                "{bad}"
            );
        }
    }

    #[test]
    fn plain_text_is_say() {
        assert_eq!(
            Command::parse("hello there"),
            Ok(Command::Say("hello there".into()))
        );
        assert_eq!(Command::parse("   "), Ok(Command::Empty));
        assert_eq!(
            Command::parse("  padded  "),
            Ok(Command::Say("padded".into()))
        );
    }

    #[test]
    fn room_and_direct_targets() {
        assert_eq!(
            Command::parse("#Dev hi all"),
            Ok(Command::SayIn {
                room: "dev".into(),
                text: "hi all".into()
            })
        );
        assert_eq!(
            Command::parse("@bob  psst"),
            Ok(Command::Direct {
                to: "bob".into(),
                text: "psst".into()
            })
        );
        assert_eq!(
            Command::parse("#dev"),
            Err(ParseError::Usage("#room message"))
        );
        assert_eq!(
            Command::parse("@bob"),
            Err(ParseError::Usage("@name message"))
        );
        assert_eq!(
            Command::parse("#bad! hi"),
            Err(ParseError::BadRoom(BadRoomName))
        );
    }

    #[test]
    fn slash_commands() {
        assert_eq!(
            Command::parse("/join #Dev"),
            Ok(Command::Join("dev".into()))
        );
        assert_eq!(Command::parse("/JOIN dev"), Ok(Command::Join("dev".into())));
        assert_eq!(Command::parse("/leave"), Ok(Command::Leave(None)));
        assert_eq!(
            Command::parse("/leave dev"),
            Ok(Command::Leave(Some("dev".into())))
        );
        assert_eq!(Command::parse("/rooms"), Ok(Command::Rooms));
        assert_eq!(Command::parse("/users"), Ok(Command::Users(None)));
        assert_eq!(
            Command::parse("/users #dev"),
            Ok(Command::Users(Some("dev".into())))
        );
        assert_eq!(
            Command::parse("/nick ally"),
            Ok(Command::Nick("ally".into()))
        );
        assert_eq!(
            Command::parse("/me waves hi"),
            Ok(Command::Me("waves hi".into()))
        );
        assert_eq!(Command::parse("/help"), Ok(Command::Help));
        assert_eq!(Command::parse("/ignore"), Ok(Command::Ignore(None)));
        assert_eq!(
            Command::parse("/ignore bob"),
            Ok(Command::Ignore(Some("bob".into())))
        );
        assert_eq!(
            Command::parse("/unignore bob"),
            Ok(Command::Unignore("bob".into()))
        );
        assert_eq!(
            Command::parse("/unignore"),
            Err(ParseError::Usage("/unignore <name>"))
        );
    }

    #[test]
    fn parses_the_room_operators_commands() {
        let here = |action| {
            Ok(Command::Moderate {
                room: None,
                action: Box::new(action),
            })
        };
        let name = |n: &str| n.to_string();
        assert_eq!(
            Command::parse("/op bob"),
            here(Moderation::Operator {
                name: name("bob"),
                on: true
            })
        );
        assert_eq!(
            Command::parse("/DEOP bob"),
            here(Moderation::Operator {
                name: name("bob"),
                on: false
            })
        );
        assert_eq!(
            Command::parse("/kick bob spamming links"),
            here(Moderation::Kick {
                name: name("bob"),
                reason: Some(name("spamming links"))
            })
        );
        assert_eq!(
            Command::parse("/kick bob"),
            here(Moderation::Kick {
                name: name("bob"),
                reason: None
            })
        );
        assert_eq!(
            Command::parse("/ban bob"),
            here(Moderation::Ban {
                name: name("bob"),
                on: true
            })
        );
        assert_eq!(Command::parse("/ban"), here(Moderation::Bans));
        assert_eq!(
            Command::parse("/unban bob"),
            here(Moderation::Ban {
                name: name("bob"),
                on: false
            })
        );
        assert_eq!(Command::parse("/lock"), here(Moderation::TopicLock(true)));
        assert_eq!(
            Command::parse("/unlock"),
            here(Moderation::TopicLock(false))
        );
        assert_eq!(
            Command::parse("/voice bob"),
            here(Moderation::Voice {
                name: name("bob"),
                on: true
            })
        );
        assert_eq!(
            Command::parse("/devoice bob"),
            here(Moderation::Voice {
                name: name("bob"),
                on: false
            })
        );
        assert_eq!(
            Command::parse("/moderate"),
            here(Moderation::Moderated(true))
        );
        assert_eq!(
            Command::parse("/unmoderate"),
            here(Moderation::Moderated(false))
        );
        assert_eq!(
            Command::parse("/kick #Dev bob go away"),
            Ok(Command::Moderate {
                room: Some(name("dev")),
                action: Box::new(Moderation::Kick {
                    name: name("bob"),
                    reason: Some(name("go away"))
                })
            })
        );
        assert_eq!(
            Command::parse("/lock #dev"),
            Ok(Command::Moderate {
                room: Some(name("dev")),
                action: Box::new(Moderation::TopicLock(true))
            })
        );
    }

    #[test]
    fn room_operators_commands_without_their_arguments_show_their_usage() {
        for (line, usage) in [
            ("/op", "/op [#room] <name>"),
            ("/op bob carol", "/op [#room] <name>"),
            ("/deop #dev", "/deop [#room] <name>"),
            ("/kick", "/kick [#room] <name> [reason]"),
            ("/unban", "/unban [#room] <name>"),
            ("/ban bob carol", "/ban [#room] [name]"),
            ("/lock now", "/lock [#room]"),
            ("/unlock now", "/unlock [#room]"),
            ("/voice", "/voice [#room] <name>"),
            ("/devoice", "/devoice [#room] <name>"),
            ("/moderate now", "/moderate [#room]"),
            ("/unmoderate now", "/unmoderate [#room]"),
        ] {
            assert_eq!(
                Command::parse(line),
                Err(ParseError::Usage(usage)),
                "{line}"
            );
        }
        assert!(matches!(
            Command::parse("/kick #b@d bob"),
            Err(ParseError::BadRoom(_))
        ));
        assert_eq!(
            Command::parse("/topic"),
            Ok(Command::Topic {
                room: None,
                text: None
            })
        );
        assert_eq!(
            Command::parse("/topic release day"),
            Ok(Command::Topic {
                room: None,
                text: Some("release day".into())
            })
        );
        assert_eq!(
            Command::parse("/register s3cret-pw"),
            Ok(Command::Register("s3cret-pw".into()))
        );
        assert_eq!(
            Command::parse("/password old-pass new-pass"),
            Ok(Command::Password {
                old: "old-pass".into(),
                new: "new-pass".into()
            })
        );
        assert_eq!(
            Command::parse("/unregister s3cret-pw"),
            Ok(Command::Unregister("s3cret-pw".into()))
        );
        assert_eq!(Command::parse("/quit"), Ok(Command::Quit));
        assert_eq!(Command::parse("quit"), Ok(Command::Quit));
        assert_eq!(Command::parse("BYE"), Ok(Command::Quit));
    }

    #[test]
    fn quit_words_count_only_as_the_whole_line() {
        assert_eq!(
            Command::parse("bye all"),
            Ok(Command::Say("bye all".into()))
        );
        assert!(!is_quit("quitting"));
    }

    #[test]
    fn slash_command_errors() {
        assert_eq!(
            Command::parse("/other x"),
            Err(ParseError::Unknown("other".into()))
        );
        assert_eq!(
            Command::parse("/other").map_err(|e| e.to_string()),
            Err("unknown command /other (try /help)".into())
        );
        assert_eq!(
            Command::parse("/join"),
            Err(ParseError::Usage("/join <room>"))
        );
        assert_eq!(
            Command::parse("/nick"),
            Err(ParseError::Usage("/nick <name>"))
        );
        assert_eq!(
            Command::parse("/me"),
            Err(ParseError::Usage("/me <action>"))
        );
        assert_eq!(
            Command::parse("/register"),
            Err(ParseError::Usage("/register <password>"))
        );
        assert_eq!(
            Command::parse("/password only-one"),
            Err(ParseError::Usage("/password <old> <new>"))
        );
        assert_eq!(
            Command::parse("/unregister"),
            Err(ParseError::Usage("/unregister <password>"))
        );
        assert_eq!(
            Command::parse("/join no way").map_err(|e| e.to_string()),
            Err(BadRoomName.to_string())
        );
    }

    #[test]
    fn outgoing_lines_are_whole() {
        assert_eq!(notice("hi"), "* hi\n");
        assert_eq!(error("no"), "! no\n");
        let help = help();
        assert!(help.lines().count() > 5);
        assert!(help.lines().all(|l| l.starts_with("* ")));
    }

    fn message(text: &str, action: bool) -> Message {
        Message {
            room: "dev".into(),
            from: "al".into(),
            text: text.into(),
            action,
            time: "2026-11-24T13:05:09Z".into(),
        }
    }

    fn said(text: &str, action: bool) -> Event {
        Event::Said {
            message: message(text, action),
            via: Frontend::Irc,
            notice: false,
        }
    }

    #[test]
    fn room_operators_changes_render_as_the_documented_lines() {
        let alice = || Actor {
            name: "alice".into(),
            via: Frontend::Web,
        };
        let changed = |by: Option<Actor>, change| Event::RoomChanged {
            room: "dev".into(),
            by,
            change,
        };
        let op = |on| RoomChange::Operator {
            name: "bob".into(),
            on,
        };
        let ban = |on| RoomChange::Ban {
            name: "bob".into(),
            on,
        };
        let voice = |on| RoomChange::Voice {
            name: "bob".into(),
            on,
        };
        let kicked = |reason: Option<&str>| Event::KickedFrom {
            room: "dev".into(),
            name: "bob".into(),
            by: alice(),
            reason: reason.map(str::to_string),
        };
        let cases = [
            (
                changed(Some(alice()), op(true)),
                "* alice made bob an operator of #dev\n",
            ),
            (
                changed(Some(alice()), op(false)),
                "* alice removed bob from the operators of #dev\n",
            ),
            (
                changed(None, op(true)),
                "* bob is now an operator of #dev\n",
            ),
            (
                changed(Some(alice()), ban(true)),
                "* alice banned bob from #dev\n",
            ),
            (
                changed(Some(alice()), ban(false)),
                "* alice lifted the ban on bob in #dev\n",
            ),
            (
                changed(Some(alice()), RoomChange::TopicLock(true)),
                "* alice locked the topic of #dev: only operators may set it\n",
            ),
            (
                changed(Some(alice()), RoomChange::TopicLock(false)),
                "* alice unlocked the topic of #dev\n",
            ),
            (
                changed(Some(alice()), voice(true)),
                "* alice gave bob a voice in #dev\n",
            ),
            (
                changed(Some(alice()), voice(false)),
                "* alice took bob's voice in #dev\n",
            ),
            (
                changed(Some(alice()), RoomChange::Moderated(true)),
                "* alice moderated #dev: only operators and voiced members may speak\n",
            ),
            (
                changed(Some(alice()), RoomChange::Moderated(false)),
                "* alice ended the moderation of #dev\n",
            ),
            (kicked(None), "* bob was kicked from #dev by alice\n"),
            (
                kicked(Some("spam")),
                "* bob was kicked from #dev by alice (spam)\n",
            ),
            (
                Event::RoomBans {
                    room: "dev".into(),
                    names: vec![],
                },
                "* nobody is banned from #dev\n",
            ),
            (
                Event::RoomBans {
                    room: "dev".into(),
                    names: vec!["bob".into(), "eve".into()],
                },
                "* banned from #dev: bob, eve\n",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(render(&event), line, "{event:?}");
        }
    }

    #[test]
    fn every_event_renders_as_the_documented_line() {
        let s = |s: &str| s.to_string();
        let via = Frontend::Terminal;
        let cases = [
            (said("yo", false), "[#dev] al: yo\n"),
            (said("waves", true), "[#dev] * al waves\n"),
            (
                Event::Direct {
                    from: s("al"),
                    via,
                    to: s("bo"),
                    text: s("psst"),
                    style: Style::Plain,
                },
                "[DM] al: psst\n",
            ),
            (
                Event::Direct {
                    from: s("al"),
                    via,
                    to: s("bo"),
                    text: s("waves"),
                    style: Style::Action,
                },
                "[DM] * al waves\n",
            ),
            (
                Event::Joined {
                    room: s("dev"),
                    name: s("al"),
                    via,
                },
                "* al joined #dev\n",
            ),
            (
                Event::Left {
                    room: s("dev"),
                    name: s("al"),
                    via,
                    how: Leaving::Kicked,
                    reason: None,
                },
                "* al left #dev (kicked)\n",
            ),
            (
                Event::Left {
                    room: s("dev"),
                    name: s("al"),
                    via,
                    how: Leaving::Quit,
                    reason: None,
                },
                "* al left #dev\n",
            ),
            (
                Event::Quit {
                    name: s("al"),
                    via,
                    reason: s("Quit"),
                },
                "",
            ),
            (
                Event::Renamed {
                    old: s("al"),
                    new: s("bo"),
                    via,
                },
                "* al is now known as bo\n",
            ),
            (
                Event::TopicSet {
                    room: s("dev"),
                    name: s("al"),
                    via,
                    text: s("release day"),
                },
                "* al set the topic of #dev: release day\n",
            ),
            (
                Event::TopicSet {
                    room: s("dev"),
                    name: s("al"),
                    via,
                    text: s(""),
                },
                "* al cleared the topic of #dev\n",
            ),
            (
                Event::Topic {
                    room: s("dev"),
                    topic: Some(Topic {
                        text: s("release day"),
                        by: s("al"),
                        at: 0,
                    }),
                },
                "* topic of #dev: release day (set by al)\n",
            ),
            (
                Event::Topic {
                    room: s("dev"),
                    topic: None,
                },
                "* #dev has no topic\n",
            ),
            (
                Event::Hello {
                    name: s("al"),
                    room: None,
                    online: 1,
                    max_online: 1,
                    rooms: 0,
                    motd: vec![],
                },
                "* Hello al! Type /help for commands.\n",
            ),
            (Event::ServerSaid(s("noon")), "[server] noon\n"),
            (Event::ShuttingDown, "* server is shutting down\n"),
            (
                Event::YouJoined {
                    room: s("dev"),
                    topic: None,
                    names: vec![],
                },
                "* you joined #dev\n",
            ),
            (
                Event::NowTalkingIn(s("dev")),
                "* you are now talking in #dev\n",
            ),
            (
                Event::YouLeft {
                    room: s("dev"),
                    reason: None,
                },
                "* you left #dev\n",
            ),
            (
                Event::NowKnownAs {
                    old: s("al"),
                    new: s("bo"),
                },
                "* you are now known as bo\n",
            ),
            (
                Event::Rooms {
                    rooms: vec![],
                    more: 0,
                },
                "* rooms: none\n",
            ),
            (
                Event::Rooms {
                    rooms: vec![(s("dev"), 1), (s("general"), 3)],
                    more: 0,
                },
                "* rooms: #dev (1), #general (3)\n",
            ),
            (
                Event::Rooms {
                    rooms: vec![(s("dev"), 1)],
                    more: 7,
                },
                "* rooms: #dev (1), and 7 more\n",
            ),
            (
                Event::Users {
                    room: None,
                    names: vec![Member::test("al", false), Member::test("bo", false)],
                    more: 0,
                },
                "* online: al, bo\n",
            ),
            (
                Event::Users {
                    room: Some(s("dev")),
                    names: vec![Member::test("al", true), Member::test("bo", false)],
                    more: 2,
                },
                "* in #dev: @al, bo, and 2 more\n",
            ),
            (Event::Bye(s("al")), "* Bye al!\n"),
            (
                Event::Kicked { reason: None },
                "* you were kicked by the operator\n",
            ),
            (
                Event::Kicked {
                    reason: Some(s("spam")),
                },
                "* you were kicked by the operator: spam\n",
            ),
            (Event::Notice(s("password changed")), "* password changed\n"),
            (Event::Error(s("slow down")), "! slow down\n"),
            (
                Event::Replay {
                    room: s("dev"),
                    messages: vec![],
                },
                "",
            ),
            (
                Event::Replay {
                    room: s("dev"),
                    messages: vec![message("yo", false)],
                },
                "* last 1 message in #dev:\n[#dev] al: yo\n",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(render(&event), line, "{event:?}");
        }
    }
}
