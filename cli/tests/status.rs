//! `baton status` against a daemon's control socket (issue 14, item 15): the documented
//! JSON, and `--watch`.
//!
//! A real Unix socket at `STATE_DIR/control.sock`, answered by a stand-in daemon thread
//! with the wire answer a daemon gives (lists of pairs, Rust state names), so these tests
//! need no root and no network.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a daemon answers to `{"status": {}}`: a server2 that sees server1 suspended.
const WIRE: &str = r#"{"status":{"cluster":"cluster1","server":"server2","state":"Online","cluster_suspended":false,
"peers":[["server1","Suspended"]],"groups":[["failover1","Online"]],"monitors":[["ipw1","ok"]],"mirrors":[],
"paths":[{"peer":"server1","path":"lan1","alive":true,"silent_ms":40}],"resources":[["failover1","fip1","online"]],
"locations":[["failover1",[["server2","Online"]]]],"transport":{"sent":10,"accepted":9}}}"#;

/// A state directory whose control socket answers every status request with [`WIRE`],
/// counting the requests.
fn fake_daemon(name: &str) -> (PathBuf, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let dir = std::env::temp_dir().join(format!("baton-status-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("state dir");
    let listener = UnixListener::bind(dir.join("control.sock")).expect("bind");
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut line = String::new();
            if BufReader::new(&conn).read_line(&mut line).is_ok() && line.contains("status") {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = conn.write_all(format!("{}\n", WIRE.replace('\n', "")).as_bytes());
            }
        }
    });
    (dir, served)
}

#[test]
fn status_json_is_objects_keyed_by_name_with_lower_case_states_and_a_version() {
    let (dir, _) = fake_daemon("json");
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", "--json", "--state-dir"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["v"], 1);
    assert_eq!(v["state"], "online");
    assert_eq!(v["peers"], serde_json::json!({"server1": "suspended"}));
    assert_eq!(v["groups"], serde_json::json!({"failover1": "online"}));
    assert_eq!(v["locations"]["failover1"]["server2"], "online");
    assert_eq!(v["resources"]["failover1"]["fip1"], "online");
    assert_eq!(v["monitors"]["ipw1"], "ok");
    assert_eq!(v["transport"]["sent"], 10);
}

#[test]
fn status_text_hints_how_a_suspended_server_returns_and_has_no_colour_in_a_pipe() {
    let (dir, _) = fake_daemon("text");
    let out =
        Command::new(env!("CARGO_BIN_EXE_baton")).args(["status", "--state-dir"]).arg(&dir).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("suspended   (to let it return: baton server return server1)"), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
}

#[test]
fn status_watch_refreshes_until_interrupted() {
    let (dir, served) = fake_daemon("watch");
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", "--watch", "--interval", "100ms", "--state-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdout = child.stdout.take().expect("stdout");
    // Read frames until three have come (each under its `Every 0.1s` header), within a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = String::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            if tx.send(all.clone()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    // A frame's body follows its header (stdout is flushed line by line).
    while seen.matches("CLUSTER STATUS").count() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(all) => seen = all,
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.matches("Every 0.1s: baton status").count() >= 3, "three frames within 20 s:\n{seen}");
    assert!(seen.matches("CLUSTER STATUS").count() >= 3, "{seen}");
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 3, "each frame asked the daemon again");
    let bad = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", "--watch", "--interval", "1ms", "--state-dir"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "an interval below 100ms is refused");
}
