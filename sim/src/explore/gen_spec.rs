//! The generated configuration before it becomes a cluster file: a small model in the
//! file's own vocabulary (names, not indexes), so that the shrinker can drop a server,
//! a group or a monitor and render again without renumbering anything.
//!
//! In: what `generate.rs` draws or `gen_shrink.rs` edits. Out: TOML text in the
//! `config.md` format ([`Spec::render`]), which the caller always runs through
//! `baton_core::config::parse`, the loader `baton config check` uses.

use std::fmt::Write as _;

/// A resolver unit as B33 forms them (resolvers with identical server sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Combo {
    Ping,
    Http,
    Majority,
    Disk,
    Serial,
    PingDisk,
    SerialDisk,
}

impl Combo {
    pub const ALL: [Combo; 7] =
        [Combo::Ping, Combo::Http, Combo::Majority, Combo::Disk, Combo::Serial, Combo::PingDisk, Combo::SerialDisk];

    pub fn name(self) -> &'static str {
        match self {
            Combo::Ping => "ping",
            Combo::Http => "http",
            Combo::Majority => "majority",
            Combo::Disk => "disk",
            Combo::Serial => "serial",
            Combo::PingDisk => "ping+disk",
            Combo::SerialDisk => "serial+disk",
        }
    }
}

