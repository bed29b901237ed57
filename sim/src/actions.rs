//! What the simulated world does with a node's actions: how long each takes and what
//! it finds (injected failures, failed devices, unreachable targets), and the
//! physical effect applied when it completes (an address comes up, a mirror copy
//! lands).
//!
//! In: `Execute { id, action }` from a node. Out: a `Complete` event at the action's
//! end, script records for `expect script`, and breaches of invariants 1 and 2.

use crate::engine::{EvKind, ScriptRecord, Sim};
use baton_core::config::{MonitorKind, NpKind, ResId, ResourceKind, ServerId, TargetOwner};
use baton_core::io::{Action, ActionId, ActionResult, ProbeResult};

/// The physical effect of an action, applied when it completes.
#[derive(Debug)]
pub enum Effect {
    None,
    Activated(ResId),
    Deactivated(ResId),
    /// The margin probe of a floating IP ended (B44): does another server hold it?
    Probed(ResId),
    /// A mirror copy from `from`'s side to `to`'s side.
    Copied {
        res: ResId,
        from: ServerId,
        to: ServerId,
    },
}

impl Sim {
    pub(crate) fn execute(&mut self, s: ServerId, epoch: u64, id: ActionId, action: Action) {
        let act_ms = self.knobs.activation_time_ms;
        let latency = self.knobs.network_latency_ms;
        let (delay, effect, result) = match action {
            Action::Activate { res, env } => {
                if let Some(env) = env {
                    self.scripts.push(ScriptRecord { at_ms: self.now, server: s, res, start: true, env });
                }
                let failed = crate::world::World::take_failure(&mut self.world.fail_activation, (res, s));
                match (failed, self.device_error(res, s)) {
                    (true, _) => (act_ms, Effect::None, ActionResult::Failed("injected activation failure".into())),
                    (false, Some(e)) => (act_ms, Effect::None, ActionResult::Failed(e)),
                    (false, None) => (act_ms, Effect::Activated(res), ActionResult::Ok),
                }
            }
            Action::Deactivate { res, env } => {
                if let Some(env) = env {
                    self.scripts.push(ScriptRecord { at_ms: self.now, server: s, res, start: false, env });
                }
                if crate::world::World::take_failure(&mut self.world.fail_deactivation, (res, s)) {
                    (act_ms, Effect::None, ActionResult::Failed("injected deactivation failure".into()))
                } else {
                    (act_ms, Effect::Deactivated(res), ActionResult::Ok)
                }
            }
            Action::RecoverRun { res, env } => {
                self.scripts.push(ScriptRecord { at_ms: self.now, server: s, res, start: true, env });
                (act_ms, Effect::None, ActionResult::Ok)
            }
            Action::NpProbe { np } => {
                let (delay, result) = self.np_probe(np.idx(), s);
                (delay, Effect::None, result)
            }
            Action::AddressProbe { res, margin_ms } => {
                // The driver listens through the margin and one probe window past T;
                // the activation at T meets a holder in `activated` (B44, B70).
                let window_ms = match self.world.cfg.resource(res).kind {
                    ResourceKind::FloatingIp { probe_window_ms, .. } => probe_window_ms,
                    ResourceKind::VirtualIp { .. }
                    | ResourceKind::Exec { .. }
                    | ResourceKind::Service { .. }
                    | ResourceKind::Disk { .. }
                    | ResourceKind::MirrorDisk(_)
                    | ResourceKind::HybridDisk(_) => 0,
                };
                (margin_ms.saturating_add(window_ms), Effect::Probed(res), ActionResult::Ok)
            }
            Action::MonitorCheck { mon } => {
                let (healthy, detail) = self.monitor_check(mon, s);
                // A disk check does real I/O: a slow device makes it slow (B81 timeout).
                let delay = if let MonitorKind::Disk { device: Some(d), .. } = &self.world.cfg.monitor(mon).kind {
                    self.world.io_ms(d, s, self.knobs.disk_latency_ms)
                } else {
                    latency
                };
                (delay, Effect::None, ActionResult::Check { healthy, detail })
            }
            Action::MirrorCopy { res, to, full } => {
                let data = self.world.mirrors.get(&res).cloned().unwrap_or_default();
                let side = self.world.mirror_side(res, s).unwrap_or(0) as usize;
                let bytes = if full { self.knobs.mirror_size_bytes } else { data.dirty[side] };
                let bw = self.knobs.mirror_bandwidth_bytes_per_s.max(1);
                let ms = (bytes.saturating_mul(1000)).div_ceil(bw);
                (ms, Effect::Copied { res, from: s, to }, ActionResult::Ok)
            }
            Action::Power(p) => {
                self.power(s, p);
                return;
            }
        };
        self.push(self.now + delay, EvKind::Complete { server: s, epoch, id, effect, result });
    }

