//! Naming the documented rule behind a split brain (issue 14 §19): a split in a run
//! that allowed one is a hazard only where a rule of behaviour.md lets it happen.
//!
//! In: the simulator after a run (its timeline, stalls and double starts) and the
//! configuration's facts. Out: whether two servers judged each other down (B35),
//! whether a double start is a lone formation's (B3, B4), and the rule's name
//! (`hazard_mechanism`), empty when none matches: the run then fails.

use super::faults::ConfigFacts;
use crate::engine::Sim;
use baton_core::config::{GroupId, Ms, ServerId};

/// Which documented rule let a split brain of an allowed run happen (issue 14 §19),
/// in the order they are tried; empty when none is recognised (the summary flags it).
/// * both servers judged each other down: B35 with units that let both sides survive
///   (ping, http, pure serial, ping+disk, none: B36–B38, B41, B43);
/// * a server formed at its sync timeout without the running holder (B3, B4);
/// * a verdict was unresolved (pre-failed ping, B36; no resolver, B43): that side takes
///   over whatever the other does;
/// * a server judged down a suspended peer whose confirmation of the suspend it never
///   received (it reported `suspend-unconfirmed` for it), while that peer had every
///   confirmation it needed and went quiet (B20): a confirmation that crossed a one-way
///   cut in one direction only (X1, docs/architecture.md). The acknowledged suspend and
///   resume close the rest of what B20 allowed (family AD, generated seed 15201);
/// * the judged server was frozen (below the watchdog's limit) shortly before the
///   verdict, so its own verdict came after its peer's takeover (B19, B87).
pub fn hazard_mechanism(sim: &Sim, mutual: bool, lone_formation: bool) -> &'static str {
    use baton_core::EventKind as E;
    if mutual {
        return "mutual down verdict (B35; B36-B38, B41, B43)";
    }
    if lone_formation {
        return "formed without the running holder at sync_wait (B3, B4)";
    }
    let t = &sim.timeline;
    if t.iter().any(|e| e.event.kind == E::NpUnresolved) {
        return "unresolved verdict: that side takes over (B36 pre-failed ping, B43)";
    }
    // X1: a server judged down a suspended peer only if it still awaited that peer's
    // confirmation of the suspend (it keeps watching a peer that may have missed it) while
    // the peer, having every confirmation it needed, went quiet: its confirming state
    // never crossed to the judge (a one-way cut). Without `suspend-unconfirmed` from the
    // judge for that peer, the split is not this hazard.
    let suspended_at = |s: ServerId, at_ms: Ms| {
        t.iter()
            .filter(|e| e.server == s && e.at_ms <= at_ms)
            .rfind(|e| matches!(e.event.kind, E::ClusterSuspended | E::ClusterResumed))
            .filter(|e| e.event.kind == E::ClusterSuspended)
            .map(|e| e.at_ms)
    };
    let unconfirmed_by = |judge: ServerId, p: ServerId, since_ms: Ms, at_ms: Ms| {
        t.iter().any(|e| {
            e.server == judge
                && e.event.kind == E::SuspendUnconfirmed
                && e.event.peer == Some(p)
                && e.at_ms >= since_ms
                && e.at_ms <= at_ms
        })
    };
    let judged_suspended = t.iter().filter(|e| e.event.kind == E::NpResolvedPeerDown).any(|e| {
        e.event.peer.is_some_and(|p| {
            suspended_at(p, e.at_ms).is_some_and(|since| unconfirmed_by(e.server, p, since, e.at_ms))
        })
    });
    if judged_suspended {
        return "a suspend confirmed one way only: a quiet suspended server judged (B20, X1)";
    }
    // The judged server was frozen, for less than its watchdog's limit, within
    // heartbeat_timeout before the verdict: its own verdict (which would have fenced it
    // or made the split mutual) came after its peer's takeover. B87: "a shorter freeze
    // has no effect"; B19: a frozen service handles nothing (2node-ping seeds 102158,
    // 103578). A freeze the watchdog should have ended is not this: the watchdog acts
    // at heartbeat_timeout after the last kick (family AJ), before any peer's verdict.
    let timeout_ms = sim.cfg().cluster.heartbeat_timeout_ms;
    let frozen_before = |p: ServerId, at_ms: Ms| {
        sim.stalls
            .iter()
            .any(|(s, from, until)| *s == p && *from <= at_ms && *until >= at_ms.saturating_sub(timeout_ms))
    };
    let judged_frozen = t
        .iter()
        .filter(|e| e.event.kind == E::NpResolvedPeerDown)
        .any(|e| e.event.peer.is_some_and(|p| frozen_before(p, e.at_ms)));
    if judged_frozen {
        return "a freeze below the watchdog's limit delayed the judged side's own verdict (B19, B87)";
    }
    ""
}

