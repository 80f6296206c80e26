//! `loadgen`: a load generator for the lanchat server.
//!
//! It opens many client connections to a server on this machine, has some of
//! them talk on a fixed schedule, and measures what the server delivers: how
//! many messages, in what order, how late, and at what cost in memory and CPU.
//! Try it against a server started with the benchmark settings:
//!
//! ```text
//! cargo build --release
//! ./target/release/server --config examples/bench.toml < /dev/null &
//! cargo run --release --example loadgen -- --clients 100 --senders 10 \
//!     --rate 2000 --secs 5 --server-pid $!
//! ```
//!
//! ## The load model: an open loop on a fixed schedule
//!
//! The simple way to load a server is to send as fast as possible, or to wait
//! for each message to come back before sending the next (a *closed loop*).
//! Such a generator slows down when the server does, sends less, and then
//! reports good latencies: the delay hides in the messages it never sent (this
//! is called *coordinated omission*). Here the schedule is fixed before the
//! run starts: message `k` is due at `start + k / rate`, and the messages are
//! dealt round-robin to the sending clients. Every message carries its due
//! time, and latency is measured from that due time. So a sender that falls
//! behind, because the server pushes back through TCP flow control or because
//! the generator is short of CPU, shows up in the latency instead of hiding.
//!
//! A message is one line of about 40 bytes:
//!
//! ```text
//! b <step> <sender> <seq> <due_nanos> xxxxxxxx
//! ```
//!
//! `step` numbers the rounds of `--max-rate`, `sender` is the sending
//! client's index, `seq` counts that sender's messages (so every receiver can
//! check that they arrive in order, once each), and `due_nanos` is the due
//! time in nanoseconds since the generator started. One `Instant` taken at the
//! start is the clock of every thread, so send and receive times compare
//! directly.
//!
//! ## The threads
//!
//! - **Connectors** (8): connect and do the handshake in parallel, a few at a
//!   time, because the server's listen backlog is short.
//! - **Readers**: either one thread per client blocking in `read` (the
//!   default up to 500 clients), or four *sweeper* threads that take turns
//!   at non-blocking sockets (the default above that: ten thousand threads
//!   would cost the machine more than the server we are measuring). Either
//!   way, each connection's counts and latencies go to a tally of its own, so
//!   no lock is shared between readers.
//! - **Senders**: one thread per sending client, sleeping until its next
//!   message is due.
//! - The **main thread** runs the phases (connect, wait for the join notices,
//!   connect the stalled clients, send, drain, collect) and prints the report.
//!
//! ## Stalled clients: a slow reader on purpose
//!
//! `--stalled K` adds K clients (`lgs000`, `lgs001`, ...) that connect and
//! register like the others once the crowd is in, and then never read another
//! byte: no reader thread, no sweeping, the socket just stays open until the
//! run ends. The server keeps queueing the room's traffic to them; once their
//! queue is full it must cut them off (in rooms of up to
//! `announce_max_members` it says `* lgsNNN left #general`) and go on serving
//! everyone else at full speed. They are not part of the measured crowd: the
//! expected deliveries stay sent × (N-1) over the N measured clients, and the
//! measured clients' tallies ignore the stalled clients' join and leave
//! notices. So a run with `--stalled 1` and the same run without it compare
//! directly: the slow reader should cost the others little latency. At the
//! end each stalled socket is read without blocking, to see whether the
//! server has closed it.
//!
//! ## The report
//!
//! Progress goes to stderr. `--max-rate` prints a `STEP n=... key=value ...`
//! line per step, and the last line on stdout is always
//! `RESULT key=value ...`, preceded by `note: ...` lines when something
//! deserves a look. The keys:
//!
//! - `connect_secs`: from the first connect until every client had its
//!   hello line. `join_secs`: until, in addition, every client had the
//!   `* lgNNNN joined` notice of everyone who joined after it
//!   (`join_notices` of `join_expected` = N(N-1)/2).
//! - `offered`, `sent`: messages in the schedule, and actually sent.
//!   `expected` = sent × (N-1), `delivered`, `lost` = expected - delivered
//!   once the drain ended. `late`: deliveries of an earlier step that came
//!   after it was counted. `out_of_order`, `gaps`: sequence numbers of one
//!   sender seen going back, or skipping ahead. `errors`: `! ...` lines.
//!   `closed`: connections the server cut.
//! - `deliveries_per_sec` = delivered / the time spent sending;
//!   `recv_secs`: from the first due time until the last delivery, which is
//!   much longer than `secs` when the server was queueing.
//! - `p50_ms`, `p90_ms`, `p99_ms`, `max_ms`: latency in milliseconds, from
//!   due time to arrival, to within 2 %. `send_lag_ms`: how far behind its
//!   schedule the slowest sender fell. `pass`: no loss, nothing unsent, no
//!   order error, no connection cut and p99 at most 100 ms.
//! - `--idle`: `bcast_reached` of `bcast_expected` clients got the one
//!   broadcast, the last after `bcast_last_ms`.
//! - `stalled`: the clients that never read (`--stalled`), and
//!   `stalled_closed`: how many of them the server had closed by the end.
//! - `rss_kb`, `hwm_kb`: the server's resident memory now and at its peak,
//!   and `srv_cpu_pct` its CPU use, read from `/proc/PID` with
//!   `--server-pid`.
//! - `gen_cpu_pct`: the generator's own CPU time as a percentage of wall
//!   time (100 = one core kept busy), and `gen_cpu_machine_pct` the same
//!   shared out over the machine's `cores`. The generator and the server
//!   share the machine: when the generator takes much of it, the server's
//!   figures say as much about the generator as about the server.
//!
//! `-` means "not measured".

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: loadgen [MODE] [OPTIONS]

Connects many clients to a lanchat server on this machine and measures
deliveries, loss and latency. Start the server with examples/bench.toml
(no rate limit, room for many clients).

modes:
  (none)             send --rate messages/s for --secs seconds
  --max-rate         start at --rate and multiply it by --factor after every
                     step of --secs seconds, until a message is lost or p99
                     latency passes 100 ms; report the best step that passed
  --idle             hold --clients connections for --secs seconds, report the
                     server's memory, then check that one message reaches all

options:
  --host HOST        127.0.0.1, ::1 or localhost (default 127.0.0.1); the
                     generator refuses to send anywhere else
  --port PORT        the server's port (default 7878)
  --clients N        connections (default 10)
  --senders S        how many of them send (default 2, at most N; 1 with
                     --idle)
  --rate R           messages per second, all senders together
                     (default 100; 1000 with --max-rate)
  --secs T           seconds of sending (default 5; 3 per step with
                     --max-rate; with --idle, seconds to hold, default 2)
  --drain SECS       after sending, wait up to this long for deliveries
                     still under way (default 2)
  --factor F         --max-rate: rate multiplier between steps (default 2)
  --steps K          --max-rate: at most K steps (default 12, at most 32)
  --server-pid PID   read the server's memory and CPU time from /proc/PID
  --readers KIND     threads: one blocking reader thread per client;
                     sweep: four threads polling non-blocking sockets
                     (default: threads up to 500 clients, sweep above)
  --stalled K        also connect K clients (lgs000, ...) that never read
                     after their handshake, to see how a slow reader affects
                     the others (default 0); they are not counted as
                     --clients, and the report says how many the server cut
                     off (stalled_closed)
  -h, --help         show this help

