//! End to end, the mirror disk (issue 10, tests 1 and 2): two real `baton daemon`
//! processes, each in its own network and mount namespace of a `baton-lab` network,
//! each with its own loop devices for the mirror's data and metadata, replicating over
//! the lab's lan1 through the engines the daemons start (`baton mirror-engine`).
//!
//! The cluster file is `fixtures/2node-mirror-loop.toml`. Both sides start from one
//! image (`mkfs.ext4` once, copied), initialised with `baton mirror init
//! --assume-identical`. Then, each round: the group is online on the active server with
//! the file system mounted (in its daemon's mount namespace); a writer appends numbered
//! records through that mount, each followed by `fsync`, and keeps the numbers it got
//! acknowledged outside the mirror (in the test's memory); the active server crashes at
//! a random instant of the stream (its cables pulled, every process of its namespace
//! killed, its engine included: its FUSE connection aborts); once the other server has
//! the group online and the file system mounted, every acknowledged record must be in
//! the file there. The crashed server then returns (cables back, its daemon started:
//! its engine starts as the standby), the survivor rebuilds it, and the next round
//! crashes the survivor. After the last round the group is stopped and both data
//! devices must be byte-identical (SHA-256).
//!
//! Rounds: `BATON_MIRROR_E2E_ROUNDS` (default 1: one crash, every acknowledged record
//! on the survivor). More rounds do not pass yet: the returning server is told it is
//! down by the survivor (B16) and stops again, so the rebuild never starts
//! (docs/testing.md). Needs root, `ip`, `losetup`,
//! `mkfs.ext4`, `e2fsck`, `sha256sum` and `/dev/fuse`; otherwise prints `skipped: …`.

use baton_lab::daemon::{group_locations, logs_of, server_states, status, Daemon};
use baton_lab::{find_program, ClusterSpec, Lab, LabSpec};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GROUP: &str = "failover1";
const START_WITHIN: Duration = Duration::from_secs(60);
const FAILOVER_WITHIN: Duration = Duration::from_secs(60);
const REBUILD_WITHIN: Duration = Duration::from_secs(90);
const DATA_BYTES: u64 = 64 << 20;
const META_BYTES: u64 = 1 << 20;

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
    if !Path::new("/dev/fuse").exists() {
        println!("skipped: /dev/fuse is missing");
        return true;
    }
    for (tool, package) in
        [("losetup", "mount"), ("mkfs.ext4", "e2fsprogs"), ("e2fsck", "e2fsprogs"), ("sha256sum", "coreutils")]
    {
        if find_program(tool).is_none() {
            println!("skipped: `{tool}` not found (Debian package {package})");
            return true;
        }
    }
    false
}

fn must(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A loop device over a backing file; detached when dropped.
struct Loop(PathBuf);

impl Loop {
    fn attach(image: &Path) -> Loop {
        Loop(PathBuf::from(must("losetup", &["-f", "--show", "--direct-io=on", &image.display().to_string()])))
    }

    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.arg()]).status();
    }
}

