//! Recovery ladders and their counters: activation failure (B70, B71), deactivation
//! failure (B72), monitor recovery (B83, B84), failover counters (B58) and their reset
//! (B85), fault history for `stable` placement (B52).
//!
//! In: a failed activation or deactivation (from `group`), a monitor error (from
//! `monitor`), the counter-reset timer. Out: retries, failovers, final actions, and the
//! recovery events that explain each step with the count and threshold that chose it.

use super::group::{AfterStop, Reactivation, ResState};
use super::{Node, Phase};
use crate::config::{FinalAction, GroupId, MonId, Ms, RecoveryTarget, ResId};
use crate::event::{Event, EventKind};
use crate::io::{CounterKey, GroupState, StartKind, Timer};
use crate::script::ClpFactor;
use std::collections::{BTreeMap, BTreeSet};

/// Recovery counters of this server, cleared at service start (B27).
#[derive(Clone, Debug, Default)]
pub(super) struct Counters {
    /// Reactivations per monitor (B85).
    pub reactivations: BTreeMap<MonId, u32>,
    /// Failovers away from this server per resource or monitor (B58).
    pub failovers: BTreeMap<CounterKey, u32>,
    /// Latest failure of each key, for the reset (B58, B85).
    pub last_failure: BTreeMap<CounterKey, Ms>,
    /// Monitors whose final action ran for the current fault (B84).
    pub final_done: BTreeSet<MonId>,
}

