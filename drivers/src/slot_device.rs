//! The slots of one shared device, written and read with direct I/O under a deadline.
//!
//! In: a [`SlotDeviceSpec`] (the device, this server's slot index, how many slots, the
//! cluster id, the [`SlotKey`]); then cycles ([`SlotDevice::cycle`]), each with the core
//! heartbeat to publish (if a new one) and a time bound. Out: per cycle, how this
//! server's own slot I/O went ([`OwnIo`]: success and duration, or why not) and what
//! every other slot held (a valid [`Slot`] or the [`Reject`] reason, also counted).
//!
//! A cycle opens the device with `O_DIRECT | O_SYNC`, writes this server's slot (one
//! aligned 4 KiB block at `index × SLOT_BYTES`, counter advanced), then reads every slot
//! in one aligned read and checks that its own came back as written. The blocking calls
//! run on tokio's blocking pool; the caller's bound (`io_wait`) is a deadline for the
//! whole cycle, lock wait included: a cycle that has not finished by then is a failed
//! check ([`OwnIo::Timeout`]), and the I/O still stuck in the kernel keeps the device's
//! lock until it returns, so that stuck calls never pile up. The disk heartbeat and the
//! `disk` resolver on the same device share one [`SlotDevice`] ([`shared`]): one writer
//! of the slot, one counter.
//!
//! The counter and the beat continue from what the slot held at the first cycle (or
//! from the wall clock in ms when that is higher or the slot unreadable), so they keep
//! growing across daemon restarts and a peer never takes a restarted server's slot for
//! an old one.

use crate::disk_slot::{self, PeerTrack, Reject, Seen, Slot, SlotKey, SLOT_BYTES};
use baton_core::io::Heartbeat;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Which device and which slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotDeviceSpec {
    pub device: PathBuf,
    /// This server's slot (its index in `[[server]]` order).
    pub me: u16,
    /// Slots on the device (the number of servers of the cluster).
    pub slots: u16,
    pub cluster_id: u32,
}

/// How this server's own slot I/O went in one cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnIo {
    /// Written and read back, in this long.
    Ok(Duration),
    /// An I/O error, or the slot did not read back as written.
    Failed { elapsed: Duration, reason: String },
    /// Not finished within the bound.
    Timeout(Duration),
}

impl OwnIo {
    pub fn elapsed(&self) -> Duration {
        match self {
            OwnIo::Ok(d) | OwnIo::Timeout(d) | OwnIo::Failed { elapsed: d, .. } => *d,
        }
    }
}

/// One cycle's outcome. A cycle that finished, but past its bound, is a timeout that
/// still reports what it read (the peers' slots are as valid as ever; only this
/// server's own I/O was slow); one cut off by the bound read nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub own: OwnIo,
    /// Every other slot read (empty when the read did not happen).
    pub peers: BTreeMap<u16, Result<Slot, Reject>>,
}

/// What this server writes next.
#[derive(Debug, Default)]
struct Writer {
    /// The last counter and beat written; `None` before the first write.
    last: Option<(u64, u64)>,
    heartbeat: Option<Heartbeat>,
}

/// Counts of refused slots, per (slot index, reason); and of stale ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    pub rejected: BTreeMap<(u16, Reject), u64>,
    pub stale: BTreeMap<u16, u64>,
}

