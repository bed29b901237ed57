//! The `mirror-disk` driver: one engine process per mirror side on this server,
//! supervised by the daemon, and the actions and monitors the core asks of it
//! (docs/mirror.md, "Daemon integration").
//!
//! In: the configuration, this server, [`MirrorSetup`] (the state directory, the
//! configuration file, the engine's program); then the core's actions. Out: each
//! action's `ActionResult`, the `mirror-*` monitors' checks, and the inputs of
//! [`supervise`] on a channel the daemon loop takes ([`super::drivers::Drivers::take_inputs`]).
//!
//! | action | what the driver does |
//! |---|---|
//! | `Activate` | engine `activate` (the first lease; the engine's refusal, e.g. metadata never written by `baton mirror init`, is the failure), wait for its `device`, then mount it at `mount_point` as the `disk` driver does (fsck, mount, checked) |
//! | `Deactivate` | unmount as the `disk` driver does (holders of a busy mount ended), then engine `deactivate` (clean stop: both sides flushed) |
//! | `MirrorCopy` | engine `rebuild {full}`, then its outcome: done, or failed with the engine's reason |
//! | `MonitorCheck` `mirror-disk` | the engine answers, its data device has no error, an active side serves its device |
//! | `MonitorCheck` `mirror-connect` | a connect network carries traffic (the supervisor's last view) |

pub mod client;
mod supervise;

use baton_core::config::{Config, ResId, ResourceKind, ServerId};
use baton_core::io::{ActionResult, Input};
use baton_drivers::disk::{self, DiskSpec};
use client::{call, CallError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::eventlog::Logger;

/// The engine's port: `cluster.port + 100 + n` for the n-th mirror of the file (as
/// `baton mirror-engine` computes it).
const MIRROR_PORT_OFFSET: u16 = 100;
/// How often an action polls the engine's status (device, rebuild outcome).
const POLL: Duration = Duration::from_millis(200);
/// How long an activation waits for an engine that is starting.
const ENGINE_START_WAIT: Duration = Duration::from_secs(15);
/// How long a copy waits for the engine's link to the other side.
const LINK_WAIT: Duration = Duration::from_secs(30);
/// How long a running rebuild may go without an answer of its engine before it fails.
const REBUILD_SILENCE: Duration = Duration::from_secs(10);

/// Where the engines run from (given by the daemon's caller).
#[derive(Clone, Debug)]
pub struct MirrorSetup {
    /// The daemon's state directory: `mirror/M.sock` and `mirror/M.log` live there.
    pub state_dir: PathBuf,
    /// The configuration file, as the engine reads it.
    pub config_file: PathBuf,
    /// The program to run as `PROGRAM mirror-engine M --config FILE --server NAME
    /// --state-dir DIR` (the daemon's own binary in production).
    pub program: PathBuf,
}

#[derive(Clone, Debug)]
struct EngineCommand {
    exe: PathBuf,
    args: Vec<String>,
}

/// What the supervisor and the actions share about one engine.
#[derive(Default)]
struct View {
    /// The core activated this side (the lease is renewed while set).
    want_active: bool,
    /// The engine's last status; `None` while it does not answer.
    status: Option<Value>,
    /// Why it does not answer.
    down_reason: String,
    /// The connect networks' state, as last reported.
    links: Vec<bool>,
}

/// One mirror side of this server and its engine.
pub struct MirrorEngine {
    res: ResId,
    name: String,
    socket: PathBuf,
    log_path: PathBuf,
    command: EngineCommand,
    /// The peer's address on each connect network.
    peers: Vec<SocketAddr>,
    lease_ms: u64,
    interval: Duration,
    mount_point: PathBuf,
    fs_type: String,
    logger: Logger,
    view: Mutex<View>,
}

impl MirrorEngine {
    fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last line the engine wrote (its start-up refusal, e.g. metadata never written).
    fn last_log_line(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.log_path).ok()?;
        text.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_string)
    }

    fn disk_spec(&self, device: &str) -> DiskSpec {
        DiskSpec {
            device: PathBuf::from(device),
            mount_point: self.mount_point.clone(),
            fs_type: self.fs_type.clone(),
            mount_options: None,
            fsck: true,
        }
    }

    /// Why the engine cannot take a request, in the operator's words.
    fn not_running(&self, e: &CallError) -> String {
        match e {
            CallError::Refused(why) => format!("mirror {}: {why}", self.name),
            CallError::NoAnswer(why) => format!(
                "mirror {}: its engine is not running ({why}); its last words: {}",
                self.name,
                self.last_log_line().unwrap_or_else(|| format!("none in {}", self.log_path.display()))
            ),
        }
    }
}

