//! Three daemons in one process on loopback (127.0.0.11–13, all routed to `lo` on
//! Linux): the group starts on server1 (CLP_EVENT=START); server1's daemon is aborted
//! (a crash); the group fails over to server2 or server3 (CLP_EVENT=FAILOVER); the
//! survivor's event log replays.

use baton_core::record::LogRecord;
use baton_runtime::daemon::{run, DaemonOptions};
use baton_runtime::transport::load_secret;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::{sleep, Instant};

const SERVERS: [&str; 3] = ["server1", "server2", "server3"];

fn config(port: u16) -> String {
    format!(
        r#"
[cluster]
name = "daemontest"
heartbeat_interval = "100ms"
heartbeat_timeout = "500ms"
sync_wait = "2s"
insecure = true
port = {port}

[[server]]
name = "server1"
addresses = {{ lan1 = "127.0.0.11" }}

[[server]]
name = "server2"
addresses = {{ lan1 = "127.0.0.12" }}

[[server]]
name = "server3"
addresses = {{ lan1 = "127.0.0.13" }}

[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1

[[group]]
name = "g1"
servers = ["server1", "server2", "server3"]

[[group.resource]]
name = "exec1"
kind = "exec"
start = "start.sh"
stop = "stop.sh"
timeout = "10s"
"#
    )
}

/// A per-server config directory whose scripts append `SERVER start|stop EVENT` to `events`.
fn write_scripts(dir: &Path, server: &str, events: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, what) in [("start.sh", "start"), ("stop.sh", "stop")] {
        let p = dir.join(name);
        let text = format!("#!/bin/sh\necho \"{server} {what} $CLP_EVENT\" >> '{}'\n", events.display());
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Polls the events file until a line satisfies `want`, or the deadline.
async fn wait_for(events: &Path, deadline: Instant, want: impl Fn(&str) -> bool) -> String {
    loop {
        let text = std::fs::read_to_string(events).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| want(l)) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "timed out; script runs so far:\n{text}");
        sleep(Duration::from_millis(20)).await;
    }
}

fn read_log(dir: &Path) -> Vec<(u64, LogRecord)> {
    baton_log::Reader::open(dir)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.seq, r.decode().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn three_daemons_fail_over_after_a_crash() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    // A port per test process, so parallel runs of the suite do not collide.
    let port = 20000 + u16::try_from(std::process::id() % 20000).unwrap();
    let text = config(port);
    let key = load_secret(None, true).unwrap().key;
    let mut state_dirs: Vec<PathBuf> = Vec::new();
    let mut tasks = Vec::new();
    for server in SERVERS {
        let config_dir = tmp.path().join(server).join("etc");
        write_scripts(&config_dir, server, &events);
        let state_dir = tmp.path().join(server).join("state");
        state_dirs.push(state_dir.clone());
        let options = DaemonOptions {
            config_name: "cluster.toml".to_string(),
            config_text: text.clone(),
            config_dir,
            server: server.to_string(),
            state_dir,
            key: key.clone(),
        };
        tasks.push(tokio::spawn(run(options)));
    }

    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START", "the group must first start on its home server");

    tasks[0].abort(); // a crash: no departure, no stop script
    let err = (&mut tasks[0]).await.unwrap_err();
    assert!(err.is_cancelled());

    let failover = wait_for(&events, deadline, |l| l.ends_with(" start FAILOVER")).await;
    let survivor = if failover.starts_with("server2") { 1 } else { 2 };
    assert!(failover.starts_with("server2") || failover.starts_with("server3"), "{failover}");

    for task in &tasks[1..] {
        task.abort();
    }
    for task in tasks.into_iter().skip(1) {
        let _ = task.await;
    }
    let text = std::fs::read_to_string(&events).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(" start ")).count(), 2, "exactly two start runs:\n{text}");

    let records = read_log(&state_dirs[survivor].join("log"));
    assert!(matches!(records.first(), Some((_, LogRecord::RunStart { .. }))));
    let replayed = baton_core::replay::replay(records).expect("the survivor's log replays");
    assert_eq!(replayed.runs, 1);
    assert!(replayed.inputs > 10 && replayed.outputs > 10, "{replayed:?}");
    let persisted = baton_runtime::daemon::persist::load(&state_dirs[survivor]).unwrap().unwrap();
    assert_eq!(persisted.groups_online.len(), 1, "{persisted:?}");
    assert!(Instant::now() < deadline);
}
