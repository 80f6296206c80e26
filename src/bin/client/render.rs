//! Drawing the input line with escape sequences, and printing above it.
//!
//! The client owns one screen line, the last: the prompt and what you are
//! typing. To print a line that arrived, it goes to the start of that line
//! (`\r`), erases it (`ESC [ K`), prints the new text and a newline (the
//! screen scrolls up), then draws the input line again underneath. Drawing
//! it again is also how every key is shown: `\r`, prompt, text, erase what
//! is left of an older, longer line, then put the cursor where it belongs
//! (`\r`, then `ESC [ n C`, n columns right).
//!
//! A line longer than the terminal is wide must not wrap: `\r` only goes
//! back to the start of the last screen row, and the redraw would pile up
//! rows. So only a window of the line is drawn, and the window follows the
//! cursor ([`View`]). Everything here builds strings and writes nothing, so
//! the tests check the bytes.

use std::fmt::Write;

/// Go to the start of the row and erase it.
pub const CLEAR_ROW: &str = "\r\x1b[K";

/// The prompt before what you type, and the one shown instead when the
/// start of the line is scrolled out of sight.
const PROMPT: &str = "> ";
const PROMPT_SCROLLED: &str = "< ";

/// Which part of the line is on screen.
#[derive(Debug, Default)]
pub struct View {
    /// The first character drawn.
    start: usize,
}

impl View {
    /// The bytes that draw the input line: `line` with the cursor at
    /// `cursor` (in characters), in a terminal `width` columns wide.
    pub fn draw(&mut self, line: &[char], cursor: usize, width: usize) -> String {
        let cursor = cursor.min(line.len());
        // One column is left free: writing into the last column makes some
        // terminals wrap at once, and `\r` would then miss our row.
        let room = width.saturating_sub(PROMPT.len() + 1).max(1);
        self.start = scroll(self.start, line, cursor, room);
        let prompt = if self.start > 0 {
            PROMPT_SCROLLED
        } else {
            PROMPT
        };
        let mut shown = String::new();
        let mut used = 0;
        for &c in &line[self.start..] {
            used += char_width(c);
            if used > room {
                break;
            }
            shown.push(c);
        }
        let column = PROMPT.len() + columns(&line[self.start..cursor]);
        let mut out = format!("\r{prompt}{shown}\x1b[K\r");
        if column > 0 {
            let _ = write!(out, "\x1b[{column}C");
        }
        out
    }
}

/// The first character to draw so that the cursor is in sight, moving the
/// window as little as possible from `start`. `room` is how many columns
/// the text may take, the cursor's own cell included.
fn scroll(start: usize, line: &[char], cursor: usize, room: usize) -> usize {
    // The cursor moved left out of the window: the window starts at it.
    let mut start = start.min(cursor);
    // The cursor moved right out of the window: slide right until it fits.
    let mut used = columns(&line[start..cursor]) + 1;
    while used > room && start < cursor {
        used -= char_width(line[start]);
        start += 1;
    }
    // Text was deleted and the end of the line fits with room to spare:
    // slide left to show more of the start.
    let mut tail = columns(&line[start..]) + 1;
    while start > 0 && tail + char_width(line[start - 1]) <= room {
        start -= 1;
        tail += char_width(line[start]);
    }
    start
}

fn columns(chars: &[char]) -> usize {
    chars.iter().map(|&c| char_width(c)).sum()
}

/// How many columns a terminal gives a character. Simplified: most East
/// Asian characters and emoji take two, combining accents none, everything
/// else one. A real editor uses the Unicode width tables (the
/// `unicode-width` crate); this is enough to keep the cursor in place for
/// the common cases.
fn char_width(c: char) -> usize {
    match c {
        '\u{0300}'..='\u{036f}' | '\u{200b}'..='\u{200f}' => 0,
        '\u{1100}'..='\u{115f}'
        | '\u{2e80}'..='\u{a4cf}'
        | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}'
        | '\u{fe30}'..='\u{fe4f}'
        | '\u{ff00}'..='\u{ff60}'
        | '\u{ffe0}'..='\u{ffe6}'
        | '\u{1f300}'..='\u{1f64f}'
        | '\u{1f900}'..='\u{1f9ff}'
        | '\u{20000}'..='\u{3fffd}' => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn a_short_line_is_drawn_whole_with_the_cursor_in_place() {
        let line = chars("hello");
        assert_eq!(
            View::default().draw(&line, 5, 80),
            "\r> hello\x1b[K\r\x1b[7C"
        );
        assert_eq!(
            View::default().draw(&line, 0, 80),
            "\r> hello\x1b[K\r\x1b[2C"
        );
    }

    #[test]
    fn an_empty_line_is_the_prompt() {
        assert_eq!(View::default().draw(&[], 0, 80), "\r> \x1b[K\r\x1b[2C");
    }

    #[test]
    fn a_long_line_shows_the_window_around_the_cursor() {
        // 10 columns: 2 for the prompt, 1 kept free, 7 for text and cursor.
        let line = chars("abcdefghijkl");
        let mut view = View::default();
        assert_eq!(view.draw(&line, 12, 10), "\r< ghijkl\x1b[K\r\x1b[8C");
        // Moving left inside the window keeps it where it is.
        assert_eq!(view.draw(&line, 8, 10), "\r< ghijkl\x1b[K\r\x1b[4C");
        // Moving left past it brings the window along.
        assert_eq!(view.draw(&line, 3, 10), "\r< defghij\x1b[K\r\x1b[2C");
        assert_eq!(view.draw(&line, 0, 10), "\r> abcdefg\x1b[K\r\x1b[2C");
    }

    #[test]
    fn the_window_slides_back_when_the_line_shrinks() {
        let mut view = View::default();
        view.draw(&chars("abcdefghijkl"), 12, 10);
        assert_eq!(view.draw(&chars("abcd"), 4, 10), "\r> abcd\x1b[K\r\x1b[6C");
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let line = chars("日本");
        assert_eq!(
            View::default().draw(&line, 2, 80),
            "\r> 日本\x1b[K\r\x1b[6C"
        );
    }

    #[test]
    fn a_tiny_terminal_still_shows_the_cursor() {
        let line = chars("abc");
        assert_eq!(View::default().draw(&line, 3, 2), "\r< \x1b[K\r\x1b[2C");
        assert_eq!(View::default().draw(&line, 1, 2), "\r< b\x1b[K\r\x1b[2C");
    }

    #[test]
    fn scroll_keeps_the_cursor_cell_in_the_room() {
        let line = chars("abcdefghij");
        for cursor in 0..=line.len() {
            let start = scroll(0, &line, cursor, 4);
            assert!(start <= cursor);
            assert!(columns(&line[start..cursor]) < 4, "cursor {cursor}");
        }
    }
}
