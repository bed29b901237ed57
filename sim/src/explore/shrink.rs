//! Failing seeds as scenario files: the full run, then a shrunk one, each replayed
//! with `run_file` to check that it fails the same way.
//!
//! In: the context, the configuration's path, the fault kinds, a failing seed, the
//! output directory and a time budget for shrinking. Out: two `.scenario` files
//! (`STEM-seedN.scenario`, `STEM-seedN.min.scenario`) and a [`Written`] record saying
//! whether each replays the failure.
//!
//! Shrinking is greedy: drop chunks of faults (halving the chunk size down to one)
//! while the run still fails with the same [`Signature`], then do the same with the
//! single statements of what is left (a fault without its undo, an undo without its
//! fault). The heal is recomputed for each candidate, so the shrunk file heals only
//! what its own faults broke.

use super::run::{self, Ctx, RunResult, Signature};
use super::schedule::Fault;
use super::FaultKind;
use crate::scenario::{Expect, Knobs, Scenario, Step, Stmt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// What was written for one failing seed.
#[derive(Clone, Debug)]
pub struct Written {
    pub seed: u64,
    pub sig: Signature,
    pub full: PathBuf,
    pub min: PathBuf,
    /// Fault statements in the full and the shrunk schedule.
    pub happenings_full: usize,
    pub happenings_min: usize,
    /// Both files fail the same way under `run_file`.
    pub reproduced: bool,
    /// What the replays found, when one did not reproduce.
    pub note: String,
}

/// The scenario a run played, with the expectations that fail for a liveness
/// failure and `expect split-brain` for groups that split in an allowed run (so the
/// player allows it too).
pub fn scenario_of(result: &RunResult, config_path: &str) -> Scenario {
    let mut steps = result.steps.clone();
    let push = |steps: &mut Vec<Step>, at_ms, stmt| {
        let line = steps.len() + 1;
        steps.push(Step { at_ms, line, stmt });
    };
    if let Some(f) = &result.failure {
        for e in &f.expects {
            push(&mut steps, result.check_ms, Stmt::Expect(e.clone()));
        }
    }
    let end = steps.last().map_or(0, |s| s.at_ms);
    for g in &result.split_groups {
        push(&mut steps, end, Stmt::Expect(Expect::SplitBrain { group: g.clone() }));
    }
    Scenario {
        config_path: config_path.to_string(),
        config_line: 1,
        seed: result.seed,
        knobs: result.knobs.clone(),
        steps,
    }
}

/// `to` relative to the directory `from_dir` (both made absolute first), so that a
/// scenario file in `from_dir` can name the configuration portably.
pub fn relative_path(from_dir: &Path, to: &Path) -> PathBuf {
    let abs =
        |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(p));
    let (from, to) = (abs(from_dir), abs(to));
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return to;
    }
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Shrinks `faults` while the run keeps failing with `sig`, within `budget`.
pub fn shrink(
    ctx: &Ctx,
    seed: u64,
    faults: Vec<Fault>,
    knobs: &Knobs,
    sig: &Signature,
    budget: Duration,
) -> Vec<Fault> {
    let keeps = |r: &RunResult| r.failure.as_ref().is_some_and(|f| f.sig == *sig);
    shrink_keeping(ctx, seed, faults, knobs, &keeps, budget)
}

/// Shrinks `faults` while the run keeps what `keeps` looks for (a failure's
/// signature, or an undocumented split brain of `--hazards-out`), within `budget`.
pub fn shrink_keeping(
    ctx: &Ctx,
    seed: u64,
    faults: Vec<Fault>,
    knobs: &Knobs,
    keeps: &dyn Fn(&RunResult) -> bool,
    budget: Duration,
) -> Vec<Fault> {
    let deadline = Instant::now() + budget;
    let fails = |fs: &[Fault]| keeps(&run::run(ctx, seed, fs, knobs));
    let cur = greedy(faults, &fails, deadline);
    // Second pass: each statement on its own (a fault's undo may be irrelevant).
    let singles: Vec<Fault> =
        cur.iter().flat_map(|f| f.steps.iter().map(move |s| Fault { kind: f.kind, steps: vec![s.clone()] })).collect();
    if singles.len() == cur.len() {
        return cur;
    }
    greedy(singles, &fails, deadline)
}

fn greedy(mut cur: Vec<Fault>, fails: &dyn Fn(&[Fault]) -> bool, deadline: Instant) -> Vec<Fault> {
    let mut chunk = (cur.len() / 2).max(1);
    loop {
        let mut i = 0;
        let mut removed = false;
        while i < cur.len() {
            if Instant::now() >= deadline {
                return cur;
            }
            let end = (i + chunk).min(cur.len());
            let candidate: Vec<Fault> = cur[..i].iter().chain(&cur[end..]).cloned().collect();
            if fails(&candidate) {
                cur = candidate;
                removed = true;
            } else {
                i = end;
            }
        }
        if chunk == 1 && !removed {
            return cur;
        }
        chunk = (chunk / 2).max(1);
    }
}

