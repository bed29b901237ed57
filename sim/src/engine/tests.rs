//! Tests of the event loop's own rules: stalls and the user-space watchdog (B19, B87).
//!
//! In: inline scenarios on `examples/configs/2node-ping.toml` (heartbeat_timeout 30 s).
//! Out: assertions on the timeline.

use crate::scenario;
use baton_core::EventKind;
use std::path::Path;
use std::sync::Arc;

/// Plays `steps` (scenario lines after the `config` line) on 2node-ping.
fn play(steps: &str) -> crate::Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs/2node-ping.toml");
    let text = std::fs::read_to_string(&path).expect("2node-ping.toml");
    let cfg = baton_core::config::parse("2node-ping.toml", &text).expect("valid config").config;
    let sc = scenario::parse("t.scenario", &format!("config c.toml\n{steps}")).expect("valid scenario");
    crate::play(&sc, Arc::new(cfg), 1)
}

fn stall_instants(r: &crate::Report) -> Vec<u64> {
    r.timeline.iter().filter(|e| e.event.kind == EventKind::UserSpaceStall).map(|e| e.at_ms).collect()
}

#[test]
fn back_to_back_stalls_are_one_freeze_timed_from_the_last_heartbeat_before_it() {
    // 2m..2m44s frozen by two 29 s stalls, each below the limit. The service kicks its
    // watchdog at each heartbeat tick (every 3 s from its start at 1m, B87): the last
    // before the freeze was at 1m57s, and the peer's heartbeat timeout runs from the
    // heartbeat sent then, so the watchdog trips 30 s after it, not after 2m (family AJ).
    let r = play("at 0s boot all\nat 2m stall server1 29s\nat 2m15s stall server1 29s\nat 4m expect group failover1 online on server2\n");
    assert_eq!(stall_instants(&r), [147_000], "the watchdog trips 30 s after the last kick");
    assert!(r.passed(), "{}", r.text());
}

#[test]
fn a_stall_below_the_limit_trips_nothing_and_separate_stalls_do_not_add_up() {
    // 20 s freezes: with the up to 3 s since the last heartbeat tick, still below 30 s.
    let r = play("at 0s boot all\nat 2m stall server1 20s\nat 2m20s stall server1 20s\nat 4m expect group failover1 online on server1\n");
    // 2m20s: the first freeze ended at that instant; the second starts afresh.
    assert_eq!(stall_instants(&r), Vec::<u64>::new());
    assert!(r.passed(), "{}", r.text());
}

#[test]
fn a_long_single_stall_trips_the_watchdog_at_the_limit() {
    let r = play("at 0s boot all\nat 2m stall server1 45s\nat 4m expect group failover1 online on server2\n");
    assert_eq!(stall_instants(&r), [147_000], "30 s after the last heartbeat tick, 1m57s");
    assert!(r.passed(), "{}", r.text());
}

#[test]
fn a_freeze_shorter_than_the_timeout_but_longer_since_the_last_heartbeat_trips_the_watchdog() {
    // 29 s from 1m59s to 2m28s: 31 s after the last heartbeat tick (1m57s). The peer judges
    // server1 lost 30 s after that heartbeat; the watchdog must act by then (B87, AJ).
    let r = play("at 0s boot all\nat 1m59s stall server1 29s\nat 4m expect group failover1 online on server2\n");
    assert_eq!(stall_instants(&r), [147_000]);
    assert!(r.passed(), "{}", r.text());
}

// ---- invariant 4: start_after (B54) ----------------------------------------------

/// A simulator on `tests/configs/s5-start-after.toml`, booted and run to 3 min: db
/// online on server1, app on server2 (dep waits for base, a manual group).
fn start_after_world() -> crate::engine::Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/configs/s5-start-after.toml");
    let text = std::fs::read_to_string(&path).expect("s5-start-after.toml");
    let cfg = Arc::new(baton_core::config::parse("s5-start-after.toml", &text).expect("valid config").config);
    let mut sim = crate::engine::Sim::new(cfg.clone(), crate::scenario::Knobs::default(), 1);
    for s in cfg.server_ids() {
        sim.power_on(s);
    }
    while sim.run_until(180_000).is_some() {}
    sim
}

fn sid(sim: &crate::engine::Sim, name: &str) -> baton_core::config::ServerId {
    sim.cfg().server_id(name).expect("server")
}

fn starting(sim: &crate::engine::Sim, group: &str) -> baton_core::Event {
    baton_core::Event::new(EventKind::GroupStarting).group(sim.cfg().group_id(group).expect("group"))
}

