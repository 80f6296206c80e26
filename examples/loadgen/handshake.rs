//! Joining the chat: connect, read the welcome line, send a name, read up to
//! the hello line. Every terminal client of the run comes through here: the
//! measured crowd (or only its senders, with `--receivers irc` or `sse`) and
//! the stalled clients. The other ways in (`irc`, `sse`) open their sockets
//! and make their clients with the same two helpers, `open` and
//! `registered`.
//!
//! The handshake reads through the client's `Inbox`, which the client's
//! reader then keeps: whatever arrived together with the hello line (the
//! start of the history replay, a join notice) is still in its buffer.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::inbox::{Inbox, Replay};
use super::net::{connect_with_retry, send_all};
use super::options::{Options, ReaderKind};
use super::shared::{Client, Shared};
use super::tally::Tally;

/// Time allowed for connecting plus the handshake, per client. Matches the
/// server's `handshake_timeout_secs` in `bench.toml`.
pub(crate) const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);
/// Every blocking read wakes at least this often, so no thread can hang.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// A write that makes no progress for this long fails.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects one client and registers it as `name`: reads the welcome line,
/// sends the name, reads up to the hello line. The history replay that may
/// follow is skipped later by the reader (see [`Replay`]).
pub(crate) fn join_chat(
    options: &Options,
    name: &str,
    buffer: usize,
    shared: &Shared,
) -> Result<(Client, Inbox), String> {
    let deadline = Instant::now() + HANDSHAKE_LIMIT;
    let stream = open(options.addr, name)?;
    let mut inbox = Inbox::new(buffer);
    welcome(&mut inbox, &stream, name, deadline)?;
    send_all(&stream, format!("{name}\n").as_bytes(), deadline)
        .map_err(|e| format!("{name}: cannot send the name: {e}"))?;
    hello(&mut inbox, &stream, name, deadline)?;
    inbox.replay = Replay::Maybe;
    Ok((registered(options, name, stream, shared)?, inbox))
}

/// The client of a connection whose handshake is done, whatever its way in;
/// in sweep mode its socket becomes non-blocking.
pub(crate) fn registered(
    options: &Options,
    name: &str,
    stream: TcpStream,
    shared: &Shared,
) -> Result<Client, String> {
    if options.readers == ReaderKind::Sweep {
        stream
            .set_nonblocking(true)
            .map_err(|e| format!("{name}: cannot make the socket non-blocking: {e}"))?;
    }
    Ok(Client {
        name: name.to_string(),
        stream,
        tally: Mutex::new(Tally::new(0, shared.senders)),
    })
}

/// Connects to one of the server's listeners (the chat's, or the IRC or web
/// one) and sets the socket up for the run.
pub(crate) fn open(addr: SocketAddr, name: &str) -> Result<TcpStream, String> {
    let stream = connect_with_retry(addr).map_err(|e| {
        let hint = if e.kind() == ErrorKind::ConnectionRefused {
            " (is the server running?)"
        } else {
            ""
        };
        format!("{name}: cannot connect to {addr}: {e}{hint}")
    })?;
    let setup = |s: &TcpStream| {
        // Without TCP_NODELAY a small line may wait for the previous one's
        // ACK (Nagle's algorithm): up to 40 ms of latency that is not the
        // server's.
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(READ_TIMEOUT))?;
        s.set_write_timeout(Some(WRITE_TIMEOUT))
    };
    setup(&stream).map_err(|e| format!("{name}: cannot set up the socket: {e}"))?;
    Ok(stream)
}

/// Reads the server's first line, which must be its welcome: a server that
/// is full or limits connections per address says so instead.
fn welcome(
    inbox: &mut Inbox,
    stream: &TcpStream,
    name: &str,
    deadline: Instant,
) -> Result<(), String> {
    let welcome = inbox
        .handshake_line(stream, deadline)
        .map_err(|e| format!("{name}: waiting for the welcome line: {e}"))?;
    if welcome.starts_with("* Welcome") {
        return Ok(());
    }
    let hint = if welcome.starts_with("! server full") {
        " (raise max_clients in the server's config)"
    } else if welcome.starts_with("! too many connections") {
        " (set max_clients_per_ip = 0 in the server's config, as examples/bench.toml does)"
    } else {
        ""
    };
    Err(format!(
        "{name}: expected the welcome line, got {welcome:?}{hint}"
    ))
}

/// Reads up to the hello line that says the name was taken.
fn hello(
    inbox: &mut Inbox,
    stream: &TcpStream,
    name: &str,
    deadline: Instant,
) -> Result<(), String> {
    loop {
        let line = inbox
            .handshake_line(stream, deadline)
            .map_err(|e| format!("{name}: waiting for the hello line: {e}"))?;
        if line.starts_with("* Hello ") {
            return Ok(());
        }
        if line.starts_with("! ") {
            return Err(format!("{name}: the server refused the name: {line}"));
        }
    }
}
