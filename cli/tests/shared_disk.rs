//! End to end, the shared disk (issue 11): two real `baton daemon` processes, each in
//! its own network and mount namespace of a `baton-lab` network, sharing one backing
//! file through two loop devices (one per server, `--direct-io=on`, so each server has
//! its own block device with its own read-only flag, as two hosts on one SAN LUN do).
//! Each daemon sees its loop device at the same path, `LAB_DIR/dev/disk1`, bound in its
//! own mount namespace ([`Lab::start_daemon_with_binds`]), as every server of a real
//! cluster names the shared disk alike.
//!
//! The cluster files are `fixtures/2node-shared-disk-loop.toml`
//! (`examples/configs/2node-shared-disk.toml` on the lab's addresses, its disk on the
//! loop device, a `ping` resolver, the lab's recording scripts for the `exec` resource)
//! and, for the partition tests, `fixtures/2node-shared-disk-ping-disk-loop.toml`
//! (heartbeats on lan1 only and a ping+disk resolver unit, B41, whose slots are on a
//! second shared device, again one loop device per server).
//! What is checked, from outside the daemons (`/proc/PID/mountinfo`, `/proc/PID/root`,
//! sysfs, the devices):
//!
//! * the group's disk is mounted on the active server only; the standby's device is
//!   read-only and a write to it fails;
//! * data written on the active server is there after a crash of that server, once the
//!   survivor has checked and mounted the disk (B55);
//! * the survivor's disk is writable, the dead server's device read-only from its
//!   daemon's start;
//! * a partition ends with the disk mounted on one server only, sampled every 5 ms from
//!   the cut (any mount namespace, lazily unmounted file systems included): the loser
//!   fences before the winner mounts, whether it loses by its ping (B36) or by its own
//!   failed disk check while its ping answers (B41).
//!
//! Needs root, `ip`, `losetup`/`blockdev`/`mount` (util-linux, mount), `mkfs.ext4` and
//! `e2fsck` (e2fsprogs); otherwise the test prints `skipped: …` and passes.

use baton_lab::daemon::{group_locations, logs_of, status, wait_or_panic, Daemon};
use baton_lab::{find_program, http_get, Cable, ClusterSpec, Lab, LabSpec, Service};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One cluster at a time: heartbeats are lost after 500 ms (as in e2e.rs).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const GROUP: &str = "failover1";
const START_WITHIN: Duration = Duration::from_secs(30);
const FAILOVER_WITHIN: Duration = Duration::from_secs(30);

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
    for (tool, package) in [
        ("losetup", "mount"),
        ("blockdev", "util-linux"),
        ("mkfs.ext4", "e2fsprogs"),
        ("e2fsck", "e2fsprogs"),
        ("socat", "socat"),
    ]
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

/// The loop devices over one backing file; detached when dropped.
struct SharedDisk {
    loops: Vec<PathBuf>,
}

impl SharedDisk {
    /// An ext4 file system shared by `servers` loop devices.
    fn new(image: &Path, servers: usize) -> SharedDisk {
        std::fs::File::create(image).and_then(|f| f.set_len(64 << 20)).expect("image");
        must("mkfs.ext4", &["-q", "-F", &image.display().to_string()]);
        SharedDisk::attach(image, servers)
    }

    /// A zeroed 1 MiB partition (a disk resolver's slots) shared by `servers` loop devices.
    fn blank(image: &Path, servers: usize) -> SharedDisk {
        std::fs::File::create(image).and_then(|f| f.set_len(1 << 20)).expect("image");
        SharedDisk::attach(image, servers)
    }

    fn attach(image: &Path, servers: usize) -> SharedDisk {
        let loops = (0..servers)
            .map(|_| PathBuf::from(must("losetup", &["-f", "--show", "--direct-io=on", &image.display().to_string()])))
            .collect();
        SharedDisk { loops }
    }

    /// `major:minor` of server `server`'s loop device.
    fn dev(&self, server: usize) -> String {
        let rdev = std::fs::metadata(&self.loops[server - 1]).expect("loop").rdev();
        format!("{}:{}", (rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00))
    }

