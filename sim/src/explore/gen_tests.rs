//! Tests of configuration generation: every drawn configuration passes the checker,
//! the same seed gives the same file and the same exploration whatever the thread
//! count, every feature appears over some seeds, and configuration shrinking keeps
//! what it is asked to keep while every step stays valid.
//!
//! In: seeds only. Out: assertions. The shrinking test uses a test double for "the
//! run still fails": a property of the configuration itself (it holds an async
//! hybrid disk), so the test does not depend on a core bug staying unfixed.

use super::gen_run::{explore_generated, generated_ctx};
use super::gen_shrink::candidates;
use super::gen_spec::{Combo, MonKind, Policy, ResKind, Spec};
use super::gen_write::{faults_for, shrink_spec};
use super::generate::{check, draw_spec, generate};
use super::{draw, FaultKind, Limits, Options, Stop};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[test]
fn every_generated_configuration_passes_the_checker() {
    let mut bad = Vec::new();
    for seed in 0..4000u64 {
        if let Err(problems) = generate(seed) {
            bad.push(format!("seed {seed}: {}\n{}", problems.join("\n  "), draw_spec(seed).render()));
        }
    }
    assert!(bad.is_empty(), "{} of 4000 seeds refused; first:\n{}", bad.len(), bad[0]);
}

#[test]
fn the_same_seed_gives_the_same_file_and_schedule() {
    for seed in [0u64, 1, 17, 999, 123_456_789] {
        let (_, a, ctx_a) = generated_ctx(seed, &Limits::default()).expect("valid");
        let (_, b, ctx_b) = generated_ctx(seed, &Limits::default()).expect("valid");
        assert_eq!(a, b, "seed {seed}");
        let sa = draw(&ctx_a.cfg, &ctx_a.facts, FaultKind::ALL, seed, &ctx_a.limits);
        let sb = draw(&ctx_b.cfg, &ctx_b.facts, FaultKind::ALL, seed, &ctx_b.limits);
        assert_eq!(sa, sb, "seed {seed}");
    }
    let texts: BTreeSet<String> = (0..20u64).map(|s| draw_spec(s).render()).collect();
    assert!(texts.len() == 20, "seeds draw different configurations");
}

