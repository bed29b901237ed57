//! The implied monitors of B88.
//!
//! In: the resources and the explicit monitors. Out: `cfg.monitors` extended, after
//! the explicit ones, with one monitor per floating IP (`R-fipw`), disk (`R-diskw`),
//! mirror or hybrid disk (`R-mdw`/`R-mdnw`, `R-hdw`/`R-hdnw`), in resource file
//! order, then `userw`; each skipped when the file has its own monitor of that kind
//! for that resource. Their names join the namespace (a clash is an error), and the
//! monitor limit of B132, which counts them, is checked here.

use super::ctx::Ctx;
use super::defaults;
use super::monitors::{disk_device, disk_owner};
use super::outline::NameKind;
use super::toml_walk::{ObjRef, Pos, Sp};
use super::{FinalAction, Monitor, MonitorKind, RecoveryTarget, ResId, ResourceKind, ServerId};

/// B132: monitors, implied ones included.
const MAX_MONITORS: usize = 256;

/// A monitor with the §14 defaults.
fn base(name: String, kind: MonitorKind, servers: Vec<ServerId>, target: RecoveryTarget) -> Monitor {
    Monitor {
        name,
        kind,
        interval_ms: defaults::MONITOR_INTERVAL_MS,
        timeout_ms: defaults::MONITOR_TIMEOUT_MS,
        retries: defaults::MONITOR_RETRIES,
        start_wait_ms: defaults::MONITOR_START_WAIT_MS,
        active_with: None,
        servers,
        recovery_target: target,
        reactivations: defaults::MONITOR_REACTIVATIONS,
        failovers: defaults::MONITOR_FAILOVERS,
        final_action: defaults::MONITOR_FINAL_ACTION,
        implied: true,
        network: None,
    }
}

/// A mirror monitor: always running, reporting only (0 / 0 / none).
fn reporting(name: String, kind: MonitorKind, servers: Vec<ServerId>, r: ResId) -> Monitor {
    Monitor {
        reactivations: 0,
        failovers: 0,
        final_action: FinalAction::None,
        ..base(name, kind, servers, RecoveryTarget::Resource(r))
    }
}

pub(crate) fn add_implied(cx: &mut Ctx<'_>) {
    let explicit = cx.cfg.monitors.len();
    // Where each monitor came from, for the limit message.
    let mut sources: Vec<Pos> = (0..explicit).map(|i| cx.w.header(ObjRef::Monitor(i))).collect();
    let mut added: Vec<(Monitor, Pos)> = Vec::new();
    for (i, res) in cx.cfg.resources.iter().enumerate() {
        if cx.bad_kind.contains(&ObjRef::Resource(i)) {
            continue;
        }
        let r = ResId(i as u16);
        let at = cx.w.at(ObjRef::Resource(i), "name");
        let policy = cx.cfg.groups.get(res.group.idx()).map(|g| g.policy.clone()).unwrap_or_default();
        let mine = &cx.cfg.monitors[..explicit];
        let has = |f: &dyn Fn(&Monitor) -> bool| mine.iter().any(f);
        match &res.kind {
            ResourceKind::FloatingIp { .. } => {
                if !has(&|m| matches!(m.kind, MonitorKind::FloatingIp { resource } if resource == r)) {
                    let kind = MonitorKind::FloatingIp { resource: r };
                    let m = Monitor {
                        active_with: Some(r),
                        ..base(format!("{}-fipw", res.name), kind, policy, RecoveryTarget::Resource(r))
                    };
                    added.push((m, at));
                }
            }
            ResourceKind::Disk { mount_point, .. } => {
                let covers = |m: &Monitor| match &m.kind {
                    MonitorKind::Disk { path, .. } => m.active_with == Some(r) || disk_owner(&cx.cfg, path) == Some(r),
                    MonitorKind::Ip { .. }
                    | MonitorKind::FloatingIp { .. }
                    | MonitorKind::Process { .. }
                    | MonitorKind::Exec { .. }
                    | MonitorKind::NicLink { .. }
                    | MonitorKind::MirrorDisk { .. }
                    | MonitorKind::MirrorConnect { .. }
                    | MonitorKind::UserSpace { .. }
                    | MonitorKind::Http { .. } => false,
                };
                if !has(&covers) {
                    let kind = MonitorKind::Disk {
                        path: mount_point.clone(),
                        io_size: defaults::DISK_IO_SIZE,
                        device: disk_device(&cx.cfg, mount_point),
                    };
                    let m = Monitor {
                        active_with: Some(r),
                        ..base(format!("{}-diskw", res.name), kind, policy, RecoveryTarget::Resource(r))
                    };
                    added.push((m, at));
                }
            }
            ResourceKind::MirrorDisk(_) | ResourceKind::HybridDisk(_) => {
                let (w, nw) =
                    if matches!(res.kind, ResourceKind::HybridDisk(_)) { ("hdw", "hdnw") } else { ("mdw", "mdnw") };
                if !has(&|m| matches!(m.kind, MonitorKind::MirrorDisk { resource } if resource == r)) {
                    let m = reporting(
                        format!("{}-{w}", res.name),
                        MonitorKind::MirrorDisk { resource: r },
                        policy.clone(),
                        r,
                    );
                    added.push((m, at));
                }
                if !has(&|m| matches!(m.kind, MonitorKind::MirrorConnect { resource } if resource == r)) {
                    let m =
                        reporting(format!("{}-{nw}", res.name), MonitorKind::MirrorConnect { resource: r }, policy, r);
                    added.push((m, at));
                }
            }
            ResourceKind::VirtualIp { .. } | ResourceKind::Exec { .. } | ResourceKind::Service { .. } => {}
        }
    }
    let user_space = cx.cfg.monitors.iter().any(|m| matches!(m.kind, MonitorKind::UserSpace { .. }));
    if !user_space {
        let stall = defaults::STALL_ACTION;
        let m = Monitor {
            final_action: stall,
            ..base(
                "userw".into(),
                MonitorKind::UserSpace { stall_action: stall },
                cx.all_servers(),
                RecoveryTarget::LocalServer,
            )
        };
        // A clash is reported where the other owner of the name is.
        let at = cx.o.names.owner("userw").map_or(Pos::START, |(_, p)| p);
        added.push((m, at));
    }
    for (m, at) in added {
        let name = Sp { v: m.name.clone(), at, key_at: at };
        let label = format!("implied monitor \"{}\" (B88)", m.name);
        cx.o.names.claim(&mut cx.w, NameKind::Monitor, cx.cfg.monitors.len(), &name, &label);
        cx.cfg.monitors.push(m);
        sources.push(at);
    }
    if let Some(at) = sources.get(MAX_MONITORS) {
        let msg = format!(
            "too many monitors: {} ({} written, {} implied by B88); the limit is {MAX_MONITORS} (B132)",
            cx.cfg.monitors.len(),
            explicit,
            cx.cfg.monitors.len() - explicit
        );
        cx.w.diags.error(*at, msg);
    }
}
