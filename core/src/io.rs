//! What flows into and out of a [`crate::Node`]: inputs (everything that happens to a
//! server's cluster service), outputs (everything it wants done), the actions it asks
//! drivers to carry out, the messages servers exchange, and the state a server keeps
//! on its local disk between runs.
//!
//! The runtime and the simulator are the only producers of inputs and the only
//! consumers of outputs; nothing here does I/O.

use crate::command::Command;
use crate::config::{GroupId, MonId, Ms, NpId, PathId, ResId, ServerId};
use crate::event::Event;
use crate::script::ScriptEnv;
use serde::{Deserialize, Serialize};

/// An identifier the node gives each action it asks for, echoed in `ActionDone`.
pub type ActionId = u64;
/// An identifier the caller gives each operator command, echoed in `Reply`.
pub type CommandId = u64;

/// Everything that can happen to a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// The cluster service starts, with what the previous run left on the local disk.
    Boot { persisted: Option<Persisted> },
    /// A timer set by `Output::SetTimer` is due.
    TimerFired { timer: Timer },
    /// A heartbeat arrived from a peer on a path.
    Heartbeat { from: ServerId, path: PathId, hb: Heartbeat },
    /// A cluster message arrived from a peer.
    Message { from: ServerId, msg: Box<Message> },
    /// An action asked for earlier has finished.
    ActionDone { id: ActionId, result: ActionResult },
    /// An operator command given on this server (`cmd`, CLI, control socket).
    Command { id: CommandId, cmd: Command },
    /// The operating system is shutting down (the `shutdown` happening, B68).
    ShutdownRequested,
    /// The application wrote to a mirror online here (B103: first write after a break).
    MirrorWritten { res: ResId, bytes: u64 },
    /// The data device of a mirror side on this server failed (B116).
    MirrorDiskError { res: ResId },
    /// The mirror driver found, at activation, that this many bytes acknowledged by the
    /// other side in async mode never reached this side (B101).
    MirrorWritesLost { res: ResId, bytes: u64 },
    /// The mirror driver's connection to the other side on one of the mirror's connect
    /// networks (index into `Mirror::networks`) went up or down (B102).
    MirrorConnect { res: ResId, network: u8, up: bool },
    /// A core process of the cluster service died (B130 7): the daemon's supervisor
    /// saw one of its supervised parts end. `process` names it (at most
    /// [`MAX_PROCESS_NAME_LEN`] bytes are kept).
    ProcessDied { process: String },
}

/// Bound on the process name of `Input::ProcessDied` kept in events.
pub const MAX_PROCESS_NAME_LEN: usize = 64;

/// Everything a node can ask for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// Send a heartbeat to one peer on one path.
    Heartbeat { to: ServerId, path: PathId, hb: Heartbeat },
    /// Send a cluster message to a peer on the preferred working path (B12).
    Send { to: ServerId, msg: Box<Message> },
    /// Carry out an action; the result comes back as `ActionDone { id }`.
    Execute { id: ActionId, action: Action },
    /// Cancel a running action (a script past its timeout: kill it, B73).
    Cancel { id: ActionId },
    /// Fire `TimerFired { timer }` at `at_ms` (replaces an earlier setting of the same timer).
    SetTimer { at_ms: Ms, timer: Timer },
    /// A catalogue event.
    Emit(Event),
    /// The answer to an operator command.
    Reply { id: CommandId, result: Result<(), String> },
    /// Write this to the local disk (it comes back in the next `Boot`).
    Persist(Box<Persisted>),
}

