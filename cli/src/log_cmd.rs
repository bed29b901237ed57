//! `baton log verify|show|replay|why|state`: the event logs of one server (a log
//! directory) or of a whole cluster (a directory holding one log directory per server,
//! as `baton sim run --trace DIR` and the daemons write them).
//!
//! In: a directory and the command's options. Out: readable records, verification
//! heads, replay results with the first divergence, causal chains, the state at an
//! instant. Exit 0 when all is well, 1 when a log is damaged or diverges, 2 on bad
//! input (with what to do).

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

/// Reads every record of one log, decoded.
fn read_log(dir: &Path) -> Result<Vec<(u64, LogRecord)>, String> {
    let reader = baton_log::Reader::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for r in reader {
        let r = r.map_err(|e| format!("{}: {e}", dir.display()))?;
        let rec: LogRecord = r.decode().map_err(|e| format!("{}: {e}", dir.display()))?;
        out.push((r.seq, rec));
    }
    Ok(out)
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

fn describe(cfg: Option<&Config>, rec: &LogRecord) -> String {
    match rec {
        LogRecord::RunStart { config_name, .. } => format!("RUN START  config {config_name}"),
        LogRecord::Input { input, .. } => format!("in   {}", replay::describe_input(input)),
        LogRecord::Output { output, .. } => match (output, cfg) {
            (baton_core::Output::Emit(e), Some(c)) => format!("out  EVENT {}", baton_sim::player::event_text(c, e)),
            (baton_core::Output::Emit(e), None) => format!("out  EVENT {}", e.kind.name()),
            (o, _) => format!("out  {}", short(o)),
        },
    }
}

fn short(o: &baton_core::Output) -> String {
    let text = format!("{o:?}");
    if text.len() > 140 {
        format!("{}…", &text[..140])
    } else {
        text
    }
}

pub struct ShowOptions<'a> {
    pub from_ms: Option<Ms>,
    pub to_ms: Option<Ms>,
    pub server: Option<&'a str>,
    pub json: bool,
}

pub fn show(dir: &Path, opts: &ShowOptions) -> ExitCode {
    use std::io::Write;
    let dirs = match log_dirs(dir) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    // A closed pipe (`| head`) ends the listing quietly.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for d in dirs {
        let records = match read_log(&d) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let server = server_of(&records, &d);
        if opts.server.is_some_and(|s| s != server) {
            continue;
        }
        let cfg = config_of(&records);
        for (seq, rec) in &records {
            let at = rec.at_ms();
            if opts.from_ms.is_some_and(|f| at < f) || opts.to_ms.is_some_and(|t| at > t) {
                continue;
            }
            let written = if opts.json {
                let v = serde_json::json!({"server": server, "seq": seq, "at_ms": at, "record": rec_json(rec)});
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "{seq:>8}  {}  {:<10} {}",
                    baton_sim::player::fmt_time(at),
                    server,
                    describe(cfg.as_deref(), rec)
                )
            };
            if written.is_err() {
                return ExitCode::SUCCESS;
            }
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn rec_json(rec: &LogRecord) -> serde_json::Value {
    match rec {
        LogRecord::RunStart { server, config_name, .. } => {
            serde_json::json!({"run_start": {"server": server, "config": config_name}})
        }
        LogRecord::Input { input, .. } => serde_json::json!({"input": format!("{input:?}")}),
        LogRecord::Output { output, .. } => serde_json::json!({"output": format!("{output:?}")}),
    }
}

pub fn replay_cmd(dir: &Path) -> ExitCode {
    let dirs = match log_dirs(dir) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut diverged = false;
    for d in dirs {
        let records = match read_log(&d) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let started = std::time::Instant::now();
        let n = records.len();
        match replay::replay(records) {
            Ok(s) => println!(
                "{}: ok: {} runs, {} inputs replayed, all {} outputs reproduced ({} records in {:.3} s)",
                d.display(),
                s.runs,
                s.inputs,
                s.outputs,
                n,
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                diverged = true;
                println!("{}: DIVERGES: {e}", d.display());
            }
        }
    }
    if diverged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The chain found in one server's log: its instant, the server, the steps, the config.
type Found = (Ms, String, Vec<replay::Step>, Option<Arc<Config>>);

pub fn why(what: &str, dir: &Path, server: Option<&str>) -> ExitCode {
    let target = match what.parse::<u64>() {
        Ok(seq) => Target::Seq(seq),
        Err(_) => match EventKind::from_name(what) {
            Some(k) => Target::Last(k),
            None => return fail(format!("{what:?} is neither a record number nor an event name (see docs/events.md)")),
        },
    };
    let dirs = match log_dirs(dir) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    // The latest matching event across the servers' logs (or the named server's).
    let mut best: Option<Found> = None;
    for d in dirs {
        let records = match read_log(&d) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let name = server_of(&records, &d);
        if server.is_some_and(|s| s != name) {
            continue;
        }
        if let Some(chain) = replay::explain(&records, target) {
            let at = chain[0].at_ms;
            if best.as_ref().is_none_or(|(b, ..)| at > *b) {
                best = Some((at, name, chain, config_of(&records)));
            }
        }
    }
    let Some((_, name, chain, cfg)) = best else {
        return fail(format!("no such event in {}", dir.display()));
    };
    for (i, step) in chain.iter().enumerate() {
        let text = match &cfg {
            Some(c) => baton_sim::player::event_text(c, &step.event),
            None => step.event.kind.name().to_string(),
        };
        let arrow = if i == 0 { "   " } else { "<- " };
        println!("{arrow}#{} {} {name}: {text}", step.seq, baton_sim::player::fmt_time(step.at_ms));
        if let Some(c) = &step.event.cause {
            println!("      because: {}", c.rule);
        }
        println!("      while handling #{}: {}", step.input_seq, step.input);
    }
    ExitCode::SUCCESS
}

pub fn state(dir: &Path, at_ms: Ms, json: bool) -> ExitCode {
    let dirs = match log_dirs(dir) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    for d in dirs {
        let records = match read_log(&d) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let name = server_of(&records, &d);
        match replay::state_at(records, at_ms) {
            Ok(Some((_, node))) if node.service_running() => {
                let st = node.status();
                if json {
                    println!("{}", serde_json::to_string(&st).expect("status is serialisable"));
                } else {
                    println!("{name} at {}: {}", baton_sim::player::fmt_time(at_ms), st.state.name());
                    for (p, s) in &st.peers {
                        println!("  sees {p}: {}", s.name());
                    }
                    for (g, s) in &st.groups {
                        println!("  group {g}: {}", s.name());
                    }
                    for (m, s) in &st.monitors {
                        println!("  monitor {m}: {}", s.name());
                    }
                    for (m, s) in &st.mirrors {
                        println!("  mirror {m}: {}", s.name());
                    }
                }
            }
            Ok(_) => println!("{name} at {}: service not running", baton_sim::player::fmt_time(at_ms)),
            Err(e) => return fail(format!("{}: {e}", d.display())),
        }
    }
    ExitCode::SUCCESS
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
