//! Mirror disks (B102, B106, B116): a side without the latest data never activates
//! (`mirror-stale-refused`) and is never eligible; online without the other side is a
//! break; a disk error under an online mirror reboots the server.

use super::*;
use crate::io::MirrorRecord;
use EventKind as E;

pub(super) fn mirror2() -> String {
    cluster_toml(2, "", &["lan1"])
        + &group_toml("mg", &[1, 2], "")
        + &fip_toml("mip", 61)
        + "\n[[group.resource]]\nname = \"md1\"\nkind = \"mirror-disk\"\n\
           data = { server1 = \"/dev/vdb1\", server2 = \"/dev/vdb1\" }\n\
           metadata = { server1 = \"/dev/vdb2\", server2 = \"/dev/vdb2\" }\n\
           mount_point = \"/mnt/md1\"\nnetwork = \"lan1\"\n"
}

/// What a server whose last run ended cleanly left, with its side's record.
fn clean_with(side: u8, record: MirrorRecord) -> Persisted {
    let md1 = config(&mirror2()).resource_id("md1").expect("md1");
    Persisted { runs: 1, last_end_clean: Some(true), mirrors: vec![(md1, side, record)], ..Default::default() }
}

#[test]
fn b106_side_that_is_behind_refuses_to_activate_with_mirror_stale_refused() {
    let mut h = H::new(&mirror2(), 1);
    h.boot(Some(clean_with(1, MirrorRecord::Behind { full: false })));
    h.at(1);
    let md1 = h.r("md1");
    h.hello(S1, ServerState::Online);
    h.share_with(S1, ServerState::Online, |s| {
        s.mirrors = vec![(md1, 0, MirrorRecord::Ahead { break_ms: 10, updated_ms: Some(20) })]
    });
    assert_eq!(h.node.reported_state(), ServerState::Online);
    let g = h.g("mg");
    h.msg(S1, Message::StartGroup { group: g, kind: StartKind::Command, stable_epoch_ms: 0 });
    let out = h.ok(h.activation_of(h.r("mip")));
    assert_eq!(event(&out, E::MirrorStaleRefused).resource, Some(md1));
    assert!(events(&out).iter().any(|e| e.kind == E::ResourceActivationFailed && e.resource == Some(md1)));
    h.settle();
    assert!(!activated(&h.log).contains(&md1), "the stale side is never activated");
    assert!(!h.node.resource_online(md1));
}

#[test]
fn b106_side_that_is_behind_alone_is_never_eligible() {
    let mut h = alone(&mirror2(), 1, Some(clean_with(1, MirrorRecord::Behind { full: false })));
    let (g, md1) = (h.g("mg"), h.r("md1"));
    assert!(has_for_group(&h.log, E::GroupNoTarget, g), "{:?}", kinds(&h.log));
    let out = h.cmd(Command::GroupStart { group: g, on: Some(S2) });
    assert!(reply(&out).is_err());
    assert_event(&out, E::CommandRefused);
    h.settle();
    assert!(!activated(&h.log).contains(&md1));
}

#[test]
fn b106_side_alone_after_a_run_ended_synced_cannot_know_the_latest() {
    let mut h = alone(&mirror2(), 0, Some(clean_with(0, MirrorRecord::Synced)));
    let g = h.g("mg");
    assert!(has_for_group(&h.log, E::GroupNoTarget, g), "undetermined: not eligible ({:?})", kinds(&h.log));
    h.settle();
    assert!(!activated(&h.log).contains(&h.r("md1")));
}

#[test]
fn b102_online_while_the_other_side_is_not_running_is_a_break() {
    // B106: closed at the last cluster stop, this side holds the latest data alone.
    let mut h = alone(&mirror2(), 0, Some(clean_with(0, MirrorRecord::Closed)));
    let md1 = h.r("md1");
    let out = h.settle();
    assert!(activated(&out).contains(&md1), "a side closed at the last stop holds the latest data (B106)");
    assert_eq!(event(&out, E::MirrorBreak).resource, Some(md1));
    let p = persisted(&out).expect("the record is persisted");
    assert!(
        p.mirrors.iter().any(|(r, side, rec)| *r == md1 && *side == 0 && matches!(rec, MirrorRecord::Ahead { .. })),
        "{:?}",
        p.mirrors
    );
}

