//! Reads the `[[monitor]]` tables written in the file.
//!
//! In: the outline's monitor tables and the resources and groups already read.
//! Out: `cfg.monitors` (explicit ones, file order) with every default filled in
//! (B81, B83, §14), and diagnostics for B131 items 1, 10 and 11. The implied
//! monitors of B88 are added afterwards by `implied.rs`.

use super::ctx::{Ctx, NO_RES};
use super::defaults;
use super::keys;
use super::ranges;
use super::toml_walk::{Obj, Sp};
use super::words::{self, MonKindWord};
use super::{Config, FinalAction, Monitor, MonitorKind, RecoveryTarget, ResId, ResourceKind, ServerId};

fn kind_keys(k: MonKindWord) -> &'static [&'static str] {
    match k {
        MonKindWord::Ip => keys::MON_IP,
        MonKindWord::FloatingIp => keys::MON_FLOATING_IP,
        MonKindWord::Process => keys::MON_PROCESS,
        MonKindWord::Exec => keys::MON_EXEC,
        MonKindWord::Disk => keys::MON_DISK,
        MonKindWord::NicLink => keys::MON_NIC_LINK,
        MonKindWord::MirrorDisk | MonKindWord::MirrorConnect => keys::MON_MIRROR,
        MonKindWord::UserSpace => keys::MON_USER_SPACE,
        MonKindWord::Http => keys::MON_HTTP,
    }
}

/// The disk resource whose mount point holds `path` (the longest such mount point;
/// matched on whole path components, so `/mnt/d1x` is not under `/mnt/d1`).
pub(crate) fn disk_owner(cfg: &Config, path: &str) -> Option<ResId> {
    let mut best: Option<(usize, ResId)> = None;
    for (i, r) in cfg.resources.iter().enumerate() {
        let ResourceKind::Disk { mount_point, .. } = &r.kind else { continue };
        let mp = mount_point.trim_end_matches('/');
        let under = path == mp || mp.is_empty() || path.strip_prefix(mp).is_some_and(|rest| rest.starts_with('/'));
        if under && !mount_point.is_empty() && best.is_none_or(|(len, _)| mp.len() > len) {
            best = Some((mp.len(), ResId(i as u16)));
        }
    }
    best.map(|(_, r)| r)
}

/// The device of [`disk_owner`], for `MonitorKind::Disk.device`.
pub(crate) fn disk_device(cfg: &Config, path: &str) -> Option<String> {
    let r = disk_owner(cfg, path)?;
    match &cfg.resources[r.idx()].kind {
        ResourceKind::Disk { device, .. } => Some(device.clone()),
        ResourceKind::FloatingIp { .. }
        | ResourceKind::VirtualIp { .. }
        | ResourceKind::Exec { .. }
        | ResourceKind::Service { .. }
        | ResourceKind::MirrorDisk(_)
        | ResourceKind::HybridDisk(_) => None,
    }
}

pub(crate) fn read_monitors(cx: &mut Ctx<'_>) {
    for i in 0..cx.o.monitors.len() {
        let m = read_monitor(cx, i);
        cx.cfg.monitors.push(m);
    }
}

fn read_monitor(cx: &mut Ctx<'_>, i: usize) -> Monitor {
    let n = cx.o.monitors[i].clone();
    let o = &n.obj;
    let kind = match cx.w.get(o, "kind") {
        None => {
            cx.w.missing(o, "kind");
            None
        }
        Some(_) => cx.w.choice(o, "kind", &words::options(&words::MON_KINDS, words::mon_kind)).map(|k| k.v),
    };
    match kind {
        Some(k) => {
            cx.w.check_keys(o, &[keys::MONITOR, kind_keys(k)], &format!(" for a `{}` monitor", words::mon_kind(k)))
        }
        None => {
            cx.bad_kind.insert(o.r);
            let all: Vec<&[&str]> = words::MON_KINDS.iter().map(|k| kind_keys(*k)).chain([keys::MONITOR]).collect();
            cx.w.check_keys(o, &all, "");
        }
    }
    let interval_ms =
        cx.w.duration(o, "interval", ranges::MONITOR_INTERVAL).map_or(defaults::MONITOR_INTERVAL_MS, |d| d.v);
    let timeout_ms = cx.w.duration(o, "timeout", ranges::MONITOR_TIMEOUT).map_or(defaults::MONITOR_TIMEOUT_MS, |d| d.v);
    let retries = cx.w.u32(o, "retries").map_or(defaults::MONITOR_RETRIES, |v| v.v);
    let start_wait_ms =
        cx.w.duration(o, "start_wait", ranges::MONITOR_START_WAIT).map_or(defaults::MONITOR_START_WAIT_MS, |d| d.v);
    let active_with = resource_ref(cx, o, "active_with");
    let servers = match cx.server_list(o, "servers") {
        Some(l) => l.v,
        None => default_servers(cx, active_with),
    };
    let user_space = kind == Some(MonKindWord::UserSpace);
    let recovery_target = read_recovery_target(cx, o, user_space);
    let reactivations = cx.w.u32(o, "reactivations").map_or(defaults::MONITOR_REACTIVATIONS, |v| v.v);
    let failovers = cx.w.u32(o, "failovers").map_or(defaults::MONITOR_FAILOVERS, |v| v.v);
    let model_kind = match kind {
        Some(k) => read_kind(cx, o, k, active_with),
        None => MonitorKind::Exec { command: String::new() },
    };
    // A user-space monitor's final action is its stall action unless set apart.
    let default_final = match &model_kind {
        MonitorKind::UserSpace { stall_action } => *stall_action,
        MonitorKind::Ip { .. }
        | MonitorKind::FloatingIp { .. }
        | MonitorKind::Process { .. }
        | MonitorKind::Exec { .. }
        | MonitorKind::Disk { .. }
        | MonitorKind::NicLink { .. }
        | MonitorKind::MirrorDisk { .. }
        | MonitorKind::MirrorConnect { .. }
        | MonitorKind::Http { .. } => defaults::MONITOR_FINAL_ACTION,
    };
    let final_action = read_final_action(cx, o, "final_action", recovery_target).unwrap_or(default_final);
    let network = super::targets::read_network(cx, o);
    Monitor {
        name: n.name.clone(),
        kind: model_kind,
        interval_ms,
        timeout_ms,
        retries,
        start_wait_ms,
        active_with: active_with.filter(|r| *r != NO_RES),
        servers,
        recovery_target,
        reactivations,
        failovers,
        final_action,
        implied: false,
        network,
    }
}

