//! The discrete-event loop: a priority queue of (time, sequence) events over the
//! world, jumping straight from one event to the next. Each server's `Node` gets its
//! inputs here; of its outputs (a `baton_core::Ready`) the durable part goes to the
//! machine's disk and the timeline first, then the acts become new events (packets after
//! the network latency, timers at their instant, action results after the action's
//! time). A crash point armed by `crash SERVER after-persist|before-next` cuts the power
//! between the two, or after the acts (docs/event-log.md § Crash points).
//!
//! In: a world, knobs, and events pushed by the player (scenario steps, explorer
//! faults). Out: the timeline of emitted events, script runs, command replies, and
//! breaches of the invariants of `scenario.md`.

use crate::scenario::CrashPoint;
use crate::world::{Power, World};
use baton_core::config::{GroupId, Ms, ResId, ServerId};
use baton_core::io::{ActionId, ActionResult, CommandId, Input, PowerAction};
use baton_core::script::ScriptEnv;
use baton_core::{Act, Event, EventKind, Node, Ready};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

/// Environment knobs (scenario.md § Knobs).
pub use crate::scenario::Knobs;

#[cfg(test)]
mod tests;

/// One emitted event, stamped with time and server.
#[derive(Clone, Debug)]
pub struct Emitted {
    pub at_ms: Ms,
    pub server: ServerId,
    pub event: Event,
}

/// One exec script run (start, stop or RECOVER), as `expect script` sees it.
#[derive(Clone, Debug)]
pub struct ScriptRecord {
    pub at_ms: Ms,
    pub server: ServerId,
    pub res: ResId,
    /// true for the start script (including RECOVER runs), false for stop.
    pub start: bool,
    pub env: ScriptEnv,
}

/// Inputs within one simulated minute past which a run is a runaway (see
/// `Sim::guard_runaway`).
pub const RUNAWAY_INPUTS_PER_MINUTE: u64 = 200_000;

/// A breach of an invariant: the run fails at this instant.
#[derive(Clone, Debug)]
pub struct Breach {
    pub at_ms: Ms,
    pub text: String,
}

/// What an event of the queue does.
#[derive(Debug)]
pub enum EvKind {
    /// A player callback (scenario step, explorer fault), by index.
    Step(usize),
    /// The machine finished booting: the service starts.
    ServiceStart { server: ServerId, epoch: u64 },
    /// An input for a server: `epoch` = the run it is for (`None`: whatever runs).
    Deliver { server: ServerId, epoch: Option<u64>, input: Input },
    /// An action finished: apply its physical effect, then report it.
    Complete { server: ServerId, epoch: u64, id: ActionId, effect: crate::actions::Effect, result: ActionResult },
    /// A stall ends: queued inputs are handled in arrival order (B19).
    StallEnd { server: ServerId, epoch: u64 },
    /// The user-space watchdog of a frozen service expires (B87).
    Watchdog { server: ServerId, epoch: u64, since_ms: Ms },
}

pub struct Ev {
    pub at_ms: Ms,
    pub seq: u64,
    pub kind: EvKind,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ms, self.seq) == (o.at_ms, o.seq)
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at_ms, o.seq).cmp(&(self.at_ms, self.seq))
    }
}

/// The simulator: world, queue, and what has been observed.
pub struct Sim {
    pub world: World,
    pub knobs: Knobs,
    pub(crate) queue: BinaryHeap<Ev>,
    seq: u64,
    pub now: Ms,
    pub timeline: Vec<Emitted>,
    pub scripts: Vec<ScriptRecord>,
    pub replies: BTreeMap<CommandId, Result<(), String>>,
    next_command: CommandId,
    pub cancelled: BTreeSet<(ServerId, ActionId)>,
    /// Groups seen online on two servers at once.
    pub split_brain: BTreeSet<GroupId>,
    /// Every double start seen, allowed or not: (instant, group, "… online on A and
    /// B"). The explorer names the rule that let a split happen from the pair.
    pub doubles: Vec<(Ms, GroupId, String)>,
    pub allow_split_brain: bool,
    pub breaches: Vec<Breach>,
    /// Every freeze of a service (`stall`, B19): (server, from, until), in the order
    /// the stalls began (the explorer names the hazard a short freeze allows).
    pub stalls: Vec<(ServerId, Ms, Ms)>,
    /// For each server, the instants at which a node handled a cluster message from it
    /// (one entry per instant): the explorer tells from it whether anything a server
    /// did could have reached its peers.
    pub messages_from: Vec<Vec<Ms>>,
    /// Inputs handled (for speed reports).
    pub inputs_handled: u64,
    /// The runaway guard: the simulated minute being counted and its inputs so far.
    storm_window: (Ms, u64),
    /// Replaced mirror devices found by the driver at the next service start.
    pub pending_disk_errors: BTreeSet<(ResId, ServerId)>,
    /// When tracing: the configuration file's name and text, and each server's log records.
    pub trace_config: Option<(String, String)>,
    pub traces: Vec<Vec<baton_core::record::LogRecord>>,
    /// Mirror connect states last reported to each side's node: (mirror, server, network) → (epoch, up).
    link_reported: BTreeMap<(ResId, ServerId, u8), (u64, bool)>,
}

