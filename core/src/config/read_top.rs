//! Reads `[cluster]`, `[[server]]`, `[[server_group]]`, `[[heartbeat]]` and `[[np]]`.
//!
//! In: the outline's tables. Out: `cfg.cluster`, `cfg.servers`, `cfg.server_groups`,
//! `cfg.heartbeats`, `cfg.nps` with every default filled in (config.md, §14), and
//! diagnostics for B131 items 1–4 and the B132 limits on targets per resolver.

use super::ctx::Ctx;
use super::defaults;
use super::duration::format_ms;
use super::keys;
use super::outline::NameKind;
use super::ranges;
use super::toml_walk::{Obj, ObjRef, Pos, Sp};
use super::words::{self, HbKindWord, NpKindWord};
use super::{Heartbeat, HeartbeatKind, Np, NpKind, Server, ServerGroup, ServerId};
use std::collections::BTreeMap;

/// B132: targets per resolver.
const MAX_NP_TARGETS: usize = 16;

pub(crate) fn read_cluster(cx: &mut Ctx<'_>) {
    let Some(c) = cx.o.cluster.clone() else { return };
    let o = &c.obj;
    let w = &mut cx.w;
    w.check_keys(o, &[keys::CLUSTER], "");
    let cl = &mut cx.cfg.cluster;
    if let Some(v) = w.duration(o, "heartbeat_interval", ranges::HEARTBEAT_INTERVAL) {
        cl.heartbeat_interval_ms = v.v;
    }
    if let Some(v) = w.duration(o, "heartbeat_timeout", ranges::HEARTBEAT_TIMEOUT) {
        cl.heartbeat_timeout_ms = v.v;
    }
    if let Some(v) = w.duration(o, "sync_wait", ranges::SYNC_WAIT) {
        cl.sync_wait_ms = v.v;
    }
    if let Some(v) = w.boolean(o, "auto_return") {
        cl.auto_return = v.v;
    }
    if let Some(v) = w.choice(o, "failover_count_scope", &words::options(&words::COUNT_SCOPES, words::count_scope)) {
        cl.failover_count_scope = v.v;
    }
    if let Some(v) = w.choice(o, "np_action", &words::options(&words::NP_ACTIONS, words::np_action)) {
        cl.np_action = v.v;
    }
    if let Some(v) = w.duration(o, "counter_reset_after", ranges::COUNTER_RESET_AFTER) {
        cl.counter_reset_after_ms = v.v;
    }
    cl.secret_file = w.string(o, "secret_file").map(|s| s.v);
    if let Some(v) = w.boolean(o, "insecure") {
        cl.insecure = v.v;
    }
    if let Some(v) = w.uint(o, "port", 1, u16::MAX as u64) {
        cl.port = v.v as u16;
    }
    // 0: no HTTP endpoint (issue 13).
    if let Some(v) = w.uint(o, "web_port", 0, u16::MAX as u64) {
        cl.web_port = v.v as u16;
    }
    // The runtime binds both on every server: the same number would clash.
    if cl.port == cl.web_port {
        let at = w.at(ObjRef::Cluster, "web_port");
        w.diags.error(at, format!("{}: `web_port` must differ from `port` ({})", o.label, cl.port));
    }
    // B131 2: a path must be allowed to miss at least one heartbeat before it is down.
    if cl.heartbeat_timeout_ms < 2 * cl.heartbeat_interval_ms {
        let at = w.at(ObjRef::Cluster, "heartbeat_timeout");
        let msg = format!(
            "{}: heartbeat_timeout ({}) must be at least 2 × heartbeat_interval ({})",
            o.label,
            format_ms(cl.heartbeat_timeout_ms),
            format_ms(cl.heartbeat_interval_ms)
        );
        w.diags.error(at, msg);
    }
}

pub(crate) fn read_servers(cx: &mut Ctx<'_>) {
    for s in cx.o.servers.clone() {
        let o = &s.obj;
        cx.w.check_keys(o, &[keys::SERVER], "");
        let mut addresses = BTreeMap::new();
        if let Some(map) = cx.w.string_map(o, "addresses") {
            for (net, addr) in map.v {
                if addr.v.parse::<core::net::IpAddr>().is_err() {
                    let msg =
                        format!("{}: address \"{}\" on network \"{}\" is not an IP address", o.label, addr.v, net.v);
                    cx.w.diags.error(addr.at, msg);
                }
                addresses.insert(net.v, addr.v);
            }
        }
        cx.cfg.servers.push(Server { name: s.name.clone(), addresses });
    }
}

