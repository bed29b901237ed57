//! Placement (B50–B57): which server runs a group. The choice itself is a pure
//! function of a [`PlacementView`], so every server holding the same knowledge picks
//! the same target; the coordinator applies it at formation and on server loss.
//!
//! In: the view (members, exclusive holdings, data readiness per mirror, fault times)
//! and the group. Out: the target, or none. The `impl Node` part builds views and sends
//! `StartGroup` to targets.

use super::Node;
use crate::config::{Config, FailoverMode, FailoverTarget, GroupId, Ms, ServerId, Startup};
use crate::event::{Event, EventKind};
use crate::io::{GroupState, Message, StartKind};
use crate::script::ClpEvent;

/// What placement needs to know, as bit sets over servers (at most 32, B132).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlacementView {
    /// Online members that are not lost (B51, B47).
    pub online: u32,
    /// Servers holding an exclusive group that is online, starting or stopping (B53).
    pub exclusive_busy: u32,
    /// Per group: servers that fail the data condition of its mirrors (B51, B106, B110).
    pub data_blocked: Vec<u32>,
    /// Per group: (server, latest fault time) since the group's last commanded start (B52).
    pub faults: Vec<Vec<(ServerId, Ms)>>,
    /// Per group: servers where it is not offline (starting, online, stopping, or in
    /// error), which refuse a start of it.
    pub held: Vec<u32>,
}

/// A start pending until the groups named in `start_after` are online (B54).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiting {
    /// Why the group is to start (decides `CLP_EVENT` and events when it does).
    pub kind: StartKind,
    /// `group-start-blocked` was reported for this wait.
    pub blocked_reported: bool,
}

fn bit(s: ServerId) -> u32 {
    1u32 << s.0
}

impl PlacementView {
    /// An empty view for `groups` groups.
    pub fn new(groups: usize) -> PlacementView {
        PlacementView {
            data_blocked: vec![0; groups],
            faults: vec![Vec::new(); groups],
            held: vec![0; groups],
            ..Default::default()
        }
    }

    /// Whether `s` may run `g` (B51). `leaving`: the server the group is leaving.
    /// A server that already holds `g` (in `error` there after a split brain or a failed
    /// start, B61, B74) is no target either: it refuses the start, and a failover sent
    /// to it would leave the group offline everywhere (B83.4 then takes step 5).
    pub fn eligible(&self, cfg: &Config, g: GroupId, s: ServerId, leaving: Option<ServerId>) -> bool {
        let grp = cfg.group(g);
        self.online & bit(s) != 0
            && grp.policy.contains(&s)
            && leaving != Some(s)
            && !(grp.exclusive && self.exclusive_busy & bit(s) != 0)
            && self.data_blocked.get(g.idx()).is_none_or(|m| m & bit(s) == 0)
            && self.held.get(g.idx()).is_none_or(|m| m & bit(s) == 0)
    }

    /// The target of `g` (B52): first eligible in policy, or the `stable` choice.
    pub fn target(&self, cfg: &Config, g: GroupId, leaving: Option<ServerId>) -> Option<ServerId> {
        let grp = cfg.group(g);
        let mut eligible = grp.policy.iter().copied().filter(|s| self.eligible(cfg, g, *s, leaving));
        match grp.failover_target {
            FailoverTarget::Priority => eligible.next(),
            FailoverTarget::Stable => {
                let faults = &self.faults[g.idx()];
                let fault_of = |s: ServerId| faults.iter().find(|(f, _)| *f == s).map(|(_, t)| *t);
                let all: Vec<ServerId> = eligible.collect();
                all.iter()
                    .copied()
                    .find(|s| fault_of(*s).is_none())
                    .or_else(|| all.iter().copied().min_by_key(|s| fault_of(*s).unwrap_or(0)))
            }
        }
    }

    /// Records that `g` now runs (or starts) on `s`, so later choices see it (B55).
    pub fn place(&mut self, cfg: &Config, g: GroupId, s: ServerId) {
        if cfg.group(g).exclusive {
            self.exclusive_busy |= bit(s);
        }
    }
}

