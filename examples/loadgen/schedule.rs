//! Sending on a fixed schedule: the open loop of the crate doc.
//!
//! The plan of a step is fixed before it starts: message `k` is due at
//! `start + k / rate`, and sender `k % senders` sends it. A sender sleeps
//! until its next message is due; if it has fallen behind (the server
//! pushes back through TCP flow control, or the generator is short of CPU)
//! it sends everything overdue at once, and the lateness shows in the
//! latency measured from each message's due time, instead of hiding in
//! messages never sent.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::message::{write_bench_line, LINE_BYTES};
use super::net::send_all;
use super::shared::{Client, Shared, WORKER_STACK};

/// A sender falls this far behind its schedule before it gives up on the
/// rest; what it did not send is reported as offered but not sent.
pub(crate) const SEND_GRACE: Duration = Duration::from_secs(1);
/// A sender does not sleep for less than this: the kernel's timers are not
/// finer (Linux's default timer slack is 50 µs), so a message due that soon
/// goes out now, a little early.
const MIN_SLEEP_NANOS: u64 = 50_000;
/// The most bytes a sender writes at once when several messages are due.
const BATCH_BYTES: usize = 16 * 1024;

/// The plan of one step: message `k` (0 to `offered - 1`) is due at
/// `start + k / rate` and is sent by sender `k % senders`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    pub(crate) step: usize,
    pub(crate) rate: f64,
    pub(crate) offered: u64,
    pub(crate) senders: usize,
    /// Nanoseconds since the run's origin.
    pub(crate) start: u64,
    /// After this, senders give up on what they have not sent.
    pub(crate) stop: u64,
}

impl Schedule {
    fn due(&self, k: u64) -> u64 {
        self.start + (k as f64 * 1e9 / self.rate) as u64
    }
}

/// What one sender did in a step.
#[derive(Debug, Default)]
pub(crate) struct SenderOutcome {
    pub(crate) sent: u64,
    /// How far behind its schedule this sender fell, at worst (ns).
    pub(crate) max_lag: u64,
    pub(crate) error: Option<String>,
}

impl SenderOutcome {
    fn failed(error: &str) -> SenderOutcome {
        SenderOutcome {
            error: Some(error.to_string()),
            ..SenderOutcome::default()
        }
    }
}

/// Runs the schedule: a thread for each of the first `schedule.senders`
/// clients, and returns when all of them are done (at the latest
/// `SEND_GRACE` after the last message was due).
pub(crate) fn send_step(
    clients: &[Arc<Client>],
    schedule: &Schedule,
    shared: &Shared,
) -> Vec<SenderOutcome> {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..schedule.senders)
            .map(|s| {
                let client = &clients[s];
                thread::Builder::new()
                    .name(format!("sender {s}"))
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, move || send_on_schedule(client, s, schedule, shared))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| SenderOutcome::failed("a sender thread panicked")),
                Err(e) => SenderOutcome::failed(&format!("cannot start a sender thread: {e}")),
            })
            .collect()
    })
}

/// One sender's share of the schedule: sleeps until its next message is due,
/// then writes every message that is due by now in one `write` (one when it
/// keeps up, several when it has fallen behind), each line whole.
fn send_on_schedule(
    client: &Client,
    sender: usize,
    schedule: &Schedule,
    shared: &Shared,
) -> SenderOutcome {
    let mut outcome = SenderOutcome::default();
    let mut batch = Vec::with_capacity(BATCH_BYTES + LINE_BYTES);
    let stride = schedule.senders as u64;
    let give_up = shared.origin + Duration::from_nanos(schedule.stop);
    let mut k = sender as u64;
    let mut seq = 0;
    while k < schedule.offered {
        let now = shared.nanos();
        if now > schedule.stop {
            break;
        }
        let due = schedule.due(k);
        if due > now + MIN_SLEEP_NANOS {
            thread::sleep(Duration::from_nanos(due - now));
            continue;
        }
        batch.clear();
        let mut lines = 0;
        let horizon = now.max(due);
        while k < schedule.offered && schedule.due(k) <= horizon && batch.len() < BATCH_BYTES {
            let due = schedule.due(k);
            write_bench_line(&mut batch, schedule.step, sender, seq, due);
            outcome.max_lag = outcome.max_lag.max(now.saturating_sub(due));
            k += stride;
            seq += 1;
            lines += 1;
        }
        if let Err(e) = send_all(&client.stream, &batch, give_up) {
            outcome.error = Some(format!("{}: {e}", client.name));
            break;
        }
        outcome.sent += lines;
    }
    outcome
}
