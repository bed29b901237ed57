//! The wire format of the cluster transport: one UDP datagram per packet.
//!
//! In: a [`Key`], a [`Header`] and a [`Body`] (a `baton_core::io::Heartbeat` or
//! `baton_core::io::Message`) to [`encode`]; a key and received bytes to [`decode`].
//! Out: the datagram bytes, or the decoded [`Packet`], or the [`Reject`] reason why the
//! bytes are not a packet this cluster may trust. Nothing here does I/O, reads a clock
//! or draws a random number: the boot id and the sequence number come in the header.
//!
//! Layout (all integers big-endian; byte offsets):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `b"BATN"` |
//! | 4 | 1 | version (`1`) |
//! | 5 | 1 | kind: `0` heartbeat, `1` message |
//! | 6 | 4 | cluster id ([`cluster_id`] of the cluster name) |
//! | 10 | 2 | sender `ServerId` |
//! | 12 | 2 | path `PathId` |
//! | 14 | 8 | boot id of the sender's daemon start |
//! | 22 | 8 | sequence number (strictly increasing per sender boot) |
//! | 30 | 4 | body length N |
//! | 34 | N | MessagePack body |
//! | 34+N | 32 | HMAC-SHA256 tag over bytes 0 .. 34+N |
//!
//! `decode` checks size, then structure (magic, version, cluster, kind, length), then
//! the tag in constant time (`hmac`'s `verify_slice`), and only then deserialises the
//! body: nothing of an unauthenticated body is ever parsed.

use baton_core::config::{PathId, ServerId};
use baton_core::io::{Heartbeat, Message};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The first four bytes of every packet.
pub const MAGIC: [u8; 4] = *b"BATN";
/// The wire format version this code writes and reads.
pub const VERSION: u8 = 1;
/// Bytes before the body.
pub const HEADER_BYTES: usize = 34;
/// Bytes of the HMAC-SHA256 tag.
pub const TAG_BYTES: usize = 32;
/// The largest packet sent or accepted (below the 65 507-byte IPv4 UDP payload limit,
/// so an oversized datagram can still be received and counted).
pub const MAX_PACKET_BYTES: usize = 60 * 1024;

const KIND_HEARTBEAT: u8 = 0;
const KIND_MESSAGE: u8 = 1;

/// The key every packet of the cluster is authenticated with: SHA-256 of the cluster
/// secret (so a secret of any length gives a full-strength 32-byte HMAC key).
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    /// The key derived from the secret's bytes.
    pub fn from_secret(secret: &[u8]) -> Key {
        Key(Sha256::digest(secret).into())
    }
    /// The fixed all-zero key of `insecure = true` without a secret file: anyone can
    /// forge packets under it.
    pub fn insecure() -> Key {
        Key([0; 32])
    }
    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The cluster id of a cluster name: the first four bytes of its SHA-256. Lets a
/// receiver tell a packet of another baton cluster on the same port (counted as
/// `wrong_cluster`) from a forgery (`bad_tag`). Not a secret.
pub fn cluster_id(cluster_name: &str) -> u32 {
    let digest = Sha256::digest(cluster_name.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Everything of a packet but its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub cluster_id: u32,
    pub from: ServerId,
    pub path: PathId,
    /// Random per daemon start (drawn by the daemon, not here).
    pub boot_id: u64,
    /// Strictly increasing per sender boot, across all paths.
    pub seq: u64,
}

/// What a packet carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Heartbeat(Heartbeat),
    Message(Box<Message>),
}

impl Body {
    fn kind(&self) -> u8 {
        match self {
            Body::Heartbeat(_) => KIND_HEARTBEAT,
            Body::Message(_) => KIND_MESSAGE,
        }
    }
}

/// A decoded, authenticated packet (not yet checked against replay or source address).
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    pub header: Header,
    pub body: Body,
}