/// The node's timers: a fixed table, each at most once pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Send heartbeats and kick the watchdog.
    HeartbeatTick,
    /// The earliest heartbeat deadline of any (peer, path).
    Liveness,
    /// `sync_wait` has passed since service start.
    SyncWait,
    /// Network-partition verdict instant V.
    NpVerdict,
    /// Takeover instant T.
    Takeover,
    /// The next watch check of a resolver.
    NpCheck(NpId),
    /// The next check of a monitor.
    MonitorCheck(MonId),
    /// The timeout of an action.
    ActionTimeout(ActionId),
    /// Counter reset after `counter_reset_after`.
    CounterReset,
    /// A start or move sent from here is due to have reached its target.
    TransitCheck,
    /// An exec script has been running for 3 minutes (`script-slow`).
    ScriptSlow(ActionId),
    /// A mirror connect that went down has stayed down for `heartbeat_timeout` (B102).
    MirrorConnectDown(ResId),
    /// `heartbeat_timeout` after the service stopped for an OS shutdown or reboot: the
    /// machine is still up, so the shutdown stalled (B130 6). The only timer a run
    /// that has ended still hears.
    ShutdownStall,
}

/// What a node asks a driver to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Bring a resource online (exec: run its start script with `env`).
    Activate { res: ResId, env: Option<ScriptEnv> },
    /// Take a resource offline (exec: run its stop script with `env`).
    Deactivate { res: ResId, env: Option<ScriptEnv> },
    /// A RECOVER run: the start script of an exec resource, nothing activated (B93).
    RecoverRun { res: ResId, env: ScriptEnv },
    /// One watch check of a resolver (B31).
    NpProbe { np: NpId },
    /// Watch the link for another holder of floating IP `res` from now through the
    /// takeover margin (`margin_ms`, to T) and one probe window past it (B44), so that
    /// its activation at T can add the address at once when nobody answered in the last
    /// window. Answers `Probe(Answered(a))`: whether a host answered in the last window
    /// before T.
    AddressProbe { res: ResId, margin_ms: Ms },
    /// One check of a monitor (B81).
    MonitorCheck { mon: MonId },
    /// Copy a mirror from this server's side to the other (B107–B109).
    MirrorCopy { res: ResId, to: ServerId, full: bool },
    /// Leave the machine: release every resource at once, then power as named.
    Power(PowerAction),
}

/// How a server ends a run that it ends itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PowerAction {
    /// The service stopped after a clean end; the machine powers off.
    CleanPowerOff,
    /// The service stopped after a clean end; the machine reboots.
    CleanReboot,
    /// The service stopped cleanly (cluster stop); the machine stays up.
    CleanServiceStop,
    /// `stop-service` after a failure: service stopped, machine up.
    FailureServiceStop,
    /// Groups stopped, OS shut down after a failure.
    FailureShutdown,
    /// Groups stopped, OS rebooted after a failure.
    FailureReboot,
    EmergencyShutdown,
    EmergencyReboot,
    Panic,
}

impl Input {
    /// Whether handling this input kicks the user-space watchdog (B87: "kicked every
    /// heartbeat_interval by the service"): the heartbeat tick, so that a freeze counts
    /// from the last heartbeat the peers got, as their heartbeat timeout does. One
    /// definition for the node's own record, the simulator's watchdog and the daemon's.
    pub fn kicks_watchdog(&self) -> bool {
        matches!(self, Input::TimerFired { timer: Timer::HeartbeatTick })
    }
}

impl PowerAction {
    /// Whether the action is an OS shutdown or reboot, whose completion the shutdown
    /// stall limit watches (B130 6); the others stop only the service or end the
    /// machine at once.
    pub fn is_os_shutdown(self) -> bool {
        match self {
            PowerAction::CleanPowerOff
            | PowerAction::CleanReboot
            | PowerAction::FailureShutdown
            | PowerAction::FailureReboot => true,
            PowerAction::CleanServiceStop
            | PowerAction::FailureServiceStop
            | PowerAction::EmergencyShutdown
            | PowerAction::EmergencyReboot
            | PowerAction::Panic => false,
        }
    }

