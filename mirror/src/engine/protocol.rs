//! The replication protocol's bytes: the handshake that proves both ends hold the key,
//! and the sealed frames that follow (HMAC-SHA256 tag, per-direction sequence number).
//!
//! In: frames to send, bytes read from a connection. Out: bytes to write, frames whose
//! tag and sequence number are right, and a typed refusal for everything else (forged,
//! replayed, reordered, oversized or malformed). Every length is bounded before any
//! allocation. docs/mirror.md has the byte tables.

use std::io::{self, Read, Write};

use baton_core::io::MirrorRecord;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const NONCE_BYTES: usize = 32;
pub const TAG_BYTES: usize = 32;
/// The largest data payload of one write or rebuild frame.
pub const MAX_DATA_BYTES: usize = 1 << 20;
/// The largest frame body: a data frame's payload and its fixed fields.
pub const MAX_BODY_BYTES: usize = MAX_DATA_BYTES + 64;
/// Bitmap words in one chunk frame (64 KiB of bitmap).
pub const BITMAP_CHUNK_WORDS: usize = 8192;
const FRAME_MAGIC: [u8; 4] = *b"BTNF";
const HEADER_BYTES: usize = 4 + 1 + 3 + 8 + 4;
const HELLO_MAGIC: [u8; 4] = *b"BTNH";
const CHALLENGE_MAGIC: [u8; 4] = *b"BTNC";
const PROOF_MAGIC: [u8; 4] = *b"BTNP";
const PROTOCOL_VERSION: u16 = 1;

/// A side's state as the other side needs it to decide what to copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateMsg {
    pub size_bytes: u64,
    pub region_bytes: u32,
    pub record: MirrorRecord,
    pub current_gen: u64,
    pub bitmap_gen: u64,
    /// Bits set in the sender's bitmap (its activity log after a crash).
    pub dirty_regions: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// An application write; acknowledged once in the peer's storage.
    Write {
        id: u64,
        offset: u64,
        data: Vec<u8>,
    },
    /// A rebuild copy of a run of regions; acknowledged like a write.
    Rebuild {
        id: u64,
        offset: u64,
        data: Vec<u8>,
    },
    /// Acknowledged after the peer's `fdatasync` of its data device.
    Flush {
        id: u64,
    },
    Ack {
        id: u64,
        ok: bool,
    },
    /// The sender's state (the secondary sends it first on every link).
    State(StateMsg),
    /// Asks for the peer's bitmap; answered by `BitmapChunk`s, the last one `last`.
    BitmapRequest {
        id: u64,
    },
    BitmapChunk {
        id: u64,
        first_word: u64,
        words: Vec<u64>,
        last: bool,
    },
    /// The destination records that it is behind with a full copy due until `RebuildDone`
    /// (an interrupted rebuild is followed by a full one, B110).
    RebuildStart {
        id: u64,
    },
    /// After a flush: the destination holds the source's data of generation `current_gen`.
    RebuildDone {
        id: u64,
        current_gen: u64,
    },
    /// The destination records that it is behind (B104): the source wrote without it.
    MarkBehind {
        id: u64,
        full: bool,
    },
    /// The secondary stops applying frames of every other connection not in `keep`
    /// (identified by their client nonces) before acknowledging: a write retried on
    /// another link can then not be overtaken by its stale copy.
    Fence {
        id: u64,
        keep: Vec<[u8; NONCE_BYTES]>,
    },
    Ping,
}

/// Why a frame or handshake was refused.
#[derive(Debug)]
pub enum Refusal {
    Io(io::Error),
    BadMagic,
    TooLong(usize),
    BadTag,
    /// A sequence number other than the next one: replayed, dropped or reordered.
    BadSeq {
        expected: u64,
        got: u64,
    },
    Malformed(&'static str),
    /// The other end does not hold the key.
    WrongKey,
}

impl Refusal {
    /// A refusal that is an attack or a corruption (counted), not a closed connection.
    pub fn is_forgery(&self) -> bool {
        match self {
            Refusal::Io(_) => false,
            Refusal::BadMagic
            | Refusal::TooLong(_)
            | Refusal::BadTag
            | Refusal::BadSeq { .. }
            | Refusal::Malformed(_)
            | Refusal::WrongKey => true,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Io(e) => write!(f, "connection: {e}"),
            Refusal::BadMagic => write!(f, "not a mirror frame"),
            Refusal::TooLong(n) => write!(f, "frame body of {n} bytes over {MAX_BODY_BYTES}"),
            Refusal::BadTag => write!(f, "frame tag wrong (forged, corrupted or another key)"),
            Refusal::BadSeq { expected, got } => write!(f, "frame sequence {got}, expected {expected} (replayed?)"),
            Refusal::Malformed(w) => write!(f, "malformed frame: {w}"),
            Refusal::WrongKey => write!(f, "the peer does not hold the mirror key"),
        }
    }
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        Refusal::Io(e)
    }
}

