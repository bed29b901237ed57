//! Leaving and self-fencing (B45, B67, B68, B71, B72, B130): `np_action` variants,
//! orderly departures for final actions, clean departures, and a fenced run hearing
//! nothing more. Every unclean end persists `last_end_clean = Some(false)`.

use super::*;
use crate::io::ClusterOp;
use crate::script::ClpFactor;
use EventKind as E;

fn fence_cfg(cluster_extra: &str, e1_extra: &str) -> String {
    cluster_toml(2, cluster_extra, &["lan1"])
        + &group_toml("app", &[1, 2], "")
        + &fip_toml("ip1", 81)
        + &exec_toml("e1", e1_extra)
}

/// Server1 formed with `app` online on it.
fn app_online(text: &str) -> H {
    let mut h = formed(text, 0);
    h.settle();
    assert_eq!(h.node.group_state(h.g("app")), GroupState::Online);
    h.clear();
    h
}

/// The departure notice sent to server2, as (clean, power_off, groups).
fn departure(out: &[Output]) -> Option<(bool, bool, Vec<GroupId>)> {
    sent(out, S2).into_iter().find_map(|m| {
        if let Message::Departure { clean, power_off, groups } = m {
            Some((*clean, *power_off, groups.clone()))
        } else {
            None
        }
    })
}

#[test]
fn b45_np_action_variants_map_to_their_event_and_power_action() {
    let cases = [
        ("emergency-shutdown", E::EmergencyShutdown, PowerAction::EmergencyShutdown, false),
        ("emergency-reboot", E::EmergencyReboot, PowerAction::EmergencyReboot, false),
        ("stop-service", E::ServiceStopForFailure, PowerAction::FailureServiceStop, true),
        ("panic", E::Panic, PowerAction::Panic, false),
    ];
    for (action, kind, pw, service_stopped) in cases {
        let mut h = app_online(&fence_cfg(&format!("np_action = \"{action}\""), ""));
        let out = h.msg(S2, Message::DownNotice { groups: vec![] });
        assert_event(&out, E::ServerDownNotified);
        assert_event(&out, kind);
        assert_eq!(power(&out), Some(pw), "np_action = {action}");
        let p = persisted(&out).expect("the end of the run is persisted");
        assert_eq!(p.last_end_clean, Some(false), "np_action = {action} ends the run uncleanly");
        assert_eq!(p.service_stopped, service_stopped, "np_action = {action}");
        assert!(deactivated(&out).is_empty(), "np_action releases everything at once, no stop scripts");
        assert!(departure(&out).is_none(), "no departure notice");
        assert!(h.node.is_gone());
    }
}

#[test]
fn b130_a_fenced_server_handles_nothing_more() {
    let mut h = app_online(&fence_cfg("", ""));
    h.msg(S2, Message::DownNotice { groups: vec![] });
    assert!(h.node.is_gone());
    let mut after = h.hb_all(S2);
    after.extend(h.cmd(Command::GroupStop { group: h.g("app") }));
    after.extend(h.fire_now(Timer::HeartbeatTick));
    after.extend(h.msg(S2, Message::StateRequest));
    assert!(after.is_empty(), "a run that has ended hears nothing: {after:?}");
}

#[test]
fn b71_b15_stop_service_final_action_stops_groups_with_clusterleave_then_departs() {
    let text = fence_cfg("", "") + &exec_toml("e2", "activation = { failovers = 0, final_action = \"stop-service\" }");
    let mut h = formed(&text, 0);
    h.ok(h.activation_of(h.r("ip1")));
    h.ok(h.activation_of(h.r("e1")));
    h.clear();
    let out = h.fail(h.activation_of(h.r("e2")));
    assert_eq!(event(&out, E::ActivationFinalAction).reason.as_deref(), Some("stop-service"));
    assert_event(&out, E::ServiceStopForFailure);
    assert_eq!(stop_env(&out, h.r("e1")).factor, Some(ClpFactor::ClusterLeave));
    assert!(departure(&out).is_none(), "the groups stop first");
    let rest = h.settle();
    assert_eq!(departure(&rest), Some((false, false, vec![h.g("app")])));
    assert_eq!(power(&rest), Some(PowerAction::FailureServiceStop));
    let p = persisted(&rest).expect("persisted");
    assert_eq!((p.last_end_clean, p.service_stopped), (Some(false), true));
    assert!(h.node.is_gone());
}

#[test]
fn b72_default_deactivation_final_action_stops_the_service_and_shuts_down() {
    let mut h = app_online(&fence_cfg("", ""));
    h.cmd(Command::GroupStop { group: h.g("app") });
    let out = h.fail(h.deactivation_of(h.r("e1")));
    assert_eq!(event(&out, E::DeactivationFinalAction).reason.as_deref(), Some("stop-service-and-shutdown"));
    assert_event(&out, E::ShutdownForFailure);
    let rest = h.settle();
    assert!(deactivated(&h.log).contains(&h.r("ip1")), "the rest of the group still stops");
    assert_eq!(departure(&rest).map(|(c, p, _)| (c, p)), Some((false, true)));
    assert_eq!(power(&rest), Some(PowerAction::FailureShutdown));
    assert_eq!(persisted(&rest).and_then(|p| p.last_end_clean), Some(false));
}