Messages are sent on a fixed schedule and latency is measured from the time
each one was due. The last line printed is `RESULT key=value ...`.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run_with(&options) {
        Ok(report) => {
            for note in &report.notes {
                println!("note: {note}");
            }
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/// Connectors working in parallel. The server's listen backlog is 128, so a
/// few at a time never overflow it, and each one waits for its handshake.
const CONNECTORS: usize = 8;
/// Connection attempts per client when the error may pass (refused because
/// the backlog was full, no local port free for a moment).
const CONNECT_ATTEMPTS: u32 = 6;
/// Time allowed for connecting plus the handshake, per client. Matches the
/// server's `handshake_timeout_secs` in `bench.toml`.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);
/// Every blocking read wakes at least this often, so no thread can hang.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// A write that makes no progress for this long fails.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Join notices: stop waiting once none has arrived for this long...
const JOIN_QUIET: Duration = Duration::from_secs(2);
/// ...or after this long in all.
const JOIN_LIMIT: Duration = Duration::from_secs(300);
/// `--idle`: how long the one broadcast may take to reach everyone.
const BROADCAST_LIMIT: Duration = Duration::from_secs(10);
/// `--max-rate`: a step passes only if its p99 latency is at most this.
const P99_LIMIT_MS: f64 = 100.0;
/// `--max-rate`: the most steps a run can have.
const MAX_STEPS: usize = 32;
/// `--max-rate`: a pause between steps, so one step's backlog (in the
/// server's queues, in the kernel) does not count against the next.
const STEP_PAUSE: Duration = Duration::from_millis(500);
/// A sender falls this far behind its schedule before it gives up on the
/// rest; what it did not send is reported as offered but not sent.
const SEND_GRACE: Duration = Duration::from_secs(1);
/// A sender does not sleep for less than this: the kernel's timers are not
/// finer (Linux's default timer slack is 50 µs), so a message due that soon
/// goes out now, a little early.
const MIN_SLEEP_NANOS: u64 = 50_000;
/// The most bytes a sender writes at once when several messages are due.
const BATCH_BYTES: usize = 16 * 1024;
/// Length of a message line, `\n` included.
const LINE_BYTES: usize = 40;
/// Every measured client's name starts with this, followed by its index in
/// four digits or more.
const NAME_PREFIX: &str = "lg";
/// A stalled client's name (`--stalled`): this, then its index in three
/// digits or more. It starts like `NAME_PREFIX` but never counts as one of
/// the crowd: a crowd name has only digits after `lg`.
const STALLED_PREFIX: &str = "lgs";
/// At the end, checking whether the server closed the stalled sockets: stop
/// once a round of non-blocking reads finds no new bytes, pausing this long
/// between rounds, and give up (calling the rest open) after the limit.
const STALLED_CHECK_PAUSE: Duration = Duration::from_millis(50);
const STALLED_CHECK_LIMIT: Duration = Duration::from_secs(5);
/// Read buffer per connection: big enough that one `read` takes in many
/// lines when traffic is heavy. Sweep mode has many more connections, each
/// with little traffic, and reads as often as it likes, so a smaller one.
const THREAD_BUFFER: usize = 64 * 1024;
const SWEEP_BUFFER: usize = 16 * 1024;
/// Stack per reader thread: the loop needs little, and a thousand default
/// (2 MiB) stacks would reserve gigabytes of address space.
const READER_STACK: usize = 64 * 1024;
const WORKER_STACK: usize = 256 * 1024;
/// Sweep mode: threads, reads per connection per turn (so one busy socket
/// cannot starve the others), and the pause after a turn that found nothing.
const SWEEPERS: usize = 4;
const READS_PER_TURN: usize = 4;
const SWEEP_PAUSE_MIN: Duration = Duration::from_micros(100);
const SWEEP_PAUSE_MAX: Duration = Duration::from_millis(20);
/// While a latency is being measured, sweepers never pause longer than this.
const SWEEP_PAUSE_EAGER: Duration = Duration::from_millis(1);
/// Above this many clients, readers default to sweeping. Measured on two
/// cores: at 100 clients a thread each gave slightly lower latencies; at 1000
/// sweeping cost a quarter less CPU and had lower latencies too.
const THREADS_UP_TO: usize = 500;

/// What the generator does once its clients are connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Fixed,
    MaxRate,
    Idle,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Fixed => "fixed",
            Mode::MaxRate => "max-rate",
            Mode::Idle => "idle",
        })
    }
}

/// How the replies are read: see "The threads" in the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderKind {
    Threads,
    Sweep,
}

/// The command line, checked.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    pub addr: SocketAddr,
    pub clients: usize,
    pub senders: usize,
    pub rate: f64,
    pub secs: f64,
    pub drain: Duration,
    pub factor: f64,
    pub steps: usize,
    pub server_pid: Option<u32>,
    pub readers: ReaderKind,
    /// Extra clients that never read (`--stalled`), outside the crowd.
    pub stalled: usize,
}

impl Options {
    /// Parses the flags (`--flag value` or `--flag=value`), without the
    /// program name. `--help` is handled by `main`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut mode = Mode::Fixed;
        let mut host = "127.0.0.1".to_string();
        let mut port: u16 = 7878;
        let mut clients: usize = 10;
        let mut senders: Option<usize> = None;
        let mut rate: Option<f64> = None;
        let mut secs: Option<f64> = None;
        let mut drain: f64 = 2.0;
        let mut factor: f64 = 2.0;
        let mut steps: usize = 12;
        let mut server_pid: Option<u32> = None;
        let mut readers: Option<ReaderKind> = None;
        let mut stalled: usize = 0;

        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| rest.next().cloned())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag {
                "--max-rate" => mode = Mode::MaxRate,
                "--idle" => mode = Mode::Idle,
                "--host" => host = value()?,
                "--port" => port = number(flag, &value()?)?,
                "--clients" => clients = number(flag, &value()?)?,
                "--senders" => senders = Some(number(flag, &value()?)?),
                "--rate" => rate = Some(number(flag, &value()?)?),
                "--secs" => secs = Some(number(flag, &value()?)?),
                "--drain" => drain = number(flag, &value()?)?,
                "--factor" => factor = number(flag, &value()?)?,
                "--steps" => steps = number(flag, &value()?)?,
                "--server-pid" => server_pid = Some(number(flag, &value()?)?),
                "--stalled" => stalled = number(flag, &value()?)?,
                "--readers" => {
                    readers = Some(match value()?.as_str() {
                        "threads" => ReaderKind::Threads,
                        "sweep" => ReaderKind::Sweep,
                        other => {
                            return Err(format!(
                                "--readers: expected threads or sweep, got {other}"
                            ))
                        }
                    })
                }
                _ => return Err(format!("unknown option {arg} (try --help)")),
            }
        }

        // `--idle` has one sender: the first client, which says one line.
        let senders = match mode {
            Mode::Idle => 1,
            _ => senders.unwrap_or(2.min(clients)),
        };
        let rate = rate.unwrap_or(if mode == Mode::MaxRate { 1000.0 } else { 100.0 });
        let secs = secs.unwrap_or(match mode {
            Mode::Fixed => 5.0,
            Mode::MaxRate => 3.0,
            Mode::Idle => 2.0,
        });
        if clients < 2 {
            return Err("--clients must be at least 2 (someone has to listen)".to_string());
        }
        if senders == 0 || senders > clients {
            return Err(format!(
                "--senders must be between 1 and --clients ({clients})"
            ));
        }
        if !(rate.is_finite() && rate > 0.0) {
            return Err("--rate must be a positive number".to_string());
        }
        if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
            return Err("--secs must be between 0 and 3600".to_string());
        }
        if !(drain.is_finite() && (0.0..=600.0).contains(&drain)) {
            return Err("--drain must be between 0 and 600".to_string());
        }
        if !(factor.is_finite() && factor > 1.0) {
            return Err("--factor must be greater than 1".to_string());
        }
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(format!("--steps must be between 1 and {MAX_STEPS}"));
        }
        Ok(Options {
            mode,
            addr: loopback_addr(&host, port)?,
            clients,
            senders,
            rate,
            secs,
            drain: Duration::from_secs_f64(drain),
            factor,
            steps,
            server_pid,
            readers: readers.unwrap_or(if clients <= THREADS_UP_TO {
                ReaderKind::Threads
            } else {
                ReaderKind::Sweep
            }),
            stalled,
        })
    }
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a valid number here"))
}

