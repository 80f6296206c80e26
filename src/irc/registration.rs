//! Registration: the start of an IRC connection, as a state machine.
//!
//! A client sends `NICK` and `USER` in any order, maybe `PASS` first, and a
//! modern client opens with `CAP LS 302` and closes the negotiation with
//! `CAP END` (we offer no capabilities, which is allowed: the client then
//! asks for none). `PING` may come at any time. Registration is done when
//! the nick and the user are known and no negotiation is open.
//!
//! [`Registration::step`] is pure: a message in, a [`Step`] out (lines to
//! send, or "ready"); whether the nick is free, and the password, are for
//! the caller, which owns the shared state. Unit tests below walk it
//! through the orders real clients use.

use crate::protocol::{self, validate_name};

use super::message::{text_line, Message};
use super::numeric;

/// What to do after one message of an unregistered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these lines (a reply, an error numeric), and wait for more.
    Reply(String),
    /// Nothing to send.
    Nothing,
    /// Nick and user are known and no negotiation is open: the caller
    /// checks the nick (and password) and brings the client online.
    Ready,
    /// The client sent `QUIT`.
    Quit,
}

/// What an unregistered client has told so far.
#[derive(Debug, Default)]
pub(crate) struct Registration {
    nick: Option<String>,
    /// The user name of `USER`, kept to the characters a name may have.
    username: String,
    realname: Option<String>,
    password: Option<String>,
    /// `CAP LS` or `CAP REQ` came, and `CAP END` not yet.
    negotiating: bool,
}

impl Registration {
    /// The nick asked for, if any.
    pub(crate) fn nick(&self) -> Option<&str> {
        self.nick.as_deref()
    }

    /// The nick, or `*` (what numerics call a client without one).
    pub(crate) fn target(&self) -> &str {
        self.nick.as_deref().unwrap_or("*")
    }

    /// The user name `USER` gave (shown as `~name` in `WHO` and `WHOIS`,
    /// the `~` saying no ident server vouched for it), or the nick when it
    /// had nothing usable.
    pub(crate) fn username(&self) -> &str {
        match self.username.is_empty() {
            true => self.target(),
            false => &self.username,
        }
    }

