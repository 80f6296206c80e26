//! Running out of file descriptors: the server gets a limit of 64 open
//! files and a hundred connections arrive.
//!
//! Every connection costs the server a descriptor, so past the limit
//! `accept` fails (EMFILE). The promises: the clients already in keep
//! chatting; the extra connections are answered (welcomed while there is
//! room, refused or closed after that), none is left waiting with no answer;
//! the accept loop does not spin on the error (its CPU time stays low); and
//! once connections close, new clients get in again.
//!
//! The limit is put on the running test server with `prlimit --pid` (from
//! util-linux) rather than by starting the binary under `prlimit`: that way
//! the server is started by the shared test helper with the same config as
//! every other test, and the limit applies from the next descriptor it
//! opens.

use super::one_at_a_time;
use crate::support::{cpu_ticks, fds, panics, Client, TestServer, TICKS_PER_SEC};
use std::fs;
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const FD_LIMIT: usize = 64;
const CONNECTIONS: usize = 100;
const CHATTERS: usize = 10;
const LIMIT: Duration = Duration::from_secs(5);
/// How long an extra connection may wait for its first answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// The server may use at most this share of one core while it is out of
/// descriptors and connections wait.
const MAX_CPU_SHARE: f64 = 0.2;

/// Lowers the open-file limit of a running process.
fn limit_open_files(pid: u32, limit: usize) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .unwrap_or_else(|e| {
            panic!("this test needs `prlimit` (util-linux) to limit the server's open files: {e}")
        });
    assert!(status.success(), "prlimit failed: {status}");
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    assert_eq!(
        line.split_whitespace().nth(3),
        Some(limit.to_string().as_str()),
        "{line}"
    );
}

/// What became of one extra connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Its first line.
    Line(String),
    /// Closed (end of stream or reset) before any line.
    Closed,
    /// Nothing at all within the wait.
    Nothing,
}

/// Waits up to `within` for every stream's first line or close, reading
/// them all in turn without blocking.
fn first_answers(streams: &mut [TcpStream], within: Duration) -> Vec<Answer> {
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); streams.len()];
    let mut answers = vec![Answer::Nothing; streams.len()];
    for stream in streams.iter() {
        stream.set_nonblocking(true).expect("non-blocking");
    }
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && answers.contains(&Answer::Nothing) {
        for (i, stream) in streams.iter_mut().enumerate() {
            if answers[i] != Answer::Nothing {
                continue;
            }
            let mut buf = [0u8; 256];
            match stream.read(&mut buf) {
                Ok(0) => answers[i] = Answer::Closed,
                Ok(n) => {
                    got[i].extend_from_slice(&buf[..n]);
                    if let Some(end) = got[i].iter().position(|&b| b == b'\n') {
                        let line = String::from_utf8_lossy(&got[i][..end]).into_owned();
                        answers[i] = Answer::Line(line);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => answers[i] = Answer::Closed,
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    answers
}

#[test]
fn out_of_descriptors_the_server_answers_every_connection_and_recovers() {
    let _turn = one_at_a_time();
    let mut server = TestServer::with_config("max_clients_per_ip = 0\nrate_limit_per_sec = 0");
    let pid = server.pid();
    let addr = server.addr;
    limit_open_files(pid, FD_LIMIT);
    let chatters: Vec<Client> = (0..CHATTERS)
        .map(|k| Client::login(addr, &format!("chat{k}"), LIMIT, "chatter"))
        .collect();

    // The rest of the hundred: the first ones fit, the others do not.
    let mut extra: Vec<TcpStream> = (CHATTERS..CONNECTIONS)
        .map(|_| TcpStream::connect(addr).expect("connect (the kernel queues it)"))
        .collect();
    let answers = first_answers(&mut extra, ANSWER_WITHIN);
    let welcomed = answers
        .iter()
        .filter(|a| matches!(a, Answer::Line(l) if l.starts_with("* Welcome to ")))
        .count();
    let nothing = answers.iter().filter(|a| **a == Answer::Nothing).count();
    let others: Vec<&Answer> = answers
        .iter()
        .filter(|a| !matches!(a, Answer::Line(l) if l.starts_with("* Welcome to ")))
        .filter(|a| **a != Answer::Nothing)
        .collect();
    eprintln!(
        "server fds {} (limit {FD_LIMIT}); of {} extra connections {welcomed} welcomed, \
         {nothing} unanswered, others: {others:?}",
        fds(pid),
        extra.len()
    );

    // Out of descriptors, the server must not spin.
    let before = cpu_ticks(pid);
    thread::sleep(Duration::from_secs(2));
    let used = (cpu_ticks(pid) - before) as f64 / TICKS_PER_SEC as f64;
    assert!(
        used < 2.0 * MAX_CPU_SHARE,
        "the server used {used:.2} s of CPU in 2 s while out of descriptors"
    );

    // The clients that were in first keep chatting.
    chatters[0].send("still chatting");
    for peer in &chatters[1..] {
        peer.wait_for_line(LIMIT, |l| l == "[#general] chat0: still chatting")
            .unwrap_or_else(|e| panic!("{} while out of descriptors: {e}", peer.name));
    }

    // Closing the extra connections makes room: a new client gets in, once
    // the server has noticed the closes and let their descriptors go (until
    // then a newcomer is, rightly, told the server is full).
    drop(extra);
    let freed_by = Instant::now() + Duration::from_secs(10);
    while fds(pid) + 4 > FD_LIMIT && Instant::now() < freed_by {
        thread::sleep(Duration::from_millis(20));
    }
    let late = Client::login(addr, "late", Duration::from_secs(10), "after closing");
    late.send("made it");
    chatters[1]
        .wait_for_line(LIMIT, |l| l == "[#general] late: made it")
        .unwrap_or_else(|e| panic!("chat1: {e}"));
    assert_eq!(server.wait_exit(Duration::from_millis(100)), None);
    assert!(panics(&server.stderr()).is_empty(), "{}", server.stderr());

    assert_eq!(
        nothing,
        0,
        "{nothing} of {} extra connections got no answer at all within {ANSWER_WITHIN:?} \
         ({welcomed} were welcomed) while the server was out of descriptors",
        CONNECTIONS - CHATTERS
    );
}
