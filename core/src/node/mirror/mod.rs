//! Mirror and hybrid disks (B100–B117): each side's record, which side holds the latest
//! data, breaks, automatic and commanded rebuilds, forced recovery, disk errors, and
//! the refusal to activate stale data.
//!
//! In: the mirror resource coming online, peers going away or coming back, writes,
//! disk errors, copy results, record messages. Out: record changes (persisted and
//! shared), `MirrorCopy` actions, `mirror-*` events, and the answers placement and
//! activation need (`mirror_side_ready`, `mirror_may_activate`).

mod faults;
mod rebuild;
mod side;

use super::group::ResState;
use super::{Node, Pending};
use crate::config::{Config, ResId, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{Action, ActionId, ActionResult, Message, MirrorRecord};

/// A mirror's state as `expect mirror` and status report it (B105).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorStatus {
    Normal,
    Degraded,
    Rebuilding,
    Error,
}

impl MirrorStatus {
    pub fn name(self) -> &'static str {
        match self {
            MirrorStatus::Normal => "normal",
            MirrorStatus::Degraded => "degraded",
            MirrorStatus::Rebuilding => "rebuilding",
            MirrorStatus::Error => "error",
        }
    }
}

/// Which side holds the latest data (B106).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Latest {
    Side(u8),
    Both,
    Undetermined,
    /// No running side holds it (behind only, or nobody running).
    Nobody,
}

#[derive(Clone, Debug)]
pub(super) struct MirrorRun {
    pub res: ResId,
    pub my_side: Option<u8>,
    pub record: MirrorRecord,
    /// This server saw the other side go while it ran (B106, one side visible).
    pub saw_other_go: bool,
    /// The next rebuild must be full (B108).
    pub full_next: bool,
    /// A copy from this server in flight: (action, destination, full).
    pub rebuild: Option<(ActionId, ServerId, bool)>,
    /// The driver's connection on each connect network (as last reported; up until told).
    pub links: Vec<bool>,
    /// Since when no connect network carries traffic.
    pub connect_down_since: Option<crate::config::Ms>,
    /// This side's data device failed and has not been rebuilt since (B116).
    pub disk_error: bool,
    /// `mirror-latest-undetermined` was reported for the current undetermined spell.
    pub undetermined_reported: bool,
    /// A rebuild to this server finished at this instant; its record may still show
    /// behind until its next state message (at most a heartbeat interval).
    pub awaiting_ack: Option<(ServerId, crate::config::Ms)>,
}

/// Every mirror of the configuration, as this server tracks it.
#[derive(Clone, Debug, Default)]
pub(super) struct Mirrors {
    pub runs: Vec<MirrorRun>,
    pub boot_check: bool,
}

impl Mirrors {
    pub fn new(cfg: &Config) -> Mirrors {
        let runs = cfg
            .mirror_ids()
            .map(|res| MirrorRun {
                res,
                my_side: None,
                record: MirrorRecord::Synced, // B108: never paired → taken as identical
                saw_other_go: false,
                full_next: false,
                rebuild: None,
                links: vec![true; cfg.resource(res).kind.mirror().map_or(1, |m| m.networks.len().max(1))],
                connect_down_since: None,
                disk_error: false,
                undetermined_reported: false,
                awaiting_ack: None,
            })
            .collect();
        Mirrors { runs, boot_check: false }
    }

    pub fn load(&mut self, cfg: &Config, me: ServerId, records: &[(ResId, u8, MirrorRecord)]) {
        for run in &mut self.runs {
            let m = cfg.resource(run.res).kind.mirror().expect("mirror resource");
            run.my_side = m.sides.iter().position(|s| s.servers.contains(&me)).map(|i| i as u8);
            // B106: a side that never ran (no record on its metadata) did not see the
            // other side go: it holds the latest data only against a visible record of
            // the other side (both fresh at the initial construction: synced against
            // synced, B108). Taking it as latest alone let a side whose first run never
            // reached the service activate over the other side's writes (gen seeds 5285,
            // 10438).
            run.saw_other_go = false;
            if let Some((_, _, rec)) = records.iter().find(|(r, s, _)| *r == run.res && Some(*s) == run.my_side) {
                run.record = *rec;
            }
            if let MirrorRecord::Behind { full: true } = run.record {
                run.full_next = true;
            }
        }
    }

