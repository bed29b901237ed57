//! baton daemons in a lab's server namespaces, and their status through the real CLI.
//!
//! In: the `baton` binary, a cluster file, a server number. Out: a [`Daemon`]: the
//! child process `ip netns exec NS BATON daemon --config FILE --server serverN
//! --state-dir LAB_DIR/serverN/state --fence exit` (`ip netns exec` execs the daemon, so
//! the child is the daemon itself), its stderr lines time-stamped as they arrive (kept
//! in memory for assertions and timelines, and appended to `LAB_DIR/serverN/daemon.log`,
//! which survives restarts of that server's daemon), and its exit status. Dropping a
//! `Daemon` kills it (SIGKILL) and reaps it.
//!
//! `--fence exit` is always passed: the daemon's default, `power`, really powers off or
//! reboots the machine when a server fences itself, and a network namespace does not
//! contain that. The daemon runs in its own process group, so a Ctrl-C on the terminal
//! reaches the test or `baton demo`, which then tears the lab down in order.
//!
//! [`status`] asks a daemon for its view with `baton status --json --state-dir DIR`
//! (the control socket is a path in the file system, reachable from any network
//! namespace), bounded by [`STATUS_TIMEOUT`]; [`group_locations`], [`server_states`]
//! and [`transport_counter`] read that answer.

use crate::Lab;
use baton_runtime::daemon::control::status_json::text;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One line a daemon wrote on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// When it arrived, since the lab was built ([`Lab::started`]).
    pub at: Duration,
    pub text: String,
}

/// A running (or ended) daemon. See the module doc.
#[derive(Debug)]
pub struct Daemon {
    server: usize,
    child: Child,
    exited: Option<ExitStatus>,
    lines: Arc<Mutex<Vec<LogLine>>>,
    log_path: PathBuf,
}

/// A shell word: single quotes, with embedded single quotes escaped.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `binds`: `(source, target)` bind mounts made in the daemon's own mount namespace
/// before it starts (`ip netns exec` gives every command a private one, a slave of the
/// host's: what is mounted there stays there). A shared disk seen as one device path on
/// every server, each through its own loop device, is made so.
pub(crate) fn start(
    lab: &Lab,
    baton: &Path,
    config: &Path,
    server: usize,
    binds: &[(PathBuf, PathBuf)],
) -> Result<Daemon, String> {
    let name = lab.server_name(server);
    let state_dir = lab.state_dir(server);
    let server_dir = lab.dir().join(&name);
    std::fs::create_dir_all(&server_dir).map_err(|e| format!("cannot create {}: {e}", server_dir.display()))?;
    let log_path = server_dir.join("daemon.log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let mut cmd = lab.cmd_in(lab.server_ns(server));
    if !binds.is_empty() {
        let mounts: Vec<String> = binds
            .iter()
            .map(|(from, to)| {
                format!("mount --bind {} {}", quote(&from.display().to_string()), quote(&to.display().to_string()))
            })
            .collect();
        // `exec`: the child stays the daemon itself.
        cmd.args(["sh", "-ec", &format!("{}\nexec \"$0\" \"$@\"", mounts.join("\n"))]);
    }
    let mut child = cmd
        .arg(baton)
        .arg("daemon")
        .arg("--config")
        .arg(config)
        .args(["--server", &name, "--state-dir"])
        .arg(&state_dir)
        // Never the default `power`: a daemon fencing itself would power off or reboot
        // this machine (namespaces isolate the network, not the power).
        .args(["--fence", "exit"])
        // Its own process group: a Ctrl-C on the terminal reaches the test or the demo,
        // which then tears everything down in order, not the daemons directly.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the daemon of {name}: {e}"))?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    if let Some(stderr) = child.stderr.take() {
        let lines = Arc::clone(&lines);
        let zero = lab.started();
        // Detached: it ends at the pipe's end of file, whenever the last writer goes.
        std::thread::spawn(move || {
            for text in BufReader::new(stderr).lines().map_while(Result::ok) {
                let at = zero.elapsed();
                let _ = writeln!(file, "[{:>9.3}] {text}", at.as_secs_f64());
                lines.lock().unwrap_or_else(PoisonError::into_inner).push(LogLine { at, text });
            }
        });
    }
    Ok(Daemon { server, child, exited: None, lines, log_path })
}

