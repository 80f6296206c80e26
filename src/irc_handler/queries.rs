//! IRC's questions about people and rooms, answered from the registry:
//! `WHO`, `WHOIS`, `LIST`, `ISON`, `USERHOST`, and `MODE` for a nick
//! (users have no modes).

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

/// One 352 line: `<you> <channel> <user> <host> <server> <nick> <flags>
/// :0 <realname>`. The flags are `H` (here) or `G` (gone: away), and `@`
/// for an operator of the channel shown.
fn who_line(conn: &Connection, you: &str, room: Option<&str>, person: &Person) -> String {
    let here = if person.away.is_some() { "G" } else { "H" };
    let flags = format!("{here}{}", room.map_or("", |room| status(person, room)));
    let real = format!("0 {}", person.realname);
    let server = conn.server();
    let (name, cloak) = (person.name.as_str(), person.via.cloak());
    let user = user_field(person);
    let channel = room.map_or("*".to_string(), hash);
    numeric(
        server,
        "352",
        you,
        &[&channel, &user, cloak, server, name, &flags, &real],
    )
}

/// `@` for an operator of `room`, `+` for a voiced member, or nothing:
/// the prefixes of `PREFIX=(ov)@+`.
fn status(person: &Person, room: &str) -> &'static str {
    let is = |rooms: &[String]| rooms.iter().any(|r| r == room);
    match (is(&person.operator_of), is(&person.voiced_in)) {
        (true, _) => "@",
        (false, true) => "+",
        (false, false) => "",
    }
}

/// `~user`: the user name an IRC client gave (or the name), marked with
/// `~` because no ident server vouched for it.
fn user_field(person: &Person) -> String {
    format!("~{}", person.username)
}

/// `WHO #room`, or `WHO mask` (a nick, maybe with `*` and `?`; `0` is
/// everyone): 352s, then 315.
pub(super) fn who(conn: &Connection, msg: &Message, you: &str) -> String {
    let registry = conn.ctx.registry;
    let mask = msg.param(0).unwrap_or("*");
    let mut out = String::new();
    if let Some(room) = room_of(mask) {
        for person in registry.people_in(&room).unwrap_or_default() {
            out.push_str(&who_line(conn, you, Some(&room), &person));
        }
    } else {
        let everyone = if mask == "0" { "*" } else { mask };
        for person in registry.people_matching(everyone) {
            let room = person.rooms.last().cloned();
            out.push_str(&who_line(conn, you, room.as_deref(), &person));
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
    let user = user_field(&person);
    let mut out = numeric(
        server,
        "311",
        you,
        &[name, &user, cloak, "*", &person.realname],
    );
    if !person.rooms.is_empty() {
        let rooms: Vec<String> = (person.rooms.iter())
            .map(|r| format!("{}{}", status(&person, r), hash(r)))
            .collect();
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

/// `MODE nick`: 221 (`+`: no user modes) for oneself, 502 for someone
/// else; changes get 501. (`MODE #room` is a room operator's command: see
/// `moderation`.)
pub(super) fn mode(conn: &Connection, msg: &Message, you: &str) -> String {
    let server = conn.server();
    let target = msg.param(0).unwrap_or(you);
    if !target.eq_ignore_ascii_case(you) {
        return match conn.ctx.registry.person(target) {
            Some(_) => numeric(server, "502", you, &["Can't change mode for other users"]),
            None => numeric(server, "401", you, &[target, "No such nick/channel"]),
        };
    }
    match msg.param(1) {
        None => numeric(server, "221", you, &["+"]),
        Some(_) => numeric(server, "501", you, &["Unknown MODE flag"]),
    }
}
