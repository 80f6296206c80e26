//! Commands, once for every frontend: the rules and the dispatch.
//!
//! A line from a terminal and a line posted by the web page come to
//! [`handle_line`]: the rate limit, the framing errors, parsing
//! ([`Command::parse`]), then [`execute`]. Another protocol (IRC, say) maps
//! its own commands onto [`Command`] and calls [`execute`]: so a rule such
//! as "someone else's registered name is theirs" is checked in one place,
//! whatever the way in.
//!
//! Nothing here formats a wire line. Replies are [`Event`]s sent through
//! the registry, and a refused command comes back as a [`Refusal`], which
//! the caller sends the same way.

use std::fmt;
use std::time::Instant;

use crate::accounts::AccountError;
use crate::context::Context;
use crate::event::{Event, Style};
use crate::log;
use crate::net::LineRead;
use crate::protocol::{self, Command, ParseError};
use crate::rate::{RateLimiter, Verdict};
use crate::registry::{ChatError, Session};
use crate::throttle::ThrottleError;

/// What became of one line from an online client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Continue,
    /// The client asked to leave and was told goodbye.
    Quit,
    /// The client is no longer online (kicked, or cut off).
    Gone,
}

/// Why a command was refused: the one word for it, whatever refused it.
/// `Display` is what the client is told (after `! ` on a terminal).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The line did not parse.
    Parse(ParseError),
    /// The chat (the registry) said no.
    Chat(ChatError),
    /// The accounts said no.
    Account(AccountError),
    /// Too many password attempts, or too many at once.
    Throttled(ThrottleError),
    /// The line was over `max_line_bytes`.
    TooLong(usize),
    /// The line was not UTF-8.
    NotUtf8,
    /// Over the rate limit.
    SlowDown,
    /// `/nick` to a name the operator banned.
    NameBanned(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Parse(e) => e.fmt(f),
            Refusal::Chat(e) => e.fmt(f),
            Refusal::Account(e) => e.fmt(f),
            Refusal::Throttled(e) => e.fmt(f),
            Refusal::TooLong(max) => write!(f, "line too long (max {max} bytes)"),
            Refusal::NotUtf8 => write!(f, "message is not valid UTF-8"),
            Refusal::SlowDown => write!(f, "slow down"),
            Refusal::NameBanned(name) => write!(f, "the name {name} is banned from this server"),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<ChatError> for Refusal {
    fn from(e: ChatError) -> Refusal {
        Refusal::Chat(e)
    }
}

impl From<AccountError> for Refusal {
    fn from(e: AccountError) -> Refusal {
        Refusal::Account(e)
    }
}

impl From<ThrottleError> for Refusal {
    fn from(e: ThrottleError) -> Refusal {
        Refusal::Throttled(e)
    }
}

impl From<ParseError> for Refusal {
    fn from(e: ParseError) -> Refusal {
        Refusal::Parse(e)
    }
}

/// Handles one line from an online client: the rate limit, the checks,
/// then the command. The terminal read loop and the web page's
/// `/api/send` both come here, so a browser obeys every rule a terminal
/// does.
pub(crate) fn handle_line(
    read: LineRead,
    session: &mut Session,
    limiter: &mut RateLimiter,
    ctx: &Context,
) -> Outcome {
    if matches!(&read, LineRead::Line(line) if line.trim().is_empty()) {
        return Outcome::Continue;
    }
    let result = match limiter.check(Instant::now()) {
        Verdict::Allow => run_line(read, session, ctx),
        Verdict::DropAndWarn => Err(Refusal::SlowDown),
        Verdict::Drop => return Outcome::Continue,
    };
    match result {
        Ok(outcome) => outcome,
        Err(Refusal::Chat(ChatError::Gone)) => Outcome::Gone,
        Err(refusal) => refuse(ctx, session, &refusal),
    }
}

/// Parses an allowed line and carries it out.
fn run_line(read: LineRead, session: &mut Session, ctx: &Context) -> Result<Outcome, Refusal> {
    match parse_line(read, ctx)? {
        Some(command) => execute(command, session, ctx),
        None => Ok(Outcome::Gone),
    }
}

/// The command on a line, None at the end of the input.
fn parse_line(read: LineRead, ctx: &Context) -> Result<Option<Command>, Refusal> {
    let line = match read {
        LineRead::Line(line) => line,
        LineRead::TooLong => return Err(Refusal::TooLong(ctx.config.max_line_bytes)),
        LineRead::NotUtf8 => return Err(Refusal::NotUtf8),
        LineRead::Torn | LineRead::Eof => return Ok(None),
    };
    Ok(Some(Command::parse(&protocol::sanitize(&line))?))
}

/// A conversation on the web page, where a line was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conversation {
    /// A room's view (`#dev`).
    Room(String),
    /// A direct-message thread with someone (`@bob`).
    Person(String),
}