/// Whether two of the servers a double start names ("… online on A and B") are a
/// lone formation's (B3, B4): one formed the cluster at its start-up synchronisation
/// timeout with the other listed as missing while the other's service was running,
/// cut off, then began starting the group, and the two did not join each other
/// between that formation and the later of their two starts of the group (so the
/// formation, not a decision taken knowing the other, let it happen; the starts may
/// end after they meet, generated seed 13976).
pub(super) fn formed_without_holder(sim: &Sim, double: &(Ms, GroupId, String)) -> bool {
    let (at_ms, g, text) = (double.0, double.1, double.2.as_str());
    let Some((_, list)) = text.rsplit_once(" online on ") else { return false };
    let cfg = sim.cfg();
    let id = |name: &str| cfg.server_ids().find(|s| cfg.server(*s).name == name.trim());
    let Some(holders) = list.split(" and ").map(id).collect::<Option<Vec<ServerId>>>() else { return false };
    let missing = |reason: &str, s: ServerId| {
        reason.strip_prefix("missing: ").is_some_and(|l| l.split(", ").any(|n| n == cfg.server(s).name))
    };
    use baton_core::EventKind as E;
    let t = &sim.timeline;
    // The missing one's service had started by then: it was running, only cut off
    // (a server really off joins later under B2 and starts nothing twice).
    let started_by =
        |s: ServerId, at: Ms| t.iter().any(|e| e.server == s && e.at_ms <= at && e.event.kind == E::ServiceStarted);
    // When `s` last began starting the group, up to the double start.
    let start_of = |s: ServerId| {
        t.iter()
            .filter(|e| {
                e.server == s && e.at_ms <= at_ms && e.event.kind == E::GroupStarting && e.event.group == Some(g)
            })
            .map(|e| e.at_ms)
            .next_back()
            .unwrap_or(at_ms)
    };
    // `a` joined `b` (or formed again) after `from`, up to `until`.
    let met = |a: ServerId, b: ServerId, from: Ms, until: Ms| {
        t.iter().any(|e| {
            e.server == a
                && e.at_ms > from
                && e.at_ms <= until
                && ((e.event.kind == E::ServerJoined && e.event.peer == Some(b))
                    || matches!(e.event.kind, E::StartupSyncTimeout | E::StartupSyncDone))
        })
    };
    let lone = |a: ServerId, b: ServerId| {
        let (start_a, decided) = (start_of(a), start_of(a).max(start_of(b)));
        t.iter().any(|e| {
            e.server == a
                && e.at_ms <= start_a
                && e.event.kind == E::StartupSyncTimeout
                && e.event.reason.as_deref().is_some_and(|r| missing(r, b))
                && started_by(b, e.at_ms)
                && !met(a, b, e.at_ms, decided)
        })
    };
    holders.iter().any(|a| holders.iter().any(|b| a != b && lone(*a, *b)))
}

/// Whether two servers of a split-prone pair each judged the other down (B35).
pub(super) fn mutual_verdict(sim: &Sim, facts: &ConfigFacts) -> bool {
    let downs: Vec<(ServerId, ServerId)> = sim
        .timeline
        .iter()
        .filter(|e| e.event.kind == baton_core::EventKind::NpResolvedPeerDown)
        .filter_map(|e| e.event.peer.map(|p| (e.server, p)))
        .collect();
    downs.iter().any(|(a, b)| facts.pair_split_prone_cut(*a, *b) && downs.contains(&(*b, *a)))
}
