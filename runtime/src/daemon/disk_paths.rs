//! The daemon loop's side of the `disk` heartbeat paths: start them, hand them the
//! node's heartbeats, and read the refused-slot counters for `status`.
//!
//! In: the configuration, this server, the cluster key, the logger; then the node's
//! `Heartbeat` acts. Out: [`DiskHeartbeats`] (`publish` says whether a path is a disk
//! path of this server) and a channel of [`DiskBeat`]s read from the peers' slots;
//! [`disk_slot_refusals`] for the status answer. The work is [`super::disk_heartbeat`]'s;
//! under `--cfg madsim` there are no devices: no disk path is started, none is
//! published to (the heartbeats of disk paths then go to the transport, which has no
//! such path and drops them), and nothing is counted.

use super::control;
use super::eventlog::Logger;
use crate::transport::Key;
use baton_core::config::{Config, PathId, ServerId};
#[cfg(not(madsim))]
use std::collections::BTreeMap;
use tokio::sync::mpsc;

#[cfg(not(madsim))]
pub use super::disk_heartbeat::DiskBeat;

/// The refusals of every shared slot device of this process, per device and server.
#[cfg(not(madsim))]
pub fn disk_slot_refusals(cfg: &Config) -> Vec<control::DiskSlotRefusals> {
    let mut out = Vec::new();
    for device in baton_drivers::slot_device::in_use() {
        let counted = device.refusals();
        let shown = device.spec().device.display().to_string();
        let mut per: BTreeMap<u16, control::DiskSlotRefusals> = BTreeMap::new();
        let empty = |slot: u16| control::DiskSlotRefusals {
            device: shown.clone(),
            server: cfg.servers.get(usize::from(slot)).map_or_else(|| format!("slot {slot}"), |s| s.name.clone()),
            refused: BTreeMap::new(),
            stale: 0,
        };
        for ((slot, why), n) in &counted.rejected {
            per.entry(*slot).or_insert_with(|| empty(*slot)).refused.insert(why.name().to_string(), *n);
        }
        for (slot, n) in &counted.stale {
            per.entry(*slot).or_insert_with(|| empty(*slot)).stale = *n;
        }
        out.extend(per.into_values());
    }
    out
}

/// No devices in the simulated world.
#[cfg(madsim)]
pub fn disk_slot_refusals(_cfg: &Config) -> Vec<control::DiskSlotRefusals> {
    Vec::new()
}

#[cfg(not(madsim))]
pub struct DiskHeartbeats(super::disk_heartbeat::DiskHeartbeats);

#[cfg(not(madsim))]
impl DiskHeartbeats {
    pub fn start(cfg: &Config, me: ServerId, key: &Key, logger: &Logger) -> (DiskHeartbeats, mpsc::Receiver<DiskBeat>) {
        let slot_key = baton_drivers::disk_slot::SlotKey::new(key.derive(crate::transport::packet::DISK_SLOT_LABEL));
        let (paths, rx) = super::disk_heartbeat::DiskHeartbeats::start(cfg, me, &slot_key, logger);
        (DiskHeartbeats(paths), rx)
    }
    pub fn publish(&self, path: PathId, hb: baton_core::io::Heartbeat) -> bool {
        self.0.publish(path, hb)
    }
}

/// No devices in the simulated world: disk paths stay silent.
#[cfg(madsim)]
pub struct DiskHeartbeats {
    _keep: mpsc::Sender<DiskBeat>,
}

#[cfg(madsim)]
pub struct DiskBeat {
    pub from: ServerId,
    pub path: PathId,
    pub hb: baton_core::io::Heartbeat,
}

#[cfg(madsim)]
impl DiskHeartbeats {
    pub fn start(
        _cfg: &Config,
        _me: ServerId,
        _key: &Key,
        _logger: &Logger,
    ) -> (DiskHeartbeats, mpsc::Receiver<DiskBeat>) {
        let (tx, rx) = mpsc::channel(1);
        (DiskHeartbeats { _keep: tx }, rx)
    }
    pub fn publish(&self, _path: PathId, _hb: baton_core::io::Heartbeat) -> bool {
        false
    }
}
