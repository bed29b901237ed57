//! The reliable channel of cluster messages: per-peer sender and receiver state (pure).
//!
//! In, on the sending side ([`SenderState`], one per peer): messages to send
//! ([`SenderState::push`]), the time ([`SenderState::poll`]) and the peer's cumulative
//! acknowledgements ([`SenderState::ack`]). Out: the channel sequence number and the
//! low-water mark to put on each copy, the messages to send again, the messages given up.
//!
//! In, on the receiving side ([`ReceiverState`], one per sender): the sender's boot id,
//! the channel sequence number, the low-water mark and the message of every accepted
//! data packet ([`ReceiverState::on_data`]). Out: the messages to deliver, each exactly
//! once and in sequence order per sender boot, and the cumulative acknowledgement to
//! send back.
//!
//! No I/O, no clock (times are milliseconds passed in), no randomness: the UDP
//! endpoint (`udp`) owns the sockets and the timer.
//!
//! # Protocol
//!
//! * The sender numbers its messages to a peer 0, 1, 2, … (per boot, separately from
//!   the packet sequence numbers of replay protection, which every copy draws afresh).
//!   The unacknowledged ones stay queued and go again every `retransmit_interval_ms`
//!   after their last send. The queue is always the contiguous range
//!   `low_water .. next_seq`: acknowledgements, abandonment and overflow all remove
//!   from its front.
//! * A message still unacknowledged `deadline_ms` after its first send is abandoned.
//!   The runtime uses `heartbeat_timeout` as deadline: past it, the core has declared
//!   the peer down and repairs the shared state when it is back, so later copies would
//!   only deliver stale commands.
//! * Every copy carries the sender's low-water mark, the lowest sequence number it
//!   still sends. The receiver skips to it: the messages below were acknowledged (so
//!   delivered) or abandoned, and waiting for an abandoned one would block the channel
//!   forever. Messages it holds out of order below the mark are discarded with them,
//!   so a message is never delivered after its sender gave up on it.
//! * The receiver acknowledges every data packet, duplicates included (the previous
//!   acknowledgement may have been lost), with its next expected sequence number: all
//!   below it were delivered or skipped.
//! * A new boot id of the sender means a new channel: the receiver forgets the old
//!   one and starts at the low-water mark of the first packet of the new boot. The
//!   acknowledgement names the boot it is for, so the sender ignores one meant for its
//!   previous run.
//! * Memory is bounded: at most `max_unacked` queued messages per peer (a new message
//!   evicts the oldest, which counts as abandoned: the newest state is worth more) and
//!   at most `max_out_of_order` buffered messages per sender (a further one is dropped
//!   and comes again).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

/// The shortest retransmission interval, whatever the heartbeat interval.
pub const MIN_RETRANSMIT_INTERVAL_MS: u64 = 10;
/// Unacknowledged messages queued per peer.
pub const MAX_UNACKED: usize = 256;
/// Out-of-order messages buffered per sender.
pub const MAX_OUT_OF_ORDER: usize = 256;
/// Channel sequence numbers and low-water marks are below this: a sender numbers
/// from 0 at every boot, and at a million messages a second would take 292,000 years
/// to get here. A packet beyond it comes from a buggy or hostile peer holding the key;
/// accepted, it would pin the `skipped` counter at `u64::MAX` and move the channel
/// where no real message could follow (issue 14 §8).
pub const MAX_CHANNEL_SEQ: u64 = 1 << 63;

/// The retransmission interval for a heartbeat interval: half of it, so a lost message
/// is repaired well within one heartbeat interval (sooner than a missed state message
/// is noticed through the next heartbeat's version), at a cost of at most two copies
/// per unacknowledged message, path and heartbeat interval; at least
/// [`MIN_RETRANSMIT_INTERVAL_MS`], so very short test intervals do not make a busy loop.
pub fn retransmit_interval_ms(heartbeat_interval_ms: u64) -> u64 {
    (heartbeat_interval_ms / 2).max(MIN_RETRANSMIT_INTERVAL_MS)
}

