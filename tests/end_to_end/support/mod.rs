//! The helpers every part of the tests shares, one role a module:
//!
//! - `server`: [`TestServer`] starts the real `server` binary in a
//!   [`TempDir`] of its own, and kills it when dropped.
//! - `client`: [`Client`], one connection to it, read line by line by a
//!   thread of its own, with a timeout on every wait.
//! - `process`: the server's threads, descriptors, memory and CPU time,
//!   from `/proc`, to tell a leak from a client that just left.
//! - `rng`: a small seeded random generator, for runs that pick their
//!   actions at random and can be replayed.

use std::time::Duration;

mod client;
mod process;
mod rng;
mod server;

pub use client::{login_and_stall, users_becomes, Client, Event};
pub use process::{cpu_ticks, fds, rss_kb, settle, steady_usage, Usage, TICKS_PER_SEC};
pub use rng::{seed_from_env, Rng};
pub use server::{panics, wire_form, TempDir, TestServer};

/// How long a test waits for any one line before it fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
