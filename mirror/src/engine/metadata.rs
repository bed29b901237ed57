//! A side's metadata on its `metadata` device or file: the B103 record, the generation
//! identifiers and the write-intent bitmap, crash-safe.
//!
//! In: the header the engine wants durable, bitmap blocks to write. Out: the last header
//! that reached stable storage and the bitmap, after any crash.
//!
//! Layout (all integers little-endian; docs/mirror.md has the table):
//! - bytes 0..4096: header copy 0; bytes 4096..8192: header copy 1. A header goes to the
//!   copy `seq % 2`, so an update overwrites the older copy and a torn write of it leaves
//!   the newer one intact; reading takes the valid copy (magic, version, CRC32C) with the
//!   highest sequence number.
//! - bytes 8192..: the bitmap, one bit per region (bit `r % 8` of byte `r / 8`), in 4 KiB
//!   blocks written whole. A bitmap block needs no copy: the engine only writes a block
//!   whose other bits are unchanged, so a torn block holds, for every bit, its old or its
//!   new value, and a bit being set is set before the data write it covers starts.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use baton_core::io::MirrorRecord;

/// Bytes of one header copy's slot.
pub const SLOT_BYTES: u64 = 4096;
/// Where the bitmap starts.
pub const BITMAP_OFFSET_BYTES: u64 = 2 * SLOT_BYTES;
/// The unit in which the bitmap is written.
pub const BITMAP_BLOCK_BYTES: u64 = 4096;
/// One bit of the bitmap covers this much of the data device. 64 KiB: a 1 TiB volume
/// has 16 Mi regions (a 2 MiB bitmap, one 4 KiB block per 2 GiB of data), a random 4 KiB
/// write dirties at most 64 KiB of copy, and a differential rebuild moves whole 64 KiB
/// runs (big enough frames to stream at line rate). DRBD uses 4 KiB bits for the
/// bitmap and 4 MiB activity-log extents; one size for both keeps one structure.
pub const DEFAULT_REGION_BYTES: u32 = 64 * 1024;
/// Generation identifiers kept besides the current and the bitmap's.
pub const HISTORY_LEN: usize = 4;
/// The largest volume the metadata accepts (1 PiB: a 2 GiB bitmap at 64 KiB regions).
pub const MAX_SIZE_BYTES: u64 = 1 << 50;

const MAGIC: [u8; 8] = *b"BTNMETA1";
const VERSION: u32 = 1;
/// Bytes of a header before its CRC32C.
const HEADER_BODY_BYTES: usize = 108;
const NONE_MS: u64 = u64::MAX;

/// The durable state of a side besides its bitmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Incremented at every write of the header; picks the newer copy.
    pub seq: u64,
    pub size_bytes: u64,
    pub region_bytes: u32,
    /// B103.
    pub record: MirrorRecord,
    /// This side's data history: changes whenever this side writes without its peer
    /// (a break), so that two histories are never confused.
    pub current_gen: u64,
    /// The generation the bitmap counts from (0: the bitmap tracks no break): a peer
    /// whose current generation is this one misses exactly the bitmap's regions.
    pub bitmap_gen: u64,
    /// Earlier current generations, newest first (0: unused).
    pub history: [u64; HISTORY_LEN],
}

impl Header {
    /// A fresh header for a volume of `size_bytes`.
    pub fn new(size_bytes: u64, region_bytes: u32, record: MirrorRecord, current_gen: u64) -> Header {
        Header { seq: 0, size_bytes, region_bytes, record, current_gen, bitmap_gen: 0, history: [0; HISTORY_LEN] }
    }

    /// Regions of the data device (the last one may be partial).
    pub fn regions(&self) -> u64 {
        self.size_bytes.div_ceil(u64::from(self.region_bytes))
    }

    /// Bytes the bitmap takes on the metadata device, whole blocks.
    pub fn bitmap_bytes(&self) -> u64 {
        self.regions().div_ceil(8).div_ceil(BITMAP_BLOCK_BYTES) * BITMAP_BLOCK_BYTES
    }

