//! The daemon's event log and its human log lines.
//!
//! In: the run start (configuration text), every input before the node handles it and
//! every output after. Out: `baton_core::record::LogRecord`s appended to the durable log
//! in `STATE_DIR/log/` (`baton_log::Writer`, group commit: the loop calls
//! [`EventLog::maybe_flush`] by [`EventLog::flush_deadline`]), so that
//! `baton log verify|show|replay|why|state STATE_DIR/log` work on a daemon's log; and
//! one log record per emitted event (`server event key=value…`).
//!
//! The [`Logger`] writes `tracing` records (target `baton`): each carries `server` and
//! `at_ms` (the node's time of the step it is about), and an event's record the event's
//! fields (`event`, `id`, `severity`, `group`, `resource`, `monitor`, `peer`, `reason`,
//! `cause`) at the level of its severity. The CLI's subscriber (cli/src/observe/
//! logging.rs) prints them as the lines below, as JSON, or to journald. With no
//! subscriber installed (tests that run a daemon in their own process) it writes the
//! line to stderr itself.

use super::observe::EventRecord;
use baton_core::config::{Config, Ms};
use baton_core::event::{Event, Severity};
use baton_core::io::{Input, Output};
use baton_core::record::LogRecord;
use baton_log::{Writer, WriterOptions};
use std::path::Path;
use std::time::Instant;

/// The durable log of this server's runs.
pub struct EventLog {
    writer: Writer,
}

impl EventLog {
    /// Opens (creating, or recovering a torn tail of) the log in `dir`.
    /// `segment_bytes`: see `DaemonOptions::log_segment_bytes`.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<EventLog, String> {
        let options = WriterOptions { segment_bytes, ..WriterOptions::default() };
        let (writer, recovery) = Writer::open(dir, options).map_err(|e| format!("event log {}: {e}", dir.display()))?;
        if recovery.dropped_tail_bytes > 0 {
            let msg = format!(
                "event log {}: cut a torn tail of {} bytes left by a crash",
                dir.display(),
                recovery.dropped_tail_bytes
            );
            if tracing::dispatcher::has_been_set() {
                tracing::warn!(target: "baton", "{msg}");
            } else {
                eprintln!("baton: {msg}");
            }
        }
        Ok(EventLog { writer })
    }

    fn append(&mut self, record: &LogRecord) -> Result<(), String> {
        self.writer.append(record).map(|_| ()).map_err(|e| format!("event log {}: {e}", self.writer.dir().display()))
    }

    /// `at_ms`: the node's time at the start (epoch ms), which tells readers that this
    /// log's times are wall-clock times (docs/event-log.md § Times). Logs written before
    /// it was stamped have 0 here.
    pub fn run_start(&mut self, at_ms: Ms, server: &str, config_name: &str, config_text: &str) -> Result<(), String> {
        self.append(&LogRecord::RunStart {
            server: server.to_string(),
            config_name: config_name.to_string(),
            config_text: config_text.to_string(),
            at_ms,
        })
    }

    pub fn input(&mut self, at_ms: Ms, input: &Input) -> Result<(), String> {
        self.append(&LogRecord::Input { at_ms, input: input.clone() })
    }

    pub fn output(&mut self, at_ms: Ms, output: &Output) -> Result<(), String> {
        self.append(&LogRecord::Output { at_ms, output: output.clone() })
    }

    /// Makes everything appended durable (before acting on a persisted state or a power action).
    pub fn commit(&mut self) -> Result<(), String> {
        self.writer.commit().map(|_| ()).map_err(|e| format!("event log {}: {e}", self.writer.dir().display()))
    }

    pub fn flush_deadline(&self) -> Option<Instant> {
        self.writer.flush_deadline()
    }

    pub fn maybe_flush(&mut self) -> Result<(), String> {
        self.writer
            .maybe_flush(Instant::now())
            .map(|_| ())
            .map_err(|e| format!("event log {}: {e}", self.writer.dir().display()))
    }
}

/// `event=group-started group=g1 resource=exec1 peer=server2 reason="…"`.
pub fn event_line(cfg: &Config, e: &Event) -> String {
    let mut line = format!("event={}", e.kind.name());
    if let Some(g) = e.group {
        line.push_str(&format!(" group={}", cfg.group(g).name));
    }
    if let Some(r) = e.resource {
        line.push_str(&format!(" resource={}", cfg.resource(r).name));
    }
    if let Some(m) = e.monitor {
        line.push_str(&format!(" monitor={}", cfg.monitor(m).name));
    }
    if let Some(p) = e.peer {
        line.push_str(&format!(" peer={}", cfg.server(p).name));
    }
    if let Some(reason) = &e.reason {
        line.push_str(&format!(" reason={reason:?}"));
    }
    line
}

