//! Membership (B2, B3, B11, B13–B18, B23, B24): startup synchronisation, heartbeat
//! paths, peer loss at D, departures, down notices, unclean restarts and auto return.

use super::*;
use crate::script::ClpEvent;
use EventKind as E;

fn two_servers(extra: &str, paths: &[&str]) -> String {
    cluster_toml(2, extra, paths) + &group_toml("g1", &[1, 2], "") + &fip_toml("ip1", 11)
}

fn formed_on_one_path() -> H {
    let mut h = formed(&two_servers("", &["lan1"]), 0);
    h.clear();
    h
}

/// Makes server2 fall silent after a heartbeat at `last` and fires the liveness timer
/// until it is set for `last + timeout` (returns the outputs up to there, not firing it).
fn silent_after(h: &mut H, last: Ms) -> Vec<Output> {
    h.at(last);
    let mut out = h.hb_all(S2);
    out.extend(h.fire(Timer::Liveness)); // the deadline of the heartbeat at t = 1
    out
}

#[test]
fn b3_waits_for_a_missing_server_then_forms_at_sync_wait_with_startup_sync_timeout() {
    let text =
        cluster_toml(3, "sync_wait = \"2m\"", &["lan1"]) + &group_toml("g1", &[1, 2, 3], "") + &fip_toml("ip1", 11);
    let mut h = H::new(&text, 0);
    let boot = h.boot(None);
    assert_eq!(timer_set(&boot, Timer::SyncWait), Some(120_000));
    h.at(1);
    h.hello(S2, ServerState::Syncing);
    h.share(S2, ServerState::Syncing, vec![]);
    assert_eq!(h.node.reported_state(), ServerState::Syncing, "server3 has not started: still waiting");

    // One interval after the service start nobody is online: the wait is announced.
    let tick = h.fire(Timer::HeartbeatTick);
    assert_event(&tick, E::StartupSyncWaiting);

    // A timer fired before its instant is stale: nothing forms early.
    h.at(119_999);
    let early = h.input(Input::TimerFired { timer: Timer::SyncWait });
    assert_no_event(&early, E::StartupSyncTimeout);
    assert_eq!(h.node.reported_state(), ServerState::Syncing);

    let out = h.fire(Timer::SyncWait);
    assert_eq!(h.now, 120_000);
    let e = event(&out, E::StartupSyncTimeout);
    let reason = e.reason.clone().unwrap_or_default();
    assert!(reason.contains("server3") && !reason.contains("server2"), "missing servers named: {reason}");
    assert_no_event(&out, E::StartupSyncDone);
    assert_event(&out, E::ClusterStarted);
    assert!(
        sent(&out, S2).iter().any(|m| matches!(m, Message::Formed { timeout: true, .. })),
        "server2 is told to form"
    );
    assert!(!sent(&out, S3).iter().any(|m| matches!(m, Message::Formed { .. })), "server3 never started");
    assert_eq!(h.node.reported_state(), ServerState::Online);
    assert_eq!(activated(&out), vec![h.r("ip1")], "the coordinator places g1 on itself");
}

#[test]
fn b3_all_servers_present_form_at_once_with_startup_sync_done() {
    let text = cluster_toml(3, "", &["lan1"]) + &group_toml("g1", &[1, 2, 3], "") + &fip_toml("ip1", 11);
    let mut h = formed(&text, 0);
    assert_eq!(h.now, 1, "formed as soon as the last server's state was known");
    assert_event(&h.log, E::StartupSyncDone);
    assert_event(&h.log, E::ClusterStarted);
    assert_no_event(&h.log, E::StartupSyncTimeout);
    assert_no_event(&h.log, E::StartupSyncWaiting);
    for p in [S2, S3] {
        assert!(
            sent(&h.log, p).iter().any(|m| matches!(m, Message::Formed { timeout: false, .. })),
            "{p:?} told to form"
        );
    }
    // The synchronisation timer is cancelled: firing it later changes nothing.
    let late = h.fire(Timer::SyncWait);
    assert_no_event(&late, E::StartupSyncTimeout);
    assert_no_event(&late, E::ClusterStarted);
}

