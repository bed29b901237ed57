//! Groups (B61–B65, B73, B91–B96): resource order by class, one at a time on start
//! and in reverse on stop, the `CLP_*` environments of start and stop scripts, moves
//! as handovers, and the start refusal when another server holds the group.

use super::*;
use crate::script::{ClpEvent, ClpFactor};
use EventKind as E;

/// `app` holds an exec resource written before its floating IP.
fn app(n: usize) -> String {
    cluster_toml(n, "", &["lan1"])
        + &group_toml("app", &[1, 2], "")
        + &exec_toml("app-exec", "")
        + &fip_toml("app-ip", 31)
}

/// The group and resource events of `out`, as (kind, resource name).
fn story(h: &H, out: &[Output]) -> Vec<(EventKind, Option<String>)> {
    let keep = [
        E::GroupStarting,
        E::ResourceActivating,
        E::ResourceOnline,
        E::GroupOnline,
        E::GroupStopping,
        E::ResourceDeactivating,
        E::ResourceOffline,
        E::GroupOffline,
    ];
    events(out)
        .into_iter()
        .filter(|e| keep.contains(&e.kind))
        .map(|e| (e.kind, e.resource.map(|r| h.cfg.resource(r).name.clone())))
        .collect()
}

fn online_app_on_s1() -> H {
    let mut h = formed(&app(2), 0);
    h.settle();
    assert_eq!(h.node.group_state(h.g("app")), GroupState::Online);
    h.clear();
    h
}

#[test]
fn b62_b63_start_activates_floating_ip_before_exec_one_at_a_time() {
    let mut h = formed(&app(2), 0);
    let (ip, ex) = (h.r("app-ip"), h.r("app-exec"));
    assert_eq!(activated(&h.log), vec![ip], "class 1 first, and only one resource at a time");
    let first = h.ok(h.activation_of(ip));
    assert_eq!(activated(&first), vec![ex]);
    h.ok(h.activation_of(ex));
    let s = |k, r: Option<&str>| (k, r.map(String::from));
    assert_eq!(
        story(&h, &h.log),
        vec![
            s(E::GroupStarting, None),
            s(E::ResourceActivating, Some("app-ip")),
            s(E::ResourceOnline, Some("app-ip")),
            s(E::ResourceActivating, Some("app-exec")),
            s(E::ResourceOnline, Some("app-exec")),
            s(E::GroupOnline, None),
        ]
    );
    assert_eq!(h.node.group_state(h.g("app")), GroupState::Online);
}

#[test]
fn b64_stop_deactivates_in_reverse_order() {
    let mut h = online_app_on_s1();
    let (ip, ex) = (h.r("app-ip"), h.r("app-exec"));
    let out = h.cmd(Command::GroupStop { group: h.g("app") });
    assert_eq!(reply(&out), Ok(()));
    assert_eq!(deactivated(&out), vec![ex], "the dependant stops first");
    assert_eq!(h.node.group_state(h.g("app")), GroupState::Stopping);
    let next = h.ok(h.deactivation_of(ex));
    assert_eq!(deactivated(&next), vec![ip]);
    h.ok(h.deactivation_of(ip));
    let s = |k, r: Option<&str>| (k, r.map(String::from));
    assert_eq!(
        story(&h, &h.log),
        vec![
            s(E::GroupStopping, None),
            s(E::ResourceDeactivating, Some("app-exec")),
            s(E::ResourceOffline, Some("app-exec")),
            s(E::ResourceDeactivating, Some("app-ip")),
            s(E::ResourceOffline, Some("app-ip")),
            s(E::GroupOffline, None),
        ]
    );
    assert_eq!(h.node.group_state(h.g("app")), GroupState::Offline);
}

#[test]
fn b91_start_script_env_on_the_home_server() {
    let mut h = formed(&app(2), 0);
    let out = h.settle();
    let env = start_env(&out, h.r("app-exec"));
    let v = vars(&env);
    assert_eq!(v["CLP_EVENT"], "START");
    assert_eq!(v["CLP_SERVER"], "HOME");
    assert_eq!(v["CLP_PRIORITY"], "1");
    assert_eq!(v["CLP_DISK"], "SUCCESS");
    assert_eq!(v["CLP_GROUPNAME"], "app");
    assert_eq!(v["CLP_RESOURCENAME"], "app-exec");
    assert!(!v.contains_key("CLP_FACTOR"), "a start script has no factor");
}

