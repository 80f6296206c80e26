//! Protocol fuzz: fifty connections send a seeded, reproducible mix of good
//! commands and garbage (random bytes, cut UTF-8 characters, NULs, control
//! characters, over-long lines, lines with no newline, disconnects in the
//! middle of a line), and the server must come out of it unharmed.
//!
//! "Unharmed" is checked from the outside: the process is alive, nothing
//! panicked, every line it sent during the storm was a well-formed protocol
//! line, the clients that stayed are still the only ones online, new
//! clients log in and chat, and the threads and descriptors the fuzz
//! connections used have all been given back.
//!
//! Replay a failure with the seed printed in its message:
//! `FUZZ_SEED=1234 cargo test --test end_to_end hardening::fuzz -- --ignored`
//! (it takes about ten seconds, so a plain `cargo test` leaves it out).
//!
//! The rate limit is off (`rate_limit_per_sec = 0`): with it on, most fuzz
//! lines would be dropped by the limiter before they reached the parser and
//! the dispatcher, which are what this test is after. The limiter has a
//! test of its own (`hardening::flood`).

use super::one_at_a_time;
use crate::support::{
    panics, seed_from_env, settle, steady_usage, users_becomes, Client, Event, Rng, TestServer,
    Usage,
};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const CONNECTIONS: u64 = 50;
/// Connections open at once, one per fuzzing thread.
const THREADS: u64 = 10;
/// Most chunks one connection sends, whatever its time budget.
const MAX_CHUNKS: usize = 400;
const MAX_LINE_BYTES: usize = 2048;
const LIMIT: Duration = Duration::from_secs(5);

/// Names the fuzz connections try: some free, some taken by the clients
/// that stay, one reserved, several that differ only in case.
const NAMES: &[&str] = &[
    "fz0", "fz1", "fz2", "Fz2", "fz3", "keeper1", "KEEPER2", "server", "a",
];
const ROOMS: &[&str] = &[
    "general", "dev", "#dev", "Dev", "r1", "r2", "bad room", "#", "-_-",
];

/// A line that a client could well send: a command, with good or bad
/// arguments.
fn command(rng: &mut Rng) -> String {
    let name = rng.pick(NAMES);
    let room = rng.pick(ROOMS);
    match rng.below(22) {
        0..=3 => format!("hello number {}", rng.next_u64()),
        4 => format!("#{room} in a room"),
        5 => format!("@{name} psst"),
        6 => format!("/join {room}"),
        7 => "/leave".to_string(),
        8 => format!("/leave {room}"),
        9 => "/rooms".to_string(),
        10 => "/users".to_string(),
        11 => format!("/users {room}"),
        12 => format!("/nick {name}"),
        13 => "/me waves".to_string(),
        14 => "/help".to_string(),
        15 => format!("/register pw-{}-long", rng.below(1000)),
        16 => "/password wrong-one other-one".to_string(),
        17 => "/unregister not-my-password".to_string(),
        18 => "/JOIN Dev".to_string(),
        19 => rng
            .pick(&["/nick", "/join", "/me", "#", "@", "@x", "/"])
            .to_string(),
        20 => "/no-such-command".to_string(),
        _ => format!("/join {}", "r".repeat(rng.range(30, 40) as usize)),
    }
}

