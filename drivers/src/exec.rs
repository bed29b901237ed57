//! The exec script driver (B90–B95, B73): runs one `start` or `stop` script of an `exec`
//! resource, or a RECOVER run.
//!
//! In: a [`ScriptSpec`] (the script's path, resolved against the configuration file's
//! directory by [`resolve`]; the resource's `env` table; whether to capture output), the
//! run's [`ScriptEnv`] (the `CLP_*` variables) and the resource's timeout.
//! Out: a [`ScriptOutcome`]: how the run ended, how long it took, and the captured tail
//! of its output; [`ScriptOutcome::action_result`] turns it into the core's
//! [`ActionResult`].
//!
//! The script runs with a cleared environment (a minimal `PATH`, then the `env` table,
//! then the `CLP_*` variables, which win on a clash), stdin from `/dev/null`, its own
//! directory as working directory, and in its own process group. A script still running
//! at the timeout is stopped with its whole process group, background grandchildren
//! included: `SIGTERM`, then `SIGKILL` after [`ScriptSpec::kill_grace`]. A script that
//! ends in time may leave background processes running (a start script starting a
//! daemon): they are not touched.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use baton_core::config::model::ResourceKind;
use baton_core::io::ActionResult;
use baton_core::script::ScriptEnv;
use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::time::{sleep_until, Instant};

use crate::output::{LineSplitter, OutputBuf};

/// The `PATH` a script starts with (the resource's `env` table may replace it).
pub const MINIMAL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default time between `SIGTERM` and `SIGKILL` to the process group of a timed-out script.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// After the script exits, how long output still arriving (from its remaining background
/// processes, which may hold the pipes open forever) is waited for.
const DRAIN: Duration = Duration::from_millis(250);

/// After `SIGKILL`, how long the script is waited for at most before giving up on it.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How often, during the grace, whether the process group is gone is checked.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptSpec {
    /// The script, resolved (see [`resolve`]).
    pub path: PathBuf,
    /// The resource's `env` table; the `CLP_*` variables win on a clash (B90).
    pub extra_env: BTreeMap<String, String>,
    /// Capture stdout and stderr (the resource's `log = true`); otherwise both go to `/dev/null`.
    pub capture_output: bool,
    /// Between `SIGTERM` and `SIGKILL` on timeout.
    pub kill_grace: Duration,
}

impl ScriptSpec {
    pub fn new(path: PathBuf, extra_env: BTreeMap<String, String>, capture_output: bool) -> ScriptSpec {
        ScriptSpec { path, extra_env, capture_output, kill_grace: DEFAULT_KILL_GRACE }
    }

    /// The start script of an `exec` resource, if it is one and has a start script.
    pub fn start_of(config_dir: &Path, kind: &ResourceKind) -> Option<ScriptSpec> {
        if let ResourceKind::Exec { start: Some(script), env, log, .. } = kind {
            return Some(ScriptSpec::new(resolve(config_dir, script), env.clone(), *log));
        }
        None
    }

    /// The stop script of an `exec` resource, if it is one and has a stop script.
    pub fn stop_of(config_dir: &Path, kind: &ResourceKind) -> Option<ScriptSpec> {
        if let ResourceKind::Exec { stop: Some(script), env, log, .. } = kind {
            return Some(ScriptSpec::new(resolve(config_dir, script), env.clone(), *log));
        }
        None
    }
}

/// A script path as written in the configuration, resolved: absolute paths stay, relative
/// ones are taken from the configuration file's directory (B90).
pub fn resolve(config_dir: &Path, script: &str) -> PathBuf {
    let p = Path::new(script);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config_dir.join(p)
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptResult {
    /// Exit code 0.
    Ok,
    /// A non-zero exit code, or killed by a signal (not ours).
    Failed { exit_code: Option<i32>, signal: Option<i32> },
    /// Still running at the timeout; its process group was killed.
    TimedOut { timeout_ms: u64 },
    /// The script could not be started (missing, not executable, bad interpreter…).
    CouldNotStart(String),
}

/// The outcome of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptOutcome {
    pub result: ScriptResult,
    /// From spawning to the end of the run (including the kill on timeout).
    pub duration_ms: u64,
    /// The captured tail of stdout and stderr, interleaved in arrival order (empty
    /// without capture); see [`crate::output`] for the bounds.
    pub output: Vec<String>,
}

