//! What the daemon shows and tells outside the cluster (issue 13): the HTTP endpoint's
//! listening addresses (`[cluster] web_listen`, next to `web_port`) and the `[[alert]]`
//! tables (events by name or severity → syslog, a webhook or a command).
//!
//! In: the outline's `[cluster]` and `[[alert]]` tables. Out: [`Observe`] in
//! `cfg.observe`, and a `FILE:LINE:COL` diagnostic for every bad key or value. The core
//! never reads these: the runtime and the CLI act on them (cli/src/observe/).

use super::ctx::Ctx;
use super::keys;
use super::toml_walk::{Obj, Sp};
use super::{Ms, Server};
use crate::event_kind::{EventKind, Severity};
use serde::Serialize;
use std::net::IpAddr;

/// The observation settings of the file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Observe {
    /// `web_listen`: the addresses the HTTP endpoint binds (with `web_port`); empty: this
    /// server's own addresses ([`Observe::listen_addresses`]).
    pub web_listen: Vec<IpAddr>,
    /// `web_token_file`: the file holding the web console's operator token (mode 0600,
    /// checked like `secret_file` by the CLI); none: the console is read-only.
    pub web_token_file: Option<String>,
    /// `web_tls_cert` and `web_tls_key`: PEM files; both or neither (then plain HTTP).
    pub web_tls: Option<WebTls>,
    /// The `[[alert]]` tables in file order.
    pub alerts: Vec<Alert>,
}

impl Observe {
    /// Where a server's HTTP endpoint listens: `web_listen` when written, else the
    /// server's own interconnect addresses (never the wildcard address by default).
    pub fn listen_addresses(&self, server: &Server) -> Vec<IpAddr> {
        if !self.web_listen.is_empty() {
            return self.web_listen.clone();
        }
        let mut out: Vec<IpAddr> = server.addresses.values().filter_map(|a| a.parse::<IpAddr>().ok()).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The certificate chain and private key the HTTP endpoint serves TLS with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebTls {
    pub cert: String,
    pub key: String,
}

/// One `[[alert]]`: which events, where to, how often at most.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// `name`, or `alert-N` (1-based file order) when not written.
    pub name: String,
    /// `events`: these events by name, whatever their severity.
    pub events: Vec<EventKind>,
    /// `severity`: every event at least this severe.
    pub min_severity: Option<Severity>,
    pub sink: AlertSink,
    /// `max_per_minute`: alerts sent in any 60 s; the others are counted as suppressed.
    pub max_per_minute: u32,
    /// `timeout`: how long a webhook or command may take.
    pub timeout_ms: Ms,
}

impl Alert {
    /// Whether an event of this kind goes to this alert.
    pub fn matches(&self, kind: EventKind) -> bool {
        self.events.contains(&kind) || self.min_severity.is_some_and(|s| kind.severity() >= s)
    }
}

/// Where an alert goes (`to`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertSink {
    /// The local syslog socket (`socket`, default `/dev/log`), facility daemon.
    Syslog { socket: String },
    /// An HTTP POST of the event as JSON to `url`.
    Webhook { url: String },
    /// `command` run by `/bin/sh -c`, the event in its environment and as JSON on stdin.
    Command { command: String },
}

/// The default of `max_per_minute`.
pub const ALERT_MAX_PER_MINUTE: u32 = 10;
/// The default of `timeout` (webhooks and commands).
pub const ALERT_TIMEOUT_MS: Ms = 5_000;
/// The default syslog socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// Alerts per file (B132-style bound: each one is a task and a queue in the daemon).
const MAX_ALERTS: usize = 32;

/// `[cluster] web_listen`.
pub(crate) fn read_web_listen(cx: &mut Ctx<'_>) {
    let Some(c) = cx.o.cluster.clone() else { return };
    let Some(list) = cx.w.strings(&c.obj, "web_listen") else { return };
    for s in list.v {
        match s.v.parse::<IpAddr>() {
            Ok(a) => cx.cfg.observe.web_listen.push(a),
            Err(_) => {
                let msg = format!("{}: `web_listen` = \"{}\" is not an IP address", c.obj.label, s.v);
                cx.w.diags.error(s.at, msg);
            }
        }
    }
}

