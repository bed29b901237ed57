//! The times of `baton log show|why|state`: how a log's instants read, and how an
//! operator names one.
//!
//! In: the records' instants (ms), `--utc`, and the text of `--at/--from/--to`. Out:
//! printable times and the instant (ms) an option names, or what is wrong with it.
//!
//! A log's instants are one of two clocks (docs/event-log.md § Times):
//! * a daemon's: the cluster's common clock, milliseconds since the Unix epoch, printed
//!   as RFC 3339 (local time by default, UTC with `--utc`);
//! * the simulator's: milliseconds since the start of the simulated run, printed as
//!   `H:MM:SS.mmm`.
//!
//! Nothing in old logs says which, so the instants do: a log with a record at or after
//! [`WALL_CLOCK_FLOOR_MS`] (2001-09-09) is a daemon's. No simulated run lasts 31 years,
//! and a daemon whose machine believes it is 1970 (an unset RTC) is read as simulated:
//! its times still print, as durations since 1970.

use baton_core::config::Ms;
use baton_core::record::LogRecord;
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};

/// 2001-09-09T01:46:40Z: instants from here on are wall-clock times.
pub const WALL_CLOCK_FLOOR_MS: Ms = 1_000_000_000_000;

/// Which clock a log's instants are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// A daemon's: epoch milliseconds.
    Wall,
    /// The simulator's: milliseconds since the run started.
    Sim,
}

impl Clock {
    /// The clock of a set of records: a daemon's if any is at or after the floor.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a LogRecord>) -> Clock {
        let wall = records.into_iter().any(|r| r.at_ms() >= WALL_CLOCK_FLOOR_MS);
        if wall {
            Clock::Wall
        } else {
            Clock::Sim
        }
    }
}

/// How to print and read instants of the logs at hand.
#[derive(Clone, Copy, Debug)]
pub struct TimeView {
    pub clock: Clock,
    /// Print and read wall-clock times in UTC (else in the local time zone).
    pub utc: bool,
    /// The earliest instant of the logs: what a duration (`2m30s`) counts from on a
    /// daemon's log, and whose day a bare time of day (`15:12:36`) is on.
    pub origin_ms: Ms,
}

