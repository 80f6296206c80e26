//! Rounds of room churn (join, speak, leave, repeat, from several clients)
//! must not grow the server's memory round after round, and a restart
//! after them must start small.

use std::thread;

use super::one_at_a_time;
use crate::support::{rss_kb, Client, TempDir, TestServer};

const CLIENTS: usize = 4;
const ROOMS_PER_CLIENT: usize = 400;
/// As many as the replay keeps, so every room's buffer is full.
const MESSAGES_PER_ROOM: usize = 20;

const CONFIG: &str = "rate_limit_per_sec = 0\nhistory_max_bytes = 4194304";

/// One round: every client joins rooms never used before, fills each
/// room's replay, and leaves it.
fn round(server: &TestServer, round: usize) {
    let text = "x".repeat(500);
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = Client::connect(server.addr).expect("connect");
            let text = text.clone();
            thread::spawn(move || {
                client.line(); // the welcome

                // A name of its own each round: the last round's clients may
                // not be gone yet.
                client.send(&format!("churn{round}-{c}"));
                client.expect_prefix("* Hello churn");
                for i in 0..ROOMS_PER_CLIENT {
                    let room = format!("r{round}-{c}-{i}");
                    let mut batch = format!("/join {room}\n");
                    for _ in 0..MESSAGES_PER_ROOM {
                        batch.push_str(&format!("#{room} {text}\n"));
                    }
                    batch.push_str(&format!("/leave {room}\n"));
                    client.send_raw(batch.as_bytes());
                    client.wait_for(&format!("* you left #{room}"));
                }
                client.send("/quit");
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a churning client");
    }
}

#[test]
#[ignore = "long: run by .ci/run with --ignored"]
fn room_churn_levels_off_and_a_restart_starts_small() {
    let _turn = one_at_a_time();
    let idle = TestServer::with_config(CONFIG);
    let _someone = idle.login("someone");
    let idle_kb = rss_kb(idle.pid());
    drop(idle);

    let server = TestServer::with_config(CONFIG);
    round(&server, 1);
    let after_one = rss_kb(server.pid());
    round(&server, 2);
    let after_two = rss_kb(server.pid());
    round(&server, 3);
    let after_three = rss_kb(server.pid());
    let dir: TempDir = server.kill();
    let restarted = TestServer::in_dir(dir, CONFIG);
    let _someone = restarted.login("someone");
    let restart_kb = rss_kb(restarted.pid());
    eprintln!(
        "VmRSS: idle {idle_kb} kB; after rounds {after_one}, {after_two}, {after_three} kB; \
         restarted {restart_kb} kB"
    );
    assert!(
        after_three < after_one + 5 * 1024,
        "two more rounds of churn grew the server from {after_one} to {after_three} kB"
    );
    assert!(
        restart_kb < idle_kb + 5 * 1024,
        "after the churn the server restarted at {restart_kb} kB, an idle one at {idle_kb} kB"
    );
}
