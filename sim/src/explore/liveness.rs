//! The liveness check after the heal: every `startup = auto` group online on exactly
//! one eligible server (in its policy, reported online), or a documented reason why
//! it is not.
//!
//! In: the played run (simulator, steps, command ids) at the check instant, and the
//! heal instant. Out: one [`Verdict`] per `startup = auto` group. Only
//! `Unexplained` verdicts are failures; `Explained` ones are counted by reason in
//! the summary so that a reason that explains too much shows up.
//!
//! The reasons, each a documented behaviour that leaves a group offline until an
//! operator acts: in `error` (B74, `group stop`), or in `error` on a server then judged
//! down (B55, B61, B56: not a failover source); held by `failover = "manual"`
//! (B55); no eligible target when it was placed (B55, B56, `group start`), or its only
//! server left or ended its run holding it and rejoined (B2, B25, B56); stopped by
//! an accepted `group stop`; left by a final action (B71, B83); waiting for a
//! `start_after` group that is itself offline (B54); the cluster re-formed by a forced
//! return (B26, `group start`); a mirror whose latest data no running side holds
//! determinably (B106, `mirror force`); no server of the policy online; its last
//! holder alone held its mirror's latest data and rejoined after its run ended (B106,
//! B114, B2, B25, B56), or started it cut off from every peer and departed unheard
//! (B14, B55, B56) (both in `liveness_holder.rs`).

use super::run::Play;
use crate::scenario::Stmt;
use baton_core::config::{FinalAction, GroupId, Ms, RecoveryTarget, ServerId, Startup};
use baton_core::io::{GroupState, ServerState};
use baton_core::EventKind;

/// The outcome for one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// `key` names the reason's kind for the summary's counts; `reason` says it in full.
    Explained {
        group: String,
        key: &'static str,
        reason: String,
    },
    /// A failure: what was found, and the server it was expected on (for the
    /// `expect group G online on S` line that reproduces it).
    Unexplained {
        group: String,
        found: String,
        expect_on: String,
    },
}

/// Checks every `startup = auto` group.
pub fn check(p: &Play, heal_ms: Ms) -> Vec<Verdict> {
    let cfg = p.sim.cfg().clone();
    cfg.group_ids().filter(|g| cfg.group(*g).startup == Startup::Auto).map(|g| group(p, g, heal_ms)).collect()
}

