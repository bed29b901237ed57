//! The exec script driver against real scripts in a temporary directory (no mocks).
//!
//! In: small `/bin/sh` scripts written per test. Out: assertions on the outcome (result,
//! duration, captured output), on the environment the script saw, and on the absence of
//! background processes after a timeout (checked in `/proc` with a bounded deadline loop).
//!
//! Writing an executable while another test thread forks can make `execve` fail with
//! "Text file busy" (the forked child briefly holds the write descriptor). Script writes
//! therefore take [`FORK_GUARD`] exclusively and script runs take it shared.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton_core::io::ActionResult;
use baton_core::script::{ClpEvent, ClpFactor, ScriptEnv};
use baton_drivers::exec::{run_script, ScriptOutcome, ScriptResult, ScriptSpec, MINIMAL_PATH};
use tokio::sync::RwLock;

static FORK_GUARD: RwLock<()> = RwLock::const_new(());

async fn write_script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let _excl = FORK_GUARD.write().await;
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod script");
    path
}

async fn run(spec: &ScriptSpec, env: &ScriptEnv, timeout: Duration) -> ScriptOutcome {
    let _shared = FORK_GUARD.read().await;
    run_script(spec, env, timeout).await
}

fn start_env() -> ScriptEnv {
    ScriptEnv::start(ClpEvent::Failover, 2, true, "grpA", "exec1")
}

fn spec(path: PathBuf) -> ScriptSpec {
    ScriptSpec::new(path, BTreeMap::new(), true)
}

/// True once `pid` no longer exists (or is a zombie nobody reaped yet).
fn process_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')).unwrap_or(false),
    }
}

/// Waits up to `within` for `pid` to be gone.
fn wait_gone(pid: u32, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        if process_gone(pid) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_pid(path: &Path) -> u32 {
    fs::read_to_string(path).expect("pid file").trim().parse().expect("pid")
}

#[tokio::test]
async fn exit_zero_is_ok() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_script(dir.path(), "ok.sh", "exit 0", 0o755).await;
    let out = run(&spec(path), &start_env(), Duration::from_secs(10)).await;
    assert_eq!(out.result, ScriptResult::Ok);
    assert_eq!(out.action_result(), ActionResult::Ok);
    assert!(out.duration_ms < 5_000, "took {} ms", out.duration_ms);
}

#[tokio::test]
async fn exit_three_fails_with_code_three() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_script(dir.path(), "three.sh", "exit 3", 0o755).await;
    let out = run(&spec(path), &start_env(), Duration::from_secs(10)).await;
    assert_eq!(out.result, ScriptResult::Failed { exit_code: Some(3), signal: None });
    assert_eq!(out.action_result(), ActionResult::Failed("exit code 3".into()));
}

#[tokio::test]
async fn killed_by_a_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_script(dir.path(), "sig.sh", "kill -9 $$", 0o755).await;
    let out = run(&spec(path), &start_env(), Duration::from_secs(10)).await;
    assert_eq!(out.result, ScriptResult::Failed { exit_code: None, signal: Some(9) });
    assert_eq!(out.action_result(), ActionResult::Failed("killed by signal 9".into()));
}

/// The variables the script saw, from `env` output.
fn seen_env(out: &ScriptOutcome) -> BTreeMap<String, String> {
    out.output.iter().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn the_script_sees_exactly_clp_vars_and_extra_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_script(dir.path(), "env.sh", "exec env", 0o755).await;
    let mut s = spec(path);
    s.extra_env.insert("APP_MODE".into(), "primary".into());
    s.extra_env.insert("CLP_GROUPNAME".into(), "spoofed".into());
    let start = start_env();
    let out = run(&s, &ScriptEnv::stop(&start, ClpFactor::GroupMove), Duration::from_secs(10)).await;
    assert_eq!(out.result, ScriptResult::Ok, "{:?}", out.output);
    let seen = seen_env(&out);

    let clp: BTreeMap<&str, &str> =
        seen.iter().filter(|(k, _)| k.starts_with("CLP_")).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expected = BTreeMap::from([
        ("CLP_EVENT", "FAILOVER"),
        ("CLP_FACTOR", "GROUPMOVE"),
        ("CLP_SERVER", "OTHER"),
        ("CLP_PRIORITY", "2"),
        ("CLP_DISK", "SUCCESS"),
        ("CLP_GROUPNAME", "grpA"), // CLP_ wins over the env table (B90)
        ("CLP_RESOURCENAME", "exec1"),
    ]);
    assert_eq!(clp, expected);
    assert_eq!(seen.get("APP_MODE").map(String::as_str), Some("primary"));
    assert_eq!(seen.get("PATH").map(String::as_str), Some(MINIMAL_PATH));

    // Nothing of the daemon's own environment leaks in; only what the shell adds itself.
    let shell_own: BTreeSet<&str> = ["PWD", "OLDPWD", "SHLVL", "_"].into();
    for k in seen.keys() {
        assert!(
            k.starts_with("CLP_") || k == "APP_MODE" || k == "PATH" || shell_own.contains(k.as_str()),
            "unexpected variable {k}"
        );
    }
    // The working directory is the script's directory.
    let pwd = fs::canonicalize(seen.get("PWD").expect("PWD")).expect("canonical pwd");
    assert_eq!(pwd, fs::canonicalize(dir.path()).expect("canonical dir"));
}

