//! `kill -9` in the middle of traffic, then a restart on the same files.
//!
//! Two promises are at stake. The chat log is written before a message is
//! delivered, one whole line per write, so everything any client saw is in
//! the log, and a torn last line (which a crash in the middle of a write
//! could leave) is skipped with a warning at the next start. The accounts
//! file is replaced atomically, so every registration that was confirmed
//! survives, whenever the kill lands.

use super::one_at_a_time;
use crate::support::{wire_form, Client, Event, TempDir, TestServer};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(5);
/// How long the traffic runs before the kill.
const TRAFFIC: Duration = Duration::from_millis(1500);
/// One message per chatter this often.
const PACE: Duration = Duration::from_millis(20);
/// Most messages one chatter sends, whatever the time.
const MAX_MESSAGES: usize = 1000;
const REPLAY: usize = 20;

/// Chatters talking in #general until the server dies: each one's sender
/// thread, and a thread recording every line it receives.
struct Traffic {
    senders: Vec<JoinHandle<()>>,
    recorders: Vec<JoinHandle<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Traffic {
    fn start(addr: SocketAddr, chatters: usize) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders = Vec::new();
        let mut recorders = Vec::new();
        for k in 0..chatters {
            let peer = Client::login(addr, &format!("c{k}"), LIMIT, "chatter");
            let mut out = peer.stream().try_clone().unwrap();
            let stop_sending = Arc::clone(&stop);
            senders.push(thread::spawn(move || {
                for i in 0..MAX_MESSAGES {
                    if stop_sending.load(Ordering::SeqCst)
                        || out.write_all(format!("c{k} m{i}\n").as_bytes()).is_err()
                    {
                        return;
                    }
                    thread::sleep(PACE);
                }
            }));
            recorders.push(thread::spawn(move || {
                let mut seen = Vec::new();
                // Until the kill closes the connection (bounded anyway).
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(30) {
                    match peer.next(LIMIT) {
                        Some(Event::Line(line)) => seen.push(line),
                        Some(Event::Closed) | None => break,
                    }
                }
                seen
            }));
        }
        Traffic {
            senders,
            recorders,
            stop,
        }
    }

    /// Stops the senders and returns every line each chatter received.
    fn finish(self) -> Vec<Vec<String>> {
        self.stop.store(true, Ordering::SeqCst);
        for sender in self.senders {
            sender.join().expect("sender thread");
        }
        self.recorders
            .into_iter()
            .map(|r| r.join().expect("recorder thread"))
            .collect()
    }
}

#[test]
fn after_kill_9_every_delivered_message_is_in_the_log_and_a_torn_line_is_skipped() {
    let _turn = one_at_a_time();
    let extra = "rate_limit_per_sec = 0\nmax_clients_per_ip = 0";
    let server = TestServer::with_config(extra);
    let traffic = Traffic::start(server.addr, 4);
    thread::sleep(TRAFFIC);
    let dir = server.kill();
    let received = traffic.finish();

    let log_path = dir.path().join("history.log");
    let log = fs::read_to_string(&log_path).expect("read the log");
    assert!(
        log.is_empty() || log.ends_with('\n'),
        "the server itself left a torn line: {:?}",
        &log[log.len().saturating_sub(100)..]
    );
    let entries: Vec<String> = log.lines().filter_map(wire_form).collect();
    assert_eq!(
        entries.len(),
        log.lines().count(),
        "unreadable lines in the log"
    );
    let logged: HashSet<&String> = entries.iter().collect();
    let mut seen = 0;
    for (k, lines) in received.iter().enumerate() {
        for line in lines.iter().filter(|l| l.starts_with("[#general] ")) {
            seen += 1;
            assert!(
                logged.contains(line),
                "c{k} received {line:?}, which is not in the log"
            );
        }
    }
    assert!(
        seen > 100,
        "only {seen} messages were delivered before the kill"
    );

    // What a crash in the middle of a write would leave: half a line.
    let torn_line_number = log.lines().count() + 1;
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .expect("open the log");
    file.write_all(b"2031-01-01T00:00:00Z\t#general\ttorn\tthis line was cut in the mid")
        .expect("append a torn line");
    drop(file);

    let server = TestServer::in_dir(dir, extra);
    let stderr = server.stderr();
    let warned = format!("line {torn_line_number}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("history.log") && l.contains(&warned)),
        "no warning about the torn line ({warned}) on stderr:\n{stderr}"
    );
    // The replay holds the last messages before the crash, not the torn one.
    let reader = server.connect();
    reader.expect_prefix("* Welcome to ");
    reader.send("reader");
    reader.expect_prefix("* Hello reader!");
    let last = &entries[entries.len().saturating_sub(REPLAY)..];
    reader.expect(&format!("* last {} messages in #general:", last.len()));
    for expected in last {
        reader.expect(expected);
    }
    // New messages go on a line of their own after the torn one.
    reader.send("after the crash");
    reader.send("/users");
    reader.expect("* online: reader");
    let log = server.history();
    let new_line = log.lines().last().unwrap_or_default();
    assert_eq!(
        wire_form(new_line).as_deref(),
        Some("[#general] reader: after the crash"),
        "the log after the restart ends with {:?}",
        &log[log.len().saturating_sub(200)..]
    );
}