/// The address to load, which must be on this machine. A load generator
/// aimed at someone else's server is an attack, so anything but a loopback
/// address is refused before a single packet is sent (not even a DNS query:
/// only `localhost` is accepted as a name).
fn loopback_addr(host: &str, port: u16) -> Result<SocketAddr, String> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| {
                format!("--host {host}: give a loopback address (127.0.0.1, ::1 or localhost)")
            })?
    };
    if !ip.is_loopback() {
        return Err(format!(
            "--host {host} is not a loopback address; loadgen only loads a server on this \
             machine (127.0.0.1, ::1 or localhost)"
        ));
    }
    Ok(SocketAddr::new(ip, port))
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

/// Runs the generator as the command line `args` asks (without the program
/// name) and returns its report. Blocks for the length of the run; every wait
/// inside is bounded.
pub fn run(args: &[String]) -> Result<Report, String> {
    run_with(&Options::parse(args)?)
}

/// Runs the generator with checked options.
pub fn run_with(options: &Options) -> Result<Report, String> {
    let shared = Arc::new(Shared::new(options.senders));
    let whole_run = CpuClock::start(options.server_pid);
    eprintln!(
        "loadgen: connecting {} clients to {} ({} readers)",
        options.clients,
        options.addr,
        match options.readers {
            ReaderKind::Threads => "thread-per-client",
            ReaderKind::Sweep => "sweeping",
        }
    );
    let crowd = Crowd::connect(options, &shared)?;
    eprintln!(
        "loadgen: {} clients registered in {:.3} s; waiting for the join notices",
        crowd.clients.len(),
        crowd.connect_secs()
    );
    let joins = crowd.wait_for_joins();
    // After the crowd's join notices, so they measure the crowd alone. Their
    // own join notices reach the crowd now, and are not counted.
    let stalled = Stalled::connect(options, &shared)?;
    let mut report = Report {
        mode: options.mode,
        clients: options.clients,
        senders: options.senders,
        stalled: stalled.streams.len(),
        stalled_closed: 0,
        connect_secs: crowd.connect_secs(),
        joins,
        step: None,
        broadcast: None,
        memory: None,
        cpu: None,
        notes: Vec::new(),
    };
    match joins.notices {
        0 => report.notes.push(
            "the server sent no join notices (it may not announce joins in big rooms); \
             join_secs is the time until every handshake completed"
                .to_string(),
        ),
        n if n < joins.expected => report.notes.push(format!(
            "only {n} of {} join notices arrived (none came for {} s); join_secs is the \
             time of the last one",
            joins.expected,
            JOIN_QUIET.as_secs()
        )),
        _ => {}
    }

    match options.mode {
        Mode::Fixed => {
            eprintln!(
                "loadgen: {} senders, {} messages/s for {} s",
                options.senders, options.rate, options.secs
            );
            report.step = Some(crowd.run_step(0, options.rate, options));
        }
        Mode::MaxRate => report.step = Some(find_max_rate(&crowd, options, &mut report.notes)),
        Mode::Idle => {
            eprintln!("loadgen: holding the connections for {} s", options.secs);
            thread::sleep(Duration::from_secs_f64(options.secs));
            report.memory = options.server_pid.and_then(server_memory);
            report.broadcast = Some(crowd.broadcast()?);
        }
    }
    if report.memory.is_none() {
        report.memory = options.server_pid.and_then(server_memory);
    }
    if options.server_pid.is_some() && report.memory.is_none() {
        report
            .notes
            .push("cannot read the server's memory from /proc (wrong --server-pid?)".to_string());
    }
    let cpu = whole_run.read();
    report.cpu = Some(cpu);
    add_notes(&report.step, cpu, crowd.shared.closed(), &mut report.notes);
    if report.stalled > 0 {
        report.stalled_closed = stalled.count_closed();
        if report.stalled_closed == 0 {
            report.notes.push(
                "the server cut off no stalled client: the run may have been too short to \
                 fill its queue (send_queue_bytes) and the kernel's socket buffers"
                    .to_string(),
            );
        }
    }
    drop(stalled);
    drop(crowd); // closes every connection and joins the readers
    Ok(report)
}

/// `--max-rate`: steps the rate up until a step fails, and returns the best
/// step that passed (or the first step, if even that one failed).
fn find_max_rate(crowd: &Crowd, options: &Options, notes: &mut Vec<String>) -> StepResult {
    let run_step = |step: usize, rate: f64| {
        eprintln!(
            "loadgen: step {}: {rate:.0} messages/s for {} s",
            step + 1,
            options.secs
        );
        let result = crowd.run_step(step, rate, options);
        println!("STEP n={} {result}", step + 1);
        result
    };
    let mut rate = options.rate;
    let mut best = run_step(0, rate);
    if !best.passed() {
        notes.push(format!("even the first step ({rate:.0} messages/s) failed"));
        return best;
    }
    for step in 1..options.steps {
        thread::sleep(STEP_PAUSE);
        rate *= options.factor;
        let result = run_step(step, rate);
        if !result.passed() {
            return best;
        }
        best = result;
    }
    notes.push("every step passed: raise --rate or --steps to find the limit".to_string());
    best
}

/// Hints for the reader of the report.
fn add_notes(step: &Option<StepResult>, cpu: CpuUse, closed: usize, notes: &mut Vec<String>) {
    if let Some(step) = step {
        if let Some(error) = &step.first_error {
            notes.push(format!(
                "the server answered {} line(s) with an error, first: {error:?} \
                 (is rate_limit_per_sec = 0 in its config?)",
                step.errors
            ));
        }
        if step.sent < step.offered {
            notes.push(format!(
                "{} messages were due but not sent: the senders fell more than {} s behind",
                step.offered - step.sent,
                SEND_GRACE.as_secs()
            ));
        }
        if step.out_of_order > 0 {
            notes.push(format!(
                "{} messages arrived after a later one from the same sender (or twice)",
                step.out_of_order
            ));
        }
        if let Some(error) = &step.send_error {
            notes.push(format!("a sender stopped: {error}"));
        }
    }
    if closed > 0 {
        notes.push(format!(
            "the server closed {closed} connection(s) during the run"
        ));
    }
    if let Some(machine) = step.as_ref().and_then(|s| s.cpu.gen_machine_pct()) {
        if machine > 40.0 {
            notes.push(format!(
                "the generator used {machine:.0}% of the machine while sending; \
                 the server may have been short of CPU because of it"
            ));
        }
    } else if let Some(machine) = cpu.gen_machine_pct() {
        if machine > 40.0 {
            notes.push(format!("the generator used {machine:.0}% of the machine"));
        }
    }
}

