//! Monitors and their recovery (B80–B86): failed checks up to `monitor-error`,
//! recovery, reactivation then failover, the final action once, skipped recovery,
//! the counter reset, `active_with`, suspend and resume.

use super::*;
use crate::node::MonitorStatus;
use crate::script::{ClpEvent, ClpFactor};
use EventKind as E;

/// `app` = ip1 + e1 on server1 then server2; `appw` an always-running exec monitor
/// (interval 10 s, retries 2) whose recovery target is `app`.
fn mon(cluster_extra: &str, ladder: &str) -> String {
    cluster_toml(2, cluster_extra, &["lan1"])
        + &group_toml("app", &[1, 2], "")
        + &fip_toml("ip1", 51)
        + &exec_toml("e1", "")
        + "\n[[monitor]]\nname = \"appw\"\nkind = \"exec\"\ncommand = \"check.sh\"\ninterval = \"10s\"\ntimeout = \"5s\"\nretries = 2\nrecovery_target = \"app\"\n"
        + ladder
        + "\n"
}

const LADDER: &str = "reactivations = 1\nfailovers = 1\nfinal_action = \"none\"";

/// Server `me` formed, `app` online on server1 (when it is the one).
fn running(text: &str, me: u16) -> (H, MonId) {
    let mut h = formed(text, me);
    h.settle();
    let m = h.m("appw");
    assert_eq!(h.node.monitor(m), MonitorStatus::Ok, "an always monitor runs from formation (B80)");
    h.clear();
    (h, m)
}

/// `retries + 1` = 3 failed checks in a row.
fn three_failures(h: &mut H, m: MonId) -> Vec<Output> {
    let mut out = Vec::new();
    for _ in 0..3 {
        out.extend(h.check(m, false));
    }
    out
}

#[test]
fn b81_monitor_error_on_failure_retries_plus_one() {
    let (mut h, m) = running(&mon("", LADDER), 0);
    let first = h.check(m, false);
    let second = h.check(m, false);
    assert_eq!(h.now, 10_001, "one check every interval");
    for out in [&first, &second] {
        assert_eq!(count(out, E::MonitorCheckFailed), 1);
        assert_no_event(out, E::MonitorError);
    }
    assert_eq!(h.node.monitor(m), MonitorStatus::Ok);
    let third = h.check(m, false);
    assert_eq!(event(&third, E::MonitorError).monitor, Some(m));
    assert_no_event(&third, E::MonitorCheckFailed);
    assert_eq!(h.node.monitor(m), MonitorStatus::Error);
}

#[test]
fn b81_a_good_check_after_the_error_gives_monitor_recovered() {
    let (mut h, m) = running(&mon("", LADDER), 0);
    three_failures(&mut h, m);
    h.settle();
    let out = h.check(m, true);
    assert_eq!(event(&out, E::MonitorRecovered).monitor, Some(m));
    assert_eq!(h.node.monitor(m), MonitorStatus::Ok);
}

#[test]
fn b83_reactivation_restarts_the_group_with_grouprestart_and_a_recover_run() {
    let (mut h, m) = running(&mon("", LADDER), 0);
    let (g, e1) = (h.g("app"), h.r("e1"));
    let out = three_failures(&mut h, m);
    assert_event(&out, E::RecoveryReactivate);
    assert!(has_for_group(&out, E::GroupRestarting, g));
    assert_eq!(stop_env(&out, e1).factor, Some(ClpFactor::GroupRestart));
    let rest = h.settle();
    let recover: Vec<_> = actions(&rest)
        .into_iter()
        .filter_map(|a| if let Action::RecoverRun { res, env } = a { Some((*res, env.event)) } else { None })
        .collect();
    assert_eq!(recover, vec![(e1, ClpEvent::Recover)]);
    assert_eq!(start_env(&rest, e1).event, ClpEvent::Start);
    assert!(has_for_group(&rest, E::GroupRestarted, g));
    assert_eq!(h.node.group_state(g), GroupState::Online);
}

