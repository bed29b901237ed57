//! Shrinking a generated configuration: candidate edits that make it smaller or
//! plainer, each one a whole [`Spec`] that the caller keeps only when the checker
//! accepts it and the run still fails the same way.
//!
//! In: a spec. Out: [`candidates`], from the largest cut to the smallest: fewer
//! servers, groups, resources, monitors, resolver units, heartbeat paths, networks;
//! no server groups; group, resource, monitor and cluster options back to their
//! defaults; default timings. Each edit also drops what referred to what it removed
//! (a monitor of a removed resource, a `start_after` naming a removed group), so that
//! most candidates pass the checker; those that do not are simply skipped.

use super::gen_spec::{Combo, GroupSpec, HbSpec, MonSpec, Policy, ResKind, Spec};

/// Removes what refers to names that no longer exist.
pub fn tidy(mut s: Spec) -> Spec {
    let servers = s.servers.clone();
    let keep = |v: &mut Vec<String>| v.retain(|x| servers.contains(x));
    for (_, members) in &mut s.server_groups {
        keep(members);
    }
    s.server_groups.retain(|(_, m)| !m.is_empty());
    keep(&mut s.shared);
    if s.shared.len() < 2 {
        s.shared.clear();
    }
    let svgs: Vec<String> = s.server_groups.iter().map(|(n, _)| n.clone()).collect();
    let shared = s.shared.clone();
    s.heartbeats.retain_mut(|(_, hb)| match hb {
        HbSpec::Lan { network } => s.networks.contains(network),
        HbSpec::Disk { servers: m, .. } => {
            m.retain(|x| shared.contains(x));
            m.len() >= 2
        }
    });
    let n = servers.len();
    s.units.retain_mut(|u| {
        if let Some(m) = &mut u.servers {
            m.retain(|x| servers.contains(x));
        }
        let members = u.servers.clone().unwrap_or_else(|| servers.clone());
        let on_shared = members.iter().all(|x| shared.contains(x));
        match u.combo {
            Combo::Ping | Combo::Http => !members.is_empty(),
            Combo::Majority => members.len() >= 3,
            Combo::Serial => members.len() == 2,
            Combo::Disk | Combo::PingDisk => members.len() >= 2 && on_shared,
            Combo::SerialDisk => members.len() == 2 && on_shared,
        }
    });
    let _ = n;
    for g in &mut s.groups {
        match &mut g.policy {
            Policy::All => {}
            Policy::Servers(v) => keep(v),
            Policy::ServerGroups(v) => v.retain(|x| svgs.contains(x)),
        }
        let networks = s.networks.clone();
        let policy = g.policy.clone();
        g.resources.retain_mut(|r| match &mut r.kind {
            ResKind::Mirror { hybrid, sides, networks: nets, .. } => {
                nets.retain(|x| networks.contains(x));
                if nets.is_empty() {
                    nets.push(networks[0].clone());
                }
                let side_ok = |x: &String| if *hybrid { svgs.contains(x) } else { servers.contains(x) };
                sides.iter().all(side_ok)
                    && match &policy {
                        Policy::Servers(v) => !*hybrid && v.len() == 2,
                        Policy::ServerGroups(v) => *hybrid && v.len() == 2,
                        Policy::All => false,
                    }
            }
            ResKind::Disk { .. } => !s.units.is_empty(),
            ResKind::FloatingIp { .. } | ResKind::VirtualIp { .. } | ResKind::Exec | ResKind::Service => true,
        });
    }
    s.groups.retain(|g| {
        !g.resources.is_empty()
            && match &g.policy {
                Policy::All => true,
                Policy::Servers(v) | Policy::ServerGroups(v) => !v.is_empty(),
            }
    });
    let groups: Vec<String> = s.groups.iter().map(|g| g.name.clone()).collect();
    let resources: Vec<String> = s.groups.iter().flat_map(|g| g.resources.iter().map(|r| r.name.clone())).collect();
    for g in &mut s.groups {
        g.start_after.retain(|x| groups.contains(x));
        for r in &mut g.resources {
            if let Some(d) = &mut r.depends_on {
                d.retain(|x| resources.contains(x));
                if d.is_empty() {
                    r.depends_on = None;
                }
            }
        }
    }
    let known = |x: &str| {
        matches!(x, "local-server" | "all-groups") || groups.iter().any(|g| g == x) || resources.iter().any(|r| r == x)
    };
    s.monitors.retain_mut(|m| {
        if let Some(v) = &mut m.servers {
            v.retain(|x| servers.contains(x));
            if v.is_empty() {
                return false;
            }
        }
        m.kind.resource().is_none_or(|r| resources.iter().any(|x| x == r))
            && m.active_with.as_deref().is_none_or(|r| resources.iter().any(|x| x == r))
            && m.recovery_target.as_deref().is_none_or(known)
    });
    s
}

