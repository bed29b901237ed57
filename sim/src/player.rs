//! Plays a scenario: loads the cluster file it names, runs the simulator step by step,
//! checks each expectation at its instant and the invariants throughout, and builds
//! the report (timeline, results, digest) that `baton sim run` prints.
//!
//! In: a scenario file path (or parsed scenario and configuration) and a seed. Out: a
//! [`Report`], or every problem of the files as `FILE:LINE: reason` lines.

use crate::engine::{Breach, Emitted, Sim};
use crate::scenario::{self, Scenario, Stmt};
use baton_core::config::{Config, Ms};
use baton_core::io::CommandId;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// The result of one expectation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    pub line: usize,
    pub at_ms: Ms,
    pub text: String,
    pub ok: bool,
    /// Why it failed (what was found instead).
    pub detail: String,
}

/// Everything a run produced.
pub struct Report {
    pub cfg: Arc<Config>,
    pub seed: u64,
    pub timeline: Vec<Emitted>,
    pub outcomes: Vec<Outcome>,
    pub breaches: Vec<Breach>,
    pub end_ms: Ms,
    pub digest: String,
    pub inputs_handled: u64,
    /// Each server's log records, when the run was traced.
    pub traces: Vec<Vec<baton_core::record::LogRecord>>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.breaches.is_empty() && self.outcomes.iter().all(|o| o.ok)
    }
}

/// Reads and checks a scenario and its cluster file.
pub fn load(path: &Path) -> Result<(Scenario, Arc<Config>), Vec<String>> {
    let name = path.display().to_string();
    let text = crate::input_file::read_text(path).map_err(|e| vec![e])?;
    let sc = scenario::parse(&name, &text).map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let cfg_path = sc.config_file(path);
    let cfg_name = cfg_path.display().to_string();
    let cfg_text = crate::input_file::read_text(&cfg_path)
        .map_err(|e| vec![format!("{name}:{}: cannot read the cluster file: {e}", sc.config_line)])?;
    let checked = baton_core::config::parse(&cfg_name, &cfg_text).map_err(|errs| {
        let mut v = vec![format!("{name}:{}: the cluster file {cfg_name} is invalid:", sc.config_line)];
        v.extend(errs.iter().map(|e| e.to_string()));
        v
    })?;
    let errors = scenario::check(&sc, &name, &checked.config);
    if !errors.is_empty() {
        return Err(errors.iter().map(|e| e.to_string()).collect());
    }
    Ok((sc, Arc::new(checked.config)))
}

/// Plays a scenario with a seed (the file's own unless overridden).
pub fn play(sc: &Scenario, cfg: Arc<Config>, seed: u64) -> Report {
    play_with(sc, cfg, seed, None)
}

/// Plays a scenario; with `trace = Some((config name, config text))` every server's
/// inputs and outputs are kept for its event log (`Report::traces`).
pub fn play_with(sc: &Scenario, cfg: Arc<Config>, seed: u64, trace: Option<(String, String)>) -> Report {
    let mut sim = Sim::new(cfg.clone(), sc.knobs.clone(), seed);
    sim.trace_config = trace;
    sim.allow_split_brain = sc.expects_split_brain();
    let mut outcomes = Vec::new();
    let mut last_cmd: Option<CommandId> = None;
    for (i, step) in sc.steps.iter().enumerate() {
        sim.push(step.at_ms, crate::engine::EvKind::Step(i));
        // Everything due before (and at) the step's instant that was scheduled earlier runs first.
        while sim.run_until(step.at_ms).is_none() {
            if !sim.breaches.is_empty() {
                break;
            }
        }
        if !sim.breaches.is_empty() {
            break;
        }
        if let Stmt::Expect(e) = &step.stmt {
            let (ok, detail) = crate::expect::check(&sim, e, last_cmd);
            outcomes.push(Outcome { line: step.line, at_ms: step.at_ms, text: e.to_string(), ok, detail });
        } else if let Some(id) = sim.happen(&step.stmt) {
            last_cmd = Some(id);
        }
        if !sim.breaches.is_empty() {
            break;
        }
    }
    let digest = digest(&sim, &outcomes);
    Report {
        cfg,
        seed,
        end_ms: sim.now,
        timeline: std::mem::take(&mut sim.timeline),
        outcomes,
        breaches: std::mem::take(&mut sim.breaches),
        digest,
        inputs_handled: sim.inputs_handled,
        traces: std::mem::take(&mut sim.traces),
    }
}

