//! The event catalogue (`events.md`): every event the cluster emits, with its stable
//! kebab-case name, numeric id, severity, description and seed message.
//!
//! In: nothing. Out: [`EventKind`] (names, ids, severities, descriptions, seeds), and in `doc.rs`
//! the rendered user catalogue `docs/events.md` ([`EventKind::catalogue_markdown`]; a test keeps
//! the file in step). The record that carries a kind, `Event`, is in `event.rs`.
//!
//! The catalogue is one table, `event_table!` below: one row per event. The macro writes the
//! enum (with each row's description as the variant's doc), `ALL`, the accessors and the serde
//! names, so an event is spelled once and its parts cannot drift apart.

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

/// Writes [`EventKind`] and its accessors from the catalogue rows below. A row is
/// `id Variant "name" Severity "description" "seed";` where `name` is the kebab-case catalogue
/// name (also the serde name: the event log and `baton log show --json` carry it, so it never
/// changes), `description` says when the event is emitted and on which server, with the rules
/// that emit it, and `seed` names the seed manual message ("—" when there is none).
macro_rules! event_table {
    ($($id:literal $variant:ident $name:literal $severity:ident $description:literal $seed:literal;)*) => {
        /// Every catalogue event, in id order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum EventKind {
            $(
                #[doc = concat!(stringify!($id), ": ", $description)]
                #[serde(rename = $name)]
                $variant,
            )*
        }

        /// How many events the catalogue has.
        const EVENT_COUNT: usize = [$(EventKind::$variant),*].len();

        impl EventKind {
            /// Every event, in table (= id) order.
            pub const ALL: [EventKind; EVENT_COUNT] = [$(EventKind::$variant),*];

            /// The stable kebab-case name (scenarios, the event log, `baton log`).
            pub fn name(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }

            /// The numeric id; its hundreds name the module (see `ID_RANGES`).
            pub fn id(self) -> u16 {
                match self {
                    $(EventKind::$variant => $id,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(EventKind::$variant => Severity::$severity,)*
                }
            }

            /// When the event is emitted and on which server, with the rules that emit it.
            pub fn description(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $description,)*
                }
            }

            /// The seed manual message the event corresponds to ("—": none).
            pub fn seed(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $seed,)*
                }
            }

            /// Looks an event up by its catalogue name.
            pub fn from_name(name: &str) -> Option<EventKind> {
                match name {
                    $($name => Some(EventKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

// The catalogue: one row per event, in id order (`events_doc.rs` checks the order and ranges).
event_table! {
    100 ServiceStarted "service-started" Info
        "the cluster service of S started (on S)"
        "001 pm 1; 000 1100";
    101 ServiceStartRefused "service-start-refused" Error
        "the configuration is missing, invalid or does not name this host; the service does not start (on S) (B1)"
        "001 pm 13, 14, 15; 000 2";
    102 ServiceStopping "service-stopping" Info
        "the service of S begins to stop (on S)"
        "001 pm 2";
    103 ServiceStopped "service-stopped" Info
        "the service of S stopped cleanly (on S)"
        "001 pm 24";
    104 UncleanRestart "unclean-restart" Warning
        "the service starts and finds that its previous run ended uncleanly (on S) (B22–B24)"
        "000 1101";
    105 StartupSyncWaiting "startup-sync-waiting" Info
        "S entered startup synchronisation (on S) (B3)"
        "002 Ch8 sync wait; 000 §1.4.2";
    106 StartupSyncDone "startup-sync-done" Info
        "every configured server started; the cluster forms (on each waiting server) (B3)"
        "002 Ch8";
    107 StartupSyncTimeout "startup-sync-timeout" Warning
        "`sync_wait` ran out; the cluster forms without the missing servers, which are listed (on each waiting server) (B3)"
        "000 §2.1.2; 002 Ch8";
    108 ClusterStarted "cluster-started" Info
        "the cluster formed; placement begins (on the coordinator) (B3, B5)"
        "001 §11.1 start sequence";
    109 ClusterStopping "cluster-stopping" Info
        "`cluster stop` accepted (on every server) (B67)"
        "001 pm 31";
    110 ClusterShutdown "cluster-shutdown" Info
        "`cluster shutdown` accepted (on every server) (B67)"
        "000 2002; 001 rc 90";
    111 ClusterSuspended "cluster-suspended" Info
        "the cluster is suspended (on every server) (B122)"
        "001 pm 35";
    112 ClusterResumed "cluster-resumed" Info
        "the cluster resumed (on every server) (B122)"
        "001 pm 34";
    113 ServerShutdown "server-shutdown" Info
        "S begins a planned shutdown (command or OS shutdown) (on S) (B68)"
        "000 2003; 001 rc 91";
    114 ConfigLoaded "config-loaded" Info
        "the configuration was accepted at service start, with its digest (on S)"
        "—";
    115 ConfigWarning "config-warning" Warning
        "the checker found a warning (no resolver, short timeout, missing script…) (on S) (B133)"
        "000 §1.4.1 minimum timeouts";
    116 InsecureMode "insecure-mode" Warning
        "the service runs with `insecure = true` (on S) (B133)"
        "—";
    117 ProcessDied "process-died" Error
        "a core process of the service died; S stops its groups and shuts down (on S) (B130)"
        "001 pm 20, §10.3; 000 5000, 1306";
    118 SuspendUnconfirmed "suspend-unconfirmed" Warning
        "a peer has not confirmed `cluster suspend` `heartbeat_timeout` after it: heartbeats and resolution keep running here until it does (on each suspended server) (B122, X1)"
        "001 §6.3.1 (7) `Suspend server : Failed`";
    119 ResumeUnconfirmed "resume-unconfirmed" Warning
        "a peer has not confirmed `cluster resume` `heartbeat_timeout` after it: it is neither judged down nor taken over until it confirms or starts a new run (on each resumed server) (B20, X1)"
        "001 §6.3.1 (7) `Resume server : Failed`";
    120 ClusterOpConfirmed "cluster-op-confirmed" Info
        "a peer reported by `suspend-unconfirmed` or `resume-unconfirmed` confirmed at last; the reason says which (on each server that reported it) (X1)"
        "—";
    200 ServerJoined "server-joined" Info
        "a server became a member (on every online server) (B2, B3)"
        "001 nm 1";
    201 HeartbeatPathUp "heartbeat-path-up" Info
        "heartbeats from a peer arrive again on a path (on the receiver) (B11)"
        "001 nm 3; 000 2000, 2011";
    202 HeartbeatPathDown "heartbeat-path-down" Warning
        "nothing arrived from a peer on a path for `heartbeat_timeout` while another path works (on the receiver) (B11)"
        "001 nm 4; 000 2101, 2105; 002 Ch7 D7";
    203 ServerLost "server-lost" Error
        "a peer was silent on every path for `heartbeat_timeout` (at D, on each detecting server) (B13)"
        "000 2212; 001 nm 2";
    204 ServerPlannedDown "server-planned-down" Warning
        "a peer's departure notice after a clean end was received (on each receiver) (B14)"
        "000 2107";
    205 ServerFailureDown "server-failure-down" Error
        "a peer departed through a final action that stops its service (on each receiver) (B15)"
        "001 rm 15, 16, 17";
    206 ServerDownNotified "server-down-notified" Error
        "S received a down notice, or lost a mutual down judgement; it runs `np_action` next (on S) (B16, B17)"
        "000 2207, 5005, 19001";
    207 ServerRestarted "server-restarted" Warning
        "S restarted after an unclean end before any peer judged it lost (on S) (B18)"
        "002 Ch1 boot time vs heartbeat timeout";
    208 ServerSuspended "server-suspended" Warning
        "S is back after an unclean end and waits for `server return` (on S) (B23)"
        "000 §7.1.1 \"starting in unrecovered state after server down\"";
    209 ServerReturned "server-returned" Info
        "`server return` made S online (on S) (B25)"
        "000 2004";
    210 ServerAutoReturned "server-auto-returned" Info
        "S returned by itself (`auto_return`) (on S) (B24)"
        "000 §4 auto return";
    211 ServerForceReturned "server-force-returned" Warning
        "`server return --force` made S online alone (on S) (B26)"
        "000 2004 (forced return)";
    212 ServerFailedOver "server-failed-over" Info
        "every group of a lost or departed server has been placed or left offline (on the coordinator) (B55)"
        "000 2001; 000 §7.1.1 \"failover processing completed\"";
    300 NpResolutionStarted "np-resolution-started" Info
        "resolution began for the listed lost peers (at D, on the resolving server) (B34)"
        "000 §7.4.2 STC \"NP resolution started\"";
    301 NpResolvedPeerDown "np-resolved-peer-down" Info
        "the verdict judged the lost peers down; S survives (at V, on S) (B35)"
        "000 §7.4.2 STC \"NP resolution completed\"";
    302 NpLostSelfIsolated "np-lost-self-isolated" Error
        "ping or http: no target answered; S is cut off (at V, on S) (B36, B37)"
        "002 Ch2 PING, HTTP";
    303 NpLostMinority "np-lost-minority" Error
        "majority: S hears fewer than half of the servers (at V, on S) (B42)"
        "000 19000; 002 Ch2 majority";
    304 NpLostTieBreak "np-lost-tie-break" Error
        "serial, disk or majority: a partition where the tie-break server is on the other side (at V, on S) (B38, B39, B42)"
        "000 2205, 4213, 5004, 23003; 002 Ch2 COM, DISK, majority";
    305 NpResolutionFailed "np-resolution-failed" Error
        "the resolver cannot decide: serial or http pre-failed, own disk I/O failed (at V, on S) (B37–B41)"
        "000 2206, 2209, 4221, 23004; 002 Ch2 COM, DISK, HTTP";
    306 NpResolutionTimeout "np-resolution-timeout" Error
        "own disk I/O took longer than `io_wait` during resolution (at V, on S) (B39)"
        "000 2208; 002 Ch2 DISK";
    307 NpUnresolved "np-unresolved" Warning
        "a lost peer could not be resolved (no resolver, ping pre-failed); S takes over anyway (at V, on S) (B35, B36, B43)"
        "002 Ch2 none, PING method table";
    308 NpFallbackDisk "np-fallback-disk" Info
        "a serial+disk or ping+disk unit uses the disk rule (on S) (B40, B41)"
        "002 Ch2 COM+DISK, PING+DISK";
    309 NpTargetDown "np-target-down" Warning
        "a resolver failed `retries` checks in a row on S (on S) (B31)"
        "000 23001, 5006; 002 Ch7 D12";
    310 NpTargetUp "np-target-up" Info
        "a failing resolver answered again (on S) (B31)"
        "000 23002";
    400 GroupStarting "group-starting" Info
        "a group begins to start (on its server) (B63)"
        "001 rc 10; 000 §7.4.2 RSC \"started automatically\"";
    401 GroupOnline "group-online" Info
        "every resource of the group is online or ignored (on its server) (B63)"
        "001 rc 11; 000 2007";
    402 GroupStartFailed "group-start-failed" Error
        "a start ended in `error` after an activation final action (on its server) (B71)"
        "001 rc 12; 000 9003";
    403 GroupStopping "group-stopping" Info
        "a group begins to stop (on its server) (B64)"
        "001 rc 20";
    404 GroupOffline "group-offline" Info
        "every resource of the group is offline (on its former server) (B64)"
        "001 rc 21; 000 2006";
    405 GroupStopFailed "group-stop-failed" Error
        "a stop ended in `error` after a deactivation final action `none` (on its server) (B72)"
        "001 rc 22; 000 21014";
    406 GroupMoving "group-moving" Info
        "a move began (on the source) (B65)"
        "001 rc 50";
    407 GroupMoved "group-moved" Info
        "a move or failback completed (on the target) (B65)"
        "001 rc 51; 000 2008";
    408 GroupMoveFailed "group-move-failed" Error
        "a move did not complete (on the source or target) (B65, B72)"
        "001 rc 52";
    409 GroupFailover "group-failover" Warning
        "a group is started on a new server because of a server loss or departure, an activation failure or a monitor failover (on the target, when it begins) (B55, B70, B83)"
        "001 rc 60; 000 2009";
    410 GroupFailoverDone "group-failover-done" Info
        "that start completed (on the target)"
        "001 rc 61";
    411 GroupFailoverFailed "group-failover-failed" Error
        "that start failed (on the target)"
        "001 rc 62; 000 21013";
    412 GroupNoTarget "group-no-target" Error
        "a group must move but no server is eligible; it stays offline (on the coordinator) (B55, B83)"
        "000 21013; 003 §1.1.1.4";
    413 GroupFailoverHeld "group-failover-held" Warning
        "a `failover = \"manual\"` group lost its server and stays offline (on the coordinator) (B55)"
        "002 §Ch5 group attributes";
    414 GroupFailback "group-failback" Info
        "an auto failback move began (on the source) (B57)"
        "002 Ch6 6.12; 004 §6.2.4";
    415 GroupRestarting "group-restarting" Info
        "a group reactivation began (on its server) (B83)"
        "001 rc 70";
    416 GroupRestarted "group-restarted" Info
        "a group reactivation completed (on its server)"
        "001 rc 71; 000 2010";
    417 GroupRestartFailed "group-restart-failed" Error
        "a group reactivation failed (on its server)"
        "001 rc 72";
    418 GroupStartWaiting "group-start-waiting" Info
        "a start waits for its `start_after` groups (on the coordinator) (B54)"
        "—";
    419 GroupStartBlocked "group-start-blocked" Warning
        "a `start_after` group is offline with no start pending; the start stays pending (on the coordinator) (B54)"
        "—";
    420 GroupDoubleOnline "group-double-online" Error
        "a group was found online on two servers when they heard each other again (on the surviving server) (B17)"
        "001 rc 92";
    500 ResourceActivating "resource-activating" Info
        "an activation began (on the server) (B63)"
        "001 rc 30";
    501 ResourceOnline "resource-online" Info
        "an activation succeeded, with its duration (on the server)"
        "001 rc 31; 000 §7.4.2 RSC";
    502 ResourceActivationFailed "resource-activation-failed" Error
        "an activation failed, with the reason (script exit, timeout, address in use, device error, mirror not latest) (on the server) (B70)"
        "001 rc 32; 000 16000, 16009, 4211, 11300, 13201";
    503 ResourceActivationRetry "resource-activation-retry" Warning
        "an activation is retried in place (on the server) (B70)"
        "003 §1.1.1.3 floating-IP retry";
    504 ResourceActivationIgnored "resource-activation-ignored" Warning
        "final action `ignore`: the failed resource is skipped (on the server) (B71)"
        "002 §Ch5 final action \"do nothing, activate the next\"";
    505 ResourceDeactivating "resource-deactivating" Info
        "a deactivation began (on the server) (B64)"
        "001 rc 40";
    506 ResourceOffline "resource-offline" Info
        "a deactivation succeeded (on the server)"
        "001 rc 41";
    507 ResourceDeactivationFailed "resource-deactivation-failed" Error
        "a deactivation failed, with the reason (on the server) (B72)"
        "001 rc 42; 000 16008, 4212, 11303, 13202";
    508 ResourceDeactivationRetry "resource-deactivation-retry" Warning
        "a deactivation is retried (on the server) (B72)"
        "000 4131, 13101";
    509 ResourceRestarting "resource-restarting" Info
        "a resource reactivation began (on the server) (B83)"
        "001 rc 80";
    510 ResourceRestarted "resource-restarted" Info
        "a resource reactivation completed (on the server)"
        "001 rc 81";
    511 ResourceRestartFailed "resource-restart-failed" Error
        "a resource reactivation failed (on the server)"
        "001 rc 82";
    512 ActivationFinalAction "activation-final-action" Error
        "the activation ladder reached its final action, which is named (on the server) (B70, B71)"
        "001 §10.1; 002 Ch7 RS6";
    513 DeactivationFinalAction "deactivation-final-action" Error
        "the deactivation ladder reached its final action, which is named (on the server) (B72)"
        "000 §7.4.2 RSC \"shuts the system down\"; 001 pm 21";
    514 ResourceTimeout "resource-timeout" Error
        "an activation or deactivation exceeded the resource `timeout` (on the server) (B73)"
        "001 §12.4.3 exec \"not completed within\"; 000 9000, 9001";
    515 ScriptStarted "script-started" Info
        "an exec script run began, with its `CLP_*` environment (on the server) (B90)"
        "000 §7.4.3 script log";
    516 ScriptDone "script-done" Info
        "an exec script run exited 0 (on the server)"
        "000 §7.4.3";
    517 ScriptFailed "script-failed" Error
        "an exec script run exited non-zero, could not start, or was killed (on the server) (B90, B93)"
        "001 §12.4.3 \"Termination code\"; 000 9002, 9003";
    518 ScriptSlow "script-slow" Warning
        "an exec script has been running for 3 minutes (once per run) (on the server)"
        "000 9004, 9005";
    600 MonitorStarted "monitor-started" Info
        "a monitor started on the server (B80)"
        "001 rm 1";
    601 MonitorStopped "monitor-stopped" Info
        "a monitor stopped on the server (B80)"
        "001 rm 2";
    602 MonitorCheckFailed "monitor-check-failed" Warning
        "a check failed but fewer than `retries + 1` in a row (B81)"
        "001 rm 4";
    603 MonitorError "monitor-error" Error
        "failure `retries + 1` in a row: the monitor is in error, with the detail (B81)"
        "001 rm 9; 000 21011, 21015, 14015";
    604 MonitorRecovered "monitor-recovered" Info
        "a good check after an error (B81)"
        "001 rm 26";
    605 MonitorStartFailed "monitor-start-failed" Error
        "a monitor could not start (missing interface, watchdog device…)"
        "001 rm 7, rm 28";
    606 MonitorSuspended "monitor-suspended" Info
        "`monitor suspend` took effect (on each affected server) (B86)"
        "002 Ch8 monitor control";
    607 MonitorResumed "monitor-resumed" Info
        "`monitor resume` took effect (on each affected server) (B86)"
        "000 21000";
    608 RecoverySkipped "recovery-skipped" Warning
        "the recovery target is not online on this server; no action (B83)"
        "001 rm 25";
    609 RecoveryReactivate "recovery-reactivate" Info
        "the recovery target is reactivated, with the count (B83)"
        "001 rm 13; 000 14000";
    610 RecoveryFailover "recovery-failover" Warning
        "the group of the recovery target is failed over, with the count (B83)"
        "001 rm 14; 000 21011 action 2";
    611 RecoveryFinalAction "recovery-final-action" Error
        "both thresholds are spent; the final action, which is named, runs (B83)"
        "001 rm 12, 15, 16, 17; 000 21011 actions 1, 3";
    612 RecoveryFailed "recovery-failed" Error
        "a recovery action did not complete (B83)"
        "001 rm 18–23";
    613 RecoveryCountersReset "recovery-counters-reset" Info
        "a monitor's or resource's counters reset after `counter_reset_after` (B58, B85)"
        "003 §1.1.1.4";
    614 UserSpaceStall "user-space-stall" Error
        "the watchdog found the service frozen for `heartbeat_timeout`; `stall_action` runs (B87)"
        "000 5012; 001 §10.5";
    615 MonitorUnknown "monitor-unknown" Warning
        "a check could not be made (its target does not exist yet)"
        "001 rm 27";
    700 MirrorConnectDown "mirror-connect-down" Warning
        "no mirror connect network carries traffic between the sides (on each side's running server) (B102)"
        "000 13203; 001 mdnw 31; 002 Ch7 D15";
    701 MirrorConnectUp "mirror-connect-up" Info
        "a mirror connect carries traffic again (on each side)"
        "000 13022; 000 RASCAL 24";
    702 MirrorConnectPathDown "mirror-connect-path-down" Warning
        "one of two mirror connect networks failed; mirroring continues on the other (on each side) (B102)"
        "000 13122, 13021, RASCAL 22, 23; 002 Ch7 D14";
    703 MirrorBreak "mirror-break" Warning
        "the mirror is online on one side without the other: break time recorded, that side ahead (on the online server) (B102)"
        "000 §4.2.1; 001 §12.2 \"mirror break occurred\"";
    704 MirrorRebuildStarted "mirror-rebuild-started" Info
        "a copy began, with direction and full or differential (on the source) (B107)"
        "001 mdadm 17, 7; 000 §7.4.2 NDRSC \"mirror build starting\"";
    705 MirrorRebuildDone "mirror-rebuild-done" Info
        "the copy ended; the mirror is normal (on the source) (B109)"
        "001 mdadm 6; 000 13001";
    706 MirrorRebuildFailed "mirror-rebuild-failed" Error
        "a copy stopped before its end (on the source, or the destination if the source is gone) (B110)"
        "001 mdadm 5; 000 13206";
    707 MirrorFullCopy "mirror-full-copy" Warning
        "the next or current copy must be full, with the reason (on the source) (B108)"
        "000 13011, 13111";
    708 MirrorNoCopyNeeded "mirror-no-copy-needed" Info
        "nothing was written since the break; normal at once (on the source) (B109)"
        "000 §7.4.2 NDRSC \"contents already identical\"";
    709 MirrorStaleRefused "mirror-stale-refused" Error
        "activation refused: this side does not hold the latest data, or a rebuild toward it runs (on the server) (B106)"
        "001 md 81, mdadm 1; 000 13201";
    710 MirrorLatestUndetermined "mirror-latest-undetermined" Error
        "the side holding the latest data cannot be determined (on each running side) (B106)"
        "001 mdadm 5 \"Can not judge the recovery direction\", mdw 65";
    711 MirrorForced "mirror-forced" Warning
        "`mirror force` declared this side latest (on the named server) (B112)"
        "000 §7.4.2 NDRSC \"force-recovered\"; 001 §11.10.5";
    712 MirrorDiskError "mirror-disk-error" Error
        "an I/O error on a side's data device (on that server) (B116)"
        "001 §10.8, §12.2 \"disk I/O error\"; 000 RASCAL 3, 4";
    713 MirrorDoubleActive "mirror-double-active" Error
        "the mirror was online on both sides when they heard each other again (on the surviving server) (B117)"
        "001 mdw 66";
    714 MirrorWritesLost "mirror-writes-lost" Warning
        "async writes not yet sent were lost at a failover, with the amount (on the new online server) (B101)"
        "002 Ch1 asynchronous mirror";
    715 MirrorRebuildNeeded "mirror-rebuild-needed" Info
        "a side is behind but the automatic rebuild conditions are not met; `mirror rebuild` is needed (on the server of the latest side) (B107)"
        "001 §11.10.1";
    800 CommandAccepted "command-accepted" Info
        "a command passed its checks (on the server that took it) (B120)"
        "000 §7.4.2 STC command intake";
    801 CommandRefused "command-refused" Warning
        "a command was refused, with the reason (on the server that took it) (B120–B122)"
        "000 §7.4.5 cause table; 001 §6.3.1 \"Failed invalid server status\"";
    802 CommandDone "command-done" Info
        "an accepted command finished (on the server that took it)"
        "000 §7.4.5 \"executed normally\"";
    803 CommandFailed "command-failed" Error
        "an accepted command could not finish, with the reason (on the server that took it) (B120)"
        "000 §7.4.5 \"was not executed\"";
    900 EmergencyShutdown "emergency-shutdown" Error
        "S powers itself off at once, releasing its resources without stop scripts (on S, as its last act) (B45, B130)"
        "002 Ch2 NP \"emergency shutdown\"; 000 2205, 19000";
    901 EmergencyReboot "emergency-reboot" Error
        "S powers itself off at once and boots again (on S) (B45, B87, B116)"
        "001 §10.9 monp 8";
    902 Panic "panic" Error
        "S halts its kernel at once (on S) (B45)"
        "002 Ch5 intentional stop error; 000 §1.4.4 STOP error";
    903 ShutdownStallReset "shutdown-stall-reset" Error
        "a clean shutdown did not power the machine off within `heartbeat_timeout`; the watchdog resets it (on S) (B130)"
        "001 §10.6 pm 3";
    904 ServiceStopForFailure "service-stop-for-failure" Error
        "a final action or `np_action` stops the service of S; the machine stays up (on S) (B45, B71)"
        "001 rm 15; monp 4";
    905 ShutdownForFailure "shutdown-for-failure" Error
        "a final action stops the groups of S, then shuts its OS down (on S) (B71, B72)"
        "001 rm 16, pm 23, §10.1";
    906 RebootForFailure "reboot-for-failure" Error
        "a final action stops the groups of S, then reboots it (on S) (B71)"
        "001 rm 17, pm 25";
}

mod doc;
