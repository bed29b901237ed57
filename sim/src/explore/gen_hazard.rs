//! An undocumented split brain of `--generate` as files (`--hazards-out DIR`): a
//! split brain in a run that allowed one, matching none of the documented rules
//! (`hazard::hazard_mechanism`), counts as a failure (issue 14 §19), so it is written
//! the way a failing generated seed is, to be replayed and traced with `baton sim run`.
//!
//! In: the fault kinds, the limits, the seed, the output directory and a time budget
//! for shrinking. Out: `gen-seedN.toml` + `gen-seedN.hazard.scenario` (the whole run),
//! `gen-seedN.min.toml` + `gen-seedN.min.hazard.scenario` (shrunk: a smaller
//! configuration and only the happenings that still give an undocumented split brain
//! of the same group), the scripts the configurations name, and a [`WrittenHazard`].
//!
//! Each scenario ends with `expect split-brain GROUP` (the player then allows the
//! split, exactly as the explorer did, so the replay is the explored run): it passes
//! while the split brain is there. Without that line the split is an invariant-1
//! breach, which is how a reproduction kept after a fix is written.

use super::gen_run::generated_ctx;
use super::gen_write::{knobs_for, shrink_spec, write, write_scripts};
use super::generate::check;
use super::run::{self, Ctx, RunResult};
use super::schedule::Limits;
use super::shrink::{happenings, scenario_of, shrink_keeping};
use super::{draw, FaultKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What was written for one undocumented split brain.
#[derive(Clone, Debug)]
pub struct WrittenHazard {
    pub seed: u64,
    /// The group the shrinking kept split.
    pub group: String,
    pub full: PathBuf,
    pub min: PathBuf,
    pub happenings_full: usize,
    pub happenings_min: usize,
    /// Both files replay the split brain of `group`.
    pub reproduced: bool,
    /// What the replays found, when one did not reproduce.
    pub note: String,
}

/// Whether a run still shows a split brain of `group` that no documented rule names.
fn undocumented_split_of(r: &RunResult, group: &str) -> bool {
    r.mechanism.is_empty() && r.split_groups.iter().any(|g| g == group)
}

/// Whether a run shows a split brain of `group`, whatever the rule (the tests write
/// documented ones with it, as no undocumented split is left to write).
#[cfg(test)]
pub(super) fn any_split_of(r: &RunResult, group: &str) -> bool {
    r.split_groups.iter().any(|g| g == group)
}

fn header(seed: u64, group: &str, mechanism: &str, shrunk: bool) -> String {
    let what = if shrunk {
        "shrunk: a smaller configuration and only the happenings needed for the split"
    } else {
        "the whole run"
    };
    let how = if mechanism.is_empty() { "it matches no documented rule, a failure (issue 14 §19)" } else { mechanism };
    format!(
        "# Found by `baton sim explore --generate --seed-start {seed} --seeds 1` ({what}).\n\
         # Split brain of {group}: {how}.\n\
         # Replay: baton sim run FILE --trace DIR (passes while the split brain is there).\n"
    )
}

/// Replays a written file; `None` when the split brain of `group` is there (a
/// liveness expectation the run also failed may fail too: that is the run's own).
fn replay(path: &Path, group: &str) -> Option<String> {
    let want = format!("split-brain {group}");
    match crate::run_file(path, None) {
        Err(problems) => Some(format!("{}: {}", path.display(), problems.join("; "))),
        Ok(report) if report.breaches.is_empty() && report.outcomes.iter().any(|o| o.ok && o.text == want) => None,
        Ok(_) => Some(format!("{}: no split brain of {group} on replay", path.display())),
    }
}

/// Writes an undocumented split brain of a generated seed (see the module doc).
/// `Err` when the seed shows none or a file cannot be written.
pub fn write_generated_hazard(
    allowed: &[FaultKind],
    limits: &Limits,
    seed: u64,
    out_dir: &Path,
    budget: Duration,
) -> Result<WrittenHazard, String> {
    write_generated_split(allowed, limits, seed, out_dir, budget, &undocumented_split_of)
}

/// [`write_generated_hazard`] for the split brains `wanted(run, group)` picks.
pub(super) fn write_generated_split(
    allowed: &[FaultKind],
    limits: &Limits,
    seed: u64,
    out_dir: &Path,
    budget: Duration,
    wanted: &dyn Fn(&RunResult, &str) -> bool,
) -> Result<WrittenHazard, String> {
    let (spec, text, ctx) = generated_ctx(seed, limits).map_err(|p| p.join("; "))?;
    let schedule = draw(&ctx.cfg, &ctx.facts, allowed, seed, &ctx.limits);
    let result = run::run(&ctx, seed, &schedule.faults, &schedule.knobs);
    let Some(group) = result.split_groups.iter().find(|g| wanted(&result, g)).cloned() else {
        return Err(format!("seed {seed} shows no undocumented split brain"));
    };
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: cannot create: {e}", out_dir.display()))?;
    write_scripts(out_dir)?;
    let stem = format!("gen-seed{seed}");
    let (toml, full) = (out_dir.join(format!("{stem}.toml")), out_dir.join(format!("{stem}.hazard.scenario")));
    let (min_toml, min) =
        (out_dir.join(format!("{stem}.min.toml")), out_dir.join(format!("{stem}.min.hazard.scenario")));
    write(&toml, &text)?;
    write(
        &full,
        &(header(seed, &group, result.mechanism, false) + &scenario_of(&result, &format!("{stem}.toml")).to_string()),
    )?;

    let started = Instant::now();
    let deadline = started + budget;
    let keeps = |r: &RunResult| wanted(r, &group);
    let knobs = &schedule.knobs;
    let faults = shrink_keeping(&ctx, seed, schedule.faults.clone(), knobs, &keeps, budget / 2);
    let keeps_spec = |c: &super::gen_spec::Spec, fs: &Vec<super::schedule::Fault>| {
        let (_, cfg) = check(c).ok()?;
        let knobs = &knobs_for(&cfg, knobs);
        let ctx = Ctx::new(Arc::new(cfg), limits.clone());
        let kept = super::gen_write::faults_for(&ctx, fs, knobs);
        keeps(&run::run(&ctx, seed, &kept, knobs)).then_some(kept)
    };
    let (small_spec, faults) = shrink_spec((spec, faults), &keeps_spec, deadline);
    let (small_text, small_cfg) = check(&small_spec).map_err(|p| p.join("; "))?;
    let knobs = &knobs_for(&small_cfg, knobs);
    let small_ctx = Ctx::new(Arc::new(small_cfg), limits.clone());
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
    let faults = shrink_keeping(&small_ctx, seed, faults, knobs, &keeps, left);
    let small = run::run(&small_ctx, seed, &faults, knobs);
    write(&min_toml, &small_text)?;
    write(
        &min,
        &(header(seed, &group, small.mechanism, true) + &scenario_of(&small, &format!("{stem}.min.toml")).to_string()),
    )?;
    let notes: Vec<String> = [replay(&full, &group), replay(&min, &group)].into_iter().flatten().collect();
    Ok(WrittenHazard {
        seed,
        group,
        full,
        min,
        happenings_full: happenings(&schedule.faults),
        happenings_min: happenings(&faults),
        reproduced: notes.is_empty(),
        note: notes.join("; "),
    })
}
