//! Connection limits under fire: while the clients already in keep
//! chatting, a stream of extra connections is turned away, each with
//! exactly one line (`! too many connections from your address` or
//! `! server full`) and then the end of the stream, and the chat is not
//! disturbed: the clients inside get every message, in order, and nothing
//! else (no notice about connections that never got in).

use super::one_at_a_time;
use crate::support::{panics, users_becomes, Client, Event, TestServer};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(5);
const REFUSED: usize = 200;
const MESSAGES: usize = 200;

/// Everything the server sends a connection until it closes it. Err if it
/// stays open.
fn read_until_closed(addr: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Ok(String::from_utf8_lossy(&got).into_owned())
            }
            Err(e) => return Err(format!("after {got:?}: {e}")),
        }
    }
    Err(format!("still open after {got:?}"))
}

/// Three clients fill the server (by whichever limit the config sets);
/// while alice and bob exchange messages, `REFUSED` more connections must
/// each get exactly `refusal` and be closed.
fn refusals_do_not_disturb_the_chat(config: &str, refusal: &str) {
    let mut server = TestServer::with_config(config);
    let addr = server.addr;
    let alice = Client::login(addr, "alice", LIMIT, "alice");
    let bob = Client::login(addr, "bob", LIMIT, "bob");
    let carol = Client::login(addr, "carol", LIMIT, "carol");
    // Read the join notices, so that from here on alice and bob must get
    // nothing but each other's messages.
    alice
        .wait_for_line(LIMIT, |l| l == "* carol joined #general")
        .unwrap();
    bob.wait_for_line(LIMIT, |l| l == "* carol joined #general")
        .unwrap();

    let turned_away = thread::spawn(move || {
        (0..REFUSED)
            .map(|_| read_until_closed(addr))
            .collect::<Vec<_>>()
    });
    // alice and bob take turns, each waiting for the other's message.
    for i in 0..MESSAGES {
        let (from, to) = if i % 2 == 0 {
            (&alice, &bob)
        } else {
            (&bob, &alice)
        };
        from.send(&format!("message {i}"));
        let expected = format!("[#general] {}: message {i}", from.name);
        match to.next(LIMIT) {
            Some(Event::Line(line)) if line == expected => {}
            other => panic!("{} expected {expected:?}, got {other:?}", to.name),
        }
    }
    let expected_line = format!("{refusal}\n");
    for (i, result) in turned_away
        .join()
        .expect("refusing thread")
        .into_iter()
        .enumerate()
    {
        match result {
            Ok(text) => assert_eq!(text, expected_line, "refused connection #{i}"),
            Err(e) => panic!("refused connection #{i}: {e}"),
        }
    }
    // Nothing else reached the three meanwhile.
    for peer in [&alice, &bob] {
        assert_eq!(peer.take_ready(), vec![], "{} got more", peer.name);
    }
    // carol, who only listened, got all of it, in order, and nothing else.
    for i in 0..MESSAGES {
        let from = if i % 2 == 0 { "alice" } else { "bob" };
        let expected = format!("[#general] {from}: message {i}");
        match carol.next(LIMIT) {
            Some(Event::Line(line)) if line == expected => {}
            other => panic!("carol expected {expected:?}, got {other:?}"),
        }
    }
    users_becomes(&carol, "* online: alice, bob, carol", LIMIT).unwrap();
    assert_eq!(server.wait_exit(Duration::from_millis(100)), None);
    assert!(panics(&server.stderr()).is_empty(), "{}", server.stderr());
}

#[test]
fn connections_over_the_per_address_limit_are_refused_without_disturbing_the_chat() {
    let _turn = one_at_a_time();
    refusals_do_not_disturb_the_chat(
        "max_clients_per_ip = 3\nrate_limit_per_sec = 0",
        "! too many connections from your address",
    );
}

#[test]
fn connections_to_a_full_server_are_refused_without_disturbing_the_chat() {
    let _turn = one_at_a_time();
    refusals_do_not_disturb_the_chat(
        "max_clients = 3\nmax_clients_per_ip = 0\nrate_limit_per_sec = 0",
        "! server full",
    );
}
