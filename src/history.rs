//! The chat log: an append-only file, and the last few lines of each room
//! kept in memory for the replay a client gets when it joins.
//!
//! Two ideas make the log survive crashes without a database:
//!
//! - **Append, one write per line.** The file is opened in append mode and
//!   every entry is written whole with one `write_all` on an unbuffered
//!   `File`, so a `kill -9` can at worst cut the very last line short. On
//!   start we skip such a torn line (and any other line we cannot read) with
//!   a warning, and begin the next entry on a fresh line.
//! - **Write before delivery.** The registry appends a message here before it
//!   queues the message to anyone, so whatever a client has seen is
//!   in the log.
//!
//! The in-memory replay is bounded: at most `replay` lines per room, however
//! long the file grows. Reading the file at start is done line by line with
//! the same cap, so a huge log costs time, not memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::event::Message;
use crate::lock::lock;
use crate::net::{read_line_capped, LineRead};
use crate::{files, log, protocol};

/// Lines longer than this in the log file are skipped when loading. Entries
/// we write are far shorter (a capped client line plus a few fields).
const MAX_LOG_LINE: usize = 64 * 1024;

/// The line stored in the log: `time<TAB>#room<TAB>name<TAB>text`, with
/// `*name` for an action. Text is sanitized, so it holds no tab or newline
/// that could break the fields.
fn to_log_line(message: &Message) -> String {
    let star = if message.action { "*" } else { "" };
    format!(
        "{}\t#{}\t{star}{}\t{}\n",
        message.time, message.room, message.from, message.text
    )
}

/// Parses a log line (without its newline); None if it is malformed.
fn parse_log_line(line: &str) -> Option<Message> {
    let mut fields = line.split('\t');
    let (time, room, name, text) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() || time.is_empty() {
        return None;
    }
    let room = crate::rooms::normalize_room_name(room.strip_prefix('#')?).ok()?;
    let (name, action) = match name.strip_prefix('*') {
        Some(name) => (name, true),
        None => (name, false),
    };
    protocol::validate_name(name).ok()?;
    Some(Message {
        room,
        from: name.to_string(),
        text: text.to_string(),
        action,
        time: time.to_string(),
    })
}

