//! baton's durable event log: one append-only, hash-chained log per server.
//!
//! In: values to record (anything `Serialize`), appended by one [`Writer`] per log
//! directory. Out: segment files `DIR/<first seq, 20 digits>.log` holding framed records
//! (length, CRC32C, sequence number, SHA-256 chain hash, MessagePack body), read back in
//! order by a [`Reader`] and checked end to end by [`verify`].
//!
//! * Group commit: `append` fills an in-memory batch; `flush`/`commit` write it with one
//!   `write_all` and one `fsync`. See [`Writer`] for who flushes when.
//! * Recovery: [`Writer::open`] cuts a torn tail (what a crash in mid-write leaves) and
//!   says so in a [`Recovery`]; damage anywhere else is an [`Error::Corrupt`] naming the
//!   file, byte offset and sequence number. Nothing is ever skipped silently.
//! * The byte-level format and the rules are in `docs/event-log.md`.

mod bench;
mod error;
mod format;
mod reader;
mod segment;
mod writer;

pub use bench::{bench, BenchResult};
pub use error::{Damage, Error};
pub use format::{Hash, GENESIS_HASH, HEADER_BYTES, MAX_BODY_BYTES};
pub use reader::{verify, Reader, Record};
pub use writer::{Writer, WriterOptions};

/// The head of a log: its last sequence number (0 when empty) and that record's chain
/// hash ([`GENESIS_HASH`] when empty). Two logs with the same head hash hold the same
/// bodies in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
}

/// What opening a log found: how many bytes of torn tail were cut off (0 after a clean
/// shutdown) and the head that remains. A non-zero `dropped_tail_bytes` is worth a
/// warning in the daemon's log: records that were appended but never committed are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    pub dropped_tail_bytes: u64,
    pub last_seq: u64,
    pub head_hash: Hash,
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.dropped_tail_bytes > 0 {
            write!(f, "cut a torn tail of {} bytes; ", self.dropped_tail_bytes)?;
        }
        write!(f, "log ends at sequence number {}", self.last_seq)
    }
}
