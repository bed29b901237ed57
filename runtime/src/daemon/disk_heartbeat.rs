//! The `disk` heartbeat paths of this server (B10): the core's heartbeats written to this
//! server's slot on the shared device, and the peers' read back from theirs.
//!
//! In: the configuration (each `kind = "disk"` `[[heartbeat]]` this server is on), the
//! slot key derived from the cluster secret, the daemon's `Heartbeat` acts for those
//! paths ([`DiskHeartbeats::publish`]). Out: on a channel, one [`DiskBeat`] each time a
//! peer's slot shows a new core heartbeat, authenticated ([`baton_drivers::disk_slot`]):
//! the daemon hands it to the node as `Input::Heartbeat` on that path, exactly as a
//! heartbeat that came over a `lan` path, so path down and up (B11) and peer loss (B13)
//! follow from the core's own timers. Log lines when this server's own slot I/O starts
//! or stops failing and the first time a slot is refused for a reason.
//!
//! One task per path: it runs a slot cycle ([`baton_drivers::slot_device`]: write own
//! slot, read all, each I/O bounded) as soon as the node publishes a new heartbeat, and
//! at least every `heartbeat_interval` without one (a suspended cluster sends none,
//! B20, but the peers' slots are still read). The bound of a cycle is the `io_wait` of a
//! `disk` resolver of this server on the same device, else `heartbeat_timeout`. A slot
//! is news only when its beat advanced since the previous read: a slot that stopped
//! changing (a dead peer, a replayed or restored image) is never a heartbeat.
//!
//! A delivered heartbeat carries `sent_ms = 0` ("the sender does not say"): it is read
//! up to one interval after it was written, so its send time would make the peer's
//! clock look that far behind (the daemon's skew watch and the core's clock samples
//! take their samples from `lan` heartbeats only).

use super::eventlog::Logger;
use baton_core::config::{Config, HeartbeatKind, NpKind, PathId, ServerId};
use baton_core::io::Heartbeat;
use baton_drivers::disk_slot::{PeerTrack, Seen, SlotKey};
use baton_drivers::slot_device::{self, OwnIo, SlotDevice, SlotDeviceSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Heartbeats read from the disk, buffered between the path tasks and the loop.
const BEATS_BUFFERED: usize = 64;

/// A peer's new heartbeat read from its slot on a disk path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskBeat {
    pub from: ServerId,
    pub path: PathId,
    pub hb: Heartbeat,
}

/// The slot device spec of `device` for server `me` of `cfg`.
pub fn slot_spec(cfg: &Config, me: ServerId, device: &str) -> SlotDeviceSpec {
    SlotDeviceSpec {
        device: PathBuf::from(device),
        me: me.0,
        slots: u16::try_from(cfg.servers.len()).unwrap_or(u16::MAX),
        cluster_id: crate::transport::packet::cluster_id(&cfg.cluster.name),
    }
}

/// The bound of every slot cycle on `device`: the `io_wait` of a `disk` resolver of
/// server `me` on the same device, else `heartbeat_timeout`.
fn bound_ms(cfg: &Config, me: ServerId, device: &str) -> u64 {
    cfg.nps
        .iter()
        .filter(|np| np.servers.contains(&me))
        .find_map(|np| match &np.kind {
            NpKind::Disk { device: d, io_wait_ms } if d == device => Some(*io_wait_ms),
            NpKind::Disk { .. }
            | NpKind::Ping { .. }
            | NpKind::Http { .. }
            | NpKind::Serial { .. }
            | NpKind::Majority => None,
        })
        .unwrap_or(cfg.cluster.heartbeat_timeout_ms)
}

/// The running disk paths of this server.
pub struct DiskHeartbeats {
    paths: BTreeMap<PathId, watch::Sender<Option<Heartbeat>>>,
    /// Kept so that the channel stays open (and its branch quiet) without disk paths.
    _keep: mpsc::Sender<DiskBeat>,
}

struct PathTask {
    path: PathId,
    name: String,
    device: Arc<SlotDevice>,
    peers: Vec<(ServerId, String)>,
    interval: Duration,
    bound: Duration,
    publish: watch::Receiver<Option<Heartbeat>>,
    beats: mpsc::Sender<DiskBeat>,
    logger: Logger,
}

