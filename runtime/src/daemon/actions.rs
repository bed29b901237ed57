//! The action executor: what `Output::Execute { id, action }` does in this slice.
//!
//! In: an action id and an [`Action`]. Out: an [`Dispatch`]: the result is sent later on
//! the executor's channel as `(id, ActionResult)` (to be fed back as
//! `Input::ActionDone`), or the action is a power action that ends the daemon.
//!
//! * `Activate`, `Deactivate`, `RecoverRun` of an `exec` resource run its start (stop)
//!   script through `baton_drivers::run_script` on a spawned task, with the resource's
//!   timeout; a missing `start`/`stop` key succeeds at once.
//! * `MonitorCheck` answers **healthy** at once and `NpProbe` answers **answered** (ping,
//!   http, serial, majority) or **disk I/O fine** (disk) at once: monitors and resolvers
//!   are NOT checked yet (see the limitations in the module doc of `daemon`).
//! * Everything else (non-exec resources, `MirrorCopy`) fails at once with
//!   `not implemented in this runtime yet: …`.
//! * `Power(p)` is returned to the loop, which stops the daemon (`--fence=exit`).

use baton_core::config::model::ResourceKind;
use baton_core::config::{Config, NpKind, ResId};
use baton_core::io::{Action, ActionId, ActionResult, PowerAction, ProbeResult};
use baton_core::script::ScriptEnv;
use baton_drivers::{run_script, ScriptSpec};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

use super::eventlog::Logger;

/// What happened to an action handed to the executor.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// The result will arrive on the channel.
    Pending,
    /// The daemon must stop with this power action.
    Power(PowerAction),
}

/// Runs actions; results go to `done`.
pub struct Executor {
    cfg: Arc<Config>,
    config_dir: PathBuf,
    done: UnboundedSender<(ActionId, ActionResult)>,
    logger: Logger,
}

#[derive(Clone, Copy)]
enum Script {
    Start,
    Stop,
}

impl Executor {
    pub fn new(
        cfg: Arc<Config>,
        config_dir: PathBuf,
        done: UnboundedSender<(ActionId, ActionResult)>,
        logger: Logger,
    ) -> Executor {
        Executor { cfg, config_dir, done, logger }
    }

    fn finish(&self, id: ActionId, result: ActionResult) -> Dispatch {
        // The loop owns the receiver for as long as it runs: a failed send means it ended.
        let _ = self.done.send((id, result));
        Dispatch::Pending
    }

    pub fn execute(&self, id: ActionId, action: Action) -> Dispatch {
        match action {
            Action::Activate { res, env } => self.resource(id, res, env, Script::Start, "activate"),
            Action::Deactivate { res, env } => self.resource(id, res, env, Script::Stop, "deactivate"),
            Action::RecoverRun { res, env } => self.resource(id, res, Some(env), Script::Start, "RECOVER run"),
            Action::MonitorCheck { .. } => self.finish(
                id,
                ActionResult::Check {
                    healthy: true,
                    detail: "not checked: monitors are not implemented in this runtime yet".to_string(),
                },
            ),
            Action::NpProbe { np } => {
                let probe = match self.cfg.nps.get(np.idx()).map(|n| &n.kind) {
                    Some(NpKind::Disk { .. }) => ProbeResult::Disk { io_ok: true, io_ms: 0, slots: Vec::new() },
                    Some(NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Majority | NpKind::Serial { .. })
                    | None => ProbeResult::Answered(true),
                };
                self.finish(id, ActionResult::Probe(probe))
            }
            Action::MirrorCopy { res, .. } => self.finish(
                id,
                ActionResult::Failed(format!(
                    "not implemented in this runtime yet: mirror copy of {}",
                    self.cfg.resource(res).name
                )),
            ),
            Action::Power(p) => Dispatch::Power(p),
        }
    }

    fn resource(&self, id: ActionId, res: ResId, env: Option<ScriptEnv>, which: Script, what: &str) -> Dispatch {
        let resource = self.cfg.resource(res);
        let kind = &resource.kind;
        match kind {
            ResourceKind::Exec { .. } => {}
            ResourceKind::FloatingIp { .. }
            | ResourceKind::VirtualIp { .. }
            | ResourceKind::Service { .. }
            | ResourceKind::Disk { .. }
            | ResourceKind::MirrorDisk(_)
            | ResourceKind::HybridDisk(_) => {
                return self.finish(
                    id,
                    ActionResult::Failed(format!(
                        "not implemented in this runtime yet: {what} of {} resource {}",
                        kind.name(),
                        resource.name
                    )),
                );
            }
        }
        let spec = match which {
            Script::Start => ScriptSpec::start_of(&self.config_dir, kind),
            Script::Stop => ScriptSpec::stop_of(&self.config_dir, kind),
        };
        let Some(spec) = spec else {
            return self.finish(id, ActionResult::Ok); // no script: nothing to run
        };
        let Some(env) = env else {
            return self.finish(id, ActionResult::Failed(format!("no script environment for {}", resource.name)));
        };
        let timeout = Duration::from_millis(resource.timeout_ms);
        let done = self.done.clone();
        let logger = self.logger.clone();
        let name = resource.name.clone();
        tokio::spawn(async move {
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
            let _ = done.send((id, outcome.action_result()));
        });
        Dispatch::Pending
    }
}
