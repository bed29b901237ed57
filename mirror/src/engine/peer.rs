//! The active side's view of its peer: the links on each connect network (connected
//! and reconnected in the background), requests and their acknowledgements, the fence
//! that makes a retried frame safe, and what the peer's state says about copying.
//!
//! In: frames from the peer, link failures. Out: acknowledgements to the waiting writers
//! and rebuild, the peer's sync state (B104: behind until a rebuild), `links_up`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use baton_core::io::MirrorRecord;

use super::link::{self, Link, LinkRx};
use super::primary::Inner;
use super::protocol::{Frame, StateMsg, NONCE_BYTES};

/// What a waiter hears about its request.
#[derive(Debug)]
pub enum Reply {
    Ack(bool),
    Chunk {
        first_word: u64,
        words: Vec<u64>,
        last: bool,
    },
    /// The link the request went on closed: retry on another one, or the peer is away.
    LinkLost,
}

/// A request sent and not yet answered.
pub(crate) struct Ticket {
    link: Arc<Link>,
    rx: Receiver<Reply>,
}

pub(crate) struct Waiter {
    link: [u8; NONCE_BYTES],
    tx: SyncSender<Reply>,
}

/// Whether the peer holds every acknowledged write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerSync {
    /// It does, and every write waits for it (sync mode).
    Synced,
    /// It misses writes (B104) and needs a rebuild, full or from the bitmaps.
    Behind { full: bool },
}

/// Requests in flight, by id.
#[derive(Default)]
pub(crate) struct Pending {
    map: HashMap<u64, Waiter>,
}

