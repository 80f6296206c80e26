//! Rooms: who is in which room.
//!
//! This is plain data with no lock of its own. It lives inside the registry's
//! mutex, next to the client map, so that "is alice in #dev?" and "write this
//! line to every member of #dev" are answered under one lock and can never
//! disagree. A second mutex here would need a lock order and would let a
//! broadcast see a member that the client map had already forgotten.
//!
//! A room also has a topic, set by any member. It lives and dies with the
//! room, as an IRC channel's does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::event::Topic;

/// The longest room name, in bytes (all allowed characters are ASCII).
pub const MAX_ROOM_NAME: usize = 32;

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRoomName;

impl fmt::Display for BadRoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "room names are 1 to {MAX_ROOM_NAME} characters from A-Z a-z 0-9 _ -"
        )
    }
}

impl std::error::Error for BadRoomName {}

/// Checks a room name typed by a user and returns it in stored form:
/// without a leading `#`, in lower case.
pub fn normalize_room_name(raw: &str) -> Result<String, BadRoomName> {
    let name = raw.strip_prefix('#').unwrap_or(raw);
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.len() > MAX_ROOM_NAME || !name.chars().all(allowed) {
        return Err(BadRoomName);
    }
    Ok(name.to_ascii_lowercase())
}

/// The room set: each room with the keys of its members and its topic.
///
/// A room exists while it has members; the last one to leave removes it, so
/// rooms made by `/join typo` do not pile up in memory.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: BTreeMap<String, Room>,
}

#[derive(Debug, Default)]
struct Room {
    members: BTreeSet<String>,
    topic: Option<Topic>,
}

impl Rooms {
    pub(crate) fn new() -> Rooms {
        Rooms::default()
    }

    /// Adds `member` to `room`, creating the room if needed. Returns false if
    /// they were already a member.
    pub(crate) fn join(&mut self, room: &str, member: &str) -> bool {
        self.rooms
            .entry(room.to_string())
            .or_default()
            .members
            .insert(member.to_string())
    }

    /// Removes `member` from `room`, and the room itself once it is empty.
    /// Returns false if they were not a member.
    pub(crate) fn leave(&mut self, room: &str, member: &str) -> bool {
        let Some(entry) = self.rooms.get_mut(room) else {
            return false;
        };
        let was_member = entry.members.remove(member);
        if entry.members.is_empty() {
            self.rooms.remove(room);
        }
        was_member
    }

    /// The members of `room` in key order, or None if the room does not exist.
    pub(crate) fn members(&self, room: &str) -> Option<&BTreeSet<String>> {
        self.rooms.get(room).map(|r| &r.members)
    }

    /// The topic of `room`, if it exists and has one.
    pub(crate) fn topic(&self, room: &str) -> Option<&Topic> {
        self.rooms.get(room)?.topic.as_ref()
    }

    /// Sets (or with `None` clears) the topic of an existing room.
    pub(crate) fn set_topic(&mut self, room: &str, topic: Option<Topic>) {
        if let Some(entry) = self.rooms.get_mut(room) {
            entry.topic = topic;
        }
    }

    #[cfg(test)]
    fn is_member(&self, room: &str, member: &str) -> bool {
        self.members(room).is_some_and(|m| m.contains(member))
    }

    /// Every room with its number of members, sorted by name.
    pub(crate) fn list(&self) -> impl Iterator<Item = (&str, usize)> {
        self.rooms
            .iter()
            .map(|(name, r)| (name.as_str(), r.members.len()))
    }

    /// How many rooms there are.
    pub(crate) fn count(&self) -> usize {
        self.rooms.len()
    }