#[tokio::test]
async fn a_start_script_has_no_factor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_script(dir.path(), "env.sh", "exec env", 0o755).await;
    let env = ScriptEnv::start(ClpEvent::Start, 1, false, "g", "r");
    let out = run(&spec(path), &env, Duration::from_secs(10)).await;
    let seen = seen_env(&out);
    assert!(!seen.contains_key("CLP_FACTOR"));
    assert_eq!(seen.get("CLP_SERVER").map(String::as_str), Some("HOME"));
    assert_eq!(seen.get("CLP_DISK").map(String::as_str), Some("FAILURE"));
    assert_eq!(seen.get("CLP_EVENT").map(String::as_str), Some("START"));
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The grandchild ignores SIGTERM, so only the SIGKILL after the grace ends it.
    let body = "(trap '' TERM; exec sleep 300) &\necho $! > grandchild.pid\necho started\nsleep 300";
    let path = write_script(dir.path(), "hang.sh", body, 0o755).await;
    let mut s = spec(path);
    s.kill_grace = Duration::from_millis(300);
    let timeout = Duration::from_millis(500);
    let out = run(&s, &start_env(), timeout).await;

    assert_eq!(out.result, ScriptResult::TimedOut { timeout_ms: 500 });
    assert_eq!(out.action_result(), ActionResult::Failed("timed out after 500ms; process group killed".into()));
    assert!(out.duration_ms >= 500, "took {} ms", out.duration_ms);
    assert!(out.duration_ms < 5_000, "took {} ms", out.duration_ms);
    assert!(out.output.contains(&"started".to_string()), "{:?}", out.output);
    let pid = read_pid(&dir.path().join("grandchild.pid"));
    assert!(wait_gone(pid, Duration::from_secs(5)), "grandchild {pid} survived the timeout");
}

#[tokio::test]
async fn timeout_with_a_script_that_stops_on_term() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "sleep 300 &\necho $! > grandchild.pid\nwait";
    let path = write_script(dir.path(), "hang.sh", body, 0o755).await;
    let out = run(&spec(path), &start_env(), Duration::from_millis(300)).await;
    assert_eq!(out.result, ScriptResult::TimedOut { timeout_ms: 300 });
    // Everything obeyed SIGTERM: no need to wait out the default 2 s grace.
    assert!(out.duration_ms < 1_900, "took {} ms", out.duration_ms);
    let pid = read_pid(&dir.path().join("grandchild.pid"));
    assert!(wait_gone(pid, Duration::from_secs(5)), "grandchild {pid} survived the timeout");
}

#[tokio::test]
async fn stdout_and_stderr_are_captured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "echo out1\necho err1 >&2\nprintf 'out2\\nno-newline'\nexit 1";
    let path = write_script(dir.path(), "talk.sh", body, 0o755).await;
    let out = run(&spec(path.clone()), &start_env(), Duration::from_secs(10)).await;
    assert_eq!(out.result, ScriptResult::Failed { exit_code: Some(1), signal: None });
    for l in ["out1", "err1", "out2", "no-newline"] {
        assert!(out.output.iter().any(|o| o == l), "missing {l} in {:?}", out.output);
    }
    let pos = |l: &str| out.output.iter().position(|o| o == l);
    assert!(pos("out1") < pos("out2"));
    assert_eq!(out.output.len(), 4, "{:?}", out.output);

    let mut quiet = spec(path);
    quiet.capture_output = false;
    let out = run(&quiet, &start_env(), Duration::from_secs(10)).await;
    assert!(out.output.is_empty());
}

#[tokio::test]
async fn a_daemon_left_running_does_not_hold_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A start script launching a daemon that keeps stdout open: the run still ends.
    let body = "sleep 300 &\necho $! > daemon.pid\necho launched";
    let path = write_script(dir.path(), "daemon.sh", body, 0o755).await;
    let out = run(&spec(path), &start_env(), Duration::from_secs(10)).await;
    assert_eq!(out.result, ScriptResult::Ok);
    assert!(out.duration_ms < 3_000, "took {} ms", out.duration_ms);
    assert_eq!(out.output, vec!["launched".to_string()]);
    let pid = read_pid(&dir.path().join("daemon.pid"));
    assert!(!process_gone(pid), "a script that ended in time keeps its background processes");
    // Clean up the daemon.
    let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(wait_gone(pid, Duration::from_secs(5)));
}

#[tokio::test]
async fn missing_or_non_executable_scripts_cannot_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&spec(dir.path().join("absent.sh")), &start_env(), Duration::from_secs(10)).await;
    let ScriptResult::CouldNotStart(why) = &out.result else { panic!("expected CouldNotStart, got {:?}", out.result) };
    assert!(why.contains("absent.sh"), "{why}");
    let reason = out.failure_reason().expect("a failure");
    assert!(reason.starts_with("cannot start: "), "{reason}");
    assert_eq!(out.action_result(), ActionResult::Failed(reason));

    let path = write_script(dir.path(), "plain.sh", "exit 0", 0o644).await;
    let out = run(&spec(path), &start_env(), Duration::from_secs(10)).await;
    assert!(matches!(out.result, ScriptResult::CouldNotStart(_)), "{:?}", out.result);
}
