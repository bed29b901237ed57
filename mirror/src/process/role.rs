//! The engine's role and its changes: standby (a [`Secondary`] on listeners bound to
//! this server's connect addresses) or active (a [`Primary`] behind a lease).
//!
//! In: `activate` / `deactivate` / `lease` / `rebuild` from the control socket. Out: the
//! role's status as JSON. A role change holds the role's lock for its whole length, so
//! two requests never interleave a change.

use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_core::io::MirrorRecord;
use serde_json::{json, Value};

use super::lease::{Lease, Leased};
use super::publish::{self, Published};
use super::EngineSpec;
use crate::engine::{PeerSync, Primary, PrimaryConfig, RebuildProgress, Secondary, SecondaryConfig};
use crate::Volume;

/// How long a write waits for a lapsed lease to be renewed before it fails: one
/// renewal that comes late by a moment delays writes rather than failing them.
const LEASE_WAIT_MS: u64 = 1000;
/// How long a role change retries taking the devices and the listen ports that the
/// previous role's threads are still releasing.
const HANDOVER_MS: u64 = 5000;

pub enum Role {
    Standby(Secondary),
    Active(Arc<Leased<Primary>>),
    /// Between roles: the previous one's devices released, the next one not (yet, or
    /// its start failed: the status says so and the daemon decides).
    Idle,
}

pub struct Engine {
    spec: EngineSpec,
    role: Mutex<Role>,
    lease: Arc<Lease>,
    /// The active side's published device (taken after `role`, always).
    front: Mutex<Option<Published>>,
}

fn retry<T>(what: &str, mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let give_up = Instant::now() + Duration::from_millis(HANDOVER_MS);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            // EBUSY: the block device's O_EXCL still held; EADDRINUSE: the listener. By
            // kind: the devices' errors are re-made with their path (no raw OS error).
            Err(e)
                if Instant::now() < give_up
                    && matches!(e.kind(), io::ErrorKind::ResourceBusy | io::ErrorKind::AddrInUse) =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{what}: {e}"))),
        }
    }
}

impl Engine {
    /// Opens the side as the standby (metadata must exist: `baton mirror init`).
    /// What an engine that died left of its front end (loop device, FUSE mount, link) is
    /// removed first; when that fails (a file system still mounted on the dead device),
    /// the standby serves anyway and the next `activate` says why it cannot.
    pub fn start(spec: EngineSpec) -> io::Result<Engine> {
        if let Some(f) = &spec.front {
            if let Err(e) = publish::clean_stale(f) {
                eprintln!("baton mirror-engine {}: cannot remove a dead engine's front end: {e}", spec.mirror);
            }
        }
        let s = Engine::standby(&spec)?;
        Ok(Engine {
            spec,
            role: Mutex::new(Role::Standby(s)),
            lease: Arc::new(Lease::default()),
            front: Mutex::new(None),
        })
    }

