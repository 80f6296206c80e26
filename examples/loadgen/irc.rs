//! Receivers that come in over IRC (`--receivers irc`): the same room, the
//! same messages, read through the server's IRC listener instead of the
//! line protocol.
//!
//! An IRC client registers before it may do anything: `NICK` and `USER`,
//! then it waits for the welcome numeric `001`. Unlike a terminal client it
//! starts in no room, so it sends `JOIN #general` and waits for the server
//! to echo that `JOIN` back: from then on, every message of the room comes
//! as `:lg0001!lg0001@terminal PRIVMSG #general :b 0 1 5 ...`, whose text is
//! the very line the sender wrote, parsed as on a terminal. A newcomer shows
//! as `:lg0042!lg0042@irc JOIN #general`, which counts as a join notice.
//!
//! Two things a terminal reader never does: lines end in `\r\n` (the inbox
//! strips the `\r`), and the server's `PING` must be answered with a `PONG`,
//! or a receiver that only reads would be closed as silent (after
//! `ping_secs`, 120 s by default: longer than most runs, but not all).

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::handshake::{open, registered, HANDSHAKE_LIMIT};
use super::inbox::Inbox;
use super::message::{find, is_crowd_name, parse_bench, Line};
use super::net::send_all;
use super::options::{Options, WayIn};
use super::shared::{Client, Shared};

/// The room the generator talks in: the one terminal clients start in.
const ROOM: &str = "#general";
/// The numerics that say registering or joining failed: bad or taken nick
/// (431, 432, 433), not registered (451), bad `USER` (461, 462), password
/// (464), and the channel refusals of `JOIN` (403, 405, 479).
const REFUSALS: [&str; 10] = [
    "403", "405", "431", "432", "433", "451", "461", "462", "464", "479",
];
/// How long answering a `PING` may take before the reader gives up on it.
pub(crate) const ANSWER_LIMIT: Duration = Duration::from_secs(1);

/// Connects one receiver to the IRC listener at `addr`, registers it as
/// `name` and joins the room. Returns when the server has echoed the `JOIN`:
/// whatever came with the echo stays in the inbox for the reader.
pub(crate) fn join_irc(
    options: &Options,
    name: &str,
    addr: SocketAddr,
    buffer: usize,
    shared: &Shared,
) -> Result<(Client, Inbox), String> {
    let deadline = Instant::now() + HANDSHAKE_LIMIT;
    let stream = open(addr, name)?;
    let mut inbox = Inbox::new(buffer);
    inbox.way_in = WayIn::Irc(addr);
    let hello = format!("NICK {name}\r\nUSER {name} 0 * :{name}\r\n");
    send(&stream, &hello, name, deadline)?;
    read_until(&mut inbox, &stream, name, deadline, |line| {
        command(line) == Some("001")
    })?;
    send(&stream, &format!("JOIN {ROOM}\r\n"), name, deadline)?;
    read_until(&mut inbox, &stream, name, deadline, |line| {
        command(line) == Some("JOIN") && nick(line) == Some(name)
    })?;
    Ok((registered(options, name, stream, shared)?, inbox))
}

fn send(stream: &TcpStream, text: &str, name: &str, deadline: Instant) -> Result<(), String> {
    send_all(stream, text.as_bytes(), deadline)
        .map_err(|e| format!("{name}: cannot send {:?}: {e}", text.trim_end()))
}

/// Reads registration lines until one that `done` accepts, answering `PING`
/// on the way. An `ERROR`, or one of `REFUSALS`, means the server turned us
/// away; other lines (the 002 to 005 that follow 001, the LUSERS replies,
/// 422 for no MOTD, the `NAMES` list) are passed over.
fn read_until(
    inbox: &mut Inbox,
    stream: &TcpStream,
    name: &str,
    deadline: Instant,
    done: impl Fn(&str) -> bool,
) -> Result<(), String> {
    loop {
        let line = inbox
            .handshake_line(stream, deadline)
            .map_err(|e| format!("{name}: registering over IRC: {e}"))?;
        if done(&line) {
            return Ok(());
        }
        let mut pong = Vec::new();
        answer_ping(line.as_bytes(), &mut pong);
        if !pong.is_empty() {
            send(stream, &String::from_utf8_lossy(&pong), name, deadline)?;
        }
        let refused = command(&line).is_some_and(|c| c == "ERROR" || REFUSALS.contains(&c));
        if refused {
            return Err(format!("{name}: the IRC listener refused us: {line}"));
        }
    }
}

