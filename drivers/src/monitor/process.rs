//! The `process` monitor: a process is alive, read from `/proc`.
//!
//! In: a pid file, a process name, or both; the timeout. Out: a [`CheckOutcome`].
//!
//! * pid file: the file holds a pid (decimal, surrounding blanks ignored); healthy when
//!   `/proc/PID` exists and the process is not a zombie (state `Z` or `X`: it has ended,
//!   only its parent has not collected it).
//! * name: healthy when a live process has it as its command name (`/proc/PID/comm`,
//!   which the kernel cuts at 15 bytes) or as the file name of its `argv[0]`
//!   (`/proc/PID/cmdline`: how long names and scripts run by an interpreter are seen).
//! * both: the pid file's process must have the name (so a pid reused by another
//!   program after a crash does not pass).
//!
//! `/proc` is read on tokio's blocking pool, bounded by the timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::CheckOutcome;

pub(super) async fn check(pidfile: Option<PathBuf>, name: Option<String>, timeout: Duration) -> CheckOutcome {
    let work = tokio::task::spawn_blocking(move || check_blocking(pidfile.as_deref(), name.as_deref()));
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => CheckOutcome::unhealthy(format!("the check task failed: {e}")),
        Err(_) => CheckOutcome::unhealthy(format!("reading /proc took longer than {} ms", timeout.as_millis())),
    }
}

fn check_blocking(pidfile: Option<&Path>, name: Option<&str>) -> CheckOutcome {
    match (pidfile, name) {
        (Some(file), name) => {
            let pid = match read_pidfile(file) {
                Ok(pid) => pid,
                Err(why) => return CheckOutcome::unhealthy(why),
            };
            let at = Path::new("/proc").join(pid.to_string());
            match liveness(&at) {
                Liveness::Gone => CheckOutcome::unhealthy(format!("process {pid} (from {}) is gone", file.display())),
                Liveness::Ended(state) => CheckOutcome::unhealthy(format!(
                    "process {pid} (from {}) has ended (state {state}, not yet reaped)",
                    file.display()
                )),
                Liveness::Alive => match name {
                    Some(want) if !has_name(&at, want) => CheckOutcome::unhealthy(format!(
                        "process {pid} (from {}) is not {want:?} but {:?}",
                        file.display(),
                        comm(&at).unwrap_or_default()
                    )),
                    Some(_) | None => {
                        CheckOutcome::healthy(format!("process {pid} (from {}) is running", file.display()))
                    }
                },
            }
        }
        (None, Some(want)) => match find_by_name(want) {
            Ok(Some(pid)) => CheckOutcome::healthy(format!("process {want:?} is running (pid {pid})")),
            Ok(None) => CheckOutcome::unhealthy(format!("no process named {want:?}")),
            Err(why) => CheckOutcome::unhealthy(why),
        },
        (None, None) => CheckOutcome::unhealthy("neither a pid file nor a process name to check"),
    }
}

/// The pid in a pid file.
fn read_pidfile(file: &Path) -> Result<u32, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read pid file {}: {e}", file.display()))?;
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        Ok(_) | Err(_) => {
            let shown: String = text.trim().chars().take(40).collect();
            Err(format!("pid file {} holds no pid: {shown:?}", file.display()))
        }
    }
}

/// A `/proc/PID` entry, as far as liveness goes.
#[derive(Debug, PartialEq, Eq)]
enum Liveness {
    Alive,
    /// Zombie (`Z`) or dead (`X`): the state letter.
    Ended(char),
    Gone,
}

fn liveness(proc_dir: &Path) -> Liveness {
    match std::fs::read_to_string(proc_dir.join("stat")) {
        Err(_) => Liveness::Gone,
        Ok(stat) => match state_of(&stat) {
            Some(s @ ('Z' | 'X')) => Liveness::Ended(s),
            Some(_) => Liveness::Alive,
            // An unreadable line: the entry exists, so the process does.
            None => Liveness::Alive,
        },
    }
}

/// The state letter of a `/proc/PID/stat` line: `pid (comm) S …`; `comm` may hold
/// spaces and parentheses, so the state follows the last `)`.
fn state_of(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn comm(proc_dir: &Path) -> Option<String> {
    std::fs::read_to_string(proc_dir.join("comm")).ok().map(|c| c.trim_end_matches('\n').to_string())
}

/// The file name of `argv[0]`.
fn argv0_name(cmdline: &[u8]) -> Option<String> {
    let argv0 = cmdline.split(|b| *b == 0).next().filter(|a| !a.is_empty())?;
    let argv0 = String::from_utf8_lossy(argv0);
    Some(argv0.rsplit('/').next().unwrap_or_default().to_string())
}

fn has_name(proc_dir: &Path, want: &str) -> bool {
    if comm(proc_dir).as_deref() == Some(want) {
        return true;
    }
    std::fs::read(proc_dir.join("cmdline")).ok().and_then(|c| argv0_name(&c)).as_deref() == Some(want)
}

/// A live process named `want`, lowest pid first.
fn find_by_name(want: &str) -> Result<Option<u32>, String> {
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("cannot read /proc: {e}"))?;
    let mut pids: Vec<u32> =
        entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok())).collect();
    pids.sort_unstable();
    Ok(pids.into_iter().find(|pid| {
        let at = Path::new("/proc").join(pid.to_string());
        has_name(&at, want) && liveness(&at) == Liveness::Alive
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines() {
        assert_eq!(state_of("42 (sleep) S 1 42 42 0 -1"), Some('S'));
        assert_eq!(state_of("42 (a) b) (c) Z 1 42"), Some('Z'));
        assert_eq!(state_of("garbage"), None);
    }

    #[test]
    fn reads_argv0() {
        assert_eq!(argv0_name(b"/usr/bin/python3\0app.py\0"), Some("python3".into()));
        assert_eq!(argv0_name(b"nginx: master process\0"), Some("nginx: master process".into()));
        assert_eq!(argv0_name(b""), None);
        assert_eq!(argv0_name(b"\0x\0"), None);
    }

    #[test]
    fn pid_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("app.pid");
        std::fs::write(&file, " 1234\n").expect("write");
        assert_eq!(read_pidfile(&file), Ok(1234));
        for bad in ["", "abc", "0", "-5", "12 34"] {
            std::fs::write(&file, bad).expect("write");
            let err = read_pidfile(&file).unwrap_err();
            assert!(err.contains("holds no pid"), "{bad:?}: {err}");
        }
        let err = read_pidfile(&dir.path().join("missing.pid")).unwrap_err();
        assert!(err.starts_with("cannot read pid file"), "{err}");
    }

    #[test]
    fn this_process_is_alive() {
        let me = Path::new("/proc").join(std::process::id().to_string());
        assert_eq!(liveness(&me), Liveness::Alive);
        assert_eq!(liveness(Path::new("/proc/no-such-pid")), Liveness::Gone);
    }
}
