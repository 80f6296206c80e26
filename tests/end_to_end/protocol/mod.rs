//! What a terminal client sees, a file for each part of docs/PROTOCOL.md,
//! and the two binaries from the outside. In the order a client meets
//! them:
//!
//! - `handshake`: the welcome line, the rules for names, the hello, the
//!   handshake deadline, the `max_clients` cap.
//! - `chat`: plain text, `#room` and `@name` messages, every command.
//! - `framing`: lines rebuilt from bytes however they arrive, capped,
//!   checked for UTF-8 and cleaned of control characters.
//! - `history`: the chat log, replayed on login and on `/join`.
//! - `ignore`: `/ignore` and `/unignore`.
//! - `accounts`: registered names and their passwords.
//! - `bans`: the operator's server-wide bans of names and addresses.
//! - `limits` and `limits_per_ip`: the rate limit, the write timeout, and
//!   the connections one address may hold; `room_limits`: the caps on
//!   rooms and on the lists that name them.
//! - `console`: the operator's commands on the server's standard input;
//!   `operator`: the operator taking part (the chat shown on the console,
//!   the welcome message, closing the server, `/status`, accounts,
//!   `/history`, signing up at the door).
//! - `cli`: the flags, exit codes and error messages of both binaries;
//!   `client_prompts`: the client binary answering password prompts,
//!   against a scripted server.
//! - `loadgen_smoke`: the load generator (`examples/loadgen/`) still
//!   runs, and loses nothing.

mod accounts;
mod bans;
mod chat;
mod cli;
mod client_prompts;
mod console;
mod framing;
mod handshake;
mod history;
mod ignore;
mod limits;
mod limits_per_ip;
mod loadgen_smoke;
mod moderation;
mod operator;
mod room_limits;
