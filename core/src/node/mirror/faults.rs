//! Mirror faults and endings: async writes lost (B101), the first write after a break
//! (B103), data-device errors (B116), a peer going away (B106, B110), closing at a
//! cluster stop (B103), and the side kept after a double activation (B117).
//!
//! In: driver reports and cluster-wide decisions. Out: record changes, events, fencing.

use super::*;

impl Node {
    /// B101: async writes of the failed side never arrived here. Which regions they
    /// touched is unknown, so the other side's next rebuild must be full.
    pub(in crate::node) fn on_mirror_writes_lost(&mut self, res: ResId, bytes: u64) {
        let Some(i) = self.mirrors.idx(res) else { return };
        self.mirrors.runs[i].full_next = true;
        self.mark_dirty();
        self.emit(
            Event::new(EventKind::MirrorWritesLost)
                .resource(res)
                .reason(format!("{bytes} bytes"))
                .because(None, "async writes not yet sent when the other side failed (B101)"),
        );
    }

    /// B103: the first write after a break records the update time.
    pub(in crate::node) fn on_mirror_written(&mut self, res: ResId, bytes: u64) {
        let _ = bytes;
        if let Some(MirrorRecord::Ahead { break_ms, updated_ms: None }) = self.my_record(res) {
            self.set_record(res, MirrorRecord::Ahead { break_ms, updated_ms: Some(self.now) });
        }
    }

    /// B116: an I/O error on this side's data device.
    pub(in crate::node) fn on_mirror_disk_error(&mut self, res: ResId) {
        let Some(i) = self.mirrors.idx(res) else { return };
        self.emit(Event::new(EventKind::MirrorDiskError).resource(res));
        self.mirrors.runs[i].full_next = true;
        self.mirrors.runs[i].disk_error = true;
        // (choice) A side that held the only newer data keeps its ahead record with the
        // disk error: the latest data is lost, not moved to the other side (B106: the
        // mirror is in error until `mirror force`).
        let was_latest = matches!(
            self.mirrors.runs[i].record,
            MirrorRecord::Ahead { .. } | MirrorRecord::Forced | MirrorRecord::Lost
        );
        let record = if was_latest { MirrorRecord::Lost } else { MirrorRecord::Behind { full: true } };
        self.set_record(res, record);
        // A hybrid side is one device for its whole server group: tell the others.
        if let Some(side) = self.mirrors.runs[i].my_side {
            let same_side: Vec<ServerId> = self.mirror_cfg(res).sides[side as usize]
                .servers
                .iter()
                .copied()
                .filter(|s| *s != self.me && self.is_running(*s))
                .collect();
            for s in same_side {
                self.send(s, Message::MirrorRecord { res, side, record });
            }
        }
        // Online here, or coming online: the device under the application failed.
        if matches!(self.res_state(res), ResState::Online | ResState::Activating) {
            self.fence(
                crate::io::PowerAction::EmergencyReboot,
                EventKind::EmergencyReboot,
                "I/O error on the data device of an online mirror (B116)",
            );
        }
    }