#[test]
fn b2_joins_a_running_cluster_at_once_without_moving_any_group() {
    let h = joined(&two_servers("", &["lan1"]), 1, None, &[(S1, "g1")]);
    assert_eq!(h.node.reported_state(), ServerState::Online);
    assert!(events(&h.log).iter().any(|e| e.kind == E::ServerJoined && e.peer == Some(S2)));
    for k in [E::StartupSyncDone, E::StartupSyncTimeout, E::ClusterStarted, E::GroupStarting] {
        assert_no_event(&h.log, k);
    }
    assert!(activated(&h.log).is_empty() && !start_sent_anywhere(&h.log, h.g("g1")));
    assert_eq!(h.node.group_state(h.g("g1")), GroupState::Offline);
}

#[test]
fn b11_peer_silent_on_one_of_two_paths_gives_heartbeat_path_down_only() {
    let mut h = formed(&two_servers("", &["lan1", "public"]), 0);
    h.clear();
    for t in [10_000, 20_000, 30_000] {
        h.at(t);
        h.hb(S2, 0); // lan1 only; "public" stays silent after t = 1
    }
    let out = h.fire(Timer::Liveness);
    assert_eq!(h.now, 30_001, "the deadline of the public path: 1 + heartbeat_timeout");
    let down = event(&out, E::HeartbeatPathDown);
    assert_eq!(down.peer, Some(S2));
    assert_eq!(down.reason.as_deref(), Some("public"));
    assert_eq!(count(&out, E::HeartbeatPathDown), 1, "lan1 still carries heartbeats");
    assert_no_event(&out, E::ServerLost);
    assert_no_event(&out, E::NpResolutionStarted);
    assert_eq!(h.node.peer_state(S2), ServerState::Online);

    // The first heartbeat on the path again gives heartbeat-path-up.
    h.at(35_000);
    let up = h.hb(S2, 1);
    assert!(events(&up).iter().any(|e| e.kind == E::HeartbeatPathUp && e.reason.as_deref() == Some("public")));
}

#[test]
fn b13_peer_lost_exactly_at_last_heartbeat_plus_timeout() {
    let mut h = formed_on_one_path();
    let early = silent_after(&mut h, 5_000);
    assert_eq!(h.now, 30_001);
    assert_no_event(&early, E::ServerLost);
    assert_eq!(h.timer(Timer::Liveness), Some(35_000), "re-armed at the last heartbeat + heartbeat_timeout");

    let out = h.fire(Timer::Liveness);
    assert_eq!(h.now, 35_000);
    let lost = event(&out, E::ServerLost);
    assert_eq!(lost.peer, Some(S2));
    assert_event(&out, E::NpResolutionStarted);
    // No resolver, two servers: the verdict comes at V = D, no settle (B34 revised).
    assert_eq!(timer_set(&out, Timer::NpVerdict), Some(35_000));
}

#[test]
fn b13_loss_instant_is_last_heartbeat_plus_timeout_even_when_detected_late() {
    let mut h = formed_on_one_path();
    silent_after(&mut h, 5_000);
    // The driver fires the liveness timer late: D is still 5 000 + 30 000.
    h.at(36_500);
    let out = h.fire_now(Timer::Liveness);
    assert_event(&out, E::ServerLost);
    // Two servers: V = D (B34), already past, so the verdict is due at once; T = D +
    // interval is counted from D = 35 000, not from the late detection.
    assert_eq!(timer_set(&out, Timer::NpVerdict), Some(36_500));
    let verdict = h.fire(Timer::NpVerdict);
    assert_eq!(timer_set(&verdict, Timer::Takeover), Some(38_000), "T = D + interval with D = 35 000");
}

/// Three servers on one path: server2 falls silent after a heartbeat at 5 000 while
/// server3 keeps beating; returns at server2's loss, D = 35 000, V = D + interval.
fn three_with_s2_lost() -> H {
    let text = cluster_toml(3, "", &["lan1"]) + &group_toml("g1", &[1, 2, 3], "") + &fip_toml("ip1", 11);
    let mut h = formed(&text, 0);
    h.clear();
    for t in [5_000, 15_000, 25_000, 34_000] {
        h.at(t);
        if t == 5_000 {
            h.hb_all(S2);
        }
        h.hb_all(S3);
    }
    h.fire(Timer::Liveness); // the deadline of the heartbeats at t = 1
    let out = h.fire(Timer::Liveness);
    assert_eq!(h.now, 35_000);
    assert_eq!(event(&out, E::ServerLost).peer, Some(S2));
    h
}

