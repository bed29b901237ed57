//! The acknowledged suspend and resume (X1, docs/architecture.md "Extensions to the
//! rules"; B20, B122, B123): a peer that has not confirmed a resume is not judged down,
//! a suspend not yet confirmed keeps heartbeats and checks running, and a server that
//! crashed while suspended is taken over once its new run is heard.

use super::*;
use EventKind as E;

/// `base` on server1 then server2, held by server2 when server1 (this node) joins.
fn held_by_server2() -> (H, GroupId) {
    let text =
        cluster_toml(2, "", &["lan1"]) + &group_toml("base", &[1, 2], "startup = \"manual\"") + &fip_toml("baseip", 71);
    let mut h = joined(&text, 0, None, &[(S2, "base")]);
    let base = h.g("base");
    h.at(10_000);
    h.clear();
    (h, base)
}

/// server2 shares that it applied `epoch` suspends and resumes, still holding `base`.
fn confirm(h: &mut H, base: GroupId, suspended: bool, epoch: u64) -> Vec<Output> {
    h.share_with(S2, ServerState::Online, |s| {
        s.groups = vec![(base, GroupState::Online)];
        s.cluster_suspended = suspended;
        s.suspend_epoch = epoch;
    })
}

fn heartbeats(out: &[Output]) -> usize {
    out.iter().filter(|o| matches!(o, Output::Heartbeat { .. })).count()
}

/// Generated seed 15201: the resume never reached server2, suspended and isolated; at
/// the resume server1 counted it as heard (B20), judged it lost a timeout later and
/// started its group while server2 still ran it. A peer that has not confirmed the
/// resume is neither watched nor judged: it is reported (`resume-unconfirmed`), and
/// watched from its confirmation on.
#[test]
fn x1_a_peer_that_never_confirmed_the_resume_is_not_judged_down_until_it_does() {
    let (mut h, base) = held_by_server2();
    assert_eq!(reply(&h.cmd(Command::ClusterSuspend { force: false })), Ok(()));
    confirm(&mut h, base, true, 1);
    h.at(100_000);
    let resume = h.cmd(Command::ClusterResume { force: false });
    assert_event(&resume, E::ClusterResumed);
    let due = h.timer(Timer::Liveness).expect("the confirmation is awaited with a deadline");
    let late = h.fire(Timer::Liveness);
    assert!(due >= 100_000, "{due}");
    assert_event(&late, E::ResumeUnconfirmed);
    assert_no_event(&late, E::ServerLost);
    assert!(h.timer(Timer::NpVerdict).is_none(), "no resolution against an unconfirmed peer");
    let owed = h.node.status().unconfirmed;
    assert_eq!((owed.len(), owed[0].server.as_str(), owed[0].op, owed[0].overdue), (1, "server2", "resume", true));
    // Much later, still silent: still not judged, its group not started here.
    let quiet = h.run_until(1_000_000, |t| matches!(t, Timer::Liveness | Timer::HeartbeatTick));
    assert_no_event(&quiet, E::ServerLost);
    assert!(!activated(&quiet).contains(&h.r("baseip")));
    // The heal: server2 adopts the resume and says so; it is watched from now on.
    let now = h.now;
    let ok = confirm(&mut h, base, false, 2);
    assert_event(&ok, E::ClusterOpConfirmed);
    assert!(h.node.status().unconfirmed.is_empty());
    let at = h.timer(Timer::Liveness).expect("watched again");
    assert!(at > now, "heard at its confirmation: {at} > {now}");
    let lost = h.fire(Timer::Liveness);
    assert_event(&lost, E::ServerLost);
}

