//! Replay protection: whether an authenticated packet's (boot id, sequence) is new.
//!
//! In: the sender, boot id and sequence number of every packet whose tag checked
//! ([`ReplayGuard::check`]). Out: [`Verdict`]: accept (first packet of a boot, or a new
//! sequence number of the current boot) or reject (a duplicate, a sequence too far
//! behind the window, a packet of a boot the sender has left). No I/O, no clock.
//!
//! # Threat model
//!
//! * An attacker **without the key** cannot forge a packet: every packet carries an
//!   HMAC-SHA256 tag over its header and body (see `packet`), checked before this
//!   guard is consulted.
//! * An attacker **with captured packets** (of the current boot of a sender) cannot
//!   replay them: each (boot id, sequence) is accepted at most once. The guard keeps the
//!   highest sequence seen and a bitmap of the [`WINDOW`] sequence numbers below it, so
//!   datagrams reordered by the network within the window are still accepted, a
//!   duplicate is rejected, and anything older than the window is rejected.
//! * Captured packets of an **earlier boot** of the sender are rejected: when a sender
//!   restarts it draws a fresh random 64-bit boot id; the receiver accepts the new id
//!   (resetting the window) and retires the previous one. Packets carrying a retired
//!   boot id are rejected. The last [`RETIRED_BOOTS`] boot ids of each sender are
//!   remembered, so only packets captured more than that many restarts ago could be
//!   replayed (residual risk; rotating the cluster secret clears it).
//! * Replay protection is per sender and independent of the path: the sender uses one
//!   sequence counter for all paths, so a packet captured on one network cannot be
//!   replayed on another.
//! * Not covered: an attacker holding the key (a compromised cluster member), and
//!   denial of service (dropping or flooding packets). A receiver that restarts forgets
//!   its windows and accepts the current boot of each sender afresh.

use baton_core::config::ServerId;
use std::collections::{BTreeMap, VecDeque};

/// Sequence numbers tolerated behind the highest one seen (reordering window).
pub const WINDOW: u64 = 64;
/// Earlier boot ids remembered per sender.
pub const RETIRED_BOOTS: usize = 64;

/// The guard's decision on one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// New: hand the packet on.
    Accept,
    /// Already seen (or too old to tell): drop it.
    Duplicate,
    /// Sequence more than [`WINDOW`] behind the highest seen: drop it.
    TooOld,
    /// From a boot of the sender that a later boot replaced: drop it.
    StaleBoot,
}

impl Verdict {
    pub fn accepted(self) -> bool {
        match self {
            Verdict::Accept => true,
            Verdict::Duplicate | Verdict::TooOld | Verdict::StaleBoot => false,
        }
    }
}

/// What the guard knows of one sender.
#[derive(Clone, Debug)]
struct SenderWindow {
    boot_id: u64,
    highest_seq: u64,
    /// Bit i set: sequence `highest_seq - i` was seen (bit 0 is `highest_seq`).
    seen: u64,
    retired: VecDeque<u64>,
}

/// The replay state of every sender, kept by the receiving side.
#[derive(Clone, Debug, Default)]
pub struct ReplayGuard {
    senders: BTreeMap<ServerId, SenderWindow>,
}

impl ReplayGuard {
    pub fn new() -> ReplayGuard {
        ReplayGuard::default()
    }

    /// Whether the packet (`from`, `boot_id`, `seq`) is new; records it if so.
    pub fn check(&mut self, from: ServerId, boot_id: u64, seq: u64) -> Verdict {
        let Some(w) = self.senders.get_mut(&from) else {
            self.senders.insert(from, SenderWindow { boot_id, highest_seq: seq, seen: 1, retired: VecDeque::new() });
            return Verdict::Accept;
        };
        if boot_id != w.boot_id {
            if w.retired.contains(&boot_id) {
                return Verdict::StaleBoot;
            }
            // A boot id never seen: the sender restarted. Retire the current one.
            if w.retired.len() == RETIRED_BOOTS {
                w.retired.pop_front();
            }
            w.retired.push_back(w.boot_id);
            w.boot_id = boot_id;
            w.highest_seq = seq;
            w.seen = 1;
            return Verdict::Accept;
        }
        if seq > w.highest_seq {
            let shift = seq - w.highest_seq;
            w.seen = if shift >= WINDOW { 1 } else { (w.seen << shift) | 1 };
            w.highest_seq = seq;
            return Verdict::Accept;
        }
        let behind = w.highest_seq - seq;
        if behind >= WINDOW {
            return Verdict::TooOld;
        }
        let bit = 1u64 << behind;
        if w.seen & bit != 0 {
            return Verdict::Duplicate;
        }
        w.seen |= bit;
        Verdict::Accept
    }

    /// The boot id currently accepted from `from`, if any packet came from it.
    pub fn current_boot(&self, from: ServerId) -> Option<u64> {
        self.senders.get(&from).map(|w| w.boot_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ServerId = ServerId(1);
    const B: ServerId = ServerId(2);

    #[test]
    fn in_order_then_duplicate() {
        let mut g = ReplayGuard::new();
        for seq in 0..200 {
            assert_eq!(g.check(A, 9, seq), Verdict::Accept);
        }
        assert_eq!(g.check(A, 9, 199), Verdict::Duplicate);
        assert_eq!(g.check(A, 9, 150), Verdict::Duplicate);
        assert_eq!(g.check(A, 9, 100), Verdict::TooOld);
    }

    #[test]
    fn reordering_within_window() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.check(A, 9, 10), Verdict::Accept);
        assert_eq!(g.check(A, 9, 12), Verdict::Accept);
        assert_eq!(g.check(A, 9, 11), Verdict::Accept);
        assert_eq!(g.check(A, 9, 11), Verdict::Duplicate);
        assert_eq!(g.check(A, 9, 10 + WINDOW + 2), Verdict::Accept);
        assert_eq!(g.check(A, 9, 12), Verdict::TooOld);
        assert_eq!(g.check(A, 9, 3 + WINDOW), Verdict::Accept);
        assert_eq!(g.check(A, 9, 3 + WINDOW), Verdict::Duplicate);
    }

    #[test]
    fn big_jump_resets_bitmap() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.check(A, 9, 5), Verdict::Accept);
        assert_eq!(g.check(A, 9, 1_000_000), Verdict::Accept);
        assert_eq!(g.check(A, 9, 999_999), Verdict::Accept);
        assert_eq!(g.check(A, 9, 5), Verdict::TooOld);
    }

    #[test]
    fn new_boot_resets_and_old_boot_is_stale() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.check(A, 111, 500), Verdict::Accept);
        assert_eq!(g.check(A, 222, 0), Verdict::Accept);
        assert_eq!(g.current_boot(A), Some(222));
        assert_eq!(g.check(A, 111, 501), Verdict::StaleBoot);
        assert_eq!(g.check(A, 222, 1), Verdict::Accept);
        assert_eq!(g.check(A, 222, 0), Verdict::Duplicate);
        // Senders are independent.
        assert_eq!(g.check(B, 111, 0), Verdict::Accept);
    }

    #[test]
    fn retired_boots_are_bounded() {
        let mut g = ReplayGuard::new();
        for boot in 0..(RETIRED_BOOTS as u64 + 10) {
            assert_eq!(g.check(A, boot, 0), Verdict::Accept);
        }
        let w = &g.senders[&A];
        assert_eq!(w.retired.len(), RETIRED_BOOTS);
        assert_eq!(g.check(A, 20, 1), Verdict::StaleBoot);
    }
}
