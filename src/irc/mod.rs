//! The IRC protocol: lines in, understood; events out, as IRC lines.
//!
//! IRC (RFC 1459 and 2812, and the living spec at modern.ircdocs.horse) is
//! a line protocol like ours, with more ceremony: every line has a command
//! and parameters, lines from the server carry a *prefix* saying who it is
//! from (`:alice!alice@terminal PRIVMSG #general :hi`) and replies to one
//! client are three-digit *numerics* with the client's nick first
//! (`:lanchat.local 433 * alice :Nickname is already in use`).
//!
//! This module is the pure half, next to [`protocol`](crate::protocol):
//!
//! - [`message`]: parsing a line and building one, under the 512-byte rule.
//! - [`modes`]: the letters of a channel `MODE`, parsed into changes.
//! - [`registration`]: the start of a connection (`CAP`, `PASS`, `NICK`,
//!   `USER` in any order) as a state machine of pure steps.
//! - [`render`](mod@render): every [`Event`](crate::event::Event) as IRC lines.
//!
//! The connection's life (reading, registering, dispatching commands onto
//! the shared [`commands`](crate::commands)) is in
//! [`irc_handler`](crate::irc_handler).
//!
//! **Prefixes never expose addresses.** The host part of a prefix is a
//! *cloak* naming the way in: `alice!alice@terminal`, `bob!bob@web`,
//! `carol!carol@irc`.

pub(crate) mod message;
pub(crate) mod modes;
pub(crate) mod registration;
pub(crate) mod render;

pub(crate) use render::render;

use crate::event::Frontend;
use crate::protocol::{MAX_IGNORED, MAX_NAME};
use crate::rooms::MAX_ROOM_NAME;
use message::line;

/// The server's version, in 002 and 004.
const VERSION: &str = concat!("lanchat-", env!("CARGO_PKG_VERSION"));

/// `nick!nick@cloak`: who a line is from.
pub(crate) fn prefix(nick: &str, via: Frontend) -> String {
    format!("{nick}!{nick}@{}", via.cloak())
}

/// A numeric reply from `server` to `you`: `:server 123 you params...`.
pub(crate) fn numeric(server: &str, code: &str, you: &str, params: &[&str]) -> String {
    let mut all = Vec::with_capacity(params.len() + 1);
    all.push(you);
    all.extend_from_slice(params);
    line(server, code, &all)
}

/// 465 (ERR_YOUREBANNEDCREEP), then the `ERROR` that closes the link: an
/// IRC client told it is banned, at connect or at registration.
pub(crate) fn banned(server: &str, you: &str, why: &str) -> String {
    let mut lines = numeric(server, "465", you, &[why]);
    lines.push_str(&render::closing_link(you, why));
    lines
}

/// What the welcome after registration tells.
pub(crate) struct Welcome<'a> {
    pub(crate) server: &'a str,
    pub(crate) nick: &'a str,
    /// Everyone online, this client included.
    pub(crate) online: usize,
    /// The most ever online at once.
    pub(crate) max_online: usize,
    pub(crate) rooms: usize,
    /// The welcome message (the server's `motd`), a line each.
    pub(crate) motd: &'a [String],
}

/// The ISUPPORT tokens (005): what clients may assume. Rooms are `#` and
/// names compare ignoring ASCII case; JOIN and PART take any number of
/// targets, PRIVMSG and NOTICE up to four.
fn isupport(server: &str) -> Vec<String> {
    vec![
        "CASEMAPPING=ascii".to_string(),
        "CHANTYPES=#".to_string(),
        format!("NICKLEN={MAX_NAME}"),
        format!("CHANNELLEN={}", MAX_ROOM_NAME + 1),
        format!("NETWORK={server}"),
        // Room operators are `@`, voiced members `+`; `b` is a list mode,
        // `m`, `n` and `t` are flags.
        "PREFIX=(ov)@+".to_string(),
        "CHANMODES=b,,,mnt".to_string(),
        // `SILENCE` is `/ignore`, with its bound.
        format!("SILENCE={MAX_IGNORED}"),
        "TARGMAX=JOIN:,PART:,PRIVMSG:4,NOTICE:4,NAMES:1,WHOIS:1,KICK:4".to_string(),
    ]
}

