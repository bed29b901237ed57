//! `/metrics`: a daemon's state and counters in the Prometheus text format (0.0.4).
//!
//! In: the snapshot the loop published (the status and its counters) and the
//! observation side's [`StatsInner`]. Out: the exposition text, every family with HELP
//! and TYPE, names `baton_…` with units last and `_total` on counters, states as one
//! series per object whose `state` label holds the current state word (value 1), as
//! docs/metrics.md lists them. Written by hand rather than through a registry: every
//! value is read from the snapshot at scrape time (a collector), and escaping is the
//! one rule the format has (`\\`, `\"`, `\n` in label values).

use super::StatsInner;
use baton_runtime::daemon::observe::{Snapshot, STEP_BUCKETS_US};
use serde_json::Value;
use std::fmt::Write as _;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The transport counters that count dropped datagrams, by reason (docs/transport.md).
pub const DROP_REASONS: [&str; 9] = [
    "malformed",
    "bad_tag",
    "replayed",
    "too_large",
    "unknown_version",
    "unknown_sender",
    "wrong_cluster",
    "spoofed_source",
    "wrong_path",
];

/// The exposition being written.
struct Out {
    text: String,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.text, "{{{}}}", parts.join(","));
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// A label value as the text format writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn word(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// `{name: word}` objects of the status document as (name, word) pairs.
fn entries(v: &Value) -> Vec<(String, String)> {
    v.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), word(v))).collect()
}

/// The exposition of one scrape.
pub fn render(snap: &Snapshot, stats: &StatsInner) -> String {
    let wire = serde_json::to_value(&snap.status).unwrap_or(Value::Null);
    let doc = crate::status_doc::document(&wire);
    let mut o = Out { text: String::with_capacity(8 * 1024) };
    states(&mut o, &doc);
    paths(&mut o, &doc);
    events(&mut o, snap);
    transport(&mut o, &doc);
    step_histogram(&mut o, snap);
    observation(&mut o, snap, stats);
    o.text
}

fn states(o: &mut Out, doc: &Value) {
    let cluster = word(&doc["cluster"]);
    let server = word(&doc["server"]);
    o.family("baton_server_info", "gauge", "This daemon: its cluster and server name (always 1).");
    o.sample("baton_server_info", &[("cluster", &cluster), ("server", &server)], 1);
    o.family("baton_server_state", "gauge", "Each server's state as this server sees it (1 for the current state).");
    o.sample("baton_server_state", &[("server", &server), ("state", &word(&doc["state"]))], 1);
    for (peer, state) in entries(&doc["peers"]) {
        o.sample("baton_server_state", &[("server", &peer), ("state", &state)], 1);
    }
    o.family("baton_cluster_suspended", "gauge", "1 while the cluster is suspended (B25).");
    o.sample("baton_cluster_suspended", &[], u8::from(doc["cluster_suspended"].as_bool() == Some(true)));
    o.family("baton_group_state", "gauge", "Each group's state on this server (1 for the current state).");
    for (group, state) in entries(&doc["groups"]) {
        o.sample("baton_group_state", &[("group", &group), ("state", &state)], 1);
    }
    o.family("baton_group_location", "gauge", "Where each group is not offline, with its state there (1).");
    for (group, at) in doc["locations"].as_object().into_iter().flatten() {
        for (server, state) in entries(at) {
            o.sample("baton_group_location", &[("group", group), ("server", &server), ("state", &state)], 1);
        }
    }
    o.family("baton_resource_state", "gauge", "Each resource's state on this server (1 for the current state).");
    for (group, rs) in doc["resources"].as_object().into_iter().flatten() {
        for (resource, state) in entries(rs) {
            o.sample("baton_resource_state", &[("group", group), ("resource", &resource), ("state", &state)], 1);
        }
    }
    o.family("baton_monitor_state", "gauge", "Each monitor's state on this server (1 for the current state).");
    for (monitor, state) in entries(&doc["monitors"]) {
        o.sample("baton_monitor_state", &[("monitor", &monitor), ("state", &state)], 1);
    }
    o.family("baton_mirror_state", "gauge", "Each mirror disk's state as the core knows it (1 for the current state).");
    for (mirror, state) in entries(&doc["mirrors"]) {
        o.sample("baton_mirror_state", &[("mirror", &mirror), ("state", &state)], 1);
    }
}

