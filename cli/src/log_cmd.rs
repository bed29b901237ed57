//! `baton log verify|show|replay|why|state`: the event logs of one server (a log
//! directory) or of a whole cluster (a directory holding one log directory per server,
//! as `baton sim run --trace DIR` and the daemons write them).
//!
//! In: a directory and the command's options. Out: readable records, verification
//! heads, replay results with the first divergence, causal chains, the state at an
//! instant. Exit 0 when all is well, 1 when a log is damaged or diverges, 2 on bad
//! input (with what to do).

use crate::log_text::{self, Names};
use crate::log_time::{Clock, TimeView, WALL_CLOCK_FLOOR_MS};
use baton_core::config::{Config, Ms};
use baton_core::record::LogRecord;
use baton_core::replay::{self, Target};
use baton_core::EventKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The log directories under `dir`: itself if it holds segments, else its subdirectories.
fn log_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read the log directory: {e}", dir.display()))?;
    let mut subdirs = Vec::new();
    let mut has_segments = false;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            subdirs.push(p);
        } else if p.extension().is_some_and(|x| x == "log") {
            has_segments = true;
        }
    }
    if has_segments {
        return Ok(vec![dir.to_path_buf()]);
    }
    subdirs.sort();
    if subdirs.is_empty() {
        return Err(format!(
            "{}: no event log here (expected NNN.log segments or one directory per server)",
            dir.display()
        ));
    }
    Ok(subdirs)
}

/// One server's log as far as it reads: its records, and what was cut from it.
struct Log {
    dir: PathBuf,
    records: Vec<(u64, LogRecord)>,
    /// What could not be read: a torn tail (what a crash in mid-write leaves), damage
    /// the log cannot be read past, or a record that does not decode. The records
    /// before it are in `records`.
    cut: Option<String>,
}

impl Log {
    /// Says what was cut on stderr (once per command and log) and whether anything was.
    fn warn(&self) -> bool {
        if let Some(cut) = &self.cut {
            eprintln!("{}: {cut}", self.dir.display());
        }
        self.cut.is_some()
    }
}

/// Reads every record of one log, decoded, up to any damage (see [`Log::cut`]). Beside
/// a running daemon, a batch being written at that moment looks like a torn tail: a log
/// that ends torn is read once more, and the second reading is the answer.
fn read_log(dir: &Path) -> Result<Log, String> {
    let first = read_log_once(dir)?;
    match &first.cut {
        Some(cut) if cut.starts_with(TORN) => read_log_once(dir),
        Some(_) | None => Ok(first),
    }
}

/// How the message about a torn tail starts.
const TORN: &str = "TORN TAIL";

fn read_log_once(dir: &Path) -> Result<Log, String> {
    let mut reader = baton_log::Reader::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut records = Vec::new();
    let mut cut = None;
    for r in reader.by_ref() {
        let decoded = r.and_then(|r| r.decode::<LogRecord>().map(|rec| (r.seq, rec)));
        match decoded {
            Ok(rec) => records.push(rec),
            Err(e) => {
                cut = Some(format!("DAMAGED, only the {} records before it are read: {e}", records.len()));
                break;
            }
        }
    }
    if cut.is_none() && reader.recovery().is_some_and(|r| r.dropped_tail_bytes > 0) {
        // The reader knows the size; `verify` also names the file and the offset.
        let detail = match baton_log::verify(dir) {
            Err(e @ baton_log::Error::TornTail { .. }) => e.to_string(),
            Ok(_) | Err(_) => format!("{} bytes", reader.recovery().map_or(0, |r| r.dropped_tail_bytes)),
        };
        cut = Some(format!(
            "{TORN} cut off after record {} (records appended but never committed, as a crash leaves them; \
             the daemon cuts it at its next start): {detail}",
            reader.head().seq
        ));
    }
    Ok(Log { dir: dir.to_path_buf(), records, cut })
}

/// Every log under `dir` (see [`log_dirs`]), read.
fn read_logs(dir: &Path) -> Result<Vec<Log>, String> {
    log_dirs(dir)?.iter().map(|d| read_log(d)).collect()
}

