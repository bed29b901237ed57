//! The `baton` command line as a user meets it: exit codes and messages.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}
use std::io::Write;

fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::File::create(&p).and_then(|mut f| f.write_all(text.as_bytes())).expect("write");
    p
}

#[test]
fn config_check_accepts_every_example() {
    for f in std::fs::read_dir(root().join("examples/configs")).expect("examples") {
        let p = f.expect("entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            // The file alone: the examples' `cluster.key` is each cluster's own secret.
            let out = baton().args(["config", "check", "--file-only"]).arg(&p).output().expect("runs");
            assert!(out.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stdout).contains(": ok: cluster"));
        }
    }
}

#[test]
fn config_check_lists_every_problem_with_positions_and_exits_2() {
    let p = tmp(
        "bad.toml",
        "[cluster]\nname = \"c\"\nheartbeat_interval = \"20s\"\nheartbeat_timeout = \"30s\"\n\n[[server]]\nname = \"s1\"\naddresses = { lan1 = \"192.168.0.1\" }\n\n[[heartbeat]]\nname = \"lan1\"\n\n[[group]]\nname = \"g\"\nservers = [\"nobody\"]\nbogus = 1\n",
    );
    let out = baton().args(["config", "check"]).arg(&p).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let name = p.display().to_string();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with(&name)).collect();
    assert!(lines.len() >= 3, "expected every problem listed, got:\n{err}");
    assert!(err.contains(&format!("{name}:4:")), "heartbeat_timeout < 2 x interval at line 4:\n{err}");
    assert!(err.contains("nobody"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn config_show_prints_defaults() {
    let p = root().join("examples/configs/2node-ping.toml");
    let out = baton().args(["config", "show"]).arg(&p).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["np_action", "emergency-shutdown", "fip1-fipw", "userw", "counter_reset_after"] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[test]
fn sim_run_passes_and_prints_a_digest() {
    let p = root().join("examples/scenarios/04-failover-on-crash.scenario");
    let out = baton().args(["sim", "run"]).arg(&p).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().last().is_some_and(|l| l.starts_with("digest: ")), "{text}");
    assert!(text.contains("group-failover group=failover1"));
}

#[test]
fn sim_run_exits_1_on_a_failed_expectation() {
    let cfg = root().join("examples/configs/2node-ping.toml");
    let p = tmp(
        "wrong.scenario",
        &format!("config {}\nat 0s boot all\nat 2m expect group failover1 online on server2\n", cfg.display()),
    );
    let out = baton().args(["sim", "run"]).arg(&p).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL line 3"));
}

#[test]
fn sim_run_reports_malformed_lines_and_exits_2() {
    let cfg = root().join("examples/configs/2node-ping.toml");
    let p = tmp(
        "bad.scenario",
        &format!("config {}\nat 0s boot all\nat 1m explode server1\nat 30s boot all\n", cfg.display()),
    );
    let out = baton().args(["sim", "run"]).arg(&p).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let name = p.display().to_string();
    assert!(err.contains(&format!("{name}:3:")), "{err}");
    assert!(err.contains(&format!("{name}:4:")), "time going backwards reported too:\n{err}");
}

#[test]
fn sim_run_json_is_one_document() {
    let p = root().join("examples/scenarios/01-normal-start.scenario");
    let out = baton().args(["sim", "run", "--json"]).arg(&p).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_start().starts_with('{') && text.trim_end().ends_with('}'));
    assert!(text.contains("\"digest\"") && text.contains("\"expectations\""));
}

#[test]
fn usage_errors_exit_2() {
    let out = baton().args(["sim", "frobnicate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

fn traced(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-trace-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let p = root().join("examples/scenarios/07-monitor-reactivate-then-failover.scenario");
    let out = baton().args(["sim", "run"]).arg(&p).arg("--trace").arg(&dir).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

#[test]
fn traced_run_verifies_and_replays() {
    let dir = traced("ok");
    let v = baton().args(["log", "verify"]).arg(&dir).output().expect("runs");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert_eq!(String::from_utf8_lossy(&v.stdout).matches(": ok:").count(), 2, "one log per server");
    let r = baton().args(["log", "replay"]).arg(&dir).output().expect("runs");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stdout));
    assert!(String::from_utf8_lossy(&r.stdout).contains("outputs reproduced"));
}

#[test]
fn why_explains_a_failover_by_its_causes() {
    let dir = traced("why");
    let out = baton().args(["log", "why", "recovery-failover"]).arg(&dir).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("recovery-failover monitor=appw1"), "{text}");
    assert!(text.contains("reactivations 1 of 1 spent"), "{text}");
    assert!(text.contains("<- #") && text.contains("monitor-error monitor=appw1"), "{text}");
}

#[test]
fn state_at_an_instant_shows_each_server() {
    let dir = traced("state");
    let out = baton().args(["log", "state"]).arg(&dir).args(["--at", "1m30s"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("server1 at 0:01:30.000: online"), "{text}");
    assert!(text.contains("group failover1: online"), "{text}");
}

#[test]
fn a_flipped_byte_is_reported_with_file_and_offset() {
    let dir = traced("flip");
    let seg = dir.join("server1").join("00000000000000000001.log");
    let mut bytes = std::fs::read(&seg).expect("segment");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&seg, bytes).expect("write");
    let out = baton().args(["log", "verify"]).arg(&dir).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DAMAGED") && text.contains("00000000000000000001.log"), "{text}");
}

#[test]
fn log_commands_on_a_missing_directory_exit_2() {
    let out = baton().args(["log", "verify", "/nonexistent/baton-logs"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}

#[test]
fn explore_generate_draws_configurations_and_config_is_needed_otherwise() {
    let out = baton().args(["sim", "explore", "--quiet"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "CONFIG is required without --generate");
    let config = root().join("examples/configs/2node-ping.toml");
    let out = baton().args(["sim", "explore", "--generate"]).arg(&config).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "CONFIG and --generate exclude each other");
    let dir = std::env::temp_dir().join(format!("baton-cli-gen-{}", std::process::id()));
    let out = baton()
        .args(["sim", "explore", "--generate", "--seeds", "4", "--jobs", "2", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("configurations:  4 generated"), "{text}");
    assert!(text.contains("failures:        0"), "{text}");
}
