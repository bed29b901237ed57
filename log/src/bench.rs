//! The event log's benchmark, for `baton bench` to call.
//!
//! In: an empty directory (a temp dir) and a record count. Out: a [`BenchResult`] with
//! the append rate under group commit (batches of 1024 records, one `fsync` each) and the
//! `verify` rate over the log just written. Prints nothing; leaves the segments in `dir`
//! for the caller to remove.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Error;
use crate::reader::verify;
use crate::writer::{Writer, WriterOptions};

/// Records per group commit in the benchmark.
pub const BENCH_BATCH_RECORDS: usize = 1024;

/// What [`bench`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchResult {
    /// Records appended by this run.
    pub records: u64,
    /// Body size of one record (all are the same size).
    pub body_bytes: usize,
    /// Bytes of segment files written by this run, headers included.
    pub log_bytes: u64,
    /// Group commits (one `write_all` + one `fsync` each): records / 1024 rounded up;
    /// each segment rollover adds one more.
    pub batches: u64,
    /// Wall time from the first append to the final commit returning.
    pub append_seconds: f64,
    pub append_per_s: f64,
    /// Wall time of `verify` over the whole log (files mostly in the page cache).
    pub verify_seconds: f64,
    /// Records checked per second by `verify` (every record in `dir`).
    pub verify_per_s: f64,
}

/// A typical event: small integers, a few short names, a short free-text detail.
/// MessagePack with field names makes it 100 bytes.
#[derive(Serialize)]
struct BenchEvent<'a> {
    seq: u64,
    at_ms: u64,
    kind: &'a str,
    server: &'a str,
    group: &'a str,
    cause: u64,
    detail: &'a str,
}

fn event(seq: u64) -> BenchEvent<'static> {
    // Fixed-width integers (> u32::MAX) keep every body the same size.
    BenchEvent {
        seq: seq + (1 << 40),
        at_ms: 1_790_000_000_000 + seq,
        kind: "GroupStarted",
        server: "server1",
        group: "web",
        cause: seq + (1 << 40),
        detail: "start ok",
    }
}

/// Appends `records` ~100-byte records to a log in `dir` with group commit (batches of
/// [`BENCH_BATCH_RECORDS`]), commits, then runs [`verify`] over the log.
pub fn bench(dir: &Path, records: u64) -> Result<BenchResult, Error> {
    let options = WriterOptions {
        max_batch_records: BENCH_BATCH_RECORDS,
        // Only batch size triggers flushes here; nothing calls `maybe_flush`.
        max_batch_delay: Duration::from_secs(3600),
        ..WriterOptions::default()
    };
    let body_bytes = rmp_serde::to_vec_named(&event(0))?.len();
    let (mut writer, _) = Writer::open(dir, options)?;
    let first_seq = writer.last_seq() + 1;
    let started = Instant::now();
    for seq in first_seq..first_seq + records {
        writer.append(&event(seq))?;
    }
    writer.commit()?;
    let append_seconds = started.elapsed().as_secs_f64();
    drop(writer);

    let started = Instant::now();
    let head = verify(dir)?;
    let verify_seconds = started.elapsed().as_secs_f64();

    let rate = |count: u64, seconds: f64| if seconds > 0.0 { count as f64 / seconds } else { f64::INFINITY };
    Ok(BenchResult {
        records,
        body_bytes,
        log_bytes: records * (crate::format::HEADER_BYTES + body_bytes) as u64,
        batches: records.div_ceil(BENCH_BATCH_RECORDS as u64),
        append_seconds,
        append_per_s: rate(records, append_seconds),
        verify_seconds,
        verify_per_s: rate(head.seq, verify_seconds),
    })
}