#[test]
fn b83_reactivations_spent_fails_over_with_groupfailover_a_recover_run_then_the_target() {
    let (mut h, m) = running(&mon("", LADDER), 0);
    let (g, e1) = (h.g("app"), h.r("e1"));
    three_failures(&mut h, m);
    h.settle(); // reactivation 1 of 1
    h.clear();
    let out = three_failures(&mut h, m);
    assert_event(&out, E::MonitorError);
    assert_event(&out, E::RecoveryFailover);
    assert_no_event(&out, E::RecoveryReactivate);
    assert_eq!(stop_env(&out, e1).factor, Some(ClpFactor::GroupFailover));
    let rest = h.settle();
    assert!(actions(&rest).iter().any(|a| matches!(a, Action::RecoverRun { res, .. } if *res == e1)));
    assert_eq!(start_sent(&rest, S2, g), Some(StartKind::MonitorFailover));
    assert_eq!(h.node.group_state(g), GroupState::Offline);
}

#[test]
fn b84_after_the_final_action_further_errors_of_the_same_fault_do_nothing() {
    let ladder = "reactivations = 0\nfailovers = 0\nfinal_action = \"none\"";
    let (mut h, m) = running(&mon("", ladder), 0);
    let first = three_failures(&mut h, m);
    assert_eq!(event(&first, E::RecoveryFinalAction).reason.as_deref(), Some("none"));
    let again = three_failures(&mut h, m);
    assert_event(&again, E::MonitorError);
    assert_no_event(&again, E::RecoveryFinalAction);
    assert_no_event(&again, E::RecoveryReactivate);
    // Recovered, then failing again: the ladder resumes.
    h.check(m, true);
    let later = three_failures(&mut h, m);
    assert_event(&later, E::RecoveryFinalAction);
}

#[test]
fn b83_recovery_skipped_when_the_target_is_not_online_on_this_server() {
    let (mut h, m) = running(&mon("", LADDER), 1);
    let out = three_failures(&mut h, m);
    assert_event(&out, E::MonitorError);
    assert_event(&out, E::RecoverySkipped);
    for k in [E::RecoveryReactivate, E::RecoveryFailover, E::RecoveryFinalAction] {
        assert_no_event(&out, k);
    }
    assert!(deactivated(&out).is_empty());
}

#[test]
fn b85_reactivation_counter_resets_after_counter_reset_after() {
    let (mut h, m) = running(&mon("counter_reset_after = \"10m\"", LADDER), 0);
    three_failures(&mut h, m);
    let error_at = h.now;
    h.settle();
    assert_eq!(h.timer(Timer::CounterReset), Some(error_at + 600_000));
    let reset = h.fire(Timer::CounterReset);
    assert_eq!(event(&reset, E::RecoveryCountersReset).monitor, Some(m));
    let out = three_failures(&mut h, m);
    assert_event(&out, E::RecoveryReactivate);
    assert_no_event(&out, E::RecoveryFailover);
}

#[test]
fn b80_active_with_monitor_runs_only_while_its_resource_is_online() {
    let mut h = formed(&mon("", LADDER), 0);
    let fipw = h.m("ip1-fipw");
    assert_eq!(h.node.monitor(fipw), MonitorStatus::Stopped, "ip1 is not online yet");
    let out = h.ok(h.activation_of(h.r("ip1")));
    assert_eq!(event(&out, E::MonitorStarted).monitor, Some(fipw));
    h.settle();
    h.cmd(Command::GroupStop { group: h.g("app") });
    let stop = h.settle();
    assert!(events(&stop).iter().any(|e| e.kind == E::MonitorStopped && e.monitor == Some(fipw)));
    assert_eq!(h.node.monitor(fipw), MonitorStatus::Stopped);
}