#[test]
fn b13_peer_heard_again_before_the_verdict_gets_no_verdict() {
    let mut h = three_with_s2_lost();
    // Three servers: the settle is one heartbeat_interval (B34).
    assert_eq!(h.timer(Timer::NpVerdict), Some(38_000));

    h.at(36_000);
    h.hb(S2, 0);
    let out = h.fire(Timer::NpVerdict);
    for k in [E::NpResolvedPeerDown, E::NpUnresolved, E::ServerFailedOver, E::EmergencyShutdown] {
        assert_no_event(&out, k);
    }
    assert!(!sent(&out, S2).iter().any(|m| matches!(m, Message::DownNotice { .. })));
    assert_eq!(h.node.peer_state(S2), ServerState::Online);
    assert!(!h.node.is_gone());
}

#[test]
fn b13_peer_heard_again_before_the_verdict_is_watched_again() {
    let mut h = three_with_s2_lost();
    h.at(36_000);
    h.hb(S2, 0);
    // server2 falls silent again after t = 36 000 (server3 keeps beating): it must be
    // lost at 66 000.
    let mut out = Vec::new();
    for t in [44_000, 54_000, 64_000] {
        out.extend(h.run_until(t, |t| matches!(t, Timer::Liveness | Timer::HeartbeatTick)));
        h.hb_all(S3);
    }
    out.extend(h.run_until(66_000, |t| matches!(t, Timer::Liveness | Timer::HeartbeatTick)));
    let lost: Vec<_> = events(&out).into_iter().filter(|e| e.kind == E::ServerLost).collect();
    assert_eq!(lost.len(), 1, "server2 silent for heartbeat_timeout again must be lost; got {:?}", kinds(&out));
    assert_eq!(lost[0].peer, Some(S2));
    assert_eq!(h.timer(Timer::NpVerdict), Some(69_000));
}

#[test]
fn b14_planned_departure_marks_the_peer_off_and_fails_its_groups_over() {
    let mut h = joined(&two_servers("", &["lan1"]), 1, None, &[(S1, "g1")]);
    h.clear();
    let g1 = h.g("g1");
    let out = h.msg(S1, Message::Departure { clean: true, power_off: true, groups: vec![g1] });
    assert_eq!(event(&out, E::ServerPlannedDown).peer, Some(S1));
    assert_eq!(h.node.peer_state(S1), ServerState::Off);
    assert_no_event(&out, E::ServerLost);
    assert_no_event(&out, E::NpResolutionStarted);
    assert!(has_for_group(&out, E::GroupFailover, g1), "server2 (now coordinator) starts g1: {:?}", kinds(&out));
    assert_eq!(activated(&out), vec![h.r("ip1")]);
    assert_eq!(h.node.group_state(g1), GroupState::Starting);
}

#[test]
fn b14_planned_departure_with_the_machine_up_marks_the_peer_stopped() {
    let mut h = joined(&two_servers("", &["lan1"]), 1, None, &[]);
    let out = h.msg(S1, Message::Departure { clean: true, power_off: false, groups: vec![] });
    assert_event(&out, E::ServerPlannedDown);
    assert_eq!(h.node.peer_state(S1), ServerState::Stopped);
}

#[test]
fn b15_failure_departure_marks_the_peer_down_and_fails_its_groups_over() {
    let text = cluster_toml(2, "", &["lan1"]) + &group_toml("g1", &[1, 2], "") + &exec_toml("e1", "");
    let mut h = joined(&text, 1, None, &[(S1, "g1")]);
    let g1 = h.g("g1");
    let out = h.msg(S1, Message::Departure { clean: false, power_off: true, groups: vec![g1] });
    assert_eq!(event(&out, E::ServerFailureDown).peer, Some(S1));
    assert_no_event(&out, E::ServerPlannedDown);
    assert_eq!(h.node.peer_state(S1), ServerState::Down);
    let env = start_env(&out, h.r("e1"));
    assert_eq!(env.event, ClpEvent::Failover, "a start after a departure is a FAILOVER (B92)");
    assert_eq!(vars(&env)["CLP_SERVER"], "OTHER");
}

