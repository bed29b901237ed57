//! The totals of an exploration and their text.
//!
//! In: one [`SeedOutcome`] per seed, in seed order (the compact part of a
//! `RunResult` that the totals need). Out: a [`Summary`] whose equality ignores the
//! wall-clock time, so runs with different thread counts compare equal, and its
//! rendering for the terminal.

use super::faults::FaultKind;
use super::run::{RunResult, Signature};
use baton_core::config::Ms;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// What the totals keep of one seed's run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedOutcome {
    pub seed: u64,
    pub sim_ms: Ms,
    pub inputs: u64,
    pub faults: BTreeMap<FaultKind, u32>,
    pub failure: Option<(Signature, String)>,
    /// Split brain allowed for this run.
    pub allowed_split: bool,
    /// Groups seen online twice in an allowed run (a documented hazard).
    pub split_groups: Vec<String>,
    pub mutual_verdict: bool,
    /// The rule that allowed the split (`hazard::hazard_mechanism`), empty if none found.
    pub mechanism: &'static str,
    /// Reason kinds of the groups found offline with a documented reason.
    pub explained: Vec<&'static str>,
    /// Tags of a generated configuration (empty when exploring a given one).
    pub config_tags: Vec<String>,
}

impl SeedOutcome {
    pub fn of(r: &RunResult) -> SeedOutcome {
        SeedOutcome {
            seed: r.seed,
            sim_ms: r.end_ms,
            inputs: r.inputs,
            faults: r.faults.clone(),
            failure: r.failure.as_ref().map(|f| (f.sig.clone(), f.detail.clone())),
            allowed_split: r.allowed_split,
            split_groups: r.split_groups.clone(),
            mutual_verdict: r.mutual_verdict,
            mechanism: r.mechanism,
            explained: r.explained.iter().map(|(_, k, _)| *k).collect(),
            config_tags: Vec::new(),
        }
    }
}

/// A documented hazard seen on one seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hazard {
    pub seed: u64,
    pub groups: Vec<String>,
    /// Two split-prone servers each judged the other down (B35, B36, B43): the
    /// documented mechanism. A hazard without it deserves a look.
    pub mutual_verdict: bool,
    /// The documented rule that allowed it; empty when none was recognised.
    pub mechanism: &'static str,
}

/// The totals of an exploration.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub first_seed: Option<u64>,
    pub last_seed: Option<u64>,
    pub sim_ms: u128,
    pub inputs: u64,
    pub faults: BTreeMap<FaultKind, u64>,
    /// Failing seeds with their signature and detail, in seed order.
    pub failures: Vec<(u64, Signature, String)>,
    /// Seeds run with split brain allowed.
    pub allowed_split_runs: u64,
    pub hazards: Vec<Hazard>,
    /// Groups found offline after the heal for a documented reason, by reason kind.
    pub explained: BTreeMap<&'static str, u64>,
    /// Generated configurations (one per seed with `--generate`), and their tags.
    pub configs: u64,
    pub config_tags: BTreeMap<String, u64>,
    /// Wall-clock time (not part of equality).
    pub wall: Duration,
}

impl PartialEq for Summary {
    fn eq(&self, o: &Summary) -> bool {
        (
            self.seeds,
            self.first_seed,
            self.last_seed,
            self.sim_ms,
            self.inputs,
            &self.faults,
            &self.failures,
            self.allowed_split_runs,
            &self.hazards,
            &self.explained,
            self.configs,
            &self.config_tags,
        ) == (
            o.seeds,
            o.first_seed,
            o.last_seed,
            o.sim_ms,
            o.inputs,
            &o.faults,
            &o.failures,
            o.allowed_split_runs,
            &o.hazards,
            &o.explained,
            o.configs,
            &o.config_tags,
        )
    }
}

impl Summary {
    /// Seeds whose split brain, in a run where one was allowed, matches none of the
    /// documented rules (`hazard::hazard_mechanism`): they count as failures (issue 14 §19:
    /// a split brain is either a documented hazard or a failure).
    pub fn undocumented_splits(&self) -> Vec<u64> {
        self.hazards.iter().filter(|h| h.mechanism.is_empty()).map(|h| h.seed).collect()
    }

    pub fn add(&mut self, o: &SeedOutcome) {
        self.seeds += 1;
        self.first_seed.get_or_insert(o.seed);
        self.last_seed = Some(o.seed);
        self.sim_ms += u128::from(o.sim_ms);
        self.inputs += o.inputs;
        for (k, n) in &o.faults {
            *self.faults.entry(*k).or_default() += u64::from(*n);
        }
        if let Some((sig, detail)) = &o.failure {
            self.failures.push((o.seed, sig.clone(), detail.clone()));
        }
        if o.allowed_split {
            self.allowed_split_runs += 1;
        }
        if !o.split_groups.is_empty() {
            self.hazards.push(Hazard {
                seed: o.seed,
                groups: o.split_groups.clone(),
                mutual_verdict: o.mutual_verdict,
                mechanism: o.mechanism,
            });
        }
        for k in &o.explained {
            *self.explained.entry(k).or_default() += 1;
        }
        if !o.config_tags.is_empty() {
            self.configs += 1;
            for t in &o.config_tags {
                *self.config_tags.entry(t.clone()).or_default() += 1;
            }
        }
    }

    /// Failures counted by kind: the invariant (`invariant 1`), `liveness`, or the
    /// generator's refusal.
    pub fn failures_by_kind(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for (_, sig, _) in &self.failures {
            let kind = match sig {
                Signature::Liveness(_) => "liveness".to_string(),
                Signature::Invariant(text) => {
                    let end = [text.find(" ("), text.find(": ")].into_iter().flatten().min().unwrap_or(text.len());
                    text[..end].to_string()
                }
            };
            *out.entry(kind).or_default() += 1;
        }
        out
    }

