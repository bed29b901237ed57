//! What this server knows of its peers and, through them, of the cluster: each peer's
//! run, state, heartbeat times per path and last shared state; and the queries built on
//! them (who is a member, who holds a group, who coordinates).
//!
//! In: heartbeats and state messages (via `membership`). Out: read-only queries used by
//! every other module.

use super::suspension::OpAck;
use super::Node;
use crate::config::{GroupId, Ms, PathId, ServerId};
use crate::io::{GroupState, ServerState, SharedState};

/// One peer as this server sees it.
#[derive(Clone, Debug)]
pub(super) struct Peer {
    pub run: u64,
    /// The peer's state in this server's view (reported by it, or judged here).
    pub state: ServerState,
    /// The latest state it shared.
    pub shared: SharedState,
    /// The latest heartbeat version seen (a newer one than `shared.version` asks for state).
    pub version_seen: u64,
    /// Last heartbeat received per path (index = `PathId`).
    pub last_heard: Vec<Option<Ms>>,
    pub path_down: Vec<bool>,
    /// Instant D at which it was found silent on every path, while resolution runs.
    pub lost_at: Option<Ms>,
    /// Judged down by this server's resolution (B35) or departed for a failure.
    pub judged_down: bool,
    /// Judged down while this server was suspended (B46: it only marks the peer down,
    /// no takeover of that run is recorded here): the run's end is taken over when the
    /// peer's next run is heard, as B18 does (`Node::unplaced_run_ended`).
    pub judged_unplaced: bool,
    /// The latest heartbeat's send time on the peer's clock and its receipt on ours:
    /// how an instant the peer shares is read here ([`ClockSample::local_instant`]).
    pub clock_sample: Option<ClockSample>,
    /// Whether it confirmed the latest suspend or resume applied here (X1).
    pub ack: OpAck,
}

/// A heartbeat's send time on its sender's clock and its receipt on this server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ClockSample {
    pub sent_ms: Ms,
    pub received_ms: Ms,
}

impl ClockSample {
    /// An instant of the sender's clock (a takeover's T it shared) on this server's
    /// clock: shifted by the send-to-receipt difference, so that a clock offset between
    /// the two servers changes nothing, and later by the heartbeat's transit, never
    /// earlier (B44: not before the lost server could fence). Without a sample (an
    /// older peer sends no time) the instant is taken as is.
    pub fn local_instant(sample: Option<ClockSample>, peer_ms: Ms) -> Ms {
        match sample {
            Some(c) if peer_ms >= c.sent_ms => c.received_ms.saturating_add(peer_ms - c.sent_ms),
            Some(c) => c.received_ms.saturating_sub(c.sent_ms - peer_ms),
            None => peer_ms,
        }
    }
}

impl Peer {
    pub fn new(paths: usize) -> Peer {
        Peer {
            run: 0,
            state: ServerState::Off,
            shared: SharedState::default(),
            version_seen: 0,
            last_heard: vec![None; paths],
            path_down: vec![false; paths],
            lost_at: None,
            judged_down: false,
            judged_unplaced: false,
            clock_sample: None,
            ack: OpAck::Confirmed,
        }
    }

    /// Whether heartbeats from this peer are watched for loss (B13).
    pub fn watched(&self) -> bool {
        !self.judged_down
            && self.lost_at.is_none()
            && match self.state {
                ServerState::Online | ServerState::Suspended => true,
                ServerState::Syncing | ServerState::Down | ServerState::Stopped | ServerState::Off => false,
            }
    }

    /// Whether the peer may still hold groups (running service, not judged down).
    pub fn may_hold(&self) -> bool {
        !self.judged_down
            && match self.state {
                ServerState::Online | ServerState::Suspended | ServerState::Syncing => true,
                ServerState::Down | ServerState::Stopped | ServerState::Off => false,
            }
    }

    /// The latest heartbeat on any path.
    pub fn last_heard_any(&self) -> Option<Ms> {
        self.last_heard.iter().flatten().copied().max()
    }

    /// The groups whose start this peer held pending (B54).
    pub fn waiting_start_groups(&self) -> Vec<GroupId> {
        self.shared.waiting_starts.iter().map(|(g, _)| *g).collect()
    }

