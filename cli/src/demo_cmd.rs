//! `baton demo [--auto]`: a three-server cluster on this machine, in network namespaces
//! (`baton-lab`), with a floating IP in front of a tiny web service, to break and watch.
//! `baton demo-http`: that web service (a hidden subcommand, so nothing extra needs
//! installing).
//!
//! In: root (network namespaces), then command lines on stdin (`crash N`, `partition N`,
//! `heal N`, `move SERVER`, `log N`, `help`, `quit`), SIGINT and SIGTERM. With
//! `--auto`, no input: start, crash server1, measure. Out: the live status on stdout
//! (on a terminal a table at the top of the screen, redrawn every 500 ms, commands and
//! their answers scrolling below it; otherwise one line per change), what each command
//! did; with `--auto` the outage the client saw and the failover timeline. Exit 0 after
//! `quit`, end of input, a signal or a successful `--auto` run; 1 when `--auto` failed
//! (the reason and the daemons' last lines printed); 2 when not root or the lab cannot
//! be built. Every exit path (a signal included) kills the daemons and the web
//! services and deletes the namespaces and the state directories.
//!
//! The cluster: `server1`…`server3` on `lan1` (interconnect) and `public`, heartbeats
//! every 100 ms, lost after 500 ms, ping network-partition resolution against the
//! client's router address (so a partitioned server fences itself instead of keeping
//! the address), `auto_return` (a healed server rejoins by itself), and one group
//! `failover1`: floating IP `10.77.2.50/24`, then `exec1` whose start script launches
//! `baton demo-http --port 80 --name $CLP_SERVER` in the server's namespace. The
//! client asks `http://10.77.2.50/` every tick; the answer says which server holds the
//! group right now.

use baton_lab::daemon::{self as lab_daemon, Daemon};
use baton_lab::{http_get, ClusterSpec, Lab, LabSpec, Service};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// The group of the demo cluster.
const GROUP: &str = "failover1";
/// The port of the web service.
const HTTP_PORT: u16 = 80;
/// How often the status is refreshed.
const TICK: Duration = Duration::from_millis(500);
/// How long the client waits for the web service (connect, then the answer).
const HTTP_TIMEOUT: Duration = Duration::from_millis(300);
/// How often `--auto` asks the web service while it measures.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// `--auto`: the cluster must serve from server1 within this after the start.
const START_WITHIN: Duration = Duration::from_secs(40);
/// `--auto`: another server must serve within this after the crash.
const FAILOVER_WITHIN: Duration = Duration::from_secs(30);
/// Lines of the status table (fixed, so it can be redrawn in place).
const TABLE_LINES: usize = 9;

/// Something for the demo's loop.
enum Input {
    Line(String),
    /// End of stdin.
    End,
    Signal(&'static str),
}

/// What happened to a server's machine, as the demo did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Machine {
    Up,
    /// Every cable pulled; the machine runs.
    Partitioned,
    /// Power lost: processes killed, cables pulled, floating addresses gone.
    Crashed,
    /// Its daemon ended by itself (fenced, or a final action): with `--fence exit` that
    /// is where the machine would power off, so what its scripts started is killed too.
    Off,
}

impl Machine {
    fn word(self) -> &'static str {
        match self {
            Machine::Up => "up",
            Machine::Partitioned => "partitioned",
            Machine::Crashed => "crashed",
            Machine::Off => "off",
        }
    }
}

/// One server's line of the status.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ServerRow {
    name: String,
    machine: Machine,
    daemon: String,
    /// The server's own state, as its daemon reports it (`-` without an answer).
    state: String,
    /// The group's state there, as its daemon reports it (`None` when offline or unknown).
    group: Option<String>,
    holds_ip: bool,
}

/// The whole status at one tick.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    rows: Vec<ServerRow>,
    /// What the client got from the web service, or why nothing.
    http: Result<String, String>,
}

impl Snapshot {
    fn group_summary(&self) -> String {
        let at: Vec<String> =
            self.rows.iter().filter_map(|r| r.group.as_ref().map(|state| format!("{state} on {}", r.name))).collect();
        if at.is_empty() {
            "offline everywhere".to_string()
        } else {
            at.join(", ")
        }
    }

    fn http_summary(&self) -> String {
        match &self.http {
            Ok(body) => body.trim().to_string(),
            // `connect 10.77.2.50:80: Connection refused (os error 111)` without the errno.
            Err(why) => format!("no answer ({})", why.split(" (os error").next().unwrap_or(why)),
        }
    }

