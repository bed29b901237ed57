//! The daemon loop: one server's cluster service on a real machine (`baton daemon`).
//!
//! In: [`DaemonOptions`] (the configuration text, this server's name, the state
//! directory, the cluster key, the fence mode) and the [`Drivers`] of this server.
//! Then, until the run ends: authenticated packets from the transport, results of
//! actions, due timers, operator requests from the control socket, SIGTERM/SIGINT. Out:
//! packets to peers, actions carried out by the drivers, the persisted state in
//! `STATE_DIR/persisted.msgpack`, the event log in `STATE_DIR/log/`, one log record
//! per event (`tracing`, [`eventlog::Logger`]); the status, counters and event records
//! for the HTTP endpoint and the alerts ([`observe`], when an observer is given); and,
//! when the node asks for a power action, the end of the run carried out as the fence
//! mode says ([`power`]; [`run`] returns the [`Ending`]).
//!
//! One tokio task owns the [`Node`]; each input is logged before the node handles it
//! and every output after. The outputs come as a [`baton_core::Ready`]: first its
//! durable part ([`Daemon::make_durable`]: the event lines, the event log committed, the
//! state stored atomically), then, only if that succeeded, the acts in order; a failed
//! store carries out none of them and ends the run ([`Daemon::storage_fault`],
//! docs/event-log.md § "A failed store"):
//!
//! | output | done by |
//! |---|---|
//! | `Heartbeat { to, path }` | `lan` path: `Transport::send(to, path, Body::Heartbeat)`, unreliable by design; `disk` path: this server's slot on the shared device ([`disk_heartbeat`]) |
//! | `Send { to, msg }` | the transport's reliable channel (acknowledged, retransmitted on every shared path) |
//! | `Execute { id, action }` | the [`drivers::Executor`] on a task of its own; the result comes back as `ActionDone`; a power action ends the loop |
//! | `Cancel` | nothing: the drivers stop a script at the same timeout themselves |
//! | `SetTimer` | the timer table ([`clock`]); due timers come back as `TimerFired` |
//! | `Emit` | a log record (`server event=… key=value…`, structured fields), with the durable part; the event record to the observer |
//! | `Reply` | a log line, and the answer to the control-socket connection that gave the command ([`control`]) |
//! | `Persist` | [`persist::store`] (atomic), after committing the event log, before any act |
//!
//! The node's time is the cluster's common clock ([`clock`]: epoch milliseconds,
//! advanced monotonically). SIGTERM (systemd stopping the unit, the OS shutting down)
//! is `Input::ShutdownRequested`: the groups stop, then the daemon exits without
//! powering the machine off a second time; a second signal exits at once. The
//! user-space watchdog ([`watchdog`]) runs on its own thread.
//!
//! Under `--cfg madsim` the same loop runs in a simulated world: no control socket
//! (requests come on a channel), no signals, no watchdog thread, mock drivers.
//!
//! Heartbeats read from the peers' slots on a `disk` path ([`disk_heartbeat`]) come in
//! as `Input::Heartbeat` on that path, like those of the transport (not under madsim:
//! no devices there, a disk path stays silent).
//!
//! What the drivers do not do yet is listed in [`kind_support`] (`virtual-ip`, mirror
//! and hybrid disks and their monitors): the daemon refuses those kinds.

pub mod clock;
pub mod control;
#[cfg(madsim)]
pub mod crash_point;
#[cfg(not(madsim))]
pub mod disk_heartbeat;
mod disk_paths;
pub mod drivers;
pub mod eventlog;
pub mod kind_support;
pub mod mock_drivers;
pub mod observe;
pub mod persist;
pub mod power;
#[cfg(not(madsim))]
pub mod mirror;
#[cfg(not(madsim))]
pub mod real_drivers;
#[cfg(not(madsim))]
pub mod watchdog;

use crate::transport::{bind, Body, Inbound, Key, Topology, Transport};
use baton_core::config::{self, Config, MonId, MonitorKind, PathId, ServerId};
use baton_core::event::EventKind;
use baton_core::io::{CommandId, Input, Output, PowerAction};
use baton_core::node::MonitorStatus;
use baton_core::Node;
use baton_core::{Act, Durable};
use clock::{Clock, SkewWatch, Timers};
use control::{ControlRequest, PeerGroups};
use disk_paths::{disk_slot_refusals, DiskBeat, DiskHeartbeats};
use drivers::{Dispatch, Drivers, Executor};
use eventlog::{event_line, EventLog, Logger};
pub use power::FenceMode;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

