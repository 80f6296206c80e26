//! Turning the bytes a terminal sends into keys.
//!
//! In raw mode the terminal hands us every byte as it is typed, and a key is
//! not always one byte: `é` is two bytes of UTF-8, and the arrow keys are
//! escape sequences such as `ESC [ A` (three bytes). `read` returns whatever
//! has arrived, so a sequence may be cut anywhere, just as TCP may cut a line:
//! [`Decoder`] keeps the unfinished tail and finishes it on the next read.
//!
//! The decoder is pure (bytes in, keys out), so the tests below feed it byte
//! slices. Simplification: a lone `Esc` press waits for the next byte to know
//! it was not the start of a sequence (it then does nothing); a full-screen
//! editor would use a short timeout instead.

/// A key the line editor understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    Enter,
    Tab,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-C: with signals off (`stty -isig`) it is a key like any other.
    CtrlC,
    /// Ctrl-D: with line editing off it no longer means "end of input" to
    /// the terminal, so the editor decides what it means.
    CtrlD,
}

/// The longest escape sequence we wait for. Anything longer is not a key we
/// know; dropping it keeps a stray `ESC [` from swallowing what follows.
const MAX_SEQUENCE: usize = 16;

/// Rebuilds keys from the bytes of successive reads.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of a key that has not fully arrived yet.
    pending: Vec<u8>,
}

impl Decoder {
    /// Takes the bytes of one read and returns the keys they complete.
    /// Bytes that are no key we know (other control codes, unknown escape
    /// sequences, invalid UTF-8) are dropped.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        self.pending.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut at = 0;
        loop {
            match decode_one(&self.pending[at..]) {
                Decoded::Key(key, used) => {
                    keys.push(key);
                    at += used;
                }
                Decoded::Skip(used) => at += used,
                Decoded::Incomplete => break,
            }
        }
        self.pending.drain(..at);
        keys
    }
}

/// What the first bytes of the input hold.
#[derive(Debug, PartialEq)]
enum Decoded {
    /// A key, and how many bytes it took.
    Key(Key, usize),
    /// So many bytes that are no key.
    Skip(usize),
    /// Nothing, or the start of a key whose rest has not arrived.
    Incomplete,
}

fn decode_one(bytes: &[u8]) -> Decoded {
    let Some(&first) = bytes.first() else {
        return Decoded::Incomplete;
    };
    match first {
        0x1b => escape(bytes),
        0x80.. => utf8(bytes),
        _ => match control(first) {
            Some(key) => Decoded::Key(key, 1),
            None => Decoded::Skip(1),
        },
    }
}

/// One ASCII byte. Ctrl-A and Ctrl-E are Home and End, as in a shell.
fn control(byte: u8) -> Option<Key> {
    let key = match byte {
        // The terminal turns Enter's carriage return into a newline (`icrnl`
        // is still on), but take either.
        b'\r' | b'\n' => Key::Enter,
        b'\t' => Key::Tab,
        // Terminals send DEL for Backspace; some send Ctrl-H.
        0x7f | 0x08 => Key::Backspace,
        0x03 => Key::CtrlC,
        0x04 => Key::CtrlD,
        0x01 => Key::Home,
        0x05 => Key::End,
        0x20..=0x7e => Key::Char(char::from(byte)),
        _ => return None,
    };
    Some(key)
}

/// `ESC [ ...` (CSI) or `ESC O x` (SS3): the two forms terminals use for
/// cursor and editing keys.
fn escape(bytes: &[u8]) -> Decoded {
    match bytes.get(1) {
        None => Decoded::Incomplete,
        Some(b'[') => csi(bytes),
        Some(b'O') => match bytes.get(2) {
            None => Decoded::Incomplete,
            Some(&last) => match cursor_key(last) {
                Some(key) => Decoded::Key(key, 3),
                None => Decoded::Skip(3),
            },
        },
        // Not a sequence we know (Alt+x sends ESC x): drop the ESC and let
        // the next byte be read on its own.
        Some(_) => Decoded::Skip(1),
    }
}

/// `ESC [`, parameters (digits and `;`), then one final byte: `A` to `D`
/// for the arrows, `H`/`F` for Home/End, or `~` after a number
/// (`1~`/`7~` Home, `3~` Delete, `4~`/`8~` End).
fn csi(bytes: &[u8]) -> Decoded {
    for (i, &byte) in bytes.iter().enumerate().skip(2) {
        match byte {
            // Parameter and intermediate bytes: the sequence goes on.
            0x20..=0x3f if i + 1 < MAX_SEQUENCE => continue,
            0x40..=0x7e => {
                let key = match byte {
                    b'~' => numbered_key(&bytes[2..i]),
                    // Modifiers (`ESC [ 1 ; 5 C` is Ctrl-Right) are ignored.
                    _ => cursor_key(byte),
                };
                return match key {
                    Some(key) => Decoded::Key(key, i + 1),
                    None => Decoded::Skip(i + 1),
                };
            }
            // Too long, or a byte that cannot be in a sequence: drop what
            // we have and read on from here.
            _ => return Decoded::Skip(i),
        }
    }
    Decoded::Incomplete
}

fn cursor_key(last: u8) -> Option<Key> {
    match last {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        _ => None,
    }
}