    /// The one-line form (when stdout is not a terminal): printed when it changes.
    fn line(&self) -> String {
        let servers: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                let ip = if r.holds_ip { " +IP" } else { "" };
                format!("{} {}/{}/{}{ip}", r.name, r.machine.word(), r.daemon, r.state)
            })
            .collect();
        format!("{} | group {} | client: {}", servers.join(", "), self.group_summary(), self.http_summary())
    }
}

/// The running demo: the lab, its daemons, and what the user did to the machines.
struct Demo {
    /// Dropped before the lab: the daemons are killed before their namespaces go.
    daemons: Vec<Option<Daemon>>,
    /// A `baton group move` still running, with its words.
    moving: Option<(String, Child)>,
    machines: Vec<Machine>,
    baton: PathBuf,
    config: PathBuf,
    lab: Lab,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some((_, child)) = &mut self.moving {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The lab's own drop kills whatever else runs in its namespaces (the web services).
        self.daemons.clear();
    }
}

fn say(text: &str) {
    println!("{text}");
    let _ = std::io::stdout().flush();
}

impl Demo {
    fn start() -> Result<Demo, String> {
        let baton = std::env::current_exe().map_err(|e| format!("cannot find the baton binary: {e}"))?;
        let lab = Lab::new(LabSpec::default())?;
        let spec = ClusterSpec {
            name: "demo".to_string(),
            group: GROUP.to_string(),
            service: Service::Http { baton: baton.clone(), port: HTTP_PORT },
            ping_np: true,
            auto_return: true,
            ..ClusterSpec::default()
        };
        let config = lab.write_config(&spec)?;
        let mut demo =
            Demo { daemons: Vec::new(), moving: None, machines: vec![Machine::Up; lab.servers()], baton, config, lab };
        for s in 1..=demo.lab.servers() {
            let d = demo.lab.start_daemon(&demo.baton, &demo.config, s)?;
            demo.daemons.push(Some(d));
        }
        Ok(demo)
    }

    fn daemon_running(&mut self, server: usize) -> bool {
        self.daemons[server - 1].as_mut().is_some_and(|d| d.exit_status().is_none())
    }

    fn daemon_word(&mut self, server: usize) -> String {
        match self.daemons[server - 1].as_mut() {
            None => "none".to_string(),
            Some(d) => match d.exit_status() {
                None => "running".to_string(),
                Some(s) => match s.code() {
                    Some(code) => format!("exited ({code})"),
                    None => "killed".to_string(),
                },
            },
        }
    }

    /// Servers whose daemon ended by itself since the last call are powered off, as
    /// the real machine would be (`--fence exit` only ends the daemon); says so.
    fn reap(&mut self) -> Vec<String> {
        let mut said = Vec::new();
        for s in 1..=self.lab.servers() {
            if matches!(self.machines[s - 1], Machine::Crashed | Machine::Off) || self.daemon_running(s) {
                continue;
            }
            let how = self.daemon_word(s);
            let done = self.lab.power_off(s);
            self.machines[s - 1] = Machine::Off;
            said.push(match done {
                Ok(()) => format!("server{s}: its daemon ended ({how}): the machine is off (heal {s} boots it again)"),
                Err(e) => format!("server{s}: its daemon ended ({how}); powering the rest off failed: {e}"),
            });
        }
        said
    }

    fn client_get(&self) -> Result<String, String> {
        http_get(self.lab.client_ns(), self.lab.floating_address(), HTTP_PORT, HTTP_TIMEOUT)
    }

    fn snapshot(&mut self) -> Snapshot {
        let holders = self.lab.holders(self.lab.floating_address());
        let mut rows = Vec::new();
        for s in 1..=self.lab.servers() {
            let daemon = self.daemon_word(s);
            let status = if self.daemon_running(s) {
                lab_daemon::status(&self.baton, &self.lab.state_dir(s)).ok()
            } else {
                None
            };
            let (state, group) = match &status {
                Some(v) => {
                    // `baton status --json` (docs/status-json.md): lower-case words.
                    let state = v["state"].as_str().unwrap_or("-").to_string();
                    let group = v["groups"][GROUP].as_str().filter(|st| *st != "offline").map(str::to_string);
                    (state, group)
                }
                None => ("-".to_string(), None),
            };
            rows.push(ServerRow {
                name: self.lab.server_name(s),
                machine: self.machines[s - 1],
                daemon,
                state,
                group,
                holds_ip: holders.contains(&s),
            });
        }
        Snapshot { rows, http: self.client_get() }
    }

