//! Running one schedule as a scenario: boot, the faults, the heal, the liveness check.
//!
//! In: the configuration context, a seed, the faults (possibly a shrunk subset) and the
//! knobs. Out: a [`RunResult`]: the scenario steps actually played, the failure (an
//! invariant breach, or groups not online after the heal without an explanation),
//! the documented hazard if split brain was allowed and happened, and statistics.
//!
//! [`Play`] steps the simulator exactly as `player::play` does (one `Step` event
//! pushed per statement, just before it is due), so the steps it records, written as
//! a file, replay the same run under `baton sim run`. The heal statements are chosen
//! while playing (only what is broken is healed, suspended servers are returned by
//! whichever server is online), which is equivalent because `play` also pushes each
//! step only when it comes to it.

use super::faults::{ConfigFacts, FaultKind};
use super::hazard::{formed_without_holder, hazard_mechanism, mutual_verdict};
use super::liveness::{self, Verdict};
use super::schedule::{Fault, Limits, Schedule};
use crate::engine::{EvKind, Sim};
use crate::scenario::{
    DiskAction, Expect, Knobs, MonitorHealth, SerialAction, Step, Stmt, Target, TargetState, MAX_SCENARIO_MS,
};
use baton_core::config::{Config, Ms, NpKind, ServerId};
use baton_core::io::{CommandId, ServerState};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What exploration knows about one configuration.
pub struct Ctx {
    pub cfg: Arc<Config>,
    pub facts: ConfigFacts,
    pub limits: Limits,
}

impl Ctx {
    pub fn new(cfg: Arc<Config>, limits: Limits) -> Ctx {
        let facts = ConfigFacts::new(&cfg);
        Ctx { cfg, facts, limits }
    }
}

/// How a run failed, reduced to what must stay the same while shrinking.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signature {
    /// An invariant breach: the invariant and its subject (`invariant 1 (…): group web`).
    Invariant(String),
    /// `startup = auto` groups not online after the heal, without an explanation.
    Liveness(Vec<String>),
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signature::Invariant(s) => f.write_str(s),
            Signature::Liveness(groups) => write!(f, "liveness: {} not online after the heal", groups.join(", ")),
        }
    }
}

impl Signature {
    /// The signature of an invariant breach text: its invariant and the first two
    /// words after the colon (`group web`, `mirror md1`), which name the subject
    /// whatever servers are involved.
    pub fn of_breach(text: &str) -> Signature {
        match text.split_once(": ") {
            Some((head, rest)) => {
                let subject: Vec<&str> = rest.split_whitespace().take(2).collect();
                Signature::Invariant(format!("{head}: {}", subject.join(" ")))
            }
            None => Signature::Invariant(text.to_string()),
        }
    }

    /// The signature of a replayed scenario's report (`None`: it passed).
    pub fn of_report(report: &crate::Report) -> Option<Signature> {
        if let Some(b) = report.breaches.first() {
            return Some(Signature::of_breach(&b.text));
        }
        let mut groups: Vec<String> = report
            .outcomes
            .iter()
            .filter(|o| !o.ok)
            .filter_map(|o| o.text.strip_prefix("group ").and_then(|t| t.split_whitespace().next()).map(str::to_string))
            .collect();
        groups.sort();
        groups.dedup();
        let failed = report.outcomes.iter().any(|o| !o.ok);
        failed.then_some(Signature::Liveness(groups))
    }
}

/// A failure found by a run.
#[derive(Clone, Debug)]
pub struct Failure {
    pub sig: Signature,
    /// What was found (the breach text, or each group's state).
    pub detail: String,
    pub at_ms: Ms,
    /// The expectations that fail at the check instant (liveness failures only).
    pub expects: Vec<Expect>,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub seed: u64,
    pub knobs: Knobs,
    /// The statements played, in order (faults and heal), as scenario steps.
    pub steps: Vec<Step>,
    /// The check instant (where expectations of a liveness failure go).
    pub check_ms: Ms,
    pub failure: Option<Failure>,
    /// Split brain was allowed for this run (a split-capable fault on a split-prone
    /// configuration, see `faults.rs`).
    pub allowed_split: bool,
    /// Groups seen online twice in an allowed run: a documented hazard.
    pub split_groups: Vec<String>,
    /// Whether two split-prone servers each judged the other down (B35): the
    /// documented mechanism. A split without it is flagged in the summary.
    pub mutual_verdict: bool,
    /// The rule that lets this split happen (see [`hazard_mechanism`]); empty when
    /// no split or none was recognised.
    pub mechanism: &'static str,
    /// Groups offline at the check for a documented reason: (group, reason kind, reason).
    pub explained: Vec<(String, &'static str, String)>,
    pub faults: BTreeMap<FaultKind, u32>,
    pub end_ms: Ms,
    pub inputs: u64,
}

/// A run in progress: the simulator and the steps played so far.
pub struct Play {
    pub sim: Sim,
    pub steps: Vec<Step>,
    /// The command id of each `cmd` step, by step index.
    pub cmds: BTreeMap<usize, CommandId>,
}

impl Play {
    pub fn new(cfg: Arc<Config>, knobs: Knobs, seed: u64, allow_split: bool) -> Play {
        let mut sim = Sim::new(cfg, knobs, seed);
        sim.allow_split_brain = allow_split;
        Play { sim, steps: Vec::new(), cmds: BTreeMap::new() }
    }

