//! `start_after` (B54) on every start, not only at formation: failovers (B55),
//! pending starts taken over from a lost server, groups a departing server stopped
//! before it was lost (B14, B68), and pending starts whose group runs elsewhere.

use super::*;
use EventKind as E;

/// g1 and g2 (starts after g1), both with server2 first; g3 independent.
fn chain() -> String {
    cluster_toml(2, "", &["lan1"])
        + &group_toml("g1", &[2, 1], "")
        + &fip_toml("ip1", 11)
        + &group_toml("g2", &[2, 1], "start_after = [\"g1\"]")
        + &fip_toml("ip2", 12)
        + &group_toml("g3", &[2, 1], "")
        + &fip_toml("ip3", 13)
}

/// `peer` falls silent after a heartbeat at 5 s; with no resolver it is judged down
/// and taken over here. Returns the takeover's outputs.
fn lose(h: &mut H, peer: ServerId) -> Vec<Output> {
    h.at(5_000);
    h.hb_all(peer);
    h.fire(Timer::Liveness);
    let lost = h.fire(Timer::Liveness);
    assert_event(&lost, E::ServerLost);
    let verdict = h.fire(Timer::NpVerdict);
    assert_event(&verdict, E::NpResolvedPeerDown);
    h.fire(Timer::Takeover)
}

#[test]
fn b54_a_failover_starts_the_dependant_only_once_the_group_it_names_is_online() {
    let mut h = formed_with(&chain(), 0, &[(S2, "g1"), (S2, "g2"), (S2, "g3")]);
    let (g1, g2) = (h.g("g1"), h.g("g2"));
    h.clear();
    let g3 = h.g("g3");
    let out = h.msg(S2, Message::Departure { clean: false, power_off: true, groups: vec![g1, g2, g3] });
    assert!(activated(&out).contains(&h.r("ip1")), "{:?}", kinds(&out));
    assert!(!activated(&out).contains(&h.r("ip2")), "g2 must not start with g1: {:?}", kinds(&out));
    assert!(has_for_group(&out, E::GroupStartWaiting, g2));
    assert!(!has_for_group(&out, E::GroupStarting, g2));
    let out = h.settle();
    assert!(has_for_group(&out, E::GroupOnline, g1));
    assert!(has_for_group(&out, E::GroupFailover, g2), "started as a failover once g1 is online");
    assert_eq!(h.node.group_state(g2), GroupState::Online);
}

#[test]
fn b54_the_dependant_of_a_group_whose_failover_activation_fails_stays_offline() {
    let mut h = formed_with(&chain(), 0, &[(S2, "g1"), (S2, "g2"), (S2, "g3")]);
    let (g1, g2) = (h.g("g1"), h.g("g2"));
    let g3 = h.g("g3");
    h.msg(S2, Message::Departure { clean: false, power_off: true, groups: vec![g1, g2, g3] });
    h.clear();
    let id = h.activation_of(h.r("ip1"));
    let out = h.fail(id);
    assert_eq!(h.node.group_state(g1), GroupState::Error, "{:?}", kinds(&out));
    assert!(has_for_group(&out, E::GroupStartBlocked, g2), "g1 is in error: {:?}", kinds(&out));
    h.settle();
    assert!(!activated(&h.log).contains(&h.r("ip2")));
    assert_eq!(h.node.group_state(g2), GroupState::Offline);
}

#[test]
fn b54_b55_the_pending_starts_of_a_lost_coordinator_are_taken_over() {
    // This server is server2; server1 coordinates and is lost while it holds g1
    // starting, g3 online and g2's start pending (g1 not online yet).
    let mut h = formed_with(&chain(), 1, &[(S1, "g1"), (S1, "g2"), (S1, "g3")]);
    let (g1, g2, g3) = (h.g("g1"), h.g("g2"), h.g("g3"));
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g1, GroupState::Starting), (g3, GroupState::Online)];
        s.waiting_starts = vec![(g2, StartKind::ClusterStart)];
        // It placed the groups at formation and says so, as its state does (B5).
        s.takeovers_done = vec![(S1, 1)];
    });
    h.clear();
    let out = lose(&mut h, S1);
    assert!(activated(&out).contains(&h.r("ip1")), "{:?}", kinds(&out));
    assert!(!activated(&out).contains(&h.r("ip2")), "g1 is not online yet: {:?}", kinds(&out));
    assert!(has_for_group(&out, E::GroupStartWaiting, g2), "{:?}", kinds(&out));
    let out = h.settle();
    assert!(has_for_group(&out, E::GroupStarting, g2), "g2's start was not lost with server1: {:?}", kinds(&out));
    assert_eq!(h.node.group_state(g2), GroupState::Online);
}

