//! Stalled churn (`--stalled-churn K`): a stream of new clients that never
//! read, K arriving every second while the mode runs, at most M of them open
//! at a time (`--stalled-alive M`), the oldest closed first.
//!
//! `--stalled` asks whether one slow reader that stays costs the others
//! anything. This asks the harder question of a busy LAN, where readers that
//! stall keep coming: each one is a whole handshake under a fresh name, a
//! new queue on the server that fills with the room's traffic, and then a
//! connection to tear down. Like `--stalled` clients, they are not part of
//! the measured crowd, and the crowd ignores their join and leave notices
//! (their names, `lgcNNNNN`, are not `lg` and digits).
//!
//! One thread does it all, on a fixed schedule as the senders do: client
//! `n` is due `n / K` seconds after the start, and one that is late (because
//! the last handshake was slow) goes at once, so the rate is kept on average.
//!
//! All of them connect from 127.0.0.1 (or `::1`). Spreading them over
//! 127.0.0.2 to 127.0.0.9 would need the local address bound before
//! `connect`, and std's `TcpStream` has no call for that (it takes the
//! `socket2` or `libc` crate, and this crate has no dependencies). Nothing
//! is lost with `examples/bench.toml`, whose `max_clients_per_ip = 0` makes
//! the server count no address apart.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::handshake::join_chat;
use super::options::Options;
use super::shared::{Shared, WORKER_STACK};
use super::stalled::count_closed;

/// A churning client's name: this, then its number in five digits or more.
const CHURN_PREFIX: &str = "lgc";
/// The churn thread never sleeps longer than this, so that it notices the
/// end of the run soon.
const CHURN_NAP: Duration = Duration::from_millis(50);

/// The churn thread, running until `stop` (or until dropped).
pub(crate) struct Churn {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Churned>>,
}

/// What the churn thread did.
pub(crate) struct Churned {
    /// Clients that completed their handshake, and ones that did not.
    pub(crate) joined: u64,
    pub(crate) failed: u64,
    pub(crate) first_error: Option<String>,
    /// From the first arrival's due time until the thread stopped.
    pub(crate) secs: f64,
    /// The clients still open at the end (at most `--stalled-alive`).
    pub(crate) open: Vec<TcpStream>,
}

impl Churned {
    /// How many of the clients still open at the end the server has closed.
    /// Reads them: call it once, at the very end.
    pub(crate) fn count_closed(&self) -> usize {
        count_closed(&self.open)
    }
}

impl Churn {
    /// Starts the churn thread if `--stalled-churn` asks for one.
    pub(crate) fn start(options: &Options, shared: &Arc<Shared>) -> Result<Option<Churn>, String> {
        if options.stalled_churn <= 0.0 {
            return Ok(None);
        }
        eprintln!(
            "loadgen: {} new clients a second that never read, at most {} open at a time, \
             all from {}",
            options.stalled_churn,
            options.stalled_alive,
            options.addr.ip()
        );
        let stop = Arc::new(AtomicBool::new(false));
        let (options, shared, stopped) = (options.clone(), Arc::clone(shared), Arc::clone(&stop));
        let thread = thread::Builder::new()
            .name("churn".to_string())
            .stack_size(WORKER_STACK)
            .spawn(move || churn(&options, &shared, &stopped))
            .map_err(|e| format!("cannot start the churn thread: {e}"))?;
        Ok(Some(Churn {
            stop,
            thread: Some(thread),
        }))
    }

    /// Stops the arrivals and returns what the thread did. Waits for the
    /// handshake under way, if any (at most its time limit).
    pub(crate) fn stop(mut self) -> Churned {
        self.stop.store(true, SeqCst);
        let thread = self
            .thread
            .take()
            .expect("the thread is joined only here or in drop");
        thread.join().unwrap_or_else(|_| Churned {
            joined: 0,
            failed: 0,
            first_error: Some("the churn thread panicked".to_string()),
            secs: 0.0,
            open: Vec::new(),
        })
    }
}

impl Drop for Churn {
    /// Stops the thread when the run ends early, on an error.
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The churn thread: connects client after client on schedule, closing the
/// oldest first whenever `--stalled-alive` are open, until `stop` is set.
fn churn(options: &Options, shared: &Shared, stop: &AtomicBool) -> Churned {
    let interval = Duration::from_secs_f64(1.0 / options.stalled_churn);
    let start = Instant::now();
    let mut open: VecDeque<TcpStream> = VecDeque::with_capacity(options.stalled_alive);
    let mut churned = Churned {
        joined: 0,
        failed: 0,
        first_error: None,
        secs: 0.0,
        open: Vec::new(),
    };
    let mut n: u32 = 0;
    while !stop.load(SeqCst) {
        let due = start + interval * n;
        let now = Instant::now();
        if due > now {
            thread::sleep((due - now).min(CHURN_NAP));
            continue;
        }
        if open.len() >= options.stalled_alive {
            // Dropping the socket closes it. The unread bytes in its receive
            // buffer make the kernel answer with a reset, not a FIN: to the
            // server it looks like a client that went away, which it is.
            open.pop_front();
        }
        let name = format!("{CHURN_PREFIX}{n:05}");
        n += 1;
        // A small buffer: it holds only the handshake, then goes.
        match join_chat(options, &name, 4096, shared) {
            Ok((client, _inbox)) => {
                churned.joined += 1;
                open.push_back(client.stream);
            }
            Err(e) => {
                churned.failed += 1;
                churned.first_error.get_or_insert(e);
            }
        }
    }
    churned.secs = start.elapsed().as_secs_f64();
    churned.open = open.into();
    churned
}
