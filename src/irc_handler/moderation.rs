//! The IRC commands of room operators, `MODE #room` and `KICK`, mapped
//! onto the shared [`Moderation`] commands, so a terminal's `/op bob`
//! and an IRC client's `MODE #dev +o bob` are one rule checked in one
//! place (see `registry::moderation`); and `SILENCE`, IRC's name for
//! `/ignore`.
//!
//! One `MODE` line may carry several changes (`+ot bob`); each is carried
//! out on its own, in order, and a refused one is answered with its
//! numeric while the others still take effect.

use crate::irc::message::{line, Message};
use crate::irc::modes::{self, banned_nick, ModeChange};
use crate::irc::numeric;
use crate::irc::render::{ban_mask, hash};
use crate::protocol::{self, Command, Moderation};
use crate::registry::{ChatError, Session};

use super::dispatch::{execute, need_more_params, room_of, send_now, Refused, Reply};
use super::{queries, Connection};

/// `MODE #room [changes]`: the room's modes (324) without changes, else
/// each change in turn. `MODE nick` is a question about user modes
/// ([`queries::mode`]).
pub(super) fn mode(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let you = session.name().to_string();
    let server = conn.server();
    let Some(target) = msg.param(0) else {
        return Ok(need_more_params(conn, &you, "MODE"));
    };
    if !target.starts_with('#') {
        return Ok(queries::mode(conn, msg, &you));
    }
    let room = match room_of(conn, &you, target) {
        Ok(room) => room,
        Err(numeric) => return Ok(numeric),
    };
    let Ok(settings) = conn.ctx.registry.room_settings(&room) else {
        return Ok(numeric(server, "403", &you, &[target, "No such channel"]));
    };
    let Some(letters) = msg.param(1) else {
        let modes = format!(
            "+{}n{}",
            if settings.moderated { "m" } else { "" },
            if settings.topic_locked { "t" } else { "" }
        );
        return Ok(numeric(server, "324", &you, &[&hash(&room), &modes]));
    };
    for change in modes::parse(letters, msg.params.get(2..).unwrap_or_default()) {
        let answer = apply(conn, session, &room, change)?;
        send_now(conn, &answer)?;
    }
    Ok(String::new())
}

/// Carries out one change of a `MODE` line; the numeric if refused.
fn apply(conn: &Connection, session: &mut Session, room: &str, change: ModeChange) -> Reply {
    let you = session.name().to_string();
    let server = conn.server();
    let action = match change {
        ModeChange::Operator { nick, on } => Moderation::Operator { name: nick, on },
        ModeChange::Voice { nick, on } => Moderation::Voice { name: nick, on },
        ModeChange::Moderated(on) => Moderation::Moderated(on),
        ModeChange::Ban { mask, on } => match banned_nick(&mask) {
            Some(nick) => Moderation::Ban {
                name: nick.to_string(),
                on,
            },
            None => {
                let why = format!("{mask}: a ban names a nick only, as nick!*@*");
                return Ok(line(server, "NOTICE", &[&you, &why]));
            }
        },
        ModeChange::BanList => Moderation::Bans,
        ModeChange::TopicLock(on) => Moderation::TopicLock(on),
        ModeChange::NoExternal(true) | ModeChange::MissingParameter(_) => {
            return Ok(String::new());
        }
        ModeChange::NoExternal(false) => {
            let why = format!("{} always refuses messages from outside", hash(room));
            return Ok(line(server, "NOTICE", &[&you, &why]));
        }
        ModeChange::Unknown(letter) => {
            let letter = letter.to_string();
            return Ok(numeric(
                server,
                "472",
                &you,
                &[&letter, "is unknown mode char to me"],
            ));
        }
    };
    moderate(conn, session, room, action, "MODE")
}

/// Runs one room operator's command; its numeric if refused.
fn moderate(
    conn: &Connection,
    session: &mut Session,
    room: &str,
    action: Moderation,
    command: &str,
) -> Reply {
    let you = session.name().to_string();
    let moderate = Command::Moderate {
        room: Some(room.to_string()),
        action: Box::new(action),
    };
    match execute(conn, moderate, session) {
        Ok(()) => Ok(String::new()),
        Err(refused) => refused.numeric(conn, &you, command),
    }
}

/// `KICK #room nick[,nick] [:reason]`, or `KICK #a,#b nick1,nick2`
/// (one room per nick). Each kick is its own `KICK` to the room: a
/// server never sends a `KICK` with several targets (RFC 2812).
pub(super) fn kick(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let you = session.name().to_string();
    let (Some(channels), Some(nicks)) = (msg.param(0), msg.param(1)) else {
        return Ok(need_more_params(conn, &you, "KICK"));
    };
    let channels: Vec<&str> = channels.split(',').filter(|c| !c.is_empty()).collect();
    let nicks: Vec<&str> = nicks.split(',').filter(|n| !n.is_empty()).collect();
    let pairs: Vec<(&str, &str)> = match channels.as_slice() {
        [channel] => nicks.iter().map(|nick| (*channel, *nick)).collect(),
        _ if channels.len() == nicks.len() => channels.into_iter().zip(nicks).collect(),
        _ => return Ok(need_more_params(conn, &you, "KICK")),
    };
    let reason = msg
        .param(2)
        .map(|r| protocol::sanitize(r).trim().to_string())
        .filter(|r| !r.is_empty());
    for (channel, nick) in pairs.into_iter().take(MAX_KICKS) {
        let answer = match room_of(conn, &you, channel) {
            Ok(room) => {
                let action = Moderation::Kick {
                    name: nick.to_string(),
                    reason: reason.clone(),
                };
                moderate(conn, session, &room, action, "KICK")?
            }
            Err(numeric) => numeric,
        };
        send_now(conn, &answer)?;
    }
    Ok(String::new())
}

/// `SILENCE` lists whom you ignore (271s, 272); `SILENCE +mask` and
/// `SILENCE -mask` are `/ignore` and `/unignore` of the nick the mask
/// names (`bob` or `bob!*@*`), kept with the account like theirs.
pub(super) fn silence(conn: &Connection, msg: &Message, session: &mut Session) -> Reply {
    let you = session.name().to_string();
    let server = conn.server();
    let Some(change) = msg.param(0) else {
        let mut out = String::new();
        for name in conn.ctx.registry.ignoring(session).unwrap_or_default() {
            out.push_str(&numeric(server, "271", &you, &[&you, &ban_mask(&name)]));
        }
        out.push_str(&numeric(server, "272", &you, &["End of Silence List"]));
        return Ok(out);
    };
    let (on, mask) = match change.strip_prefix('-') {
        Some(mask) => (false, mask),
        None => (true, change.strip_prefix('+').unwrap_or(change)),
    };
    let Some(nick) = banned_nick(mask) else {
        let why = format!("{mask}: SILENCE names a nick only, as nick!*@*");
        return Ok(line(server, "NOTICE", &[&you, &why]));
    };
    let command = match on {
        true => Command::Ignore(Some(nick.to_string())),
        false => Command::Unignore(nick.to_string()),
    };
    match execute(conn, command, session) {
        Ok(()) => Ok(String::new()),
        Err(Refused::Chat(ChatError::IgnoringTooMany(_))) => Ok(numeric(
            server,
            "511",
            &you,
            &[mask, "Your silence list is full"],
        )),
        Err(refused) => refused.numeric(conn, &you, "SILENCE"),
    }
}

/// The most kicks one `KICK` carries out (`TARGMAX=KICK:4` in 005); the
/// rest are dropped, as the spec allows.
pub(crate) const MAX_KICKS: usize = 4;
