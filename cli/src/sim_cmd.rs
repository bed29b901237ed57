//! `baton sim run`: play a scenario and print its timeline, results and digest.
//!
//! In: a scenario path, an optional seed, output options. Out: the report; exit 0 when
//! every expectation holds, 1 when one fails or an invariant breaks, 2 when a file is
//! malformed (each problem as `FILE:LINE: reason`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, seed: Option<u64>, json: bool, trace: Option<&Path>) -> ExitCode {
    let report = match baton_sim::run_file(file, seed) {
        Ok(r) => r,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return ExitCode::from(2);
        }
    };
    if let Some(path) = trace {
        if let Err(e) = write_trace(&report, path) {
            eprintln!("{}: cannot write the trace: {e}", path.display());
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

/// The run's events, one JSON object a line.
fn write_trace(report: &baton_sim::Report, path: &Path) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    if let Some(events) = report.json().get("timeline").and_then(|t| t.as_array()) {
        for e in events {
            writeln!(f, "{e}")?;
        }
    }
    f.flush()
}
