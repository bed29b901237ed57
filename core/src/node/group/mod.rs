//! Group lifecycle on this server (B60–B68): start, stop, move and handover, and the
//! resource order inside a group (one resource at a time, dependencies first on start,
//! dependants first on stop).
//!
//! In: decisions to start (placement, commands, `StartGroup` messages), stop or move a
//! group; activation and deactivation results. Out: `Activate`/`Deactivate`/`RecoverRun`
//! actions with their `CLP_*` environments, group and resource events, handovers to the
//! next server, and failures into the ladders of `recovery`.

mod handover;
mod recover;
mod stop;

use super::{Node, Pending};
use crate::config::{GroupId, Ms, ResId, ResourceKind, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{Action, ActionResult, GroupState, StartKind};
use crate::script::{ClpEvent, ClpFactor, ScriptEnv};

/// A resource's state on this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ResState {
    Offline,
    Activating,
    Online,
    Deactivating,
    /// Activation failed and stopped there (final action `none`, B71).
    Failed,
    /// Activation failed and was skipped (final action `ignore`, B71).
    Ignored,
}

#[derive(Clone, Debug)]
pub(super) struct ResRun {
    pub state: ResState,
    /// The environment of the start that activated it (echoed by its stop, B94).
    pub env: Option<ScriptEnv>,
    pub act_retries: u32,
    pub deact_retries: u32,
}

/// What happens once a stop completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AfterStop {
    Nothing,
    /// Start on `to` (move, failback, activation failover).
    HandOver {
        to: ServerId,
        kind: StartKind,
    },
    /// Monitor failover: RECOVER run here, then start on a target chosen then (B83.4).
    MonitorFailover,
    /// Group reactivation: RECOVER run, then start here again (B83.3).
    GroupRestart,
    /// Resource reactivation: start the stopped resources again (B83.3).
    ResourceRestart,
}

/// What happens once RECOVER runs complete (B93).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AfterRecover {
    /// Return: count down, then failbacks (B25).
    Return,
    MonitorFailover,
    GroupRestart,
}

#[derive(Clone, Debug)]
pub(super) enum Op {
    Idle,
    Starting,
    /// Stopping the resources of `mask` (bit = position in the group).
    Stopping {
        factor: ClpFactor,
        mask: u64,
        after: AfterStop,
    },
    Recovering {
        queue: Vec<ResId>,
        after: AfterRecover,
    },
}

/// A reactivation in place (B83.3) of a group running here: one record, so that a
/// reactivated resource without a restart, or a group and a resource reactivation at
/// once, cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reactivation {
    None,
    /// Some resources stop and start again while the group stays online; `target` is the
    /// resource reactivated until it is back online (`resource-restarted`), the rest of
    /// the restart's start may still be running after it.
    Resources {
        target: Option<ResId>,
    },
    /// A group reactivation's start is running (`group-restarted` at its end).
    Group,
}

/// A group as this server runs it.
#[derive(Clone, Debug)]
pub(super) struct LocalGroup {
    pub state: GroupState,
    pub res: Vec<ResRun>,
    pub op: Op,
    /// Why the current run started (events at completion) and its `CLP_EVENT`.
    pub kind: StartKind,
    pub event: ClpEvent,
    /// Start of the group's fault epoch for `stable` placement (B52).
    pub epoch_ms: Ms,
    /// Whether a disk-class resource failed to activate (ignored), for `CLP_DISK`.
    pub disk_failed: bool,
    pub reactivation: Reactivation,
}

impl LocalGroup {
    pub fn new(resources: usize) -> LocalGroup {
        LocalGroup {
            state: GroupState::Offline,
            res: vec![ResRun { state: ResState::Offline, env: None, act_retries: 0, deact_retries: 0 }; resources],
            op: Op::Idle,
            kind: StartKind::Command,
            event: ClpEvent::Start,
            epoch_ms: 0,
            disk_failed: false,
            reactivation: Reactivation::None,
        }
    }

    /// A partial restart of some resources (B83.3) is in progress: the group stays online.
    pub fn restarting_resources(&self) -> bool {
        matches!(self.reactivation, Reactivation::Resources { .. })
    }

