//! Segment files and the record-by-record scan that every reader of the log shares.
//!
//! In: a log directory (listing), or one segment's bytes plus the chain state reached
//! before it (stepping). Out: the sorted segment list; for each step the next verified
//! record, the clean end of the segment, or a torn tail; or an [`Error`] naming file,
//! offset and sequence number. `verify`, `Writer::open` and `Reader` all walk the log
//! through [`step`], so they agree exactly on what is valid, torn and corrupt.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Damage, Error};
use crate::format::{self, Hash, GENESIS_HASH, HEADER_BYTES};

const SUFFIX: &str = ".log";
const DIGITS: usize = 20;

/// One segment file: named by the sequence number of its first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub first_seq: u64,
    pub path: PathBuf,
}

/// `DIR/00000000000000000001.log`: twenty digits so names sort like numbers.
pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:0DIGITS$}{SUFFIX}"))
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, by first sequence number. Files not named like a segment are
/// not part of the log and are left alone (an operator's notes, a copy being made).
pub(crate) fn list(dir: &Path) -> Result<Vec<Segment>, Error> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let entry = entry.map_err(Error::io("list", dir))?;
        if let Some(first_seq) = entry.file_name().to_str().and_then(parse_name) {
            segments.push(Segment { first_seq, path: entry.path() });
        }
    }
    segments.sort_by_key(|segment| segment.first_seq);
    Ok(segments)
}

pub(crate) fn read(segment: &Segment) -> Result<Vec<u8>, Error> {
    fs::read(&segment.path).map_err(Error::io("read", &segment.path))
}

/// Where the chain stands: the sequence number the next record must carry and the hash
/// it must chain from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chain {
    pub next_seq: u64,
    pub head_hash: Hash,
}

impl Chain {
    pub const GENESIS: Chain = Chain { next_seq: 1, head_hash: GENESIS_HASH };

    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }
}

/// The outcome of one [`step`].
#[derive(Debug)]
pub(crate) enum Step<'a> {
    /// A verified record; the caller advances `offset` to `end` and the chain.
    Record { seq: u64, hash: Hash, body: &'a [u8], end: usize },
    /// The segment ends cleanly at `offset`.
    End,
    /// Last segment only: the bytes from `offset` to the end are a torn write.
    TornTail { dropped_bytes: u64, damage: Damage },
}

/// Reads the record at `offset` of `segment` (whose bytes are `data`), checking framing,
/// CRC, sequence number and chain link against `chain`. `is_last` says whether this is
/// the last segment, the only place a torn tail can be.
///
/// A damaged record in the last segment is a torn tail only if no valid record follows
/// it anywhere in the file: a crash tears the end of what was being written, while
/// damage followed by good data is corruption, and skipping it would hide lost records.
pub(crate) fn step<'a>(
    data: &'a [u8],
    offset: usize,
    segment: &Segment,
    chain: &Chain,
    is_last: bool,
) -> Result<Step<'a>, Error> {
    let corrupt = |damage, valid_after| Error::Corrupt {
        file: segment.path.clone(),
        offset: offset as u64,
        seq: chain.next_seq,
        damage,
        valid_after,
    };
    if offset == 0 && segment.first_seq != chain.next_seq {
        return Err(corrupt(Damage::SegmentName { named: segment.first_seq }, None));
    }
    if offset == data.len() {
        if offset == 0 && !is_last {
            return Err(corrupt(Damage::EmptySegment, None));
        }
        return Ok(Step::End);
    }
    match format::parse(data, offset) {
        Ok(frame) => {
            // The CRC matched, so these bytes are exactly what a writer wrote: a wrong
            // sequence number or hash is never a torn write, always an error.
            if frame.seq != chain.next_seq {
                return Err(corrupt(Damage::Sequence { found: frame.seq }, None));
            }
            let body = &data[frame.body_start..frame.end];
            if format::chain_hash(&chain.head_hash, body) != frame.hash {
                return Err(corrupt(Damage::Chain, None));
            }
            Ok(Step::Record { seq: frame.seq, hash: frame.hash, body, end: frame.end })
        }
        Err(damage) => match valid_record_after(data, offset + 1, chain.next_seq) {
            None if is_last => Ok(Step::TornTail { dropped_bytes: (data.len() - offset) as u64, damage }),
            valid_after => Err(corrupt(damage, valid_after.map(|at| at as u64))),
        },
    }
}

/// The first offset at or after `from` holding a frame with a matching CRC and a
/// plausible sequence number (at least `min_seq`, and no more than the records that
/// could fit in between). The sequence filter makes this cheap: almost every offset is
/// rejected by one 8-byte compare before any CRC is computed.
fn valid_record_after(data: &[u8], from: usize, min_seq: u64) -> Option<usize> {
    (from..data.len()).find(|&offset| {
        let Some(seq) = format::peek_seq(data, offset) else { return false };
        let most_records_between = ((offset - from) / HEADER_BYTES) as u64 + 1;
        seq >= min_seq && seq - min_seq <= most_records_between && format::parse(data, offset).is_ok()
    })
}

/// A torn tail found by [`scan_log`].
#[derive(Debug, Clone)]
pub(crate) struct Torn {
    pub file: PathBuf,
    pub offset: u64,
    pub dropped_bytes: u64,
    pub damage: Damage,
}

/// The whole log, checked.
#[derive(Debug, Clone)]
pub(crate) struct LogScan {
    pub chain: Chain,
    /// The last segment, if any, and how many of its bytes are whole records.
    pub last: Option<(Segment, u64)>,
    pub torn: Option<Torn>,
}

/// Reads and checks every segment of the log in `dir`: every CRC, every sequence number,
/// every chain link. Damage before the tail is an error; a torn tail is reported, not cut.
pub(crate) fn scan_log(dir: &Path) -> Result<LogScan, Error> {
    let segments = list(dir)?;
    let mut chain = Chain::GENESIS;
    let mut last = None;
    let mut torn = None;
    for (index, segment) in segments.iter().enumerate() {
        let is_last = index + 1 == segments.len();
        let data = read(segment)?;
        let mut offset = 0;
        loop {
            match step(&data, offset, segment, &chain, is_last)? {
                Step::Record { seq, hash, body: _, end } => {
                    chain = Chain { next_seq: seq + 1, head_hash: hash };
                    offset = end;
                }
                Step::End => break,
                Step::TornTail { dropped_bytes, damage } => {
                    torn = Some(Torn { file: segment.path.clone(), offset: offset as u64, dropped_bytes, damage });
                    break;
                }
            }
        }
        if is_last {
            last = Some((segment.clone(), offset as u64));
        }
    }
    Ok(LogScan { chain, last, torn })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let path = segment_path(Path::new("/d"), 42);
        assert_eq!(path, Path::new("/d/00000000000000000042.log"));
        assert_eq!(parse_name("00000000000000000042.log"), Some(42));
        for stranger in ["42.log", "0000000000000000004x.log", "00000000000000000042.log.tmp", "notes.txt"] {
            assert_eq!(parse_name(stranger), None, "{stranger}");
        }
    }
}
