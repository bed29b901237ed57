//! Reactivations and monitor failovers interrupted (B83.3, B83.4 with B55, B64, B65,
//! B68, B122): an operator command during a resource restart, and a server lost during
//! the RECOVER run of a monitor failover.

use super::*;
use crate::script::ClpFactor;
use EventKind as E;

/// `app` = ip1 + e1 on server1 then server2; `appw` restarts e1 once (B83.3), then
/// fails the group over (B83.4).
fn res_mon() -> String {
    cluster_toml(2, "", &["lan1"])
        + &group_toml("app", &[1, 2], "")
        + &fip_toml("ip1", 61)
        + &exec_toml("e1", "")
        + "\n[[monitor]]\nname = \"appw\"\nkind = \"exec\"\ncommand = \"check.sh\"\ninterval = \"10s\"\ntimeout = \"5s\"\nretries = 0\nrecovery_target = \"e1\"\nreactivations = 1\nfailovers = 1\nfinal_action = \"none\"\n"
}

/// Server1 formed with `app` online; `appw` errs and e1's restart has stopped e1 and
/// is activating it again (the answer not given yet).
fn restart_activating() -> H {
    let mut h = formed(&res_mon(), 0);
    h.settle();
    let (m, e1) = (h.m("appw"), h.r("e1"));
    let out = h.check(m, false);
    assert_event(&out, E::RecoveryReactivate);
    assert_eq!(stop_env(&out, e1).factor, Some(ClpFactor::ResourceRestart));
    h.ok(h.deactivation_of(e1));
    h.activation_of(e1);
    h.clear();
    h
}

#[test]
fn b122_group_stop_during_a_resource_restart_stops_the_group_once_the_activation_ends() {
    let mut h = restart_activating();
    let (g, e1) = (h.g("app"), h.r("e1"));
    assert_eq!(reply(&h.cmd(Command::GroupStop { group: g })), Ok(()));
    assert_eq!(h.node.group_state(g), GroupState::Stopping);
    let out = h.ok(h.activation_of(e1));
    assert_eq!(stop_env(&out, e1).factor, Some(ClpFactor::GroupStop), "the stop goes on (B64)");
    let rest = h.settle();
    assert!(has_for_group(&rest, E::GroupOffline, g));
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    assert!(!start_sent_anywhere(&rest, g), "a stopped group stays stopped (B122)");
}

#[test]
fn b65_group_move_during_a_resource_restart_hands_the_group_over() {
    let mut h = restart_activating();
    let (g, e1) = (h.g("app"), h.r("e1"));
    assert_eq!(reply(&h.cmd(Command::GroupMove { group: g, to: None })), Ok(()));
    let mut out = h.ok(h.activation_of(e1));
    out.extend(h.settle());
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    assert_eq!(start_sent(&out, S2, g), Some(StartKind::Move));
}

#[test]
fn b68_server_shutdown_during_a_resource_restart_stops_the_group_and_powers_off() {
    let mut h = restart_activating();
    let g = h.g("app");
    assert_eq!(reply(&h.cmd(Command::ServerShutdown { server: S1, reboot: false })), Ok(()));
    let mut out = h.ok(h.activation_of(h.r("e1")));
    out.extend(h.settle());
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    assert_eq!(power(&out), Some(PowerAction::CleanPowerOff), "the departure follows the stop (B68)");
}

#[test]
fn b122_a_failed_activation_under_a_stop_is_not_retried_nor_failed_over() {
    let mut h = restart_activating();
    let (g, e1) = (h.g("app"), h.r("e1"));
    h.cmd(Command::GroupStop { group: g });
    let mut out = h.fail(h.activation_of(e1));
    assert_event(&out, E::ResourceActivationFailed);
    for k in [E::ResourceActivationRetry, E::ActivationFinalAction] {
        assert_no_event(&out, k);
    }
    out.extend(h.settle());
    assert!(!activated(&out).contains(&e1));
    assert!(!start_sent_anywhere(&out, g), "the operator's stop wins over the ladder (B70)");
    assert_eq!(h.node.group_state(g), GroupState::Offline);
}

/// The state of `g` in the last state message sent to `to`.
fn shared_state_of(out: &[Output], to: ServerId, g: GroupId) -> Option<GroupState> {
    let last = sent(out, to).into_iter().rev().find_map(|m| {
        if let Message::State(s) = m {
            Some(s.groups.clone())
        } else {
            None
        }
    })?;
    Some(last.iter().find(|(id, _)| *id == g).map_or(GroupState::Offline, |(_, st)| *st))
}