    fn read_only(&self, server: usize) -> bool {
        let flag = std::fs::read_to_string(format!("/sys/dev/block/{}/ro", self.dev(server))).expect("sysfs");
        flag.trim() == "1"
    }

    /// Whether writing server `server`'s device fails. What is written is what is read
    /// there (the last 4 KiB), so a write that wrongly succeeds changes nothing.
    fn write_fails(&self, server: usize) -> Result<(), String> {
        let path = &self.loops[server - 1];
        let mut f = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) => {
                println!("open for writing refused: {e}");
                return Ok(());
            }
        };
        let mut block = vec![0u8; 4096];
        f.seek(SeekFrom::End(-4096)).and_then(|_| f.read_exact(&mut block)).expect("read");
        f.seek(SeekFrom::End(-4096)).expect("seek");
        match f.write_all(&block).and_then(|()| f.sync_all()) {
            Err(e) if e.raw_os_error() == Some(1) || e.raw_os_error() == Some(30) => Ok(()),
            Err(e) => Err(format!("the write failed, but not as a read-only device: {e}")),
            Ok(()) => Err(format!("a write on {} succeeded", path.display())),
        }
    }
}

impl Drop for SharedDisk {
    fn drop(&mut self) {
        for l in &self.loops {
            let _ = Command::new("blockdev").args(["--setrw", &l.display().to_string()]).status();
            let _ = Command::new("losetup").args(["-d", &l.display().to_string()]).status();
        }
    }
}

/// Field order: the daemons die first, then the loop devices go, then the lab.
struct Cluster {
    daemons: Vec<Daemon>,
    disk: SharedDisk,
    /// The disk resolver's device.
    np: Option<SharedDisk>,
    /// The serial resolver's null-modem cable, for the example's serial+disk unit.
    cable: Option<Cable>,
    lab: Lab,
    mount_point: PathBuf,
}

impl Cluster {
    /// The cluster of `fixtures/2node-shared-disk-loop.toml`: the example's serial+disk
    /// unit on a pty cable and a second shared device.
    fn start() -> Cluster {
        Cluster::start_from("2node-shared-disk-loop.toml", include_str!("fixtures/2node-shared-disk-loop.toml"))
    }

    /// The cluster of `fixtures/2node-shared-disk-ping-disk-loop.toml`: heartbeats on
    /// lan1 only and a ping+disk unit whose slots are on a second shared device.
    fn start_ping_disk() -> Cluster {
        Cluster::start_from(
            "2node-shared-disk-ping-disk-loop.toml",
            include_str!("fixtures/2node-shared-disk-ping-disk-loop.toml"),
        )
    }

    fn start_from(name: &str, fixture: &str) -> Cluster {
        Cluster::start_serving(name, fixture, &ClusterSpec::default())
    }