    /// Ends a resource reactivation (a whole-group stop or start supersedes it); a group
    /// reactivation's record stays, its start's end or failure reports it.
    pub fn end_resource_restart(&mut self) {
        if self.restarting_resources() {
            self.reactivation = Reactivation::None;
        }
    }

    /// Stopped here for a monitor failover or a group reactivation whose RECOVER run
    /// (B83.3, B83.4, B93) is still going: the group is offline here but on its way to
    /// a start, which belongs to this server until it is sent.
    pub fn in_recover_window(&self) -> bool {
        match &self.op {
            Op::Recovering { after, .. } => match after {
                AfterRecover::MonitorFailover | AfterRecover::GroupRestart => self.state == GroupState::Offline,
                AfterRecover::Return => false,
            },
            Op::Idle | Op::Starting | Op::Stopping { .. } => false,
        }
    }

    fn busy(&self) -> bool {
        self.res.iter().any(|r| matches!(r.state, ResState::Activating | ResState::Deactivating))
    }
}

impl Node {
    fn group_res(&self, g: GroupId, pos: usize) -> ResId {
        self.cfg.group(g).resources[pos]
    }

    fn pos_of(&self, g: GroupId, r: ResId) -> usize {
        self.cfg.group(g).resources.iter().position(|x| *x == r).expect("resource of group")
    }

    /// The fault epoch to carry with a start of `g` (B52).
    pub(super) fn group_epoch(&self, g: GroupId) -> Ms {
        self.groups[g.idx()].epoch_ms
    }

    /// `StartGroup` from a coordinator, a source handing over, or a command taker.
    pub(super) fn on_start_group_msg(&mut self, from: ServerId, g: GroupId, kind: StartKind, epoch_ms: Ms) {
        if !self.phase.is_member() {
            self.emit(
                Event::new(EventKind::CommandFailed)
                    .group(g)
                    .reason("start refused: this server is not an online member"),
            );
            return;
        }
        let exclusive_here = self.cfg.group(g).exclusive
            && self
                .cfg
                .group_ids()
                .any(|o| o != g && self.cfg.group(o).exclusive && self.groups[o.idx()].state != GroupState::Offline);
        if exclusive_here {
            // B53: never two exclusive groups here, whatever the sender believed.
            self.emit(
                Event::new(EventKind::CommandFailed)
                    .group(g)
                    .reason("start refused: another exclusive group runs here (B53)"),
            );
            return;
        }
        let held_elsewhere = self.holders(g).into_iter().any(|s| s != from && s != self.me);
        if held_elsewhere || self.groups[g.idx()].state != GroupState::Offline {
            // Only activate when no live peer reports holding it (architecture).
            self.emit(
                Event::new(EventKind::CommandFailed)
                    .group(g)
                    .reason("start refused: the group is held by another server"),
            );
            return;
        }
        // The sender released the group (B65, B70, B83.4) or never held it: the state
        // saying so leaves it after this message (a node shares its state at the end
        // of the input), so its last state must not count it as a holder here, or a
        // mirror would be refused as "online on another server" (B106; generated seed
        // 23638: a failed activation's failover ended in a stop-service final action).
        self.peers[from.idx()].shared.groups.retain(|(id, _)| *id != g);
        self.begin_start(g, kind, epoch_ms);
    }