    /// A device error that makes activating `res` on `s` fail.
    fn device_error(&self, res: ResId, s: ServerId) -> Option<String> {
        match &self.world.cfg.resource(res).kind {
            ResourceKind::Disk { device, .. } if self.world.device_failed(device, s) => {
                Some(format!("device error on {device}"))
            }
            ResourceKind::MirrorDisk(m) | ResourceKind::HybridDisk(m) => {
                let side = m.sides.iter().find(|side| side.servers.contains(&s))?;
                self.world.device_failed(&side.data, s).then(|| format!("device error on {}", side.data))
            }
            ResourceKind::Disk { .. }
            | ResourceKind::FloatingIp { .. }
            | ResourceKind::VirtualIp { .. }
            | ResourceKind::Exec { .. }
            | ResourceKind::Service { .. } => None,
        }
    }

    pub(crate) fn apply_effect(&mut self, s: ServerId, effect: Effect, result: ActionResult) -> ActionResult {
        match effect {
            Effect::None => result,
            Effect::Activated(res) => self.activated(s, res),
            Effect::Probed(res) => {
                let answered = self.world.active.get(&res).is_some_and(|h| h.iter().any(|o| *o != s));
                ActionResult::Probe(ProbeResult::Answered(answered))
            }
            Effect::Deactivated(res) => {
                if let Some(h) = self.world.active.get_mut(&res) {
                    h.remove(&s);
                }
                result
            }
            Effect::Copied { res, from, to } => {
                let (Some(a), Some(b)) = (self.world.mirror_side(res, from), self.world.mirror_side(res, to)) else {
                    return ActionResult::Failed("not a side of this mirror".into());
                };
                if !self.world.mirror_connected(res) {
                    return ActionResult::Failed("the mirror connect dropped".into());
                }
                let m = self.world.cfg.resource(res).kind.mirror().expect("mirror");
                if self.world.device_failed(&m.sides[b as usize].data, to) {
                    return ActionResult::Failed(format!(
                        "I/O error on {} of {}",
                        m.sides[b as usize].data,
                        self.world.cfg.server(to).name
                    ));
                }
                let now = self.now;
                let d = self.world.mirrors.entry(res).or_default();
                d.settle(now);
                d.content[b as usize] = d.content[a as usize];
                d.unsent = 0;
                d.dirty = [0, 0];
                d.newest = None;
                d.forced = None;
                result
            }
        }
    }

    /// A resource came up on `s`: invariants 1 (nothing twice) and 2 (no stale mirror).
    fn activated(&mut self, s: ServerId, res: ResId) -> ActionResult {
        let cfg = self.world.cfg.clone();
        let r = cfg.resource(res);
        let holders = self.world.active.entry(res).or_default();
        if let Some(other) = holders.iter().copied().find(|h| *h != s) {
            if let ResourceKind::FloatingIp { .. } | ResourceKind::VirtualIp { .. } = r.kind {
                // The address answers elsewhere: a real driver's ARP probe refuses it.
                if !self.allow_split_brain {
                    return ActionResult::Failed(format!("address in use (answered by {})", cfg.server(other).name));
                }
            }
            let text =
                format!("{} {} online on {} and {}", r.kind.name(), r.name, cfg.server(other).name, cfg.server(s).name);
            self.double(r.group, text);
        }
        self.world.active.entry(res).or_default().insert(s);
        if r.kind.mirror().is_some() {
            let side = self.world.mirror_side(res, s).unwrap_or(0);
            let now = self.now;
            let d = self.world.mirrors.entry(res).or_default();
            d.settle(now);
            if let Some(bytes) = d.lost_unsent.take() {
                // The driver tells the new online side what never reached it (B101).
                let epoch = self.world.machines[s.idx()].epoch;
                self.push(
                    self.now,
                    crate::engine::EvKind::Deliver {
                        server: s,
                        epoch: Some(epoch),
                        input: baton_core::Input::MirrorWritesLost { res, bytes },
                    },
                );
            }
            let d = self.world.mirrors.entry(res).or_default();
            let stale = d.newest.is_some_and(|n| n != side) && d.content[0] != d.content[1] && d.forced != Some(side);
            if stale {
                let text = format!(
                    "invariant 2 (latest data): mirror {} activated on {} without the latest data",
                    r.name,
                    cfg.server(s).name
                );
                self.breach(text);
            }
        }
        ActionResult::Ok
    }

