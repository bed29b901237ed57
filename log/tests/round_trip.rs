//! Round trips: what goes in through `Writer` comes out of `Reader` and `verify`, across
//! segments, reopenings and batching choices; and the bytes on disk are the documented
//! format exactly.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use baton_log::{verify, Head, Reader, Record, Recovery, Writer, WriterOptions, GENESIS_HASH};
use common::{event, frame, segment_files, spans, Event};
use serde::{Deserialize, Serialize};

fn small_segments() -> WriterOptions {
    WriterOptions { segment_bytes: 4096, max_batch_records: 100, max_batch_delay: Duration::from_secs(60) }
}

fn read_all(dir: &std::path::Path) -> Vec<Record> {
    Reader::open(dir).expect("open reader").collect::<Result<_, _>>().expect("read log")
}

#[test]
fn many_records_round_trip_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, recovery) = Writer::open(dir.path(), small_segments()).unwrap();
    assert_eq!(recovery, Recovery { dropped_tail_bytes: 0, last_seq: 0, head_hash: GENESIS_HASH });
    for id in 1..=5000 {
        assert_eq!(writer.append(&event(id)).unwrap(), id);
    }
    assert_eq!(writer.commit().unwrap(), 5000);
    let head = writer.head();
    drop(writer);

    let files = segment_files(dir.path());
    assert!(files.len() > 50, "expected many segments, got {}", files.len());
    let all = spans(dir.path());
    for file in &files {
        // Each segment is named for its first record and stays within the bound unless
        // it holds a single record.
        let first = all.iter().find(|span| &span.file == file).unwrap();
        assert_eq!(file.file_name().unwrap().to_str().unwrap(), format!("{:020}.log", first.seq));
        let size = fs::metadata(file).unwrap().len();
        let records = all.iter().filter(|span| &span.file == file).count();
        assert!(size <= 4096 || records == 1, "{} is {size} bytes", file.display());
    }

    let records = read_all(dir.path());
    assert_eq!(records.len(), 5000);
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.seq, index as u64 + 1);
        assert_eq!(record.decode::<Event>().unwrap(), event(record.seq));
    }
    assert_eq!(verify(dir.path()).unwrap(), head);
    assert_eq!(records.last().unwrap().hash, head.hash);
}

#[test]
fn reopening_continues_the_sequence_and_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4u64 {
        let (mut writer, recovery) = Writer::open(dir.path(), small_segments()).unwrap();
        assert_eq!(recovery.dropped_tail_bytes, 0);
        assert_eq!(recovery.last_seq, round * 300);
        for id in round * 300 + 1..=(round + 1) * 300 {
            writer.append(&event(id)).unwrap();
        }
        // Dropping flushes (best effort); the next round's open checks it all.
    }
    let records = read_all(dir.path());
    assert_eq!(records.len(), 1200);
    assert!(records.iter().all(|record| record.decode::<Event>().unwrap() == event(record.seq)));
    assert_eq!(verify(dir.path()).unwrap().seq, 1200);
}

#[test]
fn the_bytes_on_disk_are_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = Writer::open(dir.path(), WriterOptions::default()).unwrap();
    let mut expected = Vec::new();
    let mut previous = GENESIS_HASH;
    for id in 1..=20 {
        writer.append(&event(id)).unwrap();
        let (bytes, hash) = frame(id, &previous, &rmp_serde::to_vec_named(&event(id)).unwrap());
        expected.extend_from_slice(&bytes);
        previous = hash;
    }
    writer.commit().unwrap();
    assert_eq!(writer.head(), Head { seq: 20, hash: previous });
    drop(writer);
    assert_eq!(fs::read(dir.path().join("00000000000000000001.log")).unwrap(), expected);
}

#[test]
fn empty_log_and_oversized_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nested/log");
    let options = WriterOptions { segment_bytes: 100, ..WriterOptions::default() };
    let (mut writer, _) = Writer::open(&log, options).unwrap();
    assert_eq!(verify(&log).unwrap(), Head { seq: 0, hash: GENESIS_HASH });
    assert_eq!(read_all(&log), Vec::new());
    // Records above the segment bound each get a segment of their own.
    let big = vec![7u8; 1000];
    for _ in 0..3 {
        writer.append(&big).unwrap();
    }
    writer.commit().unwrap();
    assert_eq!(segment_files(&log).len(), 3);
    let records = read_all(&log);
    assert!(records.iter().all(|record| record.decode::<Vec<u8>>().unwrap() == big));
    assert_eq!(verify(&log).unwrap().seq, 3);
}

#[test]
fn group_commit_flushes_on_batch_size_and_on_delay() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        WriterOptions { segment_bytes: 1 << 20, max_batch_records: 10, max_batch_delay: Duration::from_millis(50) };
    let (mut writer, _) = Writer::open(dir.path(), options).unwrap();
    let segment = dir.path().join("00000000000000000001.log");
    for id in 1..=9 {
        writer.append(&event(id)).unwrap();
    }
    assert_eq!((writer.pending_records(), writer.durable_seq(), writer.last_seq()), (9, 0, 9));
    assert_eq!(fs::metadata(&segment).unwrap().len(), 0, "nothing written before a flush");
    writer.append(&event(10)).unwrap();
    assert_eq!((writer.pending_records(), writer.durable_seq()), (0, 10), "the 10th record fills the batch");
    assert_eq!(writer.flush_deadline(), None);

    writer.append(&event(11)).unwrap();
    let deadline = writer.flush_deadline().expect("a record waits");
    assert!(!writer.maybe_flush(deadline - Duration::from_millis(1)).unwrap());
    assert_eq!(writer.durable_seq(), 10);
    assert!(writer.maybe_flush(deadline).unwrap());
    assert_eq!(writer.durable_seq(), 11);
    assert!(!writer.maybe_flush(Instant::now() + Duration::from_secs(1)).unwrap(), "nothing waits");
    assert_eq!(verify(dir.path()).unwrap().seq, 11);

    // A reader beside the writer sees only what was flushed.
    writer.append_body(&rmp_serde::to_vec_named(&event(12)).unwrap()).unwrap();
    assert_eq!(read_all(dir.path()).len(), 11);
    assert_eq!(writer.commit().unwrap(), 12);
    assert_eq!(read_all(dir.path()).last().unwrap().decode::<Event>().unwrap(), event(12));
}

#[test]
fn bodies_decode_into_evolved_types() {
    #[derive(Serialize)]
    struct V1 {
        name: String,
        retired: u32,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct V2 {
        name: String,
        #[serde(default)]
        added: Option<u64>,
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = Writer::open(dir.path(), WriterOptions::default()).unwrap();
    writer.append(&V1 { name: "web".into(), retired: 3 }).unwrap();
    writer.commit().unwrap();
    let records = read_all(dir.path());
    assert_eq!(records[0].decode::<V2>().unwrap(), V2 { name: "web".into(), added: None });
    let error = records[0].decode::<u64>().unwrap_err();
    assert!(error.to_string().starts_with("sequence number 1: cannot decode body"), "{error}");
}

#[test]
fn zero_bounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for options in [
        WriterOptions { segment_bytes: 0, ..WriterOptions::default() },
        WriterOptions { max_batch_records: 0, ..WriterOptions::default() },
    ] {
        assert!(matches!(Writer::open(dir.path(), options), Err(baton_log::Error::Options(_))));
    }
}
