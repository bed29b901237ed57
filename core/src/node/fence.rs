//! Leaving the cluster: the phases of a run, orderly departures (clean or for a
//! failure, B14, B15, B67, B68), down notices (B16, B17) and self-fencing (B45, B130).
//!
//! In: a decision to leave (command, final action, np verdict), `DownNotice` messages.
//! Out: group stops with the right `CLP_FACTOR`, the departure notice, down notices,
//! the `Fencing` message to a notifier, the fencing event, the power action, and the
//! record of a clean or unclean end.

use super::Node;
use crate::config::{FinalAction, GroupId, Ms, NpAction, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{Action, GroupState, Message, PowerAction, ServerState};
use crate::script::ClpFactor;

/// The phase of this server's run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Before `Boot`.
    Off,
    /// Startup synchronisation (B3); `suspended` after an unclean end (B23).
    Syncing { since_ms: Ms, suspended: bool },
    /// Online cluster member.
    Member,
    /// Back after an unclean end, waiting for `server return` (B23).
    Suspended,
    /// Stopping groups before departing (B14, B15).
    Leaving(Leave),
    /// The run has ended.
    Gone,
}

/// An orderly departure in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Leave {
    pub factor: ClpFactor,
    pub power: PowerAction,
    /// Every server is leaving (cluster stop or shutdown): nobody takes anything over.
    pub cluster_wide: bool,
    /// The groups this server stopped on its way out (peers start them, B14).
    pub stopped: Vec<GroupId>,
}

impl Phase {
    pub fn is_gone(&self) -> bool {
        matches!(self, Phase::Gone)
    }
    pub fn is_member(&self) -> bool {
        match self {
            Phase::Member => true,
            Phase::Off | Phase::Syncing { .. } | Phase::Suspended | Phase::Leaving(_) | Phase::Gone => false,
        }
    }
    /// Service running (member, suspended, waiting or leaving).
    pub fn is_running(&self) -> bool {
        match self {
            Phase::Syncing { .. } | Phase::Member | Phase::Suspended | Phase::Leaving(_) => true,
            Phase::Off | Phase::Gone => false,
        }
    }
    pub fn is_suspended(&self) -> bool {
        match self {
            Phase::Suspended | Phase::Syncing { suspended: true, .. } => true,
            Phase::Syncing { suspended: false, .. } | Phase::Off | Phase::Member | Phase::Leaving(_) | Phase::Gone => {
                false
            }
        }
    }
    /// The state this server reports for itself while its service runs.
    pub fn reported(&self) -> ServerState {
        match self {
            Phase::Syncing { suspended: false, .. } => ServerState::Syncing,
            Phase::Syncing { suspended: true, .. } | Phase::Suspended => ServerState::Suspended,
            Phase::Member | Phase::Leaving(_) => ServerState::Online,
            Phase::Off | Phase::Gone => ServerState::Off,
        }
    }
}

/// How a final action or `np_action` takes the server out.
enum Exit {
    /// Stop groups first, depart with a notice (B15).
    Orderly { factor: ClpFactor, power: PowerAction, event: EventKind },
    /// Release everything at once (B45).
    Immediate { power: PowerAction, event: EventKind },
}

impl Node {
    /// Starts an orderly departure: stop every group, then depart and power as named.
    pub(super) fn begin_leave(&mut self, factor: ClpFactor, power: PowerAction, cluster_wide: bool) {
        if let Phase::Leaving(_) = self.phase {
            return; // already on the way out
        }
        let stopped: Vec<GroupId> = self
            .cfg
            .group_ids()
            .filter(|g| match self.groups[g.idx()].state {
                GroupState::Online | GroupState::Starting | GroupState::Error | GroupState::Stopping => true,
                // Stopped here for a failover or restart still on its way (RECOVER run):
                // the peers must take it.
                GroupState::Offline => self.groups[g.idx()].in_recover_window(),
            })
            .collect();
        self.stop_monitors_all();
        self.phase = Phase::Leaving(Leave { factor, power, cluster_wide, stopped });
        self.mark_dirty();
        self.continue_leave();
    }