/// The parameters of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// An unacknowledged message goes again this long after its last send.
    pub retransmit_interval_ms: u64,
    /// An unacknowledged message is abandoned this long after its first send.
    pub deadline_ms: u64,
    /// Queued messages per peer; a new one beyond evicts the oldest.
    pub max_unacked: usize,
    /// Out-of-order messages buffered per sender; a further one is dropped.
    pub max_out_of_order: usize,
}

impl Settings {
    /// The runtime's settings: these times, the default bounds ([`MAX_UNACKED`],
    /// [`MAX_OUT_OF_ORDER`]).
    pub fn new(retransmit_interval_ms: u64, deadline_ms: u64) -> Settings {
        Settings { retransmit_interval_ms, deadline_ms, max_unacked: MAX_UNACKED, max_out_of_order: MAX_OUT_OF_ORDER }
    }
}

/// A queued, unacknowledged message.
#[derive(Clone, Debug)]
struct Unacked<T> {
    seq: u64,
    first_sent_ms: u64,
    last_sent_ms: u64,
    item: T,
}

/// What [`SenderState::push`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// The message's channel sequence number.
    pub seq: u64,
    /// The low-water mark to send with it.
    pub low_water: u64,
    /// The oldest message, evicted because the queue was full (it counts as abandoned).
    pub evicted: Option<u64>,
}

/// What [`SenderState::poll`] decided.
#[derive(Debug)]
pub struct Poll<'a, T> {
    /// Messages given up at their deadline (a prefix of the queue, so a range).
    pub abandoned: Range<u64>,
    /// The low-water mark to send with the copies.
    pub low_water: u64,
    /// The messages to send again now, in sequence order.
    pub resend: Vec<(u64, &'a T)>,
}

/// The sending side of the channel to one peer.
#[derive(Clone, Debug)]
pub struct SenderState<T> {
    settings: Settings,
    next_seq: u64,
    /// Sequence numbers `low_water .. next_seq`, in order.
    queue: VecDeque<Unacked<T>>,
}

impl<T> SenderState<T> {
    pub fn new(settings: Settings) -> SenderState<T> {
        SenderState { settings, next_seq: 0, queue: VecDeque::new() }
    }

    /// The lowest sequence number still sent: the receiver may skip everything below.
    pub fn low_water(&self) -> u64 {
        self.queue.front().map_or(self.next_seq, |u| u.seq)
    }

    /// The sequence number the next message gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Messages queued (sent, not yet acknowledged nor abandoned).
    pub fn unacked(&self) -> usize {
        self.queue.len()
    }

    /// Queue `item`, first sent at `now_ms` (the caller sends that first copy). Returns
    /// its numbers and the queued item to encode.
    pub fn push(&mut self, now_ms: u64, item: T) -> (Pushed, &T) {
        let mut evicted = None;
        if self.queue.len() >= self.settings.max_unacked.max(1) {
            evicted = self.queue.pop_front().map(|u| u.seq);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Unacked { seq, first_sent_ms: now_ms, last_sent_ms: now_ms, item });
        let pushed = Pushed { seq, low_water: self.low_water(), evicted };
        match self.queue.back() {
            Some(u) => (pushed, &u.item),
            None => unreachable!("a message was just queued"),
        }
    }

    /// The peer has every message below `cumulative` (delivered or skipped): release
    /// them. Returns how many were released. A value beyond what was sent is clamped.
    pub fn ack(&mut self, cumulative: u64) -> usize {
        let upto = cumulative.min(self.next_seq);
        let mut released = 0;
        while self.queue.front().is_some_and(|u| u.seq < upto) {
            self.queue.pop_front();
            released += 1;
        }
        released
    }

