//! The operator's console: commands typed on the server's standard input.
//!
//! It runs on a thread of its own, blocked reading stdin, and acts through a
//! [`ServerHandle`] like any other part of the server. End of input is not a
//! command: a server started as `server < /dev/null` or under a service
//! manager has no console, and must keep serving. Only `/shutdown` stops it.

use std::fmt;
use std::io::{BufRead, Write};

use crate::server::ServerHandle;

/// One console line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    Empty,
    Say(String),
    Kick {
        name: String,
        reason: Option<String>,
    },
    Users,
    Rooms,
    Register {
        name: String,
        password: String,
    },
    Accounts,
    Shutdown,
    Help,
}

/// Why a console line was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleError {
    Unknown(String),
    Usage(&'static str),
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::Unknown(line) => {
                write!(f, "unknown console command {line} (try /help)")
            }
            ConsoleError::Usage(usage) => write!(f, "usage: {usage}"),
        }
    }
}

impl std::error::Error for ConsoleError {}

impl ConsoleCommand {
    pub fn parse(line: &str) -> Result<ConsoleCommand, ConsoleError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(ConsoleCommand::Empty);
        }
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (line, ""),
        };
        let command = match word.to_ascii_lowercase().as_str() {
            "/say" if rest.is_empty() => return Err(ConsoleError::Usage("/say <text>")),
            "/say" => ConsoleCommand::Say(rest.to_string()),
            "/kick" if rest.is_empty() => return Err(ConsoleError::Usage("/kick <name> [reason]")),
            "/kick" => {
                let (name, reason) = match rest.split_once(char::is_whitespace) {
                    Some((name, reason)) => (name, Some(reason.trim().to_string())),
                    None => (rest, None),
                };
                ConsoleCommand::Kick {
                    name: name.to_string(),
                    reason,
                }
            }
            "/register" => {
                let usage = ConsoleError::Usage("/register <name> <password>");
                let (name, password) = rest.split_once(char::is_whitespace).ok_or(usage.clone())?;
                let password = password.trim();
                if name.is_empty() || password.is_empty() {
                    return Err(usage);
                }
                ConsoleCommand::Register {
                    name: name.to_string(),
                    password: password.to_string(),
                }
            }
            "/accounts" => ConsoleCommand::Accounts,
            "/users" => ConsoleCommand::Users,
            "/rooms" => ConsoleCommand::Rooms,
            "/shutdown" => ConsoleCommand::Shutdown,
            "/help" => ConsoleCommand::Help,
            // Only the first word: the rest may be a password with a typo
            // before it (`/regster alice secret`), and replies are logged.
            _ => return Err(ConsoleError::Unknown(word.to_string())),
        };
        Ok(command)
    }
}

const HELP: &str = "console commands:
  /say text            everyone online gets [server] text
  /kick name [reason]  disconnect a client
  /users               list who is online
  /rooms               list the rooms
  /register name pass  create an account (also when registration is closed)
  /accounts            list the registered names
  /shutdown            tell everyone, close all connections, exit
  /help                show this help
";

/// Reads console commands from `input` until `/shutdown` or end of input,
/// writing replies to `output`.
pub fn run(input: impl BufRead, mut output: impl Write, server: ServerHandle) {
    for line in input.lines() {
        let Ok(line) = line else {
            crate::log!("console: cannot read standard input; the console is off");
            return;
        };
        let reply = match ConsoleCommand::parse(&crate::protocol::sanitize(&line)) {
            Ok(ConsoleCommand::Empty) => continue,
            Ok(ConsoleCommand::Say(text)) => {
                server.say(&text);
                "* said to everyone\n".to_string()
            }
            Ok(ConsoleCommand::Kick { name, reason }) => {
                match server.kick(&name, reason.as_deref()) {
                    Ok(()) => {
                        crate::log!("console: kicked {name}");
                        format!("* kicked {name}\n")
                    }
                    Err(e) => crate::protocol::error(e),
                }
            }
            Ok(ConsoleCommand::Users) => server.users_line(),
            Ok(ConsoleCommand::Rooms) => server.rooms_line(),
            Ok(ConsoleCommand::Register { name, password }) => {
                match crate::protocol::validate_name(&name) {
                    Err(e) => crate::protocol::error(e),
                    Ok(()) => match server.register(&name, &password) {
                        Ok(()) => {
                            crate::log!("console: registered {name}");
                            crate::protocol::notice(&format!("{name} is now registered"))
                        }
                        Err(e) => crate::protocol::error(e),
                    },
                }
            }
            Ok(ConsoleCommand::Accounts) => {
                let names = server.account_names();
                if names.is_empty() {
                    crate::protocol::notice("accounts: none")
                } else {
                    crate::protocol::notice(&format!("accounts: {}", names.join(", ")))
                }
            }
            Ok(ConsoleCommand::Help) => HELP.to_string(),
            Ok(ConsoleCommand::Shutdown) => {
                server.shutdown();
                return;
            }
            Err(e) => crate::protocol::error(e),
        };
        // Nobody to tell if stdout is gone; the server goes on.
        let _ = output
            .write_all(reply.as_bytes())
            .and_then(|()| output.flush());
    }
    crate::log!("console: standard input closed; the server keeps running (stop it with a signal)");
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
    }

    #[test]
    fn refuses_unknown_and_incomplete_commands() {
        assert_eq!(
            ConsoleCommand::parse("/say"),
            Err(ConsoleError::Usage("/say <text>"))
        );
        assert_eq!(
            ConsoleCommand::parse("/kick"),
            Err(ConsoleError::Usage("/kick <name> [reason]"))
        );
        assert_eq!(
            ConsoleCommand::parse("/register alice"),
            Err(ConsoleError::Usage("/register <name> <password>"))
        );
        assert_eq!(
            ConsoleCommand::parse("hello"),
            Err(ConsoleError::Unknown("hello".into()))
        );
        assert_eq!(
            ConsoleCommand::parse("/regster alice s3cret-pw"),
            Err(ConsoleError::Unknown("/regster".into()))
        );
    }
}
