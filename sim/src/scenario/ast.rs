//! The typed scenario: what [`parse`](super::parse()) produces and the player consumes.
//!
//! In: nothing (plain data). Out: [`Scenario`] (config path, seed, knobs, timed
//! steps), the [`Stmt`] / [`Expect`] of every happening and expectation of
//! `scenario.md`, and [`ScenarioError`]. Names stay strings here: resolving them
//! against the cluster file is [`check`](super::check())'s job, so a scenario can be
//! parsed (and its syntax reported) before any configuration is loaded.
//!
//! Every type renders back to scenario text with `Display` (see `render.rs`).

use super::lexer::{format_bandwidth, format_duration, format_size};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a scenario file, shown as `FILE:LINE: reason` (line is 1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl ScenarioError {
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError { file: file.to_string(), line, message: message.into() }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The cluster file as written, relative to the scenario file.
    pub config_path: String,
    /// The line of the `config` statement (for errors found in the cluster file's use).
    pub config_line: usize,
    pub seed: u64,
    pub knobs: Knobs,
    /// In file order; `at_ms` never decreases.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// The cluster file's path: `config_path` taken relative to the scenario file's
    /// directory (an absolute `config_path` stays as it is).
    pub fn config_file(&self, scenario_file: &Path) -> PathBuf {
        let dir = scenario_file.parent().unwrap_or_else(|| Path::new(""));
        dir.join(&self.config_path)
    }

    /// Whether the scenario expects a split brain: the player then lets invariant 1
    /// (nothing online twice) be breached instead of failing the run.
    pub fn expects_split_brain(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.stmt, Stmt::Expect(Expect::SplitBrain { .. })))
    }

    /// The instant of the last step (0 for a scenario without steps).
    pub fn end_ms(&self) -> u64 {
        self.steps.last().map_or(0, |s| s.at_ms)
    }
}

/// One `at TIME STATEMENT` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Milliseconds from the start of the run.
    pub at_ms: u64,
    /// 1-based line in the file: expectation results and errors name it.
    pub line: usize,
    pub stmt: Stmt,
}

/// Environment knobs of the simulated world (`set KNOB VALUE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// How long each resource takes to activate or deactivate.
    pub activation_time_ms: u64,
    /// Power-on to cluster service start.
    pub boot_time_ms: u64,
    /// One-way network delay.
    pub network_latency_ms: u64,
    /// Each I/O on a simulated disk.
    pub disk_latency_ms: u64,
    /// Rebuild copy speed.
    pub mirror_bandwidth_bytes_per_s: u64,
    /// Size of each simulated mirror.
    pub mirror_size_bytes: u64,
    /// Machine clocks that are not exact, by server name (`set clock-offset`,
    /// `set clock-drift`; see `crate::clock`).
    pub clocks: BTreeMap<String, ClockKnob>,
}

/// One machine's clock error at the start (`set clock-offset SERVER ±D`,
/// `set clock-drift SERVER ±Nppm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockKnob {
    /// Its wall clock minus the true time, in ms.
    pub offset_ms: i64,
    /// How fast it runs, in parts per million (negative: slow).
    pub drift_ppm: i64,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            activation_time_ms: 1_000,
            boot_time_ms: 60_000,
            network_latency_ms: 1,
            disk_latency_ms: 1,
            mirror_bandwidth_bytes_per_s: 100_000_000,
            mirror_size_bytes: 1_000_000_000,
            clocks: BTreeMap::new(),
        }
    }
}

impl Knobs {
    /// The knob's value as `set` writes it.
    pub fn value_text(&self, knob: Knob) -> String {
        match knob {
            Knob::ActivationTime => format_duration(self.activation_time_ms),
            Knob::BootTime => format_duration(self.boot_time_ms),
            Knob::NetworkLatency => format_duration(self.network_latency_ms),
            Knob::DiskLatency => format_duration(self.disk_latency_ms),
            Knob::MirrorBandwidth => format_bandwidth(self.mirror_bandwidth_bytes_per_s),
            Knob::MirrorSize => format_size(self.mirror_size_bytes),
        }
    }
}