#[test]
fn b16_down_notice_gives_server_down_notified_and_runs_np_action() {
    let mut h = formed(&two_servers("", &["lan1"]), 1);
    h.clear();
    let out = h.msg(S1, Message::DownNotice { groups: vec![] });
    assert_eq!(event(&out, E::ServerDownNotified).peer, Some(S1));
    assert_event(&out, E::EmergencyShutdown);
    assert_eq!(power(&out), Some(PowerAction::EmergencyShutdown));
    assert_eq!(persisted(&out).and_then(|p| p.last_end_clean), Some(false));
    assert!(h.node.is_gone());
}

#[test]
fn b17_peer_judged_down_and_heard_again_is_sent_a_down_notice() {
    let mut h = formed_on_one_path();
    silent_after(&mut h, 5_000);
    h.fire(Timer::Liveness);
    let verdict = h.fire(Timer::NpVerdict);
    assert_event(&verdict, E::NpResolvedPeerDown);
    assert_eq!(h.node.peer_state(S2), ServerState::Down);
    h.at(42_000);
    let out = h.hb(S2, 0);
    assert!(sent(&out, S2).iter().any(|m| matches!(m, Message::DownNotice { .. })), "B17: told it is counted out");
    assert_eq!(h.node.peer_state(S2), ServerState::Down, "still judged down");
}

#[test]
fn b18_peer_restarted_before_judged_lost_gets_restart_seen_and_its_groups_fail_over() {
    let text = two_servers("", &["lan1"]) + &group_toml("g2", &[2, 1], "") + &fip_toml("ip2", 12);
    let mut h = formed(&text, 0);
    let g2 = h.g("g2");
    assert_eq!(start_sent(&h.log, S2, g2), Some(StartKind::ClusterStart));
    h.settle();
    h.at(2_000);
    h.share(S2, ServerState::Online, vec![(g2, GroupState::Online)]);
    h.clear();
    // server2 crashes and its service starts again (run 2) before anyone judged it lost.
    h.at(10_000);
    let out = h.msg(S2, Message::Hello { run: 2, state: ServerState::Suspended, version: 1 });
    assert!(sent(&out, S2).iter().any(|m| matches!(m, Message::RestartSeen)));
    assert_no_event(&out, E::ServerLost);
    assert!(has_for_group(&out, E::GroupFailover, g2), "g2 fails over without resolution: {:?}", kinds(&out));
    assert_eq!(activated(&out), vec![h.r("ip2")]);
}

#[test]
fn b23_unclean_previous_end_comes_back_suspended() {
    let mut h = joined(&two_servers("", &["lan1"]), 1, Some(unclean(vec![])), &[]);
    assert_event(&h.log, E::UncleanRestart);
    assert_event(&h.log, E::ServerSuspended);
    assert_eq!(h.node.reported_state(), ServerState::Suspended);
    assert!(!events(&h.log).iter().any(|e| e.kind == E::ServerJoined && e.peer == Some(S2)));
    // Until a clean end is recorded, the run counts as unclean.
    let p = persisted(&h.log).expect("persisted at boot");
    assert_eq!((p.runs, p.last_end_clean), (2, Some(false)));
    // A suspended server still sends heartbeats, saying so (B23).
    let tick = h.fire(Timer::HeartbeatTick);
    let hbs: Vec<_> =
        tick.iter().filter_map(|o| if let Output::Heartbeat { hb, .. } = o { Some(hb.state) } else { None }).collect();
    assert_eq!(hbs, vec![ServerState::Suspended]);
}

