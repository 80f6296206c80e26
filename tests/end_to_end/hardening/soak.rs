//! A soak: two hundred clients for a minute. A core of twenty stays in
//! #general the whole time and talks; a hundred and eighty more come and
//! go at random (seeded): they log in, chat, join and leave rooms, rename,
//! send direct messages, and leave by `/quit` or by just closing.
//!
//! What must hold at the end:
//!
//! - **No lost delivery.** Every #general message logged between the
//!   marker's `BEGIN` and `END` (the log is the server's own record, in the
//!   order it delivered them) reached each core client, except its own,
//!   exactly once and in order per sender.
//! - **Flat memory.** The server's resident memory at the end is close to
//!   what it was after the first ten seconds, once warmed up.
//! - **Nothing left behind.** When the churning clients are gone, the
//!   server is back to the threads and descriptors it had before, and
//!   `/users` lists exactly the clients that stayed.
//!
//! `SOAK_SECS` sets the length (default 60); `FUZZ_SEED` replays a run.
//! The rate limit is off: the load is the point here, and the core's
//! messages must not be dropped by a limiter.
//!
//! A minute is too long for a plain `cargo test`, so the soak runs only
//! when asked for:
//! `cargo test --test end_to_end hardening::soak -- --ignored --nocapture`.

use super::one_at_a_time;
use crate::support::{
    panics, rss_kb, seed_from_env, settle, steady_usage, users_becomes, wire_form, Client, Event,
    Rng, TestServer,
};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const CORE: usize = 20;
const CHURNERS: usize = 180;
const ROOMS: &[&str] = &["general", "r0", "r1", "r2", "r3", "r4"];
/// One message from each core client this often.
const CORE_PACE: Duration = Duration::from_millis(500);
/// Memory is compared with its value this long into the run.
const WARM_UP: Duration = Duration::from_secs(10);
/// Allowed growth after warm-up: this share, or `SLACK_KB`, whichever is more.
const GROWTH: f64 = 0.3;
const SLACK_KB: u64 = 5 * 1024;
const LIMIT: Duration = Duration::from_secs(10);