/// `[cluster] web_token_file`, `web_tls_cert`, `web_tls_key` (the web console).
pub(crate) fn read_web_console(cx: &mut Ctx<'_>) {
    let Some(c) = cx.o.cluster.clone() else { return };
    let o = &c.obj;
    cx.cfg.observe.web_token_file = nonempty(cx, o, "web_token_file").map(|s| s.v);
    let cert = nonempty(cx, o, "web_tls_cert");
    let key = nonempty(cx, o, "web_tls_key");
    match (cert, key) {
        (Some(cert), Some(key)) => cx.cfg.observe.web_tls = Some(WebTls { cert: cert.v, key: key.v }),
        (Some(one), None) | (None, Some(one)) => {
            let msg = format!("{}: `web_tls_cert` and `web_tls_key` go together (write both, or neither)", o.label);
            cx.w.diags.error(one.key_at, msg);
        }
        (None, None) => {}
    }
}

/// A string key that, when written, is not empty.
fn nonempty<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, key: &'static str) -> Option<Sp<String>> {
    let s = cx.w.string(o, key)?;
    if s.v.trim().is_empty() {
        cx.w.diags.error(s.at, format!("{}: `{key}` is empty", o.label));
        return None;
    }
    Some(s)
}

/// Every `[[alert]]`.
pub(crate) fn read_alerts(cx: &mut Ctx<'_>) {
    let tables = cx.o.alerts.clone();
    if let Some(extra) = tables.get(MAX_ALERTS) {
        let msg = format!("{}: at most {MAX_ALERTS} [[alert]] tables", extra.label);
        cx.w.diags.error(extra.pos, msg);
    }
    for (i, o) in tables.iter().enumerate().take(MAX_ALERTS) {
        if let Some(a) = read_alert(cx, o, i) {
            cx.cfg.observe.alerts.push(a);
        }
    }
}

const SINKS: [&str; 3] = ["syslog", "webhook", "command"];
const SEVERITIES: [(&str, Severity); 3] =
    [("info", Severity::Info), ("warning", Severity::Warning), ("error", Severity::Error)];

