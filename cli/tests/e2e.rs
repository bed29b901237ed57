//! End to end: three real `baton daemon` processes, one in each server namespace of a
//! `baton-lab` network (switch, three servers, a client on `lan1` and `public`), driven
//! with the real command line (`baton status --json`, `baton group move`), watched from
//! the client as a user would: ICMP to the floating IP, the neighbour entry that says
//! which machine answers, and the group's web service (`baton demo-http`, launched by
//! the `exec` resource) whose answer names its server.
//!
//! Each test builds its own lab (namespaces named after this process, so test binaries
//! running at the same time never collide), and the lab and its daemons are torn down
//! when the test ends, also when it fails. The tests of this file run one at a time
//! ([`SERIAL`]): heartbeats are lost after 500 ms, and several clusters at once on a
//! small machine would test the scheduler, not baton. Every wait has a deadline; a
//! failure prints every daemon's log.
//!
//! Needs root and `ip` (iproute2): otherwise each test prints `skipped: needs root` and
//! passes.

use baton_core::config::{PathId, ServerId};
use baton_core::io::{Heartbeat, ServerState};
use baton_lab::daemon::{group_locations, server_states, status, transport_counter, Daemon};
use baton_lab::{http_get, in_namespace, wait_for, ClusterSpec, Lab, LabSpec, Service};
use baton_runtime::transport::packet::{cluster_id, encode, Header};
use baton_runtime::transport::{Key, Payload};
use serde_json::Value;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cluster at a time (see the module doc).
static SERIAL: Mutex<()> = Mutex::new(());

const GROUP: &str = "failover1";
const HTTP_PORT: u16 = 80;
/// The cluster's first start: sync, formation, floating IP and web service.
const START_WITHIN: Duration = Duration::from_secs(20);
/// A failover or a move, from the fault or the command to the client's answer.
const MOVE_WITHIN: Duration = Duration::from_secs(15);

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// Why these tests cannot run here (printed as `skipped: …`), if they cannot.
fn skip() -> bool {
    if !baton_lab::is_root() {
        println!("skipped: needs root");
        return true;
    }
    if let Some(why) = baton_lab::missing_prerequisite() {
        println!("skipped: {why}");
        return true;
    }
    false
}

/// A lab with a daemon per server. Field order matters: the daemons are killed before
/// the lab deletes their namespaces.
struct Cluster {
    daemons: Vec<Daemon>,
    lab: Lab,
    spec: ClusterSpec,
}

impl Cluster {
    /// Builds the lab, writes the cluster file (the web service as the group's `exec`
    /// resource, a secret file) and starts the three daemons.
    fn start(spec: ClusterSpec) -> Cluster {
        let lab = Lab::new(LabSpec::default()).expect("lab");
        let spec = ClusterSpec { service: Service::Http { baton: baton(), port: HTTP_PORT }, ..spec };
        let config = lab.write_config(&spec).expect("cluster file");
        let daemons = (1..=lab.servers()).map(|s| lab.start_daemon(&baton(), &config, s).expect("daemon")).collect();
        Cluster { daemons, lab, spec }
    }

