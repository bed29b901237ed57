//! The daemon's clock and timer table.
//!
//! In: `Output::SetTimer { at_ms, timer }` from the node; the monotonic clock
//! (`tokio::time::Instant`). Out: the node's time (ms since daemon start, never going
//! backwards) and the timers due, earliest first.
//!
//! A timer's instant is `start + at_ms` exactly, so when it fires the node's time is at
//! least `at_ms` and the node accepts it. Re-arming replaces; the node ignores a timer
//! it no longer holds (it cancels timers without telling us), so nothing here tracks
//! cancellation.

use baton_core::config::Ms;
use baton_core::io::Timer;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Milliseconds since daemon start, monotonic.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    last: Ms,
}

impl Clock {
    pub fn start() -> Clock {
        Clock { start: Instant::now(), last: 0 }
    }

    /// The node's time now (never less than an earlier answer).
    pub fn now_ms(&mut self) -> Ms {
        let elapsed = Ms::try_from(Instant::now().duration_since(self.start).as_millis()).unwrap_or(Ms::MAX);
        self.last = self.last.max(elapsed);
        self.last
    }

    /// The instant of node time `ms`.
    pub fn instant_of(&self, ms: Ms) -> Instant {
        self.start + Duration::from_millis(ms)
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
        assert_eq!(c.instant_of(250) - c.instant_of(0), Duration::from_millis(250));
    }
}