    /// As [`Cluster::start_from`], the lab's scripts written from `spec` (its service).
    fn start_serving(name: &str, fixture: &str, spec: &ClusterSpec) -> Cluster {
        let lab = Lab::new(LabSpec { servers: 2, ..LabSpec::default() }).expect("lab");
        // The fixture is written for these addresses.
        assert_eq!(
            (lab.address(1, "lan1").to_string(), lab.router_address().to_string()),
            ("10.77.1.1".into(), "10.77.2.254".into())
        );
        let dev_dir = lab.dir().join("dev");
        std::fs::create_dir_all(&dev_dir).expect("dev dir");
        let device = dev_dir.join("disk1");
        std::fs::File::create(&device).expect("bind target");
        let mount_point = lab.dir().join("mnt").join("disk1");
        std::fs::create_dir_all(&mount_point).expect("mount point");
        let disk = SharedDisk::new(&lab.dir().join("shared.img"), 2);
        // The disk resolver's partition, when the fixture names one.
        let np_device = dev_dir.join("np1");
        let np = fixture.contains("@DIR@/dev/np1").then(|| {
            std::fs::File::create(&np_device).expect("bind target");
            SharedDisk::blank(&lab.dir().join("np.img"), 2)
        });
        let cable = fixture.contains("@DIR@/tty-server1").then(|| Cable::plug(lab.dir()).expect("cable"));
        // The lab writes its scripts and secret; the cluster file is the fixture.
        let config = lab.write_config(spec).expect("lab files");
        let text = fixture.replace("@DIR@", &lab.dir().display().to_string());
        if let Err(problems) = baton_core::config::parse(name, &text) {
            panic!("the fixture is refused: {problems:?}");
        }
        std::fs::write(&config, text).expect("cluster file");
        let daemons = (1..=2)
            .map(|s| {
                let mut binds = vec![(disk.loops[s - 1].clone(), device.clone())];
                if let Some(np) = &np {
                    binds.push((np.loops[s - 1].clone(), np_device.clone()));
                }
                lab.start_daemon_with_binds(&baton(), &config, s, &binds).expect("daemon")
            })
            .collect();
        Cluster { daemons, disk, np, cable, lab, mount_point }
    }

    fn logs(&self) -> String {
        logs_of(&self.daemons)
    }

    fn wait(&self, what: &str, within: Duration, ok: impl FnMut() -> bool) {
        wait_or_panic(&self.daemons, what, within, ok);
    }

    /// Whether server `server`'s daemon has its loop device mounted at the mount point
    /// (in its own mount namespace).
    fn mounted_on(&self, server: usize) -> bool {
        let pid = self.daemons[server - 1].pid();
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) else { return false };
        let at = self.mount_point.display().to_string();
        let dev = self.disk.dev(server);
        info.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(2) == Some(&dev.as_str()) && f.get(4) == Some(&at.as_str())
        })
    }

    /// A path inside the mount point, as server `server`'s daemon sees it.
    fn path_on(&self, server: usize, name: &str) -> PathBuf {
        let pid = self.daemons[server - 1].pid();
        PathBuf::from(format!("/proc/{pid}/root{}", self.mount_point.join(name).display()))
    }

    fn online_on(&self, viewer: usize, server: usize) -> bool {
        status(&baton(), &self.lab.state_dir(viewer))
            .is_ok_and(|s| group_locations(&s, GROUP) == vec![(format!("server{server}"), "online".to_string())])
    }
}

#[test]
fn the_shared_disk_is_mounted_on_the_active_server_only_and_survives_a_crash() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start();
    assert!(std::fs::metadata(&c.disk.loops[0]).expect("loop").file_type().is_block_device());
    c.wait("the group online on server1, its disk mounted there", START_WITHIN, || {
        c.online_on(1, 1) && c.online_on(2, 1) && c.mounted_on(1)
    });
    assert!(!c.mounted_on(2), "the disk must be mounted on the active server only\n{}", c.logs());
    assert!(c.disk.read_only(2), "the standby's device must be read-only\n{}", c.logs());
    assert!(!c.disk.read_only(1), "the active server's device must be writable");
    if let Err(e) = c.disk.write_fails(2) {
        panic!("{e}\n{}", c.logs());
    }

    // Data written on the active server, through its mount, durable before the crash.
    let data = c.path_on(1, "before-the-crash");
    let mut f = std::fs::File::create(&data).expect("create on server1's mount");
    f.write_all(b"written on server1").and_then(|()| f.sync_all()).expect("write and fsync");
    drop(f);

    c.lab.crash(1).expect("crash");
    c.wait("the group online on server2, the disk mounted there", FAILOVER_WITHIN, || {
        c.online_on(2, 2) && c.mounted_on(2)
    });
    let read = std::fs::read(c.path_on(2, "before-the-crash")).expect("the data written before the crash");
    assert_eq!(read, b"written on server1");
    assert!(!c.disk.read_only(2), "the survivor's device must be writable");
    std::fs::write(c.path_on(2, "after-the-failover"), b"server2").expect("write on the survivor");
    let log = c.daemons[1].log_text();
    // fsck = true by default: it runs before the mount.
    assert!(log.contains("disk disk1 activation: e2fsck -p") && log.contains("; mount -t ext4 -o noatime"), "{log}");
}

