//! The supervision of one mirror engine process (`baton mirror-engine M`), every
//! `heartbeat_interval` (docs/mirror.md, "Daemon integration").
//!
//! In: the engine's command line and control socket, whether the core wants this side
//! active ([`View::want_active`], set by the activation driver), the time. Out: the
//! engine kept running (started when none answers, restarted with backoff after a
//! death; a running one is never killed: after a daemon restart the daemon reattaches
//! to it by its socket), the lease renewed while active, the engine's last status for
//! the drivers and monitors, and the inputs the core takes from a mirror driver — the
//! same the simulator's model reports (sim/src/engine.rs `sync_mirror_links`,
//! sim/src/happen.rs): `MirrorConnect` when a connect network's state changes (a run
//! starts with every network taken as up), `MirrorWritten` when writes land on an
//! ahead side, `MirrorDiskError` once per engine run whose standby saw its data device
//! fail, `ProcessDied` when the engine of an active side died (B130 7: its
//! application lost its device; the group fails over).

use super::client::{call, CallError};
use super::MirrorEngine;
use baton_core::io::Input;
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

/// The first wait before restarting an engine that died; doubled at each death in a
/// row up to [`MAX_BACKOFF`], reset once one answers.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a freshly started engine may take to answer before it counts as dead
/// (it opens its devices and binds its ports first).
const START_GRACE: Duration = Duration::from_secs(10);
/// The bound of one status or lease request.
const CALL_BOUND: Duration = Duration::from_secs(2);
/// The bound of the ping to the peer's address on a connect network.
const PING_BOUND: Duration = Duration::from_millis(800);

/// What the loop remembers between ticks.
struct Watch {
    child: Option<(Child, Instant)>,
    next_start: Instant,
    backoff: Duration,
    /// The connect networks as last reported to the core.
    links: Vec<bool>,
    /// The dirty regions of an ahead side when `MirrorWritten` was last reported.
    written_mark: Option<u64>,
    disk_error_reported: bool,
    /// The engine answered since it was (re)started or reattached.
    answered: bool,
    /// Whether the death of the current engine was reported.
    death_reported: bool,
}

/// Runs until the daemon ends.
pub async fn run(engine: Arc<MirrorEngine>, inputs: UnboundedSender<Input>) {
    let mut w = Watch {
        child: None,
        next_start: Instant::now(),
        backoff: FIRST_BACKOFF,
        links: vec![true; engine.peers.len()],
        written_mark: None,
        disk_error_reported: false,
        answered: false,
        death_reported: false,
    };
    let mut tick = tokio::time::interval(engine.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        step(&engine, &inputs, &mut w).await;
    }
}

async fn step(engine: &Arc<MirrorEngine>, inputs: &UnboundedSender<Input>, w: &mut Watch) {
    if engine.view().want_active {
        // Renewed first: a slow status must not let the lease lapse (docs/mirror.md "Lease").
        if let Err(CallError::Refused(why)) =
            call(&engine.socket, &json!({"lease": {"ms": engine.lease_ms}}), CALL_BOUND).await
        {
            engine.logger.line(&format!("mirror {}: lease not renewed: {why}", engine.name));
        }
    }
    match call(&engine.socket, &json!({"status": {}}), CALL_BOUND).await {
        Ok(status) => answered(engine, inputs, w, status).await,
        Err(e) => silent(engine, inputs, w, &e.to_string()),
    }
}

async fn answered(engine: &Arc<MirrorEngine>, inputs: &UnboundedSender<Input>, w: &mut Watch, status: Value) {
    if !w.answered {
        w.answered = true;
        w.death_reported = false;
        w.backoff = FIRST_BACKOFF;
        let role = status["role"].as_str().unwrap_or("?").to_string();
        if w.child.is_none() {
            // A daemon restart: the engine kept serving; it is never killed here.
            let lease_left = status["lease_ms_left"].as_u64().unwrap_or(0);
            if role == "active" && lease_left > 0 {
                // The lease still runs, so the peer cannot have taken over yet (the lease is
                // shorter than its heartbeat timeout): keep renewing until the core decides.
                engine.view().want_active = true;
            }
            engine.logger.line(&format!(
                "mirror {}: reattached to the running engine ({role}, lease {lease_left} ms left)",
                engine.name
            ));
        } else {
            engine.logger.line(&format!("mirror {}: engine answers ({role})", engine.name));
        }
    }
    let links = links_now(engine, &status).await;
    for (i, (up, was)) in links.iter().zip(w.links.iter_mut()).enumerate() {
        if *up != *was {
            *was = *up;
            let network = u8::try_from(i).unwrap_or(u8::MAX);
            let _ = inputs.send(Input::MirrorConnect { res: engine.res, network, up: *up });
        }
    }
    // B103: the first write after a break moves an ahead record's update time; the
    // engine records it itself, the core learns it here (and again when more regions
    // are written, so a break the core records after the engine's is not missed).
    let ahead_written = status["role"] == "active" && !status["record"]["ahead"]["updated_ms"].is_null();
    if ahead_written {
        let dirty = status["dirty_regions"].as_u64().unwrap_or(0);
        if w.written_mark != Some(dirty) {
            w.written_mark = Some(dirty);
            let bytes = status["sent_bytes"].as_u64().unwrap_or(0);
            let _ = inputs.send(Input::MirrorWritten { res: engine.res, bytes });
        }
    } else {
        w.written_mark = None;
    }
    if status["disk_error"] == true && !w.disk_error_reported {
        w.disk_error_reported = true;
        let _ = inputs.send(Input::MirrorDiskError { res: engine.res });
    }
    let mut v = engine.view();
    v.status = Some(status);
    v.links = links;
}

