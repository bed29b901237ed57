//! One system tool run for the disk driver (`fsck`, `mount`, `umount`, `blockdev`),
//! bounded by a deadline.
//!
//! In: the program, its arguments and the deadline. Out: a [`Run`] (exit code and
//! stderr) or the reason it could not run or did not end in time. The child leads its
//! own process group; past the deadline the whole group gets `SIGKILL` (a `mount`
//! helper or an `fsck.ext4` started by `fsck` goes with it) and is reaped. A tool stuck
//! in an uninterruptible kernel wait (a dead disk) stays until the kernel lets it go;
//! the step has failed by then and says so.

use std::process::Stdio;

use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::Command;
use tokio::time::Instant;

/// What one run did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The command as shown in reasons (`mount -t ext4 /dev/sdb2 /mnt/disk1`).
    pub shown: String,
    pub code: Option<i32>,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// `mount … : exit code 32: mount: /mnt: wrong fs type…`
    pub fn failure(&self) -> String {
        let how = match self.code {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_string(),
        };
        let stderr = last_lines(&self.stderr);
        if stderr.is_empty() {
            format!("{}: {how}", self.shown)
        } else {
            format!("{}: {how}: {stderr}", self.shown)
        }
    }
}

/// The last 3 non-empty lines of a tool's stderr, joined with ` / ` (fsck can be long).
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

/// Runs `program args…` until `deadline`; see the module doc.
pub(crate) async fn run(program: &str, args: &[&str], deadline: Instant) -> Result<Run, String> {
    let shown = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // The tools are looked up on a fixed PATH, as exec scripts are: the daemon's own
    // PATH (a systemd unit's) may lack /sbin.
    cmd.env("PATH", crate::exec::MINIMAL_PATH);
    cmd.process_group(0);
    cmd.kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| format!("cannot run {program}: {e}"))?;
    let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw);
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout_at(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            Ok(Run { shown, code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() })
        }
        Ok(Err(e)) => Err(format!("{shown}: waiting: {e}")),
        Err(_) => {
            // The child itself is killed and reaped by kill_on_drop; its helpers here.
            if let Some(group) = group {
                let _ = kill_process_group(group, Signal::KILL);
            }
            Err(format!("{shown}: did not end within {} ms; killed", left.as_millis()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_report_exit_codes_and_stderr() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let done = run("sh", &["-c", "echo one >&2; echo two >&2; exit 3"], deadline).await.expect("runs");
        assert_eq!(done.code, Some(3));
        assert_eq!(done.failure(), "sh -c echo one >&2; echo two >&2; exit 3: exit code 3: one / two");
        assert!(run("/nonexistent/tool", &[], deadline).await.unwrap_err().starts_with("cannot run /nonexistent/tool"));
    }

    #[tokio::test]
    async fn a_run_past_its_deadline_is_killed_with_its_helpers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("helper.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let err = run("sh", &["-c", &script], started + Duration::from_millis(300)).await.unwrap_err();
        assert!(err.contains("did not end within") && err.ends_with("killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile).expect("pid").trim().parse().expect("number");
        // The helper (same process group) is gone or a zombie waiting for its parent's reaper.
        let gone = crate::disk::holders::wait_gone(&[pid], Duration::from_secs(5));
        assert!(gone, "the helper {pid} outlived the kill");
    }
}
