//! The operator's console: commands typed on the server's standard input.
//!
//! It runs on a thread of its own, blocked reading stdin, and acts through a
//! [`ServerHandle`] like any other part of the server. End of input is not a
//! command: a server started as `server < /dev/null` or under a service
//! manager has no console, and must keep serving. Only `/shutdown` stops it.
//!
//! The operator is a participant: a plain line is said to everyone
//! (`[server] text`), `@name text` is a direct message from `server`, and
//! the chat of every room, and the direct messages users send to
//! `@server`, are shown on standard output (see [`feed`]),
//! in the terminal protocol's format. The console's own replies keep their
//! forms (`* ...`, `! ...`), so a reader tells them from the chat.

use std::fmt;
use std::io::{BufRead, Write};
use std::thread;

use crate::bans::{Target, MAX_MINUTES};
use crate::feed;
use crate::server::ServerHandle;

/// One console line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    Empty,
    /// `/say text`, or a plain line: `[server] text` to everyone.
    Say(String),
    /// `@name text`: `[DM] server: text` to one person.
    Direct {
        to: String,
        text: String,
    },
    Kick {
        name: String,
        reason: Option<String>,
    },
    /// `/ban name|address [minutes]`: for good without minutes. Also
    /// `/kick name --ban MINUTES [reason]`, whose reason the kicked see.
    Ban {
        target: Target,
        minutes: Option<u32>,
        reason: Option<String>,
    },
    /// `/unban name|address`.
    Unban(Target),
    /// `/bans`: the bans in force, with their ends.
    Bans,
    Users,
    Rooms,
    Register {
        name: String,
        password: String,
    },
    Accounts,
    /// `/password name new`: set a password without knowing the old one.
    Password {
        name: String,
        password: String,
    },
    /// `/unregister name`: delete an account.
    Unregister(String),
    /// `/rename old new`: the account and, if online, the user.
    Rename {
        old: String,
        new: String,
    },
    /// Refuse new logins.
    Close,
    /// Accept new logins again.
    Open,
    Status,
    Shutdown,
    Help,
}

/// Why a console line was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleError {
    Unknown(String),
    Usage(&'static str),
    /// The words were there, but one cannot be used; the text says why.
    Invalid(String),
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::Unknown(line) => {
                write!(f, "unknown console command {line} (try /help)")
            }
            ConsoleError::Usage(usage) => write!(f, "usage: {usage}"),
            ConsoleError::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for ConsoleError {}

/// Splits `"word rest"` into `("word", "rest")`, the rest trimmed.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// Exactly two words, or the usage error.
fn two_words<'a>(rest: &'a str, usage: &'static str) -> Result<(&'a str, &'a str), ConsoleError> {
    match split_word(rest) {
        (first, second) if !first.is_empty() && !second.is_empty() => Ok((first, second)),
        _ => Err(ConsoleError::Usage(usage)),
    }
}

impl ConsoleCommand {
    /// Parses one console line: a `/command`, `@name text`, or plain text
    /// (said to everyone, like `/say`).
    pub fn parse(line: &str) -> Result<ConsoleCommand, ConsoleError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(ConsoleCommand::Empty);
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (to, text) = split_word(rest);
            if to.is_empty() || text.is_empty() {
                return Err(ConsoleError::Usage("@name <text>"));
            }
            return Ok(ConsoleCommand::Direct {
                to: to.to_string(),
                text: text.to_string(),
            });
        }
        if !line.starts_with('/') {
            return Ok(ConsoleCommand::Say(line.to_string()));
        }
        let (word, rest) = split_word(line);
        parse_slash(word, rest)
    }
}

