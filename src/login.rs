//! Logging in: the rules a name must pass before its owner joins the chat,
//! shared by the terminal handshake ([`handler`](crate::handler)) and the
//! web login ([`web`](crate::web)), so a browser and a terminal can never
//! disagree about who may be whom.
//!
//! Two steps, because a password may have to be asked for in between:
//! [`check`] says whether a name is free for a guest, belongs to an account
//! (then the caller verifies the password, slowly and holding no lock), or
//! is refused; [`enter`] then brings it online.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::bans::Banned;
use crate::context::Context;
use crate::frontend::Frontend;
use crate::outbox::Outbox;
use crate::protocol::{self, BadName};
use crate::registry::{ChatError, Claim, ConnId, Session};

/// Wrong passwords allowed before a terminal connection is closed, or
/// before an address must wait to try again on the web page.
pub(crate) const MAX_STRIKES: u32 = 3;

/// Whose a name is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    /// Nobody's: a guest may use it (if it is still free when entering).
    Guest(String),
    /// A registered account's, spelled as registered: the password is due.
    Account(String),
    /// Nobody's, on a server without guests but with open registration:
    /// its account may be created at the door.
    New(String),
}

/// Why a name cannot log in at all. `Display` is the text after `! `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginError {
    BadName(BadName),
    AccountsOnly,
    /// The operator banned the name (`/ban`): the connection is closed.
    Banned(Banned),
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::BadName(e) => e.fmt(f),
            LoginError::AccountsOnly => {
                write!(f, "this server requires an account; ask the operator")
            }
            LoginError::Banned(banned) => banned.fmt(f),
        }
    }
}

impl std::error::Error for LoginError {}

/// Checks a requested name against the name rules, the bans, the accounts
/// and who is online. Quick: no password is involved yet.
pub(crate) fn check(ctx: &Context, name: &str) -> Result<Name, LoginError> {
    protocol::validate_name(name).map_err(LoginError::BadName)?;
    // Before the accounts: a banned account's owner is refused before any
    // password is asked (and so before a hash is spent on it).
    ctx.bans.check_name(name).map_err(LoginError::Banned)?;
    match ctx.accounts.registered_name(name) {
        // Even when the account is online: its owner, with the password,
        // takes the name over from a connection that may be dead (a laptop
        // that slept). The throttle, not this check, limits guessing.
        Some(account) => Ok(Name::Account(account)),
        None if !ctx.config.guests_allowed && ctx.config.open_registration => {
            Ok(Name::New(name.to_string()))
        }
        None if !ctx.config.guests_allowed => Err(LoginError::AccountsOnly),
        None => Ok(Name::Guest(name.to_string())),
    }
}

/// Brings a checked name online (an account's only after its password was
/// verified). Events for the client are rendered by `frontend` and queued
/// in `outbox`.
// Inlined into each listener's login: one frame fewer on the way to the
// registry, on the path that decides how deep an idle client's stack is
// (see `handler::Connection::come_online`).
#[inline(always)]
pub(crate) fn enter(
    ctx: &Context,
    name: &Name,
    id: ConnId,
    addr: SocketAddr,
    connection: (Frontend, Arc<Outbox>),
) -> Result<Session, ChatError> {
    let (name, is_guest, claim) = match name {
        Name::Guest(name) => (name, true, Claim::IfFree),
        // An account's owner (the password was right) takes the name over
        // from an older session of it.
        Name::Account(name) => (name, false, Claim::TakeOver),
        // A new account has no older session of its own to take over: a
        // guest online under the name keeps it.
        Name::New(name) => (name, false, Claim::IfFree),
    };
    // A guest may not take a name that was registered in the moment since
    // `check`; the registry asks again under its lock.
    let still_free = |name: &str| !(is_guest && ctx.accounts.is_registered(name));
    // An account's owner finds their ignore list as they left it; a guest
    // starts with none.
    let ignoring = match is_guest {
        true => Vec::new(),
        false => ctx.accounts.ignoring(name),
    };
    let mut session =
        ctx.registry
            .enter(name, id, addr, connection, (claim, &ignoring), still_free)?;
    session.set_owns_account(!is_guest);
    Ok(session)
}
