//! The production daemon loop in madsim's deterministic simulated world. Built only with
//! `RUSTFLAGS="--cfg madsim"` (the normal build sees an empty file); the command is in
//! docs/testing.md.
//!
//! In: three real daemons (`daemon::run_with`, the loop `baton daemon` runs) on three
//! simulated nodes 10.0.0.1–3, each with `MockDrivers` over one shared `MockWorld` and a
//! control channel; madsim's virtual clock, UDP network (two `lan` heartbeat paths over
//! the one simulated network: madsim gives a node a single address), node kills, clogged
//! nodes and packet loss, every random draw from the run's seed. Out: assertions on what
//! really happened, polled every 20 ms of virtual time: which server holds the floating
//! address and how many activations were refused because another server held it (the
//! split-brain witness, `MockWorld`), where each daemon says the group is online
//! (`ControlRequest::Status`), how each daemon ended (its return value), the events in
//! its event log; and the same story played by the core simulator (`baton_sim`) on the
//! same cluster file must reach the same outcome, with the same events on each server.
//!
//! `MADSIM_TEST_SEED=N` replays the scenario tests with another seed.

#![cfg(madsim)]

use baton_core::config::Config;
use baton_core::io::{GroupState, Output};
use baton_core::record::LogRecord;
use baton_runtime::daemon::control::{ControlRequest, StatusReply};
use baton_runtime::daemon::drivers::Drivers;
use baton_runtime::daemon::mock_drivers::{MockDrivers, MockWorld, WorldRecord};
use baton_runtime::daemon::power::Machine;
use baton_runtime::daemon::{run_with, DaemonOptions, Ending, FenceMode};
use baton_runtime::transport::load_secret;
use baton_sim::player;
use madsim::net::NetSim;
use madsim::runtime::{Handle, Runtime};
use madsim::task::{JoinHandle, NodeId};
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};

#[path = "madsim/crash_points.rs"]
mod crash_points;

const SERVERS: [&str; 3] = ["server1", "server2", "server3"];
const GROUP: &str = "g1";
const ADDRESS: &str = "10.0.0.50/24";
/// How often the test looks at the world (virtual time).
const POLL: Duration = Duration::from_millis(20);
/// The cluster file's `heartbeat_timeout`.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(500);
/// Detection to takeover in the core simulator: resolver verdict (one 100 ms check) and
/// the takeover margin (100 ms), then two 20 ms activations; plus slack for madsim's
/// 1–10 ms packet latency and the heartbeat phase.
const TAKEOVER_BOUND: Duration = Duration::from_millis(1000);
/// When a run is stopped whatever it is doing (virtual time).
const TIME_LIMIT: Duration = Duration::from_secs(20 * 60);
/// How long an answer from a daemon may take before it counts as gone (virtual time).
const ANSWER_LIMIT: Duration = Duration::from_millis(500);

/// How a server that loses its peers decides whether it is the isolated one.
#[derive(Clone, Copy, Debug)]
enum Np {
    /// Ping a router (the `MockWorld` answers per server: `set_reachable`).
    Ping,
    /// Hear a majority of the servers.
    Majority,
}

/// The cluster file: heartbeats every 100 ms, a peer silent for 500 ms is lost; `g1` =
/// floating IP + exec on server1, then server2, then server3.
fn config(np: Np) -> String {
    config_timing(np, HEARTBEAT_TIMEOUT)
}

/// [`config`] with another `heartbeat_timeout`.
fn config_timing(np: Np, heartbeat_timeout: Duration) -> String {
    let timeout_ms = heartbeat_timeout.as_millis();
    let resolver = match np {
        // interval + timeout must stay under heartbeat_timeout.
        Np::Ping => {
            "kind = \"ping\"\ntargets = [\"10.0.0.254\"]\ninterval = \"100ms\"\ntimeout = \"100ms\"\nretries = 1"
        }
        Np::Majority => "kind = \"majority\"",
    };
    format!(
        r#"
[cluster]
name = "madsim"
heartbeat_interval = "100ms"
heartbeat_timeout = "{timeout_ms}ms"
sync_wait = "1s"
insecure = true

[[server]]
name = "server1"
addresses = {{ lan1 = "10.0.0.1" }}

[[server]]
name = "server2"
addresses = {{ lan1 = "10.0.0.2" }}

[[server]]
name = "server3"
addresses = {{ lan1 = "10.0.0.3" }}

# Two heartbeat paths over the one network: each heartbeat is sent (and lost) on each.
[[heartbeat]]
name = "lan1"
kind = "lan"

[[heartbeat]]
name = "lan1b"
kind = "lan"
network = "lan1"

[[np]]
name = "np1"
{resolver}

[[group]]
name = "{GROUP}"
servers = ["server1", "server2", "server3"]

[[group.resource]]
name = "fip1"
kind = "floating-ip"
address = "{ADDRESS}"

[[group.resource]]
name = "exec1"
kind = "exec"
start = "start.sh"
stop = "stop.sh"
"#
    )
}

