//! The replicated volume over real TCP on 127.0.0.1 with file-backed devices: sync
//! writes on both sides before they return, concurrent writers, two connect networks
//! (losing one is not a break, B102), a break recorded before the write is acknowledged
//! (B103), async lag bounded and visible.

mod common;

use std::sync::Arc;

use baton_core::io::MirrorRecord;
use baton_mirror::engine::{Mode, PeerSync, Primary};
use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 16 << 20;

#[test]
fn a_sync_write_is_on_the_peer_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    assert_eq!(p.status().peer, PeerSync::Synced);
    let peer = std::fs::File::open(&b.data).unwrap();
    for n in 0..50u64 {
        let data = block(n, 4096 + (n as usize % 3) * 512);
        let at = n * 70_000; // unaligned, some across region boundaries
        p.write_at(&data, at).unwrap();
        let mut got = vec![0u8; data.len()];
        std::os::unix::fs::FileExt::read_exact_at(&peer, &mut got, at).unwrap();
        assert_eq!(got, data, "write {n} not on the peer when acknowledged");
    }
    p.flush().unwrap();
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    assert_eq!(p.status().record, MirrorRecord::Synced);
    let mut back = vec![0u8; 4096];
    p.read_at(&mut back, 0).unwrap();
    assert_eq!(back, block(0, 4096));
}

#[test]
fn thirty_two_concurrent_writers_leave_identical_sides() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener(), listener()]);
    let p = Arc::new(primary(&a, KEY, s.addrs().to_vec()));
    wait_until(10, "two links", || p.status().links_up == 2);
    let threads: Vec<_> = (0..32u64)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                for i in 0..100u64 {
                    // Overlapping offsets between threads: the region lock orders them
                    // the same way on both sides.
                    let at = ((t * 7919 + i * 104_729) % (SIZE / 4096 - 1)) * 4096;
                    p.write_at(&block(t * 1000 + i, 8192), at).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    p.flush().unwrap();
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    assert_eq!(p.status().record, MirrorRecord::Synced, "no write went without the peer");
}

#[test]
fn losing_one_of_two_connect_networks_is_not_a_break() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener(), listener()]);
    let (n1, n2) = (Relay::start(s.addrs()[0]), Relay::start(s.addrs()[1]));
    let p = primary(&a, KEY, vec![n1.addr, n2.addr]);
    wait_until(10, "two links", || p.status().links_up == 2);
    for n in 0..20u64 {
        p.write_at(&block(n, 4096), n * 4096).unwrap();
    }
    n1.cut();
    for n in 20..200u64 {
        p.write_at(&block(n, 4096), n * 4096).unwrap();
    }
    p.flush().unwrap();
    assert_eq!(p.status().links_up, 1);
    assert_eq!(p.status().record, MirrorRecord::Synced, "B102: one network left is no break");
    assert_eq!(p.status().peer, PeerSync::Synced);
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    n1.heal();
    wait_until(10, "the link back", || p.status().links_up == 2);
}

#[test]
fn a_write_without_the_peer_makes_this_side_ahead_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    let net = Relay::start(s.addrs()[0]);
    let p = primary(&a, KEY, vec![net.addr]);
    wait_until(10, "a link", || p.status().links_up == 1);
    net.cut();
    wait_until(10, "the link down", || p.status().links_up == 0);
    p.write_at(&block(1, 4096), 3 << 16).unwrap();
    // What a crash right now leaves on the metadata device:
    let m = baton_mirror::engine::metadata::MetaStore::open(&a.meta).unwrap();
    let h = *m.header();
    assert!(matches!(h.record, MirrorRecord::Ahead { updated_ms: Some(_), .. }), "{:?}", h.record);
    assert_eq!(h.bitmap_gen, 1, "the bitmap counts from the generation the peer holds");
    assert_ne!(h.current_gen, 1, "a new history");
    let bits: Vec<u64> = baton_mirror::engine::bitmap::iter_bits(&m.read_bitmap().unwrap()).collect();
    assert_eq!(bits, vec![3], "the region written is durable in the bitmap");
    assert!(matches!(p.status().peer, PeerSync::Behind { full: false }));
}

#[test]
fn async_mode_acknowledges_locally_and_shows_a_bounded_lag() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    let net = Relay::start(s.addrs()[0]);
    let mut cfg = primary_cfg(&a, KEY, vec![net.addr]);
    cfg.mode = Mode::Async;
    cfg.async_max_lag_bytes = 1 << 20;
    let p = Primary::open(cfg).unwrap();
    wait_until(10, "a link", || p.status().links_up == 1);
    let mut max_lag = 0;
    for n in 0..512u64 {
        p.write_at(&block(n, 16384), n * 16384).unwrap();
        max_lag = max_lag.max(p.status().lag_bytes);
    }
    assert!(max_lag <= 1 << 20, "lag {max_lag} over the bound");
    wait_until(20, "the lag drained", || p.status().lag_writes == 0);
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    assert_eq!(p.status().record, MirrorRecord::Synced);
}

#[test]
fn after_a_clean_close_the_next_start_finds_nothing_to_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    for n in 0..64u64 {
        p.write_at(&block(n, 4096), n * 200_000).unwrap();
    }
    assert!(p.status().dirty_regions > 0, "the activity log holds the regions written");
    p.close().unwrap();
    drop(p);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    assert_eq!((p.status().peer, p.status().dirty_regions), (PeerSync::Synced, 0));
    drop(p);
    // A crash instead leaves the activity log: the next start copies those regions.
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    p.write_at(&block(1, 4096), 0).unwrap();
    p.crash();
    drop(p);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    assert_eq!(p.status().peer, PeerSync::Behind { full: false });
}

#[test]
fn links_lost_in_the_middle_of_concurrent_writes_are_retried_on_the_other_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener(), listener()]);
    let nets = [Relay::start(s.addrs()[0]), Relay::start(s.addrs()[1])];
    let p = Arc::new(primary(&a, KEY, vec![nets[0].addr, nets[1].addr]));
    wait_until(10, "two links", || p.status().links_up == 2);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8u64)
        .map(|t| {
            let (p, stop) = (p.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    // 64 blocks shared by all writers: the same regions written over and
                    // over, so a stale frame applied late would show.
                    p.write_at(&block(t << 32 | i, 4096), (i * 7 + t) % 64 * 4096).unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    for k in 0..10 {
        let net = &nets[k % 2];
        net.cut();
        wait_until(10, "one link left", || p.status().links_up == 1);
        net.heal();
        wait_until(10, "both links back", || p.status().links_up == 2);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writers.into_iter().for_each(|w| w.join().unwrap());
    p.flush().unwrap();
    assert_eq!(p.status().record, MirrorRecord::Synced, "B102: never without a network, never a break");
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
}
