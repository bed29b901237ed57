//! Shared helpers for the end-to-end tests: where the repository's files are, and a
//! random fault player over the simulator (used by the property tests).

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Every `.scenario` file below `dir` (relative to the root), sorted.
pub fn scenarios(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "scenario"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

use baton_core::config::Config;
use baton_sim::engine::Sim;
use baton_sim::scenario::{Knobs, MonitorHealth, Stmt, Target};
use proptest::prelude::*;
use std::sync::Arc;

pub fn load(name: &str) -> Arc<Config> {
    let path = root().join("examples/configs").join(name);
    let text = std::fs::read_to_string(&path).expect("example config");
    Arc::new(baton_core::config::parse(name, &text).expect("valid").config)
}

/// One random fault, as indexes into the configuration.
#[derive(Clone, Debug)]
pub enum Fault {
    Crash(usize),
    Boot(usize),
    Shutdown(usize),
    Isolate(usize),
    HealAll,
    MonitorFail(usize, usize),
    MonitorOk(usize, usize),
    FailActivation(usize, usize),
    Move(usize),
    Return(usize),
}

pub fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0..8usize).prop_map(Fault::Crash),
        (0..8usize).prop_map(Fault::Boot),
        (0..8usize).prop_map(Fault::Shutdown),
        (0..8usize).prop_map(Fault::Isolate),
        Just(Fault::HealAll),
        (0..16usize, 0..8usize).prop_map(|(m, s)| Fault::MonitorFail(m, s)),
        (0..16usize, 0..8usize).prop_map(|(m, s)| Fault::MonitorOk(m, s)),
        (0..16usize, 0..8usize).prop_map(|(r, s)| Fault::FailActivation(r, s)),
        (0..8usize).prop_map(Fault::Move),
        (0..8usize).prop_map(Fault::Return),
    ]
}

pub fn stmt(cfg: &Config, f: &Fault) -> Stmt {
    let srv = |i: usize| cfg.servers[i % cfg.servers.len()].name.clone();
    match f {
        Fault::Crash(s) => Stmt::Crash { server: srv(*s) },
        Fault::Boot(s) => Stmt::Boot(Target::Server(srv(*s))),
        Fault::Shutdown(s) => Stmt::Shutdown { server: srv(*s) },
        Fault::Isolate(s) => Stmt::Isolate { server: srv(*s) },
        Fault::HealAll => Stmt::HealAll,
        Fault::MonitorFail(m, s) | Fault::MonitorOk(m, s) => Stmt::Monitor {
            monitor: cfg.monitors[m % cfg.monitors.len()].name.clone(),
            health: if matches!(f, Fault::MonitorFail(..)) { MonitorHealth::Fail } else { MonitorHealth::Ok },
            server: srv(*s),
        },
        Fault::FailActivation(r, s) => Stmt::FailActivation {
            resource: cfg.resources[r % cfg.resources.len()].name.clone(),
            server: srv(*s),
            times: Some(1),
        },
        Fault::Move(g) => Stmt::Cmd {
            on: None,
            words: vec!["group".into(), "move".into(), cfg.groups[g % cfg.groups.len()].name.clone()],
        },
        Fault::Return(s) => Stmt::Cmd { on: None, words: vec!["server".into(), "return".into(), srv(*s)] },
    }
}

/// Plays `faults` every `gap_ms` after the cluster formed, then heals and returns all.
pub fn play(cfg: Arc<Config>, faults: &[Fault], gap_ms: u64, seed: u64) -> Sim {
    play_traced(cfg, faults, gap_ms, seed, None)
}

/// As [`play`], keeping every server's log records when `trace` names the config.
pub fn play_traced(cfg: Arc<Config>, faults: &[Fault], gap_ms: u64, seed: u64, trace: Option<(String, String)>) -> Sim {
    let mut sim = Sim::new(cfg.clone(), Knobs::default(), seed);
    sim.trace_config = trace;
    sim.happen(&Stmt::Boot(Target::All));
    let mut t = 120_000;
    sim.run_until(t);
    for f in faults {
        sim.happen(&stmt(&cfg, f));
        t += gap_ms;
        sim.run_until(t);
        if !sim.breaches.is_empty() {
            return sim;
        }
    }
    // Heal everything and bring every server back.
    sim.happen(&Stmt::HealAll);
    for m in &cfg.monitors {
        for s in &cfg.servers {
            sim.happen(&Stmt::Monitor { monitor: m.name.clone(), health: MonitorHealth::Ok, server: s.name.clone() });
        }
    }
    sim.happen(&Stmt::Boot(Target::All));
    t += 3 * 60_000;
    sim.run_until(t);
    for s in &cfg.servers {
        sim.happen(&Stmt::Cmd { on: None, words: vec!["server".into(), "return".into(), s.name.clone()] });
        t += 30_000;
        sim.run_until(t);
    }
    sim
}