/// Registers accounts one after another on fresh connections until the
/// server dies; returns (name, password) of those whose registration was
/// confirmed.
fn register_until_killed(addr: SocketAddr, t: usize, stop: &AtomicBool) -> Vec<(String, String)> {
    let mut confirmed = Vec::new();
    for i in 0..500 {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let name = format!("acc{t}n{i}");
        let password = format!("secret-{t}-{i}-pw");
        let Ok(peer) = Client::connect(addr) else {
            break;
        };
        let registered = format!("* {name} is now registered");
        let done = peer
            .wait_for_line(LIMIT, |l| l.starts_with("* Welcome to "))
            .and_then(|_| peer.try_send(&name).map_err(|e| e.to_string()))
            .and_then(|_| peer.wait_for_line(LIMIT, |l| l.starts_with("* Hello ")))
            .and_then(|_| {
                peer.try_send(&format!("/register {password}"))
                    .map_err(|e| e.to_string())
            })
            .and_then(|_| peer.wait_for_line(LIMIT, |l| l == registered || l.starts_with("! ")));
        match done {
            Ok((line, _)) if line == registered => confirmed.push((name, password)),
            Ok((line, _)) => panic!("{name}: /register was refused: {line}"),
            Err(_) => break, // the server is gone
        }
    }
    confirmed
}

#[test]
fn after_kill_9_every_confirmed_registration_logs_in() {
    let _turn = one_at_a_time();
    let extra = "password_iterations = 1000\naccounts_file = \"accounts.txt\"\n\
                 rate_limit_per_sec = 0\nmax_clients_per_ip = 0";
    let server = TestServer::in_dir(TempDir::new(), extra);
    let addr = server.addr;
    let traffic = Traffic::start(addr, 3);
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let registrants: Vec<_> = (0..3)
        .map(|t| {
            let stop = Arc::clone(&stop);
            let confirmed = Arc::clone(&confirmed);
            thread::spawn(move || {
                let mine = register_until_killed(addr, t, &stop);
                confirmed.lock().unwrap().extend(mine);
            })
        })
        .collect();
    thread::sleep(TRAFFIC);
    let dir = server.kill();
    stop.store(true, Ordering::SeqCst);
    for registrant in registrants {
        registrant.join().expect("registrant thread");
    }
    traffic.finish();
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(
        confirmed.len() >= 3,
        "only {} registrations were confirmed before the kill",
        confirmed.len()
    );

    let server = TestServer::in_dir(dir, extra);
    for (name, password) in &confirmed {
        let client = server.connect();
        client.expect_prefix("* Welcome to ");
        client.send(name);
        client.expect(&format!("* {name} is registered; enter your password:"));
        client.send(password);
        client.expect_prefix(&format!("* Hello {name}!"));
    }
    eprintln!(
        "{} confirmed registrations all log in after the restart",
        confirmed.len()
    );
}
