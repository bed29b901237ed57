//! A failing seed of `--generate` as files: its configuration, the scripts the
//! configuration names, the whole run, and a shrunk pair (configuration and
//! scenario), each scenario replayed with `run_file` to check it fails the same way.
//!
//! In: the fault kinds, the limits, the failing seed, the output directory and a
//! time budget for shrinking. Out: `gen-seedN.toml` + `gen-seedN.scenario`,
//! `gen-seedN.min.toml` + `gen-seedN.min.scenario`, `scripts/start.sh` and
//! `scripts/stop.sh`, and a [`Written`] record.
//!
//! Shrinking: the schedule first (the shrinker of `shrink.rs`), then the
//! configuration (`gen_shrink.rs` candidates, greedily: an edit is kept when the
//! checker accepts the smaller file and the run, with the faults that still name
//! things of it, fails with the same [`Signature`]), then the schedule once more on
//! the smaller configuration. Half of the budget goes to each of the first two.

use super::gen_shrink::candidates;
use super::gen_spec::{Spec, START_SCRIPT, STOP_SCRIPT};
use super::generate::check;
use super::run::{self, Ctx, RunResult, Signature};
use super::schedule::{Fault, Limits};
use super::shrink::{happenings, replay, scenario_of, shrink, Written};
use super::{draw, FaultKind};
use crate::scenario::{Knobs, Scenario, Step};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The faults whose every statement names only things `ctx`'s configuration has (a
/// shrunk configuration may have lost a server or a monitor a fault names).
pub fn faults_for(ctx: &Ctx, faults: &[Fault], knobs: &Knobs) -> Vec<Fault> {
    faults
        .iter()
        .filter(|f| {
            let steps: Vec<Step> = f
                .steps
                .iter()
                .enumerate()
                .map(|(i, (at, s))| Step { at_ms: *at, line: i + 1, stmt: s.clone() })
                .collect();
            let sc = Scenario { config_path: String::new(), config_line: 1, seed: 0, knobs: knobs.clone(), steps };
            crate::scenario::check(&sc, "candidate", &ctx.cfg).is_empty()
        })
        .cloned()
        .collect()
}

/// `knobs` without the clock settings of servers `cfg` does not have: a shrunk
/// configuration may have lost servers the drawn clocks name, and the scenario
/// checker refuses a `set clock-offset` naming an unknown server, which used to make
/// every fault look inapplicable (a `.min.scenario` with 0 happenings that did not
/// replay, generated seed 3870).
pub fn knobs_for(cfg: &baton_core::config::Config, knobs: &Knobs) -> Knobs {
    let mut k = knobs.clone();
    k.clocks.retain(|name, _| cfg.server_ids().any(|s| cfg.server(s).name == *name));
    k
}

/// Whether `spec` still fails with `sig`: `Some` with its context and faults if so.
fn still_fails(
    spec: &Spec,
    limits: &Limits,
    seed: u64,
    faults: &[Fault],
    knobs: &Knobs,
    sig: &Signature,
) -> Option<(Ctx, Vec<Fault>)> {
    let (_, cfg) = check(spec).ok()?;
    let knobs = &knobs_for(&cfg, knobs);
    let ctx = Ctx::new(Arc::new(cfg), limits.clone());
    let kept = faults_for(&ctx, faults, knobs);
    let r = run::run(&ctx, seed, &kept, knobs);
    r.failure.is_some_and(|f| f.sig == *sig).then_some((ctx, kept))
}

/// Greedy configuration shrinking: the first candidate that the checker accepts and
/// `keeps` holds for is taken, and candidates are drawn again from it, until none
/// is kept or `deadline` passes. `keeps` returns what it wants to carry along (the
/// faults still applicable to the smaller configuration).
pub fn shrink_spec<T>(start: (Spec, T), keeps: &dyn Fn(&Spec, &T) -> Option<T>, deadline: Instant) -> (Spec, T) {
    let mut cur = start;
    'outer: loop {
        for c in candidates(&cur.0) {
            if Instant::now() >= deadline {
                break 'outer;
            }
            if check(&c).is_err() {
                continue;
            }
            if let Some(t) = keeps(&c, &cur.1) {
                cur = (c, t);
                continue 'outer;
            }
        }
        break;
    }
    cur
}

