//! Which kinds of the configuration this daemon carries out for real: the one table
//! to update when a driver lands.
//!
//! In: a kind of resource, monitor, resolver (`[[np]]`) or heartbeat path, or a whole
//! [`Config`]. Out: its [`Support`]: a real driver, or a gap with the level it is
//! reported at and why. `baton config check` (on this machine, not `--file-only`)
//! prints every gap at the line of its `kind` key; the daemon refuses to start on an
//! [`GapLevel::Error`] gap with the same words, and logs the warnings.
//!
//! Errors are gaps that would make a group impossible to run, or run unsafely, with
//! nothing to show for it (a virtual IP nobody announces, a mirror that never comes
//! online while its monitors would report it healthy). Warnings are for gaps whose action
//! fails safe and visibly while their drivers are being written (a resolver that cannot
//! probe loses, B31); none is left today: the `disk` and `serial` resolvers and `disk`
//! heartbeats have their drivers.
//!
//! `runtime/tests/kind_support.rs` checks the table against [`super::real_drivers`]
//! both ways: a kind marked [`Support::Driver`] never reaches a "not implemented"
//! result, and a kind marked as a gap does.

use baton_core::config::{Config, HeartbeatKind, MonitorKind, NpKind, ResourceKind};

/// How a gap is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapLevel {
    /// `config check` exits 2; the daemon refuses to start.
    Error,
    /// Printed by `config check` and logged by the daemon; both go on.
    Warning,
}

/// Whether this daemon carries a kind out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Driver,
    Gap { level: GapLevel, why: &'static str },
}

/// The table: resources.
pub fn resource(kind: &ResourceKind) -> Support {
    match kind {
        ResourceKind::FloatingIp { .. }
        | ResourceKind::Exec { .. }
        | ResourceKind::Service { .. }
        | ResourceKind::Disk { .. }
        | ResourceKind::MirrorDisk(_) => Support::Driver,
        ResourceKind::VirtualIp { .. } => Support::Gap {
            level: GapLevel::Error,
            why: "not supported by this daemon: a virtual IP needs its host route announced by a routing \
                  daemon, which baton does not drive; use a floating-ip on a shared network",
        },
        ResourceKind::HybridDisk(_) => Support::Gap {
            level: GapLevel::Error,
            why: "not supported by this daemon yet: no hybrid-disk engine (the peer side's active server is \
                  not known statically), the group could never come online",
        },
    }
}

/// The table: monitors.
pub fn monitor(kind: &MonitorKind) -> Support {
    match kind {
        MonitorKind::Ip { .. }
        | MonitorKind::FloatingIp { .. }
        | MonitorKind::Process { .. }
        | MonitorKind::Exec { .. }
        | MonitorKind::Disk { .. }
        | MonitorKind::NicLink { .. }
        | MonitorKind::UserSpace { .. }
        | MonitorKind::Http { .. }
        | MonitorKind::MirrorDisk { .. }
        | MonitorKind::MirrorConnect { .. } => Support::Driver,
    }
}

/// The table: network-partition resolvers.
pub fn np(kind: &NpKind) -> Support {
    match kind {
        NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Majority | NpKind::Disk { .. } | NpKind::Serial { .. } => {
            Support::Driver
        }
    }
}

/// The table: heartbeat paths.
pub fn heartbeat(kind: &HeartbeatKind) -> Support {
    match kind {
        HeartbeatKind::Lan { .. } | HeartbeatKind::Disk { .. } => Support::Driver,
    }
}

/// One gap of a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// `resource`, `monitor`, `np`, `heartbeat`.
    pub table: &'static str,
    pub name: String,
    pub kind: &'static str,
    pub level: GapLevel,
    pub why: &'static str,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} \"{}\": kind = \"{}\" is {}", self.table, self.name, self.kind, self.why)
    }
}

/// Every gap of `cfg`, in file order by table. Implied monitors are left out: the
/// resource that implies them is reported.
pub fn gaps(cfg: &Config) -> Vec<Gap> {
    let mut out = Vec::new();
    let mut push = |table, name: &str, kind, support| {
        if let Support::Gap { level, why } = support {
            out.push(Gap { table, name: name.to_string(), kind, level, why });
        }
    };
    for h in &cfg.heartbeats {
        let kind = match &h.kind {
            HeartbeatKind::Lan { .. } => "lan",
            HeartbeatKind::Disk { .. } => "disk",
        };
        push("heartbeat", &h.name, kind, heartbeat(&h.kind));
    }
    for n in &cfg.nps {
        let kind = match &n.kind {
            NpKind::Ping { .. } => "ping",
            NpKind::Http { .. } => "http",
            NpKind::Disk { .. } => "disk",
            NpKind::Majority => "majority",
            NpKind::Serial { .. } => "serial",
        };
        push("np", &n.name, kind, np(&n.kind));
    }
    for r in &cfg.resources {
        push("resource", &r.name, r.kind.name(), resource(&r.kind));
    }
    for m in cfg.monitors.iter().filter(|m| !m.implied) {
        push("monitor", &m.name, m.kind.name(), monitor(&m.kind));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_listed_by_table_and_level() {
        let text = r#"
[cluster]
name = "c"
secret_file = "k"

[[server]]
name = "s1"
addresses = { lan1 = "10.0.0.1" }

[[server]]
name = "s2"
addresses = { lan1 = "10.0.0.2" }

[[heartbeat]]
name = "lan1"

[[heartbeat]]
name = "dhb"
kind = "disk"
device = "/dev/sdc1"

[[np]]
name = "dnp"
kind = "disk"
device = "/dev/sdc2"

[[group]]
name = "g"

[[group.resource]]
name = "vip"
kind = "virtual-ip"
address = "10.1.0.1"

[[group.resource]]
name = "d1"
kind = "disk"
device = "/dev/sdb1"
mount_point = "/mnt/d1"
"#;
        let cfg = baton_core::config::parse("t.toml", text).expect("valid").config;
        let shown: Vec<String> = gaps(&cfg).iter().map(|g| format!("{:?} {g}", g.level)).collect();
        // The disk heartbeat, the disk resolver and the disk resource have their drivers:
        // only the virtual IP is a gap.
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(shown[0].starts_with("Error resource \"vip\": kind = \"virtual-ip\" is not supported by this daemon:"));
    }
}