    /// Starts `g` here (B63).
    pub(super) fn begin_start(&mut self, g: GroupId, kind: StartKind, epoch_ms: Ms) {
        if !self.start_after_met(g) {
            // B54 in this server's view (a sender or an earlier decision may have seen
            // the named groups online): the start is pending, shared with the peers.
            self.defer_start(g, kind);
            return;
        }
        assert_eq!(self.groups[g.idx()].state, GroupState::Offline, "start of a group that is not offline");
        let event = match kind {
            StartKind::ClusterStart => self.cluster_start_event(g),
            StartKind::Command | StartKind::Move | StartKind::Failback => ClpEvent::Start,
            StartKind::ServerFailover | StartKind::ActivationFailover | StartKind::MonitorFailover => {
                ClpEvent::Failover
            }
        };
        let lg = &mut self.groups[g.idx()];
        // A start here (a takeover, a command) during the RECOVER runs of a return (B25)
        // ends them for this group: count it done, or the failbacks that wait for the
        // count to reach zero (B57) never come for the rest of the run.
        let ends_return = matches!(lg.op, Op::Recovering { after: AfterRecover::Return, .. });
        lg.state = GroupState::Starting;
        lg.op = Op::Starting;
        lg.kind = kind;
        lg.event = event;
        lg.disk_failed = false;
        lg.end_resource_restart();
        lg.epoch_ms = match kind {
            StartKind::ClusterStart | StartKind::Command => self.now,
            StartKind::Move
            | StartKind::Failback
            | StartKind::ServerFailover
            | StartKind::ActivationFailover
            | StartKind::MonitorFailover => epoch_ms,
        };
        let epoch = lg.epoch_ms;
        let e = self.epochs.entry(g).or_insert(0);
        *e = (*e).max(epoch);
        let lg = &mut self.groups[g.idx()];
        for r in &mut lg.res {
            r.act_retries = 0;
            r.deact_retries = 0;
            if r.state == ResState::Ignored || r.state == ResState::Failed {
                r.state = ResState::Offline;
            }
        }
        self.emit(Event::new(EventKind::GroupStarting).group(g));
        match kind {
            StartKind::ServerFailover | StartKind::ActivationFailover | StartKind::MonitorFailover => {
                self.emit(Event::new(EventKind::GroupFailover).group(g).because(None, failover_rule(kind)));
            }
            StartKind::ClusterStart | StartKind::Command | StartKind::Move | StartKind::Failback => {}
        }
        self.mark_dirty();
        self.step_start(g);
        if ends_return {
            self.after_recover(g, AfterRecover::Return);
        }
    }

    /// Activates the next resource whose dependencies are online, or completes the start.
    pub(super) fn step_start(&mut self, g: GroupId) {
        let lg = &self.groups[g.idx()];
        if lg.busy() || !matches!(lg.op, Op::Starting) {
            return;
        }
        let grp = self.cfg.group(g);
        let ready = |r: ResId| {
            let p = grp.resources.iter().position(|x| *x == r).expect("dependency in group");
            matches!(lg.res[p].state, ResState::Online | ResState::Ignored)
        };
        let next = (0..grp.resources.len()).find(|p| {
            lg.res[*p].state == ResState::Offline
                && self.cfg.resource(grp.resources[*p]).depends_on.iter().all(|d| ready(*d))
        });
        match next {
            Some(pos) => self.activate(g, pos),
            None => {
                let complete = lg.res.iter().all(|r| matches!(r.state, ResState::Online | ResState::Ignored));
                if complete {
                    self.finish_start(g);
                }
            }
        }
    }

    fn activate(&mut self, g: GroupId, pos: usize) {
        let r = self.group_res(g, pos);
        self.groups[g.idx()].res[pos].state = ResState::Activating;
        self.emit(Event::new(EventKind::ResourceActivating).group(g).resource(r));
        if self.cfg.resource(r).kind.mirror().is_some() {
            if let Err(reason) = self.mirror_may_activate(r) {
                // B106: refused before anything touches the device.
                self.emit(Event::new(EventKind::MirrorStaleRefused).resource(r).reason(reason.clone()));
                self.on_activated(g, pos, ActionResult::Failed(reason));
                return;
            }
        }
        if let Some(reason) = self.take_pseudo_activation_failure(r) {
            // `resource fail-activation` (issue 15): the driver is not run, so nothing
            // is left half-started behind the failure the ladder acts on.
            self.on_activated(g, pos, ActionResult::Failed(reason));
            return;
        }
        let env = self.start_env(g, r);
        if let Some(e) = &env {
            self.emit(Event::new(EventKind::ScriptStarted).group(g).resource(r).reason(env_text(e)));
        }
        let timeout = self.cfg.resource(r).timeout_ms;
        let script = env.is_some();
        let id = self.execute(Action::Activate { res: r, env }, Pending::Activate { group: g, pos }, Some(timeout));
        self.watch_script(id, script);
    }