#[test]
fn b55_a_group_in_the_recover_run_of_a_monitor_failover_is_shared_as_stopping() {
    let mut h = formed(&res_mon(), 0);
    h.settle();
    let (m, g, e1) = (h.m("appw"), h.g("app"), h.r("e1"));
    h.check(m, false);
    h.settle(); // the restart (B83.3)
    let mut out = h.check(m, false);
    assert_event(&out, E::RecoveryFailover);
    while let Some(id) = h.find_action(|a| matches!(a, Action::Deactivate { .. })) {
        out.extend(h.ok(id));
    }
    assert!(has_for_group(&out, E::GroupOffline, g));
    assert!(h.find_action(|a| matches!(a, Action::RecoverRun { res, .. } if *res == e1)).is_some());
    // Offline here, but not yet handed to server2: a peer judging server1 down now must
    // find it among server1's groups (B55).
    assert_eq!(shared_state_of(&out, S2, g), Some(GroupState::Stopping));
    let done = h.settle();
    assert_eq!(start_sent(&done, S2, g), Some(StartKind::MonitorFailover));
    assert_eq!(shared_state_of(&done, S2, g), Some(GroupState::Offline), "handed over: no longer here");
}

/// `a` and `b`, each one exec resource, on server1 then server2.
fn two_groups() -> String {
    cluster_toml(2, "", &["lan1"])
        + &group_toml("a", &[1, 2], "")
        + &exec_toml("ax", "")
        + &group_toml("b", &[1, 2], "")
        + &exec_toml("bx", "")
}

#[test]
fn b68_groups_stopped_by_a_server_shutdown_are_shared_as_stopping_until_the_departure() {
    let mut h = formed(&two_groups(), 0);
    h.settle();
    let (a, b) = (h.g("a"), h.g("b"));
    h.clear();
    h.cmd(Command::ServerShutdown { server: S1, reboot: false });
    let out = h.ok(h.deactivation_of(h.r("bx")));
    assert!(has_for_group(&out, E::GroupOffline, b));
    // b is down here but the departure that hands it on is not sent yet: a peer that
    // loses this server now must still fail b over (B55).
    let shared = h.node.shared_state().groups;
    assert_eq!(shared, vec![(a, GroupState::Stopping), (b, GroupState::Stopping)]);
    let rest = h.ok(h.deactivation_of(h.r("ax")));
    assert!(sent(&rest, S2).iter().any(|m| matches!(m, Message::Departure { .. })));
}

#[test]
fn b51_a_server_holding_the_group_in_error_is_no_failover_target() {
    // After a split brain server2 holds app in error (B74) while server1 runs it:
    // a monitor failover may not pick server2, which would refuse the start.
    let mut h = formed(&res_mon(), 0);
    h.settle();
    let (m, g) = (h.m("appw"), h.g("app"));
    h.share(S2, ServerState::Online, vec![(g, GroupState::Error)]);
    h.check(m, false);
    h.settle(); // the restart (B83.3)
    let out = h.check(m, false);
    assert_no_event(&out, E::RecoveryFailover);
    assert!(has_for_group(&out, E::GroupNoTarget, g));
    assert_event(&out, E::RecoveryFinalAction);
    assert_eq!(h.node.group_state(g), GroupState::Online, "final action none: it keeps running here");
}

#[test]
fn b83_a_resource_restart_covering_every_resource_keeps_the_group_online() {
    // ip1 is the recovery target; e1 depends on it (B62), so the restart stops both.
    let text = res_mon().replace("recovery_target = \"e1\"", "recovery_target = \"ip1\"");
    let mut h = formed(&text, 0);
    h.settle();
    let (m, g, ip1) = (h.m("appw"), h.g("app"), h.r("ip1"));
    let mut out = h.check(m, false);
    assert_event(&out, E::RecoveryReactivate);
    out.extend(h.ok(h.deactivation_of(h.r("e1"))));
    out.extend(h.ok(h.deactivation_of(ip1)));
    h.activation_of(ip1);
    assert_eq!(h.node.group_state(g), GroupState::Online, "still this server's while it restarts");
    assert!(!has_for_group(&out, E::GroupOffline, g));
    // Peers must not see it held by nobody (B55), nor a `group start` be accepted.
    assert_ne!(shared_state_of(&out, S2, g), Some(GroupState::Offline));
    assert!(reply(&h.cmd(Command::GroupStart { group: g, on: Some(S2) })).is_err());
    let rest = h.settle();
    assert!(events(&rest).iter().any(|e| e.kind == E::ResourceRestarted && e.resource == Some(ip1)));
    assert_eq!(h.node.group_state(g), GroupState::Online);
}

