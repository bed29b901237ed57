//! The monitors' checks (B80–B82): one check of one monitor, as the runtime runs it for
//! the core's `Action::MonitorCheck { mon }`.
//!
//! In: a [`MonitorSpec`], made once from the configuration with
//! [`MonitorSpec::from_config`] (target addresses parsed, script paths resolved, URLs
//! checked), and the monitor's `timeout`. Out: a [`CheckOutcome`]: healthy or not, and a
//! short reason for the log (`"10.0.0.254: no echo reply within 1000 ms"`);
//! [`CheckOutcome::action_result`] gives the core's `ActionResult`. The counting of
//! failures (`retries`), recovery and final actions are the core's (B81, B83): a check
//! only looks once.
//!
//! [`check`] never panics and never fails: a missing file, a refused socket, a timeout
//! are unhealthy outcomes. Every check ends within its timeout, except `exec`, whose
//! script is then killed with its process group (up to [`ScriptSpec::kill_grace`] more).
//!
//! Kinds checked elsewhere give no spec (`Ok(None)`): `user-space` is the daemon's own
//! watchdog (B87); `mirror-disk` and `mirror-connect` belong to the mirror driver.

mod disk;
mod ip;
mod link;
mod process;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_core::config::model::{Config, MonId, MonitorKind};
use baton_core::io::ActionResult;

use crate::exec::{resolve, run_check_script, ScriptSpec};
use crate::floating_ip::FloatingIpSpec;
use crate::http::{HttpTarget, Method};

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub healthy: bool,
    /// A short human reason: what was seen (healthy) or what failed (unhealthy).
    pub detail: String,
}

impl CheckOutcome {
    pub fn healthy(detail: impl Into<String>) -> CheckOutcome {
        CheckOutcome { healthy: true, detail: detail.into() }
    }

    pub fn unhealthy(detail: impl Into<String>) -> CheckOutcome {
        CheckOutcome { healthy: false, detail: detail.into() }
    }

    /// The core's view: `Ok`, or `Failed` with the detail as reason.
    pub fn action_result(&self) -> ActionResult {
        if self.healthy {
            ActionResult::Ok
        } else {
            ActionResult::Failed(self.detail.clone())
        }
    }
}

/// What one monitor checks, with every value of the configuration parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorSpec {
    /// ICMP echo to each target; healthy when any answers.
    Ip { targets: Vec<IpAddr> },
    /// The floating address is on this server, on an interface whose link is up.
    FloatingIp(FloatingIpSpec),
    /// The process of the pid file is alive (not a zombie); or some process has this
    /// name; both given: the pid file's process has this name.
    Process { pidfile: Option<PathBuf>, process_name: Option<String> },
    /// The command (resolved) exits 0 within the timeout.
    Exec { spec: ScriptSpec },
    /// `io_size_bytes` read from a file or device; for a directory (a mount point),
    /// written to a scratch file in it, fsynced, read back. With `device` (the disk
    /// resource whose mount point holds `path`), `path` must be on that device's file
    /// system: an unmounted disk leaves a bare mount point that would pass otherwise.
    Disk { path: PathBuf, io_size_bytes: u64, device: Option<PathBuf> },
    /// The interface exists and its link is up.
    NicLink { interface: String },
    /// A GET answered with 2xx or 3xx.
    Http { target: HttpTarget },
}