    /// Starts a new data history (a break): the old current goes to the history.
    pub fn new_generation(&mut self, gen: u64) {
        self.history.rotate_right(1);
        self.history[0] = self.current_gen;
        self.current_gen = gen;
    }

    fn encode(&self) -> [u8; HEADER_BODY_BYTES + 4] {
        let mut b = [0u8; HEADER_BODY_BYTES + 4];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_BODY_BYTES as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.size_bytes.to_le_bytes());
        b[32..36].copy_from_slice(&self.region_bytes.to_le_bytes());
        let (kind, full, break_ms, updated_ms) = encode_record(self.record);
        b[36] = kind;
        b[37] = full;
        b[40..48].copy_from_slice(&break_ms.to_le_bytes());
        b[48..56].copy_from_slice(&updated_ms.to_le_bytes());
        b[56..64].copy_from_slice(&self.current_gen.to_le_bytes());
        b[64..72].copy_from_slice(&self.bitmap_gen.to_le_bytes());
        for (i, g) in self.history.iter().enumerate() {
            b[72 + 8 * i..80 + 8 * i].copy_from_slice(&g.to_le_bytes());
        }
        let crc = crc32c::crc32c(&b[..HEADER_BODY_BYTES]);
        b[HEADER_BODY_BYTES..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// `None` for a copy that is not a valid header (never written, torn, another format).
    fn decode(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_BODY_BYTES + 4 || b[0..8] != MAGIC || le32(&b[8..12]) != VERSION {
            return None;
        }
        if le32(&b[12..16]) as usize != HEADER_BODY_BYTES
            || crc32c::crc32c(&b[..HEADER_BODY_BYTES]) != le32(&b[HEADER_BODY_BYTES..HEADER_BODY_BYTES + 4])
        {
            return None;
        }
        let mut history = [0u64; HISTORY_LEN];
        for (i, g) in history.iter_mut().enumerate() {
            *g = le64(&b[72 + 8 * i..80 + 8 * i]);
        }
        let h = Header {
            seq: le64(&b[16..24]),
            size_bytes: le64(&b[24..32]),
            region_bytes: le32(&b[32..36]),
            record: decode_record(b[36], b[37], le64(&b[40..48]), le64(&b[48..56]))?,
            current_gen: le64(&b[56..64]),
            bitmap_gen: le64(&b[64..72]),
            history,
        };
        h.check().ok()?;
        Some(h)
    }

    /// The bounds every header must satisfy (a valid CRC does not make a value sane).
    fn check(&self) -> io::Result<()> {
        if self.size_bytes == 0 || self.size_bytes > MAX_SIZE_BYTES {
            return Err(invalid(format!("volume size {} bytes outside 1..=2^50", self.size_bytes)));
        }
        if self.region_bytes < 4096 || !self.region_bytes.is_power_of_two() || self.region_bytes > (64 << 20) {
            return Err(invalid(format!("region size {} bytes: a power of two in 4 KiB..=64 MiB", self.region_bytes)));
        }
        Ok(())
    }
}

fn encode_record(r: MirrorRecord) -> (u8, u8, u64, u64) {
    match r {
        MirrorRecord::Synced => (0, 0, NONE_MS, NONE_MS),
        MirrorRecord::Ahead { break_ms, updated_ms } => (1, 0, break_ms, updated_ms.unwrap_or(NONE_MS)),
        MirrorRecord::Behind { full } => (2, u8::from(full), NONE_MS, NONE_MS),
        MirrorRecord::Closed => (3, 0, NONE_MS, NONE_MS),
        MirrorRecord::Forced => (4, 0, NONE_MS, NONE_MS),
        MirrorRecord::Lost => (5, 0, NONE_MS, NONE_MS),
    }
}

fn decode_record(kind: u8, full: u8, break_ms: u64, updated_ms: u64) -> Option<MirrorRecord> {
    Some(match kind {
        0 => MirrorRecord::Synced,
        1 => MirrorRecord::Ahead { break_ms, updated_ms: (updated_ms != NONE_MS).then_some(updated_ms) },
        2 => MirrorRecord::Behind { full: full != 0 },
        3 => MirrorRecord::Closed,
        4 => MirrorRecord::Forced,
        5 => MirrorRecord::Lost,
        _ => return None,
    })
}

pub(crate) fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

pub(crate) fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A random, non-zero generation identifier.
pub fn new_generation_id() -> io::Result<u64> {
    loop {
        let g = getrandom::u64().map_err(|e| io::Error::other(format!("no random generation id: {e}")))?;
        if g != 0 {
            return Ok(g);
        }
    }
}

/// How `baton mirror init` starts a side (issue 10, the manuals' initial mirror
/// construction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitRole {
    /// This side's data counts: synced, a fresh generation.
    Primary,
    /// This side's data does not count: behind with a full copy due (B104, B107, B108),
    /// a fresh generation of its own (never taken for the primary's history).
    Secondary,
    /// Both sides' devices are taken as identical (blank or cloned, B108 "a new mirror
    /// starts normal"): synced, with a generation both sides derive alike from the
    /// mirror's name and size, so that two separate runs of the command agree.
    AssumeIdentical,
}

