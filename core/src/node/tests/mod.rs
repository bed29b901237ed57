//! Unit tests of the node's modules, one file per module, each driving a single
//! [`Node`] directly through `handle` (no simulator): configurations are small TOML
//! texts parsed by the real checker, inputs are fed one at a time, and the tests look
//! at the outputs (events, timers, messages, actions, replies, persisted state).
//!
//! The harness [`H`] keeps the clock, mirrors the timer table and the actions in
//! flight from the outputs, and plays the peers (hello, shared state, heartbeats).

mod command;
mod fence;
mod group;
mod invariants;
mod membership;
mod mirror;
mod mirror_seen;
mod monitor;
mod np;
mod placement;
mod pseudo_fault;
mod recovery;
mod restart;
mod start_after;
mod suspension;
mod takeover;

use super::Node;
use crate::command::Command;
use crate::config::{Config, GroupId, MonId, Ms, PathId, ResId, ServerId};
use crate::event::{Event, EventKind};
use crate::io::{
    Action, ActionId, ActionResult, GroupState, Heartbeat, Input, Message, Output, Persisted, PowerAction, ServerState,
    SharedState, StartKind, Timer,
};
use crate::script::ScriptEnv;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) const S1: ServerId = ServerId(0);
pub(super) const S2: ServerId = ServerId(1);
pub(super) const S3: ServerId = ServerId(2);
pub(super) const S4: ServerId = ServerId(3);

// ---- configurations ------------------------------------------------------------------

/// `[cluster]` (plus the `extra` lines), `n` servers named `server1`… with addresses on
/// `lan1` and `public`, and one `lan` heartbeat path per name in `paths`.
pub(super) fn cluster_toml(n: usize, extra: &str, paths: &[&str]) -> String {
    let mut t = format!("[cluster]\nname = \"t\"\ninsecure = true\n{extra}\n");
    for i in 1..=n {
        t += &format!(
            "\n[[server]]\nname = \"server{i}\"\naddresses = {{ lan1 = \"192.168.0.{i}\", public = \"10.0.0.{i}\" }}\n"
        );
    }
    for p in paths {
        t += &format!("\n[[heartbeat]]\nname = \"{p}\"\nkind = \"lan\"\n");
    }
    t
}

/// Parses a configuration with the real checker; panics with every diagnostic.
pub(super) fn config(text: &str) -> Arc<Config> {
    match crate::config::parse("t.toml", text) {
        Ok(c) => Arc::new(c.config),
        Err(diags) => {
            let list: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!("test configuration refused:\n{}\n---\n{text}", list.join("\n"))
        }
    }
}

/// A `ping` resolver on every server.
pub(super) const PING_NP: &str = "\n[[np]]\nname = \"ping1\"\nkind = \"ping\"\ntargets = [\"10.0.0.254\"]\n";

/// A group named `name` with policy `servers` (server numbers, 1-based) and extra keys.
pub(super) fn group_toml(name: &str, servers: &[usize], extra: &str) -> String {
    let list: Vec<String> = servers.iter().map(|i| format!("\"server{i}\"")).collect();
    format!("\n[[group]]\nname = \"{name}\"\nservers = [{}]\n{extra}\n", list.join(", "))
}

/// A floating-IP resource of the group just above.
pub(super) fn fip_toml(name: &str, octet: u8) -> String {
    format!("\n[[group.resource]]\nname = \"{name}\"\nkind = \"floating-ip\"\naddress = \"10.0.0.{octet}/24\"\n")
}

/// An exec resource of the group just above, with extra keys (activation, deactivation…).
pub(super) fn exec_toml(name: &str, extra: &str) -> String {
    format!(
        "\n[[group.resource]]\nname = \"{name}\"\nkind = \"exec\"\nstart = \"start.sh\"\nstop = \"stop.sh\"\n{extra}\n"
    )
}

// ---- the harness -----------------------------------------------------------------------

/// One node under test, with the clock and what the harness knows from its outputs.
pub(super) struct H {
    pub node: Node,
    pub cfg: Arc<Config>,
    pub now: Ms,
    /// Every output since the last `clear`.
    pub log: Vec<Output>,
    /// The node's timers as it set them (fired ones removed).
    pub timers: BTreeMap<Timer, Ms>,
    /// Actions asked for and not yet answered or cancelled.
    pub actions: BTreeMap<ActionId, Action>,
    /// The state version each peer announced last.
    pub peer_version: BTreeMap<ServerId, u64>,
    next_cmd: u64,
}