/// Why the log could not be opened.
#[derive(Debug)]
pub struct HistoryError {
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot open history file {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// How many rooms with no members keep their replay buffers; past this, the
/// one unused longest is forgotten (its messages stay in the log, and a
/// `/join` of it starts with an empty replay).
const COLD_ROOMS: usize = 1000;

/// The chat log and the replay buffers.
pub(crate) struct History {
    /// Protects the file (one writer at a time, so lines never interleave)
    /// and the replay buffers. Lock order: the registry locks its state
    /// first and this second; code here never calls back into the registry.
    inner: Mutex<Inner>,
    replay: usize,
    /// The log's path: to rotate it, and to read it back (`/history`) with
    /// a handle of its own.
    path: PathBuf,
    /// Past this size the log is rotated (0: never).
    max_bytes: u64,
}

struct Inner {
    file: File,
    /// The size of the current file, to know when to rotate it.
    size: u64,
    recent: HashMap<String, VecDeque<Message>>,
    /// Rooms with a replay buffer and no members, least recently used
    /// first; at most [`COLD_ROOMS`] of them.
    cold: VecDeque<String>,
}

impl Inner {
    /// Notes that `room` has no members now, and forgets the buffer of the
    /// room unused longest if too many are kept.
    fn cool(&mut self, room: &str) {
        if !self.recent.contains_key(room) || self.cold.iter().any(|r| r == room) {
            return;
        }
        self.cold.push_back(room.to_string());
        while self.cold.len() > COLD_ROOMS {
            if let Some(oldest) = self.cold.pop_front() {
                self.recent.remove(&oldest);
            }
        }
    }
}

impl History {
    /// Opens (or creates) the log at `path`, loading the last `replay`
    /// entries of each room. Lines that cannot be read are skipped; the
    /// returned warnings say which, for the activity log.
    ///
    /// Only the current file is read (not a rotated `.1`), and only the
    /// [`COLD_ROOMS`] rooms spoken in last keep a replay: none has members
    /// yet.
    pub fn open(
        path: &Path,
        replay: usize,
        max_bytes: u64,
    ) -> Result<(History, Vec<String>), HistoryError> {
        let fail = |source| HistoryError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            files::create_private_dir(dir).map_err(fail)?;
        }
        let mut file = open_log_file(path).map_err(fail)?;
        let loaded = load(&mut BufReader::new(&mut file), replay).map_err(fail)?;
        if loaded.torn {
            // Start the next entry on a line of its own, not glued to the
            // torn one.
            file.write_all(b"\n").map_err(fail)?;
        }
        let size = file.metadata().map_err(fail)?.len();
        let history = History {
            inner: Mutex::new(Inner {
                file,
                size,
                recent: loaded.recent,
                cold: loaded.cold,
            }),
            replay,
            path: path.to_path_buf(),
            max_bytes,
        };
        Ok((history, loaded.warnings))
    }

    /// `room` has members again: its buffer is no longer a candidate to
    /// forget.
    pub(crate) fn room_in_use(&self, room: &str) {
        let mut inner = lock(&self.inner, "history");
        if let Some(i) = inner.cold.iter().position(|r| r == room) {
            inner.cold.remove(i);
        }
    }

    /// `room` has no members now (see [`COLD_ROOMS`]).
    pub(crate) fn room_emptied(&self, room: &str) {
        lock(&self.inner, "history").cool(room);
    }

    /// Appends a message to the file and the replay buffer of its room.
    ///
    /// A failed write (disk full) is returned for the caller to log once it
    /// holds no lock, and the message is still kept for the replay (and
    /// delivered): losing a log line is better than losing the conversation.
    pub(crate) fn append(&self, message: &Message) -> io::Result<()> {
        let line = to_log_line(message);
        let mut inner = lock(&self.inner, "history");
        let mut written = inner.file.write_all(line.as_bytes());
        inner.size += line.len() as u64;
        if self.max_bytes > 0 && inner.size > self.max_bytes && written.is_ok() {
            written = self.rotate(&mut inner);
        }
        if self.replay > 0 {
            let recent = inner.recent.entry(message.room.clone()).or_default();
            if recent.len() == self.replay {
                recent.pop_front();
            }
            recent.push_back(message.clone());
        }
        written
    }

    /// Renames the log to `<file>.1` (replacing the previous one) and starts
    /// a new, empty one. A rename and an open: quick enough to do holding
    /// the lock, which keeps every line in one file or the other, in order.
    fn rotate(&self, inner: &mut Inner) -> io::Result<()> {
        fs::rename(&self.path, rotated_path(&self.path))?;
        inner.file = open_log_file(&self.path)?;
        inner.size = 0;
        Ok(())
    }

    /// The last messages of `room` (at most `replay`), oldest first.
    pub(crate) fn recent(&self, room: &str) -> Vec<Message> {
        let inner = lock(&self.inner, "history");
        inner
            .recent
            .get(room)
            .map(|recent| recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The last `count` messages of `room`, oldest first, read from the log
    /// file (after its rotated predecessor `<file>.1`, if there is one).
    ///
    /// Reads with a file handle of its own and takes **no lock**: appends
    /// (and with them every delivery) go on meanwhile. An entry being
    /// written as we read may show as a torn last line; it is left out, as
    /// at start. The whole file is scanned, keeping at most `count`
    /// entries: time grows with the log, memory does not. (A server with
    /// big logs would read backwards from the end, or keep an index.)
    pub(crate) fn read_back(&self, room: &str, count: usize) -> Vec<Message> {
        let mut last = VecDeque::with_capacity(count.min(256));
        for path in [rotated_path(&self.path), self.path.clone()] {
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    log!("cannot read the history file {}: {e}", path.display());
                    continue;
                }
            };
            if let Err(e) = keep_last(&mut BufReader::new(file), room, count, &mut last) {
                log!("cannot read the history file {}: {e}", path.display());
            }
        }
        last.into()
    }

    /// Forces the log to disk (at shutdown).
    pub fn flush(&self) -> io::Result<()> {
        let mut inner = lock(&self.inner, "history");
        inner.file.flush()?;
        inner.file.sync_data()
    }
}

/// Reads log entries from `reader`, keeping in `last` the latest `count`
/// of `room`. Lines that are not entries are skipped silently (the start
/// of the server already warned about them).
fn keep_last(
    reader: &mut impl BufRead,
    room: &str,
    count: usize,
    last: &mut VecDeque<Message>,
) -> io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let line = match read_line_capped(reader, MAX_LOG_LINE, &mut buf)? {
            LineRead::Eof | LineRead::Torn => return Ok(()),
            LineRead::TooLong | LineRead::NotUtf8 => continue,
            LineRead::Line(line) => line,
        };
        match parse_log_line(&line) {
            Some(message) if message.room == room && count > 0 => {
                if last.len() == count {
                    last.pop_front();
                }
                last.push_back(message);
            }
            _ => {}
        }
    }
}

