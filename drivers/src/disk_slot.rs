//! The slot format of a shared-disk heartbeat and `disk` resolver (pure codec).
//!
//! In: what a server writes each interval ([`Slot`]: its identity, a counter, its time
//! and its latest core heartbeat) and the [`SlotKey`] derived from the cluster secret.
//! Out: the [`SLOT_BYTES`] block of its slot; and, from a block read back, either a
//! valid slot or why it was refused ([`Reject`]). [`PeerTrack`] then tells, per peer,
//! whether an accepted slot is news (its counter advanced) or old (the same or a lower
//! counter: stale or replayed), so that a slot that stopped changing is never taken for
//! a live server. The I/O lives in [`crate::slot_device`]; `docs/transport.md` §
//! "Disk heartbeat" describes the layout and the timing.
//!
//! Server `i` (0-based, in `[[server]]` order) owns the [`SLOT_BYTES`] bytes at offset
//! `i × SLOT_BYTES` of the shared device; it only ever writes there. Every field that
//! counts sits in the first 512 bytes, so one sector write carries the whole record: a
//! torn write (power lost in the middle, a sector half written) fails the tag, as does
//! anything not written by a server of this cluster with this secret.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | magic `BTSL` |
//! | 4 | 1 | format version ([`FORMAT_VERSION`]) |
//! | 5 | 3 | zero |
//! | 8 | 4 | cluster id (SHA-256 of the cluster name, first 4 bytes, as the packets) |
//! | 12 | 2 | server id (= the slot index) |
//! | 14 | 2 | zero |
//! | 16 | 8 | counter: advanced by every write (heartbeat or resolver check) |
//! | 24 | 8 | the writer's time when it wrote (epoch ms) |
//! | 32 | 8 | beat: advanced only when a new core heartbeat is written |
//! | 40 | 8 | heartbeat `run` |
//! | 48 | 1 | heartbeat `state` ([`state_code`]) |
//! | 49 | 7 | zero |
//! | 56 | 8 | heartbeat `version` |
//! | 64 | 8 | heartbeat `sent_ms` |
//! | 72 | 32 | HMAC-SHA256 of bytes 0..72 under the [`SlotKey`] |
//! | 104 | … | zero up to [`SLOT_BYTES`] (not read) |
//!
//! All integers big-endian.

use baton_core::io::{Heartbeat, ServerState};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of one slot: one 4 KiB block, so that direct I/O works on devices with 512-byte
/// and 4 KiB logical sectors alike.
pub const SLOT_BYTES: usize = 4096;
/// The first bytes of every slot.
pub const MAGIC: [u8; 4] = *b"BTSL";
/// The slot format this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes covered by the tag.
const SIGNED_BYTES: usize = 72;
/// Bytes of the record (signed part and tag).
pub const RECORD_BYTES: usize = SIGNED_BYTES + 32;

/// The key that tags slots: derived from the cluster secret by the runtime (a key of its
/// own, so a slot can never pass for a packet or the other way round).
#[derive(Clone)]
pub struct SlotKey([u8; 32]);

impl SlotKey {
    pub fn new(bytes: [u8; 32]) -> SlotKey {
        SlotKey(bytes)
    }

    fn mac(&self) -> HmacSha256 {
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }
}

impl fmt::Debug for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotKey(..)")
    }
}

/// What one slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub cluster_id: u32,
    pub server: u16,
    /// Advanced by every write of the slot.
    pub counter: u64,
    /// The writer's clock (epoch ms) at the write.
    pub written_ms: u64,
    /// Advanced each time a new core heartbeat is written (only an advance means anything).
    pub beat: u64,
    /// The latest core heartbeat written (news when `beat` advanced).
    pub heartbeat: Heartbeat,
}

/// Why a block read from a slot is not a valid slot of this cluster's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reject {
    /// All zero: never written (a fresh device, or a server that never ran).
    Empty,
    /// Not our magic: another use of the device, or a torn first sector.
    Magic,
    /// A format version this code does not read.
    Version,
    /// Another cluster's slot (cluster id differs).
    Foreign,
    /// The tag does not match: forged, torn, or written under another secret.
    Forged,
    /// A valid slot of another server in this server's place (copied there).
    Misplaced,
    /// A heartbeat state code this code does not know.
    State,
}

impl Reject {
    pub fn name(self) -> &'static str {
        match self {
            Reject::Empty => "empty",
            Reject::Magic => "bad-magic",
            Reject::Version => "bad-version",
            Reject::Foreign => "foreign-cluster",
            Reject::Forged => "bad-tag",
            Reject::Misplaced => "misplaced",
            Reject::State => "bad-state",
        }
    }

    /// Every reason, for counters.
    pub const ALL: [Reject; 7] = [
        Reject::Empty,
        Reject::Magic,
        Reject::Version,
        Reject::Foreign,
        Reject::Forged,
        Reject::Misplaced,
        Reject::State,
    ];
}

