//! Takeover of the groups of a server that went away (B44, B55): who places them, when,
//! and until when every other survivor keeps them in mind.
//!
//! In: peers judged down (at the verdict, placed at T), departures (B14, B15, B68),
//! unclean restarts seen before any verdict (B18), a peer judged down that is heard
//! again and yields under B17, the takeover and liveness timers, and every change of
//! view (a coordinator lost, departed or fenced). Out: failovers through placement, and
//! in the shared state the takeovers coordinated here and the starts still in transit.
//!
//! Every survivor records a lost server's groups; only the takeover coordinator places
//! them. The others keep the record until the groups show somewhere or the coordinator
//! says it handled the loss (and no start of it is still in transit there). So when the
//! coordinator is fenced, crashes, stalls or leaves before it placed them (or with a
//! start it sent and never saw confirmed), the next one in line places them.

use super::view::ClockSample;
use super::Node;
use crate::config::{GroupId, Ms, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{GroupState, ServerState, SharedTakeover, StartKind, Timer};

/// The groups of a lost or departed peer, waiting to be placed (B55).
#[derive(Clone, Debug)]
pub(super) struct Takeover {
    /// The run of the peer that ended.
    pub run: u64,
    /// From this instant on the peer's holdings were unknown to newcomers: a server
    /// that was a member then knew what it held and may coordinate.
    pub since_ms: Ms,
    /// Not placed before this instant (T of B44 after a verdict; at once otherwise).
    pub due_ms: Ms,
    /// What it held (B55), still to place.
    pub groups: Vec<GroupId>,
    /// Judged down here: its shared state is forgotten at T.
    pub judged: bool,
}

/// A peer judged down here, heard again, that yields under B17 (it runs `np_action`
/// when our down notice reaches it). What it said it held is taken over once it has
/// been silent for `heartbeat_timeout` (B13) or starts a new run.
#[derive(Clone, Debug)]
pub(super) struct Zombie {
    pub run: u64,
    pub groups: Vec<GroupId>,
    pub last_heard_ms: Ms,
}

impl Node {
    /// Records the groups of `p` (run `run`) to place at `due_ms` (B44, B55).
    pub(super) fn add_takeover(
        &mut self,
        p: ServerId,
        run: u64,
        since_ms: Ms,
        due_ms: Ms,
        groups: Vec<GroupId>,
        judged: bool,
    ) {
        if self.phase.is_suspended() {
            // B46: a suspended survivor only marks the lost peers down (B26 after). Its
            // verdict still makes the others take it for one that knew (`takeover_
            // coordinator`), so once it is a member the peer's next run ends this one
            // here as B18 does (generated seed 10212).
            if judged {
                self.peers[p.idx()].judged_unplaced = true;
            }
            return;
        }
        let t = self.takeovers.entry(p).or_insert(Takeover { run, since_ms, due_ms, groups: Vec::new(), judged });
        // A second loss of the same peer before the first settled: one takeover of all.
        t.run = t.run.max(run);
        t.since_ms = t.since_ms.min(since_ms);
        t.due_ms = t.due_ms.max(due_ms);
        t.judged |= judged;
        t.groups.extend(groups);
        t.groups.sort();
        t.groups.dedup();
        self.recheck = true;
        self.mark_dirty(); // shared: whoever outlives this server takes it over
        self.arm_takeover_timer();
    }

    /// The takeovers kept here, as shared with the peers.
    pub(super) fn shared_takeovers(&self) -> Vec<SharedTakeover> {
        self.takeovers
            .iter()
            .filter(|(_, t)| !t.groups.is_empty())
            .map(|(p, t)| SharedTakeover { lost: *p, run: t.run, due_ms: t.due_ms, groups: t.groups.clone() })
            .collect()
    }

    /// `from` goes (departed, judged down, or restarted) while it still kept takeovers
    /// of other lost servers (B55): they become ours, as if we had seen those losses
    /// at `since_ms`. Without this a server that joined after a loss, left alone when
    /// the one that knew goes before placing, would never place the lost groups. Not
    /// before their own due instant (B44: the lost server may be alive until then).
    /// Called before `from`'s shared state is forgotten.
    pub(super) fn adopt_takeovers(&mut self, from: ServerId, since_ms: Ms) {
        let kept = std::mem::take(&mut self.peers[from.idx()].shared.takeovers);
        let sender_clock = self.peers[from.idx()].clock_sample;
        for t in kept {
            // Our own earlier run is not a peer to take over from; one we already
            // coordinated was placed or left offline on purpose (B55, B56).
            let done = self.takeovers_done.get(&t.lost).is_some_and(|r| *r >= t.run);
            let settled = self.takeovers_settled.get(&t.lost).filter(|_| done);
            let groups: Vec<GroupId> = t
                .groups
                .into_iter()
                .filter(|g| g.idx() < self.groups.len() && !settled.is_some_and(|s| s.contains(g)))
                .collect();
            if t.lost == self.me || t.lost == from || groups.is_empty() {
                continue;
            }
            // T is an instant of the sender's clock: read it on ours (clocks differ).
            let due_ms = ClockSample::local_instant(sender_clock, t.due_ms);
            self.add_takeover(t.lost, t.run, since_ms, due_ms, groups, false);
        }
    }

    fn arm_takeover_timer(&mut self) {
        let now = self.now;
        if let Some(next) = self.takeovers.values().map(|t| t.due_ms).filter(|d| *d > now).min() {
            self.set_timer(Timer::Takeover, next);
        }
    }

    /// The takeover instant T of some peer (B44).
    pub(super) fn on_takeover(&mut self) {
        self.settle_takeovers();
    }

    /// Places, or keeps waiting for, every takeover that is due (B55).
    pub(super) fn settle_takeovers(&mut self) {
        self.place_unsettled();
        let now = self.now;
        let due: Vec<ServerId> = self.takeovers.iter().filter(|(_, t)| t.due_ms <= now).map(|(p, _)| *p).collect();
        if !due.is_empty() {
            self.mark_dirty(); // the takeovers shared may change
        }
        for p in due {
            let Some(mut t) = self.takeovers.remove(&p) else { continue };
            if p != self.me && self.peers[p.idx()].may_hold() && self.peers[p.idx()].run == t.run {
                // Adopted from a server that lost `p` while here it still runs the run
                // that was lost (heard, or lost but not judged): what shows on `p` is its
                // own holding, not a placement. Settled once we judge it down (B35), it
                // restarts (B18) or departs (B14); the down notice it was sent fences it
                // (B16).
                self.takeovers.insert(p, t);
                continue;
            }
            if std::mem::take(&mut t.judged) && self.peers[p.idx()].run == t.run && self.peers[p.idx()].judged_down {
                self.peers[p.idx()].forget_run(); // what it held is gone (B45)
            }
            let known = t.groups.clone();
            // Placed meanwhile (by the coordinator, a command, a failback): done.
            t.groups.retain(|g| self.holders(*g).is_empty() && !self.in_transit.contains_key(g));
            match self.takeover_coordinator(p, t.since_ms) {
                Some(c) if c == self.me => {
                    self.note_settled(p, t.run, &known);
                    self.fail_over_groups(&t.groups, StartKind::ServerFailover, Some(p));
                }
                Some(c) => {
                    let shared = &self.peers[c.idx()].shared;
                    if shared.takeovers_done.iter().any(|(s, r)| *s == p && *r >= t.run) {
                        // Handled there: what it settled and is not in transit there was
                        // left offline on purpose (no target, manual, B55, B56). A group
                        // it never knew of (the lost server's state or departure did not
                        // reach it) stays here: shared, the coordinator places it
                        // (`place_unsettled`).
                        t.groups
                            .retain(|g| shared.in_transit.contains(g) || !shared.takeovers_settled.contains(&(p, *g)));
                    }
                    if !t.groups.is_empty() {
                        self.takeovers.insert(p, t);
                    }
                }
                None => {
                    if !t.groups.is_empty() {
                        self.takeovers.insert(p, t); // nobody can coordinate now
                    }
                }
            }
        }
        self.arm_takeover_timer();
    }

    /// The takeover of `p`'s run `run` is coordinated here; `groups` are settled (placed
    /// now, found placed, or left offline on purpose).
    fn note_settled(&mut self, p: ServerId, run: u64, groups: &[GroupId]) {
        let done = self.takeovers_done.entry(p).or_insert(run);
        if *done < run {
            *done = run;
            self.takeovers_settled.remove(&p); // an earlier run's
        }
        self.takeovers_settled.entry(p).or_default().extend(groups.iter().copied());
        self.mark_dirty();
    }

    /// B55: groups of a loss coordinated here that this server never knew the lost
    /// server held, which a member still keeps (it received the state or departure
    /// that did not reach us: a one-way cut, a state request unanswered). Reporting the
    /// loss handled made every other survivor drop them, so they stayed offline for
    /// good (generated seeds 6468, 863). Placed now: the loss is settled here, so the
    /// run that held them is over (B44).
    fn place_unsettled(&mut self) {
        if !self.phase.is_member() || self.takeovers_done.is_empty() {
            return;
        }
        let mut found: Vec<(ServerId, GroupId)> = Vec::new();
        for q in self.peer_ids() {
            let peer = &self.peers[q.idx()];
            if !peer.may_hold() || peer.shared.run != peer.run {
                continue;
            }
            for st in &peer.shared.takeovers {
                let handled = self.takeovers_done.get(&st.lost).is_some_and(|r| *r >= st.run);
                if st.lost == self.me || !handled {
                    continue;
                }
                let settled = self.takeovers_settled.get(&st.lost);
                found.extend(
                    st.groups
                        .iter()
                        .filter(|g| g.idx() < self.groups.len() && !settled.is_some_and(|s| s.contains(g)))
                        .map(|g| (st.lost, *g)),
                );
            }
        }
        found.sort();
        found.dedup();
        for (p, g) in found {
            self.takeovers_settled.entry(p).or_default().insert(g);
            self.mark_dirty();
            let kept_here = self.takeovers.values().any(|t| t.groups.contains(&g));
            if self.holders(g).is_empty() && !self.in_transit.contains_key(&g) && !kept_here {
                self.fail_over_groups(&[g], StartKind::ServerFailover, Some(p));
            }
        }
    }

    /// Whether `s` may still be coordinating a takeover: an online member, or a peer
    /// that is lost but not judged yet, or judged down with its own T still ahead (until
    /// then it may be alive and placing, B44).
    fn may_coordinate(&self, s: ServerId) -> bool {
        if s == self.me || self.is_member(s) {
            return self.is_member(s);
        }
        let peer = &self.peers[s.idx()];
        if peer.judged_down {
            return self.takeovers.get(&s).is_some_and(|t| t.due_ms > self.now);
        }
        peer.lost_at.is_some() && peer.state == ServerState::Online
    }

    /// Who places the groups of `lost`: the first server in server order that may still
    /// coordinate and knew what `lost` held — this server (it recorded the takeover), a
    /// peer that says it judged `lost` down, or a peer that was a member at `since_ms`
    /// (a server that joined later never knew what `lost` held). A peer that is itself
    /// lost or judged down, its T not yet passed, is counted as one that knew: it may be
    /// placing them right now, and waiting for its T costs a few seconds at most.
    fn takeover_coordinator(&self, lost: ServerId, since_ms: Ms) -> Option<ServerId> {
        self.cfg.server_ids().find(|s| {
            *s != lost
                && self.may_coordinate(*s)
                && (*s == self.me
                    || !self.is_member(*s)
                    || self.peers[s.idx()].shared.judged_down.contains(&lost)
                    || self.member_since.get(s).is_some_and(|since| *since <= since_ms))
        })
    }

    /// B3, B5: the cluster formed with this server as coordinator: it places the
    /// automatic groups and says so (its own entry in the takeovers it coordinated).
    pub(super) fn start_cluster(&mut self) {
        self.emit(Event::new(EventKind::ClusterStarted));
        self.place_at_formation();
        self.note_settled(self.me, self.run, &[]);
    }

    /// B5: the coordinator of the formation was counted while already silent (it
    /// crashed during the wait) or went before it placed the groups: the next member
    /// of the formation places them, once that coordinator is gone for good.
    pub(super) fn settle_formation(&mut self) {
        let Some((c, mut run, formed_ms)) = self.formation_duty else { return };
        if !self.phase.is_member() {
            return;
        }
        if run == 0 && self.peers[c.idx()].run != 0 {
            // B3: we formed on a third server's `Formed` without ever hearing `c` (runs
            // start at 1, so 0 is "not heard yet"): the first run heard is the one that
            // formed with us. Taking it for a new run that never placed made this server
            // place the groups too (3node-majority seed 690: web on two servers).
            run = self.peers[c.idx()].run;
            self.formation_duty = Some((c, run, formed_ms));
        }
        let peer = &self.peers[c.idx()];
        let same_run = peer.run == run;
        if same_run && peer.shared.takeovers_done.iter().any(|(s, r)| *s == c && *r == run) {
            self.formation_duty = None; // placed there
            return;
        }
        // Still there: a member, lost but not yet judged, or still waiting to form (it
        // forms on our `Formed`, and its heartbeat may come first).
        let waiting = peer.state == ServerState::Syncing && !peer.judged_down;
        // B2, B3: our `Formed` was lost (a cut) and it found us online instead, so it
        // joined, and a join never places groups. Its own state says so: it reports
        // itself online in this run without the formation entry `start_cluster` adds
        // in the same step, so it will never place them.
        let joined_instead = same_run && peer.shared.run == run && peer.shared.state == Some(ServerState::Online);
        if same_run && !joined_instead && (waiting || self.may_coordinate(c)) {
            return; // may still place them
        }
        let next =
            if joined_instead { self.next_formation_coordinator(c) } else { self.takeover_coordinator(c, formed_ms) };
        match next {
            Some(d) if d == self.me => {
                self.formation_duty = None;
                self.start_cluster();
            }
            Some(d) => self.formation_duty = Some((d, self.peers[d.idx()].run, formed_ms)),
            None => {}
        }
    }

    /// The first member in server order other than `skipped` (a coordinator that joined
    /// instead of forming, still a member, so `takeover_coordinator` would name it).
    fn next_formation_coordinator(&self, skipped: ServerId) -> Option<ServerId> {
        self.cfg.server_ids().find(|s| *s != skipped && self.may_coordinate(*s))
    }

    /// The groups online, starting or stopping here (what a down notice carries, B17).
    pub(super) fn held_groups(&self) -> Vec<GroupId> {
        self.cfg
            .group_ids()
            .filter(|g| {
                matches!(self.groups[g.idx()].state, GroupState::Online | GroupState::Starting | GroupState::Stopping)
            })
            .collect()
    }

    /// `p`, judged down here, is fencing on our down notice (B16, B17) and says what it
    /// held.
    pub(super) fn on_fencing(&mut self, p: ServerId, groups: Vec<GroupId>) {
        if self.peers[p.idx()].judged_down && self.phase.is_running() {
            self.note_zombie(p, groups);
        }
    }

    /// B17: `p`, judged down here, yields (it judged us down too, or runs `np_action`
    /// on our notice): what it holds is taken over once it is gone. Every group online
    /// here and there is reported once (`group-double-online`).
    pub(super) fn note_zombie(&mut self, p: ServerId, groups: Vec<GroupId>) {
        let run = self.peers[p.idx()].run;
        let now = self.now;
        let reported = self.zombies.get(&p).filter(|z| z.run == run).map(|z| z.groups.clone()).unwrap_or_default();
        for g in groups.iter().copied() {
            if self.groups[g.idx()].state == GroupState::Online && !reported.contains(&g) {
                self.emit(Event::new(EventKind::GroupDoubleOnline).group(g).peer(p));
            }
        }
        let z = self.zombies.entry(p).or_insert(Zombie { run, groups: Vec::new(), last_heard_ms: now });
        z.last_heard_ms = now;
        z.groups.extend(groups);
        z.groups.sort();
        z.groups.dedup();
        self.schedule_liveness();
    }

    /// A heartbeat of a peer judged down: a yielding one is still there.
    pub(super) fn zombie_heard(&mut self, p: ServerId) {
        let now = self.now;
        if let Some(z) = self.zombies.get_mut(&p) {
            z.last_heard_ms = now;
        }
    }

    /// The earliest instant a yielding peer counts as gone.
    pub(super) fn zombie_deadline(&self) -> Option<Ms> {
        self.zombies.values().map(|z| z.last_heard_ms.saturating_add(self.cfg.cluster.heartbeat_timeout_ms)).min()
    }

    /// Yielding peers silent for `heartbeat_timeout` (B13), or started again, are gone:
    /// their groups are taken over like those of a peer judged down (B55).
    pub(super) fn settle_zombies(&mut self) {
        let timeout = self.cfg.cluster.heartbeat_timeout_ms;
        let now = self.now;
        let gone: Vec<ServerId> = self
            .zombies
            .iter()
            .filter(|(p, z)| z.last_heard_ms.saturating_add(timeout) <= now || self.peers[p.idx()].run != z.run)
            .map(|(p, _)| *p)
            .collect();
        for p in gone {
            let z = self.zombies.remove(&p).expect("listed above");
            self.add_takeover(p, z.run, now, now, z.groups, false);
        }
    }
}