    /// The `n` biggest rooms (ties: by name), listed by name, and how many
    /// other rooms there are. A copy of at most `n` names, whatever the
    /// number of rooms, so a reply to `/rooms` has a fixed bound.
    pub fn biggest(&self, n: usize) -> (Vec<(String, usize)>, usize) {
        let mut all: Vec<(&str, usize)> = self.list().collect();
        let more = all.len().saturating_sub(n);
        if more > 0 {
            // Biggest first, then by name; only the first n are sorted.
            all.select_nth_unstable_by(n, |a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            all.truncate(n);
            all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        let shown = all
            .into_iter()
            .map(|(name, count)| (name.to_string(), count));
        (shown.collect(), more)
    }

    /// Renames a member in each of `rooms`.
    pub(crate) fn rename(&mut self, rooms: &[String], old: &str, new: &str) {
        for room in rooms {
            if let Some(entry) = self.rooms.get_mut(room) {
                if entry.members.remove(old) {
                    entry.members.insert(new.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_biggest_rooms_are_listed_by_name_and_the_rest_counted() {
        let mut rooms = Rooms::new();
        for (room, members) in [("a", 1), ("b", 3), ("c", 2), ("d", 3), ("e", 1)] {
            for m in 0..members {
                rooms.join(room, &format!("m{m}"));
            }
        }
        let s = |n: &str, c| (n.to_string(), c);
        assert_eq!(rooms.biggest(3), (vec![s("b", 3), s("c", 2), s("d", 3)], 2));
        assert_eq!(rooms.biggest(10).1, 0);
        assert_eq!(rooms.biggest(10).0.len(), 5);
        assert_eq!(rooms.count(), 5);
    }

    #[test]
    fn room_names_are_stored_lower_case_without_hash() {
        assert_eq!(normalize_room_name("#Dev").as_deref(), Ok("dev"));
        assert_eq!(normalize_room_name("my_room-2").as_deref(), Ok("my_room-2"));
    }

    #[test]
    fn bad_room_names_are_refused() {
        for bad in ["", "#", "two words", "dev!", "é", &"a".repeat(33), "##dev"] {
            assert_eq!(normalize_room_name(bad), Err(BadRoomName), "{bad:?}");
        }
        assert!(normalize_room_name(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn join_creates_and_last_leave_removes_a_room() {
        let mut rooms = Rooms::new();
        assert!(rooms.join("dev", "alice"));
        assert!(!rooms.join("dev", "alice"));
        assert!(rooms.join("dev", "bob"));
        assert_eq!(rooms.list().collect::<Vec<_>>(), vec![("dev", 2)]);
        assert!(rooms.leave("dev", "alice"));
        assert!(!rooms.leave("dev", "alice"));
        assert!(rooms.leave("dev", "bob"));
        assert_eq!(rooms.list().count(), 0);
        assert!(!rooms.leave("nowhere", "bob"));
    }

    #[test]
    fn list_is_sorted_by_name() {
        let mut rooms = Rooms::new();
        rooms.join("general", "a");
        rooms.join("dev", "a");
        rooms.join("general", "b");
        let names: Vec<_> = rooms.list().collect();
        assert_eq!(names, vec![("dev", 1), ("general", 2)]);
    }

    #[test]
    fn a_topic_lives_and_dies_with_its_room() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        let topic = Topic {
            text: "releases".into(),
            by: "alice".into(),
            at: 1,
        };
        rooms.set_topic("dev", Some(topic.clone()));
        rooms.set_topic("nowhere", Some(topic.clone()));
        assert_eq!(rooms.topic("dev"), Some(&topic));
        assert_eq!(rooms.topic("nowhere"), None);
        rooms.leave("dev", "alice");
        rooms.join("dev", "bob");
        assert_eq!(rooms.topic("dev"), None);
    }

    #[test]
    fn rename_moves_membership() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        rooms.join("general", "alice");
        rooms.rename(&["dev".into(), "general".into()], "alice", "ally");
        assert!(rooms.is_member("dev", "ally"));
        assert!(rooms.is_member("general", "ally"));
        assert!(!rooms.is_member("dev", "alice"));
    }
}
