//! The production [`Drivers`]: what the node's actions do on this machine.
//!
//! In: the configuration (specs are built once, at start: a bad floating address or URL
//! stops the daemon with a clear message instead of failing at the first failover), the
//! configuration's directory (relative script paths), this server, a [`Logger`] for
//! script output. Then actions. Out: each action's `ActionResult`.
//!
//! | action | driver |
//! |---|---|
//! | activate / deactivate `exec` | its start / stop script (`baton_drivers::run_script`), `CLP_*` environment, timeout kills the process group |
//! | activate / deactivate `floating-ip` | `baton_drivers::floating_ip` (ARP probe, netlink add, gratuitous ARP / netlink remove); at a takeover the add follows the margin watch (`activate_after_margin`) |
//! | `AddressProbe` | `baton_drivers::margin_watch`: the floating IP's duplicate-address probe from V through the takeover margin (B44) |
//! | activate / deactivate `service` | `systemctl start` / `stop` of the unit (`baton_drivers::service`) |
//! | activate / deactivate `disk` | `baton_drivers::disk`: read-only flag cleared, fsck, mount / unmount (holders of a busy mount ended), read-only flag set |
//! | service start ([`Drivers::service_start`]) | the read-only flag of every `disk` this server may run; the supervision of every mirror engine of this server ([`super::mirror`]) |
//! | activate / deactivate `mirror-disk`, `MirrorCopy` | [`super::mirror`]: the engine process's `activate` then mount / unmount then `deactivate`; `rebuild` until its outcome |
//! | `RecoverRun` | the start script of an `exec` resource (B93); nothing for other kinds |
//! | `MonitorCheck` | `baton_drivers::monitor::check` with the monitor's timeout; `user-space` answers healthy here because the real check is the daemon's watchdog thread ([`super::watchdog`]); `mirror-disk` / `mirror-connect`: [`super::mirror`] |
//! | `NpProbe` | `ping` / `http`: `baton_drivers::probe`; `majority`: nothing to probe (the core counts); `disk`: one slot cycle on the device (`baton_drivers::slot_device`, shared with a disk heartbeat on the same device): own slot written and read back within `io_wait`, and the highest authenticated counter of every peer's slot (B31, B39); `serial`: a ping on the line ([`baton_drivers::serial_line`], the reader started with the drivers) answered within the timeout (B38) |
//!
//! Kinds without a driver are listed in [`super::kind_support`], the one table of
//! them: [`RealDrivers::new`] refuses a configuration that uses one (`virtual-ip`,
//! hybrid disks). Their actions would fail with a reason
//! naming them, which the core treats as a real failure.

