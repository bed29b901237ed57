//! Placement (B5, B51–B55): formation on the first eligible server, exclusivity,
//! `start_after`, failover holds and missing targets.

use super::*;
use EventKind as E;

fn three() -> String {
    cluster_toml(3, "", &["lan1"])
        + &group_toml("g1", &[1, 2, 3], "")
        + &fip_toml("ip1", 11)
        + &group_toml("g2", &[2, 3, 1], "")
        + &fip_toml("ip2", 12)
        + &group_toml("g3", &[3, 1, 2], "startup = \"manual\"")
        + &fip_toml("ip3", 13)
}

#[test]
fn b5_formation_places_auto_groups_on_the_first_eligible_server_of_their_policy() {
    let h = formed(&three(), 0);
    let (g1, g2, g3) = (h.g("g1"), h.g("g2"), h.g("g3"));
    assert_event(&h.log, E::ClusterStarted);
    assert_eq!(activated(&h.log), vec![h.r("ip1")], "g1's home is this server");
    assert!(has_for_group(&h.log, E::GroupStarting, g1));
    assert_eq!(start_sent(&h.log, S2, g2), Some(StartKind::ClusterStart));
    assert!(!start_sent_anywhere(&h.log, g1));
    assert!(!start_sent_anywhere(&h.log, g3), "startup = manual stays offline");
    assert!(!has_for_group(&h.log, E::GroupStarting, g3));
}

#[test]
fn b5_formation_uses_only_the_servers_present() {
    let mut h = H::new(&three(), 0);
    h.boot(None);
    h.at(1);
    h.hello(S3, ServerState::Syncing);
    h.share(S3, ServerState::Syncing, vec![]);
    let out = h.fire(Timer::SyncWait);
    assert_event(&out, E::StartupSyncTimeout);
    let g2 = h.g("g2");
    assert_eq!(start_sent(&out, S3, g2), Some(StartKind::ClusterStart), "server2 is absent: next in g2's policy");
    assert!(start_sent(&out, S2, g2).is_none());
}

#[test]
fn b5_only_the_coordinator_places_at_formation() {
    let h = formed(&three(), 1);
    assert_no_event(&h.log, E::ClusterStarted);
    assert!(activated(&h.log).is_empty());
    for g in ["g1", "g2", "g3"] {
        assert!(!start_sent_anywhere(&h.log, h.g(g)), "server2 is not the coordinator");
    }
}

fn exclusive3() -> String {
    let x = "exclusive = true";
    cluster_toml(2, "", &["lan1"])
        + &group_toml("x1", &[1, 2], x)
        + &fip_toml("xip1", 21)
        + &group_toml("x2", &[1, 2], x)
        + &fip_toml("xip2", 22)
        + &group_toml("x3", &[1, 2], x)
        + &fip_toml("xip3", 23)
}

#[test]
fn b53_exclusive_groups_are_placed_on_distinct_servers() {
    let h = formed(&exclusive3(), 0);
    let (x1, x2, x3) = (h.g("x1"), h.g("x2"), h.g("x3"));
    assert_eq!(activated(&h.log), vec![h.r("xip1")], "x1 here");
    assert!(has_for_group(&h.log, E::GroupStarting, x1));
    assert_eq!(start_sent(&h.log, S2, x2), Some(StartKind::ClusterStart), "x2 sees x1 placed here");
    assert!(!start_sent_anywhere(&h.log, x3));
    assert!(has_for_group(&h.log, E::GroupNoTarget, x3), "both servers hold an exclusive group");
    assert_eq!(h.node.group_state(x3), GroupState::Offline);
}

#[test]
fn b53_failover_never_puts_a_second_exclusive_group_on_a_server() {
    let mut h = joined(&exclusive3(), 1, None, &[(S1, "x1")]);
    let (x1, x2) = (h.g("x1"), h.g("x2"));
    // x2 runs here (started by command earlier).
    h.msg(S1, Message::StartGroup { group: x2, kind: StartKind::Command, stable_epoch_ms: 0 });
    h.settle();
    assert_eq!(h.node.group_state(x2), GroupState::Online);
    h.clear();
    let out = h.msg(S1, Message::Departure { clean: true, power_off: true, groups: vec![x1] });
    assert!(has_for_group(&out, E::GroupNoTarget, x1), "{:?}", kinds(&out));
    assert!(activated(&out).is_empty());
    assert_eq!(h.node.group_state(x1), GroupState::Offline);
}

