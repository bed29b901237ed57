//! Network-partition resolution (B31–B47): watches, verdicts from the latest probe,
//! majority counts, the verdict instant V and the takeover instant T.

use super::*;
use crate::config::NpId;
use crate::io::ProbeResult;
use EventKind as E;

const NP: NpId = NpId(0);

/// Two servers under a ping resolver; g1 at home on server1, g2 and the manual g3 on
/// server2.
pub(super) fn ping2() -> String {
    cluster_toml(2, "", &["lan1"])
        + PING_NP
        + &group_toml("g1", &[1, 2], "")
        + &fip_toml("ip1", 11)
        + &group_toml("g2", &[2, 1], "")
        + &fip_toml("ip2", 12)
        + &group_toml("g3", &[2, 1], "startup = \"manual\"")
        + &fip_toml("ip3", 13)
}

/// Fires the resolver's next watch check and answers it.
fn probe(h: &mut H, answered: bool) -> Vec<Output> {
    let mut out = h.fire(Timer::NpCheck(NP));
    let id = h.find_action(|a| matches!(a, Action::NpProbe { np } if *np == NP)).expect("a probe in flight");
    out.extend(h.done(id, ActionResult::Probe(ProbeResult::Answered(answered))));
    out
}

/// server2 sends its last heartbeat at `last`; fires liveness until it is lost (at
/// `last + 30 000`) and returns the outputs of the loss.
fn lose_s2_after(h: &mut H, last: Ms) -> Vec<Output> {
    h.at(last);
    h.hb_all(S2);
    h.fire(Timer::Liveness); // the deadline of t = 1: re-armed at last + timeout
    assert_eq!(h.timer(Timer::Liveness), Some(last + 30_000));
    let out = h.fire(Timer::Liveness);
    assert_event(&out, E::ServerLost);
    out
}

fn majority(n: usize) -> String {
    cluster_toml(n, "", &["lan1"]) + "\n[[np]]\nname = \"maj\"\nkind = \"majority\"\n"
}

/// In a formed cluster of `majority(n)` seen from `me`, the servers of `alive` keep
/// sending heartbeats and the others fall silent after t = 1; returns the verdict.
fn majority_verdict(n: usize, me: u16, alive: &[ServerId]) -> (H, Vec<Output>) {
    let mut h = formed(&majority(n), me);
    h.clear();
    for t in [10_000, 20_000, 30_000] {
        h.at(t);
        for s in alive {
            h.hb_all(*s);
        }
    }
    let lost = h.fire(Timer::Liveness);
    assert_eq!(h.now, 30_001);
    assert_eq!(count(&lost, E::ServerLost), n - 1 - alive.len(), "the silent servers are lost together");
    assert_eq!(h.timer(Timer::NpVerdict), Some(33_001), "majority: V = D + heartbeat_interval");
    let out = h.fire(Timer::NpVerdict);
    (h, out)
}

#[test]
fn b31_resolver_fails_after_retries_failed_checks_and_recovers_on_the_next_good_one() {
    let mut h = formed(&ping2(), 0);
    h.settle();
    let first = probe(&mut h, false);
    let second = probe(&mut h, false);
    assert_no_event(&first, E::NpTargetDown);
    assert_no_event(&second, E::NpTargetDown);
    assert_eq!(h.now, 5_001, "checks every interval (5 s)");
    let third = probe(&mut h, false);
    assert_event(&third, E::NpTargetDown);
    // The watch state is shared with the peers (B31, B32).
    let shared = sent(&third, S2).into_iter().find_map(|m| {
        if let Message::State(s) = m {
            Some(s.np_failing.clone())
        } else {
            None
        }
    });
    assert_eq!(shared, Some(vec![NP]));
    let good = probe(&mut h, true);
    assert_event(&good, E::NpTargetUp);
}

#[test]
fn b36_ping_latest_round_answered_survives_and_judges_the_peer_down() {
    let mut h = formed(&ping2(), 0);
    probe(&mut h, false);
    probe(&mut h, true); // the latest round decides
    h.clear();
    let lost = lose_s2_after(&mut h, 8_000);
    assert_eq!(timer_set(&lost, Timer::NpVerdict), Some(38_000), "two servers: V = D, no settle (B34)");
    let out = h.fire(Timer::NpVerdict);
    assert_eq!(event(&out, E::NpResolvedPeerDown).peer, Some(S2));
    assert_no_event(&out, E::NpUnresolved);
    assert!(sent(&out, S2).iter().any(|m| matches!(m, Message::DownNotice { .. })), "B16: the judged peer is told");
    assert_eq!(h.node.peer_state(S2), ServerState::Down);
    assert!(!h.node.is_gone());
}

