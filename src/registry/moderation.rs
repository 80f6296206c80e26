//! Room operators: who may change a room, and how the room is told.
//!
//! A room operator's command is one check and one change under the
//! registry lock, like every other request: "is alice an operator of
//! #dev, is bob in it" and "bob leaves #dev" cannot be separated by another
//! thread's join or leave, so a kick never removes someone who already
//! left or misses someone who just came in.
//!
//! The room is told what changed with one event
//! ([`Event::RoomChanged`], [`Event::KickedFrom`]) that every frontend
//! renders in its own words: a terminal reads `* alice made bob an
//! operator of #dev`, an IRC client gets `MODE #dev +o bob` and updates the
//! `@` in its member list. The room data itself (operators, bans, the
//! topic lock, who succeeds the last operator) lives in
//! [`rooms`](crate::rooms).

use crate::event::{Actor, Event, RoomChange};
use crate::protocol::{self, name_key, Moderation};

use super::{ChatError, Registry, Session, State};

/// What a room's operators have set: IRC's channel modes `t` and `m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoomSettings {
    pub(crate) topic_locked: bool,
    pub(crate) moderated: bool,
}

impl Registry {
    /// Carries out a room operator's command in `room` (default: the
    /// current room), which the session must be in. Everything but the
    /// ban list needs the session to be an operator of the room.
    pub(crate) fn moderate(
        &self,
        session: &Session,
        room: Option<&str>,
        action: &Moderation,
    ) -> Result<(), ChatError> {
        if let Moderation::Ban { name, .. } = action {
            protocol::validate_name(name)?;
        }
        self.with_state(|state| {
            let client = state.client(session)?;
            let room = client.pick_room(room)?;
            let key = name_key(&client.name);
            let by = Actor {
                name: client.name.clone(),
                via: client.frontend,
            };
            if *action == Moderation::Bans {
                let names = state.rooms.bans(&room);
                state.write(&key, &Event::RoomBans { room, names });
                return Ok(());
            }
            if !state.rooms.is_operator(&room, &key) {
                return Err(ChatError::NotOperator(room));
            }
            match action {
                Moderation::Operator { name, on } => state.set_operator(&room, by, name, *on),
                Moderation::Kick { name, reason } => state.kick_from(&room, by, name, reason),
                Moderation::Ban { name, on } => state.set_ban(&room, by, name, *on),
                Moderation::Voice { name, on } => state.set_voiced(&room, by, name, *on),
                Moderation::TopicLock(locked) => {
                    if state.rooms.set_topic_locked(&room, *locked) {
                        state.tell_room(&room, Some(by), RoomChange::TopicLock(*locked));
                    }
                    Ok(())
                }
                Moderation::Moderated(on) => {
                    if state.rooms.set_moderated(&room, *on) {
                        state.tell_room(&room, Some(by), RoomChange::Moderated(*on));
                    }
                    Ok(())
                }
                Moderation::Bans => Ok(()), // answered above
            }
        })
    }
}

impl Registry {
    /// The settings of `room` (IRC's modes `t` and `m`), or
    /// `NoSuchRoom`.
    pub(crate) fn room_settings(&self, room: &str) -> Result<RoomSettings, ChatError> {
        self.with_state(|state| match state.rooms.members(room) {
            Some(_) => Ok(RoomSettings {
                topic_locked: state.rooms.topic_locked(room),
                moderated: state.rooms.moderated(room),
            }),
            None => Err(ChatError::NoSuchRoom(room.to_string())),
        })
    }
}

impl State {
    /// The key and name of `name`, who must be online and in `room`.
    fn member(&self, room: &str, name: &str) -> Result<(String, String), ChatError> {
        let key = name_key(name);
        let client = (self.clients.get(&key)).ok_or_else(|| ChatError::NotOnline(name.into()))?;
        if !client.rooms.iter().any(|r| r == room) {
            return Err(ChatError::TargetNotInRoom {
                name: client.name.clone(),
                room: room.to_string(),
            });
        }
        Ok((key, client.name.clone()))
    }

    /// Queues a [`Event::RoomChanged`] to every member of `room`.
    pub(super) fn tell_room(&mut self, room: &str, by: Option<Actor>, change: RoomChange) {
        let event = Event::RoomChanged {
            room: room.to_string(),
            by,
            change,
        };
        self.write_room(room, None, &event);
    }

    /// `/op name`, `/deop name`: a change nobody needs to hear of when
    /// there is none (IRC servers are quiet about a `+o` on an operator).
    fn set_operator(
        &mut self,
        room: &str,
        by: Actor,
        name: &str,
        on: bool,
    ) -> Result<(), ChatError> {
        let (key, name) = self.member(room, name)?;
        if self.rooms.set_operator(room, &key, on) {
            self.tell_room(room, Some(by), RoomChange::Operator { name, on });
        }
        Ok(())
    }

    /// `/voice name`, `/devoice name`, quiet when nothing changes.
    fn set_voiced(&mut self, room: &str, by: Actor, name: &str, on: bool) -> Result<(), ChatError> {
        let (key, name) = self.member(room, name)?;
        if self.rooms.set_voiced(room, &key, on) {
            self.tell_room(room, Some(by), RoomChange::Voice { name, on });
        }
        Ok(())
    }

    /// `/ban name`, `/unban name`. A ban names a name, online or not, and
    /// keeps it from joining; it does not remove someone already in the
    /// room (`/kick` does), as on IRC.
    fn set_ban(&mut self, room: &str, by: Actor, name: &str, on: bool) -> Result<(), ChatError> {
        let key = name_key(name);
        // The name as its owner spells it, if they are online.
        let name = self.clients.get(&key).map_or(name, |c| c.name.as_str());
        let name = name.to_string();
        let changed = self.rooms.set_ban(room, &key, on.then_some(name.as_str()));
        if !changed && on && !self.rooms.is_banned(room, &key) {
            return Err(ChatError::TooManyBans(room.to_string()));
        }
        if changed {
            self.tell_room(room, Some(by), RoomChange::Ban { name, on });
        }
        Ok(())
    }

    /// `/kick name [reason]`: the whole room, the one kicked included,
    /// is told before they leave it; then they are out of the room (not
    /// off the server).
    fn kick_from(
        &mut self,
        room: &str,
        by: Actor,
        name: &str,
        reason: &Option<String>,
    ) -> Result<(), ChatError> {
        let (key, name) = self.member(room, name)?;
        let kicked = Event::KickedFrom {
            room: room.to_string(),
            name,
            by,
            reason: reason.clone(),
        };
        self.write_room(room, None, &kicked);
        if let Some(client) = self.clients.get_mut(&key) {
            client.rooms.retain(|r| r != room);
        }
        let heir = self.leave_room(room, &key);
        self.succeed(room, heir);
        Ok(())
    }
}
