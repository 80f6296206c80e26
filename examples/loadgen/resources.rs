//! What the run costs: the server's memory and the CPU time of the server
//! and of the generator itself, read from `/proc`.
//!
//! The generator and the server share the machine, so the generator's own
//! CPU use is part of every result: when it takes much of the machine, the
//! server's figures say as much about the generator as about the server.
//! Linux only; elsewhere these figures are `-`.

use std::thread;
use std::time::Instant;

/// The server's resident memory now and at its peak, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

pub(crate) fn server_memory(pid: u32) -> Option<Memory> {
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
pub(crate) struct CpuClock {
    wall: Instant,
    generator: Option<f64>,
    server_pid: Option<u32>,
    server: Option<f64>,
}

impl CpuClock {
    pub(crate) fn start(server_pid: Option<u32>) -> CpuClock {
        CpuClock {
            wall: Instant::now(),
            generator: cpu_seconds(None),
            server_pid,
            server: server_pid.and_then(|pid| cpu_seconds(Some(pid))),
        }
    }

    pub(crate) fn read(&self) -> CpuUse {
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
