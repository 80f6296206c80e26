//! Sending without waiting: a bounded outbox per client, drained into its
//! socket by a small pool of writer threads.
//!
//! A `write` to a TCP socket blocks when the socket's send buffer is full,
//! which happens when the peer stops reading. If the thread delivering a
//! chat message did that write itself, one client that stops reading would
//! stall the sender, and everyone waiting behind the sender. So delivering
//! a line only *appends* it to the recipient's outbox (a memory copy under a
//! lock held for nanoseconds) and moves on. Writer threads take whole
//! outboxes off a ready queue and write them out.
//!
//! Two things follow, both good:
//!
//! - **Coalescing.** A writer takes everything queued for a client at once
//!   and sends it with one `write_all`. When traffic is light that is one
//!   line per write, sent at once; when it is heavy, many lines share one
//!   system call, so throughput rises with load instead of collapsing.
//! - **Bounded cost of a slow reader.** An outbox holds at most `limit`
//!   bytes. A client that falls that far behind is not reading: its outbox
//!   refuses more, its socket is shut down (which also frees a writer that
//!   is blocked on it at once), and the registry drops it. A writer blocked
//!   on a full socket gives up after the socket's write timeout as well.
//!
//! **Resuming.** A browser's event stream can drop and come back (a Wi-Fi
//! hiccup, a laptop lid): its outbox is made [`resumable`](Outbox::resumable).
//! It keeps a copy of the last bytes it handed to the writers, because a
//! dropped connection loses what was still in the kernel's buffers, and a
//! failed write detaches the socket instead of cutting the client off.
//! Lines then wait, as before the stream first connected, until the
//! browser reconnects ([`resume`](Outbox::resume)) and the web page picks
//! from the copy what it missed.
//!
//! Why a pool and not a writer thread per client? A thread costs about
//! 10 KB of memory even when idle, and the kernel limits how many a process
//! may map. A reader thread per client is the price of blocking reads; a
//! second thread per client would double it for clients that mostly listen.
//! A handful of writers serve them all, since a writer spends its time in
//! the kernel and is free again within microseconds, unless a socket is
//! full, which the limit and the timeout bound.

use std::collections::VecDeque;
use std::mem;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::lock::{lock, wait, wait_timeout};
use crate::log;
use crate::net::write::write_within;

/// The outbox refused a line: it is closed (the client is leaving) or the
/// client fell too far behind and has been cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// One client's queue of bytes to send.
pub(crate) struct Outbox {
    /// The most bytes a client may be behind (`send_queue_bytes`).
    limit: usize,
    /// How many of the bytes already handed to the writers to keep for a
    /// resume; 0 for a connection that cannot come back.
    keep: usize,
    /// How long a socket may take nothing before its client is cut off
    /// (`write_timeout_ms`).
    stall_limit: Duration,
    /// Protects the queued bytes, the socket and the flags. Held only to
    /// copy bytes in or take them out, never during a write.
    state: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// Bytes waiting for a writer.
    queued: Vec<u8>,
    /// The unsent tail of the last write attempt: the socket took only part
    /// of it. Sent before `queued`.
    leftover: Vec<u8>,
    /// Bytes a writer has taken out and is writing right now: still behind,
    /// so they count against the limit.
    in_flight: usize,
    /// When the socket last took a byte (or when this outbox began to wait).
    last_progress: Option<Instant>,
    /// How long to wait before the next attempt while the socket takes
    /// nothing: grows from [`RETRY_FIRST`] to [`RETRY_MAX`].
    retry_after: Duration,
    /// Where to write. A browser's event stream connects after its login,
    /// so until then lines wait here (up to the limit).
    stream: Option<Arc<TcpStream>>,
    /// On the ready queue, or being written by a writer right now. A client
    /// is handled by one writer at a time, which keeps its lines in order.
    scheduled: bool,
    /// No more bytes are accepted.
    closed: bool,
    /// Shut the socket down this way once the queue is empty.
    shutdown_when_drained: Option<Shutdown>,
    /// A resumable outbox's copy of the last bytes handed to the writers:
    /// at least `keep` of them when there were that many, at most twice as
    /// many. It may start in the middle of an event; the web page's pick
    /// passes over what has no number.
    sent: Vec<u8>,
    /// Bytes were dropped from the front of `sent` to respect `keep`.
    trimmed: bool,
    /// When a resumable outbox lost its socket (or was made: it starts
    /// without one); None while it has one.
    detached_since: Option<Instant>,
}