/// Why received bytes are not a packet to trust. Every variant is a counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Not a well-formed packet (too short, bad magic, bad kind, bad length, or an
    /// authenticated body that does not deserialise).
    Malformed(&'static str),
    /// The tag does not match: forged, corrupted, or another secret.
    BadTag,
    /// Longer than [`MAX_PACKET_BYTES`].
    TooLarge,
    /// A wire format version this code does not read.
    UnknownVersion(u8),
    /// A packet of another cluster (cluster id differs).
    WrongCluster(u32),
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::Malformed(why) => write!(f, "malformed packet: {why}"),
            Reject::BadTag => f.write_str("bad authentication tag"),
            Reject::TooLarge => write!(f, "packet larger than {MAX_PACKET_BYTES} bytes"),
            Reject::UnknownVersion(v) => write!(f, "unknown wire format version {v}"),
            Reject::WrongCluster(id) => write!(f, "packet of another cluster (id {id:08x})"),
        }
    }
}

/// Why a packet could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded packet would exceed [`MAX_PACKET_BYTES`] (this many bytes).
    TooLarge(usize),
    /// The body did not serialise (cannot happen for the core's types).
    Body(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge(n) => write!(f, "packet of {n} bytes exceeds {MAX_PACKET_BYTES}"),
            EncodeError::Body(e) => write!(f, "body does not serialise: {e}"),
        }
    }
}

