//! The crowd: the measured clients, connected and registered, with the
//! threads that read for them, and what the main thread does with them
//! (wait for the join notices, run a step of sending, send the one
//! broadcast, add up the tallies).
//!
//! Connecting is done by a few connector threads in parallel, each one
//! waiting for its handshake: the server's listen backlog is short, and one
//! connection at a time would make ten thousand clients take minutes.
//! Dropping the crowd closes every connection and waits for its readers.

use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::handshake::{join_chat, WRITE_TIMEOUT};
use super::inbox::Inbox;
use super::irc::join_irc;
use super::message::{write_bench_line, LINE_BYTES, NAME_PREFIX};
use super::net::send_all;
use super::options::{Options, WayIn};
use super::readers::{buffer_size, Readers, SWEEP_PAUSE_MAX};
use super::report::{Broadcast, Joins, StepResult};
use super::resources::CpuClock;
use super::schedule::{send_step, Schedule, SEND_GRACE};
use super::shared::{lock, Client, Shared, WORKER_STACK};
use super::sse::join_sse;
use super::tally::Tally;

/// Connectors working in parallel. The server's listen backlog is 128, so a
/// few at a time never overflow it, and each one waits for its handshake.
const CONNECTORS: usize = 8;
/// Join notices: stop waiting once none has arrived for this long...
pub(crate) const JOIN_QUIET: Duration = Duration::from_secs(2);
/// ...or after this long in all.
const JOIN_LIMIT: Duration = Duration::from_secs(300);
/// `--idle`: how long the one broadcast may take to reach everyone.
const BROADCAST_LIMIT: Duration = Duration::from_secs(10);

/// All the clients of the run and the threads reading for them. Dropping it
/// closes every connection and waits for the readers.
pub(crate) struct Crowd {
    pub(crate) shared: Arc<Shared>,
    /// Ordered by index: `clients[i]` is `lg{i:04}`, and the first
    /// `--senders` of them send.
    pub(crate) clients: Vec<Arc<Client>>,
    readers: Readers,
    /// When the first connection was started and the last handshake ended.
    started: u64,
    registered: u64,
}

/// What the connector threads share while the crowd connects.
struct Connecting<'a> {
    options: &'a Options,
    shared: &'a Arc<Shared>,
    readers: &'a Readers,
    started: u64,
    /// The index of the next client to connect, and how many are done.
    next: AtomicUsize,
    done: AtomicUsize,
    /// The clients registered so far, with their indexes, in the order
    /// they made it.
    joined: Mutex<Vec<(usize, Arc<Client>)>>,
    /// The first error stops every connector; it is the one reported.
    failure: Mutex<Option<String>>,
}

