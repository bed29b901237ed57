//! A crash in the middle of a metadata update leaves a readable record (issue 10): the
//! header copy being written is torn at every byte boundary in turn, and the engine
//! still opens the side with the record of the last complete update.

mod common;

use std::os::unix::fs::FileExt;

use baton_core::io::MirrorRecord;
use baton_mirror::engine::metadata::{MetaStore, SLOT_BYTES};
use baton_mirror::engine::Primary;
use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 4 << 20;

#[test]
fn a_header_update_torn_anywhere_leaves_the_last_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let a = side(dir.path(), "a", SIZE, 1);
    // A break recorded by the engine itself: written without any peer.
    let p = primary(&a, KEY, Vec::new());
    p.write_at(&block(1, 4096), 0).unwrap();
    drop(p);
    let m = MetaStore::open(&a.meta).unwrap();
    let last = *m.header();
    assert!(matches!(last.record, MirrorRecord::Ahead { .. }));
    let mut next = last;
    next.record = MirrorRecord::Synced;
    // The next update's bytes, as a scratch copy of the store shows them.
    let scratch = dir.path().join("scratch.meta");
    std::fs::copy(&a.meta, &scratch).unwrap();
    let mut s = MetaStore::open(&scratch).unwrap();
    s.write_header(next).unwrap();
    let slot = (last.seq + 1) % 2;
    let f = std::fs::File::open(&scratch).unwrap();
    let mut full = vec![0u8; 112];
    f.read_exact_at(&mut full, slot * SLOT_BYTES).unwrap();
    let meta = std::fs::OpenOptions::new().write(true).open(&a.meta).unwrap();
    let mut old = vec![0u8; 112];
    std::fs::File::open(&a.meta).unwrap().read_exact_at(&mut old, slot * SLOT_BYTES).unwrap();
    for cut in 0..112 {
        // Torn: the new update's first `cut` bytes over the old copy's.
        let mut torn = old.clone();
        torn[..cut].copy_from_slice(&full[..cut]);
        meta.write_all_at(&torn, slot * SLOT_BYTES).unwrap();
        let h = *MetaStore::open(&a.meta).unwrap().header();
        assert_eq!(h, last, "torn at byte {cut}");
    }
    // Complete, the update wins; and the engine opens on it.
    meta.write_all_at(&full, slot * SLOT_BYTES).unwrap();
    assert_eq!(MetaStore::open(&a.meta).unwrap().header().record, MirrorRecord::Synced);
    let p = Primary::open(primary_cfg(&a, KEY, Vec::new())).unwrap();
    assert_eq!(p.status().record, MirrorRecord::Synced);
}