/// The daemon's logger: one stderr line per message, prefixed with the server and a
/// wall-clock time in RFC 3339 UTC: `baton[server1] 2026-12-06T15:12:36.732Z event=…`.
#[derive(Clone, Debug)]
pub struct Logger {
    server: String,
}

impl Logger {
    pub fn new(server: &str) -> Logger {
        Logger { server: server.to_string() }
    }

    /// A line stamped with the wall clock now.
    pub fn line(&self, msg: &str) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| Ms::try_from(d.as_millis()).unwrap_or(Ms::MAX));
        self.line_at(now_ms, msg);
    }

    /// A line about a step of the node, stamped with the node's time (the cluster's
    /// common clock, epoch milliseconds: the time its event log records). Level: error
    /// for a line that starts `ERROR`, warn for `WARNING`, else info.
    pub fn line_at(&self, now_ms: Ms, msg: &str) {
        if !tracing::dispatcher::has_been_set() {
            eprintln!("{}", self.text(now_ms, msg));
            return;
        }
        let server = self.server.as_str();
        if msg.starts_with("ERROR") {
            tracing::error!(target: "baton", server, at_ms = now_ms, "{msg}");
        } else if msg.starts_with("WARNING") {
            tracing::warn!(target: "baton", server, at_ms = now_ms, "{msg}");
        } else {
            tracing::info!(target: "baton", server, at_ms = now_ms, "{msg}");
        }
    }

    /// An event's record: the line [`event_line`] wrote, with the event's fields, at the
    /// level of its severity (info, warning → warn, error).
    pub fn event(&self, e: &EventRecord, line: &str) {
        if !tracing::dispatcher::has_been_set() {
            eprintln!("{}", self.text(e.at_ms, line));
            return;
        }
        macro_rules! record {
            ($level:expr) => {
                tracing::event!(
                    target: "baton::event",
                    $level,
                    server = self.server.as_str(),
                    at_ms = e.at_ms,
                    event = e.event,
                    id = e.id,
                    severity = e.severity.name(),
                    group = e.group.as_deref(),
                    resource = e.resource.as_deref(),
                    monitor = e.monitor.as_deref(),
                    peer = e.peer.as_deref(),
                    reason = e.reason.as_deref(),
                    cause = e.cause.as_deref(),
                    "{line}"
                )
            };
        }
        match e.severity {
            Severity::Info => record!(tracing::Level::INFO),
            Severity::Warning => record!(tracing::Level::WARN),
            Severity::Error => record!(tracing::Level::ERROR),
        }
    }

    fn text(&self, at_ms: Ms, msg: &str) -> String {
        format!("baton[{}] {} {msg}", self.server, rfc3339_utc(at_ms))
    }
}

/// Epoch milliseconds as RFC 3339 UTC with milliseconds (`2026-12-06T15:12:36.732Z`),
/// by the civil-from-days algorithm (H. Hinnant), without a time zone database. Years
/// past 9999 print with more digits; nothing overflows.
pub fn rfc3339_utc(ms: Ms) -> String {
    let days = ms / 86_400_000;
    let in_day = ms % 86_400_000;
    let (h, m, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    // Days since 0000-03-01 in eras of 400 years (146097 days).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::event::EventKind;

    #[test]
    fn log_records_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), crate::daemon::DEFAULT_LOG_SEGMENT_BYTES).unwrap();
        log.run_start(1_796_569_956_732, "server1", "c.toml", "text").unwrap();
        log.input(5, &Input::ShutdownRequested).unwrap();
        log.commit().unwrap();
        let records: Vec<LogRecord> =
            baton_log::Reader::open(dir.path()).unwrap().map(|r| r.unwrap().decode().unwrap()).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1], LogRecord::Input { at_ms: 5, input: Input::ShutdownRequested });
    }

    #[test]
    fn log_lines_carry_a_wall_clock_time() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_796_569_956_732), "2026-12-06T15:12:36.732Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00.000Z", "a leap day");
        assert_eq!(rfc3339_utc(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert!(rfc3339_utc(Ms::MAX).ends_with('Z'), "no overflow");
        let line = Logger::new("server1").text(1_796_569_956_732, "event=server-lost peer=server2");
        assert_eq!(line, "baton[server1] 2026-12-06T15:12:36.732Z event=server-lost peer=server2");
    }

    #[test]
    fn event_line_names_the_kind() {
        let text = include_str!("../../../examples/configs/2node-ping.toml");
        let cfg = baton_core::config::parse("2node-ping.toml", text).unwrap().config;
        let line = event_line(&cfg, &Event::new(EventKind::ServerJoined).reason("why"));
        assert!(line.starts_with("event="), "{line}");
        assert!(line.ends_with("reason=\"why\""), "{line}");
    }
}
