//! The systemd service driver: starts and stops the unit of a `service` resource and
//! tells whether it is active.
//!
//! In: a [`ServiceSpec`] (the unit, and the `systemctl` to run: `systemctl` on `PATH`
//! normally, a stand-in in tests), made from the resource with
//! [`ServiceSpec::from_resource`], and the resource's timeout. Out: `Ok` or the reason
//! of the failure; [`action_result`] gives the core's `ActionResult`.
//!
//! * [`start`]: `systemctl start UNIT`, then `systemctl is-active --quiet UNIT`: a start
//!   job that "succeeds" for a unit that is gone again at once (a daemon dying right
//!   after its fork) fails the activation.
//! * [`stop`]: `systemctl stop UNIT`. Stopping an inactive unit succeeds (systemd's
//!   own rule, and B72's: a repeated stop does not fail).
//! * [`is_active`]: `systemctl is-active --quiet UNIT`: exit 0 active, 3 not active;
//!   anything else (no bus, no systemd) is an error. [`check`] is the same as a
//!   [`CheckOutcome`] for a monitor.
//!
//! Every `systemctl` run is bounded by the timeout (for [`start`], both runs together)
//! and killed when it runs past it; the unit itself is then in whatever state systemd
//! left it. stderr of a failed run is in the reason.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use baton_core::config::model::ResourceKind;
use baton_core::io::ActionResult;
use tokio::process::Command;
use tokio::time::Instant;

use crate::monitor::CheckOutcome;

/// `systemctl is-active`'s exit code for a unit that is not active (LSB "not running").
const NOT_ACTIVE: i32 = 3;

/// A service resource, as the driver needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The unit (`app.service`; `app` works too: systemctl adds `.service`).
    pub unit: String,
    /// The program run as `systemctl`.
    pub systemctl: PathBuf,
}

impl ServiceSpec {
    /// A spec running `systemctl` from `PATH`. The unit is checked as in
    /// [`ServiceSpec::from_resource`].
    pub fn new(unit: &str) -> Result<ServiceSpec, String> {
        let unit = unit.trim();
        if unit.is_empty() {
            return Err("empty unit name".to_string());
        }
        // A leading '-' would make the unit an option of systemctl.
        if unit.starts_with('-') || unit.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
            return Err(format!("{unit:?} is not a unit name"));
        }
        Ok(ServiceSpec { unit: unit.to_string(), systemctl: PathBuf::from("systemctl") })
    }

    /// The spec of a `service` resource.
    pub fn from_resource(kind: &ResourceKind) -> Result<ServiceSpec, String> {
        match kind {
            ResourceKind::Service { unit } => ServiceSpec::new(unit),
            ResourceKind::FloatingIp { .. }
            | ResourceKind::VirtualIp { .. }
            | ResourceKind::Exec { .. }
            | ResourceKind::Disk { .. }
            | ResourceKind::MirrorDisk(_)
            | ResourceKind::HybridDisk(_) => Err(format!("not a service resource but {}", kind.name())),
        }
    }

    /// The same unit, run through another `systemctl` (tests).
    pub fn with_systemctl(self, systemctl: impl Into<PathBuf>) -> ServiceSpec {
        ServiceSpec { systemctl: systemctl.into(), ..self }
    }
}

/// The core's view of a start or stop: `Ok`, or `Failed` with the reason.
pub fn action_result(result: &Result<(), String>) -> ActionResult {
    match result {
        Ok(()) => ActionResult::Ok,
        Err(why) => ActionResult::Failed(why.clone()),
    }
}

/// `systemctl start UNIT`, then success only if the unit is active.
pub async fn start(spec: &ServiceSpec, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let run = systemctl(spec, &["start"], deadline, timeout).await?;
    if run.code != Some(0) {
        return Err(run.failure(spec, "start"));
    }
    if is_active_until(spec, deadline, timeout).await? {
        Ok(())
    } else {
        Err(format!("{}: started, but not active afterwards", spec.unit))
    }
}