impl From<Refusal> for io::Error {
    fn from(r: Refusal) -> io::Error {
        match r {
            Refusal::Io(e) => e,
            other @ (Refusal::BadMagic
            | Refusal::TooLong(_)
            | Refusal::BadTag
            | Refusal::BadSeq { .. }
            | Refusal::Malformed(_)
            | Refusal::WrongKey) => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
        }
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; TAG_BYTES] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.verify_slice(tag).is_ok() // constant time
}

fn nonce() -> io::Result<[u8; NONCE_BYTES]> {
    let mut n = [0u8; NONCE_BYTES];
    getrandom::fill(&mut n).map_err(|e| io::Error::other(format!("no random nonce: {e}")))?;
    Ok(n)
}

/// One direction's sealing state: its session key and next sequence number.
pub struct Sealer {
    key: [u8; TAG_BYTES],
    seq: u64,
}

/// One direction's opening state.
pub struct Opener {
    key: [u8; TAG_BYTES],
    seq: u64,
}

/// What a handshake gives: both directions' states and the client's nonce (the
/// connection's name for `Fence`).
pub struct Session {
    pub sealer: Sealer,
    pub opener: Opener,
    pub client_nonce: [u8; NONCE_BYTES],
}

fn session_keys(key: &[u8], nc: &[u8; NONCE_BYTES], ns: &[u8; NONCE_BYTES]) -> ([u8; 32], [u8; 32]) {
    (mac(key, &[b"baton-mirror c2s", nc, ns]), mac(key, &[b"baton-mirror s2c", nc, ns]))
}

/// The connecting side's handshake: proves it holds `key` and checks that the other end
/// does, on fresh nonces from both (a recorded handshake cannot be replayed).
pub fn client_handshake<S: Read + Write>(s: &mut S, key: &[u8]) -> Result<Session, Refusal> {
    let nc = nonce()?;
    let mut hello = Vec::with_capacity(38);
    hello.extend_from_slice(&HELLO_MAGIC);
    hello.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    hello.extend_from_slice(&nc);
    s.write_all(&hello)?;
    let mut ch = [0u8; 4 + NONCE_BYTES + TAG_BYTES];
    s.read_exact(&mut ch)?;
    if ch[..4] != CHALLENGE_MAGIC {
        return Err(Refusal::BadMagic);
    }
    let mut ns = [0u8; NONCE_BYTES];
    ns.copy_from_slice(&ch[4..4 + NONCE_BYTES]);
    if !verify(key, &[b"baton-mirror server", &nc, &ns], &ch[4 + NONCE_BYTES..]) {
        return Err(Refusal::WrongKey);
    }
    let mut proof = Vec::with_capacity(36);
    proof.extend_from_slice(&PROOF_MAGIC);
    proof.extend_from_slice(&mac(key, &[b"baton-mirror client", &nc, &ns]));
    s.write_all(&proof)?;
    let (c2s, s2c) = session_keys(key, &nc, &ns);
    Ok(Session { sealer: Sealer { key: c2s, seq: 0 }, opener: Opener { key: s2c, seq: 0 }, client_nonce: nc })
}

/// The accepting side's handshake.
pub fn server_handshake<S: Read + Write>(s: &mut S, key: &[u8]) -> Result<Session, Refusal> {
    let mut hello = [0u8; 4 + 2 + NONCE_BYTES];
    s.read_exact(&mut hello)?;
    if hello[..4] != HELLO_MAGIC {
        return Err(Refusal::BadMagic);
    }
    if hello[4..6] != PROTOCOL_VERSION.to_le_bytes() {
        return Err(Refusal::Malformed("protocol version"));
    }
    let mut nc = [0u8; NONCE_BYTES];
    nc.copy_from_slice(&hello[6..]);
    let ns = nonce()?;
    let mut ch = Vec::with_capacity(68);
    ch.extend_from_slice(&CHALLENGE_MAGIC);
    ch.extend_from_slice(&ns);
    ch.extend_from_slice(&mac(key, &[b"baton-mirror server", &nc, &ns]));
    s.write_all(&ch)?;
    let mut proof = [0u8; 4 + TAG_BYTES];
    s.read_exact(&mut proof)?;
    if proof[..4] != PROOF_MAGIC {
        return Err(Refusal::BadMagic);
    }
    if !verify(key, &[b"baton-mirror client", &nc, &ns], &proof[4..]) {
        return Err(Refusal::WrongKey);
    }
    let (c2s, s2c) = session_keys(key, &nc, &ns);
    Ok(Session { sealer: Sealer { key: s2c, seq: 0 }, opener: Opener { key: c2s, seq: 0 }, client_nonce: nc })
}

