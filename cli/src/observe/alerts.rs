//! Alerts (issue 13 §4; CLUSTERPRO's "execute a command on alert"): events chosen by
//! name or severity in `[[alert]]` tables go to syslog, to a webhook (HTTP POST of
//! JSON) or to a command. Mail is sent by a command (`mail`, `sendmail`) or by a
//! webhook of a mail service: docs/alerts.md.
//!
//! In: the event records the loop queued (`baton_runtime::daemon::observe`), the
//! `[[alert]]` tables. Out: deliveries, one queue and task per alert so that a slow
//! webhook delays only its own alert; counts of sent, failed, suppressed (beyond
//! `max_per_minute` in any 60 s) and dropped (its queue full) alerts for `/metrics`;
//! a log record for each failure and when an alert starts being suppressed.

use super::Stats;
use baton_core::config::{Alert, AlertSink, Config};
use baton_core::event::{EventKind, Severity};
use baton_runtime::daemon::eventlog::rfc3339_utc;
use baton_runtime::daemon::observe::EventRecord;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Records that may wait for one alert's delivery task.
pub const ALERT_QUEUE: usize = 64;
/// The window of `max_per_minute`.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The sink's word in metrics and messages.
pub fn sink_word(sink: &AlertSink) -> &'static str {
    match sink {
        AlertSink::Syslog { .. } => "syslog",
        AlertSink::Webhook { .. } => "webhook",
        AlertSink::Command { .. } => "command",
    }
}

/// At most `max` in any [`RATE_WINDOW`].
struct RateLimit {
    max: usize,
    sent: VecDeque<Instant>,
    /// Suppressing since the last one that went through (logged once).
    suppressing: bool,
}

impl RateLimit {
    fn new(max: u32) -> RateLimit {
        RateLimit { max: max as usize, sent: VecDeque::new(), suppressing: false }
    }

    /// Whether one more may go at `now`; `Some(true)` the first time it may not.
    fn allow(&mut self, now: Instant) -> (bool, bool) {
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.max {
            self.sent.push_back(now);
            self.suppressing = false;
            return (true, false);
        }
        let first = !self.suppressing;
        self.suppressing = true;
        (false, first)
    }
}

/// Takes every event record off the daemon's queue and hands those an alert wants to
/// its delivery task; runs until the daemon goes away.
pub async fn dispatch(cfg: Arc<Config>, me: String, mut events: mpsc::Receiver<EventRecord>, stats: Arc<Stats>) {
    let mut alerts = Vec::new();
    for alert in &cfg.observe.alerts {
        let (tx, rx) = mpsc::channel(ALERT_QUEUE);
        tokio::spawn(deliver_each(alert.clone(), rx, Arc::clone(&stats)));
        alerts.push((alert.clone(), tx, RateLimit::new(alert.max_per_minute)));
    }
    while let Some(e) = events.recv().await {
        for (alert, tx, limit) in &mut alerts {
            if !alert.matches(e.kind) {
                continue;
            }
            let (ok, first_refusal) = limit.allow(Instant::now());
            if !ok {
                stats.update(|s| *s.alerts_suppressed.entry(alert.name.clone()).or_default() += 1);
                if first_refusal {
                    tracing::warn!(
                        target: "baton",
                        server = me.as_str(),
                        "WARNING: alert {}: max_per_minute ({}) reached; further alerts suppressed (counted in /metrics)",
                        alert.name,
                        alert.max_per_minute
                    );
                }
                continue;
            }
            if tx.try_send(e.clone()).is_err() {
                stats.update(|s| *s.alerts_dropped.entry(alert.name.clone()).or_default() += 1);
            }
        }
    }
}

async fn deliver_each(alert: Alert, mut rx: mpsc::Receiver<EventRecord>, stats: Arc<Stats>) {
    let sink = sink_word(&alert.sink);
    while let Some(e) = rx.recv().await {
        match send(&alert, &e, false).await {
            Ok(()) => stats.update(|s| *s.alerts_sent.entry((alert.name.clone(), sink)).or_default() += 1),
            Err(why) => {
                stats.update(|s| *s.alerts_failed.entry((alert.name.clone(), sink)).or_default() += 1);
                tracing::warn!(
                    target: "baton",
                    server = e.server.as_str(),
                    "WARNING: alert {} ({sink}) of event {} not delivered: {why}",
                    alert.name,
                    e.event
                );
            }
        }
    }
}

/// The JSON an alert sends (webhook body, command stdin): the event record, the
/// alert's name, the time in RFC 3339 UTC, and whether it is a test.
pub fn payload(alert: &Alert, e: &EventRecord, test: bool) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("alert".into(), alert.name.clone().into());
        m.insert("time".into(), rfc3339_utc(e.at_ms).into());
        m.insert("test".into(), test.into());
    }
    v
}