/// One shared device's slots (see the module doc).
#[derive(Debug)]
pub struct SlotDevice {
    spec: SlotDeviceSpec,
    key: SlotKey,
    writer: Arc<Mutex<Writer>>,
    /// Held for the whole blocking I/O, also past the caller's deadline.
    io: Arc<tokio::sync::Mutex<()>>,
    refusals: Mutex<Refusals>,
    /// The (slot, reason) pairs already reported by [`SlotDevice::new_refusals`].
    reported: Mutex<std::collections::BTreeSet<(u16, Reject)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A buffer of `len` bytes aligned to [`SLOT_BYTES`] (direct I/O needs the memory aligned
/// too), without unsafe code: an over-sized vector and the aligned window in it.
struct Aligned {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let buf = vec![0u8; len + SLOT_BYTES];
        let start = buf.as_ptr().align_offset(SLOT_BYTES);
        Aligned { buf, start, len }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

fn open(device: &PathBuf) -> Result<File, String> {
    let flags = rustix::fs::OFlags::DIRECT | rustix::fs::OFlags::SYNC;
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(device)
        .map_err(|e| format!("cannot open {} for direct I/O: {e}", device.display()))
}

/// The blocking part of a cycle. `Err`: the own slot I/O failed (with what was read).
fn blocking_cycle(
    spec: &SlotDeviceSpec,
    key: &SlotKey,
    writer: &Mutex<Writer>,
    publish: Option<Heartbeat>,
) -> (Result<(), String>, BTreeMap<u16, Result<Slot, Reject>>) {
    let mut peers = BTreeMap::new();
    let file = match open(&spec.device) {
        Ok(f) => f,
        Err(e) => return (Err(e), peers),
    };
    let total = usize::from(spec.slots) * SLOT_BYTES;
    let mut all = Aligned::new(total);
    let read_all = |all: &mut Aligned| -> Result<(), String> {
        file.read_exact_at(all.bytes_mut(), 0)
            .map_err(|e| format!("cannot read the slots of {}: {e}", spec.device.display()))
    };
    let own_at = usize::from(spec.me) * SLOT_BYTES;
    let mut w = lock(writer);
    if w.last.is_none() {
        // First cycle: continue the counters the slot already holds (restarts).
        if let Err(e) = read_all(&mut all) {
            return (Err(e), peers);
        }
        let held = disk_slot::decode(&all.bytes()[own_at..own_at + SLOT_BYTES], spec.me, spec.cluster_id, key);
        let base = now_ms();
        w.last = Some(match held {
            Ok(s) => (s.counter.max(base), s.beat.max(base)),
            Err(_) => (base, base),
        });
    }
    let (counter, beat) = w.last.unwrap_or((0, 0));
    let counter = counter.saturating_add(1);
    let beat = match publish {
        Some(hb) => {
            w.heartbeat = Some(hb);
            beat.saturating_add(1)
        }
        None => beat,
    };
    let heartbeat = w.heartbeat.unwrap_or(Heartbeat {
        run: 0,
        state: baton_core::io::ServerState::Syncing,
        version: 0,
        sent_ms: 0,
    });
    // Before the first core heartbeat the beat stays at its base: a reader takes a
    // heartbeat only from an advance of the beat (PeerTrack::observe).
    let slot = Slot { cluster_id: spec.cluster_id, server: spec.me, counter, written_ms: now_ms(), beat, heartbeat };
    let mut block = Aligned::new(SLOT_BYTES);
    disk_slot::encode(&slot, key, block.bytes_mut());
    if let Err(e) = file.write_all_at(block.bytes(), own_at as u64) {
        return (Err(format!("cannot write slot {} of {}: {e}", spec.me, spec.device.display())), peers);
    }
    w.last = Some((counter, beat));
    drop(w);
    if let Err(e) = read_all(&mut all) {
        return (Err(e), peers);
    }
    let bytes = all.bytes();
    let mut own = Ok(());
    for i in 0..spec.slots {
        let at = usize::from(i) * SLOT_BYTES;
        let read = disk_slot::decode(&bytes[at..at + SLOT_BYTES], i, spec.cluster_id, key);
        if i == spec.me {
            if read != Ok(slot) {
                own = Err(format!("slot {i} of {} did not read back as written ({read:?})", spec.device.display()));
            }
        } else {
            peers.insert(i, read);
        }
    }
    (own, peers)
}

impl SlotDevice {
    pub fn new(spec: SlotDeviceSpec, key: SlotKey) -> SlotDevice {
        SlotDevice {
            spec,
            key,
            writer: Arc::new(Mutex::new(Writer::default())),
            io: Arc::new(tokio::sync::Mutex::new(())),
            refusals: Mutex::new(Refusals::default()),
            reported: Mutex::new(std::collections::BTreeSet::new()),
        }
    }

    pub fn spec(&self) -> &SlotDeviceSpec {
        &self.spec
    }

    /// Writes this server's slot (with `publish` as its new core heartbeat, if any) and
    /// reads the others, all within `bound` (see the module doc).
    pub async fn cycle(&self, publish: Option<Heartbeat>, bound: Duration) -> Cycle {
        let started = Instant::now();
        let io = Arc::clone(&self.io);
        let spec = self.spec.clone();
        let key = self.key.clone();
        let writer = Arc::clone(&self.writer);
        let work = async move {
            let guard = io.lock_owned().await;
            tokio::task::spawn_blocking(move || {
                let out = blocking_cycle(&spec, &key, &writer, publish);
                drop(guard);
                out
            })
            .await
        };
        let cycle = match tokio::time::timeout(bound, work).await {
            Err(_) => Cycle { own: OwnIo::Timeout(started.elapsed()), peers: BTreeMap::new() },
            Ok(Err(join)) => Cycle {
                own: OwnIo::Failed { elapsed: started.elapsed(), reason: format!("the I/O thread failed: {join}") },
                peers: BTreeMap::new(),
            },
            Ok(Ok((own, peers))) => {
                let elapsed = started.elapsed();
                let own = match own {
                    Ok(()) if elapsed > bound => OwnIo::Timeout(elapsed),
                    Ok(()) => OwnIo::Ok(elapsed),
                    Err(reason) => OwnIo::Failed { elapsed, reason },
                };
                Cycle { own, peers }
            }
        };
        let mut r = lock(&self.refusals);
        for (i, read) in &cycle.peers {
            if let Err(why) = read {
                // An empty slot is a server that never wrote, not an attack: not counted.
                if *why != Reject::Empty {
                    *r.rejected.entry((*i, *why)).or_default() += 1;
                }
            }
        }
        cycle
    }

    /// Takes a valid slot into a consumer's track of that peer; counts it when stale.
    pub fn observe(&self, track: &mut PeerTrack, slot: &Slot) -> Seen {
        let seen = track.observe(slot);
        if seen == Seen::Stale {
            *lock(&self.refusals).stale.entry(slot.server).or_default() += 1;
        }
        seen
    }

    /// The (slot, reason) pairs refused since the last call for the first time, so that
    /// a log says once that a slot is refused and why (the counts go on in [`Self::refusals`]).
    pub fn new_refusals(&self) -> Vec<(u16, Reject)> {
        let counted: Vec<(u16, Reject)> = lock(&self.refusals).rejected.keys().copied().collect();
        let mut reported = lock(&self.reported);
        counted.into_iter().filter(|k| reported.insert(*k)).collect()
    }

    /// The refusals counted so far.
    pub fn refusals(&self) -> Refusals {
        lock(&self.refusals).clone()
    }
}

/// The devices in use in this process, so that the heartbeat and the resolver of one
/// device share one writer.
static SHARED: Mutex<Vec<Weak<SlotDevice>>> = Mutex::new(Vec::new());

/// Every [`SlotDevice`] of this process still in use (for the status's counters).
pub fn in_use() -> Vec<Arc<SlotDevice>> {
    lock(&SHARED).iter().filter_map(Weak::upgrade).collect()
}

/// The [`SlotDevice`] of `spec`, shared with every other user of the same spec in this
/// process (the key must be the same: one cluster, one secret).
/// The device path is made canonical first (when it exists): two names of one device
/// (`/dev/sdc1`, `/dev/disk/by-id/…`) must not become two writers of one slot, each with
/// its own counter, which the peers would read as going back (stale) half the time.
pub fn shared(spec: SlotDeviceSpec, key: SlotKey) -> Arc<SlotDevice> {
    let spec = SlotDeviceSpec { device: std::fs::canonicalize(&spec.device).unwrap_or(spec.device), ..spec };
    let mut all = lock(&SHARED);
    all.retain(|w| w.strong_count() > 0);
    if let Some(found) = all.iter().filter_map(Weak::upgrade).find(|d| d.spec == spec) {
        return found;
    }
    let device = Arc::new(SlotDevice::new(spec, key));
    all.push(Arc::downgrade(&device));
    device
}