/// One piece of a fuzz connection's output.
fn chunk(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = Vec::new();
    match rng.below(92) {
        // A good command line, sometimes with CRLF.
        0..=39 => {
            bytes.extend_from_slice(command(rng).as_bytes());
            if rng.chance(20) {
                bytes.push(b'\r');
            }
            bytes.push(b'\n');
        }
        // Random bytes, with or without a newline at the end.
        40..=51 => {
            for _ in 0..rng.range(1, 300) {
                bytes.push(rng.below(256) as u8);
            }
            if rng.chance(70) {
                bytes.push(b'\n');
            }
        }
        // A UTF-8 character cut short, at the end or in the middle.
        52..=59 => {
            let whole = rng.pick(&["é", "€", "日本", "😀"]).as_bytes();
            let cut = &whole[..rng.range(1, whole.len() as u64 - 1) as usize];
            bytes.extend_from_slice(b"cut ");
            bytes.extend_from_slice(cut);
            if rng.chance(50) {
                bytes.extend_from_slice(b" more text");
            }
            bytes.push(b'\n');
        }
        // NULs and other control characters inside otherwise good lines.
        60..=67 => {
            let nasty = rng.pick(&[
                "nul\0in\0the\0middle",
                "\x1b[2J\x1b[31mred\x1b[0m",
                "bell\x07\x07",
                "c1 \u{9b}31m \u{85} codes",
                "bare\rreturn",
                "tab\tand\x7fdel",
                "\0",
                "/join \x1b[1mdev",
                "/nick fz\x001",
            ]);
            bytes.extend_from_slice(nasty.as_bytes());
            bytes.push(b'\n');
        }
        // An over-long line, sometimes just over the limit.
        68..=75 => {
            let len = if rng.chance(50) {
                MAX_LINE_BYTES + rng.range(0, 2) as usize
            } else {
                rng.range(MAX_LINE_BYTES as u64, 20_000) as usize
            };
            bytes.resize(len, b'x');
            // Sometimes with a multi-byte character across the limit.
            if rng.chance(30) && len > MAX_LINE_BYTES + 4 {
                bytes[MAX_LINE_BYTES - 1..MAX_LINE_BYTES + 2].copy_from_slice("€".as_bytes());
            }
            bytes.push(b'\n');
        }
        // Half a line: the next chunk continues it.
        76..=85 => {
            let line = command(rng);
            let cut = rng.range(0, line.len() as u64) as usize;
            bytes.extend_from_slice(&line.as_bytes()[..cut]);
        }
        // Empty lines and lines of spaces.
        _ => {
            let blank: &[u8] = rng.pick(&["\n", "\r\n", "   \n", "\t\n"]).as_bytes();
            bytes.extend_from_slice(blank);
        }
    }
    bytes
}

/// Sends `bytes` in a few random pieces, so lines are cut across reads.
fn send_in_pieces(peer: &Client, rng: &mut Rng, bytes: &[u8]) -> std::io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = if rng.chance(70) {
            rest.len()
        } else {
            rng.range(1, rest.len() as u64) as usize
        };
        peer.try_send_raw(&rest[..n])?;
        rest = &rest[n..];
        if rng.chance(10) {
            thread::sleep(Duration::from_millis(rng.below(5)));
        }
    }
    Ok(())
}

/// Checks a line from the server against the protocol's promises: UTF-8,
/// one of the documented prefixes, no control characters.
fn check_line(line: &str, seed: u64, bad: &Mutex<Vec<String>>) {
    let prefixes = ["* ", "! ", "[#", "[DM] ", "[server] "];
    let ok = prefixes.iter().any(|p| line.starts_with(p)) && !line.chars().any(char::is_control);
    if !ok {
        let shown: String = line.chars().take(200).collect();
        bad.lock()
            .unwrap()
            .push(format!("seed={seed}: bad line from server: {shown:?}"));
    }
}

fn check_events(peer: &Client, seed: u64, bad: &Mutex<Vec<String>>) {
    for event in peer.take_ready() {
        if let Event::Line(line) = event {
            check_line(&line, seed, bad);
        }
    }
}

/// One fuzz connection, for a random time of half a second to 2.5 s.
fn fuzz_connection(
    server: std::net::SocketAddr,
    mut rng: Rng,
    seed: u64,
    bad: &Mutex<Vec<String>>,
) {
    let peer = match Client::connect(server) {
        Ok(peer) => peer,
        Err(e) => {
            bad.lock()
                .unwrap()
                .push(format!("seed={seed}: cannot connect: {e}"));
            return;
        }
    };
    // Most connections give a name first (good, taken, or bad), so their
    // later lines reach the chat loop; the others fuzz the handshake.
    if rng.chance(75) {
        let name = if rng.chance(50) {
            format!("fz{}", rng.below(1000))
        } else {
            rng.pick(NAMES).to_string()
        };
        let _ = peer.try_send(&name);
    }
    let until = Instant::now() + Duration::from_millis(rng.range(500, 2500));
    for _ in 0..MAX_CHUNKS {
        if Instant::now() >= until {
            break;
        }
        let bytes = chunk(&mut rng);
        let sent = send_in_pieces(&peer, &mut rng, &bytes);
        check_events(&peer, seed, bad);
        if sent.is_err() {
            return; // the server closed us (three wrong passwords, say)
        }
        thread::sleep(Duration::from_millis(rng.below(20)));
    }
    // Leave in one of four ways.
    match rng.below(4) {
        // In the middle of a line: dropping the peer closes the socket.
        0 => {
            let line = command(&mut rng);
            let cut = rng.range(1, line.len() as u64 - 1) as usize;
            let _ = peer.try_send_raw(&line.as_bytes()[..cut]);
        }
        // `/quit`: the server says goodbye and closes (or, in the
        // handshake, where /quit is just a bad name, answers it).
        1 => {
            let _ = peer.try_send("/quit");
            let _ = peer.wait_closed(Duration::from_millis(1500));
        }
        // A half-close, as at the end of a piped input: the server reads
        // the end of the stream and closes its side.
        2 => {
            peer.shutdown_write();
            let _ = peer.wait_closed(Duration::from_secs(2));
        }
        // Just go.
        _ => {}
    }
    check_events(&peer, seed, bad);
}