fn header(config: &Path, seed: u64, sig: &Signature, detail: &str, shrunk: bool) -> String {
    let what = if shrunk { "shrunk: only the happenings needed for the failure" } else { "the whole run" };
    format!(
        "# Found by `baton sim explore {}` at seed {seed} ({what}).\n# Failure: {sig}\n# Found: {}\n# Replay: baton sim run FILE (exit 1 while the failure is there).\n",
        config.display(),
        detail.replace('\n', " ")
    )
}

pub(super) fn happenings(faults: &[Fault]) -> usize {
    faults.iter().map(|f| f.steps.len()).sum()
}

/// Replays a written file; `None` when it fails the same way, else what it did.
pub(super) fn replay(path: &Path, sig: &Signature) -> Option<String> {
    match crate::run_file(path, None) {
        Err(problems) => Some(format!("{}: {}", path.display(), problems.join("; "))),
        Ok(report) => match Signature::of_report(&report) {
            Some(s) if s == *sig => None,
            Some(s) => Some(format!("{} fails differently: {s}", path.display())),
            None => Some(format!("{} passes", path.display())),
        },
    }
}

/// Writes the full and the shrunk scenario of a failing seed into `out_dir` and
/// replays both. `Err` when the seed does not fail or a file cannot be written.
pub fn write_failure(
    ctx: &Ctx,
    config_path: &Path,
    allowed: &[FaultKind],
    seed: u64,
    out_dir: &Path,
    budget: Duration,
) -> Result<Written, String> {
    let schedule = super::draw(&ctx.cfg, &ctx.facts, allowed, seed, &ctx.limits);
    write_schedule(ctx, config_path, seed, &schedule.faults, &schedule.knobs, out_dir, budget)
}

/// Writes the whole run of a seed that showed a documented hazard (split brain in a
/// run that allowed it) as `STEM-seedN.hazard.scenario` in `out_dir`, so that it can be
/// examined with `baton sim run --trace` and `baton log why`. The file expects the
/// split brain, so it passes while the hazard is there. Returns its path.
pub fn write_hazard(
    ctx: &Ctx,
    config_path: &Path,
    allowed: &[FaultKind],
    seed: u64,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let schedule = super::draw(&ctx.cfg, &ctx.facts, allowed, seed, &ctx.limits);
    let result = run::run(ctx, seed, &schedule.faults, &schedule.knobs);
    if result.split_groups.is_empty() {
        return Err(format!("seed {seed} shows no hazard"));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: cannot create: {e}", out_dir.display()))?;
    let rel = relative_path(out_dir, config_path).display().to_string();
    let stem = config_path.file_stem().map_or("config".into(), |s| s.to_string_lossy().to_string());
    let path = out_dir.join(format!("{stem}-seed{seed}.hazard.scenario"));
    let how = if result.mechanism.is_empty() {
        "matches no documented rule: a failure (issue 14 §19)"
    } else {
        result.mechanism
    };
    let text = format!(
        "# Found by `baton sim explore {}` at seed {seed}: a documented hazard, not a failure.\n\
         # Split brain of {}, {how}.\n# Examine: baton sim run FILE --trace DIR; baton log why DIR …\n",
        config_path.display(),
        result.split_groups.join(", "),
    ) + &scenario_of(&result, &rel).to_string();
    std::fs::write(&path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(path)
}

/// [`write_failure`] for a given schedule (the explorer's, or a test's).
pub fn write_schedule(
    ctx: &Ctx,
    config_path: &Path,
    seed: u64,
    faults: &[Fault],
    knobs: &Knobs,
    out_dir: &Path,
    budget: Duration,
) -> Result<Written, String> {
    let result = run::run(ctx, seed, faults, knobs);
    let Some(failure) = result.failure.clone() else {
        return Err(format!("seed {seed} does not fail"));
    };
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: cannot create: {e}", out_dir.display()))?;
    let rel = relative_path(out_dir, config_path).display().to_string();
    let stem = config_path.file_stem().map_or("config".into(), |s| s.to_string_lossy().to_string());
    let full = out_dir.join(format!("{stem}-seed{seed}.scenario"));
    let min = out_dir.join(format!("{stem}-seed{seed}.min.scenario"));
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
    };
    write(
        &full,
        header(config_path, seed, &failure.sig, &failure.detail, false) + &scenario_of(&result, &rel).to_string(),
    )?;
    let shrunk = shrink(ctx, seed, faults.to_vec(), knobs, &failure.sig, budget);
    let small = run::run(ctx, seed, &shrunk, knobs);
    let detail = small.failure.as_ref().map_or(failure.detail.clone(), |f| f.detail.clone());
    write(&min, header(config_path, seed, &failure.sig, &detail, true) + &scenario_of(&small, &rel).to_string())?;
    let notes: Vec<String> = [replay(&full, &failure.sig), replay(&min, &failure.sig)].into_iter().flatten().collect();
    Ok(Written {
        seed,
        sig: failure.sig,
        full,
        min,
        happenings_full: happenings(faults),
        happenings_min: happenings(&shrunk),
        reproduced: notes.is_empty(),
        note: notes.join("; "),
    })
}