fn group(p: &Play, g: GroupId, heal_ms: Ms) -> Verdict {
    let cfg = p.sim.cfg().clone();
    let grp = cfg.group(g);
    let name = grp.name.clone();
    let sim = &p.sim;
    let node = |s: ServerId| sim.world.machines[s.idx()].node.as_ref().filter(|n| !n.is_gone());
    let in_state = |st: GroupState| -> Vec<ServerId> {
        cfg.server_ids().filter(|s| node(*s).is_some_and(|n| n.group_state(g) == st)).collect()
    };
    let names = |v: &[ServerId]| v.iter().map(|s| cfg.server(*s).name.clone()).collect::<Vec<_>>().join(", ");
    let online = in_state(GroupState::Online);
    let eligible = |s: ServerId| grp.policy.contains(&s) && sim.server_state(s) == ServerState::Online;
    // Where the group belongs: the first online server of its policy.
    let expect_on = grp.policy.iter().copied().find(|s| eligible(*s)).unwrap_or(grp.policy[0]);
    let expect_on = cfg.server(expect_on).name.clone();
    let fail = |found: String| Verdict::Unexplained { group: name.clone(), found, expect_on: expect_on.clone() };
    let explained = |key: &'static str, reason: String| Verdict::Explained { group: name.clone(), key, reason };
    match online.as_slice() {
        [s] if eligible(*s) => return Verdict::Ok,
        [s] => return fail(format!("online on {} which is {}", cfg.server(*s).name, sim.server_state(*s).name())),
        [] => {}
        more => return fail(format!("online on {}", names(more))),
    }
    let error = in_state(GroupState::Error);
    if !error.is_empty() {
        return explained("in error (B74)", format!("in error on {} (B74): needs group stop", names(&error)));
    }
    let moving: Vec<ServerId> = [GroupState::Starting, GroupState::Stopping].into_iter().flat_map(in_state).collect();
    if !moving.is_empty() {
        return fail(format!("still starting or stopping on {} at the bound", names(&moving)));
    }
    let last_online = sim
        .timeline
        .iter()
        .rev()
        .find(|e| e.event.group == Some(g) && e.event.kind == EventKind::GroupOnline)
        .map(|e| e.at_ms);
    let since = last_online.unwrap_or(0);
    // An accepted `group stop G` after the group was last online.
    let stopped_by_command = p.steps.iter().enumerate().any(|(i, st)| {
        st.at_ms >= since
            && matches!(&st.stmt, Stmt::Cmd { words, .. } if words.len() >= 3 && words[0] == "group" && words[1] == "stop" && words[2] == name)
            && p.cmds.get(&i).and_then(|id| sim.replies.get(id)).is_some_and(|r| r.is_ok())
    });
    if stopped_by_command {
        return explained("stopped by group stop", "stopped by an accepted group stop".into());
    }
    let forced =
        sim.timeline.iter().any(|e| e.event.kind == EventKind::ServerForceReturned && e.at_ms >= since.max(heal_ms));
    if forced {
        return explained(
            "forced return (B26)",
            "cluster re-formed by a forced return (B26): needs group start".into(),
        );
    }
    // The cluster decided to hold the group (failover = manual, B55) after it was last
    // online: whatever stopped it later (its holder's own shutdown, whose notice the
    // server that had already judged it down never got) leaves it for an operator.
    let held = sim
        .timeline
        .iter()
        .any(|e| e.event.group == Some(g) && e.event.kind == EventKind::GroupFailoverHeld && e.at_ms >= since);
    if held {
        return explained(
            "failover manual (B55)",
            "held offline by failover = manual (B55): needs group start".to_string(),
        );
    }
    // Found no target by the takeover of a lost or departed server after it was last
    // online (B55, `group-no-target` with `server-failed-over` on the coordinator):
    // left offline by B55, not started later on its own (B56), whatever stopped it
    // after on its old server (whose departure notice the coordinator never got).
    let takeover_no_target = sim.timeline.iter().any(|e| {
        e.event.group == Some(g)
            && e.event.kind == EventKind::GroupNoTarget
            && e.at_ms >= since
            && sim
                .timeline
                .iter()
                .any(|f| f.server == e.server && f.at_ms == e.at_ms && f.event.kind == EventKind::ServerFailedOver)
    });
    if takeover_no_target {
        let formed_after = sim.timeline.iter().any(|e| e.at_ms >= since && e.event.kind == EventKind::ClusterStarted);
        if !formed_after {
            return explained(
                "no target (B56)",
                "no eligible target at the takeover of its server (B55, B56): needs group start".into(),
            );
        }
    }
    // In error on a server that a peer then judged down (B35): a group in error is not
    // online (B61), so the verdict does not fail it over (B55), and a group left
    // offline by B55 is not started later on its own (B56). Whatever stopped it after
    // (its holder's own shutdown, whose departure notice the server that had judged it
    // down never got) leaves it for an operator, unless a formation placed it (B5).
    if let Some(t) = judged_down_in_error(p, g, since) {
        let formed_after = sim.timeline.iter().any(|e| e.at_ms >= t && e.event.kind == EventKind::ClusterStarted);
        if !formed_after {
            return explained(
                "in error when judged down (B55, B56)",
                "in error on a server judged down, not a failover source (B55, B61, B56): needs group start".into(),
            );
        }
    }
    // Stopped by the orderly departure of its server (B14, B15, B68), whether or not a
    // peer heard the departure notice: with the only server of its policy gone no
    // server could take it (B55) and none starts it later on its own (B56); with
    // `failover = "manual"` it is held (B55).
    let offline = sim
        .timeline
        .iter()
        .rev()
        .find(|e| e.event.group == Some(g) && e.event.kind == EventKind::GroupOffline && e.at_ms >= since);
    // The departure may have begun while the group was still starting (a shutdown
    // accepted before `group-online`, B68 stops it once it is online), so the window
    // is the run of the server that stopped it, not `since`.
    let departing = offline.is_some_and(|off| {
        let run_start = sim
            .timeline
            .iter()
            .filter(|e| e.server == off.server && e.at_ms <= off.at_ms && e.event.kind == EventKind::ServiceStarted)
            .map(|e| e.at_ms)
            .max()
            .unwrap_or(0);
        sim.timeline.iter().any(|e| {
            e.server == off.server
                && e.at_ms >= run_start
                && e.at_ms <= off.at_ms
                && [
                    EventKind::ServiceStopping,
                    EventKind::ServerShutdown,
                    EventKind::ShutdownForFailure,
                    EventKind::RebootForFailure,
                    // B130 7: a dead process stops the groups and shuts the server
                    // down, a departure like a failure shutdown.
                    EventKind::ProcessDied,
                ]
                .contains(&e.event.kind)
        })
    });
    let run_ended_by = |t: ServerId, at: Ms| !running_at(p, t, at);
    if let (true, Some(off)) = (departing, offline) {
        // Every other server of its policy was off, stopped or suspended when the
        // departing server stopped it: no target (B55), and nothing starts it when
        // one comes back (B2, B25, B56).
        let alone = grp.policy.iter().all(|t| *t == off.server || run_ended_by(*t, off.at_ms));
        if alone {
            return explained(
                "no target (B56)",
                "stopped by the departure of the only server of its policy (B55, B56): needs group start".into(),
            );
        }
        if grp.failover == baton_core::config::FailoverMode::Manual {
            return explained(
                "failover manual (B55)",
                "stopped by its server's departure, held by failover = manual (B55): needs group start".into(),
            );
        }
    }
    // Last online on the only server of its policy, whose run then ended holding it
    // (crash, power, emergency-reboot final action) and which came back by joining a
    // running cluster: no other server could take it (B55, `group-no-target` if a
    // peer judged it down at all), the return does not activate it (B2, B25), and
    // nothing starts it later on its own (B56). A formation would place it (B5).
    let holder = sim
        .timeline
        .iter()
        .rev()
        .find(|e| e.event.group == Some(g) && e.event.kind == EventKind::GroupOnline)
        .map(|e| e.server);
    if let Some(x) = holder.filter(|x| grp.policy.as_slice() == [*x]) {
        let restarted = sim
            .timeline
            .iter()
            .filter(|e| e.server == x && e.at_ms > since && e.event.kind == EventKind::ServiceStarted)
            .map(|e| e.at_ms)
            .max();
        let formed_after =
            |at: Ms| sim.timeline.iter().any(|e| e.at_ms >= at && e.event.kind == EventKind::ClusterStarted);
        if restarted.is_some_and(|at| !formed_after(at)) {
            return explained(
                "no target (B56)",
                "its only server's run ended holding it and the server rejoined (B55, B25, B56): needs group start"
                    .into(),
            );
        }
    }
    let last_at = sim.timeline.iter().rposition(|e| {
        e.event.group == Some(g)
            && matches!(
                e.event.kind,
                EventKind::GroupOnline
                    | EventKind::GroupOffline
                    | EventKind::GroupFailoverHeld
                    | EventKind::GroupNoTarget
                    | EventKind::GroupStartBlocked
                    | EventKind::GroupStartWaiting
                    | EventKind::GroupStartFailed
                    | EventKind::ActivationFinalAction
                    | EventKind::RecoveryFinalAction
                    | EventKind::DeactivationFinalAction
                    | EventKind::MirrorStaleRefused
            )
    });
    let last = last_at.map(|i| &sim.timeline[i]);
    if let Some(by) = last_at.and_then(|i| stop_by_final_action(p, g, i)) {
        return explained(
            "final action (B71, B83)",
            format!("left offline by a final action that stopped it ({}) (B71, B83)", by.name()),
        );
    }
    if let Some(e) = last {
        // If-chains rather than a match: `EventKind` has a hundred variants and only
        // these few explain anything.
        let k = e.event.kind;
        let reason = if k == EventKind::GroupFailoverHeld {
            Some(("failover manual (B55)", "held offline by failover = manual (B55): needs group start".to_string()))
        } else if k == EventKind::GroupNoTarget {
            Some(("no target (B56)", "no eligible target when it was placed (B55, B56): needs group start".into()))
        } else if [EventKind::ActivationFinalAction, EventKind::RecoveryFinalAction, EventKind::GroupStartFailed]
            .contains(&k)
        {
            Some((
                "final action (B71, B83)",
                format!("left offline by a final action or failed start ({}) (B71, B83)", k.name()),
            ))
        } else if k == EventKind::GroupStartBlocked || k == EventKind::GroupStartWaiting {
            let waiting: Vec<String> = grp
                .start_after
                .iter()
                .filter(|a| {
                    !cfg.server_ids().any(|s| node(s).is_some_and(|n| n.group_state(**a) == GroupState::Online))
                })
                .map(|a| cfg.group(*a).name.clone())
                .collect();
            (!waiting.is_empty())
                .then(|| ("start_after (B54)", format!("waits for start_after group {} (B54)", waiting.join(", "))))
        } else if k == EventKind::MirrorStaleRefused {
            Some(("stale mirror refused (B106)", "its mirror refused stale data (B106)".into()))
        } else {
            None
        };
        if let Some((key, r)) = reason {
            return explained(key, r);
        }
    }
    for m in cfg.group_mirrors(g) {
        let undetermined = cfg
            .server_ids()
            .filter_map(node)
            .find(|n| n.resource_online(m))
            .or_else(|| grp.policy.iter().copied().find_map(node))
            .is_some_and(|n| n.mirror_status(m) == baton_core::node::MirrorStatus::Error);
        if undetermined {
            return explained(
                "mirror undetermined (B106)",
                format!(
                    "mirror {}: no running side holds determinable latest data (B106): needs mirror force",
                    cfg.resource(m).name
                ),
            );
        }
    }
    if !grp.policy.iter().any(|s| eligible(*s)) {
        let states: Vec<String> =
            grp.policy.iter().map(|s| format!("{} {}", cfg.server(*s).name, sim.server_state(*s).name())).collect();
        return explained(
            "no policy server online",
            format!("no server of its policy is online ({})", states.join(", ")),
        );
    }
    // The last holder left unseen: it alone held its mirror's latest data, or its
    // departure notice reached none of the peers that had counted it out
    // (`liveness_holder.rs`). Asked last, so that the reasons above keep their counts.
    let departure_stop = offline.filter(|_| departing);
    if let Some(x) = holder {
        if let Some(r) = super::liveness_holder::only_latest_holder_rejoined(p, g, since, x, departure_stop) {
            return explained("only latest-data holder rejoined (B106, B2, B56)", r);
        }
    }
    if let Some(r) =
        departure_stop.and_then(|d| super::liveness_holder::departure_unheard_of_a_group_nobody_knew(p, g, since, d))
    {
        return explained("departure unheard, group unknown (B14, B55, B56)", r);
    }
    let last_text = last.map_or("none".to_string(), |e| {
        format!("{} on {} at {}", e.event.kind.name(), cfg.server(e.server).name, crate::player::fmt_time(e.at_ms))
    });
    fail(format!("offline everywhere (last group event: {last_text})"))
}

