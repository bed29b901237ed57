//! Reads `[[group]]` and `[[group.resource]]`.
//!
//! In: the outline's group and resource tables, the servers and server groups
//! already read. Out: `cfg.groups` (policy expanded from `servers` or
//! `server_groups`, B0, B50) and `cfg.resources` (each kind's keys and defaults;
//! mirrors in `mirror.rs`), the explicit `depends_on` lists, and diagnostics for
//! B131 items 1, 6, 7, 8 (references to other groups), 10 and the per-group limit.

use super::ctx::Ctx;
use super::defaults;
use super::keys;
use super::mirror::read_mirror;
use super::net::parse_cidr;
use super::outline::NameKind;
use super::ranges;
use super::toml_walk::{Obj, ObjRef};
use super::words::{self, ResKindWord};
use super::{
    ActivationPolicy, DeactivationPolicy, FinalAction, Group, GroupId, ResId, Resource, ResourceKind, ServerId, SgId,
};
use std::collections::BTreeMap;

/// B132: resources per group.
const MAX_RESOURCES_PER_GROUP: usize = 64;

pub(crate) fn read_groups(cx: &mut Ctx<'_>) {
    for g in 0..cx.o.groups.len() {
        read_group(cx, g);
        let members: Vec<usize> = (0..cx.o.resources.len()).filter(|r| cx.o.res_group[*r] == g).collect();
        if let Some(extra) = members.get(MAX_RESOURCES_PER_GROUP) {
            let at = cx.o.resources[*extra].obj.pos;
            let msg = format!(
                "{}: {} resources; the limit is {MAX_RESOURCES_PER_GROUP} per group (B132)",
                cx.o.groups[g].obj.label,
                members.len()
            );
            cx.w.diags.error(at, msg);
        }
        for r in members {
            let res = read_resource(cx, r, g);
            cx.cfg.resources.push(res);
            cx.cfg.groups[g].resources.push(ResId(r as u16));
        }
        check_failback(cx, g);
    }
}

fn read_group(cx: &mut Ctx<'_>, g: usize) {
    let n = cx.o.groups[g].clone();
    let o = &n.obj;
    cx.w.check_keys(o, &[keys::GROUP], "");
    let servers = cx.server_list(o, "servers");
    let sgs = cx.name_list(o, "server_groups", NameKind::ServerGroup, true);
    if let (Some(_), Some(sg)) = (&servers, &sgs) {
        let msg = format!("{}: set either `servers` or `server_groups`, not both (B131 6)", o.label);
        cx.w.diags.error(sg.key_at, msg);
    }
    let server_groups: Option<Vec<SgId>> = sgs.map(|l| l.v.iter().map(|s| SgId(s.v as u16)).collect());
    let policy: Vec<ServerId> = match (servers, &server_groups) {
        (Some(list), _) => list.v,
        // B0: each server group's servers in its order, first occurrence kept.
        (None, Some(list)) => {
            let mut policy = Vec::new();
            for sg in list {
                for s in cx.cfg.server_groups.get(sg.idx()).map(|x| x.servers.clone()).unwrap_or_default() {
                    if !policy.contains(&s) {
                        policy.push(s);
                    }
                }
            }
            policy
        }
        (None, None) => cx.all_servers(),
    };
    let startup = cx.w.choice(o, "startup", &words::options(&words::STARTUPS, words::startup));
    let failover = cx.w.choice(o, "failover", &words::options(&words::FAILOVER_MODES, words::failover_mode));
    let failback = cx.w.choice(o, "failback", &words::options(&words::FAILBACKS, words::failback));
    let target = cx.w.choice(o, "failover_target", &words::options(&words::FAILOVER_TARGETS, words::failover_target));
    let exclusive = cx.w.boolean(o, "exclusive").is_some_and(|b| b.v);
    let mut start_after = Vec::new();
    for a in cx.name_list(o, "start_after", NameKind::Group, false).map(|l| l.v).unwrap_or_default() {
        if a.v == g {
            cx.w.diags.error(a.at, format!("{}: `start_after` names the group itself (B131 6)", o.label));
        } else {
            start_after.push(GroupId(a.v as u16));
        }
    }
    cx.cfg.groups.push(Group {
        name: n.name.clone(),
        policy,
        server_groups,
        startup: startup.map_or(super::Startup::Auto, |v| v.v),
        failover: failover.map_or(super::FailoverMode::Auto, |v| v.v),
        failback: failback.map_or(super::Failback::Manual, |v| v.v),
        failover_target: target.map_or(super::FailoverTarget::Priority, |v| v.v),
        exclusive,
        start_after,
        resources: Vec::new(),
    });
}