// ---------------------------------------------------------------------------
// State shared by all threads
// ---------------------------------------------------------------------------

/// What every thread of the generator shares. The counters are bumped once
/// per `read` (not once per line), and nothing here is locked.
struct Shared {
    /// The clock of the whole run: every time is nanoseconds since this.
    origin: Instant,
    /// Messages delivered so far, per step: the drain watches it to know
    /// when everything has arrived.
    delivered: Vec<AtomicU64>,
    /// `* lgNNNN joined #room` notices received, and when the latest came.
    joins: AtomicU64,
    last_join: AtomicU64,
    /// Connections the server closed (or that failed) while we were reading.
    closed: AtomicUsize,
    /// Set at the end: readers stop.
    stop: AtomicBool,
    /// Set while one latency is measured in sweep mode: sweepers pause less.
    eager: AtomicBool,
    /// Senders in the run: the size of every tally's sequence table.
    senders: usize,
}

impl Shared {
    fn new(senders: usize) -> Shared {
        Shared {
            origin: Instant::now(),
            delivered: (0..=MAX_STEPS).map(|_| AtomicU64::new(0)).collect(),
            joins: AtomicU64::new(0),
            last_join: AtomicU64::new(0),
            closed: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            eager: AtomicBool::new(false),
            senders,
        }
    }

    /// Now, in nanoseconds since the start of the run.
    fn nanos(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    fn delivered(&self, step: usize) -> u64 {
        self.delivered.get(step).map_or(0, |d| d.load(SeqCst))
    }

    /// Called by a reader whose connection ended. Counted only while the run
    /// is on: at the end we close the connections ourselves.
    fn note_closed(&self) {
        if !self.stop.load(SeqCst) {
            self.closed.fetch_add(1, SeqCst);
        }
    }

    fn closed(&self) -> usize {
        self.closed.load(SeqCst)
    }
}

/// One connected, registered client.
struct Client {
    name: String,
    /// Read by this client's reader, written by a sender: `&TcpStream`
    /// implements both `Read` and `Write`, so the two need no lock.
    stream: TcpStream,
    /// What this client received in the current step. Locked by its reader
    /// once per `read` and by the main thread at the end of a step, so the
    /// lock is practically never contended.
    tally: Mutex<Tally>,
}

impl Client {
    fn tally(&self) -> MutexGuard<'_, Tally> {
        // A reader that panicked leaves its counts behind; keep them.
        self.tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// ---------------------------------------------------------------------------
// Connecting: the crowd of clients
// ---------------------------------------------------------------------------

/// All the clients of the run and the threads reading for them. Dropping it
/// closes every connection and waits for the readers.
struct Crowd {
    shared: Arc<Shared>,
    /// Ordered by index: `clients[i]` is `lg{i:04}`, and the first
    /// `--senders` of them send.
    clients: Vec<Arc<Client>>,
    readers: Readers,
    /// When the first connection was started and the last handshake ended.
    started: u64,
    registered: u64,
}

impl Crowd {
    /// Connects and registers `--clients` clients, `CONNECTORS` at a time,
    /// starting each one's reader as soon as its handshake is done (from then
    /// on the server sends it join notices, and a client that does not read
    /// them would be cut off when its queue on the server fills).
    fn connect(options: &Options, shared: &Arc<Shared>) -> Result<Crowd, String> {
        let total = options.clients;
        let buffer = match options.readers {
            ReaderKind::Threads => THREAD_BUFFER,
            ReaderKind::Sweep => SWEEP_BUFFER,
        };
        let mut crowd = Crowd {
            shared: Arc::clone(shared),
            clients: Vec::new(),
            readers: Readers::start(options.readers, shared)?,
            started: shared.nanos(),
            registered: 0,
        };
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let joined: Mutex<Vec<(usize, Arc<Client>)>> = Mutex::new(Vec::with_capacity(total));
        let failure: Mutex<Option<String>> = Mutex::new(None);
        // The first error stops every connector; it is the one reported.
        let fail = |error: String| {
            lock(&failure).get_or_insert(error);
        };
        let failed = || lock(&failure).is_some();

        thread::scope(|scope| {
            for c in 0..CONNECTORS.min(total) {
                let connector = || {
                    while !failed() {
                        let i = next.fetch_add(1, SeqCst);
                        if i >= total {
                            break;
                        }
                        let name = format!("{NAME_PREFIX}{i:04}");
                        match join_chat(options, &name, buffer, shared) {
                            Ok((client, inbox)) => {
                                let client = Arc::new(client);
                                lock(&joined).push((i, Arc::clone(&client)));
                                if let Err(e) = crowd.readers.add(i, client, inbox, shared) {
                                    fail(e);
                                }
                            }
                            Err(e) => fail(e),
                        }
                        let count = done.fetch_add(1, SeqCst) + 1;
                        if total >= 2000 && count.is_multiple_of(1000) {
                            eprintln!(
                                "loadgen: {count} clients registered ({:.1} s)",
                                (shared.nanos() - crowd.started) as f64 / 1e9
                            );
                        }
                    }
                };
                let spawned = thread::Builder::new()
                    .name(format!("connector {c}"))
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, connector);
                if let Err(e) = spawned {
                    fail(format!("cannot start a connector thread: {e}"));
                }
            }
        });

        crowd.registered = shared.nanos();
        let mut joined = joined.into_inner().unwrap_or_else(|p| p.into_inner());
        joined.sort_by_key(|(i, _)| *i);
        crowd.clients = joined.into_iter().map(|(_, client)| client).collect();
        match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            // Dropping the crowd closes the connections that did open.
            Some(error) => Err(format!(
                "registered {} of {total} clients in {:.2} s, then: {error}",
                crowd.clients.len(),
                crowd.connect_secs()
            )),
            None => Ok(crowd),
        }
    }

    fn connect_secs(&self) -> f64 {
        self.registered.saturating_sub(self.started) as f64 / 1e9
    }

