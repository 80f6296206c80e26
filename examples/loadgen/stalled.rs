//! Stalled clients: slow readers on purpose (`--stalled`).
//!
//! They connect and register like the others once the crowd is in, and then
//! never read another byte: no reader thread, no sweeping, the socket just
//! stays open until the run ends. The server keeps queueing the room's
//! traffic to them; once their queue is full it must cut them off and go on
//! serving everyone else at full speed. At the end each stalled socket is
//! read without blocking, to see whether the server has closed it.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::handshake::join_chat;
use super::net::is_timeout;
use super::options::Options;
use super::shared::Shared;

/// A stalled client's name (`--stalled`): this, then its index in three
/// digits or more. It starts like `NAME_PREFIX` but never counts as one of
/// the crowd: a crowd name has only digits after `lg`.
const STALLED_PREFIX: &str = "lgs";
/// At the end, checking whether the server closed the stalled sockets: stop
/// once a round of non-blocking reads finds no new bytes, pausing this long
/// between rounds, and give up (calling the rest open) after the limit.
const STALLED_CHECK_PAUSE: Duration = Duration::from_millis(50);
const STALLED_CHECK_LIMIT: Duration = Duration::from_secs(5);

/// The clients of `--stalled`: registered, then never read. Only their
/// sockets are kept; dropping this closes them.
pub(crate) struct Stalled {
    pub(crate) streams: Vec<TcpStream>,
}

impl Stalled {
    /// Connects and registers `--stalled` clients, one after the other (there
    /// are few). Whatever came after the hello line stays unread in the
    /// kernel's buffers, like everything that follows.
    pub(crate) fn connect(options: &Options, shared: &Shared) -> Result<Stalled, String> {
        if options.stalled > 0 {
            eprintln!(
                "loadgen: connecting {} stalled clients (they never read)",
                options.stalled
            );
        }
        let mut streams = Vec::with_capacity(options.stalled);
        for i in 0..options.stalled {
            let name = format!("{STALLED_PREFIX}{i:03}");
            // A small buffer: it holds only the handshake, then goes.
            let (client, _inbox) = join_chat(options, &name, 4096, shared)?;
            streams.push(client.stream);
        }
        Ok(Stalled { streams })
    }

    /// How many stalled sockets the server has closed: see [`count_closed`].
    pub(crate) fn count_closed(&self) -> usize {
        count_closed(&self.streams)
    }
}

/// How many of `streams` the server has closed, seen through
/// non-blocking reads. A closed socket still holds every byte the server
/// sent before closing, so each is read until it says "end of stream"
/// (`Ok(0)`: closed), fails (reset: closed too), or has nothing more
/// (`WouldBlock`: still open). Reading frees room in our receive window,
/// which lets the rest of the server's bytes (and its FIN) come in: so
/// the reads go round again after a short pause, until a round brings no
/// new bytes.
pub(crate) fn count_closed(streams: &[TcpStream]) -> usize {
    let mut closed = vec![false; streams.len()];
    let mut buf = vec![0; 64 * 1024];
    let give_up = Instant::now() + STALLED_CHECK_LIMIT;
    for (stream, closed) in streams.iter().zip(closed.iter_mut()) {
        if stream.set_nonblocking(true).is_err() {
            *closed = true;
        }
    }
    loop {
        let mut got_bytes = false;
        for (mut stream, closed) in streams.iter().zip(closed.iter_mut()) {
            while !*closed && Instant::now() < give_up {
                match stream.read(&mut buf) {
                    Ok(0) => *closed = true,
                    Ok(_) => got_bytes = true,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if is_timeout(&e) => break,
                    Err(_) => *closed = true,
                }
            }
        }
        if !got_bytes || Instant::now() >= give_up {
            break;
        }
        thread::sleep(STALLED_CHECK_PAUSE);
    }
    closed.iter().filter(|&&c| c).count()
}
