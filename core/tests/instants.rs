//! Instants stay ordered whatever the durations (issue 14 §5): a configuration built in
//! code (the reader refuses such values) with a monitor interval and timeout near
//! `u64::MAX` must not wrap `now + duration` into the past, which made the monitor
//! check again at once, forever (the daemon wrote 200 MB of log in 9 s). The core
//! saturates: a timer that would fall past `u64::MAX` is set for `u64::MAX`, never.

use baton_core::config::{parse, Ms, ServerId};
use baton_core::io::Timer;
use baton_core::{Action, ActionResult, Input, Node, Output};
use std::collections::BTreeMap;
use std::sync::Arc;

const ONE_SERVER: &str = r#"[cluster]
name = "c1"
sync_wait = "1s"

[[server]]
name = "s1"
addresses = { lan1 = "192.168.0.1" }

[[heartbeat]]
name = "lan1"

[[monitor]]
name = "watch"
kind = "exec"
command = "/bin/true"
recovery_target = "local-server"
"#;

/// Drives one node: fires its earliest timer, answers every action at once (checks
/// healthy), for at most `steps` inputs; returns each timer set with the instant it
/// was set at.
fn drive(node: &mut Node, steps: usize) -> Vec<(Ms, Timer, Ms)> {
    let mut now: Ms = 0;
    let mut timers: BTreeMap<Timer, Ms> = BTreeMap::new();
    let mut set = Vec::new();
    let mut pending: Vec<Input> = vec![Input::Boot { persisted: None }];
    for _ in 0..steps {
        let input = match pending.pop() {
            Some(i) => i,
            None => {
                let Some((timer, at_ms)) = timers.iter().min_by_key(|(_, at)| **at).map(|(t, a)| (*t, *a)) else {
                    break;
                };
                if at_ms == Ms::MAX {
                    break; // Never due.
                }
                timers.remove(&timer);
                now = now.max(at_ms);
                Input::TimerFired { timer }
            }
        };
        let mut out = Vec::new();
        node.handle(now, input, &mut out);
        for o in out {
            match o {
                Output::SetTimer { at_ms, timer } => {
                    set.push((now, timer, at_ms));
                    timers.insert(timer, at_ms);
                }
                Output::Execute { id, action } => {
                    let result = match action {
                        Action::MonitorCheck { .. } => ActionResult::Check { healthy: true, detail: String::new() },
                        Action::Activate { .. }
                        | Action::Deactivate { .. }
                        | Action::RecoverRun { .. }
                        | Action::NpProbe { .. }
                        | Action::AddressProbe { .. }
                        | Action::MirrorCopy { .. }
                        | Action::Power(_) => ActionResult::Ok,
                    };
                    pending.push(Input::ActionDone { id, result });
                }
                Output::Heartbeat { .. }
                | Output::Send { .. }
                | Output::Cancel { .. }
                | Output::Emit(_)
                | Output::Reply { .. }
                | Output::Persist(_) => {}
            }
        }
    }
    set
}

#[test]
fn a_monitor_interval_near_u64_max_does_not_wrap_into_the_past() {
    let mut cfg = parse("t.toml", ONE_SERVER).expect("valid").config;
    let m = cfg.monitor_id("watch").expect("monitor");
    cfg.monitors[m.idx()].interval_ms = Ms::MAX - 5;
    cfg.monitors[m.idx()].timeout_ms = Ms::MAX - 5;
    let mut node = Node::new(Arc::new(cfg), ServerId(0));
    let set = drive(&mut node, 10_000);
    let checks: Vec<Ms> = set.iter().filter(|(_, t, _)| *t == Timer::MonitorCheck(m)).map(|(_, _, at)| *at).collect();
    assert!(checks.len() >= 2, "the monitor never ran: {set:?}");
    assert!(checks.len() < 10, "the monitor checked {} times: the next check wrapped to now", checks.len());
    assert_eq!(checks.last(), Some(&Ms::MAX), "the next check saturates at u64::MAX");
    for (now, timer, at_ms) in &set {
        assert!(at_ms >= now, "{timer:?} set at {now} for the past ({at_ms})");
    }
}
