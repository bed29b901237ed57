//! Tests of the clock faults (and the process faults, drawn apart the same way) the
//! explorer draws, and of the claim they explore: that
//! clocks off by less than `heartbeat_interval` change no decision (docs/scenarios.md
//! § Clocks).
//!
//! In: the example configurations and generated ones, schedules drawn from seeds.
//! Out: assertions only (and, for generated configurations, which seeds decide
//! differently: only `failover_target = "stable"` ones may).

use super::run::{self, Ctx};
use super::schedule::{draw, Fault, Limits};
use super::{gen_run::generated_ctx, FaultKind};
use crate::scenario::{Knobs, Scenario, Step, Stmt};
use baton_core::config::{Config, FailoverTarget};
use std::path::Path;
use std::sync::Arc;

const EXAMPLES: [&str; 5] =
    ["2node-ping.toml", "2node-mirror.toml", "2node-shared-disk.toml", "3node-hybrid.toml", "3node-majority.toml"];

fn example(name: &str) -> Ctx {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs").join(name);
    let text = std::fs::read_to_string(&path).expect("example config");
    let cfg = baton_core::config::parse(name, &text).expect("valid").config;
    Ctx::new(Arc::new(cfg), Limits::default())
}

/// The most any server's clock can be off from the true time over a run, in ms.
fn worst_error_ms(knobs: &Knobs, faults: &[Fault], server: &str, run_ms: i64) -> i64 {
    let c = knobs.clocks.get(server).copied().unwrap_or_default();
    let steps: i64 = faults
        .iter()
        .flat_map(|f| &f.steps)
        .filter_map(|(_, s)| if let Stmt::Clock { server: s, step_ms } = s { Some((s, step_ms)) } else { None })
        .filter(|(s, _)| *s == server)
        .map(|(_, step_ms)| step_ms.abs())
        .sum();
    c.offset_ms.abs() + (c.drift_ppm.abs() * run_ms + 999_999) / 1_000_000 + steps
}

#[test]
fn drawn_clocks_stay_within_the_bound_and_leave_the_other_draws_alone() {
    let mut clocked = 0;
    let mut stepped = 0;
    let mut ctxs: Vec<Ctx> = EXAMPLES.iter().map(|n| example(n)).collect();
    ctxs.extend((0..20).filter_map(|seed| generated_ctx(seed, &Limits::default()).ok().map(|(_, _, c)| c)));
    for ctx in &ctxs {
        let bound_ms = i64::try_from(ctx.cfg.cluster.heartbeat_interval_ms).expect("small");
        let others: Vec<FaultKind> = FaultKind::ALL.iter().copied().filter(|k| *k != FaultKind::Clock).collect();
        for seed in 0..200 {
            let with = draw(&ctx.cfg, &ctx.facts, FaultKind::ALL, seed, &ctx.limits);
            let without = draw(&ctx.cfg, &ctx.facts, &others, seed, &ctx.limits);
            // The clock faults come on top of the same schedule.
            let non_clock: Vec<&Fault> = with.faults.iter().filter(|f| f.kind != FaultKind::Clock).collect();
            assert_eq!(non_clock, without.faults.iter().collect::<Vec<_>>(), "seed {seed}");
            assert_eq!(Knobs { clocks: Default::default(), ..with.knobs.clone() }, without.knobs);
            clocked += usize::from(!with.knobs.clocks.is_empty());
            stepped += with.faults.len() - without.faults.len();
            // Every pair of clocks stays less than heartbeat_interval apart for two hours.
            let errors: Vec<i64> =
                ctx.cfg.servers.iter().map(|s| worst_error_ms(&with.knobs, &with.faults, &s.name, 7_200_000)).collect();
            for e in &errors {
                assert!(2 * e < bound_ms, "seed {seed}: a clock {e} ms off, bound {bound_ms} ms");
            }
        }
    }
    let seeds = ctxs.len() * 200;
    assert!(clocked > seeds / 3 && clocked < seeds * 2 / 3, "{clocked} of {seeds} seeds with clock errors");
    assert!(stepped > seeds / 3, "{stepped} steps in {seeds} seeds");
}

/// The timeline of a run (what each server decided and when, in true time).
fn timeline(ctx: &Ctx, steps: &[Step], knobs: &Knobs, seed: u64) -> Vec<String> {
    let sc = Scenario { config_path: String::new(), config_line: 1, seed, knobs: knobs.clone(), steps: steps.to_vec() };
    let r = crate::play(&sc, ctx.cfg.clone(), seed);
    r.timeline.iter().map(|e| format!("{} {} {:?}", e.at_ms, e.server.0, e.event)).collect()
}

fn has_stable_group(cfg: &Config) -> bool {
    cfg.groups.iter().any(|g| g.failover_target == FailoverTarget::Stable)
}