    /// At `now_ms`: abandon the messages past their deadline, then pick the ones due
    /// for another copy (marked as sent now).
    pub fn poll(&mut self, now_ms: u64) -> Poll<'_, T> {
        let first_kept = self.low_water();
        // First sends are in sequence order, so only a prefix can be past its deadline.
        while self.queue.front().is_some_and(|u| now_ms.saturating_sub(u.first_sent_ms) >= self.settings.deadline_ms) {
            self.queue.pop_front();
        }
        let low_water = self.low_water();
        let interval = self.settings.retransmit_interval_ms;
        let mut resend = Vec::new();
        for u in self.queue.iter_mut() {
            if now_ms.saturating_sub(u.last_sent_ms) >= interval {
                u.last_sent_ms = now_ms;
                resend.push((u.seq, &u.item));
            }
        }
        Poll { abandoned: first_kept..low_water, low_water, resend }
    }

    /// When this channel next needs a [`poll`](Self::poll): the earliest retransmission
    /// or deadline of a queued message; `None` when nothing is queued.
    pub fn next_due_ms(&self) -> Option<u64> {
        let s = &self.settings;
        self.queue
            .iter()
            .map(|u| {
                (u.last_sent_ms.saturating_add(s.retransmit_interval_ms))
                    .min(u.first_sent_ms.saturating_add(s.deadline_ms))
            })
            .min()
    }
}

/// What happened to one data packet at the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// It was the next expected message: delivered (with any buffered ones it unblocked).
    Delivered,
    /// Ahead of a gap: buffered until the gap fills or is skipped.
    Buffered,
    /// Already delivered, skipped or buffered: dropped.
    Duplicate,
    /// Ahead of a gap with the buffer full: dropped (the sender sends it again).
    Overflow,
    /// Impossible numbers (a low-water mark above the sequence number, either at or
    /// beyond [`MAX_CHANNEL_SEQ`]): dropped without touching the channel.
    BadSequence,
}

/// What [`ReceiverState::on_data`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub arrival: Arrival,
    /// The packet was the first of a sender boot not seen before: the channel restarted.
    pub reset: bool,
    /// Sequence numbers given up because of the low-water mark (missing or buffered).
    pub skipped: u64,
    /// The cumulative acknowledgement to send: every message below it was delivered or
    /// skipped.
    pub ack: u64,
}

/// The receiving side of the channel from one sender.
#[derive(Clone, Debug)]
pub struct ReceiverState<T> {
    max_out_of_order: usize,
    /// The sender boot this state is for; `None` before its first packet.
    boot_id: Option<u64>,
    next_expected: u64,
    buffer: BTreeMap<u64, T>,
}

impl<T> ReceiverState<T> {
    pub fn new(max_out_of_order: usize) -> ReceiverState<T> {
        ReceiverState { max_out_of_order, boot_id: None, next_expected: 0, buffer: BTreeMap::new() }
    }

    /// The sender boot of the channel, if any packet came.
    pub fn boot_id(&self) -> Option<u64> {
        self.boot_id
    }

    /// The next sequence number to deliver (the cumulative acknowledgement).
    pub fn next_expected(&self) -> u64 {
        self.next_expected
    }

    /// Messages held out of order.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// One accepted data packet of sender boot `boot_id`: message `seq` with the
    /// sender's `low_water`. Appends what is now deliverable to `out`, in order.
    pub fn on_data(&mut self, boot_id: u64, seq: u64, low_water: u64, item: T, out: &mut Vec<T>) -> Received {
        // A sender's low-water mark is the first message it still sends, so never above
        // the one it sends now; checked before anything changes, a new boot id included.
        if low_water > seq || seq >= MAX_CHANNEL_SEQ {
            return Received { arrival: Arrival::BadSequence, reset: false, skipped: 0, ack: self.next_expected };
        }
        let reset = self.boot_id != Some(boot_id);
        if reset {
            // A new sender boot (or the first packet this receiver sees): whatever is
            // below its low-water mark is settled, possibly before this receiver started.
            self.boot_id = Some(boot_id);
            self.next_expected = low_water;
            self.buffer.clear();
        }
        let mut skipped = 0;
        if low_water > self.next_expected {
            skipped = low_water - self.next_expected;
            // Buffered messages below the mark were abandoned by the sender: drop them
            // rather than deliver what the sender gave up on.
            self.buffer = self.buffer.split_off(&low_water);
            self.next_expected = low_water;
            self.drain(out);
        }
        let arrival = if seq < self.next_expected || self.buffer.contains_key(&seq) {
            Arrival::Duplicate
        } else if seq == self.next_expected {
            out.push(item);
            self.next_expected += 1;
            self.drain(out);
            Arrival::Delivered
        } else if self.buffer.len() < self.max_out_of_order {
            self.buffer.insert(seq, item);
            Arrival::Buffered
        } else {
            Arrival::Overflow
        };
        Received { arrival, reset, skipped, ack: self.next_expected }
    }