#[test]
fn generated_exploration_does_not_depend_on_threads() {
    let run = |jobs| {
        let opts = Options { allowed: FaultKind::ALL.to_vec(), seed_start: 500, stop: Stop::Seeds(24), jobs };
        explore_generated(&opts, &Limits::default(), &|_| {})
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    assert_eq!(one.configs, 24);
}

/// Every feature the generator knows, as found in the specs of many seeds.
fn features(spec: &Spec, out: &mut BTreeSet<String>) {
    out.insert(format!("{} servers", spec.servers.len()));
    if spec.units.is_empty() {
        out.insert("np none".into());
    }
    for u in &spec.units {
        out.insert(format!("np {}", u.combo.name()));
        out.insert(format!("np servers {}", if u.servers.is_some() { "subset" } else { "all" }));
    }
    for (_, hb) in &spec.heartbeats {
        out.insert(format!("hb {}", if matches!(hb, super::gen_spec::HbSpec::Disk { .. }) { "disk" } else { "lan" }));
    }
    out.insert(format!("hb paths {}", spec.heartbeats.len().min(4)));
    out.insert(format!("timing {}", if spec.heartbeat_timeout_ms <= 10_000 { "short" } else { "long" }));
    let flags = [
        (spec.auto_return, "auto_return"),
        (spec.count_scope_cluster, "count scope cluster"),
        (spec.counter_reset_ms.is_some(), "counter_reset_after"),
        (!spec.server_groups.is_empty(), "server groups"),
    ];
    for (on, f) in flags {
        if on {
            out.insert(f.into());
        }
    }
    out.insert(format!("np_action {}", spec.np_action));
    for g in &spec.groups {
        let flags = [
            (g.startup_manual, "startup manual"),
            (g.failover_manual, "failover manual"),
            (g.failback_auto, "failback auto"),
            (g.stable, "failover_target stable"),
            (g.exclusive, "exclusive"),
            (!g.start_after.is_empty(), "start_after"),
            (matches!(g.policy, Policy::ServerGroups(_)), "policy server_groups"),
            (matches!(g.policy, Policy::All), "policy all"),
            (matches!(g.policy, Policy::Servers(_)), "policy servers"),
        ];
        for (on, f) in flags {
            if on {
                out.insert(f.into());
            }
        }
        for r in &g.resources {
            out.insert(format!("resource {}", r.kind.word()));
            if let ResKind::Mirror { hybrid, sync, networks, .. } = &r.kind {
                out.insert(format!("{} {}", r.kind.word(), if *sync { "sync" } else { "async" }));
                out.insert(format!("{} networks {}", if *hybrid { "hybrid" } else { "mirror" }, networks.len()));
            }
            if let Some(a) = &r.activation {
                out.insert(format!("activation final {}", a.final_action));
                out.insert(format!("activation retries {}", a.retries.min(1)));
            }
            if let Some(d) = &r.deactivation {
                out.insert(format!("deactivation final {}", d.final_action));
            }
            if r.depends_on.is_some() {
                out.insert("depends_on".into());
            }
        }
    }
    let groups: Vec<&str> = spec.groups.iter().map(|g| g.name.as_str()).collect();
    for m in &spec.monitors {
        out.insert(format!("monitor {}", m.kind.word()));
        let target = match m.recovery_target.as_deref() {
            None => "own server",
            Some("local-server") => "local-server",
            Some("all-groups") => "all-groups",
            Some(t) if groups.contains(&t) => "group",
            Some(_) => "resource",
        };
        out.insert(format!("recovery_target {target}"));
        if let Some(a) = m.final_action {
            out.insert(format!("monitor final {a}"));
        }
        if m.active_with.is_some() {
            out.insert("active_with".into());
        }
        if let MonKind::UserSpace { stall_action: Some(_) } = m.kind {
            out.insert("stall_action".into());
        }
    }
}

#[test]
fn every_feature_is_drawn_over_some_seeds() {
    let mut seen = BTreeSet::new();
    for seed in 0..3000u64 {
        features(&draw_spec(seed), &mut seen);
    }
    let mut want: Vec<String> = (2..=6).map(|n| format!("{n} servers")).collect();
    want.push("np none".into());
    want.extend(Combo::ALL.iter().map(|c| format!("np {}", c.name())));
    for w in [
        "np servers subset",
        "np servers all",
        "hb disk",
        "hb lan",
        "hb paths 1",
        "hb paths 3",
        "timing short",
        "timing long",
        "auto_return",
        "count scope cluster",
        "counter_reset_after",
        "server groups",
        "startup manual",
        "failover manual",
        "failback auto",
        "failover_target stable",
        "exclusive",
        "start_after",
        "policy server_groups",
        "policy all",
        "policy servers",
        "mirror-disk sync",
        "mirror-disk async",
        "hybrid-disk sync",
        "hybrid-disk async",
        "mirror networks 2",
        "hybrid networks 2",
        "activation retries 1",
        "depends_on",
        "recovery_target own server",
        "recovery_target local-server",
        "recovery_target all-groups",
        "recovery_target group",
        "recovery_target resource",
        "active_with",
        "stall_action",
    ] {
        want.push(w.into());
    }
    for a in ["emergency-shutdown", "emergency-reboot", "stop-service", "panic"] {
        want.push(format!("np_action {a}"));
    }
    for k in ["floating-ip", "virtual-ip", "exec", "service", "disk", "mirror-disk", "hybrid-disk"] {
        want.push(format!("resource {k}"));
    }
    let monitor_kinds = [
        "ip",
        "floating-ip",
        "process",
        "exec",
        "disk",
        "nic-link",
        "mirror-disk",
        "mirror-connect",
        "user-space",
        "http",
    ];
    want.extend(monitor_kinds.iter().map(|k| format!("monitor {k}")));
    let finals = [
        "none",
        "stop-service-and-shutdown",
        "stop-service-and-reboot",
        "emergency-shutdown",
        "emergency-reboot",
        "panic",
    ];
    for f in finals {
        want.push(format!("activation final {f}"));
        want.push(format!("deactivation final {f}"));
        want.push(format!("monitor final {f}"));
    }
    for f in ["ignore", "stop-group", "stop-service"] {
        want.push(format!("activation final {f}"));
    }
    for f in ["stop-group", "stop-service"] {
        want.push(format!("monitor final {f}"));
    }
    let missing: Vec<&String> = want.iter().filter(|w| !seen.contains(*w)).collect();
    assert!(missing.is_empty(), "never drawn in 3000 seeds: {missing:?}");
}

#[test]
fn configurations_of_every_size_appear() {
    let sizes: Vec<usize> = (0..400u64)
        .map(|s| {
            let spec = draw_spec(s);
            spec.groups.iter().map(|g| g.resources.len()).sum::<usize>() + spec.monitors.len()
        })
        .collect();
    assert!(sizes.iter().any(|n| *n <= 2), "some configurations are tiny");
    assert!(sizes.iter().any(|n| *n >= 12), "some configurations are large");
}

#[test]
fn most_shrink_candidates_pass_the_checker() {
    let (mut valid, mut all) = (0usize, 0usize);
    for seed in 0..150u64 {
        for c in candidates(&draw_spec(seed)) {
            all += 1;
            valid += usize::from(check(&c).is_ok());
        }
    }
    assert!(all > 1000, "{all} candidates");
    assert!(valid * 10 >= all * 9, "{valid} of {all} candidates valid");
}

/// The test double of "still fails the same way": the configuration holds an async
/// hybrid disk. Shrinking must keep it, end valid, and drop everything else it can.
#[test]
fn config_shrinking_keeps_what_fails_and_stays_valid() {
    let holds = |s: &Spec| {
        s.groups
            .iter()
            .flat_map(|g| &g.resources)
            .any(|r| matches!(r.kind, ResKind::Mirror { hybrid: true, sync: false, .. }))
    };
    let seed = (0..5000u64).find(|s| {
        let spec = draw_spec(*s);
        holds(&spec) && spec.groups.len() >= 3 && !spec.monitors.is_empty()
    });
    let seed = seed.expect("some seed has a large configuration with an async hybrid disk");
    let spec = draw_spec(seed);
    let steps = std::cell::Cell::new(0usize);
    let keeps = |c: &Spec, _: &()| {
        assert!(check(c).is_ok(), "a kept step is valid");
        steps.set(steps.get() + 1);
        holds(c).then_some(())
    };
    let (small, ()) = shrink_spec((spec.clone(), ()), &keeps, Instant::now() + Duration::from_secs(60));
    assert!(check(&small).is_ok());
    assert!(holds(&small));
    assert!(steps.get() > 0);
    assert_eq!(small.groups.len(), 1, "{}", small.render());
    assert_eq!(small.groups[0].resources.len(), 1, "{}", small.render());
    assert!(small.monitors.is_empty(), "{}", small.render());
    assert!(small.servers.len() < spec.servers.len() || spec.servers.len() == 2);
}

/// Faults naming what a shrunk configuration lost are left out; the others stay.
#[test]
fn faults_follow_the_shrunk_configuration() {
    let seed = (0..2000u64).find(|s| draw_spec(*s).servers.len() >= 4).expect("a four-server seed");
    let (spec, _, ctx) = generated_ctx(seed, &Limits::default()).expect("valid");
    let schedule = draw(&ctx.cfg, &ctx.facts, FaultKind::ALL, seed, &ctx.limits);
    assert_eq!(faults_for(&ctx, &schedule.faults, &schedule.knobs).len(), schedule.faults.len());
    let mut small = spec.clone();
    small.servers.truncate(2);
    let small = super::gen_shrink::tidy(small);
    let (_, cfg) = check(&small).expect("two servers left");
    let small_ctx = super::Ctx::new(std::sync::Arc::new(cfg), Limits::default());
    let kept = faults_for(&small_ctx, &schedule.faults, &schedule.knobs);
    assert!(kept.len() <= schedule.faults.len());
    for f in &kept {
        for (_, stmt) in &f.steps {
            let text = format!("{stmt:?}");
            assert!(!text.contains("\"server3\"") && !text.contains("\"server4\""), "{text}");
        }
    }
}

/// Clock settings of servers a shrunk configuration lost are dropped with them: kept,
/// they made the scenario checker refuse every fault, so shrinking kept none and wrote
/// a `.min.scenario` that named unknown servers and did not replay (seed 3870).
#[test]
fn clock_settings_follow_the_shrunk_configuration() {
    let seed = (0..2000u64)
        .find(|s| {
            draw_spec(*s).servers.len() >= 4 && {
                let (_, _, ctx) = generated_ctx(*s, &Limits::default()).expect("valid");
                draw(&ctx.cfg, &ctx.facts, FaultKind::ALL, *s, &ctx.limits).knobs.clocks.contains_key("server4")
            }
        })
        .expect("a four-server seed with clock errors");
    let (spec, _, ctx) = generated_ctx(seed, &Limits::default()).expect("valid");
    let schedule = draw(&ctx.cfg, &ctx.facts, FaultKind::ALL, seed, &ctx.limits);
    let mut small = spec.clone();
    small.servers.truncate(2);
    let (_, cfg) = check(&super::gen_shrink::tidy(small)).expect("two servers left");
    let knobs = super::gen_write::knobs_for(&cfg, &schedule.knobs);
    let names: Vec<&str> = knobs.clocks.keys().map(String::as_str).collect();
    assert!(names.iter().all(|n| ["server1", "server2"].contains(n)), "{names:?}");
    let small_ctx = super::Ctx::new(std::sync::Arc::new(cfg), Limits::default());
    let mut no_clocks = schedule.knobs.clone();
    no_clocks.clocks.clear();
    let kept = faults_for(&small_ctx, &schedule.faults, &knobs);
    assert!(!kept.is_empty(), "seed {seed}: no fault kept");
    assert_eq!(kept.len(), faults_for(&small_ctx, &schedule.faults, &no_clocks).len(), "seed {seed}");
}

#[test]
#[ignore]
fn print_seed() {
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    println!("{}", draw_spec(seed).render());
}

/// Seeds that failed before the explorer knew these documented outcomes: a server
/// started while cut off forms alone at `sync_wait` (B3, B4: a hazard, seeds 1075,
/// 1108, 3256), and a group whose only server ended its run holding it, or left while
/// it was still starting, stays offline, as does one stopped by a departure while the other servers of
/// its policy were down (B55, B25, B56: seeds 206, 684, 2960). Seed 1108's only group
/// holds a mirror disk whose sides never ran: neither side alone holds the latest data
/// (B106), so the lone formation no longer places it twice (no hazard).
#[test]
fn lone_formation_and_only_server_groups_are_documented_outcomes() {
    for (seed, hazard) in [(1075, true), (1108, false), (3256, true), (206, false), (684, false), (2960, false)] {
        let opts = Options { allowed: FaultKind::ALL.to_vec(), seed_start: seed, stop: Stop::Seeds(1), jobs: 1 };
        let s = explore_generated(&opts, &Limits::default(), &|_| {});
        assert!(s.failures.is_empty(), "seed {seed}: {:?}", s.failures);
        assert_eq!(!s.hazards.is_empty(), hazard, "seed {seed}");
    }
}

/// Groups offline after the heal because their last holder left out of every peer's
/// sight (issue 8, sixth round, families AX and AY). 4732: server1, alone ahead on the
/// hybrid disk (B102), formed alone during a one-way cut, ran g1 and crashed; server2,
/// whose run began after server1's break, cannot hold the latest data (B106, B114)
/// and server1's rejoin moves nothing (B2, B25, B56). 13559: the same with server2's
/// departure (a dead process, B130 7) stopping g1 and g4 during a partition. 8247: no
/// resolver (B43); server2, cut off, took g1 over on its side of the split and left
/// (a dead process) before any of its messages reached a peer, its departure notice
/// included (B14, B15): nobody knew it ran g1 (B55, B56).
#[test]
fn groups_whose_last_holder_left_unseen_are_documented_outcomes() {
    for (seed, key) in [
        (4732, "only latest-data holder rejoined (B106, B2, B56)"),
        (13559, "only latest-data holder rejoined (B106, B2, B56)"),
        (8247, "departure unheard, group unknown (B14, B55, B56)"),
    ] {
        let opts = Options { allowed: FaultKind::ALL.to_vec(), seed_start: seed, stop: Stop::Seeds(1), jobs: 1 };
        let s = explore_generated(&opts, &Limits::default(), &|_| {});
        assert!(s.failures.is_empty(), "seed {seed}: {:?}", s.failures);
        assert!(s.explained.contains_key(key), "seed {seed}: {:?}", s.explained);
    }
}

/// Generated seeds whose split brain was counted undocumented (issue 8, fifth round):
/// a server (re)started while cut off from a running holder and formed alone at
/// `sync_wait` (B3, B4; B24 for an automatic return), in runs whose faults allowed a
/// split. The explorer looked for that hazard only in invariant breaches, which an
/// allowed run never has. 976: isolated before either service started; 843: a one-way
/// cut, only one side formed alone; 835: an emergency reboot, then an automatic return
/// formed alone (B24); 2057: a restart during a cut; 13976: both formed alone and met
/// while their starts of the group were still activating; 12892: an automatic return
/// during a one-way cut.
#[test]
fn a_lone_formation_in_a_run_that_allowed_split_is_documented() {
    for seed in [976, 843, 835, 2057, 13976, 12892] {
        let opts = Options { allowed: FaultKind::ALL.to_vec(), seed_start: seed, stop: Stop::Seeds(1), jobs: 1 };
        let s = explore_generated(&opts, &Limits::default(), &|_| {});
        assert!(s.failures.is_empty(), "seed {seed}: {:?}", s.failures);
        assert_eq!(s.hazards.len(), 1, "seed {seed}");
        assert!(s.undocumented_splits().is_empty(), "seed {seed}: {:?}", s.hazards);
        assert_eq!(s.hazards[0].mechanism, "formed without the running holder at sync_wait (B3, B4)", "seed {seed}");
    }
}

/// `--hazards-out` with `--generate`: the configuration and the whole run, then a
/// shrunk pair, each replaying the split brain under the player. Written here with a
/// documented split (seed 976, two servers isolated before their services start), as
/// the writer takes what to keep as a parameter; the undocumented-only entry point
/// refuses it.
#[test]
fn a_generated_split_brain_is_written_shrunk_and_replays() {
    use super::gen_hazard::{any_split_of, write_generated_hazard, write_generated_split};
    let dir = std::env::temp_dir().join(format!("baton-gen-hazard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let all = FaultKind::ALL.to_vec();
    let limits = Limits::default();
    let refused = write_generated_hazard(&all, &limits, 976, &dir, Duration::from_secs(5));
    assert!(refused.is_err_and(|e| e.contains("no undocumented split brain")));
    let w = write_generated_split(&all, &limits, 976, &dir, Duration::from_secs(60), &any_split_of).expect("written");
    assert!(w.reproduced, "{}", w.note);
    assert_eq!(w.group, "g3");
    assert!(w.happenings_min >= 1 && w.happenings_min < w.happenings_full, "{w:?}");
    assert_eq!(
        (w.full.clone(), w.min.clone()),
        (dir.join("gen-seed976.hazard.scenario"), dir.join("gen-seed976.min.hazard.scenario"))
    );
    for f in ["gen-seed976.toml", "gen-seed976.min.toml", "scripts/start.sh"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let min = std::fs::read_to_string(&w.min).expect("shrunk scenario");
    assert!(min.contains("config gen-seed976.min.toml\n") && min.contains("expect split-brain g3\n"), "{min}");
    assert!(min.contains("# Split brain of g3: formed without the running holder"), "{min}");
    // The shrunk configuration is smaller than the drawn one.
    let (full_toml, min_toml) = (dir.join("gen-seed976.toml"), dir.join("gen-seed976.min.toml"));
    let len = |p: &std::path::Path| std::fs::read_to_string(p).expect("toml").len();
    assert!(len(&min_toml) < len(&full_toml));
    let _ = std::fs::remove_dir_all(&dir);
}