    /// The table, exactly [`TABLE_LINES`] lines.
    fn table(&self, snap: &Snapshot) -> Vec<String> {
        let fip = self.lab.floating_address();
        let mut lines = vec![
            format!(
                " baton demo - lab {} - client {} - floating IP {fip} - {:.0}s",
                self.lab.id(),
                self.lab.client_address(self.lab.public_network()),
                self.lab.started().elapsed().as_secs_f64()
            ),
            format!(" {:<9} {:<12} {:<11} {:<17} {}", "server", "machine", "daemon", "state", "holds the IP"),
        ];
        for r in &snap.rows {
            lines.push(format!(
                " {:<9} {:<12} {:<11} {:<17} {}",
                r.name,
                r.machine.word(),
                r.daemon,
                r.state,
                if r.holds_ip { "yes" } else { "-" }
            ));
        }
        lines.push(format!(" group {GROUP}: {}", snap.group_summary()));
        lines.push(format!(" client -> http://{fip}/ : {}", snap.http_summary()));
        lines.push(" commands: crash N | partition N | heal N | move SERVER | log N | help | quit".to_string());
        lines.push(format!(" {}", "-".repeat(78)));
        lines.truncate(TABLE_LINES);
        while lines.len() < TABLE_LINES {
            lines.push(String::new());
        }
        lines
    }

    /// `N` or `serverN` → N, if it is a server of the lab.
    fn server_arg(&self, word: Option<&str>) -> Result<usize, String> {
        let word = word.ok_or("which server? give its number (1, 2, 3) or name")?;
        let n = word.strip_prefix("server").unwrap_or(word);
        n.parse::<usize>()
            .ok()
            .filter(|n| (1..=self.lab.servers()).contains(n))
            .ok_or_else(|| format!("no server {word:?}: servers are 1 to {}", self.lab.servers()))
    }

    fn crash(&mut self, s: usize) -> Result<String, String> {
        if matches!(self.machines[s - 1], Machine::Crashed | Machine::Off) {
            return Ok(format!("server{s} is already down (heal {s} brings it back)"));
        }
        self.lab.crash(s)?;
        if let Some(d) = self.daemons[s - 1].as_mut() {
            d.kill(); // already killed with everything in the namespace: this reaps it
        }
        self.machines[s - 1] = Machine::Crashed;
        Ok(format!("server{s}: power lost (daemon and web service killed, cables pulled, floating address gone)"))
    }

    fn partition(&mut self, s: usize) -> Result<String, String> {
        match self.machines[s - 1] {
            Machine::Up => {}
            Machine::Partitioned => return Ok(format!("server{s} is already cut off (heal {s} plugs it back)")),
            Machine::Crashed | Machine::Off => return Ok(format!("server{s} is down (heal {s} brings it back)")),
        }
        self.lab.isolate(s)?;
        self.machines[s - 1] = Machine::Partitioned;
        Ok(format!(
            "server{s}: every cable pulled; it cannot reach the router {} any more, so it should fence itself",
            self.lab.router_address()
        ))
    }

    fn heal(&mut self, s: usize) -> Result<String, String> {
        self.lab.heal(s)?;
        self.machines[s - 1] = Machine::Up;
        if self.daemon_running(s) {
            return Ok(format!("server{s}: cables plugged back"));
        }
        // A fresh boot: nothing of the last run (a web service its daemon left) survives it.
        self.lab.power_off(s)?;
        let d = self.lab.start_daemon(&self.baton, &self.config, s)?;
        self.daemons[s - 1] = Some(d);
        Ok(format!("server{s}: cables plugged back, daemon started again (auto_return: it rejoins by itself)"))
    }

