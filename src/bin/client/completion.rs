//! Tab completion of names and rooms the client has seen.
//!
//! The server has no "list completions" request, and needs none: every name
//! and room worth completing has already passed by in the lines it sent
//! (`[#dev] alice: hi`, `* bob joined #dev`, the replies to `/users` and
//! `/rooms`). [`Known::learn`] picks them out of each line as it arrives;
//! [`complete`] uses them. Both are pure, so the tests feed them strings.
//!
//! Simplification: names are remembered, never forgotten (someone who left
//! still completes), and only so many are kept, so a server that sends a
//! flood of names cannot grow the client's memory without bound.

use std::collections::{BTreeMap, BTreeSet};

/// How many names, and how many rooms, are remembered.
const MAX_KNOWN: usize = 1000;

/// The longest name and room the server accepts (docs/PROTOCOL.md).
const MAX_NAME: usize = 24;
const MAX_ROOM: usize = 32;

/// Names and rooms seen in what the server sent.
#[derive(Debug, Default)]
pub struct Known {
    /// Lower-case name -> its spelling: names are unique ignoring case.
    names: BTreeMap<String, String>,
    /// Rooms are lower-case already.
    rooms: BTreeSet<String>,
}

impl Known {
    /// Picks the names and rooms out of one line from the server.
    pub fn learn(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("[DM] ") {
            self.learn_speaker(rest);
        } else if let Some((room, rest)) = line.strip_prefix("[#").and_then(|l| l.split_once("] "))
        {
            self.add_room(room);
            // An action is `[#room] * name waves`, a message `[#room] name: hi`.
            self.learn_speaker(rest.strip_prefix("* ").unwrap_or(rest));
        } else if let Some(notice) = line.strip_prefix("* ") {
            // Indented notices are the `/help` text (`  #room text ...`).
            if !notice.starts_with(' ') {
                self.learn_notice(notice);
            }
        }
    }

    /// `name: text` or `name action`: the first word is the speaker.
    fn learn_speaker(&mut self, rest: &str) {
        let word = rest.split([' ', ':']).next().unwrap_or("");
        self.add_name(word);
    }

    /// Every `#room` a notice mentions, and the names of the notices that
    /// carry them: `a joined #r`, `a left #r`, `a is now known as b`, and
    /// the lists `online: a, b` and `in #r: a, b`.
    fn learn_notice(&mut self, notice: &str) {
        for word in notice.split([' ', ',']) {
            if let Some(room) = word.strip_prefix('#') {
                self.add_room(room.trim_end_matches([':', '.', '!']));
            }
        }
        let list = notice.strip_prefix("online: ").or_else(|| {
            notice
                .strip_prefix("in #")
                .and_then(|l| Some(l.split_once(": ")?.1))
        });
        if let Some(list) = list {
            list.split(", ").for_each(|name| self.add_name(name));
            return;
        }
        let mut words = notice.split(' ');
        let first = words.next().unwrap_or("");
        match (words.next(), words.next(), words.next()) {
            (Some("joined" | "left"), Some(room), _) if room.starts_with('#') => {
                self.add_name(first)
            }
            (Some("is"), Some("now"), Some("known")) => {
                self.add_name(notice.rsplit(' ').next().unwrap_or(""))
            }
            _ => {}
        }
    }

    fn add_name(&mut self, name: &str) {
        // `* you joined #dev` is about us, not someone called "you".
        if is_token(name, MAX_NAME) && name != "you" && self.names.len() < MAX_KNOWN {
            self.names.insert(name.to_lowercase(), name.to_string());
        }
    }

    fn add_room(&mut self, room: &str) {
        if is_token(room, MAX_ROOM) && self.rooms.len() < MAX_KNOWN {
            self.rooms.insert(room.to_lowercase());
        }
    }
}