/// Writes a new side's metadata for a volume of `size_bytes`. Refuses metadata that is
/// already valid unless `overwrite` (re-initialising a side forgets its record).
pub fn init_side(path: &Path, size_bytes: u64, role: InitRole, mirror: &str, overwrite: bool) -> io::Result<MetaStore> {
    if !overwrite && MetaStore::open(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{}: already holds mirror metadata (initialising again forgets this side's record)",
                path.display()
            ),
        ));
    }
    let (record, gen) = match role {
        InitRole::Primary => (MirrorRecord::Synced, new_generation_id()?),
        InitRole::Secondary => (MirrorRecord::Behind { full: true }, new_generation_id()?),
        InitRole::AssumeIdentical => {
            use sha2::{Digest, Sha256};
            let d = Sha256::new()
                .chain_update(b"baton-mirror identical")
                .chain_update(mirror.as_bytes())
                .chain_update(size_bytes.to_le_bytes())
                .finalize();
            (MirrorRecord::Synced, le64(&d[..8]).max(1))
        }
    };
    MetaStore::create(path, Header::new(size_bytes, DEFAULT_REGION_BYTES, record, gen))
}

/// Opens a side's data device for the engine. A block device is opened exclusively
/// (`O_EXCL`): it fails while mounted or held by anyone else, and nothing else can open
/// it exclusively or mount it while the engine holds it (the standby's copy is never
/// mounted while the mirror is active elsewhere, issue 10). A regular file (tests, or
/// an image) is opened plainly.
pub fn open_data(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if std::fs::metadata(path)?.file_type().is_block_device() {
        o.custom_flags(rustix::fs::OFlags::EXCL.bits() as i32);
    }
    o.open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Refuses a data device smaller than the volume its metadata describes (a wrong
/// device named in the configuration, or a shrunk one).
pub fn check_data_size(data: &File, path: &Path, h: &Header) -> io::Result<()> {
    let len = (&*data).seek(SeekFrom::End(0))?;
    if len < h.size_bytes {
        return Err(invalid(format!(
            "{}: {len} bytes, the mirror's metadata says the volume has {}",
            path.display(),
            h.size_bytes
        )));
    }
    Ok(())
}

/// An open metadata device: the header last written and the file.
pub struct MetaStore {
    file: File,
    header: Header,
}

impl MetaStore {
    /// Writes a new side's metadata (both header copies and a clear bitmap) and makes it
    /// durable. A device or file smaller than the layout is refused.
    pub fn create(path: &Path, header: Header) -> io::Result<MetaStore> {
        header.check()?;
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let need = BITMAP_OFFSET_BYTES + header.bitmap_bytes();
        let len = file.seek(SeekFrom::End(0))?;
        if len < need {
            if file.metadata()?.file_type().is_file() {
                file.set_len(need)?;
            } else {
                return Err(invalid(format!("{}: {len} bytes, the metadata needs {need}", path.display())));
            }
        }
        let zero = vec![0u8; BITMAP_BLOCK_BYTES as usize];
        let mut at = BITMAP_OFFSET_BYTES;
        while at < need {
            file.write_all_at(&zero, at)?;
            at += BITMAP_BLOCK_BYTES;
        }
        let mut store = MetaStore { file, header };
        // Both copies valid from the start: seq 1 in copy 1, then seq 2 in copy 0.
        store.header.seq = 0;
        store.write_header(header)?;
        store.write_header(header)?;
        Ok(store)
    }

    /// Reads a side's metadata: the newer valid header copy. Fails naming the device when
    /// neither copy is valid (never initialised, or not ours).
    pub fn open(path: &Path) -> io::Result<MetaStore> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut best: Option<Header> = None;
        for slot in 0..2u64 {
            let mut b = vec![0u8; HEADER_BODY_BYTES + 4];
            if file.read_exact_at(&mut b, slot * SLOT_BYTES).is_err() {
                continue;
            }
            if let Some(h) = Header::decode(&b) {
                if best.is_none_or(|x| h.seq > x.seq) {
                    best = Some(h);
                }
            }
        }
        let header = best.ok_or_else(|| {
            invalid(format!(
                "{}: no valid mirror metadata (run `baton mirror init` on this server first)",
                path.display()
            ))
        })?;
        Ok(MetaStore { file, header })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Makes `h` the durable header: written to the older copy with the next sequence
    /// number, then `fdatasync`. On error the in-memory header is unchanged.
    pub fn write_header(&mut self, mut h: Header) -> io::Result<()> {
        h.check()?;
        h.seq = self.header.seq.checked_add(1).ok_or_else(|| invalid("header sequence exhausted".into()))?;
        let slot = h.seq % 2;
        self.file.write_all_at(&h.encode(), slot * SLOT_BYTES)?;
        self.file.sync_data()?;
        self.header = h;
        Ok(())
    }

    /// The whole bitmap as 64-bit words (bit `r % 64` of word `r / 64` is region `r`).
    pub fn read_bitmap(&self) -> io::Result<Vec<u64>> {
        let regions = self.header.regions();
        let words = regions.div_ceil(64) as usize;
        let mut bytes = vec![0u8; words * 8];
        let on_disk = regions.div_ceil(8) as usize;
        self.file.read_exact_at(&mut bytes[..on_disk], BITMAP_OFFSET_BYTES)?;
        Ok(bytes.chunks(8).map(le64).collect())
    }

    /// Writes the bitmap blocks `blocks` from `words` and makes them durable.
    pub fn write_bitmap_blocks(&self, words: &[u64], blocks: &[u64]) -> io::Result<()> {
        let words_per_block = (BITMAP_BLOCK_BYTES / 8) as usize;
        let on_disk = self.header.regions().div_ceil(8);
        for &blk in blocks {
            let first = blk as usize * words_per_block;
            let mut buf = Vec::with_capacity(BITMAP_BLOCK_BYTES as usize);
            for i in first..first + words_per_block {
                buf.extend_from_slice(&words.get(i).copied().unwrap_or(0).to_le_bytes());
            }
            let start = blk * BITMAP_BLOCK_BYTES;
            let len = (on_disk.saturating_sub(start)).min(BITMAP_BLOCK_BYTES) as usize;
            self.file.write_all_at(&buf[..len], BITMAP_OFFSET_BYTES + start)?;
        }
        if !blocks.is_empty() {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Writes the whole bitmap (a rebuild's end, a new mirror) and makes it durable.
    pub fn write_bitmap(&self, words: &[u64]) -> io::Result<()> {
        let blocks: Vec<u64> = (0..self.header.bitmap_bytes() / BITMAP_BLOCK_BYTES).collect();
        self.write_bitmap_blocks(words, &blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header::new(10 << 20, DEFAULT_REGION_BYTES, MirrorRecord::Synced, 7)
    }

    #[test]
    fn a_header_survives_reopening_and_the_newer_copy_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta");
        let mut m = MetaStore::create(&p, header()).unwrap();
        let mut h = *m.header();
        h.record = MirrorRecord::Ahead { break_ms: 5, updated_ms: Some(9) };
        h.new_generation(8);
        m.write_header(h).unwrap();
        let r = MetaStore::open(&p).unwrap();
        assert_eq!(r.header().record, MirrorRecord::Ahead { break_ms: 5, updated_ms: Some(9) });
        assert_eq!((r.header().current_gen, r.header().history[0]), (8, 7));
        assert_eq!(r.header().seq, 3);
    }

    #[test]
    fn a_torn_header_write_leaves_the_other_copy_readable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta");
        let mut m = MetaStore::create(&p, header()).unwrap();
        let mut h = *m.header();
        h.record = MirrorRecord::Behind { full: true };
        m.write_header(h).unwrap(); // seq 3, copy 1
                                    // The next update (seq 4, copy 0) is torn: only its first 40 bytes reached the disk.
        let mut next = *m.header();
        next.seq = 4;
        next.record = MirrorRecord::Synced;
        let bytes = next.encode();
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&bytes[..40], 0).unwrap();
        let r = MetaStore::open(&p).unwrap();
        assert_eq!((r.header().seq, r.header().record), (3, MirrorRecord::Behind { full: true }));
        // The update done again (seq 4, copy 0), then the one after it torn in copy 1:
        // garbage after a valid prefix.
        m.write_header(next).unwrap();
        f.write_all_at(&[0xAB; 30], 50 + SLOT_BYTES).unwrap();
        let r = MetaStore::open(&p).unwrap();
        assert_eq!((r.header().seq, r.header().record), (4, MirrorRecord::Synced));
    }

    #[test]
    fn metadata_never_written_is_refused_naming_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta");
        std::fs::write(&p, vec![0u8; 65536]).unwrap();
        let e = MetaStore::open(&p).err().unwrap();
        assert!(e.to_string().contains("baton mirror init"), "{e}");
    }

    #[test]
    fn the_bitmap_round_trips_by_block() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta");
        let m = MetaStore::create(&p, header()).unwrap();
        let mut words = m.read_bitmap().unwrap();
        assert_eq!(words.len(), 3, "160 regions");
        words[0] = 1 | 1 << 63;
        words[2] = 1 << 31;
        m.write_bitmap_blocks(&words, &[0]).unwrap();
        assert_eq!(MetaStore::open(&p).unwrap().read_bitmap().unwrap(), words);
    }

    #[test]
    fn init_gives_identical_sides_one_generation_and_refuses_to_forget_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let ha = *init_side(&a, 1 << 30, InitRole::AssumeIdentical, "md1", false).unwrap().header();
        let hb = *init_side(&b, 1 << 30, InitRole::AssumeIdentical, "md1", false).unwrap().header();
        assert_eq!((ha.record, ha.current_gen), (MirrorRecord::Synced, hb.current_gen));
        let other =
            *init_side(&dir.path().join("c"), 1 << 30, InitRole::AssumeIdentical, "md2", false).unwrap().header();
        assert_ne!(other.current_gen, ha.current_gen, "another mirror, another history");
        let e = init_side(&a, 1 << 30, InitRole::Primary, "md1", false).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let p = *init_side(&a, 1 << 30, InitRole::Primary, "md1", true).unwrap().header();
        let s = *init_side(&b, 1 << 30, InitRole::Secondary, "md1", true).unwrap().header();
        assert_eq!((p.record, s.record), (MirrorRecord::Synced, MirrorRecord::Behind { full: true }));
        assert_ne!(p.current_gen, s.current_gen);
    }

    #[test]
    fn insane_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = header();
        h.region_bytes = 1000;
        assert!(MetaStore::create(&dir.path().join("m"), h).is_err());
    }
}
