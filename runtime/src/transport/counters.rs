//! Counters of the transport, for status output.
//!
//! In: one [`Counters::count`] per dropped packet (with its [`DropReason`] reason), one
//! bump per accepted or sent packet, and the reliable channel's events (copies sent
//! again, messages abandoned, duplicates, out-of-order arrivals, acknowledgements).
//! Out: a `Serialize` snapshot ([`Counters`]) that status shows. Every dropped packet is
//! counted exactly once, under its first reason; the channel's counters are about
//! accepted packets and are not drops.

use super::packet::Reject;
use super::replay::Verdict;
use serde::Serialize;

/// Why a received datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    Malformed,
    BadTag,
    Replayed,
    TooLarge,
    UnknownVersion,
    /// The claimed sender is not a server of the path (or is this server).
    UnknownSender,
    WrongCluster,
    /// The source address is not the claimed sender's address on that network.
    SpoofedSource,
    /// The claimed path is not a lan path on the socket it arrived on.
    WrongPath,
}

impl DropReason {
    /// The counter of a decoding rejection.
    pub fn of_reject(reject: &Reject) -> DropReason {
        match reject {
            Reject::Malformed(_) => DropReason::Malformed,
            Reject::BadTag => DropReason::BadTag,
            Reject::TooLarge => DropReason::TooLarge,
            Reject::UnknownVersion(_) => DropReason::UnknownVersion,
            Reject::WrongCluster(_) => DropReason::WrongCluster,
        }
    }

    /// The counter of a replay rejection (`None` when accepted).
    pub fn of_verdict(verdict: Verdict) -> Option<DropReason> {
        match verdict {
            Verdict::Accept => None,
            Verdict::Duplicate | Verdict::TooOld | Verdict::StaleBoot => Some(DropReason::Replayed),
        }
    }
}

/// Packet counts since the endpoint started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub sent: u64,
    /// Sends that failed at the socket (counted, not retried here).
    pub send_errors: u64,
    pub accepted: u64,
    pub malformed: u64,
    pub bad_tag: u64,
    pub replayed: u64,
    pub too_large: u64,
    pub unknown_version: u64,
    pub unknown_sender: u64,
    pub wrong_cluster: u64,
    pub spoofed_source: u64,
    pub wrong_path: u64,
    /// Receive errors of a socket.
    pub receive_errors: u64,
    /// Datagrams the kernel dropped before the daemon read them (receive buffer full),
    /// summed over the sockets (`transport::kernel`; read at each snapshot, 0 if unknown).
    /// Not among the daemon's drops: each of those was read, and counted once.
    pub kernel_drops: u64,
    /// The largest receive buffer of the sockets as the kernel reports it (bytes).
    pub receive_buffer_bytes: u64,
    // The reliable channel of cluster messages, sending side.
    /// Copies of a message sent again (one per path per retransmission round).
    pub retransmitted: u64,
    /// Messages given up unacknowledged at their deadline (`heartbeat_timeout`).
    pub abandoned: u64,
    /// Messages given up unacknowledged because the peer's queue was full (the oldest
    /// makes room for the new one).
    pub unacked_overflow: u64,
    /// Acknowledgements accepted (an ack of an earlier boot of this daemon is counted
    /// but releases nothing).
    pub acks_received: u64,
    // The reliable channel, receiving side.
    /// Acknowledgements sent (one per accepted message packet, duplicates included).
    pub acks_sent: u64,
    /// Message packets for a message already delivered, skipped or buffered.
    pub duplicate: u64,
    /// Messages that arrived ahead of a gap and waited in the out-of-order buffer.
    pub out_of_order_buffered: u64,
    /// Messages ahead of a gap dropped because the out-of-order buffer was full (the
    /// sender sends them again).
    pub out_of_order_overflow: u64,
    /// Messages never delivered because their sender gave up on them (skipped to its
    /// low-water mark).
    pub skipped: u64,
    /// Authenticated message packets with impossible channel numbers (a low-water mark
    /// above the sequence number, or either at 2^63 or beyond): dropped, unacknowledged.
    pub bad_sequence: u64,
}

impl Counters {
    /// Count one dropped datagram.
    pub fn count(&mut self, why: DropReason) {
        let c = match why {
            DropReason::Malformed => &mut self.malformed,
            DropReason::BadTag => &mut self.bad_tag,
            DropReason::Replayed => &mut self.replayed,
            DropReason::TooLarge => &mut self.too_large,
            DropReason::UnknownVersion => &mut self.unknown_version,
            DropReason::UnknownSender => &mut self.unknown_sender,
            DropReason::WrongCluster => &mut self.wrong_cluster,
            DropReason::SpoofedSource => &mut self.spoofed_source,
            DropReason::WrongPath => &mut self.wrong_path,
        };
        *c = c.saturating_add(1);
    }

    /// All dropped datagrams.
    pub fn dropped(&self) -> u64 {
        self.malformed
            + self.bad_tag
            + self.replayed
            + self.too_large
            + self.unknown_version
            + self.unknown_sender
            + self.wrong_cluster
            + self.spoofed_source
            + self.wrong_path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_serialises() {
        let mut c = Counters::default();
        c.count(DropReason::BadTag);
        c.count(DropReason::of_reject(&Reject::Malformed("x")));
        c.count(DropReason::of_verdict(Verdict::Duplicate).unwrap());
        assert_eq!((c.bad_tag, c.malformed, c.replayed, c.dropped()), (1, 1, 1, 3));
        assert_eq!(DropReason::of_verdict(Verdict::Accept), None);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"bad_tag\":1"), "{json}");
    }
}
