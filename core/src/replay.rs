//! Replay and explanation over a server's log records, without I/O.
//!
//! In: the records of one server's log, in sequence order, each with its sequence
//! number. Out: [`replay`] re-runs a fresh `Node` per run over the logged inputs and
//! checks that exactly the logged outputs come out again (the first divergence is
//! reported precisely); [`state_at`] gives the node as it was at an instant;
//! [`explain`] walks an emitted event back through the causes it carries.

use crate::config::{self, Config, Ms};
use crate::event::{Event, EventKind};
use crate::io::Output;
use crate::node::Node;
use crate::record::LogRecord;
use std::sync::Arc;

/// Why a replay failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayError {
    /// The log does not start with (or a run lacks) a `RunStart`.
    NoRunStart { seq: u64 },
    /// The configuration stored at a run start no longer parses.
    BadConfig { seq: u64, problems: Vec<String> },
    /// The server named at a run start is not in its configuration.
    UnknownServer { seq: u64, server: String },
    /// The outputs differ: `expected` was logged at `seq`, replay produced `got`.
    Divergence { seq: u64, at_ms: Ms, input_seq: u64, expected: Option<Box<Output>>, got: Option<Box<Output>> },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::NoRunStart { seq } => write!(f, "record {seq}: input before any run start"),
            ReplayError::BadConfig { seq, problems } => {
                write!(f, "record {seq}: the configuration of this run is invalid: {}", problems.join("; "))
            }
            ReplayError::UnknownServer { seq, server } => {
                write!(f, "record {seq}: server {server} is not in the run's configuration")
            }
            ReplayError::Divergence { seq, at_ms, input_seq, expected, got } => write!(
                f,
                "first divergence at record {seq} (t={at_ms} ms, after input record {input_seq}): logged {}, replay gave {}",
                expected.as_ref().map_or("nothing".to_string(), |o| format!("{o:?}")),
                got.as_ref().map_or("nothing".to_string(), |o| format!("{o:?}"))
            ),
        }
    }
}

/// What a successful replay covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    pub runs: u64,
    pub inputs: u64,
    pub outputs: u64,
    /// Digest of the last run's final node state.
    pub final_digest: u64,
}

/// A run being replayed.
struct Run {
    node: Node,
    /// Outputs produced by the last input, not yet matched against the log.
    produced: std::collections::VecDeque<Output>,
    input_seq: u64,
    at_ms: Ms,
}

fn start_run(seq: u64, server: &str, name: &str, text: &str) -> Result<(Arc<Config>, Node), ReplayError> {
    let checked = config::parse(name, text)
        .map_err(|d| ReplayError::BadConfig { seq, problems: d.iter().map(|x| x.to_string()).collect() })?;
    let cfg = Arc::new(checked.config);
    let me = cfg.server_id(server).ok_or_else(|| ReplayError::UnknownServer { seq, server: server.to_string() })?;
    Ok((cfg.clone(), Node::new(cfg, me)))
}

/// Checks that every output of the previous input was logged.
fn drain(run: &mut Option<Run>, seq: u64) -> Result<(), ReplayError> {
    if let Some(r) = run {
        if let Some(extra) = r.produced.pop_front() {
            return Err(ReplayError::Divergence {
                seq,
                at_ms: r.at_ms,
                input_seq: r.input_seq,
                expected: None,
                got: Some(Box::new(extra)),
            });
        }
    }
    Ok(())
}

/// Re-runs the logged inputs and compares the outputs, record by record.
pub fn replay(records: impl IntoIterator<Item = (u64, LogRecord)>) -> Result<Replayed, ReplayError> {
    let mut run: Option<Run> = None;
    let mut summary = Replayed::default();
    let mut last_seq = 0;
    for (seq, rec) in records {
        last_seq = seq;
        match rec {
            LogRecord::RunStart { server, config_name, config_text, .. } => {
                drain(&mut run, seq)?;
                let (_, node) = start_run(seq, &server, &config_name, &config_text)?;
                run = Some(Run { node, produced: Default::default(), input_seq: seq, at_ms: 0 });
                summary.runs += 1;
            }
            LogRecord::Input { at_ms, input } => {
                drain(&mut run, seq)?;
                let r = run.as_mut().ok_or(ReplayError::NoRunStart { seq })?;
                let mut out = Vec::new();
                r.node.handle(at_ms, input, &mut out);
                r.produced = out.into();
                r.input_seq = seq;
                r.at_ms = at_ms;
                summary.inputs += 1;
            }
            LogRecord::Output { at_ms, output } => {
                let r = run.as_mut().ok_or(ReplayError::NoRunStart { seq })?;
                let got = r.produced.pop_front();
                if got.as_ref() != Some(&output) {
                    return Err(ReplayError::Divergence {
                        seq,
                        at_ms,
                        input_seq: r.input_seq,
                        expected: Some(Box::new(output)),
                        got: got.map(Box::new),
                    });
                }
                summary.outputs += 1;
            }
        }
    }
    drain(&mut run, last_seq + 1)?;
    summary.final_digest = run.map_or(0, |r| r.node.digest());
    Ok(summary)
}

