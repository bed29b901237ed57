//! The event catalogue (`events.md`): every event the cluster emits, with its stable
//! kebab-case name, numeric id and severity, and the [`Event`] record that carries it.
//!
//! In: nothing. Out: [`EventKind`] (names, ids, severities, descriptions) and [`Event`]
//! (kind + the fields named in its catalogue row + its cause). `docs/events.md` is
//! generated from [`EventKind::ALL`] and a test keeps it in step.

use serde::{Deserialize, Serialize};

/// How bad an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Every catalogue event, in id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// 100: the cluster service of S started (on S)
    ServiceStarted,
    /// 101: the configuration is missing, invalid or does not name this host; the service does not start (on S) (B1)
    ServiceStartRefused,
    /// 102: the service of S begins to stop (on S)
    ServiceStopping,
    /// 103: the service of S stopped cleanly (on S)
    ServiceStopped,
    /// 104: the service starts and finds that its previous run ended uncleanly (on S) (B22–B24)
    UncleanRestart,
    /// 105: S entered startup synchronisation (on S) (B3)
    StartupSyncWaiting,
    /// 106: every configured server started; the cluster forms (on each waiting server) (B3)
    StartupSyncDone,
    /// 107: `sync_wait` ran out; the cluster forms without the missing servers, which are listed (on each waiting server) (B3)
    StartupSyncTimeout,
    /// 108: the cluster formed; placement begins (on the coordinator) (B3, B5)
    ClusterStarted,
    /// 109: `cluster stop` accepted (on every server) (B67)
    ClusterStopping,
    /// 110: `cluster shutdown` accepted (on every server) (B67)
    ClusterShutdown,
    /// 111: the cluster is suspended (on every server) (B122)
    ClusterSuspended,
    /// 112: the cluster resumed (on every server) (B122)
    ClusterResumed,
    /// 113: S begins a planned shutdown (command or OS shutdown) (on S) (B68)
    ServerShutdown,
    /// 114: the configuration was accepted at service start, with its digest (on S)
    ConfigLoaded,
    /// 115: the checker found a warning (no resolver, short timeout, missing script…) (on S) (B133)
    ConfigWarning,
    /// 116: the service runs with `insecure = true` (on S) (B133)
    InsecureMode,
    /// 117: a core process of the service died; S stops its groups and shuts down (on S) (B130)
    ProcessDied,
    /// 200: a server became a member (on every online server) (B2, B3)
    ServerJoined,
    /// 201: heartbeats from a peer arrive again on a path (on the receiver) (B11)
    HeartbeatPathUp,
    /// 202: nothing arrived from a peer on a path for `heartbeat_timeout` while another path works (on the receiver) (B11)
    HeartbeatPathDown,
    /// 203: a peer was silent on every path for `heartbeat_timeout` (at D, on each detecting server) (B13)
    ServerLost,
    /// 204: a peer's departure notice after a clean end was received (on each receiver) (B14)
    ServerPlannedDown,
    /// 205: a peer departed through a final action that stops its service (on each receiver) (B15)
    ServerFailureDown,
    /// 206: S received a down notice, or lost a mutual down judgement; it runs `np_action` next (on S) (B16, B17)
    ServerDownNotified,
    /// 207: S restarted after an unclean end before any peer judged it lost (on S) (B18)
    ServerRestarted,
    /// 208: S is back after an unclean end and waits for `server return` (on S) (B23)
    ServerSuspended,
    /// 209: `server return` made S online (on S) (B25)
    ServerReturned,
    /// 210: S returned by itself (`auto_return`) (on S) (B24)
    ServerAutoReturned,
    /// 211: `server return --force` made S online alone (on S) (B26)
    ServerForceReturned,
    /// 212: every group of a lost or departed server has been placed or left offline (on the coordinator) (B55)
    ServerFailedOver,
    /// 300: resolution began for the listed lost peers (at D, on the resolving server) (B34)
    NpResolutionStarted,
    /// 301: the verdict judged the lost peers down; S survives (at V, on S) (B35)
    NpResolvedPeerDown,
    /// 302: ping or http: no target answered; S is cut off (at V, on S) (B36, B37)
    NpLostSelfIsolated,
    /// 303: majority: S hears fewer than half of the servers (at V, on S) (B42)
    NpLostMinority,
    /// 304: serial, disk or majority: a partition where the tie-break server is on the other side (at V, on S) (B38, B39, B42)
    NpLostTieBreak,
    /// 305: the resolver cannot decide: serial or http pre-failed, own disk I/O failed (at V, on S) (B37–B41)
    NpResolutionFailed,
    /// 306: own disk I/O took longer than `io_wait` during resolution (at V, on S) (B39)
    NpResolutionTimeout,
    /// 307: a lost peer could not be resolved (no resolver, ping pre-failed); S takes over anyway (at V, on S) (B35, B36, B43)
    NpUnresolved,
    /// 308: a serial+disk or ping+disk unit uses the disk rule (on S) (B40, B41)
    NpFallbackDisk,
    /// 309: a resolver failed `retries` checks in a row on S (on S) (B31)
    NpTargetDown,
    /// 310: a failing resolver answered again (on S) (B31)
    NpTargetUp,
    /// 400: a group begins to start (on its server) (B63)
    GroupStarting,
    /// 401: every resource of the group is online or ignored (on its server) (B63)
    GroupOnline,
    /// 402: a start ended in `error` after an activation final action (on its server) (B71)
    GroupStartFailed,
    /// 403: a group begins to stop (on its server) (B64)
    GroupStopping,
    /// 404: every resource of the group is offline (on its former server) (B64)
    GroupOffline,
    /// 405: a stop ended in `error` after a deactivation final action `none` (on its server) (B72)
    GroupStopFailed,
    /// 406: a move began (on the source) (B65)
    GroupMoving,
    /// 407: a move or failback completed (on the target) (B65)
    GroupMoved,
    /// 408: a move did not complete (on the source or target) (B65, B72)
    GroupMoveFailed,
    /// 409: a group is started on a new server because of a server loss or departure, an activation failure or a monitor failover (on the target, when it begins) (B55, B70, B83)
    GroupFailover,
    /// 410: that start completed (on the target)
    GroupFailoverDone,
    /// 411: that start failed (on the target)
    GroupFailoverFailed,
    /// 412: a group must move but no server is eligible; it stays offline (on the coordinator) (B55, B83)
    GroupNoTarget,
    /// 413: a `failover = "manual"` group lost its server and stays offline (on the coordinator) (B55)
    GroupFailoverHeld,
    /// 414: an auto failback move began (on the source) (B57)
    GroupFailback,
    /// 415: a group reactivation began (on its server) (B83)
    GroupRestarting,
    /// 416: a group reactivation completed (on its server)
    GroupRestarted,
    /// 417: a group reactivation failed (on its server)
    GroupRestartFailed,
    /// 418: a start waits for its `start_after` groups (on the coordinator) (B54)
    GroupStartWaiting,
    /// 419: a `start_after` group is offline with no start pending; the start stays pending (on the coordinator) (B54)
    GroupStartBlocked,
    /// 420: a group was found online on two servers when they heard each other again (on the surviving server) (B17)
    GroupDoubleOnline,
    /// 500: an activation began (on the server) (B63)
    ResourceActivating,
    /// 501: an activation succeeded, with its duration (on the server)
    ResourceOnline,
    /// 502: an activation failed, with the reason (script exit, timeout, address in use, device error, mirror not latest) (on the server) (B70)
    ResourceActivationFailed,
    /// 503: an activation is retried in place (on the server) (B70)
    ResourceActivationRetry,
    /// 504: final action `ignore`: the failed resource is skipped (on the server) (B71)
    ResourceActivationIgnored,
    /// 505: a deactivation began (on the server) (B64)
    ResourceDeactivating,
    /// 506: a deactivation succeeded (on the server)
    ResourceOffline,
    /// 507: a deactivation failed, with the reason (on the server) (B72)
    ResourceDeactivationFailed,
    /// 508: a deactivation is retried (on the server) (B72)
    ResourceDeactivationRetry,
    /// 509: a resource reactivation began (on the server) (B83)
    ResourceRestarting,
    /// 510: a resource reactivation completed (on the server)
    ResourceRestarted,
    /// 511: a resource reactivation failed (on the server)
    ResourceRestartFailed,
    /// 512: the activation ladder reached its final action, which is named (on the server) (B70, B71)
    ActivationFinalAction,
    /// 513: the deactivation ladder reached its final action, which is named (on the server) (B72)
    DeactivationFinalAction,
    /// 514: an activation or deactivation exceeded the resource `timeout` (on the server) (B73)
    ResourceTimeout,
    /// 515: an exec script run began, with its `CLP_*` environment (on the server) (B90)
    ScriptStarted,
    /// 516: an exec script run exited 0 (on the server)
    ScriptDone,
    /// 517: an exec script run exited non-zero, could not start, or was killed (on the server) (B90, B93)
    ScriptFailed,
    /// 518: an exec script has been running for 3 minutes (once per run) (on the server)
    ScriptSlow,
    /// 600: a monitor started on the server (B80)
    MonitorStarted,
    /// 601: a monitor stopped on the server (B80)
    MonitorStopped,
    /// 602: a check failed but fewer than `retries + 1` in a row (B81)
    MonitorCheckFailed,
    /// 603: failure `retries + 1` in a row: the monitor is in error, with the detail (B81)
    MonitorError,
    /// 604: a good check after an error (B81)
    MonitorRecovered,
    /// 605: a monitor could not start (missing interface, watchdog device…)
    MonitorStartFailed,
    /// 606: `monitor suspend` took effect (on each affected server) (B86)
    MonitorSuspended,
    /// 607: `monitor resume` took effect (on each affected server) (B86)
    MonitorResumed,
    /// 608: the recovery target is not online on this server; no action (B83)
    RecoverySkipped,
    /// 609: the recovery target is reactivated, with the count (B83)
    RecoveryReactivate,
    /// 610: the group of the recovery target is failed over, with the count (B83)
    RecoveryFailover,
    /// 611: both thresholds are spent; the final action, which is named, runs (B83)
    RecoveryFinalAction,
    /// 612: a recovery action did not complete (B83)
    RecoveryFailed,
    /// 613: a monitor's or resource's counters reset after `counter_reset_after` (B58, B85)
    RecoveryCountersReset,
    /// 614: the watchdog found the service frozen for `heartbeat_timeout`; `stall_action` runs (B87)
    UserSpaceStall,
    /// 615: a check could not be made (its target does not exist yet)
    MonitorUnknown,
    /// 700: no mirror connect network carries traffic between the sides (on each side's running server) (B102)
    MirrorConnectDown,
    /// 701: a mirror connect carries traffic again (on each side)
    MirrorConnectUp,
    /// 702: one of two mirror connect networks failed; mirroring continues on the other (on each side) (B102)
    MirrorConnectPathDown,
    /// 703: the mirror is online on one side without the other: break time recorded, that side ahead (on the online server) (B102)
    MirrorBreak,
    /// 704: a copy began, with direction and full or differential (on the source) (B107)
    MirrorRebuildStarted,
    /// 705: the copy ended; the mirror is normal (on the source) (B109)
    MirrorRebuildDone,
    /// 706: a copy stopped before its end (on the source, or the destination if the source is gone) (B110)
    MirrorRebuildFailed,
    /// 707: the next or current copy must be full, with the reason (on the source) (B108)
    MirrorFullCopy,
    /// 708: nothing was written since the break; normal at once (on the source) (B109)
    MirrorNoCopyNeeded,
    /// 709: activation refused: this side does not hold the latest data, or a rebuild toward it runs (on the server) (B106)
    MirrorStaleRefused,
    /// 710: the side holding the latest data cannot be determined (on each running side) (B106)
    MirrorLatestUndetermined,
    /// 711: `mirror force` declared this side latest (on the named server) (B112)
    MirrorForced,
    /// 712: an I/O error on a side's data device (on that server) (B116)
    MirrorDiskError,
    /// 713: the mirror was online on both sides when they heard each other again (on the surviving server) (B117)
    MirrorDoubleActive,
    /// 714: async writes not yet sent were lost at a failover, with the amount (on the new online server) (B101)
    MirrorWritesLost,
    /// 715: a side is behind but the automatic rebuild conditions are not met; `mirror rebuild` is needed (on the server of the latest side) (B107)
    MirrorRebuildNeeded,
    /// 800: a command passed its checks (on the server that took it) (B120)
    CommandAccepted,
    /// 801: a command was refused, with the reason (on the server that took it) (B120–B122)
    CommandRefused,
    /// 802: an accepted command finished (on the server that took it)
    CommandDone,
    /// 803: an accepted command could not finish, with the reason (on the server that took it) (B120)
    CommandFailed,
    /// 900: S powers itself off at once, releasing its resources without stop scripts (on S, as its last act) (B45, B130)
    EmergencyShutdown,
    /// 901: S powers itself off at once and boots again (on S) (B45, B87, B116)
    EmergencyReboot,
    /// 902: S halts its kernel at once (on S) (B45)
    Panic,
    /// 903: a clean shutdown did not power the machine off within `heartbeat_timeout`; the watchdog resets it (on S) (B130)
    ShutdownStallReset,
    /// 904: a final action or `np_action` stops the service of S; the machine stays up (on S) (B45, B71)
    ServiceStopForFailure,
    /// 905: a final action stops the groups of S, then shuts its OS down (on S) (B71, B72)
    ShutdownForFailure,
    /// 906: a final action stops the groups of S, then reboots it (on S) (B71)
    RebootForFailure,
}

