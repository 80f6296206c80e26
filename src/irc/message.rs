//! IRC messages: one line in, a [`Message`] out; the pieces of a line out,
//! one line of at most 512 bytes out.
//!
//! An IRC line is `[@tags] [:prefix] COMMAND param param :trailing param`,
//! ended by CRLF, **at most 512 bytes with the CRLF** (RFC 1459 §2.3; the
//! tags of IRCv3 have a budget of their own, and we negotiate none). The
//! last parameter may hold spaces if it is written after ` :`.
//!
//! Both directions are pure functions, tested below. Nothing here knows
//! about rooms or names.

/// The longest IRC line, in bytes, CRLF included.
pub(crate) const MAX_LINE: usize = 512;

/// One line from a client, understood as far as IRC's grammar goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The command in upper case (`PRIVMSG`), or a three-digit numeric.
    pub(crate) command: String,
    pub(crate) params: Vec<String>,
}

impl Message {
    /// Parses one line (without its CRLF). Tags and a prefix are skipped: a
    /// client's prefix says nothing we would believe. None for a line with
    /// no command (empty, or only tags and a prefix).
    pub(crate) fn parse(line: &str) -> Option<Message> {
        let mut rest = line.trim_start_matches(' ');
        if let Some(tagged) = rest.strip_prefix('@') {
            rest = tagged.split_once(' ').map_or("", |(_, r)| r);
        }
        rest = rest.trim_start_matches(' ');
        if let Some(prefixed) = rest.strip_prefix(':') {
            rest = prefixed.split_once(' ').map_or("", |(_, r)| r);
        }
        let mut params = Vec::new();
        let mut words = rest.trim_start_matches(' ');
        let command = next_word(&mut words)?.to_ascii_uppercase();
        while !words.is_empty() {
            if let Some(trailing) = words.strip_prefix(':') {
                params.push(trailing.to_string());
                break;
            }
            match next_word(&mut words) {
                Some(word) => params.push(word.to_string()),
                None => break,
            }
        }
        Some(Message { command, params })
    }

    /// The `i`th parameter, if given and not empty.
    pub(crate) fn param(&self, i: usize) -> Option<&str> {
        self.params
            .get(i)
            .map(String::as_str)
            .filter(|p| !p.is_empty())
    }
}

/// Takes the next space-separated word off the front of `words`.
fn next_word<'a>(words: &mut &'a str) -> Option<&'a str> {
    let text = words.trim_start_matches(' ');
    if text.is_empty() {
        *words = text;
        return None;
    }
    let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
    *words = rest.trim_start_matches(' ');
    Some(word)
}

/// Builds one outgoing line, CRLF included: `:prefix COMMAND a b :last`.
///
/// The last parameter is written after `:` when it must be (empty, with a
/// space, or starting with `:`) and is cut, at a character boundary, so the
/// line fits in [`MAX_LINE`]: a topic or a reason from a terminal user may
/// be longer than IRC allows. (Messages are split instead, never cut: see
/// [`split_text`].) The other parameters are names and numbers, short and
/// without spaces.
pub(crate) fn line(prefix: &str, command: &str, params: &[&str]) -> String {
    build(prefix, command, params, false)
}

/// Like [`line()`], with the last parameter always after `:`, as clients
/// expect the text of a `PRIVMSG` or `NOTICE` (`:a!a@irc PRIVMSG b :hi`).
pub(crate) fn text_line(prefix: &str, command: &str, params: &[&str]) -> String {
    build(prefix, command, params, true)
}

fn build(prefix: &str, command: &str, params: &[&str], colon: bool) -> String {
    let mut out = String::with_capacity(64);
    if !prefix.is_empty() {
        out.push(':');
        out.push_str(prefix);
        out.push(' ');
    }
    out.push_str(command);
    if let Some((last, middle)) = params.split_last() {
        for param in middle {
            out.push(' ');
            out.push_str(param);
        }
        out.push(' ');
        if colon || last.is_empty() || last.contains(' ') || last.starts_with(':') {
            out.push(':');
        }
        let room = MAX_LINE.saturating_sub(out.len() + 2);
        out.push_str(cut(last, room));
    }
    out.push_str("\r\n");
    out
}