    pub fn own_records(&self) -> Vec<(ResId, u8, MirrorRecord)> {
        self.runs.iter().filter_map(|r| r.my_side.map(|s| (r.res, s, r.record))).collect()
    }

    pub fn full_next_list(&self) -> Vec<ResId> {
        self.runs.iter().filter(|r| r.full_next).map(|r| r.res).collect()
    }

    pub fn rebuilding_list(&self) -> Vec<ResId> {
        self.runs.iter().filter(|r| r.rebuild.is_some()).map(|r| r.res).collect()
    }

    pub fn disk_error_list(&self) -> Vec<ResId> {
        self.runs.iter().filter(|r| r.disk_error).map(|r| r.res).collect()
    }

    pub fn connect_down_list(&self) -> Vec<ResId> {
        self.runs.iter().filter(|r| r.my_side.is_some() && r.connect_down_since.is_some()).map(|r| r.res).collect()
    }

    pub fn saw_go_list(&self) -> Vec<ResId> {
        self.runs.iter().filter(|r| r.saw_other_go).map(|r| r.res).collect()
    }

    pub fn note_boot(&mut self) {
        self.boot_check = true;
    }

    fn idx(&self, res: ResId) -> Option<usize> {
        self.runs.iter().position(|r| r.res == res)
    }
}

/// Whether `a` beats `b` as the holder of the latest data (both visible, B106).
fn compare(a: MirrorRecord, b: MirrorRecord) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    use MirrorRecord::*;
    match (a, b) {
        (Forced, Forced) => Equal,
        (Forced, _) => Greater,
        (_, Forced) => Less,
        (Lost, Lost) => Equal,
        (Lost, _) => Less,
        (_, Lost) => Greater,
        (Behind { .. }, Behind { .. }) => Equal,
        (Behind { .. }, _) => Less,
        (_, Behind { .. }) => Greater,
        (Ahead { updated_ms: ua, .. }, Ahead { updated_ms: ub, .. }) => match (ua, ub) {
            (Some(_), None) => Greater,
            (None, Some(_)) => Less,
            (Some(_), Some(_)) | (None, None) => Equal,
        },
        (Ahead { .. }, Synced | Closed) => Greater,
        (Synced | Closed, Ahead { .. }) => Less,
        (Synced | Closed, Synced | Closed) => Equal,
    }
}

impl Node {
    fn mirror_cfg(&self, res: ResId) -> &crate::config::Mirror {
        self.cfg.resource(res).kind.mirror().expect("mirror resource")
    }

    fn side_of(&self, res: ResId, s: ServerId) -> Option<u8> {
        self.mirror_cfg(res).sides.iter().position(|side| side.servers.contains(&s)).map(|i| i as u8)
    }

    /// The record of `side` as visible from here (its server running), and whether
    /// that server saw the other side go.
    fn visible_record(&self, res: ResId, side: u8) -> Option<(MirrorRecord, bool)> {
        let i = self.mirrors.idx(res)?;
        let run = &self.mirrors.runs[i];
        if run.my_side == Some(side) && self.phase.is_running() {
            return Some((run.record, run.saw_other_go));
        }
        for s in self.mirror_cfg(res).sides[side as usize].servers.clone() {
            if s == self.me || !self.is_running(s) {
                continue;
            }
            let shared = &self.peers[s.idx()].shared;
            if let Some((_, _, rec)) = shared.mirrors.iter().find(|(r, sd, _)| *r == res && *sd == side) {
                return Some((*rec, shared.mirror_saw_go.contains(&res)));
            }
        }
        None
    }

