//! Expectations of the scenario language, evaluated against the simulator at their
//! instant.
//!
//! In: one [`Expect`] and the simulator. Out: whether it holds, and if not, what was
//! found instead (so a failing line says why).

use crate::engine::Sim;
use crate::scenario::{Expect, MirrorState, MonitorState, ReplyState, ResourceState, ScriptPhase, ScriptRun};
use baton_core::config::ServerId;
use baton_core::io::{CommandId, GroupState};
use baton_core::EventKind;

/// Checks one expectation; `last_cmd` is the previous `cmd` (for `expect reply`).
pub fn check(sim: &Sim, e: &Expect, last_cmd: Option<CommandId>) -> (bool, String) {
    let cfg = sim.cfg().clone();
    let sid = |n: &str| cfg.server_id(n).expect("checked server");
    let node = |s: ServerId| sim.world.machines[s.idx()].node.as_ref().filter(|n| !n.is_gone());
    let group_where = |g, st: GroupState| -> Vec<String> {
        cfg.server_ids()
            .filter(|s| node(*s).is_some_and(|n| n.group_state(g) == st))
            .map(|s| cfg.server(s).name.clone())
            .collect()
    };
    match e {
        Expect::GroupOnline { group, server } => {
            let g = cfg.group_id(group).expect("checked group");
            let on = group_where(g, GroupState::Online);
            (on == vec![server.clone()], format!("online on [{}]", on.join(", ")))
        }
        Expect::GroupOffline { group } => {
            let g = cfg.group_id(group).expect("checked group");
            let on = group_where(g, GroupState::Online);
            (on.is_empty(), format!("online on [{}]", on.join(", ")))
        }
        Expect::GroupError { group } => {
            let g = cfg.group_id(group).expect("checked group");
            let on = group_where(g, GroupState::Error);
            (!on.is_empty(), "in error nowhere".into())
        }
        Expect::Resource { resource, state, server } => {
            let r = cfg.resource_id(resource).expect("checked resource");
            let online = node(sid(server)).is_some_and(|n| n.resource_online(r));
            let want = matches!(state, ResourceState::Online);
            (online == want, if online { "online" } else { "offline" }.to_string())
        }
        Expect::Server { server, state } => {
            let got = sim.server_state(sid(server)).name();
            (got == state.name(), format!("server is {got}"))
        }
        Expect::Monitor { monitor, state, server } => {
            let m = cfg.monitor_id(monitor).expect("checked monitor");
            let got = node(sid(server)).map_or("stopped", |n| n.monitor(m).name());
            let want = match state {
                MonitorState::Ok => "ok",
                MonitorState::Error => "error",
                MonitorState::Stopped => "stopped",
            };
            (got == want, format!("monitor is {got}"))
        }
        Expect::Mirror { mirror, state } => {
            let r = cfg.resource_id(mirror).expect("checked mirror");
            let got = observer(sim, r).map_or("error", |n| n.mirror_status(r).name());
            let want = match state {
                MirrorState::Normal => "normal",
                MirrorState::Degraded => "degraded",
                MirrorState::Rebuilding => "rebuilding",
                MirrorState::Error => "error",
            };
            (got == want, format!("mirror is {got}"))
        }
        Expect::MirrorLatest { mirror, server } => {
            let r = cfg.resource_id(mirror).expect("checked mirror");
            let ok = observer(sim, r).is_some_and(|n| n.mirror_latest_on(r, sid(server)));
            (ok, "that server does not hold the latest data".into())
        }
        Expect::MirrorIdentical { mirror } => {
            let r = cfg.resource_id(mirror).expect("checked mirror");
            let mut d = sim.world.mirrors.get(&r).cloned().unwrap_or_default();
            d.settle(sim.now);
            (d.content[0] == d.content[1], "the copies differ".into())
        }
        Expect::Event { event, on, count } => {
            let n = count_events(sim, event, on.as_deref(), 0);
            match count {
                Some(c) => (n == *c as usize, format!("emitted {n} times")),
                None => (n > 0, "never emitted".into()),
            }
        }
        Expect::NoEvent { event, on, since_ms } => {
            let n = count_events(sim, event, on.as_deref(), since_ms.unwrap_or(0));
            (n == 0, format!("emitted {n} times"))
        }
        Expect::Script(run) => {
            let found = script_ran(sim, run);
            (found, "no such run".into())
        }
        Expect::NoScript(run) => (!script_ran(sim, run), "such a run happened".into()),
        Expect::Reply(want) => match last_cmd.and_then(|id| sim.replies.get(&id)) {
            None => (false, "no reply yet".into()),
            Some(Ok(())) => (matches!(want, ReplyState::Ok), "the command was accepted".into()),
            Some(Err(reason)) => (matches!(want, ReplyState::Error), format!("refused: {reason}")),
        },
        Expect::SplitBrain { group } => {
            let g = cfg.group_id(group).expect("checked group");
            (sim.split_brain.contains(&g), "never online twice".into())
        }
    }
}

/// The node that reports a mirror's state: where it is online, else the first running side.
fn observer(sim: &Sim, r: baton_core::config::ResId) -> Option<&baton_core::Node> {
    let cfg = sim.cfg();
    let running = |s: ServerId| sim.world.machines[s.idx()].node.as_ref().filter(|n| !n.is_gone());
    if let Some(n) = cfg.server_ids().filter_map(running).find(|n| n.resource_online(r)) {
        return Some(n);
    }
    let m = cfg.resource(r).kind.mirror()?;
    m.sides.iter().flat_map(|side| side.servers.iter().copied()).find_map(running)
}

fn count_events(sim: &Sim, event: &str, on: Option<&str>, since_ms: u64) -> usize {
    let kind = EventKind::from_name(event).expect("checked event");
    let server = on.map(|n| sim.cfg().server_id(n).expect("checked server"));
    sim.timeline
        .iter()
        .filter(|e| e.event.kind == kind && e.at_ms >= since_ms && server.is_none_or(|s| s == e.server))
        .count()
}

fn script_ran(sim: &Sim, run: &ScriptRun) -> bool {
    let cfg = sim.cfg();
    let r = cfg.resource_id(&run.resource).expect("checked resource");
    let s = cfg.server_id(&run.server).expect("checked server");
    sim.scripts.iter().any(|rec| {
        let phase_ok = match run.phase {
            None => true,
            Some(ScriptPhase::Start) => rec.start,
            Some(ScriptPhase::Stop) => !rec.start,
        };
        let vars = rec.env.vars();
        rec.res == r
            && rec.server == s
            && phase_ok
            && run.env.iter().all(|(k, v)| vars.iter().any(|(vk, vv)| vk == k && vv == v))
    })
}
