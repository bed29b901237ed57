//! The `baton` command line.
//!
//! In: the command line. Out: the command's output on stdout, problems on stderr,
//! and the exit code: 0 success, 1 a scenario expectation or invariant failed or the
//! daemon refused an operator command, 2 bad input (a usage error, an invalid file, no
//! daemon to ask) with a message saying what to do.

mod alert_cmd;
mod bench;
mod config_cmd;
mod control_cmd;
mod daemon_cmd;
mod demo_cmd;
mod explore_cmd;
mod host_check;
mod kind_check;
mod log_cmd;
mod log_text;
mod log_time;
mod mirror_cmd;
mod observe;
mod outcome;
mod pipe;
mod sim_cmd;
mod status_doc;
mod timing_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "baton",
    version,
    about = "baton: a high-availability cluster manager with a simulated, replayable decision core"
)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Check or show a cluster file.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
    /// Try a configuration against failures in the deterministic simulator.
    Sim {
        #[command(subcommand)]
        command: SimCmd,
    },
    /// Read, verify, replay and explain event logs (one directory per server).
    Log {
        #[command(subcommand)]
        command: LogCmd,
    },
    /// Run this server's cluster service: heartbeats, groups, resources, monitors and
    /// resolvers on this machine (as root, usually from `dist/baton.service`).
    Daemon {
        /// The cluster file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// This server's name in the file (default: the host name).
        #[arg(long, value_name = "NAME")]
        server: Option<String>,
        /// Where the persisted state and the event log live (default: /var/lib/baton).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// What power actions (fencing, final actions, shutdown) do: `power` really powers
        /// off, reboots or crashes the machine; `exit` behaves as a powered-off server
        /// (drops its addresses, stops answering, exits 1) for tests and demos.
        #[arg(long, value_name = "MODE", default_value = "power")]
        fence: baton_runtime::daemon::FenceMode,
        /// Which log records to write: a level (`error`, `warn`, `info`, `debug`) or
        /// tracing filter directives (`info,baton::event=warn`); default: RUST_LOG, else info.
        #[arg(long, value_name = "FILTER")]
        log_level: Option<String>,
        /// How: `human` lines, `json` (one object per record, every field), `journald`
        /// (native fields); `auto`: journald when stderr is the journal, else human.
        #[arg(long, value_name = "FORMAT", default_value = "auto")]
        log_format: observe::logging::LogFormat,
    },
    /// Alerts of the cluster file ([[alert]]): `baton alert test` sends a test through each.
    Alert {
        #[command(subcommand)]
        command: AlertCmd,
    },
    /// This server's view of the cluster, from its daemon: servers, groups, monitors,
    /// mirrors, transport drop counters.
    Status {
        /// Print the status as one JSON document (schema: docs/status-json.md).
        #[arg(long)]
        json: bool,
        /// Refresh in place until interrupted (like `watch`), every --interval.
        #[arg(long)]
        watch: bool,
        /// How often --watch refreshes: 100ms to 1h.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = status_doc::watch_interval)]
        interval: std::time::Duration,
        #[command(flatten)]
        conn: control_cmd::Conn,
    },
    /// Start, stop or move a group (through the local daemon).
    Group {
        #[command(subcommand)]
        command: control_cmd::GroupCmd,
    },
    /// Start, stop, shut down, suspend or resume the whole cluster (through the local daemon).
    Cluster {
        #[command(subcommand)]
        command: control_cmd::ClusterCmd,
    },
    /// Shut down a server, or let a suspended one return (through the local daemon).
    Server {
        #[command(subcommand)]
        command: control_cmd::ServerCmd,
    },
    /// Suspend or resume a monitor (through the local daemon).
    Monitor {
        #[command(subcommand)]
        command: control_cmd::MonitorCmd,
    },
    /// Mirror disks: initialise a side, show the engines' status; rebuild a mirror or
    /// force its latest side (through the local daemon).
    Mirror {
        #[command(subcommand)]
        command: mirror_cmd::MirrorCmd,
    },
    /// One mirror's replication engine on this server (started and supervised by the
    /// daemon; docs/mirror.md, "The engine process").
    #[command(hide = true)]
    MirrorEngine {
        #[arg(value_name = "MIRROR")]
        mirror: String,
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "NAME")]
        server: String,
        #[arg(long, value_name = "DIR", default_value = daemon_cmd::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Serve write, read and flush on the control socket (tests).
        #[arg(long)]
        test_io: bool,
        /// Serve no block device when active (tests that write through --test-io).
        #[arg(long)]
        no_front: bool,
        /// Where the active side's device is published as MIRROR (a symlink to its
        /// loop device).
        #[arg(long, value_name = "DIR", default_value = mirror_cmd::DEFAULT_DEV_DIR)]
        dev_dir: PathBuf,
    },
    /// A three-server cluster on this machine in network namespaces, with a floating IP in
    /// front of a tiny web service: crash, partition, heal and move, and watch (as root).
    Demo {
        /// Run by itself: wait for server1 to serve, crash it, measure the outage the
        /// client sees, print the failover timeline, clean up (exit 0, or 1 with the reason).
        #[arg(long)]
        auto: bool,
    },
    /// The demo's web service: answers `hello from NAME` on PORT (started by the demo's scripts).
    #[command(hide = true)]
    DemoHttp {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        name: String,
        /// Written with this process's id once it listens.
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
    },
    /// Measure the core and the simulator (see docs/benchmarks.md).
    Bench {
        /// Only run the named benchmark: core, sim, placement.
        #[arg(long)]
        only: Option<String>,
        /// Shorter runs (for CI smoke checks); the numbers are then indicative only.
        #[arg(long)]
        quick: bool,
    },
    /// Print a shell completion script: `baton completions bash > /etc/bash_completion.d/baton`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum AlertCmd {
    /// Send a test alert through every [[alert]] of the file (whatever events it
    /// selects, beyond its rate limit): exit 0 if each was delivered, 1 if one failed.
    Test {
        /// The cluster file.
        #[arg(long, value_name = "FILE", default_value = "/etc/baton/cluster.toml")]
        config: PathBuf,
        /// The server named in the test alert (default: the host name).
        #[arg(long, value_name = "NAME")]
        server: Option<String>,
        /// Only the alert of this name (`name`, or `alert-N` by file order).
        #[arg(long, value_name = "ALERT")]
        only: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// List every problem as FILE:LINE:COL: reason (exit 2), or print a summary (exit 0).
    /// Also checks this machine as `baton daemon` would: the cluster secret (missing,
    /// empty, not a regular file, readable by group or others: an error, as the daemon
    /// refuses to start) and exec scripts (missing or not executable: a warning).
    Check {
        /// The cluster file (relative paths in it are taken from its directory).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Check the file alone, not this machine (the secret and the scripts): for a
        /// file written elsewhere, or only to be tried in the simulator.
        #[arg(long)]
        file_only: bool,
    },
    /// Print the resolved configuration with every default filled in.
    Show {
        /// The cluster file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Predict each group's outage (best and worst, term by term with rule ids) for a
    /// crash of its server, a partition, a monitor failure and a planned move.
    Timing {
        /// The cluster file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LogCmd {
    /// Check every record's CRC and the hash chain; print each log's head.
    Verify {
        /// The event logs: one server's log directory, or a directory of them (DIR/SERVER/).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print records in words (names, not ids), or one JSON object per record.
    ///
    /// Times: a daemon's log prints RFC 3339 wall-clock times (local, or UTC with
    /// `--utc`); a simulated run's prints the time since the run started (H:MM:SS.mmm).
    /// Exit 1 (after printing what it can read) if a log is damaged or ends in a torn tail.
    Show {
        /// The event logs: one server's log directory, or a directory of them (DIR/SERVER/).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Only records at or after this instant: an RFC 3339 time
        /// (2026-12-06T15:12:40Z), a time of day (15:12:36, on the day the log starts),
        /// or a duration from the start of the log (2m30s).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only records at or before this instant (same forms as --from).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Only this server's log.
        #[arg(long, value_name = "SERVER")]
        server: Option<String>,
        /// One JSON object per line (schema: docs/event-log.md § log show --json).
        #[arg(long)]
        json: bool,
        /// Print and read wall-clock times in UTC (default: the local time zone).
        #[arg(long)]
        utc: bool,
    },
    /// Re-run the core over the logged inputs and check every logged output comes out
    /// again. A torn tail or damage is reported, the records before it are replayed, and
    /// the exit code is 1.
    Replay {
        /// The event logs: one server's log directory, or a directory of them (DIR/SERVER/).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// The causal chain of an event: an event name (its last emission) or a record number.
    Why {
        /// An event name (`recovery-failover`: its last emission) or a record number (`497`).
        #[arg(value_name = "EVENT|SEQ")]
        event_or_seq: String,
        /// The event logs: one server's log directory, or a directory of them (DIR/SERVER/).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Only look in this server's log.
        #[arg(long, value_name = "SERVER")]
        server: Option<String>,
        /// Print wall-clock times in UTC (default: the local time zone).
        #[arg(long)]
        utc: bool,
    },
    /// The cluster as each server saw it at an instant.
    State {
        /// The event logs: one server's log directory, or a directory of them (DIR/SERVER/).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The instant: an RFC 3339 time (2026-12-06T15:12:40Z), a time of day
        /// (15:12:36), or a duration from the start of the log (2m30s).
        #[arg(long, value_name = "TIME")]
        at: String,
        /// One JSON object per server and line (schema: docs/event-log.md § log state --json).
        #[arg(long)]
        json: bool,
        /// Print and read wall-clock times in UTC (default: the local time zone).
        #[arg(long)]
        utc: bool,
    },
}

#[derive(Subcommand)]
enum SimCmd {
    /// Play a scenario file: timeline, expectation results, digest.
    Run {
        /// The scenario file (docs/scenarios.md).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Write every server's event log under this directory (DIR/SERVER/), for
        /// `baton log verify|show|replay|why|state`.
        #[arg(long, value_name = "DIR")]
        trace: Option<PathBuf>,
    },
    /// Explore random fault schedules: invariants at every step, liveness after healing;
    /// failures are written as scenario files (docs/testing.md).
    Explore(explore_cmd::ExploreArgs),
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Top::Config { command: ConfigCmd::Check { file, file_only } } => config_cmd::check(&file, file_only),
        Top::Config { command: ConfigCmd::Show { file } } => config_cmd::show(&file),
        Top::Config { command: ConfigCmd::Timing { file, json } } => timing_cmd::timing(&file, json),
        Top::Sim { command: SimCmd::Run { file, seed, json, trace } } => {
            sim_cmd::run(&file, seed, json, trace.as_deref())
        }
        Top::Sim { command: SimCmd::Explore(args) } => explore_cmd::run(&args),
        Top::Daemon { config, server, state_dir, fence, log_level, log_format } => {
            let log = daemon_cmd::LogOptions { level: log_level, format: log_format };
            daemon_cmd::run(&config, server.as_deref(), state_dir.as_deref(), fence, &log)
        }
        Top::Alert { command: AlertCmd::Test { config, server, only } } => {
            alert_cmd::test(&config, server.as_deref(), only.as_deref())
        }
        Top::Status { json, watch, interval, conn } => control_cmd::status(&conn, json, watch.then_some(interval)),
        Top::Group { command } => control_cmd::group(&command),
        Top::Cluster { command } => control_cmd::cluster(&command),
        Top::Server { command } => control_cmd::server(&command),
        Top::Monitor { command } => control_cmd::monitor(&command),
        Top::Mirror { command } => mirror_cmd::run(&command),
        Top::MirrorEngine { mirror, config, server, state_dir, test_io, no_front, dev_dir } => {
            let dev_dir = (!no_front).then_some(dev_dir.as_path());
            mirror_cmd::engine(&mirror, &config, &server, &state_dir, test_io, dev_dir)
        }
        Top::Bench { only, quick } => bench::run(only.as_deref(), quick),
        Top::Demo { auto } => demo_cmd::run(auto),
        Top::DemoHttp { port, name, pid_file } => demo_cmd::http(port, &name, pid_file.as_deref()),
        Top::Completions { shell } => {
            // Into memory first: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "baton", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("baton completions: cannot write the script: {e}");
                    ExitCode::from(1)
                }
                Ok(()) | Err(_) => ExitCode::SUCCESS,
            }
        }
        Top::Log { command } => match command {
            LogCmd::Verify { dir } => log_cmd::verify(&dir),
            LogCmd::Show { dir, from, to, server, json, utc } => log_cmd::show(
                &dir,
                &log_cmd::ShowOptions {
                    from: from.as_deref(),
                    to: to.as_deref(),
                    server: server.as_deref(),
                    json,
                    utc,
                },
            ),
            LogCmd::Replay { dir } => log_cmd::replay_cmd(&dir),
            LogCmd::Why { event_or_seq, dir, server, utc } => log_cmd::why(&event_or_seq, &dir, server.as_deref(), utc),
            LogCmd::State { dir, at, json, utc } => log_cmd::state(&dir, &at, json, utc),
        },
    }
}

/// A duration as the cluster file writes them (`10s`, `1m30s`), in milliseconds.
fn duration(text: &str) -> Result<u64, String> {
    baton_core::config::parse_duration_ms(text)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument and option of every command a user can see, by its path.
    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !arg.is_hide_set() && !builtin && arg.get_help().is_none() {
                out.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            if sub.get_about().is_none() {
                out.push(format!("{path} {} (the command)", sub.get_name()));
            }
            undocumented(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_argument_has_help_text() {
        let mut missing = Vec::new();
        undocumented(&super::Cli::command(), "baton", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }
}