impl Node {
    /// The placement view as this server knows the cluster now.
    pub(super) fn placement_view(&self) -> PlacementView {
        let mut v = PlacementView::new(self.cfg.groups.len());
        for s in self.cfg.server_ids() {
            if self.is_member(s) {
                v.online |= bit(s);
            }
        }
        for g in self.cfg.group_ids() {
            let grp = self.cfg.group(g);
            for s in self.cfg.server_ids() {
                if self.group_state_on(g, s) != GroupState::Offline {
                    v.held[g.idx()] |= bit(s);
                    if grp.exclusive {
                        v.exclusive_busy |= bit(s);
                    }
                }
            }
            for m in self.cfg.group_mirrors(g).collect::<Vec<_>>() {
                for s in grp.policy.iter().copied() {
                    if !self.mirror_side_ready(m, s) {
                        v.data_blocked[g.idx()] |= bit(s);
                    }
                }
            }
            v.faults[g.idx()] = self.group_faults(g);
        }
        // Starts and moves already sent but not yet visible at their target (B53).
        for (g, (t, _)) in &self.in_transit {
            if self.cfg.group(*g).exclusive {
                v.exclusive_busy |= bit(*t);
            }
        }
        v
    }

    /// Fault times of `g` per server known here, since the group's last start by cluster
    /// start or command (B52).
    fn group_faults(&self, g: GroupId) -> Vec<(ServerId, Ms)> {
        let epoch = self.epochs.get(&g).copied().unwrap_or(0);
        let mut out = Vec::new();
        for s in self.cfg.server_ids() {
            let t = if s == self.me {
                self.faults.get(&g).copied()
            } else {
                self.peers[s.idx()].shared.faults.iter().find(|(fg, _)| *fg == g).map(|(_, t)| *t)
            };
            if let Some(t) = t.filter(|t| *t >= epoch) {
                out.push((s, t));
            }
        }
        out
    }

    /// Sends (or runs here) the start of `g` on `target`.
    pub(super) fn start_on(&mut self, g: GroupId, target: ServerId, kind: StartKind, epoch_ms: Ms) {
        if !self.start_after_met(g) {
            // B54, whatever the reason for the start (failover, handover, placement of
            // several groups at once): it waits for the groups it names.
            self.defer_start(g, kind);
            return;
        }
        self.track_transit(g, target);
        if target == self.me {
            self.begin_start(g, kind, epoch_ms);
        } else {
            self.send(target, Message::StartGroup { group: g, kind, stable_epoch_ms: epoch_ms });
        }
    }

    /// B5: at formation the coordinator places every `startup = auto` group.
    pub(super) fn place_at_formation(&mut self) {
        let mut view = self.placement_view();
        for g in self.cfg.group_ids().collect::<Vec<_>>() {
            if self.cfg.group(g).startup != Startup::Auto || !self.holders(g).is_empty() {
                continue;
            }
            // A group whose start_after groups are not online waits (place_one, B54).
            self.place_one(&mut view, g, StartKind::ClusterStart, None);
        }
    }

    fn place_one(&mut self, view: &mut PlacementView, g: GroupId, kind: StartKind, leaving: Option<ServerId>) -> bool {
        if !self.start_after_met(g) {
            // B54 before B51: the target is chosen when the start can happen.
            self.defer_start(g, kind);
            return true;
        }
        match view.target(&self.cfg, g, leaving) {
            Some(t) => {
                view.place(&self.cfg, g, t);
                let epoch = match kind {
                    StartKind::ClusterStart => self.now,
                    StartKind::Command
                    | StartKind::Move
                    | StartKind::Failback
                    | StartKind::ServerFailover
                    | StartKind::ActivationFailover
                    | StartKind::MonitorFailover => self.group_epoch(g),
                };
                self.start_on(g, t, kind, epoch);
                true
            }
            None => {
                self.emit(
                    Event::new(EventKind::GroupNoTarget)
                        .group(g)
                        .because(None, "no eligible server in the policy (B51)"),
                );
                false
            }
        }
    }

    /// B55: fail over the groups of a server that was lost or departed.
    pub(super) fn fail_over_groups(&mut self, groups: &[GroupId], kind: StartKind, from: Option<ServerId>) {
        // The server whose groups these were is no target, unless it is a member again
        // in a new run (B18): then it is eligible like any other (B51).
        let leaving = from.filter(|p| !self.is_member(*p));
        let mut view = self.placement_view();
        let mut sorted = groups.to_vec();
        sorted.sort(); // file order (B55)
        sorted.dedup();
        for g in sorted {
            if !self.holders(g).is_empty() {
                continue; // already running elsewhere
            }
            if self.cfg.group(g).failover == FailoverMode::Manual {
                self.emit(
                    Event::new(EventKind::GroupFailoverHeld)
                        .group(g)
                        .because(Some(EventKind::ServerLost), "failover = \"manual\" (B55)"),
                );
                continue;
            }
            self.place_one(&mut view, g, kind, leaving);
        }
        if let Some(p) = from {
            self.emit(Event::new(EventKind::ServerFailedOver).peer(p));
        }
    }

