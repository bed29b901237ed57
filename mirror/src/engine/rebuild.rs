//! The rebuild (B107–B110): a background copy from this side (the latest data) to the
//! peer, of the regions of both sides' bitmaps (differential) or of the whole device
//! (full), under a bandwidth limit, while the application keeps writing.
//!
//! In: a start request, the peer's bitmap, acknowledgements. Out: rebuild frames, the
//! progress (bytes done and total, rate, ETA) readable at any time, and at the end both
//! sides synced (the peer's record and generation, this side's bitmap cleared).
//!
//! A region being copied and an application write to it are ordered by the region
//! lock: the copy holds it from reading the source until the peer acknowledges, so a
//! write either lands before the copy reads (and the copy carries it) or after the peer
//! applied the copy (and the write's own frame carries it).

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_core::io::MirrorRecord;

use super::bitmap::iter_bits;
use super::peer::{PeerSync, Reply};
use super::primary::Inner;
use super::protocol::{Frame, BITMAP_CHUNK_WORDS, MAX_DATA_BYTES};

/// A rebuild's progress as status shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RebuildProgress {
    pub running: bool,
    pub full: bool,
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub rate_bytes_per_s: u64,
    /// `None` before a rate is known.
    pub eta_s: Option<u64>,
    /// The last rebuild's end: `Some(Ok)` done, `Some(Err(why))` failed (the next is full).
    pub outcome: Option<Result<(), String>>,
}

#[derive(Default)]
pub(crate) struct Progress {
    running: AtomicBool,
    full: AtomicBool,
    done_bytes: AtomicU64,
    total_bytes: AtomicU64,
    started: Mutex<Option<Instant>>,
    outcome: Mutex<Option<Result<(), String>>>,
}

impl Progress {
    pub fn snapshot(&self) -> RebuildProgress {
        let done = self.done_bytes.load(Ordering::Relaxed);
        let total = self.total_bytes.load(Ordering::Relaxed);
        let elapsed_ms = self.started.lock().unwrap_or_else(|p| p.into_inner()).map_or(0, |s| s.elapsed().as_millis());
        let rate = (u128::from(done) * 1000).checked_div(elapsed_ms).map_or(0, |r| r as u64);
        RebuildProgress {
            running: self.running.load(Ordering::SeqCst),
            full: self.full.load(Ordering::Relaxed),
            done_bytes: done,
            total_bytes: total,
            rate_bytes_per_s: rate,
            eta_s: (rate > 0).then(|| total.saturating_sub(done) / rate),
            outcome: self.outcome.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// Starts the copy on its own thread. Refused while one runs or the peer is away.
pub(crate) fn start(inner: Arc<Inner>, full: bool) -> io::Result<()> {
    if !inner.peer_connected() {
        return Err(io::Error::new(io::ErrorKind::NotConnected, "rebuild: the peer is not connected"));
    }
    if inner.progress.running.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, "rebuild: one is already running"));
    }
    let full = full || matches!(inner.peer_sync(), PeerSync::Behind { full: true });
    let p = &inner.progress;
    p.full.store(full, Ordering::Relaxed);
    p.done_bytes.store(0, Ordering::Relaxed);
    p.total_bytes.store(0, Ordering::Relaxed);
    *p.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    *p.outcome.lock().unwrap_or_else(|p| p.into_inner()) = None;
    std::thread::spawn(move || {
        let r = run(&inner, full);
        if r.is_err() {
            // B110: an interrupted rebuild is followed by a full one.
            inner.set_peer_sync(PeerSync::Behind { full: true });
        }
        *inner.progress.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(r.map_err(|e| e.to_string()));
        inner.progress.running.store(false, Ordering::SeqCst);
    });
    Ok(())
}

fn acked(r: Option<Reply>, what: &str) -> io::Result<()> {
    match r {
        Some(Reply::Ack(true)) => Ok(()),
        Some(Reply::Ack(false)) => Err(io::Error::other(format!("rebuild: the peer failed {what}"))),
        Some(Reply::Chunk { .. } | Reply::LinkLost) | None => {
            Err(io::Error::new(io::ErrorKind::NotConnected, format!("rebuild: the peer went away during {what}")))
        }
    }
}