struct Loaded {
    recent: HashMap<String, VecDeque<Message>>,
    /// The rooms of `recent`, spoken in least recently first.
    cold: VecDeque<String>,
    warnings: Vec<String>,
    /// The file did not end with a newline.
    torn: bool,
}

/// Reads a log, keeping the last `replay` entries of each of the
/// [`COLD_ROOMS`] rooms spoken in last.
fn load(reader: &mut impl BufRead, replay: usize) -> io::Result<Loaded> {
    let mut recent: HashMap<String, VecDeque<Message>> = HashMap::new();
    // When each room was last spoken in, by line number.
    let mut last_seen: HashMap<String, usize> = HashMap::new();
    let mut warnings = Vec::new();
    let mut buf = Vec::new();
    let mut number = 0;
    let torn = loop {
        let read = read_line_capped(reader, MAX_LOG_LINE, &mut buf)?;
        number += 1;
        let line = match read {
            LineRead::Eof => break false,
            LineRead::Torn => {
                warnings.push(format!(
                    "line {number}: torn last line (no newline), skipped"
                ));
                break true;
            }
            LineRead::TooLong => {
                warnings.push(format!("line {number}: too long, skipped"));
                continue;
            }
            LineRead::NotUtf8 => None,
            LineRead::Line(line) if line.is_empty() => continue,
            LineRead::Line(line) => Some(line),
        };
        let Some(message) = line.as_deref().and_then(parse_log_line) else {
            warnings.push(format!("line {number}: not a history entry, skipped"));
            continue;
        };
        if replay == 0 {
            continue;
        }
        last_seen.insert(message.room.clone(), number);
        let buffer = recent.entry(message.room.clone()).or_default();
        if buffer.len() == replay {
            buffer.pop_front();
        }
        buffer.push_back(message);
        // Now and then, not every line: forget all but the rooms spoken in
        // last, so a huge log with many rooms costs time, not memory.
        if recent.len() > 2 * COLD_ROOMS {
            keep_latest(&mut recent, &last_seen, COLD_ROOMS);
        }
    };
    let cold = keep_latest(&mut recent, &last_seen, COLD_ROOMS);
    Ok(Loaded {
        recent,
        cold,
        warnings,
        torn,
    })
}

/// Keeps the buffers of the `keep` rooms seen last; returns those rooms,
/// least recently seen first.
fn keep_latest(
    recent: &mut HashMap<String, VecDeque<Message>>,
    last_seen: &HashMap<String, usize>,
    keep: usize,
) -> VecDeque<String> {
    let mut rooms: Vec<(usize, String)> = recent
        .keys()
        .map(|room| (last_seen.get(room).copied().unwrap_or(0), room.clone()))
        .collect();
    rooms.sort_unstable();
    let forget = rooms.len().saturating_sub(keep);
    for (_, room) in rooms.drain(..forget) {
        recent.remove(&room);
    }
    rooms.into_iter().map(|(_, room)| room).collect()
}