/// A resource restart whose stop fails with final action `none` (B72) leaves the group
/// in error here and the restart over: its target no longer counts as reactivated, so
/// no `resource-restarted` (nor `resource-restart-failed`) can come for it later. The
/// target used to stay recorded after the restart ended (`check_invariants` named it).
#[test]
fn b72_a_resource_restart_whose_stop_fails_ends_with_the_group_in_error() {
    let text = res_mon().replace(
        "start = \"start.sh\"\nstop = \"stop.sh\"\n",
        "start = \"start.sh\"\nstop = \"stop.sh\"\ndeactivation = { final_action = \"none\" }\n",
    );
    let mut h = formed(&text, 0);
    h.settle();
    let (m, g, e1) = (h.m("appw"), h.g("app"), h.r("e1"));
    let out = h.check(m, false);
    assert_event(&out, E::RecoveryReactivate);
    let out = h.fail(h.deactivation_of(e1));
    assert_event(&out, E::GroupStopFailed);
    assert_eq!(h.node.group_state(g), GroupState::Error);
    assert!(h.node.check_invariants().is_empty(), "{:?}", h.node.check_invariants());
}

/// A resource restart whose stop fails with a final action that takes the server out
/// (B72 default `stop-service-and-shutdown`) while a group started after this one
/// (`start_after`, B54) still runs here: the departure cannot stop the group yet, so
/// the restart's partial stop used to end with the group `online`, its restarted
/// resources offline and the reactivation still recorded (generated seeds 2568, 9549,
/// 12029, 12120, 18843). The group is in error instead (its stop failed) and the
/// departure stops it after the group naming it.
#[test]
fn b72_a_resource_restart_whose_stop_takes_the_server_out_stops_the_group_for_the_departure() {
    let text = res_mon() + &group_toml("dep", &[1, 2], "start_after = [\"app\"]") + &fip_toml("ip2", 62);
    let mut h = formed(&text, 0);
    h.settle();
    let (m, g, dep, e1) = (h.m("appw"), h.g("app"), h.g("dep"), h.r("e1"));
    assert_eq!(h.node.group_state(dep), GroupState::Online);
    let out = h.check(m, false);
    assert_event(&out, E::RecoveryReactivate);
    let out = h.fail(h.deactivation_of(e1));
    assert_event(&out, E::ShutdownForFailure);
    assert!(h.node.check_invariants().is_empty(), "{:?}", h.node.check_invariants());
    assert_eq!(h.node.group_state(g), GroupState::Error, "its stop failed (B72)");
    assert_eq!(h.node.group_state(dep), GroupState::Stopping, "the group naming it stops first (B54)");
    let out = h.settle();
    let stops: Vec<_> = events(&out).into_iter().filter(|e| e.kind == E::GroupStopping).map(|e| e.group).collect();
    assert_eq!(stops, vec![Some(g)], "then the group itself (B54, B15)");
    assert!(h.node.check_invariants().is_empty(), "{:?}", h.node.check_invariants());
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    assert_eq!(h.node.group_state(dep), GroupState::Offline);
    assert_eq!(power(&out), Some(PowerAction::FailureShutdown), "the departure follows the stops (B15)");
}