/// Offsets and steps (drift aside, which stretches every duration) move each server's
/// time by a constant within a run: every decision that compares a server's own
/// instants is unchanged, so a run with them decides exactly as with exact clocks,
/// event for event, except through B52's `stable` choice, the one comparison of two
/// servers' instants.
#[test]
fn offsets_and_steps_below_the_bound_change_no_decision() {
    let mut ctxs: Vec<(String, Ctx)> = EXAMPLES.iter().map(|n| (n.to_string(), example(n))).collect();
    ctxs.extend(
        (0..30)
            .filter_map(|seed| generated_ctx(seed, &Limits::default()).ok().map(|(_, _, c)| (format!("gen{seed}"), c))),
    );
    let mut compared = 0;
    let mut stepped = 0;
    let mut differ = Vec::new();
    for (name, ctx) in &ctxs {
        for seed in 0..30u64 {
            let schedule = draw(&ctx.cfg, &ctx.facts, FaultKind::ALL, seed, &ctx.limits);
            if schedule.knobs.clocks.is_empty() {
                continue;
            }
            let mut knobs = schedule.knobs.clone();
            for c in knobs.clocks.values_mut() {
                c.drift_ppm = 0;
            }
            let r = run::run(ctx, seed, &schedule.faults, &knobs);
            // Each step becomes a step of 0: the same statements at the same instants, so
            // the player interleaves them with the run's events the same way (a step
            // left out would change the order of events tied at one instant).
            let exact_steps: Vec<Step> = r
                .steps
                .iter()
                .map(|s| {
                    if let Stmt::Clock { server, .. } = &s.stmt {
                        Step { stmt: Stmt::Clock { server: server.clone(), step_ms: 0 }, ..s.clone() }
                    } else {
                        s.clone()
                    }
                })
                .collect();
            stepped += usize::from(exact_steps != r.steps);
            let exact = Knobs { clocks: Default::default(), ..knobs.clone() };
            compared += 1;
            let (a, b) = (timeline(ctx, &r.steps, &knobs, seed), timeline(ctx, &exact_steps, &exact, seed));
            if a != b {
                let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                eprintln!(
                    "DIFF {name} {seed} at {i}:\n skewed {:?}\n exact  {:?}",
                    &a[i.saturating_sub(3)..(i + 3).min(a.len())],
                    &b[i.saturating_sub(3)..(i + 3).min(b.len())]
                );
                differ.push(format!("{name} seed {seed}"));
                assert!(has_stable_group(&ctx.cfg), "{name} seed {seed}: a decision changed without a stable group");
            }
        }
    }
    assert!(compared > 150 && stepped > compared / 2, "{compared} runs compared, {stepped} with steps");
    eprintln!("{compared} runs compared ({stepped} with steps); decided differently: {differ:?}");
}

/// Process deaths and shutdown stalls (B130 7, 6) come on top of the same schedule,
/// like clocks: every other draw of a seed stays what it was. A stall is drawn only
/// just before a drawn shutdown or death of the same server, where it matters.
#[test]
fn drawn_process_faults_leave_the_other_draws_alone() {
    let mut ctxs: Vec<Ctx> = EXAMPLES.iter().map(|n| example(n)).collect();
    ctxs.extend((0..10).filter_map(|seed| generated_ctx(seed, &Limits::default()).ok().map(|(_, _, c)| c)));
    let (mut kills, mut hangs) = (0, 0);
    for ctx in &ctxs {
        let others: Vec<FaultKind> = FaultKind::ALL
            .iter()
            .copied()
            .filter(|k| *k != FaultKind::KillProcess && *k != FaultKind::HangShutdown)
            .collect();
        for seed in 0..200 {
            let with = draw(&ctx.cfg, &ctx.facts, FaultKind::ALL, seed, &ctx.limits);
            let without = draw(&ctx.cfg, &ctx.facts, &others, seed, &ctx.limits);
            let rest: Vec<&Fault> = with
                .faults
                .iter()
                .filter(|f| f.kind != FaultKind::KillProcess && f.kind != FaultKind::HangShutdown)
                .collect();
            assert_eq!(rest, without.faults.iter().collect::<Vec<_>>(), "seed {seed}");
            assert_eq!(with.knobs, without.knobs);
            for f in &with.faults {
                if f.kind == FaultKind::KillProcess {
                    assert!(matches!(f.steps.first(), Some((_, Stmt::KillProcess { .. }))), "{f:?}");
                    kills += 1;
                }
                if let (FaultKind::HangShutdown, Some((at, Stmt::HangShutdown { server }))) = (f.kind, f.steps.first())
                {
                    hangs += 1;
                    // A departure of the same server follows within 100 ms.
                    let departs = with.faults.iter().any(|g| {
                        (g.kind == FaultKind::Shutdown || g.kind == FaultKind::KillProcess)
                            && g.steps.first().is_some_and(|(t, s)| {
                                *t >= *at && *t <= at + 100 && s.to_string().contains(server.as_str())
                            })
                    });
                    assert!(departs, "seed {seed}: a stall of {server} with no departure after it");
                }
            }
        }
    }
    assert!(kills > 0 && hangs > 0, "{kills} deaths, {hangs} stalls drawn");
}