impl H {
    pub fn new(text: &str, me: u16) -> H {
        let cfg = config(text);
        H {
            node: Node::new(cfg.clone(), ServerId(me)),
            cfg,
            now: 0,
            log: Vec::new(),
            timers: BTreeMap::new(),
            actions: BTreeMap::new(),
            peer_version: BTreeMap::new(),
            next_cmd: 1,
        }
    }

    pub fn g(&self, name: &str) -> GroupId {
        self.cfg.group_id(name).unwrap_or_else(|| panic!("no group {name}"))
    }
    pub fn r(&self, name: &str) -> ResId {
        self.cfg.resource_id(name).unwrap_or_else(|| panic!("no resource {name}"))
    }
    pub fn m(&self, name: &str) -> MonId {
        self.cfg.monitor_id(name).unwrap_or_else(|| panic!("no monitor {name}"))
    }

    /// Moves the clock to `t` (never backwards).
    pub fn at(&mut self, t: Ms) -> &mut H {
        assert!(t >= self.now, "test clock going backwards: {t} < {}", self.now);
        self.now = t;
        self
    }

    pub fn clear(&mut self) {
        self.log.clear();
    }

    /// Feeds one input at the current time; returns its outputs.
    pub fn input(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.node.handle(self.now, input, &mut out);
        for o in &out {
            match o {
                Output::SetTimer { at_ms, timer } => {
                    self.timers.insert(*timer, *at_ms);
                }
                Output::Execute { id, action } => {
                    self.actions.insert(*id, action.clone());
                }
                Output::Cancel { id } => {
                    self.actions.remove(id);
                }
                Output::Heartbeat { .. }
                | Output::Send { .. }
                | Output::Emit(_)
                | Output::Reply { .. }
                | Output::Persist(_) => {}
            }
        }
        self.log.extend(out.iter().cloned());
        out
    }

    pub fn boot(&mut self, persisted: Option<Persisted>) -> Vec<Output> {
        self.input(Input::Boot { persisted })
    }

    pub fn msg(&mut self, from: ServerId, msg: Message) -> Vec<Output> {
        self.input(Input::Message { from, msg: Box::new(msg) })
    }

    fn version_of(&self, s: ServerId) -> u64 {
        self.peer_version.get(&s).copied().unwrap_or(1)
    }

    /// The peer's service says Hello (run 1).
    pub fn hello(&mut self, from: ServerId, state: ServerState) -> Vec<Output> {
        let version = self.version_of(from);
        self.msg(from, Message::Hello { run: 1, state, version })
    }

    /// The peer shares its state (run 1, next version) after `f` fills it in.
    pub fn share_with(&mut self, from: ServerId, state: ServerState, f: impl FnOnce(&mut SharedState)) -> Vec<Output> {
        let v = self.peer_version.get(&from).map_or(1, |v| v + 1);
        self.peer_version.insert(from, v);
        let mut s = SharedState { version: v, run: 1, state: Some(state), ..Default::default() };
        f(&mut s);
        self.msg(from, Message::State(Box::new(s)))
    }

    /// The peer shares its state, holding `groups`.
    pub fn share(&mut self, from: ServerId, state: ServerState, groups: Vec<(GroupId, GroupState)>) -> Vec<Output> {
        self.share_with(from, state, |s| s.groups = groups)
    }

    /// A heartbeat from an online peer on one path (run 1, its latest version).
    pub fn hb(&mut self, from: ServerId, path: u16) -> Vec<Output> {
        let hb = Heartbeat { run: 1, state: ServerState::Online, version: self.version_of(from), sent_ms: self.now };
        self.input(Input::Heartbeat { from, path: PathId(path), hb })
    }

    /// A heartbeat from an online peer on every configured path.
    pub fn hb_all(&mut self, from: ServerId) -> Vec<Output> {
        let mut out = Vec::new();
        for p in 0..self.cfg.heartbeats.len() {
            out.extend(self.hb(from, p as u16));
        }
        out
    }

