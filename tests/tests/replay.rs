//! Event-log replay reproduces a run: for random fault schedules on the example
//! configurations, every server's logged inputs, replayed through a fresh `Node` per
//! run, give exactly the logged outputs, and the replayed final state has the same
//! digest as the live node's.

use baton_core::record::LogRecord;
use baton_core::replay::{replay, ReplayError};
use baton_tests::{fault, load, play_traced, root};
use proptest::prelude::*;

fn config(name: &str) -> (String, String) {
    let path = root().join("examples/configs").join(name);
    (name.to_string(), std::fs::read_to_string(path).expect("example config"))
}

fn numbered(records: &[LogRecord]) -> Vec<(u64, LogRecord)> {
    records.iter().cloned().enumerate().map(|(i, r)| (i as u64 + 1, r)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replay_reproduces_outputs_and_state(
        which in 0usize..3,
        faults in prop::collection::vec(fault(), 1..10),
        gap in 5_000u64..60_000,
        seed in any::<u64>(),
    ) {
        let name = ["2node-ping.toml", "3node-majority.toml", "2node-mirror.toml"][which];
        let cfg = load(name);
        let sim = play_traced(cfg.clone(), &faults, gap, seed, Some(config(name)));
        prop_assert!(!sim.traces.is_empty());
        for (i, records) in sim.traces.iter().enumerate() {
            let summary = replay(numbered(records)).map_err(|e| TestCaseError::fail(format!("server {}: {e}", i + 1)))?;
            let live = sim.world.machines[i].node.as_ref().filter(|n| !n.is_gone());
            if let Some(node) = live {
                prop_assert_eq!(summary.final_digest, node.digest(), "server {} final state", i + 1);
            }
        }
    }
}

#[test]
fn a_changed_output_is_reported_as_the_first_divergence() {
    let name = "2node-ping.toml";
    let cfg = load(name);
    let sim = play_traced(cfg, &[baton_tests::Fault::Crash(0)], 60_000, 1, Some(config(name)));
    let mut records = numbered(&sim.traces[1]);
    // Forge one emitted event in the middle of server2's log.
    let victim = records.iter().position(|(_, r)| matches!(r, LogRecord::Output { output: baton_core::Output::Emit(e), .. } if e.kind == baton_core::EventKind::GroupFailover)).expect("server2 fails the group over");
    let seq = records[victim].0;
    if let LogRecord::Output { output: baton_core::Output::Emit(e), .. } = &mut records[victim].1 {
        e.kind = baton_core::EventKind::GroupMoved;
    }
    match replay(records) {
        Err(ReplayError::Divergence { seq: s, .. }) => assert_eq!(s, seq),
        other => panic!("expected a divergence at {seq}, got {other:?}"),
    }
}