fn paths(o: &mut Out, doc: &Value) {
    let list: Vec<&Value> = doc["paths"].as_array().into_iter().flatten().collect();
    o.family("baton_heartbeat_path_up", "gauge", "1 while a heartbeat path to a peer is alive, else 0.");
    for p in &list {
        let (peer, path) = (word(&p["peer"]), word(&p["path"]));
        o.sample("baton_heartbeat_path_up", &[("peer", &peer), ("path", &path)], u8::from(p["alive"] == true));
    }
    o.family(
        "baton_heartbeat_path_silence_seconds",
        "gauge",
        "Time since a path last carried a heartbeat (absent: never).",
    );
    for p in &list {
        if let Some(ms) = p["silent_ms"].as_u64() {
            let (peer, path) = (word(&p["peer"]), word(&p["path"]));
            o.sample(
                "baton_heartbeat_path_silence_seconds",
                &[("peer", &peer), ("path", &path)],
                seconds(ms.saturating_mul(1_000)),
            );
        }
    }
}

/// Microseconds as seconds, exactly (`0.000125`).
fn seconds(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn events(o: &mut Out, snap: &Snapshot) {
    let c = &snap.counts;
    o.family("baton_events_total", "counter", "Events this server emitted, by name and severity (docs/events.md).");
    for ((name, severity), n) in &c.events {
        o.sample("baton_events_total", &[("event", name), ("severity", severity.name())], n);
    }
    o.family(
        "baton_failovers_total",
        "counter",
        "Failovers of a group to this server, by cause (server-down B55, activation-failed B70, monitor-error B83).",
    );
    for ((group, cause), n) in &c.failovers {
        o.sample("baton_failovers_total", &[("group", group), ("cause", cause)], n);
    }
    o.family("baton_recovery_actions_total", "counter", "Recovery actions of monitors (B83), by monitor and action.");
    for ((monitor, action), n) in &c.recovery_actions {
        o.sample("baton_recovery_actions_total", &[("monitor", monitor), ("action", action)], n);
    }
    o.family("baton_np_verdicts_total", "counter", "Network-partition resolution verdicts on this server, by verdict.");
    for (verdict, n) in &c.np_verdicts {
        o.sample("baton_np_verdicts_total", &[("verdict", verdict)], n);
    }
}

fn transport(o: &mut Out, doc: &Value) {
    let t = &doc["transport"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    o.family(
        "baton_transport_dropped_packets_total",
        "counter",
        "Received datagrams the transport dropped, by reason.",
    );
    for reason in DROP_REASONS {
        o.sample("baton_transport_dropped_packets_total", &[("reason", reason)], n(reason));
    }
    let plain: [(&str, &str, &str); 12] = [
        ("sent", "baton_transport_sent_packets_total", "Packets sent."),
        ("accepted", "baton_transport_accepted_packets_total", "Packets accepted (authenticated, fresh)."),
        ("send_errors", "baton_transport_send_errors_total", "Sends that failed at the socket."),
        ("receive_errors", "baton_transport_receive_errors_total", "Receive errors of a socket."),
        (
            "kernel_drops",
            "baton_transport_kernel_dropped_packets_total",
            "Datagrams the kernel dropped (receive buffer full).",
        ),
        ("retransmitted", "baton_transport_retransmitted_messages_total", "Copies of cluster messages sent again."),
        ("abandoned", "baton_transport_abandoned_messages_total", "Cluster messages given up unacknowledged."),
        (
            "unacked_overflow",
            "baton_transport_unacked_overflow_messages_total",
            "Messages given up because the peer's queue was full.",
        ),
        ("duplicate", "baton_transport_duplicate_messages_total", "Message packets for a message already delivered."),
        (
            "out_of_order_overflow",
            "baton_transport_out_of_order_overflow_messages_total",
            "Messages ahead of a gap dropped (buffer full).",
        ),
        ("skipped", "baton_transport_skipped_messages_total", "Messages never delivered because their sender gave up."),
        (
            "bad_sequence",
            "baton_transport_bad_sequence_packets_total",
            "Authenticated packets with impossible channel numbers.",
        ),
    ];
    for (key, name, help) in plain {
        o.family(name, "counter", help);
        o.sample(name, &[], n(key));
    }
    o.family("baton_transport_receive_buffer_bytes", "gauge", "The largest receive buffer of the sockets.");
    o.sample("baton_transport_receive_buffer_bytes", &[], n("receive_buffer_bytes"));
    o.family(
        "baton_disk_slot_refusals_total",
        "counter",
        "Reads of a shared-device slot refused, by device, slot owner and reason.",
    );
    for s in doc["disk_slots"].as_array().into_iter().flatten() {
        let (device, server) = (word(&s["device"]), word(&s["server"]));
        for (reason, count) in s["refused"].as_object().into_iter().flatten() {
            let labels = [("device", device.as_str()), ("server", server.as_str()), ("reason", reason.as_str())];
            o.sample("baton_disk_slot_refusals_total", &labels, count.as_u64().unwrap_or(0));
        }
    }
}

fn step_histogram(o: &mut Out, snap: &Snapshot) {
    let h = &snap.counts.step;
    let name = "baton_input_processing_seconds";
    o.family(name, "histogram", "Time the core took to handle one input (the decision path, no I/O).");
    let mut cumulative = 0u64;
    for (i, bound) in STEP_BUCKETS_US.iter().enumerate() {
        cumulative += h.buckets[i];
        o.sample(&format!("{name}_bucket"), &[("le", &seconds(*bound))], cumulative);
    }
    o.sample(&format!("{name}_bucket"), &[("le", "+Inf")], h.count);
    o.sample(&format!("{name}_sum"), &[], seconds(h.sum_us));
    o.sample(&format!("{name}_count"), &[], h.count);
}

fn observation(o: &mut Out, snap: &Snapshot, s: &StatsInner) {
    o.family("baton_alerts_sent_total", "counter", "Alerts delivered, by alert and sink.");
    for ((alert, sink), n) in &s.alerts_sent {
        o.sample("baton_alerts_sent_total", &[("alert", alert), ("sink", sink)], n);
    }
    o.family("baton_alerts_failed_total", "counter", "Alerts whose delivery failed, by alert and sink.");
    for ((alert, sink), n) in &s.alerts_failed {
        o.sample("baton_alerts_failed_total", &[("alert", alert), ("sink", sink)], n);
    }
    o.family("baton_alerts_suppressed_total", "counter", "Alerts not sent because of max_per_minute, by alert.");
    for (alert, n) in &s.alerts_suppressed {
        o.sample("baton_alerts_suppressed_total", &[("alert", alert)], n);
    }
    o.family("baton_alerts_dropped_total", "counter", "Alerts dropped because the alert's queue was full, by alert.");
    for (alert, n) in &s.alerts_dropped {
        o.sample("baton_alerts_dropped_total", &[("alert", alert)], n);
    }
    o.family("baton_event_records_not_queued_total", "counter", "Event records the full alert queue did not take.");
    o.sample("baton_event_records_not_queued_total", &[], snap.counts.events_not_queued);
    o.family("baton_web_connections_refused_total", "counter", "HTTP connections closed at once (too many open).");
    o.sample("baton_web_connections_refused_total", &[], s.web_connections_refused);
    o.family("baton_web_responses_total", "counter", "HTTP responses of this endpoint, by status code.");
    for (code, n) in &s.web_responses {
        o.sample("baton_web_responses_total", &[("code", &code.to_string())], n);
    }
    o.family("baton_status_timestamp_seconds", "gauge", "The node's time (Unix seconds) when this snapshot was taken.");
    o.sample("baton_status_timestamp_seconds", &[], seconds(snap.at_ms.saturating_mul(1_000)));
}