impl Sim {
    pub fn new(cfg: Arc<baton_core::Config>, knobs: Knobs, seed: u64) -> Sim {
        let mut world = World::new(cfg, seed);
        let servers = world.machines.len();
        // Unknown names were refused by `check`; a caller that skipped it gets exact clocks.
        for (name, c) in &knobs.clocks {
            if let Some(s) = world.cfg.server_id(name) {
                world.machines[s.idx()].clock = crate::clock::MachineClock::new(c.offset_ms, c.drift_ppm);
            }
        }
        Sim {
            world,
            knobs,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            timeline: Vec::new(),
            scripts: Vec::new(),
            replies: BTreeMap::new(),
            next_command: 1,
            cancelled: BTreeSet::new(),
            split_brain: BTreeSet::new(),
            doubles: Vec::new(),
            allow_split_brain: false,
            breaches: Vec::new(),
            stalls: Vec::new(),
            messages_from: vec![Vec::new(); servers],
            inputs_handled: 0,
            storm_window: (0, 0),
            link_reported: BTreeMap::new(),
            pending_disk_errors: BTreeSet::new(),
            trace_config: None,
            traces: Vec::new(),
        }
    }

    pub fn cfg(&self) -> &Arc<baton_core::Config> {
        &self.world.cfg
    }

    pub fn push(&mut self, at_ms: Ms, kind: EvKind) {
        self.seq += 1;
        self.queue.push(Ev { at_ms: at_ms.max(self.now), seq: self.seq, kind });
    }

    /// Runs events until the next one is later than `until_ms` or a player step is due;
    /// returns the step index when one is reached.
    pub fn run_until(&mut self, until_ms: Ms) -> Option<usize> {
        while let Some(ev) = self.queue.peek() {
            if ev.at_ms > until_ms {
                break;
            }
            let ev = self.queue.pop().expect("peeked");
            self.now = ev.at_ms;
            match ev.kind {
                EvKind::Step(i) => return Some(i),
                kind @ (EvKind::ServiceStart { .. }
                | EvKind::Deliver { .. }
                | EvKind::Complete { .. }
                | EvKind::StallEnd { .. }
                | EvKind::Watchdog { .. }) => self.process(kind),
            }
            if !self.breaches.is_empty() {
                return None;
            }
        }
        self.now = self.now.max(until_ms);
        None
    }

    /// A message or timer storm between nodes (each input making more) would grow the
    /// queue and the timeline until memory runs out; it is a bug of the decision logic
    /// like an invariant breach, so the run fails here and the explorer writes it.
    /// The bound is far above any healthy cluster: six servers on four heartbeat paths
    /// at a 500 ms interval handle about 15,000 inputs a minute.
    fn guard_runaway(&mut self) {
        let window_ms = 60_000;
        if self.now >= self.storm_window.0.saturating_add(window_ms) {
            self.storm_window = (self.now, 0);
        }
        self.storm_window.1 += 1;
        if self.storm_window.1 == RUNAWAY_INPUTS_PER_MINUTE {
            self.breaches.push(Breach {
                at_ms: self.now,
                text: format!(
                    "runaway: over {RUNAWAY_INPUTS_PER_MINUTE} node inputs within one simulated minute (a message or timer storm)"
                ),
            });
        }
    }

