//! Group stop (B64) and what follows it: one resource at a time, dependants first,
//! then the hand-over, RECOVER run or restart the stop was for (B65, B83), and the
//! departure of a leaving server once its groups are down (B68).
//!
//! In: decisions to stop a whole group or some of its resources; deactivation results.
//! Out: `Deactivate` actions with their stop environments, group and resource events,
//! failures into the deactivation ladder (B72).

use super::*;

impl Node {
    /// Stops the whole group (B64), then does `after`.
    pub(in crate::node) fn stop_group(&mut self, g: GroupId, factor: ClpFactor, after: AfterStop) {
        // A whole-group stop supersedes a resource reactivation in progress.
        self.groups[g.idx()].end_resource_restart();
        let n = self.cfg.group(g).resources.len();
        let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        self.stop_resources(g, factor, mask, after);
    }

    /// Stops the resources of `mask` (dependants first) then does `after`.
    pub(in crate::node) fn stop_resources(&mut self, g: GroupId, factor: ClpFactor, mask: u64, after: AfterStop) {
        // A resource reactivation (B83.3) keeps the group online here even when every
        // resource depends on its target: were it `offline` meanwhile, peers would see
        // it held by nobody (lost with this server, B55) and `group start` would be
        // accepted elsewhere while it restarts here.
        let full = after != AfterStop::ResourceRestart && {
            let n = self.cfg.group(g).resources.len();
            (0..n).all(|p| mask & (1 << p) != 0)
        };
        let lg = &mut self.groups[g.idx()];
        if full {
            lg.state = GroupState::Stopping;
            self.emit(Event::new(EventKind::GroupStopping).group(g));
        } else {
            // Only a resource reactivation stops part of a group; `reactivate` recorded it.
            assert!(lg.restarting_resources(), "partial stop of {g:?} outside a resource reactivation");
        }
        self.groups[g.idx()].op = Op::Stopping { factor, mask, after };
        self.mark_dirty();
        self.step_stop(g);
    }

    pub(in crate::node) fn step_stop(&mut self, g: GroupId) {
        let lg = &self.groups[g.idx()];
        let Op::Stopping { mask, .. } = lg.op else { return };
        if lg.busy() {
            return;
        }
        let grp = self.cfg.group(g);
        let online = |p: usize| lg.res[p].state == ResState::Online;
        // A resource stops when nothing depending on it is still online (B64).
        let next = (0..grp.resources.len()).rev().find(|p| {
            mask & (1 << p) != 0
                && online(*p)
                && (0..grp.resources.len())
                    .all(|q| !online(q) || !self.cfg.resource(grp.resources[q]).depends_on.contains(&grp.resources[*p]))
        });
        match next {
            Some(pos) => self.deactivate(g, pos),
            None => self.finish_stop(g),
        }
    }

    fn deactivate(&mut self, g: GroupId, pos: usize) {
        let r = self.group_res(g, pos);
        let Op::Stopping { factor, .. } = self.groups[g.idx()].op else { unreachable!("deactivate outside a stop") };
        self.groups[g.idx()].res[pos].state = ResState::Deactivating;
        self.emit(Event::new(EventKind::ResourceDeactivating).group(g).resource(r));
        let env = self.groups[g.idx()].res[pos].env.as_ref().map(|e| ScriptEnv::stop(e, factor));
        if let Some(e) = &env {
            self.emit(Event::new(EventKind::ScriptStarted).group(g).resource(r).reason(env_text(e)));
        }
        let timeout = self.cfg.resource(r).timeout_ms;
        let script = env.is_some();
        let id = self.execute(Action::Deactivate { res: r, env }, Pending::Deactivate { group: g, pos }, Some(timeout));
        self.watch_script(id, script);
    }

    pub(in crate::node) fn on_deactivated(&mut self, g: GroupId, pos: usize, result: ActionResult) {
        let r = self.group_res(g, pos);
        let is_exec = matches!(self.cfg.resource(r).kind, ResourceKind::Exec { .. });
        match result {
            ActionResult::Ok | ActionResult::Probe(_) | ActionResult::Check { .. } => {
                self.groups[g.idx()].res[pos].state = ResState::Offline;
                if is_exec {
                    self.emit(Event::new(EventKind::ScriptDone).group(g).resource(r));
                }
                self.emit(Event::new(EventKind::ResourceOffline).group(g).resource(r));
                self.step_stop(g);
            }
            ActionResult::Failed(reason) => {
                self.groups[g.idx()].res[pos].state = ResState::Online;
                if is_exec {
                    self.emit(Event::new(EventKind::ScriptFailed).group(g).resource(r).reason(reason.clone()));
                }
                self.emit(Event::new(EventKind::ResourceDeactivationFailed).group(g).resource(r).reason(reason));
                if self.leaving() {
                    // B71: on the way out further failures are ignored; power-off releases it.
                    self.groups[g.idx()].res[pos].state = ResState::Offline;
                    self.step_stop(g);
                    return;
                }
                self.deactivation_ladder(g, pos);
            }
        }
    }

    /// A stop ended with a resource still online (final action `none`, B72).
    pub(in crate::node) fn stop_failed(&mut self, g: GroupId) {
        let lg = &mut self.groups[g.idx()];
        lg.state = GroupState::Error;
        lg.op = Op::Idle;
        lg.end_resource_restart();
        self.emit(Event::new(EventKind::GroupStopFailed).group(g));
        self.mark_dirty();
    }

    fn finish_stop(&mut self, g: GroupId) {
        let Op::Stopping { after, .. } = std::mem::replace(&mut self.groups[g.idx()].op, Op::Idle) else {
            return;
        };
        let partial = self.groups[g.idx()].restarting_resources();
        if !partial {
            let lg = &mut self.groups[g.idx()];
            lg.state = GroupState::Offline;
            for r in &mut lg.res {
                r.state = ResState::Offline;
                r.env = None;
            }
            self.emit(Event::new(EventKind::GroupOffline).group(g));
        }
        self.mark_dirty();
        match after {
            AfterStop::Nothing => {}
            AfterStop::HandOver { to, kind: _ } if to != self.me && !self.is_member(to) => {
                // The target went away while we stopped: place the group again (B65 with B55).
                self.emit(
                    Event::new(EventKind::GroupMoveFailed)
                        .group(g)
                        .peer(to)
                        .reason("the target is no longer an online member"),
                );
                self.replace_orphan(g, None);
            }
            AfterStop::HandOver { to, kind } => {
                let epoch = self.groups[g.idx()].epoch_ms;
                self.start_on(g, to, kind, epoch);
            }
            AfterStop::MonitorFailover => self.begin_recover(g, AfterRecover::MonitorFailover),
            AfterStop::GroupRestart => self.begin_recover(g, AfterRecover::GroupRestart),
            AfterStop::ResourceRestart => {
                let lg = &mut self.groups[g.idx()];
                lg.op = Op::Starting;
                lg.event = ClpEvent::Start;
                self.step_start(g);
            }
        }
        if self.leaving() {
            self.continue_leave();
        }
    }
}
