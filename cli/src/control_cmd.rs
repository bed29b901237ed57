//! `baton status` and the operator commands (`baton group|cluster|server|monitor|mirror
//! …`): a client of the daemon's control socket (`STATE_DIR/control.sock`, see
//! `baton_runtime::daemon::control`).
//!
//! In: the command's words, the state directory, `--no-wait`, `--json`. Out: the status
//! table (or its JSON) or the command's answer; exit 0 on success, 1 when the daemon
//! refused the command (the reason is printed), 2 when the request could not be served
//! (no daemon, no permission, words the daemon did not accept) with what to do.

use crate::outcome;
use baton_runtime::daemon::control::status_json::{pairs, text};
use baton_runtime::daemon::control::{socket_path, Request, Response};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// What every control command shares.
#[derive(clap::Args, Clone, Debug)]
pub struct Conn {
    /// The daemon's state directory (its control socket is DIR/control.sock).
    #[arg(long, value_name = "DIR", default_value = crate::daemon_cmd::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// How long to wait for the daemon to take and answer each request (a stopped or
    /// hung daemon is reported after this long): 100ms to 10m.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = answer_timeout)]
    pub timeout: Duration,
}

/// `--timeout`: a duration, bounded so that a typo (`10` for `10s`… `10h`) neither
/// fails every call nor waits for ever.
fn answer_timeout(text: &str) -> Result<Duration, String> {
    let ms = crate::duration(text)?;
    if !(100..=600_000).contains(&ms) {
        return Err(format!("{text}: the timeout must be between 100ms and 10m"));
    }
    Ok(Duration::from_millis(ms))
}

fn fail(what: &str, msg: &str) -> ExitCode {
    eprintln!("baton {what}: {msg}");
    ExitCode::from(2)
}

/// Connects within `within`: a connect to a daemon that accepts nothing (stopped with
/// SIGSTOP, hung) blocks once the socket's backlog is full, and std has no connect
/// timeout for Unix sockets, so the connect runs on its own thread (left behind, and
/// ended with the process, if it never returns).
fn connect(path: &Path, within: Duration) -> std::io::Result<UnixStream> {
    let (tx, rx) = std::sync::mpsc::channel();
    let target = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(UnixStream::connect(&target));
    });
    rx.recv_timeout(within).unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// What to say when the daemon does not answer in time.
fn no_answer(path: &Path, within: Duration) -> String {
    format!(
        "the daemon at {} did not answer within {:.1} s: it is stopped, hung or overloaded \
         (check `systemctl status baton` and its log; --timeout waits longer)",
        path.display(),
        within.as_secs_f64()
    )
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// Sends one request and reads one answer, each step within `conn.timeout`.
fn ask(conn: &Conn, request: &Request) -> Result<Response, String> {
    let path = socket_path(&conn.state_dir);
    let within = conn.timeout;
    let mut stream = connect(&path, within).map_err(|e| {
        let kind = e.kind();
        if kind == std::io::ErrorKind::PermissionDenied {
            format!("cannot open {}: {e}: run this as root (the control socket is root only)", path.display())
        } else if kind == std::io::ErrorKind::NotFound || kind == std::io::ErrorKind::ConnectionRefused {
            format!(
                "cannot reach the daemon at {} ({e}): is the daemon running? start it with `baton daemon --config FILE` \
                 (or pass the --state-dir it uses)",
                path.display()
            )
        } else if timed_out(&e) {
            no_answer(&path, within)
        } else {
            format!("cannot reach the daemon at {}: {e}", path.display())
        }
    })?;
    let _ = stream.set_read_timeout(Some(within));
    let _ = stream.set_write_timeout(Some(within));
    let mut line = serde_json::to_string(request).map_err(|e| format!("cannot encode the request: {e}"))?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(|e| {
        if timed_out(&e) {
            no_answer(&path, within)
        } else {
            format!("cannot send to the daemon: {e}")
        }
    })?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).map_err(|e| {
        if timed_out(&e) {
            no_answer(&path, within)
        } else {
            format!("no answer from the daemon: {e} (check its log)")
        }
    })?;
    if answer.is_empty() {
        return Err("the daemon closed the connection without answering (check its log)".into());
    }
    serde_json::from_str(&answer).map_err(|e| format!("unreadable answer from the daemon ({e}): {answer}"))
}

