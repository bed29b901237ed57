//! The standby side: accepts the active side's links (one per connect network), applies
//! its writes and rebuild copies to the local data device, and keeps its own record.
//!
//! In: authenticated frames. Out: acknowledgements sent only once the data is in this
//! side's storage (`Write`, `Rebuild`) or on its stable storage (`Flush`, after
//! `fdatasync`); the record (behind during and after a rebuild's start, synced at its
//! end, B104/B110); this side's state and bitmap on request. Connections that fail the
//! handshake or send a refused frame are closed and counted.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use baton_core::io::MirrorRecord;

use super::link::{self, Link, LinkRx, WireStats};
use super::metadata::{Header, MetaStore};
use super::protocol::{Frame, StateMsg, BITMAP_CHUNK_WORDS, NONCE_BYTES};

/// What the standby side needs.
#[derive(Clone, Debug)]
pub struct SecondaryConfig {
    pub data: PathBuf,
    pub meta: PathBuf,
    pub key: Vec<u8>,
    pub dead_after_ms: u64,
    pub ping_interval_ms: u64,
}

impl SecondaryConfig {
    pub fn new(data: PathBuf, meta: PathBuf, key: Vec<u8>) -> SecondaryConfig {
        SecondaryConfig { data, meta, key, dead_after_ms: 3000, ping_interval_ms: 500 }
    }
}

struct Conn {
    link: Arc<Link>,
    /// Fenced by a newer request: apply nothing more from this connection.
    fenced: AtomicBool,
}

struct Inner {
    cfg: SecondaryConfig,
    data: File,
    meta: Mutex<MetaStore>,
    conns: Mutex<HashMap<[u8; NONCE_BYTES], Arc<Conn>>>,
    /// Applying a frame holds it shared; a fence takes it exclusively to wait for the
    /// fenced connections' applies in progress.
    gate: RwLock<()>,
    stats: Arc<WireStats>,
    stopped: AtomicBool,
    applied_writes: AtomicU64,
    /// Writes fail as on a dead disk (`fail_disk`, for tests of B116 on this side).
    disk_failed: AtomicBool,
    /// A write to the data device failed (B116: the daemon reports this side's disk error).
    disk_error: AtomicBool,
}

/// The standby side's engine; stops (closing every link) when dropped.
pub struct Secondary {
    inner: Arc<Inner>,
    addrs: Vec<SocketAddr>,
}

