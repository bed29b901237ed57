//! The acknowledged suspend and resume (rule X1 in docs/architecture.md "Extensions to
//! the rules", extending B20 and B122 after CLUSTERPRO's per-server `Suspend server :
//! Failed` / `Resume server : Failed`, 001 §6.3.1 (7)).
//!
//! A server confirms a `cluster suspend` or `cluster resume` by sharing a state whose
//! `suspend_epoch` has caught up with ours (it applied that operation, or a later one).
//! Until every peer that may hold groups has confirmed:
//! * after a suspend, this server keeps sending heartbeats, and keeps watching (with its
//!   resolvers) the peers that have not confirmed: a peer that missed the suspend runs
//!   on, and must neither judge a silent, suspended server lost nor win a resolution
//!   against its stopped resolvers (family AD, generated seed 8206);
//! * after a resume, a peer that has not confirmed is neither watched nor judged down,
//!   so its groups are not taken over while it may still be suspended and running them
//!   (generated seed 15201); it is heard from its confirmation on (B20 at its resume),
//!   and a new run of it (a crash during the suspension, then a boot) ends the old one
//!   as any restart does (B18), so its groups are taken over then (B123: detected after
//!   the resume).
//!
//! A peer still unconfirmed `heartbeat_timeout` after the operation is reported
//! (`suspend-unconfirmed`, `resume-unconfirmed`) and listed in the status; its later
//! confirmation is reported too (`cluster-op-confirmed`).
//!
//! In: the suspend and resume applied here (`command`), every input's end
//! (`settle_acks`), the liveness timer. Out: which peers are watched, whether heartbeats
//! and resolvers run, the events above.

use super::Node;
use crate::config::{Ms, PathId, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{ClusterOp, Timer};

/// Whether a peer confirmed the latest suspend or resume applied here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OpAck {
    Confirmed,
    /// Not yet confirmed; `reported` once the `*-unconfirmed` event went out.
    Awaited { op: Awaitable, since_ms: Ms, reported: bool },
}

/// The operations that are acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Awaitable {
    Suspend,
    Resume,
}

impl Awaitable {
    fn word(self) -> &'static str {
        match self {
            Awaitable::Suspend => "suspend",
            Awaitable::Resume => "resume",
        }
    }
}

impl Node {
    /// A suspend or resume was applied here: every peer that may hold groups owes its
    /// confirmation (those already past it are settled at the end of this input).
    pub(super) fn await_acks(&mut self, op: ClusterOp) {
        let op = match op {
            ClusterOp::Suspend => Awaitable::Suspend,
            ClusterOp::Resume => Awaitable::Resume,
            ClusterOp::Stop | ClusterOp::Shutdown { .. } => return,
        };
        let now = self.now;
        let peers: Vec<ServerId> = self.peer_ids().filter(|p| self.peers[p.idx()].may_hold()).collect();
        for p in peers {
            self.peers[p.idx()].ack = OpAck::Awaited { op, since_ms: now, reported: false };
        }
    }

    /// The peer has not confirmed the latest suspend or resume applied here.
    fn awaited(&self, p: ServerId) -> Option<Awaitable> {
        match self.peers[p.idx()].ack {
            OpAck::Awaited { op, .. } => Some(op),
            OpAck::Confirmed => None,
        }
    }

    /// A peer that owes a confirmation and, as far as its latest state of this run says,
    /// runs unsuspended (it missed the suspend, or has not been heard since it started):
    /// it sends and checks heartbeats, so it is watched, and heard. One whose latest
    /// state says suspended (it missed a resume) is quiet (B20) and is not.
    fn runs_unsuspended(&self, p: ServerId) -> bool {
        let peer = &self.peers[p.idx()];
        self.awaited(p).is_some() && (peer.shared.run != peer.run || !peer.shared.cluster_suspended)
    }

    /// Heartbeats, liveness checks and resolvers stop only once no peer that may run
    /// unsuspended owes its confirmation of the suspend (B20, B122, X1).
    pub(super) fn heartbeats_stopped(&self) -> bool {
        self.cluster_suspended && !self.peer_ids().any(|p| self.runs_unsuspended(p))
    }

    /// Whether this server checks `p`'s heartbeats now (B13, X1): a peer that owes a
    /// confirmation only while it runs unsuspended (a peer that missed the suspend runs
    /// on; one that missed a resume may still be suspended and running its groups);
    /// otherwise every watched peer while this server is not suspended.
    pub(super) fn watches(&self, p: ServerId) -> bool {
        let peer = &self.peers[p.idx()];
        peer.watched()
            && match self.awaited(p) {
                Some(Awaitable::Suspend | Awaitable::Resume) => self.runs_unsuspended(p),
                None => !self.cluster_suspended,
            }
    }