/// How long a command's outcome is waited for.
const OUTCOME_LIMIT: Duration = Duration::from_secs(300);
/// How often the status is read while waiting.
const OUTCOME_POLL: Duration = Duration::from_millis(100);

fn status_value(conn: &Conn) -> Result<Value, String> {
    match ask(conn, &Request::Status {})? {
        Response::Status(v) => Ok(v),
        Response::Error(e) | Response::Refused(e) => Err(e),
        Response::Ok(_) => Err("the daemon answered `ok` instead of its status".to_string()),
    }
}

/// Polls the status until `expect` is met; the exit code says whether it was.
fn wait_outcome(what: &str, expect: &outcome::Expect, conn: &Conn) -> ExitCode {
    let started = std::time::Instant::now();
    loop {
        match status_value(conn) {
            Ok(v) if outcome::met(expect, &v) => {
                println!("{}: done in {:.1} s", expect.describe(), started.elapsed().as_secs_f64());
                return ExitCode::SUCCESS;
            }
            Ok(_) => {}
            Err(e) => return fail(what, &format!("accepted, but the outcome cannot be followed: {e}")),
        }
        if started.elapsed() > OUTCOME_LIMIT {
            eprintln!(
                "baton {what}: accepted, but not {} after {} s: see `baton status` and the daemons' logs",
                expect.describe(),
                OUTCOME_LIMIT.as_secs()
            );
            return ExitCode::from(1);
        }
        std::thread::sleep(OUTCOME_POLL);
    }
}

/// `cluster suspend` / `cluster resume` (X1, docs/architecture.md): waits until every
/// server confirmed or the ones left are overdue (`heartbeat_timeout` after the
/// operation), then prints one line per server, like `clpcl`'s `Resume server :
/// Success` / `Resume server : Failed`. Exit 1 if a server failed to confirm.
fn wait_acks(what: &str, op: &str, conn: &Conn) -> ExitCode {
    let started = std::time::Instant::now();
    loop {
        let v = match status_value(conn) {
            Ok(v) => v,
            Err(e) => return fail(what, &format!("accepted, but the confirmations cannot be followed: {e}")),
        };
        let owed: Vec<(String, bool)> = v["unconfirmed"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| (text(&u["server"]), u["overdue"].as_bool() == Some(true)))
            .collect();
        if owed.iter().all(|(_, overdue)| *overdue) || started.elapsed() > OUTCOME_LIMIT {
            print!("{}", ack_lines(op, &v, &owed));
            return if owed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) };
        }
        std::thread::sleep(OUTCOME_POLL);
    }
}

/// One line per server: this one and every peer, `Failed` for the unconfirmed ones.
fn ack_lines(op: &str, v: &Value, owed: &[(String, bool)]) -> String {
    let verb = if op == "suspend" { "Suspend" } else { "Resume" };
    let mut names = vec![text(&v["server"])];
    names.extend(pairs(&v["peers"]).into_iter().map(|(name, _)| name));
    let mut out = String::new();
    for name in names {
        let result = if owed.iter().any(|(s, _)| *s == name) {
            "Failed (not confirmed: see `baton status`)"
        } else {
            "Success"
        };
        out.push_str(&format!("{verb} {name} : {result}\n"));
    }
    out
}

/// `baton WORDS… [--no-wait]`: one operator command; without `--no-wait`, waits until
/// a group command's outcome shows in the status ([`outcome`]).
pub fn command(words: &[String], conn: &Conn, no_wait: bool) -> ExitCode {
    let what = words.iter().take(2).cloned().collect::<Vec<_>>().join(" ");
    let expect =
        if no_wait { None } else { status_value(conn).ok().and_then(|before| outcome::expectation(words, &before)) };
    match ask(conn, &Request::Command { words: words.to_vec(), wait: !no_wait }) {
        Err(e) => fail(&what, &e),
        Ok(Response::Ok(_)) => {
            println!("{}: accepted", words.join(" "));
            let acked = match words.get(1).map(String::as_str) {
                Some(op @ ("suspend" | "resume")) if words[0] == "cluster" && !no_wait => Some(op),
                _ => None,
            };
            match (expect, acked) {
                (_, Some(op)) => wait_acks(&what, op, conn),
                (Some(e), None) => wait_outcome(&what, &e, conn),
                (None, None) => ExitCode::SUCCESS,
            }
        }
        Ok(Response::Refused(reason)) => {
            eprintln!("baton {what}: refused: {reason}");
            ExitCode::from(1)
        }
        Ok(Response::Error(e)) => fail(&what, &e),
        Ok(Response::Status(_)) => fail(&what, "the daemon answered with a status instead of the command's result"),
    }
}

