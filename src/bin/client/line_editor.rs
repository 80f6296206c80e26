//! The line you are typing, as a state machine: keys in, line and cursor out.
//!
//! In canonical mode the terminal itself keeps the line being typed and
//! hands the program nothing until Enter; the program cannot redraw what it
//! never saw. In raw mode the program gets every key and must do that work:
//! insert, delete, move the cursor, recall earlier lines. That work lives
//! here, apart from any terminal: [`LineEditor::press`] takes a key and
//! returns what the caller should do next. Drawing is `render`'s job, and
//! finding names for Tab is `completion`'s, so each can be tested alone.
//!
//! The line is a `Vec<char>` and the cursor an index into it (0 is before
//! the first character, `len` after the last): moving over `é` is one step,
//! never half a UTF-8 character.

use crate::keys::Key;

/// How many sent lines ↑ can bring back.
const MAX_HISTORY: usize = 500;

/// What the caller should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The line or the cursor may have changed: draw it again.
    Redraw,
    /// Enter: send this line. The editor is empty again.
    Submit(String),
    /// Tab: complete the word before the cursor (see [`LineEditor::replace`]).
    Complete,
    /// Ctrl-C, or Ctrl-D on an empty line: leave.
    Quit,
}

/// The line being typed, the cursor, and the lines sent before.
#[derive(Debug, Default)]
pub struct LineEditor {
    line: Vec<char>,
    cursor: usize,
    /// Lines sent this session, oldest first.
    history: Vec<String>,
    /// Which history entry ↑/↓ show, while browsing it.
    recalled: Option<usize>,
    /// What was being typed before ↑ was first pressed, for ↓ to bring back.
    draft: Vec<char>,
    /// The line being typed is a password: it is not drawn, not kept in
    /// the history, and cannot be completed or replaced by history.
    secret: bool,
}

impl LineEditor {
    /// The line as typed so far.
    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// The line as characters, for drawing.
    pub fn chars(&self) -> &[char] {
        &self.line
    }

    /// Where the cursor is, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether the line being typed is a password.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// The next line submitted is a password (until Enter).
    pub fn hide_next_line(&mut self) {
        self.secret = true;
    }

    /// Replaces the line and puts the cursor at `cursor` (clamped to the
    /// line's length): how a completion is applied.
    pub fn replace(&mut self, line: &str, cursor: usize) {
        self.line = line.chars().collect();
        self.cursor = cursor.min(self.line.len());
    }