/// The key of `ESC [ n ~`, given the bytes between `[` and `~`.
fn numbered_key(params: &[u8]) -> Option<Key> {
    let number = params.split(|&b| b == b';').next()?;
    match number {
        b"1" | b"7" => Some(Key::Home),
        b"3" => Some(Key::Delete),
        b"4" | b"8" => Some(Key::End),
        _ => None,
    }
}

/// One character of two to four bytes. The first byte says how many.
fn utf8(bytes: &[u8]) -> Decoded {
    let len = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Decoded::Skip(1),
    };
    let available = &bytes[..len.min(bytes.len())];
    if available[1..].iter().any(|&b| b & 0xc0 != 0x80) {
        // Not a continuation byte: this character will never be whole.
        return Decoded::Skip(1);
    }
    if available.len() < len {
        return Decoded::Incomplete;
    }
    match std::str::from_utf8(available)
        .ok()
        .and_then(|s| s.chars().next())
    {
        // C1 control codes (U+0080 to U+009F) are no text either.
        Some(c) if !c.is_control() => Decoded::Key(Key::Char(c), len),
        _ => Decoded::Skip(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        Decoder::default().feed(bytes)
    }

    #[test]
    fn printable_ascii_is_characters() {
        assert_eq!(
            keys(b"hi!"),
            [Key::Char('h'), Key::Char('i'), Key::Char('!')]
        );
    }

    #[test]
    fn control_keys() {
        assert_eq!(
            keys(b"\r\n\t\x7f\x08\x03\x04\x01\x05"),
            [
                Key::Enter,
                Key::Enter,
                Key::Tab,
                Key::Backspace,
                Key::Backspace,
                Key::CtrlC,
                Key::CtrlD,
                Key::Home,
                Key::End,
            ]
        );
    }

    #[test]
    fn other_control_bytes_are_dropped() {
        assert_eq!(keys(b"a\x00\x07\x1ab"), [Key::Char('a'), Key::Char('b')]);
    }

    #[test]
    fn arrows_in_both_forms() {
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1bOB\x1bOC\x1bOD"),
            [
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
            ]
        );
    }

    #[test]
    fn every_home_and_end_sequence() {
        assert_eq!(
            keys(b"\x1b[H\x1bOH\x1b[1~\x1b[7~"),
            [Key::Home, Key::Home, Key::Home, Key::Home]
        );
        assert_eq!(
            keys(b"\x1b[F\x1bOF\x1b[4~\x1b[8~"),
            [Key::End, Key::End, Key::End, Key::End]
        );
    }

    #[test]
    fn delete_sequence() {
        assert_eq!(keys(b"\x1b[3~"), [Key::Delete]);
    }

    #[test]
    fn modifiers_are_ignored() {
        assert_eq!(keys(b"\x1b[1;5C\x1b[3;2~"), [Key::Right, Key::Delete]);
    }

    #[test]
    fn unknown_sequences_are_dropped_whole() {
        assert_eq!(
            keys(b"\x1b[15~x\x1b[Zy\x1bOPz"),
            [Key::Char('x'), Key::Char('y'), Key::Char('z')]
        );
    }

    #[test]
    fn a_sequence_split_across_reads_is_put_together() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.feed(b"a\x1b"), [Key::Char('a')]);
        assert_eq!(decoder.feed(b"["), []);
        assert_eq!(decoder.feed(b"3"), []);
        assert_eq!(decoder.feed(b"~b"), [Key::Delete, Key::Char('b')]);
        assert_eq!(decoder.feed(b"\x1bO"), []);
        assert_eq!(decoder.feed(b"F"), [Key::End]);
    }

    #[test]
    fn esc_before_an_ordinary_byte_is_dropped() {
        assert_eq!(keys(b"\x1bx"), [Key::Char('x')]);
    }

    #[test]
    fn an_endless_sequence_is_cut_off() {
        let mut bytes = b"\x1b[".to_vec();
        bytes.extend_from_slice(&[b'1'; 40]);
        bytes.push(b'q');
        let decoded = keys(&bytes);
        assert_eq!(decoded.last(), Some(&Key::Char('q')));
        assert!(!decoded.contains(&Key::Delete));
    }

    #[test]
    fn a_control_byte_inside_a_sequence_ends_it() {
        assert_eq!(keys(b"\x1b[1\rx"), [Key::Enter, Key::Char('x')]);
    }

    #[test]
    fn utf8_characters() {
        assert_eq!(
            keys("é€😀".as_bytes()),
            [Key::Char('é'), Key::Char('€'), Key::Char('😀')]
        );
    }

    #[test]
    fn utf8_split_across_reads_is_put_together() {
        let bytes = "😀".as_bytes();
        let mut decoder = Decoder::default();
        assert_eq!(decoder.feed(&bytes[..1]), []);
        assert_eq!(decoder.feed(&bytes[1..3]), []);
        assert_eq!(decoder.feed(&bytes[3..]), [Key::Char('😀')]);
    }

    #[test]
    fn invalid_utf8_is_dropped() {
        assert_eq!(
            keys(b"\xffa\xc3b\xe2\x82"),
            [Key::Char('a'), Key::Char('b')]
        );
    }

    #[test]
    fn c1_control_codes_are_dropped() {
        assert_eq!(keys("\u{9b}x".as_bytes()), [Key::Char('x')]);
    }
}