#[test]
fn invariant_4_a_dependant_starting_while_the_group_it_names_is_not_online_is_a_breach() {
    let mut sim = start_after_world();
    assert!(sim.breaches.is_empty(), "{:?}", sim.breaches);
    let (s1, s2) = (sid(&sim, "server1"), sid(&sim, "server2"));
    // db is online on server1: a start of app is fine.
    let e = starting(&sim, "app");
    sim.record(s2, e);
    assert!(sim.breaches.is_empty(), "{:?}", sim.breaches);
    // server1 shuts down and db's failover to server2 fails: db is online nowhere, and
    // server2 (which saw server1 depart) does not believe otherwise.
    let dbx = sim.cfg().resource_id("dbx").expect("dbx");
    sim.world.fail_activation.insert((dbx, s2), None);
    sim.handle(s1, baton_core::Input::ShutdownRequested);
    while sim.run_until(240_000).is_some() {}
    assert!(sim.breaches.is_empty(), "{:?}", sim.breaches);
    let e = starting(&sim, "app");
    sim.record(s2, e);
    let text = sim.breaches.first().map(|b| b.text.clone()).unwrap_or_default();
    assert_eq!(text, "invariant 4 (start_after, B54): group app started on server2 while db is not online");
}

#[test]
fn invariant_4_a_group_stopping_before_its_dependant_on_a_departing_server_is_a_breach() {
    let mut sim = start_after_world();
    let s1 = sid(&sim, "server1");
    let words: Vec<String> = ["group", "start", "base"].iter().map(|w| w.to_string()).collect();
    let cmd = baton_core::Command::parse_words(&words, sim.cfg()).expect("command");
    sim.command(s1, cmd);
    while sim.run_until(240_000).is_some() {}
    let node = sim.world.machines[s1.idx()].node.as_ref().expect("server1 runs");
    let dep = sim.cfg().group_id("dep").expect("dep");
    assert_eq!(node.group_state(dep), baton_core::io::GroupState::Online);
    // server1 shuts down: dep (which names base) stops first, as the core does.
    sim.handle(s1, baton_core::Input::ShutdownRequested);
    assert!(sim.breaches.is_empty(), "{:?}", sim.breaches);
    // base beginning to stop while dep still runs there breaks the stop order.
    let base = sim.cfg().group_id("base").expect("base");
    sim.record(s1, baton_core::Event::new(EventKind::GroupStopping).group(base));
    let text = sim.breaches.first().map(|b| b.text.clone()).unwrap_or_default();
    assert!(text.starts_with("invariant 4 (start_after, B54): group base stopping on server1 before dep"), "{text}");
}

/// A start decided while the state saying the named group stops is still on its way
/// to the starting server is judged on that server's latest news (generated seed
/// 3870: the holder began a departure the instant after sending the start); once the
/// state has arrived, the same start is a breach.
#[test]
fn invariant_4_a_start_decided_before_the_named_group_stop_arrives_is_judged_on_the_news() {
    let mut sim = start_after_world();
    let (s1, s2) = (sid(&sim, "server1"), sid(&sim, "server2"));
    sim.handle(s1, baton_core::Input::ShutdownRequested);
    let db = sim.cfg().group_id("db").expect("db");
    let n1 = sim.world.machines[s1.idx()].node.as_ref().expect("server1 runs");
    assert_ne!(n1.group_state(db), baton_core::io::GroupState::Online, "db stops at once on server1");
    let e = starting(&sim, "app");
    sim.record(s2, e);
    assert!(sim.breaches.is_empty(), "server2 has not heard yet: {:?}", sim.breaches);
    let until = sim.now + 2 * sim.knobs.network_latency_ms;
    while sim.run_until(until).is_some() {}
    let n2 = sim.world.machines[s2.idx()].node.as_ref().expect("server2 runs");
    assert!(!n2.sees_group_online(db, s1), "the state has arrived");
    let e = starting(&sim, "app");
    sim.record(s2, e);
    let text = sim.breaches.first().map(|b| b.text.clone()).unwrap_or_default();
    assert_eq!(text, "invariant 4 (start_after, B54): group app started on server2 while db is not online");
}

// ---- crash points (docs/event-log.md § "Persist before acting") -------------------

