//! The failover-time budget of a configuration (`baton config timing`, issue 12): for
//! each group and each failure (a crash of its server, a partition that isolates it, a
//! failure of a monitor that recovers it, a planned move), the best and worst outage the
//! rules allow with the configured times, term by term, each with its rule ids.
//!
//! In: a [`Config`]. Out: [`Case`]s. Pure arithmetic on the configured durations: no
//! clock, no I/O. Every case concerns the group's home (the first server of its policy)
//! and the next server of its policy as the target (skipping the home of another
//! exclusive group when the group is exclusive). An outage runs from the failure to
//! the group online on the target. What the rules leave to the environment (how long a
//! script or an address add really takes, message latency) is taken as 0 in the best
//! case and as the configured timeout in the worst case, so the interval is wide where
//! the configuration leaves it open.

use super::{Config, GroupId, Ms, NpKind, RecoveryTarget, ResourceKind, ServerId};
use serde::Serialize;

/// The failures each group is predicted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The home server loses power.
    Crash,
    /// Every network of the home server is cut (`isolate`): it must lose and fence.
    Partition,
    /// A monitor that recovers the group fails on the home server and stays failed.
    MonitorFailure,
    /// `baton group move` to the target.
    PlannedMove,
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Crash => "crash",
            Failure::Partition => "partition",
            Failure::MonitorFailure => "monitor-failure",
            Failure::PlannedMove => "planned-move",
        }
    }
}

/// One term of an outage: its best and worst duration, and the rules that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Term {
    pub what: String,
    pub best_ms: Ms,
    pub worst_ms: Ms,
    pub rules: &'static str,
}

/// The predicted outage of one group under one failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    pub group: String,
    pub failure: Failure,
    pub home: String,
    pub target: String,
    /// The monitor that fails (monitor-failure only).
    pub monitor: Option<String>,
    /// `None`: the group does not go to the target; `why` says so.
    pub terms: Option<Vec<Term>>,
    pub best_ms: Ms,
    pub worst_ms: Ms,
    pub why: Option<String>,
}

fn term(what: impl Into<String>, best_ms: Ms, worst_ms: Ms, rules: &'static str) -> Term {
    Term { what: what.into(), best_ms, worst_ms, rules }
}

/// The predicted outages of every group with at least two servers.
pub fn predict(cfg: &Config) -> Vec<Case> {
    let mut out = Vec::new();
    for g in cfg.group_ids() {
        let policy = &cfg.group(g).policy;
        let Some(home) = policy.first().copied() else { continue };
        let Some(target) = target_of(cfg, g) else { continue };
        let mk = |failure, monitor: Option<String>, result: Result<Vec<Term>, String>| {
            let (terms, why) = match result {
                Ok(t) => (Some(t), None),
                Err(w) => (None, Some(w)),
            };
            let sum = |f: fn(&Term) -> Ms| terms.iter().flatten().map(f).fold(0, Ms::saturating_add);
            Case {
                group: cfg.group(g).name.clone(),
                failure,
                home: cfg.server(home).name.clone(),
                target: cfg.server(target).name.clone(),
                monitor,
                best_ms: sum(|t| t.best_ms),
                worst_ms: sum(|t| t.worst_ms),
                terms,
                why,
            }
        };
        out.push(mk(Failure::Crash, None, Ok(takeover_terms(cfg, g, home, target, Failure::Crash))));
        out.push(mk(Failure::Partition, None, partition(cfg, g, home, target)));
        for (name, result) in monitor_failures(cfg, g, home) {
            out.push(mk(Failure::MonitorFailure, Some(name), result));
        }
        let mut moved = vec![stop_term(cfg, g, "stop on the home server")];
        moved.extend(start_terms(cfg, g, 0));
        out.push(mk(Failure::PlannedMove, None, Ok(moved)));
    }
    out
}

/// The server the group goes to from its home: the next of its policy, skipping the
/// home of another `exclusive` group when it is exclusive itself (B51, B52, B53).
fn target_of(cfg: &Config, g: GroupId) -> Option<ServerId> {
    let group = cfg.group(g);
    let taken = |s: ServerId| {
        group.exclusive
            && cfg.group_ids().any(|o| o != g && cfg.group(o).exclusive && cfg.group(o).policy.first() == Some(&s))
    };
    group.policy.iter().skip(1).copied().find(|s| !taken(*s))
}

