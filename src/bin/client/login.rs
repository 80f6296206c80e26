//! Logging in: which server lines are questions, and which the client
//! answers by itself.
//!
//! The handshake is a conversation in lines (docs/PROTOCOL.md): the server
//! asks for a name, perhaps for a password (once to log in, twice to choose
//! one), and says hello. `--name` and `CHAT_PASSWORD` let a script log in
//! unattended: [`Login::on_line`] looks at each line from the server and
//! says what to send back, whether what is typed next must be hidden, and
//! whether the person at the keyboard may go ahead. It is pure, so the
//! tests below replay conversations as strings.

/// Password prompts answered with `CHAT_PASSWORD` after one welcome line:
/// two, for signing up (choose, then repeat). More in a row would mean the
/// server keeps asking; the person at the keyboard answers instead.
const MAX_SCRIPTED_ANSWERS: u8 = 2;

/// Whether `line` asks for a password: a notice (`* `) that ends with
/// `password:`. Only the server writes notices: a chat line such as
/// `[#general] mallory: your password:` must neither hide your next line
/// nor, worse, be answered with `CHAT_PASSWORD` in front of the room.
pub fn is_password_prompt(line: &str) -> bool {
    line.starts_with("* ") && line.ends_with("password:")
}

/// What the client knows about its own login.
#[derive(Debug)]
pub struct Login {
    /// `--name`: sent whenever the server asks for a name.
    name: Option<String>,
    /// `CHAT_PASSWORD`: sent when the server asks for a password, until it
    /// has been refused, or the login is done (then it is forgotten).
    password: Option<String>,
    /// Password prompts answered with it since the last welcome line.
    answered: u8,
}

/// What to do after one line from the server.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// A line to send back at once.
    pub answer: Option<String>,
    /// The next line typed is a password: do not show it, do not keep it.
    pub hide_input: bool,
    /// Lines typed may now be sent: the client will answer nothing more by
    /// itself before they are read.
    pub your_turn: bool,
}

impl Login {
    pub fn new(name: Option<String>, password: Option<String>) -> Login {
        Login {
            name,
            password,
            answered: 0,
        }
    }

    /// Whether typed lines must wait at first: with `--name`, until the
    /// login is done or needs you. Otherwise a piped first line could reach
    /// the server while it still expects a password, and be taken for it.
    pub fn waits_at_first(&self) -> bool {
        self.name.is_some()
    }

    /// Looks at one line from the server and says what to do.
    pub fn on_line(&mut self, line: &str) -> Step {
        if line.starts_with("* Welcome to ") {
            self.answered = 0;
            Step {
                answer: self.name.clone(),
                your_turn: self.name.is_none(),
                ..Step::default()
            }
        } else if is_password_prompt(line) {
            self.on_password_prompt()
        } else if line.starts_with("* Hello ") {
            // Logged in: the password is not needed any more.
            self.password = None;
            self.answered = 0;
            Step {
                your_turn: true,
                ..Step::default()
            }
        } else if line.starts_with("! ") && self.answered > 0 {
            // Our password was refused (wrong, too short): it is not tried
            // again. The server asks again, and the prompt will be yours;
            // until then a typed line must not go out, or it could arrive
            // where the server expects the name.
            self.password = None;
            Step::default()
        } else if line.starts_with("! ") {
            // A refused name: the server waits for another, from you.
            Step {
                your_turn: true,
                ..Step::default()
            }
        } else {
            Step::default()
        }
    }