/// 2node-ping booted and run to 2 min (failover1 online on server1), then a crash
/// point armed on server1 and `group move failover1 server2` given there: a step that
/// emits, persists, starts a stop script and replies. Returns the simulator after
/// that step, the command id and server1's id.
fn move_with_crash_point(point: scenario::CrashPoint) -> (crate::engine::Sim, baton_core::io::CommandId) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs/2node-ping.toml");
    let text = std::fs::read_to_string(&path).expect("2node-ping.toml");
    let cfg = Arc::new(baton_core::config::parse("2node-ping.toml", &text).expect("valid config").config);
    let mut sim = crate::engine::Sim::new(cfg.clone(), scenario::Knobs::default(), 1);
    sim.happen(&scenario::Stmt::Boot(scenario::Target::All));
    while sim.run_until(120_000).is_some() {}
    let s1 = sid(&sim, "server1");
    let failover1 = cfg.group_id("failover1").expect("group");
    let node = sim.world.machines[s1.idx()].node.as_ref().expect("server1 runs");
    assert_eq!(node.group_state(failover1), baton_core::io::GroupState::Online);
    // Armed at the instant of the command: the command's step is the next one (resolver
    // and monitor checks are actions too, and would take the point otherwise).
    sim.happen(&scenario::Stmt::CrashAt { server: "server1".into(), point });
    let words: Vec<String> = ["group", "move", "failover1", "--to", "server2"].iter().map(|w| w.to_string()).collect();
    let cmd = baton_core::Command::parse_words(&words, sim.cfg()).expect("command");
    let id = sim.command(s1, cmd);
    (sim, id)
}

#[test]
fn crash_after_persist_keeps_the_steps_state_and_events_but_none_of_its_acts() {
    let (sim, id) = move_with_crash_point(scenario::CrashPoint::AfterPersist);
    let s1 = sid(&sim, "server1");
    let m = &sim.world.machines[s1.idx()];
    assert_eq!(m.power, crate::world::Power::Off, "the power went at the step");
    assert_eq!(m.crash_point, None, "a crash point fires once");
    // Durable: the event of the step is in server1's log (the timeline).
    assert!(sim
        .timeline
        .iter()
        .any(|e| e.server == s1 && e.at_ms == sim.now && e.event.kind == EventKind::GroupStopping));
    assert!(m.disk.as_ref().is_some_and(|d| d.groups_online.len() == 1), "the disk holds the stopping group");
    // Not done: the stop script and the reply.
    assert!(!sim.scripts.iter().any(|r| r.server == s1 && !r.start), "no stop script ran");
    assert!(!sim.replies.contains_key(&id), "no reply left the server");
}

#[test]
fn crash_before_next_carries_out_the_steps_acts_then_loses_the_power() {
    let (sim, id) = move_with_crash_point(scenario::CrashPoint::BeforeNext);
    let s1 = sid(&sim, "server1");
    assert_eq!(sim.world.machines[s1.idx()].power, crate::world::Power::Off);
    assert!(sim.scripts.iter().any(|r| r.server == s1 && !r.start && r.at_ms == sim.now), "the stop script ran");
    assert_eq!(sim.replies.get(&id), Some(&Ok(())), "the reply left the server");
}

#[test]
fn a_crash_point_then_boot_is_a_crash_and_a_takeover() {
    let r = play(
        "at 0s boot all\nat 2m crash server1 after-persist\nat 2m10s cmd group move failover1 --to server2\n\
         at 3m expect server server1 down\nat 3m boot server1\nat 5m expect group failover1 online on server2\n",
    );
    assert!(r.passed(), "{}", r.text());
}

// ---- the takeover margin's address probe (B44) -----------------------------------

#[test]
fn b44_the_margin_probe_is_answered_while_another_server_holds_the_floating_ip() {
    use crate::actions::Effect;
    use baton_core::io::{ActionResult, ProbeResult};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs/2node-ping.toml");
    let text = std::fs::read_to_string(&path).expect("2node-ping.toml");
    let cfg = Arc::new(baton_core::config::parse("2node-ping.toml", &text).expect("valid config").config);
    let mut sim = crate::engine::Sim::new(cfg.clone(), crate::scenario::Knobs::default(), 1);
    for s in cfg.server_ids() {
        sim.power_on(s);
    }
    while sim.run_until(120_000).is_some() {}
    let (s1, s2) = (sid(&sim, "server1"), sid(&sim, "server2"));
    let fip1 = cfg.resource_id("fip1").expect("fip1");
    let answered = |sim: &mut crate::engine::Sim, s| sim.apply_effect(s, Effect::Probed(fip1), ActionResult::Ok);
    // server1 holds the address: server2's probe hears it, server1's own does not.
    assert_eq!(answered(&mut sim, s2), ActionResult::Probe(ProbeResult::Answered(true)));
    assert_eq!(answered(&mut sim, s1), ActionResult::Probe(ProbeResult::Answered(false)));
    // Once server1 is gone (power loss releases the address), nobody answers.
    sim.world.release_all(s1, 120_000);
    assert_eq!(answered(&mut sim, s2), ActionResult::Probe(ProbeResult::Answered(false)));
}