/// The datagram of `header` and `body`, tagged under `key`.
pub fn encode(key: &Key, header: &Header, body: &Body) -> Result<Vec<u8>, EncodeError> {
    let body_bytes = match body {
        Body::Heartbeat(hb) => rmp_serde::to_vec(hb),
        Body::Message(msg) => rmp_serde::to_vec(msg.as_ref()),
    }
    .map_err(|e| EncodeError::Body(e.to_string()))?;
    let total = HEADER_BYTES + body_bytes.len() + TAG_BYTES;
    if total > MAX_PACKET_BYTES {
        return Err(EncodeError::TooLarge(total));
    }
    let body_len = u32::try_from(body_bytes.len()).map_err(|_| EncodeError::TooLarge(total))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(body.kind());
    out.extend_from_slice(&header.cluster_id.to_be_bytes());
    out.extend_from_slice(&header.from.0.to_be_bytes());
    out.extend_from_slice(&header.path.0.to_be_bytes());
    out.extend_from_slice(&header.boot_id.to_be_bytes());
    out.extend_from_slice(&header.seq.to_be_bytes());
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(&body_bytes);
    let mut mac = key.mac();
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// The packet in `bytes` if it is well-formed, of cluster `expected_cluster`, and
/// tagged under `key`. Never panics, whatever the bytes.
pub fn decode(key: &Key, expected_cluster: u32, bytes: &[u8]) -> Result<Packet, Reject> {
    if bytes.len() > MAX_PACKET_BYTES {
        return Err(Reject::TooLarge);
    }
    if bytes.len() < HEADER_BYTES + TAG_BYTES {
        return Err(Reject::Malformed("shorter than header and tag"));
    }
    if bytes[0..4] != MAGIC {
        return Err(Reject::Malformed("bad magic"));
    }
    if bytes[4] != VERSION {
        return Err(Reject::UnknownVersion(bytes[4]));
    }
    let cluster = be_u32(bytes, 6);
    if cluster != expected_cluster {
        return Err(Reject::WrongCluster(cluster));
    }
    let kind = bytes[5];
    if kind != KIND_HEARTBEAT && kind != KIND_MESSAGE {
        return Err(Reject::Malformed("unknown kind"));
    }
    let body_len = be_u32(bytes, 30) as usize;
    if HEADER_BYTES + body_len + TAG_BYTES != bytes.len() {
        return Err(Reject::Malformed("body length does not match datagram length"));
    }
    let tag_at = HEADER_BYTES + body_len;
    let mut mac = key.mac();
    mac.update(&bytes[..tag_at]);
    if mac.verify_slice(&bytes[tag_at..]).is_err() {
        return Err(Reject::BadTag);
    }
    let header = Header {
        cluster_id: cluster,
        from: ServerId(be_u16(bytes, 10)),
        path: PathId(be_u16(bytes, 12)),
        boot_id: be_u64(bytes, 14),
        seq: be_u64(bytes, 22),
    };
    let mut body_bytes = &bytes[HEADER_BYTES..tag_at];
    let body = if kind == KIND_HEARTBEAT {
        rmp_serde::from_read::<_, Heartbeat>(&mut body_bytes).map(Body::Heartbeat)
    } else {
        rmp_serde::from_read::<_, Message>(&mut body_bytes).map(|m| Body::Message(Box::new(m)))
    }
    .map_err(|_| Reject::Malformed("body does not deserialise"))?;
    if !body_bytes.is_empty() {
        return Err(Reject::Malformed("trailing bytes after body"));
    }
    Ok(Packet { header, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::config::GroupId;
    use baton_core::io::ServerState;
    use proptest::prelude::*;

    const CLUSTER: u32 = 0x0102_0304;

    fn arb_state() -> impl Strategy<Value = ServerState> {
        prop_oneof![
            Just(ServerState::Online),
            Just(ServerState::Syncing),
            Just(ServerState::Suspended),
            Just(ServerState::Down),
            Just(ServerState::Stopped),
            Just(ServerState::Off),
        ]
    }

    fn arb_body() -> impl Strategy<Value = Body> {
        prop_oneof![
            (any::<u64>(), arb_state(), any::<u64>()).prop_map(|(run, state, version)| Body::Heartbeat(Heartbeat {
                run,
                state,
                version
            })),
            (any::<u64>(), arb_state(), any::<u64>())
                .prop_map(|(run, state, version)| Body::Message(Box::new(Message::Hello { run, state, version }))),
            Just(Body::Message(Box::new(Message::StateRequest))),
            Just(Body::Message(Box::new(Message::DownNotice))),
            (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u16>(), 0..20)).prop_map(
                |(clean, power_off, groups)| {
                    let groups = groups.into_iter().map(GroupId).collect();
                    Body::Message(Box::new(Message::Departure { clean, power_off, groups }))
                }
            ),
        ]
    }

    fn arb_header() -> impl Strategy<Value = Header> {
        (any::<u16>(), any::<u16>(), any::<u64>(), any::<u64>()).prop_map(|(from, path, boot_id, seq)| Header {
            cluster_id: CLUSTER,
            from: ServerId(from),
            path: PathId(path),
            boot_id,
            seq,
        })
    }

    proptest! {
        #[test]
        fn round_trip(secret in proptest::collection::vec(any::<u8>(), 1..40), header in arb_header(), body in arb_body()) {
            let key = Key::from_secret(&secret);
            let bytes = encode(&key, &header, &body).unwrap();
            let packet = decode(&key, CLUSTER, &bytes).unwrap();
            prop_assert_eq!(packet, Packet { header, body });
        }

        #[test]
        fn any_single_byte_change_is_rejected(header in arb_header(), body in arb_body(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let key = Key::from_secret(b"secret");
            let mut bytes = encode(&key, &header, &body).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            prop_assert!(decode(&key, CLUSTER, &bytes).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&Key::from_secret(b"secret"), CLUSTER, &bytes);
        }
    }

    #[test]
    fn other_key_is_bad_tag() {
        let header = Header { cluster_id: CLUSTER, from: ServerId(1), path: PathId(0), boot_id: 7, seq: 1 };
        let body = Body::Message(Box::new(Message::StateRequest));
        let bytes = encode(&Key::from_secret(b"a"), &header, &body).unwrap();
        assert_eq!(decode(&Key::from_secret(b"b"), CLUSTER, &bytes), Err(Reject::BadTag));
        assert_eq!(decode(&Key::from_secret(b"a"), CLUSTER + 1, &bytes), Err(Reject::WrongCluster(CLUSTER)));
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert_eq!(decode(&Key::from_secret(b"a"), CLUSTER, &v2), Err(Reject::UnknownVersion(2)));
        assert_eq!(decode(&Key::from_secret(b"a"), CLUSTER, &vec![0; MAX_PACKET_BYTES + 1]), Err(Reject::TooLarge));
        assert_eq!(
            decode(&Key::from_secret(b"a"), CLUSTER, &bytes[..40]),
            Err(Reject::Malformed("shorter than header and tag"))
        );
    }

    #[test]
    fn oversized_body_is_refused_at_encode() {
        let header = Header { cluster_id: CLUSTER, from: ServerId(1), path: PathId(0), boot_id: 7, seq: 1 };
        let groups = (0..40_000u16).map(GroupId).collect();
        let body = Body::Message(Box::new(Message::Departure { clean: true, power_off: false, groups }));
        assert!(matches!(encode(&Key::insecure(), &header, &body), Err(EncodeError::TooLarge(_))));
    }
}