/// The time view of the logs at hand.
fn view_of(logs: &[Log], utc: bool) -> TimeView {
    TimeView::of(logs.iter().flat_map(|l| l.records.iter().map(|(_, r)| r)), utc)
}

/// Exit 1 if anything was cut from a log, else 0.
fn exit(cut: bool) -> ExitCode {
    if cut {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints one line (or lines) on stdout; false once stdout is closed (`| head`), which
/// ends the listing quietly.
fn say(text: &str) -> bool {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{text}").is_ok()
}

fn fail(msg: String) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(2)
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn verify(dir: &Path) -> ExitCode {
    let dirs = match log_dirs(dir) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut bad = false;
    for d in dirs {
        match baton_log::verify(&d) {
            Ok(head) => {
                println!("{}: ok: {} records, head seq {} hash {}", d.display(), head.seq, head.seq, hex(&head.hash))
            }
            Err(e) => {
                bad = true;
                println!("{}: DAMAGED: {e}", d.display());
            }
        }
    }
    if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The configuration of the first run in a log (to print names instead of numbers).
fn config_of(records: &[(u64, LogRecord)]) -> Option<Arc<Config>> {
    records.iter().find_map(|(_, r)| match r {
        LogRecord::RunStart { config_name, config_text, .. } => {
            baton_core::config::parse(config_name, config_text).ok().map(|c| Arc::new(c.config))
        }
        LogRecord::Input { .. } | LogRecord::Output { .. } => None,
    })
}

fn server_of(records: &[(u64, LogRecord)], dir: &Path) -> String {
    records
        .iter()
        .find_map(|(_, r)| match r {
            LogRecord::RunStart { server, .. } => Some(server.clone()),
            LogRecord::Input { .. } | LogRecord::Output { .. } => None,
        })
        .unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

/// The instant each record is shown at. A daemon's `RunStart` written before its times
/// were stamped on it (at 0) is shown at the next record's time.
fn shown_times(records: &[(u64, LogRecord)], clock: Clock) -> Vec<Ms> {
    let mut times: Vec<Ms> = records.iter().map(|(_, r)| r.at_ms()).collect();
    if clock == Clock::Wall {
        for i in (0..times.len()).rev() {
            if times[i] < WALL_CLOCK_FLOOR_MS {
                times[i] = times.get(i + 1).copied().unwrap_or(times[i]);
            }
        }
    }
    times
}

pub struct ShowOptions<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub server: Option<&'a str>,
    pub json: bool,
    pub utc: bool,
    /// Write a picture of the logs here instead of listing them.
    pub html: Option<&'a Path>,
}

pub fn show(dir: &Path, opts: &ShowOptions) -> ExitCode {
    use std::io::Write;
    let logs = match read_logs(dir) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let view = view_of(&logs, opts.utc);
    let bound = |t: Option<&str>| t.map(|t| view.parse(t)).transpose();
    let (from_ms, to_ms) = match (bound(opts.from), bound(opts.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    if let Some(out) = opts.html {
        return show_html(dir, &logs, &view, (from_ms, to_ms), opts.server, out);
    }
    let mut cut = false;
    // A closed pipe (`| head`) ends the listing quietly.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for log in &logs {
        // Damage is told for every log read, also one not shown.
        cut |= log.warn();
        let server = server_of(&log.records, &log.dir);
        if opts.server.is_some_and(|s| s != server) {
            continue;
        }
        let cfg = config_of(&log.records);
        let names = Names(cfg.as_deref(), &view);
        let times = shown_times(&log.records, view.clock);
        for ((seq, rec), at) in log.records.iter().zip(times) {
            if from_ms.is_some_and(|f| at < f) || to_ms.is_some_and(|t| at > t) {
                continue;
            }
            let written = if opts.json {
                writeln!(out, "{}", log_text::record_json(names, &server, *seq, &view.fmt(at), rec))
            } else {
                writeln!(out, "{seq:>8}  {}  {:<10} {}", view.fmt(at), server, log_text::record(names, rec))
            };
            if written.is_err() {
                return exit(cut);
            }
        }
    }
    let _ = out.flush();
    exit(cut)
}

pub fn replay_cmd(dir: &Path) -> ExitCode {
    let logs = match read_logs(dir) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut bad = false;
    for log in logs {
        let d = log.dir.display().to_string();
        let mut records = log.records;
        // After a cut, the last input's outputs may be partly gone: replay up to the
        // input before it, so that what was lost does not read as a divergence.
        let unchecked = match &log.cut {
            Some(_) => {
                let last_input = records.iter().rposition(|(_, r)| matches!(r, LogRecord::Input { .. }));
                let keep = last_input.unwrap_or(records.len());
                records.len() - keep
            }
            None => 0,
        };
        records.truncate(records.len() - unchecked);
        let started = std::time::Instant::now();
        let n = records.len();
        match replay::replay(records) {
            Ok(s) => println!(
                "{d}: {}: {} runs, {} inputs replayed, all {} outputs reproduced ({} records in {:.3} s){}",
                if log.cut.is_some() { "ok up to the cut" } else { "ok" },
                s.runs,
                s.inputs,
                s.outputs,
                n,
                started.elapsed().as_secs_f64(),
                if unchecked > 0 {
                    format!("; the last {unchecked} records (the input before the cut and its outputs) not checked")
                } else {
                    String::new()
                }
            ),
            Err(e) => {
                bad = true;
                println!("{d}: DIVERGES: {e}");
            }
        }
        if let Some(cut) = &log.cut {
            bad = true;
            println!("{d}: {cut}");
        }
    }
    exit(bad)
}

/// The chain found in one server's log: its instant, the server, the steps, the log.
type Found<'a> = (Ms, String, Vec<replay::Step>, &'a Log);

/// One step of a `why` chain, in words (`baton log why` prints them; the web console's
/// `GET /api/why` serves them as JSON).
#[derive(Clone, Debug, serde::Serialize)]
pub struct WhyStep {
    pub seq: u64,
    pub at_ms: Ms,
    /// The instant as `baton log` shows it (wall clock, or simulated time).
    pub at: String,
    pub server: String,
    /// The event with its names (`group-failover group=g1 …`).
    pub event: String,
    /// The deciding rule.
    pub because: Option<String>,
    pub input_seq: u64,
    /// The input being handled when it was emitted.
    pub input: String,
}

/// A chain, and whether anything was cut from a log read for it (said on stderr by
/// the CLI only).
pub struct WhyChain {
    /// Empty: no such event.
    pub steps: Vec<WhyStep>,
    pub cut: Vec<String>,
}

/// What `why` is asked about: a record number or an event name (its last emission).
pub fn why_target(what: &str) -> Result<Target, String> {
    match what.parse::<u64>() {
        Ok(seq) => Ok(Target::Seq(seq)),
        Err(_) => EventKind::from_name(what)
            .map(Target::Last)
            .ok_or_else(|| format!("{what:?} is neither a record number nor an event name (see docs/events.md)")),
    }
}

/// The causal chain of `target` in the logs under `dir` (the latest match across the
/// servers' logs, or the named server's).
pub fn why_chain(target: Target, dir: &Path, server: Option<&str>, utc: bool) -> Result<WhyChain, String> {
    let logs = read_logs(dir)?;
    let view = view_of(&logs, utc);
    let cut = logs.iter().filter_map(|l| l.cut.as_ref().map(|c| format!("{}: {c}", l.dir.display()))).collect();
    let mut best: Option<Found> = None;
    for log in &logs {
        let name = server_of(&log.records, &log.dir);
        if server.is_some_and(|s| s != name) {
            continue;
        }
        if let Some(chain) = replay::explain(&log.records, target) {
            let at = chain[0].at_ms;
            if best.as_ref().is_none_or(|(b, ..)| at > *b) {
                best = Some((at, name, chain, log));
            }
        }
    }
    let Some((_, name, chain, log)) = best else { return Ok(WhyChain { steps: Vec::new(), cut }) };
    let cfg = config_of(&log.records);
    let names = Names(cfg.as_deref(), &view);
    let steps = chain
        .iter()
        .map(|step| {
            let input = log.records.iter().find_map(|(seq, r)| match r {
                LogRecord::Input { input, .. } if *seq == step.input_seq => Some(log_text::input(names, input)),
                LogRecord::Input { .. } | LogRecord::Output { .. } | LogRecord::RunStart { .. } => None,
            });
            WhyStep {
                seq: step.seq,
                at_ms: step.at_ms,
                at: view.fmt(step.at_ms),
                server: name.clone(),
                event: names.event(&step.event),
                because: step.event.cause.as_ref().map(|c| c.rule.clone()),
                input_seq: step.input_seq,
                input: input.unwrap_or_else(|| step.input.clone()),
            }
        })
        .collect();
    Ok(WhyChain { steps, cut })
}

/// One emitted event of a log, for the web console's timeline.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoggedEvent {
    pub seq: u64,
    pub at_ms: Ms,
    pub event: &'static str,
    pub severity: baton_core::event::Severity,
    /// The event with its names.
    pub text: String,
    pub because: Option<String>,
}

/// The last `limit` events emitted in the log under `dir` (one server's), oldest first.
pub fn recent_events(dir: &Path, limit: usize) -> Result<Vec<LoggedEvent>, String> {
    use baton_core::io::Output;
    let log = read_log(dir)?;
    let view = view_of(std::slice::from_ref(&log), false);
    let cfg = config_of(&log.records);
    let names = Names(cfg.as_deref(), &view);
    let mut out: Vec<LoggedEvent> = log
        .records
        .iter()
        .rev()
        .filter_map(|(seq, r)| match r {
            LogRecord::Output { at_ms, output: Output::Emit(e) } => Some(LoggedEvent {
                seq: *seq,
                at_ms: *at_ms,
                event: e.kind.name(),
                severity: e.kind.severity(),
                text: names.event(e),
                because: e.cause.as_ref().map(|c| c.rule.clone()),
            }),
            LogRecord::Output { .. } | LogRecord::Input { .. } | LogRecord::RunStart { .. } => None,
        })
        .take(limit)
        .collect();
    out.reverse();
    Ok(out)
}

pub fn why(what: &str, dir: &Path, server: Option<&str>, utc: bool) -> ExitCode {
    let target = match why_target(what) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let chain = match why_chain(target, dir, server, utc) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    for c in &chain.cut {
        eprintln!("{c}");
    }
    let cut = !chain.cut.is_empty();
    if chain.steps.is_empty() {
        eprintln!("no such event in {}", dir.display());
        return ExitCode::from(if cut { 1 } else { 2 });
    }
    for (i, step) in chain.steps.iter().enumerate() {
        let arrow = if i == 0 { "   " } else { "<- " };
        let mut text = format!("{arrow}#{} {} {}: {}\n", step.seq, step.at, step.server, step.event);
        if let Some(rule) = &step.because {
            text += &format!("      because: {rule}\n");
        }
        text += &format!("      while handling #{}: {}", step.input_seq, step.input);
        if !say(&text) {
            break;
        }
    }
    exit(cut)
}

pub fn state(dir: &Path, at: &str, json: bool, utc: bool) -> ExitCode {
    let logs = match read_logs(dir) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let view = view_of(&logs, utc);
    let at_ms = match view.parse(at) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let mut cut = false;
    for log in logs {
        cut |= log.warn();
        let name = server_of(&log.records, &log.dir);
        let d = log.dir.display().to_string();
        let when = view.fmt(at_ms);
        match replay::state_at(log.records, at_ms) {
            Ok(Some((_, node))) if node.service_running() => {
                let st = node.status();
                let text = if json {
                    let status = serde_json::to_value(&st).unwrap_or_default();
                    serde_json::json!({
                        "v": 1, "server": name, "at_ms": at_ms, "at": when, "running": true,
                        "status": crate::status_doc::document(&status),
                    })
                    .to_string()
                } else {
                    let mut text = format!("{name} at {when}: {}", st.state.name());
                    for (p, s) in &st.peers {
                        text += &format!("\n  sees {p}: {}", s.name());
                    }
                    for (g, s) in &st.groups {
                        text += &format!("\n  group {g}: {}", s.name());
                    }
                    for (m, s) in &st.monitors {
                        text += &format!("\n  monitor {m}: {}", s.name());
                    }
                    for (m, s) in &st.mirrors {
                        text += &format!("\n  mirror {m}: {}", s.name());
                    }
                    text
                };
                if !say(&text) {
                    break;
                }
            }
            Ok(_) => {
                let text = if json {
                    serde_json::json!({"v": 1, "server": name, "at_ms": at_ms, "at": when, "running": false})
                        .to_string()
                } else {
                    format!("{name} at {when}: service not running")
                };
                if !say(&text) {
                    break;
                }
            }
            Err(e) => return fail(format!("{d}: {e}")),
        }
    }
    exit(cut)
}

/// `log show --html`: the logs as one picture (crate::timeline), cut to the range asked.
/// Each server's records are replayed from the start of its run (states need it); the
/// range only chooses what is drawn.
fn show_html(
    dir: &Path,
    logs: &[Log],
    view: &TimeView,
    (from_ms, to_ms): (Option<Ms>, Option<Ms>),
    server: Option<&str>,
    out: &Path,
) -> ExitCode {
    let mut cut = false;
    let mut server_logs = Vec::new();
    for log in logs {
        cut |= log.warn();
        let name = server_of(&log.records, &log.dir);
        if server.is_some_and(|s| s != name) {
            continue;
        }
        server_logs.push(crate::timeline::ServerLog {
            name,
            records: &log.records,
            times: shown_times(&log.records, view.clock),
        });
    }
    if server_logs.is_empty() {
        return fail(format!("{}: no log of server {} here", dir.display(), server.unwrap_or("?")));
    }
    let last_ms = server_logs.iter().filter_map(|l| l.times.last().copied()).max().unwrap_or(0);
    let title = format!("event logs of {}", dir.display());
    let mut picture = crate::timeline::build(title, &server_logs, None, last_ms, view);
    crate::timeline::clip(&mut picture, from_ms, to_ms);
    match crate::timeline::write(&picture, out, &|ms| view.fmt(ms)) {
        Ok(()) => {
            println!("timeline of {} servers written to {}", picture.servers.len(), out.display());
            exit(cut)
        }
        Err(e) => fail(e),
    }
}

/// Writes every server's records of a simulated run as event logs under `dir`.
pub fn write_traces(report: &baton_sim::Report, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (i, records) in report.traces.iter().enumerate() {
        let name = &report.cfg.servers[i].name;
        let sub = dir.join(name);
        if sub.exists() {
            std::fs::remove_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        }
        let (mut w, _) = baton_log::Writer::open(&sub, baton_log::WriterOptions::default())
            .map_err(|e| format!("{}: {e}", sub.display()))?;
        for r in records {
            w.append(r).map_err(|e| format!("{}: {e}", sub.display()))?;
        }
        w.commit().map_err(|e| format!("{}: {e}", sub.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_daemons_run_start_at_0_is_shown_at_the_next_records_time() {
        let input = |at_ms| LogRecord::Input { at_ms, input: baton_core::Input::ShutdownRequested };
        let start = LogRecord::RunStart {
            server: "server1".into(),
            config_name: "c.toml".into(),
            config_text: String::new(),
            at_ms: 0,
        };
        let t = WALL_CLOCK_FLOOR_MS + 5;
        let records = vec![(1, start.clone()), (2, input(t)), (3, start), (4, input(t + 10))];
        assert_eq!(shown_times(&records, Clock::Wall), vec![t, t, t + 10, t + 10]);
        assert_eq!(shown_times(&records, Clock::Sim), vec![0, t, 0, t + 10], "a simulated log is shown as it is");
    }
}
