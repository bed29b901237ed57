//! `baton sim run`: play a scenario and print its timeline, results and digest.
//!
//! In: a scenario path, an optional seed, output options. Out: the report; exit 0 when
//! every expectation holds, 1 when one fails or an invariant breaks, 2 when a file is
//! malformed (each problem as `FILE:LINE: reason`).

use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, seed: Option<u64>, json: bool, trace: Option<&Path>) -> ExitCode {
    let result = match trace {
        Some(_) => baton_sim::run_file_traced(file, seed),
        None => baton_sim::run_file(file, seed),
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
