//! Prints a resolved configuration back as a cluster file.
//!
//! In: a checked [`Config`]. Out: TOML in the file's own vocabulary with every
//! default written out, names instead of indexes and durations as `"3s"`. Implied
//! monitors (B88) are printed as ordinary `[[monitor]]` tables under a
//! `# implied (B88)` comment, so the output parses back to the same model (the
//! only difference being that those monitors are then explicit).

use super::duration::format_ms;
use super::words;
use super::{
    Alert, AlertSink, Config, Group, Heartbeat, HeartbeatKind, Mirror, Monitor, MonitorKind, Np, NpKind,
    RecoveryTarget, ResId, Resource, ResourceKind, ServerId,
};
use std::fmt::Write;

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key: bare when TOML allows it, else quoted.
fn k(s: &str) -> String {
    let bare = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        s.to_string()
    } else {
        q(s)
    }
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let parts: Vec<String> = items.into_iter().map(q).collect();
    format!("[{}]", parts.join(", "))
}

fn inline<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let parts: Vec<String> = pairs.into_iter().map(|(key, v)| format!("{} = {v}", k(key))).collect();
    if parts.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", parts.join(", "))
    }
}

struct Out<'c> {
    cfg: &'c Config,
    s: String,
}

impl Out<'_> {
    fn line(&mut self, key: &str, value: String) {
        let _ = writeln!(self.s, "{key} = {value}");
    }
    fn str(&mut self, key: &str, value: &str) {
        self.line(key, q(value));
    }
    fn dur(&mut self, key: &str, ms: u64) {
        self.line(key, q(&format_ms(ms)));
    }
    fn servers(&mut self, key: &str, ids: &[ServerId]) {
        let names: Vec<&str> = ids.iter().map(|s| self.cfg.servers[s.idx()].name.as_str()).collect();
        self.line(key, list(names));
    }
    fn res(&self, r: ResId) -> &str {
        &self.cfg.resources[r.idx()].name
    }
}

/// The resolved configuration as a cluster file.
pub fn render(cfg: &Config) -> String {
    let mut o = Out { cfg, s: String::new() };
    let c = &cfg.cluster;
    let _ = writeln!(o.s, "# Resolved configuration of cluster {}: every default written out.", q(&c.name));
    o.s.push_str("\n[cluster]\n");
    o.str("name", &c.name);
    o.dur("heartbeat_interval", c.heartbeat_interval_ms);
    o.dur("heartbeat_timeout", c.heartbeat_timeout_ms);
    o.dur("sync_wait", c.sync_wait_ms);
    o.line("auto_return", c.auto_return.to_string());
    o.str("failover_count_scope", words::count_scope(c.failover_count_scope));
    o.str("np_action", words::np_action(c.np_action));
    o.dur("counter_reset_after", c.counter_reset_after_ms);
    if let Some(f) = &c.secret_file {
        o.str("secret_file", f);
    }
    o.line("insecure", c.insecure.to_string());
    o.line("port", c.port.to_string());
    o.line("web_port", c.web_port.to_string());
    if !cfg.observe.web_listen.is_empty() {
        let addresses: Vec<String> = cfg.observe.web_listen.iter().map(ToString::to_string).collect();
        o.line("web_listen", list(addresses.iter().map(String::as_str)));
    }
    if let Some(f) = &cfg.observe.web_token_file {
        o.str("web_token_file", f);
    }
    if let Some(t) = &cfg.observe.web_tls {
        o.str("web_tls_cert", &t.cert);
        o.str("web_tls_key", &t.key);
    }
    for s in &cfg.servers {
        o.s.push_str("\n[[server]]\n");
        o.str("name", &s.name);
        o.line("addresses", inline(s.addresses.iter().map(|(n, a)| (n.as_str(), q(a)))));
    }
    for sg in &cfg.server_groups {
        o.s.push_str("\n[[server_group]]\n");
        o.str("name", &sg.name);
        o.servers("servers", &sg.servers);
    }
    for hb in &cfg.heartbeats {
        heartbeat(&mut o, hb);
    }
    for np in &cfg.nps {
        resolver(&mut o, np);
    }
    for g in &cfg.groups {
        group(&mut o, g);
    }
    for m in &cfg.monitors {
        monitor(&mut o, m);
    }
    for a in &cfg.observe.alerts {
        alert(&mut o, a);
    }
    o.s
}