/// One resolver unit: its kinds and servers (`None`: every server, key left out).
#[derive(Clone, Debug, PartialEq)]
pub struct UnitSpec {
    pub combo: Combo,
    pub servers: Option<Vec<String>>,
    /// Written `interval`/`timeout` (needed when `heartbeat_timeout` ≤ 10 s, B131 4).
    pub probe_ms: Option<u64>,
    pub io_wait_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum HbSpec {
    Lan { network: String },
    Disk { device: String, servers: Vec<String> },
}

/// Recovery of a resource (`activation` and `deactivation` tables).
#[derive(Clone, Debug, PartialEq)]
pub struct Ladder {
    pub retries: u32,
    /// Activation only.
    pub failovers: Option<u32>,
    pub final_action: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ResKind {
    FloatingIp {
        address: String,
    },
    VirtualIp {
        address: String,
    },
    Exec,
    Service,
    Disk {
        device: String,
    },
    /// `sides`: two servers (mirror-disk) or two server groups (hybrid-disk).
    Mirror {
        hybrid: bool,
        sides: Vec<String>,
        device: String,
        metadata: bool,
        networks: Vec<String>,
        sync: bool,
    },
}

impl ResKind {
    pub fn word(&self) -> &'static str {
        match self {
            ResKind::FloatingIp { .. } => "floating-ip",
            ResKind::VirtualIp { .. } => "virtual-ip",
            ResKind::Exec => "exec",
            ResKind::Service => "service",
            ResKind::Disk { .. } => "disk",
            ResKind::Mirror { hybrid: false, .. } => "mirror-disk",
            ResKind::Mirror { hybrid: true, .. } => "hybrid-disk",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResSpec {
    pub name: String,
    pub kind: ResKind,
    pub depends_on: Option<Vec<String>>,
    pub activation: Option<Ladder>,
    pub deactivation: Option<Ladder>,
    pub timeout_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// `servers` left out: every server in priority order.
    All,
    Servers(Vec<String>),
    ServerGroups(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    pub name: String,
    pub policy: Policy,
    pub startup_manual: bool,
    pub failover_manual: bool,
    pub failback_auto: bool,
    pub stable: bool,
    pub exclusive: bool,
    pub start_after: Vec<String>,
    pub resources: Vec<ResSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MonKind {
    Ip { target: String },
    FloatingIp { resource: String },
    Process,
    Exec,
    Disk,
    NicLink,
    MirrorDisk { resource: String },
    MirrorConnect { resource: String },
    UserSpace { stall_action: Option<&'static str> },
    Http { url: String },
}

impl MonKind {
    pub fn word(&self) -> &'static str {
        match self {
            MonKind::Ip { .. } => "ip",
            MonKind::FloatingIp { .. } => "floating-ip",
            MonKind::Process => "process",
            MonKind::Exec => "exec",
            MonKind::Disk => "disk",
            MonKind::NicLink => "nic-link",
            MonKind::MirrorDisk { .. } => "mirror-disk",
            MonKind::MirrorConnect { .. } => "mirror-connect",
            MonKind::UserSpace { .. } => "user-space",
            MonKind::Http { .. } => "http",
        }
    }

    /// The resource the kind itself names, if any.
    pub fn resource(&self) -> Option<&str> {
        match self {
            MonKind::FloatingIp { resource }
            | MonKind::MirrorDisk { resource }
            | MonKind::MirrorConnect { resource } => Some(resource),
            MonKind::Ip { .. }
            | MonKind::Process
            | MonKind::Exec
            | MonKind::Disk
            | MonKind::NicLink
            | MonKind::UserSpace { .. }
            | MonKind::Http { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MonSpec {
    pub name: String,
    pub kind: MonKind,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    pub start_wait_ms: u64,
    pub active_with: Option<String>,
    pub servers: Option<Vec<String>>,
    /// `None` only for user-space monitors (they act on their own server).
    pub recovery_target: Option<String>,
    pub reactivations: u32,
    pub failovers: u32,
    pub final_action: Option<&'static str>,
}

/// A whole generated cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub name: String,
    pub heartbeat_interval_ms: u64,
    pub heartbeat_timeout_ms: u64,
    pub sync_wait_ms: u64,
    pub auto_return: bool,
    pub count_scope_cluster: bool,
    pub np_action: &'static str,
    pub counter_reset_ms: Option<u64>,
    /// Server names in priority order, and the networks every server has.
    pub servers: Vec<String>,
    pub networks: Vec<String>,
    pub server_groups: Vec<(String, Vec<String>)>,
    /// Servers that see the shared disk (empty: none).
    pub shared: Vec<String>,
    pub heartbeats: Vec<(String, HbSpec)>,
    pub units: Vec<UnitSpec>,
    pub groups: Vec<GroupSpec>,
    pub monitors: Vec<MonSpec>,
}

/// Scripts every generated exec resource names (relative to the cluster file).
pub const START_SCRIPT: &str = "scripts/start.sh";
pub const STOP_SCRIPT: &str = "scripts/stop.sh";

/// A TOML string (generated names and paths never need escapes).
fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", parts.join(", "))
}

fn dur(ms: u64) -> String {
    q(&baton_core::config::format_duration_ms(ms))
}

/// The address of server `i` (0-based) on a network.
pub fn address(network: &str, i: usize) -> String {
    let subnet = match network {
        "public" => "10.0.0",
        "lan2" => "192.168.1",
        _ => "192.168.0",
    };
    format!("{subnet}.{}", i + 1)
}

impl Spec {
    /// The server's index in the original draw (names are `serverN`), for addresses.
    fn server_index(name: &str) -> usize {
        name.trim_start_matches("server").parse::<usize>().map_or(0, |n| n.saturating_sub(1))
    }

    /// The cluster file.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# Generated by `baton sim explore --generate`.\n\n[cluster]");
        let _ = writeln!(o, "name = {}", q(&self.name));
        let _ = writeln!(o, "heartbeat_interval = {}", dur(self.heartbeat_interval_ms));
        let _ = writeln!(o, "heartbeat_timeout = {}", dur(self.heartbeat_timeout_ms));
        let _ = writeln!(o, "sync_wait = {}", dur(self.sync_wait_ms));
        if self.auto_return {
            let _ = writeln!(o, "auto_return = true");
        }
        if self.count_scope_cluster {
            let _ = writeln!(o, "failover_count_scope = \"cluster\"");
        }
        let _ = writeln!(o, "np_action = {}", q(self.np_action));
        if let Some(ms) = self.counter_reset_ms {
            let _ = writeln!(o, "counter_reset_after = {}", dur(ms));
        }
        let _ = writeln!(o, "insecure = true");
        for s in &self.servers {
            let i = Spec::server_index(s);
            let addrs: Vec<String> = self.networks.iter().map(|n| format!("{n} = {}", q(&address(n, i)))).collect();
            let _ = writeln!(o, "\n[[server]]\nname = {}\naddresses = {{ {} }}", q(s), addrs.join(", "));
        }
        for (name, servers) in &self.server_groups {
            let _ = writeln!(o, "\n[[server_group]]\nname = {}\nservers = {}", q(name), list(servers));
        }
        for (i, (name, hb)) in self.heartbeats.iter().enumerate() {
            let _ = writeln!(o, "\n[[heartbeat]]\nname = {}", q(name));
            match hb {
                HbSpec::Lan { network } => {
                    let _ = writeln!(o, "kind = \"lan\"\nnetwork = {}", q(network));
                }
                HbSpec::Disk { device, servers } => {
                    let _ = writeln!(o, "kind = \"disk\"\ndevice = {}\nservers = {}", q(device), list(servers));
                }
            }
            let _ = writeln!(o, "priority = {}", i + 1);
        }
        for (i, u) in self.units.iter().enumerate() {
            self.render_unit(&mut o, i, u);
        }
        for g in &self.groups {
            render_group(&mut o, g);
        }
        for m in &self.monitors {
            render_monitor(&mut o, m);
        }
        o
    }

    fn render_unit(&self, o: &mut String, i: usize, u: &UnitSpec) {
        let target = if self.networks.iter().any(|n| n == "public") { "10.0.0.254" } else { "192.168.0.254" };
        let kinds: &[&str] = match u.combo {
            Combo::Ping => &["ping"],
            Combo::Http => &["http"],
            Combo::Majority => &["majority"],
            Combo::Disk => &["disk"],
            Combo::Serial => &["serial"],
            Combo::PingDisk => &["ping", "disk"],
            Combo::SerialDisk => &["serial", "disk"],
        };
        for kind in kinds {
            let _ = writeln!(o, "\n[[np]]\nname = \"np{}-{kind}\"\nkind = {}", i + 1, q(kind));
            match *kind {
                "ping" => {
                    let _ = writeln!(o, "targets = [{}]", q(target));
                }
                "http" => {
                    let _ = writeln!(o, "targets = [{}]", q(&format!("http://{target}/health")));
                }
                "disk" => {
                    let _ = writeln!(o, "device = \"/dev/sdq{}\"", i + 1);
                    if let Some(ms) = u.io_wait_ms {
                        let _ = writeln!(o, "io_wait = {}", dur(ms));
                    }
                }
                "serial" => {
                    let _ = writeln!(o, "device = \"/dev/ttyS{i}\"");
                }
                _ => {}
            }
            if let Some(ms) = u.probe_ms.filter(|_| *kind != "majority") {
                let _ = writeln!(o, "interval = {}\ntimeout = {}", dur(ms), dur(ms));
            }
            if let Some(servers) = &u.servers {
                let _ = writeln!(o, "servers = {}", list(servers));
            }
        }
    }
}

fn render_group(o: &mut String, g: &GroupSpec) {
    let _ = writeln!(o, "\n[[group]]\nname = {}", q(&g.name));
    match &g.policy {
        Policy::All => {}
        Policy::Servers(s) => {
            let _ = writeln!(o, "servers = {}", list(s));
        }
        Policy::ServerGroups(s) => {
            let _ = writeln!(o, "server_groups = {}", list(s));
        }
    }
    let flags = [
        (g.startup_manual, "startup = \"manual\""),
        (g.failover_manual, "failover = \"manual\""),
        (g.failback_auto, "failback = \"auto\""),
        (g.stable, "failover_target = \"stable\""),
        (g.exclusive, "exclusive = true"),
    ];
    for (on, line) in flags {
        if on {
            let _ = writeln!(o, "{line}");
        }
    }
    if !g.start_after.is_empty() {
        let _ = writeln!(o, "start_after = {}", list(&g.start_after));
    }
    for r in &g.resources {
        render_resource(o, r);
    }
}

fn ladder(l: &Ladder) -> String {
    match l.failovers {
        Some(f) => format!("{{ retries = {}, failovers = {f}, final_action = {} }}", l.retries, q(l.final_action)),
        None => format!("{{ retries = {}, final_action = {} }}", l.retries, q(l.final_action)),
    }
}

fn render_resource(o: &mut String, r: &ResSpec) {
    let _ = writeln!(o, "\n[[group.resource]]\nname = {}\nkind = {}", q(&r.name), q(r.kind.word()));
    match &r.kind {
        ResKind::FloatingIp { address } | ResKind::VirtualIp { address } => {
            let _ = writeln!(o, "address = {}", q(address));
        }
        ResKind::Exec => {
            let _ = writeln!(o, "start = {}\nstop = {}", q(START_SCRIPT), q(STOP_SCRIPT));
        }
        ResKind::Service => {
            let _ = writeln!(o, "unit = {}", q(&format!("{}.service", r.name)));
        }
        ResKind::Disk { device } => {
            let _ = writeln!(o, "device = {}\nmount_point = {}", q(device), q(&format!("/mnt/{}", r.name)));
        }
        ResKind::Mirror { sides, device, metadata, networks, sync, .. } => {
            let data: Vec<String> = sides.iter().map(|s| format!("{s} = {}", q(&format!("{device}2")))).collect();
            let _ = writeln!(o, "data = {{ {} }}", data.join(", "));
            if *metadata {
                let meta: Vec<String> = sides.iter().map(|s| format!("{s} = {}", q(&format!("{device}1")))).collect();
                let _ = writeln!(o, "metadata = {{ {} }}", meta.join(", "));
            }
            let _ = writeln!(o, "mount_point = {}", q(&format!("/mnt/{}", r.name)));
            match networks.as_slice() {
                [one] => {
                    let _ = writeln!(o, "network = {}", q(one));
                }
                more => {
                    let _ = writeln!(o, "network = {}", list(more));
                }
            }
            let _ = writeln!(o, "mode = {}", q(if *sync { "sync" } else { "async" }));
        }
    }
    if let Some(d) = &r.depends_on {
        let _ = writeln!(o, "depends_on = {}", list(d));
    }
    if let Some(l) = &r.activation {
        let _ = writeln!(o, "activation = {}", ladder(l));
    }
    if let Some(l) = &r.deactivation {
        let _ = writeln!(o, "deactivation = {}", ladder(l));
    }
    if let Some(ms) = r.timeout_ms {
        let _ = writeln!(o, "timeout = {}", dur(ms));
    }
}

fn render_monitor(o: &mut String, m: &MonSpec) {
    let _ = writeln!(o, "\n[[monitor]]\nname = {}\nkind = {}", q(&m.name), q(m.kind.word()));
    match &m.kind {
        MonKind::Ip { target } => {
            let _ = writeln!(o, "targets = [{}]", q(target));
        }
        MonKind::FloatingIp { resource } | MonKind::MirrorDisk { resource } | MonKind::MirrorConnect { resource } => {
            let _ = writeln!(o, "resource = {}", q(resource));
        }
        MonKind::Process => {
            let _ = writeln!(o, "process_name = {}", q(&m.name));
        }
        MonKind::Exec => {
            let _ = writeln!(o, "command = \"/usr/local/bin/check-{}\"", m.name);
        }
        MonKind::Disk => {
            let _ = writeln!(o, "path = \"/var/lib/{}/probe\"", m.name);
        }
        MonKind::NicLink => {
            let _ = writeln!(o, "interface = \"eth0\"");
        }
        MonKind::UserSpace { stall_action } => {
            if let Some(a) = stall_action {
                let _ = writeln!(o, "stall_action = {}", q(a));
            }
        }
        MonKind::Http { url } => {
            let _ = writeln!(o, "url = {}", q(url));
        }
    }
    let _ = writeln!(
        o,
        "interval = {}\ntimeout = {}\nretries = {}\nstart_wait = {}",
        dur(m.interval_ms),
        dur(m.timeout_ms),
        m.retries,
        dur(m.start_wait_ms)
    );
    if let Some(a) = &m.active_with {
        let _ = writeln!(o, "active_with = {}", q(a));
    }
    if let Some(s) = &m.servers {
        let _ = writeln!(o, "servers = {}", list(s));
    }
    if let Some(t) = &m.recovery_target {
        let _ = writeln!(o, "recovery_target = {}", q(t));
    }
    let _ = writeln!(o, "reactivations = {}\nfailovers = {}", m.reactivations, m.failovers);
    if let Some(a) = m.final_action {
        let _ = writeln!(o, "final_action = {}", q(a));
    }
}
