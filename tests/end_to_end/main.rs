//! lanchat from the outside. Every test here starts the real `server`
//! binary (or runs the `client`), talks to it over loopback sockets, and
//! checks one promise, named in the test's name (docs/PROTOCOL.md lists
//! the promises).
//!
//! The tests come in four parts, and share one set of helpers:
//!
//! - `protocol`: what a terminal client sees: the handshake, chatting,
//!   framing, the history, accounts, the limits, the operator's console,
//!   the command lines of the two binaries, and a short run of the load
//!   generator.
//! - `web`: the web page, spoken to in plain HTTP, then in a real browser.
//! - `irc`: the IRC listener, spoken to by small IRC clients written here,
//!   chatting with terminal and web users on the same server.
//! - `hardening`: the server under attack and under load: floods, fuzz,
//!   connection storms, slowloris, clients that stop reading, running out
//!   of file descriptors, `kill -9`. They take turns, one at a time.
//! - `support`: the helpers: a server of its own for each test, in a
//!   temporary directory, and a client that reads what the server sends
//!   line by line, with a timeout on every wait.
//!
//! Why one crate: each file directly under `tests/` is a crate of its own,
//! compiled and linked on its own, and a helper module that several such
//! crates include is dead code in each one that uses only part of it. One
//! crate is linked once, and the compiler checks that every helper is used.
//!
//! Run one part, one file or one test by its path, as in
//! `cargo test --test end_to_end protocol::chat::`. The two long tests,
//! the minute-long soak and the protocol fuzz, are `#[ignore]`d so that a
//! plain `cargo test` stays quick; `cargo test -- --ignored` runs them (CI
//! does, see `.ci/run`).

mod hardening;
mod irc;
mod protocol;
mod support;
mod web;