/// Parses a `/command` and what follows it.
fn parse_slash(word: &str, rest: &str) -> Result<ConsoleCommand, ConsoleError> {
    let command = match word.to_ascii_lowercase().as_str() {
        "/say" if rest.is_empty() => return Err(ConsoleError::Usage("/say <text>")),
        "/say" => ConsoleCommand::Say(rest.to_string()),
        "/kick" => parse_kick(rest)?,
        "/ban" => parse_ban(rest)?,
        "/unban" if rest.is_empty() || rest.contains(char::is_whitespace) => {
            return Err(ConsoleError::Usage("/unban <name|address>"))
        }
        "/unban" => ConsoleCommand::Unban(parse_target(rest)?),
        "/bans" => ConsoleCommand::Bans,
        "/register" => {
            let (name, password) = two_words(rest, "/register <name> <password>")?;
            ConsoleCommand::Register {
                name: name.to_string(),
                password: password.to_string(),
            }
        }
        "/password" => {
            let (name, password) = two_words(rest, "/password <name> <new password>")?;
            ConsoleCommand::Password {
                name: name.to_string(),
                password: password.to_string(),
            }
        }
        "/unregister" if rest.is_empty() || rest.contains(char::is_whitespace) => {
            return Err(ConsoleError::Usage("/unregister <name>"))
        }
        "/unregister" => ConsoleCommand::Unregister(rest.to_string()),
        "/rename" => {
            let (old, new) = two_words(rest, "/rename <old> <new>")?;
            if new.contains(char::is_whitespace) {
                return Err(ConsoleError::Usage("/rename <old> <new>"));
            }
            ConsoleCommand::Rename {
                old: old.to_string(),
                new: new.to_string(),
            }
        }
        "/accounts" => ConsoleCommand::Accounts,
        "/users" => ConsoleCommand::Users,
        "/rooms" => ConsoleCommand::Rooms,
        "/close" => ConsoleCommand::Close,
        "/open" => ConsoleCommand::Open,
        "/status" => ConsoleCommand::Status,
        "/shutdown" => ConsoleCommand::Shutdown,
        "/help" => ConsoleCommand::Help,
        // Only the first word: the rest may be a password with a typo
        // before it (`/regster alice secret`), and replies are logged.
        _ => return Err(ConsoleError::Unknown(word.to_string())),
    };
    Ok(command)
}

const KICK_USAGE: &str = "/kick <name> [--ban <minutes>] [reason]";
const BAN_USAGE: &str = "/ban <name|address> [minutes]";

/// `/ban name|address [minutes]`.
fn parse_ban(rest: &str) -> Result<ConsoleCommand, ConsoleError> {
    let (target, minutes) = split_word(rest);
    if target.is_empty() || minutes.contains(char::is_whitespace) {
        return Err(ConsoleError::Usage(BAN_USAGE));
    }
    Ok(ConsoleCommand::Ban {
        target: parse_target(target)?,
        minutes: (!minutes.is_empty())
            .then(|| parse_minutes(minutes))
            .transpose()?,
        reason: None,
    })
}

/// `/kick name [--ban MINUTES] [reason]`: the option, if any, comes right
/// after the name, so a reason may say anything (even `--ban`). With the
/// option it is a ban of the name: banning someone online disconnects
/// them, with the reason.
fn parse_kick(rest: &str) -> Result<ConsoleCommand, ConsoleError> {
    let (name, reason) = split_word(rest);
    if name.is_empty() {
        return Err(ConsoleError::Usage(KICK_USAGE));
    }
    let optional = |text: &str| (!text.is_empty()).then(|| text.to_string());
    let option = reason.strip_prefix("--ban");
    let Some(after) = option.filter(|a| a.is_empty() || a.starts_with(char::is_whitespace)) else {
        return Ok(ConsoleCommand::Kick {
            name: name.to_string(),
            reason: optional(reason),
        });
    };
    let (minutes, reason) = split_word(after.trim_start());
    if minutes.is_empty() {
        return Err(ConsoleError::Usage(KICK_USAGE));
    }
    let target = match parse_target(name)? {
        Target::Address(_) => return Err(ConsoleError::Usage(KICK_USAGE)),
        name => name,
    };
    Ok(ConsoleCommand::Ban {
        target,
        minutes: Some(parse_minutes(minutes)?),
        reason: optional(reason),
    })
}

/// A name or an IP address to ban.
fn parse_target(text: &str) -> Result<Target, ConsoleError> {
    Target::parse(text).map_err(|e| {
        ConsoleError::Invalid(format!("{text} is neither an IP address nor a name ({e})"))
    })
}

