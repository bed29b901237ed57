//! Operator commands (B120–B122): refusals reply an error, emit `command-refused` and
//! change nothing; acceptances reply Ok and route the work.

use super::*;
use crate::io::ClusterOp;
use EventKind as E;

/// `base` auto on server1; `app` (home server2) manual, after `base`; `solo` only on server2.
fn cmds() -> String {
    cluster_toml(2, "", &["lan1"])
        + &group_toml("base", &[1, 2], "")
        + &fip_toml("baseip", 71)
        + &group_toml("app", &[2, 1], "startup = \"manual\"\nstart_after = [\"base\"]")
        + &fip_toml("appip", 72)
        + &group_toml("solo", &[2], "startup = \"manual\"")
        + &fip_toml("soloip", 73)
}

#[track_caller]
fn assert_refused(out: &[Output], why: &str) {
    let err = reply(out).expect_err("the command must be refused");
    assert!(err.contains(why), "refusal reason {err:?} should mention {why:?}");
    assert_event(out, E::CommandRefused);
    assert_no_event(out, E::CommandAccepted);
    assert!(!acted(out), "a refused command changes nothing: {out:?}");
}

fn base_online() -> H {
    let mut h = formed(&cmds(), 0);
    h.settle();
    assert_eq!(h.node.group_state(h.g("base")), GroupState::Online);
    h.clear();
    h
}

#[test]
fn b121_suspended_server_accepts_only_server_return() {
    let mut h = joined(&cmds(), 1, Some(unclean(vec![])), &[(S1, "base")]);
    assert_eq!(h.node.reported_state(), ServerState::Suspended);
    let solo = h.g("solo");
    assert_refused(&h.cmd(Command::GroupStart { group: solo, on: None }), "suspended");
    assert_refused(&h.cmd(Command::MonitorSuspend { monitor: h.m("userw"), on: None }), "suspended");
    let out = h.cmd(Command::ServerReturn { server: S2, force: false });
    assert_eq!(reply(&out), Ok(()));
    assert_event(&out, E::CommandAccepted);
    assert_event(&out, E::ServerReturned);
    assert_eq!(h.node.reported_state(), ServerState::Online);
}

#[test]
fn b122_group_start_and_move_without_a_default_target_are_refused() {
    let mut h = alone(&cmds(), 0, None); // server2 never starts
    h.settle();
    h.clear();
    let (base, solo) = (h.g("base"), h.g("solo"));
    assert_refused(&h.cmd(Command::GroupStart { group: solo, on: None }), "no eligible server");
    assert_refused(&h.cmd(Command::GroupMove { group: base, to: None }), "no eligible server");
    assert_eq!(h.node.group_state(base), GroupState::Online, "still online here");
    assert_eq!(h.node.group_state(solo), GroupState::Offline);
}

#[test]
fn b122_group_move_to_its_own_server_is_refused() {
    let mut h = base_online();
    let base = h.g("base");
    assert_refused(&h.cmd(Command::GroupMove { group: base, to: Some(S1) }), "already online");
    assert_eq!(h.node.group_state(base), GroupState::Online);
}

#[test]
fn b122_group_start_of_a_running_group_says_where_it_runs_and_what_to_do() {
    let mut h = base_online();
    let base = h.g("base");
    let out = h.cmd(Command::GroupStart { group: base, on: None });
    assert_refused(&out, "group base is not offline: online on server1");
    assert_refused(&out, "group move base --to SERVER");
    assert_refused(&out, "group stop base, then group start base");
    assert_eq!(h.node.group_state(base), GroupState::Online);
}

#[test]
fn b122_group_start_is_refused_until_its_start_after_groups_are_online() {
    let mut h = formed(&cmds(), 0); // base still starting
    let app = h.g("app");
    assert_refused(&h.cmd(Command::GroupStart { group: app, on: None }), "base");
    h.settle();
    let out = h.cmd(Command::GroupStart { group: app, on: None });
    assert_eq!(reply(&out), Ok(()));
    assert_event(&out, E::CommandAccepted);
    assert_no_event(&out, E::CommandRefused);
    assert_eq!(start_sent(&out, S2, app), Some(StartKind::Command), "the first eligible server of app's policy");
}

#[test]
fn b120_accepted_group_move_replies_ok_and_hands_the_group_over() {
    let mut h = base_online();
    let base = h.g("base");
    let out = h.cmd(Command::GroupMove { group: base, to: None });
    assert_eq!(reply(&out), Ok(()));
    assert_event(&out, E::CommandAccepted);
    assert!(has_for_group(&out, E::GroupMoving, base));
    let rest = h.settle();
    assert_eq!(start_sent(&rest, S2, base), Some(StartKind::Move));
}