/// The command of a line (`PRIVMSG`, `001`), after the prefix if any.
fn command(line: &str) -> Option<&str> {
    let rest = match line.strip_prefix(':') {
        Some(prefixed) => prefixed.split_once(' ')?.1,
        None => line,
    };
    rest.split(' ').next()
}

/// The nick of the prefix: `lg0001` in `:lg0001!lg0001@terminal ...`.
fn nick(line: &str) -> Option<&str> {
    let prefix = line.strip_prefix(':')?.split(' ').next()?;
    Some(prefix.split('!').next().unwrap_or(prefix))
}

/// What an IRC line means to the generator: a `PRIVMSG` to the room whose
/// text is one of our messages, the `JOIN` of another measured client, or
/// anything else. (`own` is this receiver's nick: its own `JOIN` is not a
/// notice of someone arriving.) Works on bytes, like `message::parse_line`.
pub(crate) fn parse_line(line: &[u8], own: &str) -> Line {
    let Some(rest) = line.strip_prefix(b":") else {
        return Line::Other; // PING, ERROR: no prefix
    };
    let Some(space) = rest.iter().position(|&b| b == b' ') else {
        return Line::Other;
    };
    let (prefix, rest) = (&rest[..space], &rest[space + 1..]);
    let who = prefix.split(|&b| b == b'!').next().unwrap_or(prefix);
    if let Some(target) = rest.strip_prefix(b"PRIVMSG ") {
        // `#general :text`: the text is everything after the first " :".
        return find(target, b" :")
            .and_then(|at| parse_bench(&target[at + 2..]))
            .map_or(Line::Other, Line::Bench);
    }
    if rest.starts_with(b"JOIN ") && is_crowd_name(who) && who != own.as_bytes() {
        return Line::Joined;
    }
    Line::Other
}

/// Appends the answer to a `PING <token>` line, `PONG <token>`, to `out`;
/// any other line adds nothing.
pub(crate) fn answer_ping(line: &[u8], out: &mut Vec<u8>) {
    if let Some(token) = line.strip_prefix(b"PING ") {
        out.extend_from_slice(b"PONG ");
        out.extend_from_slice(token);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::Bench;
    use super::*;

    #[test]
    fn a_privmsg_carries_a_message_line() {
        let line = b":lg0001!lg0001@terminal PRIVMSG #general :b 2 1 17 123456 xxxxxxx";
        let expected = Bench {
            step: 2,
            sender: 1,
            seq: 17,
            due: 123_456,
        };
        assert_eq!(parse_line(line, "lg0005"), Line::Bench(expected));
        let chat = b":alice!alice@web PRIVMSG #general :hi there";
        assert_eq!(parse_line(chat, "lg0005"), Line::Other);
    }

    #[test]
    fn the_joins_of_others_in_the_crowd_count() {
        let join = b":lg0042!lg0042@irc JOIN #general";
        assert_eq!(parse_line(join, "lg0005"), Line::Joined);
        assert_eq!(parse_line(join, "lg0042"), Line::Other);
        let stalled = b":lgs001!lgs001@terminal JOIN #general";
        assert_eq!(parse_line(stalled, "lg0005"), Line::Other);
        assert_eq!(
            parse_line(b":lanchat.local 366 lg0005 #general :End", "x"),
            Line::Other
        );
    }

    #[test]
    fn registration_lines_are_read_and_pings_answered() {
        assert_eq!(command(":lanchat.local 001 lg0005 :Welcome"), Some("001"));
        assert_eq!(command("PING lanchat.local"), Some("PING"));
        assert_eq!(nick(":lg0005!lg0005@irc JOIN #general"), Some("lg0005"));
        let mut out = Vec::new();
        answer_ping(b"PING lanchat.local", &mut out);
        answer_ping(b":lanchat.local NOTICE lg0005 :hi", &mut out);
        assert_eq!(out, b"PONG lanchat.local\r\n");
    }
}