/// 001 to 005, the LUSERS replies and the MOTD: the burst a client waits
/// for before it counts itself connected.
pub(crate) fn welcome(w: &Welcome) -> String {
    let Welcome {
        server,
        nick,
        online,
        max_online,
        rooms,
        motd: motd_lines,
    } = *w;
    let you = prefix(nick, Frontend::Irc);
    let mut out = numeric(
        server,
        "001",
        nick,
        &[&format!("Welcome to the {server} IRC network, {you}")],
    );
    let host = format!("Your host is {server}, running version {VERSION}");
    out.push_str(&numeric(server, "002", nick, &[&host]));
    let created = "This server speaks lanchat to terminals, browsers and IRC clients";
    out.push_str(&numeric(server, "003", nick, &[created]));
    // User modes: `o` exists but nobody has it; channel modes: `n` (no
    // messages from outside), which every room has.
    out.push_str(&numeric(server, "004", nick, &[server, VERSION, "o", "n"]));
    let tokens = isupport(server);
    let mut params: Vec<&str> = tokens.iter().map(String::as_str).collect();
    params.push("are supported by this server");
    out.push_str(&numeric(server, "005", nick, &params));
    out.push_str(&lusers(server, nick, (online, max_online), rooms));
    out.push_str(&motd(server, nick, motd_lines));
    out
}

/// The message of the day: 375, a 372 per line, 376; or 422 when the
/// server has none (`motd` in `[server]`, the same text terminals get).
pub(crate) fn motd(server: &str, nick: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return numeric(server, "422", nick, &["MOTD File is missing"]);
    }
    let mut out = numeric(
        server,
        "375",
        nick,
        &[&format!("- {server} Message of the day - ")],
    );
    for line in lines {
        out.push_str(&numeric(server, "372", nick, &[&format!("- {line}")]));
    }
    out.push_str(&numeric(server, "376", nick, &["End of /MOTD command."]));
    out
}

/// The LUSERS replies: 251, 254, 255, 265, 266 (`users`: online now, and
/// the most ever).
pub(crate) fn lusers(server: &str, nick: &str, users: (usize, usize), rooms: usize) -> String {
    let (online, max) = users;
    let users = format!("There are {online} users and 0 invisible on 1 servers");
    let mut out = numeric(server, "251", nick, &[&users]);
    out.push_str(&numeric(
        server,
        "254",
        nick,
        &[&rooms.to_string(), "channels formed"],
    ));
    let clients = format!("I have {online} clients and 0 servers");
    out.push_str(&numeric(server, "255", nick, &[&clients]));
    let (n, m) = (online.to_string(), max.to_string());
    let local = format!("Current local users {online}, max {max}");
    out.push_str(&numeric(server, "265", nick, &[&n, &m, &local]));
    let global = format!("Current global users {online}, max {max}");
    out.push_str(&numeric(server, "266", nick, &[&n, &m, &global]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_motd_is_375_a_372_per_line_and_376() {
        let lines = ["hi".to_string(), "be nice".to_string()];
        assert_eq!(
            motd("lanchat.local", "carol", &lines),
            ":lanchat.local 375 carol :- lanchat.local Message of the day - \r\n\
             :lanchat.local 372 carol :- hi\r\n\
             :lanchat.local 372 carol :- be nice\r\n\
             :lanchat.local 376 carol :End of /MOTD command.\r\n"
        );
        assert_eq!(
            motd("lanchat.local", "carol", &[]),
            ":lanchat.local 422 carol :MOTD File is missing\r\n"
        );
    }

    #[test]
    fn a_ban_is_465_then_error() {
        assert_eq!(
            banned(
                "lanchat.local",
                "*",
                "you are banned from this server (permanently)"
            ),
            ":lanchat.local 465 * :you are banned from this server (permanently)\r\n\
             ERROR :Closing link: *[irc] (you are banned from this server (permanently))\r\n"
        );
    }

    #[test]
    fn the_welcome_burst_is_001_to_005_lusers_and_no_motd() {
        let burst = welcome(&Welcome {
            server: "lanchat.local",
            nick: "carol",
            online: 3,
            max_online: 4,
            rooms: 2,
            motd: &[],
        });
        let codes: Vec<&str> = burst
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            codes,
            ["001", "002", "003", "004", "005", "251", "254", "255", "265", "266", "422"]
        );
        assert!(burst.starts_with(
            ":lanchat.local 001 carol :Welcome to the lanchat.local IRC network, carol!carol@irc\r\n"
        ));
        assert!(burst.contains(" 005 carol CASEMAPPING=ascii CHANTYPES=# NICKLEN=24 CHANNELLEN=33 NETWORK=lanchat.local "));
        assert!(burst.contains(":lanchat.local 254 carol 2 :channels formed\r\n"));
    }
}
