//! The wire format of the cluster transport: one UDP datagram per packet.
//!
//! In: a [`Key`], a [`Header`] and a [`Payload`] (a `baton_core::io::Heartbeat`, a
//! `baton_core::io::Message` of the reliable channel with its channel numbers, or an
//! acknowledgement) to [`encode`] (or a message serialised once, [`MessageBytes`], to
//! [`encode_message`]); a key and received bytes to [`decode`]. Out: the datagram bytes,
//! or the decoded [`Packet`], or the [`Reject`] reason why the bytes are not a packet
//! this cluster may trust. Nothing here does I/O, reads a clock or draws a random
//! number: the boot id and the sequence numbers come in.
//!
//! Layout (all integers big-endian; byte offsets):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `b"BATN"` |
//! | 4 | 1 | version (`2`) |
//! | 5 | 1 | kind: `0` heartbeat, `1` message, `2` ack |
//! | 6 | 4 | cluster id ([`cluster_id`] of the cluster name) |
//! | 10 | 2 | sender `ServerId` |
//! | 12 | 2 | path `PathId` |
//! | 14 | 8 | boot id of the sender's daemon start |
//! | 22 | 8 | packet sequence number (strictly increasing per sender boot) |
//! | 30 | 4 | body length N |
//! | 34 | N | body (below) |
//! | 34+N | 32 | HMAC-SHA256 tag over bytes 0 .. 34+N |
//!
//! Bodies: heartbeat: the MessagePack `Heartbeat`. Message: channel sequence (8),
//! low-water mark (8), then the MessagePack `Message`. Ack: the boot id of the
//! acknowledged sender (8), the cumulative acknowledgement (8); exactly 16 bytes.
//!
//! `decode` checks size, then structure (magic, version, cluster, kind, length), then
//! the tag in constant time (`hmac`'s `verify_slice`), and only then reads the body:
//! nothing of an unauthenticated body is ever parsed.

use baton_core::config::{PathId, ServerId};
use baton_core::io::{Heartbeat, Message};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The first four bytes of every packet.
pub const MAGIC: [u8; 4] = *b"BATN";
/// The wire format version this code writes and reads (2: the reliable channel's
/// message numbers and acknowledgements).
pub const VERSION: u8 = 2;
/// Bytes before the body.
pub const HEADER_BYTES: usize = 34;
/// Bytes of the HMAC-SHA256 tag.
pub const TAG_BYTES: usize = 32;
/// Bytes of a message body before the MessagePack `Message`: channel sequence and
/// low-water mark.
pub const CHANNEL_BYTES: usize = 16;
/// Bytes of an ack body: acknowledged boot id and cumulative acknowledgement.
pub const ACK_BYTES: usize = 16;
/// The largest packet sent or accepted (below the 65 507-byte IPv4 UDP payload limit,
/// so an oversized datagram can still be received and counted).
pub const MAX_PACKET_BYTES: usize = 60 * 1024;

/// The kind byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Heartbeat,
    Message,
    Ack,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Heartbeat => 0,
            Kind::Message => 1,
            Kind::Ack => 2,
        }
    }
    fn of_byte(byte: u8) -> Option<Kind> {
        [Kind::Heartbeat, Kind::Message, Kind::Ack].into_iter().find(|k| k.byte() == byte)
    }
}

/// The label of the disk slots' key ([`Key::derive`]).
pub const DISK_SLOT_LABEL: &[u8] = b"baton disk slot v1";

/// The label of the serial resolver's line key ([`Key::derive`]).
pub const SERIAL_LINE_LABEL: &[u8] = b"baton serial line v1";

/// The label of the mirror engines' link key ([`Key::derive`]): the key both sides of a
/// mirror disk authenticate their replication connections with (docs/mirror.md).
pub const MIRROR_LINK_LABEL: &[u8] = b"baton mirror link v1";

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
    /// A key of its own for another use of the secret (HMAC-SHA256 of `label` under
    /// this key): the disk heartbeat's slots are tagged with `derive(DISK_SLOT_LABEL)`,
    /// so a slot can never pass for a packet, nor a packet for a slot.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(label);
        mac.finalize().into_bytes().into()
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
    /// Strictly increasing per sender boot, across all paths and kinds (replay
    /// protection; every copy of a message draws its own).
    pub seq: u64,
}

