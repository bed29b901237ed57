//! Every scenario of `examples/scenarios/` and `tests/scenarios/` passes, and a second
//! run with the same seed prints the same digest (a run is a function of its inputs).

use baton_tests::scenarios;

fn run_all(dir: &str) {
    let files = scenarios(dir);
    assert!(!files.is_empty(), "no scenarios found in {dir}");
    let mut failures = Vec::new();
    for f in &files {
        let first = match baton_sim::run_file(f, None) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: does not load:\n  {}", f.display(), e.join("\n  ")));
                continue;
            }
        };
        if !first.passed() {
            let fails: Vec<String> = first
                .outcomes
                .iter()
                .filter(|o| !o.ok)
                .map(|o| format!("line {}: {} -- {}", o.line, o.text, o.detail))
                .chain(first.breaches.iter().map(|b| format!("at {} ms: {}", b.at_ms, b.text)))
                .collect();
            failures.push(format!("{}:\n  {}", f.display(), fails.join("\n  ")));
        }
        let second = baton_sim::run_file(f, None).expect("loaded once already");
        assert_eq!(first.digest, second.digest, "{}: two runs with the same seed differ", f.display());
    }
    assert!(failures.is_empty(), "{} of {} scenarios failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn example_scenarios_pass_and_replay_identically() {
    run_all("examples/scenarios");
}

#[test]
fn behaviour_scenarios_pass_and_replay_identically() {
    run_all("tests/scenarios");
}

#[test]
fn bugs_found_by_exploration_stay_fixed() {
    run_all("tests/explore-found");
}

#[test]
fn another_seed_changes_nothing_without_randomness_but_is_honoured() {
    // No loss knob in the example: the seed has nothing to draw, the outcome holds.
    let f = baton_tests::root().join("examples/scenarios/04-failover-on-crash.scenario");
    let a = baton_sim::run_file(&f, Some(7)).expect("loads");
    assert!(a.passed());
    assert_eq!(a.seed, 7);
}
