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
//! Why a pool and not a writer thread per client? A thread costs about
//! 10 KB of memory even when idle, and the kernel limits how many a process
//! may map. A reader thread per client is the price of blocking reads; a
//! second thread per client would double it for clients that mostly listen.
//! A handful of writers serve them all, since a writer spends its time in
//! the kernel and is free again within microseconds, unless a socket is
//! full, which the limit and the timeout bound.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Write};
use std::mem;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::log;

/// The outbox refused a line: it is closed (the client is leaving) or the
/// client fell too far behind and has been cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// One client's queue of bytes to send.
pub struct Outbox {
    limit: usize,
    framing: Framing,
    /// Protects the queued bytes, the socket and the flags. Held only to
    /// copy bytes in or take them out, never during a write.
    state: Mutex<State>,
}

/// How lines are put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// As they are: the terminal protocol.
    Lines,
    /// Each line as a Server-Sent Event, for a browser (see `web`).
    Events,
}

#[derive(Default)]
struct State {
    queued: Vec<u8>,
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
}

impl State {
    fn shutdown(&self, how: Shutdown) {
        if let Some(stream) = &self.stream {
            let _ = stream.shutdown(how);
        }
    }
}

impl Outbox {
    /// An outbox for a terminal client's `stream`, holding at most `limit`
    /// unsent bytes.
    pub fn new(stream: Arc<TcpStream>, limit: usize) -> Arc<Outbox> {
        let outbox = Outbox::detached(Framing::Lines, limit);
        outbox.lock().stream = Some(stream);
        outbox
    }

    /// An outbox with no socket yet: lines wait until [`attach`](Self::attach).
    pub fn detached(framing: Framing, limit: usize) -> Arc<Outbox> {
        Arc::new(Outbox {
            limit,
            framing,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gives a detached outbox its socket and hands it to the writers if
    /// lines are waiting. False if it already had one.
    pub fn attach(self: &Arc<Self>, writers: &Writers, stream: Arc<TcpStream>) -> bool {
        let mut state = self.lock();
        if state.stream.is_some() {
            return false;
        }
        state.stream = Some(stream);
        let waiting = !state.queued.is_empty() && !state.scheduled;
        state.scheduled |= waiting;
        drop(state);
        if waiting {
            writers.schedule([Arc::clone(self)]);
        }
        true
    }

    /// Queues `bytes` (whole lines). Returns `Ok(true)` if the outbox was
    /// idle and must now be handed to the writers with [`Writers::schedule`];
    /// the caller does that, possibly for many outboxes at once, so that
    /// one broadcast costs one wake-up rather than one per recipient.
    ///
    /// If the client is more than `limit` bytes behind, its socket is shut
    /// down and the line refused with [`Closed`].
    pub fn push(&self, bytes: &[u8]) -> Result<bool, Closed> {
        match self.framing {
            Framing::Lines => self.push_raw(bytes),
            // Each line becomes one event, `data: line` and a blank line.
            // Our lines never hold a newline inside (they are sanitized),
            // the one thing a single `data:` field could not carry.
            Framing::Events => {
                let mut framed = Vec::with_capacity(bytes.len() + 16);
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    framed.extend_from_slice(b"data: ");
                    framed.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(line));
                    framed.extend_from_slice(b"\n\n");
                }
                self.push_raw(&framed)
            }
        }
    }

    /// Queues bytes exactly as given (for an event stream's keepalive).
    pub fn push_raw(&self, bytes: &[u8]) -> Result<bool, Closed> {
        let mut state = self.lock();
        if state.closed {
            return Err(Closed);
        }
        // An empty outbox takes any one push (a long history replay, say):
        // the limit is on how far behind a client is, not on one message.
        if !state.queued.is_empty() && state.queued.len() + bytes.len() > self.limit {
            state.closed = true;
            state.queued = Vec::new();
            // Also wakes a writer blocked on this socket, and the client's
            // own thread blocked reading it.
            state.shutdown(Shutdown::Both);
            return Err(Closed);
        }
        state.queued.extend_from_slice(bytes);
        let newly_scheduled = !state.scheduled && state.stream.is_some();
        state.scheduled |= newly_scheduled;
        Ok(newly_scheduled)
    }

    /// Queues `bytes` and, if needed, hands this outbox to the writers: the
    /// one-recipient form of [`push`](Self::push) and [`Writers::schedule`].
    pub fn send(self: &Arc<Self>, writers: &Writers, bytes: &[u8]) -> Result<(), Closed> {
        let newly_scheduled = self.push(bytes)?;
        self.hand_over(writers, newly_scheduled);
        Ok(())
    }

    /// [`send`](Self::send) without framing (an event stream's keepalive).
    pub fn send_raw(self: &Arc<Self>, writers: &Writers, bytes: &[u8]) -> Result<(), Closed> {
        let newly_scheduled = self.push_raw(bytes)?;
        self.hand_over(writers, newly_scheduled);
        Ok(())
    }

    fn hand_over(self: &Arc<Self>, writers: &Writers, newly_scheduled: bool) {
        if newly_scheduled {
            writers.schedule([Arc::clone(self)]);
        }
    }

    /// Shuts the socket down now, whatever is still queued (the last step
    /// of a shutdown, after the writers had their chance).
    pub fn shutdown_now(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.shutdown(Shutdown::Both);
    }

    /// Stops accepting bytes; once what is queued has been sent, shuts the
    /// socket down with `how`. Used for a goodbye: the last lines still
    /// arrive, then the connection ends.
    pub fn close_after_flush(&self, how: Shutdown) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        if state.scheduled {
            // A writer has it; the writer shuts down when done.
            state.shutdown_when_drained = Some(how);
        } else {
            state.shutdown(how);
        }
    }