/// [`shrink_spec`] keeping the run's failure `sig`.
pub fn shrink_config(
    spec: Spec,
    limits: &Limits,
    seed: u64,
    faults: Vec<Fault>,
    knobs: &Knobs,
    sig: &Signature,
    deadline: Instant,
) -> (Spec, Vec<Fault>) {
    let keeps = |c: &Spec, fs: &Vec<Fault>| still_fails(c, limits, seed, fs, knobs, sig).map(|(_, kept)| kept);
    shrink_spec((spec, faults), &keeps, deadline)
}

pub(super) fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// The scripts every exec resource names: the simulator does not run them, but
/// `baton config check` warns about missing ones (B133) and a real node would need them.
pub(super) fn write_scripts(out_dir: &Path) -> Result<(), String> {
    let dir = out_dir.join("scripts");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    for (rel, word) in [(START_SCRIPT, "start"), (STOP_SCRIPT, "stop")] {
        let path = out_dir.join(rel);
        write(&path, &format!("#!/bin/sh\n# Generated exec resource script ({word}): does nothing.\nexit 0\n"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
    }
    Ok(())
}

fn header(seed: u64, sig: &Signature, detail: &str, shrunk: bool) -> String {
    let what = if shrunk {
        "shrunk: a smaller configuration and only the happenings needed for the failure"
    } else {
        "the whole run"
    };
    format!(
        "# Found by `baton sim explore --generate --seed-start {seed} --seeds 1` ({what}).\n# Failure: {sig}\n# Found: {}\n# Replay: baton sim run FILE (exit 1 while the failure is there).\n",
        detail.replace('\n', " ")
    )
}

/// Writes a failing generated seed (see the module doc).
pub fn write_generated(
    allowed: &[FaultKind],
    limits: &Limits,
    seed: u64,
    out_dir: &Path,
    budget: Duration,
) -> Result<Written, String> {
    let (spec, text, ctx) = super::gen_run::generated_ctx(seed, limits).map_err(|p| p.join("; "))?;
    let schedule = draw(&ctx.cfg, &ctx.facts, allowed, seed, &ctx.limits);
    let result: RunResult = run::run(&ctx, seed, &schedule.faults, &schedule.knobs);
    let Some(failure) = result.failure.clone() else {
        return Err(format!("seed {seed} does not fail"));
    };
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: cannot create: {e}", out_dir.display()))?;
    write_scripts(out_dir)?;
    let stem = format!("gen-seed{seed}");
    let (toml, full) = (out_dir.join(format!("{stem}.toml")), out_dir.join(format!("{stem}.scenario")));
    let (min_toml, min) = (out_dir.join(format!("{stem}.min.toml")), out_dir.join(format!("{stem}.min.scenario")));
    write(&toml, &text)?;
    let sc = scenario_of(&result, &format!("{stem}.toml"));
    write(&full, &(header(seed, &failure.sig, &failure.detail, false) + &sc.to_string()))?;

    let started = Instant::now();
    let knobs = &schedule.knobs;
    let faults = shrink(&ctx, seed, schedule.faults.clone(), knobs, &failure.sig, budget / 2);
    let deadline = started + budget;
    let (small_spec, faults) = shrink_config(spec, limits, seed, faults, knobs, &failure.sig, deadline);
    let (small_text, small_cfg) = check(&small_spec).map_err(|p| p.join("; "))?;
    let knobs = &knobs_for(&small_cfg, knobs);
    let small_ctx = Ctx::new(Arc::new(small_cfg), limits.clone());
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
    let faults = shrink(&small_ctx, seed, faults, knobs, &failure.sig, left);
    let small = run::run(&small_ctx, seed, &faults, knobs);
    let detail = small.failure.as_ref().map_or(failure.detail.clone(), |f| f.detail.clone());
    write(&min_toml, &small_text)?;
    let sc = scenario_of(&small, &format!("{stem}.min.toml"));
    write(&min, &(header(seed, &failure.sig, &detail, true) + &sc.to_string()))?;
    let notes: Vec<String> = [replay(&full, &failure.sig), replay(&min, &failure.sig)].into_iter().flatten().collect();
    Ok(Written {
        seed,
        sig: failure.sig,
        full,
        min,
        happenings_full: happenings(&schedule.faults),
        happenings_min: happenings(&faults),
        reproduced: notes.is_empty(),
        note: notes.join("; "),
    })
}