impl EventKind {
    /// Every event kind, in id order.
    pub const ALL: [EventKind; 125] = [
        EventKind::ServiceStarted,
        EventKind::ServiceStartRefused,
        EventKind::ServiceStopping,
        EventKind::ServiceStopped,
        EventKind::UncleanRestart,
        EventKind::StartupSyncWaiting,
        EventKind::StartupSyncDone,
        EventKind::StartupSyncTimeout,
        EventKind::ClusterStarted,
        EventKind::ClusterStopping,
        EventKind::ClusterShutdown,
        EventKind::ClusterSuspended,
        EventKind::ClusterResumed,
        EventKind::ServerShutdown,
        EventKind::ConfigLoaded,
        EventKind::ConfigWarning,
        EventKind::InsecureMode,
        EventKind::ProcessDied,
        EventKind::ServerJoined,
        EventKind::HeartbeatPathUp,
        EventKind::HeartbeatPathDown,
        EventKind::ServerLost,
        EventKind::ServerPlannedDown,
        EventKind::ServerFailureDown,
        EventKind::ServerDownNotified,
        EventKind::ServerRestarted,
        EventKind::ServerSuspended,
        EventKind::ServerReturned,
        EventKind::ServerAutoReturned,
        EventKind::ServerForceReturned,
        EventKind::ServerFailedOver,
        EventKind::NpResolutionStarted,
        EventKind::NpResolvedPeerDown,
        EventKind::NpLostSelfIsolated,
        EventKind::NpLostMinority,
        EventKind::NpLostTieBreak,
        EventKind::NpResolutionFailed,
        EventKind::NpResolutionTimeout,
        EventKind::NpUnresolved,
        EventKind::NpFallbackDisk,
        EventKind::NpTargetDown,
        EventKind::NpTargetUp,
        EventKind::GroupStarting,
        EventKind::GroupOnline,
        EventKind::GroupStartFailed,
        EventKind::GroupStopping,
        EventKind::GroupOffline,
        EventKind::GroupStopFailed,
        EventKind::GroupMoving,
        EventKind::GroupMoved,
        EventKind::GroupMoveFailed,
        EventKind::GroupFailover,
        EventKind::GroupFailoverDone,
        EventKind::GroupFailoverFailed,
        EventKind::GroupNoTarget,
        EventKind::GroupFailoverHeld,
        EventKind::GroupFailback,
        EventKind::GroupRestarting,
        EventKind::GroupRestarted,
        EventKind::GroupRestartFailed,
        EventKind::GroupStartWaiting,
        EventKind::GroupStartBlocked,
        EventKind::GroupDoubleOnline,
        EventKind::ResourceActivating,
        EventKind::ResourceOnline,
        EventKind::ResourceActivationFailed,
        EventKind::ResourceActivationRetry,
        EventKind::ResourceActivationIgnored,
        EventKind::ResourceDeactivating,
        EventKind::ResourceOffline,
        EventKind::ResourceDeactivationFailed,
        EventKind::ResourceDeactivationRetry,
        EventKind::ResourceRestarting,
        EventKind::ResourceRestarted,
        EventKind::ResourceRestartFailed,
        EventKind::ActivationFinalAction,
        EventKind::DeactivationFinalAction,
        EventKind::ResourceTimeout,
        EventKind::ScriptStarted,
        EventKind::ScriptDone,
        EventKind::ScriptFailed,
        EventKind::ScriptSlow,
        EventKind::MonitorStarted,
        EventKind::MonitorStopped,
        EventKind::MonitorCheckFailed,
        EventKind::MonitorError,
        EventKind::MonitorRecovered,
        EventKind::MonitorStartFailed,
        EventKind::MonitorSuspended,
        EventKind::MonitorResumed,
        EventKind::RecoverySkipped,
        EventKind::RecoveryReactivate,
        EventKind::RecoveryFailover,
        EventKind::RecoveryFinalAction,
        EventKind::RecoveryFailed,
        EventKind::RecoveryCountersReset,
        EventKind::UserSpaceStall,
        EventKind::MonitorUnknown,
        EventKind::MirrorConnectDown,
        EventKind::MirrorConnectUp,
        EventKind::MirrorConnectPathDown,
        EventKind::MirrorBreak,
        EventKind::MirrorRebuildStarted,
        EventKind::MirrorRebuildDone,
        EventKind::MirrorRebuildFailed,
        EventKind::MirrorFullCopy,
        EventKind::MirrorNoCopyNeeded,
        EventKind::MirrorStaleRefused,
        EventKind::MirrorLatestUndetermined,
        EventKind::MirrorForced,
        EventKind::MirrorDiskError,
        EventKind::MirrorDoubleActive,
        EventKind::MirrorWritesLost,
        EventKind::MirrorRebuildNeeded,
        EventKind::CommandAccepted,
        EventKind::CommandRefused,
        EventKind::CommandDone,
        EventKind::CommandFailed,
        EventKind::EmergencyShutdown,
        EventKind::EmergencyReboot,
        EventKind::Panic,
        EventKind::ShutdownStallReset,
        EventKind::ServiceStopForFailure,
        EventKind::ShutdownForFailure,
        EventKind::RebootForFailure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::ServiceStarted => "service-started",
            EventKind::ServiceStartRefused => "service-start-refused",
            EventKind::ServiceStopping => "service-stopping",
            EventKind::ServiceStopped => "service-stopped",
            EventKind::UncleanRestart => "unclean-restart",
            EventKind::StartupSyncWaiting => "startup-sync-waiting",
            EventKind::StartupSyncDone => "startup-sync-done",
            EventKind::StartupSyncTimeout => "startup-sync-timeout",
            EventKind::ClusterStarted => "cluster-started",
            EventKind::ClusterStopping => "cluster-stopping",
            EventKind::ClusterShutdown => "cluster-shutdown",
            EventKind::ClusterSuspended => "cluster-suspended",
            EventKind::ClusterResumed => "cluster-resumed",
            EventKind::ServerShutdown => "server-shutdown",
            EventKind::ConfigLoaded => "config-loaded",
            EventKind::ConfigWarning => "config-warning",
            EventKind::InsecureMode => "insecure-mode",
            EventKind::ProcessDied => "process-died",
            EventKind::ServerJoined => "server-joined",
            EventKind::HeartbeatPathUp => "heartbeat-path-up",
            EventKind::HeartbeatPathDown => "heartbeat-path-down",
            EventKind::ServerLost => "server-lost",
            EventKind::ServerPlannedDown => "server-planned-down",
            EventKind::ServerFailureDown => "server-failure-down",
            EventKind::ServerDownNotified => "server-down-notified",
            EventKind::ServerRestarted => "server-restarted",
            EventKind::ServerSuspended => "server-suspended",
            EventKind::ServerReturned => "server-returned",
            EventKind::ServerAutoReturned => "server-auto-returned",
            EventKind::ServerForceReturned => "server-force-returned",
            EventKind::ServerFailedOver => "server-failed-over",
            EventKind::NpResolutionStarted => "np-resolution-started",
            EventKind::NpResolvedPeerDown => "np-resolved-peer-down",
            EventKind::NpLostSelfIsolated => "np-lost-self-isolated",
            EventKind::NpLostMinority => "np-lost-minority",
            EventKind::NpLostTieBreak => "np-lost-tie-break",
            EventKind::NpResolutionFailed => "np-resolution-failed",
            EventKind::NpResolutionTimeout => "np-resolution-timeout",
            EventKind::NpUnresolved => "np-unresolved",
            EventKind::NpFallbackDisk => "np-fallback-disk",
            EventKind::NpTargetDown => "np-target-down",
            EventKind::NpTargetUp => "np-target-up",
            EventKind::GroupStarting => "group-starting",
            EventKind::GroupOnline => "group-online",
            EventKind::GroupStartFailed => "group-start-failed",
            EventKind::GroupStopping => "group-stopping",
            EventKind::GroupOffline => "group-offline",
            EventKind::GroupStopFailed => "group-stop-failed",
            EventKind::GroupMoving => "group-moving",
            EventKind::GroupMoved => "group-moved",
            EventKind::GroupMoveFailed => "group-move-failed",
            EventKind::GroupFailover => "group-failover",
            EventKind::GroupFailoverDone => "group-failover-done",
            EventKind::GroupFailoverFailed => "group-failover-failed",
            EventKind::GroupNoTarget => "group-no-target",
            EventKind::GroupFailoverHeld => "group-failover-held",
            EventKind::GroupFailback => "group-failback",
            EventKind::GroupRestarting => "group-restarting",
            EventKind::GroupRestarted => "group-restarted",
            EventKind::GroupRestartFailed => "group-restart-failed",
            EventKind::GroupStartWaiting => "group-start-waiting",
            EventKind::GroupStartBlocked => "group-start-blocked",
            EventKind::GroupDoubleOnline => "group-double-online",
            EventKind::ResourceActivating => "resource-activating",
            EventKind::ResourceOnline => "resource-online",
            EventKind::ResourceActivationFailed => "resource-activation-failed",
            EventKind::ResourceActivationRetry => "resource-activation-retry",
            EventKind::ResourceActivationIgnored => "resource-activation-ignored",
            EventKind::ResourceDeactivating => "resource-deactivating",
            EventKind::ResourceOffline => "resource-offline",
            EventKind::ResourceDeactivationFailed => "resource-deactivation-failed",
            EventKind::ResourceDeactivationRetry => "resource-deactivation-retry",
            EventKind::ResourceRestarting => "resource-restarting",
            EventKind::ResourceRestarted => "resource-restarted",
            EventKind::ResourceRestartFailed => "resource-restart-failed",
            EventKind::ActivationFinalAction => "activation-final-action",
            EventKind::DeactivationFinalAction => "deactivation-final-action",
            EventKind::ResourceTimeout => "resource-timeout",
            EventKind::ScriptStarted => "script-started",
            EventKind::ScriptDone => "script-done",
            EventKind::ScriptFailed => "script-failed",
            EventKind::ScriptSlow => "script-slow",
            EventKind::MonitorStarted => "monitor-started",
            EventKind::MonitorStopped => "monitor-stopped",
            EventKind::MonitorCheckFailed => "monitor-check-failed",
            EventKind::MonitorError => "monitor-error",
            EventKind::MonitorRecovered => "monitor-recovered",
            EventKind::MonitorStartFailed => "monitor-start-failed",
            EventKind::MonitorSuspended => "monitor-suspended",
            EventKind::MonitorResumed => "monitor-resumed",
            EventKind::RecoverySkipped => "recovery-skipped",
            EventKind::RecoveryReactivate => "recovery-reactivate",
            EventKind::RecoveryFailover => "recovery-failover",
            EventKind::RecoveryFinalAction => "recovery-final-action",
            EventKind::RecoveryFailed => "recovery-failed",
            EventKind::RecoveryCountersReset => "recovery-counters-reset",
            EventKind::UserSpaceStall => "user-space-stall",
            EventKind::MonitorUnknown => "monitor-unknown",
            EventKind::MirrorConnectDown => "mirror-connect-down",
            EventKind::MirrorConnectUp => "mirror-connect-up",
            EventKind::MirrorConnectPathDown => "mirror-connect-path-down",
            EventKind::MirrorBreak => "mirror-break",
            EventKind::MirrorRebuildStarted => "mirror-rebuild-started",
            EventKind::MirrorRebuildDone => "mirror-rebuild-done",
            EventKind::MirrorRebuildFailed => "mirror-rebuild-failed",
            EventKind::MirrorFullCopy => "mirror-full-copy",
            EventKind::MirrorNoCopyNeeded => "mirror-no-copy-needed",
            EventKind::MirrorStaleRefused => "mirror-stale-refused",
            EventKind::MirrorLatestUndetermined => "mirror-latest-undetermined",
            EventKind::MirrorForced => "mirror-forced",
            EventKind::MirrorDiskError => "mirror-disk-error",
            EventKind::MirrorDoubleActive => "mirror-double-active",
            EventKind::MirrorWritesLost => "mirror-writes-lost",
            EventKind::MirrorRebuildNeeded => "mirror-rebuild-needed",
            EventKind::CommandAccepted => "command-accepted",
            EventKind::CommandRefused => "command-refused",
            EventKind::CommandDone => "command-done",
            EventKind::CommandFailed => "command-failed",
            EventKind::EmergencyShutdown => "emergency-shutdown",
            EventKind::EmergencyReboot => "emergency-reboot",
            EventKind::Panic => "panic",
            EventKind::ShutdownStallReset => "shutdown-stall-reset",
            EventKind::ServiceStopForFailure => "service-stop-for-failure",
            EventKind::ShutdownForFailure => "shutdown-for-failure",
            EventKind::RebootForFailure => "reboot-for-failure",
        }
    }

    pub fn id(self) -> u16 {
        match self {
            EventKind::ServiceStarted => 100,
            EventKind::ServiceStartRefused => 101,
            EventKind::ServiceStopping => 102,
            EventKind::ServiceStopped => 103,
            EventKind::UncleanRestart => 104,
            EventKind::StartupSyncWaiting => 105,
            EventKind::StartupSyncDone => 106,
            EventKind::StartupSyncTimeout => 107,
            EventKind::ClusterStarted => 108,
            EventKind::ClusterStopping => 109,
            EventKind::ClusterShutdown => 110,
            EventKind::ClusterSuspended => 111,
            EventKind::ClusterResumed => 112,
            EventKind::ServerShutdown => 113,
            EventKind::ConfigLoaded => 114,
            EventKind::ConfigWarning => 115,
            EventKind::InsecureMode => 116,
            EventKind::ProcessDied => 117,
            EventKind::ServerJoined => 200,
            EventKind::HeartbeatPathUp => 201,
            EventKind::HeartbeatPathDown => 202,
            EventKind::ServerLost => 203,
            EventKind::ServerPlannedDown => 204,
            EventKind::ServerFailureDown => 205,
            EventKind::ServerDownNotified => 206,
            EventKind::ServerRestarted => 207,
            EventKind::ServerSuspended => 208,
            EventKind::ServerReturned => 209,
            EventKind::ServerAutoReturned => 210,
            EventKind::ServerForceReturned => 211,
            EventKind::ServerFailedOver => 212,
            EventKind::NpResolutionStarted => 300,
            EventKind::NpResolvedPeerDown => 301,
            EventKind::NpLostSelfIsolated => 302,
            EventKind::NpLostMinority => 303,
            EventKind::NpLostTieBreak => 304,
            EventKind::NpResolutionFailed => 305,
            EventKind::NpResolutionTimeout => 306,
            EventKind::NpUnresolved => 307,
            EventKind::NpFallbackDisk => 308,
            EventKind::NpTargetDown => 309,
            EventKind::NpTargetUp => 310,
            EventKind::GroupStarting => 400,
            EventKind::GroupOnline => 401,
            EventKind::GroupStartFailed => 402,
            EventKind::GroupStopping => 403,
            EventKind::GroupOffline => 404,
            EventKind::GroupStopFailed => 405,
            EventKind::GroupMoving => 406,
            EventKind::GroupMoved => 407,
            EventKind::GroupMoveFailed => 408,
            EventKind::GroupFailover => 409,
            EventKind::GroupFailoverDone => 410,
            EventKind::GroupFailoverFailed => 411,
            EventKind::GroupNoTarget => 412,
            EventKind::GroupFailoverHeld => 413,
            EventKind::GroupFailback => 414,
            EventKind::GroupRestarting => 415,
            EventKind::GroupRestarted => 416,
            EventKind::GroupRestartFailed => 417,
            EventKind::GroupStartWaiting => 418,
            EventKind::GroupStartBlocked => 419,
            EventKind::GroupDoubleOnline => 420,
            EventKind::ResourceActivating => 500,
            EventKind::ResourceOnline => 501,
            EventKind::ResourceActivationFailed => 502,
            EventKind::ResourceActivationRetry => 503,
            EventKind::ResourceActivationIgnored => 504,
            EventKind::ResourceDeactivating => 505,
            EventKind::ResourceOffline => 506,
            EventKind::ResourceDeactivationFailed => 507,
            EventKind::ResourceDeactivationRetry => 508,
            EventKind::ResourceRestarting => 509,
            EventKind::ResourceRestarted => 510,
            EventKind::ResourceRestartFailed => 511,
            EventKind::ActivationFinalAction => 512,
            EventKind::DeactivationFinalAction => 513,
            EventKind::ResourceTimeout => 514,
            EventKind::ScriptStarted => 515,
            EventKind::ScriptDone => 516,
            EventKind::ScriptFailed => 517,
            EventKind::ScriptSlow => 518,
            EventKind::MonitorStarted => 600,
            EventKind::MonitorStopped => 601,
            EventKind::MonitorCheckFailed => 602,
            EventKind::MonitorError => 603,
            EventKind::MonitorRecovered => 604,
            EventKind::MonitorStartFailed => 605,
            EventKind::MonitorSuspended => 606,
            EventKind::MonitorResumed => 607,
            EventKind::RecoverySkipped => 608,
            EventKind::RecoveryReactivate => 609,
            EventKind::RecoveryFailover => 610,
            EventKind::RecoveryFinalAction => 611,
            EventKind::RecoveryFailed => 612,
            EventKind::RecoveryCountersReset => 613,
            EventKind::UserSpaceStall => 614,
            EventKind::MonitorUnknown => 615,
            EventKind::MirrorConnectDown => 700,
            EventKind::MirrorConnectUp => 701,
            EventKind::MirrorConnectPathDown => 702,
            EventKind::MirrorBreak => 703,
            EventKind::MirrorRebuildStarted => 704,
            EventKind::MirrorRebuildDone => 705,
            EventKind::MirrorRebuildFailed => 706,
            EventKind::MirrorFullCopy => 707,
            EventKind::MirrorNoCopyNeeded => 708,
            EventKind::MirrorStaleRefused => 709,
            EventKind::MirrorLatestUndetermined => 710,
            EventKind::MirrorForced => 711,
            EventKind::MirrorDiskError => 712,
            EventKind::MirrorDoubleActive => 713,
            EventKind::MirrorWritesLost => 714,
            EventKind::MirrorRebuildNeeded => 715,
            EventKind::CommandAccepted => 800,
            EventKind::CommandRefused => 801,
            EventKind::CommandDone => 802,
            EventKind::CommandFailed => 803,
            EventKind::EmergencyShutdown => 900,
            EventKind::EmergencyReboot => 901,
            EventKind::Panic => 902,
            EventKind::ShutdownStallReset => 903,
            EventKind::ServiceStopForFailure => 904,
            EventKind::ShutdownForFailure => 905,
            EventKind::RebootForFailure => 906,
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            EventKind::ServiceStarted => Severity::Info,
            EventKind::ServiceStartRefused => Severity::Error,
            EventKind::ServiceStopping => Severity::Info,
            EventKind::ServiceStopped => Severity::Info,
            EventKind::UncleanRestart => Severity::Warning,
            EventKind::StartupSyncWaiting => Severity::Info,
            EventKind::StartupSyncDone => Severity::Info,
            EventKind::StartupSyncTimeout => Severity::Warning,
            EventKind::ClusterStarted => Severity::Info,
            EventKind::ClusterStopping => Severity::Info,
            EventKind::ClusterShutdown => Severity::Info,
            EventKind::ClusterSuspended => Severity::Info,
            EventKind::ClusterResumed => Severity::Info,
            EventKind::ServerShutdown => Severity::Info,
            EventKind::ConfigLoaded => Severity::Info,
            EventKind::ConfigWarning => Severity::Warning,
            EventKind::InsecureMode => Severity::Warning,
            EventKind::ProcessDied => Severity::Error,
            EventKind::ServerJoined => Severity::Info,
            EventKind::HeartbeatPathUp => Severity::Info,
            EventKind::HeartbeatPathDown => Severity::Warning,
            EventKind::ServerLost => Severity::Error,
            EventKind::ServerPlannedDown => Severity::Warning,
            EventKind::ServerFailureDown => Severity::Error,
            EventKind::ServerDownNotified => Severity::Error,
            EventKind::ServerRestarted => Severity::Warning,
            EventKind::ServerSuspended => Severity::Warning,
            EventKind::ServerReturned => Severity::Info,
            EventKind::ServerAutoReturned => Severity::Info,
            EventKind::ServerForceReturned => Severity::Warning,
            EventKind::ServerFailedOver => Severity::Info,
            EventKind::NpResolutionStarted => Severity::Info,
            EventKind::NpResolvedPeerDown => Severity::Info,
            EventKind::NpLostSelfIsolated => Severity::Error,
            EventKind::NpLostMinority => Severity::Error,
            EventKind::NpLostTieBreak => Severity::Error,
            EventKind::NpResolutionFailed => Severity::Error,
            EventKind::NpResolutionTimeout => Severity::Error,
            EventKind::NpUnresolved => Severity::Warning,
            EventKind::NpFallbackDisk => Severity::Info,
            EventKind::NpTargetDown => Severity::Warning,
            EventKind::NpTargetUp => Severity::Info,
            EventKind::GroupStarting => Severity::Info,
            EventKind::GroupOnline => Severity::Info,
            EventKind::GroupStartFailed => Severity::Error,
            EventKind::GroupStopping => Severity::Info,
            EventKind::GroupOffline => Severity::Info,
            EventKind::GroupStopFailed => Severity::Error,
            EventKind::GroupMoving => Severity::Info,
            EventKind::GroupMoved => Severity::Info,
            EventKind::GroupMoveFailed => Severity::Error,
            EventKind::GroupFailover => Severity::Warning,
            EventKind::GroupFailoverDone => Severity::Info,
            EventKind::GroupFailoverFailed => Severity::Error,
            EventKind::GroupNoTarget => Severity::Error,
            EventKind::GroupFailoverHeld => Severity::Warning,
            EventKind::GroupFailback => Severity::Info,
            EventKind::GroupRestarting => Severity::Info,
            EventKind::GroupRestarted => Severity::Info,
            EventKind::GroupRestartFailed => Severity::Error,
            EventKind::GroupStartWaiting => Severity::Info,
            EventKind::GroupStartBlocked => Severity::Warning,
            EventKind::GroupDoubleOnline => Severity::Error,
            EventKind::ResourceActivating => Severity::Info,
            EventKind::ResourceOnline => Severity::Info,
            EventKind::ResourceActivationFailed => Severity::Error,
            EventKind::ResourceActivationRetry => Severity::Warning,
            EventKind::ResourceActivationIgnored => Severity::Warning,
            EventKind::ResourceDeactivating => Severity::Info,
            EventKind::ResourceOffline => Severity::Info,
            EventKind::ResourceDeactivationFailed => Severity::Error,
            EventKind::ResourceDeactivationRetry => Severity::Warning,
            EventKind::ResourceRestarting => Severity::Info,
            EventKind::ResourceRestarted => Severity::Info,
            EventKind::ResourceRestartFailed => Severity::Error,
            EventKind::ActivationFinalAction => Severity::Error,
            EventKind::DeactivationFinalAction => Severity::Error,
            EventKind::ResourceTimeout => Severity::Error,
            EventKind::ScriptStarted => Severity::Info,
            EventKind::ScriptDone => Severity::Info,
            EventKind::ScriptFailed => Severity::Error,
            EventKind::ScriptSlow => Severity::Warning,
            EventKind::MonitorStarted => Severity::Info,
            EventKind::MonitorStopped => Severity::Info,
            EventKind::MonitorCheckFailed => Severity::Warning,
            EventKind::MonitorError => Severity::Error,
            EventKind::MonitorRecovered => Severity::Info,
            EventKind::MonitorStartFailed => Severity::Error,
            EventKind::MonitorSuspended => Severity::Info,
            EventKind::MonitorResumed => Severity::Info,
            EventKind::RecoverySkipped => Severity::Warning,
            EventKind::RecoveryReactivate => Severity::Info,
            EventKind::RecoveryFailover => Severity::Warning,
            EventKind::RecoveryFinalAction => Severity::Error,
            EventKind::RecoveryFailed => Severity::Error,
            EventKind::RecoveryCountersReset => Severity::Info,
            EventKind::UserSpaceStall => Severity::Error,
            EventKind::MonitorUnknown => Severity::Warning,
            EventKind::MirrorConnectDown => Severity::Warning,
            EventKind::MirrorConnectUp => Severity::Info,
            EventKind::MirrorConnectPathDown => Severity::Warning,
            EventKind::MirrorBreak => Severity::Warning,
            EventKind::MirrorRebuildStarted => Severity::Info,
            EventKind::MirrorRebuildDone => Severity::Info,
            EventKind::MirrorRebuildFailed => Severity::Error,
            EventKind::MirrorFullCopy => Severity::Warning,
            EventKind::MirrorNoCopyNeeded => Severity::Info,
            EventKind::MirrorStaleRefused => Severity::Error,
            EventKind::MirrorLatestUndetermined => Severity::Error,
            EventKind::MirrorForced => Severity::Warning,
            EventKind::MirrorDiskError => Severity::Error,
            EventKind::MirrorDoubleActive => Severity::Error,
            EventKind::MirrorWritesLost => Severity::Warning,
            EventKind::MirrorRebuildNeeded => Severity::Info,
            EventKind::CommandAccepted => Severity::Info,
            EventKind::CommandRefused => Severity::Warning,
            EventKind::CommandDone => Severity::Info,
            EventKind::CommandFailed => Severity::Error,
            EventKind::EmergencyShutdown => Severity::Error,
            EventKind::EmergencyReboot => Severity::Error,
            EventKind::Panic => Severity::Error,
            EventKind::ShutdownStallReset => Severity::Error,
            EventKind::ServiceStopForFailure => Severity::Error,
            EventKind::ShutdownForFailure => Severity::Error,
            EventKind::RebootForFailure => Severity::Error,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            EventKind::ServiceStarted => "the cluster service of S started (on S)",
            EventKind::ServiceStartRefused => "the configuration is missing, invalid or does not name this host; the service does not start (on S) (B1)",
            EventKind::ServiceStopping => "the service of S begins to stop (on S)",
            EventKind::ServiceStopped => "the service of S stopped cleanly (on S)",
            EventKind::UncleanRestart => "the service starts and finds that its previous run ended uncleanly (on S) (B22–B24)",
            EventKind::StartupSyncWaiting => "S entered startup synchronisation (on S) (B3)",
            EventKind::StartupSyncDone => "every configured server started; the cluster forms (on each waiting server) (B3)",
            EventKind::StartupSyncTimeout => "`sync_wait` ran out; the cluster forms without the missing servers, which are listed (on each waiting server) (B3)",
            EventKind::ClusterStarted => "the cluster formed; placement begins (on the coordinator) (B3, B5)",
            EventKind::ClusterStopping => "`cluster stop` accepted (on every server) (B67)",
            EventKind::ClusterShutdown => "`cluster shutdown` accepted (on every server) (B67)",
            EventKind::ClusterSuspended => "the cluster is suspended (on every server) (B122)",
            EventKind::ClusterResumed => "the cluster resumed (on every server) (B122)",
            EventKind::ServerShutdown => "S begins a planned shutdown (command or OS shutdown) (on S) (B68)",
            EventKind::ConfigLoaded => "the configuration was accepted at service start, with its digest (on S)",
            EventKind::ConfigWarning => "the checker found a warning (no resolver, short timeout, missing script…) (on S) (B133)",
            EventKind::InsecureMode => "the service runs with `insecure = true` (on S) (B133)",
            EventKind::ProcessDied => "a core process of the service died; S stops its groups and shuts down (on S) (B130)",
            EventKind::ServerJoined => "a server became a member (on every online server) (B2, B3)",
            EventKind::HeartbeatPathUp => "heartbeats from a peer arrive again on a path (on the receiver) (B11)",
            EventKind::HeartbeatPathDown => "nothing arrived from a peer on a path for `heartbeat_timeout` while another path works (on the receiver) (B11)",
            EventKind::ServerLost => "a peer was silent on every path for `heartbeat_timeout` (at D, on each detecting server) (B13)",
            EventKind::ServerPlannedDown => "a peer's departure notice after a clean end was received (on each receiver) (B14)",
            EventKind::ServerFailureDown => "a peer departed through a final action that stops its service (on each receiver) (B15)",
            EventKind::ServerDownNotified => "S received a down notice, or lost a mutual down judgement; it runs `np_action` next (on S) (B16, B17)",
            EventKind::ServerRestarted => "S restarted after an unclean end before any peer judged it lost (on S) (B18)",
            EventKind::ServerSuspended => "S is back after an unclean end and waits for `server return` (on S) (B23)",
            EventKind::ServerReturned => "`server return` made S online (on S) (B25)",
            EventKind::ServerAutoReturned => "S returned by itself (`auto_return`) (on S) (B24)",
            EventKind::ServerForceReturned => "`server return --force` made S online alone (on S) (B26)",
            EventKind::ServerFailedOver => "every group of a lost or departed server has been placed or left offline (on the coordinator) (B55)",
            EventKind::NpResolutionStarted => "resolution began for the listed lost peers (at D, on the resolving server) (B34)",
            EventKind::NpResolvedPeerDown => "the verdict judged the lost peers down; S survives (at V, on S) (B35)",
            EventKind::NpLostSelfIsolated => "ping or http: no target answered; S is cut off (at V, on S) (B36, B37)",
            EventKind::NpLostMinority => "majority: S hears fewer than half of the servers (at V, on S) (B42)",
            EventKind::NpLostTieBreak => "serial, disk or majority: a partition where the tie-break server is on the other side (at V, on S) (B38, B39, B42)",
            EventKind::NpResolutionFailed => "the resolver cannot decide: serial or http pre-failed, own disk I/O failed (at V, on S) (B37–B41)",
            EventKind::NpResolutionTimeout => "own disk I/O took longer than `io_wait` during resolution (at V, on S) (B39)",
            EventKind::NpUnresolved => "a lost peer could not be resolved (no resolver, ping pre-failed); S takes over anyway (at V, on S) (B35, B36, B43)",
            EventKind::NpFallbackDisk => "a serial+disk or ping+disk unit uses the disk rule (on S) (B40, B41)",
            EventKind::NpTargetDown => "a resolver failed `retries` checks in a row on S (on S) (B31)",
            EventKind::NpTargetUp => "a failing resolver answered again (on S) (B31)",
            EventKind::GroupStarting => "a group begins to start (on its server) (B63)",
            EventKind::GroupOnline => "every resource of the group is online or ignored (on its server) (B63)",
            EventKind::GroupStartFailed => "a start ended in `error` after an activation final action (on its server) (B71)",
            EventKind::GroupStopping => "a group begins to stop (on its server) (B64)",
            EventKind::GroupOffline => "every resource of the group is offline (on its former server) (B64)",
            EventKind::GroupStopFailed => "a stop ended in `error` after a deactivation final action `none` (on its server) (B72)",
            EventKind::GroupMoving => "a move began (on the source) (B65)",
            EventKind::GroupMoved => "a move or failback completed (on the target) (B65)",
            EventKind::GroupMoveFailed => "a move did not complete (on the source or target) (B65, B72)",
            EventKind::GroupFailover => "a group is started on a new server because of a server loss or departure, an activation failure or a monitor failover (on the target, when it begins) (B55, B70, B83)",
            EventKind::GroupFailoverDone => "that start completed (on the target)",
            EventKind::GroupFailoverFailed => "that start failed (on the target)",
            EventKind::GroupNoTarget => "a group must move but no server is eligible; it stays offline (on the coordinator) (B55, B83)",
            EventKind::GroupFailoverHeld => "a `failover = \"manual\"` group lost its server and stays offline (on the coordinator) (B55)",
            EventKind::GroupFailback => "an auto failback move began (on the source) (B57)",
            EventKind::GroupRestarting => "a group reactivation began (on its server) (B83)",
            EventKind::GroupRestarted => "a group reactivation completed (on its server)",
            EventKind::GroupRestartFailed => "a group reactivation failed (on its server)",
            EventKind::GroupStartWaiting => "a start waits for its `start_after` groups (on the coordinator) (B54)",
            EventKind::GroupStartBlocked => "a `start_after` group is offline with no start pending; the start stays pending (on the coordinator) (B54)",
            EventKind::GroupDoubleOnline => "a group was found online on two servers when they heard each other again (on the surviving server) (B17)",
            EventKind::ResourceActivating => "an activation began (on the server) (B63)",
            EventKind::ResourceOnline => "an activation succeeded, with its duration (on the server)",
            EventKind::ResourceActivationFailed => "an activation failed, with the reason (script exit, timeout, address in use, device error, mirror not latest) (on the server) (B70)",
            EventKind::ResourceActivationRetry => "an activation is retried in place (on the server) (B70)",
            EventKind::ResourceActivationIgnored => "final action `ignore`: the failed resource is skipped (on the server) (B71)",
            EventKind::ResourceDeactivating => "a deactivation began (on the server) (B64)",
            EventKind::ResourceOffline => "a deactivation succeeded (on the server)",
            EventKind::ResourceDeactivationFailed => "a deactivation failed, with the reason (on the server) (B72)",
            EventKind::ResourceDeactivationRetry => "a deactivation is retried (on the server) (B72)",
            EventKind::ResourceRestarting => "a resource reactivation began (on the server) (B83)",
            EventKind::ResourceRestarted => "a resource reactivation completed (on the server)",
            EventKind::ResourceRestartFailed => "a resource reactivation failed (on the server)",
            EventKind::ActivationFinalAction => "the activation ladder reached its final action, which is named (on the server) (B70, B71)",
            EventKind::DeactivationFinalAction => "the deactivation ladder reached its final action, which is named (on the server) (B72)",
            EventKind::ResourceTimeout => "an activation or deactivation exceeded the resource `timeout` (on the server) (B73)",
            EventKind::ScriptStarted => "an exec script run began, with its `CLP_*` environment (on the server) (B90)",
            EventKind::ScriptDone => "an exec script run exited 0 (on the server)",
            EventKind::ScriptFailed => "an exec script run exited non-zero, could not start, or was killed (on the server) (B90, B93)",
            EventKind::ScriptSlow => "an exec script has been running for 3 minutes (once per run) (on the server)",
            EventKind::MonitorStarted => "a monitor started on the server (B80)",
            EventKind::MonitorStopped => "a monitor stopped on the server (B80)",
            EventKind::MonitorCheckFailed => "a check failed but fewer than `retries + 1` in a row (B81)",
            EventKind::MonitorError => "failure `retries + 1` in a row: the monitor is in error, with the detail (B81)",
            EventKind::MonitorRecovered => "a good check after an error (B81)",
            EventKind::MonitorStartFailed => "a monitor could not start (missing interface, watchdog device…)",
            EventKind::MonitorSuspended => "`monitor suspend` took effect (on each affected server) (B86)",
            EventKind::MonitorResumed => "`monitor resume` took effect (on each affected server) (B86)",
            EventKind::RecoverySkipped => "the recovery target is not online on this server; no action (B83)",
            EventKind::RecoveryReactivate => "the recovery target is reactivated, with the count (B83)",
            EventKind::RecoveryFailover => "the group of the recovery target is failed over, with the count (B83)",
            EventKind::RecoveryFinalAction => "both thresholds are spent; the final action, which is named, runs (B83)",
            EventKind::RecoveryFailed => "a recovery action did not complete (B83)",
            EventKind::RecoveryCountersReset => "a monitor's or resource's counters reset after `counter_reset_after` (B58, B85)",
            EventKind::UserSpaceStall => "the watchdog found the service frozen for `heartbeat_timeout`; `stall_action` runs (B87)",
            EventKind::MonitorUnknown => "a check could not be made (its target does not exist yet)",
            EventKind::MirrorConnectDown => "no mirror connect network carries traffic between the sides (on each side's running server) (B102)",
            EventKind::MirrorConnectUp => "a mirror connect carries traffic again (on each side)",
            EventKind::MirrorConnectPathDown => "one of two mirror connect networks failed; mirroring continues on the other (on each side) (B102)",
            EventKind::MirrorBreak => "the mirror is online on one side without the other: break time recorded, that side ahead (on the online server) (B102)",
            EventKind::MirrorRebuildStarted => "a copy began, with direction and full or differential (on the source) (B107)",
            EventKind::MirrorRebuildDone => "the copy ended; the mirror is normal (on the source) (B109)",
            EventKind::MirrorRebuildFailed => "a copy stopped before its end (on the source, or the destination if the source is gone) (B110)",
            EventKind::MirrorFullCopy => "the next or current copy must be full, with the reason (on the source) (B108)",
            EventKind::MirrorNoCopyNeeded => "nothing was written since the break; normal at once (on the source) (B109)",
            EventKind::MirrorStaleRefused => "activation refused: this side does not hold the latest data, or a rebuild toward it runs (on the server) (B106)",
            EventKind::MirrorLatestUndetermined => "the side holding the latest data cannot be determined (on each running side) (B106)",
            EventKind::MirrorForced => "`mirror force` declared this side latest (on the named server) (B112)",
            EventKind::MirrorDiskError => "an I/O error on a side's data device (on that server) (B116)",
            EventKind::MirrorDoubleActive => "the mirror was online on both sides when they heard each other again (on the surviving server) (B117)",
            EventKind::MirrorWritesLost => "async writes not yet sent were lost at a failover, with the amount (on the new online server) (B101)",
            EventKind::MirrorRebuildNeeded => "a side is behind but the automatic rebuild conditions are not met; `mirror rebuild` is needed (on the server of the latest side) (B107)",
            EventKind::CommandAccepted => "a command passed its checks (on the server that took it) (B120)",
            EventKind::CommandRefused => "a command was refused, with the reason (on the server that took it) (B120–B122)",
            EventKind::CommandDone => "an accepted command finished (on the server that took it)",
            EventKind::CommandFailed => "an accepted command could not finish, with the reason (on the server that took it) (B120)",
            EventKind::EmergencyShutdown => "S powers itself off at once, releasing its resources without stop scripts (on S, as its last act) (B45, B130)",
            EventKind::EmergencyReboot => "S powers itself off at once and boots again (on S) (B45, B87, B116)",
            EventKind::Panic => "S halts its kernel at once (on S) (B45)",
            EventKind::ShutdownStallReset => "a clean shutdown did not power the machine off within `heartbeat_timeout`; the watchdog resets it (on S) (B130)",
            EventKind::ServiceStopForFailure => "a final action or `np_action` stops the service of S; the machine stays up (on S) (B45, B71)",
            EventKind::ShutdownForFailure => "a final action stops the groups of S, then shuts its OS down (on S) (B71, B72)",
            EventKind::RebootForFailure => "a final action stops the groups of S, then reboots it (on S) (B71)",
        }
    }

    pub fn seed(self) -> &'static str {
        match self {
            EventKind::ServiceStarted => "001 pm 1; 000 1100",
            EventKind::ServiceStartRefused => "001 pm 13, 14, 15; 000 2",
            EventKind::ServiceStopping => "001 pm 2",
            EventKind::ServiceStopped => "001 pm 24",
            EventKind::UncleanRestart => "000 1101",
            EventKind::StartupSyncWaiting => "002 Ch8 sync wait; 000 §1.4.2",
            EventKind::StartupSyncDone => "002 Ch8",
            EventKind::StartupSyncTimeout => "000 §2.1.2; 002 Ch8",
            EventKind::ClusterStarted => "001 §11.1 start sequence",
            EventKind::ClusterStopping => "001 pm 31",
            EventKind::ClusterShutdown => "000 2002; 001 rc 90",
            EventKind::ClusterSuspended => "001 pm 35",
            EventKind::ClusterResumed => "001 pm 34",
            EventKind::ServerShutdown => "000 2003; 001 rc 91",
            EventKind::ConfigLoaded => "—",
            EventKind::ConfigWarning => "000 §1.4.1 minimum timeouts",
            EventKind::InsecureMode => "—",
            EventKind::ProcessDied => "001 pm 20, §10.3; 000 5000, 1306",
            EventKind::ServerJoined => "001 nm 1",
            EventKind::HeartbeatPathUp => "001 nm 3; 000 2000, 2011",
            EventKind::HeartbeatPathDown => "001 nm 4; 000 2101, 2105; 002 Ch7 D7",
            EventKind::ServerLost => "000 2212; 001 nm 2",
            EventKind::ServerPlannedDown => "000 2107",
            EventKind::ServerFailureDown => "001 rm 15, 16, 17",
            EventKind::ServerDownNotified => "000 2207, 5005, 19001",
            EventKind::ServerRestarted => "002 Ch1 boot time vs heartbeat timeout",
            EventKind::ServerSuspended => "000 §7.1.1 \"starting in unrecovered state after server down\"",
            EventKind::ServerReturned => "000 2004",
            EventKind::ServerAutoReturned => "000 §4 auto return",
            EventKind::ServerForceReturned => "000 2004 (forced return)",
            EventKind::ServerFailedOver => "000 2001; 000 §7.1.1 \"failover processing completed\"",
            EventKind::NpResolutionStarted => "000 §7.4.2 STC \"NP resolution started\"",
            EventKind::NpResolvedPeerDown => "000 §7.4.2 STC \"NP resolution completed\"",
            EventKind::NpLostSelfIsolated => "002 Ch2 PING, HTTP",
            EventKind::NpLostMinority => "000 19000; 002 Ch2 majority",
            EventKind::NpLostTieBreak => "000 2205, 4213, 5004, 23003; 002 Ch2 COM, DISK, majority",
            EventKind::NpResolutionFailed => "000 2206, 2209, 4221, 23004; 002 Ch2 COM, DISK, HTTP",
            EventKind::NpResolutionTimeout => "000 2208; 002 Ch2 DISK",
            EventKind::NpUnresolved => "002 Ch2 none, PING method table",
            EventKind::NpFallbackDisk => "002 Ch2 COM+DISK, PING+DISK",
            EventKind::NpTargetDown => "000 23001, 5006; 002 Ch7 D12",
            EventKind::NpTargetUp => "000 23002",
            EventKind::GroupStarting => "001 rc 10; 000 §7.4.2 RSC \"started automatically\"",
            EventKind::GroupOnline => "001 rc 11; 000 2007",
            EventKind::GroupStartFailed => "001 rc 12; 000 9003",
            EventKind::GroupStopping => "001 rc 20",
            EventKind::GroupOffline => "001 rc 21; 000 2006",
            EventKind::GroupStopFailed => "001 rc 22; 000 21014",
            EventKind::GroupMoving => "001 rc 50",
            EventKind::GroupMoved => "001 rc 51; 000 2008",
            EventKind::GroupMoveFailed => "001 rc 52",
            EventKind::GroupFailover => "001 rc 60; 000 2009",
            EventKind::GroupFailoverDone => "001 rc 61",
            EventKind::GroupFailoverFailed => "001 rc 62; 000 21013",
            EventKind::GroupNoTarget => "000 21013; 003 §1.1.1.4",
            EventKind::GroupFailoverHeld => "002 §Ch5 group attributes",
            EventKind::GroupFailback => "002 Ch6 6.12; 004 §6.2.4",
            EventKind::GroupRestarting => "001 rc 70",
            EventKind::GroupRestarted => "001 rc 71; 000 2010",
            EventKind::GroupRestartFailed => "001 rc 72",
            EventKind::GroupStartWaiting => "—",
            EventKind::GroupStartBlocked => "—",
            EventKind::GroupDoubleOnline => "001 rc 92",
            EventKind::ResourceActivating => "001 rc 30",
            EventKind::ResourceOnline => "001 rc 31; 000 §7.4.2 RSC",
            EventKind::ResourceActivationFailed => "001 rc 32; 000 16000, 16009, 4211, 11300, 13201",
            EventKind::ResourceActivationRetry => "003 §1.1.1.3 floating-IP retry",
            EventKind::ResourceActivationIgnored => "002 §Ch5 final action \"do nothing, activate the next\"",
            EventKind::ResourceDeactivating => "001 rc 40",
            EventKind::ResourceOffline => "001 rc 41",
            EventKind::ResourceDeactivationFailed => "001 rc 42; 000 16008, 4212, 11303, 13202",
            EventKind::ResourceDeactivationRetry => "000 4131, 13101",
            EventKind::ResourceRestarting => "001 rc 80",
            EventKind::ResourceRestarted => "001 rc 81",
            EventKind::ResourceRestartFailed => "001 rc 82",
            EventKind::ActivationFinalAction => "001 §10.1; 002 Ch7 RS6",
            EventKind::DeactivationFinalAction => "000 §7.4.2 RSC \"shuts the system down\"; 001 pm 21",
            EventKind::ResourceTimeout => "001 §12.4.3 exec \"not completed within\"; 000 9000, 9001",
            EventKind::ScriptStarted => "000 §7.4.3 script log",
            EventKind::ScriptDone => "000 §7.4.3",
            EventKind::ScriptFailed => "001 §12.4.3 \"Termination code\"; 000 9002, 9003",
            EventKind::ScriptSlow => "000 9004, 9005",
            EventKind::MonitorStarted => "001 rm 1",
            EventKind::MonitorStopped => "001 rm 2",
            EventKind::MonitorCheckFailed => "001 rm 4",
            EventKind::MonitorError => "001 rm 9; 000 21011, 21015, 14015",
            EventKind::MonitorRecovered => "001 rm 26",
            EventKind::MonitorStartFailed => "001 rm 7, rm 28",
            EventKind::MonitorSuspended => "002 Ch8 monitor control",
            EventKind::MonitorResumed => "000 21000",
            EventKind::RecoverySkipped => "001 rm 25",
            EventKind::RecoveryReactivate => "001 rm 13; 000 14000",
            EventKind::RecoveryFailover => "001 rm 14; 000 21011 action 2",
            EventKind::RecoveryFinalAction => "001 rm 12, 15, 16, 17; 000 21011 actions 1, 3",
            EventKind::RecoveryFailed => "001 rm 18–23",
            EventKind::RecoveryCountersReset => "003 §1.1.1.4",
            EventKind::UserSpaceStall => "000 5012; 001 §10.5",
            EventKind::MonitorUnknown => "001 rm 27",
            EventKind::MirrorConnectDown => "000 13203; 001 mdnw 31; 002 Ch7 D15",
            EventKind::MirrorConnectUp => "000 13022; 000 RASCAL 24",
            EventKind::MirrorConnectPathDown => "000 13122, 13021, RASCAL 22, 23; 002 Ch7 D14",
            EventKind::MirrorBreak => "000 §4.2.1; 001 §12.2 \"mirror break occurred\"",
            EventKind::MirrorRebuildStarted => "001 mdadm 17, 7; 000 §7.4.2 NDRSC \"mirror build starting\"",
            EventKind::MirrorRebuildDone => "001 mdadm 6; 000 13001",
            EventKind::MirrorRebuildFailed => "001 mdadm 5; 000 13206",
            EventKind::MirrorFullCopy => "000 13011, 13111",
            EventKind::MirrorNoCopyNeeded => "000 §7.4.2 NDRSC \"contents already identical\"",
            EventKind::MirrorStaleRefused => "001 md 81, mdadm 1; 000 13201",
            EventKind::MirrorLatestUndetermined => "001 mdadm 5 \"Can not judge the recovery direction\", mdw 65",
            EventKind::MirrorForced => "000 §7.4.2 NDRSC \"force-recovered\"; 001 §11.10.5",
            EventKind::MirrorDiskError => "001 §10.8, §12.2 \"disk I/O error\"; 000 RASCAL 3, 4",
            EventKind::MirrorDoubleActive => "001 mdw 66",
            EventKind::MirrorWritesLost => "002 Ch1 asynchronous mirror",
            EventKind::MirrorRebuildNeeded => "001 §11.10.1",
            EventKind::CommandAccepted => "000 §7.4.2 STC command intake",
            EventKind::CommandRefused => "000 §7.4.5 cause table; 001 §6.3.1 \"Failed invalid server status\"",
            EventKind::CommandDone => "000 §7.4.5 \"executed normally\"",
            EventKind::CommandFailed => "000 §7.4.5 \"was not executed\"",
            EventKind::EmergencyShutdown => "002 Ch2 NP \"emergency shutdown\"; 000 2205, 19000",
            EventKind::EmergencyReboot => "001 §10.9 monp 8",
            EventKind::Panic => "002 Ch5 intentional stop error; 000 §1.4.4 STOP error",
            EventKind::ShutdownStallReset => "001 §10.6 pm 3",
            EventKind::ServiceStopForFailure => "001 rm 15; monp 4",
            EventKind::ShutdownForFailure => "001 rm 16, pm 23, §10.1",
            EventKind::RebootForFailure => "001 rm 17, pm 25",
        }
    }

    /// Looks an event up by its catalogue name.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

