//! The command line: the mode, how many clients, how fast, and the one rule
//! that never bends, that the generator loads only a server on this machine.
//!
//! Parsing is kept apart from running so that it can be tested alone, and
//! the checked `Options` are all the rest of the generator reads. It is done
//! in two steps: `Flags::read` takes the words as given, `Flags::check`
//! fills in the defaults that depend on the mode and refuses what makes no
//! sense.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub(crate) const USAGE: &str = "\
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
  --stalled-churn K  while the mode runs, K new clients a second (lgc00000,
                     ...) connect, log in under a fresh name and never read;
                     they are not counted as --clients either (default 0:
                     none). All connect from 127.0.0.1 (see churn.rs)
  --stalled-alive M  --stalled-churn: at most M of them open at a time, the
                     oldest closed first (default 16)
  --receivers WAY    how the clients that do not send connect: terminal
                     (default), irc (NICK/USER, JOIN #general, PRIVMSG
                     lines; needs --irc-port) or sse (the web API's login
                     and event stream; needs --web-port). The senders stay
                     terminal clients either way
  --irc-port PORT    the server's IRC port (its `irc on` line)
  --web-port PORT    the server's web port (its `web on` line)
  -h, --help         show this help

Messages are sent on a fixed schedule and latency is measured from the time
each one was due. The last line printed is `RESULT key=value ...`.
";

/// `--max-rate`: the most steps a run can have.
pub(crate) const MAX_STEPS: usize = 32;
/// `--stalled-churn`: the most new clients a second. Each one is a full
/// handshake on one thread of ours, a few hundred microseconds at best.
const MAX_CHURN: f64 = 1000.0;
/// `--stalled-alive`: the most churning clients open at a time. Each one is a
/// file descriptor here and in the server.
const MAX_ALIVE: usize = 10_000;
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

/// How the replies are read: see "The threads" in the crate doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderKind {
    Threads,
    Sweep,
}

/// The way the receiving clients (every client but the senders) come in:
/// see `irc.rs` and `sse.rs`. Senders are terminal clients in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WayIn {
    /// The line protocol, like the senders.
    Terminal,
    /// IRC, on its own listener at this address.
    Irc(SocketAddr),
    /// The web API (a login, then a Server-Sent Events stream), on the web
    /// listener at this address.
    Sse(SocketAddr),
}

impl fmt::Display for WayIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WayIn::Terminal => "terminal",
            WayIn::Irc(_) => "irc",
            WayIn::Sse(_) => "sse",
        })
    }
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
    /// New clients a second that never read (`--stalled-churn`; 0: none),
    /// and how many of them may be open at a time (`--stalled-alive`).
    pub stalled_churn: f64,
    pub stalled_alive: usize,
    /// How the clients that do not send connect (`--receivers`).
    pub receivers: WayIn,
}

impl Options {
    /// Parses the flags (`--flag value` or `--flag=value`), without the
    /// program name. `--help` is handled by `main`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        Flags::read(args)?.check()
    }
}

/// The flags as given; `None` where the default depends on the mode.
struct Flags {
    mode: Mode,
    host: String,
    port: u16,
    clients: usize,
    senders: Option<usize>,
    rate: Option<f64>,
    secs: Option<f64>,
    drain: f64,
    factor: f64,
    steps: usize,
    server_pid: Option<u32>,
    readers: Option<ReaderKind>,
    stalled: usize,
    stalled_churn: f64,
    stalled_alive: usize,
    receivers: String,
    irc_port: Option<u16>,
    web_port: Option<u16>,
}