/// The servers of a monitor without `servers`: all, or for an `active_with` monitor
/// the policy of the resource's group (it can run nowhere else).
pub(crate) fn default_servers(cx: &Ctx<'_>, active_with: Option<ResId>) -> Vec<ServerId> {
    match active_with.and_then(|r| cx.cfg.resources.get(r.idx())) {
        Some(res) => cx.cfg.groups.get(res.group.idx()).map(|g| g.policy.clone()).unwrap_or_default(),
        None => cx.all_servers(),
    }
}

/// A key naming a resource (B131 11). `Some(NO_RES)` when it names nothing.
fn resource_ref<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, key: &'static str) -> Option<ResId> {
    let s = cx.w.string(o, key)?;
    match cx.o.names.resource(&s.v) {
        Some(r) => Some(r),
        None => {
            let msg = format!("{}: `{key}` = \"{}\" names no resource (B131 11)", o.label, s.v);
            cx.w.diags.error(s.at, msg);
            Some(NO_RES)
        }
    }
}

fn read_recovery_target<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, user_space: bool) -> RecoveryTarget {
    let Some(s) = cx.w.string(o, "recovery_target") else {
        // The stall watchdog can only act on its own server.
        if !user_space && cx.w.get(o, "recovery_target").is_none() {
            cx.w.missing(o, "recovery_target");
        }
        return RecoveryTarget::LocalServer;
    };
    match s.v.as_str() {
        "local-server" => RecoveryTarget::LocalServer,
        "all-groups" => RecoveryTarget::AllGroups,
        name => {
            if let Some(r) = cx.o.names.resource(name) {
                RecoveryTarget::Resource(r)
            } else if let Some(g) = cx.o.names.group(name) {
                RecoveryTarget::Group(g)
            } else {
                let msg = format!(
                    "{}: `recovery_target` = \"{name}\" names no resource or group (or write \"local-server\" or \"all-groups\") (B131 11)",
                    o.label
                );
                cx.w.diags.error(s.at, msg);
                RecoveryTarget::LocalServer
            }
        }
    }
}

/// A monitor's final action (or stall action), with the B131 10 restrictions.
fn read_final_action<'a>(
    cx: &mut Ctx<'a>,
    o: &Obj<'a>,
    key: &'static str,
    target: RecoveryTarget,
) -> Option<FinalAction> {
    let fa: Sp<FinalAction> = cx.w.choice(o, key, &words::options(&words::FINAL_ACTIONS, words::final_action))?;
    let why = match (fa.v, target) {
        (FinalAction::Ignore, _) => Some("`ignore` is allowed only in activation.final_action"),
        (FinalAction::StopGroup, RecoveryTarget::LocalServer) => {
            Some("with recovery_target = \"local-server\" there is no group to stop")
        }
        (
            FinalAction::None
            | FinalAction::StopGroup
            | FinalAction::StopService
            | FinalAction::StopServiceAndShutdown
            | FinalAction::StopServiceAndReboot
            | FinalAction::EmergencyShutdown
            | FinalAction::EmergencyReboot
            | FinalAction::Panic,
            _,
        ) => None,
    };
    match why {
        Some(why) => {
            let msg = format!("{}: {key} = \"{}\" is not allowed: {why} (B131 10)", o.label, words::final_action(fa.v));
            cx.w.diags.error(fa.at, msg);
            None
        }
        None => Some(fa.v),
    }
}

