//! The daemon's clock and timer table.
//!
//! In: `Output::SetTimer { at_ms, timer }` from the node; the wall clock once at start
//! and the monotonic clock (`tokio::time::Instant`) after. Out: the node's time and the
//! timers due, earliest first.
//!
//! The node's time is the cluster's common clock: milliseconds since the Unix epoch read
//! from the wall clock at daemon start, then advanced by the monotonic clock only, so
//! it never goes backwards within a run (an NTP step or an operator's `date` cannot
//! jump it) while servers still agree on instants to the precision of their time
//! synchronisation. The core compares instants between servers (group epochs and
//! fault times of B52), so, as with CLUSTERPRO, the servers' clocks must be kept in
//! sync (NTP/chrony); a skew smaller than `heartbeat_interval` does not change any
//! decision. A wall clock before 1970 (unset RTC) counts from 0.
//!
//! A timer's instant is `start + (at_ms - base)` exactly, so when it fires the node's
//! time is at least `at_ms` and the node accepts it. Re-arming replaces; the node ignores a timer
//! it no longer holds (it cancels timers without telling us), so nothing here tracks
//! cancellation.

use baton_core::config::Ms;
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

#[cfg(test)]
mod tests {
    use super::*;

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