/// Whether server `t` ran its service at `at`, from its own events. A crash leaves
/// none, so a crashed server counts as running: the checks built on this stay strict.
fn running_at(p: &Play, t: ServerId, at: Ms) -> bool {
    let mut running = false;
    for e in p.sim.timeline.iter().filter(|e| e.server == t && e.at_ms <= at) {
        let k = e.event.kind;
        if k == EventKind::ServiceStarted || k == EventKind::ServerReturned || k == EventKind::ServerForceReturned {
            running = true;
        } else if [
            EventKind::ServiceStopped,
            EventKind::ServiceStopForFailure,
            EventKind::EmergencyShutdown,
            EventKind::EmergencyReboot,
            EventKind::Panic,
            EventKind::ServerSuspended,
            // B130 6: the machine reset after its service had stopped.
            EventKind::ShutdownStallReset,
        ]
        .contains(&k)
        {
            running = false;
        }
    }
    running
}

/// The final action whose `stop-group` left `g` offline, when the group event at
/// `offline_at` in the timeline is the `group-offline` of a stop that such a final
/// action began. A monitor's `recovery-final-action` names its monitor, not a group
/// (B83.5: `stop-group` stops the group of a resource or group target, or every group
/// online on the server for `all-groups`), so it is tied to the group through the stop
/// it began: the group's `group-stopping` on the same server at the same instant, with
/// the final action just before it and the monitor's target covering the group.
/// `activation-final-action` (B71) names its group and is tied the same way.
fn stop_by_final_action(p: &Play, g: GroupId, offline_at: usize) -> Option<EventKind> {
    let cfg = p.sim.cfg();
    let tl = &p.sim.timeline;
    let offline = &tl[offline_at];
    if offline.event.kind != EventKind::GroupOffline {
        return None;
    }
    let stopping_at = tl[..offline_at].iter().rposition(|e| {
        e.server == offline.server && e.event.group == Some(g) && e.event.kind == EventKind::GroupStopping
    })?;
    let stopping = &tl[stopping_at];
    let covers = |t: RecoveryTarget| match t {
        RecoveryTarget::Resource(r) => cfg.resource(r).group == g,
        RecoveryTarget::Group(tg) => tg == g,
        // The stop began at the final action's instant on its server, so `g` was
        // among the groups online there.
        RecoveryTarget::AllGroups => true,
        RecoveryTarget::LocalServer => false,
    };
    tl[..stopping_at]
        .iter()
        .rev()
        .take_while(|e| e.at_ms == stopping.at_ms)
        .filter(|e| e.server == stopping.server)
        .find(|e| {
            if e.event.kind == EventKind::RecoveryFinalAction {
                e.event.monitor.is_some_and(|m| {
                    let mon = cfg.monitor(m);
                    mon.final_action == FinalAction::StopGroup && covers(mon.recovery_target)
                })
            } else {
                e.event.kind == EventKind::ActivationFinalAction && e.event.group == Some(g)
            }
        })
        .map(|e| e.event.kind)
}