    fn start_move(&mut self, target: usize) -> Result<String, String> {
        if let Some((words, _)) = &self.moving {
            return Err(format!("`{words}` is still running"));
        }
        // Ask a server that is up and connected: its view is the cluster's.
        let asked = (1..=self.lab.servers())
            .find(|&s| self.machines[s - 1] == Machine::Up && self.daemon_running(s))
            .ok_or("no connected server has a running daemon to ask")?;
        let state_dir = self.lab.state_dir(asked);
        let to = self.lab.server_name(target);
        let words = format!("baton group move {GROUP} --to {to} --state-dir {}", state_dir.display());
        let child = Command::new(&self.baton)
            .args(["group", "move", GROUP, "--to", &to, "--state-dir"])
            .arg(&state_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {words}: {e}"))?;
        self.moving = Some((words.clone(), child));
        Ok(format!("$ {words}"))
    }

    /// The answer of a finished `group move`, once.
    fn poll_move(&mut self) -> Option<String> {
        let (_, child) = self.moving.as_mut()?;
        match child.try_wait() {
            Ok(None) => None,
            Ok(Some(_)) | Err(_) => {
                let (words, child) = self.moving.take()?;
                let out = child.wait_with_output().ok()?;
                let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                Some(format!("`{words}` ended ({}): {}", out.status, text.trim()))
            }
        }
    }

    fn log_tail(&self, s: usize, lines: usize) -> String {
        let Some(d) = self.daemons[s - 1].as_ref() else { return format!("server{s} has no daemon") };
        let all = d.lines();
        let from = all.len().saturating_sub(lines);
        let mut out = format!("last lines of server{s}'s daemon ({}):\n", d.log_path().display());
        for l in &all[from..] {
            out.push_str(&format!("  [{:>7.3}] {}\n", l.at.as_secs_f64(), l.text));
        }
        out
    }

    /// Carries out one command line; `None` means quit.
    fn command(&mut self, line: &str) -> Option<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let result = match words.as_slice() {
            [] => return Some(String::new()),
            ["quit" | "exit" | "q"] => return None,
            ["help" | "?"] => Ok(HELP.to_string()),
            ["crash", rest @ ..] => self.server_arg(rest.first().copied()).and_then(|s| self.crash(s)),
            ["partition", rest @ ..] => self.server_arg(rest.first().copied()).and_then(|s| self.partition(s)),
            ["heal", rest @ ..] => self.server_arg(rest.first().copied()).and_then(|s| self.heal(s)),
            ["move", rest @ ..] => self.server_arg(rest.first().copied()).and_then(|s| self.start_move(s)),
            ["log", rest @ ..] => self.server_arg(rest.first().copied()).map(|s| self.log_tail(s, 20)),
            [other, ..] => Err(format!("unknown command {other:?} (type help)")),
        };
        Some(match result {
            Ok(text) => text,
            Err(e) => format!("error: {e}"),
        })
    }
}

const HELP: &str = "commands:
  crash N       power loss of serverN: daemon and web service killed, cables pulled
  partition N   pull every cable of serverN; it keeps running, loses ping resolution and fences itself
  heal N        plug serverN back (and start its daemon again if it is not running)
  move SERVER   baton group move failover1 --to SERVER (a number or a name)
  log N         the last lines of serverN's daemon log
  help          this list
  quit          tear everything down and exit (also Ctrl-D, Ctrl-C)";

/// Delivers SIGINT and SIGTERM as [`Input::Signal`] from a thread of its own; returns
/// once the handlers are installed, so no signal after it kills the demo uncleaned.
fn watch_signals(tx: Sender<Input>) -> Result<(), String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("cannot start the signal watcher: {e}")));
                return;
            }
        };
        runtime.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let handlers = signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
            let (mut interrupt, mut terminate) = match handlers {
                Ok(h) => h,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot watch SIGINT/SIGTERM: {e}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            loop {
                let name = tokio::select! {
                    _ = interrupt.recv() => "SIGINT",
                    _ = terminate.recv() => "SIGTERM",
                };
                if tx.send(Input::Signal(name)).is_err() {
                    return;
                }
            }
        });
    });
    ready_rx.recv().map_err(|_| "the signal watcher ended".to_string())?
}

/// Reads stdin lines on a thread of its own (a blocking read cannot be interrupted;
/// the thread simply ends with the process).
fn read_stdin(tx: Sender<Input>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Input::Line(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(Input::End);
    });
}

/// The terminal: a status table pinned at the top (a scroll region below it for the
/// commands), or, when stdout is not a terminal, one line per change.
struct Screen {
    tty: bool,
    last_line: String,
}