    fn process(&mut self, kind: EvKind) {
        match kind {
            EvKind::Step(_) => unreachable!("steps are returned to the player"),
            EvKind::ServiceStart { server, epoch } => self.service_start(server, epoch),
            EvKind::Deliver { server, epoch, input } => self.deliver(server, epoch, input),
            EvKind::Complete { server, epoch, id, effect, result } => {
                if self.cancelled.remove(&(server, id)) || self.world.machines[server.idx()].epoch != epoch {
                    return;
                }
                let result = self.apply_effect(server, effect, result);
                self.deliver(server, Some(epoch), Input::ActionDone { id, result });
            }
            EvKind::StallEnd { server, epoch } => self.stall_end(server, epoch),
            EvKind::Watchdog { server, epoch, since_ms } => self.watchdog(server, epoch, since_ms),
        }
    }

    // ---- machines ----------------------------------------------------------------

    /// Powers a machine on: its service starts after `boot-time`.
    pub fn power_on(&mut self, s: ServerId) {
        let m = &mut self.world.machines[s.idx()];
        if m.power != Power::Off {
            return;
        }
        m.power = Power::Booting;
        m.epoch += 1;
        let epoch = m.epoch;
        let at = self.now + self.knobs.boot_time_ms;
        self.push(at, EvKind::ServiceStart { server: s, epoch });
    }

    /// Power loss: nothing more happens on the machine; what it held is released.
    pub fn power_off(&mut self, s: ServerId) {
        let m = &mut self.world.machines[s.idx()];
        m.power = Power::Off;
        m.node = None;
        m.epoch += 1;
        m.stalled_until = None;
        m.stalled_since = None;
        m.watchdog_kick_ms = None;
        m.stall_queue.clear();
        self.world.release_all(s, self.now);
        self.sync_mirror_links();
    }

    /// Starts the cluster service on a powered-on machine.
    pub fn start_service_now(&mut self, s: ServerId) {
        let m = &mut self.world.machines[s.idx()];
        m.epoch += 1;
        let epoch = m.epoch;
        m.power = Power::Booting;
        self.push(self.now, EvKind::ServiceStart { server: s, epoch });
    }

    fn service_start(&mut self, s: ServerId, epoch: u64) {
        let cfg = self.world.cfg.clone();
        let m = &mut self.world.machines[s.idx()];
        if m.epoch != epoch || m.power != Power::Booting {
            return; // crashed while booting
        }
        m.power = Power::On;
        m.epoch += 1;
        m.node = Some(Node::new(cfg, s));
        // The daemon reads the wall clock once, at service start (`crate::clock`).
        m.clock.start_run(self.now);
        let node_now = m.clock.node_ms(self.now);
        let persisted = m.disk.clone();
        let epoch = m.epoch;
        if let Some((name, text)) = &self.trace_config {
            let record = baton_core::record::LogRecord::RunStart {
                server: self.world.cfg.server(s).name.clone(),
                config_name: name.clone(),
                config_text: text.clone(),
                at_ms: node_now,
            };
            self.trace(s, record);
        }
        self.deliver(s, Some(epoch), Input::Boot { persisted });
        let found: Vec<ResId> = self.pending_disk_errors.iter().filter(|(_, srv)| *srv == s).map(|(r, _)| *r).collect();
        for res in found {
            self.pending_disk_errors.remove(&(res, s));
            self.deliver(s, Some(epoch), Input::MirrorDiskError { res });
        }
        self.sync_mirror_links();
    }

    /// Tells each running side server of each mirror which connect networks carry
    /// traffic to the other side, when that changed (what a mirror driver reports).
    pub fn sync_mirror_links(&mut self) {
        let cfg = self.world.cfg.clone();
        for res in cfg.mirror_ids() {
            let m = cfg.resource(res).kind.mirror().expect("mirror");
            for (side, other) in [(0usize, 1usize), (1, 0)] {
                for s in m.sides[side].servers.iter().copied() {
                    if !self.world.service_running(s) {
                        continue;
                    }
                    let epoch = self.world.machines[s.idx()].epoch;
                    for (i, net) in m.networks.iter().enumerate() {
                        // The network between the sides, whether or not the peer's service runs
                        // (the core knows that from membership).
                        let up = m.sides[other]
                            .servers
                            .iter()
                            .any(|o| *o != s && self.world.link_up(net, s, *o) && self.world.link_up(net, *o, s));
                        let key = (res, s, i as u8);
                        // A new run starts with every link taken as up.
                        let last = match self.link_reported.get(&key) {
                            Some((e, v)) if *e == epoch => *v,
                            Some(_) | None => true,
                        };
                        if last != up {
                            self.link_reported.insert(key, (epoch, up));
                            self.deliver(s, Some(epoch), Input::MirrorConnect { res, network: i as u8, up });
                        } else {
                            self.link_reported.insert(key, (epoch, up));
                        }
                    }
                }
            }
        }
    }