impl Pending {
    fn shutdown(&self, how: Shutdown) {
        if let Some(stream) = &self.stream {
            let _ = stream.shutdown(how);
        }
    }

    /// How far behind the client is, in bytes.
    fn behind(&self) -> usize {
        self.queued.len() + self.leftover.len() + self.in_flight
    }

    /// Cuts the client off: nothing more is accepted or sent, and shutting
    /// the socket down wakes the client's own thread, which then leaves.
    fn cut_off(&mut self) {
        self.closed = true;
        self.queued = Vec::new();
        self.leftover = Vec::new();
        self.shutdown(Shutdown::Both);
    }

    /// A resumable outbox lets go of its socket and waits for the next: the
    /// unsent tail goes (it is in `sent`), what is queued stays.
    fn detach(&mut self) {
        self.shutdown(Shutdown::Both);
        self.stream = None;
        self.leftover = Vec::new();
        self.last_progress = None;
        self.detached_since = Some(Instant::now());
    }

    /// Whether `stream` is the socket this outbox writes to now.
    fn writes_to(&self, stream: &Option<Arc<TcpStream>>) -> bool {
        match (&self.stream, stream) {
            (Some(current), Some(stream)) => Arc::ptr_eq(current, stream),
            _ => false,
        }
    }
}

/// What a writer does with an outbox after one attempt.
enum Next {
    /// Everything was sent: it leaves the writers until more is queued.
    Done,
    /// More was queued meanwhile: back to the ready queue.
    Again,
    /// The socket took only part (it is full): try again at this instant.
    RetryAt(Instant),
}

/// How long one write attempt may block. A writer never waits on one
/// socket for longer: the rest stays in the outbox and the writer moves on.
pub(crate) const WRITE_ATTEMPT: Duration = Duration::from_millis(2);
/// The first pause before retrying a socket that took nothing at all in a
/// whole attempt (one that took part of the bytes is retried at once, after
/// the other outboxes waiting).
const RETRY_FIRST: Duration = Duration::from_millis(2);
/// The longest pause between retries of a socket that takes nothing.
const RETRY_MAX: Duration = Duration::from_millis(100);

impl Outbox {
    /// An outbox for a terminal client's `stream`, holding at most `limit`
    /// unsent bytes, and cutting the client off when its socket took nothing
    /// for `stall_limit`. Sets the socket's write timeout to
    /// [`WRITE_ATTEMPT`].
    pub(crate) fn new(stream: Arc<TcpStream>, limit: usize, stall_limit: Duration) -> Arc<Outbox> {
        let outbox = Outbox::resumable(limit, stall_limit, 0);
        let _ = stream.set_write_timeout(Some(WRITE_ATTEMPT));
        let mut state = outbox.lock();
        state.stream = Some(stream);
        state.detached_since = None;
        drop(state);
        outbox
    }