/// Handles one line typed in a conversation of the web page (its
/// `/api/send`): the rules of [`handle_line`], with two differences. What
/// is typed goes where it was typed ([`execute_in`]). And a refusal is
/// returned, for the HTTP answer to carry, rather than sent on the event
/// stream; so every line over the rate limit is refused with `slow down`,
/// since each request gets an answer of its own (a terminal hears it once
/// a second, so that a flood is not answered by a flood).
pub(crate) fn handle_line_in(
    read: LineRead,
    at: Option<&Conversation>,
    session: &mut Session,
    limiter: &mut RateLimiter,
    ctx: &Context,
) -> Result<Outcome, Refusal> {
    if matches!(&read, LineRead::Line(line) if line.trim().is_empty()) {
        return Ok(Outcome::Continue);
    }
    if limiter.check(Instant::now()) != Verdict::Allow {
        return Err(Refusal::SlowDown);
    }
    let Some(command) = parse_line(read, ctx)? else {
        return Ok(Outcome::Gone);
    };
    match at {
        Some(at) => execute_in(command, at, session, ctx),
        None => execute(command, session, ctx),
    }
}

/// Carries out a command typed in `at`: text and `/me` go there (a room
/// the user is in, or a person), and a command that would act on the
/// current room acts on the room shown ([`aim`]). Everything else is
/// [`execute`]'s.
fn execute_in(
    command: Command,
    at: &Conversation,
    session: &mut Session,
    ctx: &Context,
) -> Result<Outcome, Refusal> {
    let registry = ctx.registry;
    match (command, at) {
        (Command::Say(text), Conversation::Room(room)) => {
            registry.say(session, Some(room), &text, Style::Plain)?;
        }
        (Command::Me(text), Conversation::Room(room)) => {
            registry.say(session, Some(room), &text, Style::Action)?;
        }
        (Command::Say(text), Conversation::Person(to)) => {
            registry.direct(session, to, &text, Style::Plain)?;
        }
        (Command::Me(text), Conversation::Person(to)) => {
            registry.direct(session, to, &text, Style::Action)?;
        }
        (command, at) => return execute(aim(command, at), session, ctx),
    }
    Ok(Outcome::Continue)
}

/// A command that names no room means the room shown: `/leave`, `/topic`,
/// `/history` and a room operator's `/kick`, `/op`, `/ban`... typed in
/// #dev's view are about #dev, whatever room the server thinks is current
/// (a terminal's idea the page does not use).
fn aim(command: Command, at: &Conversation) -> Command {
    let Conversation::Room(shown) = at else {
        return command;
    };
    let shown = Some(shown.clone());
    match command {
        Command::Leave(None) => Command::Leave(shown),
        Command::Topic { room: None, text } => Command::Topic { room: shown, text },
        Command::History { room: None, count } => Command::History { room: shown, count },
        Command::Moderate { room: None, action } => Command::Moderate {
            room: shown,
            action,
        },
        command => command,
    }
}

/// Tells the client why its line was refused.
pub(crate) fn refuse(ctx: &Context, session: &Session, refusal: &Refusal) -> Outcome {
    match ctx
        .registry
        .reply(session, &Event::Error(refusal.to_string()))
    {
        Ok(()) => Outcome::Continue,
        Err(_) => Outcome::Gone,
    }
}

