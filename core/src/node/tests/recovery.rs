//! Recovery ladders (B58, B70–B72): activation retry, failover with `GROUPFAILOVER`,
//! final action `none`, deactivation failures, and the failover counter with its reset.

use super::*;
use crate::io::CounterKey;
use crate::script::ClpFactor;
use EventKind as E;

/// `app` = ip1, e1, e2 (e2 with `e2_extra`), on server1 then server2.
fn rec(cluster_extra: &str, e2_extra: &str) -> String {
    cluster_toml(2, cluster_extra, &["lan1"])
        + &group_toml("app", &[1, 2], "")
        + &fip_toml("ip1", 41)
        + &exec_toml("e1", "")
        + &exec_toml("e2", e2_extra)
}

/// Server1 formed, app starting on it: ip1 and e1 online, e2's activation in flight.
fn up_to_e2(text: &str) -> H {
    let mut h = formed(text, 0);
    h.ok(h.activation_of(h.r("ip1")));
    h.ok(h.activation_of(h.r("e1")));
    h.activation_of(h.r("e2"));
    h.clear();
    h
}

fn fail_e2(h: &mut H) -> Vec<Output> {
    let id = h.activation_of(h.r("e2"));
    h.fail(id)
}

#[test]
fn b70_activation_failure_is_retried_in_place() {
    let mut h = up_to_e2(&rec("", "activation = { retries = 1 }"));
    let out = fail_e2(&mut h);
    assert_event(&out, E::ResourceActivationFailed);
    assert_event(&out, E::ResourceActivationRetry);
    assert_eq!(activated(&out), vec![h.r("e2")], "the same resource again, here");
    assert!(deactivated(&out).is_empty());
    let ok = h.ok(h.activation_of(h.r("e2")));
    assert_event(&ok, E::GroupOnline);
}

#[test]
fn b70_activation_failure_fails_over_stopping_with_groupfailover_then_starting_on_the_target() {
    let mut h = up_to_e2(&rec("", ""));
    let g = h.g("app");
    let out = fail_e2(&mut h);
    assert_event(&out, E::ResourceActivationFailed);
    assert_no_event(&out, E::ActivationFinalAction);
    assert_eq!(deactivated(&out), vec![h.r("e1")], "the failed e2 is not stopped (B94)");
    assert_eq!(stop_env(&out, h.r("e1")).factor, Some(ClpFactor::GroupFailover));
    assert!(start_sent(&out, S2, g).is_none(), "the target starts after the stop");
    let rest = h.settle();
    assert!(!deactivated(&rest).contains(&h.r("e2")));
    assert!(has_for_group(&rest, E::GroupOffline, g));
    assert_eq!(start_sent(&rest, S2, g), Some(StartKind::ActivationFailover));
}

#[test]
fn b71_final_action_none_leaves_the_group_in_error() {
    let mut h = up_to_e2(&rec("", "activation = { failovers = 0 }"));
    let g = h.g("app");
    let out = fail_e2(&mut h);
    assert_eq!(event(&out, E::ActivationFinalAction).reason.as_deref(), Some("none"));
    assert!(has_for_group(&out, E::GroupStartFailed, g));
    assert_eq!(h.node.group_state(g), GroupState::Error);
    assert!(deactivated(&out).is_empty(), "resources already online stay online");
    assert!(h.node.resource_online(h.r("e1")) && h.node.resource_online(h.r("ip1")));
    assert!(!h.node.resource_online(h.r("e2")));
    assert!(!start_sent_anywhere(&out, g));
}

/// Fails e2 on server1 (failover to server2), then server2 fails it over back.
fn fail_over_and_back(h: &mut H) -> Vec<Output> {
    let g = h.g("app");
    fail_e2(h);
    h.settle();
    h.at(h.now + 10_000);
    let mut out = h.msg(S2, Message::StartGroup { group: g, kind: StartKind::ActivationFailover, stable_epoch_ms: 0 });
    out.extend(h.ok(h.activation_of(h.r("ip1"))));
    out.extend(h.ok(h.activation_of(h.r("e1"))));
    out.extend(fail_e2(h));
    out
}

#[test]
fn b58_failover_counter_spent_runs_the_final_action() {
    let mut h = up_to_e2(&rec("", ""));
    let g = h.g("app");
    let out = fail_over_and_back(&mut h);
    assert!(has_for_group(&out, E::GroupFailover, g), "started here as a failover");
    assert_event(&out, E::ActivationFinalAction);
    assert!(has_for_group(&out, E::GroupStartFailed, g));
    assert!(has_for_group(&out, E::GroupFailoverFailed, g));
    assert_eq!(h.node.group_state(g), GroupState::Error);
    let rest = h.settle();
    assert!(!start_sent_anywhere(&rest, g), "failovers = 1 already spent");
}