    /// Waits until every client has the join notice of everyone who joined
    /// after it: N(N-1)/2 notices in all. Gives up when none has come for
    /// `JOIN_QUIET`, so a server that does not announce joins (or stops
    /// announcing them in big rooms) costs only that long.
    fn wait_for_joins(&self) -> Joins {
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
    fn run_step(&self, step: usize, rate: f64, options: &Options) -> StepResult {
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

        let outcomes: Vec<SenderOutcome> = thread::scope(|scope| {
            let handles: Vec<_> = (0..options.senders)
                .map(|s| {
                    let client = &self.clients[s];
                    thread::Builder::new()
                        .name(format!("sender {s}"))
                        .stack_size(WORKER_STACK)
                        .spawn_scoped(scope, move || {
                            send_on_schedule(client, s, &schedule, shared)
                        })
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
        });
        let send_end = shared.nanos();
        let sent: u64 = outcomes.iter().map(|o| o.sent).sum();
        let expected = sent * listeners;

        // Drain: deliveries still on their way.
        let drain_until = Instant::now() + options.drain;
        while shared.delivered(step) < expected && Instant::now() < drain_until {
            thread::sleep(Duration::from_millis(2));
        }
        let tally = self.collect(step + 1);
        let send_secs = send_end.saturating_sub(start) as f64 / 1e9;
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
            send_secs,
            recv_secs: tally.last_at.saturating_sub(start) as f64 / 1e9,
            send_lag_ms: outcomes.iter().map(|o| o.max_lag).max().unwrap_or(0) as f64 / 1e6,
            latency: tally.latency,
            closed: shared.closed(),
            cpu: cpu.read(),
        }
    }

    /// `--idle`: the first client says one line; how many of the others get
    /// it within `BROADCAST_LIMIT`, and how long the last one waited.
    fn broadcast(&self) -> Result<Broadcast, String> {
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

/// The clients of `--stalled`: registered, then never read. Only their
/// sockets are kept; dropping this closes them.
struct Stalled {
    streams: Vec<TcpStream>,
}

impl Stalled {
    /// Connects and registers `--stalled` clients, one after the other (there
    /// are few). Whatever came after the hello line stays unread in the
    /// kernel's buffers, like everything that follows.
    fn connect(options: &Options, shared: &Shared) -> Result<Stalled, String> {
        if options.stalled > 0 {
            eprintln!(
                "loadgen: connecting {} stalled clients (they never read)",
                options.stalled
            );
        }
        let mut streams = Vec::with_capacity(options.stalled);
        for i in 0..options.stalled {
            let name = format!("{STALLED_PREFIX}{i:03}");
            // A small buffer: it holds only the handshake, then goes.
            let (client, _inbox) = join_chat(options, &name, 4096, shared)?;
            streams.push(client.stream);
        }
        Ok(Stalled { streams })
    }

    /// How many stalled sockets the server has closed, seen through
    /// non-blocking reads. A closed socket still holds every byte the server
    /// sent before closing, so each is read until it says "end of stream"
    /// (`Ok(0)`: closed), fails (reset: closed too), or has nothing more
    /// (`WouldBlock`: still open). Reading frees room in our receive window,
    /// which lets the rest of the server's bytes (and its FIN) come in: so
    /// the reads go round again after a short pause, until a round brings no
    /// new bytes.
    fn count_closed(&self) -> usize {
        let mut closed = vec![false; self.streams.len()];
        let mut buf = vec![0; 64 * 1024];
        let give_up = Instant::now() + STALLED_CHECK_LIMIT;
        for (stream, closed) in self.streams.iter().zip(closed.iter_mut()) {
            if stream.set_nonblocking(true).is_err() {
                *closed = true;
            }
        }
        loop {
            let mut got_bytes = false;
            for (mut stream, closed) in self.streams.iter().zip(closed.iter_mut()) {
                while !*closed && Instant::now() < give_up {
                    match stream.read(&mut buf) {
                        Ok(0) => *closed = true,
                        Ok(_) => got_bytes = true,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) if is_timeout(&e) => break,
                        Err(_) => *closed = true,
                    }
                }
            }
            if !got_bytes || Instant::now() >= give_up {
                break;
            }
            thread::sleep(STALLED_CHECK_PAUSE);
        }
        closed.iter().filter(|&&c| c).count()
    }
}

/// Connects one client and registers it as `name`: reads the welcome line,
/// sends the name, reads up to the hello line. The history replay that may
/// follow is skipped later by the reader (see [`Replay`]).
fn join_chat(
    options: &Options,
    name: &str,
    buffer: usize,
    shared: &Shared,
) -> Result<(Client, Inbox), String> {
    let deadline = Instant::now() + HANDSHAKE_LIMIT;
    let stream = connect_with_retry(options.addr).map_err(|e| {
        let hint = if e.kind() == ErrorKind::ConnectionRefused {
            " (is the server running?)"
        } else {
            ""
        };
        format!("{name}: cannot connect to {}: {e}{hint}", options.addr)
    })?;
    let setup = |s: &TcpStream| {
        // Without TCP_NODELAY a small line may wait for the previous one's
        // ACK (Nagle's algorithm): up to 40 ms of latency that is not the
        // server's.
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(READ_TIMEOUT))?;
        s.set_write_timeout(Some(WRITE_TIMEOUT))
    };
    setup(&stream).map_err(|e| format!("{name}: cannot set up the socket: {e}"))?;

    let mut inbox = Inbox::new(buffer);
    let welcome = inbox
        .handshake_line(&stream, deadline)
        .map_err(|e| format!("{name}: waiting for the welcome line: {e}"))?;
    if !welcome.starts_with("* Welcome") {
        let hint = if welcome.starts_with("! server full") {
            " (raise max_clients in the server's config)"
        } else if welcome.starts_with("! too many connections") {
            " (set max_clients_per_ip = 0 in the server's config, as examples/bench.toml does)"
        } else {
            ""
        };
        return Err(format!(
            "{name}: expected the welcome line, got {welcome:?}{hint}"
        ));
    }
    send_all(&stream, format!("{name}\n").as_bytes(), deadline)
        .map_err(|e| format!("{name}: cannot send the name: {e}"))?;
    loop {
        let line = inbox
            .handshake_line(&stream, deadline)
            .map_err(|e| format!("{name}: waiting for the hello line: {e}"))?;
        if line.starts_with("* Hello ") {
            break;
        }
        if line.starts_with("! ") {
            return Err(format!("{name}: the server refused the name: {line}"));
        }
    }
    if options.readers == ReaderKind::Sweep {
        stream
            .set_nonblocking(true)
            .map_err(|e| format!("{name}: cannot make the socket non-blocking: {e}"))?;
    }
    inbox.replay = Replay::Maybe;
    let client = Client {
        name: name.to_string(),
        stream,
        tally: Mutex::new(Tally::new(0, shared.senders)),
    };
    Ok((client, inbox))
}

/// `TcpStream::connect`, retried a few times with growing pauses when the
/// error may pass: a full listen backlog, or no free local port for a moment.
fn connect_with_retry(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut pause = Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => return Ok(stream),
            Err(e) if attempt < CONNECT_ATTEMPTS && is_transient(&e) => {
                thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::TimedOut
            | ErrorKind::WouldBlock
            | ErrorKind::Interrupted
            | ErrorKind::AddrNotAvailable
    )
}

/// A read or write that hit the socket's timeout (the error kind differs
/// between platforms), or a non-blocking socket with nothing to do.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------
// Reading: from bytes to lines to tallies
// ---------------------------------------------------------------------------

/// The reading side of one connection. TCP delivers bytes, not lines: one
/// `read` may end in the middle of a line, so the unfinished tail waits in
/// the buffer for the next `read`. The same inbox serves the handshake and
/// then the reader, so nothing read during the handshake is lost.
struct Inbox {
    buf: Box<[u8]>,
    /// `buf[start..end]` holds bytes read but not yet taken as lines.
    start: usize,
    end: usize,
    replay: Replay,
}

/// Where a client is in the history replay that follows its hello line:
/// `* last N messages in #room:` and N old messages, which must not count as
/// deliveries (after a previous run they look just like ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Replay {
    /// Still in the handshake.
    NotYet,
    /// The next line may be the replay's header.
    Maybe,
    /// This many replayed lines still to skip.
    Skip(u64),
    Done,
}

impl Replay {
    /// True if `line` is part of the replay and must be skipped. The server
    /// sends the hello and the replay before anyone else can write to us, so
    /// the header, if any, is the very next line.
    fn skips(&mut self, line: &[u8]) -> bool {
        match *self {
            Replay::NotYet | Replay::Done => false,
            Replay::Skip(n) => {
                *self = if n > 1 {
                    Replay::Skip(n - 1)
                } else {
                    Replay::Done
                };
                true
            }
            Replay::Maybe => match replay_count(line) {
                Some(n) => {
                    *self = if n > 0 { Replay::Skip(n) } else { Replay::Done };
                    true
                }
                None => {
                    *self = Replay::Done;
                    false
                }
            },
        }
    }
}

impl Inbox {
    fn new(size: usize) -> Inbox {
        Inbox {
            // Zeroed memory comes from the kernel untouched: the pages cost
            // nothing until data is read into them.
            buf: vec![0; size].into_boxed_slice(),
            start: 0,
            end: 0,
            replay: Replay::NotYet,
        }
    }