    /// When the node last set `timer` for (and the harness has not fired it since).
    pub fn timer(&self, timer: Timer) -> Option<Ms> {
        self.timers.get(&timer).copied()
    }

    /// Fires `timer` at the instant it was set for (or now, if that is past).
    #[track_caller]
    pub fn fire(&mut self, timer: Timer) -> Vec<Output> {
        let at = self.timers.remove(&timer).unwrap_or_else(|| panic!("timer {timer:?} is not set"));
        self.now = self.now.max(at);
        self.input(Input::TimerFired { timer })
    }

    /// Fires `timer` now, whatever the node set it for.
    pub fn fire_now(&mut self, timer: Timer) -> Vec<Output> {
        self.timers.remove(&timer);
        self.input(Input::TimerFired { timer })
    }

    /// Fires, in time order, every timer of the kinds `pick` accepts that is due by `until`,
    /// then moves the clock to `until`.
    pub fn run_until(&mut self, until: Ms, pick: impl Fn(&Timer) -> bool) -> Vec<Output> {
        let mut out = Vec::new();
        loop {
            let next = self.timers.iter().filter(|(t, at)| pick(t) && **at <= until).min_by_key(|(_, at)| **at);
            let Some((t, _)) = next.map(|(t, at)| (*t, *at)) else { break };
            out.extend(self.fire(t));
        }
        self.at(until);
        out
    }

    pub fn done(&mut self, id: ActionId, result: ActionResult) -> Vec<Output> {
        assert!(self.actions.remove(&id).is_some(), "no action {id} in flight");
        self.input(Input::ActionDone { id, result })
    }

    pub fn ok(&mut self, id: ActionId) -> Vec<Output> {
        self.done(id, ActionResult::Ok)
    }

    pub fn fail(&mut self, id: ActionId) -> Vec<Output> {
        self.done(id, ActionResult::Failed("injected failure".into()))
    }

    pub fn find_action(&self, pred: impl Fn(&Action) -> bool) -> Option<ActionId> {
        self.actions.iter().find(|(_, a)| pred(a)).map(|(id, _)| *id)
    }

    #[track_caller]
    pub fn activation_of(&self, res: ResId) -> ActionId {
        self.find_action(|a| matches!(a, Action::Activate { res: r, .. } if *r == res))
            .unwrap_or_else(|| panic!("no activation of {} in flight: {:?}", self.cfg.resource(res).name, self.actions))
    }

    #[track_caller]
    pub fn deactivation_of(&self, res: ResId) -> ActionId {
        self.find_action(|a| matches!(a, Action::Deactivate { res: r, .. } if *r == res)).unwrap_or_else(|| {
            panic!("no deactivation of {} in flight: {:?}", self.cfg.resource(res).name, self.actions)
        })
    }

    /// Answers Ok to every activation, deactivation and RECOVER run in flight, again
    /// and again until none is left.
    pub fn settle(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(id) = self.find_action(|a| {
            matches!(a, Action::Activate { .. } | Action::Deactivate { .. } | Action::RecoverRun { .. })
        }) {
            out.extend(self.ok(id));
        }
        out
    }

    /// An operator command given on this server.
    pub fn cmd(&mut self, cmd: Command) -> Vec<Output> {
        let id = self.next_cmd;
        self.next_cmd += 1;
        self.input(Input::Command { id, cmd })
    }

    /// Fires the monitor's next check and answers it.
    #[track_caller]
    pub fn check(&mut self, m: MonId, healthy: bool) -> Vec<Output> {
        let mut out = self.fire(Timer::MonitorCheck(m));
        let id = self
            .find_action(|a| matches!(a, Action::MonitorCheck { mon } if *mon == m))
            .unwrap_or_else(|| panic!("no check of monitor {} in flight", self.cfg.monitor(m).name));
        out.extend(self.done(id, ActionResult::Check { healthy, detail: String::new() }));
        out
    }
}

// ---- bringing a node to a known state ---------------------------------------------------