/// `baton status [--json] [--watch [--interval D]]`.
pub fn status(conn: &Conn, json: bool, watch: Option<Duration>) -> ExitCode {
    let read = || match ask(conn, &Request::Status {}) {
        Err(e) => Err(e),
        Ok(Response::Status(v)) => Ok(v),
        Ok(Response::Error(e) | Response::Refused(e)) => Err(e),
        Ok(Response::Ok(_)) => Err("the daemon answered `ok` instead of its status".to_string()),
    };
    let render = |value: &Value, colour: bool| {
        if json {
            serde_json::to_string_pretty(&crate::status_doc::document(value)).map(|t| t + "\n").unwrap_or_default()
        } else {
            table_with(value, colour)
        }
    };
    let colour = crate::status_doc::colour_wanted();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    match watch {
        None => match read() {
            Ok(v) => {
                // A closed stdout (`| head`) is not an error of the status.
                let _ = std::io::stdout().lock().write_all(render(&v, colour).as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => fail("status", &e),
        },
        Some(every) => crate::status_doc::watch(every, terminal, || read().map(|v| render(&v, colour))),
    }
}

/// A state word as the status shows it (`Online` → `online`; syncing is reported online, B21).
fn state_word(v: &Value) -> String {
    match text(v).as_str() {
        "Syncing" => "online (syncing)".into(),
        other => other.to_lowercase(),
    }
}

fn row(out: &mut String, name: &str, value: &str) {
    let dots = ".".repeat(20usize.saturating_sub(name.len()).max(2));
    out.push_str(&format!("    {name} {dots}: {value}\n"));
}

/// The clpstat-like table, plain.
#[cfg(test)]
pub fn table(v: &Value) -> String {
    table_with(v, false)
}

/// The clpstat-like table; `colour`: states in colour (for a terminal), see
/// [`crate::status_doc::paint`]. A suspended server's row says how it returns.
pub fn table_with(v: &Value, colour: bool) -> String {
    use crate::status_doc::paint;
    let server_row = |out: &mut String, marked: String, name: &str, state: &Value| {
        let word = state_word(state);
        let owed = v["unconfirmed"].as_array().into_iter().flatten().find(|u| text(&u["server"]) == name);
        let hint = if word == "suspended" {
            format!("   (to let it return: baton server return {name})")
        } else if let Some(u) = owed {
            // X1: not judged down (resume) or still watched (suspend) until it confirms.
            let late = if u["overdue"].as_bool() == Some(true) { "FAILED: " } else { "" };
            format!("   ({late}{} not confirmed)", text(&u["op"]))
        } else {
            String::new()
        };
        row(out, &marked, &format!("{}{hint}", paint(&word, colour)));
    };
    let me = text(&v["server"]);
    let mut out = String::new();
    out.push_str(" ===================  CLUSTER STATUS  ===================\n");
    let suspended = if v["cluster_suspended"].as_bool() == Some(true) { "  [cluster suspended]" } else { "" };
    out.push_str(&format!("  Cluster : {}{suspended}\n", text(&v["cluster"])));
    out.push_str(&format!("  (as seen from {me})\n"));
    out.push_str("  <server>\n");
    server_row(&mut out, format!("*{me}"), &me, &v["state"]);
    for (name, state) in pairs(&v["peers"]) {
        server_row(&mut out, format!(" {name}"), &name, state);
    }
    if let Some(paths) = v["paths"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("  <heartbeat>\n");
        for p in paths {
            let alive = paint(if p["alive"].as_bool() == Some(true) { "alive" } else { "SILENT" }, colour);
            let since = match p["silent_ms"].as_u64() {
                Some(ms) => format!(" (last heard {ms} ms ago)"),
                None => " (never heard)".to_string(),
            };
            row(&mut out, &format!(" {} via {}", text(&p["peer"]), text(&p["path"])), &format!("{alive}{since}"));
        }
    }
    out.push_str("  <group>\n");
    let locations: Vec<(String, &Value)> = pairs(&v["locations"]);
    for (name, here) in pairs(&v["groups"]) {
        let at = locations
            .iter()
            .find(|(g, _)| *g == name)
            .map(|(_, l)| pairs(l).into_iter().map(|(s, st)| format!("{s} ({})", state_word(st))).collect::<Vec<_>>())
            .unwrap_or_default();
        let summary = if at.is_empty() { "offline everywhere".to_string() } else { at.join(", ") };
        row(&mut out, &format!(" {name}"), &format!("{summary}   [here: {}]", paint(&state_word(here), colour)));
        for r in v["resources"].as_array().into_iter().flatten().filter_map(Value::as_array) {
            if r.first().map(text).as_deref() == Some(name.as_str()) {
                let res = r.get(1).map(text).unwrap_or_default();
                let st = r.get(2).map(text).unwrap_or_default();
                row(&mut out, &format!("   {res}"), &paint(&st, colour));
            }
        }
    }
    let monitors = pairs(&v["monitors"]);
    if !monitors.is_empty() {
        out.push_str("  <monitor>\n");
        for (name, state) in monitors {
            row(&mut out, &format!(" {name}"), &paint(&state_word(state), colour));
        }
    }
    if let Some(faults) = v["pseudo_faults"].as_array().filter(|f| !f.is_empty()) {
        // Issue 15: a test in progress, so nobody takes its failures for real ones.
        out.push_str("  <pseudo-failure>   (end with: baton monitor ok M / resource fail-activation R --times 0)\n");
        for f in faults {
            out.push_str(&format!("   {}\n", paint(&text(f), colour)));
        }
    }
    let mirrors = pairs(&v["mirrors"]);
    if !mirrors.is_empty() {
        out.push_str("  <mirror>\n");
        for (name, state) in mirrors {
            row(&mut out, &format!(" {name}"), &paint(&state_word(state), colour));
        }
    }
    out.push_str("  <transport>\n");
    let t = &v["transport"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    row(
        &mut out,
        " packets",
        &format!("sent {}, send errors {}, accepted {}", n("sent"), n("send_errors"), n("accepted")),
    );
    // The dropped-datagram reasons of /metrics, and the socket's own receive errors.
    let drops: Vec<&str> = crate::observe::metrics::DROP_REASONS.into_iter().chain(["receive_errors"]).collect();
    let total: u64 = drops.iter().map(|k| n(k)).sum();
    let detail: Vec<String> =
        drops.iter().filter(|k| n(k) > 0).map(|k| format!("{} {}", k.replace('_', " "), n(k))).collect();
    let dropped = if detail.is_empty() { "none".to_string() } else { format!("{total} ({})", detail.join(", ")) };
    row(&mut out, " dropped", &dropped);
    // Before the daemon reads them: a full receive buffer (a flood), counted by the kernel.
    row(
        &mut out,
        " kernel drops",
        &format!("{} (receive buffer {} KiB)", n("kernel_drops"), n("receive_buffer_bytes") / 1024),
    );
    row(
        &mut out,
        " messages",
        &format!(
            "retransmitted {}, abandoned {}, duplicates {}, acks sent/received {}/{}",
            n("retransmitted"),
            n("abandoned"),
            n("duplicate"),
            n("acks_sent"),
            n("acks_received")
        ),
    );
    // Refused disk slots (docs/status-json.md `disk_slots`), only when there are any.
    let refused: Vec<&Value> = v["disk_slots"].as_array().into_iter().flatten().collect();
    if !refused.is_empty() {
        out.push_str("  <disk slots refused>\n");
        for e in refused {
            let mut reasons: Vec<String> = e["refused"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(reason, count)| format!("{reason} {}", count.as_u64().unwrap_or(0)))
                .collect();
            if let Some(stale) = e["stale"].as_u64().filter(|s| *s > 0) {
                reasons.push(format!("stale {stale}"));
            }
            row(&mut out, &format!(" {} on {}", text(&e["server"]), text(&e["device"])), &reasons.join(", "));
        }
    }
    out.push_str(" ========================================================\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_servers_groups_and_drops() {
        let v: Value = serde_json::from_str(
            r#"{"cluster":"c","server":"server2","state":"Online","cluster_suspended":false,
                "peers":[["server1","Online"],["server3","Down"]],
                "groups":[["g1","Offline"]],"monitors":[["m1","ok"]],"mirrors":[],
                "locations":[["g1",[["server1","Online"]]]],
                "paths":[{"peer":"server1","path":"lan1","alive":true,"silent_ms":80},
                         {"peer":"server3","path":"lan1","alive":false,"silent_ms":null}],
                "resources":[["g1","fip1","offline"]],
                "transport":{"sent":5,"accepted":4,"bad_tag":2,"retransmitted":3,
                             "kernel_drops":7,"receive_buffer_bytes":2097152},
                "disk_slots":[{"device":"/dev/sdc1","server":"server3","refused":{"bad-tag":4},"stale":1}]}"#,
        )
        .unwrap();
        let t = table(&v);
        assert!(t.contains("*server2"), "{t}");
        assert!(t.contains("server3 ") && t.contains(": down"), "{t}");
        assert!(t.contains("g1") && t.contains("server1 (online)") && t.contains("[here: offline]"), "{t}");
        assert!(t.contains("m1") && t.contains(": ok"), "{t}");
        assert!(t.contains("server1 via lan1") && t.contains("alive (last heard 80 ms ago)"), "{t}");
        assert!(t.contains("server3 via lan1") && t.contains("SILENT (never heard)"), "{t}");
        assert!(t.contains("fip1") && t.contains(": offline"), "{t}");
        assert!(t.contains("dropped") && t.contains("2 (bad tag 2)"), "{t}");
        assert!(t.contains("retransmitted 3, abandoned 0"), "{t}");
        assert!(t.contains("kernel drops") && t.contains(": 7 (receive buffer 2048 KiB)"), "{t}");
        assert!(t.contains("server3 on /dev/sdc1") && t.contains(": bad-tag 4, stale 1"), "{t}");
        assert!(!t.contains('\x1b'), "no colour unless asked: {t}");
    }

    #[test]
    fn a_suspended_server_says_how_it_returns_and_states_are_coloured_on_a_terminal() {
        let v: Value = serde_json::from_str(
            r#"{"cluster":"c","server":"server2","state":"Online","cluster_suspended":false,
                "peers":[["server1","Suspended"],["server3","Down"]],"groups":[["g1","Online"]],
                "monitors":[["m1","error"]],"mirrors":[],"locations":[],"paths":[],"resources":[],"transport":{}}"#,
        )
        .unwrap();
        let t = table(&v);
        assert!(!t.contains("disk slots"), "only when some were refused: {t}");
        let line = t.lines().find(|l| l.contains("server1")).unwrap_or_default();
        assert!(line.contains("suspended   (to let it return: baton server return server1)"), "{t}");
        assert!(!t.lines().any(|l| l.contains("server3") && l.contains("return")), "only suspended ones: {t}");
        let c = table_with(&v, true);
        assert!(c.contains("\x1b[32monline\x1b[0m") && c.contains("\x1b[31mdown\x1b[0m"), "{c}");
        assert!(c.contains("\x1b[33msuspended\x1b[0m") && c.contains("\x1b[31merror\x1b[0m"), "{c}");
    }

    /// X1: a peer that did not confirm `cluster resume` shows on its row and fails in
    /// the per-server result of the command, like clpcl's `Resume server : Failed`.
    #[test]
    fn a_resume_not_confirmed_shows_on_the_row_and_fails_in_the_per_server_result() {
        let v: Value = serde_json::from_str(
            r#"{"cluster":"c","server":"server1","state":"Online","cluster_suspended":false,
                "peers":[["server2","Online"],["server3","Online"]],"groups":[],
                "unconfirmed":[{"server":"server2","op":"resume","overdue":true}],
                "monitors":[],"mirrors":[],"locations":[],"paths":[],"resources":[],"transport":{}}"#,
        )
        .unwrap();
        let t = table(&v);
        let line = t.lines().find(|l| l.contains("server2")).unwrap_or_default();
        assert!(line.contains("(FAILED: resume not confirmed)"), "{t}");
        assert!(!t.lines().any(|l| l.contains("server3") && l.contains("confirmed")), "{t}");
        let owed = vec![("server2".to_string(), true)];
        assert_eq!(
            ack_lines("resume", &v, &owed),
            "Resume server1 : Success\nResume server2 : Failed (not confirmed: see `baton status`)\n\
             Resume server3 : Success\n"
        );
    }
}

