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
//! - `web`: a browser without a browser: the web page's requests and its
//!   event stream, over plain HTTP.
//!
//! And here, the small things that tests of several parts share:
//! [`READ_TIMEOUT`], [`alice_and_bob`], [`free_port`].

use std::net::TcpListener;
use std::time::Duration;

mod client;
mod process;
mod rng;
mod server;
pub mod web;

pub use client::{login_and_stall, users_becomes, Client, Event};
pub use process::{cpu_ticks, fds, rss_kb, settle, steady_usage, Usage, TICKS_PER_SEC};
pub use rng::{seed_from_env, Rng};
pub use server::{lines_of, panics, wire_form, TempDir, TestServer};

/// How long a test waits for any one line before it fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Logs in alice, then bob, and reads the join notice alice gets for bob:
/// two clients in #general, with nothing left to read.
pub fn alice_and_bob(server: &TestServer) -> (Client, Client) {
    let alice = server.login("alice");
    let bob = server.login("bob");
    alice.expect("* bob joined #general");
    (alice, bob)
}

/// A loopback port that nothing listens on: bind port 0, read what the
/// system chose, let it go. Another program could take it in the meantime;
/// on a test machine that is rare enough, and the test would fail, not
/// hang.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}
