//! Live fault verification (issue 15): `monitor fail`/`ok` and `resource
//! fail-activation` drive the real recovery ladder, are refused while the test is not
//! safe, and are listed by status while active.

use super::*;
use crate::node::MonitorStatus;
use EventKind as E;

/// `app` = ip1 + e1 on server1 then server2; `appw` an always-running exec monitor
/// (retries 2) whose recovery target is `app`.
fn text() -> String {
    cluster_toml(2, "", &["lan1"])
        + &group_toml("app", &[1, 2], "")
        + &fip_toml("ip1", 51)
        + &exec_toml("e1", "")
        + "\n[[monitor]]\nname = \"appw\"\nkind = \"exec\"\ncommand = \"check.sh\"\ninterval = \"10s\"\ntimeout = \"5s\"\nretries = 2\nrecovery_target = \"app\"\nreactivations = 1\nfailovers = 1\nfinal_action = \"none\"\n"
}

fn running() -> (H, MonId) {
    let mut h = formed(&text(), 0);
    h.settle();
    assert_eq!(h.node.group_state(h.g("app")), GroupState::Online);
    let m = h.m("appw");
    h.clear();
    (h, m)
}

#[test]
fn monitor_fail_makes_healthy_checks_fail_until_monitor_ok() {
    let (mut h, m) = running();
    let out = h.cmd(Command::MonitorFail { monitor: m, on: None });
    assert_eq!(reply(&out), Ok(()));
    assert!(event(&out, E::CommandAccepted).reason.as_deref() == Some("monitor fail appw"), "in the log for why");
    assert_eq!(h.node.status().pseudo_faults, vec!["monitor appw: checks fail (monitor fail)".to_string()]);
    let first = h.check(m, true);
    assert!(event(&first, E::MonitorCheckFailed).reason.as_deref().unwrap_or("").contains("pseudo-failure"));
    h.check(m, true);
    let third = h.check(m, true);
    let error = event(&third, E::MonitorError);
    assert_eq!(error.cause.as_ref().and_then(|c| c.after), Some(E::CommandAccepted), "why walks back to the command");
    assert_event(&third, E::RecoveryReactivate);
    h.settle();
    let again = h.cmd(Command::MonitorFail { monitor: m, on: None });
    assert!(reply(&again).unwrap_err().contains("already failing"));
    let ok = h.cmd(Command::MonitorOk { monitor: m, on: None });
    assert_eq!(reply(&ok), Ok(()));
    assert!(h.node.status().pseudo_faults.is_empty());
    let healthy = h.check(m, true);
    assert_no_event(&healthy, E::MonitorCheckFailed);
    assert_eq!(h.node.monitor(m), MonitorStatus::Ok);
    let not_failing = h.cmd(Command::MonitorOk { monitor: m, on: Some(S1) });
    assert!(reply(&not_failing).unwrap_err().contains("not failing"));
}

#[test]
fn monitor_fail_without_on_goes_to_where_the_group_is_online() {
    let (mut h, m) = running();
    let out = h.cmd(Command::MonitorFail { monitor: m, on: None });
    assert!(sent(&out, S2).is_empty(), "app is online on server1 only: {out:?}");
    let there = h.cmd(Command::MonitorFail { monitor: m, on: Some(S2) });
    assert_eq!(reply(&there), Ok(()));
    assert!(sent(&there, S2).iter().any(|msg| matches!(msg, Message::Forward { .. })));
}

#[test]
fn refused_while_a_server_of_the_policy_is_not_online() {
    let mut h = alone(&text(), 0, None); // server2 never starts
    h.settle();
    h.clear();
    let m = h.m("appw");
    let out = h.cmd(Command::MonitorFail { monitor: m, on: Some(S1) });
    let err = reply(&out).expect_err("refused");
    assert!(err.contains("not safe to test") && err.contains("server2"), "{err}");
    assert_event(&out, E::CommandRefused);
    let e1 = h.r("e1");
    let out = h.cmd(Command::ResourceFailActivation { resource: e1, times: 1, on: None });
    assert!(reply(&out).unwrap_err().contains("not safe to test"));
    let clear = h.cmd(Command::ResourceFailActivation { resource: e1, times: 0, on: None });
    assert_eq!(reply(&clear), Ok(()), "ending a fault is never refused for health");
}

#[test]
fn refused_while_a_group_is_starting() {
    let mut h = formed(&text(), 0); // app is activating
    let m = h.m("appw");
    let out = h.cmd(Command::MonitorFail { monitor: m, on: Some(S1) });
    assert!(reply(&out).unwrap_err().contains("is starting, stopping or moving"));
}

#[test]
fn fail_activation_fails_the_next_activations_without_the_driver() {
    let (mut h, _) = running();
    let (g, e1) = (h.g("app"), h.r("e1"));
    let out = h.cmd(Command::ResourceFailActivation { resource: e1, times: 1, on: Some(S1) });
    assert_eq!(reply(&out), Ok(()));
    assert_eq!(
        h.node.status().pseudo_faults,
        vec!["resource e1: next 1 activation(s) fail (fail-activation)".to_string()]
    );
    h.cmd(Command::GroupStop { group: g });
    h.settle();
    assert_eq!(h.node.group_state(g), GroupState::Offline);
    h.clear();
    let start = h.cmd(Command::GroupStart { group: g, on: Some(S1) });
    let ip = h.activation_of(h.r("ip1"));
    let out = [start, h.ok(ip)].concat();
    let failed = event(&out, E::ResourceActivationFailed);
    assert_eq!(failed.resource, Some(e1));
    assert!(failed.reason.as_deref().unwrap_or("").contains("pseudo-failure"), "{failed:?}");
    assert!(!activated(&out).contains(&e1), "the driver never ran: {out:?}");
    assert!(h.node.status().pseudo_faults.is_empty(), "one activation only");
}

#[test]
fn the_words_parse_and_bad_counts_are_refused() {
    let cfg = config(&text());
    let p = |w: &str| Command::parse_words(&w.split(' ').collect::<Vec<_>>(), &cfg);
    let m = cfg.monitor_id("appw").unwrap();
    let e1 = cfg.resource_id("e1").unwrap();
    assert_eq!(p("monitor fail appw --on server2"), Ok(Command::MonitorFail { monitor: m, on: Some(S2) }));
    assert_eq!(p("monitor ok appw"), Ok(Command::MonitorOk { monitor: m, on: None }));
    let c = p("resource fail-activation e1 --times 2").unwrap();
    assert_eq!(c, Command::ResourceFailActivation { resource: e1, times: 2, on: None });
    assert_eq!(c.words(&cfg), "resource fail-activation e1 --times 2");
    assert!(p("resource fail-activation e1").unwrap_err().contains("--times"));
    assert!(p("resource fail-activation e1 --times 101").unwrap_err().contains("0 to 100"));
    assert!(p("resource fail-activation nope --times 1").unwrap_err().contains("no resource"));
}

#[test]
fn a_forwarded_fault_is_recorded_on_the_server_it_runs_on() {
    let (mut h, m) = running();
    let out = h.msg(S2, Message::Forward { cmd: Command::MonitorFail { monitor: m, on: Some(S1) } });
    assert_eq!(
        event(&out, E::CommandAccepted).reason.as_deref(),
        Some("monitor fail appw --on server1 (from server2)")
    );
    assert_eq!(h.node.status().pseudo_faults.len(), 1);
}
