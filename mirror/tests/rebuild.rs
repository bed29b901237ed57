//! Rebuilds over real TCP (B107–B110): a differential copy after a break moves about
//! the dirty regions and leaves byte-identical sides while the application writes; a
//! full copy moves everything; progress is readable; the bandwidth limit holds.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use baton_core::io::MirrorRecord;
use baton_mirror::engine::{PeerSync, Primary};
use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 64 << 20;
const REGION: u64 = 64 * 1024;

/// A synced pair behind a cuttable network.
fn pair(dir: &std::path::Path) -> (Side, Side, baton_mirror::engine::Secondary, Relay, Primary) {
    let (a, b) = (side(dir, "a", SIZE, 1), side(dir, "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    let net = Relay::start(s.addrs()[0]);
    let p = primary(&a, KEY, vec![net.addr]);
    wait_until(10, "a link", || p.status().links_up == 1);
    (a, b, s, net, p)
}

fn rebuild_and_wait(p: &Primary, full: bool) {
    p.start_rebuild(full).unwrap();
    wait_until(60, "the rebuild's end", || p.status().rebuild.outcome.is_some());
    assert_eq!(p.status().rebuild.outcome, Some(Ok(())));
}

#[test]
fn a_differential_rebuild_copies_about_the_dirty_data_and_leaves_identical_sides() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, s, net, p) = pair(dir.path());
    net.cut();
    wait_until(10, "the link down", || p.status().links_up == 0);
    // About 1% of the volume: 10 regions of 1024, written while the peer is away.
    let regions: Vec<u64> = (0..10).map(|i| i * 97 + 5).collect();
    for r in &regions {
        p.write_at(&block(*r, 4096), r * REGION + 512).unwrap();
    }
    assert_eq!(p.status().dirty_regions, 10);
    net.heal();
    wait_until(10, "the link back", || p.status().links_up == 1);
    assert_eq!(p.status().peer, PeerSync::Behind { full: false }, "B104: reconnecting is not syncing");
    wait_until(10, "the peer records behind", || s.header().record == MirrorRecord::Behind { full: false });
    let before = p.status().rebuild_sent_bytes;
    rebuild_and_wait(&p, false);
    let copied = p.status().rebuild_sent_bytes - before;
    assert_eq!(copied, 10 * REGION, "exactly the dirty regions");
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    let st = p.status();
    assert_eq!((st.record, st.peer, st.dirty_regions), (MirrorRecord::Synced, PeerSync::Synced, 0));
    assert_eq!(s.header().record, MirrorRecord::Synced);
    assert_eq!(s.header().current_gen, st.current_gen, "one history again");
    // Synced: the next write waits for the peer again.
    p.write_at(&block(99, 4096), 0).unwrap();
    assert_eq!(p.status().record, MirrorRecord::Synced);
}

#[test]
fn a_full_rebuild_copies_everything_while_the_application_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _s, net, p) = pair(dir.path());
    net.cut();
    wait_until(10, "the link down", || p.status().links_up == 0);
    p.write_at(&block(1, 4096), 0).unwrap();
    net.heal();
    wait_until(10, "the link back", || p.status().links_up == 1);
    let p = Arc::new(p);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (p, stop) = (p.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                // Writes racing the copy across the whole volume.
                p.write_at(&block(n, 4096), (n * 1_048_573 % (SIZE / 4096)) * 4096).unwrap();
                n += 1;
            }
            n
        })
    };
    let before = p.status().rebuild_sent_bytes;
    rebuild_and_wait(&p, true);
    stop.store(true, Ordering::SeqCst);
    let writes = writer.join().unwrap();
    assert!(writes > 0);
    assert_eq!(p.status().rebuild_sent_bytes - before, SIZE, "B108: a full copy moves the whole device");
    p.flush().unwrap();
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data), "after {writes} writes during the copy");
}

#[test]
fn progress_and_the_bandwidth_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 2));
    let s = secondary(&b, KEY, vec![listener()]);
    let mut cfg = primary_cfg(&a, KEY, s.addrs().to_vec());
    cfg.rebuild_bytes_per_s = Some(32 << 20);
    let p = Primary::open(cfg).unwrap();
    wait_until(10, "a link", || p.status().links_up == 1);
    assert_eq!(p.status().peer, PeerSync::Behind { full: true }, "unrelated generations: a full copy");
    let t0 = Instant::now();
    p.start_rebuild(false).unwrap();
    assert!(p.start_rebuild(false).is_err(), "one rebuild at a time");
    wait_until(10, "some progress", || p.status().rebuild.done_bytes > 0 && p.status().rebuild.eta_s.is_some());
    let mid = p.status().rebuild;
    assert!(mid.running && mid.full && mid.total_bytes == SIZE, "{mid:?}");
    wait_until(30, "the rebuild's end", || p.status().rebuild.outcome.is_some());
    let secs = t0.elapsed().as_secs_f64();
    assert!(secs >= 1.8, "64 MiB at 32 MiB/s took {secs:.2} s");
    assert_eq!(p.status().rebuild.outcome, Some(Ok(())));
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
}