/// Every mirror-disk side of server `me`. Errors: a value the engines cannot use.
pub fn engines(
    cfg: &Config,
    me: ServerId,
    setup: &MirrorSetup,
    logger: &Logger,
) -> Result<BTreeMap<ResId, Arc<MirrorEngine>>, String> {
    let mut out = BTreeMap::new();
    let config_file =
        std::path::absolute(&setup.config_file).map_err(|e| format!("{}: {e}", setup.config_file.display()))?;
    let hb_timeout = cfg.cluster.heartbeat_timeout_ms;
    let interval_ms = cfg.cluster.heartbeat_interval_ms.max(1);
    // Renewed every interval, shorter than the peer's takeover time (docs/mirror.md "Lease").
    let lease_ms = hb_timeout
        .saturating_sub(interval_ms)
        .max(interval_ms.saturating_mul(2))
        .min(hb_timeout.saturating_sub(1))
        .max(1);
    for (ordinal, res) in cfg.mirror_ids().enumerate() {
        let r = cfg.resource(res);
        let ResourceKind::MirrorDisk(m) = &r.kind else { continue };
        let Some(mine) = m.sides.iter().position(|s| s.servers.contains(&me)) else { continue };
        let port = cfg
            .cluster
            .port
            .checked_add(MIRROR_PORT_OFFSET)
            .and_then(|p| p.checked_add(u16::try_from(ordinal).ok()?))
            .ok_or_else(|| format!("mirror {}: its port is past 65535: lower the cluster's `port`", r.name))?;
        let peer = m.sides[1 - mine].servers.first().copied().ok_or("the other side has no server")?;
        let mut peers = Vec::new();
        for net in &m.networks {
            let sv = cfg.server(peer);
            let a = sv.addresses.get(net).ok_or_else(|| format!("server {} has no address on {net}", sv.name))?;
            let ip: IpAddr =
                a.parse().map_err(|_| format!("server {}: {net} address {a} is not an IP address", sv.name))?;
            peers.push(SocketAddr::new(ip, port));
        }
        let dir = setup.state_dir.join("mirror");
        let command = EngineCommand {
            exe: setup.program.clone(),
            args: vec![
                "mirror-engine".into(),
                r.name.clone(),
                "--config".into(),
                config_file.display().to_string(),
                "--server".into(),
                cfg.server(me).name.clone(),
                "--state-dir".into(),
                setup.state_dir.display().to_string(),
            ],
        };
        out.insert(
            res,
            Arc::new(MirrorEngine {
                res,
                name: r.name.clone(),
                socket: dir.join(format!("{}.sock", r.name)),
                log_path: dir.join(format!("{}.log", r.name)),
                command,
                peers: peers.clone(),
                lease_ms,
                interval: Duration::from_millis(interval_ms),
                mount_point: PathBuf::from(&m.mount_point),
                fs_type: m.fs_type.clone(),
                logger: logger.clone(),
                view: Mutex::new(View { links: vec![true; peers.len()], ..View::default() }),
            }),
        );
    }
    Ok(out)
}

/// Starts the supervision of every engine (once, at service start).
pub fn supervise(engines: &BTreeMap<ResId, Arc<MirrorEngine>>, setup: &MirrorSetup, inputs: &UnboundedSender<Input>) {
    let dir = setup.state_dir.join("mirror");
    if !engines.is_empty() {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir) {
            tracing::error!("mirror engines: cannot create {}: {e}", dir.display());
        }
    }
    for engine in engines.values() {
        tokio::spawn(supervise::run(Arc::clone(engine), inputs.clone()));
    }
}