/// One line for syslog and the command's `BATON_SUMMARY`.
pub fn summary(e: &EventRecord) -> String {
    let mut line = format!("{} {} on {}", e.severity.name(), e.event, e.server);
    for (k, v) in [("group", &e.group), ("resource", &e.resource), ("monitor", &e.monitor), ("peer", &e.peer)] {
        if let Some(v) = v {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    if let Some(r) = &e.reason {
        line.push_str(&format!(" reason={r:?}"));
    }
    line
}

/// Delivers one record through `alert`'s sink.
pub async fn send(alert: &Alert, e: &EventRecord, test: bool) -> Result<(), String> {
    let timeout = Duration::from_millis(alert.timeout_ms);
    match &alert.sink {
        AlertSink::Syslog { socket } => syslog(socket, e, timeout).await,
        AlertSink::Webhook { url } => webhook(url, &payload(alert, e, test), timeout).await,
        AlertSink::Command { command } => run_command(command, alert, e, test, timeout).await,
    }
}

/// `<PRI>baton[PID]: text` to the local syslog socket, facility daemon (3).
async fn syslog(socket: &str, e: &EventRecord, timeout: Duration) -> Result<(), String> {
    let severity = match e.severity {
        Severity::Info => 6,
        Severity::Warning => 4,
        Severity::Error => 3,
    };
    let msg = format!("<{}>baton[{}]: {}", 3 * 8 + severity, std::process::id(), summary(e));
    let sock = tokio::net::UnixDatagram::unbound().map_err(|e| format!("syslog socket: {e}"))?;
    match tokio::time::timeout(timeout, sock.send_to(msg.as_bytes(), socket)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("syslog {socket}: {err}")),
        Err(_) => Err(format!("syslog {socket}: not taken within {timeout:?}")),
    }
}

async fn webhook(url: &str, body: &Value, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("webhook client: {e}"))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {url}: HTTP {}", response.status()))
    }
}

async fn run_command(
    command: &str,
    alert: &Alert,
    e: &EventRecord,
    test: bool,
    timeout: Duration,
) -> Result<(), String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env("BATON_ALERT", &alert.name)
        .env("BATON_ALERT_TEST", if test { "1" } else { "0" })
        .env("BATON_CLUSTER", &e.cluster)
        .env("BATON_SERVER", &e.server)
        .env("BATON_EVENT", e.event)
        .env("BATON_EVENT_ID", e.id.to_string())
        .env("BATON_SEVERITY", e.severity.name())
        .env("BATON_TIME", rfc3339_utc(e.at_ms))
        .env("BATON_GROUP", opt(&e.group))
        .env("BATON_RESOURCE", opt(&e.resource))
        .env("BATON_MONITOR", opt(&e.monitor))
        .env("BATON_PEER", opt(&e.peer))
        .env("BATON_REASON", opt(&e.reason))
        .env("BATON_CAUSE", opt(&e.cause))
        .env("BATON_SUMMARY", summary(e))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("cannot run `{command}`: {err}"))?;
    let body = payload(alert, e, test).to_string() + "\n";
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its stdin is fine: a broken pipe is not a failure.
            let _ = stdin.write_all(body.as_bytes()).await;
        }
        child.wait().await
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("`{command}` ended with {status}")),
        Ok(Err(err)) => Err(format!("`{command}`: {err}")),
        Err(_) => Err(format!("`{command}` did not finish within {timeout:?}; killed")),
    }
}

/// The record `baton alert test` sends: marked as a test everywhere it shows.
pub fn test_record(cfg: &Config, server: &str) -> EventRecord {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    EventRecord {
        cluster: cfg.cluster.name.clone(),
        server: server.to_string(),
        at_ms: now_ms,
        event: "alert-test",
        id: 0,
        severity: Severity::Info,
        group: None,
        resource: None,
        monitor: None,
        peer: None,
        reason: Some("a test alert sent by `baton alert test`".to_string()),
        cause: None,
        // Not serialised; a test goes through every alert whatever it matches.
        kind: EventKind::ConfigLoaded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_allows_max_per_window_and_logs_the_first_refusal_once() {
        let mut r = RateLimit::new(2);
        let t0 = Instant::now();
        assert_eq!(r.allow(t0), (true, false));
        assert_eq!(r.allow(t0), (true, false));
        assert_eq!(r.allow(t0), (false, true));
        assert_eq!(r.allow(t0 + Duration::from_secs(1)), (false, false));
        assert_eq!(r.allow(t0 + RATE_WINDOW), (true, false), "the window slid past the first two");
    }
}
