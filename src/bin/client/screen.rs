//! The screen in raw mode: what arrives is printed above, what you type
//! stays on the last row.
//!
//! Two threads draw on one terminal: the receiving thread prints lines
//! from the server, the main thread shows each key. Escape sequences from
//! one must not land in the middle of the other's, so the editor and
//! everything drawn live in one [`Screen`], behind one lock (in `main`),
//! and each change is written whole with one `write_all`.

use std::io::{self, Write};

use crate::completion::{self, Completion, Known};
use crate::keys::Key;
use crate::line_editor::{Action, LineEditor};
use crate::render::{View, CLEAR_ROW};

/// The line being typed, how it is shown, and the names Tab can complete.
#[derive(Debug, Default)]
pub struct Screen {
    editor: LineEditor,
    view: View,
    known: Known,
}

impl Screen {
    /// Remembers the names and rooms in a line from the server.
    pub fn learn(&mut self, line: &str) {
        self.known.learn(line);
    }

    /// Prints `text` on its own row above the input line, then draws the
    /// input line again under it. `text` must hold no control characters.
    pub fn print_above(
        &mut self,
        text: &str,
        width: usize,
        out: &mut impl Write,
    ) -> io::Result<()> {
        let input = self.draw_input(width);
        write_all(out, &format!("{CLEAR_ROW}{text}\n{input}"))
    }

    /// The next line typed is a password: the input row shows nothing of it.
    pub fn hide_next_line(&mut self, width: usize, out: &mut impl Write) -> io::Result<()> {
        self.editor.hide_next_line();
        let input = self.draw_input(width);
        write_all(out, &input)
    }

    /// Handles one key and shows its effect. Returns what the caller has
    /// to act on: [`Action::Submit`] or [`Action::Quit`]; anything else is
    /// done here.
    pub fn press(&mut self, key: Key, width: usize, out: &mut impl Write) -> io::Result<Action> {
        let secret = self.editor.is_secret();
        let action = self.editor.press(key);
        match &action {
            // What was sent stays on screen, as a terminal in canonical
            // mode would leave it (the server does not echo your lines).
            Action::Submit(line) => {
                let shown = if secret { "" } else { line.as_str() };
                self.print_above(&format!("> {shown}"), width, out)?;
            }
            Action::Complete => self.complete(width, out)?,
            Action::Redraw | Action::Quit => write_all(out, &self.draw_input(width))?,
        }
        Ok(action)
    }

    fn complete(&mut self, width: usize, out: &mut impl Write) -> io::Result<()> {
        let line = self.editor.line();
        match completion::complete(&line, self.editor.cursor(), &self.known) {
            Completion::Replace(line, cursor) => self.editor.replace(&line, cursor),
            Completion::Candidates(candidates) => {
                return self.print_above(&candidates.join("  "), width, out);
            }
            Completion::Nothing => {}
        }
        write_all(out, &self.draw_input(width))
    }

    /// Erases the input row, for leaving: the shell's prompt comes next.
    pub fn clear(&mut self, out: &mut impl Write) -> io::Result<()> {
        write_all(out, CLEAR_ROW)
    }

    fn draw_input(&mut self, width: usize) -> String {
        if self.editor.is_secret() {
            return self.view.draw(&[], 0, width);
        }
        self.view
            .draw(self.editor.chars(), self.editor.cursor(), width)
    }
}

fn write_all(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(screen: &mut Screen, keys: &[Key]) -> String {
        let mut out = Vec::new();
        for &key in keys {
            screen.press(key, 80, &mut out).expect("write to a Vec");
        }
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn an_arriving_line_goes_above_and_the_typed_text_is_drawn_again() {
        let mut screen = Screen::default();
        press(&mut screen, &[Key::Char('h'), Key::Char('i'), Key::Left]);
        let mut out = Vec::new();
        screen
            .print_above("[#general] bob: yo", 80, &mut out)
            .expect("write");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "\r\x1b[K[#general] bob: yo\n\r> hi\x1b[K\r\x1b[3C"
        );
    }

    #[test]
    fn a_sent_line_stays_on_screen() {
        let mut screen = Screen::default();
        let drawn = press(&mut screen, &[Key::Char('h'), Key::Enter]);
        assert!(
            drawn.ends_with("\r\x1b[K> h\n\r> \x1b[K\r\x1b[2C"),
            "{drawn:?}"
        );
    }

    #[test]
    fn a_password_is_never_drawn() {
        let mut screen = Screen::default();
        screen.hide_next_line(80, &mut Vec::new()).expect("write");
        let drawn = press(&mut screen, &[Key::Char('p'), Key::Char('w'), Key::Enter]);
        assert!(!drawn.contains('p') && !drawn.contains('w'), "{drawn:?}");
    }

    #[test]
    fn tab_completes_a_seen_name() {
        let mut screen = Screen::default();
        screen.learn("* online: alice, bob");
        press(&mut screen, &[Key::Char('@'), Key::Char('a'), Key::Tab]);
        assert_eq!(screen.editor.line(), "@alice ");
    }

    #[test]
    fn tab_lists_candidates_above() {
        let mut screen = Screen::default();
        screen.learn("* online: alice, alicia");
        let drawn = press(&mut screen, &[Key::Char('a'), Key::Tab, Key::Tab]);
        assert!(drawn.contains("\x1b[Kalice  alicia\n"), "{drawn:?}");
    }
}