/// Family AD, the case left open: the suspend reached server1 but not server2 (a cut),
/// which runs on unsuspended. server1 keeps sending heartbeats (so server2 does not judge
/// it lost and win against a stopped resolver) and keeps watching server2 (so a real
/// loss is resolved as in any partition) until server2 confirms; then B20 holds.
#[test]
fn x1_a_suspend_not_confirmed_keeps_heartbeats_and_checks_until_it_is() {
    let (mut h, base) = held_by_server2();
    let out = h.cmd(Command::ClusterSuspend { force: false });
    assert_event(&out, E::ClusterSuspended);
    let tick = h.fire(Timer::HeartbeatTick);
    assert!(heartbeats(&tick) > 0, "still heard by the peer that missed the suspend");
    let owed = h.node.status().unconfirmed;
    assert_eq!((owed.len(), owed[0].server.as_str(), owed[0].op, owed[0].overdue), (1, "server2", "suspend", false));
    let lost = h.run_until(10_000 + 31_000, |t| matches!(t, Timer::Liveness));
    assert_event(&lost, E::SuspendUnconfirmed);
    assert_event(&lost, E::ServerLost);
    // The same, confirmed: heartbeats, checks and resolution stop (B20, B122).
    let (mut h, base2) = held_by_server2();
    assert_eq!(base, base2);
    h.cmd(Command::ClusterSuspend { force: false });
    confirm(&mut h, base, true, 1);
    assert!(h.timer(Timer::Liveness).is_none() || heartbeats(&h.fire(Timer::Liveness)) == 0);
    let tick = h.fire(Timer::HeartbeatTick);
    assert_eq!(heartbeats(&tick), 0, "B20 once confirmed");
    assert!(h.node.status().unconfirmed.is_empty());
}

/// B123: a server that crashed while the cluster was suspended is detected after the
/// resume. It cannot confirm the resume, so it is not judged from silence (X1); its
/// next run, when it boots, ends the old one (B18) and its group is taken over.
#[test]
fn x1_b18_b123_a_server_that_crashed_while_suspended_is_taken_over_when_its_new_run_is_heard() {
    let (mut h, base) = held_by_server2();
    h.cmd(Command::ClusterSuspend { force: false });
    confirm(&mut h, base, true, 1);
    h.at(100_000);
    h.cmd(Command::ClusterResume { force: false });
    h.fire(Timer::Liveness); // resume-unconfirmed
    h.at(400_000);
    let mut out = h.msg(S2, Message::Hello { run: 2, state: ServerState::Syncing, version: 1 });
    out.extend(h.run_until(500_000, |t| matches!(t, Timer::Takeover)));
    out.extend(h.settle());
    assert_eq!(h.node.group_state(base), GroupState::Online, "taken over after the crash: {out:?}");
    assert!(h.node.status().unconfirmed.is_empty(), "the run that owed the confirmation ended");
}

/// The operator's way out for a server that crashed while suspended and stays off:
/// `cluster resume --force` counts it as heard now (B20 as written); silent a
/// `heartbeat_timeout` later it is lost, judged down and its group taken over (B123).
#[test]
fn x1_b123_cluster_resume_force_judges_a_server_that_never_confirmed() {
    let (mut h, base) = held_by_server2();
    h.cmd(Command::ClusterSuspend { force: false });
    confirm(&mut h, base, true, 1);
    h.at(100_000);
    h.cmd(Command::ClusterResume { force: false });
    h.fire(Timer::Liveness); // resume-unconfirmed
    h.at(200_000);
    let out = h.cmd(Command::ClusterResume { force: true });
    assert_eq!(reply(&out), Ok(()));
    assert!(h.node.status().unconfirmed.is_empty());
    assert_eq!(h.timer(Timer::Liveness), Some(230_000), "heard at the forced resume");
    let lost = h.fire(Timer::Liveness);
    assert_event(&lost, E::ServerLost);
    let mut out = h.run_until(400_000, |t| matches!(t, Timer::NpVerdict | Timer::Takeover));
    out.extend(h.settle());
    assert_eq!(h.node.group_state(base), GroupState::Online, "taken over: {out:?}");
    // Nothing left to force.
    assert!(reply(&h.cmd(Command::ClusterResume { force: true })).is_err());
}

