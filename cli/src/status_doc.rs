//! The documented JSON of a server's status (`baton status --json`, `baton log state
//! --json`), schema version [`STATUS_SCHEMA_VERSION`] (docs/status-json.md).
//!
//! In: the daemon's status answer as it comes over the control socket (lists of
//! `[name, State]` pairs, states as Rust names; that wire form stays as it is, other
//! readers depend on it), or the core's `Status` serialised the same way. Out: one
//! object whose collections are objects keyed by name and whose states are lower-case
//! words (`"groups": {"failover1": "offline"}`), with `"v"`.

use baton_runtime::daemon::control::status_json::{pairs, text};
use serde_json::{Map, Value};

/// The version of the document: bumped when a key changes meaning or goes away (new
/// keys may appear within a version).
pub const STATUS_SCHEMA_VERSION: u64 = 1;

/// A state as a lower-case word: `"Online"` → `"online"`, `"StartingUp"` → `"starting-up"`.
pub fn word(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            for (i, c) in s.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push('-');
                }
                out.extend(c.to_lowercase());
            }
            Value::String(out)
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => v.clone(),
    }
}

/// `[["name", "State"], …]` as `{"name": "state", …}`.
fn keyed(v: &Value) -> Value {
    Value::Object(pairs(v).into_iter().map(|(k, s)| (k, word(s))).collect())
}

/// The status answer as the documented object.
pub fn document(status: &Value) -> Value {
    let mut doc = Map::new();
    doc.insert("v".into(), STATUS_SCHEMA_VERSION.into());
    for key in ["cluster", "server"] {
        if let Some(v) = status.get(key) {
            doc.insert(key.into(), v.clone());
        }
    }
    doc.insert("state".into(), word(&status["state"]));
    doc.insert("cluster_suspended".into(), Value::Bool(status["cluster_suspended"].as_bool() == Some(true)));
    for key in ["peers", "groups", "monitors", "mirrors"] {
        doc.insert(key.into(), keyed(&status[key]));
    }
    // `[[group, [[server, State], …]], …]` → `{group: {server: state}}`.
    let mut locations = Map::new();
    for (group, at) in pairs(&status["locations"]) {
        locations.insert(group, keyed(at));
    }
    doc.insert("locations".into(), Value::Object(locations));
    // `[[group, resource, word], …]` → `{group: {resource: word}}`.
    let mut resources = Map::new();
    for r in status["resources"].as_array().into_iter().flatten().filter_map(Value::as_array) {
        if let [group, resource, state] = r.as_slice() {
            let entry = resources.entry(text(group)).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(text(resource), word(state));
            }
        }
    }
    doc.insert("resources".into(), Value::Object(resources));
    // Issue 15: `monitor fail` / `resource fail-activation` active on this server.
    doc.insert("pseudo_faults".into(), status.get("pseudo_faults").cloned().unwrap_or_else(|| Value::Array(vec![])));
    // Already objects: `{peer, path, alive, silent_ms}` per path, and the counters.
    doc.insert("paths".into(), status.get("paths").cloned().unwrap_or_else(|| Value::Array(Vec::new())));
    // `{server, op, overdue}` per peer that has not confirmed the latest suspend or resume (X1).
    doc.insert("unconfirmed".into(), status.get("unconfirmed").cloned().unwrap_or_else(|| Value::Array(Vec::new())));
    if let Some(t) = status.get("transport") {
        doc.insert("transport".into(), t.clone());
    }
    // `{device, server, refused: {reason: n}, stale}` per refused slot.
    doc.insert("disk_slots".into(), status.get("disk_slots").cloned().unwrap_or_else(|| Value::Array(Vec::new())));
    Value::Object(doc)
}

/// Whether the text table gets colours: stdout is a terminal and `NO_COLOR` is unset
/// (https://no-color.org).
pub fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A state word, in colour when `colour`: green when all is well, yellow on the way or
/// waiting for the operator, red when something is lost or failed.
pub fn paint(word: &str, colour: bool) -> String {
    if !colour {
        return word.to_string();
    }
    let code = match word.split_whitespace().next().unwrap_or_default() {
        "online" | "ok" | "normal" | "alive" => "32",
        "suspended" | "starting" | "stopping" | "degraded" | "rebuilding" | "stopped" | "syncing" => "33",
        "down" | "error" | "SILENT" | "off" => "31",
        _ => return word.to_string(),
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

/// The shortest and longest `--interval` of `status --watch`.
pub const WATCH_INTERVAL_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;

/// `--interval`: a duration within [`WATCH_INTERVAL_MS`].
pub fn watch_interval(text: &str) -> Result<std::time::Duration, String> {
    let ms = baton_core::config::parse_duration_ms(text)?;
    if !WATCH_INTERVAL_MS.contains(&ms) {
        return Err(format!("{text}: the interval must be from 100ms to 1h"));
    }
    Ok(std::time::Duration::from_millis(ms))
}

/// `status --watch`: reads and prints the status every `every` until interrupted, like
/// `watch` or `crm_mon`. On a terminal each frame replaces the last (the screen is
/// cleared and the cursor homed); into a pipe frames follow each other, each under its
/// header line. A daemon that does not answer is shown in the frame, and the watch
/// goes on (it may be restarting). Ends on SIGINT, or when stdout closes.
pub fn watch(
    every: std::time::Duration,
    terminal: bool,
    mut frame: impl FnMut() -> Result<String, String>,
) -> std::process::ExitCode {
    use std::io::Write;
    loop {
        let body = frame().unwrap_or_else(|e| format!("baton status: {e}\n"));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let header = format!(
            "Every {:.1}s: baton status    {}\n\n",
            every.as_secs_f64(),
            baton_runtime::daemon::eventlog::rfc3339_utc(now_ms)
        );
        let clear = if terminal { "\x1b[H\x1b[2J" } else { "" };
        let mut out = std::io::stdout().lock();
        if write!(out, "{clear}{header}{body}").and_then(|()| out.flush()).is_err() {
            return std::process::ExitCode::SUCCESS;
        }
        drop(out);
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_become_objects_and_states_lower_case_words() {
        let wire: Value = serde_json::from_str(
            r#"{"cluster":"c","server":"s1","state":"Syncing","cluster_suspended":false,
                "peers":[["s2","Suspended"]],"groups":[["failover1","Offline"]],
                "monitors":[["m1","ok"]],"mirrors":[],"paths":[{"peer":"s2","path":"lan1","alive":true,"silent_ms":5}],
                "resources":[["failover1","fip1","offline"]],
                "locations":[["failover1",[["s2","Online"]]]],"transport":{"sent":3}}"#,
        )
        .unwrap();
        let doc = document(&wire);
        assert_eq!(doc["v"], 1);
        assert_eq!(doc["state"], "syncing");
        assert_eq!(doc["peers"]["s2"], "suspended");
        assert_eq!(doc["groups"]["failover1"], "offline");
        assert_eq!(doc["monitors"]["m1"], "ok");
        assert_eq!(doc["mirrors"], serde_json::json!({}));
        assert_eq!(doc["locations"]["failover1"]["s2"], "online");
        assert_eq!(doc["resources"]["failover1"]["fip1"], "offline");
        assert_eq!(doc["paths"][0]["path"], "lan1");
        assert_eq!(doc["transport"]["sent"], 3);
        assert_eq!(word(&Value::from("StartingUp")), "starting-up");
    }
}