#[test]
fn b36_ping_latest_round_unanswered_loses_self_isolated() {
    let mut h = formed(&ping2(), 0);
    probe(&mut h, true);
    probe(&mut h, false); // one failure: not failing yet, but the latest round found nobody
    h.clear();
    lose_s2_after(&mut h, 8_000);
    let out = h.fire(Timer::NpVerdict);
    assert_event(&out, E::NpLostSelfIsolated);
    assert_no_event(&out, E::NpResolvedPeerDown);
    assert_event(&out, E::EmergencyShutdown);
    assert_eq!(power(&out), Some(PowerAction::EmergencyShutdown));
    assert!(h.node.is_gone());
}

#[test]
fn b36_ping_pre_failed_is_unresolved_and_every_side_takes_over() {
    let mut h = formed(&ping2(), 0);
    for _ in 0..3 {
        probe(&mut h, false);
    }
    assert_event(&h.log, E::NpTargetDown);
    h.clear();
    lose_s2_after(&mut h, 15_000); // the partition starts after the resolver failed
    let out = h.fire(Timer::NpVerdict);
    assert_event(&out, E::NpUnresolved);
    assert_event(&out, E::NpResolvedPeerDown);
    assert!(power(&out).is_none() && !h.node.is_gone());
}

#[test]
fn b35_without_resolver_a_lost_peer_is_unresolved_and_judged_down() {
    let text = cluster_toml(2, "", &["lan1"]);
    let mut h = formed(&text, 0);
    h.clear();
    lose_s2_after(&mut h, 5_000);
    let out = h.fire(Timer::NpVerdict);
    assert_event(&out, E::NpUnresolved);
    assert_event(&out, E::NpResolvedPeerDown);
    assert_eq!(timer_set(&out, Timer::Takeover), Some(38_000), "T = D + W + interval, W = 0 with two servers");
}

#[test]
fn b42_majority_two_of_three_survives() {
    let (h, out) = majority_verdict(3, 1, &[S1]);
    assert_eq!(event(&out, E::NpResolvedPeerDown).peer, Some(S3));
    assert!(!h.node.is_gone());
}

#[test]
fn b42_majority_one_of_three_loses_as_minority() {
    let (h, out) = majority_verdict(3, 0, &[]);
    assert_event(&out, E::NpLostMinority);
    assert_no_event(&out, E::NpResolvedPeerDown);
    assert_eq!(power(&out), Some(PowerAction::EmergencyShutdown));
    assert!(h.node.is_gone());
}

#[test]
fn b42_majority_exact_half_survives_with_the_first_server() {
    let (h, out) = majority_verdict(4, 0, &[S2]);
    assert_eq!(count(&out, E::NpResolvedPeerDown), 2);
    assert_no_event(&out, E::NpLostTieBreak);
    assert!(!h.node.is_gone());
}

#[test]
fn b42_majority_exact_half_without_the_first_server_loses_the_tie_break() {
    let (h, out) = majority_verdict(4, 2, &[S4]);
    assert_event(&out, E::NpLostTieBreak);
    assert_no_event(&out, E::NpResolvedPeerDown);
    assert!(h.node.is_gone());
}

#[test]
fn b34_b44_disk_unit_verdict_after_the_disk_window_and_takeover_after_it() {
    let text = cluster_toml(2, "", &["lan1"]) + "\n[[np]]\nname = \"disk1\"\nkind = \"disk\"\ndevice = \"/dev/sdc1\"\n";
    let mut h = formed(&text, 0);
    h.clear();
    let lost = lose_s2_after(&mut h, 5_000);
    // Disk mode: V = D + 2 × max(heartbeat_timeout, io_wait) = 35 000 + 160 000.
    assert_eq!(timer_set(&lost, Timer::NpVerdict), Some(195_000));
    let out = h.fire(Timer::NpVerdict);
    assert_eq!(event(&out, E::NpResolvedPeerDown).peer, Some(S2), "no slot changed: the peer is dead");
    assert_eq!(timer_set(&out, Timer::Takeover), Some(198_000), "T = D + W + interval, W = the disk window");
}