/// The latest instant at or after `since` at which a server was judged down (B35,
/// `np-resolved-peer-down`) while `g` was in `error` there (B61), from that server's
/// own group events: `group-start-failed` and `group-stop-failed` enter `error`; a
/// start, stop, offline, online or a new run of the service leave it. The stop of its
/// orderly departure (B14) does not count: a server that judged it down afterwards
/// never got the departure notice and judged the `error` it last heard of.
fn judged_down_in_error(p: &Play, g: GroupId, since: Ms) -> Option<Ms> {
    let sim = &p.sim;
    sim.timeline
        .iter()
        .filter(|v| v.at_ms >= since && v.event.kind == EventKind::NpResolvedPeerDown)
        .filter_map(|v| {
            let s = v.event.peer?;
            let mut in_error = false;
            let mut leaving = false;
            for e in sim.timeline.iter().filter(|e| e.server == s && e.at_ms <= v.at_ms) {
                let k = e.event.kind;
                if k == EventKind::ServiceStarted {
                    in_error = false;
                    leaving = false;
                } else if k == EventKind::ServiceStopping {
                    leaving = true;
                } else if e.event.group == Some(g) && !leaving {
                    if k == EventKind::GroupStartFailed || k == EventKind::GroupStopFailed {
                        in_error = true;
                    } else if [
                        EventKind::GroupStarting,
                        EventKind::GroupStopping,
                        EventKind::GroupOffline,
                        EventKind::GroupOnline,
                    ]
                    .contains(&k)
                    {
                        in_error = false;
                    }
                }
            }
            in_error.then_some(v.at_ms)
        })
        .max()
}