/// What a daemon needs to start.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// The configuration file's name (stored in the log's run start, used in diagnostics).
    pub config_name: String,
    /// The configuration file's text (stored whole in the log's run start).
    pub config_text: String,
    /// Where relative script paths are resolved from (the configuration file's directory).
    pub config_dir: PathBuf,
    /// This server's name in the configuration.
    pub server: String,
    /// `persisted.msgpack` and `log/` live here (created if missing).
    pub state_dir: PathBuf,
    /// The cluster key (see `transport::load_secret`).
    pub key: Key,
    /// What power actions do to the machine.
    pub fence: FenceMode,
    /// The event log's segment size ([`DEFAULT_LOG_SEGMENT_BYTES`] in production; a
    /// test makes it tiny so that every record opens a segment it can block).
    pub log_segment_bytes: u64,
    /// Where the status, the counters and the event records go for the HTTP endpoint
    /// and the alerts ([`observe`]); `None`: nowhere.
    pub observer: Option<observe::Observer>,
}

/// The event log's segment size of a production daemon (`baton_log`'s default).
pub const DEFAULT_LOG_SEGMENT_BYTES: u64 = 64 << 20;

/// How a daemon's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    /// The node's power action.
    pub power: PowerAction,
    /// What was done to the machine (`Untouched` in `--fence=exit`).
    pub machine: power::Machine,
}

/// Builds a server's drivers once the configuration is known.
pub type DriversFactory =
    Box<dyn FnOnce(&Arc<Config>, ServerId, &Path, Logger) -> Result<Arc<dyn Drivers>, String> + Send>;

/// Runs the daemon with the real drivers of this machine until the node ends the run.
#[cfg(not(madsim))]
pub async fn run(options: DaemonOptions) -> Result<Ending, String> {
    let slot_key =
        baton_drivers::disk_slot::SlotKey::new(options.key.derive(crate::transport::packet::DISK_SLOT_LABEL));
    let line_key =
        baton_drivers::serial_line::LineKey::new(options.key.derive(crate::transport::packet::SERIAL_LINE_LABEL));
    // The mirror engines are this binary's `mirror-engine` (BATON_MIRROR_ENGINE names
    // another program: tests).
    let program = match std::env::var_os("BATON_MIRROR_ENGINE") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?,
    };
    let mirrors = mirror::MirrorSetup {
        state_dir: options.state_dir.clone(),
        config_file: PathBuf::from(&options.config_name),
        program,
    };
    run_with(
        options,
        Box::new(move |cfg, me, config_dir, logger| {
            let real = real_drivers::RealDrivers::new(
                Arc::clone(cfg),
                me,
                config_dir.to_path_buf(),
                logger,
                slot_key,
                line_key,
            )?
            .with_mirrors(mirrors)?;
            Ok(Arc::new(real) as Arc<dyn Drivers>)
        }),
        None,
    )
    .await
}

/// Keeps the control socket open (or, simulated, the idle request channel).
#[cfg(not(madsim))]
type ControlGuard = Option<control::ControlServer>;
#[cfg(madsim)]
type ControlGuard = Option<mpsc::Sender<ControlRequest>>;

#[cfg(not(madsim))]
fn open_control(state_dir: &Path, cfg: &Arc<Config>) -> Result<(ControlGuard, mpsc::Receiver<ControlRequest>), String> {
    let (server, rx) = control::start(state_dir, Arc::clone(cfg))?;
    Ok((Some(server), rx))
}

/// No Unix sockets in the simulated world: a channel nobody writes to.
#[cfg(madsim)]
fn open_control(
    _state_dir: &Path,
    _cfg: &Arc<Config>,
) -> Result<(ControlGuard, mpsc::Receiver<ControlRequest>), String> {
    let (tx, rx) = mpsc::channel(1);
    Ok((Some(tx), rx))
}

