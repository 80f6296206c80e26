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
//! and `/join`, `/leave`, `/rooms`, `/users`, `/nick`, `/me`, `/history`,
//! `/topic`, `/help`, `/quit` do what they say (`@server text` reaches the
//! operator, who takes part from the server's console). Every line the
//! server sends starts with `* ` (notice), `! ` (error), `[#room]`, `[DM]` or
//! `[server]`. A browser sends the same lines over HTTP and gets each event
//! as a JSON object on a Server-Sent Events stream ([`web`], [`json`]), and
//! IRC clients join the same rooms on a listener of their own ([`irc`],
//! `docs/IRC.md`).
//!
//! ## The picture
//!
//! ```text
//!  terminal listener ─ accept loop ──spawns──▶ client thread (handler) ─┐
//!  web listener ───── accept loop ──spawns──▶ HTTP thread (web)  ───────┤
//!  IRC listener ───── accept loop ──spawns──▶ IRC thread (irc_handler) ──┤
//!  console thread (server's stdin) ──────────────────────────────────────┤
//!    (the registry shows the chat to the operator through the feed ─▶ console output thread ─▶ stdout)
//!                                                                        ▼
//!            login ─▶ commands ─▶ Registry (Mutex): who is online, rooms
//!                                   │ logs each room message first
//!                                   ├──────────────▶ History (Mutex): the chat log
//!                                   │ renders each event once per frontend kind
//!                                   ▼
//!                        one Outbox per client (Mutex): bytes to send
//!                                   │
//!                                   ▼
//!                   writer threads (4): write outboxes to sockets
//! ```
//!
//! What happens in the chat is an [`event::Event`]; the registry hands it to
//! each recipient's [`frontend::Frontend`], which renders it in that
//! connection's wire format, once per kind of frontend per event.
//!
//! ## Threads, sockets, locks
//!
//! | thread | how many | owns (socket or half) | blocks in |
//! |---|---|---|---|
//! | main: terminal accept loop ([`server`]) | 1 | the terminal listener | `accept` |
//! | `web accept` ([`server`]) | 1 | the web listener | `accept` |
//! | `irc accept` ([`server`]) | 1 | the IRC listener | `accept` |
//! | `client ADDR` ([`handler`]) | one per terminal client | the read half of its socket | `read` |
//! | `irc ADDR` ([`irc_handler`]) | one per IRC client | the read half of its socket | `read` (with a read timeout: the keep-alive `PING`), or a fakelag `sleep` |
//! | `web ADDR` ([`web`]) | one per HTTP request | its socket: reads the request, writes the answer directly; an event stream's socket is read here and written by the writers | `read` |
//! | `writer N` ([`outbox`]) | 4 | the write half of every terminal, IRC and event-stream socket, one outbox at a time | one `write` attempt of at most 2 ms (a full socket waits its turn again later), or waiting for work |
//! | `console` ([`console`]) | 1 | the server's stdin | reading stdin |
//! | `console output` ([`feed`]) | 1 | the server's stdout: console replies and the chat shown to the operator | `write` to stdout, or waiting for lines |
//! | `web janitor` ([`server`]) | 1 | nothing: ends browser sessions that never opened their stream, or whose stream dropped and did not come back within the grace period | `sleep(1 s)` |
//! | `log` ([`log`](mod@log)) | 1 | the server's stderr: the activity log | `write` to stderr, or waiting for lines |
//!
//! | mutex | protects | held for |
//! |---|---|---|
//! | `Registry::state` ([`registry`]) | online clients by name, the rooms, the order lines are queued in | map updates, memory copies, one log append |
//! | `History::inner` ([`history`]) | the log file and the replay buffers | one append, or copying a replay |
//! | `Outbox::state` ([`outbox`], one per client) | its queued bytes, socket and flags (and a browser's copy of what it sent, for a resume) | copying bytes in or out, never a write |
//! | `Writers::queue` ([`outbox`]) | the ready queue of outboxes (with two condvars) | a push or a pop |
//! | `Feed::queue` ([`feed`], with a condvar) | the lines waiting for stdout | a push or a take, never a write |
//! | `Admission::table` ([`admission`]) | every open connection and browser session, per address | an insert, a removal, a copy |
//! | `Accounts::file` ([`accounts`]) | one change to the accounts at a time | a change, including its file write |
//! | `Accounts::map` ([`accounts`]) | the accounts in force (with their kept ignore lists) | a lookup, a copy, a swap |
//! | `Bans::file` ([`bans`]) | one change to the bans at a time | a change, including its file write |
//! | `Bans::table` ([`bans`]) | the bans in force | a lookup (at every accept and login), a copy, a swap |
//! | `HASHING` ([`accounts`], with a condvar) | how many password hashes run | a counter update |
//! | `Sessions::by_token` ([`web`]) | browser sessions by token | a lookup, an insert, a removal, a copy of the list |
//! | `Throttle::state` ([`throttle`]) | password failures per address and per account and address, the hashing queue's places | a few map updates, never a hash |
//! | `Signups::recent` ([`admission`]) | accounts created per address in the last hour | a lookup and an update |
//! | the log's queue ([`log`](mod@log), with two condvars) | the lines waiting for stderr | a push or a take, never a write |
//! | `WebSession::chat` ([`web`], one per browser) | its chat session, its rate limit and its page's budget | one line's command, or one list the page asks for |
//!
//! **The lock order.** A thread that holds two locks took them in this
//! order, and never the other way: `WebSession::chat` → `Registry::state`
//! → one of `Accounts::map` (a name check under the registry lock),
//! `History::inner` (the log append), an `Outbox::state` (queuing) or
//! `Feed::queue` (showing the chat to the operator); and
//! `Accounts::file` → `Accounts::map`; and `Bans::file` → `Bans::table`.
//! A browser's commands run under its own `WebSession::chat` (so its
//! requests take turns, as a terminal's lines do), and an account command
//! among them (`/password`, `/nick` of an account, `/ignore` of a
//! registered user, who keeps the list) takes `Throttle::state`, `HASHING`
//! and `Accounts::file` after it; `/nick` also looks at `Bans::table`. The
//! others are never held with another. No lock that delivery needs
//! (the registry, an outbox, the history) is held while reading a socket,
//! hashing a password or sleeping, and every lock is taken through
//! [`lock`](mod@lock), which recovers one that a panic poisoned.
//!
//! ## Modules, bottom-up
//!
//! Each module uses only modules above it in this list (`use crate::`
//! arrows point up), so there are no import circles.
//!
//! 1. Leaves and near-leaves: [`clock`], [`log`](mod@log) (uses `clock`),
//!    [`lock`](mod@lock) (uses `log`), [`rate`], [`crypto`], [`event`]
//!    (what happens, as values), [`files`] (owner-only files).
//! 2. [`net`]: the socket techniques, each once (line framing, deadlines,
//!    the lingering close, writes with a deadline, accepting).
//! 3. [`rooms`] (room names, membership, topics, operators, bans and
//!    settings; uses `event`),
//!    [`protocol`] (the terminal protocol: parsing a line into a command,
//!    rendering events), [`irc`] (the IRC protocol: parsing, the
//!    registration state machine, rendering events; uses `event`,
//!    `protocol`, `rooms`) and [`json`] (the web page's events as JSON;
//!    uses `event`, `protocol`).
//! 4. [`config`] (uses `rooms`), [`cli`] (uses `config`).
//! 5. [`frontend`] (uses `event`, `protocol`, `irc`, `json`): one event,
//!    many wire formats.
//! 6. [`outbox`] (uses `lock`, `log`, `net`): sending without waiting;
//!    [`feed`] (uses `lock`): the console's stdout, never waited for.
//! 7. [`history`] (uses `event`, `files`, `lock`, `log`, `net`, `protocol`,
//!    `rooms`): the chat log.
//! 8. [`accounts`] (uses `crypto`, `files`, `protocol`): registered names;
//!    [`bans`] (uses `clock`, `files`, `lock`, `protocol`): the operator's
//!    bans of names and addresses;
//!    [`throttle`] (uses `lock`, `protocol`): one throttle for password
//!    guessing.
//! 9. [`registry`] (uses `event`, `feed`, `frontend`, `history`, `outbox`, `rooms`):
//!    the shared state and the lock; its part `registry::moderation` holds
//!    the room operators' commands, checked and carried out under it.
//! 10. [`admission`] (uses `bans`, `config`, `outbox`, `registry`): the
//!     connection table and its limits.
//! 11. [`context`] (uses `accounts`, `admission`, `bans`, `config`,
//!     `registry`).
//! 12. [`login`] and [`commands`] (use `context`): the rules, once for
//!     every frontend.
//! 13. [`handler`] (a terminal client's life), [`irc_handler`] (an IRC
//!     client's life) and [`web`] (the page, over HTTP and Server-Sent
//!     Events).
//! 14. [`server`] (bind, accept, spawn, shut down), then [`console`].
//!
//! The binaries in `src/bin/` only parse arguments and wire these together.

#![forbid(unsafe_code)]
// The tour above links to the private modules on purpose: this crate is
// read with `cargo doc --document-private-items`, and CI builds the docs that
// way with warnings denied, so a broken link still fails.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod accounts;
pub(crate) mod admission;
pub(crate) mod bans;
pub mod cli;
pub(crate) mod clock;
pub(crate) mod commands;
pub mod config;
pub mod console;
pub(crate) mod context;
pub mod crypto;
pub(crate) mod event;
pub(crate) mod feed;
pub(crate) mod files;
pub(crate) mod frontend;
pub(crate) mod handler;
pub(crate) mod history;
pub(crate) mod irc;
pub(crate) mod irc_handler;
pub(crate) mod json;
pub(crate) mod lock;
pub(crate) mod log;
pub(crate) mod login;
pub mod net;
pub(crate) mod outbox;
pub mod protocol;
pub(crate) mod rate;
pub(crate) mod registry;
pub(crate) mod rooms;
pub mod server;
pub(crate) mod throttle;
pub(crate) mod web;

// The errors a server's start can fail with, named in [`server::ServerError`].
pub use accounts::AccountsOpenError;
pub use bans::BansOpenError;
pub use history::HistoryError;