    /// A peer left (judged down or departed): note it for B106, stop copies to it (B110).
    /// Called while the peer's last shared state is still known.
    pub(in crate::node) fn mirror_peer_went(&mut self, peer: ServerId) {
        for i in 0..self.mirrors.runs.len() {
            let res = self.mirrors.runs[i].res;
            // B106: it saw the other side go only if they were connected until it went
            // silent (a connect lost with the heartbeats, as in a crash or a partition,
            // counts); a connect lost well before leaves the other side time to write alone.
            let went_silent = self.peers[peer.idx()].last_heard_any().unwrap_or(self.now);
            let margin = self.cfg.cluster.heartbeat_interval_ms;
            let connected_until_now = self.mirrors.runs[i].links.iter().any(|u| *u)
                || self.mirrors.runs[i].connect_down_since.is_some_and(|t| t.saturating_add(margin) >= went_silent);
            // B106 "ran without interruption since the other side was last connected":
            // only if this run knew the other side's record (paired with it, or saw it
            // behind; a side seen ahead or lost made this one behind, B104). A server
            // that never got the peer's state this run (a one-way cut during start-up)
            // cannot tell what it wrote before this run began.
            let shared = &self.peers[peer.idx()].shared;
            let paired_this_run = shared.run != 0
                && shared.run == self.peers[peer.idx()].run
                && shared.mirrors.iter().any(|(r, _, _)| *r == res);
            // B102, B106: the peer's own driver reported the connect down. It may then
            // break and write alone while only this server's view of the connect is up
            // (a one-way cut; a hybrid side whose link here goes to another, stopped,
            // server of the peer's side), until it is judged down and fences: this
            // server cannot tell that it did not (3node-hybrid seed 118953).
            let peer_may_have_broken = shared.mirror_connect_down.contains(&res);
            if self.other_side_servers(res).contains(&peer) && self.phase.is_running() {
                self.mirrors.runs[i].saw_other_go = connected_until_now && paired_this_run && !peer_may_have_broken;
            }
            // B110: a copy toward this side stops when its source goes away.
            let copying_to_me = self.peers[peer.idx()].shared.rebuilding.contains(&res)
                && self.mirrors.runs[i].my_side.is_some()
                && self.other_side_servers(res).contains(&peer);
            if copying_to_me {
                self.mirrors.runs[i].full_next = true;
                self.emit(
                    Event::new(EventKind::MirrorRebuildFailed)
                        .resource(res)
                        .peer(peer)
                        .reason("the source went away (B110)"),
                );
            }
            if self.mirrors.runs[i].rebuild.is_some_and(|(_, to, _)| to == peer) {
                self.abort_rebuild(i, res, "the destination went away (B110)");
            }
        }
        self.mark_dirty();
    }

    /// B106: a server of the other side that this server judged down is heard again in
    /// the same run (a split brain, or a fence that never came): it ran all along, and
    /// may have broken and written alone. This server did not see the other side go,
    /// whatever it concluded at the judgement; which side holds the latest data is known
    /// again only from the other side's record (2node-mirror seed 110594).
    pub(in crate::node) fn mirror_other_side_ran(&mut self, peer: ServerId) {
        for i in 0..self.mirrors.runs.len() {
            let res = self.mirrors.runs[i].res;
            if self.mirrors.runs[i].saw_other_go && self.other_side_servers(res).contains(&peer) {
                self.mirrors.runs[i].saw_other_go = false;
                self.mark_dirty();
            }
        }
    }

    /// B103: a cluster stop or shutdown while synced closes the side.
    pub(in crate::node) fn close_mirrors(&mut self) {
        for i in 0..self.mirrors.runs.len() {
            if self.mirrors.runs[i].my_side.is_some() && self.mirrors.runs[i].record == MirrorRecord::Synced {
                self.mirrors.runs[i].record = MirrorRecord::Closed;
            }
        }
        self.mark_dirty();
    }

    /// B117: after a mutual down judgement settled in this server's favour, mirrors
    /// online here were online on both sides; this side is kept as the latest, as after
    /// a forced recovery, and the other side's next rebuild is full.
    pub(in crate::node) fn keep_mirrors_after_double_active(&mut self, peer: ServerId) {
        for i in 0..self.mirrors.runs.len() {
            let res = self.mirrors.runs[i].res;
            if self.res_state(res) != ResState::Online || !self.other_side_servers(res).contains(&peer) {
                continue;
            }
            self.emit(
                Event::new(EventKind::MirrorDoubleActive).resource(res).peer(peer).because(
                    Some(EventKind::GroupDoubleOnline),
                    "kept as the latest, as after a forced recovery (B117)",
                ),
            );
            self.mirrors.runs[i].full_next = true;
            self.set_record(res, MirrorRecord::Forced);
        }
    }
}