/// The peer's bitmap, chunk by chunk.
fn peer_bitmap(inner: &Inner) -> io::Result<Vec<u64>> {
    let mut words = vec![0u64; inner.dirty.regions().div_ceil(64) as usize];
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let link = inner.live_links().into_iter().next().ok_or_else(|| io::Error::other("rebuild: no link"))?;
    let rx = inner
        .send_on(&link, id, &Frame::BitmapRequest { id }, words.len().div_ceil(BITMAP_CHUNK_WORDS) + 1)
        .ok_or_else(|| io::Error::other("rebuild: the link closed"))?;
    loop {
        match inner.wait(&link, id, &rx) {
            Some(Reply::Chunk { first_word, words: ws, last }) => {
                let at = usize::try_from(first_word).unwrap_or(usize::MAX);
                if at.checked_add(ws.len()).is_none_or(|end| end > words.len()) {
                    return Err(io::Error::other("rebuild: the peer's bitmap does not fit this volume"));
                }
                words[at..at + ws.len()].copy_from_slice(&ws);
                if last {
                    return Ok(words);
                }
            }
            Some(Reply::Ack(_) | Reply::LinkLost) | None => {
                return Err(io::Error::other("rebuild: no bitmap from the peer"));
            }
        }
    }
}

/// Runs of regions to copy: (first region, count), each at most one frame's data.
fn runs(inner: &Inner, full: bool, theirs: &[u64]) -> Vec<(u64, u64)> {
    let region = inner.dirty.region_bytes();
    let per_frame = (MAX_DATA_BYTES as u64 / region).max(1);
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut push = |r: u64| match out.last_mut() {
        Some((first, n)) if *first + *n == r && *n < per_frame => *n += 1,
        Some(_) | None => out.push((r, 1)),
    };
    if full {
        (0..inner.dirty.regions()).for_each(&mut push);
    } else {
        let mut mine = inner.dirty.words();
        for (m, t) in mine.iter_mut().zip(theirs) {
            *m |= *t;
        }
        iter_bits(&mine).for_each(&mut push);
    }
    out
}

fn run(inner: &Inner, full: bool) -> io::Result<()> {
    let theirs = if full { Vec::new() } else { peer_bitmap(inner)? };
    acked(inner.request(&|id| Frame::RebuildStart { id }), "recording the rebuild start")?;
    let todo = runs(inner, full, &theirs);
    let region = inner.dirty.region_bytes();
    let bytes_of = |(first, n): (u64, u64)| (first * region + n * region).min(inner.size_bytes) - first * region;
    let total: u64 = todo.iter().map(|r| bytes_of(*r)).sum();
    inner.progress.total_bytes.store(total, Ordering::Relaxed);
    let started = Instant::now();
    for (first, n) in todo {
        if inner.stopped.load(Ordering::SeqCst) {
            return Err(io::Error::other("rebuild: the engine stopped"));
        }
        throttle(inner, started);
        let offset = first * region;
        let len = bytes_of((first, n));
        let _guards = inner.lock_regions(first..=first + n - 1);
        let mut data = vec![0u8; len as usize];
        inner.data.read_exact_at(&mut data, offset)?;
        acked(inner.request(&|id| Frame::Rebuild { id, offset, data: data.clone() }), "a copy")?;
        inner.progress.done_bytes.fetch_add(len, Ordering::Relaxed);
    }
    finish(inner)
}

/// Waits so that the bytes done stay under the bandwidth limit.
fn throttle(inner: &Inner, started: Instant) {
    let Some(limit) = inner.cfg.rebuild_bytes_per_s.filter(|l| *l > 0) else { return };
    let done = inner.progress.done_bytes.load(Ordering::Relaxed);
    let due_ms = u128::from(done) * 1000 / u128::from(limit);
    let elapsed_ms = started.elapsed().as_millis();
    if due_ms > elapsed_ms {
        std::thread::sleep(Duration::from_millis((due_ms - elapsed_ms) as u64));
    }
}

/// Both sides synced: no write in flight meanwhile (every region lock held), the peer's
/// data flushed and recorded synced with this side's generation, then this side's
/// bitmap cleared and record synced.
fn finish(inner: &Inner) -> io::Result<()> {
    let _all = inner.lock_all();
    let epoch = inner.dirty.start_flush_epoch();
    acked(inner.request(&|id| Frame::Flush { id }), "the final flush")?;
    let gen = inner.meta.lock().unwrap_or_else(|p| p.into_inner()).header().current_gen;
    acked(inner.request(&|id| Frame::RebuildDone { id, current_gen: gen }), "recording the end")?;
    inner.dirty.clear_all_idle(&inner.meta, epoch)?;
    let mut m = inner.meta.lock().unwrap_or_else(|p| p.into_inner());
    let mut h = *m.header();
    h.record = MirrorRecord::Synced;
    h.bitmap_gen = 0;
    m.write_header(h)?;
    drop(m);
    inner.in_sync.store(true, Ordering::SeqCst);
    inner.set_peer_sync(PeerSync::Synced);
    Ok(())
}