impl MonitorSpec {
    /// The spec of monitor `mon`: `Ok(None)` for kinds checked elsewhere (`user-space`,
    /// `mirror-disk`, `mirror-connect`), `Err` for a value that cannot be checked (a
    /// target that is not an IP address, an unreadable `ca_file`). Relative paths (`command`,
    /// `pidfile`) are taken from `config_dir`, as exec scripts are.
    pub fn from_config(cfg: &Config, config_dir: &Path, mon: MonId) -> Result<Option<MonitorSpec>, String> {
        let m = cfg.monitors.get(mon.idx()).ok_or_else(|| format!("no monitor #{}", mon.0))?;
        let label = |why: String| format!("monitor {:?}: {why}", m.name);
        let spec = match &m.kind {
            MonitorKind::Ip { targets } => {
                let targets = targets
                    .iter()
                    .map(|t| {
                        t.trim().parse::<IpAddr>().map_err(|_| label(format!("target {t:?} is not an IP address")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if targets.is_empty() {
                    return Err(label("no targets".to_string()));
                }
                MonitorSpec::Ip { targets }
            }
            MonitorKind::FloatingIp { resource } => {
                let r =
                    cfg.resources.get(resource.idx()).ok_or_else(|| label(format!("no resource #{}", resource.0)))?;
                let spec =
                    FloatingIpSpec::from_resource(&r.kind).map_err(|e| label(format!("resource {:?}: {e}", r.name)))?;
                MonitorSpec::FloatingIp(spec)
            }
            MonitorKind::Process { pidfile, process_name } => {
                if pidfile.is_none() && process_name.is_none() {
                    return Err(label("a process monitor needs `pidfile` or `process_name`".to_string()));
                }
                MonitorSpec::Process {
                    pidfile: pidfile.as_deref().map(|p| resolve(config_dir, p)),
                    process_name: process_name.clone(),
                }
            }
            MonitorKind::Exec { command } => {
                if command.trim().is_empty() {
                    return Err(label("empty `command`".to_string()));
                }
                // Output captured: its last line makes the reason of a failed check.
                MonitorSpec::Exec { spec: ScriptSpec::new(resolve(config_dir, command), BTreeMap::new(), true) }
            }
            MonitorKind::Disk { path, io_size, device } => MonitorSpec::Disk {
                path: PathBuf::from(path),
                io_size_bytes: *io_size,
                device: device.as_deref().map(PathBuf::from),
            },
            MonitorKind::NicLink { interface } => MonitorSpec::NicLink { interface: interface.clone() },
            MonitorKind::Http { url, ca_file } => {
                let ca_file = ca_file.as_deref().map(|f| resolve(config_dir, f));
                MonitorSpec::Http { target: HttpTarget::new(url, ca_file.as_deref()).map_err(label)? }
            }
            MonitorKind::MirrorDisk { .. } | MonitorKind::MirrorConnect { .. } | MonitorKind::UserSpace { .. } => {
                return Ok(None)
            }
        };
        Ok(Some(spec))
    }

    /// The kind name as written in the configuration.
    pub fn kind_name(&self) -> &'static str {
        match self {
            MonitorSpec::Ip { .. } => "ip",
            MonitorSpec::FloatingIp(_) => "floating-ip",
            MonitorSpec::Process { .. } => "process",
            MonitorSpec::Exec { .. } => "exec",
            MonitorSpec::Disk { .. } => "disk",
            MonitorSpec::NicLink { .. } => "nic-link",
            MonitorSpec::Http { .. } => "http",
        }
    }
}

/// One check. Never panics; every failure is an unhealthy outcome.
pub async fn check(spec: &MonitorSpec, timeout: Duration) -> CheckOutcome {
    match spec {
        MonitorSpec::Ip { targets } => ip::check(targets, timeout).await,
        MonitorSpec::FloatingIp(fip) => bounded(timeout, link::floating_ip(fip)).await,
        MonitorSpec::Process { pidfile, process_name } => {
            process::check(pidfile.clone(), process_name.clone(), timeout).await
        }
        // Not bounded from outside: cutting the run short would leave the script running;
        // the exec driver kills it with its group at the timeout.
        MonitorSpec::Exec { spec } => check_exec(spec, timeout).await,
        MonitorSpec::Disk { path, io_size_bytes, device } => {
            disk::check(path, *io_size_bytes, device.as_deref(), timeout).await
        }
        MonitorSpec::NicLink { interface } => bounded(timeout, link::nic_link(interface)).await,
        MonitorSpec::Http { target } => check_http(target, timeout).await,
    }
}

/// `check` cut off at `timeout` (dropping it cancels it: no process or thread is left).
async fn bounded(timeout: Duration, check: impl std::future::Future<Output = CheckOutcome>) -> CheckOutcome {
    match tokio::time::timeout(timeout, check).await {
        Ok(outcome) => outcome,
        Err(_) => CheckOutcome::unhealthy(format!("no result within {} ms", timeout.as_millis())),
    }
}

async fn check_exec(spec: &ScriptSpec, timeout: Duration) -> CheckOutcome {
    let outcome = run_check_script(spec, timeout).await;
    match outcome.failure_reason() {
        None => CheckOutcome::healthy(format!("{}: exit code 0", spec.path.display())),
        Some(reason) => {
            let last = outcome.output.iter().rev().find(|l| !l.trim().is_empty());
            match last {
                Some(line) => CheckOutcome::unhealthy(format!("{}: {reason}: {}", spec.path.display(), line.trim())),
                None => CheckOutcome::unhealthy(format!("{}: {reason}", spec.path.display())),
            }
        }
    }
}

async fn check_http(url: &HttpTarget, timeout: Duration) -> CheckOutcome {
    match url.request(Method::Get, timeout).await {
        Ok(r) if r.is_success_or_redirect() => CheckOutcome::healthy(format!("{url}: {} {}", r.status, r.reason)),
        Ok(r) => CheckOutcome::unhealthy(format!("{url}: {} {}", r.status, r.reason)),
        Err(why) => CheckOutcome::unhealthy(format!("{url}: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const CONFIG: &str = r#"
[cluster]
name = "c1"

[[server]]
name = "s1"
addresses = { lan1 = "10.0.0.1" }

[[server]]
name = "s2"
addresses = { lan1 = "10.0.0.2" }

[[heartbeat]]
name = "hb1"
kind = "lan"
network = "lan1"

[[np]]
name = "np1"
kind = "ping"
targets = ["10.0.0.254"]

[[group]]
name = "g1"
servers = ["s1", "s2"]

[[group.resource]]
name = "fip1"
kind = "floating-ip"
address = "10.0.0.12/24"

[[group.resource]]
name = "app"
kind = "service"
unit = "app.service"

[[monitor]]
name = "ipw"
kind = "ip"
targets = ["10.0.0.254", "10.0.0.253"]
recovery_target = "g1"

[[monitor]]
name = "procw"
kind = "process"
pidfile = "run/app.pid"
recovery_target = "app"

[[monitor]]
name = "execw"
kind = "exec"
command = "check.sh"
recovery_target = "app"

[[monitor]]
name = "diskw"
kind = "disk"
path = "/var/lib/app"
io_size = 4096
recovery_target = "g1"

[[monitor]]
name = "nicw"
kind = "nic-link"
interface = "eth0"
recovery_target = "g1"

[[monitor]]
name = "httpw"
kind = "http"
url = "http://10.0.0.12:8080/health"
recovery_target = "g1"

[[monitor]]
name = "httpsw"
kind = "http"
url = "https://10.0.0.12/health"
recovery_target = "g1"

[[monitor]]
name = "httpsca"
kind = "http"
url = "https://10.0.0.12/health"
ca_file = "pki/ca.pem"
recovery_target = "g1"
"#;

    fn config() -> Config {
        match baton_core::config::parse("monitors.toml", CONFIG) {
            Ok(checked) => checked.config,
            Err(e) => panic!("test configuration refused: {e:?}"),
        }
    }

    fn spec_of(cfg: &Config, name: &str) -> Result<Option<MonitorSpec>, String> {
        let at = cfg.monitors.iter().position(|m| m.name == name).unwrap_or_else(|| panic!("no monitor {name}"));
        MonitorSpec::from_config(cfg, Path::new("/etc/baton"), MonId(at as u16))
    }

    #[test]
    fn specs_from_the_configuration() {
        let cfg = config();
        let ip = |a: [u8; 4]| IpAddr::V4(Ipv4Addr::from(a));
        assert_eq!(
            spec_of(&cfg, "ipw"),
            Ok(Some(MonitorSpec::Ip { targets: vec![ip([10, 0, 0, 254]), ip([10, 0, 0, 253])] }))
        );
        assert_eq!(
            spec_of(&cfg, "procw"),
            Ok(Some(MonitorSpec::Process {
                pidfile: Some(PathBuf::from("/etc/baton/run/app.pid")),
                process_name: None
            }))
        );
        match spec_of(&cfg, "execw") {
            Ok(Some(MonitorSpec::Exec { spec })) => {
                assert_eq!(spec.path, PathBuf::from("/etc/baton/check.sh"));
                assert!(spec.extra_env.is_empty());
            }
            other => panic!("execw: {other:?}"),
        }
        assert_eq!(
            spec_of(&cfg, "diskw"),
            Ok(Some(MonitorSpec::Disk { path: PathBuf::from("/var/lib/app"), io_size_bytes: 4096, device: None }))
        );
        assert_eq!(spec_of(&cfg, "nicw"), Ok(Some(MonitorSpec::NicLink { interface: "eth0".into() })));
        match spec_of(&cfg, "httpw") {
            Ok(Some(MonitorSpec::Http { target })) => assert_eq!(target.url(), "http://10.0.0.12:8080/health"),
            other => panic!("httpw: {other:?}"),
        }
        match spec_of(&cfg, "httpsw") {
            Ok(Some(MonitorSpec::Http { target })) => assert_eq!(target.url(), "https://10.0.0.12/health"),
            other => panic!("httpsw: {other:?}"),
        }
        // The CA file is taken from the configuration's directory, and read at start.
        let err = spec_of(&cfg, "httpsca").unwrap_err();
        assert!(
            err.starts_with("monitor \"httpsca\": ") && err.contains("cannot read the CA file /etc/baton/pki/ca.pem"),
            "{err}"
        );
        // Implied: fip1-fipw (floating-ip) and userw (user-space).
        match spec_of(&cfg, "fip1-fipw") {
            Ok(Some(MonitorSpec::FloatingIp(f))) => {
                assert_eq!((f.address, f.prefix_len), (Ipv4Addr::new(10, 0, 0, 12), 24));
            }
            other => panic!("fip1-fipw: {other:?}"),
        }
        assert_eq!(spec_of(&cfg, "userw"), Ok(None));
        assert!(MonitorSpec::from_config(&cfg, Path::new("/"), MonId(999)).is_err());
    }

    #[test]
    fn bad_ip_targets_are_refused() {
        let mut cfg = config();
        let at = cfg.monitors.iter().position(|m| m.name == "ipw").expect("ipw");
        cfg.monitors[at].kind = MonitorKind::Ip { targets: vec!["10.0.0.1".into(), "gateway".into()] };
        let err = MonitorSpec::from_config(&cfg, Path::new("/"), MonId(at as u16)).unwrap_err();
        assert_eq!(err, "monitor \"ipw\": target \"gateway\" is not an IP address");
    }

    #[test]
    fn outcomes_map_to_action_results() {
        assert_eq!(CheckOutcome::healthy("fine").action_result(), ActionResult::Ok);
        assert_eq!(CheckOutcome::unhealthy("gone").action_result(), ActionResult::Failed("gone".into()));
    }
}