    /// One resolver watch check (B31), as the world answers it.
    fn np_probe(&mut self, np: usize, s: ServerId) -> (u64, ActionResult) {
        let cfg = self.world.cfg.clone();
        let n = &cfg.nps[np];
        let rtt = 2 * self.knobs.network_latency_ms;
        match &n.kind {
            NpKind::Ping { targets } | NpKind::Http { targets, .. } => {
                let owner = TargetOwner::Np(np);
                let answered = targets.iter().any(|t| self.world.target_answers(owner, t, s));
                if answered {
                    (rtt, ActionResult::Probe(ProbeResult::Answered(true)))
                } else {
                    (n.timeout_ms, ActionResult::Probe(ProbeResult::Answered(false)))
                }
            }
            NpKind::Serial { .. } => {
                let answered = self
                    .world
                    .serial_peer(np, s)
                    .is_some_and(|p| self.world.serial_up(s, p) && self.world.service_running(p));
                if answered {
                    (rtt, ActionResult::Probe(ProbeResult::Answered(true)))
                } else {
                    (n.timeout_ms, ActionResult::Probe(ProbeResult::Answered(false)))
                }
            }
            NpKind::Disk { device, io_wait_ms } => {
                let io_ms = self.world.io_ms(device, s, self.knobs.disk_latency_ms);
                if self.world.device_failed(device, s) {
                    return (
                        io_ms.min(*io_wait_ms),
                        ActionResult::Probe(ProbeResult::Disk { io_ok: false, io_ms, slots: vec![] }),
                    );
                }
                *self.world.slots.entry((device.clone(), s)).or_insert(0) += 1;
                let slots = n
                    .servers
                    .iter()
                    .filter(|p| **p != s)
                    .map(|p| (*p, self.world.slots.get(&(device.clone(), *p)).copied().unwrap_or(0)))
                    .collect();
                (io_ms.min(*io_wait_ms + 1), ActionResult::Probe(ProbeResult::Disk { io_ok: true, io_ms, slots }))
            }
            NpKind::Majority => (0, ActionResult::Probe(ProbeResult::Answered(true))),
        }
    }

    /// One monitor check (B82), as the world answers it.
    fn monitor_check(&mut self, m: baton_core::config::MonId, s: ServerId) -> (bool, String) {
        if self.world.monitor_failing.contains(&(m, s)) {
            return (false, "the monitored thing is unhealthy".into());
        }
        let cfg = self.world.cfg.clone();
        match &cfg.monitor(m).kind {
            MonitorKind::Ip { targets } => {
                let ok = targets.iter().any(|t| self.world.target_answers(TargetOwner::Monitor(m), t, s));
                (ok, if ok { String::new() } else { "no target answered".into() })
            }
            MonitorKind::Http { url, .. } => {
                let ok = self.world.target_answers(TargetOwner::Monitor(m), url, s);
                (ok, if ok { String::new() } else { "no response".into() })
            }
            MonitorKind::FloatingIp { resource } => {
                let holders = self.world.active.get(resource);
                let ok = holders.is_some_and(|h| h.contains(&s) && h.len() == 1);
                (ok, if ok { String::new() } else { "the address is not (only) here".into() })
            }
            MonitorKind::Disk { device: Some(d), .. } => {
                let ok = !self.world.device_failed(d, s);
                (ok, if ok { String::new() } else { format!("I/O error on {d}") })
            }
            MonitorKind::MirrorDisk { resource } => {
                let m = cfg.resource(*resource).kind.mirror().expect("mirror");
                let side = m.sides.iter().find(|side| side.servers.contains(&s));
                let ok = side.is_none_or(|side| !self.world.device_failed(&side.data, s));
                (ok, if ok { String::new() } else { "disk error on this side".into() })
            }
            MonitorKind::MirrorConnect { resource } => {
                let ok = self.world.mirror_connected(*resource);
                (ok, if ok { String::new() } else { "mirror connect down".into() })
            }
            MonitorKind::Disk { device: None, .. }
            | MonitorKind::Process { .. }
            | MonitorKind::Exec { .. }
            | MonitorKind::NicLink { .. }
            | MonitorKind::UserSpace { .. } => (true, String::new()),
        }
    }
}
