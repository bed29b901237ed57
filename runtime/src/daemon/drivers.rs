//! The seam between the daemon and the machine: what the core's `Execute` outputs do.
//!
//! In: an action id and a [`baton_core::io::Action`] from the node. Out: a [`Dispatch`]
//! (the result will come back on the executor's channel as `(id, ActionResult)`, fed
//! to the node as `Input::ActionDone`; or the action is a power action, which the
//! daemon loop carries out itself because it ends the run).
//!
//! [`Drivers`] is the trait the loop talks to. Production uses
//! [`super::real_drivers::RealDrivers`] (scripts, addresses, systemd units, monitors and
//! probes on this machine); tests and the madsim world use
//! [`super::mock_drivers::MockDrivers`] (a shared model of the machines, no side effect).
//! The [`Executor`] runs every non-power action of either on its own task, so a slow
//! driver never blocks the loop, and bounds it by the action's own timeout as a last
//! resort (the drivers apply it themselves; the core also has its own timer).

use baton_core::io::{Action, ActionId, ActionResult, PowerAction};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A driver's answer, some time later.
pub type DriverFuture = Pin<Box<dyn Future<Output = ActionResult> + Send + 'static>>;
/// A future with no answer (release on fencing).
pub type UnitFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What carries out the node's actions on this server.
pub trait Drivers: Send + Sync + 'static {
    /// Starts `action` (never a power action) and returns its eventual result, with the
    /// time bound the driver applies (`None`: the driver has no bound of its own).
    fn run(&self, action: Action) -> (DriverFuture, Option<Duration>);

    /// A powered-off server holds nothing: drop every address this server may hold and
    /// stop what runs, at once (the `--fence=exit` mode and the last step before a real
    /// power action, so a frozen kernel cannot keep answering for a floating IP).
    fn release_all(&self) -> UnitFuture;

    /// Once, before the node boots: put this server's side of shared resources in their
    /// offline state (the `disk` resources' read-only flag: nothing is online at start).
    /// Failures are logged by the drivers; the daemon starts anyway.
    fn service_start(&self) -> UnitFuture {
        Box::pin(async {})
    }

    /// Inputs the drivers observe on their own (a mirror engine's connect networks,
    /// writes after a break, disk errors, death), taken once by the loop before the
    /// node boots. `None`: these drivers have none.
    fn take_inputs(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<baton_core::io::Input>> {
        None
    }
}

/// What happened to an action handed to the executor.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// The result will arrive on the channel.
    Pending,
    /// The daemon must stop with this power action.
    Power(PowerAction),
}

/// Slack over a driver's own bound before the executor gives up on it.
const EXECUTOR_SLACK: Duration = Duration::from_secs(5);

/// Runs actions through a [`Drivers`]; results go to `done`.
pub struct Executor {
    drivers: Arc<dyn Drivers>,
    done: UnboundedSender<(ActionId, ActionResult)>,
}

impl Executor {
    pub fn new(drivers: Arc<dyn Drivers>, done: UnboundedSender<(ActionId, ActionResult)>) -> Executor {
        Executor { drivers, done }
    }

    pub fn drivers(&self) -> &Arc<dyn Drivers> {
        &self.drivers
    }

    pub fn execute(&self, id: ActionId, action: Action) -> Dispatch {
        let power = match &action {
            Action::Power(p) => Some(*p),
            Action::Activate { .. }
            | Action::Deactivate { .. }
            | Action::RecoverRun { .. }
            | Action::NpProbe { .. }
            | Action::AddressProbe { .. }
            | Action::MonitorCheck { .. }
            | Action::MirrorCopy { .. } => None,
        };
        if let Some(p) = power {
            return Dispatch::Power(p);
        }
        let (future, bound) = self.drivers.run(action);
        let done = self.done.clone();
        tokio::spawn(async move {
            let result = match bound {
                Some(limit) => match tokio::time::timeout(limit + EXECUTOR_SLACK, future).await {
                    Ok(r) => r,
                    Err(_) => ActionResult::Failed(format!(
                        "the driver did not answer within {} ms (its own bound was {} ms)",
                        (limit + EXECUTOR_SLACK).as_millis(),
                        limit.as_millis()
                    )),
                },
                None => future.await,
            };
            // The loop owns the receiver for as long as it runs: a failed send means it ended.
            let _ = done.send((id, result));
        });
        Dispatch::Pending
    }
}
