//! Pictures of a run: `baton sim run FILE --html OUT` and `baton log show DIR --html OUT`.
//!
//! In: every server's log records (a simulated run's traces or a real cluster's event
//! logs), the instants they are shown at, and for a simulated run its scenario steps and
//! expectation results. Out: a [`Timeline`] — a lane per server with its state, a band
//! per group with a row per server showing where it was online, and marks for faults,
//! verdicts, fences, script runs, commands and expectations — which [`page`] renders as
//! one self-contained HTML file (inline SVG, no script or style from elsewhere).
//!
//! The states are not guessed from events: each server's log is replayed through the
//! core (`Node::handle`, as `baton log replay` does), and the node's own view after every
//! input is what the lanes show. Between the last record of a run and the next run's
//! start the server's service was not running (a crash, a reboot): nothing is drawn.

pub mod page;

use crate::log_text::Names;
use crate::log_time::{Clock, TimeView};
use baton_core::config::{self, Config, Ms};
use baton_core::io::{GroupState, ServerState};
use baton_core::record::LogRecord;
use baton_core::{EventKind, Node, Output, Severity};
use std::sync::Arc;

/// One stretch of a lane in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub from_ms: Ms,
    pub to_ms: Ms,
    /// The state's word (`online`, `starting`, ...): the CSS class and the tooltip.
    pub state: &'static str,
}

/// A server's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    pub name: String,
    pub spans: Vec<Span>,
}

/// A group's band: one row per server, each with the group's state on that server as
/// that server saw it. Two rows `online` at one instant is a double online, and shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Band {
    pub group: String,
    pub rows: Vec<Lane>,
}

/// What a mark is, for its shape and colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A fault of the scenario (crash, cut, loss, ...).
    Fault,
    /// An operator command (a scenario `cmd`, or a logged command).
    Command,
    /// A network-partition verdict.
    Verdict,
    /// The server fenced or stopped itself.
    Fence,
    /// A script run.
    Script,
    /// A failover or a recovery action.
    Failover,
    /// Another warning or error event.
    Warning,
    Error,
    /// An expectation that held or failed.
    ExpectOk,
    ExpectFail,
}

impl MarkKind {
    pub fn class(self) -> &'static str {
        match self {
            MarkKind::Fault => "fault",
            MarkKind::Command => "command",
            MarkKind::Verdict => "verdict",
            MarkKind::Fence => "fence",
            MarkKind::Script => "script",
            MarkKind::Failover => "failover",
            MarkKind::Warning => "warning",
            MarkKind::Error => "error",
            MarkKind::ExpectOk => "expect-ok",
            MarkKind::ExpectFail => "expect-fail",
        }
    }
}

/// One marked instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub at_ms: Ms,
    /// The server's lane it belongs to, or `None` for the scenario's own row.
    pub server: Option<usize>,
    pub kind: MarkKind,
    /// Short text shown in the table and the tooltip.
    pub label: String,
}

/// Everything the page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    pub title: String,
    pub start_ms: Ms,
    pub end_ms: Ms,
    pub servers: Vec<Lane>,
    pub groups: Vec<Band>,
    pub marks: Vec<Mark>,
}

/// One server's records with the instant each is shown at (same length).
pub struct ServerLog<'a> {
    pub name: String,
    pub records: &'a [(u64, LogRecord)],
    pub times: Vec<Ms>,
}

/// The mark an event makes, if any. Information that the lanes already show (a group
/// online, a server joined) makes none: it is in the table of the log, not the picture.
fn event_mark(kind: EventKind) -> Option<MarkKind> {
    let name = kind.name();
    let fence = [
        "emergency-shutdown",
        "emergency-reboot",
        "panic",
        "shutdown-stall-reset",
        "service-stop-for-failure",
        "shutdown-for-failure",
        "reboot-for-failure",
    ];
    if fence.contains(&name) {
        Some(MarkKind::Fence)
    } else if name.starts_with("np-") && name != "np-resolution-started" && name != "np-target-up" {
        Some(MarkKind::Verdict)
    } else if name.starts_with("script-") {
        Some(MarkKind::Script)
    } else if name.starts_with("group-failover") || name.starts_with("recovery-") || name == "group-failback" {
        Some(MarkKind::Failover)
    } else if name.starts_with("command-") {
        Some(MarkKind::Command)
    } else {
        match kind.severity() {
            Severity::Info => None,
            Severity::Warning => Some(MarkKind::Warning),
            Severity::Error => Some(MarkKind::Error),
        }
    }
}

/// A lane being drawn: the open span's state and start.
struct Open {
    spans: Vec<Span>,
    current: Option<(&'static str, Ms)>,
}

impl Open {
    fn new() -> Open {
        Open { spans: Vec::new(), current: None }
    }

