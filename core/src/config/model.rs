//! The resolved cluster configuration: what `config::parse` produces from a cluster
//! file once every default is filled in and every rule of `config.md` / behaviour.md
//! B131 has been checked.
//!
//! In: nothing (plain data). Out: the typed model every other module reads. Every
//! cross reference is an index (`ServerId`, `GroupId`, …) into the vectors of
//! [`Config`], so the core never looks names up on a hot path. Durations are whole
//! milliseconds, with the unit last in every field name.

use serde::Serialize;
use std::collections::BTreeMap;

/// A duration or instant in milliseconds. Simulated and real time both use it.
pub type Ms = u64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
        pub struct $name(pub u16);
        impl $name {
            /// The index into the matching vector of [`Config`].
            #[inline]
            pub fn idx(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A server, by its position in the file (0 = master server, highest priority).
    ServerId
);
id_type!(
    /// A failover group, by file order.
    GroupId
);
id_type!(
    /// A resource, by file order across all groups.
    ResId
);
id_type!(
    /// A monitor: explicit ones in file order, then the implied ones (B88).
    MonId
);
id_type!(
    /// A network-partition resolver (`[[np]]`), by file order.
    NpId
);
id_type!(
    /// A heartbeat path, by file order.
    PathId
);
id_type!(
    /// A server group, by file order.
    SgId
);

/// The whole cluster file, resolved.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub cluster: Cluster,
    pub servers: Vec<Server>,
    pub server_groups: Vec<ServerGroup>,
    pub heartbeats: Vec<Heartbeat>,
    pub nps: Vec<Np>,
    pub groups: Vec<Group>,
    /// Every resource of every group, in file order.
    pub resources: Vec<Resource>,
    /// Explicit monitors in file order, then the implied ones (B88).
    pub monitors: Vec<Monitor>,
    /// The HTTP endpoint's addresses and the alerts (issue 13; read by the runtime only).
    pub observe: super::observe::Observe,
    /// The checker's warnings (B133), emitted as `config-warning` at service start.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cluster {
    pub name: String,
    pub heartbeat_interval_ms: Ms,
    pub heartbeat_timeout_ms: Ms,
    pub sync_wait_ms: Ms,
    pub auto_return: bool,
    pub failover_count_scope: CountScope,
    pub np_action: NpAction,
    pub counter_reset_after_ms: Ms,
    pub secret_file: Option<String>,
    pub insecure: bool,
    pub port: u16,
    pub web_port: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountScope {
    Server,
    Cluster,
}

/// What a server that loses network-partition resolution does (B45).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NpAction {
    EmergencyShutdown,
    EmergencyReboot,
    StopService,
    Panic,
}