    /// Handles one key.
    pub fn press(&mut self, key: Key) -> Action {
        match key {
            Key::Char(c) => self.insert(c),
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.line.remove(self.cursor);
            }
            Key::Delete => self.delete(),
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.line.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.line.len(),
            Key::Up if !self.secret => self.older(),
            Key::Down if !self.secret => self.newer(),
            Key::Tab if !self.secret => return Action::Complete,
            Key::Enter => return Action::Submit(self.submit()),
            Key::CtrlC => return Action::Quit,
            // Ctrl-D ends the input only when there is none; otherwise it
            // deletes, as in a shell.
            Key::CtrlD if self.line.is_empty() => return Action::Quit,
            Key::CtrlD => self.delete(),
            Key::Backspace | Key::Up | Key::Down | Key::Tab => {}
        }
        Action::Redraw
    }

    fn insert(&mut self, c: char) {
        self.line.insert(self.cursor, c);
        self.cursor += 1;
    }

    fn delete(&mut self) {
        if self.cursor < self.line.len() {
            self.line.remove(self.cursor);
        }
    }

    /// Empties the editor and returns the line, remembering it for ↑
    /// unless it was a password, empty, or the same as the last one.
    fn submit(&mut self) -> String {
        let line: String = self.line.drain(..).collect();
        self.cursor = 0;
        self.recalled = None;
        self.draft.clear();
        let secret = std::mem::take(&mut self.secret);
        if !secret && !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == MAX_HISTORY {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// ↑: the previous sent line.
    fn older(&mut self) {
        let index = match self.recalled {
            Some(0) => return,
            Some(index) => index - 1,
            None if self.history.is_empty() => return,
            None => {
                self.draft = std::mem::take(&mut self.line);
                self.history.len() - 1
            }
        };
        self.show_recalled(index);
    }

    /// ↓: the next sent line, or back to what was being typed.
    fn newer(&mut self) {
        let Some(index) = self.recalled else { return };
        if index + 1 < self.history.len() {
            self.show_recalled(index + 1);
        } else {
            self.recalled = None;
            self.line = std::mem::take(&mut self.draft);
            self.cursor = self.line.len();
        }
    }

    fn show_recalled(&mut self, index: usize) {
        self.recalled = Some(index);
        self.line = self.history[index].chars().collect();
        self.cursor = self.line.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys for typing `text`.
    fn typed(text: &str) -> Vec<Key> {
        text.chars().map(Key::Char).collect()
    }

    /// Presses `keys` and returns the line, the cursor and the last action.
    fn press_all(editor: &mut LineEditor, keys: &[Key]) -> (String, usize, Action) {
        let mut last = Action::Redraw;
        for &key in keys {
            last = editor.press(key);
        }
        (editor.line(), editor.cursor(), last)
    }

    /// From a fresh editor: the line and cursor after `keys`.
    fn after(keys: &[Key]) -> (String, usize) {
        let (line, cursor, _) = press_all(&mut LineEditor::default(), keys);
        (line, cursor)
    }

    /// Sends each of `lines` with Enter.
    fn sent(lines: &[&str]) -> LineEditor {
        let mut editor = LineEditor::default();
        for line in lines {
            press_all(&mut editor, &typed(line));
            editor.press(Key::Enter);
        }
        editor
    }

    #[test]
    fn typing_inserts_at_the_cursor() {
        let keys = [typed("hllo"), vec![Key::Home, Key::Right], typed("e")].concat();
        assert_eq!(after(&keys), ("hello".into(), 2));
    }

    #[test]
    fn multibyte_characters_are_one_step() {
        let keys = [typed("né€"), vec![Key::Left, Key::Backspace]].concat();
        assert_eq!(after(&keys), ("n€".into(), 1));
    }

    #[test]
    fn backspace_deletes_before_the_cursor() {
        let keys = [typed("abc"), vec![Key::Left, Key::Backspace]].concat();
        assert_eq!(after(&keys), ("ac".into(), 1));
    }

    #[test]
    fn backspace_at_the_start_does_nothing() {
        let keys = [typed("ab"), vec![Key::Home, Key::Backspace]].concat();
        assert_eq!(after(&keys), ("ab".into(), 0));
    }

    #[test]
    fn delete_removes_under_the_cursor() {
        let keys = [typed("abc"), vec![Key::Home, Key::Delete]].concat();
        assert_eq!(after(&keys), ("bc".into(), 0));
        let at_end = [typed("abc"), vec![Key::Delete]].concat();
        assert_eq!(after(&at_end), ("abc".into(), 3));
    }

    #[test]
    fn arrows_stop_at_the_ends() {
        let keys = [typed("ab"), vec![Key::Right, Key::Right]].concat();
        assert_eq!(after(&keys), ("ab".into(), 2));
        let keys = [typed("ab"), vec![Key::Left, Key::Left, Key::Left]].concat();
        assert_eq!(after(&keys), ("ab".into(), 0));
    }

    #[test]
    fn home_and_end() {
        assert_eq!(after(&[typed("abc"), vec![Key::Home]].concat()).1, 0);
        assert_eq!(
            after(&[typed("abc"), vec![Key::Home, Key::End]].concat()).1,
            3
        );
    }

    #[test]
    fn enter_submits_the_line_and_empties_the_editor() {
        let mut editor = LineEditor::default();
        let keys = [typed("hi there"), vec![Key::Home, Key::Enter]].concat();
        let (line, cursor, action) = press_all(&mut editor, &keys);
        assert_eq!(action, Action::Submit("hi there".into()));
        assert_eq!((line.as_str(), cursor), ("", 0));
    }

    #[test]
    fn ctrl_c_quits_even_with_text() {
        let (_, _, action) = press_all(&mut LineEditor::default(), &[Key::Char('x'), Key::CtrlC]);
        assert_eq!(action, Action::Quit);
    }

    #[test]
    fn ctrl_d_quits_only_on_an_empty_line() {
        let (_, _, action) = press_all(&mut LineEditor::default(), &[Key::CtrlD]);
        assert_eq!(action, Action::Quit);
        let mut editor = LineEditor::default();
        let keys = [typed("ab"), vec![Key::Home, Key::CtrlD]].concat();
        assert_eq!(
            press_all(&mut editor, &keys),
            ("b".into(), 0, Action::Redraw)
        );
    }

    #[test]
    fn tab_asks_for_completion() {
        let (_, _, action) = press_all(&mut LineEditor::default(), &[Key::Char('a'), Key::Tab]);
        assert_eq!(action, Action::Complete);
    }

    #[test]
    fn replace_sets_line_and_cursor() {
        let mut editor = LineEditor::default();
        editor.replace("@alice hi", 7);
        assert_eq!((editor.line(), editor.cursor()), ("@alice hi".into(), 7));
        editor.replace("ab", 9);
        assert_eq!(editor.cursor(), 2);
    }

    #[test]
    fn up_and_down_walk_the_sent_lines() {
        let mut editor = sent(&["one", "two"]);
        assert_eq!(press_all(&mut editor, &[Key::Up]).0, "two");
        assert_eq!(press_all(&mut editor, &[Key::Up]).0, "one");
        assert_eq!(press_all(&mut editor, &[Key::Up]).0, "one");
        assert_eq!(
            press_all(&mut editor, &[Key::Down]),
            ("two".into(), 3, Action::Redraw)
        );
    }

    #[test]
    fn down_past_the_newest_brings_back_the_draft() {
        let mut editor = sent(&["one"]);
        let keys = [typed("draft"), vec![Key::Left, Key::Up, Key::Down]].concat();
        assert_eq!(
            press_all(&mut editor, &keys),
            ("draft".into(), 5, Action::Redraw)
        );
    }

    #[test]
    fn up_with_no_history_keeps_the_line() {
        let keys = [typed("abc"), vec![Key::Left, Key::Up]].concat();
        assert_eq!(after(&keys), ("abc".into(), 2));
    }

    #[test]
    fn a_recalled_line_can_be_edited_and_sent() {
        let mut editor = sent(&["hello"]);
        let keys = [vec![Key::Up], typed("!"), vec![Key::Enter]].concat();
        assert_eq!(
            press_all(&mut editor, &keys).2,
            Action::Submit("hello!".into())
        );
        assert_eq!(press_all(&mut editor, &[Key::Up]).0, "hello!");
    }

    #[test]
    fn empty_and_repeated_lines_are_not_kept() {
        let mut editor = sent(&["same", "same", "", "  "]);
        assert_eq!(press_all(&mut editor, &[Key::Up, Key::Up]).0, "same");
        assert_eq!(editor.history.len(), 1);
    }

    #[test]
    fn a_password_never_enters_the_history() {
        let mut editor = sent(&["before"]);
        editor.hide_next_line();
        let keys = [typed("s3cret-pass"), vec![Key::Enter]].concat();
        assert_eq!(
            press_all(&mut editor, &keys).2,
            Action::Submit("s3cret-pass".into())
        );
        assert!(!editor.is_secret(), "only one line is hidden");
        assert_eq!(press_all(&mut editor, &[Key::Up, Key::Up]).0, "before");
    }

    #[test]
    fn a_password_line_cannot_recall_or_complete() {
        let mut editor = sent(&["before"]);
        editor.hide_next_line();
        let keys = [typed("pw"), vec![Key::Up, Key::Tab]].concat();
        assert_eq!(
            press_all(&mut editor, &keys),
            ("pw".into(), 2, Action::Redraw)
        );
    }

    #[test]
    fn the_history_is_bounded() {
        let lines: Vec<String> = (0..MAX_HISTORY + 10).map(|i| i.to_string()).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let editor = sent(&lines);
        assert_eq!(editor.history.len(), MAX_HISTORY);
        assert_eq!(editor.history[0], "10");
    }
}
