//! Reads the keys of a `mirror-disk` or `hybrid-disk` resource.
//!
//! In: the resource's table and its group (already read: policy and
//! `server_groups`). Out: a [`Mirror`] with its two sides, and diagnostics for
//! B131 9. A mirror-disk's `data` is keyed by server and its sides follow server
//! order; a hybrid-disk's is keyed by server group and its sides follow the group's
//! `server_groups` order. Either way the side order does not depend on how the
//! `data` table happens to be written.

use super::ctx::Ctx;
use super::defaults;
use super::read_groups::abs_path;
use super::toml_walk::{Obj, Sp, StrMap};
use super::words;
use super::{Mirror, MirrorMode, MirrorSide, ServerId, SgId};

/// B131 9: at most two mirror connect networks.
const MAX_MIRROR_NETWORKS: usize = 2;

fn placeholder_side() -> MirrorSide {
    MirrorSide { servers: Vec::new(), server_group: None, data: String::new(), metadata: None }
}

pub(crate) fn read_mirror<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>, g: usize, hybrid: bool) -> Mirror {
    let data = match cx.w.get(o, "data") {
        Some(_) => cx.w.string_map(o, "data"),
        None => {
            cx.w.missing(o, "data");
            None
        }
    };
    let metadata = cx.w.string_map(o, "metadata");
    let mount_point = abs_path(cx, o, "mount_point");
    let fs_type = cx.w.string(o, "fs_type").map_or_else(|| defaults::FS_TYPE.to_string(), |s| s.v);
    let mode =
        cx.w.choice(o, "mode", &words::options(&words::MIRROR_MODES, words::mirror_mode))
            .map_or(MirrorMode::Sync, |m| m.v);

    // The sides: (servers, server group, key as written in `data`, data device).
    let mut sides: Vec<(Vec<ServerId>, Option<SgId>, String, String)> = Vec::new();
    if let Some(data) = &data {
        sides = if hybrid { hybrid_sides(cx, o, g, data) } else { mirror_sides(cx, o, g, data) };
    }
    if let Some(meta) = &metadata {
        for (k, _) in &meta.v {
            if data.as_ref().is_some_and(|d| !d.v.iter().any(|(dk, _)| dk.v == k.v)) {
                let msg = format!("{}: `metadata` names \"{}\", which has no `data` entry", o.label, k.v);
                cx.w.diags.error(k.at, msg);
            }
        }
    }
    let networks = read_networks(cx, o, &sides);
    let mut built: Vec<MirrorSide> = sides
        .into_iter()
        .map(|(servers, server_group, key, data)| {
            let metadata =
                metadata.as_ref().and_then(|m| m.v.iter().find(|(k, _)| k.v == key).map(|(_, v)| v.v.clone()));
            MirrorSide { servers, server_group, data, metadata }
        })
        .collect();
    built.resize_with(2, placeholder_side);
    let mut it = built.into_iter();
    let sides = [it.next().unwrap_or_else(placeholder_side), it.next().unwrap_or_else(placeholder_side)];
    Mirror { sides, mount_point, fs_type, networks, mode }
}

/// `data` keyed by server: exactly 2 servers, and the group may run nowhere else.
fn mirror_sides<'a>(
    cx: &mut Ctx<'a>,
    o: &Obj<'a>,
    g: usize,
    data: &StrMap,
) -> Vec<(Vec<ServerId>, Option<SgId>, String, String)> {
    let mut sides = Vec::new();
    for (k, v) in &data.v {
        match cx.o.names.server(&k.v) {
            Some(s) => sides.push((vec![s], None, k.v.clone(), v.v.clone())),
            None => {
                let msg = format!("{}: `data` names unknown server \"{}\"", o.label, k.v);
                cx.w.diags.error(k.at, msg);
            }
        }
    }
    if data.v.len() != 2 {
        let msg = format!("{}: `data` must name exactly 2 servers (it names {}) (B131 9)", o.label, data.v.len());
        cx.w.diags.error(data.at, msg);
    }
    let holders: Vec<ServerId> = sides.iter().map(|s| s.0[0]).collect();
    for s in cx.cfg.groups[g].policy.clone() {
        if !holders.contains(&s) && sides.len() == 2 {
            let msg = format!(
                "{}: {} may run on server \"{}\", which holds no side of the mirror (B131 9)",
                o.label,
                cx.o.groups[g].obj.label,
                cx.server_name(s)
            );
            cx.w.diags.error(data.at, msg);
        }
    }
    sides.sort_by_key(|s| s.0[0]);
    sides
}