#[test]
fn b68_os_shutdown_stops_groups_with_servershutdown_and_departs_cleanly() {
    let mut h = app_online(&fence_cfg("", ""));
    let out = h.input(Input::ShutdownRequested);
    assert_event(&out, E::ServerShutdown);
    assert_eq!(stop_env(&out, h.r("e1")).factor, Some(ClpFactor::ServerShutdown));
    let rest = h.settle();
    assert_eq!(departure(&rest), Some((true, true, vec![h.g("app")])));
    assert_event(&rest, E::ServiceStopped);
    assert_eq!(power(&rest), Some(PowerAction::CleanPowerOff));
    assert_eq!(persisted(&rest).and_then(|p| p.last_end_clean), Some(true));
}

#[test]
fn b67_cluster_stop_stops_groups_with_clustershutdown_and_records_where_they_ran() {
    let mut h = app_online(&fence_cfg("", ""));
    let g = h.g("app");
    let out = h.cmd(Command::ClusterStop);
    assert_eq!(reply(&out), Ok(()));
    assert!(sent(&out, S2).iter().any(|m| matches!(m, Message::ClusterOp(ClusterOp::Stop))));
    assert_event(&out, E::ClusterStopping);
    assert_eq!(stop_env(&out, h.r("e1")).factor, Some(ClpFactor::ClusterShutdown));
    let rest = h.settle();
    assert_eq!(power(&rest), Some(PowerAction::CleanServiceStop));
    let p = persisted(&rest).expect("persisted");
    assert_eq!((p.last_end_clean, p.service_stopped), (Some(true), true));
    assert_eq!(p.stop_record, vec![(g, S1)], "B92: the server each group was on");
}

#[test]
fn b54_server_shutdown_stops_a_group_before_the_groups_it_starts_after() {
    // `dep` is written first, so reverse file order alone would stop `base` first.
    let text = cluster_toml(2, "", &["lan1"])
        + &group_toml("dep", &[1, 2], "start_after = [\"base\"]")
        + &exec_toml("dep-exec", "")
        + &group_toml("base", &[1, 2], "")
        + &exec_toml("base-exec", "");
    let mut h = formed(&text, 0);
    h.settle();
    let (dep, base) = (h.g("dep"), h.g("base"));
    assert_eq!((h.node.group_state(dep), h.node.group_state(base)), (GroupState::Online, GroupState::Online));
    h.clear();
    let out = h.input(Input::ShutdownRequested);
    assert_eq!(deactivated(&out), vec![h.r("dep-exec")], "base waits for dep");
    let next = h.ok(h.deactivation_of(h.r("dep-exec")));
    assert_eq!(deactivated(&next), vec![h.r("base-exec")]);
    let rest = h.settle();
    assert_eq!(power(&rest), Some(PowerAction::CleanPowerOff));
}

#[test]
fn b130_6_a_shutdown_still_up_heartbeat_timeout_after_the_service_stopped_is_reset() {
    let mut h = app_online(&fence_cfg("", ""));
    h.input(Input::ShutdownRequested);
    let rest = h.settle();
    assert_eq!(power(&rest), Some(PowerAction::CleanPowerOff));
    assert!(h.node.is_gone());
    let stopped_at = h.now;
    let limit = h.timer(Timer::ShutdownStall).expect("stall limit armed at the service stop");
    assert_eq!(limit, stopped_at + h.node.config().cluster.heartbeat_timeout_ms);
    // The ended run hears nothing else (B45), not even an earlier timer kind.
    assert!(h.input(Input::TimerFired { timer: Timer::HeartbeatTick }).is_empty());
    assert!(h.input(Input::ProcessDied { process: "core".into() }).is_empty());
    // The machine is still up at the limit: reset.
    let out = h.fire(Timer::ShutdownStall);
    let e = event(&out, E::ShutdownStallReset);
    assert!(e.reason.as_deref().is_some_and(|r| r.contains("B130 6")), "{e:?}");
    assert_eq!(power(&out), Some(PowerAction::EmergencyReboot));
    // Once: the reset ends the machine's run too.
    assert!(h.input(Input::TimerFired { timer: Timer::ShutdownStall }).is_empty());
}

#[test]
fn b130_6_no_stall_limit_for_a_service_stop_or_an_emergency_action() {
    let mut h = app_online(&fence_cfg("", ""));
    h.cmd(Command::ClusterStop);
    h.settle();
    assert_eq!(h.timer(Timer::ShutdownStall), None, "the machine stays up on purpose");
    let mut h = app_online(&fence_cfg("", ""));
    h.input(Input::Message { from: S2, msg: Box::new(Message::DownNotice { groups: vec![] }) });
    assert!(h.node.is_gone());
    assert_eq!(h.timer(Timer::ShutdownStall), None, "an emergency action is its own reset");
}

#[test]
fn b130_7_a_dead_core_process_stops_the_groups_then_shuts_down_uncleanly() {
    let mut h = app_online(&fence_cfg("", ""));
    let long = "x".repeat(500);
    let out = h.input(Input::ProcessDied { process: long });
    let e = event(&out, E::ProcessDied);
    let reason = e.reason.clone().unwrap_or_default();
    assert!(reason.len() < 120, "the process name is bounded: {reason}");
    assert_eq!(stop_env(&out, h.r("e1")).factor, Some(ClpFactor::ServerShutdown));
    let rest = h.settle();
    assert_eq!(departure(&rest), Some((false, true, vec![h.g("app")])), "orderly, with a notice (B15)");
    assert_eq!(power(&rest), Some(PowerAction::FailureShutdown));
    assert_eq!(persisted(&rest).and_then(|p| p.last_end_clean), Some(false));
    assert!(h.timer(Timer::ShutdownStall).is_some(), "the OS shutdown is watched too (B130 6)");
}
