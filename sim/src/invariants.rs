//! The invariants the simulator checks as a run goes (scenario.md § Invariants,
//! docs/scenarios.md): 1, nothing online twice (groups here, resources in
//! `actions`); 2, no stale mirror (in `actions`); 4, `start_after` order (B54) on
//! every group start (in the starting server's latest news) and on stops that happen
//! together.
//!
//! In: the event just recorded (`Sim::record`) and the world. Out: breaches (a run
//! fails at the first) and the groups seen online twice (`expect split-brain`).

use crate::engine::{Breach, Sim};
use baton_core::config::{GroupId, ServerId};
use baton_core::Node;

impl Sim {
    /// Invariant 1 for groups: online on at most one server.
    pub(crate) fn check_group_single(&mut self, g: GroupId) {
        let online: Vec<ServerId> = self
            .world
            .cfg
            .server_ids()
            .filter(|s| {
                self.world.machines[s.idx()]
                    .node
                    .as_ref()
                    .is_some_and(|n| !n.is_gone() && n.group_state(g) == baton_core::io::GroupState::Online)
            })
            .collect();
        if online.len() > 1 {
            let names: Vec<&str> = online.iter().map(|s| self.world.cfg.server(*s).name.as_str()).collect();
            self.double(g, format!("group {} online on {}", self.world.cfg.group(g).name, names.join(" and ")));
        }
    }

    /// Invariant 4 (B54), starts: `g` begins starting on `s` only when every group it
    /// names in `start_after` is online. A named group counts as online where it is
    /// online on a running service, and also where `s` still sees it online on a
    /// server that has stopped or frozen unseen (`s` cannot know yet).
    pub(crate) fn check_start_after(&mut self, s: ServerId, g: GroupId) {
        let cfg = self.world.cfg.clone();
        fn running(m: &crate::world::Machine) -> Option<&Node> {
            m.node.as_ref().filter(|n| !n.is_gone())
        }
        for d in cfg.group(g).start_after.iter().copied() {
            let online = self
                .world
                .machines
                .iter()
                .any(|m| running(m).is_some_and(|n| n.group_state(d) == baton_core::io::GroupState::Online));
            let unseen = cfg.server_ids().any(|t| {
                let m = &self.world.machines[t.idx()];
                let gone = running(m).is_none() || m.stalled_until.is_some();
                gone && running(&self.world.machines[s.idx()]).is_some_and(|n| n.sees_group_online(d, t))
            });
            if !online && !unseen && !self.news_on_the_wire(s, d) {
                let text = format!(
                    "invariant 4 (start_after, B54): group {} started on {} while {} is not online",
                    cfg.group(g).name,
                    cfg.server(s).name,
                    cfg.group(d).name
                );
                self.breach(text);
            }
        }
    }

    /// `s` sees `d` online on a running server `t` whose state saying otherwise is
    /// still on its way to `s`: the start was decided on the latest news `s` had. A
    /// holder can stop a group the instant after it sent a start of a group naming it
    /// (its departure, a group restart, B83.3, B71): no order of sends avoids that, and
    /// B54 is judged in the starting server's view (generated seed 3870). Once the
    /// state arrives, `s` judges on it again.
    fn news_on_the_wire(&self, s: ServerId, d: GroupId) -> bool {
        let Some(n) = self.world.machines[s.idx()].node.as_ref().filter(|n| !n.is_gone()) else { return false };
        self.world.cfg.server_ids().any(|t| {
            n.sees_group_online(d, t)
                && self.queue.iter().any(|ev| match &ev.kind {
                    crate::engine::EvKind::Deliver { server, input: baton_core::Input::Message { from, msg }, .. } => {
                        *server == s
                            && *from == t
                            && matches!(&**msg, baton_core::io::Message::State(st)
                                if !st.groups.iter().any(|(g, gs)| *g == d && *gs == baton_core::io::GroupState::Online))
                    }
                    crate::engine::EvKind::Step(_)
                    | crate::engine::EvKind::ServiceStart { .. }
                    | crate::engine::EvKind::Deliver { .. }
                    | crate::engine::EvKind::Complete { .. }
                    | crate::engine::EvKind::StallEnd { .. }
                    | crate::engine::EvKind::Watchdog { .. } => false,
                })
        })
    }

    /// Invariant 4 (B54), stops: when groups stop together (a server's departure, or
    /// every server's at a cluster stop or shutdown), a group stops before the groups
    /// it names in `start_after`. So `x` begins stopping on a departing `s` only when
    /// no group naming it still runs on `s` or, cluster-wide, on a departing server.
    pub(crate) fn check_stop_order(&mut self, s: ServerId, x: GroupId) {
        let cfg = self.world.cfg.clone();
        let leaving = |t: ServerId| {
            self.world.machines[t.idx()].node.as_ref().filter(|n| !n.is_gone()).and_then(|n| n.departing())
        };
        let Some(cluster_wide) = leaving(s) else { return };
        let mut breaches = Vec::new();
        for g in cfg.group_ids().filter(|g| cfg.group(*g).start_after.contains(&x)) {
            let still = cfg.server_ids().find(|t| {
                let together = *t == s || (cluster_wide && leaving(*t) == Some(true));
                together
                    && self.world.machines[t.idx()]
                        .node
                        .as_ref()
                        .is_some_and(|n| !n.is_gone() && n.group_state(g) != baton_core::io::GroupState::Offline)
            });
            if let Some(t) = still {
                breaches.push(format!(
                    "invariant 4 (start_after, B54): group {} stopping on {} before {}, which names it, stopped on {}",
                    cfg.group(x).name,
                    cfg.server(s).name,
                    cfg.group(g).name,
                    cfg.server(t).name
                ));
            }
        }
        for text in breaches {
            self.breach(text);
        }
    }

    /// A group or resource was found on two servers.
    pub fn double(&mut self, g: GroupId, text: String) {
        self.split_brain.insert(g);
        // Once per pair and subject: the check runs at every state change of the group.
        if !self.doubles.iter().any(|(_, _, t)| *t == text) {
            self.doubles.push((self.now, g, text.clone()));
        }
        if !self.allow_split_brain {
            self.breaches.push(Breach { at_ms: self.now, text: format!("invariant 1 (nothing online twice): {text}") });
        }
    }

    pub fn breach(&mut self, text: String) {
        self.breaches.push(Breach { at_ms: self.now, text });
    }
}