    /// One `read` into the free end of the buffer; `Ok(0)` means the server
    /// closed the connection. Blocks up to the socket's read timeout (or not
    /// at all on a non-blocking socket).
    fn fill(&mut self, mut stream: &TcpStream) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                // One line fills the whole buffer. The server caps its lines
                // far below this, so it cannot happen; should it, drop the
                // bytes rather than grow without limit (the rest of the line
                // then reads as a line of its own, and is ignored).
                self.end = 0;
            } else {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
        }
        let n = stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The next complete line in the buffer (without `\n` or `\r\n`), as a
    /// range of `buf`, or None if only part of a line has arrived.
    fn take_line(&mut self) -> Option<Range<usize>> {
        let length = self.buf[self.start..self.end]
            .iter()
            .position(|&b| b == b'\n')?;
        let mut line = self.start..self.start + length;
        self.start += length + 1;
        if line.end > line.start && self.buf[line.end - 1] == b'\r' {
            line.end -= 1;
        }
        Some(line)
    }

    /// The next line during the handshake, reading as needed until
    /// `deadline`.
    fn handshake_line(&mut self, stream: &TcpStream, deadline: Instant) -> io::Result<String> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(String::from_utf8_lossy(&self.buf[line]).into_owned());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(ErrorKind::TimedOut, "timed out"));
            }
            match self.fill(stream) {
                Ok(0) => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ))
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes every complete line in the buffer and counts it in the client's
    /// tally. `now` is when the `read` returned: one clock reading for all the
    /// lines it brought, which is when they became visible to us.
    fn process(&mut self, client: &Client, shared: &Shared, now: u64) {
        let mut tally = client.tally();
        let before = tally.delivered;
        let mut joins = 0;
        while let Some(range) = self.take_line() {
            let line = &self.buf[range];
            if self.replay.skips(line) {
                continue;
            }
            match parse_line(line) {
                Line::Bench(message) => tally.record(&message, now),
                Line::Joined => joins += 1,
                Line::Error => tally.note_error(line),
                Line::Other => {}
            }
        }
        let step = tally.step;
        let delivered = tally.delivered - before;
        drop(tally);
        if delivered > 0 {
            if let Some(counter) = shared.delivered.get(step) {
                counter.fetch_add(delivered, SeqCst);
            }
        }
        if joins > 0 {
            shared.last_join.fetch_max(now, SeqCst);
            shared.joins.fetch_add(joins, SeqCst);
        }
    }
}

/// What a line from the server means to the generator.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// One of our messages, in a room.
    Bench(Bench),
    /// `* lgNNNN joined #room`.
    Joined,
    /// `! ...`: the server refused something we sent.
    Error,
    /// Anything else: other notices, other people's messages.
    Other,
}

/// The fields of a message line (see the module doc).
#[derive(Debug, PartialEq, Eq)]
struct Bench {
    step: usize,
    sender: usize,
    seq: u64,
    due: u64,
}

fn parse_line(line: &[u8]) -> Line {
    if let Some(text) = room_text(line) {
        return parse_bench(text).map_or(Line::Other, Line::Bench);
    }
    if is_join_notice(line) {
        return Line::Joined;
    }
    if line.starts_with(b"! ") {
        return Line::Error;
    }
    Line::Other
}

/// The text of a room message, `[#room] name: text`.
fn room_text(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"[#")?;
    let rest = &rest[find(rest, b"] ")? + 2..];
    // Names cannot hold ':' or ' ', so the first ": " ends the name.
    Some(&rest[find(rest, b": ")? + 2..])
}

/// `* lgNNNN joined #room`: a notice that one of the crowd arrived (not a
/// stalled client, `* lgsNNN joined #room`).
fn is_join_notice(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"* ") else {
        return false;
    };
    let Some(space) = rest.iter().position(|&b| b == b' ') else {
        return false;
    };
    is_crowd_name(&rest[..space]) && rest[space..].starts_with(b" joined #")
}

/// `lg` followed by digits only: one of the measured clients.
fn is_crowd_name(name: &[u8]) -> bool {
    name.strip_prefix(NAME_PREFIX.as_bytes())
        .is_some_and(|index| !index.is_empty() && index.iter().all(u8::is_ascii_digit))
}

/// `b <step> <sender> <seq> <due_nanos> ...`.
fn parse_bench(text: &[u8]) -> Option<Bench> {
    let mut fields = text.split(|&b| b == b' ');
    if fields.next()? != b"b" {
        return None;
    }
    Some(Bench {
        step: usize::try_from(parse_u64(fields.next()?)?).ok()?,
        sender: usize::try_from(parse_u64(fields.next()?)?).ok()?,
        seq: parse_u64(fields.next()?)?,
        due: parse_u64(fields.next()?)?,
    })
}

/// The header of a history replay, `* last N messages in #room:`: N.
fn replay_count(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"* last ")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let count = parse_u64(&rest[..space])?;
    rest[space..].starts_with(b" message").then_some(count)
}

/// A decimal number made of ASCII digits only.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What one client received in one step, or the sum over clients.
#[derive(Clone, Debug)]
struct Tally {
    step: usize,
    delivered: u64,
    /// Messages of an earlier step, arriving after it was collected (and
    /// counted as lost there).
    late: u64,
    /// Messages that came after a later one from the same sender, or twice.
    out_of_order: u64,
    /// Times a sender's sequence skipped ahead (a message missing, for now).
    gaps: u64,
    /// `! ...` lines, and the first of them.
    errors: u64,
    first_error: Option<String>,
    /// Per sender: the sequence number expected next.
    next_seq: Vec<u64>,
    /// When the latest delivery arrived (ns since the origin).
    last_at: u64,
    latency: Histogram,
}

impl Tally {
    fn new(step: usize, senders: usize) -> Tally {
        Tally {
            step,
            delivered: 0,
            late: 0,
            out_of_order: 0,
            gaps: 0,
            errors: 0,
            first_error: None,
            next_seq: vec![0; senders],
            last_at: 0,
            latency: Histogram::default(),
        }
    }

    fn record(&mut self, message: &Bench, now: u64) {
        if message.step != self.step {
            self.late += 1;
            return;
        }
        let Some(next) = self.next_seq.get_mut(message.sender) else {
            return; // not a sender of this run: someone else's traffic
        };
        // Each sender's numbers must arrive in order, each once: the server
        // reads one sender's lines in order and queues them in that order.
        if message.seq < *next {
            self.out_of_order += 1;
        } else {
            if message.seq > *next {
                self.gaps += 1;
            }
            *next = message.seq + 1;
        }
        self.delivered += 1;
        self.last_at = self.last_at.max(now);
        self.latency.record(now.saturating_sub(message.due) / 1000);
    }

    fn note_error(&mut self, line: &[u8]) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(String::from_utf8_lossy(line).into_owned());
        }
    }

    fn absorb(&mut self, other: &Tally) {
        self.delivered += other.delivered;
        self.late += other.late;
        self.out_of_order += other.out_of_order;
        self.gaps += other.gaps;
        self.errors += other.errors;
        self.last_at = self.last_at.max(other.last_at);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.latency.absorb(&other.latency);
    }
}

