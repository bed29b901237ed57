//! The vocabulary of the cluster file: which keys each table (and each kind) accepts.
//!
//! In: nothing. Out: constant key lists that the reader checks every table against
//! (any other key is an error, B131 1), and [`known_keys`], the flat list the
//! documentation test compares with `docs/configuration.md`. One list serves both,
//! so the parser cannot accept a key the reference does not describe.

pub const TOP: &[&str] = &["cluster", "server", "server_group", "heartbeat", "np", "group", "monitor", "alert"];

pub const CLUSTER: &[&str] = &[
    "name",
    "heartbeat_interval",
    "heartbeat_timeout",
    "sync_wait",
    "auto_return",
    "failover_count_scope",
    "np_action",
    "counter_reset_after",
    "secret_file",
    "insecure",
    "port",
    "web_port",
    "web_listen",
    "web_token_file",
    "web_tls_cert",
    "web_tls_key",
];

/// `[[alert]]` (issue 13): events to syslog, a webhook or a command.
pub const ALERT: &[&str] =
    &["name", "events", "severity", "to", "socket", "url", "command", "max_per_minute", "timeout"];

pub const SERVER: &[&str] = &["name", "addresses"];
pub const SERVER_GROUP: &[&str] = &["name", "servers"];

pub const HEARTBEAT: &[&str] = &["name", "kind", "priority", "servers"];
pub const HEARTBEAT_LAN: &[&str] = &["network"];
pub const HEARTBEAT_DISK: &[&str] = &["device"];

pub const NP: &[&str] = &["name", "kind", "interval", "timeout", "retries", "servers"];
pub const NP_PING: &[&str] = &["targets", "network"];
pub const NP_HTTP: &[&str] = &["targets", "network", "ca_file"];
pub const NP_DISK: &[&str] = &["device", "io_wait"];
pub const NP_MAJORITY: &[&str] = &[];
pub const NP_SERIAL: &[&str] = &["device"];

pub const GROUP: &[&str] = &[
    "name",
    "servers",
    "server_groups",
    "startup",
    "failover",
    "failback",
    "failover_target",
    "exclusive",
    "start_after",
    "resource",
];

pub const RESOURCE: &[&str] = &["name", "kind", "depends_on", "activation", "deactivation", "timeout"];
pub const ACTIVATION: &[&str] = &["retries", "failovers", "final_action"];
pub const DEACTIVATION: &[&str] = &["retries", "final_action"];
pub const RES_FLOATING_IP: &[&str] = &["address", "interface", "arp_count", "probe_window"];
pub const RES_VIRTUAL_IP: &[&str] = &["address"];
pub const RES_EXEC: &[&str] = &["start", "stop", "env", "log"];
pub const RES_SERVICE: &[&str] = &["unit"];
pub const RES_DISK: &[&str] = &["device", "mount_point", "fs_type", "mount_options", "fsck"];
pub const RES_MIRROR: &[&str] = &["data", "metadata", "mount_point", "fs_type", "network", "mode"];

pub const MONITOR: &[&str] = &[
    "name",
    "kind",
    "interval",
    "timeout",
    "retries",
    "start_wait",
    "active_with",
    "servers",
    "recovery_target",
    "reactivations",
    "failovers",
    "final_action",
];
pub const MON_IP: &[&str] = &["targets", "network"];
pub const MON_FLOATING_IP: &[&str] = &["resource"];
pub const MON_PROCESS: &[&str] = &["pidfile", "process_name"];
pub const MON_EXEC: &[&str] = &["command"];
pub const MON_DISK: &[&str] = &["path", "io_size"];
pub const MON_NIC_LINK: &[&str] = &["interface"];
pub const MON_MIRROR: &[&str] = &["resource"];
pub const MON_USER_SPACE: &[&str] = &["stall_action"];
pub const MON_HTTP: &[&str] = &["url", "network", "ca_file"];

/// Every `(table, key)` the parser accepts. Tables are named as in the reference:
/// `cluster`, `group.resource`, kind-specific keys as `group.resource.floating-ip`,
/// top-level tables under `""`.
pub fn known_keys() -> Vec<(&'static str, &'static str)> {
    let tables: &[(&'static str, &[&'static str])] = &[
        ("", TOP),
        ("cluster", CLUSTER),
        ("server", SERVER),
        ("server_group", SERVER_GROUP),
        ("heartbeat", HEARTBEAT),
        ("heartbeat.lan", HEARTBEAT_LAN),
        ("heartbeat.disk", HEARTBEAT_DISK),
        ("np", NP),
        ("np.ping", NP_PING),
        ("np.http", NP_HTTP),
        ("np.disk", NP_DISK),
        ("np.majority", NP_MAJORITY),
        ("np.serial", NP_SERIAL),
        ("group", GROUP),
        ("group.resource", RESOURCE),
        ("group.resource.activation", ACTIVATION),
        ("group.resource.deactivation", DEACTIVATION),
        ("group.resource.floating-ip", RES_FLOATING_IP),
        ("group.resource.virtual-ip", RES_VIRTUAL_IP),
        ("group.resource.exec", RES_EXEC),
        ("group.resource.service", RES_SERVICE),
        ("group.resource.disk", RES_DISK),
        ("group.resource.mirror-disk", RES_MIRROR),
        ("group.resource.hybrid-disk", RES_MIRROR),
        ("monitor", MONITOR),
        ("monitor.ip", MON_IP),
        ("monitor.floating-ip", MON_FLOATING_IP),
        ("monitor.process", MON_PROCESS),
        ("monitor.exec", MON_EXEC),
        ("monitor.disk", MON_DISK),
        ("monitor.nic-link", MON_NIC_LINK),
        ("monitor.mirror-disk", MON_MIRROR),
        ("monitor.mirror-connect", MON_MIRROR),
        ("monitor.user-space", MON_USER_SPACE),
        ("monitor.http", MON_HTTP),
        ("alert", ALERT),
    ];
    tables.iter().flat_map(|(t, keys)| keys.iter().map(move |k| (*t, *k))).collect()
}