    /// Every daemon's log, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for d in &self.daemons {
            out.push_str(&format!("--- server{} ({}) ---\n{}", d.server(), d.log_path().display(), d.log_text()));
        }
        out.push_str(&format!("--- script runs ---\n{}\n", self.lab.script_runs().join("\n")));
        out
    }

    /// Waits until `ok` holds; panics with `what` and every log otherwise.
    fn wait(&self, what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
        if wait_for(within, || ok().then_some(())).is_none() {
            panic!("not within {within:?}: {what}\n{}", self.logs());
        }
    }

    /// Server `server`'s view through `baton status --json`.
    fn status(&self, server: usize) -> Result<Value, String> {
        status(&baton(), &self.lab.state_dir(server))
    }

    /// What the client gets from the web service behind the floating IP.
    fn client_get(&self) -> Result<String, String> {
        http_get(self.lab.client_ns(), self.lab.floating_address(), HTTP_PORT, Duration::from_millis(300))
    }

    /// The server named in the web service's answer, if the client gets one.
    fn serving(&self) -> Option<usize> {
        self.client_get().ok()?.trim().strip_prefix("hello from server")?.parse().ok()
    }

    /// Waits until the client is served by `server`, and only `server` holds the address.
    fn wait_served_by(&self, server: usize, within: Duration) {
        let fip = self.lab.floating_address();
        self.wait(&format!("the client is served by server{server} (and only it holds {fip})"), within, || {
            self.serving() == Some(server) && self.lab.holders(fip) == vec![server]
        });
    }

    /// Waits until each of `viewers` reports the group online on `server` only.
    fn wait_views(&self, viewers: &[usize], server: usize, within: Duration) {
        let want = vec![(format!("server{server}"), "online".to_string())];
        for &v in viewers {
            self.wait(&format!("server{v}'s status shows {GROUP} online on server{server} only"), within, || {
                self.status(v).is_ok_and(|s| group_locations(&s, GROUP) == want)
            });
        }
    }

    /// The client reaches the floating IP by ICMP, through `server`'s MAC address.
    fn assert_icmp_answered_by(&self, server: usize) {
        let fip = self.lab.floating_address();
        let mac = self.lab.mac(self.lab.server_ns(server), "public").expect("mac");
        self.wait(
            &format!("{fip} answers ping from the client through server{server}'s MAC {mac}"),
            MOVE_WITHIN,
            || {
                self.lab.ping(self.lab.client_ns(), fip)
                    && self.lab.neighbour_mac(self.lab.client_ns(), fip).as_deref() == Some(mac.as_str())
            },
        );
    }
}

#[test]
fn the_floating_ip_answers_the_client_from_server1() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start(ClusterSpec::default());
    c.wait_served_by(1, START_WITHIN);
    c.assert_icmp_answered_by(1);
    c.wait_views(&[1, 2, 3], 1, MOVE_WITHIN);
    for s in 1..=3 {
        let st = c.status(s).expect("status");
        let states = server_states(&st);
        assert_eq!(states.len(), 3, "{st}");
        assert!(states.iter().all(|(_, state)| state == "online"), "server{s} sees {states:?}");
    }
    assert_eq!(c.lab.script_runs(), vec!["server1 start START"], "{}", c.logs());
    a_daemons_log_reads_in_wall_clock_time(&c);
}

/// Issue 14, items 11, 12 and 16 on a real daemon: its event log prints RFC 3339 times
/// of today and records in words (the run start stamped with its time, not 1970), and
/// its own lines carry an RFC 3339 time instead of `t=…ms`.
fn a_daemons_log_reads_in_wall_clock_time(c: &Cluster) {
    let log = c.lab.state_dir(1).join("log");
    let out = std::process::Command::new(baton()).args(["log", "show", "--utc"]).arg(&log).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis();
    let today = baton_runtime::daemon::eventlog::rfc3339_utc(u64::try_from(now_ms).expect("ms"));
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains(&today[..8]) && first.contains("run  start of server1"), "{first}\n{}", c.logs());
    assert!(text.contains("in   heartbeat from server2 on "), "records in words:\n{text}");
    let daemon_lines = c.daemons[0].log_text();
    assert!(daemon_lines.contains(&format!("baton[server1] {}", &today[..8])), "{daemon_lines}");
    assert!(!daemon_lines.contains(" t=1"), "{daemon_lines}");
}

#[test]
fn a_crashed_server_s_group_answers_from_server2() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start(ClusterSpec::default());
    c.wait_served_by(1, START_WITHIN);
    c.assert_icmp_answered_by(1);

    // Power loss: cables pulled, the daemon (and the web service) killed with SIGKILL.
    let crashed_at = Instant::now();
    c.lab.crash(1).expect("crash");
    let status = c.daemons[0].wait_exit(Duration::from_secs(5)).expect("server1's daemon is gone");
    assert_eq!(status.code(), None, "killed by a signal, not an exit: {status}");

    c.wait_served_by(2, MOVE_WITHIN);
    println!("outage seen by the client: {:.2} s", crashed_at.elapsed().as_secs_f64());
    c.assert_icmp_answered_by(2);
    c.wait_views(&[2, 3], 2, MOVE_WITHIN);
    for s in [2, 3] {
        let st = c.status(s).expect("status");
        let server1 = server_states(&st).into_iter().find(|(n, _)| n == "server1").map(|(_, state)| state);
        assert!(server1.as_deref().is_some_and(|x| x != "online"), "server{s} still sees server1 {server1:?}");
    }
    let runs = c.lab.script_runs();
    assert_eq!(runs, vec!["server1 start START", "server2 start FAILOVER"], "{}", c.logs());
}