#[test]
fn b14_b68_groups_a_departing_server_stopped_before_it_was_lost_are_started() {
    let mut h = formed_with(&chain(), 0, &[(S2, "g1"), (S2, "g2"), (S2, "g3")]);
    let (g1, g2, g3) = (h.g("g1"), h.g("g2"), h.g("g3"));
    // Server2 is shutting down: g1 and g2 stopped already (shared as stopping until its
    // departure), g3 still stopping.
    h.share_with(S2, ServerState::Online, |s| {
        s.groups = vec![(g1, GroupState::Stopping), (g2, GroupState::Stopping), (g3, GroupState::Stopping)];
    });
    h.clear();
    let out = lose(&mut h, S2);
    let mut started = activated(&out);
    started.sort();
    assert_eq!(started, vec![h.r("ip1"), h.r("ip3")], "{:?}", kinds(&out));
    assert!(has_for_group(&out, E::GroupStartWaiting, g2));
    h.settle();
    for g in [g1, g2, g3] {
        assert_eq!(h.node.group_state(g), GroupState::Online);
    }
}

#[test]
fn b54_a_departing_server_shares_the_groups_it_stopped() {
    let text = cluster_toml(2, "", &["lan1"])
        + &group_toml("g1", &[1, 2], "")
        + &fip_toml("ip1", 11)
        + &group_toml("g3", &[1, 2], "")
        + &fip_toml("ip3", 13);
    let mut h = formed(&text, 0);
    h.settle();
    let (g1, g3) = (h.g("g1"), h.g("g3"));
    h.clear();
    h.input(Input::ShutdownRequested);
    // g1 stops first; g3's deactivation is still running.
    let id = h.deactivation_of(h.r("ip1"));
    let out = h.ok(id);
    assert!(has_for_group(&out, E::GroupOffline, g1));
    // g1, already offline here, is shared as stopping until the departure (B14, B68):
    // should this server be lost first, the peers take it over with g3 (B55). The
    // content did not change when g1 stopped, so no new state went out for it.
    assert_eq!(h.node.shared_state().groups, vec![(g1, GroupState::Stopping), (g3, GroupState::Stopping)]);
    assert!(!sent(&out, S2).iter().any(|m| matches!(m, Message::State(_))));
}

#[test]
fn b54_a_pending_start_is_dropped_once_its_group_runs() {
    // This server formed alone and holds g2's start pending (g1 is manual). Server1
    // joins with g1 online, coordinates, and hands g2 here. When server1 leaves, g1
    // fails over here; once g1 is online, g2 (already running here) must not be started
    // again: the stale pending start tripped "start of a group that is not offline".
    let text = cluster_toml(2, "", &["lan1"])
        + &group_toml("g1", &[1, 2], "startup = \"manual\"")
        + &fip_toml("ip1", 11)
        + &group_toml("g2", &[2, 1], "start_after = [\"g1\"]")
        + &fip_toml("ip2", 12);
    let mut h = alone(&text, 1, None);
    let (g1, g2) = (h.g("g1"), h.g("g2"));
    assert!(has_for_group(&h.log, E::GroupStartWaiting, g2));
    let t = h.now + 1_000;
    h.at(t);
    h.hello(S1, ServerState::Online);
    h.share(S1, ServerState::Online, vec![(g1, GroupState::Online)]);
    h.msg(S1, Message::StartGroup { group: g2, kind: StartKind::ClusterStart, stable_epoch_ms: 0 });
    h.settle();
    assert_eq!(h.node.group_state(g2), GroupState::Online);
    h.clear();
    h.msg(S1, Message::Departure { clean: true, power_off: true, groups: vec![g1] });
    h.settle();
    assert_eq!(h.node.group_state(g1), GroupState::Online, "{:?}", kinds(&h.log));
    assert!(!has_for_group(&h.log, E::GroupStarting, g2), "{:?}", kinds(&h.log));
    assert_eq!(h.node.group_state(g2), GroupState::Online);
}