impl ScriptOutcome {
    /// The core's view of the run.
    pub fn action_result(&self) -> ActionResult {
        match &self.result {
            ScriptResult::Ok => ActionResult::Ok,
            ScriptResult::Failed { .. } | ScriptResult::TimedOut { .. } | ScriptResult::CouldNotStart(_) => {
                ActionResult::Failed(self.failure_reason().unwrap_or_default())
            }
        }
    }

    /// Why the run failed, for the log and the core; `None` when it succeeded.
    pub fn failure_reason(&self) -> Option<String> {
        match &self.result {
            ScriptResult::Ok => None,
            ScriptResult::Failed { exit_code: Some(code), .. } => Some(format!("exit code {code}")),
            ScriptResult::Failed { exit_code: None, signal: Some(sig) } => Some(format!("killed by signal {sig}")),
            ScriptResult::Failed { exit_code: None, signal: None } => Some("ended abnormally".to_string()),
            ScriptResult::TimedOut { timeout_ms } => {
                Some(format!("timed out after {}; process group killed", fmt_ms(*timeout_ms)))
            }
            ScriptResult::CouldNotStart(why) => Some(format!("cannot start: {why}")),
        }
    }
}

/// `60s`, `1.5s`, `250ms`.
fn fmt_ms(ms: u64) -> String {
    let (whole_s, rest_ms) = (ms / 1000, ms % 1000);
    if ms < 1000 {
        format!("{ms}ms")
    } else if rest_ms == 0 {
        format!("{whole_s}s")
    } else {
        format!("{}s", ms as f64 / 1000.0)
    }
}

/// Runs the script to its end or its timeout; never panics on environmental failures.
pub async fn run_script(spec: &ScriptSpec, env: &ScriptEnv, timeout: Duration) -> ScriptOutcome {
    run(spec, env.vars(), timeout).await
}

/// Runs the command of an `exec` monitor like a script ([`run_script`]: cleared
/// environment, own process group, killed with its group on timeout), but without
/// `CLP_*` variables: a check belongs to no start or stop of a group.
pub async fn run_check_script(spec: &ScriptSpec, timeout: Duration) -> ScriptOutcome {
    run(spec, Vec::new(), timeout).await
}

async fn run(spec: &ScriptSpec, clp_vars: Vec<(&'static str, String)>, timeout: Duration) -> ScriptOutcome {
    let started = Instant::now();
    let mut cmd = Command::new(&spec.path);
    cmd.env_clear().env("PATH", MINIMAL_PATH);
    cmd.envs(&spec.extra_env);
    cmd.envs(clp_vars);
    if let Some(dir) = spec.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::null());
    if spec.capture_output {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    cmd.process_group(0);
    cmd.kill_on_drop(false);

    let mut child = match spawn_retrying_busy(&mut cmd).await {
        Ok(c) => c,
        Err(e) => {
            return ScriptOutcome {
                result: ScriptResult::CouldNotStart(format!("{}: {e}", spec.path.display())),
                duration_ms: elapsed_ms(started),
                output: Vec::new(),
            }
        }
    };
    // The child leads its own group: the group id is its pid.
    let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw);
    let mut run = Run {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        child,
        status: None,
        out: OutputBuf::new(),
        split_out: LineSplitter::new(),
        split_err: LineSplitter::new(),
    };

    let deadline = started + timeout;
    let mut timed_out = false;
    while run.status.is_none() {
        if run.step(deadline).await {
            timed_out = true;
            break;
        }
    }
    if timed_out {
        run.kill_group(group, spec.kill_grace).await;
    }
    run.drain(Instant::now() + DRAIN).await;

    let result = if timed_out {
        ScriptResult::TimedOut { timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX) }
    } else {
        match run.status {
            Some(Ok(st)) if st.success() => ScriptResult::Ok,
            Some(Ok(st)) => ScriptResult::Failed { exit_code: st.code(), signal: st.signal() },
            Some(Err(_)) | None => ScriptResult::Failed { exit_code: None, signal: None },
        }
    };
    ScriptOutcome { result, duration_ms: elapsed_ms(started), output: run.out.into_lines() }
}

