#![cfg(not(madsim))] // RealDrivers: the madsim build has mock drivers only
//! The table of kinds this daemon carries out (`baton_runtime::daemon::kind_support`)
//! against the real drivers, both ways (issue 11 item 8): every kind of resource,
//! monitor and resolver the checker accepts either has a real driver in `RealDrivers`
//! (its action never answers "not implemented") or is a gap of the table: an error
//! gap makes `RealDrivers::new` refuse the file with the table's words, a warning gap
//! is an action that does answer "not implemented". A driver landing without the
//! table being updated, or a table entry without a driver, fails here.
//!
//! The actions run are harmless on any machine: deactivations of things that are not
//! there, checks of paths, interfaces and addresses that do not exist (TEST-NET-1).

use baton_core::config::{Config, MonId, MonitorKind, NpId, ResId, ServerId};
use baton_core::io::{Action, ActionResult};
use baton_runtime::daemon::drivers::Drivers;
use baton_runtime::daemon::eventlog::Logger;
use baton_runtime::daemon::kind_support::{self, GapLevel, Support};
use baton_runtime::daemon::mirror::MirrorSetup;
use baton_runtime::daemon::real_drivers::RealDrivers;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every accepted kind of resource, monitor and resolver that the daemon runs with.
const EVERY_RUNNABLE_KIND: &str = r#"
[cluster]
name = "kinds"
insecure = true

[[server]]
name = "s1"
addresses = { lan1 = "192.0.2.1" }

[[server]]
name = "s2"
addresses = { lan1 = "192.0.2.2" }

[[server]]
name = "s3"
addresses = { lan1 = "192.0.2.3" }

[[heartbeat]]
name = "lan1"

[[heartbeat]]
name = "dhb"
kind = "disk"
device = "/dev/baton-no-such-disk"

[[np]]
name = "ping1"
kind = "ping"
targets = ["192.0.2.250"]
timeout = "300ms"

[[np]]
name = "http1"
kind = "http"
targets = ["http://127.0.0.1:1/"]
timeout = "300ms"

[[np]]
name = "disk1"
kind = "disk"
device = "/dev/baton-no-such-disk"
timeout = "300ms"

[[np]]
name = "maj1"
kind = "majority"

[[np]]
name = "com1"
kind = "serial"
device = "/dev/baton-no-such-tty"
servers = ["s1", "s2"]
timeout = "300ms"

[[group]]
name = "g1"

[[group.resource]]
name = "fip1"
kind = "floating-ip"
address = "192.0.2.77/24"

[[group.resource]]
name = "d1"
kind = "disk"
device = "/dev/baton-no-such-disk"
mount_point = "/nonexistent/baton-mnt"

[[group.resource]]
name = "app"
kind = "exec"

[[group.resource]]
name = "svc"
kind = "service"
unit = "baton-no-such-unit.service"

[[group]]
name = "g2"
servers = ["s1", "s2"]

[[group.resource]]
name = "md1"
kind = "mirror-disk"
data = { s1 = "/dev/baton-no-such-disk", s2 = "/dev/baton-no-such-disk" }
metadata = { s1 = "/dev/baton-no-such-meta", s2 = "/dev/baton-no-such-meta" }
mount_point = "/nonexistent/baton-md1"
fs_type = "ext4"
network = "lan1"

[[monitor]]
name = "ipw"
kind = "ip"
targets = ["192.0.2.250"]
timeout = "300ms"
recovery_target = "g1"

[[monitor]]
name = "procw"
kind = "process"
pidfile = "/nonexistent/app.pid"
recovery_target = "g1"

[[monitor]]
name = "execw"
kind = "exec"
command = "/nonexistent/check.sh"
recovery_target = "g1"

[[monitor]]
name = "nicw"
kind = "nic-link"
interface = "baton-nonic"
recovery_target = "g1"

[[monitor]]
name = "httpw"
kind = "http"
url = "http://127.0.0.1:1/"
timeout = "300ms"
recovery_target = "g1"
"#;

const VIRTUAL_IP: &str = r#"
[cluster]
name = "vip"
insecure = true

[[server]]
name = "s1"
addresses = { lan1 = "192.0.2.1" }

[[heartbeat]]
name = "lan1"

[[group]]
name = "g1"

[[group.resource]]
name = "vip1"
kind = "virtual-ip"
address = "198.51.100.7"
"#;

fn parse(name: &str, text: &str) -> Arc<Config> {
    match baton_core::config::parse(name, text) {
        Ok(c) => Arc::new(c.config),
        Err(e) => panic!("{name} refused: {e:?}"),
    }
}