/// The byte of a heartbeat state in a slot.
pub fn state_code(state: ServerState) -> u8 {
    match state {
        ServerState::Online => 1,
        ServerState::Syncing => 2,
        ServerState::Suspended => 3,
        ServerState::Down => 4,
        ServerState::Stopped => 5,
        ServerState::Off => 6,
    }
}

fn state_of(code: u8) -> Option<ServerState> {
    Some(match code {
        1 => ServerState::Online,
        2 => ServerState::Syncing,
        3 => ServerState::Suspended,
        4 => ServerState::Down,
        5 => ServerState::Stopped,
        6 => ServerState::Off,
        _ => return None,
    })
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// Writes `slot` into `block` (at least [`RECORD_BYTES`] long; the rest is zeroed).
pub fn encode(slot: &Slot, key: &SlotKey, block: &mut [u8]) {
    block.fill(0);
    block[0..4].copy_from_slice(&MAGIC);
    block[4] = FORMAT_VERSION;
    block[8..12].copy_from_slice(&slot.cluster_id.to_be_bytes());
    block[12..14].copy_from_slice(&slot.server.to_be_bytes());
    block[16..24].copy_from_slice(&slot.counter.to_be_bytes());
    block[24..32].copy_from_slice(&slot.written_ms.to_be_bytes());
    block[32..40].copy_from_slice(&slot.beat.to_be_bytes());
    block[40..48].copy_from_slice(&slot.heartbeat.run.to_be_bytes());
    block[48] = state_code(slot.heartbeat.state);
    block[56..64].copy_from_slice(&slot.heartbeat.version.to_be_bytes());
    block[64..72].copy_from_slice(&slot.heartbeat.sent_ms.to_be_bytes());
    let mut mac = key.mac();
    mac.update(&block[..SIGNED_BYTES]);
    let tag = mac.finalize().into_bytes();
    block[SIGNED_BYTES..RECORD_BYTES].copy_from_slice(&tag);
}

/// Reads the slot of server `index` from `block`: valid only if it is this cluster's
/// (`cluster_id`), tagged under `key`, and written by the server that owns the place.
pub fn decode(block: &[u8], index: u16, cluster_id: u32, key: &SlotKey) -> Result<Slot, Reject> {
    if block.len() < RECORD_BYTES {
        return Err(Reject::Magic);
    }
    let record = &block[..RECORD_BYTES];
    if record.iter().all(|b| *b == 0) {
        return Err(Reject::Empty);
    }
    if record[0..4] != MAGIC {
        return Err(Reject::Magic);
    }
    if record[4] != FORMAT_VERSION {
        return Err(Reject::Version);
    }
    // The tag first: an unauthenticated cluster id or server id says nothing.
    let mut mac = key.mac();
    mac.update(&record[..SIGNED_BYTES]);
    if mac.verify_slice(&record[SIGNED_BYTES..RECORD_BYTES]).is_err() {
        return Err(Reject::Forged);
    }
    let found_cluster = u32::from_be_bytes([record[8], record[9], record[10], record[11]]);
    if found_cluster != cluster_id {
        return Err(Reject::Foreign);
    }
    let server = u16::from_be_bytes([record[12], record[13]]);
    if server != index {
        return Err(Reject::Misplaced);
    }
    let state = state_of(record[48]).ok_or(Reject::State)?;
    Ok(Slot {
        cluster_id: found_cluster,
        server,
        counter: u64_at(record, 16),
        written_ms: u64_at(record, 24),
        beat: u64_at(record, 32),
        heartbeat: Heartbeat {
            run: u64_at(record, 40),
            state,
            version: u64_at(record, 56),
            sent_ms: u64_at(record, 64),
        },
    })
}

/// What a valid slot read means against the ones read before from the same peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The first valid slot seen from this peer in this run: a baseline only (it may be
    /// years old), neither alive nor a heartbeat.
    First,
    /// The counter advanced: the peer wrote since the last read. `beat` when it also
    /// wrote a new core heartbeat.
    Advanced { beat: bool },
    /// The same counter as last time: the peer did not write.
    Unchanged,
    /// A lower counter than one already accepted: an old slot put back (restored
    /// image, replay); ignored.
    Stale,
}

/// Per peer, the highest counter and beat accepted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerTrack {
    last: Option<(u64, u64)>,
}

impl PeerTrack {
    /// Takes a valid slot of the peer into account.
    pub fn observe(&mut self, slot: &Slot) -> Seen {
        match self.last {
            None => {
                self.last = Some((slot.counter, slot.beat));
                Seen::First
            }
            Some((counter, _)) if slot.counter == counter => Seen::Unchanged,
            Some((counter, _)) if slot.counter < counter => Seen::Stale,
            Some((_, beat)) => {
                self.last = Some((slot.counter, slot.beat.max(beat)));
                Seen::Advanced { beat: slot.beat > beat }
            }
        }
    }