    /// Stops what can be stopped now (B54 order) and departs once everything is down.
    pub(super) fn continue_leave(&mut self) {
        let Phase::Leaving(leave) = &self.phase else { return };
        let leave = leave.clone();
        let factor = leave.factor;
        let mut busy = false;
        for g in self.cfg.group_ids().rev() {
            match self.groups[g.idx()].state {
                GroupState::Offline => {}
                GroupState::Online | GroupState::Error => {
                    // B54: a group stops before the groups it names in start_after.
                    if self.start_after_dependents_running(g, leave.cluster_wide) {
                        busy = true;
                        continue;
                    }
                    self.stop_group(g, factor, super::group::AfterStop::Nothing);
                    busy = true;
                }
                GroupState::Starting | GroupState::Stopping => busy = true,
            }
        }
        if !busy {
            self.depart();
        }
    }

    /// B54: a group that names `g` in `start_after` still runs here, or anywhere when
    /// every server is leaving (each waits for the others' dependants to stop).
    fn start_after_dependents_running(&self, g: GroupId, cluster_wide: bool) -> bool {
        self.cfg.group_ids().any(|d| {
            self.cfg.group(d).start_after.contains(&g)
                && if cluster_wide {
                    !self.holders(d).is_empty()
                } else {
                    self.groups[d.idx()].state != GroupState::Offline
                }
        })
    }

    /// The last act of an orderly departure: notice, end record, power.
    fn depart(&mut self) {
        let Phase::Leaving(leave) = std::mem::replace(&mut self.phase, Phase::Gone) else { return };
        let clean = leave.power.is_clean();
        let power_off = match leave.power {
            PowerAction::CleanServiceStop | PowerAction::FailureServiceStop => false,
            PowerAction::CleanPowerOff
            | PowerAction::CleanReboot
            | PowerAction::FailureShutdown
            | PowerAction::FailureReboot
            | PowerAction::EmergencyShutdown
            | PowerAction::EmergencyReboot
            | PowerAction::Panic => true,
        };
        // Starts sent from here that never showed at their target (lost with a target
        // that died, B55) go with the notice, or nobody would place them: this server
        // settles its transits (`settle_in_transit`) and is leaving. Only those sent at
        // least a heartbeat interval ago: a start the target did receive shows in its
        // state within that time, so the coordinator never places a group twice (B53).
        let settle_ms = self.cfg.cluster.heartbeat_interval_ms;
        let now = self.now;
        let unseen: Vec<GroupId> = self
            .in_transit
            .iter()
            .filter(|(g, (_, since))| since.saturating_add(settle_ms) <= now && !leave.stopped.contains(g))
            .map(|(g, _)| *g)
            .collect();
        let groups = [leave.stopped.clone(), unseen].concat();
        let peers: Vec<_> = self.peer_ids().filter(|p| self.peers[p.idx()].may_hold()).collect();
        for p in peers {
            self.send(p, Message::Departure { clean, power_off, groups: groups.clone() });
        }
        if clean {
            self.emit(Event::new(EventKind::ServiceStopped));
        }
        self.end_run(clean, !power_off);
        self.execute(Action::Power(leave.power), super::Pending::Power, None);
        if leave.power.is_os_shutdown() {
            // B130 6: the machine must be off by then; a timer that still fires means
            // the OS shutdown stalled (the ended run hears only this timer).
            let at = self.now.checked_add(self.cfg.cluster.heartbeat_timeout_ms).expect("instant overflow");
            self.set_timer(super::Timer::ShutdownStall, at);
        }
    }

    /// B130 6: the OS shutdown that followed the service's stop has not powered the
    /// machine off within `heartbeat_timeout`: reset it (an immediate restart; the
    /// groups were stopped before the service stopped, so nothing is left to release).
    pub(super) fn on_shutdown_stall(&mut self) {
        assert!(self.phase.is_gone(), "shutdown stall timer in a running service");
        self.emit(
            Event::new(EventKind::ShutdownStallReset)
                .reason("the machine has not powered off heartbeat_timeout after its service stopped (B130 6)"),
        );
        self.execute(Action::Power(PowerAction::EmergencyReboot), super::Pending::Power, None);
    }

