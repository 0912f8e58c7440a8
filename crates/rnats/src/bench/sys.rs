//! What the benchmark reads of the operating system: the server process's CPU time and memory
//! (`/proc/PID/stat`, `/proc/PID/status`), the open-files limit, and Ctrl-C.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

/// One look at a process: CPU time used so far (user + system, all threads) and memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    pub cpu_s: f64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Reads `/proc/PID/stat` (utime + stime) and `/proc/PID/status` (VmRSS, VmHWM).
pub fn sample(pid: u32) -> std::io::Result<ProcSample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let cpu_ticks = parse_stat_cpu_ticks(&stat).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "unreadable /proc stat")
    })?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(ProcSample {
        cpu_s: cpu_ticks as f64 / clock_ticks_per_second(),
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
        hwm_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
    })
}

/// utime + stime, in clock ticks, from the text of `/proc/PID/stat`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    // Fields 3.. follow the name; utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   123 kB` line of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    #[allow(unsafe_code)]
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// What the server process spent during a measured window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    /// CPU seconds (user + system) the server used during the measured part of the run.
    pub cpu_s: f64,
    /// `cpu_s` in microseconds per operation (message published, request, login, connection).
    pub cpu_us_per_op: f64,
    /// VmRSS before and after the measured part, KiB.
    pub rss_kib_before: u64,
    pub rss_kib_after: u64,
    /// VmHWM (peak RSS) after the run, KiB.
    pub hwm_kib: u64,
}

/// How the machine's CPU time was spent during a measured window: by the server, by this
/// benchmark client, and by everything else (other builds, other tests: the noise).
#[derive(Debug, Clone, Serialize)]
pub struct MachineUsage {
    pub cores: usize,
    pub elapsed_s: f64,
    /// CPU seconds all cores spent busy (from /proc/stat).
    pub busy_cpu_s: f64,
    /// CPU seconds of this client process.
    pub client_cpu_s: f64,
    /// CPU seconds of the server (with `--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// busy − client − server: other processes (only known with `--server-pid`).
    pub other_cpu_s: Option<f64>,
    /// `other_cpu_s` / `elapsed_s`: how many cores other processes kept busy.
    pub other_cores: Option<f64>,
}

/// What a measured window cost.
pub struct Usage {
    pub server: Option<ServerUsage>,
    pub machine: Option<MachineUsage>,
}

/// Samples the server process (when a pid was given), this process and the whole machine
/// before and after the measured part of a run.
pub struct Watch {
    pid: Option<u32>,
    before: Option<ProcSample>,
    own_before: Option<ProcSample>,
    machine_before: Option<f64>,
    started: std::time::Instant,
}

impl Watch {
    /// Takes the "before" samples now.
    pub fn start(pid: Option<u32>) -> Watch {
        Watch {
            pid,
            before: pid.and_then(|pid| sample(pid).ok()),
            own_before: sample(std::process::id()).ok(),
            machine_before: machine_busy_s(),
            started: std::time::Instant::now(),
        }
    }

    /// Takes the "after" samples; `ops` is the count the server's CPU time is divided by.
    pub fn finish(&self, ops: u64) -> Usage {
        let elapsed_s = self.started.elapsed().as_secs_f64();
        let server = self.pid.zip(self.before).and_then(|(pid, before)| {
            let after = sample(pid).ok()?;
            let cpu_s = (after.cpu_s - before.cpu_s).max(0.0);
            Some(ServerUsage {
                pid,
                cpu_s,
                cpu_us_per_op: if ops > 0 {
                    cpu_s * 1e6 / ops as f64
                } else {
                    0.0
                },
                rss_kib_before: before.rss_kib,
                rss_kib_after: after.rss_kib,
                hwm_kib: after.hwm_kib,
            })
        });
        let machine = (|| {
            let busy_cpu_s = (machine_busy_s()? - self.machine_before?).max(0.0);
            let client_cpu_s =
                (sample(std::process::id()).ok()?.cpu_s - self.own_before?.cpu_s).max(0.0);
            let server_cpu_s = server.as_ref().map(|s| s.cpu_s);
            let other_cpu_s = server_cpu_s.map(|s| (busy_cpu_s - client_cpu_s - s).max(0.0));
            Some(MachineUsage {
                cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
                elapsed_s,
                busy_cpu_s,
                client_cpu_s,
                server_cpu_s,
                other_cpu_s,
                other_cores: other_cpu_s.map(|o| if elapsed_s > 0.0 { o / elapsed_s } else { 0.0 }),
            })
        })();
        Usage { server, machine }
    }
}

/// CPU seconds all cores have spent busy since boot (the `cpu` line of /proc/stat: everything
/// but idle and iowait).
fn machine_busy_s() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy as f64 / clock_ticks_per_second())
}

/// Raises the soft limit on open files to the hard limit (for storms and idle connections);
/// returns the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    limit.rlim_cur
}

/// Blocks until Ctrl-C, or `hold` has passed, or `done` is set (checked every 50 ms). Returns
/// true when Ctrl-C was pressed.
pub fn wait_for_stop(hold: Option<Duration>, done: &AtomicBool) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for Ctrl-C");
    runtime.block_on(async {
        let deadline = hold.map(|h| tokio::time::Instant::now() + h);
        let poll_done = async {
            loop {
                if done.load(Ordering::Acquire) {
                    return;
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.is_ok(),
            () = poll_done => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_ticks_skip_a_name_with_spaces() {
        let stat = "1234 (my server) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 2000 300";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn own_process_can_be_sampled() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib, "{s:?}");
        assert!(s.cpu_s >= 0.0);
        assert!(machine_busy_s().is_some());
    }
}
