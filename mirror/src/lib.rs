//! The mirror disk (issue 10): a replicated volume that loses no acknowledged write.
//!
//! Two halves meet at one narrow interface, [`Volume`]:
//! - the **engine** ([`engine`]) owns a side's data and metadata devices, the
//!   write-intent bitmap and the replication connection to the peer; it implements
//!   [`Volume`] so that a write returns only when it is as durable as the mode promises
//!   (`sync`: on both sides' stable storage);
//! - a **front end** ([`front`]) serves any [`Volume`] to the kernel as a block
//!   device the application's file system sits on: here a FUSE-exposed image file with a
//!   loop device in direct-I/O mode over it; on production hosts later, ublk. A front end
//!   never knows about peers, metadata or modes, so a new one does not touch the engine.
//!
//! What flows in: reads, writes and flushes at byte offsets from the front end. What flows
//! out: data, and errors that the front end turns into EIO for the kernel. Nothing here
//! decides *whether* a side may be active: that is the core's (B100–B117).

pub mod engine;
pub mod front;
pub mod process;

use std::io;

/// A block volume as a front end sees it. Offsets and lengths are bytes; a front end
/// passes only requests inside `0..size_bytes()` (it checks, the volume asserts).
///
/// Calls may come from several threads at once (a front end serves a queue depth above
/// one); a volume orders what it must itself.
pub trait Volume: Send + Sync + 'static {
    /// The volume's size, fixed for its lifetime.
    fn size_bytes(&self) -> u64;
    /// Fills `buf` from `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes `data` at `offset`. Returning `Ok` acknowledges the write to the
    /// application as durable as the volume's mode promises (`sync`: on both sides'
    /// stable storage; `async`: on this side's, the peer within the bounded lag).
    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every write acknowledged before this call durable (an `fsync` through the
    /// file system ends here): after `Ok`, a crash of this server loses none of them.
    fn flush(&self) -> io::Result<()>;
}