    fn front(&self) -> std::sync::MutexGuard<'_, Option<Published>> {
        self.front.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn standby(spec: &EngineSpec) -> io::Result<Secondary> {
        let listeners = spec
            .listen
            .iter()
            .map(|a| retry(&format!("listening on {a}"), || TcpListener::bind(a)))
            .collect::<io::Result<Vec<_>>>()?;
        let cfg = SecondaryConfig::new(spec.data.clone(), spec.meta.clone(), spec.key.clone());
        retry("opening the devices", || {
            Secondary::start(cfg.clone(), listeners.iter().map(|l| l.try_clone()).collect::<io::Result<_>>()?)
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Role> {
        self.role.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Becomes the active side under a lease of `lease_ms`. Already active: renews.
    pub fn activate(&self, lease_ms: u64) -> Result<(), String> {
        let mut role = self.lock();
        self.lease.grant(lease_ms)?;
        if matches!(*role, Role::Standby(_) | Role::Idle) {
            // The standby lets go of the devices and ports before the active side takes them.
            if let Role::Standby(s) = std::mem::replace(&mut *role, Role::Idle) {
                s.stop();
            }
            let mut cfg = PrimaryConfig::new(
                self.spec.data.clone(),
                self.spec.meta.clone(),
                self.spec.peers.clone(),
                self.spec.key.clone(),
            );
            cfg.mode = self.spec.mode;
            let opened = retry("opening the devices", || Primary::open(cfg.clone()));
            let p = match opened {
                Ok(p) => p,
                Err(e) => {
                    self.lease.revoke();
                    // Serve as the standby again rather than not at all.
                    if let Ok(s) = Engine::standby(&self.spec) {
                        *role = Role::Standby(s);
                    }
                    return Err(format!("cannot become active: {e}"));
                }
            };
            let wait = Duration::from_millis(LEASE_WAIT_MS);
            let volume = Arc::new(Leased { volume: p, lease: self.lease.clone(), wait });
            if let Some(f) = &self.spec.front {
                match Published::start(volume.clone(), f) {
                    Ok(p) => *self.front() = Some(p),
                    Err(e) => {
                        // No device, no activation: back to the standby, cleanly stopped.
                        self.lease.revoke();
                        let _ = volume.volume.close();
                        drop(volume);
                        if let Ok(s) = Engine::standby(&self.spec) {
                            *role = Role::Standby(s);
                        }
                        return Err(format!("cannot become active: the front end did not come up: {e}"));
                    }
                }
            }
            *role = Role::Active(volume);
        }
        Ok(())
    }

    /// Becomes the standby: a clean stop of the active side (both sides flushed), then
    /// listening again. Already standby: nothing to do.
    pub fn deactivate(&self) -> Result<(), String> {
        let mut role = self.lock();
        if !matches!(*role, Role::Standby(_)) {
            // The device first: refused (still active, still serving) while mounted.
            let mut front = self.front();
            if let Some(p) = front.as_mut() {
                p.stop()?;
            }
            *front = None;
            drop(front);
            self.lease.revoke();
            let closed = match std::mem::replace(&mut *role, Role::Idle) {
                Role::Active(p) => p.volume.close(),
                Role::Standby(_) | Role::Idle => Ok(()),
            };
            // The standby takes the devices once the active side's threads let go.
            let s = Engine::standby(&self.spec).map_err(|e| format!("cannot serve as the standby: {e}"))?;
            *role = Role::Standby(s);
            closed.map_err(|e| {
                format!("stopped, but the clean stop failed (the next start copies the activity log): {e}")
            })?;
        }
        Ok(())
    }

    /// Renews the lease (active side only: a standby acknowledges nothing anyway).
    pub fn renew(&self, ms: u64) -> Result<(), String> {
        match &*self.lock() {
            Role::Active(_) => self.lease.grant(ms),
            Role::Standby(_) | Role::Idle => Err("not active: a lease is granted by `activate`".into()),
        }
    }

    pub fn rebuild(&self, full: bool) -> Result<(), String> {
        match &*self.lock() {
            Role::Active(p) => p.volume.start_rebuild(full).map_err(|e| e.to_string()),
            Role::Standby(_) | Role::Idle => Err("this side is not active: a rebuild starts on the active side".into()),
        }
    }

    /// The active side's volume (the front end's, and the tests' `write`).
    pub fn volume(&self) -> Option<Arc<Leased<Primary>>> {
        match &*self.lock() {
            Role::Active(p) => Some(p.clone()),
            Role::Standby(_) | Role::Idle => None,
        }
    }

    pub fn status(&self) -> Value {
        let role = self.lock();
        let mut v = match &*role {
            Role::Active(p) => {
                let s = p.volume.status();
                json!({
                    "role": "active",
                    "record": record(s.record),
                    "current_gen": format!("{:016x}", s.current_gen),
                    "links_up": s.links_up,
                    "links_configured": self.spec.peers.len(),
                    "peer": match s.peer {
                        PeerSync::Synced => "synced",
                        PeerSync::Behind { full: false } => "behind",
                        PeerSync::Behind { full: true } => "behind-full",
                    },
                    "dirty_regions": s.dirty_regions,
                    "lag_bytes": s.lag_bytes,
                    "lag_writes": s.lag_writes,
                    "lease_ms_left": self.lease.remaining_ms(),
                    "rebuild": rebuild(&s.rebuild),
                    "refused_frames": s.refused_frames,
                    "sent_bytes": s.sent_bytes,
                })
            }
            Role::Standby(s) => {
                let h = s.header();
                json!({
                    "role": "standby",
                    "record": record(h.record),
                    "current_gen": format!("{:016x}", h.current_gen),
                    "links_up": s.connections(),
                    "links_configured": self.spec.listen.len(),
                    "applied_writes": s.applied_writes(),
                    "disk_error": s.disk_error(),
                    "refused_frames": crate::engine::link::WireStats::get(&s.stats().refused),
                })
            }
            Role::Idle => json!({"role": "idle", "links_up": 0, "links_configured": self.spec.listen.len()}),
        };
        let front = self.front();
        v["device"] = front.as_ref().map_or(Value::Null, |p| json!(p.link()));
        v["loop_device"] = front.as_ref().map_or(Value::Null, |p| json!(p.loop_device()));
        drop(front);
        v["mirror"] = json!(self.spec.mirror);
        v["mode"] = json!(match self.spec.mode {
            crate::engine::Mode::Sync => "sync",
            crate::engine::Mode::Async => "async",
        });
        match &*role {
            Role::Active(p) => v["size_bytes"] = json!(p.size_bytes()),
            Role::Standby(s) => v["size_bytes"] = json!(s.header().size_bytes),
            Role::Idle => {}
        }
        v
    }
}

fn record(r: MirrorRecord) -> Value {
    match r {
        MirrorRecord::Synced => json!("synced"),
        MirrorRecord::Ahead { break_ms, updated_ms } => {
            json!({"ahead": {"break_ms": break_ms, "updated_ms": updated_ms}})
        }
        MirrorRecord::Behind { full } => json!({"behind": {"full": full}}),
        MirrorRecord::Closed => json!("closed"),
        MirrorRecord::Forced => json!("forced"),
        MirrorRecord::Lost => json!("lost"),
    }
}

fn rebuild(r: &RebuildProgress) -> Value {
    json!({
        "running": r.running,
        "full": r.full,
        "done_bytes": r.done_bytes,
        "total_bytes": r.total_bytes,
        "rate_bytes_per_s": r.rate_bytes_per_s,
        "eta_s": r.eta_s,
        "outcome": match &r.outcome {
            None => Value::Null,
            Some(Ok(())) => json!("done"),
            Some(Err(why)) => json!({"failed": why}),
        },
    })
}
