//! `baton log show|why|state|replay` as an operator meets them (issue 14, items 11–14):
//! times in the log's own clock, records in words, valid JSON, and every cut told.
//!
//! Real files: event logs written by `baton sim run --trace`, and a daemon's log made
//! from one by moving its times to the wall clock (what a daemon writes: epoch ms).

use baton_core::record::LogRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn baton(args: &[&str], dir: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.arg("log").arg(args[0]);
    for a in &args[1..] {
        if *a == "DIR" {
            c.arg(dir);
        } else {
            c.arg(a);
        }
    }
    c.output().expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A simulated two-server run's logs (a monitor error, then a failover).
fn traced(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-logs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let p = root().join("examples/scenarios/07-monitor-reactivate-then-failover.scenario");
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["sim", "run"])
        .arg(&p)
        .arg("--trace")
        .arg(&dir)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

/// 2026-12-06T15:11:36.732Z: the simulated run's 0, moved to the wall clock.
const WALL_ZERO_MS: u64 = 1_796_569_896_732;

/// The same run as a daemon's log: every instant moved by [`WALL_ZERO_MS`].
fn daemon_log(name: &str) -> PathBuf {
    let sim = traced(&format!("{name}-sim"));
    let dir = std::env::temp_dir().join(format!("baton-logs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for server in ["server1", "server2"] {
        let records: Vec<LogRecord> = baton_log::Reader::open(sim.join(server))
            .expect("open")
            .map(|r| r.expect("record").decode().expect("decode"))
            .collect();
        let (mut w, _) =
            baton_log::Writer::open(dir.join(server), baton_log::WriterOptions::default()).expect("writer");
        for r in records {
            let moved = match r {
                LogRecord::RunStart { server, config_name, config_text, at_ms } => {
                    LogRecord::RunStart { server, config_name, config_text, at_ms: at_ms + WALL_ZERO_MS }
                }
                LogRecord::Input { at_ms, input } => LogRecord::Input { at_ms: at_ms + WALL_ZERO_MS, input },
                LogRecord::Output { at_ms, output } => LogRecord::Output { at_ms: at_ms + WALL_ZERO_MS, output },
            };
            w.append(&moved).expect("append");
        }
        w.commit().expect("commit");
    }
    dir
}

fn last_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").path()).collect();
    segs.sort();
    segs.pop().expect("a segment")
}

#[test]
fn a_daemon_log_prints_wall_clock_times_and_reads_every_form_of_instant() {
    let dir = daemon_log("wall");
    let out = baton(&["show", "DIR", "--utc", "--server", "server1"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The run starts at 0:01:00 of the simulated run: 15:12:36.732 UTC.
    assert!(text.lines().next().is_some_and(|l| l.contains("2026-12-06T15:12:36.732Z")), "{text}");
    assert!(!text.contains("499047:"), "no hours since the epoch:\n{text}");
    // The same instant in every form the operator may type.
    let count = |args: &[&str]| {
        let o = baton(args, &dir);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o).lines().count()
    };
    let from_rfc = count(&["show", "DIR", "--utc", "--from", "2026-12-06T15:13:00Z", "--to", "2026-12-06T15:13:30Z"]);
    let from_offset =
        count(&["show", "DIR", "--utc", "--from", "2026-12-07T00:13:00+09:00", "--to", "2026-12-07T00:13:30+09:00"]);
    let from_day = count(&["show", "DIR", "--utc", "--from", "15:13:00", "--to", "15:13:30"]);
    let from_start = count(&["show", "DIR", "--utc", "--from", "23s268ms", "--to", "53s268ms"]);
    assert!(from_rfc > 0);
    assert_eq!(from_rfc, from_offset);
    assert_eq!(from_rfc, from_day);
    assert_eq!(from_rfc, from_start, "a duration counts from the start of the log (15:12:36.732)");
    // Local time: the zone of TZ.
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .env("TZ", "JST-9")
        .args(["log", "show", "--server", "server1"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert!(stdout(&out).contains("2026-12-07T00:12:36.732+09:00"), "{}", stdout(&out));
    // why and state print the same clock.
    let why = baton(&["why", "recovery-failover", "DIR", "--utc"], &dir);
    assert!(stdout(&why).contains("2026-12-06T15:13:50.736Z"), "{}", stdout(&why));
    let state = baton(&["state", "DIR", "--utc", "--at", "2026-12-06T15:13:00Z"], &dir);
    assert!(stdout(&state).contains("server1 at 2026-12-06T15:13:00.000Z: online"), "{}", stdout(&state));
    // Nonsense is refused with the forms that work, exit 2.
    let bad = baton(&["state", "DIR", "--at", "yesterday"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
}

#[test]
fn a_simulated_log_prints_relative_times_and_reads_them_back() {
    let dir = traced("sim");
    let text = stdout(&baton(&["show", "DIR", "--server", "server1"], &dir));
    assert!(text.lines().next().is_some_and(|l| l.contains(" 0:01:00.000 ")), "{text}");
    let printed = count_between(&dir, "0:01:30.000", "0:01:40.000");
    assert!(printed > 0);
    assert_eq!(printed, count_between(&dir, "1m30s", "1m40s"));
    let wall = baton(&["show", "DIR", "--from", "2026-12-06T15:13:00Z"], &dir);
    assert_eq!(wall.status.code(), Some(2));
    assert!(stderr(&wall).contains("simulator"), "{}", stderr(&wall));
}

fn count_between(dir: &Path, from: &str, to: &str) -> usize {
    stdout(&baton(&["show", "DIR", "--from", from, "--to", to], dir)).lines().count()
}

#[test]
fn show_speaks_the_operators_words_and_its_json_is_structured() {
    let dir = traced("words");
    let text = stdout(&baton(&["show", "DIR"], &dir));
    for debug in ["NpId(", "server #", "Execute {", "Some(", "TimerFired", "Heartbeat {"] {
        assert!(!text.contains(debug), "Debug text {debug:?} in:\n{text}");
    }
    for words in [
        "in   heartbeat from server2 on lan1",
        "out  run np-probe of ping1 (action 1)",
        "in   action 1 done: a target answered",
        "out  EVENT recovery-failover monitor=appw1",
        "out  timer heartbeat-tick set for 0:01:03.000",
    ] {
        assert!(text.contains(words), "{words:?} missing from:\n{text}");
    }
    let json = stdout(&baton(&["show", "DIR", "--json"], &dir));
    let mut outputs = 0;
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(v["v"], 1);
        assert!(v["text"].is_string() && v["at"].is_string() && v["at_ms"].is_u64() && v["seq"].is_u64());
        let kind = v["kind"].as_str().expect("kind");
        assert!(v[kind].is_object(), "{kind} is structured, not a Debug string: {line}");
        if kind == "output" {
            outputs += 1;
        }
    }
    assert!(outputs > 100);
    assert!(json.contains(r#""Execute":{"action":{"NpProbe":{"np":0}},"id":1}"#), "fields, not Debug text");
}

#[test]
fn state_json_is_json_for_a_server_not_running_too() {
    let dir = traced("state-json");
    // At 0:00:30 neither server has started (they boot at 0:01:00).
    for at in ["30s", "1m30s"] {
        let out = baton(&["state", "DIR", "--json", "--at", at], &dir);
        assert!(out.status.success(), "{}", stderr(&out));
        let lines: Vec<serde_json::Value> =
            stdout(&out).lines().map(|l| serde_json::from_str(l).expect("valid JSON")).collect();
        assert_eq!(lines.len(), 2, "one document per server");
        for v in &lines {
            assert_eq!(v["v"], 1);
            assert_eq!(v["running"], at == "1m30s", "{v}");
        }
        if at == "1m30s" {
            assert_eq!(lines[0]["status"]["groups"]["failover1"], "online", "{}", lines[0]);
        }
    }
}

#[test]
fn a_torn_tail_is_told_by_every_command_and_by_the_exit_code() {
    let dir = traced("torn");
    // A crash in mid-write: the last record is cut 7 bytes short.
    let seg = last_segment(&dir.join("server2"));
    let len = std::fs::metadata(&seg).expect("segment").len();
    std::fs::OpenOptions::new().write(true).open(&seg).expect("open").set_len(len - 7).expect("truncate");
    for args in [
        &["show", "DIR"][..],
        &["state", "DIR", "--at", "1m30s"],
        &["why", "recovery-failover", "DIR"],
        &["replay", "DIR"],
    ] {
        let out = baton(args, &dir);
        let said = stdout(&out) + &stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains("TORN TAIL") && said.contains("00000000000000000001.log"), "{args:?}: {said}");
        assert!(!said.contains("DIVERGES"), "a torn tail is not a divergence: {args:?}: {said}");
    }
    let replay = stdout(&baton(&["replay", "DIR"], &dir));
    assert!(replay.contains("server1: ok:") && replay.contains("server2: ok up to the cut"), "{replay}");
}

#[test]
fn another_servers_damage_is_told_and_the_rest_still_shown() {
    let dir = traced("crc");
    let seg = last_segment(&dir.join("server1"));
    let mut bytes = std::fs::read(&seg).expect("segment");
    bytes[2000] ^= 0xff;
    std::fs::write(&seg, bytes).expect("write");
    let out = baton(&["show", "DIR", "--server", "server2"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("DAMAGED") && stderr(&out).contains("server1"), "{}", stderr(&out));
    assert!(stdout(&out).lines().count() > 100, "server2's records are shown");
    let why = baton(&["why", "recovery-failover", "DIR"], &dir);
    assert_eq!(why.status.code(), Some(1), "{}", stderr(&why));
    assert!(stderr(&why).contains("DAMAGED"));
}