impl Daemon {
    /// The server (1-based) it runs for.
    pub fn server(&self) -> usize {
        self.server
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status if it has ended (does not block).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Waits up to `within` for it to end.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.exit_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL: a crash, no departure) and reaps it.
    pub fn kill(&mut self) {
        if self.exit_status().is_none() {
            // Already gone between the check and the kill: fine.
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// The stderr lines so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The stderr lines so far as one text, for assertion messages.
    pub fn log_text(&self) -> String {
        self.lines().iter().map(|l| format!("[{:>9.3}] {}\n", l.at.as_secs_f64(), l.text)).collect()
    }

    /// `LAB_DIR/serverN/daemon.log`.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How long [`status`] waits for `baton status` (the CLI itself would wait a minute for
/// a daemon that accepted the connection but does not answer, e.g. a stopped one).
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// `BATON status --json --state-dir STATE_DIR`: the daemon's answer, or why there is
/// none (within [`STATUS_TIMEOUT`]; the command is killed after it).
pub fn status(baton: &Path, state_dir: &Path) -> Result<Value, String> {
    let mut child = Command::new(baton)
        .args(["status", "--json", "--state-dir"])
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", baton.display()))?;
    // Both pipes are drained while we wait, so a long answer cannot block the child.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + STATUS_TIMEOUT;
    let exit = loop {
        if let Some(exit) = child.try_wait().map_err(|e| format!("baton status: {e}"))? {
            break exit;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("baton status: no answer within {STATUS_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = stdout.join().unwrap_or_default();
    if !exit.success() {
        let stderr = stderr.join().unwrap_or_default();
        return Err(format!("baton status ({exit}): {}", String::from_utf8_lossy(&stderr).trim()));
    }
    serde_json::from_slice(&stdout).map_err(|e| format!("baton status printed no JSON ({e})"))
}

/// The entries of an object of `baton status --json` (`{"server2": "online"}`) as
/// `(name, state)` pairs, in the document's order.
fn entries(v: &Value) -> Vec<(String, String)> {
    v.as_object().map(|m| m.iter().map(|(k, st)| (k.clone(), text(st))).collect()).unwrap_or_default()
}

/// Every server's state in `baton status --json` (docs/status-json.md), the answering
/// server first, as `(server, state)` with lower-case states (`"online"`).
pub fn server_states(status: &Value) -> Vec<(String, String)> {
    let mut all = vec![(text(&status["server"]), text(&status["state"]))];
    all.extend(entries(&status["peers"]));
    all
}

/// Every daemon's log under a `--- serverN ---` heading: the message of a failing test.
pub fn logs_of(daemons: &[Daemon]) -> String {
    let mut out = String::new();
    for d in daemons {
        out.push_str(&format!("--- server{} ---\n{}", d.server(), d.log_text()));
    }
    out
}

/// Polls `ok` until it holds ([`crate::wait_for`]); past `within`, panics with `what` and
/// every daemon's log.
pub fn wait_or_panic(daemons: &[Daemon], what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    if crate::wait_for(within, || ok().then_some(())).is_none() {
        panic!("not within {within:?}: {what}\n{}", logs_of(daemons));
    }
}

/// Where `group` is not offline in `baton status --json`, as `(server, state)`
/// (`"online"`, `"starting"`, …).
pub fn group_locations(status: &Value, group: &str) -> Vec<(String, String)> {
    entries(&status["locations"][group])
}

/// A transport counter of a status answer (`"bad_tag"`, `"malformed"`, `"accepted"`, …); 0 when absent.
pub fn transport_counter(status: &Value, name: &str) -> u64 {
    status["transport"][name].as_u64().unwrap_or(0)
}
