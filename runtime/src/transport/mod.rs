//! The authenticated cluster transport: heartbeats and cluster messages between
//! servers over UDP, every packet tagged with HMAC-SHA256 under the cluster secret and
//! checked against replay. Format and rules: `docs/transport.md`.
//!
//! In: `(to, path, Heartbeat | Message)` to send; datagrams from the network.
//! Out: accepted `(from, path, Heartbeat | Message)`; counters of everything dropped.
//!
//! * [`packet`]: the wire format (pure codec).
//! * [`replay`]: per-sender replay protection (pure).
//! * [`counters`]: drop reasons and the status counters.
//! * [`secret`]: loading the cluster secret file.
//! * [`udp`]: the tokio UDP endpoint tying them together.

pub mod counters;
pub mod packet;
pub mod replay;
pub mod secret;
pub mod udp;

pub use counters::{Counters, DropReason};
pub use packet::{Body, Key};
pub use secret::{load_secret, Secret};
pub use udp::{bind, Inbound, Inbox, Topology, Transport};
