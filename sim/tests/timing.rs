//! `baton config timing` checked by the simulator (issue 12): every predicted case of
//! every example configuration is played (`baton sim run` machinery), and the simulated
//! outage, from the failure to the group's `group-online` on the target, must lie inside
//! the predicted interval.

use baton_core::config::timing::{predict, Failure};
use baton_core::EventKind;
use std::path::Path;
use std::sync::Arc;

/// The failure happens here: every group is online at home long before (boot 1 min).
const FAILURE_MS: u64 = 180_000;

fn configs() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/configs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn simulated_outages_lie_inside_the_predicted_intervals() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in configs() {
        let text = std::fs::read_to_string(&path).expect("config");
        let name = path.file_name().expect("name").to_string_lossy().to_string();
        let cfg = Arc::new(baton_core::config::parse(&name, &text).expect("valid config").config);
        for case in predict(&cfg) {
            if case.terms.is_none() {
                continue; // no takeover predicted: nothing to time
            }
            let happening = match case.failure {
                Failure::Crash => format!("crash {}", case.home),
                Failure::Partition => format!("isolate {}", case.home),
                Failure::MonitorFailure => {
                    format!("monitor {} fail on {}", case.monitor.as_deref().expect("monitor"), case.home)
                }
                Failure::PlannedMove => format!("cmd group move {} --to {}", case.group, case.target),
            };
            let end_ms = FAILURE_MS + case.worst_ms.min(3_600_000) + 1_000;
            let steps = format!(
                "config c.toml\nat 0s boot all\nat {FAILURE_MS}ms expect group {g} online on {h}\nat {FAILURE_MS}ms {happening}\nat {end_ms}ms expect server {t} online\n",
                g = case.group,
                h = case.home,
                t = case.target
            );
            let sc = baton_sim::scenario::parse("t.scenario", &steps).expect("valid scenario");
            let report = baton_sim::play(&sc, cfg.clone(), 1);
            let g = cfg.group_id(&case.group).expect("group");
            let t = cfg.server_id(&case.target).expect("target");
            let online = report.timeline.iter().find(|e| {
                e.at_ms > FAILURE_MS
                    && e.server == t
                    && e.event.kind == EventKind::GroupOnline
                    && e.event.group == Some(g)
            });
            let what = format!("{name}: group {} {:?} {:?}", case.group, case.failure, case.monitor);
            match online {
                None => failures.push(format!(
                    "{what}: never online on {} (predicted {}..{} ms)",
                    case.target, case.best_ms, case.worst_ms
                )),
                Some(e) => {
                    let outage = e.at_ms - FAILURE_MS;
                    println!("{what}: simulated {outage} ms, predicted {} to {} ms", case.best_ms, case.worst_ms);
                    if outage < case.best_ms || outage > case.worst_ms {
                        failures.push(format!(
                            "{what}: simulated {outage} ms outside {}..{} ms",
                            case.best_ms, case.worst_ms
                        ));
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} cases played");
    assert!(failures.is_empty(), "{failures:#?}");
}