/// Field order: the daemons die first, then the loop devices go, then the lab.
struct Cluster {
    daemons: Vec<Option<Daemon>>,
    /// Per server: data, metadata.
    devices: Vec<(Loop, Loop)>,
    lab: Lab,
    config: PathBuf,
    mount_point: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        let lab = Lab::new(LabSpec { servers: 2, ..LabSpec::default() }).expect("lab");
        assert_eq!(lab.address(1, "lan1").to_string(), "10.77.1.1", "the fixture is written for the lab's addresses");
        let dir = lab.dir().to_path_buf();
        // One file system, copied: both sides start byte-identical (--assume-identical).
        let first = dir.join("data1.img");
        std::fs::File::create(&first).and_then(|f| f.set_len(DATA_BYTES)).expect("image");
        must(
            "mkfs.ext4",
            &["-q", "-F", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0", &first.display().to_string()],
        );
        std::fs::copy(&first, dir.join("data2.img")).expect("copy the image");
        let devices: Vec<(Loop, Loop)> = (1..=2)
            .map(|s| {
                let meta = dir.join(format!("meta{s}.img"));
                std::fs::File::create(&meta).and_then(|f| f.set_len(META_BYTES)).expect("meta image");
                (Loop::attach(&dir.join(format!("data{s}.img"))), Loop::attach(&meta))
            })
            .collect();
        let mount_point = dir.join("mnt").join("md1");
        std::fs::create_dir_all(&mount_point).expect("mount point");
        let config = lab.write_config(&ClusterSpec::default()).expect("lab files");
        let text = include_str!("fixtures/2node-mirror-loop.toml")
            .replace("@DIR@", &dir.display().to_string())
            .replace("@DATA1@", &devices[0].0.arg())
            .replace("@META1@", &devices[0].1.arg())
            .replace("@DATA2@", &devices[1].0.arg())
            .replace("@META2@", &devices[1].1.arg());
        if let Err(problems) = baton_core::config::parse("2node-mirror-loop.toml", &text) {
            panic!("the fixture is refused: {problems:?}");
        }
        std::fs::write(&config, text).expect("cluster file");
        for s in 1..=2 {
            let out = Command::new(baton())
                .args(["mirror", "init", "md1", "--config"])
                .arg(&config)
                .args(["--server", &format!("server{s}"), "--assume-identical"])
                .output()
                .expect("baton mirror init");
            assert!(out.status.success(), "mirror init on server{s}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut c = Cluster { daemons: vec![None, None], devices, lab, config, mount_point };
        for s in 1..=2 {
            c.start_daemon(s);
        }
        c
    }

    fn start_daemon(&mut self, server: usize) {
        let d = self.lab.start_daemon(&baton(), &self.config, server).expect("daemon");
        self.daemons[server - 1] = Some(d);
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for d in self.daemons.iter().flatten() {
            text.push_str(&logs_of(std::slice::from_ref(d)));
        }
        for s in 1..=2 {
            let engine_log = self.lab.state_dir(s).join("mirror").join("md1.log");
            if let Ok(t) = std::fs::read_to_string(&engine_log) {
                let tail: Vec<&str> = t.lines().rev().take(40).collect();
                text.push_str(&format!("\n--- server{s} engine log (last lines, newest first)\n{}", tail.join("\n")));
            }
        }
        text
    }

    fn wait(&self, what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !ok() {
            if Instant::now() >= deadline {
                panic!("{what}: not within {within:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid(&self, server: usize) -> Option<u32> {
        self.daemons[server - 1].as_ref().map(Daemon::pid)
    }

    /// Whether an ext4 file system is mounted at the mount point in server `server`'s
    /// daemon's mount namespace.
    fn mounted_on(&self, server: usize) -> bool {
        let Some(pid) = self.pid(server) else { return false };
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) else { return false };
        let at = self.mount_point.display().to_string();
        info.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(4) == Some(&at.as_str()) && l.contains(" - ext4 ")
        })
    }

    fn path_on(&self, server: usize, name: &str) -> PathBuf {
        let pid = self.pid(server).expect("a running daemon");
        PathBuf::from(format!("/proc/{pid}/root{}", self.mount_point.join(name).display()))
    }

    fn online_on(&self, viewer: usize, server: usize) -> bool {
        status(&baton(), &self.lab.state_dir(viewer))
            .is_ok_and(|s| group_locations(&s, GROUP) == vec![(format!("server{server}"), "online".to_string())])
    }

    /// The mirror engine's status on `server`, as `baton mirror status --json` prints it.
    fn engine_status(&self, server: usize) -> Option<serde_json::Value> {
        let out = Command::new(baton())
            .args(["mirror", "status", "md1", "--json", "--state-dir"])
            .arg(self.lab.state_dir(server))
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["mirrors"].get(0).cloned()
    }

    fn crash(&mut self, server: usize) {
        self.lab.crash(server).expect("crash");
        if let Some(mut d) = self.daemons[server - 1].take() {
            d.kill();
        }
    }

    /// Once the survivor has judged it down: cables back, daemon started (its engine
    /// starts as the standby; the server is suspended after its unclean end), then
    /// `baton server return` lets it rejoin.
    fn restore(&mut self, server: usize, survivor: usize) {
        let name = format!("server{server}");
        self.wait(&format!("server{survivor} judges {name} down"), FAILOVER_WITHIN, || {
            status(&baton(), &self.lab.state_dir(survivor))
                .is_ok_and(|s| server_states(&s).iter().any(|(n, state)| *n == name && state != "online"))
        });
        for net in self.lab.networks().to_vec() {
            self.lab.link(server, &net, true).expect("cable back");
        }
        self.start_daemon(server);
        self.wait(&format!("{name} suspended after its unclean end"), START_WITHIN, || {
            status(&baton(), &self.lab.state_dir(survivor))
                .is_ok_and(|s| server_states(&s).iter().any(|(n, state)| *n == name && state == "suspended"))
        });
        let out = Command::new(baton())
            .args(["server", "return", &name, "--state-dir"])
            .arg(self.lab.state_dir(survivor))
            .output()
            .expect("baton server return");
        assert!(out.status.success(), "server return: {}\n{}", String::from_utf8_lossy(&out.stderr), self.logs());
    }
}

/// Appends numbered records, each followed by fsync, through `file` (a path into the
/// active server's mount); every number whose fsync returned is pushed to `acked`.
/// Stops at the first error (the server crashed) or when `stop` is set.
fn writer(
    file: PathBuf,
    first: u64,
    acked: Arc<Mutex<Vec<u64>>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut f = match std::fs::OpenOptions::new().create(true).append(true).open(&file) {
            Ok(f) => f,
            Err(e) => return format!("open {}: {e}", file.display()),
        };
        let mut n = first;
        while !stop.load(Ordering::SeqCst) {
            let record = format!("record {n:08}\n");
            if let Err(e) = f.write_all(record.as_bytes()).and_then(|()| f.sync_data()) {
                return format!("record {n}: {e}");
            }
            acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(n);
            n += 1;
        }
        "stopped".to_string()
    })
}