    /// Whether the run ends cleanly (B0 "Run").
    pub fn is_clean(self) -> bool {
        match self {
            PowerAction::CleanPowerOff | PowerAction::CleanReboot | PowerAction::CleanServiceStop => true,
            PowerAction::FailureServiceStop
            | PowerAction::FailureShutdown
            | PowerAction::FailureReboot
            | PowerAction::EmergencyShutdown
            | PowerAction::EmergencyReboot
            | PowerAction::Panic => false,
        }
    }
}

/// The outcome of an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionResult {
    Ok,
    /// The action failed; environmental failures are results, never `Err`.
    Failed(String),
    /// A resolver check: did the target (ping/http/serial peer) answer, did disk I/O work.
    Probe(ProbeResult),
    /// A monitor check: healthy or not, with a detail.
    Check {
        healthy: bool,
        detail: String,
    },
}

/// The result of one resolver watch check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeResult {
    /// ping / http / serial: some target (or the peer) answered.
    Answered(bool),
    /// disk: own slot I/O outcome and duration, and the peers' slot counters read.
    Disk { io_ok: bool, io_ms: Ms, slots: Vec<(ServerId, u64)> },
}

/// What a server sends on every heartbeat path every interval. Small and `Copy`, so
/// heartbeats cost no allocation; the full state follows in `Message::State` whenever
/// `version` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Identity of the sender's run (changes at every service start).
    pub run: u64,
    pub state: ServerState,
    /// Bumped whenever the sender's shared state changes.
    pub version: u64,
    /// The sender's time when it sent this (its node time): lets the receiving daemon
    /// measure how far the sender's clock is from its own (the core compares instants
    /// of different servers, B52). 0 from a sender that does not say.
    #[serde(default)]
    pub sent_ms: Ms,
}

/// A server's state as the cluster reports it (B21), plus the waiting phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServerState {
    /// Service running, cluster member.
    Online,
    /// Service running, waiting in startup synchronisation (reported `online`, B21).
    Syncing,
    /// Service running after an unclean end, waiting for `server return`.
    Suspended,
    /// Last run ended uncleanly and the service is not running.
    Down,
    /// Service stopped, machine up.
    Stopped,
    /// Powered off after a clean end, or never started.
    Off,
}

impl ServerState {
    /// The word of `expect server` and of status output.
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Online | ServerState::Syncing => "online",
            ServerState::Suspended => "suspended",
            ServerState::Down => "down",
            ServerState::Stopped => "stopped",
            ServerState::Off => "off",
        }
    }
}

/// A group's state on one server (B61).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GroupState {
    Offline,
    Starting,
    Online,
    Stopping,
    Error,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Offline => "offline",
            GroupState::Starting => "starting",
            GroupState::Online => "online",
            GroupState::Stopping => "stopping",
            GroupState::Error => "error",
        }
    }
}

/// Why a group is started on a server: decides `CLP_EVENT` (B92) and the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartKind {
    /// Cluster formation (`CLP_EVENT` from the stop record, B92).
    ClusterStart,
    /// `group start`.
    Command,
    /// Destination of `group move`.
    Move,
    /// Destination of an automatic failback.
    Failback,
    /// After a server loss or departure.
    ServerFailover,
    /// After an activation failure on another server.
    ActivationFailover,
    /// After a monitor failover on another server.
    MonitorFailover,
}

