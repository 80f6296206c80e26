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
//! A message is one line of about 40 bytes, `b <step> <sender> <seq>
//! <due_nanos> xxxxxxxx` (see `message.rs`): the step of `--max-rate`, the
//! sending client, that sender's sequence number (so every receiver can check
//! that its messages arrive in order, once each) and the due time in
//! nanoseconds since the generator started. One `Instant` taken at the start
//! is the clock of every thread, so send and receive times compare directly.
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
//! - The **churn** thread (only with `--stalled-churn`): connects new
//!   clients that never read, on a schedule, and closes the oldest.
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
//! `--stalled-churn K` adds a stream of them instead: K new clients a second
//! (`lgc00000`, ...) for as long as the mode runs, each logging in under a
//! fresh name and never reading, at most `--stalled-alive` (16) open at a
//! time, the oldest closed first. The crowd's figures then say what readers
//! that keep stalling cost everyone else.
//!
//! ## Receivers on the other ways in
//!
//! The server has three listeners: the line protocol, IRC and the web page.
//! By default every client is a terminal client. `--receivers irc` or
//! `--receivers sse` keeps the `--senders` on the line protocol and brings
//! every other client in the other way: over IRC (`irc.rs`: `NICK`/`USER`,
//! `JOIN #general`, messages as `PRIVMSG`s; `--irc-port` names the
//! listener), or as the web page does (`sse.rs`: `POST /api/login`, then a
//! `GET /api/events` stream of `data: ` lines; `--web-port`). The message
//! line inside is the one the sender wrote, so it is parsed, checked and
//! timed as on a terminal, and the figures of the three compare directly:
//! deliveries still count sent × (N-1), the senders' own deliveries
//! included. Join notices count too (an IRC `JOIN`, an SSE `data: * ...
//! joined`).
//!
//! ## The report
//!
//! Progress goes to stderr. `--max-rate` prints a `STEP n=... key=value ...`
//! line per step, and the last line on stdout is always
//! `RESULT key=value ...`, preceded by `note: ...` lines when something
//! deserves a look. `report.rs` lists the keys and what each one means.
//!
//! ## The modules, in reading order
//!
//! 1. `options`: the command line, and the loopback-only rule.
//! 2. `crowd`: the measured clients: connecting them, waiting for their
//!    join notices, a step of sending, the one broadcast of `--idle`.
//! 3. `handshake`: one client joining the chat; `irc` and `sse`: a
//!    receiver joining it over IRC or the web API.
//! 4. `readers`: the threads that read, a thread per client or sweepers.
//! 5. `inbox`: one connection's bytes made into lines (IRC lines and SSE
//!    events too), and counted.
//! 6. `message`: the lines on the wire, written and parsed.
//! 7. `tally` and `histogram`: what a client received, and how late.
//! 8. `schedule`: the senders and their fixed schedule.
//! 9. `stalled` and `churn`: the clients that never read, staying or
//!    coming and going.
//! 10. `report` and `notes`: the `RESULT` line and the notes before it.
//! 11. `shared`, `net`, `resources`: what the threads share, socket
//!     helpers, and the memory and CPU figures from `/proc`.
//!
//! The modules name each other `super::...`, not `crate::...`:
//! `tests/loadgen_smoke.rs` compiles this example as a module of the test,
//! where `crate` is the test itself.

mod churn;
mod crowd;
mod handshake;
mod histogram;
mod inbox;
mod irc;
mod message;
mod net;
mod notes;
mod options;
mod readers;
mod report;
mod resources;
mod schedule;
mod shared;
mod sse;
mod stalled;
mod tally;

use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use churn::Churn;
use crowd::Crowd;
pub use options::Options;
use options::{Mode, ReaderKind, WayIn, USAGE};
pub use report::Report;
use report::{ChurnResult, StepResult};
use resources::{server_memory, CpuClock};
use shared::Shared;
use stalled::Stalled;

