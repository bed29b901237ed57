//! Which side holds the latest data when only one side is visible (B104, B106): a side
//! that never ran, a peer judged down that was still running, a peer lost after it
//! broke, a peer whose own driver saw the connect down. Each case was found by
//! exploration activating a mirror on stale data (invariant 2).
//!
//! In: boots, peers' heartbeats and states, connect reports, commands. Out: checks on
//! the side's record, on eligibility and on activations.

use super::mirror::mirror2;
use super::*;
use crate::io::MirrorRecord;
use EventKind as E;

/// Fires every liveness, verdict and takeover timer due by `until`.
fn run_losses(h: &mut H, until: Ms) -> Vec<Output> {
    h.run_until(until, |t| matches!(t, Timer::Liveness | Timer::NpVerdict | Timer::Takeover))
}

#[test]
fn b106_a_side_that_never_ran_alone_does_not_hold_the_latest_data() {
    // No record on this side's metadata: the other side may have run and written
    // without it (gen seeds 5285, 10438); undetermined until it is visible.
    let mut h = alone(&mirror2(), 0, None);
    let (g, md1) = (h.g("mg"), h.r("md1"));
    h.settle();
    assert!(has_for_group(&h.log, E::GroupNoTarget, g), "undetermined: not eligible ({:?})", kinds(&h.log));
    assert_event(&h.log, E::MirrorLatestUndetermined);
    assert!(!activated(&h.log).contains(&md1), "never activated on a side that does not know");
    assert!(!h.node.mirror_latest_on(md1, S1));
}

#[test]
fn b108_both_sides_fresh_together_start_their_mirror() {
    // The initial construction: both sides never ran, both visible, synced against
    // synced: both hold the latest data (B106) and the mirror starts without a break.
    let mut h = formed(&mirror2(), 0);
    let md1 = h.r("md1");
    let out = h.settle();
    assert!(activated(&out).contains(&md1), "{:?}", kinds(&h.log));
    assert_no_event(&h.log, E::MirrorBreak);
    assert_eq!(h.node.mirror_record(md1), Some(MirrorRecord::Synced));
}

#[test]
fn b106_a_peer_judged_down_then_heard_in_the_same_run_was_not_seen_go() {
    // server2 is judged down after a partition (connect and heartbeats lost together),
    // but it kept running (a split brain): heard again in the same run, it may have
    // broken and written alone meanwhile (2node-mirror seed 110594).
    let mut h = formed(&mirror2(), 0);
    let (g, md1) = (h.g("mg"), h.r("md1"));
    h.settle();
    assert_eq!(reply(&h.cmd(Command::GroupStop { group: g })), Ok(()));
    h.settle();
    h.at(10_000);
    h.hb_all(S2);
    h.input(Input::MirrorConnect { res: md1, network: 0, up: false });
    run_losses(&mut h, 100_000);
    assert!(h.node.peers[S2.idx()].judged_down);
    assert!(h.node.mirror_latest_on(md1, S1), "it saw server2 go (connected until silent)");
    h.at(200_000);
    h.input(Input::MirrorConnect { res: md1, network: 0, up: true });
    h.hb_all(S2);
    assert!(!h.node.mirror_latest_on(md1, S1), "server2 ran all along: undetermined");
    h.msg(S2, Message::Fencing { groups: vec![] });
    run_losses(&mut h, 300_000);
    let out = h.cmd(Command::GroupStart { group: g, on: Some(S1) });
    assert!(reply(&out).is_err(), "B111: not on a side that does not hold the latest data");
    h.settle();
    assert!(!h.node.resource_online(md1));
}

#[test]
fn b104_a_lost_peer_that_shares_a_break_makes_this_side_behind() {
    // server1 holds the mirror; its heartbeats no longer reach server2 (a one-way cut)
    // but its messages do: it breaks and says so while server2 resolves its loss
    // (2node-mirror seed 101687).
    let mut h = formed_with(&mirror2(), 1, &[(S1, "mg")]);
    let (g, md1) = (h.g("mg"), h.r("md1"));
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g, GroupState::Online)];
        s.mirrors = vec![(md1, 0, MirrorRecord::Synced)];
    });
    h.at(10_000);
    h.hb_all(S1);
    h.input(Input::MirrorConnect { res: md1, network: 0, up: false });
    h.run_until(45_000, |t| matches!(t, Timer::Liveness));
    assert!(h.node.peers[S1.idx()].lost_at.is_some(), "lost, resolution pending");
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g, GroupState::Online)];
        s.mirrors = vec![(md1, 0, MirrorRecord::Ahead { break_ms: 40_500, updated_ms: Some(41_200) })];
        s.mirror_connect_down = vec![md1];
    });
    assert_eq!(h.node.mirror_record(md1), Some(MirrorRecord::Behind { full: false }));
    run_losses(&mut h, 100_000);
    h.settle();
    assert!(!activated(&h.log).contains(&md1), "the stale side is never activated");
}

#[test]
fn b106_a_peer_whose_driver_saw_the_connect_down_was_not_seen_go() {
    // server1's driver reports the connect down; here it still looks up (a hybrid link
    // to a stopped server of server1's side, a one-way cut). server1 may break and write
    // until it is judged down and fences (3node-hybrid seed 118953).
    let mut h = formed_with(&mirror2(), 1, &[(S1, "mg")]);
    let (g, md1) = (h.g("mg"), h.r("md1"));
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g, GroupState::Online)];
        s.mirrors = vec![(md1, 0, MirrorRecord::Synced)];
        s.mirror_connect_down = vec![md1];
    });
    h.at(10_000);
    h.hb_all(S1);
    run_losses(&mut h, 100_000);
    assert!(h.node.peers[S1.idx()].judged_down);
    assert!(!h.node.mirror_latest_on(md1, S2), "undetermined");
    h.settle();
    assert!(!activated(&h.log).contains(&md1), "never activated without knowing");
}
