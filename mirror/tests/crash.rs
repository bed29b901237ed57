//! The promise (issue 10): a write acknowledged to the application survives the loss of
//! the server that took it. A writer writes numbered blocks and flushes; the active
//! engine crashes at a random instant (every link closes at once, nothing more is
//! acknowledged); every acknowledged block must be on the standby's data file. The
//! standby then takes over, the old active side comes back as the standby and is
//! rebuilt from the bitmaps (its own unacknowledged writes included, as an activity
//! log), and the two data files must be byte-identical before the next round.

mod common;

use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_mirror::engine::{PeerSync, Primary, Secondary};
use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 64 << 20;
const BLOCK: usize = 4096;
const ROUNDS: usize = 20;

fn random_below(n: u64) -> u64 {
    getrandom::u64().unwrap() % n
}

/// Writes blocks `first..` (block n at n * BLOCK), a flush every 8, until an error.
/// Returns the blocks whose write returned `Ok`.
fn writer(p: Arc<Primary>, first: u64, stop: Arc<AtomicBool>, progress: Arc<AtomicU64>) -> Vec<u64> {
    let mut acked = Vec::new();
    let mut n = first;
    while !stop.load(Ordering::SeqCst) && (n + 1) * (BLOCK as u64) <= SIZE {
        if p.write_at(&block(n, BLOCK), n * BLOCK as u64).is_err() {
            break;
        }
        acked.push(n);
        progress.fetch_add(1, Ordering::SeqCst);
        if n % 8 == 7 && p.flush().is_err() {
            break;
        }
        n += 1;
    }
    acked
}

#[test]
fn no_acknowledged_write_is_lost_across_twenty_crashes_of_the_active_side() {
    let dir = tempfile::tempdir().unwrap();
    let mut active = side(dir.path(), "a", SIZE, 1);
    let mut standby = side(dir.path(), "b", SIZE, 1);
    let mut next_block = 0u64;
    let mut total_acked = 0usize;
    let mut differential = 0usize;
    for round in 0..ROUNDS {
        let s: Secondary = secondary(&standby, KEY, vec![listener(), listener()]);
        let p = Arc::new(primary(&active, KEY, s.addrs().to_vec()));
        wait_until(10, "both links", || p.status().links_up == 2);
        if p.status().peer != PeerSync::Synced {
            let full = matches!(p.status().peer, PeerSync::Behind { full: true });
            differential += usize::from(!full);
            p.start_rebuild(false).unwrap();
            wait_until(60, "the rebuild's end", || p.status().rebuild.outcome.is_some());
            assert_eq!(p.status().rebuild.outcome, Some(Ok(())), "round {round}");
            assert_eq!(sha256_file(&active.data), sha256_file(&standby.data), "round {round}: rebuilt copy differs");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let w = {
            let (p, stop) = (p.clone(), stop.clone());
            std::thread::spawn(move || writer(p, next_block, stop, Arc::default()))
        };
        let crash_after_ms = 1 + random_below(40);
        std::thread::sleep(Duration::from_millis(crash_after_ms)); // the crash instant, at random
        p.crash();
        let acked = w.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        let f = std::fs::File::open(&standby.data).unwrap();
        for n in &acked {
            let mut got = vec![0u8; BLOCK];
            f.read_exact_at(&mut got, n * BLOCK as u64).unwrap();
            assert!(
                got == block(*n, BLOCK),
                "round {round} (crash after {crash_after_ms} ms): acknowledged block {n} lost"
            );
        }
        total_acked += acked.len();
        // Blocks written but not acknowledged may be on either side: skip past them.
        next_block = acked.last().map_or(next_block, |n| n + 1) + 4;
        drop(p);
        s.stop();
        drop(s);
        // Failover: the standby side becomes active, the crashed side comes back as standby.
        std::mem::swap(&mut active, &mut standby);
    }
    assert!(total_acked > ROUNDS, "the writer wrote ({total_acked} blocks)");
    assert!(differential > 0, "some rounds rebuilt from the bitmaps");
    eprintln!("{ROUNDS} crashes, {total_acked} acknowledged blocks, none lost; {differential} differential rebuilds");
}

#[test]
fn an_async_crash_loses_at_most_the_lag_it_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    for round in 0..5u64 {
        let mut cfg = primary_cfg(&a, KEY, s.addrs().to_vec());
        cfg.mode = baton_mirror::engine::Mode::Async;
        cfg.async_max_lag_bytes = 256 * BLOCK as u64;
        let p = Primary::open(cfg).unwrap();
        wait_until(10, "a link", || p.status().links_up == 1);
        if p.status().peer != PeerSync::Synced {
            p.start_rebuild(false).unwrap();
            wait_until(60, "the rebuild's end", || p.status().rebuild.outcome.is_some());
            assert_eq!(p.status().rebuild.outcome, Some(Ok(())));
        }
        let first = round * 1200;
        let count = 1000u64;
        for n in first..first + count {
            p.write_at(&block(n, BLOCK), n * BLOCK as u64).unwrap();
        }
        // The crash, right after the application was told the last write was done.
        let lag = p.status().lag_writes;
        p.crash();
        assert!(lag <= 256, "lag {lag} writes over the bound");
        let f = std::fs::File::open(&b.data).unwrap();
        let missing: Vec<u64> = (first..first + count)
            .filter(|n| {
                let mut got = vec![0u8; BLOCK];
                f.read_exact_at(&mut got, n * BLOCK as u64).unwrap();
                got != block(*n, BLOCK)
            })
            .collect();
        assert!(missing.len() as u64 <= lag, "round {round}: {} lost, the lag was {lag}", missing.len());
        eprintln!("round {round}: lag {lag} writes at the crash, {} lost", missing.len());
        // Sent in order: what is lost is the tail.
        if let Some(m) = missing.first() {
            assert_eq!(missing.len() as u64, first + count - m, "round {round}: a hole, not a tail");
        }
        drop(p);
    }
}