    /// Runs the world to `at_ms` the way `player::play` reaches a step. False when
    /// an invariant broke on the way (the run ends there, as `play` ends it).
    fn reach(&mut self, at_ms: Ms) -> bool {
        let i = self.steps.len();
        self.sim.push(at_ms, EvKind::Step(i));
        while self.sim.run_until(at_ms).is_none() {
            if !self.sim.breaches.is_empty() {
                break;
            }
        }
        self.sim.breaches.is_empty()
    }

    /// Plays one happening at `at_ms` (never earlier than the previous step). The
    /// step is recorded even when an invariant broke on the way to it: the replay
    /// needs it to run up to the breach (and, like the explorer, stops before it).
    pub fn step(&mut self, at_ms: Ms, stmt: Stmt) -> bool {
        let at_ms = at_ms.max(self.steps.last().map_or(0, |s| s.at_ms));
        let reached = self.reach(at_ms);
        let i = self.steps.len();
        if reached {
            if let Some(id) = self.sim.happen(&stmt) {
                self.cmds.insert(i, id);
            }
        }
        self.steps.push(Step { at_ms, line: i + 1, stmt });
        reached && self.sim.breaches.is_empty()
    }

    /// Reaches `at_ms` as the first expectation there would, without a statement.
    /// When an invariant breaks on the way, a stand-in expectation is recorded as the
    /// step so that the replay runs as far (it is never evaluated: the replay stops
    /// at the breach, as the explorer did).
    pub fn check_point(&mut self, at_ms: Ms) -> bool {
        let reached = self.reach(at_ms);
        if !reached {
            let line = self.steps.len() + 1;
            let stand_in = Stmt::Expect(Expect::Event { event: "group-online".into(), on: None, count: None });
            self.steps.push(Step { at_ms, line, stmt: stand_in });
        }
        reached
    }

    /// Runs to `at_ms` to look at the world before choosing the statements due
    /// there. The replay has no step here; that changes nothing, since a reached
    /// step only splits the event loop's run at an instant without reordering
    /// anything (and `write_failure` replays every file to check it).
    pub fn observe(&mut self, at_ms: Ms) -> bool {
        let at_ms = at_ms.max(self.steps.last().map_or(0, |s| s.at_ms));
        self.check_point(at_ms)
    }

    fn state(&self, s: ServerId) -> ServerState {
        self.sim.server_state(s)
    }

    fn cluster_suspended(&self) -> bool {
        self.sim
            .world
            .machines
            .iter()
            .any(|m| m.node.as_ref().is_some_and(|n| !n.is_gone() && n.status().cluster_suspended))
    }

