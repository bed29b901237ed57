//! Record framing, byte by byte (see `docs/event-log.md`).
//!
//! In: a sequence number, the previous record's chain hash and a body, to frame into a
//! batch buffer; or a segment's bytes and an offset, to parse. Out: the framed bytes and
//! the new chain hash; or the parsed frame, or the [`Damage`] that makes it unreadable.
//! Sequence and chain *continuity* are checked by the caller (`segment.rs`), which knows
//! what came before; this module only knows one frame at a time.
//!
//! Layout of one record, all integers little-endian:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | body length `L` (u32) |
//! | 4 | 4 | CRC32C (Castagnoli) over bytes `0..4` and `8..48+L`: everything but itself |
//! | 8 | 8 | sequence number (u64), 1 for the first record of the log |
//! | 16 | 32 | chain hash = SHA-256(previous record's chain hash ‖ body); zeros before seq 1 |
//! | 48 | L | body: MessagePack with named fields (`rmp_serde::to_vec_named`) |

use sha2::{Digest, Sha256};

use crate::error::Damage;

/// A SHA-256 chain hash.
pub type Hash = [u8; 32];

/// The chain hash "before" the first record: 32 zero bytes. Every log starts from it,
/// so two logs with the same bodies have the same hashes (no per-log header needed).
pub const GENESIS_HASH: Hash = [0; 32];

/// Bytes before the body: length, CRC, sequence number, chain hash.
pub const HEADER_BYTES: usize = 48;

/// The largest body a record may carry. A length field above this is damage, not a
/// request to read gigabytes: it bounds what a flipped length bit can make us believe.
pub const MAX_BODY_BYTES: usize = 256 << 20;

const LENGTH_AT: usize = 0;
const CRC_AT: usize = 4;
const SEQ_AT: usize = 8;
const HASH_AT: usize = 16;

/// One well-formed frame found in a segment (its CRC matched).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub seq: u64,
    pub hash: Hash,
    /// Offset of the body within the segment.
    pub body_start: usize,
    /// Offset just past the body: where the next record starts.
    pub end: usize,
}

/// SHA-256(previous ‖ body): what a record's chain hash must be.
pub(crate) fn chain_hash(previous: &Hash, body: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(body);
    hasher.finalize().into()
}

/// CRC32C over a whole frame except the CRC field itself. Covering the length too means
/// a flipped length bit is caught by the CRC even when the new length still fits.
fn frame_crc(frame: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&frame[LENGTH_AT..CRC_AT]), &frame[SEQ_AT..])
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&data[at..at + 4]);
    u32::from_le_bytes(bytes)
}

pub(crate) fn read_u64(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Fills in the header of the record whose header slot starts at `start` in `buf` and
/// whose body runs from `start + HEADER_BYTES` to the end of `buf`. Returns the record's
/// chain hash. The caller has checked the body length against [`MAX_BODY_BYTES`].
pub(crate) fn seal(buf: &mut [u8], start: usize, seq: u64, previous: &Hash) -> Hash {
    let frame = &mut buf[start..];
    let body_bytes = frame.len() - HEADER_BYTES;
    debug_assert!(body_bytes <= MAX_BODY_BYTES);
    let hash = chain_hash(previous, &frame[HEADER_BYTES..]);
    // Lossless: MAX_BODY_BYTES < u32::MAX.
    frame[LENGTH_AT..CRC_AT].copy_from_slice(&(body_bytes as u32).to_le_bytes());
    frame[SEQ_AT..HASH_AT].copy_from_slice(&seq.to_le_bytes());
    frame[HASH_AT..HEADER_BYTES].copy_from_slice(&hash);
    let crc = frame_crc(frame);
    frame[CRC_AT..SEQ_AT].copy_from_slice(&crc.to_le_bytes());
    hash
}

/// Parses the frame starting at `offset` (which must be `< data.len()`), checking that
/// it is complete and that its CRC matches. Says nothing about whether its sequence
/// number or chain hash fit what came before.
pub(crate) fn parse(data: &[u8], offset: usize) -> Result<Frame, Damage> {
    let available_bytes = data.len() - offset;
    if available_bytes < HEADER_BYTES {
        return Err(Damage::Truncated { available_bytes: available_bytes as u64 });
    }
    let body_bytes = read_u32(data, offset + LENGTH_AT);
    // Lossless on every platform baton runs on (usize >= 32 bits).
    let body_len = body_bytes as usize;
    if body_len > MAX_BODY_BYTES || body_len > available_bytes - HEADER_BYTES {
        return Err(Damage::Length { body_bytes });
    }
    let end = offset + HEADER_BYTES + body_len;
    let frame = &data[offset..end];
    let stored = read_u32(frame, CRC_AT);
    let computed = frame_crc(frame);
    if stored != computed {
        return Err(Damage::Crc { stored, computed });
    }
    let mut hash = [0; 32];
    hash.copy_from_slice(&frame[HASH_AT..HEADER_BYTES]);
    Ok(Frame { seq: read_u64(frame, SEQ_AT), hash, body_start: offset + HEADER_BYTES, end })
}

/// The sequence number field of a would-be frame at `offset`, unchecked. Used to skip
/// most offsets cheaply when looking for a valid record after a damaged one.
pub(crate) fn peek_seq(data: &[u8], offset: usize) -> Option<u64> {
    (data.len() - offset >= HEADER_BYTES).then(|| read_u64(data, offset + SEQ_AT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_parse_round_trips_and_any_flip_breaks_the_crc() {
        let mut buf = vec![0; HEADER_BYTES];
        buf.extend_from_slice(b"hello");
        let hash = seal(&mut buf, 0, 7, &GENESIS_HASH);
        let frame = parse(&buf, 0).expect("valid frame");
        assert_eq!((frame.seq, frame.hash, frame.body_start, frame.end), (7, hash, HEADER_BYTES, buf.len()));
        assert_eq!(hash, chain_hash(&GENESIS_HASH, b"hello"));
        for bit in 0..buf.len() * 8 {
            let mut copy = buf.clone();
            copy[bit / 8] ^= 1 << (bit % 8);
            assert!(parse(&copy, 0).is_err(), "flip of bit {bit} went unnoticed");
        }
    }
}