/// What the transport hands on and takes to send: a heartbeat or a cluster message.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Heartbeat(Heartbeat),
    Message(Box<Message>),
}

/// A cluster message with its numbers on the reliable channel (see `reliable`).
#[derive(Clone, Debug, PartialEq)]
pub struct Sequenced {
    /// The message's sequence number on the channel from the sender's boot to the receiver.
    pub seq: u64,
    /// The lowest channel sequence number the sender still sends: the receiver skips
    /// to it.
    pub low_water: u64,
    pub msg: Box<Message>,
}

/// An acknowledgement of the reliable channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The boot of the acknowledged sender (the receiver of this ack): an ack of an
    /// earlier boot releases nothing.
    pub boot_id: u64,
    /// Every channel sequence number below this was delivered or skipped.
    pub cumulative: u64,
}

/// What a packet carries on the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Heartbeat(Heartbeat),
    Message(Sequenced),
    Ack(Ack),
}

/// A decoded, authenticated packet (not yet checked against replay or source address).
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    pub header: Header,
    pub payload: Payload,
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

/// A cluster message serialised once, checked to fit in a packet: the reliable channel
/// keeps it and seals a copy per send ([`encode_message`]) without serialising again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageBytes(Vec<u8>);

impl MessageBytes {
    /// The MessagePack of `msg`, or why it cannot go in one packet.
    pub fn new(msg: &Message) -> Result<MessageBytes, EncodeError> {
        let bytes = rmp_serde::to_vec(msg).map_err(|e| EncodeError::Body(e.to_string()))?;
        fits(CHANNEL_BYTES + bytes.len())?;
        Ok(MessageBytes(bytes))
    }
    /// Bytes of the serialised message.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether a body of `body_len` bytes makes a packet within [`MAX_PACKET_BYTES`].
fn fits(body_len: usize) -> Result<(), EncodeError> {
    let total = HEADER_BYTES + body_len + TAG_BYTES;
    if total > MAX_PACKET_BYTES {
        return Err(EncodeError::TooLarge(total));
    }
    Ok(())
}

/// The datagram of `header` and a body made of `parts`, tagged under `key`. The caller
/// has checked the size ([`fits`]).
fn frame(key: &Key, header: &Header, kind: Kind, parts: &[&[u8]]) -> Vec<u8> {
    let body_len: usize = parts.iter().map(|p| p.len()).sum();
    // Within MAX_PACKET_BYTES, so within u32; a wrong length would only be rejected.
    let body_len_field = u32::try_from(body_len).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_BYTES + body_len + TAG_BYTES);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind.byte());
    out.extend_from_slice(&header.cluster_id.to_be_bytes());
    out.extend_from_slice(&header.from.0.to_be_bytes());
    out.extend_from_slice(&header.path.0.to_be_bytes());
    out.extend_from_slice(&header.boot_id.to_be_bytes());
    out.extend_from_slice(&header.seq.to_be_bytes());
    out.extend_from_slice(&body_len_field.to_be_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
    let mut mac = key.mac();
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    out
}

/// The datagram of `header` and `payload`, tagged under `key`.
pub fn encode(key: &Key, header: &Header, payload: &Payload) -> Result<Vec<u8>, EncodeError> {
    match payload {
        Payload::Heartbeat(hb) => {
            let body = rmp_serde::to_vec(hb).map_err(|e| EncodeError::Body(e.to_string()))?;
            fits(body.len())?;
            Ok(frame(key, header, Kind::Heartbeat, &[&body]))
        }
        Payload::Message(s) => Ok(encode_message(key, header, s.seq, s.low_water, &MessageBytes::new(&s.msg)?)),
        Payload::Ack(ack) => {
            Ok(frame(key, header, Kind::Ack, &[&ack.boot_id.to_be_bytes(), &ack.cumulative.to_be_bytes()]))
        }
    }
}