/// Boots server `me` at t = 0; at t = 1 every other server says Hello while waiting in
/// startup synchronisation and shares its state (holding the groups `held` names, as
/// (server, group)): the cluster forms with everyone present.
pub(super) fn formed_with(text: &str, me: u16, held: &[(ServerId, &str)]) -> H {
    let mut h = H::new(text, me);
    h.boot(None);
    h.at(1);
    let peers: Vec<ServerId> = h.cfg.server_ids().filter(|p| p.0 != me).collect();
    for p in peers {
        let groups: Vec<(GroupId, GroupState)> =
            held.iter().filter(|(s, _)| *s == p).map(|(_, g)| (h.g(g), GroupState::Online)).collect();
        // Like a real fresh peer, it shares its mirror sides' records: synced, never
        // paired (B108), so that both sides are visible at the construction (B106).
        let mirrors = fresh_mirror_records(&h.cfg, p);
        h.hello(p, ServerState::Syncing);
        h.share_with(p, ServerState::Syncing, |s| {
            s.groups = groups;
            s.mirrors = mirrors;
        });
    }
    assert_eq!(h.node.reported_state(), ServerState::Online, "the cluster did not form: {:?}", kinds(&h.log));
    h
}

/// The records a server that never ran shares for the mirror sides it holds (B108).
fn fresh_mirror_records(cfg: &Config, s: ServerId) -> Vec<(ResId, u8, crate::io::MirrorRecord)> {
    cfg.mirror_ids()
        .filter_map(|res| {
            let m = cfg.resource(res).kind.mirror()?;
            let side = m.sides.iter().position(|side| side.servers.contains(&s))?;
            Some((res, side as u8, crate::io::MirrorRecord::Synced))
        })
        .collect()
}

/// [`formed_with`] with no group held by a peer.
pub(super) fn formed(text: &str, me: u16) -> H {
    formed_with(text, me, &[])
}

/// Boots server `me` with `persisted` at t = 0; at t = 1 every other server, already an
/// online member, says Hello and shares its state (holding `held`): the node joins (B2).
pub(super) fn joined(text: &str, me: u16, persisted: Option<Persisted>, held: &[(ServerId, &str)]) -> H {
    let mut h = H::new(text, me);
    h.boot(persisted);
    h.at(1);
    let peers: Vec<ServerId> = h.cfg.server_ids().filter(|p| p.0 != me).collect();
    for p in peers {
        let groups: Vec<(GroupId, GroupState)> =
            held.iter().filter(|(s, _)| *s == p).map(|(_, g)| (h.g(g), GroupState::Online)).collect();
        h.hello(p, ServerState::Online);
        h.share(p, ServerState::Online, groups);
    }
    h
}

/// Boots server `me` with `persisted`; nobody else starts and `sync_wait` expires.
pub(super) fn alone(text: &str, me: u16, persisted: Option<Persisted>) -> H {
    let mut h = H::new(text, me);
    h.boot(persisted);
    h.fire(Timer::SyncWait);
    h
}

/// What a previous run left on disk after ending uncleanly.
pub(super) fn unclean(groups_online: Vec<GroupId>) -> Persisted {
    Persisted { runs: 1, last_end_clean: Some(false), groups_online, ..Default::default() }
}

// ---- looking at outputs ----------------------------------------------------------------------

pub(super) fn events(out: &[Output]) -> Vec<&Event> {
    out.iter().filter_map(|o| if let Output::Emit(e) = o { Some(e) } else { None }).collect()
}

pub(super) fn kinds(out: &[Output]) -> Vec<EventKind> {
    events(out).iter().map(|e| e.kind).collect()
}

pub(super) fn has(out: &[Output], k: EventKind) -> bool {
    events(out).iter().any(|e| e.kind == k)
}

pub(super) fn count(out: &[Output], k: EventKind) -> usize {
    events(out).iter().filter(|e| e.kind == k).count()
}

/// The first event of kind `k`; panics with the kinds emitted.
#[track_caller]
pub(super) fn event(out: &[Output], k: EventKind) -> &Event {
    events(out).into_iter().find(|e| e.kind == k).unwrap_or_else(|| panic!("no {k:?} event in {:?}", kinds(out)))
}

#[track_caller]
pub(super) fn assert_event(out: &[Output], k: EventKind) {
    assert!(has(out, k), "expected a {k:?} event, got {:?}", kinds(out));
}

#[track_caller]
pub(super) fn assert_no_event(out: &[Output], k: EventKind) {
    assert!(!has(out, k), "unexpected {k:?} event in {:?}", kinds(out));
}