    /// The state of a server as `expect server` reads it (B21).
    pub fn server_state(&self, s: ServerId) -> baton_core::io::ServerState {
        use baton_core::io::ServerState;
        let m = &self.world.machines[s.idx()];
        if let Some(n) = m.node.as_ref().filter(|n| !n.is_gone()) {
            return n.reported_state();
        }
        let disk = m.disk.as_ref();
        let unclean = disk.is_some_and(|d| d.last_end_clean == Some(false));
        match m.power {
            Power::Off | Power::Booting if unclean => ServerState::Down,
            Power::Off | Power::Booting => ServerState::Off,
            Power::On if unclean && !disk.is_some_and(|d| d.service_stopped) => ServerState::Down,
            Power::On if disk.is_some_and(|d| d.service_stopped) => ServerState::Stopped,
            Power::On => ServerState::Off,
        }
    }

    // ---- inputs -------------------------------------------------------------------

    fn deliver(&mut self, s: ServerId, epoch: Option<u64>, input: Input) {
        let m = &mut self.world.machines[s.idx()];
        if epoch.is_some_and(|e| e != m.epoch) {
            return;
        }
        let Some(node) = m.node.as_ref() else { return };
        // An ended run on a machine still up hears its shutdown stall limit (B130 6).
        let stall_limit = matches!(input, Input::TimerFired { timer: baton_core::io::Timer::ShutdownStall });
        if node.is_gone() && !stall_limit {
            return;
        }
        if m.stalled_until.is_some() {
            m.stall_queue.push_back(input);
            return;
        }
        self.handle(s, input);
    }

    /// Hands one input to a server's node and carries out its outputs.
    pub fn handle(&mut self, s: ServerId, input: Input) {
        let mut out = Vec::new();
        let tracing = self.trace_config.is_some();
        // Each node sees its own machine's clock; the trace holds what it saw, as the
        // daemon's event log would (so `log` tools and replay read node time).
        let node_now = self.world.machines[s.idx()].clock.node_ms(self.now);
        if tracing {
            self.trace(s, baton_core::record::LogRecord::Input { at_ms: node_now, input: input.clone() });
        }
        if let Input::Message { from, .. } = &input {
            let heard = &mut self.messages_from[from.idx()];
            if heard.last() != Some(&self.now) {
                heard.push(self.now);
            }
        }
        let m = &mut self.world.machines[s.idx()];
        let epoch = m.epoch;
        if input.kicks_watchdog() {
            m.watchdog_kick_ms = Some(self.now); // the service kicks its watchdog (B87)
        }
        let Some(node) = m.node.as_mut() else { return };
        if let Err(text) = crate::panics::catch(|| node.handle(node_now, input, &mut out)) {
            // A core assertion fired: a bug in the decision logic. The run fails here,
            // like an invariant breach, so the explorer writes and shrinks the seed
            // instead of dying with it.
            let name = self.world.cfg.server(s).name.clone();
            self.breaches.push(Breach { at_ms: self.now, text: format!("core panic: {text} (on {name})") });
            return;
        }
        // The node's bookkeeping must agree with itself after every input
        // (core/src/node/invariants.rs): a violation fails the run like a breach, so the
        // explorer writes and shrinks the seed.
        let violations = node.check_invariants();
        if !violations.is_empty() {
            let name = self.world.cfg.server(s).name.clone();
            for v in violations {
                self.breaches.push(Breach { at_ms: self.now, text: format!("core invariant: {v} (on {name})") });
            }
        }
        self.inputs_handled += 1;
        self.guard_runaway();
        let ready = Ready::new(out);
        if tracing {
            for o in ready.outputs() {
                self.trace(s, baton_core::record::LogRecord::Output { at_ms: node_now, output: o.clone() });
            }
        }
        // A crash point waits for a step with something to lose (docs/event-log.md).
        let crash = if ready.is_consequential() { self.world.machines[s.idx()].crash_point.take() } else { None };
        // The durable part first: the local disk and the event log (the timeline) hold
        // this input before any act of it reaches the world.
        let acts = ready.commit(|d| {
            if let Some(p) = d.persisted {
                self.world.machines[s.idx()].disk = Some(*p);
            }
            for e in d.events {
                self.record(s, e);
            }
            Ok::<(), std::convert::Infallible>(())
        });
        let acts = match acts {
            Ok(acts) => acts,
            Err(never) => match never {},
        };
        if crash == Some(CrashPoint::AfterPersist) {
            self.power_off(s);
            return;
        }
        for a in acts {
            self.act(s, epoch, a);
        }
        // Only the run that took the step loses power: an act may have ended it already.
        if crash == Some(CrashPoint::BeforeNext) && self.world.machines[s.idx()].epoch == epoch {
            self.power_off(s);
        }
    }