    /// Arms the `script-slow` report of an exec script run.
    fn watch_script(&mut self, id: crate::io::ActionId, script: bool) {
        if script {
            self.set_timer(crate::io::Timer::ScriptSlow(id), self.now + SCRIPT_SLOW_MS);
        }
    }

    /// `script-slow`: the run is still going 3 minutes after it began (once per run).
    pub(super) fn on_script_slow(&mut self, id: crate::io::ActionId) {
        let (group, res) = match self.pending.get(&id) {
            Some(p @ (Pending::Activate { group, .. } | Pending::Deactivate { group, .. })) => {
                (*group, self.pending_res(p))
            }
            Some(Pending::Recover { group }) => (*group, None),
            Some(
                Pending::NpProbe { .. }
                | Pending::AddressProbe { .. }
                | Pending::MonitorCheck { .. }
                | Pending::MirrorCopy { .. }
                | Pending::Power,
            )
            | None => return,
        };
        let mut e = Event::new(EventKind::ScriptSlow).group(group).reason("running for 3 minutes");
        if let Some(r) = res {
            e = e.resource(r);
        }
        self.emit(e);
    }

    /// The start environment for an exec resource of `g` (B91, B92).
    fn start_env(&self, g: GroupId, r: ResId) -> Option<ScriptEnv> {
        match self.cfg.resource(r).kind {
            ResourceKind::Exec { .. } => {
                let lg = &self.groups[g.idx()];
                let rank = self.cfg.rank(g, self.me).unwrap_or(1);
                Some(ScriptEnv::start(
                    lg.event,
                    rank,
                    !lg.disk_failed,
                    &self.cfg.group(g).name,
                    &self.cfg.resource(r).name,
                ))
            }
            ResourceKind::FloatingIp { .. }
            | ResourceKind::VirtualIp { .. }
            | ResourceKind::Service { .. }
            | ResourceKind::Disk { .. }
            | ResourceKind::MirrorDisk(_)
            | ResourceKind::HybridDisk(_) => None,
        }
    }

    pub(super) fn on_activated(&mut self, g: GroupId, pos: usize, result: ActionResult) {
        let r = self.group_res(g, pos);
        let is_exec = matches!(self.cfg.resource(r).kind, ResourceKind::Exec { .. });
        match result {
            ActionResult::Ok | ActionResult::Probe(_) | ActionResult::Check { .. } => {
                let env = self.start_env(g, r);
                let rr = &mut self.groups[g.idx()].res[pos];
                rr.state = ResState::Online;
                rr.env = env;
                if is_exec {
                    self.emit(Event::new(EventKind::ScriptDone).group(g).resource(r));
                }
                self.emit(Event::new(EventKind::ResourceOnline).group(g).resource(r));
                self.on_resource_online(r);
                self.step_op(g);
            }
            ActionResult::Failed(reason) => {
                self.groups[g.idx()].res[pos].state = ResState::Offline;
                if is_exec {
                    self.emit(Event::new(EventKind::ScriptFailed).group(g).resource(r).reason(reason.clone()));
                }
                self.emit(Event::new(EventKind::ResourceActivationFailed).group(g).resource(r).reason(reason));
                self.record_fault(g);
                if matches!(self.groups[g.idx()].op, Op::Stopping { .. }) {
                    // A stop (`group stop`/`move`, server shutdown, a final action: B64,
                    // B65, B68, B122) superseded the start this activation belonged to
                    // (a resource reactivation, B83.3). Nobody wants that start any more:
                    // no retry or failover (B70), the stop carries on.
                    self.step_stop(g);
                    return;
                }
                self.activation_ladder(g, pos);
            }
        }
    }

    /// Carries on with the group's operation once a resource action has ended. A stop
    /// may have replaced the start while an activation ran (a `group stop`, `group
    /// move` or server shutdown during a resource reactivation, B83.3 with B64, B65,
    /// B68): the stop waited for that activation and must go on from here, or the
    /// group stays `stopping` for good.
    fn step_op(&mut self, g: GroupId) {
        match self.groups[g.idx()].op {
            Op::Starting => self.step_start(g),
            Op::Stopping { .. } => self.step_stop(g),
            Op::Idle | Op::Recovering { .. } => {}
        }
    }

