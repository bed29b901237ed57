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
fn back_to_back_stalls_are_one_freeze_timed_from_its_start() {
    // 2m..2m44s frozen by two 29 s stalls, each below the limit.
    let r = play("at 0s boot all\nat 2m stall server1 29s\nat 2m15s stall server1 29s\nat 4m expect group failover1 online on server2\n");
    assert_eq!(stall_instants(&r), [150_000], "the watchdog trips 30 s after the freeze began");
    assert!(r.passed(), "{}", r.text());
}

#[test]
fn a_stall_below_the_limit_trips_nothing_and_separate_stalls_do_not_add_up() {
    let r = play("at 0s boot all\nat 2m stall server1 20s\nat 2m20s stall server1 20s\nat 4m expect group failover1 online on server1\n");
    // 2m20s: the first freeze ended at that instant; the second starts afresh.
    assert_eq!(stall_instants(&r), Vec::<u64>::new());
    assert!(r.passed(), "{}", r.text());
}

#[test]
fn a_long_single_stall_trips_the_watchdog_at_the_limit() {
    let r = play("at 0s boot all\nat 2m stall server1 45s\nat 4m expect group failover1 online on server2\n");
    assert_eq!(stall_instants(&r), [150_000]);
    assert!(r.passed(), "{}", r.text());
}