/// A ban's length: a whole number of minutes, 1 to [`MAX_MINUTES`].
fn parse_minutes(text: &str) -> Result<u32, ConsoleError> {
    match text.parse::<u32>() {
        Ok(minutes) if (1..=MAX_MINUTES).contains(&minutes) => Ok(minutes),
        _ => Err(ConsoleError::Invalid(format!(
            "minutes must be a whole number from 1 to {MAX_MINUTES}, not {text}"
        ))),
    }
}

const HELP: &str = "console commands:
  text                 everyone online gets [server] text (same as /say)
  @name text           name gets [DM] server: text
  /say text            everyone online gets [server] text
  /kick name [reason]  disconnect a client
  /kick name --ban MINUTES [reason]
                       disconnect a client and ban the name that long
  /ban name|address [minutes]
                       keep a name or an IP address out (for good
                       without minutes); disconnects who it matches
  /unban name|address  lift a ban
  /bans                list the bans and when they end
  /users               list who is online
  /rooms               list the rooms
  /register name pass  create an account (also when registration is closed)
  /accounts            list the registered names
  /password name new   set a new password for an account
  /unregister name     delete an account
  /rename old new      rename an account and, if online, its user
  /close               refuse new logins (everyone online stays)
  /open                accept new logins again
  /status              uptime, connections, accounts, rooms, messages
  /shutdown            tell everyone, close all connections, exit
  /help                show this help
The chat is shown here as it happens: every room, and direct messages
users send to @server (unless console_echo = false or --quiet).
";

/// Reads console commands from `input` until `/shutdown` or end of input.
///
/// Replies, and the chat when `console_echo` is on, are written to
/// `output` by a thread of its own (`console output`), through the
/// server's feed (see [`feed`]): a stdout that nobody reads
/// costs the chat nothing. That thread outlives this function, so the chat
/// is still shown after end of input.
pub fn run(input: impl BufRead, output: impl Write + Send + 'static, server: ServerHandle) {
    let feed = server.feed();
    let printer = thread::Builder::new()
        .name("console output".into())
        .spawn(move || feed::print(&feed, output));
    if let Err(e) = printer {
        crate::log!("console: cannot start the output thread ({e}); replies are not shown");
    }
    for line in input.lines() {
        let Ok(line) = line else {
            crate::log!("console: cannot read standard input; the console is off");
            return;
        };
        let command = ConsoleCommand::parse(&crate::protocol::sanitize(&line));
        let reply = match command {
            Ok(ConsoleCommand::Empty) => continue,
            Ok(ConsoleCommand::Shutdown) => {
                server.shutdown();
                return;
            }
            Ok(command) => execute(command, &server),
            Err(e) => crate::protocol::error(e),
        };
        server.feed().reply(&reply);
    }
    crate::log!("console: standard input closed; the server keeps running (stop it with a signal)");
}

