//! Log records in the operator's words, and as structured JSON (`baton log show`).
//!
//! In: one `LogRecord` and the configuration of its run (for names). Out: one line of
//! text (`in   heartbeat from server2 on lan1`, `out  run np-probe of np1 (action 47)`),
//! or a JSON value whose fields are the record's own (docs/event-log.md § `log show
//! --json`), never Rust `Debug` text.
//!
//! Ids a record carries are looked up in the run's configuration; an id the
//! configuration does not have (a damaged or foreign log) prints as `#N` instead of
//! failing, so every record prints.

use crate::log_time::TimeView;
use baton_core::config::{Config, GroupId, MonId, NpId, PathId, ResId, ServerId};
use baton_core::io::{Action, ActionResult, Message, MirrorRecord, PowerAction, ProbeResult, Timer};
use baton_core::record::LogRecord;
use baton_core::{Event, Input, Output};

/// Names of the ids of one run's configuration (`#N` for unknown ones, or without one),
/// and how instants inside records (a timer's deadline) print.
#[derive(Clone, Copy)]
pub struct Names<'a>(pub Option<&'a Config>, pub &'a TimeView);

impl Names<'_> {
    pub fn server(&self, id: ServerId) -> String {
        self.0.and_then(|c| c.servers.get(id.idx())).map_or_else(|| format!("server #{}", id.0), |s| s.name.clone())
    }
    pub fn group(&self, id: GroupId) -> String {
        self.0.and_then(|c| c.groups.get(id.idx())).map_or_else(|| format!("group #{}", id.0), |s| s.name.clone())
    }
    pub fn resource(&self, id: ResId) -> String {
        self.0.and_then(|c| c.resources.get(id.idx())).map_or_else(|| format!("resource #{}", id.0), |s| s.name.clone())
    }
    pub fn monitor(&self, id: MonId) -> String {
        self.0.and_then(|c| c.monitors.get(id.idx())).map_or_else(|| format!("monitor #{}", id.0), |s| s.name.clone())
    }
    pub fn np(&self, id: NpId) -> String {
        self.0.and_then(|c| c.nps.get(id.idx())).map_or_else(|| format!("resolver #{}", id.0), |s| s.name.clone())
    }
    pub fn path(&self, id: PathId) -> String {
        self.0.and_then(|c| c.heartbeats.get(id.idx())).map_or_else(|| format!("path #{}", id.0), |s| s.name.clone())
    }
    fn groups(&self, ids: &[GroupId]) -> String {
        if ids.is_empty() {
            return "no group".into();
        }
        ids.iter().map(|g| self.group(*g)).collect::<Vec<_>>().join(", ")
    }
    fn servers(&self, ids: &[ServerId]) -> String {
        ids.iter().map(|s| self.server(*s)).collect::<Vec<_>>().join(", ")
    }

    /// Whether every id `cmd` names is in the configuration (`Command::words` indexes).
    fn knows_command(&self, cmd: &baton_core::Command) -> bool {
        let Some(c) = self.0 else { return false };
        let json = serde_json::to_value(cmd).unwrap_or_default();
        let fits = |key: &str, len: usize| json_ids(&json, key).into_iter().all(|i| i < len);
        fits("server", c.servers.len())
            && fits("on", c.servers.len())
            && fits("to", c.servers.len())
            && fits("group", c.groups.len())
            && fits("mirror", c.resources.len())
            && fits("monitor", c.monitors.len())
    }

    fn command(&self, cmd: &baton_core::Command) -> String {
        match self.0 {
            Some(c) if self.knows_command(cmd) => cmd.words(c),
            Some(_) | None => serde_json::to_string(cmd).unwrap_or_default(),
        }
    }

    /// An event with its fields by name: `group-started group=g1 peer=server2 (why)`.
    pub fn event(&self, e: &Event) -> String {
        let mut s = e.kind.name().to_string();
        if let Some(g) = e.group {
            s += &format!(" group={}", self.group(g));
        }
        if let Some(r) = e.resource {
            s += &format!(" resource={}", self.resource(r));
        }
        if let Some(m) = e.monitor {
            s += &format!(" monitor={}", self.monitor(m));
        }
        if let Some(p) = e.peer {
            s += &format!(" peer={}", self.server(p));
        }
        if let Some(r) = &e.reason {
            s += &format!(" ({r})");
        }
        s
    }
}

/// Every number under `key` anywhere in a command's JSON.
fn json_ids(v: &serde_json::Value, key: &str) -> Vec<usize> {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .flat_map(|(k, x)| {
                let own = if k == key { x.as_u64().map(|n| usize::try_from(n).unwrap_or(usize::MAX)) } else { None };
                own.into_iter().chain(json_ids(x, key))
            })
            .collect(),
        serde_json::Value::Array(a) => a.iter().flat_map(|x| json_ids(x, key)).collect(),
        serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::String(_) => Vec::new(),
    }
}