/// A SHA-256 over everything observable of the run: same file and seed, same digest.
fn digest(sim: &Sim, outcomes: &[Outcome]) -> String {
    let mut h = Sha256::new();
    for e in &sim.timeline {
        h.update(timeline_line(&sim.world.cfg, e).as_bytes());
        h.update(b"\n");
    }
    for s in &sim.scripts {
        h.update(format!("{} {} {} {} {:?}\n", s.at_ms, s.server.0, s.res.0, s.start, s.env.vars()).as_bytes());
    }
    for o in outcomes {
        h.update(format!("{} {} {}\n", o.line, o.ok, o.detail).as_bytes());
    }
    for b in &sim.breaches {
        h.update(format!("{} {}\n", b.at_ms, b.text).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `H:MM:SS.mmm` from the start of the run.
pub fn fmt_time(ms: Ms) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h}:{m:02}:{s:02}.{milli:03}")
}

/// One timeline line: time, server, event, fields.
pub fn timeline_line(cfg: &Config, e: &Emitted) -> String {
    format!("{}  {:<10} {}", fmt_time(e.at_ms), cfg.server(e.server).name, event_text(cfg, &e.event))
}

/// An event with its fields, by name.
pub fn event_text(cfg: &Config, e: &baton_core::Event) -> String {
    let mut s = e.kind.name().to_string();
    if let Some(g) = e.group {
        s += &format!(" group={}", cfg.group(g).name);
    }
    if let Some(r) = e.resource {
        s += &format!(" resource={}", cfg.resource(r).name);
    }
    if let Some(m) = e.monitor {
        s += &format!(" monitor={}", cfg.monitor(m).name);
    }
    if let Some(p) = e.peer {
        s += &format!(" peer={}", cfg.server(p).name);
    }
    if let Some(r) = &e.reason {
        s += &format!(" ({r})");
    }
    s
}

impl Report {
    /// The text output of `baton sim run`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.timeline {
            out += &timeline_line(&self.cfg, e);
            out.push('\n');
        }
        out.push('\n');
        for o in &self.outcomes {
            let verdict = if o.ok { "ok  " } else { "FAIL" };
            out += &format!("{verdict} line {:<4} at {}  {}", o.line, fmt_time(o.at_ms), o.text);
            if !o.ok {
                out += &format!("  -- {}", o.detail);
            }
            out.push('\n');
        }
        for b in &self.breaches {
            out += &format!("FAIL at {}  {}\n", fmt_time(b.at_ms), b.text);
        }
        let passed = self.outcomes.iter().filter(|o| o.ok).count();
        let failed = self.outcomes.len() - passed + self.breaches.len();
        out += &format!("\n{passed} passed, {failed} failed\n");
        out += &format!("digest: {}\n", self.digest);
        out
    }

    /// The JSON output of `baton sim run --json`.
    pub fn json(&self) -> serde_json::Value {
        let cfg = &self.cfg;
        serde_json::json!({
            "seed": self.seed,
            "passed": self.passed(),
            "timeline": self.timeline.iter().map(|e| serde_json::json!({
                "at_ms": e.at_ms,
                "server": cfg.server(e.server).name,
                "event": e.event.kind.name(),
                "id": e.event.kind.id(),
                "severity": e.event.kind.severity().name(),
                "group": e.event.group.map(|g| cfg.group(g).name.clone()),
                "resource": e.event.resource.map(|r| cfg.resource(r).name.clone()),
                "monitor": e.event.monitor.map(|m| cfg.monitor(m).name.clone()),
                "peer": e.event.peer.map(|p| cfg.server(p).name.clone()),
                "reason": e.event.reason,
                "cause": e.event.cause.as_ref().map(|c| serde_json::json!({
                    "after": c.after.map(|k| k.name()),
                    "rule": c.rule,
                })),
            })).collect::<Vec<_>>(),
            "expectations": self.outcomes,
            "invariant_breaches": self.breaches.iter().map(|b| serde_json::json!({"at_ms": b.at_ms, "text": b.text})).collect::<Vec<_>>(),
            "digest": self.digest,
        })
    }
}

/// Loads and plays a file, keeping every server's log records.
pub fn run_file_traced(path: &Path, seed: Option<u64>) -> Result<Report, Vec<String>> {
    let (sc, cfg) = load(path)?;
    let cfg_path = sc.config_file(path);
    let text = crate::input_file::read_text(&cfg_path).map_err(|e| vec![e])?;
    let seed = seed.unwrap_or(sc.seed);
    Ok(play_with(&sc, cfg, seed, Some((cfg_path.display().to_string(), text))))
}

/// Convenience: load and play a file with its own seed or `seed`.
pub fn run_file(path: &Path, seed: Option<u64>) -> Result<Report, Vec<String>> {
    let (sc, cfg) = load(path)?;
    let seed = seed.unwrap_or(sc.seed);
    Ok(play(&sc, cfg, seed))
}