#[test]
#[ignore = "long: run by .ci/run with --ignored"]
fn server_survives_protocol_fuzz_and_gives_back_its_resources() {
    let _turn = one_at_a_time();
    let seed = seed_from_env("FUZZ_SEED");
    let mut server = TestServer::with_config(
        "max_clients_per_ip = 0\nrate_limit_per_sec = 0\npassword_iterations = 1000",
    );
    let pid = server.pid();
    let addr = server.addr;
    // Two clients that stay online through the fuzz, reading all the time.
    let keeper1 = Client::login(addr, "keeper1", LIMIT, &format!("seed={seed}"));
    let keeper2 = Client::login(addr, "keeper2", LIMIT, &format!("seed={seed}"));
    let baseline: Usage = steady_usage(pid);

    let bad = Arc::new(Mutex::new(Vec::new()));
    let mut root = Rng::new(seed);
    let per_thread = CONNECTIONS / THREADS;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let mut rng = root.fork(t);
            let bad = Arc::clone(&bad);
            thread::spawn(move || {
                for _ in 0..per_thread {
                    let conn_rng = rng.fork(0);
                    fuzz_connection(addr, conn_rng, seed, &bad);
                }
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .unwrap_or_else(|_| panic!("seed={seed}: a fuzz thread panicked"));
    }
    let bad = bad.lock().unwrap().clone();
    assert!(
        bad.is_empty(),
        "seed={seed}: {} problems, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    assert_eq!(
        server.wait_exit(Duration::from_millis(100)),
        None,
        "seed={seed}: the server exited; stderr:\n{}",
        server.stderr()
    );
    // The fuzz connections are all closed: only the keepers are online.
    users_becomes(&keeper1, "* online: keeper1, keeper2", LIMIT)
        .unwrap_or_else(|e| panic!("seed={seed}: {e}"));
    let after = settle(pid, baseline, 2, LIMIT).unwrap_or_else(|now| {
        panic!("seed={seed}: threads/fds did not come back: before {baseline:?}, now {now:?}")
    });
    eprintln!("seed={seed}: before {baseline:?}, after {after:?}");

    // New clients log in and talk, and the keepers hear them.
    let alice = Client::login(addr, "alice", LIMIT, &format!("seed={seed}"));
    let bob = Client::login(addr, "bob", LIMIT, &format!("seed={seed}"));
    alice.send("hello bob");
    bob.wait_for_line(LIMIT, |l| l == "[#general] alice: hello bob")
        .unwrap_or_else(|e| panic!("seed={seed}: bob: {e}"));
    bob.send("hi alice");
    alice
        .wait_for_line(LIMIT, |l| l == "[#general] bob: hi alice")
        .unwrap_or_else(|e| panic!("seed={seed}: alice: {e}"));
    keeper2
        .wait_for_line(LIMIT, |l| l == "[#general] bob: hi alice")
        .unwrap_or_else(|e| panic!("seed={seed}: keeper2: {e}"));
    users_becomes(&alice, "* online: alice, bob, keeper1, keeper2", LIMIT)
        .unwrap_or_else(|e| panic!("seed={seed}: {e}"));

    let stderr = server.stderr();
    assert!(
        panics(&stderr).is_empty(),
        "seed={seed}: the server panicked: {:?}",
        panics(&stderr)
    );
}