fn read_alert<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, i: usize) -> Option<Alert> {
    let w = &mut cx.w;
    w.check_keys(o, &[keys::ALERT], "");
    let name = w.string(o, "name").map_or_else(|| format!("alert-{}", i + 1), |s| s.v);
    let mut events = Vec::new();
    for s in w.strings(o, "events").map(|l| l.v).unwrap_or_default() {
        match EventKind::from_name(&s.v) {
            Some(k) if !events.contains(&k) => events.push(k),
            Some(_) => w.diags.error(s.at, format!("{}: the event \"{}\" is listed twice", o.label, s.v)),
            None => {
                let msg = format!("{}: \"{}\" is not an event name (see docs/events.md)", o.label, s.v);
                w.diags.error(s.at, msg);
            }
        }
    }
    let min_severity = w.choice(o, "severity", &SEVERITIES).map(|s| s.v);
    if events.is_empty() && min_severity.is_none() {
        let msg = format!(
            "{}: say which events it sends: `events = [\"group-failover\", …]` or `severity = \"error\"`",
            o.label
        );
        w.diags.error(o.pos, msg);
    }
    let max_per_minute = w.uint(o, "max_per_minute", 1, 10_000).map_or(ALERT_MAX_PER_MINUTE, |v| v.v as u32);
    let timeout_ms = w.duration(o, "timeout", super::ranges::ALERT_TIMEOUT).map_or(ALERT_TIMEOUT_MS, |v| v.v);
    let to = w.req_string(o, "to")?;
    let (needed, other): (&[&str], &[&str]) = match to.v.as_str() {
        "syslog" => (&[], &["url", "command"]),
        "webhook" => (&["url"], &["socket", "command"]),
        "command" => (&["command"], &["socket", "url"]),
        _ => {
            let words: Vec<String> = SINKS.iter().map(|w| format!("\"{w}\"")).collect();
            let msg = format!("{}: `to` = \"{}\" is not one of {}", o.label, to.v, words.join(", "));
            w.diags.error(to.at, msg);
            return None;
        }
    };
    for key in other {
        if let Some(f) = w.field_of(o, key) {
            let msg = format!("{}: `{key}` does not apply to `to = \"{}\"`", o.label, to.v);
            w.diags.error(f.key_at, msg);
        }
    }
    for key in needed {
        if w.field_of(o, key).is_none() {
            w.missing(o, key);
        }
    }
    let sink = match to.v.as_str() {
        "syslog" => {
            AlertSink::Syslog { socket: w.string(o, "socket").map_or_else(|| SYSLOG_SOCKET.to_string(), |s| s.v) }
        }
        "webhook" => {
            let url = w.string(o, "url")?;
            if !(url.v.starts_with("http://") || url.v.starts_with("https://")) {
                let msg = format!("{}: `url` = \"{}\" must start with http:// or https://", o.label, url.v);
                w.diags.error(url.at, msg);
                return None;
            }
            AlertSink::Webhook { url: url.v }
        }
        _ => {
            let command = w.string(o, "command")?;
            if command.v.trim().is_empty() {
                w.diags.error(command.at, format!("{}: `command` is empty", o.label));
                return None;
            }
            AlertSink::Command { command: command.v }
        }
    };
    Some(Alert { name, events, min_severity, sink, max_per_minute, timeout_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = include_str!("../../../examples/configs/2node-ping.toml");

    fn with(extra: &str) -> Result<crate::config::Config, Vec<String>> {
        let text = BASE.replace("[cluster]\n", &format!("[cluster]\n{extra}\n"));
        crate::config::parse("t.toml", &text).map(|c| c.config).map_err(|d| d.iter().map(ToString::to_string).collect())
    }

    fn alerts(tables: &str) -> Result<crate::config::Config, Vec<String>> {
        let text = format!("{BASE}\n{tables}");
        crate::config::parse("t.toml", &text).map(|c| c.config).map_err(|d| d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn alerts_read_with_defaults_and_render_back() {
        let cfg = alerts(
            "[[alert]]\nevents = [\"group-failover\"]\nto = \"webhook\"\nurl = \"http://h/x\"\n\n\
             [[alert]]\nname = \"cmd\"\nseverity = \"error\"\nto = \"command\"\ncommand = \"logger x\"\nmax_per_minute = 2\ntimeout = \"1s\"\n",
        )
        .unwrap();
        let a = &cfg.observe.alerts;
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].name.as_str(), a[0].max_per_minute, a[0].timeout_ms), ("alert-1", 10, 5_000));
        assert!(a[0].matches(EventKind::GroupFailover) && !a[0].matches(EventKind::GroupFailoverFailed));
        assert!(a[1].matches(EventKind::GroupFailoverFailed) && !a[1].matches(EventKind::GroupFailover));
        let again = crate::config::parse("r.toml", &crate::config::render(&cfg)).unwrap().config;
        assert_eq!(again.observe.alerts, cfg.observe.alerts);
    }

    #[test]
    fn web_listen_and_web_port_zero() {
        let cfg = with("web_listen = [\"127.0.0.1\", \"::1\"]\nweb_port = 0").unwrap();
        assert_eq!(cfg.observe.web_listen.len(), 2);
        assert_eq!(cfg.cluster.web_port, 0);
        let server = &cfg.servers[0];
        assert_eq!(cfg.observe.listen_addresses(server), cfg.observe.web_listen);
        let errs = with("web_listen = [\"localhost\"]").unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("t.toml:") && e.contains("is not an IP address")), "{errs:?}");
        let dflt = with("").unwrap();
        let own: Vec<IpAddr> = dflt.observe.listen_addresses(&dflt.servers[0]);
        assert!(!own.is_empty() && own.iter().all(|a| !a.is_unspecified()), "{own:?}");
    }

    #[test]
    fn web_console_keys_read_render_and_pair() {
        let cfg = with("web_token_file = \"/etc/baton/web.token\"\nweb_tls_cert = \"c.pem\"\nweb_tls_key = \"k.pem\"")
            .unwrap();
        assert_eq!(cfg.observe.web_token_file.as_deref(), Some("/etc/baton/web.token"));
        assert_eq!(cfg.observe.web_tls, Some(WebTls { cert: "c.pem".into(), key: "k.pem".into() }));
        let again = crate::config::parse("r.toml", &crate::config::render(&cfg)).unwrap().config;
        assert_eq!(
            (again.observe.web_token_file, again.observe.web_tls),
            (cfg.observe.web_token_file, cfg.observe.web_tls)
        );
        let errs = with("web_tls_cert = \"c.pem\"").unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("t.toml:") && e.contains("go together")), "{errs:?}");
        let errs = with("web_token_file = \"\"").unwrap_err();
        assert!(errs.iter().any(|e| e.contains("`web_token_file` is empty")), "{errs:?}");
    }

    #[test]
    fn bad_alerts_are_refused_with_positions() {
        let errs = alerts("[[alert]]\nto = \"syslog\"\n").unwrap_err();
        assert!(errs.iter().any(|e| e.contains("say which events it sends")), "{errs:?}");
        let errs = alerts("[[alert]]\nseverity = \"bad\"\nto = \"webhook\"\nurl = \"ftp://x\"\n").unwrap_err();
        assert!(errs.iter().any(|e| e.contains("`severity` = \"bad\" is not one of")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("must start with http:// or https://")), "{errs:?}");
        let errs = alerts("[[alert]]\nseverity = \"info\"\nto = \"syslog\"\nfoo = 1\n").unwrap_err();
        assert!(errs.iter().any(|e| e.contains("foo")), "{errs:?}");
    }
}
