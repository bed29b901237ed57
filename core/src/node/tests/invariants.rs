//! `Node::check_invariants`: silent on a node that works, and naming each kind of
//! contradiction when the bookkeeping is made to disagree with itself (the simulator
//! fails a run on any of them, so each must really be looked at).

use super::*;
use crate::node::group::{Op, Reactivation, ResState};
use crate::node::Pending;

/// server1 formed alone-with-server2, `app` (ip1) online on server1.
fn online() -> (H, GroupId) {
    let text = cluster_toml(2, "", &["lan1"]) + &group_toml("app", &[1, 2], "") + &fip_toml("ip1", 51);
    let mut h = formed(&text, 0);
    h.settle();
    let g = h.g("app");
    assert_eq!(h.node.group_state(g), GroupState::Online);
    (h, g)
}

fn violations(h: &H) -> String {
    h.node.check_invariants().join("\n")
}

#[test]
fn a_working_node_has_no_violation_after_any_input() {
    let (mut h, g) = online();
    assert_eq!(violations(&h), "");
    // A move: stopping here, then offline, then handed over.
    let out = h.cmd(Command::GroupMove { group: g, to: Some(S2) });
    assert_eq!(reply(&out), Ok(()));
    assert_eq!(violations(&h), "", "while stopping");
    let id = h.deactivation_of(h.r("ip1"));
    h.ok(id);
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    assert_eq!(violations(&h), "", "after the stop");
}

#[test]
fn a_resource_action_without_its_resource_waiting_is_reported() {
    let (mut h, g) = online();
    let id = h.node.next_action;
    h.node.next_action += 1;
    h.node.pending.insert(id, Pending::Activate { group: g, pos: 0 });
    let v = violations(&h);
    assert!(v.contains("resource ip1 is Online with 1 action(s) in flight"), "{v}");
    assert!(v.contains(&format!("action {id} (Activate")) && v.contains("without its timeout timer"), "{v}");
}

#[test]
fn a_group_state_against_its_operation_is_reported() {
    let (mut h, g) = online();
    h.node.groups[g.idx()].state = GroupState::Starting;
    assert!(violations(&h).contains("group app is starting here while its operation is Idle"), "{}", violations(&h));
    h.node.groups[g.idx()].state = GroupState::Online;
    h.node.groups[g.idx()].res[0].state = ResState::Offline;
    assert!(violations(&h).contains("group app is online here with a resource Offline"), "{}", violations(&h));
    h.node.groups[g.idx()].res[0].state = ResState::Online;
    h.node.groups[g.idx()].reactivation = Reactivation::Group;
    assert!(violations(&h).contains("a group reactivation's start is pending"), "{}", violations(&h));
    h.node.groups[g.idx()].reactivation = Reactivation::None;
    h.node.groups[g.idx()].op = Op::Starting;
    h.node.groups[g.idx()].state = GroupState::Offline;
    assert!(violations(&h).contains("group app is offline here while its operation is Starting"), "{}", violations(&h));
}

#[test]
fn books_about_this_server_itself_and_return_counts_are_reported() {
    let (mut h, _) = online();
    h.node.down_notice_sent.insert(S1, 0);
    h.node.recovering_for_return = 1;
    let v = violations(&h);
    assert!(v.contains("a down notice was sent to this server itself"), "{v}");
    assert!(v.contains("1 RECOVER runs of a return counted, 0 groups running them"), "{v}");
}