// ---------------------------------------------------------------------------------------------
// The user documentation `docs/events.md`, rendered from the catalogue above.
// `core/tests/events_doc.rs` checks that the file equals `EventKind::catalogue_markdown()`.
// ---------------------------------------------------------------------------------------------

/// How many ids each module owns: module `n` owns `n00..=n99`.
const RANGE_WIDTH: u16 = 100;

/// The id ranges of the catalogue, in order: (first id, section title, module).
const ID_RANGES: [(u16, &str, &str); 9] = [
    (100, "Cluster service and lifecycle", "cluster service and cluster lifecycle"),
    (200, "Membership and heartbeats", "membership and heartbeats"),
    (300, "Network-partition resolution", "network-partition resolution"),
    (400, "Groups", "groups"),
    (500, "Resources and exec scripts", "resources and exec scripts"),
    (600, "Monitors and recovery", "monitors and recovery"),
    (700, "Mirror and hybrid disks", "mirror and hybrid disks"),
    (800, "Operator commands", "operator commands"),
    (900, "Self-fencing and shutdown", "self-fencing and shutdown"),
];

/// The index in [`ID_RANGES`] of the range holding `id`, if any.
fn id_range_index(id: u16) -> Option<usize> {
    ID_RANGES.iter().position(|&(first, _, _)| id >= first && id - first < RANGE_WIDTH)
}