    /// B54: whether every group named in `start_after` is online.
    /// A server on its way out does not count its own groups: they stop before it
    /// departs (a handover decided while leaving would otherwise start `g` elsewhere
    /// just as the group it names stops here).
    pub(super) fn start_after_met(&self, g: GroupId) -> bool {
        let leaving = self.leaving();
        self.cfg.group(g).start_after.iter().all(|d| {
            self.cfg
                .server_ids()
                .any(|s| !(leaving && s == self.me) && self.group_state_on(*d, s) == GroupState::Online)
        })
    }

    /// B54: the start of `g` (for `kind`) is pending until its `start_after` groups
    /// are online; the coordinator places it then (`reevaluate_waiting_starts`).
    pub(super) fn defer_start(&mut self, g: GroupId, kind: StartKind) {
        if self.waiting_starts.contains_key(&g) {
            return;
        }
        self.waiting_starts.insert(g, Waiting { kind, blocked_reported: false });
        let names: Vec<&str> = self
            .cfg
            .group(g)
            .start_after
            .iter()
            .filter(|d| !self.group_online_anywhere(**d))
            .map(|d| self.cfg.group(*d).name.as_str())
            .collect();
        let reason = format!("waits for {} (B54)", names.join(", "));
        self.emit(Event::new(EventKind::GroupStartWaiting).group(g).reason(reason));
        self.mark_dirty();
    }

    /// Remembers a start or move sent to `target` until it shows there.
    pub(super) fn track_transit(&mut self, g: GroupId, target: ServerId) {
        self.in_transit.insert(g, (target, self.now));
        self.arm_transit_check();
    }

    fn arm_transit_check(&mut self) {
        let limit = self.cfg.cluster.heartbeat_timeout_ms.saturating_mul(2);
        if let Some(first) = self.in_transit.values().map(|(_, since)| *since).min() {
            self.set_timer(crate::io::Timer::TransitCheck, first + limit);
        }
    }

    /// Settles starts and moves sent from here: forgotten once the target shows the
    /// group; placed again when the group is offline everywhere and the target is gone
    /// (judged down, departed) or never started it (refused, lost message) within
    /// 2 × heartbeat_timeout while its state is known here (not while its heartbeats
    /// announce a newer state that has not arrived). Without this a group handed to a
    /// server that fails at that moment would stay offline for good.
    pub(super) fn settle_in_transit(&mut self) {
        if self.in_transit.is_empty() || !self.phase.is_member() {
            return;
        }
        let limit = self.cfg.cluster.heartbeat_timeout_ms.saturating_mul(2);
        let now = self.now;
        let entries: Vec<(GroupId, ServerId, Ms)> = self.in_transit.iter().map(|(g, (t, s))| (*g, *t, *s)).collect();
        for (g, t, since) in entries {
            if self.group_state_on(g, t) != GroupState::Offline {
                self.in_transit.remove(&g);
                continue;
            }
            let target_gone = t != self.me && {
                let p = &self.peers[t.idx()];
                p.judged_down
                    || matches!(
                        p.state,
                        crate::io::ServerState::Down | crate::io::ServerState::Off | crate::io::ServerState::Stopped
                    )
            };
            let expired = since.saturating_add(limit) <= now;
            // The target deferred the start (B54, its view of start_after): the start
            // is pending there and the coordinator places it when it can.
            let deferred = t != self.me
                && !target_gone
                && self.peers[t.idx()].shared.waiting_starts.iter().any(|(wg, _)| *wg == g);
            if deferred {
                self.in_transit.remove(&g);
                continue;
            }
            if !(target_gone || expired) {
                continue;
            }
            // The target is heard (on some path) announcing a newer state than the one
            // held here: a cut keeps its state from arriving, and it may have started
            // the group since. That is not a lost start; placing the group again would
            // run it twice (generated seed 25294: a move during a one-way LAN cut, the
            // target heard on the disk path). Wait for its state, counting again from now
            // (after a heal the state comes and the next check settles it).
            let stale = t != self.me && !target_gone && {
                let p = &self.peers[t.idx()];
                p.version_seen > p.shared.version
            };
            if stale {
                self.in_transit.insert(g, (t, now));
                continue;
            }
            self.in_transit.remove(&g);
            if self.holders(g).is_empty() {
                self.replace_orphan(g, if target_gone { Some(t) } else { None });
            }
        }
        self.arm_transit_check();
    }

