//! A write that never waits long: send what the socket takes now, keep the
//! rest for later.
//!
//! A `write` to a TCP socket blocks while the socket's send buffer is full,
//! which is what happens when the peer stops reading. A thread that writes
//! to many clients in turn (a writer of [`outbox`](crate::outbox)) must not
//! wait on one of them: the others would wait too. std has no `poll`, and
//! the client's own thread is blocked reading the same descriptor, so the
//! socket cannot simply be made non-blocking. Instead the socket gets a
//! very short write timeout (a few milliseconds), and [`write_within`]
//! reports how much was taken. The caller keeps the rest and comes back
//! later.
//!
//! The timeout bounds each system call, and a `write` that moves any byte
//! at all succeeds: a peer reading a trickle could keep a loop of writes
//! going for ever. So the whole call gets one budget, the socket's write
//! timeout, counted from the start.

use std::io::{self, ErrorKind, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Writes as much of `bytes` as the socket takes within its write timeout
/// (once in total, not per system call). Returns how many bytes were sent,
/// and an error only if the connection failed: a full socket is not an
/// error, just a short count.
pub(crate) fn write_within(stream: &TcpStream, bytes: &[u8]) -> (usize, io::Result<()>) {
    let budget = stream.write_timeout().ok().flatten();
    let start = Instant::now();
    let mut written = 0;
    while written < bytes.len() {
        match (&*stream).write(&bytes[written..]) {
            Ok(0) => return (written, Err(io::Error::from(ErrorKind::WriteZero))),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // The timeout passed with nothing taken: the socket is full.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => return (written, Err(e)),
        }
        if budget.is_some_and(|budget| start.elapsed() >= budget) {
            break;
        }
    }
    (written, Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_pair;
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_reader_that_takes_nothing_costs_one_short_wait() {
        let (server, _client) = test_pair();
        server
            .set_write_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let bytes = vec![b'x'; 64 * 1024 * 1024];
        // The first calls fill the kernel's buffers (which the kernel may
        // grow while it is not busy, so one call is not always enough);
        // then a call finds them full.
        let mut first = 0;
        for _ in 0..20 {
            let (sent, result) = write_within(&server, &bytes[first..]);
            assert!(result.is_ok());
            first += sent;
            if sent == 0 {
                break;
            }
        }
        assert!(first < bytes.len());
        let start = Instant::now();
        let (second, result) = write_within(&server, &bytes[first..]);
        assert!(result.is_ok(), "a full socket is not an error");
        assert_eq!(second, 0);
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_trickling_reader_cannot_stretch_one_call() {
        let (server, mut client) = test_pair();
        server
            .set_write_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        // The reader takes 4 KB every millisecond or so: each write moves
        // some bytes well within 20 ms, so only a budget for the whole call
        // can stop the loop.
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let reader = std::thread::spawn(move || {
            let mut chunk = vec![0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                if client.read(&mut chunk).unwrap_or(0) == 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let bytes = vec![b'x'; 64 * 1024 * 1024];
        let start = Instant::now();
        let (written, result) = write_within(&server, &bytes);
        assert!(result.is_ok());
        assert!(written < bytes.len());
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "took {:?}",
            start.elapsed()
        );
        done.store(true, Ordering::SeqCst);
        drop(server);
        let _ = reader.join();
    }
}
