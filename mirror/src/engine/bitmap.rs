//! The write-intent bitmap in use: which regions may differ between the two sides.
//!
//! In: writes starting and ending on regions, rebuild copies, clean points (a flush both
//! sides completed). Out: "this region's bit is durable" before a write to it proceeds,
//! the dirty regions a differential rebuild copies.
//!
//! A bit is set, durably, before the first write to its region (group commit: writers
//! arriving while a bitmap write is in flight wait for the next one, and a bit already
//! durable costs nothing). Bits are set whether or not the peer is connected: while
//! connected they are the activity log (the regions a crash may leave different, as
//! DRBD's activity log), while the peer is away the write-intent bitmap. A bit is
//! cleared only when its region has no write in flight and its last write completed
//! before a flush that both sides completed (`clear_clean`); a stale set bit only costs
//! a copy, so clearing is lazy.

use std::collections::HashMap;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::metadata::{MetaStore, BITMAP_BLOCK_BYTES};

const WORDS_PER_BLOCK: u64 = BITMAP_BLOCK_BYTES / 8;
/// Regions marked ahead of a sequential writer (4 MiB at 64 KiB regions, DRBD's
/// activity-log extent): one bitmap write per 4 MiB streamed instead of per region.
const SEQUENTIAL_AHEAD_REGIONS: u64 = 64;

/// A region's writes as the clearing rule needs them.
#[derive(Clone, Copy, Debug, Default)]
struct RegionUse {
    in_flight: u32,
    /// The flush epoch when its last write ended.
    last_epoch: u64,
}

struct State {
    /// What the engine wants (set before writes, cleared when clean).
    mem: Vec<u64>,
    /// What is on the metadata device.
    durable: Vec<u64>,
    /// Regions with a write in flight or a bit set since the map was loaded.
    uses: HashMap<u64, RegionUse>,
    persisting: bool,
    /// Incremented at every change of `mem`; `durable` holds `mem` as of `durable_version`.
    version: u64,
    durable_version: u64,
    set_count: u64,
    /// Incremented when a two-sided flush starts.
    epoch: u64,
}

/// The bitmap shared by the write paths and the rebuild.
pub struct DirtyMap {
    state: Mutex<State>,
    persisted: Condvar,
    regions: u64,
    region_bytes: u64,
}

impl DirtyMap {
    /// The map as the metadata device holds it.
    pub fn load(meta: &MetaStore) -> io::Result<DirtyMap> {
        let words = meta.read_bitmap()?;
        let set_count = words.iter().map(|w| u64::from(w.count_ones())).sum();
        let h = meta.header();
        Ok(DirtyMap {
            state: Mutex::new(State {
                mem: words.clone(),
                durable: words,
                uses: HashMap::new(),
                persisting: false,
                version: 0,
                durable_version: 0,
                set_count,
                epoch: 1,
            }),
            persisted: Condvar::new(),
            regions: h.regions(),
            region_bytes: u64::from(h.region_bytes),
        })
    }

    pub fn region_bytes(&self) -> u64 {
        self.region_bytes
    }

    pub fn regions(&self) -> u64 {
        self.regions
    }