/// A busy mount at release (B72 with the manuals' policy): a process of the active
/// server holding a file open on the disk is ended when the group moves away, the disk
/// is unmounted there and mounted on the target.
#[test]
fn a_busy_disk_is_released_by_ending_its_holder_when_the_group_moves() {
    if skip() {
        return;
    }
    if find_program("nsenter").is_none() {
        println!("skipped: `nsenter` not found (Debian package util-linux)");
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start();
    c.wait("the group online on server1, its disk mounted there", START_WITHIN, || {
        c.online_on(1, 1) && c.online_on(2, 1) && c.mounted_on(1)
    });
    // A process in server1's mount namespace (an application the group's scripts do not
    // know about) with a file open on the disk.
    let daemon1 = c.daemons[0].pid().to_string();
    let held = c.mount_point.join("held");
    let mut holder = Command::new("nsenter")
        .args(["--target", &daemon1, "--mount", "sh", "-c"])
        .arg(format!("exec 3>{}; exec sleep 60", held.display()))
        .spawn()
        .expect("nsenter");
    c.wait("the holder has its file open", START_WITHIN, || c.path_on(1, "held").exists());

    let out = Command::new(baton())
        .args(["group", "move", GROUP, "--to", "server2", "--state-dir"])
        .arg(c.lab.state_dir(1))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("baton group move");
    assert!(out.status.success(), "baton group move: {}\n{}", String::from_utf8_lossy(&out.stderr), c.logs());
    c.wait("the group online on server2, the disk mounted there only", FAILOVER_WITHIN, || {
        c.online_on(2, 2) && c.mounted_on(2) && !c.mounted_on(1)
    });
    let status = holder.wait().expect("the holder ends");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(15), "ended by SIGTERM");
    assert!(c.disk.read_only(1), "server1's device is read-only again after the release");
    let log = c.daemons[0].log_text();
    assert!(log.contains("busy; ended its holders (SIGTERM: "), "{log}");
}

impl Cluster {
    /// Whether a file system is mounted on server `server`'s device anywhere (in any
    /// mount namespace, lazily unmounted ones included: ext4 keeps `/sys/fs/ext4/loopN`
    /// while the superblock lives) and the device takes writes.
    fn writable_mount(&self, server: usize) -> bool {
        let name = self.disk.loops[server - 1].file_name().expect("loop name").to_string_lossy().to_string();
        Path::new("/sys/fs/ext4").join(name).exists() && !self.disk.read_only(server)
    }

