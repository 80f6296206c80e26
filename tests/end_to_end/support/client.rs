//! Clients of the test server.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use super::READ_TIMEOUT;

/// Logs in as `name` on a plain socket and returns it, for a test about a
/// client that stops reading: the caller never reads from it again, so
/// whatever the server sends it piles up in the socket's buffers.
pub fn login_and_stall(addr: SocketAddr, name: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect a stalled client");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).expect("welcome");
    (&stream).write_all(format!("{name}\n").as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).expect("hello");
    assert!(line.starts_with(&format!("* Hello {name}!")), "{line:?}");
    stream
}
