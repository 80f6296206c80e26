//! Rooms: who is in which room.
//!
//! This is plain data with no lock of its own. It lives inside the registry's
//! mutex, next to the client map, so that "is alice in #dev?" and "write this
//! line to every member of #dev" are answered under one lock and can never
//! disagree. A second mutex here would need a lock order and would let a
//! broadcast see a member that the client map had already forgotten.
//!
//! A room also has a topic, its operators, its bans and whether its topic
//! is locked. They all live and die with the room, as an IRC channel's do:
//! whoever creates a room (joins it while it is empty) is its first
//! operator, and when the last operator leaves, the member who has been
//! there longest becomes one, so a room with people in it always has
//! someone in charge. There is no lasting ownership: an emptied room is
//! forgotten with its operators and bans. (A production server adds
//! registered rooms, as IRC services do; we keep rooms as cheap as
//! possible.)

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
    /// Counts joins, so members can be ordered by how long they have been
    /// in a room (the longest-present member succeeds the last operator).
    joins: u64,
}

/// When a member joined a room, as a number that only grows: smaller is
/// longer present.
pub(crate) type Seniority = u64;

/// The most names one room may ban: the list lives in memory with the room.
pub(crate) const MAX_ROOM_BANS: usize = 100;

#[derive(Debug, Default)]
struct Room {
    /// Members' keys, each with when it joined.
    members: BTreeMap<String, Seniority>,
    /// The members who are operators (keys); never empty while the room
    /// has members.
    operators: BTreeSet<String>,
    /// The members who may speak in a moderated room without being
    /// operators (keys).
    voiced: BTreeSet<String>,
    /// Banned names: keys, and the names as typed.
    banned: BTreeMap<String, String>,
    /// Only operators may set the topic.
    topic_locked: bool,
    /// Only operators and voiced members may speak.
    moderated: bool,
    topic: Option<Topic>,
}

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The member was already in the room.
    Already,
    /// The member joined a room that has other members.
    Member,
    /// The member created the room and is its operator.
    Creator,
}

impl Rooms {
    pub(crate) fn new() -> Rooms {
        Rooms::default()
    }

    /// Adds `member` to `room`, creating the room if needed; whoever
    /// creates a room is its operator.
    pub(crate) fn join(&mut self, room: &str, member: &str) -> Joined {
        self.joins += 1;
        let Some(entry) = self.rooms.get_mut(room) else {
            self.create(room, member);
            return Joined::Creator;
        };
        if entry.members.contains_key(member) {
            return Joined::Already;
        }
        entry.members.insert(member.to_string(), self.joins);
        Joined::Member
    }

    /// Makes `room` with `member` in it, its operator.
    // Out of line: a new room is rare next to joins of rooms that exist,
    // and a `Room` built here would make every join's stack frame bigger
    // (joins happen at every login, on the path that decides how deep an
    // idle client's stack is: see BENCHMARKS.md).
    #[inline(never)]
    fn create(&mut self, room: &str, member: &str) {
        let mut entry = Room::default();
        entry.members.insert(member.to_string(), self.joins);
        entry.operators.insert(member.to_string());
        self.rooms.insert(room.to_string(), entry);
    }

    /// Removes `member` from `room`, and the room itself once it is empty.
    /// If the last operator left, the longest-present member becomes one:
    /// their key is returned, so the room can be told.
    pub(crate) fn leave(&mut self, room: &str, member: &str) -> Option<String> {
        let entry = self.rooms.get_mut(room)?;
        entry.members.remove(member);
        entry.operators.remove(member);
        entry.voiced.remove(member);
        if entry.members.is_empty() {
            self.rooms.remove(room);
            return None;
        }
        if !entry.operators.is_empty() {
            return None;
        }
        let (heir, _) = entry.members.iter().min_by_key(|(_, since)| **since)?;
        entry.operators.insert(heir.clone());
        Some(heir.clone())
    }

    /// The members of `room` (keys, each with when it joined) in key
    /// order, or None if the room does not exist.
    pub(crate) fn members(&self, room: &str) -> Option<&BTreeMap<String, Seniority>> {
        self.rooms.get(room).map(|r| &r.members)
    }