/// The connect networks' state: the engine's links where it has them (the active side
/// connects on every network; a standby accepts), else whether the peer's address on
/// that network answers a ping (no side active: no link to measure, the network is).
/// The engine counts live links, not which network each is on: with two networks and
/// one link the first is taken as the one up.
async fn links_now(engine: &MirrorEngine, status: &Value) -> Vec<bool> {
    let n = engine.peers.len();
    let up = usize::try_from(status["links_up"].as_u64().unwrap_or(0)).unwrap_or(n);
    if status["role"] == "active" || up > 0 {
        return (0..n).map(|i| i < up).collect();
    }
    let mut out = Vec::with_capacity(n);
    for peer in &engine.peers {
        out.push(baton_drivers::probe::ping_any(&[peer.ip().to_string()], PING_BOUND).await);
    }
    out
}

fn silent(engine: &Arc<MirrorEngine>, inputs: &UnboundedSender<Input>, w: &mut Watch, why: &str) {
    let mut v = engine.view();
    v.status = None;
    v.down_reason = why.to_string();
    if let Some((child, started)) = &mut w.child {
        match child.try_wait() {
            Ok(None) if w.answered || started.elapsed() < START_GRACE => {
                if w.answered {
                    // Alive but not answering: a stalled engine; the monitor reports it.
                    engine.logger.line(&format!("mirror {}: engine does not answer: {why}", engine.name));
                }
                return;
            }
            Ok(None) => {
                engine.logger.line(&format!(
                    "mirror {}: engine started {} s ago still does not answer ({why}); see {}",
                    engine.name,
                    started.elapsed().as_secs(),
                    engine.log_path.display()
                ));
                return;
            }
            Ok(Some(exit)) => {
                engine.logger.line(&format!(
                    "mirror {}: engine exited ({exit}): {}",
                    engine.name,
                    engine.last_log_line().unwrap_or_else(|| "no output".into())
                ));
                w.child = None;
            }
            Err(e) => engine.logger.line(&format!("mirror {}: cannot wait for the engine: {e}", engine.name)),
        }
    } else if w.answered {
        engine
            .logger
            .line(&format!("mirror {}: the engine (not started by this daemon) stopped answering: {why}", engine.name));
    }
    if w.answered {
        // It died: its application saw its device fail, if it was active.
        w.answered = false;
        let was_active = v.want_active;
        v.want_active = false;
        if was_active && !w.death_reported {
            w.death_reported = true;
            let _ = inputs.send(Input::ProcessDied { process: format!("mirror-engine {}", engine.name) });
        }
        // The next run starts with every network taken as up again.
        w.links = vec![true; engine.peers.len()];
        w.disk_error_reported = false;
    }
    drop(v);
    if w.child.is_some() || Instant::now() < w.next_start {
        return;
    }
    match start(engine) {
        Ok(child) => {
            engine.logger.line(&format!("mirror {}: engine started (pid {})", engine.name, child.id().unwrap_or(0)));
            w.child = Some((child, Instant::now()));
        }
        Err(e) => engine.logger.line(&format!("mirror {}: cannot start the engine: {e}", engine.name)),
    }
    w.next_start = Instant::now() + w.backoff;
    w.backoff = (w.backoff * 2).min(MAX_BACKOFF);
}

/// Starts the engine in a process group of its own, its output appended to its log
/// file: a signal to the daemon's group, or the daemon's exit, does not reach it.
fn start(engine: &MirrorEngine) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&engine.log_path)
        .map_err(|e| format!("{}: {e}", engine.log_path.display()))?;
    let err = log.try_clone().map_err(|e| format!("{}: {e}", engine.log_path.display()))?;
    let mut cmd = Command::new(&engine.command.exe);
    cmd.args(&engine.command.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(false);
    cmd.spawn().map_err(|e| format!("{}: {e}", engine.command.exe.display()))
}