    /// B130 7: a core process of the cluster service died: stop the groups, then shut
    /// the OS down (an orderly exit that ends the run uncleanly, B15).
    pub(super) fn on_process_died(&mut self, process: &str) {
        if !self.phase.is_running() {
            return;
        }
        let name: String = process.chars().take(crate::io::MAX_PROCESS_NAME_LEN).collect();
        let reason = format!("process {name} died (B130 7)");
        if self.leaving() {
            // Already on the way out: the departure under way stops the groups.
            self.emit(Event::new(EventKind::ProcessDied).reason(&reason));
            return;
        }
        self.emit(Event::new(EventKind::ProcessDied).reason(&reason));
        self.begin_leave(ClpFactor::ServerShutdown, PowerAction::FailureShutdown, false);
    }

    /// Records how the run ends and stops every timer.
    fn end_run(&mut self, clean: bool, service_stopped: bool) {
        self.persisted.last_end_clean = Some(clean);
        self.persisted.service_stopped = service_stopped;
        self.phase = Phase::Gone;
        self.timers.clear();
        self.persist();
    }

    /// Self-fencing at once (B45): no stop scripts, the power action releases everything.
    pub(super) fn fence(&mut self, power: PowerAction, event: EventKind, reason: &str) {
        if self.phase.is_gone() {
            return;
        }
        self.emit(Event::new(event).reason(reason));
        self.end_run(false, matches!(power, PowerAction::FailureServiceStop));
        self.execute(Action::Power(power), super::Pending::Power, None);
    }

    /// Runs `np_action` (B45) after a lost verdict or a down notice.
    pub(super) fn run_np_action(&mut self, reason: &str) {
        let (power, event) = match self.cfg.cluster.np_action {
            NpAction::EmergencyShutdown => (PowerAction::EmergencyShutdown, EventKind::EmergencyShutdown),
            NpAction::EmergencyReboot => (PowerAction::EmergencyReboot, EventKind::EmergencyReboot),
            NpAction::StopService => (PowerAction::FailureServiceStop, EventKind::ServiceStopForFailure),
            NpAction::Panic => (PowerAction::Panic, EventKind::Panic),
        };
        self.fence(power, event, reason);
    }

    /// Carries out a server-level final action (B71, B83 step 5). Returns false for the
    /// actions that do not take the server out (`none`, `ignore`, `stop-group`).
    pub(super) fn server_final_action(&mut self, action: FinalAction, reason: &str) -> bool {
        let exit = match action {
            FinalAction::None | FinalAction::Ignore | FinalAction::StopGroup => return false,
            FinalAction::StopService => Exit::Orderly {
                factor: ClpFactor::ClusterLeave,
                power: PowerAction::FailureServiceStop,
                event: EventKind::ServiceStopForFailure,
            },
            FinalAction::StopServiceAndShutdown => Exit::Orderly {
                factor: ClpFactor::ServerShutdown,
                power: PowerAction::FailureShutdown,
                event: EventKind::ShutdownForFailure,
            },
            FinalAction::StopServiceAndReboot => Exit::Orderly {
                factor: ClpFactor::ServerShutdown,
                power: PowerAction::FailureReboot,
                event: EventKind::RebootForFailure,
            },
            FinalAction::EmergencyShutdown => {
                Exit::Immediate { power: PowerAction::EmergencyShutdown, event: EventKind::EmergencyShutdown }
            }
            FinalAction::EmergencyReboot => {
                Exit::Immediate { power: PowerAction::EmergencyReboot, event: EventKind::EmergencyReboot }
            }
            FinalAction::Panic => Exit::Immediate { power: PowerAction::Panic, event: EventKind::Panic },
        };
        match exit {
            Exit::Orderly { factor, power, event } => {
                self.emit(Event::new(event).reason(reason));
                self.begin_leave(factor, power, false);
            }
            Exit::Immediate { power, event } => self.fence(power, event, reason),
        }
        true
    }