impl Connecting<'_> {
    fn fail(&self, error: String) {
        lock(&self.failure).get_or_insert(error);
    }

    fn failed(&self) -> bool {
        lock(&self.failure).is_some()
    }

    /// One connector thread: takes the next index and connects that client,
    /// until every index is taken or something has failed.
    fn connector(&self) {
        let total = self.options.clients;
        while !self.failed() {
            let i = self.next.fetch_add(1, SeqCst);
            if i >= total {
                break;
            }
            self.connect_one(i);
            let count = self.done.fetch_add(1, SeqCst) + 1;
            if total >= 2000 && count.is_multiple_of(1000) {
                eprintln!(
                    "loadgen: {count} clients registered ({:.1} s)",
                    (self.shared.nanos() - self.started) as f64 / 1e9
                );
            }
        }
    }

    /// Connects and registers client `i`, then starts its reader at once:
    /// from now on the server sends it join notices, and a client that did
    /// not read them would be cut off when its queue on the server filled.
    fn connect_one(&self, i: usize) {
        match self.join(i) {
            Ok((client, inbox)) => {
                let client = Arc::new(client);
                lock(&self.joined).push((i, Arc::clone(&client)));
                if let Err(e) = self.readers.add(i, client, inbox, self.shared) {
                    self.fail(e);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// The handshake of client `i`: the senders are terminal clients, the
    /// others come in the way `--receivers` says.
    fn join(&self, i: usize) -> Result<(Client, Inbox), String> {
        let (options, shared) = (self.options, self.shared);
        let name = format!("{NAME_PREFIX}{i:04}");
        let buffer = buffer_size(options.readers);
        match options.receivers {
            _ if i < options.senders => join_chat(options, &name, buffer, shared),
            WayIn::Terminal => join_chat(options, &name, buffer, shared),
            WayIn::Irc(addr) => join_irc(options, &name, addr, buffer, shared),
            WayIn::Sse(addr) => join_sse(options, &name, addr, buffer, shared),
        }
    }
}

impl Crowd {
    /// Connects and registers `--clients` clients, `CONNECTORS` at a time,
    /// starting each one's reader as soon as its handshake is done.
    pub(crate) fn connect(options: &Options, shared: &Arc<Shared>) -> Result<Crowd, String> {
        let total = options.clients;
        let mut crowd = Crowd {
            shared: Arc::clone(shared),
            clients: Vec::new(),
            readers: Readers::start(options.readers, shared)?,
            started: shared.nanos(),
            registered: 0,
        };
        let connecting = Connecting {
            options,
            shared,
            readers: &crowd.readers,
            started: crowd.started,
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            joined: Mutex::new(Vec::with_capacity(total)),
            failure: Mutex::new(None),
        };
        thread::scope(|scope| {
            for c in 0..CONNECTORS.min(total) {
                let spawned = thread::Builder::new()
                    .name(format!("connector {c}"))
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, || connecting.connector());
                if let Err(e) = spawned {
                    connecting.fail(format!("cannot start a connector thread: {e}"));
                }
            }
        });

        crowd.registered = shared.nanos();
        let mut joined = connecting
            .joined
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        joined.sort_by_key(|(i, _)| *i);
        crowd.clients = joined.into_iter().map(|(_, client)| client).collect();
        match connecting
            .failure
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            // Dropping the crowd closes the connections that did open.
            Some(error) => Err(format!(
                "registered {} of {total} clients in {:.2} s, then: {error}",
                crowd.clients.len(),
                crowd.connect_secs()
            )),
            None => Ok(crowd),
        }
    }

    pub(crate) fn connect_secs(&self) -> f64 {
        self.registered.saturating_sub(self.started) as f64 / 1e9
    }

    /// Waits until every client has the join notice of everyone who joined
    /// after it: N(N-1)/2 notices in all. Gives up when none has come for
    /// `JOIN_QUIET`, so a server that does not announce joins (or stops
    /// announcing them in big rooms) costs only that long.
    pub(crate) fn wait_for_joins(&self) -> Joins {
        let n = self.clients.len() as u64;
        let expected = n * n.saturating_sub(1) / 2;
        let give_up = Instant::now() + JOIN_LIMIT;
        let mut seen = 0;
        let mut last_change = Instant::now();
        loop {
            let count = self.shared.joins.load(SeqCst);
            if count >= expected || Instant::now() >= give_up {
                break;
            }
            if count != seen {
                seen = count;
                last_change = Instant::now();
            } else if last_change.elapsed() >= JOIN_QUIET {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let notices = self.shared.joins.load(SeqCst);
        let end = if notices == 0 {
            self.registered
        } else {
            self.registered.max(self.shared.last_join.load(SeqCst))
        };
        Joins {
            secs: end.saturating_sub(self.started) as f64 / 1e9,
            notices,
            expected,
        }
    }

    /// One round of sending: `--senders` clients send `rate` messages a
    /// second in all for `--secs` seconds; then the deliveries are drained,
    /// collected and summed up.
    pub(crate) fn run_step(&self, step: usize, rate: f64, options: &Options) -> StepResult {
        let shared = &*self.shared;
        let listeners = self.clients.len() as u64 - 1;
        let offered = (rate * options.secs).floor() as u64;
        let cpu = CpuClock::start(options.server_pid);
        // Start a moment from now, so every sender thread is up in time.
        let start = shared.nanos() + 10_000_000;
        let schedule = Schedule {
            step,
            rate,
            offered,
            senders: options.senders,
            start,
            stop: start
                + Duration::from_secs_f64(options.secs).as_nanos() as u64
                + SEND_GRACE.as_nanos() as u64,
        };

        let outcomes = send_step(&self.clients, &schedule, shared);
        let send_end = shared.nanos();
        let sent: u64 = outcomes.iter().map(|o| o.sent).sum();
        let expected = sent * listeners;

        self.drain(step, expected, options.drain);
        let tally = self.collect(step + 1);
        StepResult {
            rate,
            secs: options.secs,
            offered,
            sent,
            expected,
            delivered: tally.delivered,
            late: tally.late,
            out_of_order: tally.out_of_order,
            gaps: tally.gaps,
            errors: tally.errors,
            first_error: tally.first_error.clone(),
            send_error: outcomes.iter().find_map(|o| o.error.clone()),
            send_secs: send_end.saturating_sub(start) as f64 / 1e9,
            recv_secs: tally.last_at.saturating_sub(start) as f64 / 1e9,
            send_lag_ms: outcomes.iter().map(|o| o.max_lag).max().unwrap_or(0) as f64 / 1e6,
            latency: tally.latency,
            closed: shared.closed(),
            cpu: cpu.read(),
        }
    }

    /// Waits for the deliveries of `step` still on their way, until all
    /// `expected` have come or `limit` has passed.
    fn drain(&self, step: usize, expected: u64, limit: Duration) {
        let drain_until = Instant::now() + limit;
        while self.shared.delivered(step) < expected && Instant::now() < drain_until {
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// `--idle`: the first client says one line; how many of the others get
    /// it within `BROADCAST_LIMIT`, and how long the last one waited.
    pub(crate) fn broadcast(&self) -> Result<Broadcast, String> {
        let expected = self.clients.len() as u64 - 1;
        // Sweepers that found nothing for a while sleep up to 20 ms between
        // turns; make them look more often while we measure.
        self.shared.eager.store(true, SeqCst);
        thread::sleep(SWEEP_PAUSE_MAX + Duration::from_millis(5));
        let mut line = Vec::with_capacity(LINE_BYTES);
        write_bench_line(&mut line, 0, 0, 0, self.shared.nanos());
        let sender = &self.clients[0];
        send_all(&sender.stream, &line, Instant::now() + WRITE_TIMEOUT)
            .map_err(|e| format!("{}: cannot send the broadcast: {e}", sender.name))?;
        let give_up = Instant::now() + BROADCAST_LIMIT;
        while self.shared.delivered(0) < expected && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(1));
        }
        self.shared.eager.store(false, SeqCst);
        let tally = self.collect(1);
        Ok(Broadcast {
            reached: tally.delivered,
            expected,
            closed: self.shared.closed(),
            latency: tally.latency,
        })
    }

    /// Takes every client's tally, leaving a fresh one for `next_step`, and
    /// adds them up. A message of the old step that arrives later counts as
    /// `late` in the new one.
    fn collect(&self, next_step: usize) -> Tally {
        let mut total = Tally::new(next_step.saturating_sub(1), 0);
        for client in &self.clients {
            let mine = std::mem::replace(
                &mut *client.tally(),
                Tally::new(next_step, self.shared.senders),
            );
            total.absorb(&mine);
        }
        total
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        for client in &self.clients {
            // Wakes a reader blocked in `read`: it returns 0 at once.
            let _ = client.stream.shutdown(Shutdown::Both);
        }
        self.readers.join();
    }
}