    /// Samples both servers every 5 ms until `done`: never a writable mount of the shared
    /// disk on both at once (the one promise of a shared disk, B1 for its data).
    fn never_two_writers_until(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let (one, two) = (self.writable_mount(1), self.writable_mount(2));
            assert!(!(one && two), "the shared disk mounted writable on both servers at once\n{}", self.logs());
            if done() {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn move_to(&self, server: usize) {
        let out = Command::new(baton())
            .args(["group", "move", GROUP, "--to", &format!("server{server}"), "--state-dir"])
            .arg(self.lab.state_dir(1))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("baton group move");
        assert!(out.status.success(), "baton group move: {}\n{}", String::from_utf8_lossy(&out.stderr), self.logs());
    }
}

/// A partition while the group runs on server2 (the server the rules make lose), made
/// by `cut`: server2 loses with `loser_event` and fences, server1 takes the group over.
/// Sampled every 5 ms from the cut on, the shared disk is never mounted writable on both
/// servers; at the end it is mounted on server1 only and holds what server2 wrote and
/// fsynced before the cut.
fn partition_while_on_server2(mut c: Cluster, cut: impl FnOnce(&mut Cluster), loser_event: &str) {
    c.wait("the group online on server1, its disk mounted there", START_WITHIN, || {
        c.online_on(1, 1) && c.online_on(2, 1) && c.mounted_on(1)
    });
    c.move_to(2);
    c.never_two_writers_until("the group online on server2, its disk mounted there", FAILOVER_WITHIN, || {
        c.online_on(1, 2) && c.online_on(2, 2) && c.mounted_on(2) && !c.mounted_on(1)
    });
    // The sampler sees what it must never see twice.
    assert!(c.writable_mount(2) && !c.writable_mount(1), "{}", c.logs());
    std::fs::write(c.path_on(2, "before-the-cut"), b"written on server2").expect("write on server2");
    let f = std::fs::File::open(c.path_on(2, "before-the-cut")).expect("open");
    f.sync_all().expect("fsync");
    drop(f);

    cut(&mut c);
    c.never_two_writers_until("server1 holding the group with its disk mounted", FAILOVER_WITHIN, || {
        c.online_on(1, 1) && c.mounted_on(1)
    });
    let Some(ending) = c.daemons[1].wait_exit(FAILOVER_WITHIN) else {
        panic!("server2 did not fence itself\n{}", c.logs());
    };
    assert_eq!(ending.code(), Some(1), "an unclean power action: {ending}\n{}", c.logs());
    assert!(!c.writable_mount(2), "server2's device must not stay writable and mounted\n{}", c.logs());
    assert!(c.disk.read_only(2), "the loser's device is read-only after its fence\n{}", c.logs());
    let read = std::fs::read(c.path_on(1, "before-the-cut")).expect("the data written before the cut");
    assert_eq!(read, b"written on server2");
    assert!(c.daemons[0].log_text().contains("event=np-resolved-peer-down"), "{}", c.logs());
    assert!(c.daemons[1].log_text().contains(&format!("event={loser_event}")), "{}", c.logs());
}

/// The ping+disk unit (B41): server2, isolated, loses its router (B36).
#[test]
fn a_partition_leaves_the_shared_disk_mounted_on_one_server_only() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start_ping_disk();
    partition_while_on_server2(c, |c| c.lab.isolate(2).expect("isolate"), "np-lost-self-isolated");
}

/// The example's serial+disk unit with cable and LAN cut together: both fall back to
/// the disk (B40), the master wins the tie-break (B39), server2 fences.
#[test]
fn the_example_cut_from_cable_and_lan_keeps_the_disk_on_the_master_only() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start();
    partition_while_on_server2(
        c,
        |c| {
            c.cable.as_mut().expect("the example's cable").cut();
            c.lab.isolate(2).expect("isolate");
        },
        "np-lost-tie-break",
    );
}

/// B41: a server whose own latest disk check failed fails at a partition even though
/// its ping target answers. server1 holds the group; its own view of the resolver's
/// partition turns read-only, so its slot writes fail; then lan1 (the only heartbeat
/// path) is cut, both still reaching the router. server1 fails and fences itself;
/// server2, whose disk and ping both answer, survives (the ping rule) and takes the
/// group over, with the shared disk never mounted writable on both.
#[test]
fn b41_a_server_whose_own_disk_check_failed_fails_even_when_ping_answers() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start_ping_disk();
    c.wait("the group online on server1, its disk mounted there", START_WITHIN, || {
        c.online_on(1, 1) && c.online_on(2, 1) && c.mounted_on(1)
    });
    assert!(c.writable_mount(1) && !c.writable_mount(2), "{}", c.logs());
    let np1 = c.np.as_ref().expect("the resolver's device").loops[0].display().to_string();
    must("blockdev", &["--setro", &np1]);
    c.wait("server1's own disk check failing", FAILOVER_WITHIN, || {
        c.daemons[0].log_text().contains("event=np-target-down")
    });
    c.lab.link(2, "lan1", false).expect("cut lan1");
    c.never_two_writers_until("server2 holding the group with its disk mounted", FAILOVER_WITHIN, || {
        c.online_on(2, 2) && c.mounted_on(2)
    });
    let Some(ending) = c.daemons[0].wait_exit(FAILOVER_WITHIN) else {
        panic!("server1 did not fail\n{}", c.logs());
    };
    assert_eq!(ending.code(), Some(1), "an unclean power action: {ending}\n{}", c.logs());
    assert!(c.disk.read_only(1), "the loser's device is read-only after its fence\n{}", c.logs());
    let loser = c.daemons[0].log_text();
    assert!(loser.contains("event=np-resolution-failed"), "{}", c.logs());
    assert!(c.daemons[1].log_text().contains("event=np-resolved-peer-down"), "{}", c.logs());
    must("blockdev", &["--setrw", &np1]);
}