fn without_group(s: &Spec, i: usize) -> Spec {
    let mut c = s.clone();
    c.groups.remove(i);
    tidy(c)
}

/// Candidate smaller specs, biggest cuts first.
pub fn candidates(s: &Spec) -> Vec<Spec> {
    let mut out = Vec::new();
    // Servers, the last first (the first is the master server, B-tie-breaker).
    if s.servers.len() > 2 {
        for i in (0..s.servers.len()).rev() {
            let mut c = s.clone();
            c.servers.remove(i);
            out.push(tidy(c));
        }
    }
    for i in (0..s.groups.len()).rev() {
        if s.groups.len() > 1 {
            out.push(without_group(s, i));
        }
    }
    for (gi, g) in s.groups.iter().enumerate() {
        for ri in (0..g.resources.len()).rev() {
            if g.resources.len() > 1 {
                let mut c = s.clone();
                c.groups[gi].resources.remove(ri);
                out.push(tidy(c));
            }
        }
    }
    for i in (0..s.monitors.len()).rev() {
        let mut c = s.clone();
        c.monitors.remove(i);
        out.push(tidy(c));
    }
    for i in (0..s.units.len()).rev() {
        let mut c = s.clone();
        c.units.remove(i);
        out.push(tidy(c));
    }
    for i in (0..s.heartbeats.len()).rev() {
        if s.heartbeats.len() > 1 && s.heartbeats[i].0 != "lan1" {
            let mut c = s.clone();
            c.heartbeats.remove(i);
            out.push(tidy(c));
        }
    }
    for i in (1..s.networks.len()).rev() {
        let mut c = s.clone();
        c.networks.remove(i);
        out.push(tidy(c));
    }
    if !s.server_groups.is_empty() {
        let mut c = s.clone();
        c.server_groups.clear();
        out.push(tidy(c));
    }
    out.extend(plainer(s));
    out.retain(|c| c != s);
    out
}

/// Options back to their defaults, one kind at a time.
fn plainer(s: &Spec) -> Vec<Spec> {
    let mut out = Vec::new();
    let mut c = s.clone();
    c.auto_return = false;
    c.count_scope_cluster = false;
    c.np_action = "emergency-shutdown";
    c.counter_reset_ms = None;
    out.push(c);
    let mut c = s.clone();
    c.heartbeat_interval_ms = 3_000;
    c.heartbeat_timeout_ms = 30_000;
    for u in &mut c.units {
        u.probe_ms = None;
    }
    out.push(c);
    for gi in 0..s.groups.len() {
        let mut c = s.clone();
        let g: &mut GroupSpec = &mut c.groups[gi];
        g.startup_manual = false;
        g.failover_manual = false;
        g.failback_auto = false;
        g.stable = false;
        g.exclusive = false;
        g.start_after.clear();
        out.push(c);
        let mut c = s.clone();
        c.groups[gi].policy = Policy::All;
        out.push(c);
        let mut c = s.clone();
        for r in &mut c.groups[gi].resources {
            r.activation = None;
            r.deactivation = None;
            r.depends_on = None;
            r.timeout_ms = None;
        }
        out.push(c);
    }
    for mi in 0..s.monitors.len() {
        let mut c = s.clone();
        let m: &mut MonSpec = &mut c.monitors[mi];
        m.active_with = None;
        m.servers = None;
        m.final_action = None;
        m.start_wait_ms = 0;
        out.push(c);
    }
    out
}
