//! RECOVER runs (B93): the start scripts of a group's exec resources run with
//! `CLP_EVENT=RECOVER` without activating anything — on a returning server (B25) and on
//! the source of a monitor failover or group reactivation (B83).
//!
//! In: the decision to run them and their results. Out: `RecoverRun` actions, script
//! events, and what follows (failbacks, the failover, the restart).

use super::*;

impl Node {
    /// Runs the exec start scripts of `g` with `CLP_EVENT=RECOVER`, then `after`.
    pub(in crate::node) fn begin_recover(&mut self, g: GroupId, after: AfterRecover) {
        let queue: Vec<ResId> = self
            .start_order(g)
            .into_iter()
            .filter(|r| matches!(self.cfg.resource(*r).kind, ResourceKind::Exec { .. }))
            .collect();
        self.groups[g.idx()].op = Op::Recovering { queue, after };
        self.step_recover(g);
    }

    /// The group's resources in start order (B62, B63).
    pub(in crate::node) fn start_order(&self, g: GroupId) -> Vec<ResId> {
        let grp = self.cfg.group(g);
        let mut done: Vec<ResId> = Vec::new();
        while done.len() < grp.resources.len() {
            let next = grp
                .resources
                .iter()
                .copied()
                .find(|r| !done.contains(r) && self.cfg.resource(*r).depends_on.iter().all(|d| done.contains(d)));
            match next {
                Some(r) => done.push(r),
                None => break, // cycles are refused by the checker
            }
        }
        done
    }

    pub(in crate::node) fn step_recover(&mut self, g: GroupId) {
        let Op::Recovering { queue, after } = &mut self.groups[g.idx()].op else { return };
        if queue.is_empty() {
            let after = after.clone();
            self.groups[g.idx()].op = Op::Idle;
            // Peers saw the group `stopping` here during the run (B55, `shared_group_state`).
            self.mark_dirty();
            self.after_recover(g, after);
            return;
        }
        let r = queue.remove(0);
        let rank = self.cfg.rank(g, self.me).unwrap_or(1);
        let env = ScriptEnv::start(ClpEvent::Recover, rank, true, &self.cfg.group(g).name, &self.cfg.resource(r).name);
        self.emit(Event::new(EventKind::ScriptStarted).group(g).resource(r).reason(env_text(&env)));
        let timeout = self.cfg.resource(r).timeout_ms;
        let id = self.execute(Action::RecoverRun { res: r, env }, Pending::Recover { group: g }, Some(timeout));
        self.watch_script(id, true);
    }

    pub(in crate::node) fn on_recover_done(&mut self, g: GroupId, result: ActionResult) {
        match result {
            ActionResult::Failed(reason) => {
                // B93: logged, no other effect.
                self.emit(Event::new(EventKind::ScriptFailed).group(g).reason(reason));
            }
            ActionResult::Ok | ActionResult::Probe(_) | ActionResult::Check { .. } => {
                self.emit(Event::new(EventKind::ScriptDone).group(g));
            }
        }
        self.step_recover(g);
    }

    pub(in crate::node) fn after_recover(&mut self, g: GroupId, after: AfterRecover) {
        match after {
            AfterRecover::Return => {
                self.recovering_for_return = self.recovering_for_return.saturating_sub(1);
                if self.recovering_for_return == 0 {
                    self.check_failbacks();
                }
            }
            AfterRecover::MonitorFailover => self.fail_over_after_failure(g, StartKind::MonitorFailover),
            AfterRecover::GroupRestart => {
                let epoch = self.groups[g.idx()].epoch_ms;
                let lg = &mut self.groups[g.idx()];
                lg.end_resource_restart();
                // Recorded before the start begins: a start that fails within this
                // input (a mirror refused at once, B106) ends the reactivation as
                // failed (B71, B83.3) rather than leaving its record on a group in error.
                lg.reactivation = Reactivation::Group;
                self.begin_start(g, StartKind::Command, epoch);
                // A start deferred by B54 is no restart in place any more.
                let lg = &mut self.groups[g.idx()];
                if lg.state == GroupState::Offline && lg.reactivation == Reactivation::Group {
                    lg.reactivation = Reactivation::None;
                }
            }
        }
    }

    /// B25: RECOVER runs on a returning server for the groups that were online on it
    /// when its last run ended; failbacks follow.
    pub(in crate::node) fn start_recover_runs(&mut self) {
        let groups = std::mem::take(&mut self.recover_groups);
        let groups: Vec<GroupId> =
            groups.into_iter().filter(|g| self.groups[g.idx()].state == GroupState::Offline).collect();
        self.recovering_for_return = groups.len();
        if groups.is_empty() {
            self.check_failbacks();
            return;
        }
        for g in groups {
            self.begin_recover(g, AfterRecover::Return);
        }
    }
}