    /// The lane is in `state` from `at_ms` (`None`: nothing to draw from then).
    fn set(&mut self, state: Option<&'static str>, at_ms: Ms) {
        if self.current.map(|(s, _)| s) == state {
            return;
        }
        self.close(at_ms);
        self.current = state.map(|s| (s, at_ms));
    }

    fn close(&mut self, at_ms: Ms) {
        if let Some((state, from_ms)) = self.current.take() {
            assert!(from_ms <= at_ms, "a span ends before it starts ({from_ms} > {at_ms})");
            if from_ms < at_ms {
                self.spans.push(Span { from_ms, to_ms: at_ms, state });
            }
        }
    }
}

fn server_word(s: ServerState) -> &'static str {
    match s {
        ServerState::Online => "online",
        ServerState::Syncing => "syncing",
        ServerState::Suspended => "suspended",
        ServerState::Down => "down",
        ServerState::Stopped => "stopped",
        ServerState::Off => "off",
    }
}

/// The group's state word on one server, `None` when offline (nothing drawn).
fn group_word(s: GroupState) -> Option<&'static str> {
    match s {
        GroupState::Offline => None,
        GroupState::Starting | GroupState::Online | GroupState::Stopping | GroupState::Error => Some(s.name()),
    }
}

/// Builds the lanes and the event marks of every server's log. `cfg` names the groups
/// (the first run's configuration of any log when `None`); `end_ms` is where the last
/// run of each server is drawn to (a simulated run's end; a real cluster's last record).
pub fn build(title: String, logs: &[ServerLog], cfg: Option<Arc<Config>>, end_ms: Ms, view: &TimeView) -> Timeline {
    let cfg = cfg.or_else(|| logs.iter().find_map(|l| first_config(l.records)));
    let group_names: Vec<String> =
        cfg.as_ref().map(|c| c.groups.iter().map(|g| g.name.clone()).collect()).unwrap_or_default();
    let start_ms = logs.iter().filter_map(|l| l.times.first().copied()).min().unwrap_or(0);
    let end_ms = end_ms.max(logs.iter().filter_map(|l| l.times.last().copied()).max().unwrap_or(start_ms));
    let mut servers = Vec::new();
    let mut bands: Vec<Band> = group_names.iter().map(|g| Band { group: g.clone(), rows: Vec::new() }).collect();
    let mut marks = Vec::new();
    for (index, log) in logs.iter().enumerate() {
        assert_eq!(log.records.len(), log.times.len(), "one shown instant per record");
        let mut lane = Open::new();
        let mut rows: Vec<Open> = group_names.iter().map(|_| Open::new()).collect();
        let mut node: Option<(Arc<Config>, Node)> = None;
        let mut last_ms = start_ms;
        let mut out = Vec::new();
        for ((_, rec), &at_ms) in log.records.iter().zip(&log.times) {
            match rec {
                LogRecord::RunStart { server, config_name, config_text, .. } => {
                    // The previous run ended at its last record: nothing known after it.
                    lane.set(None, last_ms);
                    for r in &mut rows {
                        r.set(None, last_ms);
                    }
                    node = config::parse(config_name, config_text).ok().and_then(|checked| {
                        let c = Arc::new(checked.config);
                        c.server_id(server).map(|me| (Arc::clone(&c), Node::new(c, me)))
                    });
                }
                LogRecord::Input { at_ms: input_ms, input } => {
                    let Some((c, n)) = node.as_mut() else { continue };
                    out.clear();
                    n.handle(*input_ms, input.clone(), &mut out);
                    let state = if n.service_running() { Some(server_word(n.reported_state())) } else { None };
                    lane.set(state, at_ms);
                    for (g, row) in c.group_ids().zip(rows.iter_mut()) {
                        row.set(if n.service_running() { group_word(n.group_state(g)) } else { None }, at_ms);
                    }
                    let names = Names(Some(c), view);
                    for o in &out {
                        if let Output::Emit(e) = o {
                            if let Some(kind) = event_mark(e.kind) {
                                marks.push(Mark { at_ms, server: Some(index), kind, label: names.event(e) });
                            }
                        }
                    }
                }
                LogRecord::Output { .. } => {}
            }
            last_ms = at_ms;
        }
        // The last run goes on to the end of the picture unless its service stopped.
        lane.close(end_ms);
        servers.push(Lane { name: log.name.clone(), spans: lane.spans });
        for (band, mut row) in bands.iter_mut().zip(rows) {
            row.close(end_ms);
            band.rows.push(Lane { name: log.name.clone(), spans: row.spans });
        }
    }
    marks.sort_by_key(|m| m.at_ms);
    Timeline { title, start_ms, end_ms, servers, groups: bands, marks }
}

