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
use crate::{log, protocol};

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

/// The chat log and the replay buffers.
pub(crate) struct History {
    /// Protects the file (one writer at a time, so lines never interleave)
    /// and the replay buffers. Lock order: the registry locks its state
    /// first and this second; code here never calls back into the registry.
    inner: Mutex<Inner>,
    replay: usize,
}

struct Inner {
    file: File,
    recent: HashMap<String, VecDeque<Message>>,
}

impl History {
    /// Opens (or creates) the log at `path`, loading the last `replay`
    /// entries of each room. Lines that cannot be read are skipped; the
    /// returned warnings say which, for the activity log.
    pub fn open(path: &Path, replay: usize) -> Result<(History, Vec<String>), HistoryError> {
        let fail = |source| HistoryError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        let loaded = load(&mut BufReader::new(&mut file), replay).map_err(fail)?;
        if loaded.torn {
            // Start the next entry on a line of its own, not glued to the
            // torn one.
            file.write_all(b"\n").map_err(fail)?;
        }
        let history = History {
            inner: Mutex::new(Inner {
                file,
                recent: loaded.recent,
            }),
            replay,
        };
        Ok((history, loaded.warnings))
    }

    /// Appends a message to the file and the replay buffer of its room.
    ///
    /// A failed write (disk full) is logged and the message still delivered:
    /// losing a log line is better than losing the conversation.
    pub(crate) fn append(&self, message: &Message) {
        let line = to_log_line(message);
        let mut inner = lock(&self.inner, "history");
        let written = inner.file.write_all(line.as_bytes());
        if self.replay > 0 {
            let recent = inner.recent.entry(message.room.clone()).or_default();
            if recent.len() == self.replay {
                recent.pop_front();
            }
            recent.push_back(message.clone());
        }
        drop(inner);
        if let Err(e) = written {
            log!("cannot write to the history file: {e}");
        }
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

    /// Forces the log to disk (at shutdown).
    pub fn flush(&self) -> io::Result<()> {
        let mut inner = lock(&self.inner, "history");
        inner.file.flush()?;
        inner.file.sync_data()
    }
}

struct Loaded {
    recent: HashMap<String, VecDeque<Message>>,
    warnings: Vec<String>,
    /// The file did not end with a newline.
    torn: bool,
}

/// Reads a log, keeping the last `replay` entries of each room.
fn load(reader: &mut impl BufRead, replay: usize) -> io::Result<Loaded> {
    let mut loaded = Loaded {
        recent: HashMap::new(),
        warnings: Vec::new(),
        torn: false,
    };
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        let read = read_line_capped(reader, MAX_LOG_LINE, &mut buf)?;
        number += 1;
        let line = match read {
            LineRead::Eof => return Ok(loaded),
            LineRead::Torn => {
                loaded.torn = true;
                let warning = format!("line {number}: torn last line (no newline), skipped");
                loaded.warnings.push(warning);
                return Ok(loaded);
            }
            LineRead::TooLong => {
                let warning = format!("line {number}: too long, skipped");
                loaded.warnings.push(warning);
                continue;
            }
            LineRead::NotUtf8 => None,
            LineRead::Line(line) if line.is_empty() => continue,
            LineRead::Line(line) => Some(line),
        };
        match line.as_deref().and_then(parse_log_line) {
            Some(message) if replay > 0 => {
                let recent = loaded.recent.entry(message.room.clone()).or_default();
                if recent.len() == replay {
                    recent.pop_front();
                }
                recent.push_back(message);
            }
            Some(_) => {}
            None => loaded
                .warnings
                .push(format!("line {number}: not a history entry, skipped")),
        }
    }
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