    /// B106: which side holds the latest data.
    pub(super) fn mirror_latest(&self, res: ResId) -> Latest {
        // The latest data lost with its device (B116): no side can take its place
        // unless an operator forced one.
        for side in 0..2u8 {
            if let Some((MirrorRecord::Lost, _)) = self.visible_record(res, side) {
                return match self.visible_record(res, 1 - side) {
                    Some((MirrorRecord::Forced, _)) => Latest::Side(1 - side),
                    Some(_) | None => Latest::Nobody,
                };
            }
        }
        match (self.visible_record(res, 0), self.visible_record(res, 1)) {
            (Some((a, _)), Some((b, _))) => match compare(a, b) {
                std::cmp::Ordering::Greater => Latest::Side(0),
                std::cmp::Ordering::Less => Latest::Side(1),
                std::cmp::Ordering::Equal => match (a, b) {
                    (MirrorRecord::Behind { .. }, _) => Latest::Nobody,
                    (MirrorRecord::Ahead { updated_ms: Some(_), .. }, _) | (MirrorRecord::Forced, _) => {
                        Latest::Undetermined
                    }
                    (MirrorRecord::Lost, _) => Latest::Nobody,
                    (MirrorRecord::Ahead { .. } | MirrorRecord::Synced | MirrorRecord::Closed, _) => Latest::Both,
                },
            },
            (Some((rec, saw)), None) => self.one_side_latest(0, rec, saw),
            (None, Some((rec, saw))) => self.one_side_latest(1, rec, saw),
            (None, None) => Latest::Nobody,
        }
    }

    fn one_side_latest(&self, side: u8, rec: MirrorRecord, saw_other_go: bool) -> Latest {
        match rec {
            MirrorRecord::Ahead { .. } | MirrorRecord::Closed | MirrorRecord::Forced => Latest::Side(side),
            MirrorRecord::Synced if saw_other_go => Latest::Side(side),
            MirrorRecord::Synced => Latest::Undetermined,
            MirrorRecord::Behind { .. } | MirrorRecord::Lost => Latest::Nobody,
        }
    }

    fn holds_latest(&self, res: ResId, s: ServerId) -> bool {
        match (self.mirror_latest(res), self.side_of(res, s)) {
            (Latest::Both, Some(_)) => true,
            (Latest::Side(l), Some(side)) => l == side,
            (Latest::Undetermined | Latest::Nobody, _) | (_, None) => false,
        }
    }

    fn rebuild_running(&self, res: ResId) -> bool {
        self.mirrors.idx(res).is_some_and(|i| self.mirrors.runs[i].rebuild.is_some())
            || self.peer_ids().any(|p| self.is_running(p) && self.peers[p.idx()].shared.rebuilding.contains(&res))
    }

    /// B51: `s` may take a group holding mirror `res`.
    pub(super) fn mirror_side_ready(&self, res: ResId, s: ServerId) -> bool {
        self.holds_latest(res, s) && !self.rebuild_running(res)
    }

    /// B106: whether the mirror may be activated here now.
    pub(super) fn mirror_may_activate(&mut self, res: ResId) -> Result<(), String> {
        if self.rebuild_running(res) {
            return Err("a rebuild of this mirror is running".into());
        }
        let g = self.cfg.resource(res).group;
        if self.holders(g).iter().any(|s| *s != self.me) {
            return Err("the mirror is online on another server".into());
        }
        match self.mirror_latest(res) {
            Latest::Undetermined => Err("the side holding the latest data cannot be determined".into()),
            Latest::Nobody => Err("no running side holds the latest data".into()),
            Latest::Both | Latest::Side(_) if self.holds_latest(res, self.me) => Ok(()),
            Latest::Both | Latest::Side(_) => Err("this side does not hold the latest data".into()),
        }
    }

    /// Whether the other side's servers still count (running, or lost but not yet judged
    /// down: B102 breaks only on servers not running, judged down or departed).
    fn other_side_present(&self, res: ResId) -> bool {
        self.other_side_servers(res).iter().any(|s| *s != self.me && self.peers[s.idx()].may_hold())
    }

    /// Whether the mirror connect carries traffic to a running server of the other side
    /// (B102), as the mirror driver reports it per connect network.
    pub(super) fn mirror_connected(&self, res: ResId) -> bool {
        let Some(i) = self.mirrors.idx(res) else { return false };
        let Some(mine) = self.side_of(res, self.me) else {
            // Not a side: both sides' servers running is all this server can know.
            let m = self.mirror_cfg(res);
            return m.sides.iter().all(|side| side.servers.iter().any(|s| self.is_running(*s)));
        };
        let other_running =
            self.mirror_cfg(res).sides[1 - mine as usize].servers.iter().any(|s| *s != self.me && self.is_running(*s));
        other_running && self.mirrors.runs[i].links.iter().any(|up| *up)
    }