/// Carries out one command. The registry and the accounts do the work;
/// this only routes, and logs what the operator will want to know.
pub(crate) fn execute(
    command: Command,
    session: &mut Session,
    ctx: &Context,
) -> Result<Outcome, Refusal> {
    let registry = ctx.registry;
    if uses_own_name(&command) {
        // The operator may have renamed this session since it last spoke.
        registry.refresh(session)?;
    }
    match command {
        Command::Empty => {}
        Command::Say(text) => registry.say(session, None, &text, Style::Plain)?,
        Command::SayIn { room, text } => registry.say(session, Some(&room), &text, Style::Plain)?,
        Command::Me(text) => registry.say(session, None, &text, Style::Action)?,
        Command::Direct { to, text } => {
            registry.direct(session, &to, &text, Style::Plain)?;
        }
        Command::Topic { room, text } => {
            registry.topic(session, room.as_deref(), text.as_deref())?;
        }
        Command::Join(room) => {
            registry.join(session, &room)?;
            log!("{} joined #{room}", session.name());
        }
        Command::Leave(room) => {
            let room = registry.leave(session, room.as_deref(), None)?;
            log!("{} left #{room}", session.name());
        }
        Command::Nick(new) => rename(session, &new, ctx)?,
        Command::Rooms => registry.reply(session, &registry.rooms())?,
        Command::Users(room) => registry.reply(session, &registry.users(room.as_deref())?)?,
        Command::Help => registry.reply(session, &Event::Help)?,
        Command::History { room, count } => {
            let replay = registry.history(session, room.as_deref(), count)?;
            registry.reply(session, &replay)?;
        }
        Command::Register(password) => register(session, &password, ctx)?,
        Command::Ignore(Some(name)) => {
            registry.reply(session, &registry.ignore(session, &name)?)?;
            keep_ignoring(session, ctx)?;
        }
        Command::Ignore(None) => registry.reply(session, &registry.ignored(session)?)?,
        Command::Unignore(name) => {
            registry.reply(session, &registry.unignore(session, &name)?)?;
            keep_ignoring(session, ctx)?;
        }
        Command::Moderate { room, action } => {
            registry.moderate(session, room.as_deref(), &action)?
        }
        Command::Password { old, new } => change_password(session, &old, &new, ctx)?,
        Command::Unregister(password) => unregister(session, &password, ctx)?,
        Command::Quit => {
            registry.reply(session, &Event::Bye(session.name().to_string()))?;
            return Ok(Outcome::Quit);
        }
    }
    Ok(Outcome::Continue)
}

/// Runs a check of this session's own password through the throttle
/// (see [`throttle`](crate::throttle)): a wrong password counts as a
/// failure; any other outcome gives the failure counted in advance back.
fn throttled(
    ctx: &Context,
    session: &Session,
    check: impl FnOnce() -> Result<(), AccountError>,
) -> Result<(), Refusal> {
    let attempt = ctx.throttle.begin(session.ip(), session.name())?;
    match check() {
        Err(AccountError::WrongPassword) => Err(Refusal::Account(AccountError::WrongPassword)),
        result => {
            attempt.succeeded();
            Ok(result?)
        }
    }
}

/// Whether a command uses the session's name outside the registry (the
/// accounts, the goodbye), and needs it up to date.
fn uses_own_name(command: &Command) -> bool {
    matches!(
        command,
        Command::Nick(_)
            | Command::Topic { .. }
            | Command::Register(_)
            | Command::Password { .. }
            | Command::Unregister(_)
            | Command::Quit
    )
}

/// `/password old new`, through the password throttle.
fn change_password(session: &Session, old: &str, new: &str, ctx: &Context) -> Result<(), Refusal> {
    throttled(ctx, session, || {
        ctx.accounts.change_password(session.name(), old, new)
    })?;
    log!("{} changed their password", session.name());
    notice(ctx, session, "password changed".to_string())?;
    Ok(())
}

/// `/unregister password`, through the password throttle.
fn unregister(session: &mut Session, password: &str, ctx: &Context) -> Result<(), Refusal> {
    throttled(ctx, session, || {
        ctx.accounts.unregister(session.name(), password)
    })?;
    session.set_owns_account(false);
    log!("{} unregistered", session.name());
    let text = format!("{} is no longer registered", session.name());
    notice(ctx, session, text)?;
    Ok(())
}

/// `* text` to this session.
fn notice(ctx: &Context, session: &Session, text: String) -> Result<(), ChatError> {
    ctx.registry.reply(session, &Event::Notice(text))
}

