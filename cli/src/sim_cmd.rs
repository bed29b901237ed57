//! `baton sim run`: play a scenario and print its timeline, results and digest.
//!
//! In: a scenario path, an optional seed, output options. Out: the report; exit 0 when
//! every expectation holds, 1 when one fails or an invariant breaks, 2 when a file is
//! malformed (each problem as `FILE:LINE: reason`) or `--trace`/`--html` cannot be
//! written.

use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, seed: Option<u64>, json: bool, trace: Option<&Path>, html: Option<&Path>) -> ExitCode {
    // The picture replays each server's records, so it needs the traces too.
    let result = match (trace, html) {
        (Some(_), _) | (_, Some(_)) => baton_sim::run_file_traced(file, seed),
        (None, None) => baton_sim::run_file(file, seed),
    };
    let report = match result {
        Ok(r) => r,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = trace {
        if let Err(e) = crate::log_cmd::write_traces(&report, dir) {
            eprintln!("cannot write the event logs: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(out) = html {
        // The scenario read once more for its steps (the run read it without error).
        let steps = baton_sim::load(file).map(|(sc, _)| sc.steps).unwrap_or_default();
        let title = format!("{} (seed {})", file.display(), report.seed);
        let picture = crate::timeline::of_sim_run(title, &report, &steps);
        if let Err(e) = crate::timeline::write(&picture, out, &baton_sim::player::fmt_time) {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report.json()).expect("json"));
    } else {
        print!("{}", report.text());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
