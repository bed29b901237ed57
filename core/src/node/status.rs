//! Read-only views of a node for the simulator, the CLI and the status page: the
//! state this server reports, its groups, resources, monitors and mirrors, and a
//! digest of its state for replay checks.
//!
//! In: nothing. Out: plain values and a serialisable [`Status`].

use super::group::ResState;
use super::{MirrorStatus, MonitorStatus, Node};
use crate::config::{GroupId, MonId, Ms, ResId, ServerId};
use crate::io::{GroupState, ServerState};
use serde::Serialize;

/// A snapshot of what one server knows, for `baton status` and JSON output.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub server: String,
    pub state: ServerState,
    pub cluster_suspended: bool,
    pub peers: Vec<(String, ServerState)>,
    /// Peers that have not confirmed the latest `cluster suspend` or `cluster resume`
    /// applied here, with which (`"suspend"`, `"resume"`): the operator's
    /// `Resume server : Failed` (X1). Empty once every peer confirmed.
    pub unconfirmed: Vec<Unconfirmed>,
    pub groups: Vec<(String, GroupState)>,
    pub monitors: Vec<(String, MonitorStatus)>,
    pub mirrors: Vec<(String, MirrorStatus)>,
    /// Every heartbeat path to every peer: whether a heartbeat arrived on it within
    /// `heartbeat_timeout` (as of the last input).
    pub paths: Vec<PathStatus>,
    /// The resources of every group on this server: (group, resource, state word).
    pub resources: Vec<(String, String, &'static str)>,
    /// `monitor fail` and `resource fail-activation` active on this server (issue 15).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pseudo_faults: Vec<String>,
}

/// A peer that has not confirmed the latest suspend or resume applied here (X1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unconfirmed {
    pub server: String,
    /// `"suspend"` or `"resume"`.
    pub op: &'static str,
    /// Still unconfirmed `heartbeat_timeout` after the operation (reported by
    /// `suspend-unconfirmed` / `resume-unconfirmed`): the operator's `Failed`.
    pub overdue: bool,
}

/// One heartbeat path to one peer.
#[derive(Clone, Debug, Serialize)]
pub struct PathStatus {
    pub peer: String,
    pub path: String,
    pub alive: bool,
    /// Milliseconds since the last heartbeat on this path (`None`: never heard).
    pub silent_ms: Option<Ms>,
}

impl Node {
    /// Whether the run has ended (powered off, fenced or service stopped).
    pub fn is_gone(&self) -> bool {
        self.phase.is_gone()
    }

    /// Whether the service runs (waiting, member, suspended or leaving).
    pub fn service_running(&self) -> bool {
        self.phase.is_running()
    }

    /// The state this server reports for itself while its service runs (B21).
    pub fn reported_state(&self) -> ServerState {
        self.phase.reported()
    }

    /// The group's state on this server.
    pub fn group_state(&self, g: GroupId) -> GroupState {
        self.groups[g.idx()].state
    }

    /// Whether the resource is online on this server.
    pub fn resource_online(&self, r: ResId) -> bool {
        self.res_state(r) == ResState::Online
    }

    pub fn monitor(&self, m: MonId) -> MonitorStatus {
        self.monitor_status(m)
    }

    /// When the service last kicked its watchdog (B87).
    pub fn watchdog_kick_ms(&self) -> Ms {
        self.watchdog_kick_ms
    }

    /// Whether this server sees `g` online on `s` (its own state, or what `s` last
    /// shared while it may hold groups).
    pub fn sees_group_online(&self, g: GroupId, s: ServerId) -> bool {
        self.group_state_on(g, s) == GroupState::Online
    }

    /// `Some(cluster_wide)` while this server stops its groups to depart (B14, B67,
    /// B68): whether every server is leaving with it.
    pub fn departing(&self) -> Option<bool> {
        match &self.phase {
            super::fence::Phase::Leaving(l) => Some(l.cluster_wide),
            super::fence::Phase::Off
            | super::fence::Phase::Syncing { .. }
            | super::fence::Phase::Member
            | super::fence::Phase::Suspended
            | super::fence::Phase::Gone => None,
        }
    }