impl Sealer {
    /// The frame's bytes on the wire: header, body, tag over both.
    pub fn seal(&mut self, f: &Frame) -> Vec<u8> {
        let mut out = Vec::new();
        self.seal_into(f, &mut out);
        out
    }

    /// `seal` into a buffer the caller reuses (one copy of a data frame's payload, no
    /// allocation per frame once the buffer has grown).
    pub fn seal_into(&mut self, f: &Frame, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&FRAME_MAGIC);
        out.extend_from_slice(&[kind(f), 0, 0, 0]);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // the body length, known once encoded
        encode_into(f, out);
        let body_len = (out.len() - HEADER_BYTES) as u32;
        out[16..20].copy_from_slice(&body_len.to_le_bytes());
        let tag = mac(&self.key, &[out]);
        out.extend_from_slice(&tag);
        self.seq += 1;
    }
}

impl Opener {
    /// Reads one frame; refuses anything not sealed with this session's key and the
    /// next sequence number. The caller closes the connection after a refusal (the
    /// stream cannot be trusted to resynchronise).
    pub fn open<R: Read>(&mut self, r: &mut R) -> Result<(Frame, usize), Refusal> {
        let mut head = [0u8; HEADER_BYTES];
        r.read_exact(&mut head)?;
        if head[..4] != FRAME_MAGIC {
            return Err(Refusal::BadMagic);
        }
        let len = u32::from_le_bytes([head[16], head[17], head[18], head[19]]) as usize;
        if len > MAX_BODY_BYTES {
            return Err(Refusal::TooLong(len));
        }
        let seq = super::metadata::le64(&head[8..16]);
        if matches!(head[4], 1 | 2) && (16..=16 + MAX_DATA_BYTES).contains(&len) {
            // A data frame: its payload read straight into the buffer it is kept in.
            let mut fixed = [0u8; 16];
            r.read_exact(&mut fixed)?;
            let mut data = vec![0u8; len - 16];
            r.read_exact(&mut data)?;
            let mut tag = [0u8; TAG_BYTES];
            r.read_exact(&mut tag)?;
            self.check(&[&head, &fixed, &data], &tag, seq)?;
            let (id, offset) = (super::metadata::le64(&fixed[..8]), super::metadata::le64(&fixed[8..]));
            let f = if head[4] == 1 { Frame::Write { id, offset, data } } else { Frame::Rebuild { id, offset, data } };
            return Ok((f, HEADER_BYTES + len + TAG_BYTES));
        }
        let mut rest = vec![0u8; len + TAG_BYTES];
        r.read_exact(&mut rest)?;
        self.check(&[&head, &rest[..len]], &rest[len..], seq)?;
        let f = decode(head[4], &rest[..len])?;
        Ok((f, HEADER_BYTES + len + TAG_BYTES))
    }

    /// The tag, then the sequence number (a replay carries a valid tag).
    fn check(&mut self, parts: &[&[u8]], tag: &[u8], seq: u64) -> Result<(), Refusal> {
        if !verify(&self.key, parts, tag) {
            return Err(Refusal::BadTag);
        }
        if seq != self.seq {
            return Err(Refusal::BadSeq { expected: self.seq, got: seq });
        }
        self.seq += 1;
        Ok(())
    }
}

fn kind(f: &Frame) -> u8 {
    match f {
        Frame::Write { .. } => 1,
        Frame::Rebuild { .. } => 2,
        Frame::Flush { .. } => 3,
        Frame::Ack { .. } => 4,
        Frame::State(_) => 5,
        Frame::BitmapRequest { .. } => 6,
        Frame::BitmapChunk { .. } => 7,
        Frame::RebuildStart { .. } => 8,
        Frame::RebuildDone { .. } => 9,
        Frame::MarkBehind { .. } => 10,
        Frame::Fence { .. } => 11,
        Frame::Ping => 12,
    }
}

