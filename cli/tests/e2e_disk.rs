//! End to end on a shared disk: two real `baton daemon` processes, one in each server
//! namespace of a two-server `baton-lab` network, sharing one loop device (a backing
//! file in the lab directory) as the disk of a `disk` heartbeat path and of a `disk`
//! network-partition resolver (B10, B39). Every LAN path is cut by pulling every cable
//! of server2 (`Lab::isolate`); the shared disk stays, as a SAN does when the network
//! fails.
//!
//! * With a disk heartbeat the two servers stay together: the LAN paths go down
//!   (B11), the disk path stays up, nobody is lost, nothing fails over.
//! * Without one, both servers lose each other and resolve on the disk: both slots
//!   keep changing, so each sees the other alive; the master (server1) survives and
//!   takes over, server2 fences itself (`np-lost-tie-break`, `--fence exit`), and the
//!   floating IP is never on both servers at once (sampled in the namespaces).
//!
//! * Slots forged in a third, never started server's place (another cluster's record
//!   under the right secret, a record under another secret, a genuine record that never
//!   changes) are refused, counted in `baton status --json` (`disk_slots`) and never
//!   heard as that server.
//! * A serial+disk unit (B40) whose serial line does not exist on either server falls
//!   back to the disk rule on both sides: the master survives. (`e2e_serial.rs` runs
//!   serial+disk over a real pty cable.)
//! * A ping+disk unit (B41) whose ping target went away on every server before the cut
//!   falls back to the disk rule: the master survives.
//! * A device that refuses writes (`blockdev --setro`) takes the disk path down on
//!   both sides like a cut cable (B11), and back up once writable again; the LAN keeps
//!   the servers together meanwhile.
//!
//! One cluster at a time ([`SERIAL`]), as in `e2e.rs`. Needs root, `ip`, `losetup` and
//! `blockdev` (util-linux): otherwise each test prints `skipped: …` and passes.

use baton_core::io::{Heartbeat, ServerState};
use baton_drivers::disk_slot;
use baton_lab::daemon::{group_locations, logs_of, status, wait_or_panic, Daemon};
use baton_lab::{ClusterSpec, Lab, LabSpec, LoopDevice};
use baton_runtime::transport::load_secret;
use baton_runtime::transport::packet::{cluster_id, DISK_SLOT_LABEL};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

const GROUP: &str = "failover1";
const START_WITHIN: Duration = Duration::from_secs(20);
const MOVE_WITHIN: Duration = Duration::from_secs(15);
/// The shared device's size: room for every slot (4 KiB each) and more.
const DEVICE_BYTES: u64 = 1 << 20;

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

fn skip() -> bool {
    if !baton_lab::is_root() {
        println!("skipped: needs root");
        return true;
    }
    if let Some(why) = baton_lab::missing_prerequisite() {
        println!("skipped: {why}");
        return true;
    }
    for tool in ["losetup", "blockdev"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).status().is_err() {
            println!("skipped: needs {tool} (util-linux)");
            return true;
        }
    }
    false
}

/// Field order: daemons killed, then the lab deleted, then the device detached.
struct Cluster {
    daemons: Vec<Daemon>,
    lab: Lab,
    device: LoopDevice,
}

impl Cluster {
    /// Two servers on `lan1` and `public`, the group on server1 first; `extra` names the
    /// device as `DEVICE`.
    fn start(extra: &str) -> Cluster {
        Cluster::start_of(extra, 2, 2)
    }

    /// `servers` in the cluster file, daemons started for the first `running` only.
    fn start_of(extra: &str, servers: usize, running: usize) -> Cluster {
        Cluster::start_with(extra, servers, running, false)
    }

