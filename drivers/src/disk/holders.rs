//! The processes holding a mounted file system, and ending them (the busy unmount).
//!
//! In: the file system's device number (`st_dev` of its mount point while mounted).
//! Out: the [`Holder`]s: every process (but this one) with an open file, a working
//! directory, a root directory or a memory-mapped file on that file system, found in
//! `/proc/PID/fd/*`, `/proc/PID/cwd`, `/proc/PID/root` and `/proc/PID/maps`.
//!
//! Matching is by device number, not by path: a path printed by `/proc` depends on the
//! reader's mount namespace, a device number does not, so a process of another mount
//! namespace with a file of the same name elsewhere is never taken for a holder, and
//! one holding a file through a bind mount or a chroot is found.
//!
//! [`end`] sends `SIGTERM` to every holder, waits until no process holds the file
//! system any more or the grace has passed, then `SIGKILL`s whoever still holds it and
//! waits again, up to the deadline. A process that exits closes its files, so a
//! zombie holds nothing and counts as gone.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use rustix::process::{kill_process, Pid, Signal};
use tokio::time::Instant;

/// How often [`end`] looks again while waiting.
const POLL: Duration = Duration::from_millis(20);

/// One process holding the file system, and how (for the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    /// `/proc/PID/comm`.
    pub name: String,
    /// `cwd`, `root`, `fd 3`, `maps`: the first way found.
    pub how: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.pid, self.name, self.how)
    }
}

/// `major:minor` of a `dev_t` as glibc encodes it (`gnu_dev_major`/`gnu_dev_minor`).
pub(crate) fn split_dev(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000);
    let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00);
    (major, minor)
}

/// Every process but this one holding file system `dev`.
pub fn find(dev: u64) -> Vec<Holder> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if u32::try_from(pid).ok() == Some(me) {
            continue;
        }
        if let Some(how) = holds(&entry.path(), dev) {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default().trim().to_string();
            out.push(Holder { pid, name, how });
        }
    }
    out.sort_by_key(|h| h.pid);
    out
}

/// How the process at `/proc/PID` holds `dev`, if it does.
fn holds(proc_dir: &Path, dev: u64) -> Option<String> {
    let on_dev = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.dev() == dev);
    for what in ["cwd", "root"] {
        if on_dev(&proc_dir.join(what)) {
            return Some(what.to_string());
        }
    }
    if let Ok(fds) = std::fs::read_dir(proc_dir.join("fd")) {
        for fd in fds.flatten() {
            if on_dev(&fd.path()) {
                return Some(format!("fd {}", fd.file_name().to_string_lossy()));
            }
        }
    }
    let (major, minor) = split_dev(dev);
    let maps = std::fs::read_to_string(proc_dir.join("maps")).unwrap_or_default();
    maps.lines().any(|line| maps_line_on(line, major, minor)).then(|| "maps".to_string())
}

/// Whether a `/proc/PID/maps` line maps a file of device `major:minor` (the fourth
/// field, hexadecimal; inode 0 is an anonymous mapping).
fn maps_line_on(line: &str, major: u64, minor: u64) -> bool {
    let mut fields = line.split_whitespace();
    let (Some(dev), Some(inode)) = (fields.nth(3), fields.next()) else { return false };
    if inode == "0" {
        return false;
    }
    let Some((ma, mi)) = dev.split_once(':') else { return false };
    u64::from_str_radix(ma, 16).ok() == Some(major) && u64::from_str_radix(mi, 16).ok() == Some(minor)
}

/// What [`end`] did.
#[derive(Debug, Default)]
pub struct Ended {
    /// Sent `SIGTERM`.
    pub terminated: Vec<Holder>,
    /// Still holding after the grace: sent `SIGKILL`.
    pub killed: Vec<Holder>,
}

fn signal(holders: &[Holder], sig: Signal) {
    for h in holders {
        if let Some(pid) = Pid::from_raw(h.pid) {
            // Gone already: fine.
            let _ = kill_process(pid, sig);
        }
    }
}

/// Waits until no process holds `dev`, up to `until`. True when none does.
async fn wait_released(dev: u64, until: Instant) -> bool {
    loop {
        if find(dev).is_empty() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(POLL.min(until.saturating_duration_since(Instant::now()))).await;
    }
}

/// Ends every holder of `dev` (see the module doc). `Err` when some still hold it at
/// `deadline`.
pub async fn end(dev: u64, grace: Duration, deadline: Instant) -> Result<Ended, String> {
    let mut ended = Ended { terminated: find(dev), killed: Vec::new() };
    if ended.terminated.is_empty() {
        return Ok(ended);
    }
    signal(&ended.terminated, Signal::TERM);
    let grace_end = deadline.min(Instant::now() + grace);
    if wait_released(dev, grace_end).await {
        return Ok(ended);
    }
    // Whoever holds it now, including processes that opened files after the first scan.
    ended.killed = find(dev);
    signal(&ended.killed, Signal::KILL);
    if wait_released(dev, deadline).await {
        return Ok(ended);
    }
    let left: Vec<String> = find(dev).iter().map(ToString::to_string).collect();
    Err(format!("still held after SIGKILL: {}", left.join(", ")))
}

/// Whether process `pid` is gone (no `/proc/PID`, or a zombie), waiting up to `within`.
#[cfg(test)]
pub(crate) fn wait_gone(pids: &[i32], within: Duration) -> bool {
    let until = std::time::Instant::now() + within;
    loop {
        let alive = pids.iter().any(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
                .unwrap_or(false)
        });
        if !alive {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_glibc_does() {
        // glibc's gnu_dev_makedev.
        let makedev = |major: u64, minor: u64| {
            (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | ((major & 0xffff_f000) << 32)
        };
        assert_eq!(split_dev(0x0801), (8, 1));
        for (major, minor) in [(7, 5), (259, 300), (4100, 1 << 19)] {
            assert_eq!(split_dev(makedev(major, minor)), (major, minor));
        }
    }

    #[test]
    fn maps_lines_match_by_device() {
        let line = "7f00-7f10 r--p 00000000 07:05 1234    /mnt/disk1/lib.so";
        assert!(maps_line_on(line, 7, 5));
        assert!(!maps_line_on(line, 7, 6));
        assert!(!maps_line_on("7f00-7f10 rw-p 00000000 00:00 0 ", 0, 0));
        assert!(!maps_line_on("garbage", 7, 5));
    }

    #[tokio::test]
    async fn holders_of_a_file_system_are_found_and_ended() {
        // A process with its working directory in a temporary directory holds that
        // directory's file system (also held by others: only our child is signalled).
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; exec 3<.; sleep 30"])
            .current_dir(dir.path())
            .spawn()
            .expect("sh");
        let dev = std::fs::metadata(dir.path()).expect("stat").dev();
        let pid = i32::try_from(child.id()).expect("pid");
        let found = find(dev);
        assert!(found.iter().any(|h| h.pid == pid), "{found:?}");
        assert!(
            !found.iter().any(|h| u32::try_from(h.pid).ok() == Some(std::process::id())),
            "this process is never a holder"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}