/// The loop's `tokio::select!`. Among ready branches it picks at random, from a seed
/// tokio draws once per thread from a process-wide counter: under madsim two runs of one
/// seed would then differ, so the simulated build polls the branches in their order.
#[cfg(not(madsim))]
macro_rules! select_input {
    ($($branches:tt)*) => { tokio::select! { $($branches)* } };
}
#[cfg(madsim)]
macro_rules! select_input {
    ($($branches:tt)*) => { tokio::select! { biased; $($branches)* } };
}

/// Runs the daemon with the drivers `make` builds, until the node asks for a power
/// action; then carries it out as `options.fence` says and returns how the run ended.
/// Errors: the configuration, the drivers, binding, the state directory or the event
/// log failed.
/// `control`: where operator requests come from; `None` opens `STATE_DIR/control.sock`
/// (production), `Some` is a test's or the simulated world's channel.
pub async fn run_with(
    options: DaemonOptions,
    make: DriversFactory,
    control: Option<mpsc::Receiver<ControlRequest>>,
) -> Result<Ending, String> {
    let checked = config::parse(&options.config_name, &options.config_text).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        format!("{}: invalid configuration:\n{}", options.config_name, list.join("\n"))
    })?;
    let cfg = Arc::new(checked.config);
    let me = cfg
        .server_id(&options.server)
        .ok_or_else(|| format!("server {} is not in {} (pass --server NAME)", options.server, options.config_name))?;
    let logger = Logger::new(&options.server);
    let drivers = make(&cfg, me, &options.config_dir, logger.clone())?;
    let mut driver_inputs = drivers.take_inputs();
    drivers.service_start().await;
    std::fs::create_dir_all(&options.state_dir)
        .map_err(|e| format!("state directory {}: {e}", options.state_dir.display()))?;
    let persisted = persist::load(&options.state_dir)?;
    let mut log = EventLog::open(&options.state_dir.join("log"), options.log_segment_bytes)?;
    let topology = Topology::from_config(&cfg, me)?;
    let boot_id = getrandom::u64().map_err(|e| format!("no random boot id: {e}"))?;
    let (transport, mut inbox) = bind(topology, options.key.clone(), boot_id)
        .await
        .map_err(|e| format!("cannot bind the heartbeat sockets: {e}"))?;
    let (disk, mut disk_rx) = DiskHeartbeats::start(&cfg, me, &options.key, &logger);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let executor = Executor::new(Arc::clone(&drivers), done_tx);
    let (_control, mut control_rx) = match control {
        Some(rx) => (None, rx),
        None => open_control(&options.state_dir, &cfg)?,
    };
    #[cfg(not(madsim))]
    let watchdog = Some(watchdog::Watchdog::start(&cfg, me, options.fence, Arc::clone(&drivers), logger.clone())?);
    #[cfg(madsim)]
    let watchdog: Option<Watchdog> = None;
    let mut signals = Signals::new()?;
    let mut clock = Clock::start();
    log.run_start(clock.now_ms(), &options.server, &options.config_name, &options.config_text)?;
    let user_space = cfg.monitor_ids().find(|m| {
        matches!(cfg.monitor(*m).kind, MonitorKind::UserSpace { .. }) && cfg.monitor(*m).servers.contains(&me)
    });
    let skew = SkewWatch::new(cfg.cluster.heartbeat_interval_ms);
    let mut d = Daemon {
        node: Node::new(Arc::clone(&cfg), me),
        cfg,
        clock,
        skew,
        timers: Timers::default(),
        transport,
        disk,
        executor,
        log,
        logger,
        state_dir: options.state_dir,
        server: options.server.clone(),
        fence: options.fence,
        send_failing: BTreeSet::new(),
        peer_groups: PeerGroups::default(),
        next_command: 0,
        pending_replies: BTreeMap::new(),
        watchdog,
        user_space,
        os_shutting_down: false,
        publisher: options.observer.map(observe::Publisher::new),
    };
    d.logger.line(&format!("starting (boot id {boot_id:016x}, state {}, fence={})", d.state_dir.display(), d.fence));
    if let Some(p) = d.step(Input::Boot { persisted }).await? {
        return d.stop(p).await;
    }
    // Supervised parts (B130 7): when one ends, its channel closes; the node is told
    // once and its branch is switched off.
    let (mut transport_alive, mut control_alive) = (true, true);
    loop {
        let next_timer = d.timers.next();
        let flush_at = d.log.flush_deadline();
        let input = select_input! {
            inbound = inbox.recv(), if transport_alive => match inbound {
                Some(Inbound { from, path, body: Body::Heartbeat(hb) }) => {
                    d.watch_clock(from, hb.sent_ms);
                    Input::Heartbeat { from, path, hb }
                }
                Some(Inbound { from, body: Body::Message(msg), .. }) => {
                    d.peer_groups.observe(from, &msg);
                    Input::Message { from, msg }
                }
                None => {
                    transport_alive = false;
                    d.logger.line("the transport's receiving task ended: a core process died (B130 7)");
                    Input::ProcessDied { process: "transport".to_string() }
                }
            },
            beat = disk_rx.recv() => match beat {
                Some(DiskBeat { from, path, hb }) => Input::Heartbeat { from, path, hb },
                // DiskHeartbeats holds a sender: the channel closes only with the daemon.
                None => continue,
            },
            Some(input) = driver_input(&mut driver_inputs) => input,
            done = done_rx.recv() => match done {
                Some((id, result)) => Input::ActionDone { id, result },
                None => return Err("the action executor went away".to_string()),
            },
            request = control_rx.recv(), if control_alive => match request {
                Some(ControlRequest::Status { answer }) => {
                    let _ = answer.send(d.status());
                    continue;
                }
                Some(ControlRequest::Command { cmd, answer }) => {
                    d.next_command += 1;
                    let id = d.next_command;
                    d.pending_replies.insert(id, answer);
                    let power = d.step(Input::Command { id, cmd }).await?;
                    // No reply from the node: dropping the sender tells the connection.
                    d.pending_replies.remove(&id);
                    if let Some(p) = power {
                        return d.stop(p).await;
                    }
                    continue;
                }
                None => {
                    control_alive = false;
                    d.logger.line("the control server ended: a core process died (B130 7)");
                    Input::ProcessDied { process: "control".to_string() }
                }
            },
            signal = signals.next() => {
                if d.os_shutting_down {
                    d.logger.line(&format!("{signal} again: stopping at once, groups left as they are"));
                    d.log.commit()?;
                    return Err(format!("stopped by a second {signal} before the groups were stopped"));
                }
                d.os_shutting_down = true;
                d.logger.line(&format!("{signal}: the service stops (groups stop, then the daemon exits)"));
                let (power, leaving) = d.step_watching_departure(Input::ShutdownRequested).await?;
                if let Some(p) = power {
                    return d.stop(p).await;
                }
                if !leaving {
                    // Not running (still syncing, already gone): nothing to stop.
                    return d.stop(PowerAction::CleanServiceStop).await;
                }
                continue;
            }
            () = sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                if let Some(p) = d.fire_due_timers().await? {
                    return d.stop(p).await;
                }
                continue;
            }
            () = sleep_until(flush_wake(flush_at)), if flush_at.is_some() => {
                if let Err(fault) = d.log.maybe_flush() {
                    let now = d.clock.now_ms();
                    let p = d.storage_fault(now, &fault);
                    return d.stop(p).await;
                }
                continue;
            }
        };
        if let Some(p) = d.step(input).await? {
            return d.stop(p).await;
        }
    }
}