    /// What the cluster must start if this peer is lost now, besides the groups it
    /// shares: its pending starts (B54). The groups it stopped on its way out are
    /// shared as `stopping` until its departure (`Node::shared_group_state`, B14, B68).
    pub fn owed_starts(&self) -> Vec<GroupId> {
        self.waiting_start_groups()
    }

    /// Forget the run: what it held is gone (it went down, departed or restarted).
    pub fn forget_run(&mut self) {
        self.shared = SharedState::default();
        self.version_seen = 0;
        self.lost_at = None;
        self.ack = OpAck::Confirmed;
    }
}

impl Node {
    /// The paths that connect this server with `peer`.
    pub(super) fn paths_to(&self, peer: ServerId) -> impl Iterator<Item = PathId> + '_ {
        let me = self.me;
        self.cfg
            .heartbeats
            .iter()
            .enumerate()
            .filter(move |(_, h)| h.servers.contains(&me) && h.servers.contains(&peer))
            .map(|(i, _)| PathId(i as u16))
    }

    pub(super) fn peer_ids(&self) -> impl Iterator<Item = ServerId> + '_ {
        let me = self.me;
        self.cfg.server_ids().filter(move |s| *s != me)
    }

    /// Whether `s` is an online cluster member in this server's view.
    pub(super) fn is_member(&self, s: ServerId) -> bool {
        if s == self.me {
            return self.phase.is_member();
        }
        let p = &self.peers[s.idx()];
        p.state == ServerState::Online && !p.judged_down && p.lost_at.is_none()
    }

    /// Whether `s` runs its service (member or suspended) and is not lost or judged down.
    pub(super) fn is_running(&self, s: ServerId) -> bool {
        if s == self.me {
            return self.phase.is_running();
        }
        let p = &self.peers[s.idx()];
        p.may_hold() && p.lost_at.is_none()
    }

    /// The coordinator: the first online server in server order (B0).
    pub(super) fn coordinator(&self) -> Option<ServerId> {
        self.cfg.server_ids().find(|s| self.is_member(*s))
    }

    pub(super) fn i_coordinate(&self) -> bool {
        self.coordinator() == Some(self.me)
    }

    /// The state of group `g` on server `s` as known here.
    pub(super) fn group_state_on(&self, g: GroupId, s: ServerId) -> GroupState {
        if s == self.me {
            return self.groups[g.idx()].state;
        }
        let p = &self.peers[s.idx()];
        if !p.may_hold() || p.shared.run != p.run {
            // Gone, or a new run whose state has not arrived yet: what the previous run
            // held is gone with it (B18).
            return GroupState::Offline;
        }
        p.shared.groups.iter().find(|(id, _)| *id == g).map(|(_, st)| *st).unwrap_or(GroupState::Offline)
    }

    /// Servers where `g` is not offline (normally at most one).
    pub(super) fn holders(&self, g: GroupId) -> Vec<ServerId> {
        self.cfg.server_ids().filter(|s| self.group_state_on(g, *s) != GroupState::Offline).collect()
    }

    /// Whether `g` is online somewhere.
    pub(super) fn group_online_anywhere(&self, g: GroupId) -> bool {
        self.cfg.server_ids().any(|s| self.group_state_on(g, s) == GroupState::Online)
    }
}

#[cfg(test)]
mod tests {
    use super::ClockSample;

    #[test]
    fn a_peers_instant_is_read_on_our_clock_never_earlier_than_its_transit() {
        // The peer's clock is 300 ms ahead of ours; its heartbeat sent at 10_300 (its
        // clock) arrived at 10_002 (ours): 2 ms of transit.
        let sample = Some(ClockSample { sent_ms: 10_300, received_ms: 10_002 });
        assert_eq!(ClockSample::local_instant(sample, 12_300), 12_002, "T two seconds after the send");
        assert_eq!(ClockSample::local_instant(sample, 10_000), 9_702, "an instant before the send");
        assert_eq!(ClockSample::local_instant(sample, 0), 0, "saturates, never wraps");
        assert_eq!(
            ClockSample::local_instant(Some(ClockSample { sent_ms: 5, received_ms: u64::MAX - 1 }), u64::MAX),
            u64::MAX
        );
        assert_eq!(ClockSample::local_instant(None, 12_300), 12_300, "no sample: as is");
    }
}