/// Carries out one console command; returns the reply, whole lines.
fn execute(command: ConsoleCommand, server: &ServerHandle) -> String {
    use crate::protocol::{error, notice};
    let done = |result: Result<String, String>| match result {
        Ok(text) => notice(&text),
        Err(text) => error(text),
    };
    match command {
        ConsoleCommand::Empty | ConsoleCommand::Shutdown => String::new(),
        ConsoleCommand::Say(text) => {
            server.say(&text);
            notice("said to everyone")
        }
        ConsoleCommand::Direct { to, text } => done(server.direct(&to, &text)),
        ConsoleCommand::Kick { name, reason } => done(server.kick(&name, reason.as_deref())),
        ConsoleCommand::Ban {
            target,
            minutes,
            reason,
        } => done(server.ban(&target, minutes, reason.as_deref())),
        ConsoleCommand::Unban(target) => done(server.unban(&target)),
        ConsoleCommand::Bans => notice(&server.bans_line()),
        ConsoleCommand::Users => server.users_line(),
        ConsoleCommand::Rooms => server.rooms_line(),
        ConsoleCommand::Register { name, password } => done(server.register(&name, &password)),
        ConsoleCommand::Accounts => {
            let names = server.account_names();
            match names.is_empty() {
                true => notice("accounts: none"),
                false => notice(&format!("accounts: {}", names.join(", "))),
            }
        }
        ConsoleCommand::Password { name, password } => {
            done(server.reset_password(&name, &password))
        }
        ConsoleCommand::Unregister(name) => done(server.unregister(&name)),
        ConsoleCommand::Rename { old, new } => done(server.rename(&old, &new)),
        ConsoleCommand::Close => notice(&server.set_closed(true)),
        ConsoleCommand::Open => notice(&server.set_closed(false)),
        ConsoleCommand::Status => notice(&server.status()),
        ConsoleCommand::Help => HELP.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        use ConsoleCommand::*;
        assert_eq!(ConsoleCommand::parse(""), Ok(Empty));
        assert_eq!(
            ConsoleCommand::parse("/say hi  all"),
            Ok(Say("hi  all".into()))
        );
        assert_eq!(
            ConsoleCommand::parse("/kick bob spamming links"),
            Ok(Kick {
                name: "bob".into(),
                reason: Some("spamming links".into())
            })
        );
        assert_eq!(
            ConsoleCommand::parse("/kick bob"),
            Ok(Kick {
                name: "bob".into(),
                reason: None
            })
        );
        assert_eq!(ConsoleCommand::parse("/users"), Ok(Users));
        assert_eq!(ConsoleCommand::parse("/ROOMS"), Ok(Rooms));
        assert_eq!(ConsoleCommand::parse("/shutdown"), Ok(Shutdown));
        assert_eq!(
            ConsoleCommand::parse("/register alice s3cret-pw"),
            Ok(Register {
                name: "alice".into(),
                password: "s3cret-pw".into()
            })
        );
        assert_eq!(ConsoleCommand::parse("/accounts"), Ok(Accounts));
        assert_eq!(ConsoleCommand::parse("/help"), Ok(Help));
        assert_eq!(ConsoleCommand::parse("/close"), Ok(Close));
        assert_eq!(ConsoleCommand::parse("/open"), Ok(Open));
        assert_eq!(ConsoleCommand::parse("/status"), Ok(Status));
        assert_eq!(
            ConsoleCommand::parse("/password bob n3w-secret"),
            Ok(Password {
                name: "bob".into(),
                password: "n3w-secret".into()
            })
        );
        assert_eq!(
            ConsoleCommand::parse("/unregister bob"),
            Ok(Unregister("bob".into()))
        );
        assert_eq!(
            ConsoleCommand::parse("/rename bob robert"),
            Ok(Rename {
                old: "bob".into(),
                new: "robert".into()
            })
        );
    }

    #[test]
    fn parses_bans_of_names_and_addresses() {
        use ConsoleCommand::*;
        let name = |key: &str| Target::Name(key.into());
        let ip = |text: &str| Target::Address(text.parse().expect("an address"));
        assert_eq!(
            ConsoleCommand::parse("/ban Bob"),
            Ok(Ban {
                target: name("bob"),
                minutes: None,
                reason: None
            })
        );
        assert_eq!(
            ConsoleCommand::parse("/ban 10.0.0.7 30"),
            Ok(Ban {
                target: ip("10.0.0.7"),
                minutes: Some(30),
                reason: None
            })
        );
        assert_eq!(
            ConsoleCommand::parse("/BAN ::1 5"),
            Ok(Ban {
                target: ip("::1"),
                minutes: Some(5),
                reason: None
            })
        );
        assert_eq!(ConsoleCommand::parse("/unban ::1"), Ok(Unban(ip("::1"))));
        assert_eq!(ConsoleCommand::parse("/unban BOB"), Ok(Unban(name("bob"))));
        assert_eq!(ConsoleCommand::parse("/bans"), Ok(Bans));
    }

    #[test]
    fn kick_with_ban_is_a_ban_of_the_name_with_a_reason() {
        use ConsoleCommand::*;
        assert_eq!(
            ConsoleCommand::parse("/kick bob --ban 10 flooding #general"),
            Ok(Ban {
                target: Target::Name("bob".into()),
                minutes: Some(10),
                reason: Some("flooding #general".into())
            })
        );
        assert_eq!(
            ConsoleCommand::parse("/kick bob --ban 10"),
            Ok(Ban {
                target: Target::Name("bob".into()),
                minutes: Some(10),
                reason: None
            })
        );
        // Anywhere but right after the name, `--ban` is part of the reason.
        assert_eq!(
            ConsoleCommand::parse("/kick bob said --ban 10"),
            Ok(Kick {
                name: "bob".into(),
                reason: Some("said --ban 10".into())
            })
        );
        assert_eq!(
            ConsoleCommand::parse("/kick bob --bandit"),
            Ok(Kick {
                name: "bob".into(),
                reason: Some("--bandit".into())
            })
        );
    }

    #[test]
    fn refuses_bad_bans() {
        let usage = |u| Err(ConsoleError::Usage(u));
        assert_eq!(ConsoleCommand::parse("/ban"), usage(BAN_USAGE));
        assert_eq!(ConsoleCommand::parse("/ban bob 10 extra"), usage(BAN_USAGE));
        assert_eq!(
            ConsoleCommand::parse("/unban"),
            usage("/unban <name|address>")
        );
        assert_eq!(ConsoleCommand::parse("/kick bob --ban"), usage(KICK_USAGE));
        assert_eq!(
            ConsoleCommand::parse("/kick 10.0.0.7 --ban 5"),
            usage(KICK_USAGE)
        );
        let invalid = |text: &str| Err(ConsoleError::Invalid(text.into()));
        let minutes = "minutes must be a whole number from 1 to 5270400, not";
        assert_eq!(
            ConsoleCommand::parse("/ban bob 0"),
            invalid(&format!("{minutes} 0"))
        );
        assert_eq!(
            ConsoleCommand::parse("/ban bob -5"),
            invalid(&format!("{minutes} -5"))
        );
        assert_eq!(
            ConsoleCommand::parse("/ban bob 5270401"),
            invalid(&format!("{minutes} 5270401"))
        );
        assert_eq!(
            ConsoleCommand::parse("/kick bob --ban soon"),
            invalid(&format!("{minutes} soon"))
        );
        assert_eq!(
            ConsoleCommand::parse("/ban 10.0.0.300"),
            invalid(
                "10.0.0.300 is neither an IP address nor a name \
                 (name may only contain letters, digits, _ and -)"
            )
        );
        assert_eq!(
            ConsoleCommand::parse("/ban server").map_err(|e| e.to_string()),
            Err("server is neither an IP address nor a name (the name server is reserved)".into())
        );
    }

    #[test]
    fn a_plain_line_is_said_and_an_at_line_is_a_direct_message() {
        use ConsoleCommand::*;
        assert_eq!(
            ConsoleCommand::parse("hello all"),
            Ok(Say("hello all".into()))
        );
        assert_eq!(
            ConsoleCommand::parse("@bob are you there?"),
            Ok(Direct {
                to: "bob".into(),
                text: "are you there?".into()
            })
        );
    }

    #[test]
    fn refuses_unknown_and_incomplete_commands() {
        assert_eq!(
            ConsoleCommand::parse("/say"),
            Err(ConsoleError::Usage("/say <text>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/kick"),
            Err(ConsoleError::Usage(KICK_USAGE))
        );
        assert_eq!(
            ConsoleCommand::parse("/register alice"),
            Err(ConsoleError::Usage("/register <name> <password>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/frobnicate"),
            Err(ConsoleError::Unknown("/frobnicate".into()))
        );
        assert_eq!(
            ConsoleCommand::parse("@bob"),
            Err(ConsoleError::Usage("@name <text>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/password bob"),
            Err(ConsoleError::Usage("/password <name> <new password>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/unregister"),
            Err(ConsoleError::Usage("/unregister <name>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/rename bob"),
            Err(ConsoleError::Usage("/rename <old> <new>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/regster alice s3cret-pw"),
            Err(ConsoleError::Unknown("/regster".into()))
        );
    }
}
