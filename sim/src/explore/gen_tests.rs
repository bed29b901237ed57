//! Tests of configuration generation: every drawn configuration passes the checker,
//! the same seed gives the same file, and every feature appears over some seeds.
//!
//! In: seeds only. Out: assertions.

use super::generate::{draw_spec, generate};

#[test]
fn every_generated_configuration_passes_the_checker() {
    let mut bad = Vec::new();
    for seed in 0..3000u64 {
        if let Err(problems) = generate(seed) {
            bad.push(format!("seed {seed}: {}\n{}", problems.join("\n  "), draw_spec(seed).render()));
        }
    }
    if !bad.is_empty() {
        let mut kinds: Vec<String> = bad
            .iter()
            .map(|b| b.lines().next().unwrap_or("").split(": ").skip(2).collect::<Vec<_>>().join(": "))
            .collect();
        kinds.sort();
        kinds.dedup();
        panic!("{} of 3000 seeds refused; kinds:\n{}\nfirst:\n{}", bad.len(), kinds.join("\n"), bad[0]);
    }
}

#[test]
#[ignore]
fn print_seed() {
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    println!("{}", draw_spec(seed).render());
}
