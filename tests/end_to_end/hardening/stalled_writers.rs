//! Clients that log in and never read, arriving all the time, must cost
//! the active clients nothing: no writer thread may wait on one of their
//! full sockets (issue: a message between two active clients took 0.5 to
//! 1.9 s while 8 such clients a second logged in).

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::one_at_a_time;
use crate::support::TestServer;

/// Logs in a client that will never read a byte.
fn stalled(server: &TestServer, k: usize) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(format!("stalled{k}\n").as_bytes())
        .expect("name");
    stream
}

#[test]
fn clients_that_never_read_do_not_delay_the_others() {
    let _turn = one_at_a_time();
    // A long stall limit makes each stalled socket as costly as it can be
    // under the old design (a writer blocked for the whole limit).
    let server = TestServer::with_config(
        "max_clients_per_ip = 0\nrate_limit_per_sec = 0\nwrite_timeout_ms = 3000\n\
         send_queue_bytes = 16777216\nmax_line_bytes = 4096",
    );
    // Alice and bob talk directly and are in no room, so the flood below
    // reaches only the clients that never read.
    let alice = server.login("alice");
    alice.send("/leave");
    alice.expect("* you left #general");
    let bob = server.login("bob");
    bob.send("/leave");
    bob.expect("* you left #general");
    let flooder = server.login("flooder");
    let filler = "x".repeat(4000);

    let end = Instant::now() + Duration::from_secs(4);
    let mut alive = std::collections::VecDeque::new();
    let mut worst = Duration::ZERO;
    let mut k = 0;
    while Instant::now() < end {
        // Eight new non-readers a second, sixteen alive at a time.
        if k % 2 == 0 {
            alive.push_back(stalled(&server, k));
            if alive.len() > 16 {
                alive.pop_front();
            }
        }
        // The room fills their sockets...
        for _ in 0..100 {
            flooder.send(&filler);
        }
        // ...while alice and bob talk directly.
        let sent = Instant::now();
        alice.send(&format!("@bob ping {k}"));
        bob.wait_for(&format!("[DM] alice: ping {k}"));
        worst = worst.max(sent.elapsed());
        k += 1;
        thread::sleep(Duration::from_millis(60));
    }
    drop(alive);
    drop(flooder);
    assert!(
        worst < Duration::from_millis(400),
        "a direct message took {worst:?} while clients that never read kept arriving"
    );
}