    /// The driver reports a connect network up or down (B102).
    pub(super) fn on_mirror_connect(&mut self, res: ResId, network: u8, up: bool) {
        let Some(i) = self.mirrors.idx(res) else { return };
        let run = &mut self.mirrors.runs[i];
        let Some(link) = run.links.get_mut(network as usize) else { return };
        if *link == up {
            return;
        }
        let was_any = run.links.iter().any(|u| *u);
        run.links[network as usize] = up;
        let now_any = run.links.iter().any(|u| *u);
        let several = run.links.len() > 1;
        let net = self.mirror_cfg(res).networks.get(network as usize).cloned().unwrap_or_default();
        match (was_any, now_any) {
            (true, false) => {
                self.mirrors.runs[i].connect_down_since = Some(self.now);
                self.mark_dirty(); // shared: the other side learns this side may break (B106)
                self.emit(Event::new(EventKind::MirrorConnectDown).resource(res).reason(net));
                if self.mirrors.runs[i].rebuild.is_some() {
                    self.abort_rebuild(i, res, "the mirror connect dropped (B110)");
                    self.mark_dirty();
                }
                self.set_timer(
                    crate::io::Timer::MirrorConnectDown(res),
                    self.now.saturating_add(self.cfg.cluster.heartbeat_timeout_ms),
                );
            }
            (false, true) => {
                self.mirrors.runs[i].connect_down_since = None;
                self.mark_dirty();
                self.cancel_timer(crate::io::Timer::MirrorConnectDown(res));
                self.emit(Event::new(EventKind::MirrorConnectUp).resource(res).reason(net));
            }
            (true, true) if !up && several => {
                self.emit(Event::new(EventKind::MirrorConnectPathDown).resource(res).reason(net));
            }
            (true, true) | (false, false) => {}
        }
        self.recheck = true;
    }

    /// The connect stayed down for heartbeat_timeout: a break if online here (B102).
    pub(super) fn on_mirror_connect_timeout(&mut self, res: ResId) {
        self.recheck = true;
        let _ = res; // `reevaluate_mirrors` applies the rule to every mirror online here
    }

    /// Whether the connect has been down for heartbeat_timeout. While the other side's
    /// server is lost and its resolution is pending, the connect is not judged: if this
    /// server survives, the peer is judged down and the break follows; if not, it fences.
    /// Breaking earlier would acknowledge writes here that the survivor never sees.
    ///
    /// While the cluster is suspended nothing is judged (B123): the connect is judged
    /// again from `cluster resume`, like the heartbeats (B20). A break during the suspend
    /// would acknowledge writes on a side that, at resume, may lose resolution and fence
    /// while the other side — which never saw it break — takes over.
    fn connect_lost(&self, res: ResId) -> bool {
        let timeout = self.cfg.cluster.heartbeat_timeout_ms;
        // Lost and resolving, or silent past its deadline with the liveness check for
        // this instant not yet handled (the connect timer may fire first at a tie).
        let peer_pending = self.other_side_servers(res).iter().any(|s| {
            let p = &self.peers[s.idx()];
            *s != self.me
                && (p.lost_at.is_some()
                    || (p.watched() && p.last_heard_any().is_some_and(|t| t.saturating_add(timeout) <= self.now)))
        });
        !self.cluster_suspended
            && !peer_pending
            && self.mirrors.idx(res).is_some_and(|i| {
                self.mirrors.runs[i].connect_down_since.is_some_and(|t| t.saturating_add(timeout) <= self.now)
            })
    }

    /// B20, B123: at `cluster resume` a connect that is still down counts as down from
    /// that instant, as every peer counts as heard then.
    pub(super) fn mirror_connects_resumed(&mut self) {
        for i in 0..self.mirrors.runs.len() {
            if self.mirrors.runs[i].connect_down_since.is_some() {
                let res = self.mirrors.runs[i].res;
                self.mirrors.runs[i].connect_down_since = Some(self.now);
                self.set_timer(
                    crate::io::Timer::MirrorConnectDown(res),
                    self.now.saturating_add(self.cfg.cluster.heartbeat_timeout_ms),
                );
            }
        }
        self.recheck = true;
    }

