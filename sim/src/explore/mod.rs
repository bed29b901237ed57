//! Random fault exploration (`baton sim explore`): many seeds, each drawing a fault
//! schedule, played in the simulator with the invariants checked at every step, then
//! healed and checked for liveness. Failures become scenario files that replay them,
//! shrunk to the happenings that matter.
//!
//! In: a configuration (and its path, for the scenario files), [`Options`] (fault
//! kinds, seeds or a wall-clock budget, threads). Out: a [`Summary`] (seeds, simulated
//! time, faults by kind, failures, documented hazards, explained offline groups) and,
//! through [`write_failure`], `.scenario` files.
//!
//! Files: `faults` (fault kinds, what a configuration makes of them), `schedule` (the
//! swarm draw), `run` (playing one schedule, the heal), `hazard`
//! (the documented rule behind a split brain), `liveness` (the check after
//! the heal; `liveness_holder`, its reasons about a last holder that left unseen),
//! `shrink` (shrinking, writing and replaying failures), `summary` (the totals and
//! their text). Generated configurations (`--generate`): `generate` (the
//! swarm draw of a configuration), `gen_spec` (its model and TOML rendering),
//! `gen_run` (one configuration per seed), `gen_shrink` (smaller configurations),
//! `gen_write` (a failing seed as configuration + scenario pairs, shrunk), `gen_hazard`
//! (an undocumented split brain written the same way, `--hazards-out`).
//!
//! Split brain: runs whose schedule holds a fault that can make two live servers lose
//! each other, on a configuration with a split-prone pair (see `faults.rs`), run with
//! `allow_split_brain` and report a split brain as a documented hazard; every other
//! run treats it as an invariant breach. Seeds whose swarm draw leaves those kinds
//! out keep split brain a failure even on ping configurations.
//!
//! Results do not depend on the number of threads: each seed's run is a function of
//! (configuration, seed, fault kinds), and results are folded in seed order. Threads
//! claim the next seed from a shared counter, so a wall-clock budget always ends on a
//! contiguous range of seeds.

#[cfg(test)]
mod clock_tests;
mod faults;
pub mod gen_hazard;
pub mod gen_run;
pub mod gen_shrink;
pub mod gen_spec;
#[cfg(test)]
mod gen_tests;
pub mod gen_write;
pub mod generate;
mod hazard;
mod liveness;
mod liveness_holder;
mod run;
mod schedule;
mod shrink;
mod summary;
#[cfg(test)]
mod tests;

pub use faults::{ConfigFacts, FaultKind};
pub use liveness::Verdict;
pub use run::{liveness_bound, Ctx, Failure, Play, RunResult, Signature};
pub use schedule::{draw, Fault, Limits, Schedule};
pub use shrink::{relative_path, scenario_of, shrink, write_failure, write_hazard, write_schedule, Written};
pub use summary::{SeedOutcome, Summary};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When exploration stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this many seeds.
    Seeds(u64),
    /// When this much wall-clock time has passed (seeds started by then finish).
    Wall(Duration),
}

/// What to explore.
#[derive(Clone, Debug)]
pub struct Options {
    pub allowed: Vec<FaultKind>,
    pub seed_start: u64,
    pub stop: Stop,
    pub jobs: usize,
}

/// Draws and runs one seed.
pub fn explore_seed(ctx: &Ctx, allowed: &[FaultKind], seed: u64) -> (Schedule, RunResult) {
    let schedule = draw(&ctx.cfg, &ctx.facts, allowed, seed, &ctx.limits);
    let result = run::run(ctx, seed, &schedule.faults, &schedule.knobs);
    (schedule, result)
}

/// Explores seeds from `opts.seed_start` on `opts.jobs` threads. `progress` is called
/// from the worker threads after each seed with its outcome.
pub fn explore(ctx: &Ctx, opts: &Options, progress: &(dyn Fn(&SeedOutcome) + Sync)) -> Summary {
    explore_with(opts, progress, &|seed| {
        let (_, result) = explore_seed(ctx, &opts.allowed, seed);
        SeedOutcome::of(&result)
    })
}

/// The seed loop shared by one configuration and generated ones: `run_seed` plays one
/// seed; outcomes are folded in seed order whatever the number of threads.
pub fn explore_with(
    opts: &Options,
    progress: &(dyn Fn(&SeedOutcome) + Sync),
    run_seed: &(dyn Fn(u64) -> SeedOutcome + Sync),
) -> Summary {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let done: Mutex<Vec<SeedOutcome>> = Mutex::new(Vec::new());
    let worker = || {
        let mut local = Vec::new();
        loop {
            let stop = match opts.stop {
                Stop::Seeds(n) => next.load(Ordering::Relaxed) >= n,
                Stop::Wall(d) => started.elapsed() >= d,
            };
            if stop {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            if let Stop::Seeds(n) = opts.stop {
                if i >= n {
                    break;
                }
            }
            let seed = opts.seed_start.wrapping_add(i);
            let outcome = run_seed(seed);
            progress(&outcome);
            local.push(outcome);
        }
        done.lock().expect("no worker panicked").extend(local);
    };
    let jobs = opts.jobs.max(1);
    if jobs == 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(worker);
            }
        });
    }
    let mut outcomes = done.into_inner().expect("no worker panicked");
    outcomes.sort_by_key(|o| o.seed.wrapping_sub(opts.seed_start));
    let mut summary = Summary::default();
    for o in &outcomes {
        summary.add(o);
    }
    summary.wall = started.elapsed();
    summary
}