use super::drivers::{DriverFuture, Drivers, UnitFuture};
use super::eventlog::Logger;
use super::kind_support::{self, GapLevel};
use super::mirror::{self, MirrorEngine, MirrorSetup};
use baton_core::config::model::ResourceKind;
use baton_core::config::{Config, MonId, MonitorKind, NpId, NpKind, ResId, ServerId};
use baton_core::io::{Action, ActionResult, ProbeResult};
use baton_core::script::ScriptEnv;
use baton_drivers::disk::{self, DiskSpec};
use baton_drivers::disk_slot::{PeerTrack, SlotKey};
use baton_drivers::floating_ip::{self, FloatingIpSpec};
use baton_drivers::http::HttpTarget;
use baton_drivers::margin_watch::MarginWatches;
use baton_drivers::monitor::{self, MonitorSpec};
use baton_drivers::probe;
use baton_drivers::serial_line::{LineKey, SerialLine};
use baton_drivers::service::{self, ServiceSpec};
use baton_drivers::slot_device::{self, OwnIo, SlotDevice};
use baton_drivers::{run_script, ScriptSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest a disk's release on fencing may take: the power action waits for it.
const RELEASE_BOUND: Duration = Duration::from_secs(5);

/// The drivers of a real server.
pub struct RealDrivers {
    cfg: Arc<Config>,
    me: ServerId,
    config_dir: PathBuf,
    logger: Logger,
    floating: BTreeMap<ResId, FloatingIpSpec>,
    /// The takeover margin's address watches, read by the activations at T (B44).
    margins: MarginWatches,
    services: BTreeMap<ResId, ServiceSpec>,
    disks: BTreeMap<ResId, DiskSpec>,
    monitors: BTreeMap<MonId, MonitorSpec>,
    /// The URLs of each `http` resolver on this server, with their clients (a bad URL or
    /// CA file stops the daemon at start, not at the first partition).
    http_probes: BTreeMap<NpId, Arc<[HttpTarget]>>,
    /// Every `disk` resolver of this server: its device and what it accepted of each peer.
    disk_resolvers: BTreeMap<NpId, DiskResolver>,
    /// Every `serial` resolver of this server: its line to the peer (B38).
    serial_lines: BTreeMap<NpId, Arc<SerialResolver>>,
    /// The engine of every mirror-disk side of this server ([`RealDrivers::with_mirrors`]).
    mirrors: BTreeMap<ResId, Arc<MirrorEngine>>,
    mirror_setup: Option<MirrorSetup>,
    /// What the mirror engines' supervisors report, until the loop takes it.
    inputs: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<baton_core::io::Input>>>,
    inputs_tx: tokio::sync::mpsc::UnboundedSender<baton_core::io::Input>,
}

/// A `disk` resolver's device and its tracks of the peers' slots.
struct DiskResolver {
    device: Arc<SlotDevice>,
    peers: Vec<ServerId>,
    io_wait: Duration,
    tracks: Arc<Mutex<BTreeMap<ServerId, PeerTrack>>>,
    /// Every server's name by slot index, for the log.
    names: Arc<Vec<String>>,
}

#[derive(Clone, Copy)]
enum Script {
    Start,
    Stop,
}

fn failed(reason: String) -> DriverFuture {
    Box::pin(async move { ActionResult::Failed(reason) })
}

/// One `serial` resolver check (B31, B38): the peer answered a ping on the cable
/// within the resolver's timeout, or not (the reason logged). A line that cannot be used
/// is a failed round, as silence is: the core counts both against the resolver.
/// Only the first failure after a success is logged, and the return: an unplugged cable
/// does not write a line per round.
fn serial_probe(line: Arc<SerialResolver>, name: &str, timeout: Duration, logger: Logger) -> DriverFuture {
    let name = name.to_string();
    Box::pin(async move {
        let answered = line.line.check(timeout).await;
        let was_ok = line.last_ok.swap(answered.is_ok(), std::sync::atomic::Ordering::Relaxed);
        match answered {
            Ok(rtt) => {
                if !was_ok {
                    logger.line(&format!(
                        "serial resolver {name}: the peer answers on the line ({} ms)",
                        rtt.as_millis()
                    ));
                }
                ActionResult::Probe(ProbeResult::Answered(true))
            }
            Err(why) => {
                if was_ok {
                    logger.line(&format!("serial resolver {name}: the peer did not answer on the line: {why}"));
                }
                ActionResult::Probe(ProbeResult::Answered(false))
            }
        }
    })
}

/// A `serial` resolver's line, and whether its last check was answered (for the log).
struct SerialResolver {
    line: SerialLine,
    last_ok: std::sync::atomic::AtomicBool,
}

fn ready(result: ActionResult) -> DriverFuture {
    Box::pin(async move { result })
}

impl RealDrivers {
    /// Builds every driver spec of the resources and monitors on server `me`. Errors list
    /// every value a driver cannot use. `slot_key` tags the disk slots (derived from the
    /// cluster secret, `transport::packet::DISK_SLOT_LABEL`), `line_key` the frames of the
    /// serial resolvers' lines (`SERIAL_LINE_LABEL`); each serial line's reader starts here
    /// (it answers the peer's checks from the start, whether or not this server checks).
    pub fn new(
        cfg: Arc<Config>,
        me: ServerId,
        config_dir: PathBuf,
        logger: Logger,
        slot_key: SlotKey,
        line_key: LineKey,
    ) -> Result<RealDrivers, String> {
        // Every relative path of the file (scripts, pidfiles, exec monitors) is taken from
        // here: absolute once, so that a script started in its own directory does not look
        // a relative `--config etc/cluster.toml` up a second time.
        let config_dir = std::path::absolute(&config_dir)
            .map_err(|e| format!("cannot make the configuration directory {} absolute: {e}", config_dir.display()))?;
        let mut problems = Vec::new();
        for gap in kind_support::gaps(&cfg) {
            match gap.level {
                GapLevel::Error => problems.push(gap.to_string()),
                GapLevel::Warning => logger.line(&format!("WARNING: {gap}")),
            }
        }
        let mut floating = BTreeMap::new();
        let mut services = BTreeMap::new();
        let mut disks = BTreeMap::new();
        for (i, r) in cfg.resources.iter().enumerate() {
            let id = ResId(i as u16);
            match &r.kind {
                ResourceKind::FloatingIp { .. } => match FloatingIpSpec::from_resource(&r.kind) {
                    Ok(spec) => {
                        floating.insert(id, spec);
                    }
                    Err(e) => problems.push(format!("resource {}: {e}", r.name)),
                },
                ResourceKind::Service { .. } => match ServiceSpec::from_resource(&r.kind) {
                    Ok(spec) => {
                        services.insert(id, spec);
                    }
                    Err(e) => problems.push(format!("resource {}: {e}", r.name)),
                },
                ResourceKind::Disk { .. } => match DiskSpec::from_resource(&r.kind) {
                    Ok(spec) => {
                        disks.insert(id, spec);
                    }
                    Err(e) => problems.push(format!("resource {}: {e}", r.name)),
                },
                ResourceKind::Exec { .. }
                | ResourceKind::VirtualIp { .. }
                | ResourceKind::MirrorDisk(_)
                | ResourceKind::HybridDisk(_) => {}
            }
        }
        let mut monitors = BTreeMap::new();
        for m in cfg.monitor_ids() {
            if !cfg.monitor(m).servers.contains(&me) {
                continue;
            }
            match MonitorSpec::from_config(&cfg, &config_dir, m) {
                Ok(Some(spec)) => {
                    monitors.insert(m, spec);
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("monitor {}: {e}", cfg.monitor(m).name)),
            }
        }
        let mut http_probes = BTreeMap::new();
        for (i, np) in cfg.nps.iter().enumerate() {
            let NpKind::Http { targets, ca_file } = &np.kind else { continue };
            if !np.servers.contains(&me) {
                continue;
            }
            let ca_file = ca_file.as_deref().map(|f| config_dir.join(f));
            match targets.iter().map(|t| HttpTarget::new(t, ca_file.as_deref())).collect::<Result<Vec<_>, _>>() {
                Ok(list) => {
                    http_probes.insert(NpId(i as u16), Arc::from(list));
                }
                Err(e) => problems.push(format!("resolver {}: {e}", np.name)),
            }
        }
        let mut disk_resolvers = BTreeMap::new();
        for np in cfg.np_ids() {
            let resolver = &cfg.nps[np.idx()];
            let NpKind::Disk { device, io_wait_ms } = &resolver.kind else { continue };
            if !resolver.servers.contains(&me) {
                continue;
            }
            disk_resolvers.insert(
                np,
                DiskResolver {
                    device: slot_device::shared(super::disk_heartbeat::slot_spec(&cfg, me, device), slot_key.clone()),
                    peers: resolver.servers.iter().copied().filter(|s| *s != me).collect(),
                    io_wait: Duration::from_millis(*io_wait_ms),
                    tracks: Arc::new(Mutex::new(BTreeMap::new())),
                    names: Arc::new(cfg.servers.iter().map(|s| s.name.clone()).collect()),
                },
            );
        }
        let mut serial_lines = BTreeMap::new();
        for np in cfg.np_ids() {
            let resolver = &cfg.nps[np.idx()];
            if !matches!(resolver.kind, NpKind::Serial { .. }) || !resolver.servers.contains(&me) {
                continue;
            }
            // Exactly two servers (B131 4): the other one is the peer.
            let Some(peer) = resolver.servers.iter().copied().find(|s| *s != me) else {
                problems.push(format!("resolver {}: a serial resolver needs a peer", resolver.name));
                continue;
            };
            let device = resolver.kind.serial_device(me);
            if device.trim().is_empty() {
                problems.push(format!("resolver {}: no serial device for this server", resolver.name));
                continue;
            }
            let line = SerialLine::start(device, me.0, peer.0, &cfg.cluster.name, line_key.clone());
            // "Answered" at first, so that a cable that never answers is logged once.
            serial_lines
                .insert(np, Arc::new(SerialResolver { line, last_ok: std::sync::atomic::AtomicBool::new(true) }));
        }
        if !problems.is_empty() {
            return Err(format!("the drivers cannot use this configuration:\n  {}", problems.join("\n  ")));
        }
        let (inputs_tx, inputs_rx) = tokio::sync::mpsc::unbounded_channel();
        Ok(RealDrivers {
            cfg,
            me,
            config_dir,
            logger,
            floating,
            margins: MarginWatches::new(),
            services,
            disks,
            monitors,
            http_probes,
            disk_resolvers,
            serial_lines,
            mirrors: BTreeMap::new(),
            mirror_setup: None,
            inputs: Mutex::new(Some(inputs_rx)),
            inputs_tx,
        })
    }

    /// Drives the mirror-disk sides of this server through their engine processes
    /// ([`super::mirror`]), started at service start. Without it their actions fail.
    pub fn with_mirrors(mut self, setup: MirrorSetup) -> Result<RealDrivers, String> {
        self.mirrors = mirror::engines(&self.cfg, self.me, &setup, &self.logger)?;
        self.mirror_setup = Some(setup);
        Ok(self)
    }

    fn mirror(&self, res: ResId) -> Result<Arc<MirrorEngine>, String> {
        self.mirrors.get(&res).cloned().ok_or_else(|| {
            format!("no mirror engine for {} on this server (the daemon supervises none)", self.cfg.resource(res).name)
        })
    }

    fn resource(&self, res: ResId, env: Option<ScriptEnv>, which: Script) -> (DriverFuture, Option<Duration>) {
        let resource = self.cfg.resource(res);
        let timeout = Duration::from_millis(resource.timeout_ms);
        let what = match which {
            Script::Start => "activation",
            Script::Stop => "deactivation",
        };
        match &resource.kind {
            ResourceKind::Exec { .. } => (self.script(res, env, which), Some(timeout)),
            ResourceKind::FloatingIp { .. } => {
                let Some(spec) = self.floating.get(&res).cloned() else {
                    return (failed(format!("no floating IP spec for {}", resource.name)), None);
                };
                let margins = self.margins.clone();
                let future: DriverFuture = match which {
                    // After a margin watch (a takeover, B44) the add waits only for what
                    // the watch has not already heard quiet; otherwise a full probe.
                    Script::Start => Box::pin(async move {
                        floating_ip::action_result(&floating_ip::activate_after_margin(&spec, &margins).await)
                    }),
                    Script::Stop => {
                        Box::pin(async move { floating_ip::action_result(&floating_ip::deactivate(&spec).await) })
                    }
                };
                (future, Some(timeout))
            }
            ResourceKind::Service { .. } => {
                let Some(spec) = self.services.get(&res).cloned() else {
                    return (failed(format!("no service spec for {}", resource.name)), None);
                };
                let future: DriverFuture = Box::pin(async move {
                    let result = match which {
                        Script::Start => service::start(&spec, timeout).await,
                        Script::Stop => service::stop(&spec, timeout).await,
                    };
                    match result {
                        Ok(()) => ActionResult::Ok,
                        Err(e) => ActionResult::Failed(e),
                    }
                });
                (future, Some(timeout))
            }
            ResourceKind::Disk { .. } => {
                let Some(spec) = self.disks.get(&res).cloned() else {
                    return (failed(format!("no disk spec for {}", resource.name)), None);
                };
                let logger = self.logger.clone();
                let name = resource.name.clone();
                let future: DriverFuture = Box::pin(async move {
                    let result = match which {
                        Script::Start => disk::activate(&spec, timeout).await,
                        Script::Stop => disk::deactivate(&spec, timeout).await,
                    };
                    match &result {
                        Ok(done) => logger.line(&format!("disk {name} {what}: {done}")),
                        Err(why) => logger.line(&format!("disk {name} {what} failed: {why}")),
                    }
                    disk::action_result(&result)
                });
                (future, Some(timeout))
            }
            ResourceKind::MirrorDisk(_) => match self.mirror(res) {
                Ok(engine) => {
                    let future: DriverFuture = match which {
                        Script::Start => Box::pin(mirror::activate(engine, timeout)),
                        Script::Stop => Box::pin(mirror::deactivate(engine, timeout)),
                    };
                    (future, Some(timeout))
                }
                Err(e) => (failed(e), None),
            },
            ResourceKind::VirtualIp { .. } | ResourceKind::HybridDisk(_) => (
                failed(format!(
                    "not implemented in this runtime yet: {what} of {} resource {}",
                    resource.kind.name(),
                    resource.name
                )),
                None,
            ),
        }
    }

    /// The disks of the groups this server may run: name, spec, timeout.
    fn disks_here(&self) -> Vec<(String, DiskSpec, Duration)> {
        self.disks
            .iter()
            .filter(|(res, _)| self.cfg.group(self.cfg.resource(**res).group).policy.contains(&self.me))
            .map(|(res, spec)| {
                let r = self.cfg.resource(*res);
                (r.name.clone(), spec.clone(), Duration::from_millis(r.timeout_ms))
            })
            .collect()
    }

    fn script(&self, res: ResId, env: Option<ScriptEnv>, which: Script) -> DriverFuture {
        let resource = self.cfg.resource(res);
        let kind = &resource.kind;
        let spec = match which {
            Script::Start => ScriptSpec::start_of(&self.config_dir, kind),
            Script::Stop => ScriptSpec::stop_of(&self.config_dir, kind),
        };
        let Some(spec) = spec else {
            return ready(ActionResult::Ok); // no script: nothing to run
        };
        let Some(env) = env else {
            return failed(format!("no script environment for {}", resource.name));
        };
        let timeout = Duration::from_millis(resource.timeout_ms);
        let logger = self.logger.clone();
        let name = resource.name.clone();
        Box::pin(async move {
            let outcome = run_script(&spec, &env, timeout).await;
            let how = outcome.failure_reason().unwrap_or_else(|| "ok".to_string());
            logger.line(&format!(
                "script {} of {name} ({}): {how} in {} ms",
                spec.path.display(),
                env.event.name(),
                outcome.duration_ms
            ));
            for line in &outcome.output {
                logger.line(&format!("script {name}: {line}"));
            }
            outcome.action_result()
        })
    }

    fn monitor_check(&self, m: MonId) -> (DriverFuture, Option<Duration>) {
        let mon = self.cfg.monitor(m);
        let timeout = Duration::from_millis(mon.timeout_ms);
        match &mon.kind {
            MonitorKind::MirrorDisk { resource } => {
                return match self.mirror(*resource) {
                    Ok(engine) => (Box::pin(mirror::check_disk(engine, timeout)), Some(timeout)),
                    Err(e) => (ready(ActionResult::Check { healthy: false, detail: e }), None),
                };
            }
            MonitorKind::MirrorConnect { resource } => {
                return match self.mirror(*resource) {
                    Ok(engine) => (ready(mirror::check_connect(&engine)), None),
                    Err(e) => (ready(ActionResult::Check { healthy: false, detail: e }), None),
                };
            }
            MonitorKind::Ip { .. }
            | MonitorKind::FloatingIp { .. }
            | MonitorKind::Process { .. }
            | MonitorKind::Exec { .. }
            | MonitorKind::Disk { .. }
            | MonitorKind::NicLink { .. }
            | MonitorKind::UserSpace { .. }
            | MonitorKind::Http { .. } => {}
        }
        match self.monitors.get(&m).cloned() {
            Some(spec) => (
                Box::pin(async move {
                    let outcome = monitor::check(&spec, timeout).await;
                    ActionResult::Check { healthy: outcome.healthy, detail: outcome.detail }
                }),
                Some(timeout),
            ),
            // user-space: the watchdog thread is the check.
            None => (
                ready(ActionResult::Check {
                    healthy: true,
                    detail: format!("{} monitors are checked outside the monitor driver", mon.kind.name()),
                }),
                None,
            ),
        }
    }

    fn np_probe(&self, np: NpId) -> (DriverFuture, Option<Duration>) {
        let Some(resolver) = self.cfg.nps.get(np.idx()) else {
            return (failed(format!("no resolver #{}", np.0)), None);
        };
        let timeout = Duration::from_millis(resolver.timeout_ms);
        match &resolver.kind {
            NpKind::Ping { targets } => {
                let targets = targets.clone();
                (
                    Box::pin(async move {
                        ActionResult::Probe(ProbeResult::Answered(probe::ping_any(&targets, timeout).await))
                    }),
                    Some(timeout),
                )
            }
            NpKind::Http { .. } => {
                let Some(targets) = self.http_probes.get(&np).cloned() else {
                    return (failed(format!("the http resolver {} has no probe on this server", resolver.name)), None);
                };
                (
                    Box::pin(async move {
                        ActionResult::Probe(ProbeResult::Answered(probe::http_any(&targets, timeout).await))
                    }),
                    Some(timeout),
                )
            }
            NpKind::Majority => (ready(ActionResult::Probe(ProbeResult::Answered(true))), None),
            NpKind::Disk { .. } => match self.disk_resolvers.get(&np) {
                Some(d) => (disk_probe(d, &resolver.name, self.logger.clone()), Some(d.io_wait)),
                None => (failed(format!("no disk slot device for resolver {}", resolver.name)), None),
            },
            NpKind::Serial { .. } => match self.serial_lines.get(&np) {
                Some(line) => {
                    (serial_probe(Arc::clone(line), &resolver.name, timeout, self.logger.clone()), Some(timeout))
                }
                None => (failed(format!("no serial line for resolver {} on this server", resolver.name)), None),
            },
        }
    }
}

/// One `disk` resolver check (B31): a slot cycle within `io_wait`; the own I/O outcome
/// and duration, and for each peer the highest counter accepted from its authenticated
/// slot (the core sees a peer alive when that value changes, B39). A slot refused this
/// time leaves the peer out: its value does not change, so it does not count as alive.
fn disk_probe(d: &DiskResolver, name: &str, logger: Logger) -> DriverFuture {
    let device = Arc::clone(&d.device);
    let tracks = Arc::clone(&d.tracks);
    let peers = d.peers.clone();
    let io_wait = d.io_wait;
    let names = Arc::clone(&d.names);
    let name = name.to_string();
    Box::pin(async move {
        let cycle = device.cycle(None, io_wait).await;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (io_ok, io_ms) = match &cycle.own {
            OwnIo::Ok(elapsed) => (true, ms(*elapsed)),
            OwnIo::Failed { elapsed, reason } => {
                logger.line(&format!("disk resolver {name}: own slot I/O failed: {reason}"));
                (false, ms(*elapsed))
            }
            // Longer than io_wait, whatever the clock's rounding: the core's "slow".
            OwnIo::Timeout(elapsed) => (true, ms(*elapsed).max(ms(io_wait).saturating_add(1))),
        };
        let mut slots = Vec::new();
        let mut tracks = tracks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for peer in peers {
            let Some(Ok(slot)) = cycle.peers.get(&peer.0) else { continue };
            let track = tracks.entry(peer).or_default();
            device.observe(track, slot);
            if let Some(counter) = track.counter() {
                slots.push((peer, counter));
            }
        }
        for (slot, why) in device.new_refusals() {
            let whose = names.get(usize::from(slot)).map_or_else(|| format!("slot {slot}"), |n| format!("{n}'s slot"));
            logger.line(&format!(
                "disk resolver {name}: {whose} refused ({}); counted, never taken for a live server",
                why.name()
            ));
        }
        ActionResult::Probe(ProbeResult::Disk { io_ok, io_ms, slots })
    })
}

impl RealDrivers {
    /// The floating IP's duplicate-address probe during the takeover margin (B44): an
    /// answer in the last window before T is `Answered(true)` (the activation at T then
    /// waits for a quiet window or fails, B70).
    fn margin_probe(&self, res: ResId, margin_ms: u64) -> (DriverFuture, Option<Duration>) {
        let Some(spec) = self.floating.get(&res).cloned() else {
            return (failed(format!("no floating IP spec for {}", self.cfg.resource(res).name)), None);
        };
        let margins = self.margins.clone();
        let margin = Duration::from_millis(margin_ms);
        let bound = margin
            + Duration::from_millis(spec.probe_wait_ms)
            + Duration::from_millis(self.cfg.resource(res).timeout_ms);
        let future: DriverFuture = Box::pin(async move {
            match margins.watch(&spec, margin).await {
                Ok(answer) => ActionResult::Probe(ProbeResult::Answered(answer.is_some())),
                Err(e) => ActionResult::Failed(e.to_string()),
            }
        });
        (future, Some(bound))
    }
}

impl Drivers for RealDrivers {
    fn run(&self, action: Action) -> (DriverFuture, Option<Duration>) {
        match action {
            Action::Activate { res, env } => self.resource(res, env, Script::Start),
            Action::Deactivate { res, env } => self.resource(res, env, Script::Stop),
            Action::RecoverRun { res, env } => match &self.cfg.resource(res).kind {
                ResourceKind::Exec { .. } => (
                    self.script(res, Some(env), Script::Start),
                    Some(Duration::from_millis(self.cfg.resource(res).timeout_ms)),
                ),
                ResourceKind::FloatingIp { .. }
                | ResourceKind::VirtualIp { .. }
                | ResourceKind::Service { .. }
                | ResourceKind::Disk { .. }
                | ResourceKind::MirrorDisk(_)
                | ResourceKind::HybridDisk(_) => (ready(ActionResult::Ok), None),
            },
            Action::MonitorCheck { mon } => self.monitor_check(mon),
            Action::NpProbe { np } => self.np_probe(np),
            Action::AddressProbe { res, margin_ms } => self.margin_probe(res, margin_ms),
            // A rebuild takes what the data takes: no bound (the core has its own).
            Action::MirrorCopy { res, full, .. } => match self.mirror(res) {
                Ok(engine) => (Box::pin(mirror::copy(engine, full)), None),
                Err(e) => (failed(e), None),
            },
            Action::Power(p) => (failed(format!("power action {p:?} reached the drivers")), None),
        }
    }

    fn take_inputs(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<baton_core::io::Input>> {
        self.inputs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn service_start(&self) -> UnitFuture {
        let disks = self.disks_here();
        let logger = self.logger.clone();
        // The engines keep running across daemon restarts: supervision reattaches to them.
        if let Some(setup) = &self.mirror_setup {
            mirror::supervise(&self.mirrors, setup, &self.inputs_tx);
        }
        Box::pin(async move {
            for (name, spec, timeout) in disks {
                match disk::make_read_only(&spec, timeout).await {
                    Ok(done) => logger.line(&format!("disk {name} offline at start: {done}")),
                    Err(e) => logger.line(&format!("ERROR: disk {name}: cannot make it read-only at start: {e}")),
                }
            }
        })
    }

    fn release_all(&self) -> UnitFuture {
        // Every floating IP of a group this server may run: the address must not outlive
        // the "powered-off" server, whatever the node believed it held.
        let specs: Vec<(String, FloatingIpSpec)> = self
            .floating
            .iter()
            .filter(|(res, _)| {
                let g = self.cfg.resource(**res).group;
                self.cfg.group(g).policy.contains(&self.me)
            })
            .map(|(res, spec)| (self.cfg.resource(*res).name.clone(), spec.clone()))
            .collect();
        let disks = self.disks_here();
        let logger = self.logger.clone();
        // No more lease renewals: the mirror engines stop acknowledging writes within
        // their lease, before the peers may take over.
        for engine in self.mirrors.values() {
            mirror::stop_renewing(engine);
        }
        Box::pin(async move {
            for (name, spec) in specs {
                match floating_ip::deactivate(&spec).await {
                    Ok(()) => logger.line(&format!("released floating IP {name} ({})", spec.address)),
                    Err(e) => logger.line(&format!("ERROR: could not release floating IP {name}: {e}")),
                }
            }
            // The flag at once, then a lazy unmount: no write of this server reaches the
            // shared disk once it has fenced itself.
            for (name, spec, timeout) in disks {
                match disk::release(&spec, timeout.min(RELEASE_BOUND)).await {
                    Ok(done) => logger.line(&format!("released disk {name}: {done}")),
                    Err(e) => logger.line(&format!("ERROR: could not release disk {name}: {e}")),
                }
            }
        })
    }
}