#[test]
fn b44_at_takeover_the_coordinator_starts_the_lost_peers_groups_not_before() {
    let mut h = formed(&ping2(), 0);
    let g2 = h.g("g2");
    h.settle();
    probe(&mut h, true);
    h.at(2_000);
    h.share(S2, ServerState::Online, vec![(g2, GroupState::Online)]);
    h.clear();
    lose_s2_after(&mut h, 5_000);
    let verdict = h.fire(Timer::NpVerdict);
    assert_no_event(&verdict, E::GroupStarting);
    assert!(activated(&verdict).is_empty(), "nothing is activated before T");
    let out = h.fire(Timer::Takeover);
    assert_eq!(h.now, 38_000, "T = D + interval: two servers settle 0 (B34, B44)");
    assert!(has_for_group(&out, E::GroupFailover, g2), "{:?}", kinds(&out));
    assert_eq!(activated(&out), vec![h.r("ip2")]);
    assert_eq!(event(&out, E::ServerFailedOver).peer, Some(S2));
}

#[test]
fn b47_peer_lost_at_d_is_not_an_eligible_target_before_the_verdict() {
    let mut h = formed(&ping2(), 0);
    h.settle();
    probe(&mut h, true);
    lose_s2_after(&mut h, 5_000);
    let g3 = h.g("g3");
    let on_lost = h.cmd(Command::GroupStart { group: g3, on: Some(S2) });
    assert!(reply(&on_lost).is_err(), "server2 was lost at D");
    assert_event(&on_lost, E::CommandRefused);
    let default = h.cmd(Command::GroupStart { group: g3, on: None });
    assert_eq!(reply(&default), Ok(()));
    assert!(has_for_group(&default, E::GroupStarting, g3), "the default target skips server2: starts here");
}

#[test]
fn b32_resolver_failing_only_after_the_partition_start_is_not_pre_failed() {
    let mut h = formed(&ping2(), 0);
    h.at(8_000);
    h.hb_all(S2); // the partition starts at server2's last heartbeat, t = 8 000
    for _ in 0..3 {
        probe(&mut h, false); // t = 8 000, 13 000, 18 000: failing from 18 000 on
    }
    assert_event(&h.log, E::NpTargetDown);
    h.clear();
    h.fire(Timer::Liveness);
    let lost = h.fire(Timer::Liveness);
    assert_eq!(h.now, 38_000);
    assert_event(&lost, E::ServerLost);
    let out = h.fire(Timer::NpVerdict);
    assert_no_event(&out, E::NpUnresolved);
    assert_event(&out, E::NpLostSelfIsolated);
    assert!(h.node.is_gone());
}

#[test]
fn b34_peers_lost_before_the_verdict_join_the_same_resolution() {
    let text = cluster_toml(3, "", &["lan1"]);
    let mut h = formed(&text, 0);
    h.clear();
    h.at(2_000);
    h.hb_all(S3); // server2 falls silent after t = 1, server3 after t = 2 000
    let first = h.fire(Timer::Liveness);
    assert_eq!(event(&first, E::ServerLost).peer, Some(S2));
    assert_eq!(h.timer(Timer::NpVerdict), Some(33_001), "V = D + interval, D = 30 001");
    let second = h.fire(Timer::Liveness);
    assert_eq!(h.now, 32_000);
    assert_eq!(event(&second, E::ServerLost).peer, Some(S3), "lost before V");
    assert_no_event(&second, E::NpResolutionStarted);
    assert_eq!(h.timer(Timer::NpVerdict), Some(33_001), "V unchanged");
    let verdict = h.fire(Timer::NpVerdict);
    let down: Vec<_> = events(&verdict).iter().filter(|e| e.kind == E::NpResolvedPeerDown).map(|e| e.peer).collect();
    assert_eq!(down, vec![Some(S2), Some(S3)]);
    assert_eq!(count(&h.log, E::NpResolutionStarted), 1);
}

#[test]
fn b55_group_in_error_on_a_judged_down_server_is_not_taken_over() {
    let mut h = formed(&ping2(), 0);
    let g2 = h.g("g2");
    h.settle();
    probe(&mut h, true);
    h.at(2_000);
    h.share(S2, ServerState::Online, vec![(g2, GroupState::Error)]);
    h.clear();
    lose_s2_after(&mut h, 5_000);
    h.fire(Timer::NpVerdict);
    let out = h.fire(Timer::Takeover);
    assert!(!has_for_group(&out, E::GroupFailover, g2), "B55 concerns groups online, starting or stopping");
    assert!(activated(&out).is_empty());
}