/// `data` keyed by server group: exactly the 2 server groups of the group's
/// `server_groups`, sides in that order.
fn hybrid_sides<'a>(
    cx: &mut Ctx<'a>,
    o: &Obj<'a>,
    g: usize,
    data: &StrMap,
) -> Vec<(Vec<ServerId>, Option<SgId>, String, String)> {
    let mut named: Vec<(SgId, &Sp<String>, &Sp<String>)> = Vec::new();
    for (k, v) in &data.v {
        match cx.o.names.server_group(&k.v) {
            Some(sg) => named.push((sg, k, v)),
            None => {
                let msg = format!("{}: `data` names unknown server_group \"{}\"", o.label, k.v);
                cx.w.diags.error(k.at, msg);
            }
        }
    }
    if data.v.len() != 2 {
        let msg = format!("{}: `data` must name exactly 2 server groups (it names {}) (B131 9)", o.label, data.v.len());
        cx.w.diags.error(data.at, msg);
    }
    let Some(group_sgs) = cx.cfg.groups[g].server_groups.clone() else {
        let msg = format!(
            "{}: a hybrid-disk needs its group ({}) to set `server_groups` (B131 9)",
            o.label, cx.o.groups[g].obj.label
        );
        cx.w.diags.error(data.at, msg);
        return Vec::new();
    };
    let same = group_sgs.len() == 2 && named.len() == 2 && group_sgs.iter().all(|s| named.iter().any(|n| n.0 == *s));
    if !same {
        let names = |ids: &mut dyn Iterator<Item = SgId>| -> String {
            ids.map(|s| format!("\"{}\"", cx.cfg.server_groups.get(s.idx()).map_or("?", |x| x.name.as_str())))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let msg = format!(
            "{}: `data` names server groups [{}] but {} has server_groups [{}]; they must be the same 2 (B131 9)",
            o.label,
            names(&mut named.iter().map(|n| n.0)),
            cx.o.groups[g].obj.label,
            names(&mut group_sgs.iter().copied())
        );
        cx.w.diags.error(data.at, msg);
        return Vec::new();
    }
    group_sgs
        .iter()
        .filter_map(|sg| named.iter().find(|n| n.0 == *sg))
        .map(|(sg, k, v)| {
            let servers = cx.cfg.server_groups.get(sg.idx()).map(|x| x.servers.clone()).unwrap_or_default();
            (servers, Some(*sg), k.v.clone(), v.v.clone())
        })
        .collect()
}

/// `network`: 1 or 2 networks, each with an address on every server of both sides.
fn read_networks<'a>(
    cx: &mut Ctx<'a>,
    o: &Obj<'a>,
    sides: &[(Vec<ServerId>, Option<SgId>, String, String)],
) -> Vec<String> {
    if cx.w.get(o, "network").is_none() {
        cx.w.missing(o, "network");
        return Vec::new();
    }
    let Some(list) = cx.w.string_or_list(o, "network") else { return Vec::new() };
    if list.v.is_empty() {
        cx.w.diags.error(list.at, format!("{}: `network` is empty: name 1 or 2 networks", o.label));
    }
    if let Some(extra) = list.v.get(MAX_MIRROR_NETWORKS) {
        let msg = format!("{}: {} mirror networks; the limit is {MAX_MIRROR_NETWORKS} (B131 9)", o.label, list.v.len());
        cx.w.diags.error(extra.at, msg);
    }
    let mut nets: Vec<String> = Vec::new();
    for n in &list.v {
        if nets.contains(&n.v) {
            cx.w.diags.error(n.at, format!("{}: `network` names \"{}\" twice", o.label, n.v));
            continue;
        }
        for s in sides.iter().flat_map(|side| side.0.iter()) {
            let has = cx.cfg.servers.get(s.idx()).is_some_and(|x| x.addresses.contains_key(&n.v));
            if !has {
                let msg = format!(
                    "{}: server \"{}\" has no address on mirror network \"{}\" (B131 9)",
                    o.label,
                    cx.server_name(*s),
                    n.v
                );
                cx.w.diags.error(n.at, msg);
            }
        }
        nets.push(n.v.clone());
    }
    nets
}