impl Inner {
    /// The live links.
    pub(crate) fn live_links(&self) -> Vec<Arc<Link>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|l| l.is_alive()).cloned().collect()
    }

    pub(crate) fn peer_connected(&self) -> bool {
        !self.live_links().is_empty()
    }

    fn pick_link(&self) -> Option<Arc<Link>> {
        let live = self.live_links();
        if live.is_empty() {
            return None;
        }
        let i = self.rr.fetch_add(1, Ordering::Relaxed) % live.len();
        Some(live[i].clone())
    }

    /// A link closed: forget it, fence before the next request, and tell its waiters.
    pub(crate) fn drop_link(&self, dead: &Arc<Link>) {
        dead.close();
        self.fence_needed.store(true, Ordering::SeqCst);
        self.links.lock().unwrap_or_else(|p| p.into_inner()).retain(|l| !Arc::ptr_eq(l, dead));
        self.stats.links_up.store(self.live_links().len() as u64, Ordering::Relaxed);
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let lost: Vec<u64> = p.map.iter().filter(|(_, w)| w.link == dead.nonce).map(|(id, _)| *id).collect();
        for id in lost {
            if let Some(w) = p.map.remove(&id) {
                let _ = w.tx.try_send(Reply::LinkLost); // the waiter may have given up already
            }
        }
    }

    /// Sends a request made by `make(id)` and waits for its reply on whichever link
    /// works, fencing the peer first when a link was lost since the last fence. `None`:
    /// no link took it (the peer is away).
    pub(crate) fn request(&self, make: &dyn Fn(u64) -> Frame) -> Option<Reply> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.request_with_id(id, make)
    }

    /// Sends a request without waiting (the caller does its local part meanwhile).
    pub(crate) fn start_request(&self, make: &dyn Fn(u64) -> Frame) -> (u64, Option<Ticket>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if self.dead.load(Ordering::SeqCst) {
            return (id, None);
        }
        let Some(link) = self.pick_link() else { return (id, None) };
        if self.fence_needed.load(Ordering::SeqCst) && !self.fence(&link) {
            return (id, None); // `finish_request` retries on another link
        }
        let t = self.send_on(&link, id, &make(id), 1).map(|rx| Ticket { link, rx });
        (id, t)
    }

    /// Waits for a started request's reply, retrying it on the links left if its own
    /// failed. `None`: the peer is away.
    pub(crate) fn finish_request(&self, id: u64, t: Option<Ticket>, make: &dyn Fn(u64) -> Frame) -> Option<Reply> {
        if let Some(t) = t {
            match self.wait(&t.link, id, &t.rx) {
                Some(r @ (Reply::Ack(_) | Reply::Chunk { .. })) => return Some(r),
                Some(Reply::LinkLost) | None => {}
            }
        }
        self.request_with_id(id, make)
    }

    fn request_with_id(&self, id: u64, make: &dyn Fn(u64) -> Frame) -> Option<Reply> {
        loop {
            if self.dead.load(Ordering::SeqCst) {
                return None;
            }
            let link = self.pick_link()?;
            if self.fence_needed.load(Ordering::SeqCst) && !self.fence(&link) {
                continue;
            }
            let (rx, link) = match self.send_on(&link, id, &make(id), 1) {
                Some(rx) => (rx, link),
                None => continue,
            };
            match self.wait(&link, id, &rx) {
                Some(r @ (Reply::Ack(_) | Reply::Chunk { .. })) => return Some(r),
                Some(Reply::LinkLost) | None => continue,
            }
        }
    }

    /// Registers a waiter for `id` on `link` and sends the frame.
    pub(crate) fn send_on(&self, link: &Arc<Link>, id: u64, f: &Frame, depth: usize) -> Option<Receiver<Reply>> {
        let (tx, rx) = sync_channel(depth.max(1));
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).map.insert(id, Waiter { link: link.nonce, tx });
        // A link found dead after registering would never deliver `LinkLost`.
        if !link.is_alive() || link.send(f).is_err() {
            self.pending.lock().unwrap_or_else(|p| p.into_inner()).map.remove(&id);
            self.drop_link(link);
            return None;
        }
        Some(rx)
    }

    /// The next reply to `id`; a link silent for `dead_after_ms` is closed (`None`).
    pub(crate) fn wait(&self, link: &Arc<Link>, id: u64, rx: &Receiver<Reply>) -> Option<Reply> {
        match rx.recv_timeout(Duration::from_millis(self.cfg.dead_after_ms)) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).map.remove(&id);
                self.drop_link(link);
                None
            }
        }
    }

    /// Makes the peer stop applying frames from every link but the live ones before any
    /// request is sent again: a write retried here can then not be overtaken by its
    /// stale copy still queued on a dead link.
    fn fence(&self, link: &Arc<Link>) -> bool {
        let _one = self.fence_lock.lock().unwrap_or_else(|p| p.into_inner());
        if !self.fence_needed.load(Ordering::SeqCst) {
            return true;
        }
        let keep: Vec<[u8; NONCE_BYTES]> = self.live_links().iter().map(|l| l.nonce).collect();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Cleared before sending: a link lost while fencing sets it again.
        self.fence_needed.store(false, Ordering::SeqCst);
        let ok = self
            .send_on(link, id, &Frame::Fence { id, keep }, 1)
            .and_then(|rx| self.wait(link, id, &rx))
            .is_some_and(|r| matches!(r, Reply::Ack(true)));
        if !ok {
            self.fence_needed.store(true, Ordering::SeqCst);
        }
        ok
    }

    /// Delivers a frame from the peer to its waiter.
    fn deliver(&self, f: Frame) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match f {
            Frame::Ack { id, ok } => {
                if let Some(w) = p.map.remove(&id) {
                    let _ = w.tx.try_send(Reply::Ack(ok));
                }
            }
            Frame::BitmapChunk { id, first_word, words, last } => {
                // Never blocks while holding the pending lock: the channel has room for
                // every chunk of the largest bitmap (`peer_bitmap` sizes it); a waiter
                // gone or overflowed ends the request.
                let done = if let Some(w) = p.map.get(&id) {
                    w.tx.try_send(Reply::Chunk { first_word, words, last }).is_err() || last
                } else {
                    false
                };
                if done {
                    p.map.remove(&id);
                }
            }
            Frame::Ping
            | Frame::State(_)
            | Frame::Write { .. }
            | Frame::Rebuild { .. }
            | Frame::Flush { .. }
            | Frame::BitmapRequest { .. }
            | Frame::RebuildStart { .. }
            | Frame::RebuildDone { .. }
            | Frame::MarkBehind { .. }
            | Frame::Fence { .. } => {}
        }
    }

    /// Decides, from the peer's state on a new connection, whether it holds every
    /// acknowledged write or what it misses (generation identifiers, B104, B108).
    fn judge(&self, their: &StateMsg) -> PeerSync {
        let h = *self.meta.lock().unwrap_or_else(|p| p.into_inner()).header();
        let mine_clean = self.in_sync.load(Ordering::SeqCst) && self.dirty.set_count() == 0;
        let their_clean =
            matches!(their.record, MirrorRecord::Synced | MirrorRecord::Closed) && their.dirty_regions == 0;
        let full_due = matches!(their.record, MirrorRecord::Behind { full: true } | MirrorRecord::Lost);
        if full_due || (their.current_gen != h.current_gen && their.current_gen != h.bitmap_gen) {
            PeerSync::Behind { full: true }
        } else if their.current_gen == h.current_gen && mine_clean && their_clean {
            PeerSync::Synced
        } else {
            PeerSync::Behind { full: false }
        }
    }

    /// A link came up and the peer told its state: install it.
    fn install(self: &Arc<Self>, l: Arc<Link>, their: StateMsg) -> bool {
        let (size, region) = (self.size_bytes, self.dirty.region_bytes());
        if their.size_bytes != size || u64::from(their.region_bytes) != region {
            l.close(); // another volume: never replicate into it
            return false;
        }
        let first = self.live_links().is_empty();
        if first {
            let judged = self.judge(&their);
            let mut p = self.peer.lock().unwrap_or_else(|p| p.into_inner());
            *p = match (*p, judged) {
                (PeerSync::Behind { full: true }, PeerSync::Behind { .. } | PeerSync::Synced) => {
                    PeerSync::Behind { full: true }
                }
                (PeerSync::Behind { full: false } | PeerSync::Synced, j) => j,
            };
            if matches!(*p, PeerSync::Synced) {
                self.in_sync.store(true, Ordering::SeqCst);
            }
        }
        self.links.lock().unwrap_or_else(|p| p.into_inner()).push(l);
        self.stats.links_up.store(self.live_links().len() as u64, Ordering::Relaxed);
        self.peer_cv.notify_all();
        true
    }

    /// The peer's sync state now.
    pub fn peer_sync(&self) -> PeerSync {
        *self.peer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_peer_sync(&self, s: PeerSync) {
        *self.peer.lock().unwrap_or_else(|p| p.into_inner()) = s;
        self.peer_cv.notify_all();
    }
}