#[test]
fn b121_suspended_cluster_accepts_only_cluster_resume() {
    let mut h = base_online();
    let out = h.cmd(Command::ClusterSuspend { force: false });
    assert_eq!(reply(&out), Ok(()));
    assert_event(&out, E::ClusterSuspended);
    assert!(sent(&out, S2).iter().any(|m| matches!(m, Message::ClusterOp(ClusterOp::Suspend))));
    // B20: no heartbeat is sent while the cluster is suspended, once server2 confirmed (X1).
    h.share_with(S2, ServerState::Online, |s| {
        s.cluster_suspended = true;
        s.suspend_epoch = 1;
    });
    let tick = h.fire(Timer::HeartbeatTick);
    assert!(!tick.iter().any(|o| matches!(o, Output::Heartbeat { .. })));
    assert_refused(&h.cmd(Command::GroupStop { group: h.g("base") }), "suspended");
    let resume = h.cmd(Command::ClusterResume { force: false });
    assert_eq!(reply(&resume), Ok(()));
    assert_event(&resume, E::ClusterResumed);
}

/// A `cluster suspend` whose message to this server was lost (its path cut, generated
/// seed 8206) reaches it through the next state of a peer that applied it: left out,
/// this server would judge the suspended peer lost (it sends no heartbeat, B20) and
/// start its groups while it holds them (B122, B123). A state sent before a resume
/// arrived at its sender does not undo the resume here.
#[test]
fn b122_a_suspend_missed_here_is_adopted_from_a_peer_and_an_older_state_does_not_undo_a_resume() {
    let mut h = base_online();
    let out = h.share_with(S2, ServerState::Online, |s| {
        s.cluster_suspended = true;
        s.suspend_epoch = 1;
    });
    assert_event(&out, E::ClusterSuspended);
    assert!(h.node.status().cluster_suspended);
    let tick = h.fire(Timer::HeartbeatTick);
    assert!(!tick.iter().any(|o| matches!(o, Output::Heartbeat { .. })), "B20 holds here too");
    let out = h.cmd(Command::ClusterResume { force: false });
    assert_event(&out, E::ClusterResumed);
    // server2's state from before the resume reached it (epoch 1) arrives late.
    let out = h.share_with(S2, ServerState::Online, |s| {
        s.cluster_suspended = true;
        s.suspend_epoch = 1;
    });
    assert_no_event(&out, E::ClusterSuspended);
    assert!(!h.node.status().cluster_suspended);
}

/// Resolution stops with the suspension (B122): a verdict due while the cluster is
/// suspended would judge a peer that sends no heartbeat (B20) and start its groups
/// (generated seed 8206: adopted from a peer, the suspension came during a
/// resolution). At the resume the peer counts as heard (B20) and is watched again.
#[test]
fn b122_a_resolution_in_progress_stops_with_the_suspension_and_the_peer_is_watched_after_resume() {
    let text = cluster_toml(2, "", &["lan1"]);
    let mut h = formed(&text, 0);
    h.clear();
    let lost = h.fire(Timer::Liveness);
    assert_event(&lost, E::ServerLost);
    assert!(h.timer(Timer::NpVerdict).is_some());
    let out = h.share_with(S2, ServerState::Online, |s| {
        s.cluster_suspended = true;
        s.suspend_epoch = 1;
    });
    assert_event(&out, E::ClusterSuspended);
    let verdict = h.fire(Timer::NpVerdict);
    assert_no_event(&verdict, E::NpResolvedPeerDown);
    assert!(h.node.status().cluster_suspended);
    h.at(200_000);
    let out = h.cmd(Command::ClusterResume { force: false });
    assert_event(&out, E::ClusterResumed);
    // X1: not judged before it confirms the resume; heard from its confirmation on,
    // lost a timeout later if silent.
    assert_eq!(h.timer(Timer::Liveness), Some(230_000), "the confirmation is awaited a timeout");
    let late = h.fire(Timer::Liveness);
    assert_event(&late, E::ResumeUnconfirmed);
    assert_no_event(&late, E::ServerLost);
    h.at(240_000);
    h.share_with(S2, ServerState::Online, |s| s.suspend_epoch = 2);
    assert_eq!(h.timer(Timer::Liveness), Some(270_000), "heard at its confirmation");
    let again = h.fire(Timer::Liveness);
    assert_event(&again, E::ServerLost);
}

#[test]
fn b122_server_return_of_a_server_that_is_not_suspended_is_refused() {
    let mut h = base_online();
    assert_refused(&h.cmd(Command::ServerReturn { server: S2, force: false }), "not suspended");
}

#[test]
fn b26_forced_return_with_nobody_online_forms_alone_and_starts_no_group() {
    let mut h = alone(&cmds(), 0, Some(unclean(vec![])));
    assert_eq!(h.node.reported_state(), ServerState::Suspended);
    assert_refused(&h.cmd(Command::ServerReturn { server: S1, force: false }), "no server is online");
    let out = h.cmd(Command::ServerReturn { server: S1, force: true });
    assert_eq!(reply(&out), Ok(()));
    assert_event(&out, E::ServerForceReturned);
    assert_eq!(h.node.reported_state(), ServerState::Online);
    assert!(activated(&out).is_empty() && !start_sent_anywhere(&out, h.g("base")));
    assert_eq!(h.node.group_state(h.g("base")), GroupState::Offline);
}