/// One record as a line: `run  start of …`, `in   …` (an input) or `out  …` (an output).
pub fn record(n: Names, rec: &LogRecord) -> String {
    let (tag, text) = words(n, rec);
    format!("{tag:<4} {text}")
}

/// The tag of a record (`run`, `in`, `out`) and its words.
fn words(n: Names, rec: &LogRecord) -> (&'static str, String) {
    match rec {
        LogRecord::RunStart { server, config_name, .. } => ("run", format!("start of {server} with {config_name}")),
        LogRecord::Input { input, .. } => ("in", self::input(n, input)),
        LogRecord::Output { output, .. } => ("out", self::output(n, output)),
    }
}

/// An input in words.
pub fn input(n: Names, i: &Input) -> String {
    match i {
        Input::Boot { persisted } => match persisted {
            Some(p) => format!(
                "service start (run {}, last run ended {})",
                p.runs + 1,
                match p.last_end_clean {
                    Some(true) => "cleanly",
                    Some(false) => "uncleanly",
                    None => "never",
                }
            ),
            None => "service start (first run on this disk)".into(),
        },
        Input::TimerFired { timer } => format!("timer {} fired", self::timer(n, timer)),
        Input::Heartbeat { from, path, hb } => {
            format!(
                "heartbeat from {} on {} ({}, version {})",
                n.server(*from),
                n.path(*path),
                hb.state.name(),
                hb.version
            )
        }
        Input::Message { from, msg } => format!("message from {}: {}", n.server(*from), message(n, msg)),
        Input::ActionDone { id, result } => format!("action {id} done: {}", self::result(result)),
        Input::Command { id, cmd } => format!("operator command {id}: {}", n.command(cmd)),
        Input::ShutdownRequested => "OS shutdown requested".into(),
        Input::MirrorWritten { res, bytes } => format!("{bytes} bytes written to mirror {}", n.resource(*res)),
        Input::MirrorDiskError { res } => format!("I/O error on mirror {}'s data device", n.resource(*res)),
        Input::MirrorWritesLost { res, bytes } => {
            format!("{bytes} asynchronous bytes of mirror {} lost", n.resource(*res))
        }
        Input::MirrorConnect { res, network, up } => {
            format!("mirror {} connect network {network} {}", n.resource(*res), if *up { "up" } else { "down" })
        }
        Input::ProcessDied { process } => format!("process {process} died"),
    }
}

/// An output in words.
pub fn output(n: Names, o: &Output) -> String {
    match o {
        Output::Heartbeat { to, path, hb } => {
            format!("heartbeat to {} on {} ({}, version {})", n.server(*to), n.path(*path), hb.state.name(), hb.version)
        }
        Output::Send { to, msg } => format!("send to {}: {}", n.server(*to), message(n, msg)),
        Output::Execute { id, action } => format!("run {} (action {id})", self::action(n, action)),
        Output::Cancel { id } => format!("cancel action {id}"),
        Output::SetTimer { at_ms, timer } => format!("timer {} set for {}", self::timer(n, timer), n.1.fmt(*at_ms)),
        Output::Emit(e) => format!("EVENT {}", n.event(e)),
        Output::Reply { id, result } => match result {
            Ok(()) => format!("answer to operator command {id}: done"),
            Err(e) => format!("answer to operator command {id}: refused: {e}"),
        },
        Output::Persist(p) => {
            format!("store state: run {}, groups online here: {}", p.runs, n.groups(&p.groups_online))
        }
    }
}

fn timer(n: Names, t: &Timer) -> String {
    match t {
        Timer::HeartbeatTick => "heartbeat-tick".into(),
        Timer::Liveness => "liveness".into(),
        Timer::SyncWait => "sync-wait".into(),
        Timer::NpVerdict => "np-verdict".into(),
        Timer::Takeover => "takeover".into(),
        Timer::NpCheck(np) => format!("np-check of {}", n.np(*np)),
        Timer::MonitorCheck(m) => format!("monitor-check of {}", n.monitor(*m)),
        Timer::ActionTimeout(id) => format!("timeout of action {id}"),
        Timer::CounterReset => "counter-reset".into(),
        Timer::TransitCheck => "transit-check".into(),
        Timer::ScriptSlow(id) => format!("script-slow of action {id}"),
        Timer::MirrorConnectDown(r) => format!("mirror-connect-down of {}", n.resource(*r)),
        Timer::ShutdownStall => "shutdown-stall".into(),
    }
}

