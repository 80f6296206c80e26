//! A read deadline, not just a read timeout: the defence against a client
//! that trickles ("slowloris").
//!
//! A socket's read timeout bounds one `read` call, and any byte that arrives
//! restarts it. A client that sends one byte every few seconds and never
//! finishes its name (or its HTTP request) would hold a thread and a
//! connection place for ever. So while a deadline is set, every read is
//! given only the time left until that one fixed instant.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

/// The reading side of a socket, whose reads can be given a deadline.
pub(crate) struct DeadlineReader {
    stream: Arc<TcpStream>,
    deadline: Option<Instant>,
}

impl DeadlineReader {
    /// Reads from `stream` until `deadline`, then fails with `TimedOut`.
    pub(crate) fn new(stream: Arc<TcpStream>, deadline: Instant) -> DeadlineReader {
        DeadlineReader {
            stream,
            deadline: Some(deadline),
        }
    }

    /// Removes the deadline: a logged-in client may stay silent as long as
    /// it likes.
    pub(crate) fn clear_deadline(&mut self) -> io::Result<()> {
        self.deadline = None;
        self.stream.set_read_timeout(None)
    }

    /// The socket itself (to linger on it, say).
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(ErrorKind::TimedOut, "deadline passed"));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        (&*self.stream).read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_pair;
    use std::io::Write;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn a_trickle_cannot_stretch_the_deadline() {
        let (server, mut client) = test_pair();
        let trickle = thread::spawn(move || {
            // One byte every 50 ms: each read succeeds well within any
            // per-read timeout, but the whole never ends.
            for _ in 0..40 {
                if client.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let mut reader = DeadlineReader::new(Arc::new(server), start + Duration::from_millis(300));
        let mut buf = [0u8; 16];
        let error = loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("the trickle ended first"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(matches!(
            error.kind(),
            ErrorKind::TimedOut | ErrorKind::WouldBlock
        ));
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "{:?}",
            start.elapsed()
        );
        drop(reader);
        let _ = trickle.join();
    }
}