/// `ETXTBSY`: the script file is open for writing somewhere (an editor or a deployment
/// tool replacing it, or a descriptor a concurrent fork inherited for an instant).
const ETXTBSY: i32 = 26;
/// How often, and how far apart, a start refused with `ETXTBSY` is tried again.
const BUSY_RETRIES: u32 = 5;
const BUSY_PAUSE: Duration = Duration::from_millis(20);

/// Spawns, trying again a few times while the kernel says the file is busy: the state
/// is transient, and failing a resource activation for it would start a recovery
/// ladder for nothing.
async fn spawn_retrying_busy(cmd: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < BUSY_RETRIES => {
                tries += 1;
                tokio::time::sleep(BUSY_PAUSE).await;
            }
            other => return other,
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One running script and its pipes.
struct Run {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// Set once the child is reaped.
    status: Option<std::io::Result<ExitStatus>>,
    out: OutputBuf,
    split_out: LineSplitter,
    split_err: LineSplitter,
}

/// What one [`Run::step`] saw.
enum Seen {
    Exited(std::io::Result<ExitStatus>),
    Stdout(std::io::Result<usize>),
    Stderr(std::io::Result<usize>),
    Deadline,
}

impl Run {
    /// Waits for one thing: the child's exit, a chunk of output, or `until`.
    /// Returns true when `until` came first.
    async fn step(&mut self, until: Instant) -> bool {
        let mut buf_out = [0u8; 8192];
        let mut buf_err = [0u8; 8192];
        let reaped = self.status.is_some();
        let Run { child, stdout, stderr, .. } = self;
        let seen = tokio::select! {
            biased;
            st = child.wait(), if !reaped => Seen::Exited(st),
            n = read_some(stdout, &mut buf_out), if stdout.is_some() => Seen::Stdout(n),
            n = read_some(stderr, &mut buf_err), if stderr.is_some() => Seen::Stderr(n),
            () = sleep_until(until) => Seen::Deadline,
        };
        match seen {
            Seen::Exited(st) => self.status = Some(st),
            Seen::Stdout(Ok(n)) if n > 0 => self.split_out.feed(&buf_out[..n], &mut self.out),
            Seen::Stdout(Ok(_) | Err(_)) => {
                self.stdout = None;
                self.split_out.finish(&mut self.out);
            }
            Seen::Stderr(Ok(n)) if n > 0 => self.split_err.feed(&buf_err[..n], &mut self.out),
            Seen::Stderr(Ok(_) | Err(_)) => {
                self.stderr = None;
                self.split_err.finish(&mut self.out);
            }
            Seen::Deadline => return true,
        }
        false
    }

    /// Reads what is left on the pipes until both close or `until`.
    async fn drain(&mut self, until: Instant) {
        while self.stdout.is_some() || self.stderr.is_some() {
            if self.step(until).await {
                break;
            }
        }
        // Pipes still held open by background processes: keep their partial lines.
        if self.stdout.take().is_some() {
            self.split_out.finish(&mut self.out);
        }
        if self.stderr.take().is_some() {
            self.split_err.finish(&mut self.out);
        }
    }

    /// B73: `SIGTERM` to the whole group, `SIGKILL` after the grace (or at once when the
    /// group is already gone), then reaps the script.
    async fn kill_group(&mut self, group: Option<Pid>, grace: Duration) {
        if let Some(g) = group {
            let _ = kill_process_group(g, Signal::TERM);
        }
        let grace_end = Instant::now() + grace;
        loop {
            let group_gone = group.is_none_or(|g| !group_has_live_members(g));
            if self.status.is_some() && group_gone {
                break;
            }
            let now = Instant::now();
            if now >= grace_end {
                break;
            }
            let _ = self.step(grace_end.min(now + GROUP_POLL)).await;
        }
        if let Some(g) = group {
            let _ = kill_process_group(g, Signal::KILL);
        }
        if group.is_none() {
            let _ = self.child.start_kill();
        }
        let kill_end = Instant::now() + KILL_WAIT;
        while self.status.is_none() {
            if self.step(kill_end).await {
                break;
            }
        }
    }
}

/// Whether any process of the group is still alive. Zombies do not count: orphaned
/// grandchildren are reaped by PID 1, which may take its time. Without a readable `/proc`
/// a group that still answers to signals counts as alive (the grace is then waited out).
fn group_has_live_members(group: Pid) -> bool {
    if test_kill_process_group(group).is_err() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else { return true };
    let want = group.as_raw_nonzero().get();
    entries.flatten().filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))).any(
        |e| {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { return false };
            // "pid (comm) STATE PPID PGRP ...": comm may hold spaces and parentheses.
            let Some((_, rest)) = stat.rsplit_once(')') else { return false };
            let mut fields = rest.split_ascii_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
            pgrp == Some(want) && state != Some("Z") && state != Some("X")
        },
    )
}

