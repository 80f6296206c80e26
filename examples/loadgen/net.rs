//! The socket calls every part of the generator makes, with their errors
//! sorted out: connecting when the listen backlog is full, writing a whole
//! buffer to a blocking or non-blocking socket, and telling a timeout from
//! a real failure.

use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Connection attempts per client when the error may pass (refused because
/// the backlog was full, no local port free for a moment).
const CONNECT_ATTEMPTS: u32 = 6;

/// `TcpStream::connect`, retried a few times with growing pauses when the
/// error may pass: a full listen backlog, or no free local port for a moment.
pub(crate) fn connect_with_retry(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut pause = Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => return Ok(stream),
            Err(e) if attempt < CONNECT_ATTEMPTS && is_transient(&e) => {
                thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::TimedOut
            | ErrorKind::WouldBlock
            | ErrorKind::Interrupted
            | ErrorKind::AddrNotAvailable
    )
}

/// A read or write that hit the socket's timeout (the error kind differs
/// between platforms), or a non-blocking socket with nothing to do.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Writes all of `bytes`, on a blocking socket (which waits up to its write
/// timeout at a time) or a non-blocking one (which says `WouldBlock` when
/// the kernel's send buffer is full: wait a little and try again), until
/// `deadline`.
pub(crate) fn send_all(
    mut stream: &TcpStream,
    mut bytes: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(
                        ErrorKind::TimedOut,
                        "the server stopped taking our lines",
                    ));
                }
                thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
