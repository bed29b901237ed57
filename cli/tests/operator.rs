//! What a new operator trips on (issue 14): closed pipes, relative paths, a daemon that
//! does not answer, `config check` against what the daemon refuses, help and messages.
//! Real files, real pipes, real Unix sockets; every wait has a deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-operator-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A traced simulator run (event logs of two servers) to read back.
fn traced(dir: &Path) -> PathBuf {
    let trace = dir.join("trace");
    let p = root().join("examples/scenarios/07-monitor-reactivate-then-failover.scenario");
    let out = baton().args(["sim", "run"]).arg(&p).arg("--trace").arg(&trace).output().expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    trace
}

/// Runs `cmd` with its stdout a pipe whose reading end is already closed.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped()).output().expect("runs")
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let dir = scratch("pipe");
    let trace = traced(&dir);
    let cfg = root().join("examples/configs/2node-ping.toml");
    let scenario = root().join("examples/scenarios/04-failover-on-crash.scenario");
    let commands: Vec<Vec<String>> = vec![
        vec!["log".into(), "replay".into(), trace.display().to_string()],
        vec!["log".into(), "verify".into(), trace.display().to_string()],
        vec!["log".into(), "why".into(), "recovery-failover".into(), trace.display().to_string()],
        vec!["log".into(), "state".into(), trace.display().to_string(), "--at".into(), "1m".into()],
        vec!["log".into(), "show".into(), trace.display().to_string()],
        vec!["config".into(), "check".into(), "--file-only".into(), cfg.display().to_string()],
        vec!["config".into(), "show".into(), cfg.display().to_string()],
        vec!["sim".into(), "run".into(), scenario.display().to_string()],
        vec!["sim".into(), "run".into(), "--json".into(), scenario.display().to_string()],
        vec!["completions".into(), "bash".into()],
        vec!["--help".into()],
    ];
    for words in commands {
        let mut cmd = baton();
        cmd.args(&words);
        let out = with_closed_stdout(cmd);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "baton {}: {err}", words.join(" "));
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "baton {}: {err}", words.join(" "));
    }
}

/// A one-server loopback cluster file (127.0.0.31, a port of this test process) whose
/// group runs `start.sh` and `stop.sh` from the file's directory.
fn one_server_cluster(secret: &str) -> String {
    let port = 30000 + std::process::id() % 20000;
    format!(
        r#"[cluster]
name = "operator"
heartbeat_interval = "100ms"
heartbeat_timeout = "500ms"
sync_wait = "1s"
port = {port}
{secret}

[[server]]
name = "server1"
addresses = {{ lan1 = "127.0.0.31" }}

[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1

[[group]]
name = "g1"
servers = ["server1"]

[[group.resource]]
name = "exec1"
kind = "exec"
start = "start.sh"
stop = "stop.sh"
timeout = "10s"
"#
    )
}

/// A script that appends `WHAT` and its working directory to `record`.
fn write_script(path: &Path, what: &str, record: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\necho \"{what} $(pwd)\" >> '{}'\n", record.display())).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A child process killed (and reaped) when the test ends, also when it fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `ok` until it returns something, or panics with `what` after `within`.
fn wait_until<T>(what: &str, within: std::time::Duration, mut ok: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(v) = ok() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_relative_config_path_finds_the_scripts() {
    let dir = scratch("relative");
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).expect("etc");
    let record = dir.join("record.txt");
    write_script(&etc.join("start.sh"), "start", &record);
    write_script(&etc.join("stop.sh"), "stop", &record);
    std::fs::write(etc.join("cluster.toml"), one_server_cluster("insecure = true")).expect("config");
    let daemon = baton()
        .current_dir(&dir)
        .args(["daemon", "--config", "etc/cluster.toml", "--server", "server1", "--state-dir", "state"])
        .args(["--fence", "exit"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon");
    let mut daemon = Killed(daemon);
    let line = wait_until("the start script's run", std::time::Duration::from_secs(20), || {
        if let Ok(Some(status)) = daemon.0.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(daemon.0.stderr.as_mut().expect("stderr"), &mut err);
            panic!("the daemon ended ({status}): {err}");
        }
        std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| t.lines().find(|l| l.starts_with("start ")).map(String::from))
    });
    let cwd = std::fs::canonicalize(&etc).expect("etc");
    assert_eq!(line, format!("start {}", cwd.display()), "the script runs in its own directory");
}

/// `config check` on a cluster file in `dir` with `[cluster]` extra lines `secret`.
fn check_in(dir: &Path, secret: &str) -> Output {
    let file = dir.join("cluster.toml");
    std::fs::write(&file, one_server_cluster(secret)).expect("config");
    baton().args(["config", "check"]).arg(&file).output().expect("runs")
}

/// The line of `cluster.toml` in `dir` that starts with `key`.
fn line_of(dir: &Path, key: &str) -> usize {
    let text = std::fs::read_to_string(dir.join("cluster.toml")).expect("config");
    text.lines().position(|l| l.starts_with(key)).expect("key") + 1
}