#[test]
fn group_move_with_the_cli_takes_the_address_to_server3() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start(ClusterSpec::default());
    c.wait_served_by(1, START_WITHIN);
    c.wait_views(&[2], 1, MOVE_WITHIN);

    // Asked on server2, which neither holds the group nor receives it: the command is routed.
    let out = Command::new(baton())
        .args(["group", "move", GROUP, "--to", "server3", "--state-dir"])
        .arg(c.lab.state_dir(2))
        .stdin(Stdio::null())
        .output()
        .expect("baton group move");
    assert!(
        out.status.success(),
        "baton group move: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        c.logs()
    );

    c.wait_served_by(3, MOVE_WITHIN);
    c.assert_icmp_answered_by(3);
    c.wait_views(&[1, 2, 3], 3, MOVE_WITHIN);
    let runs = c.lab.script_runs();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(runs[0], "server1 start START");
    assert!(runs[1].starts_with("server1 stop "), "{runs:?}");
    assert!(runs[2].starts_with("server3 start "), "{runs:?}");
}

#[test]
fn an_isolated_server_fences_itself_under_ping_resolution() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start(ClusterSpec { ping_np: true, ..ClusterSpec::default() });
    c.wait_served_by(1, START_WITHIN);
    c.wait_views(&[1, 2, 3], 1, MOVE_WITHIN);
    // Every server's resolver has seen the router answer before the cut.
    assert!(c.lab.ping(c.lab.server_ns(1), c.lab.router_address()));

    c.lab.isolate(1).expect("isolate");
    // server1 cannot reach the router: it loses the resolution and fences itself; with
    // `--fence exit` that is an exit after an unclean power action, its addresses dropped.
    let Some(status) = c.daemons[0].wait_exit(MOVE_WITHIN) else {
        panic!("server1's daemon did not fence itself within {MOVE_WITHIN:?}\n{}", c.logs());
    };
    assert_eq!(status.code(), Some(1), "an unclean power action: {status}\n{}", c.logs());
    let log = c.daemons[0].log_text();
    assert!(log.contains("event=np-lost-self-isolated"), "{}", c.logs());
    let fip = c.lab.floating_address();
    c.wait(&format!("server1 dropped {fip}"), Duration::from_secs(5), || !c.lab.holders(fip).contains(&1));

    // The others could reach the router: they judged server1 down and took the group.
    c.wait_served_by(2, MOVE_WITHIN);
    c.wait_views(&[2, 3], 2, MOVE_WITHIN);
    for d in &mut c.daemons[1..] {
        assert!(d.exit_status().is_none(), "server{} kept running\n{}", d.server(), d.log_text());
    }
}

/// A small deterministic generator for the forged bytes (xorshift64).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

