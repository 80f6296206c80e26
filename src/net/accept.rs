//! Accepting connections: surviving the end of the file descriptors, and
//! waking a thread blocked in `accept`.
//!
//! **Out of descriptors.** When the process has no file descriptor left,
//! `accept` fails (EMFILE) while the kernel goes on completing connections
//! into the listen queue: those clients would wait with no answer at all.
//! So we keep one descriptor in reserve (an open `/dev/null`). Letting go of
//! it frees one descriptor: we accept one waiting client, hand it back to be
//! told the server is full, and take the reserve back. Any other `accept`
//! error is logged and retried after a short pause, never a crash and never
//! a busy loop.
//!
//! **Waking `accept`.** A thread blocked in `accept` cannot be interrupted
//! portably with std, so to stop an accept loop we set a flag and then
//! connect to our own listener: `accept` returns, the loop sees the flag.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use crate::log;

/// How long to pause after an `accept` error, so a persistent one does not
/// spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What one call to [`Acceptor::next`] brought.
pub(crate) enum Accepted {
    /// A new connection, to be served.
    Client(TcpStream, SocketAddr),
    /// A connection taken with the reserve descriptor while out of
    /// descriptors: tell it the server is full, then drop it at once (the
    /// next call takes the descriptor back into reserve).
    TurnAway(TcpStream, SocketAddr),
    /// `accept` failed; we paused and the caller should call again.
    Nothing,
}

/// A listener with a file descriptor kept in reserve.
pub(crate) struct Acceptor<'l> {
    listener: &'l TcpListener,
    reserve: Option<File>,
}

impl<'l> Acceptor<'l> {
    pub(crate) fn new(listener: &'l TcpListener) -> Acceptor<'l> {
        Acceptor {
            listener,
            reserve: File::open("/dev/null").ok(),
        }
    }

    /// Blocks until a connection arrives or `accept` fails.
    pub(crate) fn next(&mut self) -> Accepted {
        // Taken back here, at the start of the next call, so that a
        // connection we turned away has been closed first and its
        // descriptor is the one we get.
        if self.reserve.is_none() {
            self.reserve = File::open("/dev/null").ok();
        }
        let error = match self.listener.accept() {
            Ok((stream, addr)) => return Accepted::Client(stream, addr),
            Err(e) => e,
        };
        if is_out_of_descriptors(&error) && self.reserve.is_some() {
            log!("accept failed: {error}; turning away whoever is waiting");
            drop(self.reserve.take());
            // Without blocking: Linux fails `accept` with EMFILE before
            // looking at the queue, so there may be nobody waiting; then
            // pause as for any other error, rather than spin.
            return match accept_nonblocking(self.listener) {
                Some((stream, addr)) => Accepted::TurnAway(stream, addr),
                None => {
                    thread::sleep(ACCEPT_BACKOFF);
                    Accepted::Nothing
                }
            };
        }
        log!("accept failed: {error}; retrying");
        thread::sleep(ACCEPT_BACKOFF);
        Accepted::Nothing
    }
}

/// Accepts a connection if one is waiting, without waiting for one.
fn accept_nonblocking(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    listener.set_nonblocking(true).ok()?;
    let accepted = listener.accept();
    // Back to blocking, for the accept loop. (On Linux the accepted socket
    // does not inherit the flag; some systems differ, so clear it anyway.)
    let _ = listener.set_nonblocking(false);
    let (stream, addr) = accepted.ok()?;
    let _ = stream.set_nonblocking(false);
    Some((stream, addr))
}

/// Whether an error means this process (EMFILE) or the whole system
/// (ENFILE) has no file descriptor left. std has no `ErrorKind` for it, so
/// we compare the error numbers, which are 24 and 23 on Linux and the BSDs.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE))
}

/// The address to connect to in order to reach a listener bound to `local`:
/// the wildcard addresses (0.0.0.0, ::) are not connectable, so use loopback.
pub(crate) fn wake_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// Wakes a thread blocked in `accept` on the listener at `addr` (from
/// [`wake_address`]) by connecting to it. If that fails the listener is
/// gone, and nobody is blocked on it.
pub(crate) fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn wildcard_addresses_are_woken_through_loopback() {
        let v4: SocketAddr = "0.0.0.0:7878".parse().expect("addr");
        assert_eq!(wake_address(v4), "127.0.0.1:7878".parse().expect("addr"));
        let v6: SocketAddr = "[::]:7878".parse().expect("addr");
        assert_eq!(wake_address(v6), "[::1]:7878".parse().expect("addr"));
        let lan: SocketAddr = "192.0.2.7:7878".parse().expect("addr");
        assert_eq!(wake_address(lan), lan);
    }

    #[test]
    fn a_blocked_accept_is_woken_by_connecting_to_it() {
        let listener = TcpListener::bind("0.0.0.0:0").expect("bind");
        let local = listener.local_addr().expect("addr");
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let accept_loop = thread::spawn(move || {
            let mut acceptor = Acceptor::new(&listener);
            let mut served = 0;
            loop {
                let accepted = acceptor.next();
                if flag.load(Ordering::SeqCst) {
                    return served;
                }
                if let Accepted::Client(..) = accepted {
                    served += 1;
                }
            }
        });
        let _first = TcpStream::connect(wake_address(local)).expect("connect");
        thread::sleep(Duration::from_millis(50));
        stopping.store(true, Ordering::SeqCst);
        wake(wake_address(local));
        let served = accept_loop.join().expect("the loop ended");
        assert_eq!(served, 1);
    }

    #[test]
    fn out_of_descriptors_is_told_from_other_errors() {
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(24)));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(104)));
        let other = io::Error::other("something else");
        assert!(!is_out_of_descriptors(&other));
    }
}