#[test]
fn heartbeats_carry_the_senders_time_for_the_peers_clock_watch() {
    // The receiving daemon measures the sender's clock from it (docs/scenarios.md § Clocks).
    let mut h = formed_on_one_path();
    let tick = h.fire(Timer::HeartbeatTick);
    let sent: Vec<Ms> = tick
        .iter()
        .filter_map(|o| if let Output::Heartbeat { hb, .. } = o { Some(hb.sent_ms) } else { None })
        .collect();
    assert_eq!(sent, vec![h.now]);
    assert!(h.now > 0);
}

#[test]
fn b24_auto_return_returns_by_itself_with_recover_runs() {
    let text = cluster_toml(2, "auto_return = true", &["lan1"]) + &group_toml("g1", &[1, 2], "") + &exec_toml("e1", "");
    let g1 = config(&text).group_id("g1").expect("g1");
    let h = joined(&text, 0, Some(unclean(vec![g1])), &[(S2, "g1")]);
    assert_event(&h.log, E::UncleanRestart);
    assert_no_event(&h.log, E::ServerSuspended);
    assert_event(&h.log, E::ServerAutoReturned);
    assert_eq!(h.node.reported_state(), ServerState::Online);
    // B25: the start scripts of the groups online here at the unclean end run with RECOVER.
    let recover: Vec<_> = actions(&h.log)
        .into_iter()
        .filter_map(|a| if let Action::RecoverRun { res, env } = a { Some((*res, env.clone())) } else { None })
        .collect();
    assert_eq!(recover.len(), 1);
    assert_eq!(recover[0].0, h.r("e1"));
    assert_eq!(recover[0].1.event, ClpEvent::Recover);
    assert_eq!(vars(&recover[0].1)["CLP_SERVER"], "HOME");
    assert!(activated(&h.log).is_empty(), "a RECOVER run activates nothing");
}

#[test]
fn b20_cluster_resume_counts_every_peer_as_heard_at_that_instant() {
    let mut h = formed_on_one_path();
    h.settle(); // `cluster suspend` waits for groups at rest
    h.at(5_000);
    h.hb_all(S2);
    h.at(6_000);
    let suspend = h.cmd(Command::ClusterSuspend { force: false });
    assert_eq!(reply(&suspend), Ok(()));
    // server2 confirms (X1: until then this server keeps watching it).
    h.share_with(S2, ServerState::Online, |s| {
        s.cluster_suspended = true;
        s.suspend_epoch = 1;
    });
    // Silent far beyond heartbeat_timeout while suspended: nothing is detected (B123).
    let quiet = h.run_until(100_000, |t| matches!(t, Timer::Liveness | Timer::HeartbeatTick));
    assert_no_event(&quiet, E::ServerLost);
    let resume = h.cmd(Command::ClusterResume { force: false });
    assert_event(&resume, E::ClusterResumed);
    h.share_with(S2, ServerState::Online, |s| s.suspend_epoch = 2); // confirmed at once (X1)
    assert_eq!(h.timer(Timer::Liveness), Some(130_000), "heard at the resume");
    let out = h.fire(Timer::Liveness);
    assert_event(&out, E::ServerLost);
    assert_eq!(timer_set(&out, Timer::NpVerdict), Some(130_000), "two servers: V = D (B34)");
}

#[test]
fn b14_b67_departure_during_a_cluster_stop_starts_nothing() {
    let text = two_servers("", &["lan1"]) + &group_toml("g2", &[2, 1], "") + &fip_toml("ip2", 12);
    let mut h = joined(&text, 1, None, &[(S1, "g1")]);
    let (g1, g2) = (h.g("g1"), h.g("g2"));
    h.msg(S1, Message::StartGroup { group: g2, kind: StartKind::Command, stable_epoch_ms: 0 });
    h.settle();
    h.clear();
    let stop = h.msg(S1, Message::ClusterOp(crate::io::ClusterOp::Stop));
    assert_eq!(deactivated(&stop), vec![h.r("ip2")]);
    let out = h.msg(S1, Message::Departure { clean: true, power_off: false, groups: vec![g1] });
    assert_event(&out, E::ServerPlannedDown);
    assert!(!has_for_group(&out, E::GroupStarting, g1), "every server leaves: nothing is taken over");
    assert!(activated(&out).is_empty());
}