/// Declares a keyword enum: variants with their spelling in scenario files, plus
/// `ALL`, `name`, `from_name`, `Display`. Keeps the spelling in one place for the
/// parser, the renderer and error messages ("expected one of …").
macro_rules! keywords {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
            pub fn from_name(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|k| k.name() == text)
            }
            /// The spellings joined for messages: `a, b or c`.
            pub fn choices() -> String {
                let names: Vec<&str> = $name::ALL.iter().map(|k| k.name()).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => names.join(""),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

keywords!(
    /// The knobs `set` accepts.
    Knob {
        ActivationTime => "activation-time",
        BootTime => "boot-time",
        NetworkLatency => "network-latency",
        DiskLatency => "disk-latency",
        MirrorBandwidth => "mirror-bandwidth",
        MirrorSize => "mirror-size",
    }
);

keywords!(
    /// `target ADDRESS down|up`.
    TargetState {
        Down => "down",
        Up => "up",
    }
);

keywords!(
    /// `serial fail|heal`.
    SerialAction {
        Fail => "fail",
        Heal => "heal",
    }
);

keywords!(
    /// `monitor MONITOR fail|ok on SERVER`: the monitored thing's health.
    MonitorHealth {
        Fail => "fail",
        Ok => "ok",
    }
);

keywords!(
    /// `expect resource RESOURCE online|offline on SERVER`.
    ResourceState {
        Online => "online",
        Offline => "offline",
    }
);

keywords!(
    /// `expect server SERVER STATE`: as the server itself reports it.
    ServerState {
        Online => "online",
        /// Failed (crash, emergency shutdown): a physical fact.
        Down => "down",
        /// Back after a failure, waiting for `server return`.
        Suspended => "suspended",
        /// Cluster service stopped, machine up.
        Stopped => "stopped",
        /// Powered off.
        Off => "off",
    }
);

keywords!(
    /// `expect monitor MONITOR ok|error|stopped on SERVER`.
    MonitorState {
        Ok => "ok",
        Error => "error",
        Stopped => "stopped",
    }
);

keywords!(
    /// `expect mirror MIRROR STATE`.
    MirrorState {
        Normal => "normal",
        /// One side only.
        Degraded => "degraded",
        Rebuilding => "rebuilding",
        /// No side can be activated.
        Error => "error",
    }
);

keywords!(
    /// `expect script RESOURCE start|stop ran …`: which of the two scripts.
    ScriptPhase {
        Start => "start",
        Stop => "stop",
    }
);

keywords!(
    /// `expect reply ok|error`.
    ReplyState {
        Ok => "ok",
        Error => "error",
    }
);

/// `boot all` or `boot SERVER`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    All,
    Server(String),
}

/// `disk DEVICE fail|heal|replace|slow DURATION on SERVER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskAction {
    /// Every I/O on the device fails.
    Fail,
    /// I/O works again.
    Heal,
    /// The device is replaced by a blank one.
    Replace,
    /// Every I/O takes that long.
    Slow { duration_ms: u64 },
}

/// Where in a server's step a `crash SERVER POINT` cuts the power (docs/event-log.md
/// § "Persist before acting").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrashPoint {
    /// The step's state and events are durable; none of its acts happened.
    AfterPersist,
    /// The step's acts all happened; the next input is never handled.
    BeforeNext,
}

impl CrashPoint {
    pub const ALL: &'static [CrashPoint] = &[CrashPoint::AfterPersist, CrashPoint::BeforeNext];

    /// The word of the scenario language.
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::AfterPersist => "after-persist",
            CrashPoint::BeforeNext => "before-next",
        }
    }

    pub fn from_name(word: &str) -> Option<CrashPoint> {
        CrashPoint::ALL.iter().copied().find(|p| p.name() == word)
    }
}