    /// The peers watched through the suspension (they never confirmed it and run on):
    /// their silence is real, so the resume does not count them as heard (B20, X1).
    pub(super) fn watched_through_suspension(&self) -> Vec<ServerId> {
        self.peer_ids().filter(|p| self.runs_unsuspended(*p)).collect()
    }

    /// Settles the confirmations the latest states brought, at the end of every input;
    /// once every peer confirmed a suspend, heartbeats and resolution stop here.
    pub(super) fn settle_acks(&mut self) {
        let epoch = self.suspend_epoch;
        for p in self.peer_ids().collect::<Vec<_>>() {
            let OpAck::Awaited { op, reported, .. } = self.peers[p.idx()].ack else { continue };
            let peer = &self.peers[p.idx()];
            if !peer.may_hold() {
                // Judged down, departed or ended: its run owes nothing any more.
                self.peers[p.idx()].ack = OpAck::Confirmed;
                continue;
            }
            if peer.shared.run != peer.run || peer.shared.suspend_epoch < epoch {
                continue;
            }
            self.peers[p.idx()].ack = OpAck::Confirmed;
            if reported {
                self.emit(
                    Event::new(EventKind::ClusterOpConfirmed)
                        .peer(p)
                        .reason(format!("{} confirmed late (X1)", op.word())),
                );
            }
            if op == Awaitable::Resume && !self.cluster_suspended {
                self.hear_now(p);
            }
        }
        if self.heartbeats_stopped() {
            // B122: heartbeats, resolution and monitors stop; a peer lost before is
            // heard again at the resume (B20) and judged then if still silent.
            self.cancel_timer(Timer::Liveness);
            if self.resolution.take().is_some() {
                self.cancel_timer(Timer::NpVerdict);
            }
        }
    }

    /// B20 at a peer's own resume: it counts as heard on every path from its
    /// confirmation, and is lost a `heartbeat_timeout` later if silent (B13).
    fn hear_now(&mut self, p: ServerId) {
        let now = self.now;
        let paths: Vec<PathId> = self.paths_to(p).collect();
        let peer = &mut self.peers[p.idx()];
        for path in paths {
            peer.last_heard[path.idx()] = Some(now);
            peer.path_down[path.idx()] = false;
        }
        self.schedule_liveness();
    }

    /// `cluster resume --force` (X1): the operator says the peers that never confirmed the
    /// resume are gone (a crash during the suspension, B123): each counts as heard now
    /// (B20 as written) and is judged lost a `heartbeat_timeout` later if still silent.
    pub(super) fn force_resume_acks(&mut self) {
        for p in self.peer_ids().collect::<Vec<_>>() {
            if let OpAck::Awaited { op: Awaitable::Resume, .. } = self.peers[p.idx()].ack {
                self.peers[p.idx()].ack = OpAck::Confirmed;
                self.hear_now(p);
            }
        }
    }

    /// The earliest instant an awaited confirmation is overdue (for the liveness timer).
    pub(super) fn ack_deadline(&self) -> Option<Ms> {
        let timeout = self.cfg.cluster.heartbeat_timeout_ms;
        self.peer_ids()
            .filter_map(|p| match self.peers[p.idx()].ack {
                OpAck::Awaited { since_ms, reported: false, .. } => Some(since_ms.saturating_add(timeout)),
                OpAck::Awaited { reported: true, .. } | OpAck::Confirmed => None,
            })
            .min()
    }

    /// Reports the peers whose confirmation is `heartbeat_timeout` overdue: the
    /// operator's `Suspend server : Failed` / `Resume server : Failed`.
    pub(super) fn report_unconfirmed(&mut self) {
        let timeout = self.cfg.cluster.heartbeat_timeout_ms;
        let now = self.now;
        for p in self.peer_ids().collect::<Vec<_>>() {
            let OpAck::Awaited { op, since_ms, reported: false } = self.peers[p.idx()].ack else { continue };
            if since_ms.saturating_add(timeout) > now {
                continue;
            }
            self.peers[p.idx()].ack = OpAck::Awaited { op, since_ms, reported: true };
            let (kind, why) = match op {
                Awaitable::Suspend => (
                    EventKind::SuspendUnconfirmed,
                    "not confirmed: heartbeats and resolution keep running until it does (X1)",
                ),
                Awaitable::Resume => (
                    EventKind::ResumeUnconfirmed,
                    "not confirmed: neither judged down nor taken over until it is heard again (X1)",
                ),
            };
            self.emit(Event::new(kind).peer(p).reason(why));
        }
    }

    /// The peers that have not confirmed the latest suspend or resume, for the status:
    /// (peer, "suspend" or "resume", whether reported overdue).
    pub(super) fn unconfirmed_peers(&self) -> Vec<(ServerId, &'static str, bool)> {
        self.peer_ids()
            .filter_map(|p| match self.peers[p.idx()].ack {
                OpAck::Awaited { op, reported, .. } => Some((p, op.word(), reported)),
                OpAck::Confirmed => None,
            })
            .collect()
    }
}