fn first_config(records: &[(u64, LogRecord)]) -> Option<Arc<Config>> {
    records.iter().find_map(|(_, r)| match r {
        LogRecord::RunStart { config_name, config_text, .. } => {
            config::parse(config_name, config_text).ok().map(|c| Arc::new(c.config))
        }
        LogRecord::Input { .. } | LogRecord::Output { .. } => None,
    })
}

/// Cuts the picture to `[from_ms, to_ms]` (either side open): spans are cut at the
/// edges, marks outside are dropped.
pub fn clip(t: &mut Timeline, from_ms: Option<Ms>, to_ms: Option<Ms>) {
    let start = from_ms.unwrap_or(t.start_ms).max(t.start_ms);
    let end = to_ms.unwrap_or(t.end_ms).min(t.end_ms).max(start);
    let cut = |lane: &mut Lane| {
        lane.spans.retain(|s| s.to_ms > start && s.from_ms < end);
        for s in &mut lane.spans {
            s.from_ms = s.from_ms.max(start);
            s.to_ms = s.to_ms.min(end);
        }
    };
    t.servers.iter_mut().for_each(cut);
    t.groups.iter_mut().flat_map(|b| b.rows.iter_mut()).for_each(cut);
    t.marks.retain(|m| m.at_ms >= start && m.at_ms <= end);
    t.start_ms = start;
    t.end_ms = end;
}

/// A simulated run's picture: its traces, plus its scenario steps (faults and commands)
/// and its expectations (ok or FAIL).
pub fn of_sim_run(title: String, report: &baton_sim::Report, steps: &[baton_sim::scenario::Step]) -> Timeline {
    use baton_sim::scenario::Stmt;
    // Numbered as a log directory numbers them (the picture does not use the numbers).
    let numbered: Vec<Vec<(u64, LogRecord)>> =
        report.traces.iter().map(|t| (1..).zip(t.iter().cloned()).collect()).collect();
    let logs: Vec<ServerLog> = numbered
        .iter()
        .enumerate()
        .map(|(i, records)| ServerLog {
            name: report.cfg.servers[i].name.clone(),
            records,
            times: records.iter().map(|(_, r)| r.at_ms()).collect(),
        })
        .collect();
    let view = TimeView { clock: Clock::Sim, utc: true, origin_ms: 0 };
    let mut t = build(title, &logs, Some(Arc::clone(&report.cfg)), report.end_ms, &view);
    t.start_ms = 0;
    for step in steps {
        let kind = match &step.stmt {
            Stmt::Expect(_) => continue,
            Stmt::Cmd { .. } => MarkKind::Command,
            // Everything else the world does to the cluster.
            Stmt::Boot(_)
            | Stmt::Crash { .. }
            | Stmt::CrashAt { .. }
            | Stmt::Shutdown { .. }
            | Stmt::Cut { .. }
            | Stmt::CutPair { .. }
            | Stmt::CutOneWay { .. }
            | Stmt::Heal { .. }
            | Stmt::HealPair { .. }
            | Stmt::HealOneWay { .. }
            | Stmt::HealAll
            | Stmt::Isolate { .. }
            | Stmt::Partition { .. }
            | Stmt::Loss { .. }
            | Stmt::Target { .. }
            | Stmt::Disk { .. }
            | Stmt::Serial(_)
            | Stmt::FailActivation { .. }
            | Stmt::FailDeactivation { .. }
            | Stmt::Monitor { .. }
            | Stmt::Clock { .. }
            | Stmt::Stall { .. }
            | Stmt::HangShutdown { .. }
            | Stmt::KillProcess { .. }
            | Stmt::Write { .. } => MarkKind::Fault,
        };
        t.marks.push(Mark {
            at_ms: step.at_ms,
            server: None,
            kind,
            label: format!("line {}: {}", step.line, step.stmt),
        });
    }
    for o in &report.outcomes {
        let kind = if o.ok { MarkKind::ExpectOk } else { MarkKind::ExpectFail };
        let detail = if o.ok { String::new() } else { format!(" — {}", o.detail) };
        t.marks.push(Mark {
            at_ms: o.at_ms,
            server: None,
            kind,
            label: format!("line {}: expect {}{detail}", o.line, o.text),
        });
    }
    t.marks.sort_by_key(|m| m.at_ms);
    t
}

/// Writes the page, saying what to do when it cannot.
pub fn write(t: &Timeline, path: &std::path::Path, clock: &dyn Fn(Ms) -> String) -> Result<(), String> {
    let html = page::render(t, clock);
    std::fs::write(path, html)
        .map_err(|e| format!("cannot write the timeline to {}: {e} (give a writable path to --html)", path.display()))
}

#[cfg(test)]
mod tests;