pub(crate) fn read_server_groups(cx: &mut Ctx<'_>) {
    for sg in cx.o.server_groups.clone() {
        let o = &sg.obj;
        cx.w.check_keys(o, &[keys::SERVER_GROUP], "");
        let servers = match cx.w.get(o, "servers") {
            Some(_) => cx.server_list(o, "servers").map(|l| l.v).unwrap_or_default(),
            None => {
                cx.w.missing(o, "servers");
                Vec::new()
            }
        };
        cx.cfg.server_groups.push(ServerGroup { name: sg.name.clone(), servers });
    }
}

/// Whether `server` has an address on network `net`.
fn has_network(cx: &Ctx<'_>, server: ServerId, net: &str) -> bool {
    cx.cfg.servers.get(server.idx()).is_some_and(|s| s.addresses.contains_key(net))
}

pub(crate) fn read_heartbeats(cx: &mut Ctx<'_>) {
    let all = cx.all_servers();
    // Lan paths that reach every server with an address on each: B131 3 needs one.
    let mut full_lan = false;
    for (i, hb) in cx.o.heartbeats.clone().into_iter().enumerate() {
        let o = &hb.obj;
        let kind = match cx.w.get(o, "kind") {
            None => Some(HbKindWord::Lan),
            Some(_) => cx.w.choice(o, "kind", &words::options(&words::HB_KINDS, words::hb_kind)).map(|k| k.v),
        };
        let kind_keys: &[&str] = match kind {
            Some(HbKindWord::Lan) => keys::HEARTBEAT_LAN,
            Some(HbKindWord::Disk) => keys::HEARTBEAT_DISK,
            None => &[],
        };
        let what = kind.map_or(String::new(), |k| format!(" for a `{}` heartbeat", words::hb_kind(k)));
        if kind.is_some() {
            cx.w.check_keys(o, &[keys::HEARTBEAT, kind_keys], &what);
        } else {
            cx.bad_kind.insert(o.r);
            cx.w.check_keys(o, &[keys::HEARTBEAT, keys::HEARTBEAT_LAN, keys::HEARTBEAT_DISK], "");
        }
        let priority = cx.w.u32(o, "priority").map_or(i as u32 + 1, |p| p.v);
        let servers = cx.server_list(o, "servers").map_or_else(|| all.clone(), |l| l.v);
        let kind = match kind {
            Some(HbKindWord::Lan) => {
                let network = cx.w.string(o, "network");
                let (net, at) = match &network {
                    Some(n) => (n.v.clone(), n.at),
                    None => (hb.name.clone(), cx.w.at(o.r, "name")),
                };
                let mut ok = true;
                for s in &servers {
                    if !has_network(cx, *s, &net) {
                        ok = false;
                        let msg = format!(
                            "{}: server \"{}\" has no address on network \"{}\"",
                            o.label,
                            cx.server_name(*s),
                            net
                        );
                        cx.w.diags.error(at, msg);
                    }
                }
                full_lan |= ok && all.iter().all(|s| servers.contains(s));
                HeartbeatKind::Lan { network: net }
            }
            Some(HbKindWord::Disk) => {
                let device = cx.w.req_string(o, "device").map(|d| d.v).unwrap_or_default();
                HeartbeatKind::Disk { device }
            }
            None => HeartbeatKind::Lan { network: hb.name.clone() },
        };
        cx.cfg.heartbeats.push(Heartbeat { name: hb.name.clone(), kind, priority, servers });
    }
    if !full_lan && !cx.o.servers.is_empty() {
        let (at, msg) = match cx.o.heartbeats.first() {
            Some(h) => (h.obj.pos, "no `lan` heartbeat path reaches every server (B131 3)"),
            None => (
                cx.o.cluster.as_ref().map_or(Pos::START, |c| c.obj.pos),
                "no [[heartbeat]] table: a `lan` heartbeat path must reach every server (B131 3)",
            ),
        };
        cx.w.diags.error(at, msg);
    }
}

