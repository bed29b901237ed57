//! Membership: service start and startup synchronisation (B1–B6), heartbeats and peer
//! loss (B10–B13), restarts (B18), departures (B14, B15), joining and returning
//! (B22–B26), and the state exchange between servers.
//!
//! In: `Boot`, heartbeats, `Hello`/`State`/`Formed`/`Departure` messages, the heartbeat
//! and liveness timers. Out: heartbeats, state messages, membership events, and calls
//! into `np` (a peer is lost) and `takeover` (the groups of a server that went away).

use super::fence::Phase;
use super::view::ClockSample;
use super::Node;
use crate::config::{GroupId, Ms, PathId, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{GroupState, Heartbeat, Message, Output, Persisted, ServerState, SharedState, Timer};

impl Node {
    pub(super) fn on_boot(&mut self, persisted: Option<Persisted>) {
        if self.phase != Phase::Off {
            return; // a second Boot within one run is meaningless
        }
        let mut p = persisted.unwrap_or_default();
        let prev_unclean = p.last_end_clean == Some(false);
        p.runs += 1;
        // Until a clean end is recorded, this run counts as unclean (B0 "Run").
        p.last_end_clean = Some(false);
        p.service_stopped = false;
        self.run = p.runs;
        self.prev_unclean = prev_unclean;
        self.recover_groups = if prev_unclean { p.groups_online.clone() } else { Vec::new() };
        self.mirrors.load(&self.cfg, self.me, &p.mirrors);
        self.persisted = p;
        self.counters = Default::default(); // B27
        self.faults.clear();

        self.emit(Event::new(EventKind::ServiceStarted));
        self.emit(Event::new(EventKind::ConfigLoaded).reason(self.cfg.cluster.name.clone()));
        for w in self.cfg.warnings.clone() {
            self.emit(Event::new(EventKind::ConfigWarning).reason(w));
        }
        if self.cfg.cluster.insecure {
            self.emit(Event::new(EventKind::InsecureMode));
        }
        if prev_unclean {
            self.emit(Event::new(EventKind::UncleanRestart));
        }
        let suspended = prev_unclean && !self.cfg.cluster.auto_return;
        self.auto_return_pending = prev_unclean && self.cfg.cluster.auto_return;
        self.phase = Phase::Syncing { since_ms: self.now, suspended };
        if suspended {
            self.emit(
                Event::new(EventKind::ServerSuspended)
                    .because(Some(EventKind::UncleanRestart), "auto_return = false (B23)"),
            );
        }
        self.mirrors.note_boot();
        let hello = Message::Hello { run: self.run, state: self.phase.reported(), version: self.version };
        let peers: Vec<_> = self.peer_ids().collect();
        for p in peers {
            self.send(p, hello.clone());
        }
        self.set_timer(Timer::SyncWait, self.now.saturating_add(self.cfg.cluster.sync_wait_ms));
        self.on_heartbeat_tick();
        self.start_np_watches();
        self.mark_dirty();
    }

    // ---- heartbeats -------------------------------------------------------------

    pub(super) fn heartbeat(&self) -> Heartbeat {
        Heartbeat { run: self.run, state: self.phase.reported(), version: self.version, sent_ms: self.now }
    }

    pub(super) fn on_heartbeat_tick(&mut self) {
        self.set_timer(Timer::HeartbeatTick, self.now.saturating_add(self.cfg.cluster.heartbeat_interval_ms));
        self.watchdog_kick_ms = self.now;
        if let Phase::Syncing { since_ms, .. } = self.phase {
            // B3: still waiting one interval after service start: nobody is online.
            if self.now > since_ms && !self.sync_announced {
                self.sync_announced = true;
                self.recheck = true;
                self.emit(Event::new(EventKind::StartupSyncWaiting));
            }
        }
        if self.heartbeats_stopped() {
            return; // B20: no heartbeat is sent while the cluster is suspended (X1: once confirmed)
        }
        let hb = self.heartbeat();
        let me = self.me;
        for (i, h) in self.cfg.heartbeats.iter().enumerate() {
            if !h.servers.contains(&me) {
                continue;
            }
            for to in h.servers.iter().copied().filter(|s| *s != me) {
                self.out.push(Output::Heartbeat { to, path: PathId(i as u16), hb });
            }
        }
    }

    pub(super) fn on_heartbeat(&mut self, from: ServerId, path: PathId, hb: Heartbeat) {
        if from == self.me || from.idx() >= self.peers.len() || path.idx() >= self.cfg.heartbeats.len() {
            return;
        }
        if hb.run != self.peers[from.idx()].run {
            self.on_hello(from, hb.run, hb.state, hb.version);
        }
        if self.peers[from.idx()].judged_down {
            self.zombie_heard(from);
            self.mirror_other_side_ran(from);
            self.send_down_notice(from); // B17: a peer judged down is told so
            return;
        }
        let p = &mut self.peers[from.idx()];
        let was_lost = p.lost_at.is_some();
        if was_lost {
            // Heard again before the verdict: this peer is no longer lost.
            p.lost_at = None;
            self.unlose(from);
        }
        let p = &mut self.peers[from.idx()];
        p.last_heard[path.idx()] = Some(self.now);
        if hb.sent_ms > 0 {
            p.clock_sample = Some(ClockSample { sent_ms: hb.sent_ms, received_ms: self.now });
        }
        let was_down = std::mem::replace(&mut p.path_down[path.idx()], false);
        let state_changed = p.state != hb.state;
        p.state = hb.state;
        let want_state = hb.version != p.shared.version && hb.version != p.version_seen;
        if want_state {
            p.version_seen = hb.version;
        }
        if was_down {
            self.recheck = true; // a mirror connect may be back (B102)
            self.emit(
                Event::new(EventKind::HeartbeatPathUp).peer(from).reason(self.cfg.heartbeats[path.idx()].name.clone()),
            );
        }
        if want_state {
            self.send(from, Message::StateRequest);
        }
        if state_changed {
            self.on_peer_state_changed(from);
        } else if was_lost {
            self.schedule_liveness(); // watched again (B13)
        }
    }

    /// A peer's service (re)started, or we first hear of this run of it.
    pub(super) fn on_hello(&mut self, from: ServerId, run: u64, state: ServerState, version: u64) {
        let p = &self.peers[from.idx()];
        let old_run_alive = p.run != 0 && p.run != run && p.may_hold();
        let old_run_unplaced = p.run != 0 && p.run != run && p.judged_down && p.judged_unplaced;
        if run < p.run {
            return; // an older run's packet arriving late
        }
        if old_run_alive {
            let judged_lost = p.lost_at.is_some();
            self.old_run_ended(from, judged_lost);
        } else if old_run_unplaced {
            self.unplaced_run_ended(from);
        }
        let now = self.now;
        let paths: Vec<PathId> = self.paths_to(from).collect();
        let p = &mut self.peers[from.idx()];
        // A run first named in a member's state (`watch_unheard_members`) is new to
        // it: it has not had our state yet.
        let is_new = p.run != run || p.shared.version == 0;
        if p.run != run {
            p.ack = super::suspension::OpAck::Confirmed; // X1: owed by the run that ended
        }
        p.run = run;
        p.state = state;
        p.judged_down = false;
        p.judged_unplaced = false;
        p.lost_at = None;
        // A state of this run not yet received is asked for at the next heartbeat.
        p.version_seen = if p.shared.run == run { version } else { 0 };
        for path in paths {
            p.last_heard[path.idx()] = Some(now);
            p.path_down[path.idx()] = false;
        }
        if is_new {
            self.send_state_to(from);
        }
        self.on_peer_state_changed(from);
        self.schedule_liveness();
    }

    /// B18: a peer's previous run ended uncleanly and it started again before it was
    /// judged down here. Its groups are gone: they fail over without resolution.
    fn old_run_ended(&mut self, from: ServerId, judged_lost: bool) {
        let groups: Vec<GroupId> = self.peers[from.idx()].shared.groups.iter().map(|(g, _)| *g).collect();
        let groups = [groups, self.peers[from.idx()].owed_starts()].concat();
        let old_run = self.peers[from.idx()].run;
        // What it held was known to the members of the time it was last heard; a server
        // that became a member since never heard that run, so it does not coordinate
        // (generated seed 10212: server2, back after the suspended server1 fell silent,
        // was preferred by server3 and knew nothing to place).
        let since_ms = self.peers[from.idx()].last_heard_any().map_or(self.now, |t| t.min(self.now));
        self.adopt_takeovers(from, self.now);
        self.peers[from.idx()].forget_run();
        self.peers[from.idx()].state = ServerState::Down;
        if judged_lost {
            self.unlose(from);
        } else {
            self.send(from, Message::RestartSeen);
        }
        if !groups.is_empty() {
            // B18, B55: placed by the takeover coordinator, kept here until settled.
            self.add_takeover(from, old_run, since_ms, self.now, groups, false);
        }
    }

    /// X1 4, B46, B18: a peer this server judged down while it was itself suspended
    /// starts a new run. The verdict recorded no takeover here (B46), yet the others
    /// take this server for one that knew what the peer held (it says it judged it
    /// down, and it is a member now), so they leave the peer's groups to it (generated
    /// seed 10212: a suspended server2 judged server1 down over a one-way cut and fenced
    /// it, B16; the cluster resumed without server1's confirmation, X1 3; when server1
    /// booted again server3 saw its restart and waited for server2, which never placed
    /// g1). The old run ends here as B18 ends it: recorded even when nothing it held is
    /// known here, so that the loss is reported handled and what the others know of it
    /// is placed (`place_unsettled`). Not while still suspended (B46 again).
    pub(super) fn unplaced_run_ended(&mut self, from: ServerId) {
        let peer = &self.peers[from.idx()];
        let groups: Vec<GroupId> = peer.shared.groups.iter().map(|(g, _)| *g).collect();
        let groups = [groups, peer.owed_starts()].concat();
        let old_run = peer.run;
        self.peers[from.idx()].judged_unplaced = false;
        if self.phase.is_suspended() {
            return;
        }
        self.adopt_takeovers(from, self.now);
        self.peers[from.idx()].forget_run();
        self.add_takeover(from, old_run, self.now, self.now, groups, false);
    }

    pub(super) fn on_restart_seen(&mut self) {
        if !self.restart_reported {
            self.restart_reported = true;
            self.emit(
                Event::new(EventKind::ServerRestarted)
                    .because(Some(EventKind::UncleanRestart), "restarted before any peer judged it lost (B18)"),
            );
        }
    }

    pub(super) fn on_state(&mut self, from: ServerId, s: SharedState) {
        if s.run > self.peers[from.idx()].run {
            // The first we hear of this run of the peer (its Hello predates our start).
            let state = s.state.unwrap_or(ServerState::Online);
            self.on_hello(from, s.run, state, s.version);
        }
        let p = &mut self.peers[from.idx()];
        // Versions count from 1 in each run: a new run's first states are not outdated
        // by the last one of the run before (they were ignored until the new run's
        // version passed it, so a restarted peer's holdings were unknown meanwhile).
        if s.run != p.run || p.judged_down || (s.run == p.shared.run && s.version < p.shared.version) {
            return; // another run's or an outdated state
        }
        if let Some(st) = s.state {
            p.state = st;
        }
        for (g, t) in &s.epochs {
            let e = self.epochs.entry(*g).or_insert(0);
            *e = (*e).max(*t);
        }
        let counted_out = s.judged_down_runs.contains(&(self.me, self.run));
        let (suspended, suspend_epoch) = (s.cluster_suspended, s.suspend_epoch);
        p.shared = s;
        self.watch_unheard_members(from);
        if suspend_epoch > self.suspend_epoch {
            self.adopt_suspension(suspended, suspend_epoch);
        }
        if counted_out {
            // B16: the sender judged this run down; its state tells us as a down
            // notice would (the notice itself went while the paths were cut, and
            // B17's repeat needs the sender to hear us).
            self.on_down_notice(from, Vec::new());
            return;
        }
        self.on_peer_state_changed(from);
        self.resolve_double_online(from);
    }

    /// Defence in depth for B1 (a group never online on two servers): the protocol keeps
    /// a group from being started twice, but should a member peer ever report online a
    /// group that is online here too (both sides sure, no down judgement between them,
    /// so B17 does not apply), the later server in server order — the same tie rule as
    /// B17 — stops its instance (`CLP_FACTOR=GROUPSTOP`) and reports it, rather than
    /// leave two servers serving one address for good.
    fn resolve_double_online(&mut self, from: ServerId) {
        if self.me < from || !self.phase.is_member() || !self.is_member(from) {
            return;
        }
        let doubles: Vec<GroupId> = self.peers[from.idx()]
            .shared
            .groups
            .iter()
            .filter(|(g, st)| *st == GroupState::Online && self.groups[g.idx()].state == GroupState::Online)
            .map(|(g, _)| *g)
            .collect();
        for g in doubles {
            self.emit(
                Event::new(EventKind::GroupDoubleOnline)
                    .group(g)
                    .peer(from)
                    .because(None, "online here and on an earlier server at once: this instance stops (B1)"),
            );
            self.stop_group(g, crate::script::ClpFactor::GroupStop, super::group::AfterStop::Nothing);
        }
    }

    /// The same check when our own instance comes online after the earlier server's
    /// last state (it was still starting when that state came, as after a lone
    /// formation that a heal ended: generated seeds 9562, 10612), which no later state
    /// of that server would repeat.
    ///
    /// Only against a state that is that server's latest: a heartbeat announcing a newer
    /// version means the state held here is stale (a cut kept it from arriving), and it may
    /// still name a group that server has stopped since (generated seed 4688: a move
    /// during a cut, the old holder's online taken for a double, and the group stopped
    /// on both). The newer state, once it comes, runs the check itself.
    pub(super) fn resolve_double_onlines(&mut self) {
        let earlier: Vec<ServerId> = self
            .peer_ids()
            .filter(|p| *p < self.me)
            .filter(|p| self.peers[p.idx()].version_seen <= self.peers[p.idx()].shared.version)
            .collect();
        for p in earlier {
            self.resolve_double_online(p);
        }
    }

    /// What this server shares with its peers.
    pub(super) fn shared_state(&self) -> SharedState {
        SharedState {
            version: self.version,
            run: self.run,
            state: Some(self.phase.reported()),
            groups: self
                .cfg
                .group_ids()
                .map(|g| (g, self.shared_group_state(g)))
                .filter(|(_, st)| *st != crate::io::GroupState::Offline)
                .collect(),
            np_failing: self.np_failing(),
            cluster_suspended: self.cluster_suspended,
            suspend_epoch: self.suspend_epoch,
            faults: self.faults.iter().map(|(g, t)| (*g, *t)).collect(),
            epochs: self.epochs.iter().map(|(g, t)| (*g, *t)).collect(),
            failover_counts: self.counters.own_failovers(),
            mirrors: self.mirrors.own_records(),
            mirror_full_next: self.mirrors.full_next_list(),
            mirror_saw_go: self.mirrors.saw_go_list(),
            mirror_disk_error: self.mirrors.disk_error_list(),
            mirror_connect_down: self.mirrors.connect_down_list(),
            rebuilding: self.mirrors.rebuilding_list(),
            stop_record: self.persisted.stop_record.clone(),
            judged_down: self.peer_ids().filter(|p| self.peers[p.idx()].judged_down).collect(),
            judged_down_runs: self
                .peer_ids()
                .filter(|p| self.peers[p.idx()].judged_down)
                .map(|p| (p, self.peers[p.idx()].run))
                .collect(),
            waiting_starts: self.waiting_starts.iter().map(|(g, w)| (*g, w.kind)).collect(),
            takeovers_done: self.takeovers_done.iter().map(|(p, r)| (*p, *r)).collect(),
            takeovers_settled: self
                .takeovers_settled
                .iter()
                .flat_map(|(p, gs)| gs.iter().map(move |g| (*p, *g)))
                .collect(),
            in_transit: self.in_transit.keys().copied().collect(),
            takeovers: self.shared_takeovers(),
            members: self.shared_members(),
        }
    }

    pub(super) fn send_state_to(&mut self, to: ServerId) {
        let s = self.shared_state();
        self.send(to, Message::State(Box::new(s)));
    }

    pub(super) fn broadcast_state(&mut self, s: &SharedState) {
        let to: Vec<_> = self.peer_ids().filter(|p| self.peers[p.idx()].may_hold()).collect();
        for p in to {
            self.send(p, Message::State(Box::new(s.clone())));
        }
    }

    /// Reacts to a change of a peer's reported state.
    fn on_peer_state_changed(&mut self, from: ServerId) {
        let st = self.peers[from.idx()].state;
        self.recheck = true;
        self.schedule_liveness(); // it may have become watched (B13)
        match self.phase {
            Phase::Syncing { .. } => {
                let known = self.peers[from.idx()].shared.run == self.peers[from.idx()].run;
                if st == ServerState::Online && known {
                    self.join(); // B2: someone is online already (and we know what it holds)
                } else if st == ServerState::Online {
                    // Wait for its state (already asked for) before joining.
                } else {
                    self.check_sync_complete();
                }
            }
            Phase::Member => {
                if st == ServerState::Online && !self.members_seen.contains(&from) {
                    self.members_seen.insert(from);
                    self.emit(Event::new(EventKind::ServerJoined).peer(from));
                }
            }
            Phase::Off | Phase::Suspended | Phase::Leaving(_) | Phase::Gone => {}
        }
        if st == ServerState::Online {
            self.restarted_member(from);
        }
        // The state now: forming above may have made a waiting peer a member.
        let st = self.peers[from.idx()].state;
        if st == ServerState::Online && !self.peers[from.idx()].judged_down {
            self.member_since.entry(from).or_insert(self.now);
        } else {
            self.members_seen.remove(&from);
            self.member_since.remove(&from);
        }
    }

    // ---- liveness (B11, B13) ---------------------------------------------------

    /// Arms the liveness timer at the earliest heartbeat deadline.
    pub(super) fn schedule_liveness(&mut self) {
        if self.heartbeats_stopped() {
            return;
        }
        let timeout = self.cfg.cluster.heartbeat_timeout_ms;
        let mut next: Option<Ms> = None;
        for p in self.peer_ids() {
            if !self.watches(p) {
                continue;
            }
            let peer = &self.peers[p.idx()];
            for path in self.paths_to(p) {
                if peer.path_down[path.idx()] {
                    continue;
                }
                if let Some(t) = peer.last_heard[path.idx()] {
                    next = Some(next.map_or(t.saturating_add(timeout), |n: Ms| n.min(t.saturating_add(timeout))));
                }
            }
        }
        // Peers that yield under B17 are gone once silent as long (B13).
        if let Some(z) = self.zombie_deadline() {
            next = Some(next.map_or(z, |n| n.min(z)));
        }
        // X1: a suspend or resume not confirmed in time is reported.
        if let Some(a) = self.ack_deadline() {
            next = Some(next.map_or(a, |n| n.min(a)));
        }
        if let Some(at) = next {
            self.set_timer(Timer::Liveness, at);
        }
    }

    pub(super) fn on_liveness(&mut self) {
        if self.heartbeats_stopped() {
            return;
        }
        self.report_unconfirmed();
        let timeout = self.cfg.cluster.heartbeat_timeout_ms;
        let now = self.now;
        let peers: Vec<ServerId> = self.peer_ids().filter(|p| self.watches(*p)).collect();
        for p in peers {
            let paths: Vec<PathId> = self.paths_to(p).collect();
            let peer = &self.peers[p.idx()];
            let expired = |path: &PathId| peer.last_heard[path.idx()].is_none_or(|t| t.saturating_add(timeout) <= now);
            let alive_paths = paths.iter().filter(|path| !expired(path)).count();
            if alive_paths == 0 {
                let d = peer.last_heard_any().map_or(now, |t| t.saturating_add(timeout));
                for path in &paths {
                    self.peers[p.idx()].path_down[path.idx()] = true;
                }
                self.peer_lost(p, d);
                continue;
            }
            let newly_down: Vec<PathId> =
                paths.into_iter().filter(|path| !peer.path_down[path.idx()] && expired(path)).collect();
            for path in newly_down {
                {
                    self.peers[p.idx()].path_down[path.idx()] = true;
                    self.recheck = true;
                    let name = self.cfg.heartbeats[path.idx()].name.clone();
                    self.emit(Event::new(EventKind::HeartbeatPathDown).peer(p).reason(name));
                }
            }
        }
        self.settle_zombies();
        self.schedule_liveness();
    }

    /// Counts every peer as heard now (B20: cluster resume), but those watched through
    /// the suspension (X1: they never confirmed it; their silence is real).
    pub(super) fn hear_everyone_now(&mut self, except: &[ServerId]) {
        let now = self.now;
        let peers: Vec<ServerId> = self.peer_ids().filter(|p| !except.contains(p)).collect();
        for p in peers {
            let paths: Vec<PathId> = self.paths_to(p).collect();
            let peer = &mut self.peers[p.idx()];
            // A peer lost before the suspend, its resolution dropped by it, is heard
            // now too: watched again, it is lost again unless it speaks (B13).
            let lost = peer.lost_at.take().is_some();
            for path in paths {
                if lost {
                    peer.path_down[path.idx()] = false;
                }
                if lost || peer.last_heard[path.idx()].is_some() {
                    peer.last_heard[path.idx()] = Some(now);
                }
            }
        }
        self.schedule_liveness();
    }

    // ---- startup synchronisation (B3) -------------------------------------------

    fn check_sync_complete(&mut self) {
        let Phase::Syncing { .. } = self.phase else { return };
        // Every configured server started, and its shared state is known (so placement
        // at formation sees every side's data, B106).
        let all_started = self.peer_ids().all(|p| {
            let peer = &self.peers[p.idx()];
            matches!(peer.state, ServerState::Syncing | ServerState::Suspended | ServerState::Online)
                && peer.shared.run == peer.run
        });
        if all_started {
            self.form(false);
        }
    }

    pub(super) fn on_sync_wait(&mut self) {
        if let Phase::Syncing { .. } = self.phase {
            self.form(true);
        }
    }

    pub(super) fn on_formed(&mut self, _from: ServerId, timeout: bool, members: &[ServerId]) {
        if let Phase::Syncing { .. } = self.phase {
            // Form with every server the sender counted, heard here yet or not: two
            // waiting servers that have not heard each other yet (start-up order, a
            // late path) would otherwise each see itself first among the members and
            // both coordinate — a group started twice. One not heard within
            // `heartbeat_timeout` is lost as usual.
            let now = self.now;
            for &p in members {
                if p == self.me || p.idx() >= self.peers.len() {
                    continue;
                }
                let paths: Vec<PathId> = self.paths_to(p).collect();
                let peer = &mut self.peers[p.idx()];
                if peer.judged_down || peer.may_hold() {
                    continue;
                }
                peer.state = ServerState::Syncing;
                peer.lost_at = None;
                for path in paths {
                    peer.last_heard[path.idx()] = Some(now);
                    peer.path_down[path.idx()] = false;
                }
            }
            self.form(timeout);
            self.schedule_liveness();
        }
    }

    /// The waiting servers present form the cluster together (B3).
    fn form(&mut self, timeout: bool) {
        let Phase::Syncing { suspended, .. } = self.phase else { return };
        let present: Vec<ServerId> = self
            .peer_ids()
            .filter(|p| matches!(self.peers[p.idx()].state, ServerState::Syncing | ServerState::Suspended))
            .collect();
        if timeout {
            let missing: Vec<String> =
                self.peer_ids().filter(|p| !present.contains(p)).map(|p| self.cfg.server(p).name.clone()).collect();
            self.emit(Event::new(EventKind::StartupSyncTimeout).reason(format!("missing: {}", missing.join(", "))));
        } else {
            self.emit(Event::new(EventKind::StartupSyncDone));
        }
        let mut members = present.clone();
        members.push(self.me);
        members.sort();
        for p in &present {
            self.send(*p, Message::Formed { timeout, members: members.clone() });
            // They form at this same instant by the same rule (or on our Formed).
            let peer = &mut self.peers[p.idx()];
            if peer.state == ServerState::Syncing {
                peer.state = ServerState::Online;
                self.member_since.insert(*p, self.now);
            }
        }
        self.cancel_timer(Timer::SyncWait);
        if suspended {
            self.enter_suspended();
            return;
        }
        self.become_member();
        match self.coordinator() {
            Some(c) if c == self.me => self.start_cluster(),
            // B5: it places the groups; kept in mind here should it go first.
            Some(c) => self.formation_duty = Some((c, self.peers[c.idx()].run, self.now)),
            None => {}
        }
    }

    /// B2: join a running cluster.
    fn join(&mut self) {
        let Phase::Syncing { suspended, .. } = self.phase else { return };
        self.cancel_timer(Timer::SyncWait);
        if !self.cluster_suspended && self.peers_report_suspended() {
            // B20, B123: the cluster we join is suspended: no heartbeat is sent or
            // checked here either until `cluster resume`. Joining it as if it ran, this
            // server judged every silent suspended member down and fenced them (B16).
            self.cluster_suspended = true;
            self.cancel_timer(Timer::Liveness);
            self.mark_dirty();
        }
        if suspended {
            self.enter_suspended();
            return;
        }
        self.become_member();
    }

    /// Waits for `server return` after an unclean end (B23), still heard and watching.
    fn enter_suspended(&mut self) {
        self.phase = Phase::Suspended;
        self.mark_dirty();
        self.schedule_liveness();
    }

    /// Becomes an online member: heartbeats watched, monitors and watches on (B6).
    pub(super) fn become_member(&mut self) {
        self.phase = Phase::Member;
        self.member_since.insert(self.me, self.now);
        self.members_seen.insert(self.me);
        self.emit(Event::new(EventKind::ServerJoined).peer(self.me));
        self.mark_dirty();
        self.schedule_liveness();
        if std::mem::take(&mut self.auto_return_pending) {
            // B24: back after an unclean end with auto_return: as `server return`.
            self.emit(Event::new(EventKind::ServerAutoReturned));
            self.start_recover_runs();
        } else {
            self.check_failbacks();
        }
    }

    /// `server return` on this server (B25, B26).
    pub(super) fn do_return(&mut self, force: bool) {
        assert!(self.phase.is_suspended(), "return of a server that is not suspended");
        self.cancel_timer(Timer::SyncWait);
        self.phase = Phase::Member;
        self.member_since.insert(self.me, self.now);
        self.members_seen.insert(self.me);
        if force {
            self.emit(Event::new(EventKind::ServerForceReturned));
            self.recover_groups.clear();
        } else {
            self.emit(Event::new(EventKind::ServerReturned));
        }
        self.mark_dirty();
        self.schedule_liveness();
        if !force {
            self.start_recover_runs();
        }
    }

    // ---- departures and down notices (B14–B17) -----------------------------------

    pub(super) fn on_departure(&mut self, from: ServerId, clean: bool, power_off: bool, groups: Vec<GroupId>) {
        // Before its state is forgotten: what it shared of its mirrors tells B106 whether
        // this server saw the other side go, and B110 whether it was copying to us.
        self.mirror_peer_went(from);
        if !self.cluster_stopping {
            self.adopt_takeovers(from, self.now);
        }
        let p = &mut self.peers[from.idx()];
        // Starts it held pending (B54) go with it unless someone takes them over.
        let groups = [groups, p.waiting_start_groups()].concat();
        p.forget_run();
        p.state = match (clean, power_off) {
            (false, _) => ServerState::Down,
            (true, true) => ServerState::Off,
            (true, false) => ServerState::Stopped,
        };
        self.members_seen.remove(&from);
        self.member_since.remove(&from);
        self.unlose(from);
        let kind = if clean { EventKind::ServerPlannedDown } else { EventKind::ServerFailureDown };
        self.emit(Event::new(kind).peer(from));
        let cluster_wide = match &self.phase {
            Phase::Leaving(l) => l.cluster_wide,
            Phase::Off | Phase::Syncing { .. } | Phase::Member | Phase::Suspended | Phase::Gone => false,
        };
        if !cluster_wide && !self.cluster_stopping {
            // B14, B55, B68: placed by the takeover coordinator; every member keeps the
            // groups in mind until they show somewhere or the coordinator handled them,
            // so a coordinator that is itself gone (crashed, not yet detected) does not
            // leave them offline for good.
            let run = self.peers[from.idx()].run;
            self.add_takeover(from, run, self.now, self.now, groups, false);
        }
    }
}