impl Flags {
    /// Reads the words of the command line, checking only that each flag is
    /// known and each value is a number where one is expected.
    fn read(args: &[String]) -> Result<Flags, String> {
        let mut flags = Flags {
            mode: Mode::Fixed,
            host: "127.0.0.1".to_string(),
            port: 7878,
            clients: 10,
            senders: None,
            rate: None,
            secs: None,
            drain: 2.0,
            factor: 2.0,
            steps: 12,
            server_pid: None,
            readers: None,
            stalled: 0,
            stalled_churn: 0.0,
            stalled_alive: 16,
            receivers: "terminal".to_string(),
            irc_port: None,
            web_port: None,
        };
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
                "--max-rate" => flags.mode = Mode::MaxRate,
                "--idle" => flags.mode = Mode::Idle,
                "--host" => flags.host = value()?,
                "--port" => flags.port = number(flag, &value()?)?,
                "--clients" => flags.clients = number(flag, &value()?)?,
                "--senders" => flags.senders = Some(number(flag, &value()?)?),
                "--rate" => flags.rate = Some(number(flag, &value()?)?),
                "--secs" => flags.secs = Some(number(flag, &value()?)?),
                "--drain" => flags.drain = number(flag, &value()?)?,
                "--factor" => flags.factor = number(flag, &value()?)?,
                "--steps" => flags.steps = number(flag, &value()?)?,
                "--server-pid" => flags.server_pid = Some(number(flag, &value()?)?),
                "--stalled" => flags.stalled = number(flag, &value()?)?,
                "--stalled-churn" => flags.stalled_churn = number(flag, &value()?)?,
                "--stalled-alive" => flags.stalled_alive = number(flag, &value()?)?,
                "--readers" => flags.readers = Some(reader_kind(&value()?)?),
                "--receivers" => flags.receivers = value()?,
                "--irc-port" => flags.irc_port = Some(number(flag, &value()?)?),
                "--web-port" => flags.web_port = Some(number(flag, &value()?)?),
                _ => return Err(format!("unknown option {arg} (try --help)")),
            }
        }
        Ok(flags)
    }

    /// Fills in the defaults that depend on the mode, and refuses values
    /// that make no sense together.
    fn check(self) -> Result<Options, String> {
        let (mode, clients) = (self.mode, self.clients);
        // `--idle` has one sender: the first client, which says one line.
        let senders = match mode {
            Mode::Idle => 1,
            _ => self.senders.unwrap_or(2.min(clients)),
        };
        let rate = self
            .rate
            .unwrap_or(if mode == Mode::MaxRate { 1000.0 } else { 100.0 });
        let secs = self.secs.unwrap_or(match mode {
            Mode::Fixed => 5.0,
            Mode::MaxRate => 3.0,
            Mode::Idle => 2.0,
        });
        check_ranges(clients, senders, rate, secs, &self)?;
        let addr = loopback_addr(&self.host, self.port)?;
        Ok(Options {
            mode,
            addr,
            receivers: way_in(&self, addr)?,
            clients,
            senders,
            rate,
            secs,
            drain: Duration::from_secs_f64(self.drain),
            factor: self.factor,
            steps: self.steps,
            server_pid: self.server_pid,
            readers: self.readers.unwrap_or(if clients <= THREADS_UP_TO {
                ReaderKind::Threads
            } else {
                ReaderKind::Sweep
            }),
            stalled: self.stalled,
            stalled_churn: self.stalled_churn,
            stalled_alive: self.stalled_alive,
        })
    }
}

/// Every number in its range, checked in the order of the usage text so the
/// first complaint is about the first wrong flag.
fn check_ranges(
    clients: usize,
    senders: usize,
    rate: f64,
    secs: f64,
    flags: &Flags,
) -> Result<(), String> {
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
    if !(flags.drain.is_finite() && (0.0..=600.0).contains(&flags.drain)) {
        return Err("--drain must be between 0 and 600".to_string());
    }
    if !(flags.factor.is_finite() && flags.factor > 1.0) {
        return Err("--factor must be greater than 1".to_string());
    }
    if !(1..=MAX_STEPS).contains(&flags.steps) {
        return Err(format!("--steps must be between 1 and {MAX_STEPS}"));
    }
    let churn = flags.stalled_churn;
    if !(churn.is_finite() && (0.0..=MAX_CHURN).contains(&churn)) {
        return Err(format!("--stalled-churn must be between 0 and {MAX_CHURN}"));
    }
    if !(1..=MAX_ALIVE).contains(&flags.stalled_alive) {
        return Err(format!("--stalled-alive must be between 1 and {MAX_ALIVE}"));
    }
    Ok(())
}

/// `--receivers`, with the port its listener needs. The address is the
/// chat's, already checked to be on this machine, with the other port.
fn way_in(flags: &Flags, addr: SocketAddr) -> Result<WayIn, String> {
    let port = |flag: &str, port: Option<u16>| {
        port.map(|p| SocketAddr::new(addr.ip(), p))
            .ok_or_else(|| format!("--receivers {}: give {flag} too", flags.receivers))
    };
    match flags.receivers.as_str() {
        "terminal" => Ok(WayIn::Terminal),
        "irc" => Ok(WayIn::Irc(port("--irc-port", flags.irc_port)?)),
        "sse" => Ok(WayIn::Sse(port("--web-port", flags.web_port)?)),
        other => Err(format!(
            "--receivers: expected terminal, irc or sse, got {other}"
        )),
    }
}

fn reader_kind(text: &str) -> Result<ReaderKind, String> {
    match text {
        "threads" => Ok(ReaderKind::Threads),
        "sweep" => Ok(ReaderKind::Sweep),
        other => Err(format!("--readers: expected threads or sweep, got {other}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_addr("127.0.0.1", 1).is_ok());
        assert!(loopback_addr("::1", 1).is_ok());
        assert!(loopback_addr("localhost", 1).is_ok());
        assert!(loopback_addr("10.0.0.1", 1).is_err());
        assert!(loopback_addr("example.com", 1).is_err());
    }

    #[test]
    fn receivers_need_the_port_of_their_listener() {
        let parse = |words: &[&str]| {
            let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            Options::parse(&args).map(|o| o.receivers)
        };
        assert_eq!(parse(&[]), Ok(WayIn::Terminal));
        assert!(parse(&["--receivers", "irc"]).is_err());
        let irc = parse(&["--receivers", "irc", "--irc-port", "6667"]);
        assert_eq!(irc, Ok(WayIn::Irc("127.0.0.1:6667".parse().unwrap())));
        let sse = parse(&["--receivers=sse", "--web-port=8080"]);
        assert_eq!(sse, Ok(WayIn::Sse("127.0.0.1:8080".parse().unwrap())));
        assert!(parse(&["--receivers", "pigeon"]).is_err());
    }
}
