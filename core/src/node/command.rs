//! Operator commands on this server (B120–B123): preconditions, acceptance or refusal,
//! and routing to the server that must act; cluster-wide operations (stop, shutdown,
//! suspend, resume) as every server carries them out.
//!
//! In: `Input::Command`, forwarded commands, `ClusterOp` messages, OS shutdown. Out:
//! `command-accepted`/`command-refused` with a reply, forwards and `StartGroup`/
//! `MoveGroup` messages, and the local effects.

use super::fence::Phase;
use super::group::AfterStop;
use super::Node;
use crate::command::Command;
use crate::config::{GroupId, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{ClusterOp, CommandId, GroupState, Message, Output, PowerAction, ServerState, StartKind};
use crate::script::ClpFactor;

impl Node {
    pub(super) fn on_command(&mut self, id: CommandId, cmd: Command) {
        match self.check_command(&cmd) {
            Err(reason) => {
                self.emit(Event::new(EventKind::CommandRefused).reason(format!("{}: {reason}", cmd.words(&self.cfg))));
                self.out.push(Output::Reply { id, result: Err(reason) });
            }
            Ok(action) => {
                self.emit(Event::new(EventKind::CommandAccepted).reason(cmd.words(&self.cfg)));
                self.out.push(Output::Reply { id, result: Ok(()) });
                self.carry_out(action);
            }
        }
    }

    fn state_of(&self, s: ServerId) -> ServerState {
        if s == self.me {
            self.phase.reported()
        } else {
            self.peers[s.idx()].state
        }
    }

    /// Checks B121 and the preconditions of B122; returns what to do.
    fn check_command(&self, cmd: &Command) -> Result<Routed, String> {
        if !self.phase.is_running() {
            return Err("the cluster service is not running on this server".into());
        }
        if self.phase.is_suspended() && !matches!(cmd, Command::ServerReturn { .. }) {
            return Err("this server is suspended: only `server return` is accepted".into());
        }
        if self.cluster_suspended && !matches!(cmd, Command::ClusterResume { .. }) {
            return Err("cluster is suspended: only `cluster resume` is accepted".into());
        }
        if matches!(self.phase, Phase::Leaving(_)) {
            return Err("this server is leaving the cluster".into());
        }
        match cmd {
            Command::ClusterStart => Err("the cluster service is already running on this server".into()),
            Command::ClusterStop => Ok(Routed::Cluster(ClusterOp::Stop)),
            Command::ClusterShutdown { reboot } => Ok(Routed::Cluster(ClusterOp::Shutdown { reboot: *reboot })),
            Command::ClusterSuspend { force } => {
                if !*force {
                    if let Some(s) = self.cfg.server_ids().find(|s| !self.is_member(*s)) {
                        return Err(format!(
                            "server {} is not online (use --force to suspend the online ones)",
                            self.cfg.server(s).name
                        ));
                    }
                }
                let busy = self.cfg.group_ids().find(|g| {
                    self.cfg
                        .server_ids()
                        .any(|s| matches!(self.group_state_on(*g, s), GroupState::Starting | GroupState::Stopping))
                });
                match busy {
                    Some(g) => Err(format!("group {} is starting, stopping or moving", self.cfg.group(g).name)),
                    None => Ok(Routed::Cluster(ClusterOp::Suspend)),
                }
            }
            Command::ClusterResume { force: false } if self.cluster_suspended => Ok(Routed::Cluster(ClusterOp::Resume)),
            Command::ClusterResume { force: false } => Err("cluster is not suspended".into()),
            Command::ClusterResume { force: true } => {
                // X1: the operator's word that the servers that never confirmed are gone.
                if !self.cluster_suspended && self.unconfirmed_peers().iter().all(|(_, op, _)| *op != "resume") {
                    return Err("cluster is not suspended and every server confirmed the resume".into());
                }
                let running: Vec<ServerId> = self.cfg.server_ids().filter(|s| self.is_running(*s)).collect();
                Ok(Routed::ForceResume(running, cmd.clone()))
            }
            Command::ServerShutdown { server, .. } => {
                if !self.is_member(*server) {
                    return Err(format!("server {} is not online", self.cfg.server(*server).name));
                }
                Ok(Routed::Forward(*server, cmd.clone()))
            }
            Command::ServerReturn { server, force } => {
                self.check_return(*server, *force).map(|_| Routed::Forward(*server, cmd.clone()))
            }
            Command::GroupStart { group, on } => self.check_group_start(*group, *on),
            Command::GroupStop { group } => {
                let holder = self
                    .cfg
                    .server_ids()
                    .find(|s| matches!(self.group_state_on(*group, *s), GroupState::Online | GroupState::Error));
                match holder {
                    Some(h) => Ok(Routed::Forward(h, cmd.clone())),
                    None => Err(format!("group {} is not online or in error", self.cfg.group(*group).name)),
                }
            }
            Command::GroupMove { group, to } => self.check_group_move(*group, *to),
            Command::MirrorRebuild { mirror } => {
                let name = &self.cfg.resource(*mirror).name;
                let m = self.cfg.resource(*mirror).kind.mirror().expect("parsed as a mirror");
                if !m.sides.iter().all(|side| side.servers.iter().any(|s| self.is_member(*s))) {
                    return Err(format!("mirror {name}: both sides' servers must be online"));
                }
                if !self.mirror_connected(*mirror) {
                    return Err(format!("mirror {name}: the mirror connect is down"));
                }
                if self.mirror_status(*mirror) == super::MirrorStatus::Rebuilding {
                    return Err(format!("mirror {name}: a rebuild is already running"));
                }
                let (Some(src), Some(dst)) =
                    (self.latest_side_server(*mirror), self.mirror_behind_side_server(*mirror))
                else {
                    return Err(format!("mirror {name}: no side is behind, or the latest data cannot be determined"));
                };
                let g = self.cfg.resource(*mirror).group;
                if self.group_state_on(g, dst) != GroupState::Offline {
                    return Err(format!("mirror {name} is online on the side that is behind"));
                }
                Ok(Routed::Forward(src, cmd.clone()))
            }
            Command::MirrorForce { mirror, on } => {
                let name = &self.cfg.resource(*mirror).name;
                if !self.is_running(*on) {
                    return Err(format!("the service of {} is not running", self.cfg.server(*on).name));
                }
                let g = self.cfg.resource(*mirror).group;
                if !self.holders(g).is_empty() {
                    return Err(format!("mirror {name} is online"));
                }
                if self.mirror_status(*mirror) == super::MirrorStatus::Rebuilding {
                    return Err(format!("mirror {name}: a rebuild is running"));
                }
                Ok(Routed::Forward(*on, cmd.clone()))
            }
            Command::MonitorSuspend { monitor, on } | Command::MonitorResume { monitor, on } => {
                let suspend = matches!(cmd, Command::MonitorSuspend { .. });
                let targets: Vec<ServerId> = match on {
                    Some(s) => vec![*s],
                    None => self.cfg.monitor(*monitor).servers.clone(),
                };
                if targets.contains(&self.me) && self.monitors[monitor.idx()].suspended == suspend {
                    let word = if suspend { "already suspended" } else { "not suspended" };
                    return Err(format!("monitor {} is {word}", self.cfg.monitor(*monitor).name));
                }
                Ok(Routed::Many(targets, cmd.clone()))
            }
            Command::MonitorFail { .. } | Command::MonitorOk { .. } | Command::ResourceFailActivation { .. } => {
                self.check_pseudo_fault(cmd).map(|targets| Routed::Many(targets, cmd.clone()))
            }
        }
    }

    fn check_return(&self, s: ServerId, force: bool) -> Result<(), String> {
        let name = &self.cfg.server(s).name;
        if self.state_of(s) != ServerState::Suspended {
            return Err(format!("server {name} is not suspended"));
        }
        let someone_online = self.cfg.server_ids().any(|o| self.is_member(o));
        if !force && !someone_online {
            return Err("no server is online: use `server return --force` to form the cluster around one".into());
        }
        if force && someone_online {
            return Err("another server is online: use `server return` without --force".into());
        }
        if force {
            if let Some(m) = self.cfg.mirror_ids().find(|m| self.mirror_side_known_behind(*m, s)) {
                return Err(format!(
                    "server {name} holds a side of mirror {} that is known to be behind (B111)",
                    self.cfg.resource(m).name
                ));
            }
        }
        Ok(())
    }

    /// B111: a reachable side holds newer data than `s`'s side.
    fn mirror_side_known_behind(&self, m: crate::config::ResId, s: ServerId) -> bool {
        let in_mirror =
            self.cfg.resource(m).kind.mirror().is_some_and(|mm| mm.sides.iter().any(|sd| sd.servers.contains(&s)));
        in_mirror && !self.mirror_latest_on(m, s) && self.mirror_status(m) != super::MirrorStatus::Error
    }

    fn check_group_start(&self, g: GroupId, on: Option<ServerId>) -> Result<Routed, String> {
        let name = &self.cfg.group(g).name;
        let holders = self.holders(g);
        if !holders.is_empty() {
            // Where it runs and what the operator can do instead (issue 14).
            let at: Vec<String> = holders
                .iter()
                .map(|s| format!("{} on {}", state_word(self.group_state_on(g, *s)), self.cfg.server(*s).name))
                .collect();
            return Err(format!(
                "group {name} is not offline: {}; to move it: group move {name} --to SERVER; to restart it: \
                 group stop {name}, then group start {name}",
                at.join(", ")
            ));
        }
        // B83.3, B93: offline here only until its RECOVER run ends; the start that
        // follows is this server's, so a start elsewhere would run it twice (B1).
        if self.groups[g.idx()].in_recover_window() {
            return Err(format!(
                "group {name} is being recovered on {} (its RECOVER run is going; the group starts there when it \
                 ends); see baton status",
                self.cfg.server(self.me).name
            ));
        }
        if let Some(d) = self.cfg.group(g).start_after.iter().find(|d| !self.group_online_anywhere(**d)) {
            return Err(format!("group {name} starts after {}, which is not online", self.cfg.group(*d).name));
        }
        let view = self.placement_view();
        let target = match on {
            Some(s) if view.eligible(&self.cfg, g, s, None) => s,
            Some(s) => return Err(format!("server {} is not eligible for group {name}", self.cfg.server(s).name)),
            None => view.target(&self.cfg, g, None).ok_or_else(|| format!("no eligible server for group {name}"))?,
        };
        Ok(Routed::Start(g, target))
    }

    fn check_group_move(&self, g: GroupId, to: Option<ServerId>) -> Result<Routed, String> {
        let name = &self.cfg.group(g).name;
        let Some(current) = self.cfg.server_ids().find(|s| self.group_state_on(g, *s) == GroupState::Online) else {
            return Err(format!("group {name} is not online"));
        };
        // B54: the start on the target would wait, leaving the group offline.
        if let Some(d) = self.cfg.group(g).start_after.iter().find(|d| !self.group_online_anywhere(**d)) {
            return Err(format!("group {name} starts after {}, which is not online", self.cfg.group(*d).name));
        }
        let view = self.placement_view();
        let target = match to {
            Some(s) if s == current => {
                return Err(format!("group {name} is already online on {}", self.cfg.server(s).name))
            }
            Some(s) if view.eligible(&self.cfg, g, s, Some(current)) => s,
            Some(s) => return Err(format!("server {} is not eligible for group {name}", self.cfg.server(s).name)),
            None => view
                .target(&self.cfg, g, Some(current))
                .ok_or_else(|| format!("no eligible server for group {name} other than its own"))?,
        };
        Ok(Routed::Move(g, current, target))
    }

    fn carry_out(&mut self, r: Routed) {
        match r {
            Routed::Cluster(op) => {
                let peers: Vec<ServerId> = self.peer_ids().filter(|p| self.peers[p.idx()].may_hold()).collect();
                for p in peers {
                    self.send(p, Message::ClusterOp(op));
                }
                self.on_cluster_op(op);
            }
            Routed::ForceResume(servers, cmd) => {
                if self.cluster_suspended {
                    self.carry_out(Routed::Cluster(ClusterOp::Resume));
                }
                for s in servers {
                    self.forward(s, cmd.clone());
                }
            }
            Routed::Forward(s, cmd) => self.forward(s, cmd),
            Routed::Many(servers, cmd) => {
                for s in servers {
                    self.forward(s, cmd.clone());
                }
            }
            Routed::Start(g, target) => self.start_on(g, target, StartKind::Command, self.now),
            Routed::Move(g, current, target) => {
                self.track_transit(g, target);
                if current == self.me {
                    self.on_move_group_msg(g, target, false);
                } else {
                    self.send(current, Message::MoveGroup { group: g, to: target, failback: false });
                }
            }
        }
    }

    fn forward(&mut self, s: ServerId, cmd: Command) {
        if s == self.me {
            self.on_forwarded(self.me, cmd);
        } else {
            self.send(s, Message::Forward { cmd });
        }
    }

    /// Carries out an accepted command whose effect is on this server.
    pub(super) fn on_forwarded(&mut self, from: ServerId, cmd: Command) {
        match cmd {
            Command::ServerShutdown { reboot, .. } => self.begin_server_shutdown(reboot),
            Command::ServerReturn { force, .. } => {
                if self.phase.is_suspended() {
                    self.do_return(force);
                }
            }
            Command::GroupStop { group } => {
                if matches!(self.groups[group.idx()].state, GroupState::Online | GroupState::Error) {
                    self.stop_group(group, ClpFactor::GroupStop, AfterStop::Nothing);
                }
            }
            Command::MirrorRebuild { mirror } => {
                if let Some(dst) = self.mirror_behind_side_server(mirror) {
                    self.start_rebuild(mirror, dst);
                }
            }
            Command::MirrorForce { mirror, .. } => self.force_mirror(mirror),
            Command::MonitorSuspend { monitor, .. } => self.set_monitor_suspended(monitor, true),
            Command::MonitorResume { monitor, .. } => self.set_monitor_suspended(monitor, false),
            Command::MonitorFail { .. } | Command::MonitorOk { .. } | Command::ResourceFailActivation { .. } => {
                self.apply_pseudo_fault(from, &cmd)
            }
            Command::ClusterResume { force: true } => {
                if self.cluster_suspended {
                    self.on_cluster_op(ClusterOp::Resume);
                }
                self.force_resume_acks();
            }
            Command::ClusterStart
            | Command::ClusterStop
            | Command::ClusterShutdown { .. }
            | Command::ClusterSuspend { .. }
            | Command::ClusterResume { force: false }
            | Command::GroupStart { .. }
            | Command::GroupMove { .. } => {} // routed by messages of their own
        }
    }

    /// A cluster-wide operation, on every server (B67, B122).
    pub(super) fn on_cluster_op(&mut self, op: ClusterOp) {
        match op {
            ClusterOp::Stop | ClusterOp::Shutdown { .. } => {
                if self.cluster_stopping {
                    return;
                }
                self.cluster_stopping = true;
                let (event, power) = match op {
                    ClusterOp::Stop => (EventKind::ClusterStopping, PowerAction::CleanServiceStop),
                    ClusterOp::Shutdown { reboot: false } => (EventKind::ClusterShutdown, PowerAction::CleanPowerOff),
                    ClusterOp::Shutdown { reboot: true } => (EventKind::ClusterShutdown, PowerAction::CleanReboot),
                    ClusterOp::Suspend | ClusterOp::Resume => unreachable!("matched above"),
                };
                self.emit(Event::new(event));
                // B67/B92: record where every group is.
                self.persisted.stop_record = self
                    .cfg
                    .group_ids()
                    .filter_map(|g| {
                        self.cfg.server_ids().find(|s| self.group_state_on(g, *s) == GroupState::Online).map(|s| (g, s))
                    })
                    .collect();
                self.close_mirrors();
                self.emit(Event::new(EventKind::ServiceStopping));
                self.begin_leave(ClpFactor::ClusterShutdown, power, true);
            }
            ClusterOp::Suspend => {
                if !self.cluster_suspended {
                    self.suspend_epoch += 1;
                    self.cluster_suspended = true;
                    // Heartbeats and resolution stop once every peer confirmed (X1,
                    // `settle_acks`, at the end of this input): a verdict due during the
                    // suspension would judge peers that send no heartbeat (B20) and whose
                    // resolvers stopped; their loss is judged again after the resume.
                    self.await_acks(op);
                    self.emit(Event::new(EventKind::ClusterSuspended));
                    self.mark_dirty();
                }
            }
            ClusterOp::Resume => {
                if self.cluster_suspended {
                    let watched = self.watched_through_suspension();
                    self.suspend_epoch += 1;
                    self.cluster_suspended = false;
                    self.emit(Event::new(EventKind::ClusterResumed));
                    self.hear_everyone_now(&watched);
                    // X1: a peer that has not confirmed the resume is not judged.
                    self.await_acks(op);
                    self.mirror_connects_resumed();
                    self.start_np_watches();
                    self.mark_dirty();
                }
            }
        }
    }

    /// A peer has applied more suspends and resumes than this server: the message of
    /// the latest went while the path to here was cut (`cluster suspend --force` with a
    /// cut lan path, generated seed 8206). Left out, this server would judge the
    /// suspended peers lost, resolve against their stopped resolvers and start their
    /// groups while they still hold them (B122, B123); so it suspends, or resumes, as
    /// they did.
    pub(super) fn adopt_suspension(&mut self, suspended: bool, epoch: u64) {
        let op = if suspended { ClusterOp::Suspend } else { ClusterOp::Resume };
        if suspended != self.cluster_suspended {
            self.on_cluster_op(op);
        }
        self.suspend_epoch = epoch;
        self.mark_dirty();
    }

    /// `server shutdown` here, or the OS shutting down (B68).
    fn begin_server_shutdown(&mut self, reboot: bool) {
        self.emit(Event::new(EventKind::ServerShutdown));
        self.emit(Event::new(EventKind::ServiceStopping));
        let power = if reboot { PowerAction::CleanReboot } else { PowerAction::CleanPowerOff };
        self.begin_leave(ClpFactor::ServerShutdown, power, false);
    }

    pub(super) fn on_shutdown_requested(&mut self) {
        if self.phase.is_running() {
            self.begin_server_shutdown(false);
        }
    }
}

/// Where an accepted command goes.
enum Routed {
    Cluster(ClusterOp),
    Forward(ServerId, Command),
    Many(Vec<ServerId>, Command),
    /// `cluster resume --force` (X1): resume if suspended, then on every running server
    /// count the peers that never confirmed as heard now.
    ForceResume(Vec<ServerId>, Command),
    Start(GroupId, ServerId),
    Move(GroupId, ServerId, ServerId),
}

/// A group state as the operator reads it in a refusal.
fn state_word(s: GroupState) -> &'static str {
    match s {
        GroupState::Offline => "offline",
        GroupState::Starting => "starting",
        GroupState::Online => "online",
        GroupState::Stopping => "stopping",
        GroupState::Error => "in error",
    }
}