/// SIGTERM (systemd stopping the unit, the OS shutting down) and SIGINT (Ctrl-C).
#[cfg(not(madsim))]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(not(madsim))]
impl Signals {
    fn new() -> Result<Signals, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        let int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
        Ok(Signals { term, int })
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// No signals in the simulated world.
#[cfg(madsim)]
struct Signals;

#[cfg(madsim)]
impl Signals {
    fn new() -> Result<Signals, String> {
        Ok(Signals)
    }

    async fn next(&mut self) -> &'static str {
        std::future::pending().await
    }
}

#[cfg(madsim)]
struct Watchdog;

#[cfg(madsim)]
impl Watchdog {
    fn kick(&self) {}
    fn arm(&self, _armed: bool) {}
}

#[cfg(not(madsim))]
use watchdog::Watchdog;

struct Daemon {
    node: Node,
    cfg: Arc<Config>,
    clock: Clock,
    /// Peers' clocks as their heartbeats show them (warned beyond `heartbeat_interval`).
    skew: SkewWatch,
    timers: Timers,
    transport: Transport,
    /// The `disk` heartbeat paths of this server.
    disk: DiskHeartbeats,
    executor: Executor,
    log: EventLog,
    logger: Logger,
    state_dir: PathBuf,
    /// This server's name (in event records; the madsim crash points are armed by name).
    server: String,
    /// (peer, path) pairs whose last send failed, so a failure is logged once.
    send_failing: BTreeSet<(ServerId, PathId)>,
    /// Where peers last said their groups run (for `status`).
    peer_groups: PeerGroups,
    /// The last operator command id given to the node.
    next_command: CommandId,
    /// Control-socket connections waiting for the node's `Reply`.
    pending_replies: BTreeMap<CommandId, oneshot::Sender<Result<(), String>>>,
    /// What power actions do to the machine.
    fence: FenceMode,
    /// The user-space watchdog (none in the simulated world).
    watchdog: Option<Watchdog>,
    /// This server's `user-space` monitor, which arms the watchdog while it runs.
    user_space: Option<MonId>,
    /// SIGTERM or SIGINT arrived: the OS (or the operator) is stopping the service.
    os_shutting_down: bool,
    /// The status, counters and event records for the HTTP endpoint and the alerts.
    publisher: Option<observe::Publisher>,
}

