//! The clock of each simulated machine, and the time its cluster service sees.
//!
//! In: the machine's clock error (initial offset, drift, steps: `set clock-offset`,
//! `set clock-drift`, `at T clock SERVER ±D`), the global virtual time of each service
//! start, and the node times the node sets timers at. Out: the node's time at a
//! global instant (what `Node::handle` gets) and the global instant a node-time timer
//! is due at.
//!
//! The model is what the daemon does (`runtime/src/daemon/clock.rs`): the node's time
//! is the wall clock read once at service start, then advanced by the monotonic
//! clock. So, for a machine with offset `o`, drift `d` (ppm) and steps `Σs` so far:
//!
//! - wall clock at global `t`: `W(t) = t + o + Σs + d·t/10⁶` (never below 0: an RTC
//!   before 1970 counts from 0, as the daemon does);
//! - a run started at global `b` sees `N(t) = W(b) + (t − b)·(10⁶ + d)/10⁶`: the
//!   monotonic clock runs at the machine's rate (drift) but is never stepped. A step
//!   (NTP or an operator's `date`) moves the wall clock only; the running node does
//!   not see it, the next run of the service starts from it.
//!
//! `N` never decreases within a run (the rate is positive), so a node's time never
//! goes backwards, whatever the steps. With no error at all `N(t) = t`: runs without
//! clock settings are unchanged.

use baton_core::config::Ms;

/// Parts per million: the unit of drift.
const PPM: i128 = 1_000_000;
/// The largest drift accepted, in ppm (10 %: far beyond any real oscillator, which
/// stays within ±500 ppm, but keeps the rate positive and the arithmetic bounded).
pub const MAX_DRIFT_PPM: i64 = 100_000;
/// The largest offset or step accepted, in ms (one year).
pub const MAX_OFFSET_MS: i64 = 365 * 24 * 3_600_000;

/// One machine's clock error, and the origin of its running service's time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineClock {
    /// Wall clock minus global time at global 0, in ms.
    pub offset_ms: i64,
    /// Rate error of the machine's oscillator, in ppm (positive: runs fast).
    pub drift_ppm: i64,
    /// Steps of the wall clock so far, summed, in ms.
    pub steps_ms: i64,
    /// The running service's origin: global start and the node time it read then.
    run_origin: Option<(Ms, Ms)>,
}

impl MachineClock {
    /// A clock with this offset and drift (each bounded, see the constants).
    pub fn new(offset_ms: i64, drift_ppm: i64) -> MachineClock {
        MachineClock {
            offset_ms: offset_ms.clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS),
            drift_ppm: drift_ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM),
            steps_ms: 0,
            run_origin: None,
        }
    }

    /// The wall clock at global `t`.
    pub fn wall_ms(&self, t: Ms) -> Ms {
        let t = i128::from(t);
        let w = t
            + i128::from(self.offset_ms)
            + i128::from(self.steps_ms)
            + (t * i128::from(self.drift_ppm)).div_euclid(PPM);
        to_ms(w)
    }

    /// Steps the wall clock by `step_ms` (the running service does not see it).
    pub fn step(&mut self, step_ms: i64) {
        // Bounded so that a long scenario of steps cannot overflow the sum.
        self.steps_ms = self.steps_ms.saturating_add(step_ms).clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS);
    }

    /// A service starts at global `t`: it reads the wall clock once.
    pub fn start_run(&mut self, t: Ms) {
        self.run_origin = Some((t, self.wall_ms(t)));
    }

    /// The node's time at global `t` (`t` at or after the run's start).
    pub fn node_ms(&self, t: Ms) -> Ms {
        let Some((b, n0)) = self.run_origin else { return self.wall_ms(t) };
        let elapsed = i128::from(t.saturating_sub(b));
        to_ms(i128::from(n0) + (elapsed * (PPM + i128::from(self.drift_ppm))).div_euclid(PPM))
    }

    /// The first global instant at or after `now` when the node's time reaches `at_ms`.
    pub fn global_of(&self, at_ms: Ms, now: Ms) -> Ms {
        if self.node_ms(now) >= at_ms {
            return now;
        }
        let Some((b, n0)) = self.run_origin else { return now.max(at_ms) };
        let rate = PPM + i128::from(self.drift_ppm);
        let ahead = i128::from(at_ms) - i128::from(n0);
        // ceil(ahead · 10⁶ / rate); the rounding of `node_ms` may need one ms more.
        let mut g = to_ms(i128::from(b) + (ahead * PPM + rate - 1).div_euclid(rate)).max(now);
        while self.node_ms(g) < at_ms && g < Ms::MAX {
            g = g.saturating_add(1);
        }
        g
    }
}