/// Defence in depth for B1: a member peer reports online a group that is online here
/// too (no down judgement between them, so not B17). The later server in server order
/// stops its instance and reports it; the earlier one keeps serving.
#[test]
fn b1_double_online_between_members_the_later_server_stops_its_instance() {
    let text = two_servers("", &["lan1"]);
    let mut later = formed(&text, 1);
    let g = later.g("g1");
    later.msg(S1, Message::StartGroup { group: g, kind: StartKind::Command, stable_epoch_ms: 0 });
    later.settle();
    assert_eq!(later.node.group_state(g), GroupState::Online);
    later.clear();
    let out = later.share(S1, ServerState::Online, vec![(g, GroupState::Online)]);
    assert!(has_for_group(&out, E::GroupDoubleOnline, g), "{:?}", kinds(&out));
    assert_eq!(later.node.group_state(g), GroupState::Stopping);
    let out = later.settle();
    assert_eq!(later.node.group_state(g), GroupState::Offline, "{:?}", kinds(&out));

    // The earlier server (server1, the coordinator) keeps its instance.
    let mut earlier = formed(&text, 0);
    earlier.settle();
    assert_eq!(earlier.node.group_state(g), GroupState::Online, "g1 starts on its home server at formation");
    earlier.clear();
    let out = earlier.share(S2, ServerState::Online, vec![(g, GroupState::Online)]);
    assert_no_event(&out, E::GroupDoubleOnline);
    assert_eq!(earlier.node.group_state(g), GroupState::Online);
}

/// The same when our instance comes online only after the earlier server's last state
/// (generated seeds 9562, 10612, family AV: a lone formation, then the heal while g2 was
/// still starting here; no later state of server1 came to repeat the check, and g2 ran
/// on both for good).
#[test]
fn b1_double_online_found_when_our_instance_comes_online_after_the_peers_state() {
    let text = two_servers("", &["lan1"]);
    let mut later = formed(&text, 1);
    let g = later.g("g1");
    later.msg(S1, Message::StartGroup { group: g, kind: StartKind::Command, stable_epoch_ms: 0 });
    assert_eq!(later.node.group_state(g), GroupState::Starting);
    let out = later.share(S1, ServerState::Online, vec![(g, GroupState::Online)]);
    assert_no_event(&out, E::GroupDoubleOnline);
    later.clear();
    let out = later.settle();
    assert!(has_for_group(&out, E::GroupDoubleOnline, g), "{:?}", kinds(&out));
    assert_eq!(later.node.group_state(g), GroupState::Offline, "{:?}", kinds(&out));
}

/// B3 with a late path: the forming server's `Formed` names every member, so a waiting
/// server that has not heard one of them yet still counts it and does not coordinate.
#[test]
fn b3_formed_names_the_members_so_an_unheard_earlier_server_still_coordinates() {
    let text = cluster_toml(3, "", &["lan1"]) + &group_toml("g1", &[1, 2, 3], "") + &fip_toml("ip1", 11);
    let mut h = H::new(&text, 1); // server2
    h.boot(None);
    h.at(1);
    // server2 hears only server3 (waiting); server1 is not heard yet.
    h.hello(S3, ServerState::Syncing);
    h.share(S3, ServerState::Syncing, vec![]);
    assert_eq!(h.node.reported_state(), ServerState::Syncing);
    let out = h.msg(S3, Message::Formed { timeout: false, members: vec![S1, S2, S3] });
    assert_eq!(h.node.reported_state(), ServerState::Online);
    assert_no_event(&out, E::ClusterStarted);
    assert!(h.find_action(|a| matches!(a, Action::Activate { .. })).is_none(), "server2 must not start g1");
    // server1 counts as a member: it is heard within heartbeat_timeout or lost as usual.
    assert_eq!(h.node.peer_state(S1), ServerState::Online);
}

/// Three servers without resolver (B43); web on server1 first.
fn three_web() -> String {
    cluster_toml(3, "", &["lan1"]) + &group_toml("web", &[1, 2, 3], "") + &fip_toml("webip", 21)
}