/// `--state-dir` and `--no-wait` of every operator command.
#[derive(clap::Args, Clone, Debug)]
pub struct Ctl {
    #[command(flatten)]
    pub conn: Conn,
    /// Return once the command is accepted or refused, without waiting for its outcome
    /// (group commands otherwise wait until the group is where the command puts it).
    #[arg(long)]
    pub no_wait: bool,
}

/// `baton group …`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum GroupCmd {
    /// Start a group (on its best server, or --on SERVER; `--to` is the same).
    Start {
        /// The group's name in the cluster file.
        #[arg(value_name = "GROUP")]
        group: String,
        /// Start it on this server (default: the first eligible server of its policy).
        #[arg(long, value_name = "SERVER", visible_alias = "to")]
        on: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Stop a group.
    Stop {
        /// The group's name in the cluster file.
        #[arg(value_name = "GROUP")]
        group: String,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Move a running group (to its next server, or --to SERVER).
    Move {
        /// The group's name in the cluster file.
        #[arg(value_name = "GROUP")]
        group: String,
        /// Move it to this server (default: the next eligible server of its policy).
        #[arg(long, value_name = "SERVER")]
        to: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
}

/// `baton cluster …`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum ClusterCmd {
    /// Start the groups of the whole cluster.
    Start {
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Stop the cluster service on every server.
    Stop {
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Stop the cluster and power off (or --reboot) every server.
    Shutdown {
        /// Reboot every server instead of powering it off.
        #[arg(long)]
        reboot: bool,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Suspend the cluster: groups keep running, nothing fails over.
    Suspend {
        /// Suspend the online servers even while another server is not online.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Resume a suspended cluster.
    Resume {
        /// Also count the servers that never confirmed the resume as heard now: the
        /// operator's word that they are gone (they are judged lost a heartbeat timeout
        /// later if still silent, and their groups taken over). Also after a resume.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        ctl: Ctl,
    },
}

/// `baton server …`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum ServerCmd {
    /// Stop one server cleanly and power it off (or --reboot).
    Shutdown {
        /// The server's name in the cluster file.
        #[arg(value_name = "SERVER")]
        server: String,
        /// Reboot it instead of powering it off.
        #[arg(long)]
        reboot: bool,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Let a suspended server (after an unclean end) rejoin the cluster.
    Return {
        /// The suspended server's name in the cluster file.
        #[arg(value_name = "SERVER")]
        server: String,
        /// Return it even when no server is online (it forms the cluster alone, B26).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        ctl: Ctl,
    },
}

/// `baton monitor …`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum MonitorCmd {
    /// Stop checking a monitor (everywhere, or --on SERVER).
    Suspend {
        /// The monitor's name in the cluster file.
        #[arg(value_name = "MONITOR")]
        monitor: String,
        /// Only on this server (default: every server).
        #[arg(long, value_name = "SERVER")]
        on: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Check a suspended monitor again.
    Resume {
        /// The monitor's name in the cluster file.
        #[arg(value_name = "MONITOR")]
        monitor: String,
        /// Only on this server (default: every server).
        #[arg(long, value_name = "SERVER")]
        on: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Pseudo-failure: the monitor's next checks count as failed, so the real recovery
    /// ladder runs (refused unless the cluster is healthy; docs/day-two.md).
    Fail {
        /// The monitor's name in the cluster file.
        #[arg(value_name = "MONITOR")]
        monitor: String,
        /// On this server (default: where the group it recovers is online).
        #[arg(long, value_name = "SERVER")]
        on: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// End `monitor fail`: the checks count as they come out again.
    Ok {
        /// The monitor's name in the cluster file.
        #[arg(value_name = "MONITOR")]
        monitor: String,
        /// Only on this server (default: every server).
        #[arg(long, value_name = "SERVER")]
        on: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
}

/// `baton mirror …`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum MirrorCmd {
    /// Rebuild a mirror from its latest side.
    Rebuild {
        /// The mirror or hybrid disk resource's name in the cluster file.
        #[arg(value_name = "MIRROR")]
        mirror: String,
        #[command(flatten)]
        ctl: Ctl,
    },
    /// Declare the side on SERVER the latest.
    Force {
        /// The mirror or hybrid disk resource's name in the cluster file.
        #[arg(value_name = "MIRROR")]
        mirror: String,
        /// The server whose side is declared the latest.
        #[arg(long, value_name = "SERVER")]
        on: String,
        #[command(flatten)]
        ctl: Ctl,
    },
}

pub(crate) fn w(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_string()).collect()
}

pub(crate) fn opt(words: &mut Vec<String>, name: &str, value: Option<&String>) {
    if let Some(v) = value {
        words.push(name.to_string());
        words.push(v.clone());
    }
}

fn flag(words: &mut Vec<String>, name: &str, on: bool) {
    if on {
        words.push(name.to_string());
    }
}

/// Runs an operator command given as one of the subcommand enums.
pub(crate) fn send(words: Vec<String>, ctl: &Ctl) -> ExitCode {
    command(&words, &ctl.conn, ctl.no_wait)
}

pub fn group(c: &GroupCmd) -> ExitCode {
    match c {
        GroupCmd::Start { group, on, ctl } => {
            let mut words = w(&["group", "start", group]);
            opt(&mut words, "--on", on.as_ref());
            send(words, ctl)
        }
        GroupCmd::Stop { group, ctl } => send(w(&["group", "stop", group]), ctl),
        GroupCmd::Move { group, to, ctl } => {
            let mut words = w(&["group", "move", group]);
            opt(&mut words, "--to", to.as_ref());
            send(words, ctl)
        }
    }
}

pub fn cluster(c: &ClusterCmd) -> ExitCode {
    match c {
        ClusterCmd::Start { ctl } => send(w(&["cluster", "start"]), ctl),
        ClusterCmd::Stop { ctl } => send(w(&["cluster", "stop"]), ctl),
        ClusterCmd::Shutdown { reboot, ctl } => {
            let mut words = w(&["cluster", "shutdown"]);
            flag(&mut words, "--reboot", *reboot);
            send(words, ctl)
        }
        ClusterCmd::Suspend { force, ctl } => {
            let mut words = w(&["cluster", "suspend"]);
            flag(&mut words, "--force", *force);
            send(words, ctl)
        }
        ClusterCmd::Resume { force, ctl } => {
            let mut words = w(&["cluster", "resume"]);
            flag(&mut words, "--force", *force);
            send(words, ctl)
        }
    }
}

pub fn server(c: &ServerCmd) -> ExitCode {
    match c {
        ServerCmd::Shutdown { server, reboot, ctl } => {
            let mut words = w(&["server", "shutdown", server]);
            flag(&mut words, "--reboot", *reboot);
            send(words, ctl)
        }
        ServerCmd::Return { server, force, ctl } => {
            let mut words = w(&["server", "return", server]);
            flag(&mut words, "--force", *force);
            send(words, ctl)
        }
    }
}

pub fn monitor(c: &MonitorCmd) -> ExitCode {
    // Every monitor command is `monitor VERB NAME [--on SERVER]`.
    let (verb, monitor, on, ctl) = match c {
        MonitorCmd::Suspend { monitor, on, ctl } => ("suspend", monitor, on, ctl),
        MonitorCmd::Resume { monitor, on, ctl } => ("resume", monitor, on, ctl),
        MonitorCmd::Fail { monitor, on, ctl } => ("fail", monitor, on, ctl),
        MonitorCmd::Ok { monitor, on, ctl } => ("ok", monitor, on, ctl),
    };
    let mut words = w(&["monitor", verb, monitor]);
    opt(&mut words, "--on", on.as_ref());
    send(words, ctl)
}

pub fn mirror(c: &MirrorCmd) -> ExitCode {
    match c {
        MirrorCmd::Rebuild { mirror, ctl } => send(w(&["mirror", "rebuild", mirror]), ctl),
        MirrorCmd::Force { mirror, on, ctl } => send(w(&["mirror", "force", mirror, "--on", on]), ctl),
    }
}
