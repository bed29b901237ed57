//! `baton config timing FILE [--json]`: prints the failover-time budget the core
//! predicts from the configuration (`baton_core::config::timing`, issue 12).
//!
//! In: a cluster file. Out: per group and failure the best and worst outage with each
//! term and its rules, as text or as one JSON document (`{"cases": [...]}`); exit 0,
//! or 2 with the file's problems.

use crate::config_cmd::load;
use baton_core::config::timing::{predict, Case};
use std::path::Path;
use std::process::ExitCode;

pub fn timing(file: &Path, json: bool) -> ExitCode {
    let c = match load(file, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cases = predict(&c.config);
    if json {
        match serde_json::to_string_pretty(&serde_json::json!({ "cases": cases })) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("baton: cannot write the timing as JSON: {e}");
                return ExitCode::from(1);
            }
        }
        return ExitCode::SUCCESS;
    }
    for case in &cases {
        print_case(case);
    }
    ExitCode::SUCCESS
}

fn print_case(case: &Case) {
    let monitor = case.monitor.as_ref().map(|m| format!(" of monitor {m}")).unwrap_or_default();
    let head = format!("group {} on {}, {}{monitor}", case.group, case.home, case.failure.name());
    let Some(terms) = &case.terms else {
        println!("{head}: {}", case.why.as_deref().unwrap_or("no takeover"));
        return;
    };
    println!("{head}: outage {} to {} ms (to {})", case.best_ms, case.worst_ms, case.target);
    for t in terms {
        println!("  {:>9} to {:>9} ms  {}  [{}]", t.best_ms, t.worst_ms, t.what, t.rules);
    }
}
