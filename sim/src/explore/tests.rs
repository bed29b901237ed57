//! Tests of the explorer: determinism of the draw and the run, failures written as
//! scenarios that replay them, shrinking, and thread-count independence.
//!
//! In: the example configurations, and a two-server configuration without any
//! resolver written to a temporary directory (split brain on a partition, B43). Out:
//! assertions only.
//!
//! The artificial failure: a partition labelled with a kind that cannot split
//! (`FaultKind::Stall`), so the run does not allow split brain and the double start
//! that B43 documents becomes an invariant 1 breach, as a core bug would.

use super::*;
use crate::scenario::{Knobs, MonitorHealth, Stmt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn example(name: &str) -> (PathBuf, Arc<baton_core::Config>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs").join(name);
    let text = std::fs::read_to_string(&path).expect("example config");
    (path.clone(), Arc::new(baton_core::config::parse(&path.display().to_string(), &text).expect("valid").config))
}

const NO_NP: &str = r#"
[cluster]
name = "t"
heartbeat_interval = "3s"
heartbeat_timeout = "30s"
sync_wait = "1m"

[[server]]
name = "a"
addresses = { lan1 = "192.168.0.1" }

[[server]]
name = "b"
addresses = { lan1 = "192.168.0.2" }

[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1

[[group]]
name = "g"
servers = ["a", "b"]

[[group.resource]]
name = "app"
kind = "exec"
start = "start.sh"
stop = "stop.sh"

[[monitor]]
name = "appw"
kind = "process"
pidfile = "/run/app.pid"
active_with = "app"
recovery_target = "app"
"#;

/// A fresh directory holding the configuration without resolver.
fn temp_config(tag: &str) -> (PathBuf, PathBuf, Arc<baton_core::Config>) {
    let dir = std::env::temp_dir().join(format!("baton-explore-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("no-np.toml");
    std::fs::write(&path, NO_NP).expect("write config");
    let cfg = Arc::new(baton_core::config::parse("no-np.toml", NO_NP).expect("valid").config);
    (dir, path, cfg)
}

fn fault(kind: FaultKind, steps: Vec<(u64, Stmt)>) -> Fault {
    Fault { kind, steps }
}

/// One scenario statement, written as a user writes it, at `t` ms.
fn s(t: u64, text: &str) -> (u64, Stmt) {
    (t, crate::scenario::parse("t", &format!("config c\nat 1s {text}\n")).expect("stmt").steps[0].stmt.clone())
}

/// The split-brain partition (mislabelled, see the module doc) and irrelevant noise.
fn noisy_schedule() -> Vec<Fault> {
    let mon = |h| Stmt::Monitor { monitor: "appw".into(), health: h, server: "b".into() };
    let partition = Stmt::Partition { left: vec!["a".into()], right: vec!["b".into()] };
    vec![
        fault(FaultKind::Monitor, vec![(90_000, mon(MonitorHealth::Fail)), (95_000, mon(MonitorHealth::Ok))]),
        // Labelled as a kind that cannot split, like the partition.
        fault(FaultKind::Target, vec![(100_000, Stmt::Loss { network: "lan1".into(), percent: 0 })]),
        fault(FaultKind::Stall, vec![(120_000, partition), (400_000, Stmt::HealAll)]),
        fault(FaultKind::Stall, vec![(130_000, Stmt::Stall { server: "b".into(), duration_ms: 1_000 })]),
        fault(
            FaultKind::Write,
            vec![(140_000, Stmt::Monitor { monitor: "appw".into(), health: MonitorHealth::Ok, server: "a".into() })],
        ),
    ]
}

#[test]
fn same_seed_same_schedule_and_outcome() {
    let (_, cfg) = example("3node-hybrid.toml");
    let ctx = Ctx::new(cfg, Limits::default());
    for seed in [0, 7, 12345] {
        let (s1, r1) = explore_seed(&ctx, FaultKind::ALL, seed);
        let (s2, r2) = explore_seed(&ctx, FaultKind::ALL, seed);
        assert_eq!(s1, s2, "seed {seed}: the schedule is a function of the seed");
        assert!(!s1.faults.is_empty(), "seed {seed} draws faults");
        assert_eq!(r1.steps, r2.steps);
        assert_eq!((r1.end_ms, r1.inputs), (r2.end_ms, r2.inputs));
        assert_eq!(r1.failure.map(|f| f.sig), r2.failure.map(|f| f.sig));
        assert_eq!(r1.explained, r2.explained);
    }
    let (a, _) = explore_seed(&ctx, FaultKind::ALL, 1);
    let (b, _) = explore_seed(&ctx, FaultKind::ALL, 2);
    assert_ne!(a, b, "different seeds draw different schedules");
}

#[test]
fn fault_kinds_restrict_the_draw() {
    let (_, cfg) = example("2node-ping.toml");
    let ctx = Ctx::new(cfg, Limits::default());
    let only = FaultKind::parse_list("crash,monitor").expect("valid list");
    for seed in 0..20 {
        let (s, _) = explore_seed(&ctx, &only, seed);
        assert!(s.faults.iter().all(|f| only.contains(&f.kind)), "seed {seed}: {:?}", s.swarm);
    }
    assert!(FaultKind::parse_list("crash,meteor").is_err());
    assert_eq!(FaultKind::parse_list("all").expect("all"), FaultKind::ALL.to_vec());
    // A kind the configuration cannot use is never drawn (no serial resolver here).
    let (s, _) = explore_seed(&ctx, &[FaultKind::Serial, FaultKind::Crash], 3);
    assert!(s.faults.iter().all(|f| f.kind == FaultKind::Crash));
}

#[test]
fn split_prone_pairs_follow_the_resolver_units() {
    let facts = |n| ConfigFacts::new(&example(n).1);
    assert_eq!(facts("2node-ping.toml").split_prone.len(), 1, "ping lets both sides survive (B36)");
    assert!(facts("2node-shared-disk.toml").split_prone.is_empty(), "serial+disk fences one side (B40)");
    assert!(facts("3node-majority.toml").split_prone.is_empty(), "majority fences the minority (B42)");
    let majority = facts("3node-majority.toml");
    assert_eq!(majority.split_prone_cut.len(), 3, "a pair cut leaves both hearing the third (B42)");
    assert!(FaultKind::HbCut.allows_split(&majority) && !FaultKind::Partition.allows_split(&majority));
    assert!(facts("2node-shared-disk.toml").split_prone_cut.is_empty(), "two-server units have no third (B40)");
    assert_eq!(facts("3node-hybrid.toml").split_prone.len(), 3, "ping and ping+disk follow the ping rule (B41)");
    let (_, _, cfg) = temp_config("facts");
    assert_eq!(ConfigFacts::new(&cfg).split_prone.len(), 1, "no resolver (B43)");
}

#[test]
fn a_written_failure_replays_and_shrinks() {
    let (dir, path, cfg) = temp_config("write");
    let ctx = Ctx::new(cfg, Limits::default());
    let faults = noisy_schedule();
    let knobs = Knobs::default();
    let result = run::run(&ctx, 5, &faults, &knobs);
    let failure = result.failure.clone().expect("the unguarded partition breaks invariant 1");
    // The exec resource comes online on the second server just before the group does.
    assert_eq!(failure.sig, Signature::Invariant("invariant 1 (nothing online twice): exec app".into()));

    // The run written as a scenario replays the failure through the scenario player.
    let file = dir.join("full.scenario");
    let rel = relative_path(&dir, &path);
    assert_eq!(rel, PathBuf::from("no-np.toml"));
    std::fs::write(&file, scenario_of(&result, &rel.display().to_string()).to_string()).expect("write");
    let report = crate::run_file(&file, None).expect("the written scenario loads");
    assert_eq!(Signature::of_report(&report), Some(failure.sig.clone()));

    // Shrinking keeps only the partition.
    let small = shrink(&ctx, 5, faults.clone(), &knobs, &failure.sig, std::time::Duration::from_secs(60));
    assert_eq!(small.len(), 1, "{small:?}");
    assert!(matches!(small[0].steps[0].1, Stmt::Partition { .. }), "{small:?}");
    let small_run = run::run(&ctx, 5, &small, &knobs);
    assert_eq!(small_run.failure.map(|f| f.sig), Some(failure.sig.clone()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_allowed_split_is_a_documented_hazard() {
    // The same partition labelled as a splitting kind: split brain is allowed and
    // documented (B43). After the heal the group runs on one server again.
    let (dir, _, cfg) = temp_config("hazard");
    let ctx = Ctx::new(cfg, Limits::default());
    let mut faults = noisy_schedule();
    faults[2].kind = FaultKind::Partition;
    let result = run::run(&ctx, 5, &faults, &Knobs::default());
    assert!(result.allowed_split);
    assert_eq!(result.split_groups, vec!["g".to_string()]);
    assert!(result.mutual_verdict, "both sides judged the other down");
    assert!(result.failure.is_none(), "{:?}", result.failure);
    // A scenario of an allowed run expects the split brain, so the player allows it too.
    let sc = scenario_of(&result, "no-np.toml");
    assert!(sc.expects_split_brain());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn liveness_expectations_are_written_at_the_check_instant() {
    // A passing run with an artificial liveness failure attached (as if the group had
    // been found away from `b`): the written expectation fails under the player.
    let (dir, _, cfg) = temp_config("liveness");
    let ctx = Ctx::new(cfg, Limits::default());
    let faults: Vec<Fault> = noisy_schedule().into_iter().filter(|f| f.kind != FaultKind::Stall).collect();
    let mut result = run::run(&ctx, 9, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert!(result.explained.is_empty(), "{:?}", result.explained);
    let expect = crate::scenario::Expect::GroupOnline { group: "g".into(), server: "b".into() };
    let sig = Signature::Liveness(vec!["g".into()]);
    result.failure =
        Some(Failure { sig: sig.clone(), detail: String::new(), at_ms: result.check_ms, expects: vec![expect] });
    let file = dir.join("live.scenario");
    std::fs::write(&file, scenario_of(&result, "no-np.toml").to_string()).expect("write");
    let report = crate::run_file(&file, None).expect("loads");
    assert_eq!(report.end_ms, result.check_ms);
    assert_eq!(Signature::of_report(&report), Some(sig));
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!(report.outcomes[0].detail, "online on [a]");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn write_schedule_writes_both_files_and_replays_them() {
    let (dir, path, cfg) = temp_config("files");
    let ctx = Ctx::new(cfg, Limits::default());
    let out = dir.join("out");
    let w =
        write_schedule(&ctx, &path, 5, &noisy_schedule(), &Knobs::default(), &out, std::time::Duration::from_secs(60))
            .expect("written");
    assert!(w.reproduced, "{}", w.note);
    assert_eq!((w.happenings_full, w.happenings_min), (7, 1));
    assert_eq!(w.full, out.join("no-np-seed5.scenario"));
    let text = std::fs::read_to_string(&w.min).expect("shrunk file");
    assert!(text.starts_with("# Found by `baton sim explore"), "{text}");
    assert!(text.contains("config ../no-np.toml\nseed 5\n"), "{text}");
    assert!(text.contains("at 2m partition a | b\n"), "{text}");
    // Other seeds are not failures of this schedule's kind: write_failure redraws
    // the seed's own schedule and refuses a seed that passes.
    assert!(write_failure(&ctx, &path, &[FaultKind::Return], 1, &out, std::time::Duration::from_secs(5)).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jobs_do_not_change_the_summary() {
    let (_, cfg) = example("2node-mirror.toml");
    let ctx = Ctx::new(cfg, Limits::default());
    let opts = |jobs| Options { allowed: FaultKind::ALL.to_vec(), seed_start: 100, stop: Stop::Seeds(40), jobs };
    let one = explore(&ctx, &opts(1), &|_| {});
    let two = explore(&ctx, &opts(2), &|_| {});
    assert_eq!(one.seeds, 40);
    assert_eq!((one.first_seed, one.last_seed), (Some(100), Some(139)));
    assert_eq!(one, two);
    assert_eq!(one.text().lines().skip(3).collect::<Vec<_>>(), two.text().lines().skip(3).collect::<Vec<_>>());
}

#[test]
fn every_drawn_statement_passes_the_scenario_checker() {
    // What the explorer writes must load with `baton sim run`: names, devices,
    // targets and commands all exist in the configuration.
    for name in
        ["2node-ping.toml", "2node-mirror.toml", "2node-shared-disk.toml", "3node-hybrid.toml", "3node-majority.toml"]
    {
        let (_, cfg) = example(name);
        let ctx = Ctx::new(cfg.clone(), Limits::default());
        for seed in 0..30 {
            let (_, r) = explore_seed(&ctx, FaultKind::ALL, seed);
            let sc = scenario_of(&r, name);
            let text = sc.to_string();
            let parsed = crate::scenario::parse("x.scenario", &text).expect("the rendering parses");
            let errors = crate::scenario::check(&parsed, "x.scenario", &cfg);
            assert!(errors.is_empty(), "{name} seed {seed}: {errors:?}");
            assert_eq!(parsed.steps.len(), sc.steps.len());
        }
    }
}

#[test]
fn groups_stopped_by_an_all_groups_final_action_are_explained() {
    // B83.5: `recovery-final-action` of an all-groups monitor names no group; its
    // stop-group still leaves every group of the server offline until `group start`.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/configs/s8-all-groups-stop.toml");
    let text = std::fs::read_to_string(&path).expect("test config");
    let cfg = Arc::new(baton_core::config::parse(&path.display().to_string(), &text).expect("valid").config);
    let ctx = Ctx::new(cfg, Limits::default());
    let fail = Stmt::Monitor { monitor: "allstop".into(), health: MonitorHealth::Fail, server: "server1".into() };
    let faults = vec![fault(FaultKind::Monitor, vec![(180_000, fail)])];
    let result = run::run(&ctx, 3, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    let keys: Vec<(&str, &str)> = result.explained.iter().map(|(g, key, _)| (g.as_str(), *key)).collect();
    assert_eq!(keys, vec![("ag", "final action (B71, B83)"), ("bg", "final action (B71, B83)")]);
}

/// `tests/configs/s5-manual-failover.toml` (man: failover = "manual").
fn manual_failover() -> Arc<baton_core::Config> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/configs/s5-manual-failover.toml");
    let text = std::fs::read_to_string(&path).expect("s5-manual-failover.toml");
    Arc::new(baton_core::config::parse("s5-manual-failover.toml", &text).expect("valid").config)
}

#[test]
fn a_group_held_by_failover_manual_then_stopped_by_its_holder_is_explained() {
    // Seed 5 of s5-manual-failover, shrunk: server1 judges server2 down and holds man
    // (B55); server2, on its side of the cut, then shuts down and stops man. The
    // departure notice never reaches server1: man stays offline, as B55 wants.
    let ctx = Ctx::new(manual_failover(), Limits::default());
    let faults = vec![
        fault(FaultKind::Shutdown, vec![s(328_000, "shutdown server1")]),
        fault(FaultKind::Shutdown, vec![s(430_600, "cmd server shutdown server2 --reboot")]),
        fault(FaultKind::HbCut, vec![s(495_700, "cut public server1 server2")]),
        fault(FaultKind::Shutdown, vec![s(508_000, "boot server1")]),
        fault(FaultKind::HbCut, vec![s(582_800, "cut lan1 server2 server1")]),
        fault(FaultKind::Shutdown, vec![s(619_400, "shutdown server2")]),
    ];
    let result = run::run(&ctx, 5, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert!(
        result.explained.iter().any(|(g, key, _)| g == "man" && *key == "failover manual (B55)"),
        "{:?}",
        result.explained
    );
}

#[test]
fn a_group_stopped_by_the_departure_of_its_only_server_is_explained() {
    // Seed 593 of s5-manual-failover, shrunk: solo (policy server1 only) is stopped by
    // `server shutdown server1` while a partition keeps the departure notice from
    // server2. Nobody could take it (B55) and nobody starts it later (B56).
    let ctx = Ctx::new(manual_failover(), Limits::default());
    let faults = vec![
        fault(FaultKind::Partition, vec![s(496_300, "partition server2 | server1")]),
        fault(FaultKind::Shutdown, vec![s(661_100, "cmd server shutdown server1")]),
    ];
    let result = run::run(&ctx, 593, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert!(
        result.explained.iter().any(|(g, key, _)| g == "solo" && *key == "no target (B56)"),
        "{:?}",
        result.explained
    );
}

#[test]
fn a_failover_manual_group_stopped_by_its_server_s_departure_is_explained() {
    // Seed 3003 of s5-manual-failover, shrunk: man (failover = "manual") is stopped by
    // server1's OS shutdown while server2 is isolated and never hears the notice.
    let ctx = Ctx::new(manual_failover(), Limits::default());
    let faults = vec![
        fault(FaultKind::Shutdown, vec![s(393_800, "shutdown server1"), s(429_400, "boot server1")]),
        fault(FaultKind::Isolate, vec![s(418_800, "isolate server2")]),
        fault(FaultKind::Shutdown, vec![s(557_300, "shutdown server1")]),
    ];
    let result = run::run(&ctx, 3003, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert!(
        result.explained.iter().any(|(g, key, _)| g == "man" && *key == "failover manual (B55)"),
        "{:?}",
        result.explained
    );
}

#[test]
fn a_group_in_error_on_a_server_judged_down_then_stopped_by_its_shutdown_is_explained() {
    // Seed 106307 of 2node-ping, shrunk: failover1 ends in error on server1 (activation
    // final action none, B71); a cut makes server2 judge server1 down, which leaves it
    // (B55: error is not online, B61); server1 then shuts down and its departure notice
    // never reaches server2. Nothing starts it later on its own (B56).
    let (_, cfg) = example("2node-ping.toml");
    let ctx = Ctx::new(cfg, Limits::default());
    let faults = vec![
        fault(FaultKind::Activation, vec![s(243_600, "fail activation fip1 on server1 times 2")]),
        fault(FaultKind::Activation, vec![s(278_200, "fail activation fip1 on server2 times 1")]),
        fault(FaultKind::Monitor, vec![s(410_400, "monitor ipw1 fail on server1")]),
        fault(FaultKind::Monitor, vec![s(436_100, "monitor appw1 fail on server2")]),
        fault(FaultKind::HbCut, vec![s(519_700, "cut public server2")]),
        fault(FaultKind::HbCut, vec![s(625_600, "cut lan1 server2")]),
        fault(FaultKind::Shutdown, vec![s(713_300, "cmd server shutdown server1 --reboot")]),
    ];
    let result = run::run(&ctx, 106_307, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert!(
        result.explained.iter().any(|(g, key, _)| g == "failover1" && *key == "in error when judged down (B55, B56)"),
        "{:?}",
        result.explained
    );
}

#[test]
fn a_group_left_without_target_at_a_takeover_then_stopped_by_its_holder_is_explained() {
    // Seed 102855 of 2node-mirror, shrunk: a cut breaks md1 (server2 behind, B106); a
    // partition makes server2 judge server1 down and find no target for failover1
    // (B55, `group-no-target`). server1 then shuts down, stopping it; its departure
    // notice never reaches server2. Left offline by B55, not started later (B56).
    let (_, cfg) = example("2node-mirror.toml");
    let ctx = Ctx::new(cfg, Limits::default());
    let faults = vec![
        fault(FaultKind::HbCut, vec![s(360_100, "cut lan1 server1 server2")]),
        fault(FaultKind::Partition, vec![s(461_200, "partition server2 | server1")]),
        fault(FaultKind::Shutdown, vec![s(530_700, "shutdown server1")]),
    ];
    let result = run::run(&ctx, 102_855, &faults, &Knobs::default());
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert!(
        result.explained.iter().any(|(g, key, _)| g == "failover1" && *key == "no target (B56)"),
        "{:?}",
        result.explained
    );
}

/// A lone formation (B3, B4) explains a double start only when the server that formed
/// alone began starting the group before it met the other (issue 8, family AK): the
/// explorer now asks this of runs that allowed split brain too, so it must not name a
/// split whose start was decided knowing the other server, nor one whose "missing"
/// server had not started its service.
#[test]
fn a_lone_formation_explains_only_starts_decided_before_the_servers_met() {
    use baton_core::{Event, EventKind as E};
    let (dir, _, cfg) = temp_config("lone");
    let (a, b) = (cfg.server_id("a").expect("a"), cfg.server_id("b").expect("b"));
    let g = cfg.group_id("g").expect("g");
    let at = |at_ms, server, event| crate::engine::Emitted { at_ms, server, event };
    let timeline = |joined_ms: Option<u64>, b_started: bool| {
        let mut t = vec![at(60_000, a, Event::new(E::ServiceStarted))];
        if b_started {
            // b runs the group from its own start on.
            t.push(at(60_000, b, Event::new(E::ServiceStarted)));
            t.push(at(61_000, b, Event::new(E::GroupStarting).group(g)));
        }
        t.push(at(120_000, a, Event::new(E::StartupSyncTimeout).reason("missing: b")));
        if let Some(ms) = joined_ms {
            t.push(at(ms, a, Event::new(E::ServerJoined).peer(b)));
        }
        t.push(at(126_000, a, Event::new(E::GroupStarting).group(g)));
        t
    };
    let double = (130_000, g, "exec app online on b and a".to_string());
    let mut sim = crate::engine::Sim::new(cfg.clone(), Knobs::default(), 1);
    for (joined_ms, b_started, lone) in
        [(None, true, true), (Some(128_000), true, true), (Some(125_000), true, false), (None, false, false)]
    {
        sim.timeline = timeline(joined_ms, b_started);
        assert_eq!(hazard::formed_without_holder(&sim, &double), lone, "joined {joined_ms:?}, b started {b_started}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
