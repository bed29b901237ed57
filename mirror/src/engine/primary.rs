//! The active side: a [`Volume`] whose writes go to the local data device and to the
//! peer at once, acknowledged as the mode promises (B101).
//!
//! In: reads, writes and flushes from a front end; the peer's acknowledgements. Out:
//! data, acknowledgements, the side's record and generations kept durable (a write the
//! peer did not take makes this side ahead, B102/B103, before it is acknowledged), and a
//! status (links, peer sync, async lag, rebuild progress).
//!
//! Concurrency: writes to different regions proceed in parallel; writes to the same
//! region (and a rebuild copy of it) are ordered by a striped lock held until both sides
//! have it, so the two sides apply them in the same order.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use baton_core::io::MirrorRecord;

use super::asyncq::AsyncQueue;
use super::bitmap::DirtyMap;
use super::link::{Link, WireStats};
use super::metadata::{new_generation_id, MetaStore};
use super::peer::{spawn_connector, PeerSync, Pending, Reply};
use super::protocol::Frame;
use super::rebuild::Progress;
use crate::Volume;

/// Stripes of the region lock: enough that a queue depth of 32 rarely collides.
const STRIPES: usize = 1024;
/// Bits the activity log keeps set while connected before a flush clears clean ones.
const HOT_REGIONS_LIMIT: u64 = 4096;

/// B101.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A write returns once both sides hold it; a flush once both synced it.
    Sync,
    /// A write returns once this side holds it; the peer gets it within a bounded lag.
    Async,
}

/// What the active side needs.
#[derive(Clone, Debug)]
pub struct PrimaryConfig {
    pub data: PathBuf,
    pub meta: PathBuf,
    /// The peer's address on each mirror connect network (at most two, B102).
    pub peers: Vec<SocketAddr>,
    /// Derived from the cluster secret by the caller.
    pub key: Vec<u8>,
    pub mode: Mode,
    /// A link silent (no frame, no ping) this long is closed.
    pub dead_after_ms: u64,
    pub ping_interval_ms: u64,
    pub reconnect_ms: u64,
    /// Async mode: the most unsent bytes before writers wait.
    pub async_max_lag_bytes: u64,
    /// Rebuild bandwidth limit (`None`: as fast as the link goes).
    pub rebuild_bytes_per_s: Option<u64>,
}

impl PrimaryConfig {
    /// Defaults for everything but the paths, peers and key.
    pub fn new(data: PathBuf, meta: PathBuf, peers: Vec<SocketAddr>, key: Vec<u8>) -> PrimaryConfig {
        PrimaryConfig {
            data,
            meta,
            peers,
            key,
            mode: Mode::Sync,
            dead_after_ms: 3000,
            ping_interval_ms: 500,
            reconnect_ms: 200,
            async_max_lag_bytes: 64 << 20,
            rebuild_bytes_per_s: None,
        }
    }
}

pub(crate) struct Inner {
    pub cfg: PrimaryConfig,
    pub data: File,
    pub size_bytes: u64,
    pub meta: Mutex<MetaStore>,
    pub dirty: DirtyMap,
    stripes: Vec<Mutex<()>>,
    pub links: Mutex<Vec<Arc<Link>>>,
    pub rr: AtomicUsize,
    pub pending: Mutex<Pending>,
    pub next_id: AtomicU64,
    pub peer: Mutex<PeerSync>,
    pub peer_cv: Condvar,
    /// The peer holds every acknowledged write (no break since the last sync).
    pub in_sync: AtomicBool,
    pub fence_needed: AtomicBool,
    pub fence_lock: Mutex<()>,
    /// Crashed (a test's kill): nothing is acknowledged any more.
    pub dead: AtomicBool,
    pub stopped: AtomicBool,
    pub links_enabled: AtomicBool,
    pub stats: Arc<WireStats>,
    pub progress: Progress,
    pub asyncq: AsyncQueue,
}

/// The active side's engine.
pub struct Primary {
    inner: Arc<Inner>,
}

