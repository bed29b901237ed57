//! Engine throughput over loopback TCP against the same writes to a plain file, in one
//! run (a measurement, not a check: `#[ignore]`, run by hand; numbers go to
//! docs/benchmarks.md with the command and machine).
//!
//! cargo test --release -p baton-mirror --test throughput -- --ignored --nocapture

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 256 << 20;

fn mib_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / (1 << 20) as f64
}

#[test]
#[ignore]
fn engine_throughput_against_a_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let plain = dir.path().join("plain.data");
    std::fs::File::create(&plain).unwrap().set_len(SIZE).unwrap();
    let f = OpenOptions::new().write(true).open(&plain).unwrap();
    let s = secondary(&b, KEY, vec![listener()]);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    let mib = vec![0x5Au8; 1 << 20];

    // Sequential 1 MiB writes, one flush at the end.
    let t = Instant::now();
    for i in 0..SIZE >> 20 {
        f.write_all_at(&mib, i << 20).unwrap();
    }
    f.sync_data().unwrap();
    let plain_seq = mib_s(SIZE, t.elapsed().as_secs_f64());
    let t = Instant::now();
    for i in 0..SIZE >> 20 {
        p.write_at(&mib, i << 20).unwrap();
    }
    p.flush().unwrap();
    let mirror_seq = mib_s(SIZE, t.elapsed().as_secs_f64());
    eprintln!("sequential 1 MiB: plain {plain_seq:.0} MiB/s, mirror {mirror_seq:.0} MiB/s");
    // Again: every region's bit is already set (the activity log costs nothing now).
    let t = Instant::now();
    for i in 0..SIZE >> 20 {
        p.write_at(&mib, i << 20).unwrap();
    }
    p.flush().unwrap();
    let again = mib_s(SIZE, t.elapsed().as_secs_f64());
    eprintln!("sequential 1 MiB, bits already set: mirror {again:.0} MiB/s");

    // Random 4 KiB writes, each followed by a flush, queue depth 1.
    let n = 2000u64;
    let blk = vec![0xA5u8; 4096];
    let at = |i: u64| (i * 2_654_435_761 % (SIZE / 4096)) * 4096;
    let t = Instant::now();
    for i in 0..n {
        f.write_all_at(&blk, at(i)).unwrap();
        f.sync_data().unwrap();
    }
    let plain_us = t.elapsed().as_micros() as f64 / n as f64;
    let t = Instant::now();
    for i in 0..n {
        p.write_at(&blk, at(i)).unwrap();
        p.flush().unwrap();
    }
    let mirror_us = t.elapsed().as_micros() as f64 / n as f64;
    // Plain again, after the mirror: the order of the two does not favour either.
    let t = Instant::now();
    for i in 0..n {
        f.write_all_at(&blk, at(i + n)).unwrap();
        f.sync_data().unwrap();
    }
    let plain2_us = t.elapsed().as_micros() as f64 / n as f64;
    eprintln!(
        "random 4 KiB + flush, qd 1: plain {plain_us:.0} us, mirror {mirror_us:.0} us, plain again {plain2_us:.0} us per write"
    );
    // Random 4 KiB writes from 32 threads (queue depth 32), one flush at the end.
    let per = 500u64;
    let iops = |w: &(dyn Fn(u64) + Sync)| {
        let t = Instant::now();
        std::thread::scope(|sc| {
            for th in 0..32u64 {
                sc.spawn(move || (0..per).for_each(|i| w(th * per + i)));
            }
        });
        (32 * per) as f64 / t.elapsed().as_secs_f64()
    };
    let plain_iops = iops(&|i| f.write_all_at(&blk, at(i + 7)).unwrap());
    f.sync_data().unwrap();
    let mirror_iops = iops(&|i| p.write_at(&blk, at(i + 7)).unwrap());
    p.flush().unwrap();
    eprintln!("random 4 KiB, queue depth 32: plain {plain_iops:.0} IOPS, mirror {mirror_iops:.0} IOPS");
    assert_eq!(sha256_file(&a.data), sha256_file(&b.data));
    drop(p);

    // A full rebuild of the whole volume.
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    let t = Instant::now();
    p.start_rebuild(true).unwrap();
    wait_until(120, "the rebuild's end", || p.status().rebuild.outcome.is_some());
    eprintln!("full rebuild: {:.0} MiB/s", mib_s(SIZE, t.elapsed().as_secs_f64()));
}