#[derive(Clone, Debug, Serialize)]
pub struct Server {
    pub name: String,
    /// Network name → address on that network.
    pub addresses: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerGroup {
    pub name: String,
    pub servers: Vec<ServerId>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Heartbeat {
    pub name: String,
    pub kind: HeartbeatKind,
    /// Lower is preferred for cluster messages (B12).
    pub priority: u32,
    pub servers: Vec<ServerId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HeartbeatKind {
    /// UDP over the named network of `server.addresses`.
    Lan { network: String },
    /// A slot per server on a shared partition.
    Disk { device: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct Np {
    pub name: String,
    pub kind: NpKind,
    pub interval_ms: Ms,
    pub timeout_ms: Ms,
    pub retries: u32,
    pub servers: Vec<ServerId>,
    /// `network` of a ping/http resolver: the network its targets are reached over
    /// (otherwise found from their addresses, `targets.rs`).
    pub network: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NpKind {
    Ping {
        targets: Vec<String>,
    },
    /// `ca_file`: a PEM file whose certificates alone are trusted for `https://`
    /// targets (instead of the system's store).
    Http {
        targets: Vec<String>,
        ca_file: Option<String>,
    },
    Disk {
        device: String,
        io_wait_ms: Ms,
    },
    Majority,
    /// `device`: the tty of the null-modem cable, the same path on both servers, or
    /// (extension) a table naming each server's own (`{ server1 = "/dev/ttyS0", … }`).
    Serial {
        device: String,
        /// Per-server devices, in the resolver's server order; empty when `device` is one
        /// path for both.
        device_of: Vec<(ServerId, String)>,
    },
}

impl NpKind {
    /// The serial line's device on `server` (a `serial` resolver's own, else "").
    pub fn serial_device(&self, server: ServerId) -> &str {
        match self {
            NpKind::Serial { device, device_of } => {
                device_of.iter().find(|(s, _)| *s == server).map_or(device.as_str(), |(_, d)| d.as_str())
            }
            NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Disk { .. } | NpKind::Majority => "",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Startup {
    Auto,
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverMode {
    Auto,
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failback {
    Auto,
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverTarget {
    Priority,
    Stable,
}

#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub name: String,
    /// The failover policy: `servers`, or `server_groups` expanded (B0 "Policy").
    pub policy: Vec<ServerId>,
    /// Set when the policy came from `server_groups`.
    pub server_groups: Option<Vec<SgId>>,
    pub startup: Startup,
    pub failover: FailoverMode,
    pub failback: Failback,
    pub failover_target: FailoverTarget,
    pub exclusive: bool,
    pub start_after: Vec<GroupId>,
    /// The group's resources in file order.
    pub resources: Vec<ResId>,
}

/// Final actions of resources and monitors (config.md, B71, B83).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalAction {
    None,
    Ignore,
    StopGroup,
    StopService,
    StopServiceAndShutdown,
    StopServiceAndReboot,
    EmergencyShutdown,
    EmergencyReboot,
    Panic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ActivationPolicy {
    pub retries: u32,
    pub failovers: u32,
    pub final_action: FinalAction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DeactivationPolicy {
    pub retries: u32,
    pub final_action: FinalAction,
}

#[derive(Clone, Debug, Serialize)]
pub struct Resource {
    pub name: String,
    pub group: GroupId,
    pub kind: ResourceKind,
    /// Resolved dependencies (explicit `depends_on`, else the class default of B62).
    pub depends_on: Vec<ResId>,
    pub activation: ActivationPolicy,
    pub deactivation: DeactivationPolicy,
    pub timeout_ms: Ms,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ResourceKind {
    FloatingIp {
        /// `"10.0.0.12/24"`.
        address: String,
        interface: Option<String>,
        arp_count: u32,
        /// The duplicate-address probe: the address is added once no host answered for
        /// it during this long (B44; extension of config.md `probe_window`).
        probe_window_ms: Ms,
    },
    VirtualIp {
        address: String,
    },
    Exec {
        /// Paths as written (relative to the config file).
        start: Option<String>,
        stop: Option<String>,
        env: BTreeMap<String, String>,
        log: bool,
    },
    Service {
        unit: String,
    },
    Disk {
        device: String,
        mount_point: String,
        fs_type: String,
        mount_options: Option<String>,
        fsck: bool,
    },
    MirrorDisk(Mirror),
    HybridDisk(Mirror),
}

impl ResourceKind {
    /// The class of B62: 1 addresses, 2 disks, 3 applications.
    pub fn order_class(&self) -> u8 {
        match self {
            ResourceKind::FloatingIp { .. } | ResourceKind::VirtualIp { .. } => 1,
            ResourceKind::Disk { .. } | ResourceKind::MirrorDisk(_) | ResourceKind::HybridDisk(_) => 2,
            ResourceKind::Exec { .. } | ResourceKind::Service { .. } => 3,
        }
    }

    /// The kind name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            ResourceKind::FloatingIp { .. } => "floating-ip",
            ResourceKind::VirtualIp { .. } => "virtual-ip",
            ResourceKind::Exec { .. } => "exec",
            ResourceKind::Service { .. } => "service",
            ResourceKind::Disk { .. } => "disk",
            ResourceKind::MirrorDisk(_) => "mirror-disk",
            ResourceKind::HybridDisk(_) => "hybrid-disk",
        }
    }

    /// The mirror description of a mirror or hybrid disk.
    pub fn mirror(&self) -> Option<&Mirror> {
        match self {
            ResourceKind::MirrorDisk(m) | ResourceKind::HybridDisk(m) => Some(m),
            ResourceKind::FloatingIp { .. }
            | ResourceKind::VirtualIp { .. }
            | ResourceKind::Exec { .. }
            | ResourceKind::Service { .. }
            | ResourceKind::Disk { .. } => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MirrorMode {
    Sync,
    Async,
}

/// A mirror or hybrid disk: two sides (B100).
#[derive(Clone, Debug, Serialize)]
pub struct Mirror {
    pub sides: [MirrorSide; 2],
    pub mount_point: String,
    pub fs_type: String,
    /// Mirror connect networks (1 or 2), names of `server.addresses` networks.
    pub networks: Vec<String>,
    pub mode: MirrorMode,
}

#[derive(Clone, Debug, Serialize)]
pub struct MirrorSide {
    /// The servers of this side: one for a mirror disk, a server group's for a hybrid disk.
    pub servers: Vec<ServerId>,
    pub server_group: Option<SgId>,
    pub data: String,
    pub metadata: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum RecoveryTarget {
    Resource(ResId),
    Group(GroupId),
    LocalServer,
    AllGroups,
}

#[derive(Clone, Debug, Serialize)]
pub struct Monitor {
    pub name: String,
    pub kind: MonitorKind,
    pub interval_ms: Ms,
    pub timeout_ms: Ms,
    pub retries: u32,
    pub start_wait_ms: Ms,
    pub active_with: Option<ResId>,
    pub servers: Vec<ServerId>,
    pub recovery_target: RecoveryTarget,
    pub reactivations: u32,
    pub failovers: u32,
    pub final_action: FinalAction,
    /// Created by B88 rather than written in the file.
    pub implied: bool,
    /// `network` of an ip/http monitor: the network its targets are reached over
    /// (otherwise found from their addresses, `targets.rs`).
    pub network: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MonitorKind {
    Ip {
        targets: Vec<String>,
    },
    FloatingIp {
        resource: ResId,
    },
    Process {
        pidfile: Option<String>,
        process_name: Option<String>,
    },
    Exec {
        command: String,
    },
    /// `device`: the disk resource's device when `path` lies under its mount point.
    Disk {
        path: String,
        io_size: u64,
        device: Option<String>,
    },
    NicLink {
        interface: String,
    },
    MirrorDisk {
        resource: ResId,
    },
    MirrorConnect {
        resource: ResId,
    },
    UserSpace {
        stall_action: FinalAction,
    },
    Http {
        url: String,
        /// A PEM file whose certificates alone are trusted for an `https://` URL.
        ca_file: Option<String>,
    },
}

impl MonitorKind {
    pub fn name(&self) -> &'static str {
        match self {
            MonitorKind::Ip { .. } => "ip",
            MonitorKind::FloatingIp { .. } => "floating-ip",
            MonitorKind::Process { .. } => "process",
            MonitorKind::Exec { .. } => "exec",
            MonitorKind::Disk { .. } => "disk",
            MonitorKind::NicLink { .. } => "nic-link",
            MonitorKind::MirrorDisk { .. } => "mirror-disk",
            MonitorKind::MirrorConnect { .. } => "mirror-connect",
            MonitorKind::UserSpace { .. } => "user-space",
            MonitorKind::Http { .. } => "http",
        }
    }
}

impl Config {
    /// The settle before a verdict outside disk mode (B34, revised): one
    /// `heartbeat_interval` with three or more servers, so that the losses of one cut are
    /// judged together; 0 with two, where only one peer can be lost.
    pub fn verdict_settle_ms(&self) -> Ms {
        if self.servers.len() >= 3 {
            self.cluster.heartbeat_interval_ms
        } else {
            0
        }
    }
    pub fn server_id(&self, name: &str) -> Option<ServerId> {
        self.servers.iter().position(|s| s.name == name).map(|i| ServerId(i as u16))
    }
    pub fn group_id(&self, name: &str) -> Option<GroupId> {
        self.groups.iter().position(|g| g.name == name).map(|i| GroupId(i as u16))
    }
    pub fn resource_id(&self, name: &str) -> Option<ResId> {
        self.resources.iter().position(|r| r.name == name).map(|i| ResId(i as u16))
    }
    pub fn monitor_id(&self, name: &str) -> Option<MonId> {
        self.monitors.iter().position(|m| m.name == name).map(|i| MonId(i as u16))
    }
    pub fn np_id(&self, name: &str) -> Option<NpId> {
        self.nps.iter().position(|n| n.name == name).map(|i| NpId(i as u16))
    }
    pub fn server(&self, id: ServerId) -> &Server {
        &self.servers[id.idx()]
    }
    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.idx()]
    }
    pub fn resource(&self, id: ResId) -> &Resource {
        &self.resources[id.idx()]
    }
    pub fn monitor(&self, id: MonId) -> &Monitor {
        &self.monitors[id.idx()]
    }
    pub fn server_ids(&self) -> impl Iterator<Item = ServerId> {
        (0..self.servers.len()).map(|i| ServerId(i as u16))
    }
    pub fn group_ids(&self) -> impl DoubleEndedIterator<Item = GroupId> {
        (0..self.groups.len()).map(|i| GroupId(i as u16))
    }
    pub fn monitor_ids(&self) -> impl Iterator<Item = MonId> {
        (0..self.monitors.len()).map(|i| MonId(i as u16))
    }
    pub fn np_ids(&self) -> impl Iterator<Item = NpId> {
        (0..self.nps.len()).map(|i| NpId(i as u16))
    }
    /// The 1-based rank of `server` in the group's policy (B0), if it is in it.
    pub fn rank(&self, group: GroupId, server: ServerId) -> Option<usize> {
        self.group(group).policy.iter().position(|s| *s == server).map(|i| i + 1)
    }
    /// Whether the group holds a mirror or hybrid disk.
    pub fn group_mirrors(&self, group: GroupId) -> impl Iterator<Item = ResId> + '_ {
        self.group(group).resources.iter().copied().filter(|r| self.resource(*r).kind.mirror().is_some())
    }
    /// Every device the file names (disk resources, mirror data and metadata, disk
    /// resolvers and heartbeats, disk monitors' devices) with the servers that use it.
    pub fn devices(&self) -> Vec<(String, Vec<ServerId>)> {
        let cfg = self;
        let mut map: BTreeMap<String, Vec<ServerId>> = BTreeMap::new();
        let mut add = |d: &str, servers: &[ServerId]| {
            let e = map.entry(d.to_string()).or_default();
            e.extend_from_slice(servers);
            e.sort();
            e.dedup();
        };
        for r in &cfg.resources {
            match &r.kind {
                ResourceKind::Disk { device, .. } => add(device, &cfg.group(r.group).policy),
                ResourceKind::MirrorDisk(m) | ResourceKind::HybridDisk(m) => {
                    for side in &m.sides {
                        add(&side.data, &side.servers);
                        if let Some(meta) = &side.metadata {
                            add(meta, &side.servers);
                        }
                    }
                }
                ResourceKind::FloatingIp { .. }
                | ResourceKind::VirtualIp { .. }
                | ResourceKind::Exec { .. }
                | ResourceKind::Service { .. } => {}
            }
        }
        for np in &cfg.nps {
            match &np.kind {
                NpKind::Disk { device, .. } => add(device, &np.servers),
                NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Majority | NpKind::Serial { .. } => {}
            }
        }
        for hb in &cfg.heartbeats {
            match &hb.kind {
                HeartbeatKind::Disk { device } => add(device, &hb.servers),
                HeartbeatKind::Lan { .. } => {}
            }
        }
        for m in &cfg.monitors {
            if let MonitorKind::Disk { device: Some(device), .. } = &m.kind {
                add(device, &m.servers);
            }
        }
        map.into_iter().filter(|(_, s)| !s.is_empty()).collect()
    }

    /// Mirror/hybrid resources in file order.
    pub fn mirror_ids(&self) -> impl Iterator<Item = ResId> + '_ {
        (0..self.resources.len()).map(|i| ResId(i as u16)).filter(|r| self.resource(*r).kind.mirror().is_some())
    }
}