#[test]
fn b2_b13_a_joiner_watches_a_member_it_never_heard_and_takes_its_groups_over() {
    // server1 (web) went silent just before server2 started; server2 joins through
    // server3, which still counts server1 as a member, then server3 departs before its
    // own deadline for server1 (3node-majority seeds 112124, 119341, family AE).
    let mut h = H::new(&three_web(), 1); // server2
    h.boot(None);
    h.at(1);
    let web = h.g("web");
    h.hello(S3, ServerState::Online);
    h.share_with(S3, ServerState::Online, |s| {
        s.members = vec![crate::io::SharedMember { server: S1, run: 1, groups: vec![(web, GroupState::Online)] }];
    });
    assert_eq!(h.node.reported_state(), ServerState::Online, "joined: {:?}", kinds(&h.log));
    assert!(h.node.peers[S1.idx()].watched(), "server1 is watched from the join on (B13)");
    h.at(5_000);
    h.msg(S3, Message::Departure { clean: true, power_off: true, groups: vec![] });
    let out = h.run_until(60_000, |t| matches!(t, Timer::Liveness | Timer::NpVerdict | Timer::Takeover));
    assert_eq!(event(&out, EventKind::ServerLost).peer, Some(S1));
    assert!(has_for_group(&out, EventKind::GroupFailover, web), "{:?}", kinds(&out));
}

#[test]
fn b20_b123_a_server_that_joins_a_suspended_cluster_is_suspended_too() {
    // server2 starts while the cluster is suspended (generated seeds 10211, 15853,
    // family AG): the members send no heartbeat (B20), so joining as if it ran, it lost
    // and judged every one of them down and fenced them (B16).
    let mut h = H::new(&three_web(), 1); // server2
    h.boot(None);
    h.at(1);
    for p in [S1, S3] {
        h.hello(p, ServerState::Online);
        h.share_with(p, ServerState::Online, |s| s.cluster_suspended = true);
    }
    assert_eq!(h.node.reported_state(), ServerState::Online, "joined: {:?}", kinds(&h.log));
    assert!(h.node.cluster_suspended, "B20: suspended like its members");
    let out = h.run_until(100_000, |t| matches!(t, Timer::Liveness | Timer::NpVerdict | Timer::Takeover));
    assert_no_event(&out, EventKind::ServerLost);
    // One member that missed a resume does not make the cluster suspended.
    let mut h = H::new(&three_web(), 1); // server2
    h.boot(None);
    h.at(1);
    for (p, suspended) in [(S3, false), (S1, true)] {
        h.hello(p, ServerState::Online);
        h.share_with(p, ServerState::Online, |s| s.cluster_suspended = suspended);
    }
    assert!(!h.node.cluster_suspended);
}

#[test]
fn b13_b55_a_member_heard_but_whose_state_never_came_holds_what_another_member_saw() {
    // Generated seed 863 (family AR): server2 starts and hears one heartbeat of server1
    // (web) just before server1 crashes; its state request goes unanswered. It joins
    // through server3, whose state says server1 holds web. server2 is the takeover
    // coordinator: it judged server1 down holding nothing and reported the loss
    // handled, so server3 dropped web too and web stayed offline for good.
    let mut h = H::new(&three_web(), 1); // server2
    h.boot(None);
    h.at(1);
    let web = h.g("web");
    let out = h.hb(S1, 0);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Send { to, msg } if *to == S1 && matches!(**msg, Message::StateRequest))));
    h.hello(S3, ServerState::Online);
    h.share_with(S3, ServerState::Online, |s| {
        s.members = vec![crate::io::SharedMember { server: S1, run: 1, groups: vec![(web, GroupState::Online)] }];
    });
    assert_eq!(h.node.reported_state(), ServerState::Online, "joined: {:?}", kinds(&h.log));
    assert_eq!(h.node.holders(web), vec![S1], "what server3 saw server1 hold stands here");
    h.at(5_000);
    h.msg(S3, Message::Departure { clean: true, power_off: true, groups: vec![] });
    let out = h.run_until(60_000, |t| matches!(t, Timer::Liveness | Timer::NpVerdict | Timer::Takeover));
    assert_eq!(event(&out, EventKind::ServerLost).peer, Some(S1));
    assert!(has_for_group(&out, EventKind::GroupFailover, web), "{:?}", kinds(&out));
}
