//! Reading the log back: record by record ([`Reader`]) or all at once ([`verify`]).
//!
//! In: a log directory. Out: the records in sequence order, each checked (CRC, sequence
//! number, chain link) before it is handed out, with [`Record::decode`] to turn a body
//! back into a value; or, from `verify`, just the head. Neither ever writes: a torn tail
//! ends a `Reader` (reported by [`Reader::recovery`]) and is an error from `verify`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::format::Hash;
use crate::segment::{self, Chain, Segment, Step};
use crate::{Head, Recovery};

/// One record as stored: its sequence number, chain hash and MessagePack body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub hash: Hash,
    pub body: Vec<u8>,
}

impl Record {
    /// The body as a `T`. Bodies are MessagePack maps with named fields, so a `T` with
    /// fields added since the record was written decodes if those fields have
    /// `#[serde(default)]`, and fields `T` no longer has are ignored.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        rmp_serde::from_slice(&self.body).map_err(|source| Error::Decode { seq: self.seq, source })
    }
}

/// Iterates over the records of a log in order, checking each one.
///
/// Opening only lists the segments; each is read whole when the iteration reaches it.
/// Damage before the tail yields one `Err` (naming file, offset and sequence number) and
/// then the iteration ends. A torn tail ends the iteration without an error, as the
/// writer's recovery would cut it; [`Reader::recovery`] then says how many bytes it
/// left unread. The reader never changes the files, so it is safe to run beside a live
/// writer: a batch still being written looks like a torn tail and ends the iteration.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    segments: Vec<Segment>,
    /// Index into `segments` of the segment whose bytes are in `data`.
    current: usize,
    data: Vec<u8>,
    offset: usize,
    chain: Chain,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `current` has not been read yet.
    Unread,
    /// `data` holds `current`.
    Reading,
    /// Iteration ended cleanly; the torn tail's size (0 if none).
    Done { dropped_tail_bytes: u64 },
    /// Iteration ended with an error.
    Failed,
}

impl Reader {
    /// Lists the segments of the log in `dir` (which must exist; it may be empty).
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        let dir = dir.as_ref().to_path_buf();
        let segments = segment::list(&dir)?;
        Ok(Reader {
            dir,
            segments,
            current: 0,
            data: Vec::new(),
            offset: 0,
            chain: Chain::GENESIS,
            state: State::Unread,
        })
    }

    /// The directory being read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// After the iteration has ended without an error: the head reached and the size of
    /// the torn tail left unread (0 if the log ended cleanly). `None` before the end or
    /// after an error.
    pub fn recovery(&self) -> Option<Recovery> {
        match self.state {
            State::Done { dropped_tail_bytes } => {
                Some(Recovery { dropped_tail_bytes, last_seq: self.chain.last_seq(), head_hash: self.chain.head_hash })
            }
            State::Unread | State::Reading | State::Failed => None,
        }
    }

    /// The head reached so far: the last record handed out.
    pub fn head(&self) -> Head {
        Head { seq: self.chain.last_seq(), hash: self.chain.head_hash }
    }

    fn next_record(&mut self) -> Result<Option<Record>, Error> {
        loop {
            match self.state {
                State::Done { .. } | State::Failed => return Ok(None),
                State::Unread => {
                    let Some(segment) = self.segments.get(self.current) else {
                        self.state = State::Done { dropped_tail_bytes: 0 };
                        return Ok(None);
                    };
                    self.data = segment::read(segment)?;
                    self.offset = 0;
                    self.state = State::Reading;
                }
                State::Reading => {
                    let segment = &self.segments[self.current];
                    let is_last = self.current + 1 == self.segments.len();
                    match segment::step(&self.data, self.offset, segment, &self.chain, is_last)? {
                        Step::Record { seq, hash, body, end } => {
                            let record = Record { seq, hash, body: body.to_vec() };
                            self.chain = Chain { next_seq: seq + 1, head_hash: hash };
                            self.offset = end;
                            return Ok(Some(record));
                        }
                        Step::End => {
                            self.current += 1;
                            self.data = Vec::new();
                            self.state = State::Unread;
                        }
                        Step::TornTail { dropped_bytes, damage: _ } => {
                            self.data = Vec::new();
                            self.state = State::Done { dropped_tail_bytes: dropped_bytes };
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(record) => record.map(Ok),
            Err(error) => {
                self.state = State::Failed;
                self.data = Vec::new();
                Some(Err(error))
            }
        }
    }
}

/// Checks every CRC, sequence number and chain link of the log in `dir` and returns its
/// head. Strict: a torn tail is an [`Error::TornTail`] here (the log is not clean until
/// `Writer::open` has cut it); damage before the tail is an [`Error::Corrupt`].
/// Reads each segment whole and allocates nothing per record.
pub fn verify(dir: impl AsRef<Path>) -> Result<Head, Error> {
    let scan = segment::scan_log(dir.as_ref())?;
    match scan.torn {
        Some(torn) => Err(Error::TornTail {
            file: torn.file,
            offset: torn.offset,
            dropped_bytes: torn.dropped_bytes,
            last_seq: scan.chain.last_seq(),
            damage: torn.damage,
        }),
        None => Ok(Head { seq: scan.chain.last_seq(), hash: scan.chain.head_hash }),
    }
}