#[test]
fn b54_start_after_waits_with_group_start_waiting_then_starts_when_the_named_group_is_online() {
    let text = cluster_toml(2, "", &["lan1"])
        + &group_toml("g1", &[1, 2], "")
        + &fip_toml("ip1", 11)
        + &group_toml("g2", &[2, 1], "start_after = [\"g1\"]")
        + &fip_toml("ip2", 12);
    let mut h = formed(&text, 0);
    let (g1, g2) = (h.g("g1"), h.g("g2"));
    assert!(has_for_group(&h.log, E::GroupStartWaiting, g2));
    assert!(!start_sent_anywhere(&h.log, g2), "g1 is not online yet");
    assert_no_event(&h.log, E::GroupStartBlocked);
    h.clear();
    let out = h.settle();
    assert!(has_for_group(&out, E::GroupOnline, g1));
    assert_eq!(start_sent(&out, S2, g2), Some(StartKind::ClusterStart), "placed once g1 is online");
}

#[test]
fn b54_start_after_a_manual_group_is_blocked() {
    let text = cluster_toml(2, "", &["lan1"])
        + &group_toml("g1", &[1, 2], "startup = \"manual\"")
        + &fip_toml("ip1", 11)
        + &group_toml("g2", &[2, 1], "start_after = [\"g1\"]")
        + &fip_toml("ip2", 12);
    let h = formed(&text, 0);
    let g2 = h.g("g2");
    assert!(has_for_group(&h.log, E::GroupStartWaiting, g2));
    assert!(has_for_group(&h.log, E::GroupStartBlocked, g2), "g1 is offline with no start pending");
    assert!(!start_sent_anywhere(&h.log, g2));
    assert!(activated(&h.log).is_empty());
}

#[test]
fn b55_failover_manual_group_is_held_after_its_server_departs() {
    let text =
        cluster_toml(2, "", &["lan1"]) + &group_toml("gm", &[1, 2], "failover = \"manual\"") + &fip_toml("ip1", 11);
    let mut h = joined(&text, 1, None, &[(S1, "gm")]);
    let gm = h.g("gm");
    let out = h.msg(S1, Message::Departure { clean: false, power_off: true, groups: vec![gm] });
    assert!(has_for_group(&out, E::GroupFailoverHeld, gm));
    assert!(activated(&out).is_empty());
    assert_eq!(h.node.group_state(gm), GroupState::Offline);
}

#[test]
fn b55_no_eligible_target_gives_group_no_target() {
    let text = cluster_toml(2, "", &["lan1"]) + &group_toml("only1", &[1], "") + &fip_toml("ip1", 11);
    let mut h = joined(&text, 1, None, &[(S1, "only1")]);
    let g = h.g("only1");
    let out = h.msg(S1, Message::Departure { clean: true, power_off: true, groups: vec![g] });
    assert!(has_for_group(&out, E::GroupNoTarget, g));
    assert!(activated(&out).is_empty());
}

#[test]
fn b57_auto_failback_asks_the_current_owner_to_move_the_group_to_the_returning_server() {
    let text = cluster_toml(2, "", &["lan1"])
        + &group_toml("auto", &[1, 2], "failback = \"auto\"")
        + &fip_toml("ip1", 11)
        + &group_toml("man", &[1, 2], "")
        + &fip_toml("ip2", 12);
    let h = joined(&text, 0, None, &[(S2, "auto"), (S2, "man")]);
    let (auto, man) = (h.g("auto"), h.g("man"));
    let moves: Vec<_> = sent(&h.log, S2)
        .into_iter()
        .filter_map(|m| {
            if let Message::MoveGroup { group, to, failback } = m {
                Some((*group, *to, *failback))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(moves, vec![(auto, S1, true)], "failback = manual: a returning server receives nothing");
    assert!(!moves.iter().any(|(g, _, _)| *g == man));
}
