//! Errors of the event log.
//!
//! In: what went wrong, found by the framing, the segment scan, the writer or a decode.
//! Out: one [`Error`] whose `Display` names the file, the byte offset and the sequence
//! number wherever a record is involved, so an operator can find it with `xxd`.

use std::io;
use std::path::PathBuf;

use crate::format::MAX_BODY_BYTES;

/// What is wrong with a record (or a segment) that the log cannot read past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Fewer than the 48 header bytes are left in the segment.
    Truncated { available_bytes: u64 },
    /// The length field points past the end of the segment, or above the maximum body.
    Length { body_bytes: u32 },
    /// The stored CRC32C does not match the frame.
    Crc { stored: u32, computed: u32 },
    /// The record is well formed but carries the wrong sequence number.
    Sequence { found: u64 },
    /// The record is well formed but its chain hash is not SHA-256(previous ‖ body).
    Chain,
    /// The segment's file name says it starts at `named`, but the previous segment
    /// ended elsewhere (a missing or misnamed segment).
    SegmentName { named: u64 },
    /// A segment other than the last one holds no record.
    EmptySegment,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Damage::Truncated { available_bytes } => {
                write!(f, "segment ends {available_bytes} bytes into a 48-byte record header")
            }
            Damage::Length { body_bytes } => write!(f, "body length {body_bytes} runs past the end of the segment"),
            Damage::Crc { stored, computed } => {
                write!(f, "CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")
            }
            Damage::Sequence { found } => write!(f, "sequence gap: found sequence number {found}"),
            Damage::Chain => write!(f, "chain break: hash is not SHA-256(previous hash ‖ body)"),
            Damage::SegmentName { named } => write!(f, "segment file is named for sequence number {named}"),
            Damage::EmptySegment => write!(f, "empty segment before the last one"),
        }
    }
}

/// Everything the log can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system call failed. `op` says which ("open", "write+fsync", ...).
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A record before the tail is damaged: the log cannot be read past it and nothing
    /// was skipped. `seq` is the sequence number the record at `offset` should carry.
    /// `valid_after` is the offset of a valid record found later in the same file, the
    /// reason a damaged record in the last segment is not treated as a torn tail.
    #[error(
        "{}: byte offset {offset}, sequence number {seq}: {damage}{}",
        .file.display(),
        .valid_after.map(|at| format!(" (a valid record follows at byte offset {at}, so this is not a torn tail)")).unwrap_or_default()
    )]
    Corrupt { file: PathBuf, offset: u64, seq: u64, damage: Damage, valid_after: Option<u64> },
    /// Reported by [`crate::verify`] only: the last segment ends in an incomplete or
    /// damaged record with nothing valid after it, as a crash in mid-write leaves it.
    /// [`crate::Writer::open`] cuts such a tail off; `verify` never changes files.
    #[error(
        "{}: torn tail of {dropped_bytes} bytes at byte offset {offset} after sequence number {last_seq} \
         (Writer::open cuts it off): {damage}",
        .file.display()
    )]
    TornTail { file: PathBuf, offset: u64, dropped_bytes: u64, last_seq: u64, damage: Damage },
    /// A record's body is not MessagePack of the requested type.
    #[error("sequence number {seq}: cannot decode body: {source}")]
    Decode {
        seq: u64,
        #[source]
        source: rmp_serde::decode::Error,
    },
    /// A value could not be serialised to MessagePack.
    #[error("cannot encode record body: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// A body above [`MAX_BODY_BYTES`] was appended.
    #[error("record body of {body_bytes} bytes exceeds the maximum of {MAX_BODY_BYTES} bytes")]
    TooLarge { body_bytes: usize },
    /// An earlier write or fsync failed, so what is on disk is unknown: the writer
    /// refuses further work. Reopen the log to recover from what is actually there.
    #[error("the log writer failed earlier and must be reopened")]
    Poisoned,
    /// `WriterOptions` that cannot work (a zero bound).
    #[error("invalid writer options: {0}")]
    Options(&'static str),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}