/// "100–199" for the range starting at `first`.
fn id_range_label(first: u16) -> String {
    format!("{}–{}", first, first + RANGE_WIDTH - 1)
}

/// A table cell: `|` would end the cell early.
fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

const CATALOGUE_INTRO: &str = "\
<!-- Generated from `EventKind` (core/src/event_kind.rs); do not edit by hand.
     Regenerate with: BATON_BLESS=1 cargo test -p baton-core --test events_doc -->

# Event catalogue

Events are how a baton server reports what it decided and why: a peer was lost, a network
partition was resolved, a group failed over, a monitor went into error, a mirror was rebuilt.
Every event the cluster emits has a stable kebab-case **name**, a numeric **id** and a
**severity** (`info`, `warning` or `error`). This page lists them all.

## Where events appear

- In the **timeline** printed by `baton sim run` (time, server, event), see
  [Running it](scenarios.md#running-it).
- In **scenarios**: `expect event EVENT [on SERVER]` and `expect no event EVENT` use the names
  below, see [Events](scenarios.md#events).
- In the **event log** of each server, written by the daemon (and by the simulator with
  `--trace FILE`) and read with `baton log show` and `baton log why`.

## What an event carries

Every event carries:

- the **time** it was emitted;
- the **emitting server**: \"on S\" in the tables below names the server that emits the event, and
  `expect event EVENT on S` matches that server;
- the **fields named in its row**: the group, resource, monitor or peer it is about, and a reason
  or detail (a count, a target, a failure message, the final action taken). A mirror is named by
  its `mirror-disk` or `hybrid-disk` resource;
- its **cause**: the earlier event it follows from and the rule that decided it (for example
  \"reactivations 1 < 3\"). `baton log why EVENT` follows the causes back and prints the decision
  as a chain: monitor failed twice → reactivation threshold reached → failover to server2.

## Ids

Ids are grouped by module:

";

const CATALOGUE_READING: &str = "
In the tables below, **emitted when** says when the event is emitted and, in parentheses, on
which server. \"At D\" is the instant a peer is judged lost (its last heartbeat on any path plus
`heartbeat_timeout`); \"at V\" is the instant of the network-partition verdict. References such as
(B13) name the rule of baton's behaviour specification that emits the event.

The **seed** column names the message of the seed manuals (the CLUSTERPRO manuals baton's
behaviour was derived from) that the event corresponds to: `000` = `000_9797c4153f9a6ffa.txt`,
CLUSTERPRO for Windows Ver7.0, operation and maintenance guide (event-log ids of §7.2.1, mirror
driver ids of §7.2.2 \"RASCAL\", server-log modules of §7.4.2); `001` = `001_ee5158df66a084d2.txt`,
CLUSTERPRO for Linux Ver3.0, maintenance guide (module and event id of §12.1, e.g. `rc 32`);
`002` = `002_0bc818716591e68c.txt`, CLUSTERPRO X 4.1 for Windows, installation and configuration
guide; `003` = `003_bf9eae57c5c7f25d.txt`, CLUSTERPRO for Linux, system design (advanced); `004` =
`004_4039750639cfe815.txt`, CLUSTERPRO for Windows Ver7.0, system design (basic, mirror disk).
\"—\" means the event has no seed message.
";

const CATALOGUE_SEEDS_NOT_KEPT: &str = "
## Seed messages not kept

These seed conditions have no event because baton has no such feature: licences (001 rm 50–59,
mdadm 8–15; 000 2502, 2503), the manager GUI, cluster lock and registration (000 §7.3), UPS and
automatic power control (000 2020–2023, 2106, 2210, 2211), the line switching device (000 8001–8017),
printer spool (000 7001), virtual computer names (000 12200–12204), registry synchronisation, VI
boards (000 10000–10007), server management boards (000 17000–17002), VERITAS Volume Manager
(000 24000–24232; 001 vxvg, vxvol), Exchange (000 25000–25012), the Windows filter driver and
cross-call disks (000 4222, 5009), the client mailslot and auto update (000 6005–6008), the
script commands ARMLOAD, ARMCALL and their messages (000 §7.4.1; application monitoring is
done by `process` and `exec` monitors), the parameter-tuning log (000 PTUN), mirror driver memory
and protocol details (001 §12.2 liscal, 000 RASCAL 5–18), and installer error codes (000 §7.5).
";

impl EventKind {
    /// The user documentation of the catalogue, `docs/events.md`: an introduction, the id
    /// ranges, one table per range (in id order) and the seed messages not kept.
    pub fn catalogue_markdown() -> String {
        let mut out = String::from(CATALOGUE_INTRO);
        out.push_str("| range | module |\n|---|---|\n");
        for &(first, _, module) in &ID_RANGES {
            out.push_str(&format!("| {} | {} |\n", id_range_label(first), module));
        }
        out.push_str(CATALOGUE_READING);
        for (index, &(first, title, _)) in ID_RANGES.iter().enumerate() {
            let mut kinds: Vec<EventKind> =
                EventKind::ALL.iter().copied().filter(|k| id_range_index(k.id()) == Some(index)).collect();
            kinds.sort_by_key(|k| k.id());
            out.push_str(&format!("\n## {} {}\n\n", id_range_label(first), title));
            out.push_str("| id | event | severity | emitted when | seed |\n|---|---|---|---|---|\n");
            for kind in kinds {
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} | {} |\n",
                    kind.id(),
                    kind.name(),
                    kind.severity().name(),
                    markdown_cell(kind.description()),
                    markdown_cell(kind.seed()),
                ));
            }
        }
        out.push_str(CATALOGUE_SEEDS_NOT_KEPT);
        out
    }
}
