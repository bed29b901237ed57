//! The daemon's log subscriber (issue 13 §3): the `tracing` records of the runtime
//! (`baton_runtime::daemon::eventlog::Logger`: `server`, `at_ms`, and for events
//! `event`, `id`, `severity`, `group`, `resource`, `monitor`, `peer`, `reason`,
//! `cause`) filtered by level and written in one of three forms.
//!
//! In: `--log-level` (an `EnvFilter` directive: `warn`, `info,baton::event=error`),
//! else `RUST_LOG`, else `info`; `--log-format`. Out, on stderr or to journald:
//! - `human`: the line the daemon always wrote, `baton[server1] 2026-12-06T15:12:36.732Z
//!   event=group-online group=failover1` (RFC 3339 UTC, the node's time of the step);
//! - `json`: one JSON object per record with every field (for log shippers);
//! - `journald`: native journal fields (`EVENT=`, `GROUP=`, `SEVERITY=`, … and
//!   `PRIORITY` from the level), by `tracing-journald`;
//! - `auto` (default): `journald` when stderr is the journal's stream (systemd sets
//!   `JOURNAL_STREAM` to its device and inode), else `human`.

use baton_runtime::daemon::eventlog::rfc3339_utc;
use std::fmt;
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Human,
    Json,
    Journald,
}

/// Installs the process's subscriber. Errors: a bad `--log-level`/`RUST_LOG`
/// directive, or `journald` asked for and no journal socket.
pub fn init(level: Option<&str>, format: LogFormat, server: &str) -> Result<(), String> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l)
            .map_err(|e| format!("--log-level {l}: {e} (e.g. `info`, `warn`, `baton::event=error`)"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => {
                EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG={v}: {e} (e.g. `info`, `warn`)"))?
            }
            Ok(_) | Err(_) => EnvFilter::new("info"),
        },
    };
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Human,
        other @ (LogFormat::Human | LogFormat::Json | LogFormat::Journald) => other,
    };
    let layer: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Journald => tracing_journald::layer()
            .map_err(|e| format!("--log-format journald: no journal socket: {e}"))?
            .with_syslog_identifier("baton".to_string())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Human | LogFormat::Auto => tracing_subscriber::fmt::layer()
            .event_format(Human { server: server.to_string() })
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))
}

/// systemd's `JOURNAL_STREAM=DEV:INODE` names stderr when it is connected to the
/// journal (a redirection inherits the variable but not the descriptor).
fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else { return false };
    let Ok(st) = rustix::fs::fstat(std::io::stderr()) else { return false };
    dev.parse::<u64>().ok() == Some(st.st_dev) && ino.parse::<u64>().ok() == Some(st.st_ino)
}

/// The human line: `baton[SERVER] TIME MESSAGE`, then `key=value` for fields other
/// than the daemon's own (those are in the message already).
struct Human {
    server: String,
}

#[derive(Default)]
struct Fields {
    message: String,
    server: Option<String>,
    at_ms: Option<u64>,
    extra: String,
}

/// The fields the daemon's records carry, which its message already says.
const OWN_FIELDS: [&str; 11] =
    ["server", "at_ms", "event", "id", "severity", "group", "resource", "monitor", "peer", "reason", "cause"];

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "server" => self.server = Some(format!("{value:?}").trim_matches('"').to_string()),
            name if OWN_FIELDS.contains(&name) => {}
            name => self.extra.push_str(&format!(" {name}={value:?}")),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "server" => self.server = Some(value.to_string()),
            name if OWN_FIELDS.contains(&name) => {}
            name => self.extra.push_str(&format!(" {name}={value:?}")),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "at_ms" => self.at_ms = Some(value),
            name if OWN_FIELDS.contains(&name) => {}
            name => self.extra.push_str(&format!(" {name}={value}")),
        }
    }
}

impl<S, N> FormatEvent<S, N> for Human
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _cx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &tracing::Event<'_>) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let at_ms = f.at_ms.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        });
        let server = f.server.as_deref().unwrap_or(&self.server);
        writeln!(w, "baton[{server}] {} {}{}", rfc3339_utc(at_ms), f.message, f.extra)
    }
}