#[test]
fn b116_disk_error_under_an_online_mirror_reboots_the_server() {
    let mut h = alone(&mirror2(), 0, Some(clean_with(0, MirrorRecord::Closed)));
    let md1 = h.r("md1");
    h.settle();
    h.clear();
    let out = h.input(Input::MirrorDiskError { res: md1 });
    assert_event(&out, E::MirrorDiskError);
    assert_event(&out, E::EmergencyReboot);
    assert_eq!(power(&out), Some(PowerAction::EmergencyReboot));
    let p = persisted(&out).expect("persisted");
    assert_eq!(p.last_end_clean, Some(false));
    // Alone, this side was ahead: it held the only latest data, now lost with the
    // device (no side holds it until `mirror force`, B106, B112).
    assert!(p.mirrors.iter().any(|(r, _, rec)| *r == md1 && matches!(rec, MirrorRecord::Lost)), "{:?}", p.mirrors);
}

#[test]
fn b116_disk_error_on_a_synced_side_marks_it_behind_full() {
    let mut h = formed(&mirror2(), 1);
    let md1 = h.r("md1");
    h.settle();
    h.clear();
    let out = h.input(Input::MirrorDiskError { res: md1 });
    assert_event(&out, E::MirrorDiskError);
    let p = persisted(&out).expect("persisted");
    assert!(
        p.mirrors.iter().any(|(r, _, rec)| *r == md1 && matches!(rec, MirrorRecord::Behind { full: true })),
        "{:?}",
        p.mirrors
    );
}

#[test]
fn b102_connect_down_for_heartbeat_timeout_while_online_is_a_break() {
    let mut h = formed(&mirror2(), 0);
    let md1 = h.r("md1");
    let on = h.settle();
    assert!(activated(&on).contains(&md1));
    assert_no_event(&on, E::MirrorBreak);
    h.at(10_000);
    let down = h.input(Input::MirrorConnect { res: md1, network: 0, up: false });
    assert_eq!(event(&down, E::MirrorConnectDown).resource, Some(md1));
    assert_no_event(&down, E::MirrorBreak);
    assert_eq!(h.timer(Timer::MirrorConnectDown(md1)), Some(40_000));
    h.at(20_000);
    let meanwhile = h.hb_all(S2);
    assert_no_event(&meanwhile, E::MirrorBreak);
    let out = h.fire(Timer::MirrorConnectDown(md1));
    assert_eq!(event(&out, E::MirrorBreak).resource, Some(md1));
}

#[test]
fn b123_no_break_while_the_cluster_is_suspended_and_the_connect_is_judged_again_from_resume() {
    let mut h = formed(&mirror2(), 0);
    let md1 = h.r("md1");
    assert!(activated(&h.settle()).contains(&md1));
    h.at(10_000);
    assert_eq!(reply(&h.cmd(Command::ClusterSuspend { force: false })), Ok(()));
    h.at(20_000);
    h.input(Input::MirrorConnect { res: md1, network: 0, up: false });
    // heartbeat_timeout later, still suspended: nothing is judged (B123), so no write is
    // acknowledged here alone.
    let during = h.fire(Timer::MirrorConnectDown(md1));
    assert_no_event(&during, E::MirrorBreak);
    assert_eq!(h.node.mirror_record(md1), Some(MirrorRecord::Synced));
    h.at(100_000);
    assert_eq!(reply(&h.cmd(Command::ClusterResume { force: false })), Ok(()));
    assert_eq!(h.timer(Timer::MirrorConnectDown(md1)), Some(130_000), "judged again from the resume (B20)");
    h.at(120_000);
    h.hb_all(S2); // the peer is heard: only the connect is down
    let out = h.fire(Timer::MirrorConnectDown(md1));
    assert_eq!(event(&out, E::MirrorBreak).resource, Some(md1));
}