/// Names and rooms are 1 to `max` characters from `A-Z a-z 0-9 _ -`.
fn is_token(word: &str, max: usize) -> bool {
    (1..=max).contains(&word.len())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What Tab does.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// The new line, and the cursor in characters.
    Replace(String, usize),
    /// Several candidates and nothing more in common: show them.
    Candidates(Vec<String>),
    /// Nothing matches.
    Nothing,
}

/// Completes the word that ends at `cursor` (in characters): `#de` to a
/// room, `@al` or `al` to a name. A single match is completed whole and
/// followed by a space; several are completed as far as they agree
/// (ignoring case), and listed when they agree no further.
pub fn complete(line: &str, cursor: usize, known: &Known) -> Completion {
    let chars: Vec<char> = line.chars().collect();
    let cursor = cursor.min(chars.len());
    let start = chars[..cursor]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |space| space + 1);
    let word: String = chars[start..cursor].iter().collect();
    let (sigil, prefix, candidates): (&str, &str, Vec<&String>) = match word.chars().next() {
        Some('#') => ("#", &word[1..], known.rooms.iter().collect()),
        Some('@') => ("@", &word[1..], known.names.values().collect()),
        _ => ("", word.as_str(), known.names.values().collect()),
    };
    if prefix.is_empty() {
        return Completion::Nothing;
    }
    let prefix = prefix.to_lowercase();
    let matches: Vec<&String> = candidates
        .into_iter()
        .filter(|c| c.to_lowercase().starts_with(&prefix))
        .collect();
    let common = match matches.as_slice() {
        [] => return Completion::Nothing,
        [only] => format!("{only} "),
        [first, rest @ ..] => {
            let shared = rest.iter().fold(first.chars().count(), |n, other| {
                n.min(common_prefix_len(first, other))
            });
            if shared <= prefix.chars().count() {
                let listed = matches.iter().map(|m| format!("{sigil}{m}")).collect();
                return Completion::Candidates(listed);
            }
            first.chars().take(shared).collect()
        }
    };
    let before: String = chars[..start].iter().collect();
    let after: String = chars[cursor..].iter().collect();
    let mut inserted = format!("{sigil}{common}");
    if after.starts_with(' ') && inserted.ends_with(' ') {
        inserted.pop();
    }
    let new_cursor = start + inserted.chars().count();
    Completion::Replace(format!("{before}{inserted}{after}"), new_cursor)
}