/// Latencies in microseconds, counted in buckets: exact below 64 µs, then 32
/// buckets per power of two, so a percentile read from it is within about
/// 1.6 % of the true value. A few kilobytes per tally whatever the number of
/// messages, and two histograms add bucket by bucket.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// Empty until the first value, so idle clients cost nothing.
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

const EXACT_BELOW: u64 = 64;
const SUB_BUCKET_BITS: u32 = 5;
/// Values are capped at 2^40 µs (12 days): plenty.
const TOP_POWER: u32 = 40;
const BUCKETS: usize = EXACT_BELOW as usize + ((TOP_POWER - 6) << SUB_BUCKET_BITS) as usize;

impl Histogram {
    fn record(&mut self, us: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[bucket_of(us)] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    fn absorb(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The value below which a fraction `p` (0 to 1) of the values lie, in
    /// milliseconds; None when empty.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_middle(bucket).min(self.max_us) as f64 / 1000.0);
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }

    pub fn max_ms(&self) -> Option<f64> {
        (self.total > 0).then(|| self.max_us as f64 / 1000.0)
    }
}

fn bucket_of(us: u64) -> usize {
    let us = us.min((1 << TOP_POWER) - 1);
    if us < EXACT_BELOW {
        return us as usize;
    }
    let power = 63 - us.leading_zeros(); // 6 or more
    let sub = (us >> (power - SUB_BUCKET_BITS)) & ((1 << SUB_BUCKET_BITS) - 1);
    EXACT_BELOW as usize + (((power - 6) << SUB_BUCKET_BITS) as usize) + sub as usize
}

fn bucket_middle(bucket: usize) -> u64 {
    if bucket < EXACT_BELOW as usize {
        return bucket as u64;
    }
    let i = (bucket - EXACT_BELOW as usize) as u64;
    let power = (i >> SUB_BUCKET_BITS) as u32 + 6;
    let sub = i & ((1 << SUB_BUCKET_BITS) - 1);
    let width = 1u64 << (power - SUB_BUCKET_BITS);
    ((1 << SUB_BUCKET_BITS) + sub) * width + width / 2
}

// ---------------------------------------------------------------------------
// The readers: a thread per client, or a few sweepers
// ---------------------------------------------------------------------------

/// The threads that read for the clients.
enum Readers {
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

impl Readers {
    fn start(kind: ReaderKind, shared: &Arc<Shared>) -> Result<Readers, String> {
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
    fn add(
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
    fn join(&mut self) {
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

// ---------------------------------------------------------------------------
// Sending on a schedule
// ---------------------------------------------------------------------------

/// The plan of one step: message `k` (0 to `offered - 1`) is due at
/// `start + k / rate` and is sent by sender `k % senders`.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    step: usize,
    rate: f64,
    offered: u64,
    senders: usize,
    /// Nanoseconds since the run's origin.
    start: u64,
    /// After this, senders give up on what they have not sent.
    stop: u64,
}

impl Schedule {
    fn due(&self, k: u64) -> u64 {
        self.start + (k as f64 * 1e9 / self.rate) as u64
    }
}

#[derive(Debug, Default)]
struct SenderOutcome {
    sent: u64,
    /// How far behind its schedule this sender fell, at worst (ns).
    max_lag: u64,
    error: Option<String>,
}

impl SenderOutcome {
    fn failed(error: &str) -> SenderOutcome {
        SenderOutcome {
            error: Some(error.to_string()),
            ..SenderOutcome::default()
        }
    }
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

/// Appends one message line, padded with `x` to `LINE_BYTES`.
fn write_bench_line(out: &mut Vec<u8>, step: usize, sender: usize, seq: u64, due: u64) {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "b {step} {sender} {seq} {due} ");
    let pad = (LINE_BYTES - 1).saturating_sub(out.len() - start).max(1);
    out.resize(out.len() + pad, b'x');
    out.push(b'\n');
}

/// Writes all of `bytes`, on a blocking socket (which waits up to its write
/// timeout at a time) or a non-blocking one (which says `WouldBlock` when
/// the kernel's send buffer is full: wait a little and try again), until
/// `deadline`.
fn send_all(mut stream: &TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(
                        ErrorKind::TimedOut,
                        "the server stopped taking our lines",
                    ));
                }
                thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Measuring: /proc
// ---------------------------------------------------------------------------

/// The server's resident memory now and at its peak, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

fn server_memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
    })
}

/// CPU seconds (user + system) used so far by a process, all its threads
/// together (`None`: this one), from fields 14 and 15 of `/proc/PID/stat`.
/// They are in clock ticks of 1/100 s: Linux reports them in `USER_HZ`,
/// which is 100 on every architecture (asking with `sysconf` would need
/// libc).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or("/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// A stopwatch for CPU use, ours and the server's.
struct CpuClock {
    wall: Instant,
    generator: Option<f64>,
    server_pid: Option<u32>,
    server: Option<f64>,
}

impl CpuClock {
    fn start(server_pid: Option<u32>) -> CpuClock {
        CpuClock {
            wall: Instant::now(),
            generator: cpu_seconds(None),
            server_pid,
            server: server_pid.and_then(|pid| cpu_seconds(Some(pid))),
        }
    }

    fn read(&self) -> CpuUse {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let percent = |before: Option<f64>, now: Option<f64>| Some((now? - before?) / wall * 100.0);
        CpuUse {
            generator_pct: percent(self.generator, cpu_seconds(None)),
            server_pct: percent(
                self.server,
                self.server_pid.and_then(|pid| cpu_seconds(Some(pid))),
            ),
            cores: thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// CPU time over wall time, in percent: 100 is one core kept busy.
#[derive(Clone, Copy, Debug)]
pub struct CpuUse {
    pub generator_pct: Option<f64>,
    pub server_pct: Option<f64>,
    pub cores: usize,
}

impl CpuUse {
    /// The generator's share of the whole machine, in percent.
    pub fn gen_machine_pct(&self) -> Option<f64> {
        self.generator_pct.map(|pct| pct / self.cores as f64)
    }
}

impl fmt::Display for CpuUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gen_cpu_pct={} gen_cpu_machine_pct={} srv_cpu_pct={} cores={}",
            Opt(self.generator_pct, 1),
            Opt(self.gen_machine_pct(), 1),
            Opt(self.server_pct, 1),
            self.cores
        )
    }
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// Everything measured in a run; `Display` gives the `RESULT` line.
#[derive(Clone, Debug)]
pub struct Report {
    pub mode: Mode,
    pub clients: usize,
    pub senders: usize,
    /// Clients that never read (`--stalled`), and how many of them the
    /// server had closed by the end.
    pub stalled: usize,
    pub stalled_closed: usize,
    /// From the first connect until the last client had its hello line.
    pub connect_secs: f64,
    pub joins: Joins,
    /// Fixed rate: the one step; `--max-rate`: the best step that passed.
    pub step: Option<StepResult>,
    /// `--idle`: the one broadcast.
    pub broadcast: Option<Broadcast>,
    pub memory: Option<Memory>,
    /// Over the whole run.
    pub cpu: Option<CpuUse>,
    /// Warnings for the reader, printed as `note: ...` before the result.
    pub notes: Vec<String>,
}

/// Join notices: see `Crowd::wait_for_joins`.
#[derive(Clone, Copy, Debug)]
pub struct Joins {
    /// From the first connect until every client was registered and had
    /// every join notice meant for it.
    pub secs: f64,
    pub notices: u64,
    pub expected: u64,
}

/// `--idle`: one line from the first client to all the others.
#[derive(Clone, Debug)]
pub struct Broadcast {
    pub reached: u64,
    pub expected: u64,
    /// Connections the server had closed by the end.
    pub closed: usize,
    pub latency: Histogram,
}

/// One step of sending.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub rate: f64,
    pub secs: f64,
    /// Messages the schedule held, and the ones actually sent.
    pub offered: u64,
    pub sent: u64,
    /// Every message sent should reach every other client.
    pub expected: u64,
    pub delivered: u64,
    pub late: u64,
    pub out_of_order: u64,
    pub gaps: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub send_error: Option<String>,
    /// From the first message's due time until the last sender finished.
    pub send_secs: f64,
    /// From the first message's due time until the last delivery arrived:
    /// much longer than `secs` means the server was queueing.
    pub recv_secs: f64,
    /// How far behind its schedule the slowest sender fell.
    pub send_lag_ms: f64,
    pub latency: Histogram,
    /// Connections the server had closed by the end of the step.
    pub closed: usize,
    pub cpu: CpuUse,
}

impl StepResult {
    /// Deliveries that had not arrived when the drain ended.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }

    pub fn deliveries_per_sec(&self) -> f64 {
        self.delivered as f64 / self.send_secs.max(1e-9)
    }

    /// `--max-rate`: did the server keep up at this rate?
    pub fn passed(&self) -> bool {
        self.lost() == 0
            && self.sent == self.offered
            && self.out_of_order == 0
            && self.closed == 0
            && self
                .latency
                .percentile_ms(0.99)
                .is_some_and(|p99| p99 <= P99_LIMIT_MS)
    }
}

/// An optional number, printed with `decimals` decimals, or `-` if missing.
struct Opt(Option<f64>, usize);

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(x) => write!(f, "{x:.*}", self.1),
            None => f.write_str("-"),
        }
    }
}

fn latency_fields(f: &mut fmt::Formatter<'_>, latency: &Histogram) -> fmt::Result {
    write!(
        f,
        "p50_ms={} p90_ms={} p99_ms={} max_ms={}",
        Opt(latency.percentile_ms(0.50), 3),
        Opt(latency.percentile_ms(0.90), 3),
        Opt(latency.percentile_ms(0.99), 3),
        Opt(latency.max_ms(), 3)
    )
}

impl fmt::Display for StepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate={:.0} secs={} offered={} sent={} expected={} delivered={} lost={} late={} \
             out_of_order={} gaps={} errors={} closed={} deliveries_per_sec={:.0} \
             recv_secs={:.3} send_lag_ms={:.3} ",
            self.rate,
            self.secs,
            self.offered,
            self.sent,
            self.expected,
            self.delivered,
            self.lost(),
            self.late,
            self.out_of_order,
            self.gaps,
            self.errors,
            self.closed,
            self.deliveries_per_sec(),
            self.recv_secs,
            self.send_lag_ms
        )?;
        latency_fields(f, &self.latency)?;
        write!(f, " pass={} {}", self.passed(), self.cpu)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RESULT mode={} clients={} senders={} stalled={} stalled_closed={} \
             connect_secs={:.3} join_secs={:.3} join_notices={} join_expected={}",
            self.mode,
            self.clients,
            self.senders,
            self.stalled,
            self.stalled_closed,
            self.connect_secs,
            self.joins.secs,
            self.joins.notices,
            self.joins.expected
        )?;
        if let Some(step) = &self.step {
            write!(f, " {step}")?;
        }
        if let Some(b) = &self.broadcast {
            write!(
                f,
                " closed={} bcast_reached={} bcast_expected={} bcast_last_ms={} ",
                b.closed,
                b.reached,
                b.expected,
                Opt(b.latency.max_ms(), 3)
            )?;
            latency_fields(f, &b.latency)?;
        }
        let (rss, hwm) = match self.memory {
            Some(m) => (Some(m.rss_kb as f64), Some(m.hwm_kb as f64)),
            None => (None, None),
        };
        write!(f, " rss_kb={} hwm_kb={}", Opt(rss, 0), Opt(hwm, 0))?;
        // In a step the CPU figures are the step's; otherwise the whole run's.
        if let (None, Some(cpu)) = (&self.step, self.cpu) {
            write!(f, " {cpu}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Tests of the pure parts: parsing and the histogram
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_line_is_parsed_back() {
        let mut line = Vec::new();
        write_bench_line(&mut line, 2, 3, 17, 123_456_789);
        assert_eq!(line.len(), LINE_BYTES);
        let received = [b"[#general] lg0003: ".as_slice(), &line[..line.len() - 1]].concat();
        let expected = Bench {
            step: 2,
            sender: 3,
            seq: 17,
            due: 123_456_789,
        };
        assert_eq!(parse_line(&received), Line::Bench(expected));
    }

    #[test]
    fn other_lines_are_told_apart() {
        assert_eq!(parse_line(b"* lg0042 joined #general"), Line::Joined);
        assert_eq!(parse_line(b"* alice joined #general"), Line::Other);
        // Stalled clients are not of the crowd, coming or going.
        assert_eq!(parse_line(b"* lgs001 joined #general"), Line::Other);
        assert_eq!(parse_line(b"* lgs001 left #general"), Line::Other);
        assert_eq!(parse_line(b"* lg joined #general"), Line::Other);
        assert_eq!(parse_line(b"! slow down"), Line::Error);
        assert_eq!(parse_line(b"[#general] alice: hi"), Line::Other);
        assert_eq!(parse_line(b"[#general] alice: b 1 x 2 3"), Line::Other);
    }

    #[test]
    fn the_history_replay_is_skipped() {
        let mut replay = Replay::Maybe;
        assert!(replay.skips(b"* last 2 messages in #general:"));
        assert!(replay.skips(b"[#general] lg0001: b 0 0 0 5 x"));
        assert!(replay.skips(b"[#general] lg0001: b 0 0 1 6 x"));
        assert!(!replay.skips(b"[#general] lg0001: b 0 0 0 7 x"));

        let mut no_replay = Replay::Maybe;
        assert!(!no_replay.skips(b"* lg0002 joined #general"));
        assert_eq!(no_replay, Replay::Done);
    }

    #[test]
    fn sequence_errors_are_counted() {
        let mut tally = Tally::new(0, 1);
        let at = |seq| Bench {
            step: 0,
            sender: 0,
            seq,
            due: 0,
        };
        for seq in [0, 1, 3, 2, 4] {
            tally.record(&at(seq), 1_000_000);
        }
        assert_eq!(tally.delivered, 5);
        assert_eq!(tally.gaps, 1);
        assert_eq!(tally.out_of_order, 1);
    }

    #[test]
    fn percentiles_are_within_two_percent() {
        let mut histogram = Histogram::default();
        for us in 1..=100_000 {
            histogram.record(us);
        }
        for (p, exact) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
            let got = histogram.percentile_ms(p).expect("values were recorded");
            assert!((got - exact).abs() / exact < 0.02, "p{p}: {got} vs {exact}");
        }
        assert_eq!(histogram.max_ms(), Some(100.0));
    }

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_addr("127.0.0.1", 1).is_ok());
        assert!(loopback_addr("::1", 1).is_ok());
        assert!(loopback_addr("localhost", 1).is_ok());
        assert!(loopback_addr("10.0.0.1", 1).is_err());
        assert!(loopback_addr("example.com", 1).is_err());
    }
}