    /// B105, as seen from this server.
    pub fn mirror_status(&self, res: ResId) -> MirrorStatus {
        if self.rebuild_running(res) {
            return MirrorStatus::Rebuilding;
        }
        let both_synced = matches!(
            (self.visible_record(res, 0), self.visible_record(res, 1)),
            (
                Some((MirrorRecord::Synced | MirrorRecord::Closed, _)),
                Some((MirrorRecord::Synced | MirrorRecord::Closed, _))
            )
        );
        // A connect drop shorter than heartbeat_timeout is not yet a break (B102).
        let other_running =
            self.mirror_cfg(res).sides.iter().all(|side| side.servers.iter().any(|s| self.is_running(*s)));
        if both_synced && other_running && !self.connect_lost(res) {
            return MirrorStatus::Normal;
        }
        match self.mirror_latest(res) {
            Latest::Side(_) | Latest::Both => MirrorStatus::Degraded,
            Latest::Undetermined | Latest::Nobody => MirrorStatus::Error,
        }
    }

    /// Whether `s` holds the latest data of `res`, as seen from here.
    pub fn mirror_latest_on(&self, res: ResId, s: ServerId) -> bool {
        self.holds_latest(res, s)
    }

    fn set_record(&mut self, res: ResId, rec: MirrorRecord) {
        if let Some(i) = self.mirrors.idx(res) {
            if self.mirrors.runs[i].record != rec {
                self.mirrors.runs[i].record = rec;
                self.mark_dirty();
            }
        }
    }

    fn my_record(&self, res: ResId) -> Option<MirrorRecord> {
        self.mirrors.idx(res).map(|i| self.mirrors.runs[i].record)
    }

    /// The mirror came online here: pair with the other side, or break (B102).
    pub(super) fn mirror_on_online(&mut self, res: ResId) {
        if self.cfg.resource(res).kind.mirror().is_none() {
            return;
        }
        let connected = self.mirror_connected(res);
        let broken = !self.other_side_present(res) || self.connect_lost(res);
        match self.my_record(res) {
            Some(MirrorRecord::Synced | MirrorRecord::Closed) if connected && !broken => {
                // Paired again with identical data: nothing for a later rebuild to redo.
                if let Some(i) = self.mirrors.idx(res) {
                    self.mirrors.runs[i].full_next = false;
                }
                self.set_record(res, MirrorRecord::Synced);
                self.tell_other_side(res, MirrorRecord::Synced, |r| matches!(r, MirrorRecord::Closed));
            }
            Some(MirrorRecord::Synced | MirrorRecord::Closed) if broken => self.mirror_break(res),
            // Connect briefly down: the break waits for heartbeat_timeout (B102).
            Some(MirrorRecord::Synced | MirrorRecord::Closed) => {}
            Some(
                MirrorRecord::Ahead { .. } | MirrorRecord::Forced | MirrorRecord::Behind { .. } | MirrorRecord::Lost,
            )
            | None => {}
        }
    }

    fn mirror_break(&mut self, res: ResId) {
        if self.cluster_stopping || self.leaving() {
            return; // both sides stop together: the records close instead (B103)
        }
        self.set_record(res, MirrorRecord::Ahead { break_ms: self.now, updated_ms: None });
        self.emit(
            Event::new(EventKind::MirrorBreak)
                .resource(res)
                .because(None, "online while the other side is not connected (B102)"),
        );
    }

    fn other_side_servers(&self, res: ResId) -> Vec<ServerId> {
        let Some(mine) = self.side_of(res, self.me) else { return Vec::new() };
        self.mirror_cfg(res).sides[1 - mine as usize].servers.clone()
    }

    /// Sends a record to the running servers of the other side whose record matches `only`.
    fn tell_other_side(&mut self, res: ResId, rec: MirrorRecord, only: impl Fn(MirrorRecord) -> bool) {
        let Some(mine) = self.side_of(res, self.me) else { return };
        let other = 1 - mine;
        let matches = self.visible_record(res, other).is_some_and(|(r, _)| only(r));
        if !matches {
            return;
        }
        for s in self.other_side_servers(res) {
            if s != self.me && self.is_running(s) {
                self.send(s, Message::MirrorRecord { res, side: other, record: rec });
            }
        }
    }