pub(crate) fn read_nps(cx: &mut Ctx<'_>) {
    let all = cx.all_servers();
    let hb_timeout = cx.cfg.cluster.heartbeat_timeout_ms;
    for np in cx.o.nps.clone() {
        let o = &np.obj;
        let kind = match cx.w.get(o, "kind") {
            None => {
                cx.w.missing(o, "kind");
                None
            }
            Some(_) => cx.w.choice(o, "kind", &words::options(&words::NP_KINDS, words::np_kind)).map(|k| k.v),
        };
        let kind_keys: &[&str] = match kind {
            Some(NpKindWord::Ping) => keys::NP_PING,
            Some(NpKindWord::Http) => keys::NP_HTTP,
            Some(NpKindWord::Disk) => keys::NP_DISK,
            Some(NpKindWord::Majority) => keys::NP_MAJORITY,
            Some(NpKindWord::Serial) => keys::NP_SERIAL,
            None => &[],
        };
        match kind {
            Some(k) => cx.w.check_keys(o, &[keys::NP, kind_keys], &format!(" for a `{}` resolver", words::np_kind(k))),
            None => {
                cx.bad_kind.insert(o.r);
                cx.w.check_keys(o, &[keys::NP, keys::NP_PING, keys::NP_DISK], "");
            }
        }
        let interval = cx.w.duration(o, "interval", ranges::NP_INTERVAL).map_or(defaults::NP_INTERVAL_MS, |d| d.v);
        let timeout = cx.w.duration(o, "timeout", ranges::NP_TIMEOUT).map_or(defaults::NP_TIMEOUT_MS, |d| d.v);
        let retries = cx.w.uint(o, "retries", 1, u32::MAX as u64).map_or(defaults::NP_RETRIES, |r| r.v as u32);
        let servers = cx.server_list(o, "servers").map_or_else(|| all.clone(), |l| l.v);
        let servers_at = cx.w.at(o.r, "servers");
        let model_kind = match kind {
            Some(NpKindWord::Ping) => NpKind::Ping { targets: np_targets(cx, o, false) },
            Some(NpKindWord::Http) => {
                let targets = np_targets(cx, o, true);
                let ca_file = ca_file(cx, o, &targets, "targets");
                NpKind::Http { targets, ca_file }
            }
            Some(NpKindWord::Disk) => NpKind::Disk {
                device: cx.w.req_string(o, "device").map(|d| d.v).unwrap_or_default(),
                io_wait_ms: cx.w.duration(o, "io_wait", ranges::NP_IO_WAIT).map_or(defaults::NP_IO_WAIT_MS, |d| d.v),
            },
            Some(NpKindWord::Serial) => {
                if servers.len() != 2 {
                    let msg = format!(
                        "{}: a `serial` resolver must be on exactly 2 servers (it is on {})",
                        o.label,
                        servers.len()
                    );
                    cx.w.diags.error(servers_at, msg);
                }
                serial_device(cx, o, &servers)
            }
            Some(NpKindWord::Majority) => {
                if servers.len() < 3 {
                    let msg = format!(
                        "{}: a `majority` resolver needs at least 3 servers (it has {})",
                        o.label,
                        servers.len()
                    );
                    cx.w.diags.error(servers_at, msg);
                }
                NpKind::Majority
            }
            None => NpKind::Majority,
        };
        // B131 4 (choice): a watch must complete well inside the heartbeat timeout, so
        // that the round deciding a partition started after the partition did.
        let watched = matches!(kind, Some(NpKindWord::Ping | NpKindWord::Http | NpKindWord::Disk | NpKindWord::Serial));
        if watched && interval + timeout >= hb_timeout {
            let at = cx.w.at(o.r, "interval");
            let msg = format!(
                "{}: interval + timeout ({}) must be shorter than heartbeat_timeout ({})",
                o.label,
                format_ms(interval + timeout),
                format_ms(hb_timeout)
            );
            cx.w.diags.error(at, msg);
        }
        let network = super::targets::read_network(cx, o);
        cx.cfg.nps.push(Np {
            name: np.name.clone(),
            kind: model_kind,
            interval_ms: interval,
            timeout_ms: timeout,
            retries,
            servers,
            network,
        });
    }
}

