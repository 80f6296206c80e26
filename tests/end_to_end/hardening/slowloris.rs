//! Slowloris: a hundred connections send their name one byte a second and
//! never finish it. The handshake has a deadline for the whole handshake,
//! not for each read, so every one of them is cut off when it passes, and
//! while they wait they cost a thread each but take nothing from the others:
//! a new client still logs in and chats at once.

use super::one_at_a_time;
use crate::support::{panics, settle, steady_usage, Client, TestServer, Usage};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const TRICKLERS: usize = 100;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// How late after the deadline a trickler may still be open.
const GRACE: Duration = Duration::from_secs(2);
const LIMIT: Duration = Duration::from_secs(5);

/// One slow connection, as the trickling thread sees it.
struct Trickler {
    stream: TcpStream,
    opened: Instant,
    last_byte: Instant,
    sent: usize,
    /// When the server closed it (end of stream, reset, or a failed write).
    closed: Option<Instant>,
}

impl Trickler {
    /// Reads whatever arrived (the welcome line) and notes a close.
    fn poll(&mut self, now: Instant) {
        let mut buf = [0u8; 256];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break self.closed = Some(now),
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => break self.closed = Some(now),
            }
        }
    }

    /// Sends the next byte of a name that never ends, once a second.
    fn trickle(&mut self, now: Instant) {
        if now.duration_since(self.last_byte) < Duration::from_secs(1) {
            return;
        }
        let byte = b"slowlorisslowloris"[self.sent % 18];
        match self.stream.write(&[byte]) {
            Ok(_) => self.sent += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.closed = Some(now),
        }
        self.last_byte = now;
    }
}

/// Trickles on every open connection until all are closed or `until`.
fn trickle_all(mut tricklers: Vec<Trickler>, until: Instant) -> Vec<Trickler> {
    while Instant::now() < until {
        let now = Instant::now();
        let mut open = 0;
        for t in tricklers.iter_mut().filter(|t| t.closed.is_none()) {
            t.poll(now);
            if t.closed.is_none() {
                t.trickle(now);
            }
            open += usize::from(t.closed.is_none());
        }
        if open == 0 {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    tricklers
}

#[test]
fn trickling_handshakes_are_cut_off_and_do_not_keep_others_out() {
    let _turn = one_at_a_time();
    let mut server = TestServer::with_config("handshake_timeout_secs = 3\nmax_clients_per_ip = 0");
    let pid = server.pid();
    let addr = server.addr;
    let baseline = steady_usage(pid);

    let mut tricklers = Vec::new();
    for _ in 0..TRICKLERS {
        let stream = TcpStream::connect(addr).expect("connect a trickler");
        let opened = Instant::now();
        stream.set_nonblocking(true).expect("non-blocking");
        tricklers.push(Trickler {
            stream,
            opened,
            last_byte: opened - Duration::from_secs(1),
            sent: 0,
            closed: None,
        });
    }
    let until = Instant::now() + HANDSHAKE_TIMEOUT + GRACE + Duration::from_secs(2);
    let trickling = thread::spawn(move || trickle_all(tricklers, until));

    // While all hundred trickle, a new client joins and chats within a second.
    thread::sleep(Duration::from_millis(1500));
    let start = Instant::now();
    let alice = Client::login(addr, "alice", LIMIT, "alice during the slowloris");
    let bob = Client::login(addr, "bob", LIMIT, "bob during the slowloris");
    alice.send("hi bob");
    bob.wait_for_line(LIMIT, |l| l == "[#general] alice: hi bob")
        .unwrap_or_else(|e| panic!("bob: {e}"));
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "two logins and a message took {took:?} during the slowloris"
    );

    let tricklers = trickling.join().expect("trickling thread");
    let mut late = Vec::new();
    for (i, t) in tricklers.iter().enumerate() {
        match t.closed {
            None => late.push(format!("#{i} still open after {} bytes", t.sent)),
            Some(closed) if closed - t.opened > HANDSHAKE_TIMEOUT + GRACE => {
                late.push(format!("#{i} closed after {:?}", closed - t.opened))
            }
            // The deadline starts after our connect returns, so nobody
            // should be cut off before it (allow for timer slack).
            Some(closed) if closed - t.opened < HANDSHAKE_TIMEOUT - Duration::from_millis(100) => {
                late.push(format!("#{i} closed early, after {:?}", closed - t.opened))
            }
            Some(_) => {}
        }
    }
    assert!(
        late.is_empty(),
        "{} of {TRICKLERS} trickling connections were not closed between the {HANDSHAKE_TIMEOUT:?} deadline and {GRACE:?} after it: {:?}",
        late.len(),
        &late[..late.len().min(5)]
    );
    let slowest = tricklers
        .iter()
        .filter_map(|t| Some(t.closed? - t.opened))
        .max()
        .unwrap_or_default();
    eprintln!("login and message during the slowloris: {took:?}; slowest cut-off: {slowest:?}");

    // The deadline is for the handshake only: alice and bob, logged in,
    // are still here after it, and the tricklers' threads are gone.
    bob.send("still here");
    alice
        .wait_for_line(LIMIT, |l| l == "[#general] bob: still here")
        .unwrap_or_else(|e| panic!("alice after the deadline: {e}"));
    let with_two = Usage {
        threads: baseline.threads + 2,
        fds: baseline.fds + 2,
    };
    settle(pid, with_two, 1, LIMIT).unwrap_or_else(|now| {
        panic!("threads/fds did not come back: before {baseline:?} (+2 clients), now {now:?}")
    });
    assert_eq!(server.wait_exit(Duration::from_millis(100)), None);
    assert!(panics(&server.stderr()).is_empty(), "{}", server.stderr());
}
