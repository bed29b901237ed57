//! The words of the file for each of our enums, both ways.
//!
//! In: enum values or words. Out: the other. Each enum has one exhaustive `match`
//! giving its word and a list of all its values; the reader's choice tables are
//! built from both, so reading and rendering can never disagree, and a new variant
//! fails to compile until it has a word.

use super::{CountScope, Failback, FailoverMode, FailoverTarget, FinalAction, MirrorMode, NpAction, Startup};

/// Every value of an enum with its word, for [`super::toml_walk::Walk::choice`].
pub fn options<T: Copy>(all: &[T], word: fn(T) -> &'static str) -> Vec<(&'static str, T)> {
    all.iter().map(|v| (word(*v), *v)).collect()
}

pub const FINAL_ACTIONS: [FinalAction; 9] = [
    FinalAction::None,
    FinalAction::Ignore,
    FinalAction::StopGroup,
    FinalAction::StopService,
    FinalAction::StopServiceAndShutdown,
    FinalAction::StopServiceAndReboot,
    FinalAction::EmergencyShutdown,
    FinalAction::EmergencyReboot,
    FinalAction::Panic,
];

pub fn final_action(a: FinalAction) -> &'static str {
    match a {
        FinalAction::None => "none",
        FinalAction::Ignore => "ignore",
        FinalAction::StopGroup => "stop-group",
        FinalAction::StopService => "stop-service",
        FinalAction::StopServiceAndShutdown => "stop-service-and-shutdown",
        FinalAction::StopServiceAndReboot => "stop-service-and-reboot",
        FinalAction::EmergencyShutdown => "emergency-shutdown",
        FinalAction::EmergencyReboot => "emergency-reboot",
        FinalAction::Panic => "panic",
    }
}

pub const NP_ACTIONS: [NpAction; 4] =
    [NpAction::EmergencyShutdown, NpAction::EmergencyReboot, NpAction::StopService, NpAction::Panic];

pub fn np_action(a: NpAction) -> &'static str {
    match a {
        NpAction::EmergencyShutdown => "emergency-shutdown",
        NpAction::EmergencyReboot => "emergency-reboot",
        NpAction::StopService => "stop-service",
        NpAction::Panic => "panic",
    }
}

pub const COUNT_SCOPES: [CountScope; 2] = [CountScope::Server, CountScope::Cluster];

pub fn count_scope(s: CountScope) -> &'static str {
    match s {
        CountScope::Server => "server",
        CountScope::Cluster => "cluster",
    }
}

pub const STARTUPS: [Startup; 2] = [Startup::Auto, Startup::Manual];

pub fn startup(s: Startup) -> &'static str {
    match s {
        Startup::Auto => "auto",
        Startup::Manual => "manual",
    }
}

pub const FAILOVER_MODES: [FailoverMode; 2] = [FailoverMode::Auto, FailoverMode::Manual];

pub fn failover_mode(m: FailoverMode) -> &'static str {
    match m {
        FailoverMode::Auto => "auto",
        FailoverMode::Manual => "manual",
    }
}

pub const FAILBACKS: [Failback; 2] = [Failback::Auto, Failback::Manual];

pub fn failback(f: Failback) -> &'static str {
    match f {
        Failback::Auto => "auto",
        Failback::Manual => "manual",
    }
}

pub const FAILOVER_TARGETS: [FailoverTarget; 2] = [FailoverTarget::Priority, FailoverTarget::Stable];

pub fn failover_target(t: FailoverTarget) -> &'static str {
    match t {
        FailoverTarget::Priority => "priority",
        FailoverTarget::Stable => "stable",
    }
}

pub const MIRROR_MODES: [MirrorMode; 2] = [MirrorMode::Sync, MirrorMode::Async];

pub fn mirror_mode(m: MirrorMode) -> &'static str {
    match m {
        MirrorMode::Sync => "sync",
        MirrorMode::Async => "async",
    }
}

/// The kinds of `[[heartbeat]]`, `[[np]]`, resources and monitors, as read from the
/// file before their keys are (the model's kind enums carry data, so the reader
/// first picks one of these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HbKindWord {
    Lan,
    Disk,
}

pub const HB_KINDS: [HbKindWord; 2] = [HbKindWord::Lan, HbKindWord::Disk];

pub fn hb_kind(k: HbKindWord) -> &'static str {
    match k {
        HbKindWord::Lan => "lan",
        HbKindWord::Disk => "disk",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpKindWord {
    Ping,
    Http,
    Disk,
    Majority,
    Serial,
}

pub const NP_KINDS: [NpKindWord; 5] =
    [NpKindWord::Ping, NpKindWord::Http, NpKindWord::Disk, NpKindWord::Majority, NpKindWord::Serial];

pub fn np_kind(k: NpKindWord) -> &'static str {
    match k {
        NpKindWord::Ping => "ping",
        NpKindWord::Http => "http",
        NpKindWord::Disk => "disk",
        NpKindWord::Majority => "majority",
        NpKindWord::Serial => "serial",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResKindWord {
    FloatingIp,
    VirtualIp,
    Exec,
    Service,
    Disk,
    MirrorDisk,
    HybridDisk,
}

pub const RES_KINDS: [ResKindWord; 7] = [
    ResKindWord::FloatingIp,
    ResKindWord::VirtualIp,
    ResKindWord::Exec,
    ResKindWord::Service,
    ResKindWord::Disk,
    ResKindWord::MirrorDisk,
    ResKindWord::HybridDisk,
];

pub fn res_kind(k: ResKindWord) -> &'static str {
    match k {
        ResKindWord::FloatingIp => "floating-ip",
        ResKindWord::VirtualIp => "virtual-ip",
        ResKindWord::Exec => "exec",
        ResKindWord::Service => "service",
        ResKindWord::Disk => "disk",
        ResKindWord::MirrorDisk => "mirror-disk",
        ResKindWord::HybridDisk => "hybrid-disk",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonKindWord {
    Ip,
    FloatingIp,
    Process,
    Exec,
    Disk,
    NicLink,
    MirrorDisk,
    MirrorConnect,
    UserSpace,
    Http,
}

pub const MON_KINDS: [MonKindWord; 10] = [
    MonKindWord::Ip,
    MonKindWord::FloatingIp,
    MonKindWord::Process,
    MonKindWord::Exec,
    MonKindWord::Disk,
    MonKindWord::NicLink,
    MonKindWord::MirrorDisk,
    MonKindWord::MirrorConnect,
    MonKindWord::UserSpace,
    MonKindWord::Http,
];

pub fn mon_kind(k: MonKindWord) -> &'static str {
    match k {
        MonKindWord::Ip => "ip",
        MonKindWord::FloatingIp => "floating-ip",
        MonKindWord::Process => "process",
        MonKindWord::Exec => "exec",
        MonKindWord::Disk => "disk",
        MonKindWord::NicLink => "nic-link",
        MonKindWord::MirrorDisk => "mirror-disk",
        MonKindWord::MirrorConnect => "mirror-connect",
        MonKindWord::UserSpace => "user-space",
        MonKindWord::Http => "http",
    }
}