#[test]
fn the_standby_crashing_mid_stream_never_stops_the_application_and_is_rebuilt_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let l = listener();
    let addr = l.local_addr().unwrap();
    let mut s = Some(secondary(&b, KEY, vec![l]));
    let p = Arc::new(primary(&a, KEY, vec![addr]));
    wait_until(10, "a link", || p.status().links_up == 1);
    let mut next_block = 0u64;
    for round in 0..8 {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicU64::new(0));
        let w = {
            let (p, stop, progress) = (p.clone(), stop.clone(), progress.clone());
            std::thread::spawn(move || writer(p, next_block, stop, progress))
        };
        std::thread::sleep(Duration::from_millis(1 + random_below(30))); // a random instant
        let standby = s.take().unwrap();
        standby.stop(); // every link of the standby closes at once
        drop(standby);
        // The application goes on without it.
        let at_crash = progress.load(Ordering::SeqCst);
        wait_until(10, "writes acknowledged after the standby's crash", || {
            progress.load(Ordering::SeqCst) >= at_crash + 5
        });
        stop.store(true, Ordering::SeqCst);
        let acked = w.join().unwrap();
        let last = *acked.last().expect("writes acknowledged");
        next_block = last + 1;
        // The standby comes back on the same address; the active side reconnects.
        let mut l = None;
        wait_until(10, "the address free (the old listener closes)", || {
            l = std::net::TcpListener::bind(addr).ok();
            l.is_some()
        });
        s = Some(secondary(&b, KEY, vec![l.unwrap()]));
        wait_until(10, "the link back", || p.status().links_up == 1);
        if p.status().peer != PeerSync::Synced {
            p.start_rebuild(false).unwrap();
            wait_until(60, "the rebuild's end", || p.status().rebuild.outcome.is_some());
            assert_eq!(p.status().rebuild.outcome, Some(Ok(())), "round {round}");
        }
        p.flush().unwrap();
        assert_eq!(sha256_file(&a.data), sha256_file(&b.data), "round {round}");
        let f = std::fs::File::open(&b.data).unwrap();
        for n in &acked {
            let mut got = vec![0u8; BLOCK];
            f.read_exact_at(&mut got, n * BLOCK as u64).unwrap();
            assert!(got == block(*n, BLOCK), "round {round}: block {n} missing after the rebuild");
        }
    }
}