#[test]
fn config_check_refuses_every_secret_the_daemon_refuses() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("secret");
    let record = dir.join("record.txt");
    write_script(&dir.join("start.sh"), "start", &record);
    write_script(&dir.join("stop.sh"), "stop", &record);
    let key = dir.join("cluster.key");
    let set = |text: &str, mode: u32| {
        std::fs::write(&key, text).expect("key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    let with_key = "secret_file = \"cluster.key\"";
    // Accepted: a 0600 secret.
    set("hunter2\n", 0o600);
    let out = check_in(&dir, with_key);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 server, 1 group, 1 resource"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 warning"), "{}", text(&out.stdout));
    let name = dir.join("cluster.toml").display().to_string();
    let secret_at = format!("{name}:{}:", line_of(&dir, "secret_file"));
    // Refused as the daemon refuses them, at the key's line.
    type Make<'a> = Box<dyn Fn() + 'a>;
    let cases: [(&str, Make, &str); 4] = [
        ("world-readable", Box::new(|| set("hunter2\n", 0o644)), "has mode 0644: group or others can access it"),
        ("empty", Box::new(|| set(" \n", 0o600)), "is empty"),
        ("missing", Box::new(|| std::fs::remove_file(&key).expect("rm")), "No such file"),
        ("a directory", Box::new(|| std::fs::create_dir(&key).expect("mkdir")), "is not a regular file"),
    ];
    for (what, make, says) in cases {
        make();
        let out = check_in(&dir, with_key);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a {what} secret: {err}");
        assert!(err.contains(&secret_at) && err.contains(says), "a {what} secret: {err}");
        assert!(err.contains("the daemon refuses to start"), "{err}");
    }
    // No secret_file at all: refused at the [cluster] table; insecure = true accepts it
    // with the daemon's warning.
    let out = check_in(&dir, "");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{name}:1:1: cluster.secret_file is not set")), "{err}");
    let out = check_in(&dir, "insecure = true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: INSECURE"), "{}", text(&out.stderr));
    // --file-only checks the file alone.
    let out = baton().args(["config", "check", "--file-only"]).arg(dir.join("cluster.toml")).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn config_check_warns_of_missing_and_unexecutable_scripts_at_their_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("scripts");
    let record = dir.join("record.txt");
    write_script(&dir.join("start.sh"), "start", &record);
    std::fs::set_permissions(dir.join("start.sh"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = check_in(&dir, "insecure = true");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "warnings only: {err}");
    let name = dir.join("cluster.toml").display().to_string();
    let at = |key: &str| format!("{name}:{}:", line_of(&dir, key));
    let start = "warning: resource \"exec1\": script start.sh is not executable";
    let stop = "warning: resource \"exec1\": script stop.sh does not exist";
    assert!(err.lines().any(|l| l.starts_with(&at("start")) && l.contains(start)), "{err}");
    assert!(err.lines().any(|l| l.starts_with(&at("stop")) && l.contains(stop)), "{err}");
    assert!(text(&out.stdout).contains("5 warnings"), "{}", text(&out.stdout));
}

/// The README's words against the program: the default port, the `log why` example.
#[test]
fn the_readme_says_what_the_program_does() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    // The example sets no port: `config show` prints the default.
    let shown = baton().args(["config", "show"]).arg(root().join("examples/configs/2node-ping.toml")).output();
    let shown = text(&shown.expect("runs").stdout);
    let port = shown.lines().find_map(|l| l.trim().strip_prefix("port = ")).expect("a port line").to_string();
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("(default {port})")), "the README must give the default port {port}");
    let dir = scratch("readme");
    let trace = traced(&dir);
    let out = baton().args(["log", "why", "recovery-failover"]).arg(&trace).output().expect("runs");
    let printed = text(&out.stdout);
    let example = readme.split("`baton log why` prints, for instance:").nth(1).expect("the log why example");
    let block = example.split("```").nth(1).expect("a code block");
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        assert!(printed.lines().any(|p| p == line), "README line {line:?} is not printed:\n{printed}");
    }
}

/// Runs `cmd` to its end, or fails the test after `within` (the child is killed).
fn output_within(mut cmd: Command, within: std::time::Duration) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runs");
    let mut child = Killed(child);
    wait_until("the command to end", within, || child.0.try_wait().expect("wait").map(|_| ()));
    let mut out = Output { status: child.0.wait().expect("status"), stdout: Vec::new(), stderr: Vec::new() };
    let _ = std::io::Read::read_to_end(child.0.stdout.as_mut().expect("stdout"), &mut out.stdout);
    let _ = std::io::Read::read_to_end(child.0.stderr.as_mut().expect("stderr"), &mut out.stderr);
    out
}

#[test]
fn a_daemon_that_never_answers_is_reported_after_the_timeout() {
    let dir = scratch("silent");
    // A control socket whose daemon never takes the connection (stopped, hung): the
    // kernel queues the connect, nobody reads the request.
    let _listener = std::os::unix::net::UnixListener::bind(dir.join("control.sock")).expect("bind");
    let within = std::time::Duration::from_secs(10);
    for words in [vec!["status"], vec!["status", "--json"], vec!["group", "move", "g1", "--no-wait"]] {
        let mut cmd = baton();
        cmd.args(&words).arg("--state-dir").arg(&dir).args(["--timeout", "500ms"]);
        let started = std::time::Instant::now();
        let out = output_within(cmd, within);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "baton {}: {err}", words.join(" "));
        assert!(err.contains("did not answer within 0.5 s") && err.contains("control.sock"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
    // A socket file with no daemon behind it: refused at once, with what to do.
    drop(_listener);
    let mut cmd = baton();
    cmd.arg("status").arg("--state-dir").arg(&dir);
    let err = text(&output_within(cmd, within).stderr);
    assert!(err.contains("is the daemon running?"), "{err}");
    // Bounded: a timeout of 0 or of a day is refused as a usage error.
    for bad in ["0s", "1d"] {
        let out = baton().args(["status", "--timeout", bad]).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
        assert!(text(&out.stderr).contains("between 100ms and 10m"), "{}", text(&out.stderr));
    }
}