    pub(crate) fn realname(&self) -> &str {
        self.realname.as_deref().unwrap_or("")
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Drops a nick that could not be had (taken, or registered without
    /// the right password): the client must send another `NICK`.
    pub(crate) fn refuse_nick(&mut self) {
        self.nick = None;
    }

    /// Drops a wrong password: it is not tried again.
    pub(crate) fn forget_password(&mut self) {
        self.password = None;
    }

    fn ready(&self) -> bool {
        self.nick.is_some() && self.realname.is_some() && !self.negotiating
    }

    /// Takes one message; `server` is our name, for the replies.
    pub(crate) fn step(&mut self, msg: &Message, server: &str) -> Step {
        let reply = match msg.command.as_str() {
            "NICK" => match msg.param(0) {
                None => self.error(server, "431", &["No nickname given"]),
                Some(nick) if validate_name(nick).is_err() => {
                    self.error(server, "432", &[nick, "Erroneous nickname"])
                }
                Some(nick) => {
                    self.nick = Some(nick.to_string());
                    return self.ready_or_nothing();
                }
            },
            "USER" if self.realname.is_some() => {
                self.error(server, "462", &["You may not reregister"])
            }
            "USER" => match (msg.param(0), msg.param(3).map(protocol::sanitize)) {
                // Sanitized like every other text relayed to others (it is
                // shown in WHO and WHOIS): no control character survives.
                (Some(username), Some(realname)) if !realname.trim().is_empty() => {
                    self.username = username_of(username);
                    self.realname = Some(realname.trim().to_string());
                    return self.ready_or_nothing();
                }
                _ => self.error(server, "461", &["USER", "Not enough parameters"]),
            },
            "PASS" => match msg.param(0) {
                Some(password) => {
                    // The same string as the terminal's password line.
                    self.password = Some(protocol::sanitize(password).trim().to_string());
                    return Step::Nothing;
                }
                None => self.error(server, "461", &["PASS", "Not enough parameters"]),
            },
            "CAP" => return self.cap(msg, server),
            "PING" => pong(msg, server, self.target()),
            "PONG" => return Step::Nothing,
            "QUIT" => return Step::Quit,
            _ => self.error(server, "451", &["You have not registered"]),
        };
        Step::Reply(reply)
    }

    fn ready_or_nothing(&self) -> Step {
        if self.ready() {
            Step::Ready
        } else {
            Step::Nothing
        }
    }

    fn error(&self, server: &str, code: &str, params: &[&str]) -> String {
        numeric(server, code, self.target(), params)
    }

    /// `CAP`: we list no capabilities and acknowledge none.
    fn cap(&mut self, msg: &Message, server: &str) -> Step {
        let sub = msg.param(0).map(str::to_ascii_uppercase);
        let target = self.target().to_string();
        let cap = |params: &[&str]| {
            let mut all = vec![target.as_str()];
            all.extend_from_slice(params);
            Step::Reply(text_line(server, "CAP", &all))
        };
        match sub.as_deref() {
            Some("LS") => {
                self.negotiating = true;
                cap(&["LS", ""])
            }
            Some("LIST") => cap(&["LIST", ""]),
            Some("REQ") => {
                self.negotiating = true;
                cap(&["NAK", msg.params.get(1).map_or("", String::as_str)])
            }
            Some("END") => {
                self.negotiating = false;
                self.ready_or_nothing()
            }
            Some(other) => Step::Reply(self.error(server, "410", &[other, "Invalid CAP command"])),
            None => Step::Reply(self.error(server, "461", &["CAP", "Not enough parameters"])),
        }
    }
}

/// The most bytes of a user name we keep (IRC's usual `USERLEN`).
const USERLEN: usize = 10;

/// A `USER` name as shown to others: only the characters a name may have
/// (plus `.`), at most [`USERLEN`] of them, so it can never break the
/// `nick!user@host` it is shown in.
fn username_of(raw: &str) -> String {
    let allowed = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    raw.chars().filter(allowed).take(USERLEN).collect()
}

/// The answer to `PING token`: `PONG server :token` (461 without a token).
pub(crate) fn pong(msg: &Message, server: &str, you: &str) -> String {
    match msg.params.first() {
        Some(token) => text_line(server, "PONG", &[server, token]),
        None => numeric(server, "461", you, &["PING", "Not enough parameters"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "lanchat.local";

    fn step(reg: &mut Registration, text: &str) -> Step {
        reg.step(&Message::parse(text).expect("a message"), S)
    }

    fn reply(text: &str) -> Step {
        Step::Reply(text.to_string())
    }

    #[test]
    fn nick_then_user_registers() {
        let mut reg = Registration::default();
        assert_eq!(step(&mut reg, "NICK alice"), Step::Nothing);
        assert_eq!(step(&mut reg, "USER a 0 * :Alice L."), Step::Ready);
        assert_eq!(reg.nick(), Some("alice"));
        assert_eq!(reg.realname(), "Alice L.");
    }

    #[test]
    fn user_then_nick_registers_too() {
        let mut reg = Registration::default();
        assert_eq!(step(&mut reg, "USER a 0 * :Alice"), Step::Nothing);
        assert_eq!(step(&mut reg, "NICK alice"), Step::Ready);
    }

    #[test]
    fn cap_negotiation_holds_registration_until_cap_end() {
        let mut reg = Registration::default();
        assert_eq!(
            step(&mut reg, "CAP LS 302"),
            reply(":lanchat.local CAP * LS :\r\n")
        );
        assert_eq!(step(&mut reg, "NICK alice"), Step::Nothing);
        assert_eq!(step(&mut reg, "USER a 0 * :Alice"), Step::Nothing);
        assert_eq!(
            step(&mut reg, "CAP REQ :multi-prefix sasl"),
            reply(":lanchat.local CAP alice NAK :multi-prefix sasl\r\n")
        );
        assert_eq!(step(&mut reg, "CAP END"), Step::Ready);
        assert_eq!(
            step(&mut reg, "CAP FOO"),
            reply(":lanchat.local 410 alice FOO :Invalid CAP command\r\n")
        );
    }

    #[test]
    fn bad_nicks_get_431_and_432() {
        let mut reg = Registration::default();
        assert_eq!(
            step(&mut reg, "NICK"),
            reply(":lanchat.local 431 * :No nickname given\r\n")
        );
        assert_eq!(
            step(&mut reg, "NICK *"),
            reply(":lanchat.local 432 * * :Erroneous nickname\r\n")
        );
        assert_eq!(
            step(&mut reg, "NICK server"),
            reply(":lanchat.local 432 * server :Erroneous nickname\r\n")
        );
        let long = "a".repeat(25);
        assert!(
            matches!(step(&mut reg, &format!("NICK {long}")), Step::Reply(r) if r.contains(" 432 "))
        );
        assert_eq!(reg.nick(), None);
    }

    #[test]
    fn the_user_name_keeps_only_safe_characters_and_falls_back_to_the_nick() {
        let mut reg = Registration::default();
        step(&mut reg, "NICK al");
        step(&mut reg, "USER ~my@user!name.with.a.long.tail 0 * :Al");
        assert_eq!(reg.username(), "myusername");
        let mut reg = Registration::default();
        step(&mut reg, "NICK al");
        step(&mut reg, "USER @@ 0 * :Al");
        assert_eq!(reg.username(), "al");
    }

    #[test]
    fn user_needs_four_params_and_a_realname() {
        let mut reg = Registration::default();
        step(&mut reg, "NICK foo");
        assert_eq!(
            step(&mut reg, "USER username * * :"),
            reply(":lanchat.local 461 foo USER :Not enough parameters\r\n")
        );
        assert_eq!(
            step(&mut reg, "USER username *"),
            reply(":lanchat.local 461 foo USER :Not enough parameters\r\n")
        );
        assert_eq!(step(&mut reg, "USER username * * :Foo"), Step::Ready);
    }

    #[test]
    fn ping_pass_quit_and_anything_else_before_registration() {
        let mut reg = Registration::default();
        assert_eq!(
            step(&mut reg, "PING :abc 123"),
            reply(":lanchat.local PONG lanchat.local :abc 123\r\n")
        );
        assert_eq!(step(&mut reg, "PASS s3cret-pw"), Step::Nothing);
        assert_eq!(reg.password(), Some("s3cret-pw"));
        assert_eq!(
            step(&mut reg, "JOIN #dev"),
            reply(":lanchat.local 451 * :You have not registered\r\n")
        );
        assert_eq!(step(&mut reg, "QUIT :bye"), Step::Quit);
    }

    #[test]
    fn a_refused_nick_needs_a_new_nick() {
        let mut reg = Registration::default();
        step(&mut reg, "NICK alice");
        assert_eq!(step(&mut reg, "USER a 0 * :A"), Step::Ready);
        reg.refuse_nick();
        assert_eq!(reg.target(), "*");
        assert_eq!(step(&mut reg, "NICK alice2"), Step::Ready);
    }
}