    /// As [`Cluster::start_of`], with the lab's `ping` resolver on its router if `ping_np`.
    fn start_with(extra: &str, servers: usize, running: usize, ping_np: bool) -> Cluster {
        let lab = Lab::new(LabSpec { servers, ..LabSpec::default() }).expect("lab");
        let device = LoopDevice::zeroed(&lab.dir().join("shared-disk.img"), DEVICE_BYTES).expect("loop device");
        let spec = ClusterSpec {
            // One heartbeat timeout of the lab's 500 ms; the disk resolver's io_wait 1 s:
            // the disk-mode verdict comes 2 × max(500 ms, 1 s) = 2 s after the loss (B34).
            extra: extra.replace("DEVICE", device.path()),
            // A server that never starts is waited for this long at formation.
            sync_wait_ms: 2_000,
            ping_np,
            ..ClusterSpec::default()
        };
        let config = lab.write_config(&spec).expect("cluster file");
        let daemons = (1..=running).map(|s| lab.start_daemon(&baton(), &config, s).expect("daemon")).collect();
        Cluster { daemons, lab, device }
    }

    fn logs(&self) -> String {
        logs_of(&self.daemons)
    }

    fn wait(&self, what: &str, within: Duration, ok: impl FnMut() -> bool) {
        wait_or_panic(&self.daemons, what, within, ok);
    }

    fn status(&self, server: usize) -> Option<Value> {
        status(&baton(), &self.lab.state_dir(server)).ok()
    }

    /// Whether `viewer` hears `peer` on heartbeat path `path` (its status's `paths`).
    fn path_alive(&self, viewer: usize, peer: usize, path: &str) -> Option<bool> {
        let s = self.status(viewer)?;
        s["paths"].as_array()?.iter().find_map(|p| {
            (p["peer"] == format!("server{peer}") && p["path"] == path)
                .then(|| p["alive"].as_bool() == Some(true) && p["silent_ms"].is_u64())
        })
    }

    /// `baton group move` to `server`, asked on server1; waits until it is there.
    fn move_to(&self, server: usize) {
        let out = Command::new(baton())
            .args(["group", "move", GROUP, "--to", &format!("server{server}"), "--state-dir"])
            .arg(self.lab.state_dir(1))
            .stdin(Stdio::null())
            .output()
            .expect("baton group move");
        assert!(out.status.success(), "group move: {}\n{}", String::from_utf8_lossy(&out.stderr), self.logs());
        self.wait_group_on(server, MOVE_WITHIN);
    }

    /// Waits until both servers report the group online on `server` only, and only it
    /// holds the floating IP.
    fn wait_group_on(&self, server: usize, within: Duration) {
        let want = vec![(format!("server{server}"), "online".to_string())];
        let fip = self.lab.floating_address();
        self.wait(&format!("{GROUP} online on server{server} only, in both views"), within, || {
            self.lab.holders(fip) == vec![server]
                && (1..=self.daemons.len()).all(|v| self.status(v).is_some_and(|s| group_locations(&s, GROUP) == want))
        });
    }

    /// Once both servers' failures are shared, the LAN cut: both fall back to the disk
    /// rule (`np-fallback-disk`), server2 loses the tie-break and fences itself, server1
    /// judges it down and keeps the address. Pre-failed means failing before the
    /// partition starts, at the last heartbeat heard (B32): each must hear the other (and
    /// its shared watch states) well after both failures before the cut.
    fn cut_after_shared_failures_and_expect_the_disk_fallback(&mut self) {
        let failed_at = Instant::now();
        for (viewer, peer) in [(1, 2), (2, 1)] {
            self.wait(&format!("server{viewer} hears server{peer} 200 ms after both failures"), MOVE_WITHIN, || {
                let Some(s) = self.status(viewer) else { return false };
                let since = ms(failed_at.elapsed());
                s["paths"].as_array().into_iter().flatten().any(|p| {
                    p["peer"] == format!("server{peer}")
                        && p["path"] == "lan1"
                        && p["silent_ms"].as_i64().is_some_and(|silent| since - silent >= 200)
                })
            });
        }
        self.lab.isolate(2).expect("isolate");
        let Some(ending) = self.daemons[1].wait_exit(MOVE_WITHIN) else {
            panic!("server2 did not fence itself\n{}", self.logs());
        };
        assert_eq!(ending.code(), Some(1), "{ending}\n{}", self.logs());
        self.wait("server1 judged server2 down", MOVE_WITHIN, || {
            self.daemons[0].log_text().contains("event=np-resolved-peer-down")
        });
        for d in &self.daemons {
            assert!(d.log_text().contains("event=np-fallback-disk"), "server{}\n{}", d.server(), self.logs());
        }
        assert!(self.daemons[1].log_text().contains("event=np-lost-tie-break"), "{}", self.logs());
        assert!(self.daemons[0].exit_status().is_none(), "server1 kept running\n{}", self.logs());
        assert_eq!(self.lab.holders(self.lab.floating_address()), vec![1], "{}", self.logs());
    }
}

