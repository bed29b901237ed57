//! Moves and failure failovers (B65, B70, B83): stopping here, then handing the group to
//! its target.
//!
//! In: `MoveGroup` messages and failover decisions. Out: group stops and starts on the
//! target (through placement).

use super::*;

impl Node {
    /// `MoveGroup` on the current owner: stop here, then hand over.
    pub(in crate::node) fn on_move_group_msg(&mut self, g: GroupId, to: ServerId, failback: bool) {
        if self.groups[g.idx()].state != GroupState::Online || to == self.me {
            self.emit(Event::new(EventKind::GroupMoveFailed).group(g).reason("the group is not online here"));
            return;
        }
        let kind = if failback {
            self.emit(
                Event::new(EventKind::GroupFailback)
                    .group(g)
                    .peer(to)
                    .because(None, "failback = \"auto\" and a higher-ranked server came online (B57)"),
            );
            StartKind::Failback
        } else {
            self.emit(Event::new(EventKind::GroupMoving).group(g).peer(to));
            StartKind::Move
        };
        self.stop_group(g, ClpFactor::GroupMove, AfterStop::HandOver { to, kind });
    }

    /// Fails `g` over after an activation or monitor failure (B70.2, B83.4): the
    /// group is already stopped here.
    pub(in crate::node) fn fail_over_after_failure(&mut self, g: GroupId, kind: StartKind) {
        let view = self.placement_view();
        match view.target(&self.cfg, g, Some(self.me)) {
            Some(t) => {
                let epoch = self.groups[g.idx()].epoch_ms;
                self.start_on(g, t, kind, epoch);
            }
            None => {
                self.emit(
                    Event::new(EventKind::GroupNoTarget)
                        .group(g)
                        .because(None, "no eligible server for the failover (B51)"),
                );
            }
        }
    }
}