    /// Writes what is queued (one writer at a time, see `scheduled`).
    /// Returns true if more arrived meanwhile and it must be scheduled again.
    fn drain(&self) -> bool {
        let (bytes, stream) = {
            let mut state = self.lock();
            (mem::take(&mut state.queued), state.stream.clone())
        };
        // Scheduled only with a socket; an empty write is harmless.
        let written = match &stream {
            Some(stream) => write_all_in_time(stream, &bytes),
            None => Ok(()),
        };
        let mut state = self.lock();
        if let Err(e) = written {
            // Timed out (the client stopped reading) or the connection is
            // gone. Shutting the socket down wakes the client's thread, which
            // unregisters it.
            if !state.closed {
                let peer = stream.as_ref().and_then(|s| s.peer_addr().ok());
                let peer = peer.map_or_else(|| "?".to_string(), |p| p.to_string());
                log!("client {peer}: cannot send ({e}); closing the connection");
            }
            state.closed = true;
            state.queued = Vec::new();
            state.scheduled = false;
            state.shutdown(Shutdown::Both);
            return false;
        }
        if !state.queued.is_empty() {
            return true;
        }
        state.scheduled = false;
        if let Some(how) = state.shutdown_when_drained.take() {
            state.shutdown(how);
        }
        false
    }
}

/// Writes all of `bytes` within the socket's write timeout *in total*.
///
/// The socket's timeout bounds each system call, and a `write` that moves
/// any byte succeeds: so a client reading a trickle, a few bytes before
/// each timeout runs out, could hold a writer thread for as long as it
/// likes, and four such clients would hold them all. After a partial write
/// we therefore shrink the timeout to what is left of the first one, and
/// put it back at the end. (A partial write is rare: it means the client's
/// buffers are full, so the extra system calls cost nothing in the common
/// case.)
fn write_all_in_time(stream: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let start = Instant::now();
    let mut rest = bytes;
    let mut budget = None; // the socket's own timeout, once we changed it
    let result = loop {
        if rest.is_empty() {
            break Ok(());
        }
        let written = match (&*stream).write(rest) {
            Ok(0) => break Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        rest = &rest[written..];
        if rest.is_empty() {
            break Ok(());
        }
        if budget.is_none() {
            budget = Some(stream.write_timeout()?);
        }
        let Some(Some(limit)) = budget else {
            continue; // no timeout on this socket: nothing to enforce
        };
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            break Err(io::Error::new(
                ErrorKind::TimedOut,
                "client reads too slowly",
            ));
        }
        stream.set_write_timeout(Some(left))?;
    };
    if let Some(original) = budget {
        let _ = stream.set_write_timeout(original);
    }
    result
}

