//! Bit flips: every single-bit flip anywhere in a multi-segment log is caught. `verify`
//! names the file, the byte offset and the sequence number of the record holding the
//! flipped bit; a flip in the last record is a torn tail, which `Writer::open` cuts.
//! Never is a flipped log silently accepted.

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use baton_log::{verify, Error, Reader, Writer, WriterOptions};
use common::{copy_dir, event, in_copy, segment_files, spans, Span};

const RECORDS: u64 = 40;

fn write_log(dir: &Path) -> Vec<Span> {
    let options = WriterOptions { segment_bytes: 1500, max_batch_records: 5, max_batch_delay: Duration::from_secs(60) };
    let (mut writer, _) = Writer::open(dir, options).unwrap();
    for id in 1..=RECORDS {
        writer.append(&event(id)).unwrap();
    }
    writer.commit().unwrap();
    spans(dir)
}

#[test]
fn every_bit_flip_is_detected() {
    let original = tempfile::tempdir().unwrap();
    let spans = write_log(original.path());
    let files = segment_files(original.path());
    assert!(files.len() >= 3, "want several segments, got {}", files.len());
    let last = spans.last().unwrap().clone();

    // Flip in a working copy and restore after each check: far cheaper than a copy per
    // bit. Bytes are patched in place: rewriting a file with O_TRUNC makes ext4 flush it.
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("log");
    copy_dir(original.path(), &work);
    let (mut corrupt_flips, mut torn_flips) = (0, 0);
    for file in &files {
        let target = in_copy(&work, file);
        let pristine = fs::read(file).unwrap();
        let handle = fs::OpenOptions::new().write(true).open(&target).unwrap();
        for bit in 0..pristine.len() * 8 {
            let byte = (bit / 8) as u64;
            let span = spans.iter().find(|span| &span.file == file && span.start <= byte && byte < span.end).unwrap();
            let mut flipped = pristine.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            handle.write_at(&flipped[bit / 8..bit / 8 + 1], byte).unwrap();
            let context = format!("bit {bit} of {} (record {})", file.display(), span.seq);

            if span.seq == last.seq {
                // The last record: indistinguishable from a crash in mid-write.
                match verify(&work) {
                    Err(Error::TornTail { file: at, offset, dropped_bytes, last_seq, .. }) => {
                        assert_eq!(at, target, "{context}");
                        assert_eq!((offset, dropped_bytes, last_seq), (last.start, last.end - last.start, RECORDS - 1));
                    }
                    other => panic!("{context}: {other:?}"),
                }
                let (_, recovery) = Writer::open(&work, WriterOptions::default()).unwrap();
                assert_eq!(recovery.dropped_tail_bytes, last.end - last.start, "{context}");
                assert_eq!((recovery.last_seq, recovery.head_hash), (RECORDS - 1, spans[spans.len() - 2].hash));
                torn_flips += 1;
                // Recovery truncated the file: put the record back (the flip is undone below).
                handle.write_at(&pristine, 0).unwrap();
            } else {
                let error = verify(&work).expect_err(&context);
                let Error::Corrupt { file: at, offset, seq, .. } = &error else { panic!("{context}: {error}") };
                assert_eq!((at, *offset, *seq), (&target, span.start, span.seq), "{context}");
                let message = error.to_string();
                assert!(message.contains(&format!("byte offset {}", span.start)), "{context}: {message}");
                assert!(message.contains(file.file_name().unwrap().to_str().unwrap()), "{context}: {message}");
                // Opening for writing refuses too, and changes nothing.
                assert!(matches!(Writer::open(&work, WriterOptions::default()), Err(Error::Corrupt { .. })));
                assert_eq!(fs::read(&target).unwrap(), flipped, "{context}: open changed the file");
                // A reader hands out every record before the damage, then the error.
                let results: Vec<_> = Reader::open(&work).unwrap().collect();
                assert_eq!(results.len() as u64, span.seq, "{context}");
                assert!(results.last().unwrap().is_err(), "{context}");
                corrupt_flips += 1;
            }
            handle.write_at(&pristine[bit / 8..bit / 8 + 1], byte).unwrap();
        }
    }
    assert_eq!(verify(&work).unwrap().seq, RECORDS);
    assert_eq!(torn_flips as u64, (last.end - last.start) * 8);
    assert!(corrupt_flips > 30_000, "{corrupt_flips} flips checked");
}
