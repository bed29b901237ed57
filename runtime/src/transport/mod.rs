//! The authenticated cluster transport: heartbeats and cluster messages between
//! servers over UDP, every packet tagged with HMAC-SHA256 under the cluster secret and
//! checked against replay; cluster messages go on a reliable channel (acknowledged,
//! retransmitted on every shared path, delivered once and in order). Format and rules:
//! `docs/transport.md`.
//!
//! In: `(to, path, Heartbeat)` and `(to, Message)` to send; datagrams from the network.
//! Out: accepted `(from, path, Heartbeat | Message)`, messages in order per sender;
//! counters of everything dropped, retransmitted or given up.
//!
//! * [`packet`]: the wire format (pure codec).
//! * [`replay`]: per-sender replay protection (pure).
//! * [`reliable`]: the reliable channel's sender and receiver state (pure).
//! * [`counters`]: drop reasons and the status counters.
//! * [`secret`]: loading the cluster secret file.
//! * [`udp`]: the tokio UDP endpoint tying them together.

pub mod counters;
#[cfg(not(madsim))]
pub mod kernel;
pub mod packet;
pub mod reliable;
pub mod replay;
pub mod secret;
pub mod udp;

pub use counters::{Counters, DropReason};
pub use packet::{Body, Key, Payload};
pub use secret::{load_secret, Secret};
pub use udp::{bind, Inbound, Inbox, SendError, Topology, Transport};
