//! The floating IPs' duplicate-address probe during the takeover margin (B44, revised):
//! at the verdict V a survivor asks its drivers to watch the link for the floating IPs
//! of the groups it may start at T, so that at T the address can be added at once when
//! nobody answered in the last probe window, and the probe costs no time when the old
//! owner is gone.
//!
//! In: the groups of the peers judged down at V, and T. Out: one
//! `Action::AddressProbe { res, margin_ms }` per floating IP of those groups whose
//! policy holds this server. The activation at T is the guard (the driver adds the
//! address only after a quiet probe window, and fails it when the address is still
//! answered after T + the window, B70), so the probe's own result only ends the action
//! here: a probe that failed or found a holder leaves the activation to probe in full.

use super::{Node, Pending};
use crate::config::{GroupId, Ms, ResId, ResourceKind};
use crate::io::{Action, ActionResult};

impl Node {
    /// At V: watch the floating IPs of `groups` (taken over at `t_ms`) that may start
    /// here, from now to T and one probe window on.
    pub(super) fn probe_during_margin(&mut self, groups: &[GroupId], t_ms: Ms) {
        if self.phase.is_suspended() {
            return; // B46: a suspended survivor takes nothing over
        }
        let margin_ms = t_ms.saturating_sub(self.now);
        let mut probes: Vec<(ResId, Ms)> = Vec::new();
        for g in groups {
            if self.cfg.rank(*g, self.me).is_none() {
                continue; // never a target of g: nothing to add here
            }
            for res in &self.cfg.group(*g).resources {
                let r = self.cfg.resource(*res);
                match r.kind {
                    ResourceKind::FloatingIp { probe_window_ms, .. } => {
                        // The driver answers one window after T; the resource's own
                        // timeout on top bounds a driver that hangs (B73).
                        let bound = margin_ms.saturating_add(probe_window_ms).saturating_add(r.timeout_ms);
                        probes.push((*res, bound));
                    }
                    ResourceKind::VirtualIp { .. }
                    | ResourceKind::Exec { .. }
                    | ResourceKind::Service { .. }
                    | ResourceKind::Disk { .. }
                    | ResourceKind::MirrorDisk(_)
                    | ResourceKind::HybridDisk(_) => {}
                }
            }
        }
        probes.sort();
        probes.dedup();
        for (res, bound) in probes {
            self.execute(Action::AddressProbe { res, margin_ms }, Pending::AddressProbe { res }, Some(bound));
        }
    }

    /// The margin probe of `res` ended: nothing to decide here (see the module doc).
    pub(super) fn on_margin_probe_done(&mut self, res: ResId, result: &ActionResult) {
        let _ = (res, result);
    }
}