impl Screen {
    fn new() -> Screen {
        let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
        if tty {
            let (rows, _) = terminal_size();
            // Clear, keep the table's lines out of the scroll region, park the cursor below.
            print!("\x1b[2J\x1b[{};{rows}r\x1b[{};1H", TABLE_LINES + 1, TABLE_LINES + 1);
        }
        Screen { tty, last_line: String::new() }
    }

    fn show(&mut self, demo: &Demo, snap: &Snapshot) {
        if self.tty {
            // Save the cursor (the user may be typing), draw, restore: one write.
            let width = usize::from(terminal_size().1.saturating_sub(1));
            let mut frame = String::from("\x1b7");
            for (i, l) in demo.table(snap).iter().enumerate() {
                frame.push_str(&format!("\x1b[{};1H{}\x1b[K", i + 1, fit(l, width)));
            }
            frame.push_str("\x1b8");
            print!("{frame}");
            let _ = std::io::stdout().flush();
        } else {
            let line = snap.line();
            if line != self.last_line {
                say(&format!("[{:>7.1}s] {line}", demo.lab.started().elapsed().as_secs_f64()));
                self.last_line = line;
            }
        }
    }

    fn prompt(&self) {
        if self.tty {
            print!("> ");
            let _ = std::io::stdout().flush();
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.tty {
            // The whole screen scrolls again; the cursor goes to the last line.
            println!("\x1b[r\x1b[{};1H", terminal_size().0);
            let _ = std::io::stdout().flush();
        }
    }
}

/// The terminal's size as (rows, columns); (24, 80) when it cannot be told.
fn terminal_size() -> (u16, u16) {
    let min_rows = u16::try_from(TABLE_LINES + 3).unwrap_or(u16::MAX);
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(w) if w.ws_row >= min_rows && w.ws_col >= 20 => (w.ws_row, w.ws_col),
        Ok(_) | Err(_) => (24, 80),
    }
}

/// `line` cut to `width` characters (a table line must not wrap: it would push the
/// next one down).
fn fit(line: &str, width: usize) -> String {
    line.chars().take(width).collect()
}

/// `baton demo [--auto]`.
pub fn run(auto: bool) -> ExitCode {
    if !baton_lab::is_root() {
        eprintln!("baton demo: it builds network namespaces: run it as root: sudo baton demo");
        return ExitCode::from(2);
    }
    if let Some(why) = baton_lab::missing_prerequisite() {
        eprintln!("baton demo: {why}");
        return ExitCode::from(2);
    }
    let (tx, rx) = mpsc::channel();
    if let Err(e) = watch_signals(tx.clone()) {
        eprintln!("baton demo: {e}");
        return ExitCode::from(2);
    }
    say("baton demo: building the lab (3 servers, a switch and a client in network namespaces)…");
    let demo = match Demo::start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("baton demo: cannot build the lab: {e}");
            return ExitCode::from(2);
        }
    };
    let id = demo.lab.id().to_string();
    let code = if auto {
        match run_auto(demo, &rx) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("baton demo --auto: FAILED: {e}");
                ExitCode::from(1)
            }
        }
    } else {
        read_stdin(tx);
        interactive(demo, &rx);
        ExitCode::SUCCESS
    };
    say(&format!("baton demo: cleaned up (daemons, web services, namespaces {id}-*, state directories)"));
    code
}

fn interactive(mut demo: Demo, rx: &Receiver<Input>) {
    let mut screen = Screen::new();
    say(&format!(
        "{} servers started in namespaces {}-s1…; the client asks http://{}/ every {} ms.\n{HELP}",
        demo.lab.servers(),
        demo.lab.id(),
        demo.lab.floating_address(),
        TICK.as_millis()
    ));
    screen.prompt();
    let mut next_tick = Instant::now();
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Input::Line(line)) => match demo.command(&line) {
                Some(answer) => {
                    if !answer.is_empty() {
                        say(&answer);
                    }
                    screen.prompt();
                }
                None => break,
            },
            Ok(Input::End) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Input::Signal(name)) => {
                say(&format!("\n{name}: tearing the lab down"));
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= next_tick {
            let mut said = demo.reap();
            said.extend(demo.poll_move());
            for answer in &said {
                say(answer);
            }
            if !said.is_empty() {
                screen.prompt();
            }
            let snap = demo.snapshot();
            screen.show(&demo, &snap);
            next_tick = Instant::now() + TICK;
        }
    }
    drop(screen);
    drop(demo);
}

