//! What a terminal client sees, one file per part of docs/PROTOCOL.md, in
//! the order a client meets them.

mod accounts;
mod chat;
mod cli;
mod console;
mod framing;
mod handshake;
mod history;
mod limits;
mod limits_per_ip;
mod loadgen_smoke;