fn soak_time() -> Duration {
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// One churning client slot: sessions one after another until `end`.
/// Returns what went wrong, if anything.
fn churn(addr: SocketAddr, slot: usize, mut rng: Rng, end: Instant, seed: u64) -> Vec<String> {
    let mut problems = Vec::new();
    for session in 0..10_000 {
        if Instant::now() >= end {
            break;
        }
        let mut name = format!("ch{slot}s{session}");
        let peer = match Client::try_login(addr, &name, LIMIT) {
            Ok(peer) => peer,
            Err(e) => {
                problems.push(format!("seed={seed}: login: {e}"));
                thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        let leave_at = (Instant::now() + Duration::from_millis(rng.range(1000, 6000))).min(end);
        let mut count = 0;
        while Instant::now() < leave_at {
            thread::sleep(Duration::from_millis(rng.range(200, 1000)));
            // Keep the channel short; a close we did not ask for is a fault.
            if peer.take_ready().contains(&Event::Closed) {
                problems.push(format!("seed={seed}: {name} was disconnected"));
                break;
            }
            count += 1;
            let room = rng.pick(ROOMS);
            let line = match rng.below(100) {
                0..=34 => format!("{name} says {count}"),
                35..=49 => format!("#general {name} to general {count}"),
                50..=64 => format!("/join {room}"),
                65..=72 => "/leave".to_string(),
                73..=76 => format!("/leave {room}"),
                77..=81 => rng
                    .pick(&["/users", "/rooms", "/users general"])
                    .to_string(),
                82..=86 => format!("@core{} hello from {name}", rng.below(CORE as u64)),
                87..=91 => "/me stretches".to_string(),
                _ => {
                    name = format!("{name}n");
                    format!("/nick {name}")
                }
            };
            if peer.try_send(&line).is_err() {
                problems.push(format!("seed={seed}: {name}: write failed"));
                break;
            }
        }
        if rng.chance(50) {
            let _ = peer.try_send("/quit");
            if let Err(e) = peer.wait_closed(LIMIT) {
                problems.push(format!("seed={seed}: {name} after /quit: {e}"));
            }
        }
        drop(peer);
        thread::sleep(Duration::from_millis(rng.below(500)));
    }
    problems
}

/// What a core client received between BEGIN and END, or what went wrong.
type Window = Result<Vec<String>, String>;

/// A core client's reader: the #general messages between the marker's
/// BEGIN and END, as received.
fn record_window(peer: Client, deadline: Instant) -> (Client, Window) {
    let mut recording = false;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        match peer.next(Duration::from_secs(1)) {
            Some(Event::Line(line)) if line == "[#general] marker: BEGIN" => recording = true,
            Some(Event::Line(line)) if line == "[#general] marker: END" => {
                return (peer, Ok(got));
            }
            Some(Event::Line(line)) if recording && line.starts_with("[#general] ") => {
                got.push(line)
            }
            Some(Event::Line(_)) | None => {}
            Some(Event::Closed) => {
                let name = peer.name.clone();
                return (peer, Err(format!("{name} was disconnected")));
            }
        }
    }
    let name = peer.name.clone();
    (peer, Err(format!("{name} never saw END")))
}

/// The sender of a wire line `[#room] name: text` or `[#room] * name text`.
fn sender(line: &str) -> &str {
    let rest = line.split_once("] ").map(|(_, r)| r).unwrap_or(line);
    match rest.strip_prefix("* ") {
        Some(action) => action.split(' ').next().unwrap_or(""),
        None => rest.split(':').next().unwrap_or(""),
    }
}

/// Checks that `got` holds exactly the lines of `expected`, each once, and
/// in the same order for each sender.
fn same_per_sender(expected: &[String], got: &[String]) -> Result<(), String> {
    let by_sender = |lines: &[String]| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for line in lines {
            map.entry(sender(line).to_string())
                .or_default()
                .push(line.clone());
        }
        map
    };
    let (want, have) = (by_sender(expected), by_sender(got));
    for (who, lines) in &want {
        let theirs = have.get(who).map(Vec::as_slice).unwrap_or(&[]);
        if theirs != lines.as_slice() {
            let missing = lines.iter().filter(|l| !theirs.contains(l)).count();
            return Err(format!(
                "from {who}: expected {} lines, got {} ({missing} missing); first expected {:?}, first got {:?}",
                lines.len(),
                theirs.len(),
                lines.first(),
                theirs.first()
            ));
        }
    }
    if let Some(who) = have.keys().find(|w| !want.contains_key(*w)) {
        return Err(format!("lines from {who}, who is not in the log's window"));
    }
    Ok(())
}

#[test]
#[ignore = "long: run by .ci/run with --ignored"]
fn two_hundred_clients_for_a_minute_lose_nothing_and_leak_nothing() {
    let _turn = one_at_a_time();
    let seed = seed_from_env("FUZZ_SEED");
    let soak = soak_time();
    let mut server = TestServer::with_config("max_clients_per_ip = 0\nrate_limit_per_sec = 0");
    let pid = server.pid();
    let addr = server.addr;
    let marker = Client::login(addr, "marker", LIMIT, "marker");
    let core: Vec<Client> = (0..CORE)
        .map(|k| Client::login(addr, &format!("core{k}"), LIMIT, "core"))
        .collect();
    let baseline = steady_usage(pid);

    let start = Instant::now();
    let end = start + soak;
    let record_deadline = end + Duration::from_secs(60);
    let stop_core = Arc::new(AtomicBool::new(false));
    let mut core_senders = Vec::new();
    let mut recorders: Vec<JoinHandle<(Client, Window)>> = Vec::new();
    for (k, peer) in core.into_iter().enumerate() {
        let mut out = peer.stream().try_clone().unwrap();
        let stop = Arc::clone(&stop_core);
        core_senders.push(thread::spawn(move || {
            for i in 0..100_000 {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                if let Err(e) = out.write_all(format!("core{k} message {i}\n").as_bytes()) {
                    return Err(format!("core{k}: write failed: {e}"));
                }
                thread::sleep(CORE_PACE);
            }
            Ok(())
        }));
        recorders.push(thread::spawn(move || record_window(peer, record_deadline)));
    }
    marker.send("BEGIN");

    let problems = Arc::new(Mutex::new(Vec::new()));
    let mut root = Rng::new(seed);
    let churners: Vec<_> = (0..CHURNERS)
        .map(|slot| {
            let rng = root.fork(slot as u64);
            let problems = Arc::clone(&problems);
            thread::spawn(move || {
                let found = churn(addr, slot, rng, end, seed);
                problems.lock().unwrap().extend(found);
            })
        })
        .collect();

    // Watch memory: after warm-up, and at the end, while the load is on.
    let mut samples = Vec::new();
    let mut warm_kb = None;
    while Instant::now() < end {
        thread::sleep(Duration::from_secs(1).min(end.saturating_duration_since(Instant::now())));
        let kb = rss_kb(pid);
        samples.push(kb / 1024);
        if warm_kb.is_none() && start.elapsed() >= WARM_UP {
            warm_kb = Some(kb);
        }
    }
    let end_kb = rss_kb(pid);

    stop_core.store(true, Ordering::SeqCst);
    for sender in core_senders {
        if let Err(e) = sender.join().expect("core sender") {
            panic!("seed={seed}: {e}");
        }
    }
    marker.send("END");
    let mut windows = Vec::new();
    let mut core = Vec::new();
    for recorder in recorders {
        let (peer, window) = recorder.join().expect("core recorder");
        windows.push((peer.name.clone(), window));
        core.push(peer);
    }
    for churner in churners {
        churner.join().expect("churn thread");
    }

    // The log's #general lines between BEGIN and END are what was said.
    let log = server.history();
    let lines: Vec<String> = log.lines().filter_map(wire_form).collect();
    let begin = lines
        .iter()
        .position(|l| l == "[#general] marker: BEGIN")
        .expect("BEGIN in the log");
    let finish = lines
        .iter()
        .position(|l| l == "[#general] marker: END")
        .expect("END in the log");
    let said: Vec<String> = lines[begin + 1..finish]
        .iter()
        .filter(|l| l.starts_with("[#general] "))
        .cloned()
        .collect();
    let mut lost = Vec::new();
    for (name, window) in &windows {
        let mine = format!("{name}:");
        let expected: Vec<String> = said
            .iter()
            .filter(|l| !l.starts_with(&format!("[#general] {mine}")))
            .cloned()
            .collect();
        match window {
            Ok(got) => {
                if let Err(e) = same_per_sender(&expected, got) {
                    lost.push(format!("{name}: {e}"));
                }
            }
            Err(e) => lost.push(e.clone()),
        }
    }
    let problems = problems.lock().unwrap().clone();
    let warm_kb = warm_kb.unwrap_or(end_kb);
    eprintln!(
        "seed={seed}: {soak:?} soak; {} #general messages in the window; \
         VmRSS MB each second: {samples:?}; warm {} KB, end {} KB; {} churn problems",
        said.len(),
        warm_kb,
        end_kb,
        problems.len()
    );
    assert!(lost.is_empty(), "seed={seed}: lost deliveries: {lost:?}");
    assert!(
        problems.is_empty(),
        "seed={seed}: {} churn problems, first: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    let allowed = warm_kb + ((warm_kb as f64 * GROWTH) as u64).max(SLACK_KB);
    assert!(
        end_kb <= allowed,
        "seed={seed}: VmRSS grew from {warm_kb} KB after warm-up to {end_kb} KB (allowed {allowed} KB)"
    );

    // The churners are gone: only the core and the marker are left.
    let mut stayed: Vec<String> = (0..CORE).map(|k| format!("core{k}")).collect();
    stayed.push("marker".into());
    stayed.sort_by_key(|n| n.to_lowercase());
    users_becomes(&marker, &format!("* online: {}", stayed.join(", ")), LIMIT)
        .unwrap_or_else(|e| panic!("seed={seed}: {e}"));
    settle(pid, baseline, 2, LIMIT).unwrap_or_else(|now| {
        panic!("seed={seed}: threads/fds did not come back: before {baseline:?}, now {now:?}")
    });
    assert_eq!(server.wait_exit(Duration::from_millis(100)), None);
    assert!(
        panics(&server.stderr()).is_empty(),
        "seed={seed}: {:?}",
        panics(&server.stderr())
    );
}