/// Opens (or creates) the log for reading and appending. Private: the chat
/// log holds everyone's messages (see `files`).
fn open_log_file(path: &Path) -> io::Result<File> {
    files::private(OpenOptions::new().create(true).read(true).append(true)).open(path)
}

/// Where a rotated log goes: `<file>.1`.
pub(crate) fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".1");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn entry(room: &str, name: &str, text: &str, action: bool) -> Message {
        Message {
            room: room.into(),
            from: name.into(),
            text: text.into(),
            action,
            time: "2026-11-24T13:05:09Z".into(),
        }
    }

    #[test]
    fn log_lines_round_trip() {
        let e = entry("dev", "alice", "hi all", false);
        let line = to_log_line(&e);
        assert_eq!(line, "2026-11-24T13:05:09Z\t#dev\talice\thi all\n");
        assert_eq!(parse_log_line(line.trim_end()), Some(e));
        let a = entry("dev", "alice", "waves", true);
        let line = to_log_line(&a);
        assert_eq!(line, "2026-11-24T13:05:09Z\t#dev\t*alice\twaves\n");
        assert_eq!(parse_log_line(line.trim_end()), Some(a));
    }

    #[test]
    fn malformed_log_lines_are_refused() {
        for bad in [
            "",
            "no tabs at all",
            "t\t#dev\talice",
            "t\tdev\talice\thi",
            "t\t#bad room\talice\thi",
            "t\t#dev\tbad name\thi",
            "t\t#dev\talice\thi\textra",
        ] {
            assert_eq!(parse_log_line(bad), None, "{bad:?}");
        }
    }

    /// A fresh log in a temp dir of its own, removed on drop.
    struct TempLog(PathBuf);

    impl TempLog {
        fn new(tag: &str) -> TempLog {
            let dir =
                std::env::temp_dir().join(format!("lanchat-history-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            TempLog(dir.join("chat.log"))
        }
    }

    impl Drop for TempLog {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn only_so_many_empty_rooms_keep_their_replay() {
        let log = TempLog::new("cold");
        let (history, _) = History::open(&log.0, 2, 0).expect("open");
        for i in 0..COLD_ROOMS + 5 {
            let room = format!("r{i}");
            history.room_in_use(&room);
            history
                .append(&entry(&room, "x", "hi", false))
                .expect("append");
            history.room_emptied(&room);
        }
        // The five emptied first were forgotten; the rest are kept.
        for i in 0..5 {
            assert!(history.recent(&format!("r{i}")).is_empty(), "r{i}");
        }
        assert_eq!(history.recent("r5").len(), 1);
        // A room in use again is not a candidate to forget.
        history.room_in_use("r5");
        for i in 0..10 {
            let room = format!("late{i}");
            history
                .append(&entry(&room, "x", "hi", false))
                .expect("append");
            history.room_emptied(&room);
        }
        assert_eq!(history.recent("r5").len(), 1);
        assert!(history.recent("r6").is_empty());
    }

    #[test]
    fn the_log_is_rotated_past_its_size_and_only_the_new_file_is_loaded() {
        let log = TempLog::new("rotate");
        let (history, _) = History::open(&log.0, 5, 100).expect("open");
        // About 48 bytes a line: the third goes past 100 and rotates.
        for i in 0..4 {
            history
                .append(&entry("a", "x", &format!("message number {i}"), false))
                .expect("append");
        }
        drop(history);
        let old = fs::read_to_string(rotated_path(&log.0)).expect("a .1 file");
        let new = fs::read_to_string(&log.0).expect("the new file");
        assert!(old.contains("message number 0"), "{old}");
        assert!(!new.contains("message number 0"), "{new}");
        assert!(new.contains("message number 3"), "{new}");
        assert!(new.len() <= 100 + 64, "{}", new.len());
        let (reopened, _) = History::open(&log.0, 5, 100).expect("reopen");
        let texts: Vec<String> = reopened.recent("a").into_iter().map(|m| m.text).collect();
        assert!(texts.iter().all(|t| new.contains(t.as_str())), "{texts:?}");
    }

    #[test]
    fn loading_keeps_the_rooms_spoken_in_last() {
        let mut text = String::new();
        for i in 0..COLD_ROOMS * 3 {
            text.push_str(&format!("t\t#r{i}\tx\thi\n"));
        }
        let loaded = load(&mut Cursor::new(text), 3).expect("load");
        assert_eq!(loaded.recent.len(), COLD_ROOMS);
        assert!(loaded
            .recent
            .contains_key(&format!("r{}", COLD_ROOMS * 3 - 1)));
        assert!(!loaded.recent.contains_key("r0"));
        assert_eq!(loaded.cold.len(), COLD_ROOMS);
        assert_eq!(
            loaded.cold.back(),
            Some(&format!("r{}", COLD_ROOMS * 3 - 1))
        );
    }

    #[test]
    fn keep_last_keeps_the_latest_of_one_room_and_skips_a_torn_tail() {
        let text =
            "t\t#a\tx\tm1\nt\t#b\ty\tother\nt\t#a\tx\tm2\ngarbage\nt\t#a\tx\tm3\nt\t#a\tx\ttor";
        let mut last = VecDeque::new();
        keep_last(&mut Cursor::new(text), "a", 2, &mut last).expect("read");
        let texts: Vec<_> = last.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["m2", "m3"]);
    }

    #[test]
    fn read_back_reads_the_rotated_file_first_and_takes_no_replay_limit() {
        let dir = std::env::temp_dir().join(format!("lanchat-history-{}", std::process::id()));
        let path = dir.join("history.log");
        let (history, _) = History::open(&path, 1, 0).expect("open");
        fs::write(dir.join("history.log.1"), "t\t#a\tx\told\n").expect("rotated");
        history
            .append(&entry("a", "x", "new1", false))
            .expect("append");
        history
            .append(&entry("a", "x", "new2", true))
            .expect("append");
        let back = history.read_back("a", 10);
        let texts: Vec<_> = back.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["old", "new1", "new2"]);
        assert!(back[2].action);
        assert_eq!(history.read_back("a", 2).len(), 2);
        assert!(history.read_back("nowhere", 5).is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn load_keeps_the_last_entries_of_each_room() {
        let mut text = String::new();
        for i in 0..5 {
            text.push_str(&format!("t\t#a\tx\tm{i}\n"));
        }
        text.push_str("t\t#b\ty\tonly\n");
        let loaded = load(&mut Cursor::new(text), 3).expect("load");
        let a: Vec<_> = loaded.recent["a"].iter().map(|e| e.text.as_str()).collect();
        assert_eq!(a, ["m2", "m3", "m4"]);
        assert_eq!(loaded.recent["b"].len(), 1);
        assert!(loaded.warnings.is_empty());
        assert!(!loaded.torn);
    }

    #[test]
    fn load_skips_bad_lines_and_a_torn_tail_with_warnings() {
        let mut bytes = b"t\t#a\tx\tgood\ngarbage\n\xff\xfe\n".to_vec();
        bytes.extend_from_slice(&vec![b'z'; MAX_LOG_LINE + 10]);
        bytes.extend_from_slice(b"\nt\t#a\tx\tlater\nt\t#a\tx\ttor");
        let loaded = load(&mut Cursor::new(bytes), 10).expect("load");
        let a: Vec<_> = loaded.recent["a"].iter().map(|e| e.text.as_str()).collect();
        assert_eq!(a, ["good", "later"]);
        assert!(loaded.torn);
        assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].starts_with("line 2:"));
        assert!(loaded.warnings[3].starts_with("line 6: torn"));
    }
}
