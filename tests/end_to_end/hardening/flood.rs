//! A flooder: one client writes lines as fast as it can. The rate limit
//! (default settings: 10 lines a second, bursts of 20) drops almost all of
//! them and warns with `! slow down`, at most once a second, and the flood
//! costs the others nothing they would notice: two clients playing
//! ping-pong in the same room meanwhile keep a short round trip.

use super::one_at_a_time;
use crate::support::{panics, Client, Event, TestServer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const FLOOD_TIME: Duration = Duration::from_secs(2);
const FLOOD_MAX_LINES: usize = 20_000_000;
/// Lines per write: the flood arrives in big writes, as from a script.
const BATCH: usize = 50;
/// A round trip (alice's ping, bob's pong) slower than this fails the test.
/// Unloaded it is about a millisecond; the bound leaves room for a busy
/// two-core CI machine running the flood on both ends.
const MAX_ROUND_TRIP: Duration = Duration::from_millis(200);
/// One ping every this long: under the rate limit of 10 a second.
const PING_EVERY: Duration = Duration::from_millis(150);
const MAX_PINGS: usize = 40;
const LIMIT: Duration = Duration::from_secs(5);

#[test]
fn a_flooder_is_told_to_slow_down_and_does_not_delay_the_others() {
    let _turn = one_at_a_time();
    let mut server = TestServer::start();
    let addr = server.addr;
    let flooder = Client::login(addr, "flooder", LIMIT, "flooder");
    let flooder_in = Instant::now();
    let alice = Client::login(addr, "alice", LIMIT, "alice");
    let bob = Client::login(addr, "bob", LIMIT, "bob");
    // Let the login lines' tokens come back before the measured part.
    thread::sleep(Duration::from_millis(500));

    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let flooding = Arc::clone(&flooding);
        thread::spawn(move || {
            let start = Instant::now();
            let mut sent = 0;
            while start.elapsed() < FLOOD_TIME && sent < FLOOD_MAX_LINES {
                let batch: String = (sent..sent + BATCH)
                    .map(|i| format!("flood {i}\n"))
                    .collect();
                if flooder.try_send_raw(batch.as_bytes()).is_err() {
                    break;
                }
                sent += BATCH;
            }
            flooding.store(false, Ordering::SeqCst);
            (flooder, sent, start.elapsed())
        })
    };

    // bob answers each ping in the room with a pong, on his own thread,
    // and counts the flood lines that passed the limit.
    let stop = Arc::new(AtomicBool::new(false));
    let pong = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut flood_lines = 0;
            let mut next_ping = 0;
            while !stop.load(Ordering::SeqCst) && next_ping < MAX_PINGS {
                match bob.next(Duration::from_millis(100)) {
                    Some(Event::Line(line))
                        if line == format!("[#general] alice: ping {next_ping}") =>
                    {
                        bob.try_send(&format!("pong {next_ping}"))
                            .expect("bob sends a pong");
                        next_ping += 1;
                    }
                    Some(Event::Line(line)) if line.starts_with("[#general] flooder: ") => {
                        flood_lines += 1
                    }
                    Some(Event::Line(_)) | None => {}
                    Some(Event::Closed) => panic!("bob was disconnected"),
                }
            }
            (bob, flood_lines)
        })
    };

    let mut round_trips = Vec::new();
    for i in 0..MAX_PINGS {
        if !flooding.load(Ordering::SeqCst) && i >= 5 {
            break;
        }
        let start = Instant::now();
        alice
            .try_send(&format!("ping {i}"))
            .expect("alice sends a ping");
        let pong = format!("[#general] bob: pong {i}");
        alice
            .wait_for_line(LIMIT, |l| l == pong)
            .unwrap_or_else(|e| panic!("alice, waiting for pong {i}: {e}"));
        round_trips.push(start.elapsed());
        thread::sleep(PING_EVERY.saturating_sub(start.elapsed()));
    }
    stop.store(true, Ordering::SeqCst);
    let (flooder, sent, flood_took) = flood.join().expect("flood thread");
    let (bob, mut flood_lines) = pong.join().expect("pong thread");

    // Whatever passed the limit has reached bob by now, give or take.
    thread::sleep(Duration::from_millis(300));
    flood_lines += bob
        .take_ready()
        .iter()
        .filter(|e| matches!(e, Event::Line(l) if l.starts_with("[#general] flooder: ")))
        .count();
    let since_login = flooder_in.elapsed().as_secs_f64();
    let warnings = flooder
        .take_ready()
        .iter()
        .filter(|e| matches!(e, Event::Line(l) if l == "! slow down"))
        .count();

    let worst = round_trips.iter().max().copied().unwrap_or_default();
    let mut sorted = round_trips.clone();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    eprintln!(
        "flood: {sent} lines in {flood_took:?}; {flood_lines} passed the limit; \
         {warnings} warnings; {} round trips, median {median:?}, worst {worst:?}",
        round_trips.len()
    );
    assert!(warnings >= 1, "the flooder was never told to slow down");
    assert!(
        (warnings as f64) <= since_login + 1.0,
        "{warnings} warnings in {since_login:.1} s: more than one a second"
    );
    // A burst of 20, then 10 a second since the flooder logged in.
    let allowed = 20.0 + 10.0 * since_login + 2.0;
    assert!(
        (flood_lines as f64) <= allowed,
        "{flood_lines} flood lines reached bob in {since_login:.1} s (at most {allowed:.0} may)"
    );
    assert!(
        round_trips.len() >= 5,
        "only {} round trips",
        round_trips.len()
    );
    assert!(
        worst < MAX_ROUND_TRIP,
        "a round trip took {worst:?} during the flood (median {median:?}): {round_trips:?}"
    );
    assert_eq!(server.wait_exit(Duration::from_millis(100)), None);
    assert!(panics(&server.stderr()).is_empty(), "{}", server.stderr());
}