    fn finish_start(&mut self, g: GroupId) {
        let lg = &mut self.groups[g.idx()];
        let restarting = lg.restarting_resources();
        lg.end_resource_restart();
        lg.state = GroupState::Online;
        lg.op = Op::Idle;
        let kind = lg.kind;
        self.mark_dirty();
        if restarting {
            return; // a resource reactivation finished (events in `recovery`)
        }
        self.emit(Event::new(EventKind::GroupOnline).group(g));
        match kind {
            StartKind::ServerFailover | StartKind::ActivationFailover | StartKind::MonitorFailover => {
                self.emit(Event::new(EventKind::GroupFailoverDone).group(g));
            }
            StartKind::Move | StartKind::Failback => self.emit(Event::new(EventKind::GroupMoved).group(g)),
            StartKind::ClusterStart | StartKind::Command => {}
        }
        self.on_group_restart_done(g);
    }

    /// Marks a failed start as `error` (final action `none`, B71).
    pub(super) fn start_failed(&mut self, g: GroupId, pos: usize) {
        let lg = &mut self.groups[g.idx()];
        lg.res[pos].state = ResState::Failed;
        lg.state = GroupState::Error;
        lg.op = Op::Idle;
        let kind = lg.kind;
        self.emit(Event::new(EventKind::GroupStartFailed).group(g));
        match kind {
            StartKind::ServerFailover | StartKind::ActivationFailover | StartKind::MonitorFailover => {
                self.emit(Event::new(EventKind::GroupFailoverFailed).group(g));
            }
            StartKind::Move | StartKind::Failback => self.emit(Event::new(EventKind::GroupMoveFailed).group(g)),
            StartKind::ClusterStart | StartKind::Command => {}
        }
        self.mark_dirty();
    }

    /// Final action `ignore`: skip the resource and carry on (B71).
    pub(super) fn ignore_resource(&mut self, g: GroupId, pos: usize) {
        let r = self.group_res(g, pos);
        let disk = self.cfg.resource(r).kind.order_class() == 2;
        let lg = &mut self.groups[g.idx()];
        lg.res[pos].state = ResState::Ignored;
        lg.disk_failed |= disk;
        self.emit(Event::new(EventKind::ResourceActivationIgnored).group(g).resource(r));
        self.step_start(g);
    }

    pub(super) fn res_state(&self, r: ResId) -> ResState {
        let g = self.cfg.resource(r).group;
        self.groups[g.idx()].res[self.pos_of(g, r)].state
    }

    pub(super) fn res_pos(&self, r: ResId) -> (GroupId, usize) {
        let g = self.cfg.resource(r).group;
        (g, self.pos_of(g, r))
    }

    /// Positions of `r` and every resource that depends on it, transitively.
    pub(super) fn dependants_mask(&self, r: ResId) -> u64 {
        let g = self.cfg.resource(r).group;
        let grp = self.cfg.group(g);
        let mut mask = 1u64 << self.pos_of(g, r);
        loop {
            let before = mask;
            for (q, rq) in grp.resources.iter().enumerate() {
                let deps = &self.cfg.resource(*rq).depends_on;
                if deps.iter().any(|d| mask & (1 << self.pos_of(g, *d)) != 0) {
                    mask |= 1 << q;
                }
            }
            if mask == before {
                return mask;
            }
        }
    }
}

/// When a still-running exec script is reported slow (catalogue event 518).
const SCRIPT_SLOW_MS: Ms = 180_000;

fn failover_rule(kind: StartKind) -> &'static str {
    match kind {
        StartKind::ServerFailover => "its server was judged down or departed (B55)",
        StartKind::ActivationFailover => "activation failed; failover threshold not reached (B70)",
        StartKind::MonitorFailover => "monitor error; reactivations spent, failover threshold not reached (B83)",
        StartKind::ClusterStart | StartKind::Command | StartKind::Move | StartKind::Failback => "",
    }
}

/// `KEY=VALUE ...` of an environment, for events.
pub(super) fn env_text(e: &ScriptEnv) -> String {
    e.vars().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}