    /// Places a group that a failed handover left offline everywhere (as a failover).
    pub(super) fn replace_orphan(&mut self, g: GroupId, gone: Option<ServerId>) {
        if self.cfg.group(g).failover == FailoverMode::Manual {
            self.emit(Event::new(EventKind::GroupFailoverHeld).group(g).because(None, "failover = \"manual\" (B55)"));
            return;
        }
        let mut view = self.placement_view();
        self.place_one(&mut view, g, StartKind::ServerFailover, gone);
    }

    /// B54: start waiting groups whose dependencies came online; report blocked ones.
    ///
    /// A pending start is done once its group runs somewhere or is on its way to a
    /// server, wherever it is held. The coordinator places its own pending starts and
    /// those its members share (a server that stopped coordinating when an earlier one
    /// joined, or that deferred a start it was handed); a member keeps its copy until the
    /// coordinator's placing shows (the group runs somewhere).
    pub(super) fn reevaluate_waiting_starts(&mut self) {
        let done: Vec<GroupId> = self.waiting_starts.keys().copied().filter(|g| self.start_settled(*g)).collect();
        for g in done {
            self.waiting_starts.remove(&g);
            self.mark_dirty();
        }
        let running: Vec<GroupId> =
            self.unplaced_starts.iter().copied().filter(|g| !self.holders(*g).is_empty()).collect();
        for g in running {
            self.unplaced_starts.remove(&g);
        }
        if !self.phase.is_member() {
            return;
        }
        if !self.i_coordinate() {
            // Kept until the group runs somewhere: dropping it when the coordinator lists
            // it too would trust a view that may be older than the coordinator's placing.
            return;
        }
        let shared: Vec<(GroupId, StartKind)> = self
            .peer_ids()
            .filter(|p| self.is_running(*p))
            .flat_map(|p| self.peers[p.idx()].shared.waiting_starts.clone())
            .collect();
        for (g, kind) in shared {
            if !self.start_settled(g) && !self.unplaced_starts.contains(&g) && !self.waiting_starts.contains_key(&g) {
                self.waiting_starts.insert(g, Waiting { kind, blocked_reported: false });
                self.mark_dirty();
            }
        }
        let waiting: Vec<(GroupId, Waiting)> = self.waiting_starts.iter().map(|(g, w)| (*g, *w)).collect();
        let mut view = self.placement_view();
        for (g, w) in waiting {
            if self.start_after_met(g) {
                self.waiting_starts.remove(&g);
                self.mark_dirty();
                if !self.place_one(&mut view, g, w.kind, None) {
                    self.unplaced_starts.insert(g);
                }
                continue;
            }
            // A named group offline with no start pending (manual, in error, unplaced).
            let blocked = self.cfg.group(g).start_after.iter().any(|d| {
                let under_way = self.cfg.server_ids().any(|s| match self.group_state_on(*d, s) {
                    GroupState::Online | GroupState::Starting | GroupState::Stopping => true,
                    GroupState::Offline | GroupState::Error => false,
                });
                !under_way && !self.waiting_starts.contains_key(d) && !self.in_transit.contains_key(d)
            });
            if blocked && !w.blocked_reported {
                self.waiting_starts.insert(g, Waiting { blocked_reported: true, ..w });
                self.emit(Event::new(EventKind::GroupStartBlocked).group(g));
            }
        }
    }

    /// Whether a pending start of `g` has nothing left to do: the group runs (or is in
    /// error) somewhere, or a start of it is on its way from here.
    fn start_settled(&self, g: GroupId) -> bool {
        !self.holders(g).is_empty() || self.in_transit.contains_key(&g)
    }

    /// B57: this server became online: groups with `failback = "auto"` that it ranks
    /// above their current server move to it. The window stays open while such a group
    /// is still starting or stopping somewhere (e.g. its own failover after a restart).
    pub(super) fn check_failbacks(&mut self) {
        self.failback_window = true;
        self.failback_sent.clear();
        self.try_failbacks();
    }