/// A happening, or an expectation (`Stmt::Expect`).
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// Power on; the cluster service starts after `boot-time`.
    Boot(Target),
    /// Power loss: the server stops at once.
    Crash {
        server: String,
    },
    /// Power loss at a crash point of the server's next step that has something to
    /// persist or an act that leaves it (`crash SERVER after-persist|before-next`).
    CrashAt {
        server: String,
        point: CrashPoint,
    },
    /// OS shutdown from outside the cluster (a planned down).
    Shutdown {
        server: String,
    },
    /// The server's link to the network goes down, both directions.
    Cut {
        network: String,
        server: String,
    },
    /// Traffic between two servers on the network is lost, both directions.
    CutPair {
        network: String,
        a: String,
        b: String,
    },
    /// Traffic from one server to another on the network is lost.
    CutOneWay {
        network: String,
        from: String,
        to: String,
    },
    Heal {
        network: String,
        server: String,
    },
    HealPair {
        network: String,
        a: String,
        b: String,
    },
    HealOneWay {
        network: String,
        from: String,
        to: String,
    },
    /// Undo every cut, isolation and partition.
    HealAll,
    /// Cut every network and the serial cable of the server; no target answers it.
    Isolate {
        server: String,
    },
    /// Split every network and the serial cable between the two sides.
    Partition {
        left: Vec<String>,
        right: Vec<String>,
    },
    /// Random packet loss on a network, 0 to 100 percent.
    Loss {
        network: String,
        percent: u8,
    },
    /// A ping or http target stops or starts answering, everywhere or as seen from one server.
    Target {
        address: String,
        state: TargetState,
        from: Option<String>,
    },
    Disk {
        device: String,
        action: DiskAction,
        server: String,
    },
    /// The serial cable of a `serial` resolver.
    Serial(SerialAction),
    /// The next `times` activations fail there (`None`: every one).
    FailActivation {
        resource: String,
        server: String,
        times: Option<u32>,
    },
    /// The next `times` deactivations fail there (`None`: every one).
    FailDeactivation {
        resource: String,
        server: String,
        times: Option<u32>,
    },
    /// The monitored thing becomes unhealthy / healthy there.
    Monitor {
        monitor: String,
        health: MonitorHealth,
        server: String,
    },
    /// The machine's wall clock steps by that much (NTP, an operator's `date`): the
    /// running service does not see it, its next start does (`crate::clock`).
    Clock {
        server: String,
        step_ms: i64,
    },
    /// The cluster service freezes for that long.
    Stall {
        server: String,
        duration_ms: u64,
    },
    /// Extension (B130 6): the next OS shutdown or reboot of the server stalls after
    /// its service stopped; the machine stays up until something resets it.
    HangShutdown {
        server: String,
    },
    /// Extension (B130 7): a core process of the server's cluster service dies.
    KillProcess {
        server: String,
        process: String,
    },
    /// The application writes to the mirror or shared disk that is online.
    Write {
        resource: String,
        bytes: u64,
    },
    /// An operator command: the words after `baton`. `on: None` means the first
    /// online server in server order takes it.
    Cmd {
        on: Option<String>,
        words: Vec<String>,
    },
    Expect(Expect),
}

/// The environment a script run must have had, and where (`expect [no] script …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRun {
    pub resource: String,
    /// `None`: the start or the stop script.
    pub phase: Option<ScriptPhase>,
    /// `KEY=VALUE` pairs in file order; the run must have had each of them (and may
    /// have had more).
    pub env: Vec<(String, String)>,
    pub server: String,
}

/// An expectation, checked at its instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Online there and nowhere else.
    GroupOnline {
        group: String,
        server: String,
    },
    /// Online nowhere.
    GroupOffline {
        group: String,
    },
    /// In the `error` state.
    GroupError {
        group: String,
    },
    Resource {
        resource: String,
        state: ResourceState,
        server: String,
    },
    Server {
        server: String,
        state: ServerState,
    },
    Monitor {
        monitor: String,
        state: MonitorState,
        server: String,
    },
    Mirror {
        mirror: String,
        state: MirrorState,
    },
    /// That server holds the latest data.
    MirrorLatest {
        mirror: String,
        server: String,
    },
    /// Both copies hold the same bytes.
    MirrorIdentical {
        mirror: String,
    },
    /// Emitted since the start (on that server, if given); exactly `count` times if given.
    Event {
        event: String,
        on: Option<String>,
        count: Option<u32>,
    },
    /// Not emitted since the start, or since `since_ms` if given.
    NoEvent {
        event: String,
        on: Option<String>,
        since_ms: Option<u64>,
    },
    Script(ScriptRun),
    NoScript(ScriptRun),
    /// The reply to the previous `cmd` has arrived with that verdict.
    Reply(ReplyState),
    /// The group was online on two servers at once at some point.
    SplitBrain {
        group: String,
    },
}
