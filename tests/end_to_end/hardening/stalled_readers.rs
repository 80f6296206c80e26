//! Readers that stop reading: thirty clients log in and never read again
//! while ten others chat in the same room with 1 KB messages.
//!
//! Each of the thirty fills its socket buffers, then its outbox; the server
//! must cut it off (its outbox passes `send_queue_bytes`, or a write to it
//! blocks for `write_timeout_ms`) and carry on. The ten must not notice:
//! every message each of them sends reaches the other nine, in order. And
//! the server's memory stays bounded, since what it holds for a client that
//! does not read is capped.

use super::one_at_a_time;
use crate::support::{login_and_stall, panics, rss_kb, users_becomes, Client, Event, TestServer};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const CHATTERS: usize = 10;
const STALLED: usize = 30;
/// Messages each chatter sends: 600 of about 1 KB, so each stalled client
/// is sent about 6 MB, more than loopback socket buffers hold.
const MESSAGES: usize = 600;
const MESSAGE_BYTES: usize = 1000;
/// One message per chatter this often: about 2.4 s of chat.
const PACE: Duration = Duration::from_millis(4);
/// The server's resident memory must stay under this.
const MAX_RSS_KB: u64 = 100 * 1024;
const LIMIT: Duration = Duration::from_secs(5);
/// The longest the whole exchange may take before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The body of chatter `k`'s message number `i`, about 1 KB.
fn message(k: usize, i: usize) -> String {
    let head = format!("m {k} {i} ");
    format!("{head}{}", "x".repeat(MESSAGE_BYTES - head.len()))
}

/// Reads everything the server still sends a stalled client until it closes
/// the connection. Ok(bytes read) if it closed; Err if it is still open.
fn read_to_close(mut stream: TcpStream) -> Result<usize, String> {
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    while start.elapsed() < RUN_LIMIT {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("still open after {total} bytes"))
            }
            Err(_) => return Ok(total), // reset: closed as well
        }
    }
    Err(format!("still sending after {total} bytes"))
}

#[test]
fn clients_that_stop_reading_are_cut_off_and_the_others_get_everything() {
    let _turn = one_at_a_time();
    let mut server = TestServer::with_config("rate_limit_per_sec = 0\nmax_clients_per_ip = 0");
    let addr = server.addr;
    let pid = server.pid();
    let stalled: Vec<TcpStream> = (0..STALLED)
        .map(|i| login_and_stall(addr, &format!("stalled{i}")))
        .collect();
    let chatters: Vec<Client> = (0..CHATTERS)
        .map(|k| Client::login(addr, &format!("chat{k}"), LIMIT, "chatter"))
        .collect();

    // Watch the server's memory for the whole exchange.
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let watching = Arc::clone(&watching);
        thread::spawn(move || {
            let mut peak = 0;
            while watching.load(Ordering::SeqCst) {
                peak = peak.max(rss_kb(pid));
                thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };

    let start = Instant::now();
    let mut senders = Vec::new();
    let mut checkers = Vec::new();
    for (k, peer) in chatters.into_iter().enumerate() {
        let mut out = peer.stream().try_clone().unwrap();
        senders.push(thread::spawn(move || {
            for i in 0..MESSAGES {
                let line = format!("{}\n", message(k, i));
                if let Err(e) = out.write_all(line.as_bytes()) {
                    return Err(format!("chat{k} could not send message {i}: {e}"));
                }
                thread::sleep(PACE);
            }
            Ok(())
        }));
        // Checks, as lines arrive, that each other chatter's messages come
        // in order with none missing, until all of them are in.
        checkers.push(thread::spawn(move || {
            let mut next = vec![0usize; CHATTERS];
            next[k] = MESSAGES; // no echo of one's own
            while next.iter().any(|&n| n < MESSAGES) {
                if start.elapsed() > RUN_LIMIT {
                    return Err(format!(
                        "chat{k} still waiting after {RUN_LIMIT:?}: {next:?}"
                    ));
                }
                let line = match peer.next(LIMIT) {
                    Some(Event::Line(line)) => line,
                    Some(Event::Closed) => {
                        return Err(format!("chat{k} was disconnected; had {next:?}"))
                    }
                    None => return Err(format!("chat{k} got nothing for {LIMIT:?}; had {next:?}")),
                };
                let Some(body) = line.strip_prefix("[#general] chat") else {
                    continue; // notices: stalled clients leaving
                };
                let mut fields = body.splitn(5, ' ');
                let (from, i) = match (fields.next(), fields.nth(1), fields.next()) {
                    (Some(from), Some(_k), Some(i)) => (from, i),
                    _ => return Err(format!("chat{k} got a strange line: {line:.80}")),
                };
                let from: usize = from.trim_end_matches(':').parse().unwrap();
                let i: usize = i.parse().unwrap();
                if i != next[from] {
                    return Err(format!(
                        "chat{k} got message {i} of chat{from} when {} was next",
                        next[from]
                    ));
                }
                next[from] += 1;
            }
            Ok(peer)
        }));
    }
    for sender in senders {
        if let Err(e) = sender.join().expect("sender thread") {
            panic!("{e}");
        }
    }
    let mut peers = Vec::new();
    let mut failures = Vec::new();
    for checker in checkers {
        match checker.join().expect("checker thread") {
            Ok(peer) => peers.push(peer),
            Err(e) => failures.push(e),
        }
    }
    let took = start.elapsed();
    watching.store(false, Ordering::SeqCst);
    let peak_kb = watcher.join().expect("memory watcher");
    assert!(
        failures.is_empty(),
        "{} of {CHATTERS} chatters missed messages: {failures:?}",
        failures.len()
    );

    // The thirty were cut off: /users lists only the ten, and reading a
    // stalled socket now gives what it had buffered, then the end.
    let ten: Vec<String> = (0..CHATTERS).map(|k| format!("chat{k}")).collect();
    users_becomes(&peers[0], &format!("* online: {}", ten.join(", ")), LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut still_open = Vec::new();
    let mut buffered = Vec::new();
    for (i, stream) in stalled.into_iter().enumerate() {
        match read_to_close(stream) {
            Ok(bytes) => buffered.push(bytes),
            Err(e) => still_open.push(format!("stalled{i}: {e}")),
        }
    }
    eprintln!(
        "{} messages of {MESSAGE_BYTES} bytes in {took:?}; server peak VmRSS {} MB; \
         stalled clients had {}..{} KB buffered",
        CHATTERS * MESSAGES,
        peak_kb / 1024,
        buffered.iter().min().unwrap_or(&0) / 1024,
        buffered.iter().max().unwrap_or(&0) / 1024,
    );
    assert!(still_open.is_empty(), "not cut off: {still_open:?}");
    assert!(
        peak_kb < MAX_RSS_KB,
        "server VmRSS reached {} MB",
        peak_kb / 1024
    );
    assert_eq!(server.wait_exit(Duration::from_millis(100)), None);
    assert!(panics(&server.stderr()).is_empty(), "{}", server.stderr());
}
