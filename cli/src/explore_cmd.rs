//! `baton sim explore`: random fault schedules against a configuration, with the
//! invariants checked at every step and liveness after healing (docs/testing.md).
//!
//! In: a cluster file and the options below. Out: a progress bar on stderr (on a
//! terminal, unless `--quiet`), the summary on stdout, one full and one shrunk
//! `.scenario` file per distinct failure in `--out` (with `--generate`, each with its
//! generated configuration and a shrunk configuration too); exit 0 when no seed failed, 1
//! when one did, 2 on bad input (an invalid cluster file, an unknown fault kind, a
//! bad duration), 3 when `--time` ended seeds still running (none of those finished failed).

use baton_sim::explore::{self, Ctx, FaultKind, Limits, Options, SeedOutcome, Stop};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ExploreArgs {
    /// The cluster file to explore (leave out with --generate).
    #[arg(required_unless_present = "generate", conflicts_with = "generate")]
    config: Option<PathBuf>,
    /// Draw a configuration for every seed instead of exploring one file; failures
    /// are written with their configuration (gen-seedN.toml) and a shrunk pair.
    #[arg(long)]
    generate: bool,
    /// How many seeds to run (default 1000 unless --time is given).
    #[arg(long, conflicts_with = "time")]
    seeds: Option<u64>,
    /// Run seeds until this much wall-clock time has passed (e.g. 10m, 1h). A hard
    /// limit: seeds still running 1 s after it are abandoned (the summary counts the
    /// seeds finished; exit 1 if one of them failed, 3 otherwise). Writing failures
    /// afterwards has its own budget, --shrink-time per failure.
    #[arg(long)]
    time: Option<String>,
    /// Only these fault kinds, a comma list (default: all). Kinds: crash, shutdown,
    /// partition, isolate, one-way, hb-cut, loss, target, disk-fail, disk-slow,
    /// activation, deactivation, monitor, stall, serial, write, group-cmd, return,
    /// monitor-cmd, suspend.
    #[arg(long)]
    faults: Option<String>,
    /// Threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Where failing seeds are written as scenario files.
    #[arg(long, default_value = "explore-failures")]
    out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Wall-clock budget for shrinking each failure.
    #[arg(long, default_value = "1m")]
    shrink_time: String,
    /// At most this many failing seeds are written and shrunk (the first of each
    /// distinct failure first).
    #[arg(long, default_value_t = 10)]
    max_written: usize,
    /// Also write every seed that showed a documented hazard (split brain where the
    /// rules allow it) into this directory as STEM-seedN.hazard.scenario, to examine
    /// with `baton sim run --trace`. With --generate: every undocumented split brain
    /// (a failure), as gen-seedN.toml + gen-seedN.hazard.scenario and a shrunk pair
    /// gen-seedN.min.toml + gen-seedN.min.hazard.scenario (at most --max-written,
    /// --shrink-time each).
    #[arg(long)]
    hazards_out: Option<PathBuf>,
}

fn bad(message: String) -> ExitCode {
    eprintln!("baton sim explore: {message}");
    ExitCode::from(2)
}