    pub(super) fn try_failbacks(&mut self) {
        if !self.failback_window || self.recovering_for_return > 0 {
            return;
        }
        if !self.phase.is_member() {
            self.failback_window = false;
            return;
        }
        let view = self.placement_view();
        let mut unsettled = false;
        for g in self.cfg.group_ids() {
            if self.cfg.group(g).failback != crate::config::Failback::Auto || self.failback_sent.contains(&g) {
                continue;
            }
            let holders = self.holders(g);
            let [current] = holders.as_slice() else { continue };
            let (Some(my_rank), Some(cur_rank)) = (self.cfg.rank(g, self.me), self.cfg.rank(g, *current)) else {
                continue;
            };
            if my_rank >= cur_rank || *current == self.me {
                continue;
            }
            match self.group_state_on(g, *current) {
                GroupState::Online => {
                    // B54: a move is a start; it would wait after the stop.
                    if view.eligible(&self.cfg, g, self.me, Some(*current)) && self.start_after_met(g) {
                        self.failback_sent.insert(g);
                        self.send(*current, Message::MoveGroup { group: g, to: self.me, failback: true });
                    }
                }
                GroupState::Starting | GroupState::Stopping => unsettled = true,
                GroupState::Offline | GroupState::Error => {}
            }
        }
        if !unsettled {
            self.failback_window = false;
        }
    }

    /// `CLP_EVENT` of a start at cluster formation (B92): from the stop record.
    pub(super) fn cluster_start_event(&self, g: GroupId) -> ClpEvent {
        let record = self
            .persisted
            .stop_record
            .iter()
            .chain(self.peer_ids().flat_map(|p| self.peers[p.idx()].shared.stop_record.iter()))
            .find(|(rg, _)| *rg == g)
            .map(|(_, s)| *s);
        match (record.and_then(|s| self.cfg.rank(g, s)), self.cfg.rank(g, self.me)) {
            (Some(rec), Some(mine)) if mine > rec => ClpEvent::Failover,
            (Some(_), Some(_)) | (None, _) | (_, None) => ClpEvent::Start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg(servers: usize, groups: usize, exclusive: bool) -> Config {
        crate::node::test_support::synthetic_config(servers, groups, exclusive)
    }

    proptest! {
        /// A chosen target is always in the policy, eligible, and (priority) the first such.
        #[test]
        fn target_is_first_eligible_in_policy(online in any::<u32>(), busy in any::<u32>(), blocked in any::<u32>(), leaving in 0u16..8) {
            let c = cfg(8, 3, true);
            let mut v = PlacementView::new(3);
            v.online = online & 0xff;
            v.exclusive_busy = busy & 0xff;
            v.data_blocked[0] = blocked & 0xff;
            let g = GroupId(0);
            let t = v.target(&c, g, Some(ServerId(leaving)));
            let first = c.group(g).policy.iter().copied().find(|s| v.eligible(&c, g, *s, Some(ServerId(leaving))));
            prop_assert_eq!(t, first);
            if let Some(t) = t {
                prop_assert!(c.group(g).policy.contains(&t));
                prop_assert!(v.online & (1 << t.0) != 0);
                prop_assert!(v.exclusive_busy & (1 << t.0) == 0);
                prop_assert!(t != ServerId(leaving));
            }
        }

        /// Placing exclusive groups one after another never puts two on one server.
        #[test]
        fn exclusive_groups_never_share(online in any::<u32>()) {
            let c = cfg(6, 6, true);
            let mut v = PlacementView::new(6);
            v.online = online & 0x3f;
            let mut used = 0u32;
            for g in c.group_ids() {
                if let Some(t) = v.target(&c, g, None) {
                    prop_assert!(used & (1 << t.0) == 0);
                    used |= 1 << t.0;
                    v.place(&c, g, t);
                }
            }
        }

        /// The same view gives the same target, whoever computes it.
        #[test]
        fn same_view_same_target(online in any::<u32>(), busy in any::<u32>()) {
            let c = cfg(8, 4, false);
            let mut a = PlacementView::new(4);
            a.online = online & 0xff;
            a.exclusive_busy = busy & 0xff;
            let b = a.clone();
            for g in c.group_ids() {
                prop_assert_eq!(a.target(&c, g, None), b.target(&c, g, None));
            }
        }
    }

    #[test]
    fn stable_prefers_servers_without_faults_then_oldest_fault() {
        let mut c = cfg(3, 1, false);
        c.groups[0].failover_target = FailoverTarget::Stable;
        let mut v = PlacementView::new(1);
        v.online = 0b111;
        v.faults[0] = vec![(ServerId(0), 50), (ServerId(1), 10)];
        assert_eq!(v.target(&c, GroupId(0), None), Some(ServerId(2)));
        v.faults[0].push((ServerId(2), 70));
        assert_eq!(v.target(&c, GroupId(0), None), Some(ServerId(1)));
    }
}