/// Keeps one link to `addr` up while the engine runs (and links are enabled).
pub(crate) fn spawn_connector(inner: Arc<Inner>, addr: SocketAddr) {
    std::thread::spawn(move || {
        let mut current: Option<Arc<Link>> = None;
        while !inner.stopped.load(Ordering::SeqCst) {
            let up = current.as_ref().is_some_and(|l| l.is_alive());
            if !up && inner.links_enabled.load(Ordering::SeqCst) {
                current = connect_once(&inner, addr);
            }
            std::thread::sleep(Duration::from_millis(inner.cfg.reconnect_ms.max(1)));
        }
        if let Some(l) = current {
            inner.drop_link(&l);
        }
    });
}

fn connect_once(inner: &Arc<Inner>, addr: SocketAddr) -> Option<Arc<Link>> {
    let (l, mut rx) = link::connect(addr, &inner.cfg.key, inner.cfg.dead_after_ms, &inner.stats).ok()?;
    // The secondary speaks first: its state.
    let their = match rx.recv() {
        Ok(Frame::State(s)) => s,
        Ok(_) | Err(_) => {
            l.close();
            return None;
        }
    };
    if !inner.install(l.clone(), their) {
        return None;
    }
    link::spawn_pinger(l.clone(), inner.cfg.ping_interval_ms);
    let (inner2, l2) = (inner.clone(), l.clone());
    std::thread::spawn(move || read_loop(inner2, l2, rx));
    // B104: a peer judged behind records it before anything else reaches it.
    if let PeerSync::Behind { full } = inner.peer_sync() {
        let _ = inner.request(&|id| Frame::MarkBehind { id, full }); // lost link: next connection retries
    }
    Some(l)
}

fn read_loop(inner: Arc<Inner>, l: Arc<Link>, mut rx: LinkRx) {
    while l.is_alive() {
        match rx.recv() {
            Ok(f) => inner.deliver(f),
            Err(_) => break,
        }
    }
    inner.drop_link(&l);
}
