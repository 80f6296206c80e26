//! The lingering close: drain the peer's last bytes before closing, so the
//! goodbye we sent is not destroyed.
//!
//! Closing a socket that still has unread input makes the kernel send a
//! reset (RST) instead of a normal end of stream, and a reset can make the
//! peer's kernel throw away data we sent that the peer has not read yet:
//! a `* Bye alice!` line, an HTTP error answer to a request whose body we
//! refused to read. Reading and discarding for a short, bounded time lets
//! the peer's last bytes and its own end of stream arrive before we close.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long we keep reading (and discarding) after saying goodbye.
const LINGER: Duration = Duration::from_secs(1);

/// Reads and discards whatever the peer still sends, for at most a second
/// or until it closes. Call it after shutting down (or arranging to shut
/// down) the write side, just before the socket is dropped.
pub(crate) fn linger(stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(LINGER));
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 1024];
    while Instant::now() < until {
        match (&*stream).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Reads and discards what the peer has sent so far (at most 64 KB),
/// without waiting: for a refusal written by an accept loop, which cannot
/// spend a second on every connection it turns away. Bytes that are here
/// already no longer turn our close into a reset; bytes still on their way
/// may (lingering on a thread of its own would cost more than a refused
/// connection is worth).
pub(crate) fn drain_arrived(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut sink = [0u8; 1024];
    for _ in 0..64 {
        match (&*stream).read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break, // end of stream, nothing more yet, or an error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_pair;
    use std::io::Write;
    use std::net::Shutdown;

    #[test]
    fn an_answer_survives_unread_input_from_the_peer() {
        let (server, mut client) = test_pair();
        // The peer sent something we will never read...
        client.write_all(&[b'x'; 4096]).expect("write");
        // ...and we answer and close.
        (&server).write_all(b"goodbye\n").expect("answer");
        server.shutdown(Shutdown::Write).expect("shutdown");
        client.shutdown(Shutdown::Write).expect("peer done");
        linger(&server);
        drop(server);
        let mut answer = String::new();
        client.read_to_string(&mut answer).expect("read, not reset");
        assert_eq!(answer, "goodbye\n");
    }

    #[test]
    fn drain_arrived_reads_what_is_here_and_never_waits() {
        let (server, mut client) = test_pair();
        // Nothing sent: it returns at once instead of waiting for bytes.
        let start = Instant::now();
        drain_arrived(&server);
        assert!(start.elapsed() < Duration::from_millis(500));
        client.write_all(b"NICK carol\r\n").expect("write");
        // Let the bytes cross the loopback.
        std::thread::sleep(Duration::from_millis(50));
        drain_arrived(&server);
        // Nothing is left unread, so closing now sends no reset.
        let mut rest = [0u8; 16];
        let err = (&server).read(&mut rest).expect_err("nothing left");
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    }
}