/// A group reactivation (B83.3) whose start fails at once: the mirror's latest data
/// cannot be determined while the peer's loss is being resolved (B102, B106), so the
/// activation is refused in the same input, and final action `none` leaves the group
/// in error (B71). The reactivation was recorded only after its start returned, so the
/// failure was not reported as the reactivation's (`group-restart-failed`) and the
/// record stayed on a group in error (`check_invariants`; generated seed 24221).
#[test]
fn b83_a_group_reactivation_whose_start_fails_at_once_ends_it_as_failed() {
    // The mirror is the group's first resource, so its start begins with it.
    let text = super::mirror::mirror2().replace("\n[[group.resource]]\nname = \"mip\"\nkind = \"floating-ip\"\naddress = \"10.0.0.61/24\"\n", "")
        + "\n[[np]]\nname = \"d1\"\nkind = \"disk\"\ndevice = \"/dev/sdq1\"\nio_wait = \"5s\"\n"
        + "\n[[monitor]]\nname = \"mgw\"\nkind = \"exec\"\ncommand = \"check.sh\"\ninterval = \"10s\"\ntimeout = \"5s\"\nretries = 0\nrecovery_target = \"mg\"\nreactivations = 1\n";
    let mut h = formed(&text, 0);
    h.settle();
    let (m, g, md1) = (h.m("mgw"), h.g("mg"), h.r("md1"));
    assert_eq!(h.node.group_state(g), GroupState::Online);
    // server2 falls silent: lost at D, its verdict on the disk is a window away (B34).
    h.run_until(40_000, |t| matches!(t, Timer::Liveness));
    assert!(h.node.peers[S2.idx()].lost_at.is_some(), "{:?}", kinds(&h.log));
    assert!(!h.node.peers[S2.idx()].judged_down);
    let out = h.check(m, false);
    assert_event(&out, E::RecoveryReactivate);
    assert!(has_for_group(&out, E::GroupRestarting, g));
    let out = h.settle();
    assert!(
        events(&out).iter().any(|e| e.kind == E::MirrorStaleRefused && e.resource == Some(md1)),
        "{:?}",
        kinds(&out)
    );
    assert_event(&out, E::GroupStartFailed);
    assert!(has_for_group(&out, E::GroupRestartFailed, g), "{:?}", kinds(&out));
    assert_eq!(h.node.group_state(g), GroupState::Error);
    assert!(h.node.check_invariants().is_empty(), "{:?}", h.node.check_invariants());
}

/// A start handed over by the server that held the group (an activation failover,
/// B70) arrives before that server's state saying it stopped the group: the mirror
/// is not taken for "online on another server" (B106) on the sender's last state
/// (generated seed 23638: the refusal ran a `stop-service` final action here).
#[test]
fn b70_b106_a_start_from_the_holder_is_not_refused_on_its_last_state() {
    let text = super::mirror::mirror2()
        .replace("\n[[group.resource]]\nname = \"mip\"\nkind = \"floating-ip\"\naddress = \"10.0.0.61/24\"\n", "");
    let mut h = formed_with(&text, 0, &[(S2, "mg")]);
    h.settle();
    let (g, md1) = (h.g("mg"), h.r("md1"));
    assert_eq!(h.node.holders(g), vec![S2]);
    let out = h.msg(S2, Message::StartGroup { group: g, kind: StartKind::ActivationFailover, stable_epoch_ms: 0 });
    assert_no_event(&out, E::MirrorStaleRefused);
    assert_eq!(activated(&out), vec![md1], "{:?}", kinds(&out));
    assert_eq!(h.node.group_state(g), GroupState::Starting);
}

/// A `group start` given on the server whose group reactivation (B83.3) is in its
/// RECOVER run (B93): the group reads offline there, but its start belongs to this
/// server and follows the run, so a start elsewhere would put it online twice (B1).
/// The command is refused with the reason (generated seed 20436: `group start g1 --on
/// server2` accepted there, g1 online on both servers).
#[test]
fn b122_group_start_during_a_group_reactivations_recover_run_is_refused() {
    let text = res_mon().replace("recovery_target = \"e1\"", "recovery_target = \"app\"");
    let mut h = formed(&text, 0);
    h.settle();
    let (m, g, e1, ip1) = (h.m("appw"), h.g("app"), h.r("e1"), h.r("ip1"));
    let out = h.check(m, false);
    assert_event(&out, E::RecoveryReactivate);
    h.ok(h.deactivation_of(e1));
    h.ok(h.deactivation_of(ip1));
    assert!(h.find_action(|a| matches!(a, Action::RecoverRun { .. })).is_some(), "{:?}", h.actions);
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    let answer = reply(&h.cmd(Command::GroupStart { group: g, on: Some(S2) }));
    assert!(answer.as_ref().is_err_and(|e| e.contains("RECOVER")), "{answer:?}");
    let rest = h.settle();
    assert!(!start_sent_anywhere(&rest, g), "the refused start went nowhere");
    assert_eq!(h.node.group_state(g), GroupState::Online, "the reactivation ends online here");
}