/// Whether an event of kind `k` about group `g` was emitted.
pub(super) fn has_for_group(out: &[Output], k: EventKind, g: GroupId) -> bool {
    events(out).iter().any(|e| e.kind == k && e.group == Some(g))
}

/// The instant `timer` was set for in `out` (the last setting).
pub(super) fn timer_set(out: &[Output], timer: Timer) -> Option<Ms> {
    out.iter().rev().find_map(|o| {
        if let Output::SetTimer { at_ms, timer: t } = o {
            (*t == timer).then_some(*at_ms)
        } else {
            None
        }
    })
}

/// The messages sent to `to`.
pub(super) fn sent(out: &[Output], to: ServerId) -> Vec<&Message> {
    out.iter()
        .filter_map(|o| if let Output::Send { to: t, msg } = o { (*t == to).then_some(&**msg) } else { None })
        .collect()
}

/// The kind of the `StartGroup` of `g` sent to `to`, if any.
pub(super) fn start_sent(out: &[Output], to: ServerId, g: GroupId) -> Option<StartKind> {
    sent(out, to).into_iter().find_map(|m| {
        if let Message::StartGroup { group, kind, .. } = m {
            (*group == g).then_some(*kind)
        } else {
            None
        }
    })
}

/// Whether a `StartGroup` of `g` was sent to anybody.
pub(super) fn start_sent_anywhere(out: &[Output], g: GroupId) -> bool {
    out.iter().any(
        |o| matches!(o, Output::Send { msg, .. } if matches!(**msg, Message::StartGroup { group, .. } if group == g)),
    )
}

pub(super) fn actions(out: &[Output]) -> Vec<&Action> {
    out.iter().filter_map(|o| if let Output::Execute { action, .. } = o { Some(action) } else { None }).collect()
}

/// Resources activated, in order.
pub(super) fn activated(out: &[Output]) -> Vec<ResId> {
    actions(out)
        .into_iter()
        .filter_map(|a| if let Action::Activate { res, .. } = a { Some(*res) } else { None })
        .collect()
}

/// Resources deactivated, in order.
pub(super) fn deactivated(out: &[Output]) -> Vec<ResId> {
    actions(out)
        .into_iter()
        .filter_map(|a| if let Action::Deactivate { res, .. } = a { Some(*res) } else { None })
        .collect()
}

/// The environment of the (first) activation of `res`.
#[track_caller]
pub(super) fn start_env(out: &[Output], res: ResId) -> ScriptEnv {
    actions(out)
        .into_iter()
        .find_map(|a| {
            if let Action::Activate { res: r, env } = a {
                (*r == res).then(|| env.clone().expect("an exec start has an environment"))
            } else {
                None
            }
        })
        .unwrap_or_else(|| panic!("no activation of resource {res:?}"))
}

/// The environment of the (first) deactivation of `res`.
#[track_caller]
pub(super) fn stop_env(out: &[Output], res: ResId) -> ScriptEnv {
    actions(out)
        .into_iter()
        .find_map(|a| {
            if let Action::Deactivate { res: r, env } = a {
                (*r == res).then(|| env.clone().expect("an exec stop has an environment"))
            } else {
                None
            }
        })
        .unwrap_or_else(|| panic!("no deactivation of resource {res:?}"))
}

/// The power action asked for, if any.
pub(super) fn power(out: &[Output]) -> Option<PowerAction> {
    actions(out).into_iter().find_map(|a| if let Action::Power(p) = a { Some(*p) } else { None })
}

/// The reply to a command.
#[track_caller]
pub(super) fn reply(out: &[Output]) -> Result<(), String> {
    out.iter()
        .find_map(|o| if let Output::Reply { result, .. } = o { Some(result.clone()) } else { None })
        .expect("a reply to the command")
}

/// The last state written to the local disk.
pub(super) fn persisted(out: &[Output]) -> Option<&Persisted> {
    out.iter().rev().find_map(|o| if let Output::Persist(p) = o { Some(&**p) } else { None })
}

/// The `KEY=VALUE` pairs of an environment.
pub(super) fn vars(e: &ScriptEnv) -> BTreeMap<&'static str, String> {
    e.vars().into_iter().collect()
}

/// Whether anything other than events, replies, persists and timers was asked for.
pub(super) fn acted(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::Send { .. } | Output::Execute { .. } | Output::Cancel { .. }))
}