/// An instant as `Ms`: below 0 counts as 0, beyond `Ms::MAX` as `Ms::MAX`.
fn to_ms(v: i128) -> Ms {
    Ms::try_from(v.max(0)).unwrap_or(Ms::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_error_is_the_global_time() {
        let mut c = MachineClock::default();
        c.start_run(60_000);
        assert_eq!(c.node_ms(61_234), 61_234);
        assert_eq!(c.global_of(70_000, 61_234), 70_000);
        assert_eq!(c.global_of(50_000, 61_234), 61_234);
    }

    #[test]
    fn offset_shifts_and_timers_come_back_to_global_time() {
        let mut c = MachineClock::new(-1_500, 0);
        c.start_run(60_000);
        assert_eq!(c.node_ms(60_000), 58_500);
        // A timer 3 s ahead in node time is 3 s ahead in global time.
        assert_eq!(c.global_of(61_500, 60_000), 63_000);
    }

    #[test]
    fn a_step_reaches_only_the_next_run() {
        let mut c = MachineClock::new(0, 0);
        c.start_run(10_000);
        c.step(-5_000);
        assert_eq!(c.node_ms(20_000), 20_000, "the running node's time never jumps");
        assert_eq!(c.wall_ms(20_000), 15_000);
        c.start_run(30_000);
        assert_eq!(c.node_ms(30_000), 25_000);
        assert_eq!(c.node_ms(31_000), 26_000);
    }

    #[test]
    fn drift_changes_the_rate_and_timers_land_on_the_first_ms_that_reaches_them() {
        let mut c = MachineClock::new(0, 100_000); // 10 % fast
        c.start_run(0);
        assert_eq!(c.node_ms(1_000), 1_100);
        let g = c.global_of(1_100, 0);
        assert_eq!(g, 1_000);
        let g = c.global_of(1_101, 0);
        assert!(c.node_ms(g) >= 1_101 && c.node_ms(g - 1) < 1_101, "{g}");
        let mut slow = MachineClock::new(0, -100_000);
        slow.start_run(0);
        let g = slow.global_of(900, 0);
        assert_eq!((g, slow.node_ms(g)), (1_000, 900));
    }

    #[test]
    fn time_before_the_epoch_counts_from_zero_and_never_goes_back() {
        let mut c = MachineClock::new(-10_000, 0);
        c.start_run(2_000);
        assert_eq!(c.node_ms(2_000), 0);
        assert_eq!(c.node_ms(3_000), 1_000);
        let mut last = 0;
        for t in (2_000..20_000).step_by(7) {
            let n = c.node_ms(t);
            assert!(n >= last);
            last = n;
        }
    }

    #[test]
    fn absurd_settings_are_bounded() {
        let mut c = MachineClock::new(i64::MIN, i64::MAX);
        assert_eq!((c.offset_ms, c.drift_ppm), (-MAX_OFFSET_MS, MAX_DRIFT_PPM));
        c.step(i64::MAX);
        c.step(i64::MAX);
        assert_eq!(c.steps_ms, MAX_OFFSET_MS);
        c.start_run(Ms::MAX - 1);
        assert_eq!(c.node_ms(Ms::MAX), Ms::MAX);
        assert_eq!(c.global_of(Ms::MAX, Ms::MAX - 1), Ms::MAX - 1);
    }
}