    /// Appends a record to a server's trace (the event log the simulator writes).
    fn trace(&mut self, s: ServerId, record: baton_core::record::LogRecord) {
        if self.traces.len() < self.world.cfg.servers.len() {
            self.traces.resize_with(self.world.cfg.servers.len(), Vec::new);
        }
        self.traces[s.idx()].push(record);
    }

    /// Gives an operator command to a server; returns its id (`None`: no service runs).
    pub fn command(&mut self, s: ServerId, cmd: baton_core::Command) -> CommandId {
        let id = self.next_command;
        self.next_command += 1;
        if self.world.service_running(s) {
            let epoch = self.world.machines[s.idx()].epoch;
            self.deliver(s, Some(epoch), Input::Command { id, cmd });
        } else {
            self.replies.insert(id, Err("the cluster service is not running on that server".into()));
        }
        id
    }

    /// Records a reply given by the simulator itself (`cluster start`).
    pub fn reply_now(&mut self, result: Result<(), String>) -> CommandId {
        let id = self.next_command;
        self.next_command += 1;
        self.replies.insert(id, result);
        id
    }

    fn act(&mut self, s: ServerId, epoch: u64, a: Act) {
        let latency = self.knobs.network_latency_ms;
        match a {
            Act::Heartbeat { to, path, hb } => {
                if self.world.path_up(path.idx(), s, to) && !self.world.lose_packet(path.idx()) {
                    let delay = match self.world.cfg.heartbeats[path.idx()].kind {
                        baton_core::config::HeartbeatKind::Lan { .. } => latency,
                        baton_core::config::HeartbeatKind::Disk { .. } => self.knobs.disk_latency_ms,
                    };
                    self.push(
                        self.now + delay,
                        EvKind::Deliver { server: to, epoch: None, input: Input::Heartbeat { from: s, path, hb } },
                    );
                }
            }
            Act::Send { to, msg } => {
                // Cluster messages are retransmitted until delivered (reliable over
                // loss); they are lost only when no lan path carries them.
                if self.world.message_path(s, to).is_some() {
                    self.push(
                        self.now + latency,
                        EvKind::Deliver { server: to, epoch: None, input: Input::Message { from: s, msg } },
                    );
                }
            }
            Act::Execute { id, action } => self.execute(s, epoch, id, action),
            Act::Cancel { id } => {
                self.cancelled.insert((s, id));
            }
            Act::SetTimer { at_ms, timer } => {
                // `at_ms` is in the node's time: due when its clock reaches it.
                let at_ms = self.world.machines[s.idx()].clock.global_of(at_ms, self.now);
                self.push(at_ms, EvKind::Deliver { server: s, epoch: Some(epoch), input: Input::TimerFired { timer } });
            }
            Act::Reply { id, result } => {
                self.replies.insert(id, result);
            }
        }
    }

    /// Records an emitted event and checks what it may have broken.
    pub fn record(&mut self, s: ServerId, event: Event) {
        let group_online = event.kind == EventKind::GroupOnline;
        let g = event.group;
        if let (EventKind::MirrorForced, Some(res)) = (event.kind, event.resource) {
            // The operator accepted this side's data as the latest (invariant 2 allows it).
            let side = self.world.mirror_side(res, s);
            let d = self.world.mirrors.entry(res).or_default();
            d.forced = side;
            d.newest = side;
        }
        let kind = event.kind;
        self.timeline.push(Emitted { at_ms: self.now, server: s, event });
        if let (true, Some(g)) = (group_online, g) {
            self.check_group_single(g);
        }
        if let Some(g) = g {
            if kind == EventKind::GroupStarting {
                self.check_start_after(s, g);
            } else if kind == EventKind::GroupStopping {
                self.check_stop_order(s, g);
            }
        }
    }