fn records_in(text: &str) -> std::collections::BTreeSet<u64> {
    text.lines().filter_map(|l| l.strip_prefix("record ")?.trim().parse().ok()).collect()
}

/// A pseudo-random number from the clock (the crash instant; no test dependency).
fn random_below(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(7, |d| d.subsec_nanos());
    u64::from(nanos) % n.max(1)
}

fn rounds() -> usize {
    std::env::var("BATON_MIRROR_E2E_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

#[test]
fn every_acknowledged_record_survives_repeated_crashes_of_the_active_server() {
    if skip() {
        return;
    }
    let mut c = Cluster::start();
    c.wait("the group online on server1, md1 mounted there", START_WITHIN, || {
        c.online_on(1, 1) && c.online_on(2, 1) && c.mounted_on(1)
    });
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut active = 1;
    let mut next_record = 0;
    for round in 1..=rounds() {
        let other = 3 - active;
        let stop = Arc::new(AtomicBool::new(false));
        let w = writer(c.path_on(active, "records"), next_record, Arc::clone(&acked), Arc::clone(&stop));
        // A random instant of the stream: after 20..220 acknowledged records of this round.
        let target = next_record + 20 + random_below(200);
        let len = || acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last().copied();
        c.wait(&format!("round {round}: records acknowledged on server{active}"), START_WITHIN, || {
            len().is_some_and(|n| n >= target) || w.is_finished()
        });
        assert!(!w.is_finished(), "round {round}: the writer stopped before the crash\n{}", c.logs());
        c.crash(active);
        stop.store(true, Ordering::SeqCst);
        let how = w.join().unwrap_or_else(|_| "panicked".into());
        let acknowledged: Vec<u64> = acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let last = acknowledged.last().copied().unwrap_or(0);
        println!("round {round}: server{active} crashed after record {last} (writer: {how})");

        c.wait(
            &format!("round {round}: the group online on server{other}, md1 mounted there"),
            FAILOVER_WITHIN,
            || c.online_on(other, other) && c.mounted_on(other),
        );
        let text = std::fs::read_to_string(c.path_on(other, "records")).expect("the records file on the survivor");
        let found = records_in(&text);
        let lost: Vec<u64> = acknowledged.iter().copied().filter(|n| !found.contains(n)).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged records lost: {lost:?}\n{}", c.logs());
        next_record = found.iter().next_back().map_or(0, |n| n + 1).max(last + 1);

        if round == rounds() {
            return; // the rebuild and the identical devices need a next round (below)
        }
        // The crashed server returns and is rebuilt from the survivor.
        c.restore(active, other);
        c.wait(&format!("round {round}: server{active} rebuilt from server{other}"), REBUILD_WITHIN, || {
            c.engine_status(other).is_some_and(|s| s["role"] == "active" && s["peer"] == "synced" && s["links_up"] == 1)
        });
        active = other;
    }
    // Both sides identical once the group is stopped (a clean stop flushes both).
    let out = Command::new(baton())
        .args(["group", "stop", GROUP, "--state-dir"])
        .arg(c.lab.state_dir(active))
        .output()
        .expect("baton group stop");
    assert!(out.status.success(), "group stop: {}\n{}", String::from_utf8_lossy(&out.stderr), c.logs());
    c.wait("md1 offline and unmounted", FAILOVER_WITHIN, || {
        !c.mounted_on(active) && c.engine_status(active).is_some_and(|s| s["role"] == "standby")
    });
    let sums: Vec<String> = c
        .devices
        .iter()
        .map(|(data, _)| must("sha256sum", &[&data.arg()]).split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(sums[0], sums[1], "the data devices differ after the rebuilds\n{}", c.logs());
}
