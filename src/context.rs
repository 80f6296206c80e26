//! What every connection's thread may use of the server's shared state.
//!
//! The accept loops create one `Shared` value behind an `Arc` (see
//! [`server`](crate::server)); each connection's thread borrows the parts
//! it needs as a [`Context`]. It lives in a module of its own, below
//! `login`, `commands`, `handler` and `web`, so all of them can take it
//! without importing each other.

use crate::accounts::Accounts;
use crate::admission::{Admission, Signups};
use crate::bans::Bans;
use crate::config::ServerConfig;
use crate::registry::Registry;
use crate::throttle::Throttle;

/// The shared state, as one connection's thread sees it.
pub(crate) struct Context<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) accounts: &'a Accounts,
    pub(crate) bans: &'a Bans,
    pub(crate) config: &'a ServerConfig,
    pub(crate) admission: &'a Admission,
    pub(crate) throttle: &'a Throttle,
    pub(crate) signups: &'a Signups,
}