impl DiskHeartbeats {
    /// Starts a task for every disk path of server `me`. Must run inside the daemon's
    /// tokio runtime.
    pub fn start(
        cfg: &Config,
        me: ServerId,
        key: &SlotKey,
        logger: &Logger,
    ) -> (DiskHeartbeats, mpsc::Receiver<DiskBeat>) {
        let (tx, rx) = mpsc::channel(BEATS_BUFFERED);
        let mut paths = BTreeMap::new();
        for (i, hb) in cfg.heartbeats.iter().enumerate() {
            let HeartbeatKind::Disk { device } = &hb.kind else { continue };
            if !hb.servers.contains(&me) {
                continue;
            }
            let Ok(index) = u16::try_from(i) else { continue };
            let path = PathId(index);
            let (publish_tx, publish_rx) = watch::channel(None);
            let task = PathTask {
                path,
                name: hb.name.clone(),
                device: slot_device::shared(slot_spec(cfg, me, device), key.clone()),
                peers: hb.servers.iter().filter(|s| **s != me).map(|s| (*s, cfg.server(*s).name.clone())).collect(),
                interval: Duration::from_millis(cfg.cluster.heartbeat_interval_ms.max(1)),
                bound: Duration::from_millis(bound_ms(cfg, me, device)),
                publish: publish_rx,
                beats: tx.clone(),
                logger: logger.clone(),
            };
            logger.line(&format!(
                "disk heartbeat {}: slot {} of {} every {} ms, each I/O cycle bounded by {} ms",
                hb.name,
                me.0,
                device,
                task.interval.as_millis(),
                task.bound.as_millis()
            ));
            tokio::spawn(task.run());
            paths.insert(path, publish_tx);
        }
        (DiskHeartbeats { paths, _keep: tx }, rx)
    }

    /// Hands the node's heartbeat for a disk path to its task; `false` when `path` is not
    /// a disk path of this server (the transport's, then). The node sends the same
    /// heartbeat to every peer of the path: written once.
    pub fn publish(&self, path: PathId, hb: Heartbeat) -> bool {
        let Some(tx) = self.paths.get(&path) else { return false };
        tx.send_if_modified(|current| {
            if *current == Some(hb) {
                false
            } else {
                *current = Some(hb);
                true
            }
        });
        true
    }
}

impl PathTask {
    async fn run(mut self) {
        let mut tracks: BTreeMap<ServerId, PeerTrack> = BTreeMap::new();
        let mut own_failing = false;
        loop {
            let publish = tokio::select! {
                changed = self.publish.changed() => {
                    if changed.is_err() {
                        return; // the daemon ended
                    }
                    *self.publish.borrow_and_update()
                }
                () = tokio::time::sleep(self.interval) => None,
            };
            let cycle = self.device.cycle(publish, self.bound).await;
            match &cycle.own {
                OwnIo::Ok(_) => {
                    if own_failing {
                        own_failing = false;
                        self.logger.line(&format!("disk heartbeat {}: own slot I/O works again", self.name));
                    }
                }
                OwnIo::Failed { reason, .. } => {
                    if !own_failing {
                        own_failing = true;
                        self.logger.line(&format!("disk heartbeat {}: own slot I/O failed: {reason}", self.name));
                    }
                }
                OwnIo::Timeout(elapsed) => {
                    if !own_failing {
                        own_failing = true;
                        self.logger.line(&format!(
                            "disk heartbeat {}: own slot I/O not done within {} ms ({} ms)",
                            self.name,
                            self.bound.as_millis(),
                            elapsed.as_millis()
                        ));
                    }
                }
            }
            for (peer, _) in &self.peers {
                let Some(Ok(slot)) = cycle.peers.get(&peer.0) else { continue };
                let track = tracks.entry(*peer).or_default();
                match self.device.observe(track, slot) {
                    Seen::Advanced { beat: true } => {
                        let hb = Heartbeat { sent_ms: 0, ..slot.heartbeat };
                        if self.beats.send(DiskBeat { from: *peer, path: self.path, hb }).await.is_err() {
                            return;
                        }
                    }
                    Seen::Advanced { beat: false } | Seen::First | Seen::Unchanged | Seen::Stale => {}
                }
            }
            for (slot, why) in self.device.new_refusals() {
                let whose = self
                    .peers
                    .iter()
                    .find(|(s, _)| s.0 == slot)
                    .map_or_else(|| format!("slot {slot}"), |(_, n)| format!("{n}'s slot"));
                self.logger.line(&format!(
                    "disk heartbeat {}: {whose} refused ({}); counted, never taken for a live server",
                    self.name,
                    why.name()
                ));
            }
        }
    }
}
