//! The `baton` command line.
//!
//! In: the command line. Out: the command's output on stdout, problems on stderr,
//! and the exit code: 0 success, 1 a scenario expectation or invariant failed, 2 bad
//! input (a usage error, an invalid file) with a message saying what to do.

mod bench;
mod config_cmd;
mod sim_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "baton", version, about = "baton: a high-availability cluster manager with a simulated, replayable decision core")]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Check or show a cluster file.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
    /// Try a configuration against failures in the deterministic simulator.
    Sim {
        #[command(subcommand)]
        command: SimCmd,
    },
    /// Measure the core and the simulator (see docs/benchmarks.md).
    Bench {
        /// Only run the named benchmark: core, sim, placement.
        #[arg(long)]
        only: Option<String>,
        /// Shorter runs (for CI smoke checks); the numbers are then indicative only.
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// List every problem as FILE:LINE:COL: reason (exit 2), or print a summary (exit 0).
    Check { file: PathBuf },
    /// Print the resolved configuration with every default filled in.
    Show { file: PathBuf },
}

#[derive(Subcommand)]
enum SimCmd {
    /// Play a scenario file: timeline, expectation results, digest.
    Run {
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Write the run's events (every server) to this file as JSON lines.
        #[arg(long)]
        trace: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Top::Config { command: ConfigCmd::Check { file } } => config_cmd::check(&file),
        Top::Config { command: ConfigCmd::Show { file } } => config_cmd::show(&file),
        Top::Sim { command: SimCmd::Run { file, seed, json, trace } } => sim_cmd::run(&file, seed, json, trace.as_deref()),
        Top::Bench { only, quick } => bench::run(only.as_deref(), quick),
    }
}
