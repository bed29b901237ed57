//! The per-server state machine. `Node::handle(now, input, out)` is the only way in;
//! everything the node wants done is pushed to `out` (drivers use `Node::step`, which
//! wraps the outputs in a [`crate::ready::Ready`]: durable part first, then the acts).
//!
//! In: [`Input`]s with the current time. Out: [`Output`]s. The node is split by
//! concern, each a module with its own `impl Node` block:
//! `membership` (service start, heartbeats, peer loss, departures, return),
//! `np` (network-partition watches and verdicts), `placement` (pure target choice),
//! `group` (start/stop/move and resource order), `recovery` (failure ladders and
//! counters), `monitor` (checks), `mirror` (records and rebuilds), `command`
//! (operator preconditions and routing), `fence` (leaving and self-fencing).

mod command;
mod fence;
mod group;
mod invariants;
mod joining;
mod margin_probe;
mod membership;
mod mirror;
mod monitor;
mod np;
pub mod placement;
mod pseudo_fault;
mod recovery;
mod status;
mod suspension;
mod takeover;
mod view;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use fence::stall_power;
pub use mirror::MirrorStatus;
pub use monitor::MonitorStatus;
pub use pseudo_fault::MAX_FAIL_ACTIVATIONS;
pub use status::Status;

use crate::config::{Config, GroupId, Ms, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{Action, ActionId, GroupState, Input, Message, Output, Persisted, Timer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fence::Phase;
use group::LocalGroup;
use monitor::MonitorRun;
use np::{NpWatch, Resolution};
use recovery::Counters;
use view::Peer;

/// What an action in flight is for, so its result can be routed.
#[derive(Clone, Debug)]
enum Pending {
    Activate {
        group: GroupId,
        pos: usize,
    },
    Deactivate {
        group: GroupId,
        pos: usize,
    },
    Recover {
        group: GroupId,
    },
    NpProbe {
        np: crate::config::NpId,
        started_ms: Ms,
    },
    /// The duplicate-address probe of a floating IP during the takeover margin (B44).
    AddressProbe {
        res: crate::config::ResId,
    },
    MonitorCheck {
        mon: crate::config::MonId,
    },
    MirrorCopy {
        res: crate::config::ResId,
        to: ServerId,
    },
    Power,
}

/// One server's cluster service.
pub struct Node {
    cfg: Arc<Config>,
    me: ServerId,
    now: Ms,
    phase: Phase,
    run: u64,
    persisted: Persisted,
    /// Version of the state shared with peers; bumped on every change.
    version: u64,
    /// Whether the shared state changed during this input (broadcast once at the end).
    dirty: bool,
    /// The state last broadcast: a state whose content did not change is not sent
    /// again, so that peers re-evaluating on each other's states cannot feed a storm.
    last_shared: Option<crate::io::SharedState>,
    /// Whether the view changed so that conditions must be re-evaluated.
    recheck: bool,
    peers: Vec<Peer>,
    groups: Vec<LocalGroup>,
    monitors: Vec<MonitorRun>,
    nps: Vec<NpWatch>,
    resolution: Option<Resolution>,
    pending: BTreeMap<ActionId, Pending>,
    next_action: ActionId,
    timers: BTreeMap<Timer, Ms>,
    counters: Counters,
    /// Latest fault time of each group on this server (B52).
    faults: BTreeMap<GroupId, Ms>,
    /// When each group was last started by cluster start or command, as known here (B52).
    epochs: BTreeMap<GroupId, Ms>,
    /// Starts pending until their `start_after` groups are online (B54). Shared with
    /// the peers: the coordinator places its own and its members' (B0), and the
    /// pending starts of a lost or departed server are taken over with its groups.
    waiting_starts: BTreeMap<GroupId, placement::Waiting>,
    /// Pending starts the coordinator found no eligible target for (B55, B56): not
    /// placed again from a member's copy until the group runs somewhere.
    unplaced_starts: BTreeSet<GroupId>,
    cluster_suspended: bool,
    /// Suspends and resumes applied here (B122), the latest a peer shared included: a
    /// suspend or resume message lost on a cut path reaches this server through the
    /// next state of a peer that applied it, and an older state (sent before a resume
    /// arrived there) does not undo a newer one.
    suspend_epoch: u64,
    mirrors: mirror::Mirrors,
    /// Groups that were online here when the previous (unclean) run ended (B25).
    recover_groups: Vec<GroupId>,
    /// RECOVER runs of a return still going; failbacks wait for them (B57).
    recovering_for_return: usize,
    /// Starts and moves sent to a target that does not show the group yet (B53).
    in_transit: BTreeMap<GroupId, (ServerId, Ms)>,
    /// B57: a failback check is open (this server became online recently).
    failback_window: bool,
    /// Groups whose failback was asked for in the current window.
    failback_sent: BTreeSet<GroupId>,
    /// The previous run ended uncleanly (found at `Boot`).
    prev_unclean: bool,
    /// B24: return by itself once online.
    auto_return_pending: bool,
    /// B3: `startup-sync-waiting` already emitted this run.
    sync_announced: bool,
    /// B18: `server-restarted` already emitted this run.
    restart_reported: bool,
    /// When the service last kicked its watchdog (B87).
    watchdog_kick_ms: Ms,
    /// Members already reported by `server-joined`.
    members_seen: BTreeSet<ServerId>,
    /// When a down notice was last sent to each peer (one per interval).
    down_notice_sent: BTreeMap<ServerId, Ms>,
    /// A cluster stop or shutdown is in progress (B67: nothing is taken over).
    cluster_stopping: bool,
    /// Groups of lost or departed peers not yet settled here (B44, B55).
    takeovers: BTreeMap<ServerId, takeover::Takeover>,
    /// Losses whose takeover this server coordinated: peer and the run that ended.
    takeovers_done: BTreeMap<ServerId, u64>,
    /// The groups of each loss in `takeovers_done` settled here (placed or left
    /// offline on purpose), as shared: the other survivors keep the rest (B55).
    takeovers_settled: BTreeMap<ServerId, BTreeSet<GroupId>>,
    /// B5: the coordinator expected to place the groups at formation (its run, the
    /// formation instant), until it says it did.
    formation_duty: Option<(ServerId, u64, Ms)>,
    /// Peers judged down, heard again, yielding under B17.
    zombies: BTreeMap<ServerId, takeover::Zombie>,
    /// Since when each server (this one included) has been an online member here.
    member_since: BTreeMap<ServerId, Ms>,
    /// `monitor fail` and `resource fail-activation` active here (issue 15).
    pseudo: pseudo_fault::PseudoFaults,
    /// Outputs produced while handling the current input.
    out: Vec<Output>,
}

impl Node {
    /// A node for server `me`; nothing happens until `Input::Boot`.
    pub fn new(cfg: Arc<Config>, me: ServerId) -> Node {
        assert!(me.idx() < cfg.servers.len(), "server id out of range");
        let peers = cfg.server_ids().map(|_| Peer::new(cfg.heartbeats.len())).collect();
        let groups = cfg.group_ids().map(|g| LocalGroup::new(cfg.group(g).resources.len())).collect();
        let monitors = cfg.monitor_ids().map(|_| MonitorRun::default()).collect();
        let nps = cfg.np_ids().map(|_| NpWatch::default()).collect();
        let mirrors = mirror::Mirrors::new(&cfg);
        Node {
            cfg,
            me,
            now: 0,
            phase: Phase::Off,
            run: 0,
            persisted: Persisted::default(),
            version: 0,
            last_shared: None,
            dirty: false,
            recheck: false,
            peers,
            groups,
            monitors,
            nps,
            resolution: None,
            pending: BTreeMap::new(),
            next_action: 1,
            timers: BTreeMap::new(),
            counters: Counters::default(),
            faults: BTreeMap::new(),
            epochs: BTreeMap::new(),
            waiting_starts: BTreeMap::new(),
            unplaced_starts: BTreeSet::new(),
            cluster_suspended: false,
            suspend_epoch: 0,
            mirrors,
            recover_groups: Vec::new(),
            recovering_for_return: 0,
            auto_return_pending: false,
            prev_unclean: false,
            in_transit: BTreeMap::new(),
            failback_window: false,
            failback_sent: BTreeSet::new(),
            restart_reported: false,
            sync_announced: false,
            watchdog_kick_ms: 0,
            members_seen: BTreeSet::new(),
            down_notice_sent: BTreeMap::new(),
            cluster_stopping: false,
            takeovers: BTreeMap::new(),
            takeovers_done: BTreeMap::new(),
            takeovers_settled: BTreeMap::new(),
            zombies: BTreeMap::new(),
            formation_duty: None,
            member_since: BTreeMap::new(),
            pseudo: pseudo_fault::PseudoFaults::default(),
            out: Vec::new(),
        }
    }

    pub fn me(&self) -> ServerId {
        self.me
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Handles one input at time `now` and appends what the node wants done to `out`.
    pub fn handle(&mut self, now: Ms, input: Input, out: &mut Vec<Output>) {
        assert!(now >= self.now, "time went backwards: {} < {}", now, self.now);
        self.now = now;
        std::mem::swap(&mut self.out, out);
        self.dispatch(input);
        self.after_input();
        std::mem::swap(&mut self.out, out);
    }

    /// Handles one input at time `now`; the driver commits what must be durable, then
    /// carries out the acts ([`crate::ready`]).
    pub fn step(&mut self, now: Ms, input: Input) -> crate::ready::Ready {
        let mut out = Vec::new();
        self.handle(now, input, &mut out);
        crate::ready::Ready::new(out)
    }

    fn dispatch(&mut self, input: Input) {
        if self.phase.is_gone() {
            // The run has ended: a powered-off or stopped service hears nothing, but
            // for the shutdown stall limit of a machine still up (B130 6).
            if let Input::TimerFired { timer: Timer::ShutdownStall } = input {
                self.on_timer(Timer::ShutdownStall);
            }
            return;
        }
        match input {
            Input::Boot { persisted } => self.on_boot(persisted),
            Input::TimerFired { timer } => self.on_timer(timer),
            Input::Heartbeat { from, path, hb } => self.on_heartbeat(from, path, hb),
            Input::Message { from, msg } => self.on_message(from, *msg),
            Input::ActionDone { id, result } => self.on_action_done(id, result),
            Input::Command { id, cmd } => self.on_command(id, cmd),
            Input::ShutdownRequested => self.on_shutdown_requested(),
            Input::MirrorWritten { res, bytes } => self.on_mirror_written(res, bytes),
            Input::MirrorDiskError { res } => self.on_mirror_disk_error(res),
            Input::MirrorConnect { res, network, up } => self.on_mirror_connect(res, network, up),
            Input::MirrorWritesLost { res, bytes } => self.on_mirror_writes_lost(res, bytes),
            Input::ProcessDied { process } => self.on_process_died(&process),
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        // A timer is live only if it is still set for this instant; a re-armed or
        // cancelled one is stale and ignored.
        match self.timers.get(&timer) {
            Some(at) if *at <= self.now => {
                self.timers.remove(&timer);
            }
            Some(_) | None => return,
        }
        match timer {
            Timer::HeartbeatTick => self.on_heartbeat_tick(),
            Timer::Liveness => self.on_liveness(),
            Timer::SyncWait => self.on_sync_wait(),
            Timer::NpVerdict => self.on_np_verdict(),
            Timer::Takeover => self.on_takeover(),
            Timer::NpCheck(np) => self.on_np_check_due(np),
            Timer::MonitorCheck(m) => self.on_monitor_due(m),
            Timer::ActionTimeout(id) => self.on_action_timeout(id),
            Timer::CounterReset => self.on_counter_reset(),
            Timer::MirrorConnectDown(res) => self.on_mirror_connect_timeout(res),
            Timer::ScriptSlow(id) => self.on_script_slow(id),
            Timer::ShutdownStall => self.on_shutdown_stall(),
            Timer::TransitCheck => self.recheck = true, // `settle_in_transit` runs after this input
        }
    }

    fn on_message(&mut self, from: ServerId, msg: Message) {
        if from == self.me || from.idx() >= self.cfg.servers.len() {
            return; // never trust a message claiming to come from ourselves or nobody
        }
        match msg {
            Message::Hello { run, state, version } => self.on_hello(from, run, state, version),
            Message::State(s) => self.on_state(from, *s),
            Message::StateRequest => self.send_state_to(from),
            Message::Formed { timeout, members } => self.on_formed(from, timeout, &members),
            Message::StartGroup { group, kind, stable_epoch_ms } => {
                self.on_start_group_msg(from, group, kind, stable_epoch_ms)
            }
            Message::MoveGroup { group, to, failback } => self.on_move_group_msg(group, to, failback),
            Message::Forward { cmd } => self.on_forwarded(from, cmd),
            Message::Departure { clean, power_off, groups } => self.on_departure(from, clean, power_off, groups),
            Message::DownNotice { groups } => self.on_down_notice(from, groups),
            Message::RestartSeen => self.on_restart_seen(),
            Message::Fencing { groups } => self.on_fencing(from, groups),
            Message::ClusterOp(op) => self.on_cluster_op(op),
            Message::MirrorRecord { res, side, record } => self.on_mirror_record_msg(from, res, side, record),
        }
    }

    fn on_action_done(&mut self, id: crate::io::ActionId, result: crate::io::ActionResult) {
        let Some(p) = self.pending.remove(&id) else {
            return; // timed out or from an earlier run: already handled
        };
        self.cancel_timer(Timer::ActionTimeout(id));
        self.cancel_timer(Timer::ScriptSlow(id));
        match p {
            Pending::Activate { group, pos } => self.on_activated(group, pos, result),
            Pending::Deactivate { group, pos } => self.on_deactivated(group, pos, result),
            Pending::Recover { group } => self.on_recover_done(group, result),
            Pending::NpProbe { np, started_ms } => self.on_np_probe_done(np, started_ms, result),
            Pending::MonitorCheck { mon } => self.on_monitor_result(mon, result),
            Pending::MirrorCopy { res, to } => self.on_mirror_copy_done(res, to, result),
            Pending::AddressProbe { res } => self.on_margin_probe_done(res, &result),
            Pending::Power => {}
        }
    }

    fn on_action_timeout(&mut self, id: crate::io::ActionId) {
        let Some(p) = self.pending.get(&id).cloned() else {
            return;
        };
        match p {
            Pending::Activate { group, .. } | Pending::Deactivate { group, .. } => {
                let res = self.pending_res(&p).expect("resource action");
                self.pending.remove(&id);
                self.out.push(Output::Cancel { id });
                self.emit(Event::new(EventKind::ResourceTimeout).group(group).resource(res));
                let result = crate::io::ActionResult::Failed("timeout".into());
                match p {
                    Pending::Activate { group, pos } => self.on_activated(group, pos, result),
                    Pending::Deactivate { group, pos } => self.on_deactivated(group, pos, result),
                    Pending::Recover { .. }
                    | Pending::NpProbe { .. }
                    | Pending::AddressProbe { .. }
                    | Pending::MonitorCheck { .. }
                    | Pending::MirrorCopy { .. }
                    | Pending::Power => unreachable!("matched above"),
                }
            }
            Pending::Recover { group } => {
                // B73: a RECOVER run past its timeout is killed; B93: that only logs.
                self.pending.remove(&id);
                self.out.push(Output::Cancel { id });
                self.on_recover_done(group, crate::io::ActionResult::Failed("timeout".into()));
            }
            Pending::MirrorCopy { .. } | Pending::Power => {}
            Pending::AddressProbe { res } => {
                self.pending.remove(&id);
                self.out.push(Output::Cancel { id });
                self.on_margin_probe_done(res, &crate::io::ActionResult::Failed("timeout".into()));
            }
            Pending::NpProbe { np, started_ms } => {
                self.pending.remove(&id);
                self.out.push(Output::Cancel { id });
                self.on_np_probe_done(np, started_ms, crate::io::ActionResult::Failed("timeout".into()));
            }
            Pending::MonitorCheck { mon } => {
                self.pending.remove(&id);
                self.out.push(Output::Cancel { id });
                self.on_monitor_result(mon, crate::io::ActionResult::Failed("timeout".into()));
            }
        }
    }

    fn pending_res(&self, p: &Pending) -> Option<crate::config::ResId> {
        match p {
            Pending::Activate { group, pos } | Pending::Deactivate { group, pos } => {
                Some(self.cfg.group(*group).resources[*pos])
            }
            Pending::Recover { .. }
            | Pending::NpProbe { .. }
            | Pending::AddressProbe { .. }
            | Pending::MonitorCheck { .. }
            | Pending::MirrorCopy { .. }
            | Pending::Power => None,
        }
    }

    /// Work that follows any input: share a changed state once, re-evaluate the
    /// conditions that depend on the whole view.
    fn after_input(&mut self) {
        if self.phase.is_gone() {
            return;
        }
        self.settle_acks();
        if self.dirty || std::mem::take(&mut self.recheck) {
            self.reevaluate();
        }
        if self.dirty {
            self.dirty = false;
            // Only a change of content is news (a new version of the same content made
            // servers that re-evaluate on every state they receive answer each other
            // for ever: a storm found by exploring generated configurations).
            let mut s = self.shared_state();
            if self.last_shared.as_ref() != Some(&s) {
                self.version += 1;
                s.version = self.version;
                self.broadcast_state(&s);
                self.last_shared = Some(s);
            }
            self.persist();
        }
    }

    /// Conditions that any change of view may satisfy: waiting starts (B54), mirror
    /// breaks and rebuilds (B102, B107), monitors to start or stop (B80).
    fn reevaluate(&mut self) {
        if self.leaving() {
            self.continue_leave(); // a peer's dependant group may have stopped (B54)
        }
        self.settle_in_transit();
        self.resolve_double_onlines();
        self.settle_zombies();
        self.settle_takeovers();
        self.settle_formation();
        self.reevaluate_waiting_starts();
        self.try_failbacks();
        self.reevaluate_mirrors();
        self.reevaluate_monitors();
    }

    // ---- small output helpers ------------------------------------------------

    fn emit(&mut self, e: Event) {
        self.out.push(Output::Emit(e));
    }

    fn send(&mut self, to: ServerId, msg: Message) {
        assert!(to != self.me, "sending to ourselves");
        self.out.push(Output::Send { to, msg: Box::new(msg) });
    }

    fn execute(&mut self, action: Action, pending: Pending, timeout_ms: Option<Ms>) -> ActionId {
        let id = self.next_action;
        self.next_action += 1;
        self.pending.insert(id, pending);
        self.out.push(Output::Execute { id, action });
        if let Some(t) = timeout_ms {
            self.set_timer(Timer::ActionTimeout(id), self.now.saturating_add(t));
        }
        id
    }

    fn set_timer(&mut self, timer: Timer, at_ms: Ms) {
        let at_ms = at_ms.max(self.now);
        if self.timers.get(&timer) == Some(&at_ms) {
            return;
        }
        self.timers.insert(timer, at_ms);
        self.out.push(Output::SetTimer { at_ms, timer });
    }

    fn cancel_timer(&mut self, timer: Timer) {
        self.timers.remove(&timer);
    }

    fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    fn persist(&mut self) {
        self.persisted.groups_online =
            self.cfg.group_ids().filter(|g| self.groups[g.idx()].state != GroupState::Offline).collect();
        self.persisted.mirrors = self.mirrors.own_records();
        self.out.push(Output::Persist(Box::new(self.persisted.clone())));
    }
}
