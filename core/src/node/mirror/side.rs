//! A side's record kept in step with what the rest of the cluster shows: behind when
//! the other side is ahead, forced or lost (B104, B116), and on a hybrid disk the record
//! of the server of this side where the mirror is online (B115).
//!
//! In: the records shared by peers. Out: record changes (persisted and shared).

use super::*;
use crate::io::GroupState;

impl Node {
    /// B100, B115: a hybrid side is one device for every server of its server group, and
    /// so is its record (on the shared metadata device). While the mirror is online on
    /// another server of this side, that server's record is this side's: its break time,
    /// its last write and its full-copy need. Without this, a move within the server
    /// group found the new server with its own older record (synced, or ahead with no
    /// write) and it broke again or copied nothing, forgetting the writes made before the
    /// move; the other side then took over on stale data.
    pub(super) fn follow_side_holder(&mut self, i: usize) {
        let res = self.mirrors.runs[i].res;
        let Some(mine) = self.mirrors.runs[i].my_side else { return };
        if self.res_state(res) != ResState::Offline {
            return; // online (or going) here: this server's record is the side's
        }
        if self.mirrors.runs[i].disk_error {
            // B116: this server found the side's device failed; that is newer than what
            // the holder last shared (its own report may not get through a partition).
            return;
        }
        let Some(h) = self.side_holder(res, mine) else { return };
        let shared = &self.peers[h.idx()].shared;
        let Some(rec) = shared.mirrors.iter().find(|(r, sd, _)| *r == res && *sd == mine).map(|(_, _, rec)| *rec)
        else {
            return;
        };
        let full_next = shared.mirror_full_next.contains(&res);
        if full_next && !self.mirrors.runs[i].full_next {
            self.mirrors.runs[i].full_next = true;
            self.mark_dirty();
        }
        self.set_record(res, rec);
    }

    /// Another server of this side where the mirror is up: online or stopping there, so
    /// its record is current. (Not while starting: the mirror may not be activated yet
    /// and its record is old.)
    fn side_holder(&self, res: ResId, side: u8) -> Option<ServerId> {
        let g = self.cfg.resource(res).group;
        self.mirror_cfg(res).sides[side as usize].servers.iter().copied().find(|s| {
            *s != self.me
                && self.is_running(*s)
                && matches!(self.group_state_on(g, *s), GroupState::Online | GroupState::Stopping)
        })
    }

    /// B104: a side that sees the other side ahead (or forced) records that it is
    /// behind, so it still knows after the other side is gone; only a rebuild makes it
    /// synced again.
    pub(super) fn note_behind(&mut self, i: usize) {
        let res = self.mirrors.runs[i].res;
        let Some(mine) = self.mirrors.runs[i].my_side else { return };
        // The side where the mirror is online, or that just copied to the other side,
        // holds the latest data: the other side's record may simply not be updated yet.
        let just_copied = self.mirrors.runs[i]
            .awaiting_ack
            .is_some_and(|(_, at)| at.saturating_add(self.cfg.cluster.heartbeat_interval_ms) > self.now);
        if self.res_state(res) == ResState::Online || just_copied || self.mirrors.runs[i].rebuild.is_some() {
            return;
        }
        // A hybrid side is one device for several servers: a same-side server's worse
        // record (a disk error, a loss) is this server's too. While the mirror is up on
        // a server of this side, that server's record is the side's (B115,
        // `follow_side_holder`): another same-side server's full-copy need is then an
        // old record, not news, and only a loss (a device found failed, B116) still
        // counts. Taking its `behind (full)` over the holder's `synced` made two servers
        // of a side trade the two for ever (a state storm, generated seed 2358).
        let holder = self.side_holder(res, mine);
        let same_side_worse = self.mirror_cfg(res).sides[mine as usize].servers.iter().find_map(|s| {
            if *s == self.me || !self.is_running(*s) {
                return None;
            }
            self.peers[s.idx()].shared.mirrors.iter().find(|(r, sd, _)| *r == res && *sd == mine).and_then(
                |(_, _, rec)| match rec {
                    MirrorRecord::Lost => Some(*rec),
                    MirrorRecord::Behind { full: true } if holder.is_none() => Some(*rec),
                    MirrorRecord::Behind { full: true } => None,
                    MirrorRecord::Behind { full: false }
                    | MirrorRecord::Synced
                    | MirrorRecord::Closed
                    | MirrorRecord::Ahead { .. }
                    | MirrorRecord::Forced => None,
                },
            )
        });
        if let Some(rec) = same_side_worse {
            // Only a strictly worse record is taken over: two servers of one side holding
            // `lost` and `behind (full)` would otherwise swap them for ever (a message
            // storm found by exploration, 3node-hybrid seed 931).
            if worse_rank(rec) > worse_rank(self.mirrors.runs[i].record) {
                self.mirrors.runs[i].full_next = true;
                self.set_record(res, rec);
            }
            return;
        }
        let other = self.visible_record(res, 1 - mine).map(|(r, _)| r).or_else(|| self.lost_record(res, 1 - mine));
        let full = match other {
            Some(MirrorRecord::Forced) => true,
            // B116: a side lost with a disk error was ahead of this one (it held the only
            // latest data): this side is behind too, and stays so once the lost side is
            // gone, so that it never becomes the latest by seeing it go (B106, B111). Only
            // `mirror force` makes it the latest (B112). (choice: a lost side that broke
            // and never wrote counts the same; its record does not tell.)
            Some(MirrorRecord::Ahead { .. } | MirrorRecord::Lost) => false,
            Some(MirrorRecord::Synced | MirrorRecord::Closed | MirrorRecord::Behind { .. }) | None => return,
        };
        match self.mirrors.runs[i].record {
            MirrorRecord::Synced | MirrorRecord::Closed => self.set_record(res, MirrorRecord::Behind { full }),
            MirrorRecord::Behind { full: false } if full => self.set_record(res, MirrorRecord::Behind { full }),
            MirrorRecord::Behind { .. } | MirrorRecord::Ahead { .. } | MirrorRecord::Forced | MirrorRecord::Lost => {}
        }
    }
}

impl Node {
    /// B104: the record last shared by a server of `side` that is lost and not yet
    /// judged (its resolution pending). Not visible for B106 (its server may be gone),
    /// but what it says still holds: a side that broke and wrote is ahead of this one
    /// whatever the resolution decides. A one-way cut let such a server break and tell
    /// this one (its messages still got through) while this one, not hearing its
    /// heartbeats, judged it down and took the group over on stale data (2node-mirror
    /// seed 101687).
    fn lost_record(&self, res: ResId, side: u8) -> Option<MirrorRecord> {
        self.mirror_cfg(res).sides[side as usize].servers.iter().find_map(|s| {
            let p = &self.peers[s.idx()];
            if *s == self.me || p.lost_at.is_none() || !p.may_hold() {
                return None;
            }
            p.shared.mirrors.iter().find(|(r, sd, _)| *r == res && *sd == side).map(|(_, _, rec)| *rec)
        })
    }
}

/// How bad a side record is for the "same side, worse record" rule (B116): a lost side
/// (the latest data gone with its device) is worse than one due a full copy.
fn worse_rank(rec: MirrorRecord) -> u8 {
    match rec {
        MirrorRecord::Lost => 2,
        MirrorRecord::Behind { full: true } => 1,
        MirrorRecord::Behind { full: false }
        | MirrorRecord::Synced
        | MirrorRecord::Closed
        | MirrorRecord::Ahead { .. }
        | MirrorRecord::Forced => 0,
    }
}
