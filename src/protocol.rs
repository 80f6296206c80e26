//! The wire protocol: TCP delivers bytes, not messages; this module rebuilds
//! lines, turns a line into a [`Command`], and formats the lines we send.
//!
//! Three things here are easy to get wrong and are why this module exists:
//!
//! - **Framing.** A `read` returns whatever bytes have arrived: half a line,
//!   three lines, a line and a half. We keep one `BufReader` per connection
//!   for its whole life and cut the stream at `\n`.
//! - **Capping.** A client that never sends `\n` must not make us buffer
//!   forever. [`read_line_capped`] reads at most `max + 1` bytes, and skips
//!   the rest of an over-long line without storing it.
//! - **Parse, then act.** [`Command::parse`] is a pure function from text to
//!   a value, unit-tested below; the handler only dispatches on the value.
//!
//! Nothing here touches a `TcpStream`: everything takes `impl BufRead`, so
//! tests feed it a `Cursor` of bytes.

use std::fmt;
use std::io::{self, BufRead, ErrorKind, Read};

use crate::rooms::{normalize_room_name, BadRoomName};

/// The longest name, in bytes (all allowed characters are ASCII).
pub const MAX_NAME: usize = 24;

/// What one call to [`read_line_capped`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A whole line, without its `\n` or `\r\n`.
    Line(String),
    /// The line was longer than the cap; it was skipped up to its newline.
    TooLong,
    /// The line was not valid UTF-8; it was dropped.
    NotUtf8,
    /// The peer closed the connection. Bytes after the last `\n` (a line the
    /// peer never finished) are dropped.
    Eof,
}

/// Reads one line of at most `max` bytes (not counting the `\n`).
///
/// Blocks until a whole line, end of file, or an error from the reader (for
/// a socket with a read timeout: `WouldBlock`/`TimedOut`). `buf` is scratch
/// space, reused between calls so a busy connection does not allocate for
/// every line; it never grows past `max + 1` bytes.
pub fn read_line_capped(
    reader: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
) -> io::Result<LineRead> {
    buf.clear();
    // Cap the raw bytes before decoding: `take` stops `read_until` after
    // max + 1 bytes, whatever the client sends.
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    // (`read_until` retries reads interrupted by a signal by itself.)
    let n = Read::take(&mut *reader, limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() != Some(&b'\n') {
        if buf.len() > max {
            skip_past_newline(reader)?;
            return Ok(LineRead::TooLong);
        }
        // Fewer than max + 1 bytes and no newline: the peer closed mid-line.
        return Ok(LineRead::Eof);
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    match std::str::from_utf8(buf) {
        Ok(text) => Ok(LineRead::Line(text.to_string())),
        Err(_) => Ok(LineRead::NotUtf8),
    }
}

/// Discards input up to and including the next `\n`, without storing it.
fn skip_past_newline(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(()); // EOF: the next read reports it
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

/// Removes control characters (escape sequences, bells, NULs, C1 codes) and
/// turns tabs into spaces, so nothing a client sends can drive another
/// user's terminal, and tabs can separate fields in the chat log.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadName {
    Length,
    Characters,
    Reserved,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadName::Length => write!(f, "name must be 1 to {MAX_NAME} characters"),
            BadName::Characters => write!(f, "name may only contain letters, digits, _ and -"),
            BadName::Reserved => write!(f, "the name server is reserved"),
        }
    }
}

impl std::error::Error for BadName {}

/// Checks a name against the rules: 1 to 24 of `A-Z a-z 0-9 _ -`, and not
/// `server` in any case (that prefix is the operator's).
pub fn validate_name(name: &str) -> Result<(), BadName> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(BadName::Length);
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(BadName::Characters);
    }
    if name.eq_ignore_ascii_case("server") {
        return Err(BadName::Reserved);
    }
    Ok(())
}

/// The key a name is stored under: names are unique ignoring case.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// One line from a client, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An empty line: ignored.
    Empty,
    /// Plain text for the current room.
    Say(String),
    /// `#room text`
    SayIn { room: String, text: String },
    /// `@name text`
    Direct { to: String, text: String },
    /// `/join room`
    Join(String),
    /// `/leave [room]`
    Leave(Option<String>),
    /// `/rooms`
    Rooms,
    /// `/users [room]`
    Users(Option<String>),
    /// `/nick name`
    Nick(String),
    /// `/me action`
    Me(String),
    /// `/help`
    Help,
    /// `/register password`: protect the current name with a password.
    Register(String),
    /// `/password old new`
    Password { old: String, new: String },
    /// `/unregister password`
    Unregister(String),
    /// `/quit`, `quit` or `bye`
    Quit,
}