/// Reads a chunk from a pipe; pends forever when there is none (the branch is disabled then).
async fn read_some<R: AsyncReadExt + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> std::io::Result<usize> {
    match pipe {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_relative_and_absolute() {
        let dir = Path::new("/etc/baton");
        assert_eq!(resolve(dir, "scripts/start.sh"), PathBuf::from("/etc/baton/scripts/start.sh"));
        assert_eq!(resolve(dir, "/opt/app/start"), PathBuf::from("/opt/app/start"));
    }

    fn outcome(result: ScriptResult) -> ScriptOutcome {
        ScriptOutcome { result, duration_ms: 0, output: Vec::new() }
    }

    #[test]
    fn reasons() {
        assert_eq!(outcome(ScriptResult::Ok).action_result(), ActionResult::Ok);
        let r = |res| outcome(res).action_result();
        assert_eq!(
            r(ScriptResult::Failed { exit_code: Some(3), signal: None }),
            ActionResult::Failed("exit code 3".into())
        );
        assert_eq!(
            r(ScriptResult::Failed { exit_code: None, signal: Some(9) }),
            ActionResult::Failed("killed by signal 9".into())
        );
        assert_eq!(
            r(ScriptResult::TimedOut { timeout_ms: 60_000 }),
            ActionResult::Failed("timed out after 60s; process group killed".into())
        );
        assert_eq!(
            r(ScriptResult::TimedOut { timeout_ms: 1500 }),
            ActionResult::Failed("timed out after 1.5s; process group killed".into())
        );
        assert_eq!(
            r(ScriptResult::CouldNotStart("x: No such file".into())),
            ActionResult::Failed("cannot start: x: No such file".into())
        );
    }

    #[test]
    fn specs_of_an_exec_resource() {
        let kind = ResourceKind::Exec {
            start: Some("start.sh".into()),
            stop: None,
            env: BTreeMap::from([("A".to_string(), "1".to_string())]),
            log: true,
        };
        let start = ScriptSpec::start_of(Path::new("/cfg"), &kind).expect("start script");
        assert_eq!(start.path, PathBuf::from("/cfg/start.sh"));
        assert!(start.capture_output);
        assert_eq!(start.extra_env.get("A").map(String::as_str), Some("1"));
        assert!(ScriptSpec::stop_of(Path::new("/cfg"), &kind).is_none());
        assert!(ScriptSpec::start_of(Path::new("/cfg"), &ResourceKind::Service { unit: "x".into() }).is_none());
    }
}
