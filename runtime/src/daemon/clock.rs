//! The daemon's clock, its timer table, and the watch on peers' clocks.
//!
//! In: `Output::SetTimer { at_ms, timer }` from the node; the wall clock once at start
//! and the monotonic clock (`tokio::time::Instant`) after; the sending time of each
//! peer heartbeat. Out: the node's time, the timers due, earliest first, and a log
//! line when a peer's clock is found beyond the skew baton tolerates ([`SkewWatch`]).
//!
//! The node's time is the cluster's common clock: milliseconds since the Unix epoch read
//! from the wall clock at daemon start, then advanced by the monotonic clock only, so
//! it never goes backwards within a run (an NTP step or an operator's `date` cannot
//! jump it; the next start reads the stepped wall clock) while servers still agree on
//! instants to the precision of their time synchronisation. A wall clock before 1970
//! (unset RTC) counts from 0.
//!
//! The core compares instants of different servers in one place only: B52's `stable`
//! target, which counts a server's fault (stamped by that server) if it is not older
//! than the group's epoch (stamped by the server that started the group), and prefers
//! the server whose latest fault is oldest. Everything else the core times (heartbeat
//! and takeover deadlines, retries, monitor intervals) is a duration on one server's
//! clock, which no offset changes. So, as with CLUSTERPRO, the servers' clocks must be
//! kept in sync (NTP/chrony): under a skew below `heartbeat_interval`, a B52 choice
//! differs from the synchronised one only between faults (or a fault and a start) less
//! than the skew apart, i.e. closer than any server can learn of the other (the
//! simulator's scenarios `s17-clock-*` and `baton sim explore`, which draws skews under
//! that bound, check it; `docs/scenarios.md` § Clocks). Beyond it, B52 follows the
//! clocks, not the facts; safety (nothing online twice) never depends on clocks.
//!
//! A timer's instant is `start + (at_ms - base)` exactly, so when it fires the node's
//! time is at least `at_ms` and the node accepts it. Re-arming replaces; the node ignores a timer
//! it no longer holds (it cancels timers without telling us), so nothing here tracks
//! cancellation.

use baton_core::config::{Ms, ServerId};
use baton_core::io::Timer;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The common clock: epoch milliseconds at start plus monotonic time since.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    base_ms: Ms,
    last: Ms,
}

impl Clock {
    /// Reads the wall clock once.
    pub fn start() -> Clock {
        let base_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| Ms::try_from(d.as_millis()).unwrap_or(Ms::MAX));
        Clock::starting_at(base_ms, Instant::now())
    }

    /// A clock that read `base_ms` at `start`.
    pub fn starting_at(base_ms: Ms, start: Instant) -> Clock {
        Clock { start, base_ms, last: base_ms }
    }

    /// The node's time now (never less than an earlier answer).
    pub fn now_ms(&mut self) -> Ms {
        let elapsed = Ms::try_from(Instant::now().duration_since(self.start).as_millis()).unwrap_or(Ms::MAX);
        self.last = self.last.max(self.base_ms.saturating_add(elapsed));
        self.last
    }

    /// The instant of node time `ms` (node times before the start map to the start).
    pub fn instant_of(&self, ms: Ms) -> Instant {
        self.start + Duration::from_millis(ms.saturating_sub(self.base_ms))
    }
}

/// The pending timers, each at most once.
#[derive(Debug, Default)]
pub struct Timers {
    at: BTreeMap<Timer, Instant>,
}

impl Timers {
    /// Sets (or re-arms) `timer`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.at.insert(timer, at);
    }

    /// The earliest pending instant.
    pub fn next(&self) -> Option<Instant> {
        self.at.values().min().copied()
    }

    /// Removes and returns the timers due at `now`, earliest first (ties in timer order).
    pub fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due: Vec<(Instant, Timer)> =
            self.at.iter().filter(|(_, at)| **at <= now).map(|(t, at)| (*at, *t)).collect();
        due.sort();
        for (_, t) in &due {
            self.at.remove(t);
        }
        due.into_iter().map(|(_, t)| t).collect()
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

