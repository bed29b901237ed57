//! What a server learns of the cluster from its members' states beyond their own
//! holdings: members it has not heard itself (B2, B11, B13), a suspended cluster it
//! joins (B20, B123), and a member back in a new run whose old run is taken over (B18).
//!
//! In: the states received (via `membership`) and the change of a peer to online. Out:
//! peers watched from now on (with what they hold), the cluster marked suspended here,
//! and takeovers made due at once.

use super::Node;
use crate::config::{PathId, ServerId};
use crate::io::{ServerState, SharedMember, SharedState};

impl Node {
    /// The peers watched here, with the run and holdings known here (B2, B13).
    pub(super) fn shared_members(&self) -> Vec<SharedMember> {
        self.peer_ids()
            .filter(|p| self.peers[p.idx()].watched())
            .map(|p| {
                let peer = &self.peers[p.idx()];
                let groups = if peer.shared.run == peer.run { peer.shared.groups.clone() } else { Vec::new() };
                SharedMember { server: p, run: peer.run, groups }
            })
            .collect()
    }

    /// B2, B11, B13: a member's state names members we have never heard in the run it
    /// names (they went silent before we started, or a path to us is cut). We watch them
    /// from now on, holding what the sender saw them hold: if they stay silent for
    /// `heartbeat_timeout` they are lost here too and their groups are taken over (B55),
    /// even after every server that knew them is gone. Without this a joiner never
    /// judged such a member down and its groups stayed offline for good.
    pub(super) fn watch_unheard_members(&mut self, from: ServerId) {
        if self.peers[from.idx()].state != ServerState::Online || !self.phase.is_running() {
            return;
        }
        let now = self.now;
        let listed = self.peers[from.idx()].shared.members.clone();
        for m in listed {
            if m.server == self.me || m.server == from || m.server.idx() >= self.peers.len() {
                continue;
            }
            let known = &self.peers[m.server.idx()];
            if m.run == known.run && known.may_hold() && known.shared.run != known.run && !m.groups.is_empty() {
                // B13, B55: heard in that run (a heartbeat) but its state never came
                // (our request went unanswered: it crashed, or the way back is cut).
                // What the sender saw it hold stands until its own state replaces it;
                // otherwise a takeover coordinator that joined just before its crash
                // judged it down holding nothing, reported the loss handled, and the
                // survivors that knew its groups dropped them (generated seed 863).
                let peer = &mut self.peers[m.server.idx()];
                peer.shared = SharedState {
                    run: m.run,
                    state: Some(peer.state),
                    groups: m.groups,
                    cluster_suspended: self.cluster_suspended,
                    suspend_epoch: self.suspend_epoch,
                    ..SharedState::default()
                };
                self.recheck = true;
                continue;
            }
            if m.run <= known.run || known.may_hold() {
                // That run (or a later one) is known here; or an earlier run still
                // counts here, whose end its own Hello settles (B18).
                continue;
            }
            if known.judged_unplaced {
                self.unplaced_run_ended(m.server);
            }
            let paths: Vec<PathId> = self.paths_to(m.server).collect();
            let peer = &mut self.peers[m.server.idx()];
            peer.run = m.run;
            peer.state = ServerState::Online;
            peer.judged_down = false;
            peer.lost_at = None;
            peer.version_seen = 0;
            // Version 0: its own state, when it comes, replaces this.
            peer.shared = SharedState {
                run: m.run,
                state: Some(ServerState::Online),
                groups: m.groups,
                ..SharedState::default()
            };
            for path in paths {
                peer.last_heard[path.idx()] = Some(now);
                peer.path_down[path.idx()] = false;
            }
            self.recheck = true;
        }
        self.schedule_liveness();
    }

    /// B18, B44: a member again in a new run proves that the run we keep a takeover of
    /// has ended, and released what it held; T waits for a loser that may still hold
    /// resources, and this one holds none. Placed now (and the restarted server is
    /// eligible again), rather than at T, which the keeper might not live to see.
    pub(super) fn restarted_member(&mut self, p: ServerId) {
        let (run, now) = (self.peers[p.idx()].run, self.now);
        if let Some(t) = self.takeovers.get_mut(&p).filter(|t| t.run < run && t.due_ms > now) {
            t.due_ms = now;
            self.recheck = true;
        }
    }

    /// Every running peer whose state of this run is known says the cluster is
    /// suspended (one that missed a resume alone does not make it so).
    pub(super) fn peers_report_suspended(&self) -> bool {
        let mut known = self
            .peer_ids()
            .map(|p| &self.peers[p.idx()])
            .filter(|peer| peer.may_hold() && peer.shared.run == peer.run && peer.state != ServerState::Syncing);
        let first = known.next();
        first.is_some_and(|f| f.shared.cluster_suspended) && known.all(|peer| peer.shared.cluster_suspended)
    }
}