#[test]
fn forged_packets_are_dropped_and_counted_while_the_cluster_stays_healthy() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start(ClusterSpec::default());
    c.wait_served_by(1, START_WITHIN);
    c.wait_views(&[1, 2, 3], 1, MOVE_WITHIN);
    let before = c.status(1).expect("status");
    let counter = |v: &Value, name: &str| transport_counter(v, name);

    // From the client's lan1 address to server1's heartbeat port on lan1.
    let target = SocketAddr::from((c.lab.address(1, "lan1"), c.spec.port));
    let from = SocketAddr::from((c.lab.client_address("lan1"), 0));
    let socket = in_namespace(c.lab.client_ns(), || UdpSocket::bind(from)).expect("client ns").expect("bind");
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    const RANDOM: u64 = 50;
    const WRONG_KEY: u64 = 50;
    const SPOOFED: u64 = 20;
    for _ in 0..RANDOM {
        let len = 1 + usize::try_from(noise.next() % 300).expect("small");
        let mut bytes = noise.bytes(len);
        bytes[0] = 0; // never the magic's first byte: every one is malformed
        socket.send_to(&bytes, target).expect("send");
    }
    // Well-formed heartbeats claiming to be server2, tagged with a key that is not the cluster's.
    let header = |seq: u64, boot_id: u64| Header {
        cluster_id: cluster_id(&c.spec.name),
        from: ServerId(1),
        path: PathId(0),
        boot_id,
        seq,
    };
    let hb = Payload::Heartbeat(Heartbeat { run: 7, state: ServerState::Online, version: 1, sent_ms: 0 });
    let wrong = Key::from_secret(b"not the cluster secret");
    let boot = noise.next();
    for seq in 0..WRONG_KEY {
        socket.send_to(&encode(&wrong, &header(seq, boot), &hb).expect("encode"), target).expect("send");
    }
    // The right key (read from the lab's secret file), but from the client's address:
    // authentic-looking, yet not from where server2 lives.
    let right = Key::from_secret(&c.lab.secret().expect("secret file"));
    for seq in 0..SPOOFED {
        socket.send_to(&encode(&right, &header(seq, boot), &hb).expect("encode"), target).expect("send");
    }

    c.wait("server1 counts every forged packet", MOVE_WITHIN, || {
        c.status(1).is_ok_and(|now| {
            counter(&now, "malformed") >= counter(&before, "malformed") + RANDOM
                && counter(&now, "bad_tag") >= counter(&before, "bad_tag") + WRONG_KEY
                && counter(&now, "spoofed_source") >= counter(&before, "spoofed_source") + SPOOFED
        })
    });
    let after = c.status(1).expect("status");
    for (name, sent) in [("malformed", RANDOM), ("bad_tag", WRONG_KEY), ("spoofed_source", SPOOFED)] {
        assert_eq!(counter(&after, name) - counter(&before, name), sent, "{name}: {after}");
    }
    // Heartbeats from the real peers are still accepted after the flood.
    let accepted = counter(&after, "accepted");
    c.wait("server1 accepts heartbeats after the flood", MOVE_WITHIN, || {
        c.status(1).is_ok_and(|now| counter(&now, "accepted") > accepted)
    });
    // The table says it too.
    let table = Command::new(baton()).args(["status", "--state-dir"]).arg(c.lab.state_dir(1)).output().expect("status");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("bad tag") && table.contains("malformed"), "{table}");

    // Healthy: still three members, the group where it was, no script ran again.
    for s in 1..=3 {
        let st = c.status(s).expect("status");
        assert!(server_states(&st).iter().all(|(_, state)| state == "online"), "server{s}: {st}");
        assert_eq!(group_locations(&st, GROUP), vec![("server1".to_string(), "online".to_string())]);
    }
    assert_eq!(c.serving(), Some(1));
    assert_eq!(c.lab.script_runs(), vec!["server1 start START"], "{}", c.logs());
    for d in &mut c.daemons {
        assert!(d.exit_status().is_none(), "server{} is still running", d.server());
    }
}

/// The lab namespaces and directories of process `pid`.
fn leftovers_of(pid: u32) -> Vec<String> {
    let prefix = format!("bt{pid}");
    let mut left: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with(|ch: char| ch.is_ascii_lowercase())))
        .collect();
    let dir_prefix = format!("baton-lab-{prefix}");
    left.extend(
        std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                n.strip_prefix(&dir_prefix).is_some_and(|rest| rest.starts_with(|ch: char| ch.is_ascii_lowercase()))
            }),
    );
    left
}

#[test]
fn demo_auto_fails_over_and_leaves_nothing_behind() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let child = Command::new(baton())
        .args(["demo", "--auto"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton demo --auto");
    let pid = child.id();
    // The demo bounds its own waits (40 s to start, 30 s to fail over); this is a backstop.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    let out = match done_rx.recv_timeout(Duration::from_secs(90)) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            // Still running after 90 s: stop it the way a user would (it cleans up on SIGTERM).
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            panic!("baton demo --auto still running after 90 s");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("the client gets \"hello from server1\""), "{stdout}");
    assert!(stdout.contains("failover timeline"), "{stdout}");
    assert!(stdout.contains("outage seen by the client"), "{stdout}");
    assert!(stdout.contains("server-lost peer=server1"), "{stdout}");
    assert_eq!(leftovers_of(pid), Vec::<String>::new(), "left behind by the demo");
}

#[test]
fn demo_refuses_without_root() {
    if skip() {
        return;
    }
    // Drop to nobody for the one command; the binary must be reachable by it.
    let Some(setpriv) = baton_lab::find_program("setpriv") else {
        println!("skipped: `setpriv` not found (util-linux)");
        return;
    };
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(baton())
        .arg("demo")
        .stdin(Stdio::null())
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Permission denied") {
        println!("skipped: nobody cannot run {}", baton().display());
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("run it as root: sudo baton demo"), "{stderr}");
}
