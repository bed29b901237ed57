//! The daemon loop: one server's cluster service on a real machine (first slice of
//! `baton daemon`).
//!
//! In: [`DaemonOptions`] (the configuration text, this server's name, the state
//! directory, the cluster key). Then, forever: authenticated packets from the
//! transport, results of actions, due timers. Out: packets to peers, scripts run, the
//! persisted state in `STATE_DIR/persisted.msgpack`, the event log in `STATE_DIR/log/`,
//! one stderr line per event; and, when the node asks for a power action, the end of
//! the loop with that action ([`run`] returns it).
//!
//! One tokio task owns the [`Node`]; each input is logged before the node handles it
//! and every output after, then the outputs are carried out in order:
//!
//! | output | done by |
//! |---|---|
//! | `Heartbeat { to, path }` | `Transport::send(to, path, Body::Heartbeat)` |
//! | `Send { to, msg }` | `Transport::send` on the shared lan path with the lowest `priority` ([`route`]) |
//! | `Execute { id, action }` | [`actions::Executor`]; the result comes back as `ActionDone` |
//! | `Cancel` | nothing: the exec driver kills a script at the same timeout itself |
//! | `SetTimer` | the timer table ([`clock`]); due timers come back as `TimerFired` |
//! | `Emit` | a log line (`server event=… key=value…`) |
//! | `Reply` | a log line, and the answer to the control-socket connection that gave the command ([`control`]) |
//! | `Persist` | [`persist::store`] (atomic), after committing the event log |
//!
//! The node's time is milliseconds since this daemon started (`tokio::time::Instant`),
//! so `baton log replay STATE_DIR/log` re-runs each run from its own zero.
//!
//! # LIMITATIONS of this slice (read before running it anywhere real)
//!
//! * **Monitors are not checked**: every `MonitorCheck` answers *healthy* at once.
//! * **Network-partition resolvers are not probed**: every `NpProbe` answers
//!   *answered* (ping/http/serial/majority) or *disk I/O fine* (disk) at once, so a
//!   server that loses its peers always believes it survives.
//! * Only `exec` resources do anything. Activation and deactivation of every other kind
//!   (floating and virtual IPs, services, disks, mirrors) and mirror copies fail at once
//!   with `not implemented in this runtime yet: …`, which the core treats as a real
//!   failure (recovery ladders, possibly a final action).
//! * A power action (fencing included) only **ends the daemon** (`--fence=exit`): the
//!   machine is neither rebooted nor powered off, and scripts already started keep
//!   their effects.
//! * Cluster messages are sent once, on the preferred path; there is no retransmission
//!   (the next heartbeat's version check repairs a lost state message, not a lost
//!   command).
//! * Time is per daemon (ms since its start) while the core shares some instants
//!   between servers (group epochs and fault times of B52): those comparisons are only
//!   meaningful once the runtime uses a common clock.
//! * The control socket's `wait` only waits for the node's reply (accepted or refused),
//!   not for the command's outcome.
//! * No watchdog, no disk heartbeats, no
//!   `ShutdownRequested` on signals yet.

pub mod actions;
pub mod clock;
pub mod control;
pub mod eventlog;
pub mod persist;
pub mod route;

use crate::transport::{bind, Body, Inbound, Key, Topology, Transport};
use actions::{Dispatch, Executor};
use baton_core::config::{self, Config, PathId, ServerId};
use baton_core::io::{CommandId, Input, Output, PowerAction};
use baton_core::Node;
use clock::{Clock, Timers};
use control::{ControlRequest, PeerGroups};
use eventlog::{event_line, EventLog, Logger};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
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
}