impl Secondary {
    /// Opens the side's devices and serves the listeners (one per connect network).
    pub fn start(cfg: SecondaryConfig, listeners: Vec<TcpListener>) -> io::Result<Secondary> {
        let meta = MetaStore::open(&cfg.meta)?;
        let data = super::metadata::open_data(&cfg.data)?;
        super::metadata::check_data_size(&data, &cfg.data, meta.header())?;
        let inner = Arc::new(Inner {
            cfg,
            data,
            meta: Mutex::new(meta),
            conns: Mutex::new(HashMap::new()),
            gate: RwLock::new(()),
            stats: Arc::new(WireStats::default()),
            stopped: AtomicBool::new(false),
            applied_writes: AtomicU64::new(0),
            disk_failed: AtomicBool::new(false),
            disk_error: AtomicBool::new(false),
        });
        let mut addrs = Vec::new();
        for l in listeners {
            addrs.push(l.local_addr()?);
            l.set_nonblocking(true)?;
            let inner = inner.clone();
            std::thread::spawn(move || accept_loop(inner, l));
        }
        Ok(Secondary { inner, addrs })
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn stats(&self) -> &WireStats {
        &self.inner.stats
    }

    pub fn header(&self) -> Header {
        *self.inner.meta.lock().unwrap_or_else(|p| p.into_inner()).header()
    }

    /// Writes and rebuild copies applied since start.
    pub fn applied_writes(&self) -> u64 {
        self.inner.applied_writes.load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> usize {
        self.inner.conns.lock().unwrap_or_else(|p| p.into_inner()).values().filter(|c| c.link.is_alive()).count()
    }

    /// A write to this side's data device failed since start (B116).
    pub fn disk_error(&self) -> bool {
        self.inner.disk_error.load(Ordering::SeqCst)
    }

    /// Makes every later write to the data device fail as an I/O error would: the
    /// tests' stand-in for a dying disk (this machine has no device-mapper to make one).
    pub fn fail_disk(&self) {
        self.inner.disk_failed.store(true, Ordering::SeqCst);
    }

    /// Stops serving and closes every link (a crash of this server looks the same to
    /// the active side).
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        for c in self.inner.conns.lock().unwrap_or_else(|p| p.into_inner()).values() {
            c.link.close();
        }
    }
}

impl Drop for Secondary {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(inner: Arc<Inner>, l: TcpListener) {
    while !inner.stopped.load(Ordering::SeqCst) {
        match l.accept() {
            Ok((s, _)) => {
                let inner = inner.clone();
                std::thread::spawn(move || {
                    if s.set_nonblocking(false).is_ok() {
                        serve(inner, s);
                    }
                });
            }
            // Polling keeps the loop stoppable without a wake-up connection.
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn state_of(inner: &Inner) -> StateMsg {
    let m = inner.meta.lock().unwrap_or_else(|p| p.into_inner());
    let h = *m.header();
    let dirty_regions = m.read_bitmap().map_or(u64::MAX, |w| w.iter().map(|x| u64::from(x.count_ones())).sum());
    StateMsg {
        size_bytes: h.size_bytes,
        region_bytes: h.region_bytes,
        record: h.record,
        current_gen: h.current_gen,
        bitmap_gen: h.bitmap_gen,
        dirty_regions,
    }
}

fn serve(inner: Arc<Inner>, s: std::net::TcpStream) {
    let Ok((l, mut rx)) = link::accept(s, &inner.cfg.key, inner.cfg.dead_after_ms, &inner.stats) else {
        return; // refused (counted) or closed during the handshake
    };
    let conn = Arc::new(Conn { link: l.clone(), fenced: AtomicBool::new(false) });
    inner.conns.lock().unwrap_or_else(|p| p.into_inner()).insert(l.nonce, conn.clone());
    if l.send(&Frame::State(state_of(&inner))).is_ok() {
        link::spawn_pinger(l.clone(), inner.cfg.ping_interval_ms);
        while l.is_alive() && !conn.fenced.load(Ordering::SeqCst) {
            let Ok(f) = recv(&mut rx) else { break };
            if handle(&inner, &conn, f).is_err() {
                break;
            }
        }
    }
    l.close();
    inner.conns.lock().unwrap_or_else(|p| p.into_inner()).remove(&l.nonce);
}

fn recv(rx: &mut LinkRx) -> io::Result<Frame> {
    rx.recv().map_err(io::Error::from)
}

fn ack(conn: &Conn, id: u64, ok: bool) -> io::Result<()> {
    conn.link.send(&Frame::Ack { id, ok })
}

fn handle(inner: &Inner, conn: &Conn, f: Frame) -> io::Result<()> {
    match f {
        Frame::Write { id, offset, data } | Frame::Rebuild { id, offset, data } => {
            let ok = apply(inner, conn, offset, &data)?;
            ack(conn, id, ok)
        }
        Frame::Flush { id } => ack(conn, id, inner.data.sync_data().is_ok()),
        Frame::BitmapRequest { id } => send_bitmap(inner, conn, id),
        Frame::RebuildStart { id } => ack(conn, id, set_record(inner, |_| MirrorRecord::Behind { full: true }).is_ok()),
        Frame::MarkBehind { id, full } => {
            let r = set_record(inner, |old| match old {
                MirrorRecord::Behind { full: was } => MirrorRecord::Behind { full: was || full },
                MirrorRecord::Synced
                | MirrorRecord::Closed
                | MirrorRecord::Ahead { .. }
                | MirrorRecord::Forced
                | MirrorRecord::Lost => MirrorRecord::Behind { full },
            });
            ack(conn, id, r.is_ok())
        }
        Frame::RebuildDone { id, current_gen } => ack(conn, id, rebuild_done(inner, current_gen).is_ok()),
        Frame::Fence { id, keep } => {
            fence(inner, conn, &keep);
            ack(conn, id, true)
        }
        Frame::Ping => Ok(()),
        Frame::Ack { .. } | Frame::State(_) | Frame::BitmapChunk { .. } => {
            Err(io::Error::new(io::ErrorKind::InvalidData, "a frame only the standby sends"))
        }
    }
}

/// Writes data at `offset` unless this connection was fenced. `Ok(false)`: a disk error
/// (the active side learns that this side failed, B116).
fn apply(inner: &Inner, conn: &Conn, offset: u64, data: &[u8]) -> io::Result<bool> {
    let size = inner.meta.lock().unwrap_or_else(|p| p.into_inner()).header().size_bytes;
    if offset.checked_add(data.len() as u64).is_none_or(|end| end > size) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "a write outside the volume"));
    }
    let _applying = inner.gate.read().unwrap_or_else(|p| p.into_inner());
    if conn.fenced.load(Ordering::SeqCst) {
        return Err(io::Error::other("fenced"));
    }
    let ok = !inner.disk_failed.load(Ordering::SeqCst) && inner.data.write_all_at(data, offset).is_ok();
    if !ok {
        inner.disk_error.store(true, Ordering::SeqCst);
    }
    inner.applied_writes.fetch_add(1, Ordering::Relaxed);
    Ok(ok)
}

/// Stops every connection not in `keep` (and not this one), and waits until none of
/// them is applying a frame.
fn fence(inner: &Inner, me: &Conn, keep: &[[u8; NONCE_BYTES]]) {
    for (n, c) in inner.conns.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if *n != me.link.nonce && !keep.contains(n) {
            c.fenced.store(true, Ordering::SeqCst);
            c.link.close();
        }
    }
    drop(inner.gate.write().unwrap_or_else(|p| p.into_inner()));
}

fn set_record(inner: &Inner, f: impl Fn(MirrorRecord) -> MirrorRecord) -> io::Result<()> {
    let mut m = inner.meta.lock().unwrap_or_else(|p| p.into_inner());
    let mut h = *m.header();
    let new = f(h.record);
    if new == h.record {
        return Ok(());
    }
    h.record = new;
    m.write_header(h)
}

/// The copy ended: the data is on stable storage, then the record says synced with the
/// source's generation and the bitmap (this side's old activity log) is clear.
fn rebuild_done(inner: &Inner, current_gen: u64) -> io::Result<()> {
    inner.data.sync_data()?;
    let mut m = inner.meta.lock().unwrap_or_else(|p| p.into_inner());
    let words = vec![0u64; m.header().regions().div_ceil(64) as usize];
    m.write_bitmap(&words)?;
    let mut h = *m.header();
    h.record = MirrorRecord::Synced;
    if h.current_gen != current_gen {
        h.new_generation(current_gen);
    }
    h.bitmap_gen = 0;
    m.write_header(h)
}

fn send_bitmap(inner: &Inner, conn: &Conn, id: u64) -> io::Result<()> {
    let words = inner.meta.lock().unwrap_or_else(|p| p.into_inner()).read_bitmap()?;
    let chunks: Vec<&[u64]> = words.chunks(BITMAP_CHUNK_WORDS).collect();
    if chunks.is_empty() {
        return conn.link.send(&Frame::BitmapChunk { id, first_word: 0, words: Vec::new(), last: true });
    }
    for (i, c) in chunks.iter().enumerate() {
        let first_word = (i * BITMAP_CHUNK_WORDS) as u64;
        conn.link.send(&Frame::BitmapChunk { id, first_word, words: c.to_vec(), last: i + 1 == chunks.len() })?;
    }
    Ok(())
}