    pub(super) fn on_mirror_record_msg(&mut self, from: ServerId, res: ResId, side: u8, record: MirrorRecord) {
        if self.side_of(res, self.me) == Some(side) && self.side_of(res, from) == Some(side) {
            // A server of this hybrid side (a disk error on the shared device, B116): what
            // its state will say next, so that `follow_side_holder` does not read the
            // older record of its last state over this one (B115).
            for (r, sd, rec) in self.peers[from.idx()].shared.mirrors.iter_mut() {
                if *r == res && *sd == side {
                    *rec = record;
                }
            }
        }
        if self.side_of(res, self.me) == Some(side) {
            if let (MirrorRecord::Behind { full: true } | MirrorRecord::Lost, Some(i)) = (record, self.mirrors.idx(res))
            {
                self.mirrors.runs[i].full_next = true;
            }
            if record == MirrorRecord::Synced {
                // The sender finished a rebuild toward us and is synced itself; its next
                // state message says so, but B104 must not read its old record meanwhile.
                for (r, _, rec) in self.peers[from.idx()].shared.mirrors.iter_mut() {
                    if *r == res {
                        *rec = MirrorRecord::Synced;
                    }
                }
                if let Some(i) = self.mirrors.idx(res) {
                    self.mirrors.runs[i].full_next = false;
                    self.mirrors.runs[i].saw_other_go = false;
                    self.mirrors.runs[i].disk_error = false; // rebuilt onto a working device
                }
            }
            self.set_record(res, record);
        }
    }

    /// B107, B102 on the side where the mirror is online; B108 full-copy bookkeeping.
    pub(super) fn reevaluate_mirrors(&mut self) {
        if self.mirrors.runs.is_empty() {
            return;
        }
        if self.mirrors.boot_check
            && self.phase.is_running()
            && !matches!(self.phase, super::fence::Phase::Syncing { .. })
        {
            // B108: when this service came up, was a server of the other side an online
            // member all along? If not, both sides were down at the same time.
            self.mirrors.boot_check = false;
            for i in 0..self.mirrors.runs.len() {
                let res = self.mirrors.runs[i].res;
                // (choice) The record of what changed since the break survives a clean end;
                // only an unclean end while the other side was down loses it.
                let other_up = self.other_side_servers(res).iter().any(|s| *s != self.me && self.is_member(*s));
                if self.mirrors.runs[i].my_side.is_some() && !other_up && self.prev_unclean {
                    self.mirrors.runs[i].full_next = true;
                }
            }
        }
        for i in 0..self.mirrors.runs.len() {
            let res = self.mirrors.runs[i].res;
            self.follow_side_holder(i);
            self.note_behind(i);
            // B106: each running side says so once when the latest data is undetermined.
            // (Not while waiting at start-up: the peers' records are not known yet.)
            let settled = !matches!(self.phase, super::fence::Phase::Syncing { .. }) || self.sync_announced;
            let undetermined =
                settled && self.mirrors.runs[i].my_side.is_some() && self.mirror_latest(res) == Latest::Undetermined;
            if undetermined && !self.mirrors.runs[i].undetermined_reported {
                self.mirrors.runs[i].undetermined_reported = true;
                self.emit(
                    Event::new(EventKind::MirrorLatestUndetermined)
                        .resource(res)
                        .because(None, "only a side whose run ended while synced is visible (B106)"),
                );
            } else if !undetermined {
                self.mirrors.runs[i].undetermined_reported = false;
            }
            if self.res_state(res) != ResState::Online {
                continue;
            }
            let connected = self.mirror_connected(res);
            let broken = !self.other_side_present(res) || self.connect_lost(res);
            match self.my_record(res) {
                Some(MirrorRecord::Synced | MirrorRecord::Closed) if broken => self.mirror_break(res),
                Some(_) | None => {}
            }
            if connected && self.mirrors.runs[i].rebuild.is_none() {
                self.maybe_auto_rebuild(res);
            }
        }
    }
}