/// Whether `np` is a disk resolver.
fn is_disk(k: &NpKind) -> bool {
    matches!(k, NpKind::Disk { .. })
}

/// The disk window of the resolvers of the pair (home, target), if one applies (B34).
fn disk_window(cfg: &Config, home: ServerId, target: ServerId) -> Option<Ms> {
    let c = &cfg.cluster;
    cfg.nps
        .iter()
        .filter(|n| n.servers.contains(&home) && n.servers.contains(&target))
        .filter_map(|n| match n.kind {
            NpKind::Disk { io_wait_ms, .. } => Some(c.heartbeat_timeout_ms.max(io_wait_ms).saturating_mul(2)),
            NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Serial { .. } | NpKind::Majority => None,
        })
        .max()
}

/// Whether every resolver unit of the pair that has a disk resolver also has a ping,
/// http or serial partner that decides when it answers (B40, B41).
fn disk_paired(cfg: &Config, home: ServerId, target: ServerId) -> (bool, bool) {
    let shared: Vec<_> = cfg.nps.iter().filter(|n| n.servers.contains(&home) && n.servers.contains(&target)).collect();
    let disk_sets: Vec<_> = shared.iter().filter(|n| is_disk(&n.kind)).map(|n| n.servers.clone()).collect();
    let partner =
        |k: fn(&NpKind) -> bool| disk_sets.iter().all(|set| shared.iter().any(|n| n.servers == *set && k(&n.kind)));
    (partner(|k| matches!(k, NpKind::Ping { .. })), partner(|k| matches!(k, NpKind::Serial { .. })))
}

/// Detection, verdict, margin and start on the target after the home server went
/// silent (B13, B34, B44, B63, B73).
fn takeover_terms(cfg: &Config, g: GroupId, home: ServerId, target: ServerId, failure: Failure) -> Vec<Term> {
    let c = &cfg.cluster;
    let settle = cfg.verdict_settle_ms();
    let mut terms = vec![term(
        "detection: the last heartbeat received, up to heartbeat_interval before the failure, + heartbeat_timeout",
        c.heartbeat_timeout_ms.saturating_sub(c.heartbeat_interval_ms),
        c.heartbeat_timeout_ms,
        "B10, B13",
    )];
    // The verdict delay W: the disk window for a disk unit; a serial+disk unit falls
    // back to it when the serial check finds the peer silent (a crash); a ping+disk
    // unit only when ping was failing everywhere before (not predicted here).
    let (w_best, w_worst) = match disk_window(cfg, home, target) {
        None => (settle, settle),
        Some(window) => match disk_paired(cfg, home, target) {
            (true, _) => (settle, settle),
            (false, true) => match failure {
                // The serial check of the crashed peer may still have answered last.
                Failure::Crash => (settle, window),
                // The isolated server's cable is cut as well: silent.
                Failure::Partition | Failure::MonitorFailure | Failure::PlannedMove => (window, window),
            },
            (false, false) => (window, window),
        },
    };
    let verdict_rules = if w_worst > settle { "B34, B39, B40" } else { "B34" };
    terms.push(term(
        if settle == 0 && w_worst == 0 {
            "verdict: no settle with two servers".to_string()
        } else {
            format!("verdict: settle {settle} ms or the disk window")
        },
        w_best,
        w_worst,
        verdict_rules,
    ));
    terms.push(term(
        "takeover margin: heartbeat_interval after the verdict",
        c.heartbeat_interval_ms,
        c.heartbeat_interval_ms,
        "B44",
    ));
    terms.extend(start_terms(cfg, g, c.heartbeat_interval_ms));
    terms
}

/// Starting the group's resources one at a time (B63): each takes between nothing and
/// its timeout (B73); a floating IP waits for a quiet probe window, hidden in a takeover
/// margin of `margin_ms` as far as it reaches (B44).
fn start_terms(cfg: &Config, g: GroupId, margin_ms: Ms) -> Vec<Term> {
    let mut probe_ms: Ms = 0;
    let mut worst: Ms = 0;
    for r in &cfg.group(g).resources {
        let res = cfg.resource(*r);
        worst = worst.saturating_add(res.timeout_ms);
        match res.kind {
            ResourceKind::FloatingIp { probe_window_ms, .. } => {
                probe_ms = probe_ms.max(probe_window_ms.saturating_sub(margin_ms));
            }
            ResourceKind::VirtualIp { .. }
            | ResourceKind::Exec { .. }
            | ResourceKind::Service { .. }
            | ResourceKind::Disk { .. }
            | ResourceKind::MirrorDisk(_)
            | ResourceKind::HybridDisk(_) => {}
        }
    }
    vec![term(
        "start on the target: each resource up to its timeout; a floating IP's probe window beyond the margin",
        probe_ms,
        worst.max(probe_ms),
        "B44, B63, B70, B73",
    )]
}

