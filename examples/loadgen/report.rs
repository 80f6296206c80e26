//! The results of a run and the lines that print them: `STEP n=...` for each
//! step of `--max-rate` and `RESULT key=value ...` at the end, which
//! `examples/bench.sh` reads. The key names are an interface: rename one
//! and the script with it.
//!
//! The keys:
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
//! - `receivers` (only with `--receivers irc` or `sse`): how the clients
//!   that do not send came in.
//! - `stalled`: the clients that never read (`--stalled`), and
//!   `stalled_closed`: how many of them the server had closed by the end.
//! - Only with `--stalled-churn`: `stalled_churn` new clients a second that
//!   never read, at most `stalled_alive` open at a time; `churn_joined` of
//!   them completed their handshake, `churn_failed` did not, and
//!   `churn_closed` is how many of the ones still open at the end the server
//!   had closed.
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

use super::histogram::Histogram;
use super::options::{Mode, Options, WayIn};
use super::resources::{CpuUse, Memory};

/// `--max-rate`: a step passes only if its p99 latency is at most this.
const P99_LIMIT_MS: f64 = 100.0;

/// Everything measured in a run; `Display` gives the `RESULT` line.
#[derive(Clone, Debug)]
pub struct Report {
    pub mode: Mode,
    pub clients: usize,
    pub senders: usize,
    /// How the clients that do not send came in (`--receivers`).
    pub receivers: WayIn,
    /// Clients that never read (`--stalled`), and how many of them the
    /// server had closed by the end.
    pub stalled: usize,
    pub stalled_closed: usize,
    /// `--stalled-churn`: the stream of clients that never read.
    pub churn: Option<ChurnResult>,
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

impl Report {
    /// The report of a run whose clients are connected, with nothing
    /// measured yet.
    pub(crate) fn new(
        options: &Options,
        stalled: usize,
        connect_secs: f64,
        joins: Joins,
    ) -> Report {
        Report {
            mode: options.mode,
            clients: options.clients,
            senders: options.senders,
            receivers: options.receivers,
            stalled,
            stalled_closed: 0,
            churn: None,
            connect_secs,
            joins,
            step: None,
            broadcast: None,
            memory: None,
            cpu: None,
            notes: Vec::new(),
        }
    }
}

/// `--stalled-churn`: new clients that never read, arriving all run long.
#[derive(Clone, Copy, Debug)]
pub struct ChurnResult {
    /// New clients a second, and the most open at a time.
    pub rate: f64,
    pub alive: usize,
    /// Clients that completed their handshake, and ones that did not.
    pub joined: u64,
    pub failed: u64,
    /// Of the clients still open at the end, how many the server had closed.
    pub closed: usize,
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
        // Only when not the default, so terminal runs print what they
        // always did.
        if self.receivers != WayIn::Terminal {
            write!(f, " receivers={}", self.receivers)?;
        }
        if let Some(churn) = &self.churn {
            write!(
                f,
                " stalled_churn={} stalled_alive={} churn_joined={} churn_failed={} \
                 churn_closed={}",
                churn.rate, churn.alive, churn.joined, churn.failed, churn.closed
            )?;
        }
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