    /// Distinct failure signatures with their seeds, in order of first appearance.
    pub fn failure_kinds(&self) -> Vec<(Signature, Vec<u64>)> {
        let mut out: Vec<(Signature, Vec<u64>)> = Vec::new();
        for (seed, sig, _) in &self.failures {
            match out.iter_mut().find(|(s, _)| s == sig) {
                Some((_, seeds)) => seeds.push(*seed),
                None => out.push((sig.clone(), vec![*seed])),
            }
        }
        out
    }

    /// The summary as printed at the end of `baton sim explore`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let hours = self.sim_ms as f64 / 3_600_000.0;
        let wall = self.wall.as_secs_f64().max(1e-9);
        let range = match (self.first_seed, self.last_seed) {
            (Some(a), Some(b)) => format!(" (seeds {a}..={b})"),
            _ => String::new(),
        };
        let _ = writeln!(out, "seeds run:       {}{range}", self.seeds);
        if self.configs > 0 {
            let tags: Vec<String> = self.config_tags.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(out, "configurations:  {} generated ({})", self.configs, tags.join(", "));
        }
        let _ = writeln!(out, "simulated time:  {hours:.1} h ({} node inputs)", self.inputs);
        let _ = writeln!(
            out,
            "speed:           {:.1} seeds/s, {:.1} simulated hours per wall second ({:.1} s wall)",
            self.seeds as f64 / wall,
            hours / wall,
            wall
        );
        let faults: Vec<String> = self.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let total: u64 = self.faults.values().sum();
        let _ = writeln!(out, "faults injected: {total} ({})", faults.join(", "));
        let explained: Vec<String> = self.explained.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if explained.is_empty() {
            let _ = writeln!(out, "offline after the heal, explained: none");
        } else {
            let _ = writeln!(out, "offline after the heal, explained: {}", explained.join(", "));
        }
        let _ = writeln!(
            out,
            "documented hazards: {} seed(s) with split brain, out of {} run(s) where it was allowed",
            self.hazards.len(),
            self.allowed_split_runs
        );
        if !self.hazards.is_empty() {
            let mut by_rule: BTreeMap<&str, u64> = BTreeMap::new();
            for h in &self.hazards {
                *by_rule.entry(if h.mechanism.is_empty() { "not recognised" } else { h.mechanism }).or_default() += 1;
            }
            let rules: Vec<String> = by_rule.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let _ = writeln!(out, "  by rule: {}", rules.join("; "));
        }
        let undocumented = self.undocumented_splits();
        if !undocumented.is_empty() {
            let seeds: Vec<String> = undocumented.iter().map(|s| s.to_string()).collect();
            let _ = writeln!(
                out,
                "undocumented split brain: {} seed(s) matching no documented rule, counted as failures \
                 (write them with --hazards-out DIR): seeds {}",
                seeds.len(),
                seeds.join(", ")
            );
        }
        for h in self.hazards.iter().take(10) {
            let note = if h.mechanism.is_empty() {
                "  (matches no documented rule: a failure)".to_string()
            } else {
                format!("  ({})", h.mechanism)
            };
            let _ = writeln!(out, "  seed {}: split brain of {}{note}", h.seed, h.groups.join(", "));
        }
        if self.hazards.len() > 10 {
            let _ = writeln!(out, "  … {} more", self.hazards.len() - 10);
        }
        let by_kind: Vec<String> = self.failures_by_kind().iter().map(|(k, n)| format!("{k} {n}")).collect();
        let kinds = if by_kind.is_empty() { String::new() } else { format!(" ({})", by_kind.join(", ")) };
        let undocumented = self.undocumented_splits().len();
        let extra =
            if undocumented == 0 { String::new() } else { format!("; and {undocumented} undocumented split brain(s)") };
        let _ = writeln!(
            out,
            "failures:        {}{kinds}, {} distinct{extra}",
            self.failures.len(),
            self.failure_kinds().len()
        );
        for (sig, seeds) in self.failure_kinds() {
            let shown: Vec<String> = seeds.iter().take(8).map(|s| s.to_string()).collect();
            let more = if seeds.len() > 8 { format!(" … ({} seeds)", seeds.len()) } else { String::new() };
            let _ = writeln!(out, "  {sig}: seed {}{more}", shown.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hazard(seed: u64, mechanism: &'static str) -> Hazard {
        Hazard { seed, groups: vec!["g1".to_string()], mutual_verdict: false, mechanism }
    }

    #[test]
    fn a_split_brain_matching_no_documented_rule_is_counted_as_a_failure() {
        // Issue 14 §19: a split brain is a documented hazard (its rule named) or a
        // failure; "worth a look" with 0 failures hid two real bugs (AH, AJ).
        let mut s =
            Summary { hazards: vec![hazard(3, "mutual down verdict (B35; B36-B38, B41, B43)")], ..Default::default() };
        assert!(s.undocumented_splits().is_empty());
        assert!(!s.text().contains("undocumented"), "{}", s.text());
        s.hazards.push(hazard(7, ""));
        assert_eq!(s.undocumented_splits(), vec![7]);
        let text = s.text();
        assert!(text.contains("undocumented split brain: 1 seed(s)") && text.contains("seeds 7"), "{text}");
        assert!(text.contains("and 1 undocumented split brain(s)"), "the failures line counts it: {text}");
        assert!(text.contains("seed 7: split brain of g1  (matches no documented rule: a failure)"), "{text}");
    }
}