/// How far a peer's clock is from ours, as one heartbeat shows it: its sending time
/// minus our time at receipt, in ms (positive: the peer is ahead). The one-way network
/// delay makes a peer look behind by that much (well under a millisecond on a LAN, far
/// below the bound); there is no round trip to halve, heartbeats are one-way. Any
/// `sent_ms` a peer announces is bounded: the difference saturates at `i64`'s range.
pub fn skew_ms(sent_ms: Ms, now_ms: Ms) -> i64 {
    let d = i128::from(sent_ms) - i128::from(now_ms);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// What a heartbeat told about a peer's clock, when it is worth a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkewNote {
    /// The peer's clock is at least the bound away from ours (first such heartbeat).
    Beyond { skew_ms: i64 },
    /// It came back within half the bound after a `Beyond`.
    Back { skew_ms: i64 },
}

impl SkewNote {
    /// The log line about `peer`'s clock, naming the bound.
    pub fn line(self, peer: &str, bound_ms: Ms) -> String {
        let side = |skew_ms: i64| if skew_ms >= 0 { "ahead of" } else { "behind" };
        match self {
            SkewNote::Beyond { skew_ms } => format!(
                "clock-skew peer={peer} skew_ms={skew_ms}: its clock is {} ms {} ours, at or beyond \
                 heartbeat_interval ({bound_ms} ms), the skew baton tolerates; failover_target = \"stable\" \
                 (B52) may choose by the clocks, not the facts; synchronise the clocks (NTP, chrony)",
                skew_ms.unsigned_abs(),
                side(skew_ms)
            ),
            SkewNote::Back { skew_ms } => format!(
                "clock-skew peer={peer} skew_ms={skew_ms}: its clock is back within the bound ({} ms {} ours)",
                skew_ms.unsigned_abs(),
                side(skew_ms)
            ),
        }
    }
}

/// The watch on peers' clocks: says when a peer's clock goes beyond the bound
/// (`heartbeat_interval`) and when it comes back within half of it, once each, so a
/// peer that stays off (or flaps around the bound) does not flood the log.
#[derive(Debug)]
pub struct SkewWatch {
    bound_ms: Ms,
    /// Peers whose clock was last found beyond the bound.
    beyond: std::collections::BTreeSet<ServerId>,
}

impl SkewWatch {
    pub fn new(bound_ms: Ms) -> SkewWatch {
        SkewWatch { bound_ms, beyond: std::collections::BTreeSet::new() }
    }