    /// An outbox with no socket yet, for a browser's event stream: lines
    /// wait until [`resume`](Self::resume) gives it one, and again whenever
    /// the socket is lost. It keeps a copy of the last `keep` bytes (at
    /// least) it handed to the writers, for the browser to pick what it
    /// missed from. A write that fails, or a socket that takes nothing for
    /// `stall_limit`, detaches the socket; only a queue over `limit` cuts
    /// the client off.
    pub(crate) fn resumable(limit: usize, stall_limit: Duration, keep: usize) -> Arc<Outbox> {
        let state = Pending {
            detached_since: Some(Instant::now()),
            ..Pending::default()
        };
        Arc::new(Outbox {
            limit,
            keep,
            stall_limit,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        lock(&self.state, "outbox")
    }

    /// Gives a resumable outbox a (new) socket, and hands it to the
    /// writers if lines are waiting. A socket it still had is shut down:
    /// the browser came back before we noticed it had gone.
    ///
    /// What is sent first is up to `pick`: it gets every byte not known to
    /// have arrived (the copy of what was handed to the writers, then what
    /// is queued) and whether the copy had to drop older bytes, and returns
    /// what to queue. False if the client was cut off meanwhile.
    pub(crate) fn resume(
        self: &Arc<Self>,
        writers: &Writers,
        stream: Arc<TcpStream>,
        pick: impl FnOnce(Vec<u8>, bool) -> Vec<u8>,
    ) -> bool {
        let mut state = self.lock();
        if state.closed && state.shutdown_when_drained.is_none() {
            return false; // cut off: nothing more is sent
        }
        state.detach();
        let mut unsure = mem::take(&mut state.sent);
        unsure.append(&mut state.queued);
        state.queued = pick(unsure, state.trimmed);
        state.trimmed = false;
        let _ = stream.set_write_timeout(Some(WRITE_ATTEMPT));
        state.stream = Some(stream);
        state.detached_since = None;
        if state.closed && state.queued.is_empty() {
            // Closed before its socket came (a browser logged out before
            // its event stream connected): close the socket now.
            state.shutdown(state.shutdown_when_drained.unwrap_or(Shutdown::Both));
            return true;
        }
        let waiting = !state.queued.is_empty() && !state.scheduled;
        state.scheduled |= waiting;
        drop(state);
        if waiting {
            writers.schedule([Arc::clone(self)]);
        }
        true
    }

    /// Lets go of `stream` if it is still this outbox's socket (a browser's
    /// event stream ended): lines wait for the next one. False if another
    /// socket has taken its place already, or there was none.
    pub(crate) fn detach_from(&self, stream: &Arc<TcpStream>) -> bool {
        let mut state = self.lock();
        if !state.writes_to(&Some(Arc::clone(stream))) {
            return false;
        }
        state.detach();
        true
    }

    /// How long a resumable outbox has been without a socket, if it is.
    pub(crate) fn detached_for(&self) -> Option<Duration> {
        self.lock().detached_since.map(|since| since.elapsed())
    }

    /// No more bytes are accepted: the client is leaving, or was cut off.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Queues `bytes` (whole lines, or whole events, already rendered by
    /// the client's frontend). Returns `Ok(true)` if the outbox was idle and
    /// must now be handed to the writers with [`Writers::schedule`]; the
    /// caller does that, possibly for many outboxes at once, so that one
    /// broadcast costs one wake-up rather than one per recipient.
    ///
    /// If the client is more than `limit` bytes behind, its socket is shut
    /// down and the bytes refused with [`Closed`].
    pub(crate) fn push(&self, bytes: &[u8]) -> Result<bool, Closed> {
        let mut state = self.lock();
        if state.closed {
            return Err(Closed);
        }
        // An empty outbox takes any one push (a long history replay, say):
        // the limit is on how far behind a client is, not on one message.
        // Bytes a writer holds count too: they are not sent yet.
        let behind = state.behind();
        if behind > 0 && behind + bytes.len() > self.limit {
            state.cut_off();
            return Err(Closed);
        }
        state.queued.extend_from_slice(bytes);
        let newly_scheduled = !state.scheduled && state.stream.is_some();
        state.scheduled |= newly_scheduled;
        Ok(newly_scheduled)
    }

    /// Queues `bytes` and, if needed, hands this outbox to the writers: the
    /// one-recipient form of [`push`](Self::push) and [`Writers::schedule`].
    pub(crate) fn send(self: &Arc<Self>, writers: &Writers, bytes: &[u8]) -> Result<(), Closed> {
        if self.push(bytes)? {
            writers.schedule([Arc::clone(self)]);
        }
        Ok(())
    }

    /// Shuts the socket down now, whatever is still queued (the last step
    /// of a shutdown, after the writers had their chance).
    pub(crate) fn shutdown_now(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.shutdown(Shutdown::Both);
    }

    /// Stops accepting bytes; once what is queued has been sent, shuts the
    /// socket down with `how`. Used for a goodbye: the last lines still
    /// arrive, then the connection ends.
    pub(crate) fn close_after_flush(&self, how: Shutdown) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        if state.scheduled || state.stream.is_none() {
            // A writer has it, or its socket has not come yet: the writer
            // (or `attach`) shuts it down when the last lines are sent.
            state.shutdown_when_drained = Some(how);
        } else {
            state.shutdown(how);
        }
    }

    /// One write attempt (one writer at a time, see `scheduled`): sends
    /// what the socket takes within [`WRITE_ATTEMPT`], keeps the rest, and
    /// says when to come back. What it has to log, it logs after letting go
    /// of the outbox's lock: a stalled stderr must not freeze the server.
    fn drain(&self) -> Next {
        let (next, note) = self.attempt();
        if let Some(note) = note {
            log!("{note}");
        }
        next
    }

    /// [`drain`](Self::drain)'s work, under the lock, and a line to log.
    fn attempt(&self) -> (Next, Option<String>) {
        let (bytes, stream) = {
            let mut state = self.lock();
            let mut bytes = mem::take(&mut state.leftover);
            let fresh = mem::take(&mut state.queued);
            self.remember(&mut state, &fresh);
            if bytes.is_empty() {
                bytes = fresh;
            } else {
                bytes.extend_from_slice(&fresh);
            }
            state.in_flight = bytes.len();
            (bytes, state.stream.clone())
        };
        // Scheduled only with a socket.
        let (written, result) = match &stream {
            Some(stream) => write_within(stream, &bytes),
            None => (bytes.len(), Ok(())),
        };
        let mut state = self.lock();
        state.in_flight = 0;
        if !state.writes_to(&stream) {
            // The socket was replaced or let go meanwhile (a browser came
            // back, or left): what we wrote went to the old one, and what
            // is queued waits for, or goes to, the new one.
            return (self.next_after_a_stale_write(&mut state), None);
        }
        if let Err(e) = result {
            return self.failed(&mut state, &e, &stream);
        }
        let now = Instant::now();
        if written > 0 || state.last_progress.is_none() {
            state.last_progress = Some(now);
            state.retry_after = RETRY_FIRST;
        }
        if written < bytes.len() {
            return self.retry_later(&mut state, bytes, written, now, &stream);
        }
        if !state.queued.is_empty() {
            return (Next::Again, None);
        }
        state.scheduled = false;
        state.last_progress = None;
        if let Some(how) = state.shutdown_when_drained.take() {
            state.shutdown(how);
        }
        (Next::Done, None)
    }

    /// A write failed: the connection is gone. A browser's stream may come
    /// back, so its outbox lets the socket go and waits; any other client
    /// is cut off, and shutting its socket down wakes its thread, which
    /// takes it offline.
    fn failed(
        &self,
        state: &mut Pending,
        e: &std::io::Error,
        stream: &Option<Arc<TcpStream>>,
    ) -> (Next, Option<String>) {
        state.scheduled = false;
        if self.keep > 0 && !state.closed {
            let note = format!(
                "web {}: cannot send ({e}); waiting for it to come back",
                peer(stream)
            );
            state.detach();
            return (Next::Done, Some(note));
        }
        let note =
            (!state.closed).then(|| format!("client {}: cannot send ({e}); closing", peer(stream)));
        state.cut_off();
        (Next::Done, note)
    }

    /// Keeps a copy of `fresh` (bytes just taken for writing) in a
    /// resumable outbox. The copy is one buffer, appended to and cut back to
    /// its last `keep` bytes once it holds twice that: a copy of each byte
    /// and, now and then, one move of `keep` bytes, with no allocation per
    /// write (this runs for every write to every browser).
    fn remember(&self, state: &mut Pending, fresh: &[u8]) {
        if self.keep == 0 {
            return;
        }
        state.sent.extend_from_slice(fresh);
        if state.sent.len() > 2 * self.keep {
            let cut = state.sent.len() - self.keep;
            state.sent.drain(..cut);
            state.trimmed = true;
        }
    }

    /// After a write to a socket that is no longer this outbox's: back to
    /// the writers if the new socket has lines waiting, otherwise idle.
    fn next_after_a_stale_write(&self, state: &mut Pending) -> Next {
        if state.stream.is_some() && !state.queued.is_empty() {
            return Next::Again;
        }
        state.scheduled = false;
        Next::Done
    }

    /// The socket is full: keep the unsent tail and come back after a pause
    /// that grows while it takes nothing, or cut the client off once it has
    /// taken nothing for `stall_limit`.
    fn retry_later(
        &self,
        state: &mut Pending,
        mut bytes: Vec<u8>,
        written: usize,
        now: Instant,
        stream: &Option<Arc<TcpStream>>,
    ) -> (Next, Option<String>) {
        let cut_off_meanwhile = state.closed && state.shutdown_when_drained.is_none();
        let stalled_since = state.last_progress.unwrap_or(now);
        let stalled = now.duration_since(stalled_since) >= self.stall_limit;
        let mut note = None;
        if stalled && !cut_off_meanwhile {
            let stall = self.stall_limit.as_millis();
            note = Some(format!(
                "client {}: took nothing for {stall} ms; closing the connection",
                peer(stream)
            ));
            if self.keep > 0 {
                state.detach(); // a browser may reconnect and resume
            } else {
                state.cut_off();
            }
        }
        if stalled || cut_off_meanwhile {
            state.scheduled = false;
            return (Next::Done, note);
        }
        bytes.drain(..written);
        state.leftover = bytes;
        if written > 0 {
            // It reads, just not as fast as we write: its turn again after
            // the others', without a pause (the next attempt blocks for at
            // most WRITE_ATTEMPT, so this is no busy loop).
            return (Next::Again, None);
        }
        let pause = state.retry_after;
        state.retry_after = (pause * 2).min(RETRY_MAX);
        (Next::RetryAt(now + pause), None)
    }
}

/// The peer's address for the activity log.
fn peer(stream: &Option<Arc<TcpStream>>) -> String {
    let peer = stream.as_ref().and_then(|s| s.peer_addr().ok());
    peer.map_or_else(|| "?".to_string(), |p| p.to_string())
}

/// The pool of writer threads and their ready queue.
pub(crate) struct Writers {
    /// Protects the ready queue and the counters. Never held during a write.
    queue: Mutex<Queue>,
    /// Signalled when work arrives or the pool stops.
    work: Condvar,
    /// Signalled when the pool becomes idle (for a graceful shutdown).
    idle: Condvar,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Arc<Outbox>>,
    /// Outboxes whose socket was full, with when to try each again.
    waiting: Vec<(Instant, Arc<Outbox>)>,
    /// Writers in the middle of a write.
    busy: usize,
    stopping: bool,
}

impl Queue {
    /// Moves the waiting outboxes whose pause is over to the ready queue.
    fn wake_due(&mut self, now: Instant) {
        if self.waiting.iter().any(|(when, _)| *when <= now) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.waiting.drain(..).partition(|(when, _)| *when <= now);
            self.waiting = later;
            self.ready.extend(due.into_iter().map(|(_, outbox)| outbox));
        }
    }

