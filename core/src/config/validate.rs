//! Checks that need the whole file read: cycles, rule 5 and the B132 counts.
//!
//! In: the model as read (explicit `depends_on` lists kept aside). Out: every
//! resource's resolved `depends_on` (B62) and diagnostics for B131 items 5, 6
//! (`start_after` cycles), 8 (`depends_on` cycles) and 12 (limits on servers,
//! groups, heartbeats, resolvers, server groups, mirrors and floating IPs).

use super::ctx::Ctx;
use super::defaults::fill_depends_on;
use super::outline::NameKind;
use super::read_top::check_count;
use super::toml_walk::ObjRef;
use super::ResourceKind;

/// B132 limits on table counts.
const MAX_SERVERS: usize = 32;
const MAX_GROUPS: usize = 64;
const MAX_HEARTBEATS: usize = 16;
const MAX_NPS: usize = 8;
const MAX_SERVER_GROUPS: usize = 32;
const MAX_MIRRORS: usize = 8;
const MAX_FLOATING_IPS: usize = 64;

pub(crate) fn validate(cx: &mut Ctx<'_>) {
    check_count(cx, NameKind::Server, cx.o.servers.len(), MAX_SERVERS, ObjRef::Server);
    check_count(cx, NameKind::Group, cx.o.groups.len(), MAX_GROUPS, ObjRef::Group);
    check_count(cx, NameKind::Heartbeat, cx.o.heartbeats.len(), MAX_HEARTBEATS, ObjRef::Heartbeat);
    check_count(cx, NameKind::Np, cx.o.nps.len(), MAX_NPS, ObjRef::Np);
    check_count(cx, NameKind::ServerGroup, cx.o.server_groups.len(), MAX_SERVER_GROUPS, ObjRef::ServerGroup);
    check_resource_counts(cx);
    check_no_np_with_disk(cx);
    check_start_after_cycles(cx);
    let explicit = cx.explicit_deps.clone();
    fill_depends_on(&mut cx.cfg, &explicit);
    check_depends_on_cycles(cx);
}

/// Mirrors (mirror plus hybrid disks) and floating IPs, reported at the first one
/// over the limit.
fn check_resource_counts(cx: &mut Ctx<'_>) {
    let mirrors: Vec<usize> =
        (0..cx.cfg.resources.len()).filter(|r| cx.cfg.resources[*r].kind.mirror().is_some()).collect();
    let fips: Vec<usize> = (0..cx.cfg.resources.len())
        .filter(|r| matches!(cx.cfg.resources[*r].kind, ResourceKind::FloatingIp { .. }))
        .collect();
    for (list, limit, what) in
        [(mirrors, MAX_MIRRORS, "mirror and hybrid disks"), (fips, MAX_FLOATING_IPS, "floating IPs")]
    {
        if let Some(r) = list.get(limit) {
            let at = cx.w.at(ObjRef::Resource(*r), "kind");
            let msg = format!(
                "{}: too many {what}: {}; the limit is {limit} (B132)",
                cx.o.resources[*r].obj.label,
                list.len()
            );
            cx.w.diags.error(at, msg);
        }
    }
}

/// B131 5: a shared disk without partition resolution would be mounted on both
/// sides of a split brain.
fn check_no_np_with_disk(cx: &mut Ctx<'_>) {
    if !cx.cfg.nps.is_empty() {
        return;
    }
    for (i, r) in cx.cfg.resources.iter().enumerate() {
        if matches!(r.kind, ResourceKind::Disk { .. }) {
            let at = cx.w.at(ObjRef::Resource(i), "kind");
            let msg = format!(
                "{}: a `disk` resource needs network-partition resolution: add an [[np]] table (B131 5)",
                cx.o.resources[i].obj.label
            );
            cx.w.diags.error(at, msg);
        }
    }
}

/// The first cycle through `start` in a graph given as adjacency lists, as the
/// list of nodes from `start` back to it.
fn cycle_from(start: usize, edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    // Depth-first search keeping the current path; graphs are at most 64 nodes.
    fn dfs(node: usize, start: usize, edges: &[Vec<usize>], path: &mut Vec<usize>, seen: &mut Vec<bool>) -> bool {
        for &next in &edges[node] {
            if next == start {
                return true;
            }
            if next < seen.len() && !seen[next] {
                seen[next] = true;
                path.push(next);
                if dfs(next, start, edges, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start];
    let mut seen = vec![false; edges.len()];
    seen[start] = true;
    dfs(start, start, edges, &mut path, &mut seen).then_some(path)
}

/// Reports each cycle once, at the first of its nodes in file order.
fn report_cycles(
    cx: &mut Ctx<'_>,
    edges: &[Vec<usize>],
    key: &'static str,
    at: fn(usize) -> ObjRef,
    name: impl Fn(&Ctx<'_>, usize) -> String,
) {
    let mut reported = vec![false; edges.len()];
    for n in 0..edges.len() {
        if reported[n] {
            continue;
        }
        let Some(cycle) = cycle_from(n, edges) else { continue };
        for c in &cycle {
            reported[*c] = true;
        }
        let names: Vec<String> = cycle.iter().chain([&n]).map(|c| name(cx, *c)).collect();
        let label = match at(n) {
            ObjRef::Group(g) => cx.o.groups[g].obj.label.clone(),
            ObjRef::Resource(r) => cx.o.resources[r].obj.label.clone(),
            ObjRef::Root
            | ObjRef::Cluster
            | ObjRef::Server(_)
            | ObjRef::ServerGroup(_)
            | ObjRef::Heartbeat(_)
            | ObjRef::Np(_)
            | ObjRef::Activation(_)
            | ObjRef::Deactivation(_)
            | ObjRef::Monitor(_)
            | ObjRef::Alert(_) => String::new(),
        };
        let msg = format!("{label}: `{key}` forms a cycle: {}", names.join(" → "));
        let pos = cx.w.at(at(n), key);
        cx.w.diags.error(pos, msg);
    }
}

/// B131 6: groups waiting for each other would never start.
fn check_start_after_cycles(cx: &mut Ctx<'_>) {
    let edges: Vec<Vec<usize>> =
        cx.cfg.groups.iter().map(|g| g.start_after.iter().map(|a| a.idx()).collect()).collect();
    report_cycles(cx, &edges, "start_after", ObjRef::Group, |cx, g| cx.cfg.groups[g].name.clone());
}

/// B131 8: resources waiting for each other would never activate.
fn check_depends_on_cycles(cx: &mut Ctx<'_>) {
    let edges: Vec<Vec<usize>> =
        cx.cfg.resources.iter().map(|r| r.depends_on.iter().map(|d| d.idx()).collect()).collect();
    report_cycles(cx, &edges, "depends_on", ObjRef::Resource, |cx, r| cx.cfg.resources[r].name.clone());
}
