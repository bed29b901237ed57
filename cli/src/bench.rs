//! `baton bench`: the numbers of docs/benchmarks.md.
//!
//! In: which benchmark to run. Out: one line per measurement on stdout:
//! - core: heartbeat inputs handled per second by one `Node` on one core;
//! - sim: wall time of one simulated day of a 3-server cluster (100 ms heartbeats,
//!   10 groups, no faults);
//! - placement: the coordinator's takeover decision for every group of a lost server
//!   in a 32-server, 512-group cluster (the whole `handle(Takeover)` call).

use baton_core::config::{Config, GroupId, PathId, ServerId};
use baton_core::io::{GroupState, Heartbeat, Input, Message, Output, ServerState, SharedState, Timer};
use baton_core::Node;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub fn run(only: Option<&str>, quick: bool) -> ExitCode {
    let all = only.is_none();
    let want = |n: &str| all || only == Some(n);
    if !all && !matches!(only, Some("core" | "sim" | "placement" | "log")) {
        eprintln!("unknown benchmark {:?}: use core, sim, placement or log", only.unwrap_or(""));
        return ExitCode::from(2);
    }
    if want("core") {
        core_throughput(if quick { 2_000_000 } else { 20_000_000 });
    }
    if want("sim") {
        sim_day(if quick { 3_600_000 } else { 86_400_000 });
    }
    if want("placement") {
        placement(if quick { 20 } else { 200 });
    }
    if want("log") {
        if let Err(e) = log_bench(if quick { 100_000 } else { 2_000_000 }, if quick { 1 } else { 6 }) {
            eprintln!("log benchmark failed: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// The event log: group-commit appends and verification of ~100-byte records, then
/// `log replay` (read, CRC and chain checks, MessagePack decoding, core re-run) of a
/// real simulated run's records.
fn log_bench(records: u64, sim_hours: u64) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("baton-log-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = baton_log::bench(&dir.join("raw"), records).map_err(|e| e.to_string())?;
    println!(
        "log: append with group commit ({} records of {} bytes, batches of 1024, one fsync each): {:.0} records/s; verify: {:.0} records/s",
        r.records, r.body_bytes, r.append_per_s, r.verify_per_s
    );
    // A real log: a traced simulated run of the 3-server, 100 ms cluster.
    let text = cluster_toml(3, 10, "100ms", "1s");
    let cfg = parse(&text);
    let mut sim = baton_sim::engine::Sim::new(cfg.clone(), baton_sim::scenario::Knobs::default(), 1);
    sim.trace_config = Some(("bench.toml".into(), text));
    for s in cfg.server_ids() {
        sim.power_on(s);
    }
    sim.run_until(sim_hours * 3_600_000);
    let log_dir = dir.join("server1");
    let (mut w, _) =
        baton_log::Writer::open(&log_dir, baton_log::WriterOptions::default()).map_err(|e| e.to_string())?;
    for rec in &sim.traces[0] {
        w.append(rec).map_err(|e| e.to_string())?;
    }
    w.commit().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let head = baton_log::verify(&log_dir).map_err(|e| e.to_string())?;
    let verify_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut records_read = Vec::with_capacity(head.seq as usize);
    for rec in baton_log::Reader::open(&log_dir).map_err(|e| e.to_string())? {
        let rec = rec.map_err(|e| e.to_string())?;
        records_read.push((rec.seq, rec.decode::<baton_core::record::LogRecord>().map_err(|e| e.to_string())?));
    }
    let summary = baton_core::replay::replay(records_read).map_err(|e| e.to_string())?;
    let replay_s = start.elapsed().as_secs_f64();
    println!(
        "log: {} hours of server1's simulated log = {} records: verify {:.0} records/s; replay (read + decode + core re-run + compare) {:.0} records/s ({} inputs, {} outputs)",
        sim_hours,
        head.seq,
        head.seq as f64 / verify_s,
        head.seq as f64 / replay_s,
        summary.inputs,
        summary.outputs
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A cluster file for `servers` servers and `groups` groups (floating IP + exec each).
fn cluster_toml(servers: usize, groups: usize, interval: &str, timeout: &str) -> String {
    let mut t = format!("[cluster]\nname = \"bench\"\nheartbeat_interval = \"{interval}\"\nheartbeat_timeout = \"{timeout}\"\ninsecure = true\n");
    for i in 1..=servers {
        t += &format!(
            "[[server]]\nname = \"server{i}\"\naddresses = {{ lan1 = \"192.168.0.{i}\", public = \"10.0.0.{i}\" }}\n"
        );
    }
    t += "[[heartbeat]]\nname = \"lan1\"\n[[heartbeat]]\nname = \"public\"\n[[np]]\nname = \"majority1\"\nkind = \"majority\"\n";
    for g in 0..groups {
        t += &format!(
            "[[group]]\nname = \"g{g}\"\n[[group.resource]]\nname = \"fip{g}\"\nkind = \"floating-ip\"\naddress = \"10.0.1.{}/16\"\n[[group.resource]]\nname = \"app{g}\"\nkind = \"exec\"\nstart = \"start.sh\"\nstop = \"stop.sh\"\n",
            g + 1
        );
    }
    t
}

fn parse(text: &str) -> Arc<Config> {
    Arc::new(baton_core::config::parse("bench.toml", text).expect("bench config is valid").config)
}

/// Heartbeats handled per second by one node that is a member of a 3-server cluster.
fn core_throughput(n: u64) {
    let cfg = parse(&cluster_toml(3, 10, "100ms", "1s"));
    let mut node = Node::new(cfg.clone(), ServerId(0));
    let mut out = Vec::new();
    node.handle(0, Input::Boot { persisted: None }, &mut out);
    for p in [1u16, 2] {
        let from = ServerId(p);
        node.handle(
            1,
            Input::Message { from, msg: Box::new(Message::Hello { run: 1, state: ServerState::Syncing, version: 1 }) },
            &mut out,
        );
        let s = SharedState { version: 1, run: 1, state: Some(ServerState::Syncing), ..Default::default() };
        node.handle(1, Input::Message { from, msg: Box::new(Message::State(Box::new(s))) }, &mut out);
    }
    assert_eq!(node.reported_state(), ServerState::Online, "the bench node must have formed the cluster");
    out.clear();
    let start = Instant::now();
    let mut now = 10;
    for i in 0..n {
        let from = ServerId(1 + (i % 2) as u16);
        let path = PathId((i / 2 % 2) as u16);
        if i % 4 == 0 {
            now += 25;
        }
        let hb = Heartbeat { run: 1, state: ServerState::Online, version: 1, sent_ms: 0 };
        node.handle(now, Input::Heartbeat { from, path, hb }, &mut out);
        out.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("core: {n} heartbeat inputs in {secs:.3} s = {:.0} inputs/s on one core", n as f64 / secs);
}

/// One simulated day of a 3-server cluster, 100 ms heartbeats, 10 groups, no faults.
fn sim_day(sim_ms: u64) {
    let cfg = parse(&cluster_toml(3, 10, "100ms", "1s"));
    let mut sim = baton_sim::engine::Sim::new(cfg.clone(), baton_sim::scenario::Knobs::default(), 1);
    let start = Instant::now();
    for s in cfg.server_ids() {
        sim.power_on(s);
    }
    sim.run_until(sim_ms);
    let secs = start.elapsed().as_secs_f64();
    let online = cfg
        .group_ids()
        .filter(|g| {
            cfg.server_ids().any(|s| {
                sim.world.machines[s.idx()].node.as_ref().is_some_and(|n| n.group_state(*g) == GroupState::Online)
            })
        })
        .count();
    assert_eq!(online, cfg.groups.len(), "every group must be online at the end of the simulated run");
    assert!(sim.breaches.is_empty(), "no invariant may break: {:?}", sim.breaches);
    println!(
        "sim: {:.1} simulated hours (3 servers, 100ms heartbeats, 10 groups) in {secs:.3} s wall = {:.0}x real time; {} inputs handled ({:.0}/s)",
        sim_ms as f64 / 3_600_000.0,
        sim_ms as f64 / 1000.0 / secs,
        sim.inputs_handled,
        sim.inputs_handled as f64 / secs
    );
}

/// The takeover decision of the coordinator for the groups of a lost server, 32
/// servers and 512 groups (each server home of 16).
fn placement(rounds: u32) {
    let servers = 32usize;
    let groups = 512usize;
    let mut cfg = synthetic(servers, groups);
    cfg.cluster.heartbeat_interval_ms = 1000;
    cfg.cluster.heartbeat_timeout_ms = 5000;
    let cfg = Arc::new(cfg);
    let mut total = std::time::Duration::ZERO;
    let mut worst = std::time::Duration::ZERO;
    let mut started = 0;
    for _ in 0..rounds {
        let (mut node, now) = formed_coordinator(&cfg);
        let mut out = Vec::new();
        let t0 = Instant::now();
        node.handle(now, Input::TimerFired { timer: Timer::Takeover }, &mut out);
        let d = t0.elapsed();
        total += d;
        worst = worst.max(d);
        started = out
            .iter()
            .filter(|o| matches!(o, Output::Send { msg, .. } if matches!(**msg, Message::StartGroup { .. })))
            .count()
            + out
                .iter()
                .filter(|o| matches!(o, Output::Execute { action: baton_core::Action::Activate { .. }, .. }))
                .count();
    }
    println!(
        "placement: 32 servers, 512 groups, server1 lost: takeover decision for its 16 groups (started here or sent to their targets) in {:.1} us mean, {:.1} us worst over {rounds} runs ({started} starts sent)",
        total.as_secs_f64() * 1e6 / f64::from(rounds),
        worst.as_secs_f64() * 1e6
    );
}

/// server2 of a formed 32-server cluster in which server1 has just been judged down;
/// returns it and the takeover instant.
fn formed_coordinator(cfg: &Arc<Config>) -> (Node, u64) {
    let me = ServerId(1);
    let mut node = Node::new(cfg.clone(), me);
    let mut out = Vec::new();
    node.handle(0, Input::Boot { persisted: None }, &mut out);
    for p in cfg.server_ids().filter(|p| *p != me) {
        let held: Vec<(GroupId, GroupState)> =
            cfg.group_ids().filter(|g| cfg.group(*g).policy[0] == p).map(|g| (g, GroupState::Online)).collect();
        node.handle(
            1,
            Input::Message {
                from: p,
                msg: Box::new(Message::Hello { run: 1, state: ServerState::Syncing, version: 1 }),
            },
            &mut out,
        );
        let s =
            SharedState { version: 1, run: 1, state: Some(ServerState::Syncing), groups: held, ..Default::default() };
        node.handle(1, Input::Message { from: p, msg: Box::new(Message::State(Box::new(s))) }, &mut out);
    }
    assert_eq!(node.reported_state(), ServerState::Online);
    // Everyone but server1 keeps talking; server1 falls silent after t = 1.
    let timeout = cfg.cluster.heartbeat_timeout_ms;
    let mut now = 1;
    while now < 1 + timeout {
        now += 1000;
        for p in cfg.server_ids().filter(|p| p.0 > 1) {
            node.handle(
                now,
                Input::Heartbeat {
                    from: p,
                    path: PathId(0),
                    hb: Heartbeat { run: 1, state: ServerState::Online, version: 1, sent_ms: 0 },
                },
                &mut out,
            );
        }
    }
    node.handle(1 + timeout, Input::TimerFired { timer: Timer::Liveness }, &mut out);
    let v = timer_at(&out, Timer::NpVerdict);
    let v = v.expect("server1 must be found lost");
    out.clear();
    node.handle(v, Input::TimerFired { timer: Timer::NpVerdict }, &mut out);
    let t = timer_at(&out, Timer::Takeover);
    (node, t.expect("a takeover must be scheduled"))
}

/// The instant a timer was set for in `out`.
fn timer_at(out: &[Output], which: Timer) -> Option<u64> {
    out.iter().find_map(|o| {
        if let Output::SetTimer { at_ms, timer } = o {
            (*timer == which).then_some(*at_ms)
        } else {
            None
        }
    })
}

/// A synthetic configuration beyond the file limits (placement at scale).
fn synthetic(servers: usize, groups: usize) -> Config {
    let mut t = cluster_toml(servers, 0, "1s", "5s");
    for g in 0..groups {
        // Each group's home rotates over the servers; the rest of the policy follows.
        let mut policy: Vec<String> = (1..=servers).map(|i| format!("\"server{i}\"")).collect();
        policy.rotate_left(g % servers);
        t += &format!(
            "[[group]]\nname = \"g{g}\"\nservers = [{}]\n[[group.resource]]\nname = \"fip{g}\"\nkind = \"floating-ip\"\naddress = \"10.{}.{}.1/8\"\n",
            policy.join(", "),
            g / 250,
            g % 250
        );
    }
    // The file limits (64 groups) do not bind the core: parse in chunks of 64 groups and merge.
    merge_parse(&t, groups)
}

/// Parses a file with more groups than B132 allows by parsing it without the extra
/// groups and adding them from smaller files (the model has no such limit).
fn merge_parse(text: &str, groups: usize) -> Config {
    let head_end = text.find("[[group]]").unwrap_or(text.len());
    let head = &text[..head_end];
    let bodies: Vec<&str> = text[head_end..].split("[[group]]").filter(|s| !s.trim().is_empty()).collect();
    assert_eq!(bodies.len(), groups);
    let mut cfg: Option<Config> = None;
    for chunk in bodies.chunks(32) {
        let file = format!("{head}{}", chunk.iter().map(|b| format!("[[group]]{b}")).collect::<String>());
        let part = baton_core::config::parse("bench.toml", &file).expect("chunk is valid").config;
        match &mut cfg {
            None => cfg = Some(part),
            Some(c) => {
                let g0 = c.groups.len() as u16;
                let r0 = c.resources.len() as u16;
                for mut g in part.groups {
                    g.resources = g.resources.iter().map(|r| baton_core::config::ResId(r.0 + r0)).collect();
                    c.groups.push(g);
                }
                for mut r in part.resources {
                    r.group = GroupId(r.group.0 + g0);
                    c.resources.push(r);
                }
            }
        }
    }
    let mut c = cfg.expect("at least one chunk");
    // Implied monitors of the chunks are not needed for placement.
    c.monitors.retain(|m| !matches!(m.kind, baton_core::config::MonitorKind::FloatingIp { .. }));
    c
}