/// Cluster messages (reliable in the runtime; the simulator delivers or loses them
/// per link like any packet, and the state exchange repairs what was lost).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// "My service just started": peers answer with their state at once.
    Hello { run: u64, state: ServerState, version: u64 },
    /// The sender's full shared state.
    State(Box<SharedState>),
    /// "Send me your state" (the receiver saw a newer version in a heartbeat).
    StateRequest,
    /// The sender (a waiting server) formed the cluster with `members` (itself and the
    /// waiting servers it counted); the receiver forms too, with them.
    Formed { timeout: bool, members: Vec<ServerId> },
    /// Start this group here.
    StartGroup { group: GroupId, kind: StartKind, stable_epoch_ms: Ms },
    /// Move this group (you own it) to `to`.
    MoveGroup { group: GroupId, to: ServerId, failback: bool },
    /// Run this accepted operator command here; `origin` took it.
    Forward { cmd: Command },
    /// Planned (clean) or failure departure (B14, B15), with the groups the sender stopped.
    Departure { clean: bool, power_off: bool, groups: Vec<GroupId> },
    /// "I judged you down" (B16), with the groups online, starting or stopping on the
    /// sender: when two servers judged each other down (B17), the one that continues
    /// learns from the other's notice what it held, to report only true doubles and to
    /// take over what the yielding server releases.
    DownNotice { groups: Vec<GroupId> },
    /// "You restarted before I judged you lost" (B18).
    RestartSeen,
    /// "Told that you judged me down, I run `np_action` now (B16, B17); these groups
    /// were online, starting or stopping here": sent to the notifier, which takes them
    /// over once the sender is silent (B55). It may never have learnt them otherwise: a
    /// server that judged us down does not read our state.
    Fencing { groups: Vec<GroupId> },
    /// "Set your side's record of this mirror" (rebuild start/end, forced recovery).
    MirrorRecord { res: ResId, side: u8, record: MirrorRecord },
    /// A cluster-wide phase change decided by the server that took the command.
    ClusterOp(ClusterOp),
}

/// Cluster-wide operations that every server carries out itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterOp {
    Stop,
    Shutdown { reboot: bool },
    Suspend,
    Resume,
}

/// What a server shares with its peers (sent in `Message::State`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedState {
    pub version: u64,
    pub run: u64,
    pub state: Option<ServerState>,
    /// Groups not offline on the sender, with their state.
    pub groups: Vec<(GroupId, GroupState)>,
    /// Resolvers failing on the sender (B31), by index.
    pub np_failing: Vec<NpId>,
    /// Whether the cluster is suspended, as the sender sees it.
    pub cluster_suspended: bool,
    /// How many suspends and resumes the sender has applied (`Node::suspend_epoch`):
    /// a peer behind adopts the sender's `cluster_suspended`.
    #[serde(default)]
    pub suspend_epoch: u64,
    /// When each group the sender knows of was last started by cluster start or command (B52).
    pub epochs: Vec<(GroupId, Ms)>,
    /// The sender's latest fault time per group (B52 `stable`).
    pub faults: Vec<(GroupId, Ms)>,
    /// The sender's failover counts per (monitor or resource) key (B58 cluster scope).
    pub failover_counts: Vec<(CounterKey, u32)>,
    /// Mirror side records the sender holds (B103).
    pub mirrors: Vec<(ResId, u8, MirrorRecord)>,
    /// Mirrors whose next rebuild must be full, as the sender knows (B108).
    pub mirror_full_next: Vec<ResId>,
    /// Mirrors whose other side the sender saw go while it ran (B106).
    pub mirror_saw_go: Vec<ResId>,
    /// Mirrors whose side on the sender has a disk error not yet repaired (B116).
    pub mirror_disk_error: Vec<ResId>,
    /// Mirrors whose connect the sender's driver reports down on every network (B102):
    /// the sender may break, and write alone, once it has been down for
    /// `heartbeat_timeout`, whether or not this server's own driver sees it down.
    #[serde(default)]
    pub mirror_connect_down: Vec<ResId>,
    /// Mirrors being rebuilt from the sender.
    pub rebuilding: Vec<ResId>,
    /// The stop record of B92 the sender holds.
    pub stop_record: Vec<(GroupId, ServerId)>,
    /// Peers the sender has judged down (B16, B17).
    pub judged_down: Vec<ServerId>,
    /// The same, with the run judged down: a server that reads its own current run
    /// here was counted out and takes it as a down notice (B16), though the sender
    /// never hears it (a server that believes the cluster suspended sends no
    /// heartbeat, B20, so B17 never fires).
    #[serde(default)]
    pub judged_down_runs: Vec<(ServerId, u64)>,
    /// Losses and departures whose takeover the sender coordinated (B55): the peer and
    /// the run that ended. A server waiting for that coordinator settles them on this.
    pub takeovers_done: Vec<(ServerId, u64)>,
    /// For each loss in `takeovers_done`, the groups the sender knew of and settled
    /// (placed, found placed, or left offline on purpose, B55, B56). A server that
    /// keeps another group of that loss (the coordinator never saw it held: a state
    /// or departure that did not reach it) keeps it until the coordinator places it.
    #[serde(default)]
    pub takeovers_settled: Vec<(ServerId, GroupId)>,
    /// Groups whose start the sender sent and has not yet seen at the target (B53, B55).
    pub in_transit: Vec<GroupId>,
    /// Starts the sender holds pending until their `start_after` groups are online
    /// (B54): the coordinator places them, and takes them over if the sender is lost.
    #[serde(default)]
    pub waiting_starts: Vec<(GroupId, StartKind)>,
    /// The takeovers the sender still keeps (B55): groups of lost or departed servers
    /// not yet placed. Whoever outlives the sender takes them over should it go first,
    /// a server that joined after the loss included (it never knew what the lost held).
    #[serde(default)]
    pub takeovers: Vec<SharedTakeover>,
    /// The peers the sender watches as members (B13), with the run it knows and what
    /// that run holds in its view: a server that joins (B2) watches a member it has not
    /// heard yet from the join on (B11, B13), and knows what to take over if it is lost
    /// (B55), though that member went silent before the joiner started.
    #[serde(default)]
    pub members: Vec<SharedMember>,
}

