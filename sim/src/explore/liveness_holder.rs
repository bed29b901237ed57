//! Two documented reasons why a group whose last holder left unseen stays offline
//! after the heal: the holder was the only server that could run it (its mirror's
//! latest data), or every peer had counted the holder out before it started the group
//! and its departure notice reached none of them.
//!
//! In: the played run at the check instant, the group, the instant it was last online
//! (`since`, on its last holder) and the `group-offline` of its holder's departure when
//! that stopped it. Out: the reason's text when one applies; `liveness.rs` reports it
//! as an explained verdict. Both read the run from events, so they stay strict where
//! events are silent: a crash leaves no event, so a crashed server counts as running.

use super::run::Play;
use crate::engine::Emitted;
use baton_core::config::{GroupId, Ms, ServerId};
use baton_core::EventKind;

/// The last holder's run ended holding the group, or stopping it on its departure,
/// and the holder then joined a running cluster (B2: a join moves nothing; B25: a
/// return only runs RECOVER scripts), while every other server of the group's policy
/// was on the other side of one of its mirrors, which had no latest data to offer:
/// the holder's side had broken away (B102, ahead) and each other-side server's run
/// began after that break, so it could not have seen the holder's side go (B106:
/// undetermined or behind), with no break of its own side and no `mirror force`
/// since the mirror was last rebuilt. No server was eligible (B51, B114), any takeover
/// found no target (B55), and nothing starts the group later on its own (B56).
///
/// `departure_stop`: the holder's `group-offline` of this group on its departure, if
/// its departure (not a crash) ended the holding.
pub(super) fn only_latest_holder_rejoined(
    p: &Play,
    g: GroupId,
    since: Ms,
    holder: ServerId,
    departure_stop: Option<&Emitted>,
) -> Option<String> {
    let sim = &p.sim;
    let cfg = sim.cfg();
    let tl = &sim.timeline;
    let on_holder = |e: &&Emitted| e.server == holder && e.at_ms > since;
    // The holder's next run, and how its holding ended before it.
    let rejoin = tl.iter().filter(on_holder).find(|e| e.event.kind == EventKind::ServiceStarted)?.at_ms;
    let left_by_stop = tl
        .iter()
        .filter(on_holder)
        .any(|e| e.at_ms < rejoin && e.event.group == Some(g) && e.event.kind == EventKind::GroupOffline);
    if left_by_stop && departure_stop.is_none_or(|d| d.server != holder || d.at_ms >= rejoin) {
        return None;
    }
    // A formation at or after the rejoin would have placed it (B5).
    if tl.iter().any(|e| e.at_ms >= rejoin && e.event.kind == EventKind::ClusterStarted) {
        return None;
    }
    let observer = [holder]
        .into_iter()
        .chain(cfg.group(g).policy.iter().copied())
        .find_map(|s| sim.world.machines[s.idx()].node.as_ref().filter(|n| !n.is_gone() && n.service_running()))?;
    let blocking = cfg.group_mirrors(g).find(|m| {
        let side_of = |s: ServerId| sim.world.mirror_side(*m, s);
        let mine = side_of(holder);
        let others: Vec<ServerId> = cfg.group(g).policy.iter().copied().filter(|s| *s != holder).collect();
        // Another server of the holder's own side shares its device (B100, B115).
        if mine.is_none() || others.iter().any(|s| side_of(*s) == mine) {
            return false;
        }
        let of_mirror = |e: &Emitted, k: EventKind| e.event.resource == Some(*m) && e.event.kind == k;
        let Some(broke) = tl
            .iter()
            .filter(|e| e.at_ms < rejoin && side_of(e.server) == mine && of_mirror(e, EventKind::MirrorBreak))
            .map(|e| e.at_ms)
            .max()
        else {
            return false;
        };
        let rebuilt = tl
            .iter()
            .filter(|e| {
                e.at_ms <= broke
                    && (of_mirror(e, EventKind::MirrorRebuildDone) || of_mirror(e, EventKind::MirrorNoCopyNeeded))
            })
            .map(|e| e.at_ms)
            .max()
            .unwrap_or(0);
        let other_side_ahead_or_forced = tl.iter().any(|e| {
            e.at_ms >= rebuilt
                && e.at_ms < rejoin
                && ((side_of(e.server) != mine && of_mirror(e, EventKind::MirrorBreak))
                    || of_mirror(e, EventKind::MirrorForced))
        });
        let started_after_break = |z: ServerId| {
            tl.iter()
                .filter(|e| e.server == z && e.at_ms < rejoin && e.event.kind == EventKind::ServiceStarted)
                .map(|e| e.at_ms)
                .max()
                .is_some_and(|at| at > broke)
        };
        !other_side_ahead_or_forced
            && others.iter().all(|z| started_after_break(*z) && !observer.mirror_latest_on(*m, *z))
    })?;
    Some(format!(
        "its last holder {} was the only server with the latest data of mirror {} (B106, B114) and rejoined a running cluster after its run ended (B2, B25, B56): needs group start",
        cfg.server(holder).name,
        cfg.resource(blocking).name
    ))
}

/// The last holder began starting the group while none of its messages reached any
/// server (cut off on its side of a split, B35, B36, B38, B43), and stopped it on its
/// departure (B14, B15), whose notice no server received: no server ever knew it ran
/// the group, so none took it over (B55), its rejoin moves nothing (B2, B25) and
/// nothing starts the group later on its own (B56).
pub(super) fn departure_unheard_of_a_group_nobody_knew(
    p: &Play,
    g: GroupId,
    since: Ms,
    departure_stop: &Emitted,
) -> Option<String> {
    let sim = &p.sim;
    let cfg = sim.cfg();
    let tl = &sim.timeline;
    let y = departure_stop.server;
    let y_run = tl
        .iter()
        .filter(|e| e.server == y && e.at_ms <= departure_stop.at_ms && e.event.kind == EventKind::ServiceStarted)
        .map(|e| e.at_ms)
        .max()
        .unwrap_or(0);
    let next_run = tl
        .iter()
        .find(|e| e.server == y && e.at_ms > departure_stop.at_ms && e.event.kind == EventKind::ServiceStarted)
        .map_or(Ms::MAX, |e| e.at_ms);
    let started_at = tl
        .iter()
        .filter(|e| {
            e.server == y
                && e.at_ms >= y_run
                && e.at_ms <= since
                && e.event.group == Some(g)
                && e.event.kind == EventKind::GroupStarting
        })
        .map(|e| e.at_ms)
        .max()?;
    // Nothing it sent from that start to its departure reached anyone, the departure
    // notice included (B14: "peers that receive it").
    let reached = sim.messages_from[y.idx()].iter().any(|at| *at >= started_at && *at < next_run);
    let heard = tl.iter().any(|e| {
        e.at_ms >= departure_stop.at_ms
            && e.at_ms < next_run
            && e.event.peer == Some(y)
            && [EventKind::ServerPlannedDown, EventKind::ServerFailureDown].contains(&e.event.kind)
    });
    // A formation after the departure would have placed it (B5).
    let formed = tl.iter().any(|e| e.at_ms >= departure_stop.at_ms && e.event.kind == EventKind::ClusterStarted);
    if reached || heard || formed {
        return None;
    }
    Some(format!(
        "started on {} while none of its messages reached any server (a split), then stopped by its departure, whose notice no server received (B14, B15): nobody knew it ran the group (B55, B2, B25, B56): needs group start",
        cfg.server(y).name
    ))
}