#[test]
fn b44_the_survivor_probes_the_lost_peers_floating_ips_during_the_margin_and_activates_at_t() {
    let mut h = formed(&ping2(), 0);
    let g2 = h.g("g2");
    h.settle();
    probe(&mut h, true);
    h.at(2_000);
    h.share(S2, ServerState::Online, vec![(g2, GroupState::Online)]);
    h.clear();
    lose_s2_after(&mut h, 5_000);
    let verdict = h.fire(Timer::NpVerdict);
    assert_eq!(h.now, 35_000);
    // At V the probe of g2's address starts, for the margin up to T = V + 3 s (B44).
    let ip2 = h.r("ip2");
    let probes: Vec<&Action> = verdict
        .iter()
        .filter_map(|o| if let Output::Execute { action, .. } = o { Some(action) } else { None })
        .filter(|a| matches!(a, Action::AddressProbe { .. }))
        .collect();
    assert_eq!(probes, vec![&Action::AddressProbe { res: ip2, margin_ms: 3_000 }], "{:?}", kinds(&verdict));
    assert!(activated(&verdict).is_empty(), "nothing is added before T");
    // The probe answers at T + window; the activation at T does not wait for it.
    let out = h.fire(Timer::Takeover);
    assert_eq!(h.now, 38_000);
    assert_eq!(activated(&out), vec![ip2]);
    let id = h.find_action(|a| matches!(a, Action::AddressProbe { .. })).expect("the probe still runs");
    let done = h.done(id, ActionResult::Probe(ProbeResult::Answered(false)));
    assert!(activated(&done).is_empty() && power(&done).is_none());
}

#[test]
fn b44_a_loser_starts_no_margin_probe() {
    let mut h = formed(&ping2(), 0);
    let g2 = h.g("g2");
    probe(&mut h, true);
    probe(&mut h, false); // the latest round found nobody: this server loses (B36)
    h.at(8_000);
    h.share(S2, ServerState::Online, vec![(g2, GroupState::Online)]);
    h.clear();
    lose_s2_after(&mut h, 8_000);
    let out = h.fire(Timer::NpVerdict);
    assert_event(&out, E::NpLostSelfIsolated);
    assert!(!out.iter().any(|o| matches!(o, Output::Execute { action: Action::AddressProbe { .. }, .. })));
}

#[test]
fn b34_b35_peers_found_lost_together_after_their_verdict_was_due_are_all_judged() {
    // Generated seed 2975 (family AS): server2 and server3 crashed while waiting in the
    // start-up synchronisation (waiting peers are not watched, B13); server1 formed at
    // sync_wait counting them and then found both lost at once, their silence long past.
    // server2's resolution was due at once (V already behind); server3's loss replaced
    // it, so server2 stayed lost and never judged, and the group handed to it at the
    // formation was never taken over.
    let text =
        cluster_toml(3, "sync_wait = \"2m\"", &["lan1"]) + &group_toml("g1", &[2, 1, 3], "") + &fip_toml("ip1", 11);
    let mut h = H::new(&text, 0); // server1
    h.boot(None);
    h.at(1);
    for p in [S2, S3] {
        h.hello(p, ServerState::Syncing);
        h.share(p, ServerState::Syncing, vec![]);
    }
    let mut out = h.fire(Timer::SyncWait);
    out.extend(h.run_until(200_000, |t| matches!(t, Timer::Liveness | Timer::NpVerdict | Timer::Takeover)));
    let judged: Vec<_> =
        events(&out).iter().filter(|e| e.kind == E::NpResolvedPeerDown).filter_map(|e| e.peer).collect();
    assert!(judged.contains(&S2) && judged.contains(&S3), "both judged down: {judged:?} {:?}", kinds(&out));
    assert!(h.node.groups[h.g("g1").idx()].state != GroupState::Offline, "g1 taken over here: {:?}", kinds(&out));
}

#[test]
fn b55_a_start_in_transit_from_a_server_judged_down_is_taken_over_at_t() {
    // Generated seed 17191 (family AT): server3's monitor failover (B83.4) handed g1 to
    // server2, which froze at that moment and was reset by its watchdog; server3 then
    // lost its own resolution and fenced. The start lived only in server3's transit
    // check: judged down holding nothing, server3's takeover placed nothing, and g1
    // stayed offline for good.
    let text = cluster_toml(3, "", &["lan1"]) + &group_toml("g1", &[3, 2, 1], "") + &fip_toml("ip1", 11);
    let mut h = H::new(&text, 0); // server1
    h.boot(None);
    h.at(1);
    let g1 = h.g("g1");
    h.hello(S2, ServerState::Online);
    h.share(S2, ServerState::Online, vec![]);
    h.hello(S3, ServerState::Online);
    h.share_with(S3, ServerState::Online, |s| s.in_transit = vec![g1]);
    assert_eq!(h.node.reported_state(), ServerState::Online, "joined: {:?}", kinds(&h.log));
    let out = h.run_until(200_000, |t| matches!(t, Timer::Liveness | Timer::NpVerdict | Timer::Takeover));
    assert!(has_for_group(&out, E::GroupFailover, g1), "{:?}", kinds(&out));
}