fn action(n: Names, a: &Action) -> String {
    match a {
        Action::Activate { res, .. } => format!("activate {}", n.resource(*res)),
        Action::Deactivate { res, .. } => format!("deactivate {}", n.resource(*res)),
        Action::RecoverRun { res, .. } => format!("recovery script of {}", n.resource(*res)),
        Action::NpProbe { np } => format!("np-probe of {}", n.np(*np)),
        Action::AddressProbe { res, margin_ms } => {
            format!("margin probe of {} for {margin_ms} ms (B44)", n.resource(*res))
        }
        Action::MonitorCheck { mon } => format!("check of monitor {}", n.monitor(*mon)),
        Action::MirrorCopy { res, to, full } => {
            format!("{} copy of mirror {} to {}", if *full { "full" } else { "delta" }, n.resource(*res), n.server(*to))
        }
        Action::Power(p) => format!("power action {}", power(*p)),
    }
}

fn power(p: PowerAction) -> &'static str {
    match p {
        PowerAction::CleanPowerOff => "clean power-off",
        PowerAction::CleanReboot => "clean reboot",
        PowerAction::CleanServiceStop => "clean service stop",
        PowerAction::FailureServiceStop => "service stop after a failure",
        PowerAction::FailureShutdown => "shutdown after a failure",
        PowerAction::FailureReboot => "reboot after a failure",
        PowerAction::EmergencyShutdown => "emergency shutdown",
        PowerAction::EmergencyReboot => "emergency reboot",
        PowerAction::Panic => "panic",
    }
}

fn result(r: &ActionResult) -> String {
    match r {
        ActionResult::Ok => "ok".into(),
        ActionResult::Failed(why) => format!("failed: {why}"),
        ActionResult::Probe(ProbeResult::Answered(yes)) => {
            if *yes { "a target answered" } else { "no target answered" }.into()
        }
        ActionResult::Probe(ProbeResult::Disk { io_ok, io_ms, .. }) => {
            format!("disk I/O {} in {io_ms} ms", if *io_ok { "ok" } else { "failed" })
        }
        ActionResult::Check { healthy, detail } => {
            format!(
                "{}{}",
                if *healthy { "healthy" } else { "unhealthy" },
                if detail.is_empty() { String::new() } else { format!(": {detail}") }
            )
        }
    }
}

fn message(n: Names, m: &Message) -> String {
    match m {
        Message::Hello { state, .. } => format!("hello ({})", state.name()),
        Message::State(s) => format!("state version {}", s.version),
        Message::StateRequest => "state request".into(),
        Message::Formed { timeout, members } => {
            format!(
                "cluster formed with {}{}",
                n.servers(members),
                if *timeout { " (after the wait timed out)" } else { "" }
            )
        }
        Message::StartGroup { group, .. } => format!("start group {}", n.group(*group)),
        Message::MoveGroup { group, to, failback } => {
            format!("move group {} to {}{}", n.group(*group), n.server(*to), if *failback { " (failback)" } else { "" })
        }
        Message::Forward { cmd } => format!("forwarded command: {}", n.command(cmd)),
        Message::Departure { clean, groups, .. } => {
            format!("{} departure holding {}", if *clean { "clean" } else { "unclean" }, n.groups(groups))
        }
        Message::DownNotice { groups } => format!("down notice for {}", n.groups(groups)),
        Message::RestartSeen => "restart seen".into(),
        Message::Fencing { groups } => format!("fencing for {}", n.groups(groups)),
        Message::ClusterOp(op) => format!("cluster operation {}", serde_json::to_string(op).unwrap_or_default()),
        Message::MirrorRecord { res, side, record } => format!(
            "mirror {} side {side}: {}",
            n.resource(*res),
            match record {
                MirrorRecord::Synced => "synced",
                MirrorRecord::Ahead { .. } => "ahead",
                MirrorRecord::Behind { .. } => "behind",
                MirrorRecord::Closed => "closed",
                MirrorRecord::Forced => "forced",
                MirrorRecord::Lost => "lost",
            }
        ),
    }
}

/// One record as JSON (schema: docs/event-log.md § `log show --json`).
pub fn record_json(n: Names, server: &str, seq: u64, at: &str, rec: &LogRecord) -> serde_json::Value {
    let (kind, body) = match rec {
        LogRecord::RunStart { config_name, .. } => ("run_start", serde_json::json!({"config": config_name})),
        LogRecord::Input { input, .. } => ("input", serde_json::to_value(input).unwrap_or_default()),
        LogRecord::Output { output, .. } => ("output", serde_json::to_value(output).unwrap_or_default()),
    };
    let mut v = serde_json::json!({
        "v": 1,
        "server": server,
        "seq": seq,
        "at_ms": rec.at_ms(),
        "at": at,
        "kind": kind,
        "text": words(n, rec).1,
    });
    v[kind] = body;
    v
}