/// Stopping the group's resources (B64, B73): up to each one's timeout.
fn stop_term(cfg: &Config, g: GroupId, what: &str) -> Term {
    let worst = cfg.group(g).resources.iter().map(|r| cfg.resource(*r).timeout_ms).fold(0, Ms::saturating_add);
    term(what, 0, worst, "B64, B73")
}

/// The isolated home server must lose for the target to take over (B35–B43).
fn partition(cfg: &Config, g: GroupId, home: ServerId, target: ServerId) -> Result<Vec<Term>, String> {
    let shared: Vec<_> = cfg.nps.iter().filter(|n| n.servers.contains(&home) && n.servers.contains(&target)).collect();
    if shared.is_empty() {
        return Err(
            "no resolver covers both servers: each side takes over and the address is refused (B43, B70)".into()
        );
    }
    let decides = |k: &NpKind| matches!(k, NpKind::Ping { .. } | NpKind::Http { .. });
    let majority_wins = shared.iter().any(|n| {
        matches!(n.kind, NpKind::Majority) && {
            let rest = n.servers.iter().filter(|s| **s != home).count();
            2 * rest > n.servers.len()
                || (2 * rest == n.servers.len() && n.servers.iter().min().is_some_and(|m| *m != home))
        }
    });
    if shared.iter().any(|n| decides(&n.kind)) || majority_wins {
        return Ok(takeover_terms(cfg, g, home, target, Failure::Partition));
    }
    Err("the resolvers let the isolated home server survive (tie-break, B38, B39, B42): no takeover".into())
}

/// One case per monitor that recovers the group on its home server by failing it over
/// (B81–B84).
fn monitor_failures(cfg: &Config, g: GroupId, home: ServerId) -> Vec<(String, Result<Vec<Term>, String>)> {
    let mut out = Vec::new();
    for m in cfg.monitor_ids() {
        let mon = cfg.monitor(m);
        let recovers = match mon.recovery_target {
            RecoveryTarget::Group(t) => t == g,
            RecoveryTarget::Resource(r) => cfg.resource(r).group == g,
            RecoveryTarget::AllGroups => true,
            RecoveryTarget::LocalServer => false,
        };
        if !recovers || mon.implied || !mon.servers.contains(&home) {
            continue;
        }
        if mon.failovers == 0 {
            out.push((mon.name.clone(), Err("failovers = 0: the group is never failed over (B83)".into())));
            continue;
        }
        let period = mon.interval_ms.max(mon.timeout_ms);
        let retries = Ms::from(mon.retries);
        let mut terms = vec![term(
            format!("detection: {} failed checks", mon.retries + 1),
            retries.saturating_mul(mon.interval_ms),
            mon.interval_ms.saturating_add(retries.saturating_mul(period)).saturating_add(mon.timeout_ms),
            "B81, B82",
        )];
        for i in 0..mon.reactivations {
            terms.push(stop_term(cfg, g, &format!("reactivation {}: stop", i + 1)));
            let mut start = start_terms(cfg, g, 0);
            for t in &mut start {
                t.what = format!("reactivation {}: start", i + 1);
            }
            terms.extend(start);
            terms.push(term(
                format!("reactivation {}: the fault detected again", i + 1),
                (retries + 1).saturating_mul(mon.interval_ms),
                (retries + 1).saturating_mul(period).saturating_add(mon.timeout_ms),
                "B83, B84",
            ));
        }
        terms.push(stop_term(cfg, g, "failover: stop on the home server"));
        let recover = cfg
            .group(g)
            .resources
            .iter()
            .filter(|r| matches!(cfg.resource(**r).kind, ResourceKind::Exec { .. }))
            .map(|r| cfg.resource(*r).timeout_ms)
            .fold(0, Ms::saturating_add);
        terms.push(term("failover: RECOVER start scripts on the home server", 0, recover, "B83"));
        terms.extend(start_terms(cfg, g, 0));
        out.push((mon.name.clone(), Ok(terms)));
    }
    out
}