/// `systemctl stop UNIT`.
pub async fn stop(spec: &ServiceSpec, timeout: Duration) -> Result<(), String> {
    let run = systemctl(spec, &["stop"], Instant::now() + timeout, timeout).await?;
    if run.code != Some(0) {
        return Err(run.failure(spec, "stop"));
    }
    Ok(())
}

/// Whether the unit is active: `systemctl is-active --quiet UNIT`.
pub async fn is_active(spec: &ServiceSpec, timeout: Duration) -> Result<bool, String> {
    is_active_until(spec, Instant::now() + timeout, timeout).await
}

/// [`is_active`] for a monitor: healthy when active.
pub async fn check(spec: &ServiceSpec, timeout: Duration) -> CheckOutcome {
    match is_active(spec, timeout).await {
        Ok(true) => CheckOutcome::healthy(format!("{} is active", spec.unit)),
        Ok(false) => CheckOutcome::unhealthy(format!("{} is not active", spec.unit)),
        Err(why) => CheckOutcome::unhealthy(why),
    }
}

async fn is_active_until(spec: &ServiceSpec, deadline: Instant, timeout: Duration) -> Result<bool, String> {
    let run = systemctl(spec, &["is-active", "--quiet"], deadline, timeout).await?;
    match run.code {
        Some(0) => Ok(true),
        Some(NOT_ACTIVE) => Ok(false),
        Some(_) | None => Err(run.failure(spec, "is-active")),
    }
}

/// What one `systemctl` run did.
struct Run {
    code: Option<i32>,
    stderr: String,
}

impl Run {
    fn failure(&self, spec: &ServiceSpec, verb: &str) -> String {
        let how = match self.code {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_string(),
        };
        let stderr = self.stderr.trim();
        if stderr.is_empty() {
            format!("systemctl {verb} {}: {how}", spec.unit)
        } else {
            format!("systemctl {verb} {}: {how}: {stderr}", spec.unit)
        }
    }
}

/// Runs `systemctl ARGS UNIT` until `deadline`; killed past it. `timeout` is only for
/// the message.
async fn systemctl(spec: &ServiceSpec, args: &[&str], deadline: Instant, timeout: Duration) -> Result<Run, String> {
    let mut cmd = Command::new(&spec.systemctl);
    cmd.args(args).arg(&spec.unit);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // Dropping the wait (timeout) kills the child; tokio reaps it.
    cmd.kill_on_drop(true);
    let shown = format!("{} {} {}", spec.systemctl.display(), args.join(" "), spec.unit);
    let child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", spec.systemctl.display()))?;
    match tokio::time::timeout_at(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(Run { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }),
        Ok(Err(e)) => Err(format!("{shown}: waiting: {e}")),
        Err(_) => Err(format!("{shown}: timed out after {} ms; killed", timeout.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_of_service_resources() {
        let spec = ServiceSpec::from_resource(&ResourceKind::Service { unit: "app.service".into() }).expect("spec");
        assert_eq!(spec, ServiceSpec { unit: "app.service".into(), systemctl: PathBuf::from("systemctl") });
        assert_eq!(spec.clone().with_systemctl("/tmp/fake").systemctl, PathBuf::from("/tmp/fake"));
        let other = ResourceKind::VirtualIp { address: "10.0.0.1".into() };
        assert_eq!(ServiceSpec::from_resource(&other), Err("not a service resource but virtual-ip".to_string()));
        for bad in ["", " ", "--now", "a b", "../x.service"] {
            assert!(ServiceSpec::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reasons() {
        let spec = ServiceSpec::new("app.service").expect("spec");
        let run = Run { code: Some(1), stderr: "Job for app.service failed.\n".into() };
        assert_eq!(
            run.failure(&spec, "start"),
            "systemctl start app.service: exit code 1: Job for app.service failed."
        );
        let run = Run { code: None, stderr: String::new() };
        assert_eq!(run.failure(&spec, "stop"), "systemctl stop app.service: killed by a signal");
        assert_eq!(action_result(&Err("x".into())), ActionResult::Failed("x".into()));
        assert_eq!(action_result(&Ok(())), ActionResult::Ok);
    }
}