/// `ca_file` of an http resolver or monitor: a non-empty path, and only where some URL
/// (`urls_key`) is `https://` (elsewhere it would be silently unused).
pub(super) fn ca_file<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, urls: &[String], urls_key: &str) -> Option<String> {
    let f = cx.w.string(o, "ca_file")?;
    if f.v.trim().is_empty() {
        cx.w.diags.error(f.at, format!("{}: `ca_file` is empty: name a PEM file of CA certificates", o.label));
        return None;
    }
    // No URL read (missing or mistyped, already reported): nothing more to say.
    if !urls.is_empty() && !urls.iter().any(|u| u.starts_with("https://")) {
        let msg =
            format!("{}: `ca_file` is set but no `{urls_key}` is an https:// URL: remove it or use https", o.label);
        cx.w.diags.error(f.at, msg);
    }
    Some(f.v)
}

/// `device` of a serial resolver: one path for both servers, or a table with each
/// server's own (every server of the resolver named once, no other).
fn serial_device<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, servers: &[ServerId]) -> NpKind {
    let Some(field) = cx.w.get(o, "device") else {
        cx.w.missing(o, "device");
        return NpKind::Serial { device: String::new(), device_of: Vec::new() };
    };
    if field.item.as_str().is_some() {
        let device = cx.w.req_string(o, "device").map(|d| d.v).unwrap_or_default();
        return NpKind::Serial { device, device_of: Vec::new() };
    }
    let Some(map) = cx.w.string_map(o, "device") else {
        return NpKind::Serial { device: String::new(), device_of: Vec::new() };
    };
    let mut device_of: Vec<(ServerId, String)> = Vec::new();
    for (name, path) in &map.v {
        let Some(id) = cx.o.names.server(&name.v) else {
            cx.w.diags.error(name.at, format!("{}: `device.{}`: no server named {:?}", o.label, name.v, name.v));
            continue;
        };
        if !servers.contains(&id) {
            let msg = format!("{}: `device.{}`: {} is not a server of this resolver", o.label, name.v, name.v);
            cx.w.diags.error(name.at, msg);
        } else if path.v.trim().is_empty() {
            cx.w.diags.error(path.at, format!("{}: `device.{}` is empty", o.label, name.v));
        } else {
            device_of.push((id, path.v.clone()));
        }
    }
    let missing: Vec<&str> =
        servers.iter().filter(|s| !device_of.iter().any(|(d, _)| d == *s)).map(|s| cx.server_name(*s)).collect();
    if !missing.is_empty() {
        let msg = format!(
            "{}: `device` names no tty for {}: give every server of the resolver one",
            o.label,
            missing.join(", ")
        );
        cx.w.diags.error(map.at, msg);
    }
    device_of.sort_by_key(|(s, _)| servers.iter().position(|x| x == s));
    NpKind::Serial { device: String::new(), device_of }
}

/// `targets` of a ping or http resolver: required, 1 to 16 entries (B131 4, B132).
fn np_targets<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, http: bool) -> Vec<String> {
    if cx.w.get(o, "targets").is_none() {
        cx.w.missing(o, "targets");
        return Vec::new();
    }
    let Some(list) = cx.w.strings(o, "targets") else { return Vec::new() };
    if list.v.is_empty() {
        cx.w.diags.error(list.at, format!("{}: `targets` is empty: name at least one target", o.label));
    }
    if let Some(extra) = list.v.get(MAX_NP_TARGETS) {
        let msg = format!("{}: {} targets; the limit is {MAX_NP_TARGETS} per resolver (B132)", o.label, list.v.len());
        cx.w.diags.error(extra.at, msg);
    }
    for t in &list.v {
        let bad = if http {
            !(t.v.starts_with("http://") || t.v.starts_with("https://"))
        } else {
            t.v.trim().is_empty() || t.v.contains(char::is_whitespace)
        };
        if bad {
            let want = if http { "an http:// or https:// URL" } else { "a host address" };
            cx.w.diags.error(t.at, format!("{}: target \"{}\" is not {want}", o.label, t.v));
        }
    }
    list.v.into_iter().map(|t: Sp<String>| t.v).collect()
}

/// Limits of B132 on the number of tables of one kind: reported at the first table
/// over the limit.
pub(crate) fn check_count(
    cx: &mut Ctx<'_>,
    kind: NameKind,
    count: usize,
    limit: usize,
    header: impl Fn(usize) -> ObjRef,
) {
    if count > limit {
        let at = cx.w.header(header(limit));
        let msg = format!("too many [[{}]] tables: {count}; the limit is {limit} (B132)", kind.word());
        cx.w.diags.error(at, msg);
    }
}