/// How many characters `a` and `b` share at their start, ignoring case.
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.chars()
        .zip(b.chars())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(lines: &[&str]) -> Known {
        let mut known = Known::default();
        for line in lines {
            known.learn(line);
        }
        known
    }

    fn names(known: &Known) -> Vec<&str> {
        known.names.values().map(String::as_str).collect()
    }

    fn rooms(known: &Known) -> Vec<&str> {
        known.rooms.iter().map(String::as_str).collect()
    }

    #[test]
    fn learns_from_room_messages_and_actions() {
        let k = known(&["[#general] alice: hi bob", "[#dev] * carol waves"]);
        assert_eq!(names(&k), ["alice", "carol"]);
        assert_eq!(rooms(&k), ["dev", "general"]);
    }

    #[test]
    fn learns_from_direct_messages() {
        assert_eq!(names(&known(&["[DM] dave: psst"])), ["dave"]);
    }

    #[test]
    fn learns_from_join_and_leave_notices() {
        let k = known(&["* erin joined #dev", "* frank left #ops (kicked)"]);
        assert_eq!(names(&k), ["erin", "frank"]);
        assert_eq!(rooms(&k), ["dev", "ops"]);
    }

    #[test]
    fn learns_from_user_and_room_lists() {
        let k = known(&[
            "* online: alice, Bob, carol",
            "* in #dev: dave, erin",
            "* rooms: #dev (1), #general (3)",
        ]);
        assert_eq!(names(&k), ["alice", "Bob", "carol", "dave", "erin"]);
        assert_eq!(rooms(&k), ["dev", "general"]);
    }

    #[test]
    fn learns_renames_and_rooms_in_other_notices() {
        let k = known(&[
            "* old is now known as new",
            "* Hello zed! You are in #general. Type /help for commands.",
            "* last 2 messages in #lobby:",
            "* you are now talking in #dev",
        ]);
        assert_eq!(names(&k), ["new"]);
        assert_eq!(rooms(&k), ["dev", "general", "lobby"]);
    }

    #[test]
    fn does_not_learn_from_our_own_notices_or_text() {
        let k = known(&[
            "* you joined #dev",
            "[#general] alice: say hi to #secret and @nobody",
            "! bob is not online",
            "* rooms: none",
            "*   #room text           say text in another room you are in",
        ]);
        assert_eq!(names(&k), ["alice"]);
        assert_eq!(rooms(&k), ["dev", "general"]);
    }

    #[test]
    fn ignores_words_that_cannot_be_names() {
        let k = known(&[
            "[DM] no-such-name-is-this-long-at-all: x",
            "* online: a b, c!",
        ]);
        assert!(names(&k).is_empty());
    }

    #[test]
    fn remembers_a_bounded_number() {
        let mut k = Known::default();
        for i in 0..MAX_KNOWN + 5 {
            k.learn(&format!("* user{i} joined #room{i}"));
        }
        assert_eq!((k.names.len(), k.rooms.len()), (MAX_KNOWN, MAX_KNOWN));
    }

    #[test]
    fn a_single_match_is_completed_with_a_space() {
        let k = known(&["* online: alice, bob"]);
        assert_eq!(
            complete("al", 2, &k),
            Completion::Replace("alice ".into(), 6)
        );
        assert_eq!(
            complete("hi B", 4, &k),
            Completion::Replace("hi bob ".into(), 7)
        );
    }

    #[test]
    fn at_completes_a_name_and_keeps_the_at() {
        let k = known(&["* online: alice"]);
        assert_eq!(
            complete("@a", 2, &k),
            Completion::Replace("@alice ".into(), 7)
        );
    }

    #[test]
    fn hash_completes_a_room() {
        let k = known(&["* rooms: #dev (1), #general (2)", "* online: dave"]);
        assert_eq!(
            complete("/join #g", 8, &k),
            Completion::Replace("/join #general ".into(), 15)
        );
        assert_eq!(
            complete("#d", 2, &k),
            Completion::Replace("#dev ".into(), 5)
        );
    }

    #[test]
    fn completes_the_word_before_the_cursor_and_keeps_the_rest() {
        let k = known(&["* online: alice"]);
        assert_eq!(
            complete("@al hi", 3, &k),
            Completion::Replace("@alice hi".into(), 6)
        );
    }

    #[test]
    fn several_matches_complete_as_far_as_they_agree() {
        let k = known(&["* online: alice, alicia, bob"]);
        assert_eq!(complete("a", 1, &k), Completion::Replace("alic".into(), 4));
    }

    #[test]
    fn several_matches_that_agree_no_further_are_listed() {
        let k = known(&["* online: alice, alicia"]);
        assert_eq!(
            complete("@alic", 5, &k),
            Completion::Candidates(vec!["@alice".into(), "@alicia".into()])
        );
    }

    #[test]
    fn matching_ignores_case_and_gives_the_seen_spelling() {
        let k = known(&["* online: Alice"]);
        assert_eq!(
            complete("aL", 2, &k),
            Completion::Replace("Alice ".into(), 6)
        );
    }

    #[test]
    fn nothing_to_complete() {
        let k = known(&["* online: alice"]);
        assert_eq!(complete("zz", 2, &k), Completion::Nothing);
        assert_eq!(complete("hi ", 3, &k), Completion::Nothing);
        assert_eq!(complete("", 0, &k), Completion::Nothing);
        assert_eq!(complete("#", 1, &k), Completion::Nothing);
    }

    #[test]
    fn words_with_multibyte_characters_before_them() {
        let k = known(&["* online: alice"]);
        assert_eq!(
            complete("héé al", 6, &k),
            Completion::Replace("héé alice ".into(), 10)
        );
    }
}