fn drivers(cfg: &Arc<Config>) -> Result<RealDrivers, String> {
    RealDrivers::new(
        Arc::clone(cfg),
        ServerId(0),
        PathBuf::from("/nonexistent"),
        Logger::new("s1"),
        baton_drivers::disk_slot::SlotKey::new([0; 32]),
        baton_drivers::serial_line::LineKey::new([0; 32]),
    )?
    // No engine runs (supervision starts at service start, not called here): the
    // mirror's actions answer that, never "not implemented".
    .with_mirrors(MirrorSetup {
        state_dir: PathBuf::from("/nonexistent/state"),
        config_file: PathBuf::from("/nonexistent/kinds.toml"),
        program: PathBuf::from("/nonexistent/baton"),
    })
}

fn not_implemented(result: &ActionResult) -> bool {
    let text = match result {
        ActionResult::Failed(why) => why.clone(),
        ActionResult::Check { detail, .. } => detail.clone(),
        other @ (ActionResult::Ok | ActionResult::Probe(_)) => format!("{other:?}"),
    };
    text.contains("not implemented") || text.contains("checked outside the monitor driver")
}

async fn run(d: &RealDrivers, action: Action) -> ActionResult {
    let (future, _) = d.run(action);
    future.await
}

#[tokio::test]
async fn every_accepted_kind_has_a_driver_or_is_a_gap_of_the_table() {
    let cfg = parse("kinds.toml", EVERY_RUNNABLE_KIND);
    let d = drivers(&cfg).expect("the daemon runs every kind of this file");
    let mut seen = BTreeSet::new();

    for (i, r) in cfg.resources.iter().enumerate() {
        seen.insert(format!("resource {}", r.kind.name()));
        let result = run(&d, Action::Deactivate { res: ResId(i as u16), env: None }).await;
        assert_eq!(kind_support::resource(&r.kind), Support::Driver, "resource {}", r.name);
        assert!(!not_implemented(&result), "resource {} ({}): {result:?}", r.name, r.kind.name());
    }
    for (i, m) in cfg.monitors.iter().enumerate() {
        seen.insert(format!("monitor {}", m.kind.name()));
        if matches!(m.kind, MonitorKind::UserSpace { .. }) {
            // Its check is the daemon's watchdog thread (B87), not an action.
            assert_eq!(kind_support::monitor(&m.kind), Support::Driver);
            continue;
        }
        let result = run(&d, Action::MonitorCheck { mon: MonId(i as u16) }).await;
        assert_eq!(kind_support::monitor(&m.kind), Support::Driver, "monitor {}", m.name);
        assert!(!not_implemented(&result), "monitor {} ({}): {result:?}", m.name, m.kind.name());
    }
    for (i, n) in cfg.nps.iter().enumerate() {
        let result = run(&d, Action::NpProbe { np: NpId(i as u16) }).await;
        let kind = format!("{:?}", n.kind);
        seen.insert(format!("np {}", kind.split([' ', '{']).next().unwrap_or_default()));
        match kind_support::np(&n.kind) {
            Support::Driver => assert!(!not_implemented(&result), "np {}: {result:?}", n.name),
            Support::Gap { level, .. } => {
                assert_eq!(level, GapLevel::Warning, "np {}", n.name);
                assert!(not_implemented(&result), "np {} has a driver now: update kind_support: {result:?}", n.name);
            }
        }
    }
    // What the file covers: 5 of 7 resource kinds (virtual-ip and hybrid-disk are error
    // gaps, below), every monitor kind (the mirror's two implied), every resolver kind.
    let count = |prefix: &str| seen.iter().filter(|s| s.starts_with(prefix)).count();
    assert_eq!((count("resource "), count("monitor "), count("np ")), (5, 10, 5), "{seen:#?}");
}

#[tokio::test]
async fn error_gaps_are_refused_by_the_daemon_with_the_tables_words() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        ("vip.toml".to_string(), VIRTUAL_IP.to_string(), "vip1", "virtual-ip"),
        (
            "3node-hybrid.toml".to_string(),
            std::fs::read_to_string(root.join("examples/configs/3node-hybrid.toml")).expect("example"),
            "hd1",
            "hybrid-disk",
        ),
    ];
    for (name, text, resource, kind) in files {
        let cfg = parse(&name, &text);
        let r = cfg.resources.iter().find(|r| r.name == resource).expect("resource");
        let Support::Gap { level: GapLevel::Error, why } = kind_support::resource(&r.kind) else {
            panic!("{kind} is not an error gap any more: update this test")
        };
        let err = drivers(&cfg).err().unwrap_or_else(|| panic!("{name}: the daemon accepted {kind}"));
        assert!(err.contains(&format!("resource \"{resource}\": kind = \"{kind}\" is {why}")), "{name}: {err}");
        // The mirror monitors have their driver; the hybrid resource is what is refused.
        for m in cfg.monitors.iter().filter(|m| m.kind.name().starts_with("mirror-")) {
            assert_eq!(kind_support::monitor(&m.kind), Support::Driver);
        }
    }
}