fn alert(o: &mut Out<'_>, a: &Alert) {
    o.s.push_str("\n[[alert]]\n");
    o.str("name", &a.name);
    if !a.events.is_empty() {
        o.line("events", list(a.events.iter().map(|e| e.name())));
    }
    if let Some(s) = a.min_severity {
        o.str("severity", s.name());
    }
    match &a.sink {
        AlertSink::Syslog { socket } => {
            o.str("to", "syslog");
            o.str("socket", socket);
        }
        AlertSink::Webhook { url } => {
            o.str("to", "webhook");
            o.str("url", url);
        }
        AlertSink::Command { command } => {
            o.str("to", "command");
            o.str("command", command);
        }
    }
    o.line("max_per_minute", a.max_per_minute.to_string());
    o.dur("timeout", a.timeout_ms);
}

fn heartbeat(o: &mut Out<'_>, hb: &Heartbeat) {
    o.s.push_str("\n[[heartbeat]]\n");
    o.str("name", &hb.name);
    match &hb.kind {
        HeartbeatKind::Lan { network } => {
            o.str("kind", "lan");
            o.str("network", network);
        }
        HeartbeatKind::Disk { device } => {
            o.str("kind", "disk");
            o.str("device", device);
        }
    }
    o.line("priority", hb.priority.to_string());
    o.servers("servers", &hb.servers);
}

fn resolver(o: &mut Out<'_>, np: &Np) {
    o.s.push_str("\n[[np]]\n");
    o.str("name", &np.name);
    match &np.kind {
        NpKind::Ping { targets } => {
            o.str("kind", "ping");
            o.line("targets", list(targets.iter().map(String::as_str)));
            if let Some(n) = &np.network {
                o.str("network", n);
            }
        }
        NpKind::Http { targets, ca_file } => {
            o.str("kind", "http");
            o.line("targets", list(targets.iter().map(String::as_str)));
            if let Some(f) = ca_file {
                o.str("ca_file", f);
            }
            if let Some(n) = &np.network {
                o.str("network", n);
            }
        }
        NpKind::Disk { device, io_wait_ms } => {
            o.str("kind", "disk");
            o.str("device", device);
            o.dur("io_wait", *io_wait_ms);
        }
        NpKind::Majority => o.str("kind", "majority"),
        NpKind::Serial { device, device_of } => {
            o.str("kind", "serial");
            if device_of.is_empty() {
                o.str("device", device);
            } else {
                let parts: Vec<String> =
                    device_of.iter().map(|(s, d)| format!("{} = {}", q(&o.cfg.servers[s.idx()].name), q(d))).collect();
                o.line("device", format!("{{ {} }}", parts.join(", ")));
            }
        }
    }
    o.dur("interval", np.interval_ms);
    o.dur("timeout", np.timeout_ms);
    o.line("retries", np.retries.to_string());
    o.servers("servers", &np.servers);
}

fn group(o: &mut Out<'_>, g: &Group) {
    o.s.push_str("\n[[group]]\n");
    o.str("name", &g.name);
    match &g.server_groups {
        Some(sgs) => {
            let names: Vec<&str> = sgs.iter().map(|s| o.cfg.server_groups[s.idx()].name.as_str()).collect();
            o.line("server_groups", list(names));
            let _ = writeln!(o.s, "# policy: {}", list(g.policy.iter().map(|s| o.cfg.servers[s.idx()].name.as_str())));
        }
        None => o.servers("servers", &g.policy),
    }
    o.str("startup", words::startup(g.startup));
    o.str("failover", words::failover_mode(g.failover));
    o.str("failback", words::failback(g.failback));
    o.str("failover_target", words::failover_target(g.failover_target));
    o.line("exclusive", g.exclusive.to_string());
    let after: Vec<&str> = g.start_after.iter().map(|a| o.cfg.groups[a.idx()].name.as_str()).collect();
    o.line("start_after", list(after));
    for r in &g.resources {
        resource(o, &o.cfg.resources[r.idx()]);
    }
}

fn resource(o: &mut Out<'_>, r: &Resource) {
    o.s.push_str("\n[[group.resource]]\n");
    o.str("name", &r.name);
    o.str("kind", r.kind.name());
    let deps: Vec<&str> = r.depends_on.iter().map(|d| o.res(*d)).collect();
    o.line("depends_on", list(deps));
    let a = &r.activation;
    let act = inline([
        ("retries", a.retries.to_string()),
        ("failovers", a.failovers.to_string()),
        ("final_action", q(words::final_action(a.final_action))),
    ]);
    o.line("activation", act);
    let d = &r.deactivation;
    let deact = inline([("retries", d.retries.to_string()), ("final_action", q(words::final_action(d.final_action)))]);
    o.line("deactivation", deact);
    o.dur("timeout", r.timeout_ms);
    match &r.kind {
        ResourceKind::FloatingIp { address, interface, arp_count, probe_window_ms } => {
            o.str("address", address);
            if let Some(i) = interface {
                o.str("interface", i);
            }
            o.line("arp_count", arp_count.to_string());
            o.dur("probe_window", *probe_window_ms);
        }
        ResourceKind::VirtualIp { address } => o.str("address", address),
        ResourceKind::Exec { start, stop, env, log } => {
            if let Some(s) = start {
                o.str("start", s);
            }
            if let Some(s) = stop {
                o.str("stop", s);
            }
            o.line("env", inline(env.iter().map(|(key, v)| (key.as_str(), q(v)))));
            o.line("log", log.to_string());
        }
        ResourceKind::Service { unit } => o.str("unit", unit),
        ResourceKind::Disk { device, mount_point, fs_type, mount_options, fsck } => {
            o.str("device", device);
            o.str("mount_point", mount_point);
            o.str("fs_type", fs_type);
            if let Some(m) = mount_options {
                o.str("mount_options", m);
            }
            o.line("fsck", fsck.to_string());
        }
        ResourceKind::MirrorDisk(m) | ResourceKind::HybridDisk(m) => mirror(o, m),
    }
}

