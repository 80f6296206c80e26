//! Connection storm: two thousand connections come and go as fast as four
//! threads can open them, and each one that goes must give back its thread
//! and its file descriptor.
//!
//! Three ways to go, mixed: close at once (often before the server has even
//! written its welcome), close in the middle of the handshake with half a
//! name sent, and close right after logging in. A leak of one descriptor or
//! one thread per connection in any of those paths shows up as thousands.

use super::one_at_a_time;
use crate::support::{
    panics, seed_from_env, settle, steady_usage, users_becomes, Client, Rng, TestServer,
};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const CYCLES: u64 = 2000;
const THREADS: u64 = 4;
const LIMIT: Duration = Duration::from_secs(5);
/// The whole storm must be over by then (it takes a few seconds).
const STORM_LIMIT: Duration = Duration::from_secs(60);

/// Reads one line with the stream's timeout; None on end of stream, error
/// or timeout.
fn read_line(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 => Some(line),
        _ => None,
    }
}

/// One connect/disconnect cycle. Err says what went wrong.
fn cycle(addr: SocketAddr, rng: &mut Rng, name: &str) -> Result<(), String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    match rng.below(3) {
        // Close at once; half the time without waiting for the welcome.
        0 => {
            if rng.chance(50) {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                reader
                    .read_line(&mut line)
                    .map_err(|e| format!("welcome: {e}"))?;
            }
        }
        // Half a name, then close.
        1 => {
            let half = &name[..name.len() / 2];
            (&stream)
                .write_all(half.as_bytes())
                .map_err(|e| format!("half a name: {e}"))?;
            if rng.chance(50) {
                thread::sleep(Duration::from_millis(rng.below(3)));
            }
        }
        // A full login, then close (and now and then a polite /quit).
        _ => {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let welcome = read_line(&mut reader).ok_or("no welcome")?;
            if !welcome.starts_with("* Welcome to ") {
                return Err(format!("unexpected first line {welcome:?}"));
            }
            (&stream)
                .write_all(format!("{name}\n").as_bytes())
                .map_err(|e| format!("send name: {e}"))?;
            let hello = read_line(&mut reader).ok_or("no hello")?;
            if !hello.starts_with(&format!("* Hello {name}!")) {
                return Err(format!("unexpected reply to the name: {hello:?}"));
            }
            if rng.chance(20) {
                (&stream)
                    .write_all(b"/quit\n")
                    .map_err(|e| format!("send /quit: {e}"))?;
                while read_line(&mut reader).is_some() {}
            }
        }
    }
    Ok(())
}

#[test]
fn two_thousand_connect_disconnect_cycles_leak_no_thread_or_descriptor() {
    let _turn = one_at_a_time();
    let seed = seed_from_env("FUZZ_SEED");
    let mut server = TestServer::with_config("max_clients_per_ip = 0");
    let pid = server.pid();
    let addr = server.addr;
    let baseline = steady_usage(pid);

    let started = Instant::now();
    let mut root = Rng::new(seed);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let mut rng = root.fork(t);
            thread::spawn(move || {
                for i in 0..CYCLES / THREADS {
                    if started.elapsed() > STORM_LIMIT {
                        return Err(format!("the storm took over {STORM_LIMIT:?}"));
                    }
                    // Unique names: a name is freed a moment after its
                    // connection closes, and a clash is not what we test.
                    let name = format!("storm{t}x{i}");
                    cycle(addr, &mut rng, &name)
                        .map_err(|e| format!("cycle {i} of thread {t}: {e}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        let result = worker
            .join()
            .unwrap_or_else(|_| panic!("seed={seed}: a storm thread panicked"));
        if let Err(e) = result {
            panic!("seed={seed}: {e}");
        }
    }
    let storm_time = started.elapsed();

    assert_eq!(
        server.wait_exit(Duration::from_millis(100)),
        None,
        "seed={seed}: the server exited; stderr:\n{}",
        server.stderr()
    );
    let after = settle(pid, baseline, 2, LIMIT).unwrap_or_else(|now| {
        panic!("seed={seed}: threads/fds did not come back: before {baseline:?}, now {now:?}")
    });
    eprintln!("seed={seed}: storm took {storm_time:?}; before {baseline:?}, after {after:?}");

    // Nobody from the storm is left online, and the server still serves.
    let fresh = Client::login(addr, "fresh", LIMIT, &format!("seed={seed}"));
    users_becomes(&fresh, "* online: fresh", LIMIT).unwrap_or_else(|e| panic!("seed={seed}: {e}"));
    let stderr = server.stderr();
    assert!(
        panics(&stderr).is_empty(),
        "seed={seed}: the server panicked: {:?}",
        panics(&stderr)
    );
}
