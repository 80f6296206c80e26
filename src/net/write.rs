//! A write with a deadline for the whole write.
//!
//! A socket's write timeout bounds each system call, and a `write` that
//! moves any byte at all succeeds. So a client that reads a trickle, a few
//! bytes before each timeout runs out, could keep one `write_all` going for
//! as long as it likes, and hold the thread doing it. [`write_all_in_time`]
//! gives the whole write one budget instead.

use std::io::{self, ErrorKind, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Writes all of `bytes` within the socket's write timeout *in total*.
///
/// The socket's timeout bounds each system call, and a `write` that moves
/// any byte succeeds: so a client reading a trickle, a few bytes before
/// each timeout runs out, could hold a writer thread for as long as it
/// likes, and four such clients would hold them all. After a partial write
/// we therefore shrink the timeout to what is left of the first one, and
/// put it back at the end. (A partial write is rare: it means the client's
/// buffers are full, so the extra system calls cost nothing in the common
/// case.)
pub(crate) fn write_all_in_time(stream: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let start = Instant::now();
    let mut rest = bytes;
    let mut budget = None; // the socket's own timeout, once we changed it
    let result = loop {
        if rest.is_empty() {
            break Ok(());
        }
        let written = match (&*stream).write(rest) {
            Ok(0) => break Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        rest = &rest[written..];
        if rest.is_empty() {
            break Ok(());
        }
        if budget.is_none() {
            match stream.write_timeout() {
                Ok(timeout) => budget = Some(timeout),
                Err(e) => break Err(e),
            }
        }
        let Some(Some(limit)) = budget else {
            continue; // no timeout on this socket: nothing to enforce
        };
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            break Err(io::Error::new(
                ErrorKind::TimedOut,
                "client reads too slowly",
            ));
        }
        // No `?` here: every way out of the loop must reach the line that
        // puts the socket's own timeout back.
        if let Err(e) = stream.set_write_timeout(Some(left)) {
            break Err(e);
        }
    };
    if let Some(original) = budget {
        let _ = stream.set_write_timeout(original);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_pair;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_trickling_reader_cannot_stretch_a_write_past_the_timeout() {
        let (server, mut client) = test_pair();
        server
            .set_write_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        // The reader takes 64 KB every 100 ms: each write makes progress well
        // within 300 ms, so only a deadline for the whole write can stop it.
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let reader = std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            for _ in 0..100 {
                let stopped = stop.load(std::sync::atomic::Ordering::SeqCst);
                if stopped || std::io::Read::read(&mut client, &mut chunk).unwrap_or(0) == 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let start = Instant::now();
        let result = write_all_in_time(&server, &vec![b'x'; 64 * 1024 * 1024]);
        assert!(
            result.is_err(),
            "a 64 MB write to a trickling reader succeeded"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
        // The socket's own timeout is back as it was.
        assert_eq!(
            server.write_timeout().ok().flatten(),
            Some(Duration::from_millis(300))
        );
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = reader.join();
    }
}