/// Polls `probe` every [`PROBE_EVERY`] until it gives `Some`, `within` passes (`Ok(None)`)
/// or a signal arrives (`Err`). Every [`TICK`] the status is printed when it changed.
fn wait_until<T>(
    demo: &mut Demo,
    screen: &mut Screen,
    rx: &Receiver<Input>,
    within: Duration,
    mut probe: impl FnMut(&mut Demo) -> Option<T>,
) -> Result<Option<T>, String> {
    let deadline = Instant::now() + within;
    let mut next_tick = Instant::now();
    loop {
        if let Some(v) = probe(demo) {
            return Ok(Some(v));
        }
        if Instant::now() >= next_tick {
            let snap = demo.snapshot();
            screen.show(demo, &snap);
            next_tick = Instant::now() + TICK;
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        match rx.recv_timeout(PROBE_EVERY) {
            Ok(Input::Signal(name)) => return Err(format!("interrupted by {name}")),
            Ok(Input::Line(_) | Input::End) | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
    }
}

/// A daemon log line without its prefix and clock: `baton[server2] 2026-…Z event=x k=v`
/// (or, from older daemons, `t=…ms`) → `server2  x k=v`; other lines unchanged.
fn readable(line: &str) -> String {
    let Some((server, rest)) = line.strip_prefix("baton[").and_then(|l| l.split_once("] ")) else {
        return line.to_string();
    };
    let rest = match rest.split_once(' ') {
        Some((clock, after)) if clock.starts_with("t=") && clock.ends_with("ms") => after,
        Some((clock, after)) if clock.len() >= 20 && clock.ends_with('Z') && clock.as_bytes()[10] == b'T' => after,
        Some(_) | None => rest,
    };
    format!("{server}  {}", rest.strip_prefix("event=").unwrap_or(rest))
}

/// The server number in a `hello from serverN` answer.
fn answering_server(body: &str) -> Option<usize> {
    body.trim().strip_prefix("hello from server")?.parse().ok()
}

fn run_auto(mut demo: Demo, rx: &Receiver<Input>) -> Result<(), String> {
    let result = auto_steps(&mut demo, rx);
    if result.is_err() {
        for s in 1..=demo.lab.servers() {
            eprint!("{}", demo.log_tail(s, 15));
        }
    }
    result
}

fn auto_steps(demo: &mut Demo, rx: &Receiver<Input>) -> Result<(), String> {
    let mut screen = Screen { tty: false, last_line: String::new() };
    let fip = demo.lab.floating_address();
    say(&format!(
        "baton demo --auto: lab {} (servers {}-s1…s3, client {}), floating IP {fip}",
        demo.lab.id(),
        demo.lab.id(),
        demo.lab.client_address(demo.lab.public_network())
    ));
    let first = wait_until(demo, &mut screen, rx, START_WITHIN, |d| {
        d.client_get().ok().filter(|b| answering_server(b) == Some(1))
    })?;
    if first.is_none() {
        let last = demo.client_get().unwrap_or_else(|e| format!("no answer ({e})"));
        return Err(format!(
            "the client got no answer from server1 within {}s of the start (last: {})",
            START_WITHIN.as_secs(),
            last.trim()
        ));
    }
    say(&format!("[{:>7.1}s] the client gets \"hello from server1\"", demo.lab.started().elapsed().as_secs_f64()));

    let crashed_at = Instant::now();
    demo.crash(1)?;
    say(&format!(
        "[{:>7.1}s] crash server1: daemon and web service killed, cables pulled",
        demo.lab.started().elapsed().as_secs_f64()
    ));
    let answer = wait_until(demo, &mut screen, rx, FAILOVER_WITHIN, |d| {
        d.client_get().ok().and_then(|b| answering_server(&b).filter(|s| *s != 1).map(|s| (s, Instant::now())))
    })?;
    let Some((survivor, answered_at)) = answer else {
        let last = demo.client_get().unwrap_or_else(|e| format!("no answer ({e})"));
        return Err(format!(
            "no other server answered within {}s of the crash (last: {})",
            FAILOVER_WITHIN.as_secs(),
            last.trim()
        ));
    };
    let outage = answered_at.duration_since(crashed_at);
    say(&format!(
        "[{:>7.1}s] the client gets \"hello from server{survivor}\"",
        demo.lab.started().elapsed().as_secs_f64()
    ));
    let holders = demo.lab.holders(fip);
    if holders != vec![survivor] {
        return Err(format!("server{survivor} answers but {fip} is held by {holders:?}"));
    }

    // The timeline: the survivors' events from the crash to the first answer (and a
    // little after, for the end of the start).
    let zero = crashed_at.duration_since(demo.lab.started());
    let until = answered_at.duration_since(demo.lab.started()) + Duration::from_millis(200);
    let mut timeline: Vec<(Duration, String)> = vec![(Duration::ZERO, "crash server1".to_string())];
    for s in 2..=demo.lab.servers() {
        if let Some(d) = demo.daemons[s - 1].as_ref() {
            for l in d.lines() {
                if l.at >= zero && l.at <= until && l.text.contains("event=") {
                    timeline.push((l.at - zero, l.text));
                }
            }
        }
    }
    timeline.push((outage, format!("client: first answer \"hello from server{survivor}\"")));
    timeline.sort_by_key(|(at, _)| *at);
    say("failover timeline (from the crash):");
    for (at, text) in &timeline {
        say(&format!("  {:>8}  {}", format!("+{:.3}s", at.as_secs_f64()), readable(text)));
    }
    say(&format!(
        "outage seen by the client: {:.2} s (from the crash of server1 to the first answer from server{survivor})",
        outage.as_secs_f64()
    ));
    Ok(())
}

/// `baton demo-http --port P --name NAME [--pid-file F]`: answers every request with
/// `hello from NAME`; writes its pid to F once it listens. Runs until killed.
pub fn http(port: u16, name: &str, pid_file: Option<&Path>) -> ExitCode {
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("baton demo-http: cannot listen on port {port}: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = pid_file {
        // Written whole under another name, then renamed: a reader never sees half a pid.
        let tmp = path.with_extension("tmp");
        let written =
            std::fs::write(&tmp, format!("{}\n", std::process::id())).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            eprintln!("baton demo-http: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    let body = format!("hello from {name}\n");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let body = body.clone();
        // A thread per connection: a slow client never holds up the next one.
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            // Read the request head (up to the blank line, at most 8 KiB); its content does not matter.
            let mut head = Vec::new();
            let mut reader = BufReader::new(&stream).take(8 * 1024);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let blank = line == b"\r\n" || line == b"\n";
                        head.extend_from_slice(&line);
                        if blank {
                            break;
                        }
                    }
                }
            }
            let answer = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        });
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_lines_lose_their_prefix_and_clock() {
        assert_eq!(
            readable("baton[server2] t=1795309599475ms event=server-lost peer=server1"),
            "server2  server-lost peer=server1"
        );
        assert_eq!(
            readable("baton[server2] 2026-12-06T15:12:36.732Z event=server-lost peer=server1"),
            "server2  server-lost peer=server1"
        );
        assert_eq!(readable("baton[server3] script ok"), "server3  script ok");
        assert_eq!(readable("crash server1"), "crash server1");
    }

    #[test]
    fn answers_name_their_server() {
        assert_eq!(answering_server("hello from server2\n"), Some(2));
        assert_eq!(answering_server("hello from server12"), Some(12));
        assert_eq!(answering_server("hello from elsewhere"), None);
        assert_eq!(answering_server(""), None);
    }

    #[test]
    fn the_one_line_status_says_where_the_group_is_and_what_the_client_got() {
        let row = |n: usize, group: Option<&str>, ip: bool| ServerRow {
            name: format!("server{n}"),
            machine: if n == 3 { Machine::Partitioned } else { Machine::Up },
            daemon: "running".into(),
            state: "online".into(),
            group: group.map(str::to_string),
            holds_ip: ip,
        };
        let snap = Snapshot {
            rows: vec![row(1, None, false), row(2, Some("online"), true), row(3, None, false)],
            http: Ok("hello from server2\n".into()),
        };
        let line = snap.line();
        assert!(line.contains("server2 up/running/online +IP"), "{line}");
        assert!(line.contains("server3 partitioned/"), "{line}");
        assert!(line.contains("group online on server2"), "{line}");
        assert!(line.ends_with("client: hello from server2"), "{line}");
        let none = Snapshot { rows: vec![row(1, None, false)], http: Err("connect: refused".into()) };
        assert!(none.line().contains("group offline everywhere"));
        assert!(none.line().ends_with("no answer (connect: refused)"));
    }
}