#[test]
fn b58_failover_counter_resets_after_counter_reset_after() {
    let mut h = up_to_e2(&rec("counter_reset_after = \"10m\"", ""));
    let (g, e2) = (h.g("app"), h.r("e2"));
    let failed_at = h.now;
    fail_e2(&mut h);
    h.settle();
    assert_eq!(h.timer(Timer::CounterReset), Some(failed_at + 600_000));
    let reset = h.fire(Timer::CounterReset);
    let e = event(&reset, E::RecoveryCountersReset);
    assert_eq!(e.resource, Some(e2));
    assert!(!h.node.counters.failovers.contains_key(&CounterKey::Resource(e2)));
    // The same failure again fails over again instead of running the final action.
    h.at(h.now + 1_000);
    h.msg(S2, Message::StartGroup { group: g, kind: StartKind::ActivationFailover, stable_epoch_ms: 0 });
    h.ok(h.activation_of(h.r("ip1")));
    h.ok(h.activation_of(h.r("e1")));
    let out = fail_e2(&mut h);
    assert_no_event(&out, E::ActivationFinalAction);
    let rest = h.settle();
    assert_eq!(start_sent(&rest, S2, g), Some(StartKind::ActivationFailover));
}

#[test]
fn b72_deactivation_failure_is_retried() {
    let mut h = formed(&rec("", "deactivation = { retries = 1, final_action = \"none\" }"), 0);
    h.settle();
    let out = h.cmd(Command::GroupStop { group: h.g("app") });
    assert_eq!(deactivated(&out), vec![h.r("e2")]);
    let fail = h.fail(h.deactivation_of(h.r("e2")));
    assert_event(&fail, E::ResourceDeactivationRetry);
    assert_eq!(deactivated(&fail), vec![h.r("e2")]);
    let rest = h.settle();
    assert_event(&rest, E::GroupOffline);
}

#[test]
fn b72_deactivation_final_action_none_gives_group_stop_failed() {
    let mut h = formed(&rec("", "deactivation = { final_action = \"none\" }"), 0);
    let g = h.g("app");
    h.settle();
    h.clear();
    h.cmd(Command::GroupStop { group: g });
    let out = h.fail(h.deactivation_of(h.r("e2")));
    assert_event(&out, E::ResourceDeactivationFailed);
    assert_eq!(event(&out, E::DeactivationFinalAction).reason.as_deref(), Some("none"));
    assert!(has_for_group(&out, E::GroupStopFailed, g));
    assert_eq!(h.node.group_state(g), GroupState::Error);
    assert!(deactivated(&out).is_empty(), "the deactivation stops there");
    assert!(h.node.resource_online(h.r("e1")) && h.node.resource_online(h.r("ip1")));
    assert!(!h.node.is_gone());
}

#[test]
fn b72_failed_deactivation_with_none_abandons_the_move() {
    let mut h = formed(&rec("", "deactivation = { final_action = \"none\" }"), 0);
    let g = h.g("app");
    h.settle();
    h.clear();
    let accepted = h.cmd(Command::GroupMove { group: g, to: Some(S2) });
    assert_eq!(reply(&accepted), Ok(()));
    h.fail(h.deactivation_of(h.r("e2")));
    h.settle();
    assert!(has_for_group(&h.log, E::GroupStopFailed, g));
    assert!(!start_sent_anywhere(&h.log, g), "started nowhere while a resource is online");
}

#[test]
fn b71_final_action_ignore_carries_on_without_the_resource() {
    let mut h = up_to_e2(&rec("", "activation = { failovers = 0, final_action = \"ignore\" }"));
    let g = h.g("app");
    let out = fail_e2(&mut h);
    assert_event(&out, E::ResourceActivationIgnored);
    assert!(has_for_group(&out, E::GroupOnline, g), "online without it: {:?}", kinds(&out));
    assert_eq!(h.node.group_state(g), GroupState::Online);
    assert!(!h.node.resource_online(h.r("e2")));
}

#[test]
fn b71_final_action_stop_group_stops_the_group() {
    let mut h = up_to_e2(&rec("", "activation = { failovers = 0, final_action = \"stop-group\" }"));
    let g = h.g("app");
    let out = fail_e2(&mut h);
    assert_eq!(stop_env(&out, h.r("e1")).factor, Some(ClpFactor::GroupStop));
    let rest = h.settle();
    assert!(has_for_group(&rest, E::GroupOffline, g));
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    assert!(!start_sent_anywhere(&rest, g));
}