const DISK_HEARTBEAT: &str = r#"
[[heartbeat]]
name = "disk1"
kind = "disk"
device = "DEVICE"
"#;

const DISK_RESOLVER: &str = r#"
[[np]]
name = "disknp"
kind = "disk"
device = "DEVICE"
io_wait = "1s"
interval = "200ms"
timeout = "200ms"
"#;

#[test]
fn a_disk_heartbeat_keeps_two_servers_together_when_every_lan_path_is_cut() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start(&format!("{DISK_HEARTBEAT}{DISK_RESOLVER}"));
    c.wait_group_on(1, START_WITHIN);
    for (viewer, peer) in [(1, 2), (2, 1)] {
        c.wait(&format!("server{viewer} hears server{peer} on disk1"), MOVE_WITHIN, || {
            c.path_alive(viewer, peer, "disk1") == Some(true)
        });
    }

    c.lab.isolate(2).expect("isolate");
    for (viewer, peer) in [(1, 2), (2, 1)] {
        c.wait(&format!("server{viewer}'s LAN paths to server{peer} are down"), MOVE_WITHIN, || {
            c.path_alive(viewer, peer, "lan1") == Some(false) && c.path_alive(viewer, peer, "public") == Some(false)
        });
    }
    // Both sides saw the LAN paths go down (B11); now four heartbeat timeouts (2 s) more
    // of LAN silence, where a loss would have led to a disk verdict (2 s after D): the
    // disk path still carries every heartbeat, so nothing else happens.
    let watch_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < watch_until {
        for (viewer, peer) in [(1, 2), (2, 1)] {
            assert_ne!(c.path_alive(viewer, peer, "disk1"), Some(false), "disk1 went down\n{}", c.logs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for d in &mut c.daemons {
        assert!(d.exit_status().is_none(), "server{} ended\n{}", d.server(), d.log_text());
    }
    let logs = c.logs();
    assert!(logs.contains("event=heartbeat-path-down"), "{logs}");
    for forbidden in ["event=server-lost", "event=np-resolution-started", "event=np-lost"] {
        assert!(!logs.contains(forbidden), "{forbidden}\n{logs}");
    }
    assert_eq!(c.lab.holders(c.lab.floating_address()), vec![1], "{logs}");
}

/// Sets the shared device's read-only flag (`blockdev --setro` / `--setrw`).
fn set_read_only(device: &str, read_only: bool) {
    let flag = if read_only { "--setro" } else { "--setrw" };
    let ok = Command::new("blockdev").args([flag, device]).status().expect("blockdev");
    assert!(ok.success(), "blockdev {flag} {device}");
}

#[test]
fn a_failing_disk_takes_the_disk_path_down_like_a_cut_cable() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start(DISK_HEARTBEAT);
    c.wait_group_on(1, START_WITHIN);
    for (viewer, peer) in [(1, 2), (2, 1)] {
        c.wait(&format!("server{viewer} hears server{peer} on disk1"), MOVE_WITHIN, || {
            c.path_alive(viewer, peer, "disk1") == Some(true)
        });
    }
    // The device refuses writes: every slot write fails, so no heartbeat crosses it.
    set_read_only(c.device.path(), true);
    for (viewer, peer) in [(1, 2), (2, 1)] {
        c.wait(&format!("server{viewer} reports disk1 to server{peer} down"), MOVE_WITHIN, || {
            c.path_alive(viewer, peer, "disk1") == Some(false)
        });
    }
    for d in &c.daemons {
        let log = d.log_text();
        assert!(log.contains("disk heartbeat disk1: own slot I/O failed"), "{}", c.logs());
        assert!(log.contains("event=heartbeat-path-down"), "{}", c.logs());
    }
    // The LAN paths still carry the heartbeats: nobody is lost.
    assert_eq!(c.path_alive(1, 2, "lan1"), Some(true), "{}", c.logs());
    set_read_only(c.device.path(), false);
    for (viewer, peer) in [(1, 2), (2, 1)] {
        c.wait(&format!("server{viewer} hears server{peer} on disk1 again"), MOVE_WITHIN, || {
            c.path_alive(viewer, peer, "disk1") == Some(true)
        });
    }
    let logs = c.logs();
    assert!(logs.contains("event=heartbeat-path-up"), "{logs}");
    assert!(logs.contains("own slot I/O works again"), "{logs}");
    assert!(!logs.contains("event=server-lost"), "{logs}");
    assert_eq!(c.lab.holders(c.lab.floating_address()), vec![1], "{logs}");
}

/// The slot of `index` on `device` replaced by `block` (ordinary buffered write, synced).
fn put_slot(device: &str, index: u16, block: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(device).expect("open the device");
    f.write_all_at(block, u64::from(index) * disk_slot::SLOT_BYTES as u64).expect("write the slot");
    f.sync_all().expect("sync");
}

#[test]
fn forged_and_frozen_slots_are_refused_counted_and_never_heard() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Three servers in the file, server3 never started: its slot is free for forgeries.
    let c = Cluster::start_of(&format!("{DISK_HEARTBEAT}{DISK_RESOLVER}"), 3, 2);
    c.wait_group_on(1, START_WITHIN);
    c.wait("server1 hears server2 on disk1", MOVE_WITHIN, || c.path_alive(1, 2, "disk1") == Some(true));
    let secret = load_secret(Some(&c.lab.dir().join("etc/cluster.key")), false).expect("the lab's secret");
    let key = disk_slot::SlotKey::new(secret.key.derive(DISK_SLOT_LABEL));
    let record = |cluster_id: u32, counter: u64| {
        let slot = disk_slot::Slot {
            cluster_id,
            server: 2,
            counter,
            written_ms: 0,
            beat: counter,
            heartbeat: Heartbeat { run: 77, state: ServerState::Online, version: 1, sent_ms: 0 },
        };
        let mut block = vec![0u8; disk_slot::SLOT_BYTES];
        disk_slot::encode(&slot, &key, &mut block);
        block
    };
    let ours = cluster_id("lab");
    let refused = |server: usize, reason: &str| -> u64 {
        c.status(server)
            .and_then(|s| {
                s["disk_slots"]
                    .as_array()?
                    .iter()
                    .find(|e| e["server"] == "server3")
                    .map(|e| e["refused"][reason].as_u64().unwrap_or(0))
            })
            .unwrap_or(0)
    };

    // Properly tagged under the cluster's secret, but another cluster's: refused.
    put_slot(c.device.path(), 2, &record(ours ^ 1, 1_000));
    c.wait("both count server3's foreign slot", MOVE_WITHIN, || {
        refused(1, "foreign-cluster") > 0 && refused(2, "foreign-cluster") > 0
    });
    // A record of ours with a high counter, its tag broken (a forger without the key).
    let mut forged = record(ours, u64::MAX / 2);
    forged[disk_slot::RECORD_BYTES - 1] ^= 1;
    put_slot(c.device.path(), 2, &forged);
    c.wait("both count server3's forged slot", MOVE_WITHIN, || refused(1, "bad-tag") > 0 && refused(2, "bad-tag") > 0);
    // A genuine record that never changes (a dead server's last write, or one copied
    // back): valid, never news.
    put_slot(c.device.path(), 2, &record(ours, 5_000));
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        for viewer in [1, 2] {
            let s = c.status(viewer).expect("status");
            let heard =
                s["paths"].as_array().into_iter().flatten().any(|p| p["peer"] == "server3" && p["silent_ms"].is_u64());
            assert!(!heard, "server{viewer} heard server3\n{}", c.logs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = c.logs();
    // Logged once per reason, by whichever of the heartbeat and the resolver read it first.
    assert!(logs.contains("server3's slot refused (foreign-cluster)"), "{logs}");
    assert!(logs.contains("server3's slot refused (bad-tag)"), "{logs}");
    // server2's slot was never refused: nothing counted for it.
    let s = c.status(1).expect("status");
    assert!(s["disk_slots"].as_array().into_iter().flatten().all(|e| e["server"] == "server3"), "{s}");
}

#[test]
fn disk_resolution_keeps_the_master_and_fences_the_other_without_two_owners() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start(DISK_RESOLVER);
    c.wait_group_on(1, START_WITHIN);
    // The group on server2, the one that will lose: the master must take it over only
    // after server2 has let it go.
    c.move_to(2);

    let fip = c.lab.floating_address();
    let cut_at = Instant::now();
    c.lab.isolate(2).expect("isolate");
    // Until the master holds the address: never two holders.
    let deadline = cut_at + MOVE_WITHIN;
    loop {
        let holders = c.lab.holders(fip);
        assert!(holders.len() <= 1, "{fip} held by {holders:?} at once\n{}", c.logs());
        if holders == vec![1] {
            break;
        }
        assert!(Instant::now() < deadline, "server1 did not take {fip} over\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(5));
    }
    let took_over = cut_at.elapsed();
    let Some(ending) = c.daemons[1].wait_exit(Duration::from_secs(5)) else {
        panic!("server2 did not fence itself\n{}", c.logs());
    };
    assert_eq!(ending.code(), Some(1), "an unclean power action: {ending}\n{}", c.logs());
    let loser = c.daemons[1].log_text();
    assert!(loser.contains("event=np-lost-tie-break"), "{}", c.logs());
    let winner = c.daemons[0].log_text();
    assert!(winner.contains("event=np-resolved-peer-down"), "{}", c.logs());
    assert!(c.daemons[0].exit_status().is_none(), "server1 kept running\n{}", c.logs());
    // The disk window of B34: the verdict 2 s after the loss, which comes after the cut
    // (a loss before it would be a false one, seen in the logs above).
    assert!(
        took_over >= Duration::from_millis(2_000),
        "taken over after {took_over:?}: before the disk window\n{}",
        c.logs()
    );
    println!("disk resolution: the master held the group {} ms after the cut", took_over.as_millis());
}

/// The first line of `d` holding `needle`, as its arrival time since the lab was built.
fn first_line(d: &Daemon, needle: &str) -> Option<Duration> {
    d.lines().into_iter().find(|l| l.text.contains(needle)).map(|l| l.at)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Benchmark, not a test (docs/benchmarks.md, "Disk resolution"): the disk resolution
/// above, `BATON_BENCH_ROUNDS` times (default 5), each on a fresh lab; per round the
/// instants from the daemons' time-stamped lines, against B34 and B44: loss D
/// (`server-lost`), verdicts (`np-resolved-peer-down` on server1, `np-lost-tie-break`
/// on server2), the address on server1 (sampled). Run with
/// `cargo test --release -p baton-cli --test e2e_disk bench -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: run it with --ignored --nocapture"]
fn bench_disk_resolution_time() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let rounds: usize = std::env::var("BATON_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    // B34 disk window 2 × max(heartbeat_timeout 500 ms, io_wait 1 s); B44 T = D + W + interval 100 ms.
    let (window_ms, takeover_ms) = (2_000, 2_100);
    println!("round | cut→D | D→V server1 | D→V server2 | D→fenced server2 | D→address off server2 | D→address on server1 (ms; B34 V−D = {window_ms}, B44 T−D = {takeover_ms})");
    for round in 1..=rounds {
        let mut c = Cluster::start(DISK_RESOLVER);
        c.wait_group_on(1, START_WITHIN);
        c.move_to(2);
        let fip = c.lab.floating_address();
        let since_lab = |i: Instant| ms(i.duration_since(c.lab.started()));
        let cut = since_lab(Instant::now());
        c.lab.isolate(2).expect("isolate");
        let (mut off2, mut on1) = (None, None);
        let deadline = Instant::now() + MOVE_WITHIN;
        while on1.is_none() && Instant::now() < deadline {
            let holders = c.lab.holders(fip);
            let now = since_lab(Instant::now());
            if off2.is_none() && !holders.contains(&2) {
                off2 = Some(now);
            }
            if holders.contains(&1) {
                on1 = Some(now);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let (Some(off2), Some(on1)) = (off2, on1) else { panic!("no takeover\n{}", c.logs()) };
        assert!(c.daemons[1].wait_exit(MOVE_WITHIN).is_some(), "server2 did not fence\n{}", c.logs());
        let at = |d: &Daemon, needle: &str| {
            first_line(d, needle).map(ms).unwrap_or_else(|| panic!("no {needle}\n{}", c.logs()))
        };
        let d1 = at(&c.daemons[0], "event=server-lost");
        let v1 = at(&c.daemons[0], "event=np-resolved-peer-down");
        let d2 = at(&c.daemons[1], "event=server-lost");
        let v2 = at(&c.daemons[1], "event=np-lost-tie-break");
        let fenced2 = at(&c.daemons[1], "stopping: power action");
        println!(
            "{round} | {} | {} | {} | {} | {} | {}",
            d1 - cut,
            v1 - d1,
            v2 - d2,
            fenced2 - d2,
            off2 - d1,
            on1 - d1
        );
    }
}

/// serial+disk (B40) whose serial line does not exist on either server: its checks
/// fail, so the unit falls back to the disk rule (`np-fallback-disk`) and the master
/// survives. With a real cable: `e2e_serial.rs`.
#[test]
fn serial_plus_disk_falls_back_to_the_disk_and_keeps_the_master() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let serial = r#"
[[np]]
name = "com1"
kind = "serial"
device = "/dev/ttyS0"
interval = "200ms"
timeout = "200ms"
"#;
    let mut c = Cluster::start(&format!("{DISK_RESOLVER}{serial}"));
    c.wait_group_on(1, START_WITHIN);
    c.cut_after_shared_failures_and_expect_the_disk_fallback();
}

/// ping+disk (B41) with the ping target gone on every server before the cut: the ping
/// resolver is pre-failed everywhere, so the unit falls back to the disk rule
/// (`np-fallback-disk`) and the master survives; before the disk driver, the failed
/// disk check made both servers fail.
#[test]
fn ping_plus_disk_falls_back_to_the_disk_when_ping_failed_everywhere() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // The disk resolver and the lab's `ping1` on its router: one ping+disk unit (B33).
    let mut c = Cluster::start_with(DISK_RESOLVER, 2, 2, true);
    c.wait_group_on(1, START_WITHIN);
    // The router goes away: every server's ping resolver fails (np-target-down).
    let router = format!("{}/24", c.lab.router_address());
    let out =
        c.lab.cmd_in(c.lab.client_ns()).args(["ip", "addr", "del", &router, "dev", "public"]).output().expect("ip");
    assert!(out.status.success(), "ip addr del {router}: {}", String::from_utf8_lossy(&out.stderr));
    for d in &c.daemons {
        c.wait(&format!("server{}'s ping resolver fails", d.server()), MOVE_WITHIN, || {
            d.log_text().contains("event=np-target-down")
        });
    }
    c.cut_after_shared_failures_and_expect_the_disk_fallback();
}