/// What the engine shows (status, monitors).
#[derive(Clone, Debug)]
pub struct PrimaryStatus {
    pub record: MirrorRecord,
    pub current_gen: u64,
    pub links_up: u64,
    pub peer: PeerSync,
    pub dirty_regions: u64,
    /// Async mode: writes acknowledged here and not yet acknowledged by the peer.
    pub lag_bytes: u64,
    pub lag_writes: u64,
    pub rebuild: super::rebuild::RebuildProgress,
    pub refused_frames: u64,
    pub sent_bytes: u64,
    pub rebuild_sent_bytes: u64,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Primary {
    /// Opens the side's devices (metadata must exist: `baton mirror init`) and starts
    /// connecting to the peer.
    pub fn open(cfg: PrimaryConfig) -> io::Result<Primary> {
        let meta = MetaStore::open(&cfg.meta)?;
        let data = super::metadata::open_data(&cfg.data)?;
        let h = *meta.header();
        super::metadata::check_data_size(&data, &cfg.data, &h)?;
        let dirty = DirtyMap::load(&meta)?;
        let clean = matches!(h.record, MirrorRecord::Synced | MirrorRecord::Closed);
        let inner = Arc::new(Inner {
            size_bytes: h.size_bytes,
            data,
            dirty,
            meta: Mutex::new(meta),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            links: Mutex::new(Vec::new()),
            rr: AtomicUsize::new(0),
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(1),
            peer: Mutex::new(if clean { PeerSync::Synced } else { PeerSync::Behind { full: false } }),
            peer_cv: Condvar::new(),
            in_sync: AtomicBool::new(clean),
            fence_needed: AtomicBool::new(true),
            fence_lock: Mutex::new(()),
            dead: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            links_enabled: AtomicBool::new(true),
            stats: Arc::new(WireStats::default()),
            progress: Progress::default(),
            asyncq: AsyncQueue::new(cfg.async_max_lag_bytes),
            cfg,
        });
        for a in inner.cfg.peers.clone() {
            spawn_connector(inner.clone(), a);
        }
        if inner.cfg.mode == Mode::Async {
            super::asyncq::spawn_sender(inner.clone());
        }
        Ok(Primary { inner })
    }

    pub fn status(&self) -> PrimaryStatus {
        let i = &self.inner;
        let h = *i.meta.lock().unwrap_or_else(|p| p.into_inner()).header();
        let (lag_bytes, lag_writes) = i.asyncq.lag();
        PrimaryStatus {
            record: h.record,
            current_gen: h.current_gen,
            links_up: i.live_links().len() as u64,
            peer: i.peer_sync(),
            dirty_regions: i.dirty.set_count(),
            lag_bytes,
            lag_writes,
            rebuild: i.progress.snapshot(),
            refused_frames: WireStats::get(&i.stats.refused),
            sent_bytes: WireStats::get(&i.stats.sent_bytes),
            rebuild_sent_bytes: WireStats::get(&i.stats.rebuild_sent_bytes),
        }
    }

    /// Starts a rebuild toward the peer (B107, B108): full when asked or when the
    /// generations say so, else the union of both sides' bitmaps.
    pub fn start_rebuild(&self, full: bool) -> io::Result<()> {
        super::rebuild::start(self.inner.clone(), full)
    }

    /// A clean stop: no write in flight, both sides flushed, and (when the peer holds
    /// every write) the activity log cleared, so that the next start on either side
    /// finds nothing to copy. Then every link closes.
    pub fn close(&self) -> io::Result<()> {
        let i = &self.inner;
        i.check_alive()?;
        // Async: what the application was told is written goes to the peer first
        // (bounded: a peer that stops answering closes its links within `dead_after_ms`).
        while i.asyncq.lag().1 > 0 && i.peer_connected() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let all = i.lock_all();
        let epoch = i.dirty.start_flush_epoch();
        i.data.sync_data()?;
        let synced = i.in_sync.load(Ordering::SeqCst) && i.peer_sync() == PeerSync::Synced;
        if synced && matches!(i.request(&|id| Frame::Flush { id }), Some(Reply::Ack(true))) {
            i.dirty.clear_all_idle(&i.meta, epoch)?;
        }
        drop(all);
        self.shutdown_links();
        Ok(())
    }

    /// A test's crash of this server: from now on nothing is acknowledged, and every
    /// link closes at once (what the peer sees when the server dies).
    pub fn crash(&self) {
        self.inner.dead.store(true, Ordering::SeqCst);
        self.shutdown_links();
    }

    /// Cuts (`false`) or restores the connect networks as seen from this side.
    pub fn set_links_enabled(&self, on: bool) {
        self.inner.links_enabled.store(on, Ordering::SeqCst);
        if !on {
            for l in self.inner.live_links() {
                self.inner.drop_link(&l);
            }
        }
    }

    fn shutdown_links(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.set_links_enabled(false);
    }
}

impl Drop for Primary {
    fn drop(&mut self) {
        self.shutdown_links();
    }
}

impl Inner {
    /// Locks the stripes of `regions` in ascending order (one global order: no deadlock).
    pub(crate) fn lock_regions(&self, regions: std::ops::RangeInclusive<u64>) -> Vec<MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> = regions.map(|r| (r % STRIPES as u64) as usize).collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| self.stripes[i].lock().unwrap_or_else(|p| p.into_inner())).collect()
    }

    /// Every stripe: no write is in flight while the guards live.
    pub(crate) fn lock_all(&self) -> Vec<MutexGuard<'_, ()>> {
        self.stripes.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner())).collect()
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(io::Error::other("mirror engine stopped (crashed)"));
        }
        Ok(())
    }

    fn check_range(&self, offset: u64, len: usize) -> io::Result<()> {
        let end = offset.checked_add(len as u64);
        if len == 0 || end.is_none_or(|e| e > self.size_bytes) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{len} bytes at {offset} outside the volume of {} bytes", self.size_bytes),
            ));
        }
        Ok(())
    }

    /// This side wrote without its peer (B102, B103): a new generation, the bitmap
    /// counting from the old one, the record ahead; durable before the write that
    /// caused it is acknowledged. Later writes only stamp the last update time once.
    pub(crate) fn note_unreplicated(&self) -> io::Result<()> {
        // A crashed engine writes nothing more (a dead process would not either).
        self.check_alive()?;
        let was_in_sync = self.in_sync.swap(false, Ordering::SeqCst);
        let mut m = self.meta.lock().unwrap_or_else(|p| p.into_inner());
        let mut h = *m.header();
        let now = now_ms();
        if was_in_sync || matches!(h.record, MirrorRecord::Synced | MirrorRecord::Closed) {
            if h.bitmap_gen == 0 {
                h.bitmap_gen = h.current_gen;
            }
            h.new_generation(new_generation_id()?);
            h.record = MirrorRecord::Ahead { break_ms: now, updated_ms: Some(now) };
        } else if let MirrorRecord::Ahead { break_ms, updated_ms: None } = h.record {
            h.record = MirrorRecord::Ahead { break_ms, updated_ms: Some(now) };
        } else {
            return Ok(()); // already ahead with a last update time, behind-forced, ...
        }
        m.write_header(h)?;
        drop(m);
        let mut p = self.peer.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*p, PeerSync::Synced) {
            *p = PeerSync::Behind { full: false };
        }
        Ok(())
    }

    fn write(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.check_alive()?;
        self.check_range(offset, data.len())?;
        let span = self.dirty.span(offset, data.len() as u64);
        let _guards = self.lock_regions(span.clone());
        self.dirty.begin_write(&self.meta, span.clone())?;
        let r = match self.cfg.mode {
            Mode::Sync => self.write_sync(data, offset),
            Mode::Async => self.write_async(data, offset, span.clone()),
        };
        match self.cfg.mode {
            Mode::Sync => self.dirty.end_write(span),
            Mode::Async => {} // `write_async` or the queue ends it
        }
        r?;
        self.check_alive()
    }

    fn write_sync(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let make = |id| Frame::Write { id, offset, data: data.to_vec() };
        // The peer's copy travels while the local one is written.
        let (id, ticket) = self.start_request(&make);
        let local = self.data.write_all_at(data, offset);
        let remote = self.finish_request(id, ticket, &make);
        local?; // B116: the caller turns a data device error into the side's disk error
        let peer_has_it = matches!(remote, Some(Reply::Ack(true)));
        if !peer_has_it {
            self.note_unreplicated()?;
        }
        Ok(())
    }

    fn write_async(&self, data: &[u8], offset: u64, span: std::ops::RangeInclusive<u64>) -> io::Result<()> {
        if let Err(e) = self.data.write_all_at(data, offset) {
            self.dirty.end_write(span);
            return Err(e);
        }
        let queued = self.peer_connected() && self.asyncq.push(self, offset, data.to_vec(), span.clone());
        if !queued {
            // Not queued: the write ends here (a queued one ends when the peer has it).
            self.dirty.end_write(span);
            self.note_unreplicated()?;
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        self.check_alive()?;
        let epoch = self.dirty.start_flush_epoch();
        if self.cfg.mode == Mode::Async {
            return self.data.sync_data().and_then(|()| self.check_alive());
        }
        let make = |id| Frame::Flush { id };
        let (id, ticket) = self.start_request(&make);
        let local = self.data.sync_data();
        let remote = self.finish_request(id, ticket, &make);
        local?;
        let peer_synced = matches!(remote, Some(Reply::Ack(true)));
        if !peer_synced && self.in_sync.load(Ordering::SeqCst) {
            // Writes the peer acknowledged may not be on its stable storage: from now on
            // this side alone holds them for sure.
            self.note_unreplicated()?;
        }
        if peer_synced && self.in_sync.load(Ordering::SeqCst) && self.dirty.set_count() > HOT_REGIONS_LIMIT {
            self.dirty.clear_clean(epoch);
        }
        self.check_alive()
    }
}

impl Volume for Primary {
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.check_alive()?;
        self.inner.check_range(offset, buf.len())?;
        self.inner.data.read_exact_at(buf, offset)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write(data, offset)
    }

    fn flush(&self) -> io::Result<()> {
        self.inner.flush()
    }
}
