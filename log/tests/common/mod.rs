//! Helpers shared by the event-log tests.
//!
//! In: log directories written by the crate. Out: copies of them, and an independent
//! reading of the on-disk format straight from `docs/event-log.md` (record spans, and
//! frames built byte by byte) so the tests check the documented format, not just the
//! crate against itself.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A record value with a variable-size part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub kind: String,
    pub payload: Vec<u8>,
}

pub fn event(id: u64) -> Event {
    // Sizes vary so that records straddle segment bounds at different offsets.
    let payload_bytes = (id * 37 % 61) as usize;
    Event { id, kind: format!("kind{}", id % 5), payload: (0..payload_bytes).map(|i| (i as u64 ^ id) as u8).collect() }
}

/// Segment files of `dir`, sorted by name (= by first sequence number).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    files.sort();
    files
}

/// Where one record sits, read with nothing but the documented layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub file: PathBuf,
    pub start: u64,
    pub end: u64,
    pub seq: u64,
    pub hash: [u8; 32],
}

/// Every record of an undamaged log, in order.
pub fn spans(dir: &Path) -> Vec<Span> {
    let mut spans = Vec::new();
    for file in segment_files(dir) {
        let data = fs::read(&file).expect("read segment");
        let mut offset = 0;
        while offset < data.len() {
            let body_bytes = u32::from_le_bytes(data[offset..offset + 4].try_into().unwrap()) as usize;
            let seq = u64::from_le_bytes(data[offset + 8..offset + 16].try_into().unwrap());
            let hash = data[offset + 16..offset + 48].try_into().unwrap();
            let end = offset + 48 + body_bytes;
            spans.push(Span { file: file.clone(), start: offset as u64, end: end as u64, seq, hash });
            offset = end;
        }
    }
    spans
}

/// One record framed byte by byte from the documented format. Returns it and its hash.
pub fn frame(seq: u64, previous: &[u8; 32], body: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let hash: [u8; 32] = Sha256::new().chain_update(previous).chain_update(body).finalize().into();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&hash);
    bytes.extend_from_slice(body);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[0..4]), &bytes[8..]);
    bytes[4..8].copy_from_slice(&crc.to_le_bytes());
    (bytes, hash)
}

/// Recomputes the CRC of the frame at `start` in `data` after a deliberate edit, so the
/// edit is seen by the sequence or chain checks rather than by the CRC.
pub fn reseal_crc(data: &mut [u8], start: usize) {
    let body_bytes = u32::from_le_bytes(data[start..start + 4].try_into().unwrap()) as usize;
    let frame = &mut data[start..start + 48 + body_bytes];
    let crc = crc32c::crc32c_append(crc32c::crc32c(&frame[0..4]), &frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Copies the files of `from` into `to` (created).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create copy dir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
    }
}

/// The path of `file` (from the original log) inside a copy of it at `copy`.
pub fn in_copy(copy: &Path, file: &Path) -> PathBuf {
    copy.join(file.file_name().expect("file name"))
}
