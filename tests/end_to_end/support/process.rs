//! The server's process figures: threads, open file descriptors, memory
//! and CPU time, read from `/proc/<pid>/` (Linux only), so that a test can
//! tell whether a connection that went gave everything back.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

/// One number from `/proc/<pid>/status`, such as `Threads` or `VmRSS` (kB).
pub fn status_field(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The number of threads of the process.
pub fn threads(pid: u32) -> u64 {
    status_field(pid, "Threads")
}

/// The resident memory of the process, in kB.
pub fn rss_kb(pid: u32) -> u64 {
    status_field(pid, "VmRSS")
}

/// The number of open file descriptors of the process.
pub fn fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("list /proc/{pid}/fd: {e}"))
        .count()
}

/// CPU time used by the process so far (user + system), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/stat: {e}"));
    // The command name (field 2) is in parentheses and may hold spaces, so
    // count fields from the last `)`: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("`)` in stat") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// Clock ticks per second, for [`cpu_ticks`]. It is 100 on every Linux
/// system we know of; reading the real value (`sysconf(_SC_CLK_TCK)`) needs
/// libc, which these tests do without.
pub const TICKS_PER_SEC: u64 = 100;

/// Threads and open file descriptors of a process at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub threads: u64,
    pub fds: usize,
}

pub fn usage(pid: u32) -> Usage {
    Usage {
        threads: threads(pid),
        fds: fds(pid),
    }
}

/// Threads and descriptors once they have stopped changing: the same for
/// 300 ms (or the last reading after 3 s). A server that has just printed
/// its address may still be starting helper threads, and a baseline taken
/// in that moment would make them look like a leak later.
pub fn steady_usage(pid: u32) -> Usage {
    let start = Instant::now();
    let mut last = usage(pid);
    let mut since = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(50));
        let now = usage(pid);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= Duration::from_millis(300) {
            break;
        }
    }
    last
}

/// Polls until the process has at most `baseline` + `slack` threads and
/// descriptors, or `limit` passes. Client threads end (and close their
/// sockets) a moment after their peer leaves, so a single look right after
/// the clients close would see some of them still there.
pub fn settle(pid: u32, baseline: Usage, slack: usize, limit: Duration) -> Result<Usage, Usage> {
    let start = Instant::now();
    loop {
        let now = usage(pid);
        if now.threads <= baseline.threads + slack as u64 && now.fds <= baseline.fds + slack {
            return Ok(now);
        }
        if start.elapsed() > limit {
            return Err(now);
        }
        thread::sleep(Duration::from_millis(50));
    }
}