#[test]
fn b102_no_break_when_the_connect_times_out_at_the_instant_the_peer_is_silent_too() {
    // The connect timer and the peer's heartbeat deadline fall on one instant (both
    // counted from a resume): whichever the node handles first, the connect is not
    // judged while the peer's loss is to be resolved.
    let mut h = formed(&mirror2(), 0);
    let md1 = h.r("md1");
    h.settle();
    h.at(10_000);
    h.cmd(Command::ClusterSuspend { force: false });
    h.at(20_000);
    h.input(Input::MirrorConnect { res: md1, network: 0, up: false });
    h.at(100_000);
    h.cmd(Command::ClusterResume { force: false });
    let out = h.fire(Timer::MirrorConnectDown(md1));
    assert_no_event(&out, E::MirrorBreak);
    assert_eq!(h.node.mirror_record(md1), Some(MirrorRecord::Synced));
}

fn hybrid3() -> String {
    cluster_toml(3, "", &["lan1"])
        + "\n[[server_group]]\nname = \"svg1\"\nservers = [\"server1\", \"server2\"]\n\
           \n[[server_group]]\nname = \"svg2\"\nservers = [\"server3\"]\n\
           \n[[group]]\nname = \"hg\"\nserver_groups = [\"svg1\", \"svg2\"]\n"
        + &fip_toml("hip", 62)
        + "\n[[group.resource]]\nname = \"hd1\"\nkind = \"hybrid-disk\"\n\
           data = { svg1 = \"/dev/sdb2\", svg2 = \"/dev/vdb2\" }\n\
           metadata = { svg1 = \"/dev/sdb1\", svg2 = \"/dev/vdb1\" }\n\
           mount_point = \"/mnt/hd1\"\nnetwork = \"lan1\"\n"
}

#[test]
fn b115_a_move_within_the_server_group_keeps_the_side_record_of_the_server_it_left() {
    let mut h = formed_with(&hybrid3(), 1, &[(S1, "hg")]);
    let (g, hd1) = (h.g("hg"), h.r("hd1"));
    let ahead = MirrorRecord::Ahead { break_ms: 10, updated_ms: Some(20) };
    // server1 broke the mirror (server3 went) and wrote; server2 shares its device.
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g, GroupState::Online)];
        s.mirrors = vec![(hd1, 0, ahead)];
    });
    assert_eq!(h.node.mirror_record(hd1), Some(ahead), "the side's record follows the server holding it");
    h.at(5_000);
    h.msg(S1, Message::Departure { clean: true, power_off: true, groups: vec![g] });
    let out = h.settle();
    assert!(activated(&out).contains(&hd1));
    assert_no_event(&out, E::MirrorBreak);
    // The writes since the break are still this side's: the rebuild to server3 copies them.
    assert_eq!(h.node.mirror_record(hd1), Some(ahead));
}

#[test]
fn b116_a_side_that_saw_the_other_side_lost_stays_behind_after_it_leaves() {
    let mut h = H::new(&mirror2(), 0);
    h.boot(Some(clean_with(0, MirrorRecord::Synced)));
    h.at(1);
    let (g, md1) = (h.g("mg"), h.r("md1"));
    // server2 held the only newer data and lost its device (B116); it comes back suspended.
    h.hello(S2, ServerState::Suspended);
    h.share_with(S2, ServerState::Suspended, |s| {
        s.mirrors = vec![(md1, 1, MirrorRecord::Lost)];
        s.mirror_disk_error = vec![md1];
    });
    assert_eq!(h.node.reported_state(), ServerState::Online);
    assert!(has_for_group(&h.log, E::GroupNoTarget, g));
    assert_eq!(h.node.mirror_record(md1), Some(MirrorRecord::Behind { full: false }));
    h.at(60_000);
    h.msg(S2, Message::Departure { clean: true, power_off: true, groups: vec![] });
    let out = h.cmd(Command::GroupStart { group: g, on: Some(S1) });
    assert!(reply(&out).is_err(), "B111: not on a side that does not hold the latest data");
    h.settle();
    assert!(!activated(&h.log).contains(&md1));
}

