//! `baton alert test [--config FILE] [--server NAME] [--only ALERT]`: sends a test
//! alert through every `[[alert]]` of the cluster file, now, from this machine, as the
//! daemon would (same code: [`crate::observe::alerts::send`]), so that an operator sees
//! that syslog, the webhook or the command work before an event needs them.
//!
//! In: the cluster file. Out: one line per alert (`ok` or why not); exit 0 if every
//! alert was delivered, 1 if one was not, 2 for bad input (an invalid file, no
//! `[[alert]]`, an unknown `--only`).

use crate::observe::alerts;
use std::path::Path;
use std::process::ExitCode;

fn bad(msg: &str) -> ExitCode {
    eprintln!("baton alert test: {msg}");
    ExitCode::from(2)
}

pub fn test(file: &Path, server: Option<&str>, only: Option<&str>) -> ExitCode {
    let text = match baton_sim::input_file::read_text(file) {
        Ok(t) => t,
        Err(e) => return bad(&e),
    };
    let name = file.display().to_string();
    let cfg = match baton_core::config::parse(&name, &text) {
        Ok(c) => c.config,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return bad(&format!("{name}: invalid configuration (run `baton config check {name}`)"));
        }
    };
    let chosen: Vec<_> = cfg.observe.alerts.iter().filter(|a| only.is_none_or(|o| a.name == o)).collect();
    if chosen.is_empty() {
        let known: Vec<&str> = cfg.observe.alerts.iter().map(|a| a.name.as_str()).collect();
        return match only {
            Some(o) => bad(&format!("{name} has no alert named {o} (alerts: {})", known.join(", "))),
            None => bad(&format!("{name} has no [[alert]] table: nothing to test (docs/alerts.md)")),
        };
    }
    let server = server.map(str::to_string).or_else(crate::daemon_cmd::host_name).unwrap_or_else(|| "-".to_string());
    let record = alerts::test_record(&cfg, &server);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("baton alert test: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut failed = 0;
    for alert in chosen {
        let sink = alerts::sink_word(&alert.sink);
        match runtime.block_on(alerts::send(alert, &record, true)) {
            Ok(()) => println!("{} ({sink}): ok", alert.name),
            Err(e) => {
                failed += 1;
                println!("{} ({sink}): FAILED: {e}", alert.name);
            }
        }
    }
    if failed > 0 {
        eprintln!("baton alert test: {failed} alert(s) not delivered");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