/// Why a line could not be turned into a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Unknown(String),
    /// The usage text, e.g. `/join <room>`.
    Usage(&'static str),
    BadRoom(BadRoomName),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(cmd) => write!(f, "unknown command /{cmd} (try /help)"),
            ParseError::Usage(usage) => write!(f, "usage: {usage}"),
            ParseError::BadRoom(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<BadRoomName> for ParseError {
    fn from(e: BadRoomName) -> ParseError {
        ParseError::BadRoom(e)
    }
}

impl Command {
    /// Parses one line (already sanitized) into a command.
    pub fn parse(line: &str) -> Result<Command, ParseError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Command::Empty);
        }
        if is_quit(line) {
            return Ok(Command::Quit);
        }
        if let Some(rest) = line.strip_prefix('/') {
            return parse_slash(rest);
        }
        if let Some(rest) = line.strip_prefix('#') {
            let (room, text) = split_word(rest);
            if room.is_empty() || text.is_empty() {
                return Err(ParseError::Usage("#room message"));
            }
            let room = normalize_room_name(room)?;
            return Ok(Command::SayIn {
                room,
                text: text.to_string(),
            });
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (to, text) = split_word(rest);
            if to.is_empty() || text.is_empty() {
                return Err(ParseError::Usage("@name message"));
            }
            return Ok(Command::Direct {
                to: to.to_string(),
                text: text.to_string(),
            });
        }
        Ok(Command::Say(line.to_string()))
    }
}

/// Parses what follows the `/` of a slash command.
fn parse_slash(rest: &str) -> Result<Command, ParseError> {
    let (name, arg) = split_word(rest);
    let arg = (!arg.is_empty()).then_some(arg);
    let room = |raw: Option<&str>| raw.map(normalize_room_name).transpose();
    let command = match name.to_ascii_lowercase().as_str() {
        "join" => Command::Join(room(arg)?.ok_or(ParseError::Usage("/join <room>"))?),
        "leave" => Command::Leave(room(arg)?),
        "rooms" => Command::Rooms,
        "users" => Command::Users(room(arg)?),
        "nick" => Command::Nick(arg.ok_or(ParseError::Usage("/nick <name>"))?.to_string()),
        "me" => Command::Me(arg.ok_or(ParseError::Usage("/me <action>"))?.to_string()),
        "help" => Command::Help,
        "register" => Command::Register(
            arg.ok_or(ParseError::Usage("/register <password>"))?
                .to_string(),
        ),
        "password" => {
            let usage = ParseError::Usage("/password <old> <new>");
            let (old, new) = split_word(arg.ok_or(usage.clone())?);
            if new.is_empty() {
                return Err(usage);
            }
            Command::Password {
                old: old.to_string(),
                new: new.to_string(),
            }
        }
        "unregister" => Command::Unregister(
            arg.ok_or(ParseError::Usage("/unregister <password>"))?
                .to_string(),
        ),
        "quit" => Command::Quit,
        _ => return Err(ParseError::Unknown(name.to_string())),
    };
    Ok(command)
}

/// Splits `"word rest of line"` into `("word", "rest of line")`.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// Whether a line asks to leave: `/quit`, `quit` or `bye`, in any case. The
/// client binary uses this too, to know that the server closing the
/// connection next is the goodbye and not a failure.
pub fn is_quit(line: &str) -> bool {
    let line = line.trim();
    ["/quit", "quit", "bye"]
        .iter()
        .any(|q| line.eq_ignore_ascii_case(q))
}

// ---------------------------------------------------------------------------
// Outgoing lines. Each function returns one whole line with its `\n`, so the
// caller sends it with one `write_all` and it cannot be interleaved.

/// `* text`: a notice.
pub fn notice(text: &str) -> String {
    format!("* {text}\n")
}

/// `! text`: an error; the connection stays open.
pub fn error(text: impl fmt::Display) -> String {
    format!("! {text}\n")
}

/// `[#room] name: text`
pub fn room_message(room: &str, name: &str, text: &str) -> String {
    format!("[#{room}] {name}: {text}\n")
}

/// `[#room] * name text`: an action (`/me`).
pub fn room_action(room: &str, name: &str, text: &str) -> String {
    format!("[#{room}] * {name} {text}\n")
}

/// `[DM] name: text`
pub fn direct_message(from: &str, text: &str) -> String {
    format!("[DM] {from}: {text}\n")
}

/// `[server] text`: the operator, from the server console.
pub fn server_message(text: &str) -> String {
    format!("[server] {text}\n")
}

