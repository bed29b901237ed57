//! Defaults of the cluster file (config.md tables, behaviour.md §14).
//!
//! In: nothing, or the resources read so far. Out: the default value of every
//! optional key, the default `[cluster]` (used until the file's is read), and the
//! class-based `depends_on` of B62. The reader and the renderer both use these, so
//! a default lives in exactly one place.

use super::{ActivationPolicy, Cluster, Config, CountScope, DeactivationPolicy, FinalAction, Ms, NpAction, ResId};

pub const HEARTBEAT_INTERVAL_MS: Ms = 3_000;
pub const HEARTBEAT_TIMEOUT_MS: Ms = 30_000;
pub const SYNC_WAIT_MS: Ms = 300_000;
pub const COUNTER_RESET_AFTER_MS: Ms = 3_600_000;
pub const PORT: u16 = 29002;
pub const WEB_PORT: u16 = 29003;

pub const NP_INTERVAL_MS: Ms = 5_000;
pub const NP_TIMEOUT_MS: Ms = 5_000;
pub const NP_RETRIES: u32 = 3;
pub const NP_IO_WAIT_MS: Ms = 80_000;

pub const RESOURCE_TIMEOUT_MS: Ms = 60_000;
pub const ACTIVATION: ActivationPolicy = ActivationPolicy { retries: 0, failovers: 1, final_action: FinalAction::None };
pub const DEACTIVATION: DeactivationPolicy =
    DeactivationPolicy { retries: 0, final_action: FinalAction::StopServiceAndShutdown };
pub const ARP_COUNT: u32 = 5;
/// The floating IP's duplicate-address probe window (B44): a host on the LAN answers an
/// ARP probe in well under a millisecond (the kernel answers, not a process), so 20 ms
/// is a wide margin for a loaded host or switch, and still fits inside the takeover
/// margin of a 50 ms heartbeat interval, where it costs no time at all.
pub const PROBE_WINDOW_MS: Ms = 20;
pub const FS_TYPE: &str = "ext4";
pub const FSCK: bool = true;

pub const MONITOR_INTERVAL_MS: Ms = 30_000;
pub const MONITOR_TIMEOUT_MS: Ms = 60_000;
pub const MONITOR_RETRIES: u32 = 1;
pub const MONITOR_START_WAIT_MS: Ms = 0;
pub const MONITOR_REACTIVATIONS: u32 = 3;
pub const MONITOR_FAILOVERS: u32 = 1;
pub const MONITOR_FINAL_ACTION: FinalAction = FinalAction::None;
pub const STALL_ACTION: FinalAction = FinalAction::EmergencyReboot;
pub const DISK_IO_SIZE: u64 = 2_000_000;

/// The `[cluster]` table with every default and the given name.
pub fn cluster(name: String) -> Cluster {
    Cluster {
        name,
        heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        heartbeat_timeout_ms: HEARTBEAT_TIMEOUT_MS,
        sync_wait_ms: SYNC_WAIT_MS,
        auto_return: false,
        failover_count_scope: CountScope::Server,
        np_action: NpAction::EmergencyShutdown,
        counter_reset_after_ms: COUNTER_RESET_AFTER_MS,
        secret_file: None,
        insecure: false,
        port: PORT,
        web_port: WEB_PORT,
    }
}

/// Fills every resource's `depends_on`: the explicit list where the file has one,
/// else (B62) every resource of the same group in an earlier class, in file order.
/// Because classes strictly increase along default edges, defaults alone never
/// form a cycle; explicit lists are checked for cycles separately.
pub fn fill_depends_on(cfg: &mut Config, explicit: &[Option<Vec<ResId>>]) {
    for r in 0..cfg.resources.len() {
        let deps = match explicit.get(r).cloned().flatten() {
            Some(list) => list,
            None => {
                let me = &cfg.resources[r];
                let class = me.kind.order_class();
                cfg.groups[me.group.idx()]
                    .resources
                    .iter()
                    .copied()
                    .filter(|d| cfg.resources[d.idx()].kind.order_class() < class)
                    .collect()
            }
        };
        cfg.resources[r].depends_on = deps;
    }
}