/// 3node-majority seed 791: a `cluster suspend` after a resume server2 never confirmed.
/// server2's latest state says suspended (it missed the resume): it owes the new suspend
/// too, but is quiet, so it is not watched (it was judged lost at once from its old
/// silence, and its group started here while it still ran it).
#[test]
fn x1_a_new_suspend_does_not_watch_a_peer_that_missed_the_resume() {
    let (mut h, base) = held_by_server2();
    h.cmd(Command::ClusterSuspend { force: false });
    confirm(&mut h, base, true, 1);
    h.at(100_000);
    h.cmd(Command::ClusterResume { force: false });
    h.at(200_000);
    let out = h.cmd(Command::ClusterSuspend { force: true });
    assert_event(&out, E::ClusterSuspended);
    assert_no_event(&out, E::ServerLost);
    let later = h.run_until(1_000_000, |t| matches!(t, Timer::Liveness | Timer::HeartbeatTick));
    assert_no_event(&later, E::ServerLost);
    assert_eq!(heartbeats(&later), 0, "nobody left to be heard by (B20)");
}

/// 3node-hybrid seed 380: server2 suspended while cut from server3, which never got the
/// suspend and judged server2 lost. server2 watched server3 through the suspension (X1),
/// so at its resume server3's silence is real: not counted as heard (B20), server3 is
/// lost on its own last heartbeat, as it would have been without the suspension.
#[test]
fn x1_b20_a_peer_watched_through_the_suspension_is_not_heard_at_the_resume() {
    let (mut h, _base) = held_by_server2();
    h.hb_all(S2);
    let last_heard = h.now;
    h.at(20_000);
    h.cmd(Command::ClusterSuspend { force: true });
    h.at(25_000);
    h.cmd(Command::ClusterResume { force: false });
    assert_eq!(h.timer(Timer::Liveness), Some(last_heard + 30_000), "lost on its last heartbeat");
    let lost = h.fire(Timer::Liveness);
    assert_event(&lost, E::ServerLost);
}

/// Generated seed 10212 (family BC): server1 (holding `base`) went quiet in a suspension
/// and never confirmed the resume (X1 3); server2 left and came back as a member after
/// that. When server1's next run is heard (B18, X1 4), server2 never heard the run that
/// held `base`, so it is not the one to place it: this server, which heard it, does.
/// (The restart instant used to count as the start of the loss, so server2, a member
/// then, was left the placement and knew nothing to place.)
#[test]
fn x1_b18_a_member_that_came_back_after_the_holder_fell_quiet_does_not_coordinate_its_restart() {
    let text = cluster_toml(3, "", &["lan1"])
        + &group_toml("base", &[1, 2, 3], "startup = \"manual\"")
        + &fip_toml("baseip", 71);
    let mut h = joined(&text, 2, None, &[(S1, "base")]);
    let base = h.g("base");
    h.at(10_000);
    assert_eq!(reply(&h.cmd(Command::ClusterSuspend { force: false })), Ok(()));
    for p in [S1, S2] {
        let groups = if p == S1 { vec![(base, GroupState::Online)] } else { vec![] };
        h.share_with(p, ServerState::Online, |s| {
            s.groups = groups;
            s.cluster_suspended = true;
            s.suspend_epoch = 1;
        });
    }
    h.at(100_000);
    h.cmd(Command::ClusterResume { force: false });
    h.share_with(S2, ServerState::Online, |s| s.suspend_epoch = 2);
    h.fire(Timer::Liveness); // resume-unconfirmed for server1
    assert_eq!(h.node.status().unconfirmed.len(), 1);
    // server2 shuts down and starts again: a member from 200 s on.
    h.at(150_000);
    h.msg(S2, Message::Departure { clean: true, power_off: true, groups: vec![] });
    h.at(200_000);
    h.msg(S2, Message::Hello { run: 2, state: ServerState::Online, version: 1 });
    let s2 =
        SharedState { version: 1, run: 2, state: Some(ServerState::Online), suspend_epoch: 2, ..Default::default() };
    h.msg(S2, Message::State(Box::new(s2)));
    assert!(h.node.is_member(S2));
    h.at(300_000);
    let mut out = h.msg(S1, Message::Hello { run: 2, state: ServerState::Suspended, version: 1 });
    out.extend(h.run_until(300_001, |t| matches!(t, Timer::Takeover)));
    assert!(start_sent(&out, S2, base).is_some(), "placed from here, on server2: {:?}", sent(&out, S2));
}