impl TimeView {
    /// The view of records from one or more logs (a daemon's clock if any log is).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a LogRecord> + Clone, utc: bool) -> TimeView {
        let clock = Clock::of(records.clone());
        let origin_ms = match clock {
            Clock::Wall => records.into_iter().map(LogRecord::at_ms).filter(|t| *t >= WALL_CLOCK_FLOOR_MS).min(),
            Clock::Sim => None,
        };
        TimeView { clock, utc, origin_ms: origin_ms.unwrap_or(0) }
    }

    /// An instant as the operator reads it.
    pub fn fmt(&self, ms: Ms) -> String {
        match self.clock {
            Clock::Sim => baton_sim::player::fmt_time(ms),
            Clock::Wall => {
                let Some(t) = i64::try_from(ms).ok().and_then(DateTime::<Utc>::from_timestamp_millis) else {
                    return format!("{ms}ms");
                };
                if self.utc {
                    t.to_rfc3339_opts(SecondsFormat::Millis, true)
                } else {
                    t.with_timezone(&Local).to_rfc3339_opts(SecondsFormat::Millis, true)
                }
            }
        }
    }

    /// The instant an `--at/--from/--to` names: an RFC 3339 time (`2026-12-06T15:12:40Z`,
    /// or without offset in the view's zone), a time of day (`15:12:36`, on the day the
    /// logs start), or a duration (`2m30s`, from the start of the logs). On a simulated
    /// log, `H:MM:SS[.mmm]` (as printed) and durations count from the run start.
    pub fn parse(&self, text: &str) -> Result<Ms, String> {
        let text = text.trim();
        if text.len() > 64 {
            return Err(format!("{:?}…: too long for an instant", &text[..text.floor_char_boundary(32)]));
        }
        let bad = |why: &str| {
            format!(
                "{text:?}: {why}; give an RFC 3339 time (2026-12-06T15:12:40Z), a time of day (15:12:36) \
                 or a duration from the start of the log (2m30s)"
            )
        };
        if let Ok(ms) = baton_core::config::parse_duration_ms(text) {
            return match self.clock {
                Clock::Sim => Ok(ms),
                Clock::Wall => self.origin_ms.checked_add(ms).ok_or_else(|| bad("too far in the future")),
            };
        }
        if let Some(ms) = self.parse_time_of_day(text) {
            return ms.ok_or_else(|| bad("out of range"));
        }
        let absolute = DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
            let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())?;
            self.in_zone(naive)
        });
        let Some(t) = absolute else { return Err(bad("not an instant")) };
        match self.clock {
            Clock::Wall => Ms::try_from(t.timestamp_millis()).map_err(|_| bad("before 1970")),
            Clock::Sim => Err(bad(
                "this log is the simulator's, its times count from the run start (print them with `baton log show`)",
            )),
        }
    }

    /// `H:MM[:SS[.fff]]`: on a simulated log, from the run start; on a daemon's, that
    /// time of day on the day of `origin_ms` (in the view's zone). `None`: not that form;
    /// `Some(None)`: that form but out of range.
    fn parse_time_of_day(&self, text: &str) -> Option<Option<Ms>> {
        let t = ["%H:%M:%S%.f", "%H:%M"].iter().find_map(|f| NaiveTime::parse_from_str(text, f).ok());
        match self.clock {
            Clock::Sim => {
                // As printed: hours may exceed 23 (`27:00:01.500`).
                let (h, rest) = text.split_once(':')?;
                let h: Ms = h.parse().ok()?;
                let rest = NaiveTime::parse_from_str(&format!("0:{rest}"), "%H:%M:%S%.f")
                    .or_else(|_| NaiveTime::parse_from_str(&format!("0:{rest}"), "%H:%M"))
                    .ok()?;
                let within = Ms::from(rest.signed_duration_since(NaiveTime::MIN).num_milliseconds().unsigned_abs());
                Some(h.checked_mul(3_600_000).and_then(|h| h.checked_add(within)))
            }
            Clock::Wall => {
                let t = t?;
                let day = self.day_of(self.origin_ms)?;
                Some(self.in_zone(day.and_time(t)).and_then(|t| Ms::try_from(t.timestamp_millis()).ok()))
            }
        }
    }

    fn day_of(&self, ms: Ms) -> Option<NaiveDate> {
        let t = DateTime::<Utc>::from_timestamp_millis(i64::try_from(ms).ok()?)?;
        Some(if self.utc { t.date_naive() } else { t.with_timezone(&Local).date_naive() })
    }

    fn in_zone(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        if self.utc {
            Some(Utc.from_utc_datetime(&naive))
        } else {
            // A time that a clock change skipped or repeated: the earliest reading.
            Local.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(origin_ms: Ms) -> TimeView {
        TimeView { clock: Clock::Wall, utc: true, origin_ms }
    }

    #[test]
    fn a_daemon_log_prints_rfc3339_and_a_simulated_one_relative_times() {
        // 2026-12-06T15:12:36.732Z
        let at = 1_796_569_956_732;
        assert_eq!(wall(at).fmt(at), "2026-12-06T15:12:36.732Z");
        let sim = TimeView { clock: Clock::Sim, utc: false, origin_ms: 0 };
        assert_eq!(sim.fmt(90_500), "0:01:30.500");
        assert_eq!(wall(0).fmt(Ms::MAX), format!("{}ms", Ms::MAX), "out of chrono's range: still printed");
    }

    #[test]
    fn instants_are_read_in_every_form_and_bounded() {
        let origin = 1_796_569_956_732; // 2026-12-06T15:12:36.732Z
        let v = wall(origin);
        assert_eq!(v.parse("2026-12-06T15:12:40Z"), Ok(1_796_569_960_000));
        assert_eq!(v.parse("2026-12-07T00:12:40+09:00"), Ok(1_796_569_960_000));
        assert_eq!(v.parse("2026-12-06T15:12:40"), Ok(1_796_569_960_000), "no offset: the view's zone");
        assert_eq!(v.parse("15:12:40"), Ok(1_796_569_960_000), "the day the log starts");
        assert_eq!(v.parse("2m30s"), Ok(origin + 150_000), "from the start of the log");
        let sim = TimeView { clock: Clock::Sim, utc: true, origin_ms: 0 };
        assert_eq!(sim.parse("2m30s"), Ok(150_000));
        assert_eq!(sim.parse("0:02:30.500"), Ok(150_500), "as `log show` prints it");
        assert_eq!(sim.parse("27:00:00"), Ok(97_200_000));
        assert!(sim.parse("2026-12-06T15:12:40Z").unwrap_err().contains("simulator"));
        for junk in ["", "yesterday", "99:99", "1970-01-01T00:00:00+01:00", &"9".repeat(100)] {
            assert!(v.parse(junk).is_err(), "{junk:?}");
        }
        assert!(sim.parse(&format!("{}:00:00", Ms::MAX)).is_err(), "overflow is an error, not a wrap");
    }

    #[test]
    fn the_clock_is_told_by_the_inputs() {
        let input = |at_ms| LogRecord::Input { at_ms, input: baton_core::Input::ShutdownRequested };
        assert_eq!(Clock::of(&[input(5)]), Clock::Sim);
        assert_eq!(Clock::of(&[input(5), input(WALL_CLOCK_FLOOR_MS)]), Clock::Wall);
        let start = |at_ms| LogRecord::RunStart {
            server: "s".into(),
            config_name: "c".into(),
            config_text: String::new(),
            at_ms,
        };
        assert_eq!(Clock::of(&[start(WALL_CLOCK_FLOOR_MS + 1)]), Clock::Wall, "a daemon that only started");
    }
}