fn mirror(o: &mut Out<'_>, m: &Mirror) {
    // A side is named by its server group (hybrid) or its one server (mirror).
    let side_key = |side: &super::MirrorSide| -> String {
        match side.server_group {
            Some(sg) => o.cfg.server_groups[sg.idx()].name.clone(),
            None => side.servers.first().map_or_else(String::new, |s| o.cfg.servers[s.idx()].name.clone()),
        }
    };
    let keys: Vec<String> = m.sides.iter().map(side_key).collect();
    let data = inline(m.sides.iter().zip(&keys).map(|(s, key)| (key.as_str(), q(&s.data))));
    let meta: Vec<(&str, String)> =
        m.sides.iter().zip(&keys).filter_map(|(s, key)| s.metadata.as_ref().map(|md| (key.as_str(), q(md)))).collect();
    o.line("data", data);
    if !meta.is_empty() {
        o.line("metadata", inline(meta));
    }
    o.str("mount_point", &m.mount_point);
    o.str("fs_type", &m.fs_type);
    o.line("network", list(m.networks.iter().map(String::as_str)));
    o.str("mode", words::mirror_mode(m.mode));
}

fn monitor(o: &mut Out<'_>, m: &Monitor) {
    o.s.push('\n');
    if m.implied {
        o.s.push_str("# implied (B88)\n");
    }
    o.s.push_str("[[monitor]]\n");
    o.str("name", &m.name);
    o.str("kind", m.kind.name());
    match &m.kind {
        MonitorKind::Ip { targets } => o.line("targets", list(targets.iter().map(String::as_str))),
        MonitorKind::FloatingIp { resource } => {
            let r = o.res(*resource).to_string();
            o.str("resource", &r);
        }
        MonitorKind::Process { pidfile, process_name } => {
            if let Some(p) = pidfile {
                o.str("pidfile", p);
            }
            if let Some(p) = process_name {
                o.str("process_name", p);
            }
        }
        MonitorKind::Exec { command } => o.str("command", command),
        MonitorKind::Disk { path, io_size, device } => {
            o.str("path", path);
            o.line("io_size", io_size.to_string());
            if let Some(d) = device {
                let _ = writeln!(o.s, "# device: {} (the disk resource holding this path)", q(d));
            }
        }
        MonitorKind::NicLink { interface } => o.str("interface", interface),
        MonitorKind::MirrorDisk { resource } | MonitorKind::MirrorConnect { resource } => {
            let r = o.res(*resource).to_string();
            o.str("resource", &r);
        }
        MonitorKind::UserSpace { stall_action } => o.str("stall_action", words::final_action(*stall_action)),
        MonitorKind::Http { url, ca_file } => {
            o.str("url", url);
            if let Some(f) = ca_file {
                o.str("ca_file", f);
            }
        }
    }
    if let Some(n) = &m.network {
        o.str("network", n);
    }
    o.dur("interval", m.interval_ms);
    o.dur("timeout", m.timeout_ms);
    o.line("retries", m.retries.to_string());
    o.dur("start_wait", m.start_wait_ms);
    if let Some(r) = m.active_with {
        let r = o.res(r).to_string();
        o.str("active_with", &r);
    }
    o.servers("servers", &m.servers);
    let target = match m.recovery_target {
        RecoveryTarget::Resource(r) => o.res(r).to_string(),
        RecoveryTarget::Group(g) => o.cfg.groups[g.idx()].name.clone(),
        RecoveryTarget::LocalServer => "local-server".into(),
        RecoveryTarget::AllGroups => "all-groups".into(),
    };
    o.str("recovery_target", &target);
    o.line("reactivations", m.reactivations.to_string());
    o.line("failovers", m.failovers.to_string());
    o.str("final_action", words::final_action(m.final_action));
}