    fn on_password_prompt(&mut self) -> Step {
        match &self.password {
            Some(password) if self.answered < MAX_SCRIPTED_ANSWERS => {
                self.answered += 1;
                Step {
                    answer: Some(password.clone()),
                    ..Step::default()
                }
            }
            // The password has to come from you.
            _ => Step {
                hide_input: true,
                your_turn: true,
                ..Step::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WELCOME: &str = "* Welcome to lanchat! Enter your name:";
    const LOGIN_PROMPT: &str = "* alice is registered; enter your password:";
    const SIGN_UP_PROMPT: &str =
        "* alice is not registered; send /cancel to pick another name, or choose a password:";
    const REPEAT_PROMPT: &str = "* repeat the password:";
    const HELLO: &str = "* Hello alice! You are in #general. Type /help for commands.";

    fn scripted() -> Login {
        Login::new(Some("alice".into()), Some("s3cret-pass".into()))
    }

    fn answer(text: &str) -> Step {
        Step {
            answer: Some(text.into()),
            ..Step::default()
        }
    }

    fn your_turn() -> Step {
        Step {
            your_turn: true,
            ..Step::default()
        }
    }

    fn ask_you() -> Step {
        Step {
            hide_input: true,
            your_turn: true,
            ..Step::default()
        }
    }

    #[test]
    fn every_notice_ending_in_password_is_a_prompt() {
        assert!(is_password_prompt(LOGIN_PROMPT));
        assert!(is_password_prompt(SIGN_UP_PROMPT));
        assert!(is_password_prompt(REPEAT_PROMPT));
    }

    #[test]
    fn chat_lines_and_errors_are_never_prompts() {
        assert!(!is_password_prompt(
            "[#general] mallory: tell me your password:"
        ));
        assert!(!is_password_prompt("[DM] mallory: password:"));
        assert!(!is_password_prompt("! wrong password"));
        assert!(!is_password_prompt("* password changed"));
    }

    #[test]
    fn name_and_password_log_in() {
        let mut login = scripted();
        assert!(login.waits_at_first());
        assert_eq!(login.on_line(WELCOME), answer("alice"));
        assert_eq!(login.on_line(LOGIN_PROMPT), answer("s3cret-pass"));
        assert_eq!(login.on_line(HELLO), your_turn());
    }

    #[test]
    fn both_sign_up_prompts_are_answered() {
        let mut login = scripted();
        login.on_line(WELCOME);
        assert_eq!(login.on_line(SIGN_UP_PROMPT), answer("s3cret-pass"));
        assert_eq!(login.on_line(REPEAT_PROMPT), answer("s3cret-pass"));
        assert_eq!(login.on_line(HELLO), your_turn());
    }

    #[test]
    fn a_third_prompt_in_a_row_is_left_to_you() {
        let mut login = scripted();
        login.on_line(WELCOME);
        login.on_line(SIGN_UP_PROMPT);
        login.on_line(REPEAT_PROMPT);
        assert_eq!(login.on_line(REPEAT_PROMPT), ask_you());
    }

    #[test]
    fn a_wrong_password_is_not_sent_again() {
        let mut login = scripted();
        login.on_line(WELCOME);
        login.on_line(LOGIN_PROMPT);
        assert_eq!(login.on_line("! wrong password"), Step::default());
        assert_eq!(login.on_line(WELCOME), answer("alice"));
        assert_eq!(login.on_line(LOGIN_PROMPT), ask_you());
    }

    #[test]
    fn an_error_before_any_password_keeps_it() {
        let mut login = scripted();
        login.on_line(WELCOME);
        assert_eq!(login.on_line("! the name alice is taken"), your_turn());
        assert_eq!(login.on_line(LOGIN_PROMPT), answer("s3cret-pass"));
    }

    #[test]
    fn the_password_is_forgotten_after_the_login() {
        let mut login = scripted();
        login.on_line(WELCOME);
        login.on_line(HELLO);
        assert_eq!(login.on_line("* choose a new password:"), ask_you());
    }

    #[test]
    fn without_a_password_the_prompt_is_yours_and_hidden() {
        let mut login = Login::new(Some("alice".into()), None);
        login.on_line(WELCOME);
        assert_eq!(login.on_line(LOGIN_PROMPT), ask_you());
    }

    #[test]
    fn without_a_name_you_answer_the_welcome() {
        let mut login = Login::new(None, Some("s3cret-pass".into()));
        assert!(!login.waits_at_first());
        assert_eq!(login.on_line(WELCOME), your_turn());
        assert_eq!(login.on_line(LOGIN_PROMPT), answer("s3cret-pass"));
    }

    #[test]
    fn chat_lines_ask_nothing() {
        let mut login = scripted();
        login.on_line(WELCOME);
        assert_eq!(
            login.on_line("[#general] mallory: your password:"),
            Step::default()
        );
    }
}
