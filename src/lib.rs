//! # lanchat: a chat server and client in the classic threaded style
//!
//! A chat server for a LAN, written with the standard library only: one OS
//! thread per connection, a registry of clients behind a mutex, and plain
//! TCP sockets. It is meant to be used, and to be read by people learning
//! socket programming. Start with the protocol, then the threads, then read
//! the modules in the order listed below.
//!
//! ## The protocol in brief
//!
//! UTF-8 text, one message per line (see `docs/PROTOCOL.md` for all of it).
//! The server greets with `* Welcome to lanchat! Enter your name:`; the
//! client's first line is its name. After that, a plain line is said in the
//! current room, `#room text` in another room, `@name text` to one person,
//! and `/join`, `/leave`, `/rooms`, `/users`, `/nick`, `/me`, `/help`,
//! `/quit` do what they say. Every line the server sends starts with `* `
//! (notice), `! ` (error), `[#room]`, `[DM]` or `[server]`.
//!
//! ## The threads
//!
//! ```text
//!   main thread: accept loop ──spawns──▶ one thread per client (handler)
//!                                           │ reads its own socket
//!                                           ▼
//!   console thread ──────────────▶ Registry (Mutex): clients by name, rooms
//!   (server's stdin)                  │            │ queues each line
//!                                     ▼            ▼
//!                     History (Mutex)     one Outbox per client (Mutex)
//!                     the chat log                 │
//!                                                  ▼
//!                               writer threads (4): write outboxes to sockets
//! ```
//!
//! - The **accept loop** ([`server`]) blocks in `accept` and starts a thread
//!   for every connection.
//! - Each **client thread** ([`handler`]) owns the reading side of its
//!   socket: it blocks in `read`, frames lines ([`protocol`]), and turns each
//!   into a command.
//! - The **registry** ([`registry`]) is the shared state: who is online,
//!   which rooms exist ([`rooms`]). Every line to a registered client is
//!   queued under its lock, so lines keep one order for everyone.
//! - Each client's **outbox** ([`outbox`]) holds the bytes queued for it, up
//!   to a limit; a small pool of **writer threads** sends them, many lines
//!   per write under load. A client that stops reading only fills its own
//!   outbox, and is cut off when it is full.
//! - The **history** ([`history`]) appends every room message to a file
//!   before it is delivered, and keeps the last few of each room for replay.
//! - The **console thread** ([`console`]) reads operator commands from the
//!   server's standard input.
//! - The **web page** ([`web`]) has a listener and accept loop of its own;
//!   a browser's session is one more client in the registry.
//!
//! ## Reading order
//!
//! 1. [`protocol`]: framing, capping, parsing a line into a command.
//! 2. [`handler`]: one client's life.
//! 3. [`registry`] and [`rooms`]: the shared state and the lock.
//! 4. [`outbox`]: sending without waiting.
//! 5. [`history`]: the chat log.
//! 6. [`login`]: the rules of logging in, for terminals and browsers.
//! 7. [`server`] and [`console`]: accept, spawn, shut down.
//! 8. [`web`]: the page, over HTTP and Server-Sent Events.
//! 9. [`config`] and [`cli`]: settings from `config.toml` and flags.
//! 10. [`accounts`] and [`crypto`]: registered names and their passwords.
//! 11. [`rate`], [`clock`], [`log`](mod@log): small helpers.
//!
//! The binaries in `src/bin/` only parse arguments and wire these together.

pub mod accounts;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod handler;
pub mod history;
pub mod log;
pub mod login;
pub mod outbox;
pub mod protocol;
pub mod rate;
pub mod registry;
pub mod rooms;
pub mod server;
pub mod web;
