//! `--signal` / `-sl`: send a command to a running server, as
//! nats-server's `-sl` does, so init scripts and logrotate configs written
//! for nats-server keep working. The command is a word mapped to a signal
//! (`reload` = SIGHUP, `reopen` = SIGUSR1, ...); the server is named by a
//! pid, a pid file, a pid prefix ending in `*`, or found by process name
//! with `pgrep` (exactly one must run). Errors carry nats-server's words.

use crate::gostyle::go_error;
use std::path::Path;
use std::process::Command;

/// nats-server's name for each command, and the signal it sends.
const COMMANDS: &[(&str, libc::c_int)] = &[
    ("stop", libc::SIGKILL),
    ("quit", libc::SIGINT),
    ("reopen", libc::SIGUSR1),
    ("reload", libc::SIGHUP),
    ("ldm", libc::SIGUSR2),
    ("term", libc::SIGTERM),
];

/// What `-sl` asked for, before any process is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRequest {
    /// The command word as given (`reload`, ...); checked when sent.
    pub command: String,
    /// A pid, a pid prefix ending in `*`, or empty for "the one running".
    pub pid: String,
}

impl SignalRequest {
    /// Reads `-sl COMMAND[=PID|=PIDFILE]`. A value after `=` that names a
    /// readable file is a pid file, as in nats-server. Without `=`, a
    /// `-P/--pid` file names the process (rnats's addition: nats-server
    /// ignores `-P` here and looks the process up).
    pub fn parse(value: &str, pid_file: Option<&Path>) -> Result<SignalRequest, String> {
        let mut parts = value.split('=');
        let command = parts.next().unwrap_or_default().to_string();
        let pid = parts.next();
        let rest: Vec<&str> = parts.collect();
        if !rest.is_empty() {
            return Err(format!("invalid signal parameters: [{}]", rest.join(" ")));
        }
        let pid = match (pid, pid_file) {
            (Some(pid), _) => std::fs::read_to_string(pid).unwrap_or_else(|_| pid.to_string()),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read pid file {}: {}", path.display(), go_error(&e))
            })?,
            (None, None) => String::new(),
        };
        Ok(SignalRequest { command, pid })
    }

    /// Sends the signal. `process_name` is what `pgrep` looks for when no
    /// pid was given (the name this binary runs under).
    pub fn send(&self, process_name: &str) -> Result<(), String> {
        let (prefix, glob) = match self.pid.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (self.pid.as_str(), false),
        };
        let mut pids = Vec::new();
        if !prefix.is_empty() {
            // A pid of 0 or below would signal a process group or every
            // process this user may signal: refused.
            match prefix.parse::<i32>() {
                Ok(pid) if pid > 0 => pids.push(pid),
                _ => return Err(format!("invalid pid: {prefix}")),
            }
        }
        if prefix.is_empty() || glob {
            pids = running_pids(process_name)?;
        }
        if pids.len() > 1 && !glob {
            let list: String = pids.iter().map(|p| format!("\n{p}")).collect();
            return Err(format!("multiple {process_name} processes running:{list}"));
        }
        if pids.is_empty() {
            return Err(format!("no {process_name} processes running"));
        }
        let signal = COMMANDS
            .iter()
            .find(|(name, _)| *name == self.command)
            .map(|(_, signal)| *signal)
            .ok_or_else(|| format!("unknown signal {:?}", self.command))?;
        let mut errors = String::new();
        for pid in pids {
            if glob && !pid.to_string().starts_with(prefix) {
                continue;
            }
            // SAFETY: kill(2) takes plain integers and touches no memory.
            #[allow(unsafe_code)]
            let sent = unsafe { libc::kill(pid, signal) };
            if sent != 0 {
                let e = std::io::Error::last_os_error();
                errors.push_str(&format!(
                    "\nsignal {:?} {pid}: {}",
                    self.command,
                    go_error(&e)
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The pids `pgrep NAME` lists, without this process's own.
fn running_pids(process_name: &str) -> Result<Vec<i32>, String> {
    let unresolved = || "unable to resolve pid, try providing one".to_string();
    // pgrep exits 1 when nothing matches: an empty list, not an error.
    let output = Command::new("pgrep")
        .arg(process_name)
        .output()
        .map_err(|_| unresolved())?;
    let me = std::process::id();
    let mut pids = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).split('\n') {
        if line.is_empty() {
            continue;
        }
        let pid: u32 = line.parse().map_err(|_| unresolved())?;
        if pid != me {
            pids.push(i32::try_from(pid).map_err(|_| unresolved())?);
        }
    }
    Ok(pids)
}

/// The name `pgrep` should look for: this binary's file name as it was
/// started, so a copy installed as `nats-server` finds its peers the way
/// nats-server does. The kernel keeps 15 bytes of a process name.
pub fn process_name() -> String {
    let name = std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "rnats-server".to_string());
    match name.char_indices().nth(15) {
        Some((cut, _)) => name[..cut].to_string(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(value: &str) -> Result<SignalRequest, String> {
        SignalRequest::parse(value, None)
    }

    #[test]
    fn command_and_pid() {
        let r = request("reload=1234").unwrap();
        assert_eq!((r.command.as_str(), r.pid.as_str()), ("reload", "1234"));
        let r = request("quit").unwrap();
        assert_eq!((r.command.as_str(), r.pid.as_str()), ("quit", ""));
        assert_eq!(
            request("reload=1=2").unwrap_err(),
            "invalid signal parameters: [2]"
        );
        assert_eq!(
            request("reload=1=2=3").unwrap_err(),
            "invalid signal parameters: [2 3]"
        );
    }

    #[test]
    fn pid_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        std::fs::write(&path, "4321").unwrap();
        let r = request(&format!("reopen={}", path.display())).unwrap();
        assert_eq!(r.pid, "4321");
        let r = SignalRequest::parse("ldm", Some(&path)).unwrap();
        assert_eq!(r.pid, "4321");
        // `=PID` wins over -P.
        let r = SignalRequest::parse("ldm=77", Some(&path)).unwrap();
        assert_eq!(r.pid, "77");
        let missing = dir.path().join("missing.pid");
        let err = SignalRequest::parse("ldm", Some(&missing)).unwrap_err();
        assert!(
            err.ends_with("missing.pid: no such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn bad_pids_and_commands_are_refused_before_anything_is_sent() {
        let send = |cmd: &str, pid: &str| {
            SignalRequest {
                command: cmd.into(),
                pid: pid.into(),
            }
            .send("rnats-server")
        };
        assert_eq!(send("reload", "abc").unwrap_err(), "invalid pid: abc");
        assert_eq!(send("reload", "-1").unwrap_err(), "invalid pid: -1");
        assert_eq!(send("reload", "0").unwrap_err(), "invalid pid: 0");
        assert_eq!(send("reload", "1234\n").unwrap_err(), "invalid pid: 1234\n");
        let me = std::process::id().to_string();
        assert_eq!(send("bogus", &me).unwrap_err(), "unknown signal \"bogus\"");
    }

    #[test]
    fn os_errors_in_go_words() {
        let e = std::io::Error::from_raw_os_error(libc::ESRCH);
        assert_eq!(go_error(&e), "no such process");
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(go_error(&e), "no such file or directory");
    }
}
