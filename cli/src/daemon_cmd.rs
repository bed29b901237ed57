//! `baton daemon --config FILE [--server NAME] [--state-dir DIR] [--fence power|exit]
//! [--log-level FILTER] [--log-format auto|human|json|journald]`: run this server's
//! cluster service.
//!
//! In: the cluster file, this server's name (default: the host name), the state
//! directory, the fence mode, the log options. Out: the daemon's log records on stderr
//! or to journald ([`crate::observe::logging`]), the HTTP endpoint on `web_port` and
//! the alerts ([`crate::observe`], on a thread of their own); exit 0 when it ends
//! with a clean power action, 1 after an unclean one (fencing, failure; with
//! `--fence=power` the machine is already going down) or a runtime error, 2 for bad
//! input (invalid file, unknown server, refused secret) with a message saying what to do.

use crate::host_check;
use baton_runtime::daemon::{self, DaemonOptions, FenceMode};
use baton_runtime::transport::load_secret;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the state lives unless `--state-dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/baton";

/// This machine's host name: `/proc/sys/kernel/hostname`, else `$HOSTNAME`.
pub(crate) fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn bad(msg: String) -> ExitCode {
    eprintln!("baton daemon: {msg}");
    ExitCode::from(2)
}

/// `--log-level` and `--log-format`.
#[derive(Clone, Debug)]
pub struct LogOptions {
    pub level: Option<String>,
    pub format: crate::observe::logging::LogFormat,
}

pub fn run(
    file: &Path,
    server: Option<&str>,
    state_dir: Option<&Path>,
    fence: FenceMode,
    log: &LogOptions,
) -> ExitCode {
    let text = match baton_sim::input_file::read_text(file) {
        Ok(t) => t,
        Err(e) => return bad(e),
    };
    let name = file.display().to_string();
    let checked = match baton_core::config::parse(&name, &text) {
        Ok(c) => c,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return bad(format!("{name}: invalid configuration (run `baton config check {name}`)"));
        }
    };
    let cfg = checked.config;
    let server = match server.map(str::to_string).or_else(host_name) {
        Some(s) => s,
        None => return bad("cannot tell this machine's host name: pass --server NAME".to_string()),
    };
    if cfg.server_id(&server).is_none() {
        let known: Vec<&str> = cfg.servers.iter().map(|s| s.name.as_str()).collect();
        return bad(format!("server {server} is not in {name} (servers: {}); pass --server NAME", known.join(", ")));
    }
    if let Err(e) = crate::observe::logging::init(log.level.as_deref(), log.format, &server) {
        return bad(e);
    }
    // Absolute once, here: scripts run in their own directory, where a relative
    // `--config etc/cluster.toml` would be looked up a second time (issue 14).
    let config_dir = host_check::config_dir(file);
    let secret_path = cfg.cluster.secret_file.as_deref().map(|s| host_check::resolve(&config_dir, s));
    let secret = match load_secret(secret_path.as_deref(), cfg.cluster.insecure) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if let Some(w) = &secret.warning {
        eprintln!("baton daemon: WARNING: {w}");
    }
    // The observation thread (HTTP endpoint, alerts) starts before the loop so that the
    // endpoint answers (503 until the first status) as soon as the daemon runs.
    let state_dir = state_dir.map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), Path::to_path_buf);
    // The console's token and TLS files: a bad one stops the start, naming the file.
    let console = match crate::observe::web::Console::load(&cfg, &config_dir, &state_dir) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    let observer = match crate::observe::start(&std::sync::Arc::new(cfg), &server, console) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("baton daemon: {e}");
            return ExitCode::from(1);
        }
    };
    let options = DaemonOptions {
        config_name: name,
        config_text: text,
        config_dir,
        server,
        state_dir,
        key: secret.key,
        fence,
        log_segment_bytes: baton_runtime::daemon::DEFAULT_LOG_SEGMENT_BYTES,
        observer: Some(observer),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("baton daemon: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(daemon::run(options)) {
        Ok(end) if end.power.is_clean() => {
            eprintln!("baton daemon: ended with {:?} ({:?})", end.power, end.machine);
            ExitCode::SUCCESS
        }
        Ok(end) => {
            eprintln!("baton daemon: ended with {:?} (--fence={fence}: {:?})", end.power, end.machine);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("baton daemon: {e}");
            ExitCode::from(1)
        }
    }
}
