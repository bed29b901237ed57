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
//! | `RecoverRun` | the start script of an `exec` resource (B93); nothing for other kinds |
//! | `MonitorCheck` | `baton_drivers::monitor::check` with the monitor's timeout; `user-space` answers healthy here because the real check is the daemon's watchdog thread ([`super::watchdog`]) |
//! | `NpProbe` | `ping` / `http`: `baton_drivers::probe`; `majority`: nothing to probe (the core counts) |
//!
//! Not in this runtime yet (planned with the disk drivers): `virtual-ip`, `disk`,
//! `mirror-disk` and `hybrid-disk` resources, mirror copies, `disk` and `serial`
//! resolvers, `mirror-*` monitors. Their actions fail with a reason naming them, which
//! the core treats as a real failure (a resolver that cannot answer loses, which is the
//! safe side: a server fences itself rather than risk two active servers).

use super::drivers::{DriverFuture, Drivers, UnitFuture};
use super::eventlog::Logger;
use baton_core::config::model::ResourceKind;
use baton_core::config::{Config, MonId, NpId, NpKind, ResId, ServerId};
use baton_core::io::{Action, ActionResult, ProbeResult};
use baton_core::script::ScriptEnv;
use baton_drivers::floating_ip::{self, FloatingIpSpec};
use baton_drivers::margin_watch::MarginWatches;
use baton_drivers::monitor::{self, MonitorSpec};
use baton_drivers::probe;
use baton_drivers::service::{self, ServiceSpec};
use baton_drivers::{run_script, ScriptSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    monitors: BTreeMap<MonId, MonitorSpec>,
}

#[derive(Clone, Copy)]
enum Script {
    Start,
    Stop,
}

fn failed(reason: String) -> DriverFuture {
    Box::pin(async move { ActionResult::Failed(reason) })
}

/// A resolver kind without a driver yet: its probe fails, so this server loses (B31).
fn unsupported_resolver(kind: &str, name: &str) -> DriverFuture {
    failed(format!("not implemented in this runtime yet: the {kind} resolver {name} (it loses: the safe side)"))
}

fn ready(result: ActionResult) -> DriverFuture {
    Box::pin(async move { result })
}

impl RealDrivers {
    /// Builds every driver spec of the resources and monitors on server `me`. Errors list
    /// every value a driver cannot use.
    pub fn new(cfg: Arc<Config>, me: ServerId, config_dir: PathBuf, logger: Logger) -> Result<RealDrivers, String> {
        // Every relative path of the file (scripts, pidfiles, exec monitors) is taken from
        // here: absolute once, so that a script started in its own directory does not look
        // a relative `--config etc/cluster.toml` up a second time.
        let config_dir = std::path::absolute(&config_dir)
            .map_err(|e| format!("cannot make the configuration directory {} absolute: {e}", config_dir.display()))?;
        let mut problems = Vec::new();
        let mut floating = BTreeMap::new();
        let mut services = BTreeMap::new();
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
                ResourceKind::Exec { .. }
                | ResourceKind::VirtualIp { .. }
                | ResourceKind::Disk { .. }
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
        if !problems.is_empty() {
            return Err(format!("the drivers cannot use this configuration:\n  {}", problems.join("\n  ")));
        }
        Ok(RealDrivers { cfg, me, config_dir, logger, floating, margins: MarginWatches::new(), services, monitors })
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
            ResourceKind::VirtualIp { .. }
            | ResourceKind::Disk { .. }
            | ResourceKind::MirrorDisk(_)
            | ResourceKind::HybridDisk(_) => (
                failed(format!(
                    "not implemented in this runtime yet: {what} of {} resource {}",
                    resource.kind.name(),
                    resource.name
                )),
                None,
            ),
        }
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
        match self.monitors.get(&m).cloned() {
            Some(spec) => (
                Box::pin(async move {
                    let outcome = monitor::check(&spec, timeout).await;
                    ActionResult::Check { healthy: outcome.healthy, detail: outcome.detail }
                }),
                Some(timeout),
            ),
            // user-space: the watchdog thread is the check; mirror-*: no mirror driver yet.
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
            NpKind::Http { targets } => {
                let targets = targets.clone();
                (
                    Box::pin(async move {
                        ActionResult::Probe(ProbeResult::Answered(probe::http_any(&targets, timeout).await))
                    }),
                    Some(timeout),
                )
            }
            NpKind::Majority => (ready(ActionResult::Probe(ProbeResult::Answered(true))), None),
            NpKind::Disk { .. } => (unsupported_resolver("disk", &resolver.name), None),
            NpKind::Serial { .. } => (unsupported_resolver("serial", &resolver.name), None),
        }
    }
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
            Action::MirrorCopy { res, .. } => (
                failed(format!("not implemented in this runtime yet: mirror copy of {}", self.cfg.resource(res).name)),
                None,
            ),
            Action::Power(p) => (failed(format!("power action {p:?} reached the drivers")), None),
        }
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
        let logger = self.logger.clone();
        Box::pin(async move {
            for (name, spec) in specs {
                match floating_ip::deactivate(&spec).await {
                    Ok(()) => logger.line(&format!("released floating IP {name} ({})", spec.address)),
                    Err(e) => logger.line(&format!("ERROR: could not release floating IP {name}: {e}")),
                }
            }
        })
    }
}