/// `/nick`: a new name, and the account with it if this session logged
/// into one. The account is renamed first: if that fails, nothing changed
/// and nobody was told anything.
fn rename(session: &mut Session, new: &str, ctx: &Context) -> Result<(), Refusal> {
    let accounts = ctx.accounts;
    let old = session.name().to_string();
    // Checked before the rename, not under the registry lock: a ban made
    // in the moment between is the operator's next `/kick`.
    if ctx.bans.check_name(new).is_err() {
        return Err(Refusal::NameBanned(new.to_string()));
    }
    if session.owns_account() && !accounts.is_registered(&old) {
        session.set_owns_account(false); // the operator removed the account
    }
    if !session.owns_account() {
        // Someone else's registered name is theirs; checked under the
        // registry lock, like the name being free.
        ctx.registry
            .rename(session, new, |new| !accounts.is_registered(new))?;
        log!("{old} is now known as {new}");
        return Ok(());
    }
    protocol::validate_name(new).map_err(ChatError::from)?;
    if protocol::name_key(new) != protocol::name_key(&old) {
        accounts.rename(&old, new)?;
    }
    if let Err(e) = ctx.registry.rename(session, new, |_| true) {
        // Taken by someone online meanwhile: the account goes back.
        if let Err(undo) = accounts.rename(new, &old) {
            log!("cannot rename the account {new} back to {old}: {undo}");
        }
        return Err(e.into());
    }
    if protocol::name_key(new) == protocol::name_key(&old) {
        accounts.rename(&old, new)?; // a change of case only
    }
    log!("{old} is now known as {new} (and so is the account)");
    Ok(())
}

/// Keeps a registered user's ignore list with their account, so it is
/// theirs again at the next login (a guest's lasts for the session). The
/// list is copied out of the registry, then written with no registry lock
/// held. It is kept as it is now: if someone ignored renames, the list
/// follows them while its owner is online, and the kept one catches up at
/// the owner's next `/ignore` or `/unignore`.
fn keep_ignoring(session: &mut Session, ctx: &Context) -> Result<(), Refusal> {
    if !session.owns_account() {
        return Ok(());
    }
    // The operator may have renamed this session (and its account), or
    // removed the account: then the list lasts for the session.
    ctx.registry.refresh(session)?;
    if !ctx.accounts.is_registered(session.name()) {
        session.set_owns_account(false);
        return Ok(());
    }
    let names = ctx.registry.ignoring(session)?;
    ctx.accounts.set_ignoring(session.name(), names)?;
    Ok(())
}

/// `/register`: protect the current name with a password.
fn register(session: &mut Session, password: &str, ctx: &Context) -> Result<(), Refusal> {
    if !ctx.config.open_registration {
        return Err(Refusal::Chat(ChatError::RegistrationClosed));
    }
    ctx.accounts.register(session.name(), password)?;
    session.set_owns_account(true);
    log!("{} registered", session.name());
    notice(
        ctx,
        session,
        format!("{} is now registered", session.name()),
    )?;
    // Whom the guest ignored is now the account's to keep.
    keep_ignoring(session, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Moderation;

    fn room(name: &str) -> Conversation {
        Conversation::Room(name.to_string())
    }

    #[test]
    fn a_roomless_command_typed_in_a_room_means_that_room() {
        let dev = Some("dev".to_string());
        assert_eq!(
            aim(Command::Leave(None), &room("dev")),
            Command::Leave(dev.clone())
        );
        let topic = Command::Topic {
            room: None,
            text: Some("ship".into()),
        };
        assert_eq!(
            aim(topic, &room("dev")),
            Command::Topic {
                room: dev.clone(),
                text: Some("ship".into())
            }
        );
        let history = Command::History {
            room: None,
            count: 5,
        };
        assert_eq!(
            aim(history, &room("dev")),
            Command::History {
                room: dev,
                count: 5
            }
        );
    }

    #[test]
    fn a_command_that_names_its_target_keeps_it() {
        let other = Command::Leave(Some("ops".into()));
        assert_eq!(aim(other.clone(), &room("dev")), other);
        // `/users` is who is online, in any view; a person's thread has
        // no room to aim at.
        assert_eq!(
            aim(Command::Users(None), &room("dev")),
            Command::Users(None)
        );
        let bob = Conversation::Person("bob".into());
        assert_eq!(aim(Command::Leave(None), &bob), Command::Leave(None));
    }

    #[test]
    fn a_room_operators_command_means_the_room_shown() {
        let kick = |room: Option<&str>| Command::Moderate {
            room: room.map(str::to_string),
            action: Box::new(Moderation::Kick {
                name: "bob".into(),
                reason: None,
            }),
        };
        assert_eq!(aim(kick(None), &room("dev")), kick(Some("dev")));
        assert_eq!(aim(kick(Some("ops")), &room("dev")), kick(Some("ops")));
    }
}