    /// The highest counter accepted, if any.
    pub fn counter(&self) -> Option<u64> {
        self.last.map(|(c, _)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SlotKey {
        SlotKey::new([7; 32])
    }

    fn slot(server: u16, counter: u64, beat: u64) -> Slot {
        Slot {
            cluster_id: 0xC0FF_EE00,
            server,
            counter,
            written_ms: 1_700_000_000_000,
            beat,
            heartbeat: Heartbeat { run: 42, state: ServerState::Online, version: 9, sent_ms: 1_700_000_000_001 },
        }
    }

    fn block_of(s: &Slot, k: &SlotKey) -> Vec<u8> {
        let mut b = vec![0u8; SLOT_BYTES];
        encode(s, k, &mut b);
        b
    }

    #[test]
    fn a_slot_round_trips() {
        let s = slot(1, 5, 3);
        assert_eq!(decode(&block_of(&s, &key()), 1, 0xC0FF_EE00, &key()), Ok(s));
    }

    #[test]
    fn every_flipped_bit_of_the_record_is_refused() {
        let good = block_of(&slot(1, 5, 3), &key());
        for byte in 0..RECORD_BYTES {
            for bit in 0..8 {
                let mut b = good.clone();
                b[byte] ^= 1 << bit;
                assert!(decode(&b, 1, 0xC0FF_EE00, &key()).is_err(), "bit {bit} of byte {byte}");
            }
        }
    }

    #[test]
    fn a_forged_tag_or_another_secret_is_refused() {
        let mut b = block_of(&slot(1, 5, 3), &key());
        b[SIGNED_BYTES..RECORD_BYTES].fill(0xAA);
        assert_eq!(decode(&b, 1, 0xC0FF_EE00, &key()), Err(Reject::Forged));
        let other = block_of(&slot(1, 5, 3), &SlotKey::new([8; 32]));
        assert_eq!(decode(&other, 1, 0xC0FF_EE00, &key()), Err(Reject::Forged));
        // The counter raised without the key: the tag no longer matches.
        let mut raised = block_of(&slot(1, 5, 3), &key());
        raised[23] = 99;
        assert_eq!(decode(&raised, 1, 0xC0FF_EE00, &key()), Err(Reject::Forged));
    }

    #[test]
    fn a_foreign_cluster_or_a_misplaced_slot_is_refused() {
        let b = block_of(&slot(1, 5, 3), &key());
        assert_eq!(decode(&b, 1, 0x1234_5678, &key()), Err(Reject::Foreign));
        assert_eq!(decode(&b, 0, 0xC0FF_EE00, &key()), Err(Reject::Misplaced));
    }

    #[test]
    fn a_zero_or_torn_slot_is_refused() {
        assert_eq!(decode(&vec![0u8; SLOT_BYTES], 1, 0xC0FF_EE00, &key()), Err(Reject::Empty));
        // A write torn after its first bytes: the rest still holds the old record's zeros.
        let good = block_of(&slot(1, 5, 3), &key());
        for cut in [4, 20, 40, 71, 80, 103] {
            let mut torn = vec![0u8; SLOT_BYTES];
            torn[..cut].copy_from_slice(&good[..cut]);
            assert!(decode(&torn, 1, 0xC0FF_EE00, &key()).is_err(), "torn at {cut}");
        }
        // A newer record torn over an older one.
        let older = block_of(&slot(1, 4, 2), &key());
        let mut mixed = older.clone();
        mixed[..30].copy_from_slice(&good[..30]);
        assert_eq!(decode(&mixed, 1, 0xC0FF_EE00, &key()), Err(Reject::Forged));
        let mut junk = vec![0u8; SLOT_BYTES];
        junk[..4].copy_from_slice(b"EXT4");
        assert_eq!(decode(&junk, 1, 0xC0FF_EE00, &key()), Err(Reject::Magic));
    }

    #[test]
    fn only_an_advancing_counter_is_news() {
        let mut t = PeerTrack::default();
        assert_eq!(t.observe(&slot(1, 10, 2)), Seen::First);
        assert_eq!(t.observe(&slot(1, 10, 2)), Seen::Unchanged);
        assert_eq!(t.observe(&slot(1, 11, 2)), Seen::Advanced { beat: false });
        assert_eq!(t.observe(&slot(1, 12, 3)), Seen::Advanced { beat: true });
        // An older slot put back (a replay of a valid record) is stale, not alive.
        assert_eq!(t.observe(&slot(1, 11, 2)), Seen::Stale);
        assert_eq!(t.counter(), Some(12));
        assert_eq!(t.observe(&slot(1, 13, 3)), Seen::Advanced { beat: false });
    }
}
