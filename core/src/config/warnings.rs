//! Warnings of B133: the file is accepted, but something deserves a look.
//!
//! In: the resolved model. Out: warning diagnostics for: no `[[np]]` (split brain on
//! total loss); `heartbeat_timeout` below 30 s with a `disk` or `majority`
//! resolver; a floating IP in no subnet of a policy server's addresses;
//! `insecure = true`. (Missing exec scripts are the CLI's check: the core reads no
//! files.)

use super::ctx::Ctx;
use super::net::{parse_cidr, same_subnet_v4};
use super::toml_walk::{ObjRef, Pos};
use super::{NpKind, ResourceKind};
use core::net::IpAddr;

/// Below this a disk or majority verdict races ordinary I/O stalls (000 §1.4.1).
const SAFE_HEARTBEAT_TIMEOUT_MS: u64 = 30_000;

pub(crate) fn warn(cx: &mut Ctx<'_>) {
    let cluster_at = cx.w.header(ObjRef::Cluster);
    if cx.cfg.nps.is_empty() {
        cx.w.diags
            .warn(cluster_at, "no [[np]] table: on a total loss of heartbeats every side takes over (split brain)");
    }
    let slow_kind = cx.cfg.nps.iter().find(|n| matches!(n.kind, NpKind::Disk { .. } | NpKind::Majority));
    if let Some(np) = slow_kind {
        if cx.cfg.cluster.heartbeat_timeout_ms < SAFE_HEARTBEAT_TIMEOUT_MS {
            let msg = format!(
                "heartbeat_timeout is below 30s with a `{}` resolver (np \"{}\"): I/O stalls may be taken for a lost server",
                if matches!(np.kind, NpKind::Disk { .. }) { "disk" } else { "majority" },
                np.name
            );
            let at = cx.w.at(ObjRef::Cluster, "heartbeat_timeout");
            cx.w.diags.warn(at, msg);
        }
    }
    floating_ip_subnets(cx);
    super::targets::warn_unbound(cx);
    if cx.cfg.cluster.insecure {
        let at = cx.w.at(ObjRef::Cluster, "insecure");
        cx.w.diags.warn(
            at,
            "insecure = true: cluster traffic is not authenticated (insecure-mode); for tests and demos only",
        );
    }
}

/// A floating IP outside every subnet of a server that may hold it cannot be
/// reached there (and has no interface to go on, config.md `interface`).
fn floating_ip_subnets(cx: &mut Ctx<'_>) {
    let mut found: Vec<(Pos, String)> = Vec::new();
    for (i, r) in cx.cfg.resources.iter().enumerate() {
        let ResourceKind::FloatingIp { address, .. } = &r.kind else { continue };
        let Ok((IpAddr::V4(fip), Some(prefix))) = parse_cidr(address, true) else { continue };
        let Some(group) = cx.cfg.groups.get(r.group.idx()) else { continue };
        for s in &group.policy {
            let Some(server) = cx.cfg.servers.get(s.idx()) else { continue };
            let in_subnet = server.addresses.values().any(|a| match a.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) => same_subnet_v4(fip, v4, prefix),
                Ok(IpAddr::V6(_)) | Err(_) => false,
            });
            if !in_subnet {
                let msg = format!(
                    "{}: address {address} is in no subnet of server \"{}\"'s addresses",
                    cx.o.resources[i].obj.label, server.name
                );
                found.push((cx.w.at(ObjRef::Resource(i), "address"), msg));
            }
        }
    }
    for (at, msg) in found {
        cx.w.diags.warn(at, msg);
    }
}