    /// One heartbeat of `peer` sent at its time `sent_ms`, received at our `now_ms`.
    /// A `sent_ms` of 0 is a sender that does not say its time: nothing is measured.
    pub fn observe(&mut self, peer: ServerId, sent_ms: Ms, now_ms: Ms) -> Option<SkewNote> {
        if sent_ms == 0 {
            return None;
        }
        let skew_ms = skew_ms(sent_ms, now_ms);
        let off = skew_ms.unsigned_abs();
        if off >= self.bound_ms {
            return self.beyond.insert(peer).then_some(SkewNote::Beyond { skew_ms });
        }
        if off < self.bound_ms / 2 && self.beyond.remove(&peer) {
            return Some(SkewNote::Back { skew_ms });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_the_peer_time_minus_ours_and_absurd_times_saturate() {
        assert_eq!(skew_ms(10_500, 10_000), 500);
        assert_eq!(skew_ms(9_000, 10_000), -1_000);
        assert_eq!(skew_ms(Ms::MAX, 0), i64::MAX);
        assert_eq!(skew_ms(1, Ms::MAX), i64::MIN);
    }

    #[test]
    fn a_peer_beyond_the_bound_is_reported_once_and_again_when_back() {
        let (a, b) = (ServerId(1), ServerId(2));
        let mut w = SkewWatch::new(3_000);
        let now = 1_700_000_000_000;
        // Within the bound (a LAN delay makes a synchronised peer look 1 ms behind).
        assert_eq!(w.observe(a, now - 1, now), None);
        assert_eq!(w.observe(a, now + 2_999, now), None);
        // At the bound: reported once, not at every heartbeat.
        assert_eq!(w.observe(a, now + 3_000, now), Some(SkewNote::Beyond { skew_ms: 3_000 }));
        assert_eq!(w.observe(a, now + 4_000, now), None);
        // Other peers are watched apart; behind counts like ahead.
        assert_eq!(w.observe(b, now - 60_000, now), Some(SkewNote::Beyond { skew_ms: -60_000 }));
        // Back below the bound but not below half of it: still off (no flapping).
        assert_eq!(w.observe(a, now + 2_000, now), None);
        assert_eq!(w.observe(a, now + 1_000, now), Some(SkewNote::Back { skew_ms: 1_000 }));
        assert_eq!(w.observe(a, now + 1_000, now), None);
        assert_eq!(w.observe(a, now + 5_000, now), Some(SkewNote::Beyond { skew_ms: 5_000 }));
        // Absurd announced times: reported, nothing overflows; 0 means "not said".
        assert_eq!(w.observe(b, Ms::MAX, 0), None, "b is already beyond");
        let mut w = SkewWatch::new(3_000);
        assert_eq!(w.observe(a, Ms::MAX, now), Some(SkewNote::Beyond { skew_ms: i64::MAX }));
        assert_eq!(w.observe(b, 0, now), None);
        let line = SkewNote::Beyond { skew_ms: -60_000 }.line("server2", 3_000);
        assert!(line.contains("peer=server2 skew_ms=-60000") && line.contains("60000 ms behind ours"), "{line}");
        assert!(SkewNote::Beyond { skew_ms: i64::MIN }.line("x", 1).contains("9223372036854775808 ms behind"));
    }

    #[test]
    fn due_timers_come_out_earliest_first_and_rearming_replaces() {
        let base = Instant::now();
        let mut t = Timers::default();
        t.set(Timer::SyncWait, base + Duration::from_millis(30));
        t.set(Timer::HeartbeatTick, base + Duration::from_millis(20));
        t.set(Timer::Liveness, base + Duration::from_millis(10));
        t.set(Timer::SyncWait, base + Duration::from_millis(5));
        assert_eq!(t.next(), Some(base + Duration::from_millis(5)));
        assert_eq!(t.take_due(base + Duration::from_millis(15)), vec![Timer::SyncWait, Timer::Liveness]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.take_due(base + Duration::from_millis(25)), vec![Timer::HeartbeatTick]);
        assert!(t.is_empty());
    }

    #[test]
    fn clock_never_goes_back_and_instants_round_trip() {
        let mut c = Clock::start();
        let a = c.now_ms();
        let b = c.now_ms();
        assert!(b >= a);
        // The common clock: epoch milliseconds (after 2020-01-01).
        assert!(a > 1_577_836_800_000, "{a}");
        assert_eq!(c.instant_of(a + 250) - c.instant_of(a), Duration::from_millis(250));
    }

    #[test]
    fn two_clocks_started_apart_agree_on_instants() {
        // Two daemons whose (synchronised) wall clocks were read 400 ms apart.
        let now = Instant::now();
        let mut early = Clock::starting_at(1_000_000, now);
        let late = Clock::starting_at(1_000_400, now + Duration::from_millis(400));
        let t = early.now_ms();
        assert!((1_000_000..1_000_400).contains(&t), "{t}");
        // The same node time is the same moment, whichever daemon computes it.
        assert_eq!(early.instant_of(1_000_900), late.instant_of(1_000_900));
        assert_eq!(late.instant_of(5), late.instant_of(1_000_400));
    }
}