    /// Whether a stop is part of this server's departure (deactivation failures are
    /// then ignored: the power-off releases what is left, B71).
    pub(super) fn leaving(&self) -> bool {
        matches!(self.phase, Phase::Leaving(_))
    }

    /// The state of `g` as peers are told it. A group that has stopped here but is not
    /// yet handed on is reported `stopping`, so that a peer judging this server down in
    /// that window fails it over like any group stopping here (B55); reported `offline`
    /// it would belong to no server and stay offline for good. Two such windows:
    /// * the RECOVER run of a monitor failover or group reactivation (B83.3, B83.4,
    ///   B93), until the start is sent or begins here;
    /// * a server shutdown (B68) or a final action's departure (B71, B72, B83.5),
    ///   from the group's stop to the departure that lists it (B14, B55): a departure
    ///   lost on a cut path leaves the peers only their view of this server. Not for a
    ///   cluster-wide stop, where nobody takes anything over (B67).
    pub(super) fn shared_group_state(&self, g: GroupId) -> GroupState {
        let lg = &self.groups[g.idx()];
        let left_on_departure = match &self.phase {
            Phase::Leaving(l) => !l.cluster_wide && l.stopped.contains(&g) && lg.state == GroupState::Offline,
            Phase::Off | Phase::Syncing { .. } | Phase::Member | Phase::Suspended | Phase::Gone => false,
        };
        if lg.in_recover_window() || left_on_departure {
            GroupState::Stopping
        } else {
            lg.state
        }
    }

    // ---- down notices (B16, B17) ------------------------------------------------

    pub(super) fn send_down_notice(&mut self, to: ServerId) {
        let last = self.down_notice_sent.get(&to).copied();
        if last.is_some_and(|t| t.saturating_add(self.cfg.cluster.heartbeat_interval_ms) > self.now) {
            return; // one notice per heartbeat interval is enough
        }
        self.down_notice_sent.insert(to, self.now);
        let groups = self.held_groups();
        self.send(to, Message::DownNotice { groups });
    }

    /// B16, B17: told that a peer judged us down.
    pub(super) fn on_down_notice(&mut self, from: ServerId, groups: Vec<GroupId>) {
        if !self.phase.is_running() {
            return;
        }
        let mutual = self.peers[from.idx()].judged_down;
        if mutual && from > self.me {
            // B17: we both judged each other down; the later server in order yields.
            self.keep_mirrors_after_double_active(from);
            // What it holds is released by its np_action: taken over once it is gone.
            self.note_zombie(from, groups);
            return;
        }
        // What we release goes to the one that counted us out (B55): it does not read
        // the state of a server it judged down.
        let groups = self.held_groups();
        self.send(from, Message::Fencing { groups });
        self.emit(Event::new(EventKind::ServerDownNotified).peer(from));
        self.run_np_action("a peer judged this server down (B16)");
    }
}

/// The user-space watchdog of server `s` (B87): its `stall_action`, the power action
/// that carries it out and the event naming it. The service is frozen, so an orderly
/// departure cannot run: every action short of a shutdown or a panic reboots.
pub fn stall_power(cfg: &crate::config::Config, s: crate::config::ServerId) -> (FinalAction, PowerAction, EventKind) {
    let stall_action = cfg
        .monitors
        .iter()
        .filter(|mon| mon.servers.contains(&s))
        .find_map(|mon| {
            if let crate::config::MonitorKind::UserSpace { stall_action } = mon.kind {
                Some(stall_action)
            } else {
                None
            }
        })
        .unwrap_or(FinalAction::EmergencyReboot);
    let (power, kind) = match stall_action {
        FinalAction::EmergencyShutdown => (PowerAction::EmergencyShutdown, EventKind::EmergencyShutdown),
        FinalAction::Panic => (PowerAction::Panic, EventKind::Panic),
        FinalAction::None
        | FinalAction::Ignore
        | FinalAction::StopGroup
        | FinalAction::StopService
        | FinalAction::StopServiceAndShutdown
        | FinalAction::StopServiceAndReboot
        | FinalAction::EmergencyReboot => (PowerAction::EmergencyReboot, EventKind::EmergencyReboot),
    };
    (stall_action, power, kind)
}
