//! IRC's questions about people and rooms, answered from the registry:
//! `WHO`, `WHOIS`, `LIST`, `ISON`, `USERHOST`, and `MODE` (which only
//! answers, for now: rooms have one mode, `n`, and nobody can change it).

use crate::irc::message::Message;
use crate::irc::numeric;
use crate::irc::render::hash;
use crate::registry::Person;
use crate::rooms::normalize_room_name;

use super::Connection;

/// A `#room` parameter as a room, if it is a good one.
fn room_of(channel: &str) -> Option<String> {
    channel
        .starts_with('#')
        .then(|| normalize_room_name(channel).ok())
        .flatten()
}

/// One 352 line: `<you> <channel> <user> <host> <server> <nick> <H|G> :0 <realname>`.
fn who_line(conn: &Connection, you: &str, channel: &str, person: &Person) -> String {
    let here = if person.away.is_some() { "G" } else { "H" };
    let real = format!("0 {}", person.realname);
    let server = conn.server();
    let (name, cloak) = (person.name.as_str(), person.via.cloak());
    numeric(
        server,
        "352",
        you,
        &[channel, name, cloak, server, name, here, &real],
    )
}

/// `WHO #room`, or `WHO mask` (a nick, maybe with `*` and `?`; `0` is
/// everyone): 352s, then 315.
pub(super) fn who(conn: &Connection, msg: &Message, you: &str) -> String {
    let registry = conn.ctx.registry;
    let mask = msg.param(0).unwrap_or("*");
    let mut out = String::new();
    if let Some(room) = room_of(mask) {
        for person in registry.people_in(&room).unwrap_or_default() {
            out.push_str(&who_line(conn, you, &hash(&room), &person));
        }
    } else {
        let everyone = if mask == "0" { "*" } else { mask };
        for person in registry.people_matching(everyone) {
            let channel = person.rooms.last().map_or("*".to_string(), |r| hash(r));
            out.push_str(&who_line(conn, you, &channel, &person));
        }
    }
    out.push_str(&numeric(
        conn.server(),
        "315",
        you,
        &[mask, "End of WHO list"],
    ));
    out
}

/// `WHOIS [server] nick`: 311, 319, 312, 301 when away, then 318; or 401.
pub(super) fn whois(conn: &Connection, msg: &Message, you: &str) -> String {
    let server = conn.server();
    let Some(nick) = msg.param(1).or(msg.param(0)) else {
        return numeric(server, "431", you, &["No nickname given"]);
    };
    let nick = nick.split(',').next().unwrap_or(nick);
    let Some(person) = conn.ctx.registry.person(nick) else {
        let mut out = numeric(server, "401", you, &[nick, "No such nick/channel"]);
        out.push_str(&numeric(server, "318", you, &[nick, "End of /WHOIS list"]));
        return out;
    };
    let name = person.name.as_str();
    let cloak = person.via.cloak();
    let mut out = numeric(
        server,
        "311",
        you,
        &[name, name, cloak, "*", &person.realname],
    );
    if !person.rooms.is_empty() {
        let rooms: Vec<String> = person.rooms.iter().map(|r| hash(r)).collect();
        out.push_str(&numeric(server, "319", you, &[name, &rooms.join(" ")]));
    }
    let info = format!("lanchat, by way of the {cloak}");
    out.push_str(&numeric(server, "312", you, &[name, server, &info]));
    if let Some(away) = &person.away {
        out.push_str(&numeric(server, "301", you, &[name, away]));
    }
    out.push_str(&numeric(server, "318", you, &[name, "End of /WHOIS list"]));
    out
}

/// `LIST [#a,#b]`: 321, a 322 per room, 323.
pub(super) fn list(conn: &Connection, msg: &Message, you: &str) -> String {
    let server = conn.server();
    let wanted: Option<Vec<String>> = msg
        .param(0)
        .map(|targets| targets.split(',').filter_map(room_of).collect());
    let mut out = numeric(server, "321", you, &["Channel", "Users  Name"]);
    for listing in conn.ctx.registry.listing() {
        if wanted.as_ref().is_some_and(|w| !w.contains(&listing.room)) {
            continue;
        }
        let topic = listing.topic.map(|t| t.text).unwrap_or_default();
        let count = listing.members.to_string();
        out.push_str(&numeric(
            server,
            "322",
            you,
            &[&hash(&listing.room), &count, &topic],
        ));
    }
    out.push_str(&numeric(server, "323", you, &["End of /LIST"]));
    out
}

/// `ISON a b c`: 303 with those online, as they spell their names.
pub(super) fn ison(conn: &Connection, msg: &Message, you: &str) -> String {
    let online: Vec<String> = msg
        .params
        .iter()
        .flat_map(|p| p.split(' '))
        .filter(|n| !n.is_empty())
        .filter_map(|n| conn.ctx.registry.person(n))
        .map(|p| p.name)
        .collect();
    numeric(conn.server(), "303", you, &[&online.join(" ")])
}

/// `USERHOST a b`: 302 with `nick=+nick@cloak` (`-` when away), up to 5.
pub(super) fn userhost(conn: &Connection, msg: &Message, you: &str) -> String {
    if msg.params.is_empty() {
        return numeric(
            conn.server(),
            "461",
            you,
            &["USERHOST", "Not enough parameters"],
        );
    }
    let replies: Vec<String> = msg
        .params
        .iter()
        .take(5)
        .filter_map(|n| conn.ctx.registry.person(n))
        .map(|p| {
            let here = if p.away.is_some() { '-' } else { '+' };
            format!("{0}={here}{0}@{1}", p.name, p.via.cloak())
        })
        .collect();
    numeric(conn.server(), "302", you, &[&replies.join(" ")])
}

/// `MODE #room` (324: `+n`), `MODE nick` (221: `+`); changes are refused
/// until rooms have operators: 472 for a room, 501 for a user. A ban-list
/// query (`MODE #room b`, which clients send on join) gets an empty list.
pub(super) fn mode(conn: &Connection, msg: &Message, you: &str) -> String {
    let server = conn.server();
    let Some(target) = msg.param(0) else {
        return numeric(server, "461", you, &["MODE", "Not enough parameters"]);
    };
    let change = msg.param(1);
    if target.starts_with('#') {
        let Some(room) = room_of(target).filter(|r| conn.ctx.registry.people_in(r).is_ok()) else {
            return numeric(server, "403", you, &[target, "No such channel"]);
        };
        let channel = hash(&room);
        return match change {
            None => numeric(server, "324", you, &[&channel, "+n"]),
            Some("b" | "+b") if msg.params.len() == 2 => {
                numeric(server, "368", you, &[&channel, "End of channel ban list"])
            }
            Some(modes) => {
                let letter = modes.trim_start_matches(['+', '-']).get(..1).unwrap_or("+");
                numeric(server, "472", you, &[letter, "is unknown mode char to me"])
            }
        };
    }
    if !target.eq_ignore_ascii_case(you) {
        return match conn.ctx.registry.person(target) {
            Some(_) => numeric(server, "502", you, &["Can't change mode for other users"]),
            None => numeric(server, "401", you, &[target, "No such nick/channel"]),
        };
    }
    match change {
        None => numeric(server, "221", you, &["+"]),
        Some(_) => numeric(server, "501", you, &["Unknown MODE flag"]),
    }
}
