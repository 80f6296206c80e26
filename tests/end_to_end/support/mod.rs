//! The helpers every part of the tests shares.

mod client;
mod hardening;
mod server;

pub use client::login_and_stall;
pub use hardening::{
    cpu_ticks, fds, panics, rss_kb, seed_from_env, settle, steady_usage, users_becomes, wire_form,
    Event, Peer, Rng, Usage, TICKS_PER_SEC,
};
pub use server::{TempDir, TestClient, TestServer, READ_TIMEOUT};