/// On fencing: the lease is no longer renewed (the engine stops acknowledging writes
/// once it lapses, within `heartbeat_timeout`).
pub fn stop_renewing(engine: &MirrorEngine) {
    engine.view().want_active = false;
}

/// `Activate`: see the module doc.
pub async fn activate(engine: Arc<MirrorEngine>, timeout: Duration) -> ActionResult {
    let deadline = Instant::now() + timeout;
    let bound = timeout.max(Duration::from_millis(1));
    // An engine still starting (the daemon just started it) is waited for, a while.
    let starting = Instant::now() + (timeout / 2).min(ENGINE_START_WAIT);
    loop {
        match call(&engine.socket, &json!({"activate": {"lease_ms": engine.lease_ms}}), bound).await {
            Ok(_) => {
                engine.view().want_active = true;
                break;
            }
            Err(CallError::NoAnswer(_)) if Instant::now() < starting => tokio::time::sleep(POLL).await,
            Err(e) => return ActionResult::Failed(engine.not_running(&e)),
        }
    }
    let device = loop {
        match call(&engine.socket, &json!({"status": {}}), bound).await {
            Ok(s) => match device_of(&s) {
                Some(Some(d)) => break d,
                Some(None) => {}
                None => {
                    return ActionResult::Failed(format!(
                        "mirror {}: its engine serves no device (a front end is needed to mount it)",
                        engine.name
                    ))
                }
            },
            Err(e) => return ActionResult::Failed(engine.not_running(&e)),
        }
        if Instant::now() >= deadline {
            return ActionResult::Failed(format!(
                "mirror {}: active, but its device did not appear within {} ms",
                engine.name,
                timeout.as_millis()
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
    let result = disk::activate(&engine.disk_spec(&device), left).await;
    match &result {
        Ok(done) => engine.logger.line(&format!("mirror {} activation: {done}", engine.name)),
        Err(why) => engine.logger.line(&format!("mirror {} activation failed: {why}", engine.name)),
    }
    disk::action_result(&result)
}

/// `Deactivate`: see the module doc.
pub async fn deactivate(engine: Arc<MirrorEngine>, timeout: Duration) -> ActionResult {
    let deadline = Instant::now() + timeout;
    let bound = timeout.max(Duration::from_millis(1));
    let status = match call(&engine.socket, &json!({"status": {}}), bound).await {
        Ok(s) => s,
        Err(e @ CallError::Refused(_)) => return ActionResult::Failed(engine.not_running(&e)),
        Err(CallError::NoAnswer(why)) => {
            // No engine: nothing on this side acknowledges writes. Its dead device's
            // mount (if any) is detached lazily so that the next start can mount again.
            engine.view().want_active = false;
            let lazy = lazy_unmount(&engine).await;
            engine.logger.line(&format!("mirror {} deactivation: engine not running ({why}); {lazy}", engine.name));
            return ActionResult::Ok;
        }
    };
    if let Some(Some(device)) = device_of(&status) {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        match disk::deactivate(&engine.disk_spec(&device), left).await {
            Ok(done) => engine.logger.line(&format!("mirror {} unmounted: {done}", engine.name)),
            Err(why) => {
                engine.logger.line(&format!("mirror {} deactivation failed: {why}", engine.name));
                return ActionResult::Failed(why);
            }
        }
    }
    engine.view().want_active = false;
    match call(&engine.socket, &json!({"deactivate": {}}), bound).await {
        Ok(_) => ActionResult::Ok,
        Err(e) => ActionResult::Failed(engine.not_running(&e)),
    }
}

/// The device an active engine serves: `None` when its status has no such field (an
/// engine without a front end), `Some(None)` while it has none. The loop device itself
/// when given: the stable name `/dev/baton/M` is one per host, which two servers of one
/// test machine share.
fn device_of(status: &Value) -> Option<Option<String>> {
    for key in ["loop_device", "device"] {
        if let Some(Value::String(d)) = status.get(key) {
            return Some(Some(d.clone()));
        }
    }
    status.get("device").map(|_| None)
}

async fn lazy_unmount(engine: &MirrorEngine) -> String {
    match disk::mounts::mounted_at(&engine.mount_point) {
        Ok(Some(_)) => {
            let out = tokio::process::Command::new("umount").arg("-l").arg(&engine.mount_point).output().await;
            match out {
                Ok(o) if o.status.success() => format!("umount -l {}", engine.mount_point.display()),
                Ok(o) => {
                    format!("umount -l {}: {}", engine.mount_point.display(), String::from_utf8_lossy(&o.stderr).trim())
                }
                Err(e) => format!("umount -l: {e}"),
            }
        }
        Ok(None) => "nothing mounted".to_string(),
        Err(e) => e,
    }
}

/// `MirrorCopy`: the engine's rebuild, until its outcome.
pub async fn copy(engine: Arc<MirrorEngine>, full: bool) -> ActionResult {
    // The core decides on membership; the engine's link to the returning side may come
    // a moment later (it reconnects every few hundred ms).
    let link_wait = Instant::now() + LINK_WAIT;
    loop {
        match call(&engine.socket, &json!({"status": {}}), Duration::from_secs(2)).await {
            Ok(s) if s["links_up"].as_u64().unwrap_or(0) > 0 => break,
            Ok(_) | Err(CallError::NoAnswer(_)) if Instant::now() < link_wait => tokio::time::sleep(POLL).await,
            Ok(_) => return ActionResult::Failed(format!("mirror {}: no link to the other side", engine.name)),
            Err(e) => return ActionResult::Failed(engine.not_running(&e)),
        }
    }
    if let Err(e) = call(&engine.socket, &json!({"rebuild": {"full": full}}), Duration::from_secs(10)).await {
        return ActionResult::Failed(engine.not_running(&e));
    }
    let mut last_answer = Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        match call(&engine.socket, &json!({"status": {}}), Duration::from_secs(2)).await {
            Ok(s) => {
                last_answer = Instant::now();
                let r = &s["rebuild"];
                if r["running"] == false {
                    let outcome = &r["outcome"];
                    if outcome == "done" {
                        engine.logger.line(&format!(
                            "mirror {} rebuild ({}) done: {} bytes",
                            engine.name,
                            if full { "full" } else { "differential" },
                            r["done_bytes"]
                        ));
                        return ActionResult::Ok;
                    }
                    if let Some(why) = outcome.get("failed") {
                        let why = why.as_str().unwrap_or("?");
                        return ActionResult::Failed(format!("mirror {}: rebuild failed: {why}", engine.name));
                    }
                    return ActionResult::Failed(format!(
                        "mirror {}: the rebuild stopped without an outcome ({outcome}; role {})",
                        engine.name, s["role"]
                    ));
                }
            }
            Err(e) => {
                if last_answer.elapsed() > REBUILD_SILENCE {
                    return ActionResult::Failed(engine.not_running(&e));
                }
            }
        }
    }
}

/// The `mirror-disk` monitor: the engine answers, no disk error, an active side has its device.
pub async fn check_disk(engine: Arc<MirrorEngine>, timeout: Duration) -> ActionResult {
    match call(&engine.socket, &json!({"status": {}}), timeout).await {
        Ok(s) if s["disk_error"] == true => ActionResult::Check {
            healthy: false,
            detail: format!("mirror {}: I/O error on the data device", engine.name),
        },
        Ok(s) if s["role"] == "active" && s.get("device").is_some_and(Value::is_null) => {
            ActionResult::Check { healthy: false, detail: format!("mirror {}: active without a device", engine.name) }
        }
        Ok(s) => ActionResult::Check { healthy: true, detail: format!("{} engine answers", s["role"]) },
        Err(e) => ActionResult::Check { healthy: false, detail: engine.not_running(&e) },
    }
}

/// The `mirror-connect` monitor: some connect network carries traffic.
pub fn check_connect(engine: &MirrorEngine) -> ActionResult {
    let v = engine.view();
    let up = v.links.iter().filter(|u| **u).count();
    if up > 0 {
        ActionResult::Check { healthy: true, detail: format!("{up} of {} connect networks up", v.links.len()) }
    } else {
        ActionResult::Check { healthy: false, detail: format!("mirror {}: mirror connect down", engine.name) }
    }
}