    /// Deliver the buffered messages that follow on without a gap.
    fn drain(&mut self, out: &mut Vec<T>) {
        while let Some(item) = self.buffer.remove(&self.next_expected) {
            out.push(item);
            self.next_expected += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INTERVAL: u64 = 10;
    const DEADLINE: u64 = 100;
    const BOOT: u64 = 0xB007;

    fn settings() -> Settings {
        Settings { retransmit_interval_ms: INTERVAL, deadline_ms: DEADLINE, max_unacked: 8, max_out_of_order: 4 }
    }

    /// A copy on the wire: (seq, low_water, payload).
    type Data = (u64, u64, u32);

    fn push(s: &mut SenderState<u32>, now: u64, item: u32) -> Data {
        let (p, &it) = s.push(now, item);
        (p.seq, p.low_water, it)
    }

    fn resend(s: &mut SenderState<u32>, now: u64) -> Vec<Data> {
        let p = s.poll(now);
        p.resend.iter().map(|&(seq, &it)| (seq, p.low_water, it)).collect()
    }

    fn deliver(r: &mut ReceiverState<u32>, c: Data) -> (Received, Vec<u32>) {
        let mut out = Vec::new();
        let got = r.on_data(BOOT, c.0, c.1, c.2, &mut out);
        (got, out)
    }

    #[test]
    fn interval_is_half_the_heartbeat_interval_with_a_floor() {
        assert_eq!(retransmit_interval_ms(3_000), 1_500);
        assert_eq!(retransmit_interval_ms(15), MIN_RETRANSMIT_INTERVAL_MS);
        assert_eq!(retransmit_interval_ms(0), MIN_RETRANSMIT_INTERVAL_MS);
        let s = Settings::new(retransmit_interval_ms(100), 500);
        assert_eq!((s.retransmit_interval_ms, s.deadline_ms, s.max_unacked), (50, 500, MAX_UNACKED));
    }

    #[test]
    fn in_order_without_loss_and_acks_release() {
        let mut s = SenderState::new(settings());
        let mut r = ReceiverState::new(4);
        for i in 0..3 {
            let c = push(&mut s, 0, 10 + i);
            assert_eq!(c, (u64::from(i), 0, 10 + i));
            let (got, out) = deliver(&mut r, c);
            assert_eq!((got.arrival, got.ack, out), (Arrival::Delivered, u64::from(i) + 1, vec![10 + i]));
        }
        assert_eq!(s.unacked(), 3);
        assert_eq!(s.ack(2), 2);
        assert_eq!((s.unacked(), s.low_water()), (1, 2));
        assert_eq!(s.ack(1), 0, "an old acknowledgement releases nothing");
        assert_eq!(s.ack(u64::MAX), 1, "clamped to what was sent");
        assert_eq!((s.unacked(), s.low_water(), s.next_due_ms()), (0, 3, None));
    }

    #[test]
    fn loss_is_repaired_by_retransmission() {
        let mut s = SenderState::new(settings());
        let mut r = ReceiverState::new(4);
        let _lost = push(&mut s, 0, 1);
        let second = push(&mut s, 3, 2);
        let (got, out) = deliver(&mut r, second);
        assert_eq!((got.arrival, got.ack, out), (Arrival::Buffered, 0, vec![]));
        assert_eq!(s.next_due_ms(), Some(INTERVAL));
        assert!(resend(&mut s, INTERVAL - 1).is_empty(), "not yet due");
        assert_eq!(resend(&mut s, INTERVAL), vec![(0, 0, 1)], "only the first is due");
        assert_eq!(resend(&mut s, 3 + INTERVAL), vec![(1, 0, 2)]);
        let (got, out) = deliver(&mut r, (0, 0, 1));
        assert_eq!((got.arrival, got.ack, out), (Arrival::Delivered, 2, vec![1, 2]));
        s.ack(got.ack);
        assert_eq!(s.unacked(), 0);
        assert!(resend(&mut s, 1_000).is_empty());
    }

    #[test]
    fn reordering_and_duplicates() {
        let mut r = ReceiverState::new(4);
        assert_eq!(deliver(&mut r, (2, 0, 12)).0.arrival, Arrival::Buffered);
        assert_eq!(deliver(&mut r, (2, 0, 12)).0.arrival, Arrival::Duplicate, "already buffered");
        assert_eq!(deliver(&mut r, (1, 0, 11)).0.arrival, Arrival::Buffered);
        let (got, out) = deliver(&mut r, (0, 0, 10));
        assert_eq!((got.arrival, got.ack, out), (Arrival::Delivered, 3, vec![10, 11, 12]));
        let (got, out) = deliver(&mut r, (1, 0, 11));
        assert_eq!((got.arrival, got.ack, out), (Arrival::Duplicate, 3, vec![]), "a duplicate is acknowledged again");
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn sender_reboot_resets_the_receiver() {
        let mut r = ReceiverState::new(4);
        let mut out = Vec::new();
        assert!(r.on_data(1, 0, 0, 100, &mut out).reset);
        assert!(!r.on_data(1, 1, 0, 101, &mut out).reset);
        assert_eq!(r.on_data(1, 5, 0, 105, &mut out).arrival, Arrival::Buffered);
        // The sender restarted: its new boot numbers from 0 again.
        let got = r.on_data(2, 0, 0, 200, &mut out);
        assert_eq!((got.reset, got.arrival, got.ack), (true, Arrival::Delivered, 1));
        assert_eq!(out, vec![100, 101, 200]);
        assert_eq!((r.boot_id(), r.buffered()), (Some(2), 0), "the old boot's buffer is gone");
    }

    #[test]
    fn a_receiver_joining_mid_stream_starts_at_the_low_water_mark() {
        let mut r = ReceiverState::new(4);
        let mut out = Vec::new();
        // Messages 0..40 were acknowledged by this receiver's previous run.
        let got = r.on_data(BOOT, 41, 40, 41, &mut out);
        assert_eq!((got.arrival, got.ack, got.skipped), (Arrival::Buffered, 40, 0));
        let got = r.on_data(BOOT, 40, 40, 40, &mut out);
        assert_eq!((got.arrival, got.ack, out), (Arrival::Delivered, 42, vec![40, 41]));
    }

    #[test]
    fn abandoned_message_is_skipped_by_the_low_water_mark() {
        let mut s = SenderState::new(settings());
        let mut r = ReceiverState::new(4);
        let _lost = push(&mut s, 0, 1); // never arrives
        let second = push(&mut s, 50, 2);
        let third = push(&mut s, 60, 3);
        assert_eq!(deliver(&mut r, third).0.arrival, Arrival::Buffered);
        assert_eq!(deliver(&mut r, second).0.arrival, Arrival::Buffered);
        // At the deadline of the first, it is abandoned; the others go on.
        let p = s.poll(DEADLINE);
        assert_eq!((p.abandoned.clone(), p.low_water), (0..1, 1));
        assert_eq!(p.resend.len(), 2);
        // The next copy tells the receiver to skip message 0.
        let (got, out) = deliver(&mut r, (1, 1, 2));
        assert_eq!((got.arrival, got.skipped, got.ack, out), (Arrival::Duplicate, 1, 3, vec![2, 3]));
        // A buffered message below the mark is dropped, never delivered late.
        let mut r = ReceiverState::new(4);
        assert_eq!(deliver(&mut r, (0, 0, 9)).1, vec![9]);
        assert_eq!(deliver(&mut r, (2, 0, 11)).0.arrival, Arrival::Buffered);
        let (got, out) = deliver(&mut r, (4, 3, 13));
        assert_eq!((got.arrival, got.skipped, got.ack, out), (Arrival::Buffered, 2, 3, vec![]));
        assert_eq!(r.buffered(), 1);
        // Abandoning everything empties the queue; the mark moves past it.
        assert_eq!(s.poll(60 + DEADLINE).abandoned, 1..3);
        assert_eq!((s.unacked(), s.low_water()), (0, 3));
    }

    /// Issue 14 §8: one authenticated packet with a low-water mark of 2^64 − 1 pinned
    /// `skipped` at `u64::MAX` and moved the channel past every real message.
    #[test]
    fn impossible_sequence_numbers_are_refused_without_touching_the_channel() {
        let mut r = ReceiverState::new(8);
        assert_eq!(deliver(&mut r, (0, 0, 10)).1, vec![10]);
        for (seq, low_water) in [(u64::MAX, u64::MAX), (5, u64::MAX), (1, 2), (MAX_CHANNEL_SEQ, 1)] {
            let mut out = Vec::new();
            let got = r.on_data(BOOT, seq, low_water, 99, &mut out);
            assert_eq!(
                (got.arrival, got.skipped, got.ack, out),
                (Arrival::BadSequence, 0, 1, vec![]),
                "{seq} {low_water}"
            );
            // Not even a new boot id resets the channel with such numbers.
            let got = r.on_data(BOOT + 1, seq, low_water, 99, &mut Vec::new());
            assert_eq!((got.arrival, got.reset, r.boot_id()), (Arrival::BadSequence, false, Some(BOOT)));
        }
        let (got, out) = deliver(&mut r, (1, 0, 11));
        assert_eq!((got.arrival, got.skipped, got.ack, out), (Arrival::Delivered, 0, 2, vec![11]));
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = SenderState::new(settings());
        for i in 0..8 {
            assert_eq!(s.push(i, 0).0.evicted, None);
        }
        let (p, _) = s.push(8, 0);
        assert_eq!(p, Pushed { seq: 8, low_water: 1, evicted: Some(0) });
        assert_eq!(s.unacked(), 8);
        let mut r = ReceiverState::new(4);
        for seq in 1..=4 {
            assert_eq!(deliver(&mut r, (seq, 0, 0)).0.arrival, Arrival::Buffered);
        }
        assert_eq!(deliver(&mut r, (9, 0, 0)).0.arrival, Arrival::Overflow);
        assert_eq!(r.buffered(), 4);
        // The expected one still gets through, and unblocks the buffer.
        let (got, out) = deliver(&mut r, (0, 0, 0));
        assert_eq!((got.arrival, got.ack, out.len()), (Arrival::Delivered, 5, 5));
    }

    #[test]
    fn next_due_is_the_earliest_retransmission_or_deadline() {
        let mut s = SenderState::new(Settings { deadline_ms: 15, ..settings() });
        assert_eq!(s.next_due_ms(), None);
        push(&mut s, 100, 0);
        assert_eq!(s.next_due_ms(), Some(110));
        assert_eq!(resend(&mut s, 110).len(), 1);
        assert_eq!(s.next_due_ms(), Some(115), "the deadline comes before the next copy");
        assert_eq!(s.poll(115).abandoned, 0..1);
    }

    /// One step of a lossy network schedule.
    #[derive(Clone, Debug)]
    enum Op {
        /// The application sends a message.
        Send,
        /// Time passes, then the sender polls; each copy goes on `paths` paths.
        Advance { ms: u64, paths: u8 },
        /// The packet at that position of the in-flight set arrives (reordering);
        /// with `keep`, a copy of it stays in flight (duplication).
        Arrive { at: prop::sample::Index, keep: bool },
        /// The packet at that position is lost.
        Lose { at: prop::sample::Index },
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Send),
            2 => (1..30u64, 1..3u8).prop_map(|(ms, paths)| Op::Advance { ms, paths }),
            4 => (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(at, keep)| Op::Arrive { at, keep }),
            3 => any::<prop::sample::Index>().prop_map(|at| Op::Lose { at }),
        ]
    }

    #[derive(Clone, Copy, Debug)]
    enum Wire {
        Data(Data),
        Ack(u64),
    }

    /// Message `seq`'s payload, so a mix-up would show.
    fn payload(seq: u64) -> u32 {
        (seq as u32).wrapping_mul(2_654_435_761)
    }

    proptest! {
        /// Whatever the losses, duplicates and reordering: no message is delivered twice
        /// or out of order, and every message the sender did not abandon is delivered.
        #[test]
        fn every_message_not_abandoned_is_delivered_once_in_order(
            ops in proptest::collection::vec(arb_op(), 0..300),
            deadline in 40..400u64,
            max_unacked in 1..12usize,
            max_out_of_order in 0..6usize,
        ) {
            let settings = Settings { retransmit_interval_ms: INTERVAL, deadline_ms: deadline, max_unacked, max_out_of_order };
            let mut s = SenderState::new(settings);
            let mut r = ReceiverState::new(max_out_of_order);
            let mut wire: Vec<Wire> = Vec::new();
            let mut delivered: Vec<u32> = Vec::new();
            let mut abandoned: Vec<u64> = Vec::new();
            let mut now = 0u64;

            let arrive = |w: Wire, s: &mut SenderState<u32>, r: &mut ReceiverState<u32>, wire: &mut Vec<Wire>, delivered: &mut Vec<u32>| {
                match w {
                    Wire::Data((seq, low_water, item)) => {
                        let got = r.on_data(BOOT, seq, low_water, item, delivered);
                        wire.push(Wire::Ack(got.ack));
                    }
                    Wire::Ack(cumulative) => {
                        s.ack(cumulative);
                    }
                }
            };
            let poll = |now: u64, paths: u8, s: &mut SenderState<u32>, wire: &mut Vec<Wire>, abandoned: &mut Vec<u64>| {
                let p = s.poll(now);
                abandoned.extend(p.abandoned.clone());
                for &(seq, &item) in &p.resend {
                    for _ in 0..paths {
                        wire.push(Wire::Data((seq, p.low_water, item)));
                    }
                }
            };

            for op in ops {
                match op {
                    Op::Send => {
                        let next = s.next_seq();
                        let (p, &item) = s.push(now, payload(next));
                        abandoned.extend(p.evicted);
                        wire.push(Wire::Data((p.seq, p.low_water, item)));
                    }
                    Op::Advance { ms, paths } => {
                        now += ms;
                        poll(now, paths, &mut s, &mut wire, &mut abandoned);
                    }
                    Op::Arrive { at, keep } => {
                        if !wire.is_empty() {
                            let i = at.index(wire.len());
                            let w = if keep { wire[i] } else { wire.remove(i) };
                            arrive(w, &mut s, &mut r, &mut wire, &mut delivered);
                        }
                    }
                    Op::Lose { at } => {
                        if !wire.is_empty() {
                            wire.remove(at.index(wire.len()));
                        }
                    }
                }
            }
            // The network heals: everything in flight arrives, rounds go on until the
            // queue is empty (acknowledged or abandoned; the deadline bounds this).
            let mut rounds = 0;
            while s.unacked() > 0 || !wire.is_empty() {
                while !wire.is_empty() {
                    let w = wire.remove(0);
                    arrive(w, &mut s, &mut r, &mut wire, &mut delivered);
                }
                now += INTERVAL;
                poll(now, 1, &mut s, &mut wire, &mut abandoned);
                rounds += 1;
                prop_assert!(rounds < 1_000, "the channel does not drain");
            }

            let sent: Vec<u64> = (0..s.next_seq()).collect();
            let positions: Vec<u64> = delivered
                .iter()
                .map(|&item| sent.iter().copied().find(|&seq| payload(seq) == item).expect("delivered what was sent"))
                .collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]), "delivered out of order or twice: {:?}", positions);
            for seq in sent {
                if !abandoned.contains(&seq) {
                    prop_assert!(positions.contains(&seq), "message {} neither delivered nor abandoned", seq);
                }
            }
        }
    }
}