impl Counters {
    pub fn own_failovers(&self) -> Vec<(CounterKey, u32)> {
        self.failovers.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

impl Node {
    /// The failover count that a threshold is compared with (B58).
    fn failover_count(&self, key: CounterKey) -> u32 {
        let own = self.counters.failovers.get(&key).copied().unwrap_or(0);
        match self.cfg.cluster.failover_count_scope {
            crate::config::CountScope::Server => own,
            crate::config::CountScope::Cluster => {
                own + self
                    .peer_ids()
                    .filter(|p| self.peers[p.idx()].may_hold())
                    .map(|p| {
                        self.peers[p.idx()]
                            .shared
                            .failover_counts
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map_or(0, |(_, v)| *v)
                    })
                    .sum::<u32>()
            }
        }
    }

    fn note_failure(&mut self, key: CounterKey) {
        self.counters.last_failure.insert(key, self.now);
        self.schedule_counter_reset();
    }

    fn schedule_counter_reset(&mut self) {
        let after = self.cfg.cluster.counter_reset_after_ms;
        if let Some(t) = self.counters.last_failure.values().min() {
            self.set_timer(Timer::CounterReset, t.saturating_add(after));
        }
    }

    /// B58, B85: counters reset after `counter_reset_after` without a new failure.
    pub(super) fn on_counter_reset(&mut self) {
        let after = self.cfg.cluster.counter_reset_after_ms;
        let now = self.now;
        let expired: Vec<CounterKey> = self
            .counters
            .last_failure
            .iter()
            .filter(|(_, t)| t.saturating_add(after) <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.counters.last_failure.remove(&k);
            self.counters.failovers.remove(&k);
            let mut e = Event::new(EventKind::RecoveryCountersReset);
            match k {
                CounterKey::Monitor(m) => {
                    self.counters.reactivations.remove(&m);
                    e = e.monitor(m);
                }
                CounterKey::Resource(r) => e = e.resource(r),
            }
            self.emit(e.because(None, "counter_reset_after passed without a new failure (B85)"));
            self.mark_dirty();
        }
        self.schedule_counter_reset();
    }

    /// Records a fault of `g` on this server (B52).
    pub(super) fn record_fault(&mut self, g: GroupId) {
        self.faults.insert(g, self.now);
        self.mark_dirty();
    }

    // ---- activation (B70, B71) ------------------------------------------------------

    pub(super) fn activation_ladder(&mut self, g: GroupId, pos: usize) {
        let r = self.cfg.group(g).resources[pos];
        let policy = self.cfg.resource(r).activation;
        let key = CounterKey::Resource(r);
        self.note_failure(key);
        // A reactivation (B83.3) whose start failed did not complete.
        // The partial restart is over: from here the whole group is what the ladder moves.
        match std::mem::replace(&mut self.groups[g.idx()].reactivation, Reactivation::None) {
            Reactivation::None | Reactivation::Resources { target: None } => {}
            Reactivation::Resources { target: Some(target) } => {
                self.emit(Event::new(EventKind::ResourceRestartFailed).group(g).resource(target));
                self.emit(
                    Event::new(EventKind::RecoveryFailed)
                        .group(g)
                        .resource(target)
                        .reason("the reactivation's start failed"),
                );
            }
            Reactivation::Group => {
                self.emit(Event::new(EventKind::GroupRestartFailed).group(g));
                self.emit(
                    Event::new(EventKind::RecoveryFailed).group(g).reason("the group reactivation's start failed"),
                );
            }
        }
        let rr = &mut self.groups[g.idx()].res[pos];
        if rr.act_retries < policy.retries {
            rr.act_retries += 1;
            let n = rr.act_retries;
            self.emit(
                Event::new(EventKind::ResourceActivationRetry)
                    .group(g)
                    .resource(r)
                    .reason(format!("retry {n} of {}", policy.retries)),
            );
            self.step_start(g);
            return;
        }
        let count = self.failover_count(key);
        let target = self.placement_view().target(&self.cfg, g, Some(self.me));
        if let Some(to) = target.filter(|_| count < policy.failovers) {
            *self.counters.failovers.entry(key).or_insert(0) += 1;
            self.mark_dirty();
            self.stop_group(
                g,
                ClpFactor::GroupFailover,
                AfterStop::HandOver { to, kind: StartKind::ActivationFailover },
            );
            return;
        }
        let rule = format!("retries {} spent; failovers {count} of {}", policy.retries, policy.failovers);
        self.emit(
            Event::new(EventKind::ActivationFinalAction)
                .group(g)
                .resource(r)
                .reason(crate::config::final_action_name(policy.final_action))
                .because(Some(EventKind::ResourceActivationFailed), rule),
        );
        self.resource_final_action(g, pos, policy.final_action);
    }

    fn resource_final_action(&mut self, g: GroupId, pos: usize, action: FinalAction) {
        match action {
            FinalAction::None => self.start_failed(g, pos),
            FinalAction::Ignore => self.ignore_resource(g, pos),
            FinalAction::StopGroup => {
                self.groups[g.idx()].res[pos].state = ResState::Offline;
                self.stop_group(g, ClpFactor::GroupStop, AfterStop::Nothing);
            }
            FinalAction::StopService
            | FinalAction::StopServiceAndShutdown
            | FinalAction::StopServiceAndReboot
            | FinalAction::EmergencyShutdown
            | FinalAction::EmergencyReboot
            | FinalAction::Panic => {
                // The group is left part-started; the departure stops what is online.
                self.groups[g.idx()].res[pos].state = ResState::Failed;
                self.groups[g.idx()].state = GroupState::Error;
                self.groups[g.idx()].op = super::group::Op::Idle;
                self.server_final_action(action, "activation final action (B71)");
            }
        }
    }

    // ---- deactivation (B72) ---------------------------------------------------------

    pub(super) fn deactivation_ladder(&mut self, g: GroupId, pos: usize) {
        let r = self.cfg.group(g).resources[pos];
        let policy = self.cfg.resource(r).deactivation;
        let rr = &mut self.groups[g.idx()].res[pos];
        if rr.deact_retries < policy.retries {
            rr.deact_retries += 1;
            let n = rr.deact_retries;
            self.emit(
                Event::new(EventKind::ResourceDeactivationRetry)
                    .group(g)
                    .resource(r)
                    .reason(format!("retry {n} of {}", policy.retries)),
            );
            self.step_stop(g);
            return;
        }
        self.emit(
            Event::new(EventKind::DeactivationFinalAction)
                .group(g)
                .resource(r)
                .reason(crate::config::final_action_name(policy.final_action))
                .because(Some(EventKind::ResourceDeactivationFailed), format!("retries {} spent", policy.retries)),
        );
        match policy.final_action {
            FinalAction::None | FinalAction::Ignore | FinalAction::StopGroup => self.stop_failed(g),
            FinalAction::StopService
            | FinalAction::StopServiceAndShutdown
            | FinalAction::StopServiceAndReboot
            | FinalAction::EmergencyShutdown
            | FinalAction::EmergencyReboot
            | FinalAction::Panic => {
                // The power action will release it: the stop carries on past it, and a
                // move or failover in progress is abandoned: the group fails over after
                // the departure like every group of the leaving server (B72, B55).
                self.groups[g.idx()].res[pos].state = ResState::Offline;
                if let super::group::Op::Stopping { after, .. } = &mut self.groups[g.idx()].op {
                    *after = AfterStop::Nothing;
                }
                self.server_final_action(policy.final_action, "deactivation final action (B72)");
                match &self.phase {
                    // The departure stops every group (B15, B71), but not yet one that a
                    // group started after it still runs on (B54). A resource restart's
                    // partial stop left to run on would end with the group `online`, its
                    // restarted resources offline and no start to follow (generated seeds
                    // 2568, 12029); stopped whole at once it would stop before the group
                    // naming it (B54). Its stop failed: the group is in `error` like under
                    // final action `none` (B72), its resource still counted online, and
                    // the departure stops it in B54 order (B71 then ignores a second
                    // failure; peers take it over, B55).
                    Phase::Leaving(_) if self.groups[g.idx()].restarting_resources() => {
                        self.groups[g.idx()].res[pos].state = ResState::Online;
                        self.stop_failed(g);
                    }
                    Phase::Gone => {}
                    Phase::Off | Phase::Syncing { .. } | Phase::Member | Phase::Suspended | Phase::Leaving(_) => {
                        self.step_stop(g)
                    }
                }
            }
        }
    }

    // ---- monitors (B83, B84) ---------------------------------------------------------

    /// Groups concerned by a recovery target on this server.
    fn target_groups(&self, target: RecoveryTarget) -> Vec<GroupId> {
        match target {
            RecoveryTarget::Resource(r) => vec![self.cfg.resource(r).group],
            RecoveryTarget::Group(g) => vec![g],
            RecoveryTarget::AllGroups => {
                self.cfg.group_ids().filter(|g| self.groups[g.idx()].state == GroupState::Online).collect()
            }
            RecoveryTarget::LocalServer => Vec::new(),
        }
    }

    fn target_online(&self, target: RecoveryTarget) -> bool {
        match target {
            RecoveryTarget::Resource(r) => {
                self.res_state(r) == ResState::Online
                    && self.groups[self.cfg.resource(r).group.idx()].state == GroupState::Online
            }
            RecoveryTarget::Group(g) => self.groups[g.idx()].state == GroupState::Online,
            RecoveryTarget::AllGroups => self.cfg.group_ids().any(|g| self.groups[g.idx()].state == GroupState::Online),
            RecoveryTarget::LocalServer => true,
        }
    }

    /// The recovery ladder after `monitor-error` (B83).
    pub(super) fn monitor_recovery(&mut self, m: MonId) {
        let mon = self.cfg.monitor(m).clone();
        let key = CounterKey::Monitor(m);
        // B85: every error of the monitor holds off the counter reset, even one that
        // takes no step (skipped, or after the final action).
        self.note_failure(key);
        for g in self.target_groups(mon.recovery_target) {
            self.record_fault(g);
        }
        if !self.target_online(mon.recovery_target) {
            self.emit(
                Event::new(EventKind::RecoverySkipped)
                    .monitor(m)
                    .because(Some(EventKind::MonitorError), "the recovery target is not online here (B83.1)"),
            );
            return;
        }
        if self.counters.final_done.contains(&m) {
            return; // B84: the final action already ran for this fault
        }
        if mon.recovery_target == RecoveryTarget::LocalServer {
            self.monitor_final_action(m, "recovery_target = local-server (B83.2)".into());
            return;
        }
        let done = self.counters.reactivations.get(&m).copied().unwrap_or(0);
        if done < mon.reactivations {
            self.counters.reactivations.insert(m, done + 1);
            let rule = format!("reactivation {} of {} (B83.3)", done + 1, mon.reactivations);
            self.emit(
                Event::new(EventKind::RecoveryReactivate)
                    .monitor(m)
                    .reason(format!("count {}", done + 1))
                    .because(Some(EventKind::MonitorError), rule),
            );
            self.reactivate(mon.recovery_target);
            return;
        }
        let count = self.failover_count(key);
        if count < mon.failovers {
            let groups = self.target_groups(mon.recovery_target);
            let view = self.placement_view();
            let has_target = groups.iter().any(|g| view.target(&self.cfg, *g, Some(self.me)).is_some());
            if has_target {
                *self.counters.failovers.entry(key).or_insert(0) += 1;
                self.mark_dirty();
                let rule = format!(
                    "reactivations {done} of {} spent; failover {} of {} (B83.4)",
                    mon.reactivations,
                    count + 1,
                    mon.failovers
                );
                self.emit(
                    Event::new(EventKind::RecoveryFailover)
                        .monitor(m)
                        .reason(format!("count {}", count + 1))
                        .because(Some(EventKind::MonitorError), rule),
                );
                for g in groups {
                    self.stop_group(g, ClpFactor::GroupFailover, AfterStop::MonitorFailover);
                }
                return;
            }
            for g in groups {
                self.emit(
                    Event::new(EventKind::GroupNoTarget)
                        .group(g)
                        .because(Some(EventKind::MonitorError), "no eligible server for the failover (B83.4)"),
                );
            }
        }
        let rule = format!(
            "reactivations {done} of {}, failovers {count} of {} spent (B83.5)",
            mon.reactivations, mon.failovers
        );
        self.monitor_final_action(m, rule);
    }

    fn monitor_final_action(&mut self, m: MonId, rule: String) {
        let mon = self.cfg.monitor(m).clone();
        self.counters.final_done.insert(m);
        self.emit(
            Event::new(EventKind::RecoveryFinalAction)
                .monitor(m)
                .reason(crate::config::final_action_name(mon.final_action))
                .because(Some(EventKind::MonitorError), rule),
        );
        match mon.final_action {
            FinalAction::None | FinalAction::Ignore => {}
            FinalAction::StopGroup => {
                for g in self.target_groups(mon.recovery_target) {
                    self.stop_group(g, ClpFactor::GroupStop, AfterStop::Nothing);
                }
            }
            FinalAction::StopService
            | FinalAction::StopServiceAndShutdown
            | FinalAction::StopServiceAndReboot
            | FinalAction::EmergencyShutdown
            | FinalAction::EmergencyReboot
            | FinalAction::Panic => {
                self.server_final_action(mon.final_action, "monitor final action (B83.5)");
            }
        }
    }

    /// B83.3: restart the recovery target in place.
    fn reactivate(&mut self, target: RecoveryTarget) {
        match target {
            RecoveryTarget::Resource(r) => {
                let (g, _) = self.res_pos(r);
                let mask = self.dependants_mask(r);
                self.emit(Event::new(EventKind::ResourceRestarting).group(g).resource(r));
                self.groups[g.idx()].reactivation = Reactivation::Resources { target: Some(r) };
                self.stop_resources(g, ClpFactor::ResourceRestart, mask, AfterStop::ResourceRestart);
            }
            RecoveryTarget::Group(_) | RecoveryTarget::AllGroups => {
                for g in self.target_groups(target) {
                    self.emit(Event::new(EventKind::GroupRestarting).group(g));
                    self.stop_group(g, ClpFactor::GroupRestart, AfterStop::GroupRestart);
                }
            }
            RecoveryTarget::LocalServer => {}
        }
    }

    /// Events at the end of a start that completed a reactivation.
    pub(super) fn on_group_restart_done(&mut self, g: GroupId) {
        let lg = &mut self.groups[g.idx()];
        if lg.reactivation == Reactivation::Group {
            lg.reactivation = Reactivation::None;
            self.emit(Event::new(EventKind::GroupRestarted).group(g));
        }
    }

    /// A resource came online: ends a resource reactivation.
    pub(super) fn on_resource_online(&mut self, r: ResId) {
        let g = self.cfg.resource(r).group;
        let lg = &mut self.groups[g.idx()];
        if lg.reactivation == (Reactivation::Resources { target: Some(r) }) {
            lg.reactivation = Reactivation::Resources { target: None };
            self.emit(Event::new(EventKind::ResourceRestarted).group(g).resource(r));
        }
        self.mirror_on_online(r);
    }
}
