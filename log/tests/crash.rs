//! Crash recovery: a log cut at every byte offset within its last three records (as a
//! crash in mid-write leaves it) opens to exactly the whole records before the cut, says
//! how many bytes it dropped, and takes new appends with the chain intact.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use baton_log::{verify, Error, Reader, Writer, WriterOptions};
use common::{copy_dir, event, in_copy, segment_files, spans, Event, Span};

// With 800-byte segments, record 57 starts a segment: the last three straddle it.
const RECORDS: u64 = 58;

fn write_log(dir: &Path) -> Vec<Span> {
    // Small segments, so the last three records straddle a segment boundary.
    let options = WriterOptions { segment_bytes: 800, max_batch_records: 7, max_batch_delay: Duration::from_secs(60) };
    let (mut writer, _) = Writer::open(dir, options).unwrap();
    for id in 1..=RECORDS {
        writer.append(&event(id)).unwrap();
    }
    writer.commit().unwrap();
    spans(dir)
}

/// The log as one byte stream: each segment file's start in it.
fn file_starts(dir: &Path) -> Vec<(std::path::PathBuf, u64, u64)> {
    let mut start = 0;
    segment_files(dir)
        .into_iter()
        .map(|file| {
            let size = fs::metadata(&file).unwrap().len();
            start += size;
            (file, start - size, size)
        })
        .collect()
}

/// Cuts a copy of the log at `cut` in the byte stream: the segment holding that byte is
/// truncated there, later segments go. At a segment boundary `keep_empty` says whether
/// the next segment survives as an empty file (a crash just after creating it).
fn cut_copy(original: &Path, copy: &Path, cut: u64, keep_empty: bool) {
    copy_dir(original, copy);
    for (file, start, size) in file_starts(original) {
        let path = in_copy(copy, &file);
        if cut >= start + size && !(cut == start + size && size == 0) {
            continue;
        }
        if cut > start || (cut == start && keep_empty) {
            fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut - start).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
fn every_cut_in_the_last_three_records_recovers_a_valid_prefix() {
    let original = tempfile::tempdir().unwrap();
    let spans = write_log(original.path());
    assert_eq!(spans.len() as u64, RECORDS);
    let files = file_starts(original.path());
    let global = |span: &Span| files.iter().find(|(file, _, _)| *file == span.file).unwrap().1;
    let ends: Vec<u64> = spans.iter().map(|span| global(span) + span.end).collect();
    let tail_start = global(&spans[spans.len() - 3]) + spans[spans.len() - 3].start;
    let total = *ends.last().unwrap();
    let segments_in_tail =
        spans[spans.len() - 3..].iter().map(|span| &span.file).collect::<std::collections::BTreeSet<_>>();
    assert!(segments_in_tail.len() > 1, "the last three records should straddle segments");

    let mut checked = 0;
    for cut in tail_start..=total {
        let at_boundary = files.iter().any(|(_, start, _)| *start == cut && cut > 0);
        for keep_empty in if at_boundary { vec![true, false] } else { vec![true] } {
            let scratch = tempfile::tempdir().unwrap();
            let copy = scratch.path().join("log");
            cut_copy(original.path(), &copy, cut, keep_empty);

            let whole = ends.iter().filter(|&&end| end <= cut).count() as u64;
            let last_end = if whole == 0 { 0 } else { ends[whole as usize - 1] };
            let dropped = cut - last_end;
            let head_hash = spans[whole as usize - 1].hash;
            let context = format!("cut at byte {cut} (keep_empty {keep_empty})");

            // Before recovery: verify reports the torn tail, a reader stops before it.
            match verify(&copy) {
                Ok(head) => assert!(
                    dropped == 0 && head.seq == whole && head.hash == head_hash,
                    "{context}: {head:?} whole {whole} dropped {dropped}"
                ),
                Err(Error::TornTail { dropped_bytes, last_seq, offset, .. }) => {
                    assert_eq!((dropped_bytes, last_seq), (dropped, whole), "{context}");
                    assert!(dropped > 0 && offset < cut, "{context}");
                }
                Err(other) => panic!("{context}: {other}"),
            }
            let mut reader = Reader::open(&copy).unwrap();
            assert_eq!(reader.by_ref().map(|record| record.unwrap().seq).max(), Some(whole), "{context}");
            let seen = reader.recovery().expect("reader finished");
            assert_eq!((seen.dropped_tail_bytes, seen.last_seq, seen.head_hash), (dropped, whole, head_hash));

            // Recovery cuts exactly the torn bytes.
            let options = WriterOptions { segment_bytes: 800, ..WriterOptions::default() };
            let (mut writer, recovery) = Writer::open(&copy, options).unwrap();
            assert_eq!(recovery.dropped_tail_bytes, dropped, "{context}");
            assert_eq!(recovery.last_seq, whole, "{context}");
            assert_eq!(recovery.head_hash, head_hash, "{context}");
            let head = verify(&copy).unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_eq!((head.seq, head.hash), (whole, head_hash));

            // Appending after recovery keeps sequence and chain valid.
            assert_eq!(writer.append(&event(whole + 1)).unwrap(), whole + 1);
            assert_eq!(writer.append(&event(whole + 2)).unwrap(), whole + 2);
            writer.commit().unwrap();
            drop(writer);
            assert_eq!(verify(&copy).unwrap().seq, whole + 2, "{context}");
            let records: Vec<_> = Reader::open(&copy).unwrap().collect::<Result<_, _>>().unwrap();
            assert_eq!(records.len() as u64, whole + 2);
            assert!(records.iter().all(|record| record.decode::<Event>().unwrap() == event(record.seq)), "{context}");
            checked += 1;
        }
    }
    assert!(checked as u64 > total - tail_start, "every offset checked ({checked})");
}

#[test]
fn a_tail_of_zeros_is_a_torn_tail() {
    // File systems may leave zero-filled blocks past the last fsync after a crash.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let last = segment_files(dir.path()).pop().unwrap();
    let mut data = fs::read(&last).unwrap();
    let size = data.len() as u64;
    data.extend_from_slice(&[0; 4096]);
    fs::write(&last, data).unwrap();
    let (_, recovery) = Writer::open(dir.path(), WriterOptions::default()).unwrap();
    assert_eq!((recovery.dropped_tail_bytes, recovery.last_seq), (4096, RECORDS));
    assert_eq!(fs::metadata(&last).unwrap().len(), size);
}
