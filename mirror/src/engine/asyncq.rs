//! Async mode (B101): writes acknowledged locally wait here, in order, for the peer.
//!
//! In: writes the application was told are done. Out: the same writes to the peer in
//! order, one sender; the lag (bytes and writes not yet acknowledged by the peer),
//! bounded: a writer waits while the lag is full. What a crash of this side loses is
//! exactly the lag; the bitmap still covers those regions (their bits stay set until
//! the peer has them), so the next rebuild copies them.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::peer::Reply;
use super::primary::Inner;
use super::protocol::Frame;

struct Entry {
    offset: u64,
    data: Vec<u8>,
    span: RangeInclusive<u64>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Entry>,
    /// Queued plus the one being sent.
    lag_bytes: u64,
    lag_writes: u64,
}

pub(crate) struct AsyncQueue {
    st: Mutex<State>,
    cv: Condvar,
    max_lag_bytes: u64,
}

impl AsyncQueue {
    pub fn new(max_lag_bytes: u64) -> AsyncQueue {
        AsyncQueue { st: Mutex::new(State::default()), cv: Condvar::new(), max_lag_bytes: max_lag_bytes.max(1) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (bytes, writes) acknowledged here and not yet by the peer.
    pub fn lag(&self) -> (u64, u64) {
        let st = self.lock();
        (st.lag_bytes, st.lag_writes)
    }

    /// Queues a write, waiting while the lag is full. `false`: not queued (engine
    /// stopped), the write is this side's alone.
    pub fn push(&self, inner: &Inner, offset: u64, data: Vec<u8>, span: RangeInclusive<u64>) -> bool {
        let len = data.len() as u64;
        let mut st = self.lock();
        while st.lag_bytes > 0 && st.lag_bytes + len > self.max_lag_bytes {
            if inner.stopped.load(Ordering::SeqCst) {
                return false;
            }
            st = self.cv.wait_timeout(st, Duration::from_millis(100)).unwrap_or_else(|p| p.into_inner()).0;
        }
        st.lag_bytes += len;
        st.lag_writes += 1;
        st.queue.push_back(Entry { offset, data, span });
        self.cv.notify_all();
        true
    }

    fn done(&self, inner: &Inner, e: &Entry) {
        inner.dirty.end_write(e.span.clone());
        let mut st = self.lock();
        st.lag_bytes -= e.data.len() as u64;
        st.lag_writes -= 1;
        self.cv.notify_all();
    }
}

/// The one sender: takes writes in order and sends each until the peer acknowledges
/// it; when the peer is away, the queued writes become this side's alone (a break).
pub(crate) fn spawn_sender(inner: Arc<Inner>) {
    std::thread::spawn(move || loop {
        let entry = {
            let q = &inner.asyncq;
            let mut st = q.lock();
            loop {
                if inner.stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(e) = st.queue.pop_front() {
                    break e;
                }
                st = q.cv.wait_timeout(st, Duration::from_millis(100)).unwrap_or_else(|p| p.into_inner()).0;
            }
        };
        let (offset, data) = (entry.offset, &entry.data);
        let r = inner.request(&|id| Frame::Write { id, offset, data: data.clone() });
        if !matches!(r, Some(Reply::Ack(true))) && !inner.stopped.load(Ordering::SeqCst) {
            let _ = inner.note_unreplicated(); // a metadata error surfaces at the next write
        }
        inner.asyncq.done(&inner, &entry);
    });
}