/// `--max-rate`: a pause between steps, so one step's backlog (in the
/// server's queues, in the kernel) does not count against the next.
const STEP_PAUSE: Duration = Duration::from_millis(500);

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

/// Runs the generator as the command line `args` asks (without the program
/// name) and returns its report. Blocks for the length of the run; every wait
/// inside is bounded.
pub fn run(args: &[String]) -> Result<Report, String> {
    run_with(&Options::parse(args)?)
}

/// Runs the generator with checked options: connect the crowd, wait for its
/// join notices, add the stalled clients, do what the mode says (with the
/// churn of `--stalled-churn` alongside), measure what the run cost, and
/// close everything.
pub fn run_with(options: &Options) -> Result<Report, String> {
    let shared = Arc::new(Shared::new(options.senders));
    let whole_run = CpuClock::start(options.server_pid);
    let crowd = connect_crowd(options, &shared)?;
    let joins = crowd.wait_for_joins();
    // After the crowd's join notices, so they measure the crowd alone. Their
    // own join notices reach the crowd now, and are not counted.
    let stalled = Stalled::connect(options, &shared)?;
    let mut report = Report::new(options, stalled.streams.len(), crowd.connect_secs(), joins);
    notes::on_joins(&joins, &mut report.notes);

    let churn = Churn::start(options, &shared)?;
    run_mode(&crowd, options, &mut report)?;
    let churned = churn.map(Churn::stop);
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
    notes::on_run(&report.step, cpu, crowd.shared.closed(), &mut report.notes);
    if report.stalled > 0 {
        report.stalled_closed = stalled.count_closed();
        notes::on_stalled(report.stalled_closed, &mut report.notes);
    }
    if let Some(churned) = &churned {
        report.churn = Some(ChurnResult {
            rate: options.stalled_churn,
            alive: options.stalled_alive,
            joined: churned.joined,
            failed: churned.failed,
            closed: churned.count_closed(),
        });
        notes::on_churn(churned, options.stalled_churn, &mut report.notes);
    }
    drop(churned);
    drop(stalled);
    drop(crowd); // closes every connection and joins the readers
    Ok(report)
}

/// Connects the measured clients, saying on stderr what it is doing.
fn connect_crowd(options: &Options, shared: &Arc<Shared>) -> Result<Crowd, String> {
    let receivers = match options.receivers {
        WayIn::Terminal => String::new(),
        WayIn::Irc(addr) | WayIn::Sse(addr) => {
            format!("; receivers over {} at {addr}", options.receivers)
        }
    };
    eprintln!(
        "loadgen: connecting {} clients to {} ({} readers{receivers})",
        options.clients,
        options.addr,
        match options.readers {
            ReaderKind::Threads => "thread-per-client",
            ReaderKind::Sweep => "sweeping",
        }
    );
    let crowd = Crowd::connect(options, shared)?;
    eprintln!(
        "loadgen: {} clients registered in {:.3} s; waiting for the join notices",
        crowd.clients.len(),
        crowd.connect_secs()
    );
    Ok(crowd)
}

/// What the mode asks for once everyone is in: one step of sending, the
/// search for the highest rate, or holding still and one broadcast.
fn run_mode(crowd: &Crowd, options: &Options, report: &mut Report) -> Result<(), String> {
    match options.mode {
        Mode::Fixed => {
            eprintln!(
                "loadgen: {} senders, {} messages/s for {} s",
                options.senders, options.rate, options.secs
            );
            report.step = Some(crowd.run_step(0, options.rate, options));
        }
        Mode::MaxRate => report.step = Some(find_max_rate(crowd, options, &mut report.notes)),
        Mode::Idle => {
            eprintln!("loadgen: holding the connections for {} s", options.secs);
            thread::sleep(Duration::from_secs_f64(options.secs));
            report.memory = options.server_pid.and_then(server_memory);
            report.broadcast = Some(crowd.broadcast()?);
        }
    }
    Ok(())
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