    /// How this server sees a peer.
    pub fn peer_state(&self, s: ServerId) -> ServerState {
        if s == self.me {
            self.reported_state()
        } else {
            self.peers[s.idx()].state
        }
    }

    /// A digest of the decision state (phase, peers, groups, resources, monitors,
    /// mirrors, counters, pending timers and actions): two nodes fed the same inputs
    /// have the same digest. FNV-1a over a fixed rendering; no hashing crate needed.
    pub fn digest(&self) -> u64 {
        let text = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            self.phase,
            self.peers.iter().map(|p| (p.run, p.state, p.judged_down, p.lost_at, &p.last_heard)).collect::<Vec<_>>(),
            self.groups
                .iter()
                .map(|g| (g.state, g.res.iter().map(|r| r.state).collect::<Vec<_>>()))
                .collect::<Vec<_>>(),
            self.monitors.iter().map(|m| (m.status, m.failures, m.suspended)).collect::<Vec<_>>(),
            self.mirrors.own_records(),
            self.counters.own_failovers(),
            self.timers,
            self.version
        );
        text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    }

    /// This server's record of a mirror side it holds (B103).
    pub fn mirror_record(&self, r: ResId) -> Option<crate::io::MirrorRecord> {
        self.mirrors.own_records().into_iter().find(|(res, _, _)| *res == r).map(|(_, _, rec)| rec)
    }

    pub fn status(&self) -> Status {
        let cfg = &self.cfg;
        Status {
            server: cfg.server(self.me).name.clone(),
            state: self.reported_state(),
            cluster_suspended: self.cluster_suspended,
            peers: self.peer_ids().map(|p| (cfg.server(p).name.clone(), self.peers[p.idx()].state)).collect(),
            unconfirmed: self
                .unconfirmed_peers()
                .into_iter()
                .map(|(p, op, overdue)| Unconfirmed { server: cfg.server(p).name.clone(), op, overdue })
                .collect(),
            groups: cfg.group_ids().map(|g| (cfg.group(g).name.clone(), self.groups[g.idx()].state)).collect(),
            monitors: cfg
                .monitor_ids()
                .filter(|m| cfg.monitor(*m).servers.contains(&self.me))
                .map(|m| (cfg.monitor(m).name.clone(), self.monitor_status(m)))
                .collect(),
            mirrors: cfg.mirror_ids().map(|r| (cfg.resource(r).name.clone(), self.mirror_status(r))).collect(),
            paths: self.path_statuses(),
            resources: (0..cfg.resources.len())
                .map(|i| {
                    let r = ResId(i as u16);
                    let res = cfg.resource(r);
                    let word = match self.res_state(r) {
                        ResState::Offline => "offline",
                        ResState::Activating => "activating",
                        ResState::Online => "online",
                        ResState::Deactivating => "deactivating",
                        ResState::Failed => "failed",
                        ResState::Ignored => "ignored",
                    };
                    (cfg.group(res.group).name.clone(), res.name.clone(), word)
                })
                .collect(),
            pseudo_faults: self.pseudo_fault_lines(),
        }
    }

    fn path_statuses(&self) -> Vec<PathStatus> {
        let cfg = &self.cfg;
        let timeout = cfg.cluster.heartbeat_timeout_ms;
        let mut out = Vec::new();
        for p in self.peer_ids() {
            for (i, hb) in cfg.heartbeats.iter().enumerate() {
                if !(hb.servers.contains(&self.me) && hb.servers.contains(&p)) {
                    continue;
                }
                let heard = self.peers[p.idx()].last_heard.get(i).copied().flatten();
                let silent_ms = heard.map(|t| self.now.saturating_sub(t));
                out.push(PathStatus {
                    peer: cfg.server(p).name.clone(),
                    path: hb.name.clone(),
                    alive: silent_ms.is_some_and(|s| s < timeout),
                    silent_ms,
                });
            }
        }
        out
    }
}
