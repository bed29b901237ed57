//! Sequence gaps, chain breaks and missing or empty segments: records whose CRC is fine
//! but that do not follow from what came before are reported, never skipped, and never
//! mistaken for a torn tail, even at the very end of the log.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use baton_log::{verify, Damage, Error, Reader, Writer, WriterOptions};
use common::{event, frame, reseal_crc, segment_files, spans, Span};

fn write_log(dir: &Path, records: u64) -> Vec<Span> {
    let options =
        WriterOptions { segment_bytes: 1000, max_batch_records: 16, max_batch_delay: Duration::from_secs(60) };
    let (mut writer, _) = Writer::open(dir, options).unwrap();
    for id in 1..=records {
        writer.append(&event(id)).unwrap();
    }
    writer.commit().unwrap();
    spans(dir)
}

/// Checks that `verify`, `Writer::open` and `Reader` all stop at the same damage.
fn expect_damage(dir: &Path, file: &Path, offset: u64, seq: u64, damage: Damage) {
    match verify(dir) {
        Err(Error::Corrupt { file: at, offset: found_offset, seq: found_seq, damage: found, .. }) => {
            assert_eq!((at.as_path(), found_offset, found_seq, found), (file, offset, seq, damage));
        }
        other => panic!("expected {damage:?} at {}:{offset}, got {other:?}", file.display()),
    }
    assert!(matches!(Writer::open(dir, WriterOptions::default()), Err(Error::Corrupt { .. })));
    let results: Vec<_> = Reader::open(dir).unwrap().collect();
    assert_eq!(results.len() as u64, seq, "records before the damage, then the error");
    assert!(results[..results.len() - 1].iter().all(Result::is_ok));
    assert!(results.last().unwrap().is_err());
}

#[test]
fn a_record_removed_from_the_middle_is_a_sequence_gap() {
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 30);
    let gone = &spans[4]; // seq 5, with seq 6 after it in the same segment
    assert_eq!(spans[5].file, gone.file);
    let mut data = fs::read(&gone.file).unwrap();
    data.drain(gone.start as usize..gone.end as usize);
    fs::write(&gone.file, data).unwrap();
    expect_damage(dir.path(), &gone.file, gone.start, 5, Damage::Sequence { found: 6 });
    let message = verify(dir.path()).unwrap_err().to_string();
    assert!(message.contains("sequence gap"), "{message}");
}

#[test]
fn a_wrong_sequence_number_in_the_last_record_is_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 30);
    let last = spans.last().unwrap();
    let mut data = fs::read(&last.file).unwrap();
    data[last.start as usize + 8..last.start as usize + 16].copy_from_slice(&31u64.to_le_bytes());
    reseal_crc(&mut data, last.start as usize);
    fs::write(&last.file, data).unwrap();
    expect_damage(dir.path(), &last.file, last.start, 30, Damage::Sequence { found: 31 });
}

#[test]
fn a_rewritten_body_with_a_fresh_crc_is_a_chain_break() {
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 30);
    for target in [&spans[10], spans.last().unwrap()] {
        let pristine = fs::read(&target.file).unwrap();
        let mut data = pristine.clone();
        data[target.end as usize - 1] ^= 0x55; // last body byte
        reseal_crc(&mut data, target.start as usize);
        fs::write(&target.file, data).unwrap();
        expect_damage(dir.path(), &target.file, target.start, target.seq, Damage::Chain);
        fs::write(&target.file, pristine).unwrap();
    }
    assert_eq!(verify(dir.path()).unwrap().seq, 30);
}

#[test]
fn a_self_consistent_record_from_another_chain_is_a_chain_break() {
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 10);
    let last = spans.last().unwrap();
    // A record 11 that chains from the wrong previous hash, appended by someone else.
    let (forged, _) = frame(11, &[9; 32], &rmp_serde::to_vec_named(&event(11)).unwrap());
    let mut data = fs::read(&last.file).unwrap();
    data.extend_from_slice(&forged);
    fs::write(&last.file, data).unwrap();
    expect_damage(dir.path(), &last.file, last.end, 11, Damage::Chain);
    let message = verify(dir.path()).unwrap_err().to_string();
    assert!(message.contains("chain break") && message.contains(&format!("byte offset {}", last.end)), "{message}");
}

#[test]
fn a_missing_segment_is_a_gap_at_the_start_of_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 60);
    let files = segment_files(dir.path());
    assert!(files.len() >= 4);
    let first_of = |file: &Path| spans.iter().find(|span| span.file == file).unwrap().seq;
    fs::remove_file(&files[1]).unwrap();
    expect_damage(dir.path(), &files[2], 0, first_of(&files[1]), Damage::SegmentName { named: first_of(&files[2]) });

    // Without its first segment the log cannot be checked from the genesis hash.
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 60);
    let files = segment_files(dir.path());
    let second_first_seq = spans.iter().find(|span| span.file == files[1]).unwrap().seq;
    fs::remove_file(&files[0]).unwrap();
    expect_damage(dir.path(), &files[1], 0, 1, Damage::SegmentName { named: second_first_seq });
}

#[test]
fn an_emptied_segment_before_the_last_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 60);
    let files = segment_files(dir.path());
    let first_seq: u64 = files[1].file_stem().unwrap().to_str().unwrap().parse().unwrap();
    fs::write(&files[1], b"").unwrap();
    expect_damage(dir.path(), &files[1], 0, first_seq, Damage::EmptySegment);
}

#[test]
fn damage_followed_by_valid_records_in_the_last_segment_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let spans = write_log(dir.path(), 30);
    let last_file = &spans.last().unwrap().file;
    let victim = spans.iter().find(|span| &span.file == last_file).unwrap();
    assert!(victim.seq < 30);
    let mut data = fs::read(last_file).unwrap();
    data[victim.start as usize] ^= 0xff; // its length: the frame now runs past the file
    fs::write(last_file, data).unwrap();
    let error = verify(dir.path()).unwrap_err();
    let Error::Corrupt { offset, seq, valid_after, .. } = &error else { panic!("{error}") };
    assert_eq!((*offset, *seq, *valid_after), (victim.start, victim.seq, Some(victim.end)));
    assert!(error.to_string().contains("so this is not a torn tail"), "{error}");
}

#[test]
fn files_that_are_not_segments_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 20);
    fs::write(dir.path().join("notes.txt"), b"operator notes").unwrap();
    fs::write(dir.path().join("42.log"), b"not a segment name").unwrap();
    assert_eq!(verify(dir.path()).unwrap().seq, 20);
}