    fn someone_online(&self) -> bool {
        self.sim.cfg().server_ids().any(|s| self.state(s) == ServerState::Online)
    }
}

/// The longest network-partition verdict delay of the configuration (B34).
fn verdict_delay(cfg: &Config) -> Ms {
    let c = &cfg.cluster;
    cfg.nps
        .iter()
        .map(|n| match n.kind {
            NpKind::Disk { io_wait_ms, .. } => 2 * c.heartbeat_timeout_ms.max(io_wait_ms),
            NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Majority | NpKind::Serial { .. } => {
                c.heartbeat_interval_ms
            }
        })
        .max()
        .unwrap_or(c.heartbeat_interval_ms)
}

/// How long after the last return every `startup = auto` group must be online:
/// start-up synchronisation, a few heartbeat timeouts, the longest verdict, then
/// every resource of every group stopped and started through its whole activation
/// ladder (retries and failovers) twice over (a failover, then a failback), and a
/// full rebuild of every mirror.
pub fn liveness_bound(cfg: &Config, knobs: &Knobs) -> Ms {
    let c = &cfg.cluster;
    let ladders: Ms = cfg
        .resources
        .iter()
        .map(|r| {
            let attempt = knobs.activation_time_ms.min(r.timeout_ms).max(knobs.network_latency_ms);
            attempt
                .saturating_mul(Ms::from(r.activation.retries).saturating_add(1))
                .saturating_mul(Ms::from(r.activation.failovers).saturating_add(1))
        })
        .fold(0, Ms::saturating_add);
    let rebuilds = (cfg.mirror_ids().count() as Ms).saturating_mul(
        knobs.mirror_size_bytes.saturating_mul(1000).div_ceil(knobs.mirror_bandwidth_bytes_per_s.max(1)),
    );
    // Saturating: a bound past u64::MAX is capped by the caller (MAX_SCENARIO_MS).
    [
        c.sync_wait_ms,
        c.heartbeat_timeout_ms.saturating_mul(4),
        verdict_delay(cfg),
        c.heartbeat_interval_ms,
        ladders.saturating_mul(4),
        rebuilds.saturating_mul(2),
        60_000,
    ]
    .into_iter()
    .fold(0, Ms::saturating_add)
}

/// Plays `faults` with `seed`, heals, and checks liveness.
pub fn run(ctx: &Ctx, seed: u64, faults: &[Fault], knobs: &Knobs) -> RunResult {
    let cfg = ctx.cfg.clone();
    let mut allowed_split = faults.iter().any(|f| f.kind.allows_split(&ctx.facts));
    let mut p = Play::new(cfg.clone(), knobs.clone(), seed, allowed_split);
    let mut counts: BTreeMap<FaultKind, u32> = BTreeMap::new();
    for f in faults {
        *counts.entry(f.kind).or_default() += 1;
    }
    let steps = Schedule::steps(faults);
    let last = steps.last().map_or(0, |(t, _)| *t);
    let heal_ms = ctx.limits.fault_window_end_ms.max(last) + 1_000;
    let mut ok = p.step(0, Stmt::Boot(Target::All));
    for (at, stmt) in steps {
        if !ok {
            break;
        }
        ok = p.step(at, stmt);
    }
    let c = &cfg.cluster;
    // Saturating, then capped: a seed never runs past what a scenario may name
    // (its written scenario must parse back), whatever the configuration's bounds.
    let return_ms = (heal_ms.saturating_add(knobs.boot_time_ms))
        .saturating_add(c.heartbeat_timeout_ms.saturating_mul(2))
        .saturating_add(verdict_delay(&cfg))
        .min(MAX_SCENARIO_MS - 2);
    let second_ms = return_ms
        .saturating_add(c.heartbeat_timeout_ms)
        .saturating_add(c.heartbeat_interval_ms)
        .min(MAX_SCENARIO_MS - 1);
    let check_ms = second_ms.saturating_add(liveness_bound(&cfg, knobs)).min(MAX_SCENARIO_MS);
    if ok {
        ok = heal(&mut p, heal_ms) && return_all(&mut p, return_ms) && return_all(&mut p, second_ms);
    }
    let mut failure = None;
    let mut explained = Vec::new();
    if ok && p.check_point(check_ms) {
        let verdicts = liveness::check(&p, heal_ms);
        let mut expects = Vec::new();
        let mut groups = Vec::new();
        let mut detail = Vec::new();
        for v in verdicts {
            match v {
                Verdict::Ok => {}
                Verdict::Explained { group, key, reason } => explained.push((group, key, reason)),
                Verdict::Unexplained { group, found, expect_on } => {
                    detail.push(format!("group {group}: {found}"));
                    expects.push(Expect::GroupOnline { group: group.clone(), server: expect_on });
                    groups.push(group);
                }
            }
        }
        if !groups.is_empty() {
            // The same order as `Signature::of_report` (sorted), or a replay of two
            // groups in file order other than alphabetical "fails differently".
            groups.sort();
            failure =
                Some(Failure { sig: Signature::Liveness(groups), detail: detail.join("; "), at_ms: check_ms, expects });
        }
    }
    let mut lone = false;
    if let Some(b) = p.sim.breaches.first() {
        // In an allowed run, a mirror activated on stale data on the second holder of a
        // split is the split brain's own consequence (both sides took over, B36/B43),
        // not a separate failure.
        let split_consequence = allowed_split
            && b.text.starts_with("invariant 2")
            && p.sim.split_brain.iter().any(|g| {
                cfg.group(*g).resources.iter().any(|r| b.text.contains(&format!("mirror {} ", cfg.resource(*r).name)))
            });
        // A server whose service started while it was cut off from a running peer
        // forms the cluster without it at `sync_wait` (B3) and, that peer counting as
        // off, resolves nothing about it (B4): both run the groups. The rules leave
        // this open, whatever the resolvers, so it is a documented hazard of B3/B4.
        let lone_formation = b.text.starts_with("invariant 1")
            && p.sim.doubles.iter().any(|d| b.text.ends_with(&d.2) && formed_without_holder(&p.sim, d));
        lone |= lone_formation;
        if lone_formation {
            allowed_split = true;
        } else if !split_consequence {
            failure = Some(Failure {
                sig: Signature::of_breach(&b.text),
                detail: b.text.clone(),
                at_ms: b.at_ms,
                expects: Vec::new(),
            });
        }
    }
    // The same hazard in a run that allowed split brain (no breach to look at): a
    // double start whose pair is a lone formation's (generated seeds 835, 976, …,
    // which matched no rule only because this was looked for in breaches alone).
    if allowed_split && !lone {
        lone = p.sim.doubles.iter().any(|d| formed_without_holder(&p.sim, d));
    }
    // The simulator notes a double start even when it is a breach; only an allowed
    // run's split is a documented hazard (and only it gets `expect split-brain`).
    let split_groups: Vec<String> =
        if allowed_split { p.sim.split_brain.iter().map(|g| cfg.group(*g).name.clone()).collect() } else { Vec::new() };
    let mutual_verdict = !split_groups.is_empty() && mutual_verdict(&p.sim, &ctx.facts);
    let mechanism = if split_groups.is_empty() { "" } else { hazard_mechanism(&p.sim, mutual_verdict, lone) };
    RunResult {
        seed,
        knobs: knobs.clone(),
        steps: p.steps,
        check_ms,
        failure,
        allowed_split,
        split_groups,
        mutual_verdict,
        mechanism,
        explained,
        faults: counts,
        end_ms: p.sim.now,
        inputs: p.sim.inputs_handled,
    }
}

/// Heals everything that is still broken at `at`, then boots every server and starts
/// stopped services. Only what is broken gets a statement, so a shrunk scenario
/// stays short.
fn heal(p: &mut Play, at: Ms) -> bool {
    let cfg = p.sim.cfg().clone();
    let w = &p.sim.world;
    let mut stmts = vec![Stmt::HealAll];
    for (name, net) in &w.nets {
        if net.loss_percent > 0 {
            stmts.push(Stmt::Loss { network: name.clone(), percent: 0 });
        }
    }
    if w.serial_failed {
        stmts.push(Stmt::Serial(SerialAction::Heal));
    }
    let mut targets: Vec<String> = w.targets_down.iter().cloned().collect();
    targets.extend(w.targets_down_from.iter().map(|(a, _)| a.clone()));
    targets.sort();
    targets.dedup();
    for address in targets {
        stmts.push(Stmt::Target { address, state: TargetState::Up, from: None });
    }
    let mut disks: Vec<(String, ServerId)> = w.disk_failed.iter().cloned().collect();
    disks.extend(w.disk_slow_ms.keys().cloned());
    disks.sort();
    disks.dedup();
    for (device, s) in disks {
        stmts.push(Stmt::Disk { device, action: DiskAction::Heal, server: cfg.server(s).name.clone() });
    }
    for (m, s) in &w.monitor_failing {
        stmts.push(Stmt::Monitor {
            monitor: cfg.monitor(*m).name.clone(),
            health: MonitorHealth::Ok,
            server: cfg.server(*s).name.clone(),
        });
    }
    for stmt in stmts {
        if !p.step(at, stmt) {
            return false;
        }
    }
    if p.cluster_suspended() && !p.step(at, cmd(&["cluster", "resume"])) {
        return false;
    }
    if !p.step(at, Stmt::Boot(Target::All)) {
        return false;
    }
    let stopped = cfg.server_ids().any(|s| {
        let m = &p.sim.world.machines[s.idx()];
        m.power == crate::world::Power::On && !p.sim.world.service_running(s)
    });
    if stopped && !p.step(at, cmd(&["cluster", "start"])) {
        return false;
    }
    true
}

/// Returns every suspended server (B25); when no server is online, the first
/// suspended one whose forced return is accepted forms the cluster (B26).
fn return_all(p: &mut Play, at: Ms) -> bool {
    let cfg = p.sim.cfg().clone();
    if !p.observe(at) {
        return false;
    }
    if p.cluster_suspended() && !p.step(at, cmd(&["cluster", "resume"])) {
        return false;
    }
    for s in cfg.server_ids() {
        if p.state(s) != ServerState::Suspended {
            continue;
        }
        let name = cfg.server(s).name.clone();
        let stmt = if p.someone_online() {
            cmd(&["server", "return", &name])
        } else {
            Stmt::Cmd { on: Some(name.clone()), words: words(&["server", "return", &name, "--force"]) }
        };
        if !p.step(at, stmt) {
            return false;
        }
    }
    true
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

fn cmd(w: &[&str]) -> Stmt {
    Stmt::Cmd { on: None, words: words(w) }
}