#[test]
fn a_rebuild_cut_short_is_followed_by_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, s, net, _p) = pair(dir.path());
    drop(_p);
    let mut cfg = primary_cfg(&a, KEY, vec![net.addr]);
    cfg.rebuild_bytes_per_s = Some(8 << 20);
    let p = Primary::open(cfg).unwrap();
    wait_until(10, "a link", || p.status().links_up == 1);
    net.cut();
    wait_until(10, "the link down", || p.status().links_up == 0);
    p.write_at(&block(1, 4096), 0).unwrap();
    net.heal();
    wait_until(10, "the link back", || p.status().links_up == 1);
    p.start_rebuild(true).unwrap();
    wait_until(10, "some progress", || p.status().rebuild.done_bytes > 0);
    net.cut();
    wait_until(20, "the rebuild's failure", || p.status().rebuild.outcome.is_some());
    assert!(p.status().rebuild.outcome.unwrap().is_err());
    assert_eq!(s.header().record, MirrorRecord::Behind { full: true }, "B110: recorded on the destination");
    assert_eq!(p.status().peer, PeerSync::Behind { full: true });
    net.heal();
    wait_until(10, "the link back", || p.status().links_up == 1);
    let before = p.status().rebuild_sent_bytes;
    p.start_rebuild(false).unwrap();
    wait_until(60, "the rebuild's end", || p.status().rebuild.outcome.is_some());
    assert_eq!(p.status().rebuild.outcome, Some(Ok(())));
    assert_eq!(p.status().rebuild_sent_bytes - before, SIZE, "asked differential, done full");
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
}

#[test]
fn a_disk_error_on_the_destination_fails_the_rebuild_and_the_active_side_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 2));
    let s = secondary(&b, KEY, vec![listener()]);
    let mut cfg = primary_cfg(&a, KEY, s.addrs().to_vec());
    cfg.rebuild_bytes_per_s = Some(16 << 20);
    let p = Primary::open(cfg).unwrap();
    wait_until(10, "a link", || p.status().links_up == 1);
    p.start_rebuild(true).unwrap();
    wait_until(10, "some progress", || p.status().rebuild.done_bytes > 0);
    s.fail_disk();
    wait_until(20, "the rebuild's failure", || p.status().rebuild.outcome.is_some());
    let why = p.status().rebuild.outcome.unwrap().unwrap_err();
    assert!(why.contains("the peer failed a copy"), "{why}");
    assert_eq!(p.status().peer, PeerSync::Behind { full: true }, "B116/B110: the next rebuild is full");
    assert_eq!(s.header().record, MirrorRecord::Behind { full: true });
    assert!(s.disk_error(), "the standby knows its disk failed (B116)");
    // The application's writes go on, on this side alone (the peer refused them).
    p.write_at(&block(5, 4096), 4096).unwrap();
    p.flush().unwrap();
    assert!(matches!(p.status().record, MirrorRecord::Ahead { .. }));
}

#[test]
fn initial_construction_primary_and_secondary_copies_all_identical_copies_nothing() {
    use baton_mirror::engine::metadata::{init_side, InitRole};
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    std::fs::write(&a.data, block(42, SIZE as usize)).unwrap();
    init_side(&a.meta, SIZE, InitRole::Primary, "md1", true).unwrap();
    init_side(&b.meta, SIZE, InitRole::Secondary, "md1", true).unwrap();
    let s = secondary(&b, KEY, vec![listener()]);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    assert_eq!(p.status().peer, PeerSync::Behind { full: true }, "--secondary: a full copy due");
    rebuild_and_wait(&p, false);
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    drop((p, s));
    init_side(&a.meta, SIZE, InitRole::AssumeIdentical, "md1", true).unwrap();
    init_side(&b.meta, SIZE, InitRole::AssumeIdentical, "md1", true).unwrap();
    let s = secondary(&b, KEY, vec![listener()]);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    assert_eq!(p.status().peer, PeerSync::Synced, "--assume-identical: normal at once (B108)");
    drop((p, s));
    // A data device smaller than the metadata's volume is refused, naming it.
    std::fs::File::options().write(true).open(&b.data).unwrap().set_len(SIZE / 2).unwrap();
    let e = baton_mirror::engine::Secondary::start(
        baton_mirror::engine::SecondaryConfig::new(b.data.clone(), b.meta.clone(), KEY.to_vec()),
        vec![listener()],
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("b.data"), "{e}");
}