    // ---- stalls (B19, B87) ---------------------------------------------------------

    pub fn stall(&mut self, s: ServerId, duration_ms: Ms) {
        if !self.world.service_running(s) {
            return;
        }
        let epoch = self.world.machines[s.idx()].epoch;
        let now = self.now;
        let m = &mut self.world.machines[s.idx()];
        // A stall starting while another runs extends the same freeze: the service
        // does not get to run between them.
        let since = *m.stalled_since.get_or_insert(now);
        let until = m.stalled_until.map_or(now + duration_ms, |u| u.max(now + duration_ms));
        m.stalled_until = Some(until);
        let last_kick = m.watchdog_kick_ms;
        self.stalls.push((s, now, now.saturating_add(duration_ms)));
        self.push(until, EvKind::StallEnd { server: s, epoch });
        let limit = self.world.cfg.cluster.heartbeat_timeout_ms;
        // The watchdog runs outside the frozen service (B87) and times the freeze from
        // the last kick before it (the last heartbeat tick): peers time their heartbeat
        // timeout from the last heartbeat they received, which may be up to an interval
        // before the freeze began. Timed from the freeze's start, a freeze a little
        // shorter than heartbeat_timeout let peers judge the server lost and take its
        // groups while it woke still holding them (3node-hybrid seed 766). One freeze,
        // however many stalls it is made of.
        let kick = last_kick.filter(|k| *k <= since).unwrap_or(since);
        let deadline = kick.saturating_add(limit);
        if until >= deadline {
            self.push(deadline.max(now), EvKind::Watchdog { server: s, epoch, since_ms: since });
        }
    }

    fn stall_end(&mut self, s: ServerId, epoch: u64) {
        let m = &mut self.world.machines[s.idx()];
        if m.epoch != epoch || m.stalled_until.is_none_or(|u| u > self.now) {
            return;
        }
        m.stalled_until = None;
        m.stalled_since = None;
        let queued: Vec<Input> = m.stall_queue.drain(..).collect();
        for input in queued {
            if !self.world.service_running(s) {
                break;
            }
            self.handle(s, input);
        }
    }

    fn watchdog(&mut self, s: ServerId, epoch: u64, since_ms: Ms) {
        let m = &self.world.machines[s.idx()];
        // Only the freeze that armed it: a later freeze has its own start.
        if m.epoch != epoch || m.stalled_since != Some(since_ms) {
            return;
        }
        let (_, power, kind) = baton_core::node::stall_power(&self.world.cfg, s);
        self.record(s, Event::new(EventKind::UserSpaceStall).reason("frozen for heartbeat_timeout (B87)"));
        self.record(s, Event::new(kind));
        if let Some(d) = self.world.machines[s.idx()].disk.as_mut() {
            d.last_end_clean = Some(false);
        }
        self.power(s, power);
    }

    /// Delivers an input to the current run of `s` now (a happening).
    pub fn deliver_now(&mut self, s: ServerId, epoch: u64, input: Input) {
        self.deliver(s, Some(epoch), input);
    }

    /// Carries out a power action of a server's run (B45, B130).
    pub fn power(&mut self, s: ServerId, p: PowerAction) {
        let os_shutdown = p.is_os_shutdown();
        if os_shutdown && self.world.shutdown_hangs.remove(&s) {
            // B130 6: the OS shutdown stalls after the service stopped. The groups are
            // stopped; the machine stays up with the ended run, whose stall limit
            // timer resets it.
            self.world.release_all(s, self.now);
            self.sync_mirror_links();
            return;
        }
        match p {
            PowerAction::CleanPowerOff
            | PowerAction::FailureShutdown
            | PowerAction::EmergencyShutdown
            | PowerAction::Panic => self.power_off(s),
            PowerAction::CleanReboot | PowerAction::FailureReboot | PowerAction::EmergencyReboot => {
                self.power_off(s);
                self.power_on(s);
            }
            PowerAction::CleanServiceStop | PowerAction::FailureServiceStop => {
                let m = &mut self.world.machines[s.idx()];
                m.node = None;
                m.epoch += 1;
                m.power = Power::On;
                self.world.release_all(s, self.now);
                self.sync_mirror_links();
            }
        }
    }
}