#[test]
fn b86_monitor_suspend_stops_it_and_resume_starts_it_again() {
    let (mut h, m) = running(&mon("", LADDER), 0);
    let out = h.cmd(Command::MonitorSuspend { monitor: m, on: None });
    assert_eq!(reply(&out), Ok(()));
    assert_eq!(event(&out, E::MonitorSuspended).monitor, Some(m));
    assert!(events(&out).iter().any(|e| e.kind == E::MonitorStopped && e.monitor == Some(m)));
    assert!(sent(&out, S2).iter().any(|msg| matches!(msg, Message::Forward { .. })), "every server of the monitor");
    assert_eq!(h.node.monitor(m), MonitorStatus::Stopped);
    let again = h.cmd(Command::MonitorSuspend { monitor: m, on: None });
    assert!(reply(&again).is_err(), "already suspended");
    let resume = h.cmd(Command::MonitorResume { monitor: m, on: None });
    assert_event(&resume, E::MonitorResumed);
    assert!(events(&resume).iter().any(|e| e.kind == E::MonitorStarted && e.monitor == Some(m)));
    assert_eq!(h.node.monitor(m), MonitorStatus::Ok);
}

/// A check running when its monitor stops belongs to the monitoring that ended: it is
/// cancelled, and its late result does not count for the next start (B81, B86). It
/// used to stay in flight and be taken for the first check after `monitor resume`.
#[test]
fn b86_a_check_running_when_the_monitor_stops_is_cancelled_and_never_counts() {
    let (mut h, m) = running(&mon("", LADDER), 0);
    h.fire(Timer::MonitorCheck(m));
    let is_check = |a: &Action| matches!(a, Action::MonitorCheck { mon } if *mon == m);
    let old = h.find_action(is_check).expect("a check in flight");
    let suspend = h.cmd(Command::MonitorSuspend { monitor: m, on: None });
    assert!(suspend.iter().any(|o| matches!(o, Output::Cancel { id } if *id == old)), "the check is cancelled");
    assert!(h.node.check_invariants().is_empty(), "{:?}", h.node.check_invariants());
    h.cmd(Command::MonitorResume { monitor: m, on: None });
    h.fire(Timer::MonitorCheck(m));
    let new = h.find_action(is_check).expect("the first check after resume");
    assert_ne!(new, old);
    let late =
        h.input(Input::ActionDone { id: old, result: ActionResult::Check { healthy: false, detail: String::new() } });
    assert_no_event(&late, E::MonitorCheckFailed);
    let answered = h.done(new, ActionResult::Check { healthy: false, detail: String::new() });
    assert_eq!(count(&answered, E::MonitorCheckFailed), 1, "the new check's own result counts");
    assert!(h.node.check_invariants().is_empty(), "{:?}", h.node.check_invariants());
}

#[test]
fn b85_errors_after_the_final_action_still_hold_off_the_counter_reset() {
    // reactivations 1, failovers 0: error 1 reactivates, error 2 runs the final action.
    let ladder = "reactivations = 1\nfailovers = 0\nfinal_action = \"none\"";
    let (mut h, m) = running(&mon("counter_reset_after = \"10m\"", ladder), 0);
    three_failures(&mut h, m);
    h.settle();
    let second = three_failures(&mut h, m);
    assert_event(&second, E::RecoveryFinalAction);
    // The fault persists for 15 minutes: an error every 30 s, each a new error of the
    // monitor, so its counters never go 10 minutes without one (B85).
    let mut out = Vec::new();
    let until = h.now + 900_000;
    while h.now < until {
        let check = h.timer(Timer::MonitorCheck(m)).expect("checks go on");
        match h.timer(Timer::CounterReset) {
            Some(reset) if reset <= check => out.extend(h.fire(Timer::CounterReset)),
            Some(_) | None => out.extend(h.check(m, false)),
        }
    }
    assert!(count(&out, E::MonitorError) >= 25);
    assert_no_event(&out, E::RecoveryCountersReset);
    // Recovered for a moment, then failing again: the ladder resumes from the current
    // counters (B84): the reactivation is spent, so the final action runs again.
    h.check(m, true);
    let again = three_failures(&mut h, m);
    assert_no_event(&again, E::RecoveryReactivate);
    assert_event(&again, E::RecoveryFinalAction);
}
