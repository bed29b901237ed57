//! The fault kinds the explorer draws from, and what a configuration makes of them:
//! which kinds apply at all (a `serial` fault needs a serial resolver, a `write` a
//! mirror or disk resource), and which can make split brain a documented outcome.
//!
//! In: a [`Config`]. Out: [`FaultKind`] (with the names `--faults` takes) and a
//! [`ConfigFacts`] summary the schedule generator and the runner read.
//!
//! Split brain is documented (behaviour.md B36, B37, B38, B41, B43) when two live
//! servers lose each other and every resolver unit covering the pair lets both sides
//! survive: ping or http with targets both sides reach (or pre-failed ping), a serial
//! cable cut together with the networks, ping+disk on the ping rule, or no resolver.
//! Majority, disk and serial+disk units fence one side of a clean cut, so a split
//! brain where such a unit covers the pair is not documented after a partition. A cut
//! that is not transitive (a pair's path, one direction, packet loss; or any cut while
//! a disk heartbeat path still joins some servers) is another matter for a majority or
//! disk unit of three or more servers: two servers that lost each other can both still
//! hear a majority (B42) or both still hear the tie-break server (B39), and both
//! survive and take over. Such pairs are `split_prone_cut`.

use baton_core::config::{Config, NpKind, ResourceKind, ServerId};
use std::collections::BTreeMap;
use std::fmt;

/// One kind of fault. The explorer's swarm draw enables a subset per seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Power loss, the machine boots again later.
    Crash,
    /// Planned shutdown (OS shutdown or `server shutdown [--reboot]`), booted later.
    Shutdown,
    /// Every network and the serial cable split between two sides.
    Partition,
    /// Every network of one server cut; no target answers it.
    Isolate,
    /// One direction of one network between two servers.
    OneWay,
    /// A heartbeat network: a server's link, or a pair, both directions.
    HbCut,
    /// Random packet loss on a network.
    Loss,
    /// A ping/http target stops answering (everywhere or from one server).
    Target,
    /// A device's I/O fails on one server.
    DiskFail,
    /// A device's I/O becomes slow on one server.
    DiskSlow,
    /// The next activations of a resource fail on a server.
    Activation,
    /// The next deactivations of a resource fail on a server.
    Deactivation,
    /// A monitored thing becomes unhealthy on a server.
    Monitor,
    /// The cluster service freezes (shorter or longer than the watchdog limit).
    Stall,
    /// The serial cable of a serial resolver fails.
    Serial,
    /// The application writes to a mirror or shared disk.
    Write,
    /// `group move|start|stop`.
    GroupCmd,
    /// `server return`.
    Return,
    /// `monitor suspend`, resumed later.
    MonitorCmd,
    /// `cluster suspend [--force]`, resumed later.
    Suspend,
    /// Machine clocks off by less than the bound: offsets and drifts from the start,
    /// wall-clock steps during the run (drawn on their own, see `schedule::draw_clocks`).
    Clock,
    /// A core process of the cluster service dies (B130 7: stop the groups, shut
    /// down), booted later (drawn on their own, see `schedule::draw_processes`).
    KillProcess,
    /// The next OS shutdown of a server stalls until the reset of B130 6; drawn just
    /// before a shutdown or a process death of the same server (`schedule::draw_processes`).
    HangShutdown,
}

