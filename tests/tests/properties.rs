//! Properties of the core under random fault schedules, checked in the simulator:
//! - no invariant of scenario.md ever breaks (nothing online twice, no stale mirror);
//! - a group is only ever started on a server of its policy;
//! - a reactivation counter never passes its threshold within one counting period;
//! - after the faults are healed and every server is back, every `startup = auto`
//!   group that was online is online on exactly one server (liveness).
//!
//! Fault kinds are those that never make split brain a documented outcome on these
//! configurations (no partitions with both sides reaching the ping target).

use baton_core::config::{Config, MonId, ServerId};
use baton_core::EventKind;
use baton_sim::engine::Sim;
use baton_tests::{fault, load, play, Fault};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn check(sim: &Sim, cfg: &Config) -> Result<(), TestCaseError> {
    prop_assert!(sim.breaches.is_empty(), "invariant breached: {:?}", sim.breaches);
    // Starts only inside the policy.
    for e in &sim.timeline {
        if e.event.kind == EventKind::GroupStarting {
            let g = e.event.group.expect("group-starting names its group");
            prop_assert!(
                cfg.group(g).policy.contains(&e.server),
                "{} started on {} outside its policy",
                cfg.group(g).name,
                cfg.server(e.server).name
            );
        }
    }
    // Reactivations per (monitor, server) within one counting period stay within the threshold.
    let mut count: BTreeMap<(MonId, ServerId), u32> = BTreeMap::new();
    for e in &sim.timeline {
        if e.event.kind == EventKind::ServiceStarted {
            count.retain(|(_, s), _| *s != e.server);
        } else if e.event.kind == EventKind::RecoveryCountersReset {
            if let Some(m) = e.event.monitor {
                count.remove(&(m, e.server));
            }
        } else if e.event.kind == EventKind::RecoveryReactivate {
            let m = e.event.monitor.expect("names its monitor");
            let c = count.entry((m, e.server)).or_insert(0);
            *c += 1;
            prop_assert!(
                *c <= cfg.monitor(m).reactivations,
                "monitor {} reactivated {} times on {} (threshold {})",
                cfg.monitor(m).name,
                c,
                cfg.server(e.server).name,
                cfg.monitor(m).reactivations
            );
        }
    }
    Ok(())
}

fn liveness(sim: &Sim, cfg: &Config) -> Result<(), TestCaseError> {
    for g in cfg.group_ids() {
        let online: Vec<ServerId> = cfg
            .server_ids()
            .filter(|s| {
                sim.world.machines[s.idx()]
                    .node
                    .as_ref()
                    .is_some_and(|n| !n.is_gone() && n.group_state(g) == baton_core::io::GroupState::Online)
            })
            .collect();
        prop_assert!(online.len() <= 1, "group {} online on {:?}", cfg.group(g).name, online);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn two_node_ping_under_random_faults(faults in prop::collection::vec(fault(), 1..12), gap in 5_000u64..90_000, seed in any::<u64>()) {
        let cfg = load("2node-ping.toml");
        let sim = play(cfg.clone(), &faults, gap, seed);
        check(&sim, &cfg)?;
        liveness(&sim, &cfg)?;
    }

    #[test]
    fn three_node_majority_under_random_faults(faults in prop::collection::vec(fault(), 1..12), gap in 5_000u64..90_000, seed in any::<u64>()) {
        let cfg = load("3node-majority.toml");
        let sim = play(cfg.clone(), &faults, gap, seed);
        check(&sim, &cfg)?;
        liveness(&sim, &cfg)?;
    }

    #[test]
    fn two_node_mirror_under_random_faults(faults in prop::collection::vec(fault(), 1..10), gap in 5_000u64..90_000, seed in any::<u64>()) {
        let cfg = load("2node-mirror.toml");
        let sim = play(cfg.clone(), &faults, gap, seed);
        check(&sim, &cfg)?;
        liveness(&sim, &cfg)?;
    }
}

#[test]
fn the_fault_player_really_runs_the_cluster() {
    // Guards the properties above against passing vacuously.
    let cfg = load("2node-ping.toml");
    let sim = play(cfg.clone(), &[Fault::Crash(0)], 60_000, 1);
    let count = |k: EventKind| sim.timeline.iter().filter(|e| e.event.kind == k).count();
    assert!(count(EventKind::GroupOnline) >= 2, "the group starts, then fails over");
    assert!(count(EventKind::ServerLost) >= 1);
    assert!(count(EventKind::ServerReturned) >= 1, "the crashed server is returned at the end");
}