#[test]
fn b64_b94_stop_script_env_echoes_the_start_and_adds_the_factor() {
    let mut h = online_app_on_s1();
    let ex = h.r("app-exec");
    let out = h.cmd(Command::GroupStop { group: h.g("app") });
    let env = stop_env(&out, ex);
    assert_eq!(env.factor, Some(ClpFactor::GroupStop));
    let v = vars(&env);
    assert_eq!(v["CLP_FACTOR"], "GROUPSTOP");
    assert_eq!(v["CLP_EVENT"], "START");
    assert_eq!(v["CLP_SERVER"], "HOME");
    assert_eq!(v["CLP_PRIORITY"], "1");
}

#[test]
fn b92_failover_start_on_a_lower_ranked_server_is_failover_other() {
    let mut h = formed(&app(2), 1);
    let g = h.g("app");
    let first = h.msg(S1, Message::StartGroup { group: g, kind: StartKind::ServerFailover, stable_epoch_ms: 0 });
    assert!(has_for_group(&first, E::GroupFailover, g));
    let out = h.settle();
    let v = vars(&start_env(&out, h.r("app-exec")));
    assert_eq!(
        (v["CLP_EVENT"].as_str(), v["CLP_SERVER"].as_str(), v["CLP_PRIORITY"].as_str()),
        ("FAILOVER", "OTHER", "2")
    );
    assert!(has_for_group(&out, E::GroupFailoverDone, g));
}

#[test]
fn b65_move_stops_with_groupmove_echoing_the_start_then_hands_over() {
    let mut h = formed(&app(2), 1);
    let g = h.g("app");
    h.msg(S1, Message::StartGroup { group: g, kind: StartKind::ServerFailover, stable_epoch_ms: 0 });
    h.settle();
    h.clear();
    let first = h.msg(S1, Message::MoveGroup { group: g, to: S1, failback: false });
    assert!(has_for_group(&first, E::GroupMoving, g));
    assert!(start_sent(&first, S1, g).is_none(), "the target starts only once the stop is done");
    let env = stop_env(&first, h.r("app-exec"));
    assert_eq!((env.event, env.factor, env.priority), (ClpEvent::Failover, Some(ClpFactor::GroupMove), 2));
    let rest = h.settle();
    assert!(has_for_group(&rest, E::GroupOffline, g));
    assert_eq!(start_sent(&rest, S1, g), Some(StartKind::Move));
}

#[test]
fn b73_activation_not_finished_within_timeout_fails_and_is_cancelled() {
    let mut h = formed(&app(2), 0);
    let ip = h.r("app-ip");
    let id = h.activation_of(ip);
    assert_eq!(h.timer(Timer::ActionTimeout(id)), Some(1 + 60_000), "resource timeout defaults to 60 s");
    let out = h.fire(Timer::ActionTimeout(id));
    assert!(out.iter().any(|o| matches!(o, Output::Cancel { id: c } if *c == id)));
    assert_eq!(event(&out, E::ResourceTimeout).resource, Some(ip));
    assert_event(&out, E::ResourceActivationFailed);
    // A late result of the cancelled action changes nothing.
    let late = h.input(Input::ActionDone { id, result: ActionResult::Ok });
    assert_no_event(&late, E::ResourceOnline);
}

#[test]
fn b92_cluster_start_below_the_recorded_server_is_failover_else_start() {
    for (recorded, expect) in [(S1, ClpEvent::Failover), (S2, ClpEvent::Start)] {
        let text = app(2);
        let g = config(&text).group_id("app").expect("app");
        let p =
            Persisted { runs: 1, last_end_clean: Some(true), stop_record: vec![(g, recorded)], ..Default::default() };
        let mut h = alone(&text, 1, Some(p));
        let out = h.settle();
        assert_eq!(start_env(&out, h.r("app-exec")).event, expect, "record on {recorded:?} (B96 rows 16, 17)");
    }
}

#[test]
fn b61_start_is_refused_while_another_server_reports_holding_the_group() {
    let mut h = joined(&app(3), 1, None, &[(S3, "app")]);
    let g = h.g("app");
    h.clear();
    let out = h.msg(S1, Message::StartGroup { group: g, kind: StartKind::Command, stable_epoch_ms: 0 });
    assert_event(&out, E::CommandFailed);
    assert!(activated(&out).is_empty());
    assert_eq!(h.node.group_state(g), GroupState::Offline);
}