impl FaultKind {
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::Crash,
        FaultKind::Shutdown,
        FaultKind::Partition,
        FaultKind::Isolate,
        FaultKind::OneWay,
        FaultKind::HbCut,
        FaultKind::Loss,
        FaultKind::Target,
        FaultKind::DiskFail,
        FaultKind::DiskSlow,
        FaultKind::Activation,
        FaultKind::Deactivation,
        FaultKind::Monitor,
        FaultKind::Stall,
        FaultKind::Serial,
        FaultKind::Write,
        FaultKind::GroupCmd,
        FaultKind::Return,
        FaultKind::MonitorCmd,
        FaultKind::Suspend,
        FaultKind::Clock,
        FaultKind::KillProcess,
        FaultKind::HangShutdown,
    ];

    /// The name `--faults` takes and the summary prints.
    /// Kinds drawn from streams of their own, after the swarm's faults (see
    /// `schedule::draw_clocks`, `schedule::draw_processes`), so that adding them kept
    /// every other draw of a seed what it was.
    pub fn drawn_apart(self) -> bool {
        matches!(self, FaultKind::Clock | FaultKind::KillProcess | FaultKind::HangShutdown)
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Shutdown => "shutdown",
            FaultKind::Partition => "partition",
            FaultKind::Isolate => "isolate",
            FaultKind::OneWay => "one-way",
            FaultKind::HbCut => "hb-cut",
            FaultKind::Loss => "loss",
            FaultKind::Target => "target",
            FaultKind::DiskFail => "disk-fail",
            FaultKind::DiskSlow => "disk-slow",
            FaultKind::Activation => "activation",
            FaultKind::Deactivation => "deactivation",
            FaultKind::Monitor => "monitor",
            FaultKind::Stall => "stall",
            FaultKind::Serial => "serial",
            FaultKind::Write => "write",
            FaultKind::GroupCmd => "group-cmd",
            FaultKind::Return => "return",
            FaultKind::MonitorCmd => "monitor-cmd",
            FaultKind::Suspend => "suspend",
            FaultKind::Clock => "clock",
            FaultKind::KillProcess => "kill-process",
            FaultKind::HangShutdown => "hang-shutdown",
        }
    }

    pub fn from_name(text: &str) -> Option<FaultKind> {
        FaultKind::ALL.iter().copied().find(|k| k.name() == text)
    }

    /// Parses a `--faults` list (`crash,partition,loss`); `all` means every kind.
    pub fn parse_list(text: &str) -> Result<Vec<FaultKind>, String> {
        let mut out = Vec::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word == "all" {
                return Ok(FaultKind::ALL.to_vec());
            }
            match FaultKind::from_name(word) {
                Some(k) if !out.contains(&k) => out.push(k),
                Some(_) => {}
                None => {
                    let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                    return Err(format!(
                        "unknown fault kind {word:?}: use a comma list of {} (or all)",
                        names.join(", ")
                    ));
                }
            }
        }
        if out.is_empty() {
            return Err("--faults names no fault kind".into());
        }
        Ok(out)
    }

    /// Whether this kind can make two servers lose each other while both still hear a
    /// third (see the module doc): every kind that cuts only some links, and on a
    /// configuration with a disk heartbeat path, every cut.
    pub fn non_transitive(self, facts: &ConfigFacts) -> bool {
        match self {
            FaultKind::OneWay | FaultKind::HbCut | FaultKind::Loss => true,
            FaultKind::Partition | FaultKind::Isolate => facts.disk_heartbeat,
            FaultKind::Serial
            | FaultKind::Crash
            | FaultKind::Shutdown
            | FaultKind::Target
            | FaultKind::DiskFail
            | FaultKind::DiskSlow
            | FaultKind::Activation
            | FaultKind::Deactivation
            | FaultKind::Monitor
            | FaultKind::Stall
            | FaultKind::Write
            | FaultKind::GroupCmd
            | FaultKind::Return
            | FaultKind::MonitorCmd
            | FaultKind::Suspend
            | FaultKind::Clock
            | FaultKind::KillProcess
            | FaultKind::HangShutdown => false,
        }
    }

    /// Whether this kind, on this configuration, can lead to a documented split brain:
    /// it can make two live servers lose each other, on a split-prone pair (or a
    /// `split_prone_cut` pair for a non-transitive cut).
    pub fn allows_split(self, facts: &ConfigFacts) -> bool {
        self.can_split(facts)
            && (!facts.split_prone.is_empty() || (self.non_transitive(facts) && !facts.split_prone_cut.is_empty()))
    }

    /// Whether this kind can make two live servers lose each other (and so, on a
    /// split-prone pair, lead to a documented split brain).
    pub fn can_split(self, facts: &ConfigFacts) -> bool {
        match self {
            FaultKind::Partition | FaultKind::Isolate | FaultKind::OneWay | FaultKind::HbCut | FaultKind::Loss => true,
            // B38: a pure serial unit sees a silent peer when the cable fails with the networks.
            FaultKind::Serial => facts.pure_serial,
            FaultKind::Crash
            | FaultKind::Shutdown
            | FaultKind::Target
            | FaultKind::DiskFail
            | FaultKind::DiskSlow
            | FaultKind::Activation
            | FaultKind::Deactivation
            | FaultKind::Monitor
            | FaultKind::Stall
            | FaultKind::Write
            | FaultKind::GroupCmd
            | FaultKind::Return
            | FaultKind::MonitorCmd
            | FaultKind::Suspend
            | FaultKind::Clock
            | FaultKind::KillProcess
            | FaultKind::HangShutdown => false,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the explorer needs to know about a configuration, computed once.
#[derive(Clone, Debug)]
pub struct ConfigFacts {
    /// Names of the lan networks (heartbeat paths and mirror connects).
    pub networks: Vec<String>,
    /// Ping and http targets (resolvers and monitors), as scenarios write them.
    pub targets: Vec<String>,
    /// Devices with the servers that use them (a fault elsewhere does nothing).
    pub devices: Vec<(String, Vec<ServerId>)>,
    /// Mirror, hybrid and disk resources (for `write`).
    pub writable: Vec<String>,
    /// Monitors that `monitor … fail` makes sense for (every one but the user-space watchdog).
    pub monitors: Vec<(String, Vec<ServerId>)>,
    /// Every resource with the servers of its group's policy.
    pub resources: Vec<(String, Vec<ServerId>)>,
    /// A serial resolver exists.
    pub serial: bool,
    /// A serial resolver that is not paired with a disk resolver (B38's hazard).
    pub pure_serial: bool,
    /// Server pairs (a < b) that no always-fencing unit covers: split brain between
    /// them is a documented outcome of losing each other.
    pub split_prone: Vec<(ServerId, ServerId)>,
    /// Server pairs that no unit fencing one side of a non-transitive cut covers (a
    /// superset of `split_prone`, see the module doc).
    pub split_prone_cut: Vec<(ServerId, ServerId)>,
    /// A disk heartbeat path exists (a partition of the networks may leave it).
    pub disk_heartbeat: bool,
}

impl ConfigFacts {
    pub fn new(cfg: &Config) -> ConfigFacts {
        let mut networks: Vec<String> = cfg.servers.iter().flat_map(|s| s.addresses.keys().cloned()).collect();
        networks.sort();
        networks.dedup();
        let mut targets = Vec::new();
        for np in &cfg.nps {
            match &np.kind {
                NpKind::Ping { targets: t } | NpKind::Http { targets: t, .. } => targets.extend(t.iter().cloned()),
                NpKind::Disk { .. } | NpKind::Majority | NpKind::Serial { .. } => {}
            }
        }
        let mut monitors = Vec::new();
        for m in &cfg.monitors {
            match &m.kind {
                baton_core::config::MonitorKind::Ip { targets: t } => targets.extend(t.iter().cloned()),
                baton_core::config::MonitorKind::Http { url, .. } => targets.push(url.clone()),
                baton_core::config::MonitorKind::FloatingIp { .. }
                | baton_core::config::MonitorKind::Process { .. }
                | baton_core::config::MonitorKind::Exec { .. }
                | baton_core::config::MonitorKind::Disk { .. }
                | baton_core::config::MonitorKind::NicLink { .. }
                | baton_core::config::MonitorKind::MirrorDisk { .. }
                | baton_core::config::MonitorKind::MirrorConnect { .. }
                | baton_core::config::MonitorKind::UserSpace { .. } => {}
            }
            let watchdog = matches!(m.kind, baton_core::config::MonitorKind::UserSpace { .. });
            if !watchdog {
                monitors.push((m.name.clone(), m.servers.clone()));
            }
        }
        targets.sort();
        targets.dedup();
        let devices = cfg.devices();
        let mut writable = Vec::new();
        let mut resources = Vec::new();
        for r in &cfg.resources {
            resources.push((r.name.clone(), cfg.group(r.group).policy.clone()));
            match r.kind {
                ResourceKind::MirrorDisk(_) | ResourceKind::HybridDisk(_) | ResourceKind::Disk { .. } => {
                    writable.push(r.name.clone())
                }
                ResourceKind::FloatingIp { .. }
                | ResourceKind::VirtualIp { .. }
                | ResourceKind::Exec { .. }
                | ResourceKind::Service { .. } => {}
            }
        }
        let serial = cfg.nps.iter().any(|n| matches!(n.kind, NpKind::Serial { .. }));
        let units = units(cfg);
        let pure_serial = units.iter().any(|u| u.kinds == [UnitKind::Serial]);
        let prone = |transitive: bool| {
            let mut out = Vec::new();
            for a in cfg.server_ids() {
                for b in cfg.server_ids().filter(|b| *b > a) {
                    let safe = units
                        .iter()
                        .any(|u| u.servers.contains(&a) && u.servers.contains(&b) && u.fences_one_side(transitive));
                    if !safe {
                        out.push((a, b));
                    }
                }
            }
            out
        };
        let split_prone = prone(true);
        let split_prone_cut = prone(false);
        let disk_heartbeat =
            cfg.heartbeats.iter().any(|h| matches!(h.kind, baton_core::config::HeartbeatKind::Disk { .. }));
        ConfigFacts {
            networks,
            targets,
            devices,
            writable,
            monitors,
            resources,
            serial,
            pure_serial,
            split_prone,
            split_prone_cut,
            disk_heartbeat,
        }
    }

    pub fn pair_split_prone(&self, a: ServerId, b: ServerId) -> bool {
        let key = if a < b { (a, b) } else { (b, a) };
        self.split_prone.contains(&key)
    }

    /// [`pair_split_prone`](Self::pair_split_prone) for a non-transitive cut.
    pub fn pair_split_prone_cut(&self, a: ServerId, b: ServerId) -> bool {
        let key = if a < b { (a, b) } else { (b, a) };
        self.split_prone_cut.contains(&key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitKind {
    Ping,
    Http,
    Serial,
    Disk,
    Majority,
    SerialDisk,
    PingDisk,
}

struct Unit {
    servers: Vec<ServerId>,
    kinds: Vec<UnitKind>,
}

impl Unit {
    /// Whether the unit's verdicts never let both sides of a cut survive (B39 disk,
    /// B40 serial+disk, B42 majority). Ping+disk follows the ping rule unless ping was
    /// pre-failed everywhere (B41), so it does not count. For a cut that is not
    /// transitive, majority and disk units of three or more servers do not count
    /// either: both servers of the lost pair may still hear a majority (B42) or the
    /// tie-break server (B39). Two-server units have no third server to hear.
    fn fences_one_side(&self, transitive: bool) -> bool {
        let small = self.servers.len() < 3;
        self.kinds.iter().all(|k| match k {
            UnitKind::SerialDisk => true,
            UnitKind::Disk | UnitKind::Majority => transitive || small,
            UnitKind::Ping | UnitKind::Http | UnitKind::Serial | UnitKind::PingDisk => false,
        })
    }
}

/// The resolver units of B33, as `core/src/node/np.rs` forms them: resolvers with
/// identical server sets pair up as serial+disk or ping+disk, otherwise each is a unit.
fn units(cfg: &Config) -> Vec<Unit> {
    let mut by_set: BTreeMap<Vec<ServerId>, Vec<&NpKind>> = BTreeMap::new();
    for np in &cfg.nps {
        by_set.entry(np.servers.clone()).or_default().push(&np.kind);
    }
    let single = |k: &NpKind| match k {
        NpKind::Ping { .. } => UnitKind::Ping,
        NpKind::Http { .. } => UnitKind::Http,
        NpKind::Serial { .. } => UnitKind::Serial,
        NpKind::Disk { .. } => UnitKind::Disk,
        NpKind::Majority => UnitKind::Majority,
    };
    let mut out = Vec::new();
    for (servers, kinds) in by_set {
        let disk = kinds.iter().any(|k| matches!(k, NpKind::Disk { .. }));
        let serial = kinds.iter().any(|k| matches!(k, NpKind::Serial { .. }));
        let ping = kinds.iter().any(|k| matches!(k, NpKind::Ping { .. }));
        if kinds.len() == 2 && disk && serial {
            out.push(Unit { servers, kinds: vec![UnitKind::SerialDisk] });
        } else if kinds.len() == 2 && disk && ping {
            out.push(Unit { servers, kinds: vec![UnitKind::PingDisk] });
        } else {
            for k in kinds {
                out.push(Unit { servers: servers.clone(), kinds: vec![single(k)] });
            }
        }
    }
    out
}