/// The pool of writer threads and their ready queue.
pub struct Writers {
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
    /// Writers in the middle of a write.
    busy: usize,
    stopping: bool,
}

impl Writers {
    /// Starts `count` writer threads.
    pub fn start(count: usize) -> std::io::Result<(Arc<Writers>, Vec<JoinHandle<()>>)> {
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
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands outboxes that [`Outbox::push`] reported idle to the writers.
    pub fn schedule(&self, outboxes: impl IntoIterator<Item = Arc<Outbox>>) {
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

    /// One writer thread: take an outbox, write it, repeat.
    fn run(&self) {
        let mut queue = self.lock();
        loop {
            if let Some(outbox) = queue.ready.pop_front() {
                queue.busy += 1;
                drop(queue);
                let again = outbox.drain();
                queue = self.lock();
                queue.busy -= 1;
                if again {
                    // To the back of the line: one busy client cannot
                    // starve the others.
                    queue.ready.push_back(outbox);
                }
                if queue.ready.is_empty() && queue.busy == 0 {
                    self.idle.notify_all();
                }
            } else if queue.stopping {
                return;
            } else {
                queue = self.work.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Waits until every queued byte has been written, or `limit` passes.
    pub fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut queue = self.lock();
        while !(queue.ready.is_empty() && queue.busy == 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            queue = match self.idle.wait_timeout(queue, left) {
                Ok((queue, _)) => queue,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Lets the writer threads finish what is queued and exit.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.work.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// A connected pair of sockets on loopback.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        (server, client)
    }

    #[test]
    fn lines_arrive_in_order() {
        let (server, client) = pair();
        let (writers, _threads) = Writers::start(2).expect("writers");
        let outbox = Outbox::new(Arc::new(server), 1 << 20);
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
    fn a_trickling_reader_cannot_stretch_a_write_past_the_timeout() {
        let (server, mut client) = pair();
        server
            .set_write_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        // The reader takes 64 KB every 100 ms: each write makes progress well
        // within 300 ms, so only a deadline for the whole write can stop it.
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let reader = std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            for _ in 0..100 {
                let stopped = stop.load(std::sync::atomic::Ordering::SeqCst);
                if stopped || std::io::Read::read(&mut client, &mut chunk).unwrap_or(0) == 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let start = Instant::now();
        let result = write_all_in_time(&server, &vec![b'x'; 64 * 1024 * 1024]);
        assert!(
            result.is_err(),
            "a 64 MB write to a trickling reader succeeded"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
        // The socket's own timeout is back as it was.
        assert_eq!(
            server.write_timeout().ok().flatten(),
            Some(Duration::from_millis(300))
        );
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = reader.join();
    }

    #[test]
    fn an_event_outbox_sends_each_line_as_a_server_sent_event() {
        let (server, client) = pair();
        let (writers, _threads) = Writers::start(1).expect("writers");
        let outbox = Outbox::detached(Framing::Events, 1 << 20);
        outbox
            .send(&writers, b"* Hello alice!\n[#general] bob: hi\n")
            .expect("send");
        // Lines wait until the stream is attached.
        assert!(outbox.attach(&writers, Arc::new(server)));
        outbox.close_after_flush(Shutdown::Both);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(client), &mut text).expect("read");
        assert_eq!(text, "data: * Hello alice!\n\ndata: [#general] bob: hi\n\n");
        writers.stop();
    }

    #[test]
    fn only_the_first_push_schedules() {
        let (server, _client) = pair();
        let outbox = Outbox::new(Arc::new(server), 1 << 20);
        assert_eq!(outbox.push(b"a\n"), Ok(true));
        assert_eq!(outbox.push(b"b\n"), Ok(false));
    }

    #[test]
    fn a_client_too_far_behind_is_cut_off() {
        let (server, mut client) = pair();
        let outbox = Outbox::new(Arc::new(server), 10);
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
        let outbox = Outbox::new(Arc::new(server), 1 << 20);
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