    /// When the next waiting outbox is due, if any waits.
    fn next_due(&self) -> Option<Instant> {
        self.waiting.iter().map(|(when, _)| *when).min()
    }

    /// Nothing to write now or later, and no writer busy.
    fn is_idle(&self) -> bool {
        self.ready.is_empty() && self.waiting.is_empty() && self.busy == 0
    }
}

impl Writers {
    /// Starts `count` writer threads.
    pub(crate) fn start(count: usize) -> std::io::Result<(Arc<Writers>, Vec<JoinHandle<()>>)> {
        let writers = Arc::new(Writers {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            idle: Condvar::new(),
        });
        let mut threads = Vec::new();
        for i in 0..count.max(1) {
            let pool = Arc::clone(&writers);
            let thread = thread::Builder::new()
                .name(format!("writer {i}"))
                .spawn(move || pool.run())?;
            threads.push(thread);
        }
        Ok((writers, threads))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue, "writer queue")
    }

    /// Hands outboxes that [`Outbox::push`] reported idle to the writers.
    pub(crate) fn schedule(&self, outboxes: impl IntoIterator<Item = Arc<Outbox>>) {
        let mut queue = self.lock();
        let before = queue.ready.len();
        queue.ready.extend(outboxes);
        let added = queue.ready.len() - before;
        drop(queue);
        match added {
            0 => {}
            1 => self.work.notify_one(),
            _ => self.work.notify_all(),
        }
    }

    /// One writer thread: take an outbox, write what its socket takes,
    /// repeat. An outbox whose socket was full waits in `waiting` and is
    /// retried after its pause, so no writer ever waits on one socket.
    fn run(&self) {
        let mut queue = self.lock();
        loop {
            queue.wake_due(Instant::now());
            if let Some(outbox) = queue.ready.pop_front() {
                queue.busy += 1;
                drop(queue);
                let next = outbox.drain();
                queue = self.lock();
                queue.busy -= 1;
                match next {
                    Next::Done => {}
                    // To the back of the line: one busy client cannot
                    // starve the others.
                    Next::Again => queue.ready.push_back(outbox),
                    Next::RetryAt(when) => queue.waiting.push((when, outbox)),
                }
                if queue.is_idle() {
                    self.idle.notify_all();
                }
            } else if queue.stopping {
                return;
            } else if let Some(next_due) = queue.next_due() {
                let pause = next_due.saturating_duration_since(Instant::now());
                queue = wait_timeout(&self.work, queue, pause);
            } else {
                queue = wait(&self.work, queue);
            }
        }
    }

    /// Waits until every queued byte has been written, or `limit` passes.
    pub(crate) fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut queue = self.lock();
        while !queue.is_idle() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            queue = wait_timeout(&self.idle, queue, left);
        }
    }

    /// Lets the writer threads finish what is queued and exit.
    pub(crate) fn stop(&self) {
        self.lock().stopping = true;
        self.work.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpStream;

    use crate::net::test_pair as pair;

    #[test]
    fn lines_arrive_in_order() {
        let (server, client) = pair();
        let (writers, _threads) = Writers::start(2).expect("writers");
        let outbox = Outbox::new(Arc::new(server), 1 << 20, Duration::from_secs(5));
        for i in 0..100 {
            if outbox.push(format!("line {i}\n").as_bytes()) == Ok(true) {
                writers.schedule([Arc::clone(&outbox)]);
            }
        }
        let mut reader = BufReader::new(client);
        for i in 0..100 {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            assert_eq!(line, format!("line {i}\n"));
        }
        writers.stop();
    }

    #[test]
    fn a_detached_outbox_holds_its_lines_until_a_socket_is_attached() {
        let (server, client) = pair();
        let (writers, _threads) = Writers::start(1).expect("writers");
        let outbox = Outbox::resumable(1 << 20, Duration::from_secs(5), 0);
        outbox.send(&writers, b"one\ntwo\n").expect("send");
        assert!(outbox.resume(&writers, Arc::new(server), |unsure, _| unsure));
        outbox.close_after_flush(Shutdown::Both);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(client), &mut text).expect("read");
        assert_eq!(text, "one\ntwo\n");
        writers.stop();
    }

    #[test]
    fn an_outbox_closed_before_its_socket_came_closes_the_socket() {
        let (writers, _threads) = Writers::start(1).expect("writers");
        // Nothing queued: the socket is shut at once.
        let (server, client) = pair();
        let outbox = Outbox::resumable(1 << 20, Duration::from_secs(5), 0);
        outbox.close_after_flush(Shutdown::Both);
        assert!(outbox.resume(&writers, Arc::new(server), |unsure, _| unsure));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(client), &mut text).expect("end");
        assert_eq!(text, "");
        // Lines queued: they are sent first, then the socket is shut.
        let (server, client) = pair();
        let outbox = Outbox::resumable(1 << 20, Duration::from_secs(5), 0);
        outbox.send(&writers, b"bye\n").expect("send");
        outbox.close_after_flush(Shutdown::Both);
        assert!(outbox.resume(&writers, Arc::new(server), |unsure, _| unsure));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(client), &mut text).expect("end");
        assert_eq!(text, "bye\n");
        writers.stop();
    }

    /// Reads exactly `n` bytes from `client`.
    fn read_bytes(client: &mut TcpStream, n: usize) -> String {
        let mut buf = vec![0u8; n];
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        std::io::Read::read_exact(client, &mut buf).expect("read");
        String::from_utf8(buf).expect("utf-8")
    }

    #[test]
    fn a_resumed_outbox_offers_what_it_sent_and_what_waited() {
        let (writers, _threads) = Writers::start(1).expect("writers");
        let outbox = Outbox::resumable(1 << 20, Duration::from_secs(5), 1024);
        let (first, mut first_client) = pair();
        let first = Arc::new(first);
        outbox.send(&writers, b"one\n").expect("send");
        assert!(outbox.resume(&writers, Arc::clone(&first), |unsure, _| unsure));
        assert_eq!(read_bytes(&mut first_client, 4), "one\n");
        // The stream ends; what comes meanwhile waits.
        assert!(outbox.detach_from(&first));
        assert!(!outbox.detach_from(&first), "only once");
        assert!(outbox.detached_for().is_some());
        outbox.send(&writers, b"two\n").expect("send");
        // The browser comes back: it may not have had "one" (it was in the
        // kernel's buffers when the connection dropped), so both are offered.
        let (second, mut second_client) = pair();
        let mut offered = Vec::new();
        assert!(
            outbox.resume(&writers, Arc::new(second), |unsure, trimmed| {
                assert!(!trimmed);
                offered = unsure.clone();
                unsure[4..].to_vec() // the page had "one"
            })
        );
        assert_eq!(offered, b"one\ntwo\n");
        assert_eq!(read_bytes(&mut second_client, 4), "two\n");
        assert_eq!(outbox.detached_for(), None);
        writers.stop();
    }

    #[test]
    fn a_failed_write_detaches_a_resumable_outbox_instead_of_cutting_it_off() {
        let (writers, _threads) = Writers::start(1).expect("writers");
        let outbox = Outbox::resumable(1 << 20, Duration::from_secs(5), 1024);
        let (server, _client) = pair();
        let server = Arc::new(server);
        assert!(outbox.resume(&writers, Arc::clone(&server), |unsure, _| unsure));
        // Our side can no longer write: the next write fails at once.
        server.shutdown(Shutdown::Write).expect("shutdown");
        outbox.send(&writers, b"lost?\n").expect("send");
        writers.wait_idle(Duration::from_secs(2));
        assert!(outbox.detached_for().is_some(), "detached");
        assert!(!outbox.is_closed(), "not cut off");
        // Not lost: it is offered to the next stream.
        outbox.send(&writers, b"later\n").expect("still accepts");
        let (next, _next_client) = pair();
        let mut offered = Vec::new();
        outbox.resume(&writers, Arc::new(next), |unsure, _| {
            offered = unsure;
            Vec::new()
        });
        assert_eq!(offered, b"lost?\nlater\n");
        writers.stop();
    }

    #[test]
    fn the_copy_keeps_the_newest_bytes_and_says_it_dropped_older_ones() {
        let outbox = Outbox::resumable(1 << 20, Duration::from_secs(5), 4);
        let mut state = outbox.lock();
        outbox.remember(&mut state, b"aaaa");
        outbox.remember(&mut state, b"bbbb");
        assert!(!state.trimmed, "up to twice `keep`, nothing goes");
        outbox.remember(&mut state, b"cccc");
        outbox.remember(&mut state, b"dd");
        // Past twice `keep`: cut back to the last 4, then "dd" added.
        assert_eq!(state.sent, b"ccccdd");
        assert!(state.trimmed);
        // A connection that cannot come back keeps nothing.
        let terminal = Outbox::resumable(1 << 20, Duration::from_secs(5), 0);
        let mut state = terminal.lock();
        terminal.remember(&mut state, b"abc");
        assert!(state.sent.is_empty());
    }

    #[test]
    fn only_the_first_push_schedules() {
        let (server, _client) = pair();
        let outbox = Outbox::new(Arc::new(server), 1 << 20, Duration::from_secs(5));
        assert_eq!(outbox.push(b"a\n"), Ok(true));
        assert_eq!(outbox.push(b"b\n"), Ok(false));
    }

    #[test]
    fn a_client_too_far_behind_is_cut_off() {
        let (server, mut client) = pair();
        let outbox = Outbox::new(Arc::new(server), 10, Duration::from_secs(5));
        // The first push is always taken, even when it is over the limit.
        assert_eq!(outbox.push(b"12345678901234\n"), Ok(true));
        assert_eq!(outbox.push(b"1\n"), Err(Closed));
        assert_eq!(outbox.push(b"x\n"), Err(Closed));
        // Nothing was written (no writers), and the socket was shut down.
        let mut buf = [0u8; 16];
        assert_eq!(std::io::Read::read(&mut client, &mut buf).expect("read"), 0);
    }

    #[test]
    fn close_after_flush_sends_the_last_lines_first() {
        let (server, client) = pair();
        let (writers, _threads) = Writers::start(1).expect("writers");
        let outbox = Outbox::new(Arc::new(server), 1 << 20, Duration::from_secs(5));
        if outbox.push(b"bye\n") == Ok(true) {
            writers.schedule([Arc::clone(&outbox)]);
        }
        outbox.close_after_flush(Shutdown::Both);
        assert_eq!(outbox.push(b"late\n"), Err(Closed));
        let mut reader = BufReader::new(client);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut reader, &mut text).expect("read to end");
        assert_eq!(text, "bye\n");
        writers.wait_idle(Duration::from_secs(1));
        writers.stop();
    }
}