fn encode_into(f: &Frame, b: &mut Vec<u8>) {
    let u64s = |b: &mut Vec<u8>, xs: &[u64]| xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    match f {
        Frame::Write { id, offset, data } | Frame::Rebuild { id, offset, data } => {
            u64s(b, &[*id, *offset]);
            b.extend_from_slice(data);
        }
        Frame::Flush { id } | Frame::BitmapRequest { id } | Frame::RebuildStart { id } => u64s(b, &[*id]),
        Frame::Ack { id, ok } | Frame::MarkBehind { id, full: ok } => {
            u64s(b, &[*id]);
            b.push(u8::from(*ok));
        }
        Frame::State(s) => {
            let (kind, full, break_ms, updated_ms) = record_fields(s.record);
            let fields = [s.size_bytes, u64::from(s.region_bytes), s.current_gen, s.bitmap_gen, break_ms, updated_ms];
            u64s(b, &fields);
            b.extend_from_slice(&s.dirty_regions.to_le_bytes());
            b.extend_from_slice(&[kind, full]);
        }
        Frame::BitmapChunk { id, first_word, words, last } => {
            u64s(b, &[*id, *first_word]);
            b.push(u8::from(*last));
            u64s(b, words);
        }
        Frame::RebuildDone { id, current_gen } => u64s(b, &[*id, *current_gen]),
        Frame::Fence { id, keep } => {
            u64s(b, &[*id]);
            keep.iter().for_each(|n| b.extend_from_slice(n));
        }
        Frame::Ping => {}
    }
}

fn record_fields(r: MirrorRecord) -> (u8, u8, u64, u64) {
    match r {
        MirrorRecord::Synced => (0, 0, u64::MAX, u64::MAX),
        MirrorRecord::Ahead { break_ms, updated_ms } => (1, 0, break_ms, updated_ms.unwrap_or(u64::MAX)),
        MirrorRecord::Behind { full } => (2, u8::from(full), u64::MAX, u64::MAX),
        MirrorRecord::Closed => (3, 0, u64::MAX, u64::MAX),
        MirrorRecord::Forced => (4, 0, u64::MAX, u64::MAX),
        MirrorRecord::Lost => (5, 0, u64::MAX, u64::MAX),
    }
}