/// The seed of a scenario test: its own, or `MADSIM_TEST_SEED`.
fn seed(default: u64) -> u64 {
    std::env::var("MADSIM_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Runs `scenario` in a fresh simulated world on its own thread (fresh thread locals,
/// as madsim's own test runner does), with the seed in any panic message.
fn simulate<T, Fut>(seed: u64, scenario: impl FnOnce() -> Fut + Send + 'static) -> T
where
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let run = std::thread::spawn(move || {
        let mut rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
        rt.set_time_limit(TIME_LIMIT);
        rt.block_on(scenario())
    });
    match run.join() {
        Ok(out) => out,
        Err(panic) => {
            eprintln!("madsim seed {seed} (MADSIM_TEST_SEED={seed} replays it)");
            std::panic::resume_unwind(panic)
        }
    }
}

/// What the test sees at one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    /// Servers holding the floating address (`MockWorld`).
    holders: Vec<String>,
    /// Servers whose daemon says the group is online there (`Status`).
    online: Vec<String>,
    /// Servers whose daemon still answers.
    answering: Vec<String>,
}

/// Three daemons on three simulated nodes.
struct Cluster {
    world: Arc<MockWorld>,
    cfg: Arc<Config>,
    nodes: Vec<NodeId>,
    controls: Vec<mpsc::Sender<ControlRequest>>,
    daemons: Vec<Option<JoinHandle<Result<Ending, String>>>>,
    state_dirs: Vec<PathBuf>,
    /// When the daemons were started (virtual).
    start: Instant,
    /// Every change of what the test saw: (ms since start, what).
    trace: Vec<(u64, Seen)>,
    /// Deleted (with the state directories) when the cluster is dropped.
    root: tempfile::TempDir,
}

impl Cluster {
    /// Starts the three daemons at once, each with its own state directory.
    fn start(text: &str) -> Cluster {
        Cluster::start_fenced(text, |_| FenceMode::Exit)
    }

    /// [`Cluster::start`] with each server's fence mode (madsim's `power::carry_out`
    /// does nothing: under `--fence=power` an OS shutdown never powers the node off).
    fn start_fenced(text: &str, fence_of: fn(&str) -> FenceMode) -> Cluster {
        let cfg = Arc::new(baton_core::config::parse("cluster.toml", text).expect("a valid cluster file").config);
        // The event logs fsync every few (virtual) milliseconds: on tmpfs that costs nothing.
        let shm = Path::new("/dev/shm");
        let root = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
        let key = load_secret(None, true).unwrap().key;
        let world = MockWorld::new();
        let handle = Handle::current();
        let mut cluster = Cluster {
            world: Arc::clone(&world),
            cfg,
            nodes: Vec::new(),
            controls: Vec::new(),
            daemons: Vec::new(),
            state_dirs: Vec::new(),
            start: Instant::now(),
            trace: Vec::new(),
            root,
        };
        for (i, server) in SERVERS.into_iter().enumerate() {
            let ip: IpAddr = format!("10.0.0.{}", i + 1).parse().unwrap();
            let node = handle.create_node().name(server).ip(ip).build();
            let state_dir = cluster.root.path().join(server);
            let options = DaemonOptions {
                config_name: "cluster.toml".to_string(),
                config_text: text.to_string(),
                config_dir: cluster.root.path().to_path_buf(),
                server: server.to_string(),
                state_dir: state_dir.clone(),
                key: key.clone(),
                fence: fence_of(server),
                log_segment_bytes: baton_runtime::daemon::DEFAULT_LOG_SEGMENT_BYTES,
                observer: None,
            };
            let (control, requests) = mpsc::channel(8);
            let world = Arc::clone(&world);
            let daemon = node.spawn(async move {
                let drivers = Box::new(move |cfg: &Arc<Config>, me, _: &Path, _| {
                    Ok(Arc::new(MockDrivers::new(world, Arc::clone(cfg), me)) as Arc<dyn Drivers>)
                });
                run_with(options, drivers, Some(requests)).await
            });
            cluster.nodes.push(node.id());
            cluster.controls.push(control);
            cluster.daemons.push(Some(daemon));
            cluster.state_dirs.push(state_dir);
        }
        cluster
    }

    fn index(server: &str) -> usize {
        SERVERS.iter().position(|s| *s == server).expect("a test server")
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap()
    }

    /// The daemon's `status` answer, `None` if it no longer answers.
    async fn status(&self, i: usize) -> Option<StatusReply> {
        let (answer, reply) = oneshot::channel();
        let ask = async {
            self.controls[i].send(ControlRequest::Status { answer }).await.ok()?;
            reply.await.ok()
        };
        tokio::time::timeout(ANSWER_LIMIT, ask).await.ok().flatten()
    }

    async fn look(&self) -> Seen {
        let mut online = Vec::new();
        let mut answering = Vec::new();
        for (i, server) in SERVERS.iter().enumerate() {
            let Some(reply) = self.status(i).await else { continue };
            answering.push(server.to_string());
            if reply.status.groups.iter().any(|(g, st)| g == GROUP && *st == GroupState::Online) {
                online.push(server.to_string());
            }
        }
        Seen { holders: self.world.holders(ADDRESS), online, answering }
    }

    /// One poll: records a change and checks what must hold at every instant.
    async fn poll(&mut self) -> Seen {
        let seen = self.look().await;
        let at = self.elapsed_ms();
        assert!(seen.holders.len() <= 1, "t={at}ms: two servers hold {ADDRESS}: {seen:?}\n{:?}", self.trace);
        assert!(seen.online.len() <= 1, "t={at}ms: {GROUP} online twice: {seen:?}\n{:?}", self.trace);
        assert_eq!(self.world.conflicts(), 0, "t={at}ms: an activation found {ADDRESS} held elsewhere");
        if self.trace.last().map(|(_, s)| s) != Some(&seen) {
            self.trace.push((at, seen.clone()));
        }
        seen
    }

    /// Polls until `want` holds; panics after `limit`. Returns how long it took.
    async fn until(&mut self, limit: Duration, what: &str, want: impl Fn(&Seen) -> bool) -> Duration {
        let from = Instant::now();
        loop {
            let seen = self.poll().await;
            if want(&seen) {
                return from.elapsed();
            }
            assert!(from.elapsed() < limit, "not within {limit:?}: {what}; last seen {seen:?}\ntrace {:?}", self.trace);
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls for `span`; `want` must hold at every poll.
    async fn hold(&mut self, span: Duration, what: &str, want: impl Fn(&Seen) -> bool) {
        let from = Instant::now();
        while from.elapsed() < span {
            let seen = self.poll().await;
            assert!(want(&seen), "t={}ms: {what} no longer holds: {seen:?}\ntrace {:?}", self.elapsed_ms(), self.trace);
            tokio::time::sleep(POLL).await;
        }
    }

    /// Power loss: every task of the node stops at once, and the machine no longer
    /// answers for its addresses (the core simulator's `crash`). The `MockWorld` only
    /// learns that through the server's drivers: release them as the power loss did.
    async fn crash(&mut self, server: &str) {
        let i = Cluster::index(server);
        Handle::current().kill(self.nodes[i]);
        self.daemons[i] = None;
        let me = self.cfg.server_id(server).expect("a server of the file");
        MockDrivers::new(Arc::clone(&self.world), Arc::clone(&self.cfg), me).release_all().await;
    }

    /// The node's traffic stops in both directions.
    fn clog(&self, server: &str) {
        NetSim::current().clog_node(self.nodes[Cluster::index(server)]);
    }

    /// How the daemon's run ended; panics if it is still running after `limit`.
    async fn ending(&mut self, server: &str, limit: Duration) -> Result<Ending, String> {
        let daemon = self.daemons[Cluster::index(server)].take().expect("a daemon not killed");
        match tokio::time::timeout(limit, daemon).await {
            Ok(joined) => joined.expect("the daemon task ran to its end"),
            Err(_) => panic!("{server}'s daemon still runs after {limit:?}"),
        }
    }

    /// The notable events in the server's event log from `since_ms` (epoch ms) on.
    fn events(&self, server: &str, since_ms: u64) -> Vec<String> {
        notable(&self.cfg, &read_log(&self.state_dirs[Cluster::index(server)].join("log")), since_ms)
    }

    /// Over every daemon that answers: packets sent, packets accepted, message copies
    /// sent again, messages given up (the transport's counters).
    async fn transport_totals(&self) -> [u64; 4] {
        let mut totals = [0; 4];
        for i in 0..SERVERS.len() {
            if let Some(reply) = self.status(i).await {
                let t = reply.transport;
                for (sum, n) in totals.iter_mut().zip([t.sent, t.accepted, t.retransmitted, t.abandoned]) {
                    *sum += n;
                }
            }
        }
        totals
    }

    /// When (epoch ms) `server` first emitted `kind` from `since_ms` on, by its event log.
    fn first(&self, server: &str, kind: &str, since_ms: u64) -> u64 {
        read_log(&self.state_dirs[Cluster::index(server)].join("log"))
            .iter()
            .find_map(|r| match r {
                LogRecord::Output { at_ms, output: Output::Emit(e) } if *at_ms >= since_ms && e.kind.name() == kind => {
                    Some(*at_ms)
                }
                LogRecord::Output { .. } | LogRecord::Input { .. } | LogRecord::RunStart { .. } => None,
            })
            .unwrap_or_else(|| panic!("no {kind} in {server}'s event log"))
    }

    /// Every record of every server's event log, as text (what the determinism check compares).
    fn logs(&self) -> Vec<Vec<String>> {
        self.state_dirs.iter().map(|d| read_log(&d.join("log")).iter().map(|r| format!("{r:?}")).collect()).collect()
    }
}

/// The simulated wall clock in epoch milliseconds (the node's time base).
fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// What is on disk of a daemon's event log (a killed daemon loses its unflushed tail).
fn read_log(dir: &Path) -> Vec<LogRecord> {
    let Ok(reader) = baton_log::Reader::open(dir) else { return Vec::new() };
    reader.map(|r| r.expect("a readable record").decode::<LogRecord>().expect("a decodable record")).collect()
}

/// The kinds of event both worlds must agree on, with the peer or group they concern.
fn notable_text(cfg: &Config, e: &baton_core::Event) -> Option<String> {
    const KINDS: [&str; 9] = [
        "server-lost",
        "np-resolved-peer-down",
        "np-lost-self-isolated",
        "np-lost-minority",
        "emergency-shutdown",
        "group-failover",
        "group-online",
        "group-offline",
        "server-failed-over",
    ];
    let kind = e.kind.name();
    if !KINDS.contains(&kind) {
        return None;
    }
    let about = match (e.peer, e.group) {
        (Some(p), _) => format!(" peer={}", cfg.server(p).name),
        (None, Some(g)) => format!(" group={}", cfg.group(g).name),
        (None, None) => String::new(),
    };
    Some(format!("{kind}{about}"))
}

/// Which of two peers went silent first is a matter of packet timing, not an outcome:
/// each run of consecutive events of one kind is put in name order.
fn canonical(mut events: Vec<String>) -> Vec<String> {
    let kind = |e: &String| e.split(' ').next().unwrap_or_default().to_string();
    let mut start = 0;
    while start < events.len() {
        let k = kind(&events[start]);
        let end = events[start..].iter().position(|e| kind(e) != k).map_or(events.len(), |n| start + n);
        events[start..end].sort();
        start = end;
    }
    events
}

fn notable(cfg: &Config, records: &[LogRecord], since_ms: u64) -> Vec<String> {
    canonical(
        records
            .iter()
            .filter_map(|r| match r {
                LogRecord::Output { at_ms, output: Output::Emit(e) } if *at_ms >= since_ms => notable_text(cfg, e),
                LogRecord::Output { .. } | LogRecord::Input { .. } | LogRecord::RunStart { .. } => None,
            })
            .collect(),
    )
}

/// The same cluster file and story in the core simulator: boot at 0 (no boot delay), mock
/// actions' 20 ms, madsim's mean latency. `steps` are scenario lines (`at …`).
fn core_sim(cluster_file: &str, steps: &str) -> player::Report {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.toml"), cluster_file).unwrap();
    let scenario = dir.path().join("madsim.scenario");
    let text = format!(
        "config cluster.toml\nset boot-time 0s\nset activation-time 20ms\nset network-latency 5ms\nat 0s boot all\n{steps}"
    );
    std::fs::write(&scenario, text).unwrap();
    let (sc, cfg) = player::load(&scenario).unwrap_or_else(|e| panic!("the core scenario is valid: {e:?}"));
    let report = player::play(&sc, cfg, 0);
    let failed: Vec<_> = report.outcomes.iter().filter(|o| !o.ok).collect();
    assert!(report.passed(), "core simulator: {failed:?} {:?}", report.breaches);
    report
}

/// The core simulator's notable events of `server` from `since_ms` (run time) on.
fn core_events(report: &player::Report, server: &str, since_ms: u64) -> Vec<String> {
    let cfg = &report.cfg;
    canonical(
        report
            .timeline
            .iter()
            .filter(|e| e.at_ms >= since_ms && cfg.server(e.server).name == server)
            .filter_map(|e| notable_text(cfg, &e.event))
            .collect(),
    )
}

/// When (run time) `server` first emitted `kind` from `since_ms` on, in the core simulator.
fn core_first(report: &player::Report, server: &str, kind: &str, since_ms: u64) -> u64 {
    let cfg = &report.cfg;
    report
        .timeline
        .iter()
        .find(|e| e.at_ms >= since_ms && cfg.server(e.server).name == server && e.event.kind.name() == kind)
        .map(|e| e.at_ms)
        .unwrap_or_else(|| panic!("core simulator: no {kind} on {server}"))
}

fn only(server: &str) -> Vec<String> {
    vec![server.to_string()]
}

/// The group is up on `server` alone, by the world and by the daemons.
fn settled_on(server: &'static str) -> impl Fn(&Seen) -> bool {
    move |s| s.holders == only(server) && s.online == only(server)
}

/// Boots the cluster; the group must come up on server1 within 3 s and stay there 2 s.
async fn boot_on_server1(text: &str) -> Cluster {
    let mut c = Cluster::start(text);
    let took = c.until(Duration::from_secs(3), "g1 online on server1", settled_on("server1")).await;
    c.hold(Duration::from_secs(2), "g1 stays on server1, all three answer", |s| {
        settled_on("server1")(s) && s.answering.len() == 3
    })
    .await;
    eprintln!("boot: g1 online on server1 {took:?} after the start");
    c
}

#[test]
fn boot_brings_the_group_up_on_its_home_server() {
    let records = simulate(seed(1), || async {
        let c = boot_on_server1(&config(Np::Ping)).await;
        for (i, server) in SERVERS.iter().enumerate() {
            let reply = c.status(i).await.expect("answers");
            assert_eq!(reply.status.peers.len(), 2, "{server}: {:?}", reply.status.peers);
            assert!(reply.status.paths.iter().all(|p| p.alive), "{server}: {:?}", reply.status.paths);
            assert_eq!(reply.locations, vec![(GROUP.to_string(), vec![("server1".to_string(), GroupState::Online)])]);
        }
        assert_eq!(c.events("server1", 0), ["group-online group=g1"]);
        assert!(c.events("server2", 0).is_empty() && c.events("server3", 0).is_empty());
        c.world.records()
    });
    let activated = |what: &str| WorldRecord { server: "server1".into(), resource: what.into(), what: "activate" };
    assert_eq!(records, [activated("fip1"), activated("exec1")], "one activation of each resource, on server1");
    // The core simulator agrees.
    let report = core_sim(&config(Np::Ping), "at 5s expect group g1 online on server1\n");
    assert_eq!(core_events(&report, "server1", 0), ["group-online group=g1"]);
}

/// What a run of the crash story shows; two runs with one seed must show the same.
#[derive(Debug, PartialEq, Eq)]
struct CrashRun {
    trace: Vec<(u64, Seen)>,
    records: Vec<WorldRecord>,
    logs: Vec<Vec<String>>,
    /// Crash to the group online on server2, ms.
    takeover_ms: u64,
    events: Vec<Vec<String>>,
}

async fn crash_story() -> CrashRun {
    let mut c = boot_on_server1(&config(Np::Ping)).await;
    let crash_ms = now_ms();
    c.crash("server1").await;
    // The survivors must not start the group before they judge server1 lost.
    c.hold(HEARTBEAT_TIMEOUT - POLL, "nobody takes over before the heartbeat timeout", |s| {
        s.online.is_empty() && s.answering == ["server2", "server3"]
    })
    .await;
    c.until(TAKEOVER_BOUND, "g1 online on server2", settled_on("server2")).await;
    c.hold(Duration::from_secs(3), "g1 stays on server2", settled_on("server2")).await;
    CrashRun {
        takeover_ms: c.first("server2", "group-online", crash_ms) - crash_ms,
        events: SERVERS.iter().map(|s| c.events(s, crash_ms)).collect(),
        records: c.world.records(),
        logs: c.logs(),
        trace: std::mem::take(&mut c.trace),
    }
}

#[test]
fn crash_of_the_active_server_fails_the_group_over_to_the_next_in_policy() {
    let run = simulate(seed(2), crash_story);
    eprintln!("crash: takeover {} ms after the crash; trace {:?}", run.takeover_ms, run.trace);
    let failover = WorldRecord { server: "server2".into(), resource: "fip1".into(), what: "activate" };
    assert!(run.records.contains(&failover), "{:?}", run.records);
    assert!(run.records.iter().all(|r| r.server != "server3"), "server3 did nothing: {:?}", run.records);
    // The core simulator: same placement, same events on the survivors, similar timing.
    let report = core_sim(&config(Np::Ping), "at 5s crash server1\nat 10s expect group g1 online on server2\n");
    for (i, server) in SERVERS.iter().enumerate().skip(1) {
        assert_eq!(run.events[i], core_events(&report, server, 5000), "{server}'s events after the crash");
    }
    let core_ms = core_first(&report, "server2", "group-online", 5000) - 5000;
    eprintln!("crash: the core simulator takes {core_ms} ms");
    assert!(run.takeover_ms.abs_diff(core_ms) <= 300, "madsim {} ms vs core {core_ms} ms", run.takeover_ms);
}

/// `isolated` loses every link (and, with `Np::Ping`, the router) while the group runs
/// on server1: the isolated server must fence itself (its daemon ends with an unclean
/// power action after dropping its addresses) and the group must end up on `then_on`,
/// never online twice, no activation refused. Also checked against the core simulator.
fn partition_story(np: Np, isolated: &'static str, then_on: &'static str, sim_fault: &str, seed: u64) {
    let (ending, released, events, records) = simulate(seed, move || async move {
        let mut c = boot_on_server1(&config(np)).await;
        let fault_ms = now_ms();
        c.clog(isolated);
        c.world.set_reachable(isolated, false);
        // Polled throughout: the isolated server still answers its control channel, so
        // it must have stopped saying `g1` is online there before anyone else says so.
        let gone = move |s: &Seen| settled_on(then_on)(s) && !s.answering.iter().any(|a| a == isolated);
        c.until(HEARTBEAT_TIMEOUT + TAKEOVER_BOUND, &format!("{isolated} gone, g1 on {then_on}"), gone).await;
        let ending = c.ending(isolated, POLL).await;
        c.hold(Duration::from_secs(3), &format!("g1 stays on {then_on}"), gone).await;
        let events: Vec<Vec<String>> = SERVERS.iter().map(|s| c.events(s, fault_ms)).collect();
        (ending, c.world.released(isolated), events, c.world.records())
    });
    let ending = ending.expect("the isolated daemon ends without error");
    assert!(!ending.power.is_clean(), "fencing is an unclean end: {ending:?}");
    assert_eq!(ending.machine, Machine::Untouched, "--fence=exit leaves the machine alone");
    assert!(released, "{isolated} dropped its addresses before ending");
    let others: Vec<_> = records.iter().filter(|r| r.server != "server1" && r.server != then_on).collect();
    assert!(others.is_empty(), "only server1 and {then_on} ran anything: {records:?}");
    let report = core_sim(
        &config(np),
        &format!(
            "at 5s {sim_fault}\nat 10s expect group g1 online on {then_on}\nat 10s expect server {isolated} down\n"
        ),
    );
    for (i, server) in SERVERS.iter().enumerate() {
        assert_eq!(events[i], core_events(&report, server, 5000), "{server}'s events after the fault");
    }
}

#[test]
fn isolated_active_server_fences_itself_and_the_group_moves() {
    partition_story(Np::Ping, "server1", "server2", "isolate server1", seed(3));
}

#[test]
fn majority_minority_active_server_stops_and_the_majority_takes_the_group() {
    partition_story(Np::Majority, "server1", "server2", "partition server1 | server2 server3", seed(4));
}

#[test]
fn majority_minority_standby_stops_and_the_group_stays() {
    partition_story(Np::Majority, "server2", "server1", "partition server2 | server1 server3", seed(5));
}

/// 20 % of the packets lost for 10 minutes, on both heartbeat paths (madsim's loss rate
/// is one for the whole network: each packet is drawn on its own).
const LOSS_RATE: f64 = 0.2;
const LOSS_SPAN: Duration = Duration::from_secs(10 * 60);
/// Wide enough for that loss: a peer is lost only if about 20 heartbeats in a row (10 on
/// each path) are lost, never in practice. With 500 ms (about 10 in a row) a false loss
/// happens in a few percent of the runs, in both worlds: the judged server is told it is
/// down and fences itself (B16), the group does not move.
const LOSSY_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn packet_loss_causes_no_failover() {
    let text = config_timing(Np::Ping, LOSSY_HEARTBEAT_TIMEOUT);
    let cluster_file = text.clone();
    let (records, events, totals) = simulate(seed(6), move || async move {
        let mut c = boot_on_server1(&cluster_file).await;
        let loss_ms = now_ms();
        NetSim::current().update_config(|net| net.packet_loss_rate = LOSS_RATE);
        c.hold(LOSS_SPAN, "g1 stays on server1, every daemon answers", |s| {
            settled_on("server1")(s) && s.answering.len() == 3
        })
        .await;
        NetSim::current().update_config(|net| net.packet_loss_rate = 0.0);
        c.hold(Duration::from_secs(2), "g1 still on server1 after the loss", settled_on("server1")).await;
        let events: Vec<Vec<String>> = SERVERS.iter().map(|s| c.events(s, loss_ms)).collect();
        let totals = c.transport_totals().await;
        (c.world.records(), events, totals)
    });
    let activated = |what: &str| WorldRecord { server: "server1".into(), resource: what.into(), what: "activate" };
    assert_eq!(records, [activated("fip1"), activated("exec1")], "nothing ran but the first start");
    assert!(events.iter().all(Vec::is_empty), "no server lost, no group event anywhere: {events:?}");
    let [sent, accepted, retransmitted, abandoned] = totals;
    eprintln!(
        "packet loss: packets sent {sent}, accepted {accepted}; messages sent again {retransmitted}, given up {abandoned}"
    );
    assert!(accepted < sent * 9 / 10, "the network did lose packets: {accepted} of {sent} accepted");
    // The core simulator: the same loss on the same paths loses no server either.
    let report = core_sim(
        &text,
        "at 5s loss lan1 20%\nat 10m5s expect group g1 online on server1\nat 10m5s expect no event server-lost\n",
    );
    for server in SERVERS {
        assert_eq!(core_events(&report, server, 5000), Vec::<String>::new(), "core simulator, {server}");
    }
}

#[test]
fn same_seed_same_run_and_another_seed_the_same_outcome() {
    let first = simulate(7, crash_story);
    let second = simulate(7, crash_story);
    // Everything observable: what the test saw and when, the world's record, every
    // record of every event log (inputs with their times, outputs).
    assert_eq!(first.trace, second.trace);
    assert_eq!(first.records, second.records);
    for (server, (a, b)) in SERVERS.iter().zip(first.logs.iter().zip(&second.logs)) {
        let diverged = a.iter().zip(b).position(|(x, y)| x != y);
        assert!(
            a.len() == b.len() && diverged.is_none(),
            "{server}: the logs differ at {diverged:?}: {:?} vs {:?}",
            diverged.map(|i| &a[i]),
            diverged.map(|i| &b[i])
        );
    }
    assert_eq!(first, second);
    // Another seed: other packet timings, the same outcome.
    let other = simulate(8, crash_story);
    assert_ne!(first.logs, other.logs, "the seed drives the packet timings");
    assert_eq!(first.trace.last().map(|(_, s)| s), other.trace.last().map(|(_, s)| s));
    assert_eq!(first.records, other.records);
    assert_eq!(first.events, other.events);
    // madsim's own check: the second run makes the same random draws in the same order.
    Runtime::check_determinism(7, madsim::Config::default(), || async {
        crash_story().await;
    });
}

/// Every event kind a daemon logged from `since_ms` (epoch ms) on.
fn emitted(state_dir: &Path, since_ms: u64) -> Vec<String> {
    read_log(&state_dir.join("log"))
        .into_iter()
        .filter_map(|r| match r {
            LogRecord::Output { at_ms, output: Output::Emit(e) } if at_ms >= since_ms => {
                Some(e.kind.name().to_string())
            }
            LogRecord::Output { .. } | LogRecord::Input { .. } | LogRecord::RunStart { .. } => None,
        })
        .collect()
}

/// B130 6 in the daemon: server1 runs with `--fence=power`, where madsim's power-off
/// does nothing, so the OS shutdown that follows `server shutdown` hangs. The daemon
/// stays, and at the node's stall limit (`heartbeat_timeout` after the service
/// stopped) logs `shutdown-stall-reset` and ends with the reset (an immediate restart).
#[test]
fn a_shutdown_that_hangs_is_reset_at_the_stall_limit() {
    let (ending, took, events) = simulate(seed(11), || async {
        let mut c =
            Cluster::start_fenced(
                &config(Np::Ping),
                |s| if s == "server1" { FenceMode::Power } else { FenceMode::Exit },
            );
        c.until(Duration::from_secs(3), "g1 online on server1", settled_on("server1")).await;
        let fault_ms = now_ms();
        let (answer, _reply) = oneshot::channel();
        let cmd = baton_core::Command::ServerShutdown { server: baton_core::config::ServerId(0), reboot: false };
        c.controls[0].send(ControlRequest::Command { cmd, answer }).await.unwrap();
        let started = Instant::now();
        c.until(TAKEOVER_BOUND, "g1 on server2", settled_on("server2")).await;
        let ending = c.ending("server1", HEARTBEAT_TIMEOUT * 4).await;
        (ending, started.elapsed(), emitted(&c.state_dirs[0], fault_ms))
    });
    let ending = ending.expect("the daemon ends without error");
    assert_eq!(ending.power, baton_core::io::PowerAction::EmergencyReboot, "{ending:?}");
    assert_eq!(ending.machine, Machine::Immediate(baton_runtime::daemon::power::Immediate::Restart));
    assert!(took >= HEARTBEAT_TIMEOUT, "not before the limit: {took:?}");
    assert!(events.iter().any(|e| e.contains("shutdown-stall-reset")), "{events:?}");
}

/// B130 7 in the daemon: the control server of server1 ends (its channel closes, as
/// when its task dies). The daemon tells the node `ProcessDied`: `process-died`, the
/// group stops and moves to server2 at once (a departure, no heartbeat timeout), and
/// the daemon ends with a failure shutdown.
#[test]
fn a_dead_supervised_part_stops_the_groups_and_shuts_down() {
    let (ending, events) = simulate(seed(12), || async {
        let mut c = boot_on_server1(&config(Np::Ping)).await;
        let fault_ms = now_ms();
        let (dead, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut c.controls[0], dead));
        let ending = c.ending("server1", TAKEOVER_BOUND).await;
        c.until(TAKEOVER_BOUND, "g1 on server2", settled_on("server2")).await;
        (ending, emitted(&c.state_dirs[0], fault_ms))
    });
    let ending = ending.expect("the daemon ends without error");
    assert_eq!(ending.power, baton_core::io::PowerAction::FailureShutdown, "{ending:?}");
    assert!(events.iter().any(|e| e.contains("process-died")), "{events:?}");
}