/// B131 7: a mirror's data must never be moved back automatically (B113).
fn check_failback(cx: &mut Ctx<'_>, g: usize) {
    if cx.cfg.groups[g].failback != super::Failback::Auto {
        return;
    }
    let mirror = cx.cfg.groups[g].resources.iter().copied().find(|r| cx.cfg.resources[r.idx()].kind.mirror().is_some());
    if let Some(r) = mirror {
        let res = &cx.cfg.resources[r.idx()];
        let which = match res.kind {
            ResourceKind::HybridDisk(_) => "a hybrid disk",
            ResourceKind::MirrorDisk(_)
            | ResourceKind::FloatingIp { .. }
            | ResourceKind::VirtualIp { .. }
            | ResourceKind::Exec { .. }
            | ResourceKind::Service { .. }
            | ResourceKind::Disk { .. } => "a mirror disk",
        };
        let msg = format!(
            "{}: failback = \"auto\" is not allowed for a group holding {which} ({} \"{}\")",
            cx.o.groups[g].obj.label,
            res.kind.name(),
            res.name
        );
        let at = cx.w.at(ObjRef::Group(g), "failback");
        cx.w.diags.error(at, msg);
    }
}

fn kind_keys(k: ResKindWord) -> &'static [&'static str] {
    match k {
        ResKindWord::FloatingIp => keys::RES_FLOATING_IP,
        ResKindWord::VirtualIp => keys::RES_VIRTUAL_IP,
        ResKindWord::Exec => keys::RES_EXEC,
        ResKindWord::Service => keys::RES_SERVICE,
        ResKindWord::Disk => keys::RES_DISK,
        ResKindWord::MirrorDisk | ResKindWord::HybridDisk => keys::RES_MIRROR,
    }
}

fn read_resource(cx: &mut Ctx<'_>, r: usize, g: usize) -> Resource {
    let n = cx.o.resources[r].clone();
    let o = &n.obj;
    let kind = match cx.w.get(o, "kind") {
        None => {
            cx.w.missing(o, "kind");
            None
        }
        Some(_) => cx.w.choice(o, "kind", &words::options(&words::RES_KINDS, words::res_kind)).map(|k| k.v),
    };
    match kind {
        Some(k) => {
            let what = format!(" for a `{}` resource", words::res_kind(k));
            cx.w.check_keys(o, &[keys::RESOURCE, kind_keys(k)], &what);
        }
        None => {
            cx.bad_kind.insert(o.r);
            let all: Vec<&[&str]> = words::RES_KINDS.iter().map(|k| kind_keys(*k)).chain([keys::RESOURCE]).collect();
            cx.w.check_keys(o, &all, "");
        }
    }
    read_depends_on(cx, o, r, g);
    let activation = read_activation(cx, o, r);
    let deactivation = read_deactivation(cx, o, r);
    let timeout_ms =
        cx.w.duration(o, "timeout", ranges::RESOURCE_TIMEOUT).map_or(defaults::RESOURCE_TIMEOUT_MS, |d| d.v);
    let kind = match kind {
        Some(k) => read_kind(cx, o, k, g),
        None => ResourceKind::Exec { start: None, stop: None, env: BTreeMap::new(), log: false },
    };
    Resource {
        name: n.name.clone(),
        group: GroupId(g as u16),
        kind,
        depends_on: Vec::new(),
        activation,
        deactivation,
        timeout_ms,
    }
}

/// Explicit `depends_on`: resources of the same group only (B131 8).
fn read_depends_on<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, r: usize, g: usize) {
    let Some(list) = cx.name_list(o, "depends_on", NameKind::Resource, false) else {
        cx.explicit_deps.push(None);
        return;
    };
    let mut deps = Vec::new();
    for d in list.v {
        let other = cx.o.res_group[d.v];
        if d.v == r {
            cx.w.diags.error(d.at, format!("{}: `depends_on` names the resource itself (B131 8)", o.label));
        } else if other != g {
            let msg = format!(
                "{}: `depends_on` names resource \"{}\" of {}; a resource depends only on resources of its own group (B131 8)",
                o.label, cx.o.resources[d.v].name, cx.o.groups[other].obj.label
            );
            cx.w.diags.error(d.at, msg);
        } else {
            deps.push(ResId(d.v as u16));
        }
    }
    cx.explicit_deps.push(Some(deps));
}

fn final_actions() -> Vec<(&'static str, FinalAction)> {
    words::options(&words::FINAL_ACTIONS, words::final_action)
}

fn read_activation<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, r: usize) -> ActivationPolicy {
    let mut a = defaults::ACTIVATION;
    if let Some(sub) = cx.w.sub_obj(o, "activation", ObjRef::Activation(r)) {
        cx.w.check_keys(&sub, &[keys::ACTIVATION], "");
        a.retries = cx.w.u32(&sub, "retries").map_or(a.retries, |v| v.v);
        a.failovers = cx.w.u32(&sub, "failovers").map_or(a.failovers, |v| v.v);
        a.final_action = cx.w.choice(&sub, "final_action", &final_actions()).map_or(a.final_action, |v| v.v);
    }
    a
}

