//! Mirror rebuilds (B107–B112): the automatic rebuild when the other side is back and
//! behind, commanded and forced rebuilds, and their completion.
//!
//! In: the mirror's records and connect state (from `mirror`), copy results, `mirror
//! rebuild` / `mirror force`. Out: `MirrorCopy` actions, record messages, rebuild events.

use super::*;

impl Node {
    pub(in crate::node) fn maybe_auto_rebuild(&mut self, res: ResId) {
        let Some(mine) = self.side_of(res, self.me) else { return };
        let other = 1 - mine;
        let Some(dest) =
            self.mirror_cfg(res).sides[other as usize].servers.iter().copied().find(|s| self.is_member(*s))
        else {
            return;
        };
        if self.mirror_latest(res) != Latest::Side(mine) {
            return;
        }
        let i = self.mirrors.idx(res).expect("mirror");
        if let Some((d, at)) = self.mirrors.runs[i].awaiting_ack {
            let fresh = at.saturating_add(self.cfg.cluster.heartbeat_interval_ms) > self.now;
            if d == dest && fresh && matches!(self.visible_record(res, other), Some((MirrorRecord::Behind { .. }, _))) {
                return; // our copy just finished; its new record is on its way
            }
            self.mirrors.runs[i].awaiting_ack = None;
        }
        let p = &self.peers[dest.idx()];
        if p.version_seen > p.shared.version {
            // B108, B116: its heartbeat announces a newer state than the one held here (a
            // state request is pending, e.g. across a one-way cut). That state may carry a
            // disk error or a full-copy need; a copy chosen on the older one could be
            // "no copy needed" onto a replaced, empty device. Wait for it.
            return;
        }
        if self.peers[dest.idx()].shared.mirror_disk_error.contains(&res) {
            return; // B116: a side with a disk error is rebuilt by `mirror rebuild` once repaired
        }
        self.start_rebuild(res, dest);
    }

    /// Starts a copy from this side to `dest` (B107–B109).
    pub(in crate::node) fn start_rebuild(&mut self, res: ResId, dest: ServerId) {
        let i = self.mirrors.idx(res).expect("mirror");
        let other = 1 - self.side_of(res, self.me).expect("a side of this mirror");
        let dest_shared = &self.peers[dest.idx()].shared;
        let full = self.mirrors.runs[i].full_next
            || dest_shared.mirror_full_next.contains(&res)
            || matches!(self.visible_record(res, other), Some((MirrorRecord::Behind { full: true }, _)))
            || self.mirrors.runs[i].record == MirrorRecord::Forced;
        let nothing_written = matches!(self.mirrors.runs[i].record, MirrorRecord::Ahead { updated_ms: None, .. });
        if !full && nothing_written {
            self.emit(Event::new(EventKind::MirrorNoCopyNeeded).resource(res));
            self.finish_rebuild(res, dest);
            return;
        }
        if full {
            self.emit(
                Event::new(EventKind::MirrorFullCopy)
                    .resource(res)
                    .reason("both sides down together, forced recovery, disk error or interrupted rebuild (B108)"),
            );
        }
        let mode = if full { "full" } else { "differential" };
        self.emit(
            Event::new(EventKind::MirrorRebuildStarted)
                .resource(res)
                .peer(dest)
                .reason(format!("{mode} copy to {}", self.cfg.server(dest).name))
                .because(None, "the other side is back and behind (B107)"),
        );
        let id = self.execute(Action::MirrorCopy { res, to: dest, full }, Pending::MirrorCopy { res, to: dest }, None);
        self.mirrors.runs[i].rebuild = Some((id, dest, full));
        self.mark_dirty();
    }

    pub(in crate::node) fn on_mirror_copy_done(&mut self, res: ResId, to: ServerId, result: ActionResult) {
        let i = self.mirrors.idx(res).expect("mirror");
        self.mirrors.runs[i].rebuild = None;
        match result {
            ActionResult::Ok | ActionResult::Probe(_) | ActionResult::Check { .. } => {
                self.emit(Event::new(EventKind::MirrorRebuildDone).resource(res).peer(to));
                self.finish_rebuild(res, to);
            }
            ActionResult::Failed(reason) => {
                self.mirrors.runs[i].full_next = true;
                self.emit(Event::new(EventKind::MirrorRebuildFailed).resource(res).reason(reason));
                self.mark_dirty();
            }
        }
    }

    pub(in crate::node) fn finish_rebuild(&mut self, res: ResId, to: ServerId) {
        let i = self.mirrors.idx(res).expect("mirror");
        self.mirrors.runs[i].awaiting_ack = Some((to, self.now));
        self.mirrors.runs[i].full_next = false;
        self.mirrors.runs[i].saw_other_go = false;
        self.set_record(res, MirrorRecord::Synced);
        let other = 1 - self.side_of(res, self.me).expect("a side");
        // Every server of the destination side (a hybrid side is one shared device).
        let dest: Vec<ServerId> = self.mirror_cfg(res).sides[other as usize]
            .servers
            .iter()
            .copied()
            .filter(|s| *s != self.me && self.is_running(*s))
            .collect();
        for s in dest {
            self.send(s, Message::MirrorRecord { res, side: other, record: MirrorRecord::Synced });
        }
        self.mark_dirty();
    }

    /// B112: `mirror force` on this server.
    pub(in crate::node) fn force_mirror(&mut self, res: ResId) {
        let Some(i) = self.mirrors.idx(res) else { return };
        self.mirrors.runs[i].full_next = true;
        self.set_record(res, MirrorRecord::Forced);
        self.emit(Event::new(EventKind::MirrorForced).resource(res));
        let mine = self.side_of(res, self.me).expect("a side");
        let other = 1 - mine;
        for s in self.other_side_servers(res) {
            if self.is_running(s) {
                self.send(s, Message::MirrorRecord { res, side: other, record: MirrorRecord::Behind { full: true } });
            }
        }
        let dest = self.other_side_servers(res).into_iter().find(|s| self.is_member(*s));
        if let Some(dest) = dest {
            if self.mirror_connected(res) {
                self.start_rebuild(res, dest);
            }
        }
    }

    /// Servers of the side holding the latest data that run (for `mirror rebuild`).
    pub(in crate::node) fn latest_side_server(&self, res: ResId) -> Option<ServerId> {
        let Latest::Side(side) = self.mirror_latest(res) else { return None };
        self.mirror_cfg(res).sides[side as usize].servers.iter().copied().find(|s| self.is_running(*s))
    }

    pub(in crate::node) fn mirror_behind_side_server(&self, res: ResId) -> Option<ServerId> {
        let Latest::Side(side) = self.mirror_latest(res) else { return None };
        self.mirror_cfg(res).sides[1 - side as usize].servers.iter().copied().find(|s| self.is_member(*s))
    }

    /// B110: the running copy of mirror run `i` cannot go on: cancel it, and the next
    /// copy is full.
    pub(super) fn abort_rebuild(&mut self, i: usize, res: ResId, why: &str) {
        if let Some((id, _, _)) = self.mirrors.runs[i].rebuild.take() {
            self.mirrors.runs[i].full_next = true;
            self.pending.remove(&id);
            self.out.push(crate::io::Output::Cancel { id });
            self.emit(Event::new(EventKind::MirrorRebuildFailed).resource(res).reason(why));
        }
    }
}