/// Runs the daemon until the node asks for a power action, which is returned.
/// Errors: the configuration, binding, the state directory or the event log failed.
pub async fn run(options: DaemonOptions) -> Result<PowerAction, String> {
    let checked = config::parse(&options.config_name, &options.config_text).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        format!("{}: invalid configuration:\n{}", options.config_name, list.join("\n"))
    })?;
    let cfg = Arc::new(checked.config);
    let me = cfg
        .server_id(&options.server)
        .ok_or_else(|| format!("server {} is not in {} (pass --server NAME)", options.server, options.config_name))?;
    std::fs::create_dir_all(&options.state_dir)
        .map_err(|e| format!("state directory {}: {e}", options.state_dir.display()))?;
    let persisted = persist::load(&options.state_dir)?;
    let mut log = EventLog::open(&options.state_dir.join("log"))?;
    let topology = Topology::from_config(&cfg, me)?;
    let boot_id = getrandom::u64().map_err(|e| format!("no random boot id: {e}"))?;
    let (transport, mut inbox) = bind(topology, options.key.clone(), boot_id)
        .await
        .map_err(|e| format!("cannot bind the heartbeat sockets: {e}"))?;
    let logger = Logger::new(&options.server);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let executor = Executor::new(Arc::clone(&cfg), options.config_dir.clone(), done_tx, logger.clone());
    let (_control, mut control_rx) = control::start(&options.state_dir, Arc::clone(&cfg))?;
    log.run_start(&options.server, &options.config_name, &options.config_text)?;
    let mut d = Daemon {
        node: Node::new(Arc::clone(&cfg), me),
        cfg,
        clock: Clock::start(),
        timers: Timers::default(),
        transport,
        executor,
        log,
        logger,
        state_dir: options.state_dir,
        send_failing: BTreeSet::new(),
        peer_groups: PeerGroups::default(),
        next_command: 0,
        pending_replies: BTreeMap::new(),
    };
    d.logger.line(&format!("starting (boot id {boot_id:016x}, state {})", d.state_dir.display()));
    if let Some(p) = d.step(Input::Boot { persisted }).await? {
        return d.stop(p);
    }
    loop {
        let next_timer = d.timers.next();
        let flush_at = d.log.flush_deadline();
        let input = tokio::select! {
            inbound = inbox.recv() => match inbound {
                Some(Inbound { from, path, body: Body::Heartbeat(hb) }) => Input::Heartbeat { from, path, hb },
                Some(Inbound { from, body: Body::Message(msg), .. }) => {
                    d.peer_groups.observe(from, &msg);
                    Input::Message { from, msg }
                }
                None => return Err("the transport stopped receiving".to_string()),
            },
            done = done_rx.recv() => match done {
                Some((id, result)) => Input::ActionDone { id, result },
                None => return Err("the action executor went away".to_string()),
            },
            request = control_rx.recv() => match request {
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
                        return d.stop(p);
                    }
                    continue;
                }
                None => return Err("the control socket stopped".to_string()),
            },
            () = sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                if let Some(p) = d.fire_due_timers().await? {
                    return d.stop(p);
                }
                continue;
            }
            () = sleep_until(flush_at.map_or_else(Instant::now, Instant::from_std)), if flush_at.is_some() => {
                d.log.maybe_flush()?;
                continue;
            }
        };
        if let Some(p) = d.step(input).await? {
            return d.stop(p);
        }
    }
}

struct Daemon {
    node: Node,
    cfg: Arc<Config>,
    clock: Clock,
    timers: Timers,
    transport: Transport,
    executor: Executor,
    log: EventLog,
    logger: Logger,
    state_dir: PathBuf,
    /// (peer, path) pairs whose last send failed, so a failure is logged once.
    send_failing: BTreeSet<(ServerId, PathId)>,
    /// Where peers last said their groups run (for `status`).
    peer_groups: PeerGroups,
    /// The last operator command id given to the node.
    next_command: CommandId,
    /// Control-socket connections waiting for the node's `Reply`.
    pending_replies: BTreeMap<CommandId, oneshot::Sender<Result<(), String>>>,
}

impl Daemon {
    fn status(&self) -> control::StatusReply {
        control::StatusReply {
            cluster: self.cfg.cluster.name.clone(),
            status: self.node.status(),
            locations: self.peer_groups.locations(&self.cfg, &self.node),
            transport: self.transport.counters(),
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
        let now = self.clock.now_ms();
        self.log.input(now, &input)?;
        let mut out = Vec::new();
        self.node.handle(now, input, &mut out);
        for o in &out {
            self.log.output(now, o)?;
        }
        let mut power = None;
        for o in out {
            if let Some(p) = self.carry_out(now, o).await? {
                power.get_or_insert(p);
            }
        }
        Ok(power)
    }

    async fn carry_out(&mut self, now: u64, output: Output) -> Result<Option<PowerAction>, String> {
        match output {
            Output::Heartbeat { to, path, hb } => self.send(to, path, Body::Heartbeat(hb)).await,
            Output::Send { to, msg } => match route::message_path(&self.cfg, self.transport.topology(), to) {
                Some(path) => self.send(to, path, Body::Message(msg)).await,
                None => {
                    self.logger.line(&format!("t={now}ms no lan path to {}: message dropped", self.cfg.server(to).name))
                }
            },
            Output::Execute { id, action } => match self.executor.execute(id, action) {
                Dispatch::Pending => {}
                Dispatch::Power(p) => return Ok(Some(p)),
            },
            Output::Cancel { id } => self
                .logger
                .line(&format!("t={now}ms cancel of action {id}: the driver stops the script at its own timeout")),
            Output::SetTimer { at_ms, timer } => self.timers.set(timer, self.clock.instant_of(at_ms)),
            Output::Emit(event) => self.logger.line(&format!("t={now}ms {}", event_line(&self.cfg, &event))),
            Output::Reply { id, result } => {
                self.logger.line(&format!("t={now}ms reply to command {id}: {result:?}"));
                if let Some(answer) = self.pending_replies.remove(&id) {
                    let _ = answer.send(result);
                }
            }
            Output::Persist(p) => {
                self.log.commit()?;
                if let Err(e) = persist::store(&self.state_dir, &p) {
                    self.logger.line(&format!("t={now}ms ERROR: cannot persist the local state: {e}"));
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

    fn stop(mut self, p: PowerAction) -> Result<PowerAction, String> {
        self.log.commit()?;
        self.logger.line(&format!("stopping: power action {p:?} (this runtime only ends the daemon)"));
        Ok(p)
    }
}