/// The node as it was after every input up to `at_ms` (the run in force then), with
/// its configuration.
pub fn state_at(
    records: impl IntoIterator<Item = (u64, LogRecord)>,
    at_ms: Ms,
) -> Result<Option<(Arc<Config>, Node)>, ReplayError> {
    let mut current: Option<(Arc<Config>, Node)> = None;
    let mut out = Vec::new();
    for (seq, rec) in records {
        if rec.at_ms() > at_ms {
            break;
        }
        match rec {
            LogRecord::RunStart { server, config_name, config_text, .. } => {
                current = Some(start_run(seq, &server, &config_name, &config_text)?);
            }
            LogRecord::Input { at_ms, input } => {
                let (_, node) = current.as_mut().ok_or(ReplayError::NoRunStart { seq })?;
                node.handle(at_ms, input, &mut out);
                out.clear();
            }
            LogRecord::Output { .. } => {}
        }
    }
    Ok(current)
}

/// One step of an explanation: an event, where it was logged, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub seq: u64,
    pub at_ms: Ms,
    pub event: Event,
    /// The input that was being handled when the event was emitted.
    pub input_seq: u64,
    pub input: String,
}

/// Which event to explain: a record sequence number, or the last event of a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Seq(u64),
    Last(EventKind),
}

/// The causal chain of an event: the event itself first, then the events it follows
/// from (each the latest earlier emission of the kind its cause names), at most 16.
pub fn explain(records: &[(u64, LogRecord)], target: Target) -> Option<Vec<Step>> {
    // Every emitted event with the input it answered.
    let mut emitted: Vec<Step> = Vec::new();
    let mut input_seq = 0;
    let mut input = String::new();
    for (seq, rec) in records {
        match rec {
            LogRecord::Input { input: i, .. } => {
                input_seq = *seq;
                input = describe_input(i);
            }
            LogRecord::Output { at_ms, output: Output::Emit(e) } => {
                emitted.push(Step { seq: *seq, at_ms: *at_ms, event: e.clone(), input_seq, input: input.clone() })
            }
            LogRecord::Output { .. } | LogRecord::RunStart { .. } => {}
        }
    }
    let start = match target {
        Target::Seq(s) => emitted.iter().position(|e| e.seq == s)?,
        Target::Last(k) => emitted.iter().rposition(|e| e.event.kind == k)?,
    };
    let mut chain = vec![emitted[start].clone()];
    let mut at = start;
    while chain.len() < 16 {
        let Some(after) = emitted[at].event.cause.as_ref().and_then(|c| c.after) else { break };
        let Some(prev) = emitted[..at].iter().rposition(|e| e.event.kind == after) else { break };
        chain.push(emitted[prev].clone());
        at = prev;
    }
    Some(chain)
}

/// A short description of an input for explanations.
pub fn describe_input(i: &crate::io::Input) -> String {
    use crate::io::Input;
    match i {
        Input::Boot { .. } => "service start".into(),
        Input::TimerFired { timer } => format!("timer {timer:?}"),
        Input::Heartbeat { from, path, .. } => format!("heartbeat from server #{} on path #{}", from.0, path.0),
        Input::Message { from, msg } => format!("message from server #{}: {}", from.0, message_name(msg)),
        Input::ActionDone { id, result } => format!("result of action {id}: {result:?}"),
        Input::Command { cmd, .. } => format!("operator command {cmd:?}"),
        Input::ShutdownRequested => "OS shutdown".into(),
        Input::MirrorWritten { bytes, .. } => format!("{bytes} bytes written to a mirror"),
        Input::MirrorDiskError { .. } => "mirror data device I/O error".into(),
        Input::MirrorWritesLost { bytes, .. } => format!("{bytes} async bytes lost"),
        Input::MirrorConnect { network, up, .. } => {
            format!("mirror connect network #{network} {}", if *up { "up" } else { "down" })
        }
        Input::ProcessDied { process } => format!("process {process} died"),
    }
}

fn message_name(m: &crate::io::Message) -> &'static str {
    use crate::io::Message;
    match m {
        Message::Hello { .. } => "hello",
        Message::State(_) => "state",
        Message::StateRequest => "state request",
        Message::Formed { .. } => "cluster formed",
        Message::StartGroup { .. } => "start group",
        Message::MoveGroup { .. } => "move group",
        Message::Forward { .. } => "forwarded command",
        Message::Departure { .. } => "departure",
        Message::DownNotice { .. } => "down notice",
        Message::RestartSeen => "restart seen",
        Message::Fencing { .. } => "fencing",
        Message::ClusterOp(_) => "cluster operation",
        Message::MirrorRecord { .. } => "mirror record",
    }
}
