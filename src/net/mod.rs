//! The socket techniques, each in one place: everything here is something
//! a TCP server must get right that has nothing to do with chat.
//!
//! Every listener of the server (the terminal protocol, the web page) uses
//! these pieces, and each is small enough to read on its own:
//!
//! - [`lines`]: TCP delivers bytes, not messages. Rebuild lines, and cap
//!   them, so a client that never sends `\n` cannot make us buffer forever.
//! - [`deadline`]: a read timeout restarts with every byte; a deadline
//!   does not. It stops a client that trickles its handshake ("slowloris").
//! - [`write`](mod@write): a write with a deadline for the whole write, not per system
//!   call, so a client that reads a trickle cannot hold a writer thread.
//! - [`linger`]: closing a socket with unread input sends a reset, which can
//!   destroy the goodbye we just sent; drain a moment first.
//! - [`accept`]: an accept loop that survives running out of file
//!   descriptors, and a way to wake a thread blocked in `accept`.
//!
//! Nothing here knows about names, rooms or HTTP.

pub(crate) mod accept;
pub(crate) mod deadline;
pub mod lines;
pub(crate) mod linger;
pub(crate) mod write;

pub use lines::{read_line_capped, LineRead};

/// A connected pair of loopback sockets for the unit tests here: the
/// server's end first, then the client's (with a read timeout).
#[cfg(test)]
pub(crate) fn test_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    (server, client)
}