/// Benchmark, not a test (docs/benchmarks.md, "Shared-disk failover"): the example's
/// cluster serving the lab's web service (`Service::Http`, started by app1 after the
/// disk is mounted), server1 crashed, `BATON_BENCH_ROUNDS` times (default 5), each on a
/// fresh lab. Per round: the client's outage (crash → first answer from server2, polled
/// every 10 ms from the lab's client) and its breakdown from server2's time-stamped
/// lines: detection (crash → `server-lost`), verdict (→ `np-resolved-peer-down`; the
/// serial+disk unit falls back to the disk window, B34/B40), takeover and address
/// (→ fip1 online, B44), disk (fip1 online → disk1 online: read-only flag, flushbufs,
/// `e2fsck -p` with the journal replayed, mount), scripts (→ app1 online: the web
/// service listening). Run with
/// `cargo test --release -p baton-cli --test shared_disk bench -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: run it with --ignored --nocapture"]
fn bench_shared_disk_failover() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let rounds: usize = std::env::var("BATON_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let port = 8080;
    println!("round | client outage | detection | verdict | takeover+address | disk (fsck, mount) | scripts (ms)");
    for round in 1..=rounds {
        let spec = ClusterSpec { service: Service::Http { baton: baton(), port }, ..ClusterSpec::default() };
        let c = Cluster::start_serving(
            "2node-shared-disk-loop.toml",
            include_str!("fixtures/2node-shared-disk-loop.toml"),
            &spec,
        );
        let fip = c.lab.floating_address();
        let answer = |from: &str| {
            http_get(c.lab.client_ns(), fip, port, Duration::from_millis(50)).is_ok_and(|a| a.contains(from))
        };
        c.wait("server1 serving the client from its disk", START_WITHIN, || c.mounted_on(1) && answer("server1"));
        let since_lab = |i: std::time::Instant| i.duration_since(c.lab.started()).as_millis() as i64;
        let crash = since_lab(std::time::Instant::now());
        c.lab.crash(1).expect("crash");
        let deadline = std::time::Instant::now() + FAILOVER_WITHIN;
        let served = loop {
            if answer("server2") {
                break since_lab(std::time::Instant::now());
            }
            assert!(std::time::Instant::now() < deadline, "server2 never served the client\n{}", c.logs());
            std::thread::sleep(Duration::from_millis(10));
        };
        // The service answers a moment before its start script returns.
        c.wait("app1 online on server2", FAILOVER_WITHIN, || {
            c.daemons[1].log_text().contains("event=resource-online group=failover1 resource=app1")
        });
        let at = |needle: &str| {
            let line = c.daemons[1].lines().into_iter().find(|l| l.text.contains(needle));
            line.map(|l| l.at.as_millis() as i64).unwrap_or_else(|| panic!("no {needle}\n{}", c.logs()))
        };
        let lost = at("event=server-lost");
        let verdict = at("event=np-resolved-peer-down");
        let address = at("event=resource-online group=failover1 resource=fip1");
        let disk = at("event=resource-online group=failover1 resource=disk1");
        let app = at("event=resource-online group=failover1 resource=app1");
        println!(
            "{round} | {} | {} | {} | {} | {} | {}",
            served - crash,
            lost - crash,
            verdict - lost,
            address - verdict,
            disk - address,
            app - disk
        );
    }
}