#[test]
fn b106_a_peer_lost_before_its_state_ever_arrived_was_not_seen_go() {
    // server2's last run ended synced; server1 (ahead since then, in truth) is heard
    // during start-up, but its state never arrives (a one-way cut), and it is lost.
    let mut h = H::new(&mirror2(), 1);
    h.boot(Some(clean_with(1, MirrorRecord::Synced)));
    h.at(1);
    let (g, md1) = (h.g("mg"), h.r("md1"));
    h.hello(S1, ServerState::Online);
    let out = h.run_until(400_000, |_| true);
    assert_event(&out, E::StartupSyncTimeout);
    h.settle();
    assert!(has_for_group(&h.log, E::GroupNoTarget, g), "undetermined: not eligible ({:?})", kinds(&h.log));
    assert!(!activated(&h.log).contains(&md1), "the stale side is never activated");
}

#[test]
fn b116_a_disk_error_found_here_is_not_undone_by_the_record_the_holder_shared_before_it() {
    let mut h = formed_with(&hybrid3(), 1, &[(S1, "hg")]);
    let (g, hd1) = (h.g("hg"), h.r("hd1"));
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g, GroupState::Online)];
        s.mirrors = vec![(hd1, 0, MirrorRecord::Synced)];
    });
    // The side's shared device is replaced; server1's own report does not get through.
    h.input(Input::MirrorDiskError { res: hd1 });
    assert_eq!(h.node.mirror_record(hd1), Some(MirrorRecord::Behind { full: true }));
    h.share_with(S1, ServerState::Online, |s| {
        s.groups = vec![(g, GroupState::Online)];
        s.mirrors = vec![(hd1, 0, MirrorRecord::Synced)];
    });
    assert_eq!(h.node.mirror_record(hd1), Some(MirrorRecord::Behind { full: true }));
}

#[test]
fn b108_no_copy_chosen_before_the_destination_state_its_heartbeat_announces_arrives() {
    // server1 is online and ahead (nothing written); server2's device was replaced (B116)
    // while its state could not get through: its heartbeats announce a newer version than
    // the state held here. A "no copy needed" rebuild chosen now would mark the empty
    // device synced (gen-seed1182).
    let mut h = alone(&mirror2(), 0, Some(clean_with(0, MirrorRecord::Closed)));
    let md1 = h.r("md1");
    h.settle();
    assert!(matches!(h.node.mirror_record(md1), Some(MirrorRecord::Ahead { updated_ms: None, .. })));
    h.at(400_000);
    h.input(Input::MirrorConnect { res: md1, network: 0, up: false });
    h.hello(S2, ServerState::Online);
    h.share_with(S2, ServerState::Online, |s| s.mirrors = vec![(md1, 1, MirrorRecord::Synced)]);
    h.clear();
    h.at(401_000);
    let hb = Heartbeat { run: 1, state: ServerState::Online, version: 99, sent_ms: 401_000 };
    let out = h.input(Input::Heartbeat { from: S2, path: PathId(0), hb });
    assert!(out.iter().any(|o| matches!(o, Output::Send { msg, .. } if matches!(**msg, Message::StateRequest))));
    h.input(Input::MirrorConnect { res: md1, network: 0, up: true });
    h.settle();
    assert!(!has(&h.log, E::MirrorNoCopyNeeded), "{:?}", kinds(&h.log));
    assert!(!has(&h.log, E::MirrorRebuildStarted), "{:?}", kinds(&h.log));
    // The announced state arrives: a disk error, so no automatic rebuild (B116).
    let mut s = SharedState { version: 99, run: 1, state: Some(ServerState::Online), ..Default::default() };
    s.mirrors = vec![(md1, 1, MirrorRecord::Behind { full: true })];
    s.mirror_disk_error = vec![md1];
    h.msg(S2, Message::State(Box::new(s)));
    h.settle();
    assert!(!has(&h.log, E::MirrorNoCopyNeeded), "{:?}", kinds(&h.log));
    assert!(
        matches!(h.node.mirror_record(md1), Some(MirrorRecord::Ahead { .. })),
        "{:?} {:?}",
        h.node.mirror_record(md1),
        kinds(&h.log)
    );
}