fn read_deactivation<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, r: usize) -> DeactivationPolicy {
    let mut d = defaults::DEACTIVATION;
    if let Some(sub) = cx.w.sub_obj(o, "deactivation", ObjRef::Deactivation(r)) {
        cx.w.check_keys(&sub, &[keys::DEACTIVATION], "");
        d.retries = cx.w.u32(&sub, "retries").map_or(d.retries, |v| v.v);
        if let Some(fa) = cx.w.choice(&sub, "final_action", &final_actions()) {
            // B131 10: a resource that cannot be released must not be left behind
            // while the group starts elsewhere, so only actions that stop the
            // server (or `none`, which holds the group in error) are allowed.
            let why = match fa.v {
                FinalAction::Ignore => Some("`ignore` is allowed only in activation.final_action"),
                FinalAction::StopGroup | FinalAction::StopService => {
                    Some("a deactivation that failed cannot be finished by stopping the group or the service")
                }
                FinalAction::None
                | FinalAction::StopServiceAndShutdown
                | FinalAction::StopServiceAndReboot
                | FinalAction::EmergencyShutdown
                | FinalAction::EmergencyReboot
                | FinalAction::Panic => None,
            };
            match why {
                Some(why) => {
                    let msg = format!(
                        "{}: deactivation.final_action = \"{}\" is not allowed: {why} (B131 10)",
                        o.label,
                        words::final_action(fa.v)
                    );
                    cx.w.diags.error(fa.at, msg);
                }
                None => d.final_action = fa.v,
            }
        }
    }
    d
}

/// An absolute path (mount points: the disk monitor matches paths against them).
pub(crate) fn abs_path<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, key: &'static str) -> String {
    let Some(p) = cx.w.req_string(o, key) else { return String::new() };
    if !p.v.starts_with('/') {
        cx.w.diags.error(p.at, format!("{}: `{key}` = \"{}\" must be an absolute path", o.label, p.v));
    }
    p.v
}

fn read_kind<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, k: ResKindWord, g: usize) -> ResourceKind {
    match k {
        ResKindWord::FloatingIp => ResourceKind::FloatingIp {
            address: address(cx, o, true),
            interface: cx.w.string(o, "interface").map(|s| s.v),
            arp_count: cx.w.u32(o, "arp_count").map_or(defaults::ARP_COUNT, |v| v.v),
            probe_window_ms: cx
                .w
                .duration(o, "probe_window", ranges::PROBE_WINDOW)
                .map_or(defaults::PROBE_WINDOW_MS, |v| v.v),
        },
        ResKindWord::VirtualIp => ResourceKind::VirtualIp { address: address(cx, o, false) },
        ResKindWord::Exec => ResourceKind::Exec {
            start: cx.w.string(o, "start").map(|s| s.v),
            stop: cx.w.string(o, "stop").map(|s| s.v),
            env: cx
                .w
                .string_map(o, "env")
                .map(|m| m.v.into_iter().map(|(k, v)| (k.v, v.v)).collect())
                .unwrap_or_default(),
            log: cx.w.boolean(o, "log").is_some_and(|b| b.v),
        },
        ResKindWord::Service => {
            ResourceKind::Service { unit: cx.w.req_string(o, "unit").map(|s| s.v).unwrap_or_default() }
        }
        ResKindWord::Disk => ResourceKind::Disk {
            device: cx.w.req_string(o, "device").map(|s| s.v).unwrap_or_default(),
            mount_point: abs_path(cx, o, "mount_point"),
            fs_type: cx.w.string(o, "fs_type").map_or_else(|| defaults::FS_TYPE.to_string(), |s| s.v),
            mount_options: cx.w.string(o, "mount_options").map(|s| s.v),
            fsck: cx.w.boolean(o, "fsck").map_or(defaults::FSCK, |b| b.v),
        },
        ResKindWord::MirrorDisk => ResourceKind::MirrorDisk(read_mirror(cx, o, g, false)),
        ResKindWord::HybridDisk => ResourceKind::HybridDisk(read_mirror(cx, o, g, true)),
    }
}

/// A floating IP (`A.B.C.D/PREFIX`) or virtual IP (`A.B.C.D[/PREFIX]`) address.
fn address<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, prefix_required: bool) -> String {
    let Some(a) = cx.w.req_string(o, "address") else { return String::new() };
    if let Err(e) = parse_cidr(&a.v, prefix_required) {
        cx.w.diags.error(a.at, format!("{}: `address` = \"{}\": {e}", o.label, a.v));
    }
    a.v
}