/// The datagram of a message already serialised, with its channel sequence number and
/// the sender's low-water mark (the size was checked by [`MessageBytes::new`]).
pub fn encode_message(key: &Key, header: &Header, seq: u64, low_water: u64, msg: &MessageBytes) -> Vec<u8> {
    frame(key, header, Kind::Message, &[&seq.to_be_bytes(), &low_water.to_be_bytes(), &msg.0])
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

/// The one value MessagePack-encoded in `bytes`, with nothing after it.
fn deserialize_all<T: DeserializeOwned>(mut bytes: &[u8]) -> Result<T, Reject> {
    let value = rmp_serde::from_read::<_, T>(&mut bytes).map_err(|_| Reject::Malformed("body does not deserialise"))?;
    if !bytes.is_empty() {
        return Err(Reject::Malformed("trailing bytes after body"));
    }
    Ok(value)
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
    let kind = Kind::of_byte(bytes[5]).ok_or(Reject::Malformed("unknown kind"))?;
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
    // Authenticated from here on.
    let header = Header {
        cluster_id: cluster,
        from: ServerId(be_u16(bytes, 10)),
        path: PathId(be_u16(bytes, 12)),
        boot_id: be_u64(bytes, 14),
        seq: be_u64(bytes, 22),
    };
    let body = &bytes[HEADER_BYTES..tag_at];
    let payload = match kind {
        Kind::Heartbeat => Payload::Heartbeat(deserialize_all(body)?),
        Kind::Message => {
            if body.len() < CHANNEL_BYTES {
                return Err(Reject::Malformed("message body shorter than its channel numbers"));
            }
            Payload::Message(Sequenced {
                seq: be_u64(body, 0),
                low_water: be_u64(body, 8),
                msg: Box::new(deserialize_all(&body[CHANNEL_BYTES..])?),
            })
        }
        Kind::Ack => {
            if body.len() != ACK_BYTES {
                return Err(Reject::Malformed("ack body is not 16 bytes"));
            }
            Payload::Ack(Ack { boot_id: be_u64(body, 0), cumulative: be_u64(body, 8) })
        }
    };
    Ok(Packet { header, payload })
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

    fn arb_message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (any::<u64>(), arb_state(), any::<u64>()).prop_map(|(run, state, version)| Message::Hello {
                run,
                state,
                version
            }),
            Just(Message::StateRequest),
            proptest::collection::vec(any::<u16>(), 0..20)
                .prop_map(|groups| Message::DownNotice { groups: groups.into_iter().map(GroupId).collect() }),
            proptest::collection::vec(any::<u16>(), 0..20)
                .prop_map(|groups| Message::Fencing { groups: groups.into_iter().map(GroupId).collect() }),
            (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u16>(), 0..20)).prop_map(
                |(clean, power_off, groups)| {
                    let groups = groups.into_iter().map(GroupId).collect();
                    Message::Departure { clean, power_off, groups }
                }
            ),
        ]
    }

    fn arb_payload() -> impl Strategy<Value = Payload> {
        prop_oneof![
            (any::<u64>(), arb_state(), any::<u64>(), any::<u64>()).prop_map(|(run, state, version, sent_ms)| {
                Payload::Heartbeat(Heartbeat { run, state, version, sent_ms })
            }),
            (any::<u64>(), any::<u64>(), arb_message()).prop_map(|(seq, low_water, msg)| Payload::Message(Sequenced {
                seq,
                low_water,
                msg: Box::new(msg)
            })),
            (any::<u64>(), any::<u64>()).prop_map(|(boot_id, cumulative)| Payload::Ack(Ack { boot_id, cumulative })),
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
        fn round_trip(secret in proptest::collection::vec(any::<u8>(), 1..40), header in arb_header(), payload in arb_payload()) {
            let key = Key::from_secret(&secret);
            let bytes = encode(&key, &header, &payload).unwrap();
            let packet = decode(&key, CLUSTER, &bytes).unwrap();
            prop_assert_eq!(packet, Packet { header, payload });
        }

        #[test]
        fn any_single_byte_change_is_rejected(header in arb_header(), payload in arb_payload(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let key = Key::from_secret(b"secret");
            let mut bytes = encode(&key, &header, &payload).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            prop_assert!(decode(&key, CLUSTER, &bytes).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&Key::from_secret(b"secret"), CLUSTER, &bytes);
        }

        /// Garbage behind a valid header and tag (only a key holder could send it).
        #[test]
        fn authenticated_garbage_never_panics(kind in 0u8..4, body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let key = Key::from_secret(b"secret");
            let header = Header { cluster_id: CLUSTER, from: ServerId(1), path: PathId(0), boot_id: 7, seq: 1 };
            let mut bytes = frame(&key, &header, Kind::Heartbeat, &[&body]);
            bytes[5] = kind;
            // Re-tag after changing the kind byte.
            bytes.truncate(bytes.len() - TAG_BYTES);
            let mut mac = key.mac();
            mac.update(&bytes);
            bytes.extend_from_slice(&mac.finalize().into_bytes());
            let _ = decode(&key, CLUSTER, &bytes);
        }
    }

    fn header() -> Header {
        Header { cluster_id: CLUSTER, from: ServerId(1), path: PathId(0), boot_id: 7, seq: 1 }
    }

    #[test]
    fn other_key_is_bad_tag() {
        let payload = Payload::Ack(Ack { boot_id: 3, cumulative: 4 });
        let bytes = encode(&Key::from_secret(b"a"), &header(), &payload).unwrap();
        assert_eq!(decode(&Key::from_secret(b"b"), CLUSTER, &bytes), Err(Reject::BadTag));
        assert_eq!(decode(&Key::from_secret(b"a"), CLUSTER + 1, &bytes), Err(Reject::WrongCluster(CLUSTER)));
        let mut v1 = bytes.clone();
        v1[4] = 1;
        assert_eq!(decode(&Key::from_secret(b"a"), CLUSTER, &v1), Err(Reject::UnknownVersion(1)));
        assert_eq!(decode(&Key::from_secret(b"a"), CLUSTER, &vec![0; MAX_PACKET_BYTES + 1]), Err(Reject::TooLarge));
        assert_eq!(
            decode(&Key::from_secret(b"a"), CLUSTER, &bytes[..40]),
            Err(Reject::Malformed("shorter than header and tag"))
        );
    }

    #[test]
    fn wrong_body_lengths_are_malformed() {
        let key = Key::from_secret(b"a");
        let short_ack = frame(&key, &header(), Kind::Ack, &[&[0; 15]]);
        assert_eq!(decode(&key, CLUSTER, &short_ack), Err(Reject::Malformed("ack body is not 16 bytes")));
        let long_ack = frame(&key, &header(), Kind::Ack, &[&[0; 17]]);
        assert_eq!(decode(&key, CLUSTER, &long_ack), Err(Reject::Malformed("ack body is not 16 bytes")));
        let short_message = frame(&key, &header(), Kind::Message, &[&[0; 15]]);
        assert_eq!(
            decode(&key, CLUSTER, &short_message),
            Err(Reject::Malformed("message body shorter than its channel numbers"))
        );
        let mut unknown = frame(&key, &header(), Kind::Ack, &[&[0; 16]]);
        unknown[5] = 3;
        assert_eq!(decode(&key, CLUSTER, &unknown), Err(Reject::Malformed("unknown kind")));
    }

    #[test]
    fn message_bytes_encode_like_the_message() {
        let key = Key::from_secret(b"a");
        let msg = Message::Departure { clean: true, power_off: false, groups: vec![GroupId(3)] };
        let bytes = MessageBytes::new(&msg).unwrap();
        let sealed = encode_message(&key, &header(), 5, 2, &bytes);
        let payload = Payload::Message(Sequenced { seq: 5, low_water: 2, msg: Box::new(msg) });
        assert_eq!(sealed, encode(&key, &header(), &payload).unwrap());
        assert_eq!(sealed.len(), HEADER_BYTES + CHANNEL_BYTES + bytes.len() + TAG_BYTES);
    }

    #[test]
    fn oversized_body_is_refused_at_encode() {
        let groups = (0..40_000u16).map(GroupId).collect();
        let msg = Message::Departure { clean: true, power_off: false, groups };
        assert!(matches!(MessageBytes::new(&msg), Err(EncodeError::TooLarge(_))));
        let payload = Payload::Message(Sequenced { seq: 0, low_water: 0, msg: Box::new(msg) });
        assert!(matches!(encode(&Key::insecure(), &header(), &payload), Err(EncodeError::TooLarge(_))));
    }
}