/// The longest start of `text` of at most `max` bytes that ends at a
/// character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Splits `text` into pieces of at most `max` bytes, each ending at a
/// character boundary (and at a space when one is near), so a long
/// message travels as several lines and no character is ever cut in two.
pub(crate) fn split_text(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(4); // room for any one UTF-8 character
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut end = cut(rest, max).len();
        // Prefer to break after a space in the last quarter of the piece.
        if let Some(space) = rest[..end].rfind(' ').filter(|s| *s >= end * 3 / 4) {
            end = space + 1;
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces.push(rest);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> (String, Vec<String>) {
        let m = Message::parse(line).expect("a message");
        (m.command, m.params)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commands_and_params() {
        assert_eq!(parsed("nick alice"), ("NICK".into(), strings(&["alice"])));
        assert_eq!(
            parsed("USER a 0 * :Alice Liddell"),
            ("USER".into(), strings(&["a", "0", "*", "Alice Liddell"]))
        );
        assert_eq!(
            parsed("PRIVMSG #dev :"),
            ("PRIVMSG".into(), strings(&["#dev", ""]))
        );
        assert_eq!(
            parsed("PRIVMSG   #dev   hi  "),
            ("PRIVMSG".into(), strings(&["#dev", "hi"]))
        );
        assert_eq!(
            parsed("TOPIC #dev ::-)"),
            ("TOPIC".into(), strings(&["#dev", ":-)"]))
        );
        assert_eq!(parsed("QUIT"), ("QUIT".into(), vec![]));
    }

    #[test]
    fn tags_and_prefix_are_skipped() {
        assert_eq!(
            parsed("@time=x;a=b :alice!a@h PRIVMSG bob :hi there"),
            ("PRIVMSG".into(), strings(&["bob", "hi there"]))
        );
        assert_eq!(Message::parse(""), None);
        assert_eq!(Message::parse("   "), None);
        assert_eq!(Message::parse(":only.a.prefix"), None);
        assert_eq!(Message::parse("@tags"), None);
    }

    #[test]
    fn param_skips_empty_ones() {
        let m = Message::parse("TOPIC #dev :").expect("message");
        assert_eq!(m.param(0), Some("#dev"));
        assert_eq!(m.param(1), None);
        assert_eq!(m.param(2), None);
    }

    #[test]
    fn lines_put_a_colon_before_a_last_param_that_needs_one() {
        assert_eq!(line("s", "PING", &["s"]), ":s PING s\r\n");
        assert_eq!(
            line("s", "001", &["al", "Welcome home"]),
            ":s 001 al :Welcome home\r\n"
        );
        assert_eq!(line("s", "331", &["al", ""]), ":s 331 al :\r\n");
        assert_eq!(line("", "ERROR", &[":-("]), "ERROR ::-(\r\n");
    }

    #[test]
    fn a_line_never_exceeds_512_bytes_nor_cuts_a_character() {
        let long = "é".repeat(400); // 800 bytes
        let out = line("server.name", "332", &["al", "#dev", &long]);
        assert!(out.len() <= MAX_LINE, "{}", out.len());
        assert!(out.ends_with("é\r\n"));
        assert_eq!(
            Message::parse(out.trim_end()).map(|m| m.params.len()),
            Some(3)
        );
    }

    #[test]
    fn split_text_keeps_characters_whole() {
        assert_eq!(split_text("short", 10), vec!["short"]);
        assert_eq!(split_text("", 10), vec![""]);
        let text = "aé".repeat(100); // 300 bytes
        let pieces = split_text(&text, 100);
        assert!(pieces.iter().all(|p| p.len() <= 100));
        assert_eq!(pieces.concat(), text);
        let words = "word ".repeat(40);
        let pieces = split_text(&words, 52);
        assert!(pieces[0].ends_with(' '), "{:?}", pieces[0]);
        assert_eq!(pieces.concat(), words);
    }
}