/// The reply to `/help`.
pub fn help() -> String {
    [
        "commands:",
        "  text                 say text in your current room",
        "  #room text           say text in another room you are in",
        "  @name text           send a direct message",
        "  /join room           join a room (or switch to it) and see its history",
        "  /leave [room]        leave a room (default: the current one)",
        "  /rooms               list the rooms",
        "  /users [room]        list who is online, or who is in a room",
        "  /nick name           change your name",
        "  /me action           act in your current room: /me waves",
        "  /register password   protect your name with a password",
        "  /password old new    change your password",
        "  /unregister password give up your registered name",
        "  /help                show this help",
        "  /quit (or quit, bye) leave the chat",
    ]
    .iter()
    .map(|line| notice(line))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn read_all(input: &[u8], max: usize) -> Vec<LineRead> {
        let mut reader = BufReader::with_capacity(8, Cursor::new(input.to_vec()));
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let line = read_line_capped(&mut reader, max, &mut buf).expect("read");
            let done = line == LineRead::Eof;
            out.push(line);
            if done {
                return out;
            }
        }
    }

    fn line(s: &str) -> LineRead {
        LineRead::Line(s.to_string())
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        assert_eq!(
            read_all(b"one\ntwo\r\n\nthree\n", 100),
            vec![
                line("one"),
                line("two"),
                line(""),
                line("three"),
                LineRead::Eof
            ]
        );
    }

    #[test]
    fn line_of_exactly_max_bytes_is_accepted() {
        assert_eq!(
            read_all(b"abcde\nabcdef\nok\n", 5),
            vec![line("abcde"), LineRead::TooLong, line("ok"), LineRead::Eof]
        );
    }

    #[test]
    fn too_long_line_is_skipped_up_to_its_newline() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nnext\n");
        assert_eq!(
            read_all(&input, 100),
            vec![LineRead::TooLong, line("next"), LineRead::Eof]
        );
    }

    #[test]
    fn too_long_line_at_eof_then_eof() {
        assert_eq!(
            read_all(&[b'x'; 50], 10),
            vec![LineRead::TooLong, LineRead::Eof]
        );
    }

    #[test]
    fn cut_utf8_at_the_cap_is_too_long_not_bad_utf8() {
        // "é" is two bytes; the cap falls between them.
        let input = "aaaé\n".as_bytes();
        assert_eq!(read_all(input, 4), vec![LineRead::TooLong, LineRead::Eof]);
    }

    #[test]
    fn invalid_utf8_is_reported_and_the_next_line_read() {
        assert_eq!(
            read_all(b"bad \xff\xfe\nok\n", 100),
            vec![LineRead::NotUtf8, line("ok"), LineRead::Eof]
        );
    }

    #[test]
    fn eof_in_the_middle_of_a_line_drops_the_fragment() {
        assert_eq!(
            read_all(b"whole\npart", 100),
            vec![line("whole"), LineRead::Eof]
        );
    }

    #[test]
    fn multibyte_text_survives() {
        assert_eq!(
            read_all("héllo wörld ✓\n".as_bytes(), 100),
            vec![line("héllo wörld ✓"), LineRead::Eof]
        );
    }

    #[test]
    fn sanitize_removes_controls_and_turns_tabs_into_spaces() {
        assert_eq!(sanitize("hi\x1b[31mred\x07\tend"), "hi[31mred end");
        assert_eq!(sanitize("a\0b\u{7f}c\u{9b}d"), "abcd");
        assert_eq!(sanitize("ünïcode ok"), "ünïcode ok");
    }

    #[test]
    fn name_rules() {
        assert_eq!(validate_name("alice"), Ok(()));
        assert_eq!(validate_name("A_b-9"), Ok(()));
        assert_eq!(validate_name(&"a".repeat(24)), Ok(()));
        assert_eq!(validate_name(&"a".repeat(25)), Err(BadName::Length));
        assert_eq!(validate_name(""), Err(BadName::Length));
        assert_eq!(validate_name("al ice"), Err(BadName::Characters));
        assert_eq!(validate_name("élodie"), Err(BadName::Characters));
        assert_eq!(validate_name("Server"), Err(BadName::Reserved));
        assert_eq!(name_key("Alice"), "alice");
    }

    #[test]
    fn plain_text_is_say() {
        assert_eq!(
            Command::parse("hello there"),
            Ok(Command::Say("hello there".into()))
        );
        assert_eq!(Command::parse("   "), Ok(Command::Empty));
        assert_eq!(
            Command::parse("  padded  "),
            Ok(Command::Say("padded".into()))
        );
    }

    #[test]
    fn room_and_direct_targets() {
        assert_eq!(
            Command::parse("#Dev hi all"),
            Ok(Command::SayIn {
                room: "dev".into(),
                text: "hi all".into()
            })
        );
        assert_eq!(
            Command::parse("@bob  psst"),
            Ok(Command::Direct {
                to: "bob".into(),
                text: "psst".into()
            })
        );
        assert_eq!(
            Command::parse("#dev"),
            Err(ParseError::Usage("#room message"))
        );
        assert_eq!(
            Command::parse("@bob"),
            Err(ParseError::Usage("@name message"))
        );
        assert_eq!(
            Command::parse("#bad! hi"),
            Err(ParseError::BadRoom(BadRoomName))
        );
    }

    #[test]
    fn slash_commands() {
        assert_eq!(
            Command::parse("/join #Dev"),
            Ok(Command::Join("dev".into()))
        );
        assert_eq!(Command::parse("/JOIN dev"), Ok(Command::Join("dev".into())));
        assert_eq!(Command::parse("/leave"), Ok(Command::Leave(None)));
        assert_eq!(
            Command::parse("/leave dev"),
            Ok(Command::Leave(Some("dev".into())))
        );
        assert_eq!(Command::parse("/rooms"), Ok(Command::Rooms));
        assert_eq!(Command::parse("/users"), Ok(Command::Users(None)));
        assert_eq!(
            Command::parse("/users #dev"),
            Ok(Command::Users(Some("dev".into())))
        );
        assert_eq!(
            Command::parse("/nick ally"),
            Ok(Command::Nick("ally".into()))
        );
        assert_eq!(
            Command::parse("/me waves hi"),
            Ok(Command::Me("waves hi".into()))
        );
        assert_eq!(Command::parse("/help"), Ok(Command::Help));
        assert_eq!(
            Command::parse("/register s3cret-pw"),
            Ok(Command::Register("s3cret-pw".into()))
        );
        assert_eq!(
            Command::parse("/password old-pass new-pass"),
            Ok(Command::Password {
                old: "old-pass".into(),
                new: "new-pass".into()
            })
        );
        assert_eq!(
            Command::parse("/unregister s3cret-pw"),
            Ok(Command::Unregister("s3cret-pw".into()))
        );
        assert_eq!(Command::parse("/quit"), Ok(Command::Quit));
        assert_eq!(Command::parse("quit"), Ok(Command::Quit));
        assert_eq!(Command::parse("BYE"), Ok(Command::Quit));
    }

    #[test]
    fn quit_words_count_only_as_the_whole_line() {
        assert_eq!(
            Command::parse("bye all"),
            Ok(Command::Say("bye all".into()))
        );
        assert!(!is_quit("quitting"));
    }

    #[test]
    fn slash_command_errors() {
        assert_eq!(
            Command::parse("/other x"),
            Err(ParseError::Unknown("other".into()))
        );
        assert_eq!(
            Command::parse("/other").map_err(|e| e.to_string()),
            Err("unknown command /other (try /help)".into())
        );
        assert_eq!(
            Command::parse("/join"),
            Err(ParseError::Usage("/join <room>"))
        );
        assert_eq!(
            Command::parse("/nick"),
            Err(ParseError::Usage("/nick <name>"))
        );
        assert_eq!(
            Command::parse("/me"),
            Err(ParseError::Usage("/me <action>"))
        );
        assert_eq!(
            Command::parse("/register"),
            Err(ParseError::Usage("/register <password>"))
        );
        assert_eq!(
            Command::parse("/password only-one"),
            Err(ParseError::Usage("/password <old> <new>"))
        );
        assert_eq!(
            Command::parse("/unregister"),
            Err(ParseError::Usage("/unregister <password>"))
        );
        assert_eq!(
            Command::parse("/join no way").map_err(|e| e.to_string()),
            Err(BadRoomName.to_string())
        );
    }

    #[test]
    fn outgoing_lines_are_whole() {
        assert_eq!(notice("hi"), "* hi\n");
        assert_eq!(error("no"), "! no\n");
        assert_eq!(room_message("dev", "al", "yo"), "[#dev] al: yo\n");
        assert_eq!(room_action("dev", "al", "waves"), "[#dev] * al waves\n");
        assert_eq!(direct_message("al", "psst"), "[DM] al: psst\n");
        assert_eq!(server_message("noon"), "[server] noon\n");
        let help = help();
        assert!(help.lines().count() > 5);
        assert!(help.lines().all(|l| l.starts_with("* ")));
    }
}