fn decode(kind: u8, b: &[u8]) -> Result<Frame, Refusal> {
    let word = |i: usize| -> Result<u64, Refusal> {
        b.get(8 * i..8 * i + 8).map(super::metadata::le64).ok_or(Refusal::Malformed("short body"))
    };
    let exact = |n: usize| if b.len() == n { Ok(()) } else { Err(Refusal::Malformed("body length")) };
    Ok(match kind {
        1 | 2 => {
            if b.len() < 16 || b.len() - 16 > MAX_DATA_BYTES {
                return Err(Refusal::Malformed("data frame length"));
            }
            let (id, offset, data) = (word(0)?, word(1)?, b[16..].to_vec());
            if kind == 1 {
                Frame::Write { id, offset, data }
            } else {
                Frame::Rebuild { id, offset, data }
            }
        }
        3 | 6 | 8 => {
            exact(8)?;
            let id = word(0)?;
            match kind {
                3 => Frame::Flush { id },
                6 => Frame::BitmapRequest { id },
                _ => Frame::RebuildStart { id },
            }
        }
        4 | 10 => {
            exact(9)?;
            let (id, flag) = (word(0)?, b[8] != 0);
            if kind == 4 {
                Frame::Ack { id, ok: flag }
            } else {
                Frame::MarkBehind { id, full: flag }
            }
        }
        5 => {
            exact(58)?;
            let region_bytes = u32::try_from(word(1)?).map_err(|_| Refusal::Malformed("region size"))?;
            let record = match (b[56], b[57]) {
                (0, _) => MirrorRecord::Synced,
                (1, _) => {
                    MirrorRecord::Ahead { break_ms: word(4)?, updated_ms: Some(word(5)?).filter(|m| *m != u64::MAX) }
                }
                (2, full) => MirrorRecord::Behind { full: full != 0 },
                (3, _) => MirrorRecord::Closed,
                (4, _) => MirrorRecord::Forced,
                (5, _) => MirrorRecord::Lost,
                _ => return Err(Refusal::Malformed("record kind")),
            };
            Frame::State(StateMsg {
                size_bytes: word(0)?,
                region_bytes,
                record,
                current_gen: word(2)?,
                bitmap_gen: word(3)?,
                dirty_regions: word(6)?,
            })
        }
        7 => {
            if b.len() < 17 || !(b.len() - 17).is_multiple_of(8) || (b.len() - 17) / 8 > BITMAP_CHUNK_WORDS {
                return Err(Refusal::Malformed("bitmap chunk length"));
            }
            let words = b[17..].chunks(8).map(super::metadata::le64).collect();
            Frame::BitmapChunk { id: word(0)?, first_word: word(1)?, words, last: b[16] != 0 }
        }
        9 => {
            exact(16)?;
            Frame::RebuildDone { id: word(0)?, current_gen: word(1)? }
        }
        11 => {
            if b.len() < 8 || !(b.len() - 8).is_multiple_of(NONCE_BYTES) || (b.len() - 8) / NONCE_BYTES > 8 {
                return Err(Refusal::Malformed("fence length"));
            }
            let keep = b[8..]
                .chunks(NONCE_BYTES)
                .map(|c| {
                    let mut n = [0u8; NONCE_BYTES];
                    n.copy_from_slice(c);
                    n
                })
                .collect();
            Frame::Fence { id: word(0)?, keep }
        }
        12 => {
            exact(0)?;
            Frame::Ping
        }
        _ => return Err(Refusal::Malformed("frame kind")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair(kc: &'static [u8], ks: &'static [u8]) -> (Result<Session, Refusal>, Result<Session, Refusal>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            server_handshake(&mut s, ks)
        });
        let mut c = TcpStream::connect(a).unwrap();
        let rc = client_handshake(&mut c, kc);
        drop(c);
        (rc, t.join().unwrap())
    }

    #[test]
    fn both_ends_with_the_key_agree_on_keys_and_frames_round_trip() {
        let (c, s) = pair(b"k", b"k");
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        assert_eq!(c.client_nonce, s.client_nonce);
        let frames = vec![
            Frame::Write { id: 1, offset: 4096, data: vec![7; 4096] },
            Frame::State(StateMsg {
                size_bytes: 1 << 20,
                region_bytes: 65536,
                record: MirrorRecord::Ahead { break_ms: 3, updated_ms: None },
                current_gen: 9,
                bitmap_gen: 8,
                dirty_regions: 4,
            }),
            Frame::BitmapChunk { id: 2, first_word: 0, words: vec![1, 2, 3], last: true },
            Frame::Fence { id: 3, keep: vec![[5; 32]] },
            Frame::Ack { id: 4, ok: false },
            Frame::Ping,
        ];
        for f in frames {
            let bytes = c.sealer.seal(&f);
            let (g, n) = s.opener.open(&mut &bytes[..]).unwrap();
            assert_eq!((g, n), (f, bytes.len()));
        }
    }

    #[test]
    fn a_wrong_key_is_refused_by_both_ends() {
        let (c, s) = pair(b"right", b"wrong");
        assert!(matches!(c, Err(Refusal::WrongKey)), "the client checks the server's proof first");
        assert!(s.is_err(), "the server never gets a proof");
    }

    #[test]
    fn forged_replayed_and_reflected_frames_are_refused() {
        let (c, s) = pair(b"k", b"k");
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        let f = Frame::Write { id: 1, offset: 0, data: vec![1; 512] };
        let bytes = c.sealer.seal(&f);
        let mut forged = bytes.clone();
        forged[30] ^= 1;
        assert!(matches!(s.opener.open(&mut &forged[..]), Err(Refusal::BadTag)));
        s.opener.open(&mut &bytes[..]).unwrap();
        assert!(matches!(s.opener.open(&mut &bytes[..]), Err(Refusal::BadSeq { expected: 1, got: 0 })));
        // The server's own frame sent back to it: the other direction's key.
        let back = s.sealer.seal(&Frame::Ping);
        assert!(matches!(s.opener.open(&mut &back[..]), Err(Refusal::BadTag)));
        // A data frame too short for its fixed fields: sealed right, still refused.
        let mut short = c.sealer.seal(&Frame::Ping);
        short[4] = 1;
        let tag = mac(&c.sealer.key, &[&short[..HEADER_BYTES]]);
        short[HEADER_BYTES..].copy_from_slice(&tag);
        assert!(matches!(s.opener.open(&mut &short[..]), Err(Refusal::Malformed(_))));
        let mut huge = c.sealer.seal(&Frame::Ping);
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(s.opener.open(&mut &huge[..]), Err(Refusal::TooLong(_))));
    }
}