    /// Whether `member` is an operator of `room`.
    pub(crate) fn is_operator(&self, room: &str, member: &str) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|r| r.operators.contains(member))
    }

    /// Makes a member an operator (`true`) or not. Returns false if
    /// nothing changed (not a member, or already so).
    pub(crate) fn set_operator(&mut self, room: &str, member: &str, operator: bool) -> bool {
        let Some(entry) = self.rooms.get_mut(room) else {
            return false;
        };
        if !entry.members.contains_key(member) {
            return false;
        }
        if operator {
            entry.operators.insert(member.to_string())
        } else {
            entry.operators.remove(member)
        }
    }

    /// Whether `member` is voiced in `room`.
    pub(crate) fn is_voiced(&self, room: &str, member: &str) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|r| r.voiced.contains(member))
    }

    /// Gives a member a voice (`true`) or takes it. Returns false if
    /// nothing changed.
    pub(crate) fn set_voiced(&mut self, room: &str, member: &str, voiced: bool) -> bool {
        let Some(entry) = self.rooms.get_mut(room) else {
            return false;
        };
        match (entry.members.contains_key(member), voiced) {
            (false, _) => false,
            (true, true) => entry.voiced.insert(member.to_string()),
            (true, false) => entry.voiced.remove(member),
        }
    }

    /// Whether `member` may not speak in `room`: it is moderated and they
    /// are neither an operator nor voiced. One map lookup for the common
    /// case of a room that is not moderated: this is on every message's
    /// path.
    pub(crate) fn is_muted(&self, room: &str, member: &str) -> bool {
        self.rooms.get(room).is_some_and(|r| {
            r.moderated && !r.operators.contains(member) && !r.voiced.contains(member)
        })
    }

    /// Whether `room` is moderated.
    pub(crate) fn moderated(&self, room: &str) -> bool {
        self.rooms.get(room).is_some_and(|r| r.moderated)
    }

    /// Moderates `room` or not. Returns false if nothing changed.
    pub(crate) fn set_moderated(&mut self, room: &str, moderated: bool) -> bool {
        match self.rooms.get_mut(room) {
            Some(entry) if entry.moderated != moderated => {
                entry.moderated = moderated;
                true
            }
            _ => false,
        }
    }

    /// Whether the name with key `key` is banned from `room`.
    pub(crate) fn is_banned(&self, room: &str, key: &str) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|r| r.banned.contains_key(key))
    }

    /// Bans (`Some(name)`) or unbans (`None`) the name with key `key`.
    /// Returns false if nothing changed or the room's list is full
    /// ([`MAX_ROOM_BANS`]); the caller tells which from
    /// [`is_banned`](Self::is_banned).
    pub(crate) fn set_ban(&mut self, room: &str, key: &str, name: Option<&str>) -> bool {
        let Some(entry) = self.rooms.get_mut(room) else {
            return false;
        };
        match name {
            Some(_) if entry.banned.contains_key(key) => false,
            Some(_) if entry.banned.len() >= MAX_ROOM_BANS => false,
            Some(name) => entry
                .banned
                .insert(key.to_string(), name.to_string())
                .is_none(),
            None => entry.banned.remove(key).is_some(),
        }
    }

    /// The names banned from `room`, as typed, in key order.
    pub(crate) fn bans(&self, room: &str) -> Vec<String> {
        self.rooms
            .get(room)
            .map_or_else(Vec::new, |r| r.banned.values().cloned().collect())
    }

    /// Whether only operators may set the topic of `room`.
    pub(crate) fn topic_locked(&self, room: &str) -> bool {
        self.rooms.get(room).is_some_and(|r| r.topic_locked)
    }

    /// Locks or unlocks the topic. Returns false if nothing changed.
    pub(crate) fn set_topic_locked(&mut self, room: &str, locked: bool) -> bool {
        match self.rooms.get_mut(room) {
            Some(entry) if entry.topic_locked != locked => {
                entry.topic_locked = locked;
                true
            }
            _ => false,
        }
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
        self.members(room).is_some_and(|m| m.contains_key(member))
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

    /// Renames a member in each of `rooms`; they keep their place in
    /// line and their operator status. A ban names a name, so it stays
    /// with the old name.
    pub(crate) fn rename(&mut self, rooms: &[String], old: &str, new: &str) {
        for room in rooms {
            if let Some(entry) = self.rooms.get_mut(room) {
                if let Some(since) = entry.members.remove(old) {
                    entry.members.insert(new.to_string(), since);
                }
                if entry.operators.remove(old) {
                    entry.operators.insert(new.to_string());
                }
                if entry.voiced.remove(old) {
                    entry.voiced.insert(new.to_string());
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
        assert_eq!(rooms.join("dev", "alice"), Joined::Creator);
        assert_eq!(rooms.join("dev", "alice"), Joined::Already);
        assert_eq!(rooms.join("dev", "bob"), Joined::Member);
        assert_eq!(rooms.list().collect::<Vec<_>>(), vec![("dev", 2)]);
        rooms.leave("dev", "alice");
        assert!(!rooms.is_member("dev", "alice"));
        rooms.leave("dev", "bob");
        assert_eq!(rooms.list().count(), 0);
        assert_eq!(rooms.leave("nowhere", "bob"), None);
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

    #[test]
    fn the_creator_is_the_operator_and_the_longest_present_succeeds() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        rooms.join("dev", "bob");
        rooms.join("dev", "carol");
        assert!(rooms.is_operator("dev", "alice"));
        assert!(!rooms.is_operator("dev", "bob"));
        // bob rejoins: he goes to the back of the line.
        rooms.leave("dev", "bob");
        rooms.join("dev", "bob");
        assert_eq!(rooms.leave("dev", "alice").as_deref(), Some("carol"));
        assert!(rooms.is_operator("dev", "carol"));
        assert!(!rooms.is_operator("dev", "bob"));
    }

    #[test]
    fn no_one_succeeds_while_an_operator_remains() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        rooms.join("dev", "bob");
        rooms.join("dev", "carol");
        assert!(rooms.set_operator("dev", "carol", true));
        assert!(!rooms.set_operator("dev", "carol", true));
        assert!(!rooms.set_operator("dev", "nobody", true));
        assert_eq!(rooms.leave("dev", "alice"), None);
        assert!(!rooms.is_operator("dev", "bob"));
        assert_eq!(rooms.leave("dev", "carol").as_deref(), Some("bob"));
        assert_eq!(rooms.leave("dev", "bob"), None);
    }

    #[test]
    fn operators_bans_and_the_lock_are_forgotten_with_the_room() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        assert!(rooms.set_ban("dev", "mallory", Some("Mallory")));
        assert!(!rooms.set_ban("dev", "mallory", Some("Mallory")));
        assert!(rooms.set_topic_locked("dev", true));
        assert!(!rooms.set_topic_locked("dev", true));
        assert_eq!(rooms.bans("dev"), vec!["Mallory".to_string()]);
        assert!(rooms.is_banned("dev", "mallory"));
        rooms.leave("dev", "alice");
        rooms.join("dev", "mallory");
        assert!(!rooms.is_banned("dev", "mallory"));
        assert!(!rooms.topic_locked("dev"));
        assert!(rooms.is_operator("dev", "mallory"));
    }

    #[test]
    fn a_moderated_room_mutes_who_is_neither_operator_nor_voiced() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        rooms.join("dev", "bob");
        rooms.join("dev", "carol");
        assert!(!rooms.is_muted("dev", "bob"));
        assert!(rooms.set_moderated("dev", true));
        assert!(!rooms.set_moderated("dev", true));
        assert!(rooms.moderated("dev"));
        assert!(!rooms.is_muted("dev", "alice"));
        assert!(rooms.is_muted("dev", "bob"));
        assert!(rooms.set_voiced("dev", "bob", true));
        assert!(!rooms.set_voiced("dev", "bob", true));
        assert!(!rooms.set_voiced("dev", "nobody", true));
        assert!(!rooms.is_muted("dev", "bob"));
        rooms.rename(&["dev".into()], "bob", "rob");
        assert!(rooms.is_voiced("dev", "rob"));
        rooms.leave("dev", "rob");
        rooms.join("dev", "rob");
        assert!(rooms.is_muted("dev", "rob"));
        assert!(rooms.is_muted("dev", "carol"));
    }

    #[test]
    fn a_room_bans_at_most_so_many_names() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        for i in 0..MAX_ROOM_BANS {
            assert!(rooms.set_ban("dev", &format!("n{i}"), Some("n")));
        }
        assert!(!rooms.set_ban("dev", "one-more", Some("one-more")));
        assert!(rooms.set_ban("dev", "n0", None));
        assert!(!rooms.set_ban("dev", "n0", None));
    }

    #[test]
    fn a_rename_keeps_operator_status_and_place_in_line() {
        let mut rooms = Rooms::new();
        rooms.join("dev", "alice");
        rooms.join("dev", "bob");
        rooms.join("dev", "carol");
        rooms.rename(&["dev".into()], "alice", "ally");
        assert!(rooms.is_operator("dev", "ally"));
        rooms.rename(&["dev".into()], "bob", "zed");
        assert_eq!(rooms.leave("dev", "ally").as_deref(), Some("zed"));
    }
}
