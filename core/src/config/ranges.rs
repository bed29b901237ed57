//! The range of every duration in the cluster file (issue 14 §5).
//!
//! In: nothing. Out: one [`DurationRange`] per duration key, which the reader
//! enforces (`FILE:LINE:COL: … is out of range`) and docs/configuration.md lists.
//! The upper bounds follow the CLUSTERPRO manuals' ranges for the same settings
//! (heartbeat interval 1–99 s, timeout up to 9999 s, monitor interval and timeout up
//! to 999 s, server sync wait 0–99 min, activation timeout up to 9999 s); the lower
//! bounds stay at 1 ms (0 where 0 means "none") because the simulator and the tests
//! use sub-second timings. Bounding every duration keeps every instant the core
//! computes (`now + duration`, sums of a few durations) far from `u64::MAX`.

use super::Ms;

/// Inclusive bounds of one duration key, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationRange {
    pub min_ms: Ms,
    pub max_ms: Ms,
}

const fn range(min_ms: Ms, max_ms: Ms) -> DurationRange {
    DurationRange { min_ms, max_ms }
}

const SECOND_MS: Ms = 1_000;
const MINUTE_MS: Ms = 60 * SECOND_MS;
const DAY_MS: Ms = 24 * 60 * MINUTE_MS;

pub const HEARTBEAT_INTERVAL: DurationRange = range(1, 99 * SECOND_MS);
pub const HEARTBEAT_TIMEOUT: DurationRange = range(1, 9_999 * SECOND_MS);
pub const SYNC_WAIT: DurationRange = range(0, 99 * MINUTE_MS);
pub const COUNTER_RESET_AFTER: DurationRange = range(1, 7 * DAY_MS);
pub const NP_INTERVAL: DurationRange = range(1, 999 * SECOND_MS);
pub const NP_TIMEOUT: DurationRange = range(1, 999 * SECOND_MS);
pub const NP_IO_WAIT: DurationRange = range(1, 9_999 * SECOND_MS);
pub const RESOURCE_TIMEOUT: DurationRange = range(1, 9_999 * SECOND_MS);
pub const MONITOR_INTERVAL: DurationRange = range(1, 999 * SECOND_MS);
pub const MONITOR_TIMEOUT: DurationRange = range(1, 999 * SECOND_MS);
pub const MONITOR_START_WAIT: DurationRange = range(0, 9_999 * SECOND_MS);
/// A floating IP's duplicate-address probe window (B44): at least 1 ms (a probe must
/// be listened for), at most 10 s (beyond that a start waits longer than any answer
/// can take; the probe is no substitute for fencing).
pub const PROBE_WINDOW: DurationRange = range(1, 10 * SECOND_MS);
/// An alert's webhook or command (`[[alert]] timeout`, issue 13): up to a minute, as a
/// slower sink only delays that alert's own queue.
pub const ALERT_TIMEOUT: DurationRange = range(1, 60 * SECOND_MS);

/// Every duration key: (table, key, range), as docs/configuration.md lists them.
pub const ALL: [(&str, &str, DurationRange); 12] = [
    ("[cluster]", "heartbeat_interval", HEARTBEAT_INTERVAL),
    ("[cluster]", "heartbeat_timeout", HEARTBEAT_TIMEOUT),
    ("[cluster]", "sync_wait", SYNC_WAIT),
    ("[cluster]", "counter_reset_after", COUNTER_RESET_AFTER),
    ("[[np]]", "interval", NP_INTERVAL),
    ("[[np]]", "timeout", NP_TIMEOUT),
    ("[[np]]", "io_wait", NP_IO_WAIT),
    ("[[group.resource]]", "timeout", RESOURCE_TIMEOUT),
    ("[[group.resource]]", "probe_window", PROBE_WINDOW),
    ("[[monitor]]", "interval", MONITOR_INTERVAL),
    ("[[monitor]]", "timeout", MONITOR_TIMEOUT),
    ("[[monitor]]", "start_wait", MONITOR_START_WAIT),
];

/// The longest duration the file can hold: every instant the core computes is a
/// few of these past `now`.
pub const LONGEST_MS: Ms = COUNTER_RESET_AFTER.max_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_within_the_longest_and_holds_its_default() {
        use super::super::defaults as d;
        let all = [
            (HEARTBEAT_INTERVAL, d::HEARTBEAT_INTERVAL_MS),
            (HEARTBEAT_TIMEOUT, d::HEARTBEAT_TIMEOUT_MS),
            (SYNC_WAIT, d::SYNC_WAIT_MS),
            (COUNTER_RESET_AFTER, d::COUNTER_RESET_AFTER_MS),
            (NP_INTERVAL, d::NP_INTERVAL_MS),
            (NP_TIMEOUT, d::NP_TIMEOUT_MS),
            (NP_IO_WAIT, d::NP_IO_WAIT_MS),
            (RESOURCE_TIMEOUT, d::RESOURCE_TIMEOUT_MS),
            (MONITOR_INTERVAL, d::MONITOR_INTERVAL_MS),
            (MONITOR_TIMEOUT, d::MONITOR_TIMEOUT_MS),
            (MONITOR_START_WAIT, d::MONITOR_START_WAIT_MS),
            (PROBE_WINDOW, d::PROBE_WINDOW_MS),
        ];
        for (r, default_ms) in all {
            assert!(r.min_ms <= default_ms && default_ms <= r.max_ms, "{r:?} vs default {default_ms}");
            assert!(r.max_ms <= LONGEST_MS);
        }
    }
}