fn req<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, key: &'static str) -> String {
    cx.w.req_string(o, key).map(|s| s.v).unwrap_or_default()
}

/// A `resource` key that must name a resource of one of the accepted kinds.
fn typed_resource<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, r: ResId, want: &str, ok: fn(&ResourceKind) -> bool) -> ResId {
    let Some(res) = cx.cfg.resources.get(r.idx()) else { return r };
    if !ok(&res.kind) {
        // Point at `resource`, or at `active_with` when the resource came from it.
        let key = if cx.w.get(o, "resource").is_some() { "resource" } else { "active_with" };
        let at = cx.w.at(o.r, key);
        let msg = format!("{}: resource \"{}\" is a {}, not a {want} (B131 11)", o.label, res.name, res.kind.name());
        cx.w.diags.error(at, msg);
    }
    r
}

fn is_floating_ip(k: &ResourceKind) -> bool {
    matches!(k, ResourceKind::FloatingIp { .. })
}

fn is_mirror(k: &ResourceKind) -> bool {
    k.mirror().is_some()
}

fn read_kind<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, k: MonKindWord, active_with: Option<ResId>) -> MonitorKind {
    match k {
        MonKindWord::Ip => {
            if cx.w.get(o, "targets").is_none() {
                cx.w.missing(o, "targets");
            }
            let targets: Vec<String> =
                cx.w.strings(o, "targets").map(|l| l.v.into_iter().map(|t| t.v).collect()).unwrap_or_default();
            if targets.is_empty() && cx.w.get(o, "targets").is_some() {
                let at = cx.w.at(o.r, "targets");
                cx.w.diags.error(at, format!("{}: `targets` is empty: name at least one address", o.label));
            }
            MonitorKind::Ip { targets }
        }
        MonKindWord::FloatingIp => {
            let r = match resource_ref(cx, o, "resource").or(active_with) {
                Some(r) => r,
                None => {
                    let msg = format!(
                        "{}: a floating-ip monitor needs `resource` (or `active_with`) naming a floating-ip resource",
                        o.label
                    );
                    cx.w.diags.error(o.pos, msg);
                    NO_RES
                }
            };
            MonitorKind::FloatingIp { resource: typed_resource(cx, o, r, "floating-ip", is_floating_ip) }
        }
        MonKindWord::Process => {
            let pidfile = cx.w.string(o, "pidfile").map(|s| s.v);
            let process_name = cx.w.string(o, "process_name").map(|s| s.v);
            if pidfile.is_none()
                && process_name.is_none()
                && cx.w.get(o, "pidfile").is_none()
                && cx.w.get(o, "process_name").is_none()
            {
                let msg = format!("{}: a process monitor needs `pidfile` or `process_name`", o.label);
                cx.w.diags.error(o.pos, msg);
            }
            MonitorKind::Process { pidfile, process_name }
        }
        MonKindWord::Exec => MonitorKind::Exec { command: req(cx, o, "command") },
        MonKindWord::Disk => {
            let path = req(cx, o, "path");
            if !path.is_empty() && !path.starts_with('/') {
                let at = cx.w.at(o.r, "path");
                cx.w.diags.error(at, format!("{}: `path` = \"{path}\" must be an absolute path", o.label));
            }
            let io_size = cx.w.uint(o, "io_size", 1, u64::MAX >> 1).map_or(defaults::DISK_IO_SIZE, |v| v.v);
            let device = disk_device(&cx.cfg, &path);
            MonitorKind::Disk { path, io_size, device }
        }
        MonKindWord::NicLink => MonitorKind::NicLink { interface: req(cx, o, "interface") },
        MonKindWord::MirrorDisk | MonKindWord::MirrorConnect => {
            let r = match resource_ref(cx, o, "resource") {
                Some(r) => typed_resource(cx, o, r, "mirror-disk or hybrid-disk", is_mirror),
                None => {
                    cx.w.missing(o, "resource");
                    NO_RES
                }
            };
            if k == MonKindWord::MirrorDisk {
                MonitorKind::MirrorDisk { resource: r }
            } else {
                MonitorKind::MirrorConnect { resource: r }
            }
        }
        MonKindWord::UserSpace => MonitorKind::UserSpace {
            stall_action: read_final_action(cx, o, "stall_action", RecoveryTarget::LocalServer)
                .unwrap_or(defaults::STALL_ACTION),
        },
        MonKindWord::Http => {
            let url = cx.w.req_string(o, "url");
            if let Some(u) = &url {
                if !(u.v.starts_with("http://") || u.v.starts_with("https://")) {
                    cx.w.diags
                        .error(u.at, format!("{}: `url` = \"{}\" is not an http:// or https:// URL", o.label, u.v));
                }
            }
            let url = url.map(|u| u.v).unwrap_or_default();
            let urls: Vec<String> = if url.is_empty() { Vec::new() } else { vec![url.clone()] };
            let ca_file = super::read_top::ca_file(cx, o, &urls, "url");
            MonitorKind::Http { url, ca_file }
        }
    }
}