impl Daemon {
    fn status(&self) -> control::StatusReply {
        control::StatusReply {
            cluster: self.cfg.cluster.name.clone(),
            status: self.node.status(),
            locations: self.peer_groups.locations(&self.cfg, &self.node),
            transport: self.transport.counters(),
            disk_slots: disk_slot_refusals(&self.cfg),
        }
    }

    /// Measures a peer's clock from one of its heartbeats; logs when it goes beyond
    /// the tolerated skew and when it comes back (the core's B52 compares instants of
    /// different servers, see [`clock`]).
    fn watch_clock(&mut self, peer: ServerId, sent_ms: u64) {
        let now = self.clock.now_ms();
        if let Some(note) = self.skew.observe(peer, sent_ms, now) {
            let name = self.cfg.server(peer).name.clone();
            self.logger.line(&note.line(&name, self.cfg.cluster.heartbeat_interval_ms));
        }
    }

    async fn fire_due_timers(&mut self) -> Result<Option<PowerAction>, String> {
        for timer in self.timers.take_due(Instant::now()) {
            if let Some(p) = self.step(Input::TimerFired { timer }).await? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Logs the input, lets the node handle it, logs the outputs, carries them out.
    /// `Some(p)`: the node asked for power action `p` and the daemon must stop.
    async fn step(&mut self, input: Input) -> Result<Option<PowerAction>, String> {
        Ok(self.step_watching_departure(input).await?.0)
    }

    /// [`Daemon::step`], also telling whether the node began leaving the cluster on
    /// this input (`service-stopping` emitted).
    async fn step_watching_departure(&mut self, input: Input) -> Result<(Option<PowerAction>, bool), String> {
        if let Some(w) = &self.watchdog {
            // B87: the service kicks its watchdog as it sends its heartbeats (every
            // heartbeat_interval), so a freeze is timed from the last heartbeat the peers
            // got, as their heartbeat timeout is. Kicked on every input, a freeze a little
            // shorter than heartbeat_timeout outlasted the peers' patience: they took the
            // groups over while this server woke still holding them (3node-hybrid seed
            // 766 in the simulator, which models the same watchdog).
            if input.kicks_watchdog() {
                w.kick();
            }
        }
        let now = self.clock.now_ms();
        // A log that cannot take the input is a store fault too: the input is not handled.
        if let Err(fault) = self.log.input(now, &input) {
            return Ok((Some(self.storage_fault(now, &fault)), false));
        }
        let started = std::time::Instant::now();
        let ready = self.node.step(now, input);
        if let Some(p) = &mut self.publisher {
            p.stepped(started.elapsed());
        }
        self.check_node_invariants();
        #[cfg(madsim)]
        let consequential = ready.is_consequential();
        if let Err(fault) = ready.outputs().iter().try_for_each(|o| self.log.output(now, o)) {
            return Ok((Some(self.storage_fault(now, &fault)), false));
        }
        let leaving =
            ready.outputs().iter().any(|o| matches!(o, Output::Emit(e) if e.kind == EventKind::ServiceStopping));
        // Persist before acting: nothing of this input leaves the process until the log
        // holding it and the state it decided are on disk (docs/event-log.md).
        let acts = match ready.commit(|durable| self.make_durable(now, durable)) {
            Ok(acts) => acts,
            Err(fault) => return Ok((Some(self.storage_fault(now, &fault)), leaving)),
        };
        #[cfg(madsim)]
        crash_point::reached(&self.server, crash_point::CrashPoint::AfterPersist, consequential).await;
        let mut power = None;
        for a in acts {
            if let Some(p) = self.carry_out(now, a).await? {
                power.get_or_insert(p);
            }
        }
        #[cfg(madsim)]
        crash_point::reached(&self.server, crash_point::CrashPoint::BeforeNext, consequential).await;
        if let (Some(w), Some(m)) = (&self.watchdog, self.user_space) {
            w.arm(self.node.monitor(m) != MonitorStatus::Stopped);
        }
        if self.publisher.as_ref().is_some_and(observe::Publisher::due) {
            let status = self.status();
            if let Some(p) = &mut self.publisher {
                p.publish(now, status);
            }
        }
        Ok((power, leaving))
    }

    /// The durable part of a step: the event lines, then the event log committed
    /// (fsync) when the step stores a state or an act leaves the process, then the
    /// state stored atomically. An error is a storage fault ([`Daemon::storage_fault`]).
    fn make_durable(&mut self, now: u64, durable: Durable) -> Result<(), String> {
        for event in &durable.events {
            let record = observe::EventRecord::new(&self.cfg, &self.server, now, event);
            self.logger.event(&record, &event_line(&self.cfg, event));
            if let Some(p) = &mut self.publisher {
                p.event(record);
            }
        }
        if durable.must_sync || durable.persisted.is_some() {
            self.log.commit()?;
        }
        if let Some(p) = durable.persisted {
            persist::store(&self.state_dir, &p).map_err(|e| format!("cannot persist the local state: {e}"))?;
        }
        Ok(())
    }

    /// The rule of a failed store or log commit (docs/event-log.md § "A failed store",
    /// after B130.7): the server cannot make its decisions durable, so it carries out
    /// none of the step's acts and ends its run at once as an emergency shutdown; its
    /// peers judge it lost and take over (B44).
    fn storage_fault(&mut self, now: u64, fault: &str) -> PowerAction {
        let event = baton_core::Event::new(EventKind::ProcessDied).reason(format!("state store failed: {fault}"));
        self.logger.line_at(now, &event_line(&self.cfg, &event));
        self.logger.line_at(now, "ERROR: none of this input's actions carried out; the run ends");
        PowerAction::EmergencyShutdown
    }

    /// The node's bookkeeping checked against itself after each input (a few hundred
    /// comparisons; core/src/node/invariants.rs). In the deterministic simulation of the
    /// runtime (madsim) a violation fails the test at once; in production it is logged,
    /// with the input logged just before it, for the bug report: the node goes on, as
    /// stopping the service would fail the groups over for a bookkeeping slip.
    fn check_node_invariants(&self) {
        let violations = self.node.check_invariants();
        if violations.is_empty() {
            return;
        }
        #[cfg(madsim)]
        panic!("core invariants broken: {}", violations.join("; "));
        #[cfg(not(madsim))]
        for v in violations {
            self.logger.line(&format!("core invariant broken (a bug, please report it): {v}"));
        }
    }

    async fn carry_out(&mut self, now: u64, act: Act) -> Result<Option<PowerAction>, String> {
        match act {
            Act::Heartbeat { to, path, hb } => {
                if !self.disk.publish(path, hb) {
                    self.send(to, path, Body::Heartbeat(hb)).await;
                }
            }
            Act::Send { to, msg } => {
                if let Err(e) = self.transport.send_message(to, msg).await {
                    self.logger.line_at(now, &format!("message to {} dropped: {e}", self.cfg.server(to).name));
                }
            }
            Act::Execute { id, action } => match self.executor.execute(id, action) {
                Dispatch::Pending => {}
                Dispatch::Power(p) => return Ok(Some(p)),
            },
            Act::Cancel { id } => self
                .logger
                .line_at(now, &format!("cancel of action {id}: no longer awaited; its driver ends it at its own timeout")),
            Act::SetTimer { at_ms, timer } => self.timers.set(timer, self.clock.instant_of(at_ms)),
            Act::Reply { id, result } => {
                self.logger.line_at(now, &format!("reply to command {id}: {result:?}"));
                if let Some(answer) = self.pending_replies.remove(&id) {
                    let _ = answer.send(result);
                }
            }
        }
        Ok(None)
    }

    async fn send(&mut self, to: ServerId, path: PathId, body: Body) {
        let key = (to, path);
        match self.transport.send(to, path, &body).await {
            Ok(()) => {
                self.send_failing.remove(&key);
            }
            Err(e) => {
                if self.send_failing.insert(key) {
                    self.logger.line(&format!("send to {} on path {}: {e}", self.cfg.server(to).name, path.0));
                }
            }
        }
    }

    /// Ends the run: commits the log, releases the addresses after an unclean end, then
    /// does to the machine what the fence mode says ([`power::plan`]).
    async fn stop(mut self, p: PowerAction) -> Result<Ending, String> {
        // A log that cannot be committed must not keep a fencing server up.
        if let Err(e) = self.log.commit() {
            self.logger.line(&format!("ERROR: {e}; ending the run all the same"));
        }
        if let Some(w) = &self.watchdog {
            w.arm(false);
        }
        let step = power::plan(p, self.fence, self.os_shutting_down);
        self.logger.line(&format!("stopping: power action {p:?}, fence={} → {:?}", self.fence, step.machine));
        if step.release {
            let release = self.executor.drivers().release_all();
            if tokio::time::timeout(RELEASE_LIMIT, release).await.is_err() {
                self.logger.line(&format!("ERROR: releasing the addresses took over {RELEASE_LIMIT:?}; going on"));
            }
        }
        if let Err(e) = power::carry_out(&step.machine) {
            self.logger.line(&format!("ERROR: {e}"));
        }
        if power::watch_power_off(p, self.fence, self.os_shutting_down) {
            // B130 6: the OS shutdown asked for is under way; this process stays until
            // the init system stops it (SIGTERM: the shutdown progresses, exit so that
            // it can go on) or the machine goes off. Still here at the node's stall
            // limit: reset.
            if let Some(reset) = self.await_power_off().await? {
                let step = power::plan(reset, self.fence, self.os_shutting_down);
                self.logger.line(&format!("shutdown stalled: power action {reset:?} → {:?}", step.machine));
                self.log.commit()?;
                if let Err(e) = power::carry_out(&step.machine) {
                    self.logger.line(&format!("ERROR: {e}"));
                }
                return Ok(Ending { power: reset, machine: step.machine });
            }
        }
        Ok(Ending { power: p, machine: step.machine })
    }

    /// Waits for the node's shutdown stall limit (B130 6), feeding it the timers that
    /// come due meanwhile (an ended run ignores all but that one). `Some(p)`: the limit
    /// passed with the machine still up and the node asks for power action `p`.
    /// `None` also when a signal arrives: the init system is stopping this service as
    /// part of the shutdown, which cannot go on until the process exits.
    async fn await_power_off(&mut self) -> Result<Option<PowerAction>, String> {
        let mut signals = Signals::new()?;
        while let Some(at) = self.timers.next() {
            tokio::select! {
                () = sleep_until(at) => {}
                signal = signals.next() => {
                    self.logger.line(&format!("{signal} while powering off: the shutdown goes on, exiting"));
                    return Ok(None);
                }
            }
            if let Some(p) = self.fire_due_timers().await? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}

/// The next input the drivers observed themselves; never, without such drivers (a
/// closed channel ends them too: the branch's pattern then fails and it is skipped).
async fn driver_input(rx: &mut Option<mpsc::UnboundedReceiver<Input>>) -> Option<Input> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The event log's flush deadline (a `std` instant) on the timers' clock; now when there
/// is none (the branch is disabled then).
#[cfg(not(madsim))]
fn flush_wake(at: Option<std::time::Instant>) -> Instant {
    at.map_or_else(Instant::now, Instant::from_std)
}

/// madsim's `Instant` is `std`'s: its clock is simulated underneath (`clock_gettime`).
#[cfg(madsim)]
fn flush_wake(at: Option<std::time::Instant>) -> Instant {
    at.unwrap_or_else(Instant::now)
}

/// How long releasing the addresses may take before the power action goes ahead anyway.
const RELEASE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);
