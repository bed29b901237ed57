//! The replication engine (issue 10): a side's metadata and write-intent bitmap, the
//! authenticated protocol between the two sides, the replicated [`crate::Volume`] of the
//! active side ([`Primary`]), the standby side that applies its writes ([`Secondary`]),
//! and the rebuild.
//!
//! In: the devices' paths, the peer's addresses, the key (derived from the cluster
//! secret by the caller), the mode; reads, writes and flushes. Out: a volume that loses
//! no acknowledged write, each side's record (B103) kept durable, status and counters.
//! The engine decides nothing the core decides (B100–B117): it records a break when a
//! write cannot reach the peer, and copies when asked.

mod asyncq;
pub mod bitmap;
pub mod link;
pub mod metadata;
mod peer;
mod primary;
pub mod protocol;
pub mod rebuild;
mod secondary;

pub use peer::PeerSync;
pub use primary::{Mode, Primary, PrimaryConfig, PrimaryStatus};
pub use rebuild::RebuildProgress;
pub use secondary::{Secondary, SecondaryConfig};