    /// The regions `len` bytes at `offset` touch (`len > 0`, inside the volume).
    pub fn span(&self, offset: u64, len: u64) -> std::ops::RangeInclusive<u64> {
        let last = offset.saturating_add(len).saturating_sub(1);
        offset / self.region_bytes..=last / self.region_bytes
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write to `regions` starts: their bits are set and durable when this returns.
    pub fn begin_write(&self, meta: &Mutex<MetaStore>, regions: std::ops::RangeInclusive<u64>) -> io::Result<()> {
        let mut st = self.lock();
        for r in regions.clone() {
            st.uses.entry(r).or_default().in_flight += 1;
            set_bit(&mut st, r);
        }
        if regions.clone().all(|r| bit(&st.durable, r)) {
            return Ok(()); // the common case: a region written again costs nothing
        }
        // A sequential stream (the region before is dirty too) would pay one bitmap
        // write per new region: mark the next few ahead in the same write. A bit set
        // too many costs one region of copy at the next rebuild.
        let (first, last) = (*regions.start(), *regions.end());
        if first > 0 && bit(&st.mem, first - 1) {
            let ahead_end = last.saturating_add(SEQUENTIAL_AHEAD_REGIONS).min(self.regions - 1);
            let epoch = st.epoch;
            for r in last + 1..=ahead_end {
                set_bit(&mut st, r);
                // Clean like a written region once a flush of both sides passed.
                st.uses.entry(r).or_insert(RegionUse { in_flight: 0, last_epoch: epoch });
            }
        }
        let want = st.version;
        let r = self.persist_until(st, meta, want);
        if r.is_err() {
            self.end_write(regions);
        }
        r
    }

    /// A write to `regions` ended (acknowledged or failed).
    pub fn end_write(&self, regions: std::ops::RangeInclusive<u64>) {
        let mut st = self.lock();
        let epoch = st.epoch;
        for r in regions {
            let u = st.uses.entry(r).or_default();
            u.in_flight = u.in_flight.saturating_sub(1);
            u.last_epoch = epoch;
        }
    }

    /// A two-sided flush starts: returns its epoch for `clear_clean`.
    pub fn start_flush_epoch(&self) -> u64 {
        let mut st = self.lock();
        st.epoch += 1;
        st.epoch
    }

    /// Clears the bits of regions with no write in flight whose last write ended before
    /// the flush of `epoch` started (both sides hold them durably). Written lazily: the
    /// next bitmap write carries the cleared bits.
    pub fn clear_clean(&self, epoch: u64) {
        let mut st = self.lock();
        let clean: Vec<u64> =
            st.uses.iter().filter(|(_, u)| u.in_flight == 0 && u.last_epoch < epoch).map(|(r, _)| *r).collect();
        for r in clean {
            st.uses.remove(&r);
            if bit(&st.mem, r) {
                st.mem[(r / 64) as usize] &= !(1u64 << (r % 64));
                st.set_count -= 1;
                st.version += 1;
            }
        }
        // Bits loaded from disk without a use entry (an older break) are clean too once a
        // rebuild ends; the caller uses `clear_all_idle` for that.
    }

    /// Clears every bit whose region has no write in flight (a rebuild made the sides
    /// identical up to the flush of `epoch`), then writes the bitmap.
    pub fn clear_all_idle(&self, meta: &Mutex<MetaStore>, epoch: u64) -> io::Result<()> {
        let mut st = self.lock();
        let regions: Vec<u64> = iter_bits(&st.mem).collect();
        for r in regions {
            let busy = st.uses.get(&r).is_some_and(|u| u.in_flight > 0 || u.last_epoch >= epoch);
            if !busy {
                st.uses.remove(&r);
                st.mem[(r / 64) as usize] &= !(1u64 << (r % 64));
                st.set_count -= 1;
            }
        }
        st.version += 1;
        let want = st.version;
        self.persist_until(st, meta, want)
    }

    /// Bits set now.
    pub fn set_count(&self) -> u64 {
        self.lock().set_count
    }

    /// A copy of the bitmap.
    pub fn words(&self) -> Vec<u64> {
        self.lock().mem.clone()
    }

    /// Group commit: until the bitmap as of `version` is durable, either wait for the
    /// bitmap write in flight or write every changed block oneself.
    fn persist_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        meta: &Mutex<MetaStore>,
        version: u64,
    ) -> io::Result<()> {
        loop {
            if st.durable_version >= version {
                return Ok(());
            }
            if st.persisting {
                st = self.persisted.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            let snapshot = st.mem.clone();
            let snapshot_version = st.version;
            let blocks: Vec<u64> = changed_blocks(&st.durable, &snapshot);
            st.persisting = true;
            drop(st);
            let r = meta.lock().unwrap_or_else(|p| p.into_inner()).write_bitmap_blocks(&snapshot, &blocks);
            st = self.lock();
            st.persisting = false;
            if r.is_ok() {
                for b in &blocks {
                    let lo = (b * WORDS_PER_BLOCK) as usize;
                    let hi = (lo + WORDS_PER_BLOCK as usize).min(snapshot.len());
                    st.durable[lo..hi].copy_from_slice(&snapshot[lo..hi]);
                }
                st.durable_version = st.durable_version.max(snapshot_version);
            }
            self.persisted.notify_all();
            r?;
        }
    }
}

fn set_bit(st: &mut State, r: u64) {
    if !bit(&st.mem, r) {
        st.mem[(r / 64) as usize] |= 1u64 << (r % 64);
        st.set_count += 1;
        st.version += 1;
    }
}

fn bit(words: &[u64], r: u64) -> bool {
    words.get((r / 64) as usize).is_some_and(|w| w & (1u64 << (r % 64)) != 0)
}

/// The set regions of a bitmap, ascending.
pub fn iter_bits(words: &[u64]) -> impl Iterator<Item = u64> + '_ {
    words.iter().enumerate().flat_map(|(i, w)| {
        let mut w = *w;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let b = w.trailing_zeros();
            w &= w - 1;
            Some(i as u64 * 64 + u64::from(b))
        })
    })
}

fn changed_blocks(durable: &[u64], mem: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    for (i, (d, m)) in durable.iter().zip(mem).enumerate() {
        let blk = i as u64 / WORDS_PER_BLOCK;
        if d != m && out.last() != Some(&blk) {
            out.push(blk);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::metadata::{Header, DEFAULT_REGION_BYTES};
    use super::*;
    use baton_core::io::MirrorRecord;

    #[test]
    fn a_bit_is_durable_before_begin_write_returns_and_clears_only_when_clean() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta");
        let h = Header::new(1 << 30, DEFAULT_REGION_BYTES, MirrorRecord::Synced, 1);
        let meta = Mutex::new(MetaStore::create(&p, h).unwrap());
        let map = DirtyMap::load(&meta.lock().unwrap()).unwrap();
        let span = map.span(65536 * 3 + 100, 65536);
        assert_eq!(span, 3..=4);
        map.begin_write(&meta, span.clone()).unwrap();
        let on_disk: Vec<u64> = iter_bits(&MetaStore::open(&p).unwrap().read_bitmap().unwrap()).collect();
        assert_eq!(on_disk, vec![3, 4]);
        let e = map.start_flush_epoch();
        map.clear_clean(e);
        assert_eq!(map.set_count(), 2, "in flight: kept");
        map.end_write(span);
        map.clear_clean(e);
        assert_eq!(map.set_count(), 2, "ended after the flush started: kept");
        let e = map.start_flush_epoch();
        map.clear_clean(e);
        assert_eq!(map.set_count(), 0);
    }
}
