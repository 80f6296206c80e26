//! The threads that read for the clients: a thread per client blocked in
//! `read`, or a few sweepers taking turns at non-blocking sockets (`Readers`
//! says what each costs). Either way each connection's counts go to a tally
//! of its own, so no lock is shared between readers.

use std::io::ErrorKind;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::inbox::Inbox;
use super::net::is_timeout;
use super::options::ReaderKind;
use super::shared::{lock, Client, Shared, WORKER_STACK};

/// Read buffer per connection: big enough that one `read` takes in many
/// lines when traffic is heavy. Sweep mode has many more connections, each
/// with little traffic, and reads as often as it likes, so a smaller one.
const THREAD_BUFFER: usize = 64 * 1024;
const SWEEP_BUFFER: usize = 16 * 1024;
/// Stack per reader thread: the loop needs little, and a thousand default
/// (2 MiB) stacks would reserve gigabytes of address space.
const READER_STACK: usize = 64 * 1024;
/// Sweep mode: threads, reads per connection per turn (so one busy socket
/// cannot starve the others), and the pause after a turn that found nothing.
const SWEEPERS: usize = 4;
const READS_PER_TURN: usize = 4;
const SWEEP_PAUSE_MIN: Duration = Duration::from_micros(100);
pub(crate) const SWEEP_PAUSE_MAX: Duration = Duration::from_millis(20);
/// While a latency is being measured, sweepers never pause longer than this.
const SWEEP_PAUSE_EAGER: Duration = Duration::from_millis(1);

/// The threads that read for the clients.
pub(crate) enum Readers {
    /// One thread per client, blocked in `read` until bytes arrive: the
    /// simplest way, and the most precise (a line is seen the moment it
    /// arrives). Each thread costs a stack and a scheduler entry.
    Threads(Mutex<Vec<JoinHandle<()>>>),
    /// A few threads, each taking turns at its share of non-blocking sockets:
    /// a `read` that finds nothing returns `WouldBlock` at once. Cheap for
    /// thousands of mostly quiet connections; the price is a pause of up to
    /// `SWEEP_PAUSE_MAX` when nothing is arriving, which is added to a
    /// measured latency (so it is cut while one is measured). A production
    /// program would ask the kernel which sockets are ready (`epoll`, or an
    /// async runtime built on it), which std does not offer.
    Sweep {
        queues: Vec<mpsc::Sender<(Arc<Client>, Inbox)>>,
        threads: Vec<JoinHandle<()>>,
    },
}

/// The read buffer for each connection of this kind of reader.
pub(crate) fn buffer_size(kind: ReaderKind) -> usize {
    match kind {
        ReaderKind::Threads => THREAD_BUFFER,
        ReaderKind::Sweep => SWEEP_BUFFER,
    }
}

impl Readers {
    pub(crate) fn start(kind: ReaderKind, shared: &Arc<Shared>) -> Result<Readers, String> {
        match kind {
            ReaderKind::Threads => Ok(Readers::Threads(Mutex::new(Vec::new()))),
            ReaderKind::Sweep => {
                let mut queues = Vec::new();
                let mut threads = Vec::new();
                for s in 0..SWEEPERS {
                    let (queue, arrivals) = mpsc::channel();
                    let shared = Arc::clone(shared);
                    let thread = thread::Builder::new()
                        .name(format!("sweeper {s}"))
                        .stack_size(WORKER_STACK)
                        .spawn(move || sweep(arrivals, shared))
                        .map_err(|e| format!("cannot start a sweeper thread: {e}"))?;
                    queues.push(queue);
                    threads.push(thread);
                }
                Ok(Readers::Sweep { queues, threads })
            }
        }
    }

    /// Starts reading for a client that has just registered.
    pub(crate) fn add(
        &self,
        index: usize,
        client: Arc<Client>,
        inbox: Inbox,
        shared: &Arc<Shared>,
    ) -> Result<(), String> {
        match self {
            Readers::Threads(handles) => {
                let shared = Arc::clone(shared);
                let thread = thread::Builder::new()
                    .name(format!("reader {}", client.name))
                    .stack_size(READER_STACK)
                    .spawn(move || read_blocking(client, inbox, shared))
                    .map_err(|e| format!("cannot start a reader thread: {e}"))?;
                lock(handles).push(thread);
            }
            Readers::Sweep { queues, .. } => queues[index % queues.len()]
                .send((client, inbox))
                .map_err(|_| "a sweeper thread has stopped".to_string())?,
        }
        Ok(())
    }

    /// Waits for every reader to finish; `Shared::stop` must be set and the
    /// sockets shut down first.
    pub(crate) fn join(&mut self) {
        let threads = match self {
            Readers::Threads(handles) => std::mem::take(&mut *lock(handles)),
            Readers::Sweep { queues, threads } => {
                queues.clear();
                std::mem::take(threads)
            }
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// A reader thread: blocks in `read`, counts what arrives, and ends when the
/// connection does.
fn read_blocking(client: Arc<Client>, mut inbox: Inbox, shared: Arc<Shared>) {
    // Lines that arrived together with the hello line.
    inbox.process(&client, &shared, shared.nanos());
    loop {
        match inbox.fill(&client.stream) {
            Ok(0) => break,
            Ok(_) => inbox.process(&client, &shared, shared.nanos()),
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {
                if shared.stop.load(SeqCst) {
                    return;
                }
            }
            Err(_) => break,
        }
    }
    shared.note_closed();
}

/// A sweeper thread: takes turns at its connections until told to stop.
fn sweep(arrivals: mpsc::Receiver<(Arc<Client>, Inbox)>, shared: Arc<Shared>) {
    let mut connections: Vec<(Arc<Client>, Inbox)> = Vec::new();
    let mut pause = SWEEP_PAUSE_MIN;
    while !shared.stop.load(SeqCst) {
        while let Ok((client, mut inbox)) = arrivals.try_recv() {
            inbox.process(&client, &shared, shared.nanos());
            connections.push((client, inbox));
        }
        let mut busy = false;
        connections.retain_mut(
            |(client, inbox)| match read_available(client, inbox, &shared) {
                Some(got) => {
                    busy |= got;
                    true
                }
                None => {
                    shared.note_closed();
                    false
                }
            },
        );
        if busy {
            pause = SWEEP_PAUSE_MIN;
        } else {
            thread::sleep(pause);
            let longest = if shared.eager.load(SeqCst) {
                SWEEP_PAUSE_EAGER
            } else {
                SWEEP_PAUSE_MAX
            };
            pause = (pause * 2).min(longest);
        }
    }
}

/// A few non-blocking reads on one connection: Some(whether anything came),
/// or None once the connection has ended.
fn read_available(client: &Client, inbox: &mut Inbox, shared: &Shared) -> Option<bool> {
    let mut got = false;
    for _ in 0..READS_PER_TURN {
        match inbox.fill(&client.stream) {
            Ok(0) => return None,
            Ok(_) => {
                got = true;
                inbox.process(client, shared, shared.nanos());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => break,
            Err(_) => return None,
        }
    }
    Some(got)
}
