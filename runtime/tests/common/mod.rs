//! What the runtime's daemon tests share: a three-server loopback configuration
//! (127.0.0.11–13, all routed to `lo` on Linux), scripts that record their runs in a
//! file, polling that file against a deadline, and starting the three daemons.

#![allow(dead_code)] // each test file uses its own subset

use baton_runtime::daemon::{run, DaemonOptions, Ending, FenceMode, DEFAULT_LOG_SEGMENT_BYTES};
use baton_runtime::transport::load_secret;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

pub const SERVERS: [&str; 3] = ["server1", "server2", "server3"];

pub fn config(port: u16, cluster: &str, group: &str) -> String {
    format!(
        r#"
[cluster]
name = "{cluster}"
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
name = "{group}"
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
pub fn write_scripts(dir: &Path, server: &str, events: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, what) in [("start.sh", "start"), ("stop.sh", "stop")] {
        let p = dir.join(name);
        let text = format!("#!/bin/sh\necho \"{server} {what} $CLP_EVENT\" >> '{}'\n", events.display());
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Polls the events file until a line satisfies `want`, or the deadline.
pub async fn wait_for(events: &Path, deadline: Instant, want: impl Fn(&str) -> bool) -> String {
    loop {
        let text = std::fs::read_to_string(events).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| want(l)) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "timed out; script runs so far:\n{text}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Polls a server's stored state until it holds a group online (the start has been
/// stored, so what follows is a later step), failing at `deadline`.
pub async fn wait_for_stored_group(state_dir: &Path, deadline: Instant) -> baton_core::io::Persisted {
    loop {
        let stored = baton_runtime::daemon::persist::load(state_dir).ok().flatten();
        if let Some(p) = stored.filter(|p| !p.groups_online.is_empty()) {
            return p;
        }
        assert!(Instant::now() < deadline, "timed out waiting for a stored online group in {}", state_dir.display());
        sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the three daemons with their scripts under `root`; returns their tasks and
/// state directories.
pub fn start_daemons(
    root: &Path,
    text: &str,
    events: &Path,
) -> (Vec<JoinHandle<Result<Ending, String>>>, Vec<PathBuf>) {
    let (tasks, dirs, _) = start_daemons_controlled(root, text, events, false);
    (tasks, dirs)
}

/// [`start_daemons`] with server1's event log cut into segments of at most
/// `segment_bytes` (1: a segment per record, so that a test can block the next one).
pub fn start_daemons_segmented(
    root: &Path,
    text: &str,
    events: &Path,
    segment_bytes: u64,
) -> (Vec<JoinHandle<Result<Ending, String>>>, Vec<PathBuf>) {
    let (tasks, dirs, _) = start_daemons_with(root, text, events, false, segment_bytes);
    (tasks, dirs)
}

/// The sending end of a daemon's operator request channel.
pub type ControlSender = tokio::sync::mpsc::Sender<baton_runtime::daemon::control::ControlRequest>;
/// A daemon's task, ending with how its run ended.
pub type DaemonTask = JoinHandle<Result<Ending, String>>;

/// [`start_daemons`]; with `control1`, server1's operator requests come from the
/// returned channel instead of its control socket (the test can close it: the
/// control server's end, as when that supervised part dies).
pub fn start_daemons_controlled(
    root: &Path,
    text: &str,
    events: &Path,
    control1: bool,
) -> (Vec<DaemonTask>, Vec<PathBuf>, Option<ControlSender>) {
    start_daemons_with(root, text, events, control1, DEFAULT_LOG_SEGMENT_BYTES)
}

fn start_daemons_with(
    root: &Path,
    text: &str,
    events: &Path,
    control1: bool,
    log_segment_bytes1: u64,
) -> (Vec<DaemonTask>, Vec<PathBuf>, Option<ControlSender>) {
    let mut control = None;
    let key = load_secret(None, true).unwrap().key;
    let mut state_dirs: Vec<PathBuf> = Vec::new();
    let mut tasks = Vec::new();
    for server in SERVERS {
        let config_dir = root.join(server).join("etc");
        write_scripts(&config_dir, server, events);
        let state_dir = root.join(server).join("state");
        state_dirs.push(state_dir.clone());
        let options = DaemonOptions {
            config_name: "cluster.toml".to_string(),
            config_text: text.to_string(),
            config_dir,
            server: server.to_string(),
            state_dir,
            key: key.clone(),
            fence: FenceMode::Exit,
            log_segment_bytes: if server == "server1" { log_segment_bytes1 } else { DEFAULT_LOG_SEGMENT_BYTES },
            observer: None,
        };
        if control1 && server == "server1" {
            let (tx, rx) = tokio::sync::mpsc::channel(8);
            control = Some(tx);
            let real = Box::new(|cfg: &std::sync::Arc<_>, me, dir: &Path, logger| {
                let d = baton_runtime::daemon::real_drivers::RealDrivers::new(
                    std::sync::Arc::clone(cfg),
                    me,
                    dir.to_path_buf(),
                    logger,
                    baton_drivers::disk_slot::SlotKey::new([0; 32]),
                    baton_drivers::serial_line::LineKey::new([0; 32]),
                )?;
                Ok(std::sync::Arc::new(d) as std::sync::Arc<dyn baton_runtime::daemon::drivers::Drivers>)
            });
            tasks.push(tokio::spawn(baton_runtime::daemon::run_with(options, real, Some(rx))));
        } else {
            tasks.push(tokio::spawn(run(options)));
        }
    }
    (tasks, state_dirs, control)
}