pub fn run(args: &ExploreArgs) -> ExitCode {
    let common = match common(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match &args.config {
        Some(path) => run_config(args, path, common),
        None => run_generated(args, common),
    }
}

/// What both forms take from the command line.
struct Common {
    allowed: Vec<FaultKind>,
    stop: Stop,
    shrink_time: Duration,
    jobs: usize,
}

fn common(args: &ExploreArgs) -> Result<Common, ExitCode> {
    let allowed = match &args.faults {
        Some(list) => match FaultKind::parse_list(list) {
            Ok(k) => k,
            Err(e) => return Err(bad(e)),
        },
        None => FaultKind::ALL.to_vec(),
    };
    let stop = match (&args.time, args.seeds) {
        (Some(t), _) => match baton_sim::scenario::parse_duration_ms(t) {
            Ok(ms) if ms > 0 => Stop::Wall(Duration::from_millis(ms)),
            Ok(_) => return Err(bad("--time must be positive".into())),
            Err(e) => return Err(bad(format!("--time: {e}"))),
        },
        (None, Some(n)) => Stop::Seeds(n),
        (None, None) => Stop::Seeds(1000),
    };
    let shrink_time = match baton_sim::scenario::parse_duration_ms(&args.shrink_time) {
        Ok(ms) => Duration::from_millis(ms),
        Err(e) => return Err(bad(format!("--shrink-time: {e}"))),
    };
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    Ok(Common { allowed, stop, shrink_time, jobs })
}

fn run_config(args: &ExploreArgs, config: &Path, c: Common) -> ExitCode {
    // Loaded exactly as the scenario player loads it, so that written scenarios replay
    // the same configuration.
    let name = config.display().to_string();
    let text = match baton_sim::input_file::read_text(config) {
        Ok(t) => t,
        Err(e) => return bad(format!("{e} (the cluster file)")),
    };
    let cfg = match baton_core::config::parse(&name, &text) {
        Ok(c) => Arc::new(c.config),
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            return bad(format!("{name}: {} problem(s); fix them with `baton config check`", diags.len()));
        }
    };
    let Common { allowed, stop, shrink_time, jobs } = c;
    let ctx = Ctx::new(cfg, Limits::default());
    let opts = Options { allowed: allowed.clone(), seed_start: args.seed_start, stop, jobs };
    let (bar, progress, counts) = progress(stop, args.quiet);
    let _watchdog = Watchdog::start(stop, bar.clone(), counts);
    let summary = explore::explore(&ctx, &opts, &progress);
    bar.finish_and_clear();

    println!("baton sim explore {} ({} thread(s))", config.display(), jobs);
    print!("{}", summary.text());
    if let Some(dir) = &args.hazards_out {
        write_hazards(&summary, &|seed| explore::write_hazard(&ctx, config, &allowed, seed, dir));
    }
    // A split brain matching no documented rule is a failure (the summary lists its
    // seeds; `--hazards-out` writes them as scenarios).
    let undocumented = !summary.undocumented_splits().is_empty();
    if summary.failures.is_empty() {
        return if undocumented { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }
    let write = |seed| explore::write_failure(&ctx, config, &allowed, seed, &args.out, shrink_time);
    write_failures(&summary, &write, args.max_written);
    ExitCode::from(1)
}

fn run_generated(args: &ExploreArgs, c: Common) -> ExitCode {
    let Common { allowed, stop, shrink_time, jobs } = c;
    let limits = Limits::default();
    let opts = Options { allowed: allowed.clone(), seed_start: args.seed_start, stop, jobs };
    let (bar, progress, counts) = progress(stop, args.quiet);
    let _watchdog = Watchdog::start(stop, bar.clone(), counts);
    let summary = explore::gen_run::explore_generated(&opts, &limits, &progress);
    bar.finish_and_clear();

    println!("baton sim explore --generate ({} thread(s))", jobs);
    print!("{}", summary.text());
    if let Some(dir) = &args.hazards_out {
        let write = |seed| explore::gen_hazard::write_generated_hazard(&allowed, &limits, seed, dir, shrink_time);
        write_generated_hazards(&summary, &write, args.max_written);
    }
    // As for one configuration: an undocumented split brain is a failure.
    let undocumented = !summary.undocumented_splits().is_empty();
    if summary.failures.is_empty() {
        return if undocumented { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }
    let write = |seed| explore::gen_write::write_generated(&allowed, &limits, seed, &args.out, shrink_time);
    write_failures(&summary, &write, args.max_written);
    ExitCode::from(1)
}

/// Seeds finished and seeds failed so far, shared by the progress callback and the
/// watchdog.
#[derive(Default)]
struct Counts {
    seeds: AtomicU64,
    failures: AtomicU64,
}

/// How long seeds in hand may run past `--time` before the process ends without them.
const TIME_GRACE: Duration = Duration::from_secs(1);

/// Makes `--time` a hard limit (issue 14 §6): workers stop taking seeds at the limit,
/// but a seed in hand runs to its end, which a slow configuration can make minutes;
/// the watchdog ends the process `TIME_GRACE` later if exploration has not returned.
/// Dropping it (exploration returned) stops it.
struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(stop: Stop, bar: ProgressBar, counts: Arc<Counts>) -> Watchdog {
        let Stop::Wall(limit) = stop else { return Watchdog { done: None, thread: None } };
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // Waits on the channel with a deadline: a message or a hang-up means done.
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit + TIME_GRACE) {
                bar.finish_and_clear();
                let (n, f) = (counts.seeds.load(Ordering::Relaxed), counts.failures.load(Ordering::Relaxed));
                println!(
                    "baton sim explore: --time {} reached with seeds still running: they are abandoned",
                    baton_sim::scenario::format_duration(limit.as_millis() as u64)
                );
                println!("{n} seed(s) finished, {f} failed (failures are not written: run them with --seeds)");
                std::process::exit(if f > 0 { 1 } else { 3 });
            }
        });
        Watchdog { done: Some(done), thread: Some(thread) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The progress bar and the per-seed callback that moves it.
fn progress(stop: Stop, quiet: bool) -> (ProgressBar, impl Fn(&SeedOutcome) + Sync, Arc<Counts>) {
    let bar = progress_bar(stop, quiet);
    let started = Instant::now();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    // The bar is a shared handle: the callback moves its own copy.
    let b = bar.clone();
    let progress = move |o: &SeedOutcome| {
        let bar = &b;
        let failed = u64::from(o.failure.is_some());
        let n = c.seeds.fetch_add(1, Ordering::Relaxed) + 1;
        let f = c.failures.fetch_add(failed, Ordering::Relaxed) + failed;
        match stop {
            Stop::Seeds(_) => bar.set_position(n),
            Stop::Wall(_) => bar.set_position(started.elapsed().as_secs()),
        }
        bar.set_message(format!("{n} seeds, {f} failing"));
    };
    (bar, progress, counts)
}

fn progress_bar(stop: Stop, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (len, unit) = match stop {
        Stop::Seeds(n) => (n, "seeds"),
        Stop::Wall(d) => (d.as_secs().max(1), "s"),
    };
    let bar = ProgressBar::new(len);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit}  {{msg}}  eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Writes every hazard seed as a scenario (`--hazards-out`).
fn write_hazards(summary: &explore::Summary, write: &dyn Fn(u64) -> Result<PathBuf, String>) {
    println!();
    for h in &summary.hazards {
        match write(h.seed) {
            Ok(path) => println!("hazard seed {}: {}", h.seed, path.display()),
            Err(e) => println!("hazard seed {}: {e}", h.seed),
        }
    }
}

/// Writes and shrinks every undocumented split brain of generated seeds, `max` in all.
fn write_generated_hazards(
    summary: &explore::Summary,
    write: &dyn Fn(u64) -> Result<explore::gen_hazard::WrittenHazard, String>,
    max: usize,
) {
    println!();
    let seeds = summary.undocumented_splits();
    for seed in seeds.iter().copied().take(max) {
        match write(seed) {
            Ok(w) => {
                let verdict = if w.reproduced {
                    "both replay the split brain".to_string()
                } else {
                    format!("REPLAY MISMATCH: {}", w.note)
                };
                println!("hazard seed {seed}: undocumented split brain of {}", w.group);
                println!("  {} ({} happenings)", w.full.display(), w.happenings_full);
                println!("  {} ({} happenings, shrunk): {verdict}", w.min.display(), w.happenings_min);
            }
            Err(e) => println!("hazard seed {seed}: {e}"),
        }
    }
    if seeds.len() > max {
        println!("({} more undocumented split brains not written: raise --max-written)", seeds.len() - max);
    }
}

/// Writes and shrinks failing seeds: the first seed of each distinct failure first,
/// then further seeds in order, `max` in all.
fn write_failures(summary: &explore::Summary, write: &dyn Fn(u64) -> Result<explore::Written, String>, max: usize) {
    println!();
    let kinds = summary.failure_kinds();
    let mut seeds: Vec<u64> = kinds.iter().map(|(_, s)| s[0]).collect();
    seeds.extend(summary.failures.iter().map(|(s, _, _)| *s).filter(|s| !kinds.iter().any(|(_, k)| k[0] == *s)));
    for seed in seeds.iter().copied().take(max) {
        match write(seed) {
            Ok(w) => {
                let verdict = if w.reproduced {
                    "both replay the failure".to_string()
                } else {
                    format!("REPLAY MISMATCH: {}", w.note)
                };
                println!("seed {seed}: {}", w.sig);
                println!("  {} ({} happenings)", w.full.display(), w.happenings_full);
                println!("  {} ({} happenings, shrunk): {verdict}", w.min.display(), w.happenings_min);
            }
            Err(e) => println!("seed {seed}: {e}"),
        }
    }
    if seeds.len() > max {
        println!("({} more failing seeds not written: raise --max-written)", seeds.len() - max);
    }
}