/// A member as the sender of a [`SharedState`] knows it (B2, B13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedMember {
    pub server: ServerId,
    pub run: u64,
    /// Its groups not offline, as its latest state said.
    pub groups: Vec<(GroupId, GroupState)>,
}

/// A takeover kept by the sender of a [`SharedState`] (B44, B55).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedTakeover {
    /// The server that was lost or departed.
    pub lost: ServerId,
    /// Its run that ended.
    pub run: u64,
    /// Not placed before this instant (T of B44 after a verdict).
    pub due_ms: Ms,
    /// Its groups still to place.
    pub groups: Vec<GroupId>,
}

/// What a failover counter counts (B58).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CounterKey {
    Resource(ResId),
    Monitor(MonId),
}

/// A mirror side's record in its metadata (B103).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MirrorRecord {
    /// Connected and holding every acknowledged write.
    Synced,
    /// Online without the other side since `break_ms`; `updated_ms` set at the first write after.
    Ahead { break_ms: Ms, updated_ms: Option<Ms> },
    /// Missing writes of the other side; `full` when the next rebuild must be full.
    Behind { full: bool },
    /// Stopped together with the other side by a cluster stop or shutdown while synced.
    Closed,
    /// Declared latest by `mirror force` (B112).
    Forced,
    /// This side held the only latest data and lost it with its device (B116): no side
    /// holds the latest data until an operator forces one (B106, B112).
    Lost,
}

/// What a server keeps on its local disk between runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    /// Number of runs so far (also the run identity seed).
    pub runs: u64,
    /// Whether the last run ended cleanly; `None` before the first run ends.
    pub last_end_clean: Option<bool>,
    /// Whether the last run ended with the service stopped and the machine up.
    pub service_stopped: bool,
    /// Groups online on this server, kept up to date (B25 RECOVER after an unclean end).
    pub groups_online: Vec<GroupId>,
    /// B92: the server each group was on at the last cluster stop or shutdown.
    pub stop_record: Vec<(GroupId, ServerId)>,
    /// Mirror side records of the sides this server holds (B103).
    pub mirrors: Vec<(ResId, u8, MirrorRecord)>,
}
