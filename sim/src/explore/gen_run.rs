//! Exploring generated configurations: each seed draws a configuration
//! (`generate.rs`), checks it with the loader `baton config check` uses, then draws
//! and plays a fault schedule on it exactly as for a given configuration.
//!
//! In: the fault kinds, the [`Limits`], the seeds ([`Options`]). Out: a [`Summary`]
//! whose outcomes also carry a few tags of each configuration (server count,
//! resolver units, storage), and the context of one seed for writing a failure.
//!
//! A generated configuration the checker refuses is reported as a failure of its
//! own kind (`generator: …`): it is a bug of the generator, not of the core.

use super::gen_spec::{ResKind, Spec};
use super::generate::generate;
use super::run::{Ctx, Signature};
use super::schedule::Limits;
use super::{explore_seed, explore_with, FaultKind, Options, SeedOutcome, Summary};
use std::sync::Arc;

/// The signature of a refused generated configuration.
pub const GENERATOR_REFUSED: &str = "generator: configuration refused by the checker";

/// Short tags describing a configuration, counted in the summary so that the mix
/// of what was explored shows.
pub fn tags(spec: &Spec) -> Vec<String> {
    let mut out = vec![format!("{} servers", spec.servers.len())];
    if spec.units.is_empty() {
        out.push("np none".into());
    }
    for u in &spec.units {
        out.push(format!("np {}", u.combo.name()));
    }
    let kinds: Vec<&ResKind> = spec.groups.iter().flat_map(|g| g.resources.iter().map(|r| &r.kind)).collect();
    for (word, tag) in [("mirror-disk", "mirror-disk"), ("hybrid-disk", "hybrid-disk"), ("disk", "shared disk")] {
        if kinds.iter().any(|k| k.word() == word) {
            out.push(tag.into());
        }
    }
    out
}

/// The context of `seed`'s generated configuration: its spec, cluster file text and
/// explorer context. `Err`: the checker's problems (a generator bug).
pub fn generated_ctx(seed: u64, limits: &Limits) -> Result<(Spec, String, Ctx), Vec<String>> {
    let (spec, text, cfg) = generate(seed)?;
    Ok((spec, text, Ctx::new(Arc::new(cfg), limits.clone())))
}

/// Generates, draws and plays one seed.
pub fn generated_seed(allowed: &[FaultKind], limits: &Limits, seed: u64) -> SeedOutcome {
    match generated_ctx(seed, limits) {
        Ok((spec, _, ctx)) => {
            let (_, result) = explore_seed(&ctx, allowed, seed);
            let mut o = SeedOutcome::of(&result);
            o.config_tags = tags(&spec);
            o
        }
        Err(problems) => SeedOutcome {
            seed,
            sim_ms: 0,
            inputs: 0,
            faults: Default::default(),
            failure: Some((Signature::Invariant(GENERATOR_REFUSED.into()), problems.join("; "))),
            allowed_split: false,
            split_groups: Vec::new(),
            mutual_verdict: false,
            mechanism: "",
            explained: Vec::new(),
            config_tags: vec!["refused".into()],
        },
    }
}

/// Explores generated configurations, one per seed.
pub fn explore_generated(opts: &Options, limits: &Limits, progress: &(dyn Fn(&SeedOutcome) + Sync)) -> Summary {
    explore_with(opts, progress, &|seed| generated_seed(&opts.allowed, limits, seed))
}
